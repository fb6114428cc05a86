//! Operations, service wrappers and pagination over real gRPC against a
//! small scripted fake of `CustomerService`, `BillingAccountService` and
//! `OperationService` defined here (the generated server traits need the
//! `emulator` feature). The full emulator tests are in
//! `tests/pending/operations_e2e.rs.txt` until the emulator is merged.
#![cfg(feature = "emulator")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use prost::{Message, Name};
use tonic::{Code, Request, Response, Status};
use yc_billing::proto::yandex::cloud::access::{
    AccessBindingAction, ListAccessBindingsRequest, ListAccessBindingsResponse,
    UpdateAccessBindingsMetadata, UpdateAccessBindingsRequest,
};
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_server::{
    BillingAccountService, BillingAccountServiceServer,
};
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
use yc_billing::{Client, Error, Operation, PollingPolicy, RetryPolicy};

/// How the fake behaves; set before the operation is created.
#[derive(Default, Clone)]
struct Script {
    /// `Get`s before an operation is done (0: done on creation; `u32::MAX`: never).
    gets_to_complete: u32,
    /// `x-operation-poll-interval` on every answer.
    hint: Option<String>,
    /// `NOT_FOUND` answers to the first `Get`s of each operation.
    not_found_gets: u32,
    /// `UNAVAILABLE` answers to the first `Get`s of each operation (after the NOT_FOUNDs).
    unavailable_gets: u32,
    /// The next operation fails with this status.
    fail_next: Option<tonic_types::pb::Status>,
    /// The next operation is done with neither error nor response.
    empty_next: bool,
    /// Number of customers `List` serves.
    customers: u32,
}

struct Op {
    raw: ProtoOperation,
    gets: u32,
    /// `None`: done with neither error nor response.
    result: Option<OpResult>,
}

#[derive(Default)]
struct State {
    script: Script,
    ops: HashMap<String, Op>,
    next_id: u64,
    idempotency_keys: Vec<Option<String>>,
}

#[derive(Clone, Default)]
struct Fake {
    state: Arc<Mutex<State>>,
    gets: Arc<AtomicU64>,
}

fn any<T: Message + Name>(m: &T) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{}", T::full_name()),
        value: m.encode_to_vec(),
    }
}

impl Fake {
    fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.state.lock().unwrap().script);
    }

    fn respond<T>(&self, message: T) -> Response<T> {
        let mut response = Response::new(message);
        if let Some(h) = &self.state.lock().unwrap().script.hint {
            response
                .metadata_mut()
                .insert("x-operation-poll-interval", h.parse().unwrap());
        }
        response
    }

    fn start<Req>(
        &self,
        request: &Request<Req>,
        metadata: prost_types::Any,
        response: prost_types::Any,
    ) -> Response<ProtoOperation> {
        let mut s = self.state.lock().unwrap();
        let key = request
            .metadata()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        s.idempotency_keys.push(key);
        s.next_id += 1;
        let id = format!("op-{}", s.next_id);
        let mut result = Some(match s.script.fail_next.take() {
            Some(status) => OpResult::Error(status),
            None => OpResult::Response(response),
        });
        if std::mem::take(&mut s.script.empty_next) {
            result = None;
        }
        let mut op = Op {
            raw: ProtoOperation {
                id: id.clone(),
                description: "fake operation".into(),
                created_by: "user-1".into(),
                created_at: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                metadata: Some(metadata),
                ..Default::default()
            },
            gets: 0,
            result,
        };
        if s.script.gets_to_complete == 0 {
            finish(&mut op);
        }
        let raw = op.raw.clone();
        s.ops.insert(id, op);
        drop(s);
        self.respond(raw)
    }
}

fn finish(op: &mut Op) {
    op.raw.done = true;
    op.raw.result = op.result.clone();
}

fn customer_metadata(customer_id: &str) -> prost_types::Any {
    any(&CustomerMetadata {
        reseller_id: "reseller-1".into(),
        customer_id: customer_id.into(),
    })
}

fn customer(id: &str) -> prost_types::Any {
    any(&Customer {
        id: id.into(),
        billing_account_id: "ba-1".into(),
    })
}

