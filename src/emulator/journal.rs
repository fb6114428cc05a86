//! The request journal: every call the emulator's layer sees, in a bounded
//! ring. Recording is cheap (the request's bytes, a few headers); the proto3
//! JSON of a request is rendered only when the journal is read.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// Default of [`EmulatorBuilder::journal_size`](super::EmulatorBuilder::journal_size).
pub const DEFAULT_JOURNAL_SIZE: usize = 1000;
/// Requests up to this size (bytes of the message) are kept for the
/// journal; larger ones are journaled without their body (`request: null`,
/// `request_bytes` tells the size).
pub const JOURNAL_REQUEST_BYTES: usize = 16 * 1024;
/// Shown instead of a secret (an `authorization` header, a token field).
pub const REDACTED: &str = "<redacted>";

/// How a call reached the emulator: put it into the request's
/// [`http::Extensions`] before the emulator's layer to mark a call that came
/// through another transport (the journal's `transport` field); a call
/// without it is gRPC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// gRPC over HTTP/2 (the default).
    #[default]
    Grpc,
    /// The REST gateway.
    Rest,
}

/// One journaled call, as `GET /requests` and
/// [`EmulatorHandle::requests`](super::EmulatorHandle::requests) report it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JournalEntry {
    /// Sequence number, from 1, increasing over the emulator's life.
    pub seq: u64,
    /// When the call arrived, on the emulator's clock (RFC 3339).
    pub time: String,
    /// `package.Service/Method`.
    pub method: String,
    /// The caller's socket address, when known.
    pub peer: Option<String>,
    /// How the call arrived.
    pub transport: Transport,
    /// The request as proto3 JSON (token fields redacted); `null` when it
    /// was too large, compressed or did not decode.
    pub request: Option<serde_json::Value>,
    /// Size of the request message in bytes.
    pub request_bytes: usize,
    /// Request headers, secrets (`authorization`, anything named like a
    /// token, key or secret) redacted.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The gRPC status code's name (`OK`, `NOT_FOUND`, ...).
    pub code: String,
    /// The status message (empty on success).
    pub message: String,
    /// The operation the call created, replayed or looked at.
    pub operation_id: Option<String>,
    /// Time in the emulator, milliseconds.
    pub duration_ms: f64,
}

/// A page of the journal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JournalPage {
    /// Matching entries, oldest first.
    pub requests: Vec<JournalEntry>,
    /// Entries pushed out of the ring since the start or the last clear.
    pub dropped: u64,
    /// The sequence number of the latest entry recorded (pass it as
    /// `since` to see only what comes next).
    pub last_seq: u64,
}

/// What the layer records of a call (before the rendering).
pub(crate) struct Record {
    pub seq: u64,
    pub time: SystemTime,
    /// `package.Service/Method`, from the method table.
    pub method: &'static str,
    pub peer: Option<SocketAddr>,
    pub transport: Transport,
    pub request_bytes: usize,
    /// The request headers as they came, filtered and redacted when the
    /// journal is read, and the gRPC message bytes (without the frame
    /// header) when kept.
    pub metadata: Metadata,
    pub code: tonic::Code,
    pub message: String,
    pub operation_id: Option<String>,
    pub duration: Duration,
}

/// Where a handler leaves the id of the operation a call created.
pub(crate) type OperationSlot = Arc<OnceLock<String>>;

