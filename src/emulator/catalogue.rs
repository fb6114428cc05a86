//! The emulator's price catalogue: services, SKUs, their price schedules in
//! every currency, and contract prices per billing account.
//!
//! [`Catalogue::default_seeded`] is a fixed, deterministic catalogue of a
//! dozen Yandex Cloud services (compute, storage, network, databases,
//! serverless) and their SKUs, each with two street-price versions (the
//! current one effective from [`CURRENT_PRICES_FROM`]) and, for some, price
//! tiers (a free first quantity, a cheaper one past a volume). The billing
//! account [`CONTRACT_BILLING_ACCOUNT_ID`] has contract prices below the
//! street prices for the compute and object storage SKUs. Seeds add to it or
//! replace parts of it with [`CatalogueOverrides`].
//!
//! ```
//! use yc_billing::emulator::catalogue::{Catalogue, CONTRACT_BILLING_ACCOUNT_ID, CURRENT_PRICES_FROM};
//! use yc_billing::money::{Currency, Decimal};
//!
//! let catalogue = Catalogue::default_seeded();
//! let vcpu = catalogue
//!     .skus()
//!     .iter()
//!     .find(|s| s.name == "Intel Ice Lake. 100% vCPU" && s.service_id == catalogue.services()[0].id)
//!     .unwrap();
//! let at = CURRENT_PRICES_FROM + 86_400;
//! let street = catalogue.price(&vcpu.id, Currency::Rub, at, None).unwrap();
//! assert_eq!(street, Decimal::new(112, 2));
//! let contract = catalogue.price(&vcpu.id, Currency::Rub, at, Some(CONTRACT_BILLING_ACCOUNT_ID)).unwrap();
//! assert!(contract < street);
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::EmulatorError;
use crate::money::{Currency, Decimal};
use crate::proto::yandex::cloud::billing::v1 as pb;

/// The billing account of the default seed with contract prices (the first
/// customer of the default reseller).
pub const CONTRACT_BILLING_ACCOUNT_ID: &str = "dn2emu0customer00001";

/// When the seeded previous street prices took effect: 2024-01-01T00:00:00Z,
/// in Unix seconds.
pub const PREVIOUS_PRICES_FROM: i64 = 1_704_067_200;
/// When the seeded current street prices took effect: 2025-03-01T00:00:00Z,
/// in Unix seconds.
pub const CURRENT_PRICES_FROM: i64 = 1_740_787_200;
/// When the seeded contract prices took effect: 2025-01-01T00:00:00Z, in
/// Unix seconds.
pub const CONTRACT_PRICES_FROM: i64 = 1_735_689_600;

/// A billable cloud service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueService {
    /// Id (`dn2…`).
    pub id: String,
    /// Name, e.g. `Compute Cloud`.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// One price tier: from `start_quantity` (inclusive) up to the next tier's
/// start, each unit costs the tier's price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Where the tier starts, in pricing units (the first tier starts at 0).
    pub start_quantity: Decimal,
    /// The unit price in each currency (every currency of the API).
    pub prices: BTreeMap<Currency, Decimal>,
}

/// A price schedule in effect from `effective_time` until the next
/// version's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceVersion {
    /// Start of the version, in Unix seconds (RFC 3339 in JSON).
    #[serde(with = "rfc3339")]
    pub effective_time: i64,
    /// The tiers, by ascending start; the first starts at 0.
    pub tiers: Vec<Tier>,
}

impl PriceVersion {
    /// The unit price of the first tier in `currency`.
    pub fn unit_price(&self, currency: Currency) -> Option<Decimal> {
        self.tiers.first()?.prices.get(&currency).copied()
    }

    /// The price of `quantity` units taken alone, tier by tier (each tier's
    /// share of the quantity at its price); `None` for an unknown currency.
    pub fn cost(&self, currency: Currency, quantity: Decimal) -> Option<Decimal> {
        let mut total = Decimal::ZERO;
        for (i, tier) in self.tiers.iter().enumerate() {
            if quantity <= tier.start_quantity {
                break;
            }
            let end = self
                .tiers
                .get(i + 1)
                .map_or(quantity, |next| next.start_quantity.min(quantity));
            let price = tier.prices.get(&currency)?;
            total = total.checked_add((end - tier.start_quantity).checked_mul(*price)?)?;
        }
        Some(total)
    }

