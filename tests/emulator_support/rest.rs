//! A small HTTP/1.1 and HTTP/2 JSON client of the emulator's REST port, over
//! real loopback TCP (hyper-util's client; TLS through tokio-rustls).

use std::time::Duration;

use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::bytes::Bytes;
use serde_json::Value;
use yc_billing::emulator::EmulatorHandle;

/// One REST answer: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Answer {
    /// The header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `message` of a REST error body.
    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or("")
    }

    /// The `field` of every `google.rpc.BadRequest` violation in `details`.
    pub fn bad_fields(&self) -> Vec<String> {
        self.json["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
            .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
            .map(|v| v["field"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// A REST client of one emulator, with a bearer token (or none).
#[derive(Clone)]
pub struct Rest {
    pub base: String,
    pub token: Option<String>,
    client: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Rest {
    /// As the default subject, over HTTP/1.1.
    pub fn new(emu: &EmulatorHandle) -> Self {
        Self::with_token(emu, Some(&emu.credentials().iam_token))
    }

    /// With this token (`None`: no `Authorization` header), over HTTP/1.1.
    pub fn with_token(emu: &EmulatorHandle, token: Option<&str>) -> Self {
        let base = emu.rest_endpoint().expect("the emulator serves REST");
        Self {
            base,
            token: token.map(str::to_owned),
            client: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The same, over HTTP/2 with prior knowledge (h2c).
    pub fn http2(mut self) -> Self {
        self.client = HyperClient::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        self
    }

    /// Sends a request with extra headers and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(v) => {
                req = req.header("Content-Type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(body)).expect("valid request");
        let resp = tokio::time::timeout(Duration::from_secs(30), self.client.request(req))
            .await
            .expect("REST answer within 30 s")
            .expect("REST request");
        read(resp).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// Polls `GET /operations/{id}` until the operation is done (at most 500 polls).
    pub async fn wait(&self, op: &Answer) -> Value {
        assert_eq!(op.status, 200, "{:?}", op.json);
        let id = op.json["id"].as_str().expect("operation id").to_owned();
        for _ in 0..500 {
            let got = self.get(&format!("/operations/{id}")).await;
            assert_eq!(got.status, 200, "{:?}", got.json);
            if got.json["done"] == true {
                return got.json;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("operation {id} not done after 500 polls");
    }
}

/// Reads a hyper response into an [`Answer`].
pub async fn read<B>(resp: http::Response<B>) -> Answer
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("REST body").to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "REST body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        json,
    }
}

/// One GET over TLS (trusting `ca_pem`) on a fresh connection: the ALPN
/// protocol negotiated and the answer.
pub async fn get_tls(
    emu: &EmulatorHandle,
    ca_pem: &[u8],
    path: &str,
    alpn: &[u8],
) -> (String, Answer) {
    use std::sync::Arc;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(emu.rest_addr().unwrap())
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the REST port");
    let negotiated =
        String::from_utf8_lossy(tls.get_ref().1.alpn_protocol().unwrap_or_default()).into_owned();
    let req = Request::builder()
        .uri(format!(
            "https://localhost:{}{path}",
            emu.rest_addr().unwrap().port()
        ))
        .header(
            "Authorization",
            format!("Bearer {}", emu.credentials().iam_token),
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let io = TokioIo::new(tls);
    let resp = if alpn == b"h2" {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    };
    (negotiated, read(resp).await)
}
