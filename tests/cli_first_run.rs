//! First-run paper cuts: what a newcomer sees from the `yc-billing` binary
//! (and the library under it) when something is missing or mistyped. Every
//! server is a real emulator on loopback TCP; every check reads the message
//! text and the exit code.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use yc_billing::emulator::{DEFAULT_IAM_TOKEN, DEFAULT_RESELLER_ID, Emulator, EmulatorHandle};
use yc_billing::{Client, Error, RetryPolicy, TransportErrorKind};

mod cli_support;
use cli_support::{BIN, Out, command, output};

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

/// A loopback port that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The position of each needle in `text`, asserting that all occur in order.
fn assert_in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match text[from..].find(needle) {
            Some(i) => from += i + needle.len(),
            None => panic!("{needle:?} missing (or out of order) in:\n{text}"),
        }
    }
}

// 1. No credentials.

#[tokio::test]
async fn no_credentials_lists_every_source_in_order_and_exits_3() {
    let emu = emulator().await;
    let metadata = format!("127.0.0.1:{}", closed_port());
    let addr = emu.addr().to_string();
    let mut cmd = command(&[
        "--endpoint",
        &addr,
        "--plaintext",
        "customers",
        "list",
        "--reseller-id",
        DEFAULT_RESELLER_ID,
    ]);
    cmd.env("YC_METADATA_ADDR", &metadata);
    let out = output(cmd).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines[0], "error: no credentials found", "{}", out.stderr);
    assert_in_order(
        &out.stderr,
        &[
            "tried, in order:",
            "--iam-token or YC_IAM_TOKEN: not set",
            "--oauth-token or YC_TOKEN: not set",
            "--sa-key-file or YC_SERVICE_ACCOUNT_KEY_FILE: not set",
            "--profile or YC_PROFILE (yc CLI config \
             /nonexistent/yc-billing-test-home/.config/yandex-cloud/config.yaml): no such file",
            "--metadata (VM metadata service at ",
            "): not reachable",
            "export YC_IAM_TOKEN=",
        ],
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("  metadata service: cannot reach the metadata service at ")
            && last.contains(&metadata)
            && last.contains("Connection refused"),
        "the metadata detail is the last line: {last:?}\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains("WARN"), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(10), "took {:?}", out.took);
    assert_eq!(emu.calls("yandex.cloud.billing.v1.CustomerService/List"), 0);
    emu.shutdown().await;
}

// 2. Colour codes.

#[tokio::test]
async fn log_lines_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let emu = emulator().await;
    let addr = emu.addr().to_string();
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
    cmd.env("RUST_LOG", "yc_billing=debug");
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("DEBUG"),
        "debug logs were asked for: {}",
        out.stderr
    );
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    emu.shutdown().await;
}

// 3. TLS against a plaintext server, and the reverse.

#[tokio::test]
async fn tls_to_a_plaintext_server_says_use_plaintext() {
    let emu = emulator().await;
    let addr = emu.addr().to_string();
    let out = output(command(&[
        "--endpoint",
        &addr,
        "--iam-token",
        DEFAULT_IAM_TOKEN,
        "accounts",
        "list",
    ]))
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!("error: the server at {addr} does not speak TLS"),
        "{}",
        out.stderr
    );
    assert_in_order(
        &out.stderr,
        &[
            &format!(
                "hint: use --plaintext, or the http:// endpoint the emulator prints (http://{addr})"
            ),
            "cause: ",
            "InvalidContentType",
            "code: UNAVAILABLE",
            "method: /yandex.cloud.billing.v1.BillingAccountService/List",
        ],
    );
    emu.shutdown().await;
}

