//! The credential sources of issue 15 end to end against the emulator over
//! loopback TCP: a key given as JSON, impersonation through
//! `IamTokenService.CreateForServiceAccount` (allowed and denied), and `yc`
//! CLI profiles read from config files written the way `yc` writes them.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use emulator_support::build;
use tonic::Code;
use yc_billing::auth::{Clock, Credentials, ManualClock, Profile};
use yc_billing::emulator::{
    DEFAULT_OAUTH_TOKEN, DEFAULT_SERVICE_ACCOUNT_ID, Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN,
    ServiceAccountKeyFile,
};
use yc_billing::error::AuthErrorKind;
use yc_billing::proto::paths::iam::v1::iam_token_service::{CREATE, CREATE_FOR_SERVICE_ACCOUNT};
use yc_billing::proto::yandex::cloud::iam::v1::RevokeIamTokenRequest;
use yc_billing::proto::yandex::cloud::iam::v1::iam_token_service_client::IamTokenServiceClient;
use yc_billing::region::{Region, Service};
use yc_billing::{Client, CredentialSource, Error, RetryPolicy};

const TTL: Duration = Duration::from_secs(3600);

async fn emulator() -> (EmulatorHandle, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let emu = Emulator::builder()
        .clock(Arc::new(clock.clone()))
        .iam_token_ttl(TTL)
        .metadata_server(false)
        .start()
        .await
        .expect("emulator starts");
    (emu, clock)
}

async fn client(emu: &EmulatorHandle, clock: &ManualClock, credentials: Credentials) -> Client {
    build(
        emu.client_builder()
            .credentials(credentials)
            .clock(Arc::new(clock.clone()))
            .retry_policy(RetryPolicy::disabled()),
    )
    .await
}

