//! `yc-billing`: command line for the Yandex Cloud Billing API.
//!
//! Every RPC of `CustomerService`, `BillingAccountService` and
//! `OperationService` has a subcommand, and `call` reaches any RPC of the
//! method table with a JSON request; `emulator` runs the emulator and
//! `demo` walks a reseller flow. JSON (the REST API's shapes) goes to stdout,
//! errors go to stderr, and the exit code tells usage (2), auth (3), not
//! found (4), invalid argument (5) and other (1) failures apart.

mod auth_cmd;
mod call;
mod catalogue_cmd;
mod commands;
mod connect;
mod demo;
mod emulator_cmd;
mod output;
mod sanitize;
mod usage;
mod wait;

use std::process::ExitCode;

/// mimalloc instead of the system allocator: a usage report by month of
/// 10,000 resources builds about 650,000 small strings, and glibc's malloc
/// (with its page faults on every regrowth of the heap) doubled its time
/// (BENCHMARKS.md, usage reports).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use connect::GlobalArgs;

/// Yandex Cloud Billing API from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "yc-billing",
    version,
    about,
    after_help = "Exit codes: 0 success, 1 other error, 2 usage or configuration, \
                  3 authentication or permission, 4 not found, 5 invalid argument, \
                  130 interrupted."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Customers of a reseller (CustomerService).
    #[command(subcommand)]
    Customers(commands::CustomersCmd),
    /// Billing accounts, billable-object bindings and access bindings (BillingAccountService).
    #[command(subcommand)]
    Accounts(commands::AccountsCmd),
    /// SKUs and their prices (SkuService).
    #[command(subcommand)]
    Skus(catalogue_cmd::SkusCmd),
    /// The billable cloud services (ServiceService).
    #[command(subcommand)]
    Services(catalogue_cmd::ServicesCmd),
    /// Budgets of a billing account (BudgetService).
    #[command(subcommand)]
    Budgets(catalogue_cmd::BudgetsCmd),
    /// Long-running operations by id (OperationService).
    #[command(subcommand)]
    Operations(commands::OperationsCmd),
    /// Which credentials would be used (`auth which`) and their IAM token (`auth print-token`).
    #[command(subcommand)]
    Auth(auth_cmd::AuthCmd),
    /// Usage reports and what they can be asked about (ConsumptionCoreService, MetadataService).
    #[command(subcommand)]
    Usage(usage::UsageCmd),
    /// Call any RPC of the API with a proto3 JSON request (`call --list` shows them).
    Call(call::CallArgs),
    /// Run the Billing API emulator until SIGINT/SIGTERM.
    Emulator(Box<emulator_cmd::EmulatorArgs>),
    /// Walk a reseller flow step by step against an in-process emulator
    /// (or, with --endpoint, against a real endpoint).
    Demo(demo::DemoArgs),
}

/// The command line: the client's global options stay out of `emulator`,
/// whose help lists only its own options and says which credentials it
/// accepts.
fn command() -> clap::Command {
    let cmd = Cli::command();
    // Globals are copied into every subcommand that lacks an argument of
    // the same id; give `emulator` hidden copies of its own (given there,
    // they are refused, see `globals_given_to_emulator`).
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    cmd.mut_subcommand("emulator", |mut sub| {
        for arg in globals {
            sub = sub.arg(arg.global(false).hide(true));
        }
        sub.after_help(emulator_cmd::credentials_help())
    })
}

/// The client's global options given to `emulator` on the command line.
fn globals_given_to_emulator(matches: &clap::ArgMatches) -> Vec<String> {
    let Some(("emulator", sub)) = matches.subcommand() else {
        return Vec::new();
    };
    Cli::command()
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter(|a| {
            sub.try_contains_id(a.get_id().as_str()).unwrap_or(false)
                && sub.value_source(a.get_id().as_str())
                    == Some(clap::parser::ValueSource::CommandLine)
        })
        .map(|a| format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())))
        .collect()
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let misplaced = globals_given_to_emulator(&matches);
    if !misplaced.is_empty() {
        command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{} {} of the client and {} nothing for `emulator` \
                     (see `yc-billing emulator --help` for the credentials it accepts)",
                    misplaced.join(", "),
                    if misplaced.len() == 1 {
                        "is an option"
                    } else {
                        "are options"
                    },
                    if misplaced.len() == 1 { "does" } else { "do" }
                ),
            )
            .exit();
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let default_filter = match cli.command {
        Command::Emulator(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Command::Emulator(args) = &cli.command
        && let Some(n) = args.worker_threads
    {
        runtime.worker_threads(usize::from(n));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli, &matches));
    let code = match result {
        Ok(()) => output::EXIT_OK,
        Err(e) => output::report(&e),
    };
    // Do not wait for lingering background tasks (token refreshes, channels).
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Whether log lines on stderr get ANSI colours: only on a terminal, and
/// not when `NO_COLOR` is set to anything but the empty string
/// (<https://no-color.org>).
fn colour_logs(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

async fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    match command {
        Command::Emulator(args) => emulator_cmd::run(*args).await,
        command => {
            tokio::select! {
                biased;
                interrupted = wait::interrupted() => Err(interrupted.into()),
                result = dispatch(command, global, matches) => result,
            }
        }
    }
}

async fn dispatch(
    command: Command,
    global: GlobalArgs,
    matches: &clap::ArgMatches,
) -> anyhow::Result<()> {
    match command {
        Command::Customers(cmd) => {
            let client = connect::client(&global, matches).await?;
            commands::customers(&client, &global, cmd).await
        }
        Command::Accounts(cmd) => {
            let client = connect::client(&global, matches).await?;
            commands::accounts(&client, &global, cmd).await
        }
        Command::Operations(cmd) => {
            let client = connect::client(&global, matches).await?;
            commands::operations(&client, &global, cmd).await
        }
        Command::Auth(cmd) => auth_cmd::run(cmd, &global, matches).await,
        Command::Usage(cmd) => {
            let client = connect::client(&global, matches).await?;
            usage::run(&client, &global, cmd).await
        }
        Command::Skus(cmd) => {
            let client = connect::client(&global, matches).await?;
            catalogue_cmd::skus(&client, &global, cmd).await
        }
        Command::Services(cmd) => {
            let client = connect::client(&global, matches).await?;
            catalogue_cmd::services(&client, &global, cmd).await
        }
        Command::Budgets(cmd) => {
            let client = connect::client(&global, matches).await?;
            catalogue_cmd::budgets(&client, &global, cmd).await
        }
        Command::Call(args) => call::run(args, &global, matches).await,
        Command::Demo(args) => demo::run(args, &global, matches).await,
        Command::Emulator(_) => unreachable!("handled by run"),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour_logs;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_logs(true, None));
        assert!(colour_logs(true, Some(OsStr::new(""))));
        assert!(!colour_logs(true, Some(OsStr::new("1"))));
        assert!(!colour_logs(false, None));
        assert!(!colour_logs(false, Some(OsStr::new("1"))));
    }
}
