//! Retry policy for unary calls.
//!
//! The default ([`RetryPolicy::standard`]) retries `UNAVAILABLE` and, with a
//! longer backoff, `RESOURCE_EXHAUSTED`, up to 4 attempts, with exponential
//! backoff and full jitter, never past the call's deadline. Codes that mean
//! the request itself is wrong or was given up on (`INVALID_ARGUMENT`,
//! `DEADLINE_EXCEEDED`, `CANCELLED`, `NOT_FOUND`, …) are never retried.
//! Mutating calls are safe to retry because the client sends the same
//! `idempotency-key` on every attempt.

use std::time::Duration;

use rand::Rng;
use tonic::Code;

/// When and how often a failed call is tried again.
///
/// ```
/// use std::time::Duration;
/// use yc_billing::RetryPolicy;
///
/// let policy = RetryPolicy::standard()
///     .with_max_attempts(6)
///     .with_max_backoff(Duration::from_secs(2));
/// assert_eq!(policy.max_attempts(), 6);
/// assert!(RetryPolicy::disabled().max_attempts() == 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    exhausted_initial_backoff: Duration,
    retryable: Vec<Code>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryPolicy {
    /// The default policy: 4 attempts, backoff from 100 ms doubling to at most
    /// 5 s (1 s initial for `RESOURCE_EXHAUSTED`), full jitter.
    pub fn standard() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            multiplier: 2.0,
            exhausted_initial_backoff: Duration::from_secs(1),
            retryable: vec![Code::Unavailable, Code::ResourceExhausted],
        }
    }

    /// A policy that makes exactly one attempt.
    pub fn disabled() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::standard()
        }
    }

    /// Sets the total number of attempts (at least 1; 0 is taken as 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first backoff before jitter.
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the cap on any single backoff.
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the growth factor of the backoff (at least 1).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = growth_factor(multiplier);
        self
    }

    /// Sets the first backoff after `RESOURCE_EXHAUSTED`.
    pub fn with_resource_exhausted_backoff(mut self, backoff: Duration) -> Self {
        self.exhausted_initial_backoff = backoff;
        self
    }

    /// Replaces the set of codes that are retried.
    ///
    /// `DEADLINE_EXCEEDED` and `CANCELLED` are dropped from the set: the
    /// caller's deadline or cancellation is final.
    pub fn with_retryable_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.retryable = codes
            .into_iter()
            .filter(|c| !matches!(c, Code::DeadlineExceeded | Code::Cancelled | Code::Ok))
            .collect();
        self
    }

    /// The total number of attempts.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a failure with `code` is retried by this policy.
    pub fn is_retryable(&self, code: Code) -> bool {
        self.retryable.contains(&code)
    }

    /// The upper bound of the backoff after failed attempt number `attempt` (1-based).
    pub fn backoff_cap(&self, attempt: u32, code: Code) -> Duration {
        let base = if code == Code::ResourceExhausted {
            self.exhausted_initial_backoff
        } else {
            self.initial_backoff
        };
        exponential(base, self.multiplier, attempt, self.max_backoff)
    }

    /// A backoff with full jitter: uniform in `[0, backoff_cap]`.
    pub fn backoff(&self, attempt: u32, code: Code) -> Duration {
        let cap = self.backoff_cap(attempt, code);
        if cap.is_zero() {
            return cap;
        }
        let nanos = rand::rng().random_range(0..=cap.as_nanos().min(u64::MAX as u128) as u64);
        Duration::from_nanos(nanos)
    }
}

/// A growth factor of at least 1; one that is not finite is taken as 2.
pub(crate) fn growth_factor(multiplier: f64) -> f64 {
    if multiplier.is_finite() {
        multiplier.max(1.0)
    } else {
        2.0
    }
}

/// `initial × multiplier^(n-1)` for step `n` (1-based), capped at `max` but
/// never below `initial`. Shared by retry backoff and operation polling.
pub(crate) fn exponential(initial: Duration, multiplier: f64, n: u32, max: Duration) -> Duration {
    let exp = multiplier.powi(n.saturating_sub(1).min(60) as i32);
    let max = max.max(initial);
    let secs = (initial.as_secs_f64() * exp).min(max.as_secs_f64());
    Duration::try_from_secs_f64(secs).unwrap_or(max)
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
        let p = RetryPolicy::standard()
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_millis(350));
        assert_eq!(
            p.backoff_cap(1, Code::Unavailable),
            Duration::from_millis(100)
        );
        assert_eq!(
            p.backoff_cap(2, Code::Unavailable),
            Duration::from_millis(200)
        );
        assert_eq!(
            p.backoff_cap(3, Code::Unavailable),
            Duration::from_millis(350)
        );
        assert_eq!(
            p.backoff_cap(60, Code::Unavailable),
            Duration::from_millis(350)
        );
        assert!(p.backoff_cap(1, Code::ResourceExhausted) >= Duration::from_millis(350));
        let samples: Vec<_> = (0..200).map(|_| p.backoff(3, Code::Unavailable)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(350)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "full jitter must spread the delays");
    }

    #[test]
    fn deadline_and_cancel_cannot_be_made_retryable() {
        let p = RetryPolicy::standard().with_retryable_codes([
            Code::DeadlineExceeded,
            Code::Cancelled,
            Code::Internal,
        ]);
        assert!(!p.is_retryable(Code::DeadlineExceeded));
        assert!(!p.is_retryable(Code::Cancelled));
        assert!(p.is_retryable(Code::Internal));
        assert_eq!(
            RetryPolicy::disabled().with_max_attempts(0).max_attempts(),
            1
        );
    }
}
