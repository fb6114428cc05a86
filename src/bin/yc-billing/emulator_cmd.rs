//! `yc-billing emulator`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use yc_billing::emulator::{Emulator, Faults, Seed};

/// Options of `yc-billing emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Threads that serve calls (default: one per core). One costs the
    /// least CPU per call at low concurrency, the usual load of a test
    /// harness (no wake-ups between threads); more serve more calls at once.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,
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
    /// Listen address of the REST (HTTP/1.1 and HTTP/2, JSON) port; TLS as the gRPC port.
    #[arg(long, default_value = "127.0.0.1:0")]
    rest_listen: SocketAddr,
    /// Do not start the REST port.
    #[arg(long)]
    no_rest: bool,
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
    /// A connection that has not finished its handshake after this many
    /// milliseconds is closed (plaintext: the HTTP/2 preface; TLS: the TLS
    /// handshake, then the first call).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    handshake_timeout_ms: u64,
    /// Enforce the API reference's rules on `person.phone` (a telephone number
    /// or phoneword) and `person.email` in Invite and CreateResellerServed.
    #[arg(long)]
    strict_person_fields: bool,
    /// Emulate the usage API's rate limit: one call per SECS seconds per IP
    /// (the real API: 60); RESOURCE_EXHAUSTED with a RetryInfo past it.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "60",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    usage_rate_limit: Option<u64>,
    /// Generate a key for the seed's first service account and write it here.
    #[arg(long)]
    write_sa_key: Option<PathBuf>,
    /// Listen address of the admin HTTP API (reset, state, faults, request
    /// journal, operations, clock; JSON). `off` turns it off.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_admin_listen)]
    admin_listen: AdminListen,
    /// Calls kept in the request journal (`GET /requests`); 0 turns it off.
    #[arg(long, default_value_t = yc_billing::emulator::DEFAULT_JOURNAL_SIZE)]
    journal_size: usize,
    /// Run on a manual clock that only `POST /clock:advance` moves (token
    /// expiry, timestamps, operation completion).
    #[arg(long)]
    manual_clock: bool,
    /// Keep the state in this JSON file: loaded at start, written
    /// atomically after each change.
    #[arg(long, value_name = "FILE")]
    state_file: Option<PathBuf>,
    /// Print the JSON Schema of seed files and exit.
    #[arg(long)]
    print_seed_schema: bool,
    /// Print the shell lines to export (YC_BILLING_ENDPOINT, YC_IAM_TOKEN,
    /// ...) instead of the JSON ready line, for a harness that sources them
    /// (`yc-billing emulator --print-env > emu.env &`, then `. ./emu.env`).
    #[arg(long)]
    print_env: bool,
}

/// What `yc-billing emulator --help` says about credentials, from the
/// seed's constants.
pub fn credentials_help() -> String {
    use yc_billing::emulator::{
        DEFAULT_IAM_TOKEN, DEFAULT_OAUTH_TOKEN, DEFAULT_RESELLER_ID, DEFAULT_SERVICE_ACCOUNT_ID,
        DEFAULT_SUBJECT_ID, NO_RIGHTS_IAM_TOKEN,
    };
    format!(
        "Credentials the emulator accepts (built-in seed):\n  \
         IAM token {DEFAULT_IAM_TOKEN}: the default subject {DEFAULT_SUBJECT_ID}, \
         owner of the reseller account {DEFAULT_RESELLER_ID}; never expires\n  \
         IAM token {NO_RIGHTS_IAM_TOKEN}: a subject with no roles\n  \
         OAuth token {DEFAULT_OAUTH_TOKEN}: exchanged for IAM tokens by IamTokenService.Create\n  \
         service-account JWTs signed with a key written by --write-sa-key FILE \
         (an authorized key file of {DEFAULT_SERVICE_ACCOUNT_ID}) or registered in the seed\n  \
         the IAM tokens it issues (IamTokenService, the metadata endpoint)\n\
         Add more with --seed FILE (iam_tokens, oauth_tokens, service_account_keys, bindings; \
         --print-seed-schema prints the format), or at run time with PUT /state on the admin API. \
         The client options (--iam-token, --endpoint, --format, ...) do not apply here."
    )
}

/// `--admin-listen`: an address or `off`.
#[derive(Debug, Clone, Copy)]
pub struct AdminListen(Option<SocketAddr>);

