//! Arbitrary bytes as UTF-8 -> `ServiceAccountKey::from_json`. Must never
//! panic, and an error must never quote a line of the PEM private key body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yc_billing::auth::ServiceAccountKey;

/// Lines of base64 that look like a PEM body (long enough not to occur by chance).
fn pem_body_lines(s: &str) -> Vec<&str> {
    // The JSON escape `\n` splits lines inside the string value too.
    s.split(['\n', '\r', '"'])
        .flat_map(|l| l.split("\\n"))
        .map(str::trim)
        .filter(|l| {
            l.len() >= 16
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Err(e) = ServiceAccountKey::from_json(json) else {
        return;
    };
    let text = e.to_string();
    let debug = format!("{e:?}");
    if json.contains("PRIVATE KEY-----") {
        for line in pem_body_lines(json) {
            assert!(!text.contains(line), "error quotes PEM body line {line:?}: {text}");
            assert!(!debug.contains(line), "error quotes PEM body line {line:?}: {debug}");
        }
    }
});
