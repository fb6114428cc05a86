//! `yandex.cloud.operation.OperationService`.

use std::time::Duration;

use prost::{Message, Name};

use super::{Call, per_attempt_stub};
use crate::call::CallOptions;
use crate::client::Client;
use crate::error::Result;
use crate::operation::{Operation, poll_hint};
use crate::proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use crate::proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation as ProtoOperation,
};
use crate::transport::Transport;

const GET: &str = "/yandex.cloud.operation.OperationService/Get";
const CANCEL: &str = "/yandex.cloud.operation.OperationService/Cancel";

/// Raw operations by id. Get it with [`Client::operations`]; for typed
/// operations see [`Operation::resume`] or [`resume`](Self::resume).
#[derive(Debug, Clone)]
pub struct Operations {
    client: Client,
}

fn stub(client: &Client) -> OperationServiceClient<Transport> {
    OperationServiceClient::new(client.operation_transport())
}

impl Operations {
    pub(crate) fn new(client: Client) -> Self {
        Operations { client }
    }

    /// The generated stub on the client's transport (authorization and
    /// header layers, but not the deadline and retries of [`Client::execute`]).
    pub fn raw(&self) -> OperationServiceClient<Transport> {
        stub(&self.client)
    }

    /// The operation message with this id (`Operation.Get`).
    pub fn get(
        &self,
        operation_id: impl Into<String>,
    ) -> Call<GetOperationRequest, ProtoOperation> {
        Call::new(
            self.client.clone(),
            GET,
            GetOperationRequest {
                operation_id: operation_id.into(),
            },
            |client, request, options| {
                Box::pin(async move {
                    Ok(client
                        .execute(
                            GET,
                            request,
                            &options,
                            per_attempt_stub!(stub(&client), get),
                        )
                        .await?
                        .into_inner())
                })
            },
        )
    }

    /// Asks the server to cancel the operation; answers its state after the
    /// request (`Operation.Cancel`).
    pub fn cancel(
        &self,
        operation_id: impl Into<String>,
    ) -> Call<CancelOperationRequest, ProtoOperation> {
        Call::new(
            self.client.clone(),
            CANCEL,
            CancelOperationRequest {
                operation_id: operation_id.into(),
            },
            |client, request, options| {
                Box::pin(async move {
                    Ok(client
                        .execute(
                            CANCEL,
                            request,
                            &options,
                            per_attempt_stub!(stub(&client), cancel),
                        )
                        .await?
                        .into_inner())
                })
            },
        )
    }

    /// The operation with this id, typed: the same as [`Operation::resume`].
    pub async fn resume<M, R>(&self, operation_id: impl Into<String>) -> Result<Operation<M, R>>
    where
        M: Message + Name + Default,
        R: Message + Name + Default,
    {
        Operation::resume(&self.client, operation_id).await
    }

    /// `Operation.Get` keeping the server's `x-operation-poll-interval`.
    pub(crate) async fn get_with_hint(
        &self,
        operation_id: String,
        options: &CallOptions,
    ) -> Result<(ProtoOperation, Option<Duration>)> {
        let response = self
            .client
            .execute(
                GET,
                GetOperationRequest { operation_id },
                options,
                per_attempt_stub!(stub(&self.client), get),
            )
            .await?;
        let hint = poll_hint(response.metadata());
        Ok((response.into_inner(), hint))
    }
}
