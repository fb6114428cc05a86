//! `yandex.cloud.billing.v1.CustomerService`.

use super::Call;
use crate::operation::Operation;
use crate::pagination::Page;
use crate::proto::yandex::cloud::billing::v1::{
    ActivateCustomerRequest, CreateResellerServedCustomerRequest, Customer, CustomerMetadata,
    CustomerPerson, InviteCustomerRequest, ListCustomersRequest, SuspendCustomerRequest,
};

/// The customers of a reseller. Get it with
/// [`Client::customers`](crate::Client::customers); the ergonomic
/// constructors below build the request from arguments, the generated
/// `*_request` ones send a request built by the caller.
pub type Customers = super::CustomerService;

/// A call that starts a customer operation.
pub type CustomerOperationCall<Req> = Call<Req, Operation<CustomerMetadata, Customer>>;

impl Customers {
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

    /// Activates a customer.
    pub fn activate(
        &self,
        customer_id: impl Into<String>,
    ) -> CustomerOperationCall<ActivateCustomerRequest> {
        self.activate_request(ActivateCustomerRequest {
            customer_id: customer_id.into(),
        })
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
}
