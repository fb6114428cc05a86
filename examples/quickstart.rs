//! Quick start against Yandex Cloud: list a reseller's customers and the
//! billing accounts you can see.
//!
//! Credentials come from the environment (`YC_IAM_TOKEN`, `YC_TOKEN`,
//! `YC_SERVICE_ACCOUNT_KEY_FILE`, else the VM metadata service) and the
//! reseller's billing account id from `YC_BILLING_RESELLER_ID`:
//!
//! ```sh
//! YC_IAM_TOKEN=$(yc iam create-token) YC_BILLING_RESELLER_ID=dn2... \
//!     cargo run --example quickstart
//! ```

use futures::TryStreamExt;
use yc_billing::auth::Credentials;
use yc_billing::region::Region;
use yc_billing::{Client, Error};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let reseller_id = std::env::var("YC_BILLING_RESELLER_ID")
        .map_err(|_| anyhow::anyhow!("set YC_BILLING_RESELLER_ID"))?;

    let client = Client::builder()
        .region(Region::Ru)
        .credentials(Credentials::from_env()?)
        .build()
        .await?;

    // One page, or every item across pages with `.stream()`.
    let accounts: Vec<_> = client
        .billing_accounts()
        .list()
        .stream()
        .try_collect()
        .await?;
    for a in &accounts {
        println!(
            "billing account {} {:?} {} {}",
            a.id, a.name, a.balance, a.currency
        );
    }

    match client.customers().list(&reseller_id).page_size(100).await {
        Ok(page) => {
            for c in &page.items {
                println!(
                    "customer {} (billing account {})",
                    c.id, c.billing_account_id
                );
            }
        }
        // Failures keep the gRPC code and the server's request id.
        Err(e @ Error::Rpc(_)) => {
            eprintln!("{e} [code {:?}, request id {:?}]", e.code(), e.request_id());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
