//! The provider view end to end: the real binary runs `pl-doctor --service vpce-svc-…`
//! with the provider's credentials against the AWS API emulator, over a service with
//! several connections (tests/support/service_world.rs).
//!
//! Emulator gaps (see tests/live_emulator.rs for the full list) that shape what is
//! asserted here: connections are `available` whatever the allow-list says (a deleted
//! endpoint is the one other state moto shows), CloudWatch's CBOR protocol is not
//! served (idle-timeout-resets and nlb-capacity are skipped with `--skip`, so the verdicts are not all
//! `inconclusive`), and connections carry no zonal DNS names (cross-zone is on here;
//! its provider-view reasoning is covered on fixtures in checks/src/fleet.rs).

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use support::emulator::Emulator;
use support::report_json::{check, statuses};
use support::run::Invocation;
use support::service_world::{Extras, ServiceWorld, THIRD_ACCOUNT, UNUSED_PRINCIPAL};
use support::world::{Spec, CONSUMER_ACCOUNT, PROVIDER_ACCOUNT, REGION};

const SERVICE_WIDE: [&str; 7] = [
    "nlb-listener",
    "nlb-security-group",
    "target-health",
    "target-sg-ingress",
    "nlb-capacity",
    "private-dns-verification",
    "idle-timeout-resets",
];

const CONSUMER_SIDE: [&str; 10] = [
    "endpoint-sg-ingress",
    "client-sg-egress",
    "subnet-nacl",
    "private-dns-enabled",
    "vpc-dns-attributes",
    "dns-overrides",
    "dns-resolution",
    "az-alignment",
    "flow-log-rejects",
    "connect-probe",
];

fn build(spec: &Spec, extras: &Extras) -> (Emulator, ServiceWorld) {
    let emulator = Emulator::start();
    let world = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(ServiceWorld::build(&emulator.url(), spec, extras));
    (emulator, world)
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: assert_cmd::Command) -> Run {
    let out = cmd.output().expect("run pl-doctor");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report (exit {:?}, {e})\nstdout: {}\nstderr: {}",
            r.code, r.stdout, r.stderr
        )
    })
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

/// A report without the fields that differ between two runs of the same snapshot.
fn timeless(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("started_at");
        o.remove("duration_ms");
    }
    for r in v["reports"].as_array_mut().into_iter().flatten() {
        let o = r.as_object_mut().unwrap();
        o.remove("started_at");
        o.remove("duration_ms");
    }
    v
}

