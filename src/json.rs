//! Proto3 JSON of the API's messages, in the shapes of the REST API:
//! camelCase field names, RFC 3339 timestamps, 64-bit integers as strings,
//! and `google.protobuf.Any` unpacked with an `@type` member.
//!
//! ```
//! use yc_billing::proto::yandex::cloud::billing::v1::Customer;
//!
//! let c = Customer { id: "c1".into(), billing_account_id: "ba1".into() };
//! let v = yc_billing::json::to_value(&c).unwrap();
//! assert_eq!(v, serde_json::json!({"id": "c1", "billingAccountId": "ba1"}));
//! ```

use std::sync::OnceLock;

use prost_reflect::{
    DescriptorPool, DynamicMessage, MapKey, ReflectMessage, SerializeOptions, Value,
};

use crate::Error;

/// The schema's descriptors plus the well-known types (`google.protobuf.Empty` among them).
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::global();
        pool.decode_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set embedded at build time is valid");
        pool
    })
}

/// Converts a message to its proto3 JSON value.
///
/// Fields at their default value are omitted, as the REST API does.
///
/// # Errors
///
/// [`Error::Json`] naming the field (as a JSON path, through `Any` values
/// too), the value and the rule when the message cannot be written: a
/// `google.protobuf.Timestamp` outside 0001-01-01T00:00:00Z ..
/// 9999-12-31T23:59:59Z, a `google.protobuf.Duration` beyond ±10,000 years,
/// an `Any` whose type is not in the schema or whose bytes do not decode.
pub fn to_value<M: prost::Message + prost::Name>(message: &M) -> Result<serde_json::Value, Error> {
    let name = M::full_name();
    let descriptor = descriptor_pool()
        .get_message_by_name(&name)
        .ok_or_else(|| Error::UnexpectedType {
            expected: "a message of the Billing schema".into(),
            actual: name.clone(),
        })?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).map_err(
        |source| Error::Decode {
            type_name: name.clone(),
            source,
        },
    )?;
    dynamic_to_value(&dynamic)
}

/// [`to_value`] of a message built at run time (for example the answer of
/// [`Client::call_dynamic`](crate::Client::call_dynamic)).
///
/// # Errors
///
/// [`Error::Json`] as for [`to_value`].
pub fn dynamic_to_value(dynamic: &DynamicMessage) -> Result<serde_json::Value, Error> {
    let name = dynamic.descriptor().full_name().to_owned();
    dynamic
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(true),
        )
        .map_err(|e| {
            let (path, reason) = unencodable(dynamic, String::new())
                .unwrap_or_else(|| (String::new(), e.to_string()));
            Error::Json {
                type_name: name.clone(),
                path,
                reason,
            }
        })
}

/// The range of RFC 3339 timestamps in seconds since the epoch
/// (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z), as proto3 JSON allows.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;
/// The largest proto3 JSON duration in seconds (10,000 years).
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;
/// Nanoseconds of a timestamp or duration stay below one second.
const MAX_NANOS: u32 = 999_999_999;

/// `path.field`, or `field` at the top.
fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The first value of `message` (at `path`) that proto3 JSON cannot express,
/// as `(path, what is wrong)`; `None` when every value is fine.
fn unencodable(message: &DynamicMessage, path: String) -> Option<(String, String)> {
    match message.descriptor().full_name() {
        "google.protobuf.Timestamp" => {
            let t: prost_types::Timestamp = message.transcode_to().ok()?;
            (!TIMESTAMP_SECONDS.contains(&t.seconds)).then(|| {
                let reason = format!(
                    "timestamp seconds {} is out of range: RFC 3339 covers \
                     0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z (seconds {} to {})",
                    t.seconds,
                    TIMESTAMP_SECONDS.start(),
                    TIMESTAMP_SECONDS.end()
                );
                (path, reason)
            })
        }
        "google.protobuf.Duration" => {
            let d: prost_types::Duration = message.transcode_to().ok()?;
            (d.seconds.unsigned_abs() > MAX_DURATION_SECONDS || d.nanos.unsigned_abs() > MAX_NANOS)
                .then(|| {
                    let reason = format!(
                        "duration of {} seconds and {} nanoseconds is out of range: at most \
                         {MAX_DURATION_SECONDS} seconds (10,000 years) either way",
                        d.seconds, d.nanos
                    );
                    (path, reason)
                })
        }
        "google.protobuf.Any" => {
            let any: prost_types::Any = message.transcode_to().ok()?;
            let url = crate::quote::quoted(&any.type_url);
            let Some((_, name)) = any.type_url.rsplit_once('/') else {
                return Some((path, format!("type URL {url} has no '/'")));
            };
            let Some(descriptor) = message.descriptor().parent_pool().get_message_by_name(name)
            else {
                return Some((
                    path,
                    format!("type URL {url} names no message of the schema"),
                ));
            };
            match DynamicMessage::decode(descriptor, any.value.as_slice()) {
                Ok(inner) => unencodable(&inner, path),
                Err(e) => Some((path, format!("the bytes of the {name} are not valid: {e}"))),
            }
        }
        _ => message.fields().find_map(|(field, value)| {
            let at = join(&path, field.json_name());
            match value {
                Value::Message(m) => unencodable(m, at),
                Value::List(items) => items.iter().enumerate().find_map(|(i, v)| match v {
                    Value::Message(m) => unencodable(m, format!("{at}[{i}]")),
                    _ => None,
                }),
                Value::Map(entries) => entries.iter().find_map(|(k, v)| match v {
                    Value::Message(m) => unencodable(m, format!("{at}[{}]", map_key(k))),
                    _ => None,
                }),
                _ => None,
            }
        }),
    }
}

