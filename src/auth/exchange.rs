//! [`IamExchange`]: `IamTokenService.Create` for OAuth tokens and service-account JWTs.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::transport::Channel;
use tokio::time::Instant;

use super::token::AccessToken;
use crate::error::{AuthError, CredentialSource, RpcError};
use crate::proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateIamTokenRequest, CreateIamTokenResponse,
    create_iam_token_request::Identity, iam_token_service_client::IamTokenServiceClient,
};
use crate::region::Region;
use crate::retry::{Bucket, Cost, RetryBudget, RetryPolicy, Schedule, TokioTimer};
use crate::time::{Clock, SystemClock};

/// The path of `IamTokenService.Create`, the one IAM method sent without
/// an `authorization` header.
pub(crate) const CREATE_METHOD: &str = crate::proto::paths::iam::v1::iam_token_service::CREATE;
/// The path of `IamTokenService.CreateForServiceAccount` (impersonation).
const CREATE_FOR_SA_METHOD: &str =
    crate::proto::paths::iam::v1::iam_token_service::CREATE_FOR_SERVICE_ACCOUNT;

/// Access to `yandex.cloud.iam.v1.IamTokenService`, which turns OAuth tokens
/// and service-account JWTs into IAM tokens.
///
/// The channel must lead to the IAM endpoint of the region
/// ([`Region::endpoint`]`(Service::Iam)`) and must not add an `authorization`
/// header. The user agent, TLS and connect timeouts are the channel's
/// (`tonic::transport::Endpoint`) business.
///
/// Each exchange retries `UNAVAILABLE` and `RESOURCE_EXHAUSTED` (and
/// connection failures) by its [`RetryPolicy`] (default
/// [`RetryPolicy::standard`]), all attempts within the
/// [`timeout`](Self::timeout); the exchanges of a [`Client`](crate::Client)
/// draw on the client's [`RetryBudget`].
///
/// ```
/// use yc_billing::auth::IamExchange;
/// use yc_billing::region::Region;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let iam = IamExchange::new(channel, Region::Ru);
/// assert_eq!(iam.region(), Region::Ru);
/// # }
/// ```
#[derive(Clone)]
pub struct IamExchange {
    client: IamTokenServiceClient<Channel>,
    region: Region,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    retry: RetryPolicy,
    budget: Arc<Bucket>,
}

impl IamExchange {
    /// The default deadline of one `IamTokenService.Create` call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Exchanges through `channel` (to the IAM endpoint of `region`; a
    /// [`Channel`] or a tonic channel), using the system clock.
    pub fn new(channel: impl Into<Channel>, region: Region) -> Self {
        IamExchange {
            client: IamTokenServiceClient::new(channel.into()),
            region,
            clock: Arc::new(SystemClock),
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::standard(),
            budget: Arc::new(RetryBudget::standard().bucket()),
        }
    }

    /// Uses `clock` for JWT timestamps and for the start of a static token's assumed life.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the deadline of each exchange, retries included (default
    /// [`Self::DEFAULT_TIMEOUT`]; more than
    /// [`MAX_TIMEOUT`](crate::client::MAX_TIMEOUT) fails each exchange).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy of each exchange (default [`RetryPolicy::standard`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Draws retries from `budget` (the client's) instead of a budget of its own.
    pub(crate) fn shared_budget(mut self, budget: Arc<Bucket>) -> Self {
        self.budget = budget;
        self
    }

    /// The retry budget in use, for the sources built on this exchange.
    pub(crate) fn budget(&self) -> Arc<Bucket> {
        Arc::clone(&self.budget)
    }

    /// The region, which fixes the JWT audience.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The clock in use.
    pub(crate) fn shared_clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// `IamTokenService.Create{yandex_passport_oauth_token}`.
    pub async fn exchange_oauth(&self, oauth_token: &str) -> Result<AccessToken, AuthError> {
        self.create(
            CredentialSource::OAuth,
            Identity::YandexPassportOauthToken(oauth_token.to_owned()),
        )
        .await
    }

    /// `IamTokenService.Create{jwt}` with a signed service-account JWT
    /// (see [`ServiceAccountKey::create_jwt`](super::ServiceAccountKey::create_jwt)).
    pub async fn exchange_jwt(&self, jwt: &str) -> Result<AccessToken, AuthError> {
        self.create(
            CredentialSource::ServiceAccountKey,
            Identity::Jwt(jwt.to_owned()),
        )
        .await
    }

