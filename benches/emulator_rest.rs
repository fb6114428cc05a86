//! REST against gRPC for the same call on one emulator in process:
//! `BillingAccountService.Get` of the reseller account, over gRPC (the
//! generated stub on a bare channel, static `authorization` header) and over
//! the REST port (`GET /billing/v1/billingAccounts/{id}` with
//! `Authorization: Bearer`, hyper-util's pooled client) with HTTP/1.1
//! keep-alive and with HTTP/2 (h2c). Throughput with 1 and 64 calls in
//! flight: rounds of the three arms, their order rotating, medians over the
//! rounds and the median of the per-round REST / gRPC ratios with quartiles.
//! Latency: sequential calls, p50 and p99 per arm.
//!
//! Run: `cargo bench --features emulator --bench emulator_rest`.
//! Environment: `BENCH_ROUNDS` (default 30), `BENCH_ROUND_MS` (default 100),
//! `BENCH_LATENCY_CALLS` (per arm, default 2000).

#[path = "support/mod.rs"]
mod support;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::bytes::Bytes;
use yc_billing::emulator::Emulator;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;

use support::{bearer, env_or, median, quartiles, rate, raw_get_task};

type Task = Box<dyn Fn(Instant) -> Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync>;

/// Loops the REST `Get` until the deadline; every answer must be 200.
fn rest_task(client: Client<HttpConnector, Full<Bytes>>, url: String, auth: String) -> Task {
    Box::new(move |deadline| {
        let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
        Box::pin(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                rest_get(&client, &url, &auth).await;
                n += 1;
            }
            n
        })
    })
}

async fn rest_get(client: &Client<HttpConnector, Full<Bytes>>, url: &str, auth: &str) {
    let req = http::Request::get(url)
        .header("authorization", auth)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("REST Get");
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.expect("REST body");
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() {
    let rounds: usize = env_or("BENCH_ROUNDS", 30);
    let round = Duration::from_millis(env_or("BENCH_ROUND_MS", 100));
    let latency_calls: usize = env_or("BENCH_LATENCY_CALLS", 2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let emu = Emulator::builder()
            .metadata_server(false)
            .start()
            .await
            .expect("emulator");
        let creds = emu.credentials().clone();
        let url = format!(
            "{}/billing/v1/billingAccounts/{}",
            emu.rest_endpoint().expect("REST port"),
            creds.reseller_id
        );
        let auth = format!("Bearer {}", creds.iam_token);
        let h1 = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<Full<Bytes>>();
        let stub = BillingAccountServiceClient::new(support::channel(&emu.endpoint()).await);
        let grpc = raw_get_task(&stub, &bearer(&creds.iam_token), &creds.reseller_id);
        let arms: [(&str, Task); 3] = [
            ("grpc", Box::new(grpc)),
            ("rest_http1", rest_task(h1.clone(), url.clone(), auth.clone())),
            ("rest_http2", rest_task(h2.clone(), url.clone(), auth.clone())),
        ];
        for (_, task) in &arms {
            rate(8, Duration::from_millis(300), task).await;
        }

        for callers in [1usize, 64] {
            let mut rates: Vec<Vec<f64>> = (0..arms.len()).map(|_| Vec::with_capacity(rounds)).collect();
            for i in 0..rounds {
                for k in 0..arms.len() {
                    let arm = (i + k) % arms.len();
                    rates[arm].push(rate(callers, round, &arms[arm].1).await);
                }
            }
            let g = median(&rates[0]);
            let mut line = format!("emulator_rest BillingAccountService.Get inflight={callers} grpc={g:.0}");
            for arm in 1..arms.len() {
                let ratios: Vec<f64> = rates[arm].iter().zip(&rates[0]).map(|(r, g)| r / g).collect();
                let (q1, ratio, q3) = quartiles(&ratios);
                let name = arms[arm].0;
                line += &format!(
                    " {name}={:.0} {name}_ratio={ratio:.3} {name}_ratio_q1={q1:.3} {name}_ratio_q3={q3:.3}",
                    median(&rates[arm])
                );
            }
            println!("{line} rounds={rounds} round_ms={}", round.as_millis());
        }

        // Latency: sequential calls, arms interleaved call by call.
        let mut lat: Vec<Vec<Duration>> = (0..3).map(|_| Vec::with_capacity(latency_calls)).collect();
        let mut grpc_stub = stub.clone();
        for _ in 0..latency_calls {
            let t = Instant::now();
            let mut req = tonic::Request::new(
                yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest {
                    id: creds.reseller_id.clone(),
                },
            );
            req.metadata_mut().insert("authorization", bearer(&creds.iam_token));
            grpc_stub.get(req).await.expect("gRPC Get");
            lat[0].push(t.elapsed());
            let t = Instant::now();
            rest_get(&h1, &url, &auth).await;
            lat[1].push(t.elapsed());
            let t = Instant::now();
            rest_get(&h2, &url, &auth).await;
            lat[2].push(t.elapsed());
        }
        let mut line = format!("emulator_rest latency calls={latency_calls}");
        for (arm, samples) in lat.iter_mut().enumerate() {
            samples.sort();
            let name = arms[arm].0;
            line += &format!(
                " {name}_p50_us={:.0} {name}_p99_us={:.0}",
                percentile(samples, 0.5),
                percentile(samples, 0.99)
            );
        }
        println!("{line}");
        emu.shutdown().await;
    });
}
