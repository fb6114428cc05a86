//! BillingAccountService.

use crate::proto::paths::billing::v1::billing_account_service;
use prost::Message;
use tonic::{Request, Response, Status};

use super::{Mutation, Svc};
use crate::emulator::operations::Effect;
use crate::emulator::paging::PageTokens;
use crate::emulator::state::Level;
use crate::emulator::text::echo;
use crate::emulator::validation::invalid_argument;
use crate::proto::yandex::cloud::access::{
    ListAccessBindingsRequest, ListAccessBindingsResponse, UpdateAccessBindingsMetadata,
    UpdateAccessBindingsRequest,
};
use crate::proto::yandex::cloud::billing::v1::billing_account_service_server::BillingAccountService;
use crate::proto::yandex::cloud::billing::v1::{
    BillingAccount, BindBillableObjectMetadata, BindBillableObjectRequest,
    GetBillingAccountRequest, ListBillableObjectBindingsRequest,
    ListBillableObjectBindingsResponse, ListBillingAccountsRequest, ListBillingAccountsResponse,
};
use crate::proto::yandex::cloud::operation::Operation;

/// Billable object types the emulator accepts.
const BILLABLE_TYPES: [&str; 1] = ["cloud"];

#[tonic::async_trait]
impl BillingAccountService for Svc {
    async fn get(
        &self,
        req: Request<GetBillingAccountRequest>,
    ) -> Result<Response<BillingAccount>, Status> {
        let (subject, r) = self.admit(&req)?;
        let st = self.0.lock();
        st.check_account(&subject, &r.id, Level::View)?;
        let account = st
            .account(&r.id)
            .map(|a| a.proto.clone())
            .unwrap_or_default();
        Ok(Response::new(account))
    }

    async fn list(
        &self,
        req: Request<ListBillingAccountsRequest>,
    ) -> Result<Response<ListBillingAccountsResponse>, Status> {
        let (subject, r) = self.admit(&req)?;
        // The token holds the key of the page's first account (keys are
        // insertion positions, never reused), so a page is a range query on
        // the subject's index and stays put when accounts are added.
        let scope = format!("accounts/{subject}");
        let size = PageTokens::size(r.page_size)?;
        let start = self.0.pages.start(&scope, &r.page_token)?;
        let st = self.0.lock();
        let mut keys = st.visible_accounts(&subject, start, size.saturating_add(1));
        let next = (keys.len() > size).then(|| keys[size]);
        keys.truncate(size);
        let billing_accounts: Vec<BillingAccount> =
            keys.into_iter().map(|k| st.account_proto(k)).collect();
        drop(st);
        let next_page_token = next.map_or_else(String::new, |k| self.0.pages.encode(&scope, k));
        Ok(Response::new(ListBillingAccountsResponse {
            billing_accounts,
            next_page_token,
        }))
    }

    async fn list_billable_object_bindings(
        &self,
        req: Request<ListBillableObjectBindingsRequest>,
    ) -> Result<Response<ListBillableObjectBindingsResponse>, Status> {
        let (subject, r) = self.admit(&req)?;
        let st = self.0.lock();
        st.check_account(&subject, &r.billing_account_id, Level::View)?;
        let all = st
            .account(&r.billing_account_id)
            .map_or(&[][..], |a| a.billable.as_slice());
        let scope = format!("billable/{}", r.billing_account_id);
        let (billable_object_bindings, next_page_token) =
            self.0.pages.page(all, &scope, r.page_size, &r.page_token)?;
        Ok(Response::new(ListBillableObjectBindingsResponse {
            billable_object_bindings,
            next_page_token,
        }))
    }

    async fn bind_billable_object(
        &self,
        req: Request<BindBillableObjectRequest>,
    ) -> Result<Response<Operation>, Status> {
        let r = self.valid(&req)?.clone();
        let object = r.billable_object.clone().unwrap_or_default();
        let mut violations = Vec::new();
        if object.id.is_empty() {
            violations.push((
                "billable_object.id".to_string(),
                "value is required (required)".to_string(),
            ));
        }
        if !BILLABLE_TYPES.contains(&object.r#type.as_str()) {
            violations.push((
                "billable_object.type".to_string(),
                format!("value must be one of {BILLABLE_TYPES:?}"),
            ));
        }
        if !violations.is_empty() {
            return Err(invalid_argument(violations));
        }
        let method = billing_account_service::BIND_BILLABLE_OBJECT;
        self.mutate(&req, method, |st, subject| {
            st.check_account(subject, &r.billing_account_id, Level::Edit)?;
            Ok(Mutation {
                description: format!(
                    "Bind {} {} to billing account {}",
                    echo(&object.r#type),
                    echo(&object.id),
                    echo(&r.billing_account_id)
                ),
                metadata: BindBillableObjectMetadata {
                    billable_object_id: object.id.clone(),
                }
                .encode_to_vec(),
                effect: Effect::Bind {
                    account_id: r.billing_account_id.clone(),
                    object,
                },
            })
        })
    }

    async fn list_access_bindings(
        &self,
        req: Request<ListAccessBindingsRequest>,
    ) -> Result<Response<ListAccessBindingsResponse>, Status> {
        let (subject, r) = self.admit(&req)?;
        let st = self.0.lock();
        st.check_account(&subject, &r.resource_id, Level::View)?;
        let all = st.account(&r.resource_id).map_or(&[][..], |a| a.access());
        let scope = format!("access/{}", r.resource_id);
        let (access_bindings, next_page_token) =
            self.0.pages.page(all, &scope, r.page_size, &r.page_token)?;
        Ok(Response::new(ListAccessBindingsResponse {
            access_bindings,
            next_page_token,
        }))
    }

    async fn update_access_bindings(
        &self,
        req: Request<UpdateAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        let r = self.valid(&req)?.clone();
        let method = billing_account_service::UPDATE_ACCESS_BINDINGS;
        self.mutate(&req, method, |st, subject| {
            st.check_account(subject, &r.resource_id, Level::Admin)?;
            Ok(Mutation {
                description: format!(
                    "Update access bindings of billing account {}",
                    echo(&r.resource_id)
                ),
                metadata: UpdateAccessBindingsMetadata {
                    resource_id: r.resource_id.clone(),
                }
                .encode_to_vec(),
                effect: Effect::UpdateAccess {
                    account_id: r.resource_id.clone(),
                    deltas: r.access_binding_deltas.clone(),
                },
            })
        })
    }
}