    /// `IamTokenService.CreateForServiceAccount{service_account_id}`,
    /// authorized by `bearer` (a token of a subject that holds
    /// `iam.serviceAccounts.tokenCreator` on that service account): an IAM
    /// token of the service account. A refusal is an
    /// [`AuthErrorKind::Exchange`](crate::error::AuthErrorKind::Exchange)
    /// error of [`CredentialSource::Impersonation`] keeping the `RpcError`
    /// (`PERMISSION_DENIED`, `NOT_FOUND`, …).
    pub async fn exchange_for_service_account(
        &self,
        bearer: &AccessToken,
        service_account_id: &str,
    ) -> Result<AccessToken, AuthError> {
        let kind = CredentialSource::Impersonation;
        let authorization = bearer.authorization_value().map_err(|_| {
            AuthError::new(
                kind,
                "the base credentials' token cannot be sent in a header",
            )
        })?;
        let authorization: tonic::metadata::AsciiMetadataValue = authorization
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                AuthError::new(
                    kind,
                    "the base credentials' token cannot be sent in a header",
                )
            })?;
        let what = format!("a token for service account {service_account_id}");
        self.run(kind, CREATE_FOR_SA_METHOD, &what, |timeout| {
            let mut request = tonic::Request::new(CreateIamTokenForServiceAccountRequest {
                service_account_id: service_account_id.to_owned(),
            });
            request.set_timeout(timeout);
            let mut value = authorization.clone();
            value.set_sensitive(true);
            request.metadata_mut().insert("authorization", value);
            let mut client = self.client.clone();
            async move { client.create_for_service_account(request).await }
        })
        .await
    }

    async fn create(
        &self,
        kind: CredentialSource,
        identity: Identity,
    ) -> Result<AccessToken, AuthError> {
        let what = match kind {
            CredentialSource::OAuth => "the OAuth token",
            _ => "the service-account JWT",
        };
        self.run(kind, CREATE_METHOD, what, |timeout| {
            let mut request = tonic::Request::new(CreateIamTokenRequest {
                identity: Some(identity.clone()),
            });
            request.set_timeout(timeout);
            let mut client = self.client.clone();
            async move { client.create(request).await }
        })
        .await
    }

    /// One exchange through the retry loop: `attempt` sends one call with
    /// the time left; `what` names what is exchanged (never the secret).
    async fn run<F, Fut>(
        &self,
        kind: CredentialSource,
        method: &'static str,
        what: &str,
        attempt: F,
    ) -> Result<AccessToken, AuthError>
    where
        F: Fn(Duration) -> Fut,
        Fut: std::future::Future<
                Output = Result<tonic::Response<CreateIamTokenResponse>, tonic::Status>,
            >,
    {
        let name = method.rsplit('/').next().unwrap_or(method);
        if let Err(e) = crate::client::check_max_timeout("IamExchange timeout", self.timeout) {
            return Err(AuthError::new(kind, e.to_string()));
        }
        let deadline = Instant::now() + self.timeout;
        let schedule = Schedule {
            max_attempts: self.retry.attempts(),
            deadline: Some(deadline),
            budget: Some(&self.budget),
            timer: &TokioTimer,
        };
        let attempt = |_| attempt(deadline.saturating_duration_since(Instant::now()));
        let classify = |status: &tonic::Status, _| {
            let cost = match crate::transport::diagnose::classify(status) {
                Some(_) => Cost::Transport,
                None => Cost::Rpc,
            };
            self.retry.verdict_for_code(status.code(), cost)
        };
        let response = crate::retry::run::run(schedule, attempt, classify)
            .await
            .map_err(|failure| {
                AuthError::new(kind, format!("exchanging {what} for an IAM token failed"))
                    .with_rpc(RpcError::from_status(method, &failure.error))
            })?;
        let response = response.into_inner();
        if response.iam_token.is_empty() {
            return Err(AuthError::new(
                kind,
                format!("IamTokenService.{name} answered without an IAM token"),
            ));
        }
        let expires_at = response
            .expires_at
            .ok_or_else(|| {
                AuthError::new(
                    kind,
                    format!("IamTokenService.{name} answered without expires_at"),
                )
            })
            .and_then(|ts| {
                SystemTime::try_from(ts).map_err(|_| {
                    AuthError::new(
                        kind,
                        format!("IamTokenService.{name} answered an invalid expires_at"),
                    )
                })
            })?;
        tracing::debug!(source = %kind, region = %self.region, ?expires_at, "IAM token exchanged");
        Ok(AccessToken::new(response.iam_token, expires_at))
    }
}

impl fmt::Debug for IamExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamExchange")
            .field("region", &self.region)
            .field("clock", &self.clock)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}
