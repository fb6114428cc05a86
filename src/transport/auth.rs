//! The `authorization: Bearer <IAM token>` header.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::HeaderValue;
use tower::{Layer, Service};

use super::BoxError;
use crate::Error;

/// Where [`AuthLayer`] gets the value of the `authorization` header.
pub trait AuthorizationSource: Send + Sync + 'static {
    /// The full header value, `Bearer <token>`, marked sensitive.
    fn authorization(&self) -> BoxFuture<'_, Result<HeaderValue, Error>>;

    /// The header value when it is at hand without waiting (a fixed token, or
    /// a cached one that needs no refresh yet): lets [`AuthLayer`] skip the
    /// boxed future on the hot path. `None` (the default) means "ask
    /// [`authorization`](Self::authorization)".
    fn ready_authorization(&self) -> Option<HeaderValue> {
        None
    }

    /// Called after the server rejected the current token (UNAUTHENTICATED),
    /// so the next [`authorization`](Self::authorization) fetches a new one.
    fn invalidate(&self) {}
}

/// A fixed IAM token, for tests and for callers that manage tokens themselves.
#[derive(Clone)]
pub struct StaticToken {
    value: HeaderValue,
}

impl StaticToken {
    /// Wraps a token; fails if it cannot be sent as a header.
    pub fn new(token: &str) -> Result<Self, Error> {
        let mut value = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
            Error::config("iam_token", "contains characters not allowed in a header")
        })?;
        value.set_sensitive(true);
        Ok(StaticToken { value })
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

impl AuthorizationSource for StaticToken {
    fn authorization(&self) -> BoxFuture<'_, Result<HeaderValue, Error>> {
        let value = self.value.clone();
        Box::pin(async move { Ok(value) })
    }

    fn ready_authorization(&self) -> Option<HeaderValue> {
        Some(self.value.clone())
    }
}

impl AuthorizationSource for crate::auth::TokenCache {
    fn authorization(&self) -> BoxFuture<'_, Result<HeaderValue, Error>> {
        Box::pin(self.authorization_value())
    }

    fn ready_authorization(&self) -> Option<HeaderValue> {
        self.fresh_authorization_value()
    }

    fn invalidate(&self) {
        crate::auth::TokenCache::invalidate(self);
    }
}

/// Whether a gRPC method needs the `authorization` header, from the method
/// table ([`MethodInfo::needs_authorization`](crate::proto::MethodInfo::needs_authorization)):
/// every method but `IamTokenService.Create` (which turns a credential in the
/// request body into a token) and the `ApiEndpointService` (endpoint
/// discovery). `IamTokenService.CreateForServiceAccount` and `Revoke` act for
/// the caller and carry its token; so does a path not in the schema.
///
/// ```
/// use yc_billing::transport::needs_authorization;
/// assert!(needs_authorization("/yandex.cloud.billing.v1.CustomerService/List"));
/// assert!(!needs_authorization("/yandex.cloud.iam.v1.IamTokenService/Create"));
/// assert!(needs_authorization("/yandex.cloud.iam.v1.IamTokenService/Revoke"));
/// assert!(!needs_authorization("/yandex.cloud.endpoint.ApiEndpointService/List"));
/// ```
pub fn needs_authorization(path: &str) -> bool {
    crate::proto::method(path).is_none_or(|m| m.needs_authorization)
}

/// Adds `authorization: Bearer <token>` to every request that needs it.
#[derive(Clone)]
pub struct AuthLayer {
    source: Arc<dyn AuthorizationSource>,
}

impl AuthLayer {
    /// A layer taking tokens from `source`.
    pub fn new(source: impl AuthorizationSource) -> Self {
        AuthLayer {
            source: Arc::new(source),
        }
    }