/// A map key as written in a path: strings quoted (and cut), others as is.
fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::String(s) => crate::quote::quoted(s),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};
    use crate::proto::yandex::cloud::operation::{Operation, operation};

    #[test]
    fn operations_carry_typed_any_with_at_type() {
        let op = Operation {
            id: "op1".into(),
            description: "Invite customer".into(),
            created_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            created_by: "user1".into(),
            modified_at: None,
            done: true,
            metadata: Some(
                prost_types::Any::from_msg(&CustomerMetadata {
                    reseller_id: "r1".into(),
                    customer_id: "c1".into(),
                })
                .unwrap(),
            ),
            result: Some(operation::Result::Response(
                prost_types::Any::from_msg(&Customer {
                    id: "c1".into(),
                    billing_account_id: "ba1".into(),
                })
                .unwrap(),
            )),
        };
        let v = to_value(&op).unwrap();
        assert_eq!(v["createdAt"], "2023-11-14T22:13:20Z");
        assert_eq!(v["createdBy"], "user1");
        assert_eq!(
            v["metadata"]["@type"],
            "type.googleapis.com/yandex.cloud.billing.v1.CustomerMetadata"
        );
        assert_eq!(v["metadata"]["customerId"], "c1");
        assert_eq!(v["response"]["billingAccountId"], "ba1");
        assert_eq!(v["done"], true);
    }

    const OUT_OF_RANGE: prost_types::Timestamp = prost_types::Timestamp {
        seconds: i64::MAX,
        nanos: 0,
    };

    #[test]
    fn a_timestamp_out_of_range_names_the_field_the_value_and_the_rule() {
        let op = Operation {
            id: "op3".into(),
            created_at: Some(OUT_OF_RANGE),
            ..Default::default()
        };
        let e = to_value(&op).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, Error::Json { type_name, path, .. }
                if type_name == "yandex.cloud.operation.Operation" && path == "createdAt"),
            "{e:?}"
        );
        assert_eq!(
            text,
            "cannot write yandex.cloud.operation.Operation as JSON: createdAt: timestamp seconds \
             9223372036854775807 is out of range: RFC 3339 covers 0001-01-01T00:00:00Z to \
             9999-12-31T23:59:59Z (seconds -62135596800 to 253402300799)"
        );
    }

    #[test]
    fn a_timestamp_out_of_range_inside_an_any_is_found_too() {
        use crate::proto::yandex::cloud::billing::v1::BillingAccount;
        let account = BillingAccount {
            id: "ba1".into(),
            created_at: Some(prost_types::Timestamp {
                seconds: -70_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let op = Operation {
            id: "op4".into(),
            done: true,
            result: Some(operation::Result::Response(
                prost_types::Any::from_msg(&account).unwrap(),
            )),
            ..Default::default()
        };
        match to_value(&op).unwrap_err() {
            Error::Json { path, reason, .. } => {
                assert_eq!(path, "response.createdAt");
                assert!(reason.contains("-70000000000"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_any_of_an_unknown_type_is_named() {
        let op = Operation {
            id: "op5".into(),
            metadata: Some(prost_types::Any {
                type_url: "type.googleapis.com/no.such.Type".into(),
                value: vec![],
            }),
            ..Default::default()
        };
        match to_value(&op).unwrap_err() {
            Error::Json { path, reason, .. } => {
                assert_eq!(path, "metadata");
                assert!(reason.contains("no.such.Type"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_response_is_encodable() {
        let op = Operation {
            id: "op2".into(),
            done: true,
            result: Some(operation::Result::Response(
                prost_types::Any::from_msg(&()).unwrap(),
            )),
            ..Default::default()
        };
        let v = to_value(&op).unwrap();
        assert_eq!(
            v["response"]["@type"],
            "type.googleapis.com/google.protobuf.Empty"
        );
    }
}