    /// This version as the API's `PricingVersion` of type `ty`, with its
    /// rates in `currency`.
    pub fn to_proto(&self, ty: pb::PricingVersionType, currency: Currency) -> pb::PricingVersion {
        pb::PricingVersion {
            r#type: ty as i32,
            effective_time: Some(prost_types::Timestamp {
                seconds: self.effective_time,
                nanos: 0,
            }),
            pricing_expressions: vec![pb::PricingExpression {
                rates: self
                    .tiers
                    .iter()
                    .filter_map(|t| {
                        Some(pb::Rate {
                            start_pricing_quantity: t.start_quantity.normalize().to_string(),
                            unit_price: t.prices.get(&currency)?.normalize().to_string(),
                            currency: currency.as_str().into(),
                        })
                    })
                    .collect(),
            }],
        }
    }
}

/// A stock keeping unit: what is billed, in which unit, at which prices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueSku {
    /// Id (`dn2…`).
    pub id: String,
    /// Name, e.g. `Intel Ice Lake. 100% vCPU`.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The service it belongs to.
    pub service_id: String,
    /// Pricing unit, e.g. `core*hour`, `gbyte*month`.
    pub pricing_unit: String,
    /// Street-price versions, by ascending effective time.
    pub versions: Vec<PriceVersion>,
}

/// Contract prices of one billing account: price versions per SKU that
/// replace the street prices for that account from their effective time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractPrices {
    /// The billing account.
    pub billing_account_id: String,
    /// Contract versions per SKU id, each list by ascending effective time.
    pub skus: BTreeMap<String, Vec<PriceVersion>>,
}

/// What a seed adds to the default catalogue: services and SKUs (one with
/// an existing id replaces it) and contract prices (one for an account that
/// already has some merges into it, per SKU).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogueOverrides {
    /// Services to add or replace.
    pub services: Vec<CatalogueService>,
    /// SKUs to add or replace.
    pub skus: Vec<CatalogueSku>,
    /// Contract prices to add or replace.
    pub contract_prices: Vec<ContractPrices>,
}

impl CatalogueOverrides {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.skus.is_empty() && self.contract_prices.is_empty()
    }
}

/// The price catalogue: services and SKUs in a fixed order (the order of
/// the listings), indexed by id, with contract prices per billing account.
#[derive(Clone, Debug)]
pub struct Catalogue {
    services: Vec<CatalogueService>,
    skus: Vec<CatalogueSku>,
    service_index: HashMap<String, usize>,
    sku_index: HashMap<String, usize>,
    by_service: HashMap<String, Vec<usize>>,
    contracts: HashMap<String, BTreeMap<String, Vec<PriceVersion>>>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::default_seeded()
    }
}

impl Catalogue {
    /// A catalogue of these services, SKUs and contract prices, checked:
    /// unique ids, every SKU's service known, every version list non-empty
    /// and by strictly ascending time, every tier list starting at 0 and
    /// strictly ascending, every tier priced in every currency, no negative
    /// price; contract prices only for known SKUs.
    pub fn new(
        services: Vec<CatalogueService>,
        skus: Vec<CatalogueSku>,
        contract_prices: Vec<ContractPrices>,
    ) -> Result<Catalogue, EmulatorError> {
        let err = |what: String| EmulatorError::Seed(format!("catalogue: {what}"));
        let mut service_index = HashMap::with_capacity(services.len());
        for (i, s) in services.iter().enumerate() {
            if s.id.is_empty() || service_index.insert(s.id.clone(), i).is_some() {
                return Err(err(format!("service id {:?} is empty or repeated", s.id)));
            }
        }
        let mut sku_index = HashMap::with_capacity(skus.len());
        let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in skus.iter().enumerate() {
            by_service.entry(s.service_id.clone()).or_default().push(i);
            if s.id.is_empty() || sku_index.insert(s.id.clone(), i).is_some() {
                return Err(err(format!("SKU id {:?} is empty or repeated", s.id)));
            }
            if !service_index.contains_key(&s.service_id) {
                return Err(err(format!(
                    "SKU {}: unknown service {:?}",
                    s.id, s.service_id
                )));
            }
            check_versions(&s.versions).map_err(|why| err(format!("SKU {}: {why}", s.id)))?;
        }
        let mut contracts: HashMap<String, BTreeMap<String, Vec<PriceVersion>>> = HashMap::new();
        for c in contract_prices {
            if c.billing_account_id.is_empty() {
                return Err(err("contract prices without a billing account".into()));
            }
            for (sku, versions) in &c.skus {
                if !sku_index.contains_key(sku) {
                    return Err(err(format!(
                        "contract prices of {}: unknown SKU {sku:?}",
                        c.billing_account_id
                    )));
                }
                check_versions(versions).map_err(|why| {
                    err(format!(
                        "contract prices of {} for SKU {sku}: {why}",
                        c.billing_account_id
                    ))
                })?;
            }
            contracts
                .entry(c.billing_account_id)
                .or_default()
                .extend(c.skus);
        }
        Ok(Catalogue {
            services,
            skus,
            service_index,
            sku_index,
            by_service,
            contracts,
        })
    }

