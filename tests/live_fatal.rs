//! The live path's early exits, with no emulator: an API that cannot be reached and
//! credentials that cannot be found both end the run with exit 3 and one line that
//! names the endpoint and region, plus a hint.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ENDPOINT: &str = "vpce-0a1b2c3d4e5f6a7b8";

/// A loopback port nothing listens on: bind, read the port, close.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// pl-doctor with an environment that cannot reach any real AWS account or file.
fn pl(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pl-doctor"));
    for var in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        c.env_remove(var);
    }
    c.env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Run to completion, failing (and killing it) if it hangs: the point of these exits is
/// that they come quickly instead of after minutes of retries.
fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd.spawn().unwrap();
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("pl-doctor still running after 60 s: it must give up on an unreachable API");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_cannot_diagnose(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("pl-doctor: "), "{err}");
    for n in [ENDPOINT, "us-east-1", "hint: "].iter().chain(needles) {
        assert!(err.contains(n), "{err:?} lacks {n:?}");
    }
    assert!(
        out.stdout.is_empty(),
        "stdout on error: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn unreachable_api_exits_3_with_one_line_and_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = pl(home.path());
    cmd.args([
        "--endpoint",
        ENDPOINT,
        "--region",
        "us-east-1",
        "--endpoint-url",
    ])
    .arg(format!("http://127.0.0.1:{}", closed_port()))
    .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret");
    let out = run_bounded(cmd);
    assert_cannot_diagnose(&out, &["unreachable", "--endpoint-url"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("not-a-real-secret"), "a secret leaked: {err}");
}

#[test]
fn aws_endpoint_url_from_the_environment_is_honoured() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = pl(home.path());
    cmd.args(["--endpoint", ENDPOINT, "--region", "us-east-1"])
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", closed_port()),
        )
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret");
    assert_cannot_diagnose(&run_bounded(cmd), &["unreachable"]);
}

#[test]
fn no_credentials_exits_3_with_a_login_hint() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = pl(home.path());
    cmd.args([
        "--endpoint",
        ENDPOINT,
        "--region",
        "us-east-1",
        "--endpoint-url",
    ])
    .arg(format!("http://127.0.0.1:{}", closed_port()));
    assert_cannot_diagnose(&run_bounded(cmd), &["no AWS credentials", "aws sso login"]);
}

#[test]
fn no_region_exits_3_naming_the_flag() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = pl(home.path());
    cmd.args(["--endpoint", ENDPOINT]);
    let out = run_bounded(cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.contains(ENDPOINT) && err.contains("--region"), "{err}");
}
