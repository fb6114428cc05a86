//! The client's own HTTP/2 transport (`transport::Channel`) against the
//! emulator over loopback TCP: one connection shared by concurrent first
//! calls, a new connection after the server went away, request bodies past
//! the flow-control window, and a tonic channel brought by the caller.
#![cfg(feature = "emulator")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use tonic::Code;
use yc_billing::emulator::Emulator;
use yc_billing::{Error, RetryPolicy};

/// A TCP relay to `upstream` that counts the connections it accepted.
async fn counting_relay(upstream: SocketAddr) -> Result<(SocketAddr, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok((addr, accepted))
}

#[tokio::test]
async fn concurrent_first_calls_share_one_connection() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    let (relay, accepted) = counting_relay(emu.addr()).await?;
    let client = emu
        .client_builder()
        .endpoint(format!("http://{relay}"))
        .build()
        .await?;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "connected before a call"
    );
    let reseller = emu.credentials().reseller_id.clone();
    let calls = (0..50).map(|_| {
        let client = client.clone();
        let id = reseller.clone();
        async move { client.billing_accounts().get(id.as_str()).await }
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r?.id, reseller);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_call_after_the_server_restarts_opens_a_new_connection() -> Result<()> {
    let first = Emulator::builder().start().await?;
    let addr = first.addr();
    let reseller = first.credentials().reseller_id.clone();
    let client = first
        .client_builder()
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await?;
    assert_eq!(
        client.billing_accounts().get(reseller.as_str()).await?.id,
        reseller
    );
    first.shutdown().await;

    // Nothing listens: the failure is a transport error naming the cause.
    let err = client
        .billing_accounts()
        .get(reseller.as_str())
        .await
        .unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(t.endpoint(), addr.to_string(), "{err}");

    // The same address again: the next call connects anew, with no retry.
    let second = Emulator::builder().listen(addr).start().await?;
    assert_eq!(
        client.billing_accounts().get(reseller.as_str()).await?.id,
        reseller
    );
    second.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_request_larger_than_the_stream_window_is_sent_whole() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    let client = emu
        .client_builder()
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await?;
    // 3 MiB: past the emulator's 1 MiB stream window and the 64 KiB default,
    // under tonic's 4 MiB decoding limit. The server reads it all and
    // refuses the id by its length.
    let id = "o".repeat(3 * 1024 * 1024);
    let err = client.operations().get(id.as_str()).await.unwrap_err();
    let Error::Rpc(rpc) = &err else {
        panic!("not an answer of the server: {err:?}");
    };
    assert_eq!(rpc.code(), Code::InvalidArgument, "{err}");
    assert!(rpc.message().contains("operation_id"), "{err}");
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_tonic_channel_converts_into_a_channel() -> Result<()> {
    let emu = Emulator::builder().start().await?;
    let tonic = tonic::transport::Endpoint::from_shared(emu.endpoint())?.connect_lazy();
    let channel = yc_billing::transport::Channel::from(tonic);
    let mut stub = yc_billing::proto::yandex::cloud::billing::v1::billing_account_service_client::BillingAccountServiceClient::new(channel.clone());
    let reseller = emu.credentials().reseller_id.clone();
    let mut request = tonic::Request::new(
        yc_billing::proto::yandex::cloud::billing::v1::GetBillingAccountRequest {
            id: reseller.clone(),
        },
    );
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", emu.credentials().iam_token).parse()?,
    );
    assert_eq!(stub.get(request).await?.into_inner().id, reseller);
    emu.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_tls_name_that_is_not_one_is_refused_at_build_naming_the_setting() -> Result<()> {
    let err = yc_billing::Client::builder()
        .endpoint("https://127.0.0.1:443")
        .tls_domain("not a host name!")
        .iam_token("t1.x")
        .build()
        .await
        .unwrap_err();
    let Error::Config { field, reason } = &err else {
        panic!("not a settings error: {err:?}");
    };
    assert_eq!(field, "tls_domain", "{err}");
    assert!(reason.contains("not a TLS server name"), "{err}");
    Ok(())
}
