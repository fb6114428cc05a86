//! `yandex.cloud.billing.usage_records.v1`: `ConsumptionCoreService` (usage
//! reports) and `MetadataService` (what the reports can be asked about).
//!
//! Every call here is sent with [`RetryPolicy::rate_limited`](crate::RetryPolicy::rate_limited) derived from
//! the client's policy: the API allows one request per minute per IP and
//! answers RESOURCE_EXHAUSTED past it; the shared retry engine then waits
//! the server's `google.rpc.RetryInfo` delay (or backs off from a minute)
//! and tries again, within the call's deadline. Give report calls a
//! deadline of a few minutes (`.timeout(…)`) to let a retry happen.

use ::time::Date;

use super::Call;
use super::rpc::billing::usage_records::v1::{
    consumption_core_service as core, metadata_service as meta,
};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::money::{Currency, Decimal, Money};
use crate::pagination::Page;
use crate::proto::yandex::cloud::billing::usage_records::v1 as pb;

pub use pb::TimeGrouping as Period;

/// Usage reports and their metadata. Get it with [`Client::usage`].
#[derive(Debug, Clone)]
pub struct Usage {
    client: Client,
}

/// Midnight UTC of a date.
fn timestamp(date: Date) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: date.midnight().assume_utc().unix_timestamp(),
        nanos: 0,
    }
}

/// The range `from..=to` as the requests' timestamps; an inverted range is
/// [`Error::Config`] naming `end_date`, and nothing is sent.
fn range(from: Date, to: Date) -> Result<(prost_types::Timestamp, prost_types::Timestamp)> {
    if to < from {
        return Err(Error::config(
            "end_date",
            format!(
                "the range {from}..={to} is empty: the end date must be on or after the start date"
            ),
        ));
    }
    Ok((timestamp(from), timestamp(to)))
}

impl Usage {
    pub(crate) fn new(client: Client) -> Self {
        Usage { client }
    }

    fn limited<Req, Out>(&self, call: Call<Req, Out>) -> Call<Req, Out> {
        call.retry_policy(self.client.retry_policy().clone().rate_limited())
    }

    /// A usage report of a billing account for the days `from..=to`
    /// (inclusive, UTC): set the period and filters on the builder, then
    /// pick the grouping (`by_service()`, …).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `end_date` when `to` is before `from`.
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// use time::macros::date;
    /// use yc_billing::services::UsageReport;
    /// use yc_billing::services::usage::Period;
    ///
    /// let report = client
    ///     .usage()
    ///     .report("dn2...", date!(2025 - 01 - 01), date!(2025 - 03 - 31))?
    ///     .period(Period::Month)
    ///     .label("env", ["prod"])
    ///     .by_service()
    ///     .await?;
    /// let view = report.view()?;
    /// println!("{} {}", view.expense, view.currency);
    /// # Ok(()) }
    /// ```
    pub fn report(
        &self,
        billing_account_id: impl Into<String>,
        from: Date,
        to: Date,
    ) -> Result<ReportBuilder> {
        let (start, end) = range(from, to)?;
        Ok(ReportBuilder {
            usage: self.clone(),
            request: pb::UsageReportRequest {
                billing_account_id: billing_account_id.into(),
                start_date: Some(start),
                end_date: Some(end),
                aggregation_period: Period::Day as i32,
                ..Default::default()
            },
        })
    }

    /// Any report with a request built by the caller (nothing is checked
    /// before sending).
    pub fn report_request(&self, request: pb::UsageReportRequest) -> ReportBuilder {
        ReportBuilder {
            usage: self.clone(),
            request,
        }
    }

    /// `MetadataService.GetUsage`: the clouds, label keys, services, SKUs and
    /// billing accounts with usage in `from..=to`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `end_date` for an inverted range.
    pub fn metadata(
        &self,
        billing_account_id: impl Into<String>,
        from: Date,
        to: Date,
    ) -> Result<Call<pb::GetUsageRequest, pb::GetUsageResponse>> {
        let (start, end) = range(from, to)?;
        Ok(
            self.limited(self.client.call::<meta::GetUsage>(pb::GetUsageRequest {
                billing_account_id: billing_account_id.into(),
                start_date: Some(start),
                end_date: Some(end),
                ..Default::default()
            })),
        )
    }

    /// `MetadataService.GetServiceInstance`: the service instances with usage.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `end_date` for an inverted range.
    pub fn service_instances(
        &self,
        billing_account_id: impl Into<String>,
        from: Date,
        to: Date,
    ) -> Result<Call<pb::GetServiceInstanceRequest, pb::GetServiceInstanceResponse>> {
        let (start, end) = range(from, to)?;
        Ok(self.limited(self.client.call::<meta::GetServiceInstance>(
            pb::GetServiceInstanceRequest {
                billing_account_id: billing_account_id.into(),
                start_date: Some(start),
                end_date: Some(end),
                ..Default::default()
            },
        )))
    }

