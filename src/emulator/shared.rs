//! What every server task of one emulator shares: the state and its settings.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::auth;
use super::catalogue::Catalogue;
use super::faults::FaultRuntime;
use super::layer::CallCounters;
use super::operations::Completion;
use super::paging::PageTokens;
use super::state::{IamTokenEntry, State};
use super::validation::Validator;
use crate::time::Clock;

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<FaultRuntime>,
    pub calls: CallCounters,
    pub iam_exchanges: AtomicU64,
    pub completion: Completion,
    pub iam_token_ttl: Duration,
    pub clock: Arc<dyn Clock>,
    pub poll_hint: Option<Duration>,
    pub validator: Validator,
    pub strict_person_fields: bool,
    pub pages: PageTokens,
    pub api_address: String,
    pub jwt_audiences: Vec<String>,
    pub default_subject: String,
    pub reseller_id: String,
    /// The price catalogue: read-only, so read without the state lock.
    pub catalogue: Arc<Catalogue>,
}

impl Shared {
    /// The state, with due operations completed.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.settle(self.completion);
        st
    }

    pub fn not_found_gets(&self) -> u32 {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .faults
            .operation_not_found_gets
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
