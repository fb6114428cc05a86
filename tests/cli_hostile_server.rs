//! The `yc-billing` binary in front of a hostile server: a real tonic server
//! on 127.0.0.1 that implements the generated service traits with answers a
//! correct server never gives (page tokens that cycle or are new on every
//! page, a polling hint of a microsecond, operations done with neither error
//! nor response, timestamps out of range, control characters in names and
//! messages), plus durations no deadline can carry. Each case checks that the
//! CLI ends quickly, says what is wrong, exits non-zero and writes no raw
//! control character to the terminal.
#![cfg(feature = "cli")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use prost::{Message, Name};
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use yc_billing::proto::yandex::cloud::access::{
    ListAccessBindingsRequest, ListAccessBindingsResponse, UpdateAccessBindingsRequest,
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

mod cli_support;
use cli_support::{Out, command, output_within};

/// A name that retitles the terminal window and clears the screen.
const EVIL: &str = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}31m\u{202e}gnp.exe";

/// How `BillingAccountService.List` pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paging {
    /// `"" → a → b → a → …`
    Cycle,
    /// A token never seen before on every page.
    Fresh,
    /// One page of accounts with control characters in their names.
    Evil,
}

#[derive(Clone)]
struct Hostile {
    paging: Paging,
    lists: Arc<AtomicU32>,
    gets: Arc<AtomicU32>,
}

fn any<T: Message + Name>(m: &T) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{}", T::full_name()),
        value: m.encode_to_vec(),
    }
}

fn account(id: &str, name: &str) -> BillingAccount {
    BillingAccount {
        id: id.into(),
        name: name.into(),
        currency: "RUB".into(),
        ..Default::default()
    }
}

/// `len` bytes of coloured text with carriage returns and a screen clear.
fn long_evil_message(len: usize) -> String {
    let mut m = String::from("denied\u{1b}[2J\u{1b}[H");
    while m.len() < len {
        m.push_str("\u{1b}[31mred\u{1b}[0m\r overwritten ");
    }
    m
}

/// A response carrying the microsecond polling hint.
fn hinted<T>(message: T) -> Response<T> {
    let mut r = Response::new(message);
    r.metadata_mut()
        .insert("x-operation-poll-interval", "0.000001".parse().unwrap());
    r
}

fn metadata() -> prost_types::Any {
    any(&CustomerMetadata {
        reseller_id: "reseller-1".into(),
        customer_id: "c1".into(),
    })
}

/// The operation `id` as the fake knows it.
fn operation(id: &str) -> Result<ProtoOperation, Status> {
    let base = ProtoOperation {
        id: id.into(),
        description: "Activate customer c1".into(),
        metadata: Some(metadata()),
        ..Default::default()
    };
    let out_of_range = prost_types::Timestamp {
        seconds: i64::MAX,
        nanos: 0,
    };
    Ok(match id {
        // Never done.
        "op-pending" => base,
        "op-empty" => ProtoOperation { done: true, ..base },
        "op-ts" => ProtoOperation {
            done: true,
            created_at: Some(out_of_range),
            result: Some(OpResult::Response(any(&Customer {
                id: "c1".into(),
                billing_account_id: "ba1".into(),
            }))),
            ..base
        },
        "op-any-ts" => ProtoOperation {
            done: true,
            result: Some(OpResult::Response(any(&BillingAccount {
                created_at: Some(out_of_range),
                ..account("ba1", "fine")
            }))),
            ..base
        },
        "op-evil" => ProtoOperation {
            done: true,
            description: EVIL.into(),
            result: Some(OpResult::Error(tonic_types::pb::Status {
                code: tonic::Code::FailedPrecondition as i32,
                message: long_evil_message(12 * 1024),
                details: vec![],
            })),
            ..base
        },
        _ => return Err(Status::not_found("no such operation")),
    })
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not scripted"))
}

#[tonic::async_trait]
impl BillingAccountService for Hostile {
    async fn get(
        &self,
        request: Request<GetBillingAccountRequest>,
    ) -> Result<Response<BillingAccount>, Status> {
        let id = request.into_inner().id;
        if id == "evil" {
            return Ok(Response::new(account("evil", EVIL)));
        }
        if id == "bad-field" {
            let mut details = ErrorDetails::new();
            details.add_bad_request_violation(format!("id {EVIL}"), format!("must be {EVIL}"));
            return Err(Status::with_error_details(
                tonic::Code::InvalidArgument,
                format!("invalid{EVIL}"),
                details,
            ));
        }
        // 8 KB: percent-encoded in the `grpc-message` trailer, 12 KB would
        // pass the client's 16 KiB header limit (the 12 KB case is the
        // operation error of `op-evil`, in a message body).
        Err(Status::invalid_argument(long_evil_message(8 * 1024)))
    }

