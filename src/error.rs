//! The crate's typed error.
//!
//! Every fallible call of the library returns [`Error`]. RPC failures keep the
//! gRPC code, the server's message, the decoded `google.rpc` error details
//! and the request ids that the server answered with, so that a failure can
//! be traced on the server side. Secrets never appear in any variant.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tonic_types::{ErrorDetails, StatusExt};

use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to the Billing API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server (or the transport under it) answered a call with a non-OK status.
    #[error(transparent)]
    Rpc(Box<RpcError>),

    /// No valid IAM token could be obtained.
    #[error(transparent)]
    Auth(#[from] AuthError),

    /// A setting of the client builder, a credential file or a request is invalid.
    #[error("invalid configuration: {field}: {reason}")]
    Config {
        /// The setting, file or request field at fault.
        field: String,
        /// The rule it broke.
        reason: String,
    },

    /// A long-running operation finished with an error.
    #[error(transparent)]
    OperationFailed(Box<OperationError>),

    /// A long-running operation did not finish within the polling policy's limits.
    ///
    /// The operation is kept so that the caller can resume waiting on it.
    #[error(
        "operation {} not done after {:?} and {} poll(s); resume it by id",
        .operation.id, .elapsed, .attempts
    )]
    OperationTimeout {
        /// The last state of the operation that was seen.
        operation: Box<ProtoOperation>,
        /// How long the waiter polled.
        elapsed: Duration,
        /// How many `Operation.Get` calls it made.
        attempts: u32,
    },

    /// A finished operation carries neither `error` nor `response`, or is otherwise malformed.
    #[error("operation {operation_id} is malformed: {reason}")]
    InvalidOperation {
        /// Id of the operation.
        operation_id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A `google.protobuf.Any` holds a different type than the one the API declares.
    #[error("unexpected Any type: expected {expected}, got {actual}")]
    UnexpectedType {
        /// The fully qualified type name that was expected.
        expected: String,
        /// The type URL that was received.
        actual: String,
    },

    /// A message could not be decoded.
    #[error("cannot decode {type_name}: {source}")]
    Decode {
        /// The message type that was being decoded.
        type_name: String,
        /// The decoder's error.
        #[source]
        source: prost::DecodeError,
    },

    /// A response breaks the API's contract (for example a List call that
    /// answers with the page token it was given, which would loop forever).
    #[error("invalid response to {method}: {reason}")]
    InvalidResponse {
        /// The gRPC method.
        method: String,
        /// What is wrong with the response.
        reason: String,
    },

    /// A message cannot be written as proto3 JSON (a timestamp or duration
    /// out of the range JSON can express, an `Any` of an unknown type, …).
    #[error("cannot write {type_name} as JSON: {}", json_where(.path, .reason))]
    Json {
        /// The message type being converted.
        type_name: String,
        /// Where, as a JSON path of the REST shape (`response.createdAt`,
        /// `accessBindings[2].subject`); empty when not known.
        path: String,
        /// What is wrong: the value and the rule it breaks.
        reason: String,
    },

    /// A listing was stopped after `limit` pages (the bound of
    /// [`paginate_bounded`](crate::pagination::paginate_bounded), by default
    /// [`DEFAULT_MAX_PAGES`](crate::pagination::DEFAULT_MAX_PAGES)): a server
    /// that answers a fresh page token on every page would otherwise be
    /// listed forever.
    #[error(
        "{method}: listing stopped after {limit} pages, the page bound; raise it \
         (max_pages, or --max-pages in the CLI) if the listing really is that long"
    )]
    TooManyPages {
        /// The gRPC method of the listing.
        method: String,
        /// The page bound that was reached.
        limit: u32,
    },
    /// A call failed in the transport: the connection to the endpoint could
    /// not be made (name resolution, refused, TLS) or broke. Names the
    /// endpoint (`host:port`), the cause chain and, for a TLS/plaintext
    /// mismatch, what to change.
    #[error(transparent)]
    Transport(Box<TransportError>),
    /// A price, cost or quantity of a response is not an exact decimal, or
    /// its currency is not one of the API's (names the field).
    #[error(transparent)]
    Money(#[from] crate::money::MoneyError),
}

