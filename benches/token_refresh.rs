//! Token refresh under load: 10,000 concurrent calls fired just after the
//! IAM token expired. The emulator and the client share a `ManualClock`, so
//! the expiry is crossed without sleeping; credentials are an OAuth token,
//! exchanged at the emulator's `IamTokenService.Create`.
//!
//! Counts the exchanges the burst caused (single-flight: expected 1) and the
//! calls that failed (expected 0). Repeats with a fresh emulator and client.
//!
//! Run: `cargo bench --features emulator --bench token_refresh`.
//! Environment: `BENCH_CALLS` (default 10000), `BENCH_RUNS` (default 3),
//! `BENCH_NO_EXPIRY=1` for the same burst without crossing the expiry.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use yc_billing::Client;
use yc_billing::auth::{Credentials, ManualClock};
use yc_billing::emulator::Emulator;

use support::{env_or, median};

struct Outcome {
    exchanges: u64,
    failed: usize,
    seconds: f64,
}

async fn once(calls: usize) -> Outcome {
    let clock = ManualClock::default();
    let emu = Emulator::builder()
        .metadata_server(false)
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("emulator");
    let creds = emu.credentials().clone();
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .credentials(Credentials::oauth_token(creds.oauth_token.clone()))
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("client");
    // Warm up: the first exchange, the connection.
    for _ in 0..10 {
        client
            .billing_accounts()
            .get(creds.reseller_id.as_str())
            .await
            .expect("warm-up Get");
    }
    let before = emu.iam_exchanges();
    // Past the 12 h lifetime of the cached token.
    // `BENCH_NO_EXPIRY=1`: the same burst on a fresh token (a control).
    if std::env::var_os("BENCH_NO_EXPIRY").is_none() {
        clock.advance(Duration::from_secs(13 * 3600));
    }
    let start = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let client = client.clone();
            let id = creds.reseller_id.clone();
            tokio::spawn(async move { client.billing_accounts().get(id).await })
        })
        .collect();
    let mut failed = 0;
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("token_refresh first failure: {e}");
    }
    let seconds = start.elapsed().as_secs_f64();
    let exchanges = emu.iam_exchanges() - before;
    emu.shutdown().await;
    Outcome {
        exchanges,
        failed,
        seconds,
    }
}

fn main() {
    let calls: usize = env_or("BENCH_CALLS", 10_000);
    let runs: usize = env_or("BENCH_RUNS", 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut seconds = Vec::new();
        let mut max_exchanges = 0;
        let mut total_failed = 0;
        for run in 1..=runs {
            let o = once(calls).await;
            println!(
                "token_refresh run={run} calls={calls} exchanges={} failed={} seconds={:.3} \
                 calls_per_s={:.0}",
                o.exchanges,
                o.failed,
                o.seconds,
                calls as f64 / o.seconds
            );
            seconds.push(o.seconds);
            max_exchanges = max_exchanges.max(o.exchanges);
            total_failed += o.failed;
        }
        let s = median(&seconds);
        println!(
            "token_refresh summary calls={calls} runs={runs} max_exchanges={max_exchanges} \
             failed_total={total_failed} median_seconds={s:.3} median_calls_per_s={:.0}",
            calls as f64 / s
        );
    });
}
