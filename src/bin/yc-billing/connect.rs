//! Global options and the client they build.

use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use yc_billing::auth::{Credentials, Profile};
use yc_billing::client::MAX_TIMEOUT;
use yc_billing::region::Region;
use yc_billing::{Client, Error};

/// Output format of results on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Proto3 JSON in the REST API's shapes (camelCase, RFC 3339).
    Json,
    /// The same shapes as `json`, in YAML (as `yc --format yaml`).
    Yaml,
    /// A readable table.
    Table,
    /// CSV, one row per entity and period (`usage report` only).
    Csv,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Send every service (Billing, Operation, IAM) to this HOST:PORT or URL.
    #[arg(
        long,
        global = true,
        env = "YC_BILLING_ENDPOINT",
        value_name = "HOST:PORT"
    )]
    pub endpoint: Option<String>,
    /// Region whose public endpoints are used without --endpoint.
    #[arg(long, global = true, env = "YC_BILLING_REGION", default_value = "ru",
          value_parser = parse_region)]
    pub region: Region,
    /// Plaintext HTTP/2 instead of TLS (for an emulator on loopback).
    #[arg(long, global = true)]
    pub plaintext: bool,
    /// Verify the server with this CA certificate (PEM) only.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// A static IAM token.
    #[arg(
        long,
        global = true,
        env = "YC_IAM_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub iam_token: Option<String>,
    /// A Yandex Passport OAuth token, exchanged for IAM tokens.
    #[arg(
        long,
        global = true,
        env = "YC_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub oauth_token: Option<String>,
    /// A service-account authorized key file (JSON); YC_SERVICE_ACCOUNT_KEY_FILE
    /// may hold the key's JSON itself instead of a path.
    #[arg(
        long,
        global = true,
        env = "YC_SERVICE_ACCOUNT_KEY_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub sa_key_file: Option<PathBuf>,
    /// A profile of the yc CLI's config file (YC_CONFIG, else
    /// ~/.config/yandex-cloud/config.yaml): its credentials and endpoint.
    #[arg(long, global = true, env = "YC_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Take IAM tokens from the VM metadata service (YC_METADATA_ADDR overrides its address).
    #[arg(long, global = true)]
    pub metadata: bool,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "json")]
    pub format: Format,
    /// Deadline of each call, retries included (e.g. 30s, 500ms, 2m).
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_region(s: &str) -> Result<Region, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds, greater
/// than zero and at most [`MAX_TIMEOUT`] (99999999h, the most a gRPC
/// deadline can carry). Never panics: huge numbers are an error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 500ms, 2m)"))?;
    let unit_secs = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    let too_long =
        || format!("{s:?} is too long: at most 99999999h, the most a gRPC deadline can carry");
    if n.is_infinite() {
        return Err(too_long());
    }
    if n.is_nan() || n <= 0.0 {
        return Err(format!("{s:?} must be greater than zero"));
    }
    let duration = Duration::try_from_secs_f64(n * unit_secs).map_err(|_| too_long())?;
    if duration > MAX_TIMEOUT {
        return Err(too_long());
    }
    if duration.is_zero() {
        return Err(format!("{s:?} must be at least a nanosecond"));
    }
    Ok(duration)
}

/// Whether `id` was given on the command line (at any subcommand level),
/// rather than taken from the environment or a default.
fn on_command_line(matches: &ArgMatches, id: &str) -> bool {
    let here = matches.try_contains_id(id).unwrap_or(false)
        && matches.value_source(id) == Some(ValueSource::CommandLine);
    here || matches
        .subcommand()
        .is_some_and(|(_, sub)| on_command_line(sub, id))
}

/// The credentials the options ask for, and the `yc` profile they came from.
pub struct Resolved {
    /// What to authenticate with.
    pub credentials: Credentials,
    /// The profile, whose endpoint applies too.
    pub profile: Option<Profile>,
    /// The option or variable that chose them, when the library's chain did not.
    pub option: Option<String>,
}

impl Resolved {
    /// How the credentials were chosen, in words (never the secret).
    pub fn origin(&self) -> String {
        match (&self.option, self.credentials.origin()) {
            (Some(option), _) => option.clone(),
            (None, Some(origin)) => origin.to_owned(),
            (None, None) => "the command line".to_owned(),
        }
    }
}

