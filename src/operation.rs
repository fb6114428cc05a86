//! Typed long-running operations.
//!
//! Every mutating Billing RPC answers with a `yandex.cloud.operation.Operation`
//! whose `metadata` and `response` are `google.protobuf.Any` values of the
//! types its `(yandex.cloud.api.operation)` option declares. [`Operation<M, R>`]
//! carries those types: [`Operation::metadata`] decodes `M`, and
//! [`Operation::wait`] polls `OperationService.Get` under a [`PollingPolicy`]
//! until the operation is done and decodes `R`.
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

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use futures::Stream;
use prost::{Message, Name};
use rand::Rng;
use tokio::time::Instant;

use crate::call::CallOptions;
use crate::client::Client;
use crate::error::{Error, OperationError, Result};
use crate::proto::yandex::cloud::operation::Operation as ProtoOperation;
use crate::proto::yandex::cloud::operation::operation::Result as ProtoResult;
use crate::transport::X_OPERATION_POLL_INTERVAL;

/// Decodes a `google.protobuf.Any` as `T`, checking its type URL first.
///
/// The URL must end in `/<full name of T>`; any prefix before the last `/`
/// is accepted (`type.googleapis.com/` is the usual one).
///
/// ```
/// use prost::Name;
/// use yc_billing::operation::unpack;
/// use yc_billing::proto::yandex::cloud::billing::v1::Customer;
///
/// let c = Customer { id: "c1".into(), billing_account_id: "ba1".into() };
/// let any = prost_types::Any::from_msg(&c).unwrap();
/// assert_eq!(unpack::<Customer>(&any).unwrap(), c);
/// assert!(unpack::<()>(&any).is_err());
/// ```
///
/// # Errors
///
/// [`Error::UnexpectedType`] when the URL names another type (or has no
/// `/`), [`Error::Decode`] when the bytes are not a valid `T`.
pub fn unpack<T: Message + Name + Default>(any: &prost_types::Any) -> Result<T> {
    let expected = T::full_name();
    let actual = any.type_url.rsplit_once('/').map(|(_, name)| name);
    if actual != Some(expected.as_str()) {
        return Err(Error::UnexpectedType {
            expected,
            actual: any.type_url.clone(),
        });
    }
    T::decode(any.value.as_slice()).map_err(|source| Error::Decode {
        type_name: expected,
        source,
    })
}

/// Decodes the optional metadata of an operation.
fn decode_metadata<M: Message + Name + Default>(raw: &ProtoOperation) -> Result<Option<M>> {
    raw.metadata.as_ref().map(unpack::<M>).transpose()
}

/// The outcome of a finished operation: its response, or its error as
/// [`Error::OperationFailed`]. `None` while the operation is not done.
fn decode_result<R: Message + Name + Default>(raw: &ProtoOperation) -> Option<Result<R>> {
    if !raw.done {
        return None;
    }
    Some(match &raw.result {
        Some(ProtoResult::Response(any)) => unpack::<R>(any),
        Some(ProtoResult::Error(status)) => {
            Err(OperationError::from_status(raw.id.clone(), raw.description.clone(), status).into())
        }
        None => Err(no_result(raw)),
    })
}

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

/// The error of a done operation with neither error nor response.
fn no_result(raw: &ProtoOperation) -> Error {
    Error::InvalidOperation {
        operation_id: raw.id.clone(),
        reason: "done, but carries neither error nor response".into(),
    }
}

fn to_system_time(ts: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    ts.and_then(|t| SystemTime::try_from(*t).ok())
}

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

/// How an [`Operation`] is polled until it is done.
///
/// Between `Operation.Get` calls the waiter sleeps for an exponentially
/// growing interval, from [`initial_interval`](Self::initial_interval)
/// (default 100 ms) times [`multiplier`](Self::multiplier) (default 2) per
/// poll up to [`max_interval`](Self::max_interval) (default 5 s), each
/// shortened by a random jitter of up to [`jitter`](Self::jitter) (default
/// 20 %) of itself. When the server suggests an interval with the
/// `x-operation-poll-interval` header (on the creating call or on a `Get`),
/// the latest suggestion replaces the backoff, clamped into
/// [[`initial_interval`](Self::initial_interval), [`max_hint`](Self::max_hint)]
/// (default 100 ms to 60 s): a server cannot make the waiter poll faster
/// than its first backoff step, nor sleep longer than `max_hint`.
///
/// A `NOT_FOUND` from `Get` within [`not_found_grace`](Self::not_found_grace)
/// (default 5 s) of the operation's creation is taken as replication lag and
/// polled again. Transient failures of `Get` are retried by the client's
/// [`RetryPolicy`](crate::RetryPolicy); anything else ends the wait.
///
/// The wait gives up with [`Error::OperationTimeout`], which keeps the last
/// state of the operation, after [`time_limit`](Self::time_limit) (default
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
    options: CallOptions,
}

