//! `billing.usage_records.v1`: ConsumptionCoreService (the eight usage
//! reports) and MetadataService (what a report can be asked about), both
//! answered from the emulator's consumption records (`emulator::usage`).
//!
//! Every call needs a role on the billing account (the API's
//! `billing.accounts.getReport` permission is in every billing-account
//! role, as for the account's other reads): an unknown account is
//! NOT_FOUND, no role PERMISSION_DENIED. With the rate limit on
//! ([`EmulatorBuilder::usage_rate_limit`](crate::emulator::EmulatorBuilder::usage_rate_limit)),
//! a second call from the same IP within the interval is RESOURCE_EXHAUSTED
//! with a `google.rpc.RetryInfo` of the time left.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{Svc, subject};
use crate::emulator::conn::ConnInfo;
use crate::emulator::state::Level;
use crate::emulator::text::echo;
use crate::emulator::usage::report::{self, Entity, Kind, MAX_REPORT_POINTS, Query, ReportError};
use crate::emulator::usage::{AccountUsage, NONE, period};
use crate::emulator::validation::invalid_argument;
use crate::proto::yandex::cloud::billing::usage_records::v1 as pb;
use pb::consumption_core_service_server::ConsumptionCoreService;
use pb::metadata_service_server::MetadataService;

/// The name the API gives usage outside any cloud.
pub(crate) const OUT_OF_CLOUD: &str = "Usage is out of scope of the Cloud";
/// The longest date range of a request, in days.
pub(crate) const MAX_RANGE_DAYS: i32 = 3660;
/// Metadata pages: default and largest size, as the API documents.
const META_DEFAULT_PAGE: i64 = 10;
const META_MAX_PAGE: i64 = 10_000;

fn peer_ip<T>(req: &Request<T>) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnInfo>()
        .and_then(ConnInfo::peer_ip)
}

/// The days of a request's range, or INVALID_ARGUMENT naming the field.
fn range(
    start: &Option<prost_types::Timestamp>,
    end: &Option<prost_types::Timestamp>,
) -> Result<(i32, i32), Status> {
    let day = |t: &Option<prost_types::Timestamp>, field: &str| {
        t.as_ref()
            .map(|t| period::day_of_seconds(t.seconds))
            .ok_or_else(|| {
                invalid_argument(vec![(field.into(), "value is required (required)".into())])
            })
    };
    let (s, e) = (day(start, "start_date")?, day(end, "end_date")?);
    if e < s {
        return Err(invalid_argument(vec![(
            "end_date".into(),
            "must be on or after start_date".into(),
        )]));
    }
    if e - s >= MAX_RANGE_DAYS {
        return Err(invalid_argument(vec![(
            "end_date".into(),
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
        )]));
    }
    Ok((s, e))
}

fn currency_of(code: &str) -> pb::Currency {
    pb::Currency::from_str_name(code).unwrap_or(pb::Currency::Unspecified)
}

/// The size of a metadata page: 0 is 10, above 10000 is 10000, negative is refused.
fn meta_page_size(size: i64) -> Result<usize, Status> {
    if size < 0 {
        return Err(invalid_argument(vec![(
            "page_size".into(),
            "must not be negative".into(),
        )]));
    }
    Ok(if size == 0 {
        META_DEFAULT_PAGE
    } else {
        size.min(META_MAX_PAGE)
    } as usize)
}

fn contains_ci(filters: &[String], id: &str) -> bool {
    let id = id.to_lowercase();
    filters.is_empty() || filters.iter().any(|f| id.contains(&f.to_lowercase()))
}

impl Svc {
    /// Authentication, the rate limit, then the caller's role on the account.
    fn usage_access<T>(&self, req: &Request<T>, account: &str) -> Result<(), Status> {
        let subject = subject(req)?;
        if let Some(interval) = self.0.usage_rate_limit {
            let now = self.0.clock.now();
            let ip = peer_ip(req);
            let mut last = self.0.usage_calls.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(at) = last.get(&ip) {
                let since = now.duration_since(*at).unwrap_or_default();
                if since < interval {
                    let wait = interval - since;
                    return Err(Status::with_error_details(
                        tonic::Code::ResourceExhausted,
                        format!(
                            "rate limit of the usage API: 1 request per {} s per IP address; retry in {} ms",
                            interval.as_secs_f64(),
                            wait.as_millis()
                        ),
                        ErrorDetails::with_retry_info(Some(wait)),
                    ));
                }
            }
            last.insert(ip, now);
        }
        self.0.lock().check_account(&subject, account, Level::View)
    }

