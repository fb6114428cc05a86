//! The Rust side of the out-of-process comparisons that `bench/run.sh`
//! drives: every figure is taken with the server in another process, and
//! CPU is the user + system time of one process (`getrusage` for this one,
//! `/proc/PID/task/*/schedstat` for the server's), divided by the calls
//! made while it was measured.
//!
//! Subcommands (the first argument after cargo's `--bench`):
//!
//! * `get IMPL INFLIGHT SECS`: `BillingAccountService.Get` with `INFLIGHT`
//!   calls in flight for `SECS` seconds after a 300 ms warm-up, against
//!   `YC_BENCH_ENDPOINT` with `YC_BENCH_TOKEN`, account `YC_BENCH_ID`. `IMPL`
//!   is `client` (`client.billing_accounts().get(id)`) or `raw` (the
//!   generated `BillingAccountServiceClient` on a bare channel with a static
//!   `authorization` header: the floor) or `wire` (that stub sending what
//!   the client puts on the wire: fresh never-indexed request and trace ids,
//!   a never-indexed `grpc-timeout` and `authorization`; none of the
//!   client's code). With `YC_BENCH_SERVER_PID` it also
//!   measures that process's CPU over the same window. Prints
//!   `oop_get impl=… inflight=… calls=… secs=… calls_per_s=… cpu_us=…
//!   server_cpu_us=…` (per call). `BENCH_RT=current` runs the caller on a
//!   current-thread runtime; `BENCH_WORKERS` sets the multi-thread worker
//!   count (default: one per core, as `#[tokio::main]`).
//! * `serve-minimal`: a tonic server that answers `Get` with the emulator's
//!   seeded reseller account (a fixed message, no work) with the emulator's
//!   transport settings; prints `{"address":"127.0.0.1:P"}` and serves until
//!   killed.
//! * `waits N DELAY_MS`: `N` concurrent `CustomerService.Activate`
//!   operations on the emulator at `YC_BENCH_ENDPOINT` (started with
//!   `--operation-delay-ms DELAY_MS`) waited for at once with the default
//!   `PollingPolicy`; prints this process's peak RSS, `Operation.Get`s per
//!   operation per second of waiting (counted at the client: one progress
//!   callback per `Get`), and the finish-to-return delay next to the poll
//!   interval in force when the operation finished (the last gap between
//!   two polls of that operation).
//! * `startup RUNS`: in-process `Emulator` start to the first answered
//!   `Get` (client built with `client_builder()`), `RUNS` times; quartiles.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use yc_billing::emulator::Emulator;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;
use yc_billing::{Client, PollingPolicy};

use support::{MinimalServer, quartiles};

/// A seeded customer of the default reseller (the emulator's built-in seed).
const CUSTOMER: &str = "emucustomer000000001";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

/// User + system CPU time of this process so far (`getrusage(RUSAGE_SELF)`).
fn self_cpu() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time of every thread of process `pid` (sum of the threads'
/// `schedstat`, nanoseconds; user + system).
fn pid_cpu(pid: u32) -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += text
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

/// `VmHWM` (peak resident set size) of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    if std::env::var("BENCH_RT").as_deref() == Ok("current") {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        b.worker_threads(n);
    }
    b.enable_all().build().expect("runtime")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "get" => get(
            arg(1),
            arg(2).parse().expect("INFLIGHT"),
            arg(3).parse().expect("SECS"),
        ),
        "serve-minimal" => serve_minimal(),
        "waits" => waits(
            arg(1).parse().expect("N"),
            arg(2).parse().expect("DELAY_MS"),
        ),
        "startup" => startup(arg(1).parse().expect("RUNS")),
        _ => println!(
            "out_of_process: subcommand get | serve-minimal | waits | startup \
             (driven by bench/run.sh); skipped"
        ),
    }
}

/// Loops of `Get` with `inflight` in flight; returns calls made before `deadline`.
async fn get_round(
    imp: &str,
    client: &Client,
    raw: &BillingAccountServiceClient<tonic::transport::Channel>,
    authorization: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    id: &str,
    inflight: usize,
    deadline: Instant,
) -> u64 {
    let tasks: Vec<_> = (0..inflight)
        .map(|_| {
            let id = id.to_string();
            if imp == "wire" {
                let mut stub = raw.clone();
                let mut authorization = authorization.clone();
                authorization.set_sensitive(true);
                tokio::spawn(async move {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let mut req = tonic::Request::new(
                            yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest {
                                id: id.clone(),
                            },
                        );
                        req.set_timeout(Duration::from_secs(30));
                        let md = req.metadata_mut();
                        if let Some(v) = md.get_mut("grpc-timeout") {
                            v.set_sensitive(true);
                        }
                        md.insert("authorization", authorization.clone());
                        md.insert("x-client-request-id", fresh_id());
                        md.insert("x-client-trace-id", fresh_id());
                        stub.get(req).await.expect("wire Get");
                        n += 1;
                    }
                    n
                })
            } else if imp == "raw" {
                let mut stub = raw.clone();
                let authorization = authorization.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let mut req = tonic::Request::new(
                            yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest {
                                id: id.clone(),
                            },
                        );
                        req.metadata_mut()
                            .insert("authorization", authorization.clone());
                        stub.get(req).await.expect("raw Get");
                        n += 1;
                    }
                    n
                })
            } else {
                let client = client.clone();
                tokio::spawn(async move {
                    let accounts = client.billing_accounts();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        accounts.get(id.as_str()).await.expect("client Get");
                        n += 1;
                    }
                    n
                })
            }
        })
        .collect();
    let mut n = 0;
    for t in tasks {
        n += t.await.expect("caller task");
    }
    n
}

