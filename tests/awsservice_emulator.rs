//! Layer 2 for interface endpoints to AWS services: the real binary collecting from the
//! AWS API emulator an endpoint to `com.amazonaws.us-east-1.s3`, `.ssm` and `.sts`, which
//! moto lists among the services of DescribeVpcEndpointServices (Owner `amazon`).
//!
//! The launcher (tests/emulator/moto_launcher.py) names such endpoints as AWS does
//! (`vpce-…-….<service>.us-east-1.vpce.amazonaws.com`, S3's under a `*.` label, and the
//! service's own name, `ssm.us-east-1.amazonaws.com`, with private DNS), where moto does
//! not. Endpoint policies are stored and returned by moto as AWS does (the default
//! full-access policy when none was given).
//!
//! Asserted: the consumer-side runbook runs on 443 (an endpoint group admitting only 8443
//! fails endpoint-sg-ingress naming 443, the root cause), the provider-only checks are
//! `skip` "AWS-managed service" (never `unknown`), no provider call is made for an AWS
//! service, endpoint-policy passes the default policy and fails a Deny of s3:GetObject
//! for `--action s3:GetObject` naming the statement, the service's own name resolves to
//! the ENIs (dns-resolution through a loopback DNS server), and fleets leave AWS-service
//! endpoints out unless `--include-aws-services`.

mod support;

use serde_json::Value;
use support::dns_server::{LoopbackDns, Zone};
use support::emulator::Emulator;
use support::fleet_world::{self, command, run};
use support::run::Invocation;
use support::world::{AwsServiceWorld, Spec};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn world(emulator: &Emulator, service: &str, spec: &Spec) -> AwsServiceWorld {
    runtime().block_on(AwsServiceWorld::build(&emulator.url(), service, spec))
}

/// The checks only a provider has: AWS runs them for its own services.
const AWS_MANAGED: [&str; 10] = [
    "allowed-principals",
    "connection-acceptance",
    "nlb-listener",
    "nlb-security-group",
    "target-health",
    "target-sg-ingress",
    "nlb-capacity",
    "private-dns-verification",
    "cross-zone",
    "idle-timeout-resets",
];

/// Every check of a healthy endpoint to an AWS service, no --client, no resolver.
fn healthy_except(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = vec![
        ("endpoint-state", "pass"),
        ("service-region", "pass"),
        ("endpoint-sg-ingress", "pass"),
        ("client-sg-egress", "skip"),
        ("subnet-nacl", "pass"),
        ("ip-address-type", "pass"),
        ("endpoint-policy", "pass"),
        ("private-dns-enabled", "pass"),
        ("vpc-dns-attributes", "pass"),
        ("dns-overrides", "pass"),
        ("az-alignment", "pass"),
        // Skipped unless a test serves the names from a loopback DNS server.
        ("dns-resolution", "skip"),
        // The world has no flow logs: the check warns with the create-flow-logs command.
        ("flow-log-rejects", "warn"),
        // The ENI addresses are not routable here; the probe is tested on loopback.
        ("connect-probe", "skip"),
    ];
    all.extend(AWS_MANAGED.iter().map(|id| (*id, "skip")));
    support::run::expected_statuses(all, changes)
}

fn summary(report: &support::run::Report, id: &str) -> String {
    report.check(id)["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn endpoints_to_s3_ssm_and_sts_run_the_consumer_runbook_on_443_and_skip_the_provider_side() {
    let emulator = Emulator::start();
    for service in ["s3", "ssm", "sts"] {
        let w = world(&emulator, service, &Spec::aws_service());
        // With provider credentials given anyway: an AWS service has no provider to read.
        let report = Invocation::new(&w.endpoint_id, &emulator.url()).report();
        report.expect(&healthy_except(&[]));
        report.expect_root_cause(None, 0);
        let target = &report.json["target"];
        assert_eq!(target["service_name"], w.service_name.as_str(), "{service}");
        assert_eq!(target["service_kind"], "aws_service", "{service}");
        assert_eq!(target["provider_account"], Value::Null, "{service}");
        for id in AWS_MANAGED {
            let s = summary(&report, id);
            assert!(
                s.starts_with("AWS-managed service") && s.contains(&w.service_name),
                "{service} {id}: {s}"
            );
        }
        let ingress = report.check("endpoint-sg-ingress");
        assert!(
            summary(&report, "endpoint-sg-ingress").contains("443"),
            "{service}: {ingress}"
        );
        assert!(
            summary(&report, "endpoint-policy").contains("default full-access"),
            "{service}: {}",
            summary(&report, "endpoint-policy")
        );
        assert!(
            summary(&report, "private-dns-enabled")
                .contains(&format!("{service}.us-east-1.amazonaws.com")),
            "{service}: {}",
            summary(&report, "private-dns-enabled")
        );
    }
}

#[test]
fn no_provider_call_is_made_for_an_aws_service() {
    let emulator = Emulator::start();
    let w = world(&emulator, "ssm", &Spec::aws_service());
    let out = Invocation::new(&w.endpoint_id, &emulator.url())
        .command()
        .env("PL_DOCTOR_CALL_LOG", "1")
        .output()
        .expect("run pl-doctor");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let provider_calls: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("pl-doctor: call provider") && !l.contains("provider: account"))
        .collect();
    assert!(
        provider_calls.is_empty(),
        "no service stage in the provider account for an AWS service: {provider_calls:#?}"
    );
    assert!(
        stderr.contains("ec2:DescribeVpcEndpointServices"),
        "the consumer's view of the service (its Owner and AZs) is read: {stderr}"
    );
}

