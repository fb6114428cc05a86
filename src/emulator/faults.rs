//! Fault injection: failing calls on purpose, lost responses, latency,
//! failed operations. One set of rules, changed at run time by the handle
//! ([`EmulatorHandle::add_fault`](super::EmulatorHandle::add_fault)) and the
//! admin API (`POST /faults`) alike; the layer consults it for every call,
//! keyed by the method table's path, whatever the service or transport.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// One fault. In JSON (the admin API's `POST /faults`) it is an object with
/// one key, the kind, holding the kind's fields
/// (`{"latency": {"ms": 200}}`); `method` names a served method like
/// `yandex.cloud.billing.v1.CustomerService/Invite` and, where optional,
/// scopes the fault to that method (absent: every method).
///
/// For latency and the two rates, the latest rule of the called method
/// applies, else the latest rule without a method.
///
/// ```
/// use yc_billing::emulator::Fault;
/// let f: Fault = serde_json::from_str(
///     r#"{"fail_first": {"method": "yandex.cloud.billing.v1.CustomerService/Invite",
///         "count": 2, "code": "UNAVAILABLE"}}"#,
/// ).unwrap();
/// assert!(matches!(f, Fault::FailFirst { count: 2, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Fails the first `count` calls of `method` with `code`, before any effect.
    FailFirst {
        /// The method.
        method: String,
        /// How many calls fail.
        count: u64,
        /// The gRPC code, by name (`UNAVAILABLE`) or number.
        #[serde(with = "code_serde")]
        code: tonic::Code,
    },
    /// Adds `ms` milliseconds of latency to every call (of `method`).
    Latency {
        /// The method, or every method.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// Milliseconds.
        ms: u64,
    },
    /// Answers this fraction (0.0–1.0) of calls UNAVAILABLE *after* the call
    /// took effect, as if the response was lost on the way back.
    LostResponseRate {
        /// The method, or every method.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// Fraction, 0.0–1.0.
        rate: f64,
    },
    /// Answers this fraction (0.0–1.0) of calls UNAVAILABLE before any effect.
    UnavailableRate {
        /// The method, or every method.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// Fraction, 0.0–1.0.
        rate: f64,
    },
    /// The next operation `method` creates fails with `code` and `message`
    /// when it completes, without effect (one operation per rule).
    FailNextOperation {
        /// The operation-starting method.
        method: String,
        /// The gRPC code of the operation's error.
        #[serde(with = "code_serde")]
        code: tonic::Code,
        /// The error message.
        #[serde(default = "default_operation_failure")]
        message: String,
    },
    /// `OperationService.Get` answers NOT_FOUND for the first `gets` Gets of
    /// every new operation (created by `method`), like the real API right
    /// after creation.
    OperationNotFoundGets {
        /// The operation-starting method, or every method.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// Gets answered NOT_FOUND.
        gets: u32,
    },
}

fn default_operation_failure() -> String {
    "emulated operation failure".into()
}

impl Fault {
    /// The kind's name, as in JSON (`fail_first`).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::FailFirst { .. } => "fail_first",
            Fault::Latency { .. } => "latency",
            Fault::LostResponseRate { .. } => "lost_response_rate",
            Fault::UnavailableRate { .. } => "unavailable_rate",
            Fault::FailNextOperation { .. } => "fail_next_operation",
            Fault::OperationNotFoundGets { .. } => "operation_not_found_gets",
        }
    }

    /// The method the fault is scoped to, if any.
    pub fn method(&self) -> Option<&str> {
        match self {
            Fault::FailFirst { method, .. } | Fault::FailNextOperation { method, .. } => {
                Some(method)
            }
            Fault::Latency { method, .. }
            | Fault::LostResponseRate { method, .. }
            | Fault::UnavailableRate { method, .. }
            | Fault::OperationNotFoundGets { method, .. } => method.as_deref(),
        }
    }

    /// Checks the fault against the methods the emulator serves: `(field,
    /// rule)` of the first broken rule.
    pub(crate) fn check(&self, served: &[String]) -> Result<(), (&'static str, String)> {
        if let Some(m) = self.method() {
            let m = m.trim_start_matches('/');
            if !served.iter().any(|s| s == m) {
                return Err((
                    "method",
                    format!(
                        "{} is not a method this emulator serves (e.g. \
                         yandex.cloud.billing.v1.CustomerService/Invite)",
                        super::text::echo(m)
                    ),
                ));
            }
            if matches!(self, Fault::FailNextOperation { .. })
                && crate::proto::method(m).is_none_or(|row| row.operation.is_none())
            {
                return Err((
                    "method",
                    format!("{} starts no operation", super::text::echo(m)),
                ));
            }
        }
        match self {
            Fault::LostResponseRate { rate, .. } | Fault::UnavailableRate { rate, .. }
                if !(0.0..=1.0).contains(rate) =>
            {
                Err(("rate", format!("must be between 0.0 and 1.0, got {rate}")))
            }
            Fault::Latency { ms, .. } if *ms > MAX_LATENCY_MS => Err((
                "ms",
                format!("must be at most {MAX_LATENCY_MS} (10 minutes), got {ms}"),
            )),
            _ => Ok(()),
        }
    }

    fn normalised(mut self) -> Self {
        match &mut self {
            Fault::FailFirst { method, .. } | Fault::FailNextOperation { method, .. } => {
                *method = method.trim_start_matches('/').to_string();
            }
            Fault::Latency { method, .. }
            | Fault::LostResponseRate { method, .. }
            | Fault::UnavailableRate { method, .. }
            | Fault::OperationNotFoundGets { method, .. } => {
                if let Some(m) = method {
                    *m = m.trim_start_matches('/').to_string();
                }
            }
        }
        self
    }
}

