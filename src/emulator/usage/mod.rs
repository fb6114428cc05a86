//! Consumption records behind `ConsumptionCoreService` and `MetadataService`.
//!
//! Records come from a deterministic generator ([`SeedUsageGenerator`]) and
//! from the seed file ([`SeedUsageRecord`]); they are kept pre-aggregated
//! per day and resource ([`DayRow`], sorted by day), with the dimensions
//! (clouds, folders, service instances, resources and their labels, SKUs
//! and services) interned per billing account. Amounts are exact integers
//! of [`NANOS`] (10⁻⁹ of a currency unit or of a pricing unit), so sums are
//! exact and fast; they become decimal strings only in answers.

mod generate;
pub(crate) mod period;
#[cfg(test)]
mod proptests;
pub(crate) mod report;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::catalogue::Catalogue;
use crate::money::{Currency, Decimal};

pub(crate) use generate::generate;
use std::sync::OnceLock;

/// Amounts are integers of 10⁻⁹.
pub(crate) const NANOS: u32 = 9;
/// Index of "none" (a resource outside any cloud or folder).
pub(crate) const NONE: u32 = u32::MAX;

/// Credit kinds, in the order of `CreditDetails`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// A one-time monetary grant.
    MonetaryGrant,
    /// A volume-based incentive.
    VolumeIncentive,
    /// A committed use discount.
    Cud,
    /// A free-tier credit.
    Free,
}

impl CreditKind {
    pub(crate) const ALL: [CreditKind; 4] = [
        CreditKind::MonetaryGrant,
        CreditKind::VolumeIncentive,
        CreditKind::Cud,
        CreditKind::Free,
    ];
}

/// Generator parameters of one billing account's usage in the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SeedUsageGenerator {
    /// The billing account the usage is billed to.
    pub billing_account_id: String,
    /// Seed of the generator: the same seed gives the same records.
    pub seed: u64,
    /// Clouds (each with `folders_per_cloud` folders).
    pub clouds: u32,
    /// Folders in each cloud.
    pub folders_per_cloud: u32,
    /// Resources (VMs, disks, buckets, clusters, ...), spread over the
    /// folders and two non-cloud service instances (DataLens, Tracker).
    pub resources: u32,
    /// First day of usage, `YYYY-MM-DD`.
    pub start_date: String,
    /// Days of usage from `start_date`.
    pub days: u32,
}

impl Default for SeedUsageGenerator {
    fn default() -> Self {
        SeedUsageGenerator {
            billing_account_id: String::new(),
            seed: 1,
            clouds: 3,
            folders_per_cloud: 3,
            resources: 60,
            start_date: "2025-01-01".into(),
            days: 425,
        }
    }
}

/// One explicit consumption record in the seed: a resource's use of a SKU
/// on one day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeedUsageRecord {
    /// The billing account the usage is billed to.
    pub billing_account_id: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Cloud id (empty: usage outside any cloud).
    #[serde(default)]
    pub cloud_id: String,
    /// Folder id (empty: none).
    #[serde(default)]
    pub folder_id: String,
    /// Resource id.
    pub resource_id: String,
    /// SKU id (from the price catalogue).
    pub sku_id: String,
    /// Quantity in the SKU's pricing unit, a decimal string.
    pub quantity: String,
    /// Cost, a decimal string; default: quantity times the SKU's price.
    #[serde(default)]
    pub cost: Option<String>,
    /// Credits by kind, decimal strings (negative, as the API reports them).
    #[serde(default)]
    pub credits: HashMap<CreditKind, String>,
    /// The resource's labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The `usage` section of the seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SeedUsage {
    /// Generated usage, per billing account.
    pub generate: Vec<SeedUsageGenerator>,
    /// Explicit records.
    pub records: Vec<SeedUsageRecord>,
}

/// A SKU as usage needs it: its identity and service.
#[derive(Clone, Debug)]
pub(crate) struct UsageSku {
    pub id: String,
    pub name: String,
    pub ru: String,
    pub en: String,
    pub unit: String,
    pub service_id: String,
    pub service_name: String,
    pub service_description: String,
}

/// How usage is priced.
pub(crate) trait Pricing {
    /// The SKUs usage may be of.
    fn skus(&self) -> Vec<UsageSku>;
    /// The cost of `quantity` units of `sku` used on `day`.
    fn cost(&self, sku: &str, day: i32, quantity: Decimal) -> Option<Decimal>;
}

/// The price catalogue's prices for one billing account: its contract
/// prices where it has them, else the street prices in effect that day,
/// tier by tier over the day's quantity, in the account's currency.
pub(crate) struct CataloguePricing<'a> {
    pub catalogue: &'a Catalogue,
    pub currency: Currency,
    pub account: &'a str,
}

