//! Messages shared by the unit tests of operations and `Any` decoding.

use prost::{Message, Name};

use crate::proto::yandex::cloud::billing::v1::Customer;
use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;
use crate::proto::yandex::cloud::operation::operation::Result as ProtoResult;

pub(crate) fn customer() -> Customer {
    Customer {
        id: "c1".into(),
        billing_account_id: "ba1".into(),
    }
}

/// `m` packed with the usual `type.googleapis.com/` prefix.
pub(crate) fn any_of<T: Message + Name>(m: &T) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{}", T::full_name()),
        value: m.encode_to_vec(),
    }
}

/// Operation `op1`, "Activate customer".
pub(crate) fn op(done: bool, result: Option<ProtoResult>) -> ProtoOperation {
    ProtoOperation {
        id: "op1".into(),
        description: "Activate customer".into(),
        done,
        result,
        ..Default::default()
    }
}
