//! Layer 2 (DESIGN.md): the real binary collecting live from an AWS API emulator.
//!
//! Each test starts its own moto server (tests/support/emulator.rs) on a free loopback
//! port, builds a two-account PrivateLink world through the Rust SDK's create calls
//! (tests/support/world.rs), runs `pl-doctor --endpoint … --endpoint-url … -o json`
//! and asserts check statuses, the root cause and the exit code, and, through
//! `--save-snapshot`, what the collector recorded. Nothing here sends traffic outside
//! 127.0.0.0/8: the ENI addresses are fake private ones that are never dialled.
//!
//! # Known emulator gaps (moto 5.2.5) and which layer covers them instead
//!
//! Extended in test code (tests/emulator/moto_launcher.py), so that moto answers as AWS
//! documents it; the product never special-cases the emulator:
//! * DescribeVpcEndpointConnections is not implemented: the launcher lists the endpoints
//!   connected to the caller's services.
//! * DescribeVpcEndpointServices shows a consumer only its own account's services: the
//!   launcher also lists other accounts' services whose allowed principals cover it.
//! * Interface endpoint ENIs get a random 10.x address outside their subnet and the
//!   VPC's default security group: the launcher gives them a subnet address and the
//!   endpoint's groups.
//!
//! Not emulated; covered by the fixture layer (tests/fixtures.rs, layer 1):
//! * Endpoints are always `available` and connections always `available`, whatever the
//!   allow-list or AcceptanceRequired say: the pendingAcceptance/rejected/failed/expired
//!   states (endpoint-state, connection-acceptance, and allowed-principals failing
//!   rather than warning) have fixtures.
//! * Private DNS is always `verified` (and the consumer view carries no
//!   PrivateDnsNameVerificationState): pendingVerification/failed have fixtures.
//! * AZ names map to the same AZ IDs in every account (us-east-1a = use1-az6 everywhere),
//!   so the name-vs-ID mismatch across accounts is a fixture (healthy, enterprise).
//! * Endpoint DnsEntries hold one made-up name (`vpce-…-xxxx.<service name>`): the
//!   launcher names them as AWS does (regional, one zonal name per AZ, then the private
//!   DNS name), and tests/dns_emulator.rs asserts it. The ENI addresses are not routable.
//!   DNS is asked of a real DNS server on loopback serving the endpoint's names with what
//!   the test chooses (each zonal name its AZ's ENI; elsewhere dns-resolution is
//!   skipped); the Route 53 side (Resolver rules, private hosted zones, DHCP options)
//!   and the vantage from a loopback metadata service are tests/dns_emulator.rs. The TCP
//!   probe is skipped here and runs against real listeners on loopback in tests/dns_probe.rs.
//! * NLBs report no private IPv4 addresses (LoadBalancerAddresses), no security groups'
//!   EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic, and an `…:loadbalancer/app/…`
//!   ARN even for network load balancers; NLB security groups have fixtures.
//! * Allowed principals come back without PrincipalType (recorded as an empty string).
//! * Custom NACLs list no entries of their own (AWS lists the `*` deny, rule 32767);
//!   default NACLs do list them.
//! * IP targets are always `healthy`; instance targets are `healthy`, or `unused`
//!   (Target.InvalidState) once stopped: failing health checks have fixtures.
//! * CloudWatch's RPC v2 CBOR protocol is not served (GetMetricData answers HTTP 404):
//!   idle-timeout-resets is `unknown` here and covered by fixtures and SDK-level replay
//!   (src/collect/metrics.rs).
//! * Flow logs: CreateFlowLogs to a CloudWatch Logs group works, but moto never writes
//!   records (the test puts them with PutLogEvents), and its Logs Insights is partial:
//!   StartQuery/GetQueryResults/DescribeQueries exist and complete at once, but only
//!   `fields`/`sort`/`limit` of `@`-fields are understood; `filter`, `parse` and `stats`
//!   are ignored, so each event comes back as `@ptr`/`@timestamp` with no statistics.
//!   The flow-log test asserts the plumbing (flow logs found, one query over their group
//!   naming the ENIs, an empty group → pass, REJECT records → the unreadable rows
//!   reported as `unknown` with the reason); the aggregation and fail/warn verdicts are
//!   covered by SDK-level replay (src/collect/flowlogs.rs) and fixtures. The other
//!   worlds have no flow logs, so flow-log-rejects warns.
//! * AccessDenied never happens (moto allows every call by default): the reasons for
//!   denied calls are unit-tested in the collector's error conversion.

mod support;

