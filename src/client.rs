//! The [`Client`]: channels, credentials, headers and retries in one place.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use http::{HeaderValue, Uri};
use tokio::time::Instant;
use tower::ServiceBuilder;
use tracing::Instrument;

use crate::auth::{Clock, Credentials, IamExchange, SystemClock, TokenCache};
use crate::call::CallOptions;
use crate::error::{RpcError, TransportError, TransportErrorKind};
use crate::proto::yandex::cloud::endpoint::{
    ListApiEndpointsRequest, api_endpoint_service_client::ApiEndpointServiceClient,
};
use crate::region::{Region, Service};
use crate::retry::{Bucket, RetryBudget, RetryPolicy, Schedule, Stopped, TokioTimer, Verdict};
use crate::transport::{
    AuthLayer, Channel, HeadersLayer, HeadersService, IDEMPOTENCY_KEY, Transport, is_mutating,
};
use crate::{Error, Result};

/// Default time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default overall deadline of a call, retries included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default of [`ClientBuilder::max_concurrent_polls`].
pub const DEFAULT_MAX_CONCURRENT_POLLS: usize = 256;
/// The default of [`ClientBuilder::max_response_size`]: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 << 20;

/// The longest timeout the client accepts: 99,999,999 hours (about 11,400
/// years), the most a gRPC `grpc-timeout` header can carry (eight digits of
/// a unit). Longer request, connect or per-call timeouts are refused with
/// [`Error::Config`] naming the setting.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(99_999_999 * 3600);

/// Refuses a timeout of zero or beyond [`MAX_TIMEOUT`], naming `setting`.
fn check_timeout(setting: &str, timeout: Duration) -> Result<()> {
    if timeout.is_zero() {
        return Err(Error::config(setting, "must be greater than zero"));
    }
    check_max_timeout(setting, timeout)
}

/// Refuses a timeout beyond [`MAX_TIMEOUT`], naming `setting`.
pub(crate) fn check_max_timeout(setting: &str, timeout: Duration) -> Result<()> {
    if timeout > MAX_TIMEOUT {
        return Err(Error::config(
            setting,
            format!(
                "{timeout:?} is too long: at most 99999999h, the most a gRPC deadline can carry"
            ),
        ));
    }
    Ok(())
}

/// A CANCELLED answer this close to the call's deadline is the server
/// enforcing that deadline (the `grpc-timeout` header rounds it).
const DEADLINE_TOLERANCE: Duration = Duration::from_millis(10);

/// Room in a request's header map for every header it ends up with: ids,
/// idempotency key, `grpc-timeout`, `authorization`, and what tonic adds
/// (`te`, `content-type`, `user-agent`).
const REQUEST_HEADERS_CAPACITY: usize = 12;

/// Which root certificates verify the server.
#[derive(Clone, Default)]
enum Roots {
    #[default]
    WebPki,
    Native,
    Custom(Vec<u8>),
}

enum Auth {
    None,
    Credentials(Credentials),
}

/// Builds a [`Client`]; every setting is checked by [`build`](Self::build).
///
/// ```no_run
/// # async fn f() -> yc_billing::Result<()> {
/// use yc_billing::{Client, region::Region};
///
/// let client = Client::builder()
///     .region(Region::Ru)
///     .iam_token(std::env::var("YC_IAM_TOKEN").unwrap_or_default())
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(derive_more::Debug)]
pub struct ClientBuilder {
    region: Region,
    discovery: bool,
    discovery_endpoint: Option<String>,
    overrides: HashMap<Service, String>,
    plaintext: bool,
    allow_plaintext_bearer_to_remote: bool,
    #[debug(skip)]
    roots: Roots,
    tls_domain: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    budget: RetryBudget,
    #[debug(skip)]
    auth: Auth,
    user_agent: Option<String>,
    #[debug(skip)]
    clock: Arc<dyn Clock>,
    max_pages: u32,
    max_response_size: usize,
    max_concurrent_polls: usize,
    errors: Vec<Error>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            region: Region::Ru,
            discovery: false,
            discovery_endpoint: None,
            overrides: HashMap::new(),
            plaintext: false,
            allow_plaintext_bearer_to_remote: false,
            roots: Roots::WebPki,
            tls_domain: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::standard(),
            budget: RetryBudget::standard(),
            auth: Auth::None,
            user_agent: None,
            clock: Arc::new(SystemClock),
            max_pages: crate::pagination::DEFAULT_MAX_PAGES,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            max_concurrent_polls: DEFAULT_MAX_CONCURRENT_POLLS,
            errors: Vec::new(),
        }
    }
}