/// `path: reason`, or the reason alone without a path.
fn json_where(path: &str, reason: &str) -> String {
    if path.is_empty() {
        reason.to_owned()
    } else {
        format!("{path}: {reason}")
    }
}

impl Error {
    /// Builds a configuration error naming the setting and the rule.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The gRPC code of an RPC failure or of a failed operation.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Rpc(e) => Some(e.code()),
            Error::OperationFailed(e) => Some(e.code()),
            Error::Auth(e) => e.rpc().map(RpcError::code),
            Error::Transport(_) => Some(tonic::Code::Unavailable),
            _ => None,
        }
    }

    /// The transport failure, if this is one.
    pub fn as_transport(&self) -> Option<&TransportError> {
        match self {
            Error::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// Whether no credentials were found at all ([`AuthError::no_credentials`]).
    pub fn is_no_credentials(&self) -> bool {
        matches!(self, Error::Auth(e) if e.is_no_credentials())
    }

    /// The RPC failure, if this is one.
    pub fn as_rpc(&self) -> Option<&RpcError> {
        match self {
            Error::Rpc(e) => Some(e),
            _ => None,
        }
    }

    /// The server's `x-request-id` of the failed call, when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Rpc(e) => e.request_id(),
            Error::Auth(e) => e.rpc().and_then(RpcError::request_id),
            _ => None,
        }
    }

    /// Whether retrying the same call may succeed (transient server or
    /// network state): what [`RetryPolicy::standard`](crate::RetryPolicy::standard)
    /// retries, decided by the one classifier,
    /// [`RetryPolicy::retries`](crate::RetryPolicy::retries).
    pub fn is_retryable(&self) -> bool {
        const STANDARD: crate::RetryPolicy = crate::RetryPolicy::standard();
        STANDARD.retries(self)
    }

    /// The decoded `google.rpc` error details of an RPC or operation failure.
    pub fn details(&self) -> Option<&ErrorDetails> {
        match self {
            Error::Rpc(e) => Some(e.details()),
            Error::OperationFailed(e) => Some(e.details()),
            _ => None,
        }
    }
}

/// What kind of transport failure a [`TransportError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name did not resolve.
    Dns,
    /// Nothing accepted the connection at that address and port.
    ConnectionRefused,
    /// Connecting took longer than the connect timeout.
    ConnectTimeout,
    /// The client spoke TLS and the server answered with something that is
    /// not TLS (rustls: "received corrupt message of type InvalidContentType"),
    /// as a plaintext emulator does.
    TlsToPlaintextServer,
    /// The client spoke plaintext HTTP/2 and the server is a TLS server (found
    /// by a one-off probe after the failure: the server answers the HTTP/2
    /// preface with a TLS record).
    PlaintextToTlsServer,
    /// Another TLS failure (for example a certificate that is not trusted).
    Tls,
    /// Any other failure of the connection.
    Other,
}

impl TransportErrorKind {
    /// Whether the same call may succeed later: not for a TLS/plaintext
    /// mismatch or a TLS failure, which need a change of settings.
    pub fn is_transient(self) -> bool {
        !matches!(
            self,
            TransportErrorKind::TlsToPlaintextServer
                | TransportErrorKind::PlaintextToTlsServer
                | TransportErrorKind::Tls
        )
    }
}

/// A call that failed in the transport, with the endpoint it went to.
///
/// ```
/// use yc_billing::{TransportError, TransportErrorKind};
///
/// let e = TransportError::new(
///     "billing.api.yandexcloud.kz:443",
///     "/yandex.cloud.billing.v1.BillingAccountService/List",
///     TransportErrorKind::Dns,
///     "dns error: failed to lookup address information",
/// );
/// assert_eq!(
///     e.to_string(),
///     "cannot connect to billing.api.yandexcloud.kz:443: dns error: failed to lookup address \
///      information (calling /yandex.cloud.billing.v1.BillingAccountService/List)"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct TransportError {
    endpoint: String,
    method: String,
    kind: TransportErrorKind,
    cause: String,
    client_request_id: Option<String>,
}

