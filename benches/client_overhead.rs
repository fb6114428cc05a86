//! The cost of the client stack: `client.billing_accounts().get(id).await`
//! (deadline, retries, request ids, tracing span, token cache, auth and
//! header layers) against the generated stub on a bare channel with a static
//! `authorization` header, both calling the in-process emulator, with 1 and
//! 64 calls in flight.
//!
//! Rounds alternate (raw, client, raw, client, …) so that noise from other
//! processes hits both sides alike; the figures are the medians of the rounds.
//!
//! Run: `cargo bench --features emulator --bench client_overhead`.
//! Environment: `BENCH_ROUNDS` (default 7), `BENCH_ROUND_MS` (default 1000),
//! `BENCH_SERVER=minimal` to measure against a tonic server doing no work
//! instead of the emulator (a stricter test of the same overhead).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use yc_billing::Client;
use yc_billing::auth::Credentials;
use yc_billing::emulator::Emulator;
use yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;

use support::{MinimalServer, bearer, env_or, median, rate, raw_get_task};

async fn client_round(client: &Client, id: &str, callers: usize, duration: Duration) -> f64 {
    rate(callers, duration, |deadline: Instant| {
        let client = client.clone();
        let id = id.to_string();
        async move {
            let accounts = client.billing_accounts();
            let mut n = 0;
            while Instant::now() < deadline {
                accounts.get(id.as_str()).await.expect("client Get");
                n += 1;
            }
            n
        }
    })
    .await
}

/// The generated stub on the client's transport (auth and header layers over
/// the client's channel) without `Client::execute`: splits the overhead.
async fn layers_round(client: &Client, id: &str, callers: usize, duration: Duration) -> f64 {
    rate(callers, duration, |deadline: Instant| {
        let mut stub = BillingAccountServiceClient::new(client.billing_transport());
        let id = id.to_string();
        async move {
            let mut n = 0;
            while Instant::now() < deadline {
                stub.get(GetBillingAccountRequest { id: id.clone() })
                    .await
                    .expect("layers Get");
                n += 1;
            }
            n
        }
    })
    .await
}

fn main() {
    let rounds: usize = env_or("BENCH_ROUNDS", 7);
    let round = Duration::from_millis(env_or("BENCH_ROUND_MS", 1000));
    let minimal = std::env::var("BENCH_SERVER").is_ok_and(|s| s == "minimal");
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
        let target = if minimal { "minimal" } else { "emulator" };

        let stub = BillingAccountServiceClient::new(support::channel(&endpoint).await);
        let raw = raw_get_task(&stub, &bearer(&creds.iam_token), &creds.reseller_id);
        let client = Client::builder()
            .endpoint(endpoint.clone())
            .credentials(Credentials::iam_token(creds.iam_token.clone()))
            .build()
            .await
            .expect("client");
        let id = creds.reseller_id.clone();

        // Warm up: connections, token cache, allocator, branch predictors.
        rate(8, Duration::from_millis(300), &raw).await;
        client_round(&client, &id, 8, Duration::from_millis(300)).await;

        for callers in [1usize, 64] {
            let mut raws = Vec::with_capacity(rounds);
            let mut clients = Vec::with_capacity(rounds);
            let mut layers = Vec::with_capacity(rounds);
            let mut pairs = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let r = rate(callers, round, &raw).await;
                let c = client_round(&client, &id, callers, round).await;
                let l = layers_round(&client, &id, callers, round).await;
                raws.push(r);
                clients.push(c);
                layers.push(l);
                pairs.push(c / r);
            }
            let (r, c, l) = (median(&raws), median(&clients), median(&layers));
            println!(
                "client_overhead server={target} inflight={callers} raw={r:.0} client={c:.0} \
                 ratio={:.3} pair_ratio_median={:.3} layers_only={l:.0} layers_ratio={:.3} \
                 rounds={rounds} round_ms={}",
                c / r,
                median(&pairs),
                l / r,
                round.as_millis()
            );
        }
        if let Some(s) = server {
            s.shutdown().await;
        }
        emu.shutdown().await;
    });
}
