//! The retry budget and the retries that run on the one retry engine
//! (calls, IAM exchanges, endpoint discovery), against the emulator with
//! injected faults over loopback TCP. Server calls are counted by the
//! emulator.
#![cfg(feature = "emulator")]

use std::time::Duration;

use yc_billing::auth::Credentials;
use yc_billing::emulator::{Emulator, EmulatorHandle, Faults};
use yc_billing::region::Service;
use yc_billing::retry::RetryBudget;
use yc_billing::{Client, RetryPolicy};

const GET: &str = "yandex.cloud.billing.v1.BillingAccountService/Get";
const IAM_CREATE: &str = "yandex.cloud.iam.v1.IamTokenService/Create";
const DISCOVERY: &str = "yandex.cloud.endpoint.ApiEndpointService/List";

/// Four attempts, 1 ms apart at most.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::standard()
        .max_attempts(4)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(1))
}

async fn client(emu: &EmulatorHandle, budget: RetryBudget) -> Client {
    Client::builder()
        .endpoint(emu.endpoint())
        .iam_token(emu.credentials().iam_token.clone())
        .retry_policy(fast_retries())
        .retry_budget(budget)
        .build()
        .await
        .expect("client builds")
}

/// Makes one Get of the reseller's account; returns whether it succeeded
/// and how many server calls it took.
async fn get(emu: &EmulatorHandle, client: &Client) -> (bool, u64) {
    let before = emu.calls(GET);
    let ok = client
        .billing_accounts()
        .get(&emu.credentials().reseller_id)
        .await
        .is_ok();
    (ok, emu.calls(GET) - before)
}

fn failing() -> Faults {
    Faults::default().fail_first(GET, 1_000_000, tonic::Code::Unavailable)
}

#[tokio::test]
async fn a_burst_of_failures_spends_the_budget_and_successes_refill_it() {
    let emu = Emulator::builder().start().await.unwrap();
    // 10 tokens, 5 a retry, 1 back per success.
    let client = client(&emu, RetryBudget::standard().capacity(10)).await;

    emu.set_faults(failing());
    // Two retries spend the budget: three server calls, then the failure is returned.
    assert_eq!(get(&emu, &client).await, (false, 3));
    // Spent: every caller's failure is returned after its first attempt.
    for _ in 0..20 {
        assert_eq!(get(&emu, &client).await, (false, 1));
    }

    // The backend recovers; each success refunds one token.
    emu.set_faults(Faults::default());
    for _ in 0..5 {
        assert_eq!(get(&emu, &client).await, (true, 1));
    }
    emu.set_faults(failing());
    assert_eq!(get(&emu, &client).await, (false, 2), "5 tokens: one retry");
    assert_eq!(get(&emu, &client).await, (false, 1));

    // Refilled to the capacity (not beyond): two retries again.
    emu.set_faults(Faults::default());
    for _ in 0..50 {
        assert_eq!(get(&emu, &client).await, (true, 1));
    }
    emu.set_faults(failing());
    assert_eq!(get(&emu, &client).await, (false, 3));
    emu.shutdown().await;
}

#[tokio::test]
async fn clones_share_the_budget_and_each_client_has_its_own() {
    let emu = Emulator::builder().faults(failing()).start().await.unwrap();
    let budget = RetryBudget::standard().capacity(5);
    let first = client(&emu, budget).await;
    let clone = first.clone();
    let other = client(&emu, budget).await;
    assert_eq!(get(&emu, &first).await, (false, 2));
    assert_eq!(
        get(&emu, &clone).await,
        (false, 1),
        "the clone's budget is spent too"
    );
    assert_eq!(
        get(&emu, &other).await,
        (false, 2),
        "another client has its own"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_default_budget_allows_about_a_hundred_retries_in_a_burst() {
    let emu = Emulator::builder().faults(failing()).start().await.unwrap();
    let client = client(&emu, RetryBudget::default()).await;
    let mut calls = 0;
    for _ in 0..60 {
        let (ok, n) = get(&emu, &client).await;
        assert!(!ok);
        calls += n;
    }
    // 60 first attempts, and 500 / 5 = 100 retries instead of 60 × 3 = 180.
    assert_eq!(calls, 60 + 100);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unlimited_budget_leaves_retries_to_the_policy() {
    let emu = Emulator::builder().faults(failing()).start().await.unwrap();
    let client = client(&emu, RetryBudget::unlimited()).await;
    for _ in 0..200 {
        assert_eq!(get(&emu, &client).await, (false, 4));
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn the_iam_exchange_retries_unavailable() {
    let emu = Emulator::builder()
        .faults(Faults::default().fail_first(IAM_CREATE, 2, tonic::Code::Unavailable))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .credentials(Credentials::oauth_token(
            emu.credentials().oauth_token.clone(),
        ))
        .retry_policy(fast_retries())
        .build()
        .await
        .unwrap();
    assert_eq!(get(&emu, &client).await, (true, 1));
    assert_eq!(emu.calls(IAM_CREATE), 3, "two failures, then the token");
    assert_eq!(emu.iam_exchanges(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_iam_exchange_draws_on_the_clients_budget() {
    let emu = Emulator::builder()
        .faults(Faults::default().fail_first(IAM_CREATE, 1_000, tonic::Code::Unavailable))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .credentials(Credentials::oauth_token(
            emu.credentials().oauth_token.clone(),
        ))
        .retry_policy(fast_retries())
        .retry_budget(RetryBudget::standard().capacity(5))
        .build()
        .await
        .unwrap();
    let err = client
        .billing_accounts()
        .get(&emu.credentials().reseller_id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err:?}");
    assert_eq!(emu.calls(IAM_CREATE), 2, "one retry paid from 5 tokens");
    assert_eq!(emu.calls(GET), 0, "no call without a token");
    emu.shutdown().await;
}

#[tokio::test]
async fn discovery_retries_unavailable() {
    let emu = Emulator::builder()
        .faults(Faults::default().fail_first(DISCOVERY, 2, tonic::Code::Unavailable))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .discovery_endpoint(emu.endpoint())
        .plaintext(true)
        .iam_token(emu.credentials().iam_token.clone())
        .retry_policy(fast_retries())
        .build()
        .await
        .unwrap();
    assert_eq!(emu.calls(DISCOVERY), 3);
    let billing = client.endpoint(Service::Billing).unwrap();
    assert!(
        billing.contains(&emu.addr().port().to_string()),
        "{billing}"
    );

    // With retries off, the first failure is the build's error.
    let emu2 = Emulator::builder()
        .faults(Faults::default().fail_first(DISCOVERY, 1, tonic::Code::Unavailable))
        .start()
        .await
        .unwrap();
    let err = Client::builder()
        .discovery_endpoint(emu2.endpoint())
        .plaintext(true)
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err:?}");
    assert_eq!(emu2.calls(DISCOVERY), 1);
    emu.shutdown().await;
    emu2.shutdown().await;
}
