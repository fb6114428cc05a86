//! `yc-billing auth which`, `auth print-token`, `--profile` and the
//! environment chain of the binary: `yc` config files in a temporary home,
//! keys as JSON in the environment, against an emulator on loopback TCP.
//! Every run is also searched for the secrets it was given.

use std::path::PathBuf;
use std::time::Duration;

use yc_billing::emulator::{
    DEFAULT_OAUTH_TOKEN, DEFAULT_RESELLER_ID, Emulator, EmulatorHandle, ServiceAccountKeyFile,
};

mod cli_support;
use cli_support::{Out, command, output};

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

/// A temporary home, removed on drop.
struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "yc-billing-cli-auth-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Home(dir)
    }

    /// Writes `~/.config/yandex-cloud/config.yaml` (mode 0600, as yc does).
    fn config(&self, text: &str) -> PathBuf {
        let dir = self.0.join(".config").join("yandex-cloud");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.yaml");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = command(args);
        cmd.env("HOME", &self.0);
        cmd
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

/// The key inline in a profile, as `yc config set service-account-key` writes it.
fn key_yaml(key: &ServiceAccountKeyFile) -> String {
    format!(
        "    service-account-key:\n      id: {}\n      service_account_id: {}\n      created_at: {}\n      \
         key_algorithm: {}\n      public_key: |\n{}      private_key: |\n{}",
        key.id,
        key.service_account_id,
        key.created_at,
        key.key_algorithm,
        indent(&key.public_key, 8),
        indent(&key.private_key, 8),
    )
}

/// Asserts that no part of the secrets shows in either stream.
fn assert_no_secret(out: &Out, secrets: &[&str]) {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    for secret in secrets {
        for line in secret
            .lines()
            .filter(|l| l.len() > 16 && !l.starts_with("-----"))
        {
            assert!(!all.contains(line), "secret leaked: {line:?} in\n{all}");
        }
        if !secret.contains('\n') {
            assert!(!all.contains(secret), "secret leaked: {secret:?} in\n{all}");
        }
    }
}

#[tokio::test]
async fn auth_which_names_the_profile_and_what_was_passed_over_never_the_key() {
    let emu = emulator().await;
    let key = emu.create_service_account_key("ajeclisa000000000001");
    let home = Home::new("which");
    let path = home.config(&format!(
        "current: sa\nprofiles:\n  sa:\n{}    folder-id: b1gfolder\n    endpoint: api.yandexcloud.kz:443\n",
        key_yaml(&key)
    ));
    let out = output(home.command(&["auth", "which"])).await.ok();
    let report = out.json();
    assert_eq!(report["source"], "service-account key");
    assert_eq!(
        report["origin"],
        format!("yc profile \"sa\" in {}", path.display())
    );
    assert_eq!(report["profile"]["name"], "sa");
    assert_eq!(report["profile"]["region"], "kz");
    assert_eq!(report["profile"]["folderId"], "b1gfolder");
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["setting"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["YC_IAM_TOKEN", "YC_TOKEN", "YC_SERVICE_ACCOUNT_KEY_FILE"]
    );
    assert_no_secret(&out, &[&key.private_key]);

    // Nothing anywhere: the metadata service, after every source, in order.
    let empty = Home::new("empty");
    let out = output(empty.command(&["auth", "which"])).await.ok();
    let report = out.json();
    assert_eq!(report["source"], "metadata service");
    let reasons: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["not set", "not set", "not set", "no such file"]);
    emu.shutdown().await;
}

