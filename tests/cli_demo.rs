//! `yc-billing demo` runs the whole reseller flow against its own emulator.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_runs_every_step_and_exits_0() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_yc-billing"))
        .arg("demo")
        .env_remove("YC_BILLING_ENDPOINT")
        .env_remove("YC_BILLING_RESELLER_ID")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for n in 1..=13 {
        assert!(
            stdout.contains(&format!("[{n:>2}/13] ")),
            "step {n} missing:\n{stdout}"
        );
    }
    assert!(!stdout.contains("skipped"), "{stdout}");
    assert!(stdout.contains("code: NOT_FOUND"), "{stdout}");
    assert!(
        stdout.contains("usage report") && stdout.contains("service(s), expense"),
        "{stdout}"
    );
    assert!(stdout.contains("request id: "), "{stdout}");
    assert!(stdout.contains("exits with code 4"), "{stdout}");
    assert!(stdout.contains("demo finished in"), "{stdout}");
    // The invite step's equivalent over REST, its body the request as proto3 JSON.
    let curl = stdout
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("$ curl -X POST http://127.0.0.1:")
        })
        .unwrap_or_else(|| panic!("no curl line:\n{stdout}"));
    assert!(curl.contains("/billing/v1/customers:invite -H"), "{curl}");
    let body = curl.split_once("-d '").unwrap().1.trim_end_matches('\'');
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["resellerId"], "dn2emu0reseller00001");
    assert_eq!(body["person"]["name"], "Demo Invited");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the demo took {:?}",
        started.elapsed()
    );
}

#[test]
fn demo_against_an_endpoint_needs_a_reseller_id() {
    let out = Command::new(env!("CARGO_BIN_EXE_yc-billing"))
        .args([
            "--endpoint",
            "127.0.0.1:1",
            "--plaintext",
            "--iam-token",
            "t",
            "demo",
        ])
        .env_remove("YC_BILLING_RESELLER_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--reseller-id"), "{stderr}");
}