/// A fresh never-indexed id, as the client sends `x-client-request-id` and `x-client-trace-id`.
fn fresh_id() -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> = id
        .hyphenated()
        .to_string()
        .parse()
        .expect("a UUID is ASCII");
    value.set_sensitive(true);
    value
}

/// The raw stub's channel: the client's settings (`support::channel`), and
/// for experiments `BENCH_RAW_BUFFER` (the channel's request buffer),
/// `BENCH_RAW_ADAPTIVE=1` (HTTP/2 adaptive window) and `BENCH_RAW_WINDOWS=1`
/// (the emulator's 1 MiB stream / 4 MiB connection windows).
async fn raw_channel(endpoint: &str) -> tonic::transport::Channel {
    let mut e = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .expect("endpoint")
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    if let Some(n) = std::env::var("BENCH_RAW_BUFFER")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        e = e.buffer_size(n);
    }
    if std::env::var("BENCH_RAW_ADAPTIVE").as_deref() == Ok("1") {
        e = e.http2_adaptive_window(true);
    }
    if std::env::var("BENCH_RAW_WINDOWS").as_deref() == Ok("1") {
        e = e
            .initial_stream_window_size(1024 * 1024)
            .initial_connection_window_size(4 * 1024 * 1024);
    }
    e.connect().await.expect("connect")
}

fn get(imp: &str, inflight: usize, secs: f64) {
    assert!(
        ["raw", "wire", "client"].contains(&imp),
        "IMPL is raw, wire or client"
    );
    let endpoint = env("YC_BENCH_ENDPOINT");
    let token = env("YC_BENCH_TOKEN");
    let id = env("YC_BENCH_ID");
    let server_pid: Option<u32> = std::env::var("YC_BENCH_SERVER_PID")
        .ok()
        .and_then(|v| v.parse().ok());
    runtime().block_on(async {
        // Both are built in both arms (the idle one costs nothing); only `imp` calls.
        let client = Client::builder()
            .endpoint(endpoint.clone())
            .iam_token(token.clone())
            .build()
            .await
            .expect("client");
        let raw = BillingAccountServiceClient::new(raw_channel(&endpoint).await);
        let authorization = support::bearer(&token);
        let warm = Instant::now() + Duration::from_millis(300);
        get_round(imp, &client, &raw, &authorization, &id, inflight, warm).await;

        let (cpu0, srv0, t0) = (self_cpu(), server_pid.map(pid_cpu), Instant::now());
        let calls = get_round(
            imp,
            &client,
            &raw,
            &authorization,
            &id,
            inflight,
            t0 + Duration::from_secs_f64(secs),
        )
        .await;
        let (cpu, srv, elapsed) = (
            self_cpu() - cpu0,
            server_pid.map(|p| pid_cpu(p) - srv0.unwrap_or_default()),
            t0.elapsed(),
        );
        let per_call = |d: Duration| d.as_secs_f64() * 1e6 / calls.max(1) as f64;
        println!(
            "oop_get impl={imp} inflight={inflight} calls={calls} secs={:.3} calls_per_s={:.0} \
             cpu_us={:.2} server_cpu_us={}",
            elapsed.as_secs_f64(),
            calls as f64 / elapsed.as_secs_f64(),
            per_call(cpu),
            srv.map(|d| format!("{:.2}", per_call(d)))
                .unwrap_or_else(|| "n/a".into()),
        );
    });
}

