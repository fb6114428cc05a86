//! The untyped operation handle, [`RawOperation`], and the rules every
//! operation message must follow whatever its types.

use std::time::{Duration, SystemTime};

use futures::Stream;
use tokio::time::Instant;

use super::PollingPolicy;
use super::poller::Poller;
use crate::call::CallOptions;
use crate::client::Client;
use crate::error::{Error, OperationError, Result};
use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;
use crate::proto::yandex::cloud::operation::operation::Result as ProtoResult;

/// Checks the shape of an operation message as any server answers it: one
/// that is not done must have an id to be polled by, and one that is done
/// must carry an `error` or a `response`. The typed waits apply the same
/// rules; this is for callers holding a raw message (the CLI's
/// `operations get`).
///
/// ```
/// use yc_billing::Error;
/// use yc_billing::operation::check_operation;
/// use yc_billing::proto::yandex::cloud::operation::Operation;
///
/// let running = Operation { id: "op1".into(), ..Default::default() };
/// assert!(check_operation(&running).is_ok());
/// let empty = Operation { id: "op1".into(), done: true, ..Default::default() };
/// assert!(matches!(check_operation(&empty), Err(Error::InvalidOperation { .. })));
/// ```
///
/// # Errors
///
/// [`Error::InvalidOperation`] saying what is wrong.
pub fn check_operation(raw: &ProtoOperation) -> Result<()> {
    if raw.done && raw.result.is_none() {
        return Err(no_result(raw));
    }
    check_pollable(raw)
}

/// The untyped outcome of an operation message: `None` while it is not done;
/// once done, its `response` as an `Any`, or its `error` as
/// [`Error::OperationFailed`] (or [`Error::InvalidOperation`] when it carries
/// neither). The typed [`Operation::result`](super::Operation::result)
/// decodes the `Any` of this.
///
/// ```
/// use yc_billing::operation::outcome;
/// use yc_billing::proto::yandex::cloud::operation::{Operation, operation::Result};
///
/// let running = Operation { id: "op1".into(), ..Default::default() };
/// assert!(outcome(&running).is_none());
/// let failed = Operation {
///     id: "op1".into(),
///     done: true,
///     result: Some(Result::Error(tonic_types::pb::Status {
///         code: tonic::Code::Cancelled as i32,
///         message: "cancelled".into(),
///         details: vec![],
///     })),
///     ..Default::default()
/// };
/// let err = outcome(&failed).unwrap().unwrap_err();
/// assert_eq!(err.code(), Some(tonic::Code::Cancelled));
/// ```
pub fn outcome(raw: &ProtoOperation) -> Option<Result<&prost_types::Any>> {
    if !raw.done {
        return None;
    }
    Some(match &raw.result {
        Some(ProtoResult::Response(any)) => Ok(any),
        Some(ProtoResult::Error(status)) => {
            Err(OperationError::from_status(raw.id.clone(), raw.description.clone(), status).into())
        }
        None => Err(no_result(raw)),
    })
}

/// The error of a done operation with neither error nor response.
fn no_result(raw: &ProtoOperation) -> Error {
    Error::InvalidOperation {
        operation_id: raw.id.clone(),
        reason: "done, but carries neither error nor response".into(),
    }
}

/// An operation that is not done must have an id to be polled by.
pub(super) fn check_pollable(raw: &ProtoOperation) -> Result<()> {
    if raw.id.is_empty() && !raw.done {
        return Err(Error::InvalidOperation {
            operation_id: String::new(),
            reason: "an unfinished operation without an id cannot be polled".into(),
        });
    }
    Ok(())
}

pub(super) fn to_system_time(ts: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    ts.and_then(|t| SystemTime::try_from(*t).ok())
}

/// A long-running operation whose types are not known (or not needed): the
/// handle for callers that want the final operation message itself, such as
/// a command line printing it whole.
///
/// [`wait`](Self::wait) polls `OperationService.Get` under a
/// [`PollingPolicy`] exactly as the typed [`Operation`](super::Operation)
/// does (which is this handle plus its types) and returns the done message,
/// whether it succeeded or failed; [`outcome`] tells which.
///
/// ```no_run
/// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
/// use yc_billing::operation::{RawOperation, outcome};
///
/// let done = RawOperation::resume(&client, "op-id").await?.wait().await?;
/// println!("{done:?}");
/// if let Some(Err(e)) = outcome(&done) {
///     return Err(e);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, derive_more::Debug)]
pub struct RawOperation {
    #[debug(skip)]
    client: Client,
    raw: ProtoOperation,
    hint: Option<Duration>,
    /// When the creating call returned; `None` for resumed operations.
    #[debug(skip)]
    created: Option<Instant>,
    /// The options of each `Operation.Get`.
    #[debug(skip)]
    options: CallOptions,
}

