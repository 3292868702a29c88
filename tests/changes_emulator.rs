//! "What changed" end to end (issue 15): the real binary against the emulator, whose
//! launcher answers cloudtrail:LookupEvents from the events each test records
//! (tests/emulator/moto_launcher.py, tests/support/trail.rs), filtered by ResourceName
//! and time and paged two events at a time. Each test makes the change for real through
//! the SDK, records the event CloudTrail would have written for it, and reads the report.

mod support;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use support::emulator::Emulator;
use support::fault_proxy::{Fault, FaultProxy};
use support::run::{Invocation, Report};
use support::trail::{self, event, now_epoch, principal_arn, read_event, record};
use support::world::{
    consumer_credentials, provider_credentials, sdk_config, Spec, World, CONSUMER_ACCOUNT, PORT,
    PROVIDER_ACCOUNT, VPC_CIDR,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn schema_errors(report: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"),
    )
    .expect("schema/report.schema.json");
    let v = jsonschema::validator_for(&serde_json::from_str(&text).expect("schema is JSON"))
        .expect("schema compiles");
    v.iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

fn events_of<'a>(report: &'a Report, check: &str) -> &'a Vec<Value> {
    report.check(check)["changes"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{check} has no changes\n{}", report.outcome.stdout))
}

/// The endpoint security group's TCP 8443 rule, the one the healthy world admits.
fn sg_rule() -> aws_sdk_ec2::types::IpPermission {
    support::world::tcp_rule(PORT, VPC_CIDR)
}

fn revoke_params(sg: &str) -> Value {
    json!({
        "groupId": sg,
        "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": PORT, "toPort": PORT,
            "groups": {}, "ipRanges": {"items": [{"cidrIp": VPC_CIDR}]},
            "ipv6Ranges": {}, "prefixListIds": {}
        }]}
    })
}