impl ClientBuilder {
    /// The region whose endpoints are used unless overridden (default `ru`).
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Looks the endpoints up through `ApiEndpointService.List` at build time.
    pub fn discovery(mut self, enabled: bool) -> Self {
        self.discovery = enabled;
        self
    }

    /// The discovery endpoint (default: the region's `api.…:443`). Implies discovery.
    pub fn discovery_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.discovery = true;
        self.discovery_endpoint = Some(endpoint.into());
        self
    }

    /// The credentials and endpoint of a `yc` CLI profile, the way `yc`
    /// uses them: the profile's credentials (when it has any), and its
    /// `endpoint` selects the region when it is a region's API endpoint
    /// (`api.yandexcloud.kz:443` is [`Region::Kz`], JWT audience included),
    /// else discovery at that address ([`discovery_endpoint`](Self::discovery_endpoint)).
    /// Later settings still override.
    ///
    /// ```no_run
    /// # async fn f() -> yc_billing::Result<()> {
    /// use yc_billing::{Client, auth::Profile};
    ///
    /// let profile = Profile::load(None)?; // `current`, or YC_PROFILE
    /// let client = Client::builder().profile(&profile).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn profile(mut self, profile: &crate::auth::Profile) -> Self {
        if let Some(credentials) = profile.credentials() {
            self = self.credentials(credentials.clone());
        }
        match (profile.endpoint(), profile.region()) {
            (_, Some(region)) => self.region(region),
            (Some(endpoint), None) => self.discovery_endpoint(endpoint),
            (None, None) => self,
        }
    }

    /// Sends every service to one address (`host:port` or a URL), as for the emulator.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        let e = endpoint.into();
        for s in [
            Service::Billing,
            Service::Operation,
            Service::Iam,
            Service::Discovery,
        ] {
            self.overrides.insert(s, e.clone());
        }
        self
    }

    /// Overrides the address of one service.
    pub fn service_endpoint(mut self, service: Service, endpoint: impl Into<String>) -> Self {
        self.overrides.insert(service, endpoint.into());
        self
    }

    /// Uses plaintext HTTP/2 instead of TLS for endpoints given without a scheme.
    pub fn plaintext(mut self, enabled: bool) -> Self {
        self.plaintext = enabled;
        self
    }

    /// Allows sending a bearer token over plaintext to a host that is not
    /// loopback. Off by default; turn it on only inside a trusted network.
    pub fn allow_plaintext_bearer_to_remote(mut self, allow: bool) -> Self {
        self.allow_plaintext_bearer_to_remote = allow;
        self
    }

    /// Verifies servers with the operating system's root certificates.
    pub fn native_roots(mut self) -> Self {
        self.roots = Roots::Native;
        self
    }

    /// Verifies servers with this CA certificate (PEM) only.
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots = Roots::Custom(pem.into());
        self
    }

    /// Reads the CA certificate (PEM) from a file.
    pub fn ca_certificate_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(pem) => self.roots = Roots::Custom(pem),
            Err(e) => self.errors.push(Error::config(
                "ca_certificate_file",
                format!("cannot read {}: {e}", path.display()),
            )),
        }
        self
    }

    /// The name the server certificate must carry (default: the endpoint's host).
    pub fn tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.tls_domain = Some(domain.into());
        self
    }

    /// Time allowed to open a connection (default 10 s; at most
    /// [`MAX_TIMEOUT`], checked by [`build`](Self::build)).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Overall deadline of a call, retries included (default 30 s; at most
    /// [`MAX_TIMEOUT`], checked by [`build`](Self::build)).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The most pages one `.stream()` of a List call fetches (default
    /// [`DEFAULT_MAX_PAGES`](crate::pagination::DEFAULT_MAX_PAGES));
    /// [`build`](Self::build) refuses 0. A call can override it with
    /// [`Call::max_pages`](crate::services::Call::max_pages).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages;
        self
    }

    /// The largest response message the client decodes, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_SIZE`], 64 MiB; tonic's own default is 4 MiB).
    /// A larger answer fails the call with `OUT_OF_RANGE` instead of being
    /// read. Usage reports are the large answers of this API: a year by
    /// month for 10,000 resources is about 8 MB. [`build`](Self::build)
    /// refuses 0.
    ///
    /// ```
    /// let builder = yc_billing::Client::builder().max_response_size(16 << 20);
    /// # drop(builder);
    /// ```
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// The most `Operation.Get`s the client's operation waits (`wait`,
    /// `watch` and their variants) have in flight at once (default
    /// [`DEFAULT_MAX_CONCURRENT_POLLS`], 256); a waiter whose poll is due
    /// beyond that waits its turn. A poll in flight holds a call's state
    /// (some kilobytes), a waiting one only its place in the queue, so
    /// thousands of waits stay small when the server is slower than their
    /// polls come due (BENCHMARKS.md, goal 4). Explicit
    /// [`Operation::poll`](crate::Operation::poll) calls are not counted.
    /// [`build`](Self::build) refuses 0.
    ///
    /// ```
    /// let builder = yc_billing::Client::builder().max_concurrent_polls(1024);
    /// # drop(builder);
    /// ```
    pub fn max_concurrent_polls(mut self, polls: usize) -> Self {
        self.max_concurrent_polls = polls;
        self
    }

    /// The default retry policy of every call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry budget shared by all calls, IAM exchanges, metadata
    /// requests and discovery of the client (default
    /// [`RetryBudget::standard`]; [`RetryBudget::unlimited`] turns it off).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Authenticates with these credentials; tokens are cached and refreshed
    /// early by a [`TokenCache`].
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.auth = Auth::Credentials(credentials);
        self
    }

    /// Authenticates with a fixed IAM token (shorthand for
    /// [`Credentials::iam_token`]).
    pub fn iam_token(self, token: impl Into<String>) -> Self {
        self.credentials(Credentials::iam_token(token))
    }

    /// The clock of the token cache and JWTs; tests inject a
    /// [`ManualClock`](crate::auth::ManualClock) to cross expiries without sleeping.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Appends to the `user-agent` (which always names this crate and version).
    pub fn user_agent(mut self, product: impl Into<String>) -> Self {
        self.user_agent = Some(product.into());
        self
    }

    fn user_agent_value(&self) -> String {
        let base = concat!("yc-billing-rust/", env!("CARGO_PKG_VERSION"));
        match &self.user_agent {
            Some(extra) => format!("{extra} {base}"),
            None => base.to_owned(),
        }
    }

    /// Resolves an address given as `host:port` or as a URL into a URI.
    fn uri_for(&self, setting: &str, address: &str) -> Result<Uri> {
        let with_scheme = if address.contains("://") {
            address.to_owned()
        } else if self.plaintext {
            format!("http://{address}")
        } else {
            format!("https://{address}")
        };
        let uri: Uri = with_scheme.parse().map_err(|e| {
            Error::config(setting, format!("{address:?} is not a valid address: {e}"))
        })?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(Error::config(
                    setting,
                    format!("{address:?}: the scheme must be http or https"),
                ));
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(Error::config(setting, format!("{address:?} has no host")));
        }
        if uri.port_u16().is_none() && !address.contains("://") {
            return Err(Error::config(
                setting,
                format!("{address:?} has no port (expected host:port)"),
            ));
        }
        Ok(uri)
    }

    /// The root certificates that verify servers, as the builder was told.
    fn root_store(&self) -> Result<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.roots {
            Roots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Roots::Native => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(Error::config(
                        "native_roots",
                        format!(
                            "the system's certificate store has no usable root certificate \
                             ({} errors reading it)",
                            found.errors.len()
                        ),
                    ));
                }
            }
            Roots::Custom(pem) => {
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject;
                let certs = CertificateDer::pem_slice_iter(pem)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::config("ca_certificate", format!("not a PEM certificate: {e}"))
                    })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(Error::config(
                        "ca_certificate",
                        "must hold at least one X.509 certificate (PEM)",
                    ));
                }
            }
        }
        Ok(roots)
    }

    fn channel(
        &self,
        uri: &Uri,
        user_agent: &HeaderValue,
        roots: &mut Option<rustls::RootCertStore>,
    ) -> Result<Channel> {
        let tls = if uri.scheme_str() == Some("https") {
            let roots = match roots {
                Some(r) => r.clone(),
                None => roots.insert(self.root_store()?).clone(),
            };
            let name = self
                .tls_domain
                .as_deref()
                .unwrap_or(crate::transport::host_of(uri));
            // The setting the name came from.
            let field = if self.tls_domain.is_some() {
                "tls_domain"
            } else {
                "endpoint"
            };
            Some(crate::transport::Tls::new(roots, name).map_err(|e| {
                Error::config(field, format!("{name:?} is not a TLS server name: {e}"))
            })?)
        } else {
            None
        };
        let settings = crate::transport::Settings {
            connect_timeout: self.connect_timeout,
            keep_alive_interval: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(10),
            user_agent: user_agent.clone(),
            tls,
        };
        Channel::lazy(uri, settings).map_err(|e| Error::config("endpoint", e))
    }

    /// Checks the settings, resolves endpoints (with discovery if asked) and
    /// prepares one lazily connected channel per distinct endpoint.
    pub async fn build(mut self) -> Result<Client> {
        if let Some(e) = self.errors.drain(..).next() {
            return Err(e);
        }
        check_timeout("request_timeout", self.request_timeout)?;
        check_timeout("connect_timeout", self.connect_timeout)?;
        if self.max_pages == 0 {
            return Err(Error::config("max_pages", "must be at least 1"));
        }
        if self.max_concurrent_polls == 0 {
            return Err(Error::config("max_concurrent_polls", "must be at least 1"));
        }
        if self.max_response_size == 0 {
            return Err(Error::config(
                "max_response_size",
                "must be at least 1 byte",
            ));
        }
        let user_agent = HeaderValue::from_str(&self.user_agent_value())
            .map_err(|e| Error::config("user_agent", e.to_string()))?;
        let mut roots = None;
        let budget = Arc::new(self.budget.bucket());
        let mut addresses: HashMap<Service, String> = HashMap::new();
        for s in [Service::Billing, Service::Operation, Service::Iam] {
            addresses.insert(s, self.region.endpoint(s));
        }
        if self.discovery {
            let discovery = self
                .discovery_endpoint
                .clone()
                .or_else(|| self.overrides.get(&Service::Discovery).cloned())
                .unwrap_or_else(|| self.region.endpoint(Service::Discovery));
            let uri = self.uri_for("discovery_endpoint", &discovery)?;
            let channel = self.channel(&uri, &user_agent, &mut roots)?;
            let stub = ApiEndpointServiceClient::new(HeadersLayer::new().layer_on(channel));
            let deadline = Instant::now() + self.request_timeout;
            let schedule = Schedule {
                max_attempts: self.retry.attempts(),
                deadline: Some(deadline),
                budget: Some(&budget),
                timer: &TokioTimer,
            };
            let attempt = |_| {
                let mut stub = stub.clone();
                let remaining = deadline.saturating_duration_since(Instant::now());
                let mut request = tonic::Request::new(ListApiEndpointsRequest::default());
                request.set_timeout(remaining);
                async move {
                    tokio::time::timeout(remaining, stub.list(request))
                        .await
                        .map_err(|_| None)?
                        .map_err(Some)
                }
            };
            let retry = &self.retry;
            let classify = |failure: &Option<tonic::Status>, _| match failure {
                // No answer within the deadline: nothing left to retry in.
                None => Verdict::Stop,
                Some(status) => {
                    let cost = match crate::transport::diagnose::classify(status) {
                        Some(_) => crate::retry::Cost::Transport,
                        None => crate::retry::Cost::Rpc,
                    };
                    retry.verdict_for_code(status.code(), cost)
                }
            };
            let found = crate::retry::run::run(schedule, attempt, classify)
                .await
                .map_err(|failure| match failure.error {
                    None => Error::config(
                        "discovery_endpoint",
                        format!("{discovery}: no answer within {:?}", self.request_timeout),
                    ),
                    Some(status) => Error::from(RpcError::from_status(
                        crate::proto::paths::endpoint::api_endpoint_service::LIST,
                        &status,
                    )),
                })?
                .into_inner();
            for s in [Service::Billing, Service::Operation, Service::Iam] {
                if let Some(e) = found.endpoints.iter().find(|e| e.id == s.endpoint_id()) {
                    addresses.insert(s, e.address.clone());
                }
            }
        }
        for (s, a) in &self.overrides {
            if *s != Service::Discovery {
                addresses.insert(*s, a.clone());
            }
        }

        let mut uris = HashMap::new();
        for (s, a) in &addresses {
            let setting = format!("{}_endpoint", s.endpoint_id());
            uris.insert(*s, self.uri_for(&setting, a)?);
        }

        // A bearer token must not cross a network in the clear.
        if !matches!(self.auth, Auth::None) && !self.allow_plaintext_bearer_to_remote {
            // IAM too: CreateForServiceAccount and Revoke carry the token.
            for s in [Service::Billing, Service::Operation, Service::Iam] {
                let uri = &uris[&s];
                if uri.scheme_str() == Some("http") && !is_loopback(uri.host().unwrap_or("")) {
                    return Err(Error::config(
                        format!("{}_endpoint", s.endpoint_id()),
                        format!(
                            "refusing to send a bearer token over plaintext to {}, which is not a \
                             loopback address; use TLS, or allow_plaintext_bearer_to_remote(true)",
                            uri.host().unwrap_or("")
                        ),
                    ));
                }
            }
        }

        // One channel per distinct endpoint, shared by every service on it.
        let mut channels: HashMap<String, Channel> = HashMap::new();
        let mut by_service = HashMap::new();
        for (s, uri) in &uris {
            let key = uri.to_string();
            let channel = match channels.get(&key) {
                Some(c) => c.clone(),
                None => {
                    let c = self.channel(uri, &user_agent, &mut roots)?;
                    channels.insert(key, c.clone());
                    c
                }
            };
            by_service.insert(*s, channel);
        }

        let cache = match self.auth {
            Auth::None => None,
            Auth::Credentials(credentials) => {
                let exchange = IamExchange::new(by_service[&Service::Iam].clone(), self.region)
                    .clock(self.clock.clone())
                    .timeout(self.request_timeout)
                    .retry_policy(self.retry.clone())
                    .shared_budget(Arc::clone(&budget));
                Some(credentials.into_cache(exchange))
            }
        };
        let auth = match &cache {
            Some(cache) => AuthLayer::new(cache.clone()),
            None => AuthLayer::without_credentials(),
        };
        let stack = |c: &Channel| -> Transport {
            ServiceBuilder::new()
                .layer(auth.clone())
                .layer(HeadersLayer::new())
                .service(c.clone())
        };
        Ok(Client {
            inner: Arc::new(Inner {
                billing: stack(&by_service[&Service::Billing]),
                operation: stack(&by_service[&Service::Operation]),
                iam: stack(&by_service[&Service::Iam]),
                endpoints: uris.iter().map(|(s, u)| (*s, u.to_string())).collect(),
                targets: uris.iter().map(|(s, u)| (*s, Target::of(u))).collect(),
                auth: cache,
                retry: self.retry,
                budget,
                timeout: self.request_timeout,
                max_pages: self.max_pages,
                max_response_size: self.max_response_size,
                polls: Arc::new(tokio::sync::Semaphore::new(
                    self.max_concurrent_polls
                        .min(tokio::sync::Semaphore::MAX_PERMITS),
                )),
            }),
        })
    }
}

