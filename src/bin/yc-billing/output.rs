//! What goes to stdout (results) and stderr (errors), and the exit codes.

use std::io::Write;

use serde_json::Value;
use tonic::Code;
use yc_billing::{Error, TransportErrorKind};

use crate::connect::Format;
use crate::sanitize;
use crate::wait::Interrupted;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: any failure without a more specific code.
pub const EXIT_OTHER: u8 = 1;
/// Exit code: bad command line or configuration (clap uses 2 as well).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: no valid credentials, `UNAUTHENTICATED` or `PERMISSION_DENIED`.
pub const EXIT_AUTH: u8 = 3;
/// Exit code: `NOT_FOUND`.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: `INVALID_ARGUMENT`.
pub const EXIT_INVALID_ARGUMENT: u8 = 5;
/// Exit code: interrupted by Ctrl-C (SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Converts a message to its REST JSON shape.
pub fn json<M: prost::Message + prost::Name>(message: &M) -> anyhow::Result<Value> {
    Ok(yc_billing::json::to_value(message)?)
}

/// Prints a result on stdout in the chosen format.
pub fn print(format: Format, value: &Value) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value)?,
        Format::Yaml => yaml(value)?,
        Format::Table => table(value),
        Format::Csv => anyhow::bail!("--format csv is for `usage report`; use json, yaml or table"),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// YAML of a REST value: the same shapes and field order as the JSON.
pub fn yaml(value: &Value) -> anyhow::Result<String> {
    let text = serde_yaml_ng::to_string(value)?;
    Ok(text.trim_end().to_owned())
}

/// Flattens nested objects into dotted keys (`subject.id`); arrays of
/// scalars are joined with commas, other arrays are kept as JSON. Keys and
/// values come out with control characters escaped ([`sanitize::escape`]).
fn flatten(prefix: &str, value: &Value, into: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, into);
            }
        }
        other => into.push((
            sanitize::escape(prefix).into_owned(),
            sanitize::escape(&scalar(other)).into_owned(),
        )),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            items.iter().map(scalar).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

fn upper_snake(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out.replace('.', "_")
}