#[test]
fn a_revoked_security_group_rule_is_named_under_endpoint_sg_ingress() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let world = rt.block_on(World::build(&url, &Spec::default()));
    let sg = world.endpoint_sg.clone();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&url, consumer_credentials()).await);
        ec2.revoke_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(sg_rule())
            .send()
            .await
            .expect("RevokeSecurityGroupIngress");
    });
    let now = now_epoch();
    let sg_type = "AWS::EC2::SecurityGroup";
    record(
        emulator.port(),
        CONSUMER_ACCOUNT,
        &[
            event(
                "e-revoke",
                CONSUMER_ACCOUNT,
                "ec2.amazonaws.com",
                "RevokeSecurityGroupIngress",
                sg_type,
                &sg,
                now - 42 * 60,
                revoke_params(&sg),
            ),
            // Earlier the same day: the rule was (re)authorised.
            event(
                "e-authorize",
                CONSUMER_ACCOUNT,
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                sg_type,
                &sg,
                now - 3 * 3600,
                revoke_params(&sg),
            ),
            // A read on the group (dropped), a change two days ago (outside --changes-since
            // 24h), and a change on another group (another ResourceName).
            read_event("e-read", &sg, now - 60),
            event(
                "e-old",
                CONSUMER_ACCOUNT,
                "ec2.amazonaws.com",
                "RevokeSecurityGroupIngress",
                sg_type,
                &sg,
                now - 48 * 3600,
                revoke_params(&sg),
            ),
            event(
                "e-other",
                CONSUMER_ACCOUNT,
                "ec2.amazonaws.com",
                "RevokeSecurityGroupIngress",
                sg_type,
                "sg-0fffffffffffffff0",
                now - 60,
                revoke_params("sg-0fffffffffffffff0"),
            ),
        ],
    );
    let snapshot = tempfile::NamedTempFile::new().expect("temp file");
    let snapshot_path = snapshot.path().to_str().expect("utf-8 path").to_owned();
    let run = Invocation::new(&world.endpoint_id, &url)
        .arg("--save-snapshot")
        .arg(&snapshot_path)
        .report();
    assert_eq!(
        run.statuses()["endpoint-sg-ingress"],
        "fail",
        "{}",
        run.summary()
    );
    let errors = schema_errors(&run.json);
    assert!(errors.is_empty(), "schema: {errors:#?}");

    let events = events_of(&run, "endpoint-sg-ingress");
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    // Newest first; the read event dropped; the older one found on the second page.
    assert_eq!(ids, ["e-revoke", "e-authorize"], "{}", run.outcome.stdout);
    let revoke = &events[0];
    assert_eq!(revoke["event_name"], "RevokeSecurityGroupIngress");
    assert_eq!(revoke["principal"], principal_arn(CONSUMER_ACCOUNT));
    assert_eq!(revoke["session"], trail::SESSION);
    assert_eq!(revoke["from"], trail::SOURCE_IP);
    assert_eq!(revoke["account"], CONSUMER_ACCOUNT);
    assert_eq!(
        revoke["what"],
        format!("{sg} lost TCP {PORT} from {VPC_CIDR}")
    );
    let ago = revoke["ago_seconds"].as_i64().expect("ago_seconds");
    assert!((42 * 60..42 * 60 + 120).contains(&ago), "ago {ago}");
    assert_eq!(run.json["recent_changes"][0]["event_id"], "e-revoke");
    // Passing checks carry none.
    assert!(run.check("endpoint-state").get("changes").is_none());

    // The snapshot keeps the records, not the access key ids in them.
    let saved = std::fs::read_to_string(&snapshot_path).expect("saved snapshot");
    assert!(saved.contains("RevokeSecurityGroupIngress") && !saved.contains("ASIAEXAMPLE"));

    // The replay shows the same changes, with the time words relative to the collection.
    let replay = assert_cmd::Command::cargo_bin("pl-doctor")
        .expect("binary")
        .env("NO_COLOR", "1")
        .args(["--from-snapshot", &snapshot_path, "-o", "table"])
        .output()
        .expect("replay");
    // Words as the table wraps them, joined again.
    let text = String::from_utf8_lossy(&replay.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("What changed: - changed 42 min ago")
            && text.contains(&format!(
                "{sg} lost TCP {PORT} from {VPC_CIDR} (RevokeSecurityGroupIngress by {}",
                principal_arn(CONSUMER_ACCOUNT)
            ))
            && text.contains("Recent changes:"),
        "{text}"
    );
    let replay_json = assert_cmd::Command::cargo_bin("pl-doctor")
        .expect("binary")
        .args(["--from-snapshot", &snapshot_path, "-o", "json"])
        .output()
        .expect("replay");
    let replayed: Value = serde_json::from_slice(&replay_json.stdout).expect("replay JSON");
    let sg_check = |r: &Value| {
        r["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == "endpoint-sg-ingress")
            .expect("endpoint-sg-ingress")["changes"]
            .clone()
    };
    assert_eq!(
        sg_check(&replayed),
        sg_check(&run.json),
        "replay reads the same changes"
    );
    let markdown = assert_cmd::Command::cargo_bin("pl-doctor")
        .expect("binary")
        .args(["--from-snapshot", &snapshot_path, "-o", "markdown"])
        .output()
        .expect("replay");
    let md = String::from_utf8_lossy(&markdown.stdout);
    assert!(
        md.contains("**What changed:**") && md.contains("### Recent changes"),
        "{md}"
    );
}

