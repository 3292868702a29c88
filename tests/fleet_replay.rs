//! Fleet and service snapshot files replayed through the real binary (no AWS): the
//! summary rows, worst first; the exit code over every endpoint; one endpoint cut out
//! with `--endpoint`; the provider view's consumer-side checks skipped with a reason.
//! The files are made here from the fixtures, so they follow the fixtures' evolution.

use assert_cmd::Command;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A fleet file holding the named fixtures, the n-th renamed to endpoint id `ids[n]`.
fn fleet_file(dir: &Path, kind: &str, parts: &[(&str, &str)], provider_view: bool) -> PathBuf {
    let snapshots: Vec<Value> = parts
        .iter()
        .map(|(name, id)| {
            // Renamed everywhere (the provider's connection list names it too).
            let original = fixture(name)["consumer"]["endpoint"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let text = serde_json::to_string(&fixture(name))
                .unwrap()
                .replace(&original, id);
            let mut s: Value = serde_json::from_str(&text).unwrap();
            if provider_view {
                s["inputs"]["view"] = json!("provider");
            }
            s
        })
        .collect();
    let service = if kind == "service" {
        snapshots.first().cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let mut fleet = json!({
        "fleet_snapshot_version": 1,
        "kind": kind,
        "collected_by": "pl-doctor test",
        "collected_at": "2026-11-25T00:00:00Z",
        "scope": { "region": "us-east-1", "account": "123456789012" },
        "snapshots": snapshots,
    });
    if !service.is_null() {
        fleet["service"] = service;
    }
    let path = dir.join(format!("{kind}.json"));
    std::fs::write(&path, serde_json::to_vec(&fleet).unwrap()).unwrap();
    path
}

fn pl() -> Command {
    let mut c = Command::cargo_bin("pl-doctor").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("AWS_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    c
}

fn stdout_of(args: &[&str]) -> String {
    String::from_utf8(pl().args(args).output().unwrap().stdout).expect("UTF-8 output")
}

fn run_json(args: &[&str]) -> (Value, i32) {
    let out = pl().args(args).args(["-o", "json"]).output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

const HEALTHY: &str = "vpce-0000000000000000a";
const SG: &str = "vpce-0000000000000000b";
const WARN: &str = "vpce-0000000000000000c";

fn three(dir: &Path) -> PathBuf {
    fleet_file(
        dir,
        "fleet",
        &[
            ("healthy", HEALTHY),
            ("endpoint-sg-missing-port", SG),
            ("flow-logs-absent", WARN),
        ],
        false,
    )
}

#[test]
fn a_fleet_file_replays_every_endpoint_worst_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = three(dir.path());
    let (v, code) = run_json(&["--from-snapshot", file.to_str().unwrap()]);
    assert_eq!(code, 1, "a failing endpoint fails the run");
    assert_eq!(v["kind"], "fleet");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["verdict"], "fail");
    let rows: Vec<(&str, &str)> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"]["endpoint_id"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(SG, "fail"), (WARN, "warn"), (HEALTHY, "pass")]);
    assert_eq!(
        v["counts"],
        json!({"pass": 1, "warn": 1, "fail": 1, "inconclusive": 0})
    );
    // Each row is the one-endpoint report, whole.
    assert_eq!(v["reports"][0]["root_cause"], "endpoint-sg-ingress");
    assert_eq!(
        v["reports"][0]["checks"].as_array().unwrap().len(),
        pl_checks::registry::RUNBOOK.len()
    );
}

#[test]
fn a_fleet_without_failures_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = fleet_file(
        dir.path(),
        "fleet",
        &[("healthy", HEALTHY), ("flow-logs-absent", WARN)],
        false,
    );
    let (v, code) = run_json(&["--from-snapshot", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["verdict"], "warn");
}

#[test]
fn the_table_has_one_row_per_endpoint_and_the_root_cause_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = three(dir.path());
    let out = pl()
        .args(["--from-snapshot", file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |id: &str| {
        text.lines()
            .find(|l| l.contains(id) && l.contains('┆'))
            .unwrap_or_else(|| panic!("no row for {id}:\n{text}"))
            .to_owned()
    };
    assert!(row(SG).contains("fail") && row(SG).contains("endpoint-sg-ingress"));
    assert!(row(HEALTHY).contains("pass"));
    assert!(
        text.find(SG).unwrap() < text.find(HEALTHY).unwrap(),
        "worst first:\n{text}"
    );
    assert!(
        text.contains("authorize-security-group-ingress"),
        "the failing row's fix is printed:\n{text}"
    );
    assert!(text.contains("3 endpoints: 1 fail, 0 inconclusive, 1 warn, 1 pass"));

    let md = pl()
        .args(["--from-snapshot", file.to_str().unwrap(), "-o", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert_eq!(md.lines().filter(|l| l.starts_with("| `vpce-")).count(), 3);
    assert!(md.contains("**Fix:**"));
}

#[test]
fn endpoint_cuts_one_report_out_of_a_fleet_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = three(dir.path());
    let (one, code) = run_json(&["--from-snapshot", file.to_str().unwrap(), "--endpoint", SG]);
    assert_eq!(code, 1);
    assert_eq!(one["target"]["endpoint_id"], SG);
    assert_eq!(one["root_cause"], "endpoint-sg-ingress");
    assert!(one.get("reports").is_none(), "a single report, not a fleet");

    let out = pl()
        .args([
            "--from-snapshot",
            file.to_str().unwrap(),
            "--endpoint",
            "vpce-0000000000000000f",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("not among the 3 endpoints"), "{err}");
}

#[test]
fn the_provider_view_skips_the_consumer_side_and_summarises_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let file = fleet_file(
        dir.path(),
        "service",
        &[
            ("all-targets-unhealthy", HEALTHY),
            ("all-targets-unhealthy", SG),
        ],
        true,
    );
    let (v, code) = run_json(&["--from-snapshot", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(v["kind"], "service");
    assert_eq!(v["service"]["root_cause"], "target-health");
    for report in v["reports"].as_array().unwrap() {
        let probe = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "endpoint-sg-ingress")
            .unwrap();
        assert_eq!(probe["status"], "skip");
        assert!(probe["summary"].as_str().unwrap().contains("consumer side"));
    }
}

#[test]
fn a_fleet_file_from_the_future_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.json");
    std::fs::write(&path, br#"{"fleet_snapshot_version": 2, "snapshots": []}"#).unwrap();
    let out = pl()
        .args(["--from-snapshot", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("upgrade pl-doctor"), "{err}");
}

#[test]
fn a_fleets_changes_are_listed_once_under_every_endpoint_that_shows_them() {
    // Two endpoints behind the same security group, whose 8443 rule was revoked: the one
    // RevokeSecurityGroupIngress shows under each row's finding and once in all.
    const ONE: &str = "vpce-0000000000000000d";
    const TWO: &str = "vpce-0000000000000000e";
    let dir = tempfile::tempdir().unwrap();
    let file = fleet_file(
        dir.path(),
        "fleet",
        &[
            ("endpoint-sg-rule-revoked", ONE),
            ("endpoint-sg-rule-revoked", TWO),
            ("healthy", HEALTHY),
        ],
        false,
    );
    let file = file.to_str().unwrap();
    let (v, code) = run_json(&["--from-snapshot", file]);
    assert_eq!(code, 1);
    let recent = v["recent_changes"].as_array().expect("recent_changes");
    assert_eq!(recent.len(), 1, "{recent:#?}");
    assert_eq!(recent[0]["event_name"], "RevokeSecurityGroupIngress");
    assert_eq!(recent[0]["endpoints"], json!([ONE, TWO]));
    assert_eq!(recent[0]["ago_seconds"], 42 * 60);

    let text = stdout_of(&["--from-snapshot", file]);
    // Each row's root cause, with what changed under it.
    assert_eq!(text.matches("What changed:").count(), 2, "{text}");
    let recent_at = text
        .find("Recent changes:")
        .expect("a Recent changes section");
    // The table wraps to the terminal: read the section's words, not its lines.
    let section = text[recent_at..]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        section.contains("changed 42 min ago")
            && section.contains(&format!("[under {ONE}, {TWO}]"))
            && section.find("Verdict:").is_some(),
        "{text}"
    );

    let md = stdout_of(&["--from-snapshot", file, "-o", "markdown"]);
    assert_eq!(md.matches("**What changed:**").count(), 2, "{md}");
    let recent_md = &md[md.find("### Recent changes").expect("the section")..];
    assert_eq!(
        recent_md
            .lines()
            .filter(|l| l.starts_with("- changed"))
            .count(),
        1,
        "{md}"
    );

    let html = stdout_of(&["--from-snapshot", file, "-o", "html"]);
    assert!(
        html.contains("<h2>Recent changes</h2>") && html.contains(&format!("[under {ONE}, {TWO}]")),
        "{html}"
    );

    // A fleet whose snapshots hold no change facts has nothing to list (the field is absent).
    let healthy = fleet_file(dir.path(), "fleet", &[("healthy", HEALTHY)], false);
    let (plain, _) = run_json(&["--from-snapshot", healthy.to_str().unwrap()]);
    assert!(plain.get("recent_changes").is_none(), "{plain:#}");
}
