//! The retry loop: one attempt after another until one succeeds, the error
//! is final, the attempts or the deadline run out, or the budget is spent.
//! Time (the clock bounding the deadline, the sleep between attempts) is
//! injected, so that the loop is tested without sockets or waiting.

use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::Backoff;
use super::budget::{Bucket, Cost};

/// The loop's view of time.
pub(crate) trait Timer: Send + Sync {
    /// Now, on the clock the deadline is on.
    fn now(&self) -> Instant;
    /// Waits `delay`.
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()>;
}

/// Tokio's clock and timer: the one every retry of the crate runs on.
pub(crate) struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// What to do after a failed attempt, as the caller's classifier says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// The error is final.
    Stop,
    /// Try again after `backoff`'s delay, paying `cost` from the budget.
    Retry { backoff: Backoff, cost: Cost },
    /// Try again at once and for free (a fresh token after UNAUTHENTICATED).
    RetryNow,
}

/// Why the loop gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The classifier said the error is final.
    Final,
    /// The last allowed attempt failed.
    Attempts,
    /// The next attempt would start past the deadline.
    Deadline,
    /// The retry budget could not pay for the next attempt.
    Budget,
}

/// The error of the last attempt, how many were made and why no more.
#[derive(Debug)]
pub(crate) struct Failure<E> {
    pub(crate) error: E,
    pub(crate) attempts: u32,
    pub(crate) stopped: Stopped,
}

/// The bounds of one retry loop.
pub(crate) struct Schedule<'a> {
    /// Attempts in all (at least 1).
    pub(crate) max_attempts: u32,
    /// No attempt starts at or after this moment.
    pub(crate) deadline: Option<Instant>,
    /// The client's retry budget, if any.
    pub(crate) budget: Option<&'a Bucket>,
    pub(crate) timer: &'a dyn Timer,
}

