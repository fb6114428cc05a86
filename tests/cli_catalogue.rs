//! `yc-billing skus`, `services` and `budgets` against an in-process
//! emulator: JSON shapes, paging, `--format table`, errors and exit codes.

use std::time::Duration;

use yc_billing::emulator::catalogue::CONTRACT_BILLING_ACCOUNT_ID;
use yc_billing::emulator::{
    DEFAULT_IAM_TOKEN, DEFAULT_RESELLER_ID, DEFAULT_SUBJECT_ID, Emulator, EmulatorHandle,
    NO_RIGHTS_IAM_TOKEN,
};

mod cli_support;
use cli_support::{Out, command, output};

async fn cli_with_token(emu: &EmulatorHandle, token: &str, args: &[&str]) -> Out {
    let addr = emu.addr().to_string();
    let mut cmd = command(&["--endpoint", &addr, "--plaintext", "--iam-token", token]);
    cmd.args(args);
    output(cmd).await
}

async fn cli(emu: &EmulatorHandle, args: &[&str]) -> Out {
    cli_with_token(emu, DEFAULT_IAM_TOKEN, args).await
}

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn services_and_skus() {
    let emu = emulator().await;
    let catalogue = emu.catalogue().clone();
    let out = cli(&emu, &["services", "list"]).await.ok().json();
    let services = out["services"].as_array().unwrap();
    assert_eq!(services.len(), catalogue.services().len());
    assert_eq!(services[0]["name"], "Compute Cloud");
    let compute = services[0]["id"].as_str().unwrap().to_owned();
    let one = cli(&emu, &["services", "get", &compute]).await.ok().json();
    assert_eq!(one["id"], compute.as_str());
    let page = cli(&emu, &["services", "list", "--page-size", "2"])
        .await
        .ok()
        .json();
    assert_eq!(page["services"].as_array().unwrap().len(), 2);
    assert!(page["nextPageToken"].is_string());

    let out = cli(
        &emu,
        &[
            "skus",
            "list",
            "--currency",
            "USD",
            "--service-id",
            &compute,
        ],
    )
    .await
    .ok()
    .json();
    let skus = out["skus"].as_array().unwrap();
    assert!(skus.iter().all(|s| s["serviceId"] == compute.as_str()));
    let vcpu = &skus[0];
    assert_eq!(vcpu["pricingUnit"], "core*hour");
    let rate = &vcpu["pricingVersions"][1]["pricingExpressions"][0]["rates"][0];
    assert_eq!(rate["unitPrice"], "0.014");
    assert_eq!(rate["currency"], "USD");
    assert_eq!(vcpu["pricingVersions"][1]["type"], "STREET_PRICE");
    assert_eq!(
        vcpu["pricingVersions"][1]["effectiveTime"],
        "2025-03-01T00:00:00Z"
    );
    let id = vcpu["id"].as_str().unwrap();
    let contract = cli(
        &emu,
        &[
            "skus",
            "get",
            id,
            "--currency",
            "RUB",
            "--billing-account-id",
            CONTRACT_BILLING_ACCOUNT_ID,
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(contract["pricingVersions"][2]["type"], "CONTRACT_PRICE");
    assert_eq!(
        contract["pricingVersions"][2]["pricingExpressions"][0]["rates"][0]["unitPrice"],
        "0.8064"
    );
    let filtered = cli(
        &emu,
        &[
            "skus",
            "list",
            "--currency",
            "KZT",
            "--filter",
            &format!("id=\"{id}\""),
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(filtered["skus"].as_array().unwrap().len(), 1);

    let table = cli(&emu, &["--format", "table", "services", "list"])
        .await
        .ok();
    assert!(
        table.stdout.lines().next().unwrap().contains("NAME"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("Compute Cloud"));

    // Errors: a usage error for a bad currency, INVALID_ARGUMENT for a bad
    // filter, NOT_FOUND, PERMISSION_DENIED for another's contract prices.
    let bad = cli(&emu, &["skus", "list", "--currency", "EUR"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("RUB, USD or KZT"), "{}", bad.stderr);
    let bad = cli(
        &emu,
        &[
            "skus",
            "list",
            "--currency",
            "RUB",
            "--filter",
            "name=\"x\"",
        ],
    )
    .await;
    assert_eq!(bad.code, 5, "{}", bad.stderr);
    assert!(bad.stderr.contains("filter"), "{}", bad.stderr);
    let missing = cli(
        &emu,
        &["skus", "get", "dn2nosuchsku00000001", "--currency", "RUB"],
    )
    .await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    let denied = cli_with_token(
        &emu,
        NO_RIGHTS_IAM_TOKEN,
        &[
            "skus",
            "get",
            id,
            "--currency",
            "RUB",
            "--billing-account-id",
            CONTRACT_BILLING_ACCOUNT_ID,
        ],
    )
    .await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    emu.shutdown().await;
}

#[tokio::test]
async fn budgets_list_get_create() {
    let emu = emulator().await;
    let out = cli(&emu, &["budgets", "list", DEFAULT_RESELLER_ID])
        .await
        .ok()
        .json();
    let budgets = out["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 2);
    assert_eq!(budgets[0]["costBudget"]["amount"], "50000");
    assert_eq!(budgets[0]["costBudget"]["resetPeriod"], "MONTHLY");
    assert_eq!(budgets[0]["status"], "ACTIVE");
    let id = budgets[1]["id"].as_str().unwrap();
    let one = cli(&emu, &["budgets", "get", id]).await.ok().json();
    assert_eq!(one["balanceBudget"]["thresholdRules"][0]["type"], "AMOUNT");

    let created = cli(
        &emu,
        &[
            "budgets",
            "create",
            DEFAULT_RESELLER_ID,
            "--name",
            "CLI budget",
            "--kind",
            "expense",
            "--amount",
            "2500.50",
            "--end-date",
            "2030-12-31",
            "--reset",
            "quarter",
            "--notify",
            DEFAULT_SUBJECT_ID,
            "--threshold-percent",
            "80",
            "--threshold-amount",
            "2000",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(created["name"], "CLI budget");
    assert_eq!(created["expenseBudget"]["amount"], "2500.5");
    assert_eq!(created["expenseBudget"]["resetPeriod"], "QUARTER");
    assert_eq!(
        created["expenseBudget"]["thresholdRules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let listed = cli(&emu, &["budgets", "list", DEFAULT_RESELLER_ID])
        .await
        .ok()
        .json();
    assert_eq!(listed["budgets"].as_array().unwrap().len(), 3);

    let asynchronous = cli(
        &emu,
        &[
            "budgets",
            "create",
            DEFAULT_RESELLER_ID,
            "--name",
            "B",
            "--kind",
            "balance",
            "--amount",
            "10",
            "--end-date",
            "2030-12-31",
            "--notify",
            DEFAULT_SUBJECT_ID,
            "--async",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        asynchronous["metadata"]["@type"],
        "type.googleapis.com/yandex.cloud.billing.v1.CreateBudgetMetadata"
    );

    let table = cli(
        &emu,
        &["--format", "table", "budgets", "list", DEFAULT_RESELLER_ID],
    )
    .await
    .ok();
    assert!(table.stdout.contains("CLI budget"), "{}", table.stdout);

    // Errors: the server's rule (exit 5), usage errors (exit 2), access (3), not found (4).
    let bad = cli(
        &emu,
        &[
            "budgets",
            "create",
            DEFAULT_RESELLER_ID,
            "--name",
            "B",
            "--kind",
            "cost",
            "--amount",
            "100",
            "--end-date",
            "2030-12-30",
            "--notify",
            DEFAULT_SUBJECT_ID,
        ],
    )
    .await;
    assert_eq!(bad.code, 5, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("cost_budget_spec.end_date"),
        "{}",
        bad.stderr
    );
    let usage = cli(
        &emu,
        &[
            "budgets",
            "create",
            DEFAULT_RESELLER_ID,
            "--name",
            "B",
            "--kind",
            "cost",
            "--amount",
            "1,5",
            "--end-date",
            "2030-12-31",
            "--notify",
            DEFAULT_SUBJECT_ID,
        ],
    )
    .await;
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let usage = cli(
        &emu,
        &[
            "budgets",
            "create",
            DEFAULT_RESELLER_ID,
            "--name",
            "B",
            "--kind",
            "balance",
            "--amount",
            "1",
            "--end-date",
            "2030-12-31",
            "--notify",
            DEFAULT_SUBJECT_ID,
            "--reset",
            "monthly",
        ],
    )
    .await;
    assert_ne!(usage.code, 0, "{}", usage.stderr);
    assert!(
        usage.stderr.contains("cost and expense budgets only"),
        "{}",
        usage.stderr
    );
    let denied = cli_with_token(
        &emu,
        NO_RIGHTS_IAM_TOKEN,
        &["budgets", "list", DEFAULT_RESELLER_ID],
    )
    .await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    let missing = cli(&emu, &["budgets", "get", "dn2nosuchbudget00001"]).await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    emu.shutdown().await;
}