impl HeadersLayer {
    fn layer_on<S>(&self, inner: S) -> HeadersService<S> {
        tower::Layer::layer(self, inner)
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where a service's calls go, as error messages name it.
struct Target {
    /// `host:port`, the port filled in from the scheme when the URL has none.
    authority: String,
    plaintext: bool,
}

impl Target {
    fn of(uri: &Uri) -> Self {
        Target {
            // The host as written (an IPv6 literal keeps its brackets).
            authority: format!(
                "{}:{}",
                uri.host().unwrap_or_default(),
                crate::transport::port_of(uri)
            ),
            plaintext: uri.scheme_str() == Some("http"),
        }
    }
}

/// The service a gRPC method belongs to, by its package.
fn service_of(method: &str) -> Service {
    let package = method.trim_start_matches('/');
    if package.starts_with("yandex.cloud.operation.") {
        Service::Operation
    } else if package.starts_with("yandex.cloud.iam.") {
        Service::Iam
    } else {
        Service::Billing
    }
}

struct Inner {
    billing: Transport,
    operation: Transport,
    iam: Transport,
    endpoints: HashMap<Service, String>,
    targets: HashMap<Service, Target>,
    /// The token cache of the client's credentials (`None` without credentials).
    auth: Option<TokenCache>,
    retry: RetryPolicy,
    budget: Arc<Bucket>,
    timeout: Duration,
    max_pages: u32,
    max_response_size: usize,
    /// Permits of the operation waits' polls ([`ClientBuilder::max_concurrent_polls`]).
    polls: Arc<tokio::sync::Semaphore>,
}

/// A handle to the Billing API: cheap to clone, `Send + Sync`, one shared
/// channel per endpoint. Build it with [`Client::builder`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints)
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with the defaults: region `ru`, TLS with webpki roots,
    /// 10 s connect timeout, 30 s request timeout, the standard retry policy.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The transport (authorization and header layers over the shared channel)
    /// of the Billing services, for use with raw generated stubs.
    pub fn billing_transport(&self) -> Transport {
        self.inner.billing.clone()
    }

    /// The transport of `OperationService`.
    pub fn operation_transport(&self) -> Transport {
        self.inner.operation.clone()
    }

    /// The transport of `IamTokenService`: the authorization header on
    /// `CreateForServiceAccount` and `Revoke`, none on `Create` (see
    /// [`needs_authorization`](crate::transport::needs_authorization)).
    pub fn iam_transport(&self) -> Transport {
        self.inner.iam.clone()
    }

    /// The IAM token the client's calls carry now, fetched or refreshed by
    /// its [`TokenCache`] when needed (for example to hand it to another
    /// tool). A client built without credentials is an [`Error::Auth`].
    pub async fn token(&self) -> Result<crate::auth::AccessToken> {
        match &self.inner.auth {
            Some(cache) => cache.token().await,
            None => Err(Error::Auth(crate::error::AuthError::no_credentials(
                Vec::new(),
            ))),
        }
    }

    /// The resolved endpoint of a service, as a URL.
    pub fn endpoint(&self, service: Service) -> Option<&str> {
        self.inner.endpoints.get(&service).map(String::as_str)
    }

    /// The client's default retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The page bound of the List calls' `.stream()` (see
    /// [`ClientBuilder::max_pages`]).
    pub fn max_pages(&self) -> u32 {
        self.inner.max_pages
    }

    /// Waits for a turn to poll an operation (see
    /// [`ClientBuilder::max_concurrent_polls`]); the turn lasts as long as
    /// the permit.
    pub(crate) async fn poll_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed: `None` cannot happen, and would
        // only mean polling without a turn.
        self.inner.polls.acquire().await.ok()
    }

