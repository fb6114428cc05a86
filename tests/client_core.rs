//! The client core end to end against the emulator over loopback TCP:
//! every credential kind, the token cache across expiries, retries,
//! idempotent retries of lost responses, TLS, the plaintext guard and
//! secret redaction.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::sync::Arc;
use std::time::Duration;

use emulator_support::{build, client_with};
use yc_billing::auth::{Credentials, ManualClock, ServiceAccountKey};
use yc_billing::emulator::{Emulator, EmulatorHandle, Faults};
use yc_billing::proto::yandex::cloud::billing::v1::{
    BillingAccount, CustomerPerson, GetBillingAccountRequest, InviteCustomerRequest,
    billing_account_service_client::BillingAccountServiceClient,
    customer_service_client::CustomerServiceClient,
};
use yc_billing::proto::yandex::cloud::operation::Operation;
use yc_billing::region::Service;
use yc_billing::{CallOptions, Client, Error, RetryPolicy};

const GET: &str = "/yandex.cloud.billing.v1.BillingAccountService/Get";
const INVITE: &str = "/yandex.cloud.billing.v1.CustomerService/Invite";
const IAM_CREATE: &str = "yandex.cloud.iam.v1.IamTokenService/Create";

async fn emulator() -> EmulatorHandle {
    Emulator::builder().start().await.expect("emulator starts")
}

async fn get_account(
    client: &Client,
    id: &str,
    opts: &CallOptions,
) -> yc_billing::Result<BillingAccount> {
    let stub = BillingAccountServiceClient::new(client.billing_transport());
    client
        .execute(GET, GetBillingAccountRequest { id: id.into() }, opts, |r| {
            let mut s = stub.clone();
            async move { s.get(r).await }
        })
        .await
        .map(|r| r.into_inner())
}

async fn invite(
    client: &Client,
    reseller: &str,
    n: usize,
    opts: &CallOptions,
) -> yc_billing::Result<Operation> {
    let stub = CustomerServiceClient::new(client.billing_transport());
    let req = InviteCustomerRequest {
        reseller_id: reseller.into(),
        name: format!("customer {n}"),
        invitation_email: format!("c{n}@example.com"),
        person: Some(CustomerPerson {
            name: format!("Person {n}"),
            ..Default::default()
        }),
    };
    client
        .execute(INVITE, req, opts, |r| {
            let mut s = stub.clone();
            async move { s.invite(r).await }
        })
        .await
        .map(|r| r.into_inner())
}

/// An emulator and an OAuth client sharing one virtual clock, so that
/// expiries are crossed without sleeping.
async fn shared_clock_oauth() -> (ManualClock, EmulatorHandle, Client) {
    let clock = ManualClock::default();
    let emu = Emulator::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .unwrap();
    let oauth = emu.credentials().oauth_token.clone();
    let client = build(
        emu.client_builder()
            .credentials(Credentials::oauth_token(oauth))
            .clock(Arc::new(clock.clone())),
    )
    .await;
    (clock, emu, client)
}

