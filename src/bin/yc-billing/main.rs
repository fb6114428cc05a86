//! `yc-billing`: command line for the Yandex Cloud Billing API tools.

mod emulator_cmd;

use clap::{Parser, Subcommand};

/// Yandex Cloud Billing tools.
#[derive(Debug, Parser)]
#[command(name = "yc-billing", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Billing API emulator until SIGINT/SIGTERM.
    Emulator(emulator_cmd::EmulatorArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Emulator(args) => emulator_cmd::run(args).await,
    }
}
