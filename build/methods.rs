//! The method table: one row per RPC of every service in `proto/`, and the
//! code generated from it (the table itself, the path constants, the RPC
//! markers). Every rule about methods is stated here, once.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor, MethodDescriptor};

type BoxError = Box<dyn std::error::Error>;

/// The message every operation-returning RPC answers with.
const OPERATION: &str = "yandex.cloud.operation.Operation";

/// One RPC, as the table and the generated code see it.
pub struct Row {
    /// `yandex.cloud.billing.v1` without the `yandex.cloud.` prefix, split.
    modules: Vec<String>,
    /// `customer_service`.
    service_module: String,
    path: String,
    service: String,
    method: String,
    request: String,
    response: String,
    needs_authorization: bool,
    mutating: bool,
    endpoint: &'static str,
    /// Resolved `(metadata, response)` of the `(yandex.cloud.api.operation)` option.
    operation: Option<(String, String)>,
    /// `(items field, item type)` of a List RPC.
    page: Option<(String, String)>,
}

/// The rule of authorization, stated once: every method needs the caller's
/// token except `IamTokenService.Create` (which turns a credential in the
/// request body into a token) and the endpoint discovery service.
fn needs_authorization(service: &str, method: &str) -> bool {
    !(service == "yandex.cloud.iam.v1.IamTokenService" && method == "Create"
        || service == "yandex.cloud.endpoint.ApiEndpointService")
}

/// The endpoint (`region::Service`) a package is served at.
fn endpoint(package: &str) -> Result<&'static str, BoxError> {
    let under = |p: &str| package == p || package.starts_with(&format!("{p}."));
    Ok(if under("yandex.cloud.billing") {
        "Billing"
    } else if under("yandex.cloud.operation") {
        "Operation"
    } else if under("yandex.cloud.iam") {
        "Iam"
    } else if under("yandex.cloud.endpoint") {
        "Discovery"
    } else {
        return Err(format!(
            "package {package} has no endpoint: add it to `endpoint` in build/methods.rs \
             (and to region::Service)"
        )
        .into());
    })
}

/// Resolves a type name from the `(yandex.cloud.api.operation)` option the
/// way protoc does: relative to the method's package, innermost scope first.
fn resolve_type(pool: &DescriptorPool, package: &str, name: &str) -> Option<String> {
    // Well-known types (google.protobuf.Empty) need not be imported.
    if name.starts_with("google.protobuf.") {
        return Some(name.to_owned());
    }
    if let Some(abs) = name.strip_prefix('.') {
        return pool
            .get_message_by_name(abs)
            .map(|m| m.full_name().to_owned());
    }
    let mut scope = package.to_owned();
    loop {
        let candidate = if scope.is_empty() {
            name.to_owned()
        } else {
            format!("{scope}.{name}")
        };
        if let Some(m) = pool.get_message_by_name(&candidate) {
            return Some(m.full_name().to_owned());
        }
        if scope.is_empty() {
            return None;
        }
        scope = scope
            .rsplit_once('.')
            .map(|(s, _)| s.to_owned())
            .unwrap_or_default();
    }
}

