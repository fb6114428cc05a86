//! An emulator of the Yandex Cloud Billing, Operation, IAM token and API
//! endpoint services, for integration tests and local development.
//!
//! [`Emulator::builder`] starts a real gRPC server on loopback (and, by
//! default, a VM metadata HTTP endpoint); the returned [`EmulatorHandle`]
//! reports the address and the seeded credentials, lets a test inspect the
//! state, inject faults and shut the server down.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use yc_billing::emulator::{Emulator, Faults, Seed};
//! let emu = Emulator::builder()
//!     .seed(Seed::default())
//!     .operation_delay(Duration::from_millis(50))
//!     .faults(Faults::default().latency(Duration::from_millis(1)))
//!     .start()
//!     .await?;
//! println!("{} {}", emu.endpoint(), emu.credentials().subject_id);
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Behaviour in short: mutating calls return a pending
//! `Operation` that completes after [`EmulatorBuilder::operation_delay`] (or on
//! the N-th `OperationService.Get`); requests are validated with the rules in
//! the protos' `yandex.cloud.*` options; every call except
//! `IamTokenService.Create` and `ApiEndpointService` needs exactly one
//! `authorization: Bearer <IAM token>` header; responses carry `x-request-id`
//! and `x-server-trace-id`; mutating calls honour the `idempotency-key`
//! header, scoped to the calling subject and method.
//!
//! Access control: roles on billing accounts (and the reseller account
//! serving them) for the Billing services; `CreateForServiceAccount` needs
//! [`TOKEN_CREATOR_ROLE`] (or `editor`, `admin`) on the service account
//! ([`Seed::service_account_access_bindings`]); `Revoke` works for the
//! token's own subject or an `admin` of it, and answers anyone else like an
//! unknown token (`NOT_FOUND`); another subject's operation answers like a
//! missing one (`NOT_FOUND`).

mod auth;
mod conn;
mod faults;
mod layer;
mod metadata_http;
mod operations;
pub(crate) mod paging;
#[cfg(test)]
mod proptests;
mod seed;
mod services;
mod state;
mod text;
pub(crate) mod validation;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::{
    JWT_AUDIENCES, JWT_LEEWAY_SECS, MAX_JWT_LIFETIME_SECS, PRIVATE_KEY_PREFIX,
    ServiceAccountKeyFile,
};
pub use faults::{Faults, parse_code};
pub use paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use seed::{
    CustomerStatus, DEFAULT_IAM_TOKEN, DEFAULT_OAUTH_TOKEN, DEFAULT_RESELLER_ID,
    DEFAULT_SERVICE_ACCOUNT_ID, DEFAULT_SUBJECT_ID, NO_RIGHTS_IAM_TOKEN, NO_RIGHTS_SUBJECT_ID,
    Seed, SeedAccessBinding, SeedBillingAccount, SeedCustomer, SeedPerson,
    SeedServiceAccountBinding, SeedToken, TOKEN_CREATOR_ROLE,
};
pub use state::CustomerRecord;
pub use text::{ECHO_CHARS, MAX_DESCRIPTION_CHARS, MAX_TEXT_CHARS};

use crate::proto::yandex::cloud::access::AccessBinding;
use crate::proto::yandex::cloud::billing::v1::{BillableObjectBinding, BillingAccount, Customer};
use faults::FaultRuntime;
use layer::CallCounters;
use operations::Completion;
use paging::PageTokens;
use state::{IamTokenEntry, State};
use validation::Validator;

/// Entry point: `Emulator::builder()`.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults (loopback port 0, default seed, 50 ms
    /// operation delay, 12 h IAM token TTL, metadata server on).
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Could not bind or serve.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Bad TLS certificate or key.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Bad seed.
    #[error("seed: {0}")]
    Seed(String),
}

/// Streams a client may have open at once on one connection to the emulator.
pub const MAX_CONCURRENT_STREAMS: u32 = 1000;

