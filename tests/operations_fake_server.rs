//! Malformed server answers, which the emulator never gives, against a tiny
//! scripted fake of `CustomerService.Activate`/`List` and
//! `OperationService.Get` over real gRPC: `Any` values with the wrong type
//! URL, corrupt bytes, `done` with neither error nor response, an answer
//! about another operation, an unfinished operation without an id, empty
//! pages with a token and a repeated page token. Everything a correct server
//! does is tested against the emulator in `tests/operations_e2e.rs`.
#![cfg(feature = "emulator")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use prost::{Message, Name};
use tonic::{Request, Response, Status};
use yc_billing::proto::yandex::cloud::billing::v1::customer_service_server::{
    CustomerService, CustomerServiceServer,
};
use yc_billing::proto::yandex::cloud::billing::v1::*;
use yc_billing::proto::yandex::cloud::operation::operation::Result as OpResult;
use yc_billing::proto::yandex::cloud::operation::operation_service_server::{
    OperationService, OperationServiceServer,
};
use yc_billing::proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, Operation as ProtoOperation,
};
use yc_billing::{Client, Error, PollingPolicy, RetryPolicy};

/// What the fake answers.
#[derive(Default)]
struct Script {
    /// The answer of `Activate`.
    created: ProtoOperation,
    /// The answer of every `Get`.
    got: ProtoOperation,
    /// `List` pages by request token: `(customer ids, next token)`.
    pages: Vec<(&'static str, Vec<&'static str>, &'static str)>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Script>>);

fn any<T: Message + Name>(m: &T) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{}", T::full_name()),
        value: m.encode_to_vec(),
    }
}

fn metadata() -> prost_types::Any {
    any(&CustomerMetadata {
        reseller_id: "reseller-1".into(),
        customer_id: "c1".into(),
    })
}

fn customer() -> prost_types::Any {
    any(&Customer {
        id: "c1".into(),
        billing_account_id: "ba-1".into(),
    })
}

fn pending(id: &str) -> ProtoOperation {
    ProtoOperation {
        id: id.into(),
        metadata: Some(metadata()),
        ..Default::default()
    }
}

fn done(id: &str, result: Option<OpResult>) -> ProtoOperation {
    ProtoOperation {
        done: true,
        result,
        ..pending(id)
    }
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not scripted"))
}

#[tonic::async_trait]
impl CustomerService for Fake {
    async fn list(
        &self,
        request: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        let token = request.into_inner().page_token;
        let s = self.0.lock().unwrap();
        let (_, ids, next) = s
            .pages
            .iter()
            .find(|(t, _, _)| *t == token)
            .ok_or_else(|| Status::invalid_argument("bad page_token"))?;
        Ok(Response::new(ListCustomersResponse {
            customers: ids
                .iter()
                .map(|id| Customer {
                    id: (*id).into(),
                    billing_account_id: "ba-1".into(),
                })
                .collect(),
            next_page_token: (*next).into(),
        }))
    }

    async fn invite(
        &self,
        _: Request<InviteCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }

    async fn create_reseller_served(
        &self,
        _: Request<CreateResellerServedCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }

    async fn activate(
        &self,
        _: Request<ActivateCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        Ok(Response::new(self.0.lock().unwrap().created.clone()))
    }

    async fn suspend(
        &self,
        _: Request<SuspendCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }
}

#[tonic::async_trait]
impl OperationService for Fake {
    async fn get(
        &self,
        _: Request<GetOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        Ok(Response::new(self.0.lock().unwrap().got.clone()))
    }

    async fn cancel(
        &self,
        _: Request<CancelOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }
}

