//! The `yc-billing` binary against an in-process emulator: every subcommand,
//! the JSON shapes field by field, `--async`, `--format table`, errors on
//! stderr and exit codes.

use std::time::Duration;

use serde_json::Value;
use yc_billing::emulator::{
    DEFAULT_IAM_TOKEN, DEFAULT_RESELLER_ID, Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN,
};

mod cli_support;
use cli_support::{Out, command, output};

/// Runs the binary with no extra options.
async fn bare(args: &[&str]) -> Out {
    output(command(args)).await
}

/// Runs the binary against the emulator with its default IAM token.
async fn cli(emu: &EmulatorHandle, args: &[&str]) -> Out {
    cli_with_token(emu, DEFAULT_IAM_TOKEN, args).await
}

async fn cli_with_token(emu: &EmulatorHandle, token: &str, args: &[&str]) -> Out {
    let addr = emu.addr().to_string();
    let mut cmd = command(&["--endpoint", &addr, "--plaintext", "--iam-token", token]);
    cmd.args(args);
    output(cmd).await
}

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

/// The keys of an object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("{v} is not an object"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
fn assert_rfc3339(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("{v} is not a string"));
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    assert!(
        b.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && s.ends_with('Z')
            && (b[19] == b'Z' || (b[19] == b'.' && digits(20..b.len() - 1))),
        "{s} is not RFC 3339 UTC"
    );
}

const CUSTOMER_METADATA: &str = "type.googleapis.com/yandex.cloud.billing.v1.CustomerMetadata";
const CUSTOMER: &str = "type.googleapis.com/yandex.cloud.billing.v1.Customer";

