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
fn checks_lists_the_runbook_ids_in_design_order() {
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
            "service-region",
            "allowed-principals",
            "connection-acceptance",
            "endpoint-sg-ingress",
            "client-sg-egress",
            "subnet-nacl",
            "ip-address-type",
            "endpoint-policy",
            "nlb-listener",
            "nlb-security-group",
            "target-health",
            "target-sg-ingress",
            "nlb-capacity",
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
    assert_eq!(steps, (1..=ids.len() as u32).collect::<Vec<_>>());
    assert_eq!(ids.len(), 24);
    // Which kind of endpoint each check applies to.
    let applies = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap()
            .to_owned()
    };
    assert_eq!(applies("endpoint-policy"), "aws-svc");
    assert_eq!(applies("nlb-listener"), "endpoint-svc");
    assert_eq!(applies("allowed-principals"), "endpoint-svc");
    assert_eq!(applies("endpoint-sg-ingress"), "both");
    assert_eq!(applies("dns-resolution"), "both");
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
            "Applies to: interface endpoints to",
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
fn many_account_options_are_checked_before_any_aws_call() {
    let svc = "vpce-svc-0123456789abcdef0";
    let cases: &[(&[&str], &str)] = &[
        (&["--all", "--accounts", "2222"], "12 digits"),
        (&["--all", "--accounts", "222222222222"], "need --role-name"),
        (
            &["--accounts", "222222222222", "--role-name", "r"],
            "add --all",
        ),
        (&["--all", "--role-name", "r"], "--accounts ID,… or --org"),
        (
            &[
                "--all",
                "--org",
                "--role-name",
                "arn:aws:iam::111111111111:role/r",
            ],
            "not an IAM role name",
        ),
        (&["--all", "--regions", "moon-1"], "not an AWS region name"),
        (
            &["--all", "--regions", "all,us-east-1"],
            "either all or a list",
        ),
        (
            &[
                "--endpoint",
                "vpce-0a1b2c3d4e5f6a7b8",
                "--consumer-role-name",
                "r",
            ],
            "cannot be used with",
        ),
        (
            &["--all", "--consumer-role-name", "r"],
            "cannot be used with",
        ),
        (
            &["--service", svc, "--accounts", "222222222222"],
            "cannot be used with",
        ),
        (
            &["--service", svc, "--provider-role-name", "r"],
            "cannot be used with",
        ),
        (
            &["--all", "--org", "--role-name", "r", "--concurrency", "0"],
            "1 to 256",
        ),
        (&["--all", "--concurrency", "4"], "--concurrency bounds"),
        (
            &["--all", "--external-id", "x"],
            "applies to an assumed role",
        ),
    ];
    for (args, needle) in cases {
        let out = pl().args(*args).output().unwrap();
        assert_one_line_error(&out, 2, needle);
    }
}

#[test]
fn iam_policy_prints_the_hub_policy_and_the_member_trust_policy() {
    let out = pl()
        .args([
            "iam-policy",
            "--hub",
            "--role-name",
            "pl-doctor-read,pl-doctor-provider",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let hub: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = hub.to_string();
    for needle in [
        "organizations:ListAccounts",
        "ec2:DescribeRegions",
        "arn:aws:iam::*:role/pl-doctor-read",
        "arn:aws:iam::*:role/pl-doctor-provider",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let out = pl()
        .args([
            "iam-policy",
            "--member",
            "--trust-principal",
            "arn:aws:iam::111111111111:role/platform-hub",
            "--external-id",
            "fraud-7",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let trust: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "fraud-7"
    );
    // --member alone: the read-only policy a consumer member role carries.
    let out = pl().args(["iam-policy", "--member"]).output().unwrap();
    let member: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(member.to_string().contains("ec2:DescribeVpcEndpoints"));
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
    assert_eq!(
        r["counts"]["skip"],
        pl_checks::registry::RUNBOOK.len() - 2,
        "every check but the two selected"
    );
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
    assert!(md.contains("| 5 | `endpoint-sg-ingress` | fail |"), "{md}");
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

/// Exit 3, not 2 or 1: the id is well-formed and the endpoint exists (not bad input), and
/// no check ran (not a check failure): pl-doctor cannot diagnose this endpoint at all.
#[test]
fn other_endpoint_types_are_named_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let healthy: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("healthy")).unwrap()).unwrap();
    for (ty, needle) in [
        ("Gateway", "Gateway endpoint"),
        ("GatewayLoadBalancer", "Gateway Load Balancer endpoint"),
        ("Resource", "Resource endpoint"),
        ("ServiceNetwork", "Service network endpoint"),
        (
            "SomethingNew",
            "SomethingNew endpoint (a type this pl-doctor does not know yet)",
        ),
    ] {
        let mut snap = healthy.clone();
        snap["consumer"]["endpoint"]["endpoint_type"] = Value::from(ty);
        let path = dir.path().join(format!("{ty}.json"));
        std::fs::write(&path, serde_json::to_string(&snap).unwrap()).unwrap();
        let out = pl()
            .args(["--from-snapshot", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_one_line_error(&out, 3, needle);
        assert_one_line_error(
            &out,
            3,
            "pl-doctor diagnoses Interface endpoints (to PrivateLink endpoint services and to AWS services)",
        );
    }
}

#[test]
fn an_ipv6_client_is_accepted_and_judged_by_the_ipv6_rules() {
    // The dual-stack fixture admits its VPC's IPv6 range (2600:1f18:4a3:6f00::/56) only.
    let snap = fixture("dualstack-ipv6-client");
    let (r, code) = json_report(&["--from-snapshot", snap.to_str().unwrap()]);
    assert_eq!(code, 0, "{r}");
    let (r, code) = json_report(&[
        "--from-snapshot",
        snap.to_str().unwrap(),
        "--client",
        "2001:db8::/64",
    ]);
    assert_eq!(code, 1);
    let sg = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "endpoint-sg-ingress")
        .unwrap();
    assert_eq!(sg["status"], "fail", "{sg}");
    assert!(
        sg["summary"].as_str().unwrap().contains("2001:db8::/64"),
        "{sg}"
    );
}
