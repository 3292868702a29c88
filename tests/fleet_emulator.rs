//! `pl-doctor --all`, end to end: the real binary against the AWS API emulator (moto,
//! started per test on loopback) holding a consumer fleet built through the SDK
//! (tests/support/fleet_world.rs), sometimes through the fault-injecting proxy.
//!
//! What the emulator cannot stand in for is the same as for one endpoint (see
//! tests/live_emulator.rs): CloudWatch metrics are unknown, DNS and the connect probe
//! are skipped. Every fleet row is compared with the one-endpoint run of the same
//! endpoint, so those gaps show up identically on both sides.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use support::emulator::Emulator;
use support::fault_proxy::{Fault, FaultProxy};
use support::fleet_world::{self, command, run, Run, AWS_SERVICE_NAME};
use support::report_json::{row, rows, statuses};
use support::world::{CONSUMER_ACCOUNT, REGION, SECRET_ACCESS_KEY};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn schema_text(name: &str) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schema")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("schema/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema/{name} is not JSON: {e}"))
}

/// The fleet schema, with the one-endpoint report schema it references registered
/// under its `$id` (nothing is fetched from the network).
fn fleet_schema() -> jsonschema::Validator {
    let report = schema_text("report.schema.json");
    let id = report["$id"]
        .as_str()
        .expect("report schema $id")
        .to_owned();
    jsonschema::options()
        .with_resource(
            id,
            jsonschema::Resource::from_contents(report).expect("resource"),
        )
        .build(&schema_text("fleet-report.schema.json"))
        .expect("the fleet schema compiles")
}

fn assert_valid_fleet(json: &Value) {
    let v = fleet_schema();
    let errors: Vec<String> = v
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "fleet report does not validate against schema/fleet-report.schema.json:\n{}",
        errors.join("\n")
    );
}

fn row_ids(json: &Value) -> Vec<String> {
    rows(json)
        .iter()
        .map(|r| r["target"]["endpoint_id"].as_str().unwrap().to_owned())
        .collect()
}

fn rank(verdict: &str) -> u8 {
    match verdict {
        "fail" => 0,
        "inconclusive" => 1,
        "warn" => 2,
        "pass" => 3,
        other => panic!("verdict {other}"),
    }
}

fn assert_worst_first(json: &Value) {
    let ranks: Vec<u8> = rows(json)
        .iter()
        .map(|r| rank(r["verdict"].as_str().unwrap()))
        .collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(ranks, sorted, "rows are not worst first");
}

fn all(url: &str, args: &[&str]) -> Run {
    let mut a = vec!["--all", "-o", "json"];
    a.extend_from_slice(args);
    run(command(url, true, &a))
}

