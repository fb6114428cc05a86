//! CustomerService.

use crate::proto::paths::billing::v1::customer_service;
use std::sync::LazyLock;

use prost::Message;
use regex::Regex;
use tonic::{Request, Response, Status};

use super::{Mutation, Svc};
use crate::emulator::operations::{Effect, new_id};
use crate::emulator::seed::CustomerStatus;
use crate::emulator::state::{CustomerRecord, Level, State};
use crate::emulator::text::echo;
use crate::emulator::validation::invalid_argument;
use crate::proto::yandex::cloud::billing::v1::customer_service_server::CustomerService;
use crate::proto::yandex::cloud::billing::v1::{
    ActivateCustomerRequest, CreateResellerServedCustomerRequest, CustomerMetadata, CustomerPerson,
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

/// The rule text the API reference gives for `CustomerPerson.phone`.
pub(crate) const PHONE_RULE: &str = "must be a valid telephone number or a valid phoneword";
/// The rule text the API reference gives for `CustomerPerson.email`.
pub(crate) const EMAIL_RULE: &str = "must be a valid email address";

/// The emulator's reading of "a valid telephone number or a valid phoneword":
/// 3 to 32 characters of ASCII digits, ASCII letters, spaces and `+ - ( ) .`,
/// with at least one digit, at least 3 digits or letters, a `+` only as the
/// first character and balanced, unnested parentheses
/// (`+7 (495) 739-70-00`, `1-800-FLOWERS`, `8.800.555.35.35`).
pub(crate) fn is_phone(phone: &str) -> bool {
    let len = phone.chars().count();
    if !(3..=32).contains(&len) {
        return false;
    }
    let mut open = false;
    for (i, c) in phone.chars().enumerate() {
        match c {
            '0'..='9' | 'a'..='z' | 'A'..='Z' | ' ' | '-' | '.' => {}
            '+' if i == 0 => {}
            '(' if !open => open = true,
            ')' if open => open = false,
            _ => return false,
        }
    }
    !open
        && phone.chars().any(|c| c.is_ascii_digit())
        && phone.chars().filter(char::is_ascii_alphanumeric).count() >= 3
}

/// The `person.phone` and `person.email` rules of the API reference (empty
/// fields pass: both are optional).
fn person_violations(person: Option<&CustomerPerson>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(person) = person else {
        return out;
    };
    if !person.phone.is_empty() && !is_phone(&person.phone) {
        out.push(("person.phone".into(), PHONE_RULE.into()));
    }
    if !person.email.is_empty() && !EMAIL.is_match(&person.email) {
        out.push(("person.email".into(), EMAIL_RULE.into()));
    }
    out
}

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
        .ok_or_else(|| Status::not_found(format!("customer {} not found", echo(customer_id))))?;
    let reseller = c.reseller_id.clone();
    st.check_account(subject, &reseller, Level::Edit)?;
    Ok(Mutation {
        description: format!("{verb} customer {}", echo(customer_id)),
        metadata: metadata(&reseller, customer_id),
        effect: Effect::SetCustomerStatus {
            customer_id: customer_id.to_string(),
            status,
        },
    })
}

impl Svc {
    /// With [`strict_person_fields`](crate::emulator::EmulatorBuilder::strict_person_fields),
    /// INVALID_ARGUMENT naming `person.phone` / `person.email` when they break the reference's rules.
    fn check_person(&self, person: Option<&CustomerPerson>) -> Result<(), Status> {
        if !self.0.strict_person_fields {
            return Ok(());
        }
        let violations = person_violations(person);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(invalid_argument(violations))
        }
    }
}

#[tonic::async_trait]
impl CustomerService for Svc {
    async fn list(
        &self,
        req: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        let (subject, r) = self.admit(&req)?;
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
        let r = self.valid(&req)?.clone();
        if !EMAIL.is_match(&r.invitation_email) {
            return Err(invalid_argument(vec![(
                "invitation_email".into(),
                "value must be a valid e-mail address (email)".into(),
            )]));
        }
        self.check_person(r.person.as_ref())?;
        self.mutate(&req, customer_service::INVITE, |st, subject| {
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
                    echo(&r.name),
                    echo(&r.reseller_id)
                ),
                metadata: metadata(&r.reseller_id, &c.id),
                effect: Effect::CreateCustomer(Box::new(c)),
            })
        })
    }

    async fn create_reseller_served(
        &self,
        req: Request<CreateResellerServedCustomerRequest>,
    ) -> Result<Response<Operation>, Status> {
        let r = self.valid(&req)?.clone();
        if !RESELLER_ID_PATTERNS
            .iter()
            .any(|p| p.is_match(&r.reseller_id))
        {
            return Err(invalid_argument(vec![(
                "reseller_id".into(),
                "value must match one of the reseller id patterns (pattern)".into(),
            )]));
        }
        self.check_person(r.person.as_ref())?;
        let method = customer_service::CREATE_RESELLER_SERVED;
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
                    echo(&r.name),
                    echo(&r.reseller_id)
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
        self.valid(&req)?;
        self.mutate(&req, customer_service::ACTIVATE, |st, s| {
            status_change(st, s, &id, CustomerStatus::Active, "Activate")
        })
    }

    async fn suspend(
        &self,
        req: Request<SuspendCustomerRequest>,
    ) -> Result<Response<Operation>, Status> {
        let id = req.get_ref().customer_id.clone();
        self.valid(&req)?;
        self.mutate(&req, customer_service::SUSPEND, |st, s| {
            status_change(st, s, &id, CustomerStatus::Suspended, "Suspend")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_and_phonewords() {
        for ok in [
            "+7 (495) 739-70-00",
            "1-800-FLOWERS",
            "8.800.555.35.35",
            "112",
            "+1 800 GOT JUNK",
        ] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in [
            "12",
            "FLOWERS",
            "call me maybe!",
            "7+495",
            "(495 123",
            "495) 123",
            "((495)) 1",
            "+7 495 123 45 67 ext 1234567890123",
            "٣٤٥٦",
            "phone: 123",
        ] {
            assert!(!is_phone(bad), "{bad}");
        }
    }

    #[test]
    fn person_violations_name_the_fields() {
        assert!(person_violations(None).is_empty());
        assert!(person_violations(Some(&CustomerPerson::default())).is_empty());
        let bad = CustomerPerson {
            phone: "x".into(),
            email: "not-an-email".into(),
            ..Default::default()
        };
        assert_eq!(
            person_violations(Some(&bad)),
            vec![
                ("person.phone".to_string(), PHONE_RULE.to_string()),
                ("person.email".to_string(), EMAIL_RULE.to_string()),
            ]
        );
    }
}
