//! The gRPC port's HTTP/2 server, on the `h2` crate directly.
//!
//! tonic's server (hyper underneath) runs every call as a task of its own
//! beside the connection's task, so each call costs a spawn, a wake-up
//! between the two and, often, a second write of the connection. Here the
//! connection's task calls the emulator's service itself: a call that is
//! answered on its first poll (the usual case: the handlers work on
//! in-memory state) has its answer buffered on the spot, and it leaves with
//! the connection's next write. A call that is not ready (an injected
//! latency, a request body still arriving, an answer larger than the
//! peer's flow-control window) goes on in a task of its own, as under
//! tonic. The price: a call whose first poll is long (a year of daily usage
//! for thousands of resources takes up to ~100 ms) holds the other calls of
//! its connection that long; other connections go on on the other workers.
//! A stream the peer resets drops its call; one that outlives the
//! `grpc-timeout` the peer sent answers DEADLINE_EXCEEDED, as gRPC servers
//! do (the timer is only started for a call that was not answered at once).
//!
//! A connection's own task would otherwise wake itself on every answer
//! (h2 wakes the connection's task whenever a frame is queued), and tokio
//! runs a task that woke itself as one that yielded: to the back of the
//! queue, with an idle worker thread woken to steal it. [`Quiet`] re-polls
//! it at once instead.
//!
//! What it keeps of tonic's server: the HTTP/2 settings the emulator set
//! (streams per connection, windows) and hyper's bounds (header list,
//! send buffer, reset streams), keep-alive PINGs with a timeout, TLS with
//! ALPN `h2` and the handshake timeout, and a graceful stop that lets
//! running calls finish.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures::task::{ArcWake, AtomicWaker};
use futures::{FutureExt, StreamExt};
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};
use tokio_rustls::TlsAcceptor;
use tower::Service;

use super::MAX_CONCURRENT_STREAMS;
use super::conn::{Accept, ConnInfo, Guarded};
use super::handle::stopped;
use super::layer::EmuService;
use crate::transport::h2body::{MAX_HEADER_LIST_SIZE, Pump, RecvBody};

/// Flow-control windows: 1 MiB per stream, 4 MiB per connection.
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;
/// hyper's server bounds, which tonic's server had (and the header list of
/// `h2body`): the data buffered per stream for sending, the streams a peer
/// may open and reset before they are accepted, and the streams this side
/// may reset for the peer's protocol errors before closing the connection.
const MAX_SEND_BUFFER_SIZE: usize = 400 * 1024;
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// How connections are served.
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    /// A PING after this long, and how long its answer may take.
    pub keepalive: (Duration, Duration),
    /// The longest TLS handshake.
    pub handshake_timeout: Duration,
}

/// Serves `service` on every accepted connection until `stop`; then stops
/// accepting, sends each connection a GOAWAY and returns when their
/// running calls are done.
pub(crate) async fn serve(
    mut incoming: Accept,
    tls: Option<TlsAcceptor>,
    service: EmuService,
    settings: Settings,
    stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stopping = pin!(stopped(stop.clone()));
    loop {
        tokio::select! {
            () = &mut stopping => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            next = incoming.next() => match next {
                Some(Ok(io)) => {
                    connections.spawn(connection(
                        io,
                        tls.clone(),
                        service.clone(),
                        settings,
                        stop.clone(),
                    ));
                }
                // `Accept` logs accept errors and backs off itself.
                Some(Err(_)) => {}
                None => break,
            },
        }
    }
    drop(incoming);
    while connections.join_next().await.is_some() {}
}

