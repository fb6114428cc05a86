//! The typed handle, [`Operation<M, R>`]: a [`RawOperation`] that knows the
//! metadata and response types of its RPC.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt};
use prost::{Message, Name};

use super::PollingPolicy;
use super::poller::Poller;
use super::raw::{RawOperation, RawOperationState, outcome};
use crate::call::CallOptions;
use crate::client::Client;
use crate::error::Result;
use crate::proto::unpack;
use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;

/// Decodes the optional metadata of an operation.
fn decode_metadata<M: Message + Name + Default>(raw: &ProtoOperation) -> Result<Option<M>> {
    raw.metadata.as_ref().map(unpack::<M>).transpose()
}

/// The outcome of a finished operation: its response, or its error as
/// [`Error::OperationFailed`](crate::Error::OperationFailed). `None` while
/// the operation is not done.
fn decode_result<R: Message + Name + Default>(raw: &ProtoOperation) -> Option<Result<R>> {
    outcome(raw).map(|any| any.and_then(unpack::<R>))
}

/// A long-running operation whose metadata is an `M` and whose response is an `R`.
///
/// Created by the operation-returning calls of the [services](crate::services),
/// by [`Operation::resume`] from an id, or by [`Operation::from_raw`].
/// `google.protobuf.Empty` responses are `()`. Without its types it is a
/// [`RawOperation`] ([`into_untyped`](Self::into_untyped)).
pub struct Operation<M, R> {
    inner: RawOperation,
    _types: PhantomData<fn() -> (M, R)>,
}

impl<M, R> Clone for Operation<M, R> {
    fn clone(&self) -> Self {
        Operation {
            inner: self.inner.clone(),
            _types: PhantomData,
        }
    }
}

impl<M, R> fmt::Debug for Operation<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("metadata_type", &std::any::type_name::<M>())
            .field("response_type", &std::any::type_name::<R>())
            .field("raw", self.inner.raw())
            .field("poll_hint", &self.inner.poll_hint())
            .finish()
    }
}

impl<M, R> From<RawOperation> for Operation<M, R> {
    fn from(inner: RawOperation) -> Self {
        Operation {
            inner,
            _types: PhantomData,
        }
    }
}

impl<M, R> From<Operation<M, R>> for RawOperation {
    fn from(op: Operation<M, R>) -> Self {
        op.inner
    }
}

