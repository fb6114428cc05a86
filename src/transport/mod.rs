//! Tower layers that put the API's headers on every gRPC request.
//!
//! They work on any `tonic` transport, so they can also be composed on raw
//! generated stubs:
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use tower::ServiceBuilder;
//! use yc_billing::proto::yandex::cloud::billing::v1::customer_service_client::CustomerServiceClient;
//! use yc_billing::auth::{Credentials, IamExchange};
//! use yc_billing::region::Region;
//! use yc_billing::transport::{AuthLayer, HeadersLayer};
//!
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let tokens = Credentials::iam_token("t1.example").into_cache(IamExchange::new(channel.clone(), Region::Ru));
//! let svc = ServiceBuilder::new()
//!     .layer(AuthLayer::new(tokens))
//!     .layer(HeadersLayer::new())
//!     .service(channel);
//! let _stub = CustomerServiceClient::new(svc);
//! # Ok(()) }
//! ```

mod auth;
mod channel;
pub(crate) mod codec;
pub(crate) mod diagnose;
pub(crate) mod h2body;
mod headers;

pub use auth::{AuthFuture, AuthLayer, AuthService, needs_authorization};
pub use channel::{Channel, ResponseBody};
pub(crate) use channel::{ConnectError, Settings, Tls, host_of, port_of};
pub use headers::{
    HeadersLayer, HeadersService, IDEMPOTENCY_KEY, X_CLIENT_REQUEST_ID, X_CLIENT_TRACE_ID,
    X_OPERATION_POLL_INTERVAL, X_REQUEST_ID, X_SERVER_TRACE_ID, is_mutating,
};
pub(crate) use headers::{names, random_uuid, uuid_header};

/// The error type of the layers: tonic turns it into a `Status` whose
/// source is the original error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The transport stack of [`Client`](crate::Client): authorization over
/// request headers over a shared [`Channel`].
pub type Transport = AuthService<HeadersService<Channel>>;
