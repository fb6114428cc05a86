//! [`TokenCache`]: early refresh, single-flight, backoff.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use futures::future::{BoxFuture, FutureExt, Shared};
use http::HeaderValue;

use super::token::{AccessToken, TokenSource};
use crate::error::{AuthError, CredentialSource, Error};
use crate::retry::{Backoff, Jitter};
use crate::time::Clock;

/// When [`TokenCache`] refreshes its token and how it backs off after
/// failures. Fixed: no user has needed other values; the tests prove the
/// behaviour they give.
///
/// A token fetched at `fetched_at` that expires at `expires_at` (its *life* is
/// the difference) is refreshed ahead of time when either
///
/// * less than `max(min_remaining, remaining_fraction × life)` of it remains, or
/// * it is older than `max_age` (IAM tokens should be renewed at least hourly),
///
/// but never sooner than `min_refresh_interval` after the previous successful
/// fetch (so that a source handing out short-lived tokens is not asked on every
/// call). A token with `expiry_margin` or less left is never served.
///
/// Both `min_refresh_interval` and `expiry_margin` are scaled down for tokens
/// that live less than they assume: the interval to at most half of the
/// token's life and the margin to at most a quarter of it. Without that, a
/// source of short-lived tokens (a 2 s test token, a metadata service token
/// handed out near its end) would make every call fail.
///
/// After `n` failed refreshes in a row, the next attempt is made no sooner
/// than `backoff.delay(n)` after the failure: 1 s doubling to 60 s, no jitter
/// (the delay paces one cache, not a crowd of callers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RefreshPolicy {
    /// Refresh when less than this remains (5 min).
    min_remaining: Duration,
    /// Refresh when less than this fraction of the token's life remains, if
    /// that is more than `min_remaining` (0.1).
    remaining_fraction: f64,
    /// Refresh a token older than this even if it is still valid (1 h).
    max_age: Duration,
    /// Do not refresh a still-usable token sooner than this after the last
    /// successful fetch (10 s).
    min_refresh_interval: Duration,
    /// A token with this much or less left is treated as expired (30 s).
    expiry_margin: Duration,
    /// The delay before the next refresh after failures.
    backoff: Backoff,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            min_remaining: Duration::from_secs(5 * 60),
            remaining_fraction: 0.1,
            max_age: Duration::from_secs(60 * 60),
            min_refresh_interval: Duration::from_secs(10),
            expiry_margin: Duration::from_secs(30),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
                .jitter(Jitter::None),
        }
    }
}

impl RefreshPolicy {
    /// The expiry margin of a token that had `life` left when it was
    /// fetched: `expiry_margin`, but at most a quarter of that life.
    fn margin(&self, life: Duration) -> Duration {
        self.expiry_margin.min(life / 4)
    }

    /// Whether a token fetched at `fetched_at` may still be served at `now`.
    fn usable(&self, token: &AccessToken, fetched_at: SystemTime, now: SystemTime) -> bool {
        let life = token
            .expires_at()
            .duration_since(fetched_at)
            .unwrap_or(Duration::ZERO);
        match now.checked_add(self.margin(life)) {
            Some(limit) => token.expires_at() > limit,
            None => false,
        }
    }

    fn should_refresh(&self, cached: &Cached, now: SystemTime) -> bool {
        let age = now
            .duration_since(cached.fetched_at)
            .unwrap_or(Duration::ZERO);
        let expires_at = cached.token.expires_at();
        let life = expires_at
            .duration_since(cached.fetched_at)
            .unwrap_or(Duration::ZERO);
        if age < self.min_refresh_interval.min(life / 2) {
            return false;
        }
        if age >= self.max_age {
            return true;
        }
        let remaining = expires_at.duration_since(now).unwrap_or(Duration::ZERO);
        remaining
            <= self
                .min_remaining
                .max(life.mul_f64(self.remaining_fraction))
    }
}

type Refresh = Shared<BoxFuture<'static, Result<AccessToken, AuthError>>>;

struct Cached {
    token: AccessToken,
    /// `Bearer <token>`, built once per token rather than on every call.
    header: HeaderValue,
    fetched_at: SystemTime,
}

