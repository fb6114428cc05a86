//! `yc-billing emulator`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use yc_billing::emulator::{Emulator, Faults, Seed, parse_code};

/// Options of `yc-billing emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed JSON file (default: the built-in seed).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Operations complete this many milliseconds after creation.
    #[arg(long, default_value_t = 50)]
    operation_delay_ms: u64,
    /// Operations complete on their N-th OperationService.Get instead.
    #[arg(long)]
    complete_after_gets: Option<u32>,
    /// Lifetime of issued IAM tokens, seconds.
    #[arg(long, default_value_t = 12 * 3600)]
    iam_token_ttl_secs: u64,
    /// Send `x-operation-poll-interval` with this many seconds.
    #[arg(long)]
    poll_interval_hint_secs: Option<u64>,
    /// Listen address of the VM metadata token endpoint.
    #[arg(long, default_value = "127.0.0.1:0")]
    metadata_listen: SocketAddr,
    /// Do not start the metadata endpoint.
    #[arg(long)]
    no_metadata: bool,
    /// Fail the first K calls of METHOD with CODE: `METHOD:K:CODE`, repeatable.
    #[arg(long = "fail-first", value_name = "METHOD:K:CODE")]
    fail_first: Vec<String>,
    /// The next operation METHOD creates fails with CODE (and MESSAGE) when it
    /// completes, without effect: `METHOD:CODE[:MESSAGE]`, repeatable.
    #[arg(long = "fail-next-operation", value_name = "METHOD:CODE[:MESSAGE]")]
    fail_next_operation: Vec<String>,
    /// Fraction of calls answered UNAVAILABLE after taking effect.
    #[arg(long, default_value_t = 0.0)]
    lost_response_rate: f64,
    /// Fraction of calls answered UNAVAILABLE before any effect.
    #[arg(long, default_value_t = 0.0)]
    unavailable_rate: f64,
    /// Latency added to every call, milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// OperationService.Get answers NOT_FOUND for the first N Gets of an operation.
    #[arg(long, default_value_t = 0)]
    operation_not_found_gets: u32,
    /// Seed of the fault random source.
    #[arg(long)]
    random_seed: Option<u64>,
    /// Enforce the API reference's rules on `person.phone` (a telephone number
    /// or phoneword) and `person.email` in Invite and CreateResellerServed.
    #[arg(long)]
    strict_person_fields: bool,
    /// Generate a key for the seed's first service account and write it here.
    #[arg(long)]
    write_sa_key: Option<PathBuf>,
}

fn parse_fail_first(spec: &str) -> anyhow::Result<(String, u64, tonic::Code)> {
    let mut parts = spec.rsplitn(3, ':');
    let (Some(code), Some(count), Some(method)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("--fail-first {spec:?}: expected METHOD:K:CODE");
    };
    let count = count
        .parse()
        .with_context(|| format!("--fail-first {spec:?}: K must be a number"))?;
    let Some(code) = parse_code(code) else {
        bail!("--fail-first {spec:?}: unknown gRPC code {code:?}");
    };
    Ok((method.trim_start_matches('/').to_string(), count, code))
}

fn parse_fail_next_operation(spec: &str) -> anyhow::Result<(String, tonic::Code, String)> {
    let mut parts = spec.splitn(3, ':');
    let (Some(method), Some(code)) = (parts.next(), parts.next()) else {
        bail!("--fail-next-operation {spec:?}: expected METHOD:CODE[:MESSAGE]");
    };
    let Some(code) = parse_code(code) else {
        bail!("--fail-next-operation {spec:?}: unknown gRPC code {code:?}");
    };
    let message = parts.next().unwrap_or("emulated operation failure");
    Ok((
        method.trim_start_matches('/').to_string(),
        code,
        message.to_string(),
    ))
}

/// Runs the emulator until SIGINT or SIGTERM.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let seed = match &args.seed {
        Some(path) => Seed::from_json_file(path)?,
        None => Seed::default(),
    };
    let mut faults = Faults::default()
        .lost_response_rate(args.lost_response_rate)
        .unavailable_rate(args.unavailable_rate)
        .latency(Duration::from_millis(args.latency_ms))
        .operation_not_found_gets(args.operation_not_found_gets);
    if let Some(s) = args.random_seed {
        faults = faults.random_seed(s);
    }
    for spec in &args.fail_first {
        let (method, count, code) = parse_fail_first(spec)?;
        faults = faults.fail_first(&method, count, code);
    }
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .seed(seed)
        .operation_delay(Duration::from_millis(args.operation_delay_ms))
        .iam_token_ttl(Duration::from_secs(args.iam_token_ttl_secs))
        .faults(faults)
        .metadata_server(!args.no_metadata)
        .metadata_listen(args.metadata_listen)
        .strict_person_fields(args.strict_person_fields);
    if let Some(n) = args.complete_after_gets {
        builder = builder.complete_after_gets(n);
    }
    if let Some(s) = args.poll_interval_hint_secs {
        builder = builder.poll_interval_hint(Duration::from_secs(s));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let cert = std::fs::read(cert).with_context(|| format!("{}", cert.display()))?;
            let key = std::fs::read(key).with_context(|| format!("{}", key.display()))?;
            builder = builder.tls(cert, key);
            true
        }
        _ => false,
    };
    let fail_next = args
        .fail_next_operation
        .iter()
        .map(|spec| parse_fail_next_operation(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let emu = builder.start().await?;
    for (method, code, message) in &fail_next {
        emu.fail_next_operation(method, *code, message);
    }
    if let Some(path) = &args.write_sa_key {
        let key = emu.create_service_account_key(&emu.credentials().service_account_id);
        std::fs::write(path, key.to_json()).with_context(|| format!("{}", path.display()))?;
    }
    let ready = serde_json::json!({
        "event": "ready",
        "address": emu.addr().to_string(),
        "endpoint": emu.endpoint(),
        "metadata_address": emu.metadata_addr().map(|a| a.to_string()),
        "tls": tls,
    });
    println!("{ready}");
    wait_for_signal().await?;
    tracing::info!("shutting down");
    emu.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
