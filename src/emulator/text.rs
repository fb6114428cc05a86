//! Bounds on text the emulator sends back or logs.
//!
//! Every value a caller sent that reappears in a status message, an
//! operation description or a log line goes through [`echo`], so a 1 MiB id
//! comes back as 64 characters and `…`, never as a message larger than a
//! client accepts.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Characters of a caller's value that are echoed back; longer values are
/// cut here and end with `…`.
pub const ECHO_CHARS: usize = 64;

/// Characters of a string field whose proto sets no `(length)` rule (names,
/// addresses, e-mails, ids of billable objects, operation ids, …): longer
/// values are rejected with INVALID_ARGUMENT naming the field and the limit.
/// The real API documents these as "not limited"; the emulator bounds what it
/// stores.
pub const MAX_TEXT_CHARS: usize = 1024;

/// Characters of an operation description, as the API documents
/// ("0-256 characters long").
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// `value` cut to [`ECHO_CHARS`] characters plus `…` (on a character
/// boundary), for status messages, descriptions and logs.
pub(crate) fn echo(value: &str) -> Cow<'_, str> {
    truncate(value, ECHO_CHARS)
}

/// `value` cut to `max` characters plus `…` when longer.
pub(crate) fn truncate(value: &str, max: usize) -> Cow<'_, str> {
    match value.char_indices().nth(max) {
        None => Cow::Borrowed(value),
        Some((end, _)) => Cow::Owned(format!("{}…", &value[..end])),
    }
}

/// Lets one event through per interval and counts the ones held back, so
/// that a flood of bad input costs a bounded amount of log.
pub(crate) struct EveryInterval {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl EveryInterval {
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(suppressed)` when this event may be logged (with the number of
    /// events held back since the last one), `None` when it is held back.
    pub fn allow(&self) -> Option<u64> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match st.0 {
            Some(last) if now.duration_since(last) < self.interval => {
                st.1 += 1;
                None
            }
            _ => {
                let suppressed = std::mem::take(&mut st.1);
                st.0 = Some(now);
                Some(suppressed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_cuts_on_char_boundaries() {
        assert_eq!(echo("short"), "short");
        let exact = "a".repeat(ECHO_CHARS);
        assert_eq!(echo(&exact), exact.as_str());
        let long = "é".repeat(1000);
        let cut = echo(&long);
        assert_eq!(cut.chars().count(), ECHO_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("абв", 2), "аб…");
        assert_eq!(truncate("", 0), "");
        assert_eq!(truncate("x", 0), "…");
    }

    #[test]
    fn every_interval_lets_one_through() {
        let gate = EveryInterval::new(Duration::from_secs(3600));
        assert_eq!(gate.allow(), Some(0));
        for _ in 0..10 {
            assert_eq!(gate.allow(), None);
        }
        let gate = EveryInterval::new(Duration::ZERO);
        assert_eq!(gate.allow(), Some(0));
        assert_eq!(gate.allow(), Some(0));
    }
}
