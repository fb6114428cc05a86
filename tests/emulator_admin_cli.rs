//! The standalone emulator's harness features: the ready line's admin
//! address and env lines, `--print-env`, the seed schema and the example
//! seed, `--state-file`, and `emulator --help` without the client's options.

mod cli_support;
mod emulator_support;

use cli_support::{command, output, spawn_emulator, terminate};
use emulator_support::admin_at;
use serde_json::{Value, json};
use yc_billing::emulator::{DEFAULT_IAM_TOKEN, Seed};

const EXAMPLE_SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.json");

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "yc-billing-admin-{}-{name}-{}",
        std::process::id(),
        uuid_like()
    ))
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn the_ready_line_has_the_admin_url_and_env_lines_and_the_old_fields() {
    let (child, line) = spawn_emulator(&["--manual-clock"]).await;
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["event"], "ready");
    let address = ready["address"].as_str().unwrap();
    assert_eq!(ready["endpoint"], format!("http://{address}"));
    assert_eq!(ready["tls"], false);
    assert_eq!(ready["manual_clock"], true);
    let admin = ready["admin_address"].as_str().unwrap();
    assert_eq!(ready["admin_url"], format!("http://{admin}"));
    let env = ready["env"].as_str().unwrap();
    assert!(
        env.contains(&format!("export YC_BILLING_ENDPOINT='{address}'")),
        "{env}"
    );
    assert!(
        env.contains(&format!("export YC_IAM_TOKEN='{DEFAULT_IAM_TOKEN}'")),
        "{env}"
    );
    let (status, clock) = admin_at(admin, "GET", "/clock", None).await;
    assert_eq!((status, clock["manual"].clone()), (200, json!(true)));
    assert_eq!(terminate(child).await, 0);
}

#[tokio::test]
async fn print_env_prints_only_shell_lines_a_shell_can_source() {
    let (child, first) = spawn_emulator(&["--print-env"]).await;
    assert!(
        first.starts_with("export YC_BILLING_ENDPOINT='127.0.0.1:"),
        "{first}"
    );
    // A shell sourcing the line gets the address; the emulator answers there.
    let script = format!("{first}\nprintf %s \"$YC_BILLING_ENDPOINT\"");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let endpoint = String::from_utf8(out.stdout).unwrap();
    let list = output(command(&[
        "--endpoint",
        &endpoint,
        "--plaintext",
        "--iam-token",
        DEFAULT_IAM_TOKEN,
        "accounts",
        "list",
    ]))
    .await
    .ok();
    assert!(
        list.stdout.contains("dn2emu0reseller00001"),
        "{}",
        list.stdout
    );
    assert_eq!(terminate(child).await, 0);
}

#[tokio::test]
async fn the_example_seed_validates_against_the_printed_schema_and_loads() {
    let out = output(command(&["emulator", "--print-seed-schema"]))
        .await
        .ok();
    let schema = out.json();
    assert_eq!(schema, Seed::json_schema());
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(EXAMPLE_SEED).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&example)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let default: Value = serde_json::from_str(&Seed::default().to_json()).unwrap();
    assert!(validator.is_valid(&default));
    let mut bad = example.clone();
    bad["customers"][0]["status"] = json!("SLEEPING");
    assert!(!validator.is_valid(&bad));

    // The library loads it; a bad value is an error naming its path.
    let seed = Seed::from_json_file(EXAMPLE_SEED).expect("the example seed loads");
    assert_eq!(seed.customers.len(), 4);
    let err = Seed::from_json(&bad.to_string()).unwrap_err().to_string();
    assert!(err.contains("customers[0].status"), "{err}");

    // The binary serves it.
    let (child, line) = spawn_emulator(&["--seed", EXAMPLE_SEED]).await;
    let ready: Value = serde_json::from_str(&line).unwrap();
    let (_, state) = admin_at(
        ready["admin_address"].as_str().unwrap(),
        "GET",
        "/state",
        None,
    )
    .await;
    assert_eq!(Seed::from_json(&state.to_string()).unwrap(), seed);
    assert_eq!(terminate(child).await, 0);
}

