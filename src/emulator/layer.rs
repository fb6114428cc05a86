//! The tower layer in front of every service: request ids, counters, faults,
//! authentication and the per-call log line.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http::{HeaderValue, Request, Response};
use tonic::Status;
use tonic::body::Body;
use tonic::service::Routes;
use tower::{Layer, Service};

use super::Shared;
use super::auth::bearer_of;

use super::conn::ConnInfo;
use super::journal::{JOURNAL_REQUEST_BYTES, Metadata, OperationSlot, Record, Transport};
use super::services::MAX_REQUEST_BYTES;
use super::text::{EveryInterval, echo};
use crate::transport::{names, random_uuid, uuid_header};

/// Calls per served method. The key set is fixed when the emulator starts
/// (every method of the served services in the descriptor pool), so no
/// request, however named, adds state.
pub(crate) struct CallCounters(HashMap<String, AtomicU64>);

impl CallCounters {
    pub fn new(methods: Vec<String>) -> Self {
        Self(
            methods
                .into_iter()
                .map(|m| (m, AtomicU64::new(0)))
                .collect(),
        )
    }

    /// Counts a call; false (and nothing counted) for an unknown method.
    fn hit(&self, method: &str) -> bool {
        self.0
            .get(method)
            .map(|c| c.fetch_add(1, Ordering::Relaxed))
            .is_some()
    }

    /// Calls of `method` so far (0 for an unknown one).
    pub fn get(&self, method: &str) -> u64 {
        self.0.get(method).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The methods counted, sorted.
    pub fn methods(&self) -> Vec<String> {
        let mut m: Vec<String> = self.0.keys().cloned().collect();
        m.sort();
        m
    }
}

/// Calls of unknown paths are logged at most once per this interval.
const UNKNOWN_PATH_LOG_INTERVAL: Duration = Duration::from_secs(10);
static UNKNOWN_PATH_LOG: EveryInterval = EveryInterval::new(UNKNOWN_PATH_LOG_INTERVAL);

/// What an unknown path gets: UNIMPLEMENTED, no state, a rate-limited log line.
fn unknown_method(method: &str) -> Response<Body> {
    let shown = echo(method);
    if let Some(suppressed) = UNKNOWN_PATH_LOG.allow() {
        tracing::warn!(
            method = %shown,
            suppressed,
            "call of an unknown method (logged at most once per {}s)",
            UNKNOWN_PATH_LOG_INTERVAL.as_secs()
        );
    }
    Status::unimplemented(format!("unknown method {shown}")).into_http()
}

/// tonic's decoder answers a message over the limit with OUT_OF_RANGE; gRPC
/// says RESOURCE_EXHAUSTED. The emulator's handlers never answer
/// OUT_OF_RANGE, so the decoder is the only source; the message is checked too.
fn translate_size_limit(response: Response<Body>) -> Response<Body> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    if status.code() != tonic::Code::OutOfRange
        || !status.message().contains("message length too large")
    {
        return response;
    }
    Status::resource_exhausted(format!(
        "request message is too large: the limit is {MAX_REQUEST_BYTES} bytes (4 MiB)"
    ))
    .into_http()
}

/// Who is calling; put into the request extensions for the handlers.
#[derive(Clone, Debug)]
pub(crate) struct CallCtx {
    pub subject: Option<String>,
    /// Where an operation-starting handler leaves the operation's id for
    /// the journal (only while the journal is on).
    pub operation: Option<OperationSlot>,
}

/// The frame header of a gRPC message: compression flag and length.
const GRPC_FRAME_HEADER: usize = 5;

/// The most request bytes the journal keeps a copy of: one framed message
/// of at most [`JOURNAL_REQUEST_BYTES`].
const CAPTURE_BYTES: usize = GRPC_FRAME_HEADER + JOURNAL_REQUEST_BYTES;

/// What [`Tee`] saw of a request body: its first [`CAPTURE_BYTES`] (the
/// frame header at least) and its whole length.
#[derive(Default)]
struct Captured {
    chunks: Vec<Bytes>,
    kept: usize,
    total: usize,
}

