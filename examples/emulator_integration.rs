//! An integration test of a reseller workflow, written the way an
//! application's own test would be: the emulator runs in-process on a
//! loopback port, the client talks real gRPC to it, and the test checks both
//! what the API answered and the emulator's state.
//!
//! ```sh
//! cargo run --example emulator_integration --features emulator
//! ```
//!
//! In a test suite the body of `main` goes into a `#[tokio::test]`.

use std::time::Duration;

use futures::TryStreamExt;
use yc_billing::Client;
use yc_billing::emulator::{CustomerStatus, Emulator, Faults};
use yc_billing::proto::yandex::cloud::billing::v1::CustomerPerson;

/// The code under test: onboard a customer and give their accountant read access.
async fn onboard(
    client: &Client,
    reseller_id: &str,
    name: &str,
    email: &str,
    accountant: &str,
) -> yc_billing::Result<String> {
    let person = CustomerPerson {
        name: name.into(),
        email: email.into(),
        ..Default::default()
    };
    let customer = client
        .customers()
        .invite(reseller_id, name, email, person)
        .await?
        .wait()
        .await?;
    client
        .customers()
        .activate(&customer.id)
        .await?
        .wait()
        .await?;
    client
        .billing_accounts()
        .update_access_bindings(&customer.billing_account_id)
        .add("billing.accounts.viewer", "userAccount", accountant)
        .await?
        .wait()
        .await?;
    Ok(customer.id)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A fresh emulator per test: fast operations, and one transient failure
    // to prove the client retries it.
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .faults(Faults::default().fail_first(
            "yandex.cloud.billing.v1.CustomerService/Invite",
            1,
            tonic::Code::Unavailable,
        ))
        .start()
        .await?;
    let creds = emu.credentials().clone();
    let client = Client::builder()
        .endpoint(emu.addr().to_string())
        .plaintext(true)
        .iam_token(creds.iam_token.clone())
        .build()
        .await?;

    let id = onboard(
        &client,
        &creds.reseller_id,
        "Acme",
        "billing@acme.example",
        "ajeaccountant0000001",
    )
    .await?;

    // What the API says.
    let customers: Vec<_> = client
        .customers()
        .list(&creds.reseller_id)
        .stream()
        .try_collect()
        .await?;
    let customer = customers
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| anyhow::anyhow!("customer {id} is not listed"))?;
    let access: Vec<_> = client
        .billing_accounts()
        .list_access_bindings(&customer.billing_account_id)
        .stream()
        .try_collect()
        .await?;
    anyhow::ensure!(
        access
            .iter()
            .any(|b| b.role_id == "billing.accounts.viewer"),
        "the accountant has no access: {access:?}"
    );

    // What the emulator holds, and how the client got there.
    let record = emu
        .customer_records()
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| anyhow::anyhow!("the emulator has no customer {id}"))?;
    anyhow::ensure!(
        record.status == CustomerStatus::Active,
        "status {:?}",
        record.status
    );
    anyhow::ensure!(
        emu.calls("yandex.cloud.billing.v1.CustomerService/Invite") == 2,
        "the UNAVAILABLE invite was retried once"
    );

    // Errors come back typed, with the gRPC code.
    let err = client
        .customers()
        .activate("no-such-customer")
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("activating an unknown customer succeeded"))?;
    anyhow::ensure!(err.code() == Some(tonic::Code::NotFound), "{err}");

    emu.shutdown().await;
    println!("ok: customer {id} onboarded, retried once, errors typed");
    Ok(())
}
