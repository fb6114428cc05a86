//! The cost of the client stack: `client.billing_accounts().get(id).await`
//! (deadline, retries, request ids, tracing span, token cache, auth and
//! header layers) against the generated stub on a bare channel with a static
//! `authorization` header, both calling the in-process emulator, with 1 and
//! 64 calls in flight.
//!
//! The machine this runs on is shared and noisy: throughput moves by ±15 %
//! from one 100 ms slice to the next, and by more between processes. So the
//! bench runs many short rounds in cycles of four arms, each on its own
//! HTTP/2 connection, in an order that rotates from cycle to cycle:
//!
//! * `raw`: the generated stub on a bare channel, static `authorization`;
//! * `client`: `client.billing_accounts().get(id)`;
//! * `layers`: the generated stub on `client.billing_transport()` (token
//!   cache, auth and header layers, but not `Client::execute`);
//! * `control`: the raw stub again, on a second bare channel: an A/A
//!   comparison that shows how well the bench resolves a ratio;
//! * `wire`: the raw stub sending the headers the client sends (fresh
//!   request and trace ids, `grpc-timeout`, a never-indexed `authorization`):
//!   `client / wire` is the cost of the client's code alone, `wire / raw`
//!   the cost of those headers on both ends of the connection.
//!
//! The headline figure is the median over cycles of `client / raw` within a
//! cycle (`ratio`), with its interquartile range. Each arm's CPU time per call
//! (the whole process, client and server, at 64 in flight where both are busy)
//! is printed too: a second view of the same cost, blind to time lost to
//! other processes.
//!
//! Run: `cargo bench --features emulator --bench client_overhead`.
//! Environment: `BENCH_CYCLES` (default 100), `BENCH_ROUND_MS` (default 100),
//! `BENCH_SERVER=minimal` to measure against a tonic server doing no work
//! instead of the emulator (a stricter test of the same overhead),
//! `BENCH_LATENCY_MS` to have the emulator add that latency to every call
//! (closer to a real endpoint, where a call costs a network round trip).

#[path = "support/mod.rs"]
mod support;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use yc_billing::Client;
use yc_billing::auth::Credentials;
use yc_billing::emulator::{Emulator, Faults};
use yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;

use support::{
    MinimalServer, bearer, env_or, process_cpu, quartiles, rate, raw_get_task, wire_get_task,
};

type Task = Box<dyn Fn(Instant) -> Pin<Box<dyn Future<Output = u64> + Send>>>;

fn client_task(client: &Client, id: &str) -> Task {
    let client = client.clone();
    let id = id.to_string();
    Box::new(move |deadline: Instant| {
        let accounts = client.billing_accounts();
        let id = id.clone();
        Box::pin(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                accounts.get(id.as_str()).await.expect("client Get");
                n += 1;
            }
            n
        })
    })
}

/// The generated stub on the client's transport (auth and header layers over
/// the client's channel) without `Client::execute`: splits the overhead.
fn layers_task(client: &Client, id: &str) -> Task {
    let transport = client.billing_transport();
    let id = id.to_string();
    Box::new(move |deadline: Instant| {
        let mut stub = BillingAccountServiceClient::new(transport.clone());
        let id = id.clone();
        Box::pin(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                stub.get(GetBillingAccountRequest { id: id.clone() })
                    .await
                    .expect("layers Get");
                n += 1;
            }
            n
        })
    })
}

/// Calls per second and, where the platform tells, CPU time per call.
async fn round(task: &Task, callers: usize, duration: Duration) -> (f64, Option<f64>) {
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    let per_second = rate(callers, duration, task).await;
    let calls = per_second * t0.elapsed().as_secs_f64();
    let cpu = cpu0
        .zip(process_cpu())
        .map(|(a, b)| (b - a).as_secs_f64() * 1e6 / calls.max(1.0));
    (per_second, cpu)
}

const ARMS: [&str; 5] = ["raw", "client", "layers", "control", "wire"];

