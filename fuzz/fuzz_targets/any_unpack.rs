//! Arbitrary bytes -> `google.protobuf.Any` -> `unpack::<Customer | CustomerMetadata>`.
//! Must never panic; errors must render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use yc_billing::operation::unpack;
use yc_billing::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};

fuzz_target!(|data: &[u8]| {
    let Ok(any) = prost_types::Any::decode(data) else {
        return;
    };
    match unpack::<Customer>(&any) {
        Ok(c) => {
            // Round trip: what decoded re-encodes and decodes to the same value.
            let again = prost_types::Any::from_msg(&c).expect("encode");
            assert_eq!(unpack::<Customer>(&again).expect("round trip"), c);
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = format!("{e:?}");
        }
    }
    if let Err(e) = unpack::<CustomerMetadata>(&any) {
        let _ = e.to_string();
    }
});
