//! Waiting for operations: spinner on a terminal, Ctrl-C with a resume hint.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use futures::{Stream, StreamExt};
use prost::{Message, Name};
use yc_billing::operation::{OperationState, RawOperationState};
use yc_billing::proto::yandex::cloud::operation::Operation as ProtoOperation;
use yc_billing::{Operation, PollingPolicy, RawOperation};

/// The operation being waited for, named by the Ctrl-C message.
static CURRENT: Mutex<Option<String>> = Mutex::new(None);

fn set_current(id: Option<String>) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = id;
}

/// Options of every mutating command.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Print the operation and return at once instead of waiting for it.
    #[arg(long = "async")]
    pub no_wait: bool,
    /// Give up waiting after this long (the operation goes on; resume with
    /// `yc-billing operations wait ID`).
    #[arg(long, default_value = "10m", value_parser = crate::connect::parse_duration)]
    pub wait_timeout: Duration,
}

/// The user pressed Ctrl-C.
#[derive(Debug)]
pub struct Interrupted {
    operation: Option<String>,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.operation {
            Some(id) => write!(
                f,
                "interrupted; operation {id} goes on on the server.\n\
                 resume waiting with: yc-billing operations wait {id}"
            ),
            None => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// Resolves on the first SIGINT (Ctrl-C), naming the operation being waited for.
pub async fn interrupted() -> Interrupted {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling here: never interrupt.
        std::future::pending::<()>().await;
    }
    clear_line();
    Interrupted {
        operation: CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone(),
    }
}

fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn clear_line() {
    if stderr_is_terminal() {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
}

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Waits for the operation, drawing a spinner with the elapsed time on stderr
/// when stderr is a terminal. Returns the final operation message and its
/// decoded response; an operation that failed is an error.
pub async fn wait<M, R>(
    op: Operation<M, R>,
    timeout: Duration,
) -> yc_billing::Result<(ProtoOperation, R)>
where
    M: Message + Name + Default + 'static,
    R: Message + Name + Default + 'static,
{
    let (id, label) = label(op.id(), op.description());
    let states = op.watch(policy(timeout));
    let done = spin(id, label, states, OperationState::is_done).await?;
    let response = done
        .result()
        .unwrap_or_else(|| unreachable!("spin returns done states"))?;
    Ok((done.into_untyped().into_raw(), response))
}

/// Waits until the operation is done (successfully or not) and returns its
/// final message, with the spinner of [`wait`]. The types are not checked.
pub async fn wait_done(op: RawOperation, timeout: Duration) -> yc_billing::Result<ProtoOperation> {
    let (id, label) = label(op.id(), op.description());
    let states = op.watch(policy(timeout));
    let done = spin(id, label, states, RawOperationState::is_done).await?;
    Ok(done.into_raw())
}

fn policy(timeout: Duration) -> PollingPolicy {
    PollingPolicy::default().with_time_limit(timeout)
}

/// The operation's id and its spinner label. Server-supplied: escaped, and
/// short enough for one terminal line.
fn label(id: &str, description: &str) -> (String, String) {
    let label = if description.is_empty() {
        format!("operation {}", crate::sanitize::cut(id, 40))
    } else {
        format!(
            "{} ({})",
            crate::sanitize::cut(description, 40),
            crate::sanitize::cut(id, 40)
        )
    };
    (id.to_owned(), label)
}

/// Drives a watch of operation `id` to its first done state, drawing the
/// spinner meanwhile and naming `id` to the Ctrl-C handler.
async fn spin<S>(
    id: String,
    label: String,
    states: impl Stream<Item = yc_billing::Result<S>>,
    is_done: fn(&S) -> bool,
) -> yc_billing::Result<S> {
    set_current(Some(id));
    let tty = stderr_is_terminal();
    let start = Instant::now();
    let mut states = std::pin::pin!(states);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut frame = 0;
    let outcome = loop {
        tokio::select! {
            state = states.next() => match state {
                Some(Ok(state)) if is_done(&state) => break Ok(state),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(e),
                None => unreachable!("the watch ends only after a done state or an error"),
            },
            _ = tick.tick(), if tty => {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[K{} waiting for {label} {:.1}s",
                    FRAMES[frame % FRAMES.len()],
                    start.elapsed().as_secs_f64()
                );
                let _ = err.flush();
                frame += 1;
            }
        }
    };
    if tty {
        clear_line();
    }
    set_current(None);
    outcome
}
