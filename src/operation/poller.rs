//! The polling loop: `OperationService.Get` until done, honouring the
//! server's hint, the `NOT_FOUND` grace and the policy's limits.

use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;

use super::PollingPolicy;
use super::raw::{RawOperation, RawOperationState, check_pollable};
use crate::error::{Error, Result};
use crate::transport::X_OPERATION_POLL_INTERVAL;

/// Reads the `x-operation-poll-interval` header (seconds, possibly
/// fractional). Values that are not finite positive numbers are ignored.
pub(crate) fn poll_hint(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get(X_OPERATION_POLL_INTERVAL)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    if !secs.is_finite() || secs <= 0.0 {
        return None;
    }
    // Anything beyond a day is nonsense; `try_from_secs_f64` also guards overflow.
    Duration::try_from_secs_f64(secs.min(86_400.0)).ok()
}

/// The polling loop shared by every wait and watch, typed or not.
pub(super) struct Poller {
    op: RawOperation,
    policy: PollingPolicy,
    start: Instant,
    polls: u32,
    started: bool,
    finished: bool,
}

impl Poller {
    pub(super) fn new(op: RawOperation, policy: PollingPolicy) -> Self {
        Poller {
            op,
            policy,
            start: Instant::now(),
            polls: 0,
            started: false,
            finished: false,
        }
    }

    fn state(&self) -> RawOperationState {
        RawOperationState {
            raw: self.op.raw().clone(),
            polls: self.polls,
            elapsed: self.start.elapsed(),
        }
    }

    fn timeout(&self) -> Error {
        Error::OperationTimeout {
            operation: Box::new(self.op.raw().clone()),
            elapsed: self.start.elapsed(),
            attempts: self.polls,
        }
    }

    /// The states as a stream that ends after the first done state or an error.
    pub(super) fn into_stream(self) -> impl Stream<Item = Result<RawOperationState>> {
        futures::stream::unfold(self, |mut poller| async move {
            let item = poller.next().await?;
            Some((item, poller))
        })
    }

    /// Polls until done, handing every state (the current one first) to
    /// `observe`, and returns what `observe` made of the done state.
    pub(super) async fn until_done<S>(
        mut self,
        mut observe: impl FnMut(RawOperationState) -> S,
    ) -> Result<S> {
        loop {
            match self.next().await {
                Some(Ok(state)) => {
                    let done = state.is_done();
                    let seen = observe(state);
                    if done {
                        return Ok(seen);
                    }
                }
                Some(Err(e)) => return Err(e),
                None => {
                    // The poller ends only after a done state or an error.
                    return Err(Error::InvalidOperation {
                        operation_id: self.op.id().to_owned(),
                        reason: "polling ended without a result".into(),
                    });
                }
            }
        }
    }

    /// The next state (or error); `None` once finished.
    async fn next(&mut self) -> Option<Result<RawOperationState>> {
        if self.finished {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = check_pollable(self.op.raw()) {
                self.finished = true;
                return Some(Err(e));
            }
            self.finished = self.op.is_done();
            return Some(Ok(self.state()));
        }
        loop {
            if self.policy.max_polls().is_some_and(|max| self.polls >= max) {
                self.finished = true;
                return Some(Err(self.timeout()));
            }
            let mut delay = self.policy.interval(self.polls + 1, self.op.poll_hint());
            if let Some(limit) = self.policy.time_limit() {
                let left = limit.saturating_sub(self.start.elapsed());
                if left.is_zero() {
                    self.finished = true;
                    return Some(Err(self.timeout()));
                }
                // The last poll happens right at the limit.
                delay = delay.min(left);
            }
            tokio::time::sleep(delay).await;
            self.polls += 1;
            // A turn among the client's waits (`max_concurrent_polls`), then
            // the `Get`, boxed: a `Get` in progress is some kilobytes of
            // state, and a waiter spends nearly all its time asleep or in
            // the queue; unboxed, each would carry that space (BENCHMARKS.md,
            // goal 4).
            let client = self.op.client().clone();
            let turn = client.poll_turn().await;
            let polled = Box::pin(self.op.poll()).await;
            drop(turn);
            match polled {
                Ok(done) => {
                    self.finished = done;
                    return Some(Ok(self.state()));
                }
                Err(e)
                    if e.code() == Some(tonic::Code::NotFound)
                        && self.op.in_grace(self.policy.not_found_grace()) =>
                {
                    tracing::debug!(operation = %self.op.id(), "NOT_FOUND within the grace period");
                    continue;
                }
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_hint_header_parsing() {
        let mut md = tonic::metadata::MetadataMap::new();
        assert_eq!(poll_hint(&md), None);
        for (value, expected) in [
            ("2", Some(Duration::from_secs(2))),
            ("0.25", Some(Duration::from_millis(250))),
            (" 1.5 ", Some(Duration::from_millis(1500))),
            ("0", None),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("soon", None),
            ("1e300", Some(Duration::from_secs(86_400))),
        ] {
            md.insert(X_OPERATION_POLL_INTERVAL, value.parse().unwrap());
            assert_eq!(poll_hint(&md), expected, "{value:?}");
        }
    }
}
