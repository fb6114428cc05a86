//! The REST routes: one per `google.api.http` binding (and each of its
//! `additional_bindings`) of every served row of [`crate::proto::METHODS`],
//! read from the embedded descriptors, and the matching of a request path
//! against their templates as the `google.api.http` rules define them:
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! Verb     = ":" LITERAL ;
//! ```

use http::Method;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};

use crate::proto::MethodInfo;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    Star,
    /// `**`: the rest of the path (zero or more segments); last only.
    DoubleStar,
}

/// A variable: the field path it binds and the segments it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Variable {
    field_path: Vec<String>,
    start: usize,
    end: usize,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
}

/// Why a template of the schema does not parse (a build-time fact; the
/// route is then left out with a log line and the unit tests fail).
#[derive(Debug, thiserror::Error)]
#[error("path template {template:?}: {reason}")]
pub(crate) struct TemplateError {
    template: String,
    reason: &'static str,
}

impl Template {
    /// Parses a template such as `/billing/v1/customers/{customer_id}:activate`.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let err = |reason| TemplateError {
            template: template.to_owned(),
            reason,
        };
        let rest = template
            .strip_prefix('/')
            .ok_or_else(|| err("does not start with '/'"))?;
        // The verb follows the last ':' outside braces.
        let (path, verb) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('}') && !rest[i..].contains('/') => {
                (&rest[..i], Some(rest[i + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        if verb.as_deref() == Some("") {
            return Err(err("empty verb"));
        }
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut chars = path;
        while !chars.is_empty() {
            if let Some(inner) = chars.strip_prefix('{') {
                let close = inner.find('}').ok_or_else(|| err("unclosed '{'"))?;
                let (field, pattern) = match inner[..close].split_once('=') {
                    Some((f, p)) => (f, p),
                    None => (&inner[..close], "*"),
                };
                if field.is_empty() {
                    return Err(err("variable without a field"));
                }
                let start = segments.len();
                for p in pattern.split('/') {
                    segments.push(match p {
                        "*" => Segment::Star,
                        "**" => Segment::DoubleStar,
                        "" => return Err(err("empty segment")),
                        lit => Segment::Literal(lit.to_owned()),
                    });
                }
                variables.push(Variable {
                    field_path: field.split('.').map(str::to_owned).collect(),
                    start,
                    end: segments.len(),
                });
                chars = &inner[close + 1..];
            } else {
                let end = chars.find('/').unwrap_or(chars.len());
                segments.push(match &chars[..end] {
                    "*" => Segment::Star,
                    "**" => Segment::DoubleStar,
                    "" => return Err(err("empty segment")),
                    lit if lit.contains(['{', '}']) => return Err(err("brace inside a segment")),
                    lit => Segment::Literal(lit.to_owned()),
                });
                chars = &chars[end..];
            }
            chars = match chars.strip_prefix('/') {
                Some("") => return Err(err("trailing '/'")),
                Some(next) => next,
                None if chars.is_empty() => chars,
                None => return Err(err("a variable must span whole segments")),
            };
        }
        if segments
            .iter()
            .rev()
            .skip(1)
            .any(|s| *s == Segment::DoubleStar)
        {
            return Err(err("'**' must be the last segment"));
        }
        Ok(Self {
            segments,
            variables,
            verb,
        })
    }

    /// Matches a request path (still percent-encoded, without the query):
    /// the bound variables `(field path, decoded value)`, or `None`.
    pub fn matches(&self, path: &str) -> Option<Vec<(Vec<String>, String)>> {
        let mut rest = path.strip_prefix('/')?;
        if let Some(verb) = &self.verb {
            rest = rest.strip_suffix(verb.as_str())?.strip_suffix(':')?;
        }
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let double = self.segments.last() == Some(&Segment::DoubleStar);
        let fixed = self.segments.len() - usize::from(double);
        if parts.len() < fixed || (!double && parts.len() != fixed) {
            return None;
        }
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(l) if l != part => return None,
                Segment::Star if part.is_empty() => return None,
                _ => {}
            }
        }
        let bound = self
            .variables
            .iter()
            .map(|v| {
                let end = if double && v.end == self.segments.len() {
                    parts.len()
                } else {
                    v.end
                };
                let raw = parts[v.start..end].join("/");
                let value = percent_encoding::percent_decode_str(&raw)
                    .decode_utf8_lossy()
                    .into_owned();
                (v.field_path.clone(), value)
            })
            .collect();
        Some(bound)
    }

    /// Field paths the template binds (top-level names first).
    pub fn bound_fields(&self) -> impl Iterator<Item = &[String]> {
        self.variables.iter().map(|v| v.field_path.as_slice())
    }

    fn has_verb(&self) -> bool {
        self.verb.is_some()
    }
}

/// One binding of an RPC.
#[derive(Debug)]
pub(crate) struct Route {
    pub method: Method,
    pub template: Template,
    /// `*`, a field name, or empty (no body).
    pub body: String,
    /// The field of the response sent as the body, or empty (the whole response).
    pub response_body: String,
    pub rpc: &'static MethodInfo,
    pub descriptor: MethodDescriptor,
}

