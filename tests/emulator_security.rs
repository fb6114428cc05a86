//! The emulator tried as an attacker would: who may do what (privilege
//! escalation through IAM, idempotency keys across subjects and tenants,
//! existence oracles, ambiguous authorization, JWT `nbf`, undefined enum
//! values). Everything over real loopback TCP, real JWT signing.

mod emulator_support;

use std::time::Duration;

use emulator_support::*;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Code, Request, Status};
use yc_billing::Client;
use yc_billing::emulator::{
    DEFAULT_IAM_TOKEN, DEFAULT_RESELLER_ID, DEFAULT_SERVICE_ACCOUNT_ID, DEFAULT_SUBJECT_ID,
    Emulator, EmulatorHandle, NO_RIGHTS_IAM_TOKEN, NO_RIGHTS_SUBJECT_ID, Seed,
};
use yc_billing::proto::yandex::cloud::access::{
    AccessBinding, AccessBindingDelta, Subject, UpdateAccessBindingsRequest,
};
use yc_billing::proto::yandex::cloud::billing::v1::customer_service_client::CustomerServiceClient;
use yc_billing::proto::yandex::cloud::billing::v1::*;
use yc_billing::proto::yandex::cloud::iam::v1::create_iam_token_request::Identity;
use yc_billing::proto::yandex::cloud::iam::v1::iam_token_service_client::IamTokenServiceClient;
use yc_billing::proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateIamTokenRequest, RevokeIamTokenRequest,
};
use yc_billing::proto::yandex::cloud::operation::{CancelOperationRequest, GetOperationRequest};

