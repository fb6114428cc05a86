//! ApiEndpointService: every known id points back at the emulator.

use tonic::{Request, Response, Status};

use super::Svc;
use crate::emulator::text::echo;
use crate::proto::yandex::cloud::endpoint::api_endpoint_service_server::ApiEndpointService;
use crate::proto::yandex::cloud::endpoint::{
    ApiEndpoint, GetApiEndpointRequest, ListApiEndpointsRequest, ListApiEndpointsResponse,
};

/// Endpoint ids the emulator answers for.
pub(crate) const ENDPOINT_IDS: [&str; 5] = [
    "billing",
    "endpoint",
    "iam",
    "operation",
    "resource-manager",
];

#[tonic::async_trait]
impl ApiEndpointService for Svc {
    async fn get(
        &self,
        req: Request<GetApiEndpointRequest>,
    ) -> Result<Response<ApiEndpoint>, Status> {
        let id = &req.get_ref().api_endpoint_id;
        if !ENDPOINT_IDS.contains(&id.as_str()) {
            return Err(Status::not_found(format!(
                "api endpoint {} not found",
                echo(id)
            )));
        }
        Ok(Response::new(ApiEndpoint {
            id: id.clone(),
            address: self.0.api_address.clone(),
        }))
    }

    async fn list(
        &self,
        _req: Request<ListApiEndpointsRequest>,
    ) -> Result<Response<ListApiEndpointsResponse>, Status> {
        let endpoints = ENDPOINT_IDS
            .iter()
            .map(|id| ApiEndpoint {
                id: (*id).to_string(),
                address: self.0.api_address.clone(),
            })
            .collect();
        Ok(Response::new(ListApiEndpointsResponse {
            endpoints,
            next_page_token: String::new(),
        }))
    }
}
