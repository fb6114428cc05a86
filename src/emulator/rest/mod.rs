//! The REST gateway: the emulator's services over HTTP/1.1 and HTTP/2 with
//! JSON, as the `google.api.http` rules of the protos map them.
//!
//! No handler per RPC: [`routes::table`] reads every served row's rule from
//! the descriptors; a request is transcoded into the gRPC request message
//! (a `DynamicMessage`), framed as a gRPC body and sent to the emulator's own
//! in-process tower service (the stack the gRPC port serves: request ids,
//! counters, faults, authentication, validation, permissions, idempotency),
//! and the gRPC answer (message or status with its `google.rpc` details) is
//! written back as REST JSON, or as a REST error with the HTTP status of the
//! gRPC code. A new service of the emulator gets its REST routes for free.

mod routes;
mod transcode;

pub use routes::rest_binding;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use prost::bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::Shared;
use super::Transport;
use super::builder::{
    DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, EmulatorError, MAX_CONCURRENT_STREAMS,
    MAX_REQUEST_BYTES,
};
use super::conn::ConnInfo;
use super::layer::EmuService;
use super::text::echo;
use crate::transport::{
    IDEMPOTENCY_KEY, X_CLIENT_REQUEST_ID, X_CLIENT_TRACE_ID, X_OPERATION_POLL_INTERVAL,
    X_REQUEST_ID, X_SERVER_TRACE_ID,
};
use routes::Route;

/// Request headers forwarded to the services as gRPC metadata (HTTP header
/// names are case-insensitive: `Authorization`, `Idempotency-Key`, …).
const FORWARDED: [&str; 4] = [
    "authorization",
    IDEMPOTENCY_KEY,
    X_CLIENT_REQUEST_ID,
    X_CLIENT_TRACE_ID,
];
/// Response headers of the services passed back to the REST client.
const RETURNED: [&str; 3] = [X_REQUEST_ID, X_SERVER_TRACE_ID, X_OPERATION_POLL_INTERVAL];

/// The routes and the in-process service they call.
pub(crate) struct Gateway {
    routes: Arc<Vec<Route>>,
    service: EmuService,
}

type RestResponse = Response<Full<Bytes>>;

