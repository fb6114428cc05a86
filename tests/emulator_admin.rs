//! The admin HTTP API over real HTTP on loopback: every endpoint, bad
//! input, a reset in the middle of pending operations, the manual clock,
//! and that the handle's methods see the same thing.

mod emulator_support;

use std::time::{Duration, SystemTime};

use emulator_support::{admin, client_for, client_with_token};
use serde_json::{Value, json};
use yc_billing::emulator::{
    DEFAULT_RESELLER_ID, Emulator, EmulatorHandle, Fault, REDACTED, Seed, example_person,
};
use yc_billing::proto::paths::billing::v1::customer_service as customers;
use yc_billing::time::ManualClock;

const INVITE: &str = customers::INVITE;
const LIST: &str = customers::LIST;

async fn start(builder: yc_billing::emulator::EmulatorBuilder) -> EmulatorHandle {
    builder
        .metadata_server(false)
        .admin_listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .expect("emulator starts")
}

fn route(path: &str) -> &str {
    &path[1..]
}

async fn invite(emu: &EmulatorHandle, email: &str) -> String {
    let client = client_for(emu).await.unwrap();
    let op = client
        .customers()
        .invite(
            DEFAULT_RESELLER_ID,
            "ACME",
            email,
            example_person("ACME", email),
        )
        .await
        .expect("invite starts");
    op.id().to_string()
}

#[tokio::test]
async fn reset_in_the_middle_of_pending_operations_discards_them() {
    let emu = start(Emulator::builder().operation_delay(Duration::from_secs(3600))).await;
    let before = emu.customers().len();
    let id = invite(&emu, "pending@example.com").await;
    let (status, ops) = admin(&emu, "GET", "/operations", None).await;
    assert_eq!(status, 200);
    assert_eq!(ops["operations"][0]["id"], id.as_str());
    assert_eq!(ops["operations"][0]["done"], Value::Null, "{ops}");

    let (status, body) = admin(&emu, "POST", "/reset", None).await;
    assert_eq!((status, body), (200, json!({"reset": true})));
    // The operation is gone: its id answers NOT_FOUND and its effect never applies.
    assert!(emu.operations().is_empty());
    let client = client_for(&emu).await.unwrap();
    let err = client.operations().get(&id).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
    let (status, body) = admin(&emu, "POST", &format!("/operations/{id}:complete"), None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(emu.customers().len(), before);
    // The journal was emptied by the reset.
    assert!(emu.requests(None, 0).requests.len() <= 1);
}

#[tokio::test]
async fn reset_restores_the_seed_and_the_starting_faults() {
    let emu = start(Emulator::builder().operation_delay(Duration::ZERO)).await;
    // A key the handle creates (`--write-sa-key`) is part of what reset restores.
    let key = emu.create_service_account_key("ajeemu0sa00000000042");
    let seed = emu.state();
    assert!(seed.service_account_keys.iter().any(|k| k.id == key.id));
    let id = invite(&emu, "done@example.com").await;
    let client = client_for(&emu).await.unwrap();
    client.operations().get(&id).await.unwrap();
    assert_ne!(emu.state(), seed);
    emu.add_faults(vec![Fault::Latency {
        method: None,
        ms: 1,
    }])
    .unwrap();
    let (status, _) = admin(&emu, "POST", "/reset", None).await;
    assert_eq!(status, 200);
    assert_eq!(emu.state(), seed);
    assert!(emu.faults().is_empty());
    let (status, body) = admin(&emu, "GET", "/reset", None).await;
    assert_eq!(status, 405, "{body}");
}

#[tokio::test]
async fn state_get_put_round_trips_and_rejects_bad_seeds_whole() {
    let emu = start(Emulator::builder()).await;
    let (status, state) = admin(&emu, "GET", "/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        Seed::from_json(&state.to_string()).unwrap(),
        emu.state(),
        "GET /state is the handle's snapshot"
    );
    // Replace the state with one customer fewer.
    let mut smaller = state.clone();
    smaller["customers"].as_array_mut().unwrap().pop();
    let (status, body) = admin(&emu, "PUT", "/state", Some(&smaller.to_string())).await;
    assert_eq!((status, body), (200, json!({"replaced": true})));
    assert_eq!(
        emu.customers().len(),
        state["customers"].as_array().unwrap().len() - 1
    );
    // A bad value: 400 naming its path, nothing changed.
    let mut bad = state.clone();
    bad["customers"][1]["status"] = json!("SLEEPING");
    let (status, body) = admin(&emu, "PUT", "/state", Some(&bad.to_string())).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "customers[1].status", "{body}");
    assert_eq!(
        emu.customers().len(),
        state["customers"].as_array().unwrap().len() - 1
    );
    let (status, body) = admin(&emu, "PUT", "/state", Some("{not json")).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = admin(&emu, "PUT", "/state", None).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn faults_added_listed_applied_and_cleared_at_run_time() {
    let emu = start(Emulator::builder()).await;
    let client = client_with_token(&emu, &emu.credentials().iam_token)
        .await
        .unwrap();
    let (status, body) = admin(
        &emu,
        "POST",
        "/faults",
        Some(
            &json!([
                {"fail_first": {"method": route(LIST), "count": 1, "code": "PERMISSION_DENIED"}},
                {"latency": {"method": route(LIST), "ms": 1}},
            ])
            .to_string(),
        ),
    )
    .await;
    assert_eq!((status, body), (200, json!({"ids": [1, 2]})));
    let (status, listed) = admin(&emu, "GET", "/faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["faults"][0],
        json!({"id": 1, "fail_first": {"method": route(LIST), "count": 1,
               "code": "PERMISSION_DENIED"}, "remaining": 1})
    );
    let err = client
        .customers()
        .list(DEFAULT_RESELLER_ID)
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::PermissionDenied), "{err}");
    client.customers().list(DEFAULT_RESELLER_ID).await.unwrap();
    assert_eq!(emu.faults()[0].remaining, Some(0));

    // Every other kind is accepted; fail_next_operation fails the next Invite.
    let (status, body) = admin(
        &emu,
        "POST",
        "/faults",
        Some(
            &json!([
                {"unavailable_rate": {"method": route(LIST), "rate": 0.0}},
                {"lost_response_rate": {"rate": 0.0}},
                // The kind may also be a member, as in the first version of the API.
                {"kind": "latency", "ms": 0},
                {"operation_not_found_gets": {"method": route(INVITE), "gets": 1}},
                {"fail_next_operation": {"method": route(INVITE), "code": "FAILED_PRECONDITION",
                                         "message": "locked"}},
            ])
            .to_string(),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = invite(&emu, "failing@example.com").await;
    // The first Get answers NOT_FOUND (operation_not_found_gets), then the failure.
    let (status, op) = admin(&emu, "POST", &format!("/operations/{id}:complete"), None).await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["error"]["code"], 9, "{op}");
    assert_eq!(op["error"]["message"], "locked");
    assert_eq!(
        emu.faults().len(),
        6,
        "the fail_next_operation rule was used up"
    );

    let (status, _) = admin(&emu, "DELETE", "/faults", None).await;
    assert_eq!(status, 200);
    assert!(emu.faults().is_empty());
}

