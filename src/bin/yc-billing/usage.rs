//! `usage …`: usage reports (ConsumptionCoreService) and their metadata
//! (MetadataService); `report` prints JSON, a table with each entity's
//! share of the total, or CSV, and can draw the expense series as SVG.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;
use time::Date;
use yc_billing::Client;
use yc_billing::services::UsageReport;
use yc_billing::services::usage::{Period, ReportBuilder, ReportView};

use crate::connect::{Format, GlobalArgs};
use crate::output::{json, print};
use crate::sanitize::escape;

/// `usage …`
#[derive(Debug, Subcommand)]
pub enum UsageCmd {
    /// A usage report: totals, per-entity totals and a time series per entity.
    Report(Box<ReportArgs>),
    /// Clouds, label keys, services, SKUs and billing accounts with usage (GetUsage).
    Summary(RangeArgs),
    /// Service instances with usage (GetServiceInstance).
    Instances(RangeArgs),
    /// The values of a label key with usage (GetLabel).
    Labels {
        #[command(flatten)]
        range: RangeArgs,
        /// The label key.
        #[arg(long)]
        key: String,
    },
    /// Clouds and their folders with usage (GetCloud; every page).
    Clouds(RangeArgs),
    /// Service instances and their resources with usage (GetResources; every page).
    Resources(RangeArgs),
}

/// The account and the days of a usage call.
#[derive(Debug, Clone, Args)]
pub struct RangeArgs {
    /// The billing account.
    #[arg(long, env = "YC_BILLING_ACCOUNT_ID")]
    pub billing_account_id: String,
    /// First day, YYYY-MM-DD (UTC, inclusive).
    #[arg(long, value_parser = parse_date)]
    pub from: Date,
    /// Last day, YYYY-MM-DD (UTC, inclusive).
    #[arg(long, value_parser = parse_date)]
    pub to: Date,
}

/// What a report is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// The billing account.
    Account,
    /// Clouds.
    Cloud,
    /// Folders.
    Folder,
    /// Services.
    Service,
    /// SKUs.
    Sku,
    /// Resources.
    Resource,
    /// Label key and value.
    LabelKey,
    /// Service instances.
    ServiceInstance,
}

/// Length of a report's periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    /// Days.
    Day,
    /// Weeks (from Monday).
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

/// How `--plot` draws the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotStyle {
    /// Stacked areas: the top is the total.
    Stacked,
    /// One line per entity.
    Lines,
}

/// `usage report …`
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// What to group by.
    #[arg(long, value_enum)]
    pub by: By,
    /// Length of the time series' periods.
    #[arg(long, value_enum, default_value = "month")]
    pub period: PeriodArg,
    /// Only this cloud (repeat for any of several).
    #[arg(long = "cloud", value_name = "ID")]
    pub clouds: Vec<String>,
    /// Only this folder (repeatable).
    #[arg(long = "folder", value_name = "ID")]
    pub folders: Vec<String>,
    /// Only this service (repeatable).
    #[arg(long = "service", value_name = "ID")]
    pub services: Vec<String>,
    /// Only this SKU (repeatable).
    #[arg(long = "sku", value_name = "ID")]
    pub skus: Vec<String>,
    /// Only this resource (repeatable).
    #[arg(long = "resource", value_name = "ID")]
    pub resources: Vec<String>,
    /// Only this service instance (repeatable).
    #[arg(long = "service-instance", value_name = "ID")]
    pub service_instances: Vec<String>,
    /// Only resources with this label, KEY=VALUE or KEY for any value
    /// (repeatable; keys are ANDed unless --any-label).
    #[arg(long = "label", value_name = "KEY[=VALUE]")]
    pub labels: Vec<String>,
    /// OR between label keys instead of AND.
    #[arg(long)]
    pub any_label: bool,
    /// Also draw the expense series per entity into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// How --plot draws the series.
    #[arg(long, value_enum, default_value = "stacked")]
    pub plot_style: PlotStyle,
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|_| format!("{s:?} is not a date YYYY-MM-DD"))
}

fn period(p: PeriodArg) -> Period {
    match p {
        PeriodArg::Day => Period::Day,
        PeriodArg::Week => Period::Week,
        PeriodArg::Month => Period::Month,
        PeriodArg::Quarter => Period::Quarter,
        PeriodArg::Year => Period::Year,
    }
}

fn builder(client: &Client, a: &ReportArgs) -> anyhow::Result<ReportBuilder> {
    let r = &a.range;
    let mut b = client
        .usage()
        .report(&r.billing_account_id, r.from, r.to)?
        .period(period(a.period))
        .clouds(a.clouds.clone())
        .folders(a.folders.clone())
        .services(a.services.clone())
        .skus(a.skus.clone())
        .resources(a.resources.clone())
        .service_instances(a.service_instances.clone());
    for label in &a.labels {
        b = match label.split_once('=') {
            Some((k, v)) => b.label(k, [v]),
            None => b.label(label, Vec::<String>::new()),
        };
    }
    if a.any_label {
        b = b.any_label();
    }
    Ok(b)
}

