//! Unary throughput of the emulator (BillingAccountService.Get) with 1 and 64
//! concurrent callers. Run: `cargo bench --features emulator --bench emulator_throughput`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use yc_billing::emulator::Emulator;
use yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;

const RUN: Duration = Duration::from_secs(2);

async fn run(channel: Channel, token: &str, reseller: &str, callers: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let auth: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        let mut client = BillingAccountServiceClient::with_interceptor(
            channel.clone(),
            move |mut r: tonic::Request<()>| {
                r.metadata_mut().insert("authorization", auth.clone());
                Ok(r)
            },
        );
        let id = reseller.to_string();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < RUN {
                client
                    .get(GetBillingAccountRequest { id: id.clone() })
                    .await
                    .expect("Get");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let emu = Emulator::builder()
            .metadata_server(false)
            .start()
            .await
            .unwrap();
        let channel = Channel::from_shared(emu.endpoint())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let creds = emu.credentials().clone();
        for callers in [1, 64] {
            let rps = run(channel.clone(), &creds.iam_token, &creds.reseller_id, callers).await;
            println!(
                "emulator_throughput BillingAccountService.Get callers={callers:>2}: {rps:>9.0} calls/s"
            );
        }
        emu.shutdown().await;
    });
}