/// Every route of the served rows, verb routes first (so that
/// `/operations/{id}:cancel` is not read as `Get` of the id `x:cancel`).
pub(crate) fn table(served: &[String]) -> Vec<Route> {
    let pool = crate::json::descriptor_pool();
    let Some(ext) = pool.get_extension_by_name("google.api.http") else {
        tracing::error!("google.api.http is not in the descriptors: no REST routes");
        return Vec::new();
    };
    let mut routes = Vec::new();
    for rpc in crate::proto::METHODS {
        if !served.iter().any(|s| s == rpc.route()) {
            continue;
        }
        let Some(descriptor) = pool
            .get_service_by_name(rpc.service)
            .and_then(|s| s.methods().find(|m| m.name() == rpc.method))
        else {
            continue;
        };
        let options = descriptor.options();
        if !options.has_extension(&ext) {
            continue;
        }
        let rule = options.get_extension(&ext);
        let Some(rule) = rule.as_message() else {
            continue;
        };
        let mut rules = vec![rule.clone()];
        if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").as_deref() {
            rules.extend(more.iter().filter_map(|v| v.as_message().cloned()));
        }
        for rule in rules {
            match binding(&rule) {
                Some((method, template)) => match Template::parse(&template) {
                    Ok(template) => routes.push(Route {
                        method,
                        template,
                        body: text(&rule, "body"),
                        response_body: text(&rule, "response_body"),
                        rpc,
                        descriptor: descriptor.clone(),
                    }),
                    Err(e) => tracing::error!(rpc = rpc.path, error = %e, "REST route left out"),
                },
                None => tracing::error!(rpc = rpc.path, "google.api.http rule without a pattern"),
            }
        }
    }
    routes.sort_by_key(|r| !r.template.has_verb());
    routes
}

/// The HTTP method and path template of an RPC's (first) `google.api.http`
/// binding, read from the descriptors; `None` for an RPC without a rule.
///
/// ```
/// use yc_billing::emulator::rest_binding;
/// let invite = yc_billing::proto::paths::billing::v1::customer_service::INVITE;
/// let (method, path) = rest_binding(invite).unwrap();
/// assert_eq!((method.as_str(), path.as_str()), ("POST", "/billing/v1/customers:invite"));
/// ```
pub fn rest_binding(rpc_path: &str) -> Option<(Method, String)> {
    let rpc = crate::proto::method(rpc_path)?;
    let pool = crate::json::descriptor_pool();
    let ext = pool.get_extension_by_name("google.api.http")?;
    let descriptor = pool
        .get_service_by_name(rpc.service)?
        .methods()
        .find(|m| m.name() == rpc.method)?;
    let options = descriptor.options();
    if !options.has_extension(&ext) {
        return None;
    }
    let rule = options.get_extension(&ext);
    binding(rule.as_message()?)
}

fn text(rule: &DynamicMessage, field: &str) -> String {
    rule.get_field_by_name(field)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The HTTP method and path template of a rule's `pattern` oneof.
fn binding(rule: &DynamicMessage) -> Option<(Method, String)> {
    for (field, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if rule.has_field_by_name(field) {
            return Some((method, text(rule, field)));
        }
    }
    if rule.has_field_by_name("custom") {
        let custom = rule.get_field_by_name("custom")?;
        let custom = custom.as_message()?;
        let method = Method::from_bytes(text(custom, "kind").as_bytes()).ok()?;
        return Some((method, text(custom, "path")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(t: &str, path: &str) -> Option<Vec<(String, String)>> {
        Template::parse(t).unwrap().matches(path).map(|b| {
            b.into_iter()
                .map(|(f, v)| (f.join("."), v))
                .collect::<Vec<_>>()
        })
    }

    #[test]
    fn variables_verbs_nested_fields_and_wildcards() {
        assert_eq!(
            bound(
                "/billing/v1/customers/{customer_id}:activate",
                "/billing/v1/customers/c%201:activate"
            ),
            Some(vec![("customer_id".into(), "c 1".into())])
        );
        assert_eq!(
            bound(
                "/billing/v1/customers/{customer_id}:activate",
                "/billing/v1/customers/c1:suspend"
            ),
            None
        );
        assert_eq!(
            bound(
                "/billing/v1/customers/{customer_id}:activate",
                "/billing/v1/customers/c1"
            ),
            None
        );
        assert_eq!(bound("/operations/{operation_id}", "/operations/a/b"), None);
        assert_eq!(
            bound(
                "/v1/{a.b}/x/{name=things/*/parts/**}",
                "/v1/q/x/things/1/parts/2/3"
            ),
            Some(vec![
                ("a.b".into(), "q".into()),
                ("name".into(), "things/1/parts/2/3".into())
            ])
        );
        assert_eq!(bound("/v1/{name=things/*}", "/v1/other/1"), None);
        assert_eq!(bound("/iam/v1/tokens", "/iam/v1/tokens"), Some(vec![]));
    }

    #[test]
    fn malformed_templates_are_refused_with_the_reason() {
        for (t, reason) in [
            ("v1/x", "does not start with '/'"),
            ("/v1/{x", "unclosed '{'"),
            ("/v1/", "trailing '/'"),
            ("/v1/**/x", "'**' must be the last segment"),
            ("/v1/a{x}", "brace inside a segment"),
            ("/v1/x:", "empty verb"),
        ] {
            let e = Template::parse(t).unwrap_err();
            assert_eq!(e.reason, reason, "{t}");
        }
    }

    /// Every served RPC with a rule has a route; the verb routes come first.
    #[test]
    fn every_rule_of_the_schema_parses() {
        let pool = crate::json::descriptor_pool();
        let ext = pool.get_extension_by_name("google.api.http").unwrap();
        let all: Vec<String> = crate::proto::METHODS
            .iter()
            .map(|m| m.route().to_owned())
            .collect();
        let routes = table(&all);
        let with_rule = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .filter(|m| m.options().has_extension(&ext))
            .count();
        assert!(with_rule >= 20, "{with_rule}");
        assert_eq!(routes.len(), with_rule);
        let first_plain = routes.iter().position(|r| !r.template.has_verb()).unwrap();
        assert!(routes[first_plain..].iter().all(|r| !r.template.has_verb()));
    }
}
