//! OperationService.

use tonic::{Request, Response, Status};

use super::{Svc, subject};
use crate::emulator::text::echo;
use crate::proto::yandex::cloud::operation::operation_service_server::OperationService;
use crate::proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation,
};

fn check_owner(created_by: &str, subject: &str, id: &str) -> Result<(), Status> {
    if created_by == subject {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "subject {} may not access operation {}",
            echo(subject),
            echo(id)
        )))
    }
}

#[tonic::async_trait]
impl OperationService for Svc {
    async fn get(&self, req: Request<GetOperationRequest>) -> Result<Response<Operation>, Status> {
        let subject = subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let mut st = self.0.lock();
        if let Some(rec) = st.operations.get(&r.operation_id) {
            check_owner(&rec.op.created_by, &subject, &r.operation_id)?;
        }
        let op = st.get_operation(&r.operation_id, self.0.completion)?;
        Ok(Response::new(op))
    }

    async fn cancel(
        &self,
        req: Request<CancelOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let subject = subject(&req)?;
        let r = req.get_ref();
        self.0.validator.validate(r)?;
        let mut st = self.0.lock();
        if let Some(rec) = st.operations.get(&r.operation_id) {
            check_owner(&rec.op.created_by, &subject, &r.operation_id)?;
        }
        let op = st.cancel_operation(&r.operation_id)?;
        Ok(Response::new(op))
    }
}