    /// The default catalogue (see the module documentation).
    pub fn default_seeded() -> Catalogue {
        let (services, skus) = seeded_services_and_skus();
        let contract_skus = skus
            .iter()
            .filter(|s| {
                s.service_id == services[0].id || s.service_id == services[1].id // compute, object storage
            })
            .map(|s| {
                // 20 % off the compute and storage prices of 2024, from 2025.
                let discount = Decimal::new(80, 2);
                let tiers = s.versions[0]
                    .tiers
                    .iter()
                    .map(|old| Tier {
                        start_quantity: old.start_quantity,
                        prices: old
                            .prices
                            .iter()
                            .map(|(c, p)| (*c, round_price(*c, *p * discount)))
                            .collect(),
                    })
                    .collect();
                (
                    s.id.clone(),
                    vec![PriceVersion {
                        effective_time: CONTRACT_PRICES_FROM,
                        tiers,
                    }],
                )
            })
            .collect();
        Catalogue::new(
            services,
            skus,
            vec![ContractPrices {
                billing_account_id: CONTRACT_BILLING_ACCOUNT_ID.into(),
                skus: contract_skus,
            }],
        )
        .expect("the seeded catalogue is valid")
    }

    /// The default services with `skus` synthetic SKUs spread over them
    /// (ids `dn2synth…`, one price version each, no contract prices): for
    /// benchmarks of large listings.
    pub fn synthetic(skus: usize) -> Catalogue {
        let (services, _) = seeded_services_and_skus();
        let list = (0..skus)
            .map(|i| {
                let rub = Decimal::new(1 + (i as i64 * 7919) % 100_000, 4);
                CatalogueSku {
                    id: format!("dn2synth{i:012}"),
                    name: format!("Synthetic SKU {i}"),
                    description: String::new(),
                    service_id: services[i % services.len()].id.clone(),
                    pricing_unit: "unit*hour".into(),
                    versions: vec![PriceVersion {
                        effective_time: CURRENT_PRICES_FROM,
                        tiers: vec![tier(0, rub)],
                    }],
                }
            })
            .collect();
        Catalogue::new(services, list, Vec::new()).expect("the synthetic catalogue is valid")
    }

    /// This catalogue with `overrides` applied, checked again.
    pub fn with_overrides(
        self,
        overrides: &CatalogueOverrides,
    ) -> Result<Catalogue, EmulatorError> {
        if overrides.is_empty() {
            return Ok(self);
        }
        let mut services = self.services;
        for s in &overrides.services {
            match self.service_index.get(&s.id) {
                Some(&i) => services[i] = s.clone(),
                None => services.push(s.clone()),
            }
        }
        let mut skus = self.skus;
        for s in &overrides.skus {
            match self.sku_index.get(&s.id) {
                Some(&i) => skus[i] = s.clone(),
                None => skus.push(s.clone()),
            }
        }
        let mut contracts: Vec<ContractPrices> = self
            .contracts
            .into_iter()
            .map(|(billing_account_id, skus)| ContractPrices {
                billing_account_id,
                skus,
            })
            .collect();
        contracts.sort_by(|a, b| a.billing_account_id.cmp(&b.billing_account_id));
        contracts.extend(overrides.contract_prices.iter().cloned());
        Catalogue::new(services, skus, contracts)
    }

