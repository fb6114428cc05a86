//! The metadata-service token source against a real HTTP server on loopback.
//!
//! The server is a few lines of plain Tokio (one request per connection,
//! `Connection: close`), so the test needs no optional feature.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use yc_billing::CredentialSource;
use yc_billing::auth::{
    Clock, Credentials, IamExchange, METADATA_TOKEN_PATH, ManualClock, MetadataTokenSource,
    TokenSource,
};
use yc_billing::region::Region;
use yc_billing::retry::Backoff;

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    flavor: Option<String>,
}

enum Reply {
    Status(u16, String),
    Hang,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

const TOKEN_JSON: &str =
    r#"{"access_token":"t1.from-metadata","expires_in":3600,"token_type":"Bearer"}"#;

fn ok() -> Reply {
    Reply::Status(200, TOKEN_JSON.into())
}

/// Serves `script` in order, then repeats its last reply. Like the real
/// service, answers 400 to a request without `Metadata-Flavor: Google`.
async fn serve(script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            let script = Arc::clone(&script);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let mut lines = head.split("\r\n");
                let mut request_line = lines.next().unwrap_or_default().split(' ');
                let method = request_line.next().unwrap_or_default().to_owned();
                let path = request_line.next().unwrap_or_default().to_owned();
                let flavor = lines.find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("metadata-flavor")
                        .then(|| value.trim().to_owned())
                });
                let reply = {
                    let mut script = script.lock().unwrap();
                    if script.len() > 1 {
                        script.pop_front().unwrap()
                    } else {
                        match script.front() {
                            Some(Reply::Status(code, body)) => Reply::Status(*code, body.clone()),
                            Some(Reply::Hang) | None => Reply::Hang,
                        }
                    }
                };
                let good_flavor = flavor.as_deref() == Some("Google");
                log.lock().unwrap().push(Seen {
                    method,
                    path,
                    flavor,
                });
                let (code, body) = match reply {
                    Reply::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    _ if !good_flavor => (400, "Missing Metadata-Flavor:Google header.".to_owned()),
                    Reply::Status(code, body) => (code, body),
                };
                let response = format!(
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    Server { addr, seen }
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

fn source(addr: &str, clock: &ManualClock) -> MetadataTokenSource {
    MetadataTokenSource::new(addr)
        .unwrap()
        .clock(Arc::new(clock.clone()))
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_secs(1),
        ))
        .timeout(Duration::from_millis(500))
}

#[tokio::test]
async fn fetches_the_token_with_the_metadata_flavor_header() {
    let server = serve(vec![ok()]).await;
    let clock = clock();
    let token = source(&server.addr.to_string(), &clock)
        .fetch()
        .await
        .unwrap();
    assert_eq!(token.secret(), "t1.from-metadata");
    assert_eq!(token.expires_at(), clock.now() + Duration::from_secs(3600));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, METADATA_TOKEN_PATH);
    assert_eq!(seen[0].flavor.as_deref(), Some("Google"));
}

#[tokio::test]
async fn retries_after_server_errors() {
    let server = serve(vec![
        Reply::Status(500, "oops".into()),
        Reply::Status(503, "busy".into()),
        ok(),
    ])
    .await;
    let token = source(&server.addr.to_string(), &clock())
        .fetch()
        .await
        .unwrap();
    assert_eq!(token.secret(), "t1.from-metadata");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn gives_up_after_the_configured_attempts() {
    let server = serve(vec![Reply::Status(500, "oops".into())]).await;
    let err = source(&server.addr.to_string(), &clock())
        .max_attempts(3)
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(err.credential_source(), CredentialSource::MetadataService);
    assert!(err.reason().contains("HTTP 500"), "{err}");
    assert!(err.reason().contains("after 3 attempt(s)"), "{err}");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn does_not_retry_client_errors_or_bad_documents() {
    let server = serve(vec![Reply::Status(404, "no sa".into())]).await;
    let err = source(&server.addr.to_string(), &clock())
        .fetch()
        .await
        .unwrap_err();
    assert!(err.reason().contains("service account attached"), "{err}");
    assert_eq!(server.seen().len(), 1);

    let server = serve(vec![Reply::Status(200, "<html>".into())]).await;
    let err = source(&server.addr.to_string(), &clock())
        .fetch()
        .await
        .unwrap_err();
    assert!(err.reason().contains("not a token document"), "{err}");
    assert_eq!(server.seen().len(), 1);

    let body = r#"{"access_token":"t1.secret-mac","expires_in":3600,"token_type":"MAC"}"#;
    let server = serve(vec![Reply::Status(200, body.into())]).await;
    let err = source(&server.addr.to_string(), &clock())
        .fetch()
        .await
        .unwrap_err();
    assert!(err.reason().contains("token_type \"MAC\""), "{err}");
    assert!(!err.to_string().contains("t1.secret-mac"), "{err}");
}

#[tokio::test]
async fn retries_connection_errors_and_times_out_slow_answers() {
    // A port that was just free: connection refused.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let err = source(&addr.to_string(), &clock())
        .max_attempts(2)
        .fetch()
        .await
        .unwrap_err();
    assert!(
        err.reason().contains("cannot reach the metadata service"),
        "{err}"
    );
    assert!(err.reason().contains("after 2 attempt(s)"), "{err}");

    let server = serve(vec![Reply::Hang]).await;
    let err = source(&server.addr.to_string(), &clock())
        .max_attempts(2)
        .timeout(Duration::from_millis(100))
        .fetch()
        .await
        .unwrap_err();
    assert!(err.reason().contains("did not answer within"), "{err}");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn credentials_with_an_explicit_address_go_through_the_cache() {
    let server = serve(vec![Reply::Status(502, "".into()), ok()]).await;
    let clock = clock();
    let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    let iam = IamExchange::new(channel, Region::Ru).clock(Arc::new(clock.clone()));
    // The same `host:port` form as `YC_METADATA_ADDR`; a URL form is tolerated.
    let credentials =
        Credentials::metadata_service_at(&format!("http://{}/", server.addr)).unwrap();
    let cache = credentials.into_cache(iam);
    let token = cache.token().await.unwrap();
    assert_eq!(token.secret(), "t1.from-metadata");
    assert_eq!(cache.token().await.unwrap(), token);
    assert_eq!(server.seen().len(), 2, "one 502, one success, then cached");
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.flavor.as_deref() == Some("Google"))
    );
}

#[tokio::test]
async fn a_malformed_answer_keeps_the_json_error_as_source() {
    let server = serve(vec![Reply::Status(200, "<html>".into())]).await;
    let err = source(&server.addr.to_string(), &clock())
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), yc_billing::error::AuthErrorKind::Source);
    let cause = std::error::Error::source(&err).expect("the JSON error is the source");
    assert!(
        cause.downcast_ref::<serde_json::Error>().is_some(),
        "{cause:?}"
    );
}
