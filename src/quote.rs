//! Quoting server-supplied values in the library's error messages.

/// Longest part of a server-supplied value quoted in an error message.
pub(crate) const QUOTE_CHARS: usize = 64;

/// `value` quoted as by `{:?}` (so control characters are escaped), cut
/// after [`QUOTE_CHARS`] characters with `…` and its length in bytes.
pub(crate) fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTE_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &value[..cut], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_long_ones_cut() {
        assert_eq!(quoted("a\u{1b}b"), r#""a\u{1b}b""#);
        let long = "é".repeat(1000);
        let q = quoted(&long);
        assert!(
            q.starts_with(&format!("\"{}\"…", "é".repeat(QUOTE_CHARS))),
            "{q}"
        );
        assert!(q.ends_with("(2000 bytes)"), "{q}");
    }
}
