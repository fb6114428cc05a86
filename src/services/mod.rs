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
mod customers;
mod operations;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use prost::{Message, Name};

pub use billing_accounts::BillingAccounts;
pub use customers::Customers;
pub use operations::Operations;

use crate::call::CallOptions;
use crate::client::Client;
use crate::error::Result;
use crate::operation::{Operation, poll_hint};
use crate::pagination::{Page, paginate_bounded};
use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;
use crate::retry::RetryPolicy;

impl Client {
    /// `yandex.cloud.billing.v1.CustomerService`: list, invite, create
    /// reseller-served customers, activate and suspend.
    pub fn customers(&self) -> Customers {
        Customers::new(self.clone())
    }

    /// `yandex.cloud.billing.v1.BillingAccountService`: billing accounts,
    /// billable-object bindings and access bindings.
    pub fn billing_accounts(&self) -> BillingAccounts {
        BillingAccounts::new(self.clone())
    }

    /// `yandex.cloud.operation.OperationService`: raw operations by id.
    pub fn operations(&self) -> Operations {
        Operations::new(self.clone())
    }
}

/// Sends one request with the given client and options.
type Runner<Req, Out> = fn(Client, Req, CallOptions) -> BoxFuture<'static, Result<Out>>;

/// A prepared call: the request, the per-call options and how to send it.
///
/// Await it (it implements [`IntoFuture`]) or call [`send`](Self::send).
/// Calls answering a [`Page`] also have `page_size`, `page_token` and
/// [`stream`](Self::stream).
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<Req, Out> {
    client: Client,
    method: &'static str,
    request: Req,
    options: CallOptions,
    /// The page bound of [`stream`](Self::stream); `None`: the client's.
    max_pages: Option<u32>,
    run: Runner<Req, Out>,
}

impl<Req: fmt::Debug, Out> fmt::Debug for Call<Req, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("request", &self.request)
            .field("options", &self.options)
            .field("max_pages", &self.max_pages)
            .finish()
    }
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

/// A List request: it has a page size and a page token.
pub trait PageRequest: Clone + Send + 'static {
    /// Sets the largest number of items per page (0: the server's default).
    fn set_page_size(&mut self, size: i64);
    /// Sets the token of the page to fetch (empty: the first page).
    fn set_page_token(&mut self, token: String);
    /// The token of the page to fetch.
    fn page_token(&self) -> &str;
}

macro_rules! page_request {
    ($($t:ty),* $(,)?) => {$(
        impl PageRequest for $t {
            fn set_page_size(&mut self, size: i64) {
                self.page_size = size;
            }
            fn set_page_token(&mut self, token: String) {
                self.page_token = token;
            }
            fn page_token(&self) -> &str {
                &self.page_token
            }
        }
    )*};
}

page_request!(
    crate::proto::yandex::cloud::billing::v1::ListCustomersRequest,
    crate::proto::yandex::cloud::billing::v1::ListBillingAccountsRequest,
    crate::proto::yandex::cloud::billing::v1::ListBillableObjectBindingsRequest,
    crate::proto::yandex::cloud::access::ListAccessBindingsRequest,
);

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
/// option declares. The wrappers take their types from here, and a test
/// checks every implementation against [`crate::proto::OPERATION_METHODS`].
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

/// Marker types of the wrapped operation-returning RPCs.
pub mod rpc {
    use super::OperationRpc;
    use crate::proto::yandex::cloud::access;
    use crate::proto::yandex::cloud::billing::v1 as billing;

