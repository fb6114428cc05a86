//! `yandex.cloud.billing.v1.BudgetService`: budgets of a billing account.

use super::Call;
use crate::money::{Decimal, MoneyError, parse_decimal};
use crate::operation::Operation;
use crate::pagination::Page;
use crate::proto::yandex::cloud::billing::v1::{
    BalanceBudgetSpec, Budget, CloudFoldersConsumptionFilter, ConsumptionFilter, CostBudgetSpec,
    CreateBudgetMetadata, CreateBudgetRequest, ExpenseBudgetSpec, GetBudgetRequest,
    ListBudgetsRequest, ResetPeriodType, ThresholdRule, ThresholdType, budget, cost_budget_spec,
    create_budget_request, expense_budget_spec,
};

/// Budgets of billing accounts. Get it with [`Client::budgets`](crate::Client::budgets).
///
/// ```no_run
/// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
/// use yc_billing::money::Decimal;
/// use yc_billing::proto::yandex::cloud::billing::v1::ResetPeriodType;
/// use yc_billing::services::CostBudget;
///
/// let spec = CostBudget::new(Decimal::new(50_000, 0), "2026-12-31")
///     .reset(ResetPeriodType::Monthly)
///     .notify("ajeuser00000000000001")
///     .threshold_percent(Decimal::new(80, 0));
/// let budget = client
///     .budgets()
///     .create("dn2...", "Monthly cost", spec)
///     .await? // an Operation<CreateBudgetMetadata, Budget>
///     .wait()
///     .await?;
/// println!("budget {} of {}", budget.id, budget.amount()?);
/// # Ok(()) }
/// ```
pub type Budgets = super::BudgetService;

/// The call of `BudgetService.Create`.
pub type CreateBudgetCall = Call<CreateBudgetRequest, Operation<CreateBudgetMetadata, Budget>>;

impl Budgets {
    /// One budget.
    pub fn get(&self, id: impl Into<String>) -> Call<GetBudgetRequest, Budget> {
        self.get_request(GetBudgetRequest { id: id.into() })
    }

    /// One page of the budgets of a billing account.
    pub fn list(
        &self,
        billing_account_id: impl Into<String>,
    ) -> Call<ListBudgetsRequest, Page<Budget>> {
        self.list_request(ListBudgetsRequest {
            billing_account_id: billing_account_id.into(),
            ..Default::default()
        })
    }

    /// Creates a budget on a billing account: a [`CostBudget`],
    /// [`ExpenseBudget`] or [`BalanceBudget`].
    pub fn create(
        &self,
        billing_account_id: impl Into<String>,
        name: impl Into<String>,
        spec: impl Into<create_budget_request::BudgetSpec>,
    ) -> CreateBudgetCall {
        self.create_request(CreateBudgetRequest {
            billing_account_id: billing_account_id.into(),
            name: name.into(),
            budget_spec: Some(spec.into()),
        })
    }
}

fn threshold(ty: ThresholdType, amount: Decimal, recipients: Vec<String>) -> ThresholdRule {
    ThresholdRule {
        r#type: ty as i32,
        amount: amount.normalize().to_string(),
        notification_user_account_ids: recipients,
    }
}

/// The builder methods every budget kind has.
macro_rules! common_methods {
    () => {
        /// Notifies this user account when the budget is exceeded (the API
        /// requires at least one).
        pub fn notify(mut self, user_account_id: impl Into<String>) -> Self {
            self.0
                .notification_user_account_ids
                .push(user_account_id.into());
            self
        }

        /// An intermediate threshold in percent of the amount (below 100).
        pub fn threshold_percent(mut self, percent: Decimal) -> Self {
            self.0
                .threshold_rules
                .push(threshold(ThresholdType::Percent, percent, Vec::new()));
            self
        }

        /// An intermediate threshold in the account's currency (below the
        /// budget's amount).
        pub fn threshold_amount(mut self, amount: Decimal) -> Self {
            self.0
                .threshold_rules
                .push(threshold(ThresholdType::Amount, amount, Vec::new()));
            self
        }

        /// An intermediate threshold of any type with its own recipients.
        pub fn threshold(mut self, rule: ThresholdRule) -> Self {
            self.0.threshold_rules.push(rule);
            self
        }
    };
}