struct InFlight {
    id: u64,
    future: Refresh,
    abort: Option<tokio::task::AbortHandle>,
}

struct State {
    policy: RefreshPolicy,
    current: Option<Cached>,
    refresh: Option<InFlight>,
    failures: u32,
    backoff_until: Option<SystemTime>,
    last_error: Option<AuthError>,
    next_id: u64,
}

struct Inner {
    source: Arc<dyn TokenSource>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the outcome of refresh `id` fetched at `now`; returns it after validation.
    fn finish(
        &self,
        id: u64,
        result: Result<AccessToken, AuthError>,
        now: SystemTime,
    ) -> Result<AccessToken, AuthError> {
        let kind = self.source.kind();
        let mut st = self.lock();
        let result = result.and_then(|t| check(kind, t, now, &st.policy));
        if st.refresh.as_ref().map(|r| r.id) == Some(id) {
            st.refresh = None;
        }
        match &result {
            Ok((token, header)) => {
                tracing::debug!(source = %kind, expires_at = ?token.expires_at(), "IAM token refreshed");
                st.current = Some(Cached {
                    token: token.clone(),
                    header: header.clone(),
                    fetched_at: now,
                });
                st.failures = 0;
                st.backoff_until = None;
                st.last_error = None;
            }
            Err(e) => {
                st.failures = st.failures.saturating_add(1);
                let delay = st.policy.backoff.delay(st.failures);
                st.backoff_until = now.checked_add(delay);
                st.last_error = Some(e.clone());
                if e.is_no_credentials() {
                    // Not a refresh gone wrong: there is nothing to refresh
                    // from, and the error itself says so to the caller.
                    tracing::debug!(source = %kind, error = %e, "no credentials found");
                } else {
                    tracing::warn!(
                        source = %kind,
                        error = %e,
                        failures = st.failures,
                        retry_in = ?delay,
                        "IAM token refresh failed"
                    );
                }
            }
        }
        result.map(|(token, _)| token)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let refresh = self.lock().refresh.take();
        if let Some(abort) = refresh.and_then(|r| r.abort) {
            abort.abort();
        }
    }
}

/// Checks that a token from a source can be handed out at all; returns it
/// with its `authorization` header value.
fn check(
    kind: CredentialSource,
    token: AccessToken,
    now: SystemTime,
    policy: &RefreshPolicy,
) -> Result<(AccessToken, HeaderValue), AuthError> {
    if token.secret().is_empty() {
        return Err(AuthError::new(kind, "the source returned an empty token"));
    }
    let Ok(header) = token.authorization_value() else {
        return Err(AuthError::new(
            kind,
            "the source returned a token with characters not allowed in an HTTP header",
        ));
    };
    if !policy.usable(&token, now, now) {
        let life = token
            .expires_at()
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        return Err(AuthError::new(
            kind,
            format!(
                "the source returned a token that is expired or expires within {:?}",
                policy.margin(life)
            ),
        ));
    }
    Ok((token, header))
}

/// A cache of the IAM token of one [`TokenSource`], shared by every call of a client.
///
/// Cloning is cheap; clones share the token. [`token`](Self::token):
///
/// * returns the cached token while it is fresh;
/// * starts a refresh ahead of expiry (see below) and keeps
///   serving the still-valid token meanwhile: callers holding a valid token
///   never wait for the exchange;
/// * runs at most one exchange at a time, however many callers ask
///   (single-flight); callers without a valid token all wait on that one;
/// * never hands out a token that is expired (or about to, see
///   the expiry margin below);
/// * after a failed refresh keeps the old token while it is valid and retries
///   with exponential backoff; while backing off without a valid token it
///   fails fast with [`Error::Auth`] carrying the last failure.
///
/// Refreshes run on a Tokio task that holds only a weak reference to the
/// cache and is aborted when the last clone is dropped; a fetch outside a
/// Tokio runtime fails with [`Error::Auth`].
///
/// The refresh timing is fixed: a token is refreshed when 10 % of its life
/// or 5 minutes remain, or once it is an hour old, and a token with 30 s or
/// less left is never served; after failed refreshes the next one waits 1 s,
/// doubling to 60 s.
///
/// ```
/// use std::sync::Arc;
/// use yc_billing::auth::{Credentials, ManualClock, TokenCache, TokenSource};
///
/// # #[derive(Debug)] struct Never;
/// # impl TokenSource for Never {
/// #     fn fetch(&self) -> futures::future::BoxFuture<'_, Result<yc_billing::auth::AccessToken, yc_billing::AuthError>> {
/// #         Box::pin(async { Err(yc_billing::AuthError::new(yc_billing::CredentialSource::Custom, "example only")) })
/// #     }
/// #     fn kind(&self) -> yc_billing::CredentialSource { yc_billing::CredentialSource::Custom }
/// # }
/// # async fn demo(source: Arc<dyn TokenSource>) -> Result<(), yc_billing::Error> {
/// let cache = TokenCache::new(source, Arc::new(yc_billing::auth::SystemClock));
/// let token = cache.token().await?;
/// let header = token.authorization_value().expect("checked by the cache");
/// # let _ = header; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