    async fn list(
        &self,
        request: Request<ListBillingAccountsRequest>,
    ) -> Result<Response<ListBillingAccountsResponse>, Status> {
        let n = self.lists.fetch_add(1, Ordering::SeqCst);
        let token = request.into_inner().page_token;
        let (accounts, next) = match self.paging {
            Paging::Cycle => (
                vec![account(&format!("ba-{n}"), "cycle")],
                if token == "a" { "b" } else { "a" }.to_owned(),
            ),
            Paging::Fresh => (
                vec![account(&format!("ba-{n}"), "fresh")],
                format!("fresh-{n}"),
            ),
            Paging::Evil => (
                vec![account("ba-1", EVIL), account("ba-2", "plain")],
                String::new(),
            ),
        };
        Ok(Response::new(ListBillingAccountsResponse {
            billing_accounts: accounts,
            next_page_token: next,
        }))
    }

    async fn list_billable_object_bindings(
        &self,
        _: Request<ListBillableObjectBindingsRequest>,
    ) -> Result<Response<ListBillableObjectBindingsResponse>, Status> {
        unimplemented()
    }

    async fn bind_billable_object(
        &self,
        _: Request<BindBillableObjectRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }

    async fn list_access_bindings(
        &self,
        _: Request<ListAccessBindingsRequest>,
    ) -> Result<Response<ListAccessBindingsResponse>, Status> {
        unimplemented()
    }

    async fn update_access_bindings(
        &self,
        _: Request<UpdateAccessBindingsRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        unimplemented()
    }
}

#[tonic::async_trait]
impl CustomerService for Hostile {
    async fn list(
        &self,
        _: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        unimplemented()
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
        Ok(hinted(operation("op-pending")?))
    }

    async fn suspend(
        &self,
        _: Request<SuspendCustomerRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        Ok(Response::new(operation("op-evil")?))
    }
}

#[tonic::async_trait]
impl OperationService for Hostile {
    async fn get(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        Ok(hinted(operation(&request.into_inner().operation_id)?))
    }

    async fn cancel(
        &self,
        request: Request<CancelOperationRequest>,
    ) -> Result<Response<ProtoOperation>, Status> {
        Ok(Response::new(operation(
            &request.into_inner().operation_id,
        )?))
    }
}

struct Server {
    addr: String,
    lists: Arc<AtomicU32>,
    gets: Arc<AtomicU32>,
}

async fn start(paging: Paging) -> Server {
    let fake = Hostile {
        paging,
        lists: Arc::default(),
        gets: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = Server {
        addr,
        lists: fake.lists.clone(),
        gets: fake.gets.clone(),
    };
    let serve = tonic::transport::Server::builder()
        .add_service(BillingAccountServiceServer::new(fake.clone()))
        .add_service(CustomerServiceServer::new(fake.clone()))
        .add_service(OperationServiceServer::new(fake))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(serve);
    server
}

/// Runs the binary against `server`, giving it at most 20 s.
async fn cli(server: &Server, args: &[&str]) -> Out {
    let mut cmd = command(&[
        "--endpoint",
        &server.addr,
        "--plaintext",
        "--iam-token",
        "t1.hostile",
    ]);
    cmd.args(args);
    output_within(cmd, Duration::from_secs(20)).await
}

/// No C0 (but the line ends), DEL, C1 or bidi-override character.
fn assert_no_control(what: &str, text: &str) {
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }) {
        let from = text[..i].char_indices().rev().nth(20).map_or(0, |(j, _)| j);
        panic!("{what} holds {c:?} at byte {i}, after {:?}", &text[from..i]);
    }
}

fn assert_no_panic(out: &Out) {
    assert!(
        !out.stderr.contains("panicked"),
        "the CLI panicked:\n{}",
        out.stderr
    );
}

// ---- item 14: paging that never ends ----

#[tokio::test]
async fn cycling_page_tokens_end_the_listing_with_an_error() {
    let server = start(Paging::Cycle).await;
    let out = cli(&server, &["--timeout", "5s", "accounts", "list"]).await;
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("BillingAccountService/List") && out.stderr.contains("cycle"),
        "{}",
        out.stderr
    );
    assert_eq!(
        server.lists.load(Ordering::SeqCst),
        3,
        "\"\", a, b: then a again"
    );
    assert!(out.took < Duration::from_secs(10), "{:?}", out.took);
}

#[tokio::test]
async fn fresh_page_tokens_end_at_the_page_bound() {
    let server = start(Paging::Fresh).await;
    let out = cli(
        &server,
        &["--timeout", "5s", "accounts", "list", "--max-pages", "50"],
    )
    .await;
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("50 pages") && out.stderr.contains("--max-pages"),
        "{}",
        out.stderr
    );
    assert_eq!(server.lists.load(Ordering::SeqCst), 50);

    let out = cli(&server, &["accounts", "list", "--max-pages", "0"]).await;
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("--max-pages"), "{}", out.stderr);
}

// ---- item 15: the polling hint ----

#[tokio::test]
async fn a_microsecond_poll_hint_does_not_flood_the_server() {
    let server = start(Paging::Evil).await;
    let out = cli(
        &server,
        &["customers", "activate", "c1", "--wait-timeout", "1s"],
    )
    .await;
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("op-pending"), "{}", out.stderr);
    let gets = server.gets.load(Ordering::SeqCst);
    // The hint is raised to the policy's initial interval (250 ms): about 4 in 1 s.
    assert!((2..=6).contains(&gets), "{gets} Gets in a 1 s wait");
}

