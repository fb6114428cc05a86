//! In-memory state: billing accounts, customers, bindings, tokens, operations.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use tonic::Status;

use super::operations::OpRecord;
use super::seed::{
    CustomerStatus, Seed, SeedAccessBinding, SeedBillableObjectBinding, SeedBillingAccount,
    SeedCustomer, SeedServiceAccountBinding, SeedServiceAccountKey, SeedToken,
};
use crate::emulator::text::echo;
use crate::proto::yandex::cloud::access::{AccessBinding, Subject};
use crate::proto::yandex::cloud::billing::v1::{
    BillableObject, BillableObjectBinding, BillingAccount, Customer, CustomerPerson,
};
use crate::time::Clock;

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

pub(crate) struct Account {
    pub proto: BillingAccount,
    pub reseller_id: Option<String>,
    /// In the order added; changed only through [`State::add_access_binding`]
    /// and [`State::remove_access_binding`], which keep the subject index.
    access: Vec<AccessBinding>,
    pub billable: Vec<BillableObjectBinding>,
    /// Keys of the accounts this one serves through one to [`RESELLER_HOPS`]
    /// reseller links (those its roles reach, as [`State::allowed`] walks).
    served: BTreeSet<usize>,
}

impl Account {
    pub fn new(proto: BillingAccount, reseller_id: Option<String>) -> Self {
        Self {
            proto,
            reseller_id,
            access: Vec::new(),
            billable: Vec::new(),
            served: BTreeSet::new(),
        }
    }

    /// The account's access bindings, in the order they were added.
    pub fn access(&self) -> &[AccessBinding] {
        &self.access
    }
}

/// Reseller links a role follows down: a role on an account also counts on
/// the accounts it serves, up to this many links below it.
const RESELLER_HOPS: usize = 3;

