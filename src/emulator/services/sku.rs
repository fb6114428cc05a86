//! SkuService and ServiceService: the price catalogue, read-only.
//!
//! Both read [`Catalogue`](crate::emulator::catalogue::Catalogue) from the
//! shared settings without the state lock; only a `billing_account_id`
//! (contract prices) takes the lock, to check the caller's rights on it as
//! the other account calls do.

use tonic::{Request, Response, Status};

use super::{Svc, subject};
use crate::emulator::state::Level;
use crate::emulator::text::echo;
use crate::emulator::validation::invalid_argument;
use crate::money::Currency;
use crate::proto::yandex::cloud::billing::v1::service_service_server::ServiceService;
use crate::proto::yandex::cloud::billing::v1::sku_service_server::SkuService;
use crate::proto::yandex::cloud::billing::v1::{
    GetServiceRequest, GetSkuRequest, ListServicesRequest, ListServicesResponse, ListSkusRequest,
    ListSkusResponse, Service, Sku,
};
use crate::services::filter::{Filter, FilterField};

/// The request's currency, INVALID_ARGUMENT naming `currency` unless it is
/// one of the API's.
fn currency(value: &str) -> Result<Currency, Status> {
    Currency::parse("currency", value).map_err(|_| {
        invalid_argument(vec![(
            "currency".into(),
            format!("value must be one of RUB, USD, KZT, got {}", echo(value)),
        )])
    })
}

/// The filter of a list request (`None` when empty), INVALID_ARGUMENT
/// naming `filter` and the rule it breaks.
fn filter(
    expression: &str,
    allowed: &[FilterField],
) -> Result<Option<(FilterField, String)>, Status> {
    if expression.trim().is_empty() {
        return Ok(None);
    }
    let bad = |rule: &str| invalid_argument(vec![("filter".into(), rule.to_owned())]);
    match Filter::parse(expression, allowed) {
        Ok(Filter::Eq { field, value }) => Ok(Some((field, value))),
        Ok(_) => Err(bad("must be FIELD=\"VALUE\"")),
        Err(e) => Err(bad(e.rule())),
    }
}

/// The part of a page token's scope that binds it to the filter.
fn filter_scope(filter: &Option<(FilterField, String)>) -> String {
    filter
        .as_ref()
        .map(|(f, v)| format!("{f}={v}"))
        .unwrap_or_default()
}

impl Svc {
    /// The billing account whose contract prices a request asks for, after
    /// checking the caller may read it (NOT_FOUND, PERMISSION_DENIED).
    fn contract_account<'a, T>(
        &self,
        req: &Request<T>,
        billing_account_id: &'a str,
    ) -> Result<Option<&'a str>, Status> {
        if billing_account_id.is_empty() {
            return Ok(None);
        }
        let subject = subject(req)?;
        self.0
            .lock()
            .check_account(&subject, billing_account_id, Level::View)?;
        Ok(Some(billing_account_id))
    }
}

#[tonic::async_trait]
impl SkuService for Svc {
    async fn get(&self, req: Request<GetSkuRequest>) -> Result<Response<Sku>, Status> {
        subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let currency = currency(&r.currency)?;
        let account = self.contract_account(&req, &r.billing_account_id)?;
        let catalogue = &self.0.catalogue;
        let sku = catalogue
            .sku(&r.id)
            .ok_or_else(|| Status::not_found(format!("SKU {} not found", echo(&r.id))))?;
        Ok(Response::new(catalogue.sku_proto(sku, currency, account)))
    }

    async fn list(
        &self,
        req: Request<ListSkusRequest>,
    ) -> Result<Response<ListSkusResponse>, Status> {
        subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let currency = currency(&r.currency)?;
        let filter = filter(&r.filter, FilterField::SKU)?;
        let account = self.contract_account(&req, &r.billing_account_id)?;
        let catalogue = &self.0.catalogue;
        // The selected positions: the whole catalogue, one SKU, or the
        // service's index; the token is an offset into that selection,
        // bound to the request's currency, account and filter.
        let one;
        let selected: Option<&[usize]> = match &filter {
            None => None,
            Some((FilterField::ServiceId, value)) => {
                Some(catalogue.sku_positions_of_service(value))
            }
            Some((_, value)) => {
                one = catalogue.sku_position(value);
                Some(one.as_slice())
            }
        };
        let len = selected.map_or(catalogue.skus().len(), <[usize]>::len);
        let scope = format!(
            "skus\n{}\n{}\n{}",
            currency,
            r.billing_account_id,
            filter_scope(&filter)
        );
        let (range, next_page_token) =
            self.0
                .pages
                .window(len, &scope, r.page_size, &r.page_token)?;
        let skus = range
            .map(|i| selected.map_or(i, |s| s[i]))
            .map(|p| catalogue.sku_proto(&catalogue.skus()[p], currency, account))
            .collect();
        Ok(Response::new(ListSkusResponse {
            skus,
            next_page_token,
        }))
    }
}

#[tonic::async_trait]
impl ServiceService for Svc {
    async fn get(&self, req: Request<GetServiceRequest>) -> Result<Response<Service>, Status> {
        subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let service = self
            .0
            .catalogue
            .service(&r.id)
            .ok_or_else(|| Status::not_found(format!("service {} not found", echo(&r.id))))?;
        Ok(Response::new(
            crate::emulator::catalogue::Catalogue::service_proto(service),
        ))
    }

    async fn list(
        &self,
        req: Request<ListServicesRequest>,
    ) -> Result<Response<ListServicesResponse>, Status> {
        subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let filter = filter(&r.filter, FilterField::SERVICE)?;
        let all = self.0.catalogue.services();
        let chosen: &[_] = match &filter {
            Some((_, value)) => match self.0.catalogue.service_position(value) {
                Some(i) => &all[i..=i],
                None => &[],
            },
            None => all,
        };
        let scope = format!("services\n{}", filter_scope(&filter));
        let (range, next_page_token) =
            self.0
                .pages
                .window(chosen.len(), &scope, r.page_size, &r.page_token)?;
        let services = chosen[range]
            .iter()
            .map(crate::emulator::catalogue::Catalogue::service_proto)
            .collect();
        Ok(Response::new(ListServicesResponse {
            services,
            next_page_token,
        }))
    }
}
