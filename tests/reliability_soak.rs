//! Soak and fault suite: the client against the emulator under injected
//! faults, short-lived tokens, many concurrent clients and a server restart.
//!
//! Every case is one body run twice: a short form (1/10 of the size) that is
//! part of `cargo test --all-features`, and an `#[ignore]`d full form:
//!
//! ```text
//! cargo test --all-features --release --test reliability_soak -- --ignored --nocapture
//! ```
//!
//! `YC_SOAK_SCALE` (default 1.0) multiplies the size of the full form.
//! Each case prints one `soak:` line with its figures (see RELIABILITY.md).
#![cfg(feature = "emulator")]

mod emulator_support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emulator_support::build;
use futures::StreamExt;
use yc_billing::auth::Credentials;
use yc_billing::emulator::{CustomerStatus, Emulator, EmulatorHandle, Faults};
use yc_billing::proto::yandex::cloud::billing::v1::{BillableObject, Customer, CustomerMetadata};
use yc_billing::retry::RetryBudget;
use yc_billing::{Client, Error, Operation, PollingPolicy, RetryPolicy};

const INVITE: &str = "yandex.cloud.billing.v1.CustomerService/Invite";
const GET_ACCOUNT: &str = "yandex.cloud.billing.v1.BillingAccountService/Get";
const IAM_CREATE: &str = "yandex.cloud.iam.v1.IamTokenService/Create";

/// Size of the full form of a case: `full` times `YC_SOAK_SCALE` (default 1).
fn scaled(full: usize) -> usize {
    let scale: f64 = std::env::var("YC_SOAK_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    ((full as f64 * scale).round() as usize).max(1)
}

/// Size of the short form that runs in `cargo test`.
fn short(full: usize) -> usize {
    (full / 10).max(1)
}

/// Many attempts, tiny backoff: enough to ride out 40 % failed attempts.
fn patient_retries() -> RetryPolicy {
    RetryPolicy::standard()
        .max_attempts(30)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(20))
}

/// A client whose retries are bounded by `retry` alone: the soak injects
/// failure rates (up to 40 %) far above what the default retry budget
/// lets a client retry in full, on purpose (see `tests/retry_budget.rs`).
async fn client(emu: &EmulatorHandle, credentials: Credentials, retry: RetryPolicy) -> Client {
    build(
        emu.client_builder()
            .credentials(credentials)
            .retry_policy(retry)
            .retry_budget(RetryBudget::unlimited())
            .request_timeout(Duration::from_secs(60)),
    )
    .await
}

/// Waits until every operation of the emulator has had time to complete.
async fn settle(emu: &EmulatorHandle, delay: Duration) {
    tokio::time::sleep(delay + Duration::from_millis(50)).await;
    // Any handle call settles due operations.
    let _ = emu.operation_count();
}

