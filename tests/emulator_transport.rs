//! The emulator's gRPC port as an HTTP/2 server: the calls its connection's
//! task cannot answer at once (an answer larger than the peer's window, a
//! request body that arrives late, an injected latency) and what happens to
//! them when the peer gives up, the deadline passes or the emulator stops.

#[path = "emulator_support/mod.rs"]
mod emulator_support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bytes::{Buf, Bytes, BytesMut};
use emulator_support::{Auth, owner};
use prost::Message;
use tonic::Code;
use yc_billing::emulator::{DEFAULT_RESELLER_ID, Emulator, EmulatorHandle, Fault, example_person};
use yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::sku_service_client::SkuServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::{
    BillingAccount, GetBillingAccountRequest, InviteCustomerRequest, ListSkusRequest,
};

const GET: &str = "/yandex.cloud.billing.v1.BillingAccountService/Get";

fn get(emu: &EmulatorHandle) -> GetBillingAccountRequest {
    GetBillingAccountRequest {
        id: emu.credentials().reseller_id.clone(),
    }
}

/// Shuts the emulator down and checks that nothing held the stop: it waits
/// for running calls, at most 5 s.
async fn stops_at_once(emu: EmulatorHandle) -> Result<()> {
    let start = Instant::now();
    emu.shutdown().await;
    ensure!(
        start.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        start.elapsed()
    );
    Ok(())
}

async fn latency(emu: &EmulatorHandle, ms: u64) -> Result<()> {
    emu.add_faults(vec![Fault::Latency { method: None, ms }])?;
    Ok(())
}