/// The credentials the options ask for.
///
/// A credential option given on the command line wins over one taken from
/// the environment; two on the command line are a usage error. Without any,
/// the environment chain of [`Credentials::from_env`] decides (the
/// variables, then the `yc` profile, ending at the metadata service).
pub fn credentials(global: &GlobalArgs, matches: &ArgMatches) -> anyhow::Result<Resolved> {
    let only = |credentials, id: &str, env: &str| {
        let option = if on_command_line(matches, id) {
            format!("--{}", id.replace('_', "-"))
        } else {
            env.to_owned()
        };
        Ok(Resolved {
            credentials,
            profile: None,
            option: Some(option),
        })
    };
    let explicit: Vec<&str> = [
        "iam_token",
        "oauth_token",
        "sa_key_file",
        "profile",
        "metadata",
    ]
    .into_iter()
    .filter(|id| on_command_line(matches, id))
    .collect();
    if explicit.len() > 1 {
        let flags: Vec<String> = explicit
            .iter()
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        return Err(Error::config(
            "command line",
            format!("choose one credential option of {}", flags.join(", ")),
        )
        .into());
    }
    let pick = |id: &str| explicit.is_empty() || explicit.contains(&id);
    if pick("metadata") && global.metadata {
        return only(Credentials::metadata_service(), "metadata", "--metadata");
    }
    if pick("iam_token") {
        if let Some(token) = &global.iam_token {
            return only(Credentials::iam_token(token), "iam_token", "YC_IAM_TOKEN");
        }
    }
    if pick("oauth_token") {
        if let Some(token) = &global.oauth_token {
            return only(Credentials::oauth_token(token), "oauth_token", "YC_TOKEN");
        }
    }
    if pick("sa_key_file") {
        if let Some(path) = &global.sa_key_file {
            // The variable may hold the key's JSON; the option is always a path
            // (a key on the command line would show in the process list).
            if on_command_line(matches, "sa_key_file") {
                return only(
                    Credentials::service_account_key_file(path)?,
                    "sa_key_file",
                    "",
                );
            }
            let value = path.to_str().ok_or_else(|| {
                Error::config("YC_SERVICE_ACCOUNT_KEY_FILE", "is not valid UTF-8")
            })?;
            let json = value.trim_start().starts_with('{');
            let credentials =
                Credentials::service_account_key_path_or_json(value).map_err(|e| match e {
                    Error::Config { field, reason } => {
                        Error::config(format!("YC_SERVICE_ACCOUNT_KEY_FILE: {field}"), reason)
                    }
                    other => other,
                })?;
            let env = if json {
                "YC_SERVICE_ACCOUNT_KEY_FILE (key JSON)"
            } else {
                "YC_SERVICE_ACCOUNT_KEY_FILE (file)"
            };
            return only(credentials, "sa_key_file", env);
        }
    }
    // YC_PROFILE alone is the library chain's business (after the variables;
    // a profile without credentials is passed over there).
    if pick("profile") && on_command_line(matches, "profile") {
        if let Some(name) = &global.profile {
            let profile = Profile::load(Some(name))?;
            let credentials = profile.clone().into_credentials()?;
            return Ok(Resolved {
                credentials,
                profile: Some(profile),
                option: None,
            });
        }
    }
    let (credentials, profile) = Credentials::from_env_with_profile()?;
    Ok(Resolved {
        credentials,
        profile,
        option: None,
    })
}

/// A client for the global options with these credentials. The profile's
/// endpoint (and so its region) applies unless `--endpoint` or `--region` is given.
pub async fn build(
    global: &GlobalArgs,
    matches: &ArgMatches,
    resolved: Resolved,
) -> anyhow::Result<Client> {
    let Resolved {
        credentials,
        profile,
        ..
    } = resolved;
    let mut builder = Client::builder().region(global.region);
    if let Some(profile) = &profile {
        let region_set =
            on_command_line(matches, "region") || std::env::var_os("YC_BILLING_REGION").is_some();
        if global.endpoint.is_none() && !region_set {
            builder = builder.profile(profile);
        }
    }
    let mut builder = builder
        .plaintext(global.plaintext)
        .request_timeout(global.timeout)
        .user_agent(concat!("yc-billing-cli/", env!("CARGO_PKG_VERSION")))
        .credentials(credentials);
    if let Some(endpoint) = &global.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Some(ca) = &global.ca_cert {
        builder = builder.ca_certificate_file(ca);
    }
    Ok(builder.build().await?)
}

/// The client the global options describe.
pub async fn client(global: &GlobalArgs, matches: &ArgMatches) -> anyhow::Result<Client> {
    let resolved = credentials(global, matches)?;
    build(global, matches, resolved).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        for s in [
            "18446744073709551616s",
            "99999999999999999999999h",
            "5000000000000000000s",
            "100000000h",
            "6000000000m",
            &"9".repeat(400),
        ] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains("too long"), "{s}: {e}");
        }
        assert_eq!(parse_duration("99999999h"), Ok(MAX_TIMEOUT));
        assert!(parse_duration("0.0000000001s").is_err());
        assert!(parse_duration(".").is_err());
    }
}