#[test]
fn every_privatelink_endpoint_is_a_row_with_its_own_verdict_worst_first() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let mixed = runtime().block_on(fleet_world::build_mixed(&url));

    let fleet = all(&url, &[]);
    assert_eq!(
        fleet.code,
        Some(1),
        "a check failed on one row\n{}",
        fleet.stderr
    );
    let json = fleet.json();
    assert_valid_fleet(&json);
    assert_eq!(json["kind"], "fleet");
    assert_eq!(json["scope"]["region"], REGION);
    assert_eq!(json["scope"]["account"], CONSUMER_ACCOUNT);
    assert_eq!(json["verdict"], "fail");

    // The three PrivateLink endpoints are rows; the AWS-service endpoint is left out, named.
    let mut ids = row_ids(&json);
    ids.sort();
    let mut want = vec![
        mixed.healthy.clone(),
        mixed.sg_missing_port.clone(),
        mixed.other_vpc_endpoint.clone(),
    ];
    want.sort();
    assert_eq!(ids, want);
    let left_out = json["scope"]["left_out"].as_array().expect("left_out");
    assert_eq!(left_out.len(), 1, "{left_out:#?}");
    assert_eq!(
        left_out[0]["endpoint_id"],
        mixed.aws_service_endpoint.as_str()
    );
    assert_eq!(left_out[0]["service_name"], AWS_SERVICE_NAME);
    assert!(left_out[0]["reason"]
        .as_str()
        .unwrap()
        .contains("AWS service"));

    // Worst first: the endpoint whose group admits nothing, for that reason.
    assert_worst_first(&json);
    assert_eq!(row_ids(&json)[0], mixed.sg_missing_port);
    let broken = row(&json, &mixed.sg_missing_port);
    assert_eq!(broken["verdict"], "fail");
    assert_eq!(broken["root_cause"], "endpoint-sg-ingress");
    for healthy in [&mixed.healthy, &mixed.other_vpc_endpoint] {
        let r = row(&json, healthy);
        assert_eq!(r["root_cause"], Value::Null, "{healthy}: {r:#}");
        assert_ne!(r["verdict"], "fail");
    }
    assert_eq!(
        row(&json, &mixed.other_vpc_endpoint)["target"]["vpc_id"],
        mixed.other_vpc.as_str()
    );
    let counts = &json["counts"];
    let total: u64 = ["pass", "warn", "fail", "inconclusive"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);
    assert_eq!(counts["fail"], 1);

    // Each row is exactly what --endpoint says about that endpoint alone.
    for id in &want {
        let one = run(command(&url, true, &["--endpoint", id, "-o", "json"]));
        let one_json = one.json();
        assert_eq!(
            statuses(row(&json, id)),
            statuses(&one_json),
            "{id}: the fleet row differs from the one-endpoint run"
        );
        assert_eq!(row(&json, id)["root_cause"], one_json["root_cause"], "{id}");
    }

    // The table names every row and what was left out.
    let table = run(command(&url, true, &["--all"]));
    assert_eq!(table.code, Some(1));
    for id in &want {
        assert!(
            table.stdout.contains(id.as_str()),
            "{id} missing:\n{}",
            table.stdout
        );
    }
    assert!(
        table
            .stdout
            .contains("1 interface endpoint to an AWS service left out"),
        "{}",
        table.stdout
    );

    // --vpc narrows to that VPC's endpoints (and to what it leaves out).
    let narrowed = all(&url, &["--vpc", &mixed.other_vpc]).json();
    assert_valid_fleet(&narrowed);
    assert_eq!(row_ids(&narrowed), vec![mixed.other_vpc_endpoint.clone()]);
    assert_eq!(narrowed["scope"]["vpc_id"], mixed.other_vpc.as_str());
    assert!(narrowed["scope"].get("left_out").is_none());
    let first_vpc = all(&url, &["--vpc", &mixed.world.consumer_vpc]);
    assert_eq!(first_vpc.code, Some(1));
    let first_vpc = first_vpc.json();
    let mut ids = row_ids(&first_vpc);
    ids.sort();
    let mut want_first = vec![mixed.healthy.clone(), mixed.sg_missing_port.clone()];
    want_first.sort();
    assert_eq!(ids, want_first);
    assert_eq!(
        first_vpc["scope"]["left_out"].as_array().map(Vec::len),
        Some(1)
    );

    // No endpoint at all is an empty fleet, not an error.
    let empty = all(&url, &["--vpc", "vpc-0000000000000000f"]);
    assert_eq!(empty.code, Some(0), "{}", empty.stderr);
    let empty_json = empty.json();
    assert_valid_fleet(&empty_json);
    assert_eq!(rows(&empty_json).len(), 0);
    assert_eq!(empty_json["verdict"], "pass");
    let empty_table = run(command(
        &url,
        true,
        &["--all", "--vpc", "vpc-0000000000000000f"],
    ));
    assert_eq!(empty_table.code, Some(0));
    assert!(
        empty_table
            .stdout
            .contains("No interface endpoint to a PrivateLink service found"),
        "{}",
        empty_table.stdout
    );
}

#[test]
fn a_saved_fleet_replays_to_the_same_statuses_and_one_endpoint_can_be_cut_out() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let mixed = runtime().block_on(fleet_world::build_mixed(&url));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("fleet.json");
    let file_arg = file.to_str().unwrap();

    let live = all(&url, &["--save-snapshot", file_arg]);
    assert_eq!(live.code, Some(1));
    let live = live.json();
    let saved = std::fs::read_to_string(&file).expect("the fleet snapshot was saved");
    assert!(
        !saved.contains(SECRET_ACCESS_KEY),
        "credentials in the snapshot"
    );
    let saved: Value = serde_json::from_str(&saved).expect("snapshot is JSON");
    assert_eq!(saved["kind"], "fleet");
    assert_eq!(saved["snapshots"].as_array().map(Vec::len), Some(3));

    // Replay: no AWS at all (an endpoint URL nothing listens on would fail any call).
    let replay = run(command(
        "http://127.0.0.1:9",
        false,
        &["--from-snapshot", file_arg, "-o", "json"],
    ));
    assert_eq!(replay.code, Some(1), "{}", replay.stderr);
    let replay = replay.json();
    assert_valid_fleet(&replay);
    assert_eq!(row_ids(&replay), row_ids(&live));
    for id in row_ids(&live) {
        assert_eq!(
            statuses(row(&replay, &id)),
            statuses(row(&live, &id)),
            "{id}"
        );
    }

    // One endpoint of the fleet file, alone: its own one-endpoint report.
    let one = run(command(
        "http://127.0.0.1:9",
        false,
        &[
            "--from-snapshot",
            file_arg,
            "--endpoint",
            &mixed.sg_missing_port,
            "-o",
            "json",
        ],
    ));
    assert_eq!(one.code, Some(1), "{}", one.stderr);
    let one = one.json();
    assert_eq!(one["target"]["endpoint_id"], mixed.sg_missing_port.as_str());
    assert_eq!(one["root_cause"], "endpoint-sg-ingress");
    assert!(one.get("reports").is_none(), "a one-endpoint report");
    assert_eq!(statuses(&one), statuses(row(&live, &mixed.sg_missing_port)));
}