impl Pricing for CataloguePricing<'_> {
    fn skus(&self) -> Vec<UsageSku> {
        self.catalogue
            .skus()
            .iter()
            .map(|s| {
                let service = self.catalogue.service(&s.service_id);
                UsageSku {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    ru: s.name.clone(),
                    en: s.name.clone(),
                    unit: s.pricing_unit.clone(),
                    service_id: s.service_id.clone(),
                    service_name: service.map(|x| x.name.clone()).unwrap_or_default(),
                    service_description: service.map(|x| x.description.clone()).unwrap_or_default(),
                }
            })
            .collect()
    }

    fn cost(&self, sku: &str, day: i32, quantity: Decimal) -> Option<Decimal> {
        self.catalogue.cost(
            sku,
            self.currency,
            i64::from(day) * 86_400,
            Some(self.account),
            quantity,
        )
    }
}

/// A named dimension record.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Named {
    pub id: String,
    pub name: String,
}

/// A folder and its cloud.
#[derive(Clone, Debug)]
pub(crate) struct FolderRec {
    pub id: String,
    pub name: String,
    pub cloud: u32,
}

/// A service instance (a cloud is one of type `cloud`).
#[derive(Clone, Debug)]
pub(crate) struct InstanceRec {
    pub id: String,
    pub kind: String,
    pub name: String,
}

/// A resource: where it lives, what it uses, its labels.
#[derive(Clone, Debug)]
pub(crate) struct ResourceRec {
    pub id: String,
    pub name: String,
    pub cloud: u32,
    pub folder: u32,
    pub instance: u32,
    pub sku: u32,
    /// Indexes into [`AccountUsage::labels`].
    pub labels: Vec<u32>,
}

/// One day of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DayRow {
    pub day: i32,
    pub resource: u32,
    /// Pricing quantity, in [`NANOS`].
    pub quantity: i64,
    /// Cost, in [`NANOS`].
    pub cost: i64,
    /// Credit (negative or 0), in [`NANOS`], of kind `credit_kind`.
    pub credit: i64,
    pub credit_kind: u8,
}

/// Everything billed to one account.
#[derive(Clone, Debug, Default)]
pub(crate) struct AccountUsage {
    pub clouds: Vec<Named>,
    pub folders: Vec<FolderRec>,
    pub instances: Vec<InstanceRec>,
    pub resources: Vec<ResourceRec>,
    pub skus: Vec<UsageSku>,
    /// Distinct services of `skus`: (id, name, description).
    pub services: Vec<(String, String, String)>,
    /// Service index of each SKU.
    pub sku_service: Vec<u32>,
    /// Distinct `(key, value)` label pairs.
    pub labels: Vec<(String, String)>,
    /// Sorted by `(day, resource)`.
    pub rows: Vec<DayRow>,
}

impl AccountUsage {
    /// The rows of the days `start..=end`.
    pub fn rows_between(&self, start: i32, end: i32) -> &[DayRow] {
        let from = self.rows.partition_point(|r| r.day < start);
        let to = self.rows.partition_point(|r| r.day <= end);
        &self.rows[from..to.max(from)]
    }

    fn intern<T: PartialEq>(list: &mut Vec<T>, item: T) -> u32 {
        match list.iter().position(|x| *x == item) {
            Some(i) => i as u32,
            None => {
                list.push(item);
                (list.len() - 1) as u32
            }
        }
    }

    pub(crate) fn sku_index(&mut self, sku: &UsageSku) -> u32 {
        if let Some(i) = self.skus.iter().position(|s| s.id == sku.id) {
            return i as u32;
        }
        let service = Self::intern(
            &mut self.services,
            (
                sku.service_id.clone(),
                sku.service_name.clone(),
                sku.service_description.clone(),
            ),
        );
        self.skus.push(sku.clone());
        self.sku_service.push(service);
        (self.skus.len() - 1) as u32
    }

    pub(crate) fn label_index(&mut self, key: &str, value: &str) -> u32 {
        Self::intern(&mut self.labels, (key.to_owned(), value.to_owned()))
    }

    /// Sorts the rows and merges those of the same day and resource.
    pub(crate) fn finish(&mut self) {
        self.rows
            .sort_by_key(|r| (r.day, r.resource, r.credit_kind));
    }
}

/// The usage of a seed, checked when the emulator starts and generated on
/// first use (so emulators that never serve a report never pay for it).
pub(crate) struct LazyUsage {
    seed: SeedUsage,
    catalogue: Catalogue,
    currencies: HashMap<String, Currency>,
    store: OnceLock<UsageStore>,
}