impl<M, R> Operation<M, R>
where
    M: Message + Name + Default,
    R: Message + Name + Default,
{
    /// Wraps an operation returned by a creating call, with the server's
    /// polling hint from that call's response headers.
    pub(crate) fn created(
        client: Client,
        raw: ProtoOperation,
        hint: Option<Duration>,
    ) -> Result<Self> {
        RawOperation::created(client, raw, hint).map(Self::from)
    }

    /// Wraps an operation message obtained elsewhere (a raw stub, a log).
    /// The types are checked when the metadata or the result is decoded.
    pub fn from_raw(client: Client, raw: ProtoOperation) -> Self {
        RawOperation::from_raw(client, raw).into()
    }

    /// Fetches the operation `id` with one `Operation.Get`, for example to
    /// resume waiting after [`Error::OperationTimeout`](crate::Error::OperationTimeout).
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// use yc_billing::Operation;
    /// use yc_billing::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};
    ///
    /// let op = Operation::<CustomerMetadata, Customer>::resume(&client, "op-id").await?;
    /// let customer = op.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`RawOperation::resume`].
    pub async fn resume(client: &Client, id: impl Into<String>) -> Result<Self> {
        RawOperation::resume(client, id).await.map(Self::from)
    }

    /// The same operation without its types.
    pub fn into_untyped(self) -> RawOperation {
        self.inner
    }

    /// Sets the call options (timeout, retry policy) of each
    /// `Operation.Get` that [`poll`](Self::poll) and the waits make
    /// (default: the client's).
    pub fn with_call_options(self, options: CallOptions) -> Self {
        self.inner.with_call_options(options).into()
    }

    /// The call options of each `Operation.Get`.
    pub fn call_options(&self) -> &CallOptions {
        self.inner.call_options()
    }

    /// The operation's id.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// The server's description of the operation.
    pub fn description(&self) -> &str {
        self.inner.description()
    }

    /// Who started the operation.
    pub fn created_by(&self) -> &str {
        self.inner.created_by()
    }

    /// When the operation was created (`None` if absent or out of range).
    pub fn created_at(&self) -> Option<SystemTime> {
        self.inner.created_at()
    }

    /// When the operation last changed (`None` if absent or out of range).
    pub fn modified_at(&self) -> Option<SystemTime> {
        self.inner.modified_at()
    }

    /// The decoded metadata; `Ok(None)` when the operation carries none.
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedType`](crate::Error::UnexpectedType) or
    /// [`Error::Decode`](crate::Error::Decode) if it is not an `M`.
    pub fn metadata(&self) -> Result<Option<M>> {
        decode_metadata(self.inner.raw())
    }

    /// Whether the operation has finished (successfully or not).
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// The outcome, once done: the response, or
    /// [`Error::OperationFailed`](crate::Error::OperationFailed),
    /// [`Error::InvalidOperation`](crate::Error::InvalidOperation) (neither
    /// error nor response), [`Error::UnexpectedType`](crate::Error::UnexpectedType)
    /// or [`Error::Decode`](crate::Error::Decode). `None` while running.
    pub fn result(&self) -> Option<Result<R>> {
        decode_result(self.inner.raw())
    }

    /// The last server-suggested polling interval seen, if any.
    pub fn poll_hint(&self) -> Option<Duration> {
        self.inner.poll_hint()
    }

    /// The operation message as last seen.
    pub fn raw(&self) -> &ProtoOperation {
        self.inner.raw()
    }

    /// The operation message as last seen.
    pub fn into_raw(self) -> ProtoOperation {
        self.inner.into_raw()
    }

    /// The client the operation is polled with.
    pub fn client(&self) -> &Client {
        self.inner.client()
    }

    /// Refreshes the operation with one `Operation.Get` (retried on transient
    /// failures by the retry policy of its [call options](Self::with_call_options))
    /// and returns whether it is done.
    ///
    /// # Errors
    ///
    /// As for [`RawOperation::poll`].
    pub async fn poll(&mut self) -> Result<bool> {
        self.inner.poll().await
    }

    /// Asks the server to cancel the operation (`Operation.Cancel`) and
    /// keeps the state it answers with. A cancelled operation finishes with
    /// an error (usually `CANCELLED`), which [`wait`](Self::wait) reports
    /// as [`Error::OperationFailed`](crate::Error::OperationFailed).
    ///
    /// # Errors
    ///
    /// As for [`RawOperation::cancel`].
    pub async fn cancel(&mut self) -> Result<()> {
        self.inner.cancel().await
    }

    /// Waits for the operation with the default [`PollingPolicy`] and returns its response.
    ///
    /// # Errors
    ///
    /// [`Error::OperationFailed`](crate::Error::OperationFailed) if it
    /// finished with an error, [`Error::OperationTimeout`](crate::Error::OperationTimeout)
    /// (keeping the operation) if it did not finish in time, or the error of
    /// a failed `Operation.Get`.
    pub fn wait(self) -> impl Future<Output = Result<R>> + use<M, R> {
        self.wait_with(&PollingPolicy::default())
    }

    /// Waits for the operation under `policy` and returns its response.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    pub fn wait_with(self, policy: &PollingPolicy) -> impl Future<Output = Result<R>> + use<M, R> {
        self.wait_with_progress(policy, |_| {})
    }

    /// Waits under `policy`, calling `progress` with every state seen (the
    /// current one first, then one per `Get`), and returns the response.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    pub fn wait_with_progress<F>(
        self,
        policy: &PollingPolicy,
        mut progress: F,
    ) -> impl Future<Output = Result<R>> + use<M, R, F>
    where
        F: FnMut(&OperationState<M, R>),
    {
        // Not an `async fn`: that would keep a second copy of the operation
        // (its argument) beside the poller's in every waiting future.
        let waiting = Poller::new(self.inner, policy.clone()).until_done(move |state| {
            let state = OperationState::from(state);
            progress(&state);
            state
        });
        futures::FutureExt::map(waiting, |done| {
            // `until_done` returns a done state, whose result is `Some`.
            done.and_then(|done| {
                done.result()
                    .unwrap_or_else(|| unreachable!("a done state has a result"))
            })
        })
    }

    /// A stream of the operation's states for progress displays: the current
    /// state first, then one per `Operation.Get` under `policy`. It ends after
    /// the first done state (whose [`result`](OperationState::result) holds the
    /// outcome) or after yielding an error ([`Error::OperationTimeout`](crate::Error::OperationTimeout)
    /// or a failed `Get`).
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// use futures::TryStreamExt;
    /// use yc_billing::PollingPolicy;
    ///
    /// let op = client.customers().suspend("customer-id").await?;
    /// let mut states = std::pin::pin!(op.watch(PollingPolicy::default()));
    /// while let Some(state) = states.try_next().await? {
    ///     println!("{} done={} after {:?}", state.id(), state.is_done(), state.elapsed());
    ///     if let Some(result) = state.result() {
    ///         println!("customer {}", result?.id);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(self, policy: PollingPolicy) -> impl Stream<Item = Result<OperationState<M, R>>> {
        self.inner
            .watch(policy)
            .map(|state| state.map(OperationState::from))
    }
}

/// One observed state of an operation, as yielded by [`Operation::watch`].
pub struct OperationState<M, R> {
    state: RawOperationState,
    _types: PhantomData<fn() -> (M, R)>,
}

impl<M, R> From<RawOperationState> for OperationState<M, R> {
    fn from(state: RawOperationState) -> Self {
        OperationState {
            state,
            _types: PhantomData,
        }
    }
}

impl<M, R> Clone for OperationState<M, R> {
    fn clone(&self) -> Self {
        self.state.clone().into()
    }
}

impl<M, R> fmt::Debug for OperationState<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationState")
            .field("raw", self.state.raw())
            .field("polls", &self.state.polls())
            .field("elapsed", &self.state.elapsed())
            .finish()
    }
}

impl<M, R> OperationState<M, R>
where
    M: Message + Name + Default,
    R: Message + Name + Default,
{
    /// The operation's id.
    pub fn id(&self) -> &str {
        self.state.id()
    }

    /// Whether the operation has finished.
    pub fn is_done(&self) -> bool {
        self.state.is_done()
    }

    /// The decoded metadata; `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// As for [`Operation::metadata`].
    pub fn metadata(&self) -> Result<Option<M>> {
        decode_metadata(self.state.raw())
    }

    /// When the operation last changed.
    pub fn modified_at(&self) -> Option<SystemTime> {
        self.state.modified_at()
    }

    /// The outcome once done (see [`Operation::result`]); `None` while running.
    pub fn result(&self) -> Option<Result<R>> {
        decode_result(self.state.raw())
    }

    /// How many `Operation.Get` calls the watcher had made.
    pub fn polls(&self) -> u32 {
        self.state.polls()
    }

    /// Time since the watch started.
    pub fn elapsed(&self) -> Duration {
        self.state.elapsed()
    }

    /// The operation message.
    pub fn raw(&self) -> &ProtoOperation {
        self.state.raw()
    }

    /// The same state without its types.
    pub fn into_untyped(self) -> RawOperationState {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::operation::fixtures::{any_of, customer, op};
    use crate::proto::yandex::cloud::access::UpdateAccessBindingsMetadata;
    use crate::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};
    use crate::proto::yandex::cloud::operation::operation::Result as ProtoResult;
    use std::future::IntoFuture;

    #[test]
    fn result_extraction() {
        // Running: no result yet.
        assert!(decode_result::<Customer>(&op(false, None)).is_none());
        // Response.
        let ok = op(true, Some(ProtoResult::Response(any_of(&customer()))));
        assert_eq!(decode_result::<Customer>(&ok).unwrap().unwrap(), customer());
        // Response of the wrong type.
        assert!(matches!(
            decode_result::<CustomerMetadata>(&ok).unwrap(),
            Err(Error::UnexpectedType { .. })
        ));
        // Neither error nor response.
        match decode_result::<Customer>(&op(true, None)).unwrap() {
            Err(Error::InvalidOperation { operation_id, .. }) => assert_eq!(operation_id, "op1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failed_operation_keeps_id_code_message_details() {
        use tonic_types::pb;
        let bad = pb::BadRequest {
            field_violations: vec![pb::bad_request::FieldViolation {
                field: "customer_id".into(),
                description: "suspended already".into(),
                ..Default::default()
            }],
        };
        let status = pb::Status {
            code: tonic::Code::FailedPrecondition as i32,
            message: "customer is suspended".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
                value: bad.encode_to_vec(),
            }],
        };
        let failed = op(true, Some(ProtoResult::Error(status)));
        let err = decode_result::<Customer>(&failed).unwrap().unwrap_err();
        assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition));
        match &err {
            Error::OperationFailed(e) => {
                assert_eq!(e.operation_id(), "op1");
                assert_eq!(e.description(), "Activate customer");
                assert_eq!(e.message(), "customer is suspended");
                let v = &e.details().bad_request().unwrap().field_violations[0];
                assert_eq!(v.field, "customer_id");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn metadata_missing_is_none_and_wrong_is_error() {
        let mut raw = op(false, None);
        assert_eq!(decode_metadata::<CustomerMetadata>(&raw).unwrap(), None);
        let md = CustomerMetadata {
            reseller_id: "r1".into(),
            customer_id: "c1".into(),
        };
        raw.metadata = Some(any_of(&md));
        assert_eq!(decode_metadata::<CustomerMetadata>(&raw).unwrap(), Some(md));
        assert!(matches!(
            decode_metadata::<UpdateAccessBindingsMetadata>(&raw),
            Err(Error::UnexpectedType { .. })
        ));
    }

    /// A waiter's future holds its poller and timer, not the state of a
    /// `Get` in progress (boxed while it runs): 10,000 waits cost their
    /// operations, not 10,000 copies of a call (BENCHMARKS.md, goal 4).
    #[tokio::test]
    async fn a_waiting_future_is_small() {
        let client = Client::builder()
            .endpoint("http://127.0.0.1:9")
            .iam_token("t1.test")
            .build()
            .await
            .unwrap();
        let mut op = Operation::<CustomerMetadata, Customer>::from_raw(client, op(false, None));
        // One `Get` in progress: what a waiter would hold while asleep if
        // the poll were not boxed.
        let get = std::mem::size_of_val(&op.poll());
        let policy = PollingPolicy::default();
        let waiting = op.clone().wait_with_progress(&policy, |_| {});
        let size = std::mem::size_of_val(&waiting);
        assert!(
            size < get && size <= 2_048,
            "a waiting future is {size} bytes, a Get {get}"
        );
        drop(waiting);
        let watching = op.watch(policy);
        let size = std::mem::size_of_val(&watching);
        assert!(
            size < get && size <= 2_048,
            "a watching stream is {size} bytes, a Get {get}"
        );
    }

    /// Compile-time check: waits, watches and calls can be spawned on tokio.
    #[allow(dead_code)]
    fn futures_and_streams_are_send(client: Client, op: Operation<CustomerMetadata, Customer>) {
        fn send<T: Send + 'static>(_: T) {}
        send(op.clone().wait());
        send(op.clone().watch(PollingPolicy::default()));
        let untyped = op.clone().into_untyped();
        send(untyped.clone().wait());
        send(untyped.watch(PollingPolicy::default()));
        let c = client.clone();
        send(async move { Operation::<CustomerMetadata, Customer>::resume(&c, "id").await });
        let mut op2 = op.clone();
        send(async move { op2.poll().await });
        let mut op3 = op;
        send(async move { op3.cancel().await });
        send(client.customers().list("r").stream());
        send(client.customers().activate("c").into_future());
        send(client.operations().get("o").into_future());
        send(client.clone());
    }
}