impl RawOperation {
    /// Wraps an operation returned by a creating call, with the server's
    /// polling hint from that call's response headers.
    pub(crate) fn created(
        client: Client,
        raw: ProtoOperation,
        hint: Option<Duration>,
    ) -> Result<Self> {
        check_pollable(&raw)?;
        Ok(RawOperation {
            created: Some(Instant::now()),
            ..Self::new(client, raw, hint)
        })
    }

    fn new(client: Client, raw: ProtoOperation, hint: Option<Duration>) -> Self {
        RawOperation {
            client,
            raw,
            hint,
            created: None,
            options: CallOptions::default(),
        }
    }

    /// Wraps an operation message obtained elsewhere (a raw stub, a log).
    pub fn from_raw(client: Client, raw: ProtoOperation) -> Self {
        Self::new(client, raw, None)
    }

    /// Fetches the operation `id` with one `Operation.Get`, for example to
    /// resume waiting after [`Error::OperationTimeout`].
    ///
    /// # Errors
    ///
    /// The error of the `Get`, or [`Error::InvalidOperation`] when the
    /// answer is an unfinished operation without an id.
    pub async fn resume(client: &Client, id: impl Into<String>) -> Result<Self> {
        let (raw, hint) = client
            .operations()
            .get_with_hint(id.into(), &CallOptions::default())
            .await?;
        check_pollable(&raw)?;
        Ok(Self::new(client.clone(), raw, hint))
    }

    /// Sets the call options (timeout, retry policy) of each
    /// `Operation.Get` that [`poll`](Self::poll) and the waits make
    /// (default: the client's).
    pub fn with_call_options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// The call options of each `Operation.Get`.
    pub fn call_options(&self) -> &CallOptions {
        &self.options
    }

    /// The operation's id.
    pub fn id(&self) -> &str {
        &self.raw.id
    }

    /// The server's description of the operation.
    pub fn description(&self) -> &str {
        &self.raw.description
    }

    /// Who started the operation.
    pub fn created_by(&self) -> &str {
        &self.raw.created_by
    }

    /// When the operation was created (`None` if absent or out of range).
    pub fn created_at(&self) -> Option<SystemTime> {
        to_system_time(self.raw.created_at.as_ref())
    }

    /// When the operation last changed (`None` if absent or out of range).
    pub fn modified_at(&self) -> Option<SystemTime> {
        to_system_time(self.raw.modified_at.as_ref())
    }

    /// Whether the operation has finished (successfully or not).
    pub fn is_done(&self) -> bool {
        self.raw.done
    }

    /// The untyped outcome once done (see [`outcome`]); `None` while running.
    pub fn outcome(&self) -> Option<Result<&prost_types::Any>> {
        outcome(&self.raw)
    }

    /// The last server-suggested polling interval seen, if any.
    pub fn poll_hint(&self) -> Option<Duration> {
        self.hint
    }

    /// The operation message as last seen.
    pub fn raw(&self) -> &ProtoOperation {
        &self.raw
    }

    /// The operation message as last seen.
    pub fn into_raw(self) -> ProtoOperation {
        self.raw
    }

    /// The client the operation is polled with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether a `NOT_FOUND` now is within `grace` of the creating call
    /// (never for resumed operations).
    pub(super) fn in_grace(&self, grace: Duration) -> bool {
        self.created.is_some_and(|c| c.elapsed() < grace)
    }

    /// Refreshes the operation with one `Operation.Get` (retried on transient
    /// failures by the retry policy of its [call options](Self::with_call_options))
    /// and returns whether it is done.
    ///
    /// # Errors
    ///
    /// The error of the `Get`; [`Error::InvalidOperation`] when the
    /// operation cannot be polled or the server answers another one.
    pub async fn poll(&mut self) -> Result<bool> {
        check_pollable(&self.raw)?;
        let (raw, hint) = self
            .client
            .operations()
            .get_with_hint(self.raw.id.clone(), &self.options)
            .await?;
        self.update(raw, hint)?;
        Ok(self.raw.done)
    }

    fn update(&mut self, raw: ProtoOperation, hint: Option<Duration>) -> Result<()> {
        if raw.id != self.raw.id {
            return Err(Error::InvalidOperation {
                operation_id: self.raw.id.clone(),
                reason: format!("the server answered with operation {:?}", raw.id),
            });
        }
        self.raw = raw;
        if hint.is_some() {
            self.hint = hint;
        }
        Ok(())
    }