#[tonic::async_trait]
impl CustomerService for Fake {
    async fn list(
        &self,
        request: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        let r = request.into_inner();
        if r.reseller_id.is_empty() {
            return Err(Status::invalid_argument("reseller_id is required"));
        }
        let total = self.state.lock().unwrap().script.customers;
        let size = if r.page_size <= 0 {
            10
        } else {
            r.page_size as u32
        };
        let start: u32 = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .parse()
                .map_err(|_| Status::invalid_argument("bad page_token"))?
        };
        let end = (start + size).min(total);
        Ok(Response::new(ListCustomersResponse {
            customers: (start..end)
                .map(|i| Customer {
                    id: format!("c{i}"),
                    billing_account_id: "ba-1".into(),
                })
                .collect(),
            next_page_token: if end < total {
                end.to_string()
            } else {
                String::new()
            },
        }))
    }

    async fn invite(
        &self,
        request: Request<InviteCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        if request.get_ref().invitation_email.is_empty() {
            return Err(Status::invalid_argument("invitation_email is required"));
        }
        Ok(self.start(&request, customer_metadata("new"), customer("invited")))
    }

    async fn create_reseller_served(
        &self,
        request: Request<CreateResellerServedCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        Ok(self.start(&request, customer_metadata("new"), customer("served")))
    }

    async fn activate(
        &self,
        request: Request<ActivateCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        let id = request.get_ref().customer_id.clone();
        Ok(self.start(&request, customer_metadata(&id), customer(&id)))
    }

    async fn suspend(
        &self,
        request: Request<SuspendCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        let id = request.get_ref().customer_id.clone();
        if id == "missing" {
            return Err(Status::not_found("customer missing not found"));
        }
        Ok(self.start(&request, customer_metadata(&id), customer(&id)))
    }
}

#[tonic::async_trait]
impl BillingAccountService for Fake {
    async fn get(
        &self,
        request: Request<GetBillingAccountRequest>,
    ) -> Result<Response<BillingAccount>, Status> {
        let id = request.into_inner().id;
        if id != "ba-1" {
            return Err(Status::not_found(format!("billing account {id} not found")));
        }
        Ok(Response::new(BillingAccount {
            id,
            name: "main".into(),
            ..Default::default()
        }))
    }

    async fn list(
        &self,
        _request: Request<ListBillingAccountsRequest>,
    ) -> Result<Response<ListBillingAccountsResponse>, Status> {
        Ok(Response::new(ListBillingAccountsResponse {
            billing_accounts: vec![BillingAccount {
                id: "ba-1".into(),
                ..Default::default()
            }],
            next_page_token: String::new(),
        }))
    }

    async fn list_billable_object_bindings(
        &self,
        request: Request<ListBillableObjectBindingsRequest>,
    ) -> Result<Response<ListBillableObjectBindingsResponse>, Status> {
        // Empty pages with tokens before the last one.
        let token = request.into_inner().page_token;
        let (items, next) = match token.as_str() {
            "" => (vec![], "p1"),
            "p1" => (vec![], "p2"),
            "p2" => (
                vec![BillableObjectBinding {
                    effective_time: None,
                    billable_object: Some(BillableObject::cloud("cloud-1")),
                }],
                "",
            ),
            _ => return Err(Status::invalid_argument("bad page_token")),
        };
        Ok(Response::new(ListBillableObjectBindingsResponse {
            billable_object_bindings: items,
            next_page_token: next.into(),
        }))
    }

    async fn bind_billable_object(
        &self,
        request: Request<BindBillableObjectRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        let object = request
            .get_ref()
            .billable_object
            .clone()
            .ok_or_else(|| Status::invalid_argument("billable_object is required"))?;
        let md = any(&BindBillableObjectMetadata {
            billable_object_id: object.id.clone(),
        });
        let resp = any(&BillableObjectBinding {
            effective_time: None,
            billable_object: Some(object),
        });
        Ok(self.start(&request, md, resp))
    }

    async fn list_access_bindings(
        &self,
        request: Request<ListAccessBindingsRequest>,
    ) -> Result<Response<ListAccessBindingsResponse>, Status> {
        if request.get_ref().resource_id.is_empty() {
            return Err(Status::invalid_argument("resource_id is required"));
        }
        Ok(Response::new(ListAccessBindingsResponse::default()))
    }

    async fn update_access_bindings(
        &self,
        request: Request<UpdateAccessBindingsRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        let r = request.get_ref();
        if r.access_binding_deltas.is_empty() {
            return Err(Status::invalid_argument(
                "access_binding_deltas: at least one is required",
            ));
        }
        let md = any(&UpdateAccessBindingsMetadata {
            resource_id: r.resource_id.clone(),
        });
        Ok(self.start(&request, md, any(&())))
    }
}