/// A request body that keeps references to the data frames it hands on
/// (no copy, no wait), so that the journal sees the request the handler read.
struct Tee {
    inner: Body,
    seen: Arc<std::sync::Mutex<Captured>>,
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.total += data.len();
                let room = CAPTURE_BYTES.saturating_sub(seen.kept);
                // Past the bound only the frame header is still wanted.
                let keep = if data.len() <= room {
                    data.len()
                } else {
                    GRPC_FRAME_HEADER.saturating_sub(seen.kept).min(data.len())
                };
                if keep > 0 {
                    seen.kept += keep;
                    seen.chunks.push(data.slice(..keep));
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Keeps in `metadata` the message bytes of a one-message gRPC body, when
/// uncompressed and small enough to journal; answers the message size.
fn journal_message(seen: Captured, metadata: &mut Metadata) -> usize {
    let joined;
    let body: &[u8] = match seen.chunks.len() {
        0 => &[],
        1 => &seen.chunks[0],
        _ => {
            joined = seen.chunks.concat();
            &joined
        }
    };
    if body.len() < GRPC_FRAME_HEADER {
        return 0;
    }
    let compressed = body[0] != 0;
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let keep = !compressed
        && len <= JOURNAL_REQUEST_BYTES
        && seen.total == GRPC_FRAME_HEADER + len
        && body.len() == seen.total;
    // A copy: a slice would keep the connection's receive buffer alive for
    // as long as the record lives, and the connection would allocate anew.
    if keep {
        metadata.keep_message(&body[GRPC_FRAME_HEADER..]);
    }
    len
}

/// A per-call id as a header value, never indexed: each value is sent once.
fn unique_header(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

#[derive(Clone)]
pub(crate) struct EmuLayer(pub Arc<Shared>);

impl Layer<Routes> for EmuLayer {
    type Service = EmuService;
    fn layer(&self, inner: Routes) -> EmuService {
        EmuService {
            inner,
            shared: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct EmuService {
    inner: Routes,
    shared: Arc<Shared>,
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

impl Service<Request<Body>> for EmuService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<Body>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let start = Instant::now();
            // One lookup in the method table gives the method's static name
            // and its rules; a path outside it is unknown.
            let Some(info) = crate::proto::method(req.uri().path()) else {
                return Ok(unknown_method(req.uri().path().trim_start_matches('/')));
            };
            let method = info.route();
            if !shared.calls.hit(method) {
                return Ok(unknown_method(method));
            }
            let request_id = match req.headers().get(names::CLIENT_REQUEST_ID) {
                Some(v) if !v.is_empty() && v.to_str().is_ok() => unique_header(v.clone()),
                _ => uuid_header(random_uuid()),
            };
            let trace_id = {
                let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
                let text = random_uuid().simple().encode_lower(&mut buf);
                unique_header(header(text))
            };
            // A call finishes the handshake of its connection (see `conn`).
            let mut peer = None;
            if let Some(info) = req.extensions().get::<ConnInfo>() {
                info.mark_called();
                peer = info.peer();
            }
            let arrived = shared.clock.now();
            // With the journal on, the body goes to the handler through a
            // `Tee` that keeps what it read (bounded) for the record.
            let mut journal = None;
            if shared.journal.enabled() {
                let transport = req
                    .extensions()
                    .get::<Transport>()
                    .copied()
                    .unwrap_or_default();
                let metadata = Metadata::capture(req.headers());
                let seen = Arc::new(std::sync::Mutex::new(Captured::default()));
                let (parts, body) = req.into_parts();
                let tee = Tee {
                    inner: body,
                    seen: seen.clone(),
                };
                req = Request::from_parts(parts, Body::new(tee));
                // Only an operation starter leaves an operation id.
                let slot = info.returns_operation().then(OperationSlot::default);
                journal = Some((transport, metadata, seen, slot));
            }
            let decision = shared
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .decide(method);
            if !decision.latency.is_zero() {
                tokio::time::sleep(decision.latency).await;
            }
            let slot = journal.as_ref().and_then(|j| j.3.clone());
            let mut response = if let Some(status) = decision.fail_before {
                status.into_http()
            } else {
                let subject = if !info.needs_authorization {
                    Ok(None)
                } else {
                    bearer_of(req.headers()).and_then(|token| {
                        shared
                            .lock()
                            .subject_for_iam_token(&token, shared.clock.now())
                            .map(Some)
                    })
                };
                match subject {
                    Err(status) => status.into_http(),
                    Ok(subject) => {
                        req.extensions_mut().insert(CallCtx {
                            subject,
                            operation: slot.clone(),
                        });
                        let Ok(resp) = inner.call(req).await;
                        let resp = translate_size_limit(resp);
                        if decision.lose_response {
                            Status::unavailable(
                                "emulated lost response: the call took effect but the answer was dropped",
                            )
                            .into_http()
                        } else {
                            resp
                        }
                    }
                }
            };
            let headers = response.headers_mut();
            headers.insert(names::REQUEST_ID, request_id);
            headers.insert(names::SERVER_TRACE_ID, trace_id);
            if let Some(hint) = &shared.poll_hint_header {
                if info.returns_operation() {
                    headers.insert(names::OPERATION_POLL_INTERVAL, hint.clone());
                }
            }
            let status = Status::from_header_map(headers);
            let code = status.as_ref().map_or(tonic::Code::Ok, Status::code);
            if let Some((transport, mut metadata, seen, slot)) = journal {
                let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
                let size = journal_message(seen, &mut metadata);
                shared.journal.push(Record {
                    seq: 0,
                    time: arrived,
                    method,
                    peer,
                    transport,
                    request_bytes: size,
                    metadata,
                    code,
                    message: status.map(|s| s.message().to_string()).unwrap_or_default(),
                    operation_id: slot.and_then(|s| s.get().cloned()),
                    duration: start.elapsed(),
                });
            }
            if shared.state_file.is_some() {
                shared.persist();
            }
            // Debug, not info: a line per call was the standalone emulator's
            // largest cost per call (formatting and a write to stderr); the
            // journal (`GET /requests`) keeps the calls for whoever asks.
            tracing::debug!(
                method,
                request_id = ?response.headers().get(names::REQUEST_ID),
                code = ?code,
                latency_ms = start.elapsed().as_secs_f64() * 1000.0,
                "call"
            );
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::transport::needs_authorization;

    /// Methods that need no authorization (the method table's rule, which the
    /// client follows too); only called for methods the emulator serves.
    fn is_public(method: &str) -> bool {
        crate::proto::method(method).is_some_and(|m| !m.needs_authorization)
    }

    /// Methods answering with an `Operation` (they get the poll hint header).
    fn returns_operation(method: &str) -> bool {
        crate::proto::method(method).is_some_and(|m| m.returns_operation())
    }

    /// The client sends a token exactly where the emulator demands one, for
    /// every method of every service in the embedded descriptors.
    #[test]
    fn public_methods_agree_with_the_client() {
        let pool = prost_reflect::DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("embedded descriptor set decodes");
        let mut public = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("{}/{}", service.full_name(), method.name());
                assert_eq!(
                    is_public(&path),
                    !needs_authorization(&format!("/{path}")),
                    "{path}"
                );
                if is_public(&path) && service.name() == "IamTokenService" {
                    public.push(method.name().to_string());
                }
            }
        }
        assert_eq!(public, ["Create"]);
    }

    /// The poll hint goes on every method answering an `Operation`: the
    /// operation starters and `OperationService` itself, nothing else.
    #[test]
    fn operation_answers_are_the_operation_typed_methods() {
        let pool = prost_reflect::DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("embedded descriptor set decodes");
        let mut count = 0;
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("{}/{}", service.full_name(), method.name());
                let expected = method.output().full_name() == "yandex.cloud.operation.Operation";
                assert_eq!(returns_operation(&path), expected, "{path}");
                count += usize::from(expected);
            }
        }
        assert!(count >= 9, "{count}");
        assert!(!returns_operation("no.such.Service/Get"));
    }
}
