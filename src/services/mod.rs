//! Typed wrappers of the Billing and Operation services.
//!
//! [`Client::customers`], [`Client::billing_accounts`] and
//! [`Client::operations`] return cheap handles whose methods build a
//! [`Call`]: required fields are arguments, optional ones are builder
//! methods, and the call is sent by `.await` (or [`Call::send`]). Every call
//! goes through [`Client::execute`], so it gets the client's deadline, retry
//! policy, request ids and idempotency key. Operation-returning calls
//! resolve to a typed [`Operation`]; List calls resolve to one [`Page`] and
//! offer [`Call::stream`] across all pages.
//!
//! Every RPC of `proto/`, wrapped or not, can also be called through its
//! generated marker in [`rpc`] with [`Client::call`]: the call resolves to
//! the marker's [`Rpc::Output`] (the response, a [`Page`] for List RPCs, a
//! typed [`Operation`] for operation-returning ones). Each service with a
//! transport also has a generated handle named as the service
//! ([`CustomerService`], [`BudgetService`], [`SkuService`], …, got with
//! [`Client::customer_service`], [`Client::budget_service`], …) with `raw()`,
//! the generated stub, and one `<method>_request` constructor per RPC, which
//! is exactly that call. The ergonomic constructors are further `impl`
//! blocks of the same handles ([`Customers`] is [`CustomerService`]).
//!
//! ```no_run
//! # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
//! use yc_billing::proto::yandex::cloud::billing::v1::ListBudgetsRequest;
//! use yc_billing::services::rpc::billing::v1::budget_service;
//!
//! let request = ListBudgetsRequest { billing_account_id: "ba-id".into(), ..Default::default() };
//! let page = client.call::<budget_service::List>(request).page_size(10).await?;
//! println!("{} budgets", page.items.len());
//! # Ok(()) }
//! ```
//!
//! ```no_run
//! # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
//! use std::time::Duration;
//! use yc_billing::proto::yandex::cloud::billing::v1::CustomerPerson;
//!
//! let page = client.customers().list("reseller-id").page_size(50).await?;
//! println!("{} customers, more: {}", page.items.len(), !page.is_last());
//!
//! let person = CustomerPerson { name: "Acme".into(), ..Default::default() };
//! let customer = client
//!     .customers()
//!     .invite("reseller-id", "Acme", "billing@acme.example", person)
//!     .idempotency_key("invite-acme")
//!     .timeout(Duration::from_secs(10))
//!     .await?
//!     .wait()
//!     .await?;
//! println!("invited {}", customer.id);
//! # Ok(()) }
//! ```

mod billing_accounts;
mod billing_services;
mod budgets;
mod customers;
#[cfg(feature = "json")]
mod dynamic;
pub mod filter;
mod operations;
pub mod rpc;
mod skus;
pub mod usage;

use std::future::IntoFuture;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use prost::{Message, Name};

pub use billing_accounts::BillingAccounts;
pub use billing_services::BillingServices;
pub use budgets::{
    BalanceBudget, BudgetKind, Budgets, CostBudget, CreateBudgetCall, ExpenseBudget,
};
pub use customers::Customers;
#[cfg(feature = "json")]
pub use dynamic::DynamicRequest;
pub use operations::Operations;
pub use skus::Skus;
pub use usage::{ReportBuilder, Usage, UsageReport};

use crate::call::CallOptions;
use crate::client::Client;
use crate::error::Result;
use crate::operation::{Operation, poll_hint};
use crate::pagination::{Page, paginate_bounded};
use crate::proto::MethodInfo;
use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;
use crate::region::Service;
use crate::retry::RetryPolicy;
use crate::transport::Transport;

// The service handles, generated from the method table (`build/methods.rs`):
// `CustomerService`, `BillingAccountService`, … with `raw()` and one
// `*_request` constructor per RPC, and `Client::customer_service()`, ….
include!(concat!(env!("OUT_DIR"), "/handles.rs"));

impl Client {
    /// `yandex.cloud.billing.v1.CustomerService`: list, invite, create
    /// reseller-served customers, activate and suspend (the same handle as
    /// [`customer_service`](Self::customer_service)).
    pub fn customers(&self) -> Customers {
        self.customer_service()
    }

