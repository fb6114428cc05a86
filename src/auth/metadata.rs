//! The VM metadata service (`GET /computeMetadata/v1/instance/service-accounts/default/token`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::token::{AccessToken, TokenSource};
use crate::error::{AuthError, CredentialSource, Error, SourceAttempt};
use crate::retry::{Backoff, Bucket, Cost, Schedule, Stopped, TokioTimer, Verdict};
use crate::time::{Clock, SystemClock};

/// The metadata service's address on Yandex Cloud VMs.
pub const DEFAULT_METADATA_ADDR: &str = "169.254.169.254";
/// The environment variable that overrides [`DEFAULT_METADATA_ADDR`] (`host` or `host:port`).
pub const METADATA_ADDR_ENV: &str = "YC_METADATA_ADDR";
/// The path of the token document.
pub const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
/// The header every request to the metadata service carries (the service
/// refuses requests without it, as a guard against forwarded requests).
pub const METADATA_FLAVOR_HEADER: &str = "metadata-flavor";
/// The value of [`METADATA_FLAVOR_HEADER`].
pub const METADATA_FLAVOR: &str = "Google";

const MAX_BODY: usize = 64 * 1024;

/// Fetches the token of the VM's service account from the metadata service.
///
/// Each fetch sends `GET http://{addr}/computeMetadata/v1/instance/service-accounts/default/token`
/// with `Metadata-Flavor: Google` and reads `{access_token, expires_in, token_type}`.
/// Connection errors, timeouts, HTTP 429 and 5xx are retried by the crate's
/// retry loop (by default 4 attempts, backoff from 100 ms doubling to at
/// most 2 s with full jitter, 2 s per attempt); other answers fail at once.
/// Built from [`Credentials`](super::Credentials) for a client, its
/// retries draw on the client's [`RetryBudget`](crate::retry::RetryBudget).
///
/// ```
/// use std::time::Duration;
/// use yc_billing::auth::MetadataTokenSource;
///
/// let source = MetadataTokenSource::new("127.0.0.1:8080")?
///     .max_attempts(2)
///     .timeout(Duration::from_millis(500));
/// assert_eq!(source.address(), "127.0.0.1:8080");
/// assert!(MetadataTokenSource::new("host/with/path").is_err());
/// # Ok::<(), yc_billing::Error>(())
/// ```
#[derive(Clone)]
pub struct MetadataTokenSource {
    authority: http::uri::Authority,
    clock: Arc<dyn Clock>,
    attempts: u32,
    backoff: Backoff,
    timeout: Duration,
    client: Client<HttpConnector, Empty<Bytes>>,
    env_chain: Option<Arc<EnvChain>>,
    budget: Option<Arc<Bucket>>,
}

/// The metadata service as the end of the environment chain.
struct EnvChain {
    /// The sources tried before it.
    tried: Vec<SourceAttempt>,
    /// Whether it has answered once.
    reached: AtomicBool,
}

#[derive(serde::Deserialize)]
struct TokenDocument {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: Option<String>,
}

enum Failure {
    /// No connection could be made.
    Unreachable(String),
    Retryable(String),
    Fatal(AuthError),
}

/// Parses `host` or `host:port` (an `http://` prefix and a trailing `/` are tolerated).
pub(crate) fn parse_addr(addr: &str) -> Result<http::uri::Authority, String> {
    let trimmed = addr.trim();
    let trimmed = trimmed.strip_prefix("http://").unwrap_or(trimmed);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err("is empty".into());
    }
    if trimmed.contains(['/', '@', '?', '#']) {
        return Err(format!("{addr:?} is not a `host` or `host:port`"));
    }
    http::uri::Authority::from_str(trimmed)
        .map_err(|e| format!("{addr:?} is not a `host` or `host:port`: {e}"))
}

impl MetadataTokenSource {
    /// A source asking the metadata service at `addr` (`host` or `host:port`).
    pub fn new(addr: &str) -> Result<Self, Error> {
        let authority =
            parse_addr(addr).map_err(|reason| Error::config("metadata address", reason))?;
        Ok(Self::with_authority(authority))
    }

