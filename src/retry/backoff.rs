//! [`Backoff`]: how long to wait before the next attempt.

use std::time::Duration;

use rand::Rng;

/// How a computed delay is spread to keep many callers from retrying in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Jitter {
    /// The delay as computed, every time.
    None,
    /// Uniform in `[0, delay]` ("full jitter").
    Full,
}

/// An exponential backoff: `initial × multiplier^(n-1)` before attempt
/// `n + 1`, capped at `max`, then jittered. One value serves every retry
/// of the crate: calls, IAM exchanges, discovery, the metadata service and
/// the token cache's refresh pacing.
///
/// ```
/// use std::time::Duration;
/// use yc_billing::retry::{Backoff, Jitter};
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
///     .multiplier(3.0)
///     .jitter(Jitter::None);
/// assert_eq!(backoff.delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay(2), Duration::from_millis(300));
/// assert_eq!(backoff.delay(9), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    multiplier: f64,
    max: Duration,
    jitter: Jitter,
}

impl Backoff {
    /// From `initial`, doubling, capped at `max` (never below `initial`), full jitter.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            multiplier: 2.0,
            max,
            jitter: Jitter::Full,
        }
    }

    /// The first delay, before jitter.
    pub fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// The cap on any single delay.
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The growth factor (at least 1; one that is not finite is taken as 2).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = growth_factor(multiplier);
        self
    }

    /// The jitter applied to each delay.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The upper bound of the delay after failed attempt number `n` (1-based), before jitter.
    pub fn cap(&self, n: u32) -> Duration {
        exponential(self.initial, self.multiplier, n, self.max)
    }

    /// The delay after failed attempt number `n` (1-based), jitter applied.
    pub fn delay(&self, n: u32) -> Duration {
        let cap = self.cap(n);
        match self.jitter {
            Jitter::None => cap,
            Jitter::Full if cap.is_zero() => cap,
            Jitter::Full => {
                let top = cap.as_nanos().min(u64::MAX as u128) as u64;
                Duration::from_nanos(rand::rng().random_range(0..=top))
            }
        }
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
/// never below `initial`. Shared by [`Backoff`] and operation polling.
pub(crate) fn exponential(initial: Duration, multiplier: f64, n: u32, max: Duration) -> Duration {
    let exp = multiplier.powi(n.saturating_sub(1).min(60) as i32);
    let max = max.max(initial);
    let secs = (initial.as_secs_f64() * exp).min(max.as_secs_f64());
    Duration::try_from_secs_f64(secs).unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn grows_is_capped_and_never_below_initial() {
        let b = Backoff::new(100 * MS, 350 * MS).jitter(Jitter::None);
        let got: Vec<_> = [1, 2, 3, 60, u32::MAX].map(|n| b.delay(n)).to_vec();
        assert_eq!(got, [100 * MS, 200 * MS, 350 * MS, 350 * MS, 350 * MS]);
        let below = Backoff::new(100 * MS, MS).jitter(Jitter::None);
        assert_eq!(below.delay(5), 100 * MS);
    }

    #[test]
    fn full_jitter_spreads_within_the_cap() {
        let b = Backoff::new(100 * MS, 350 * MS);
        let samples: Vec<_> = (0..200).map(|_| b.delay(3)).collect();
        assert!(samples.iter().all(|d| *d <= 350 * MS));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "full jitter must spread the delays");
        assert_eq!(
            Backoff::new(Duration::ZERO, Duration::ZERO).delay(1),
            Duration::ZERO
        );
    }

    #[test]
    fn odd_multipliers_and_huge_values_do_not_panic() {
        let b = Backoff::new(Duration::MAX, Duration::MAX).multiplier(f64::NAN);
        assert_eq!(b.multiplier, 2.0);
        let _ = b.delay(u32::MAX);
        assert_eq!(Backoff::new(MS, MS).multiplier(0.1).multiplier, 1.0);
    }
}