    /// A layer sharing an existing source.
    pub fn from_arc(source: Arc<dyn AuthorizationSource>) -> Self {
        AuthLayer { source }
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthLayer")
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            source: self.source.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    source: Arc<dyn AuthorizationSource>,
}

impl<S> AuthService<S> {
    /// The source of tokens.
    pub fn source(&self) -> &Arc<dyn AuthorizationSource> {
        &self.source
    }
}

impl<S: fmt::Debug> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = AuthFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if !needs_authorization(req.uri().path()) {
            return AuthFuture::ready(self.inner.call(req));
        }
        // Hot path: the value is at hand, so the ready inner service is called
        // right away, with no boxing and no clone of it.
        if let Some(value) = self.source.ready_authorization() {
            req.headers_mut().insert(http::header::AUTHORIZATION, value);
            return AuthFuture::ready(self.inner.call(req));
        }
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        AuthFuture::waiting(Box::pin(async move {
            let value = source.authorization().await.map_err(BoxError::from)?;
            req.headers_mut().insert(http::header::AUTHORIZATION, value);
            inner.call(req).await.map_err(Into::into)
        }))
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AuthService`]: the inner service's future
    /// when the header was at hand, a boxed one that first waits for the
    /// token otherwise.
    pub struct AuthFuture<F, R> {
        #[pin]
        state: AuthState<F, R>,
    }
}

pin_project_lite::pin_project! {
    #[project = AuthStateProj]
    enum AuthState<F, R> {
        Ready { #[pin] future: F },
        Waiting { future: BoxFuture<'static, Result<R, BoxError>> },
    }
}

impl<F, R> AuthFuture<F, R> {
    fn ready(future: F) -> Self {
        AuthFuture {
            state: AuthState::Ready { future },
        }
    }

    fn waiting(future: BoxFuture<'static, Result<R, BoxError>>) -> Self {
        AuthFuture {
            state: AuthState::Waiting { future },
        }
    }
}

impl<F, R> fmt::Debug for AuthFuture<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthFuture")
    }
}

impl<F, R, E> Future for AuthFuture<F, R>
where
    F: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Result<R, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AuthStateProj::Ready { future } => future.poll(cx).map_err(Into::into),
            AuthStateProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    /// A source that has no value at hand: every call takes the boxed path.
    struct Slow {
        value: HeaderValue,
        asked: AtomicUsize,
    }

    impl AuthorizationSource for Slow {
        fn authorization(&self) -> BoxFuture<'_, Result<HeaderValue, Error>> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let value = self.value.clone();
            Box::pin(async move { Ok(value) })
        }
    }

    /// The inner service: answers with the `authorization` header it got.
    fn echo() -> impl Service<
        http::Request<()>,
        Response = Option<HeaderValue>,
        Error = BoxError,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|req: http::Request<()>| async move {
            Ok::<_, BoxError>(req.headers().get(http::header::AUTHORIZATION).cloned())
        })
    }

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(path)
            .body(())
            .expect("request")
    }

    #[tokio::test]
    async fn ready_and_waiting_sources_put_the_same_header() {
        const PATH: &str = "/yandex.cloud.billing.v1.CustomerService/List";
        let fixed = AuthLayer::new(StaticToken::new("t1.fixed").expect("token")).layer(echo());
        let got = fixed.oneshot(request(PATH)).await.expect("call");
        assert_eq!(got.expect("header").to_str().ok(), Some("Bearer t1.fixed"));

        let slow = Arc::new(Slow {
            value: HeaderValue::from_static("Bearer t1.slow"),
            asked: AtomicUsize::new(0),
        });
        let layer = AuthLayer::from_arc(slow.clone());
        let got = layer
            .layer(echo())
            .oneshot(request(PATH))
            .await
            .expect("call");
        assert_eq!(got.expect("header").to_str().ok(), Some("Bearer t1.slow"));
        assert_eq!(slow.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn token_service_calls_get_no_header_and_do_not_ask() {
        let slow = Arc::new(Slow {
            value: HeaderValue::from_static("Bearer t1.slow"),
            asked: AtomicUsize::new(0),
        });
        let svc = AuthLayer::from_arc(slow.clone()).layer(echo());
        let got = svc
            .oneshot(request("/yandex.cloud.iam.v1.IamTokenService/Create"))
            .await
            .expect("call");
        assert!(got.is_none());
        assert_eq!(slow.asked.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_failing_source_fails_the_call_with_the_auth_error() {
        struct Failing;
        impl AuthorizationSource for Failing {
            fn authorization(&self) -> BoxFuture<'_, Result<HeaderValue, Error>> {
                Box::pin(async {
                    Err(Error::Auth(crate::AuthError::new(
                        crate::CredentialSource::Custom,
                        "no token today",
                    )))
                })
            }
        }
        let svc = AuthLayer::new(Failing).layer(echo());
        let err = svc
            .oneshot(request("/yandex.cloud.billing.v1.CustomerService/List"))
            .await
            .expect_err("must fail");
        let err = err.downcast::<Error>().expect("the crate's error");
        assert!(matches!(*err, Error::Auth(_)), "{err}");
    }
}
