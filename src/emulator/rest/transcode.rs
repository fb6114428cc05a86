//! HTTP request → gRPC request message, as the `google.api.http` rules
//! define it (path variables, `body: "*"` or one field, query parameters for
//! the rest), and gRPC answer → REST JSON or REST error.

use http::StatusCode;
use prost::bytes::Bytes;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    Value,
};
use serde_json::json;
use tonic::Code;

use super::routes::Route;

/// A request the gateway refuses before it reaches the service: the REST
/// error body names the field and the rule.
#[derive(Debug, thiserror::Error)]
#[error("{description}")]
pub(crate) struct BadRequest {
    /// The field (as a JSON or query path), empty when the whole body is at fault.
    pub field: String,
    pub description: String,
}

fn bad(field: impl Into<String>, description: impl Into<String>) -> BadRequest {
    BadRequest {
        field: field.into(),
        description: description.into(),
    }
}

/// The request message of `route` from the bound path variables, the query
/// string and the JSON body.
pub(crate) fn request(
    route: &Route,
    bound: Vec<(Vec<String>, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, BadRequest> {
    let input = route.descriptor.input();
    let mut message = match route.body.as_str() {
        "" => {
            // Clients often POST `{}` to a rule without a body: that is no body.
            let empty = body.iter().all(u8::is_ascii_whitespace)
                || serde_json::from_slice::<serde_json::Value>(body)
                    .is_ok_and(|v| v.as_object().is_some_and(serde_json::Map::is_empty));
            if !empty {
                return Err(bad(
                    "",
                    format!(
                        "{} {} takes no request body (its fields are in the path and the query)",
                        route.method,
                        route.rpc.route()
                    ),
                ));
            }
            DynamicMessage::new(input.clone())
        }
        "*" => parse_body(&input, body, None)?,
        field => parse_body(&input, body, Some(field))?,
    };
    for (path, value) in bound {
        set_scalar(&mut message, &path, &value, false)?;
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if route.body == "*" {
            return Err(bad(
                "",
                "query parameters are not accepted: the whole request is the body",
            ));
        }
        let bound: Vec<&[String]> = route.template.bound_fields().collect();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (decode_query(key), decode_query(value));
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            let proto_path = proto_names(&input, &path);
            if bound.iter().any(|b| proto_path.starts_with(b)) {
                return Err(bad(
                    key.as_str(),
                    "is bound by the path and cannot be set by a query parameter",
                ));
            }
            if !route.body.is_empty() && proto_path.first() == Some(&route.body) {
                return Err(bad(
                    key.as_str(),
                    "is the request body and cannot be set by a query parameter",
                ));
            }
            set_scalar(&mut message, &path, &value, true)?;
        }
    }
    Ok(message)
}

/// Query keys and values: `+` is a space, then percent-decoding.
fn decode_query(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The JSON body as the whole message, or as its field `field`.
fn parse_body(
    input: &MessageDescriptor,
    body: &[u8],
    field: Option<&str>,
) -> Result<DynamicMessage, BadRequest> {
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            bad(
                "",
                format!("the request body is not valid JSON: {}", cut(&e)),
            )
        })?
    };
    let value = match field {
        None => value,
        Some(name) => {
            let f = input
                .get_field_by_name(name)
                .ok_or_else(|| bad(name, "the body field of the rule is not in the request"))?;
            json!({ f.json_name(): value })
        }
    };
    if !value.is_object() {
        return Err(bad("", "the request body must be a JSON object"));
    }
    DynamicMessage::deserialize_with_options(
        input.clone(),
        value,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| {
        bad(
            "",
            format!(
                "the request body is not a valid {}: {}",
                input.full_name(),
                cut(&e)
            ),
        )
    })
}

/// The proto names of a field path given by proto or JSON names (as far
/// as the fields resolve).
fn proto_names(input: &MessageDescriptor, path: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut message = Some(input.clone());
    for name in path {
        let Some(field) = message.as_ref().and_then(|m| field_by_name(m, name)) else {
            out.push(name.clone());
            message = None;
            continue;
        };
        out.push(field.name().to_owned());
        message = match field.kind() {
            Kind::Message(m) => Some(m),
            _ => None,
        };
    }
    out
}

