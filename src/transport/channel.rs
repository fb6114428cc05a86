//! The client's HTTP/2 transport: one lazily opened connection per
//! endpoint, on the `h2` crate directly.
//!
//! A call is sent from the caller's own task: it opens a stream on the
//! shared connection, writes the request and reads the answer, and the
//! connection's task only moves frames. tonic's `Channel` adds two hops per
//! call on top of that (its `tower::Buffer` task, then hyper's dispatch
//! channel and a task hyper spawns per request), which on loopback cost
//! about a fifth of a raw stub's CPU per call (BENCHMARKS.md, issue 16).
//!
//! What it keeps of tonic's channel: connection on first use, one
//! connection shared by every clone, a new connection on the next call after
//! the old one closed (and, once, for a call whose cached connection turned
//! out closed before its request left), the connect timeout, TCP_NODELAY,
//! keep-alive pings while calls are open, TLS through rustls with ALPN `h2`,
//! the `user-agent`, and hyper's HTTP/2 window and header-list settings.

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};

use super::BoxError;
use super::h2body::{MAX_HEADER_LIST_SIZE, Pump, RecvBody};
use crate::error::TransportErrorKind;

/// hyper's client defaults, which tonic's channel used.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
const MAX_FRAME_SIZE: u32 = 16 * 1024;
const MAX_SEND_BUFFER_SIZE: usize = 1024 * 1024;

/// A connection to one gRPC endpoint, shared by its clones: what
/// [`Client`](crate::Client) sends every call through.
///
/// The client builds its own; a tonic channel converts into one, for
/// [`IamExchange::new`](crate::auth::IamExchange::new) and other uses that
/// bring their own:
///
/// ```no_run
/// let tonic = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let channel = yc_billing::transport::Channel::from(tonic);
/// # drop(channel);
/// ```
#[derive(Clone)]
pub struct Channel(Kind);

#[derive(Clone)]
enum Kind {
    Direct(Arc<Inner>),
    Tonic(tonic::transport::Channel),
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Direct(inner) => f
                .debug_struct("Channel")
                .field("scheme", &inner.target.scheme)
                .field("authority", &inner.target.authority)
                .finish_non_exhaustive(),
            Kind::Tonic(c) => f.debug_tuple("Channel").field(c).finish(),
        }
    }
}

impl From<tonic::transport::Channel> for Channel {
    fn from(channel: tonic::transport::Channel) -> Self {
        Channel(Kind::Tonic(channel))
    }
}

/// How a [`Channel`] connects.
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    /// A PING this often while calls are open on the connection.
    pub(crate) keep_alive_interval: Duration,
    /// A PING unanswered this long closes the connection.
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) user_agent: HeaderValue,
    /// `None` for plaintext (`http://`).
    pub(crate) tls: Option<Tls>,
}

/// TLS of a [`Channel`]: the rustls configuration (roots, ALPN `h2`) and
/// the name the certificate must carry.
pub(crate) struct Tls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) server_name: rustls::pki_types::ServerName<'static>,
}

impl Tls {
    /// TLS to `server_name` trusting `roots`, with the ring provider tonic
    /// uses and ALPN `h2`.
    pub(crate) fn new(
        roots: rustls::RootCertStore,
        server_name: &str,
    ) -> Result<Tls, Box<dyn StdError + Send + Sync>> {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let server_name = rustls::pki_types::ServerName::try_from(server_name.to_owned())?;
        Ok(Tls {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// What does not change over a channel's life.
struct Target {
    scheme: Scheme,
    authority: Authority,
    /// For name resolution: the URI's host without IPv6 brackets.
    host: String,
    port: u16,
    settings: Settings,
}

struct Inner {
    target: Arc<Target>,
    state: Mutex<State>,
    next_id: AtomicU64,
}

type Connecting = Shared<BoxFuture<'static, Result<Conn, Arc<ConnectError>>>>;

enum State {
    Idle,
    Connecting(u64, Connecting),
    Ready(Conn),
}

/// One open connection: a handle to open streams on it.
#[derive(Clone)]
struct Conn {
    id: u64,
    send: h2::client::SendRequest<Bytes>,
    /// Calls open on it (the keep-alive pings only while there are some).
    open: Arc<AtomicUsize>,
}

impl Channel {
    /// A channel to `uri` (`http://` or `https://`; without a port, the
    /// scheme's) that connects on its first call.
    pub(crate) fn lazy(uri: &Uri, settings: Settings) -> Result<Channel, String> {
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("{uri} has no host"))?;
        let host = host_of(uri).to_owned();
        let port = port_of(uri);
        Ok(Channel(Kind::Direct(Arc::new(Inner {
            target: Arc::new(Target {
                scheme,
                authority,
                host,
                port,
                settings,
            }),
            state: Mutex::new(State::Idle),
            next_id: AtomicU64::new(0),
        }))))
    }
}

/// The host of `uri` as names resolve it: an IPv6 literal without its brackets.
pub(crate) fn host_of(uri: &Uri) -> &str {
    uri.host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// The port of `uri`, or its scheme's: 80 for `http`, 443 otherwise.
pub(crate) fn port_of(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        })
}

impl Inner {
    /// The open connection, or the one being opened (opening it if none is).
    /// `true` with a connection that was open before this call asked.
    async fn conn(self: &Arc<Self>) -> Result<(Conn, bool), Arc<ConnectError>> {
        let connecting = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match &*state {
                State::Ready(conn) => return Ok((conn.clone(), true)),
                State::Connecting(_, f) => f.clone(),
                State::Idle => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let f = connect(Arc::clone(&self.target), Arc::downgrade(self), id)
                        .boxed()
                        .shared();
                    *state = State::Connecting(id, f.clone());
                    f
                }
            }
        };
        connecting.await.map(|c| (c, false))
    }

