//! The usage-records API (ConsumptionCoreService, MetadataService) end to
//! end: the client's report builder against the emulator over TCP.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::time::{Duration, Instant};

use emulator_support::{client_for, client_with_token, quick_retries};
use time::macros::date;
use tonic::Code;
use yc_billing::emulator::{
    DEFAULT_RESELLER_ID, Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN, Seed,
};
use yc_billing::money::{Currency, Decimal};
use yc_billing::services::UsageReport;
use yc_billing::services::usage::{Period, ReportView};
use yc_billing::{Client, Error, RetryPolicy};

async fn start() -> (EmulatorHandle, Client) {
    let emu = Emulator::builder().start().await.expect("emulator starts");
    let client = client_for(&emu).await.expect("client");
    (emu, client)
}

fn sum<'a>(it: impl Iterator<Item = &'a Decimal>) -> Decimal {
    it.copied().sum()
}

/// Overall = sum of entities = sum of each series; expense = cost + credit;
/// credit = sum of the kinds.
fn assert_consistent(v: &ReportView, additive: bool) {
    for e in &v.entities {
        let a = &e.amounts;
        assert_eq!(a.expense, a.cost + a.credits.total, "{}", e.id);
        let c = &a.credits;
        assert_eq!(
            c.total,
            c.monetary_grant + c.volume_incentive + c.cud + c.free
        );
        assert!(c.total <= Decimal::ZERO);
        assert_eq!(
            a.cost,
            sum(e.series.iter().map(|p| &p.amounts.cost)),
            "{}",
            e.id
        );
        assert_eq!(a.expense, sum(e.series.iter().map(|p| &p.amounts.expense)));
        assert!(e.series.windows(2).all(|w| w[0].date < w[1].date));
    }
    if additive {
        assert_eq!(
            v.amounts.cost,
            sum(v.entities.iter().map(|e| &e.amounts.cost))
        );
        assert_eq!(
            v.amounts.expense,
            sum(v.entities.iter().map(|e| &e.amounts.expense))
        );
        assert_eq!(
            v.amounts.credits.total,
            sum(v.entities.iter().map(|e| &e.amounts.credits.total))
        );
    }
}

#[tokio::test]
async fn every_report_is_non_trivial_and_adds_up() {
    let (emu, client) = start().await;
    let b = || {
        client
            .usage()
            .report(
                DEFAULT_RESELLER_ID,
                date!(2025 - 01 - 01),
                date!(2025 - 12 - 31),
            )
            .unwrap()
            .period(Period::Month)
    };
    let views = [
        ("account", b().by_account().await.unwrap().view().unwrap()),
        ("cloud", b().by_cloud().await.unwrap().view().unwrap()),
        ("folder", b().by_folder().await.unwrap().view().unwrap()),
        ("service", b().by_service().await.unwrap().view().unwrap()),
        ("sku", b().by_sku().await.unwrap().view().unwrap()),
        ("resource", b().by_resource().await.unwrap().view().unwrap()),
        (
            "instance",
            b().by_service_instance().await.unwrap().view().unwrap(),
        ),
    ];
    let total = views[0].1.amounts;
    let cost = views[0].1.cost().unwrap();
    assert_eq!((cost.amount, cost.currency), (total.cost, Currency::Rub));
    assert!(total.cost > Decimal::from(1000), "{total:?}");
    assert!(total.credits.monetary_grant < Decimal::ZERO);
    assert!(total.credits.cud < Decimal::ZERO);
    for (kind, v) in &views {
        assert_eq!(v.currency, "RUB");
        assert!(!v.entities.is_empty(), "{kind}");
        assert_eq!(v.amounts, total, "{kind} totals differ from the account's");
        assert_consistent(v, true);
    }
    assert_eq!(views[0].1.entities[0].series.len(), 12);
    assert!(views[1].1.entities.len() >= 3, "clouds");
    assert!(views[5].1.entities.len() >= 20, "resources");
    // A SKU report carries quantities.
    assert!(
        views[4]
            .1
            .entities
            .iter()
            .all(|e| e.quantity.unwrap() > Decimal::ZERO)
    );
    // Labels duplicate costs across a resource's labels.
    let labels = b().by_label().await.unwrap().view().unwrap();
    assert_consistent(&labels, false);
    assert!(labels.entities.iter().any(|e| e.id.starts_with("env=")));
    assert!(sum(labels.entities.iter().map(|e| &e.amounts.cost)) > total.cost);
    emu.shutdown().await;
}

