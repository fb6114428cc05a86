//! Shared pieces of the benches: a throughput loop, medians, a minimal
//! tonic server and the raw stub baseline.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use yc_billing::proto::yandex::cloud::access::{
    ListAccessBindingsRequest, ListAccessBindingsResponse, UpdateAccessBindingsRequest,
};
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_server::{
    BillingAccountService, BillingAccountServiceServer,
};
use yc_billing::proto::yandex::cloud::billing::v1::{
    BillingAccount, BindBillableObjectRequest, GetBillingAccountRequest,
    ListBillableObjectBindingsRequest, ListBillableObjectBindingsResponse,
    ListBillingAccountsRequest, ListBillingAccountsResponse,
};
use yc_billing::proto::yandex::cloud::operation::Operation;

/// An environment variable as a number, or the default.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of a sample (the mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `callers` tasks until `duration` has passed; each task, made by
/// `task(deadline)`, loops calls until the deadline and returns how many it
/// completed. Returns completed calls per second over the whole round.
pub async fn rate<F, Fut>(callers: usize, duration: Duration, task: F) -> f64
where
    F: Fn(Instant) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = (0..callers).map(|_| tokio::spawn(task(deadline))).collect();
    let mut done = 0;
    for h in handles {
        done += h.await.expect("bench task panicked");
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// CPU time used so far by every thread of this process (Linux: the sum of
/// `/proc/self/task/*/schedstat`, in nanoseconds); `None` elsewhere.
pub fn process_cpu() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may end between the listing and the read: skip it.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// The quartiles (25th, 50th, 75th percentiles, linear interpolation) of a sample.
pub fn quartiles(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if v.is_empty() {
            return f64::NAN;
        }
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    (at(0.25), at(0.5), at(0.75))
}

/// A plaintext channel configured like the client's (TCP_NODELAY, keep-alive).
pub async fn channel(endpoint: &str) -> Channel {
    Endpoint::from_shared(endpoint.to_string())
        .expect("endpoint")
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connect")
}

/// A task for [`rate`]: loops `Get` of `id` on a clone of `stub` until the
/// deadline, letting `prepare` put headers on each request.
fn get_loop<P>(
    stub: &BillingAccountServiceClient<Channel>,
    id: &str,
    prepare: P,
) -> impl Fn(Instant) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + use<P>
where
    P: Fn(&mut Request<GetBillingAccountRequest>) + Clone + Send + 'static,
{
    let stub = stub.clone();
    let id = id.to_string();
    move |deadline| {
        let mut stub = stub.clone();
        let id = id.clone();
        let prepare = prepare.clone();
        Box::pin(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let mut req = Request::new(GetBillingAccountRequest { id: id.clone() });
                prepare(&mut req);
                stub.get(req).await.expect("raw Get");
                n += 1;
            }
            n
        })
    }
}

/// The baseline: the generated stub on a bare channel, with a static
/// `authorization` header put on every request, looping `Get` until `deadline`.
pub fn raw_get_task(
    stub: &BillingAccountServiceClient<Channel>,
    authorization: &MetadataValue<tonic::metadata::Ascii>,
    id: &str,
) -> impl Fn(Instant) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + use<> {
    let authorization = authorization.clone();
    get_loop(stub, id, move |req| {
        req.metadata_mut()
            .insert("authorization", authorization.clone());
    })
}

/// The raw stub sending what the client puts on the wire (fresh
/// never-indexed `x-client-request-id` and `x-client-trace-id`, a
/// never-indexed `grpc-timeout` of `timeout` and a never-indexed
/// `authorization`), with none of the client's code: separates the cost of
/// those headers (on both ends of the connection) from the client's own.
pub fn wire_get_task(
    stub: &BillingAccountServiceClient<Channel>,
    authorization: &MetadataValue<tonic::metadata::Ascii>,
    id: &str,
    timeout: Duration,
) -> impl Fn(Instant) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + use<> {
    let mut authorization = authorization.clone();
    authorization.set_sensitive(true);
    get_loop(stub, id, move |req| {
        req.set_timeout(timeout);
        let md = req.metadata_mut();
        if let Some(v) = md.get_mut("grpc-timeout") {
            v.set_sensitive(true);
        }
        md.insert("authorization", authorization.clone());
        md.insert("x-client-request-id", fresh_id());
        md.insert("x-client-trace-id", fresh_id());
    })
}

fn fresh_id() -> MetadataValue<tonic::metadata::Ascii> {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut value: MetadataValue<tonic::metadata::Ascii> = id
        .hyphenated()
        .to_string()
        .parse()
        .expect("a UUID is ASCII");
    value.set_sensitive(true);
    value
}

/// `Bearer <token>` as a metadata value.
pub fn bearer(token: &str) -> MetadataValue<tonic::metadata::Ascii> {
    format!("Bearer {token}").parse().expect("token is ASCII")
}

/// A tonic server doing no work: `BillingAccountService.Get` returns a fixed
/// account, everything else is UNIMPLEMENTED. Same transport settings as the
/// emulator (TCP_NODELAY, stream limit, flow-control windows).
#[derive(Clone)]
pub struct Minimal {
    account: BillingAccount,
}

#[tonic::async_trait]
impl BillingAccountService for Minimal {
    async fn get(
        &self,
        _req: Request<GetBillingAccountRequest>,
    ) -> Result<Response<BillingAccount>, Status> {
        Ok(Response::new(self.account.clone()))
    }

    async fn list(
        &self,
        _req: Request<ListBillingAccountsRequest>,
    ) -> Result<Response<ListBillingAccountsResponse>, Status> {
        Err(Status::unimplemented("minimal server"))
    }

    async fn list_billable_object_bindings(
        &self,
        _req: Request<ListBillableObjectBindingsRequest>,
    ) -> Result<Response<ListBillableObjectBindingsResponse>, Status> {
        Err(Status::unimplemented("minimal server"))
    }

    async fn bind_billable_object(
        &self,
        _req: Request<BindBillableObjectRequest>,
    ) -> Result<Response<Operation>, Status> {
        Err(Status::unimplemented("minimal server"))
    }

    async fn list_access_bindings(
        &self,
        _req: Request<ListAccessBindingsRequest>,
    ) -> Result<Response<ListAccessBindingsResponse>, Status> {
        Err(Status::unimplemented("minimal server"))
    }

    async fn update_access_bindings(
        &self,
        _req: Request<UpdateAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        Err(Status::unimplemented("minimal server"))
    }
}

/// A running minimal server; dropping the stop sender ends it.
pub struct MinimalServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<()>,
}

impl MinimalServer {
    /// Serves on an ephemeral loopback port; `account` is what `Get` returns.
    pub async fn start(account: BillingAccount) -> MinimalServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        // The emulator's transport settings, so that only the work differs.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let join = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .max_concurrent_streams(Some(1000))
                .initial_connection_window_size(Some(4 * 1024 * 1024))
                .initial_stream_window_size(Some(1024 * 1024))
                .http2_keepalive_interval(Some(yc_billing::emulator::DEFAULT_KEEPALIVE_INTERVAL))
                .http2_keepalive_timeout(Some(yc_billing::emulator::DEFAULT_KEEPALIVE_TIMEOUT))
                .add_service(BillingAccountServiceServer::new(Minimal { account }))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await
                .expect("minimal server");
        });
        MinimalServer {
            addr,
            stop: Some(tx),
            join,
        }
    }

    /// `http://127.0.0.1:P`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.join).await;
    }
}