/// The metadata and response types of an operation-returning RPC.
fn operation_types(
    pool: &DescriptorPool,
    method: &MethodDescriptor,
) -> Result<Option<(String, String)>, BoxError> {
    let ext = pool
        .get_extension_by_name("yandex.cloud.api.operation")
        .ok_or("extension yandex.cloud.api.operation not found in proto/")?;
    let options = method.options();
    if !options.has_extension(&ext) {
        return Ok(None);
    }
    let value = options.get_extension(&ext);
    let op = value.as_message().ok_or("api.operation is not a message")?;
    let field = |n: &str| {
        op.get_field_by_name(n)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let package = method.parent_service().package_name().to_owned();
    let (metadata, response) = (field("metadata"), field("response"));
    let metadata = if metadata.is_empty() {
        String::new()
    } else {
        resolve_type(pool, &package, &metadata)
            .ok_or_else(|| format!("{}: metadata type {metadata} not found", method.full_name()))?
    };
    let response = resolve_type(pool, &package, &response)
        .ok_or_else(|| format!("{}: response type {response} not found", method.full_name()))?;
    Ok(Some((metadata, response)))
}

/// A List RPC: the request has `page_size` (int64) and `page_token`, the
/// response `next_page_token` and exactly one repeated message field, the
/// items. Deprecated paging fields do not count.
fn page(request: &MessageDescriptor, response: &MessageDescriptor) -> Option<(String, String)> {
    let live = |m: &MessageDescriptor, name: &str, kind: Kind| {
        m.get_field_by_name(name)
            .is_some_and(|f| f.kind() == kind && !f.is_list() && !deprecated(&f))
    };
    if !(live(request, "page_size", Kind::Int64)
        && live(request, "page_token", Kind::String)
        && live(response, "next_page_token", Kind::String))
    {
        return None;
    }
    let mut lists = response
        .fields()
        .filter(|f| f.is_list() && matches!(f.kind(), Kind::Message(_)));
    let items = lists.next()?;
    if lists.next().is_some() {
        return None;
    }
    let Kind::Message(item) = items.kind() else {
        return None;
    };
    Some((items.name().to_owned(), item.full_name().to_owned()))
}

fn deprecated(field: &prost_reflect::FieldDescriptor) -> bool {
    field
        .field_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        == Some(true)
}

/// Every RPC of every service in `proto/`, sorted by path.
pub fn rows(pool: &DescriptorPool) -> Result<Vec<Row>, BoxError> {
    let mut rows = Vec::new();
    for service in pool.services() {
        let package = service.package_name();
        let modules = package
            .strip_prefix("yandex.cloud.")
            .unwrap_or(package)
            .split('.')
            .map(str::to_owned)
            .collect();
        for method in service.methods() {
            let (input, output) = (method.input(), method.output());
            let operation = operation_types(pool, &method)?;
            if operation.is_some() && output.full_name() != OPERATION {
                return Err(format!(
                    "{} has the api.operation option but answers {}",
                    method.full_name(),
                    output.full_name()
                )
                .into());
            }
            rows.push(Row {
                modules: Vec::clone(&modules),
                service_module: service.name().to_snake_case(),
                path: format!("/{}/{}", service.full_name(), method.name()),
                service: service.full_name().to_owned(),
                method: method.name().to_owned(),
                request: input.full_name().to_owned(),
                response: output.full_name().to_owned(),
                needs_authorization: needs_authorization(service.full_name(), method.name()),
                // The rule of idempotency keys: a method that starts an
                // operation (declares its types) changes state.
                mutating: operation.is_some(),
                endpoint: endpoint(package)?,
                page: if operation.is_none() {
                    page(&input, &output)
                } else {
                    None
                },
                operation,
            });
        }
    }
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(rows)
}

/// A Rust identifier: keywords become raw identifiers, as prost-build does.
fn ident(name: String) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
        "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield",
        "async", "await", "dyn", "try", "gen",
    ];
    match name.as_str() {
        "self" | "super" | "crate" | "Self" => format!("{name}_"),
        n if KEYWORDS.contains(&n) => format!("r#{name}"),
        _ => name,
    }
}