#[tokio::test]
async fn the_state_file_survives_a_restart_and_is_private() {
    let path = temp_path("state.json");
    let file = path.to_str().unwrap();
    let (child, line) = spawn_emulator(&["--state-file", file]).await;
    let ready: Value = serde_json::from_str(&line).unwrap();
    let admin = ready["admin_address"].as_str().unwrap().to_string();
    let (_, mut state) = admin_at(&admin, "GET", "/state", None).await;
    state["customers"].as_array_mut().unwrap().truncate(1);
    let (status, _) = admin_at(&admin, "PUT", "/state", Some(&state.to_string())).await;
    assert_eq!(status, 200);
    assert_eq!(terminate(child).await, 0);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written, state);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Restarted on the same file, the state is the changed one; reset goes back to the seed.
    let (child, line) = spawn_emulator(&["--state-file", file]).await;
    let ready: Value = serde_json::from_str(&line).unwrap();
    let admin = ready["admin_address"].as_str().unwrap().to_string();
    let (_, again) = admin_at(&admin, "GET", "/state", None).await;
    assert_eq!(again, state);
    admin_at(&admin, "POST", "/reset", None).await;
    let (_, reset) = admin_at(&admin, "GET", "/state", None).await;
    assert_eq!(reset["customers"].as_array().unwrap().len(), 3);
    assert_eq!(terminate(child).await, 0);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error_at_start_and_is_left_alone() {
    for (name, content, says) in [
        ("corrupt", "{\"customers\": [", "EOF"),
        (
            "incompatible",
            "{\"customers\": [{\"id\": 7}]}",
            "customers[0].id",
        ),
    ] {
        let path = temp_path(name);
        std::fs::write(&path, content).unwrap();
        let out = output(command(&[
            "emulator",
            "--no-metadata",
            "--state-file",
            path.to_str().unwrap(),
        ]))
        .await;
        assert_ne!(out.code, 0, "{name}: {}", out.stdout);
        assert!(out.stdout.is_empty(), "{name}: no ready line");
        assert!(
            out.stderr.contains(path.to_str().unwrap()),
            "{name}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("nothing was reset"),
            "{name}: {}",
            out.stderr
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            content,
            "untouched"
        );
        let _ = std::fs::remove_file(&path);
    }
}

#[tokio::test]
async fn emulator_help_lists_only_its_own_options_and_the_credentials() {
    let help = output(command(&["emulator", "--help"])).await.ok().stdout;
    let option_lines: Vec<&str> = help
        .lines()
        .filter(|l| l.trim_start().starts_with("--"))
        .collect();
    for client_option in [
        "--iam-token",
        "--oauth-token",
        "--sa-key-file",
        "--metadata ",
        "--region",
        "--ca-cert",
        "--timeout",
        "--format",
        "--endpoint",
        "--plaintext",
    ] {
        assert!(
            !option_lines.iter().any(|l| {
                let l = l.trim_start();
                l.strip_prefix(client_option.trim_end())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '=']))
            }),
            "{client_option} in\n{help}"
        );
    }
    for own in [
        "--admin-listen",
        "--manual-clock",
        "--state-file",
        "--seed",
        "--write-sa-key",
    ] {
        assert!(
            option_lines.iter().any(|l| l.trim_start().starts_with(own)),
            "{own}"
        );
    }
    assert!(help.contains(DEFAULT_IAM_TOKEN), "{help}");
    assert!(help.contains("--write-sa-key FILE"), "{help}");

    // Given to `emulator`, a client option is a usage error naming it.
    let out = output(command(&["emulator", "--format", "yaml"])).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--format"), "{}", out.stderr);
    // The client's commands keep them, before or after the subcommand.
    let sub = output(command(&["customers", "list", "--help"]))
        .await
        .ok()
        .stdout;
    assert!(sub.contains("--iam-token"), "{sub}");
    let out = output(command(&["--format", "yaml", "call", "--list"]))
        .await
        .ok();
    assert!(out.stdout.contains("CustomerService"), "{}", out.stdout);
}
