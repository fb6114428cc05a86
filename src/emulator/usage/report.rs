//! Usage reports: filter the rows of a date range, sum them per entity and
//! per aggregation period, in exact integers of [`NANOS`](super::NANOS).
//!
//! Filters are properties of a resource (its cloud, folder, service
//! instance, SKU, the SKU's service, its labels), so they become one
//! allowed-flag per resource; entity ids within one filter are ORed, the
//! kinds ANDed; label keys are ANDed unless `labels_or_filter_logic`, the
//! values of one key ORed. A time series holds the periods that had rows
//! (rows come sorted by day, so a series is appended to in order and the
//! memory is the size of the answer). The label report counts a row once
//! per matching label of its resource (the API duplicates, it does not
//! split); every other report counts it once, so there the overall totals
//! equal the sum of the entities' totals, which equal the sum of each series.

use std::collections::HashMap;

use super::{AccountUsage, DayRow, NONE, nanos_string, period};
use crate::proto::yandex::cloud::billing::usage_records::v1::{
    CreditDetails, LabelList, StringDecimal, TimeGrouping, UsageReportPeriodicData,
};

/// The most time-series points one report may hold: past it the report is
/// refused (INVALID_ARGUMENT), so the emulator's memory stays bounded and an
/// answer (about 85 bytes a point, some 21 MB at the bound) stays within the
/// client's default [`max_response_size`](crate::ClientBuilder::max_response_size)
/// of 64 MiB. A year by month for 10,000 resources is about 120,000 points.
pub const MAX_REPORT_POINTS: usize = 250_000;

/// What a report is grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Account,
    Cloud,
    Folder,
    Service,
    Sku,
    Resource,
    Label,
    Instance,
}

/// The filters and range of a report request, with days resolved.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pub start: i32,
    pub end: i32,
    pub grouping: TimeGrouping,
    pub cloud_ids: Vec<String>,
    pub folder_ids: Vec<String>,
    pub service_ids: Vec<String>,
    pub sku_ids: Vec<String>,
    pub resource_ids: Vec<String>,
    pub service_instance_ids: Vec<String>,
    pub labels: HashMap<String, LabelList>,
    pub labels_or: bool,
}

/// Sums of cost, credits by kind and quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub cost: i128,
    pub credits: [i128; 4],
    pub quantity: i128,
}

impl Totals {
    #[inline]
    fn add_row(&mut self, r: &DayRow) {
        self.cost += i128::from(r.cost);
        self.credits[usize::from(r.credit_kind & 3)] += i128::from(r.credit);
        self.quantity += i128::from(r.quantity);
    }

    /// The sum of every credit kind.
    pub fn credit(&self) -> i128 {
        self.credits.iter().sum()
    }

    /// `cost + credit` (credits are negative).
    pub fn expense(&self) -> i128 {
        self.cost + self.credit()
    }

    fn add(&mut self, o: &Totals) {
        self.cost += o.cost;
        self.quantity += o.quantity;
        for (a, b) in self.credits.iter_mut().zip(o.credits) {
            *a += b;
        }
    }

    pub(crate) fn cost_proto(&self) -> Option<StringDecimal> {
        Some(decimal(self.cost))
    }

    pub(crate) fn expense_proto(&self) -> Option<StringDecimal> {
        Some(decimal(self.expense()))
    }

    pub(crate) fn credit_proto(&self) -> Option<CreditDetails> {
        let [grant, volume, cud, free] = self.credits.map(|c| Some(decimal(c)));
        Some(CreditDetails {
            credit: Some(decimal(self.credit())),
            monetary_grant_credit: grant,
            volume_incentive_credit: volume,
            cud_credit: cud,
            free_credit: free,
        })
    }
}

fn decimal(v: i128) -> StringDecimal {
    StringDecimal {
        value: nanos_string(v),
    }
}

/// One entity of a report: its index (meaning per [`Kind`]; [`NONE`] for
/// "outside any cloud/folder"), totals and series of `(period start day, totals)`.
#[derive(Clone, Debug)]
pub(crate) struct Entity {
    pub index: u32,
    pub totals: Totals,
    pub series: Vec<(i32, Totals)>,
}

impl Entity {
    pub(crate) fn periodic(&self) -> Vec<UsageReportPeriodicData> {
        self.series
            .iter()
            .map(|(day, t)| UsageReportPeriodicData {
                cost: t.cost_proto(),
                credit_details: t.credit_proto(),
                expense: t.expense_proto(),
                timestamp: Some(prost_types::Timestamp {
                    seconds: i64::from(*day) * 86_400,
                    nanos: 0,
                }),
            })
            .collect()
    }
}

/// A computed report.
#[derive(Clone, Debug, Default)]
pub(crate) struct Report {
    pub totals: Totals,
    pub entities: Vec<Entity>,
}

/// Why a report cannot be computed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReportError {
    /// More than [`MAX_REPORT_POINTS`] points.
    TooLarge(usize),
}

fn any_of(ids: &[String], id: &str) -> bool {
    ids.is_empty() || ids.iter().any(|x| x == id)
}