/// The largest latency a fault may add (10 minutes).
pub const MAX_LATENCY_MS: u64 = 600_000;

/// A fault in force, as `GET /faults` and
/// [`EmulatorHandle::faults`](super::EmulatorHandle::faults) report it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActiveFault {
    /// Position in the order the faults were added (from 1).
    pub id: u64,
    /// The fault.
    #[serde(flatten)]
    pub fault: Fault,
    /// For `fail_first`, the calls still to fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// Faults the emulator starts with (see [`Fault`] for the kinds, which may
/// also be added and removed at run time). Everything is off by default.
///
/// Methods are named like `yandex.cloud.billing.v1.CustomerService/Invite`.
/// Random decisions come from one seeded source ([`Faults::random_seed`]),
/// so a run is reproducible for a given order of calls.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub(crate) rules: Vec<Fault>,
    pub(crate) random_seed: Option<u64>,
}

impl Faults {
    /// Adds any fault.
    pub fn with(mut self, fault: Fault) -> Self {
        self.rules.push(fault.normalised());
        self
    }

    /// Replaces the rule of the same kind without a method (a zero value
    /// only removes it).
    fn global(mut self, fault: Fault, zero: bool) -> Self {
        let kind = std::mem::discriminant(&fault);
        self.rules
            .retain(|r| std::mem::discriminant(r) != kind || r.method().is_some());
        if !zero {
            self.rules.push(fault);
        }
        self
    }

    /// Fails the first `count` calls of `method` with `code` (before any effect).
    pub fn fail_first(self, method: &str, count: u64, code: tonic::Code) -> Self {
        self.with(Fault::FailFirst {
            method: method.to_string(),
            count,
            code,
        })
    }

    /// Answers this fraction (0.0–1.0) of calls with UNAVAILABLE *after* the
    /// call took effect, as if the response was lost on the way back.
    pub fn lost_response_rate(self, rate: f64) -> Self {
        let rate = rate.clamp(0.0, 1.0);
        self.global(Fault::LostResponseRate { method: None, rate }, rate == 0.0)
    }

    /// Answers this fraction (0.0–1.0) of calls with UNAVAILABLE before any effect.
    pub fn unavailable_rate(self, rate: f64) -> Self {
        let rate = rate.clamp(0.0, 1.0);
        self.global(Fault::UnavailableRate { method: None, rate }, rate == 0.0)
    }

    /// Adds this latency to every call.
    pub fn latency(self, latency: Duration) -> Self {
        let ms = (latency.as_millis() as u64).min(MAX_LATENCY_MS);
        self.global(Fault::Latency { method: None, ms }, ms == 0)
    }

    /// `OperationService.Get` answers NOT_FOUND for the first `gets` Gets of
    /// every new operation, like the real API right after creation.
    pub fn operation_not_found_gets(self, gets: u32) -> Self {
        self.global(
            Fault::OperationNotFoundGets { method: None, gets },
            gets == 0,
        )
    }

    /// Seeds the random source of the rate-based faults.
    pub fn random_seed(mut self, seed: u64) -> Self {
        self.random_seed = Some(seed);
        self
    }
}

/// What the fault layer decided for one call.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub latency: Duration,
    pub fail_before: Option<tonic::Status>,
    pub lose_response: bool,
}

struct Rule {
    id: u64,
    fault: Fault,
    remaining: u64,
}

/// The faults in force plus their running state (remaining fail-first
/// counts, the random source). The one implementation behind the handle's
/// and the admin API's fault methods.
pub(crate) struct FaultRuntime {
    rules: Vec<Rule>,
    next_id: u64,
    rng: StdRng,
    seed: Option<u64>,
}

impl FaultRuntime {
    pub fn new(faults: Faults) -> Self {
        let rng = match faults.random_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let mut rt = Self {
            rules: Vec::new(),
            next_id: 1,
            rng,
            seed: faults.random_seed,
        };
        for f in faults.rules {
            rt.add(f);
        }
        rt
    }

    /// Adds a fault (already checked); its id.
    pub fn add(&mut self, fault: Fault) -> u64 {
        let fault = fault.normalised();
        let remaining = match &fault {
            Fault::FailFirst { count, .. } => *count,
            _ => 0,
        };
        let id = self.next_id;
        self.next_id += 1;
        self.rules.push(Rule {
            id,
            fault,
            remaining,
        });
        id
    }