    /// Every service, in listing order.
    pub fn services(&self) -> &[CatalogueService] {
        &self.services
    }

    /// Every SKU, in listing order.
    pub fn skus(&self) -> &[CatalogueSku] {
        &self.skus
    }

    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&CatalogueService> {
        self.service_index.get(id).map(|&i| &self.services[i])
    }

    /// The SKU with this id.
    pub fn sku(&self, id: &str) -> Option<&CatalogueSku> {
        self.sku_index.get(id).map(|&i| &self.skus[i])
    }

    /// Positions (in listing order) of the SKUs of one service.
    pub fn sku_positions_of_service(&self, service_id: &str) -> &[usize] {
        self.by_service.get(service_id).map_or(&[], Vec::as_slice)
    }

    /// Position of the service in listing order.
    pub fn service_position(&self, id: &str) -> Option<usize> {
        self.service_index.get(id).copied()
    }

    /// Position of the SKU in listing order.
    pub fn sku_position(&self, id: &str) -> Option<usize> {
        self.sku_index.get(id).copied()
    }

    /// Whether the billing account has contract prices.
    pub fn has_contract(&self, billing_account_id: &str) -> bool {
        self.contracts.contains_key(billing_account_id)
    }

    /// The contract versions of one SKU for one billing account.
    pub fn contract_versions(&self, sku_id: &str, billing_account_id: &str) -> &[PriceVersion] {
        self.contracts
            .get(billing_account_id)
            .and_then(|c| c.get(sku_id))
            .map_or(&[], Vec::as_slice)
    }

    /// The price version in effect for the SKU at `at` (Unix seconds): the
    /// account's latest contract version already in effect if it has one,
    /// else the latest street version in effect; `None` for an unknown SKU
    /// or before its first version.
    pub fn version_at(
        &self,
        sku_id: &str,
        at: i64,
        billing_account_id: Option<&str>,
    ) -> Option<&PriceVersion> {
        if let Some(account) = billing_account_id
            && let Some(v) = latest_in_effect(self.contract_versions(sku_id, account), at)
        {
            return Some(v);
        }
        latest_in_effect(&self.sku(sku_id)?.versions, at)
    }

    /// The unit price (first tier) of the SKU in `currency` at `at` (Unix
    /// seconds), the account's contract price when it has one in effect.
    pub fn price(
        &self,
        sku_id: &str,
        currency: Currency,
        at: i64,
        billing_account_id: Option<&str>,
    ) -> Option<Decimal> {
        self.version_at(sku_id, at, billing_account_id)?
            .unit_price(currency)
    }

    /// The price of `quantity` units of the SKU taken alone, tier by tier,
    /// in `currency` at `at` (Unix seconds), contract prices as for
    /// [`price`](Self::price).
    pub fn cost(
        &self,
        sku_id: &str,
        currency: Currency,
        at: i64,
        billing_account_id: Option<&str>,
        quantity: Decimal,
    ) -> Option<Decimal> {
        self.version_at(sku_id, at, billing_account_id)?
            .cost(currency, quantity)
    }

    /// The SKU as the API's `Sku`, rates in `currency`: its street
    /// versions and, with a billing account that has contract prices for
    /// it, those as `CONTRACT_PRICE` versions.
    pub fn sku_proto(
        &self,
        sku: &CatalogueSku,
        currency: Currency,
        billing_account_id: Option<&str>,
    ) -> pb::Sku {
        let street = sku
            .versions
            .iter()
            .map(|v| v.to_proto(pb::PricingVersionType::StreetPrice, currency));
        let contract = billing_account_id
            .map(|a| self.contract_versions(&sku.id, a))
            .unwrap_or_default()
            .iter()
            .map(|v| v.to_proto(pb::PricingVersionType::ContractPrice, currency));
        pb::Sku {
            id: sku.id.clone(),
            name: sku.name.clone(),
            description: sku.description.clone(),
            service_id: sku.service_id.clone(),
            pricing_unit: sku.pricing_unit.clone(),
            pricing_versions: street.chain(contract).collect(),
        }
    }

    /// The service as the API's `Service`.
    pub fn service_proto(service: &CatalogueService) -> pb::Service {
        pb::Service {
            id: service.id.clone(),
            name: service.name.clone(),
            description: service.description.clone(),
        }
    }
}

