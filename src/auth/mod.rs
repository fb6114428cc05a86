//! Credentials and the IAM token cache.
//!
//! Every call to the Billing API carries an IAM token. This module turns
//! [`Credentials`] (a static IAM token, an OAuth token, a service-account
//! authorized key, the VM metadata service, or a [`TokenSource`] of your own)
//! into a token source, and keeps the token fresh in a [`TokenCache`], which
//! the [`AuthLayer`](crate::transport::AuthLayer) of every client reads.
//!
//! [`TokenSource`] is the one trait of credentials: implement it (and pass
//! it to [`Credentials::custom`]) for a source this crate does not know. A
//! static IAM token is [`Credentials::iam_token`].
//!
//! ```no_run
//! use yc_billing::auth::{Credentials, IamExchange};
//! use yc_billing::region::{Region, Service};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = Credentials::from_env()?;
//! let iam_channel = tonic::transport::Endpoint::from_shared(format!(
//!     "https://{}",
//!     Region::Ru.endpoint(Service::Iam)
//! ))?
//! .connect_lazy();
//! let cache = credentials.into_cache(IamExchange::new(iam_channel, Region::Ru));
//! let token = cache.token().await?;
//! println!("token valid until {:?}", token.expires_at());
//! # Ok(()) }
//! ```
//!
//! Secrets (tokens, OAuth tokens, private keys) never appear in `Debug`
//! output, errors or logs.

mod cache;
mod exchange;
mod impersonate;
mod metadata;
mod profile;
mod service_account;
mod sources;
mod token;

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The clock is a parameter of the credentials API (`with_clock`); its home is [`crate::time`].
#[doc(no_inline)]
pub use crate::time::{Clock, ManualClock, SystemClock};
pub use cache::TokenCache;
pub use exchange::IamExchange;
pub use metadata::{
    DEFAULT_METADATA_ADDR, METADATA_ADDR_ENV, METADATA_FLAVOR, METADATA_FLAVOR_HEADER,
    METADATA_TOKEN_PATH, MetadataTokenSource,
};
pub use profile::{Profile, YC_CONFIG_ENV, YC_PROFILE_ENV};
pub use service_account::{JWT_LIFETIME, ServiceAccountKey};
pub use token::{AccessToken, TokenSource};

use crate::error::{AuthError, CredentialSource, Error, SourceAttempt};
use sources::{FailingSource, OAuthSource, StaticTokenSource};

/// How long a static IAM token is assumed to be valid, counted from the
/// moment it is turned into a source ([`Credentials::into_source`]). IAM
/// tokens live at most 12 hours; the real expiry of a token given as a string
/// is unknown.
pub const STATIC_IAM_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// How long the first token fetch of [`Credentials::from_env`]'s fallback
/// to the metadata service waits for a connection before it reports that no
/// credentials were found (off a VM, 169.254.169.254 usually never answers).
pub const ENV_METADATA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Environment variable holding an IAM token.
pub const IAM_TOKEN_ENV: &str = "YC_IAM_TOKEN";
/// Environment variable holding an OAuth token.
pub const OAUTH_TOKEN_ENV: &str = "YC_TOKEN";
/// Environment variable holding the path of a service-account authorized
/// key file, or the key's JSON itself (see
/// [`Credentials::service_account_key_path_or_json`]).
pub const SERVICE_ACCOUNT_KEY_FILE_ENV: &str = "YC_SERVICE_ACCOUNT_KEY_FILE";

/// What to authenticate with. Cheap to clone; `Debug` hides every secret.
///
/// ```
/// use yc_billing::auth::Credentials;
/// use yc_billing::CredentialSource;
///
/// let credentials = Credentials::iam_token("t1.secret");
/// assert_eq!(credentials.kind(), CredentialSource::IamToken);
/// assert!(!format!("{credentials:?}").contains("t1.secret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    inner: Inner,
    /// Where they came from (`YC_TOKEN`, a yc profile, …); `None` when built in code.
    origin: Option<String>,
    /// The sources the environment chain passed over before these.
    skipped: Vec<SourceAttempt>,
}

#[derive(Clone)]
enum Inner {
    IamToken(String),
    OAuth(String),
    ServiceAccountKey(Box<ServiceAccountKey>),
    Metadata(Result<http::uri::Authority, String>),
    /// The end of the environment chain: the metadata service (what was
    /// tried before it is in `skipped`).
    EnvMetadata(http::uri::Authority),
    /// Base credentials and the service account they obtain tokens for.
    Impersonate(Box<Credentials>, String),
    Custom(Arc<dyn TokenSource>),
}

/// The warning about OAuth tokens, once per process.
static OAUTH_WARNING: std::sync::Once = std::sync::Once::new();

