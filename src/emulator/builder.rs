//! [`Emulator::builder`] and [`EmulatorBuilder::start`]: settings, binding,
//! the gRPC and metadata servers.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::admin::StateFile;
use super::catalogue::Catalogue;
use super::faults::{FaultRuntime, Faults};
use super::handle::{EmulatorHandle, SeededCredentials};
use super::journal::{DEFAULT_JOURNAL_SIZE, Journal};
use super::layer::CallCounters;
use super::operations::Completion;
use super::paging::PageTokens;
use super::seed::Seed;
use super::shared::ResetTo;
use super::shared::Shared;
use super::state::State;
use super::validation::Validator;
use super::{conn, metadata_http, serve, services};
use crate::time::{Clock, ManualClock, SystemClock};

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
    /// The admin API would listen beyond loopback: it has no authentication
    /// and shows and changes everyone's data, so it only binds loopback.
    #[error("the admin API listens on loopback only (it has no authentication), not {0}")]
    AdminNotLoopback(SocketAddr),
    /// The state file cannot be read or is not an emulator state.
    #[error("state file {}: {reason}", path.display())]
    StateFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Streams a client may have open at once on one connection to the emulator.
///
/// Production gRPC servers bound it too, so that a client bursting
/// thousands of calls queues them on its side; h2 would otherwise buffer
/// every request's DATA frame and, past its budget of small frames, close
/// the connection with `ENHANCE_YOUR_CALM`.
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
#[derive(Clone, derive_more::Debug)]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    #[debug(skip)]
    seed: Seed,
    operation_delay: Duration,
    complete_after_gets: Option<u32>,
    random_operation_delay: Option<(Duration, u64)>,
    iam_token_ttl: Duration,
    poll_interval_hint: Option<Duration>,
    #[debug("{}", tls.is_some())]
    tls: Option<(Vec<u8>, Vec<u8>)>,
    faults: Faults,
    metadata_server: bool,
    metadata_listen: SocketAddr,
    rest_listen: Option<SocketAddr>,
    #[debug(skip)]
    clock: Arc<dyn Clock>,
    handshake_timeout: Duration,
    keepalive: (Duration, Duration),
    strict_person_fields: bool,
    admin_listen: Option<SocketAddr>,
    journal_size: usize,
    #[debug("{}", manual_clock.is_some())]
    manual_clock: Option<ManualClock>,
    state_file: Option<std::path::PathBuf>,
    usage_rate_limit: Option<Duration>,
    catalogue: Option<Arc<Catalogue>>,
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
            clock: Arc::new(SystemClock),
            poll_interval_hint: None,
            tls: None,
            faults: Faults::default(),
            metadata_server: true,
            metadata_listen: loopback,
            rest_listen: Some(loopback),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive: (DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT),
            strict_person_fields: false,
            admin_listen: None,
            journal_size: DEFAULT_JOURNAL_SIZE,
            manual_clock: None,
            state_file: None,
            usage_rate_limit: None,
            catalogue: None,
        }
    }
}