fn latest_in_effect(versions: &[PriceVersion], at: i64) -> Option<&PriceVersion> {
    versions.iter().rev().find(|v| v.effective_time <= at)
}

fn check_versions(versions: &[PriceVersion]) -> Result<(), String> {
    if versions.is_empty() {
        return Err("no price version".into());
    }
    if versions
        .windows(2)
        .any(|w| w[0].effective_time >= w[1].effective_time)
    {
        return Err("price versions not by strictly ascending effective time".into());
    }
    for v in versions {
        let Some(first) = v.tiers.first() else {
            return Err("a price version without tiers".into());
        };
        if !first.start_quantity.is_zero() {
            return Err("the first tier must start at 0".into());
        }
        if v.tiers
            .windows(2)
            .any(|w| w[0].start_quantity >= w[1].start_quantity)
        {
            return Err("tiers not by strictly ascending start quantity".into());
        }
        for t in &v.tiers {
            if Currency::ALL.iter().any(|c| !t.prices.contains_key(c)) {
                return Err("a tier must have a price in RUB, USD and KZT".into());
            }
            if t.prices.values().any(|p| p.is_sign_negative()) {
                return Err("a price must not be negative".into());
            }
        }
    }
    Ok(())
}

/// Rounds a price to the precision the seeded prices use in `currency`.
fn round_price(currency: Currency, price: Decimal) -> Decimal {
    match currency {
        Currency::Usd => price.round_dp(6),
        _ => price.round_dp(4),
    }
}

/// A tier from `start` priced `rub` roubles, in dollars at 80 roubles and
/// in tenge at 5.8 tenge a rouble (fixed, so the catalogue is
/// deterministic).
fn tier(start: i64, rub: Decimal) -> Tier {
    let prices = Currency::ALL
        .into_iter()
        .map(|c| {
            let p = match c {
                Currency::Usd => rub / Decimal::new(80, 0),
                Currency::Kzt => rub * Decimal::new(58, 1),
                _ => rub,
            };
            (c, round_price(c, p))
        })
        .collect();
    Tier {
        start_quantity: Decimal::new(start, 0),
        prices,
    }
}

/// A `dn2` id of 20 characters derived from `key` (FNV-1a, base 32 in the
/// cloud's alphabet), so ids are stable and look like the cloud's.
fn cloud_id(key: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut id = String::from("dn2");
    let mut x = h;
    for i in 0..17 {
        if i == 12 {
            x = h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
        }
        id.push(ALPHABET[(x % 32) as usize] as char);
        x /= 32;
    }
    id
}

/// (service name, description, SKUs: (name, pricing unit, current RUB
/// price, tiers as (start, share of the price)))
type SeedSku = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(i64, i64)],
);

