//! The admin HTTP API: JSON over HTTP/1.1 on its own (loopback) port. Each
//! handler parses and checks its whole input first, then calls the one
//! implementation in [`super`]; bad input is HTTP 400 with
//! `{"error": ..., "field": ...}` and changes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::AdminError;
use crate::emulator::Shared;
use crate::emulator::faults::{Fault, parse_code};
use crate::emulator::seed::Seed;

/// The largest admin request body (a `PUT /state` seed): 16 MiB.
pub const MAX_ADMIN_BODY: usize = 16 * 1024 * 1024;

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn ok(value: impl serde::Serialize) -> Response {
    match serde_json::to_value(value) {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
    }
}

fn error(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    json(
        status,
        serde_json::json!({"error": message, "field": field}),
    )
}

fn bad(field: &str, message: impl AsRef<str>) -> Response {
    error(StatusCode::BAD_REQUEST, Some(field), message.as_ref())
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            AdminError::Invalid { field, reason } => bad(&field, reason),
            AdminError::OperationNotFound(_) => error(StatusCode::NOT_FOUND, None, &message),
            AdminError::OperationDone(_) | AdminError::NoManualClock => {
                error(StatusCode::CONFLICT, None, &message)
            }
        }
    }
}

/// A refusal, ready to send (boxed: a response is large).
type Rejection = Box<Response>;

fn reject(field: &str, message: impl AsRef<str>) -> Rejection {
    Box::new(bad(field, message))
}

/// Parses a JSON body into `T`, naming the path of a bad value.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(reject("", "the request needs a JSON body"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        reject(&path, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| reject("", e.to_string()))?;
    Ok(value)
}

/// `POST /faults` takes one fault or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<serde_json::Value>),
    One(serde_json::Value),
}

fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, Rejection> {
    let values = match parse::<OneOrMany>(body)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(v) => vec![v],
    };
    values
        .into_iter()
        .map(kind_tagged)
        .enumerate()
        .map(|(i, v)| {
            serde_path_to_error::deserialize::<_, Fault>(v).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    format!("[{i}]")
                } else {
                    format!("[{i}].{path}")
                };
                reject(&field, e.into_inner().to_string())
            })
        })
        .collect()
}

/// Also accepts a fault written with its kind as a member
/// (`{"kind": "latency", "ms": 5}`, the shape of the first version of this
/// API) by moving the other members under the kind.
fn kind_tagged(value: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(mut map) = value else {
        return value;
    };
    match map.remove("kind") {
        Some(serde_json::Value::String(kind)) => {
            let mut outer = serde_json::Map::new();
            outer.insert(kind, serde_json::Value::Object(map));
            serde_json::Value::Object(outer)
        }
        Some(other) => {
            map.insert("kind".into(), other);
            serde_json::Value::Object(map)
        }
        None => serde_json::Value::Object(map),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsQuery {
    method: Option<String>,
    #[serde(default)]
    since: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailBody {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

fn query<T: DeserializeOwned>(req: &Request) -> Result<T, Rejection> {
    let q = req.uri().query().unwrap_or("");
    let pairs: Vec<(String, String)> = form_pairs(q);
    let map: HashMap<String, String> = pairs.into_iter().collect();
    let value = serde_json::to_value(&map).unwrap_or_default();
    // Numbers arrive as strings: convert the one numeric parameter.
    let value = match value {
        serde_json::Value::Object(mut m) => {
            if let Some(serde_json::Value::String(s)) = m.get("since").cloned() {
                match s.parse::<u64>() {
                    Ok(n) => {
                        m.insert("since".into(), n.into());
                    }
                    Err(_) => {
                        return Err(reject(
                            "since",
                            "must be a sequence number (a non-negative integer)",
                        ));
                    }
                }
            }
            serde_json::Value::Object(m)
        }
        other => other,
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let msg = e.inner().to_string();
        let field = msg
            .split('`')
            .nth(1)
            .map_or_else(|| e.path().to_string(), str::to_string);
        reject(&field, msg)
    })
}

/// `a=1&b=x%2Fy` as pairs, percent- and plus-decoded.
fn form_pairs(q: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

async fn body(req: Request) -> Result<axum::body::Bytes, Rejection> {
    match http_body_util::Limited::new(req.into_body(), MAX_ADMIN_BODY)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(_) => Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            &format!("the body is over {MAX_ADMIN_BODY} bytes or could not be read"),
        ))),
    }
}

/// The endpoints, for 404 and 405 answers.
const ENDPOINTS: &str = "POST /reset, GET|PUT /state, GET|POST|DELETE /faults, GET|DELETE /requests, \
     GET /operations, POST /operations/{id}:complete|:fail, GET /clock, POST /clock:advance";

