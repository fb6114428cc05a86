//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Thin wrappers over crate-private parsers of the emulator; not a stable API.

use std::sync::OnceLock;

use crate::emulator::paging::PageTokens;
use crate::emulator::validation::{Range, Validator};
use crate::proto::yandex::cloud::billing::v1 as billing;

fn tokens() -> &'static PageTokens {
    static TOKENS: OnceLock<PageTokens> = OnceLock::new();
    TOKENS.get_or_init(PageTokens::new)
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(Validator::new)
}

/// A page token the emulator issues for `offset` of the list `scope`.
pub fn page_token_encode(scope: &str, offset: usize) -> String {
    tokens().encode(scope, offset)
}

/// Decodes a page token; `Err` carries the gRPC status message.
pub fn page_token_decode(scope: &str, token: &str) -> Result<usize, String> {
    tokens()
        .decode(scope, token)
        .map_err(|s| s.message().to_owned())
}

/// One page of `0..len` as the emulator slices it: the items and the next token.
pub fn page(
    len: usize,
    scope: &str,
    page_size: i64,
    token: &str,
) -> Result<(Vec<usize>, String), String> {
    let items: Vec<usize> = (0..len).collect();
    tokens()
        .page(&items, scope, page_size, token)
        .map_err(|s| s.message().to_owned())
}

/// Parses a numeric range rule (`1-1000`, `<=50`, ...); `Some(contains 0)` if it parses.
pub fn range_parse(rule: &str) -> Option<bool> {
    Range::parse(rule).map(|r| r.contains(0))
}

/// Decodes `bytes` as the request type number `kind` (modulo the number of
/// types) and validates it as the emulator does. `None` if it does not decode.
pub fn validate_request(kind: u8, bytes: &[u8]) -> Option<Result<(), String>> {
    fn run<T: prost::Message + prost::Name + Default>(bytes: &[u8]) -> Option<Result<(), String>> {
        let msg = T::decode(bytes).ok()?;
        Some(
            validator()
                .validate(&msg)
                .map_err(|s| s.message().to_owned()),
        )
    }
    match kind % 16 {
        0 => run::<billing::ActivateCustomerRequest>(bytes),
        1 => run::<billing::BindBillableObjectRequest>(bytes),
        2 => run::<billing::CreateBudgetRequest>(bytes),
        3 => run::<billing::CreateResellerServedCustomerRequest>(bytes),
        4 => run::<billing::GetBillingAccountRequest>(bytes),
        5 => run::<billing::GetBudgetRequest>(bytes),
        6 => run::<billing::GetServiceRequest>(bytes),
        7 => run::<billing::GetSkuRequest>(bytes),
        8 => run::<billing::InviteCustomerRequest>(bytes),
        9 => run::<billing::ListBillableObjectBindingsRequest>(bytes),
        10 => run::<billing::ListBillingAccountsRequest>(bytes),
        11 => run::<billing::ListBudgetsRequest>(bytes),
        12 => run::<billing::ListCustomersRequest>(bytes),
        13 => run::<billing::ListServicesRequest>(bytes),
        14 => run::<billing::ListSkusRequest>(bytes),
        _ => run::<billing::SuspendCustomerRequest>(bytes),
    }
}

/// A generated account's usage, for `benches/usage_reports.rs`.
pub struct UsageBench {
    usage: crate::emulator::usage::AccountUsage,
}

impl UsageBench {
    /// `resources` resources over `days` days from 2025-01-01, generator seed `seed`,
    /// priced from the emulator's default catalogue for a RUB account.
    pub fn generate(resources: u32, days: u32, seed: u64) -> Result<Self, String> {
        use crate::emulator::catalogue::Catalogue;
        use crate::emulator::usage::{
            AccountUsage, CataloguePricing, SeedUsageGenerator, generate,
        };
        let g = SeedUsageGenerator {
            billing_account_id: "bench".into(),
            seed,
            clouds: 10,
            folders_per_cloud: 10,
            resources,
            start_date: "2025-01-01".into(),
            days,
        };
        let mut usage = AccountUsage::default();
        let catalogue = Catalogue::default_seeded();
        let prices = CataloguePricing {
            catalogue: &catalogue,
            currency: crate::money::Currency::Rub,
            account: "bench",
        };
        generate(&g, &prices, &mut usage)?;
        usage.finish();
        Ok(UsageBench { usage })
    }

    /// Day rows held.
    pub fn rows(&self) -> usize {
        self.usage.rows.len()
    }

    /// `GetResourceUsageReport` as the emulator answers it over `days` days
    /// from the first, by `period` (`"day"`, `"week"`, `"month"`, …): the
    /// same aggregation, bound and answer messages as the service, then the
    /// answer encoded as tonic encodes it, timed step by step.
    ///
    /// # Errors
    ///
    /// An unknown period.
    pub fn resource_report(&self, period: &str, days: i32) -> Result<ReportRun, String> {
        use crate::emulator::usage::report::{Kind, Query, compute};
        use crate::proto::yandex::cloud::billing::usage_records::v1::{Currency, TimeGrouping};
        use std::time::Instant;
        let grouping = TimeGrouping::from_str_name(&period.to_uppercase())
            .ok_or_else(|| format!("unknown period {period}"))?;
        let start = self.usage.rows.first().map_or(0, |r| r.day);
        let q = Query {
            start,
            end: start + days - 1,
            grouping,
            ..Query::default()
        };
        let t = Instant::now();
        let report = match compute(&self.usage, &q, Kind::Resource) {
            Ok(report) => report,
            Err(e) => {
                return Ok(ReportRun {
                    refused: Some(format!("{e:?}")),
                    compute: t.elapsed(),
                    total: t.elapsed(),
                    ..ReportRun::default()
                });
            }
        };
        let compute = t.elapsed();
        let points = report.entities.iter().map(|e| e.series.len()).sum();
        let entities = report.entities.len();
        let answer =
            crate::emulator::services::usage::resource_answer(&self.usage, Currency::Rub, report);
        let build = t.elapsed() - compute;
        let bytes = prost::Message::encode_to_vec(&answer).len();
        drop(answer);
        let total = t.elapsed();
        Ok(ReportRun {
            refused: None,
            compute,
            build,
            encode: total - compute - build,
            total,
            bytes,
            entities,
            points,
        })
    }
}

/// One report of [`UsageBench::resource_report`].
#[derive(Clone, Debug, Default)]
pub struct ReportRun {
    /// Why the service would refuse it (too many points), if it would.
    pub refused: Option<String>,
    /// Filtering and summing the rows.
    pub compute: std::time::Duration,
    /// Building the answer's messages.
    pub build: std::time::Duration,
    /// Encoding the answer, and dropping it.
    pub encode: std::time::Duration,
    /// All of it.
    pub total: std::time::Duration,
    /// The encoded answer's size.
    pub bytes: usize,
    /// Entities of the answer.
    pub entities: usize,
    /// Time-series points of the answer.
    pub points: usize,
}