    /// `MetadataService.GetLabel`: the values of label `key` with usage
    /// (sorted; paged by `page_size`/`page_token` on the request).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `end_date` for an inverted range.
    pub fn label_values(
        &self,
        billing_account_id: impl Into<String>,
        from: Date,
        to: Date,
        key: impl Into<String>,
    ) -> Result<Call<pb::GetLabelRequest, pb::GetLabelResponse>> {
        let (start, end) = range(from, to)?;
        Ok(
            self.limited(self.client.call::<meta::GetLabel>(pb::GetLabelRequest {
                billing_account_id: billing_account_id.into(),
                start_date: Some(start),
                end_date: Some(end),
                label_key: key.into(),
                ..Default::default()
            })),
        )
    }

    /// `MetadataService.GetCloud`: the clouds and their folders with usage,
    /// a page at a time (`.stream()` for all).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `end_date` for an inverted range.
    pub fn clouds(
        &self,
        billing_account_id: impl Into<String>,
        from: Date,
        to: Date,
    ) -> Result<Call<pb::GetCloudRequest, Page<pb::get_cloud_response::CloudInfo>>> {
        let (start, end) = range(from, to)?;
        Ok(
            self.limited(self.client.call::<meta::GetCloud>(pb::GetCloudRequest {
                billing_account_id: billing_account_id.into(),
                start_date: Some(start),
                end_date: Some(end),
                ..Default::default()
            })),
        )
    }

    /// `MetadataService.GetResources`: the service instances and their
    /// resources with usage, a page at a time (`.stream()` for all).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `end_date` for an inverted range.
    pub fn resources(
        &self,
        billing_account_id: impl Into<String>,
        from: Date,
        to: Date,
    ) -> Result<Call<pb::GetResourcesRequest, Page<pb::get_resources_response::ServiceInstanceInfo>>>
    {
        let (start, end) = range(from, to)?;
        Ok(self.limited(
            self.client
                .call::<meta::GetResources>(pb::GetResourcesRequest {
                    billing_account_id: billing_account_id.into(),
                    start_date: Some(start),
                    end_date: Some(end),
                    ..Default::default()
                }),
        ))
    }
}

/// A usage report request being built: [`Usage::report`].
#[derive(Debug, Clone)]
#[must_use = "a report builder does nothing until a grouping (`by_…`) is awaited"]
pub struct ReportBuilder {
    usage: Usage,
    request: pb::UsageReportRequest,
}

/// The call of a report grouped one way.
pub type ReportCall<R> = Call<pb::UsageReportRequest, R>;

macro_rules! by {
    ($(#[$doc:meta] $name:ident => $marker:ident, $resp:ident;)*) => {$(
        #[$doc]
        pub fn $name(self) -> ReportCall<pb::$resp> {
            let call = self.usage.client.call::<core::$marker>(self.request);
            self.usage.limited(call)
        }
    )*};
}

impl ReportBuilder {
    /// The length of the time series' periods (default: a day).
    pub fn period(mut self, period: Period) -> Self {
        self.request.aggregation_period = period as i32;
        self
    }

    /// Only these clouds (any of them).
    pub fn clouds<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.request
            .cloud_ids
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Only these folders (any of them).
    pub fn folders<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.request
            .folder_ids
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Only these services (any of them).
    pub fn services<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.request
            .service_ids
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Only these SKUs (any of them).
    pub fn skus<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.request.sku_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Only these resources (any of them).
    pub fn resources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.request
            .resource_ids
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Only these service instances (any of them).
    pub fn service_instances<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.request
            .service_instance_ids
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Only resources whose label `key` has one of `values` (any value when
    /// empty). Several keys must all match, unless [`any_label`](Self::any_label).
    pub fn label<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        key: impl Into<String>,
        values: I,
    ) -> Self {
        self.request
            .labels
            .entry(key.into())
            .or_default()
            .values
            .extend(values.into_iter().map(Into::into));
        self
    }

    /// Label keys are ORed instead of ANDed.
    pub fn any_label(mut self) -> Self {
        self.request.labels_or_filter_logic = true;
        self
    }

    /// The request as it will be sent.
    pub fn request(&self) -> &pb::UsageReportRequest {
        &self.request
    }