async fn admin(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let not_allowed = || {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            &format!("{method} is not allowed on {path}; the endpoints: {ENDPOINTS}"),
        )
    };
    match path.as_str() {
        "/reset" => match method {
            Method::POST => {
                shared.reset();
                ok(serde_json::json!({"reset": true}))
            }
            _ => not_allowed(),
        },
        "/state" => match method {
            Method::GET => ok(shared.snapshot()),
            Method::PUT => {
                let bytes = match body(req).await {
                    Ok(b) => b,
                    Err(r) => return *r,
                };
                let text = String::from_utf8_lossy(&bytes);
                match Seed::from_json(&text) {
                    Ok(seed) => {
                        shared.restore(&seed);
                        ok(serde_json::json!({"replaced": true}))
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        let msg = msg.strip_prefix("seed: ").unwrap_or(&msg).to_string();
                        let field = msg.split(": ").next().unwrap_or("").to_string();
                        bad(&field, msg)
                    }
                }
            }
            _ => not_allowed(),
        },
        "/faults" => match method {
            Method::GET => ok(serde_json::json!({"faults": shared.list_faults()})),
            Method::POST => {
                let bytes = match body(req).await {
                    Ok(b) => b,
                    Err(r) => return *r,
                };
                let faults = match parse_faults(&bytes) {
                    Ok(f) => f,
                    Err(r) => return *r,
                };
                match shared.add_faults(faults) {
                    Ok(ids) => ok(serde_json::json!({"ids": ids})),
                    Err(e) => e.into_response(),
                }
            }
            Method::DELETE => {
                shared.clear_faults();
                ok(serde_json::json!({"cleared": true}))
            }
            _ => not_allowed(),
        },
        "/requests" => match method {
            Method::GET => match query::<RequestsQuery>(&req) {
                Ok(q) => ok(shared.requests(q.method.as_deref(), q.since)),
                Err(r) => *r,
            },
            Method::DELETE => {
                shared.journal.clear();
                ok(serde_json::json!({"cleared": true}))
            }
            _ => not_allowed(),
        },
        "/operations" => match method {
            Method::GET => {
                let ops: Result<Vec<_>, _> = shared
                    .operations()
                    .iter()
                    .map(crate::json::to_value)
                    .collect();
                match ops {
                    Ok(ops) => ok(serde_json::json!({"operations": ops})),
                    Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
                }
            }
            _ => not_allowed(),
        },
        "/clock" => match method {
            Method::GET => ok(shared.clock_reading()),
            _ => not_allowed(),
        },
        "/clock:advance" => match method {
            Method::POST => {
                let bytes = match body(req).await {
                    Ok(b) => b,
                    Err(r) => return *r,
                };
                let advance: Advance = match parse(&bytes) {
                    Ok(a) => a,
                    Err(r) => return *r,
                };
                let by = match Duration::try_from_secs_f64(advance.seconds) {
                    Ok(d) => d,
                    Err(_) => {
                        return bad(
                            "seconds",
                            format!(
                                "must be a finite number of seconds, zero or more; got {}",
                                advance.seconds
                            ),
                        );
                    }
                };
                match shared.advance_clock(by) {
                    Ok(_) => ok(shared.clock_reading()),
                    Err(e) => e.into_response(),
                }
            }
            _ => not_allowed(),
        },
        p if p.starts_with("/operations/") => {
            let rest = &p["/operations/".len()..];
            let Some((id, action)) = rest.rsplit_once(':') else {
                return unknown(&path);
            };
            if method != Method::POST {
                return not_allowed();
            }
            let id = id.to_string();
            match action {
                "complete" => match shared.finish_operation(&id, None) {
                    Ok(op) => operation_response(&op),
                    Err(e) => e.into_response(),
                },
                "fail" => {
                    let bytes = match body(req).await {
                        Ok(b) => b,
                        Err(r) => return *r,
                    };
                    let fail: FailBody = if bytes.iter().all(u8::is_ascii_whitespace) {
                        FailBody {
                            code: None,
                            message: None,
                        }
                    } else {
                        match parse(&bytes) {
                            Ok(f) => f,
                            Err(r) => return *r,
                        }
                    };
                    let code = match &fail.code {
                        None => tonic::Code::Internal,
                        Some(v) => {
                            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                            match parse_code(&text) {
                                Some(tonic::Code::Ok) | None => {
                                    return bad(
                                        "code",
                                        format!(
                                            "{} is not a gRPC error code (a name like INTERNAL or a number 1-16)",
                                            crate::emulator::text::echo(&text)
                                        ),
                                    );
                                }
                                Some(c) => c,
                            }
                        }
                    };
                    let message = fail
                        .message
                        .unwrap_or_else(|| "operation failed by the admin API".into());
                    match shared.finish_operation(&id, Some((code, message))) {
                        Ok(op) => operation_response(&op),
                        Err(e) => e.into_response(),
                    }
                }
                _ => unknown(&path),
            }
        }
        _ => unknown(&path),
    }
}

fn operation_response(op: &crate::proto::yandex::cloud::operation::Operation) -> Response {
    match crate::json::to_value(op) {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
    }
}

fn unknown(path: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        None,
        &format!(
            "no admin endpoint {}; the endpoints: {ENDPOINTS}",
            crate::emulator::text::echo(path)
        ),
    )
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let app: Router = Router::new().fallback(admin).with_state(shared);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "admin server stopped with an error");
    }
}
