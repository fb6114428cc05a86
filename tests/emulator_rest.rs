//! The emulator's REST port over real HTTP on loopback: every RPC with a
//! `google.api.http` rule, every error class, each transcoding feature, the
//! same state as the gRPC port, HTTP/2 and TLS.

mod emulator_support;

use std::time::Duration;

use emulator_support::rest::{Rest, get_tls};
use emulator_support::{client_for, customers, owner};
use http::Method;
use prost_reflect::Value as PValue;
use serde_json::{Value, json};
use tonic::Code;
use yc_billing::emulator::{
    DEFAULT_RESELLER_ID, DEFAULT_SERVICE_ACCOUNT_ID, Emulator, EmulatorHandle, Faults,
    NO_RIGHTS_IAM_TOKEN, Transport,
};
use yc_billing::proto::paths::billing::v1::{billing_account_service, customer_service};
use yc_billing::proto::yandex::cloud::billing::v1::{CustomerPerson, InviteCustomerRequest};

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .operation_delay(Duration::from_millis(5))
        .start()
        .await
        .expect("emulator starts")
}

fn invite_body(name: &str) -> Value {
    json!({
        "resellerId": DEFAULT_RESELLER_ID,
        "name": name,
        "invitationEmail": "billing@acme.example",
        "person": {"name": name, "postCode": "123456", "phone": "+7 495 000-00-00"}
    })
}

/// Every served RPC with a rule: a request built from the rule's template
/// (every variable set to `x`) reaches exactly its RPC, counted once.
#[tokio::test]
async fn every_rpc_with_a_rule_reaches_its_method() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let pool = yc_billing::json::descriptor_pool();
    let http = pool.get_extension_by_name("google.api.http").unwrap();
    let served = emu.served_methods();
    let mut checked = 0;
    for row in yc_billing::proto::METHODS {
        if !served.iter().any(|m| m == row.route()) {
            continue;
        }
        let method = pool
            .get_service_by_name(row.service)
            .and_then(|s| s.methods().find(|m| m.name() == row.method))
            .unwrap();
        let options = method.options();
        if !options.has_extension(&http) {
            continue;
        }
        let rule = options.get_extension(&http);
        let rule = rule.as_message().unwrap();
        let (verb, template) = ["get", "post", "patch", "put", "delete"]
            .iter()
            .find(|v| rule.has_field_by_name(v))
            .map(|v| {
                let t = rule.get_field_by_name(v).unwrap();
                (v.to_uppercase(), t.as_str().unwrap().to_owned())
            })
            .unwrap();
        let path = regex_lite_replace(&template);
        let has_body = matches!(rule.get_field_by_name("body").as_deref(), Some(PValue::String(b)) if !b.is_empty());
        let before = emu.calls(row.route());
        let answer = rest
            .send(
                Method::from_bytes(verb.as_bytes()).unwrap(),
                &path,
                &[],
                has_body.then_some(&json!({})),
            )
            .await;
        assert_eq!(
            emu.calls(row.route()),
            before + 1,
            "{verb} {path} → {}: {answer:?}",
            row.path
        );
        checked += 1;
    }
    assert!(checked >= 18, "{checked} RPCs with rules served");
    emu.shutdown().await;
}

/// `{a}` and `{a=pattern}` → `x` (the template grammar has no nested braces).
fn regex_lite_replace(template: &str) -> String {
    let mut out = String::new();
    let mut depth = false;
    for c in template.chars() {
        match c {
            '{' => {
                depth = true;
                out.push('x');
            }
            '}' => depth = false,
            c if !depth => out.push(c),
            _ => {}
        }
    }
    out
}