impl EmulatorBuilder {
    /// gRPC listen address (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The price catalogue the seed's `catalogue` overrides apply to
    /// (default [`Catalogue::default_seeded`]; [`Catalogue::synthetic`]
    /// for large listings).
    pub fn catalogue(mut self, catalogue: Catalogue) -> Self {
        self.catalogue = Some(Arc::new(catalogue));
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
    /// [`ManualClock`](crate::time::ManualClock) with the client to cross
    /// token expiries in tests without sleeping.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
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

    /// Listen address of the REST (HTTP/1.1 and HTTP/2, JSON) port serving
    /// every RPC with a `google.api.http` rule, with the TLS settings of the
    /// gRPC port (default `Some(127.0.0.1:0)`; `None`: no REST port).
    pub fn rest_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.rest_listen = addr;
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

    /// HTTP/2 keepalive: after `interval` in which the client started no
    /// call the emulator sends a PING and closes the connection when it is not
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

    /// Serves the admin HTTP API (JSON: reset, state, faults, the request
    /// journal, operations, the clock; see the README) on this address,
    /// e.g. `127.0.0.1:0` (default: no admin server; the handle's methods
    /// do the same from Rust). Loopback only: the API has no
    /// authentication, so another address is
    /// [`EmulatorError::AdminNotLoopback`] at start.
    pub fn admin_listen(mut self, addr: SocketAddr) -> Self {
        self.admin_listen = Some(addr);
        self
    }

    /// Keeps the latest `size` calls in the request journal (default
    /// 1000, [`DEFAULT_JOURNAL_SIZE`]); older ones are dropped and counted.
    /// 0 turns the journal off.
    pub fn journal_size(mut self, size: usize) -> Self {
        self.journal_size = size;
        self
    }

    /// Runs on this manual clock, which [`EmulatorHandle::advance_clock`]
    /// and the admin API's `POST /clock:advance` move: token expiry,
    /// timestamps and operation completion (due times then follow this
    /// clock instead of real time) move with it, with no real waiting.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use yc_billing::emulator::Emulator;
    /// use yc_billing::time::ManualClock;
    /// let emu = Emulator::builder().manual_clock(ManualClock::default()).start().await?;
    /// emu.advance_clock(Duration::from_secs(3600))?;
    /// # Ok(()) }
    /// ```
    pub fn manual_clock(mut self, clock: ManualClock) -> Self {
        self.clock = Arc::new(clock.clone());
        self.manual_clock = Some(clock);
        self
    }

    /// Keeps the state in this JSON file (the seed format): loaded at start
    /// when it exists (instead of the seed; [`EmulatorHandle::reset`] still
    /// goes back to the seed), written atomically (a 0600 temporary file
    /// renamed over it) after each change. A file that is not an emulator
    /// state is an error at start, never a silent reset.
    pub fn state_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Emulates the usage API's documented rate limit (off by default): a
    /// `ConsumptionCoreService` or `MetadataService` call from an IP that
    /// called one less than `interval` ago answers RESOURCE_EXHAUSTED with a
    /// `google.rpc.RetryInfo` of the time left. The real API allows one
    /// call per minute (`Duration::from_secs(60)`).
    pub fn usage_rate_limit(mut self, interval: Duration) -> Self {
        self.usage_rate_limit = Some(interval);
        self
    }

    /// Binds, starts serving and returns the handle.
    pub async fn start(self) -> Result<EmulatorHandle, EmulatorError> {
        if let Some(admin) = self.admin_listen.filter(|a| !a.ip().is_loopback()) {
            return Err(EmulatorError::AdminNotLoopback(admin));
        }
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
        let mut jwt_audiences = vec![crate::region::jwt_audience_for(&api_address)];
        for other in [format!("localhost:{}", addr.port()), addr.to_string()] {
            let aud = crate::region::jwt_audience_for(&other);
            if !jwt_audiences.contains(&aud) {
                jwt_audiences.push(aud);
            }
        }

        let seed = &self.seed;
        let stored = match &self.state_file {
            Some(path) => StateFile::load(path)?,
            None => None,
        };
        let catalogue = match self.catalogue.clone() {
            Some(c) if seed.catalogue.is_empty() => c,
            Some(c) => Arc::new((*c).clone().with_overrides(&seed.catalogue)?),
            None => Arc::new(default_catalogue().with_overrides(&seed.catalogue)?),
        };
        let validator = Validator::shared();
        // The seed's budgets follow the API's rules (checked against the
        // seed's own accounts and the catalogue) or the start fails.
        let seeded = State::from_seed(seed, self.clock.clone());
        if let Some(problem) = seed
            .budgets
            .iter()
            .find_map(|b| services::budget::seed_problem(b, &seeded, &catalogue, validator))
        {
            return Err(EmulatorError::Seed(problem));
        }
        drop(seeded);
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
        // Usage is priced from the catalogue in each account's currency.
        let currencies = seed
            .billing_accounts
            .iter()
            .filter_map(|a| {
                let c = crate::money::Currency::parse("currency", &a.currency).ok()?;
                Some((a.id.clone(), c))
            })
            .collect();
        let usage = super::usage::LazyUsage::new(&seed.usage, (*catalogue).clone(), currencies)
            .map_err(|e| EmulatorError::Seed(e.to_string()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::from_seed(&Seed::default(), self.clock.clone())),
            faults: Mutex::new(FaultRuntime::new(self.faults.clone())),
            calls: CallCounters::new(validator.methods_of(services::SERVED_SERVICES)),
            iam_exchanges: AtomicU64::new(0),
            completion: Completion {
                delay: self.operation_delay,
                after_gets: self.complete_after_gets,
            },
            iam_token_ttl: self.iam_token_ttl,
            clock: self.clock.clone(),
            poll_hint_header: self.poll_interval_hint.map(|hint| {
                http::HeaderValue::from_str(&hint.as_secs_f64().to_string())
                    .unwrap_or_else(|_| http::HeaderValue::from_static("1"))
            }),
            validator,
            strict_person_fields: self.strict_person_fields,
            pages: PageTokens::new(),
            api_address,
            jwt_audiences,
            default_subject: seed.default_subject_id.clone(),
            reseller_id: seed.default_reseller_id.clone(),
            journal: Journal::new(self.journal_size),
            reset_to: ResetTo {
                seed: Mutex::new(self.seed.clone()),
                faults: self.faults.clone(),
                random_delay: self.random_operation_delay,
            },
            manual_clock: self.manual_clock.clone(),
            state_file: self.state_file.clone().map(StateFile::new),
            usage,
            usage_rate_limit: self.usage_rate_limit,
            usage_calls: Mutex::new(std::collections::HashMap::new()),
            catalogue,
        });
        let initial = shared.state_from(stored.as_ref().unwrap_or(seed));
        *shared.state.lock().unwrap_or_else(|e| e.into_inner()) = initial;
        shared.persist();

        // The gRPC port (`serve`): HTTP/2 only, so ALPN offers `h2` alone.
        let grpc_tls = match &self.tls {
            Some((cert, key)) => Some(conn::tls_acceptor(cert, key, "gRPC", &[b"h2"])?),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
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
        let mut servers = vec![tokio::spawn(serve::serve(
            incoming,
            grpc_tls,
            services::stack(shared.clone()),
            serve::Settings {
                keepalive: self.keepalive,
                handshake_timeout: self.handshake_timeout,
            },
            stopped.clone(),
        ))];

        let mut metadata_addr = None;
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
            servers.push(tokio::spawn(metadata_http::serve(
                listener,
                shared.clone(),
                super::handle::stopped(stopped.clone()),
            )));
            metadata_addr = Some(maddr);
        }
        let mut rest_addr = None;
        if let Some(listen) = self.rest_listen {
            let (listener, raddr) = super::rest::bind(listen).await?;
            let acceptor = match &self.tls {
                Some((cert, key)) => Some(conn::tls_acceptor(
                    cert,
                    key,
                    "REST",
                    &[b"h2", b"http/1.1"],
                )?),
                None => None,
            };
            let gateway = Arc::new(super::rest::Gateway::new(shared.clone()));
            servers.push(tokio::spawn(super::rest::serve(
                listener,
                gateway,
                acceptor,
                self.handshake_timeout,
                stop.subscribe(),
            )));
            rest_addr = Some(raddr);
        }
        let mut admin_addr = None;
        if let Some(listen) = self.admin_listen {
            let bind_err = |source| EmulatorError::Bind {
                addr: listen,
                source,
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(bind_err)?;
            admin_addr = Some(listener.local_addr().map_err(bind_err)?);
            servers.push(tokio::spawn(super::admin::http::serve(
                listener,
                shared.clone(),
                super::handle::stopped(stop.subscribe()),
            )));
        }
        tracing::info!(%addr, ?rest_addr, tls, "emulator listening");
        Ok(EmulatorHandle {
            addr,
            endpoint,
            metadata_addr,
            rest_addr,
            admin_addr,
            credentials,
            tls_roots: self.tls.map(|(cert, _)| cert),
            shared,
            stop,
            servers,
        })
    }
}

/// The default catalogue, built once per process (emulators started one
/// per test share it; each gets its own copy to extend).
fn default_catalogue() -> Catalogue {
    static DEFAULT: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(Catalogue::default_seeded).clone()
}