#[tokio::test]
async fn bad_faults_are_400_naming_the_field_and_add_nothing() {
    let emu = start(Emulator::builder()).await;
    let cases = [
        (json!({"latency": {"ms": "x"}}), "[0].latency.ms"),
        (
            json!({"fail_first": {"method": "no.such.Service/Get", "count": 1, "code": "UNAVAILABLE"}}),
            "[0].fail_first.method",
        ),
        (
            json!({"fail_first": {"method": route(LIST), "count": 1, "code": "SOMETIMES"}}),
            "[0].fail_first.code",
        ),
        (
            json!({"unavailable_rate": {"rate": 1.5}}),
            "[0].unavailable_rate.rate",
        ),
        (
            json!({"latency": {"ms": 1, "extra": true}}),
            "[0].latency.extra",
        ),
        (json!({"sometimes": {}}), "[0]"),
        (
            json!({"fail_next_operation": {"method": route(LIST), "code": "INTERNAL"}}),
            "[0].fail_next_operation.method",
        ),
        // The second of two is bad: the first is not added either.
        (
            json!([{"latency": {"ms": 1}}, {"latency": {"ms": 1_000_000_000}}]),
            "[1].latency.ms",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = admin(&emu, "POST", "/faults", Some(&body.to_string())).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["field"], field, "{body} -> {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (status, _) = admin(&emu, "POST", "/faults", None).await;
    assert_eq!(status, 400);
    assert!(emu.faults().is_empty(), "nothing half-applied");
}

#[tokio::test]
async fn the_journal_records_calls_redacts_secrets_and_filters() {
    let emu = start(Emulator::builder().operation_delay(Duration::ZERO)).await;
    let client = client_for(&emu).await.unwrap();
    client.customers().list(DEFAULT_RESELLER_ID).await.unwrap();
    let id = invite(&emu, "journal@example.com").await;
    let bad = client_with_token(&emu, "t1.wrong").await.unwrap();
    let err = bad
        .customers()
        .list(DEFAULT_RESELLER_ID)
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated));

    let (status, page) = admin(&emu, "GET", "/requests", None).await;
    assert_eq!(status, 200);
    let requests = page["requests"].as_array().unwrap();
    let list = &requests[0];
    assert_eq!(list["seq"], 1);
    assert_eq!(list["method"], route(LIST));
    assert_eq!(list["code"], "OK");
    assert_eq!(list["transport"], "grpc");
    assert_eq!(list["request"]["resellerId"], DEFAULT_RESELLER_ID);
    assert_eq!(list["metadata"]["authorization"], REDACTED);
    assert!(list["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(list["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(list["time"].as_str().unwrap().ends_with('Z'));
    let invite_entry = requests
        .iter()
        .find(|r| r["method"] == route(INVITE))
        .unwrap();
    assert_eq!(invite_entry["operation_id"], id.as_str());
    assert_eq!(
        invite_entry["request"]["invitationEmail"],
        "journal@example.com"
    );
    let failed = requests.last().unwrap();
    assert_eq!(failed["code"], "UNAUTHENTICATED");
    assert!(!failed["message"].as_str().unwrap().is_empty());
    let text = page.to_string();
    assert!(!text.contains("t1.wrong") && !text.contains(&emu.credentials().iam_token));

    // Filters: by method (percent-encoded or not) and since a sequence number.
    let path = format!("/requests?method={}", route(INVITE).replace('/', "%2F"));
    let (_, only) = admin(&emu, "GET", &path, None).await;
    assert_eq!(only["requests"].as_array().unwrap().len(), 1, "{only}");
    let last = page["last_seq"].as_u64().unwrap();
    let (_, newer) = admin(&emu, "GET", &format!("/requests?since={}", last - 1), None).await;
    assert_eq!(newer["requests"].as_array().unwrap().len(), 1);
    assert_eq!(
        emu.requests(Some(route(INVITE)), 0).requests[0]
            .operation_id
            .as_deref(),
        Some(id.as_str())
    );
    for bad in [
        "/requests?since=-1",
        "/requests?since=x",
        "/requests?colour=red",
    ] {
        let (status, body) = admin(&emu, "GET", bad, None).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert!(body["field"].is_string(), "{bad} -> {body}");
    }

    let (status, _) = admin(&emu, "DELETE", "/requests", None).await;
    assert_eq!(status, 200);
    let (_, empty) = admin(&emu, "GET", "/requests", None).await;
    assert_eq!(empty["requests"], json!([]));
    assert_eq!(empty["last_seq"], last, "sequence numbers go on");
}

#[tokio::test]
async fn the_journal_ring_is_bounded_and_counts_what_it_dropped() {
    let emu = start(Emulator::builder().journal_size(2)).await;
    let client = client_for(&emu).await.unwrap();
    for _ in 0..5 {
        client.customers().list(DEFAULT_RESELLER_ID).await.unwrap();
    }
    let (_, page) = admin(&emu, "GET", "/requests", None).await;
    assert_eq!(page["requests"].as_array().unwrap().len(), 2);
    assert_eq!(page["dropped"], 3);
    assert_eq!(page["requests"][1]["seq"], 5);

    let off = start(Emulator::builder().journal_size(0)).await;
    let client = client_for(&off).await.unwrap();
    client.customers().list(DEFAULT_RESELLER_ID).await.unwrap();
    assert!(off.requests(None, 0).requests.is_empty());
}

#[tokio::test]
async fn operations_complete_and_fail_on_demand() {
    let emu = start(Emulator::builder().operation_delay(Duration::from_secs(3600))).await;
    let done = invite(&emu, "now@example.com").await;
    let failed = invite(&emu, "fail@example.com").await;
    let customers = emu.customers().len();

    let (status, op) = admin(&emu, "POST", &format!("/operations/{done}:complete"), None).await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["done"], true);
    assert!(
        op["response"]["@type"]
            .as_str()
            .unwrap()
            .ends_with("Customer")
    );
    assert_eq!(emu.customers().len(), customers + 1);

    let body = json!({"code": "ABORTED", "message": "emulated"}).to_string();
    let (status, op) = admin(
        &emu,
        "POST",
        &format!("/operations/{failed}:fail"),
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["error"], json!({"code": 10, "message": "emulated"}));
    assert_eq!(emu.customers().len(), customers + 1, "no effect");

    let (status, body) = admin(&emu, "POST", &format!("/operations/{done}:fail"), None).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = admin(&emu, "POST", "/operations/emuopnosuch:complete", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&emu, "POST", "/operations/x:explode", None).await;
    assert_eq!(status, 404);
    let (status, body) = admin(
        &emu,
        "POST",
        &format!("/operations/{failed}:fail"),
        Some(r#"{"code": "OK"}"#),
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("code")));

    let (_, listed) = admin(&emu, "GET", "/operations", None).await;
    let ids: Vec<&str> = listed["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [done.as_str(), failed.as_str()]);
}

#[tokio::test]
async fn the_manual_clock_expires_tokens_and_finishes_operations_without_waiting() {
    let start_at = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let emu = start(
        Emulator::builder()
            .manual_clock(ManualClock::new(start_at))
            .operation_delay(Duration::from_secs(600)),
    )
    .await;
    let (status, clock) = admin(&emu, "GET", "/clock", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        clock,
        json!({"now": "2033-05-18T03:33:20Z", "manual": true})
    );

    let token = emu.issue_iam_token(
        emu.credentials().subject_id.as_str(),
        Duration::from_secs(60),
    );
    let client = client_with_token(&emu, &token).await.unwrap();
    client.customers().list(DEFAULT_RESELLER_ID).await.unwrap();
    let id = invite(&emu, "clock@example.com").await;

    let body = json!({"seconds": 61}).to_string();
    let (status, clock) = admin(&emu, "POST", "/clock:advance", Some(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(clock["now"], "2033-05-18T03:34:21Z");
    let err = client
        .customers()
        .list(DEFAULT_RESELLER_ID)
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated), "{err}");
    let pending = emu.operations();
    assert!(!pending[0].done, "600 s have not passed");

    emu.advance_clock(Duration::from_secs(600)).unwrap();
    let op = &emu.operations()[0];
    assert_eq!((op.id.as_str(), op.done), (id.as_str(), true));

    for bad in [
        json!({"seconds": -1}),
        json!({"seconds": "ten"}),
        json!({"minutes": 1}),
        json!({"seconds": 1e300}),
    ] {
        let (status, answer) = admin(&emu, "POST", "/clock:advance", Some(&bad.to_string())).await;
        assert_eq!(status, 400, "{bad} -> {answer}");
    }
    let (_, answer) = admin(
        &emu,
        "POST",
        "/clock:advance",
        Some(r#"{"seconds": "ten"}"#),
    )
    .await;
    assert_eq!(answer["field"], "seconds", "{answer}");
    let (_, clock) = admin(&emu, "GET", "/clock", None).await;
    assert_eq!(
        clock["now"], "2033-05-18T03:44:21Z",
        "nothing moved on bad input"
    );
}

#[tokio::test]
async fn without_the_manual_clock_advancing_is_refused() {
    let emu = start(Emulator::builder()).await;
    let (status, body) = admin(&emu, "POST", "/clock:advance", Some(r#"{"seconds": 1}"#)).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("--manual-clock"));
    assert_eq!(admin(&emu, "GET", "/clock", None).await.1["manual"], false);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let emu = start(Emulator::builder()).await;
    for (method, path, want) in [
        ("GET", "/", 404),
        ("GET", "/nope", 404),
        ("POST", "/state", 405),
        ("PUT", "/faults", 405),
        ("POST", "/requests", 405),
        ("DELETE", "/operations", 405),
        ("POST", "/clock", 405),
        ("GET", "/clock:advance", 405),
        ("GET", "/operations/x:complete", 405),
    ] {
        let (status, body) = admin(&emu, method, path, None).await;
        assert_eq!(status, want, "{method} {path} -> {body}");
        assert!(body["error"].is_string(), "{method} {path} -> {body}");
    }
}

#[tokio::test]
async fn the_admin_api_binds_loopback_only() {
    let err = Emulator::builder()
        .metadata_server(false)
        .admin_listen("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            yc_billing::emulator::EmulatorError::AdminNotLoopback(_)
        ),
        "{err}"
    );
    assert!(err.to_string().contains("loopback"), "{err}");
}