#[test]
fn the_provider_view_lists_every_connection_worst_first_and_the_service_once() {
    let (emulator, sw) = build(
        &Spec::default(),
        &Extras {
            deleted_endpoint: true,
            unconnected_service: true,
        },
    );
    let url = emulator.url();
    let w = &sw.world;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("service.json");
    let saved_str = saved.to_str().unwrap();

    let mut cmd = sw.service_command(
        &url,
        &w.service_id,
        &[
            "-o",
            "json",
            "--skip",
            "idle-timeout-resets,nlb-capacity",
            "--save-snapshot",
            saved_str,
        ],
    );
    cmd.env("PL_DOCTOR_CALL_LOG", "1");
    let live = run(cmd);
    let report = json(&live);
    let deleted = sw.deleted_endpoint.clone().unwrap();
    // The deleted endpoint's connection is history, not a failure (its owner deleted it),
    // and nothing else fails: exit 0.
    assert_eq!(live.code, Some(0), "{}", live.stderr);
    assert_eq!(report["kind"], "service");
    assert_eq!(report["scope"]["service_id"], w.service_id.as_str());
    assert_eq!(report["scope"]["service_name"], w.service_name.as_str());
    assert_eq!(report["scope"]["account"], PROVIDER_ACCOUNT);
    assert_eq!(report["scope"]["region"], REGION);

    // One row per connection, worst first: the third account's (warn: no longer on the
    // allow-list), then the consumer's two and the deleted one (pass), by id.
    let rows = report["reports"].as_array().expect("reports");
    let mut passing = [
        (w.endpoint_id.as_str(), "available"),
        (sw.second_endpoint.as_str(), "available"),
        (deleted.as_str(), "deleted"),
    ];
    passing.sort();
    let mut expected = vec![(
        sw.third_account_endpoint.as_str(),
        THIRD_ACCOUNT,
        "available",
        "warn",
    )];
    expected.extend(
        passing
            .iter()
            .map(|(id, state)| (*id, CONSUMER_ACCOUNT, *state, "pass")),
    );
    let got: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["target"]["endpoint_id"].as_str().unwrap(),
                r["target"]["consumer_account"].as_str().unwrap(),
                r["target"]["endpoint_state"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    let summary: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {:?}",
                r["target"]["endpoint_id"],
                statuses(r)
                    .into_iter()
                    .filter(|(_, s)| s != "pass" && s != "skip")
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    assert_eq!(got, expected, "{summary:#?}");
    let gone = rows
        .iter()
        .find(|r| r["target"]["endpoint_id"] == deleted.as_str())
        .unwrap();
    assert_eq!(gone["root_cause"], serde_json::Value::Null);
    for id in ["endpoint-state", "connection-acceptance"] {
        let c = check(gone, id);
        assert_eq!(c["status"], "skip", "{c}");
        assert!(
            c["summary"]
                .as_str()
                .unwrap()
                .contains("deleted by its owner"),
            "{c}"
        );
    }
    let third = &rows[0];
    let allowed = check(third, "allowed-principals");
    assert_eq!(allowed["status"], "warn");
    assert!(
        allowed["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("account {THIRD_ACCOUNT} is not in the allow-list")),
        "{allowed}"
    );
    for row in rows {
        for id in CONSUMER_SIDE {
            let c = check(row, id);
            assert_eq!(c["status"], "skip", "{id}");
            assert!(
                c["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("consumer side: not visible with the provider's credentials"),
                "{id}: {}",
                c["summary"]
            );
        }
        assert_eq!(row["target"]["provider_account"], PROVIDER_ACCOUNT);
        assert_eq!(row["target"]["service_id"], w.service_id.as_str());
    }
    assert_eq!(
        report["counts"],
        serde_json::json!({"pass": 3, "warn": 1, "fail": 0, "inconclusive": 0})
    );
    assert_eq!(report["verdict"], "warn");

    // The service-wide checks, once.
    let service = &report["service"];
    let ids: Vec<&str> = service["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, SERVICE_WIDE);
    assert_eq!(check(service, "target-health")["status"], "pass");
    assert_eq!(check(service, "nlb-listener")["status"], "pass");
    assert_eq!(service["root_cause"], Value::Null);
    assert_eq!(
        service["connections"]["known"],
        serde_json::json!({"available": 3, "deleted": 1})
    );
    // Target health per AZ: one instance per provider AZ, all healthy.
    let groups = service["target_health"]["known"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let zones: Vec<(String, u64, u64)> = groups[0]["zones"]["known"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            (
                z["availability_zone"].as_str().unwrap().to_owned(),
                z["healthy"].as_u64().unwrap(),
                z["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        zones,
        [
            ("us-east-1a".to_owned(), 1, 1),
            ("us-east-1b".to_owned(), 1, 1),
            ("us-east-1c".to_owned(), 1, 1)
        ]
    );
    // Principal hygiene: 444444444444 has no connection; 222222222222 is connected but
    // not allowed; the deleted endpoint counts for neither.
    let p = &service["principals"]["known"];
    assert_eq!(p["in_use"], 2);
    // AWS documents no quota on allowed principals: the count only; the old fields stay
    // (JSON contract) and carry no invented limit.
    assert!(
        p["quota"].is_null() && p["headroom"].is_null() && p["near_quota"] == false,
        "{p}"
    );
    assert_eq!(p["wildcard"], false);
    assert_eq!(
        p["without_connection"]["known"],
        serde_json::json!([UNUSED_PRINCIPAL])
    );
    assert_eq!(
        p["owners_not_allowed"]["known"],
        serde_json::json!([{
            "endpoint_id": sw.third_account_endpoint,
            "owner": THIRD_ACCOUNT,
            "state": "available"
        }])
    );

    // AWS calls do not grow with the connections: every action once for 4 connections.
    let calls: Vec<&str> = live
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("pl-doctor: call "))
        .collect();
    let mut per_action: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &calls {
        // "<stage, with spaces> <service:Action> ok|failed"
        let action = c
            .split_whitespace()
            .find(|t| t.contains(':') && !t.ends_with(':'))
            .unwrap_or("?");
        *per_action.entry(action).or_default() += 1;
    }
    assert!(
        per_action.values().all(|n| *n == 1),
        "an action called more than once: {per_action:?}"
    );
    assert_eq!(
        per_action.get("ec2:DescribeVpcEndpointConnections"),
        Some(&1)
    );
    eprintln!(
        "--service over 4 connections: {} AWS calls: {per_action:?}",
        calls.len()
    );

    // The JSON per connection has the one-endpoint report's shape.
    let single = Invocation::new(&w.endpoint_id, &url)
        .arg("--skip")
        .arg("idle-timeout-resets")
        .report();
    let row = rows
        .iter()
        .find(|r| r["target"]["endpoint_id"] == w.endpoint_id.as_str())
        .unwrap();
    assert_eq!(keys(row), keys(&single.json));
    assert_eq!(
        row["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect::<Vec<_>>(),
        single.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect::<Vec<_>>()
    );
    // Where both views evaluate a provider-side check, they agree.
    for id in [
        "endpoint-state",
        "allowed-principals",
        "connection-acceptance",
        "target-health",
        "nlb-listener",
        "cross-zone",
    ] {
        assert_eq!(check(row, id)["status"], single.check(id)["status"], "{id}");
    }

    // Replaying the saved snapshot gives the same reports, with no AWS access.
    let mut replay = assert_cmd::Command::cargo_bin("pl-doctor").unwrap();
    support::service_world::scrubbed(&mut replay);
    replay.args(["--from-snapshot", saved_str, "-o", "json"]);
    let replayed = run(replay);
    assert_eq!(replayed.code, Some(0), "{}", replayed.stderr);
    assert_eq!(timeless(json(&replayed)), timeless(report.clone()));
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(!text.contains(&sw.provider.secret_access_key().to_owned()));
    assert!(!text.contains(sw.provider.session_token().unwrap()));

    // One connection cut out of the file: the single-endpoint report.
    let mut one = assert_cmd::Command::cargo_bin("pl-doctor").unwrap();
    support::service_world::scrubbed(&mut one);
    one.args([
        "--from-snapshot",
        saved_str,
        "--endpoint",
        &sw.third_account_endpoint,
        "-o",
        "json",
    ]);
    let one = run(one);
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    let one = json(&one);
    assert_eq!(
        one["target"]["endpoint_id"],
        sw.third_account_endpoint.as_str()
    );
    assert_eq!(check(&one, "allowed-principals")["status"], "warn");

    // The table a person reads: the service-wide checks, targets per AZ, the hygiene.
    let mut table = assert_cmd::Command::cargo_bin("pl-doctor").unwrap();
    support::service_world::scrubbed(&mut table);
    table.args(["--from-snapshot", saved_str, "-o", "table"]);
    let table = run(table);
    for needle in [
        "Service-wide checks",
        "Target health per AZ",
        "us-east-1a",
        "1/1 healthy",
        "Connections: 4 (3 available, 1 deleted)",
        "Allowed principals: 2 entries;",
        UNUSED_PRINCIPAL,
        "no longer allowed",
        &sw.third_account_endpoint,
        &deleted,
    ] {
        assert!(
            table.stdout.contains(needle),
            "{needle:?} not in\n{}",
            table.stdout
        );
    }
    let mut md = assert_cmd::Command::cargo_bin("pl-doctor").unwrap();
    support::service_world::scrubbed(&mut md);
    md.args(["--from-snapshot", saved_str, "-o", "markdown"]);
    let md = run(md);
    for needle in [
        "### Service-wide checks",
        "### Target health per AZ",
        "### Allowed principals",
        UNUSED_PRINCIPAL,
    ] {
        assert!(
            md.stdout.contains(needle),
            "{needle:?} not in\n{}",
            md.stdout
        );
    }

    // A service nobody connects to still gets its service-wide checks: all pass, exit 0.
    let empty = run(sw.service_command(
        &url,
        sw.unconnected_service.as_deref().unwrap(),
        &["-o", "json", "--skip", "idle-timeout-resets,nlb-capacity"],
    ));
    assert_eq!(empty.code, Some(0), "{}", empty.stderr);
    let empty = json(&empty);
    assert_eq!(empty["reports"], serde_json::json!([]));
    assert_eq!(empty["service"]["verdict"], "pass");
    assert_eq!(
        empty["service"]["connections"]["known"],
        serde_json::json!({})
    );
}

#[test]
fn a_stopped_target_fails_the_service_summary_and_an_unknown_service_cannot_be_diagnosed() {
    let (emulator, sw) = build(
        &Spec {
            stop_targets: true,
            ..Spec::default()
        },
        &Extras::default(),
    );
    let url = emulator.url();
    let w = &sw.world;
    let out = run(sw.service_command(
        &url,
        &w.service_id,
        &["-o", "json", "--skip", "idle-timeout-resets,nlb-capacity"],
    ));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let report = json(&out);
    let service = &report["service"];
    assert_eq!(service["root_cause"], "target-health");
    assert_eq!(check(service, "target-health")["status"], "fail");
    let zones = service["target_health"]["known"][0]["zones"]["known"]
        .as_array()
        .unwrap();
    assert_eq!(zones.len(), 3);
    assert!(
        zones.iter().all(|z| z["healthy"] == 0 && z["total"] == 1),
        "{zones:?}"
    );
    // Every connection is broken by it; the table names it once.
    assert_eq!(report["reports"].as_array().unwrap().len(), 3);
    for r in report["reports"].as_array().unwrap() {
        assert_eq!(r["root_cause"], "target-health");
    }
    let table = run(sw.service_command(
        &url,
        &w.service_id,
        &["-o", "table", "--skip", "idle-timeout-resets,nlb-capacity"],
    ));
    assert_eq!(table.code, Some(1));
    assert_eq!(
        table.stdout.matches("Root cause:").count(),
        1,
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("3 connections share the service-wide root cause above"),
        "{}",
        table.stdout
    );

    // A service the provider account does not have: exit 3, one line and a hint.
    let missing = "vpce-svc-0123456789abcdef0";
    let out = run(sw.service_command(&url, missing, &["-o", "json"]));
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{:?}", out.stderr);
    for needle in [
        missing,
        "not found",
        REGION,
        PROVIDER_ACCOUNT,
        "hint: ",
        "provider account's credentials (--profile)",
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} not in {:?}",
            out.stderr
        );
    }
}

#[test]
fn a_malformed_service_id_is_bad_input() {
    let mut c = assert_cmd::Command::cargo_bin("pl-doctor").unwrap();
    support::service_world::scrubbed(&mut c);
    c.args(["--service", "vpce-0a1b2c3d4e5f6a7b8", "--region", REGION]);
    let out = run(c);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("not an endpoint service id"),
        "{}",
        out.stderr
    );
}
