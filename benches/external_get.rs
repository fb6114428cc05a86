//! `client.billing_accounts().get(id)` against a server in another process
//! (a `yc-billing emulator`), sequentially and with N calls in flight: the
//! Rust side of the comparison with the Python SDK in `bench/run.sh`.
//!
//! Run: `YC_BENCH_ENDPOINT=http://127.0.0.1:P YC_BENCH_TOKEN=… YC_BENCH_ID=…
//! cargo bench --features emulator --bench external_get`.
//! Environment: `YC_BENCH_CONCURRENCY` (default 64), `BENCH_RUNS` (default 3),
//! `BENCH_ROUND_MS` (default 3000).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use yc_billing::Client;
use yc_billing::auth::Credentials;

use support::{env_or, median, rate};

fn main() {
    let (Ok(endpoint), Ok(token), Ok(id)) = (
        std::env::var("YC_BENCH_ENDPOINT"),
        std::env::var("YC_BENCH_TOKEN"),
        std::env::var("YC_BENCH_ID"),
    ) else {
        println!("external_get: set YC_BENCH_ENDPOINT, YC_BENCH_TOKEN and YC_BENCH_ID; skipped");
        return;
    };
    let concurrency: usize = env_or("YC_BENCH_CONCURRENCY", 64);
    let runs: usize = env_or("BENCH_RUNS", 3);
    let round = Duration::from_millis(env_or("BENCH_ROUND_MS", 3000));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = Client::builder()
            .endpoint(endpoint)
            .credentials(Credentials::iam_token(token))
            .build()
            .await
            .expect("client");
        let task = |deadline: Instant| {
            let client = client.clone();
            let id = id.clone();
            async move {
                let accounts = client.billing_accounts();
                let mut n = 0;
                while Instant::now() < deadline {
                    accounts.get(id.as_str()).await.expect("Get");
                    n += 1;
                }
                n
            }
        };
        rate(4, Duration::from_millis(300), &task).await;
        for (mode, callers) in [("sequential", 1), ("concurrent", concurrency)] {
            let mut rates = Vec::with_capacity(runs);
            for _ in 0..runs {
                rates.push(rate(callers, round, &task).await);
            }
            let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "external_get mode={mode} concurrency={callers} median={:.0} runs={}",
                median(&rates),
                all.join(",")
            );
        }
    });
}
