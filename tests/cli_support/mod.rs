//! Shared helpers for the tests that run the `yc-billing` binary.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_yc-billing");

/// What one run of the binary left: exit code, output and wall time.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Out {
    /// Stdout parsed as JSON (panics with both streams when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts exit code 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stderr:\n{}", self.stderr);
        self
    }
}

/// The binary with `args` and every credential, endpoint, metadata, logging
/// and colour variable removed from its environment.
pub fn command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env_remove("YC_IAM_TOKEN")
        .env_remove("YC_TOKEN")
        .env_remove("YC_SERVICE_ACCOUNT_KEY_FILE")
        .env_remove("YC_METADATA_ADDR")
        .env_remove("YC_BILLING_ENDPOINT")
        .env_remove("YC_BILLING_RESELLER_ID")
        .env_remove("YC_BILLING_REGION")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to the end, giving it at most 60 s.
pub async fn output(cmd: tokio::process::Command) -> Out {
    output_within(cmd, Duration::from_secs(60)).await
}

/// Runs `cmd` to the end, giving it at most `limit`.
pub async fn output_within(mut cmd: tokio::process::Command, limit: Duration) -> Out {
    let started = Instant::now();
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{cmd:?} still running after {limit:?}"))
        .expect("the binary runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took: started.elapsed(),
    }
}

/// Starts `yc-billing emulator` with `args` and returns it with the first
/// line it printed (the ready line, or the env lines with `--print-env`),
/// waiting at most 30 s. The child is killed when dropped.
pub async fn spawn_emulator(args: &[&str]) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut all = vec!["emulator", "--no-metadata"];
    all.extend_from_slice(args);
    let mut child = command(&all).spawn().expect("the emulator starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a first line within 30 s")
        .expect("stdout reads")
        .expect("the emulator printed a line");
    // Keep reading (and dropping) the rest so the child never blocks on stdout.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, first)
}

/// Stops a spawned emulator with SIGTERM and waits (at most 10 s) for its exit code.
#[cfg(unix)]
pub async fn terminate(mut child: tokio::process::Child) -> i32 {
    let pid = child.id().expect("the child runs") as i32;
    // SAFETY: kill(2) on the pid of our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the emulator exits within 10 s of SIGTERM")
        .expect("wait succeeds");
    status.code().unwrap_or(-1)
}
