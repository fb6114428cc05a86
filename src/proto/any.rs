//! `google.protobuf.Any` decoding with a type-URL check, next to the
//! generated messages it decodes into.
// The parent module silences lints for the generated code; not here.
#![warn(missing_docs, clippy::all)]

use prost::{Message, Name};

use crate::error::{Error, Result};

/// Decodes a `google.protobuf.Any` as `T`, checking its type URL first.
///
/// The URL must end in `/<full name of T>`; any prefix before the last `/`
/// is accepted (`type.googleapis.com/` is the usual one).
///
/// ```
/// use prost::Name;
/// use yc_billing::proto::unpack;
/// use yc_billing::proto::yandex::cloud::billing::v1::Customer;
///
/// let c = Customer { id: "c1".into(), billing_account_id: "ba1".into() };
/// let any = prost_types::Any::from_msg(&c).unwrap();
/// assert_eq!(unpack::<Customer>(&any).unwrap(), c);
/// assert!(unpack::<()>(&any).is_err());
/// ```
///
/// # Errors
///
/// [`Error::UnexpectedType`] when the URL names another type (or has no
/// `/`), [`Error::Decode`] when the bytes are not a valid `T`.
pub fn unpack<T: Message + Name + Default>(any: &prost_types::Any) -> Result<T> {
    let expected = T::full_name();
    let actual = any.type_url.rsplit_once('/').map(|(_, name)| name);
    if actual != Some(expected.as_str()) {
        return Err(Error::UnexpectedType {
            expected,
            actual: any.type_url.clone(),
        });
    }
    T::decode(any.value.as_slice()).map_err(|source| Error::Decode {
        type_name: expected,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::fixtures::{any_of, customer};
    use crate::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};

    #[test]
    fn unpack_right_type_any_prefix() {
        let c = customer();
        assert_eq!(unpack::<Customer>(&any_of(&c)).unwrap(), c);
        // prost's own `type_url()` (no domain configured: "/<full name>").
        assert_eq!(
            unpack::<Customer>(&prost_types::Any::from_msg(&c).unwrap()).unwrap(),
            c
        );
        let other = prost_types::Any {
            type_url: "example.com/types/yandex.cloud.billing.v1.Customer".into(),
            value: c.encode_to_vec(),
        };
        assert_eq!(unpack::<Customer>(&other).unwrap(), c);
        let empty = prost_types::Any {
            type_url: "type.googleapis.com/google.protobuf.Empty".into(),
            value: vec![],
        };
        unpack::<()>(&empty).unwrap();
    }

    #[test]
    fn unpack_wrong_type_url() {
        let any = any_of(&customer());
        match unpack::<CustomerMetadata>(&any) {
            Err(Error::UnexpectedType { expected, actual }) => {
                assert_eq!(expected, "yandex.cloud.billing.v1.CustomerMetadata");
                assert_eq!(
                    actual,
                    "type.googleapis.com/yandex.cloud.billing.v1.Customer"
                );
            }
            other => panic!("{other:?}"),
        }
        for url in [
            "yandex.cloud.billing.v1.Customer",
            "",
            "type.googleapis.com/",
            "type.googleapis.com/yandex.cloud.billing.v1.Customer/",
            "type.googleapis.com/v1.Customer",
        ] {
            let any = prost_types::Any {
                type_url: url.into(),
                value: customer().encode_to_vec(),
            };
            assert!(
                matches!(unpack::<Customer>(&any), Err(Error::UnexpectedType { .. })),
                "{url:?}"
            );
        }
    }

    #[test]
    fn unpack_corrupt_bytes() {
        let any = prost_types::Any {
            type_url: Customer::type_url(),
            value: vec![0x0a, 0x05, b'a'], // a string field claiming 5 bytes, with 1
        };
        match unpack::<Customer>(&any) {
            Err(Error::Decode { type_name, .. }) => {
                assert_eq!(type_name, "yandex.cloud.billing.v1.Customer")
            }
            other => panic!("{other:?}"),
        }
    }
}