const SEEDED: &[(&str, &str, &[SeedSku])] = &[
    (
        "Compute Cloud",
        "Virtual machines, disks and images.",
        &[
            ("Intel Ice Lake. 100% vCPU", "core*hour", "1.12", &[]),
            ("Intel Ice Lake. 50% vCPU", "core*hour", "0.67", &[]),
            ("Intel Ice Lake. 20% vCPU", "core*hour", "0.30", &[]),
            ("Intel Ice Lake. RAM", "gbyte*hour", "0.2992", &[]),
            ("Intel Cascade Lake. 100% vCPU", "core*hour", "1.05", &[]),
            ("Intel Cascade Lake. RAM", "gbyte*hour", "0.28", &[]),
            ("AMD Zen 3. 100% vCPU", "core*hour", "0.99", &[]),
            ("GPU NVIDIA Tesla V100", "gpu*hour", "165.00", &[]),
            ("Network SSD storage", "gbyte*month", "11.91", &[]),
            ("Network HDD storage", "gbyte*month", "2.92", &[]),
            ("Non-replicated SSD storage", "gbyte*month", "8.80", &[]),
            ("Snapshot storage", "gbyte*month", "3.70", &[]),
        ],
    ),
    (
        "Object Storage",
        "S3-compatible object storage.",
        &[
            (
                "Standard storage",
                "gbyte*month",
                "2.01",
                &[(0, 0), (1, 100)],
            ),
            ("Cold storage", "gbyte*month", "1.07", &[]),
            ("Ice storage", "gbyte*month", "0.62", &[]),
            (
                "PUT, POST requests. Standard storage",
                "1000*request",
                "0.44",
                &[],
            ),
            (
                "GET, HEAD requests. Standard storage",
                "10000*request",
                "0.35",
                &[],
            ),
        ],
    ),
    (
        "Virtual Private Cloud",
        "Networks, addresses and traffic.",
        &[
            ("Public IP address", "hour", "0.2592", &[]),
            ("Inactive public IP address", "hour", "0.3240", &[]),
            (
                "Outgoing traffic",
                "gbyte",
                "1.53",
                &[(0, 0), (100, 100), (51_200, 75)],
            ),
            ("NAT gateway", "hour", "1.20", &[]),
        ],
    ),
    (
        "Managed Service for PostgreSQL",
        "Managed PostgreSQL clusters.",
        &[
            ("Intel Ice Lake. 100% vCPU", "core*hour", "1.68", &[]),
            ("Intel Ice Lake. RAM", "gbyte*hour", "0.45", &[]),
            ("Network SSD storage", "gbyte*month", "13.01", &[]),
            ("Backup storage", "gbyte*month", "3.30", &[]),
        ],
    ),
    (
        "Managed Service for ClickHouse",
        "Managed ClickHouse clusters.",
        &[
            ("Intel Ice Lake. 100% vCPU", "core*hour", "1.80", &[]),
            ("Intel Ice Lake. RAM", "gbyte*hour", "0.50", &[]),
            ("Network SSD storage", "gbyte*month", "13.01", &[]),
        ],
    ),
    (
        "Managed Service for MySQL",
        "Managed MySQL clusters.",
        &[
            ("Intel Ice Lake. 100% vCPU", "core*hour", "1.68", &[]),
            ("Intel Ice Lake. RAM", "gbyte*hour", "0.45", &[]),
        ],
    ),
    (
        "Managed Service for Valkey",
        "Managed Valkey (Redis-compatible) clusters.",
        &[
            ("Intel Ice Lake. 100% vCPU", "core*hour", "1.60", &[]),
            ("Intel Ice Lake. RAM", "gbyte*hour", "0.48", &[]),
        ],
    ),
    (
        "Managed Service for YDB",
        "Serverless and dedicated YDB databases.",
        &[
            (
                "Request units",
                "1000000*request_unit",
                "14.03",
                &[(0, 0), (1, 100)],
            ),
            ("Data storage", "gbyte*month", "17.34", &[]),
        ],
    ),
    (
        "Managed Service for Kubernetes",
        "Managed Kubernetes masters.",
        &[
            ("Master. Zonal", "hour", "8.20", &[]),
            ("Master. Regional", "hour", "22.84", &[]),
        ],
    ),
    (
        "Cloud Functions",
        "Serverless functions.",
        &[
            (
                "Function invocations",
                "1000000*call",
                "16.00",
                &[(0, 0), (1, 100)],
            ),
            (
                "Function execution time",
                "gbyte*hour",
                "5.40",
                &[(0, 0), (10, 100)],
            ),
        ],
    ),
    (
        "Cloud DNS",
        "DNS zones and queries.",
        &[
            ("Public DNS zone", "zone*month", "47.00", &[]),
            ("Public DNS queries", "1000000*request", "31.50", &[]),
        ],
    ),
    (
        "Cloud Logging",
        "Log ingestion and storage.",
        &[
            ("Log ingestion", "gbyte", "40.96", &[(0, 0), (2, 100)]),
            ("Log storage", "gbyte*hour", "0.0027", &[]),
        ],
    ),
    (
        "Container Registry",
        "Docker image registry.",
        &[("Storage", "gbyte*month", "3.30", &[])],
    ),
    (
        "Network Load Balancer",
        "Network load balancers.",
        &[
            ("Network load balancer", "hour", "2.16", &[]),
            ("Processed traffic", "gbyte", "0.33", &[]),
        ],
    ),
];

