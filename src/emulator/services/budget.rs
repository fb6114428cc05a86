//! BudgetService: budgets stored per billing account, created through
//! operations.
//!
//! The validator checks what the protos' options say (`exactly_one` budget
//! spec and start type, required amount, end date and threshold type, at
//! least one recipient); [`check_spec`] checks what the upstream comments
//! say in words, the same way for the three kinds: amounts are decimals
//! greater than 0, a `PERCENT` threshold is below 100 and an `AMOUNT` one
//! below the budget's amount, a start date is the first day of a month and
//! an end date the last day of one (`YYYY-MM-DD`) and after the start, a
//! reset period is one of the defined ones, services in the filter are in
//! the catalogue. A budget is `ACTIVE` until its end date has passed, then
//! `FINISHED`.

use std::collections::HashMap;

use prost::Message;
use tonic::{Request, Response, Status};

use super::{Mutation, Svc, subject};
use crate::emulator::catalogue::Catalogue;
use crate::emulator::operations::{Effect, new_id};
use crate::emulator::state::Level;
use crate::emulator::text::echo;
use crate::emulator::validation::{Violation, invalid_argument};
use crate::money::{Decimal, parse_decimal};
use crate::proto::paths::billing::v1::budget_service;
use crate::proto::yandex::cloud::billing::v1::budget_service_server::BudgetService;
use crate::proto::yandex::cloud::billing::v1::{
    BalanceBudgetSpec, Budget, BudgetStatus, ConsumptionFilter, CostBudgetSpec,
    CreateBudgetMetadata, CreateBudgetRequest, ExpenseBudgetSpec, GetBudgetRequest,
    ListBudgetsRequest, ListBudgetsResponse, ResetPeriodType, ThresholdRule, ThresholdType, budget,
    cost_budget_spec, create_budget_request, expense_budget_spec,
};
use crate::proto::yandex::cloud::operation::Operation;

/// Budgets in creation order, indexed by id and by billing account.
#[derive(Debug, Default)]
pub(crate) struct BudgetStore {
    budgets: Vec<Budget>,
    by_id: HashMap<String, usize>,
    by_account: HashMap<String, Vec<usize>>,
    /// Seeded budgets without a `created_at`, stamped when loaded: the
    /// state as a seed leaves the stamp out again, so a snapshot of the
    /// state after a reset equals the one before.
    stamped: std::collections::HashSet<String>,
}

impl BudgetStore {
    /// Adds a budget (a repeated id keeps the first).
    /// Adds a seeded budget, stamping a missing `created_at` with `now`.
    pub fn insert_seeded(&mut self, mut budget: Budget, now: prost_types::Timestamp) {
        if budget.created_at.is_none() {
            budget.created_at = Some(now);
            self.stamped.insert(budget.id.clone());
        }
        self.insert(budget);
    }

    /// The budgets as the seed holds them (see `stamped`), in creation order.
    pub fn to_seed(&self) -> Vec<Budget> {
        self.budgets
            .iter()
            .map(|b| {
                let mut b = b.clone();
                if self.stamped.contains(&b.id) {
                    b.created_at = None;
                }
                b
            })
            .collect()
    }

    pub fn insert(&mut self, budget: Budget) {
        if self.by_id.contains_key(&budget.id) {
            return;
        }
        let key = self.budgets.len();
        self.by_id.insert(budget.id.clone(), key);
        self.by_account
            .entry(budget.billing_account_id.clone())
            .or_default()
            .push(key);
        self.budgets.push(budget);
    }

    pub fn get(&self, id: &str) -> Option<&Budget> {
        self.by_id.get(id).map(|&k| &self.budgets[k])
    }

    /// Keys of the account's budgets, in creation order.
    pub fn of_account(&self, billing_account_id: &str) -> &[usize] {
        self.by_account
            .get(billing_account_id)
            .map_or(&[], Vec::as_slice)
    }

    pub fn by_key(&self, key: usize) -> &Budget {
        &self.budgets[key]
    }

    pub fn all(&self) -> &[Budget] {
        &self.budgets
    }
}

