//! Telling a transport failure apart from a server's answer, and saying
//! what it was: the cause chain, its kind, and (after the fact, by a one-off
//! probe) whether a plaintext call went to a TLS server.

use std::error::Error as StdError;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::TransportErrorKind;

/// How long the plaintext-to-TLS probe may take, connecting included.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The HTTP/2 client connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Wrappers whose text adds nothing to "cannot connect to HOST:PORT".
fn is_noise(text: &str) -> bool {
    text == "transport error" || text.starts_with("client error (")
}

/// The kind and the cause chain of a status that tonic made from a
/// transport failure; `None` for a status the server sent (it has no
/// source) or one that carries anything but a transport error.
pub(crate) fn classify(status: &tonic::Status) -> Option<(TransportErrorKind, String)> {
    let first = StdError::source(status)?;
    let mut transport = false;
    let mut kind = TransportErrorKind::Other;
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(first);
    while let Some(e) = next {
        if e.is::<crate::Error>() || e.is::<tonic::TimeoutExpired>() {
            return None;
        }
        if e.is::<tonic::transport::Error>()
            || e.is::<hyper::Error>()
            || e.is::<h2::Error>()
            || e.is::<tonic::ConnectError>()
            || e.is::<std::io::Error>()
        {
            transport = true;
        }
        if let Some(connect) = e.downcast_ref::<super::ConnectError>() {
            transport = true;
            kind = connect.kind();
        }
        let text = e.to_string();
        // hyper-util's connector error for a failed lookup; its type is private.
        if text == "dns error" {
            kind = TransportErrorKind::Dns;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            kind = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => TransportErrorKind::ConnectionRefused,
                std::io::ErrorKind::TimedOut => TransportErrorKind::ConnectTimeout,
                _ => kind,
            };
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                kind = match tls {
                    rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                        TransportErrorKind::TlsToPlaintextServer
                    }
                    _ => TransportErrorKind::Tls,
                };
            }
        }
        if !is_noise(&text) && parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    if !transport {
        return None;
    }
    if parts.is_empty() {
        parts.push(status.message().to_owned());
    }
    Some((kind, parts.join(": ")))
}

/// Whether the server at `authority` (`host:port`) answers the HTTP/2
/// preface with a TLS record (an alert or a handshake), which a TLS server
/// does when a plaintext client connects. Bounded by [`PROBE_TIMEOUT`];
/// any failure counts as "no".
pub(crate) async fn speaks_tls(authority: &str) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        stream.write_all(H2_PREFACE).await.ok()?;
        let mut head = [0u8; 3];
        stream.read_exact(&mut head).await.ok()?;
        // TLS record: content type alert (21) or handshake (22), version 3.x.
        Some(matches!(head[0], 0x15 | 0x16) && head[1] == 0x03)
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_from_the_server_is_not_a_transport_error() {
        assert!(classify(&tonic::Status::unavailable("try later")).is_none());
        let mut status = tonic::Status::unavailable("x");
        status.set_source(std::sync::Arc::new(crate::Error::config(
            "credentials",
            "none",
        )));
        assert!(classify(&status).is_none());
    }

    #[test]
    fn io_errors_are_classified_and_chained() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let mut status = tonic::Status::unavailable("tcp connect error");
        status.set_source(std::sync::Arc::new(io));
        let (kind, cause) = classify(&status).unwrap();
        assert_eq!(kind, TransportErrorKind::ConnectionRefused);
        assert_eq!(cause, "refused");

        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        let mut status = tonic::Status::unavailable("x");
        status.set_source(std::sync::Arc::new(tls));
        let (kind, cause) = classify(&status).unwrap();
        assert_eq!(kind, TransportErrorKind::TlsToPlaintextServer);
        assert!(cause.contains("InvalidContentType"), "{cause}");
    }

    #[tokio::test]
    async fn the_probe_says_no_for_a_closed_port_and_a_silent_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap().to_string();
        drop(listener);
        assert!(!speaks_tls(&closed).await);
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        let started = std::time::Instant::now();
        assert!(!speaks_tls(&addr).await);
        assert!(started.elapsed() < PROBE_TIMEOUT * 3);
    }
}