fn person(n: usize) -> yc_billing::proto::yandex::cloud::billing::v1::CustomerPerson {
    yc_billing::proto::yandex::cloud::billing::v1::CustomerPerson {
        name: format!("Soak Person {n}"),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// 1. Invites under 30 % lost responses and 10 % UNAVAILABLE.

async fn invites_under_faults(n: usize) {
    let started = Instant::now();
    let emu = Emulator::builder()
        .metadata_server(false)
        .faults(
            Faults::default()
                .lost_response_rate(0.3)
                .unavailable_rate(0.1)
                .random_seed(20261123),
        )
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    let client = client(
        &emu,
        Credentials::iam_token(creds.iam_token.clone()),
        patient_retries(),
    )
    .await;
    let ops_before = emu.operation_count();
    let customers_before = emu.customers().len();

    let results: Vec<Result<String, Error>> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let reseller = creds.reseller_id.clone();
            async move {
                client
                    .customers()
                    .invite(
                        reseller,
                        format!("soak-invite-{i}"),
                        format!("soak{i}@example.com"),
                        person(i),
                    )
                    .await
                    .map(|op| op.id().to_owned())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let op_ids: HashSet<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    settle(&emu, Duration::from_millis(50)).await;

    let records = emu.customer_records();
    let mut per_name: HashMap<&str, usize> = HashMap::new();
    for r in &records {
        if r.name.starts_with("soak-invite-") {
            *per_name.entry(r.name.as_str()).or_default() += 1;
        }
    }
    let duplicates = per_name.values().filter(|c| **c > 1).count();
    let attempts = emu.calls(INVITE);
    let new_ops = emu.operation_count() - ops_before;
    println!(
        "soak: invites_under_faults n={n} errors={} new_customers={} duplicates={duplicates} \
         distinct_operations={} server_operations={new_ops} invite_attempts={attempts} \
         ({:.2} per call) elapsed={:?}",
        errors.len(),
        per_name.len(),
        op_ids.len(),
        attempts as f64 / n as f64,
        started.elapsed()
    );
    assert!(errors.is_empty(), "errors reached the caller: {errors:?}");
    assert_eq!(per_name.len(), n, "every invite created its customer");
    assert_eq!(duplicates, 0, "no invite created two customers");
    assert_eq!(records.len() - customers_before, n, "no other customers");
    assert_eq!(op_ids.len(), n, "one distinct operation per call");
    assert_eq!(new_ops, n, "a retry never started a second operation");
    // With these rates about 1 attempt in 2.4 fails, so retries did happen.
    assert!(attempts as usize > n, "faults were injected ({attempts})");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_under_faults_short() {
    invites_under_faults(short(1_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored (see RELIABILITY.md)"]
async fn invites_under_faults_full() {
    invites_under_faults(scaled(1_000)).await;
}

// ---------------------------------------------------------------------------
// 2. Many calls with 2-second IAM tokens, OAuth credentials, the real clock.

async fn calls_with_short_lived_tokens(n: usize) {
    let started = Instant::now();
    let emu = Emulator::builder()
        .metadata_server(false)
        .iam_token_ttl(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    // The default refresh policy and the default retry policy: what a user gets.
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .credentials(Credentials::oauth_token(creds.oauth_token.clone()))
        .build()
        .await
        .unwrap();
    let unauthenticated = Arc::new(AtomicUsize::new(0));
    // Paced over several token lifetimes: 1 ms apart, and at least 3 s in all.
    let pace = Duration::from_millis(1).max(Duration::from_secs(3) / n as u32);
    let t0 = tokio::time::Instant::now();
    let results: Vec<Result<(), Error>> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let id = creds.reseller_id.clone();
            let unauthenticated = unauthenticated.clone();
            async move {
                tokio::time::sleep_until(t0 + pace * i as u32).await;
                let r = client.billing_accounts().get(id).await.map(|_| ());
                if let Err(e) = &r {
                    if e.code() == Some(tonic::Code::Unauthenticated) {
                        unauthenticated.fetch_add(1, Ordering::Relaxed);
                    }
                }
                r
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let elapsed = started.elapsed();
    let exchanges = emu.iam_exchanges();
    let server_calls = emu.calls(GET_ACCOUNT);
    println!(
        "soak: calls_with_2s_tokens n={n} errors={} unauthenticated_surfaced={} \
         server_get_calls={server_calls} (retried {}) iam_exchanges={exchanges} \
         iam_create_calls={} elapsed={elapsed:?}",
        errors.len(),
        unauthenticated.load(Ordering::Relaxed),
        server_calls.saturating_sub(n as u64),
        emu.calls(IAM_CREATE),
    );
    assert_eq!(unauthenticated.load(Ordering::Relaxed), 0, "{errors:?}");
    assert!(
        errors.is_empty(),
        "{} errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // The tokens really expired under the calls: at least one exchange per
    // two seconds of run time, and not one per call.
    assert!(elapsed >= pace * n as u32, "the calls were paced");
    let min_exchanges = (elapsed.as_secs_f64() / 2.0).floor() as u64;
    assert!(
        exchanges >= min_exchanges.max(1),
        "{exchanges} exchanges in {elapsed:?}"
    );
    assert!(
        (exchanges as usize) < n.max(20),
        "{exchanges} exchanges for {n} calls"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_with_short_lived_tokens_short() {
    calls_with_short_lived_tokens(short(10_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored (see RELIABILITY.md)"]
async fn calls_with_short_lived_tokens_full() {
    calls_with_short_lived_tokens(scaled(10_000)).await;
}

// ---------------------------------------------------------------------------
// 3. 64 concurrent clients mutating the emulator; its invariants hold after.

#[derive(Default)]
struct Shared {
    customers: Mutex<Vec<Customer>>,
    operations: Mutex<HashSet<String>>,
    errors: Mutex<HashMap<String, usize>>,
    calls: AtomicU64,
}

impl Shared {
    fn op(&self, id: &str) {
        self.operations.lock().unwrap().insert(id.to_owned());
    }
    fn error(&self, what: &str, e: &Error) {
        let code = e
            .code()
            .map_or_else(|| "client".into(), |c| format!("{c:?}"));
        *self
            .errors
            .lock()
            .unwrap()
            .entry(format!("{what}:{code}"))
            .or_default() += 1;
    }
    fn pick_customer(&self, r: u64) -> Option<Customer> {
        let c = self.customers.lock().unwrap();
        (!c.is_empty()).then(|| c[(r as usize) % c.len()].clone())
    }
}

/// A small deterministic generator per client (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn one_client_run(client: Client, k: usize, steps: usize, reseller: String, s: Arc<Shared>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (k as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut pending: Vec<Operation<CustomerMetadata, Customer>> = Vec::new();
    for step in 0..steps {
        s.calls.fetch_add(1, Ordering::Relaxed);
        let r = rng.next();
        match r % 8 {
            // Invite, and remember the customer once it exists.
            0 | 1 => {
                let call = client.customers().invite(
                    reseller.clone(),
                    format!("conc-{k}-{step}"),
                    format!("c{k}x{step}@example.com"),
                    person(step),
                );
                match call.await {
                    Ok(op) => {
                        s.op(op.id());
                        pending.push(op);
                    }
                    Err(e) => s.error("invite", &e),
                }
            }
            2 => {
                if let Some(c) = s.pick_customer(r >> 8) {
                    match client.customers().activate(c.id).await {
                        Ok(op) => s.op(op.id()),
                        Err(e) => s.error("activate", &e),
                    }
                }
            }
            3 => {
                if let Some(c) = s.pick_customer(r >> 8) {
                    match client.customers().suspend(c.id).await {
                        Ok(op) => s.op(op.id()),
                        Err(e) => s.error("suspend", &e),
                    }
                }
            }
            // Bind one of a few shared clouds to a customer's account or the
            // reseller's: clouds move between accounts.
            4 => {
                let account = match s.pick_customer(r >> 8) {
                    Some(c) if r & 0x10000 == 0 => c.billing_account_id,
                    _ => reseller.clone(),
                };
                let cloud = BillableObject::cloud(format!("b1gsoakcloud{:04}", (r >> 20) % 16));
                match client
                    .billing_accounts()
                    .bind_billable_object(account, cloud)
                    .await
                {
                    Ok(op) => s.op(op.id()),
                    Err(e) => s.error("bind", &e),
                }
            }
            // Add or remove a viewer (never the caller's own role).
            5 => {
                let account = match s.pick_customer(r >> 8) {
                    Some(c) if r & 0x10000 == 0 => c.billing_account_id,
                    _ => reseller.clone(),
                };
                let subject = format!("ajesoakviewer{:07}", (r >> 24) % 8);
                let call = client.billing_accounts().update_access_bindings(account);
                let call = if r & 0x20000 == 0 {
                    call.add("billing.accounts.viewer", "userAccount", subject)
                } else {
                    call.remove("billing.accounts.viewer", "userAccount", subject)
                };
                match call.await {
                    Ok(op) => s.op(op.id()),
                    Err(e) => s.error("access", &e),
                }
            }
            // Cancel one of our pending invites (it may already be done).
            6 => {
                if let Some(mut op) = pending.pop() {
                    if let Err(e) = op.cancel().await {
                        s.error("cancel", &e);
                    }
                }
            }
            // Look at an invite: once done, its customer joins the pool.
            _ => {
                if let Some(mut op) = pending.pop() {
                    match op.poll().await {
                        Ok(true) => match op.result() {
                            Some(Ok(c)) => s.customers.lock().unwrap().push(c),
                            Some(Err(e)) => s.error("invite-result", &e),
                            None => {}
                        },
                        Ok(false) => pending.insert(0, op),
                        Err(e) => s.error("poll", &e),
                    }
                }
            }
        }
    }
}

async fn concurrent_clients(clients: usize, steps: usize) {
    let started = Instant::now();
    // Long enough that some cancels catch their operation still running.
    let delay = Duration::from_millis(150);
    let emu = Emulator::builder()
        .metadata_server(false)
        .operation_delay(delay)
        .faults(
            Faults::default()
                .unavailable_rate(0.05)
                .lost_response_rate(0.05)
                .random_seed(64),
        )
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    let shared = Arc::new(Shared::default());
    let ops_before = emu.operation_count();
    let mut tasks = Vec::new();
    for k in 0..clients {
        // Separate clients: separate channels and token caches.
        let c = client(
            &emu,
            Credentials::iam_token(creds.iam_token.clone()),
            patient_retries(),
        )
        .await;
        tasks.push(tokio::spawn(one_client_run(
            c,
            k,
            steps,
            creds.reseller_id.clone(),
            shared.clone(),
        )));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(300), t)
            .await
            .expect("a client finished in time")
            .expect("a client did not panic");
    }
    settle(&emu, delay).await;

    // Invariants.
    let records = emu.customer_records();
    let accounts = emu.billing_accounts();
    let account_ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    let unique_accounts: HashSet<&str> = account_ids.iter().copied().collect();
    assert_eq!(
        unique_accounts.len(),
        account_ids.len(),
        "duplicate account ids"
    );
    let customer_ids: HashSet<&str> = records.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(customer_ids.len(), records.len(), "duplicate customer ids");
    let mut names: HashMap<&str, usize> = HashMap::new();
    for c in &records {
        *names.entry(c.name.as_str()).or_default() += 1;
        assert!(
            unique_accounts.contains(c.billing_account_id.as_str()),
            "customer {} has no billing account",
            c.id
        );
        assert!(unique_accounts.contains(c.reseller_id.as_str()));
        let account = accounts
            .iter()
            .find(|a| a.id == c.billing_account_id)
            .unwrap();
        assert_eq!(
            account.active,
            c.status == CustomerStatus::Active,
            "account {} active flag matches customer status {:?}",
            account.id,
            c.status
        );
    }
    assert!(
        names
            .iter()
            .all(|(n, c)| !n.starts_with("conc-") || *c == 1),
        "an invite created two customers"
    );
    let mut bound_clouds: HashMap<String, Vec<String>> = HashMap::new();
    let mut access_bindings = 0;
    for a in &account_ids {
        let access = emu.access_bindings(a);
        access_bindings += access.len();
        let unique: HashSet<_> = access.iter().map(|b| format!("{b:?}")).collect();
        assert_eq!(
            unique.len(),
            access.len(),
            "duplicate access binding on {a}"
        );
        for b in emu.billable_object_bindings(a) {
            let o = b.billable_object.unwrap();
            bound_clouds.entry(o.id).or_default().push(a.to_string());
        }
    }
    for (cloud, on) in &bound_clouds {
        assert_eq!(
            on.len(),
            1,
            "cloud {cloud} is bound to several accounts: {on:?}"
        );
    }

    // Every operation we started is done (completed or cancelled).
    let ids: Vec<String> = shared.operations.lock().unwrap().iter().cloned().collect();
    let checker = client(
        &emu,
        Credentials::iam_token(creds.iam_token.clone()),
        patient_retries(),
    )
    .await;
    let mut done = 0;
    let mut cancelled = 0;
    for id in &ids {
        let op = checker.operations().get(id.clone()).await.unwrap();
        assert!(op.done, "operation {id} is still running after settling");
        done += 1;
        if let Some(yc_billing::proto::yandex::cloud::operation::operation::Result::Error(e)) =
            &op.result
        {
            if e.code == tonic::Code::Cancelled as i32 {
                cancelled += 1;
            }
        }
    }
    let server_ops = emu.operation_count() - ops_before;
    let errors = shared.errors.lock().unwrap().clone();
    println!(
        "soak: concurrent_clients clients={clients} steps={} operations={server_ops} \
         done={done} cancelled={cancelled} customers={} accounts={} access_bindings={access_bindings} \
         bound_clouds={} expected_errors={errors:?} elapsed={:?}",
        shared.calls.load(Ordering::Relaxed),
        records.len(),
        accounts.len(),
        bound_clouds.len(),
        started.elapsed()
    );
    assert_eq!(
        server_ops,
        ids.len(),
        "every operation created was returned to a client"
    );
    // Only errors the API is expected to give under this workload: cancelling
    // a finished operation, activating/suspending a customer whose status
    // change lost a race. Nothing transient reached a caller.
    for (what, _) in errors.iter() {
        assert!(
            what.ends_with(":FailedPrecondition") || what == "invite-result:client",
            "unexpected error kind {what}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_short() {
    concurrent_clients(64, short(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored (see RELIABILITY.md)"]
async fn concurrent_clients_full() {
    concurrent_clients(64, scaled(200)).await;
}

// ---------------------------------------------------------------------------
// 4. The emulator restarted under a waiting client.

async fn free_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

async fn start_on(addr: SocketAddr, delay: Duration) -> EmulatorHandle {
    // The port was just released; binding may need a moment.
    for _ in 0..50 {
        match Emulator::builder()
            .listen(addr)
            .metadata_server(false)
            .operation_delay(delay)
            .start()
            .await
        {
            Ok(emu) => return emu,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("cannot rebind {addr}");
}

/// Returns the operation id, how the wait and the resume ended, and how long
/// the restart took.
async fn restart_under_waiting_client(downtime: Duration) -> (String, Error, Error, Duration) {
    let addr = free_port().await;
    let emu = start_on(addr, Duration::from_secs(3600)).await;
    let creds = emu.credentials().clone();
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .iam_token(creds.iam_token.clone())
        .retry_policy(
            RetryPolicy::standard()
                .max_attempts(5)
                .initial_backoff(Duration::from_millis(50)),
        )
        .request_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    let op = client
        .customers()
        .invite(
            creds.reseller_id.clone(),
            "restart",
            "restart@example.com",
            person(0),
        )
        .await
        .unwrap();
    let id = op.id().to_owned();
    let policy = PollingPolicy::default()
        .with_initial_interval(Duration::from_millis(20))
        .with_max_interval(Duration::from_millis(100))
        .with_not_found_grace(Duration::from_millis(200))
        .with_time_limit(Duration::from_secs(20));
    let waiter = tokio::spawn(async move { op.wait_with(&policy).await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), emu.shutdown())
        .await
        .expect("shutdown does not hang under a connected client");
    tokio::time::sleep(downtime).await;
    let emu = start_on(addr, Duration::from_millis(10)).await;
    let restart = t.elapsed();

    let waited = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the wait ends")
        .expect("no panic");
    let wait_error = waited.expect_err("the operation cannot complete: it was lost");

    // Resuming against the new server: the operation is reported lost.
    let resumed = tokio::time::timeout(
        Duration::from_secs(10),
        Operation::<CustomerMetadata, Customer>::resume(&client, id.clone()),
    )
    .await
    .expect("resume does not hang");
    let resume_error = resumed.expect_err("the in-memory emulator lost the operation");

    // The client works against the new server without being rebuilt.
    let customer = tokio::time::timeout(Duration::from_secs(10), async {
        client
            .customers()
            .invite(
                creds.reseller_id.clone(),
                "after",
                "after@example.com",
                person(1),
            )
            .await?
            .wait_with(&PollingPolicy::default().with_initial_interval(Duration::from_millis(20)))
            .await
    })
    .await
    .expect("no hang")
    .expect("the client recovers after the restart");
    assert!(!customer.id.is_empty());
    emu.shutdown().await;
    (id, wait_error, resume_error, restart)
}

fn describes_loss_or_outage(e: &Error, id: &str) -> bool {
    let text = e.to_string();
    match e.code() {
        Some(tonic::Code::NotFound) => text.contains(id) && text.contains("not found"),
        Some(tonic::Code::Unavailable) => true,
        _ => false,
    }
}

async fn restart_cases(rounds: usize) {
    let started = Instant::now();
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    let mut slowest_restart = Duration::ZERO;
    for round in 0..rounds {
        // Short downtimes land inside the retry window (the wait sees the new
        // server and NOT_FOUND); long ones exhaust the retries (UNAVAILABLE).
        let downtime = if round % 2 == 0 {
            Duration::from_millis(50)
        } else {
            Duration::from_millis(1500)
        };
        let (id, wait_error, resume_error, restart) = restart_under_waiting_client(downtime).await;
        assert!(
            describes_loss_or_outage(&wait_error, &id),
            "the wait says what happened: {wait_error}"
        );
        assert!(
            wait_error.to_string().contains("OperationService/Get"),
            "the error names the call: {wait_error}"
        );
        assert_eq!(
            resume_error.code(),
            Some(tonic::Code::NotFound),
            "{resume_error}"
        );
        assert!(
            describes_loss_or_outage(&resume_error, &id),
            "{resume_error}"
        );
        assert!(restart < Duration::from_secs(8), "restart took {restart:?}");
        slowest_restart = slowest_restart.max(restart - downtime);
        *outcomes
            .entry(format!(
                "downtime={downtime:?}:wait={:?}",
                wait_error.code().unwrap()
            ))
            .or_default() += 1;
        if round == 0 {
            println!("soak: restart example wait error: {wait_error}");
            println!("soak: restart example resume error: {resume_error}");
        }
    }
    println!(
        "soak: restart_under_waiting_client rounds={rounds} outcomes={outcomes:?} \
         slowest_shutdown_and_rebind={slowest_restart:?} elapsed={:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_waiting_client_short() {
    restart_cases(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored (see RELIABILITY.md)"]
async fn restart_under_waiting_client_full() {
    restart_cases(scaled(10)).await;
}
