//! The real binary end to end: commands, output formats, options, and bad input
//! (one-line errors with the right exit code).

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"))
}

fn pl() -> Command {
    let mut c = Command::cargo_bin("pl-doctor").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("AWS_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    c
}

fn json_report(args: &[&str]) -> (Value, i32) {
    let out = pl().args(args).args(["-o", "json"]).output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

/// stderr is exactly one line, starting with "pl-doctor:", and mentions `needle`.
fn assert_one_line_error(out: &std::process::Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("pl-doctor: "), "{err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(
        out.stdout.is_empty(),
        "stdout on error: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn checks_lists_the_nineteen_ids_in_runbook_order() {
    let out = pl().arg("checks").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "endpoint-state",
            "allowed-principals",
            "connection-acceptance",
            "endpoint-sg-ingress",
            "client-sg-egress",
            "subnet-nacl",
            "nlb-listener",
            "nlb-security-group",
            "target-health",
            "target-sg-ingress",
            "private-dns-verification",
            "private-dns-enabled",
            "vpc-dns-attributes",
            "dns-overrides",
            "dns-resolution",
            "az-alignment",
            "cross-zone",
            "idle-timeout-resets",
            "flow-log-rejects",
            "connect-probe"
        ]
    );
    let steps: Vec<u32> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        steps,
        (1..=pl_checks::registry::RUNBOOK.len() as u32).collect::<Vec<_>>()
    );
}

#[test]
fn explain_prints_every_checks_documentation_sections() {
    for id in pl_checks::registry::ids() {
        let out = pl().args(["explain", id]).output().unwrap();
        assert!(out.status.success(), "{id}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(id), "{id}");
        for section in [
            "What it checks",
            "Why it matters",
            "How to fix",
            "IAM actions",
            "Docs: https://docs.aws.amazon.com/",
        ] {
            assert!(text.contains(section), "{id} explain lacks {section:?}");
        }
    }
}

#[test]
fn explain_unknown_id_exits_2_listing_the_valid_ids() {
    let out = pl().args(["explain", "sg-ingress"]).output().unwrap();
    assert_one_line_error(&out, 2, "unknown check id \"sg-ingress\"");
    let err = String::from_utf8_lossy(&out.stderr);
    for id in pl_checks::registry::ids() {
        assert!(err.contains(id), "valid ids not listed: {err}");
    }
}

#[test]
fn bad_snapshots_are_one_line_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let out = pl()
        .args(["--from-snapshot", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "cannot read it");

    let healthy = std::fs::read_to_string(fixture("healthy")).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &healthy[..healthy.len() / 2]).unwrap();
    let out = pl()
        .args(["--from-snapshot", truncated.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "truncated");

    let future = dir.path().join("future.json");
    std::fs::write(
        &future,
        healthy.replacen("\"snapshot_version\": 1", "\"snapshot_version\": 2", 1),
    )
    .unwrap();
    let out = pl()
        .args(["--from-snapshot", future.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "snapshot_version 2 is newer");

    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, "{\"Reservations\": []}").unwrap();
    let out = pl()
        .args(["--from-snapshot", foreign.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "not a pl-doctor snapshot");

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        healthy.replacen("\"region\": \"us-east-1\",", "", 1),
    )
    .unwrap();
    let out = pl()
        .args(["--from-snapshot", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "missing field `region`");
}

#[test]
fn malformed_options_are_one_line_errors_with_exit_2() {
    let snap = fixture("healthy");
    let snap = snap.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--client", "10.0.0.300"], "--client"),
        (&["--client", "sg-nothex"], "not a security group id"),
        (&["--port", "0"], "not a TCP port"),
        (&["--port", "8443,http"], "not a TCP port"),
        (
            &["--only", "endpoint-state,bogus"],
            "--only: unknown check id \"bogus\"",
        ),
        (&["--skip", "nope"], "--skip: unknown check id \"nope\""),
        (&["--since", "yesterday"], "not a duration"),
        (&["--region", "useast1"], "not an AWS region"),
        (
            &["--provider-role-arn", "arn:aws:iam::1:role/x"],
            "not an IAM role ARN",
        ),
        (
            &["--endpoint", "vpce-svc-0123456789abcdef0"],
            "not an interface endpoint id",
        ),
        (
            &["--endpoint", "vpce-0ffffffffffffffff"],
            "does not match the snapshot",
        ),
        (&["--output", "yaml"], "invalid value 'yaml'"),
        (&["--resolver", "10.0.0.2"], "cannot be used with"),
        (&["--probe-target", "10.0.1.25"], "cannot be used with"),
    ];
    for (args, needle) in cases {
        let out = pl()
            .args(["--from-snapshot", snap])
            .args(*args)
            .output()
            .unwrap();
        assert_one_line_error(&out, 2, needle);
    }
    let out = pl().output().unwrap();
    assert_one_line_error(&out, 2, "nothing to diagnose");
}

#[test]
fn fleet_service_and_watch_options_are_checked_before_any_aws_call() {
    // No region and no endpoint URL: a check that let these through would exit 3, not 2.
    let cases: &[(&[&str], &str)] = &[
        (
            &["--service", "vpce-0a1b2c3d4e5f6a7b8"],
            "not an endpoint service id",
        ),
        (&["--service", "svc-1"], "not an endpoint service id"),
        (&["--all", "--vpc", "vpc-XYZ"], "not a VPC id"),
        (
            &[
                "--endpoint",
                "vpce-0a1b2c3d4e5f6a7b8",
                "--vpc",
                "vpc-0a1b2c3d4e5f6a7b8",
            ],
            "add --all",
        ),
        (
            &[
                "--service",
                "vpce-svc-0123456789abcdef0",
                "--client",
                "10.0.0.1",
            ],
            "cannot be used with",
        ),
        (
            &["--all", "--endpoint", "vpce-0a1b2c3d4e5f6a7b8"],
            "cannot be used with",
        ),
        (
            &["--all", "--watch", "500ms"],
            "watch at most once a second",
        ),
        (
            &["--from-snapshot", "x.json", "--watch"],
            "cannot be used with",
        ),
    ];
    for (args, needle) in cases {
        let out = pl().args(*args).output().unwrap();
        assert_one_line_error(&out, 2, needle);
    }
}

#[test]
fn live_collection_without_a_region_exits_3_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let out = pl()
        .args(["--endpoint", "vpce-0a1b2c3d4e5f6a7b8"])
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap();
    assert_one_line_error(&out, 3, "vpce-0a1b2c3d4e5f6a7b8");
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint: "));
}