    by! {
        /// One entity: the billing account.
        by_account => GetBillingAccountUsageReport, BillingAccountUsageReportResponse;
        /// Per cloud (usage outside any cloud has an empty id).
        by_cloud => GetCloudUsageReport, CloudUsageReportResponse;
        /// Per folder.
        by_folder => GetFolderUsageReport, FolderUsageReportResponse;
        /// Per service.
        by_service => GetServiceUsageReport, ServiceUsageReportResponse;
        /// Per SKU, with the pricing quantity.
        by_sku => GetSkuUsageReport, SkuUsageReportResponse;
        /// Per resource.
        by_resource => GetResourceUsageReport, ResourceUsageReportResponse;
        /// Per label key and value (a resource's cost counts for each of its labels).
        by_label => GetLabelKeyUsageReport, LabelKeyUsageReportResponse;
        /// Per service instance (clouds, DataLens, Tracker, …).
        by_service_instance => GetServiceInstanceUsageReport, ServiceInstanceUsageReportResponse;
    }
}

/// Credits by kind; negative amounts, as the API reports them
/// (`expense = cost + credit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credits {
    /// The sum of every kind.
    pub total: Decimal,
    /// One-time monetary grants.
    pub monetary_grant: Decimal,
    /// Volume incentives.
    pub volume_incentive: Decimal,
    /// Committed use discounts.
    pub cud: Decimal,
    /// Free-tier credits.
    pub free: Decimal,
}

/// Cost, credits and expense of an entity or a period, exact decimals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    /// Cost before credits.
    pub cost: Decimal,
    /// Credits applied.
    pub credits: Credits,
    /// What is billed: cost plus the (negative) credits.
    pub expense: Decimal,
}

/// One period of an entity's time series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The first day of the period (the start date for the first one).
    pub date: Date,
    /// Its amounts.
    pub amounts: Amounts,
}

/// One entity of a report, whatever the grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityView {
    /// Its id (a label's is `key=value`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its totals.
    pub amounts: Amounts,
    /// Pricing quantity (SKU reports only).
    pub quantity: Option<Decimal>,
    /// The time series, one point per period with usage.
    pub series: Vec<Point>,
}

/// A report of any grouping, with exact decimals ([`ReportView::money`]
/// pairs an amount with the currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    /// The currency of every amount (`RUB`, `USD`, `KZT`, `EUR`).
    pub currency: String,
    /// Overall totals.
    pub amounts: Amounts,
    /// Overall expense (same as `amounts.expense`).
    pub expense: Decimal,
    /// The entities, largest cost first.
    pub entities: Vec<EntityView>,
}

impl ReportView {
    /// `amount` in the report's currency.
    ///
    /// # Errors
    ///
    /// [`Error::Money`] naming `currency` when it is not one of
    /// [`Currency::ALL`](crate::money::Currency::ALL) (the usage API also knows `EUR`).
    pub fn money(&self, amount: Decimal) -> Result<Money> {
        Ok(Money::new(
            amount,
            Currency::parse("currency", &self.currency)?,
        ))
    }

    /// The overall cost, before credits.
    ///
    /// # Errors
    ///
    /// As [`money`](Self::money).
    pub fn cost(&self) -> Result<Money> {
        self.money(self.amounts.cost)
    }

    /// The overall expense: what is billed.
    ///
    /// # Errors
    ///
    /// As [`money`](Self::money).
    pub fn expense_money(&self) -> Result<Money> {
        self.money(self.amounts.expense)
    }
}

impl pb::StringDecimal {
    /// The exact value (an empty string is 0), read by
    /// [`money::parse_decimal`](crate::money::parse_decimal).
    ///
    /// # Errors
    ///
    /// [`Error::Money`] naming `field` when it is not a decimal number.
    pub fn decimal_at(&self, field: &str) -> Result<Decimal> {
        if self.value.is_empty() {
            return Ok(Decimal::ZERO);
        }
        Ok(crate::money::parse_decimal(field, &self.value)?)
    }
}

fn dec(v: &Option<pb::StringDecimal>, field: &str) -> Result<Decimal> {
    v.as_ref()
        .map_or(Ok(Decimal::ZERO), |d| d.decimal_at(field))
}

fn amounts(
    cost: &Option<pb::StringDecimal>,
    credit: &Option<pb::CreditDetails>,
    expense: &Option<pb::StringDecimal>,
    at: &str,
) -> Result<Amounts> {
    let c = credit.clone().unwrap_or_default();
    let f = |name: &str| format!("{at}{name}");
    Ok(Amounts {
        cost: dec(cost, &f("cost"))?,
        credits: Credits {
            total: dec(&c.credit, &f("credit_details.credit"))?,
            monetary_grant: dec(
                &c.monetary_grant_credit,
                &f("credit_details.monetary_grant_credit"),
            )?,
            volume_incentive: dec(
                &c.volume_incentive_credit,
                &f("credit_details.volume_incentive_credit"),
            )?,
            cud: dec(&c.cud_credit, &f("credit_details.cud_credit"))?,
            free: dec(&c.free_credit, &f("credit_details.free_credit"))?,
        },
        expense: dec(expense, &f("expense"))?,
    })
}