impl TransportError {
    /// A failure of the call `method` to `endpoint` (`host:port`) for `cause`.
    pub fn new(
        endpoint: impl Into<String>,
        method: impl Into<String>,
        kind: TransportErrorKind,
        cause: impl Into<String>,
    ) -> Self {
        TransportError {
            endpoint: endpoint.into(),
            method: method.into(),
            kind,
            cause: cause.into(),
            client_request_id: None,
        }
    }

    /// Records the `x-client-request-id` of the failed attempt.
    pub fn with_client_request_id(mut self, id: impl Into<String>) -> Self {
        self.client_request_id = Some(id.into());
        self
    }

    /// The endpoint, `host:port` (for example `billing.api.yandexcloud.kz:443`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The gRPC method of the call.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The underlying errors, outermost first, joined with `: `.
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// The `x-client-request-id` of the failed attempt.
    pub fn client_request_id(&self) -> Option<&str> {
        self.client_request_id.as_deref()
    }

    pub(crate) fn set_kind(&mut self, kind: TransportErrorKind) {
        self.kind = kind;
    }

    /// The first part of the message: what went wrong, with the endpoint.
    pub fn summary(&self) -> String {
        match self.kind {
            TransportErrorKind::TlsToPlaintextServer => {
                format!("the server at {} does not speak TLS", self.endpoint)
            }
            TransportErrorKind::PlaintextToTlsServer => format!(
                "the server at {} speaks TLS, not plaintext HTTP/2",
                self.endpoint
            ),
            TransportErrorKind::Dns
            | TransportErrorKind::ConnectionRefused
            | TransportErrorKind::ConnectTimeout
            | TransportErrorKind::Tls => format!("cannot connect to {}", self.endpoint),
            TransportErrorKind::Other => format!("connection to {} failed", self.endpoint),
        }
    }

    /// What to change, in terms of the library's settings, when the kind tells.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            TransportErrorKind::TlsToPlaintextServer => {
                Some("connect in plaintext: an http:// endpoint or ClientBuilder::plaintext(true)")
            }
            TransportErrorKind::PlaintextToTlsServer => Some(
                "connect with TLS: an https:// endpoint or ClientBuilder::plaintext(false), \
                 with ClientBuilder::ca_certificate for a self-signed certificate",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.summary(), self.cause)?;
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        if !self.method.is_empty() {
            write!(f, " (calling {})", self.method)?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(Box::new(e))
    }
}

/// The accessors an error carrying a `google.rpc.Status` has: its code,
/// message, decoded details and their field violations.
macro_rules! status_accessors {
    ($details_doc:literal) => {
        /// The status code.
        pub fn code(&self) -> tonic::Code {
            self.code
        }

        /// The message, as the server gave it.
        pub fn message(&self) -> &str {
            &self.message
        }

        #[doc = $details_doc]
        pub fn details(&self) -> &ErrorDetails {
            &self.details
        }

        /// The field violations of a `google.rpc.BadRequest` detail, as `(field, description)`.
        pub fn field_violations(&self) -> Vec<(&str, &str)> {
            field_violations(&self.details)
        }
    };
}

/// A call answered with a non-OK gRPC status.
///
/// Built with [`from_status`](Self::from_status); read with the accessors
/// (the fields are private so that new ones can be added).
///
/// ```
/// use yc_billing::RpcError;
///
/// let mut status = tonic::Status::not_found("no such customer");
/// status.metadata_mut().insert("x-request-id", "req-1".parse().unwrap());
/// let e = RpcError::from_status("/yandex.cloud.billing.v1.CustomerService/Get", &status)
///     .with_client_request_id("client-1");
/// assert_eq!(e.method(), "/yandex.cloud.billing.v1.CustomerService/Get");
/// assert_eq!(e.code(), tonic::Code::NotFound);
/// assert_eq!(e.message(), "no such customer");
/// assert_eq!(e.request_id(), Some("req-1"));
/// assert_eq!(e.server_trace_id(), None);
/// assert_eq!(e.client_request_id(), Some("client-1"));
/// assert!(e.field_violations().is_empty());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RpcError {
    method: String,
    code: tonic::Code,
    message: String,
    details: ErrorDetails,
    request_id: Option<String>,
    server_trace_id: Option<String>,
    client_request_id: Option<String>,
}

