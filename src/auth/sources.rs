//! The small built-in sources: a static IAM token, an OAuth token, a failing placeholder.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use futures::future::{BoxFuture, FutureExt};

use super::exchange::IamExchange;
use super::token::{AccessToken, TokenSource};
use crate::error::{AuthError, CredentialSource};
use crate::time::Clock;

/// A static IAM token: never refreshed, assumed valid for
/// [`STATIC_IAM_TOKEN_LIFETIME`](super::STATIC_IAM_TOKEN_LIFETIME) from `created_at`.
pub(crate) struct StaticTokenSource {
    pub(crate) token: AccessToken,
    pub(crate) clock: Arc<dyn Clock>,
}

impl TokenSource for StaticTokenSource {
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let now = self.clock.now();
        let result = if self.token.is_expired_at(now) {
            Err(AuthError::new(
                CredentialSource::IamToken,
                "the static IAM token is past its assumed 12 h lifetime; supply a fresh one",
            ))
        } else {
            Ok(self.token.clone())
        };
        futures::future::ready(result).boxed()
    }

    fn kind(&self) -> CredentialSource {
        CredentialSource::IamToken
    }
}

impl fmt::Debug for StaticTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenSource")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Exchanges an OAuth token at every fetch.
pub(crate) struct OAuthSource {
    pub(crate) oauth_token: String,
    pub(crate) iam: IamExchange,
}

impl TokenSource for OAuthSource {
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        self.iam.exchange_oauth(&self.oauth_token).boxed()
    }

    fn kind(&self) -> CredentialSource {
        CredentialSource::OAuth
    }
}

impl fmt::Debug for OAuthSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSource")
            .field("oauth_token", &"<redacted>")
            .field("iam", &self.iam)
            .finish()
    }
}

/// A source known to be broken at construction (for example an invalid
/// `YC_METADATA_ADDR`); every fetch fails with the same error.
#[derive(Debug)]
pub(crate) struct FailingSource {
    pub(crate) error: AuthError,
}

impl TokenSource for FailingSource {
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        futures::future::ready(Err(self.error.clone())).boxed()
    }

    fn kind(&self) -> CredentialSource {
        self.error.credential_source()
    }
}

/// The end of a static token's assumed life, counted from `now`.
pub(crate) fn static_expiry(now: SystemTime) -> SystemTime {
    now.checked_add(super::STATIC_IAM_TOKEN_LIFETIME)
        .unwrap_or(now)
}