fn main() {
    let cycles: usize = env_or("BENCH_CYCLES", 100);
    let round_len = Duration::from_millis(env_or("BENCH_ROUND_MS", 100));
    let minimal = std::env::var("BENCH_SERVER").is_ok_and(|s| s == "minimal");
    let latency = Duration::from_millis(env_or("BENCH_LATENCY_MS", 0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let emu = Emulator::builder()
            .metadata_server(false)
            .faults(Faults::default().latency(latency))
            .start()
            .await
            .expect("emulator");
        let creds = emu.credentials().clone();
        let server = if minimal {
            let account = emu
                .billing_accounts()
                .into_iter()
                .find(|a| a.id == creds.reseller_id)
                .unwrap_or_default();
            Some(MinimalServer::start(account).await)
        } else {
            None
        };
        let endpoint = server
            .as_ref()
            .map_or_else(|| emu.endpoint(), MinimalServer::endpoint);
        let target = match (minimal, latency.as_millis()) {
            (true, _) => "minimal".to_string(),
            (false, 0) => "emulator".to_string(),
            (false, ms) => format!("emulator+{ms}ms"),
        };
        let id = creds.reseller_id.clone();
        let authorization = bearer(&creds.iam_token);

        let raw_stub = BillingAccountServiceClient::new(support::channel(&endpoint).await);
        let control_stub = BillingAccountServiceClient::new(support::channel(&endpoint).await);
        let client = Client::builder()
            .endpoint(endpoint.clone())
            .credentials(Credentials::iam_token(creds.iam_token.clone()))
            .build()
            .await
            .expect("client");
        let raw = raw_get_task(&raw_stub, &authorization, &id);
        let control = raw_get_task(&control_stub, &authorization, &id);
        let wire_stub = BillingAccountServiceClient::new(support::channel(&endpoint).await);
        let wire = wire_get_task(
            &wire_stub,
            &authorization,
            &id,
            yc_billing::client::DEFAULT_REQUEST_TIMEOUT,
        );
        let tasks: [Task; 5] = [
            Box::new(move |d| raw(d)),
            client_task(&client, &id),
            layers_task(&client, &id),
            Box::new(move |d| control(d)),
            Box::new(move |d| wire(d)),
        ];

        // Warm up every arm: connections, token cache, allocator.
        for task in &tasks {
            rate(8, Duration::from_millis(300), task).await;
        }

        for callers in [1usize, 64] {
            // rates[arm][cycle], cpu[arm][cycle]
            let mut rates = vec![Vec::with_capacity(cycles); ARMS.len()];
            let mut cpu = vec![Vec::with_capacity(cycles); ARMS.len()];
            for cycle in 0..cycles {
                for k in 0..ARMS.len() {
                    let arm = (cycle + k) % ARMS.len();
                    let (r, c) = round(&tasks[arm], callers, round_len).await;
                    rates[arm].push(r);
                    if let Some(c) = c {
                        cpu[arm].push(c);
                    }
                }
            }
            let ratios = |arm: usize| -> Vec<f64> {
                rates[arm]
                    .iter()
                    .zip(&rates[0])
                    .map(|(a, r)| a / r)
                    .collect()
            };
            let (c25, c50, c75) = quartiles(&ratios(1));
            let (_, l50, _) = quartiles(&ratios(2));
            let (a25, a50, a75) = quartiles(&ratios(3));
            let (_, w50, _) = quartiles(&ratios(4));
            let client_vs_wire: Vec<f64> =
                rates[1].iter().zip(&rates[4]).map(|(c, w)| c / w).collect();
            let (cw25, cw50, cw75) = quartiles(&client_vs_wire);
            let med = |arm: usize| quartiles(&rates[arm]).1;
            let cpu_med = |arm: usize| quartiles(&cpu[arm]).1;
            let cpu_ratio = if cpu[0].is_empty() {
                "n/a".to_string()
            } else {
                format!("{:.3}", cpu_med(0) / cpu_med(1))
            };
            println!(
                "client_overhead server={target} inflight={callers} ratio={c50:.3} \
                 ratio_q1={c25:.3} ratio_q3={c75:.3} control={a50:.3} control_q1={a25:.3} \
                 control_q3={a75:.3} layers_ratio={l50:.3} wire_ratio={w50:.3} \
                 client_vs_wire={cw50:.3} client_vs_wire_q1={cw25:.3} client_vs_wire_q3={cw75:.3} \
                 raw={:.0} client={:.0} layers={:.0} wire={:.0} \
                 cpu_us_raw={:.1} cpu_us_client={:.1} cpu_ratio={cpu_ratio} cycles={cycles} \
                 round_ms={}",
                med(0),
                med(1),
                med(2),
                med(4),
                cpu_med(0),
                cpu_med(1),
                round_len.as_millis()
            );
        }
        if let Some(s) = server {
            s.shutdown().await;
        }
        emu.shutdown().await;
    });
}