impl RpcError {
    /// Full gRPC method, for example `/yandex.cloud.billing.v1.CustomerService/List`.
    pub fn method(&self) -> &str {
        &self.method
    }

    status_accessors!("`google.rpc` details decoded from `grpc-status-details-bin`.");

    /// The server's `x-request-id`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The server's `x-server-trace-id`.
    pub fn server_trace_id(&self) -> Option<&str> {
        self.server_trace_id.as_deref()
    }

    /// The `x-client-request-id` this client sent.
    pub fn client_request_id(&self) -> Option<&str> {
        self.client_request_id.as_deref()
    }

    /// Records the `x-client-request-id` of the failed attempt.
    pub fn with_client_request_id(mut self, id: impl Into<String>) -> Self {
        self.client_request_id = Some(id.into());
        self
    }

    /// Builds an error from a tonic status, keeping its details and request ids.
    pub fn from_status(method: impl Into<String>, status: &tonic::Status) -> Self {
        let md = status.metadata();
        let header = |name: &str| {
            md.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        RpcError {
            method: method.into(),
            code: status.code(),
            message: status.message().to_owned(),
            details: status.get_error_details(),
            request_id: header("x-request-id"),
            server_trace_id: header("x-server-trace-id"),
            client_request_id: None,
        }
    }
}

/// The field violations of a `google.rpc.BadRequest` detail, as `(field, description)`.
fn field_violations(details: &ErrorDetails) -> Vec<(&str, &str)> {
    details
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| (v.field.as_str(), v.description.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {:?}: {}",
            self.method, self.code, self.message
        )?;
        for (field, description) in self.field_violations() {
            write!(f, "; {field}: {description}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RpcError {}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Error::Rpc(Box::new(e))
    }
}

/// A long-running operation that finished with `error`.
///
/// Built with [`from_status`](Self::from_status); read with the accessors.
///
/// ```
/// use yc_billing::OperationError;
///
/// let status = tonic_types::pb::Status {
///     code: tonic::Code::Cancelled as i32,
///     message: "cancelled".into(),
///     details: vec![],
/// };
/// let e = OperationError::from_status("op1", "Activate customer", &status);
/// assert_eq!(e.operation_id(), "op1");
/// assert_eq!(e.description(), "Activate customer");
/// assert_eq!(e.code(), tonic::Code::Cancelled);
/// assert_eq!(e.message(), "cancelled");
/// assert!(e.details().bad_request().is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OperationError {
    operation_id: String,
    description: String,
    code: tonic::Code,
    message: String,
    details: ErrorDetails,
}

impl OperationError {
    /// Id of the operation.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// Description of the operation, as the server gave it.
    pub fn description(&self) -> &str {
        &self.description
    }

    status_accessors!("Details decoded from the operation's `google.rpc.Status`.");

    /// Builds the error from the `error` field of a finished operation.
    pub fn from_status(
        operation_id: impl Into<String>,
        description: impl Into<String>,
        status: &tonic_types::pb::Status,
    ) -> Self {
        let code = tonic::Code::from_i32(status.code);
        let message = status.message.clone();
        let details = status_details(status);
        OperationError {
            operation_id: operation_id.into(),
            description: description.into(),
            code,
            message,
            details,
        }
    }
}

/// Decodes the details of a `google.rpc.Status` message (as found in an operation).
fn status_details(status: &tonic_types::pb::Status) -> ErrorDetails {
    use prost::Message;
    let tonic_status = tonic::Status::with_details(
        tonic::Code::from_i32(status.code),
        status.message.clone(),
        status.encode_to_vec().into(),
    );
    tonic_status.get_error_details()
}

impl fmt::Display for OperationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "operation {} ({}) failed: {:?}: {}",
            self.operation_id, self.description, self.code, self.message
        )
    }
}

impl std::error::Error for OperationError {}

impl From<OperationError> for Error {
    fn from(e: OperationError) -> Self {
        Error::OperationFailed(Box::new(e))
    }
}