/// Default first polling interval.
pub const DEFAULT_INITIAL_INTERVAL: Duration = Duration::from_millis(100);
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
            options: CallOptions::default(),
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

    /// Sets the longest time a wait polls before [`Error::OperationTimeout`].
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

    /// Sets the most `Operation.Get` calls a wait makes before [`Error::OperationTimeout`].
    pub fn with_max_polls(mut self, polls: u32) -> Self {
        self.max_polls = Some(polls);
        self
    }

    /// Sets the call options (timeout, retry policy) of each `Operation.Get`.
    pub fn with_call_options(mut self, options: CallOptions) -> Self {
        self.options = options;
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

    /// The call options of each `Operation.Get`.
    pub fn call_options(&self) -> &CallOptions {
        &self.options
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
    fn interval_with_sample(&self, poll: u32, hint: Option<Duration>, sample: f64) -> Duration {
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

/// A long-running operation whose metadata is an `M` and whose response is an `R`.
///
/// Created by the operation-returning calls of the [services](crate::services),
/// by [`Operation::resume`] from an id, or by [`Operation::from_raw`].
/// `google.protobuf.Empty` responses are `()`.
pub struct Operation<M, R> {
    client: Client,
    raw: ProtoOperation,
    hint: Option<Duration>,
    /// When the creating call returned; `None` for resumed operations.
    created: Option<Instant>,
    _types: PhantomData<fn() -> (M, R)>,
}

impl<M, R> Clone for Operation<M, R> {
    fn clone(&self) -> Self {
        Operation {
            client: self.client.clone(),
            raw: self.raw.clone(),
            hint: self.hint,
            created: self.created,
            _types: PhantomData,
        }
    }
}

impl<M, R> fmt::Debug for Operation<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("metadata_type", &std::any::type_name::<M>())
            .field("response_type", &std::any::type_name::<R>())
            .field("raw", &self.raw)
            .field("poll_hint", &self.hint)
            .finish()
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
        check_pollable(&raw)?;
        Ok(Operation {
            client,
            raw,
            hint,
            created: Some(Instant::now()),
            _types: PhantomData,
        })
    }

    /// Wraps an operation message obtained elsewhere (a raw stub, a log).
    /// The types are checked when the metadata or the result is decoded.
    pub fn from_raw(client: Client, raw: ProtoOperation) -> Self {
        Operation {
            client,
            raw,
            hint: None,
            created: None,
            _types: PhantomData,
        }
    }

    /// Fetches the operation `id` with one `Operation.Get`, for example to
    /// resume waiting after [`Error::OperationTimeout`].
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
    pub async fn resume(client: &Client, id: impl Into<String>) -> Result<Self> {
        let (raw, hint) = client
            .operations()
            .get_with_hint(id.into(), &CallOptions::default())
            .await?;
        check_pollable(&raw)?;
        Ok(Operation {
            client: client.clone(),
            raw,
            hint,
            created: None,
            _types: PhantomData,
        })
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

    /// The decoded metadata; `Ok(None)` when the operation carries none.
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedType`] or [`Error::Decode`] if it is not an `M`.
    pub fn metadata(&self) -> Result<Option<M>> {
        decode_metadata(&self.raw)
    }

    /// Whether the operation has finished (successfully or not).
    pub fn is_done(&self) -> bool {
        self.raw.done
    }

    /// The outcome, once done: the response, or [`Error::OperationFailed`],
    /// [`Error::InvalidOperation`] (neither error nor response),
    /// [`Error::UnexpectedType`] or [`Error::Decode`]. `None` while running.
    pub fn result(&self) -> Option<Result<R>> {
        decode_result(&self.raw)
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

    /// Refreshes the operation with one `Operation.Get` (retried on transient
    /// failures by the client's retry policy) and returns whether it is done.
    pub async fn poll(&mut self) -> Result<bool> {
        self.poll_with(&CallOptions::default()).await
    }

    async fn poll_with(&mut self, options: &CallOptions) -> Result<bool> {
        check_pollable(&self.raw)?;
        let (raw, hint) = self
            .client
            .operations()
            .get_with_hint(self.raw.id.clone(), options)
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
    /// an error (usually `CANCELLED`), which [`wait`](Self::wait) reports
    /// as [`Error::OperationFailed`].
    pub async fn cancel(&mut self) -> Result<()> {
        check_pollable(&self.raw)?;
        let raw = self.client.operations().cancel(self.raw.id.clone()).await?;
        self.update(raw, None)
    }

    /// Waits for the operation with the default [`PollingPolicy`] and returns its response.
    ///
    /// # Errors
    ///
    /// [`Error::OperationFailed`] if it finished with an error,
    /// [`Error::OperationTimeout`] (keeping the operation) if it did not finish
    /// in time, or the error of a failed `Operation.Get`.
    pub async fn wait(self) -> Result<R> {
        self.wait_with(&PollingPolicy::default()).await
    }

    /// Waits for the operation under `policy` and returns its response.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    pub async fn wait_with(self, policy: &PollingPolicy) -> Result<R> {
        self.wait_with_progress(policy, |_| {}).await
    }

    /// Waits under `policy`, calling `progress` with every state seen (the
    /// current one first, then one per `Get`), and returns the response.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    pub async fn wait_with_progress(
        self,
        policy: &PollingPolicy,
        mut progress: impl FnMut(&OperationState<M, R>),
    ) -> Result<R> {
        let mut poller = Poller::new(self, policy.clone());
        loop {
            match poller.next().await {
                Some(Ok(state)) => {
                    progress(&state);
                    if let Some(result) = state.result() {
                        return result;
                    }
                }
                Some(Err(e)) => return Err(e),
                None => {
                    // The poller ends only after a done state or an error.
                    return Err(Error::InvalidOperation {
                        operation_id: poller.op.raw.id.clone(),
                        reason: "polling ended without a result".into(),
                    });
                }
            }
        }
    }

    /// A stream of the operation's states for progress displays: the current
    /// state first, then one per `Operation.Get` under `policy`. It ends after
    /// the first done state (whose [`result`](OperationState::result) holds the
    /// outcome) or after yielding an error ([`Error::OperationTimeout`] or a
    /// failed `Get`).
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
        futures::stream::unfold(Poller::new(self, policy), |mut poller| async move {
            let item = poller.next().await?;
            Some((item, poller))
        })
    }
}

/// An operation that is not done must have an id to be polled by.
fn check_pollable(raw: &ProtoOperation) -> Result<()> {
    if raw.id.is_empty() && !raw.done {
        return Err(Error::InvalidOperation {
            operation_id: String::new(),
            reason: "an unfinished operation without an id cannot be polled".into(),
        });
    }
    Ok(())
}

/// One observed state of an operation, as yielded by [`Operation::watch`].
pub struct OperationState<M, R> {
    raw: ProtoOperation,
    polls: u32,
    elapsed: Duration,
    _types: PhantomData<fn() -> (M, R)>,
}

impl<M, R> Clone for OperationState<M, R> {
    fn clone(&self) -> Self {
        OperationState {
            raw: self.raw.clone(),
            polls: self.polls,
            elapsed: self.elapsed,
            _types: PhantomData,
        }
    }
}

impl<M, R> fmt::Debug for OperationState<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationState")
            .field("raw", &self.raw)
            .field("polls", &self.polls)
            .field("elapsed", &self.elapsed)
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
        &self.raw.id
    }

    /// Whether the operation has finished.
    pub fn is_done(&self) -> bool {
        self.raw.done
    }

    /// The decoded metadata; `Ok(None)` when there is none.
    pub fn metadata(&self) -> Result<Option<M>> {
        decode_metadata(&self.raw)
    }

    /// When the operation last changed.
    pub fn modified_at(&self) -> Option<SystemTime> {
        to_system_time(self.raw.modified_at.as_ref())
    }

    /// The outcome once done (see [`Operation::result`]); `None` while running.
    pub fn result(&self) -> Option<Result<R>> {
        decode_result(&self.raw)
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
}

/// The polling loop shared by [`Operation::wait_with`] and [`Operation::watch`].
struct Poller<M, R> {
    op: Operation<M, R>,
    policy: PollingPolicy,
    start: Instant,
    polls: u32,
    started: bool,
    finished: bool,
}

impl<M, R> Poller<M, R>
where
    M: Message + Name + Default,
    R: Message + Name + Default,
{
    fn new(op: Operation<M, R>, policy: PollingPolicy) -> Self {
        Poller {
            op,
            policy,
            start: Instant::now(),
            polls: 0,
            started: false,
            finished: false,
        }
    }

    fn state(&self) -> OperationState<M, R> {
        OperationState {
            raw: self.op.raw.clone(),
            polls: self.polls,
            elapsed: self.start.elapsed(),
            _types: PhantomData,
        }
    }

    fn timeout(&self) -> Error {
        Error::OperationTimeout {
            operation: Box::new(self.op.raw.clone()),
            elapsed: self.start.elapsed(),
            attempts: self.polls,
        }
    }

    fn in_grace(&self) -> bool {
        self.op
            .created
            .is_some_and(|c| c.elapsed() < self.policy.not_found_grace)
    }

    /// The next state (or error); `None` once finished.
    async fn next(&mut self) -> Option<Result<OperationState<M, R>>> {
        if self.finished {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = check_pollable(&self.op.raw) {
                self.finished = true;
                return Some(Err(e));
            }
            self.finished = self.op.raw.done;
            return Some(Ok(self.state()));
        }
        loop {
            if self.policy.max_polls.is_some_and(|max| self.polls >= max) {
                self.finished = true;
                return Some(Err(self.timeout()));
            }
            let mut delay = self.policy.interval(self.polls + 1, self.op.hint);
            if let Some(limit) = self.policy.time_limit {
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
            let options = self.policy.options.clone();
            match self.op.poll_with(&options).await {
                Ok(done) => {
                    self.finished = done;
                    return Some(Ok(self.state()));
                }
                Err(e) if e.code() == Some(tonic::Code::NotFound) && self.in_grace() => {
                    tracing::debug!(operation = %self.op.raw.id, "NOT_FOUND within the grace period");
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
    use crate::proto::yandex::cloud::access::UpdateAccessBindingsMetadata;
    use crate::proto::yandex::cloud::billing::v1::{Customer, CustomerMetadata};
    use std::future::IntoFuture;

    fn customer() -> Customer {
        Customer {
            id: "c1".into(),
            billing_account_id: "ba1".into(),
        }
    }

    fn any_of<T: Message + Name>(m: &T) -> prost_types::Any {
        prost_types::Any {
            type_url: format!("type.googleapis.com/{}", T::full_name()),
            value: m.encode_to_vec(),
        }
    }

    #[test]
    fn unpack_right_type_any_prefix() {
        let c = customer();
        assert_eq!(unpack::<Customer>(&any_of(&c)).unwrap(), c);
        // prost's own `type_url()` (no domain configured: "/<full name>").
        assert_eq!(
            unpack::<Customer>(&prost_types::Any::from_msg(&c).unwrap()).unwrap(),
            c
        );
        let other = prost_types::Any {
            type_url: "example.com/types/yandex.cloud.billing.v1.Customer".into(),
            value: c.encode_to_vec(),
        };
        assert_eq!(unpack::<Customer>(&other).unwrap(), c);
        let empty = prost_types::Any {
            type_url: "type.googleapis.com/google.protobuf.Empty".into(),
            value: vec![],
        };
        unpack::<()>(&empty).unwrap();
    }

    #[test]
    fn unpack_wrong_type_url() {
        let any = any_of(&customer());
        match unpack::<CustomerMetadata>(&any) {
            Err(Error::UnexpectedType { expected, actual }) => {
                assert_eq!(expected, "yandex.cloud.billing.v1.CustomerMetadata");
                assert_eq!(
                    actual,
                    "type.googleapis.com/yandex.cloud.billing.v1.Customer"
                );
            }
            other => panic!("{other:?}"),
        }
        for url in [
            "yandex.cloud.billing.v1.Customer",
            "",
            "type.googleapis.com/",
            "type.googleapis.com/yandex.cloud.billing.v1.Customer/",
            "type.googleapis.com/v1.Customer",
        ] {
            let any = prost_types::Any {
                type_url: url.into(),
                value: customer().encode_to_vec(),
            };
            assert!(
                matches!(unpack::<Customer>(&any), Err(Error::UnexpectedType { .. })),
                "{url:?}"
            );
        }
    }

    #[test]
    fn unpack_corrupt_bytes() {
        let any = prost_types::Any {
            type_url: Customer::type_url(),
            value: vec![0x0a, 0x05, b'a'], // a string field claiming 5 bytes, with 1
        };
        match unpack::<Customer>(&any) {
            Err(Error::Decode { type_name, .. }) => {
                assert_eq!(type_name, "yandex.cloud.billing.v1.Customer")
            }
            other => panic!("{other:?}"),
        }
    }

    fn op(done: bool, result: Option<ProtoResult>) -> ProtoOperation {
        ProtoOperation {
            id: "op1".into(),
            description: "Activate customer".into(),
            done,
            result,
            ..Default::default()
        }
    }

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

    /// Compile-time check: waits, watches and calls can be spawned on tokio.
    #[allow(dead_code)]
    fn futures_and_streams_are_send(client: Client, op: Operation<CustomerMetadata, Customer>) {
        fn send<T: Send + 'static>(_: T) {}
        send(op.clone().wait());
        send(op.clone().watch(PollingPolicy::default()));
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

    #[test]
    fn policy_defaults() {
        let p = PollingPolicy::default();
        assert_eq!(p.initial_interval(), Duration::from_millis(100));
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