/// Default of [`EmulatorBuilder::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default interval of [`EmulatorBuilder::http2_keepalive`].
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Default timeout of [`EmulatorBuilder::http2_keepalive`].
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request message the emulator decodes (4 MiB, gRPC's usual
/// default); a larger one answers RESOURCE_EXHAUSTED.
pub const MAX_REQUEST_BYTES: usize = services::MAX_REQUEST_BYTES;

/// Configures and starts an emulator.
#[derive(Clone)]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    seed: Seed,
    operation_delay: Duration,
    complete_after_gets: Option<u32>,
    random_operation_delay: Option<(Duration, u64)>,
    iam_token_ttl: Duration,
    poll_interval_hint: Option<Duration>,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    faults: Faults,
    metadata_server: bool,
    metadata_listen: SocketAddr,
    clock: Arc<dyn crate::auth::Clock>,
    handshake_timeout: Duration,
    keepalive: (Duration, Duration),
    strict_person_fields: bool,
}

impl std::fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("listen", &self.listen)
            .field("operation_delay", &self.operation_delay)
            .field("complete_after_gets", &self.complete_after_gets)
            .field("random_operation_delay", &self.random_operation_delay)
            .field("iam_token_ttl", &self.iam_token_ttl)
            .field("tls", &self.tls.is_some())
            .field("faults", &self.faults)
            .field("metadata_server", &self.metadata_server)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("keepalive", &self.keepalive)
            .field("strict_person_fields", &self.strict_person_fields)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        let loopback: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
        Self {
            listen: loopback,
            seed: Seed::default(),
            operation_delay: Duration::from_millis(50),
            complete_after_gets: None,
            random_operation_delay: None,
            iam_token_ttl: Duration::from_secs(12 * 3600),
            clock: Arc::new(crate::auth::SystemClock),
            poll_interval_hint: None,
            tls: None,
            faults: Faults::default(),
            metadata_server: true,
            metadata_listen: loopback,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive: (DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT),
            strict_person_fields: false,
        }
    }
}