    /// The account's currency and a view of its usage.
    fn with_usage<R>(
        &self,
        account: &str,
        f: impl FnOnce(&AccountUsage, pb::Currency) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let currency = self
            .0
            .lock()
            .account(account)
            .map(|a| currency_of(&a.proto.currency))
            .unwrap_or(pb::Currency::Unspecified);
        let empty = AccountUsage::default();
        let usage = self.0.usage.get().account(account).unwrap_or(&empty);
        f(usage, currency)
    }

    fn report<R>(
        &self,
        req: Request<pb::UsageReportRequest>,
        kind: Kind,
        answer: impl FnOnce(&AccountUsage, pb::Currency, report::Report) -> R,
    ) -> Result<Response<R>, Status> {
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let (start, end) = range(&r.start_date, &r.end_date)?;
        let grouping = pb::TimeGrouping::try_from(r.aggregation_period).map_err(|_| {
            invalid_argument(vec![(
                "aggregation_period".into(),
                format!("unknown value {}", r.aggregation_period),
            )])
        })?;
        self.usage_access(&req, &r.billing_account_id)?;
        let r = req.into_inner();
        let query = Query {
            start,
            end,
            grouping,
            cloud_ids: r.cloud_ids,
            folder_ids: r.folder_ids,
            service_ids: r.service_ids,
            sku_ids: r.sku_ids,
            resource_ids: r.resource_ids,
            service_instance_ids: r.service_instance_ids,
            labels: r.labels.into_iter().collect(),
            labels_or: r.labels_or_filter_logic,
        };
        self.with_usage(&r.billing_account_id, |usage, currency| {
            let report = report::compute(usage, &query, kind).map_err(|e| match e {
                ReportError::TooLarge(n) => invalid_argument(vec![(
                    "aggregation_period".into(),
                    format!(
                        "the report would hold more than {MAX_REPORT_POINTS} time-series points \
                         ({n} so far): use a longer period, a shorter range or filters"
                    ),
                )]),
            })?;
            Ok(Response::new(answer(usage, currency, report)))
        })
    }
}

/// The `Cloud` of an entity index.
fn cloud(u: &AccountUsage, i: u32, account: &str) -> pb::Cloud {
    match u.clouds.get(i as usize) {
        Some(c) => pb::Cloud {
            id: c.id.clone(),
            name: c.name.clone(),
            billing_account_id: account.to_owned(),
        },
        None => pb::Cloud {
            id: String::new(),
            name: OUT_OF_CLOUD.into(),
            billing_account_id: account.to_owned(),
        },
    }
}

fn folder(u: &AccountUsage, i: u32) -> pb::Folder {
    u.folders
        .get(i as usize)
        .map(|f| pb::Folder {
            id: f.id.clone(),
            name: f.name.clone(),
        })
        .unwrap_or_default()
}

fn service(u: &AccountUsage, i: u32) -> pb::Service {
    u.services
        .get(i as usize)
        .map(|(id, name, description)| pb::Service {
            id: id.clone(),
            name: name.clone(),
            description: description.clone(),
        })
        .unwrap_or_default()
}

fn sku(u: &AccountUsage, i: u32) -> pb::Sku {
    u.skus
        .get(i as usize)
        .map(|s| pb::Sku {
            id: s.id.clone(),
            name: s.name.clone(),
            ru_translation: s.ru.clone(),
            en_translation: s.en.clone(),
            translation: s.en.clone(),
            pricing_unit: s.unit.clone(),
            service_id: s.service_id.clone(),
        })
        .unwrap_or_default()
}