#[test]
fn an_endpoint_group_admitting_only_8443_fails_naming_443_as_the_root_cause() {
    let emulator = Emulator::start();
    let w = world(
        &emulator,
        "sts",
        &Spec {
            endpoint_sg_ports: vec![8443],
            ..Spec::aws_service()
        },
    );
    let report = Invocation::new(&w.endpoint_id, &emulator.url()).report();
    report.expect(&healthy_except(&[("endpoint-sg-ingress", "fail")]));
    report.expect_root_cause(Some("endpoint-sg-ingress"), 1);
    let check = report.check("endpoint-sg-ingress");
    let s = summary(&report, "endpoint-sg-ingress");
    assert!(s.contains("443") && s.contains(&w.endpoint_sg), "{s}");
    let fix = check["remediation"].as_str().unwrap_or_default();
    assert!(
        fix.contains("--port 443") && fix.contains(&w.endpoint_sg),
        "{fix}"
    );
    // --port says otherwise: the group's 8443 is then what is asked for.
    let report = Invocation::new(&w.endpoint_id, &emulator.url())
        .arg("--port")
        .arg("8443")
        .report();
    assert_eq!(report.check("endpoint-sg-ingress")["status"], "pass");
}

const DENY_GET_OBJECT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Sid":"NoObjectReads","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;