    /// `yandex.cloud.billing.v1.BillingAccountService`: billing accounts,
    /// billable-object bindings and access bindings (the same handle as
    /// [`billing_account_service`](Self::billing_account_service)).
    pub fn billing_accounts(&self) -> BillingAccounts {
        self.billing_account_service()
    }

    /// `yandex.cloud.billing.v1.SkuService`: SKUs and their prices in a
    /// currency, contract prices of a billing account (the same handle as
    /// [`sku_service`](Self::sku_service)).
    pub fn skus(&self) -> Skus {
        self.sku_service()
    }

    /// `yandex.cloud.billing.v1.ServiceService`: the cloud services that
    /// have SKUs (the same handle as [`service_service`](Self::service_service)).
    pub fn billing_services(&self) -> BillingServices {
        self.service_service()
    }

    /// `yandex.cloud.billing.v1.BudgetService`: budgets of a billing
    /// account: cost, expense, balance (the same handle as
    /// [`budget_service`](Self::budget_service)).
    pub fn budgets(&self) -> Budgets {
        self.budget_service()
    }

    /// `yandex.cloud.operation.OperationService`: raw operations by id (the
    /// same handle as [`operation_service`](Self::operation_service)).
    pub fn operations(&self) -> Operations {
        self.operation_service()
    }

    /// Any RPC of `proto/` through its generated marker in [`rpc`]: the
    /// request as built by the caller, sent by `.await` with the client's
    /// deadline, retries, request ids and idempotency key like every call.
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// use yc_billing::proto::yandex::cloud::billing::v1::GetSkuRequest;
    /// use yc_billing::services::rpc::billing::v1::sku_service;
    ///
    /// let sku = client
    ///     .call::<sku_service::Get>(GetSkuRequest { id: "sku-id".into(), ..Default::default() })
    ///     .await?;
    /// println!("{}", sku.name);
    /// # Ok(()) }
    /// ```
    pub fn call<R: Rpc>(&self, request: R::Request) -> Call<R::Request, R::Output> {
        Call::new(self.clone(), R::METHOD.path, request, run::<R>)
    }

    /// The transport of an endpoint; the discovery service has none (it is
    /// asked once, by [`ClientBuilder::discovery`](crate::ClientBuilder::discovery)).
    pub(crate) fn transport_for(&self, endpoint: Service) -> Result<Transport> {
        match endpoint {
            Service::Billing => Ok(self.billing_transport()),
            Service::Operation => Ok(self.operation_transport()),
            Service::Iam => Ok(self.iam_transport()),
            other => Err(crate::Error::config(
                format!("{}_endpoint", other.endpoint_id()),
                "a Client has no transport to this endpoint",
            )),
        }
    }
}

/// One RPC of the schema, as a type: the generated markers in [`rpc`]
/// implement it, one per row of [`METHODS`](crate::proto::METHODS).
pub trait Rpc: 'static {
    /// The method's row of the table.
    const METHOD: &'static MethodInfo;
    /// The request message.
    type Request: Message + Default + Clone + Send + 'static;
    /// The response message.
    type Response: Message + Default + Send + 'static;
    /// What the call resolves to: the response; a [`Page`] of the items for
    /// List RPCs; the typed [`Operation`] for operation-returning RPCs.
    type Output: Send + 'static;
    /// Turns the answer of the call into [`Output`](Self::Output).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOperation`](crate::Error::InvalidOperation) for an
    /// operation that cannot be polled.
    fn output(client: &Client, response: tonic::Response<Self::Response>) -> Result<Self::Output>;
}

/// How [`Client::call`] sends an [`Rpc`].
fn run<R: Rpc>(
    client: Client,
    request: R::Request,
    options: CallOptions,
) -> BoxFuture<'static, Result<R::Output>> {
    Box::pin(async move {
        let response = send::<R>(&client, request, &options).await?;
        R::output(&client, response)
    })
}

/// Sends an [`Rpc`] through [`Client::execute`] on the transport of its
/// endpoint, keeping the response's headers.
pub(crate) async fn send<R: Rpc>(
    client: &Client,
    request: R::Request,
    options: &CallOptions,
) -> Result<tonic::Response<R::Response>> {
    let transport = client.transport_for(R::METHOD.endpoint)?;
    client
        .execute(R::METHOD.path, request, options, |request| {
            attempt::<R>(
                tonic::client::Grpc::new(transport.clone())
                    .max_decoding_message_size(client.max_response_size()),
                request,
            )
        })
        .await
}