/// Calls per IAM action, from the call log.
fn per_action(run: &Run) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, action) in run.call_log() {
        *m.entry(action).or_insert(0) += 1;
    }
    m
}

fn counted(url: &str, args: &[&str]) -> Run {
    let mut c = command(url, true, args);
    c.env("PL_DOCTOR_CALL_LOG", "1");
    let r = run(c);
    assert!(
        r.code == Some(0) || r.code == Some(1),
        "exit {:?}\n{}",
        r.code,
        r.stderr
    );
    r
}

#[test]
fn the_number_of_aws_calls_does_not_grow_with_the_number_of_endpoints() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let fleet = rt.block_on(fleet_world::build(&url, 2));

    let two = counted(&url, &["--all", "-o", "json"]);
    assert_eq!(rows(&two.json()).len(), 2);

    rt.block_on(fleet_world::add_healthy(&url, &fleet.world, 6));
    let eight = counted(&url, &["--all", "-o", "json"]);
    let eight_json = eight.json();
    assert_eq!(rows(&eight_json).len(), 8);
    // Copies of one healthy endpoint: one verdict for all of them.
    let verdicts: std::collections::BTreeSet<&str> = rows(&eight_json)
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");

    let one = counted(&url, &["--endpoint", &fleet.endpoint_ids[0], "-o", "json"]);
    println!(
        "AWS calls: --endpoint {}, --all with 2 endpoints {}, with 8 endpoints {}",
        one.calls(),
        two.calls(),
        eight.calls()
    );
    assert_eq!(
        per_action(&two),
        per_action(&eight),
        "calls per action differ between 2 and 8 endpoints"
    );
    assert_eq!(two.calls(), eight.calls());
    // Shared facts once: one consumer describe per kind, whatever the number of
    // endpoints (the provider side, once per service, has its own describes).
    let mut actions: BTreeMap<String, usize> = BTreeMap::new();
    for (stage, action) in eight.call_log() {
        if stage.starts_with("consumer") {
            *actions.entry(action).or_insert(0) += 1;
        }
    }
    assert_eq!(
        actions.get("ec2:DescribeVpcAttribute"),
        Some(&2),
        "two attributes of the one VPC: {actions:#?}"
    );
    for action in [
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcEndpointServices",
        "ec2:DescribeFlowLogs",
        "ec2:DescribeVpcs",
        "cloudwatch:GetMetricData",
    ] {
        assert_eq!(actions.get(action), Some(&1), "{action}: {actions:#?}");
    }
    // The Logs Insights query bills per GB scanned: never for a whole fleet.
    assert!(!actions.contains_key("logs:StartQuery"), "{actions:#?}");
    for r in rows(&eight_json) {
        let check = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "flow-log-rejects")
            .unwrap();
        assert_ne!(check["status"], "fail");
    }
}

#[test]
fn a_failed_shared_describe_turns_only_subnet_nacl_unknown_on_every_row() {
    let emulator = Emulator::start();
    let rt = runtime();
    let fleet = rt.block_on(fleet_world::build(&emulator.url(), 3));
    let upstream = SocketAddr::from(([127, 0, 0, 1], emulator.port()));
    let proxy = rt.block_on(FaultProxy::start(upstream));
    let url = proxy.url();

    let clean = all(&url, &[]);
    let clean_json = clean.json();
    assert_eq!(rows(&clean_json).len(), 3);

    proxy.set_faults([Fault::service_unavailable().only_operation("DescribeNetworkAcls")]);
    let faulted = all(&url, &[]);
    let faulted_json = faulted.json();
    assert_valid_fleet(&faulted_json);
    assert_eq!(
        row_ids(&faulted_json).len(),
        3,
        "every endpoint still has its row"
    );
    for id in &fleet.endpoint_ids {
        let before = statuses(row(&clean_json, id));
        let after = statuses(row(&faulted_json, id));
        let changed: BTreeMap<&String, (&String, &String)> = before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(*v))
            .map(|(k, v)| (k, (v, &after[k])))
            .collect();
        assert_eq!(
            changed.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            vec!["subnet-nacl"],
            "{id}: {changed:?}"
        );
        assert_eq!(after["subnet-nacl"], "unknown");
        let nacl = row(&faulted_json, id)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "subnet-nacl")
            .unwrap()
            .to_string();
        assert!(nacl.contains("DescribeNetworkAcls"), "{nacl}");
    }
    assert!(proxy.counters().operation("DescribeNetworkAcls").faulted > 0);

    // The one call the run cannot do without: listing the endpoints. Exit 3, one line.
    proxy.set_faults([Fault::service_unavailable().only_operation("DescribeVpcEndpoints")]);
    let fatal = all(&url, &[]);
    assert_eq!(fatal.code, Some(3), "{}", fatal.stderr);
    assert!(fatal.stdout.is_empty(), "{}", fatal.stdout);
    assert!(
        fatal
            .stderr
            .contains("cannot list the interface endpoints in us-east-1"),
        "{}",
        fatal.stderr
    );
}

