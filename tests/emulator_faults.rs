//! Emulator fault injection, TLS and the VM metadata endpoint.

mod emulator_support;

use std::time::{Duration, Instant};

use emulator_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use yc_billing::emulator::{DEFAULT_RESELLER_ID, Emulator, Faults};
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::{
    ActivateCustomerRequest, GetBillingAccountRequest,
};
use yc_billing::proto::yandex::cloud::operation::GetOperationRequest;

const ACTIVATE: &str = "yandex.cloud.billing.v1.CustomerService/Activate";
const GET: &str = "yandex.cloud.billing.v1.BillingAccountService/Get";

fn activate() -> ActivateCustomerRequest {
    ActivateCustomerRequest {
        customer_id: "emucustomer000000002".into(),
    }
}

#[tokio::test]
async fn fail_first_then_succeed_and_counters() {
    let emu = Emulator::builder()
        .faults(Faults::default().fail_first(ACTIVATE, 2, Code::Unavailable))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu)).await;
    for _ in 0..2 {
        let err = c.activate(activate()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(err.metadata().get("x-request-id").is_some());
    }
    assert_eq!(
        emu.operation_count(),
        0,
        "fail-first fails before any effect"
    );
    c.activate(activate()).await.unwrap();
    assert_eq!(emu.calls(ACTIVATE), 3);
    assert_eq!(emu.calls(GET), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn unavailable_rate_fails_before_effect_and_lost_response_after() {
    let emu = Emulator::builder()
        .faults(Faults::default().unavailable_rate(1.0).random_seed(7))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu)).await;
    for _ in 0..3 {
        assert_eq!(
            c.activate(activate()).await.unwrap_err().code(),
            Code::Unavailable
        );
    }
    assert_eq!(emu.operation_count(), 0);

    emu.set_faults(Faults::default().lost_response_rate(1.0).random_seed(7));
    let err = c.activate(activate()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("lost response"));
    assert_eq!(emu.operation_count(), 1, "the effect was applied");

    // A partial rate with a fixed seed is reproducible.
    let outcomes = |seed| async move { emu_outcomes(seed).await };
    assert_eq!(outcomes(42).await, outcomes(42).await);
    emu.shutdown().await;
}

async fn emu_outcomes(seed: u64) -> Vec<bool> {
    let emu = Emulator::builder()
        .faults(Faults::default().unavailable_rate(0.5).random_seed(seed))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut a = accounts(&emu, owner(&emu)).await;
    let mut out = Vec::new();
    for _ in 0..20 {
        out.push(
            a.get(GetBillingAccountRequest {
                id: DEFAULT_RESELLER_ID.into(),
            })
            .await
            .is_ok(),
        );
    }
    assert!(out.contains(&true) && out.contains(&false));
    emu.shutdown().await;
    out
}

#[tokio::test]
async fn latency_and_operation_not_found_gets() {
    let emu = Emulator::builder()
        .faults(
            Faults::default()
                .latency(Duration::from_millis(40))
                .operation_not_found_gets(2),
        )
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu)).await;
    let start = Instant::now();
    let op = c.activate(activate()).await.unwrap().into_inner();
    assert!(start.elapsed() >= Duration::from_millis(40));
    let mut ops = operations(&emu, owner(&emu)).await;
    let get = GetOperationRequest {
        operation_id: op.id.clone(),
    };
    for _ in 0..2 {
        assert_eq!(
            ops.get(get.clone()).await.unwrap_err().code(),
            Code::NotFound
        );
    }
    ops.get(get).await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn tls_with_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key_pem = cert.key_pair.serialize_pem();
    let emu = Emulator::builder()
        .tls(cert_pem.as_bytes(), key_pem.as_bytes())
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    assert!(emu.endpoint().starts_with("https://localhost:"));
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&cert_pem))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(emu.endpoint())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut a = BillingAccountServiceClient::with_interceptor(channel, owner(&emu));
    let acc = a
        .get(GetBillingAccountRequest {
            id: DEFAULT_RESELLER_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acc.id, DEFAULT_RESELLER_ID);
    emu.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, headers: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: metadata\r\nConnection: close\r\n{headers}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf[9..12].parse().unwrap();
    let body = buf.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

#[tokio::test]
async fn metadata_token_endpoint() {
    let emu = Emulator::builder()
        .iam_token_ttl(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let addr = emu.metadata_addr().unwrap();
    let (status, _) = http_get(addr, "").await;
    assert_eq!(status, 403);
    let (status, _) = http_get(addr, "Metadata-Flavor: Other\r\n").await;
    assert_eq!(status, 403);
    let (status, body) = http_get(addr, "Metadata-Flavor: Google\r\n").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 600);
    let token = json["access_token"].as_str().unwrap();
    let mut a = accounts(&emu, Auth::bearer(token)).await;
    a.get(GetBillingAccountRequest {
        id: DEFAULT_RESELLER_ID.into(),
    })
    .await
    .unwrap();
    emu.shutdown().await;
}