/// One attempt, as the generated stubs send it.
async fn attempt<R: Rpc>(
    mut grpc: tonic::client::Grpc<Transport>,
    mut request: tonic::Request<R::Request>,
) -> std::result::Result<tonic::Response<R::Response>, tonic::Status> {
    let path = ready(&mut grpc, &mut request, R::METHOD).await?;
    grpc.unary(
        request,
        path,
        crate::transport::codec::ProstCodec::default(),
    )
    .await
}

/// Waits until the transport can take the request and marks the request
/// with its method, as the generated stubs do; answers the path to send to.
async fn ready<T>(
    grpc: &mut tonic::client::Grpc<Transport>,
    request: &mut tonic::Request<T>,
    method: &'static MethodInfo,
) -> std::result::Result<http::uri::PathAndQuery, tonic::Status> {
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {e}")))?;
    request
        .extensions_mut()
        .insert(tonic::GrpcMethod::new(method.service, method.method));
    Ok(http::uri::PathAndQuery::from_static(method.path))
}

/// Sends one request with the given client and options.
type Runner<Req, Out> = fn(Client, Req, CallOptions) -> BoxFuture<'static, Result<Out>>;

/// A prepared call: the request, the per-call options and how to send it.
///
/// Await it (it implements [`IntoFuture`]) or call [`send`](Self::send).
/// Calls answering a [`Page`] also have `page_size`, `page_token` and
/// [`stream`](Self::stream).
#[must_use = "a call does nothing until it is awaited"]
#[derive(derive_more::Debug)]
pub struct Call<Req, Out> {
    #[debug(skip)]
    client: Client,
    method: &'static str,
    request: Req,
    options: CallOptions,
    /// The page bound of [`stream`](Self::stream); `None`: the client's.
    max_pages: Option<u32>,
    #[debug(skip)]
    run: Runner<Req, Out>,
}

impl<Req, Out> Call<Req, Out> {
    fn new(client: Client, method: &'static str, request: Req, run: Runner<Req, Out>) -> Self {
        Call {
            client,
            method,
            request,
            options: CallOptions::default(),
            max_pages: None,
            run,
        }
    }

    /// Replaces the per-call options.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the overall deadline of the call, retries included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options = self.options.timeout(timeout);
        self
    }

    /// Sets the `idempotency-key` (mutating calls get a fresh one otherwise).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options = self.options.idempotency_key(key);
        self
    }

    /// Sets the retry policy of this call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options = self.options.retry_policy(policy);
        self
    }

    /// The gRPC path of the call.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The request as it will be sent.
    pub fn request(&self) -> &Req {
        &self.request
    }

    /// The request, to set fields the builder has no method for.
    pub fn request_mut(&mut self) -> &mut Req {
        &mut self.request
    }

    /// Sends the call.
    pub fn send(self) -> BoxFuture<'static, Result<Out>> {
        (self.run)(self.client, self.request, self.options)
    }
}

impl<Req, Out> IntoFuture for Call<Req, Out> {
    type Output = Result<Out>;
    type IntoFuture = BoxFuture<'static, Result<Out>>;

    fn into_future(self) -> Self::IntoFuture {
        self.send()
    }
}

/// A List request: it has a page size and a page token (implemented by
/// `build.rs` for the request of every List RPC, see [`Rpc::Output`]).
pub trait PageRequest: Clone + Send + 'static {
    /// Sets the largest number of items per page (0: the server's default).
    fn set_page_size(&mut self, size: i64);
    /// Sets the token of the page to fetch (empty: the first page).
    fn set_page_token(&mut self, token: String);
    /// The token of the page to fetch.
    fn page_token(&self) -> &str;
}