/// The reseller flow of the reference pages, over REST end to end, with
/// int64 as strings and RFC 3339 timestamps, and operations with typed `Any`.
#[tokio::test]
async fn reseller_flow_over_rest() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);

    let op = rest
        .post("/billing/v1/customers:invite", &invite_body("Acme"))
        .await;
    assert_eq!(op.status, 200, "{:?}", op.json);
    // Defaults are omitted, as proto3 JSON (and `yc_billing::json`) writes them.
    assert_eq!(op.json.get("done"), None);
    assert_eq!(
        op.json["metadata"]["@type"],
        "type.googleapis.com/yandex.cloud.billing.v1.CustomerMetadata"
    );
    assert!(op.json["createdAt"].as_str().unwrap().ends_with('Z'));
    let done = rest.wait(&op).await;
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/yandex.cloud.billing.v1.Customer"
    );
    let customer_id = done["response"]["id"].as_str().unwrap().to_owned();

    let served = rest
        .post(
            "/billing/v1/customers:createResellerServedCustomer",
            &json!({"resellerId": DEFAULT_RESELLER_ID, "name": "Served", "person": {"name": "Served"}}),
        )
        .await;
    let served = rest.wait(&served).await;
    assert!(
        served["response"]["billingAccountId"].is_string(),
        "{served}"
    );

    let activate = rest
        .post(
            &format!("/billing/v1/customers/{customer_id}:activate"),
            &json!({}),
        )
        .await;
    let activated = rest.wait(&activate).await;
    assert_eq!(activated["response"]["id"], customer_id.as_str());
    let suspend = rest
        .post(
            &format!("/billing/v1/customers/{customer_id}:suspend"),
            &json!({}),
        )
        .await;
    rest.wait(&suspend).await;

    let list = rest
        .get(&format!(
            "/billing/v1/customers?resellerId={DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(list.status, 200, "{:?}", list.json);
    assert_eq!(list.json["customers"].as_array().unwrap().len(), 5);

    let account = rest
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(account.json["id"], DEFAULT_RESELLER_ID);
    assert!(account.json["createdAt"].as_str().unwrap().contains('T'));
    let accounts = rest.get("/billing/v1/billingAccounts?pageSize=1").await;
    assert_eq!(
        accounts.json["billingAccounts"].as_array().unwrap().len(),
        1
    );
    assert!(
        accounts.json["nextPageToken"].is_string(),
        "{:?}",
        accounts.json
    );

    let bind = rest
        .post(
            &format!("/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}/billableObjectBindings"),
            &json!({"billableObject": {"id": "b1gcloud0000000000001", "type": "cloud"}}),
        )
        .await;
    let bound = rest.wait(&bind).await;
    assert!(bound.get("error").is_none(), "{bound}");
    let bindings = rest
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}/billableObjectBindings"
        ))
        .await;
    let items = bindings.json["billableObjectBindings"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|b| b["billableObject"]["id"] == "b1gcloud0000000000001")
    );

    let update = rest
        .send(
            Method::PATCH,
            &format!("/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}:updateAccessBindings"),
            &[],
            Some(
                &json!({"accessBindingDeltas": [{"action": "ADD", "accessBinding": {
                "roleId": "billing.accounts.viewer",
                "subject": {"id": "ajeviewer", "type": "userAccount"}}}]}),
            ),
        )
        .await;
    rest.wait(&update).await;
    let access = rest
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}:listAccessBindings"
        ))
        .await;
    assert!(
        access.json["accessBindings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["subject"]["id"] == "ajeviewer"),
        "{:?}",
        access.json
    );
    emu.shutdown().await;
}

/// `POST /iam/v1/tokens` exchanges the OAuth token like the real REST API;
/// the token authenticates REST and gRPC calls; service-account tokens and
/// revocation go through REST too.
#[tokio::test]
async fn iam_token_exchange_over_rest() {
    let emu = emulator().await;
    let anonymous = Rest::with_token(&emu, None);
    let created = anonymous
        .post(
            "/iam/v1/tokens",
            &json!({"yandexPassportOauthToken": emu.credentials().oauth_token}),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.json);
    let token = created.json["iamToken"].as_str().unwrap().to_owned();
    assert!(created.json["expiresAt"].as_str().unwrap().ends_with('Z'));
    let rest = Rest::with_token(&emu, Some(&token));
    let account = rest
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(account.status, 200, "{:?}", account.json);

    let sa = rest
        .post(
            "/iam/v1/tokens:createForServiceAccount",
            &json!({"serviceAccountId": DEFAULT_SERVICE_ACCOUNT_ID}),
        )
        .await;
    assert_eq!(sa.status, 200, "{:?}", sa.json);
    let sa_token = sa.json["iamToken"].as_str().unwrap();
    let revoked = Rest::with_token(&emu, Some(sa_token))
        .post("/iam/v1/tokens:revoke", &json!({"iamToken": sa_token}))
        .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.json);
    assert_eq!(revoked.json["subjectId"], DEFAULT_SERVICE_ACCOUNT_ID);
    let after = Rest::with_token(&emu, Some(sa_token))
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(after.status, 401, "{:?}", after.json);

    let bad = anonymous
        .post(
            "/iam/v1/tokens",
            &json!({"yandexPassportOauthToken": "y0_nope"}),
        )
        .await;
    assert_eq!(bad.status, 401, "{:?}", bad.json);
    emu.shutdown().await;
}