fn usage<'a>(json: &'a Value, vpc: &str) -> &'a Value {
    json["vpc_endpoints"]
        .as_array()
        .expect("vpc_endpoints")
        .iter()
        .find(|u| u["vpc_id"] == vpc)
        .unwrap_or_else(|| panic!("{vpc} in {:#}", json["vpc_endpoints"]))
}

#[test]
fn every_vpc_is_counted_against_its_endpoint_quota_and_a_denied_quota_read_changes_no_row() {
    let emulator = Emulator::start();
    let rt = runtime();
    let mixed = rt.block_on(fleet_world::build_mixed(&emulator.url()));
    let upstream = SocketAddr::from(([127, 0, 0, 1], emulator.port()));
    let proxy = rt.block_on(FaultProxy::start(upstream));
    let url = proxy.url();

    // The AWS-service endpoint is left out of the rows, yet takes its place in the VPC.
    let clean = all(&url, &[]);
    let clean_json = clean.json();
    assert_valid_fleet(&clean_json);
    let main = usage(&clean_json, &mixed.world.consumer_vpc);
    assert_eq!(main["in_use"], 3, "{main:#}");
    assert_eq!(main["quota"], 50, "moto's applied value");
    assert_eq!(main["quota_source"], "applied");
    assert_eq!(main["near_quota"], false);
    assert_eq!(main["account"], CONSUMER_ACCOUNT);
    assert_eq!(usage(&clean_json, &mixed.other_vpc)["in_use"], 1);

    // 41 of 50 in the main VPC: 82 %, named with the increase to request.
    let ec2 = rt.block_on(fleet_world::consumer_ec2(&emulator.url()));
    for _ in 0..38 {
        rt.block_on(fleet_world::add_endpoint(
            &ec2,
            &mixed.world.consumer_vpc,
            AWS_SERVICE_NAME,
            &mixed.world.endpoint_subnets,
            &mixed.world.endpoint_sg,
            false,
        ));
    }
    let near = all(&url, &[]);
    let near_json = near.json();
    assert_valid_fleet(&near_json);
    let main = usage(&near_json, &mixed.world.consumer_vpc);
    assert_eq!(
        (main["in_use"].as_u64(), main["percent"].as_u64()),
        (Some(41), Some(82))
    );
    assert_eq!(main["near_quota"], true);
    assert_eq!(
        near_json["vpc_endpoints"][0]["vpc_id"],
        mixed.world.consumer_vpc.as_str(),
        "nearest to the quota first"
    );
    assert_eq!(rows(&near_json).len(), 3, "the new endpoints are not rows");
    let table = run(command(&url, true, &["--all", "--color", "never"]));
    assert!(
        table
            .stdout
            .contains("holds 41 of 50 interface and Gateway Load Balancer endpoints")
            && table.stdout.contains("--quota-code L-29B6F2EB"),
        "{}",
        table.stdout
    );

    // The applied value unreadable: AWS's default is used and the reason said; the rows
    // are exactly as before.
    proxy.set_faults([Fault::access_denied().only_operation("GetServiceQuota")]);
    let denied = all(&url, &[]);
    let denied_json = denied.json();
    assert_valid_fleet(&denied_json);
    assert!(proxy.counters().operation("GetServiceQuota").faulted > 0);
    let main = usage(&denied_json, &mixed.world.consumer_vpc);
    assert_eq!(main["quota_source"], "default");
    assert_eq!(main["quota"], 50);
    assert!(
        main["quota_unread"]
            .as_str()
            .is_some_and(|w| w.contains("servicequotas:GetServiceQuota")),
        "{main:#}"
    );
    for id in row_ids(&near_json) {
        assert_eq!(
            statuses(row(&near_json, &id)),
            statuses(row(&denied_json, &id)),
            "{id}"
        );
    }
    assert_eq!(denied.code, near.code);
}

#[test]
fn an_unreachable_api_ends_the_fleet_run_with_exit_3_and_a_hint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = all(&format!("http://127.0.0.1:{port}"), &[]);
    assert_eq!(r.code, Some(3), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("unreachable"), "{}", r.stderr);
    assert!(r.stderr.contains("--endpoint-url"), "{}", r.stderr);
}
