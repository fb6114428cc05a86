//! Retries: one [`Backoff`], one retry loop, one classifier of retryable
//! errors ([`RetryPolicy::retries`]) and a [`RetryBudget`] shared by all
//! calls of a client.
//!
//! The default ([`RetryPolicy::standard`]) retries `UNAVAILABLE` and, with a
//! longer backoff, `RESOURCE_EXHAUSTED`, up to 4 attempts, with exponential
//! backoff and full jitter, never past the call's deadline and never beyond
//! the client's [`RetryBudget`]. Codes that mean the request itself is wrong
//! or was given up on (`INVALID_ARGUMENT`, `DEADLINE_EXCEEDED`, `CANCELLED`,
//! `NOT_FOUND`, …) are never retried. Mutating calls are safe to retry
//! because the client sends the same `idempotency-key` on every attempt.
//!
//! The same loop runs the retries of calls, of IAM
//! token exchanges, of endpoint discovery and of the metadata service; the
//! token cache paces its refreshes with the same [`Backoff`].

mod backoff;
mod budget;
pub(crate) mod run;

use std::time::Duration;

use tonic::Code;

pub use backoff::{Backoff, Jitter};
pub(crate) use backoff::{exponential, growth_factor};
pub use budget::RetryBudget;
pub(crate) use budget::{Bucket, Cost};
pub(crate) use run::{Schedule, Stopped, TokioTimer, Verdict};

use crate::Error;

/// When and how often a failed call is tried again.
///
/// ```
/// use std::time::Duration;
/// use yc_billing::RetryPolicy;
///
/// let policy = RetryPolicy::standard()
///     .max_attempts(6)
///     .max_backoff(Duration::from_secs(2));
/// assert_eq!(policy.attempts(), 6);
/// assert!(RetryPolicy::disabled().attempts() == 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
    exhausted_initial_backoff: Duration,
    /// Bit `n` set: code `n` is retried.
    retryable: u32,
    /// Wait what the server's `google.rpc.RetryInfo` says, when it says.
    retry_info: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

const fn bit(code: Code) -> u32 {
    1 << (code as i32 as u32)
}

/// The first backoff after `RESOURCE_EXHAUSTED` of [`RetryPolicy::rate_limited`].
const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(60);

/// Codes no policy retries: the caller's deadline or cancellation is final.
const NEVER: u32 = bit(Code::DeadlineExceeded) | bit(Code::Cancelled) | bit(Code::Ok);

