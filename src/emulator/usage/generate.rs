//! The deterministic generator of consumption records.
//!
//! From a [`SeedUsageGenerator`] (a seed, sizes, a date span) and the SKUs
//! of the price catalogue it builds clouds with folders, two non-cloud
//! service instances (DataLens, Tracker), resources with labels and a
//! lifetime, and one row per resource and day it lived: a quantity with a
//! weekly rhythm, growth and noise, its cost at the SKU's price, and at
//! most one credit: a monetary grant until it is spent, then committed use
//! discounts, volume incentives and a free tier on some resources.

use crate::money::Decimal;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    AccountUsage, CreditKind, DayRow, FolderRec, InstanceRec, NANOS, NONE, Named, Pricing,
    ResourceRec, SeedUsageGenerator, period, to_nanos,
};

const FOLDER_NAMES: [&str; 5] = ["default", "production", "staging", "analytics", "ml"];
const ENVS: [&str; 3] = ["prod", "stage", "dev"];
const TEAMS: [&str; 5] = ["billing", "search", "ml", "web", "data"];
const PROJECTS: [&str; 3] = ["atlas", "borealis", "cosmos"];

/// The index of the service instance `id`, added if new.
pub(crate) fn instance(usage: &mut AccountUsage, id: &str, kind: &str, name: &str) -> u32 {
    if let Some(i) = usage.instances.iter().position(|x| x.id == id) {
        return i as u32;
    }
    usage.instances.push(InstanceRec {
        id: id.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
    });
    (usage.instances.len() - 1) as u32
}