    macro_rules! operation_rpc {
        ($(#[$doc:meta])* $name:ident, $path:literal, $req:ty, $md:ty, $resp:ty) => {
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl OperationRpc for $name {
                const PATH: &'static str = $path;
                type Request = $req;
                type Metadata = $md;
                type Response = $resp;
            }
        };
    }

    operation_rpc!(
        /// `CustomerService.Invite`.
        Invite,
        "/yandex.cloud.billing.v1.CustomerService/Invite",
        billing::InviteCustomerRequest,
        billing::CustomerMetadata,
        billing::Customer
    );
    operation_rpc!(
        /// `CustomerService.CreateResellerServed`.
        CreateResellerServed,
        "/yandex.cloud.billing.v1.CustomerService/CreateResellerServed",
        billing::CreateResellerServedCustomerRequest,
        billing::CustomerMetadata,
        billing::Customer
    );
    operation_rpc!(
        /// `CustomerService.Activate`.
        Activate,
        "/yandex.cloud.billing.v1.CustomerService/Activate",
        billing::ActivateCustomerRequest,
        billing::CustomerMetadata,
        billing::Customer
    );
    operation_rpc!(
        /// `CustomerService.Suspend`.
        Suspend,
        "/yandex.cloud.billing.v1.CustomerService/Suspend",
        billing::SuspendCustomerRequest,
        billing::CustomerMetadata,
        billing::Customer
    );
    operation_rpc!(
        /// `BillingAccountService.BindBillableObject`.
        BindBillableObject,
        "/yandex.cloud.billing.v1.BillingAccountService/BindBillableObject",
        billing::BindBillableObjectRequest,
        billing::BindBillableObjectMetadata,
        billing::BillableObjectBinding
    );
    operation_rpc!(
        /// `BillingAccountService.UpdateAccessBindings`.
        UpdateAccessBindings,
        "/yandex.cloud.billing.v1.BillingAccountService/UpdateAccessBindings",
        access::UpdateAccessBindingsRequest,
        access::UpdateAccessBindingsMetadata,
        ()
    );

    /// `(path, metadata full name, response full name)` of every marker.
    #[cfg(test)]
    pub(crate) fn all() -> Vec<(&'static str, String, String)> {
        fn row<O: OperationRpc>() -> (&'static str, String, String) {
            (
                O::PATH,
                <O::Metadata as prost::Name>::full_name(),
                <O::Response as prost::Name>::full_name(),
            )
        }
        vec![
            row::<Invite>(),
            row::<CreateResellerServed>(),
            row::<Activate>(),
            row::<Suspend>(),
            row::<BindBillableObject>(),
            row::<UpdateAccessBindings>(),
        ]
    }
}

/// Sends an operation-returning call through [`Client::execute`] and wraps
/// the answer with the types `O` declares and the server's polling hint.
async fn start_operation<O, F, Fut>(
    client: Client,
    request: O::Request,
    options: CallOptions,
    call: F,
) -> Result<OperationOf<O>>
where
    O: OperationRpc,
    O::Request: Clone,
    F: FnMut(tonic::Request<O::Request>) -> Fut,
    Fut: Future<Output = std::result::Result<tonic::Response<ProtoOperation>, tonic::Status>>,
{
    let response = client.execute(O::PATH, request, &options, call).await?;
    let hint = poll_hint(response.metadata());
    Operation::created(client, response.into_inner(), hint)
}

/// Sends a List call through [`Client::execute`] and splits the answer into
/// a [`Page`] of its items and `next_page_token`.
async fn fetch_page<Req, Resp, T, F, Fut>(
    client: Client,
    method: &'static str,
    request: Req,
    options: CallOptions,
    call: F,
    split: fn(Resp) -> (Vec<T>, String),
) -> Result<Page<T>>
where
    Req: Clone,
    F: FnMut(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>>,
{
    let response = client.execute(method, request, &options, call).await?;
    let (items, next_page_token) = split(response.into_inner());
    Ok(Page {
        items,
        next_page_token,
    })
}

/// A closure for [`Client::execute`] that sends each attempt on a clone of `stub`.
macro_rules! on_stub {
    ($stub:expr, $method:ident) => {{
        let stub = $stub;
        move |request| {
            let mut stub = stub.clone();
            async move { stub.$method(request).await }
        }
    }};
}
pub(crate) use on_stub;

/// A closure for [`Client::execute`] that makes a stub with `$make` for each
/// attempt (one clone of the transport per attempt, none kept aside), for
/// callers that can lend the client to the closure.
macro_rules! per_attempt_stub {
    ($make:expr, $method:ident) => {
        |request| {
            let mut stub = $make;
            async move { stub.$method(request).await }
        }
    };
}
pub(crate) use per_attempt_stub;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::OPERATION_METHODS;

    const WRAPPED_SERVICES: [&str; 2] = [
        "/yandex.cloud.billing.v1.CustomerService/",
        "/yandex.cloud.billing.v1.BillingAccountService/",
    ];

    #[test]
    fn wrappers_use_the_types_the_option_declares() {
        let wrapped = rpc::all();
        let declared: Vec<_> = OPERATION_METHODS
            .iter()
            .filter(|m| WRAPPED_SERVICES.iter().any(|s| m.path.starts_with(s)))
            .collect();
        assert_eq!(declared.len(), 6, "{declared:?}");
        for m in &declared {
            let (_, metadata, response) = wrapped
                .iter()
                .find(|(path, _, _)| *path == m.path)
                .unwrap_or_else(|| panic!("{} has no wrapper", m.path));
            assert_eq!(metadata, m.metadata, "metadata of {}", m.path);
            assert_eq!(response, m.response, "response of {}", m.path);
        }
        for (path, _, _) in &wrapped {
            assert!(
                declared.iter().any(|m| m.path == *path),
                "{path} is not an operation-returning RPC of the wrapped services"
            );
        }
        // Empty is `()`.
        assert_eq!(<() as Name>::full_name(), "google.protobuf.Empty");
    }
}