impl EmulatorBuilder {
    /// gRPC listen address (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Initial state.
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = seed;
        self
    }

    /// Operations complete this long after creation (default 50 ms).
    pub fn operation_delay(mut self, delay: Duration) -> Self {
        self.operation_delay = delay;
        self
    }

    /// Operations complete on their N-th `OperationService.Get` instead of
    /// after a delay (N = 0 completes them on the first look).
    pub fn complete_after_gets(mut self, gets: u32) -> Self {
        self.complete_after_gets = Some(gets);
        self
    }

    /// Each operation completes after its own delay, drawn uniformly from
    /// `[0, max]` by a random source seeded with `seed` (the same order of
    /// calls gives the same delays), instead of after
    /// [`operation_delay`](Self::operation_delay). The `modified_at` of such
    /// an operation once done is the time it was due, `created_at` plus its
    /// delay. [`complete_after_gets`](Self::complete_after_gets) takes
    /// precedence.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use yc_billing::emulator::Emulator;
    /// // Operations finish at random times over 10 s.
    /// let emu = Emulator::builder()
    ///     .random_operation_delay(Duration::from_secs(10), 42)
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn random_operation_delay(mut self, max: Duration, seed: u64) -> Self {
        self.random_operation_delay = Some((max, seed));
        self
    }

    /// Lifetime of issued IAM tokens (default 12 h).
    pub fn iam_token_ttl(mut self, ttl: Duration) -> Self {
        self.iam_token_ttl = ttl;
        self
    }

    /// The clock that issues and expires IAM tokens and checks JWT times
    /// (default: the system clock). Share a
    /// [`ManualClock`](crate::auth::ManualClock) with the client to cross
    /// token expiries in tests without sleeping.
    pub fn clock(mut self, clock: Arc<dyn crate::auth::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends `x-operation-poll-interval: <secs>` on operation responses.
    pub fn poll_interval_hint(mut self, hint: Duration) -> Self {
        self.poll_interval_hint = Some(hint);
        self
    }

    /// Serves TLS with this PEM certificate chain and PEM private key.
    pub fn tls(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Fault injection.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Whether to start the VM metadata HTTP endpoint (default true).
    pub fn metadata_server(mut self, on: bool) -> Self {
        self.metadata_server = on;
        self
    }

    /// Listen address of the metadata endpoint (default `127.0.0.1:0`).
    pub fn metadata_listen(mut self, addr: SocketAddr) -> Self {
        self.metadata_listen = addr;
        self
    }

    /// A connection must finish its handshake within this time or is closed
    /// (default 10 s, [`DEFAULT_HANDSHAKE_TIMEOUT`]): in plaintext the HTTP/2
    /// preface and first frame header, over TLS the TLS handshake and then
    /// the first call. Zero is taken as 1 ms.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// HTTP/2 keepalive: after `interval` without a frame from the client the
    /// emulator sends a PING and closes the connection when it is not
    /// acknowledged within `timeout` (defaults 30 s and 10 s). Zero values
    /// are taken as 1 ms.
    pub fn http2_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        let min = Duration::from_millis(1);
        self.keepalive = (interval.max(min), timeout.max(min));
        self
    }

    /// Enforces the rules the API reference documents for `CustomerPerson`
    /// (off by default: the protos carry no such rule and the real API's
    /// behaviour is unverified). `Invite` and `CreateResellerServed` then
    /// answer INVALID_ARGUMENT naming `person.phone` ("must be a valid
    /// telephone number or a valid phoneword": 3 to 32 characters of ASCII
    /// digits, letters, spaces and `+ - ( ) .`, at least one digit and three
    /// digits or letters, `+` only first, balanced parentheses) or
    /// `person.email` ("must be a valid email address", the check of
    /// `invitation_email`). Empty fields pass.
    ///
    /// ```
    /// let builder = yc_billing::emulator::Emulator::builder().strict_person_fields(true);
    /// assert!(format!("{builder:?}").contains("strict_person_fields: true"));
    /// ```
    pub fn strict_person_fields(mut self, on: bool) -> Self {
        self.strict_person_fields = on;
        self
    }

    /// Binds, starts serving and returns the handle.
    pub async fn start(self) -> Result<EmulatorHandle, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: self.listen,
                source,
            })?;
        let tls = self.tls.is_some();
        let host = if tls {
            "localhost".to_string()
        } else {
            addr.ip().to_string()
        };
        let api_address = format!("{host}:{}", addr.port());
        let endpoint = format!("{}://{api_address}", if tls { "https" } else { "http" });
        // SDKs sign `https://iam.<endpoint>/iam/v1/tokens`; accept it for
        // every name the emulator can be dialled by.
        let mut jwt_audiences = vec![auth::jwt_audience_for(&api_address)];
        for other in [format!("localhost:{}", addr.port()), addr.to_string()] {
            let aud = auth::jwt_audience_for(&other);
            if !jwt_audiences.contains(&aud) {
                jwt_audiences.push(aud);
            }
        }

        let seed = &self.seed;
        let mut state = State::from_seed(seed);
        state.random_delay = self.random_operation_delay.map(|(max, seed)| {
            (
                max,
                <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed),
            )
        });
        let iam_token = seed
            .iam_tokens
            .iter()
            .find(|t| t.subject_id == seed.default_subject_id)
            .map(|t| t.token.clone())
            .unwrap_or_default();
        let oauth_token = seed
            .oauth_tokens
            .iter()
            .find(|t| t.subject_id == seed.default_subject_id)
            .map(|t| t.token.clone())
            .unwrap_or_default();
        let credentials = SeededCredentials {
            iam_token,
            oauth_token,
            subject_id: seed.default_subject_id.clone(),
            reseller_id: seed.default_reseller_id.clone(),
            service_account_id: seed.service_accounts.first().cloned().unwrap_or_default(),
        };
        let validator = Validator::new();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(FaultRuntime::new(self.faults.clone())),
            calls: CallCounters::new(validator.methods_of(services::SERVED_SERVICES)),
            iam_exchanges: AtomicU64::new(0),
            completion: Completion {
                delay: self.operation_delay,
                after_gets: self.complete_after_gets,
            },
            iam_token_ttl: self.iam_token_ttl,
            clock: self.clock.clone(),
            poll_hint: self.poll_interval_hint,
            validator,
            strict_person_fields: self.strict_person_fields,
            pages: PageTokens::new(),
            api_address,
            jwt_audiences,
            default_subject: seed.default_subject_id.clone(),
            reseller_id: seed.default_reseller_id.clone(),
        });

        // Like production gRPC servers, bound the streams per connection so a
        // client bursting thousands of calls queues them on its side; h2
        // otherwise buffers every request's DATA frame and, past its budget of
        // small frames, closes the connection with ENHANCE_YOUR_CALM.
        // Keepalive pings drop established connections whose peer is gone.
        let mut server = tonic::transport::Server::builder()
            .max_concurrent_streams(Some(MAX_CONCURRENT_STREAMS))
            .initial_connection_window_size(Some(4 * 1024 * 1024))
            .initial_stream_window_size(Some(1024 * 1024))
            .http2_keepalive_interval(Some(self.keepalive.0))
            .http2_keepalive_timeout(Some(self.keepalive.1));
        if let Some((cert, key)) = &self.tls {
            let identity = tonic::transport::Identity::from_pem(cert, key);
            server = server
                .tls_config(
                    tonic::transport::ServerTlsConfig::new()
                        .identity(identity)
                        .timeout(self.handshake_timeout),
                )
                .map_err(|e| EmulatorError::Tls(e.to_string()))?;
        }
        let (tx, rx) = oneshot::channel::<()>();
        let router = services::router(server, shared.clone());
        // Nagle's algorithm on the accepted sockets holds small responses
        // back until the client's delayed ACK (~40 ms per sequential call).
        // TCP keepalive too, for peers that vanish without a FIN. Accept
        // errors (EMFILE) back off instead of spinning; see `conn`.
        let incoming = conn::Accept::new(
            tonic::transport::server::TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(Duration::from_secs(60))),
            self.handshake_timeout,
            tls,
        );
        let join = tokio::spawn(async move {
            let signal = async {
                let _ = rx.await;
            };
            if let Err(e) = router.serve_with_incoming_shutdown(incoming, signal).await {
                tracing::error!(error = %e, "emulator server stopped with an error");
            }
        });

        let mut metadata = None;
        if self.metadata_server {
            let listener = tokio::net::TcpListener::bind(self.metadata_listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: self.metadata_listen,
                    source,
                })?;
            let maddr = listener
                .local_addr()
                .map_err(|source| EmulatorError::Bind {
                    addr: self.metadata_listen,
                    source,
                })?;
            let (mtx, mrx) = oneshot::channel::<()>();
            let mjoin = tokio::spawn(metadata_http::serve(listener, shared.clone(), mrx));
            metadata = Some((maddr, mtx, mjoin));
        }
        tracing::info!(%addr, tls, "emulator listening");
        Ok(EmulatorHandle {
            addr,
            endpoint,
            metadata_addr: metadata.as_ref().map(|m| m.0),
            credentials,
            shared,
            stop: Some(tx),
            join: Some(join),
            metadata_stop: metadata.map(|(_, tx, join)| (tx, join)),
        })
    }
}

