//! The two halves of a message body on the `h2` crate, shared by the
//! client's [`Channel`](super::Channel) and the emulator's server: an
//! [`http_body::Body`] over a received stream, and a future that writes a
//! body to a stream within HTTP/2 flow control.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame};

/// The largest header list either side accepts from its peer (hyper's
/// bound on both its client and its server, which tonic had).
pub(crate) const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;

/// A received stream's DATA frames then its trailers, as an
/// [`http_body::Body`]. Each DATA frame's flow-control capacity is released
/// as soon as it is read: the decoder above bounds what it keeps.
pub(crate) struct RecvBody {
    recv: h2::RecvStream,
    data_done: bool,
}

impl RecvBody {
    pub(crate) fn new(recv: h2::RecvStream) -> Self {
        Self {
            recv,
            data_done: false,
        }
    }
}

impl Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = &mut *self;
        if !this.data_done {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.data_done = true,
            }
        }
        match ready!(this.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

/// Writes a body (its DATA, then its trailers or an empty DATA frame that
/// ends the stream) to an h2 stream within flow control.
///
/// The first chunk is queued at once, without waiting for send capacity:
/// h2 sends it as the windows allow, and it is in memory already. A
/// client's new stream gets no capacity before the connection's task has
/// opened it, so waiting would send a unary call's HEADERS and DATA in two
/// writes, two task hops apart. Later chunks wait for capacity, so a long
/// body is read no faster than the peer takes it. A body that fails
/// resets the stream with `on_error`; a stream the peer reset or closed
/// ends the pump quietly (the peer already has its answer or its reset).
pub(crate) struct Pump {
    body: tonic::body::Body,
    stream: h2::SendStream<Bytes>,
    /// Data waiting for send capacity, and whether it ends the body.
    pending: Option<Bytes>,
    last: bool,
    /// No chunk sent yet.
    first: bool,
    on_error: h2::Reason,
}

impl Pump {
    pub(crate) fn new(
        body: tonic::body::Body,
        stream: h2::SendStream<Bytes>,
        on_error: h2::Reason,
    ) -> Self {
        Self {
            body,
            stream,
            pending: None,
            last: false,
            first: true,
            on_error,
        }
    }
}

impl Future for Pump {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if let Some(data) = this.pending.as_mut() {
                this.stream.reserve_capacity(data.len());
                match ready!(this.stream.poll_capacity(cx)) {
                    Some(Ok(0)) => continue,
                    Some(Ok(n)) => {
                        let chunk = data.split_to(n.min(data.len()));
                        let end = data.is_empty() && this.last;
                        if this.stream.send_data(chunk, end).is_err() {
                            return Poll::Ready(());
                        }
                        if data.is_empty() {
                            this.pending = None;
                            if end {
                                return Poll::Ready(());
                            }
                        }
                        continue;
                    }
                    Some(Err(_)) | None => return Poll::Ready(()),
                }
            }
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.last = this.body.is_end_stream();
                        if data.is_empty() {
                            if this.last {
                                let _ = this.stream.send_data(Bytes::new(), true);
                                return Poll::Ready(());
                            }
                        } else if std::mem::take(&mut this.first) {
                            if this.stream.send_data(data, this.last).is_err() || this.last {
                                return Poll::Ready(());
                            }
                        } else {
                            this.pending = Some(data);
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            let _ = this.stream.send_trailers(trailers);
                            return Poll::Ready(());
                        }
                    }
                },
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "body failed; resetting the stream");
                    this.stream.send_reset(this.on_error);
                    return Poll::Ready(());
                }
                None => {
                    let _ = this.stream.send_data(Bytes::new(), true);
                    return Poll::Ready(());
                }
            }
        }
    }
}