fn resource(u: &AccountUsage, i: u32) -> pb::Resource {
    u.resources
        .get(i as usize)
        .map(|r| pb::Resource {
            id: r.id.clone(),
            name: r.name.clone(),
            service_instance_type: u
                .instances
                .get(r.instance as usize)
                .map(|x| x.kind.clone())
                .unwrap_or_default(),
        })
        .unwrap_or_default()
}

fn instance(u: &AccountUsage, i: u32, account: &str) -> pb::ServiceInstance {
    u.instances
        .get(i as usize)
        .map(|x| pb::ServiceInstance {
            id: x.id.clone(),
            r#type: x.kind.clone(),
            name: x.name.clone(),
            billing_account_id: account.to_owned(),
        })
        .unwrap_or_default()
}

fn label(u: &AccountUsage, i: u32) -> pb::Label {
    u.labels
        .get(i as usize)
        .map(|(key, value)| pb::Label {
            key: key.clone(),
            value: value.clone(),
        })
        .unwrap_or_default()
}

/// The response of a report: currency, overall totals, one entity message per entity.
macro_rules! answer {
    ($resp:ident, $entity:ident, $report:expr, $currency:expr, |$e:ident| { $($field:ident: $value:expr),* $(,)? }) => {{
        let report: report::Report = $report;
        pb::$resp {
            currency: $currency as i32,
            cost: report.totals.cost_proto(),
            credit_details: report.totals.credit_proto(),
            expense: report.totals.expense_proto(),
            entities_data: report
                .entities
                .iter()
                .map(|$e: &Entity| pb::$entity {
                    cost: $e.totals.cost_proto(),
                    credit_details: $e.totals.credit_proto(),
                    expense: $e.totals.expense_proto(),
                    periodic: $e.periodic(),
                    $($field: $value),*
                })
                .collect(),
        }
    }};
}

/// The answer of `GetResourceUsageReport` (also measured by `benches/usage_reports.rs`).
pub(crate) fn resource_answer(
    u: &AccountUsage,
    currency: pb::Currency,
    report: report::Report,
) -> pb::ResourceUsageReportResponse {
    answer!(ResourceUsageReportResponse, ResourceUsageReportEntityData, report, currency, |e| {
        resource: Some(resource(u, e.index))
    })
}

#[tonic::async_trait]
impl ConsumptionCoreService for Svc {
    async fn get_billing_account_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::BillingAccountUsageReportResponse>, Status> {
        let account = req.get_ref().billing_account_id.clone();
        let name = self
            .0
            .lock()
            .account(&account)
            .map(|a| a.proto.name.clone())
            .unwrap_or_default();
        self.report(req, Kind::Account, |_, currency, report| {
            answer!(BillingAccountUsageReportResponse, BillingAccountUsageReportEntityData, report, currency, |e| {
                billing_account: {
                    let _ = e;
                    Some(pb::BillingAccount { id: account.clone(), name: name.clone() })
                }
            })
        })
    }

    async fn get_cloud_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::CloudUsageReportResponse>, Status> {
        let account = req.get_ref().billing_account_id.clone();
        self.report(req, Kind::Cloud, |u, currency, report| {
            answer!(CloudUsageReportResponse, CloudUsageReportEntityData, report, currency, |e| {
                cloud: Some(cloud(u, e.index, &account))
            })
        })
    }

    async fn get_folder_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::FolderUsageReportResponse>, Status> {
        self.report(req, Kind::Folder, |u, currency, report| {
            answer!(FolderUsageReportResponse, FolderUsageReportEntityData, report, currency, |e| {
                folder: Some(folder(u, e.index))
            })
        })
    }

    async fn get_service_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::ServiceUsageReportResponse>, Status> {
        self.report(req, Kind::Service, |u, currency, report| {
            answer!(ServiceUsageReportResponse, ServiceUsageReportEntityData, report, currency, |e| {
                service: Some(service(u, e.index))
            })
        })
    }

    async fn get_sku_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::SkuUsageReportResponse>, Status> {
        self.report(req, Kind::Sku, |u, currency, report| {
            answer!(SkuUsageReportResponse, SkuUsageReportEntityData, report, currency, |e| {
                sku: Some(sku(u, e.index)),
                pricing_quantity: Some(pb::StringDecimal {
                    value: crate::emulator::usage::nanos_string(e.totals.quantity),
                })
            })
        })
    }