impl RetryPolicy {
    /// The default policy: 4 attempts, backoff from 100 ms doubling to at most
    /// 5 s (1 s initial for `RESOURCE_EXHAUSTED`), full jitter.
    pub const fn standard() -> Self {
        RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            exhausted_initial_backoff: Duration::from_secs(1),
            retryable: bit(Code::Unavailable) | bit(Code::ResourceExhausted),
            retry_info: false,
        }
    }

    /// The setting of the rate-limited RPCs (the usage reports: "1 request
    /// per minute per IP"), derived from `self`: the server's
    /// `google.rpc.RetryInfo` delay is waited when it sends one, otherwise
    /// `RESOURCE_EXHAUSTED` backs off from a minute; at least 3 attempts.
    /// The retries stay within the call's deadline: a wait that would end
    /// past it is not started (so give such calls a timeout of a few minutes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tonic::Code;
    /// use yc_billing::RetryPolicy;
    ///
    /// let p = RetryPolicy::standard().rate_limited();
    /// assert!(p.honors_retry_info());
    /// assert_eq!(p.backoff_cap(1, Code::ResourceExhausted), Duration::from_secs(60));
    /// ```
    pub fn rate_limited(self) -> Self {
        RetryPolicy {
            max_attempts: self.max_attempts.max(3),
            exhausted_initial_backoff: RATE_LIMIT_BACKOFF,
            retry_info: true,
            ..self
        }
    }

    /// Whether a retry waits the delay of the server's `google.rpc.RetryInfo`
    /// (when the error carries one) instead of the backoff.
    pub fn retry_info(mut self, on: bool) -> Self {
        self.retry_info = on;
        self
    }

    /// Whether the server's `google.rpc.RetryInfo` delay is honoured.
    pub fn honors_retry_info(&self) -> bool {
        self.retry_info
    }

    /// A policy that makes exactly one attempt.
    pub const fn disabled() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::standard()
        }
    }

    /// Sets the total number of attempts (at least 1; 0 is taken as 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Replaces the backoff (initial delay, growth, cap, jitter).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the first backoff before jitter.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = self.backoff.initial(backoff);
        self
    }

    /// Sets the cap on any single backoff.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = self.backoff.max(backoff);
        self
    }

    /// Sets the growth factor of the backoff (at least 1).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.backoff = self.backoff.multiplier(multiplier);
        self
    }

    /// Sets the first backoff after `RESOURCE_EXHAUSTED`.
    pub fn resource_exhausted_backoff(mut self, backoff: Duration) -> Self {
        self.exhausted_initial_backoff = backoff;
        self
    }

    /// Replaces the set of codes that are retried.
    ///
    /// `DEADLINE_EXCEEDED` and `CANCELLED` are dropped from the set: the
    /// caller's deadline or cancellation is final.
    pub fn retryable_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.retryable = codes.into_iter().fold(0, |set, c| set | bit(c)) & !NEVER;
        self
    }

    /// The total number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a failure with `code` is retried by this policy.
    pub fn is_retryable(&self, code: Code) -> bool {
        self.retryable & bit(code) != 0
    }

    /// Whether this policy retries `error`: the one classifier of the crate
    /// ([`Error::is_retryable`] is this on [`RetryPolicy::standard`]).
    ///
    /// An RPC error is retried when its code is in the set; a transport
    /// failure counts as `UNAVAILABLE` unless it is a TLS or protocol
    /// mismatch, which retrying cannot mend; anything else (credentials,
    /// configuration, operation failures, bad answers) is final.
    pub fn retries(&self, error: &Error) -> bool {
        self.verdict(error).is_some()
    }

    /// What the retry loop does after `error`: `None` when it is final,
    /// otherwise the backoff and cost of the retry.
    pub(crate) fn verdict(&self, error: &Error) -> Option<(Backoff, Cost)> {
        match error {
            Error::Rpc(e) if self.is_retryable(e.code()) => {
                let hint = e.details().retry_info().and_then(|r| r.retry_delay);
                let backoff = match hint {
                    // The server's word, exactly: no growth, no jitter.
                    Some(delay) if self.retry_info => {
                        Backoff::new(delay, delay).jitter(Jitter::None)
                    }
                    _ => self.backoff_for(e.code()),
                };
                Some((backoff, Cost::Rpc))
            }
            Error::Transport(t)
                if t.kind().is_transient() && self.is_retryable(Code::Unavailable) =>
            {
                Some((self.backoff, Cost::Transport))
            }
            _ => None,
        }
    }

    /// The loop's verdict on a failure with `code` (and, for `Cost`,
    /// whether it was a transport failure).
    pub(crate) fn verdict_for_code(&self, code: Code, cost: Cost) -> Verdict {
        if self.is_retryable(code) {
            Verdict::Retry {
                backoff: self.backoff_for(code),
                cost,
            }
        } else {
            Verdict::Stop
        }
    }

    /// The backoff after a failure with `code`.
    pub(crate) fn backoff_for(&self, code: Code) -> Backoff {
        if code == Code::ResourceExhausted {
            self.backoff.initial(self.exhausted_initial_backoff)
        } else {
            self.backoff
        }
    }

    /// The upper bound of the backoff after failed attempt number `attempt` (1-based).
    pub fn backoff_cap(&self, attempt: u32, code: Code) -> Duration {
        self.backoff_for(code).cap(attempt)
    }

    /// A backoff with the policy's jitter (full by default).
    pub fn backoff_delay(&self, attempt: u32, code: Code) -> Duration {
        self.backoff_for(code).delay(attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_retries_only_transient_codes() {
        let p = RetryPolicy::standard();
        assert!(p.is_retryable(Code::Unavailable));
        assert!(p.is_retryable(Code::ResourceExhausted));
        for c in [
            Code::InvalidArgument,
            Code::DeadlineExceeded,
            Code::Cancelled,
            Code::NotFound,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::FailedPrecondition,
            Code::AlreadyExists,
        ] {
            assert!(!p.is_retryable(c), "{c:?}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let ms = Duration::from_millis;
        let p = RetryPolicy::standard()
            .initial_backoff(ms(100))
            .max_backoff(ms(350));
        let caps = [1, 2, 3, 60].map(|n| p.backoff_cap(n, Code::Unavailable));
        assert_eq!(caps, [ms(100), ms(200), ms(350), ms(350)]);
        assert!(p.backoff_cap(1, Code::ResourceExhausted) >= ms(350));
        let samples: Vec<_> = (0..200)
            .map(|_| p.backoff_delay(3, Code::Unavailable))
            .collect();
        assert!(samples.iter().all(|d| *d <= ms(350)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "full jitter must spread the delays");
    }

    #[test]
    fn rate_limited_waits_the_servers_retry_info() {
        use crate::error::RpcError;
        use tonic_types::{ErrorDetails, StatusExt};
        let hinted = Error::from(RpcError::from_status(
            "/a.B/C",
            &tonic::Status::with_error_details(
                Code::ResourceExhausted,
                "slow down",
                ErrorDetails::with_retry_info(Some(Duration::from_millis(1234))),
            ),
        ));
        let plain = Error::from(RpcError::from_status(
            "/a.B/C",
            &tonic::Status::new(Code::ResourceExhausted, "slow down"),
        ));
        let p = RetryPolicy::standard().rate_limited();
        let (backoff, _) = p.verdict(&hinted).unwrap();
        assert_eq!(backoff.delay(1), Duration::from_millis(1234));
        assert_eq!(backoff.delay(3), Duration::from_millis(1234));
        let (backoff, _) = p.verdict(&plain).unwrap();
        assert_eq!(backoff.cap(1), Duration::from_secs(60));
        // The standard policy keeps its own backoff, hint or not.
        let (backoff, _) = RetryPolicy::standard().verdict(&hinted).unwrap();
        assert_eq!(backoff.cap(1), Duration::from_secs(1));
        assert!(p.attempts() >= 3);
    }

    #[test]
    fn deadline_and_cancel_cannot_be_made_retryable() {
        let p = RetryPolicy::standard().retryable_codes([
            Code::DeadlineExceeded,
            Code::Cancelled,
            Code::Internal,
        ]);
        assert!(!p.is_retryable(Code::DeadlineExceeded));
        assert!(!p.is_retryable(Code::Cancelled));
        assert!(p.is_retryable(Code::Internal));
        assert_eq!(RetryPolicy::disabled().max_attempts(0).attempts(), 1);
    }

    #[test]
    fn one_classifier_for_errors() {
        use crate::error::{RpcError, TransportError, TransportErrorKind};
        let rpc = |code| {
            Error::from(RpcError::from_status(
                "/a.B/C",
                &tonic::Status::new(code, "x"),
            ))
        };
        let transport = |kind| Error::from(TransportError::new("h:1", "/a.B/C", kind, "x"));
        let p = RetryPolicy::standard();
        assert!(p.retries(&rpc(Code::Unavailable)));
        assert!(!p.retries(&rpc(Code::InvalidArgument)));
        assert!(p.retries(&transport(TransportErrorKind::ConnectionRefused)));
        assert!(!p.retries(&transport(TransportErrorKind::Tls)));
        assert!(!p.retries(&Error::config("x", "y")));
        assert_eq!(
            p.verdict(&transport(TransportErrorKind::ConnectTimeout))
                .map(|v| v.1),
            Some(Cost::Transport)
        );
        let only_internal = RetryPolicy::standard().retryable_codes([Code::Internal]);
        assert!(!only_internal.retries(&transport(TransportErrorKind::ConnectionRefused)));
        for e in [
            rpc(Code::Unavailable),
            rpc(Code::NotFound),
            transport(TransportErrorKind::Dns),
        ] {
            assert_eq!(e.is_retryable(), p.retries(&e), "{e}");
        }
    }
}