fn warn_oauth_once(origin: Option<&str>) {
    OAUTH_WARNING.call_once(|| {
        tracing::warn!(
            origin = origin.unwrap_or("given in code"),
            "an OAuth token is in use: Yandex Cloud discontinues OAuth tokens by the end of \
             2026 (as the official SDKs announce); use a service-account authorized key \
             (YC_SERVICE_ACCOUNT_KEY_FILE), the VM metadata service, or an IAM token \
             (YC_IAM_TOKEN) instead"
        );
    });
}

impl Credentials {
    fn of(inner: Inner) -> Self {
        Credentials {
            inner,
            origin: None,
            skipped: Vec::new(),
        }
    }

    pub(crate) fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Where the credentials came from, when [`from_env`](Self::from_env)
    /// or a [`Profile`] chose them: the variable (`YC_TOKEN`, …), the `yc`
    /// profile and file, or the metadata service. Never the secret.
    ///
    /// ```
    /// use yc_billing::auth::Credentials;
    /// assert_eq!(Credentials::iam_token("t1.x").origin(), None);
    /// ```
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The sources [`from_env`](Self::from_env) looked at before choosing
    /// these, in order, and why each did not apply.
    pub fn skipped(&self) -> &[SourceAttempt] {
        &self.skipped
    }

    /// A static IAM token. Its real expiry is unknown, so it is assumed valid
    /// for [`STATIC_IAM_TOKEN_LIFETIME`] (12 h) from [`into_source`](Self::into_source)
    /// and never refreshed; after that, fetching fails.
    pub fn iam_token(token: impl Into<String>) -> Self {
        Self::of(Inner::IamToken(token.into().trim().to_owned()))
    }

    /// A Yandex Passport OAuth token, exchanged for IAM tokens through
    /// `IamTokenService.Create{yandex_passport_oauth_token}`.
    ///
    /// Yandex Cloud discontinues OAuth tokens by the end of 2026 (as the
    /// official SDKs announce): the first OAuth source of a process logs
    /// one warning naming the alternatives (a service-account key, the
    /// metadata service, an IAM token).
    pub fn oauth_token(token: impl Into<String>) -> Self {
        Self::of(Inner::OAuth(token.into().trim().to_owned()))
    }

    /// A service-account authorized key; each refresh signs a JWT and
    /// exchanges it through `IamTokenService.Create{jwt}`.
    pub fn service_account_key(key: ServiceAccountKey) -> Self {
        Self::of(Inner::ServiceAccountKey(Box::new(key)))
    }