    /// Asks the server to cancel the operation (`Operation.Cancel`) and
    /// keeps the state it answers with. A cancelled operation finishes with
    /// an error (usually `CANCELLED`).
    ///
    /// # Errors
    ///
    /// The error of the `Cancel`; [`Error::InvalidOperation`] as for
    /// [`poll`](Self::poll).
    pub async fn cancel(&mut self) -> Result<()> {
        check_pollable(&self.raw)?;
        let raw = self.client.operations().cancel(self.raw.id.clone()).await?;
        self.update(raw, None)
    }

    /// Waits for the operation with the default [`PollingPolicy`] and
    /// returns its final message (done, with an `error` or a `response`).
    ///
    /// # Errors
    ///
    /// [`Error::OperationTimeout`] (keeping the operation) if it did not
    /// finish in time, [`Error::InvalidOperation`] if it finished with
    /// neither error nor response, or the error of a failed `Operation.Get`.
    /// An operation that finished with an error is not an error here: see
    /// [`outcome`].
    pub async fn wait(self) -> Result<ProtoOperation> {
        self.wait_with(&PollingPolicy::default()).await
    }

    /// Waits for the operation under `policy` and returns its final message.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    pub async fn wait_with(self, policy: &PollingPolicy) -> Result<ProtoOperation> {
        let done = Poller::new(self, policy.clone())
            .until_done(|state| state)
            .await?
            .into_raw();
        check_operation(&done)?;
        Ok(done)
    }

    /// A stream of the operation's states: the current state first, then
    /// one per `Operation.Get` under `policy`. It ends after the first done
    /// state or after yielding an error ([`Error::OperationTimeout`] or a
    /// failed `Get`).
    pub fn watch(self, policy: PollingPolicy) -> impl Stream<Item = Result<RawOperationState>> {
        Poller::new(self, policy).into_stream()
    }
}

/// One observed state of an operation, as yielded by [`RawOperation::watch`].
#[derive(Debug, Clone)]
pub struct RawOperationState {
    pub(super) raw: ProtoOperation,
    pub(super) polls: u32,
    pub(super) elapsed: Duration,
}

impl RawOperationState {
    /// The operation's id.
    pub fn id(&self) -> &str {
        &self.raw.id
    }

    /// Whether the operation has finished.
    pub fn is_done(&self) -> bool {
        self.raw.done
    }

    /// When the operation last changed.
    pub fn modified_at(&self) -> Option<SystemTime> {
        to_system_time(self.raw.modified_at.as_ref())
    }

    /// The untyped outcome once done (see [`outcome`]); `None` while running.
    pub fn outcome(&self) -> Option<Result<&prost_types::Any>> {
        outcome(&self.raw)
    }

    /// How many `Operation.Get` calls the watcher had made.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// Time since the watch started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The operation message.
    pub fn raw(&self) -> &ProtoOperation {
        &self.raw
    }

    /// The operation message.
    pub fn into_raw(self) -> ProtoOperation {
        self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::fixtures::{any_of, customer, op};

    #[test]
    fn unpollable_operation_is_rejected() {
        let mut raw = op(false, None);
        raw.id.clear();
        assert!(matches!(
            check_pollable(&raw),
            Err(Error::InvalidOperation { .. })
        ));
        raw.done = true;
        check_pollable(&raw).unwrap();
    }

    #[test]
    fn outcome_of_each_shape() {
        assert!(outcome(&op(false, None)).is_none());
        let any = any_of(&customer());
        let ok = op(true, Some(ProtoResult::Response(any.clone())));
        assert_eq!(outcome(&ok).unwrap().unwrap(), &any);
        match outcome(&op(true, None)).unwrap() {
            Err(Error::InvalidOperation { operation_id, .. }) => assert_eq!(operation_id, "op1"),
            other => panic!("{other:?}"),
        }
        let status = tonic_types::pb::Status {
            code: tonic::Code::Cancelled as i32,
            message: "cancelled by the user".into(),
            details: vec![],
        };
        match outcome(&op(true, Some(ProtoResult::Error(status)))).unwrap() {
            Err(Error::OperationFailed(e)) => {
                assert_eq!(e.operation_id(), "op1");
                assert_eq!(e.description(), "Activate customer");
                assert_eq!(e.code(), tonic::Code::Cancelled);
                assert_eq!(e.message(), "cancelled by the user");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timestamps_convert() {
        let mut raw = op(false, None);
        raw.created_at = Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        });
        raw.modified_at = Some(prost_types::Timestamp {
            seconds: 0,
            nanos: -5, // invalid
        });
        let t = to_system_time(raw.created_at.as_ref()).unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap(),
            Duration::new(1_700_000_000, 5)
        );
        // Never a panic on a server's odd value.
        let _ = to_system_time(raw.modified_at.as_ref());
        assert_eq!(to_system_time(None), None);
    }
}