    async fn get_resource_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::ResourceUsageReportResponse>, Status> {
        self.report(req, Kind::Resource, resource_answer)
    }

    async fn get_label_key_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::LabelKeyUsageReportResponse>, Status> {
        self.report(req, Kind::Label, |u, currency, report| {
            answer!(LabelKeyUsageReportResponse, LabelUsageReportEntityData, report, currency, |e| {
                label: Some(label(u, e.index))
            })
        })
    }

    async fn get_service_instance_usage_report(
        &self,
        req: Request<pb::UsageReportRequest>,
    ) -> Result<Response<pb::ServiceInstanceUsageReportResponse>, Status> {
        let account = req.get_ref().billing_account_id.clone();
        self.report(req, Kind::Instance, |u, currency, report| {
            answer!(ServiceInstanceUsageReportResponse, ServiceInstanceUsageReportEntityData, report, currency, |e| {
                service_instance: Some(instance(u, e.index, &account))
            })
        })
    }
}

/// The resources with rows in `start..=end`.
fn used(u: &AccountUsage, start: i32, end: i32) -> Vec<bool> {
    let mut used = vec![false; u.resources.len()];
    for row in u.rows_between(start, end) {
        used[row.resource as usize] = true;
    }
    used
}

/// Checks a metadata request: validation, range, access; the range's days.
fn meta_check<T: prost::Message + prost::Name>(
    svc: &Svc,
    req: &Request<T>,
    account: &str,
    start: &Option<prost_types::Timestamp>,
    end: &Option<prost_types::Timestamp>,
) -> Result<(i32, i32), Status> {
    svc.0.validator.validate(req.get_ref())?;
    let days = range(start, end)?;
    svc.usage_access(req, account)?;
    Ok(days)
}

impl Svc {
    /// The start every metadata call shares: the request checked
    /// ([`meta_check`]: its rules, its dates, the caller's access), then `f`
    /// over the account's usage and which of its resources had rows in the
    /// range.
    fn meta_usage<T: prost::Message + prost::Name, R>(
        &self,
        req: &Request<T>,
        account: &str,
        start: &Option<prost_types::Timestamp>,
        end: &Option<prost_types::Timestamp>,
        f: impl FnOnce(&AccountUsage, &[bool]) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let (start, end) = meta_check(self, req, account, start, end)?;
        self.with_usage(account, |u, _| f(u, &used(u, start, end)))
    }
}

/// One page of `items` from an offset token of `scope`: the page and the next token.
/// A page's items under their parents (`parent_of`): parents in index
/// order, each one's items in page order.
fn grouped<T>(
    page: Vec<u32>,
    parent_of: impl Fn(u32) -> u32,
    item: impl Fn(u32) -> T,
) -> BTreeMap<u32, Vec<T>> {
    let mut groups: BTreeMap<u32, Vec<T>> = BTreeMap::new();
    for i in page {
        groups.entry(parent_of(i)).or_default().push(item(i));
    }
    groups
}

fn meta_page<T: Clone>(
    svc: &Svc,
    items: &[T],
    scope: &str,
    size: i64,
    token: &str,
) -> Result<(Vec<T>, String), Status> {
    let size = meta_page_size(size)?;
    let start = svc.0.pages.start(scope, token)?.min(items.len());
    let end = start.saturating_add(size).min(items.len());
    let next = if end < items.len() {
        svc.0.pages.encode(scope, end)
    } else {
        String::new()
    };
    Ok((items[start..end].to_vec(), next))
}

