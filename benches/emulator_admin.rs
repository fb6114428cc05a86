//! The admin API's costs: `POST /reset` of the default seed over HTTP on
//! loopback (median and p95 of many), the journal's cost on throughput
//! (BillingAccountService.Get, journal on vs off, rounds in alternating
//! pairs so the machine's noise hits both alike; the median ratio), and
//! start-to-ready of an in-process emulator with the admin API on.
//!
//! Run: `cargo bench --features emulator --bench emulator_admin`.
//! Environment: `BENCH_ROUNDS` (pairs, default 40), `BENCH_ROUND_MS`
//! (default 100), `BENCH_RESETS` (default 500), `BENCH_STARTS` (default 50).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use yc_billing::emulator::{DEFAULT_JOURNAL_SIZE, Emulator, EmulatorHandle};
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;

use support::{bearer, env_or, median, quartiles, rate, raw_get_task};

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * p).round() as usize]
}

async fn start(journal: usize) -> EmulatorHandle {
    Emulator::builder()
        .metadata_server(false)
        .journal_size(journal)
        .admin_listen("127.0.0.1:0".parse().expect("address"))
        .start()
        .await
        .expect("emulator")
}

fn main() {
    let rounds: usize = env_or("BENCH_ROUNDS", 40);
    let round = Duration::from_millis(env_or("BENCH_ROUND_MS", 100));
    let resets: usize = env_or("BENCH_RESETS", 500);
    let starts: usize = env_or("BENCH_STARTS", 50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // POST /reset over one keep-alive HTTP/1.1 connection.
        let emu = start(DEFAULT_JOURNAL_SIZE).await;
        let admin = emu.admin_addr().expect("admin runs");
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<tonic::codegen::Bytes>>();
        let mut times = Vec::with_capacity(resets);
        for i in 0..resets + 20 {
            let req = http::Request::post(format!("http://{admin}/reset"))
                .body(http_body_util::Empty::new())
                .expect("request");
            let t = Instant::now();
            let resp = client.request(req).await.expect("reset answers");
            assert_eq!(resp.status(), 200);
            resp.into_body().collect().await.expect("body");
            if i >= 20 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let p50 = median(&times);
        let p95 = percentile(&mut times, 0.95);
        println!("emulator_admin reset_ms_p50={p50:.3} reset_ms_p95={p95:.3} resets={resets}");
        emu.shutdown().await;

        // Journal on vs off.
        let on = start(DEFAULT_JOURNAL_SIZE).await;
        let off = start(0).await;
        let creds = on.credentials().clone();
        let auth = bearer(&creds.iam_token);
        let on_stub = BillingAccountServiceClient::new(support::channel(&on.endpoint()).await);
        let off_stub = BillingAccountServiceClient::new(support::channel(&off.endpoint()).await);
        let task_on = raw_get_task(&on_stub, &auth, &creds.reseller_id);
        let task_off = raw_get_task(&off_stub, &auth, &creds.reseller_id);
        rate(8, Duration::from_millis(300), &task_on).await;
        rate(8, Duration::from_millis(300), &task_off).await;
        for callers in [1usize, 64] {
            let (mut ons, mut offs) = (Vec::new(), Vec::new());
            for i in 0..rounds {
                if i % 2 == 0 {
                    offs.push(rate(callers, round, &task_off).await);
                    ons.push(rate(callers, round, &task_on).await);
                } else {
                    ons.push(rate(callers, round, &task_on).await);
                    offs.push(rate(callers, round, &task_off).await);
                }
            }
            let pairs: Vec<f64> = ons.iter().zip(&offs).map(|(a, b)| a / b).collect();
            let (q1, ratio, q3) = quartiles(&pairs);
            println!(
                "emulator_admin journal inflight={callers} off={:.0} on={:.0} ratio={ratio:.3} \
                 ratio_q1={q1:.3} ratio_q3={q3:.3} cost_pct={:.1} rounds={rounds} round_ms={}",
                median(&offs),
                median(&ons),
                (1.0 - ratio) * 100.0,
                round.as_millis()
            );
        }
        on.shutdown().await;
        off.shutdown().await;

        // Start to ready (bound, serving, admin up), in process.
        let mut times = Vec::with_capacity(starts);
        for _ in 0..starts {
            let t = Instant::now();
            let emu = start(DEFAULT_JOURNAL_SIZE).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            emu.shutdown().await;
        }
        let p50 = median(&times);
        let p95 = percentile(&mut times, 0.95);
        println!("emulator_admin start_to_ready_ms_p50={p50:.3} start_to_ready_ms_p95={p95:.3} starts={starts}");
    });
}