use serde_json::Value;
use support::dns_server::LoopbackDns;
use support::emulator::Emulator;
use support::run::Invocation;
use support::world::{
    provider_credentials, sdk_config, Principal, Spec, TargetKind, TopicPolicy, World,
    ACCESS_KEY_ID, CONSUMER_ACCOUNT, PORT, PRIVATE_DNS_NAME, PROVIDER_ACCOUNT, REGION,
    SECRET_ACCESS_KEY,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fresh emulator holding the world `spec` describes.
fn world(spec: &Spec) -> (Emulator, World) {
    let emulator = Emulator::start();
    let world = runtime().block_on(World::build(&emulator.url(), spec));
    (emulator, world)
}

fn diagnose(emulator: &Emulator, world: &World) -> Invocation {
    Invocation::new(&world.endpoint_id, &emulator.url())
}

/// What every run against the emulator says where the emulator cannot stand in for AWS
/// (see the gaps above): asserted so a change there is noticed.
const NOT_EMULATED: &[(&str, &str)] = &[
    // Skipped unless a test serves the names from a loopback DNS server.
    ("dns-resolution", "skip"),
    // moto does not serve CloudWatch's RPC v2 CBOR protocol: the fact is absent with the reason.
    ("idle-timeout-resets", "unknown"),
    ("nlb-capacity", "unknown"),
    // Unless Spec::flow_log_group: the check warns with the create-flow-logs command.
    ("flow-log-rejects", "warn"),
    // The ENI addresses are not routable here; the probe is tested on loopback.
    ("connect-probe", "skip"),
];

/// Every check of a healthy world, with provider access and no --client.
const HEALTHY: &[(&str, &str)] = &[
    ("endpoint-state", "pass"),
    ("service-region", "pass"),
    ("allowed-principals", "pass"),
    ("connection-acceptance", "pass"),
    ("endpoint-sg-ingress", "pass"),
    ("client-sg-egress", "skip"),
    ("subnet-nacl", "pass"),
    ("ip-address-type", "pass"),
    // An endpoint service has no endpoint policy (endpoints to AWS services: awsservice_emulator.rs).
    ("endpoint-policy", "skip"),
    ("nlb-listener", "pass"),
    ("nlb-security-group", "pass"),
    ("target-health", "pass"),
    ("target-sg-ingress", "pass"),
    ("private-dns-verification", "pass"),
    ("private-dns-enabled", "pass"),
    ("vpc-dns-attributes", "pass"),
    ("dns-overrides", "pass"),
    ("az-alignment", "pass"),
    ("cross-zone", "pass"),
];

/// The status of every check of the runbook: the healthy world's, with `changes` applied.
fn healthy_except(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    support::run::expected_statuses(
        HEALTHY.iter().chain(NOT_EMULATED).copied().collect(),
        changes,
    )
}

fn saved_snapshot(dir: &tempfile::TempDir, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.path().join(name);
    (path.clone(), path.to_str().expect("utf-8 path").to_owned())
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no snapshot at {}: {e}", path.display()));
    serde_json::from_str(&text).expect("snapshot is JSON")
}

#[test]
fn emulator_world_answers_like_aws_across_accounts() {
    // The launcher's extensions, through the SDK: if these break, every diagnosis
    // below would be wrong for reasons that have nothing to do with pl-doctor.
    let (emulator, world) = world(&Spec::default());
    let url = emulator.url();
    runtime().block_on(async {
        use support::world::{consumer_credentials, provider_credentials, sdk_config};
        let consumer = aws_sdk_ec2::Client::new(&sdk_config(&url, consumer_credentials()).await);
        let provider =
            aws_sdk_ec2::Client::new(&sdk_config(&url, provider_credentials(&url).await).await);

        let seen = consumer
            .describe_vpc_endpoint_services()
            .service_names(&world.service_name)
            .send()
            .await
            .expect("the consumer sees the provider's service it is allowed to");
        let detail = &seen.service_details()[0];
        assert_eq!(detail.owner(), Some(PROVIDER_ACCOUNT));
        assert_eq!(detail.private_dns_name(), Some(PRIVATE_DNS_NAME));

        let connections = provider
            .describe_vpc_endpoint_connections()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("service-id")
                    .values(&world.service_id)
                    .build(),
            )
            .send()
            .await
            .expect("DescribeVpcEndpointConnections");
        let c = &connections.vpc_endpoint_connections()[0];
        assert_eq!(c.vpc_endpoint_id(), Some(world.endpoint_id.as_str()));
        assert_eq!(c.vpc_endpoint_owner(), Some(CONSUMER_ACCOUNT));

        let endpoint = consumer
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(&world.endpoint_id)
            .send()
            .await
            .expect("DescribeVpcEndpoints");
        let enis = consumer
            .describe_network_interfaces()
            .set_network_interface_ids(Some(
                endpoint.vpc_endpoints()[0].network_interface_ids().to_vec(),
            ))
            .send()
            .await
            .expect("DescribeNetworkInterfaces");
        for eni in enis.network_interfaces() {
            let ip = eni.private_ip_address().expect("ENI address");
            assert!(ip.starts_with("10.20."), "ENI {ip} outside the subnets");
            let groups: Vec<_> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
            assert_eq!(groups, [world.endpoint_sg.as_str()]);
        }

        // A consumer that is not allowed does not see the service (AWS: InvalidServiceName).
        provider
            .modify_vpc_endpoint_service_permissions()
            .service_id(&world.service_id)
            .remove_allowed_principals(Principal::ConsumerRoot.arn())
            .send()
            .await
            .expect("remove the consumer");
        let hidden = consumer
            .describe_vpc_endpoint_services()
            .service_names(&world.service_name)
            .send()
            .await;
        assert!(hidden.is_err(), "{hidden:?}");
    });
}