impl<Req: PageRequest, T: Send + 'static> Call<Req, Page<T>> {
    /// Sets the largest number of items per page.
    pub fn page_size(mut self, size: i64) -> Self {
        self.request.set_page_size(size);
        self
    }

    /// Starts at the page with this token (from an earlier [`Page`]).
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.request.set_page_token(token.into());
        self
    }

    /// Bounds [`stream`](Self::stream) to `pages` pages (0 is taken as 1);
    /// default: the client's [`max_pages`](crate::ClientBuilder::max_pages),
    /// itself [`DEFAULT_MAX_PAGES`](crate::pagination::DEFAULT_MAX_PAGES)
    /// unless set. Past the bound the stream ends with
    /// [`Error::TooManyPages`](crate::Error::TooManyPages).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = Some(pages);
        self
    }

    /// Every item of every page from the current page token on, fetched
    /// lazily one page at a time (each page a call with this call's
    /// options). See [`paginate`](crate::pagination::paginate) for when it
    /// stops: a repeated page token and a listing longer than
    /// [`max_pages`](Self::max_pages) end it with an error.
    pub fn stream(self) -> BoxStream<'static, Result<T>> {
        let Call {
            client,
            method,
            request,
            options,
            max_pages,
            run,
        } = self;
        let first = request.page_token().to_owned();
        let max_pages = max_pages.unwrap_or_else(|| client.max_pages());
        Box::pin(paginate_bounded(method, first, max_pages, move |token| {
            let mut request = request.clone();
            request.set_page_token(token);
            run(client.clone(), request, options.clone())
        }))
    }
}

/// An operation-returning RPC and the types its `(yandex.cloud.api.operation)`
/// option declares; implemented by the generated markers in [`rpc`].
pub trait OperationRpc {
    /// gRPC path, for example `/yandex.cloud.billing.v1.CustomerService/Invite`.
    const PATH: &'static str;
    /// The request message.
    type Request;
    /// The operation's metadata.
    type Metadata: Message + Name + Default;
    /// The operation's response (`()` for `google.protobuf.Empty`).
    type Response: Message + Name + Default;
}

/// The typed operation of an [`OperationRpc`].
pub type OperationOf<O> = Operation<<O as OperationRpc>::Metadata, <O as OperationRpc>::Response>;

/// The [`Rpc::output`] of operation-returning RPCs: the typed operation with
/// the server's polling hint.
pub(crate) fn operation_output<O: OperationRpc>(
    client: &Client,
    response: tonic::Response<ProtoOperation>,
) -> Result<OperationOf<O>> {
    let hint = poll_hint(response.metadata());
    Operation::created(client.clone(), response.into_inner(), hint)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto::METHODS;

    /// `(path, request full name, response full name)` of a marker.
    pub(crate) type RpcRow = (&'static str, String, String);
    /// `(path, metadata full name, response full name)` of an operation marker.
    pub(crate) type OperationRow = (&'static str, String, String);

    pub(crate) fn rpc_row<R: Rpc>() -> RpcRow
    where
        R::Request: Name,
        R::Response: Name,
    {
        (
            R::METHOD.path,
            <R::Request as Name>::full_name(),
            <R::Response as Name>::full_name(),
        )
    }

    pub(crate) fn operation_row<O: OperationRpc>() -> OperationRow {
        (
            O::PATH,
            <O::Metadata as Name>::full_name(),
            <O::Response as Name>::full_name(),
        )
    }

    /// Every row has a marker whose Rust types are the row's messages.
    #[test]
    fn every_row_has_a_marker_with_its_types() {
        let markers = rpc::all();
        assert_eq!(markers.len(), METHODS.len());
        for (m, (path, request, response)) in METHODS.iter().zip(&markers) {
            assert_eq!(m.path, *path);
            assert_eq!(m.request, request, "request of {path}");
            assert_eq!(m.response, response, "response of {path}");
        }
    }

    /// Every operation row has an `OperationRpc` marker with the types the
    /// option declares, and no other marker is one.
    #[test]
    fn operation_markers_use_the_types_the_option_declares() {
        let markers = rpc::operations();
        let declared: Vec<_> = METHODS.iter().filter(|m| m.operation.is_some()).collect();
        assert_eq!(markers.len(), declared.len());
        assert!(declared.len() >= 7, "{declared:?}");
        for (m, (path, metadata, response)) in declared.iter().zip(&markers) {
            let types = m.operation.unwrap();
            assert_eq!(m.path, *path);
            let metadata_name = if types.metadata.is_empty() {
                "google.protobuf.Empty"
            } else {
                types.metadata
            };
            assert_eq!(metadata_name, metadata, "metadata of {path}");
            assert_eq!(types.response, response, "response of {path}");
        }
        // Empty is `()`.
        assert_eq!(<() as Name>::full_name(), "google.protobuf.Empty");
    }
}
