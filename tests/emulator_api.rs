//! Emulator integration tests over real TCP: every RPC, validation, auth,
//! permissions, paging, operations, idempotency.

mod emulator_support;

use std::time::Duration;

use emulator_support::*;
use prost_types::Any;
use tonic::Code;
use yc_billing::emulator::{
    CustomerStatus, DEFAULT_OAUTH_TOKEN, DEFAULT_RESELLER_ID, DEFAULT_SUBJECT_ID, Emulator,
    EmulatorHandle, NO_RIGHTS_IAM_TOKEN, Seed, SeedCustomer,
};
use yc_billing::proto::yandex::cloud::access::{
    AccessBinding, AccessBindingAction, AccessBindingDelta, ListAccessBindingsRequest, Subject,
    UpdateAccessBindingsRequest,
};
use yc_billing::proto::yandex::cloud::billing::v1::*;
use yc_billing::proto::yandex::cloud::endpoint::{GetApiEndpointRequest, ListApiEndpointsRequest};
use yc_billing::proto::yandex::cloud::iam::v1::create_iam_token_request::Identity;
use yc_billing::proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateIamTokenRequest, RevokeIamTokenRequest,
};
use yc_billing::proto::yandex::cloud::operation::{
    CancelOperationRequest, GetOperationRequest, operation,
};

async fn start() -> EmulatorHandle {
    Emulator::builder()
        .operation_delay(Duration::from_millis(30))
        .metadata_server(false)
        .start()
        .await
        .unwrap()
}

fn person() -> CustomerPerson {
    CustomerPerson {
        name: "ACME".into(),
        longname: "ACME LLC".into(),
        email: "acme@example.com".into(),
        ..Default::default()
    }
}

fn invite_req(email: &str) -> InviteCustomerRequest {
    InviteCustomerRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        name: "ACME".into(),
        invitation_email: email.into(),
        person: Some(person()),
    }
}

fn response<T: prost::Message + prost::Name + Default>(
    op: &yc_billing::proto::yandex::cloud::operation::Operation,
) -> T {
    match &op.result {
        Some(operation::Result::Response(any)) => any.to_msg::<T>().unwrap(),
        other => panic!("operation {} has no response: {other:?}", op.id),
    }
}

