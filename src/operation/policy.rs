//! When to poll: [`PollingPolicy`].

use std::time::Duration;

use rand::Rng;

/// How an [`Operation`](super::Operation) is polled until it is done.
///
/// Between `Operation.Get` calls the waiter sleeps for an exponentially
/// growing interval, from [`initial_interval`](Self::initial_interval)
/// (default 250 ms) times [`multiplier`](Self::multiplier) (default 2) per
/// poll up to [`max_interval`](Self::max_interval) (default 5 s), each
/// shortened by a random jitter of up to [`jitter`](Self::jitter) (default
/// 20 %) of itself. When the server suggests an interval with the
/// `x-operation-poll-interval` header (on the creating call or on a `Get`),
/// the latest suggestion replaces the backoff, clamped into
/// [[`initial_interval`](Self::initial_interval), [`max_hint`](Self::max_hint)]
/// (default 250 ms to 60 s): a server cannot make the waiter poll faster
/// than its first backoff step, nor sleep longer than `max_hint`.
///
/// A `NOT_FOUND` from `Get` within [`not_found_grace`](Self::not_found_grace)
/// (default 5 s) of the operation's creation is taken as replication lag and
/// polled again. Transient failures of `Get` are retried by the client's
/// [`RetryPolicy`](crate::RetryPolicy); anything else ends the wait. The
/// policy says only when to poll; the call options of each `Get` (timeout,
/// retry policy) belong to the operation handle
/// ([`Operation::with_call_options`](super::Operation::with_call_options)).
///
/// The wait gives up with
/// [`Error::OperationTimeout`](crate::Error::OperationTimeout), which keeps
/// the last state of the operation, after [`time_limit`](Self::time_limit) (default
/// 10 min) or [`max_polls`](Self::max_polls) (default: unlimited) `Get`s.
///
/// ```
/// use std::time::Duration;
/// use yc_billing::PollingPolicy;
///
/// let policy = PollingPolicy::default()
///     .with_initial_interval(Duration::from_millis(200))
///     .with_max_interval(Duration::from_secs(2))
///     .with_time_limit(Duration::from_secs(30))
///     .with_max_polls(50);
/// assert_eq!(policy.interval_cap(1), Duration::from_millis(200));
/// assert_eq!(policy.interval_cap(10), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PollingPolicy {
    initial_interval: Duration,
    max_interval: Duration,
    multiplier: f64,
    jitter: f64,
    max_hint: Duration,
    not_found_grace: Duration,
    time_limit: Option<Duration>,
    max_polls: Option<u32>,
}

/// Default first polling interval. The official SDKs poll every second;
/// 250 ms doubling sees a short operation finish sooner and still keeps an
/// operation of a few seconds under one `Get` per second of waiting (a
/// 100 ms start made six `Get`s of a 5 s operation: BENCHMARKS.md, goal 4).
pub const DEFAULT_INITIAL_INTERVAL: Duration = Duration::from_millis(250);
/// Default cap of the polling interval.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(5);
/// Default grace period for `NOT_FOUND` right after creation.
pub const DEFAULT_NOT_FOUND_GRACE: Duration = Duration::from_secs(5);
/// Default time limit of a wait.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(600);

impl Default for PollingPolicy {
    fn default() -> Self {
        PollingPolicy {
            initial_interval: DEFAULT_INITIAL_INTERVAL,
            max_interval: DEFAULT_MAX_INTERVAL,
            multiplier: 2.0,
            jitter: 0.2,
            max_hint: Duration::from_secs(60),
            not_found_grace: DEFAULT_NOT_FOUND_GRACE,
            time_limit: Some(DEFAULT_TIME_LIMIT),
            max_polls: None,
        }
    }
}

