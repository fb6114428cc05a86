//! The emulator's request validation: arbitrary bytes decoded as one of the
//! Billing request types and validated; and the range-rule parser. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yc_billing::fuzzing::{range_parse, validate_request};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if kind == 0xff {
        if let Ok(rule) = std::str::from_utf8(rest) {
            let _ = range_parse(rule);
        }
        return;
    }
    if let Some(Err(message)) = validate_request(kind, rest) {
        assert!(!message.is_empty());
    }
});