impl std::fmt::Debug for LazyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyUsage")
            .field("built", &self.store.get().is_some())
            .finish_non_exhaustive()
    }
}

impl LazyUsage {
    /// Checks every rule of `seed` that does not need the generator to run
    /// (generator parameters, every explicit record).
    pub(crate) fn new(
        seed: &SeedUsage,
        catalogue: Catalogue,
        currencies: HashMap<String, Currency>,
    ) -> Result<Self, UsageSeedError> {
        for (i, g) in seed.generate.iter().enumerate() {
            generate::check(g).map_err(|rule| seed_error(format!("generate[{i}]"), rule))?;
        }
        let records = SeedUsage {
            generate: Vec::new(),
            records: seed.records.clone(),
        };
        let currency_of = |a: &str| currencies.get(a).copied().unwrap_or(Currency::Rub);
        UsageStore::build(&records, &catalogue, &currency_of)?;
        Ok(LazyUsage {
            seed: seed.clone(),
            catalogue,
            currencies,
            store: OnceLock::new(),
        })
    }

    /// The records, generated on the first call.
    pub(crate) fn get(&self) -> &UsageStore {
        self.store.get_or_init(|| {
            let currency_of = |a: &str| self.currencies.get(a).copied().unwrap_or(Currency::Rub);
            UsageStore::build(&self.seed, &self.catalogue, &currency_of).unwrap_or_else(|e| {
                tracing::error!(error = %e, "usage seed");
                UsageStore::default()
            })
        })
    }
}

/// Usage of every account, from a seed and a catalogue.
#[derive(Debug, Default)]
pub(crate) struct UsageStore {
    pub accounts: HashMap<String, AccountUsage>,
}

/// A seed's usage that cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("usage.{field}: {rule}")]
pub(crate) struct UsageSeedError {
    pub field: String,
    pub rule: String,
}

fn seed_error(field: impl Into<String>, rule: impl Into<String>) -> UsageSeedError {
    UsageSeedError {
        field: field.into(),
        rule: rule.into(),
    }
}

/// A decimal string in [`NANOS`]: exact, or an error naming `field`.
pub(crate) fn parse_nanos(field: &str, text: &str) -> Result<i64, UsageSeedError> {
    let d: Decimal = text
        .parse()
        .map_err(|_| seed_error(field, format!("{text:?} is not a decimal number")))?;
    to_nanos(d).ok_or_else(|| seed_error(field, format!("{text:?} is out of range")))
}

/// A decimal in [`NANOS`], rounded half away from zero at the ninth digit.
pub(crate) fn to_nanos(d: Decimal) -> Option<i64> {
    let scaled = d.checked_mul(Decimal::from(1_000_000_000_i64))?;
    i64::try_from(scaled.round().mantissa() / 10_i128.pow(scaled.round().scale())).ok()
}

/// An amount of [`NANOS`] as the API's decimal string (no trailing zeros,
/// no exponent): what `Decimal::normalize` prints, written directly since a
/// large report formats hundreds of thousands of these.
pub(crate) fn nanos_string(v: i128) -> String {
    const UNIT: u128 = 1_000_000_000;
    let m = v.unsigned_abs();
    let (int, mut frac) = (m / UNIT, (m % UNIT) as u32);
    let mut ints = itoa::Buffer::new();
    let int = ints.format(int);
    // The fraction's digits without the trailing zeros.
    let mut digits = [b'0'; NANOS as usize];
    let mut len = 0;
    if frac != 0 {
        len = NANOS as usize;
        while frac % 10 == 0 {
            frac /= 10;
            len -= 1;
        }
        for d in digits[..len].iter_mut().rev() {
            *d = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
    }
    let mut s = String::with_capacity(usize::from(v < 0) + int.len() + 1 + len);
    if v < 0 {
        s.push('-');
    }
    s.push_str(int);
    if len > 0 {
        s.push('.');
        // ASCII digits only.
        s.extend(digits[..len].iter().map(|d| char::from(*d)));
    }
    s
}

impl UsageStore {
    /// Builds the usage of `seed` with the SKUs `skus(account)` prices for
    /// each billing account.
    pub(crate) fn build(
        seed: &SeedUsage,
        catalogue: &Catalogue,
        currency_of: &dyn Fn(&str) -> Currency,
    ) -> Result<Self, UsageSeedError> {
        let mut store = UsageStore::default();
        fn pricing<'a>(
            catalogue: &'a Catalogue,
            currency_of: &dyn Fn(&str) -> Currency,
            account: &'a str,
        ) -> CataloguePricing<'a> {
            CataloguePricing {
                catalogue,
                currency: currency_of(account),
                account,
            }
        }
        for (i, g) in seed.generate.iter().enumerate() {
            let prices = pricing(catalogue, currency_of, &g.billing_account_id);
            let usage = store
                .accounts
                .entry(g.billing_account_id.clone())
                .or_default();
            generate(g, &prices, usage)
                .map_err(|rule| seed_error(format!("generate[{i}]"), rule))?;
        }
        for (i, r) in seed.records.iter().enumerate() {
            let prices = pricing(catalogue, currency_of, &r.billing_account_id);
            let usage = store
                .accounts
                .entry(r.billing_account_id.clone())
                .or_default();
            add_record(usage, r, &prices, i)?;
        }
        for usage in store.accounts.values_mut() {
            usage.finish();
        }
        Ok(store)
    }

    pub(crate) fn account(&self, id: &str) -> Option<&AccountUsage> {
        self.accounts.get(id)
    }
}