async fn start(script: Script) -> Client {
    let fake = Fake(Arc::new(Mutex::new(script)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(CustomerServiceServer::new(fake.clone()))
        .add_service(OperationServiceServer::new(fake))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    Client::builder()
        .endpoint(format!("http://{addr}"))
        .iam_token("t1.fake")
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await
        .unwrap()
}

fn fast() -> PollingPolicy {
    PollingPolicy::default()
        .with_initial_interval(Duration::from_millis(2))
        .with_max_interval(Duration::from_millis(20))
        .with_time_limit(Duration::from_secs(5))
}

/// Activates through the fake and waits; the error of the wait.
async fn wait_error(created: ProtoOperation, got: ProtoOperation) -> Error {
    let client = start(Script {
        created,
        got,
        ..Default::default()
    })
    .await;
    match client.customers().activate("c1").await {
        Ok(op) => op.wait_with(&fast()).await.unwrap_err(),
        Err(e) => e,
    }
}

#[tokio::test]
async fn wrong_type_url_of_the_response_is_unexpected_type() {
    let wrong = any(&BillingAccount::default());
    let err = wait_error(
        pending("op-1"),
        done("op-1", Some(OpResult::Response(wrong))),
    )
    .await;
    match err {
        Error::UnexpectedType { expected, actual } => {
            assert_eq!(expected, "yandex.cloud.billing.v1.Customer");
            assert_eq!(
                actual,
                "type.googleapis.com/yandex.cloud.billing.v1.BillingAccount"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn wrong_type_url_of_the_metadata_is_unexpected_type() {
    let mut created = done("op-1", Some(OpResult::Response(customer())));
    created.metadata = Some(any(&BindBillableObjectMetadata::default()));
    let client = start(Script {
        created,
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    assert!(matches!(op.metadata(), Err(Error::UnexpectedType { .. })));
    // The response is still readable.
    assert_eq!(op.wait().await.unwrap().id, "c1");
}

#[tokio::test]
async fn corrupt_response_bytes_are_a_decode_error() {
    let corrupt = prost_types::Any {
        type_url: Customer::type_url(),
        value: vec![0x0a, 0x05, b'a'], // a string field claiming 5 bytes, with 1
    };
    match wait_error(
        pending("op-1"),
        done("op-1", Some(OpResult::Response(corrupt))),
    )
    .await
    {
        Error::Decode { type_name, .. } => {
            assert_eq!(type_name, "yandex.cloud.billing.v1.Customer")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn done_without_error_or_response_is_invalid() {
    match wait_error(pending("op-1"), done("op-1", None)).await {
        Error::InvalidOperation { operation_id, .. } => assert_eq!(operation_id, "op-1"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_answer_about_another_operation_is_invalid() {
    let err = wait_error(
        pending("op-1"),
        done("op-2", Some(OpResult::Response(customer()))),
    )
    .await;
    match err {
        Error::InvalidOperation {
            operation_id,
            reason,
        } => {
            assert_eq!(operation_id, "op-1");
            assert!(reason.contains("op-2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_unfinished_operation_without_an_id_is_invalid() {
    let err = wait_error(pending(""), pending("")).await;
    assert!(matches!(err, Error::InvalidOperation { .. }), "{err:?}");
}

#[tokio::test]
async fn empty_pages_with_a_token_do_not_end_the_stream() {
    let client = start(Script {
        pages: vec![
            ("", vec!["c1", "c2"], "p1"),
            ("p1", vec![], "p2"),
            ("p2", vec![], "p3"),
            ("p3", vec!["c3"], ""),
        ],
        ..Default::default()
    })
    .await;
    let all: Vec<Customer> = client
        .customers()
        .list("reseller-1")
        .stream()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c1", "c2", "c3"]);
}

#[tokio::test]
async fn a_repeated_page_token_ends_the_stream_with_an_error() {
    let client = start(Script {
        pages: vec![("", vec!["c1"], "p1"), ("p1", vec!["c2"], "p1")],
        ..Default::default()
    })
    .await;
    let items: Vec<_> = client
        .customers()
        .list("reseller-1")
        .stream()
        .take(10)
        .collect()
        .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[1].as_ref().unwrap().id, "c2");
    assert!(
        matches!(&items[2], Err(Error::InvalidResponse { method, .. }) if method.ends_with("CustomerService/List")),
        "{:?}",
        items[2]
    );
}