/// Which resources pass the filters, and which label pairs match the label filter.
fn selection(u: &AccountUsage, q: &Query) -> (Vec<bool>, Vec<bool>) {
    let label_match: Vec<bool> = u
        .labels
        .iter()
        .map(|(k, v)| {
            q.labels
                .get(k)
                .is_some_and(|list| list.values.is_empty() || list.values.contains(v))
        })
        .collect();
    let allowed = u
        .resources
        .iter()
        .map(|r| {
            let folder = u
                .folders
                .get(r.folder as usize)
                .map_or("", |f| f.id.as_str());
            let sku = &u.skus[r.sku as usize];
            let instance = u
                .instances
                .get(r.instance as usize)
                .map_or("", |i| i.id.as_str());
            let labels_ok = q.labels.is_empty() || {
                let has = |key: &str| {
                    r.labels
                        .iter()
                        .any(|l| u.labels[*l as usize].0 == key && label_match[*l as usize])
                };
                if q.labels_or {
                    q.labels.keys().any(|k| has(k))
                } else {
                    q.labels.keys().all(|k| has(k))
                }
            };
            any_of(
                &q.cloud_ids,
                u.clouds.get(r.cloud as usize).map_or("", |c| c.id.as_str()),
            ) && any_of(&q.folder_ids, folder)
                && any_of(&q.service_ids, &sku.service_id)
                && any_of(&q.sku_ids, &sku.id)
                && any_of(&q.resource_ids, &r.id)
                && any_of(&q.service_instance_ids, instance)
                && labels_ok
        })
        .collect();
    (allowed, label_match)
}

/// Computes the report of `kind` over `u` for `q`, at most [`MAX_REPORT_POINTS`] points.
pub(crate) fn compute(u: &AccountUsage, q: &Query, kind: Kind) -> Result<Report, ReportError> {
    compute_bounded(u, q, kind, MAX_REPORT_POINTS)
}

/// [`compute`] with another bound on the points (the benchmark's).
pub(crate) fn compute_bounded(
    u: &AccountUsage,
    q: &Query,
    kind: Kind,
    max_points: usize,
) -> Result<Report, ReportError> {
    let rows = u.rows_between(q.start, q.end);
    let (allowed, label_match) = selection(u, q);
    let (bucket_of_day, bucket_start) = period::buckets(q.grouping, q.start, q.end.max(q.start));
    // The entity slot of each resource (labels: handled apart).
    let slots = |r: &super::ResourceRec, i: usize| -> u32 {
        match kind {
            Kind::Account => 0,
            Kind::Cloud => r.cloud,
            Kind::Folder => r.folder,
            Kind::Service => u.sku_service[r.sku as usize],
            Kind::Sku => r.sku,
            Kind::Resource => i as u32,
            Kind::Instance => r.instance,
            Kind::Label => NONE,
        }
    };
    let entity_of: Vec<u32> = u
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| slots(r, i))
        .collect();
    // Entity indexes are dense (the position in their dimension's list), so
    // the entity of an index is found in a vector; the last slot is NONE's.
    let slots_len = match kind {
        Kind::Label => u.labels.len(),
        _ => entity_of
            .iter()
            .filter(|e| **e != NONE)
            .max()
            .map_or(0, |m| *m as usize + 1),
    } + 1;
    let mut position: Vec<u32> = vec![u32::MAX; slots_len];
    // Each entity sums its current period in place and moves it to the
    // series when the period changes (rows come by day), so a row touches
    // one record.
    struct Acc {
        index: u32,
        start: i32,
        current: Totals,
        series: Vec<(i32, Totals)>,
    }
    let mut accs: Vec<Acc> = Vec::new();
    let mut points = 0usize;
    let mut totals = Totals::default();
    let mut add = |accs: &mut Vec<Acc>, index: u32, start: i32, row: &DayRow| {
        let slot = &mut position[if index == NONE {
            slots_len - 1
        } else {
            index as usize
        }];
        if *slot == u32::MAX {
            *slot = accs.len() as u32;
            points += 1;
            accs.push(Acc {
                index,
                start,
                current: Totals::default(),
                series: Vec::new(),
            });
        }
        let a = &mut accs[*slot as usize];
        if a.start != start {
            points += 1;
            a.series.push((a.start, a.current));
            a.start = start;
            a.current = Totals::default();
        }
        a.current.add_row(row);
        points
    };
    for row in rows {
        let r = row.resource as usize;
        if !allowed[r] {
            continue;
        }
        if kind == Kind::Label {
            totals.add_row(row);
        }
        let start = bucket_start[bucket_of_day[(row.day - q.start) as usize] as usize];
        let n = if kind == Kind::Label {
            let mut n = 0;
            for l in &u.resources[r].labels {
                if q.labels.is_empty() || label_match[*l as usize] {
                    n = add(&mut accs, *l, start, row);
                }
            }
            n
        } else {
            add(&mut accs, entity_of[r], start, row)
        };
        if n > max_points {
            return Err(ReportError::TooLarge(n));
        }
    }
    // An entity's totals are the sum of its series.
    let mut entities: Vec<Entity> = accs
        .into_iter()
        .map(|mut a| {
            a.series.push((a.start, a.current));
            let mut totals = Totals::default();
            for (_, t) in &a.series {
                totals.add(t);
            }
            Entity {
                index: a.index,
                totals,
                series: a.series,
            }
        })
        .collect();
    // Every other kind counts a row once: the totals are the entities' sum.
    if kind != Kind::Label {
        for e in &entities {
            totals.add(&e.totals);
        }
    }
    // Largest cost first; ties by index, so the order is stable.
    entities.sort_by(|a, b| {
        b.totals
            .cost
            .cmp(&a.totals.cost)
            .then(a.index.cmp(&b.index))
    });
    Ok(Report { totals, entities })
}

/// The sum of the entities' totals (for the invariants' tests).
#[cfg(test)]
pub(crate) fn sum_of_entities(r: &Report) -> Totals {
    let mut t = Totals::default();
    for e in &r.entities {
        t.add(&e.totals);
    }
    t
}

/// The sum of an entity's series (for the invariants' tests).
#[cfg(test)]
pub(crate) fn sum_of_series(e: &Entity) -> Totals {
    let mut t = Totals::default();
    for (_, s) in &e.series {
        t.add(s);
    }
    t
}
