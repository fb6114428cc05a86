//! `yandex.cloud.billing.v1.SkuService`: the SKU catalogue and its prices.

use std::time::SystemTime;

use super::Call;
use super::filter::Filter;
use crate::money::{Currency, Decimal, Money, MoneyError, parse_decimal};
use crate::pagination::Page;
use crate::proto::yandex::cloud::billing::v1::{
    GetSkuRequest, ListSkusRequest, PricingVersion, PricingVersionType, Rate, Sku,
};

/// SKUs and their prices. Get it with [`Client::skus`](crate::Client::skus).
///
/// ```no_run
/// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
/// use yc_billing::money::Currency;
/// use yc_billing::services::filter::Filter;
///
/// let page = client
///     .skus()
///     .list(Currency::Rub)
///     .filter(Filter::service_id("dn22pas77ftg9h3f2djj"))
///     .billing_account_id("dn2...") // contract prices too
///     .await?;
/// for sku in &page.items {
///     if let Some(price) = sku.unit_price_at(std::time::SystemTime::now())? {
///         println!("{} {}: {price} per {}", sku.id, sku.name, sku.pricing_unit);
///     }
/// }
/// # Ok(()) }
/// ```
pub type Skus = super::SkuService;

impl Skus {
    /// One SKU with its prices in `currency`; add contract prices with
    /// [`billing_account_id`](Call::billing_account_id).
    pub fn get(&self, id: impl Into<String>, currency: Currency) -> Call<GetSkuRequest, Sku> {
        self.get_request(GetSkuRequest {
            id: id.into(),
            currency: currency.as_str().into(),
            billing_account_id: String::new(),
        })
    }

    /// One page of SKUs with their prices in `currency`; narrow it with
    /// [`filter`](Call::filter), add contract prices with
    /// [`billing_account_id`](Call::billing_account_id).
    pub fn list(&self, currency: Currency) -> Call<ListSkusRequest, Page<Sku>> {
        self.list_request(ListSkusRequest {
            currency: currency.as_str().into(),
            ..Default::default()
        })
    }
}

impl Call<GetSkuRequest, Sku> {
    /// Includes the contract prices of this billing account.
    pub fn billing_account_id(mut self, id: impl Into<String>) -> Self {
        self.request.billing_account_id = id.into();
        self
    }
}

impl Call<ListSkusRequest, Page<Sku>> {
    /// Includes the contract prices of this billing account.
    pub fn billing_account_id(mut self, id: impl Into<String>) -> Self {
        self.request.billing_account_id = id.into();
        self
    }

    /// Lists only the SKUs the filter selects ([`Filter::id`],
    /// [`Filter::service_id`] or [`Filter::raw`]).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.request.filter = filter.to_string();
        self
    }
}

impl Rate {
    /// The unit price with its currency, exact.
    pub fn price(&self) -> Result<Money, MoneyError> {
        Money::parse("unit_price", &self.unit_price, &self.currency)
    }

    /// Where the rate's quantity interval starts, exact (an empty string is 0).
    pub fn start_quantity(&self) -> Result<Decimal, MoneyError> {
        if self.start_pricing_quantity.is_empty() {
            return Ok(Decimal::ZERO);
        }
        parse_decimal("start_pricing_quantity", &self.start_pricing_quantity)
    }
}

impl PricingVersion {
    /// When the version takes effect (`None` without a time).
    pub fn effective_at(&self) -> Option<SystemTime> {
        self.effective_time
            .and_then(|t| SystemTime::try_from(t).ok())
    }

    /// Every rate of every pricing expression, in order.
    pub fn rates(&self) -> impl Iterator<Item = &Rate> {
        self.pricing_expressions.iter().flat_map(|e| &e.rates)
    }

    /// The unit price of the first rate (from quantity 0).
    pub fn unit_price(&self) -> Result<Option<Money>, MoneyError> {
        self.rates().next().map(Rate::price).transpose()
    }
}

impl Sku {
    /// The pricing version in effect at `at`: the latest contract version
    /// already in effect if there is one, else the latest street version.
    pub fn version_at(&self, at: SystemTime) -> Option<&PricingVersion> {
        let latest = |ty: PricingVersionType| {
            self.pricing_versions
                .iter()
                .filter(|v| v.r#type == ty as i32 && v.effective_at().is_some_and(|t| t <= at))
                .max_by_key(|v| v.effective_at())
        };
        latest(PricingVersionType::ContractPrice)
            .or_else(|| latest(PricingVersionType::StreetPrice))
    }

    /// The unit price (first rate) in effect at `at`, contract price first.
    pub fn unit_price_at(&self, at: SystemTime) -> Result<Option<Money>, MoneyError> {
        self.version_at(at)
            .map(PricingVersion::unit_price)
            .transpose()
            .map(Option::flatten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::yandex::cloud::billing::v1::PricingExpression;

    fn version(ty: PricingVersionType, secs: i64, price: &str) -> PricingVersion {
        PricingVersion {
            r#type: ty as i32,
            effective_time: Some(prost_types::Timestamp {
                seconds: secs,
                nanos: 0,
            }),
            pricing_expressions: vec![PricingExpression {
                rates: vec![Rate {
                    start_pricing_quantity: "0".into(),
                    unit_price: price.into(),
                    currency: "RUB".into(),
                }],
            }],
        }
    }

    #[test]
    fn the_price_in_effect_prefers_contract_versions() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let sku = Sku {
            pricing_versions: vec![
                version(PricingVersionType::StreetPrice, 100, "1.0"),
                version(PricingVersionType::StreetPrice, 200, "1.2"),
                version(PricingVersionType::ContractPrice, 300, "0.9"),
            ],
            ..Default::default()
        };
        let price = |secs| sku.unit_price_at(at(secs)).unwrap().map(|m| m.to_string());
        assert_eq!(price(50), None);
        assert_eq!(price(150).as_deref(), Some("1 RUB"));
        assert_eq!(price(250).as_deref(), Some("1.2 RUB"));
        assert_eq!(price(350).as_deref(), Some("0.9 RUB"));
        let mut bad = sku.clone();
        bad.pricing_versions[1].pricing_expressions[0].rates[0].unit_price = "1,2".into();
        let err = bad.unit_price_at(at(250)).unwrap_err();
        assert_eq!(err.field(), "unit_price");
    }
}