    /// Removes every fault (the random source restarts from its seed).
    pub fn clear(&mut self) {
        *self = Self::new(Faults {
            rules: Vec::new(),
            random_seed: self.seed,
        });
    }

    /// The faults in force, in the order added.
    pub fn list(&self) -> Vec<ActiveFault> {
        self.rules
            .iter()
            .map(|r| ActiveFault {
                id: r.id,
                fault: r.fault.clone(),
                remaining: matches!(r.fault, Fault::FailFirst { .. }).then_some(r.remaining),
            })
            .collect()
    }

    /// The latest rule of `kind` scoped to `method`, else the latest global one.
    fn scoped<T>(&self, method: &str, pick: impl Fn(&Fault) -> Option<T>) -> Option<T> {
        let mut global = None;
        for r in self.rules.iter().rev() {
            let Some(v) = pick(&r.fault) else { continue };
            match r.fault.method() {
                Some(m) if m == method => return Some(v),
                None if global.is_none() => global = Some(v),
                _ => {}
            }
        }
        global
    }

    /// NOT_FOUND Gets for a new operation of `method`.
    pub fn not_found_gets(&self, method: &str) -> u32 {
        self.scoped(method, |f| match f {
            Fault::OperationNotFoundGets { gets, .. } => Some(*gets),
            _ => None,
        })
        .unwrap_or(0)
    }

    /// Takes the first `fail_next_operation` rule of `method`, if any.
    pub fn take_operation_failure(&mut self, method: &str) -> Option<(tonic::Code, String)> {
        let at = self.rules.iter().position(
            |r| matches!(&r.fault, Fault::FailNextOperation { method: m, .. } if m == method),
        )?;
        match self.rules.remove(at).fault {
            Fault::FailNextOperation { code, message, .. } => Some((code, message)),
            _ => None,
        }
    }

    pub fn decide(&mut self, method: &str) -> Decision {
        let mut d = Decision {
            latency: Duration::from_millis(
                self.scoped(method, |f| match f {
                    Fault::Latency { ms, .. } => Some(*ms),
                    _ => None,
                })
                .unwrap_or(0),
            ),
            ..Decision::default()
        };
        for r in &mut self.rules {
            if let Fault::FailFirst {
                method: m, code, ..
            } = &r.fault
            {
                if m == method && r.remaining > 0 {
                    r.remaining -= 1;
                    d.fail_before = Some(tonic::Status::new(
                        *code,
                        format!("emulated failure of {method} (fail-first fault)"),
                    ));
                    return d;
                }
            }
        }
        let unavailable = self
            .scoped(method, |f| match f {
                Fault::UnavailableRate { rate, .. } => Some(*rate),
                _ => None,
            })
            .unwrap_or(0.0);
        if unavailable > 0.0 && self.rng.random_bool(unavailable) {
            d.fail_before = Some(tonic::Status::unavailable(
                "emulated transient failure (unavailable-rate fault)",
            ));
            return d;
        }
        let lost = self
            .scoped(method, |f| match f {
                Fault::LostResponseRate { rate, .. } => Some(*rate),
                _ => None,
            })
            .unwrap_or(0.0);
        if lost > 0.0 && self.rng.random_bool(lost) {
            d.lose_response = true;
        }
        d
    }
}

/// gRPC code names as gRPC spells them, by number.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The gRPC name of a code (`UNAVAILABLE`).
pub fn code_name(code: tonic::Code) -> &'static str {
    CODE_NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
}

/// Parses a gRPC code from its name (`UNAVAILABLE`, `Unavailable`,
/// `unavailable`) or number (`14`).
///
/// ```
/// use yc_billing::emulator::parse_code;
/// assert_eq!(parse_code("UNAVAILABLE"), Some(tonic::Code::Unavailable));
/// assert_eq!(parse_code("14"), Some(tonic::Code::Unavailable));
/// assert_eq!(parse_code("17"), None);
/// ```
pub fn parse_code(s: &str) -> Option<tonic::Code> {
    if let Ok(n) = s.parse::<i32>() {
        let code = tonic::Code::from_i32(n);
        return (code as i32 == n).then_some(code);
    }
    let norm: String = s.chars().filter(|c| *c != '_').collect::<String>();
    CODE_NAMES
        .iter()
        .position(|name| name.replace('_', "").eq_ignore_ascii_case(&norm))
        .map(|i| tonic::Code::from_i32(i as i32))
}

mod code_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(code: &tonic::Code, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::code_name(*code))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<tonic::Code, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NameOrNumber {
            Name(String),
            Number(i64),
        }
        let text = match NameOrNumber::deserialize(d)? {
            NameOrNumber::Name(s) => s,
            NameOrNumber::Number(n) => n.to_string(),
        };
        super::parse_code(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown gRPC code {}: expected a name like UNAVAILABLE or a number 0-16",
                super::super::text::echo(&text)
            ))
        })
    }
}