/// Credentials of the seed's default subject.
#[derive(Clone, PartialEq, Eq)]
pub struct SeededCredentials {
    /// A never-expiring IAM token of the default subject.
    pub iam_token: String,
    /// An OAuth token of the default subject, exchangeable at `IamTokenService.Create`.
    pub oauth_token: String,
    /// The default subject, owner of the reseller account.
    pub subject_id: String,
    /// The reseller billing account id.
    pub reseller_id: String,
    /// The first seeded service account (editor of the reseller account;
    /// in the default seed the default subject may create tokens for it).
    pub service_account_id: String,
}

impl std::fmt::Debug for SeededCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeededCredentials")
            .field("iam_token", &"<redacted>")
            .field("oauth_token", &"<redacted>")
            .field("subject_id", &self.subject_id)
            .field("reseller_id", &self.reseller_id)
            .field("service_account_id", &self.service_account_id)
            .finish()
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<FaultRuntime>,
    pub calls: CallCounters,
    pub iam_exchanges: AtomicU64,
    pub completion: Completion,
    pub iam_token_ttl: Duration,
    pub clock: Arc<dyn crate::auth::Clock>,
    pub poll_hint: Option<Duration>,
    pub validator: Validator,
    pub strict_person_fields: bool,
    pub pages: PageTokens,
    pub api_address: String,
    pub jwt_audiences: Vec<String>,
    pub default_subject: String,
    pub reseller_id: String,
}