/// `YYYY-MM-DD` as (year, month, day), checked against the calendar.
fn parse_date(text: &str) -> Option<(i32, u32, u32)> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &text[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
    ((1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d)).then_some((y, m, d))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Today's date (UTC) at `now`.
fn today(now: std::time::SystemTime) -> (i32, u32, u32) {
    let days = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// The fields the three budget kinds share, for one set of rules.
struct SpecView<'a> {
    prefix: &'a str,
    amount: &'a str,
    recipients: &'a [String],
    thresholds: &'a [ThresholdRule],
    filter: Option<&'a ConsumptionFilter>,
    reset_period: Option<i32>,
    start_date: &'a str,
    end_date: &'a str,
}

/// The rules of the upstream comments (see the module documentation).
fn check_spec(spec: &SpecView<'_>, catalogue: &Catalogue, out: &mut Vec<Violation>) {
    let field = |name: &str| format!("{}.{name}", spec.prefix);
    let positive = |name: String, value: &str, out: &mut Vec<Violation>| -> Option<Decimal> {
        match parse_decimal(&name, value) {
            Ok(d) if d > Decimal::ZERO => Some(d),
            Ok(_) => {
                out.push((name, "value must be greater than 0".into()));
                None
            }
            Err(_) => {
                out.push((
                    name,
                    format!("value must be a decimal number, got {}", echo(value)),
                ));
                None
            }
        }
    };
    let amount = if spec.amount.is_empty() {
        None // "required", reported by the validator
    } else {
        positive(field("amount"), spec.amount, out)
    };
    for (i, id) in spec.recipients.iter().enumerate() {
        if id.is_empty() {
            out.push((
                field(&format!("notification_user_account_ids[{i}]")),
                "value must not be empty".into(),
            ));
        }
    }
    for (i, rule) in spec.thresholds.iter().enumerate() {
        let at = |name: &str| field(&format!("threshold_rules[{i}].{name}"));
        if rule.amount.is_empty() {
            continue;
        }
        let Some(value) = positive(at("amount"), &rule.amount, out) else {
            continue;
        };
        if rule.r#type == ThresholdType::Percent as i32 && value >= Decimal::ONE_HUNDRED {
            out.push((
                at("amount"),
                format!("a PERCENT threshold must be less than 100, got {value}"),
            ));
        }
        if rule.r#type == ThresholdType::Amount as i32
            && let Some(budget) = amount
            && value >= budget
        {
            out.push((
                at("amount"),
                format!("an AMOUNT threshold must be less than the budget's amount {budget}, got {value}"),
            ));
        }
        for (j, id) in rule.notification_user_account_ids.iter().enumerate() {
            if id.is_empty() {
                out.push((
                    at(&format!("notification_user_account_ids[{j}]")),
                    "value must not be empty".into(),
                ));
            }
        }
    }
    if let Some(filter) = spec.filter {
        for (i, id) in filter.service_ids.iter().enumerate() {
            if catalogue.service(id).is_none() {
                out.push((
                    field(&format!("filter.service_ids[{i}]")),
                    format!("service {} not found", echo(id)),
                ));
            }
        }
        for (i, f) in filter.cloud_folders_filters.iter().enumerate() {
            if f.cloud_id.is_empty() {
                out.push((
                    field(&format!("filter.cloud_folders_filters[{i}].cloud_id")),
                    "value is required".into(),
                ));
            }
        }
    }
    if let Some(period) = spec.reset_period
        && ResetPeriodType::try_from(period).map_or(true, |p| p == ResetPeriodType::Unspecified)
    {
        out.push((
            field("reset_period"),
            "value must be MONTHLY, QUARTER or ANNUALLY".into(),
        ));
    }
    let start = if spec.start_date.is_empty() {
        None
    } else {
        match parse_date(spec.start_date) {
            Some(d @ (_, _, 1)) => Some(d),
            _ => {
                out.push((
                    field("start_date"),
                    format!(
                        "must be the first day of a month, formatted YYYY-MM-DD, got {}",
                        echo(spec.start_date)
                    ),
                ));
                None
            }
        }
    };
    if !spec.end_date.is_empty() {
        match parse_date(spec.end_date) {
            Some((y, m, d)) if d == days_in_month(y, m) => {
                if let Some(s) = start
                    && (y, m, d) < s
                {
                    out.push((
                        field("end_date"),
                        format!("must be after the start date {}", echo(spec.start_date)),
                    ));
                }
            }
            _ => out.push((
                field("end_date"),
                format!(
                    "must be the last day of a month, formatted YYYY-MM-DD, got {}",
                    echo(spec.end_date)
                ),
            )),
        }
    }
}