/// Runs `attempt(n)` for `n = 1, 2, …` until it succeeds or [`Schedule`]
/// and `classify` say to stop. A success refunds the budget.
pub(crate) async fn run<T, E, F, Fut, C>(
    schedule: Schedule<'_>,
    mut attempt: F,
    mut classify: C,
) -> Result<T, Failure<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: FnMut(&E, u32) -> Verdict,
{
    let mut n: u32 = 0;
    loop {
        n += 1;
        let error = match attempt(n).await {
            Ok(value) => {
                if let Some(budget) = schedule.budget {
                    budget.refund();
                }
                return Ok(value);
            }
            Err(error) => error,
        };
        let verdict = classify(&error, n);
        let stop = |stopped| {
            Err(Failure {
                error,
                attempts: n,
                stopped,
            })
        };
        let (delay, cost) = match verdict {
            Verdict::Stop => return stop(Stopped::Final),
            _ if n >= schedule.max_attempts => return stop(Stopped::Attempts),
            Verdict::RetryNow => (Duration::ZERO, None),
            Verdict::Retry { backoff, cost } => (backoff.delay(n), Some(cost)),
        };
        if let Some(deadline) = schedule.deadline {
            if schedule.timer.now() + delay >= deadline {
                return stop(Stopped::Deadline);
            }
        }
        if let (Some(budget), Some(cost)) = (schedule.budget, cost) {
            if !budget.withdraw(cost) {
                return stop(Stopped::Budget);
            }
        }
        tracing::debug!(attempt = n, ?delay, "retrying");
        if !delay.is_zero() {
            schedule.timer.sleep(delay).await;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;
    use std::time::SystemTime;

    use super::*;
    use crate::auth::{Clock, ManualClock};
    use crate::retry::{Jitter, RetryBudget};

    /// A timer on a [`ManualClock`]: sleeping records the delay and moves the clock.
    pub(crate) struct FakeTimer {
        pub(crate) clock: ManualClock,
        start: SystemTime,
        base: Instant,
        pub(crate) slept: Mutex<Vec<Duration>>,
    }

    impl FakeTimer {
        pub(crate) fn new() -> Self {
            let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
            FakeTimer {
                start: clock.now(),
                clock,
                base: Instant::now(),
                slept: Mutex::new(Vec::new()),
            }
        }

        pub(crate) fn slept(&self) -> Vec<Duration> {
            self.slept.lock().unwrap().clone()
        }
    }

    impl Timer for FakeTimer {
        fn now(&self) -> Instant {
            self.base + self.clock.now().duration_since(self.start).unwrap()
        }

        fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
            self.slept.lock().unwrap().push(delay);
            self.clock.advance(delay);
            Box::pin(async {})
        }
    }

    const MS: Duration = Duration::from_millis(1);

    fn fixed(initial: Duration) -> Backoff {
        Backoff::new(initial, 1000 * MS).jitter(Jitter::None)
    }

    fn retry() -> Verdict {
        Verdict::Retry {
            backoff: fixed(10 * MS),
            cost: Cost::Rpc,
        }
    }

    /// Runs a loop whose attempts fail `fails` times, then succeed; returns
    /// the outcome and the attempts made.
    fn run_failing(
        schedule: Schedule<'_>,
        fails: u32,
        verdict: Verdict,
    ) -> (Result<u32, Failure<&'static str>>, u32) {
        let mut made = 0;
        let outcome = futures::executor::block_on(run(
            schedule,
            |n| {
                made += 1;
                async move { if n <= fails { Err("boom") } else { Ok(n) } }
            },
            |_, _| verdict,
        ));
        (outcome, made)
    }

    fn schedule(timer: &FakeTimer, max_attempts: u32) -> Schedule<'_> {
        Schedule {
            max_attempts,
            deadline: None,
            budget: None,
            timer,
        }
    }

    fn budgeted<'a>(timer: &'a FakeTimer, bucket: &'a Bucket, max_attempts: u32) -> Schedule<'a> {
        Schedule {
            budget: Some(bucket),
            ..schedule(timer, max_attempts)
        }
    }

    #[test]
    fn backs_off_exponentially_between_attempts() {
        let timer = FakeTimer::new();
        let (outcome, made) = run_failing(schedule(&timer, 5), 3, retry());
        assert_eq!(outcome.unwrap(), 4);
        assert_eq!(made, 4);
        assert_eq!(timer.slept(), [10 * MS, 20 * MS, 40 * MS]);
    }

    #[test]
    fn stops_after_the_last_attempt_and_on_final_errors() {
        let timer = FakeTimer::new();
        let (outcome, made) = run_failing(schedule(&timer, 3), 10, retry());
        let failure = outcome.unwrap_err();
        assert_eq!((failure.attempts, failure.stopped), (3, Stopped::Attempts));
        assert_eq!(made, 3);

        let timer = FakeTimer::new();
        let (outcome, made) = run_failing(schedule(&timer, 3), 10, Verdict::Stop);
        assert_eq!(outcome.unwrap_err().stopped, Stopped::Final);
        assert_eq!(made, 1);
        assert!(timer.slept().is_empty());
    }

    #[test]
    fn never_sleeps_past_the_deadline() {
        let timer = FakeTimer::new();
        let schedule = Schedule {
            deadline: Some(timer.now() + 65 * MS),
            ..schedule(&timer, 100)
        };
        let (outcome, made) = run_failing(schedule, 100, retry());
        let failure = outcome.unwrap_err();
        // 10 + 20 ms slept; the next 40 ms would end at 70 ms, past 65 ms.
        assert_eq!(failure.stopped, Stopped::Deadline);
        assert_eq!(made, 3);
        assert_eq!(timer.slept(), [10 * MS, 20 * MS]);
    }

    #[test]
    fn immediate_retries_do_not_sleep_or_pay() {
        let timer = FakeTimer::new();
        let bucket = RetryBudget::standard().capacity(0).bucket();
        let (outcome, made) = run_failing(budgeted(&timer, &bucket, 2), 1, Verdict::RetryNow);
        assert_eq!(outcome.unwrap(), 2);
        assert_eq!(made, 2);
        assert!(timer.slept().is_empty());
    }

    #[test]
    fn the_budget_stops_retries_and_successes_refill_it() {
        let timer = FakeTimer::new();
        let bucket = RetryBudget::standard().capacity(10).bucket();
        let with_budget = || budgeted(&timer, &bucket, 10);
        // 10 tokens pay for two retries: three attempts, then the budget stops it.
        let (outcome, made) = run_failing(with_budget(), 100, retry());
        assert_eq!(outcome.unwrap_err().stopped, Stopped::Budget);
        assert_eq!(made, 3);
        // Spent: a failure is not retried at all.
        let (_, made) = run_failing(with_budget(), 100, retry());
        assert_eq!(made, 1);
        // Five successes refund five tokens: one retry again.
        for _ in 0..5 {
            assert!(run_failing(with_budget(), 0, retry()).0.is_ok());
        }
        let (outcome, made) = run_failing(with_budget(), 1, retry());
        assert_eq!(outcome.unwrap(), 2);
        assert_eq!(made, 2);
    }

    #[test]
    fn transport_failures_cost_more() {
        let timer = FakeTimer::new();
        let bucket = RetryBudget::standard().capacity(10).bucket();
        let verdict = Verdict::Retry {
            backoff: fixed(MS),
            cost: Cost::Transport,
        };
        let (_, made) = run_failing(budgeted(&timer, &bucket, 10), 100, verdict);
        assert_eq!(made, 2, "one retry of 10 tokens");
    }
}