#[tonic::async_trait]
impl MetadataService for Svc {
    async fn get_usage(
        &self,
        req: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let r = req.get_ref();
        let name = self
            .0
            .lock()
            .account(&r.billing_account_id)
            .map(|a| a.proto.name.clone())
            .unwrap_or_default();
        self.meta_usage(
            &req,
            &r.billing_account_id,
            &r.start_date,
            &r.end_date,
            |u, used| {
                let (mut clouds, mut keys, mut services, mut skus) = (
                    BTreeSet::new(),
                    BTreeSet::new(),
                    BTreeSet::new(),
                    BTreeSet::new(),
                );
                for (_, res) in u.resources.iter().enumerate().filter(|(i, _)| used[*i]) {
                    let c = cloud(u, res.cloud, &r.billing_account_id);
                    let s = &u.skus[res.sku as usize];
                    let res_keys: Vec<&str> = res
                        .labels
                        .iter()
                        .map(|l| u.labels[*l as usize].0.as_str())
                        .collect();
                    let keep = (r.cloud_ids.is_empty() || r.cloud_ids.contains(&c.id))
                        && (r.service_ids.is_empty() || r.service_ids.contains(&s.service_id))
                        && (r.sku_ids.is_empty() || r.sku_ids.contains(&s.id))
                        && (r.label_keys.is_empty()
                            || res_keys.iter().any(|k| r.label_keys.iter().any(|x| x == k)));
                    if !keep {
                        continue;
                    }
                    clouds.insert(res.cloud);
                    keys.extend(res_keys.iter().map(|k| (*k).to_owned()));
                    services.insert(u.sku_service[res.sku as usize]);
                    skus.insert(res.sku);
                }
                let billing_accounts = if skus.is_empty() {
                    Vec::new()
                } else {
                    vec![pb::BillingAccount {
                        id: r.billing_account_id.clone(),
                        name,
                    }]
                };
                Ok(Response::new(pb::GetUsageResponse {
                    clouds: clouds
                        .into_iter()
                        .map(|c| cloud(u, c, &r.billing_account_id))
                        .collect(),
                    label_keys: keys.into_iter().collect(),
                    services: services.into_iter().map(|s| service(u, s)).collect(),
                    skus: skus.into_iter().map(|s| sku(u, s)).collect(),
                    billing_accounts,
                }))
            },
        )
    }