/// Operations: get and cancel as `operation_service.proto` maps them; the
/// endpoint discovery service; operations stay private to their creator.
#[tokio::test]
async fn operations_and_endpoints_over_rest() {
    let emu = Emulator::builder()
        .operation_delay(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let rest = Rest::new(&emu);
    let op = rest
        .post("/billing/v1/customers:invite", &invite_body("Slow"))
        .await;
    let id = op.json["id"].as_str().unwrap();
    let got = rest.get(&format!("/operations/{id}")).await;
    assert_eq!((got.status, got.json.get("done")), (200, None));
    let other = Rest::with_token(&emu, Some(NO_RIGHTS_IAM_TOKEN))
        .get(&format!("/operations/{id}"))
        .await;
    assert_eq!(other.status, 404, "{:?}", other.json);
    let cancelled = rest.get(&format!("/operations/{id}:cancel")).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.json);
    assert_eq!(cancelled.json["done"], true);
    assert_eq!(cancelled.json["error"]["code"], Code::Cancelled as i32);

    let endpoints = Rest::with_token(&emu, None).get("/endpoints").await;
    assert_eq!(endpoints.status, 200, "{:?}", endpoints.json);
    assert!(!endpoints.json["endpoints"].as_array().unwrap().is_empty());
    let billing = Rest::with_token(&emu, None).get("/endpoints/billing").await;
    assert_eq!(billing.json["id"], "billing", "{:?}", billing.json);
    emu.shutdown().await;
}