/// The bounded ring.
pub(crate) struct Journal {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Record>,
    next_seq: u64,
    dropped: u64,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(DEFAULT_JOURNAL_SIZE)),
                next_seq: 1,
                dropped: 0,
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a record (its `seq` is assigned here).
    pub fn push(&self, mut record: Record) {
        if !self.enabled() {
            return;
        }
        let evicted = {
            let mut ring = self.ring();
            record.seq = ring.next_seq;
            ring.next_seq += 1;
            let evicted = if ring.entries.len() == self.capacity {
                ring.dropped += 1;
                ring.entries.pop_front()
            } else {
                None
            };
            ring.entries.push_back(record);
            evicted
        };
        // Freed outside the lock: other calls are waiting to push.
        drop(evicted);
    }

    /// Empties the ring and the dropped counter (sequence numbers go on).
    pub fn clear(&self) {
        let mut ring = self.ring();
        ring.entries.clear();
        ring.dropped = 0;
    }

    /// Entries of `method` (all when `None`) with a sequence number above `since`.
    pub fn page(&self, method: Option<&str>, since: u64) -> JournalPage {
        let method = method.map(|m| m.trim_start_matches('/'));
        let (picked, dropped, last_seq): (Vec<RecordView>, u64, u64) = {
            let ring = self.ring();
            let picked = ring
                .entries
                .iter()
                .filter(|r| r.seq > since && method.is_none_or(|m| r.method == m))
                .map(RecordView::from)
                .collect();
            (picked, ring.dropped, ring.next_seq - 1)
        };
        // Rendering (descriptor decoding, JSON) happens outside the lock.
        JournalPage {
            requests: picked.into_iter().map(RecordView::render).collect(),
            dropped,
            last_seq,
        }
    }
}

/// A copy of a record taken under the lock (its one buffer copied).
struct RecordView {
    seq: u64,
    time: SystemTime,
    method: &'static str,
    peer: Option<SocketAddr>,
    transport: Transport,
    request_bytes: usize,
    metadata: Metadata,
    code: tonic::Code,
    message: String,
    operation_id: Option<String>,
    duration: Duration,
}

impl From<&Record> for RecordView {
    fn from(r: &Record) -> Self {
        Self {
            seq: r.seq,
            time: r.time,
            method: r.method,
            peer: r.peer,
            transport: r.transport,
            request_bytes: r.request_bytes,
            metadata: r.metadata.clone(),
            code: r.code,
            message: r.message.clone(),
            operation_id: r.operation_id.clone(),
            duration: r.duration,
        }
    }
}

