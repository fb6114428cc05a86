//! `yandex.cloud.operation.OperationService`.

use std::time::Duration;

use prost::{Message, Name};

use super::Call;
use super::rpc::operation::operation_service as rpc;
use crate::call::CallOptions;
use crate::error::Result;
use crate::operation::{Operation, poll_hint};
use crate::proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation as ProtoOperation,
};

/// Raw operations by id. Get it with [`Client::operations`](crate::Client::operations); for typed
/// operations see [`Operation::resume`] or [`resume`](Self::resume).
pub type Operations = super::OperationService;

impl Operations {
    /// The operation message with this id (`Operation.Get`).
    pub fn get(
        &self,
        operation_id: impl Into<String>,
    ) -> Call<GetOperationRequest, ProtoOperation> {
        self.get_request(GetOperationRequest {
            operation_id: operation_id.into(),
        })
    }

    /// Asks the server to cancel the operation; answers its state after the
    /// request (`Operation.Cancel`).
    pub fn cancel(
        &self,
        operation_id: impl Into<String>,
    ) -> Call<CancelOperationRequest, ProtoOperation> {
        self.cancel_request(CancelOperationRequest {
            operation_id: operation_id.into(),
        })
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
        let response =
            super::send::<rpc::Get>(&self.client, GetOperationRequest { operation_id }, options)
                .await?;
        let hint = poll_hint(response.metadata());
        Ok((response.into_inner(), hint))
    }
}
