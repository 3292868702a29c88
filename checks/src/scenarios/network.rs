//! Filtering incidents: security groups and network ACLs on the consumer side, the
//! NLB's security group and the targets' groups on the provider side.
//!
//! Knock-on effects follow AWS: security groups and network ACLs drop silently, so a
//! blocked path makes the TCP probe time out (not refuse); consumer-side drops at the
//! endpoint ENIs appear as REJECT rows in the endpoint's flow logs; a drop at the
//! client's own security group never reaches the ENIs; a drop by the NLB's security
//! group is invisible to the NLB's metrics; targets that do not admit the NLB fail its
//! health checks too.

use super::base::{self, *};
use super::Scenario;
use crate::check::Status::*;
use crate::fact::Fact;
use crate::model::*;

fn consumer_sg<'a>(s: &'a mut Snapshot, id: &str) -> &'a mut SecurityGroup {
    let Fact::Known(gs) = &mut s.consumer.security_groups else {
        unreachable!()
    };
    gs.iter_mut().find(|g| g.id == id).expect("consumer group")
}

fn provider_sg<'a>(s: &'a mut Snapshot, id: &str) -> &'a mut SecurityGroup {
    let Fact::Known(gs) = &mut s.provider.security_groups else {
        unreachable!()
    };
    gs.iter_mut().find(|g| g.id == id).expect("provider group")
}

/// Every probe attempt times out: the SYN is dropped silently somewhere on the path.
fn probe_times_out(s: &mut Snapshot) {
    let Fact::Known(p) = &mut s.probe else {
        unreachable!()
    };
    for a in &mut p.attempts {
        a.outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    }
}

/// The client's rejected SYNs to the service port, as the flow-log query reports them per ENI.
fn client_rejected_at_enis(s: &mut Snapshot, rejects: [u64; 2]) {
    let Fact::Known(r) = &mut s.observability.flow_log_rejects else {
        unreachable!()
    };
    r.rows = vec![
        RejectRow {
            src_addr: CLIENT_IP.into(),
            dst_port: PORT,
            interface_id: Some("eni-0a1a2a3a4a5a6a7a8".into()),
            rejects: rejects[0],
        },
        RejectRow {
            src_addr: CLIENT_IP.into(),
            dst_port: PORT,
            interface_id: Some("eni-0b1b2b3b4b5b6b7b8".into()),
            rejects: rejects[1],
        },
    ];
}

/// Nothing gets through to the service: the NLB sees no flows or resets, and the
/// endpoint no connections or RSTs.
fn no_traffic_reaches_the_service(s: &mut Snapshot) {
    for metric in [
        "NewFlowCount",
        "ActiveFlowCount",
        "TCP_Target_Reset_Count",
        "TCP_Client_Reset_Count",
    ] {
        set_metric(s, "AWS/NetworkELB", metric, &[0.0]);
    }
    for metric in ["ActiveConnections", "RstPacketsReceived"] {
        set_metric(s, "AWS/PrivateLinkEndpoints", metric, &[0.0]);
    }
}

fn set_metric(s: &mut Snapshot, namespace: &str, metric: &str, values: &[f64]) {
    let Fact::Known(ms) = &mut s.observability.metrics else {
        unreachable!()
    };
    let m = ms
        .iter_mut()
        .find(|m| m.namespace == namespace && m.metric_name == metric)
        .expect("metric");
    for (p, v) in m.points.iter_mut().zip(values.iter().cycle()) {
        p.1 = *v;
    }
}

fn endpoint_sg_missing_port() -> Scenario {
    let mut s = base::healthy();
    // The team opened the usual 443 and forgot the service listens on 8443.
    consumer_sg(&mut s, ENDPOINT_SG).ingress = vec![tcp(
        443,
        SgPeer::Cidr(net("10.0.0.0/16")),
        "Clients to PrivateLink endpoint",
    )];
    probe_times_out(&mut s);
    client_rejected_at_enis(&mut s, [212, 198]);
    no_traffic_reaches_the_service(&mut s);
    Scenario::new(
        "endpoint-sg-missing-port",
        "The endpoint's security group allows 443 from the VPC but the service listens on 8443: connections hang (the seed's most common stumble).",
        s,
        Some("endpoint-sg-ingress"),
        &[
            ("endpoint-sg-ingress", Fail),
            // reconcile: REJECT rows on the endpoint ENIs; fail or warn is flow-log-rejects' call.
            ("flow-log-rejects", Fail),
            ("connect-probe", Fail),
        ],
    )
}

fn client_sg_egress_missing() -> Scenario {
    let mut s = base::healthy();
    // A locked-down client group: HTTPS out only.
    consumer_sg(&mut s, CLIENT_SG).egress =
        vec![tcp(443, SgPeer::Cidr(net("0.0.0.0/0")), "HTTPS out")];
    // reconcile: assumes pl-doctor ran on the client instance, so its probe is dropped too.
    probe_times_out(&mut s);
    // The SYN never leaves the client: no REJECT at the endpoint ENIs.
    Scenario::new(
        "client-sg-egress-missing",
        "The client instance's security group only allows HTTPS (443) out, so its connections to the endpoint on 8443 never leave the instance.",
        s,
        Some("client-sg-egress"),
        &[("client-sg-egress", Fail), ("connect-probe", Fail)],
    )
}