    /// Forgets connection `id` (closed, or found unusable), so the next
    /// call opens a new one.
    fn lost(&self, id: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let current = match &*state {
            State::Ready(c) => c.id == id,
            State::Connecting(i, _) => *i == id,
            State::Idle => false,
        };
        if current {
            *state = State::Idle;
        }
    }
}

/// Opens connection `id` within the connect timeout and, when it is open,
/// makes it the channel's.
async fn connect(
    target: Arc<Target>,
    inner: Weak<Inner>,
    id: u64,
) -> Result<Conn, Arc<ConnectError>> {
    let timeout = target.settings.connect_timeout;
    let opened = match tokio::time::timeout(timeout, open(&target, inner.clone(), id)).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::new(
            Stage::Timeout,
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within the connect timeout of {timeout:?}"),
            ),
        )),
    }
    .map_err(Arc::new);
    if let Some(inner) = inner.upgrade() {
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(&*state, State::Connecting(i, _) if *i == id) {
            *state = match &opened {
                Ok(conn) => State::Ready(conn.clone()),
                Err(_) => State::Idle,
            };
        }
    }
    opened
}

async fn open(target: &Target, inner: Weak<Inner>, id: u64) -> Result<Conn, ConnectError> {
    let addresses = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| ConnectError::new(Stage::Dns, e))?;
    let mut last = None;
    let mut tcp = None;
    for address in addresses {
        match tokio::net::TcpStream::connect(address).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        ConnectError::new(
            Stage::Tcp,
            last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address")
            }),
        )
    })?;
    tcp.set_nodelay(true)
        .map_err(|e| ConnectError::new(Stage::Tcp, e))?;
    match &target.settings.tls {
        None => start(tcp, &target.settings, inner, id).await,
        Some(tls) => {
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config))
                .connect(tls.server_name.clone(), tcp)
                .await
                .map_err(|e| ConnectError::new(Stage::Tls, e))?;
            if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(ConnectError::new(
                    Stage::Tls,
                    "the server did not agree to HTTP/2 (ALPN h2)",
                ));
            }
            start(stream, &target.settings, inner, id).await
        }
    }
}

/// The HTTP/2 handshake on `io`, and the connection's task.
async fn start<T>(
    io: T,
    settings: &Settings,
    inner: Weak<Inner>,
    id: u64,
) -> Result<Conn, ConnectError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME_SIZE)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .max_send_buffer_size(MAX_SEND_BUFFER_SIZE)
        .enable_push(false)
        .handshake::<T, Bytes>(io)
        .await
        .map_err(|e| ConnectError::new(Stage::Handshake, e))?;
    let open = Arc::new(AtomicUsize::new(0));
    let pings = connection.ping_pong();
    let keep_alive = (settings.keep_alive_interval, settings.keep_alive_timeout);
    tokio::spawn(drive(
        connection,
        pings,
        Arc::clone(&open),
        keep_alive,
        inner,
        id,
    ));
    Ok(Conn { id, send, open })
}