fn parse_admin_listen(s: &str) -> Result<AdminListen, String> {
    if s == "off" {
        return Ok(AdminListen(None));
    }
    s.parse()
        .map(|a| AdminListen(Some(a)))
        .map_err(|e| format!("{s:?}: {e} (an address like 127.0.0.1:0, or off)"))
}

/// The shell lines a harness evaluates to reach the emulator.
fn env_lines(endpoint: &str, address: &str, iam_token: &str, admin: Option<SocketAddr>) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let mut lines = vec![
        format!("export YC_BILLING_ENDPOINT={}", quote(address)),
        format!("export YC_BILLING_EMULATOR_URL={}", quote(endpoint)),
        format!("export YC_IAM_TOKEN={}", quote(iam_token)),
    ];
    if let Some(a) = admin {
        lines.push(format!(
            "export YC_BILLING_EMULATOR_ADMIN={}",
            quote(&format!("http://{a}"))
        ));
    }
    lines.join("\n")
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
    if args.print_seed_schema {
        println!("{:#}", Seed::json_schema());
        return Ok(());
    }
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
        .rest_listen((!args.no_rest).then_some(args.rest_listen))
        .handshake_timeout(Duration::from_millis(args.handshake_timeout_ms))
        .strict_person_fields(args.strict_person_fields)
        .journal_size(args.journal_size);
    if let Some(addr) = args.admin_listen.0 {
        builder = builder.admin_listen(addr);
    }
    if args.manual_clock {
        builder = builder.manual_clock(yc_billing::time::ManualClock::default());
    }
    if let Some(path) = &args.state_file {
        builder = builder.state_file(path);
    }
    if let Some(n) = args.complete_after_gets {
        builder = builder.complete_after_gets(n);
    }
    if let Some(secs) = args.usage_rate_limit {
        builder = builder.usage_rate_limit(Duration::from_secs(secs));
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
    // Before anything is announced: a harness may signal the moment it reads
    // the ready line, and a signal without a handler kills the process.
    let signals = Signals::install()?;
    let emu = builder.start().await?;
    for (method, code, message) in &fail_next {
        emu.fail_next_operation(method, *code, message);
    }
    if let Some(path) = &args.write_sa_key {
        let key = emu.create_service_account_key(&emu.credentials().service_account_id);
        write_private(path, key.to_json().as_bytes())
            .with_context(|| format!("--write-sa-key {}", path.display()))?;
    }
    let address = emu.endpoint();
    let address = address
        .split_once("://")
        .map_or(address.as_str(), |(_, rest)| rest);
    let env = env_lines(
        &emu.endpoint(),
        address,
        &emu.credentials().iam_token,
        emu.admin_addr(),
    );
    if args.print_env {
        println!("{env}");
    } else {
        let ready = serde_json::json!({
            "event": "ready",
            "address": emu.addr().to_string(),
            "endpoint": emu.endpoint(),
            "metadata_address": emu.metadata_addr().map(|a| a.to_string()),
            "admin_address": emu.admin_addr().map(|a| a.to_string()),
            "admin_url": emu.admin_addr().map(|a| format!("http://{a}")),
            "rest_address": emu.rest_addr().map(|a| a.to_string()),
            "rest_endpoint": emu.rest_endpoint(),
            "tls": tls,
            "manual_clock": args.manual_clock,
            "env": env,
        });
        println!("{ready}");
    }
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    signals.wait().await;
    tracing::info!("shutting down");
    emu.shutdown().await;
    Ok(())
}

/// Writes `bytes` to `path` readable by the owner only, atomically: a temp
/// file created 0600 in the same directory, synced, then renamed over `path`
/// (a reader sees the old file or the whole new one, never a 0644 window).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    // tempfile creates the file with mode 0600 on unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".yc-billing-key-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// SIGTERM and SIGINT handlers, installed before the ready line.
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Ctrl-C handler, installed before the ready line.
#[cfg(not(unix))]
struct Signals(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);

#[cfg(not(unix))]
impl Signals {
    fn install() -> anyhow::Result<Self> {
        let ctrl_c = tokio::signal::ctrl_c();
        Ok(Self(Box::pin(async move {
            let _ = ctrl_c.await;
        })))
    }

    async fn wait(self) {
        self.0.await;
    }
}

use yc_billing::emulator::parse_code;
