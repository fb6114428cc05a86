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

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

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
    dynamic
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(true),
        )
        .map_err(|e| Error::UnexpectedType {
            expected: format!("JSON-encodable {name}"),
            actual: e.to_string(),
        })
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