/// Moves the connection's frames until it closes, pinging it while calls
/// are open; a PING unanswered within the timeout closes it.
async fn drive<T>(
    connection: h2::client::Connection<T, Bytes>,
    mut pings: Option<h2::PingPong>,
    open: Arc<AtomicUsize>,
    (interval, timeout): (Duration, Duration),
    inner: Weak<Inner>,
    id: u64,
) where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut connection = std::pin::pin!(connection);
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            r = &mut connection => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection closed");
                }
                break;
            }
            _ = tokio::time::sleep_until(next), if pings.is_some() => {
                next += interval;
                let Some(p) = pings.as_mut() else { break };
                if open.load(Ordering::Relaxed) == 0 || p.send_ping(h2::Ping::opaque()).is_err() {
                    continue;
                }
                let pong = tokio::time::timeout(timeout, poll_fn(|cx| p.poll_pong(cx)));
                tokio::select! {
                    r = &mut connection => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "connection closed");
                        }
                        break;
                    }
                    answer = pong => if !matches!(answer, Ok(Ok(_))) {
                        tracing::debug!(?timeout, "keep-alive PING unanswered; closing the connection");
                        break;
                    }
                }
            }
        }
    }
    if let Some(inner) = inner.upgrade() {
        inner.lost(id);
    }
}

/// Where opening a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Dns,
    Tcp,
    Timeout,
    Tls,
    Handshake,
}

/// A connection that could not be opened: the stage and its cause.
#[derive(Debug)]
pub(crate) struct ConnectError {
    stage: Stage,
    source: BoxError,
}

impl ConnectError {
    fn new(stage: Stage, source: impl Into<BoxError>) -> Self {
        ConnectError {
            stage,
            source: source.into(),
        }
    }

