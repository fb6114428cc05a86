//! Property tests of the usage reports over random generator seeds, ranges,
//! periods and filters (see RELIABILITY.md): totals add up at every level,
//! the period never changes a total, filters are OR within a kind and AND
//! between kinds.

use proptest::prelude::*;

use super::report::{Kind, Query, Totals, compute, sum_of_entities, sum_of_series};
use super::{AccountUsage, Pricing, SeedUsageGenerator, UsageSku, generate};
use crate::money::Decimal;
use crate::proto::yandex::cloud::billing::usage_records::v1::{LabelList, TimeGrouping};

/// Test prices with many decimals, so sums are exact or visibly not.
struct Fixed;

const PRICES: [(&str, &str, &str); 5] = [
    ("a", "s1", "0.7512"),
    ("b", "s1", "0.0000125"),
    ("c", "s2", "2.01"),
    ("d", "s3", "13.3333333"),
    ("e", "s3", "0.1"),
];

impl Pricing for Fixed {
    fn skus(&self) -> Vec<UsageSku> {
        PRICES
            .iter()
            .map(|(id, service, _)| sku(id, service))
            .collect()
    }

    fn cost(&self, sku: &str, _day: i32, quantity: Decimal) -> Option<Decimal> {
        let (_, _, price) = PRICES.iter().find(|p| p.0 == sku)?;
        Some(quantity * price.parse::<Decimal>().ok()?)
    }
}

fn sku(id: &str, service: &str) -> UsageSku {
    UsageSku {
        id: id.into(),
        name: id.into(),
        ru: id.into(),
        en: id.into(),
        unit: "unit".into(),
        service_id: service.into(),
        service_name: format!("Service {service}"),
        service_description: String::new(),
    }
}

fn usage(seed: u64, resources: u32) -> AccountUsage {
    let mut u = AccountUsage::default();
    let g = SeedUsageGenerator {
        billing_account_id: "ba".into(),
        seed,
        clouds: 2,
        folders_per_cloud: 2,
        resources,
        start_date: "2025-01-01".into(),
        days: 400,
    };
    generate(&g, &Fixed, &mut u).unwrap();
    u.finish();
    u
}

const GROUPINGS: [TimeGrouping; 6] = [
    TimeGrouping::Unspecified,
    TimeGrouping::Day,
    TimeGrouping::Week,
    TimeGrouping::Month,
    TimeGrouping::Quarter,
    TimeGrouping::Year,
];
const KINDS: [Kind; 7] = [
    Kind::Account,
    Kind::Cloud,
    Kind::Folder,
    Kind::Service,
    Kind::Sku,
    Kind::Resource,
    Kind::Instance,
];

fn query(u: &AccountUsage, from: i32, len: i32, grouping: TimeGrouping) -> Query {
    let start = u.rows[0].day + from;
    Query {
        start,
        end: start + len,
        grouping,
        ..Query::default()
    }
}