    /// The largest response the client decodes (see
    /// [`ClientBuilder::max_response_size`]).
    pub fn max_response_size(&self) -> usize {
        self.inner.max_response_size
    }

    /// Runs one unary call with the client's deadline, retry policy, retry
    /// budget, request ids and idempotency key, mapping failures to [`Error`].
    ///
    /// Public and stable on purpose: it is the extension point for RPCs that
    /// have no wrapper in [`services`](crate::services) yet, called with a
    /// raw generated stub on one of the client's transports, and every
    /// wrapper goes through it too.
    ///
    /// `method` is the gRPC path (`/package.Service/Method`); `call` sends one
    /// attempt on a stub of the caller's choice. A per-call timeout beyond
    /// [`MAX_TIMEOUT`] is [`Error::Config`] and sends nothing. The request message is cloned
    /// for each attempt; the `idempotency-key` and `x-client-trace-id` stay
    /// the same on every attempt, `x-client-request-id` is fresh each time.
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// use yc_billing::CallOptions;
    /// use yc_billing::proto::yandex::cloud::billing::v1::{
    ///     GetBillingAccountRequest, billing_account_service_client::BillingAccountServiceClient,
    /// };
    ///
    /// let stub = BillingAccountServiceClient::new(client.billing_transport());
    /// let request = GetBillingAccountRequest { id: "dn2...".into() };
    /// // The gRPC path, as the wrapper knows it.
    /// let method = client.billing_accounts().get("").method();
    /// let account = client
    ///     .execute(
    ///         method,
    ///         request,
    ///         &CallOptions::new(),
    ///         |r| {
    ///             let mut stub = stub.clone();
    ///             async move { stub.get(r).await }
    ///         },
    ///     )
    ///     .await?
    ///     .into_inner();
    /// # let _ = account; Ok(()) }
    /// ```
    pub async fn execute<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        request: Req,
        options: &CallOptions,
        mut call: F,
    ) -> Result<tonic::Response<Resp>>
    where
        Req: Clone,
        F: FnMut(tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let policy = options.retry.as_ref().unwrap_or(&self.inner.retry);
        let timeout = match options.timeout {
            Some(t) => {
                check_max_timeout("timeout", t)?;
                t
            }
            None => self.inner.timeout,
        };
        let deadline = Instant::now() + timeout;
        let trace_id = crate::transport::random_uuid();
        let trace_header = crate::transport::uuid_header(trace_id);
        let idempotency_key = if is_mutating(method) {
            Some(match &options.idempotency_key {
                Some(key) => {
                    let mut value = http::HeaderValue::from_str(key)
                        .map_err(|_| Error::config(IDEMPOTENCY_KEY, "must be printable ASCII"))?;
                    // One value per call: never worth an HPACK table entry.
                    value.set_sensitive(true);
                    value
                }
                None => crate::transport::uuid_header(crate::transport::random_uuid()),
            })
        } else {
            None
        };
        let mut reauthenticated = false;
        let schedule = Schedule {
            max_attempts: policy.attempts(),
            deadline: Some(deadline),
            budget: Some(&self.inner.budget),
            timer: &TokioTimer,
        };
        let attempt = |attempt: u32| {
            let request_id = crate::transport::random_uuid();
            let remaining = deadline.saturating_duration_since(Instant::now());
            // Sized for every header of the request (ours, tonic's, the
            // layers'), so that it never grows on the way.
            let mut headers = http::HeaderMap::with_capacity(REQUEST_HEADERS_CAPACITY);
            headers.insert(
                crate::transport::names::CLIENT_REQUEST_ID,
                crate::transport::uuid_header(request_id),
            );
            headers.insert(
                crate::transport::names::CLIENT_TRACE_ID,
                trace_header.clone(),
            );
            if let Some(key) = &idempotency_key {
                headers.insert(crate::transport::names::IDEMPOTENCY, key.clone());
            }
            let mut req = tonic::Request::from_parts(
                tonic::metadata::MetadataMap::from_headers(headers),
                tonic::Extensions::new(),
                request.clone(),
            );
            req.set_timeout(remaining);
            // `grpc-timeout` differs on every call: keep it out of the HPACK table too.
            if let Some(v) = req.metadata_mut().get_mut("grpc-timeout") {
                v.set_sensitive(true);
            }
            let span = tracing::debug_span!(
                "yc_billing.rpc",
                method,
                attempt,
                request_id = %request_id,
                trace_id = %trace_id,
            );
            let sent = tokio::time::timeout(remaining, call(req)).instrument(span.clone());
            // A combinator, not an `async` block: a block would hold `sent`
            // twice (as captured and as awaited), doubling the call's future.
            sent.map(move |outcome| {
                let status = match outcome {
                    Ok(Ok(response)) => return Ok(response),
                    // A server enforcing the `grpc-timeout` we sent may answer
                    // first, and tonic servers answer CANCELLED "Timeout expired":
                    // that is our deadline, not a cancellation.
                    Ok(Err(status))
                        if status.code() == tonic::Code::Cancelled
                            && deadline.saturating_duration_since(Instant::now())
                                <= DEADLINE_TOLERANCE =>
                    {
                        deadline_exceeded(timeout)
                    }
                    Ok(Err(status)) => status,
                    Err(_) => deadline_exceeded(timeout),
                };
                span.in_scope(|| {
                    tracing::debug!(code = ?status.code(), message = status.message(), "attempt failed");
                });
                Err((self.map_failure(method, &status, request_id), status.code()))
            })
        };
        let classify = |(error, code): &(Error, tonic::Code), _attempt: u32| {
            // A rejected token may have been revoked or expired early: fetch a new one once.
            if *code == tonic::Code::Unauthenticated
                && matches!(error, Error::Rpc(_))
                && !std::mem::replace(&mut reauthenticated, true)
            {
                if let Some(cache) = &self.inner.auth {
                    cache.invalidate();
                }
                return Verdict::RetryNow;
            }
            match policy.verdict(error) {
                Some((backoff, cost)) => Verdict::Retry { backoff, cost },
                None => Verdict::Stop,
            }
        };
        match crate::retry::run::run(schedule, attempt, classify).await {
            Ok(response) => Ok(response),
            Err(failure) => {
                if failure.stopped == Stopped::Budget {
                    tracing::debug!(
                        method,
                        attempts = failure.attempts,
                        "retry budget spent: not retrying"
                    );
                }
                let (error, _) = failure.error;
                Err(self.diagnose(error).await)
            }
        }
    }
}

