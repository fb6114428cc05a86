//! `skus`, `services` and `budgets`: the price catalogue and budgets.

use clap::{Subcommand, ValueEnum};
use yc_billing::Client;
use yc_billing::money::{Currency, Decimal, parse_decimal};
use yc_billing::proto::yandex::cloud::billing::v1::{
    ListBudgetsResponse, ListServicesResponse, ListSkusResponse, ResetPeriodType,
    create_budget_request,
};
use yc_billing::services::filter::Filter;
use yc_billing::services::{BalanceBudget, CostBudget, ExpenseBudget};

use crate::commands::{PageArgs, fetch, run_operation};
use crate::connect::GlobalArgs;
use crate::output::{json, print};
use crate::wait::WaitArgs;

fn parse_currency(s: &str) -> Result<Currency, String> {
    Currency::parse("--currency", s).map_err(|e| e.to_string())
}

fn parse_amount(s: &str) -> Result<Decimal, String> {
    parse_decimal("amount", s).map_err(|e| e.to_string())
}

/// `skus …`
#[derive(Debug, Subcommand)]
pub enum SkusCmd {
    /// List SKUs with their prices (`{"skus": [...]}`).
    List {
        /// Currency of the prices: RUB, USD or KZT.
        #[arg(long, value_parser = parse_currency)]
        currency: Currency,
        /// Include the contract prices of this billing account.
        #[arg(long)]
        billing_account_id: Option<String>,
        /// Only the SKUs of this service (`serviceId="ID"`).
        #[arg(long, conflicts_with = "filter")]
        service_id: Option<String>,
        /// A filter expression as the API takes it, e.g. 'id="dn2..."'.
        #[arg(long)]
        filter: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one SKU with its prices.
    Get {
        /// The SKU's id.
        id: String,
        /// Currency of the prices: RUB, USD or KZT.
        #[arg(long, value_parser = parse_currency)]
        currency: Currency,
        /// Include the contract prices of this billing account.
        #[arg(long)]
        billing_account_id: Option<String>,
    },
}

/// `services …`
#[derive(Debug, Subcommand)]
pub enum ServicesCmd {
    /// List the billable services (`{"services": [...]}`).
    List {
        /// A filter expression as the API takes it, e.g. 'id="dn2..."'.
        #[arg(long)]
        filter: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one service.
    Get {
        /// The service's id.
        id: String,
    },
}

/// What a budget watches.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Cost of consumption.
    Cost,
    /// Cost minus credits.
    Expense,
    /// The account's balance.
    Balance,
}

/// How often a cost or expense budget starts over.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Reset {
    /// Every month.
    Monthly,
    /// Every quarter.
    Quarter,
    /// Every year.
    Annually,
}