/// A parser's message, which may quote the input, bounded.
fn cut(e: &dyn std::fmt::Display) -> String {
    crate::emulator::text::truncate(&e.to_string(), MAX_PARSER_MESSAGE).into_owned()
}

/// The longest parser message (characters) an error body repeats.
const MAX_PARSER_MESSAGE: usize = 1024;

/// A field by its proto name or its lowerCamelCase JSON name.
fn field_by_name(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// Sets (or, for a repeated field from the query, appends) the value of the
/// field at `path`, parsed from its text form for the field's type.
fn set_scalar(
    message: &mut DynamicMessage,
    path: &[String],
    text: &str,
    from_query: bool,
) -> Result<(), BadRequest> {
    let shown = path.join(".");
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| bad("", "empty field path"))?;
    let mut target = message;
    for name in parents {
        let field = field_by_name(&target.descriptor(), name)
            .ok_or_else(|| bad(shown.as_str(), unknown_field(&target.descriptor(), name)))?;
        if field.is_list() || field.is_map() || !matches!(field.kind(), Kind::Message(_)) {
            return Err(bad(
                shown.as_str(),
                format!("{name} is not a message field, so it has no sub-fields"),
            ));
        }
        target = target
            .get_field_mut(&field)
            .as_message_mut()
            .ok_or_else(|| bad(shown.as_str(), "not a message"))?;
    }
    let field = field_by_name(&target.descriptor(), last)
        .ok_or_else(|| bad(shown.as_str(), unknown_field(&target.descriptor(), last)))?;
    if field.is_map() {
        return Err(bad(
            shown.as_str(),
            "a map field cannot be set from the path or the query",
        ));
    }
    let value = parse_value(&field, text).map_err(|rule| bad(shown.as_str(), rule))?;
    if field.is_list() {
        if !from_query {
            return Err(bad(
                shown.as_str(),
                "a repeated field cannot be bound by the path",
            ));
        }
        match target.get_field_mut(&field) {
            Value::List(items) => items.push(value),
            _ => return Err(bad(shown.as_str(), "not a list")),
        }
    } else {
        if from_query && target.has_field(&field) {
            return Err(bad(
                shown.as_str(),
                "is given more than once (only repeated fields may repeat)",
            ));
        }
        target.set_field(&field, value);
    }
    Ok(())
}

fn unknown_field(message: &MessageDescriptor, name: &str) -> String {
    format!(
        "unknown field {}: {} has no such field",
        crate::quote::quoted(name),
        message.full_name()
    )
}

/// A value of `field`'s type from its text form: numbers in decimal, bools
/// `true`/`false`, enums by name or number, bytes in base64, and messages
/// (`Timestamp`, `Duration`, `FieldMask`, wrappers) in their JSON string form.
fn parse_value(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    fn num<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
        text.parse()
            .map_err(|_| format!("{} is not a valid {what}", crate::quote::quoted(text)))
    }
    Ok(match field.kind() {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => Value::Bool(match text {
            "true" => true,
            "false" => false,
            _ => {
                return Err(format!(
                    "{} is not a bool (true or false)",
                    crate::quote::quoted(text)
                ));
            }
        }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(num(text, "32-bit integer")?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(num(text, "64-bit integer")?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(num(text, "unsigned 32-bit integer")?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(num(text, "unsigned 64-bit integer")?),
        Kind::Float => Value::F32(num(text, "number")?),
        Kind::Double => Value::F64(num(text, "number")?),
        Kind::Bytes => {
            use base64::Engine as _;
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
            ];
            let decoded = engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .ok_or_else(|| format!("{} is not base64", crate::quote::quoted(text)))?;
            Value::Bytes(decoded.into())
        }
        Kind::Enum(e) => {
            let number = e
                .get_value_by_name(text)
                .map(|v| v.number())
                .or_else(|| {
                    text.parse::<i32>()
                        .ok()
                        .filter(|n| e.get_value(*n).is_some())
                })
                .ok_or_else(|| {
                    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
                    format!(
                        "{} is not a value of {} (one of {})",
                        crate::quote::quoted(text),
                        e.full_name(),
                        names.join(", ")
                    )
                })?;
            Value::EnumNumber(number)
        }
        Kind::Message(m) => Value::Message(
            DynamicMessage::deserialize(m.clone(), serde_json::Value::String(text.to_owned()))
                .map_err(|e| {
                    format!(
                        "{} is not a valid {}: {e}",
                        crate::quote::quoted(text),
                        m.full_name()
                    )
                })?,
        ),
    })
}

/// The standard mapping of gRPC codes to HTTP statuses (`google.rpc.Code`).
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The REST error body of a gRPC status: `code`, `message` and the
/// `google.rpc` `details`, each an `Any` with its `@type`.
pub(crate) fn error_body(status: &tonic::Status) -> serde_json::Value {
    let details = decode_details(status.details()).unwrap_or_default();
    json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": details,
    })
}

