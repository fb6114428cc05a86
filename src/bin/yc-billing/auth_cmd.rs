//! `yc-billing auth`: which credentials the options and environment choose, and their token.

use clap::{ArgMatches, Subcommand};
use serde_json::{Value, json};

use crate::connect::{self, GlobalArgs};
use crate::output;

/// What `auth` does.
#[derive(Debug, Subcommand)]
pub enum AuthCmd {
    /// Print an IAM token of the chosen credentials on stdout (the only
    /// command that shows a secret), e.g. for
    /// `curl -H "Authorization: Bearer $(yc-billing auth print-token)"`.
    PrintToken,
    /// Show which credential source would be used and why, and the sources
    /// passed over before it; never a secret, and nothing is sent.
    Which,
}

/// Runs an `auth` subcommand.
pub async fn run(cmd: AuthCmd, global: &GlobalArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    match cmd {
        AuthCmd::PrintToken => {
            let client = connect::client(global, matches).await?;
            let token = client.token().await?;
            println!("{}", token.secret());
            Ok(())
        }
        AuthCmd::Which => {
            let resolved = connect::credentials(global, matches)?;
            output::print(global.format, &which(&resolved))
        }
    }
}

/// The report of `auth which`.
fn which(resolved: &connect::Resolved) -> Value {
    let c = &resolved.credentials;
    let mut report = json!({
        "source": c.kind().to_string(),
        "origin": resolved.origin(),
    });
    if let Some(p) = &resolved.profile {
        report["profile"] = json!({
            "name": p.name(),
            "path": p.path().display().to_string(),
            "endpoint": p.endpoint(),
            "region": p.region().map(|r| r.to_string()),
            "cloudId": p.cloud_id(),
            "folderId": p.folder_id(),
        });
    }
    let skipped: Vec<Value> = c
        .skipped()
        .iter()
        .map(|a| {
            json!({
                "source": a.source().to_string(),
                "setting": a.setting(),
                "reason": a.reason(),
            })
        })
        .collect();
    if !skipped.is_empty() {
        report["skipped"] = Value::Array(skipped);
    }
    report
}