/// Which credential source an [`AuthError`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// A static IAM token.
    IamToken,
    /// An OAuth token exchanged through `IamTokenService.Create`.
    OAuth,
    /// A service-account authorized key (JWT exchange).
    ServiceAccountKey,
    /// The VM metadata service.
    MetadataService,
    /// The environment chain (`YC_IAM_TOKEN`, `YC_TOKEN`,
    /// `YC_SERVICE_ACCOUNT_KEY_FILE`, the `yc` CLI profile, metadata).
    Environment,
    /// A profile of the `yc` CLI's config file ([`Profile`](crate::auth::Profile)).
    YcProfile,
    /// Tokens of another service account, obtained with base credentials
    /// through `IamTokenService.CreateForServiceAccount`
    /// ([`Credentials::impersonate`](crate::auth::Credentials::impersonate)).
    Impersonation,
    /// A user-supplied token source.
    Custom,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialSource::IamToken => "static IAM token",
            CredentialSource::OAuth => "OAuth token exchange",
            CredentialSource::ServiceAccountKey => "service-account key",
            CredentialSource::MetadataService => "metadata service",
            CredentialSource::Environment => "environment",
            CredentialSource::YcProfile => "yc CLI profile",
            CredentialSource::Impersonation => "service-account impersonation",
            CredentialSource::Custom => "custom token source",
        })
    }
}

/// One credential source that [`Credentials::from_env`](crate::auth::Credentials::from_env)
/// looked at, and why it did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAttempt {
    source: CredentialSource,
    setting: String,
    reason: String,
}

impl SourceAttempt {
    /// `source`, configured by `setting` (an environment variable, the `yc`
    /// config file, or the metadata service's address), did not apply for `reason`.
    pub fn new(
        source: CredentialSource,
        setting: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        SourceAttempt {
            source,
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// Which source it was.
    pub fn source(&self) -> CredentialSource {
        self.source
    }

    /// The environment variable (`YC_IAM_TOKEN`, …), for the `yc` profile the
    /// config file's path, for the metadata service its `host[:port]`.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// Why it did not apply (`not set`, or why the metadata service could not be reached).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for SourceAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            CredentialSource::MetadataService => {
                write!(f, "metadata service at {}: {}", self.setting, self.reason)
            }
            CredentialSource::YcProfile => {
                write!(f, "yc CLI profile ({}): {}", self.setting, self.reason)
            }
            _ => write!(f, "{}: {}", self.setting, self.reason),
        }
    }
}

/// What kind of failure an [`AuthError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No credentials were found: no source applied
    /// ([`AuthError::no_credentials`], with the sources tried).
    NoCredentials,
    /// A token exchange (`IamTokenService.Create`) answered with an error,
    /// kept as [`AuthError::rpc`].
    Exchange,
    /// The credential source itself failed: an unusable key or token, a
    /// metadata service that cannot be reached or answers nonsense, a
    /// custom source's error.
    Source,
    /// The credentials are of a kind this crate cannot use (a federated
    /// `yc` profile); the reason says what to do instead.
    Unsupported,
}

/// No valid IAM token could be had. Never contains the secret itself.
///
/// Read with the accessors: [`kind`](Self::kind),
/// [`credential_source`](Self::credential_source), [`reason`](Self::reason),
/// [`rpc`](Self::rpc), [`tried`](Self::tried); the underlying error, when
/// there is one, is its [`source`](std::error::Error::source).
///
/// ```
/// use std::error::Error as _;
/// use yc_billing::{AuthError, CredentialSource, error::AuthErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "key.json: not found");
/// let e = AuthError::new(CredentialSource::ServiceAccountKey, "cannot read the key file")
///     .with_cause(io);
/// assert_eq!(e.kind(), AuthErrorKind::Source);
/// assert_eq!(e.credential_source(), CredentialSource::ServiceAccountKey);
/// assert_eq!(e.reason(), "cannot read the key file");
/// assert!(e.rpc().is_none());
/// assert_eq!(e.source().unwrap().to_string(), "key.json: not found");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthError {
    kind: AuthErrorKind,
    credential_source: CredentialSource,
    reason: String,
    rpc: Option<Box<RpcError>>,
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    tried: Vec<SourceAttempt>,
}