fn self_signed_localhost() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn plaintext_to_a_tls_server_says_drop_plaintext() {
    let (cert, key) = self_signed_localhost();
    let emu = Emulator::builder()
        .metadata_server(false)
        .tls(cert.into_bytes(), key.into_bytes())
        .start()
        .await
        .unwrap();
    let addr = emu.addr().to_string();
    let out = output(command(&[
        "--endpoint",
        &addr,
        "--plaintext",
        "--iam-token",
        DEFAULT_IAM_TOKEN,
        "accounts",
        "list",
    ]))
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!("error: the server at {addr} speaks TLS, not plaintext HTTP/2"),
        "{}",
        out.stderr
    );
    assert_in_order(
        &out.stderr,
        &[
            "hint: drop --plaintext (and give --ca-cert FILE if the certificate is self-signed)",
            "cause: ",
            "code: UNAVAILABLE",
            "method: /yandex.cloud.billing.v1.BillingAccountService/List",
        ],
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_library_types_both_mismatches() {
    let emu = emulator().await;
    let client = Client::builder()
        .endpoint(emu.addr().to_string())
        .iam_token(DEFAULT_IAM_TOKEN)
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await
        .unwrap();
    let err = client.billing_accounts().list().await.unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(t.kind(), TransportErrorKind::TlsToPlaintextServer);
    assert_eq!(t.endpoint(), emu.addr().to_string());
    assert_eq!(err.code(), Some(tonic::Code::Unavailable));
    assert!(!err.is_retryable());
    assert!(t.hint().unwrap().contains("plaintext"), "{t}");
    emu.shutdown().await;

    let (cert, key) = self_signed_localhost();
    let emu = Emulator::builder()
        .metadata_server(false)
        .tls(cert.into_bytes(), key.into_bytes())
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .endpoint(emu.addr().to_string())
        .plaintext(true)
        .iam_token(DEFAULT_IAM_TOKEN)
        .build()
        .await
        .unwrap();
    let err = client.billing_accounts().list().await.unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(t.kind(), TransportErrorKind::PlaintextToTlsServer, "{t}");
    assert!(t.to_string().contains(&emu.addr().to_string()), "{t}");
    emu.shutdown().await;
}

// 4. Connection errors name the endpoint and the cause.

#[tokio::test]
async fn connection_errors_name_the_endpoint_and_the_cause() {
    let closed = format!("127.0.0.1:{}", closed_port());
    let out = output(command(&[
        "--endpoint",
        &closed,
        "--plaintext",
        "--iam-token",
        "t1.x",
        "--timeout",
        "3s",
        "accounts",
        "list",
    ]))
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("error: cannot connect to {closed}: "))
            && first.contains("Connection refused"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("code: UNAVAILABLE"), "{}", out.stderr);

    let out = output(command(&[
        "--endpoint",
        "nonexistent.invalid:443",
        "--iam-token",
        "t1.x",
        "--timeout",
        "5s",
        "accounts",
        "list",
    ]))
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: cannot connect to nonexistent.invalid:443: dns error: "),
        "{}",
        out.stderr
    );
    assert!(out.took < Duration::from_secs(20), "took {:?}", out.took);
}

#[tokio::test]
async fn the_library_error_names_the_endpoint() {
    let closed = format!("127.0.0.1:{}", closed_port());
    let client = Client::builder()
        .endpoint(&closed)
        .plaintext(true)
        .iam_token("t1.x")
        .retry_policy(RetryPolicy::disabled())
        .build()
        .await
        .unwrap();
    let err = client.billing_accounts().list().await.unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(t.endpoint(), closed);
    assert_eq!(t.kind(), TransportErrorKind::ConnectionRefused);
    assert_eq!(
        t.method(),
        "/yandex.cloud.billing.v1.BillingAccountService/List"
    );
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to {closed}: ")) && text.contains("refused"),
        "{text}"
    );

    let client = Client::builder()
        .endpoint("nonexistent.invalid:443")
        .iam_token("t1.x")
        .retry_policy(RetryPolicy::disabled())
        .request_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let err = client.billing_accounts().list().await.unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(t.kind(), TransportErrorKind::Dns, "{t}");
    assert_eq!(t.endpoint(), "nonexistent.invalid:443");
}

// 5. Person fields.

const BAD_PHONE: &str = "call me maybe!";

fn invite<'a>(phone: &'a str, email: &'a str) -> Vec<&'a str> {
    vec![
        "customers",
        "invite",
        "--reseller-id",
        DEFAULT_RESELLER_ID,
        "--name",
        "Acme",
        "--email",
        "billing@acme.example",
        "--phone",
        phone,
        "--person-email",
        email,
    ]
}