impl Shared {
    /// The state, with due operations completed.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.settle(self.completion);
        st
    }

    pub fn not_found_gets(&self) -> u32 {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .faults
            .operation_not_found_gets
    }

    pub fn issue_iam_token(&self, subject_id: &str, ttl: Duration) -> (String, SystemTime) {
        let token = auth::new_iam_token();
        let expires_at = self.clock.now() + ttl;
        self.lock().iam_tokens.insert(
            token.clone(),
            IamTokenEntry {
                subject_id: subject_id.to_string(),
                expires_at: Some(expires_at),
            },
        );
        (token, expires_at)
    }
}

/// A running emulator. Dropping it stops the servers; prefer
/// [`EmulatorHandle::shutdown`] for a graceful stop.
pub struct EmulatorHandle {
    addr: SocketAddr,
    endpoint: String,
    metadata_addr: Option<SocketAddr>,
    credentials: SeededCredentials,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<()>>,
    metadata_stop: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .field("endpoint", &self.endpoint)
            .field("metadata_addr", &self.metadata_addr)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// The gRPC socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:P`, or `https://localhost:P` with TLS.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The metadata HTTP endpoint's address, when it runs.
    pub fn metadata_addr(&self) -> Option<SocketAddr> {
        self.metadata_addr
    }

    /// Credentials of the default subject.
    pub fn credentials(&self) -> &SeededCredentials {
        &self.credentials
    }

    /// Generates and registers a key for `service_account_id`, which also
    /// becomes known and gets `billing.accounts.editor` on the reseller
    /// account; the default subject becomes `admin` of the service account
    /// (it may create and revoke its tokens, like the creator of a service
    /// account in the cloud).
    pub fn create_service_account_key(&self, service_account_id: &str) -> ServiceAccountKeyFile {
        let key = ServiceAccountKeyFile::generate(service_account_id);
        let mut st = self.shared.lock();
        st.sa_keys.insert(
            key.id.clone(),
            (service_account_id.to_string(), key.public_key.clone()),
        );
        st.service_accounts.insert(service_account_id.to_string());
        let reseller = self.shared.reseller_id.clone();
        st.add_binding(
            &reseller,
            "billing.accounts.editor",
            service_account_id,
            "serviceAccount",
        );
        let owner = self.shared.default_subject.clone();
        st.add_sa_binding(service_account_id, "admin", &owner, "userAccount");
        key
    }

    /// Gives `subject_id` a role on a service account (immediately), e.g.
    /// [`TOKEN_CREATOR_ROLE`] to let it call `CreateForServiceAccount`, or
    /// `admin` to let it also revoke the service account's tokens.
    pub fn add_service_account_binding(
        &self,
        service_account_id: &str,
        role_id: &str,
        subject_id: &str,
    ) {
        self.shared
            .lock()
            .add_sa_binding(service_account_id, role_id, subject_id, "userAccount");
    }

    /// Issues an IAM token for `subject_id` that expires after `ttl`.
    pub fn issue_iam_token(&self, subject_id: &str, ttl: Duration) -> String {
        self.shared.issue_iam_token(subject_id, ttl).0
    }

    /// Makes `IamTokenService.Create` accept `token` as an OAuth token of `subject_id`.
    pub fn add_oauth_token(&self, token: &str, subject_id: &str) {
        self.shared
            .lock()
            .oauth_tokens
            .insert(token.to_string(), subject_id.to_string());
    }

