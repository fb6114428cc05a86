//! `yandex.cloud.billing.v1.ServiceService`: the billable cloud services.

use super::Call;
use super::filter::Filter;
use crate::pagination::Page;
use crate::proto::yandex::cloud::billing::v1::{GetServiceRequest, ListServicesRequest, Service};

/// The cloud services that have SKUs. Get it with [`Client::billing_services`](crate::Client::billing_services).
///
/// ```no_run
/// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
/// use futures::TryStreamExt;
///
/// let services: Vec<_> = client.billing_services().list().stream().try_collect().await?;
/// let compute = client.billing_services().get(&services[0].id).await?;
/// println!("{}: {}", compute.id, compute.name);
/// # Ok(()) }
/// ```
pub type BillingServices = super::ServiceService;

impl BillingServices {
    /// One service.
    pub fn get(&self, id: impl Into<String>) -> Call<GetServiceRequest, Service> {
        self.get_request(GetServiceRequest { id: id.into() })
    }

    /// One page of services; narrow it with [`filter`](Call::filter).
    pub fn list(&self) -> Call<ListServicesRequest, Page<Service>> {
        self.list_request(ListServicesRequest::default())
    }
}

impl Call<ListServicesRequest, Page<Service>> {
    /// Lists only the services the filter selects ([`Filter::id`] or
    /// [`Filter::raw`]).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.request.filter = filter.to_string();
        self
    }
}
