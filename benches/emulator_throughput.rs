//! Unary throughput of the emulator (BillingAccountService.Get) against the
//! limit of the stack: a tonic server in the same process that returns a
//! fixed message and does no work. Same client on both (the generated stub
//! on a bare channel with a static `authorization` header), 1 and 64 calls
//! in flight. Many short rounds in pairs whose order alternates (minimal
//! first, then emulator first, …), so that the machine's noise hits both
//! alike; the ratio is the median over pairs of emulator / minimal, with its
//! quartiles (see `client_overhead` for why).
//!
//! Run: `cargo bench --features emulator --bench emulator_throughput`.
//! Environment: `BENCH_ROUNDS` (pairs, default 60), `BENCH_ROUND_MS` (default 100).

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use yc_billing::emulator::Emulator;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;

use support::{MinimalServer, bearer, env_or, median, quartiles, rate, raw_get_task};

fn main() {
    let rounds: usize = env_or("BENCH_ROUNDS", 60);
    let round = Duration::from_millis(env_or("BENCH_ROUND_MS", 100));
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
        let account = emu
            .billing_accounts()
            .into_iter()
            .find(|a| a.id == creds.reseller_id)
            .expect("seeded reseller account");
        let minimal = MinimalServer::start(account).await;
        let auth = bearer(&creds.iam_token);
        let emu_stub = BillingAccountServiceClient::new(support::channel(&emu.endpoint()).await);
        let min_stub =
            BillingAccountServiceClient::new(support::channel(&minimal.endpoint()).await);
        let on_emu = raw_get_task(&emu_stub, &auth, &creds.reseller_id);
        let on_min = raw_get_task(&min_stub, &auth, &creds.reseller_id);

        rate(8, Duration::from_millis(300), &on_min).await;
        rate(8, Duration::from_millis(300), &on_emu).await;

        for callers in [1usize, 64] {
            let mut mins = Vec::with_capacity(rounds);
            let mut emus = Vec::with_capacity(rounds);
            for i in 0..rounds {
                if i % 2 == 0 {
                    mins.push(rate(callers, round, &on_min).await);
                    emus.push(rate(callers, round, &on_emu).await);
                } else {
                    emus.push(rate(callers, round, &on_emu).await);
                    mins.push(rate(callers, round, &on_min).await);
                }
            }
            let pairs: Vec<f64> = emus.iter().zip(&mins).map(|(e, m)| e / m).collect();
            let (q1, ratio, q3) = quartiles(&pairs);
            let (m, e) = (median(&mins), median(&emus));
            println!(
                "emulator_throughput BillingAccountService.Get inflight={callers} minimal={m:.0} \
                 emulator={e:.0} ratio={ratio:.3} ratio_q1={q1:.3} ratio_q3={q3:.3} \
                 rounds={rounds} round_ms={}",
                round.as_millis()
            );
        }
        minimal.shutdown().await;
        emu.shutdown().await;
    });
}