impl PollingPolicy {
    /// The default policy (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the first interval before jitter.
    pub fn with_initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// Sets the cap of the backoff interval.
    pub fn with_max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Sets the growth factor per poll (at least 1; not finite is taken as 2).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = crate::retry::growth_factor(multiplier);
        self
    }

    /// Sets the jitter: each interval is shortened by a random fraction in
    /// `[0, jitter]` of itself. Clamped to `[0, 1]`; 0 disables jitter.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// Sets the longest server-suggested interval that is honoured as is.
    pub fn with_max_hint(mut self, max: Duration) -> Self {
        self.max_hint = max;
        self
    }

    /// Sets how long after creation a `NOT_FOUND` from `Get` is polled again.
    pub fn with_not_found_grace(mut self, grace: Duration) -> Self {
        self.not_found_grace = grace;
        self
    }

    /// Sets the longest time a wait polls before
    /// [`Error::OperationTimeout`](crate::Error::OperationTimeout).
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Removes the time limit (the wait may then last forever unless
    /// [`with_max_polls`](Self::with_max_polls) is set).
    pub fn without_time_limit(mut self) -> Self {
        self.time_limit = None;
        self
    }

    /// Sets the most `Operation.Get` calls a wait makes before
    /// [`Error::OperationTimeout`](crate::Error::OperationTimeout).
    pub fn with_max_polls(mut self, polls: u32) -> Self {
        self.max_polls = Some(polls);
        self
    }

    /// The first interval before jitter.
    pub fn initial_interval(&self) -> Duration {
        self.initial_interval
    }

    /// The cap of the backoff interval.
    pub fn max_interval(&self) -> Duration {
        self.max_interval
    }

    /// The growth factor per poll.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The largest fraction by which jitter shortens an interval.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The longest server-suggested interval honoured as is.
    pub fn max_hint(&self) -> Duration {
        self.max_hint
    }

    /// The grace period for `NOT_FOUND` right after creation.
    pub fn not_found_grace(&self) -> Duration {
        self.not_found_grace
    }

    /// The time limit of a wait, if any.
    pub fn time_limit(&self) -> Option<Duration> {
        self.time_limit
    }

    /// The most `Get` calls of a wait, if limited.
    pub fn max_polls(&self) -> Option<u32> {
        self.max_polls
    }

    /// The backoff interval before poll number `poll` (1-based), before jitter:
    /// `initial × multiplier^(poll−1)`, at most `max_interval`.
    pub fn interval_cap(&self, poll: u32) -> Duration {
        crate::retry::exponential(
            self.initial_interval,
            self.multiplier,
            poll,
            self.max_interval,
        )
    }

    /// The sleep before poll number `poll` given the server's latest
    /// suggestion `hint`: the hint, raised to at least `initial_interval`
    /// and capped at `max_hint` (the cap wins if the two cross), when there
    /// is one; otherwise the backoff with a random jitter.
    pub fn interval(&self, poll: u32, hint: Option<Duration>) -> Duration {
        let sample = rand::rng().random_range(0.0..=1.0);
        self.interval_with_sample(poll, hint, sample)
    }

    /// [`interval`](Self::interval) with the jitter's random draw (in `[0, 1]`) given.
    pub(super) fn interval_with_sample(
        &self,
        poll: u32,
        hint: Option<Duration>,
        sample: f64,
    ) -> Duration {
        if let Some(h) = hint {
            return h.max(self.initial_interval).min(self.max_hint);
        }
        let cap = self.interval_cap(poll);
        let factor = 1.0 - self.jitter * sample.clamp(0.0, 1.0);
        // `Duration::mul_f64` panics when the product overflows (a cap near
        // `Duration::MAX` times 1.0 rounds up past it): keep the cap then.
        Duration::try_from_secs_f64(cap.as_secs_f64() * factor).map_or(cap, |d| d.min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_defaults() {
        let p = PollingPolicy::default();
        assert_eq!(p.initial_interval(), Duration::from_millis(250));
        assert_eq!(p.max_interval(), Duration::from_secs(5));
        assert_eq!(p.not_found_grace(), Duration::from_secs(5));
        assert_eq!(p.time_limit(), Some(Duration::from_secs(600)));
        assert_eq!(p.max_polls(), None);
        assert_eq!(p.multiplier(), 2.0);
        assert_eq!(p.jitter(), 0.2);
    }

    #[test]
    fn policy_growth_and_cap() {
        let p = PollingPolicy::default()
            .with_initial_interval(Duration::from_millis(100))
            .with_max_interval(Duration::from_millis(700));
        let caps: Vec<_> = (1..=6).map(|n| p.interval_cap(n).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 700, 700, 700]);
        assert_eq!(p.interval_cap(0), Duration::from_millis(100));
        assert_eq!(p.interval_cap(u32::MAX), Duration::from_millis(700));
        let slow = p.clone().with_multiplier(1.5);
        assert_eq!(slow.interval_cap(2), Duration::from_millis(150));
        assert_eq!(p.clone().with_multiplier(0.1).multiplier(), 1.0);
        assert_eq!(p.clone().with_multiplier(f64::NAN).multiplier(), 2.0);
    }

    #[test]
    fn policy_jitter_bounds() {
        let p = PollingPolicy::default().with_jitter(0.25);
        let cap = p.interval_cap(3);
        assert_eq!(p.interval_with_sample(3, None, 0.0), cap);
        assert_eq!(p.interval_with_sample(3, None, 1.0), cap.mul_f64(0.75));
        let samples: Vec<_> = (0..500).map(|_| p.interval(3, None)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d <= cap && *d >= cap.mul_f64(0.75) - Duration::from_nanos(1))
        );
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "jitter must spread the intervals");
        let none = PollingPolicy::default().with_jitter(0.0);
        assert!((0..50).all(|_| none.interval(2, None) == none.interval_cap(2)));
        assert_eq!(PollingPolicy::default().with_jitter(7.0).jitter(), 1.0);
    }

    #[test]
    fn policy_hint_overrides_backoff() {
        let p = PollingPolicy::default().with_max_hint(Duration::from_secs(30));
        let hint = Some(Duration::from_millis(1500));
        // Exactly the hint, without jitter, even beyond max_interval's growth stage.
        for poll in [1, 5, 50] {
            assert_eq!(p.interval(poll, hint), Duration::from_millis(1500));
        }
        // Larger than max_interval is honoured ...
        assert_eq!(
            p.interval(1, Some(Duration::from_secs(20))),
            Duration::from_secs(20)
        );
        // ... up to max_hint.
        assert_eq!(
            p.interval(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn tiny_hints_are_raised_to_the_initial_interval() {
        let p = PollingPolicy::default()
            .with_initial_interval(Duration::from_millis(200))
            .with_max_hint(Duration::from_secs(30));
        for tiny in [
            Duration::from_nanos(1),
            Duration::from_micros(1),
            Duration::ZERO,
        ] {
            assert_eq!(
                p.interval(1, Some(tiny)),
                Duration::from_millis(200),
                "{tiny:?}"
            );
            assert_eq!(
                p.interval(40, Some(tiny)),
                Duration::from_millis(200),
                "{tiny:?}"
            );
        }
        // An initial interval above max_hint: the cap wins, nothing panics.
        let crossed = PollingPolicy::default()
            .with_initial_interval(Duration::from_secs(90))
            .with_max_hint(Duration::from_secs(30));
        assert_eq!(
            crossed.interval(1, Some(Duration::from_millis(1))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn extreme_intervals_do_not_panic() {
        let p = PollingPolicy::default()
            .with_initial_interval(Duration::MAX)
            .with_max_interval(Duration::MAX)
            .with_max_hint(Duration::MAX);
        for sample in [0.0, 0.5, 1.0] {
            for poll in [1, 2, 64, u32::MAX] {
                let d = p.interval_with_sample(poll, None, sample);
                assert!(d >= Duration::MAX.mul_f64(0.75), "{d:?}");
            }
        }
        assert_eq!(p.interval(1, Some(Duration::MAX)), Duration::MAX);
    }

    #[test]
    fn policy_limits() {
        let p = PollingPolicy::default()
            .with_time_limit(Duration::from_secs(3))
            .with_max_polls(7)
            .with_not_found_grace(Duration::from_secs(1));
        assert_eq!(p.time_limit(), Some(Duration::from_secs(3)));
        assert_eq!(p.max_polls(), Some(7));
        assert_eq!(p.not_found_grace(), Duration::from_secs(1));
        assert_eq!(p.without_time_limit().time_limit(), None);
    }
}