/// The `details` of an encoded `google.rpc.Status` (`grpc-status-details-bin`).
fn decode_details(bytes: &[u8]) -> Option<Vec<serde_json::Value>> {
    if bytes.is_empty() {
        return None;
    }
    let descriptor = crate::json::descriptor_pool().get_message_by_name("google.rpc.Status")?;
    let status = DynamicMessage::decode(descriptor, bytes).ok()?;
    let value = crate::json::dynamic_to_value(&status).ok()?;
    match value.get("details") {
        Some(serde_json::Value::Array(items)) => Some(items.clone()),
        _ => Some(Vec::new()),
    }
}

/// The REST error of a request the gateway refused itself: INVALID_ARGUMENT
/// with a `google.rpc.BadRequest` naming the field.
pub(crate) fn bad_request_status(e: &BadRequest) -> tonic::Status {
    let message = if e.field.is_empty() {
        e.description.clone()
    } else {
        format!("{}: {}", e.field, e.description)
    };
    let details = tonic_types::ErrorDetails::with_bad_request_violation(
        e.field.clone(),
        e.description.clone(),
    );
    <tonic::Status as tonic_types::StatusExt>::with_error_details(
        Code::InvalidArgument,
        message,
        details,
    )
}

/// The JSON of the answer message (or its `response_body` field).
pub(crate) fn response_json(
    route: &Route,
    message: &[u8],
) -> Result<serde_json::Value, tonic::Status> {
    let output = route.descriptor.output();
    let decoded = DynamicMessage::decode(output.clone(), message).map_err(|e| {
        tonic::Status::internal(format!(
            "the answer is not a valid {}: {e}",
            output.full_name()
        ))
    })?;
    let value = crate::json::dynamic_to_value(&decoded)
        .map_err(|e| tonic::Status::internal(e.to_string()))?;
    if route.response_body.is_empty() {
        return Ok(value);
    }
    let json_name = output
        .get_field_by_name(&route.response_body)
        .map(|f| f.json_name().to_owned())
        .unwrap_or_default();
    Ok(value
        .get(&json_name)
        .cloned()
        .unwrap_or(serde_json::Value::Null))
}