    /// A source asking [`DEFAULT_METADATA_ADDR`], or `YC_METADATA_ADDR` when that is set.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var_os(METADATA_ADDR_ENV) {
            None => Ok(Self::with_authority(http::uri::Authority::from_static(
                DEFAULT_METADATA_ADDR,
            ))),
            Some(v) => {
                let v = v
                    .into_string()
                    .map_err(|_| Error::config(METADATA_ADDR_ENV, "is not valid UTF-8"))?;
                let authority =
                    parse_addr(&v).map_err(|reason| Error::config(METADATA_ADDR_ENV, reason))?;
                Ok(Self::with_authority(authority))
            }
        }
    }

    pub(crate) fn with_authority(authority: http::uri::Authority) -> Self {
        Self::with_authority_connect_timeout(authority, Duration::from_secs(2))
    }

    pub(crate) fn with_authority_connect_timeout(
        authority: http::uri::Authority,
        connect_timeout: Duration,
    ) -> Self {
        let timeout = Duration::from_secs(2);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        MetadataTokenSource {
            authority,
            clock: Arc::new(SystemClock),
            attempts: 4,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
            timeout,
            client: Client::builder(TokioExecutor::new()).build(connector),
            env_chain: None,
            budget: None,
        }
    }

    /// Makes this source the end of the environment chain: until the
    /// service has answered once, not reaching it fails at once with
    /// [`AuthError::no_credentials`] listing `tried` and then this service.
    pub(crate) fn end_of_env_chain(mut self, tried: Vec<SourceAttempt>) -> Self {
        self.env_chain = Some(Arc::new(EnvChain {
            tried,
            reached: AtomicBool::new(false),
        }));
        self
    }

    /// The `host[:port]` asked.
    pub fn address(&self) -> &str {
        self.authority.as_str()
    }

    /// Draws retries from `budget` (a client's).
    pub(crate) fn shared_budget(mut self, budget: Arc<Bucket>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Uses `clock` to turn `expires_in` into an expiry time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How many times one fetch tries before giving up (at least 1; default 4).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The backoff between attempts (default 100 ms doubling to 2 s, full jitter).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The deadline of one attempt, connecting included (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn attempt(&self) -> Result<AccessToken, Failure> {
        let kind = CredentialSource::MetadataService;
        let uri = format!("http://{}{}", self.authority, METADATA_TOKEN_PATH);
        let request = http::Request::get(uri)
            .header(METADATA_FLAVOR_HEADER, METADATA_FLAVOR)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| {
                Failure::Fatal(AuthError::new(
                    kind,
                    format!("cannot build the request: {e}"),
                ))
            })?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                let reason = format!(
                    "cannot reach the metadata service at {}: {}",
                    self.authority,
                    chain(&e)
                );
                if e.is_connect() {
                    Failure::Unreachable(reason)
                } else {
                    Failure::Retryable(reason)
                }
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    Failure::Retryable(format!("reading the metadata service's answer failed: {e}"))
                })?
                .to_bytes();
            Ok::<_, Failure>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                Failure::Retryable(format!(
                    "the metadata service at {} did not answer within {:?}",
                    self.authority, self.timeout
                ))
            })??;
        if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Retryable(format!(
                "the metadata service answered HTTP {status}"
            )));
        }
        if status == http::StatusCode::NOT_FOUND {
            return Err(Failure::Fatal(AuthError::new(
                kind,
                "the metadata service answered HTTP 404 Not Found: is a service account attached to the VM?",
            )));
        }
        if !status.is_success() {
            return Err(Failure::Fatal(AuthError::new(
                kind,
                format!("the metadata service answered HTTP {status}"),
            )));
        }
        let doc: TokenDocument = serde_json::from_slice(&body).map_err(|e| {
            Failure::Fatal(
                AuthError::new(
                    kind,
                    format!("the metadata service's answer is not a token document: {e}"),
                )
                .with_cause(e),
            )
        })?;
        if let Some(t) = doc.token_type.as_deref() {
            if !t.eq_ignore_ascii_case("bearer") {
                return Err(Failure::Fatal(AuthError::new(
                    kind,
                    format!("the metadata service answered token_type {t:?}, expected Bearer"),
                )));
            }
        }
        let expires_at = self
            .clock
            .now()
            .checked_add(Duration::from_secs(doc.expires_in))
            .ok_or_else(|| Failure::Fatal(AuthError::new(kind, "expires_in is out of range")))?;
        Ok(AccessToken::new(doc.access_token, expires_at))
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl MetadataTokenSource {
    /// One attempt; not reaching the service at the end of the environment
    /// chain, before it has ever answered, is final: no credentials found.
    async fn attempt_in_chain(&self) -> Result<AccessToken, Failure> {
        match self.attempt().await {
            Err(Failure::Unreachable(reason)) => match &self.env_chain {
                Some(env) if !env.reached.load(Ordering::Relaxed) => {
                    let mut tried = env.tried.clone();
                    tried.push(SourceAttempt::new(
                        CredentialSource::MetadataService,
                        self.authority.as_str(),
                        reason,
                    ));
                    Err(Failure::Fatal(AuthError::no_credentials(tried)))
                }
                _ => Err(Failure::Unreachable(reason)),
            },
            Ok(token) => {
                if let Some(env) = &self.env_chain {
                    env.reached.store(true, Ordering::Relaxed);
                }
                Ok(token)
            }
            other => other,
        }
    }
}

impl TokenSource for MetadataTokenSource {
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        async move {
            let schedule = Schedule {
                max_attempts: self.attempts,
                deadline: None,
                budget: self.budget.as_deref(),
                timer: &TokioTimer,
            };
            let classify = |failure: &Failure, attempt| match failure {
                Failure::Fatal(_) => Verdict::Stop,
                Failure::Unreachable(reason) | Failure::Retryable(reason) => {
                    tracing::debug!(attempt, %reason, "metadata token request failed");
                    Verdict::Retry {
                        backoff: self.backoff,
                        cost: Cost::Transport,
                    }
                }
            };
            let attempt = |_| self.attempt_in_chain();
            match crate::retry::run::run(schedule, attempt, classify).await {
                Ok(token) => Ok(token),
                Err(failure) => match failure.error {
                    Failure::Fatal(e) => Err(e),
                    Failure::Unreachable(reason) | Failure::Retryable(reason) => {
                        let why = match failure.stopped {
                            Stopped::Budget => ", the retry budget is spent",
                            _ => "",
                        };
                        Err(AuthError::new(
                            CredentialSource::MetadataService,
                            format!(
                                "{reason} (gave up after {} attempt(s){why})",
                                failure.attempts
                            ),
                        ))
                    }
                },
            }
        }
        .boxed()
    }

    fn kind(&self) -> CredentialSource {
        CredentialSource::MetadataService
    }
}

impl fmt::Debug for MetadataTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataTokenSource")
            .field("address", &self.authority.as_str())
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .field("end_of_env_chain", &self.env_chain.is_some())
            .finish_non_exhaustive()
    }
}