/// Path variables, custom verbs, `body: "*"`, query parameters by proto and
/// JSON names with typed values, and the refusals of each.
#[tokio::test]
async fn transcoding_rules_and_their_errors() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    // Query: lowerCamelCase and original names; int64 from text.
    for q in ["resellerId", "reseller_id"] {
        let page = rest
            .get(&format!(
                "/billing/v1/customers?{q}={DEFAULT_RESELLER_ID}&pageSize=2"
            ))
            .await;
        assert_eq!(page.json["customers"].as_array().unwrap().len(), 2, "{q}");
        let token = page.json["nextPageToken"].as_str().unwrap();
        let rest_page = rest
            .get(&format!(
                "/billing/v1/customers?{q}={DEFAULT_RESELLER_ID}&page_size=2&pageToken={}",
                percent(token)
            ))
            .await;
        assert_eq!(
            rest_page.json["customers"].as_array().unwrap().len(),
            1,
            "{:?}",
            rest_page.json
        );
    }
    // Percent-encoded path variable.
    let missing = rest.get("/billing/v1/billingAccounts/no%20such").await;
    assert_eq!(missing.status, 404);
    assert!(missing.message().contains("no such"), "{:?}", missing.json);

    let cases: [(&str, Method, &str, Option<Value>, &str); 9] = [
        (
            "unknown query field",
            Method::GET,
            "/billing/v1/customers?nope=1",
            None,
            "nope",
        ),
        (
            "int64 not a number",
            Method::GET,
            "/billing/v1/customers?resellerId=r&pageSize=ten",
            None,
            "pageSize",
        ),
        (
            "a singular field given twice",
            Method::GET,
            "/billing/v1/customers?resellerId=a&resellerId=b",
            None,
            "resellerId",
        ),
        (
            "path field in the query",
            Method::GET,
            "/billing/v1/billingAccounts/x?id=y",
            None,
            "id",
        ),
        (
            "query with body *",
            Method::POST,
            "/billing/v1/customers:invite?name=x",
            Some(invite_body("A")),
            "",
        ),
        (
            "unknown body field",
            Method::POST,
            "/billing/v1/customers:invite",
            Some(json!({"resellerId": "r", "nope": 1})),
            "",
        ),
        (
            "body not an object",
            Method::POST,
            "/billing/v1/customers:invite",
            Some(json!([1])),
            "",
        ),
        (
            "body on a GET rule",
            Method::GET,
            "/billing/v1/customers?resellerId=r",
            Some(json!({"x": 1})),
            "",
        ),
        (
            "wrong type in body",
            Method::POST,
            "/billing/v1/customers:invite",
            Some(json!({"resellerId": 5})),
            "",
        ),
    ];
    for (what, method, path, body, field) in cases {
        let a = rest.send(method, path, &[], body.as_ref()).await;
        assert_eq!(a.status, 400, "{what}: {:?}", a.json);
        assert_eq!(a.json["code"], Code::InvalidArgument as i32, "{what}");
        assert_eq!(
            a.bad_fields(),
            vec![field.to_owned()],
            "{what}: {:?}",
            a.json
        );
        assert!(!a.message().is_empty(), "{what}");
    }
    let a = rest
        .post(
            "/billing/v1/customers:invite",
            &json!({"resellerId": "r", "nope": 1}),
        )
        .await;
    assert!(a.message().contains("nope"), "{}", a.message());

    // Invalid JSON.
    let raw = rest
        .send(Method::POST, "/billing/v1/customers:invite", &[], None)
        .await;
    assert_eq!(
        raw.status, 400,
        "empty body is {{}}, then validation: {:?}",
        raw.json
    );
    // No route, and the wrong HTTP method of a known path.
    let none = rest.get("/billing/v1/nothing").await;
    assert_eq!(
        (none.status, none.json["code"].clone()),
        (404, json!(Code::NotFound as i32))
    );
    let wrong = rest
        .send(Method::DELETE, "/billing/v1/customers", &[], None)
        .await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), "GET");
    // A body over the limit.
    let huge = json!({"resellerId": "x".repeat(yc_billing::emulator::MAX_REQUEST_BYTES + 1)});
    let big = rest.post("/billing/v1/customers:invite", &huge).await;
    assert_eq!(big.status, 413, "{:?}", big.json);
    assert_eq!(big.json["code"], Code::ResourceExhausted as i32);
    emu.shutdown().await;
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The service's own errors: validation with BadRequest details, auth,
/// permissions, not found, and every gRPC code (through injected faults)
/// mapped to its HTTP status with `code`, `message`, `details`.
#[tokio::test]
async fn error_classes_map_to_http_statuses() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let invalid = rest
        .post(
            "/billing/v1/customers:invite",
            &json!({"resellerId": DEFAULT_RESELLER_ID, "name": "A", "invitationEmail": "not-an-email", "person": {}}),
        )
        .await;
    assert_eq!(invalid.status, 400, "{:?}", invalid.json);
    assert_eq!(
        invalid.bad_fields(),
        vec!["invitation_email".to_owned()],
        "{:?}",
        invalid.json
    );
    assert_eq!(
        invalid.json["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );

    let path = format!("/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}");
    let anonymous = Rest::with_token(&emu, None).get(&path).await;
    assert_eq!(
        (anonymous.status, anonymous.json["code"].clone()),
        (401, json!(16))
    );
    let twice = Rest::new(&emu)
        .send(
            Method::GET,
            &path,
            &[("authorization", "Bearer t1.other")],
            None,
        )
        .await;
    assert_eq!(
        twice.status, 401,
        "two Authorization headers: {:?}",
        twice.json
    );
    let forbidden = Rest::with_token(&emu, Some(NO_RIGHTS_IAM_TOKEN))
        .get(&path)
        .await;
    assert_eq!(
        (forbidden.status, forbidden.json["code"].clone()),
        (403, json!(7))
    );
    let missing = rest
        .post(
            "/billing/v1/customers/emucustomer000000099:activate",
            &json!({}),
        )
        .await;
    assert_eq!(
        (missing.status, missing.json["code"].clone()),
        (404, json!(5))
    );

    let expected = [
        (Code::Cancelled, 499),
        (Code::Unknown, 500),
        (Code::InvalidArgument, 400),
        (Code::DeadlineExceeded, 504),
        (Code::NotFound, 404),
        (Code::AlreadyExists, 409),
        (Code::PermissionDenied, 403),
        (Code::ResourceExhausted, 429),
        (Code::FailedPrecondition, 400),
        (Code::Aborted, 409),
        (Code::OutOfRange, 400),
        (Code::Unimplemented, 501),
        (Code::Internal, 500),
        (Code::Unavailable, 503),
        (Code::DataLoss, 500),
        (Code::Unauthenticated, 401),
    ];
    let get = billing_account_service::GET.trim_start_matches('/');
    for (code, status) in expected {
        emu.set_faults(Faults::default().fail_first(get, 1, code));
        let a = rest.get(&path).await;
        assert_eq!(a.status, status, "{code:?}: {:?}", a.json);
        assert_eq!(a.json["code"], code as i32, "{code:?}");
        assert!(
            a.json["message"].is_string() && a.json["details"].is_array(),
            "{:?}",
            a.json
        );
        assert!(!a.header("x-request-id").is_empty(), "{code:?}");
    }
    emu.shutdown().await;
}

/// `Idempotency-Key` replays the same subject's call; the same key with
/// another body is refused naming the header. Request ids travel both ways.
#[tokio::test]
async fn idempotency_keys_and_request_ids() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let key = [("Idempotency-Key", "k-1")];
    let first = rest
        .send(
            Method::POST,
            "/billing/v1/customers:invite",
            &key,
            Some(&invite_body("Once")),
        )
        .await;
    let again = rest
        .send(
            Method::POST,
            "/billing/v1/customers:invite",
            &key,
            Some(&invite_body("Once")),
        )
        .await;
    assert_eq!(first.json["id"], again.json["id"]);
    let other = rest
        .send(
            Method::POST,
            "/billing/v1/customers:invite",
            &key,
            Some(&invite_body("Twice")),
        )
        .await;
    assert_eq!(other.status, 400, "{:?}", other.json);
    assert!(
        other.message().starts_with("idempotency-key: "),
        "{:?}",
        other.json
    );
    assert_eq!(emu.calls(customer_service::INVITE), 3);

    let with_id = rest
        .send(
            Method::GET,
            "/billing/v1/billingAccounts",
            &[("X-Request-Id", "req-42")],
            None,
        )
        .await;
    assert_eq!(with_id.header("x-request-id"), "req-42");
    assert!(!with_id.header("x-server-trace-id").is_empty());
    let client_id = rest
        .send(
            Method::GET,
            "/billing/v1/billingAccounts",
            &[("X-Client-Request-Id", "req-43")],
            None,
        )
        .await;
    assert_eq!(client_id.header("x-request-id"), "req-43");
    emu.shutdown().await;
}