#[test]
fn a_deregistered_target_is_named_under_target_health_from_the_providers_trail() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let world = rt.block_on(World::build(&url, &Spec::default()));
    let tg = world.target_group_arn.clone();
    rt.block_on(async {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(
            &sdk_config(&url, provider_credentials(&url).await).await,
        );
        elb.deregister_targets()
            .target_group_arn(&tg)
            .set_targets(Some(
                world
                    .targets
                    .iter()
                    .map(|t| {
                        aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                            .id(t)
                            .port(i32::from(PORT))
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .expect("DeregisterTargets");
    });
    let targets: Vec<Value> = world
        .targets
        .iter()
        .map(|t| json!({"id": t, "port": PORT}))
        .collect();
    record(
        emulator.port(),
        PROVIDER_ACCOUNT,
        &[event(
            "e-deregister",
            PROVIDER_ACCOUNT,
            "elasticloadbalancing.amazonaws.com",
            "DeregisterTargets",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            &tg,
            now_epoch() - 5 * 60,
            json!({"targetGroupArn": tg, "targets": targets}),
        )],
    );
    // The same event in the consumer's trail would be the wrong account: never found there.
    let run = Invocation::new(&world.endpoint_id, &url).report();
    assert_eq!(run.statuses()["target-health"], "fail", "{}", run.summary());
    let events = events_of(&run, "target-health");
    assert_eq!(events.len(), 1, "{}", run.outcome.stdout);
    let e = &events[0];
    assert_eq!(e["event_name"], "DeregisterTargets");
    assert_eq!(e["account"], PROVIDER_ACCOUNT);
    assert_eq!(e["principal"], principal_arn(PROVIDER_ACCOUNT));
    let what = e["what"].as_str().unwrap();
    assert!(
        what.starts_with("target group ")
            && what.contains(&format!("lost target {}:{PORT}", world.targets[0])),
        "{what}"
    );
}

#[test]
fn denied_or_throttled_lookups_change_no_status_and_say_why() {
    let emulator = Emulator::start();
    let rt = runtime();
    // The endpoint security group admits 443 only: endpoint-sg-ingress fails naming it.
    let world = rt.block_on(World::build(
        &emulator.url(),
        &Spec {
            endpoint_sg_ports: vec![443],
            ..Spec::default()
        },
    ));
    let proxy = rt.block_on(FaultProxy::start(SocketAddr::from((
        [127, 0, 0, 1],
        emulator.port(),
    ))));
    let url = proxy.url();

    let off = Invocation::new(&world.endpoint_id, &url)
        .arg("--changes")
        .arg("off")
        .report();
    assert_eq!(
        proxy.counters().operation("LookupEvents").seen,
        0,
        "--changes off makes no lookup"
    );
    let failing: Vec<String> = off
        .statuses()
        .into_iter()
        .filter(|(_, s)| s == "fail" || s == "warn")
        .map(|(id, _)| id)
        .collect();
    assert!(
        !failing.is_empty(),
        "the healthy world still fails something in the emulator (flow logs absent): {}",
        off.summary()
    );

    for (fault, words) in [
        (
            Fault::access_denied(),
            "missing permission cloudtrail:LookupEvents",
        ),
        (Fault::throttle(), "ThrottlingException"),
    ] {
        proxy.reset_counters();
        proxy.set_faults([fault.only_operation("LookupEvents")]);
        let run = Invocation::new(&world.endpoint_id, &url).report();
        proxy.clear_faults();
        assert!(
            proxy.counters().operation("LookupEvents").faulted > 0,
            "the lookups were made"
        );
        assert_eq!(
            run.statuses(),
            off.statuses(),
            "{words}: statuses as without lookups\n{}",
            run.summary()
        );
        assert_eq!(run.outcome.code, off.outcome.code);
        let mut said = 0;
        for id in &failing {
            // A check that names no resource CloudTrail indexes has no changes at all.
            let Some(changes) = run.check(id).get("changes") else {
                continue;
            };
            let missing = changes["missing"].as_array().unwrap_or_else(|| {
                panic!(
                    "{id} says why its changes are missing\n{}",
                    run.outcome.stdout
                )
            });
            assert!(
                !missing.is_empty()
                    && missing
                        .iter()
                        .all(|m| m["reason"].as_str().unwrap_or("").contains(words)),
                "{id}: {missing:?}"
            );
            assert_eq!(changes["events"], json!([]), "{id}");
            said += 1;
        }
        assert!(
            said > 0,
            "some failing check names a resource\n{}",
            run.outcome.stdout
        );
    }
}

#[test]
fn the_recorded_event_times_are_rfc3339() {
    assert_eq!(trail::time_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(
        trail::time_rfc3339(951868800 + 3661),
        "2000-03-01T01:01:01Z"
    );
}
