//! Property tests (the fuzzing of this crate; see RELIABILITY.md): operation
//! decoding and `Any` unpacking, and service-account key parsing, on
//! arbitrary and mutated input. They must never panic, must fail with typed
//! errors, and key errors must never quote the private key.
//!
//! `cargo test` runs 256 cases per property; a dedicated run sets
//! `PROPTEST_CASES`:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --all-features --release --test reliability_props
//! ```

use std::sync::LazyLock;

use proptest::prelude::*;
use prost::{Message, Name};
use yc_billing::auth::ServiceAccountKey;
use yc_billing::operation::unpack;
use yc_billing::proto::yandex::cloud::access::UpdateAccessBindingsMetadata;
use yc_billing::proto::yandex::cloud::billing::v1::{
    BillableObject, BillableObjectBinding, BindBillableObjectMetadata, Customer, CustomerMetadata,
};
use yc_billing::proto::yandex::cloud::operation::{Operation as ProtoOperation, operation};
use yc_billing::{Client, Error, Operation};

// ---------------------------------------------------------------------------
// Any and operations.

const TYPE_NAMES: [&str; 7] = [
    "yandex.cloud.billing.v1.Customer",
    "yandex.cloud.billing.v1.CustomerMetadata",
    "yandex.cloud.billing.v1.BillableObjectBinding",
    "yandex.cloud.billing.v1.BindBillableObjectMetadata",
    "yandex.cloud.access.UpdateAccessBindingsMetadata",
    "google.protobuf.Empty",
    "google.rpc.BadRequest",
];

/// Type URLs: arbitrary text, or a known type under an arbitrary prefix,
/// possibly with junk after it.
fn type_url() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        (
            prop_oneof![
                Just("type.googleapis.com/".to_string()),
                "[a-z./]{0,12}",
                ".{0,8}"
            ],
            prop::sample::select(&TYPE_NAMES[..]),
            prop_oneof![Just(String::new()), ".{0,4}"],
        )
            .prop_map(|(p, n, s)| format!("{p}{n}{s}")),
    ]
}

/// A valid encoding of a message the API uses.
fn valid_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (".{0,40}", ".{0,40}").prop_map(|(id, ba)| Customer {
            id,
            billing_account_id: ba,
        }
        .encode_to_vec()),
        (".{0,40}", ".{0,40}").prop_map(|(r, c)| CustomerMetadata {
            reseller_id: r,
            customer_id: c,
        }
        .encode_to_vec()),
        (any::<i64>(), any::<i32>(), ".{0,20}", ".{0,20}").prop_map(|(s, n, id, t)| {
            BillableObjectBinding {
                effective_time: Some(prost_types::Timestamp {
                    seconds: s,
                    nanos: n,
                }),
                billable_object: Some(BillableObject { id, r#type: t }),
            }
            .encode_to_vec()
        }),
    ]
}

/// Value bytes: random, valid, or valid then corrupted.
fn value_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        valid_bytes(),
        (
            valid_bytes(),
            any::<prop::sample::Index>(),
            any::<u8>(),
            any::<bool>()
        )
            .prop_map(|(mut b, at, byte, truncate)| {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    if truncate {
                        b.truncate(i);
                    } else {
                        b[i] = byte;
                    }
                }
                b
            }),
    ]
}

fn any_msg() -> impl Strategy<Value = prost_types::Any> {
    (type_url(), value_bytes()).prop_map(|(type_url, value)| prost_types::Any { type_url, value })
}

fn timestamp() -> impl Strategy<Value = Option<prost_types::Timestamp>> {
    proptest::option::of(
        (any::<i64>(), any::<i32>())
            .prop_map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
    )
}

fn rpc_status() -> impl Strategy<Value = tonic_types::pb::Status> {
    (
        any::<i32>(),
        ".{0,64}",
        prop::collection::vec(any_msg(), 0..3),
    )
        .prop_map(|(code, message, details)| tonic_types::pb::Status {
            code,
            message,
            details,
        })
}

