//! Fault injection: failing calls on purpose, lost responses, latency.

use std::collections::HashMap;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

/// Faults the emulator injects into calls. Everything is off by default.
///
/// Methods are named like `yandex.cloud.billing.v1.CustomerService/Invite`.
/// Random decisions come from one seeded source ([`Faults::random_seed`]),
/// so a run is reproducible for a given order of calls.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub(crate) fail_first: Vec<(String, u64, tonic::Code)>,
    pub(crate) lost_response_rate: f64,
    pub(crate) unavailable_rate: f64,
    pub(crate) latency: Duration,
    pub(crate) operation_not_found_gets: u32,
    pub(crate) random_seed: Option<u64>,
}

impl Faults {
    /// Fails the first `count` calls of `method` with `code` (before any effect).
    pub fn fail_first(mut self, method: &str, count: u64, code: tonic::Code) -> Self {
        self.fail_first.push((method.to_string(), count, code));
        self
    }

    /// Answers this fraction (0.0–1.0) of calls with UNAVAILABLE *after* the
    /// call took effect, as if the response was lost on the way back.
    pub fn lost_response_rate(mut self, rate: f64) -> Self {
        self.lost_response_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Answers this fraction (0.0–1.0) of calls with UNAVAILABLE before any effect.
    pub fn unavailable_rate(mut self, rate: f64) -> Self {
        self.unavailable_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Adds this latency to every call.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// `OperationService.Get` answers NOT_FOUND for the first `gets` Gets of
    /// every new operation, like the real API right after creation.
    pub fn operation_not_found_gets(mut self, gets: u32) -> Self {
        self.operation_not_found_gets = gets;
        self
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

/// Faults plus their running state (remaining fail-first counts, random source).
pub(crate) struct FaultRuntime {
    pub faults: Faults,
    remaining: HashMap<String, (u64, tonic::Code)>,
    rng: StdRng,
}

impl FaultRuntime {
    pub fn new(faults: Faults) -> Self {
        let mut remaining: HashMap<String, (u64, tonic::Code)> = HashMap::new();
        for (method, count, code) in &faults.fail_first {
            let entry = remaining.entry(method.clone()).or_insert((0, *code));
            entry.0 += count;
            entry.1 = *code;
        }
        let rng = match faults.random_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            faults,
            remaining,
            rng,
        }
    }

    pub fn decide(&mut self, method: &str) -> Decision {
        let mut d = Decision {
            latency: self.faults.latency,
            ..Decision::default()
        };
        if let Some((left, code)) = self.remaining.get_mut(method) {
            if *left > 0 {
                *left -= 1;
                d.fail_before = Some(tonic::Status::new(
                    *code,
                    format!("emulated failure of {method} (fail-first fault)"),
                ));
                return d;
            }
        }
        if self.faults.unavailable_rate > 0.0 && self.rng.random_bool(self.faults.unavailable_rate)
        {
            d.fail_before = Some(tonic::Status::unavailable(
                "emulated transient failure (unavailable-rate fault)",
            ));
            return d;
        }
        if self.faults.lost_response_rate > 0.0
            && self.rng.random_bool(self.faults.lost_response_rate)
        {
            d.lose_response = true;
        }
        d
    }
}
