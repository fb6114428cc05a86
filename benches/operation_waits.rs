//! Many concurrent operation waits in one process against the in-process
//! emulator over loopback TCP.
//!
//! Starts `YC_BENCH_WAITS` (default 10 000) operations
//! (`CustomerService.Activate`) that finish at random times uniform over
//! `YC_BENCH_SPREAD_SECS` (default 10) seconds, waits for all of them at once
//! with the default [`PollingPolicy`] through one shared [`Client`], and
//! prints:
//!
//! * `OperationService.Get` calls per operation per second at the server
//!   (over the summed time the waiters waited, and over the whole run, whose
//!   creation phase overlaps the first waits);
//! * the peak RSS of the process (`VmHWM`; client and emulator together);
//! * p50/p90/p99/max of the delay between an operation finishing (its
//!   server-side `modified_at`, the time it was due) and its waiter returning.
//!
//! Run: `cargo bench --features emulator --bench operation_waits`
//! (short form: `YC_BENCH_WAITS=500 YC_BENCH_SPREAD_SECS=2 cargo bench ...`).

use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use yc_billing::emulator::Emulator;
use yc_billing::{Client, PollingPolicy};

const GET: &str = "yandex.cloud.operation.OperationService/Get";
/// A seeded customer of the default reseller.
const CUSTOMER: &str = "emucustomer000000001";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmHWM` (peak resident set size) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a filter that does not match skips the run.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.iter().any(|a| !"operation_waits".contains(a.as_str())) {
        return;
    }
    let waits: usize = env_or("YC_BENCH_WAITS", 10_000);
    let spread = Duration::from_secs_f64(env_or("YC_BENCH_SPREAD_SECS", 10.0));
    let seed: u64 = env_or("YC_BENCH_SEED", 42);

    let emu = Emulator::builder()
        .random_operation_delay(spread, seed)
        .metadata_server(false)
        .start()
        .await
        .expect("emulator starts");
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .iam_token(emu.credentials().iam_token.clone())
        .build()
        .await
        .expect("client builds");
    let policy = PollingPolicy::default().with_time_limit(spread * 3 + Duration::from_secs(60));
    println!(
        "operation_waits: {waits} concurrent waits, completions uniform over {spread:?} (seed {seed}), \
         policy: initial {:?} x{} up to {:?}, jitter {}",
        policy.initial_interval(),
        policy.multiplier(),
        policy.max_interval(),
        policy.jitter()
    );

    let started = Instant::now();
    let mut handles = Vec::with_capacity(waits);
    let mut creates = futures::stream::iter(0..waits)
        .map(|_| {
            let client = client.clone();
            async move { client.customers().activate(CUSTOMER).await }
        })
        .buffer_unordered(256);
    while let Some(op) = creates.next().await {
        let op = op.expect("Activate");
        let policy = policy.clone();
        handles.push(tokio::spawn(async move {
            let waiting = Instant::now();
            let mut finished_at = None;
            let result = op
                .wait_with_progress(&policy, |state| finished_at = state.modified_at())
                .await;
            let returned = SystemTime::now();
            result.expect("wait");
            let finished_at = finished_at.expect("a done operation has modified_at");
            let delay = returned
                .duration_since(finished_at)
                .unwrap_or(Duration::ZERO);
            (delay, waiting.elapsed())
        }));
    }
    let created_in = started.elapsed();
    let mut delays = Vec::with_capacity(waits);
    let mut waited = Duration::ZERO;
    for h in handles {
        let (delay, wait) = h.await.expect("waiter task");
        delays.push(delay);
        waited += wait;
    }
    let elapsed = started.elapsed();
    let gets = emu.calls(GET);
    delays.sort();

    let per_op = gets as f64 / waits as f64;
    println!(
        "created {waits} operations in {created_in:.2?}; all waits returned after {elapsed:.2?}"
    );
    println!(
        "Gets at the server: {gets} total, {per_op:.2} per operation; per operation per second: \
         {:.3} of waiting (Gets / summed wait time), {:.3} of the whole run",
        gets as f64 / waited.as_secs_f64(),
        per_op / elapsed.as_secs_f64()
    );
    match peak_rss_kib() {
        Some(kib) => println!(
            "peak RSS (VmHWM, client + emulator): {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("peak RSS: unavailable (no /proc/self/status)"),
    }
    println!(
        "finish-to-return delay: p50 {}, p90 {}, p99 {}, max {}",
        ms(percentile(&delays, 50.0)),
        ms(percentile(&delays, 90.0)),
        ms(percentile(&delays, 99.0)),
        ms(delays.last().copied().unwrap_or_default()),
    );
    emu.shutdown().await;
}
