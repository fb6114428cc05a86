//! The `authorization: Bearer <IAM token>` header.

use std::fmt;
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
}

impl AuthorizationSource for crate::auth::TokenCache {
    fn authorization(&self) -> BoxFuture<'_, Result<HeaderValue, Error>> {
        Box::pin(self.authorization_value())
    }

    fn invalidate(&self) {
        crate::auth::TokenCache::invalidate(self);
    }
}

/// Whether a gRPC method needs the `authorization` header: every method
/// but `IamTokenService` (which mints tokens) and `ApiEndpointService`.
///
/// ```
/// use yc_billing::transport::needs_authorization;
/// assert!(needs_authorization("/yandex.cloud.billing.v1.CustomerService/List"));
/// assert!(!needs_authorization("/yandex.cloud.iam.v1.IamTokenService/Create"));
/// assert!(!needs_authorization("/yandex.cloud.endpoint.ApiEndpointService/List"));
/// ```
pub fn needs_authorization(path: &str) -> bool {
    !(path.starts_with("/yandex.cloud.iam.v1.IamTokenService/")
        || path.starts_with("/yandex.cloud.endpoint.ApiEndpointService/"))
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
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        Box::pin(async move {
            if needs_authorization(req.uri().path()) {
                let value = source.authorization().await.map_err(BoxError::from)?;
                req.headers_mut().insert(http::header::AUTHORIZATION, value);
            }
            inner.call(req).await.map_err(Into::into)
        })
    }
}