fn total(u: &AccountUsage, q: &Query) -> Totals {
    compute(u, q, Kind::Account).unwrap().totals
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn totals_add_up_at_every_level(
        seed in any::<u64>(),
        from in 0i32..300,
        len in 0i32..200,
        g in 0usize..6,
    ) {
        let u = usage(seed, 25);
        let q = query(&u, from, len, GROUPINGS[g]);
        let overall = total(&u, &q);
        for kind in KINDS {
            let r = compute(&u, &q, kind).unwrap();
            prop_assert_eq!(r.totals, overall);
            prop_assert_eq!(sum_of_entities(&r), overall, "{:?}", kind);
            for e in &r.entities {
                prop_assert_eq!(sum_of_series(e), e.totals);
                prop_assert_eq!(e.totals.expense(), e.totals.cost + e.totals.credit());
                prop_assert!(e.totals.credit() <= 0 && e.totals.expense() >= 0);
                prop_assert!(e.series.windows(2).all(|w| w[0].0 < w[1].0));
                prop_assert!(e.series.iter().all(|(d, _)| *d >= q.start && *d <= q.end));
            }
        }
        // Labels duplicate a resource's cost per label, never lose any.
        let labels = compute(&u, &q, Kind::Label).unwrap();
        prop_assert_eq!(labels.totals, overall);
        prop_assert!(sum_of_entities(&labels).cost >= 0);
        for e in &labels.entities {
            prop_assert_eq!(sum_of_series(e), e.totals);
        }
    }

    #[test]
    fn the_period_never_changes_a_total(seed in any::<u64>(), from in 0i32..300, len in 0i32..200) {
        let u = usage(seed, 15);
        let by_day = compute(&u, &query(&u, from, len, TimeGrouping::Day), Kind::Folder).unwrap();
        for g in GROUPINGS {
            let r = compute(&u, &query(&u, from, len, g), Kind::Folder).unwrap();
            prop_assert_eq!(r.totals, by_day.totals);
            let mut a: Vec<_> = r.entities.iter().map(|e| (e.index, e.totals)).collect();
            let mut b: Vec<_> = by_day.entities.iter().map(|e| (e.index, e.totals)).collect();
            a.sort_by_key(|x| x.0);
            b.sort_by_key(|x| x.0);
            prop_assert_eq!(a, b);
            // Never more points than days.
            for e in &r.entities {
                prop_assert!(e.series.len() <= (len + 1) as usize);
            }
        }
    }

    #[test]
    fn filters_are_or_within_and_between(seed in any::<u64>(), pick in any::<u64>()) {
        let u = usage(seed, 30);
        let base = query(&u, 0, 399, TimeGrouping::Month);
        let all = total(&u, &base);
        // OR within a kind: each cloud's filtered report sums to the whole
        // (the usage outside any cloud is the one empty-id entity).
        let clouds = compute(&u, &base, Kind::Cloud).unwrap();
        let mut sum = Totals::default().cost;
        for e in &clouds.entities {
            let id = u.clouds.get(e.index as usize).map_or(String::new(), |c| c.id.clone());
            if id.is_empty() { sum += e.totals.cost; continue; }
            let one = Query { cloud_ids: vec![id.clone()], ..base.clone() };
            prop_assert_eq!(total(&u, &one), e.totals);
            sum += total(&u, &one).cost;
        }
        prop_assert_eq!(sum, all.cost);
        let ids: Vec<String> = u.clouds.iter().map(|c| c.id.clone()).collect();
        let both = Query { cloud_ids: ids.clone(), ..base.clone() };
        let in_clouds: i128 = clouds.entities.iter()
            .filter(|e| u.clouds.get(e.index as usize).is_some())
            .map(|e| e.totals.cost).sum();
        prop_assert_eq!(total(&u, &both).cost, in_clouds);
        // AND between kinds: cloud and service filters give the service's
        // entity of the cloud-filtered service report.
        let cloud = ids[(pick % ids.len() as u64) as usize].clone();
        let in_cloud = Query { cloud_ids: vec![cloud.clone()], ..base.clone() };
        let services = compute(&u, &in_cloud, Kind::Service).unwrap();
        for e in &services.entities {
            let sid = u.services[e.index as usize].0.clone();
            let q = Query { service_ids: vec![sid], ..in_cloud.clone() };
            prop_assert_eq!(total(&u, &q), e.totals);
        }
        // Labels: OR + AND = env + team (inclusion–exclusion).
        let label = |k: &str, v: &str| (k.to_string(), LabelList { values: vec![v.to_string()] });
        let env = Query { labels: [label("env", "prod")].into(), ..base.clone() };
        let team = Query { labels: [label("team", "ml")].into(), ..base.clone() };
        let and = Query { labels: [label("env", "prod"), label("team", "ml")].into(), ..base.clone() };
        let or = Query { labels_or: true, ..and.clone() };
        prop_assert_eq!(
            total(&u, &and).cost + total(&u, &or).cost,
            total(&u, &env).cost + total(&u, &team).cost
        );
        // A label report filtered on a key has only that key's values.
        let r = compute(&u, &env, Kind::Label).unwrap();
        prop_assert!(r.entities.iter().all(|e| u.labels[e.index as usize] == ("env".into(), "prod".into())));
    }

    #[test]
    fn the_same_seed_gives_the_same_records(seed in any::<u64>()) {
        let a = usage(seed, 10);
        let b = usage(seed, 10);
        prop_assert_eq!(&a.rows, &b.rows);
        prop_assert!(!a.rows.is_empty());
        // Every credit kind occurs with enough resources and days. (With 40
        // resources one seed in a few hundred had no free-tier resource,
        // seed 16424606788526873950 among them; with 200 the chance of that
        // is below 10⁻¹⁰.)
        let big = usage(seed, 200);
        for k in 0..4u8 {
            prop_assert!(big.rows.iter().any(|r| r.credit_kind == k && r.credit < 0), "kind {}", k);
        }
    }
}

proptest! {
    /// The report's own decimal formatting prints what `Decimal::normalize`
    /// prints, for every amount a `Decimal` can hold at nine digits.
    #[test]
    fn nanos_string_is_the_normalized_decimal(v in -(1_i128 << 95)..(1_i128 << 95), small in -10_000_000_000_i64..10_000_000_000) {
        for v in [v, i128::from(small), i128::from(small) * 1_000_000] {
            let expected = Decimal::try_from_i128_with_scale(v, super::NANOS).unwrap().normalize().to_string();
            prop_assert_eq!(super::nanos_string(v), expected);
        }
    }
}

/// The seed that once made 40 resources show no free-tier credit.
#[test]
fn every_credit_kind_occurs_for_a_seed_that_once_lacked_one() {
    let big = usage(16_424_606_788_526_873_950, 200);
    for k in 0..4u8 {
        assert!(
            big.rows.iter().any(|r| r.credit_kind == k && r.credit < 0),
            "kind {k}"
        );
    }
}