#[tokio::test]
async fn an_answer_larger_than_the_clients_window_is_sent_as_the_window_opens() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    // A 1 KiB stream window: the answer leaves in many rounds of WINDOW_UPDATE.
    let channel = tonic::transport::Endpoint::from_shared(emu.endpoint())?
        .initial_stream_window_size(1024)
        .connect()
        .await?;
    let mut skus = SkuServiceClient::with_interceptor(channel, owner(&emu));
    let page = skus
        .list(ListSkusRequest {
            currency: "RUB".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(
        page.encoded_len() > 8 * 1024,
        "the answer ({} bytes) should span many windows",
        page.encoded_len()
    );
    ensure!(!page.skus.is_empty());
    emu.shutdown().await;
    Ok(())
}

/// A gRPC message frame: uncompressed, 4-byte length, the message.
fn frame(message: &impl Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut framed = BytesMut::with_capacity(5 + body.len());
    framed.extend_from_slice(&[0]);
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    framed.freeze()
}

/// What a call sent by hand on a bare h2 connection got: its trailers (or
/// the trailers-only headers) and its message bytes.
struct Answered {
    grpc_status: String,
    grpc_message: String,
    message: BytesMut,
}

/// `Get` on a bare h2 connection: HEADERS (with `extra`), then after
/// `body_after` the message.
async fn raw_get(
    emu: &EmulatorHandle,
    extra: &[(&'static str, &str)],
    body_after: Duration,
) -> Result<Answered> {
    let tcp = tokio::net::TcpStream::connect(emu.addr()).await?;
    let (mut h2, connection) = h2::client::handshake(tcp).await?;
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{}{GET}", emu.addr()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header(
            "authorization",
            format!("Bearer {}", emu.credentials().iam_token),
        );
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let (answer, mut stream) = h2.send_request(request.body(())?, false)?;
    tokio::time::sleep(body_after).await;
    stream.send_data(frame(&get(emu)), true)?;

    let answer = tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .context("no answer within 5 s")??;
    ensure!(answer.status() == 200, "HTTP status {}", answer.status());
    let (head, mut body) = answer.into_parts();
    let mut message = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        message.extend_from_slice(&chunk);
    }
    // A status without a message comes trailers-only, in the headers.
    let trailers = body.trailers().await?.unwrap_or(head.headers);
    let text = |name: &str| {
        trailers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    Ok(Answered {
        grpc_status: text("grpc-status"),
        grpc_message: text("grpc-message"),
        message,
    })
}

#[tokio::test]
async fn a_request_whose_body_arrives_late_is_answered() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    let mut answered = raw_get(&emu, &[], Duration::from_millis(200)).await?;
    ensure!(answered.grpc_status == "0", "{}", answered.grpc_message);
    ensure!(answered.message.len() > 5, "no message");
    answered.message.advance(5);
    let account = BillingAccount::decode(answered.message)?;
    ensure!(account.id == emu.credentials().reseller_id, "{account:?}");
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_server_enforces_the_grpc_timeout_it_was_sent() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    latency(&emu, 5_000).await?;
    // Only the header: the deadline is the server's to keep.
    let start = Instant::now();
    let answered = raw_get(&emu, &[("grpc-timeout", "200m")], Duration::ZERO).await?;
    let took = start.elapsed();
    let deadline_exceeded = (Code::DeadlineExceeded as i32).to_string();
    ensure!(
        answered.grpc_status == deadline_exceeded,
        "status {} {}",
        answered.grpc_status,
        answered.grpc_message
    );
    ensure!(
        answered.grpc_message.contains("grpc-timeout"),
        "{}",
        answered.grpc_message
    );
    ensure!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "answered after {took:?}"
    );
    // An unreadable header is no deadline: the call waits out its latency.
    emu.clear_faults();
    latency(&emu, 300).await?;
    let answered = raw_get(&emu, &[("grpc-timeout", "1.5S")], Duration::ZERO).await?;
    ensure!(answered.grpc_status == "0", "{}", answered.grpc_message);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_call_the_client_gave_up_on_is_dropped_and_does_not_hold_the_stop() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    latency(&emu, 600).await?;
    let mut customers = emulator_support::customers(&emu, owner(&emu)).await;
    let email = "gave-up@example.com";
    // No deadline sent: the client drops the call, which resets its stream,
    // while the emulator still holds it back (before it took effect).
    let call = customers.invite(InviteCustomerRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        name: "ACME".into(),
        invitation_email: email.into(),
        person: Some(example_person("ACME", email)),
    });
    ensure!(
        tokio::time::timeout(Duration::from_millis(200), call)
            .await
            .is_err(),
        "answered despite 600 ms of latency"
    );
    // Past the latency: the dropped call never took effect.
    tokio::time::sleep(Duration::from_millis(800)).await;
    ensure!(
        emu.operation_count() == 0,
        "{} operations",
        emu.operation_count()
    );
    latency(&emu, 10_000).await?;
    let call = customers.invite(InviteCustomerRequest::default());
    ensure!(
        tokio::time::timeout(Duration::from_millis(200), call)
            .await
            .is_err()
    );
    // The stop waits for running calls (at most 5 s): a reset one is not.
    stops_at_once(emu).await
}

#[tokio::test]
async fn a_running_call_finishes_when_the_emulator_stops() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    latency(&emu, 300).await?;
    let channel = emulator_support::channel(&emu).await;
    let mut accounts = BillingAccountServiceClient::with_interceptor(
        channel,
        Auth::bearer(&emu.credentials().iam_token),
    );
    let request = get(&emu);
    let call = tokio::spawn(async move { accounts.get(request).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reseller = emu.credentials().reseller_id.clone();
    emu.shutdown().await;
    let account = call.await??.into_inner();
    ensure!(account.id == reseller, "{account:?}");
    Ok(())
}

#[tokio::test]
async fn a_tls_handshake_in_progress_does_not_hold_the_stop() -> Result<()> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let emu = Emulator::builder()
        .tls(
            cert.cert.pem().into_bytes(),
            cert.key_pair.serialize_pem().into_bytes(),
        )
        .handshake_timeout(Duration::from_secs(30))
        .start()
        .await?;
    // Connected, and silent: the TLS handshake waits for a ClientHello.
    let _silent = tokio::net::TcpStream::connect(emu.addr()).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The stop waits for running calls (at most 5 s): a handshake is none.
    stops_at_once(emu).await
}
