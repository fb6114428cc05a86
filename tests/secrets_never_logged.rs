//! No secret ever reaches a log line, an error or a `Debug` dump.
//!
//! One test (the tracing subscriber is process-global): it captures every
//! event and span of every crate at TRACE level (the `log` records of
//! dependencies included) into a buffer, runs the representative flows
//! against the emulator — static IAM token, OAuth exchange, service-account
//! JWT exchange, metadata service, a key given as JSON, `yc` profiles
//! (OAuth token, inline key, broken files), impersonation (allowed and
//! denied), failing credentials of every kind, RPC errors, failed operations — keeps the `Display` and `Debug` text of every
//! error and the `Debug` of every credential, key, client and handle, and
//! then looks for IAM tokens, OAuth tokens, JWTs and private-key lines in
//! all of it.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emulator_support::{build, quick_retries};
use yc_billing::auth::{Credentials, Profile, ServiceAccountKey};
use yc_billing::emulator::{
    DEFAULT_IAM_TOKEN, DEFAULT_OAUTH_TOKEN, DEFAULT_SERVICE_ACCOUNT_ID, DEFAULT_SUBJECT_ID,
    Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN, ServiceAccountKeyFile,
};
use yc_billing::proto::yandex::cloud::billing::v1::CustomerPerson;
use yc_billing::{Client, Error, PollingPolicy};

/// The capture buffer behind the subscriber.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Everything shown: error texts and `Debug` dumps.
#[derive(Default)]
struct Shown(Vec<String>);

impl Shown {
    fn error(&mut self, e: &Error) {
        self.0.push(format!("{e}"));
        self.0.push(format!("{e:?}"));
        self.0.push(format!("{e:#?}"));
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            self.0.push(format!("{s} / {s:?}"));
            source = s.source();
        }
    }
    fn debug(&mut self, v: &dyn std::fmt::Debug) {
        self.0.push(format!("{v:?}"));
        self.0.push(format!("{v:#?}"));
    }
}

fn person() -> CustomerPerson {
    CustomerPerson {
        name: "Secret Test".into(),
        ..Default::default()
    }
}

async fn client(emu: &EmulatorHandle, credentials: Credentials) -> Client {
    build(
        emu.client_builder()
            .credentials(credentials)
            .retry_policy(quick_retries())
            .request_timeout(Duration::from_secs(10)),
    )
    .await
}

/// Runs calls that succeed and calls that fail with `client`; records every error.
async fn exercise(client: &Client, reseller: &str, shown: &mut Shown) -> bool {
    shown.debug(client);
    let ok = match client.billing_accounts().get(reseller).await {
        Ok(a) => {
            shown.debug(&a);
            true
        }
        Err(e) => {
            shown.error(&e);
            false
        }
    };
    // NOT_FOUND.
    if let Err(e) = client.billing_accounts().get("dn2nosuchaccount0001").await {
        shown.error(&e);
    }
    ok
}

/// The first JWT-shaped text (`eyJ<base64url>.eyJ<base64url>.`: a JSON
/// header, a JSON payload) in `text`, if any.
fn find_jwt(text: &str) -> Option<usize> {
    let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let bytes = text.as_bytes();
    let segment_end = |from: usize| -> Option<usize> {
        if !text[from..].starts_with("eyJ") {
            return None;
        }
        let len = bytes[from..].iter().take_while(|c| b64url(**c)).count();
        (bytes.get(from + len) == Some(&b'.')).then_some(from + len + 1)
    };
    text.match_indices("eyJ")
        .map(|(at, _)| at)
        .find(|&at| segment_end(at).and_then(segment_end).is_some())
}