fn cost_view(s: &CostBudgetSpec) -> SpecView<'_> {
    SpecView {
        prefix: "cost_budget_spec",
        amount: &s.amount,
        recipients: &s.notification_user_account_ids,
        thresholds: &s.threshold_rules,
        filter: s.filter.as_ref(),
        reset_period: match &s.start_type {
            Some(cost_budget_spec::StartType::ResetPeriod(p)) => Some(*p),
            _ => None,
        },
        start_date: match &s.start_type {
            Some(cost_budget_spec::StartType::StartDate(d)) => d,
            _ => "",
        },
        end_date: &s.end_date,
    }
}

fn expense_view(s: &ExpenseBudgetSpec) -> SpecView<'_> {
    SpecView {
        prefix: "expense_budget_spec",
        amount: &s.amount,
        recipients: &s.notification_user_account_ids,
        thresholds: &s.threshold_rules,
        filter: s.filter.as_ref(),
        reset_period: match &s.start_type {
            Some(expense_budget_spec::StartType::ResetPeriod(p)) => Some(*p),
            _ => None,
        },
        start_date: match &s.start_type {
            Some(expense_budget_spec::StartType::StartDate(d)) => d,
            _ => "",
        },
        end_date: &s.end_date,
    }
}

fn balance_view(s: &BalanceBudgetSpec) -> SpecView<'_> {
    SpecView {
        prefix: "balance_budget_spec",
        amount: &s.amount,
        recipients: &s.notification_user_account_ids,
        thresholds: &s.threshold_rules,
        filter: None,
        reset_period: None,
        start_date: &s.start_date,
        end_date: &s.end_date,
    }
}

/// The request's spec as the budget's.
fn budget_spec(spec: &create_budget_request::BudgetSpec) -> budget::BudgetSpec {
    use create_budget_request::BudgetSpec as R;
    match spec {
        R::CostBudgetSpec(s) => budget::BudgetSpec::CostBudget(s.clone()),
        R::ExpenseBudgetSpec(s) => budget::BudgetSpec::ExpenseBudget(s.clone()),
        R::BalanceBudgetSpec(s) => budget::BudgetSpec::BalanceBudget(s.clone()),
    }
}

/// The end date of a budget's spec.
fn end_date(budget: &Budget) -> &str {
    match &budget.budget_spec {
        Some(budget::BudgetSpec::CostBudget(s)) => &s.end_date,
        Some(budget::BudgetSpec::ExpenseBudget(s)) => &s.end_date,
        Some(budget::BudgetSpec::BalanceBudget(s)) => &s.end_date,
        None => "",
    }
}

/// The budget as a caller sees it at `now`: `FINISHED` once its end date
/// has passed.
pub(crate) fn view(budget: &Budget, now: std::time::SystemTime) -> Budget {
    let mut b = budget.clone();
    let finished = parse_date(end_date(budget)).is_some_and(|end| end < today(now));
    b.status = if finished {
        BudgetStatus::Finished
    } else {
        BudgetStatus::Active
    } as i32;
    b
}

/// Why a seeded budget cannot be served: its account is unknown, or its
/// spec breaks a rule of [`check_spec`] or of the protos' options.
pub(crate) fn seed_problem(
    budget: &Budget,
    st: &crate::emulator::state::State,
    catalogue: &Catalogue,
    validator: &crate::emulator::validation::Validator,
) -> Option<String> {
    if st.account(&budget.billing_account_id).is_none() {
        return Some(format!(
            "budget {}: unknown billing account {}",
            echo(&budget.id),
            echo(&budget.billing_account_id)
        ));
    }
    use create_budget_request::BudgetSpec as R;
    let spec = budget.budget_spec.as_ref().map(|s| match s {
        budget::BudgetSpec::CostBudget(s) => R::CostBudgetSpec(s.clone()),
        budget::BudgetSpec::ExpenseBudget(s) => R::ExpenseBudgetSpec(s.clone()),
        budget::BudgetSpec::BalanceBudget(s) => R::BalanceBudgetSpec(s.clone()),
    });
    let request = CreateBudgetRequest {
        billing_account_id: budget.billing_account_id.clone(),
        name: budget.name.clone(),
        budget_spec: spec,
    };
    let mut violations = validator.violations(&request);
    violations.extend(spec_violations(request.budget_spec.as_ref(), catalogue));
    violations
        .first()
        .map(|(field, rule)| format!("budget {}: {field}: {rule}", echo(&budget.id)))
}