/// Sends the report; answers its REST JSON and its exact view.
pub async fn fetch(
    client: &Client,
    global: &GlobalArgs,
    a: &ReportArgs,
) -> anyhow::Result<(Value, ReportView)> {
    let b = builder(client, a)?;
    let t = global.timeout;
    macro_rules! go {
        ($m:ident) => {{
            let r = b.$m().timeout(t).await?;
            (json(&r)?, r.view()?)
        }};
    }
    Ok(match a.by {
        By::Account => go!(by_account),
        By::Cloud => go!(by_cloud),
        By::Folder => go!(by_folder),
        By::Service => go!(by_service),
        By::Sku => go!(by_sku),
        By::Resource => go!(by_resource),
        By::LabelKey => go!(by_label),
        By::ServiceInstance => go!(by_service_instance),
    })
}

pub async fn run(client: &Client, global: &GlobalArgs, cmd: UsageCmd) -> anyhow::Result<()> {
    let u = client.usage();
    let t = global.timeout;
    let value = match cmd {
        UsageCmd::Report(a) => {
            let (value, view) = fetch(client, global, &a).await?;
            if let Some(path) = &a.plot {
                let title = format!(
                    "Expense by {} ({}..{}, {})",
                    by_name(a.by),
                    a.range.from,
                    a.range.to,
                    view.currency
                );
                plot(&view, path, &title, a.plot_style)?;
            }
            match global.format {
                Format::Table => {
                    println!("{}", report_table(&view));
                    return Ok(());
                }
                Format::Csv => {
                    print!("{}", report_csv(&view)?);
                    return Ok(());
                }
                _ => value,
            }
        }
        UsageCmd::Summary(r) => json(
            &u.metadata(r.billing_account_id, r.from, r.to)?
                .timeout(t)
                .await?,
        )?,
        UsageCmd::Instances(r) => json(
            &u.service_instances(r.billing_account_id, r.from, r.to)?
                .timeout(t)
                .await?,
        )?,
        UsageCmd::Labels { range: r, key } => json(
            &u.label_values(r.billing_account_id, r.from, r.to, key)?
                .timeout(t)
                .await?,
        )?,
        UsageCmd::Clouds(r) => {
            let items: Vec<_> = u
                .clouds(r.billing_account_id, r.from, r.to)?
                .timeout(t)
                .stream()
                .try_collect()
                .await?;
            let items: Vec<Value> = items.iter().map(json).collect::<anyhow::Result<_>>()?;
            serde_json::json!({ "items": items })
        }
        UsageCmd::Resources(r) => {
            let items: Vec<_> = u
                .resources(r.billing_account_id, r.from, r.to)?
                .timeout(t)
                .stream()
                .try_collect()
                .await?;
            let items: Vec<Value> = items.iter().map(json).collect::<anyhow::Result<_>>()?;
            serde_json::json!({ "items": items })
        }
    };
    print(global.format, &value)
}

fn by_name(by: By) -> &'static str {
    match by {
        By::Account => "billing account",
        By::Cloud => "cloud",
        By::Folder => "folder",
        By::Service => "service",
        By::Sku => "SKU",
        By::Resource => "resource",
        By::LabelKey => "label",
        By::ServiceInstance => "service instance",
    }
}

/// Width of the share bar, in characters.
const BAR: usize = 20;

/// A bar of `share` (0..=1) in [`BAR`] characters, eighths included.
fn bar(share: Decimal) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (share.clamp(Decimal::ZERO, Decimal::ONE) * Decimal::from(BAR * 8))
        .round()
        .to_usize()
        .unwrap_or(0);
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    format!("{s:<BAR$}")
}

fn money(d: Decimal) -> String {
    d.round_dp(2).to_string()
}

