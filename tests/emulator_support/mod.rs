//! Shared helpers for the emulator integration tests.
#![allow(dead_code)]

pub mod rest;

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};
use yc_billing::auth::Credentials;
use yc_billing::emulator::EmulatorHandle;
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::customer_service_client::CustomerServiceClient;
use yc_billing::proto::yandex::cloud::endpoint::api_endpoint_service_client::ApiEndpointServiceClient;
use yc_billing::proto::yandex::cloud::iam::v1::iam_token_service_client::IamTokenServiceClient;
use yc_billing::proto::yandex::cloud::operation::GetOperationRequest;
use yc_billing::proto::yandex::cloud::operation::Operation;
use yc_billing::proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use yc_billing::{Client, ClientBuilder, RetryPolicy};

/// The standard retries with a 5 ms first backoff, so retried tests stay quick.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy::standard().initial_backoff(std::time::Duration::from_millis(5))
}

/// Builds a client the test has configured (from `emu.client_builder()`).
pub async fn build(builder: ClientBuilder) -> Client {
    builder.build().await.expect("client builds")
}

/// A client of the emulator with `credentials` and default settings.
pub async fn client_with(emu: &EmulatorHandle, credentials: Credentials) -> Client {
    build(emu.client_builder().credentials(credentials)).await
}

/// A client of the emulator with the IAM token `token` and [`quick_retries`].
pub async fn client_with_token(emu: &EmulatorHandle, token: &str) -> yc_billing::Result<Client> {
    emu.client_builder()
        .iam_token(token)
        .retry_policy(quick_retries())
        .build()
        .await
}

/// A client of the emulator as its default subject, with [`quick_retries`].
pub async fn client_for(emu: &EmulatorHandle) -> yc_billing::Result<Client> {
    client_with_token(emu, &emu.credentials().iam_token).await
}

/// Adds a fixed `authorization` header (or a raw header value) and extra headers.
#[derive(Clone, Default)]
pub struct Auth {
    pub authorization: Option<String>,
    pub extra: Vec<(&'static str, String)>,
}

impl Auth {
    pub fn bearer(token: &str) -> Self {
        Self {
            authorization: Some(format!("Bearer {token}")),
            extra: Vec::new(),
        }
    }
    pub fn with(mut self, name: &'static str, value: &str) -> Self {
        self.extra.push((name, value.to_string()));
        self
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(a) = &self.authorization {
            req.metadata_mut().insert(
                "authorization",
                MetadataValue::try_from(a.as_str()).unwrap(),
            );
        }
        for (k, v) in &self.extra {
            req.metadata_mut()
                .insert(*k, MetadataValue::try_from(v.as_str()).unwrap());
        }
        Ok(req)
    }
}

pub type Svc = InterceptedService<Channel, Auth>;

pub async fn channel(emu: &EmulatorHandle) -> Channel {
    Channel::from_shared(emu.endpoint())
        .unwrap()
        .connect()
        .await
        .expect("connect to emulator")
}

pub async fn customers(emu: &EmulatorHandle, auth: Auth) -> CustomerServiceClient<Svc> {
    CustomerServiceClient::with_interceptor(channel(emu).await, auth)
}
pub async fn accounts(emu: &EmulatorHandle, auth: Auth) -> BillingAccountServiceClient<Svc> {
    BillingAccountServiceClient::with_interceptor(channel(emu).await, auth)
}
pub async fn operations(emu: &EmulatorHandle, auth: Auth) -> OperationServiceClient<Svc> {
    OperationServiceClient::with_interceptor(channel(emu).await, auth)
}
pub async fn iam(emu: &EmulatorHandle, auth: Auth) -> IamTokenServiceClient<Svc> {
    IamTokenServiceClient::with_interceptor(channel(emu).await, auth)
}
pub async fn endpoints(emu: &EmulatorHandle, auth: Auth) -> ApiEndpointServiceClient<Svc> {
    ApiEndpointServiceClient::with_interceptor(channel(emu).await, auth)
}

pub fn owner(emu: &EmulatorHandle) -> Auth {
    Auth::bearer(&emu.credentials().iam_token)
}

/// Polls an operation until done (at most ~2 s).
pub async fn wait(ops: &mut OperationServiceClient<Svc>, op: Operation) -> Operation {
    let mut op = op;
    for _ in 0..200 {
        if op.done {
            return op;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        op = ops
            .get(GetOperationRequest {
                operation_id: op.id.clone(),
            })
            .await
            .expect("operation get")
            .into_inner();
    }
    panic!("operation {} did not finish", op.id);
}

/// The BadRequest field violations of an error.
pub fn bad_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Seconds since the Unix epoch, for JWT claims.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs `claims` as a PS256 service-account JWT with the key's private key
/// (real RSA signing), `kid` set to the key id.
pub fn sign_jwt(
    key: &yc_billing::emulator::ServiceAccountKeyFile,
    claims: serde_json::Value,
) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some(key.id.clone());
    let enc = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &enc).unwrap()
}

/// One call of the emulator's admin HTTP API over loopback: the status and
/// the JSON body (`Null` when empty).
pub async fn admin(
    emu: &EmulatorHandle,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let addr = emu.admin_addr().expect("the admin API runs").to_string();
    admin_at(&addr, method, path, body).await
}

/// [`admin`] of the admin API at `addr` (`127.0.0.1:P`).
pub async fn admin_at(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes_of::Bytes>>();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes_of::Bytes::from(
            body.unwrap_or("").to_string(),
        )))
        .expect("request builds");
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .expect("admin answers within 10 s")
        .expect("admin request succeeds");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("admin answers JSON")
    };
    (status, value)
}

/// The `Bytes` type the HTTP crates share.
mod bytes_of {
    pub use tonic::codegen::Bytes;
}

/// The `field: description` of each BadRequest field violation of a failed
/// call (empty when it is not an RPC error or has none).
pub fn violations(err: &yc_billing::Error) -> Vec<String> {
    err.as_rpc()
        .map(|r| {
            r.field_violations()
                .into_iter()
                .map(|(f, d)| format!("{f}: {d}"))
                .collect()
        })
        .unwrap_or_default()
}