/// Every substring that must never be shown: (what, needle).
fn secrets(keys: &[&ServiceAccountKeyFile], extra: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in [DEFAULT_IAM_TOKEN, DEFAULT_OAUTH_TOKEN, NO_RIGHTS_IAM_TOKEN] {
        out.push(("seeded token".into(), t.into()));
    }
    for t in extra {
        out.push(("test token".into(), (*t).into()));
    }
    // Tokens the emulator issues ("t1.emu.<hex>") by shape; JWTs are found
    // by their shape in `find_jwt` (a bare "eyJ" also occurs by chance in
    // base64 such as public keys).
    out.push(("issued IAM token".into(), "t1.emu.".into()));
    for key in keys {
        for line in key.private_key_pem().lines() {
            if line.starts_with("-----") {
                continue;
            }
            for chunk in line.as_bytes().chunks(16).filter(|c| c.len() == 16) {
                out.push((
                    format!("private key {}", key.id),
                    String::from_utf8(chunk.to_vec()).unwrap(),
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_errors_or_debug() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let emu = Emulator::builder()
        .iam_token_ttl(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let creds = emu.credentials().clone();
    let reseller = creds.reseller_id.clone();
    let mut shown = Shown::default();
    shown.debug(&emu);
    shown.debug(&creds);
    let mut successes = 0;

    // Static IAM tokens: the seeded one and one issued by the emulator.
    let issued = emu.issue_iam_token(DEFAULT_SUBJECT_ID, Duration::from_secs(600));
    for token in [creds.iam_token.clone(), issued.clone()] {
        let c = Credentials::iam_token(token);
        shown.debug(&c);
        successes += exercise(&client(&emu, c).await, &reseller, &mut shown).await as usize;
    }

    // OAuth exchange.
    let c = Credentials::oauth_token(creds.oauth_token.clone());
    shown.debug(&c);
    let oauth_client = client(&emu, c).await;
    successes += exercise(&oauth_client, &reseller, &mut shown).await as usize;

    // Service-account key: JWT signed and exchanged.
    let key_file = emu.create_service_account_key("ajesecretsa000000001");
    shown.debug(&key_file);
    let key = ServiceAccountKey::from_json(&key_file.to_json()).unwrap();
    shown.debug(&key);
    let c = Credentials::service_account_key(key.clone());
    shown.debug(&c);
    successes += exercise(&client(&emu, c).await, &reseller, &mut shown).await as usize;

    // Metadata service.
    let addr = emu.metadata_addr().expect("metadata server runs");
    let c = Credentials::metadata_service_at(&addr.to_string()).unwrap();
    shown.debug(&c);
    successes += exercise(&client(&emu, c).await, &reseller, &mut shown).await as usize;
    assert_eq!(successes, 5, "every credential kind worked");

    // The sources of issue 15: a key as JSON, yc profiles, impersonation.
    let mut new_successes = 0;
    let c = Credentials::service_account_key_json(key_file.to_json()).unwrap();
    shown.debug(&c);
    new_successes += exercise(&client(&emu, c).await, &reseller, &mut shown).await as usize;
    let profile_oauth = "y0_profile-oauth-secret-93be1f";
    emu.add_oauth_token(profile_oauth, DEFAULT_SUBJECT_ID);
    let dir = std::env::temp_dir().join(format!("yc-billing-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yaml");
    let indent =
        |text: &str| -> String { text.lines().map(|l| format!("        {l}\n")).collect() };
    let key_yaml = format!(
        "    service-account-key:\n      id: {}\n      service_account_id: {}\n      \
         key_algorithm: RSA_2048\n      public_key: |\n{}      private_key: |\n{}",
        key_file.id,
        key_file.service_account_id,
        indent(&key_file.public_key),
        indent(&key_file.private_key)
    );
    std::fs::write(
        &config,
        format!(
            "current: user\nprofiles:\n  user:\n    token: {profile_oauth}\n  sa:\n{key_yaml}  \
             fed:\n    federation-id: bpf\n  both:\n    token: {profile_oauth}\n{key_yaml}  \
             public:\n{}",
            key_yaml.replacen(
                &indent(&key_file.private_key),
                &indent(&key_file.public_key),
                1
            )
        ),
    )
    .unwrap();
    for name in ["user", "sa"] {
        let profile = Profile::from_file(&config, Some(name)).unwrap();
        shown.debug(&profile);
        let c = build(
            emu.client_builder()
                .profile(&profile)
                .retry_policy(quick_retries())
                .request_timeout(Duration::from_secs(10)),
        )
        .await;
        new_successes += exercise(&c, &reseller, &mut shown).await as usize;
    }
    for name in ["fed", "both", "public", "absent"] {
        let e = Profile::from_file(&config, Some(name)).unwrap_err();
        shown.error(&e);
    }
    std::fs::write(
        &config,
        format!("current: user\nprofiles:\n  user:\n    token: '{profile_oauth}\n"),
    )
    .unwrap();
    shown.error(&Profile::from_file(&config, None).unwrap_err());
    std::fs::remove_dir_all(&dir).unwrap();
    let c = Credentials::impersonate(
        Credentials::oauth_token(creds.oauth_token.clone()),
        DEFAULT_SERVICE_ACCOUNT_ID,
    )
    .unwrap();
    shown.debug(&c);
    new_successes += exercise(&client(&emu, c).await, &reseller, &mut shown).await as usize;
    assert_eq!(new_successes, 4, "every new source worked");
    let denied = Credentials::impersonate(
        Credentials::iam_token(NO_RIGHTS_IAM_TOKEN),
        DEFAULT_SERVICE_ACCOUNT_ID,
    )
    .unwrap();
    shown.debug(&denied);
    assert!(
        !exercise(&client(&emu, denied).await, &reseller, &mut shown).await,
        "impersonation without the role was accepted"
    );
    let exchanges = emu.iam_exchanges();
    assert!(
        exchanges >= 2,
        "OAuth and JWT exchanges happened ({exchanges})"
    );

    // Failing credentials of every kind.
    let wrong_iam = "t1.wrong-iam-secret-7f3a9c";
    let wrong_oauth = "y0_wrong-oauth-secret-c41d2e";
    let unknown_key = ServiceAccountKeyFile::generate("ajesecretunknown0001");
    let failing = vec![
        Credentials::iam_token(wrong_iam),
        Credentials::iam_token(NO_RIGHTS_IAM_TOKEN),
        Credentials::oauth_token(wrong_oauth),
        Credentials::service_account_key(
            ServiceAccountKey::from_json(&unknown_key.to_json()).unwrap(),
        ),
        Credentials::metadata_service_at("127.0.0.1:1").unwrap(),
    ];
    for c in failing {
        shown.debug(&c);
        let ok = exercise(&client(&emu, c).await, &reseller, &mut shown).await;
        assert!(!ok, "a wrong credential was accepted");
    }
    // Broken key files.
    let broken = [
        key_file
            .to_json()
            .replace("BEGIN PRIVATE KEY", "BEGIN PUBLIC KEY"),
        key_file
            .to_json()
            .replace("\"service_account_id\"", "\"sa\""),
        key_file.to_json()[..key_file.to_json().len() / 2].to_string(),
        key_file.to_json().replacen(
            "ajesecretsa000000001",
            &key_file.private_key.replace('\n', "\\n"),
            1,
        ),
    ];
    for json in broken {
        let e = ServiceAccountKey::from_json(&json).unwrap_err();
        shown.error(&e);
        if let Err(e) = serde_json::from_str::<ServiceAccountKey>(&json) {
            shown.0.push(format!("{e} / {e:?}"));
        }
    }

    // RPC errors: validation, permission, not found.
    let e = oauth_client
        .customers()
        .invite(&reseller, "x", "not-an-email", person())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(tonic::Code::InvalidArgument));
    shown.error(&e);
    let e = oauth_client
        .customers()
        .activate("emucustnosuch0000001")
        .await
        .unwrap_err();
    shown.error(&e);

    // A failed operation.
    emu.fail_next_operation(
        "yandex.cloud.billing.v1.CustomerService/Invite",
        tonic::Code::FailedPrecondition,
        "the reseller contract forbids this",
    );
    let op = oauth_client
        .customers()
        .invite(&reseller, "Failing", "failing@example.com", person())
        .await
        .unwrap();
    shown.debug(&op);
    let e = op
        .wait_with(&PollingPolicy::default().with_initial_interval(Duration::from_millis(20)))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::OperationFailed(_)), "{e:?}");
    shown.error(&e);

    emu.shutdown().await;

    // The search.
    let log = capture.text();
    if let Ok(path) = std::env::var("YC_SECRETS_LOG") {
        std::fs::write(path, &log).unwrap();
    }
    assert!(
        log.lines().count() > 100,
        "the subscriber captured the run ({} lines)",
        log.lines().count()
    );
    assert!(
        log.contains("IAM token refreshed"),
        "auth events were captured"
    );
    assert!(log.contains("TRACE"), "TRACE events were captured");
    let everything = format!("{log}\n{}", shown.0.join("\n"));
    let needles = secrets(
        &[&key_file, &unknown_key],
        &[&issued, wrong_iam, wrong_oauth, profile_oauth],
    );
    // Control: the needles do find the secrets they stand for.
    let jwt = key
        .create_jwt(yc_billing::region::Region::Ru, std::time::SystemTime::now())
        .unwrap();
    let control = format!(
        "{jwt} {} {} {issued}",
        key_file.private_key, unknown_key.private_key
    );
    for (what, needle) in &needles {
        if what != "seeded token" && what != "test token" {
            assert!(control.contains(needle.as_str()), "{what}: {needle}");
        }
    }
    assert!(
        find_jwt(&control).is_some(),
        "the JWT shape finds a real JWT"
    );
    assert!(
        find_jwt("MIIBCgKCAQEAwqzhs+8WO/hqD/rJeyJBfCENZY3yzT").is_none(),
        "base64 with eyJ inside is not a JWT"
    );
    let mut leaks = Vec::new();
    if let Some(at) = find_jwt(&everything) {
        let context: String = everything[at..].chars().take(120).collect();
        leaks.push(format!("JWT: {context:?}"));
    }
    for (what, needle) in &needles {
        if let Some(at) = everything.find(needle.as_str()) {
            let start = everything[..at]
                .char_indices()
                .rev()
                .nth(80)
                .map_or(0, |(i, _)| i);
            let context: String = everything[start..].chars().take(200).collect();
            leaks.push(format!("{what}: {context:?}"));
        }
    }
    println!(
        "secrets: {} log lines ({} bytes), {} shown texts, {} needles, {} leaks",
        log.lines().count(),
        log.len(),
        shown.0.len(),
        needles.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