#[test]
fn healthy_world_passes_every_collected_check() {
    let (emulator, world) = world(&Spec::default());
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "healthy.json");
    let report = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    report.expect(&healthy_except(&[]));
    report.expect_root_cause(None, 0);
    let target = &report.json["target"];
    assert_eq!(target["endpoint_id"], world.endpoint_id.as_str());
    assert_eq!(target["service_name"], world.service_name.as_str());
    assert_eq!(target["service_id"], world.service_id.as_str());
    assert_eq!(target["region"], REGION);
    assert_eq!(target["consumer_account"], CONSUMER_ACCOUNT);
    assert_eq!(target["provider_account"], PROVIDER_ACCOUNT);

    // What the collector recorded, fact by fact, from both accounts.
    let snap = read_json(&path);
    assert_eq!(
        snap["consumer_identity"]["known"]["account"],
        CONSUMER_ACCOUNT
    );
    assert_eq!(
        snap["provider"]["identity"]["known"]["account"],
        PROVIDER_ACCOUNT
    );
    let endpoint = &snap["consumer"]["endpoint"];
    assert_eq!(endpoint["state"], "available");
    assert_eq!(endpoint["vpc_id"], world.consumer_vpc.as_str());
    assert_eq!(
        endpoint["security_group_ids"],
        serde_json::json!([world.endpoint_sg])
    );
    let enis = snap["consumer"]["endpoint_enis"]["known"]
        .as_array()
        .expect("endpoint ENIs collected");
    let mut eni_azs: Vec<&str> = enis
        .iter()
        .map(|e| e["availability_zone"].as_str().unwrap())
        .collect();
    eni_azs.sort_unstable();
    assert_eq!(eni_azs, ["us-east-1a", "us-east-1b"]);
    let nacls = snap["consumer"]["network_acls"]["known"]
        .as_array()
        .expect("NACLs collected");
    assert!(
        nacls
            .iter()
            .any(|n| n["id"] == world.endpoint_nacl.as_str()),
        "the endpoint subnets' NACL: {nacls:?}"
    );
    let service = &snap["provider"]["service_configuration"]["known"];
    assert_eq!(service["service_id"], world.service_id.as_str());
    assert_eq!(service["private_dns_name"], PRIVATE_DNS_NAME);
    assert_eq!(
        snap["provider"]["allowed_principals"]["known"][0]["principal"],
        Principal::ConsumerRoot.arn()
    );
    let lb = &snap["provider"]["load_balancers"]["known"][0];
    assert_eq!(lb["arn"], world.nlb_arn.as_str());
    assert_eq!(lb["scheme"], "internal");
    assert_eq!(lb["attributes"]["known"]["cross_zone_enabled"], true);
    assert_eq!(lb["listeners"]["known"][0]["port"], PORT);
    let tg = &snap["provider"]["target_groups"]["known"][0];
    assert_eq!(tg["arn"], world.target_group_arn.as_str());
    let targets = tg["targets"]["known"]
        .as_array()
        .expect("targets collected");
    let mut target_azs: Vec<&str> = targets
        .iter()
        .map(|t| t["availability_zone"].as_str().expect("instance target AZ"))
        .collect();
    target_azs.sort_unstable();
    assert_eq!(target_azs, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    for az_map in [&snap["consumer"]["az_map"], &snap["provider"]["az_map"]] {
        let map = az_map["known"].as_array().expect("AZ map per account");
        assert!(map
            .iter()
            .any(|z| z["name"] == "us-east-1a" && z["id"] == "use1-az6"));
    }

    // No flow log covers the ENIs: DescribeFlowLogs answered (an empty list, not a
    // reason), no query ran, and the check warns with the command naming every ENI.
    assert_eq!(
        snap["observability"]["flow_logs"]["known"],
        serde_json::json!([])
    );
    let flow = report.check("flow-log-rejects");
    let summary = flow["summary"].as_str().unwrap_or_default();
    let remediation = flow["remediation"].as_str().unwrap_or_default();
    assert!(summary.contains("no active flow log"), "{summary}");
    assert!(
        remediation.contains("aws ec2 create-flow-logs --resource-type NetworkInterface"),
        "{remediation}"
    );
    for eni in world.eni_ids() {
        assert!(
            summary.contains(eni) && remediation.contains(eni),
            "names {eni}: {summary} / {remediation}"
        );
    }
}

