//! Layer 1: every scenario under fixtures/ replayed through the real binary.
//!
//! The fixture files are generated from the scenario builders in
//! `checks/src/scenarios/`; regenerate them with `UPDATE_FIXTURES=1 cargo test --test fixtures`.
//! Each fixture test asserts the status of every check, the root cause and the exit
//! code, validates the JSON against the published schema, and snapshots the table.

use assert_cmd::Command;
use pl_checks::scenarios;
use pl_checks::snapshot_io;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn expected_json(sc: &scenarios::Scenario) -> String {
    let statuses: Map<String, Value> = sc
        .expect
        .iter()
        .map(|(id, s)| (id.to_string(), Value::String(s.as_str().into())))
        .collect();
    let v = json!({
        "description": sc.description,
        "root_cause": sc.root_cause,
        "statuses": statuses,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap();
    s.push('\n');
    s
}

#[test]
fn fixture_files_match_the_scenario_builders() {
    let dir = fixtures_dir();
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    let mut wanted = BTreeSet::new();
    let mut stale = Vec::new();
    for sc in scenarios::all() {
        for (file, content) in [
            (
                format!("{}.json", sc.name),
                snapshot_io::to_string(&sc.snapshot),
            ),
            (format!("{}.expected.json", sc.name), expected_json(&sc)),
        ] {
            let path = dir.join(&file);
            if update {
                std::fs::write(&path, &content).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                stale.push(file.clone());
            }
            wanted.insert(file);
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !wanted.contains(&name) {
            if update {
                std::fs::remove_file(dir.join(&name)).unwrap();
            } else {
                stale.push(format!("{name} (no scenario builds it)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "fixtures/ is out of date with checks/src/scenarios: {stale:?}\nregenerate: UPDATE_FIXTURES=1 cargo test --test fixtures"
    );
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"),
    )
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("schema compiles")
}

/// Assert a report JSON validates against schema/report.schema.json.
pub fn assert_valid_report(report: &Value) {
    let v = schema();
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not validate against the schema:\n{}",
        errors.join("\n")
    );
}

fn replay(name: &str) {
    let dir = fixtures_dir();
    let snap = dir.join(format!("{name}.json"));
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();

    let out = Command::cargo_bin("pl-doctor")
        .unwrap()
        .args(["--from-snapshot", snap.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_valid_report(&report);

    let got: Map<String, Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["status"].clone()))
        .collect();
    let want = expected["statuses"].as_object().unwrap();
    let ids_in_order: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids_in_order,
        want.keys().map(String::as_str).collect::<Vec<_>>(),
        "{name}: runbook order"
    );
    let diffs: Vec<String> = want
        .iter()
        .filter(|(id, s)| got.get(*id) != Some(s))
        .map(|(id, s)| {
            format!(
                "{id}: expected {s}, got {}",
                got.get(id).unwrap_or(&Value::Null)
            )
        })
        .collect();
    assert!(diffs.is_empty(), "{name}: {}", diffs.join("; "));
    assert_eq!(
        report["root_cause"], expected["root_cause"],
        "{name}: root cause"
    );

    let any_fail = want.values().any(|s| s == "fail");
    assert_eq!(
        out.status.code(),
        Some(if any_fail { 1 } else { 0 }),
        "{name}: exit code"
    );

    let table = Command::cargo_bin("pl-doctor")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["--from-snapshot", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        table.status.code(),
        out.status.code(),
        "{name}: table exit code"
    );
    insta::assert_snapshot!(
        format!("table-{name}"),
        String::from_utf8(table.stdout).unwrap()
    );

    // The path picture in the other two outputs that draw it: the Mermaid chart of
    // -o markdown and the SVG of -o html (the rest of those outputs is tested in
    // tests/outputs.rs).
    let markdown = Command::cargo_bin("pl-doctor")
        .unwrap()
        .args(["--from-snapshot", snap.to_str().unwrap(), "-o", "markdown"])
        .output()
        .unwrap();
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    let start = markdown.find("```mermaid").expect("a Mermaid chart");
    let end = start + markdown[start..].find("```\n\n").expect("the chart closes");
    insta::assert_snapshot!(format!("mermaid-{name}"), &markdown[start..end + 3]);
    let html = Command::cargo_bin("pl-doctor")
        .unwrap()
        .args(["--from-snapshot", snap.to_str().unwrap(), "-o", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8(html.stdout).unwrap();
    let start = html.find("<svg").expect("an SVG path");
    let end = start + html[start..].find("</svg>").expect("the SVG closes");
    // One element per line, so a change reads as a diff.
    let svg = html[start..end + 6].replace("><", ">\n<");
    insta::assert_snapshot!(format!("svg-{name}"), svg);
}

macro_rules! fixture_tests {
    ($($test:ident => $file:literal),* $(,)?) => {
        $( #[test] fn $test() { replay($file); } )*

        #[test]
        fn every_fixture_on_disk_has_a_test() {
            let tested: BTreeSet<&str> = [$($file),*].into_iter().collect();
            let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
                .unwrap()
                .filter_map(|e| {
                    let n = e.unwrap().file_name().to_string_lossy().into_owned();
                    (n.ends_with(".json") && !n.ends_with(".expected.json")).then(|| n.trim_end_matches(".json").to_owned())
                })
                .collect();
            let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
            assert_eq!(tested, on_disk, "add a line to fixture_tests! for every fixture");
        }
    };
}

fixture_tests! {
    alb_target_cross_zone_mismatch => "alb-target-cross-zone-mismatch",
    all_targets_unhealthy => "all-targets-unhealthy",
    az_id_not_published => "az-id-not-published",
    client_sg_egress_missing => "client-sg-egress-missing",
    cross_zone_off_healthy_one_az => "cross-zone-off-healthy-one-az",
    dns_dhcp_servers_forwarding => "dns-dhcp-servers-forwarding",
    dns_forward_rule => "dns-forward-rule",
    dns_forward_rule_parent => "dns-forward-rule-parent",
    dns_long_vpce_name => "dns-long-vpce-name",
    dns_overrides_denied => "dns-overrides-denied",
    dns_own_zone_alias => "dns-own-zone-alias",
    dns_own_zone_stale => "dns-own-zone-stale",
    dns_public_ip => "dns-public-ip",
    dns_unverified => "dns-unverified",
    endpoint_sg_missing_port => "endpoint-sg-missing-port",
    endpoint_sg_rule_revoked => "endpoint-sg-rule-revoked",
    endpoint_packets_dropped => "endpoint-packets-dropped",
    enterprise => "enterprise",
    flow_log_rejects => "flow-log-rejects",
    flow_logs_absent => "flow-logs-absent",
    healthy => "healthy",
    idle_timeout_resets => "idle-timeout-resets",
    internet_facing_nlb => "internet-facing-nlb",
    nacl_deny => "nacl-deny",
    nlb_sg_drops_privatelink => "nlb-sg-drops-privatelink",
    no_listener_on_port => "no-listener-on-port",
    notification_topic_refuses_vpce => "notification-topic-refuses-vpce",
    pending_acceptance => "pending-acceptance",
    pending_acceptance_unnotified => "pending-acceptance-unnotified",
    port_allocation_errors => "port-allocation-errors",
    ppv2_health_failures => "ppv2-health-failures",
    principal_not_allowed => "principal-not-allowed",
    private_dns_disabled => "private-dns-disabled",
    probe_refused => "probe-refused",
    provider_not_visible => "provider-not-visible",
    rejected => "rejected",
    target_sg_blocks_nlb => "target-sg-blocks-nlb",
    vpc_dns_hostnames_off => "vpc-dns-hostnames-off",
    wildcard_principal => "wildcard-principal",
    cross_region_custom_idle_timeout => "cross-region-custom-idle-timeout",
    cross_region_no_provider_access => "cross-region-no-provider-access",
    cross_region_not_opted_in => "cross-region-not-opted-in",
    cross_region_region_pending => "cross-region-region-pending",
    cross_region_region_removed => "cross-region-region-removed",
    cross_region_supported => "cross-region-supported",
    dualstack_ipv6_client => "dualstack-ipv6-client",
    ipv6_client_endpoint_sg_ipv4_only => "ipv6-client-endpoint-sg-ipv4-only",
    ipv6_client_service_defined_dns => "ipv6-client-service-defined-dns",
    ipv6_dualstack_endpoint_ipv4_service => "ipv6-dualstack-endpoint-ipv4-service",
    ipv6_nacl_deny => "ipv6-nacl-deny",
    ipv6_service_nlb_not_dualstack => "ipv6-service-nlb-not-dualstack",
    ipv6_subnet_without_ipv6 => "ipv6-subnet-without-ipv6",
    aws_service_ssm => "aws-service-ssm",
    aws_service_s3 => "aws-service-s3",
    aws_service_sts_sg_8443 => "aws-service-sts-sg-8443",
    aws_service_s3_policy_restricts => "aws-service-s3-policy-restricts",
    aws_service_s3_policy_denies => "aws-service-s3-policy-denies",
    aws_service_s3_policy_allows => "aws-service-s3-policy-allows",
    aws_service_ssm_private_dns_off => "aws-service-ssm-private-dns-off",
    aws_service_ssm_az_not_offered => "aws-service-ssm-az-not-offered",
    aws_service_ssm_client_egress_8443 => "aws-service-ssm-client-egress-8443",
    aws_service_ssm_nacl_deny_443 => "aws-service-ssm-nacl-deny-443",
    aws_service_ssm_hostnames_off => "aws-service-ssm-hostnames-off",
    aws_service_ssm_forward_rule => "aws-service-ssm-forward-rule",
}
