//! SkuService and ServiceService against the emulator over TCP, through the
//! typed client: prices per currency, contract prices and their access
//! checks, the filter grammar, pagination, and the negative cases.

mod emulator_support;

use emulator_support::violations;

use std::time::{Duration, SystemTime};

use emulator_support::*;
use futures::TryStreamExt;
use tonic::Code;
use yc_billing::emulator::catalogue::{
    CONTRACT_BILLING_ACCOUNT_ID, CURRENT_PRICES_FROM, Catalogue,
};
use yc_billing::emulator::{Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN, Seed};
use yc_billing::money::{Currency, Decimal};
use yc_billing::proto::yandex::cloud::billing::v1::{
    GetSkuRequest, ListSkusRequest, PricingVersionType, Sku,
};
use yc_billing::services::filter::Filter;

async fn start() -> EmulatorHandle {
    Emulator::builder()
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

fn when() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(CURRENT_PRICES_FROM as u64 + 86_400)
}

#[tokio::test]
async fn services_list_get_filter_and_page() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let expected: Vec<String> = emu
        .catalogue()
        .services()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert!(expected.len() >= 12);

    let all: Vec<_> = client
        .billing_services()
        .list()
        .page_size(5)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(
        all.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        expected
    );
    let first = client.billing_services().list().page_size(5).await?;
    assert_eq!(first.items.len(), 5);
    assert!(!first.is_last());

    let compute = client.billing_services().get(&expected[0]).await?;
    assert_eq!(compute.name, "Compute Cloud");
    let one = client
        .billing_services()
        .list()
        .filter(Filter::id(&expected[3]))
        .await?;
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].id, expected[3]);
    let none = client
        .billing_services()
        .list()
        .filter(Filter::id("dn2nosuchservice0001"))
        .await?;
    assert!(none.items.is_empty() && none.is_last());

    let err = client
        .billing_services()
        .get("dn2nosuchservice0001")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound), "{err}");
    // Services filter only on id.
    let err = client
        .billing_services()
        .list()
        .filter(Filter::service_id(&expected[0]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert!(
        violations(&err)[0].starts_with("filter: cannot filter on \"serviceId\""),
        "{err}"
    );
    let err = client.billing_services().get("").await.unwrap_err();
    assert!(violations(&err)[0].starts_with("id: "), "{err}");
    // A token of the unfiltered list is refused for another list.
    let token = first.next_page_token.clone();
    let err = client
        .billing_services()
        .list()
        .filter(Filter::id(&expected[0]))
        .page_token(token)
        .await
        .unwrap_err();
    assert!(violations(&err)[0].starts_with("page_token: "), "{err}");
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sku_prices_in_every_currency_and_the_contract_prices() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let catalogue = emu.catalogue().clone();
    let vcpu = &catalogue.skus()[0];
    for currency in Currency::ALL {
        let sku = client.skus().get(&vcpu.id, currency).await?;
        assert_eq!(sku.name, "Intel Ice Lake. 100% vCPU");
        assert_eq!(sku.pricing_unit, "core*hour");
        assert!(
            sku.pricing_versions
                .iter()
                .all(|v| v.r#type == PricingVersionType::StreetPrice as i32)
        );
        let price = sku.unit_price_at(when())?.unwrap();
        assert_eq!(price.currency, currency);
        let at = CURRENT_PRICES_FROM + 86_400;
        assert_eq!(
            Some(price.amount),
            catalogue.price(&vcpu.id, currency, at, None)
        );
        for rate in sku.pricing_versions.iter().flat_map(|v| v.rates()) {
            assert_eq!(rate.price()?.currency, currency);
        }
    }
    let public = client.skus().get(&vcpu.id, Currency::Rub).await?;
    let contract = client
        .skus()
        .get(&vcpu.id, Currency::Rub)
        .billing_account_id(CONTRACT_BILLING_ACCOUNT_ID)
        .await?;
    assert_eq!(
        contract.pricing_versions.len(),
        public.pricing_versions.len() + 1
    );
    let public_price = public.unit_price_at(when())?.unwrap().amount;
    let contract_price = contract.unit_price_at(when())?.unwrap().amount;
    assert_eq!(public_price, Decimal::new(112, 2));
    assert_eq!(contract_price, Decimal::new(8064, 4));
    assert!(contract_price < public_price);
    // Another account the caller may read has no contract: street prices only.
    let other = client
        .skus()
        .get(&vcpu.id, Currency::Rub)
        .billing_account_id("dn2emu0customer00002")
        .await?;
    assert_eq!(other, public);
    // A tiered SKU: 100 GB free, then the price, cheaper past 50 TB.
    let traffic = catalogue
        .skus()
        .iter()
        .find(|s| s.name == "Outgoing traffic")
        .unwrap();
    let sku = client.skus().get(&traffic.id, Currency::Usd).await?;
    let version = sku.version_at(when()).unwrap();
    let starts: Vec<String> = version
        .rates()
        .map(|r| r.start_quantity().map(|q| q.to_string()))
        .collect::<Result<_, _>>()?;
    assert_eq!(starts, ["0", "100", "51200"]);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sku_negative_cases() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let vcpu = emu.catalogue().skus()[0].id.clone();

    let err = client
        .skus()
        .get("dn2nosuchsku00000001", Currency::Rub)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound), "{err}");
    let bad_currency = GetSkuRequest {
        id: vcpu.clone(),
        currency: "EUR".into(),
        ..Default::default()
    };
    let err = client.skus().get_request(bad_currency).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert_eq!(
        violations(&err),
        ["currency: value must be one of RUB, USD, KZT, got EUR"]
    );
    let no_currency = ListSkusRequest::default();
    let err = client.skus().list_request(no_currency).await.unwrap_err();
    assert!(violations(&err)[0].starts_with("currency: "), "{err}");
    let err = client
        .skus()
        .get("a".repeat(51), Currency::Rub)
        .await
        .unwrap_err();
    assert!(violations(&err)[0].starts_with("id: "), "{err}");
    let err = client
        .skus()
        .list(Currency::Rub)
        .page_size(1001)
        .await
        .unwrap_err();
    assert!(violations(&err)[0].starts_with("page_size: "), "{err}");
    for bad in [
        "serviceId=dn2abc",
        "name=\"abc\"",
        "id=\"UPPER\"",
        "serviceId",
    ] {
        let err = client
            .skus()
            .list(Currency::Rub)
            .filter(Filter::raw(bad))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(Code::InvalidArgument), "{bad}");
        assert!(violations(&err)[0].starts_with("filter: "), "{bad}: {err}");
    }
    // Contract prices of an unknown account, and of one the caller may not read.
    let err = client
        .skus()
        .get(&vcpu, Currency::Rub)
        .billing_account_id("dn2nosuchaccount0001")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound), "{err}");
    let nobody = client_with_token(&emu, NO_RIGHTS_IAM_TOKEN).await?;
    let err = nobody
        .skus()
        .get(&vcpu, Currency::Rub)
        .billing_account_id(CONTRACT_BILLING_ACCOUNT_ID)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    let err = nobody
        .skus()
        .list(Currency::Rub)
        .billing_account_id(CONTRACT_BILLING_ACCOUNT_ID)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    // The public catalogue is open to any authenticated caller.
    let sku = nobody.skus().get(&vcpu, Currency::Kzt).await?;
    assert_eq!(sku.id, vcpu);
    let page = nobody.billing_services().list().await?;
    assert!(!page.items.is_empty());
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sku_lists_filter_and_page_through_the_catalogue() -> anyhow::Result<()> {
    let emu = start().await;
    let client = client_for(&emu).await?;
    let catalogue = emu.catalogue().clone();
    let ids = |skus: &[Sku]| skus.iter().map(|s| s.id.clone()).collect::<Vec<_>>();

    let all: Vec<Sku> = client
        .skus()
        .list(Currency::Rub)
        .page_size(7)
        .stream()
        .try_collect()
        .await?;
    let expected: Vec<String> = catalogue.skus().iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids(&all), expected);

    let compute = &catalogue.services()[0].id;
    let of_compute: Vec<Sku> = client
        .skus()
        .list(Currency::Usd)
        .filter(Filter::service_id(compute))
        .page_size(5)
        .stream()
        .try_collect()
        .await?;
    let expected: Vec<String> = catalogue
        .skus()
        .iter()
        .filter(|s| &s.service_id == compute)
        .map(|s| s.id.clone())
        .collect();
    assert!(expected.len() > 5);
    assert_eq!(ids(&of_compute), expected);

    let one = client
        .skus()
        .list(Currency::Rub)
        .filter(Filter::id(&expected[2]))
        .await?;
    assert_eq!(ids(&one.items), [expected[2].clone()]);

    // Contract versions appear in the list for the account's SKUs only.
    let with_contract: Vec<Sku> = client
        .skus()
        .list(Currency::Rub)
        .billing_account_id(CONTRACT_BILLING_ACCOUNT_ID)
        .stream()
        .try_collect()
        .await?;
    let contract = PricingVersionType::ContractPrice as i32;
    for sku in &with_contract {
        let has = sku.pricing_versions.iter().any(|v| v.r#type == contract);
        let expected = !catalogue
            .contract_versions(&sku.id, CONTRACT_BILLING_ACCOUNT_ID)
            .is_empty();
        assert_eq!(has, expected, "{}", sku.id);
    }
    assert!(
        with_contract
            .iter()
            .any(|s| s.pricing_versions.iter().any(|v| v.r#type == contract))
    );

    // A page token is bound to its currency and filter.
    let first = client.skus().list(Currency::Rub).page_size(3).await?;
    let err = client
        .skus()
        .list(Currency::Usd)
        .page_token(first.next_page_token.clone())
        .await
        .unwrap_err();
    assert!(violations(&err)[0].starts_with("page_token: "), "{err}");
    let second = client
        .skus()
        .list(Currency::Rub)
        .page_size(3)
        .page_token(first.next_page_token.clone())
        .await?;
    assert_eq!(
        ids(&second.items),
        catalogue.skus()[3..6]
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
    );
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_seed_adds_services_skus_and_contract_prices() -> anyhow::Result<()> {
    let mut seed = serde_json::to_value(Seed::default())?;
    seed["catalogue"] = serde_json::json!({
        "services": [{"id": "dn2seededservice0001", "name": "Seeded"}],
        "skus": [{"id": "dn2seededsku00000001", "name": "Thing", "service_id": "dn2seededservice0001",
            "pricing_unit": "unit", "versions": [{"effective_time": "2025-01-01T00:00:00Z",
            "tiers": [{"start_quantity": "0", "prices": {"RUB": "10", "USD": "0.125", "KZT": "58"}}]}]}],
        "contract_prices": [{"billing_account_id": "dn2emu0reseller00001", "skus": {
            "dn2seededsku00000001": [{"effective_time": "2025-02-01T00:00:00Z",
            "tiers": [{"start_quantity": "0", "prices": {"RUB": "7.5", "USD": "0.1", "KZT": "40"}}]}]}}]
    });
    let seed: Seed = serde_json::from_value(seed)?;
    let emu = Emulator::builder()
        .metadata_server(false)
        .seed(seed)
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let sku = client
        .skus()
        .get("dn2seededsku00000001", Currency::Rub)
        .billing_account_id("dn2emu0reseller00001")
        .await?;
    assert_eq!(sku.unit_price_at(when())?.unwrap().to_string(), "7.5 RUB");
    let service = client
        .billing_services()
        .get("dn2seededservice0001")
        .await?;
    assert_eq!(service.name, "Seeded");
    emu.shutdown().await;

    // A bad catalogue in a seed is a seed error at start.
    let mut bad = serde_json::to_value(Seed::default())?;
    bad["catalogue"] = serde_json::json!({"skus": [{"id": "dn2x00000000000000001", "name": "X",
        "service_id": "nope", "pricing_unit": "u", "versions": []}]});
    let err = Emulator::builder()
        .metadata_server(false)
        .seed(serde_json::from_value(bad)?)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown service"), "{err}");

    // A synthetic catalogue replaces the default one.
    let emu = Emulator::builder()
        .metadata_server(false)
        .catalogue(Catalogue::synthetic(2500))
        .start()
        .await?;
    let client = client_for(&emu).await?;
    let n = client
        .skus()
        .list(Currency::Kzt)
        .page_size(1000)
        .stream()
        .try_fold(0, |n, _| async move { Ok(n + 1) })
        .await?;
    assert_eq!(n, 2500);
    emu.shutdown().await;
    Ok(())
}