/// One state behind both transports: invited over REST, listed over gRPC,
/// and the other way round.
#[tokio::test]
async fn both_transports_share_the_state() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let op = rest
        .post("/billing/v1/customers:invite", &invite_body("Via REST"))
        .await;
    let done = rest.wait(&op).await;
    let rest_id = done["response"]["id"].as_str().unwrap().to_owned();

    let client = client_for(&emu).await.unwrap();
    let listed = client.customers().list(DEFAULT_RESELLER_ID).await.unwrap();
    assert!(
        listed.items.iter().any(|c| c.id == rest_id),
        "REST customer over gRPC"
    );

    let mut grpc = customers(&emu, owner(&emu)).await;
    let op = grpc
        .invite(InviteCustomerRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            name: "Via gRPC".into(),
            invitation_email: "grpc@acme.example".into(),
            person: Some(CustomerPerson {
                name: "Via gRPC".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    // The gRPC operation is visible and pollable over REST.
    let polled = rest.get(&format!("/operations/{}", op.id)).await;
    assert_eq!(polled.json["id"], op.id.as_str());
    let mut done = polled.json.clone();
    for _ in 0..500 {
        if done["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        done = rest.get(&format!("/operations/{}", op.id)).await.json;
    }
    let grpc_id = done["response"]["id"].as_str().unwrap().to_owned();
    let list = rest
        .get(&format!(
            "/billing/v1/customers?resellerId={DEFAULT_RESELLER_ID}"
        ))
        .await;
    let ids: Vec<&str> = list.json["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&grpc_id.as_str()) && ids.contains(&rest_id.as_str()),
        "{ids:?}"
    );
    // The same JSON as `yc_billing::json` writes for the gRPC answer.
    let account = client
        .billing_accounts()
        .get(DEFAULT_RESELLER_ID)
        .await
        .unwrap();
    let over_rest = rest
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(
        over_rest.json,
        yc_billing::json::to_value(&account).unwrap()
    );
    emu.shutdown().await;
}

/// HTTP/2 with prior knowledge on the plaintext port, and TLS with the gRPC
/// port's certificate offering h2 and http/1.1 by ALPN.
#[tokio::test]
async fn http2_and_tls() {
    let emu = emulator().await;
    let h2 = Rest::new(&emu).http2();
    let a = h2
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    emu.shutdown().await;

    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let emu = Emulator::builder()
        .tls(cert.pem().into_bytes(), key.serialize_pem().into_bytes())
        .start()
        .await
        .unwrap();
    assert!(
        emu.rest_endpoint()
            .unwrap()
            .starts_with("https://localhost:")
    );
    let path = format!("/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}");
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let (negotiated, a) = get_tls(&emu, cert.pem().as_bytes(), &path, alpn).await;
        assert_eq!(negotiated.as_bytes(), alpn);
        assert_eq!(a.status, 200, "{:?}", a.json);
        assert_eq!(a.json["id"], DEFAULT_RESELLER_ID);
    }
    // Plaintext HTTP to the TLS port gets no answer.
    let plain = tokio::time::timeout(
        Duration::from_secs(10),
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Full<prost::bytes::Bytes>>()
            .get(
                format!("http://{}{path}", emu.rest_addr().unwrap())
                    .parse()
                    .unwrap(),
            ),
    )
    .await
    .expect("the TLS port closes a plaintext request");
    assert!(plain.is_err(), "{plain:?}");
    emu.shutdown().await;
}

/// `rest_listen(None)` runs no REST port.
#[tokio::test]
async fn the_rest_port_can_be_turned_off() {
    let emu = Emulator::builder().rest_listen(None).start().await.unwrap();
    assert_eq!(emu.rest_addr(), None);
    assert_eq!(emu.rest_endpoint(), None);
    emu.shutdown().await;
}

/// The journal of the admin API says which transport each call came by,
/// with the REST client's address and its request as JSON.
#[tokio::test]
async fn journal_entries_say_which_transport() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let a = rest
        .get(&format!(
            "/billing/v1/billingAccounts/{DEFAULT_RESELLER_ID}"
        ))
        .await;
    assert_eq!(a.status, 200);
    let client = client_for(&emu).await.unwrap();
    client
        .billing_accounts()
        .get(DEFAULT_RESELLER_ID)
        .await
        .unwrap();
    let get = billing_account_service::GET.trim_start_matches('/');
    let page = emu.requests(Some(get), 0);
    let transports: Vec<Transport> = page.requests.iter().map(|e| e.transport).collect();
    assert_eq!(transports, [Transport::Rest, Transport::Grpc]);
    let entry = &page.requests[0];
    assert_eq!(entry.request.as_ref().unwrap()["id"], DEFAULT_RESELLER_ID);
    assert!(
        entry.peer.as_deref().unwrap().starts_with("127.0.0.1:"),
        "{entry:?}"
    );
    assert_eq!(entry.code, "OK");
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(json["transport"], "rest");
    emu.shutdown().await;
}

/// A peer that connects and sends nothing is closed after the handshake
/// timeout; so is one that stops in the middle of its request headers.
#[tokio::test]
async fn silent_and_stalled_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = Emulator::builder()
        .handshake_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    for sent in [
        &b""[..],
        b"GET /billing/v1/billingAccounts HTTP/1.1\r\nHost: x\r\n",
    ] {
        let mut tcp = tokio::net::TcpStream::connect(emu.rest_addr().unwrap())
            .await
            .unwrap();
        tcp.write_all(sent).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "connection still open after 10 s (sent {sent:?})"
        );
    }
    emu.shutdown().await;
}
