//! Server-supplied text made safe for a terminal.
//!
//! Everything the CLI prints for humans (tables, error messages on stderr,
//! the wait spinner, the demo's lines) goes through [`escape`]: a hostile or
//! broken server must not be able to move the cursor, clear the screen,
//! retitle the window or reorder what is shown. The rule:
//!
//! - `\n`, `\r` and `\t` are shown as those two characters;
//! - every other C0 control (U+0000–U+001F), DEL (U+007F), C1 control
//!   (U+0080–U+009F) and the bidirectional controls (U+061C, U+200E,
//!   U+200F, U+202A–U+202E, U+2066–U+2069) is shown as `\u{…}` with its code
//!   point in hex (`ESC` is `\u{1b}`), as Rust writes it;
//! - all other text, backslashes included, is printed as it is.
//!
//! Error messages are also cut to [`MAX_LINE_CHARS`] characters per line
//! (with the number of characters left out), so that a 12 KB message does
//! not bury the code and request id that follow. JSON output is not touched:
//! serde_json escapes control characters itself.

use std::borrow::Cow;
use std::fmt::Write;

/// Longest line of an error message on stderr, in characters, before escaping.
pub const MAX_LINE_CHARS: usize = 1000;

/// Whether `c` must not reach a terminal raw.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every control character replaced by a visible escape (see the
/// module's rule); borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One line of an error message for stderr: cut to [`MAX_LINE_CHARS`]
/// characters (saying how many were left out), then escaped.
pub fn line(text: &str) -> String {
    cut(text, MAX_LINE_CHARS)
}

/// `text` cut to `max` characters (saying how many were left out), then escaped.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => escape(text).into_owned(),
        Some((at, _)) => {
            let left = text[at..].chars().count();
            format!("{}… ({left} more characters)", escape(&text[..at]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            escape("a\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n\t\u{7f}\u{9b}\u{202e}z"),
            r"a\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n\t\u{7f}\u{9b}\u{202e}z"
        );
        assert!(matches!(escape("plain: é ✓ \\ \"q\""), Cow::Borrowed(_)));
        assert_eq!(
            escape("\u{0}\u{1f}\u{80}\u{9f}\u{61c}\u{2069}"),
            r"\u{0}\u{1f}\u{80}\u{9f}\u{61c}\u{2069}"
        );
    }

    #[test]
    fn long_lines_are_cut_and_say_by_how_much() {
        let long = "\u{1b}".repeat(5000);
        let cut = line(&long);
        assert!(cut.starts_with(r"\u{1b}\u{1b}"));
        assert!(
            cut.ends_with("… (4000 more characters)"),
            "{}",
            &cut[cut.len() - 40..]
        );
        assert!(!cut.contains('\u{1b}'));
        assert_eq!(line("short"), "short");
    }
}