fn series(periodic: &[pb::UsageReportPeriodicData], at: &str) -> Result<Vec<Point>> {
    periodic
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let at = format!("{at}periodic[{i}].");
            let seconds = p.timestamp.as_ref().map_or(0, |t| t.seconds);
            let date = ::time::OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| Error::InvalidResponse {
                    method: "usage report".into(),
                    reason: format!("{at}timestamp: {seconds} s is not a date"),
                })?
                .date();
            Ok(Point {
                date,
                amounts: amounts(&p.cost, &p.credit_details, &p.expense, &at)?,
            })
        })
        .collect()
}

/// A report response of any grouping: its exact [`ReportView`].
pub trait UsageReport {
    /// The report with exact decimals, entities named uniformly.
    ///
    /// # Errors
    ///
    /// [`Error::Money`] naming the field of a value that is not a decimal.
    fn view(&self) -> Result<ReportView>;
}

macro_rules! report_view {
    ($($resp:ident => |$e:ident| $body:block;)*) => {$(
        impl UsageReport for pb::$resp {
            fn view(&self) -> Result<ReportView> {
                let overall = amounts(&self.cost, &self.credit_details, &self.expense, "")?;
                let entities = self
                    .entities_data
                    .iter()
                    .enumerate()
                    .map(|(i, $e)| {
                        let at = format!("entities_data[{i}].");
                        let (id, name, quantity): (String, String, Option<Result<Decimal>>) =
                            $body;
                        Ok(EntityView {
                            id,
                            name,
                            amounts: amounts(&$e.cost, &$e.credit_details, &$e.expense, &at)?,
                            quantity: quantity.transpose()?,
                            series: series(&$e.periodic, &at)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(ReportView {
                    currency: pb::Currency::try_from(self.currency)
                        .map_or_else(|_| self.currency.to_string(), |c| c.as_str_name().to_owned()),
                    expense: overall.expense,
                    amounts: overall,
                    entities,
                })
            }
        }
    )*};
}

report_view! {
    BillingAccountUsageReportResponse => |e| {
        let a = e.billing_account.clone().unwrap_or_default();
        (a.id, a.name, None)
    };
    CloudUsageReportResponse => |e| {
        let c = e.cloud.clone().unwrap_or_default();
        (c.id, c.name, None)
    };
    FolderUsageReportResponse => |e| {
        let f = e.folder.clone().unwrap_or_default();
        (f.id, f.name, None)
    };
    ServiceUsageReportResponse => |e| {
        let s = e.service.clone().unwrap_or_default();
        (s.id, s.name, None)
    };
    SkuUsageReportResponse => |e| {
        let s = e.sku.clone().unwrap_or_default();
        (s.id, s.name, Some(dec(&e.pricing_quantity, "pricing_quantity")))
    };
    ResourceUsageReportResponse => |e| {
        let r = e.resource.clone().unwrap_or_default();
        (r.id, r.name, None)
    };
    LabelKeyUsageReportResponse => |e| {
        let l = e.label.clone().unwrap_or_default();
        (format!("{}={}", l.key, l.value), format!("{}: {}", l.key, l.value), None)
    };
    ServiceInstanceUsageReportResponse => |e| {
        let s = e.service_instance.clone().unwrap_or_default();
        (s.id, s.name, None)
    };
}

impl Client {
    /// `yandex.cloud.billing.usage_records.v1`: usage reports
    /// (`ConsumptionCoreService`) and their metadata (`MetadataService`).
    pub fn usage(&self) -> Usage {
        Usage::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::time::macros::date;

    #[test]
    fn an_inverted_range_names_end_date() {
        let e = range(date!(2025 - 02 - 01), date!(2025 - 01 - 31)).unwrap_err();
        assert!(
            matches!(&e, Error::Config { field, .. } if field == "end_date"),
            "{e}"
        );
        let (s, e) = range(date!(2025 - 01 - 01), date!(2025 - 01 - 01)).unwrap();
        assert_eq!(s, e);
        assert_eq!(s.seconds, 1_735_689_600);
    }

    #[test]
    fn decimals_are_exact_and_bad_ones_name_their_field() {
        let d = pb::StringDecimal {
            value: "0.1".into(),
        };
        let sum =
            d.decimal_at("x").unwrap() + d.decimal_at("x").unwrap() + d.decimal_at("x").unwrap();
        assert_eq!(sum, "0.3".parse::<Decimal>().unwrap());
        let bad = pb::StringDecimal {
            value: "1,5".into(),
        };
        let e = bad.decimal_at("entities_data[0].cost").unwrap_err();
        assert!(e.to_string().contains("entities_data[0].cost"), "{e}");
        assert!(matches!(e, Error::Money(_)));
    }
}