impl TokenCache {
    /// A cache over `source`, reading time from `clock`.
    pub fn new(source: Arc<dyn TokenSource>, clock: Arc<dyn Clock>) -> Self {
        TokenCache {
            inner: Arc::new(Inner {
                source,
                clock,
                state: Mutex::new(State {
                    policy: RefreshPolicy::default(),
                    current: None,
                    refresh: None,
                    failures: 0,
                    backoff_until: None,
                    last_error: None,
                    next_id: 0,
                }),
            }),
        }
    }

    /// The kind of the underlying source.
    pub fn source_kind(&self) -> CredentialSource {
        self.inner.source.kind()
    }

    /// A valid token, fetching or refreshing it as needed.
    ///
    /// Fails with [`Error::Auth`] when no valid token can be had: the source
    /// failed, or failed recently and the cache is backing off.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        let (usable, wait) = {
            let mut st = self.inner.lock();
            let now = self.inner.clock.now();
            let usable = st
                .current
                .as_ref()
                .filter(|c| st.policy.usable(&c.token, c.fetched_at, now))
                .map(|c| c.token.clone());
            let wanted = match (&usable, &st.current) {
                (Some(_), Some(cached)) => st.policy.should_refresh(cached, now),
                _ => true,
            };
            let may_start = st.refresh.is_none() && st.backoff_until.is_none_or(|t| now >= t);
            if wanted && may_start {
                self.start_refresh(&mut st);
            }
            match (usable, &st.refresh) {
                (Some(token), _) => return Ok(token),
                (None, Some(r)) => (None, r.future.clone()),
                (None, None) => return Err(Error::Auth(unavailable(&self.inner, &st, now))),
            }
        };
        match (wait.await, usable) {
            (Ok(token), _) => Ok(token),
            (Err(_), Some(old)) => Ok(old),
            (Err(e), None) => Err(Error::Auth(e)),
        }
    }

    /// The `authorization` header value (`Bearer <token>`, sensitive) of a
    /// valid token: the same token as [`token`](Self::token) gives, but
    /// while the cached token is fresh the value built when it was fetched is
    /// handed out, with no formatting or allocation per call.
    pub(crate) async fn header(&self) -> Result<HeaderValue, Error> {
        if let Some(header) = self.ready_header() {
            return Ok(header);
        }
        let token = self.token().await?;
        token.authorization_value().map_err(|_| {
            Error::Auth(AuthError::new(
                self.source_kind(),
                "the token contains characters not allowed in a header",
            ))
        })
    }

    /// The cached `authorization` header value when [`token`](Self::token)
    /// would return the cached token without starting a refresh; `None`
    /// when a fetch or refresh is due (call [`header`](Self::header) then).
    /// The hot path of [`AuthLayer`](crate::transport::AuthLayer): one lock,
    /// one clone of a shared value, no allocation.
    pub(crate) fn ready_header(&self) -> Option<HeaderValue> {
        let st = self.inner.lock();
        let now = self.inner.clock.now();
        let cached = st.current.as_ref()?;
        (st.policy.usable(&cached.token, cached.fetched_at, now)
            && !st.policy.should_refresh(cached, now))
        .then(|| cached.header.clone())
    }

    /// Forgets the cached token, so that the next [`token`](Self::token) call
    /// fetches a new one right away (also cancelling any backoff delay).
    ///
    /// Call it when the server answered `UNAUTHENTICATED` to a request that
    /// carried the cached token. A refresh already in flight is kept.
    pub fn invalidate(&self) {
        let mut st = self.inner.lock();
        st.current = None;
        st.backoff_until = None;
        tracing::debug!(source = %self.inner.source.kind(), "IAM token invalidated");
    }

    /// Starts a refresh on its own Tokio task; outside a runtime, records a
    /// failed refresh instead.
    fn start_refresh(&self, st: &mut State) {
        let id = st.next_id;
        st.next_id += 1;
        let source = Arc::clone(&self.inner.source);
        let clock = Arc::clone(&self.inner.clock);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let kind = source.kind();
        let work = async move {
            tracing::debug!(source = %kind, "fetching IAM token");
            let result = AssertUnwindSafe(source.fetch())
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(AuthError::new(kind, "the token source panicked")));
            let now = clock.now();
            match weak.upgrade() {
                Some(inner) => inner.finish(id, result, now),
                None => result,
            }
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            let error = AuthError::new(kind, "fetching a token needs a Tokio runtime");
            let now = self.inner.clock.now();
            // Recorded as a failed refresh, without re-locking the state held here.
            st.failures = st.failures.saturating_add(1);
            st.backoff_until = now.checked_add(st.policy.backoff.delay(st.failures));
            st.last_error = Some(error);
            return;
        };
        let task = handle.spawn(work);
        let abort = task.abort_handle();
        let future = async move {
            task.await
                .unwrap_or_else(|_| Err(AuthError::new(kind, "the token refresh was cancelled")))
        }
        .boxed()
        .shared();
        st.refresh = Some(InFlight {
            id,
            future,
            abort: Some(abort),
        });
    }

    /// Waits for the refresh in flight, if any (tests only).
    #[cfg(test)]
    async fn settle(&self) {
        let wait = self.inner.lock().refresh.as_ref().map(|r| r.future.clone());
        if let Some(wait) = wait {
            let _ = wait.await;
        }
    }
}