#[tonic::async_trait]
impl OperationService for Fake {
    async fn get(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let id = request.into_inner().operation_id;
        let mut s = self.state.lock().unwrap();
        let script = s.script.clone();
        let op = s
            .ops
            .get_mut(&id)
            .ok_or_else(|| Status::not_found(format!("operation {id} not found")))?;
        op.gets += 1;
        if op.gets <= script.not_found_gets {
            return Err(Status::not_found(format!("operation {id} not found")));
        }
        if op.gets <= script.not_found_gets + script.unavailable_gets {
            return Err(Status::unavailable("try again"));
        }
        if !op.raw.done
            && script.gets_to_complete != u32::MAX
            && op.gets - script.not_found_gets - script.unavailable_gets >= script.gets_to_complete
        {
            finish(op);
        }
        let raw = op.raw.clone();
        drop(s);
        Ok(self.respond(raw))
    }

    async fn cancel(
        &self,
        request: Request<CancelOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        let id = request.into_inner().operation_id;
        let mut s = self.state.lock().unwrap();
        let op = s
            .ops
            .get_mut(&id)
            .ok_or_else(|| Status::not_found(format!("operation {id} not found")))?;
        if !op.raw.done {
            op.raw.done = true;
            op.raw.result = Some(OpResult::Error(tonic_types::pb::Status {
                code: Code::Cancelled as i32,
                message: "cancelled by the user".into(),
                details: vec![],
            }));
        }
        Ok(Response::new(op.raw.clone()))
    }
}