impl AuthError {
    /// A failure of `source` for `reason` (kind [`AuthErrorKind::Source`]).
    pub fn new(source: CredentialSource, reason: impl Into<String>) -> Self {
        AuthError {
            kind: AuthErrorKind::Source,
            credential_source: source,
            reason: reason.into(),
            rpc: None,
            cause: None,
            tried: Vec::new(),
        }
    }

    /// No credentials were found: the environment chain looked at every
    /// source in `tried`, in order, and none applied (`tried` is empty when
    /// none were configured at all). Its source is
    /// [`CredentialSource::Environment`], its kind [`AuthErrorKind::NoCredentials`].
    ///
    /// ```
    /// use yc_billing::{AuthError, CredentialSource};
    /// use yc_billing::error::{AuthErrorKind, SourceAttempt};
    ///
    /// let e = AuthError::no_credentials(vec![
    ///     SourceAttempt::new(CredentialSource::IamToken, "YC_IAM_TOKEN", "not set"),
    ///     SourceAttempt::new(CredentialSource::MetadataService, "169.254.169.254", "not reachable"),
    /// ]);
    /// assert!(e.is_no_credentials());
    /// assert_eq!(e.kind(), AuthErrorKind::NoCredentials);
    /// assert_eq!(e.tried().len(), 2);
    /// assert_eq!(
    ///     e.to_string(),
    ///     "no credentials found; tried, in order: YC_IAM_TOKEN: not set; \
    ///      metadata service at 169.254.169.254: not reachable"
    /// );
    /// ```
    pub fn no_credentials(tried: Vec<SourceAttempt>) -> Self {
        AuthError {
            kind: AuthErrorKind::NoCredentials,
            tried,
            ..Self::new(CredentialSource::Environment, "no credentials found")
        }
    }