#[tokio::test]
async fn filters_and_periods_change_the_answer_consistently() {
    let (emu, client) = start().await;
    let from = date!(2025 - 02 - 10);
    let to = date!(2025 - 05 - 20);
    let report = |period| {
        client
            .usage()
            .report(DEFAULT_RESELLER_ID, from, to)
            .unwrap()
            .period(period)
    };
    let by_day = report(Period::Day)
        .by_cloud()
        .await
        .unwrap()
        .view()
        .unwrap();
    for period in [Period::Week, Period::Month, Period::Quarter, Period::Year] {
        let v = report(period).by_cloud().await.unwrap().view().unwrap();
        assert_eq!(v.amounts, by_day.amounts, "{period:?}");
        assert_consistent(&v, true);
        // The first period starts on the start date.
        assert_eq!(
            v.entities[0].series[0].date.max(from),
            v.entities[0].series[0].date
        );
    }
    let quarters = report(Period::Quarter)
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    let dates: Vec<_> = quarters.entities[0].series.iter().map(|p| p.date).collect();
    assert_eq!(dates, [from, date!(2025 - 04 - 01)]);

    // One cloud: its own total; AND with a service filter narrows further.
    let cloud = &by_day
        .entities
        .iter()
        .find(|e| !e.id.is_empty())
        .unwrap()
        .id;
    let one = report(Period::Month)
        .clouds([cloud.clone()])
        .by_cloud()
        .await
        .unwrap()
        .view()
        .unwrap();
    assert_eq!(one.entities.len(), 1);
    assert_eq!(
        one.amounts.cost,
        by_day
            .entities
            .iter()
            .find(|e| &e.id == cloud)
            .unwrap()
            .amounts
            .cost
    );
    let services = report(Period::Month)
        .clouds([cloud.clone()])
        .by_service()
        .await
        .unwrap()
        .view()
        .unwrap();
    let service = services.entities[0].id.clone();
    let both = report(Period::Month)
        .clouds([cloud.clone()])
        .services([service.clone()])
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    assert_eq!(both.amounts.cost, services.entities[0].amounts.cost);
    // OR within one filter: two clouds are the sum of each.
    let clouds: Vec<String> = by_day
        .entities
        .iter()
        .take(2)
        .map(|e| e.id.clone())
        .collect();
    let two = report(Period::Year)
        .clouds(clouds.clone())
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    assert_eq!(
        two.amounts.cost,
        by_day.entities[0].amounts.cost + by_day.entities[1].amounts.cost
    );
    // Labels: AND between keys by default, OR on request.
    let env = report(Period::Month)
        .label("env", ["prod"])
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    let team = report(Period::Month)
        .label("team", ["ml"])
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    let and = report(Period::Month)
        .label("env", ["prod"])
        .label("team", ["ml"])
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    let or = report(Period::Month)
        .label("env", ["prod"])
        .label("team", ["ml"])
        .any_label()
        .by_account()
        .await
        .unwrap()
        .view()
        .unwrap();
    assert!(and.amounts.cost <= env.amounts.cost.min(team.amounts.cost));
    assert!(or.amounts.cost >= env.amounts.cost.max(team.amounts.cost));
    assert_eq!(
        or.amounts.cost + and.amounts.cost,
        env.amounts.cost + team.amounts.cost
    );
    // A filter matching nothing: zero totals, no entities.
    let none = report(Period::Month)
        .resources(["nope"])
        .by_resource()
        .await
        .unwrap()
        .view()
        .unwrap();
    assert!(none.entities.is_empty());
    assert_eq!(none.amounts.cost, Decimal::ZERO);
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_named() {
    let (emu, client) = start().await;
    // Inverted: refused before sending.
    let e = client
        .usage()
        .report(
            DEFAULT_RESELLER_ID,
            date!(2025 - 02 - 01),
            date!(2025 - 01 - 01),
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Config { field, .. } if field == "end_date"),
        "{e}"
    );
    assert!(
        client
            .usage()
            .metadata("x", date!(2025 - 02 - 01), date!(2025 - 01 - 01))
            .is_err()
    );
    // Sent raw, the emulator refuses it too.
    let mut request = client
        .usage()
        .report(
            DEFAULT_RESELLER_ID,
            date!(2025 - 01 - 01),
            date!(2025 - 01 - 02),
        )
        .unwrap()
        .request()
        .clone();
    std::mem::swap(&mut request.start_date, &mut request.end_date);
    let e = client
        .usage()
        .report_request(request.clone())
        .by_account()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(Code::InvalidArgument));
    assert_eq!(e.as_rpc().unwrap().field_violations()[0].0, "end_date");
    request.start_date = None;
    let e = client
        .usage()
        .report_request(request)
        .by_account()
        .await
        .unwrap_err();
    assert_eq!(e.as_rpc().unwrap().field_violations()[0].0, "start_date");
    // Too many points: a day series of 1,000 resources over a year.
    let mut seed = Seed::default();
    seed.usage.generate[0].resources = 1_000;
    let big = Emulator::builder().seed(seed).start().await.unwrap();
    let big_client = client_for(&big).await.unwrap();
    let Err(e) = big_client
        .usage()
        .report(
            DEFAULT_RESELLER_ID,
            date!(2025 - 01 - 01),
            date!(2026 - 01 - 31),
        )
        .unwrap()
        .period(Period::Day)
        .by_resource()
        .await
    else {
        panic!("too large a report is refused")
    };
    assert_eq!(e.code(), Some(Code::InvalidArgument), "{e}");
    assert_eq!(
        e.as_rpc().unwrap().field_violations()[0].0,
        "aggregation_period"
    );
    // Past tonic's 4 MiB default but within the client's 64 MiB: half a
    // year by day of 1,000 resources arrives whole.
    let by_day = |c: Client| async move {
        c.usage()
            .report(
                DEFAULT_RESELLER_ID,
                date!(2025 - 01 - 01),
                date!(2025 - 06 - 30),
            )
            .unwrap()
            .period(Period::Day)
            .by_resource()
            .await
    };
    let report = by_day(big_client).await.unwrap();
    let size = prost::Message::encoded_len(&report);
    assert!(size > 4 << 20, "the report is {size} bytes");
    // A client with a lower bound refuses to read it, naming the size.
    let small = big
        .client_builder()
        .iam_token(&big.credentials().iam_token)
        .retry_policy(quick_retries())
        .max_response_size(1 << 20)
        .build()
        .await
        .unwrap();
    let e = by_day(small).await.unwrap_err();
    assert_eq!(e.code(), Some(Code::OutOfRange), "{e}");
    assert!(e.to_string().contains("message length too large"), "{e}");
    big.shutdown().await;
    // Unknown account, no rights.
    let b = |c: &Client, account: &str| {
        c.usage()
            .report(account, date!(2025 - 01 - 01), date!(2025 - 01 - 31))
            .unwrap()
            .by_account()
    };
    assert_eq!(
        b(&client, "dn2nosuchaccount0001").await.unwrap_err().code(),
        Some(Code::NotFound)
    );
    let nobody = client_with_token(&emu, NO_RIGHTS_IAM_TOKEN).await.unwrap();
    assert_eq!(
        b(&nobody, DEFAULT_RESELLER_ID).await.unwrap_err().code(),
        Some(Code::PermissionDenied)
    );
    let meta = nobody
        .usage()
        .metadata(
            DEFAULT_RESELLER_ID,
            date!(2025 - 01 - 01),
            date!(2025 - 01 - 31),
        )
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(meta.code(), Some(Code::PermissionDenied));
    emu.shutdown().await;
}

