//! The outputs of issue 14 through the real binary, on the fixtures: the path picture in
//! the table (ASCII and Unicode) and in Markdown (Mermaid), the self-contained HTML
//! (structure, escaping of what came from AWS), the fingerprint (stable for the same
//! cause, different for another), OpenMetrics (parsed back), `--fail-on`, `--color`,
//! completions and the man page.

mod support;

use assert_cmd::Command;
use pl_checks::fleet::{FleetKind, FleetScope, FleetSnapshot, FLEET_SNAPSHOT_VERSION};
use pl_checks::scenarios;
use pl_checks::snapshot_io;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"))
}

fn fixture_names() -> Vec<String> {
    scenarios::all()
        .into_iter()
        .map(|s| s.name.to_string())
        .collect()
}

fn pl() -> Command {
    let mut c = Command::cargo_bin("pl-doctor").unwrap();
    c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    c
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = pl().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn replay(name: &str, extra: &[&str]) -> (i32, String, String) {
    let path = fixture(name);
    let mut args = vec!["--from-snapshot", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// A fleet snapshot file of these scenarios (each keeps its own endpoint id, renamed
/// where two share one).
fn fleet_file(dir: &Path, names: &[&str]) -> PathBuf {
    let all = scenarios::all();
    let snapshots = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let sc = all.iter().find(|s| s.name == *n).unwrap();
            let mut text = snapshot_io::to_string(&sc.snapshot);
            let id = sc.snapshot.consumer.endpoint.id.clone();
            text = text.replace(&id, &format!("{}{i}", &id[..id.len() - 1]));
            match snapshot_io::load(text.as_bytes()).unwrap() {
                snapshot_io::Loaded::Endpoint(s) => *s,
                snapshot_io::Loaded::Fleet(_) => unreachable!(),
            }
        })
        .collect();
    let fleet = FleetSnapshot {
        fleet_snapshot_version: FLEET_SNAPSHOT_VERSION,
        kind: FleetKind::Fleet,
        collected_by: "pl-doctor test".into(),
        collected_at: "2026-11-25T00:00:00Z".into(),
        scope: FleetScope {
            region: "us-east-1".into(),
            account: Some("222222222222".into()),
            ..FleetScope::default()
        },
        service: None,
        snapshots,
        endpoint_quotas: vec![],
    };
    let path = dir.join("fleet.json");
    std::fs::write(&path, snapshot_io::fleet_to_string(&fleet)).unwrap();
    path
}

// ------------------------------------------------------------------ the path picture

#[test]
fn the_table_draws_the_path_above_the_checks_in_ascii_when_not_colouring() {
    let (code, out, _) = replay("cross-zone-off-healthy-one-az", &["--color", "never"]);
    assert_eq!(code, 1);
    let path_at = out.find("Path").expect("a path picture");
    let table_at = out.find("endpoint-state").unwrap();
    assert!(
        path_at < table_at,
        "the path comes before the checks:\n{out}"
    );
    let picture: Vec<&str> = out[path_at..]
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    for l in &picture {
        assert!(l.is_ascii(), "plain ASCII without colour: {l:?}");
        assert!(l.chars().count() <= 100, "fits 100 columns: {l:?}");
        assert!(!l.contains('\u{1b}'), "no escape codes: {l:?}");
    }
    let text = picture.join("\n");
    assert!(
        text.contains("[target groups X]"),
        "root-cause hop marked:\n{text}"
    );
    assert!(
        text.contains("ENIs X -> connection + -> NLB +"),
        "the chain:\n{text}"
    );
    assert!(
        text.contains("us-east-1a/use1-az1 10.0.1.25 DEAD"),
        "dead AZ:\n{text}"
    );
    assert!(text.contains("<== root cause"), "{text}");
}

#[test]
fn with_colour_the_path_uses_box_drawing_and_escape_codes() {
    let (_, out, _) = replay("endpoint-sg-missing-port", &["--color", "always"]);
    let path_at = out.find("Path").unwrap();
    let picture: String = out[path_at..]
        .lines()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(picture.contains("─▶"), "{picture}");
    assert!(picture.contains('\u{1b}'), "coloured");
    assert!(picture.contains("◀ root cause"));
}

#[test]
fn every_fixture_shows_the_path_in_table_markdown_and_html() {
    for name in fixture_names() {
        let (_, table, _) = replay(&name, &["--color", "never"]);
        assert!(table.contains("Path  (+ pass"), "{name}: table");
        for hop in [
            "client",
            "endpoint SG+NACL",
            "endpoint ENIs",
            "connection",
            "NLB",
            "target groups",
            "targets",
        ] {
            assert!(table.contains(hop), "{name}: table hop {hop}");
        }
        let (_, md, _) = replay(&name, &["-o", "markdown"]);
        assert!(md.contains("```mermaid\nflowchart LR\n"), "{name}: mermaid");
        assert!(
            md.contains("client --> sg --> enis --> conn --> nlb --> tgs --> targets"),
            "{name}"
        );
        let (_, html, _) = replay(&name, &["-o", "html"]);
        assert!(html.contains("<svg class=\"path\""), "{name}: svg");
        let (errors, _) = support::html_check::check(&html);
        assert!(errors.is_empty(), "{name}: HTML structure: {errors:?}");
    }
}

#[test]
fn markdown_styles_the_failing_hop_and_keeps_the_findings() {
    let (_, md, _) = replay("endpoint-sg-missing-port", &["-o", "markdown"]);
    assert!(
        md.contains("sg[\"endpoint SG+NACL FAIL (root cause)"),
        "{md}"
    );
    assert!(md.contains(":::fail"));
    assert!(md.contains("style sg stroke-width:4px"));
    assert!(md.contains("### Findings"), "today's Markdown follows");
    let mermaid_end = md.find("```\n\n").unwrap();
    assert!(mermaid_end < md.find("| # | Check |").unwrap());
}

// ------------------------------------------------------------------ HTML

#[test]
fn html_is_self_contained_and_carries_the_report() {
    let (code, html, _) = replay("cross-zone-off-healthy-one-az", &["-o", "html"]);
    assert_eq!(code, 1, "exit code as for every output");
    let (errors, tags) = support::html_check::check(&html);
    assert!(errors.is_empty(), "{errors:?}");
    let csp = tags
        .iter()
        .find(|t| {
            t.attrs
                .iter()
                .any(|(k, v)| k == "http-equiv" && v == "Content-Security-Policy")
        })
        .expect("a CSP meta");
    let content = &csp.attrs.iter().find(|(k, _)| k == "content").unwrap().1;
    assert!(content.contains("default-src 'none'"), "{content}");
    assert!(
        html.contains("ROOT CAUSE"),
        "root-cause hop emphasised in the SVG"
    );
    assert!(html.contains("DEAD AZ"), "dead AZ visible");
    assert!(
        html.contains("id=\"vpce-0a1b2c3d4e5f6a7b8-cross-zone\""),
        "every check has a block"
    );
    assert!(
        html.contains("<summary>Evidence</summary>"),
        "collapsible evidence"
    );
    assert!(html.contains("Fix: "));
    assert!(html.contains("fingerprint <code>sha256:"));
}

#[test]
fn html_escapes_everything_that_came_from_aws() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap: Value =
        serde_json::from_slice(&std::fs::read(fixture("endpoint-sg-missing-port")).unwrap())
            .unwrap();
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    snap["provider"]["load_balancers"]["known"][0]["name"] = Value::String(evil.into());
    snap["provider"]["target_groups"]["known"][0]["name"] = Value::String(evil.into());
    let text = serde_json::to_string(&snap).unwrap();
    assert!(
        text.contains("script"),
        "the fixture's shape changed: the names were not replaced"
    );
    let path = dir.path().join("evil.json");
    std::fs::write(&path, text).unwrap();
    let (_, html, err) = run(&["--from-snapshot", path.to_str().unwrap(), "-o", "html"]);
    assert!(!html.is_empty(), "{err}");
    assert!(!html.contains("<script"), "a name from AWS became markup");
    assert!(!html.contains("<img"), "a name from AWS became markup");
    assert!(
        html.contains("&lt;script&gt;"),
        "the name is shown, escaped"
    );
    let (errors, _) = support::html_check::check(&html);
    assert!(errors.is_empty(), "{errors:?}");
    let (_, md, _) = run(&["--from-snapshot", path.to_str().unwrap(), "-o", "markdown"]);
    let mermaid = &md[..md.find("```\n\n").unwrap()];
    assert!(
        !mermaid.contains("<script"),
        "Mermaid labels are escaped: {mermaid}"
    );
}

