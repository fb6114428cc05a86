//! Filter expressions of the SKU and service lists.
//!
//! The API documents one grammar for `ListSkusRequest.filter` and
//! `ListServicesRequest.filter`: a field name, an `=` operator and the value
//! in double quotes, 3-63 characters matching `[a-z][-a-z0-9]{1,61}[a-z0-9]`
//! (`serviceId="dn28hpu6268356q0j8mk"`). SKU lists filter on `id` and
//! `serviceId`, service lists on `id`. [`Filter`] writes such expressions
//! (and, with [`Filter::raw`], passes any string through unchanged);
//! [`Filter::parse`] reads them, with an error naming the rule broken (the
//! emulator evaluates filters with it).
//!
//! ```
//! use yc_billing::services::filter::{Filter, FilterField};
//!
//! assert_eq!(Filter::service_id("dn28hpu6268356q0j8mk").to_string(), r#"serviceId="dn28hpu6268356q0j8mk""#);
//! assert_eq!(Filter::id("dn2abc").to_string(), r#"id="dn2abc""#);
//! let parsed = Filter::parse(r#" serviceId = "dn2abc" "#, FilterField::SKU).unwrap();
//! assert_eq!(parsed, Filter::service_id("dn2abc"));
//! assert!(Filter::parse(r#"name="x""#, FilterField::SERVICE).is_err());
//! ```

use std::fmt;

/// A field a list can be filtered on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterField {
    /// The resource's `id`.
    Id,
    /// The SKU's `serviceId` (`service_id`).
    ServiceId,
}

impl FilterField {
    /// The fields of `SkuService.List` filters.
    pub const SKU: &'static [FilterField] = &[FilterField::Id, FilterField::ServiceId];
    /// The fields of `ServiceService.List` filters.
    pub const SERVICE: &'static [FilterField] = &[FilterField::Id];

    /// The name written in an expression (the REST name, camelCase).
    pub const fn as_str(self) -> &'static str {
        match self {
            FilterField::Id => "id",
            FilterField::ServiceId => "serviceId",
        }
    }

    /// The field of a name: the REST name (`serviceId`) or the proto one
    /// (`service_id`).
    pub fn from_name(name: &str) -> Option<FilterField> {
        match name {
            "id" => Some(FilterField::Id),
            "serviceId" | "service_id" => Some(FilterField::ServiceId),
            _ => None,
        }
    }
}

impl fmt::Display for FilterField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A filter of a SKU or service list: `field="value"`, or a raw string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Filter {
    /// `field="value"`.
    Eq {
        /// The field.
        field: FilterField,
        /// The value it must equal.
        value: String,
    },
    /// A string sent as it is (for grammar the builder does not know).
    Raw(String),
}

/// Why a filter expression was refused; the message names the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("filter: {rule}")]
pub struct FilterError {
    rule: String,
}

impl FilterError {
    fn new(rule: impl Into<String>) -> Self {
        FilterError { rule: rule.into() }
    }

