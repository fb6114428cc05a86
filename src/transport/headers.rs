//! Request ids, trace ids and idempotency keys.

use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue};
use tower::{Layer, Service};

/// Request header: a fresh id per attempt.
pub const X_CLIENT_REQUEST_ID: &str = "x-client-request-id";
/// Request header: one id per logical call, the same across retries.
pub const X_CLIENT_TRACE_ID: &str = "x-client-trace-id";
/// Request header: makes a mutating call safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header: the server's id of the request.
pub const X_REQUEST_ID: &str = "x-request-id";
/// Response header: the server's trace id.
pub const X_SERVER_TRACE_ID: &str = "x-server-trace-id";
/// Response header: suggested operation polling interval, in seconds.
pub const X_OPERATION_POLL_INTERVAL: &str = "x-operation-poll-interval";

/// The names above as `HeaderName`s: a `&str` name is parsed on every use.
pub(crate) mod names {
    use super::*;
    pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static(X_CLIENT_REQUEST_ID);
    pub(crate) const CLIENT_TRACE_ID: HeaderName = HeaderName::from_static(X_CLIENT_TRACE_ID);
    pub(crate) const IDEMPOTENCY: HeaderName = HeaderName::from_static(IDEMPOTENCY_KEY);
    #[cfg(feature = "emulator")]
    pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static(X_REQUEST_ID);
    #[cfg(feature = "emulator")]
    pub(crate) const SERVER_TRACE_ID: HeaderName = HeaderName::from_static(X_SERVER_TRACE_ID);
    #[cfg(feature = "emulator")]
    pub(crate) const OPERATION_POLL_INTERVAL: HeaderName =
        HeaderName::from_static(X_OPERATION_POLL_INTERVAL);
}

/// Whether the gRPC method at `path` changes state and so gets an
/// `idempotency-key`, from the method table
/// ([`MethodInfo::mutating`](crate::proto::MethodInfo::mutating)): it starts
/// an operation (declared by its `(yandex.cloud.api.operation)` option).
///
/// ```
/// use yc_billing::transport::is_mutating;
/// assert!(is_mutating("/yandex.cloud.billing.v1.CustomerService/Invite"));
/// assert!(!is_mutating("/yandex.cloud.billing.v1.CustomerService/List"));
/// ```
pub fn is_mutating(path: &str) -> bool {
    crate::proto::method(path).is_some_and(|m| m.mutating)
}

/// A random (version 4) UUID from the thread-local generator: no system call
/// per id, as `Uuid::new_v4` makes without uuid's `fast-rng` feature.
pub(crate) fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// A UUID as a header value, marked never-indexed: each value is sent once,
/// and entering it into the HPACK table would only evict the headers that do
/// repeat (on both ends of the connection).
pub(crate) fn uuid_header(id: uuid::Uuid) -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = id.hyphenated().encode_lower(&mut buf);
    let mut value = HeaderValue::from_str(text).expect("a UUID is a valid header");
    value.set_sensitive(true);
    value
}

/// A fresh random UUID as a never-indexed header value.
fn fresh_id() -> HeaderValue {
    uuid_header(random_uuid())
}

/// Adds `x-client-request-id`, `x-client-trace-id` and, on mutating calls,
/// `idempotency-key` to requests that do not carry them yet.
#[derive(Debug, Clone, Default)]
pub struct HeadersLayer {
    _priv: (),
}

impl HeadersLayer {
    /// A layer with the default behaviour.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for HeadersLayer {
    type Service = HeadersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeadersService { inner }
    }
}

/// The service made by [`HeadersLayer`].
#[derive(Debug, Clone)]
pub struct HeadersService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for HeadersService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let mutating = is_mutating(req.uri().path());
        let headers = req.headers_mut();
        if !headers.contains_key(names::CLIENT_REQUEST_ID) {
            headers.insert(names::CLIENT_REQUEST_ID, fresh_id());
        }
        if !headers.contains_key(names::CLIENT_TRACE_ID) {
            headers.insert(names::CLIENT_TRACE_ID, fresh_id());
        }
        if mutating && !headers.contains_key(names::IDEMPOTENCY) {
            headers.insert(names::IDEMPOTENCY, fresh_id());
        }
        self.inner.call(req)
    }
}
