//! Per-call options: timeout, idempotency key, retry policy.
//!
//! Setters across the crate are named after the setting, without a `with_`
//! prefix (`timeout(d)`, `retry_policy(p)`, `max_attempts(n)`).

use std::time::Duration;

use crate::retry::RetryPolicy;

/// Options of a single call, overriding the client's defaults.
///
/// ```
/// use std::time::Duration;
/// use yc_billing::{CallOptions, RetryPolicy};
///
/// let opts = CallOptions::new()
///     .timeout(Duration::from_secs(5))
///     .idempotency_key("invite-acme-2026-11")
///     .retry_policy(RetryPolicy::disabled());
/// assert_eq!(opts.idempotency_key_value(), Some("invite-acme-2026-11"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) retry: Option<RetryPolicy>,
}

impl CallOptions {
    /// Options that keep every client default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The overall deadline of the call, retries included. More than
    /// [`MAX_TIMEOUT`](crate::client::MAX_TIMEOUT) makes the call fail with
    /// [`Error::Config`](crate::Error::Config) before anything is sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The `idempotency-key` of a mutating call (a fresh UUID otherwise).
    /// The same key is sent on every retry of the call.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The retry policy of this call (the client's otherwise; see
    /// [`ClientBuilder::retry_policy`](crate::ClientBuilder::retry_policy)).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The idempotency key set on these options, if any.
    pub fn idempotency_key_value(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}
