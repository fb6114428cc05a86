//! The emulator at scale: `BillingAccountService.List` and `Get` latency
//! (p50/p99) with 64 concurrent callers over loopback, at 1,000 to 50,000
//! seeded customers. The callers mix three calls: the owner's `List` of a
//! random page of 100 (page tokens collected beforehand), `List` with page
//! size 1 by a caller who sees nothing, and the owner's `Get` of a random
//! customer account. Every call has a 10 s deadline (`grpc-timeout` and a
//! local timer); calls past it are counted as DEADLINE_EXCEEDED. Also
//! printed: the records the emulator examined per call
//! ([`EmulatorHandle::records_examined`]), the structural figure that must
//! stay flat as the state grows, and the time to seed and start. Each size
//! gets a fresh emulator and a 200 ms warm-up that is not counted.
//!
//! Run: `cargo bench --features emulator --bench emulator_scale`.
//! Environment: `BENCH_SCALE_SIZES` (comma-separated customer counts,
//! default `1000,5000,25000,50000`), `BENCH_CALLERS` (default 64),
//! `BENCH_PHASE_MS` (load per size, default 1500).
//!
//! Output lines, one per size and call kind, then one summary per kind:
//! `emulator_scale customers=N op=KIND calls= p50_ms= p99_ms= deadline_exceeded= examined_per_call=`
//! `emulator_scale summary op=KIND p99_growth= examined_growth=` (largest size / smallest).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use rand::Rng;
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use yc_billing::emulator::{
    CustomerStatus, DEFAULT_RESELLER_ID, Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN, Seed,
    SeedCustomer,
};
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::{
    GetBillingAccountRequest, ListBillingAccountsRequest,
};

use support::{bearer, env_or};

const DEADLINE: Duration = Duration::from_secs(10);
const KINDS: [&str; 3] = ["list_page100", "list_sees_nothing", "get"];

fn seed(customers: usize) -> Seed {
    let mut seed = Seed::default();
    seed.customers.extend((0..customers).map(|i| SeedCustomer {
        id: format!("benchcust{i:011}"),
        reseller_id: DEFAULT_RESELLER_ID.into(),
        billing_account_id: format!("benchacct{i:011}"),
        name: format!("bench customer {i}"),
        status: CustomerStatus::Active,
        invitation_email: None,
        person: Default::default(),
    }));
    seed
}

fn request<T>(msg: T, auth: &MetadataValue<Ascii>) -> Request<T> {
    let mut req = Request::new(msg);
    req.set_timeout(DEADLINE);
    req.metadata_mut().insert("authorization", auth.clone());
    req
}

/// Every page token of the owner's list of accounts, page size 100.
async fn page_tokens(
    stub: &mut BillingAccountServiceClient<Channel>,
    auth: &MetadataValue<Ascii>,
) -> Vec<String> {
    let mut tokens = vec![String::new()];
    loop {
        let last = tokens.last().cloned().unwrap_or_default();
        let page = stub
            .list(request(
                ListBillingAccountsRequest {
                    page_size: 100,
                    page_token: last,
                },
                auth,
            ))
            .await
            .expect("owner List")
            .into_inner();
        if page.next_page_token.is_empty() {
            return tokens;
        }
        tokens.push(page.next_page_token);
    }
}

/// Latencies (ms) per call kind and DEADLINE_EXCEEDED counts.
type Sample = ([Vec<f64>; 3], [u64; 3]);