/// The Rust type prost-build generates for a message full name.
fn rust_type(name: &str) -> String {
    if name == "google.protobuf.Empty" {
        return "()".to_owned();
    }
    if let Some(n) = name.strip_prefix("google.protobuf.") {
        return format!("::prost_types::{n}");
    }
    if let Some(n) = name.strip_prefix("google.rpc.") {
        return format!("::tonic_types::pb::{n}");
    }
    // Package segments are lower case and nested messages start upper case.
    let parts: Vec<&str> = name.split('.').collect();
    let first_type = parts
        .iter()
        .position(|p| p.starts_with(|c: char| c.is_ascii_uppercase()))
        .unwrap_or(parts.len() - 1);
    let mut path: Vec<String> = parts[..first_type]
        .iter()
        .map(|p| ident(p.to_snake_case()))
        .collect();
    for outer in &parts[first_type..parts.len() - 1] {
        path.push(ident(outer.to_snake_case()));
    }
    path.push(ident(parts[parts.len() - 1].to_upper_camel_case()));
    format!("crate::proto::{}", path.join("::"))
}

fn opt(value: &Option<(String, String)>) -> String {
    match value {
        Some((a, b)) => format!("Some(({a:?}, {b:?}))"),
        None => "None".to_owned(),
    }
}

/// `proto::METHODS`: the table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("&[\n");
    for r in rows {
        let operation = match &r.operation {
            Some((m, resp)) => {
                format!("Some(OperationTypes {{ metadata: {m:?}, response: {resp:?} }})")
            }
            None => "None".to_owned(),
        };
        let _ = writeln!(
            out,
            "    MethodInfo {{ path: {:?}, service: {:?}, method: {:?}, request: {:?}, \
             response: {:?}, needs_authorization: {}, mutating: {}, \
             endpoint: crate::region::Service::{}, operation: {operation}, page: {} }},",
            r.path,
            r.service,
            r.method,
            r.request,
            r.response,
            r.needs_authorization,
            r.mutating,
            r.endpoint,
            opt(&r.page),
        );
    }
    out.push_str("]\n");
    out
}

/// Nested modules, one per package segment and service.
#[derive(Default)]
struct Tree {
    items: String,
    children: BTreeMap<String, Tree>,
}

impl Tree {
    fn at(&mut self, path: &[String]) -> &mut Tree {
        path.iter()
            .fold(self, |t, p| t.children.entry(p.clone()).or_default())
    }

    fn write(&self, out: &mut String, depth: usize, doc: &dyn Fn(&[&str]) -> String) {
        self.write_at(out, depth, &mut Vec::new(), doc);
    }

    fn write_at<'a>(
        &'a self,
        out: &mut String,
        depth: usize,
        at: &mut Vec<&'a str>,
        doc: &dyn Fn(&[&str]) -> String,
    ) {
        let pad = "    ".repeat(depth);
        for line in self.items.lines() {
            let _ = writeln!(out, "{pad}{line}");
        }
        for (name, child) in &self.children {
            at.push(name);
            let _ = writeln!(out, "{pad}#[doc = {:?}]", doc(at));
            let _ = writeln!(out, "{pad}pub mod {} {{", ident(name.clone()));
            child.write_at(out, depth + 1, at, doc);
            let _ = writeln!(out, "{pad}}}");
            at.pop();
        }
    }
}

fn module_path(r: &Row) -> Vec<String> {
    let mut path = r.modules.clone();
    path.push(r.service_module.clone());
    path
}

/// `proto::paths`: one `&str` constant per RPC.
pub fn paths(rows: &[Row]) -> String {
    let mut tree = Tree::default();
    for r in rows {
        let items = &mut tree.at(&module_path(r)).items;
        let _ = writeln!(items, "/// `{}`.", r.path);
        let _ = writeln!(
            items,
            "pub const {}: &str = {:?};",
            r.method.to_shouty_snake_case(),
            r.path
        );
    }
    let mut out = String::new();
    tree.write(&mut out, 0, &|at| format!("Paths of `{}`.", at.join(".")));
    out
}

/// What a call of the RPC resolves to (`Rpc::Output`), for the marker type
/// `marker`: the typed operation, a page of the items, or the response.
fn output_type(r: &Row, marker: &str) -> String {
    if r.operation.is_some() {
        format!("crate::services::OperationOf<{marker}>")
    } else if let Some((_, item)) = &r.page {
        format!("crate::pagination::Page<{}>", rust_type(item))
    } else {
        rust_type(&r.response)
    }
}