// ---- item 16: durations no deadline can carry ----

#[tokio::test]
async fn huge_durations_are_usage_errors_naming_the_option() {
    let server = start(Paging::Evil).await;
    for value in [
        "18446744073709551616s",
        "99999999999999999999999h",
        "5000000000000000000s",
        "100000000h",
        "1e400",
    ] {
        for args in [
            vec!["--timeout", value, "accounts", "get", "evil"],
            vec!["operations", "wait", "op-pending", "--wait-timeout", value],
            vec!["customers", "activate", "c1", "--wait-timeout", value],
        ] {
            let out = cli(&server, &args).await;
            assert_no_panic(&out);
            assert_eq!(out.code, 2, "{args:?}: stderr:\n{}", out.stderr);
            let option = if args[0] == "--timeout" {
                "--timeout"
            } else {
                "--wait-timeout"
            };
            assert!(out.stderr.contains(option), "{args:?}: {}", out.stderr);
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        }
    }
    // The largest the gRPC deadline header carries is still accepted.
    let out = cli(
        &server,
        &["--timeout", "99999999h", "accounts", "get", "evil"],
    )
    .await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
}

// ---- item 17: control characters from the server ----

#[tokio::test]
async fn table_output_escapes_control_characters() {
    let server = start(Paging::Evil).await;
    let out = cli(&server, &["--format", "table", "accounts", "list"]).await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert_no_control("stdout", &out.stdout);
    assert!(
        out.stdout
            .contains(r"evil\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}31m\u{202e}gnp.exe"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("plain"), "{}", out.stdout);

    let out = cli(&server, &["--format", "table", "accounts", "get", "evil"]).await;
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert_no_control("stdout", &out.stdout);
    assert!(out.stdout.contains(r"\u{1b}]0;pwned"), "{}", out.stdout);

    // JSON stays as serde_json writes it: valid JSON holding the exact name.
    let out = cli(&server, &["accounts", "get", "evil"]).await;
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["name"], EVIL);
}

#[tokio::test]
async fn error_messages_escape_control_characters_and_are_cut_for_humans() {
    let server = start(Paging::Evil).await;
    let out = cli(&server, &["accounts", "get", "bad"]).await;
    assert_eq!(out.code, 5, "stderr:\n{}", out.stderr);
    assert_no_control("stderr", &out.stderr);
    assert!(
        out.stderr
            .starts_with(r"error: denied\u{1b}[2J\u{1b}[H\u{1b}[31mred"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("more characters"), "{}", out.stderr);
    assert!(out.stderr.len() < 6 * 1024, "{} bytes", out.stderr.len());

    let out = cli(&server, &["accounts", "get", "bad-field"]).await;
    assert_eq!(out.code, 5, "stderr:\n{}", out.stderr);
    assert_no_control("stderr", &out.stderr);
    assert!(
        out.stderr.contains(
            r"field id evil\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}31m\u{202e}gnp.exe: must be"
        ),
        "{}",
        out.stderr
    );

    // A failed operation: its message and description.
    for args in [
        vec!["operations", "wait", "op-evil"],
        vec!["customers", "suspend", "c1"],
    ] {
        let out = cli(&server, &args).await;
        assert_eq!(out.code, 1, "{args:?}: stderr:\n{}", out.stderr);
        assert_no_control("stderr", &out.stderr);
        assert!(out.stderr.contains(r"\u{1b}]0;pwned"), "{}", out.stderr);
        assert!(out.stderr.contains("more characters"), "{}", out.stderr);
        assert!(out.stderr.len() < 6 * 1024, "{} bytes", out.stderr.len());
    }
}

// ---- item 18: malformed operations ----

#[tokio::test]
async fn operations_done_with_neither_error_nor_response_fail() {
    let server = start(Paging::Evil).await;
    for cmd in ["get", "wait", "cancel"] {
        let out = cli(&server, &["operations", cmd, "op-empty"]).await;
        assert_eq!(
            out.code, 1,
            "{cmd}: stdout:\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        );
        assert!(
            out.stderr.contains(
                "operation op-empty is malformed: done, but carries neither error nor response"
            ),
            "{cmd}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{cmd}: {}", out.stdout);
    }
}

#[tokio::test]
async fn timestamps_out_of_range_say_what_and_where() {
    let server = start(Paging::Evil).await;
    for (id, path) in [("op-ts", "createdAt"), ("op-any-ts", "response.createdAt")] {
        let out = cli(&server, &["operations", "get", id]).await;
        assert_no_panic(&out);
        assert_eq!(out.code, 1, "{id}: stderr:\n{}", out.stderr);
        assert!(
            !out.stderr.contains("unexpected Any type"),
            "{}",
            out.stderr
        );
        for part in [
            "yandex.cloud.operation.Operation",
            &format!("{path}:"),
            "seconds 9223372036854775807",
            "out of range",
            "0001-01-01T00:00:00Z",
        ] {
            assert!(
                out.stderr.contains(part),
                "{id}: no {part:?} in {}",
                out.stderr
            );
        }
    }
}