fn operation() -> impl Strategy<Value = ProtoOperation> {
    // Structured operations, and their encodings corrupted then decoded
    // again (uniform random bytes almost never decode as an Operation).
    let corrupted = (
        structured_operation(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0u8..3,
    )
        .prop_map(|(op, at, byte, how)| {
            let mut b = op.encode_to_vec();
            if !b.is_empty() {
                let i = at.index(b.len());
                match how {
                    0 => b[i] = byte,
                    1 => b.truncate(i),
                    _ => b.insert(i, byte),
                }
            }
            ProtoOperation::decode(b.as_slice()).unwrap_or(op)
        });
    prop_oneof![3 => structured_operation(), 1 => corrupted]
}

fn structured_operation() -> impl Strategy<Value = ProtoOperation> {
    (
        ".{0,24}",
        ".{0,24}",
        timestamp(),
        timestamp(),
        any::<bool>(),
        proptest::option::of(any_msg()),
        proptest::option::of(prop_oneof![
            any_msg().prop_map(operation::Result::Response),
            rpc_status().prop_map(operation::Result::Error),
        ]),
    )
        .prop_map(
            |(id, description, created_at, modified_at, done, metadata, result)| ProtoOperation {
                id,
                description,
                created_at,
                created_by: String::new(),
                modified_at,
                done,
                metadata,
                result,
            },
        )
}

/// The typed errors decoding may give.
fn is_decoding_error(e: &Error) -> bool {
    matches!(
        e,
        Error::UnexpectedType { .. }
            | Error::Decode { .. }
            | Error::OperationFailed(_)
            | Error::InvalidOperation { .. }
    )
}

/// One client for `Operation::from_raw`; it never connects. A runtime is
/// needed to build it (the channel's worker is spawned on it).
static CLIENT: LazyLock<(tokio::runtime::Runtime, Client)> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(
            Client::builder()
                .endpoint("http://127.0.0.1:1")
                .plaintext(true)
                .build(),
        )
        .unwrap();
    (rt, client)
});