async fn load(emu: &EmulatorHandle, customers: usize, callers: usize, phase: Duration) -> Sample {
    let owner = bearer(&emu.credentials().iam_token);
    let nobody = bearer(NO_RIGHTS_IAM_TOKEN);
    // A few connections, as a pool of clients would use.
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(support::channel(&emu.endpoint()).await);
    }
    let mut first = BillingAccountServiceClient::new(channels[0].clone());
    let tokens = std::sync::Arc::new(page_tokens(&mut first, &owner).await);
    let end = Instant::now() + phase;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..callers {
        let mut stub = BillingAccountServiceClient::new(channels[i % channels.len()].clone());
        let (owner, nobody, tokens) = (owner.clone(), nobody.clone(), tokens.clone());
        let kind = i % KINDS.len();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut late = 0u64;
            while Instant::now() < end {
                let (token, n) = {
                    let mut rng = rand::rng();
                    (
                        tokens[rng.random_range(0..tokens.len())].clone(),
                        rng.random_range(0..customers.max(1)),
                    )
                };
                let start = Instant::now();
                let call = async {
                    match kind {
                        0 => stub
                            .list(request(
                                ListBillingAccountsRequest {
                                    page_size: 100,
                                    page_token: token,
                                },
                                &owner,
                            ))
                            .await
                            .map(|r| assert!(!r.into_inner().billing_accounts.is_empty())),
                        1 => stub
                            .list(request(
                                ListBillingAccountsRequest {
                                    page_size: 1,
                                    page_token: String::new(),
                                },
                                &nobody,
                            ))
                            .await
                            .map(|r| assert!(r.into_inner().billing_accounts.is_empty())),
                        _ => stub
                            .get(request(
                                GetBillingAccountRequest {
                                    id: format!("benchacct{n:011}"),
                                },
                                &owner,
                            ))
                            .await
                            .map(|_| ()),
                    }
                };
                match tokio::time::timeout(DEADLINE, call).await {
                    Err(_) => late += 1,
                    Ok(Err(s)) if s.code() == tonic::Code::DeadlineExceeded => late += 1,
                    Ok(Err(s)) => panic!("{}: {s}", KINDS[kind]),
                    Ok(Ok(())) => latencies.push(start.elapsed().as_secs_f64() * 1000.0),
                }
            }
            (kind, latencies, late)
        });
    }
    let mut sample: Sample = Default::default();
    while let Some(done) = tasks.join_next().await {
        let (kind, latencies, late) = done.expect("bench task panicked");
        sample.0[kind].extend(latencies);
        sample.1[kind] += late;
    }
    sample
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return f64::NAN;
    }
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// Records examined by one call of each kind, measured one at a time.
async fn examined_per_call(emu: &EmulatorHandle, customers: usize) -> [u64; 3] {
    let owner = bearer(&emu.credentials().iam_token);
    let nobody = bearer(NO_RIGHTS_IAM_TOKEN);
    let mut stub = BillingAccountServiceClient::new(support::channel(&emu.endpoint()).await);
    let tokens = page_tokens(&mut stub, &owner).await;
    let middle = tokens[tokens.len() / 2].clone();
    let mut out = [0; 3];
    let before = emu.records_examined();
    stub.list(request(
        ListBillingAccountsRequest {
            page_size: 100,
            page_token: middle,
        },
        &owner,
    ))
    .await
    .expect("List");
    out[0] = emu.records_examined() - before;
    let before = emu.records_examined();
    stub.list(request(
        ListBillingAccountsRequest {
            page_size: 1,
            page_token: String::new(),
        },
        &nobody,
    ))
    .await
    .expect("List");
    out[1] = emu.records_examined() - before;
    let before = emu.records_examined();
    stub.get(request(
        GetBillingAccountRequest {
            id: format!("benchacct{:011}", customers / 2),
        },
        &owner,
    ))
    .await
    .expect("Get");
    out[2] = emu.records_examined() - before;
    out
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SCALE_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 5_000, 25_000, 50_000]);
    let callers: usize = env_or("BENCH_CALLERS", 64);
    let phase = Duration::from_millis(env_or("BENCH_PHASE_MS", 1500));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut rows: Vec<(usize, [f64; 3], [u64; 3])> = Vec::new();
        for &customers in &sizes {
            let started = Instant::now();
            let emu = Emulator::builder()
                .seed(seed(customers))
                .metadata_server(false)
                .start()
                .await
                .expect("emulator");
            let seed_ms = started.elapsed().as_secs_f64() * 1000.0;
            let examined = examined_per_call(&emu, customers).await;
            // Warm-up (connections, allocator, caches), not counted.
            load(&emu, customers, callers, Duration::from_millis(200)).await;
            let (mut latencies, late) = load(&emu, customers, callers, phase).await;
            let mut p99s = [0.0; 3];
            for (k, kind) in KINDS.iter().enumerate() {
                let calls = latencies[k].len();
                let p50 = percentile(&mut latencies[k], 0.50);
                let p99 = percentile(&mut latencies[k], 0.99);
                p99s[k] = p99;
                println!(
                    "emulator_scale customers={customers} op={kind} callers={callers} calls={calls} \
                     p50_ms={p50:.3} p99_ms={p99:.3} deadline_exceeded={} examined_per_call={} \
                     seed_ms={seed_ms:.0}",
                    late[k], examined[k]
                );
            }
            rows.push((customers, p99s, examined));
            emu.shutdown().await;
        }
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            for (k, kind) in KINDS.iter().enumerate() {
                println!(
                    "emulator_scale summary op={kind} from={} to={} p99_growth={:.2} examined_growth={:.2}",
                    first.0,
                    last.0,
                    last.1[k] / first.1[k],
                    last.2[k] as f64 / first.2[k].max(1) as f64
                );
            }
        }
    });
}