#[test]
fn an_endpoint_policy_denying_get_object_fails_for_that_action_naming_the_statement() {
    let emulator = Emulator::start();
    let w = world(
        &emulator,
        "s3",
        &Spec {
            endpoint_policy: Some(DENY_GET_OBJECT),
            ..Spec::aws_service()
        },
    );
    let run = |args: &[&str]| {
        let mut inv = Invocation::new(&w.endpoint_id, &emulator.url());
        for a in args {
            inv = inv.arg(*a);
        }
        inv.report()
    };
    // No request named: a policy that is not the default warns, listing what it restricts.
    let report = run(&[]);
    report.expect(&healthy_except(&[("endpoint-policy", "warn")]));
    let details = report.check("endpoint-policy")["details"].to_string();
    assert!(
        details.contains("NoObjectReads") && details.contains("Deny s3:GetObject"),
        "{details}"
    );

    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("s3.json");
    let report = run(&[
        "--action",
        "s3:GetObject",
        "--principal",
        "arn:aws:iam::123456789012:role/app",
        "--resource",
        "arn:aws:s3:::artifacts/builds/latest.tar.gz",
        "--save-snapshot",
        saved.to_str().unwrap(),
    ]);
    report.expect(&healthy_except(&[("endpoint-policy", "fail")]));
    report.expect_root_cause(Some("endpoint-policy"), 1);
    let check = report.check("endpoint-policy");
    let s = summary(&report, "endpoint-policy");
    assert!(
        s.contains("NoObjectReads") && s.contains("s3:GetObject"),
        "{s}"
    );
    assert_eq!(check["evidence"]["decision"], "denied");
    assert_eq!(check["evidence"]["statement"]["sid"], "NoObjectReads");
    assert!(check["fingerprint"].is_string());
    // What the collector recorded: the policy, and the request for a replay.
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(
        snap["consumer"]["endpoint"]["policy_document"],
        DENY_GET_OBJECT
    );
    assert_eq!(snap["inputs"]["action"], "s3:GetObject");
    assert_eq!(snap["consumer"]["service"]["known"]["owner"], "amazon");
    assert!(snap["provider"]["load_balancers"]["absent"]["hint"]
        .as_str()
        .unwrap_or_default()
        .starts_with("AWS-managed service"));
    // S3's endpoint names are wildcards, as AWS lists them.
    let names = snap["consumer"]["endpoint"]["dns_entries"].to_string();
    assert!(names.contains("\"*.vpce-"), "{names}");
    // The replay judges the same request; another action is allowed.
    let replay = assert_cmd::Command::cargo_bin("pl-doctor")
        .unwrap()
        .args(["--from-snapshot", saved.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    let replayed: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(replayed["root_cause"], "endpoint-policy");
    let report = run(&["--action", "s3:PutObject"]);
    report.expect(&healthy_except(&[]));
}

#[test]
fn the_service_name_resolves_to_the_endpoint_enis() {
    let emulator = Emulator::start();
    let w = world(&emulator, "ssm", &Spec::aws_service());
    let ips: Vec<&str> = w
        .endpoint_enis
        .iter()
        .map(|e| e.private_ip.as_str())
        .collect();
    let mut zone = Zone::new().addresses("ssm.us-east-1.amazonaws.com", &ips);
    for name in w.endpoint_dns_names.iter().filter(|n| n.contains(".vpce.")) {
        let first = name.split('.').next().unwrap_or_default();
        let zonal: Vec<&str> = w
            .endpoint_enis
            .iter()
            .filter(|e| first.ends_with(&format!("-{}", e.availability_zone)))
            .map(|e| e.private_ip.as_str())
            .collect();
        zone = zone.addresses(name, if zonal.is_empty() { &ips } else { &zonal });
    }
    assert!(
        w.endpoint_dns_names
            .iter()
            .any(|n| n.ends_with(".ssm.us-east-1.vpce.amazonaws.com")),
        "{:?}",
        w.endpoint_dns_names
    );
    let dns = LoopbackDns::start(zone);
    let report = Invocation::new(&w.endpoint_id, &emulator.url())
        .resolver(dns.addr())
        .report();
    report.expect(&healthy_except(&[("dns-resolution", "pass")]));
    let lookups = report.check("dns-resolution")["evidence"]["lookups"].to_string();
    assert!(lookups.contains("ssm.us-east-1.amazonaws.com"), "{lookups}");

    // The service's name answering with its public addresses (private DNS not effective)
    // is a failure: the SDK would bypass the endpoint.
    let mut zone = Zone::new().addresses("ssm.us-east-1.amazonaws.com", &["10.20.250.250"]);
    for name in w.endpoint_dns_names.iter().filter(|n| n.contains(".vpce.")) {
        zone = zone.addresses(name, &ips);
    }
    let dns = LoopbackDns::start(zone);
    let report = Invocation::new(&w.endpoint_id, &emulator.url())
        .resolver(dns.addr())
        .report();
    assert_eq!(report.check("dns-resolution")["status"], "fail");
}

#[test]
fn fleets_leave_aws_service_endpoints_out_unless_include_aws_services() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let mixed = runtime().block_on(fleet_world::build_mixed(&url));
    let rows = |json: &Value| -> Vec<String> {
        json["reports"]
            .as_array()
            .expect("reports")
            .iter()
            .map(|r| r["target"]["endpoint_id"].as_str().unwrap().to_owned())
            .collect()
    };

    let default = run(command(&url, true, &["--all", "-o", "json"])).json();
    assert!(!rows(&default).contains(&mixed.aws_service_endpoint));
    let left_out = default["scope"]["left_out"].to_string();
    assert!(
        left_out.contains(&mixed.aws_service_endpoint)
            && left_out.contains("--include-aws-services"),
        "{left_out}"
    );

    let wide = run(command(
        &url,
        true,
        &["--all", "--include-aws-services", "-o", "json"],
    ))
    .json();
    assert!(
        rows(&wide).contains(&mixed.aws_service_endpoint),
        "{wide:#}"
    );
    assert!(
        wide["scope"].get("left_out").is_none(),
        "{:#}",
        wide["scope"]
    );
    let row = wide["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"]["endpoint_id"] == mixed.aws_service_endpoint.as_str())
        .unwrap();
    assert_eq!(row["target"]["service_kind"], "aws_service");
    let status = |id: &str| {
        row["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status("nlb-listener"), "skip");
    assert_eq!(status("endpoint-policy"), "pass");

    // Without --all it is a usage error, one line, exit 2.
    let bad = run(command(
        &url,
        false,
        &[
            "--endpoint",
            &mixed.aws_service_endpoint,
            "--include-aws-services",
        ],
    ));
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("--include-aws-services"),
        "{}",
        bad.stderr
    );
}
