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
    /// `List` answers one customer and a token never seen before on every page.
    fresh_tokens: bool,
    /// `List` calls so far.
    lists: u32,
    /// `x-operation-poll-interval` on every `Get` answer.
    get_hint: Option<&'static str>,
    /// `Get` calls so far.
    gets: u32,
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
        let mut s = self.0.lock().unwrap();
        s.lists += 1;
        if s.fresh_tokens {
            return Ok(Response::new(ListCustomersResponse {
                customers: vec![Customer {
                    id: format!("c{}", s.lists),
                    billing_account_id: "ba-1".into(),
                }],
                next_page_token: format!("fresh-{}", s.lists),
            }));
        }
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
        let mut s = self.0.lock().unwrap();
        s.gets += 1;
        let mut response = Response::new(s.got.clone());
        if let Some(hint) = s.get_hint {
            response
                .metadata_mut()
                .insert("x-operation-poll-interval", hint.parse().unwrap());
        }
        Ok(response)
    }

    async fn cancel(
        &self,
        _: Request<CancelOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }
}

async fn start(script: Script) -> Client {
    start_shared(script).await.0
}

/// The client and the fake's script, to read its counters.
async fn start_shared(script: Script) -> (Client, Arc<Mutex<Script>>) {
    let script = Arc::new(Mutex::new(script));
    let fake = Fake(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(CustomerServiceServer::new(fake.clone()))
        .add_service(OperationServiceServer::new(fake))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    let client = Client::builder()
        .endpoint(format!("http://{addr}"))
        .iam_token("t1.fake")
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await
        .unwrap();
    (client, script)
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

#[tokio::test]
async fn cycling_page_tokens_end_the_stream_with_an_error() {
    let (client, script) = start_shared(Script {
        pages: vec![
            ("", vec!["c1"], "a"),
            ("a", vec!["c2"], "b"),
            ("b", vec!["c3"], "a"),
        ],
        ..Default::default()
    })
    .await;
    let items: Vec<_> = client
        .customers()
        .list("reseller-1")
        .stream()
        .take(50)
        .collect()
        .await;
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[2].as_ref().unwrap().id, "c3");
    match &items[3] {
        Err(Error::InvalidResponse { method, reason }) => {
            assert!(method.ends_with("CustomerService/List"), "{method}");
            assert!(
                reason.contains("\"a\"") && reason.contains("cycle"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(script.lock().unwrap().lists, 3);
}

#[tokio::test]
async fn fresh_page_tokens_end_the_stream_at_the_page_bound() {
    // The default bound (10,000 pages) is tested without a network in
    // `pagination::tests`; here the call's override, over gRPC.
    let (client, script) = start_shared(Script {
        fresh_tokens: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        client.max_pages(),
        yc_billing::pagination::DEFAULT_MAX_PAGES
    );
    let items: Vec<_> = client
        .customers()
        .list("reseller-1")
        .max_pages(30)
        .stream()
        .take(1000)
        .collect()
        .await;
    assert_eq!(items.len(), 31, "30 pages of one, then the error");
    assert!(items[..30].iter().all(Result::is_ok));
    match &items[30] {
        Err(e @ Error::TooManyPages { method, limit }) => {
            assert!(method.ends_with("CustomerService/List"), "{method}");
            assert_eq!(*limit, 30);
            assert!(e.to_string().contains("30 pages"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(script.lock().unwrap().lists, 30);
}

#[tokio::test]
async fn the_client_level_page_bound_is_checked_and_kept() {
    let build = |pages| {
        Client::builder()
            .endpoint("http://127.0.0.1:1")
            .iam_token("t1.fake")
            .max_pages(pages)
            .build()
    };
    match build(0).await {
        Err(Error::Config { field, .. }) => assert_eq!(field, "max_pages"),
        other => panic!("{other:?}"),
    }
    assert_eq!(build(7).await.unwrap().max_pages(), 7);
}

#[tokio::test]
async fn a_microsecond_poll_hint_is_raised_to_the_initial_interval() {
    let (client, script) = start_shared(Script {
        created: pending("op-1"),
        got: pending("op-1"),
        get_hint: Some("0.000001"),
        ..Default::default()
    })
    .await;
    let op = client.customers().activate("c1").await.unwrap();
    let policy = PollingPolicy::default()
        .with_initial_interval(Duration::from_millis(50))
        .with_time_limit(Duration::from_secs(1));
    let err = op.wait_with(&policy).await.unwrap_err();
    assert!(matches!(err, Error::OperationTimeout { .. }), "{err:?}");
    let gets = script.lock().unwrap().gets;
    // 1 s at one Get per 50 ms: about 20; without the floor, thousands.
    assert!((10..=25).contains(&gets), "{gets} Gets in a 1 s wait");
}

#[tokio::test]
async fn deadlines_beyond_what_grpc_timeout_carries_are_config_errors() {
    let huge = Duration::from_secs(5_000_000_000_000_000_000);
    let (client, _) = start_shared(Script {
        created: done("op-1", Some(OpResult::Response(customer()))),
        ..Default::default()
    })
    .await;
    // Per call: refused before anything is sent.
    for timeout in [huge, Duration::MAX] {
        match client.customers().activate("c1").timeout(timeout).await {
            Err(Error::Config { field, reason }) => {
                assert_eq!(field, "timeout");
                assert!(reason.contains("99999999"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // The largest the header carries works.
    let max = Duration::from_secs(99_999_999 * 3600);
    assert!(client.customers().activate("c1").timeout(max).await.is_ok());

    // Per client: refused by build().
    for (setting, builder) in [
        ("request_timeout", Client::builder().request_timeout(huge)),
        (
            "connect_timeout",
            Client::builder().connect_timeout(Duration::MAX),
        ),
    ] {
        match builder
            .endpoint("http://127.0.0.1:1")
            .iam_token("t1.fake")
            .build()
            .await
        {
            Err(Error::Config { field, .. }) => assert_eq!(field, setting),
            other => panic!("{setting}: {other:?}"),
        }
    }
}