async fn connection(
    io: Guarded,
    tls: Option<TlsAcceptor>,
    service: EmuService,
    settings: Settings,
    stop: watch::Receiver<bool>,
) {
    let info = io.info();
    let Some(acceptor) = tls else {
        return Quiet::new(http2(io, info, service, settings.keepalive, stop)).await;
    };
    // A handshake in progress is abandoned on stop: it has no call to finish.
    let handshake = tokio::time::timeout(settings.handshake_timeout, acceptor.accept(io));
    let handshake = tokio::select! {
        r = handshake => r,
        () = stopped(stop.clone()) => return,
    };
    match handshake {
        Ok(Ok(io)) => Quiet::new(http2(io, info, service, settings.keepalive, stop)).await,
        Ok(Err(e)) => tracing::debug!(peer = ?info.peer(), error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(peer = ?info.peer(), "TLS handshake timed out"),
    }
}

/// One HTTP/2 connection: its calls, its keep-alive PINGs and, on `stop`,
/// its graceful end.
async fn http2<T>(
    io: T,
    info: ConnInfo,
    mut service: EmuService,
    (interval, timeout): (Duration, Duration),
    stop: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = h2::server::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .max_send_buffer_size(MAX_SEND_BUFFER_SIZE)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESET_STREAMS))
        .handshake::<T, Bytes>(io);
    let mut stopping = pin!(stopped(stop));
    let mut conn = tokio::select! {
        r = handshake => match r {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(peer = ?info.peer(), error = %e, "HTTP/2 handshake failed");
                return;
            }
        },
        () = &mut stopping => return,
    };
    let mut pings = conn.ping_pong();
    // One timer for the connection, reset when it fires: the next PING,
    // or the deadline of the PING in flight.
    let mut timer = pin!(sleep(interval));
    let mut awaiting_pong = false;
    // A call started since the timer was set: no PING needed this round.
    let mut active = false;
    let mut stopped = false;
    loop {
        tokio::select! {
            accepted = conn.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    active = true;
                    dispatch(request, respond, &mut service, &info);
                }
                Some(Err(e)) => {
                    tracing::debug!(peer = ?info.peer(), error = %e, "connection closed");
                    break;
                }
                None => break,
            },
            () = &mut stopping, if !stopped => {
                stopped = true;
                conn.graceful_shutdown();
            }
            () = &mut timer, if pings.is_some() => {
                if awaiting_pong {
                    tracing::debug!(peer = ?info.peer(), ?timeout, "keep-alive PING unanswered; closing the connection");
                    break;
                }
                if std::mem::take(&mut active) {
                    timer.as_mut().reset(Instant::now() + interval);
                    continue;
                }
                let sent = pings.as_mut().is_some_and(|p| p.send_ping(h2::Ping::opaque()).is_ok());
                awaiting_pong = sent;
                timer.as_mut().reset(Instant::now() + if sent { timeout } else { interval });
            }
            pong = poll_fn(|cx| match pings.as_mut() {
                Some(p) => p.poll_pong(cx),
                None => Poll::Pending,
            }), if awaiting_pong => {
                if pong.is_err() {
                    break;
                }
                awaiting_pong = false;
                timer.as_mut().reset(Instant::now() + interval);
            }
        }
    }
}

/// Calls the service for one stream: answered here if it is ready at once,
/// else in a task of its own.
fn dispatch(
    request: Request<h2::RecvStream>,
    respond: h2::server::SendResponse<Bytes>,
    service: &mut EmuService,
    info: &ConnInfo,
) {
    let timeout = request
        .headers()
        .get(GRPC_TIMEOUT)
        .and_then(|v| grpc_timeout(v.as_bytes()));
    let mut request = request.map(|recv| tonic::body::Body::new(RecvBody::new(recv)));
    request.extensions_mut().insert(info.clone());
    // The emulator's service is always ready (its routes are).
    let call = service.call(request);
    let mut answer = Box::pin(answer(call, respond, timeout));
    if (&mut answer).now_or_never().is_none() {
        tokio::spawn(answer);
    }
}

/// Waits for the service's answer (the peer's reset drops the call; past
/// `timeout` it is dropped and answers DEADLINE_EXCEEDED) and writes it to
/// the stream.
async fn answer(
    mut call: <EmuService as Service<Request<tonic::body::Body>>>::Future,
    mut respond: h2::server::SendResponse<Bytes>,
    timeout: Option<Duration>,
) {
    let mut deadline = None;
    let answered = poll_fn(|cx| {
        if let Poll::Ready(Ok(r)) = call.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        if respond.poll_reset(cx).is_ready() {
            return Poll::Ready(None);
        }
        if let Some(after) = timeout {
            let timer = deadline.get_or_insert_with(|| Box::pin(sleep(after)));
            if timer.as_mut().poll(cx).is_ready() {
                let status = tonic::Status::deadline_exceeded(format!(
                    "the call took longer than its grpc-timeout ({after:?})"
                ));
                return Poll::Ready(Some(status.into_http()));
            }
        }
        Poll::Pending
    })
    .await;
    drop(call);
    let Some(response) = answered else {
        return;
    };
    let (head, body) = response.into_parts();
    let end = http_body::Body::is_end_stream(&body);
    match respond.send_response(Response::from_parts(head, ()), end) {
        Ok(stream) if !end => Pump::new(body, stream, h2::Reason::INTERNAL_ERROR).await,
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "the answer could not be sent"),
    }
}

/// The `grpc-timeout` header: at most 8 digits and a unit (`H`, `M`, `S`,
/// `m`, `u`, `n`); anything else is no deadline, as in gRPC.
fn grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Re-polls a future at most this many times in a row for the wake-ups it
/// caused itself; then the scheduler's turn (tokio's cooperative budget,
/// spent, wakes the task at once and is only renewed by the scheduler).
const MAX_QUIET_REPOLLS: usize = 3;