/// One row per entity (largest first) with its share of the total expense
/// as a bar, then the total.
pub fn report_table(v: &ReportView) -> String {
    let total = v.amounts.expense;
    let mut rows: Vec<[String; 6]> = vec![[
        "NAME".into(),
        "ID".into(),
        format!("COST {}", v.currency),
        "CREDIT".into(),
        "EXPENSE".into(),
        "SHARE OF EXPENSE".into(),
    ]];
    for e in &v.entities {
        let share = if total.is_zero() {
            Decimal::ZERO
        } else {
            e.amounts.expense / total
        };
        rows.push([
            escape(&e.name).into_owned(),
            escape(&e.id).into_owned(),
            money(e.amounts.cost),
            money(e.amounts.credits.total),
            money(e.amounts.expense),
            format!(
                "{} {:>5}%",
                bar(share),
                (share * Decimal::from(100)).round_dp(1)
            ),
        ]);
    }
    rows.push([
        "TOTAL".into(),
        String::new(),
        money(v.amounts.cost),
        money(v.amounts.credits.total),
        money(v.amounts.expense),
        String::new(),
    ]);
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if (2..5).contains(&i) {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str("  ");
            }
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One CSV row per entity and period: what people paste into a spreadsheet.
pub fn report_csv(v: &ReportView) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "entity_id",
        "entity_name",
        "period_start",
        "currency",
        "cost",
        "credit",
        "monetary_grant_credit",
        "volume_incentive_credit",
        "cud_credit",
        "free_credit",
        "expense",
    ])?;
    for e in &v.entities {
        for p in &e.series {
            let a = &p.amounts;
            w.write_record([
                e.id.clone(),
                e.name.clone(),
                p.date.to_string(),
                v.currency.clone(),
                a.cost.to_string(),
                a.credits.total.to_string(),
                a.credits.monetary_grant.to_string(),
                a.credits.volume_incentive.to_string(),
                a.credits.cud.to_string(),
                a.credits.free.to_string(),
                a.expense.to_string(),
            ])?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// Entities drawn separately; the rest are summed as "other".
const PLOTTED: usize = 8;

/// Draws the expense series per entity (largest first, the rest as
/// "other") into an SVG file, with axes, the currency and a legend.
/// Amounts stay exact decimals; they become pixel positions only here.
pub fn plot(
    v: &ReportView,
    path: &std::path::Path,
    title: &str,
    style: PlotStyle,
) -> anyhow::Result<()> {
    use plotters::prelude::*;
    use std::collections::BTreeMap;

    let day = |d: Date| d.to_julian_day();
    // Every period of the report, and each series on them.
    let mut periods: Vec<i32> = v
        .entities
        .iter()
        .flat_map(|e| e.series.iter().map(|p| day(p.date)))
        .collect();
    periods.sort_unstable();
    periods.dedup();
    let mut named: Vec<(String, BTreeMap<i32, Decimal>)> = Vec::new();
    let mut other: BTreeMap<i32, Decimal> = BTreeMap::new();
    for (i, e) in v.entities.iter().enumerate() {
        let series: BTreeMap<i32, Decimal> = e
            .series
            .iter()
            .map(|p| (day(p.date), p.amounts.expense))
            .collect();
        if i < PLOTTED {
            let name = if e.name.is_empty() {
                e.id.clone()
            } else {
                e.name.clone()
            };
            named.push((
                if name.is_empty() {
                    "(none)".into()
                } else {
                    name
                },
                series,
            ));
        } else {
            for (d, x) in series {
                *other.entry(d).or_default() += x;
            }
        }
    }
    if !other.is_empty() {
        named.push((format!("other ({})", v.entities.len() - PLOTTED), other));
    }
    let at = |s: &BTreeMap<i32, Decimal>, d: i32| s.get(&d).copied().unwrap_or_default();
    let stacked = style == PlotStyle::Stacked;
    let top = periods
        .iter()
        .map(|d| {
            if stacked {
                named.iter().map(|(_, s)| at(s, *d)).sum::<Decimal>()
            } else {
                named
                    .iter()
                    .map(|(_, s)| at(s, *d))
                    .max()
                    .unwrap_or_default()
            }
        })
        .max()
        .unwrap_or_default()
        .max(Decimal::ONE);
    let px = |d: Decimal| d.to_f64().unwrap_or(0.0);
    let (x0, x1) = match (periods.first(), periods.last()) {
        (Some(a), Some(b)) if a < b => (*a, *b),
        (Some(a), _) => (*a - 1, *a + 1),
        _ => (0, 1),
    };

    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, 0.0..px(top) * 1.05)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("period start")
        .y_desc(format!("expense, {}", v.currency))
        .x_labels(8)
        .x_label_formatter(&|d| {
            Date::from_julian_day(*d).map_or_else(|_| d.to_string(), |d| d.to_string())
        })
        .draw()
        .map_err(|e| err(&e))?;
    let mut base: BTreeMap<i32, Decimal> = BTreeMap::new();
    for (i, (name, s)) in named.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        if stacked {
            let lower: Vec<(i32, f64)> = periods.iter().map(|d| (*d, px(at(&base, *d)))).collect();
            for d in &periods {
                *base.entry(*d).or_default() += at(s, *d);
            }
            let upper: Vec<(i32, f64)> = periods.iter().map(|d| (*d, px(at(&base, *d)))).collect();
            let band: Vec<(i32, f64)> = upper
                .iter()
                .copied()
                .chain(lower.into_iter().rev())
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    colour.mix(0.6).filled(),
                )))
                .map_err(|e| err(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        } else {
            chart
                .draw_series(LineSeries::new(
                    periods.iter().map(|d| (*d, px(at(s, *d)))),
                    colour.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_show_the_share_in_eighths() {
        assert_eq!(bar(Decimal::ZERO).trim(), "");
        assert_eq!(bar(Decimal::ONE).trim_end(), "█".repeat(BAR));
        assert_eq!(bar("0.5".parse().unwrap()).trim_end(), "█".repeat(BAR / 2));
        assert!(bar("0.025".parse().unwrap()).starts_with('▌'));
        assert_eq!(bar(Decimal::from(3)).chars().count(), BAR);
    }
}
