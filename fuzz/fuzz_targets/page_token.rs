//! The emulator's opaque page tokens: arbitrary tokens never panic, never
//! decode unless issued for the same scope, and page slicing stays in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yc_billing::fuzzing::{page, page_token_decode, page_token_encode};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let len = usize::from(u16::from_le_bytes([data[0], data[1]]) % 3000);
    let page_size = i64::from(data[2] as i8) * 9;
    let token = String::from_utf8_lossy(&data[3..]);
    let scope = "customers/ba1";

    if let Ok(offset) = page_token_decode(scope, &token) {
        // Only a token the emulator issued decodes, and it is byte-identical.
        assert_eq!(page_token_encode(scope, offset), token);
        assert!(page_token_decode("customers/ba2", &token).is_err());
    }
    if let Ok((items, next)) = page(len, scope, page_size, &token) {
        let size = if page_size == 0 { 100 } else { page_size as usize };
        assert!(items.len() <= size);
        assert!(items.windows(2).all(|w| w[1] == w[0] + 1));
        if !next.is_empty() {
            let off = page_token_decode(scope, &next).expect("own next token decodes");
            assert!(off <= len);
            assert_eq!(items.last().map(|i| i + 1), Some(off));
        }
    }
});