/// `budgets …`
#[derive(Debug, Subcommand)]
pub enum BudgetsCmd {
    /// List the budgets of a billing account (`{"budgets": [...]}`).
    List {
        /// The billing account's id.
        billing_account_id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one budget.
    Get {
        /// The budget's id.
        id: String,
    },
    /// Create a budget; prints the budget.
    Create {
        /// The billing account's id.
        billing_account_id: String,
        /// The budget's name.
        #[arg(long)]
        name: String,
        /// cost, expense or balance.
        #[arg(long, value_enum)]
        kind: Kind,
        /// The budget's amount, in the account's currency.
        #[arg(long, value_parser = parse_amount)]
        amount: Decimal,
        /// Last day of the budget, YYYY-MM-DD (the last day of a month).
        #[arg(long)]
        end_date: String,
        /// Cost and expense budgets: start over every period (default monthly).
        #[arg(long, value_enum, conflicts_with = "start_date")]
        reset: Option<Reset>,
        /// First day of the budget, YYYY-MM-DD (the first day of a month).
        #[arg(long)]
        start_date: Option<String>,
        /// User account to notify (repeatable; at least one).
        #[arg(long = "notify", value_name = "USER_ACCOUNT_ID", required = true)]
        notify: Vec<String>,
        /// Intermediate threshold in percent (repeatable).
        #[arg(long, value_parser = parse_amount, value_name = "PERCENT")]
        threshold_percent: Vec<Decimal>,
        /// Intermediate threshold in the account's currency (repeatable).
        #[arg(long, value_parser = parse_amount, value_name = "AMOUNT")]
        threshold_amount: Vec<Decimal>,
        /// Cost and expense budgets: count only this service (repeatable).
        #[arg(long, value_name = "SERVICE_ID")]
        service_id: Vec<String>,
        /// Cost and expense budgets: count only this cloud (repeatable).
        #[arg(long, value_name = "CLOUD_ID")]
        cloud_id: Vec<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// Runs a `skus` subcommand.
pub async fn skus(client: &Client, global: &GlobalArgs, cmd: SkusCmd) -> anyhow::Result<()> {
    let api = client.skus();
    match cmd {
        SkusCmd::List {
            currency,
            billing_account_id,
            service_id,
            filter,
            page,
        } => {
            let mut call = api.list(currency);
            if let Some(id) = billing_account_id {
                call = call.billing_account_id(id);
            }
            if let Some(id) = service_id {
                call = call.filter(Filter::service_id(id));
            }
            if let Some(f) = filter {
                call = call.filter(Filter::raw(f));
            }
            let (skus, next_page_token) = fetch(call, page).await?;
            let response = ListSkusResponse {
                skus,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        SkusCmd::Get {
            id,
            currency,
            billing_account_id,
        } => {
            let mut call = api.get(id, currency);
            if let Some(a) = billing_account_id {
                call = call.billing_account_id(a);
            }
            print(global.format, &json(&call.await?)?)
        }
    }
}

/// Runs a `services` subcommand.
pub async fn services(
    client: &Client,
    global: &GlobalArgs,
    cmd: ServicesCmd,
) -> anyhow::Result<()> {
    let api = client.billing_services();
    match cmd {
        ServicesCmd::List { filter, page } => {
            let mut call = api.list();
            if let Some(f) = filter {
                call = call.filter(Filter::raw(f));
            }
            let (services, next_page_token) = fetch(call, page).await?;
            let response = ListServicesResponse {
                services,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        ServicesCmd::Get { id } => print(global.format, &json(&api.get(id).await?)?),
    }
}

/// The budget spec of `budgets create`'s options.
#[allow(clippy::too_many_arguments)]
fn spec(
    kind: Kind,
    amount: Decimal,
    end_date: String,
    reset: Option<Reset>,
    start_date: Option<String>,
    notify: Vec<String>,
    percents: Vec<Decimal>,
    amounts: Vec<Decimal>,
    service_ids: Vec<String>,
    cloud_ids: Vec<String>,
) -> anyhow::Result<create_budget_request::BudgetSpec> {
    let period = reset.map(|r| match r {
        Reset::Monthly => ResetPeriodType::Monthly,
        Reset::Quarter => ResetPeriodType::Quarter,
        Reset::Annually => ResetPeriodType::Annually,
    });
    macro_rules! common {
        ($b:expr) => {{
            let mut b = $b;
            for n in notify {
                b = b.notify(n);
            }
            for p in percents {
                b = b.threshold_percent(p);
            }
            for a in amounts {
                b = b.threshold_amount(a);
            }
            b
        }};
    }
    macro_rules! periodic {
        ($t:ident) => {{
            let mut b = common!($t::new(amount, end_date));
            if let Some(p) = period {
                b = b.reset(p);
            }
            if let Some(d) = start_date {
                b = b.starting(d);
            }
            for s in service_ids {
                b = b.service(s);
            }
            for c in cloud_ids {
                b = b.cloud(c, Vec::<String>::new());
            }
            b.into()
        }};
    }
    Ok(match kind {
        Kind::Cost => periodic!(CostBudget),
        Kind::Expense => periodic!(ExpenseBudget),
        Kind::Balance => {
            if period.is_some() || !service_ids.is_empty() || !cloud_ids.is_empty() {
                anyhow::bail!(
                    "--reset, --service-id and --cloud-id apply to cost and expense budgets only"
                );
            }
            let mut b = common!(BalanceBudget::new(amount, end_date));
            if let Some(d) = start_date {
                b = b.starting(d);
            }
            b.into()
        }
    })
}

/// Runs a `budgets` subcommand.
pub async fn budgets(client: &Client, global: &GlobalArgs, cmd: BudgetsCmd) -> anyhow::Result<()> {
    let api = client.budgets();
    match cmd {
        BudgetsCmd::List {
            billing_account_id,
            page,
        } => {
            let (budgets, next_page_token) = fetch(api.list(billing_account_id), page).await?;
            let response = ListBudgetsResponse {
                budgets,
                next_page_token,
            };
            print(global.format, &json(&response)?)
        }
        BudgetsCmd::Get { id } => print(global.format, &json(&api.get(id).await?)?),
        BudgetsCmd::Create {
            billing_account_id,
            name,
            kind,
            amount,
            end_date,
            reset,
            start_date,
            notify,
            threshold_percent,
            threshold_amount,
            service_id,
            cloud_id,
            wait,
        } => {
            let spec = spec(
                kind,
                amount,
                end_date,
                reset,
                start_date,
                notify,
                threshold_percent,
                threshold_amount,
                service_id,
                cloud_id,
            )?;
            let op = api.create(billing_account_id, name, spec).await?;
            run_operation(global, op, &wait, false).await
        }
    }
}
