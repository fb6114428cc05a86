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

/// Reads the ready line of a freshly started `yc-billing emulator`.
fn start_emulator(extra: &[&std::ffi::OsStr]) -> (std::process::Child, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yc-billing"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--no-metadata"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
    (child, ready)
}

/// Waits (bounded) for the child to exit and returns its status.
fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("emulator did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A harness that signals the moment it has read the ready line always gets
/// a clean shutdown: the handlers are installed before the line is printed.
#[test]
fn sigterm_right_after_the_ready_line_is_a_clean_exit() {
    for run in 0..20 {
        let (mut child, ready) = start_emulator(&[]);
        assert_eq!(ready["event"], "ready");
        let pid = i32::try_from(child.id()).unwrap();
        let signal = if run % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let status = wait_exit(&mut child, Duration::from_secs(10));
        assert_eq!(
            status.code(),
            Some(0),
            "run {run}: signal {signal} right after the ready line gave {status}"
        );
    }
}

/// `--write-sa-key` writes the private key readable by the owner only, and
/// replaces a pre-existing file whole (temp file + rename).
#[cfg(unix)]
#[test]
fn write_sa_key_is_private_and_replaces_the_file_whole() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = std::env::temp_dir().join(format!("yc-billing-sa-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.json");
    // A world-readable older file, longer than any key: nothing of it may remain.
    std::fs::write(&path, "x".repeat(64 * 1024)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let old_inode = std::fs::metadata(&path).unwrap().ino();

    let (mut child, _ready) = start_emulator(&["--write-sa-key".as_ref(), path.as_os_str()]);
    let meta = std::fs::metadata(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());

    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "key file mode");
    assert_ne!(meta.ino(), old_inode, "the key must be renamed into place");
    assert!(
        text.len() < 16 * 1024 && !text.contains("xxxxxxxxxxxxxxxx"),
        "remains of the old file: {} bytes",
        text.len()
    );
    let key = ServiceAccountKeyFile::from_json(&text).unwrap();
    assert!(!key.private_key.is_empty());
    // No temp file is left next to it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("key.json")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// User plus system CPU time of a process so far (Linux `/proc`).
#[cfg(target_os = "linux")]
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
    Duration::from_millis(ticks * 1000 / hz)
}

/// Item 10: with the descriptor limit reached the accept loop backs off
/// (bounded CPU), logs once per interval, and serves again once descriptors
/// are free.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn accept_errors_back_off_log_once_and_recover() {
    use std::os::unix::process::CommandExt;
    let log_path =
        std::env::temp_dir().join(format!("yc-billing-emfile-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yc-billing"));
    cmd.args(["emulator", "--listen", "127.0.0.1:0", "--no-metadata"])
        .args(["--handshake-timeout-ms", "60000"])
        .env("RUST_LOG", "yc_billing=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    // SAFETY: only async-signal-safe setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 48,
                rlim_max: 48,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr: std::net::SocketAddr = ready["address"].as_str().unwrap().parse().unwrap();

    // More silent connections than the child has descriptors.
    let mut held = Vec::new();
    for _ in 0..80 {
        held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu_before = cpu_time(child.id());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cpu = cpu_time(child.id()) - cpu_before;
    assert!(
        cpu < Duration::from_millis(300),
        "the emulator used {cpu:?} of CPU in 1.5 s at the descriptor limit"
    );
    let text = std::fs::read_to_string(&log_path).unwrap();
    let accept_lines = text.lines().filter(|l| l.contains("cannot accept")).count();
    assert_eq!(accept_lines, 1, "accept-error log lines:\n{text}");

    // Free the descriptors: a real call gets through again.
    drop(held);
    let endpoint = ready["endpoint"].as_str().unwrap().to_string();
    let call = async {
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
        c.list(ListCustomersRequest {
            reseller_id: DEFAULT_RESELLER_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
    };
    let page = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("no recovery within 10 s after descriptors were freed");
    assert_eq!(page.customers.len(), 3);

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let _ = std::fs::remove_file(&log_path);
    assert_eq!(status.code(), Some(0), "{status}");
}

/// `--write-sa-key`'s key is part of the seed: after `POST /reset` of the
/// admin API it still signs in (regression: the key and its rights were
/// made after the start and a reset dropped them, breaking SDK harnesses
/// that reset between tests).
#[tokio::test]
async fn write_sa_key_survives_an_admin_reset() {
    use yc_billing::Client;
    use yc_billing::auth::Credentials;
    let path =
        std::env::temp_dir().join(format!("yc-billing-sa-reset-{}.json", std::process::id()));
    let (mut child, ready) = start_emulator(&[
        "--admin-listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--write-sa-key".as_ref(),
        path.as_os_str(),
    ]);
    let admin = ready["admin_address"].as_str().unwrap();
    let (status, body) = emulator_support::admin_at(admin, "POST", "/reset", None).await;
    assert_eq!((status, body), (200, serde_json::json!({"reset": true})));

    let client = Client::builder()
        .endpoint(ready["address"].as_str().unwrap())
        .plaintext(true)
        .credentials(Credentials::service_account_key_file(&path).unwrap())
        .build()
        .await
        .unwrap();
    let account = client.billing_accounts().get(DEFAULT_RESELLER_ID).await;
    let _ = std::fs::remove_file(&path);
    assert_eq!(account.unwrap().id, DEFAULT_RESELLER_ID);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}

/// `--worker-threads 1`: one runtime worker serves the calls; 0 is refused
/// naming the option.
#[tokio::test]
async fn worker_threads_sets_the_serving_threads() {
    let (mut child, ready) = start_emulator(&["--worker-threads".as_ref(), "1".as_ref()]);
    let endpoint = ready["endpoint"].as_str().unwrap().to_string();
    let client = yc_billing::Client::builder()
        .endpoint(endpoint)
        .iam_token(DEFAULT_IAM_TOKEN)
        .build()
        .await
        .unwrap();
    let account = client
        .billing_accounts()
        .get(DEFAULT_RESELLER_ID)
        .await
        .unwrap();
    assert_eq!(account.id, DEFAULT_RESELLER_ID);
    let workers = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == "tokio-rt-worker")
        .count();
    assert_eq!(workers, 1);
    child.kill().unwrap();
    child.wait().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_yc-billing"))
        .args(["emulator", "--worker-threads", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--worker-threads"), "{stderr}");
}