#[tokio::test]
async fn invite_lifecycle_with_typed_metadata_and_headers() {
    let emu = start().await;
    let mut c = customers(&emu, owner(&emu).with("x-client-request-id", "req-123")).await;
    let before = emu.customers().len();
    let resp = c.invite(invite_req("new@example.com")).await.unwrap();
    assert_eq!(resp.metadata().get("x-request-id").unwrap(), "req-123");
    assert!(resp.metadata().get("x-server-trace-id").is_some());
    let op = resp.into_inner();
    assert!(!op.done);
    assert_eq!(op.created_by, DEFAULT_SUBJECT_ID);
    assert!(op.created_at.is_some() && op.modified_at.is_some());
    assert!(!op.description.is_empty());
    let meta: &Any = op.metadata.as_ref().unwrap();
    assert_eq!(
        meta.type_url,
        "type.googleapis.com/yandex.cloud.billing.v1.CustomerMetadata"
    );
    let meta: CustomerMetadata = meta.to_msg().unwrap();
    assert_eq!(meta.reseller_id, DEFAULT_RESELLER_ID);
    assert_eq!(emu.customers().len(), before, "no effect before completion");
    let mut ops = operations(&emu, owner(&emu)).await;
    let done = wait(&mut ops, op).await;
    let customer: Customer = response(&done);
    assert_eq!(customer.id, meta.customer_id);
    assert!(emu.customers().contains(&customer));
    let rec = emu
        .customer_records()
        .into_iter()
        .find(|r| r.id == customer.id)
        .unwrap();
    assert_eq!(rec.status, CustomerStatus::Invited);
    assert_eq!(rec.invitation_email.as_deref(), Some("new@example.com"));
    // Without x-client-request-id a fresh id is generated.
    let mut c2 = customers(&emu, owner(&emu)).await;
    let resp = c2
        .list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(resp.metadata().get("x-request-id").unwrap().len(), 36);
    assert_eq!(
        emu.calls("yandex.cloud.billing.v1.CustomerService/Invite"),
        1
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn reseller_served_activate_suspend() {
    let emu = start().await;
    let mut c = customers(&emu, owner(&emu)).await;
    let mut ops = operations(&emu, owner(&emu)).await;
    let op = c
        .create_reseller_served(CreateResellerServedCustomerRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            name: "Served".into(),
            person: Some(person()),
        })
        .await
        .unwrap()
        .into_inner();
    let customer: Customer = response(&wait(&mut ops, op).await);
    let status = |emu: &EmulatorHandle| {
        emu.customer_records()
            .into_iter()
            .find(|r| r.id == customer.id)
            .unwrap()
            .status
    };
    assert_eq!(status(&emu), CustomerStatus::Inactive);
    let op = c
        .activate(ActivateCustomerRequest {
            customer_id: customer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let activated: Customer = response(&wait(&mut ops, op).await);
    assert_eq!(activated, customer);
    assert_eq!(status(&emu), CustomerStatus::Active);
    let op = c
        .suspend(SuspendCustomerRequest {
            customer_id: customer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    wait(&mut ops, op).await;
    assert_eq!(status(&emu), CustomerStatus::Suspended);
    let err = c
        .activate(ActivateCustomerRequest {
            customer_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    emu.shutdown().await;
}

#[tokio::test]
async fn billing_account_rpcs() {
    let emu = start().await;
    let mut a = accounts(&emu, owner(&emu)).await;
    let mut ops = operations(&emu, owner(&emu)).await;
    let acc = a
        .get(GetBillingAccountRequest {
            id: DEFAULT_RESELLER_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acc.id, DEFAULT_RESELLER_ID);
    assert!(acc.active);
    let err = a
        .get(GetBillingAccountRequest {
            id: "unknown".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let list = a
        .list(ListBillingAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    // The reseller plus the three seeded customers' accounts.
    assert_eq!(list.billing_accounts.len(), 4);

    let op = a
        .bind_billable_object(BindBillableObjectRequest {
            billing_account_id: DEFAULT_RESELLER_ID.into(),
            billable_object: Some(BillableObject {
                id: "b1gcloud".into(),
                r#type: "cloud".into(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        op.metadata.as_ref().unwrap().type_url,
        "type.googleapis.com/yandex.cloud.billing.v1.BindBillableObjectMetadata"
    );
    let binding: BillableObjectBinding = response(&wait(&mut ops, op).await);
    assert_eq!(binding.billable_object.as_ref().unwrap().id, "b1gcloud");
    let listed = a
        .list_billable_object_bindings(ListBillableObjectBindingsRequest {
            billing_account_id: DEFAULT_RESELLER_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.billable_object_bindings, vec![binding]);
    let err = a
        .bind_billable_object(BindBillableObjectRequest {
            billing_account_id: DEFAULT_RESELLER_ID.into(),
            billable_object: Some(BillableObject {
                id: "x".into(),
                r#type: "folder".into(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let new_binding = AccessBinding {
        role_id: "billing.accounts.viewer".into(),
        subject: Some(Subject {
            id: "ajeviewer".into(),
            r#type: "userAccount".into(),
        }),
    };
    let op = a
        .update_access_bindings(UpdateAccessBindingsRequest {
            resource_id: DEFAULT_RESELLER_ID.into(),
            access_binding_deltas: vec![AccessBindingDelta {
                action: AccessBindingAction::Add as i32,
                access_binding: Some(new_binding.clone()),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        op.metadata.as_ref().unwrap().type_url,
        "type.googleapis.com/yandex.cloud.access.UpdateAccessBindingsMetadata"
    );
    assert!(
        !emu.access_bindings(DEFAULT_RESELLER_ID)
            .contains(&new_binding)
    );
    let done = wait(&mut ops, op).await;
    match done.result {
        Some(operation::Result::Response(any)) => {
            assert_eq!(any.type_url, "type.googleapis.com/google.protobuf.Empty")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        emu.access_bindings(DEFAULT_RESELLER_ID)
            .contains(&new_binding)
    );
    let listed = a
        .list_access_bindings(ListAccessBindingsRequest {
            resource_id: DEFAULT_RESELLER_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.access_bindings.contains(&new_binding));
    emu.shutdown().await;
}

#[tokio::test]
async fn validation_rules_from_descriptor() {
    let emu = start().await;
    let mut c = customers(&emu, owner(&emu)).await;
    let mut a = accounts(&emu, owner(&emu)).await;
    // required
    let mut r = invite_req("a@example.com");
    r.name.clear();
    r.person = None;
    let err = c.invite(r).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["name", "person"]);
    assert!(err.message().contains("name") && err.message().contains("required"));
    // length
    let err = a
        .get(GetBillingAccountRequest { id: "x".repeat(51) })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["id"]);
    assert!(err.message().contains("<=50"), "{}", err.message());
    // value
    let err = c
        .list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            page_size: 1001,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["page_size"]);
    assert!(err.message().contains("<=1000"));
    let err = c
        .list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // size
    let err = a
        .update_access_bindings(UpdateAccessBindingsRequest {
            resource_id: DEFAULT_RESELLER_ID.into(),
            access_binding_deltas: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["access_binding_deltas"]);
    // nested required (enum 0 and message) inside a repeated field
    let err = a
        .update_access_bindings(UpdateAccessBindingsRequest {
            resource_id: DEFAULT_RESELLER_ID.into(),
            access_binding_deltas: vec![AccessBindingDelta {
                action: 0,
                access_binding: Some(AccessBinding {
                    role_id: "r".into(),
                    subject: None,
                }),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        vec![
            "access_binding_deltas[0].action",
            "access_binding_deltas[0].access_binding.subject"
        ]
    );
    // pattern (reseller id patterns of CreateResellerServed)
    let err = c
        .create_reseller_served(CreateResellerServedCustomerRequest {
            reseller_id: "Bad_Id!".into(),
            name: "n".into(),
            person: Some(person()),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["reseller_id"]);
    // e-mail
    let err = c.invite(invite_req("not-an-email")).await.unwrap_err();
    assert_eq!(bad_fields(&err), vec!["invitation_email"]);
    // exactly_one (oneof identity of IamTokenService.Create)
    let mut i = iam(&emu, Auth::default()).await;
    let err = i
        .create(CreateIamTokenRequest { identity: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["identity"]);
    assert!(err.message().contains("exactly_one"));
    // operation id required
    let mut ops = operations(&emu, owner(&emu)).await;
    let err = ops
        .get(GetOperationRequest {
            operation_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["operation_id"]);
    let err = ops
        .get(GetOperationRequest {
            operation_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(emu.operation_count(), 0, "invalid requests change nothing");
    emu.shutdown().await;
}

#[tokio::test]
async fn paging_across_pages_and_tampered_tokens() {
    let mut seed = Seed::default();
    for n in 0..250 {
        seed.customers.push(SeedCustomer {
            id: format!("pagecust{n:04}"),
            reseller_id: DEFAULT_RESELLER_ID.into(),
            billing_account_id: format!("pageacc{n:04}"),
            name: format!("c{n}"),
            status: CustomerStatus::Active,
            invitation_email: None,
            person: CustomerPerson::default(),
        });
    }
    let total = seed.customers.len();
    let emu = Emulator::builder()
        .seed(seed)
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu)).await;
    let req = |size: i64, token: &str| ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        page_size: size,
        page_token: token.into(),
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c.list(req(40, &token)).await.unwrap().into_inner();
        pages += 1;
        seen.extend(page.customers.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(page.next_page_token.len() <= 100);
        token = page.next_page_token;
    }
    assert_eq!(pages, total.div_ceil(40));
    let expected: Vec<String> = emu.customers().into_iter().map(|c| c.id).collect();
    assert_eq!(seen, expected, "stable order, no gaps or repeats");
    // page_size 0 means the default (100).
    let first = c.list(req(0, "")).await.unwrap().into_inner();
    assert_eq!(first.customers.len(), 100);
    // Tampered and foreign tokens.
    let mut bad = first.next_page_token.clone();
    bad.replace_range(0..1, "9");
    for t in [bad.as_str(), "garbage", "100.AAAAAAAAAAAAAAAAAAAAAAAA"] {
        let err = c.list(req(10, t)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{t}");
        assert_eq!(bad_fields(&err), vec!["page_token"]);
    }
    let mut a = accounts(&emu, owner(&emu)).await;
    let err = a
        .list(ListBillingAccountsRequest {
            page_size: 10,
            page_token: first.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "token of another list");
    emu.shutdown().await;
}

#[tokio::test]
async fn auth_failures_and_permission_denied() {
    let emu = start().await;
    let list = ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        ..Default::default()
    };
    for auth in [
        Auth::default(),
        Auth {
            authorization: Some("Basic abc".into()),
            extra: vec![],
        },
        Auth {
            authorization: Some("Bearer".into()),
            extra: vec![],
        },
        Auth::bearer("t1.unknown"),
    ] {
        let err = customers(&emu, auth)
            .await
            .list(list.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{}", err.message());
        assert!(err.metadata().get("x-request-id").is_some());
    }
    let short = emu.issue_iam_token(DEFAULT_SUBJECT_ID, Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let err = customers(&emu, Auth::bearer(&short))
        .await
        .list(list.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("expired"));
    let err = customers(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN))
        .await
        .list(list.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = customers(&emu, Auth::bearer(NO_RIGHTS_IAM_TOKEN))
        .await
        .invite(invite_req("x@example.com"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(emu.operation_count(), 0);
    // Endpoint discovery needs no token.
    let mut e = endpoints(&emu, Auth::default()).await;
    let ep = e
        .get(GetApiEndpointRequest {
            api_endpoint_id: "billing".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ep.address, emu.addr().to_string());
    let all = e
        .list(ListApiEndpointsRequest::default())
        .await
        .unwrap()
        .into_inner();
    for id in ["billing", "operation", "iam"] {
        assert!(
            all.endpoints
                .iter()
                .any(|x| x.id == id && x.address == ep.address)
        );
    }
    let err = e
        .get(GetApiEndpointRequest {
            api_endpoint_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    emu.shutdown().await;
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(key: &yc_billing::emulator::ServiceAccountKeyFile, claims: serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some(key.id.clone());
    let enc = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &enc).unwrap()
}

#[tokio::test]
async fn iam_token_exchange_oauth_jwt_revoke() {
    let emu = Emulator::builder()
        .iam_token_ttl(Duration::from_secs(2))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut i = iam(&emu, Auth::default()).await;
    let resp = i
        .create(CreateIamTokenRequest {
            identity: Some(Identity::YandexPassportOauthToken(
                DEFAULT_OAUTH_TOKEN.into(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    let exp = resp.expires_at.unwrap().seconds;
    assert!((exp - now() - 2).abs() <= 1);
    let mut c = customers(&emu, Auth::bearer(&resp.iam_token)).await;
    c.list(ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(emu.iam_exchanges(), 1);
    let err = i
        .create(CreateIamTokenRequest {
            identity: Some(Identity::YandexPassportOauthToken("y0_bad".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    emu.add_oauth_token("y0_added", DEFAULT_SUBJECT_ID);
    i.create(CreateIamTokenRequest {
        identity: Some(Identity::YandexPassportOauthToken("y0_added".into())),
    })
    .await
    .unwrap();

    // JWT of a service account key.
    let key = emu.create_service_account_key("ajesa-test");
    let json: serde_json::Value = serde_json::from_str(&key.to_json()).unwrap();
    for field in [
        "id",
        "service_account_id",
        "created_at",
        "key_algorithm",
        "public_key",
        "private_key",
    ] {
        assert!(json.get(field).is_some(), "{field}");
    }
    assert!(key.private_key.starts_with(&format!(
        "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID {}\n-----BEGIN PRIVATE KEY-----",
        key.id
    )));
    assert!(!format!("{key:?}").contains("PRIVATE KEY"));
    let aud = "https://iam.api.cloud.yandex.net/iam/v1/tokens";
    let good = |aud: &str| serde_json::json!({"iss": "ajesa-test", "aud": aud, "iat": now(), "exp": now() + 3600});
    let token = i
        .create(CreateIamTokenRequest {
            identity: Some(Identity::Jwt(sign(&key, good(aud)))),
        })
        .await
        .unwrap()
        .into_inner()
        .iam_token;
    let mut a = accounts(&emu, Auth::bearer(&token)).await;
    a.get(GetBillingAccountRequest {
        id: DEFAULT_RESELLER_ID.into(),
    })
    .await
    .unwrap();
    i.create(CreateIamTokenRequest {
        identity: Some(Identity::Jwt(sign(
            &key,
            good("https://iam.api.yandexcloud.kz/iam/v1/tokens"),
        ))),
    })
    .await
    .unwrap();
    // SDKs pointed at the emulator sign `https://iam.<endpoint>/iam/v1/tokens`
    // (the Python SDK does): the emulator's own address is an audience too.
    let port = emu.addr().port();
    for host in [format!("localhost:{port}"), emu.addr().to_string()] {
        i.create(CreateIamTokenRequest {
            identity: Some(Identity::Jwt(sign(
                &key,
                good(&format!("https://iam.{host}/iam/v1/tokens")),
            ))),
        })
        .await
        .unwrap();
    }
    assert_eq!(emu.iam_exchanges(), 6);
    // Bad audience (a foreign one, another port), too long window, expired,
    // wrong issuer, bad signature.
    let other = emu.create_service_account_key("ajesa-other");
    let mut forged = other.clone();
    forged.id = key.id.clone();
    let bad = [
        sign(&key, good("https://example.com")),
        sign(
            &key,
            good(&format!("https://iam.localhost:{}/iam/v1/tokens", port ^ 1)),
        ),
        sign(
            &key,
            serde_json::json!({"iss": "ajesa-test", "aud": aud, "iat": now(), "exp": now() + 7200}),
        ),
        sign(
            &key,
            serde_json::json!({"iss": "ajesa-test", "aud": aud, "iat": now() - 4000, "exp": now() - 3000}),
        ),
        sign(
            &key,
            serde_json::json!({"iss": "ajesa-other", "aud": aud, "iat": now(), "exp": now() + 60}),
        ),
        sign(
            &key,
            serde_json::json!({"iss": "ajesa-test", "aud": aud, "exp": now() + 60}),
        ),
        sign(&forged, good(aud)),
        "not.a.jwt".to_string(),
    ];
    for (n, jwt) in bad.into_iter().enumerate() {
        let err = i
            .create(CreateIamTokenRequest {
                identity: Some(Identity::Jwt(jwt)),
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "case {n}: {}",
            err.message()
        );
    }
    assert_eq!(emu.iam_exchanges(), 6);

    // CreateForServiceAccount and Revoke need a token.
    let mut authed = iam(&emu, owner(&emu)).await;
    let sa = authed
        .create_for_service_account(CreateIamTokenForServiceAccountRequest {
            service_account_id: "ajesa-test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let err = authed
        .create_for_service_account(CreateIamTokenForServiceAccountRequest {
            service_account_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = i
        .create_for_service_account(CreateIamTokenForServiceAccountRequest {
            service_account_id: "ajesa-test".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let revoked = authed
        .revoke(RevokeIamTokenRequest {
            iam_token: sa.iam_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.subject_id, "ajesa-test");
    let err = accounts(&emu, Auth::bearer(&sa.iam_token))
        .await
        .get(GetBillingAccountRequest {
            id: DEFAULT_RESELLER_ID.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    emu.shutdown().await;
}

#[tokio::test]
async fn cancel_pending_and_finished_and_failing_operations() {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_secs(30))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu)).await;
    let mut ops = operations(&emu, owner(&emu)).await;
    let before = emu.customers().len();
    let op = c
        .invite(invite_req("p@example.com"))
        .await
        .unwrap()
        .into_inner();
    let cancelled = ops
        .cancel(CancelOperationRequest {
            operation_id: op.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(cancelled.done);
    match &cancelled.result {
        Some(operation::Result::Error(s)) => assert_eq!(s.code, Code::Cancelled as i32),
        other => panic!("{other:?}"),
    }
    let err = ops
        .cancel(CancelOperationRequest {
            operation_id: op.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        emu.customers().len(),
        before,
        "cancelled operation had no effect"
    );
    // Someone else may not look at it: to them it does not exist (the
    // answer for a missing operation; no existence oracle).
    let other = emu.issue_iam_token("ajeother", Duration::from_secs(60));
    let err = operations(&emu, Auth::bearer(&other))
        .await
        .get(GetOperationRequest {
            operation_id: op.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), format!("operation {} not found", op.id));
    emu.shutdown().await;

    // complete_after_gets + fail_next_operation
    let emu = Emulator::builder()
        .complete_after_gets(2)
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu)).await;
    let mut ops = operations(&emu, owner(&emu)).await;
    let method = "yandex.cloud.billing.v1.CustomerService/Suspend";
    emu.fail_next_operation(method, Code::FailedPrecondition, "customer is locked");
    let op = c
        .suspend(SuspendCustomerRequest {
            customer_id: "emucustomer000000001".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let get = GetOperationRequest {
        operation_id: op.id.clone(),
    };
    assert!(!ops.get(get.clone()).await.unwrap().into_inner().done);
    let done = ops.get(get.clone()).await.unwrap().into_inner();
    assert!(done.done);
    match &done.result {
        Some(operation::Result::Error(s)) => {
            assert_eq!(s.code, Code::FailedPrecondition as i32);
            assert_eq!(s.message, "customer is locked");
        }
        other => panic!("{other:?}"),
    }
    let rec = emu
        .customer_records()
        .into_iter()
        .find(|r| r.id == "emucustomer000000001")
        .unwrap();
    assert_eq!(
        rec.status,
        CustomerStatus::Active,
        "failed operation had no effect"
    );
    // The next one succeeds (cancel of a finished operation: FAILED_PRECONDITION).
    let op = c
        .suspend(SuspendCustomerRequest {
            customer_id: "emucustomer000000001".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let get = GetOperationRequest {
        operation_id: op.id.clone(),
    };
    ops.get(get.clone()).await.unwrap();
    assert!(ops.get(get).await.unwrap().into_inner().done);
    let err = ops
        .cancel(CancelOperationRequest {
            operation_id: op.id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    emu.shutdown().await;
}

#[tokio::test]
async fn idempotency_keys() {
    let emu = Emulator::builder()
        .poll_interval_hint(Duration::from_secs(1))
        .metadata_server(false)
        .start()
        .await
        .unwrap();
    let mut c = customers(&emu, owner(&emu).with("idempotency-key", "key-1")).await;
    let first = c.invite(invite_req("i@example.com")).await.unwrap();
    assert_eq!(
        first.metadata().get("x-operation-poll-interval").unwrap(),
        "1"
    );
    let first = first.into_inner();
    let again = c
        .invite(invite_req("i@example.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.id, again.id);
    assert_eq!(emu.operation_count(), 1);
    let err = c.invite(invite_req("other@example.com")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("idempotency key"),
        "{}",
        err.message()
    );
    assert_eq!(emu.operation_count(), 1);
    let mut ops = operations(&emu, owner(&emu)).await;
    wait(&mut ops, first).await;
    let invited = emu
        .customer_records()
        .into_iter()
        .filter(|r| r.invitation_email.as_deref() == Some("i@example.com"))
        .count();
    assert_eq!(invited, 1);
    emu.shutdown().await;
}
