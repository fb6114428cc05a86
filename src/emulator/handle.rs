//! [`EmulatorHandle`]: a running emulator, what it reports, what a test may
//! change, and its shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::admin::{AdminError, ClockReading};
use super::auth::ServiceAccountKeyFile;
use super::faults::{ActiveFault, Fault, FaultRuntime, Faults};
use super::journal::JournalPage;
use super::seed::{Seed, SeedAccessBinding, SeedServiceAccountBinding, SeedServiceAccountKey};
use super::shared::Shared;
use super::state::CustomerRecord;
use crate::proto::yandex::cloud::access::AccessBinding;
use crate::proto::yandex::cloud::billing::v1::{BillableObjectBinding, BillingAccount, Customer};
use crate::proto::yandex::cloud::operation::Operation;

/// Credentials of the seed's default subject.
#[derive(Clone, PartialEq, Eq, derive_more::Debug)]
pub struct SeededCredentials {
    /// A never-expiring IAM token of the default subject.
    #[debug("{:?}", "<redacted>")]
    pub iam_token: String,
    /// An OAuth token of the default subject, exchangeable at `IamTokenService.Create`.
    #[debug("{:?}", "<redacted>")]
    pub oauth_token: String,
    /// The default subject, owner of the reseller account.
    pub subject_id: String,
    /// The reseller billing account id.
    pub reseller_id: String,
    /// The first seeded service account (editor of the reseller account;
    /// in the default seed the default subject may create tokens for it).
    pub service_account_id: String,
}

/// A running emulator. Dropping it stops the servers; prefer
/// [`EmulatorHandle::shutdown`] for a graceful stop.
#[derive(derive_more::Debug)]
pub struct EmulatorHandle {
    pub(super) addr: SocketAddr,
    pub(super) endpoint: String,
    pub(super) metadata_addr: Option<SocketAddr>,
    pub(super) rest_addr: Option<SocketAddr>,
    pub(super) admin_addr: Option<SocketAddr>,
    pub(super) credentials: SeededCredentials,
    /// The PEM certificate chain served with TLS, trusted by [`Self::client_builder`].
    #[debug(skip)]
    pub(super) tls_roots: Option<Vec<u8>>,
    #[debug(skip)]
    pub(super) shared: Arc<Shared>,
    /// Set to `true` once (by [`Self::shutdown`] or on drop); every server
    /// task of this emulator waits on it through [`stopped`].
    #[debug(skip)]
    pub(super) stop: watch::Sender<bool>,
    /// The gRPC server and, when it runs, the metadata server.
    #[debug(skip)]
    pub(super) servers: Vec<JoinHandle<()>>,
}

/// Resolves once the handle signals the stop (or is gone): the graceful
/// shutdown future of one server.
pub(super) async fn stopped(mut signal: watch::Receiver<bool>) {
    // An error means the sender is gone, which is a stop too.
    let _ = signal.wait_for(|stop| *stop).await;
}

impl EmulatorHandle {
    /// The gRPC socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:P`, or `https://localhost:P` with TLS.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The metadata HTTP endpoint's address, when it runs.
    pub fn metadata_addr(&self) -> Option<SocketAddr> {
        self.metadata_addr
    }

    /// The REST port's address, when it runs
    /// ([`EmulatorBuilder::rest_listen`](super::EmulatorBuilder::rest_listen)).
    pub fn rest_addr(&self) -> Option<SocketAddr> {
        self.rest_addr
    }