    /// The kind of transport failure it is, before the cause is looked at.
    pub(crate) fn kind(&self) -> TransportErrorKind {
        match self.stage {
            Stage::Dns => TransportErrorKind::Dns,
            Stage::Timeout => TransportErrorKind::ConnectTimeout,
            Stage::Tls => TransportErrorKind::Tls,
            Stage::Tcp | Stage::Handshake => TransportErrorKind::Other,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.stage {
            Stage::Dns => "dns error",
            Stage::Tcp => "tcp connect error",
            Stage::Timeout => "connect timeout",
            Stage::Tls => "tls handshake",
            Stage::Handshake => "http/2 handshake",
        })
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// The status a call fails with when its connection cannot be opened: the
/// error is its source, for [`diagnose`](super::diagnose).
fn unavailable(error: Arc<ConnectError>) -> BoxError {
    let mut status = tonic::Status::unavailable(error.to_string());
    status.set_source(error);
    Box::new(status)
}

impl tower::Service<Request<tonic::body::Body>> for Channel {
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match &mut self.0 {
            // Every call opens its own stream; h2 queues streams past the
            // server's concurrency limit.
            Kind::Direct(_) => Poll::Ready(Ok(())),
            Kind::Tonic(c) => tower::Service::poll_ready(c, cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        match &mut self.0 {
            Kind::Direct(inner) => Box::pin(send(Arc::clone(inner), request)),
            Kind::Tonic(c) => {
                let call = tower::Service::call(c, request);
                Box::pin(async move {
                    let response = call.await?;
                    Ok(response.map(|b| ResponseBody(BodyKind::Tonic(b))))
                })
            }
        }
    }
}

/// One call on the channel's connection, from the caller's task.
async fn send(
    inner: Arc<Inner>,
    request: Request<tonic::body::Body>,
) -> Result<Response<ResponseBody>, BoxError> {
    let target = &inner.target;
    let (mut head, body) = request.into_parts();
    let mut uri = http::uri::Parts::from(std::mem::take(&mut head.uri));
    uri.scheme = Some(target.scheme.clone());
    uri.authority = Some(target.authority.clone());
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    head.uri = Uri::from_parts(uri)?;
    match head.headers.entry(http::header::USER_AGENT) {
        http::header::Entry::Vacant(e) => {
            e.insert(target.settings.user_agent.clone());
        }
        http::header::Entry::Occupied(mut e) => {
            let mut value = e.get().as_bytes().to_vec();
            value.push(b' ');
            value.extend_from_slice(target.settings.user_agent.as_bytes());
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                e.insert(v);
            }
        }
    }

    // A connection that can take a stream; a cached one that turns out
    // closed is replaced once (nothing was sent on it).
    let mut replaced = false;
    let (conn, mut sender) = loop {
        let (conn, cached) = inner.conn().await.map_err(unavailable)?;
        let mut sender = conn.send.clone();
        match poll_fn(|cx| sender.poll_ready(cx)).await {
            Ok(()) => break (conn, sender),
            Err(e) => {
                inner.lost(conn.id);
                if cached && !replaced {
                    replaced = true;
                    continue;
                }
                return Err(e.into());
            }
        }
    };
    let end_of_stream = body.is_end_stream();
    let (mut response, stream) =
        match sender.send_request(Request::from_parts(head, ()), end_of_stream) {
            Ok(r) => r,
            Err(e) => {
                if e.is_go_away() || e.is_io() {
                    inner.lost(conn.id);
                }
                return Err(e.into());
            }
        };
    let open = OpenCall::new(&conn.open);
    let mut pump = (!end_of_stream).then(|| Pump::new(body, stream, h2::Reason::CANCEL));
    let answer = poll_fn(|cx| {
        if let Some(p) = pump.as_mut()
            && Pin::new(p).poll(cx).is_ready()
        {
            pump = None;
        }
        Pin::new(&mut response).poll(cx)
    })
    .await;
    if let Some(pump) = pump {
        // The answer came while the request was still streaming: the rest
        // goes on in its own task.
        tokio::spawn(pump);
    }
    let answer = answer?;
    Ok(answer.map(|recv| {
        ResponseBody(BodyKind::Direct {
            body: RecvBody::new(recv),
            _open: open,
        })
    }))
}

/// Counts a call open on its connection while it lives.
struct OpenCall(Arc<AtomicUsize>);

impl OpenCall {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        OpenCall(Arc::clone(open))
    }
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The body of an answer on a [`Channel`]: what a generated stub on the
/// client's [`Transport`](super::Transport) decodes.
///
/// ```
/// fn an_http_body<B: http_body::Body<Data = bytes::Bytes>>() {}
/// an_http_body::<yc_billing::transport::ResponseBody>();
/// ```
pub struct ResponseBody(BodyKind);

enum BodyKind {
    Direct { body: RecvBody, _open: OpenCall },
    Tonic(tonic::body::Body),
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.0 {
            BodyKind::Tonic(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            BodyKind::Direct { body, .. } => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            BodyKind::Tonic(b) => b.is_end_stream(),
            BodyKind::Direct { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            BodyKind::Tonic(b) => b.size_hint(),
            BodyKind::Direct { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn settings(keep_alive: Duration) -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(2),
            keep_alive_interval: keep_alive,
            keep_alive_timeout: keep_alive,
            user_agent: HeaderValue::from_static("test"),
            tls: None,
        }
    }

    fn get(uri: &str) -> Request<tonic::body::Body> {
        Request::builder()
            .method("POST")
            .uri(uri)
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .expect("request")
    }

    /// A server that reads whatever comes and never writes: it neither
    /// answers the call nor the keep-alive PING.
    async fn silent_server() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        addr
    }

    use std::net::SocketAddr;

    #[tokio::test]
    async fn an_unanswered_ping_ends_the_open_calls_and_the_connection() {
        let addr = silent_server().await;
        let uri: Uri = format!("http://{addr}").parse().unwrap();
        let mut channel = Channel::lazy(&uri, settings(Duration::from_millis(100))).unwrap();
        let started = std::time::Instant::now();
        let call = tower::Service::call(&mut channel, get("/a.B/C"));
        let answer = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .expect("the call still hung 5 s after a PING went unanswered");
        assert!(answer.is_err(), "a silent server answered");
        // One interval, then one timeout.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let Kind::Direct(inner) = &channel.0 else {
            unreachable!()
        };
        // The lost connection is forgotten: the next call opens another.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(matches!(*inner.state.lock().unwrap(), State::Idle));
    }

    #[tokio::test]
    async fn no_ping_while_no_call_is_open() {
        // A connection with no call open is left alone: an idle client
        // does not draw GOAWAY "too_many_pings" from strict servers.
        let addr = silent_server().await;
        let uri: Uri = format!("http://{addr}").parse().unwrap();
        let mut channel = Channel::lazy(&uri, settings(Duration::from_millis(50))).unwrap();
        let call = tower::Service::call(&mut channel, get("/a.B/C"));
        // Cancel the call before any PING: the stream closes, the connection stays.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), call)
                .await
                .is_err()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        let Kind::Direct(inner) = &channel.0 else {
            unreachable!()
        };
        assert!(matches!(*inner.state.lock().unwrap(), State::Ready(_)));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable_with_its_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let uri: Uri = format!("http://{addr}").parse().unwrap();
        let mut channel = Channel::lazy(&uri, settings(Duration::from_secs(30))).unwrap();
        let err = tower::Service::call(&mut channel, get("/a.B/C"))
            .await
            .unwrap_err();
        let status = err.downcast::<tonic::Status>().expect("a status");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let (kind, cause) = super::super::diagnose::classify(&status).expect("a transport error");
        assert_eq!(kind, TransportErrorKind::ConnectionRefused);
        assert!(cause.starts_with("tcp connect error: "), "{cause}");
    }
}
