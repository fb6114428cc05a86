//! What every server task of one emulator shares: the state and its settings.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::auth;
use super::catalogue::Catalogue;
use super::faults::{FaultRuntime, Faults};
use super::journal::Journal;
use super::layer::CallCounters;
use super::operations::Completion;
use super::paging::PageTokens;
use super::seed::Seed;
use super::state::{IamTokenEntry, State};
use super::validation::Validator;
use crate::time::{Clock, ManualClock};

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<FaultRuntime>,
    pub calls: CallCounters,
    pub iam_exchanges: AtomicU64,
    pub completion: Completion,
    pub iam_token_ttl: Duration,
    pub clock: Arc<dyn Clock>,
    /// `x-operation-poll-interval` on operation answers: seconds,
    /// fractional below a second ("0.3").
    pub poll_hint_header: Option<http::HeaderValue>,
    pub validator: &'static Validator,
    pub strict_person_fields: bool,
    pub pages: PageTokens,
    pub api_address: String,
    pub jwt_audiences: Vec<String>,
    pub default_subject: String,
    pub reseller_id: String,
    pub journal: Journal,
    /// The price catalogue: read-only, so read without the state lock.
    pub catalogue: Arc<Catalogue>,
    /// Consumption records of the usage API.
    pub usage: super::usage::LazyUsage,
    /// The usage API's rate limit: one call per this interval per IP.
    pub usage_rate_limit: Option<Duration>,
    /// When each IP last called the usage API (with the rate limit on).
    pub usage_calls: Mutex<std::collections::HashMap<Option<std::net::IpAddr>, SystemTime>>,
    /// What `reset` goes back to.
    pub reset_to: ResetTo,
    /// The emulator's own manual clock (`--manual-clock`), which the admin
    /// API may move; operations are then due by it.
    pub manual_clock: Option<ManualClock>,
    /// Where the state is written after each change (`--state-file`).
    pub state_file: Option<super::admin::StateFile>,
}

/// The starting point `reset` restores.
pub(crate) struct ResetTo {
    /// The seed, plus the service-account keys the handle created since
    /// (`--write-sa-key` keys keep working across resets).
    pub seed: Mutex<Seed>,
    pub faults: Faults,
    pub random_delay: Option<(Duration, u64)>,
}

impl Shared {
    /// The state, with due operations completed.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.settle(self.completion);
        st
    }

    /// The fault rules and their running state.
    pub fn faults(&self) -> MutexGuard<'_, FaultRuntime> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// NOT_FOUND Gets a new operation of `method` starts with.
    pub fn not_found_gets(&self, method: &str) -> u32 {
        self.faults().not_found_gets(method)
    }

    /// The failure a new operation of `method` ends with, if a fault says so.
    pub fn take_operation_failure(&self, method: &str) -> Option<(tonic::Code, String)> {
        self.faults().take_operation_failure(method)
    }

    pub fn issue_iam_token(&self, subject_id: &str, ttl: Duration) -> (String, SystemTime) {
        let token = auth::new_iam_token();
        let expires_at = self.clock.now() + ttl;
        self.lock().iam_tokens.insert(
            token.clone(),
            IamTokenEntry {
                subject_id: subject_id.to_string(),
                expires_at: Some(expires_at),
            },
        );
        (token, expires_at)
    }
}