fn kind_index(kind: CreditKind) -> u8 {
    CreditKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

/// The parameters' rules (cheap: checked when the emulator starts); the first day.
pub(crate) fn check(g: &SeedUsageGenerator) -> Result<time::Date, String> {
    if !(1..=1000).contains(&g.clouds) || !(1..=100).contains(&g.folders_per_cloud) {
        return Err("clouds must be 1-1000 and folders_per_cloud 1-100".into());
    }
    if g.days == 0 || g.days > 3660 {
        return Err("days must be 1-3660".into());
    }
    if g.resources > 1_000_000 {
        return Err("resources must be at most 1000000".into());
    }
    time::Date::parse(
        &g.start_date,
        &time::format_description::well_known::Iso8601::DATE,
    )
    .map_err(|_| "start_date must be a date YYYY-MM-DD".to_string())
}

/// Adds the generated usage of `g` to `usage`; the error is the rule broken.
pub(crate) fn generate(
    g: &SeedUsageGenerator,
    prices: &dyn Pricing,
    usage: &mut AccountUsage,
) -> Result<(), String> {
    let catalogue = prices.skus();
    if catalogue.is_empty() {
        return Err("the billing account's catalogue has no SKU".into());
    }
    let start = check(g)?;
    let first_day = period::day(start);
    let days = g.days as i32;
    let mut rng = StdRng::seed_from_u64(g.seed);
    let tag = format!("{:04}", g.seed % 10_000);

    let mut folders = Vec::new();
    for c in 0..g.clouds {
        let cloud_id = format!("b1gemu{tag}cloud{c:03}");
        let cloud_name = format!(
            "cloud-{}",
            ["acme", "globex", "initech", "umbrella"][c as usize % 4]
        );
        let cloud_name = if c >= 4 {
            format!("{cloud_name}-{c}")
        } else {
            cloud_name
        };
        usage.clouds.push(Named {
            id: cloud_id.clone(),
            name: cloud_name.clone(),
        });
        let cloud = (usage.clouds.len() - 1) as u32;
        let inst = instance(usage, &cloud_id, "cloud", &cloud_name);
        for f in 0..g.folders_per_cloud {
            usage.folders.push(FolderRec {
                id: format!("b1gemu{tag}fold{c:03}{f:02}"),
                name: FOLDER_NAMES[f as usize % FOLDER_NAMES.len()].to_owned(),
                cloud,
            });
            folders.push(((usage.folders.len() - 1) as u32, cloud, inst));
        }
    }
    let datalens = instance(usage, &format!("dlemu{tag}"), "datalens", "DataLens");
    let tracker = instance(usage, &format!("tremu{tag}"), "tracker", "Tracker");

    /// A resource's daily profile.
    struct Profile {
        resource: u32,
        from: i32,
        to: i32,
        base: f64,
        sku: String,
        cud: bool,
        volume: bool,
        free: bool,
    }
    let mut profiles = Vec::with_capacity(g.resources as usize);
    for r in 0..g.resources {
        let sku_pos = rng.random_range(0..catalogue.len());
        let sku = usage.sku_index(&catalogue[sku_pos]);
        let (folder, cloud, inst) = if rng.random_bool(0.1) {
            (
                NONE,
                NONE,
                if rng.random_bool(0.5) {
                    datalens
                } else {
                    tracker
                },
            )
        } else {
            folders[rng.random_range(0..folders.len())]
        };
        let mut labels = Vec::new();
        if rng.random_bool(0.8) {
            labels.push(usage.label_index("env", ENVS[rng.random_range(0..ENVS.len())]));
        }
        if rng.random_bool(0.6) {
            labels.push(usage.label_index("team", TEAMS[rng.random_range(0..TEAMS.len())]));
        }
        if rng.random_bool(0.3) {
            labels
                .push(usage.label_index("project", PROJECTS[rng.random_range(0..PROJECTS.len())]));
        }
        let word = catalogue[sku_pos]
            .service_name
            .split_whitespace()
            .next()
            .unwrap_or("res")
            .to_lowercase();
        usage.resources.push(ResourceRec {
            id: format!("emu{tag}res{r:07}"),
            name: format!("{word}-{r}"),
            cloud,
            folder,
            instance: inst,
            sku,
            labels,
        });
        let (from, to) = if rng.random_bool(0.3) {
            (0, days - 1)
        } else {
            let from = rng.random_range(0..(days + 1) / 2);
            let len = rng.random_range(days / 3..=days).max(1);
            (from, (from + len - 1).min(days - 1))
        };
        profiles.push(Profile {
            resource: (usage.resources.len() - 1) as u32,
            from,
            to,
            base: rng.random_range(1.0..100.0),
            sku: catalogue[sku_pos].id.clone(),
            cud: rng.random_bool(0.15),
            volume: sku_pos % 5 == 0,
            free: sku_pos % 7 == 1,
        });
    }

    // A grant worth about the first month's spend, used up in day order.
    let mut grant: i64 = 0;
    let mut grant_set = false;
    let mut first_month_cost: i64 = 0;
    for d in 0..days {
        let weekday = (first_day + d + 3).rem_euclid(7);
        let rhythm = if weekday >= 5 { 0.7 } else { 1.0 };
        let growth = 1.0 + 0.5 * f64::from(d) / f64::from(days);
        for p in profiles.iter().filter(|p| p.from <= d && d <= p.to) {
            let noise = rng.random_range(0.8..1.2);
            // Quantities to the thousandth of a unit.
            let milli = (p.base * rhythm * growth * noise * 1000.0).round().max(1.0) as i64;
            let quantity = Decimal::new(milli, 3);
            let day = first_day + d;
            // No price that day (before the SKU's first version): no usage.
            let Some(cost) = prices.cost(&p.sku, day, quantity).and_then(to_nanos) else {
                continue;
            };
            let quantity = milli * 10_i64.pow(NANOS - 3);
            if d < 30 {
                first_month_cost += cost;
            }
            if d == 30 && !grant_set {
                grant_set = true;
            }
            let (credit, kind) = if d < 60 && (!grant_set || grant > 0) {
                // The grant covers the first two months up to its amount.
                if !grant_set {
                    (-cost, CreditKind::MonetaryGrant)
                } else {
                    let c = cost.min(grant);
                    grant -= c;
                    (-c, CreditKind::MonetaryGrant)
                }
            } else if p.cud {
                (-(cost / 5), CreditKind::Cud)
            } else if p.volume && d >= days / 2 {
                (-(cost / 20), CreditKind::VolumeIncentive)
            } else if p.free {
                let one = prices.cost(&p.sku, day, Decimal::ONE).and_then(to_nanos);
                let free = one.unwrap_or(0).min(cost);
                (-free, CreditKind::Free)
            } else {
                (0, CreditKind::MonetaryGrant)
            };
            usage.rows.push(DayRow {
                day,
                resource: p.resource,
                quantity,
                cost,
                credit,
                credit_kind: kind_index(kind),
            });
        }
        if d == 29 {
            // The grant: what the first month used, as much again for the second.
            grant = first_month_cost;
        }
    }
    Ok(())
}
