//! Tokens of another service account through `IamTokenService.CreateForServiceAccount`.

use std::fmt;

use futures::future::{BoxFuture, FutureExt};

use super::cache::TokenCache;
use super::exchange::IamExchange;
use super::token::{AccessToken, TokenSource};
use crate::error::{AuthError, CredentialSource, Error};

/// Asks for a token of `service_account_id` with the base credentials' token
/// at every fetch; the base token is kept in its own cache.
pub(crate) struct ImpersonationSource {
    pub(crate) base: TokenCache,
    pub(crate) service_account_id: String,
    pub(crate) iam: IamExchange,
}

impl ImpersonationSource {
    async fn base_token(&self) -> Result<AccessToken, AuthError> {
        self.base.token().await.map_err(|e| match e {
            // The base source's own error: it says which source failed and why.
            Error::Auth(auth) => auth,
            other => AuthError::new(
                CredentialSource::Impersonation,
                format!("the base credentials gave no token: {other}"),
            ),
        })
    }
}

impl TokenSource for ImpersonationSource {
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        async move {
            let bearer = self.base_token().await?;
            match self
                .iam
                .exchange_for_service_account(&bearer, &self.service_account_id)
                .await
            {
                // The base token was revoked or expired early: fetch it anew, once.
                Err(e)
                    if e.rpc()
                        .is_some_and(|r| r.code() == tonic::Code::Unauthenticated) =>
                {
                    self.base.invalidate();
                    let bearer = self.base_token().await?;
                    self.iam
                        .exchange_for_service_account(&bearer, &self.service_account_id)
                        .await
                }
                other => other,
            }
        }
        .boxed()
    }

    fn kind(&self) -> CredentialSource {
        CredentialSource::Impersonation
    }
}

impl fmt::Debug for ImpersonationSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpersonationSource")
            .field("service_account_id", &self.service_account_id)
            .field("base", &self.base.source_kind())
            .field("iam", &self.iam)
            .finish()
    }
}