#[tokio::test]
async fn customers_list_pages_through_everything_or_one_page() {
    let emu = emulator().await;
    let all = cli(
        &emu,
        &["customers", "list", "--reseller-id", DEFAULT_RESELLER_ID],
    )
    .await
    .ok()
    .json();
    assert_eq!(keys(&all), ["customers"]);
    let customers = all["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 3);
    for c in customers {
        assert_eq!(keys(c), ["billingAccountId", "id"]);
    }
    assert_eq!(customers[0]["id"], "emucustomer000000001");
    assert_eq!(customers[0]["billingAccountId"], "dn2emu0customer00001");

    let first = cli(
        &emu,
        &[
            "customers",
            "list",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
            "--page-size",
            "2",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(keys(&first), ["customers", "nextPageToken"]);
    assert_eq!(first["customers"].as_array().unwrap().len(), 2);
    let token = first["nextPageToken"].as_str().unwrap();
    let rest = cli(
        &emu,
        &[
            "customers",
            "list",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
            "--page-size",
            "2",
            "--page-token",
            token,
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(keys(&rest), ["customers"]);
    assert_eq!(rest["customers"][0]["id"], "emucustomer000000003");
}

#[tokio::test]
async fn mutating_customer_commands_wait_and_print_the_customer() {
    let emu = emulator().await;
    let invited = cli(
        &emu,
        &[
            "customers",
            "invite",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
            "--name",
            "Acme",
            "--email",
            "billing@acme.example",
            "--tin",
            "7700000001",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(keys(&invited), ["billingAccountId", "id"]);
    let id = invited["id"].as_str().unwrap().to_owned();
    let record = emu
        .customer_records()
        .into_iter()
        .find(|c| c.id == id)
        .expect("the emulator has the invited customer");
    assert_eq!(record.person.email, "billing@acme.example");
    assert_eq!(record.person.name, "Acme");
    assert_eq!(record.person.tin, "7700000001");

    for verb in ["activate", "suspend"] {
        let c = cli(&emu, &["customers", verb, &id]).await.ok().json();
        assert_eq!(c["id"], id.as_str(), "{verb}");
        assert_eq!(c["billingAccountId"], invited["billingAccountId"]);
    }

    let served = cli(
        &emu,
        &[
            "customers",
            "create-reseller-served",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
            "--name",
            "Served",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(keys(&served), ["billingAccountId", "id"]);
    assert_eq!(emu.customers().len(), 5);
}

#[tokio::test]
async fn async_prints_the_operation_and_operations_get_and_wait_unpack_it() {
    let emu = emulator().await;
    let op = cli(
        &emu,
        &["customers", "activate", "emucustomer000000002", "--async"],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        keys(&op),
        [
            "createdAt",
            "createdBy",
            "description",
            "id",
            "metadata",
            "modifiedAt"
        ],
        "{op}"
    );
    assert_rfc3339(&op["createdAt"]);
    assert_rfc3339(&op["modifiedAt"]);
    assert!(
        op.get("done").is_none(),
        "a pending operation omits done=false"
    );
    assert_eq!(op["metadata"]["@type"], CUSTOMER_METADATA);
    assert_eq!(op["metadata"]["resellerId"], DEFAULT_RESELLER_ID);
    assert_eq!(op["metadata"]["customerId"], "emucustomer000000002");
    let id = op["id"].as_str().unwrap().to_owned();

    let done = cli(&emu, &["operations", "wait", &id]).await.ok().json();
    assert_eq!(done["id"], id.as_str());
    assert_eq!(done["done"], true);
    assert_eq!(done["response"]["@type"], CUSTOMER);
    assert_eq!(done["response"]["id"], "emucustomer000000002");
    assert_eq!(done["response"]["billingAccountId"], "dn2emu0customer00002");
    assert!(done.get("error").is_none());

    let got = cli(&emu, &["operations", "get", &id]).await.ok().json();
    assert_eq!(got, done);
}

#[tokio::test]
async fn billing_account_commands() {
    let emu = emulator().await;
    let account = cli(&emu, &["accounts", "get", DEFAULT_RESELLER_ID])
        .await
        .ok()
        .json();
    assert_eq!(
        keys(&account),
        [
            "active",
            "balance",
            "countryCode",
            "createdAt",
            "currency",
            "id",
            "name"
        ]
    );
    assert_eq!(account["id"], DEFAULT_RESELLER_ID);
    assert_eq!(account["name"], "Emulated Reseller");
    assert_eq!(account["countryCode"], "RU");
    assert_eq!(account["currency"], "RUB");
    assert_eq!(account["active"], true);
    assert_eq!(account["balance"], "100000.00");
    assert_rfc3339(&account["createdAt"]);

    let list = cli(&emu, &["accounts", "list"]).await.ok().json();
    assert_eq!(keys(&list), ["billingAccounts"]);
    let accounts = list["billingAccounts"].as_array().unwrap();
    assert!(accounts.iter().any(|a| a == &account), "{list}");

    // Billable-object bindings.
    let binding = cli(
        &emu,
        &[
            "accounts",
            "bindings",
            "bind",
            DEFAULT_RESELLER_ID,
            "--cloud-id",
            "b1gcloud000000000001",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(keys(&binding), ["billableObject", "effectiveTime"]);
    assert_rfc3339(&binding["effectiveTime"]);
    assert_eq!(
        binding["billableObject"],
        serde_json::json!({"id": "b1gcloud000000000001", "type": "cloud"})
    );
    let bindings = cli(&emu, &["accounts", "bindings", "list", DEFAULT_RESELLER_ID])
        .await
        .ok()
        .json();
    assert_eq!(keys(&bindings), ["billableObjectBindings"]);
    assert_eq!(
        bindings["billableObjectBindings"],
        serde_json::json!([binding])
    );

    // Access bindings: update prints the finished operation, list the bindings.
    let updated = cli(
        &emu,
        &[
            "accounts",
            "access",
            "update",
            DEFAULT_RESELLER_ID,
            "--add",
            "billing.accounts.viewer:userAccount:ajeviewer00000000001",
            "--add",
            "billing.accounts.editor:serviceAccount:ajesa000000000000002",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(updated["done"], true);
    assert_eq!(
        updated["metadata"],
        serde_json::json!({
            "@type": "type.googleapis.com/yandex.cloud.access.UpdateAccessBindingsMetadata",
            "resourceId": DEFAULT_RESELLER_ID,
        })
    );
    // The library's proto3 JSON (prost-reflect) writes Empty inside Any as a
    // well-known type: `{"@type": …Empty, "value": {}}`.
    assert_eq!(
        updated["response"]["@type"],
        "type.googleapis.com/google.protobuf.Empty"
    );
    assert!(
        updated["response"]
            .get("value")
            .is_none_or(|v| v == &serde_json::json!({})),
        "{updated}"
    );
    let access = cli(&emu, &["accounts", "access", "list", DEFAULT_RESELLER_ID])
        .await
        .ok()
        .json();
    assert_eq!(keys(&access), ["accessBindings"]);
    let bindings = access["accessBindings"].as_array().unwrap();
    for b in bindings {
        assert_eq!(keys(b), ["roleId", "subject"]);
        assert_eq!(keys(&b["subject"]), ["id", "type"]);
    }
    assert!(bindings.contains(&serde_json::json!({
        "roleId": "billing.accounts.viewer",
        "subject": {"id": "ajeviewer00000000001", "type": "userAccount"},
    })));

    cli(
        &emu,
        &[
            "accounts",
            "access",
            "update",
            DEFAULT_RESELLER_ID,
            "--remove",
            "billing.accounts.viewer:userAccount:ajeviewer00000000001",
        ],
    )
    .await
    .ok();
    assert!(
        !emu.access_bindings(DEFAULT_RESELLER_ID)
            .iter()
            .any(|b| b.role_id == "billing.accounts.viewer")
    );
}

#[tokio::test]
async fn table_format() {
    let emu = emulator().await;
    let out = cli(
        &emu,
        &[
            "--format",
            "table",
            "customers",
            "list",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
        ],
    )
    .await
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0], "ID                    BILLING_ACCOUNT_ID",
        "{}",
        out.stdout
    );
    assert_eq!(lines[1], "emucustomer000000001  dn2emu0customer00001");
    assert_eq!(lines.len(), 4);

    // Global options also go after the subcommand.
    let out = cli(
        &emu,
        &["accounts", "get", DEFAULT_RESELLER_ID, "--format", "table"],
    )
    .await
    .ok();
    assert!(out.stdout.starts_with("FIELD "), "{}", out.stdout);
    assert!(
        out.stdout.contains("\ncurrency     RUB\n"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn cancel_and_a_failed_wait() {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_secs(600))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let op = cli(
        &emu,
        &["customers", "suspend", "emucustomer000000001", "--async"],
    )
    .await
    .ok()
    .json();
    let id = op["id"].as_str().unwrap();
    let cancelled = cli(&emu, &["operations", "cancel", id]).await.ok().json();
    assert_eq!(cancelled["id"], id);
    assert_eq!(cancelled["done"], true);
    assert_eq!(cancelled["error"]["code"], 1, "{cancelled}");

    // Waiting on it prints the operation and reports the failure.
    let out = cli(&emu, &["operations", "wait", id]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.json()["error"], cancelled["error"]);
    assert!(out.stderr.contains("code: CANCELLED"), "{}", out.stderr);
    assert!(out.stderr.contains(id), "{}", out.stderr);
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_while_waiting_says_how_to_resume() {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_secs(600))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let addr = emu.addr().to_string();
    let mut cmd = command(&[
        "--endpoint",
        &addr,
        "--plaintext",
        "--iam-token",
        DEFAULT_IAM_TOKEN,
        "customers",
        "activate",
        "emucustomer000000002",
    ]);
    let child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    // Wait until the operation exists (the CLI is then polling it).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while emu.operation_count() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no operation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("resume waiting with: yc-billing operations wait emuop"),
        "{stderr}"
    );
}

#[tokio::test]
async fn exit_codes_and_errors_on_stderr() {
    let emu = emulator().await;

    // Not found: message, code and request id on stderr, nothing on stdout.
    let out = cli(&emu, &["accounts", "get", "dn2nosuchaccount0001"]).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: billing account dn2nosuchaccount0001 not found"
    );
    assert_eq!(lines[1], "  code: NOT_FOUND");
    assert!(
        lines[2].starts_with("  request id: ") && lines[2].len() > 20,
        "{lines:?}"
    );
    assert_eq!(
        lines[3],
        "  method: /yandex.cloud.billing.v1.BillingAccountService/Get"
    );

    // Invalid argument, with the field at fault.
    let out = cli(
        &emu,
        &[
            "customers",
            "list",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
            "--page-size",
            "5000",
        ],
    )
    .await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("code: INVALID_ARGUMENT"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("field page_size"), "{}", out.stderr);
    assert!(out.stderr.contains("request id: "), "{}", out.stderr);

    // Auth: an unknown token, and a subject without rights.
    let out = cli_with_token(
        &emu,
        "t1.unknown",
        &["accounts", "get", DEFAULT_RESELLER_ID],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("UNAUTHENTICATED"), "{}", out.stderr);
    let out = cli_with_token(
        &emu,
        NO_RIGHTS_IAM_TOKEN,
        &["accounts", "get", DEFAULT_RESELLER_ID],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("code: PERMISSION_DENIED"),
        "{}",
        out.stderr
    );

    // Usage: clap's errors, bad option values, two credential options.
    assert_eq!(bare(&["customers", "frobnicate"]).await.code, 2);
    assert_eq!(
        bare(&["customers", "list"]).await.code,
        2,
        "--reseller-id is required"
    );
    let out = cli(
        &emu,
        &[
            "accounts",
            "access",
            "update",
            DEFAULT_RESELLER_ID,
            "--add",
            "viewer",
        ],
    )
    .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("ROLE:SUBJECT_TYPE:SUBJECT_ID"),
        "{}",
        out.stderr
    );
    assert_eq!(
        cli(&emu, &["accounts", "access", "update", DEFAULT_RESELLER_ID])
            .await
            .code,
        2,
        "at least one --add or --remove"
    );
    assert_eq!(
        bare(&["--timeout", "soon", "accounts", "list"]).await.code,
        2
    );
    let out = cli(&emu, &["--oauth-token", "y0_x", "accounts", "list"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("choose one credential option"),
        "{}",
        out.stderr
    );
    let out = bare(&[
        "--endpoint",
        "no port here",
        "--iam-token",
        "t",
        "accounts",
        "list",
    ])
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[tokio::test]
async fn credentials_from_the_environment_and_command_line_precedence() {
    let emu = emulator().await;
    let addr = emu.addr().to_string();
    let mut cmd = command(&[
        "--endpoint",
        &addr,
        "--plaintext",
        "accounts",
        "get",
        DEFAULT_RESELLER_ID,
    ]);
    cmd.env("YC_IAM_TOKEN", DEFAULT_IAM_TOKEN);
    assert_eq!(output(cmd).await.ok().json()["id"], DEFAULT_RESELLER_ID);

    // An OAuth token from the environment, exchanged at the emulator's IAM service.
    let mut cmd = command(&["--plaintext", "accounts", "get", DEFAULT_RESELLER_ID]);
    cmd.env("YC_BILLING_ENDPOINT", &addr)
        .env("YC_TOKEN", &emu.credentials().oauth_token);
    output(cmd).await.ok();
    assert_eq!(emu.iam_exchanges(), 1);

    // The command line wins over the environment.
    let mut cmd = command(&[
        "--endpoint",
        &addr,
        "--plaintext",
        "--iam-token",
        DEFAULT_IAM_TOKEN,
        "accounts",
        "get",
        DEFAULT_RESELLER_ID,
    ]);
    cmd.env("YC_TOKEN", "y0_not-a-valid-token");
    output(cmd).await.ok();

    // --help names the variables but never shows their values.
    let mut cmd = command(&["--help"]);
    cmd.env("YC_IAM_TOKEN", "t1.secret-value");
    let help = output(cmd).await.ok();
    assert!(help.stdout.contains("YC_IAM_TOKEN"));
    assert!(!help.stdout.contains("t1.secret-value"));
}

/// `call` reaches any RPC of the method table: the same JSON as the typed
/// subcommand, operations printed or waited for, every name form.
#[tokio::test]
async fn call_reaches_any_rpc_with_a_json_request() {
    let emu = emulator().await;
    let request = format!(r#"{{"resellerId": "{DEFAULT_RESELLER_ID}"}}"#);
    let typed = cli(
        &emu,
        &["customers", "list", "--reseller-id", DEFAULT_RESELLER_ID],
    )
    .await
    .ok()
    .json();
    for name in [
        "CustomerService/List",
        "yandex.cloud.billing.v1.CustomerService/List",
        "/yandex.cloud.billing.v1.CustomerService/List",
    ] {
        let got = cli(&emu, &["call", name, "--request", &request])
            .await
            .ok()
            .json();
        assert_eq!(got["customers"], typed["customers"], "{name}");
    }

    // From a file, and an operation printed as it starts.
    let dir = tempfile_dir();
    let file = dir.join("activate.json");
    std::fs::write(&file, r#"{"customerId": "emucustomer000000002"}"#).unwrap();
    let op = cli(
        &emu,
        &[
            "call",
            "CustomerService/Activate",
            "--request-file",
            file.to_str().unwrap(),
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(op["metadata"]["@type"], CUSTOMER_METADATA);
    assert_eq!(op["metadata"]["customerId"], "emucustomer000000002");
    assert!(op.get("done").is_none(), "{op}");

    // --wait: the finished operation, its response unpacked.
    let served = format!(
        r#"{{"resellerId": "{DEFAULT_RESELLER_ID}", "name": "Via call", "person": {{"name": "Via call"}}}}"#
    );
    let done = cli(
        &emu,
        &[
            "call",
            "CustomerService/CreateResellerServed",
            "--request",
            &served,
            "--wait",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(done["done"], true, "{done}");
    assert_eq!(done["response"]["@type"], CUSTOMER);
    let created = done["response"]["id"].as_str().unwrap();
    assert!(emu.customers().iter().any(|c| c.id == created));

    // An RPC without a wrapper or subcommand: the IAM token of the caller's
    // service account.
    let sa = emu.credentials().service_account_id.clone();
    let token = cli(
        &emu,
        &[
            "call",
            "IamTokenService/CreateForServiceAccount",
            "--request",
            &format!(r#"{{"serviceAccountId": "{sa}"}}"#),
        ],
    )
    .await
    .ok()
    .json();
    assert!(
        token["iamToken"].as_str().is_some_and(|t| !t.is_empty()),
        "{token}"
    );

    // --format table as for the other commands.
    let table = cli(
        &emu,
        &[
            "--format",
            "table",
            "call",
            "CustomerService/List",
            "--request",
            &request,
        ],
    )
    .await
    .ok();
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);

    // Every row is listed.
    let list = bare(&["call", "--list"]).await.ok();
    assert_eq!(
        list.stdout.lines().count(),
        yc_billing::proto::METHODS.len()
    );
    assert!(
        list.stdout.contains("BudgetService/List"),
        "{}",
        list.stdout
    );
}

/// `call` refuses unknown methods, bad JSON and `--wait` of a method that
/// answers no operation before connecting: usage errors, exit code 2.
#[tokio::test]
async fn call_refuses_unknown_methods_and_bad_requests() {
    for args in [
        &["call", "CustomerService/Nope"][..],
        &[
            "call",
            "CustomerService/List",
            "--request",
            "{\"resellerId\": 1",
        ],
        &[
            "call",
            "CustomerService/List",
            "--request",
            "{\"noSuchField\": 1}",
        ],
        &["call", "CustomerService/List", "--wait"],
    ] {
        let out = bare(args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(out.stderr.starts_with("error:"), "{args:?}: {}", out.stderr);
    }
}

/// A fresh directory under the target directory for request files.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-call-{}-{}",
        std::process::id(),
        yc_billing::proto::METHODS.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
