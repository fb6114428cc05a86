//! CustomerService.

use std::sync::LazyLock;

use prost::Message;
use regex::Regex;
use tonic::{Request, Response, Status};

use super::{Mutation, Svc, subject};
use crate::emulator::operations::{Effect, new_id};
use crate::emulator::seed::CustomerStatus;
use crate::emulator::state::{CustomerRecord, Level, State};
use crate::emulator::validation::invalid_argument;
use crate::proto::yandex::cloud::billing::v1::customer_service_server::CustomerService;
use crate::proto::yandex::cloud::billing::v1::{
    ActivateCustomerRequest, CreateResellerServedCustomerRequest, CustomerMetadata,
    InviteCustomerRequest, ListCustomersRequest, ListCustomersResponse, SuspendCustomerRequest,
};
use crate::proto::yandex::cloud::operation::Operation;

static RESELLER_ID_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{32}$",
        r"^[a-z][-a-zA-Z0-9.]{0,48}[a-zA-Z0-9]$",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("static pattern"))
    .collect()
});

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
        .expect("static pattern")
});

fn metadata(reseller_id: &str, customer_id: &str) -> Vec<u8> {
    CustomerMetadata {
        reseller_id: reseller_id.into(),
        customer_id: customer_id.into(),
    }
    .encode_to_vec()
}

fn new_customer(
    reseller_id: &str,
    name: &str,
    email: Option<&str>,
    person: crate::proto::yandex::cloud::billing::v1::CustomerPerson,
    status: CustomerStatus,
) -> CustomerRecord {
    CustomerRecord {
        id: new_id("emucust"),
        reseller_id: reseller_id.into(),
        billing_account_id: new_id("dn2emu"),
        name: name.into(),
        invitation_email: email.map(str::to_string),
        person,
        status,
    }
}

fn status_change(
    st: &mut State,
    subject: &str,
    customer_id: &str,
    status: CustomerStatus,
    verb: &str,
) -> Result<Mutation, Status> {
    let c = st
        .customer(customer_id)
        .ok_or_else(|| Status::not_found(format!("customer {customer_id} not found")))?;
    let reseller = c.reseller_id.clone();
    st.check_account(subject, &reseller, Level::Edit)?;
    Ok(Mutation {
        description: format!("{verb} customer {customer_id}"),
        metadata: metadata(&reseller, customer_id),
        effect: Effect::SetCustomerStatus {
            customer_id: customer_id.to_string(),
            status,
        },
    })
}

#[tonic::async_trait]
impl CustomerService for Svc {
    async fn list(
        &self,
        req: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        let subject = subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let st = self.0.lock();
        st.check_account(&subject, &r.reseller_id, Level::View)?;
        let scope = format!("customers/{}", r.reseller_id);
        let (range, next_page_token) = self.0.pages.window(
            st.customer_keys_of(&r.reseller_id).len(),
            &scope,
            r.page_size,
            &r.page_token,
        )?;
        let customers = st.customers_page(&r.reseller_id, range);
        Ok(Response::new(ListCustomersResponse {
            customers,
            next_page_token,
        }))
    }

    async fn invite(
        &self,
        req: Request<InviteCustomerRequest>,
    ) -> Result<Response<Operation>, Status> {
        let r = req.get_ref().clone();
        self.0.validator.validate(&r)?;
        if !EMAIL.is_match(&r.invitation_email) {
            return Err(invalid_argument(vec![(
                "invitation_email".into(),
                "value must be a valid e-mail address (email)".into(),
            )]));
        }
        self.mutate(
            &req,
            "yandex.cloud.billing.v1.CustomerService/Invite",
            |st, subject| {
                st.check_account(subject, &r.reseller_id, Level::Edit)?;
                let c = new_customer(
                    &r.reseller_id,
                    &r.name,
                    Some(&r.invitation_email),
                    r.person.clone().unwrap_or_default(),
                    CustomerStatus::Invited,
                );
                Ok(Mutation {
                    description: format!(
                        "Invite customer {} to reseller {}",
                        r.name, r.reseller_id
                    ),
                    metadata: metadata(&r.reseller_id, &c.id),
                    effect: Effect::CreateCustomer(Box::new(c)),
                })
            },
        )
    }

    async fn create_reseller_served(
        &self,
        req: Request<CreateResellerServedCustomerRequest>,
    ) -> Result<Response<Operation>, Status> {
        let r = req.get_ref().clone();
        self.0.validator.validate(&r)?;
        if !RESELLER_ID_PATTERNS
            .iter()
            .any(|p| p.is_match(&r.reseller_id))
        {
            return Err(invalid_argument(vec![(
                "reseller_id".into(),
                "value must match one of the reseller id patterns (pattern)".into(),
            )]));
        }
        let method = "yandex.cloud.billing.v1.CustomerService/CreateResellerServed";
        self.mutate(&req, method, |st, subject| {
            st.check_account(subject, &r.reseller_id, Level::Edit)?;
            let c = new_customer(
                &r.reseller_id,
                &r.name,
                None,
                r.person.clone().unwrap_or_default(),
                CustomerStatus::Inactive,
            );
            Ok(Mutation {
                description: format!(
                    "Create reseller-served customer {} of reseller {}",
                    r.name, r.reseller_id
                ),
                metadata: metadata(&r.reseller_id, &c.id),
                effect: Effect::CreateCustomer(Box::new(c)),
            })
        })
    }

    async fn activate(
        &self,
        req: Request<ActivateCustomerRequest>,
    ) -> Result<Response<Operation>, Status> {
        let id = req.get_ref().customer_id.clone();
        self.0.validator.validate(req.get_ref())?;
        self.mutate(
            &req,
            "yandex.cloud.billing.v1.CustomerService/Activate",
            |st, s| status_change(st, s, &id, CustomerStatus::Active, "Activate"),
        )
    }

    async fn suspend(
        &self,
        req: Request<SuspendCustomerRequest>,
    ) -> Result<Response<Operation>, Status> {
        let id = req.get_ref().customer_id.clone();
        self.0.validator.validate(req.get_ref())?;
        self.mutate(
            &req,
            "yandex.cloud.billing.v1.CustomerService/Suspend",
            |st, s| status_change(st, s, &id, CustomerStatus::Suspended, "Suspend"),
        )
    }
}
