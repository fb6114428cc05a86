//! BudgetService against the emulator over TCP, through the typed client:
//! the seeded budgets, creation through operations for the three kinds,
//! every validation rule, access control and pagination.

mod emulator_support;

use emulator_support::violations;

use std::time::Duration;

use emulator_support::*;
use futures::TryStreamExt;
use tonic::Code;
use yc_billing::emulator::{
    DEFAULT_RESELLER_ID, DEFAULT_SUBJECT_ID, Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN, Seed,
};
use yc_billing::money::Decimal;
use yc_billing::proto::yandex::cloud::billing::v1::{
    BudgetStatus, CostBudgetSpec, CreateBudgetRequest, ResetPeriodType, ThresholdRule,
    ThresholdType, create_budget_request,
};
use yc_billing::services::{BalanceBudget, BudgetKind, CostBudget, ExpenseBudget};

const CUSTOMER_ACCOUNT: &str = "dn2emu0customer00001";

async fn start() -> EmulatorHandle {
    Emulator::builder()
        .operation_delay(Duration::from_millis(20))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

fn d(n: i64) -> Decimal {
    Decimal::new(n, 0)
}

#[tokio::test]
async fn seeded_budgets_are_listed_and_read() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let page = client.budgets().list(DEFAULT_RESELLER_ID).await?;
    assert_eq!(page.items.len(), 2);
    assert!(page.is_last());
    let kinds: Vec<_> = page.items.iter().map(|b| b.kind()).collect();
    assert_eq!(kinds, [Some(BudgetKind::Cost), Some(BudgetKind::Balance)]);
    assert!(
        page.items
            .iter()
            .all(|b| b.status == BudgetStatus::Active as i32)
    );
    assert_eq!(page.items[0].amount()?, d(50_000));
    let expense = client.budgets().list(CUSTOMER_ACCOUNT).await?;
    assert_eq!(expense.items.len(), 1);
    assert_eq!(expense.items[0].kind(), Some(BudgetKind::Expense));
    let one = client.budgets().get(&page.items[1].id).await?;
    assert_eq!(one, page.items[1]);
    assert_eq!(emu.budgets(None).len(), 3);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_three_kinds_are_created_through_operations() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let cost = CostBudget::new(Decimal::new(12_345, 1), "2030-06-30")
        .reset(ResetPeriodType::Quarter)
        .notify(DEFAULT_SUBJECT_ID)
        .threshold_percent(d(50))
        .threshold_amount(d(1000))
        .service(&emu.catalogue().services()[0].id)
        .cloud("b1gemucloud000000001", ["b1gemufolder00000001"]);
    let op = client
        .budgets()
        .create(CUSTOMER_ACCOUNT, "Compute cost", cost)
        .await?;
    let meta = op.metadata()?.expect("metadata");
    let created = op.wait().await?;
    assert_eq!(created.id, meta.budget_id);
    assert_eq!(created.name, "Compute cost");
    assert_eq!(created.billing_account_id, CUSTOMER_ACCOUNT);
    assert_eq!(created.status, BudgetStatus::Active as i32);
    assert_eq!(created.amount()?, Decimal::new(12_345, 1));
    assert!(created.created_at.is_some());
    assert_eq!(client.budgets().get(&created.id).await?, created);

    let expense = ExpenseBudget::new(d(500), "2030-12-31")
        .starting("2026-01-01")
        .notify(DEFAULT_SUBJECT_ID);
    let e = client
        .budgets()
        .create(CUSTOMER_ACCOUNT, "Expense", expense)
        .await?
        .wait()
        .await?;
    assert_eq!(e.kind(), Some(BudgetKind::Expense));
    let balance = BalanceBudget::new(d(100), "2030-12-31")
        .notify(DEFAULT_SUBJECT_ID)
        .threshold(ThresholdRule {
            r#type: ThresholdType::Amount as i32,
            amount: "10".into(),
            notification_user_account_ids: vec!["ajeemu0other00000001".into()],
        });
    let b = client
        .budgets()
        .create(CUSTOMER_ACCOUNT, "Balance", balance)
        .await?
        .wait()
        .await?;
    assert_eq!(b.kind(), Some(BudgetKind::Balance));

    let all: Vec<_> = client
        .budgets()
        .list(CUSTOMER_ACCOUNT)
        .page_size(2)
        .stream()
        .try_collect()
        .await?;
    let names: Vec<_> = all.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        ["Quarterly expense", "Compute cost", "Expense", "Balance"]
    );

    // A budget whose end date has passed is FINISHED.
    let old = CostBudget::new(d(1), "2020-01-31")
        .starting("2020-01-01")
        .notify(DEFAULT_SUBJECT_ID);
    let old = client
        .budgets()
        .create(CUSTOMER_ACCOUNT, "Old", old)
        .await?
        .wait()
        .await?;
    assert_eq!(old.status, BudgetStatus::Finished as i32);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn every_validation_rule_names_its_field() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let me = DEFAULT_SUBJECT_ID;
    let service = emu.catalogue().services()[0].id.clone();
    let cost = || CostBudget::new(d(100), "2030-12-31").notify(me);
    let cases: Vec<(create_budget_request::BudgetSpec, &str)> = vec![
        (
            CostBudget::new(d(100), "2030-12-31").into(),
            "cost_budget_spec.notification_user_account_ids: number of elements must be >=1 (size)",
        ),
        (
            CostBudget(CostBudgetSpec {
                amount: String::new(),
                ..cost().0
            })
            .into(),
            "cost_budget_spec.amount: value is required (required)",
        ),
        (
            CostBudget(CostBudgetSpec {
                end_date: String::new(),
                ..cost().0
            })
            .into(),
            "cost_budget_spec.end_date: value is required (required)",
        ),
        (
            CostBudget(CostBudgetSpec {
                start_type: None,
                ..cost().0
            })
            .into(),
            "exactly one of",
        ),
        (
            CostBudget::new(d(-5), "2030-12-31").notify(me).into(),
            "cost_budget_spec.amount: value must be greater than 0",
        ),
        (
            CostBudget(CostBudgetSpec {
                amount: "1,5".into(),
                ..cost().0
            })
            .into(),
            "cost_budget_spec.amount: value must be a decimal number",
        ),
        (
            cost().threshold_percent(d(100)).into(),
            "cost_budget_spec.threshold_rules[0].amount: a PERCENT threshold must be less than 100",
        ),
        (
            cost().threshold_amount(d(100)).into(),
            "cost_budget_spec.threshold_rules[0].amount: an AMOUNT threshold must be less than the budget's amount",
        ),
        (
            cost()
                .threshold(ThresholdRule {
                    r#type: 0,
                    amount: "5".into(),
                    notification_user_account_ids: vec![],
                })
                .into(),
            "cost_budget_spec.threshold_rules[0].type: value is required (required)",
        ),
        (
            cost()
                .threshold(ThresholdRule {
                    r#type: 7,
                    amount: "5".into(),
                    notification_user_account_ids: vec![],
                })
                .into(),
            "cost_budget_spec.threshold_rules[0].type: value must be one defined by enum",
        ),
        (
            cost().starting("2026-01-02").into(),
            "cost_budget_spec.start_date: must be the first day of a month",
        ),
        (
            CostBudget::new(d(1), "2030-12-30").notify(me).into(),
            "cost_budget_spec.end_date: must be the last day of a month",
        ),
        (
            CostBudget::new(d(1), "31.12.2030").notify(me).into(),
            "cost_budget_spec.end_date: must be the last day of a month, formatted YYYY-MM-DD",
        ),
        (
            CostBudget::new(d(1), "2026-01-31")
                .starting("2026-02-01")
                .notify(me)
                .into(),
            "cost_budget_spec.end_date: must be after the start date",
        ),
        (
            cost().reset(ResetPeriodType::Unspecified).into(),
            "cost_budget_spec.reset_period: value must be MONTHLY, QUARTER or ANNUALLY",
        ),
        (
            cost().service("dn2nosuchservice0001").into(),
            "cost_budget_spec.filter.service_ids[0]: service dn2nosuchservice0001 not found",
        ),
        (
            cost().cloud("", Vec::<String>::new()).into(),
            "cost_budget_spec.filter.cloud_folders_filters[0].cloud_id: value is required",
        ),
        (
            cost().notify("").into(),
            "cost_budget_spec.notification_user_account_ids[1]: value must not be empty",
        ),
        (
            ExpenseBudget::new(d(1), "2030-12-31")
                .notify(me)
                .threshold_percent(d(150))
                .into(),
            "expense_budget_spec.threshold_rules[0].amount: a PERCENT threshold",
        ),
        (
            BalanceBudget::new(d(1), "2030-12-31").into(),
            "balance_budget_spec.notification_user_account_ids: number of elements must be >=1",
        ),
        (
            BalanceBudget::new(d(1), "2030-12-31")
                .notify(me)
                .starting("2030-02-15")
                .into(),
            "balance_budget_spec.start_date: must be the first day of a month",
        ),
    ];
    for (spec, expected) in cases {
        let err = client
            .budgets()
            .create(CUSTOMER_ACCOUNT, "B", spec.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(Code::InvalidArgument), "{spec:?}: {err}");
        let v = violations(&err);
        assert!(
            v.iter().any(|v| v.contains(expected)),
            "{expected}: got {v:?}"
        );
    }
    // No spec, no name, no account: the validator's rules.
    let err = client
        .budgets()
        .create_request(CreateBudgetRequest {
            billing_account_id: CUSTOMER_ACCOUNT.into(),
            name: "B".into(),
            budget_spec: None,
        })
        .await
        .unwrap_err();
    assert!(
        violations(&err)
            .iter()
            .any(|v| v.contains("exactly one of")),
        "{err}"
    );
    let err = client
        .budgets()
        .create(CUSTOMER_ACCOUNT, "", cost())
        .await
        .unwrap_err();
    assert_eq!(violations(&err), ["name: value is required (required)"]);
    let err = client.budgets().create("", "B", cost()).await.unwrap_err();
    assert!(
        violations(&err)[0].starts_with("billing_account_id: "),
        "{err}"
    );
    let err = client.budgets().get("").await.unwrap_err();
    assert!(violations(&err)[0].starts_with("id: "), "{err}");
    let err = client
        .budgets()
        .list(CUSTOMER_ACCOUNT)
        .page_size(1001)
        .await
        .unwrap_err();
    assert!(violations(&err)[0].starts_with("page_size: "), "{err}");
    // A valid budget with every optional part passes.
    let ok = cost()
        .service(&service)
        .threshold_percent(d(99))
        .threshold_amount(Decimal::new(9999, 2));
    client
        .budgets()
        .create(CUSTOMER_ACCOUNT, "Fine", ok)
        .await?
        .wait()
        .await?;
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn budgets_are_private_to_their_accounts() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let nobody = client_with_token(&emu, NO_RIGHTS_IAM_TOKEN).await?;
    let spec = || CostBudget::new(d(100), "2030-12-31").notify(DEFAULT_SUBJECT_ID);
    let err = nobody
        .budgets()
        .create(CUSTOMER_ACCOUNT, "B", spec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    let err = nobody.budgets().list(CUSTOMER_ACCOUNT).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    // Another tenant's budget answers like a missing one.
    let seeded = &emu.budgets(Some(DEFAULT_RESELLER_ID))[0];
    let hidden = nobody.budgets().get(&seeded.id).await.unwrap_err();
    let missing = client
        .budgets()
        .get("dn2nosuchbudget00001")
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Some(Code::NotFound));
    assert_eq!(missing.code(), Some(Code::NotFound));
    assert_eq!(
        hidden.as_rpc().unwrap().message().replace(&seeded.id, "ID"),
        missing
            .as_rpc()
            .unwrap()
            .message()
            .replace("dn2nosuchbudget00001", "ID")
    );
    let err = client
        .budgets()
        .create("dn2nosuchaccount0001", "B", spec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound), "{err}");
    let err = client
        .budgets()
        .list("dn2nosuchaccount0001")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound), "{err}");
    // A page token of one account's list is refused for another's.
    for i in 0..3 {
        client
            .budgets()
            .create(CUSTOMER_ACCOUNT, format!("B{i}"), spec())
            .await?
            .wait()
            .await?;
    }
    let first = client.budgets().list(CUSTOMER_ACCOUNT).page_size(2).await?;
    assert!(!first.is_last());
    let err = client
        .budgets()
        .list(DEFAULT_RESELLER_ID)
        .page_token(first.next_page_token.clone())
        .await
        .unwrap_err();
    assert!(violations(&err)[0].starts_with("page_token: "), "{err}");
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn seed_budgets_are_read_from_json_and_checked() -> anyhow::Result<()> {
    let json = Seed::default().to_json();
    let seed = Seed::from_json(&json)?;
    assert_eq!(seed, Seed::default());
    let mut value: serde_json::Value = serde_json::from_str(&json)?;
    value["budgets"] = serde_json::json!([{"id": "dn2seedbudget0000001", "name": "From JSON",
        "billingAccountId": "dn2emu0reseller00001",
        "expenseBudget": {"amount": "10", "notificationUserAccountIds": ["u"],
            "resetPeriod": "ANNUALLY", "endDate": "2031-12-31"}}]);
    let emu = Emulator::builder()
        .metadata_server(false)
        .seed(serde_json::from_value(value.clone())?)
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let b = client.budgets().get("dn2seedbudget0000001").await?;
    assert_eq!(b.kind(), Some(BudgetKind::Expense));
    emu.shutdown().await;
    for (bad, expected) in [
        (
            serde_json::json!({"billingAccountId": "dn2nosuchaccount0001"}),
            "unknown billing account",
        ),
        (
            serde_json::json!({"expenseBudget": {"amount": "10", "notificationUserAccountIds": ["u"],
            "resetPeriod": "ANNUALLY", "endDate": "2031-12-30"}}),
            "end_date",
        ),
    ] {
        let mut v = value.clone();
        for (k, val) in bad.as_object().unwrap() {
            v["budgets"][0][k] = val.clone();
        }
        let err = Emulator::builder()
            .metadata_server(false)
            .seed(serde_json::from_value(v)?)
            .start()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    Ok(())
}