async fn start_with(seed: Seed) -> EmulatorHandle {
    Emulator::builder()
        .seed(seed)
        .operation_delay(Duration::from_secs(30))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

async fn start() -> EmulatorHandle {
    start_with(Seed::default()).await
}

fn served_req(reseller: &str, name: &str) -> CreateResellerServedCustomerRequest {
    CreateResellerServedCustomerRequest {
        reseller_id: reseller.into(),
        name: name.into(),
        person: Some(CustomerPerson {
            name: name.into(),
            ..Default::default()
        }),
    }
}

fn sa_token_req(sa: &str) -> CreateIamTokenForServiceAccountRequest {
    CreateIamTokenForServiceAccountRequest {
        service_account_id: sa.into(),
    }
}

async fn reseller_get(emu: &EmulatorHandle, token: &str) -> Result<BillingAccount, Status> {
    accounts(emu, Auth::bearer(token))
        .await
        .get(GetBillingAccountRequest {
            id: DEFAULT_RESELLER_ID.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

// ---------------------------------------------------------------- item 1

/// A rights-less subject must not mint a token for a service account it has
/// no token-creator role on, and so must not borrow the account's rights.
#[tokio::test]
async fn create_for_service_account_needs_a_token_creator_role() {
    let emu = start().await;
    // The rights-less subject itself is denied on the reseller...
    assert_eq!(
        reseller_get(&emu, NO_RIGHTS_IAM_TOKEN)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // ...and may not escalate through the service account (editor there).
    let err = iam(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN))
        .await
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    assert!(
        err.message().contains(DEFAULT_SERVICE_ACCOUNT_ID)
            && err.message().contains("iam.serviceAccounts.tokenCreator"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("t1."), "{}", err.message());
    assert_eq!(emu.iam_exchanges(), 0);
    // The default subject holds the role on the default service account in
    // the default seed; its token works with the service account's rights.
    let sa = iam(&emu, owner(&emu))
        .await
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap()
        .into_inner();
    reseller_get(&emu, &sa.iam_token).await.unwrap();
    // A service-account token does not carry token-creator rights over itself.
    let err = iam(&emu, Auth::bearer(&sa.iam_token))
        .await
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    emu.shutdown().await;
}

/// The role is an access binding on the service account, seedable from JSON;
/// a seed without the new key still loads (and keeps the default binding).
#[tokio::test]
async fn token_creator_bindings_come_from_the_seed() {
    let old = Seed::from_json(r#"{"default_subject_id": "ajeemu0subject000001"}"#).unwrap();
    let emu = start_with(old).await;
    iam(&emu, owner(&emu))
        .await
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap();
    emu.shutdown().await;

    let mut seed = serde_json::to_value(Seed::default()).unwrap();
    seed["service_account_access_bindings"] = serde_json::json!([
        {"service_account_id": DEFAULT_SERVICE_ACCOUNT_ID,
         "role_id": "iam.serviceAccounts.tokenCreator",
         "subject_id": NO_RIGHTS_SUBJECT_ID}
    ]);
    let emu = start_with(Seed::from_json(&seed.to_string()).unwrap()).await;
    // Now the formerly rights-less subject may, and the owner (not seeded) may not.
    let sa = iam(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN))
        .await
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap()
        .into_inner();
    reseller_get(&emu, &sa.iam_token).await.unwrap();
    let err = iam(&emu, owner(&emu))
        .await
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    emu.shutdown().await;
}

/// Only the token's own subject, or an admin of that service account, may
/// revoke it; anyone else gets the same answer as for an unknown token.
#[tokio::test]
async fn revoke_only_by_the_subject_or_its_admin() {
    let mut seed = serde_json::to_value(Seed::default()).unwrap();
    seed["service_account_access_bindings"] = serde_json::json!([
        {"service_account_id": DEFAULT_SERVICE_ACCOUNT_ID,
         "role_id": "iam.serviceAccounts.tokenCreator",
         "subject_id": DEFAULT_SUBJECT_ID},
        {"service_account_id": DEFAULT_SERVICE_ACCOUNT_ID,
         "role_id": "admin",
         "subject_id": "ajeemu0saadmin000001"}
    ]);
    let emu = start_with(Seed::from_json(&seed.to_string()).unwrap()).await;
    let owners = emu.issue_iam_token(DEFAULT_SUBJECT_ID, Duration::from_secs(600));
    let mut nobody = iam(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN)).await;
    let foreign = nobody
        .revoke(RevokeIamTokenRequest {
            iam_token: owners.clone(),
        })
        .await
        .unwrap_err();
    let unknown = nobody
        .revoke(RevokeIamTokenRequest {
            iam_token: "t1.emu.no-such-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound, "{}", foreign.message());
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(foreign.message(), unknown.message(), "no oracle");
    assert!(!foreign.message().contains(&owners));
    // The owner's token still works, and even the owner's seeded token is safe.
    reseller_get(&emu, &owners).await.unwrap();
    let err = nobody
        .revoke(RevokeIamTokenRequest {
            iam_token: DEFAULT_IAM_TOKEN.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    reseller_get(&emu, DEFAULT_IAM_TOKEN).await.unwrap();

    // A token-creator (not admin) may mint but not revoke the account's tokens.
    let mut owner_iam = iam(&emu, owner(&emu)).await;
    let sa1 = owner_iam
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap()
        .into_inner()
        .iam_token;
    let err = owner_iam
        .revoke(RevokeIamTokenRequest {
            iam_token: sa1.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    reseller_get(&emu, &sa1).await.unwrap();
    // The service account revokes its own token.
    let revoked = iam(&emu, Auth::bearer(&sa1))
        .await
        .revoke(RevokeIamTokenRequest {
            iam_token: sa1.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.subject_id, DEFAULT_SERVICE_ACCOUNT_ID);
    assert_eq!(
        reseller_get(&emu, &sa1).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // An admin of the service account revokes another of its tokens.
    let sa2 = owner_iam
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap()
        .into_inner()
        .iam_token;
    let admin = emu.issue_iam_token("ajeemu0saadmin000001", Duration::from_secs(600));
    iam(&emu, Auth::bearer(&admin))
        .await
        .revoke(RevokeIamTokenRequest {
            iam_token: sa2.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        reseller_get(&emu, &sa2).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // The owner revokes its own token.
    owner_iam
        .revoke(RevokeIamTokenRequest {
            iam_token: owners.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        reseller_get(&emu, &owners).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    emu.shutdown().await;
}

/// The library sends the caller's token on `CreateForServiceAccount` and
/// `Revoke` (the emulator, like the cloud, demands it), never on `Create`.
#[tokio::test]
async fn client_iam_transport_authorizes_create_for_service_account_and_revoke() {
    let emu = start().await;
    let client = Client::builder()
        .endpoint(emu.addr().to_string())
        .plaintext(true)
        .iam_token(emu.credentials().iam_token.clone())
        .build()
        .await
        .unwrap();
    let mut stub = IamTokenServiceClient::new(client.iam_transport());
    let sa = stub
        .create_for_service_account(sa_token_req(DEFAULT_SERVICE_ACCOUNT_ID))
        .await
        .unwrap()
        .into_inner();
    let mine = emu.issue_iam_token(DEFAULT_SUBJECT_ID, Duration::from_secs(600));
    stub.revoke(RevokeIamTokenRequest {
        iam_token: mine.clone(),
    })
    .await
    .unwrap();
    assert_eq!(
        reseller_get(&emu, &mine).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    reseller_get(&emu, &sa.iam_token).await.unwrap();
    // Create stays public and works with the same transport.
    stub.create(CreateIamTokenRequest {
        identity: Some(Identity::YandexPassportOauthToken(
            emu.credentials().oauth_token.clone(),
        )),
    })
    .await
    .unwrap();
    emu.shutdown().await;
}

// ---------------------------------------------------------------- item 2

/// Another subject replaying the owner's key and body gets its own
/// permission check, never the owner's operation.
#[tokio::test]
async fn idempotency_key_of_another_subject_is_not_replayed() {
    let emu = start().await;
    let req = served_req(DEFAULT_RESELLER_ID, "Idem");
    let first = customers(&emu, owner(&emu).with("idempotency-key", "shared-key"))
        .await
        .create_reseller_served(req.clone())
        .await
        .unwrap()
        .into_inner();
    let err = customers(
        &emu,
        Auth::bearer(NO_RIGHTS_IAM_TOKEN).with("idempotency-key", "shared-key"),
    )
    .await
    .create_reseller_served(req.clone())
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    assert!(!err.message().contains(&first.id), "{}", err.message());
    // The owner still replays its own.
    let again = customers(&emu, owner(&emu).with("idempotency-key", "shared-key"))
        .await
        .create_reseller_served(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, first.id);
    assert_eq!(emu.operation_count(), 1);
    emu.shutdown().await;
}

fn two_tenants() -> Seed {
    let mut seed = serde_json::to_value(Seed::default()).unwrap();
    seed["billing_accounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "dn2emu0reseller00002", "name": "Tenant B"}));
    seed["access_bindings"].as_array_mut().unwrap().push(
        serde_json::json!({"billing_account_id": "dn2emu0reseller00002",
            "role_id": "billing.accounts.owner", "subject_id": "ajeemu0tenantb000001"}),
    );
    seed["iam_tokens"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"token": "t1.tenant-b", "subject_id": "ajeemu0tenantb000001"}));
    Seed::from_json(&seed.to_string()).unwrap()
}

/// Two tenants that happen to pick the same key each get their own
/// operation; neither sees or is told about the other's request.
#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_subject_and_method() {
    let emu = start_with(two_tenants()).await;
    let a = customers(&emu, owner(&emu).with("idempotency-key", "k-2026"))
        .await
        .create_reseller_served(served_req(DEFAULT_RESELLER_ID, "A's customer"))
        .await
        .unwrap()
        .into_inner();
    let mut b_client = customers(
        &emu,
        Auth::bearer("t1.tenant-b").with("idempotency-key", "k-2026"),
    )
    .await;
    let b = b_client
        .create_reseller_served(served_req("dn2emu0reseller00002", "B's customer"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(a.id, b.id);
    assert_eq!(b.created_by, "ajeemu0tenantb000001");
    let meta: CustomerMetadata = b.metadata.as_ref().unwrap().to_msg().unwrap();
    assert_eq!(meta.reseller_id, "dn2emu0reseller00002");
    // B replays its own.
    let b2 = b_client
        .create_reseller_served(served_req("dn2emu0reseller00002", "B's customer"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b2.id, b.id);
    // B's own misuse names neither A's method nor A's request.
    let err = b_client
        .create_reseller_served(served_req("dn2emu0reseller00002", "Other"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("idempotency"), "{}", err.message());
    for leak in [a.id.as_str(), DEFAULT_RESELLER_ID, "A's customer"] {
        assert!(!err.message().contains(leak), "{}", err.message());
    }
    // The same key on another method of the same subject is a new request.
    let invite = b_client
        .invite(InviteCustomerRequest {
            reseller_id: "dn2emu0reseller00002".into(),
            name: "Invited".into(),
            invitation_email: "b@example.com".into(),
            person: Some(CustomerPerson {
                name: "Invited".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(invite.id, b.id);
    assert_eq!(emu.operation_count(), 3);
    emu.shutdown().await;
}

// ---------------------------------------------------------------- item 3

fn without(message: &str, id: &str) -> String {
    message.replace(id, "<id>")
}

/// Another subject's operation and a missing one answer alike, for Get and
/// for Cancel: NOT_FOUND with the same message.
#[tokio::test]
async fn no_existence_oracle_for_operations() {
    let emu = start().await;
    let op = customers(&emu, owner(&emu))
        .await
        .create_reseller_served(served_req(DEFAULT_RESELLER_ID, "Secret"))
        .await
        .unwrap()
        .into_inner();
    let missing = "emuopnosuchoperation";
    let mut ops = operations(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN)).await;
    let get = |id: &str| GetOperationRequest {
        operation_id: id.into(),
    };
    let cancel = |id: &str| CancelOperationRequest {
        operation_id: id.into(),
    };
    let theirs = ops.get(get(&op.id)).await.unwrap_err();
    let none = ops.get(get(missing)).await.unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound, "{}", theirs.message());
    assert_eq!(none.code(), Code::NotFound);
    assert_eq!(
        without(theirs.message(), &op.id),
        without(none.message(), missing)
    );
    let theirs = ops.cancel(cancel(&op.id)).await.unwrap_err();
    let none = ops.cancel(cancel(missing)).await.unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound, "{}", theirs.message());
    assert_eq!(none.code(), Code::NotFound);
    assert_eq!(
        without(theirs.message(), &op.id),
        without(none.message(), missing)
    );
    // Untouched: the owner still sees it pending.
    let mine = operations(&emu, owner(&emu))
        .await
        .get(get(&op.id))
        .await
        .unwrap()
        .into_inner();
    assert!(!mine.done);
    emu.shutdown().await;
}

// ---------------------------------------------------------------- item 4

/// Sends every value as its own `authorization` header, in order.
#[derive(Clone)]
struct ManyAuth(Vec<String>);

impl Interceptor for ManyAuth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        for v in &self.0 {
            req.metadata_mut().append(
                "authorization",
                MetadataValue::try_from(v.as_str()).unwrap(),
            );
        }
        Ok(req)
    }
}

#[tokio::test]
async fn two_authorization_headers_are_unauthenticated() {
    let emu = start().await;
    let list = ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        ..Default::default()
    };
    let owner_h = format!("Bearer {}", emu.credentials().iam_token);
    let nobody_h = format!("Bearer {NO_RIGHTS_IAM_TOKEN}");
    for headers in [
        vec![nobody_h.clone(), owner_h.clone()],
        vec![owner_h.clone(), nobody_h.clone()],
        vec![owner_h.clone(), owner_h.clone()],
    ] {
        let mut c = CustomerServiceClient::with_interceptor(channel(&emu).await, ManyAuth(headers));
        let err = c.list(list.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{}", err.message());
        assert!(
            err.message().contains("authorization") && err.message().contains("more than one"),
            "{}",
            err.message()
        );
        assert!(!err.message().contains("t1."), "{}", err.message());
    }
    // One header is fine.
    let mut c =
        CustomerServiceClient::with_interceptor(channel(&emu).await, ManyAuth(vec![owner_h]));
    c.list(list).await.unwrap();
    emu.shutdown().await;
}

// ---------------------------------------------------------------- item 5

#[tokio::test]
async fn jwt_not_yet_valid_is_rejected() {
    let emu = start().await;
    let key = emu.create_service_account_key("ajesa-nbf");
    let aud = "https://iam.api.cloud.yandex.net/iam/v1/tokens";
    let mut i = iam(&emu, Auth::default()).await;
    let exchange = |jwt: String| CreateIamTokenRequest {
        identity: Some(Identity::Jwt(jwt)),
    };
    let now = unix_now();
    for nbf in [now + 60, now + 3000] {
        let jwt = sign_jwt(
            &key,
            serde_json::json!({"iss": "ajesa-nbf", "aud": aud, "iat": now, "exp": now + 3600, "nbf": nbf}),
        );
        let err = i.create(exchange(jwt)).await.unwrap_err();
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "nbf {nbf}: {}",
            err.message()
        );
        assert!(err.message().contains("nbf"), "{}", err.message());
    }
    assert_eq!(emu.iam_exchanges(), 0);
    // nbf now, within the leeway, or in the past: valid.
    for nbf in [now - 60, now, now + 3] {
        let jwt = sign_jwt(
            &key,
            serde_json::json!({"iss": "ajesa-nbf", "aud": aud, "iat": now, "exp": now + 3600, "nbf": nbf}),
        );
        i.create(exchange(jwt)).await.unwrap();
    }
    emu.shutdown().await;
}

// ---------------------------------------------------------------- item 6

#[tokio::test]
async fn undefined_enum_value_is_invalid_argument() {
    let emu = start().await;
    let delta = |action: i32| AccessBindingDelta {
        action,
        access_binding: Some(AccessBinding {
            role_id: "billing.accounts.viewer".into(),
            subject: Some(Subject {
                id: "ajeviewer".into(),
                r#type: "userAccount".into(),
            }),
        }),
    };
    let before = emu.access_bindings(DEFAULT_RESELLER_ID);
    let err = accounts(&emu, owner(&emu))
        .await
        .update_access_bindings(UpdateAccessBindingsRequest {
            resource_id: DEFAULT_RESELLER_ID.into(),
            access_binding_deltas: vec![delta(1), delta(77)],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert_eq!(bad_fields(&err), vec!["access_binding_deltas[1].action"]);
    assert!(
        err.message().contains("77") && err.message().contains("AccessBindingAction"),
        "{}",
        err.message()
    );
    assert_eq!(emu.operation_count(), 0);
    assert_eq!(emu.access_bindings(DEFAULT_RESELLER_ID), before);
    emu.shutdown().await;
}

/// Now that IAM calls carry the token, the plaintext guard covers the IAM
/// endpoint like the Billing and Operation ones.
#[tokio::test]
async fn bearer_token_never_goes_to_a_remote_plaintext_iam_endpoint() {
    use yc_billing::region::Service;
    let err = Client::builder()
        .endpoint("http://127.0.0.1:1")
        .service_endpoint(Service::Iam, "http://iam.example.com:8080")
        .iam_token("t1.secret-token")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, yc_billing::Error::Config { .. }), "{err:?}");
    assert!(
        err.to_string().contains("iam_endpoint") && err.to_string().contains("plaintext"),
        "{err}"
    );
    assert!(!err.to_string().contains("secret-token"));
    // Loopback stays allowed.
    Client::builder()
        .endpoint("http://127.0.0.1:1")
        .service_endpoint(Service::Iam, "http://127.0.0.1:2")
        .iam_token("t1.secret-token")
        .build()
        .await
        .unwrap();
}