    /// The rule the expression breaks.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

/// The documented value rule: 3-63 characters, `[a-z][-a-z0-9]{1,61}[a-z0-9]`.
pub fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    (3..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

impl Filter {
    /// `field="value"`.
    pub fn eq(field: FilterField, value: impl Into<String>) -> Filter {
        Filter::Eq {
            field,
            value: value.into(),
        }
    }

    /// `id="value"`: one SKU, or one service.
    pub fn id(value: impl Into<String>) -> Filter {
        Filter::eq(FilterField::Id, value)
    }

    /// `serviceId="value"`: the SKUs of one service.
    pub fn service_id(value: impl Into<String>) -> Filter {
        Filter::eq(FilterField::ServiceId, value)
    }

    /// A string sent unchanged.
    pub fn raw(expression: impl Into<String>) -> Filter {
        Filter::Raw(expression.into())
    }

    /// Reads an expression of the documented grammar, allowing only the
    /// fields `allowed` ([`FilterField::SKU`] or [`FilterField::SERVICE`]);
    /// spaces around the parts are allowed. The result is never
    /// [`Filter::Raw`].
    pub fn parse(expression: &str, allowed: &[FilterField]) -> Result<Filter, FilterError> {
        let names = || {
            allowed
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((name, value)) = expression.split_once('=') else {
            return Err(FilterError::new(format!(
                "must be FIELD=\"VALUE\" with FIELD one of {}",
                names()
            )));
        };
        let name = name.trim();
        let field = FilterField::from_name(name)
            .filter(|f| allowed.contains(f))
            .ok_or_else(|| {
                FilterError::new(format!(
                    "cannot filter on {}: the fields are {}",
                    crate::quote::quoted(name),
                    names()
                ))
            })?;
        let value = value.trim();
        let Some(inner) = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|_| value.len() >= 2)
        else {
            return Err(FilterError::new(format!(
                "the value of {field} must be in double quotes"
            )));
        };
        if !valid_value(inner) {
            return Err(FilterError::new(format!(
                "the value of {field}, {}, must be 3-63 characters matching [a-z][-a-z0-9]{{1,61}}[a-z0-9]",
                crate::quote::quoted(inner)
            )));
        }
        Ok(Filter::eq(field, inner))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Eq { field, value } => write!(f, "{field}=\"{value}\""),
            Filter::Raw(s) => f.write_str(s),
        }
    }
}

impl From<Filter> for String {
    fn from(filter: Filter) -> String {
        filter.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_writes_the_documented_grammar() {
        assert_eq!(
            Filter::service_id("dn28hpu6268356q0j8mk").to_string(),
            r#"serviceId="dn28hpu6268356q0j8mk""#
        );
        assert_eq!(Filter::id("abc").to_string(), r#"id="abc""#);
        assert_eq!(Filter::raw("anything goes").to_string(), "anything goes");
        assert_eq!(String::from(Filter::id("abc")), r#"id="abc""#);
    }

    #[test]
    fn written_filters_parse_back() {
        for f in [
            Filter::id("dn2-a0"),
            Filter::service_id("dn22pas77ftg9h3f2djj"),
        ] {
            assert_eq!(Filter::parse(&f.to_string(), FilterField::SKU).unwrap(), f);
        }
        assert_eq!(
            Filter::parse(r#"service_id="abc""#, FilterField::SKU).unwrap(),
            Filter::service_id("abc")
        );
    }

    #[test]
    fn bad_expressions_name_the_rule() {
        let rule = |e: &str, allowed| Filter::parse(e, allowed).unwrap_err().rule().to_owned();
        assert!(rule("", FilterField::SKU).contains("FIELD=\"VALUE\""));
        assert!(rule("id", FilterField::SKU).contains("id, serviceId"));
        assert!(rule(r#"serviceId="abc""#, FilterField::SERVICE).contains("cannot filter on"));
        assert!(rule(r#"name="abc""#, FilterField::SKU).contains("\"name\""));
        assert!(rule("id=abc", FilterField::SKU).contains("double quotes"));
        assert!(rule(r#"id=""#, FilterField::SKU).contains("double quotes"));
        for bad in ["ab", "Abc", "1bc", "ab-", "a_bc", &"a".repeat(64), "a\"b"] {
            let e = format!("id=\"{bad}\"");
            assert!(rule(&e, FilterField::SKU).contains("3-63"), "{e}");
        }
        assert!(rule(r#"id="abc" AND serviceId="abd""#, FilterField::SKU).contains("3-63"));
        assert_eq!(
            Filter::parse("id", FilterField::SKU)
                .unwrap_err()
                .to_string(),
            "filter: must be FIELD=\"VALUE\" with FIELD one of id, serviceId"
        );
    }

    #[test]
    fn the_value_rule_is_the_documented_one() {
        assert!(valid_value("abc"));
        assert!(valid_value("a-9"));
        assert!(valid_value(&"a".repeat(63)));
        assert!(!valid_value("a"));
        assert!(!valid_value("a-"));
        assert!(!valid_value("-ab"));
        assert!(!valid_value("abé"));
    }
}
