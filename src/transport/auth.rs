//! The `authorization: Bearer <IAM token>` header.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::BoxError;
use crate::Error;
use crate::auth::TokenCache;
use crate::error::AuthError;

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

/// Adds `authorization: Bearer <token>` to every request that needs it,
/// taking the token from a [`TokenCache`].
///
/// ```
/// use yc_billing::auth::{Credentials, IamExchange};
/// use yc_billing::region::Region;
/// use yc_billing::transport::AuthLayer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let cache = Credentials::iam_token("t1.example").into_cache(IamExchange::new(channel, Region::Ru));
/// let layer = AuthLayer::new(cache);
/// # let _ = layer; }
/// ```
#[derive(Clone)]
pub struct AuthLayer {
    cache: Option<TokenCache>,
}

impl AuthLayer {
    /// A layer taking tokens from `cache` (clones share the token).
    pub fn new(cache: TokenCache) -> Self {
        AuthLayer { cache: Some(cache) }
    }

    /// A layer of a client without credentials: every call that needs a
    /// token fails with [`AuthError::no_credentials`].
    pub(crate) fn without_credentials() -> Self {
        AuthLayer { cache: None }
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
            cache: self.cache.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    cache: Option<TokenCache>,
}

impl<S> AuthService<S> {
    /// The cache the tokens come from (`None` for a client without credentials).
    pub fn token_cache(&self) -> Option<&TokenCache> {
        self.cache.as_ref()
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
        if let Some(value) = self.cache.as_ref().and_then(TokenCache::ready_header) {
            req.headers_mut().insert(http::header::AUTHORIZATION, value);
            return AuthFuture::ready(self.inner.call(req));
        }
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cache = self.cache.clone();
        AuthFuture::waiting(Box::pin(async move {
            let Some(cache) = cache else {
                let error = Error::Auth(AuthError::no_credentials(Vec::new()));
                return Err(BoxError::from(error));
            };
            let value = cache.header().await.map_err(BoxError::from)?;
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, SystemTime};
    use tower::ServiceExt;

    use crate::auth::{AccessToken, SystemClock, TokenSource};
    use crate::error::CredentialSource;
    use http::HeaderValue;

    /// A source that counts its fetches (or fails when `token` is `None`).
    #[derive(Debug)]
    struct Counting {
        token: Option<&'static str>,
        asked: AtomicUsize,
    }

    impl TokenSource for Counting {
        fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let result = match self.token {
                Some(t) => Ok(AccessToken::new(
                    t,
                    SystemTime::now() + Duration::from_secs(3600),
                )),
                None => Err(AuthError::new(CredentialSource::Custom, "no token today")),
            };
            Box::pin(async move { result })
        }

        fn kind(&self) -> CredentialSource {
            CredentialSource::Custom
        }
    }

    fn counting(token: Option<&'static str>) -> (Arc<Counting>, AuthLayer) {
        let source = Arc::new(Counting {
            token,
            asked: AtomicUsize::new(0),
        });
        let cache = TokenCache::new(source.clone(), Arc::new(SystemClock));
        (source, AuthLayer::new(cache))
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

    const PATH: &str = crate::proto::paths::billing::v1::customer_service::LIST;

    #[tokio::test]
    async fn waiting_and_ready_paths_put_the_same_header() {
        let (source, layer) = counting(Some("t1.fixed"));
        // First call: nothing cached, the boxed path fetches.
        let got = layer
            .layer(echo())
            .oneshot(request(PATH))
            .await
            .expect("call");
        assert_eq!(got.expect("header").to_str().ok(), Some("Bearer t1.fixed"));
        // Second call: the cached value is at hand.
        let svc = layer.layer(echo());
        assert!(
            svc.token_cache()
                .and_then(TokenCache::ready_header)
                .is_some()
        );
        let got = svc.oneshot(request(PATH)).await.expect("call");
        assert_eq!(got.expect("header").to_str().ok(), Some("Bearer t1.fixed"));
        assert_eq!(source.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn token_service_calls_get_no_header_and_do_not_ask() {
        let (source, layer) = counting(Some("t1.slow"));
        let got = layer
            .layer(echo())
            .oneshot(request(
                crate::proto::paths::iam::v1::iam_token_service::CREATE,
            ))
            .await
            .expect("call");
        assert!(got.is_none());
        assert_eq!(source.asked.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_failing_source_fails_the_call_with_the_auth_error() {
        for layer in [counting(None).1, AuthLayer::without_credentials()] {
            let err = layer
                .layer(echo())
                .oneshot(request(PATH))
                .await
                .expect_err("must fail");
            let err = err.downcast::<Error>().expect("the crate's error");
            assert!(matches!(*err, Error::Auth(_)), "{err}");
        }
    }
}