fn render(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = vec![line(header)];
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

/// A table of a REST value: a list response (`{"customers": [...],
/// "nextPageToken": …}`) becomes one row per item; any other object becomes
/// `FIELD VALUE` rows.
pub fn table(value: &Value) -> String {
    let Value::Object(map) = value else {
        return sanitize::escape(&scalar(value)).into_owned();
    };
    let list = map
        .iter()
        .find(|(k, v)| v.is_array() && *k != "nextPageToken");
    let is_list = list.is_some()
        && map
            .keys()
            .all(|k| k == "nextPageToken" || Some(k) == list.map(|l| l.0));
    if let (true, Some((_, Value::Array(items)))) = (is_list, list) {
        let mut columns: Vec<String> = Vec::new();
        let mut flat_rows = Vec::new();
        for item in items {
            let mut flat = Vec::new();
            flatten("", item, &mut flat);
            for (k, _) in &flat {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
            flat_rows.push(flat);
        }
        let rows: Vec<Vec<String>> = flat_rows
            .iter()
            .map(|flat| {
                columns
                    .iter()
                    .map(|c| {
                        flat.iter()
                            .find(|(k, _)| k == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        let header: Vec<String> = columns.iter().map(|c| upper_snake(c)).collect();
        let mut out = if columns.is_empty() {
            "(none)".to_owned()
        } else {
            render(&header, &rows)
        };
        if let Some(Value::String(token)) = map.get("nextPageToken") {
            out.push_str(&format!(
                "\nnext page: --page-token {}",
                sanitize::escape(token)
            ));
        }
        return out;
    }
    let mut flat = Vec::new();
    flatten("", value, &mut flat);
    let rows: Vec<Vec<String>> = flat.into_iter().map(|(k, v)| vec![k, v]).collect();
    render(&["FIELD".into(), "VALUE".into()], &rows)
}

/// The gRPC code's canonical name (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The exit code of a library error.
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Auth(_) => EXIT_AUTH,
        Error::Config { .. } => EXIT_USAGE,
        _ => match e.code() {
            Some(Code::Unauthenticated | Code::PermissionDenied) => EXIT_AUTH,
            Some(Code::NotFound) => EXIT_NOT_FOUND,
            Some(Code::InvalidArgument) => EXIT_INVALID_ARGUMENT,
            _ => EXIT_OTHER,
        },
    }
}

/// The lines a user sees for a library error: the message first, then the
/// code, the request id and whatever else helps to trace it.
pub fn describe(e: &Error) -> Vec<String> {
    let mut lines = Vec::new();
    match e {
        Error::Rpc(rpc) => {
            lines.push(format!("error: {}", rpc.message()));
            lines.push(format!("  code: {}", code_name(rpc.code())));
            for (field, description) in rpc.field_violations() {
                lines.push(format!("  field {field}: {description}"));
            }
            match (rpc.request_id(), rpc.client_request_id()) {
                (Some(id), _) => lines.push(format!("  request id: {id}")),
                (None, Some(id)) => lines.push(format!("  client request id: {id}")),
                (None, None) => {}
            }
            lines.push(format!("  method: {}", rpc.method()));
        }
        Error::Auth(auth) if auth.is_no_credentials() => no_credentials(auth, &mut lines),
        Error::Auth(auth) => {
            lines.push(format!(
                "error: authentication failed ({}): {}",
                auth.credential_source(),
                auth.reason()
            ));
            if let Some(rpc) = auth.rpc() {
                lines.push(format!("  code: {}", code_name(rpc.code())));
                if let Some(id) = rpc.request_id() {
                    lines.push(format!("  request id: {id}"));
                }
                lines.push(format!("  method: {}", rpc.method()));
            }
        }
        Error::OperationFailed(op) => {
            lines.push(format!("error: {}", op.message()));
            lines.push(format!("  code: {}", code_name(op.code())));
            for (field, description) in op.field_violations() {
                lines.push(format!("  field {field}: {description}"));
            }
            lines.push(format!(
                "  operation: {} ({})",
                op.operation_id(),
                op.description()
            ));
        }
        Error::Transport(t) => {
            match t.kind() {
                TransportErrorKind::TlsToPlaintextServer => {
                    lines.push(format!("error: {}", t.summary()));
                    lines.push(format!(
                        "  hint: use --plaintext, or the http:// endpoint the emulator prints \
                         (http://{})",
                        t.endpoint()
                    ));
                    lines.push(format!("  cause: {}", t.cause()));
                }
                TransportErrorKind::PlaintextToTlsServer => {
                    lines.push(format!("error: {}", t.summary()));
                    lines.push(
                        "  hint: drop --plaintext (and give --ca-cert FILE if the certificate \
                         is self-signed)"
                            .to_owned(),
                    );
                    lines.push(format!("  cause: {}", t.cause()));
                }
                _ => lines.push(format!("error: {}: {}", t.summary(), t.cause())),
            }
            lines.push(format!("  code: {}", code_name(Code::Unavailable)));
            if let Some(id) = t.client_request_id() {
                lines.push(format!("  client request id: {id}"));
            }
            lines.push(format!("  method: {}", t.method()));
        }
        Error::OperationTimeout { operation, .. } => {
            lines.push(format!("error: {e}"));
            lines.push(format!(
                "  resume with: yc-billing operations wait {}",
                operation.id
            ));
        }
        other => lines.push(format!("error: {other}")),
    }
    lines
}

/// Writes `text` on stderr line by line, each cut and escaped by
/// [`sanitize::line`]: no control character from a server reaches the terminal.
fn write_lines(stderr: &mut impl Write, text: &str) {
    for line in text.lines() {
        let _ = writeln!(stderr, "{}", sanitize::line(line));
    }
}

/// "No credentials found": every source tried, in order, with the option
/// and variable that set it; the metadata service's own error last.
fn no_credentials(auth: &yc_billing::AuthError, lines: &mut Vec<String>) {
    use yc_billing::CredentialSource;
    lines.push("error: no credentials found".to_owned());
    if auth.tried().is_empty() {
        lines.push("  the client was built without credentials".to_owned());
        return;
    }
    lines.push("  tried, in order:".to_owned());
    let mut metadata_detail = None;
    for (i, attempt) in auth.tried().iter().enumerate() {
        let n = i + 1;
        let line = match attempt.source() {
            CredentialSource::IamToken => {
                format!("--iam-token or {}: {}", attempt.setting(), attempt.reason())
            }
            CredentialSource::OAuth => {
                format!(
                    "--oauth-token or {}: {}",
                    attempt.setting(),
                    attempt.reason()
                )
            }
            CredentialSource::ServiceAccountKey => {
                format!(
                    "--sa-key-file or {}: {}",
                    attempt.setting(),
                    attempt.reason()
                )
            }
            CredentialSource::YcProfile => {
                format!(
                    "--profile or YC_PROFILE (yc CLI config {}): {}",
                    attempt.setting(),
                    attempt.reason()
                )
            }
            CredentialSource::MetadataService => {
                metadata_detail = Some(attempt.reason().to_owned());
                format!(
                    "--metadata (VM metadata service at {}; YC_METADATA_ADDR sets the address): \
                     not reachable",
                    attempt.setting()
                )
            }
            _ => attempt.to_string(),
        };
        lines.push(format!("    {n}. {line}"));
    }
    lines.push(
        "  set one of them, for example: export YC_IAM_TOKEN=\"$(yc iam create-token)\"".to_owned(),
    );
    if let Some(detail) = metadata_detail {
        lines.push(format!("  metadata service: {detail}"));
    }
}

/// Prints an error on stderr and returns the process's exit code.
pub fn report(err: &anyhow::Error) -> u8 {
    let mut stderr = std::io::stderr().lock();
    if let Some(i) = err.downcast_ref::<Interrupted>() {
        write_lines(&mut stderr, &i.to_string());
        return EXIT_INTERRUPTED;
    }
    if let Some(e) = err.chain().find_map(|c| c.downcast_ref::<Error>()) {
        let mut lines = describe(e);
        // Context added above the library error goes in front of its message.
        let context: Vec<String> = err
            .chain()
            .take_while(|c| c.downcast_ref::<Error>().is_none())
            .map(|c| c.to_string())
            .collect();
        if !context.is_empty() {
            lines[0] = format!(
                "error: {}: {}",
                context.join(": "),
                lines[0].trim_start_matches("error: ")
            );
        }
        for line in lines {
            // One line of `describe` may hold a server's newlines: keep them escaped.
            let _ = writeln!(stderr, "{}", sanitize::line(&line));
        }
        return exit_code(e);
    }
    write_lines(&mut stderr, &format!("error: {err:#}"));
    EXIT_OTHER
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_table() {
        let v = json!({"accessBindings": [
            {"roleId": "billing.accounts.owner", "subject": {"id": "u1", "type": "userAccount"}},
            {"roleId": "billing.accounts.viewer", "subject": {"id": "sa1", "type": "serviceAccount"}}
        ], "nextPageToken": "abc"});
        let t = table(&v);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ROLE_ID                  SUBJECT_ID  SUBJECT_TYPE"
        );
        assert_eq!(lines[1], "billing.accounts.owner   u1          userAccount");
        assert_eq!(lines[3], "next page: --page-token abc");
    }

    #[test]
    fn object_table() {
        let t = table(&json!({"id": "c1", "billingAccountId": "ba1"}));
        assert_eq!(
            t,
            "FIELD             VALUE\nid                c1\nbillingAccountId  ba1"
        );
        assert_eq!(table(&json!({"customers": []})), "(none)");
    }

    #[test]
    fn yaml_keeps_field_order_and_string_types() {
        let v = json!({"id": "c1", "balance": "10.50", "done": true, "person": {"tin": "007"}});
        assert_eq!(
            yaml(&v).unwrap(),
            "id: c1\nbalance: '10.50'\ndone: true\nperson:\n  tin: '007'"
        );
    }

    #[test]
    fn exit_codes() {
        let rpc = |code| {
            Error::from(yc_billing::RpcError::from_status(
                "/m",
                &tonic::Status::new(code, "x"),
            ))
        };
        assert_eq!(exit_code(&rpc(Code::NotFound)), EXIT_NOT_FOUND);
        assert_eq!(
            exit_code(&rpc(Code::InvalidArgument)),
            EXIT_INVALID_ARGUMENT
        );
        assert_eq!(exit_code(&rpc(Code::Unauthenticated)), EXIT_AUTH);
        assert_eq!(exit_code(&rpc(Code::PermissionDenied)), EXIT_AUTH);
        assert_eq!(exit_code(&rpc(Code::Internal)), EXIT_OTHER);
        assert_eq!(exit_code(&Error::config("endpoint", "bad")), EXIT_USAGE);
        assert_eq!(
            exit_code(&Error::Auth(yc_billing::AuthError::no_credentials(
                Vec::new()
            ))),
            EXIT_AUTH
        );
    }
}