/// A future whose wake-ups during its own poll re-poll it at once, up to
/// [`MAX_QUIET_REPOLLS`] times, instead of re-queueing its task; wake-ups
/// from elsewhere (or while it is not being polled) reach the task.
struct Quiet<F> {
    inner: Pin<Box<F>>,
    state: Arc<QuietState>,
    waker: Waker,
}

struct QuietState {
    task: AtomicWaker,
    polling: AtomicBool,
    woken: AtomicBool,
}

impl ArcWake for QuietState {
    fn wake_by_ref(this: &Arc<Self>) {
        this.woken.store(true, Ordering::SeqCst);
        if !this.polling.load(Ordering::SeqCst) {
            this.task.wake();
        }
    }
}

impl<F: Future> Quiet<F> {
    fn new(inner: F) -> Self {
        let state = Arc::new(QuietState {
            task: AtomicWaker::new(),
            polling: AtomicBool::new(false),
            woken: AtomicBool::new(false),
        });
        Self {
            inner: Box::pin(inner),
            waker: futures::task::waker(state.clone()),
            state,
        }
    }
}

impl<F: Future> Future for Quiet<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.state.task.register(cx.waker());
        let mut quiet = Context::from_waker(&this.waker);
        for _ in 0..=MAX_QUIET_REPOLLS {
            // Cleared before `polling` is set: a wake-up in between reaches
            // the task (a spare poll), none is lost.
            this.state.woken.store(false, Ordering::SeqCst);
            this.state.polling.store(true, Ordering::SeqCst);
            let polled = this.inner.as_mut().poll(&mut quiet);
            this.state.polling.store(false, Ordering::SeqCst);
            if polled.is_ready() {
                return polled;
            }
            if !this.state.woken.swap(false, Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wake-ups that reach the task.
    struct Counter(AtomicUsize);
    impl ArcWake for Counter {
        fn wake_by_ref(this: &Arc<Self>) {
            this.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A future that wakes itself on each of its first `wakes` polls.
    struct SelfWaking {
        polls: usize,
        wakes: usize,
    }
    impl Future for SelfWaking {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls += 1;
            if self.polls > self.wakes {
                return Poll::Ready(self.polls);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn task() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = futures::task::waker(counter.clone());
        (counter, waker)
    }

    #[test]
    fn a_wake_up_during_its_own_poll_re_polls_without_the_scheduler() {
        let (counter, waker) = task();
        let mut quiet = Quiet::new(SelfWaking { polls: 0, wakes: 2 });
        let polled = Pin::new(&mut quiet).poll(&mut Context::from_waker(&waker));
        assert_eq!(polled, Poll::Ready(3));
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_future_that_always_wakes_itself_yields_to_the_scheduler() {
        let (counter, waker) = task();
        let mut quiet = Quiet::new(SelfWaking {
            polls: 0,
            wakes: usize::MAX,
        });
        let polled = Pin::new(&mut quiet).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        assert_eq!(quiet.inner.polls, MAX_QUIET_REPOLLS + 1);
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            1,
            "the task is woken once"
        );
    }

    #[test]
    fn a_wake_up_between_polls_reaches_the_task() {
        /// Pending until its flag is set; keeps the waker it was given.
        struct Parked(Option<Waker>, Arc<AtomicBool>);
        impl Future for Parked {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.1.load(Ordering::SeqCst) {
                    return Poll::Ready(());
                }
                self.0 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
        let (counter, waker) = task();
        let flag = Arc::new(AtomicBool::new(false));
        let mut quiet = Quiet::new(Parked(None, flag.clone()));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut quiet).poll(&mut cx).is_pending());
        flag.store(true, Ordering::SeqCst);
        quiet.inner.0.take().unwrap().wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(Pin::new(&mut quiet).poll(&mut cx).is_ready());
    }

    #[test]
    fn grpc_timeout_reads_every_unit_and_refuses_the_rest() {
        let cases: [(&[u8], Option<Duration>); 11] = [
            (b"2H", Some(Duration::from_secs(7200))),
            (b"3M", Some(Duration::from_secs(180))),
            (b"10S", Some(Duration::from_secs(10))),
            (b"250m", Some(Duration::from_millis(250))),
            (b"99999999u", Some(Duration::from_micros(99_999_999))),
            (b"5n", Some(Duration::from_nanos(5))),
            (b"123456789m", None),
            (b"m", None),
            (b"1.5S", None),
            (b"10x", None),
            (b"", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                grpc_timeout(value),
                want,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }
}
