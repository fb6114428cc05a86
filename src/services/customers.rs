//! `yandex.cloud.billing.v1.CustomerService`.

use super::Call;
use super::rpc::billing::v1::customer_service as rpc;
use crate::client::Client;
use crate::operation::Operation;
use crate::pagination::Page;
use crate::proto::yandex::cloud::billing::v1::customer_service_client::CustomerServiceClient;
use crate::proto::yandex::cloud::billing::v1::{
    ActivateCustomerRequest, CreateResellerServedCustomerRequest, Customer, CustomerMetadata,
    CustomerPerson, InviteCustomerRequest, ListCustomersRequest, SuspendCustomerRequest,
};
use crate::transport::Transport;

/// The customers of a reseller. Get it with [`Client::customers`].
#[derive(Debug, Clone)]
pub struct Customers {
    client: Client,
}

/// A call that starts a customer operation.
pub type CustomerOperationCall<Req> = Call<Req, Operation<CustomerMetadata, Customer>>;

impl Customers {
    pub(crate) fn new(client: Client) -> Self {
        Customers { client }
    }

    /// The generated stub on the client's transport (authorization and
    /// header layers, but not the deadline and retries of [`Client::execute`]).
    pub fn raw(&self) -> CustomerServiceClient<Transport> {
        CustomerServiceClient::new(self.client.billing_transport())
    }

    /// One page of the reseller's customers; `.page_size(n)`,
    /// `.page_token(t)`, or `.stream()` for all of them.
    pub fn list(
        &self,
        reseller_id: impl Into<String>,
    ) -> Call<ListCustomersRequest, Page<Customer>> {
        self.list_request(ListCustomersRequest {
            reseller_id: reseller_id.into(),
            ..Default::default()
        })
    }

    /// [`list`](Self::list) with a request built by the caller.
    pub fn list_request(
        &self,
        request: ListCustomersRequest,
    ) -> Call<ListCustomersRequest, Page<Customer>> {
        self.client.call::<rpc::List>(request)
    }

    /// Invites a new customer, who accepts by e-mail.
    ///
    /// The API reference documents two rules on `person` that the protos do
    /// not carry, so this client does not check them and the real API's
    /// behaviour is unverified: `phone` "must be a valid telephone number or
    /// a valid phoneword" (`+7 (495) 739-70-00`, `1-800-FLOWERS`) and
    /// `email` "must be a valid email address". The emulator enforces both
    /// with `EmulatorBuilder::strict_person_fields` (feature `emulator`;
    /// `yc-billing emulator --strict-person-fields`), answering INVALID_ARGUMENT naming
    /// `person.phone` or `person.email`.
    pub fn invite(
        &self,
        reseller_id: impl Into<String>,
        name: impl Into<String>,
        invitation_email: impl Into<String>,
        person: CustomerPerson,
    ) -> CustomerOperationCall<InviteCustomerRequest> {
        self.invite_request(InviteCustomerRequest {
            reseller_id: reseller_id.into(),
            name: name.into(),
            invitation_email: invitation_email.into(),
            person: Some(person),
        })
    }

    /// [`invite`](Self::invite) with a request built by the caller.
    pub fn invite_request(
        &self,
        request: InviteCustomerRequest,
    ) -> CustomerOperationCall<InviteCustomerRequest> {
        self.client.call::<rpc::Invite>(request)
    }

    /// Creates a customer served by the reseller (no invitation).
    ///
    /// The API reference documents the same two rules as for [`invite`](Self::invite) on `person` that the protos do
    /// not carry, so this client does not check them and the real API's
    /// behaviour is unverified: `phone` "must be a valid telephone number or
    /// a valid phoneword" (`+7 (495) 739-70-00`, `1-800-FLOWERS`) and
    /// `email` "must be a valid email address". The emulator enforces both
    /// with `EmulatorBuilder::strict_person_fields` (feature `emulator`;
    /// `yc-billing emulator --strict-person-fields`), answering INVALID_ARGUMENT naming
    /// `person.phone` or `person.email`.
    pub fn create_reseller_served(
        &self,
        reseller_id: impl Into<String>,
        name: impl Into<String>,
        person: CustomerPerson,
    ) -> CustomerOperationCall<CreateResellerServedCustomerRequest> {
        self.create_reseller_served_request(CreateResellerServedCustomerRequest {
            reseller_id: reseller_id.into(),
            name: name.into(),
            person: Some(person),
        })
    }

    /// [`create_reseller_served`](Self::create_reseller_served) with a request built by the caller.
    pub fn create_reseller_served_request(
        &self,
        request: CreateResellerServedCustomerRequest,
    ) -> CustomerOperationCall<CreateResellerServedCustomerRequest> {
        self.client.call::<rpc::CreateResellerServed>(request)
    }

    /// Activates a customer.
    pub fn activate(
        &self,
        customer_id: impl Into<String>,
    ) -> CustomerOperationCall<ActivateCustomerRequest> {
        self.activate_request(ActivateCustomerRequest {
            customer_id: customer_id.into(),
        })
    }

    /// [`activate`](Self::activate) with a request built by the caller.
    pub fn activate_request(
        &self,
        request: ActivateCustomerRequest,
    ) -> CustomerOperationCall<ActivateCustomerRequest> {
        self.client.call::<rpc::Activate>(request)
    }

    /// Suspends a customer.
    pub fn suspend(
        &self,
        customer_id: impl Into<String>,
    ) -> CustomerOperationCall<SuspendCustomerRequest> {
        self.suspend_request(SuspendCustomerRequest {
            customer_id: customer_id.into(),
        })
    }

    /// [`suspend`](Self::suspend) with a request built by the caller.
    pub fn suspend_request(
        &self,
        request: SuspendCustomerRequest,
    ) -> CustomerOperationCall<SuspendCustomerRequest> {
        self.client.call::<rpc::Suspend>(request)
    }
}