impl Client {
    /// The crate's error for a failed attempt: a transport failure names the
    /// endpoint of the method's service; anything else is [`map_status`].
    fn map_failure(&self, method: &str, status: &tonic::Status, request_id: uuid::Uuid) -> Error {
        match crate::transport::diagnose::classify(status) {
            Some((kind, cause)) => {
                let endpoint = self
                    .inner
                    .targets
                    .get(&service_of(method))
                    .map(|t| t.authority.clone())
                    .unwrap_or_default();
                TransportError::new(endpoint, method, kind, cause)
                    .with_client_request_id(request_id.to_string())
                    .into()
            }
            None => map_status(method, status, request_id),
        }
    }

    /// Before a transport failure of a plaintext call is returned: a one-off
    /// probe tells whether the server speaks TLS instead (bounded by
    /// [`diagnose::PROBE_TIMEOUT`](crate::transport::diagnose::PROBE_TIMEOUT)).
    async fn diagnose(&self, error: Error) -> Error {
        let Error::Transport(mut t) = error else {
            return error;
        };
        if t.kind() == TransportErrorKind::Other {
            let plaintext = self
                .inner
                .targets
                .get(&service_of(t.method()))
                .is_some_and(|target| target.plaintext);
            if plaintext && crate::transport::diagnose::speaks_tls(t.endpoint()).await {
                t.set_kind(TransportErrorKind::PlaintextToTlsServer);
            }
        }
        Error::Transport(t)
    }
}

fn deadline_exceeded(timeout: Duration) -> tonic::Status {
    tonic::Status::deadline_exceeded(format!(
        "no answer within the call's deadline of {timeout:?}"
    ))
}

/// Turns a failed attempt into the crate's error, recovering a credentials
/// error that a layer passed through tonic as the status's source.
fn map_status(method: &str, status: &tonic::Status, request_id: uuid::Uuid) -> Error {
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if let Some(err) = e.downcast_ref::<Error>() {
            match err {
                Error::Auth(a) => return Error::Auth(a.clone()),
                Error::Config { field, reason } => return Error::config(field, reason),
                _ => {}
            }
        }
        source = e.source();
    }
    RpcError::from_status(method, status)
        .with_client_request_id(request_id.to_string())
        .into()
}