async fn cli(addr: &str, args: &[&str]) -> Out {
    let mut cmd = command(&[
        "--endpoint",
        addr,
        "--plaintext",
        "--iam-token",
        DEFAULT_IAM_TOKEN,
    ]);
    cmd.args(args);
    output(cmd).await
}

#[tokio::test]
async fn strict_person_fields_reject_bad_phone_and_email_naming_the_field() {
    // Off by default: the protos carry no rule.
    let emu = emulator().await;
    let addr = emu.addr().to_string();
    let out = cli(&addr, &invite(BAD_PHONE, "not-an-email")).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    emu.shutdown().await;

    let emu = Emulator::builder()
        .operation_delay(Duration::from_millis(10))
        .metadata_server(false)
        .strict_person_fields(true)
        .start()
        .await
        .unwrap();
    let addr = emu.addr().to_string();
    let before = emu.customers().len();
    let out = cli(&addr, &invite(BAD_PHONE, "a@b.example")).await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("field person.phone: must be a valid telephone number or a valid phoneword"),
        "{}",
        out.stderr
    );
    let out = cli(&addr, &invite("+7 (495) 739-70-00", "not-an-email")).await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("field person.email: must be a valid email address"),
        "{}",
        out.stderr
    );
    let out = cli(
        &addr,
        &[
            "customers",
            "create-reseller-served",
            "--reseller-id",
            DEFAULT_RESELLER_ID,
            "--name",
            "Served",
            "--phone",
            "12",
        ],
    )
    .await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("field person.phone: "),
        "{}",
        out.stderr
    );
    assert_eq!(emu.customers().len(), before, "nothing was created");

    // Valid numbers and phonewords pass.
    for phone in ["+7 (495) 739-70-00", "1-800-FLOWERS", "8.800.555.35.35"] {
        let out = cli(&addr, &invite(phone, "billing@acme.example")).await;
        assert_eq!(out.code, 0, "{phone}: {}", out.stderr);
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn the_emulator_subcommand_has_the_strict_person_fields_flag() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--no-metadata",
            "--strict-person-fields",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
        .await
        .expect("ready in time")
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let addr = ready["address"].as_str().unwrap().to_string();
    let out = cli(&addr, &invite(BAD_PHONE, "a@b.example")).await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("field person.phone: "),
        "{}",
        out.stderr
    );
    child.kill().await.unwrap();
}

// 6. YAML.

#[tokio::test]
async fn format_yaml_prints_the_rest_shapes() {
    let emu = emulator().await;
    let addr = emu.addr().to_string();
    for args in [
        vec!["accounts", "get", DEFAULT_RESELLER_ID],
        vec!["customers", "list", "--reseller-id", DEFAULT_RESELLER_ID],
    ] {
        let json = cli(&addr, &args).await;
        assert_eq!(json.code, 0, "{}", json.stderr);
        let json: Value = serde_json::from_str(&json.stdout).unwrap();
        let mut yaml_args = vec!["--format", "yaml"];
        yaml_args.extend(&args);
        let yaml = cli(&addr, &yaml_args).await;
        assert_eq!(yaml.code, 0, "{}", yaml.stderr);
        assert!(
            !yaml.stdout.trim_start().starts_with('{'),
            "{}",
            yaml.stdout
        );
        let parsed: Value = serde_yaml_ng::from_str(&yaml.stdout)
            .unwrap_or_else(|e| panic!("not YAML ({e}):\n{}", yaml.stdout));
        assert_eq!(parsed, json, "{}", yaml.stdout);
        // Same field order as the JSON (schema order).
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&parsed), keys(&json));
    }
    let account = cli(
        &addr,
        &["--format", "yaml", "accounts", "get", DEFAULT_RESELLER_ID],
    )
    .await;
    assert!(
        account
            .stdout
            .starts_with(&format!("id: {DEFAULT_RESELLER_ID}\n")),
        "{}",
        account.stdout
    );
    emu.shutdown().await;
}