fn seeded_services_and_skus() -> (Vec<CatalogueService>, Vec<CatalogueSku>) {
    let mut services = Vec::new();
    let mut skus = Vec::new();
    for (name, description, list) in SEEDED {
        let service_id = cloud_id(name);
        services.push(CatalogueService {
            id: service_id.clone(),
            name: (*name).into(),
            description: (*description).into(),
        });
        for (sku_name, unit, rub, tiers) in *list {
            let rub: Decimal = rub.parse().expect("seeded prices are decimals");
            let tiers_at = |base: Decimal| -> Vec<Tier> {
                if tiers.is_empty() {
                    vec![tier(0, base)]
                } else {
                    tiers
                        .iter()
                        .map(|(start, percent)| tier(*start, base * Decimal::new(*percent, 2)))
                        .collect()
                }
            };
            let previous = (rub * Decimal::new(90, 2)).round_dp(4);
            skus.push(CatalogueSku {
                id: cloud_id(&format!("{name}/{sku_name}")),
                name: (*sku_name).into(),
                description: format!("{name}: {sku_name}, per {unit}."),
                service_id: service_id.clone(),
                pricing_unit: (*unit).into(),
                versions: vec![
                    PriceVersion {
                        effective_time: PREVIOUS_PRICES_FROM,
                        tiers: tiers_at(previous),
                    },
                    PriceVersion {
                        effective_time: CURRENT_PRICES_FROM,
                        tiers: tiers_at(rub),
                    },
                ],
            });
        }
    }
    (services, skus)
}