/// The path of the RPC's marker type, `crate::services::rpc::…::Method`.
fn marker_path(r: &Row) -> String {
    module_path(r)
        .into_iter()
        .map(ident)
        .chain([ident(r.method.to_upper_camel_case())])
        .collect::<Vec<_>>()
        .join("::")
}

/// `services::rpc`: one marker type per RPC, implementing `Rpc` (and
/// `OperationRpc` for the operation-returning ones), plus the lists the
/// tests check the markers with.
pub fn markers(rows: &[Row]) -> String {
    let mut tree = Tree::default();
    let (mut all, mut operations) = (String::new(), String::new());
    let mut paged = std::collections::BTreeSet::new();
    for (index, r) in rows.iter().enumerate() {
        let name = ident(r.method.to_upper_camel_case());
        let (request, response) = (rust_type(&r.request), rust_type(&r.response));
        let output = output_type(r, "Self");
        let (client, finish) = if r.operation.is_some() {
            (
                "client",
                "crate::services::operation_output::<Self>(client, response)".to_owned(),
            )
        } else if let Some((field, _)) = &r.page {
            paged.insert(request.clone());
            let field = ident(field.to_snake_case());
            (
                "_client",
                format!(
                    "let response = response.into_inner();\n        \
                     Ok(crate::pagination::Page {{\n            \
                     items: response.{field},\n            \
                     next_page_token: response.next_page_token,\n        }})"
                ),
            )
        } else {
            ("_client", "Ok(response.into_inner())".to_owned())
        };
        let items = &mut tree.at(&module_path(r)).items;
        let _ = writeln!(
            items,
            "/// `{}.{}`: `{}` to `{}`.",
            r.service.rsplit('.').next().unwrap_or_default(),
            r.method,
            r.request,
            r.response
        );
        let _ = writeln!(items, "#[derive(Debug, Clone, Copy)]");
        let _ = writeln!(items, "pub struct {name};");
        let _ = writeln!(
            items,
            "impl crate::services::Rpc for {name} {{\n    \
             const METHOD: &'static crate::proto::MethodInfo = &crate::proto::METHODS[{index}];\n    \
             type Request = {request};\n    \
             type Response = {response};\n    \
             type Output = {output};\n    \
             fn output(\n        {client}: &crate::Client,\n        \
             response: tonic::Response<Self::Response>,\n    \
             ) -> crate::Result<Self::Output> {{\n        {finish}\n    }}\n}}"
        );
        let path = marker_path(r);
        let _ = writeln!(all, "        crate::services::tests::rpc_row::<{path}>(),");
        if let Some((md, resp)) = &r.operation {
            let md = if md.is_empty() {
                "()".to_owned()
            } else {
                rust_type(md)
            };
            let _ = writeln!(
                items,
                "impl crate::services::OperationRpc for {name} {{\n    \
                 const PATH: &'static str = {:?};\n    \
                 type Request = {request};\n    \
                 type Metadata = {md};\n    \
                 type Response = {};\n}}",
                r.path,
                rust_type(resp)
            );
            let _ = writeln!(
                operations,
                "        crate::services::tests::operation_row::<{path}>(),"
            );
        }
    }
    let mut out = String::new();
    tree.write(&mut out, 0, &|at| {
        format!("RPC markers of `{}`.", at.join("."))
    });
    for request in paged {
        let _ = writeln!(
            out,
            "impl crate::services::PageRequest for {request} {{\n    \
             fn set_page_size(&mut self, size: i64) {{\n        self.page_size = size;\n    }}\n    \
             fn set_page_token(&mut self, token: String) {{\n        self.page_token = token;\n    }}\n    \
             fn page_token(&self) -> &str {{\n        &self.page_token\n    }}\n}}"
        );
    }
    let _ = write!(
        out,
        "/// `(path, request, response)` of every marker, for the tests.\n\
         #[cfg(test)]\n\
         pub(crate) fn all() -> Vec<crate::services::tests::RpcRow> {{\n    vec![\n{all}    ]\n}}\n\
         /// `(path, metadata, response)` of every `OperationRpc` marker, for the tests.\n\
         #[cfg(test)]\n\
         pub(crate) fn operations() -> Vec<crate::services::tests::OperationRow> {{\n    vec![\n{operations}    ]\n}}\n"
    );
    out
}