#[test]
fn only_and_skip_turn_the_other_checks_into_skip() {
    let snap = fixture("healthy");
    let (r, code) = json_report(&[
        "--from-snapshot",
        snap.to_str().unwrap(),
        "--only",
        "endpoint-state,target-health",
    ]);
    assert_eq!(code, 0);
    for c in r["checks"].as_array().unwrap() {
        let selected = c["id"] == "endpoint-state" || c["id"] == "target-health";
        assert_eq!(c["status"] == "skip", !selected, "{}", c["id"]);
    }
    assert_eq!(r["counts"]["skip"], 17);
    let (r, _) = json_report(&[
        "--from-snapshot",
        snap.to_str().unwrap(),
        "--skip",
        "connect-probe",
    ]);
    let probe = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "connect-probe")
        .unwrap();
    assert_eq!(probe["status"], "skip");
    assert_eq!(probe["summary"], "skipped by --skip");
}

#[test]
fn port_and_client_override_the_recorded_inputs() {
    let snap = fixture("healthy");
    let snap = snap.to_str().unwrap();
    // The endpoint SG admits 10.0.0.0/16 on 8443: a client outside the VPC is refused.
    let (r, code) = json_report(&["--from-snapshot", snap, "--client", "192.168.7.9"]);
    let ingress = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "endpoint-sg-ingress")
        .unwrap();
    assert_eq!(ingress["status"], "fail", "{ingress}");
    assert_eq!(code, 1);
    assert_eq!(r["root_cause"], "endpoint-sg-ingress");
    // No listener on 9443.
    let (r, code) = json_report(&["--from-snapshot", snap, "--port", "9443"]);
    let listener = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "nlb-listener")
        .unwrap();
    assert_eq!(listener["status"], "fail", "{listener}");
    assert_eq!(code, 1);
}

#[test]
fn save_snapshot_round_trips_to_the_identical_report() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.json");
    let src = fixture("enterprise");
    let (a, _) = json_report(&[
        "--from-snapshot",
        src.to_str().unwrap(),
        "--save-snapshot",
        copy.to_str().unwrap(),
    ]);
    let (b, _) = json_report(&["--from-snapshot", copy.to_str().unwrap()]);
    assert_eq!(a["checks"], b["checks"]);
    assert_eq!(a["target"], b["target"]);
    assert_eq!(
        std::fs::read_to_string(&src).unwrap(),
        std::fs::read_to_string(&copy).unwrap()
    );
}

#[test]
fn markdown_report_has_the_table_and_the_root_cause_fix() {
    let out = pl()
        .args([
            "--from-snapshot",
            fixture("healthy").to_str().unwrap(),
            "--client",
            "192.168.7.9",
            "-o",
            "markdown",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("## pl-doctor: `vpce-0a1b2c3d4e5f6a7b8`"),
        "{md}"
    );
    assert!(md.contains("| 4 | `endpoint-sg-ingress` | fail |"), "{md}");
    assert!(md.contains("#### FAIL `endpoint-sg-ingress`"), "{md}");
    assert!(md.contains("(root cause)"));
    assert!(
        md.contains("**Fix:**") && md.contains("sg-0e1d2c3b4a5f60718"),
        "{md}"
    );
}

#[test]
fn table_is_plain_without_a_terminal_and_names_the_verdict() {
    pl().args(["--from-snapshot", fixture("healthy").to_str().unwrap()])
        .env_remove("NO_COLOR")
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}[").not())
        .stdout(predicate::str::contains("Verdict: PASS"));
}

#[test]
fn help_and_version_exit_0() {
    pl().arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--from-snapshot"));
    pl().arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn iam_policy_prints_the_generated_read_only_policies() {
    let out = pl().arg("iam-policy").output().unwrap();
    assert!(out.status.success());
    let consumer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        consumer,
        pl_checks::iam::policy(pl_checks::iam::Side::Consumer, None)
    );
    assert_eq!(consumer["Version"], "2012-10-17");
    let actions = consumer["Statement"][0]["Action"].as_array().unwrap();
    assert!(actions
        .iter()
        .all(|a| pl_checks::iam::is_read_only(a.as_str().unwrap())));

    let out = pl().args(["iam-policy", "--provider"]).output().unwrap();
    let provider: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(provider["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .contains(&Value::from("elasticloadbalancing:DescribeTargetHealth")));

    let out = pl()
        .args([
            "iam-policy",
            "--provider-role-arn",
            "arn:aws:iam::111111111111:role/pl-doctor-readonly",
        ])
        .output()
        .unwrap();
    let with_assume: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        with_assume["Statement"][1]["Resource"],
        "arn:aws:iam::111111111111:role/pl-doctor-readonly"
    );

    let out = pl()
        .args(["iam-policy", "--provider-role-arn", "not-an-arn"])
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "not an IAM role ARN");
}
