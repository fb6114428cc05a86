//! In-memory state: billing accounts, customers, bindings, tokens, operations.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use tonic::Status;

use super::operations::OpRecord;
use super::seed::{CustomerStatus, Seed, SeedPerson};
use crate::emulator::text::echo;
use crate::proto::yandex::cloud::access::{AccessBinding, Subject};
use crate::proto::yandex::cloud::billing::v1::{
    BillableObjectBinding, BillingAccount, Customer, CustomerPerson,
};

/// A customer as the emulator stores it (richer than the API's `Customer`).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerRecord {
    /// Customer id.
    pub id: String,
    /// Reseller billing account id.
    pub reseller_id: String,
    /// The customer's own billing account id.
    pub billing_account_id: String,
    /// Name.
    pub name: String,
    /// Invitation e-mail for invited customers.
    pub invitation_email: Option<String>,
    /// Person data.
    pub person: CustomerPerson,
    /// Status.
    pub status: CustomerStatus,
}

impl CustomerRecord {
    /// The API view of the customer.
    pub fn to_proto(&self) -> Customer {
        Customer {
            id: self.id.clone(),
            billing_account_id: self.billing_account_id.clone(),
        }
    }
}

pub(crate) fn person_to_proto(p: &SeedPerson) -> CustomerPerson {
    CustomerPerson {
        name: p.name.clone(),
        longname: p.longname.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
        post_code: p.post_code.clone(),
        post_address: p.post_address.clone(),
        legal_address: p.legal_address.clone(),
        tin: p.tin.clone(),
    }
}

pub(crate) struct Account {
    pub proto: BillingAccount,
    pub reseller_id: Option<String>,
    pub access: Vec<AccessBinding>,
    pub billable: Vec<BillableObjectBinding>,
}

pub(crate) struct IamTokenEntry {
    pub subject_id: String,
    pub expires_at: Option<SystemTime>,
}

/// Access levels a call needs on a billing account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Any role.
    View,
    /// Editor or more.
    Edit,
    /// Admin or owner.
    Admin,
}

fn role_allows(role: &str, level: Level) -> bool {
    let role = role.strip_prefix("billing.accounts.").unwrap_or(role);
    match level {
        Level::View => true,
        Level::Edit => matches!(role, "owner" | "admin" | "editor"),
        Level::Admin => matches!(role, "owner" | "admin"),
    }
}

/// What a subject wants to do as a service account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SaRight {
    /// `CreateForServiceAccount`.
    CreateToken,
    /// Revoke the service account's tokens.
    Admin,
}