/// The subject of `token`, as `IamTokenService.Revoke` (by the token itself) reports it.
async fn subject_of(emu: &EmulatorHandle, token: &str) -> String {
    let channel = emulator_support::channel(emu).await;
    let mut iam = IamTokenServiceClient::new(channel);
    let mut request = tonic::Request::new(RevokeIamTokenRequest {
        iam_token: token.to_owned(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    iam.revoke(request).await.unwrap().into_inner().subject_id
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "yc-billing-sources-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

/// A key as `yc config set service-account-key key.json` stores it in the
/// profile: a mapping, `created_at` unquoted, the PEMs as literal blocks.
fn yc_key_yaml(key: &ServiceAccountKeyFile, by: usize) -> String {
    let pad = " ".repeat(by);
    format!(
        "{pad}id: {}\n{pad}service_account_id: {}\n{pad}created_at: {}\n{pad}key_algorithm: {}\n\
         {pad}public_key: |\n{}{pad}private_key: |\n{}",
        key.id,
        key.service_account_id,
        key.created_at,
        key.key_algorithm,
        indent(&key.public_key, by + 2),
        indent(&key.private_key, by + 2),
    )
}

/// Writes `~/.config/yandex-cloud/config.yaml` under `home`.
fn write_config(home: &Path, text: &str) -> PathBuf {
    let dir = home.join(".config").join("yandex-cloud");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_key_given_as_json_is_exchanged_through_the_emulator() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let key = emu.create_service_account_key("ajesourcesa000000001");
    for credentials in [
        Credentials::service_account_key_json(key.to_json()).unwrap(),
        Credentials::service_account_key_json(key.to_json().into_bytes()).unwrap(),
        Credentials::service_account_key_path_or_json(&format!("\n {}", key.to_json())).unwrap(),
    ] {
        assert_eq!(credentials.kind(), CredentialSource::ServiceAccountKey);
        let c = client(&emu, &clock, credentials).await;
        assert_eq!(
            c.billing_accounts().get(&reseller).await.unwrap().id,
            reseller
        );
        assert_eq!(
            subject_of(&emu, c.token().await.unwrap().secret()).await,
            "ajesourcesa000000001"
        );
    }
    assert_eq!(emu.calls(CREATE), 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn impersonation_gets_cached_tokens_of_the_other_service_account() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    // The default subject holds iam.serviceAccounts.tokenCreator on the default service account.
    let base = Credentials::oauth_token(DEFAULT_OAUTH_TOKEN);
    let credentials = Credentials::impersonate(base, DEFAULT_SERVICE_ACCOUNT_ID).unwrap();
    assert_eq!(credentials.kind(), CredentialSource::Impersonation);
    let c = client(&emu, &clock, credentials).await;
    for _ in 0..3 {
        assert_eq!(
            c.billing_accounts().get(&reseller).await.unwrap().id,
            reseller
        );
    }
    // One exchange of the base, one CreateForServiceAccount: both cached.
    assert_eq!(emu.calls(CREATE), 1);
    assert_eq!(emu.calls(CREATE_FOR_SERVICE_ACCOUNT), 1);
    let token = c.token().await.unwrap();
    assert_eq!(token.expires_at(), clock.now() + TTL);

    // Past the lifetime both are refreshed, by the same cache machinery.
    clock.advance(TTL + Duration::from_secs(1));
    assert_eq!(
        c.billing_accounts().get(&reseller).await.unwrap().id,
        reseller
    );
    assert_eq!(emu.calls(CREATE), 2);
    assert_eq!(emu.calls(CREATE_FOR_SERVICE_ACCOUNT), 2);
    let fresh = c.token().await.unwrap();
    assert_ne!(fresh.secret(), token.secret());
    // The token stands for the impersonated service account.
    assert_eq!(
        subject_of(&emu, fresh.secret()).await,
        DEFAULT_SERVICE_ACCOUNT_ID
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn impersonation_without_the_token_creator_role_is_a_typed_exchange_error() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let base = Credentials::iam_token(NO_RIGHTS_IAM_TOKEN);
    let c = client(
        &emu,
        &clock,
        Credentials::impersonate(base, DEFAULT_SERVICE_ACCOUNT_ID).unwrap(),
    )
    .await;
    let err = c.billing_accounts().get(&reseller).await.unwrap_err();
    let Error::Auth(auth) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(auth.kind(), AuthErrorKind::Exchange, "{err}");
    assert_eq!(auth.credential_source(), CredentialSource::Impersonation);
    let rpc = auth.rpc().expect("the RPC error is kept");
    assert_eq!(rpc.code(), Code::PermissionDenied);
    assert_eq!(rpc.method(), CREATE_FOR_SERVICE_ACCOUNT);
    assert!(!err.to_string().contains(NO_RIGHTS_IAM_TOKEN), "{err}");
    assert_eq!(
        emu.calls("yandex.cloud.billing.v1.BillingAccountService/Get"),
        0
    );

    // A service account that does not exist: NOT_FOUND, same shape.
    let c = client(
        &emu,
        &clock,
        Credentials::impersonate(
            Credentials::oauth_token(DEFAULT_OAUTH_TOKEN),
            "ajenosuchsa000000001",
        )
        .unwrap(),
    )
    .await;
    let err = c.token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.rpc().map(|r| r.code()) == Some(Code::NotFound)),
        "{err:?}"
    );

    // Granting the role makes the same base work.
    emu.add_service_account_binding(
        DEFAULT_SERVICE_ACCOUNT_ID,
        yc_billing::emulator::TOKEN_CREATOR_ROLE,
        yc_billing::emulator::NO_RIGHTS_SUBJECT_ID,
    );
    let c = client(
        &emu,
        &clock,
        Credentials::impersonate(
            Credentials::iam_token(NO_RIGHTS_IAM_TOKEN),
            DEFAULT_SERVICE_ACCOUNT_ID,
        )
        .unwrap(),
    )
    .await;
    assert_eq!(
        c.billing_accounts().get(&reseller).await.unwrap().id,
        reseller
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn yc_profiles_with_a_token_or_an_inline_key_reach_the_emulator() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let key = emu.create_service_account_key("ajeprofilesa00000001");
    let home = TempDir::new();
    let path = write_config(
        &home.0,
        &format!(
            "current: sa\nprofiles:\n  sa:\n    service-account-key:\n{}    cloud-id: b1gcloud\n    \
             folder-id: b1gfolder\n  user:\n    token: {DEFAULT_OAUTH_TOKEN}\n    \
             compute-default-zone: ru-central1-a\n",
            yc_key_yaml(&key, 6)
        ),
    );
    let sa = Profile::from_file(&path, None).unwrap();
    assert_eq!(sa.name(), "sa");
    assert_eq!(sa.folder_id(), Some("b1gfolder"));
    let user = Profile::from_file(&path, Some("user")).unwrap();
    for (profile, subject) in [
        (&sa, "ajeprofilesa00000001"),
        (&user, yc_billing::emulator::DEFAULT_SUBJECT_ID),
    ] {
        let c = build(
            emu.client_builder()
                .profile(profile)
                .endpoint(emu.endpoint())
                .clock(Arc::new(clock.clone()))
                .retry_policy(RetryPolicy::disabled()),
        )
        .await;
        assert_eq!(
            c.billing_accounts().get(&reseller).await.unwrap().id,
            reseller
        );
        assert_eq!(
            subject_of(&emu, c.token().await.unwrap().secret()).await,
            subject
        );
    }
    assert_eq!(emu.calls(CREATE), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_profile_endpoint_selects_discovery_or_the_region() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let home = TempDir::new();
    let addr = emu.addr().to_string();
    let path = write_config(
        &home.0,
        &format!(
            "current: emu\nprofiles:\n  emu:\n    token: {DEFAULT_OAUTH_TOKEN}\n    endpoint: {addr}\n  \
             kz:\n    token: {DEFAULT_OAUTH_TOKEN}\n    endpoint: api.yandexcloud.kz:443\n"
        ),
    );
    // An address of no known region: discovery there, as yc does.
    let emu_profile = Profile::from_file(&path, None).unwrap();
    assert_eq!(emu_profile.region(), None);
    let c = build(
        Client::builder()
            .profile(&emu_profile)
            .plaintext(true)
            .clock(Arc::new(clock.clone()))
            .retry_policy(RetryPolicy::disabled()),
    )
    .await;
    assert_eq!(
        emu.calls(yc_billing::proto::paths::endpoint::api_endpoint_service::LIST),
        1
    );
    assert_eq!(
        c.endpoint(Service::Billing),
        Some(format!("http://{addr}/").as_str())
    );
    assert_eq!(
        c.billing_accounts().get(&reseller).await.unwrap().id,
        reseller
    );

    // A Kazakhstan profile: the kz endpoints, without discovery.
    let kz = Profile::from_file(&path, Some("kz")).unwrap();
    assert_eq!(kz.region(), Some(Region::Kz));
    let c = Client::builder().profile(&kz).build().await.unwrap();
    for service in [Service::Billing, Service::Operation, Service::Iam] {
        assert_eq!(
            c.endpoint(service),
            Some(format!("https://{}/", Region::Kz.endpoint(service)).as_str())
        );
    }
    emu.shutdown().await;
}
