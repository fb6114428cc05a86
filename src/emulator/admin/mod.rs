//! Control of a running emulator: reset, state snapshots, faults, the
//! request journal, operations and the clock. One implementation (the
//! methods here, on the shared state) behind both the
//! [`EmulatorHandle`](super::EmulatorHandle) methods and the admin HTTP API
//! (`http.rs`, JSON on its own loopback port).
//!
//! A reset (or a `PUT /state`) in the middle of pending operations discards
//! them with the rest of the state: their ids answer NOT_FOUND afterwards,
//! and their effects never apply.

pub(crate) mod http;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::faults::{ActiveFault, Fault, FaultRuntime};
use super::journal::JournalPage;
use super::operations::FinishError;
use super::seed::Seed;
use super::shared::Shared;
use super::state::State;
use crate::proto::yandex::cloud::operation::Operation;

/// The most `POST /clock:advance` moves the clock at once (100 years).
pub const MAX_CLOCK_ADVANCE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Why a control call was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A value broke a rule (HTTP 400).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (a JSON path).
        field: String,
        /// The rule.
        reason: String,
    },
    /// No such operation (HTTP 404).
    #[error("operation {0} not found")]
    OperationNotFound(String),
    /// The operation is already done (HTTP 409).
    #[error("operation {0} is already done")]
    OperationDone(String),
    /// The clock is not the emulator's manual clock (HTTP 409).
    #[error(
        "the emulator runs on the system clock; start it with --manual-clock (EmulatorBuilder::manual_clock) to move time"
    )]
    NoManualClock,
}

impl AdminError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AdminError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The emulator's clock, as `GET /clock` reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ClockReading {
    /// The emulator's time (RFC 3339).
    pub now: String,
    /// Whether it is the manual clock, moved only by `POST /clock:advance`.
    pub manual: bool,
}

/// Where the state is kept between runs (`--state-file`).
pub(crate) struct StateFile {
    path: PathBuf,
    /// The JSON last written, so an unchanged state is not written again.
    last: Mutex<String>,
}

impl StateFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            last: Mutex::new(String::new()),
        }
    }

    /// The seed in the file; `Ok(None)` when there is no file yet.
    pub fn load(path: &Path) -> Result<Option<Seed>, super::EmulatorError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(super::EmulatorError::StateFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        Seed::from_json(&text)
            .map(Some)
            .map_err(|e| super::EmulatorError::StateFile {
                path: path.to_path_buf(),
                reason: format!(
                    "{e} (the file is not an emulator state; fix or remove it, nothing was reset)"
                ),
            })
    }

    /// Writes `seed` when it differs from what was last written: a 0600
    /// temporary file in the same directory, synced, renamed over the file.
    pub fn write(&self, seed: &Seed) -> std::io::Result<()> {
        use std::io::Write;
        let json = seed.to_json();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if *last == json {
            return Ok(());
        }
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".yc-billing-state-")
            .tempfile_in(dir)?;
        tmp.write_all(json.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        *last = json;
        Ok(())
    }
}

impl Shared {
    /// A fresh state from `seed` with this emulator's settings.
    pub(crate) fn state_from(&self, seed: &Seed) -> State {
        let mut state = State::from_seed(seed, self.clock.clone());
        state.random_delay = self.reset_to.random_delay.map(|(max, seed)| {
            (
                max,
                <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed),
            )
        });
        state.due_on_clock = self.manual_clock.is_some();
        state
    }

    /// Back to the start: the seed's state (with the service-account keys
    /// the handle created), the starting faults, an empty
    /// journal (sequence numbers go on). Pending operations are discarded.
    pub(crate) fn reset(&self) {
        let seed = self
            .reset_to
            .seed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let fresh = self.state_from(&seed);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        *self.faults() = FaultRuntime::new(self.reset_to.faults.clone());
        self.journal.clear();
        self.persist();
    }

    /// The state as a seed.
    pub(crate) fn snapshot(&self) -> Seed {
        let mut seed = self
            .lock()
            .to_seed((&self.default_subject, &self.reseller_id));
        // Usage and the catalogue are built from the start seed's sections,
        // once; a state carries those sections unchanged.
        let start = self.reset_to.seed.lock().unwrap_or_else(|e| e.into_inner());
        seed.usage = start.usage.clone();
        seed.catalogue = start.catalogue.clone();
        seed
    }

    /// Replaces the state with `seed`'s (pending operations are discarded).
    pub(crate) fn restore(&self, seed: &Seed) {
        let fresh = self.state_from(seed);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.persist();
    }

    /// Writes the state file, when there is one (errors are logged).
    pub(crate) fn persist(&self) {
        if let Some(file) = &self.state_file {
            if let Err(e) = file.write(&self.snapshot()) {
                tracing::warn!(error = %e, "cannot write the state file");
            }
        }
    }

    /// Checks every fault, then adds them all (or none); their ids.
    pub(crate) fn add_faults(&self, faults: Vec<Fault>) -> Result<Vec<u64>, AdminError> {
        let served = self.calls.methods();
        for (i, f) in faults.iter().enumerate() {
            f.check(&served).map_err(|(field, reason)| {
                AdminError::invalid(format!("[{i}].{}.{field}", f.kind()), reason)
            })?;
        }
        let mut rt = self.faults();
        Ok(faults.into_iter().map(|f| rt.add(f)).collect())
    }

    pub(crate) fn list_faults(&self) -> Vec<ActiveFault> {
        self.faults().list()
    }

    pub(crate) fn clear_faults(&self) {
        self.faults().clear();
    }

    pub(crate) fn requests(&self, method: Option<&str>, since: u64) -> JournalPage {
        self.journal.page(method, since)
    }

    /// Every operation the state holds, oldest first.
    pub(crate) fn operations(&self) -> Vec<Operation> {
        let st = self.lock();
        let mut ops: Vec<_> = st
            .operations
            .values()
            .map(|r| (r.seq, r.op.clone()))
            .collect();
        ops.sort_by_key(|(seq, _)| *seq);
        ops.into_iter().map(|(_, op)| op).collect()
    }

    /// Finishes a pending operation now, with its effect or failed.
    pub(crate) fn finish_operation(
        &self,
        id: &str,
        fail: Option<(tonic::Code, String)>,
    ) -> Result<Operation, AdminError> {
        let op = {
            let mut st = self.lock();
            st.finish_now(id, fail).map_err(|e| match e {
                FinishError::NotFound => {
                    AdminError::OperationNotFound(super::text::echo(id).into_owned())
                }
                FinishError::Done => AdminError::OperationDone(super::text::echo(id).into_owned()),
            })?;
            st.operations[id].op.clone()
        };
        self.persist();
        Ok(op)
    }

    pub(crate) fn clock_reading(&self) -> ClockReading {
        ClockReading {
            now: prost_types::Timestamp::from(self.clock.now()).to_string(),
            manual: self.manual_clock.is_some(),
        }
    }

    /// Moves the manual clock forward; the new time.
    pub(crate) fn advance_clock(&self, by: Duration) -> Result<SystemTime, AdminError> {
        let clock = self
            .manual_clock
            .as_ref()
            .ok_or(AdminError::NoManualClock)?;
        if by > MAX_CLOCK_ADVANCE {
            return Err(AdminError::invalid(
                "seconds",
                format!(
                    "must be at most {} (100 years)",
                    MAX_CLOCK_ADVANCE.as_secs()
                ),
            ));
        }
        clock.advance(by);
        // Operations now due complete (and are persisted) at once.
        drop(self.lock());
        self.persist();
        Ok(crate::time::Clock::now(clock))
    }
}
