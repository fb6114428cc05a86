//! The access token and the trait of its sources.

use std::fmt;
use std::time::SystemTime;

use futures::future::BoxFuture;

use crate::error::{AuthError, CredentialSource};

/// An IAM token together with the moment it stops being valid.
///
/// The secret never appears in `Debug` output and there is no `Display`:
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use yc_billing::auth::AccessToken;
///
/// let token = AccessToken::new("t1.secret", SystemTime::UNIX_EPOCH + Duration::from_secs(60));
/// let shown = format!("{token:?}");
/// assert!(shown.starts_with(r#"AccessToken { secret: "<redacted>", expires_at: "#));
/// assert!(!shown.contains("t1.secret"));
/// assert_eq!(token.secret(), "t1.secret");
/// assert!(token.authorization_value().unwrap().is_sensitive());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    secret: String,
    expires_at: SystemTime,
}

impl AccessToken {
    /// A token `secret` that expires at `expires_at`.
    pub fn new(secret: impl Into<String>, expires_at: SystemTime) -> Self {
        AccessToken {
            secret: secret.into(),
            expires_at,
        }
    }

    /// The token itself. Handle with care: it grants access to the cloud.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When the token stops being accepted.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Whether the token has expired at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires_at <= now
    }

    /// The `authorization` header value, `Bearer <token>`, marked sensitive so
    /// that HTTP/2 HPACK never indexes it and `Debug` of the header hides it.
    ///
    /// Fails only when the token holds characters that an HTTP header cannot
    /// carry (tokens handed out by [`TokenCache`](super::TokenCache) have been
    /// checked already).
    pub fn authorization_value(
        &self,
    ) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
        let mut value = http::HeaderValue::try_from(format!("Bearer {}", self.secret))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Something that can produce a fresh IAM token: the one trait of
/// credentials, and the extension point for sources this crate does not
/// know about (hand one to [`Credentials::custom`](super::Credentials::custom)).
///
/// Every built-in source implements it too. Implementations do the exchange
/// every time [`fetch`](Self::fetch) is called; caching, early refresh,
/// single-flight, backoff and the `authorization` header are the job of
/// [`TokenCache`](super::TokenCache), which the client's
/// [`AuthLayer`](crate::transport::AuthLayer) reads. A source that talks to
/// a remote service may retry inside `fetch` (the built-in ones do, on
/// [`crate::retry`]'s engine).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use futures::future::{BoxFuture, FutureExt};
/// use yc_billing::auth::{AccessToken, TokenSource};
/// use yc_billing::{AuthError, CredentialSource};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// impl TokenSource for FromVault {
///     fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
///         async move {
///             // ... ask the vault ...
///             Ok(AccessToken::new("t1.from-vault", SystemTime::now() + Duration::from_secs(3600)))
///         }
///         .boxed()
///     }
///
///     fn kind(&self) -> CredentialSource {
///         CredentialSource::Custom
///     }
/// }
/// ```
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// Obtains a new token. Errors must not contain the secret.
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>>;

    /// Which kind of source this is, for error reports.
    fn kind(&self) -> CredentialSource;
}