/// The filter methods of cost and expense budgets.
macro_rules! filter_methods {
    () => {
        /// Counts only the consumption of this service (repeat for more).
        pub fn service(mut self, service_id: impl Into<String>) -> Self {
            self.0
                .filter
                .get_or_insert_with(ConsumptionFilter::default)
                .service_ids
                .push(service_id.into());
            self
        }

        /// Counts only the consumption of this cloud, or of these folders
        /// of it when `folder_ids` is not empty (repeat for more clouds).
        pub fn cloud(
            mut self,
            cloud_id: impl Into<String>,
            folder_ids: impl IntoIterator<Item = impl Into<String>>,
        ) -> Self {
            self.0
                .filter
                .get_or_insert_with(ConsumptionFilter::default)
                .cloud_folders_filters
                .push(CloudFoldersConsumptionFilter {
                    cloud_id: cloud_id.into(),
                    folder_ids: folder_ids.into_iter().map(Into::into).collect(),
                });
            self
        }
    };
}

/// A budget on the cost of consumption (before credits); starts reset
/// monthly unless [`reset`](Self::reset) or [`starting`](Self::starting)
/// says otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct CostBudget(pub CostBudgetSpec);

impl CostBudget {
    /// `amount` in the account's currency, until `end_date` (`YYYY-MM-DD`,
    /// the last day of a month).
    pub fn new(amount: Decimal, end_date: impl Into<String>) -> Self {
        CostBudget(CostBudgetSpec {
            amount: amount.normalize().to_string(),
            end_date: end_date.into(),
            start_type: Some(cost_budget_spec::StartType::ResetPeriod(
                ResetPeriodType::Monthly as i32,
            )),
            ..Default::default()
        })
    }

    /// Resets every period (month, quarter, year).
    pub fn reset(mut self, period: ResetPeriodType) -> Self {
        self.0.start_type = Some(cost_budget_spec::StartType::ResetPeriod(period as i32));
        self
    }

    /// Starts on a date (`YYYY-MM-DD`, the first day of a month) instead of
    /// resetting.
    pub fn starting(mut self, start_date: impl Into<String>) -> Self {
        self.0.start_type = Some(cost_budget_spec::StartType::StartDate(start_date.into()));
        self
    }

    common_methods!();
    filter_methods!();
}

/// A budget on the expense (cost minus credits); starts reset monthly
/// unless [`reset`](Self::reset) or [`starting`](Self::starting) says
/// otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpenseBudget(pub ExpenseBudgetSpec);

impl ExpenseBudget {
    /// `amount` in the account's currency, until `end_date` (`YYYY-MM-DD`,
    /// the last day of a month).
    pub fn new(amount: Decimal, end_date: impl Into<String>) -> Self {
        ExpenseBudget(ExpenseBudgetSpec {
            amount: amount.normalize().to_string(),
            end_date: end_date.into(),
            start_type: Some(expense_budget_spec::StartType::ResetPeriod(
                ResetPeriodType::Monthly as i32,
            )),
            ..Default::default()
        })
    }

    /// Resets every period (month, quarter, year).
    pub fn reset(mut self, period: ResetPeriodType) -> Self {
        self.0.start_type = Some(expense_budget_spec::StartType::ResetPeriod(period as i32));
        self
    }

    /// Starts on a date (`YYYY-MM-DD`, the first day of a month) instead of
    /// resetting.
    pub fn starting(mut self, start_date: impl Into<String>) -> Self {
        self.0.start_type = Some(expense_budget_spec::StartType::StartDate(start_date.into()));
        self
    }

    common_methods!();
    filter_methods!();
}

/// A budget on the billing account's balance.
#[derive(Clone, Debug, PartialEq)]
pub struct BalanceBudget(pub BalanceBudgetSpec);

impl BalanceBudget {
    /// `amount` in the account's currency, until `end_date` (`YYYY-MM-DD`,
    /// the last day of a month).
    pub fn new(amount: Decimal, end_date: impl Into<String>) -> Self {
        BalanceBudget(BalanceBudgetSpec {
            amount: amount.normalize().to_string(),
            end_date: end_date.into(),
            ..Default::default()
        })
    }