fn nacl_deny() -> Scenario {
    let mut s = base::healthy();
    let endpoint_acl = "acl-0e9d8c7b6a5f4e3d2";
    let Fact::Known(acls) = &mut s.consumer.network_acls else {
        unreachable!()
    };
    // The endpoint subnets moved to a custom ACL whose rule 90 (meant for an old
    // workload) denies 8443 from the app subnet, ahead of the allow-all at 100.
    acls[0].subnet_ids = vec!["subnet-0a1b2c3d4e5f60003".into()];
    let rule =
        |n: u16, egress: bool, proto: &str, action: &str, cidr: &str, ports: Option<(u16, u16)>| {
            NaclEntry {
                rule_number: n,
                egress,
                protocol: proto.into(),
                rule_action: action.into(),
                cidr: net(cidr),
                port_range: ports.map(|(from, to)| PortRange { from, to }),
            }
        };
    acls.push(NetworkAcl {
        id: endpoint_acl.into(),
        vpc_id: CONSUMER_VPC.into(),
        is_default: false,
        subnet_ids: vec![
            "subnet-0a1b2c3d4e5f60001".into(),
            "subnet-0a1b2c3d4e5f60002".into(),
        ],
        entries: vec![
            rule(90, false, "6", "deny", "10.0.3.0/24", Some((8443, 8443))),
            rule(100, false, "-1", "allow", "0.0.0.0/0", None),
            rule(100, true, "-1", "allow", "0.0.0.0/0", None),
        ],
    });
    probe_times_out(&mut s);
    client_rejected_at_enis(&mut s, [187, 203]);
    no_traffic_reaches_the_service(&mut s);
    Scenario::new(
        "nacl-deny",
        "The endpoint subnets' network ACL has rule 90 denying TCP 8443 from the client subnet 10.0.3.0/24, numbered before the allow-all: packets are dropped silently.",
        s,
        Some("subnet-nacl"),
        &[
            ("subnet-nacl", Fail),
            // reconcile: as in endpoint-sg-missing-port.
            ("flow-log-rejects", Fail),
            ("connect-probe", Fail),
        ],
    )
}

fn nlb_sg_drops_privatelink() -> Scenario {
    let mut s = base::healthy();
    // Written on the belief that PrivateLink traffic arrives from inside the provider VPC;
    // with enforcement on, the NLB sees the consumer client's own address (10.0.3.10).
    provider_sg(&mut s, NLB_SG).ingress = vec![tcp(
        PORT,
        SgPeer::Cidr(net("10.1.0.0/16")),
        "internal callers",
    )];
    probe_times_out(&mut s);
    // Dropped by the NLB's group: invisible to AWS/NetworkELB, accepted at the endpoint ENIs.
    no_traffic_reaches_the_service(&mut s);
    Scenario::new(
        "nlb-sg-drops-privatelink",
        "The NLB's security group enforces its inbound rules on PrivateLink traffic (the default) and only admits the provider VPC on 8443, so every consumer connection is dropped.",
        s,
        Some("nlb-security-group"),
        &[("nlb-security-group", Fail), ("connect-probe", Fail)],
    )
}

fn target_sg_blocks_nlb() -> Scenario {
    let mut s = base::healthy();
    // The targets were set up for an ALB and a bastion; the NLB was added later.
    provider_sg(&mut s, TARGET_SG).ingress = vec![
        tcp(
            PORT,
            SgPeer::SecurityGroup("sg-0c1c2c3c4c5c6c7c8".into()),
            "from the payments ALB",
        ),
        tcp(22, SgPeer::Cidr(net("10.1.9.0/24")), "bastion"),
    ];
    let Fact::Known(tgs) = &mut s.provider.target_groups else {
        unreachable!()
    };
    // Health checks come from the NLB too, so the targets go unhealthy.
    tgs[0].targets = Fact::Known(vec![
        target(
            "10.1.1.100",
            "us-east-1a",
            "unhealthy",
            Some("Target.FailedHealthChecks"),
        ),
        target(
            "10.1.2.100",
            "us-east-1b",
            "unhealthy",
            Some("Target.FailedHealthChecks"),
        ),
    ]);
    probe_times_out(&mut s);
    set_metric(&mut s, "AWS/NetworkELB", "HealthyHostCount", &[0.0]);
    set_metric(&mut s, "AWS/NetworkELB", "UnHealthyHostCount", &[2.0]);
    set_metric(&mut s, "AWS/NetworkELB", "ActiveFlowCount", &[0.0]);
    set_metric(&mut s, "AWS/NetworkELB", "TCP_Target_Reset_Count", &[0.0]);
    set_metric(&mut s, "AWS/NetworkELB", "TCP_Client_Reset_Count", &[0.0]);
    set_metric(
        &mut s,
        "AWS/PrivateLinkEndpoints",
        "ActiveConnections",
        &[0.0],
    );
    set_metric(
        &mut s,
        "AWS/PrivateLinkEndpoints",
        "RstPacketsReceived",
        &[0.0],
    );
    Scenario::new(
        "target-sg-blocks-nlb",
        "The targets' security group admits only the ALB and a bastion, not the NLB: health checks and PrivateLink traffic from the NLB's addresses are dropped.",
        s,
        // target-health (step 9) fails first in runbook order; target-sg-ingress (step 10)
        // names the cause among the other findings.
        Some("target-health"),
        &[
            ("target-health", Fail),
            ("target-sg-ingress", Fail),
            // No AZ has a healthy target: cross-zone has nothing to add to target-health.
            ("cross-zone", Skip),
            ("idle-timeout-resets", Skip),
            ("connect-probe", Fail),
        ],
    )
}