#[test]
fn endpoint_security_group_missing_the_port_is_the_root_cause() {
    let (emulator, world) = world(&Spec {
        endpoint_sg_ports: vec![443],
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[("endpoint-sg-ingress", "fail")]));
    report.expect_root_cause(Some("endpoint-sg-ingress"), 1);
    let remediation = report.check("endpoint-sg-ingress")["remediation"]
        .as_str()
        .unwrap_or_default();
    assert!(
        remediation.contains(&world.endpoint_sg) && remediation.contains("8443"),
        "the fix names the group and the port: {remediation}"
    );
}

#[test]
fn connection_notifications_and_their_topic_policies_are_read_from_the_provider() {
    // Acceptance required (moto still makes the endpoint available) and no notification:
    // pending connections would wait unseen.
    let (emulator, w) = world(&Spec {
        acceptance_required: true,
        ..Spec::default()
    });
    let report = diagnose(&emulator, &w).report();
    report.expect(&healthy_except(&[("connection-acceptance", "warn")]));
    let c = report.check("connection-acceptance");
    let summary = c["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("no Enabled connection notification for Connect"),
        "{summary}"
    );
    assert!(c["remediation"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!(
            "aws ec2 create-vpc-endpoint-connection-notification --service-id {}",
            w.service_id
        )));
    drop(emulator);

    // A notification to a topic with CreateTopic's owner-only policy (read through
    // sns:GetTopicAttributes from moto's SNS): the endpoint service cannot publish.
    let (emulator, w) = world(&Spec {
        acceptance_required: true,
        notification: Some(TopicPolicy::OwnerOnly),
        ..Spec::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "notifications.json");
    let report = diagnose(&emulator, &w)
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    report.expect(&healthy_except(&[("connection-acceptance", "warn")]));
    let topic = w.notification_topic.clone().expect("a topic");
    let summary = report.check("connection-acceptance")["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        summary.contains(&topic) && summary.contains("does not allow vpce.amazonaws.com"),
        "{summary}"
    );
    let snap = read_json(&path);
    let n = &snap["provider"]["connection_notifications"]["known"][0];
    assert_eq!(n["topic_arn"], topic.as_str());
    assert_eq!(n["state"], "Enabled");
    assert_eq!(
        n["events"],
        serde_json::json!(["Connect", "Accept", "Reject", "Delete"])
    );
    assert!(
        n["topic_policy"]["known"]
            .as_str()
            .is_some_and(|p| p.contains("AWS:SourceOwner")),
        "moto's default topic policy: {n}"
    );
    drop(emulator);

    // The documented policy: vpce.amazonaws.com may publish; the check passes.
    let (emulator, w) = world(&Spec {
        acceptance_required: true,
        notification: Some(TopicPolicy::VpcePublish),
        ..Spec::default()
    });
    let report = diagnose(&emulator, &w).report();
    report.expect(&healthy_except(&[]));
    report.expect_root_cause(None, 0);
}

#[test]
fn consumer_removed_from_allowed_principals_warns_while_its_accepted_endpoint_works() {
    // AWS refuses a new endpoint from an account the allow-list does not cover, but
    // removing a principal leaves accepted connections alone: this endpoint (available,
    // as moto's always are) keeps working, and a recreated one would be refused. The
    // failing cases (pendingAcceptance, rejected) are fixtures.
    let (emulator, world) = world(&Spec {
        principals: vec![Principal::OtherAccount],
        ..Spec::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "principal.json");
    let report = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    report.expect(&healthy_except(&[("allowed-principals", "warn")]));
    report.expect_root_cause(None, 0);
    let summary = report.check("allowed-principals")["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.contains(CONSUMER_ACCOUNT) && summary.contains("not in the allow-list"),
        "{summary}"
    );

    // The consumer no longer sees the service; the collector says why instead of failing.
    let snap = read_json(&path);
    let view = &snap["consumer"]["service"]["absent"];
    assert_eq!(view["kind"], "api_error", "{view}");
    assert_eq!(view["operation"], "ec2:DescribeVpcEndpointServices");
    assert!(view["message"]
        .as_str()
        .unwrap_or_default()
        .contains("InvalidServiceName"));
}

#[test]
fn wildcard_principal_warns_without_failing() {
    let (emulator, world) = world(&Spec {
        principals: vec![Principal::Wildcard],
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[("allowed-principals", "warn")]));
    report.expect_root_cause(None, 0);
    let summary = report.check("allowed-principals")["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.contains("`*`"), "{summary}");
}

#[test]
fn cross_zone_off_with_targets_only_outside_the_endpoint_azs_fails() {
    // IP targets, so their AZ comes from the provider subnet holding them.
    let (emulator, world) = world(&Spec {
        cross_zone: false,
        target_kind: TargetKind::Ip,
        target_azs: vec!["us-east-1c"],
        ..Spec::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "cross-zone.json");
    let report = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    report.expect(&healthy_except(&[("cross-zone", "fail")]));
    report.expect_root_cause(Some("cross-zone"), 1);

    let snap = read_json(&path);
    let lb = &snap["provider"]["load_balancers"]["known"][0];
    assert_eq!(lb["attributes"]["known"]["cross_zone_enabled"], false);
    let target = &snap["provider"]["target_groups"]["known"][0]["targets"]["known"][0];
    assert_eq!(target["id"], "10.20.3.10");
    assert_eq!(target["availability_zone"], "us-east-1c");
}

#[test]
fn endpoint_in_an_az_the_service_does_not_publish_fails_az_alignment() {
    let (emulator, world) = world(&Spec {
        endpoint_azs: vec!["us-east-1a", "us-east-1d"],
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[("az-alignment", "fail")]));
    report.expect_root_cause(Some("az-alignment"), 1);
    let summary = report.check("az-alignment")["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.contains("use1-az4"), "names the AZ ID: {summary}");
}

#[test]
fn vpc_dns_hostnames_off_fails_vpc_dns_attributes() {
    let (emulator, world) = world(&Spec {
        enable_dns_hostnames: false,
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[("vpc-dns-attributes", "fail")]));
    report.expect_root_cause(Some("vpc-dns-attributes"), 1);
    let remediation = report.check("vpc-dns-attributes")["remediation"]
        .as_str()
        .unwrap_or_default();
    assert!(remediation.contains(&world.consumer_vpc), "{remediation}");
}

#[test]
fn stopped_instance_targets_fail_target_health() {
    let (emulator, world) = world(&Spec {
        stop_targets: true,
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[
        ("target-health", "fail"),
        // Both say so instead of piling on: their prerequisite failed.
        ("cross-zone", "skip"),
        ("idle-timeout-resets", "skip"),
    ]));
    report.expect_root_cause(Some("target-health"), 1);
    let check = report.check("target-health").to_string();
    assert!(
        check.contains("Target.InvalidState"),
        "AWS's reason code: {check}"
    );
}

#[test]
fn target_group_without_targets_fails_target_health() {
    let (emulator, world) = world(&Spec {
        target_azs: vec![],
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[
        ("target-health", "fail"),
        ("target-sg-ingress", "skip"),
        ("cross-zone", "skip"),
        ("idle-timeout-resets", "skip"),
    ]));
    report.expect_root_cause(Some("target-health"), 1);
}

#[test]
fn nacl_denying_the_port_fails_subnet_nacl() {
    let (emulator, world) = world(&Spec {
        nacl_denies_port: true,
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world).report();
    report.expect(&healthy_except(&[("subnet-nacl", "fail")]));
    report.expect_root_cause(Some("subnet-nacl"), 1);
    let check = report.check("subnet-nacl").to_string();
    assert!(
        check.contains(&world.endpoint_nacl),
        "names the NACL: {check}"
    );
}

#[test]
fn port_without_a_listener_fails_nlb_listener() {
    // The consumer side admits 9443 too, so the first broken link is the NLB's.
    let (emulator, world) = world(&Spec {
        endpoint_sg_ports: vec![PORT, 9443],
        nacl_ingress: (PORT, 9443),
        ..Spec::default()
    });
    let report = diagnose(&emulator, &world)
        .arg("--port")
        .arg("9443")
        .report();
    report.expect(&healthy_except(&[
        ("nlb-listener", "fail"),
        ("target-health", "skip"),
        ("target-sg-ingress", "skip"),
        ("cross-zone", "skip"),
    ]));
    report.expect_root_cause(Some("nlb-listener"), 1);
    let summary = report.check("nlb-listener")["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.contains("9443"), "{summary}");
}

#[test]
fn without_provider_access_provider_checks_are_unknown() {
    let (emulator, world) = world(&Spec::default());
    let report = diagnose(&emulator, &world)
        .without_provider_access()
        .report();
    // Still evaluable from the consumer account: endpoint-state, connection-acceptance
    // (inferred: only an accepted endpoint is available), private-dns-enabled,
    // vpc-dns-attributes, az-alignment (the consumer's view of the service lists its AZs).
    const PROVIDER_ONLY: [(&str, &str); 9] = [
        ("allowed-principals", "unknown"),
        ("nlb-listener", "unknown"),
        ("nlb-security-group", "unknown"),
        ("target-health", "unknown"),
        ("target-sg-ingress", "unknown"),
        ("private-dns-verification", "unknown"),
        ("cross-zone", "unknown"),
        // The service port comes from the NLB listeners, in the provider account.
        ("endpoint-sg-ingress", "unknown"),
        ("subnet-nacl", "unknown"),
    ];
    report.expect(&healthy_except(&PROVIDER_ONLY));
    report.expect_root_cause(None, 0);
    assert_eq!(report.json["verdict"], "inconclusive");
    assert_eq!(report.json["target"]["consumer_account"], CONSUMER_ACCOUNT);
    assert_eq!(report.json["target"]["provider_account"], PROVIDER_ACCOUNT);
    for id in [
        "allowed-principals",
        "nlb-listener",
        "nlb-security-group",
        "target-health",
        "target-sg-ingress",
        "cross-zone",
    ] {
        let summary = report.check(id)["summary"].as_str().unwrap_or_default();
        assert!(
            summary.contains("needs provider access") && summary.contains(PROVIDER_ACCOUNT),
            "{id} says what would make it evaluable: {summary}"
        );
    }

    // Given the port, the consumer-side network checks need nothing from the provider.
    let with_port = diagnose(&emulator, &world)
        .without_provider_access()
        .arg("--port")
        .arg(PORT.to_string())
        .report();
    with_port.expect(&healthy_except(&PROVIDER_ONLY[..7]));
    with_port.expect_root_cause(None, 0);
}

#[test]
fn saved_snapshot_replays_to_the_identical_report_and_holds_no_credentials() {
    let (emulator, world) = world(&Spec {
        nacl_denies_port: true,
        ..Spec::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "live.json");
    let live = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(&path_arg)
        .report();
    assert_eq!(live.outcome.code, Some(1), "{}", live.summary());

    drop(emulator); // the replay needs no AWS at all
    let mut replay_cmd = assert_cmd::Command::cargo_bin("pl-doctor").unwrap();
    let replay = replay_cmd
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .args(["--from-snapshot", &path_arg, "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(1));
    let mut replayed: Value = serde_json::from_slice(&replay.stdout).expect("replay report");
    let mut collected = live.json.clone();
    for report in [&mut replayed, &mut collected] {
        // The only fields that describe the run rather than the endpoint.
        report["started_at"] = Value::Null;
        report["duration_ms"] = Value::Null;
    }
    assert_eq!(replayed, collected);

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        // moto's session tokens start with this; its temporary key ids with ASIA.
        "FQoGZXIvYXdzEBYaD",
    ] {
        assert!(!text.contains(secret), "snapshot holds {secret:?}");
    }
    assert!(
        !text.match_indices("ASIA").any(|(i, _)| text[i + 4..]
            .chars()
            .take(16)
            .all(|c| c.is_ascii_alphanumeric())),
        "snapshot holds a temporary access key id"
    );
    let lower = text.to_ascii_lowercase();
    for field in ["session_token", "secret_access_key", "access_key_id"] {
        assert!(!lower.contains(field), "snapshot has a {field} field");
    }
}

#[test]
fn endpoint_not_found_exits_3_naming_endpoint_region_and_account() {
    let (emulator, _world) = world(&Spec::default());
    let missing = "vpce-0123456789abcdef0";
    let out = Invocation::new(missing, &emulator.url()).output();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "no report: {}", out.stdout);
    let first = out.stderr.lines().next().unwrap_or_default();
    for needle in [missing, REGION, CONSUMER_ACCOUNT, "not found"] {
        assert!(first.contains(needle), "{first:?} lacks {needle}");
    }
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
}

#[test]
fn unreachable_api_exits_3_naming_endpoint_and_region() {
    // A loopback port nothing listens on: connections are refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let endpoint = "vpce-0a1b2c3d4e5f6a7b8";
    let out = Invocation::new(endpoint, &url).output();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "no report: {}", out.stdout);
    let first = out.stderr.lines().next().unwrap_or_default();
    for needle in [endpoint, REGION, "unreachable"] {
        assert!(first.contains(needle), "{first:?} lacks {needle}");
    }
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
}

#[test]
fn dns_answering_with_the_endpoint_enis_passes_and_a_wrong_answer_is_the_root_cause() {
    let (emulator, world) = world(&Spec::default());
    let ips = world.eni_ips();
    assert_eq!(
        ips.len(),
        2,
        "one ENI per endpoint AZ: {:?}",
        world.endpoint_enis
    );
    // What the VPC resolver answers when private DNS works: the service's private name
    // and the regional name with exactly the ENI addresses, each zonal name with its AZ's.
    let right = |private_name_answer: &[&str]| world.aws_zone(private_name_answer);

    let dns = LoopbackDns::start(right(&ips));
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "dns.json");
    let report = diagnose(&emulator, &world)
        .resolver(dns.addr())
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    report.expect(&healthy_except(&[("dns-resolution", "pass")]));
    report.expect_root_cause(None, 0);
    let check = report.check("dns-resolution");
    assert_eq!(check["evidence"]["resolver"], dns.addr().to_string());
    let lookups = check["evidence"]["lookups"].as_array().expect("lookups");
    let mut asked: Vec<&str> = lookups
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    asked.sort_unstable();
    let mut expected: Vec<&str> = std::iter::once(PRIVATE_DNS_NAME)
        .chain(world.endpoint_dns_names.iter().map(String::as_str))
        .collect();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(asked, expected, "every name of the endpoint is asked once");
    assert!(lookups.iter().all(|l| l["status"] == "pass"), "{lookups:?}");

    // The answers are facts in the snapshot, addresses as the server gave them.
    let snap = read_json(&path);
    let recorded = snap["dns"]["known"]["lookups"]
        .as_array()
        .expect("DNS facts");
    let private = recorded
        .iter()
        .find(|l| l["name"] == PRIVATE_DNS_NAME)
        .expect("the private DNS name was looked up");
    assert_eq!(private["role"], "private_dns_name");
    assert_eq!(private["outcome"]["kind"], "answer");
    let mut answered: Vec<&str> = private["outcome"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    answered.sort_unstable();
    let mut eni_ips = ips.clone();
    eni_ips.sort_unstable();
    assert_eq!(answered, eni_ips);
    drop(dns);

    // A public answer for the private name while the configuration checks pass and the
    // regional name resolves to the ENIs, asked of a resolver that is not the VPC's, off
    // EC2 (no instance metadata): what answers is not the VPC's DNS, so nothing is blamed
    // on the configuration. The same answers judged from inside the VPC fail:
    // tests/dns_emulator.rs (vantage from a loopback metadata service).
    let dns = LoopbackDns::start(right(&["203.0.113.10"]));
    let report = diagnose(&emulator, &world).resolver(dns.addr()).report();
    report.expect(&healthy_except(&[("dns-resolution", "unknown")]));
    report.expect_root_cause(None, 0);
    let check = report.check("dns-resolution");
    assert_eq!(check["evidence"]["vantage"]["where"], "outside_vpc");
    let summary = check["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("not on EC2"), "{summary}");

    // A private address that is no ENI of this endpoint fails from anywhere (the regional
    // and zonal readings do not make it an outside view).
    let dns = LoopbackDns::start(right(&["10.20.9.9"]));
    let report = diagnose(&emulator, &world).resolver(dns.addr()).report();
    report.expect(&healthy_except(&[("dns-resolution", "fail")]));
    report.expect_root_cause(Some("dns-resolution"), 1);
    let check = report.check("dns-resolution");
    let summary = check["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(PRIVATE_DNS_NAME)
            && summary.contains("10.20.9.9")
            && summary.contains("private DNS is not effective"),
        "{summary}"
    );
    let remediation = check["remediation"].as_str().unwrap_or_default();
    assert!(
        remediation.contains(&format!("dig +short {PRIVATE_DNS_NAME}")),
        "how to compare with the VPC resolver: {remediation}"
    );
}

#[test]
fn flow_log_to_a_log_group_runs_the_reject_query_and_its_outcome_reaches_the_report() {
    const GROUP: &str = "/vpc/flow-logs/payments-endpoint";
    let (emulator, world) = world(&Spec {
        flow_log_group: Some(GROUP),
        ..Spec::default()
    });
    let enis = world.eni_ids();
    assert_eq!(world.flow_log_ids.len(), enis.len(), "one flow log per ENI");

    // An empty log group: the query completes with no rows.
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "flow-empty.json");
    let report = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    report.expect(&healthy_except(&[("flow-log-rejects", "pass")]));
    report.expect_root_cause(None, 0);
    let check = report.check("flow-log-rejects");
    let evidence = &check["evidence"];
    assert_eq!(evidence["log_groups"], serde_json::json!([GROUP]));
    let query = evidence["query"].as_str().expect("the query text");
    for eni in &enis {
        assert!(query.contains(&format!("\"{eni}\"")), "{query} lacks {eni}");
    }
    assert!(query.contains("action = \"REJECT\""), "{query}");
    let listed = evidence["flow_logs"].as_array().expect("flow logs listed");
    assert_eq!(listed.len(), enis.len());
    for f in listed {
        assert_eq!(f["covers_endpoint"], true, "{f}");
        assert_eq!(f["destination_type"], "cloud-watch-logs");
        assert!(
            world.flow_log_ids.iter().any(|id| f["id"] == id.as_str()),
            "{f}"
        );
    }
    let snap = read_json(&path);
    let recorded = snap["observability"]["flow_logs"]["known"]
        .as_array()
        .expect("flow logs collected");
    for f in recorded {
        assert_eq!(f["log_group_name"], GROUP);
        assert_eq!(f["traffic_type"], "ALL");
        assert_eq!(f["status"], "ACTIVE");
        assert!(enis.iter().any(|e| f["resource_id"] == *e), "{f}");
    }
    let rejects = &snap["observability"]["flow_log_rejects"]["known"];
    assert_eq!(rejects["rows"], serde_json::json!([]), "{rejects}");

    // REJECT records on the service port, in the default format, inside the window.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (start, end) = (now_ms / 1000 - 300, now_ms / 1000 - 240);
    let lines: Vec<String> = world
        .endpoint_enis
        .iter()
        .map(|e| {
            format!(
                "2 {CONSUMER_ACCOUNT} {} 10.20.9.9 {} 50000 {PORT} 6 1 40 {start} {end} REJECT OK",
                e.id, e.private_ip
            )
        })
        .collect();
    runtime().block_on(support::world::put_flow_log_records(
        &emulator.url(),
        GROUP,
        &lines,
        now_ms - 240_000,
    ));
    let (path, path_arg) = saved_snapshot(&dir, "flow-rejects.json");
    let report = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(path_arg)
        .report();
    // moto 5.2.5's Insights ignores filter/stats/parse and returns each event's @ptr
    // and @timestamp: no row carries srcAddr, so each is skipped and counted (not
    // guessed), the check is unknown saying none could be read, nothing panics or passes.
    report.expect(&healthy_except(&[("flow-log-rejects", "unknown")]));
    report.expect_root_cause(None, 0);
    let check = report.check("flow-log-rejects");
    let summary = check["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(GROUP)
            && summary.contains(&format!(
                "none of its {} result row(s) could be read",
                lines.len()
            )),
        "{summary}"
    );
    let details = check["details"].to_string();
    assert!(details.contains("srcAddr"), "{details}");
    let snap = read_json(&path);
    let rejects = &snap["observability"]["flow_log_rejects"]["known"];
    assert_eq!(rejects["rows_skipped"], lines.len(), "{rejects}");
    assert_eq!(rejects["rows"], serde_json::json!([]), "{rejects}");

    // Both runs asked Logs Insights once each, over the flow logs' group, for the ENIs.
    runtime().block_on(async {
        use support::world::{consumer_credentials, sdk_config};
        let logs = aws_sdk_cloudwatchlogs::Client::new(
            &sdk_config(&emulator.url(), consumer_credentials()).await,
        );
        let queries = logs
            .describe_queries()
            .log_group_name(GROUP)
            .send()
            .await
            .expect("DescribeQueries");
        let queries = queries.queries();
        assert_eq!(queries.len(), 2, "{queries:?}");
        for q in queries {
            let text = q.query_string().unwrap_or_default();
            assert_eq!(text, query, "the same query both times");
        }
    });
}

/// Cross-region PrivateLink as moto serves it: SupportedRegions on the service
/// configuration (each with its ServiceState) reach the snapshot, and the same-region
/// endpoint passes service-region whatever the other supported Regions are.
#[test]
fn supported_regions_of_the_service_reach_the_snapshot_with_their_state() {
    let (emulator, world) = world(&Spec::default());
    let url = emulator.url();
    runtime().block_on(async {
        let conf = sdk_config(&url, provider_credentials(&url).await).await;
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        ec2.modify_vpc_endpoint_service_configuration()
            .service_id(&world.service_id)
            .add_supported_regions("eu-west-1")
            .send()
            .await
            .expect("ModifyVpcEndpointServiceConfiguration AddSupportedRegions");
    });
    let dir = tempfile::tempdir().unwrap();
    let (path, path_arg) = saved_snapshot(&dir, "regions.json");
    let run = diagnose(&emulator, &world)
        .arg("--save-snapshot")
        .arg(&path_arg)
        .report();
    run.expect(&healthy_except(&[]));
    let snap = read_json(&path);
    let regions = &snap["provider"]["service_configuration"]["known"]["supported_regions"];
    assert!(
        regions
            .as_array()
            .expect("supported_regions")
            .contains(&serde_json::json!({"region": "eu-west-1", "service_state": "Available"})),
        "{regions}"
    );
    assert_eq!(
        snap["provider"]["service_configuration"]["known"]["supported_ip_address_types"],
        serde_json::json!(["ipv4"])
    );
    // Same-region endpoint: the Region list is not read (no ec2:DescribeRegions call).
    assert!(
        snap["consumer"].get("regions").is_none(),
        "{}",
        snap["consumer"]
    );
}
