//! Operations, the service wrappers and pagination end to end over loopback
//! TCP against the emulator (`yc_billing::emulator`, feature `emulator`):
//! every RPC of `customers()`, `billing_accounts()` and `operations()` with
//! the errors each can return, failed, cancelled, timed-out and resumed
//! operations, the server's polling hint, the NOT_FOUND grace, `watch`, and
//! streams across many pages.
//!
//! Malformed server answers, which the emulator never gives, are covered by
//! `tests/operations_fake_server.rs`.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::time::{Duration, Instant};

use emulator_support::{client_for, client_with_token};
use futures::{StreamExt, TryStreamExt};
use tonic::Code;
use yc_billing::emulator::{
    CustomerStatus, Emulator, EmulatorHandle, Fault, Faults, NO_RIGHTS_IAM_TOKEN,
    NO_RIGHTS_SUBJECT_ID,
};
use yc_billing::proto::yandex::cloud::billing::v1::{
    BillableObject, BillableObjectBinding, Customer, CustomerMetadata, CustomerPerson,
};
use yc_billing::{Error, Operation, PollingPolicy, RetryPolicy};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GET: &str = "yandex.cloud.operation.OperationService/Get";
const INVITE: &str = "yandex.cloud.billing.v1.CustomerService/Invite";
const ACTIVATE: &str = "yandex.cloud.billing.v1.CustomerService/Activate";
/// Seeded customers of the default reseller (active, suspended, invited).
const ACTIVE_CUSTOMER: &str = "emucustomer000000001";
const SUSPENDED_CUSTOMER: &str = "emucustomer000000002";

fn person(name: &str) -> CustomerPerson {
    CustomerPerson {
        name: name.into(),
        longname: format!("{name} LLC"),
        email: format!("billing@{name}.example"),
        ..Default::default()
    }
}

fn fast() -> PollingPolicy {
    PollingPolicy::default()
        .with_initial_interval(Duration::from_millis(5))
        .with_max_interval(Duration::from_millis(50))
        .with_time_limit(Duration::from_secs(10))
}

