//! Long-running operations.
//!
//! Every mutating Billing RPC answers with a `yandex.cloud.operation.Operation`
//! whose `metadata` and `response` are `google.protobuf.Any` values of the
//! types its `(yandex.cloud.api.operation)` option declares. [`Operation<M, R>`]
//! carries those types: [`Operation::metadata`] decodes `M`, and
//! [`Operation::wait`] polls `OperationService.Get` under a [`PollingPolicy`]
//! until the operation is done and decodes `R`. [`RawOperation`] is the same
//! handle without the types: its [`wait`](RawOperation::wait) returns the
//! final operation message.
//!
//! | file | concept |
//! |---|---|
//! | `policy.rs` | [`PollingPolicy`]: when to poll |
//! | `poller.rs` | the loop of `Get`s: hint, `NOT_FOUND` grace, limits |
//! | `raw.rs` | [`RawOperation`], [`RawOperationState`], [`check_operation`], [`outcome`] |
//! | `handle.rs` | [`Operation<M, R>`], [`OperationState<M, R>`] |
//!
//! ```no_run
//! # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
//! use yc_billing::PollingPolicy;
//! use std::time::Duration;
//!
//! let op = client.customers().activate("customer-id").await?;
//! println!("operation {} started", op.id());
//! let customer = op
//!     .wait_with(&PollingPolicy::default().with_time_limit(Duration::from_secs(60)))
//!     .await?;
//! println!("activated {}", customer.id);
//! # Ok(()) }
//! ```

#[cfg(test)]
pub(crate) mod fixtures;
mod handle;
mod policy;
mod poller;
mod raw;

pub use handle::{Operation, OperationState};
pub use policy::{
    DEFAULT_INITIAL_INTERVAL, DEFAULT_MAX_INTERVAL, DEFAULT_NOT_FOUND_GRACE, DEFAULT_TIME_LIMIT,
    PollingPolicy,
};
pub(crate) use poller::poll_hint;
pub use raw::{RawOperation, RawOperationState, check_operation, outcome};

/// Decodes a `google.protobuf.Any` as `T`; see [`crate::proto::unpack`].
pub use crate::proto::unpack;