/// The missing 8443 rule of `endpoint-sg-missing-port`, with the CloudTrail event behind
/// it: a deploy role's `ci` session revoked it 42 minutes before the collection. Every
/// resource the failing checks name was looked up (LookupEvents, write events only);
/// only the group changed. The statuses are exactly those without the lookups.
fn endpoint_sg_rule_revoked() -> Scenario {
    use crate::changes::{ChangeFacts, ResourceLookup, Side, TrailEvent};
    let mut s = endpoint_sg_missing_port().snapshot;
    let results = crate::report::evaluate(&s, &Default::default());
    let record = serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROA2EXAMPLEDEPLOY:ci",
            "arn": format!("arn:aws:sts::{CONSUMER_ACCOUNT}:assumed-role/deploy/ci"),
            "accountId": CONSUMER_ACCOUNT,
            "sessionContext": {"sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::{CONSUMER_ACCOUNT}:role/deploy"),
                "accountId": CONSUMER_ACCOUNT,
                "userName": "deploy"
            }}
        },
        "eventTime": "2026-11-24T09:18:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RevokeSecurityGroupIngress",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "terraform/1.9.5 aws-sdk-go-v2/1.30.0",
        "requestParameters": {
            "groupId": ENDPOINT_SG,
            "ipPermissions": {"items": [{
                "ipProtocol": "tcp", "fromPort": PORT, "toPort": PORT,
                "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]},
                "ipv6Ranges": {}, "prefixListIds": {}
            }]}
        },
        "responseElements": {"requestId": "5b7ad3a1-6f1e-4f5e-9d3b-0c1f2a3b4c5d", "_return": true},
        "requestID": "5b7ad3a1-6f1e-4f5e-9d3b-0c1f2a3b4c5d",
        "eventID": "0b3e5c1a-7d2f-4e8a-9b6c-1d2e3f4a5b6c",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": CONSUMER_ACCOUNT,
        "eventCategory": "Management"
    });
    let lookups = crate::changes::wanted(&s, &results)
        .into_iter()
        .map(|(resource, side)| ResourceLookup {
            events: Fact::Known(if resource == ENDPOINT_SG {
                vec![TrailEvent {
                    event_id: "0b3e5c1a-7d2f-4e8a-9b6c-1d2e3f4a5b6c".into(),
                    event_name: "RevokeSecurityGroupIngress".into(),
                    event_time: "2026-11-24T09:18:00Z".into(),
                    event_source: Some("ec2.amazonaws.com".into()),
                    username: Some("ci".into()),
                    read_only: Some("false".into()),
                    resources: vec![ENDPOINT_SG.into()],
                    cloud_trail_event: record.clone(),
                }]
            } else {
                vec![]
            }),
            account: Some(match side {
                Side::Consumer => CONSUMER_ACCOUNT.into(),
                Side::Provider => PROVIDER_ACCOUNT.into(),
            }),
            region: REGION.into(),
            resource,
            side,
        })
        .collect();
    s.changes = Some(ChangeFacts {
        since: "2026-11-23T10:00:00Z".into(),
        since_seconds: 86400,
        lookups,
    });
    Scenario::new(
        "endpoint-sg-rule-revoked",
        "endpoint-sg-missing-port with its CloudTrail: the 8443 rule was revoked 42 minutes before the collection (RevokeSecurityGroupIngress by the deploy role's ci session); the report names the change under the failing check and changes no status.",
        s,
        Some("endpoint-sg-ingress"),
        &[
            ("endpoint-sg-ingress", Fail),
            ("flow-log-rejects", Fail),
            ("connect-probe", Fail),
        ],
    )
}

pub fn all() -> Vec<Scenario> {
    vec![
        endpoint_sg_missing_port(),
        endpoint_sg_rule_revoked(),
        client_sg_egress_missing(),
        nacl_deny(),
        nlb_sg_drops_privatelink(),
        target_sg_blocks_nlb(),
    ]
}