#[tokio::test]
async fn static_iam_token_end_to_end() {
    let emu = emulator().await;
    let creds = emu.credentials().clone();
    let client = client_with(&emu, Credentials::iam_token(creds.iam_token.clone())).await;
    let account = get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(account.id, creds.reseller_id);
    assert_eq!(emu.iam_exchanges(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn oauth_token_is_exchanged_once_and_reused() {
    let emu = emulator().await;
    let creds = emu.credentials().clone();
    let client = client_with(&emu, Credentials::oauth_token(creds.oauth_token.clone())).await;
    for _ in 0..5 {
        get_account(&client, &creds.reseller_id, &CallOptions::new())
            .await
            .unwrap();
    }
    assert_eq!(emu.iam_exchanges(), 1);
    assert_eq!(emu.calls(IAM_CREATE), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn service_account_key_jwt_is_verified_by_the_server() {
    let emu = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let key_json = emu
        .create_service_account_key("ajetestsa0000000001")
        .to_json();
    let key = ServiceAccountKey::from_json(&key_json).unwrap();
    let client = client_with(&emu, Credentials::service_account_key(key)).await;
    get_account(&client, &reseller, &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(emu.iam_exchanges(), 1);

    // A key the server does not know is refused, and the error names the source.
    let other = Emulator::builder().start().await.unwrap();
    let foreign =
        ServiceAccountKey::from_json(&other.create_service_account_key("ajeforeign").to_json())
            .unwrap();
    let client = client_with(&emu, Credentials::service_account_key(foreign)).await;
    let err = get_account(&client, &reseller, &CallOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("service-account key"), "{err}");
    other.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn metadata_service_credentials_end_to_end() {
    let emu = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let addr = emu.metadata_addr().expect("metadata server runs");
    let creds = Credentials::metadata_service_at(&addr.to_string()).unwrap();
    let client = client_with(&emu, creds).await;
    get_account(&client, &reseller, &CallOptions::new())
        .await
        .unwrap();
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_crossing_expiry_is_refreshed_with_no_failed_call() {
    let (clock, emu, client) = shared_clock_oauth().await;
    let creds = emu.credentials().clone();
    get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(emu.iam_exchanges(), 1);
    // Cross the 12 h expiry in steps, calling all along: no call fails.
    for _ in 0..26 {
        clock.advance(Duration::from_secs(30 * 60));
        for _ in 0..3 {
            get_account(&client, &creds.reseller_id, &CallOptions::new())
                .await
                .unwrap();
        }
    }
    let exchanges = emu.iam_exchanges();
    assert!(
        exchanges >= 2,
        "the token was refreshed ({exchanges} exchanges)"
    );
    assert!(
        exchanges <= 14,
        "refreshed at most about hourly ({exchanges} exchanges)"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_at_expiry_cause_one_exchange() {
    let (clock, emu, client) = shared_clock_oauth().await;
    let creds = emu.credentials().clone();
    get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(emu.iam_exchanges(), 1);
    clock.advance(Duration::from_secs(13 * 3600));
    let mut tasks = Vec::new();
    // 10,000 in flight on one channel: more than the server's stream limit,
    // so h2 must queue them client-side rather than lose the connection.
    for _ in 0..10_000 {
        let client = client.clone();
        let id = creds.reseller_id.clone();
        tasks.push(tokio::spawn(async move {
            get_account(&client, &id, &CallOptions::new()).await
        }));
    }
    let mut failed = 0;
    for t in tasks {
        if t.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 0);
    assert_eq!(
        emu.iam_exchanges(),
        2,
        "exactly one exchange for 10,000 callers"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_refresh_keeps_the_old_token() {
    let (clock, emu, client) = shared_clock_oauth().await;
    let creds = emu.credentials().clone();
    get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap();
    emu.set_faults(Faults::default().fail_first(IAM_CREATE, 3, tonic::Code::Unavailable));
    // Into the early-refresh window, still valid: the refresh fails, calls do not.
    clock.advance(Duration::from_secs(12 * 3600 - 4 * 60));
    for _ in 0..10 {
        get_account(&client, &creds.reseller_id, &CallOptions::new())
            .await
            .unwrap();
        clock.advance(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(emu.calls(IAM_CREATE) >= 2, "refresh was attempted");
    emu.shutdown().await;
}

#[tokio::test]
async fn unavailable_is_retried_and_then_reported_with_request_ids() {
    let emu = Emulator::builder()
        .faults(Faults::default().fail_first(&GET[1..], 2, tonic::Code::Unavailable))
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    let client = client_with(&emu, Credentials::iam_token(creds.iam_token.clone())).await;
    let fast = RetryPolicy::standard().initial_backoff(Duration::from_millis(5));
    get_account(
        &client,
        &creds.reseller_id,
        &CallOptions::new().retry_policy(fast),
    )
    .await
    .unwrap();
    assert_eq!(emu.calls(&GET[1..]), 3);

    emu.set_faults(Faults::default().fail_first(&GET[1..], 1, tonic::Code::Unavailable));
    let err = get_account(
        &client,
        &creds.reseller_id,
        &CallOptions::new().retry_policy(RetryPolicy::disabled()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable));
    let rpc = err.as_rpc().unwrap();
    assert!(rpc.request_id().is_some(), "{rpc:?}");
    assert!(rpc.client_request_id().is_some());
    emu.shutdown().await;
}

#[tokio::test]
async fn errors_carry_the_servers_request_id_and_details() {
    let emu = emulator().await;
    let creds = emu.credentials().clone();
    let client = client_with(&emu, Credentials::iam_token(creds.iam_token.clone())).await;
    let err = get_account(&client, "no-such-account", &CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::NotFound));
    let rpc = err.as_rpc().unwrap();
    assert_eq!(
        rpc.request_id(),
        rpc.client_request_id(),
        "the emulator echoes x-client-request-id"
    );
    assert!(err.to_string().contains("request id"), "{err}");

    let err = get_account(&client, "", &CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::InvalidArgument));
    let violations = err.as_rpc().unwrap().field_violations();
    assert!(violations.iter().any(|(f, _)| *f == "id"), "{violations:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn lost_responses_on_invite_are_retried_with_the_same_key() {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(1))
        .faults(Faults::default().lost_response_rate(0.4).random_seed(7))
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    let client = client_with(&emu, Credentials::iam_token(creds.iam_token.clone())).await;
    let before = emu.customers().len();
    let policy = RetryPolicy::standard()
        .max_attempts(12)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(10));
    let mut ids = std::collections::HashSet::new();
    for n in 0..30 {
        let op = invite(
            &client,
            &creds.reseller_id,
            n,
            &CallOptions::new().retry_policy(policy.clone()),
        )
        .await
        .unwrap();
        assert!(ids.insert(op.id.clone()), "one operation per invite");
    }
    assert!(
        emu.calls(&INVITE[1..]) > 30,
        "some responses were lost and retried"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        emu.customers().len(),
        before + 30,
        "exactly one customer per invite"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn tls_with_a_self_signed_ca() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();

    let emu = Emulator::builder()
        .tls(cert.pem().into_bytes(), key.serialize_pem().into_bytes())
        .start()
        .await
        .unwrap();
    assert!(emu.endpoint().starts_with("https://"), "{}", emu.endpoint());
    let creds = emu.credentials().clone();
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .ca_certificate(ca.pem().into_bytes())
        .iam_token(creds.iam_token.clone())
        .build()
        .await
        .unwrap();
    get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap();

    // The public roots do not trust the emulator's CA.
    let untrusting = Client::builder()
        .endpoint(emu.endpoint())
        .iam_token(creds.iam_token.clone())
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await
        .unwrap();
    let err = get_account(&untrusting, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens_never_go_over_plaintext_to_remote_hosts() {
    let err = Client::builder()
        .endpoint("http://billing.example.com:8080")
        .iam_token("t1.secret-token")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("plaintext"), "{err}");
    assert!(!err.to_string().contains("secret-token"));
    // Loopback, and an explicit opt-in, are allowed (channels connect lazily).
    Client::builder()
        .endpoint("http://127.0.0.1:1")
        .iam_token("t")
        .build()
        .await
        .unwrap();
    Client::builder()
        .endpoint("billing.example.com:8080")
        .plaintext(true)
        .allow_plaintext_bearer_to_remote(true)
        .iam_token("t")
        .build()
        .await
        .unwrap();
    // Bad settings name the field.
    let err = Client::builder()
        .endpoint("no-port")
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("endpoint"), "{err}");
    let err = Client::builder()
        .request_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("request_timeout"), "{err}");
}

#[tokio::test]
async fn discovery_finds_the_emulators_endpoints() {
    let emu = emulator().await;
    let creds = emu.credentials().clone();
    let client = Client::builder()
        .discovery_endpoint(emu.endpoint())
        .plaintext(true)
        .iam_token(creds.iam_token.clone())
        .build()
        .await
        .unwrap();
    let billing = client.endpoint(Service::Billing).unwrap();
    assert!(
        billing.contains(&emu.addr().port().to_string()),
        "{billing}"
    );
    get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn the_deadline_bounds_the_call_and_is_not_retried() {
    let emu = Emulator::builder()
        .faults(Faults::default().latency(Duration::from_millis(400)))
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    let client = client_with(&emu, Credentials::iam_token(creds.iam_token.clone())).await;
    let started = std::time::Instant::now();
    let err = get_account(
        &client,
        &creds.reseller_id,
        &CallOptions::new().timeout(Duration::from_millis(100)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::DeadlineExceeded), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(390));
    emu.shutdown().await;
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors() {
    let emu = emulator().await;
    let creds = emu.credentials().clone();
    let bogus = "t1.bogus-secret-value-123";
    let client = client_with(&emu, Credentials::iam_token(bogus)).await;
    let err = get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated));
    for text in [format!("{err}"), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains(bogus), "secret leaked: {text}");
    }
    let oauth = Credentials::oauth_token("y0_oauth-secret-456");
    assert!(!format!("{oauth:?}").contains("oauth-secret-456"));
    let client = client_with(&emu, oauth).await;
    let err = get_account(&client, &creds.reseller_id, &CallOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("oauth-secret-456"));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_emulators_client_builder_reaches_it_over_plaintext_and_tls() {
    let plain = emulator().await;
    let client = build(plain.client_builder()).await;
    let reseller = plain.credentials().reseller_id.clone();
    let account = get_account(&client, &reseller, &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(account.id, reseller);
    plain.shutdown().await;

    // A self-signed certificate: the builder trusts what the emulator serves.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = Emulator::builder()
        .tls(cert.pem().into_bytes(), key.serialize_pem().into_bytes())
        .start()
        .await
        .unwrap();
    assert!(tls.endpoint().starts_with("https://"), "{}", tls.endpoint());
    let client = build(tls.client_builder()).await;
    let reseller = tls.credentials().reseller_id.clone();
    let account = get_account(&client, &reseller, &CallOptions::new())
        .await
        .unwrap();
    assert_eq!(account.id, reseller);
    tls.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_the_grpc_and_the_metadata_servers() {
    let emu = emulator().await;
    let grpc = emu.addr();
    let metadata = emu
        .metadata_addr()
        .expect("the metadata server runs by default");
    for addr in [grpc, metadata] {
        tokio::net::TcpStream::connect(addr)
            .await
            .expect("serving before shutdown");
    }
    tokio::time::timeout(Duration::from_secs(10), emu.shutdown())
        .await
        .expect("shutdown finishes");
    for addr in [grpc, metadata] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still accepts after shutdown"
        );
    }
}
