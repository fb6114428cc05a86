//! Accepting connections: back off on accept errors (EMFILE) instead of
//! spinning, and drop a connection that does not finish its handshake in time.
//!
//! tonic's `TcpIncoming` yields every accept error, and a serve loop that
//! polls it again at once busy-loops with the descriptor limit reached. [`Accept`] turns an error into a pause (10 ms doubling to 1 s, reset
//! by the next success) and a log line at most once per
//! [`ACCEPT_ERROR_LOG_INTERVAL`].
//!
//! h2 waits for the client preface without a deadline, so a silent TCP peer
//! held a connection forever. [`Guarded`] fails the read side when the
//! handshake is not done by the deadline: in plaintext, the 24-byte HTTP/2
//! preface and the header of the first frame; over TLS (whose handshake has
//! its own timeout in `serve`), the first call. Established connections are
//! then watched by HTTP/2 keepalive pings.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tonic::transport::server::TcpIncoming;

use super::text::EveryInterval;

/// Accept errors are logged at most once per this interval.
pub const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The HTTP/2 client preface (24 bytes) and one frame header (9 bytes).
const PLAINTEXT_HANDSHAKE_BYTES: usize = 24 + 9;

/// The accepted connections of the gRPC port.
pub(crate) struct Accept {
    inner: TcpIncoming,
    pause: Option<Pin<Box<Sleep>>>,
    backoff: Duration,
    handshake_timeout: Duration,
    tls: bool,
    log: EveryInterval,
}

impl Accept {
    pub fn new(inner: TcpIncoming, handshake_timeout: Duration, tls: bool) -> Self {
        Self {
            inner,
            pause: None,
            backoff: FIRST_BACKOFF,
            handshake_timeout,
            tls,
            log: EveryInterval::new(ACCEPT_ERROR_LOG_INTERVAL),
        }
    }
}

impl Stream for Accept {
    type Item = Result<Guarded, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(pause) = &mut this.pause {
                ready!(pause.as_mut().poll(cx));
                this.pause = None;
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Ok(stream)) => {
                    this.backoff = FIRST_BACKOFF;
                    return Poll::Ready(Some(Ok(Guarded::new(
                        stream,
                        this.handshake_timeout,
                        this.tls,
                    ))));
                }
                Some(Err(e)) => {
                    if let Some(suppressed) = this.log.allow() {
                        tracing::warn!(
                            error = %e,
                            retry_in_ms = this.backoff.as_millis() as u64,
                            suppressed,
                            "cannot accept a connection; backing off (logged at most once per {}s)",
                            ACCEPT_ERROR_LOG_INTERVAL.as_secs()
                        );
                    }
                    this.pause = Some(Box::pin(tokio::time::sleep(this.backoff)));
                    this.backoff = (this.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// What the services see of a connection (request extension): lets the
/// layer mark the handshake of a TLS connection done on its first call;
/// the peer's address (the usage API's rate limit is per IP).
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo(Arc<AtomicBool>, Option<std::net::SocketAddr>);

impl ConnInfo {
    /// The peer's address (for the journal).
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        self.1
    }

    /// A connection that is past its handshake, from `peer` (the REST
    /// gateway's calls, whose connections are its own).
    pub fn of_peer(peer: std::net::SocketAddr) -> Self {
        Self(Arc::new(AtomicBool::new(true)), Some(peer))
    }

    pub fn mark_called(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// The peer's IP address.
    pub fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.1.map(|a| a.ip())
    }
}

/// An accepted TCP stream whose reads fail once the handshake deadline
/// passes with the handshake unfinished.
pub(crate) struct Guarded {
    io: TcpStream,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Plaintext bytes still to read before the handshake counts as done.
    need: usize,
    called: Arc<AtomicBool>,
    timeout: Duration,
}

impl Guarded {
    /// What the calls on this connection see of it.
    pub fn info(&self) -> ConnInfo {
        ConnInfo(self.called.clone(), self.io.peer_addr().ok())
    }

    fn new(io: TcpStream, timeout: Duration, tls: bool) -> Self {
        Self {
            io,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            need: if tls {
                usize::MAX
            } else {
                PLAINTEXT_HANDSHAKE_BYTES
            },
            called: Arc::new(AtomicBool::new(false)),
            timeout,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.deadline.is_none() {
            return polled;
        }
        if let Poll::Ready(Ok(())) = &polled {
            this.need = this
                .need
                .saturating_sub(buf.filled().len().saturating_sub(before));
        }
        if this.need == 0 || this.called.load(Ordering::Relaxed) {
            this.deadline = None;
            return polled;
        }
        if polled.is_pending() {
            if let Some(deadline) = &mut this.deadline {
                if deadline.as_mut().poll(cx).is_ready() {
                    tracing::debug!(
                        timeout_ms = this.timeout.as_millis() as u64,
                        "closing a connection that did not finish its handshake in time"
                    );
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no HTTP/2 handshake within {:?}", this.timeout),
                    )));
                }
            }
        }
        polled
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A TLS acceptor with the PEM certificate chain and key of the emulator
/// (its gRPC and REST ports share them), offering `alpn` (the protocols in
/// order of preference); `port` names the port in errors.
pub(crate) fn tls_acceptor(
    cert_pem: &[u8],
    key_pem: &[u8],
    port: &str,
    alpn: &[&[u8]],
) -> Result<tokio_rustls::TlsAcceptor, super::EmulatorError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = |what: &str, e: &dyn std::fmt::Display| {
        super::EmulatorError::Tls(format!("{port} port {what}: {e}"))
    };
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls("certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| tls("key", &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls("TLS versions", &e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| tls("certificate", &e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
