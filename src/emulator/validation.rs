//! Request validation derived from the validation options in the protos.
//!
//! Each request is transcoded to a [`DynamicMessage`] and walked field by
//! field; the `yandex.cloud.*` extension options on fields and oneofs are the
//! rules, so a new proto field is validated without new code. A message
//! type's rules are read from its options once (patterns compiled then) and
//! kept for every later request of that type.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, Kind,
    MapKey, MessageDescriptor, ReflectMessage, Value,
};
use regex::Regex;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::text::{MAX_TEXT_CHARS, echo};

/// One broken rule: the field path and what is wrong.
pub(crate) type Violation = (String, String);

/// Builds the INVALID_ARGUMENT status with a `google.rpc.BadRequest` detail.
pub(crate) fn invalid_argument(violations: Vec<Violation>) -> Status {
    let text = violations
        .iter()
        .map(|(f, d)| format!("{f}: {d}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut details = ErrorDetails::new();
    for (field, desc) in &violations {
        details.add_bad_request_violation(field.clone(), desc.clone());
    }
    Status::with_error_details(
        Code::InvalidArgument,
        format!("Request validation error: {text}"),
        details,
    )
}

/// A numeric range rule such as `<=50`, `1-1000`, `>=0`, `<10`, `>0`, `5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Range {
    min: Option<i128>,
    max: Option<i128>,
}

impl Range {
    pub fn parse(rule: &str) -> Option<Self> {
        let r = rule.trim();
        let num = |s: &str| s.trim().parse::<i128>().ok();
        let (min, max) = if let Some(v) = r.strip_prefix("<=") {
            (None, Some(num(v)?))
        } else if let Some(v) = r.strip_prefix(">=") {
            (Some(num(v)?), None)
        } else if let Some(v) = r.strip_prefix("==") {
            (Some(num(v)?), Some(num(v)?))
        } else if let Some(v) = r.strip_prefix('<') {
            (None, Some(num(v)?.checked_sub(1)?))
        } else if let Some(v) = r.strip_prefix('>') {
            (Some(num(v)?.checked_add(1)?), None)
        } else if let Some(n) = num(r) {
            (Some(n), Some(n))
        } else {
            // "A-B"; A may itself be negative ("-5-5"). `get` rather than
            // slicing: the rule may be empty or start with a multi-byte char.
            let split = r.get(1..)?.find('-')? + 1;
            (Some(num(&r[..split])?), Some(num(&r[split + 1..])?))
        };
        Some(Self { min, max })
    }

    pub fn contains(&self, v: i128) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

struct Exts {
    required: ExtensionDescriptor,
    pattern: ExtensionDescriptor,
    value: ExtensionDescriptor,
    size: ExtensionDescriptor,
    length: ExtensionDescriptor,
    unique: ExtensionDescriptor,
    map_key: ExtensionDescriptor,
    bytes: ExtensionDescriptor,
    exactly_one: ExtensionDescriptor,
}

/// Validator and descriptor lookups over [`crate::proto::FILE_DESCRIPTOR_SET`].
pub(crate) struct Validator {
    pool: DescriptorPool,
    ext: Exts,
    /// Rules by message full name, read on the first request of each type.
    rules: RwLock<HashMap<String, Arc<MessageRules>>>,
}

fn string_opt(opts: &DynamicMessage, ext: &ExtensionDescriptor) -> Option<String> {
    if !opts.has_extension(ext) {
        return None;
    }
    match opts.get_extension(ext).as_ref() {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn bool_opt(opts: &DynamicMessage, ext: &ExtensionDescriptor) -> bool {
    opts.has_extension(ext) && matches!(opts.get_extension(ext).as_ref(), Value::Bool(true))
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn is_default(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::I32(n) | Value::EnumNumber(n) => *n == 0,
        Value::I64(n) => *n == 0,
        Value::U32(n) => *n == 0,
        Value::U64(n) => *n == 0,
        Value::F32(n) => *n == 0.0,
        Value::F64(n) => *n == 0.0,
        Value::Bool(b) => !b,
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Message(_) => false,
    }
}

fn as_int(v: &Value) -> Option<i128> {
    Some(match v {
        Value::I32(n) | Value::EnumNumber(n) => *n as i128,
        Value::I64(n) => *n as i128,
        Value::U32(n) => *n as i128,
        Value::U64(n) => *n as i128,
        Value::F32(n) => *n as i128,
        Value::F64(n) => *n as i128,
        _ => return None,
    })
}

fn map_key_value(k: &MapKey) -> Value {
    match k {
        MapKey::Bool(b) => Value::Bool(*b),
        MapKey::I32(n) => Value::I32(*n),
        MapKey::I64(n) => Value::I64(*n),
        MapKey::U32(n) => Value::U32(*n),
        MapKey::U64(n) => Value::U64(*n),
        MapKey::String(s) => Value::String(s.clone()),
    }
}

/// Rules applying to one scalar value.
#[derive(Default)]
struct ScalarRules {
    length: Option<String>,
    /// The pattern as written, and compiled (`None` if it does not compile:
    /// then it is not checked).
    pattern: Option<(String, Option<Regex>)>,
    value: Option<String>,
    bytes: Option<String>,
    /// The enum type of an enum field: its value must be one the enum defines.
    enum_type: Option<EnumDescriptor>,
}

/// One field's rules, read from its options.
struct FieldRules {
    field: FieldDescriptor,
    required: bool,
    scalar: ScalarRules,
    /// `(size)`: the number of elements of a repeated or map field.
    size: Option<String>,
    unique: bool,
    /// `(map_key)`: rules of a map's keys.
    key: Option<ScalarRules>,
}

/// A message type's rules: its `exactly_one` oneofs (name, fields) and its fields.
struct MessageRules {
    exactly_one: Vec<(String, Vec<FieldDescriptor>)>,
    fields: Vec<FieldRules>,
}

/// A `(pattern)` rule: its text and, anchored, its compiled form.
fn compiled(pattern: String) -> (String, Option<Regex>) {
    let re = Regex::new(&format!("^(?:{pattern})$")).ok();
    (pattern, re)
}

/// The enum type of a field's values (of a map field, its value's type).
fn enum_type(field: &FieldDescriptor) -> Option<EnumDescriptor> {
    let kind = if field.is_map() {
        match field.kind() {
            Kind::Message(entry) => entry.map_entry_value_field().kind(),
            other => other,
        }
    } else {
        field.kind()
    };
    kind.as_enum().cloned()
}

impl Validator {
    /// The validator every emulator of the process shares: its rules come
    /// from the embedded descriptors, the same for all, and building them
    /// was most of an emulator's start (BENCHMARKS.md, goal 5).
    pub fn shared() -> &'static Validator {
        static SHARED: std::sync::OnceLock<Validator> = std::sync::OnceLock::new();
        SHARED.get_or_init(Validator::new)
    }

    pub fn new() -> Self {
        // The process-wide pool of the embedded descriptors (decoded once).
        let pool = crate::json::descriptor_pool().clone();
        let ext = |name: &str| {
            pool.get_extension_by_name(name)
                .unwrap_or_else(|| panic!("extension {name} in descriptor set"))
        };
        let ext = Exts {
            required: ext("yandex.cloud.required"),
            pattern: ext("yandex.cloud.pattern"),
            value: ext("yandex.cloud.value"),
            size: ext("yandex.cloud.size"),
            length: ext("yandex.cloud.length"),
            unique: ext("yandex.cloud.unique"),
            map_key: ext("yandex.cloud.map_key"),
            bytes: ext("yandex.cloud.bytes"),
            exactly_one: ext("yandex.cloud.exactly_one"),
        };
        Self {
            pool,
            ext,
            rules: RwLock::new(HashMap::new()),
        }
    }

    /// Validates a request against the rules in its descriptor.
    pub fn validate<T: prost::Message + prost::Name>(&self, msg: &T) -> Result<(), Status> {
        let violations = self.violations(msg);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(invalid_argument(violations))
        }
    }

    /// All broken rules of a request.
    pub fn violations<T: prost::Message + prost::Name>(&self, msg: &T) -> Vec<Violation> {
        let Some(desc) = self.pool.get_message_by_name(&T::full_name()) else {
            return Vec::new();
        };
        let dm = match DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()) {
            Ok(dm) => dm,
            Err(e) => return vec![(String::new(), format!("cannot decode request: {e}"))],
        };
        let mut out = Vec::new();
        self.walk(&dm, "", &mut out);
        out
    }

    /// Full names of the metadata and response types the method's
    /// `(yandex.cloud.api.operation)` option declares, from the method table.
    pub fn operation_types(&self, method: &str) -> Option<(String, String)> {
        let types = crate::proto::method(method)?.operation?;
        Some((types.metadata.to_owned(), types.response.to_owned()))
    }

    /// `service/Method` paths (no leading slash) of every method of the
    /// named services, from the method table.
    pub fn methods_of<'a>(&self, services: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let services: Vec<&str> = services.into_iter().collect();
        crate::proto::METHODS
            .iter()
            .filter(|m| services.contains(&m.service))
            .map(|m| m.route().to_owned())
            .collect()
    }

    /// The rules of a message type, read from its options on first use.
    fn rules_of(&self, desc: &MessageDescriptor) -> Arc<MessageRules> {
        let cached = self
            .rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(desc.full_name())
            .cloned();
        if let Some(rules) = cached {
            return rules;
        }
        let rules = Arc::new(self.read_rules(desc));
        self.rules
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(desc.full_name().to_owned())
            .or_insert(rules)
            .clone()
    }

    fn read_rules(&self, desc: &MessageDescriptor) -> MessageRules {
        let scalar = |opts: &DynamicMessage, field: &FieldDescriptor| ScalarRules {
            length: string_opt(opts, &self.ext.length),
            pattern: string_opt(opts, &self.ext.pattern).map(compiled),
            value: string_opt(opts, &self.ext.value),
            bytes: string_opt(opts, &self.ext.bytes),
            enum_type: enum_type(field),
        };
        let fields = desc
            .fields()
            .map(|field| {
                let opts = field.options();
                let key = if opts.has_extension(&self.ext.map_key) {
                    let spec = opts.get_extension(&self.ext.map_key);
                    spec.as_message().map(|spec| {
                        let s = |n: &str| {
                            spec.get_field_by_name(n)
                                .and_then(|v| v.as_str().map(str::to_string))
                                .filter(|s| !s.is_empty())
                        };
                        ScalarRules {
                            length: s("length"),
                            pattern: s("pattern").map(compiled),
                            value: s("value"),
                            ..ScalarRules::default()
                        }
                    })
                } else {
                    None
                };
                FieldRules {
                    required: bool_opt(&opts, &self.ext.required),
                    scalar: scalar(&opts, &field),
                    size: string_opt(&opts, &self.ext.size),
                    unique: bool_opt(&opts, &self.ext.unique),
                    key,
                    field,
                }
            })
            .collect();
        let exactly_one = desc
            .oneofs()
            .filter(|o| !o.is_synthetic() && bool_opt(&o.options(), &self.ext.exactly_one))
            .map(|o| (o.name().to_owned(), o.fields().collect()))
            .collect();
        MessageRules {
            exactly_one,
            fields,
        }
    }

    fn walk(&self, msg: &DynamicMessage, prefix: &str, out: &mut Vec<Violation>) {
        let rules = self.rules_of(&msg.descriptor());
        for (name, fields) in &rules.exactly_one {
            let set = fields.iter().filter(|f| msg.has_field(f)).count();
            if set != 1 {
                let names: Vec<&str> = fields.iter().map(FieldDescriptor::name).collect();
                out.push((
                    join(prefix, name),
                    format!(
                        "exactly one of [{}] must be set (exactly_one), got {set}",
                        names.join(", ")
                    ),
                ));
            }
        }
        for field in &rules.fields {
            self.check_field(msg, field, prefix, out);
        }
    }

    fn check_field(
        &self,
        msg: &DynamicMessage,
        field_rules: &FieldRules,
        prefix: &str,
        out: &mut Vec<Violation>,
    ) {
        let field = &field_rules.field;
        let path = join(prefix, field.name());
        let value = msg.get_field(field);
        let value = value.as_ref();
        let present = if field.supports_presence() {
            msg.has_field(field)
        } else {
            !is_default(value)
        };
        if field_rules.required && !present {
            out.push((path, "value is required (required)".into()));
            return;
        }
        let rules = &field_rules.scalar;
        match value {
            Value::List(items) => {
                self.check_size(&field_rules.size, items.len(), &path, out);
                if field_rules.unique {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            out.push((
                                format!("{path}[{i}]"),
                                "duplicate element, elements must be unique (unique)".into(),
                            ));
                        }
                    }
                }
                for (i, item) in items.iter().enumerate() {
                    self.check_scalar(item, rules, &format!("{path}[{i}]"), true, out);
                }
            }
            Value::Map(map) => {
                self.check_size(&field_rules.size, map.len(), &path, out);
                let key_rules = &field_rules.key;
                let mut keys: Vec<&MapKey> = map.keys().collect();
                keys.sort_by_key(|k| format!("{k:?}"));
                for key in keys {
                    let shown = match key {
                        MapKey::String(s) => echo(s).into_owned(),
                        other => format!("{:?}", map_key_value(other)),
                    };
                    let entry_path = format!("{path}[{shown:?}]");
                    if let Some(kr) = key_rules {
                        self.check_scalar(
                            &map_key_value(key),
                            kr,
                            &format!("{entry_path} key"),
                            true,
                            out,
                        );
                    }
                    self.check_scalar(&map[key], rules, &entry_path, true, out);
                }
            }
            other => {
                if present {
                    self.check_scalar(other, rules, &path, present, out);
                }
            }
        }
    }

    fn check_size(&self, rule: &Option<String>, len: usize, path: &str, out: &mut Vec<Violation>) {
        if let Some(rule) = rule {
            if let Some(range) = Range::parse(rule) {
                if !range.contains(len as i128) {
                    out.push((
                        path.to_string(),
                        format!("number of elements must be {rule} (size), got {len}"),
                    ));
                }
            }
        }
    }

    fn check_scalar(
        &self,
        value: &Value,
        rules: &ScalarRules,
        path: &str,
        present: bool,
        out: &mut Vec<Violation>,
    ) {
        // A message value is checked field by field, present or not.
        if let Value::Message(m) = value {
            self.walk(m, path, out);
            return;
        }
        if !present {
            return;
        }
        let mut range_rule = |kind: &str, rule: &Option<String>, n: i128| {
            if let Some(rule) = rule {
                if let Some(range) = Range::parse(rule) {
                    if !range.contains(n) {
                        let what = if kind == "value" {
                            "value".to_string()
                        } else {
                            format!("{kind} of the value")
                        };
                        out.push((
                            path.to_string(),
                            format!("{what} must be {rule} ({kind}), got {n}"),
                        ));
                    }
                }
            }
        };
        match value {
            Value::String(s) => {
                let chars = s.chars().count();
                range_rule("length", &rules.length, chars as i128);
                if rules.length.is_none() && chars > MAX_TEXT_CHARS {
                    out.push((
                        path.to_string(),
                        format!(
                            "length of the value must be <={MAX_TEXT_CHARS} (the emulator's \
                             limit for text the API leaves unbounded), got {chars}"
                        ),
                    ));
                }
                if let Some((p, Some(re))) = &rules.pattern
                    && !re.is_match(s)
                {
                    out.push((
                        path.to_string(),
                        format!("value must match the pattern /{p}/ (pattern)"),
                    ));
                }
            }
            Value::Bytes(b) => {
                range_rule("bytes", &rules.bytes, b.len() as i128);
                range_rule("length", &rules.length, b.len() as i128);
            }
            Value::EnumNumber(n) => {
                range_rule("value", &rules.value, i128::from(*n));
                if let Some(e) = &rules.enum_type {
                    if e.get_value(*n).is_none() {
                        let defined: Vec<String> = e
                            .values()
                            .map(|v| format!("{} = {}", v.name(), v.number()))
                            .collect();
                        out.push((
                            path.to_string(),
                            format!(
                                "value must be one defined by enum {} (enum): [{}], got {n}",
                                e.full_name(),
                                defined.join(", ")
                            ),
                        ));
                    }
                }
            }
            other => {
                if let Some(n) = as_int(other) {
                    range_rule("value", &rules.value, n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Range;

    #[test]
    fn ranges() {
        let r = Range::parse("<=50").unwrap();
        assert!(r.contains(50) && !r.contains(51) && r.contains(-3));
        let r = Range::parse("1-1000").unwrap();
        assert!(r.contains(1) && r.contains(1000) && !r.contains(0) && !r.contains(1001));
        let r = Range::parse(">=0").unwrap();
        assert!(r.contains(0) && !r.contains(-1));
        let r = Range::parse("0-1000").unwrap();
        assert!(r.contains(0) && !r.contains(-1));
        let r = Range::parse("<10").unwrap();
        assert!(r.contains(9) && !r.contains(10));
        let r = Range::parse(">0").unwrap();
        assert!(!r.contains(0) && r.contains(1));
        let r = Range::parse("-5-5").unwrap();
        assert!(r.contains(-5) && r.contains(5) && !r.contains(6));
        assert!(Range::parse("abc").is_none());
        // Found by the property tests: these used to panic.
        for bad in [
            "",
            "\u{89488}",
            "é-1",
            "<-170141183460469231731687303715884105728",
        ] {
            assert!(Range::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Range::parse(">170141183460469231731687303715884105727").is_none());
    }
}

#[cfg(test)]
mod rule_tests {
    use super::Validator;
    use crate::proto::yandex::cloud::access::{AccessPolicyBinding, BindAccessPolicyRequest};

    fn fields(v: &Validator, req: &BindAccessPolicyRequest) -> Vec<String> {
        v.violations(req).into_iter().map(|(f, _)| f).collect()
    }

    /// Rule classes no emulated RPC uses (map_key, map size, map values) are
    /// still derived from the descriptor.
    #[test]
    fn map_key_size_and_length_rules() {
        let v = Validator::new();
        let mut binding = AccessPolicyBinding {
            access_policy_template_id: "tpl".into(),
            parameters: Default::default(),
        };
        binding.parameters.insert("good-key".into(), "v".into());
        let req = BindAccessPolicyRequest {
            resource_id: "r".into(),
            access_policy_binding: Some(binding.clone()),
        };
        assert!(fields(&v, &req).is_empty());
        binding.parameters.insert("Bad".into(), "v".into());
        binding.parameters.insert("k".repeat(64), "v".into());
        binding.parameters.insert("long".into(), "x".repeat(1025));
        let req = BindAccessPolicyRequest {
            resource_id: "r".into(),
            access_policy_binding: Some(binding.clone()),
        };
        let got = fields(&v, &req);
        assert!(
            got.contains(&"access_policy_binding.parameters[\"Bad\"] key".to_string()),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|f| f.contains("kkkk") && f.ends_with(" key")),
            "{got:?}"
        );
        assert!(
            got.contains(&"access_policy_binding.parameters[\"long\"]".to_string()),
            "{got:?}"
        );
        for n in 0..70 {
            binding.parameters.insert(format!("k{n}"), "v".into());
        }
        let req = BindAccessPolicyRequest {
            resource_id: "r".into(),
            access_policy_binding: Some(binding),
        };
        assert!(fields(&v, &req).contains(&"access_policy_binding.parameters".to_string()));
    }

    #[test]
    fn operation_types_resolve_relative_names() {
        let v = Validator::new();
        assert_eq!(
            v.operation_types("yandex.cloud.billing.v1.CustomerService/Invite"),
            Some((
                "yandex.cloud.billing.v1.CustomerMetadata".into(),
                "yandex.cloud.billing.v1.Customer".into()
            ))
        );
        assert_eq!(
            v.operation_types("yandex.cloud.billing.v1.BillingAccountService/UpdateAccessBindings"),
            Some((
                "yandex.cloud.access.UpdateAccessBindingsMetadata".into(),
                "google.protobuf.Empty".into()
            ))
        );
        assert_eq!(
            v.operation_types("yandex.cloud.billing.v1.CustomerService/List"),
            None
        );
    }
}