async fn start(script: Script) -> (Fake, Client) {
    let fake = Fake::default();
    fake.script(|s| *s = script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(CustomerServiceServer::new(fake.clone()))
        .add_service(BillingAccountServiceServer::new(fake.clone()))
        .add_service(OperationServiceServer::new(fake.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    let client = Client::builder()
        .endpoint(format!("http://{addr}"))
        .iam_token("t1.fake")
        .retry_policy(RetryPolicy::standard().with_initial_backoff(Duration::from_millis(5)))
        .build()
        .await
        .unwrap();
    (fake, client)
}

fn fast() -> PollingPolicy {
    PollingPolicy::default()
        .with_initial_interval(Duration::from_millis(2))
        .with_max_interval(Duration::from_millis(20))
        .with_time_limit(Duration::from_secs(10))
}

#[tokio::test]
async fn operation_is_typed_and_waited_for() {
    let (fake, client) = start(Script {
        gets_to_complete: 3,
        ..Default::default()
    })
    .await;
    let op = client
        .customers()
        .invite(
            "reseller-1",
            "acme",
            "billing@acme.example",
            CustomerPerson::default(),
        )
        .idempotency_key("invite-acme")
        .await
        .unwrap();
    assert_eq!(op.id(), "op-1");
    assert_eq!(op.description(), "fake operation");
    assert_eq!(op.created_by(), "user-1");
    assert!(op.created_at().is_some());
    assert_eq!(op.modified_at(), None);
    assert!(!op.is_done());
    assert!(op.result().is_none());
    assert_eq!(op.metadata().unwrap().unwrap().customer_id, "new");
    let customer = op.wait_with(&fast()).await.unwrap();
    assert_eq!(customer.id, "invited");
    assert_eq!(fake.gets.load(Ordering::SeqCst), 3);
    assert_eq!(
        fake.state.lock().unwrap().idempotency_keys,
        [Some("invite-acme".to_owned())]
    );
}

#[tokio::test]
async fn every_operation_rpc_end_to_end() {
    let (fake, client) = start(Script {
        gets_to_complete: 1,
        ..Default::default()
    })
    .await;
    let c = client.customers();
    let served = c
        .create_reseller_served("reseller-1", "globex", CustomerPerson::default())
        .await
        .unwrap();
    assert_eq!(served.wait_with(&fast()).await.unwrap().id, "served");
    let activated = c.activate("c7").await.unwrap().wait().await.unwrap();
    assert_eq!(activated.id, "c7");
    let suspended = c.suspend("c7").await.unwrap().wait().await.unwrap();
    assert_eq!(suspended.id, "c7");
    let b = client.billing_accounts();
    let binding = b
        .bind_billable_object("ba-1", BillableObject::cloud("cloud-9"))
        .await
        .unwrap();
    assert_eq!(
        binding.metadata().unwrap().unwrap().billable_object_id,
        "cloud-9"
    );
    let binding = binding.wait().await.unwrap();
    assert_eq!(binding.billable_object.unwrap().r#type, "cloud");
    let update = b
        .update_access_bindings("ba-1")
        .add("billing.accounts.viewer", "userAccount", "u1")
        .remove("billing.accounts.editor", "userAccount", "u1");
    let deltas = &update.request().access_binding_deltas;
    assert_eq!(deltas.len(), 2);
    assert_eq!(deltas[0].action, AccessBindingAction::Add as i32);
    assert_eq!(deltas[1].action, AccessBindingAction::Remove as i32);
    let op = update.await.unwrap();
    assert_eq!(op.metadata().unwrap().unwrap().resource_id, "ba-1");
    let () = op.wait().await.unwrap();
    // Each mutating call got its own fresh idempotency key.
    let keys = fake.state.lock().unwrap().idempotency_keys.clone();
    assert_eq!(keys.len(), 5);
    assert!(keys.iter().all(Option::is_some));
}

#[tokio::test]
async fn call_errors_are_typed() {
    let (_fake, client) = start(Script::default()).await;
    let err = client.customers().list("").await.unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert!(
        err.as_rpc()
            .unwrap()
            .method
            .ends_with("CustomerService/List")
    );
    let err = client
        .customers()
        .invite("reseller-1", "acme", "", CustomerPerson::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    let err = client.customers().suspend("missing").await.unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
    let err = client.billing_accounts().get("nope").await.unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
    assert_eq!(
        client.billing_accounts().get("ba-1").await.unwrap().name,
        "main"
    );
    let err = client
        .billing_accounts()
        .update_access_bindings("ba-1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    let err = client
        .billing_accounts()
        .list_access_bindings("")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    let err = client.operations().get("op-404").await.unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
    let err = Operation::<CustomerMetadata, Customer>::resume(&client, "op-404")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
    // The raw stub is reachable with the client's layers.
    let page = client
        .billing_accounts()
        .raw()
        .list(ListBillingAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.billing_accounts.len(), 1);
}

#[tokio::test]
async fn failed_operation_becomes_operation_failed() {
    let (fake, client) = start(Script {
        gets_to_complete: 1,
        ..Default::default()
    })
    .await;
    let bad = tonic_types::pb::BadRequest {
        field_violations: vec![tonic_types::pb::bad_request::FieldViolation {
            field: "person.tin".into(),
            description: "invalid TIN".into(),
            ..Default::default()
        }],
    };
    fake.script(|s| {
        s.fail_next = Some(tonic_types::pb::Status {
            code: Code::FailedPrecondition as i32,
            message: "cannot activate".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
                value: bad.encode_to_vec(),
            }],
        })
    });
    let op = client.customers().activate("c1").await.unwrap();
    let id = op.id().to_owned();
    match op.wait_with(&fast()).await {
        Err(Error::OperationFailed(e)) => {
            assert_eq!(e.operation_id, id);
            assert_eq!(e.code, Code::FailedPrecondition);
            assert_eq!(e.message, "cannot activate");
            assert_eq!(
                e.details.bad_request().unwrap().field_violations[0].field,
                "person.tin"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn done_without_result_is_invalid() {
    let (fake, client) = start(Script {
        gets_to_complete: 1,
        ..Default::default()
    })
    .await;
    fake.script(|s| s.empty_next = true);
    let op = client.customers().activate("c1").await.unwrap();
    match op.wait_with(&fast()).await {
        Err(Error::InvalidOperation { operation_id, .. }) => assert_eq!(operation_id, "op-1"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn cancelled_operation_fails_with_cancelled() {
    let (_fake, client) = start(Script {
        gets_to_complete: u32::MAX,
        ..Default::default()
    })
    .await;
    let mut op = client.customers().activate("c1").await.unwrap();
    op.cancel().await.unwrap();
    assert!(op.is_done());
    let err = op.wait_with(&fast()).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Cancelled));
}

#[tokio::test]
async fn timeout_keeps_the_operation_and_resume_finishes_it() {
    let (fake, client) = start(Script {
        gets_to_complete: u32::MAX,
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    let started = Instant::now();
    let limit = Duration::from_millis(150);
    let operation = match op.wait_with(&fast().with_time_limit(limit)).await {
        Err(Error::OperationTimeout {
            operation,
            elapsed,
            attempts,
        }) => {
            assert!(elapsed >= limit, "{elapsed:?}");
            assert!(attempts >= 5, "{attempts}");
            assert_eq!(u64::from(attempts), fake.gets.load(Ordering::SeqCst));
            operation
        }
        other => panic!("{other:?}"),
    };
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!operation.done);
    // Attempt limit.
    let before = fake.gets.load(Ordering::SeqCst);
    let op = client.customers().activate("c2").await.unwrap();
    match op.wait_with(&fast().with_max_polls(4)).await {
        Err(Error::OperationTimeout { attempts, .. }) => assert_eq!(attempts, 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.gets.load(Ordering::SeqCst) - before, 4);
    // Resume the first one by id once the server finishes it.
    fake.script(|s| s.gets_to_complete = 1);
    let resumed = Operation::<CustomerMetadata, Customer>::resume(&client, &operation.id)
        .await
        .unwrap();
    assert_eq!(resumed.id(), operation.id);
    assert_eq!(resumed.wait_with(&fast()).await.unwrap().id, "c1");
    let raw = client.operations().get(&operation.id).await.unwrap();
    assert!(raw.done);
    let typed = client
        .operations()
        .resume::<CustomerMetadata, Customer>(&operation.id)
        .await
        .unwrap();
    assert!(typed.is_done());
    // Resumed with the wrong types: an error, not a panic or a default.
    let wrong =
        Operation::<CustomerMetadata, BillableObjectBinding>::resume(&client, &operation.id)
            .await
            .unwrap();
    assert!(matches!(
        wrong.wait().await,
        Err(Error::UnexpectedType { .. })
    ));
}

#[tokio::test]
async fn server_poll_hint_is_honoured() {
    let (fake, client) = start(Script {
        gets_to_complete: 3,
        hint: Some("0.1".into()),
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    assert_eq!(op.poll_hint(), Some(Duration::from_millis(100)));
    let started = Instant::now();
    // The policy alone would poll every 2 ms.
    op.wait_with(&fast()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(fake.gets.load(Ordering::SeqCst), 3);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

#[tokio::test]
async fn not_found_right_after_creation_is_tolerated() {
    let (fake, client) = start(Script {
        gets_to_complete: 1,
        not_found_gets: 2,
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    assert_eq!(op.wait_with(&fast()).await.unwrap().id, "c1");
    assert_eq!(fake.gets.load(Ordering::SeqCst), 3);
    // Without a grace period the first NOT_FOUND is final.
    let op = client.customers().activate("c2").await.unwrap();
    let err = op
        .wait_with(&fast().with_not_found_grace(Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
}

#[tokio::test]
async fn transient_get_failures_are_retried_by_the_client() {
    let (fake, client) = start(Script {
        gets_to_complete: 1,
        unavailable_gets: 2,
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    assert_eq!(op.wait_with(&fast()).await.unwrap().id, "c1");
    assert_eq!(fake.gets.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn watch_yields_states_until_done() {
    let (_fake, client) = start(Script {
        gets_to_complete: 3,
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    let states: Vec<_> = op.watch(fast()).try_collect().await.unwrap();
    assert_eq!(states.len(), 4, "the initial state and one per Get");
    assert_eq!(
        states.iter().map(|s| s.polls()).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(states[..3].iter().all(|s| !s.is_done()));
    let last = states.last().unwrap();
    assert!(last.is_done());
    assert_eq!(last.metadata().unwrap().unwrap().customer_id, "c1");
    assert_eq!(last.result().unwrap().unwrap().id, "c1");

    // With a callback.
    let op = client.customers().activate("c2").await.unwrap();
    let mut seen = 0;
    let c = op.wait_with_progress(&fast(), |_| seen += 1).await.unwrap();
    assert_eq!((c.id.as_str(), seen), ("c2", 4));

    // A watch that times out ends with the error.
    let (_fake, client) = start(Script {
        gets_to_complete: u32::MAX,
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c3").await.unwrap();
    let items: Vec<_> = op.watch(fast().with_max_polls(2)).collect().await;
    assert_eq!(items.len(), 4);
    assert!(matches!(
        items.last().unwrap(),
        Err(Error::OperationTimeout { attempts: 2, .. })
    ));
}

#[tokio::test]
async fn streams_across_pages() {
    let (_fake, client) = start(Script {
        customers: 23,
        ..Default::default()
    })
    .await;
    let all: Vec<Customer> = client
        .customers()
        .list("reseller-1")
        .page_size(5)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        (0..23).map(|i| format!("c{i}")).collect::<Vec<_>>()
    );
    let page = client
        .customers()
        .list("reseller-1")
        .page_size(5)
        .page_token("20")
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.is_last());
    // Empty pages with a token do not end the stream.
    let bindings: Vec<_> = client
        .billing_accounts()
        .list_billable_object_bindings("ba-1")
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(bindings.len(), 1);
    // An error is yielded once and ends the stream.
    let items: Vec<_> = client.customers().list("").stream().collect().await;
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());
    let accounts: Vec<_> = client
        .billing_accounts()
        .list()
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    let bindings = client
        .billing_accounts()
        .list_access_bindings("ba-1")
        .page_size(10)
        .await
        .unwrap();
    assert!(bindings.items.is_empty() && bindings.is_last());
}