/// Every violation of the budget request's spec (after the validator's).
pub(crate) fn spec_violations(
    spec: Option<&create_budget_request::BudgetSpec>,
    catalogue: &Catalogue,
) -> Vec<Violation> {
    use create_budget_request::BudgetSpec as R;
    let mut out = Vec::new();
    let view = match spec {
        Some(R::CostBudgetSpec(s)) => cost_view(s),
        Some(R::ExpenseBudgetSpec(s)) => expense_view(s),
        Some(R::BalanceBudgetSpec(s)) => balance_view(s),
        None => return out,
    };
    check_spec(&view, catalogue, &mut out);
    out
}

#[tonic::async_trait]
impl BudgetService for Svc {
    async fn get(&self, req: Request<GetBudgetRequest>) -> Result<Response<Budget>, Status> {
        let subject = subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let st = self.0.lock();
        let not_found = || Status::not_found(format!("budget {} not found", echo(&r.id)));
        let budget = st.budgets.get(&r.id).ok_or_else(not_found)?;
        // Another tenant's budget is answered like a missing one.
        if !st.allowed(&subject, &budget.billing_account_id, Level::View) {
            return Err(not_found());
        }
        Ok(Response::new(view(budget, st.now())))
    }

    async fn list(
        &self,
        req: Request<ListBudgetsRequest>,
    ) -> Result<Response<ListBudgetsResponse>, Status> {
        let subject = subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let st = self.0.lock();
        st.check_account(&subject, &r.billing_account_id, Level::View)?;
        let keys = st.budgets.of_account(&r.billing_account_id);
        let scope = format!("budgets/{}", r.billing_account_id);
        let (range, next_page_token) =
            self.0
                .pages
                .window(keys.len(), &scope, r.page_size, &r.page_token)?;
        let now = st.now();
        let budgets = keys[range]
            .iter()
            .map(|&k| view(st.budgets.by_key(k), now))
            .collect();
        Ok(Response::new(ListBudgetsResponse {
            budgets,
            next_page_token,
        }))
    }

    async fn create(
        &self,
        req: Request<CreateBudgetRequest>,
    ) -> Result<Response<Operation>, Status> {
        let r = req.get_ref().clone();
        self.0.validator.validate(&r)?;
        let violations = spec_violations(r.budget_spec.as_ref(), &self.0.catalogue);
        if !violations.is_empty() {
            return Err(invalid_argument(violations));
        }
        let Some(spec) = r.budget_spec.as_ref() else {
            return Err(invalid_argument(vec![(
                "budget_spec".into(),
                "exactly one of the budget specs must be set (exactly_one)".into(),
            )]));
        };
        self.mutate(&req, budget_service::CREATE, |st, subject| {
            st.check_account(subject, &r.billing_account_id, Level::Edit)?;
            let id = new_id("dn2bgt");
            let budget = Budget {
                id: id.clone(),
                name: r.name.clone(),
                created_at: Some(st.now().into()),
                billing_account_id: r.billing_account_id.clone(),
                status: BudgetStatus::Creating as i32,
                budget_spec: Some(budget_spec(spec)),
            };
            Ok(Mutation {
                description: format!(
                    "Create budget {} for billing account {}",
                    echo(&r.name),
                    echo(&r.billing_account_id)
                ),
                metadata: CreateBudgetMetadata { budget_id: id }.encode_to_vec(),
                effect: Effect::CreateBudget(Box::new(budget)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_calendar() {
        assert_eq!(parse_date("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(parse_date("2025-1-01"), None);
        assert_eq!(parse_date("+025-01-01"), None);
        let at = |secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        assert_eq!(today(at(0)), (1970, 1, 1));
        assert_eq!(today(at(1_740_787_200)), (2025, 3, 1));
        assert_eq!(today(at(1_709_164_800)), (2024, 2, 29));
    }
}
