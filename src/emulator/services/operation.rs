//! OperationService.

use tonic::{Request, Response, Status};

use super::Svc;
use crate::emulator::operations::operation_not_found;
use crate::emulator::state::State;
use crate::proto::yandex::cloud::operation::operation_service_server::OperationService;
use crate::proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation,
};

/// Only the subject that started an operation may see or cancel it; to
/// anyone else it answers exactly like a missing one (no existence oracle).
fn check_owner(st: &State, subject: &str, id: &str) -> Result<(), Status> {
    match st.operations.get(id) {
        Some(rec) if rec.op.created_by != subject => Err(operation_not_found(id)),
        _ => Ok(()),
    }
}

#[tonic::async_trait]
impl OperationService for Svc {
    async fn get(&self, req: Request<GetOperationRequest>) -> Result<Response<Operation>, Status> {
        let (subject, r) = self.admit(&req)?;
        let mut st = self.0.lock();
        check_owner(&st, &subject, &r.operation_id)?;
        let op = st.get_operation(&r.operation_id, self.0.completion)?;
        Ok(Response::new(op))
    }

    async fn cancel(
        &self,
        req: Request<CancelOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let (subject, r) = self.admit(&req)?;
        let mut st = self.0.lock();
        check_owner(&st, &subject, &r.operation_id)?;
        let op = st.cancel_operation(&r.operation_id)?;
        Ok(Response::new(op))
    }
}