fn serve_minimal() {
    runtime().block_on(async {
        // The same message the emulator answers: its seeded reseller account.
        let emu = Emulator::builder()
            .metadata_server(false)
            .start()
            .await
            .expect("emulator");
        let reseller = emu.credentials().reseller_id.clone();
        let account = emu
            .billing_accounts()
            .into_iter()
            .find(|a| a.id == reseller)
            .expect("seeded reseller account");
        emu.shutdown().await;
        let server = MinimalServer::start(account).await;
        println!("{{\"address\":\"{}\"}}", server.addr);
        // Serve until killed (bench/run.sh runs it under `timeout`).
        std::future::pending::<()>().await;
        server.shutdown().await;
    });
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn waits(n: usize, delay_ms: u64) {
    let endpoint = env("YC_BENCH_ENDPOINT");
    let token = env("YC_BENCH_TOKEN");
    runtime().block_on(async {
        let client = Client::builder()
            .endpoint(endpoint)
            .iam_token(token)
            .build()
            .await
            .expect("client");
        let policy = PollingPolicy::default()
            .with_time_limit(Duration::from_millis(delay_ms) * 3 + Duration::from_secs(60));
        let started = Instant::now();
        let mut creates = futures::stream::iter(0..n)
            .map(|_| {
                let client = client.clone();
                async move { client.customers().activate(CUSTOMER).await }
            })
            .buffer_unordered(256);
        let mut handles = Vec::with_capacity(n);
        let mut future_bytes = 0;
        while let Some(op) = creates.next().await {
            let op = op.expect("Activate");
            let policy = policy.clone();
            let waiter = async move {
                let waiting = Instant::now();
                let mut finished_at = None;
                let mut polls: Vec<Instant> = Vec::new();
                let result = op
                    .wait_with_progress(&policy, |state| {
                        polls.push(Instant::now());
                        finished_at = state.modified_at();
                    })
                    .await;
                let returned = SystemTime::now();
                result.expect("wait");
                let finished_at = finished_at.expect("a done operation has modified_at");
                let delay = returned
                    .duration_since(finished_at)
                    .unwrap_or(Duration::ZERO);
                // The first callback is the state Activate returned, not a Get.
                let gets = polls.len().saturating_sub(1);
                let interval = match polls.as_slice() {
                    [.., a, b] => *b - *a,
                    _ => Duration::ZERO,
                };
                (delay, interval, gets, waiting.elapsed())
            };
            // What one waiting task holds besides its operation: its future.
            future_bytes = std::mem::size_of_val(&waiter);
            handles.push(tokio::spawn(waiter));
        }
        let created_in = started.elapsed();
        let (mut delays, mut intervals, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut gets, mut waited) = (0usize, Duration::ZERO);
        for h in handles {
            let (delay, interval, g, w) = h.await.expect("waiter");
            delays.push(delay.as_secs_f64() * 1e3);
            intervals.push(interval.as_secs_f64() * 1e3);
            ratios.push(delay.as_secs_f64() / interval.as_secs_f64().max(1e-9));
            gets += g;
            waited += w;
        }
        let elapsed = started.elapsed();
        for v in [&mut delays, &mut intervals, &mut ratios] {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "oop_waits waits={n} delay_ms={delay_ms} created_s={:.2} elapsed_s={:.2} \
             peak_rss_mib={:.1} waiter_future_bytes={future_bytes} gets={gets} gets_per_op_per_s={:.3} \
             delay_p50_ms={:.1} delay_p99_ms={:.1} delay_max_ms={:.1} \
             interval_p50_ms={:.1} interval_p99_ms={:.1} ratio_p50={:.3} ratio_p99={:.3} \
             policy_initial_ms={} policy_multiplier={} policy_max_ms={} policy_jitter={}",
            created_in.as_secs_f64(),
            elapsed.as_secs_f64(),
            peak_rss_kib() as f64 / 1024.0,
            gets as f64 / waited.as_secs_f64(),
            percentile(&delays, 50.0),
            percentile(&delays, 99.0),
            delays.last().copied().unwrap_or(f64::NAN),
            percentile(&intervals, 50.0),
            percentile(&intervals, 99.0),
            percentile(&ratios, 50.0),
            percentile(&ratios, 99.0),
            policy.initial_interval().as_millis(),
            policy.multiplier(),
            policy.max_interval().as_millis(),
            policy.jitter(),
        );
    });
}

fn startup(runs: usize) {
    runtime().block_on(async {
        let mut ms = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t0 = Instant::now();
            let emu = Emulator::builder()
                .metadata_server(false)
                .start()
                .await
                .expect("emulator");
            let client = emu.client_builder().build().await.expect("client");
            let id = emu.credentials().reseller_id.clone();
            client.billing_accounts().get(id.as_str()).await.expect("Get");
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            drop(client);
            emu.shutdown().await;
        }
        let (q1, q2, q3) = quartiles(&ms);
        let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ms.iter().copied().fold(0.0, f64::max);
        println!(
            "oop_startup runs={runs} median_ms={q2:.3} q1_ms={q1:.3} q3_ms={q3:.3} min_ms={min:.3} max_ms={max:.3}"
        );
    });
}
