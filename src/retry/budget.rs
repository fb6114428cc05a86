//! [`RetryBudget`]: a token bucket that caps retries across all calls of a client.

use std::sync::atomic::{AtomicU32, Ordering};

/// How many retries a client may make across all its calls: a token bucket,
/// as the AWS, Go and Python SDKs keep one.
///
/// The bucket starts full with `capacity` tokens. Every retry takes
/// `retry_cost` tokens (`transport_cost` after a transport failure, a
/// timeout or a connection that could not be made, which cost the backend
/// most); every successful call puts `success_refund` back, up to the
/// capacity. When a retry finds too few tokens it is not made, and the
/// call fails with the error of its last attempt. So a backend that fails
/// every call sees each caller's first attempts, plus a bounded number of
/// retries, instead of its load multiplied by the retry policy; as calls
/// succeed again, retries come back.
///
/// One bucket is kept per [`Client`](crate::Client) (clones share it) and
/// is used by its calls, its IAM token exchanges, its metadata service
/// requests and endpoint discovery. The default ([`RetryBudget::standard`])
/// holds 500 tokens, a retry costs 5 (10 after a transport failure) and a
/// success refunds 1: about 100 retries in a burst, and a steady failure
/// rate of up to about one call in six is retried in full.
///
/// ```
/// use yc_billing::Client;
/// use yc_billing::retry::RetryBudget;
///
/// let builder = Client::builder().retry_budget(RetryBudget::standard().capacity(50));
/// // No budget: retries are bounded by the retry policy alone.
/// let unbounded = Client::builder().retry_budget(RetryBudget::unlimited());
/// # let _ = (builder, unbounded);
/// assert!(RetryBudget::unlimited().is_unlimited());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    capacity: u32,
    retry_cost: u32,
    transport_cost: u32,
    success_refund: u32,
    unlimited: bool,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryBudget {
    /// 500 tokens; a retry costs 5, 10 after a transport failure; a success refunds 1.
    pub const fn standard() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 5,
            transport_cost: 10,
            success_refund: 1,
            unlimited: false,
        }
    }

    /// No budget: every retry the retry policy allows is made.
    pub const fn unlimited() -> Self {
        RetryBudget {
            unlimited: true,
            ..Self::standard()
        }
    }

    /// The size of the bucket, which starts full.
    pub fn capacity(mut self, tokens: u32) -> Self {
        self.capacity = tokens;
        self
    }

    /// The tokens a retry after an RPC error (`UNAVAILABLE`, …) takes.
    pub fn retry_cost(mut self, tokens: u32) -> Self {
        self.retry_cost = tokens;
        self
    }

    /// The tokens a retry after a transport failure or timeout takes.
    pub fn transport_cost(mut self, tokens: u32) -> Self {
        self.transport_cost = tokens;
        self
    }

    /// The tokens a successful call puts back.
    pub fn success_refund(mut self, tokens: u32) -> Self {
        self.success_refund = tokens;
        self
    }

    /// Whether this is [`RetryBudget::unlimited`].
    pub fn is_unlimited(&self) -> bool {
        self.unlimited
    }

    /// A full bucket of this budget.
    pub(crate) fn bucket(&self) -> Bucket {
        Bucket {
            budget: *self,
            tokens: AtomicU32::new(self.capacity),
        }
    }
}

/// What a retry is retrying after, for its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// An error the server answered.
    Rpc,
    /// A transport failure or a timeout.
    Transport,
}

/// The running state of a [`RetryBudget`].
#[derive(Debug)]
pub(crate) struct Bucket {
    budget: RetryBudget,
    tokens: AtomicU32,
}

impl Bucket {
    /// Takes the tokens of one retry; `false` (taking nothing) when too few are left.
    pub(crate) fn withdraw(&self, cost: Cost) -> bool {
        if self.budget.unlimited {
            return true;
        }
        let cost = match cost {
            Cost::Rpc => self.budget.retry_cost,
            Cost::Transport => self.budget.transport_cost,
        };
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// Puts back the refund of a successful call. A full bucket costs one load.
    pub(crate) fn refund(&self) {
        let budget = &self.budget;
        if budget.unlimited || self.tokens.load(Ordering::Relaxed) >= budget.capacity {
            return;
        }
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                (t < budget.capacity)
                    .then(|| t.saturating_add(budget.success_refund).min(budget.capacity))
            });
    }

    /// The tokens left.
    #[cfg(test)]
    pub(crate) fn available(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stop_when_spent_and_resume_after_successes() {
        let bucket = RetryBudget::standard().capacity(20).bucket();
        assert!(bucket.withdraw(Cost::Rpc));
        assert!(bucket.withdraw(Cost::Transport));
        assert_eq!(bucket.available(), 5);
        assert!(bucket.withdraw(Cost::Rpc));
        assert!(!bucket.withdraw(Cost::Rpc), "spent");
        assert_eq!(bucket.available(), 0, "a refused retry takes nothing");
        for _ in 0..4 {
            bucket.refund();
        }
        assert!(!bucket.withdraw(Cost::Rpc), "4 of 5 tokens back");
        bucket.refund();
        assert!(bucket.withdraw(Cost::Rpc), "refilled by successes");
    }

    #[test]
    fn refunds_stop_at_the_capacity() {
        let bucket = RetryBudget::standard()
            .capacity(7)
            .success_refund(3)
            .bucket();
        bucket.refund();
        assert_eq!(bucket.available(), 7);
        assert!(bucket.withdraw(Cost::Rpc));
        bucket.refund();
        assert_eq!(bucket.available(), 5);
        bucket.refund();
        assert_eq!(bucket.available(), 7);
    }

    #[test]
    fn an_unlimited_budget_never_refuses() {
        let bucket = RetryBudget::unlimited().capacity(0).bucket();
        for _ in 0..10_000 {
            assert!(bucket.withdraw(Cost::Transport));
        }
    }

    #[test]
    fn concurrent_withdrawals_never_overdraw() {
        let bucket = std::sync::Arc::new(RetryBudget::standard().capacity(500).bucket());
        let granted = std::sync::Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (bucket, granted) = (bucket.clone(), granted.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        if bucket.withdraw(Cost::Rpc) {
                            granted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(granted.load(Ordering::Relaxed), 100);
        assert_eq!(bucket.available(), 0);
    }
}