/// The message of a gRPC body: one length-prefixed, uncompressed frame.
pub(crate) fn unframe(body: &Bytes) -> Result<&[u8], tonic::Status> {
    let invalid = |what: &str| tonic::Status::internal(format!("invalid gRPC answer: {what}"));
    if body.len() < 5 {
        return Err(invalid("shorter than a frame header"));
    }
    if body[0] != 0 {
        return Err(invalid("compressed frame"));
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    body.get(5..5 + len)
        .ok_or_else(|| invalid("truncated frame"))
}

/// A message as one length-prefixed, uncompressed gRPC frame.
pub(crate) fn frame(message: &DynamicMessage) -> Bytes {
    use prost::Message as _;
    let len = message.encoded_len();
    let mut out = Vec::with_capacity(5 + len);
    out.push(0);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    message
        .encode(&mut out)
        .expect("a Vec grows to hold any message");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::rest::routes::Template;

    /// A GET route with `template` onto the RPC `service`/`method`.
    fn route(service: &str, method: &str, template: &str) -> Route {
        let rpc = crate::proto::METHODS
            .iter()
            .find(|m| m.service == service && m.method == method)
            .unwrap();
        let descriptor = crate::json::descriptor_pool()
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .unwrap();
        Route {
            method: http::Method::GET,
            template: Template::parse(template).unwrap(),
            body: String::new(),
            response_body: String::new(),
            rpc,
            descriptor,
        }
    }

    fn usage_route() -> Route {
        route(
            "yandex.cloud.billing.usage_records.v1.ConsumptionCoreService",
            "GetBillingAccountUsageReport",
            "/v1/usage/{billing_account_id}",
        )
    }

    fn json_of(r: &Route, query: &str) -> Result<serde_json::Value, BadRequest> {
        let bound = r.template.matches("/v1/usage/ba%2F1").unwrap();
        let m = request(r, bound, Some(query), b"")?;
        Ok(crate::json::dynamic_to_value(&m).unwrap())
    }

    #[test]
    fn query_parameters_fill_repeated_typed_and_well_known_fields() {
        let v = json_of(
            &usage_route(),
            "cloudIds=c1&cloud_ids=c2&folderIds=f+1&startDate=2024-01-02T03:04:05Z\
             &aggregationPeriod=WEEK&labelsOrFilterLogic=true",
        )
        .unwrap();
        assert_eq!(v["billingAccountId"], "ba/1");
        assert_eq!(v["cloudIds"], json!(["c1", "c2"]));
        assert_eq!(v["folderIds"], json!(["f 1"]));
        assert_eq!(v["startDate"], "2024-01-02T03:04:05Z");
        assert_eq!(v["aggregationPeriod"], "WEEK");
        assert_eq!(v["labelsOrFilterLogic"], true);
    }

    #[test]
    fn nested_fields_by_either_name() {
        let r = route(
            "yandex.cloud.billing.v1.BillingAccountService",
            "BindBillableObject",
            "/v1/usage/{billing_account_id}",
        );
        let v = json_of(&r, "billableObject.id=b1&billable_object.type=cloud").unwrap();
        assert_eq!(v["billableObject"], json!({"id": "b1", "type": "cloud"}));
        let e = json_of(&r, "billableObject.nope=1").unwrap_err();
        assert_eq!(e.field, "billableObject.nope");
        let e = json_of(&r, "billingAccountId.x=1").unwrap_err();
        assert!(e.description.contains("bound by the path"), "{e}");
    }

    /// `body: "billable_object"`: the body is that field; the rest comes
    /// from the path and the query, and the body field is not in the query.
    #[test]
    fn a_field_body_is_that_field() {
        let mut r = route(
            "yandex.cloud.billing.v1.BillingAccountService",
            "BindBillableObject",
            "/v1/usage/{billing_account_id}",
        );
        r.body = "billable_object".into();
        let bound = r.template.matches("/v1/usage/ba1").unwrap();
        let m = request(&r, bound, None, br#"{"id": "b1", "type": "cloud"}"#).unwrap();
        let v = crate::json::dynamic_to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({"billingAccountId": "ba1", "billableObject": {"id": "b1", "type": "cloud"}})
        );
        let bound = r.template.matches("/v1/usage/ba1").unwrap();
        let e = request(&r, bound, Some("billableObject.id=x"), b"{}").unwrap_err();
        assert!(e.description.contains("is the request body"), "{e}");
        let bound = r.template.matches("/v1/usage/ba1").unwrap();
        let e = request(&r, bound, None, br#"{"nope": 1}"#).unwrap_err();
        assert!(e.description.contains("nope"), "{e}");
    }

    #[test]
    fn bad_query_values_name_the_field_and_the_rule() {
        let r = usage_route();
        for (query, field, rule) in [
            (
                "labelsOrFilterLogic=yes",
                "labelsOrFilterLogic",
                "is not a bool",
            ),
            (
                "aggregationPeriod=HOURLY",
                "aggregationPeriod",
                "is not a value of",
            ),
            (
                "startDate=yesterday",
                "startDate",
                "is not a valid google.protobuf.Timestamp",
            ),
            ("labels=x", "labels", "a map field"),
            ("nope=1", "nope", "unknown field"),
            (
                "labelsOrFilterLogic=true&labelsOrFilterLogic=false",
                "labelsOrFilterLogic",
                "more than once",
            ),
            (
                "billing_account_id=x",
                "billing_account_id",
                "bound by the path",
            ),
        ] {
            let e = json_of(&r, query).unwrap_err();
            assert_eq!(e.field, field, "{query}");
            assert!(e.description.contains(rule), "{query}: {e}");
        }
    }

    #[test]
    fn http_statuses_follow_the_google_mapping() {
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