/// The transport accessor of `Client` for an endpoint; `None` for the
/// discovery service, which a `Client` asks once and has no transport to.
fn transport(endpoint: &str) -> Option<&'static str> {
    match endpoint {
        "Billing" => Some("billing_transport"),
        "Operation" => Some("operation_transport"),
        "Iam" => Some("iam_transport"),
        _ => None,
    }
}

/// `services`: one handle type per service with a transport, named as the
/// service (`CustomerService`), got with `Client::<service_snake>()`, with a
/// `raw()` stub and one `<method>_request` constructor per RPC. The
/// ergonomic constructors are written by hand in `src/services/` as further
/// `impl` blocks of these types.
pub fn handles(rows: &[Row]) -> Result<String, BoxError> {
    let mut services: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        services.entry(r.service.as_str()).or_default().push(r);
    }
    let mut names = std::collections::BTreeSet::new();
    let mut out = String::new();
    for (service, rows) in services {
        let Some(transport) = transport(rows[0].endpoint) else {
            continue;
        };
        let name = service.rsplit('.').next().unwrap_or_default().to_owned();
        if !names.insert(name.clone()) {
            return Err(format!(
                "two services are named {name}: the handles in `services` need distinct names"
            )
            .into());
        }
        let snake = rows[0].service_module.clone();
        let module = rows[0]
            .modules
            .iter()
            .map(|m| ident(m.clone()))
            .collect::<Vec<_>>();
        let stub = format!(
            "crate::proto::yandex::cloud::{}::{snake}_client::{name}Client<crate::transport::Transport>",
            module.join("::")
        );
        let _ = writeln!(
            out,
            "/// `{service}`: one `*_request` constructor per RPC, a [`Call`] of the\n\
             /// request built by the caller (the ergonomic constructors, where there\n\
             /// are any, build the request from arguments). Get it with\n\
             /// [`Client::{snake}`](crate::Client::{snake}).\n\
             #[derive(Debug, Clone)]\n\
             pub struct {name} {{\n    client: crate::Client,\n}}\n\n\
             impl crate::Client {{\n    \
             /// The calls of `{service}`.\n    \
             pub fn {snake}(&self) -> {name} {{\n        {name} {{ client: self.clone() }}\n    }}\n}}\n\n\
             impl {name} {{\n    \
             /// The generated stub on the client's transport (authorization and\n    \
             /// header layers, but not the deadline and retries of a [`Call`]).\n    \
             pub fn raw(&self) -> {stub} {{\n        \
             crate::proto::yandex::cloud::{}::{snake}_client::{name}Client::new(self.client.{transport}())\n            \
             .max_decoding_message_size(self.client.max_response_size())\n    }}",
            module.join("::")
        );
        for r in rows {
            let marker = format!("rpc::{}", marker_path(r));
            let request = rust_type(&r.request);
            let _ = writeln!(
                out,
                "\n    /// `{}.{}` with a request built by the caller:\n    \
                 /// [`Client::call`](crate::Client::call) of [`{marker}`].\n    \
                 pub fn {}_request(&self, request: {request}) -> Call<{request}, {}> {{\n        \
                 self.client.call::<{marker}>(request)\n    }}",
                name,
                r.method,
                r.method.to_snake_case(),
                output_type(r, &marker),
            );
        }
        let _ = writeln!(out, "}}\n");
    }
    Ok(out)
}
