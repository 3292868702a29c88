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
use support::report_json::check;
use support::run::{Invocation, Report};
use support::service_world::{Extras, ServiceWorld};
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

/// Deregister every target of the world's target group, through the provider's SDK.
fn deregister_every_target(rt: &tokio::runtime::Runtime, url: &str, world: &World) {
    rt.block_on(async {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(
            &sdk_config(url, provider_credentials(url).await).await,
        );
        elb.deregister_targets()
            .target_group_arn(&world.target_group_arn)
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
}

/// The provider's trail records that deregistration `ago` seconds ago (`e-deregister`).
fn record_deregistered(port: u16, world: &World, ago: i64) {
    let tg = &world.target_group_arn;
    let targets: Vec<Value> = world
        .targets
        .iter()
        .map(|t| json!({"id": t, "port": PORT}))
        .collect();
    record(
        port,
        PROVIDER_ACCOUNT,
        &[event(
            "e-deregister",
            PROVIDER_ACCOUNT,
            "elasticloadbalancing.amazonaws.com",
            "DeregisterTargets",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            tg,
            now_epoch() - ago,
            json!({"targetGroupArn": tg, "targets": targets}),
        )],
    );
}

#[test]
fn a_deregistered_target_is_named_under_target_health_from_the_providers_trail() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let world = rt.block_on(World::build(&url, &Spec::default()));
    deregister_every_target(&rt, &url, &world);
    record_deregistered(emulator.port(), &world, 5 * 60);
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

/// `pl-doctor --service <the world's service> <args>` as the provider.
fn provider_view(
    url: &str,
    creds: &aws_sdk_ec2::config::Credentials,
    service: &str,
    args: &[&str],
) -> support::fleet_world::Run {
    let mut c = assert_cmd::Command::cargo_bin("pl-doctor").expect("pl-doctor binary");
    support::service_world::scrubbed(&mut c);
    c.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env(
            "AWS_SESSION_TOKEN",
            creds.session_token().expect("assumed-role token"),
        )
        .env("PL_DOCTOR_CALL_LOG", "1")
        .args([
            "--service",
            service,
            "--region",
            support::world::REGION,
            "--endpoint-url",
            url,
        ])
        .args(args);
    support::fleet_world::run(c)
}

#[test]
fn the_provider_view_looks_up_the_services_resources_once_and_shows_them_under_each_connection() {
    let emulator = Emulator::start();
    let rt = runtime();
    // Three connections (two from the consumer, one from a third account), one service.
    let service_world = rt.block_on(ServiceWorld::build(
        &emulator.url(),
        &Spec::default(),
        &Extras::default(),
    ));
    let world = service_world.world.clone();
    let connections = [
        world.endpoint_id.as_str(),
        service_world.second_endpoint.as_str(),
        service_world.third_account_endpoint.as_str(),
    ];
    deregister_every_target(&rt, &emulator.url(), &world);
    record_deregistered(emulator.port(), &world, 7 * 60);
    let proxy = rt.block_on(FaultProxy::start(SocketAddr::from((
        [127, 0, 0, 1],
        emulator.port(),
    ))));
    let url = proxy.url();
    let creds = service_world.provider.clone();

    let run = provider_view(&url, &creds, &world.service_id, &["-o", "json"]);
    assert_eq!(run.code, Some(1), "target-health fails: {}", run.stderr);
    let json = run.json();
    // The service-wide check names the event from the provider's trail.
    let th = check(&json["service"], "target-health");
    assert_eq!(th["status"], "fail", "{th:#}");
    let e = &th["changes"]["events"][0];
    assert_eq!(e["event_id"], "e-deregister", "{th:#}");
    assert_eq!(e["account"], PROVIDER_ACCOUNT);
    assert_eq!(e["principal"], principal_arn(PROVIDER_ACCOUNT));
    assert_eq!(e["ago_seconds"].as_i64().map(|s| s / 60), Some(7), "{e:#}");
    // Each connection's report shows the same change under its own target-health.
    let reports = json["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), connections.len());
    for row in reports {
        let row_th = check(row, "target-health");
        assert_eq!(
            row_th["changes"]["events"][0]["event_id"], "e-deregister",
            "{row_th:#}"
        );
        assert!(schema_errors(row).is_empty(), "{:?}", schema_errors(row));
    }
    // Listed once in the fleet's recent changes, under the service and the connection.
    let recent = json["recent_changes"].as_array().expect("recent_changes");
    assert_eq!(recent.len(), 1, "{recent:#?}");
    assert_eq!(recent[0]["event_id"], "e-deregister");
    let mut under: Vec<&str> = recent[0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(under[0], world.service_id, "the service first: {under:?}");
    under.sort();
    let mut expected = vec![world.service_id.as_str()];
    expected.extend(connections);
    expected.sort();
    assert_eq!(under, expected);
    // One LookupEvents call per resource the failing checks name and the provider owns
    // (each has at most two events: one page), however many connections name it too.
    let mut looked_up = std::collections::BTreeSet::new();
    let all_checks = json["service"]["checks"].as_array().unwrap().iter().chain(
        json["reports"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["checks"].as_array().unwrap()),
    );
    let mut shown = Vec::new();
    for c in all_checks {
        if c.get("changes").is_some() {
            shown.push(format!("{}: {}", c["id"], c["changes"]));
        }
        let unreadable: Vec<&Value> = c["changes"]["missing"]
            .as_array()
            .map(|m| m.iter().map(|m| &m["resource"]).collect())
            .unwrap_or_default();
        for r in c["changes"]["resources"].as_array().into_iter().flatten() {
            if !unreadable.contains(&r) {
                looked_up.insert(r.as_str().unwrap().to_owned());
            }
        }
    }
    assert!(looked_up.contains(&world.target_group_arn), "{looked_up:?}");
    assert_eq!(
        proxy.counters().operation("LookupEvents").seen,
        looked_up.len() as u64,
        "one call per resource: {looked_up:?}\n{}\n{}",
        shown.join("\n"),
        run.stderr
    );

    // People read it in the table and in Markdown: under the finding, and once in all.
    let table = provider_view(&url, &creds, &world.service_id, &[]);
    // The table wraps to the terminal: its words, not its lines.
    let words_of_table = table
        .stdout
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for words in ["What changed:", "Recent changes:", "DeregisterTargets by"] {
        assert!(words_of_table.contains(words), "{words}\n{}", table.stdout);
    }
    assert!(
        words_of_table.contains("[under 4 endpoints]"),
        "the service and three connections: {}",
        table.stdout
    );
    let md = provider_view(&url, &creds, &world.service_id, &["-o", "markdown"]);
    for words in [
        "**What changed:**",
        "### Recent changes",
        "changed 7 min ago",
    ] {
        assert!(md.stdout.contains(words), "{words}\n{}", md.stdout);
    }

    // --changes off: no lookup, the same statuses.
    proxy.reset_counters();
    let off = provider_view(
        &url,
        &creds,
        &world.service_id,
        &["-o", "json", "--changes", "off"],
    );
    assert_eq!(proxy.counters().operation("LookupEvents").seen, 0);
    let off = off.json();
    assert!(
        off.get("recent_changes").is_none(),
        "{:#}",
        off["recent_changes"]
    );
    let statuses = |v: &Value| -> Vec<(String, String)> {
        v["service"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].to_string(), c["status"].to_string()))
            .collect()
    };
    assert_eq!(statuses(&off), statuses(&json));
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