impl RecordView {
    fn render(self) -> JournalEntry {
        let request = self
            .metadata
            .message()
            .and_then(|bytes| request_json(self.method, bytes));
        let operation_id = self.operation_id.or_else(|| {
            request
                .as_ref()
                .and_then(|r| r.get("operationId"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        JournalEntry {
            seq: self.seq,
            time: prost_types::Timestamp::from(self.time).to_string(),
            method: self.method.to_owned(),
            peer: self.peer.map(|p| p.to_string()),
            transport: self.transport,
            request,
            request_bytes: self.request_bytes,
            metadata: self
                .metadata
                .shown()
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            code: super::faults::code_name(self.code).to_string(),
            message: self.message,
            operation_id,
            duration_ms: self.duration.as_secs_f64() * 1000.0,
        }
    }
}

/// The request message of `method` as proto3 JSON, token fields redacted.
fn request_json(method: &str, bytes: &[u8]) -> Option<serde_json::Value> {
    let row = crate::proto::method(method)?;
    let descriptor = crate::json::descriptor_pool().get_message_by_name(row.request)?;
    let message = prost_reflect::DynamicMessage::decode(descriptor, bytes).ok()?;
    let mut value = crate::json::dynamic_to_value(&message).ok()?;
    redact_fields(&mut value);
    Some(value)
}

/// Whether a header or field name names a secret: `authorization`, or
/// anything with `token`, `secret`, `password`, `jwt` or `key` in it, except
/// page tokens and the idempotency key (neither is a credential).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase().replace(['-', '_'], "");
    if matches!(
        lower.as_str(),
        "pagetoken" | "nextpagetoken" | "idempotencykey"
    ) {
        return false;
    }
    lower == "authorization"
        || lower == "cookie"
        || ["token", "secret", "password", "jwt", "key"]
            .iter()
            .any(|w| lower.contains(w))
}

fn redact_fields(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) && (v.is_string() || v.is_number()) {
                    *v = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_fields(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_fields),
        _ => {}
    }
}

/// The request headers worth journaling, copied into one buffer as
/// `name NUL value NUL` pairs, and after them the request message when it
/// is kept: one allocation per call, and no reference into the
/// connection's buffers (the decoded headers share them, and a journal
/// holding a thousand would make every connection allocate anew). `NUL` is
/// in neither a header name nor a header value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metadata {
    buf: Vec<u8>,
    headers_end: usize,
    message: bool,
}

/// Room left after the headers for the message, so that a small request
/// does not grow the buffer.
const MESSAGE_ROOM: usize = 256;

impl Metadata {
    /// The headers of `headers` worth journaling (not `te`, `content-type`
    /// or `user-agent`), as they were.
    pub fn capture(headers: &http::HeaderMap) -> Self {
        let kept = || {
            headers
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "te" | "content-type" | "user-agent"))
        };
        let len: usize = kept().map(|(n, v)| n.as_str().len() + v.len() + 2).sum();
        let mut buf = Vec::with_capacity(len + MESSAGE_ROOM);
        for (name, value) in kept() {
            buf.extend_from_slice(name.as_str().as_bytes());
            buf.push(0);
            buf.extend_from_slice(value.as_bytes());
            buf.push(0);
        }
        Metadata {
            headers_end: buf.len(),
            buf,
            message: false,
        }
    }

    /// Keeps `message` (the request's message bytes) after the headers.
    pub fn keep_message(&mut self, message: &[u8]) {
        self.buf.truncate(self.headers_end);
        self.buf.extend_from_slice(message);
        self.message = true;
    }

    /// The request message, when it was kept.
    pub fn message(&self) -> Option<&[u8]> {
        self.message.then(|| &self.buf[self.headers_end..])
    }

    /// The headers as shown by the journal: secrets redacted, values
    /// bounded ([`echo`](super::text::echo)).
    pub fn shown(&self) -> Vec<(String, String)> {
        let mut parts = self.buf[..self.headers_end].split(|b| *b == 0);
        let mut out = Vec::new();
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            let name = String::from_utf8_lossy(name).into_owned();
            let shown = if is_secret_name(&name) {
                REDACTED.to_string()
            } else {
                super::text::echo(&String::from_utf8_lossy(value)).into_owned()
            };
            out.push((name, shown));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "authorization",
            "x-yc-token",
            "iamToken",
            "yandexPassportOauthToken",
            "jwt",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "pageToken",
            "nextPageToken",
            "idempotency-key",
            "x-request-id",
            "name",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn metadata_keeps_the_headers_and_shows_secrets_redacted() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer t1.secret".parse().unwrap());
        h.insert("x-client-request-id", "r1".parse().unwrap());
        h.append("x-multi", "a".parse().unwrap());
        h.append("x-multi", "".parse().unwrap());
        h.insert("te", "trailers".parse().unwrap());
        let shown = Metadata::capture(&h).shown();
        let get = |n: &str| {
            shown
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("authorization"), [REDACTED]);
        assert_eq!(get("x-client-request-id"), ["r1"]);
        assert_eq!(get("x-multi"), ["a", ""]);
        assert!(get("te").is_empty());
        assert_eq!(shown.len(), 4);
        assert!(Metadata::default().shown().is_empty());
    }

    #[test]
    fn the_ring_keeps_the_latest_and_counts_the_dropped() {
        let j = Journal::new(2);
        for i in 0..5 {
            j.push(Record {
                seq: 0,
                time: SystemTime::UNIX_EPOCH,
                method: if i % 2 == 0 { "m0" } else { "m1" },
                peer: None,
                transport: Transport::Grpc,
                request_bytes: 0,
                metadata: Metadata::default(),
                code: tonic::Code::Ok,
                message: String::new(),
                operation_id: None,
                duration: Duration::ZERO,
            });
        }
        let page = j.page(None, 0);
        assert_eq!(
            page.requests.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!((page.dropped, page.last_seq), (3, 5));
        assert_eq!(j.page(Some("m0"), 0).requests.len(), 1);
        assert_eq!(j.page(None, 4).requests.len(), 1);
        j.clear();
        assert_eq!(j.page(None, 0).dropped, 0);
    }
}
