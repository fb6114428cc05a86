//! OAuth and service-account JWT exchange against a mock `IamTokenService`
//! on loopback (server stubs need the `emulator` feature). End-to-end tests
//! against the full emulator live elsewhere.
#![cfg(feature = "emulator")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use yc_billing::CredentialSource;
use yc_billing::auth::{Credentials, IamExchange, ManualClock, ServiceAccountKey};
use yc_billing::proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateIamTokenRequest, CreateIamTokenResponse,
    RevokeIamTokenRequest, RevokeIamTokenResponse,
    create_iam_token_request::Identity,
    iam_token_service_server::{IamTokenService, IamTokenServiceServer},
};
use yc_billing::region::Region;

const PRIVATE: &str = include_str!("../src/auth/testdata/test_sa_private.pem");
const PUBLIC: &str = include_str!("../src/auth/testdata/test_sa_public.pem");
const EXPIRES: i64 = 1_700_043_200;

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    iat: u64,
    exp: u64,
}

struct MockIam {
    region: Region,
    /// `(kid, iss, exp - iat)` of every accepted JWT.
    jwts: Mutex<Vec<(String, String, u64)>>,
    omit_expiry: bool,
}

fn response(token: &str, omit_expiry: bool) -> Response<CreateIamTokenResponse> {
    Response::new(CreateIamTokenResponse {
        iam_token: token.into(),
        expires_at: (!omit_expiry).then_some(prost_types::Timestamp {
            seconds: EXPIRES,
            nanos: 0,
        }),
    })
}

#[tonic::async_trait]
impl IamTokenService for MockIam {
    async fn create(
        &self,
        request: Request<CreateIamTokenRequest>,
    ) -> Result<Response<CreateIamTokenResponse>, Status> {
        assert!(request.metadata().get("authorization").is_none());
        match request.into_inner().identity {
            Some(Identity::YandexPassportOauthToken(t)) if t == "y0_good" => {
                Ok(response("t1.from-oauth", self.omit_expiry))
            }
            Some(Identity::YandexPassportOauthToken(_)) => {
                Err(Status::unauthenticated("The token is invalid"))
            }
            Some(Identity::Jwt(jwt)) => {
                let header = jsonwebtoken::decode_header(&jwt)
                    .map_err(|e| Status::unauthenticated(e.to_string()))?;
                let mut validation = Validation::new(Algorithm::PS256);
                validation.validate_exp = false;
                validation.set_audience(&[self.region.jwt_audience()]);
                let key = DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
                let claims = jsonwebtoken::decode::<Claims>(&jwt, &key, &validation)
                    .map_err(|e| Status::unauthenticated(e.to_string()))?
                    .claims;
                self.jwts.lock().unwrap().push((
                    header.kid.unwrap_or_default(),
                    claims.iss,
                    claims.exp - claims.iat,
                ));
                Ok(response("t1.from-jwt", self.omit_expiry))
            }
            None => Err(Status::invalid_argument("identity is required")),
        }
    }

    async fn create_for_service_account(
        &self,
        _: Request<CreateIamTokenForServiceAccountRequest>,
    ) -> Result<Response<CreateIamTokenResponse>, Status> {
        Err(Status::unimplemented("not mocked"))
    }

    async fn revoke(
        &self,
        _: Request<RevokeIamTokenRequest>,
    ) -> Result<Response<RevokeIamTokenResponse>, Status> {
        Err(Status::unimplemented("not mocked"))
    }
}

async fn start(region: Region, omit_expiry: bool) -> (IamExchange, Arc<MockIam>) {
    let mock = Arc::new(MockIam {
        region,
        jwts: Mutex::new(Vec::new()),
        omit_expiry,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = IamTokenServiceServer::from_arc(Arc::clone(&mock));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    (
        IamExchange::new(channel, region).with_clock(Arc::new(clock)),
        mock,
    )
}

fn expires() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(EXPIRES as u64)
}

#[tokio::test]
async fn oauth_token_is_exchanged() {
    let (iam, _) = start(Region::Ru, false).await;
    let token = iam.exchange_oauth("y0_good").await.unwrap();
    assert_eq!(token.secret(), "t1.from-oauth");
    assert_eq!(token.expires_at(), expires());

    let cache = Credentials::oauth_token("y0_good").into_cache(iam);
    assert_eq!(cache.token().await.unwrap().secret(), "t1.from-oauth");
}

#[tokio::test]
async fn rejected_oauth_token_is_an_auth_error_without_the_secret() {
    let (iam, _) = start(Region::Ru, false).await;
    let cache = Credentials::oauth_token("y0_bad-secret").into_cache(iam);
    let err = cache.token().await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated));
    let yc_billing::Error::Auth(auth) = &err else {
        panic!("expected Error::Auth, got {err:?}");
    };
    assert_eq!(auth.source, CredentialSource::OAuth);
    let text = err.to_string();
    assert!(text.contains("The token is invalid"), "{text}");
    assert!(!text.contains("y0_bad-secret"), "{text}");
    assert!(!format!("{err:?}").contains("y0_bad-secret"));
}

#[tokio::test]
async fn service_account_jwt_is_signed_for_the_region_and_exchanged() {
    for region in [Region::Ru, Region::Kz] {
        let (iam, mock) = start(region, false).await;
        let key = ServiceAccountKey::new("ajekey", "ajesa", PRIVATE).unwrap();
        let cache = Credentials::service_account_key(key).into_cache(iam);
        let token = cache.token().await.unwrap();
        assert_eq!(token.secret(), "t1.from-jwt");
        assert_eq!(token.expires_at(), expires());
        assert_eq!(
            *mock.jwts.lock().unwrap(),
            [("ajekey".to_owned(), "ajesa".to_owned(), 3600)]
        );
    }
}

#[tokio::test]
async fn jwt_for_the_wrong_region_is_rejected() {
    let (mock_iam, _) = start(Region::Kz, false).await;
    // A client configured for Ru talking to a Kz IAM: wrong audience.
    let key = ServiceAccountKey::new("ajekey", "ajesa", PRIVATE).unwrap();
    let jwt = key.create_jwt(Region::Ru, SystemTime::now()).unwrap();
    let err = mock_iam.exchange_jwt(&jwt).await.unwrap_err();
    assert_eq!(err.source, CredentialSource::ServiceAccountKey);
    assert_eq!(err.rpc.unwrap().code, tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn answer_without_expiry_is_an_error() {
    let (iam, _) = start(Region::Ru, true).await;
    let err = iam.exchange_oauth("y0_good").await.unwrap_err();
    assert!(err.reason.contains("without expires_at"), "{err}");
}
