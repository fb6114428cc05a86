//! [`IamExchange`] (OAuth and service-account JWT exchange) against the
//! emulator's real `IamTokenService` over loopback TCP: the issued tokens,
//! their expiry on a shared clock, the subject they stand for, and the
//! rejections. How a [`Client`] uses the exchange (once and reused, across
//! expiries, foreign keys) is tested in `tests/client_core.rs`.
#![cfg(feature = "emulator")]

mod emulator_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use emulator_support::build;
use tonic::Code;
use yc_billing::auth::{Clock, Credentials, IamExchange, ManualClock, ServiceAccountKey};
use yc_billing::emulator::{Emulator, EmulatorHandle, NO_RIGHTS_SUBJECT_ID};
use yc_billing::region::Region;
use yc_billing::{CredentialSource, Error, RetryPolicy};

const TTL: Duration = Duration::from_secs(3600);

/// An emulator and a clock it shares with the exchanges of the test.
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

fn exchange(emu: &EmulatorHandle, region: Region, clock: &ManualClock) -> IamExchange {
    let channel = tonic::transport::Endpoint::from_shared(emu.endpoint())
        .expect("endpoint")
        .connect_lazy();
    IamExchange::new(channel, region).clock(Arc::new(clock.clone()))
}

#[tokio::test]
async fn oauth_token_is_exchanged_for_a_token_of_its_subject() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let iam = exchange(&emu, Region::Ru, &clock);

    let token = iam
        .exchange_oauth(&emu.credentials().oauth_token)
        .await
        .unwrap();
    assert!(token.secret().starts_with("t1."));
    assert_eq!(token.expires_at(), clock.now() + TTL);
    assert_eq!(emu.iam_exchanges(), 1);
    // The token is the owner's: it reads the reseller account.
    let owner = build(
        emu.client_builder()
            .iam_token(token.secret())
            .clock(Arc::new(clock.clone()))
            .retry_policy(RetryPolicy::disabled()),
    )
    .await;
    assert_eq!(
        owner.billing_accounts().get(&reseller).await.unwrap().id,
        reseller
    );

    // Another OAuth token stands for another subject, here one without rights.
    emu.add_oauth_token("y0_nobody-oauth", NO_RIGHTS_SUBJECT_ID);
    let token = iam.exchange_oauth("y0_nobody-oauth").await.unwrap();
    let nobody = build(
        emu.client_builder()
            .iam_token(token.secret())
            .clock(Arc::new(clock.clone()))
            .retry_policy(RetryPolicy::disabled()),
    )
    .await;
    let err = nobody.billing_accounts().get(&reseller).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err:?}");

    // The issued token expires on the server's clock.
    clock.advance(TTL + Duration::from_secs(1));
    let err = nobody.billing_accounts().get(&reseller).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unauthenticated), "{err:?}");

    // Through a token cache.
    let cache = Credentials::oauth_token(emu.credentials().oauth_token.clone()).into_cache(iam);
    let cached = cache.token().await.unwrap();
    assert_eq!(cached.expires_at(), clock.now() + TTL);
    assert_eq!(cache.token().await.unwrap().secret(), cached.secret());
    assert_eq!(emu.iam_exchanges(), 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_oauth_token_is_an_auth_error_without_the_secret() {
    let (emu, clock) = emulator().await;
    let secret = "y0_unknown-oauth-secret-789";
    let iam = exchange(&emu, Region::Ru, &clock);

    let err = iam.exchange_oauth(secret).await.unwrap_err();
    assert_eq!(err.credential_source(), CredentialSource::OAuth);
    let rpc = err.rpc().expect("the exchange's RPC failure");
    assert_eq!(rpc.code(), Code::Unauthenticated);
    assert!(rpc.method().ends_with("IamTokenService/Create"), "{rpc:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("oauth-secret-789"), "secret leaked: {text}");
    }

    let cache = Credentials::oauth_token(secret).into_cache(iam);
    let err = cache.token().await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(err.code(), Some(Code::Unauthenticated));
    assert!(!format!("{err} {err:?}").contains("oauth-secret-789"));
    assert_eq!(emu.iam_exchanges(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn service_account_jwt_is_exchanged_in_every_region() {
    let (emu, clock) = emulator().await;
    let reseller = emu.credentials().reseller_id.clone();
    let sa = "ajeauthsa00000000001";
    let file = emu.create_service_account_key(sa);
    let key = ServiceAccountKey::from_json(&file.to_json()).unwrap();
    assert_eq!(key.service_account_id(), sa);

    // The emulator accepts the audience of either region's IAM endpoint.
    for region in [Region::Ru, Region::Kz] {
        let iam = exchange(&emu, region, &clock);
        let jwt = key.create_jwt(region, clock.now()).unwrap();
        let token = iam.exchange_jwt(&jwt).await.unwrap();
        assert_eq!(token.expires_at(), clock.now() + TTL);
        // The token is the service account's, editor of the reseller account.
        let client = build(
            emu.client_builder()
                .iam_token(token.secret())
                .clock(Arc::new(clock.clone()))
                .retry_policy(RetryPolicy::disabled()),
        )
        .await;
        assert_eq!(
            client.billing_accounts().get(&reseller).await.unwrap().id,
            reseller
        );

        let cache = Credentials::service_account_key(key.clone()).into_cache(iam);
        assert_eq!(cache.token().await.unwrap().expires_at(), clock.now() + TTL);
        assert_eq!(cache.source_kind(), CredentialSource::ServiceAccountKey);
    }
    assert_eq!(emu.iam_exchanges(), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn rejected_jwts_are_auth_errors() {
    let (emu, clock) = emulator().await;
    let file = emu.create_service_account_key("ajeauthsa00000000002");
    let key = ServiceAccountKey::from_json(&file.to_json()).unwrap();
    let iam = exchange(&emu, Region::Ru, &clock);
    let rejected = |err: yc_billing::error::AuthError, what: &str| {
        assert_eq!(
            err.credential_source(),
            CredentialSource::ServiceAccountKey,
            "{what}"
        );
        let rpc = err.rpc().expect("the exchange's RPC failure");
        assert_eq!(rpc.code(), Code::Unauthenticated, "{what}: {rpc:?}");
        rpc.message().to_owned()
    };

    // Signed two hours ago: long expired on the server's clock.
    let old = key
        .create_jwt(Region::Ru, clock.now() - Duration::from_secs(7200))
        .unwrap();
    let message = rejected(iam.exchange_jwt(&old).await.unwrap_err(), "expired");
    assert!(message.contains("expired"), "{message}");

    // Signed for an audience that is no IAM endpoint.
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        aud: &'a str,
        iat: u64,
        exp: u64,
    }
    let iat = clock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some(file.id.clone());
    let signing =
        jsonwebtoken::EncodingKey::from_rsa_pem(file.private_key_pem().as_bytes()).unwrap();
    let sign = |aud: &str| {
        let claims = Claims {
            iss: &file.service_account_id,
            aud,
            iat,
            exp: iat + 600,
        };
        jsonwebtoken::encode(&header, &claims, &signing).unwrap()
    };
    // The hand-made JWT is right when its audience is.
    iam.exchange_jwt(&sign(Region::Ru.jwt_audience()))
        .await
        .unwrap();
    let message = rejected(
        iam.exchange_jwt(&sign("https://iam.example.com/iam/v1/tokens"))
            .await
            .unwrap_err(),
        "foreign audience",
    );
    assert!(message.to_lowercase().contains("aud"), "{message}");

    // Not a JWT at all.
    rejected(iam.exchange_jwt("not.a.jwt").await.unwrap_err(), "garbage");
    assert_eq!(emu.iam_exchanges(), 1);
    emu.shutdown().await;
}
