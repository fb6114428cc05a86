//! Arbitrary bytes -> `yandex.cloud.operation.Operation` -> typed metadata and
//! result extraction through `Operation::from_raw`. Must never panic.
//! The client is built once, with a lazy channel: no traffic is sent.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use yc_billing::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};
use yc_billing::proto::yandex::cloud::operation::Operation as ProtoOperation;
use yc_billing::proto::yandex::cloud::operation::operation::Result as ProtoResult;
use yc_billing::{Client, Operation, OperationError};

fn env() -> &'static (tokio::runtime::Runtime, Client) {
    static ENV: OnceLock<(tokio::runtime::Runtime, Client)> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt
            .block_on(
                Client::builder()
                    .endpoint("http://127.0.0.1:1")
                    .iam_token("t")
                    .build(),
            )
            .expect("client");
        (rt, client)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = ProtoOperation::decode(data) else {
        return;
    };
    let (rt, client) = env();
    let _guard = rt.enter();
    if let Some(ProtoResult::Error(status)) = &raw.result {
        let e = OperationError::from_status(raw.id.clone(), raw.description.clone(), status);
        let _ = e.to_string();
        let _ = format!("{e:?}");
    }
    let op = Operation::<CustomerMetadata, Customer>::from_raw(client.clone(), raw);
    let _ = (op.id(), op.description(), op.created_by(), op.is_done());
    let _ = (op.created_at(), op.modified_at(), op.poll_hint());
    match op.metadata() {
        Ok(_) => {}
        Err(e) => drop(e.to_string()),
    }
    match op.result() {
        None => assert!(!op.is_done()),
        Some(Ok(_)) => {}
        Some(Err(e)) => drop(e.to_string()),
    }
    let _ = format!("{op:?}");
    // Untyped view, as the CLI uses it.
    let untyped = Operation::<(), ()>::from_raw(client.clone(), op.into_raw());
    let _ = untyped.metadata().map_err(|e| e.to_string());
    let _ = untyped.result().map(|r| r.map_err(|e| e.to_string()));
});
