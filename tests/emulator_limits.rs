//! Limits of the emulator against hostile or careless callers: unknown
//! paths, oversized requests, unbounded values, stalled connections.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emulator_support::{Auth, owner};
use http::uri::PathAndQuery;
use tonic::Code;
use yc_billing::emulator::{DEFAULT_RESELLER_ID, Emulator};
use yc_billing::proto::yandex::cloud::billing::v1::{ListCustomersRequest, ListCustomersResponse};

/// Log capture for the current thread (the tests run on a current-thread
/// runtime, so the emulator's tasks log here too).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("yc_billing=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

/// A unary call of any path with a prost request.
async fn call_path<Req, Resp>(
    channel: tonic::transport::Channel,
    auth: &Auth,
    path: &str,
    req: Req,
) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(req);
    if let Some(a) = &auth.authorization {
        request
            .metadata_mut()
            .insert("authorization", a.parse().unwrap());
    }
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(request, PathAndQuery::from_str(path).unwrap(), codec)
        .await
        .map(tonic::Response::into_inner)
}

/// Item 8: unknown paths answer UNIMPLEMENTED, are not counted, and cost a
/// bounded amount of log, however many distinct ones arrive.
#[tokio::test]
async fn unknown_paths_leave_no_state_and_bounded_log() {
    let (logs, _guard) = capture_logs();
    let emu = Emulator::builder().start().await.unwrap();
    let served = emu.served_methods();
    assert!(
        served.contains(&"yandex.cloud.billing.v1.CustomerService/List".to_string()),
        "{served:?}"
    );
    assert!(
        served.contains(&"yandex.cloud.iam.v1.IamTokenService/Create".to_string()),
        "{served:?}"
    );
    let channel = emulator_support::channel(&emu).await;
    let auth = owner(&emu);
    const N: usize = 1000;
    let filler = "p".repeat(3 * 1024);
    for i in 0..N {
        let path = format!("/yandex.cloud.billing.v1.CustomerService/X{i}{filler}");
        let err = call_path::<_, ListCustomersResponse>(
            channel.clone(),
            &auth,
            &path,
            ListCustomersRequest::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{}", err.message());
        assert!(err.message().len() < 200, "{} bytes", err.message().len());
        assert_eq!(emu.calls(&path), 0, "an unknown path was counted");
    }
    // An unknown service too, without credentials.
    let err = call_path::<_, ListCustomersResponse>(
        channel.clone(),
        &Auth::default(),
        "/no.such.Service/Method",
        ListCustomersRequest::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert_eq!(emu.calls("no.such.Service/Method"), 0);
    // The counter's key set is exactly what it was at start.
    assert_eq!(emu.served_methods(), served);

    // A known method is still counted.
    let ok: ListCustomersResponse = call_path(
        channel,
        &auth,
        "/yandex.cloud.billing.v1.CustomerService/List",
        ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ok.customers.len(), 3);
    assert_eq!(emu.calls("yandex.cloud.billing.v1.CustomerService/List"), 1);
    emu.shutdown().await;

    let text = logs.text();
    let unknown_lines = text
        .lines()
        .filter(|l| l.contains("unknown method"))
        .count();
    assert!(
        (1..=2).contains(&unknown_lines),
        "{unknown_lines} log lines about unknown methods"
    );
    assert!(
        text.len() < 16 * 1024,
        "{N} unknown calls wrote {} bytes of log",
        text.len()
    );
}

/// Item 12: a request over the 4 MiB limit answers RESOURCE_EXHAUSTED naming
/// the limit (tonic's decoder says OUT_OF_RANGE).
#[tokio::test]
async fn request_over_the_size_limit_is_resource_exhausted() {
    let emu = Emulator::builder().start().await.unwrap();
    let mut c = emulator_support::customers(&emu, owner(&emu)).await;
    let err = c
        .list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            page_token: "t".repeat(5 * 1024 * 1024),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    assert!(err.message().contains("4194304"), "{}", err.message());
    // Just under the limit is decoded (and then fails validation on its merits).
    let err = c
        .list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            page_token: "t".repeat(4 * 1024 * 1024 - 100),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(err.message().len() < 1024, "{} bytes", err.message().len());
    // The connection is still good.
    let page = c
        .list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.into_inner().customers.len(), 3);
    emu.shutdown().await;
}

/// Reads from a raw connection until the server closes it; the time that took.
async fn closed_within(mut stream: tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let res = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    res.ok().map(|()| start.elapsed())
}

/// Item 10: silent TCP peers and half-sent HTTP/2 prefaces are closed after
/// the handshake timeout, while a real client is unaffected.
#[tokio::test]
async fn stalled_handshakes_are_closed() {
    use tokio::io::AsyncWriteExt;
    let emu = Emulator::builder()
        .handshake_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut stalled = Vec::new();
    for i in 0..30 {
        let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
        if i % 3 == 1 {
            s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        } else if i % 3 == 2 {
            s.write_all(b"\x16\x03\x01\x02\x00\x01").await.unwrap();
        }
        stalled.push(s);
    }
    // A real client keeps working meanwhile, past the timeout.
    let mut c = emulator_support::customers(&emu, owner(&emu)).await;
    let req = ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        ..Default::default()
    };
    assert_eq!(
        c.list(req.clone())
            .await
            .unwrap()
            .into_inner()
            .customers
            .len(),
        3
    );
    let waits = futures::future::join_all(
        stalled
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(5))),
    )
    .await;
    for (i, w) in waits.iter().enumerate() {
        let w = w.unwrap_or_else(|| panic!("stalled connection {i} still open after 5 s"));
        assert!(
            w < Duration::from_secs(2),
            "connection {i} closed after {w:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.list(req).await.unwrap().into_inner().customers.len(), 3);
    emu.shutdown().await;
}

/// Item 10: a peer that completes the HTTP/2 handshake and then goes silent
/// (never acknowledges a PING) is dropped by keepalive.
#[tokio::test]
async fn silent_http2_peer_is_dropped_by_keepalive() {
    use tokio::io::AsyncWriteExt;
    let emu = Emulator::builder()
        .handshake_timeout(Duration::from_millis(300))
        .http2_keepalive(Duration::from_millis(200), Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    // Client preface and an empty SETTINGS frame; then nothing, ever.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let w = closed_within(s, Duration::from_secs(5))
        .await
        .expect("a silent HTTP/2 peer was still connected after 5 s");
    // Past the handshake (so not the handshake timeout): interval + timeout.
    assert!(w < Duration::from_secs(3), "closed after {w:?}");
    emu.shutdown().await;
}

/// Item 9: echoed values are cut to 64 characters plus `…`; string fields
/// the protos leave unbounded are capped at 1024 characters; operation
/// descriptions at the documented 256.
#[tokio::test]
async fn echoed_values_are_truncated_and_unbounded_text_is_capped() {
    use yc_billing::emulator::{ECHO_CHARS, MAX_DESCRIPTION_CHARS, MAX_TEXT_CHARS};
    use yc_billing::proto::yandex::cloud::billing::v1::{CustomerPerson, InviteCustomerRequest};
    use yc_billing::proto::yandex::cloud::endpoint::GetApiEndpointRequest;
    use yc_billing::proto::yandex::cloud::operation::GetOperationRequest;
    assert_eq!(
        (ECHO_CHARS, MAX_TEXT_CHARS, MAX_DESCRIPTION_CHARS),
        (64, 1024, 256)
    );
    let emu = Emulator::builder().start().await.unwrap();
    let mut ops = emulator_support::operations(&emu, owner(&emu)).await;

    // A 1 MiB operation id: rejected, the field and the limit named, nothing echoed.
    let err = ops
        .get(GetOperationRequest {
            operation_id: "o".repeat(1024 * 1024),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "{}",
        err.message().chars().take(200).collect::<String>()
    );
    assert!(err.message().len() < 512, "{} bytes", err.message().len());
    assert!(err.message().contains("operation_id"), "{}", err.message());
    assert!(err.message().contains("1024"), "{}", err.message());
    assert_eq!(emulator_support::bad_fields(&err), vec!["operation_id"]);

    // Under the cap: NOT_FOUND, the id cut to 64 characters and `…`.
    let id = "é".repeat(1000);
    let err = ops
        .get(GetOperationRequest {
            operation_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    let shown = format!("{}…", "é".repeat(ECHO_CHARS));
    assert!(err.message().contains(&shown), "{}", err.message());
    assert!(!err.message().contains(&id), "the whole id was echoed");

    let mut eps = emulator_support::endpoints(&emu, Auth::default()).await;
    let err = eps
        .get(GetApiEndpointRequest {
            api_endpoint_id: "e".repeat(900),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().len() < 200, "{}", err.message());

    // A 3 MiB customer name and an over-long address are refused.
    let mut c = emulator_support::customers(&emu, owner(&emu)).await;
    let invite = |name: String, legal_address: String| InviteCustomerRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        name,
        invitation_email: "big@example.com".into(),
        person: Some(CustomerPerson {
            name: "Big".into(),
            legal_address,
            ..Default::default()
        }),
    };
    let before = emu.operation_count();
    let err = c
        .invite(invite("n".repeat(3 * 1024 * 1024), "a".repeat(2000)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().len() < 1024, "{} bytes", err.message().len());
    let mut fields = emulator_support::bad_fields(&err);
    fields.sort();
    assert_eq!(fields, vec!["name", "person.legal_address"]);
    assert!(err.message().contains("<=1024"), "{}", err.message());
    assert_eq!(emu.operation_count(), before, "nothing stored");

    // At the cap it is accepted; the description stays within 256 characters.
    let name = "N".repeat(MAX_TEXT_CHARS);
    let op = c
        .invite(invite(name.clone(), "a".repeat(MAX_TEXT_CHARS)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        op.description.chars().count() <= MAX_DESCRIPTION_CHARS,
        "{} characters",
        op.description.chars().count()
    );
    assert!(
        op.description
            .contains(&format!("{}…", "N".repeat(ECHO_CHARS)))
    );
    let done = emulator_support::wait(&mut ops, op).await;
    assert!(done.done);
    assert!(emu.customer_records().iter().any(|r| r.name == name));
    emu.shutdown().await;
}
