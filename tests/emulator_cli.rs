//! The standalone `yc-billing emulator` binary: ready line and SIGTERM.

mod emulator_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic::metadata::MetadataValue;
use yc_billing::emulator::{DEFAULT_IAM_TOKEN, DEFAULT_RESELLER_ID, ServiceAccountKeyFile};
use yc_billing::proto::yandex::cloud::billing::v1::ListCustomersRequest;
use yc_billing::proto::yandex::cloud::billing::v1::customer_service_client::CustomerServiceClient;

#[tokio::test]
async fn ready_line_calls_and_sigterm() {
    let key_path = std::env::temp_dir().join(format!("yc-billing-sa-{}.json", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_yc-billing"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--random-seed", "1"])
        .args([
            "--fail-first",
            "yandex.cloud.billing.v1.CustomerService/List:1:UNAVAILABLE",
        ])
        .arg("--write-sa-key")
        .arg(&key_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["tls"], false);
    let endpoint = ready["endpoint"].as_str().unwrap().to_string();
    assert_eq!(
        endpoint,
        format!("http://{}", ready["address"].as_str().unwrap())
    );
    assert!(ready["metadata_address"].as_str().is_some());
    let key =
        ServiceAccountKeyFile::from_json(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(key.key_algorithm, "RSA_2048");
    let _ = std::fs::remove_file(&key_path);

    let channel = tonic::transport::Channel::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let auth: MetadataValue<_> = format!("Bearer {DEFAULT_IAM_TOKEN}").parse().unwrap();
    let mut c =
        CustomerServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", auth.clone());
            Ok(r)
        });
    let req = ListCustomersRequest {
        reseller_id: DEFAULT_RESELLER_ID.into(),
        ..Default::default()
    };
    assert_eq!(
        c.list(req.clone()).await.unwrap_err().code(),
        tonic::Code::Unavailable
    );
    assert_eq!(c.list(req).await.unwrap().into_inner().customers.len(), 3);

    drop(c);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "emulator did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