    /// The REST port's base URL: `http://127.0.0.1:P`, or
    /// `https://localhost:P` with TLS (the certificate's name).
    pub fn rest_endpoint(&self) -> Option<String> {
        let addr = self.rest_addr?;
        Some(if self.tls_roots.is_some() {
            format!("https://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        })
    }

    /// The admin HTTP API's address, when it runs
    /// ([`EmulatorBuilder::admin_listen`](super::EmulatorBuilder::admin_listen)).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Back to the start (`POST /reset`): the seed's state, the faults the
    /// emulator started with, an empty journal. Pending operations are
    /// discarded with the state: their ids answer NOT_FOUND afterwards and
    /// their effects never apply.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// The whole state as a seed (`GET /state`): accounts, customers,
    /// bindings, tokens, keys. Operations, idempotency keys and page tokens
    /// are not part of it.
    pub fn state(&self) -> Seed {
        self.shared.snapshot()
    }

    /// Replaces the state with a seed's (`PUT /state`); pending operations
    /// are discarded.
    pub fn set_state(&self, seed: &Seed) {
        self.shared.restore(seed);
    }

    /// Adds faults at run time (`POST /faults`): all of them, or none when
    /// one is invalid (an unknown method, a rate outside 0–1). Their ids.
    pub fn add_faults(&self, faults: Vec<Fault>) -> Result<Vec<u64>, AdminError> {
        self.shared.add_faults(faults)
    }

    /// The faults in force (`GET /faults`).
    pub fn faults(&self) -> Vec<ActiveFault> {
        self.shared.list_faults()
    }

    /// Removes every fault (`DELETE /faults`).
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// The request journal (`GET /requests`): the calls of `method` (every
    /// method when `None`) with a sequence number above `since`.
    pub fn requests(&self, method: Option<&str>, since: u64) -> JournalPage {
        self.shared.requests(method, since)
    }

    /// Empties the request journal (`DELETE /requests`).
    pub fn clear_requests(&self) {
        self.shared.journal.clear();
    }

    /// Every operation, oldest first (`GET /operations`).
    pub fn operations(&self) -> Vec<Operation> {
        self.shared.operations()
    }

    /// Completes a pending operation now, with its effect
    /// (`POST /operations/{id}:complete`).
    pub fn complete_operation(&self, id: &str) -> Result<Operation, AdminError> {
        self.shared.finish_operation(id, None)
    }

    /// Fails a pending operation now with `code` and `message`, without
    /// effect (`POST /operations/{id}:fail`).
    pub fn fail_operation(
        &self,
        id: &str,
        code: tonic::Code,
        message: &str,
    ) -> Result<Operation, AdminError> {
        self.shared
            .finish_operation(id, Some((code, message.to_string())))
    }

    /// The emulator's clock (`GET /clock`).
    pub fn clock(&self) -> ClockReading {
        self.shared.clock_reading()
    }

    /// Moves the manual clock forward (`POST /clock:advance`); only with
    /// [`EmulatorBuilder::manual_clock`](super::EmulatorBuilder::manual_clock).
    pub fn advance_clock(&self, by: Duration) -> Result<std::time::SystemTime, AdminError> {
        self.shared.advance_clock(by)
    }

    /// Credentials of the default subject.
    pub fn credentials(&self) -> &SeededCredentials {
        &self.credentials
    }

    /// A [`ClientBuilder`](crate::ClientBuilder) already pointed at this
    /// emulator (every service at [`Self::endpoint`], plaintext or TLS as it
    /// runs) with the default subject's IAM token
    /// ([`SeededCredentials::iam_token`]). With TLS it trusts the certificate
    /// chain the emulator serves, which fits a self-signed certificate; for
    /// one signed by a CA of your own, set
    /// [`ca_certificate`](crate::ClientBuilder::ca_certificate) to that CA.
    /// Any setting may still be changed before `build`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use yc_billing::RetryPolicy;
    /// use yc_billing::emulator::Emulator;
    /// let emu = Emulator::builder().start().await?;
    /// let client = emu
    ///     .client_builder()
    ///     .retry_policy(RetryPolicy::disabled())
    ///     .build()
    ///     .await?;
    /// let account = client
    ///     .billing_accounts()
    ///     .get(&emu.credentials().reseller_id)
    ///     .await?;
    /// assert_eq!(account.id, emu.credentials().reseller_id);
    /// # Ok(()) }
    /// ```
    pub fn client_builder(&self) -> crate::ClientBuilder {
        let builder = crate::Client::builder()
            .endpoint(self.endpoint.clone())
            .iam_token(self.credentials.iam_token.clone());
        match &self.tls_roots {
            Some(pem) => builder.ca_certificate(pem.clone()),
            None => builder,
        }
    }

    /// Generates and registers a key for `service_account_id`, which also
    /// becomes known and gets `billing.accounts.editor` on the reseller
    /// account; the default subject becomes `admin` of the service account
    /// (it may create and revoke its tokens, like the creator of a service
    /// account in the cloud). The key and these bindings outlive
    /// [`Self::reset`].
    pub fn create_service_account_key(&self, service_account_id: &str) -> ServiceAccountKeyFile {
        let key = ServiceAccountKeyFile::generate_at(service_account_id, self.shared.clock.now());
        {
            let mut seed = self
                .shared
                .reset_to
                .seed
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            seed.service_account_keys.push(SeedServiceAccountKey {
                id: key.id.clone(),
                service_account_id: service_account_id.to_string(),
                public_key: key.public_key.clone(),
            });
            if !seed
                .service_accounts
                .iter()
                .any(|s| s == service_account_id)
            {
                seed.service_accounts.push(service_account_id.to_string());
            }
            seed.access_bindings.push(SeedAccessBinding {
                billing_account_id: self.shared.reseller_id.clone(),
                role_id: "billing.accounts.editor".into(),
                subject_id: service_account_id.to_string(),
                subject_type: "serviceAccount".into(),
            });
            seed.service_account_access_bindings
                .push(SeedServiceAccountBinding {
                    service_account_id: service_account_id.to_string(),
                    role_id: "admin".into(),
                    subject_id: self.shared.default_subject.clone(),
                    subject_type: "userAccount".into(),
                });
        }
        let mut st = self.shared.lock();
        st.sa_keys.insert(
            key.id.clone(),
            (service_account_id.to_string(), key.public_key.clone()),
        );
        st.service_accounts.insert(service_account_id.to_string());
        let reseller = self.shared.reseller_id.clone();
        st.add_binding(
            &reseller,
            "billing.accounts.editor",
            service_account_id,
            "serviceAccount",
        );
        let owner = self.shared.default_subject.clone();
        st.add_sa_binding(service_account_id, "admin", &owner, "userAccount");
        key
    }

    /// Gives `subject_id` a role on a service account (immediately), e.g.
    /// [`TOKEN_CREATOR_ROLE`](super::TOKEN_CREATOR_ROLE) to let it call `CreateForServiceAccount`, or
    /// `admin` to let it also revoke the service account's tokens.
    pub fn add_service_account_binding(
        &self,
        service_account_id: &str,
        role_id: &str,
        subject_id: &str,
    ) {
        self.shared
            .lock()
            .add_sa_binding(service_account_id, role_id, subject_id, "userAccount");
    }

    /// Issues an IAM token for `subject_id` that expires after `ttl`.
    pub fn issue_iam_token(&self, subject_id: &str, ttl: Duration) -> String {
        self.shared.issue_iam_token(subject_id, ttl).0
    }

    /// Makes `IamTokenService.Create` accept `token` as an OAuth token of `subject_id`.
    pub fn add_oauth_token(&self, token: &str, subject_id: &str) {
        self.shared
            .lock()
            .oauth_tokens
            .insert(token.to_string(), subject_id.to_string());
    }

    /// Gives `subject_id` the role on a billing account (immediately).
    pub fn add_access_binding(&self, billing_account_id: &str, role_id: &str, subject_id: &str) {
        self.shared
            .lock()
            .add_binding(billing_account_id, role_id, subject_id, "userAccount");
    }

    /// Calls that reached the server for `method`
    /// (`yandex.cloud.billing.v1.CustomerService/Invite`), faulted ones included.
    pub fn calls(&self, method: &str) -> u64 {
        self.shared.calls.get(method.trim_start_matches('/'))
    }

    /// The methods the emulator serves and counts
    /// (`yandex.cloud.billing.v1.CustomerService/Invite`, …), sorted. Fixed at
    /// start from the descriptor pool: calls of unknown paths answer
    /// UNIMPLEMENTED and add nothing here or anywhere else.
    pub fn served_methods(&self) -> Vec<String> {
        self.shared.calls.methods()
    }

    /// Successful `IamTokenService.Create` and `CreateForServiceAccount` calls
    /// (metadata endpoint tokens not included).
    pub fn iam_exchanges(&self) -> u64 {
        self.shared.iam_exchanges.load(Ordering::Relaxed)
    }

    /// Replaces the fault configuration (and restarts its counters and random source).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults() = FaultRuntime::new(faults);
    }

    /// The next operation `method` creates will fail with `code` and
    /// `message` when it completes, without effect (a
    /// [`Fault::FailNextOperation`]).
    pub fn fail_next_operation(&self, method: &str, code: tonic::Code, message: &str) {
        self.shared.faults().add(Fault::FailNextOperation {
            method: method.to_string(),
            code,
            message: message.to_string(),
        });
    }

    /// The price catalogue served by `SkuService` and `ServiceService`.
    pub fn catalogue(&self) -> &super::catalogue::Catalogue {
        &self.shared.catalogue
    }

    /// Snapshot of the budgets of a billing account, in creation order, as
    /// `BudgetService.Get` shows them now (all accounts' with `None`).
    pub fn budgets(
        &self,
        billing_account_id: Option<&str>,
    ) -> Vec<crate::proto::yandex::cloud::billing::v1::Budget> {
        let st = self.shared.lock();
        let now = st.now();
        st.budgets
            .all()
            .iter()
            .filter(|b| billing_account_id.is_none_or(|a| a == b.billing_account_id))
            .map(|b| super::services::budget::view(b, now))
            .collect()
    }

    /// Snapshot of all customers (API view).
    pub fn customers(&self) -> Vec<Customer> {
        self.shared
            .lock()
            .customers()
            .iter()
            .map(CustomerRecord::to_proto)
            .collect()
    }

    /// Snapshot of all customers with status and person data.
    pub fn customer_records(&self) -> Vec<CustomerRecord> {
        self.shared.lock().customers().to_vec()
    }

    /// Snapshot of all billing accounts.
    pub fn billing_accounts(&self) -> Vec<BillingAccount> {
        self.shared
            .lock()
            .accounts()
            .iter()
            .map(|a| a.proto.clone())
            .collect()
    }

    /// Access bindings on a billing account (empty when unknown).
    pub fn access_bindings(&self, billing_account_id: &str) -> Vec<AccessBinding> {
        self.shared
            .lock()
            .account(billing_account_id)
            .map(|a| a.access().to_vec())
            .unwrap_or_default()
    }

    /// Billable-object bindings of a billing account.
    pub fn billable_object_bindings(&self, billing_account_id: &str) -> Vec<BillableObjectBinding> {
        self.shared
            .lock()
            .account(billing_account_id)
            .map(|a| a.billable.clone())
            .unwrap_or_default()
    }

    /// Records (billing accounts, customers, access bindings, index entries)
    /// the emulator's read paths have looked at since it started: a
    /// diagnostic for tests and benchmarks that the work of a call follows
    /// its page, not the size of the state.
    pub fn records_examined(&self) -> u64 {
        self.shared.lock().examined()
    }

    /// Number of operations created so far.
    pub fn operation_count(&self) -> usize {
        self.shared.lock().operations.len()
    }

    /// Stops accepting calls, lets running calls finish and waits for the
    /// servers (at most 5 s; then the remaining connections are dropped).
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for join in std::mem::take(&mut self.servers) {
            let abort = join.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), join)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