#[test]
fn fleet_html_summarises_then_one_section_per_endpoint_worst_first() {
    let dir = tempfile::tempdir().unwrap();
    let f = fleet_file(
        dir.path(),
        &["healthy", "endpoint-sg-missing-port", "wildcard-principal"],
    );
    let (code, html, err) = run(&["--from-snapshot", f.to_str().unwrap(), "-o", "html"]);
    assert_eq!(code, 1, "{err}");
    let (errors, tags) = support::html_check::check(&html);
    assert!(errors.is_empty(), "{errors:?}");
    let sections: Vec<&str> = tags
        .iter()
        .filter(|t| t.name == "section")
        .filter_map(|t| {
            t.attrs
                .iter()
                .find(|(k, _)| k == "id")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert_eq!(sections.len(), 3, "{sections:?}");
    let (_, json, _) = run(&["--from-snapshot", f.to_str().unwrap(), "-o", "json"]);
    let json: Value = serde_json::from_str(&json).unwrap();
    let order: Vec<&str> = json["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"]["endpoint_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections, order,
        "sections follow the report order (worst first)"
    );
    assert_eq!(json["reports"][0]["verdict"], "fail");
    assert_eq!(html.matches("<svg class=\"path\"").count(), 3);
}

// ------------------------------------------------------------------ fingerprint

fn json_report(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--from-snapshot", path.to_str().unwrap(), "-o", "json"];
    args.extend_from_slice(extra);
    let (_, out, err) = run(&args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"))
}

fn fingerprints(report: &Value) -> BTreeMap<String, Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c.get("fingerprint").cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[test]
fn every_fail_and_warn_has_a_fingerprint_and_nothing_else_does() {
    for name in fixture_names() {
        let r = json_report(&fixture(&name), &[]);
        for c in r["checks"].as_array().unwrap() {
            let bad = matches!(c["status"].as_str(), Some("fail" | "warn"));
            assert_eq!(
                c.get("fingerprint").is_some(),
                bad,
                "{name} {}: {c}",
                c["id"]
            );
        }
    }
}

#[test]
fn the_fingerprint_survives_changing_figures_but_not_a_changed_cause() {
    let dir = tempfile::tempdir().unwrap();
    // flow-log-rejects fails with figures (records scanned, reject counts, sources).
    let base = fixture("flow-log-rejects");
    let before = fingerprints(&json_report(&base, &[]));
    assert!(before["flow-log-rejects"].is_string());
    let text = std::fs::read_to_string(&base).unwrap();
    let mut snap: Value = serde_json::from_str(&text).unwrap();
    let rejects = &mut snap["observability"]["flow_log_rejects"]["known"];
    assert!(
        rejects.is_object(),
        "the fixture's shape changed: {rejects}"
    );
    rejects["records_scanned"] =
        Value::from(rejects["records_scanned"].as_f64().unwrap() * 3.0 + 7.0);
    for row in rejects["rows"].as_array_mut().unwrap() {
        let n = row["rejects"].as_u64().expect("rows count rejects");
        row["rejects"] = Value::from(n * 5 + 1);
    }
    let moved = dir.path().join("moved.json");
    std::fs::write(&moved, serde_json::to_string(&snap).unwrap()).unwrap();
    let after = json_report(&moved, &[]);
    let summary_before = json_report(&base, &[])["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "flow-log-rejects")
        .unwrap()["summary"]
        .clone();
    let summary_after = after["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "flow-log-rejects")
        .unwrap()["summary"]
        .clone();
    assert_ne!(
        summary_before, summary_after,
        "the figures did change the summary"
    );
    assert_eq!(
        fingerprints(&after),
        before,
        "same causes, same fingerprints"
    );

    // Another endpoint: every fingerprint changes.
    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        text.replace("vpce-0a1b2c3d4e5f6a7b8", "vpce-0a1b2c3d4e5f6a7b9"),
    )
    .unwrap();
    let o = fingerprints(&json_report(&other, &[]));
    assert_ne!(o["flow-log-rejects"], before["flow-log-rejects"]);

    // Another cause for the same check: a different port missing from the SG.
    let sg = fixture("endpoint-sg-missing-port");
    let p1 = fingerprints(&json_report(&sg, &[]));
    let p2 = fingerprints(&json_report(&sg, &["--port", "9443"]));
    assert!(p1["endpoint-sg-ingress"].is_string() && p2["endpoint-sg-ingress"].is_string());
    assert_ne!(p1["endpoint-sg-ingress"], p2["endpoint-sg-ingress"]);
}

// ------------------------------------------------------------------ OpenMetrics

/// A strict reader of the OpenMetrics text format as pl-doctor writes it: HELP/TYPE/UNIT
/// lines, samples `name{k="v",…} value`, the `# EOF` terminator last and once.
fn parse_openmetrics(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    assert!(text.ends_with("# EOF\n"), "ends with # EOF");
    assert_eq!(text.matches("# EOF").count(), 1);
    let mut samples = Vec::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().unwrap().to_owned();
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            if kind == "TYPE" {
                typed.insert(name, parts.next().unwrap().to_owned());
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample without value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels not closed: {line}"));
                let mut labels = BTreeMap::new();
                for pair in body.split("\",") {
                    let (k, v) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label {pair:?} in {line}"));
                    let v = v.strip_suffix('"').unwrap_or(v);
                    assert!(
                        k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                        "{k}"
                    );
                    labels.insert(k.to_owned(), v.to_owned());
                }
                (n.to_owned(), labels)
            }
            None => (series.to_owned(), BTreeMap::new()),
        };
        assert!(
            typed.keys().any(|t| name == *t),
            "sample {name} has a TYPE line"
        );
        samples.push((name, labels, value));
    }
    samples
}

#[test]
fn openmetrics_has_a_status_per_endpoint_and_check_the_verdict_and_the_run() {
    let (code, text, _) = replay("endpoint-sg-missing-port", &["-o", "openmetrics"]);
    assert_eq!(code, 1);
    let samples = parse_openmetrics(&text);
    let get = |name: &str, want: &[(&str, &str)]| -> Vec<f64> {
        samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .collect()
    };
    let sg = [
        ("endpoint", "vpce-0a1b2c3d4e5f6a7b8"),
        ("check", "endpoint-sg-ingress"),
        ("region", "us-east-1"),
        ("account", "222222222222"),
    ];
    assert_eq!(
        get(
            "pl_doctor_check_status",
            &[&sg[..], &[("status", "fail")]].concat()
        ),
        vec![1.0]
    );
    assert_eq!(
        get(
            "pl_doctor_check_status",
            &[&sg[..], &[("status", "pass")]].concat()
        ),
        vec![0.0]
    );
    let per_check = get(
        "pl_doctor_check_status",
        &[("endpoint", "vpce-0a1b2c3d4e5f6a7b8")],
    );
    let n_checks = pl_checks::registry::RUNBOOK.len();
    assert_eq!(
        per_check.len(),
        n_checks * 5,
        "one series per check and status"
    );
    assert_eq!(
        per_check.iter().sum::<f64>(),
        n_checks as f64,
        "exactly one status per check"
    );
    assert_eq!(
        get("pl_doctor_endpoint_verdict", &[("verdict", "fail")]),
        vec![1.0]
    );
    assert_eq!(
        get("pl_doctor_endpoint_verdict", &[("verdict", "pass")]),
        vec![0.0]
    );
    let ts = get("pl_doctor_run_timestamp_seconds", &[]);
    assert_eq!(ts.len(), 1);
    assert!(ts[0] > 1.7e9, "a Unix time: {ts:?}");
    assert_eq!(get("pl_doctor_run_duration_seconds", &[]).len(), 1);
}

#[test]
fn fleet_openmetrics_counts_endpoints_by_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let f = fleet_file(
        dir.path(),
        &["healthy", "endpoint-sg-missing-port", "nacl-deny"],
    );
    let (_, text, err) = run(&["--from-snapshot", f.to_str().unwrap(), "-o", "openmetrics"]);
    let samples = parse_openmetrics(&text);
    let count = |v: &str| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == "pl_doctor_endpoints" && l.get("verdict").map(String::as_str) == Some(v)
            })
            .map(|s| s.2)
    };
    assert_eq!(count("fail"), Some(2.0), "{err}");
    let endpoints: std::collections::BTreeSet<&String> = samples
        .iter()
        .filter(|(n, _, _)| n == "pl_doctor_endpoint_verdict")
        .map(|(_, l, _)| &l["endpoint"])
        .collect();
    assert_eq!(endpoints.len(), 3);
}