fn sa_role_allows(role: &str, right: SaRight) -> bool {
    match right {
        SaRight::CreateToken => matches!(
            role,
            super::seed::TOKEN_CREATOR_ROLE | "editor" | "admin" | "iam.serviceAccounts.admin"
        ),
        SaRight::Admin => matches!(role, "admin" | "iam.serviceAccounts.admin"),
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub accounts: Vec<Account>,
    pub customers: Vec<CustomerRecord>,
    pub iam_tokens: HashMap<String, IamTokenEntry>,
    pub oauth_tokens: HashMap<String, String>,
    /// key id -> (service account id, public key PEM)
    pub sa_keys: HashMap<String, (String, String)>,
    pub service_accounts: HashSet<String>,
    /// Access bindings on service accounts, by service account id.
    pub sa_access: HashMap<String, Vec<AccessBinding>>,
    pub operations: HashMap<String, OpRecord>,
    pub op_seq: u64,
    /// (subject, method, idempotency key) -> (request bytes, operation id)
    pub idempotency: HashMap<(String, String, String), (Vec<u8>, String)>,
    pub fail_next: HashMap<String, std::collections::VecDeque<(tonic::Code, String)>>,
    /// Pending operations by `(due time without the fixed delay, seq, id)`, soonest first.
    pub due: std::collections::BinaryHeap<std::cmp::Reverse<(std::time::Instant, u64, String)>>,
    /// Per-operation random completion delays: the largest delay and the seeded source.
    pub random_delay: Option<(std::time::Duration, rand::rngs::StdRng)>,
}

impl State {
    pub fn from_seed(seed: &Seed) -> Self {
        let mut st = State::default();
        let now = SystemTime::now();
        for a in &seed.billing_accounts {
            st.accounts.push(Account {
                proto: BillingAccount {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    created_at: Some(now.into()),
                    country_code: a.country_code.clone(),
                    currency: a.currency.clone(),
                    active: a.active,
                    balance: a.balance.clone(),
                },
                reseller_id: a.reseller_id.clone(),
                access: Vec::new(),
                billable: Vec::new(),
            });
        }
        for c in &seed.customers {
            if st.account(&c.billing_account_id).is_none() {
                let currency = st
                    .account(&c.reseller_id)
                    .map_or("RUB".to_string(), |r| r.proto.currency.clone());
                st.accounts.push(Account {
                    proto: BillingAccount {
                        id: c.billing_account_id.clone(),
                        name: c.name.clone(),
                        created_at: Some(now.into()),
                        country_code: "RU".into(),
                        currency,
                        active: c.status == CustomerStatus::Active,
                        balance: "0.00".into(),
                    },
                    reseller_id: Some(c.reseller_id.clone()),
                    access: Vec::new(),
                    billable: Vec::new(),
                });
            }
            st.customers.push(CustomerRecord {
                id: c.id.clone(),
                reseller_id: c.reseller_id.clone(),
                billing_account_id: c.billing_account_id.clone(),
                name: c.name.clone(),
                invitation_email: c.invitation_email.clone(),
                person: person_to_proto(&c.person),
                status: c.status,
            });
        }
        for b in &seed.access_bindings {
            st.add_binding(
                &b.billing_account_id,
                &b.role_id,
                &b.subject_id,
                &b.subject_type,
            );
        }
        for t in &seed.oauth_tokens {
            st.oauth_tokens
                .insert(t.token.clone(), t.subject_id.clone());
        }
        for t in &seed.iam_tokens {
            st.iam_tokens.insert(
                t.token.clone(),
                IamTokenEntry {
                    subject_id: t.subject_id.clone(),
                    expires_at: None,
                },
            );
        }
        st.service_accounts = seed.service_accounts.iter().cloned().collect();
        for b in &seed.service_account_access_bindings {
            st.add_sa_binding(
                &b.service_account_id,
                &b.role_id,
                &b.subject_id,
                &b.subject_type,
            );
        }
        st
    }

    /// Adds a role on a service account (once).
    pub fn add_sa_binding(&mut self, sa: &str, role: &str, subject: &str, ty: &str) {
        let binding = AccessBinding {
            role_id: role.into(),
            subject: Some(Subject {
                id: subject.into(),
                r#type: ty.into(),
            }),
        };
        let list = self.sa_access.entry(sa.to_string()).or_default();
        if !list.contains(&binding) {
            list.push(binding);
        }
    }

    /// Whether `subject` holds a role on service account `sa` allowing `right`.
    pub fn sa_allowed(&self, subject: &str, sa: &str, right: SaRight) -> bool {
        self.sa_access.get(sa).is_some_and(|bindings| {
            bindings.iter().any(|b| {
                b.subject.as_ref().is_some_and(|s| s.id == subject)
                    && sa_role_allows(&b.role_id, right)
            })
        })
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.proto.id == id)
    }

    pub fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.proto.id == id)
    }

    pub fn customer_mut(&mut self, id: &str) -> Option<&mut CustomerRecord> {
        self.customers.iter_mut().find(|c| c.id == id)
    }

    pub fn add_binding(&mut self, account: &str, role: &str, subject: &str, ty: &str) {
        if let Some(a) = self.account_mut(account) {
            let binding = AccessBinding {
                role_id: role.into(),
                subject: Some(Subject {
                    id: subject.into(),
                    r#type: ty.into(),
                }),
            };
            if !a.access.contains(&binding) {
                a.access.push(binding);
            }
        }
    }

    /// Whether `subject` holds a role of at least `level` on the account or
    /// on the reseller account that serves it.
    pub fn allowed(&self, subject: &str, account: &str, level: Level) -> bool {
        let mut current = self.account(account);
        let mut hops = 0;
        while let Some(a) = current {
            if a.access.iter().any(|b| {
                b.subject.as_ref().is_some_and(|s| s.id == subject)
                    && role_allows(&b.role_id, level)
            }) {
                return true;
            }
            hops += 1;
            current = match (&a.reseller_id, hops < 4) {
                (Some(r), true) => self.account(r),
                _ => None,
            };
        }
        false
    }

    /// NOT_FOUND for an unknown account, PERMISSION_DENIED without rights.
    pub fn check_account(&self, subject: &str, account: &str, level: Level) -> Result<(), Status> {
        if self.account(account).is_none() {
            return Err(Status::not_found(format!(
                "billing account {} not found",
                echo(account)
            )));
        }
        if !self.allowed(subject, account, level) {
            return Err(Status::permission_denied(format!(
                "subject {} has no {level:?} permission on billing account {}",
                echo(subject),
                echo(account)
            )));
        }
        Ok(())
    }

    pub fn subject_for_iam_token(&self, token: &str, now: SystemTime) -> Result<String, Status> {
        let entry = self
            .iam_tokens
            .get(token)
            .ok_or_else(|| Status::unauthenticated("the IAM token is unknown or was revoked"))?;
        if entry.expires_at.is_some_and(|e| e <= now) {
            return Err(Status::unauthenticated("the IAM token has expired"));
        }
        Ok(entry.subject_id.clone())
    }
}