    /// Starts on a date (`YYYY-MM-DD`, the first day of a month).
    pub fn starting(mut self, start_date: impl Into<String>) -> Self {
        self.0.start_date = start_date.into();
        self
    }

    common_methods!();
}

impl From<CostBudget> for create_budget_request::BudgetSpec {
    fn from(b: CostBudget) -> Self {
        create_budget_request::BudgetSpec::CostBudgetSpec(b.0)
    }
}

impl From<ExpenseBudget> for create_budget_request::BudgetSpec {
    fn from(b: ExpenseBudget) -> Self {
        create_budget_request::BudgetSpec::ExpenseBudgetSpec(b.0)
    }
}

impl From<BalanceBudget> for create_budget_request::BudgetSpec {
    fn from(b: BalanceBudget) -> Self {
        create_budget_request::BudgetSpec::BalanceBudgetSpec(b.0)
    }
}

/// What a budget watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetKind {
    /// Cost of consumption.
    Cost,
    /// Expense: cost minus credits.
    Expense,
    /// The account's balance.
    Balance,
}

impl Budget {
    /// The kind of its spec (`None` without one).
    pub fn kind(&self) -> Option<BudgetKind> {
        Some(match self.budget_spec.as_ref()? {
            budget::BudgetSpec::CostBudget(_) => BudgetKind::Cost,
            budget::BudgetSpec::ExpenseBudget(_) => BudgetKind::Expense,
            budget::BudgetSpec::BalanceBudget(_) => BudgetKind::Balance,
        })
    }

    /// The budget's amount, exact, in the billing account's currency (zero
    /// without a spec).
    pub fn amount(&self) -> Result<Decimal, MoneyError> {
        let text = match self.budget_spec.as_ref() {
            Some(budget::BudgetSpec::CostBudget(s)) => &s.amount,
            Some(budget::BudgetSpec::ExpenseBudget(s)) => &s.amount,
            Some(budget::BudgetSpec::BalanceBudget(s)) => &s.amount,
            None => return Ok(Decimal::ZERO),
        };
        parse_decimal("amount", text)
    }
}

impl ThresholdRule {
    /// The threshold's amount, exact (percent or currency, by its type).
    pub fn value(&self) -> Result<Decimal, MoneyError> {
        parse_decimal("threshold_rules.amount", &self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builders_write_the_three_kinds() {
        let cost = CostBudget::new(Decimal::new(1000, 1), "2026-12-31")
            .notify("u1")
            .threshold_percent(Decimal::new(50, 0))
            .service("s1")
            .cloud("c1", ["f1"]);
        let spec: create_budget_request::BudgetSpec = cost.clone().into();
        let create_budget_request::BudgetSpec::CostBudgetSpec(s) = spec else {
            panic!("not a cost spec")
        };
        assert_eq!(s.amount, "100");
        assert_eq!(
            s.start_type,
            Some(cost_budget_spec::StartType::ResetPeriod(
                ResetPeriodType::Monthly as i32
            ))
        );
        assert_eq!(s.threshold_rules[0].amount, "50");
        assert_eq!(
            s.filter.unwrap().cloud_folders_filters[0].folder_ids,
            ["f1"]
        );
        let e = ExpenseBudget::new(Decimal::ONE, "2026-12-31").starting("2026-01-01");
        assert_eq!(
            e.0.start_type,
            Some(expense_budget_spec::StartType::StartDate(
                "2026-01-01".into()
            ))
        );
        let b = BalanceBudget::new(Decimal::ONE, "2026-12-31").threshold_amount(Decimal::new(5, 1));
        assert_eq!(b.0.threshold_rules[0].r#type, ThresholdType::Amount as i32);
        let budget = Budget {
            budget_spec: Some(budget::BudgetSpec::BalanceBudget(b.0)),
            ..Default::default()
        };
        assert_eq!(budget.kind(), Some(BudgetKind::Balance));
        assert_eq!(budget.amount().unwrap(), Decimal::ONE);
    }
}