fn add_record(
    usage: &mut AccountUsage,
    r: &SeedUsageRecord,
    prices: &dyn Pricing,
    i: usize,
) -> Result<(), UsageSeedError> {
    let at = |f: &str| format!("records[{i}].{f}");
    let date = time::Date::parse(
        &r.date,
        &time::format_description::well_known::Iso8601::DATE,
    )
    .map_err(|_| seed_error(at("date"), "must be a date YYYY-MM-DD"))?;
    if r.resource_id.is_empty() {
        return Err(seed_error(at("resource_id"), "value is required"));
    }
    let skus = prices.skus();
    let sku = skus
        .iter()
        .find(|s| s.id == r.sku_id)
        .ok_or_else(|| seed_error(at("sku_id"), "no SKU of the catalogue has this id"))?;
    let quantity = parse_nanos(&at("quantity"), &r.quantity)?;
    let cost = match &r.cost {
        Some(c) => parse_nanos(&at("cost"), c)?,
        None => {
            let q = Decimal::try_from_i128_with_scale(i128::from(quantity), NANOS)
                .map_err(|_| seed_error(at("quantity"), "out of range"))?;
            let cost = prices
                .cost(&sku.id, period::day(date), q)
                .ok_or_else(|| seed_error(at("date"), "the SKU has no price on this day"))?;
            to_nanos(cost).ok_or_else(|| seed_error(at("quantity"), "out of range"))?
        }
    };
    let sku = usage.sku_index(sku);
    let cloud = if r.cloud_id.is_empty() {
        NONE
    } else {
        AccountUsage::intern(
            &mut usage.clouds,
            Named {
                id: r.cloud_id.clone(),
                name: r.cloud_id.clone(),
            },
        )
    };
    let folder = if r.folder_id.is_empty() {
        NONE
    } else {
        match usage.folders.iter().position(|f| f.id == r.folder_id) {
            Some(f) => f as u32,
            None => {
                usage.folders.push(FolderRec {
                    id: r.folder_id.clone(),
                    name: r.folder_id.clone(),
                    cloud,
                });
                (usage.folders.len() - 1) as u32
            }
        }
    };
    let instance = if cloud == NONE {
        generate::instance(usage, "other", "other", "Other usage")
    } else {
        let name = r.cloud_id.clone();
        generate::instance(usage, &r.cloud_id, "cloud", &name)
    };
    let labels: Vec<u32> = r
        .labels
        .iter()
        .map(|(k, v)| usage.label_index(k, v))
        .collect();
    let resource = match usage.resources.iter().position(|x| x.id == r.resource_id) {
        Some(x) => {
            let rec = &usage.resources[x];
            if rec.sku != sku || rec.cloud != cloud || rec.folder != folder {
                return Err(seed_error(
                    at("resource_id"),
                    "a resource keeps one SKU, cloud and folder in every record",
                ));
            }
            x as u32
        }
        None => {
            usage.resources.push(ResourceRec {
                id: r.resource_id.clone(),
                name: r.resource_id.clone(),
                cloud,
                folder,
                instance,
                sku,
                labels,
            });
            (usage.resources.len() - 1) as u32
        }
    };
    let day = period::day(date);
    usage.rows.push(DayRow {
        day,
        resource,
        quantity,
        cost,
        credit: 0,
        credit_kind: 0,
    });
    for (kind, amount) in &r.credits {
        let credit = parse_nanos(&at("credits"), amount)?;
        if credit > 0 {
            return Err(seed_error(
                at("credits"),
                "credits are negative or zero (expense = cost + credit)",
            ));
        }
        let k = CreditKind::ALL.iter().position(|c| c == kind).unwrap_or(0) as u8;
        usage.rows.push(DayRow {
            day,
            resource,
            quantity: 0,
            cost: 0,
            credit,
            credit_kind: k,
        });
    }
    Ok(())
}