    /// Credentials of `source` that this crate cannot use, for `reason`
    /// (kind [`AuthErrorKind::Unsupported`]).
    pub fn unsupported(source: CredentialSource, reason: impl Into<String>) -> Self {
        AuthError {
            kind: AuthErrorKind::Unsupported,
            ..Self::new(source, reason)
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// Whether this is [`no_credentials`](Self::no_credentials).
    pub fn is_no_credentials(&self) -> bool {
        self.kind == AuthErrorKind::NoCredentials
    }

    /// The credential source that failed.
    pub fn credential_source(&self) -> CredentialSource {
        self.credential_source
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The RPC failure of a token exchange, when there was one.
    pub fn rpc(&self) -> Option<&RpcError> {
        self.rpc.as_deref()
    }

    /// The sources the environment chain tried, in order (empty unless
    /// [`is_no_credentials`](Self::is_no_credentials)).
    pub fn tried(&self) -> &[SourceAttempt] {
        &self.tried
    }

    /// Attaches the RPC failure of a token exchange (kind
    /// [`AuthErrorKind::Exchange`]); it becomes the error's
    /// [`source`](std::error::Error::source).
    pub fn with_rpc(mut self, rpc: RpcError) -> Self {
        self.kind = AuthErrorKind::Exchange;
        self.rpc = Some(Box::new(rpc));
        self
    }

    /// Keeps the underlying error (a file, JSON, signing or I/O error) as
    /// the error's [`source`](std::error::Error::source). It must not carry
    /// the secret: it is shown by `Display` and `Debug` of the chain.
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// Replaces the reason (for example to add what the token cache knows).
    pub(crate) fn set_reason(&mut self, reason: String) {
        self.reason = reason;
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_no_credentials() && self.tried.is_empty() {
            return write!(
                f,
                "{}: the client was built without credentials (ClientBuilder::credentials)",
                self.reason
            );
        }
        if self.is_no_credentials() {
            write!(f, "{}; tried, in order: ", self.reason)?;
            for (i, attempt) in self.tried.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{attempt}")?;
            }
            return Ok(());
        }
        write!(
            f,
            "authentication failed ({}): {}",
            self.credential_source, self.reason
        )?;
        if let Some(rpc) = &self.rpc {
            write!(f, ": {rpc}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthError {
    /// The token exchange's [`RpcError`], else the cause given to
    /// [`with_cause`](AuthError::with_cause).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if let Some(rpc) = &self.rpc {
            return Some(rpc.as_ref());
        }
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use tonic_types::{ErrorDetails, StatusExt};

    fn bad_request_status() -> tonic::Status {
        let details = ErrorDetails::with_bad_request_violation("customer_id", "is required");
        let mut status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "invalid request",
            details,
        );
        let md = status.metadata_mut();
        md.insert("x-request-id", "req-7".parse().unwrap());
        md.insert("x-server-trace-id", "trace-7".parse().unwrap());
        status
    }

    #[test]
    fn rpc_error_accessors() {
        let e = RpcError::from_status("/svc/Method", &bad_request_status());
        assert_eq!(e.method(), "/svc/Method");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), "invalid request");
        assert_eq!(e.request_id(), Some("req-7"));
        assert_eq!(e.server_trace_id(), Some("trace-7"));
        assert_eq!(e.client_request_id(), None);
        assert_eq!(e.field_violations(), [("customer_id", "is required")]);
        assert!(e.details().bad_request().is_some());
        let e = e.with_client_request_id("c-1");
        assert_eq!(e.client_request_id(), Some("c-1"));
        let err = Error::from(e);
        assert_eq!(err.code(), Some(tonic::Code::InvalidArgument));
        assert_eq!(err.request_id(), Some("req-7"));
        assert!(err.details().is_some_and(|d| d.bad_request().is_some()));
        assert_eq!(err.as_rpc().map(RpcError::method), Some("/svc/Method"));
    }

    #[test]
    fn operation_error_accessors() {
        let bad = tonic_types::pb::BadRequest {
            field_violations: vec![tonic_types::pb::bad_request::FieldViolation {
                field: "name".into(),
                description: "too long".into(),
                ..Default::default()
            }],
        };
        let status = tonic_types::pb::Status {
            code: tonic::Code::FailedPrecondition as i32,
            message: "nope".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
                value: prost::Message::encode_to_vec(&bad),
            }],
        };
        let e = OperationError::from_status("op9", "Invite customer", &status);
        assert_eq!(e.operation_id(), "op9");
        assert_eq!(e.description(), "Invite customer");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert_eq!(e.message(), "nope");
        assert_eq!(e.field_violations(), [("name", "too long")]);
        let err = Error::from(e);
        assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition));
        assert!(err.details().is_some_and(|d| d.bad_request().is_some()));
    }

    #[test]
    fn auth_error_kinds_and_sources() {
        let plain = AuthError::new(CredentialSource::IamToken, "the token is empty");
        assert_eq!(plain.kind(), AuthErrorKind::Source);
        assert!(!plain.is_no_credentials());
        assert!(plain.source().is_none());
        assert!(plain.tried().is_empty());

        let none = AuthError::no_credentials(vec![]);
        assert_eq!(none.kind(), AuthErrorKind::NoCredentials);
        assert_eq!(none.credential_source(), CredentialSource::Environment);
        assert!(Error::from(none).is_no_credentials());

        let rpc = RpcError::from_status(
            crate::proto::paths::iam::v1::iam_token_service::CREATE,
            &bad_request_status(),
        );
        let exchange = AuthError::new(CredentialSource::OAuth, "exchange failed").with_rpc(rpc);
        assert_eq!(exchange.kind(), AuthErrorKind::Exchange);
        let source = exchange.source().expect("the RPC failure is the source");
        let rpc = source.downcast_ref::<RpcError>().expect("an RpcError");
        assert_eq!(rpc.code(), tonic::Code::InvalidArgument);
        let err = Error::from(exchange);
        assert_eq!(err.code(), Some(tonic::Code::InvalidArgument));
        assert_eq!(err.request_id(), Some("req-7"));
        assert!(!err.is_no_credentials());

        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "key.json");
        let caused =
            AuthError::new(CredentialSource::ServiceAccountKey, "unreadable").with_cause(io);
        let source = caused.source().expect("the cause is the source");
        assert_eq!(
            source
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        // Cloning keeps the cause.
        assert!(caused.clone().source().is_some());
        // `Error::Auth` is transparent: its source is the AuthError's.
        let err = Error::from(caused);
        assert!(
            err.source()
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .is_some()
        );
    }
}
