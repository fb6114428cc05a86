//! gRPC service implementations.

mod billing_account;
pub(crate) mod budget;
mod customer;
mod endpoint;
mod iam;
mod operation;
mod sku;
pub(crate) mod usage;

use std::sync::Arc;

use prost::Message;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tower::Layer;

use super::Shared;
use super::layer::{CallCtx, EmuLayer, EmuService};
pub(crate) use super::operations::Mutation;
use super::operations::NewOperation;
use super::text::{MAX_DESCRIPTION_CHARS, truncate};
use crate::proto::yandex::cloud::billing::usage_records::v1::{
    consumption_core_service_server::ConsumptionCoreServiceServer,
    metadata_service_server::MetadataServiceServer,
};
use crate::proto::yandex::cloud::billing::v1::{
    billing_account_service_server::BillingAccountServiceServer,
    budget_service_server::BudgetServiceServer, customer_service_server::CustomerServiceServer,
    service_service_server::ServiceServiceServer, sku_service_server::SkuServiceServer,
};
use crate::proto::yandex::cloud::endpoint::api_endpoint_service_server::ApiEndpointServiceServer;
use crate::proto::yandex::cloud::iam::v1::iam_token_service_server::IamTokenServiceServer;
use crate::proto::yandex::cloud::operation::Operation;
use crate::proto::yandex::cloud::operation::operation_service_server::OperationServiceServer;

/// All services behind one handler type.
#[derive(Clone)]
pub(crate) struct Svc(pub Arc<Shared>);

/// Full names of the services [`router`] serves, from the generated servers.
pub(crate) const SERVED_SERVICES: [&str; 10] = [
    <CustomerServiceServer<Svc> as NamedService>::NAME,
    <BillingAccountServiceServer<Svc> as NamedService>::NAME,
    <OperationServiceServer<Svc> as NamedService>::NAME,
    <IamTokenServiceServer<Svc> as NamedService>::NAME,
    <ApiEndpointServiceServer<Svc> as NamedService>::NAME,
    <ConsumptionCoreServiceServer<Svc> as NamedService>::NAME,
    <MetadataServiceServer<Svc> as NamedService>::NAME,
    <SkuServiceServer<Svc> as NamedService>::NAME,
    <ServiceServiceServer<Svc> as NamedService>::NAME,
    <BudgetServiceServer<Svc> as NamedService>::NAME,
];

/// The largest request message a service decodes; larger ones answer
/// RESOURCE_EXHAUSTED (see the emulator layer).
pub(crate) const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Every served service, unlayered.
fn routes(shared: &Arc<Shared>) -> Routes {
    let svc = Svc(shared.clone());
    Routes::new(
        CustomerServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(
        BillingAccountServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(
        OperationServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(
        IamTokenServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(
        ConsumptionCoreServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(
        MetadataServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(SkuServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES))
    .add_service(
        ServiceServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES),
    )
    .add_service(BudgetServiceServer::new(svc.clone()).max_decoding_message_size(MAX_REQUEST_BYTES))
    .add_service(ApiEndpointServiceServer::new(svc).max_decoding_message_size(MAX_REQUEST_BYTES))
}

/// The emulator layer over every served service, as one tower service:
/// what the gRPC port serves and the REST gateway calls.
pub(crate) fn stack(shared: Arc<Shared>) -> EmuService {
    let routes = routes(&shared);
    EmuLayer(shared).layer(routes)
}

/// The authenticated subject of a call.
pub(crate) fn subject<T>(req: &Request<T>) -> Result<String, Status> {
    req.extensions()
        .get::<CallCtx>()
        .and_then(|c| c.subject.clone())
        .ok_or_else(|| Status::unauthenticated("call is not authenticated"))
}

fn idempotency_key<T>(req: &Request<T>) -> Option<String> {
    req.metadata()
        .get(crate::transport::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl Svc {
    /// The first step of every authorized handler: the caller's subject and
    /// the request, checked against the rules of its proto (the validator).
    pub(crate) fn admit<'r, T: Message + prost::Name>(
        &self,
        req: &'r Request<T>,
    ) -> Result<(String, &'r T), Status> {
        let subject = subject(req)?;
        Ok((subject, self.valid(req)?))
    }

    /// The request, checked against the rules of its proto; for public
    /// methods and for operation-returning ones ([`mutate`](Self::mutate)
    /// authorizes the caller).
    pub(crate) fn valid<'r, T: Message + prost::Name>(
        &self,
        req: &'r Request<T>,
    ) -> Result<&'r T, Status> {
        self.0.validator.validate(req.get_ref())?;
        Ok(req.get_ref())
    }

    /// Common path of every operation-returning call: checks (`check` sees
    /// the locked state and authorizes the caller), then the idempotency
    /// replay of the caller's own earlier call, else a pending operation.
    /// Authorization comes first, so a key never lets a caller skip it.
    /// `path` is the method's constant from [`crate::proto::paths`].
    pub(crate) fn mutate<T: Message>(
        &self,
        req: &Request<T>,
        path: &'static str,
        check: impl FnOnce(&mut super::state::State, &str) -> Result<Mutation, Status>,
    ) -> Result<Response<Operation>, Status> {
        let method = path.trim_start_matches('/');
        let subject = subject(req)?;
        let key = idempotency_key(req);
        let bytes = req.get_ref().encode_to_vec();
        let types = self
            .0
            .validator
            .operation_types(method)
            .ok_or_else(|| Status::internal(format!("{method} declares no operation types")))?;
        let not_found_gets = self.0.not_found_gets(method);
        let slot = req
            .extensions()
            .get::<CallCtx>()
            .and_then(|c| c.operation.clone());
        let mut st = self.0.lock();
        let m = check(&mut st, &subject)?;
        if let Some(op) = st.idempotent_replay(&subject, key.as_deref(), method, &bytes)? {
            if let Some(slot) = slot {
                let _ = slot.set(op.id.clone());
            }
            return Ok(Response::new(op));
        }
        // The state lock is held: the fault rule is taken only for an
        // operation that is really created (lock order: state, then faults).
        let fail = self.0.take_operation_failure(method);
        let op = st.start_operation(NewOperation {
            method,
            types,
            created_by: &subject,
            idempotency: key.as_deref().map(|k| (k, bytes)),
            mutation: Mutation {
                description: truncate(&m.description, MAX_DESCRIPTION_CHARS).into_owned(),
                ..m
            },
            not_found_gets,
            fail,
        });
        if let Some(slot) = slot {
            let _ = slot.set(op.id.clone());
        }
        Ok(Response::new(op))
    }
}