    /// Reads a service-account authorized key file (see [`ServiceAccountKey::from_file`]).
    pub fn service_account_key_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        ServiceAccountKey::from_file(path).map(Self::service_account_key)
    }

    /// A service-account authorized key given as its JSON, a string or
    /// bytes (a CI secret, a vault entry): see [`ServiceAccountKey::from_json`].
    /// Errors name the problem (not UTF-8, not JSON, a missing field, an
    /// unsupported algorithm, a public key where the private one belongs)
    /// and never quote the key.
    ///
    /// ```
    /// use yc_billing::auth::Credentials;
    ///
    /// let err = Credentials::service_account_key_json("not json").unwrap_err();
    /// assert!(err.to_string().contains("service account key: json: is not valid JSON"));
    /// let err = Credentials::service_account_key_json(br#"{"id": "k"}"#).unwrap_err();
    /// assert!(err.to_string().ends_with("service_account_id: is missing"));
    /// ```
    pub fn service_account_key_json(json: impl AsRef<[u8]>) -> Result<Self, Error> {
        ServiceAccountKey::from_json_bytes(json.as_ref()).map(Self::service_account_key)
    }

    /// What [`SERVICE_ACCOUNT_KEY_FILE_ENV`] holds, as the Terraform provider
    /// reads it: the key's JSON itself when the first character that is not
    /// white space is `{` (a key file's path never starts so; name such a
    /// file `./{…`), else the path of a key file.
    ///
    /// ```
    /// use yc_billing::auth::Credentials;
    ///
    /// let err = Credentials::service_account_key_path_or_json("  {\"id\": 1}").unwrap_err();
    /// assert!(err.to_string().contains("service account key (JSON): id: must be a string"), "{err}");
    /// let err = Credentials::service_account_key_path_or_json("/no/such/key.json").unwrap_err();
    /// assert!(err.to_string().contains("/no/such/key.json: cannot read it"), "{err}");
    /// ```
    pub fn service_account_key_path_or_json(value: &str) -> Result<Self, Error> {
        if value.trim_start().starts_with('{') {
            Self::service_account_key_json(value).map_err(|e| match e {
                Error::Config { field, reason } => Error::config(
                    field.replacen("service account key", "service account key (JSON)", 1),
                    reason,
                ),
                other => other,
            })
        } else {
            Self::service_account_key_file(value.trim())
        }
    }

    /// Tokens of the service account `service_account_id`, obtained with
    /// `base` through `IamTokenService.CreateForServiceAccount` (the subject
    /// of `base` needs `iam.serviceAccounts.tokenCreator` on that service
    /// account). The base token and the impersonated token are each kept in
    /// a [`TokenCache`], refreshed early and single-flight like any other;
    /// an `UNAUTHENTICATED` answer drops the base token and retries once. A
    /// refusal (`PERMISSION_DENIED`, `NOT_FOUND`) is an
    /// [`AuthErrorKind::Exchange`](crate::error::AuthErrorKind::Exchange)
    /// error of [`CredentialSource::Impersonation`] keeping the `RpcError`.
    ///
    /// ```
    /// use yc_billing::auth::Credentials;
    /// use yc_billing::CredentialSource;
    ///
    /// let c = Credentials::impersonate(Credentials::metadata_service(), "ajetarget")?;
    /// assert_eq!(c.kind(), CredentialSource::Impersonation);
    /// assert!(Credentials::impersonate(Credentials::metadata_service(), " ").is_err());
    /// # Ok::<(), yc_billing::Error>(())
    /// ```
    pub fn impersonate(base: Credentials, service_account_id: &str) -> Result<Self, Error> {
        let id = service_account_id.trim();
        if id.is_empty() {
            return Err(Error::config("service_account_id", "is empty"));
        }
        if id.len() > 50
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::config(
                "service_account_id",
                "must be at most 50 letters, digits, `-` or `_` (a service account id)",
            ));
        }
        let origin = base.origin.clone();
        let mut c = Self::of(Inner::Impersonate(Box::new(base), id.to_owned()));
        c.origin = origin.map(|o| format!("{o}, impersonating {id}"));
        Ok(c)
    }

    /// The credentials of a profile of the `yc` CLI: `name`, else
    /// `YC_PROFILE`, else the config file's `current` (see [`Profile`]). A
    /// profile without credentials is an [`Error::Config`]; a federated one
    /// an [`AuthErrorKind::Unsupported`](crate::error::AuthErrorKind::Unsupported) error.
    pub fn from_yc_profile(name: Option<&str>) -> Result<Self, Error> {
        Profile::load(name)?.into_credentials()
    }

    /// The VM metadata service at [`DEFAULT_METADATA_ADDR`], or at
    /// `YC_METADATA_ADDR` when that is set. An invalid `YC_METADATA_ADDR`
    /// makes every fetch fail with an error naming it; use
    /// [`from_env`](Self::from_env) or [`metadata_service_at`](Self::metadata_service_at)
    /// to get that error up front.
    pub fn metadata_service() -> Self {
        let addr = match std::env::var_os(METADATA_ADDR_ENV) {
            None => Ok(http::uri::Authority::from_static(DEFAULT_METADATA_ADDR)),
            Some(v) => v
                .into_string()
                .map_err(|_| "is not valid UTF-8".to_owned())
                .and_then(|v| metadata::parse_addr(&v))
                .map_err(|reason| format!("{METADATA_ADDR_ENV} {reason}")),
        };
        Self::of(Inner::Metadata(addr))
    }

    /// The VM metadata service at `addr` (`host` or `host:port`).
    ///
    /// ```
    /// use yc_billing::auth::Credentials;
    /// assert!(Credentials::metadata_service_at("127.0.0.1:8080").is_ok());
    /// assert!(Credentials::metadata_service_at("").is_err());
    /// ```
    pub fn metadata_service_at(addr: &str) -> Result<Self, Error> {
        let authority = metadata::parse_addr(addr)
            .map_err(|reason| Error::config("metadata address", reason))?;
        Ok(Self::of(Inner::Metadata(Ok(authority))))
    }

    /// A token source of your own.
    pub fn custom(source: impl TokenSource) -> Self {
        Self::of(Inner::Custom(Arc::new(source)))
    }

    /// The first credentials the environment offers, in this order:
    ///
    /// 1. `YC_IAM_TOKEN`: a static IAM token ([`iam_token`](Self::iam_token));
    /// 2. `YC_TOKEN`: an OAuth token ([`oauth_token`](Self::oauth_token));
    /// 3. `YC_SERVICE_ACCOUNT_KEY_FILE`: the path of an authorized key file,
    ///    or the key's JSON ([`service_account_key_path_or_json`](Self::service_account_key_path_or_json));
    /// 4. the `yc` CLI's profile ([`Profile`]): `YC_PROFILE` or the `current`
    ///    one of `YC_CONFIG`, `$XDG_CONFIG_HOME/yandex-cloud/config.yaml` or
    ///    `~/.config/yandex-cloud/config.yaml`, when it has credentials;
    /// 5. otherwise the metadata service, at `YC_METADATA_ADDR` if set.
    ///
    /// A variable that is set but empty, not UTF-8, or (for the key file and
    /// metadata address) invalid is an [`Error::Config`] naming the variable.
    /// A config file that exists but is not valid, a `YC_PROFILE` that
    /// names no profile, and a federated profile are errors too, never a
    /// fall-through to the metadata service; a missing or unreadable file, or
    /// a profile without credentials, is passed over (and listed).
    ///
    /// Falling through to the metadata service does no I/O here. If the first
    /// token fetch cannot reach it (connection refused, unreachable, or no
    /// connection within [`ENV_METADATA_CONNECT_TIMEOUT`], as off a VM), the
    /// fetch fails at once, without retries, with
    /// [`AuthError::no_credentials`](crate::AuthError::no_credentials):
    /// every source tried, in order, and why each did not apply, the
    /// metadata service's connection error last. Once the metadata service
    /// has answered, later fetches retry as [`MetadataTokenSource`] does.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_env_with(|name| std::env::var_os(name))
    }

    /// [`from_env`](Self::from_env), and the `yc` profile when the chain
    /// chose one: its endpoint, cloud and folder ids belong with its
    /// credentials ([`ClientBuilder::profile`](crate::ClientBuilder::profile)).
    pub fn from_env_with_profile() -> Result<(Self, Option<Profile>), Error> {
        Self::chain(&|name| std::env::var_os(name))
    }

    fn from_env_with(get: impl Fn(&str) -> Option<OsString>) -> Result<Self, Error> {
        Self::chain(&get).map(|(c, _)| c)
    }

    fn chain(get: &dyn Fn(&str) -> Option<OsString>) -> Result<(Self, Option<Profile>), Error> {
        let var = |name: &str| -> Result<Option<String>, Error> {
            let Some(value) = get(name) else {
                return Ok(None);
            };
            let value = value
                .into_string()
                .map_err(|_| Error::config(name, "is not valid UTF-8"))?;
            let value = value.trim();
            if value.is_empty() {
                return Err(Error::config(
                    name,
                    "is set but empty; unset it to use the next credential source",
                ));
            }
            Ok(Some(value.to_owned()))
        };
        let not_set = |source, name: &str| SourceAttempt::new(source, name, "not set");
        let mut tried = Vec::new();
        if let Some(token) = var(IAM_TOKEN_ENV)? {
            tracing::debug!("using the IAM token from {IAM_TOKEN_ENV}");
            return Ok((Self::iam_token(token).with_origin(IAM_TOKEN_ENV), None));
        }
        tried.push(not_set(CredentialSource::IamToken, IAM_TOKEN_ENV));
        if let Some(token) = var(OAUTH_TOKEN_ENV)? {
            tracing::debug!("using the OAuth token from {OAUTH_TOKEN_ENV}");
            let mut c = Self::oauth_token(token).with_origin(OAUTH_TOKEN_ENV);
            c.skipped = tried;
            return Ok((c, None));
        }
        tried.push(not_set(CredentialSource::OAuth, OAUTH_TOKEN_ENV));
        if let Some(value) = var(SERVICE_ACCOUNT_KEY_FILE_ENV)? {
            let json = value.starts_with('{');
            if json {
                tracing::debug!("using the key JSON in {SERVICE_ACCOUNT_KEY_FILE_ENV}");
            } else {
                tracing::debug!(
                    path = value,
                    "using the key file from {SERVICE_ACCOUNT_KEY_FILE_ENV}"
                );
            }
            let mut c = Self::service_account_key_path_or_json(&value)
                .map_err(|e| match e {
                    Error::Config { field, reason } => {
                        Error::config(format!("{SERVICE_ACCOUNT_KEY_FILE_ENV}: {field}"), reason)
                    }
                    other => other,
                })?
                .with_origin(if json {
                    format!("{SERVICE_ACCOUNT_KEY_FILE_ENV} (key JSON)")
                } else {
                    format!("{SERVICE_ACCOUNT_KEY_FILE_ENV} (file {value})")
                });
            c.skipped = tried;
            return Ok((c, None));
        }
        tried.push(not_set(
            CredentialSource::ServiceAccountKey,
            SERVICE_ACCOUNT_KEY_FILE_ENV,
        ));
        match Profile::from_env_chain(get)? {
            Ok(profile) => {
                tracing::debug!(
                    profile = profile.name(),
                    "using the credentials of the yc profile"
                );
                let mut c = profile.clone().into_credentials()?;
                c.skipped = tried;
                return Ok((c, Some(profile)));
            }
            Err(skipped) => tried.push(skipped),
        }
        let addr = match var(METADATA_ADDR_ENV)? {
            Some(addr) => metadata::parse_addr(&addr)
                .map_err(|reason| Error::config(METADATA_ADDR_ENV, reason))?,
            None => http::uri::Authority::from_static(DEFAULT_METADATA_ADDR),
        };
        tracing::debug!(addr = addr.as_str(), "using the metadata service");
        let mut c = Self::of(Inner::EnvMetadata(addr.clone()))
            .with_origin(format!("metadata service at {addr} (no other source set)"));
        c.skipped = tried;
        Ok((c, None))
    }

    /// Which kind of source these credentials make.
    pub fn kind(&self) -> CredentialSource {
        match &self.inner {
            Inner::IamToken(_) => CredentialSource::IamToken,
            Inner::OAuth(_) => CredentialSource::OAuth,
            Inner::ServiceAccountKey(_) => CredentialSource::ServiceAccountKey,
            Inner::Metadata(_) | Inner::EnvMetadata(..) => CredentialSource::MetadataService,
            Inner::Impersonate(..) => CredentialSource::Impersonation,
            Inner::Custom(source) => source.kind(),
        }
    }

    /// The token source for these credentials. `iam` is used by the OAuth and
    /// service-account sources for the exchange, and its clock by every
    /// built-in source.
    pub fn into_source(self, iam: IamExchange) -> Arc<dyn TokenSource> {
        let clock = iam.shared_clock();
        match self.inner {
            Inner::IamToken(token) => Arc::new(StaticTokenSource {
                token: AccessToken::new(token, sources::static_expiry(clock.now())),
                clock,
            }),
            Inner::OAuth(oauth_token) => {
                warn_oauth_once(self.origin.as_deref());
                Arc::new(OAuthSource { oauth_token, iam })
            }
            Inner::ServiceAccountKey(key) => {
                service_account::ServiceAccountSource::shared(*key, iam)
            }
            Inner::Metadata(Ok(authority)) => Arc::new(
                MetadataTokenSource::with_authority(authority)
                    .clock(clock)
                    .shared_budget(iam.budget()),
            ),
            Inner::EnvMetadata(authority) => Arc::new(
                MetadataTokenSource::with_authority_connect_timeout(
                    authority,
                    ENV_METADATA_CONNECT_TIMEOUT,
                )
                .end_of_env_chain(self.skipped)
                .clock(clock)
                .shared_budget(iam.budget()),
            ),
            Inner::Metadata(Err(reason)) => Arc::new(FailingSource {
                error: AuthError::new(CredentialSource::MetadataService, reason),
            }),
            Inner::Impersonate(base, service_account_id) => {
                let base = base.into_cache(iam.clone());
                Arc::new(impersonate::ImpersonationSource {
                    base,
                    service_account_id,
                    iam,
                })
            }
            Inner::Custom(source) => source,
        }
    }

    /// [`into_source`](Self::into_source) wrapped in a [`TokenCache`] on the clock of `iam`.
    pub fn into_cache(self, iam: IamExchange) -> TokenCache {
        let clock = iam.shared_clock();
        TokenCache::new(self.into_source(iam), clock)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Credentials");
        match &self.inner {
            Inner::IamToken(_) => d.field("kind", &"IamToken").field("token", &"<redacted>"),
            Inner::OAuth(_) => d.field("kind", &"OAuth").field("token", &"<redacted>"),
            Inner::ServiceAccountKey(key) => {
                d.field("kind", &"ServiceAccountKey").field("key", key)
            }
            Inner::Metadata(Ok(addr)) => d
                .field("kind", &"MetadataService")
                .field("addr", &addr.as_str()),
            Inner::Metadata(Err(reason)) => {
                d.field("kind", &"MetadataService").field("error", reason)
            }
            Inner::EnvMetadata(addr) => d
                .field("kind", &"MetadataService")
                .field("addr", &addr.as_str())
                .field("from", &"environment chain"),
            Inner::Impersonate(base, id) => d
                .field("kind", &"Impersonation")
                .field("service_account_id", id)
                .field("base", base),
            Inner::Custom(source) => d.field("kind", &"Custom").field("source", source),
        };
        if let Some(origin) = &self.origin {
            d.field("origin", origin);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::SystemTime;

    use super::*;

    fn lazy_iam(clock: &ManualClock) -> IamExchange {
        // Port 1 on loopback: nothing listens there, so an exchange fails fast.
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        IamExchange::new(channel, crate::region::Region::Ru)
            .clock(Arc::new(clock.clone()))
            .timeout(Duration::from_secs(5))
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn key_file() -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("yc-billing-env-{}.json", uuid::Uuid::new_v4()));
        let json = serde_json::json!({
            "id": "ajekey",
            "service_account_id": "ajesa",
            "private_key": include_str!("testdata/test_sa_private.pem"),
        });
        std::fs::write(&path, json.to_string()).unwrap();
        path
    }

    #[test]
    fn env_chain_order() {
        let all = [
            (IAM_TOKEN_ENV, "t1.iam"),
            (OAUTH_TOKEN_ENV, "y0_oauth"),
            (SERVICE_ACCOUNT_KEY_FILE_ENV, "/nonexistent"),
        ];
        let c = Credentials::from_env_with(env(&all)).unwrap();
        assert_eq!(c.kind(), CredentialSource::IamToken);
        let c = Credentials::from_env_with(env(&all[1..])).unwrap();
        assert_eq!(c.kind(), CredentialSource::OAuth);

        let path = key_file();
        let c = Credentials::from_env_with(env(&[(
            SERVICE_ACCOUNT_KEY_FILE_ENV,
            path.to_str().unwrap(),
        )]))
        .unwrap();
        assert_eq!(c.kind(), CredentialSource::ServiceAccountKey);
        std::fs::remove_file(&path).unwrap();

        let c = Credentials::from_env_with(env(&[])).unwrap();
        assert_eq!(c.kind(), CredentialSource::MetadataService);
        assert!(format!("{c:?}").contains(DEFAULT_METADATA_ADDR));
        let c = Credentials::from_env_with(env(&[(METADATA_ADDR_ENV, "127.0.0.1:8080")])).unwrap();
        assert!(format!("{c:?}").contains("127.0.0.1:8080"));
    }

    #[test]
    fn env_errors_name_the_variable() {
        for (vars, needle) in [
            (
                vec![(IAM_TOKEN_ENV, "  ")],
                "YC_IAM_TOKEN: is set but empty",
            ),
            (vec![(OAUTH_TOKEN_ENV, "")], "YC_TOKEN: is set but empty"),
            (
                vec![(SERVICE_ACCOUNT_KEY_FILE_ENV, "/nonexistent/key.json")],
                "YC_SERVICE_ACCOUNT_KEY_FILE: service account key file /nonexistent/key.json: cannot read it",
            ),
            (
                vec![(METADATA_ADDR_ENV, "a/b")],
                "YC_METADATA_ADDR: \"a/b\" is not",
            ),
        ] {
            let err = Credentials::from_env_with(env(&vars)).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_env_var_is_an_error() {
        use std::os::unix::ffi::OsStringExt;
        let get =
            |name: &str| (name == OAUTH_TOKEN_ENV).then(|| OsString::from_vec(vec![0xff, 0xfe]));
        let err = Credentials::from_env_with(get).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: YC_TOKEN: is not valid UTF-8"
        );
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let path = key_file();
        let sa = Credentials::service_account_key_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let pem_line = include_str!("testdata/test_sa_private.pem")
            .lines()
            .nth(2)
            .unwrap();
        for (c, secret) in [
            (Credentials::iam_token("t1.very-secret"), "t1.very-secret"),
            (Credentials::oauth_token("y0_very-secret"), "y0_very-secret"),
            (sa.clone(), pem_line),
        ] {
            let shown = format!("{c:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let t = AccessToken::new("t1.secret", SystemTime::UNIX_EPOCH);
        assert_eq!(
            format!("{t:?}"),
            format!(
                "AccessToken {{ secret: \"<redacted>\", expires_at: {:?} }}",
                SystemTime::UNIX_EPOCH
            )
        );
        let header = t.authorization_value().unwrap();
        assert_eq!(header, "Bearer t1.secret");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("t1.secret"));
    }

    #[tokio::test]
    async fn static_token_lives_twelve_hours_and_is_never_refreshed() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let start = clock.now();
        let cache = Credentials::iam_token(" t1.static\n").into_cache(lazy_iam(&clock));
        let token = cache.token().await.unwrap();
        assert_eq!(token.secret(), "t1.static");
        assert_eq!(token.expires_at(), start + STATIC_IAM_TOKEN_LIFETIME);
        clock.advance(Duration::from_secs(11 * 3600));
        assert_eq!(cache.token().await.unwrap().secret(), "t1.static");
        clock.advance(Duration::from_secs(3600));
        let err = cache.token().await.unwrap_err();
        assert!(
            matches!(&err, Error::Auth(e) if e.credential_source() == CredentialSource::IamToken),
            "{err:?}"
        );
        assert!(!err.to_string().contains("t1.static"), "{err}");
    }

    #[tokio::test]
    async fn oauth_exchange_failure_names_the_source_not_the_secret() {
        let clock = ManualClock::default();
        let source = Credentials::oauth_token("y0_secret-oauth").into_source(lazy_iam(&clock));
        assert_eq!(source.kind(), CredentialSource::OAuth);
        let err = source.fetch().await.unwrap_err();
        assert_eq!(err.credential_source(), CredentialSource::OAuth);
        let rpc = err.rpc().expect("rpc error attached");
        assert_eq!(
            rpc.method(),
            crate::proto::paths::iam::v1::iam_token_service::CREATE
        );
        assert_eq!(rpc.code(), tonic::Code::Unavailable);
        assert!(!err.to_string().contains("y0_secret-oauth"), "{err}");
        assert!(!format!("{source:?}").contains("y0_secret-oauth"));
    }

    #[tokio::test]
    async fn service_account_exchange_failure_names_the_source() {
        let path = key_file();
        let c = Credentials::service_account_key_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let source = c.into_source(lazy_iam(&ManualClock::default()));
        let err = source.fetch().await.unwrap_err();
        assert_eq!(err.credential_source(), CredentialSource::ServiceAccountKey);
        assert!(err.rpc().is_some());
    }

    #[tokio::test]
    async fn an_empty_environment_reports_every_source_tried_in_order() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap().to_string();
        drop(listener);
        let c = Credentials::from_env_with(env(&[(METADATA_ADDR_ENV, &closed)])).unwrap();
        assert_eq!(c.kind(), CredentialSource::MetadataService);
        let source = c.into_source(lazy_iam(&ManualClock::default()));
        let started = std::time::Instant::now();
        let err = source.fetch().await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no retries: {:?}",
            started.elapsed()
        );
        assert!(err.is_no_credentials(), "{err:?}");
        assert_eq!(err.credential_source(), CredentialSource::Environment);
        let tried: Vec<(CredentialSource, &str)> = err
            .tried()
            .iter()
            .map(|a| (a.source(), a.setting()))
            .collect();
        assert_eq!(
            tried,
            vec![
                (CredentialSource::IamToken, IAM_TOKEN_ENV),
                (CredentialSource::OAuth, OAUTH_TOKEN_ENV),
                (
                    CredentialSource::ServiceAccountKey,
                    SERVICE_ACCOUNT_KEY_FILE_ENV
                ),
                (CredentialSource::YcProfile, "config file"),
                (CredentialSource::MetadataService, closed.as_str()),
            ]
        );
        assert!(err.tried()[..3].iter().all(|a| a.reason() == "not set"));
        assert_eq!(
            err.tried()[3].reason(),
            "none of YC_CONFIG, XDG_CONFIG_HOME and HOME is set"
        );
        assert!(
            err.tried()[4].reason().contains("Connection refused"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("no credentials found; tried, in order: YC_IAM_TOKEN: not set; "),
            "{err}"
        );
        assert!(Error::Auth(err).is_no_credentials());

        // An explicitly chosen metadata service keeps retrying instead.
        let explicit = Credentials::metadata_service_at(&closed)
            .unwrap()
            .into_source(lazy_iam(&ManualClock::default()));
        let err = explicit.fetch().await.unwrap_err();
        assert!(!err.is_no_credentials(), "{err:?}");
        assert!(err.reason().contains("gave up after 4 attempt(s)"), "{err}");
    }

    #[tokio::test]
    async fn custom_and_metadata_sources_keep_their_kind() {
        let clock = ManualClock::default();
        let metadata = Credentials::metadata_service_at("127.0.0.1:1").unwrap();
        assert_eq!(metadata.kind(), CredentialSource::MetadataService);
        let source = Credentials::custom(MetadataTokenSource::new("127.0.0.1:1").unwrap())
            .into_source(lazy_iam(&clock));
        assert_eq!(source.kind(), CredentialSource::MetadataService);
    }

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("yc-billing-chain-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn key_json() -> String {
        serde_json::json!({
            "id": "ajekey",
            "service_account_id": "ajesa",
            "private_key": include_str!("testdata/test_sa_private.pem"),
        })
        .to_string()
    }

    #[test]
    fn key_env_takes_a_path_or_the_json_itself() {
        let json = key_json();
        let c = Credentials::from_env_with(env(&[(
            SERVICE_ACCOUNT_KEY_FILE_ENV,
            &format!("\n  {json}"),
        )]))
        .unwrap();
        assert_eq!(c.kind(), CredentialSource::ServiceAccountKey);
        assert_eq!(c.origin(), Some("YC_SERVICE_ACCOUNT_KEY_FILE (key JSON)"));
        assert_eq!(c.skipped().len(), 2);
        let pem_line = include_str!("testdata/test_sa_private.pem")
            .lines()
            .nth(2)
            .unwrap();

        // Broken JSON in the variable: the problem named, the key never quoted.
        for (value, needle) in [
            (
                json.replace("\"id\"", "\"kid\""),
                "YC_SERVICE_ACCOUNT_KEY_FILE: service account key (JSON): id: is missing",
            ),
            (
                json[..json.len() / 2].to_string(),
                "YC_SERVICE_ACCOUNT_KEY_FILE: service account key (JSON): json: is not valid JSON",
            ),
            (
                json.replace("BEGIN PRIVATE KEY", "BEGIN PUBLIC KEY"),
                "private_key: is not a private key",
            ),
            (
                json.replacen("{", "{\"key_algorithm\": \"ED25519\",", 1),
                "key_algorithm: \"ED25519\" is not supported",
            ),
        ] {
            let err = Credentials::from_env_with(env(&[(SERVICE_ACCOUNT_KEY_FILE_ENV, &value)]))
                .unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(text.contains(needle), "{needle:?} in {text}");
            assert!(!text.contains(pem_line), "key leaked: {text}");
        }
        let bytes = Credentials::service_account_key_json(json.as_bytes()).unwrap();
        assert_eq!(bytes.kind(), CredentialSource::ServiceAccountKey);
        let err = Credentials::service_account_key_json([b'{', 0xff, b'}']).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("json: is not valid UTF-8 (at byte 1)"),
            "{err}"
        );
    }

    #[test]
    fn the_yc_profile_comes_after_the_variables_and_before_the_metadata_service() {
        let dir = temp_dir();
        let config = dir.join("config.yaml");
        std::fs::write(
            &config,
            "current: main\nprofiles:\n  main:\n    token: y0_profile-secret\n    folder-id: b1gf\n  empty:\n    folder-id: b1gf\n",
        )
        .unwrap();
        let path = config.to_str().unwrap();
        // A variable wins over the profile.
        let c = Credentials::from_env_with(env(&[(YC_CONFIG_ENV, path), (IAM_TOKEN_ENV, "t1.x")]))
            .unwrap();
        assert_eq!(c.kind(), CredentialSource::IamToken);
        let c = Credentials::from_env_with(env(&[(YC_CONFIG_ENV, path)])).unwrap();
        assert_eq!(c.kind(), CredentialSource::OAuth);
        assert_eq!(
            c.origin(),
            Some(format!("yc profile \"main\" in {path}").as_str())
        );
        assert_eq!(c.skipped().len(), 3);
        assert!(!format!("{c:?}").contains("y0_profile-secret"));

        // The XDG and HOME locations.
        let xdg = dir.join("yandex-cloud");
        std::fs::create_dir_all(&xdg).unwrap();
        std::fs::copy(&config, xdg.join("config.yaml")).unwrap();
        let c =
            Credentials::from_env_with(env(&[("XDG_CONFIG_HOME", dir.to_str().unwrap())])).unwrap();
        assert_eq!(c.kind(), CredentialSource::OAuth);
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".config/yandex-cloud")).unwrap();
        std::fs::copy(&config, home.join(".config/yandex-cloud/config.yaml")).unwrap();
        let c = Credentials::from_env_with(env(&[("HOME", home.to_str().unwrap())])).unwrap();
        assert_eq!(c.kind(), CredentialSource::OAuth);

        // A profile without credentials is passed over, and listed.
        let c =
            Credentials::from_env_with(env(&[(YC_CONFIG_ENV, path), (YC_PROFILE_ENV, "empty")]))
                .unwrap();
        assert_eq!(c.kind(), CredentialSource::MetadataService);
        let last = c.skipped().last().unwrap();
        assert_eq!(last.source(), CredentialSource::YcProfile);
        assert_eq!(last.setting(), path);
        assert!(
            last.reason()
                .contains("profile \"empty\" has no credentials"),
            "{last}"
        );
        // A missing file is passed over; so is an unreadable one (a directory here).
        let missing = dir.join("absent.yaml");
        let c =
            Credentials::from_env_with(env(&[(YC_CONFIG_ENV, missing.to_str().unwrap())])).unwrap();
        assert_eq!(c.skipped().last().unwrap().reason(), "no such file");
        let c = Credentials::from_env_with(env(&[(YC_CONFIG_ENV, dir.to_str().unwrap())])).unwrap();
        assert!(
            c.skipped()
                .last()
                .unwrap()
                .reason()
                .starts_with("cannot read it: "),
            "{:?}",
            c.skipped()
        );

        // A named profile that is missing, a broken file: errors, not a fall-through.
        let err =
            Credentials::from_env_with(env(&[(YC_CONFIG_ENV, path), (YC_PROFILE_ENV, "nope")]))
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("profiles: has no profile \"nope\" (named by YC_PROFILE)"),
            "{err}"
        );
        std::fs::write(
            &config,
            "current: main\nprofiles:\n  main:\n    token: [y0_broken-secret\n",
        )
        .unwrap();
        let err = Credentials::from_env_with(env(&[(YC_CONFIG_ENV, path)])).unwrap_err();
        assert!(
            err.to_string().contains("is not valid YAML (line "),
            "{err}"
        );
        assert!(!err.to_string().contains("y0_broken"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn impersonation_keeps_the_base_in_debug_and_validates_the_id() {
        let base = Credentials::oauth_token("y0_base-secret");
        let c = Credentials::impersonate(base.clone(), "ajetarget").unwrap();
        assert_eq!(c.kind(), CredentialSource::Impersonation);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("ajetarget") && shown.contains("OAuth"),
            "{shown}"
        );
        assert!(!shown.contains("y0_base-secret"), "{shown}");
        for bad in ["", "a b", "x/y", &"a".repeat(51)] {
            let err = Credentials::impersonate(base.clone(), bad).unwrap_err();
            assert!(err.to_string().contains("service_account_id: "), "{err}");
        }
    }
}