/// The code of a failed call, with the field violations of its `BadRequest`.
fn violations(err: &Error) -> Vec<String> {
    err.as_rpc()
        .map(|rpc| {
            rpc.field_violations()
                .into_iter()
                .map(|(f, _)| f.to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts INVALID_ARGUMENT naming `field` among the violations.
fn assert_invalid(result: yc_billing::Result<impl std::fmt::Debug>, field: &str) {
    let err = result.expect_err("the call must be rejected");
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err:?}");
    let fields = violations(&err);
    assert!(
        fields.iter().any(|f| f == field),
        "{field} not among {fields:?}: {err}"
    );
}

fn assert_code(result: yc_billing::Result<impl std::fmt::Debug>, code: Code) {
    let err = result.expect_err("the call must fail");
    assert_eq!(err.code(), Some(code), "{err:?}");
}

fn status_of(emu: &EmulatorHandle, id: &str) -> CustomerStatus {
    emu.customer_records()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("customer {id} not in the emulator"))
        .status
}

#[tokio::test]
async fn customers_every_rpc_end_to_end() -> TestResult {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(20))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let reseller = emu.credentials().reseller_id.clone();
    let customers = client.customers();
    let before = emu.customers().len();

    // Invite: a pending operation with typed metadata, then the customer.
    let op = customers
        .invite(&reseller, "acme", "billing@acme.example", person("acme"))
        .idempotency_key("invite-acme")
        .await?;
    assert!(!op.id().is_empty());
    assert!(!op.is_done());
    assert!(op.result().is_none());
    assert_eq!(op.created_by(), emu.credentials().subject_id);
    assert!(op.description().contains("acme"), "{}", op.description());
    assert!(op.created_at().is_some());
    let md: CustomerMetadata = op.metadata()?.ok_or("no metadata")?;
    assert_eq!(md.reseller_id, reseller);
    // The same idempotency key and request: the same operation.
    let replay = customers
        .invite(&reseller, "acme", "billing@acme.example", person("acme"))
        .idempotency_key("invite-acme")
        .await?;
    assert_eq!(replay.id(), op.id());
    let invited: Customer = op.wait_with(&fast()).await?;
    assert_eq!(invited.id, md.customer_id);
    assert_eq!(status_of(&emu, &invited.id), CustomerStatus::Invited);

    // Create reseller-served, activate, suspend.
    let served = customers
        .create_reseller_served(&reseller, "globex", person("globex"))
        .await?
        .wait_with(&fast())
        .await?;
    assert_eq!(status_of(&emu, &served.id), CustomerStatus::Inactive);
    let activated = customers
        .activate(&served.id)
        .await?
        .wait_with(&fast())
        .await?;
    assert_eq!(activated, served);
    assert_eq!(status_of(&emu, &served.id), CustomerStatus::Active);
    let suspended = customers
        .suspend(&served.id)
        .await?
        .wait_with(&fast())
        .await?;
    assert_eq!(suspended, served);
    assert_eq!(status_of(&emu, &served.id), CustomerStatus::Suspended);
    assert_eq!(emu.customers().len(), before + 2, "one customer per call");

    // List: one page, then the stream, in the emulator's order.
    let page = customers.list(&reseller).page_size(2).await?;
    assert_eq!(page.items.len(), 2);
    assert!(!page.is_last());
    let all: Vec<Customer> = customers
        .list(&reseller)
        .page_size(2)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(all, emu.customers());

    // INVALID_ARGUMENT with field violations, before any effect.
    assert_invalid(customers.list("").await, "reseller_id");
    assert_invalid(customers.list(&reseller).page_size(5000).await, "page_size");
    assert_invalid(
        customers.list(&reseller).page_token("forged.token").await,
        "page_token",
    );
    assert_invalid(
        customers
            .invite(&reseller, "acme", "not-an-email", person("acme"))
            .await,
        "invitation_email",
    );
    assert_invalid(
        customers
            .create_reseller_served("Not A Reseller Id!", "globex", person("globex"))
            .await,
        "reseller_id",
    );
    assert_invalid(customers.activate("").await, "customer_id");
    assert_invalid(customers.suspend("").await, "customer_id");
    assert_eq!(emu.customers().len(), before + 2);

    // NOT_FOUND.
    assert_code(customers.list("dn2nosuchreseller").await, Code::NotFound);
    assert_code(customers.activate("nosuchcustomer").await, Code::NotFound);
    assert_code(customers.suspend("nosuchcustomer").await, Code::NotFound);
    assert_code(
        customers
            .invite("dn2nosuchreseller", "x", "x@x.example", person("x"))
            .await,
        Code::NotFound,
    );
    assert_code(
        customers
            .create_reseller_served("dn2nosuchreseller", "x", person("x"))
            .await,
        Code::NotFound,
    );

    // PERMISSION_DENIED: a subject without any role.
    let nobody = client_with_token(&emu, NO_RIGHTS_IAM_TOKEN).await?;
    let theirs = nobody.customers();
    assert_code(theirs.list(&reseller).await, Code::PermissionDenied);
    assert_code(
        theirs
            .invite(&reseller, "x", "x@x.example", person("x"))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        theirs
            .create_reseller_served(&reseller, "x", person("x"))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        theirs.activate(ACTIVE_CUSTOMER).await,
        Code::PermissionDenied,
    );
    assert_code(
        theirs.suspend(ACTIVE_CUSTOMER).await,
        Code::PermissionDenied,
    );

    // UNAUTHENTICATED: a token the server does not know.
    let anon = client_with_token(&emu, "t1.not-a-valid-token").await?;
    let theirs = anon.customers();
    assert_code(theirs.list(&reseller).await, Code::Unauthenticated);
    assert_code(
        theirs
            .create_reseller_served(&reseller, "x", person("x"))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        theirs.activate(ACTIVE_CUSTOMER).await,
        Code::Unauthenticated,
    );
    assert_eq!(emu.customers().len(), before + 2, "no error had an effect");
    assert_eq!(status_of(&emu, ACTIVE_CUSTOMER), CustomerStatus::Active);

    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn billing_accounts_every_rpc_end_to_end() -> TestResult {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let reseller = emu.credentials().reseller_id.clone();
    let accounts = client.billing_accounts();

    // Get and List.
    let all: Vec<_> = accounts.list().page_size(2).stream().try_collect().await?;
    assert_eq!(all, emu.billing_accounts(), "the owner sees every account");
    let got = accounts.get(&reseller).await?;
    assert_eq!(got.id, reseller);
    assert_eq!(got.name, "Emulated Reseller");
    assert_invalid(accounts.get("").await, "id");
    assert_invalid(accounts.list().page_size(-1).await, "page_size");
    assert_code(accounts.get("dn2nosuchaccount").await, Code::NotFound);

    // Bind clouds, then list the bindings.
    let op = accounts
        .bind_billable_object(&reseller, BillableObject::cloud("cloud-e2e"))
        .await?;
    assert_eq!(
        op.metadata()?.ok_or("no metadata")?.billable_object_id,
        "cloud-e2e"
    );
    let binding: BillableObjectBinding = op.wait_with(&fast()).await?;
    let object = binding.billable_object.ok_or("no object")?;
    assert_eq!(
        (object.r#type.as_str(), object.id.as_str()),
        ("cloud", "cloud-e2e")
    );
    assert!(binding.effective_time.is_some());
    let bindings: Vec<_> = accounts
        .list_billable_object_bindings(&reseller)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(bindings, emu.billable_object_bindings(&reseller));
    assert_eq!(bindings.len(), 1);
    assert_invalid(
        accounts
            .bind_billable_object(&reseller, BillableObject::new("folder", "f1"))
            .await,
        "billable_object.type",
    );
    assert_invalid(
        accounts
            .bind_billable_object(&reseller, BillableObject::cloud(""))
            .await,
        "billable_object.id",
    );
    assert_invalid(
        accounts
            .bind_billable_object("", BillableObject::cloud("c"))
            .await,
        "billing_account_id",
    );
    assert_invalid(
        accounts.list_billable_object_bindings("").await,
        "billing_account_id",
    );
    assert_code(
        accounts
            .bind_billable_object("dn2nosuchaccount", BillableObject::cloud("c"))
            .await,
        Code::NotFound,
    );
    assert_code(
        accounts
            .list_billable_object_bindings("dn2nosuchaccount")
            .await,
        Code::NotFound,
    );

    // Access bindings: add, list, remove.
    let op = accounts
        .update_access_bindings(&reseller)
        .add("billing.accounts.viewer", "userAccount", "user-e2e")
        .await?;
    assert_eq!(op.metadata()?.ok_or("no metadata")?.resource_id, reseller);
    let () = op.wait_with(&fast()).await?;
    let list: Vec<_> = accounts
        .list_access_bindings(&reseller)
        .page_size(1)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(list, emu.access_bindings(&reseller));
    assert!(list.iter().any(|b| b.role_id == "billing.accounts.viewer"
        && b.subject.as_ref().is_some_and(|s| s.id == "user-e2e")));
    accounts
        .update_access_bindings(&reseller)
        .remove("billing.accounts.viewer", "userAccount", "user-e2e")
        .await?
        .wait_with(&fast())
        .await?;
    assert!(
        !emu.access_bindings(&reseller)
            .iter()
            .any(|b| b.subject.as_ref().is_some_and(|s| s.id == "user-e2e"))
    );
    assert_invalid(
        accounts.update_access_bindings(&reseller).await,
        "access_binding_deltas",
    );
    assert_invalid(accounts.list_access_bindings("").await, "resource_id");
    assert_code(
        accounts.list_access_bindings("dn2nosuchaccount").await,
        Code::NotFound,
    );
    assert_code(
        accounts
            .update_access_bindings("dn2nosuchaccount")
            .add("billing.accounts.viewer", "userAccount", "u")
            .await,
        Code::NotFound,
    );

    // PERMISSION_DENIED: a subject without any role sees no account.
    let nobody = client_with_token(&emu, NO_RIGHTS_IAM_TOKEN).await?;
    let theirs = nobody.billing_accounts();
    assert!(theirs.list().await?.items.is_empty());
    assert_code(theirs.get(&reseller).await, Code::PermissionDenied);
    assert_code(
        theirs.list_billable_object_bindings(&reseller).await,
        Code::PermissionDenied,
    );
    assert_code(
        theirs
            .bind_billable_object(&reseller, BillableObject::cloud("c"))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        theirs.list_access_bindings(&reseller).await,
        Code::PermissionDenied,
    );
    assert_code(
        theirs
            .update_access_bindings(&reseller)
            .add(
                "billing.accounts.owner",
                "userAccount",
                NO_RIGHTS_SUBJECT_ID,
            )
            .await,
        Code::PermissionDenied,
    );

    // UNAUTHENTICATED.
    let anon = client_with_token(&emu, "t1.not-a-valid-token").await?;
    let theirs = anon.billing_accounts();
    assert_code(theirs.list().await, Code::Unauthenticated);
    assert_code(theirs.get(&reseller).await, Code::Unauthenticated);
    assert_code(
        theirs
            .bind_billable_object(&reseller, BillableObject::cloud("c"))
            .await,
        Code::Unauthenticated,
    );
    assert_eq!(emu.billable_object_bindings(&reseller).len(), 1);

    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn operations_get_resume_cancel_end_to_end() -> TestResult {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let ops = client.operations();
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let id = op.id().to_owned();
    op.wait_with(&fast()).await?;

    // Get: the raw message; resume: typed, by id.
    let raw = ops.get(&id).await?;
    assert_eq!(raw.id, id);
    assert!(raw.done);
    let typed = ops.resume::<CustomerMetadata, Customer>(&id).await?;
    assert!(typed.is_done());
    assert_eq!(typed.result().ok_or("no result")??.id, SUSPENDED_CUSTOMER);
    let same = Operation::<CustomerMetadata, Customer>::resume(&client, &id).await?;
    assert_eq!(same.raw(), typed.raw());
    // Resumed with the wrong types: an error, never a default value.
    let wrong = Operation::<CustomerMetadata, BillableObjectBinding>::resume(&client, &id).await?;
    assert!(matches!(
        wrong.wait().await,
        Err(Error::UnexpectedType { .. })
    ));

    // Cancel of a finished operation: FAILED_PRECONDITION, raw and typed.
    assert_code(ops.cancel(&id).await, Code::FailedPrecondition);
    let mut done = typed.clone();
    assert_code(done.cancel().await, Code::FailedPrecondition);
    assert_eq!(status_of(&emu, SUSPENDED_CUSTOMER), CustomerStatus::Active);

    // INVALID_ARGUMENT and NOT_FOUND.
    assert_invalid(ops.get("").await, "operation_id");
    assert_invalid(ops.cancel("").await, "operation_id");
    assert_code(ops.get("emuopnosuchoperation").await, Code::NotFound);
    assert_code(ops.cancel("emuopnosuchoperation").await, Code::NotFound);
    assert_code(
        Operation::<CustomerMetadata, Customer>::resume(&client, "emuopnosuchoperation").await,
        Code::NotFound,
    );

    // NOT_FOUND, as for a missing one: another subject's operation (no
    // existence oracle).
    let nobody = client_with_token(&emu, NO_RIGHTS_IAM_TOKEN).await?;
    assert_code(nobody.operations().get(&id).await, Code::NotFound);
    assert_code(nobody.operations().cancel(&id).await, Code::NotFound);

    // UNAUTHENTICATED.
    let anon = client_with_token(&emu, "t1.not-a-valid-token").await?;
    assert_code(anon.operations().get(&id).await, Code::Unauthenticated);
    assert_code(anon.operations().cancel(&id).await, Code::Unauthenticated);

    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn failed_operation_carries_id_code_and_message_without_effect() -> TestResult {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let reseller = emu.credentials().reseller_id.clone();
    let before = emu.customers();
    emu.fail_next_operation(
        INVITE,
        Code::FailedPrecondition,
        "reseller contract expired",
    );
    let op = client
        .customers()
        .invite(&reseller, "acme", "billing@acme.example", person("acme"))
        .await?;
    let id = op.id().to_owned();
    let description = op.description().to_owned();
    match op.wait_with(&fast()).await {
        Err(Error::OperationFailed(e)) => {
            assert_eq!(e.operation_id(), id);
            assert_eq!(e.description(), description);
            assert_eq!(e.code(), Code::FailedPrecondition);
            assert_eq!(e.message(), "reseller contract expired");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert_eq!(emu.customers(), before, "a failed operation has no effect");

    // Only the next one fails.
    emu.fail_next_operation(ACTIVATE, Code::Internal, "billing backend down");
    let err = client
        .customers()
        .activate(SUSPENDED_CUSTOMER)
        .await?
        .wait_with(&fast())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::Internal));
    assert_eq!(
        status_of(&emu, SUSPENDED_CUSTOMER),
        CustomerStatus::Suspended
    );
    client
        .customers()
        .activate(SUSPENDED_CUSTOMER)
        .await?
        .wait_with(&fast())
        .await?;
    assert_eq!(status_of(&emu, SUSPENDED_CUSTOMER), CustomerStatus::Active);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn cancelled_operation_fails_with_cancelled_and_has_no_effect() -> TestResult {
    let delay = Duration::from_millis(300);
    let emu = Emulator::builder().operation_delay(delay).start().await?;
    let client = client_for(&emu).await?;
    let mut op = client.customers().suspend(ACTIVE_CUSTOMER).await?;
    assert!(!op.is_done());
    op.cancel().await?;
    assert!(op.is_done(), "the answer of Cancel is kept");
    let id = op.id().to_owned();
    match op.wait_with(&fast()).await {
        Err(Error::OperationFailed(e)) => {
            assert_eq!(e.code(), Code::Cancelled);
            assert_eq!(e.operation_id(), id);
        }
        other => panic!("expected a CANCELLED OperationFailed, got {other:?}"),
    }
    // Well past the time it would have completed: still no effect.
    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    assert_eq!(status_of(&emu, ACTIVE_CUSTOMER), CustomerStatus::Active);
    let raw = client.operations().get(&id).await?;
    assert!(raw.done);
    // A cancelled operation is finished: cancelling again is refused.
    assert_code(
        client.operations().cancel(&id).await,
        Code::FailedPrecondition,
    );

    // Cancel through the raw service, then resume by id.
    let op = client.customers().suspend(ACTIVE_CUSTOMER).await?;
    let raw = client.operations().cancel(op.id()).await?;
    assert!(raw.done);
    let resumed = Operation::<CustomerMetadata, Customer>::resume(&client, op.id()).await?;
    assert_code(resumed.wait_with(&fast()).await, Code::Cancelled);
    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    assert_eq!(status_of(&emu, ACTIVE_CUSTOMER), CustomerStatus::Active);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn timeout_keeps_the_operation_and_resume_finishes_it() -> TestResult {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(800))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let reseller = emu.credentials().reseller_id.clone();
    let op = client
        .customers()
        .create_reseller_served(&reseller, "umbrella", person("umbrella"))
        .await?;
    let limit = Duration::from_millis(150);
    let started = Instant::now();
    let before = emu.calls(GET);
    let operation = match op.wait_with(&fast().with_time_limit(limit)).await {
        Err(Error::OperationTimeout {
            operation,
            attempts,
            elapsed,
        }) => {
            assert!(!operation.done);
            assert!(attempts >= 2, "{attempts}");
            assert_eq!(u64::from(attempts), emu.calls(GET) - before);
            assert!(elapsed >= limit, "{elapsed:?}");
            operation
        }
        other => panic!("expected OperationTimeout, got {other:?}"),
    };
    assert!(started.elapsed() < Duration::from_millis(700));
    let customers = emu.customers().len();
    let resumed = Operation::<CustomerMetadata, Customer>::resume(&client, &operation.id).await?;
    assert_eq!(resumed.id(), operation.id);
    assert!(!resumed.is_done());
    let customer = resumed.wait_with(&fast()).await?;
    assert!(emu.customers().contains(&customer));
    assert_eq!(emu.customers().len(), customers + 1);
    assert!(client.operations().get(&operation.id).await?.done);

    // The attempt limit.
    let op = client
        .customers()
        .create_reseller_served(&reseller, "hooli", person("hooli"))
        .await?;
    let before = emu.calls(GET);
    match op.wait_with(&fast().with_max_polls(3)).await {
        Err(Error::OperationTimeout { attempts, .. }) => assert_eq!(attempts, 3),
        other => panic!("expected OperationTimeout, got {other:?}"),
    }
    assert_eq!(emu.calls(GET) - before, 3);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn server_poll_hint_is_honoured() -> TestResult {
    // Sub-second hints travel as fractional seconds ("0.3").
    let hint = Duration::from_millis(300);
    let emu = Emulator::builder()
        .poll_interval_hint(hint)
        .complete_after_gets(2)
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    assert_eq!(op.poll_hint(), Some(hint));
    let before = emu.calls(GET);
    let started = Instant::now();
    // The policy alone would poll every few milliseconds.
    let customer = op.wait_with(&fast()).await?;
    let elapsed = started.elapsed();
    assert_eq!(customer.id, SUSPENDED_CUSTOMER);
    assert_eq!(emu.calls(GET) - before, 2);
    assert!(elapsed >= hint * 2, "{elapsed:?}");
    assert!(elapsed < hint * 4, "{elapsed:?}");
    // The hint is capped by the policy's max_hint.
    let op = client.customers().suspend(SUSPENDED_CUSTOMER).await?;
    let started = Instant::now();
    op.wait_with(&fast().with_max_hint(Duration::from_millis(20)))
        .await?;
    assert!(started.elapsed() < hint * 2, "{:?}", started.elapsed());
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn not_found_right_after_creation_is_tolerated() -> TestResult {
    let emu = Emulator::builder()
        .complete_after_gets(1)
        .faults(Faults::default().operation_not_found_gets(2))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let before = emu.calls(GET);
    assert_eq!(op.wait_with(&fast()).await?.id, SUSPENDED_CUSTOMER);
    assert_eq!(emu.calls(GET) - before, 3, "two NOT_FOUNDs, then done");

    // Without a grace period the first NOT_FOUND is final.
    let op = client.customers().suspend(SUSPENDED_CUSTOMER).await?;
    let err = op
        .wait_with(&fast().with_not_found_grace(Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
    // A resumed operation gets no grace either: it is known to exist.
    let op = client.customers().suspend(SUSPENDED_CUSTOMER).await?;
    let resumed = Operation::<CustomerMetadata, Customer>::from_raw(client.clone(), op.into_raw());
    assert_code(resumed.wait_with(&fast()).await, Code::NotFound);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn transient_get_failures_are_retried_by_the_client() -> TestResult {
    let emu = Emulator::builder()
        .complete_after_gets(1)
        .faults(Faults::default().fail_first(GET, 2, Code::Unavailable))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    assert_eq!(op.wait_with(&fast()).await?.id, SUSPENDED_CUSTOMER);
    assert_eq!(
        emu.calls(GET),
        3,
        "two UNAVAILABLEs retried within one poll"
    );
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn watch_reports_progress_until_done() -> TestResult {
    let emu = Emulator::builder().complete_after_gets(3).start().await?;
    let client = client_for(&emu).await?;
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let states: Vec<_> = op.watch(fast()).try_collect().await?;
    assert_eq!(states.len(), 4, "the initial state and one per Get");
    assert_eq!(
        states.iter().map(|s| s.polls()).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(states[..3].iter().all(|s| !s.is_done()));
    assert!(states.windows(2).all(|w| w[0].elapsed() <= w[1].elapsed()));
    let last = states.last().ok_or("no state")?;
    assert!(last.is_done());
    assert!(last.modified_at().is_some());
    assert_eq!(
        last.metadata()?.ok_or("no metadata")?.customer_id,
        SUSPENDED_CUSTOMER
    );
    assert_eq!(last.result().ok_or("no result")??.id, SUSPENDED_CUSTOMER);

    // With a callback.
    let op = client.customers().suspend(SUSPENDED_CUSTOMER).await?;
    let mut seen = Vec::new();
    let c = op
        .wait_with_progress(&fast(), |s| seen.push(s.is_done()))
        .await?;
    assert_eq!(c.id, SUSPENDED_CUSTOMER);
    assert_eq!(seen, [false, false, false, true]);

    // A watch that gives up ends with the error.
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let items: Vec<_> = op.watch(fast().with_max_polls(2)).collect().await;
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(
        items[..3]
            .iter()
            .all(|i| i.as_ref().is_ok_and(|s| !s.is_done()))
    );
    assert!(matches!(
        items.last(),
        Some(Err(Error::OperationTimeout { attempts: 2, .. }))
    ));
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn streams_across_more_than_three_pages() -> TestResult {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(1))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let reseller = emu.credentials().reseller_id.clone();
    let seeded = emu.customers().len();
    let total = 23;
    let created = futures::future::try_join_all((seeded..total).map(|i| {
        let client = client.clone();
        let reseller = reseller.clone();
        async move {
            client
                .customers()
                .create_reseller_served(&reseller, format!("c{i}"), person(&format!("c{i}")))
                .await?
                .wait_with(&fast())
                .await
        }
    }))
    .await?;
    assert_eq!(created.len(), total - seeded);
    assert_eq!(emu.customers().len(), total);

    // 23 in pages of 5: five pages, the last one short.
    let size = 5;
    let pages_before = emu.calls("yandex.cloud.billing.v1.CustomerService/List");
    let all: Vec<Customer> = client
        .customers()
        .list(&reseller)
        .page_size(size)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(all, emu.customers(), "every customer once, in order");
    assert_eq!(
        emu.calls("yandex.cloud.billing.v1.CustomerService/List") - pages_before,
        5
    );

    // The same pages by hand with the tokens.
    let mut token = String::new();
    let mut sizes = Vec::new();
    loop {
        let page = client
            .customers()
            .list(&reseller)
            .page_size(size)
            .page_token(token)
            .await?;
        sizes.push(page.items.len());
        if page.is_last() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(sizes, [5, 5, 5, 5, 3]);

    // A stream from a page token on.
    let first = client.customers().list(&reseller).page_size(size).await?;
    let rest: Vec<Customer> = client
        .customers()
        .list(&reseller)
        .page_size(size)
        .page_token(first.next_page_token)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(rest, emu.customers()[5..]);

    // Billing accounts: the reseller's and one per customer, in pages of 7.
    let accounts: Vec<_> = client
        .billing_accounts()
        .list()
        .page_size(7)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(accounts.len(), total + 1);
    assert_eq!(accounts, emu.billing_accounts());

    // Billable-object bindings: 11 in pages of 3.
    for i in 0..11 {
        client
            .billing_accounts()
            .bind_billable_object(&reseller, BillableObject::cloud(format!("cloud-{i}")))
            .await?
            .wait_with(&fast())
            .await?;
    }
    let bindings: Vec<_> = client
        .billing_accounts()
        .list_billable_object_bindings(&reseller)
        .page_size(3)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(bindings, emu.billable_object_bindings(&reseller));
    assert_eq!(bindings.len(), 11);

    // An error is yielded once and ends the stream.
    let items: Vec<_> = client.customers().list("").stream().collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().err().and_then(Error::code),
        Some(Code::InvalidArgument)
    );
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn random_operation_delays_spread_completions_and_stamp_their_due_time() -> TestResult {
    let max = Duration::from_millis(400);
    let emu = Emulator::builder()
        .random_operation_delay(max, 7)
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let waits = (0..20).map(|_| {
        let client = client.clone();
        async move {
            let op = client.customers().activate(ACTIVE_CUSTOMER).await?;
            let created = op.created_at().ok_or("no created_at")?;
            let mut finished = None;
            op.wait_with_progress(&fast(), |s| finished = s.modified_at())
                .await?;
            let returned = std::time::SystemTime::now();
            let finished = finished.ok_or("no modified_at")?;
            assert!(finished <= returned, "done no later than seen");
            Ok::<_, Box<dyn std::error::Error>>(finished.duration_since(created)?)
        }
    });
    let delays = futures::future::try_join_all(waits).await?;
    assert!(delays.iter().all(|d| *d <= max), "{delays:?}");
    let distinct: std::collections::HashSet<_> = delays.iter().collect();
    assert!(distinct.len() > 10, "random delays: {delays:?}");
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn raw_wait_returns_the_final_operation_whatever_its_outcome() -> TestResult {
    use yc_billing::RawOperation;
    use yc_billing::operation::outcome;
    use yc_billing::proto::yandex::cloud::operation::operation::Result as OpResult;

    let emu = Emulator::builder().complete_after_gets(2).start().await?;
    let client = client_for(&emu).await?;

    // Success: the done message with its response, after the Gets it took.
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let id = op.id().to_owned();
    let before = emu.calls(GET);
    let done = op.into_untyped().wait_with(&fast()).await?;
    assert_eq!(done.id, id);
    assert!(done.done);
    assert!(matches!(done.result, Some(OpResult::Response(_))));
    let any = outcome(&done).ok_or("no outcome")??;
    assert_eq!(
        yc_billing::proto::unpack::<Customer>(any)?.id,
        SUSPENDED_CUSTOMER
    );
    assert_eq!(emu.calls(GET) - before, 2);

    // Failure: still the done message; the outcome is the operation's error.
    emu.fail_next_operation(ACTIVATE, Code::Internal, "billing backend down");
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let id = op.id().to_owned();
    let done = RawOperation::resume(&client, &id)
        .await?
        .wait_with(&fast())
        .await?;
    assert_eq!(done.id, id);
    match outcome(&done) {
        Some(Err(Error::OperationFailed(e))) => {
            assert_eq!(e.operation_id(), id);
            assert_eq!(e.code(), Code::Internal);
            assert_eq!(e.message(), "billing backend down");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }

    // The limits apply as for typed waits, keeping the operation.
    let op = client.customers().suspend(SUSPENDED_CUSTOMER).await?;
    match op.into_untyped().wait_with(&fast().with_max_polls(1)).await {
        Err(Error::OperationTimeout {
            operation,
            attempts,
            ..
        }) => {
            assert_eq!(attempts, 1);
            assert!(!operation.done);
        }
        other => panic!("expected OperationTimeout, got {other:?}"),
    }

    // The raw watch: the initial state and one per Get, the last one done.
    let op = client.customers().activate(SUSPENDED_CUSTOMER).await?;
    let states: Vec<_> = op.into_untyped().watch(fast()).try_collect().await?;
    assert_eq!(
        states.iter().map(|s| s.polls()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(states.last().ok_or("no state")?.is_done());
    assert!(
        states
            .last()
            .ok_or("no state")?
            .outcome()
            .ok_or("none")?
            .is_ok()
    );
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_handle_carries_the_call_options_of_each_get() -> TestResult {
    use yc_billing::CallOptions;

    let emu = Emulator::builder()
        .complete_after_gets(1)
        .faults(Faults::default().fail_first(GET, 1, Code::Unavailable))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let op = client
        .customers()
        .activate(SUSPENDED_CUSTOMER)
        .await?
        .with_call_options(CallOptions::new().retry_policy(RetryPolicy::disabled()));
    assert_eq!(
        op.call_options(),
        &CallOptions::new().retry_policy(RetryPolicy::disabled())
    );
    // Without retries the first UNAVAILABLE Get ends the wait.
    let err = op.clone().wait_with(&fast()).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable), "{err:?}");
    assert_eq!(emu.calls(GET), 1);
    // The client's retry policy (the default options) gets past it.
    let mut op = op.with_call_options(CallOptions::default());
    assert!(op.poll().await?);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn waits_take_turns_within_max_concurrent_polls() -> TestResult {
    let emu = Emulator::builder().complete_after_gets(1).start().await?;
    let client = emu
        .client_builder()
        .iam_token(&emu.credentials().iam_token)
        .max_concurrent_polls(1)
        .build()
        .await?;
    let ops = [
        client.customers().activate(SUSPENDED_CUSTOMER).await?,
        client.customers().suspend(ACTIVE_CUSTOMER).await?,
        client.customers().activate(SUSPENDED_CUSTOMER).await?,
    ];
    // Every Get takes 200 ms from now on: one poll at a time makes three
    // waits take three of them, where concurrent polls would take one.
    let latency = Duration::from_millis(200);
    emu.add_faults(vec![Fault::Latency {
        method: Some(GET.into()),
        ms: latency.as_millis() as u64,
    }])?;
    let before = emu.calls(GET);
    let started = Instant::now();
    let waits = ops.map(|op| op.wait_with(&fast()));
    for customer in futures::future::join_all(waits).await {
        customer?;
    }
    let elapsed = started.elapsed();
    assert_eq!(emu.calls(GET) - before, 3);
    assert!(elapsed >= latency * 3, "{elapsed:?}: the polls overlapped");
    // Zero turns is a configuration error naming the setting.
    let e = emu
        .client_builder()
        .max_concurrent_polls(0)
        .build()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("max_concurrent_polls"), "{e}");
    emu.shutdown().await;
    Ok(())
}