/// One subject's roles, by account key.
#[derive(Default)]
struct SubjectIndex {
    /// Account key -> the roles the subject holds there (one per binding).
    roles: BTreeMap<usize, Vec<String>>,
    /// The keys of `roles` whose account serves others (`served` not empty).
    resellers: BTreeSet<usize>,
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

/// The emulator's state. Accounts and customers are never removed: a
/// record's key is its position in insertion order, which is also the order
/// every list returns. Indexes: account and customer by id, customers by
/// reseller, each subject's roles by account, each account's served
/// accounts, billable objects by owner; so `Get` is O(1) and a page of a
/// `List` costs O(page + log n) (see `visible_accounts`).
pub(crate) struct State {
    /// The emulator's clock: record and operation timestamps, token expiry.
    clock: Arc<dyn Clock>,
    accounts: Vec<Account>,
    account_keys: HashMap<String, usize>,
    customers: Vec<CustomerRecord>,
    customer_keys: HashMap<String, usize>,
    customers_by_reseller: HashMap<String, Vec<usize>>,
    subjects: HashMap<String, SubjectIndex>,
    /// (billable object type, id) -> key of the account it is bound to.
    billable_owner: HashMap<(String, String), usize>,
    /// Records the read paths looked at (see `EmulatorHandle::records_examined`).
    examined: AtomicU64,
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
    /// Pending operations by `(due time without the fixed delay, seq, id)`,
    /// soonest first; times are [`State::tick`]s.
    pub due: std::collections::BinaryHeap<std::cmp::Reverse<(std::time::Duration, u64, String)>>,
    /// Whether due times follow the clock (the emulator's manual clock)
    /// rather than monotonic real time since `started`.
    pub due_on_clock: bool,
    started: std::time::Instant,
    /// Per-operation random completion delays: the largest delay and the seeded source.
    pub random_delay: Option<(std::time::Duration, rand::rngs::StdRng)>,
    /// Budgets, per billing account.
    pub budgets: super::services::budget::BudgetStore,
}

impl State {
    /// An empty state on `clock`.
    fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            accounts: Vec::new(),
            account_keys: HashMap::new(),
            customers: Vec::new(),
            customer_keys: HashMap::new(),
            customers_by_reseller: HashMap::new(),
            subjects: HashMap::new(),
            billable_owner: HashMap::new(),
            examined: AtomicU64::new(0),
            iam_tokens: HashMap::new(),
            oauth_tokens: HashMap::new(),
            sa_keys: HashMap::new(),
            service_accounts: HashSet::new(),
            sa_access: HashMap::new(),
            operations: HashMap::new(),
            op_seq: 0,
            idempotency: HashMap::new(),
            due: BinaryHeap::new(),
            due_on_clock: false,
            started: std::time::Instant::now(),
            random_delay: None,
            budgets: Default::default(),
        }
    }

    /// The current time on the emulator's clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The time operations are due by: monotonic real time since the state
    /// was made, or the clock's time since the epoch when due times follow it.
    pub fn tick(&self) -> std::time::Duration {
        if self.due_on_clock {
            self.now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
        } else {
            self.started.elapsed()
        }
    }

    /// The seeded state; every record is created at the clock's now.
    pub fn from_seed(seed: &Seed, clock: Arc<dyn Clock>) -> Self {
        let mut st = State::new(clock);
        let now = st.now();
        for a in &seed.billing_accounts {
            st.insert_account(Account::new(
                BillingAccount {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    created_at: Some(now.into()),
                    country_code: a.country_code.clone(),
                    currency: a.currency.clone(),
                    active: a.active,
                    balance: a.balance.clone(),
                },
                a.reseller_id.clone(),
            ));
        }
        for c in &seed.customers {
            if st.account(&c.billing_account_id).is_none() {
                let currency = st
                    .account(&c.reseller_id)
                    .map_or("RUB".to_string(), |r| r.proto.currency.clone());
                st.insert_account(Account::new(
                    BillingAccount {
                        id: c.billing_account_id.clone(),
                        name: c.name.clone(),
                        created_at: Some(now.into()),
                        country_code: "RU".into(),
                        currency,
                        active: c.status == CustomerStatus::Active,
                        balance: "0.00".into(),
                    },
                    Some(c.reseller_id.clone()),
                ));
            }
            st.insert_customer(CustomerRecord {
                id: c.id.clone(),
                reseller_id: c.reseller_id.clone(),
                billing_account_id: c.billing_account_id.clone(),
                name: c.name.clone(),
                invitation_email: c.invitation_email.clone(),
                person: c.person.clone(),
                status: c.status,
            });
        }
        // A seed may name a reseller before the reseller itself: link the
        // reseller chains once every account is known.
        for key in 0..st.accounts.len() {
            st.link(key);
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
            let expires_at = t
                .expires_at
                .as_deref()
                .and_then(|at| at.parse::<prost_types::Timestamp>().ok())
                .and_then(|ts| SystemTime::try_from(ts).ok());
            st.iam_tokens.insert(
                t.token.clone(),
                IamTokenEntry {
                    subject_id: t.subject_id.clone(),
                    expires_at,
                },
            );
        }
        for b in &seed.billable_object_bindings {
            st.bind_billable(
                &b.billing_account_id,
                BillableObjectBinding {
                    effective_time: Some(now.into()),
                    billable_object: Some(BillableObject {
                        id: b.id.clone(),
                        r#type: b.object_type.clone(),
                    }),
                },
            );
        }
        for k in &seed.service_account_keys {
            st.sa_keys.insert(
                k.id.clone(),
                (k.service_account_id.clone(), k.public_key.clone()),
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
        for b in &seed.budgets {
            st.budgets.insert_seeded(b.clone(), now.into());
        }
        st
    }

    /// The state as a seed (what `GET /state` answers and the state file
    /// holds): every account, customer, binding, token and key, in the
    /// order the state keeps them; `defaults` gives the default subject and
    /// reseller. Operations, idempotency keys and page tokens are not part of it.
    pub fn to_seed(&self, defaults: (&str, &str)) -> Seed {
        let stamp = |t: SystemTime| prost_types::Timestamp::from(t).to_string();
        let mut seed = Seed {
            // The usage and catalogue sections are the start seed's (both
            // are fixed at start): the caller fills them in.
            usage: Default::default(),
            catalogue: Default::default(),
            budgets: self.budgets.to_seed(),
            billing_accounts: Vec::new(),
            customers: Vec::new(),
            access_bindings: Vec::new(),
            oauth_tokens: Vec::new(),
            iam_tokens: Vec::new(),
            service_accounts: Vec::new(),
            service_account_access_bindings: Vec::new(),
            default_subject_id: defaults.0.to_string(),
            default_reseller_id: defaults.1.to_string(),
            billable_object_bindings: Vec::new(),
            service_account_keys: Vec::new(),
        };
        for a in &self.accounts {
            seed.billing_accounts.push(SeedBillingAccount {
                id: a.proto.id.clone(),
                name: a.proto.name.clone(),
                country_code: a.proto.country_code.clone(),
                currency: a.proto.currency.clone(),
                active: a.proto.active,
                balance: a.proto.balance.clone(),
                reseller_id: a.reseller_id.clone(),
            });
            for b in &a.access {
                let subject = b.subject.clone().unwrap_or_default();
                seed.access_bindings.push(SeedAccessBinding {
                    billing_account_id: a.proto.id.clone(),
                    role_id: b.role_id.clone(),
                    subject_id: subject.id,
                    subject_type: subject.r#type,
                });
            }
            for b in &a.billable {
                let object = b.billable_object.clone().unwrap_or_default();
                seed.billable_object_bindings
                    .push(SeedBillableObjectBinding {
                        billing_account_id: a.proto.id.clone(),
                        object_type: object.r#type,
                        id: object.id,
                    });
            }
        }
        for c in &self.customers {
            seed.customers.push(SeedCustomer {
                id: c.id.clone(),
                reseller_id: c.reseller_id.clone(),
                billing_account_id: c.billing_account_id.clone(),
                name: c.name.clone(),
                status: c.status,
                invitation_email: c.invitation_email.clone(),
                person: c.person.clone(),
            });
        }
        let mut oauth: Vec<_> = self.oauth_tokens.iter().collect();
        oauth.sort();
        seed.oauth_tokens = oauth
            .into_iter()
            .map(|(token, subject)| SeedToken {
                token: token.clone(),
                subject_id: subject.clone(),
                expires_at: None,
            })
            .collect();
        let mut iam: Vec<_> = self.iam_tokens.iter().collect();
        iam.sort_by(|a, b| a.0.cmp(b.0));
        seed.iam_tokens = iam
            .into_iter()
            .map(|(token, e)| SeedToken {
                token: token.clone(),
                subject_id: e.subject_id.clone(),
                expires_at: e.expires_at.map(stamp),
            })
            .collect();
        let mut sas: Vec<_> = self.service_accounts.iter().cloned().collect();
        sas.sort();
        seed.service_accounts = sas;
        let mut sa_access: Vec<_> = self.sa_access.iter().collect();
        sa_access.sort_by(|a, b| a.0.cmp(b.0));
        for (sa, bindings) in sa_access {
            for b in bindings {
                let subject = b.subject.clone().unwrap_or_default();
                seed.service_account_access_bindings
                    .push(SeedServiceAccountBinding {
                        service_account_id: sa.clone(),
                        role_id: b.role_id.clone(),
                        subject_id: subject.id,
                        subject_type: subject.r#type,
                    });
            }
        }
        let mut keys: Vec<_> = self.sa_keys.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        seed.service_account_keys = keys
            .into_iter()
            .map(|(id, (sa, pem))| SeedServiceAccountKey {
                id: id.clone(),
                service_account_id: sa.clone(),
                public_key: pem.clone(),
            })
            .collect();
        seed
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

    fn examine(&self, records: usize) {
        self.examined.fetch_add(records as u64, Ordering::Relaxed);
    }

    /// Records the read paths have looked at so far.
    pub fn examined(&self) -> u64 {
        self.examined.load(Ordering::Relaxed)
    }

    /// All billing accounts, in insertion order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// All customers, in insertion order.
    pub fn customers(&self) -> &[CustomerRecord] {
        &self.customers
    }

    fn account_key(&self, id: &str) -> Option<usize> {
        self.examine(1);
        self.account_keys.get(id).copied()
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.account_key(id).map(|k| &self.accounts[k])
    }

    pub fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        let key = self.account_key(id)?;
        Some(&mut self.accounts[key])
    }

    /// Adds an account (its reseller chain is linked by `link`); an id
    /// already known is ignored (the first account with an id wins).
    fn insert_account(&mut self, account: Account) -> Option<usize> {
        if self.account_keys.contains_key(&account.proto.id) {
            return None;
        }
        let key = self.accounts.len();
        self.account_keys.insert(account.proto.id.clone(), key);
        self.accounts.push(account);
        Some(key)
    }

    /// Adds an account created at run time, served by its reseller.
    pub fn create_account(&mut self, account: Account) {
        if let Some(key) = self.insert_account(account) {
            self.link(key);
        }
    }

    /// The keys of the accounts `key` is served by: its reseller, the
    /// reseller's reseller, ... up to [`RESELLER_HOPS`] links.
    fn resellers_of(&self, key: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(RESELLER_HOPS);
        let mut current = key;
        while out.len() < RESELLER_HOPS {
            let next = self.accounts[current]
                .reseller_id
                .as_deref()
                .and_then(|r| self.account_keys.get(r).copied());
            let Some(next) = next else { break };
            out.push(next);
            current = next;
        }
        out
    }

    /// Records `key` as served by the accounts above it.
    fn link(&mut self, key: usize) {
        for reseller in self.resellers_of(key) {
            let a = &mut self.accounts[reseller];
            let first = a.served.is_empty();
            a.served.insert(key);
            if first {
                // The account now serves others: its subjects' lists must
                // walk what it serves.
                let subjects: Vec<String> = a
                    .access
                    .iter()
                    .filter_map(|b| b.subject.as_ref().map(|s| s.id.clone()))
                    .collect();
                for s in subjects {
                    self.subjects
                        .entry(s)
                        .or_default()
                        .resellers
                        .insert(reseller);
                }
            }
        }
    }

    pub fn customer(&self, id: &str) -> Option<&CustomerRecord> {
        self.examine(1);
        self.customer_keys.get(id).map(|&k| &self.customers[k])
    }

    pub fn customer_mut(&mut self, id: &str) -> Option<&mut CustomerRecord> {
        self.examine(1);
        let key = *self.customer_keys.get(id)?;
        Some(&mut self.customers[key])
    }

    pub fn insert_customer(&mut self, c: CustomerRecord) {
        let key = self.customers.len();
        self.customer_keys.entry(c.id.clone()).or_insert(key);
        self.customers_by_reseller
            .entry(c.reseller_id.clone())
            .or_default()
            .push(key);
        self.customers.push(c);
    }

    /// The API view of the reseller's customers in `range` of [`Self::customer_keys_of`].
    pub fn customers_page(
        &self,
        reseller_id: &str,
        range: std::ops::Range<usize>,
    ) -> Vec<Customer> {
        let keys = self.customer_keys_of(reseller_id);
        let keys = &keys[range.start.min(keys.len())..range.end.min(keys.len())];
        self.examine(keys.len());
        keys.iter().map(|&k| self.customers[k].to_proto()).collect()
    }

    /// Keys of a reseller's customers, in insertion order.
    pub fn customer_keys_of(&self, reseller_id: &str) -> &[usize] {
        self.customers_by_reseller
            .get(reseller_id)
            .map_or(&[], Vec::as_slice)
    }

    pub fn add_binding(&mut self, account: &str, role: &str, subject: &str, ty: &str) {
        self.add_access_binding(
            account,
            AccessBinding {
                role_id: role.into(),
                subject: Some(Subject {
                    id: subject.into(),
                    r#type: ty.into(),
                }),
            },
        );
    }

    /// Adds a binding unless the account has it already; false for an
    /// unknown account.
    pub fn add_access_binding(&mut self, account: &str, binding: AccessBinding) -> bool {
        let Some(key) = self.account_key(account) else {
            return false;
        };
        let a = &mut self.accounts[key];
        if a.access.contains(&binding) {
            return true;
        }
        let serves = !a.served.is_empty();
        if let Some(s) = &binding.subject {
            let index = self.subjects.entry(s.id.clone()).or_default();
            index
                .roles
                .entry(key)
                .or_default()
                .push(binding.role_id.clone());
            if serves {
                index.resellers.insert(key);
            }
        }
        a.access.push(binding);
        true
    }

    /// Removes a binding if the account has it; false for an unknown account.
    pub fn remove_access_binding(&mut self, account: &str, binding: &AccessBinding) -> bool {
        let Some(key) = self.account_key(account) else {
            return false;
        };
        let a = &mut self.accounts[key];
        let before = a.access.len();
        a.access.retain(|b| b != binding);
        if a.access.len() == before {
            return true;
        }
        let Some(s) = &binding.subject else {
            return true;
        };
        let Some(index) = self.subjects.get_mut(&s.id) else {
            return true;
        };
        if let Some(roles) = index.roles.get_mut(&key) {
            if let Some(at) = roles.iter().position(|r| *r == binding.role_id) {
                roles.remove(at);
            }
            if roles.is_empty() {
                index.roles.remove(&key);
                index.resellers.remove(&key);
            }
        }
        if index.roles.is_empty() {
            self.subjects.remove(&s.id);
        }
        true
    }

    /// Whether `subject` holds a role of at least `level` on the account or
    /// on one of the (up to three) reseller accounts above it.
    pub fn allowed(&self, subject: &str, account: &str, level: Level) -> bool {
        let Some(index) = self.subjects.get(subject) else {
            return false;
        };
        let Some(key) = self.account_key(account) else {
            return false;
        };
        std::iter::once(key).chain(self.resellers_of(key)).any(|k| {
            self.examine(1);
            index
                .roles
                .get(&k)
                .is_some_and(|roles| roles.iter().any(|r| role_allows(r, level)))
        })
    }

    /// Up to `limit` keys, ascending from `start`, of the accounts `subject`
    /// may view: those it holds a role on, merged with what each of those
    /// accounts serves. Costs O((r + limit) · log n) for a subject with roles
    /// on r reseller accounts, whatever the number of accounts.
    pub fn visible_accounts(&self, subject: &str, start: usize, limit: usize) -> Vec<usize> {
        let Some(index) = self.subjects.get(subject) else {
            return Vec::new();
        };
        let mut sources: Vec<Box<dyn Iterator<Item = usize> + '_>> =
            Vec::with_capacity(1 + index.resellers.len());
        sources.push(Box::new(index.roles.range(start..).map(|(k, _)| *k)));
        for &r in &index.resellers {
            sources.push(Box::new(self.accounts[r].served.range(start..).copied()));
        }
        self.examine(sources.len());
        let mut heads: BinaryHeap<Reverse<(usize, usize)>> = BinaryHeap::new();
        for (i, source) in sources.iter_mut().enumerate() {
            if let Some(k) = source.next() {
                heads.push(Reverse((k, i)));
            }
        }
        let mut out: Vec<usize> = Vec::with_capacity(limit.min(1024));
        while let Some(Reverse((k, i))) = heads.pop() {
            self.examine(1);
            if out.last() != Some(&k) {
                if out.len() == limit {
                    break;
                }
                out.push(k);
            }
            if let Some(next) = sources[i].next() {
                heads.push(Reverse((next, i)));
            }
        }
        out
    }

    /// The API view of the account with this key.
    pub fn account_proto(&self, key: usize) -> BillingAccount {
        self.examine(1);
        self.accounts[key].proto.clone()
    }

    /// Binds a billable object to an account, moving it from the account
    /// that had it; false for an unknown account.
    pub fn bind_billable(&mut self, account: &str, binding: BillableObjectBinding) -> bool {
        let Some(key) = self.account_key(account) else {
            return false;
        };
        let object = binding.billable_object.clone().unwrap_or_default();
        let id = (object.r#type.clone(), object.id.clone());
        if let Some(old) = self.billable_owner.insert(id, key) {
            self.accounts[old].billable.retain(|b| {
                b.billable_object
                    .as_ref()
                    .is_none_or(|o| o.id != object.id || o.r#type != object.r#type)
            });
        }
        self.accounts[key].billable.push(binding);
        true
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