    /// Gives `subject_id` the role on a billing account (immediately).
    pub fn add_access_binding(&self, billing_account_id: &str, role_id: &str, subject_id: &str) {
        self.shared
            .lock()
            .add_binding(billing_account_id, role_id, subject_id, "userAccount");
    }

    /// Calls that reached the server for `method`
    /// (`yandex.cloud.billing.v1.CustomerService/Invite`), faulted ones included.
    pub fn calls(&self, method: &str) -> u64 {
        self.shared.calls.get(method.trim_start_matches('/'))
    }

    /// The methods the emulator serves and counts
    /// (`yandex.cloud.billing.v1.CustomerService/Invite`, …), sorted. Fixed at
    /// start from the descriptor pool: calls of unknown paths answer
    /// UNIMPLEMENTED and add nothing here or anywhere else.
    pub fn served_methods(&self) -> Vec<String> {
        self.shared.calls.methods()
    }

    /// Successful `IamTokenService.Create` and `CreateForServiceAccount` calls
    /// (metadata endpoint tokens not included).
    pub fn iam_exchanges(&self) -> u64 {
        self.shared.iam_exchanges.load(Ordering::Relaxed)
    }

    /// Replaces the fault configuration (and restarts its counters and random source).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap_or_else(|e| e.into_inner()) = FaultRuntime::new(faults);
    }

    /// The next operation `method` creates will fail with `code` and
    /// `message` when it completes, without effect.
    pub fn fail_next_operation(&self, method: &str, code: tonic::Code, message: &str) {
        self.shared
            .lock()
            .fail_next
            .entry(method.trim_start_matches('/').to_string())
            .or_default()
            .push_back((code, message.to_string()));
    }

    /// Snapshot of all customers (API view).
    pub fn customers(&self) -> Vec<Customer> {
        self.shared
            .lock()
            .customers()
            .iter()
            .map(CustomerRecord::to_proto)
            .collect()
    }

    /// Snapshot of all customers with status and person data.
    pub fn customer_records(&self) -> Vec<CustomerRecord> {
        self.shared.lock().customers().to_vec()
    }

    /// Snapshot of all billing accounts.
    pub fn billing_accounts(&self) -> Vec<BillingAccount> {
        self.shared
            .lock()
            .accounts()
            .iter()
            .map(|a| a.proto.clone())
            .collect()
    }

    /// Access bindings on a billing account (empty when unknown).
    pub fn access_bindings(&self, billing_account_id: &str) -> Vec<AccessBinding> {
        self.shared
            .lock()
            .account(billing_account_id)
            .map(|a| a.access().to_vec())
            .unwrap_or_default()
    }

    /// Billable-object bindings of a billing account.
    pub fn billable_object_bindings(&self, billing_account_id: &str) -> Vec<BillableObjectBinding> {
        self.shared
            .lock()
            .account(billing_account_id)
            .map(|a| a.billable.clone())
            .unwrap_or_default()
    }

    /// Records (billing accounts, customers, access bindings, index entries)
    /// the emulator's read paths have looked at since it started: a
    /// diagnostic for tests and benchmarks that the work of a call follows
    /// its page, not the size of the state.
    pub fn records_examined(&self) -> u64 {
        self.shared.lock().examined()
    }

    /// Number of operations created so far.
    pub fn operation_count(&self) -> usize {
        self.shared.lock().operations.len()
    }

    /// Stops accepting calls, lets running calls finish and waits for the
    /// servers (at most 5 s; then the remaining connections are dropped).
    pub async fn shutdown(mut self) {
        self.stop_all();
        for join in [self.join.take(), self.metadata_stop.take().map(|(_, j)| j)]
            .into_iter()
            .flatten()
        {
            let abort = join.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), join)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn stop_all(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some((tx, _)) = &mut self.metadata_stop {
            let (dummy, _) = oneshot::channel();
            let _ = std::mem::replace(tx, dummy).send(());
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}