/// Unix seconds as an RFC 3339 string in JSON (through
/// `prost_types::Timestamp`'s parser and printer).
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&prost_types::Timestamp {
            seconds: *secs,
            nanos: 0,
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        let ts: prost_types::Timestamp = text.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "effective_time: {text:?} is not an RFC 3339 timestamp"
            ))
        })?;
        Ok(ts.seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn the_seeded_catalogue_is_deterministic_and_large_enough() {
        let a = Catalogue::default_seeded();
        let b = Catalogue::default_seeded();
        assert_eq!(a.skus(), b.skus());
        assert_eq!(a.services(), b.services());
        assert!(a.services().len() >= 12, "{}", a.services().len());
        assert!(a.skus().len() >= 40, "{}", a.skus().len());
        for s in a.skus() {
            assert_eq!(s.id.len(), 20, "{}", s.id);
            assert!(s.id.starts_with("dn2"));
            assert_eq!(a.sku(&s.id), Some(s));
        }
        for s in a.services() {
            assert_eq!(s.id.len(), 20, "{}", s.id);
            assert_eq!(a.service(&s.id), Some(s));
        }
        assert_eq!(a.services()[0].name, "Compute Cloud");
    }

    #[test]
    fn prices_follow_versions_tiers_currencies_and_contracts() {
        let c = Catalogue::default_seeded();
        let vcpu = &c.skus()[0];
        assert_eq!(vcpu.name, "Intel Ice Lake. 100% vCPU");
        let now = CURRENT_PRICES_FROM;
        assert_eq!(c.price(&vcpu.id, Currency::Rub, now, None), Some(d("1.12")));
        assert_eq!(
            c.price(&vcpu.id, Currency::Usd, now, None),
            Some(d("0.014"))
        );
        assert_eq!(
            c.price(&vcpu.id, Currency::Kzt, now, None),
            Some(d("6.496"))
        );
        assert_eq!(
            c.price(&vcpu.id, Currency::Rub, now - 1, None),
            Some(d("1.008"))
        );
        assert_eq!(
            c.price(&vcpu.id, Currency::Rub, PREVIOUS_PRICES_FROM - 1, None),
            None
        );
        let account = Some(CONTRACT_BILLING_ACCOUNT_ID);
        // 80 % of the 2024 price, from 2025-01-01.
        assert_eq!(
            c.price(&vcpu.id, Currency::Rub, now, account),
            Some(d("0.8064"))
        );
        assert_eq!(
            c.price(&vcpu.id, Currency::Rub, CONTRACT_PRICES_FROM - 1, account),
            Some(d("1.008"))
        );
        // Another account pays street prices.
        assert_eq!(
            c.price(&vcpu.id, Currency::Rub, now, Some("dn2emu0customer00002")),
            Some(d("1.12"))
        );
        // A network SKU has no contract price.
        let traffic = c
            .skus()
            .iter()
            .find(|s| s.name == "Outgoing traffic")
            .unwrap();
        assert_eq!(
            c.price(&traffic.id, Currency::Rub, now, account),
            Some(d("0"))
        );
        // 100 GB free, then 1.53, then 75 % past 50 TB.
        assert_eq!(
            c.cost(&traffic.id, Currency::Rub, now, None, d("150")),
            Some(d("76.5"))
        );
        assert_eq!(
            c.cost(&traffic.id, Currency::Rub, now, None, d("51300")),
            Some(d("1.53") * d("51100") + d("1.1475") * d("100"))
        );
        assert_eq!(
            c.cost(&traffic.id, Currency::Rub, now, None, d("0")),
            Some(d("0"))
        );
    }

    #[test]
    fn the_proto_sku_carries_street_and_contract_versions() {
        let c = Catalogue::default_seeded();
        let vcpu = &c.skus()[0];
        let public = c.sku_proto(vcpu, Currency::Usd, None);
        assert_eq!(public.pricing_versions.len(), 2);
        assert!(public.pricing_versions.iter().all(|v| v.r#type == 1));
        let rate = &public.pricing_versions[1].pricing_expressions[0].rates[0];
        assert_eq!(
            (
                rate.start_pricing_quantity.as_str(),
                rate.unit_price.as_str(),
                rate.currency.as_str()
            ),
            ("0", "0.014", "USD")
        );
        let contract = c.sku_proto(vcpu, Currency::Rub, Some(CONTRACT_BILLING_ACCOUNT_ID));
        assert_eq!(contract.pricing_versions.len(), 3);
        assert_eq!(contract.pricing_versions[2].r#type, 2);
    }

    #[test]
    fn overrides_add_replace_and_are_checked() {
        let base = Catalogue::default_seeded();
        let vcpu = base.skus()[0].clone();
        let mut cheaper = vcpu.clone();
        cheaper.versions.truncate(1);
        let overrides: CatalogueOverrides = serde_json::from_value(serde_json::json!({
            "services": [{"id": "dn2newservice0000001", "name": "New"}],
            "skus": [serde_json::to_value(&cheaper).unwrap(), {
                "id": "dn2newsku00000000001", "name": "Thing", "service_id": "dn2newservice0000001",
                "pricing_unit": "unit", "versions": [{"effective_time": "2025-01-01T00:00:00Z",
                "tiers": [{"start_quantity": "0", "prices": {"RUB": "1", "USD": "0.01", "KZT": "5"}}]}]
            }],
            "contract_prices": [{"billing_account_id": "dn2other000000000001", "skus": {
                "dn2newsku00000000001": [{"effective_time": "2025-06-01T00:00:00Z",
                "tiers": [{"start_quantity": "0", "prices": {"RUB": "0.5", "USD": "0.005", "KZT": "2.5"}}]}]}}]
        }))
        .unwrap();
        let c = base.clone().with_overrides(&overrides).unwrap();
        assert_eq!(c.skus().len(), base.skus().len() + 1);
        assert_eq!(c.sku(&vcpu.id).unwrap().versions.len(), 1);
        assert!(c.has_contract(CONTRACT_BILLING_ACCOUNT_ID));
        let at = CURRENT_PRICES_FROM + 365 * 86_400;
        assert_eq!(
            c.price(
                "dn2newsku00000000001",
                Currency::Kzt,
                at,
                Some("dn2other000000000001")
            ),
            Some(d("2.5"))
        );
        let mut bad = overrides.clone();
        bad.skus[1].service_id = "nope".into();
        let err = base.clone().with_overrides(&bad).unwrap_err().to_string();
        assert!(err.contains("unknown service"), "{err}");
        let mut bad = overrides.clone();
        bad.skus[1].versions[0].tiers[0]
            .prices
            .remove(&Currency::Usd);
        let err = base.clone().with_overrides(&bad).unwrap_err().to_string();
        assert!(err.contains("RUB, USD and KZT"), "{err}");
        let mut bad = overrides;
        bad.skus[1].versions[0].tiers[0].start_quantity = d("1");
        let err = base.with_overrides(&bad).unwrap_err().to_string();
        assert!(err.contains("start at 0"), "{err}");
    }

    #[test]
    fn a_synthetic_catalogue_has_the_asked_size() {
        let c = Catalogue::synthetic(1000);
        assert_eq!(c.skus().len(), 1000);
        assert!(c.sku("dn2synth000000000999").is_some());
    }
}