// ------------------------------------------------------------------ CLI habits

#[test]
fn fail_on_gates_the_exit_code_and_fail_is_the_default() {
    // wildcard-principal: verdict warn, no failing check.
    assert_eq!(replay("wildcard-principal", &["-o", "json"]).0, 0);
    assert_eq!(
        replay("wildcard-principal", &["-o", "json", "--fail-on", "fail"]).0,
        0
    );
    assert_eq!(
        replay(
            "wildcard-principal",
            &["-o", "json", "--fail-on", "inconclusive"]
        )
        .0,
        0
    );
    assert_eq!(
        replay("wildcard-principal", &["-o", "json", "--fail-on", "warn"]).0,
        1
    );
    // provider-not-visible: unknowns, no failure.
    let (code, out, _) = replay("provider-not-visible", &["-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(code, 0);
    assert_eq!(
        replay(
            "provider-not-visible",
            &["-o", "json", "--fail-on", "inconclusive"]
        )
        .0,
        1
    );
    assert_eq!(replay("healthy", &["-o", "json", "--fail-on", "warn"]).0, 0);
    let (code, _, err) = replay("healthy", &["--fail-on", "sometimes"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn color_always_never_and_the_environment() {
    let path = fixture("healthy");
    let p = path.to_str().unwrap();
    let esc = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).contains('\u{1b}');
    let piped = pl().args(["--from-snapshot", p]).output().unwrap();
    assert!(!esc(&piped), "no colour when piped");
    let forced = pl()
        .args(["--from-snapshot", p])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(esc(&forced), "CLICOLOR_FORCE colours a pipe");
    let both = pl()
        .args(["--from-snapshot", p])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!esc(&both), "NO_COLOR wins over CLICOLOR_FORCE");
    let always = pl()
        .args(["--from-snapshot", p, "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(esc(&always), "--color always beats NO_COLOR");
    let never = pl()
        .args(["--from-snapshot", p, "--color", "never"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!esc(&never));
}

#[test]
fn completions_for_every_shell_name_the_flags_and_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        // fish writes long options as `-l endpoint`, the others as `--endpoint`.
        for word in [
            "endpoint",
            "fail-on",
            "from-snapshot",
            "explain",
            "completions",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("tcsh"), "{err}");
}

#[test]
fn man_prints_a_roff_manual_page() {
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH pl-doctor"),
        "{}",
        &out[..200.min(out.len())]
    );
    assert!(out.contains(".SH NAME"));
    assert!(out.contains("fail\\-on") || out.contains("fail-on"));
}

#[test]
fn html_and_openmetrics_are_refused_with_watch() {
    let (code, _, err) = run(&[
        "--endpoint",
        "vpce-0a1b2c3d4e5f6a7b8",
        "--watch",
        "-o",
        "html",
        "--region",
        "us-east-1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--watch"), "{err}");
}