fn check_operation<M, R>(raw: &ProtoOperation)
where
    M: Message + Name + Default,
    R: Message + Name + Default,
{
    let op = Operation::<M, R>::from_raw(CLIENT.1.clone(), raw.clone());
    let _ = (op.created_at(), op.modified_at(), format!("{op:?}"));
    match op.metadata() {
        Ok(_) => {}
        Err(e) => {
            assert!(is_decoding_error(&e), "{e:?}");
            let _ = (e.to_string(), format!("{e:?}"), e.code(), e.details());
        }
    }
    match op.result() {
        None => assert!(!raw.done, "a done operation has a result"),
        Some(r) => {
            assert!(raw.done, "a running operation has no result");
            if let Err(e) = r {
                assert!(is_decoding_error(&e), "{e:?}");
                let _ = (e.to_string(), format!("{e:?}"), e.code(), e.details());
                if let Error::OperationFailed(f) = &e {
                    assert!(e.to_string().contains(f.operation_id()));
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn unpack_never_panics_and_fails_typed(any in any_msg()) {
        for r in [
            unpack::<Customer>(&any).map(|_| ()),
            unpack::<CustomerMetadata>(&any).map(|_| ()),
            unpack::<BillableObjectBinding>(&any).map(|_| ()),
            unpack::<()>(&any),
        ] {
            if let Err(e) = r {
                prop_assert!(matches!(e, Error::UnexpectedType { .. } | Error::Decode { .. }), "{e:?}");
                let _ = (e.to_string(), format!("{e:?}"));
            }
        }
    }

    #[test]
    fn unpack_accepts_exactly_the_declared_type(bytes in valid_bytes(), prefix in "[a-z./]{0,12}") {
        // Right type name under any prefix: decoding decides.
        let any = prost_types::Any {
            type_url: format!("{prefix}/{}", Customer::full_name()),
            value: bytes.clone(),
        };
        let decoded = Customer::decode(bytes.as_slice());
        prop_assert_eq!(unpack::<Customer>(&any).ok(), decoded.ok());
        // A name that merely ends like it is refused.
        let any = prost_types::Any {
            type_url: format!("{prefix}/x{}", Customer::full_name()),
            value: bytes,
        };
        let refused = matches!(unpack::<Customer>(&any), Err(Error::UnexpectedType { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn operations_decode_without_panics(raw in operation()) {
        check_operation::<CustomerMetadata, Customer>(&raw);
        check_operation::<BindBillableObjectMetadata, BillableObjectBinding>(&raw);
        check_operation::<UpdateAccessBindingsMetadata, ()>(&raw);
    }
}

// ---------------------------------------------------------------------------
// Service-account keys.

const PEM: &str = include_str!("../src/auth/testdata/test_sa_private.pem");

/// Lines of the PEM body: base64 of the private key.
fn pem_body_lines() -> Vec<&'static str> {
    PEM.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect()
}

fn valid_key_json() -> serde_json::Value {
    serde_json::json!({
        "id": "ajekeyprops0000001",
        "service_account_id": "ajesaprops00000001",
        "created_at": "2026-11-23T00:00:00Z",
        "key_algorithm": "RSA_2048",
        "public_key": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
        "private_key": format!("PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID ajekeyprops0000001\n{PEM}"),
    })
}

const FIELDS: [&str; 10] = [
    "id",
    "service_account_id",
    "serviceAccountId",
    "created_at",
    "key_algorithm",
    "keyAlgorithm",
    "public_key",
    "publicKey",
    "private_key",
    "privateKey",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace a field's value with some JSON value.
    Set(&'static str, serde_json::Value),
    /// Put the private key into another field.
    MoveKey(&'static str),
    Remove(&'static str),
    /// Edit the text of the private key: replace `len` chars at `at` with `with`.
    EditPem(prop::sample::Index, usize, String),
    /// Edit the JSON text.
    EditText(prop::sample::Index, usize, String),
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        ".{0,40}".prop_map(Value::String),
        prop::collection::vec(".{0,8}".prop_map(Value::String), 0..3).prop_map(Value::Array),
        Just(serde_json::json!({"nested": PEM})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let field = prop::sample::select(&FIELDS[..]);
    prop_oneof![
        (field.clone(), json_value()).prop_map(|(f, v)| Mutation::Set(f, v)),
        field.clone().prop_map(Mutation::MoveKey),
        field.prop_map(Mutation::Remove),
        (any::<prop::sample::Index>(), 0usize..64, ".{0,8}")
            .prop_map(|(i, n, s)| Mutation::EditPem(i, n, s)),
        (any::<prop::sample::Index>(), 0usize..16, ".{0,4}")
            .prop_map(|(i, n, s)| Mutation::EditText(i, n, s)),
    ]
}

fn splice(text: &str, at: prop::sample::Index, len: usize, with: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return with.to_owned();
    }
    let i = at.index(chars.len());
    let j = (i + len).min(chars.len());
    let mut out: String = chars[..i].iter().collect();
    out.push_str(with);
    out.extend(&chars[j..]);
    out
}

fn apply(mutations: &[Mutation]) -> String {
    let mut v = valid_key_json();
    let mut text_edits = Vec::new();
    for m in mutations {
        let map = v.as_object_mut().unwrap();
        match m {
            Mutation::Set(f, value) => {
                map.insert((*f).to_owned(), value.clone());
            }
            Mutation::MoveKey(f) => {
                map.insert((*f).to_owned(), serde_json::Value::String(PEM.to_owned()));
            }
            Mutation::Remove(f) => {
                map.remove(*f);
            }
            Mutation::EditPem(at, len, with) => {
                if let Some(serde_json::Value::String(k)) = map.get("private_key") {
                    let edited = splice(k, *at, *len, with);
                    map.insert("private_key".into(), serde_json::Value::String(edited));
                }
            }
            Mutation::EditText(at, len, with) => text_edits.push((*at, *len, with.clone())),
        }
    }
    let mut text = serde_json::to_string_pretty(&v).unwrap();
    for (at, len, with) in text_edits {
        text = splice(&text, at, len, &with);
    }
    text
}

fn assert_no_key_material(text: &str) -> Result<(), TestCaseError> {
    for line in pem_body_lines() {
        // Any 16-character run of a body line counts as a leak.
        for chunk in line.as_bytes().chunks(16).filter(|c| c.len() == 16) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            prop_assert!(!text.contains(chunk), "private key material in {text:?}");
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn key_parsing_never_panics_on_arbitrary_text(text in ".{0,300}") {
        if let Err(e) = ServiceAccountKey::from_json(&text) {
            prop_assert!(matches!(e, Error::Config { .. }), "{e:?}");
        }
    }

    #[test]
    fn key_errors_never_contain_the_private_key(mutations in prop::collection::vec(mutation(), 1..4)) {
        let json = apply(&mutations);
        match ServiceAccountKey::from_json(&json) {
            Ok(key) => assert_no_key_material(&format!("{key:?}"))?,
            Err(e) => {
                prop_assert!(matches!(e, Error::Config { .. }), "{e:?}");
                assert_no_key_material(&e.to_string())?;
                assert_no_key_material(&format!("{e:?}"))?;
            }
        }
        // The serde path (a key inside a larger config) must not leak either.
        if let Err(e) = serde_json::from_str::<ServiceAccountKey>(&json) {
            assert_no_key_material(&e.to_string())?;
        }
    }
}

#[test]
fn the_unmutated_key_parses() {
    let json = apply(&[]);
    ServiceAccountKey::from_json(&json).unwrap();
    assert!(pem_body_lines().len() > 10);
}