#[tokio::test]
async fn print_token_prints_an_iam_token_of_the_chosen_source() {
    let emu = emulator().await;
    let addr = emu.addr().to_string();
    let base = ["--endpoint", addr.as_str(), "--plaintext"];

    // An OAuth token from the environment: exchanged, and one deprecation warning.
    let mut cmd = command(&[&base[..], &["auth", "print-token"]].concat());
    cmd.env("YC_TOKEN", DEFAULT_OAUTH_TOKEN);
    let out = output(cmd).await.ok();
    let token = out.stdout.trim();
    assert!(token.starts_with("t1.emu."), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(
        out.stderr
            .matches("OAuth tokens by the end of 2026")
            .count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("service-account authorized key"),
        "{}",
        out.stderr
    );
    assert_no_secret(&out, &[DEFAULT_OAUTH_TOKEN]);
    // The printed token works.
    let mut cmd = command(&[&base[..], &["accounts", "get", DEFAULT_RESELLER_ID]].concat());
    cmd.env("YC_IAM_TOKEN", token);
    output(cmd).await.ok();

    // A key as JSON in YC_SERVICE_ACCOUNT_KEY_FILE: no OAuth warning, no key shown.
    let key = emu.create_service_account_key("ajeclisa000000000002");
    let mut cmd = command(&[&base[..], &["auth", "print-token"]].concat());
    cmd.env("YC_SERVICE_ACCOUNT_KEY_FILE", key.to_json());
    let out = output(cmd).await.ok();
    assert!(out.stdout.trim().starts_with("t1.emu."), "{}", out.stdout);
    assert!(!out.stderr.contains("OAuth"), "{}", out.stderr);
    assert_no_secret(&out, &[&key.private_key]);

    // A broken key JSON: the field named, the key not shown, exit 2.
    let mut cmd = command(&[&base[..], &["auth", "print-token"]].concat());
    cmd.env(
        "YC_SERVICE_ACCOUNT_KEY_FILE",
        key.to_json().replace("\"service_account_id\"", "\"sa\""),
    );
    let out = output(cmd).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "YC_SERVICE_ACCOUNT_KEY_FILE: service account key (JSON): service_account_id: is missing"
        ),
        "{}",
        out.stderr
    );
    assert_no_secret(&out, &[&key.private_key]);

    // --help never shows the values of the secret variables.
    let mut cmd = command(&["--help"]);
    cmd.env("YC_SERVICE_ACCOUNT_KEY_FILE", key.to_json())
        .env("YC_TOKEN", DEFAULT_OAUTH_TOKEN);
    let out = output(cmd).await.ok();
    assert!(out.stdout.contains("--profile <NAME>"), "{}", out.stdout);
    assert_no_secret(&out, &[&key.private_key, DEFAULT_OAUTH_TOKEN]);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_profile_option_and_the_current_profile_reach_the_emulator() {
    let emu = emulator().await;
    let addr = emu.addr().to_string();
    let key = emu.create_service_account_key("ajeclisa000000000003");
    let home = Home::new("profile");
    home.config(&format!(
        "current: user\nprofiles:\n  user:\n    token: {DEFAULT_OAUTH_TOKEN}\n    endpoint: {addr}\n  \
         sa:\n{}    endpoint: {addr}\n  fed:\n    federation-id: bpfederation00000001\n  \
         bare:\n    folder-id: b1gfolder\n",
        key_yaml(&key)
    ));
    let get = ["--plaintext", "accounts", "get", DEFAULT_RESELLER_ID];
    // `current`, its endpoint through discovery (no --endpoint given).
    let out = output(home.command(&get)).await.ok();
    assert_eq!(out.json()["id"], DEFAULT_RESELLER_ID);
    // --profile, and YC_PROFILE.
    let out = output(home.command(&[&["--profile", "sa"][..], &get].concat()))
        .await
        .ok();
    assert_eq!(out.json()["id"], DEFAULT_RESELLER_ID);
    assert!(!out.stderr.contains("OAuth"), "{}", out.stderr);
    assert_no_secret(&out, &[&key.private_key]);
    let mut cmd = home.command(&get);
    cmd.env("YC_PROFILE", "sa");
    output(cmd).await.ok();
    // YC_PROFILE naming a profile without credentials: passed over, and listed.
    let mut cmd = home.command(&["auth", "which"]);
    cmd.env("YC_PROFILE", "bare");
    let report = output(cmd).await.ok().json();
    assert_eq!(report["source"], "metadata service");
    let last = &report["skipped"][3];
    assert_eq!(last["source"], "yc CLI profile");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("profile \"bare\" has no credentials"),
        "{report}"
    );
    assert_eq!(
        emu.calls(yc_billing::proto::paths::endpoint::api_endpoint_service::LIST),
        3
    );

    // A federated profile: a clear error and exit 3, not the metadata service.
    let out = output(home.command(&[&["--profile", "fed"][..], &get].concat())).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("is federated (federation-id)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("yc iam create-token"), "{}", out.stderr);
    assert!(!out.stderr.contains("metadata"), "{}", out.stderr);
    // A profile that is not there, and two credential options.
    let out = output(home.command(&[&["--profile", "nope"][..], &get].concat())).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("has no profile \"nope\""),
        "{}",
        out.stderr
    );
    let out =
        output(home.command(&[&["--profile", "sa", "--oauth-token", "y0_x"][..], &get].concat()))
            .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--oauth-token, --profile"),
        "{}",
        out.stderr
    );
    assert_no_secret(&out, &[DEFAULT_OAUTH_TOKEN]);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_broken_config_file_stops_the_chain_with_its_position() {
    let home = Home::new("broken");
    let path = home.config("current: p\nprofiles:\n  p:\n    token: 'y0_unterminated-secret\n");
    let mut cmd = home.command(&["auth", "which"]);
    cmd.kill_on_drop(true);
    let out = cli_support::output_within(cmd, Duration::from_secs(30)).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("yc config {}", path.display()))
            && out.stderr.contains("is not valid YAML (line "),
        "{}",
        out.stderr
    );
    assert_no_secret(&out, &["y0_unterminated-secret"]);
}