#[tokio::test]
async fn metadata_lists_what_reports_can_be_asked_about() {
    let (emu, client) = start().await;
    let (from, to) = (date!(2025 - 01 - 01), date!(2025 - 12 - 31));
    let u = client.usage();
    let usage = u
        .metadata(DEFAULT_RESELLER_ID, from, to)
        .unwrap()
        .await
        .unwrap();
    assert!(usage.clouds.len() >= 3);
    assert!(usage.label_keys.contains(&"env".to_string()));
    assert!(!usage.services.is_empty() && !usage.skus.is_empty());
    assert_eq!(usage.billing_accounts[0].id, DEFAULT_RESELLER_ID);
    let instances = u
        .service_instances(DEFAULT_RESELLER_ID, from, to)
        .unwrap()
        .await
        .unwrap();
    let kinds: Vec<&str> = instances
        .service_instances
        .iter()
        .map(|i| i.r#type.as_str())
        .collect();
    assert!(
        kinds.contains(&"cloud") && kinds.contains(&"datalens"),
        "{kinds:?}"
    );
    // Label values, sorted, paged.
    let mut call = u
        .label_values(DEFAULT_RESELLER_ID, from, to, "env")
        .unwrap();
    call.request_mut().page_size = 2;
    let first = call.await.unwrap();
    assert_eq!(first.label_values, ["dev", "prod"]);
    assert!(!first.next_page_token.is_empty());
    let mut call = u
        .label_values(DEFAULT_RESELLER_ID, from, to, "env")
        .unwrap();
    call.request_mut().page_token = first.next_page_token.clone();
    assert_eq!(call.await.unwrap().label_values, ["stage"]);
    let mut call = u
        .label_values(DEFAULT_RESELLER_ID, from, to, "env")
        .unwrap();
    call.request_mut().label_value = "PROD".into();
    assert_eq!(call.await.unwrap().label_values, ["prod"]);
    // Clouds with folders, every page; resources by instance.
    let clouds: Vec<_> = {
        use futures::TryStreamExt;
        u.clouds(DEFAULT_RESELLER_ID, from, to)
            .unwrap()
            .page_size(2)
            .stream()
            .try_collect()
            .await
            .unwrap()
    };
    let folders: usize = clouds.iter().map(|c| c.folders.len()).sum();
    assert_eq!(folders, 9, "3 clouds of 3 folders");
    let page = u
        .resources(DEFAULT_RESELLER_ID, from, to)
        .unwrap()
        .page_size(5)
        .await
        .unwrap();
    let n: usize = page.items.iter().map(|i| i.resources.len()).sum();
    assert_eq!(n, 5);
    assert!(!page.is_last());
    // No usage before the data starts.
    let empty = u
        .metadata(
            DEFAULT_RESELLER_ID,
            date!(2020 - 01 - 01),
            date!(2020 - 12 - 31),
        )
        .unwrap()
        .await
        .unwrap();
    assert!(empty.clouds.is_empty() && empty.skus.is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_answers_retry_info_and_the_client_waits_it() {
    // Long enough for the first report (which also generates the records)
    // to come back well within it on a loaded machine.
    let interval = Duration::from_secs(2);
    let emu = Emulator::builder()
        .usage_rate_limit(interval)
        .start()
        .await
        .unwrap();
    let client = client_for(&emu).await.unwrap();
    let b = || {
        client
            .usage()
            .report(
                DEFAULT_RESELLER_ID,
                date!(2025 - 01 - 01),
                date!(2025 - 01 - 31),
            )
            .unwrap()
    };
    b().by_account().await.unwrap();
    // Without retries: RESOURCE_EXHAUSTED with the time left.
    let e = b()
        .by_account()
        .retry_policy(RetryPolicy::disabled())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(Code::ResourceExhausted));
    let hint = e
        .details()
        .unwrap()
        .retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(hint > Duration::ZERO && hint <= interval, "{hint:?}");
    // With the default (rate-limited) setting: waits the hint and succeeds.
    let started = Instant::now();
    let v = b()
        .by_service()
        .timeout(Duration::from_secs(10))
        .await
        .unwrap()
        .view()
        .unwrap();
    assert!(!v.entities.is_empty());
    assert!(started.elapsed() >= hint / 2, "{:?}", started.elapsed());
    // A deadline shorter than the hint: no retry is started past it.
    let started = Instant::now();
    let e = b()
        .by_folder()
        .timeout(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(Code::ResourceExhausted), "{e}");
    assert!(started.elapsed() < Duration::from_millis(300));
    emu.shutdown().await;
}

#[tokio::test]
async fn seed_records_are_reported_exactly_and_bad_ones_refused() {
    use yc_billing::emulator::catalogue::Catalogue;
    use yc_billing::emulator::{CreditKind, SeedUsage, SeedUsageRecord};
    let sku = Catalogue::default_seeded().skus()[0].id.clone();
    let record = |date: &str, cost: Option<&str>| SeedUsageRecord {
        billing_account_id: DEFAULT_RESELLER_ID.into(),
        date: date.into(),
        cloud_id: "b1gseedcloud".into(),
        folder_id: "b1gseedfolder".into(),
        resource_id: "seed-vm-1".into(),
        sku_id: sku.clone(),
        quantity: "24".into(),
        cost: cost.map(str::to_owned),
        credits: [(CreditKind::Cud, "-1.25".to_string())].into(),
        labels: [("env".to_string(), "prod".to_string())].into(),
    };
    let seed = Seed {
        usage: SeedUsage {
            generate: Vec::new(),
            records: vec![
                record("2025-03-02", Some("10.10")),
                record("2025-03-03", None),
            ],
        },
        ..Seed::default()
    };
    let emu = Emulator::builder()
        .seed(seed.clone())
        .start()
        .await
        .unwrap();
    let client = client_for(&emu).await.unwrap();
    let v = client
        .usage()
        .report(
            DEFAULT_RESELLER_ID,
            date!(2025 - 03 - 01),
            date!(2025 - 03 - 31),
        )
        .unwrap()
        .period(Period::Day)
        .by_resource()
        .await
        .unwrap()
        .view()
        .unwrap();
    assert_eq!(v.entities.len(), 1);
    let e = &v.entities[0];
    assert_eq!(e.id, "seed-vm-1");
    assert_eq!(e.series.len(), 2);
    assert_eq!(
        e.series[0].amounts.cost,
        "10.10".parse::<Decimal>().unwrap()
    );
    // The second day is priced from the catalogue.
    assert!(e.series[1].amounts.cost > Decimal::ZERO);
    assert_eq!(e.amounts.credits.cud, "-2.5".parse::<Decimal>().unwrap());
    assert_eq!(
        v.amounts.expense,
        v.amounts.cost - "2.5".parse::<Decimal>().unwrap()
    );
    emu.shutdown().await;

    let mut bad = seed;
    bad.usage.records[0].sku_id = "nope".into();
    let Err(e) = Emulator::builder().seed(bad.clone()).start().await else {
        panic!("a record of an unknown SKU is refused")
    };
    assert!(e.to_string().contains("records[0].sku_id"), "{e}");
    bad.usage.records[0].sku_id = sku;
    bad.usage.records[0].credits = [(CreditKind::Free, "3".to_string())].into();
    let Err(e) = Emulator::builder().seed(bad).start().await else {
        panic!("a positive credit is refused")
    };
    assert!(e.to_string().contains("records[0].credits"), "{e}");
}