fn unavailable(inner: &Inner, st: &State, now: SystemTime) -> AuthError {
    let kind = inner.source.kind();
    let Some(last) = &st.last_error else {
        return AuthError::new(kind, "no valid token is available");
    };
    let mut e = last.clone();
    let retry_in = st
        .backoff_until
        .and_then(|t| t.duration_since(now).ok())
        .unwrap_or(Duration::ZERO);
    e.set_reason(format!(
        "{} (no valid token cached; {} failed attempt(s), next attempt in {:?})",
        e.reason(),
        st.failures,
        retry_in
    ));
    e
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("TokenCache")
            .field("source", &self.inner.source)
            .field(
                "token_expires_at",
                &st.current.as_ref().map(|c| c.token.expires_at()),
            )
            .field("refreshing", &st.refresh.is_some())
            .field("failures", &st.failures)
            .field("policy", &st.policy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;
    use crate::auth::ManualClock;

    const MIN: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    enum Step {
        Ok(Duration),
        Err(&'static str),
    }

    /// Counts fetches; answers from a script (then tokens living `HOUR`);
    /// optionally waits for a permit of `gate` first.
    #[derive(Debug)]
    struct TestSource {
        clock: ManualClock,
        fetches: AtomicUsize,
        script: Mutex<VecDeque<Step>>,
        gate: Option<Arc<Semaphore>>,
    }

    impl fmt::Debug for Step {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Step::Ok(d) => write!(f, "Ok({d:?})"),
                Step::Err(e) => write!(f, "Err({e})"),
            }
        }
    }

    impl TestSource {
        fn new(clock: &ManualClock, script: Vec<Step>) -> Arc<Self> {
            Arc::new(TestSource {
                clock: clock.clone(),
                fetches: AtomicUsize::new(0),
                script: Mutex::new(script.into()),
                gate: None,
            })
        }

        fn gated(clock: &ManualClock, script: Vec<Step>, gate: &Arc<Semaphore>) -> Arc<Self> {
            Arc::new(TestSource {
                clock: clock.clone(),
                fetches: AtomicUsize::new(0),
                script: Mutex::new(script.into()),
                gate: Some(Arc::clone(gate)),
            })
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    impl TokenSource for TestSource {
        fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            async move {
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some(gate) = &self.gate {
                    gate.acquire().await.expect("gate closed").forget();
                }
                let step = self.script.lock().unwrap().pop_front();
                match step.unwrap_or(Step::Ok(HOUR)) {
                    Step::Ok(life) => Ok(AccessToken::new(
                        format!("tok-{n}"),
                        self.clock.now() + life,
                    )),
                    Step::Err(reason) => Err(AuthError::new(CredentialSource::Custom, reason)),
                }
            }
            .boxed()
        }

        fn kind(&self) -> CredentialSource {
            CredentialSource::Custom
        }
    }

    fn setup(script: Vec<Step>) -> (ManualClock, Arc<TestSource>, TokenCache) {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let source = TestSource::new(&clock, script);
        let cache = TokenCache::new(source.clone(), Arc::new(clock.clone()));
        (clock, source, cache)
    }

    /// A cache over a source whose fetches each wait for a permit of `gate`
    /// (`permits` to start with).
    fn gated_setup(permits: usize) -> (ManualClock, Arc<Semaphore>, Arc<TestSource>, TokenCache) {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let gate = Arc::new(Semaphore::new(permits));
        let source = TestSource::gated(&clock, vec![], &gate);
        let cache = TokenCache::new(source.clone(), Arc::new(clock.clone()));
        (clock, gate, source, cache)
    }

    async fn secret(cache: &TokenCache) -> String {
        cache.token().await.expect("token").secret().to_owned()
    }

    #[tokio::test]
    async fn first_call_fetches_then_serves_from_cache() {
        let (clock, source, cache) = setup(vec![]);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(10 * MIN);
        assert_eq!(secret(&cache).await, "tok-1");
        assert_eq!(secret(&cache.clone()).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 1);
    }

    /// A token living `life` is not refreshed `quiet` after it was fetched,
    /// and is refreshed `due` later, the still-valid token served meanwhile.
    async fn refreshes_between(life: Duration, quiet: Duration, due: Duration, why: &str) {
        let (clock, source, cache) = setup(vec![Step::Ok(life)]);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(quiet);
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 1, "{why}: no refresh yet");
        clock.advance(due);
        // Refresh starts, the still-valid token is served meanwhile.
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 2);
        assert_eq!(secret(&cache).await, "tok-2");
    }

    #[tokio::test]
    async fn refreshes_early_at_ten_percent_of_a_one_hour_life() {
        // life 1 h: threshold max(5 min, 6 min) = 6 min before expiry.
        refreshes_between(HOUR, 53 * MIN, 2 * MIN, "7 min left").await;
    }

    #[tokio::test]
    async fn refreshes_early_at_five_minutes_for_short_lives() {
        // life 20 min: 10 % is 2 min, so the 5 min floor applies.
        refreshes_between(20 * MIN, 14 * MIN, 2 * MIN, "6 min left").await;
    }

    #[tokio::test]
    async fn refreshes_hourly_even_when_the_token_lives_longer() {
        refreshes_between(12 * HOUR, 59 * MIN, 2 * MIN, "59 min old").await;
    }

    #[tokio::test]
    async fn serves_and_refreshes_tokens_shorter_than_the_margins() {
        // A 2 s token: the 30 s margin and 10 s interval scale down to 0.5 s and 1 s.
        let life = Duration::from_secs(2);
        let ms = Duration::from_millis;
        let (clock, source, cache) = setup(vec![Step::Ok(life), Step::Ok(life), Step::Ok(life)]);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(ms(900));
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 1, "not refreshed before half its life");
        clock.advance(ms(200));
        // Refreshed in the background; the old token is still served meanwhile.
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 2);
        assert_eq!(secret(&cache).await, "tok-2");
        // tok-2 (fetched at 1.1 s) is inside its 0.5 s margin at 2.7 s: callers wait.
        clock.advance(ms(1600));
        assert_eq!(secret(&cache).await, "tok-3");
        assert_eq!(source.fetches(), 3);
    }

    #[tokio::test]
    async fn does_not_refresh_short_lived_tokens_on_every_call() {
        // A 2 min token is always inside the refresh window; min_refresh_interval paces it.
        let (clock, source, cache) = setup(vec![Step::Ok(2 * MIN), Step::Ok(2 * MIN)]);
        assert_eq!(secret(&cache).await, "tok-1");
        for _ in 0..10 {
            assert_eq!(secret(&cache).await, "tok-1");
        }
        cache.settle().await;
        assert_eq!(source.fetches(), 1);
        clock.advance(Duration::from_secs(10));
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_flight_1000_concurrent_callers_one_fetch() {
        let (_clock, gate, source, cache) = gated_setup(0);
        let started = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let cache = cache.clone();
                let started = Arc::clone(&started);
                tokio::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    cache.token().await
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < 1000 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        gate.add_permits(1000);
        for task in tasks {
            let token = task.await.expect("join").expect("token");
            assert_eq!(token.secret(), "tok-1");
        }
        assert_eq!(source.fetches(), 1);
    }

    #[tokio::test]
    async fn single_flight_joined_futures_one_fetch() {
        let (_clock, gate, source, cache) = gated_setup(0);
        let all = futures::future::join_all((0..1000).map(|_| cache.token()));
        let release = async {
            tokio::task::yield_now().await;
            gate.add_permits(1);
        };
        let (results, ()) = tokio::join!(all, release);
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap().secret() == "tok-1")
        );
        assert_eq!(source.fetches(), 1);
    }

    #[tokio::test]
    async fn callers_with_a_valid_token_do_not_wait_for_the_refresh() {
        let (clock, gate, source, cache) = gated_setup(1);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(56 * MIN);
        for _ in 0..100 {
            let token = tokio::time::timeout(Duration::from_secs(1), cache.token())
                .await
                .expect("a caller with a valid token waited")
                .unwrap();
            assert_eq!(token.secret(), "tok-1");
        }
        tokio::task::yield_now().await;
        assert_eq!(source.fetches(), 2, "one refresh in flight");
        gate.add_permits(1);
        cache.settle().await;
        assert_eq!(secret(&cache).await, "tok-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn never_serves_an_expired_token() {
        let (clock, gate, source, cache) = gated_setup(1);
        assert_eq!(secret(&cache).await, "tok-1");
        // Inside the expiry margin (30 s) counts as expired.
        clock.advance(HOUR - Duration::from_secs(20));
        let waited = tokio::time::timeout(Duration::from_millis(50), cache.token()).await;
        assert!(waited.is_err(), "an (almost) expired token was served");
        clock.advance(MIN);
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move { cache.token().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        gate.add_permits(1);
        assert_eq!(waiter.await.unwrap().unwrap().secret(), "tok-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn failed_refresh_keeps_the_old_token_and_backs_off() {
        let (clock, source, cache) = setup(vec![
            Step::Ok(HOUR),
            Step::Err("iam down"),
            Step::Err("iam down"),
            Step::Ok(HOUR),
        ]);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(55 * MIN);
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 2, "first refresh failed");
        // Backoff 1 s: no attempt before it has passed.
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(Duration::from_millis(999));
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 2);
        clock.advance(Duration::from_millis(1));
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 3, "second refresh failed");
        // Backoff doubles to 2 s.
        clock.advance(Duration::from_secs(1));
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 3);
        clock.advance(Duration::from_secs(1));
        assert_eq!(secret(&cache).await, "tok-1");
        cache.settle().await;
        assert_eq!(source.fetches(), 4);
        assert_eq!(secret(&cache).await, "tok-4");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RefreshPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|n| p.backoff.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.backoff.delay(u32::MAX), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn reports_auth_error_when_no_valid_token_can_be_had() {
        let (clock, source, cache) = setup(vec![Step::Err("boom"), Step::Err("boom")]);
        let Err(Error::Auth(e)) = cache.token().await else {
            panic!("expected Error::Auth");
        };
        assert_eq!(e.credential_source(), CredentialSource::Custom);
        assert_eq!(e.reason(), "boom");
        // Backing off: fail fast, do not ask the source again.
        let Err(Error::Auth(e)) = cache.token().await else {
            panic!("expected Error::Auth");
        };
        assert!(
            e.reason()
                .starts_with("boom (no valid token cached; 1 failed attempt(s), next attempt in"),
            "{}",
            e.reason()
        );
        assert_eq!(source.fetches(), 1);
        clock.advance(Duration::from_secs(1));
        assert!(cache.token().await.is_err());
        assert_eq!(source.fetches(), 2);
        clock.advance(Duration::from_secs(2));
        assert_eq!(secret(&cache).await, "tok-3");
    }

    #[tokio::test]
    async fn fails_once_the_old_token_expires_during_backoff() {
        let mut script = vec![Step::Ok(HOUR)];
        script.extend((0..20).map(|_| Step::Err("iam down")));
        let (clock, _source, cache) = setup(script);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(55 * MIN);
        for _ in 0..10 {
            assert_eq!(secret(&cache).await, "tok-1");
            cache.settle().await;
            clock.advance(Duration::from_secs(20));
        }
        clock.advance(5 * MIN);
        let err = cache.token().await.unwrap_err();
        assert!(matches!(err, Error::Auth(_)), "{err}");
        assert!(err.to_string().contains("iam down"), "{err}");
    }

    #[tokio::test]
    async fn rejects_unusable_tokens_from_the_source() {
        #[derive(Debug)]
        struct Bad(&'static str, Duration);
        impl TokenSource for Bad {
            fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
                let now = SystemTime::now();
                futures::future::ready(Ok(AccessToken::new(self.0, now + self.1))).boxed()
            }
            fn kind(&self) -> CredentialSource {
                CredentialSource::Custom
            }
        }
        for (bad, reason) in [
            (Bad("", HOUR), "empty token"),
            (Bad("a\nb", HOUR), "not allowed in an HTTP header"),
            (Bad("t1", Duration::ZERO), "expired"),
        ] {
            let cache = TokenCache::new(Arc::new(bad), Arc::new(crate::auth::SystemClock));
            let err = cache.token().await.unwrap_err();
            assert!(err.to_string().contains(reason), "{err}");
        }
    }

    #[tokio::test]
    async fn a_panicking_source_is_an_error_not_a_stuck_cache() {
        #[derive(Debug)]
        struct Panics;
        impl TokenSource for Panics {
            fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
                async { panic!("source bug") }.boxed()
            }
            fn kind(&self) -> CredentialSource {
                CredentialSource::Custom
            }
        }
        let clock = ManualClock::default();
        let cache = TokenCache::new(Arc::new(Panics), Arc::new(clock.clone()));
        let err = cache.token().await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        clock.advance(Duration::from_secs(1));
        assert!(
            cache
                .token()
                .await
                .unwrap_err()
                .to_string()
                .contains("panicked")
        );
    }

    #[tokio::test]
    async fn invalidate_forces_a_refresh() {
        let (_clock, source, cache) = setup(vec![]);
        assert_eq!(secret(&cache).await, "tok-1");
        cache.invalidate();
        assert_eq!(secret(&cache).await, "tok-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn dropping_the_cache_aborts_the_refresh_task() {
        let (clock, _gate, source, cache) = gated_setup(1);
        assert_eq!(secret(&cache).await, "tok-1");
        clock.advance(56 * MIN);
        assert_eq!(secret(&cache).await, "tok-1");
        tokio::task::yield_now().await;
        assert_eq!(source.fetches(), 2, "refresh task is waiting on the gate");
        assert_eq!(Arc::strong_count(&source), 3, "test + cache + task");
        drop(cache);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            Arc::strong_count(&source),
            1,
            "the task did not outlive the cache"
        );
    }

    #[test]
    fn outside_a_runtime_a_fetch_fails_instead_of_hanging() {
        let (_clock, source, cache) = setup(vec![]);
        let err = futures::executor::block_on(cache.token()).unwrap_err();
        assert!(err.to_string().contains("Tokio runtime"), "{err}");
        assert_eq!(source.fetches(), 0);
    }

    #[tokio::test]
    async fn debug_shows_no_secret() {
        let (_clock, _source, cache) = setup(vec![]);
        cache.token().await.unwrap();
        let shown = format!("{cache:?}");
        assert!(!shown.contains("tok-1"), "{shown}");
        assert!(shown.contains("token_expires_at"), "{shown}");
    }
}
