//! `call`: any RPC of the method table, request and response as proto3 JSON.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use yc_billing::Client;
use yc_billing::proto::yandex::cloud::operation::Operation as ProtoOperation;
use yc_billing::proto::{METHODS, MethodInfo};
use yc_billing::services::DynamicRequest;

use crate::commands::{OperationsCmd, operations};
use crate::connect::GlobalArgs;
use crate::output::print;

/// `call METHOD [--request JSON | --request-file FILE] [--wait]`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The RPC: `Service/Method` (`CustomerService/List`), with its package
    /// (`yandex.cloud.billing.v1.CustomerService/List`) or as a gRPC path.
    #[arg(required_unless_present = "list")]
    pub method: Option<String>,
    /// The request as proto3 JSON, the REST API's shape (default `{}`).
    #[arg(long, value_name = "JSON", conflicts_with = "request_file")]
    pub request: Option<String>,
    /// Read the request JSON from a file (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub request_file: Option<PathBuf>,
    /// For an RPC that starts an operation: wait for it and print it once done.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long (with --wait).
    #[arg(long, default_value = "10m", value_parser = crate::connect::parse_duration)]
    pub wait_timeout: Duration,
    /// Print every RPC that can be called (`Service/Method  request -> response`).
    #[arg(long, conflicts_with_all = ["method", "request", "request_file", "wait"])]
    pub list: bool,
}

/// The row named by `name`: a full path or route, or `Service/Method` when
/// exactly one package has that service.
pub fn find(name: &str) -> yc_billing::Result<&'static MethodInfo> {
    if let Some(m) = yc_billing::proto::method(name) {
        return Ok(m);
    }
    let route = name.trim_start_matches('/');
    let matches: Vec<&'static MethodInfo> = METHODS
        .iter()
        .filter(|m| {
            m.route()
                .strip_suffix(route)
                .is_some_and(|package| package.ends_with('.'))
        })
        .collect();
    match matches.as_slice() {
        [m] => Ok(m),
        [] => Err(yc_billing::Error::config(
            "method",
            format!(
                "{}: no such RPC; `yc-billing call --list` shows them",
                crate::sanitize::escape(name)
            ),
        )),
        many => Err(yc_billing::Error::config(
            "method",
            format!(
                "{}: ambiguous, name the package: {}",
                crate::sanitize::escape(name),
                many.iter()
                    .map(|m| m.route())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The table as `call --list` prints it.
pub fn list() -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for m in METHODS {
        let short = m.service.rsplit('.').next().unwrap_or(m.service);
        writeln!(
            out,
            "{short}/{}  {} -> {}{}",
            m.method,
            m.request,
            m.response,
            match m.operation {
                Some(op) => format!(" (operation: {})", op.response),
                None => String::new(),
            }
        )?;
    }
    Ok(())
}

fn request_text(args: &CallArgs) -> anyhow::Result<String> {
    Ok(match (&args.request, &args.request_file) {
        (Some(json), _) => json.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            yc_billing::Error::config("request_file", format!("{}: {e}", path.display()))
        })?,
        (None, None) => "{}".to_owned(),
    })
}

/// Runs `call`. The method and the request are checked before connecting.
pub async fn run(
    args: CallArgs,
    global: &GlobalArgs,
    matches: &clap::ArgMatches,
) -> anyhow::Result<()> {
    if args.list {
        return list();
    }
    let method = find(args.method.as_deref().unwrap_or_default())?;
    if args.wait && !method.returns_operation() {
        return Err(yc_billing::Error::config(
            "wait",
            format!("{} does not answer an operation", method.route()),
        )
        .into());
    }
    let request = DynamicRequest::from_json(method, &request_text(&args)?)?;
    let client = crate::connect::client(global, matches).await?;
    call(&client, global, method, request, &args).await
}

async fn call(
    client: &Client,
    global: &GlobalArgs,
    method: &'static MethodInfo,
    request: DynamicRequest,
    args: &CallArgs,
) -> anyhow::Result<()> {
    let response = client.call_dynamic(request).await?;
    if args.wait {
        let op: ProtoOperation =
            response
                .transcode_to()
                .map_err(|e| yc_billing::Error::Decode {
                    type_name: method.response.to_owned(),
                    source: e,
                })?;
        let wait = OperationsCmd::Wait {
            id: op.id,
            wait_timeout: args.wait_timeout,
        };
        return operations(client, global, wait).await;
    }
    print(
        global.format,
        &yc_billing::json::dynamic_to_value(&response)?,
    )
}