    async fn get_service_instance(
        &self,
        req: Request<pb::GetServiceInstanceRequest>,
    ) -> Result<Response<pb::GetServiceInstanceResponse>, Status> {
        let r = req.get_ref();
        self.meta_usage(
            &req,
            &r.billing_account_id,
            &r.start_date,
            &r.end_date,
            |u, used| {
                let instances: BTreeSet<u32> = u
                    .resources
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| used[*i])
                    .map(|(_, res)| res.instance)
                    .filter(|i| {
                        r.service_instance_ids.is_empty()
                            || r.service_instance_ids
                                .contains(&u.instances[*i as usize].id)
                    })
                    .collect();
                Ok(Response::new(pb::GetServiceInstanceResponse {
                    service_instances: instances
                        .into_iter()
                        .map(|i| instance(u, i, &r.billing_account_id))
                        .collect(),
                }))
            },
        )
    }

    async fn get_label(
        &self,
        req: Request<pb::GetLabelRequest>,
    ) -> Result<Response<pb::GetLabelResponse>, Status> {
        let r = req.get_ref();
        self.meta_usage(
            &req,
            &r.billing_account_id,
            &r.start_date,
            &r.end_date,
            |u, used| {
                // After the checks every metadata call makes, as before.
                if r.label_key.is_empty() {
                    return Err(invalid_argument(vec![(
                        "label_key".into(),
                        "value is required (required)".into(),
                    )]));
                }
                let mut values = BTreeSet::new();
                for (_, res) in u.resources.iter().enumerate().filter(|(i, _)| used[*i]) {
                    let cloud_id = u
                        .clouds
                        .get(res.cloud as usize)
                        .map_or("", |c| c.id.as_str());
                    let folder_id = u
                        .folders
                        .get(res.folder as usize)
                        .map_or("", |f| f.id.as_str());
                    if !(r.cloud_ids.is_empty() || r.cloud_ids.iter().any(|c| c == cloud_id))
                        || !(r.folder_ids.is_empty() || r.folder_ids.iter().any(|f| f == folder_id))
                    {
                        continue;
                    }
                    for l in &res.labels {
                        let (k, v) = &u.labels[*l as usize];
                        if *k == r.label_key
                            && (r.label_value.is_empty() || v.eq_ignore_ascii_case(&r.label_value))
                        {
                            values.insert(v.clone());
                        }
                    }
                }
                let values: Vec<String> = values.into_iter().collect();
                let scope = format!(
                    "usage-labels/{}/{}/{}",
                    r.billing_account_id,
                    echo(&r.label_key),
                    echo(&r.label_value)
                );
                let (label_values, next_page_token) =
                    meta_page(self, &values, &scope, r.page_size, &r.page_token)?;
                let label_value_filter = if r.label_value.is_empty() {
                    r.label_value_filter.clone()
                } else {
                    Vec::new()
                };
                Ok(Response::new(pb::GetLabelResponse {
                    label_values,
                    label_value_filter,
                    next_page_token,
                }))
            },
        )
    }

    async fn get_cloud(
        &self,
        req: Request<pb::GetCloudRequest>,
    ) -> Result<Response<pb::GetCloudResponse>, Status> {
        let r = req.get_ref();
        self.meta_usage(
            &req,
            &r.billing_account_id,
            &r.start_date,
            &r.end_date,
            |u, used| {
                // Folders with usage, by id; their clouds come from them.
                let folders: BTreeSet<(String, u32)> = u
                    .resources
                    .iter()
                    .enumerate()
                    .filter(|(i, res)| used[*i] && res.folder != NONE && res.cloud != NONE)
                    .map(|(_, res)| (u.folders[res.folder as usize].id.clone(), res.folder))
                    .filter(|(id, f)| {
                        contains_ci(&r.folder_ids, id)
                            && contains_ci(
                                &r.cloud_ids,
                                &u.clouds[u.folders[*f as usize].cloud as usize].id,
                            )
                    })
                    .collect();
                let folders: Vec<u32> = folders.into_iter().map(|(_, f)| f).collect();
                let scope = format!("usage-clouds/{}", r.billing_account_id);
                let (page, next_page_token) =
                    meta_page(self, &folders, &scope, r.page_size, &r.page_token)?;
                let by_cloud = grouped(page, |f| u.folders[f as usize].cloud, |f| folder(u, f));
                Ok(Response::new(pb::GetCloudResponse {
                    items: by_cloud
                        .into_iter()
                        .map(|(c, folders)| pb::get_cloud_response::CloudInfo {
                            cloud: Some(cloud(u, c, &r.billing_account_id)),
                            folders,
                        })
                        .collect(),
                    next_page_token,
                }))
            },
        )
    }

    async fn get_resources(
        &self,
        req: Request<pb::GetResourcesRequest>,
    ) -> Result<Response<pb::GetResourcesResponse>, Status> {
        let r = req.get_ref();
        self.meta_usage(
            &req,
            &r.billing_account_id,
            &r.start_date,
            &r.end_date,
            |u, used| {
                let resources: BTreeSet<(String, u32)> = u
                    .resources
                    .iter()
                    .enumerate()
                    .filter(|(i, res)| {
                        used[*i]
                            && contains_ci(&r.resource_ids, &res.id)
                            && contains_ci(
                                &r.service_instances_ids,
                                &u.instances[res.instance as usize].id,
                            )
                    })
                    .map(|(i, res)| (res.id.clone(), i as u32))
                    .collect();
                let resources: Vec<u32> = resources.into_iter().map(|(_, i)| i).collect();
                let scope = format!("usage-resources/{}", r.billing_account_id);
                let (page, next_page_token) =
                    meta_page(self, &resources, &scope, r.page_size, &r.page_token)?;
                let by_instance = grouped(
                    page,
                    |i| u.resources[i as usize].instance,
                    |i| resource(u, i),
                );
                Ok(Response::new(pb::GetResourcesResponse {
                    items: by_instance
                        .into_iter()
                        .map(
                            |(i, resources)| pb::get_resources_response::ServiceInstanceInfo {
                                service_instance: Some(instance(u, i, &r.billing_account_id)),
                                resources,
                            },
                        )
                        .collect(),
                    next_page_token,
                }))
            },
        )
    }
}