fn json_response(status: StatusCode, value: &serde_json::Value) -> RestResponse {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_response(status: &tonic::Status) -> RestResponse {
    json_response(
        transcode::http_status(status.code()),
        &transcode::error_body(status),
    )
}

impl Gateway {
    pub fn new(shared: Arc<Shared>) -> Self {
        // The table of the served methods, built once per process: every
        // emulator serves the same ones (it was a tenth of a start).
        static TABLE: std::sync::OnceLock<(Vec<String>, Arc<Vec<Route>>)> =
            std::sync::OnceLock::new();
        let served = shared.calls.methods();
        let (cached, table) =
            TABLE.get_or_init(|| (served.clone(), Arc::new(routes::table(&served))));
        let routes = if *cached == served {
            table.clone()
        } else {
            Arc::new(routes::table(&served))
        };
        Self {
            routes,
            service: super::services::stack(shared),
        }
    }

    /// Answers one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>, peer: Option<SocketAddr>) -> RestResponse
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        let mut allowed = Vec::new();
        let mut found = None;
        for route in self.routes.iter() {
            if let Some(bound) = route.template.matches(path) {
                if route.method == parts.method {
                    found = Some((route, bound));
                    break;
                }
                allowed.push(route.method.clone());
            }
        }
        let Some((route, bound)) = found else {
            let shown = echo(path);
            if allowed.is_empty() {
                return error_response(&tonic::Status::not_found(format!(
                    "no REST method at {shown}"
                )));
            }
            let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            let mut response = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &transcode::error_body(&tonic::Status::unimplemented(format!(
                    "{} is not allowed at {shown}; allowed: {}",
                    parts.method,
                    allow.join(", ")
                ))),
            );
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                response.headers_mut().insert(http::header::ALLOW, v);
            }
            return response;
        };
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                let status = if e.is::<http_body_util::LengthLimitError>() {
                    tonic::Status::resource_exhausted(format!(
                        "request body is too large: the limit is {MAX_REQUEST_BYTES} bytes (4 MiB)"
                    ))
                } else {
                    tonic::Status::cancelled(format!("the request body could not be read: {e}"))
                };
                let mut response = error_response(&status);
                if status.code() == tonic::Code::ResourceExhausted {
                    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                }
                return response;
            }
        };
        let message = match transcode::request(route, bound, parts.uri.query(), &body) {
            Ok(m) => m,
            Err(e) => return error_response(&transcode::bad_request_status(&e)),
        };
        self.call(route, &parts.headers, &message, peer).await
    }

    /// Sends the message to the in-process gRPC service and writes its answer.
    async fn call(
        &self,
        route: &Route,
        headers: &HeaderMap,
        message: &prost_reflect::DynamicMessage,
        peer: Option<SocketAddr>,
    ) -> RestResponse {
        let mut grpc = Request::new(tonic::body::Body::new(Full::new(transcode::frame(message))));
        *grpc.method_mut() = Method::POST;
        *grpc.uri_mut() = http::Uri::from_static(route.rpc.path);
        let h = grpc.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        h.insert(http::header::TE, HeaderValue::from_static("trailers"));
        for name in FORWARDED {
            for value in headers.get_all(name) {
                h.append(HeaderName::from_static(name), value.clone());
            }
        }
        // REST clients name their request id `X-Request-Id`.
        if !h.contains_key(X_CLIENT_REQUEST_ID) {
            if let Some(v) = headers.get(X_REQUEST_ID) {
                h.insert(X_CLIENT_REQUEST_ID, v.clone());
            }
        }
        // The journal says which transport; the peer is the REST client's.
        grpc.extensions_mut().insert(Transport::Rest);
        if let Some(peer) = peer {
            grpc.extensions_mut().insert(ConnInfo::of_peer(peer));
        }

        let Ok(answer) = self.service.clone().oneshot(grpc).await;
        let (parts, body) = answer.into_parts();
        let (data, trailers) = match body.collect().await {
            Ok(c) => {
                let trailers = c.trailers().cloned();
                (c.to_bytes(), trailers)
            }
            Err(e) => {
                return error_response(&tonic::Status::internal(format!(
                    "the service's answer could not be read: {e}"
                )));
            }
        };
        let status = tonic::Status::from_header_map(&parts.headers)
            .or_else(|| trailers.as_ref().and_then(tonic::Status::from_header_map))
            .unwrap_or_else(|| tonic::Status::internal("the service's answer has no grpc-status"));
        let mut response = if status.code() == tonic::Code::Ok {
            match transcode::unframe(&data).and_then(|m| transcode::response_json(route, m)) {
                Ok(value) => json_response(StatusCode::OK, &value),
                Err(status) => error_response(&status),
            }
        } else {
            error_response(&status)
        };
        for name in RETURNED {
            if let Some(v) = parts.headers.get(name) {
                response.headers_mut().insert(name, v.clone());
            }
        }
        response
    }
}

/// Serves the gateway on `listener` until the stop signal; each connection
/// then finishes its running requests.
pub(crate) async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(10);
    let stopped = super::handle::stopped(stop.clone());
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            () = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(10);
                a
            }
            Err(e) => {
                tracing::warn!(error = %e, "REST port cannot accept a connection; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A peer that sends nothing is closed after the handshake timeout
        // (HTTP/1.1 then has its header-read timeout, HTTP/2 keepalive pings,
        // TLS its handshake timeout).

        let (gateway, tls, stop) = (gateway.clone(), tls.clone(), stop.clone());
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(handshake_timeout, stream.peek(&mut first)).await;
            if !matches!(peeked, Ok(Ok(1..))) {
                tracing::debug!(%peer, "REST connection closed before its first byte");
                return;
            }
            match tls {
                None => connection(stream, peer, gateway, handshake_timeout, stop).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, gateway, handshake_timeout, stop).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "REST TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "REST TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// One HTTP/1.1 or HTTP/2 connection (hyper-util's auto detection).
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    handshake_timeout: Duration,
    stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let gateway = gateway.clone();
        async move { Ok::<_, Infallible>(gateway.handle(req, Some(peer)).await) }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(DEFAULT_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(DEFAULT_KEEPALIVE_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let stopped = super::handle::stopped(stop);
    tokio::pin!(stopped);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "REST connection closed with an error");
            }
        }
        () = &mut stopped => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The address the REST port is bound to, for the handle.
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), EmulatorError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    Ok((listener, local))
}
