//! Event → words for every event name the issue lists, from records shaped as CloudTrail
//! writes them (the CloudTrail record contents reference; EC2's older actions in
//! lowerCamel with `{"items": [...]}` lists, its newer ones wrapped in `<Action>Request`
//! with `{"content", "tag"}` elements; ELBv2, Route 53 and Resolver in lowerCamel).

use super::*;
use crate::check::{CheckResult, Status};
use serde_json::json;

const SG: &str = "sg-0e1d2c3b4a5f60718";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/payments/0123456789abcdef";
const NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/payments-nlb/0123456789abcdef";
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:listener/net/payments-nlb/0123456789abcdef/fedcba9876543210";

/// A management event record as CloudTrail writes it, by an assumed role.
fn record(source: &str, name: &str, params: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEID:ci",
            "arn": "arn:aws:sts::222222222222:assumed-role/deploy/ci",
            "accountId": "222222222222",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID",
                    "arn": "arn:aws:iam::222222222222:role/deploy",
                    "accountId": "222222222222",
                    "userName": "deploy"
                },
                "attributes": {"creationDate": "2026-12-02T09:00:00Z", "mfaAuthenticated": "false"}
            }
        },
        "eventTime": "2026-12-02T09:31:05Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": params,
        "responseElements": {"_return": true},
        "requestID": "5b7ad3a1-0000-4000-8000-000000000000",
        "eventID": "e1a2b3c4-0000-4000-8000-000000000000",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "222222222222",
        "eventCategory": "Management"
    })
}

fn ec2(name: &str, params: Value) -> String {
    describe(name, &record("ec2.amazonaws.com", name, params), "r")
}

fn elb(name: &str, params: Value) -> String {
    describe(
        name,
        &record("elasticloadbalancing.amazonaws.com", name, params),
        "r",
    )
}

#[test]
fn security_group_rules_name_the_exact_rule() {
    let revoke = ec2(
        "RevokeSecurityGroupIngress",
        json!({
            "groupId": SG,
            "ipPermissions": {"items": [{
                "ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443,
                "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]},
                "ipv6Ranges": {}, "prefixListIds": {}
            }]}
        }),
    );
    assert_eq!(revoke, format!("{SG} lost TCP 8443 from 10.0.0.0/16"));

    let authorize = ec2(
        "AuthorizeSecurityGroupIngress",
        json!({
            "groupId": SG,
            "ipPermissions": {"items": [
                {"ipProtocol": "tcp", "fromPort": 1024, "toPort": 65535,
                 "groups": {"items": [{"groupId": "sg-0123456789abcdef0"}]}},
                {"ipProtocol": "-1", "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}
            ]}
        }),
    );
    assert_eq!(
        authorize,
        format!("{SG} gained TCP 1024-65535 from sg-0123456789abcdef0; all traffic from ::/0")
    );

    let egress = ec2(
        "AuthorizeSecurityGroupEgress",
        json!({"groupId": SG, "ipPermissions": {"items": [{
            "ipProtocol": "6", "fromPort": 443, "toPort": 443,
            "prefixListIds": {"items": [{"prefixListId": "pl-0123456789abcdef0"}]}
        }]}}),
    );
    assert_eq!(
        egress,
        format!("{SG} gained TCP 443 to pl-0123456789abcdef0")
    );

    // Revoked by rule id (the newer form).
    let by_id = ec2(
        "RevokeSecurityGroupEgress",
        json!({"groupId": SG, "securityGroupRuleIds": {"items": [
            {"securityGroupRuleId": "sgr-0123456789abcdef0"}
        ]}}),
    );
    assert_eq!(
        by_id,
        format!("{SG} lost egress rule sgr-0123456789abcdef0")
    );

    let modify = ec2(
        "ModifySecurityGroupRules",
        json!({"ModifySecurityGroupRulesRequest": {
            "GroupId": SG,
            "SecurityGroupRule": {"tag": 1, "SecurityGroupRuleId": "sgr-0123456789abcdef0",
                "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                      "CidrIpv4": "10.0.0.0/8", "Description": "vpc"}}
        }}),
    );
    assert_eq!(
        modify,
        format!("{SG} rule sgr-0123456789abcdef0 now TCP 443 from 10.0.0.0/8")
    );
}

#[test]
fn nacl_entries_say_rule_number_direction_action_and_ports() {
    let create = ec2(
        "CreateNetworkAclEntry",
        json!({"networkAclId": "acl-0123456789abcdef0", "ruleNumber": 90, "egress": false,
               "ruleAction": "deny", "protocol": "6",
               "portRange": {"from": 8443, "to": 8443}, "cidrBlock": "0.0.0.0/0"}),
    );
    assert_eq!(
        create,
        "acl-0123456789abcdef0 gained inbound rule 90: deny TCP 8443 from 0.0.0.0/0"
    );
    let replace = ec2(
        "ReplaceNetworkAclEntry",
        json!({"networkAclId": "acl-0123456789abcdef0", "ruleNumber": 120, "egress": true,
               "ruleAction": "allow", "protocol": "6",
               "portRange": {"from": 1024, "to": 65535}, "cidrBlock": "10.0.0.0/16"}),
    );
    assert_eq!(
        replace,
        "acl-0123456789abcdef0 outbound rule 120 replaced: now allow TCP 1024-65535 to 10.0.0.0/16"
    );
    let delete = ec2(
        "DeleteNetworkAclEntry",
        json!({"networkAclId": "acl-0123456789abcdef0", "ruleNumber": 100, "egress": false}),
    );
    assert_eq!(delete, "acl-0123456789abcdef0 lost inbound rule 100");
}

#[test]
fn endpoint_and_service_changes() {
    let modify = ec2(
        "ModifyVpcEndpoint",
        json!({"ModifyVpcEndpointRequest": {
            "VpcEndpointId": "vpce-0a1b2c3d4e5f6a7b8",
            "RemoveSecurityGroupId": {"tag": 1, "content": SG},
            "AddSecurityGroupId": [{"tag": 1, "content": "sg-0aaaaaaaaaaaaaaaa"},
                                   {"tag": 2, "content": "sg-0bbbbbbbbbbbbbbbb"}],
            "PrivateDnsEnabled": false
        }}),
    );
    assert_eq!(
        modify,
        format!("vpce-0a1b2c3d4e5f6a7b8: added security group sg-0aaaaaaaaaaaaaaaa, sg-0bbbbbbbbbbbbbbbb, removed security group {SG}, private DNS off")
    );

    let accept = ec2(
        "AcceptVpcEndpointConnections",
        json!({"AcceptVpcEndpointConnectionsRequest": {
            "ServiceId": "vpce-svc-0123456789abcdef0",
            "VpcEndpointId": {"tag": 1, "content": "vpce-0a1b2c3d4e5f6a7b8"}
        }}),
    );
    assert_eq!(
        accept,
        "vpce-svc-0123456789abcdef0 accepted connection from vpce-0a1b2c3d4e5f6a7b8"
    );
    let reject = ec2(
        "RejectVpcEndpointConnections",
        json!({"RejectVpcEndpointConnectionsRequest": {
            "ServiceId": "vpce-svc-0123456789abcdef0",
            "VpcEndpointId": {"tag": 1, "content": "vpce-0a1b2c3d4e5f6a7b8"}
        }}),
    );
    assert!(
        reject.contains("rejected connection from vpce-0a1b2c3d4e5f6a7b8"),
        "{reject}"
    );

    let perms = ec2(
        "ModifyVpcEndpointServicePermissions",
        json!({"ModifyVpcEndpointServicePermissionsRequest": {
            "ServiceId": "vpce-svc-0123456789abcdef0",
            "RemoveAllowedPrincipals": {"tag": 1, "content": "arn:aws:iam::123456789012:root"}
        }}),
    );
    assert_eq!(
        perms,
        "vpce-svc-0123456789abcdef0 no longer allows arn:aws:iam::123456789012:root"
    );

    let config = ec2(
        "ModifyVpcEndpointServiceConfiguration",
        json!({"ModifyVpcEndpointServiceConfigurationRequest": {
            "ServiceId": "vpce-svc-0123456789abcdef0",
            "AcceptanceRequired": true,
            "PrivateDnsName": "payments.example.com",
            "RemoveNetworkLoadBalancerArn": {"tag": 1, "content": NLB}
        }}),
    );
    assert_eq!(
        config,
        "vpce-svc-0123456789abcdef0: acceptance required on, private DNS name set to payments.example.com, removed NLB payments-nlb"
    );

    let verify = ec2(
        "StartVpcEndpointServicePrivateDnsVerification",
        json!({"StartVpcEndpointServicePrivateDnsVerificationRequest": {
            "ServiceId": "vpce-svc-0123456789abcdef0"
        }}),
    );
    assert_eq!(
        verify,
        "vpce-svc-0123456789abcdef0: private DNS name verification started"
    );

    let dhcp = ec2(
        "AssociateDhcpOptions",
        json!({"dhcpOptionsId": "dopt-0123456789abcdef0", "vpcId": "vpc-0123456789abcdef0"}),
    );
    assert_eq!(
        dhcp,
        "vpc-0123456789abcdef0 now uses DHCP option set dopt-0123456789abcdef0"
    );
}

#[test]
fn load_balancer_changes() {
    let dereg = elb(
        "DeregisterTargets",
        json!({"targetGroupArn": TG, "targets": [{"id": "i-0123456789abcdef0", "port": 8443}]}),
    );
    assert_eq!(
        dereg,
        "target group payments lost target i-0123456789abcdef0:8443"
    );
    let reg = elb(
        "RegisterTargets",
        json!({"targetGroupArn": TG, "targets": [{"id": "10.20.1.10"}]}),
    );
    assert_eq!(reg, "target group payments gained target 10.20.1.10");

    let lb_attrs = elb(
        "ModifyLoadBalancerAttributes",
        json!({"loadBalancerArn": NLB, "attributes": [
            {"key": "load_balancing.cross_zone.enabled", "value": "false"}
        ]}),
    );
    assert_eq!(
        lb_attrs,
        "NLB payments-nlb: set load_balancing.cross_zone.enabled=false"
    );
    let tg_attrs = elb(
        "ModifyTargetGroupAttributes",
        json!({"targetGroupArn": TG, "attributes": [
            {"key": "proxy_protocol_v2.enabled", "value": "true"}
        ]}),
    );
    assert_eq!(
        tg_attrs,
        "target group payments: set proxy_protocol_v2.enabled=true"
    );
    let l_attrs = elb(
        "ModifyListenerAttributes",
        json!({"listenerArn": LISTENER, "attributes": [
            {"key": "tcp.idle_timeout.seconds", "value": "60"}
        ]}),
    );
    assert_eq!(
        l_attrs,
        "listener fedcba9876543210 of payments-nlb: set tcp.idle_timeout.seconds=60"
    );
    let listener = elb(
        "ModifyListener",
        json!({"listenerArn": LISTENER, "port": 443, "protocol": "TLS",
               "defaultActions": [{"type": "forward", "targetGroupArn": TG}]}),
    );
    assert_eq!(
        listener,
        "listener fedcba9876543210 of payments-nlb now TLS, port 443, forwarding to target group payments"
    );
    let tg = elb(
        "ModifyTargetGroup",
        json!({"targetGroupArn": TG, "healthCheckPort": "9000", "healthCheckProtocol": "HTTP"}),
    );
    assert_eq!(
        tg,
        "target group payments: health check protocol HTTP, health check port 9000"
    );
    let sgs = elb(
        "SetSecurityGroups",
        json!({"loadBalancerArn": NLB, "securityGroups": [SG],
               "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic": "on"}),
    );
    assert_eq!(
        sgs,
        format!(
            "NLB payments-nlb security groups set to {SG}; enforced on PrivateLink traffic: on"
        )
    );
}

#[test]
fn dns_changes() {
    let r53 = |name: &str, params: Value| {
        describe(
            name,
            &record("route53.amazonaws.com", name, params),
            "Z03ABCDEF1INTERNAL",
        )
    };
    assert_eq!(
        r53(
            "CreateHostedZone",
            json!({"name": "payments.internal.example.com", "callerReference": "x",
                   "hostedZoneConfig": {"privateZone": true},
                   "vPC": {"vPCRegion": "us-east-1", "vPCId": "vpc-0123456789abcdef0"}})
        ),
        "private hosted zone payments.internal.example.com created for vpc-0123456789abcdef0"
    );
    assert_eq!(
        r53("DeleteHostedZone", json!({"id": "Z03ABCDEF1INTERNAL"})),
        "hosted zone Z03ABCDEF1INTERNAL deleted"
    );
    assert_eq!(
        r53(
            "AssociateVPCWithHostedZone",
            json!({"hostedZoneId": "Z03ABCDEF1INTERNAL",
                   "vPC": {"vPCRegion": "us-east-1", "vPCId": "vpc-0123456789abcdef0"}})
        ),
        "hosted zone Z03ABCDEF1INTERNAL associated with vpc-0123456789abcdef0"
    );
    assert_eq!(
        r53(
            "DisassociateVPCFromHostedZone",
            json!({"hostedZoneId": "Z03ABCDEF1INTERNAL",
                   "vPC": {"vPCRegion": "us-east-1", "vPCId": "vpc-0123456789abcdef0"}})
        ),
        "hosted zone Z03ABCDEF1INTERNAL disassociated from vpc-0123456789abcdef0"
    );
    assert_eq!(
        r53(
            "ChangeResourceRecordSets",
            json!({"hostedZoneId": "Z03ABCDEF1INTERNAL", "changeBatch": {"changes": [
                {"action": "UPSERT", "resourceRecordSet": {"name": "payments.internal.example.com.", "type": "A"}}
            ]}})
        ),
        "hosted zone Z03ABCDEF1INTERNAL: UPSERT A payments.internal.example.com"
    );

    let resolver = |name: &str, params: Value| {
        describe(
            name,
            &record("route53resolver.amazonaws.com", name, params),
            "rslvr-rr-0123456789abcdef0",
        )
    };
    assert_eq!(
        resolver(
            "CreateResolverRule",
            json!({"creatorRequestId": "x", "ruleType": "FORWARD",
                   "domainName": "internal.example.com",
                   "targetIps": [{"ip": "10.9.0.2", "port": 53}],
                   "resolverEndpointId": "rslvr-out-0123456789abcdef0"})
        ),
        "Resolver rule created: FORWARD internal.example.com to 10.9.0.2:53"
    );
    assert_eq!(
        resolver(
            "AssociateResolverRule",
            json!({"resolverRuleId": "rslvr-rr-0123456789abcdef0", "vPCId": "vpc-0123456789abcdef0"})
        ),
        "rslvr-rr-0123456789abcdef0 associated with vpc-0123456789abcdef0"
    );
    assert_eq!(
        resolver(
            "DisassociateResolverRule",
            json!({"resolverRuleId": "rslvr-rr-0123456789abcdef0", "vPCId": "vpc-0123456789abcdef0"})
        ),
        "rslvr-rr-0123456789abcdef0 disassociated from vpc-0123456789abcdef0"
    );
    assert_eq!(
        resolver(
            "DeleteResolverRule",
            json!({"resolverRuleId": "rslvr-rr-0123456789abcdef0"})
        ),
        "rslvr-rr-0123456789abcdef0 deleted"
    );
    assert_eq!(
        resolver(
            "UpdateResolverRule",
            json!({"resolverRuleId": "rslvr-rr-0123456789abcdef0",
                   "config": {"targetIps": [{"ip": "10.9.0.3", "port": 53}]}})
        ),
        "rslvr-rr-0123456789abcdef0 now forwards to 10.9.0.3:53"
    );
}

#[test]
fn unknown_events_are_listed_by_name_on_the_resource() {
    let s = describe(
        "CreateTags",
        &record("ec2.amazonaws.com", "CreateTags", json!({})),
        SG,
    );
    assert_eq!(s, format!("CreateTags on {SG}"));
    // No record at all (CloudTrailEvent missing): still the name.
    assert_eq!(
        describe("SomethingNew", &Value::Null, SG),
        format!("SomethingNew on {SG}")
    );
}

fn lookup(resource: &str, events: Vec<TrailEvent>) -> ResourceLookup {
    ResourceLookup {
        resource: resource.into(),
        side: Side::Consumer,
        account: Some("222222222222".into()),
        region: "us-east-1".into(),
        events: Fact::Known(events),
    }
}

fn trail(id: &str, name: &str, time: &str, read_only: &str, rec: Value) -> TrailEvent {
    TrailEvent {
        event_id: id.into(),
        event_name: name.into(),
        event_time: time.into(),
        event_source: Some("ec2.amazonaws.com".into()),
        username: Some("ci".into()),
        read_only: Some(read_only.into()),
        resources: vec![SG.into()],
        cloud_trail_event: rec,
    }
}

#[test]
fn who_when_and_from_where_come_from_the_record() {
    let rec = record(
        "ec2.amazonaws.com",
        "RevokeSecurityGroupIngress",
        json!({"groupId": SG, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443,
            "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}}]}}),
    );
    let e = trail(
        "e1",
        "RevokeSecurityGroupIngress",
        "2026-12-02T09:31:05Z",
        "false",
        rec,
    );
    let c = change(
        &e,
        &lookup(SG, vec![]),
        epoch_seconds("2026-12-02T10:13:05Z"),
    );
    assert_eq!(c.ago_seconds, Some(42 * 60));
    assert_eq!(
        c.principal.as_deref(),
        Some("arn:aws:sts::222222222222:assumed-role/deploy/ci")
    );
    assert_eq!(c.session.as_deref(), Some("ci"));
    assert_eq!(c.from.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        c.line(),
        format!("changed 42 min ago (2026-12-02 09:31 UTC): {SG} lost TCP 8443 from 10.0.0.0/16 (RevokeSecurityGroupIngress by arn:aws:sts::222222222222:assumed-role/deploy/ci, from 203.0.113.7)")
    );

    // An AWS service acting: no source IP but the service's name.
    let mut by_service = e.cloud_trail_event.clone();
    by_service["userIdentity"] =
        json!({"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"});
    by_service["sourceIPAddress"] = json!("autoscaling.amazonaws.com");
    let c = change(
        &TrailEvent {
            cloud_trail_event: by_service,
            ..e.clone()
        },
        &lookup(SG, vec![]),
        None,
    );
    assert_eq!(c.from.as_deref(), Some("autoscaling.amazonaws.com"));
    assert_eq!(c.principal.as_deref(), Some("ci"), "falls back to Username");
    assert_eq!(c.ago_seconds, None);

    // A failed call changed nothing, and says so.
    let mut failed = e.cloud_trail_event.clone();
    failed["errorCode"] = json!("Client.UnauthorizedOperation");
    let c = change(
        &TrailEvent {
            cloud_trail_event: failed,
            ..e
        },
        &lookup(SG, vec![]),
        None,
    );
    assert!(c.line().starts_with("tried "), "{}", c.line());
    assert!(c.line().contains("failed: Client.UnauthorizedOperation"));
}

#[test]
fn time_words_and_rfc3339() {
    assert_eq!(ago_words(30), "just now");
    assert_eq!(ago_words(42 * 60 + 59), "42 min ago");
    assert_eq!(ago_words(3 * 3600), "3 h ago");
    assert_eq!(ago_words(3 * 3600 + 20 * 60), "3 h 20 min ago");
    assert_eq!(ago_words(3 * 86400), "3 d ago");
    assert_eq!(ago_words(-5), "in the future");
    assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(epoch_seconds("2000-03-01T00:00:00Z"), Some(951868800));
    assert_eq!(
        epoch_seconds("2026-12-02T10:00:00+01:00"),
        epoch_seconds("2026-12-02T09:00:00Z")
    );
    assert_eq!(
        epoch_seconds("2026-12-02T09:00:00.123Z"),
        epoch_seconds("2026-12-02T09:00:00Z")
    );
    assert_eq!(epoch_seconds("yesterday"), None);
    assert_eq!(epoch_seconds("2026-13-02T09:00:00Z"), None);
}

fn scenario(name: &str) -> Snapshot {
    crate::scenarios::all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("scenario {name}"))
        .snapshot
}

fn failing(id: &str, status: Status, evidence: Value) -> CheckResult {
    CheckResult {
        id: id.into(),
        step: 1,
        title: id.into(),
        status,
        summary: String::new(),
        details: vec![],
        evidence: evidence.as_object().unwrap().clone(),
        remediation: None,
        fingerprint: None,
        changes: None,
    }
}

#[test]
fn a_check_names_its_lookable_resources_and_their_owners() {
    let s = scenario("healthy");
    let sg = s.consumer.endpoint.security_group_ids[0].clone();
    let r = failing(
        "endpoint-sg-ingress",
        Status::Fail,
        json!({
            "endpoint_security_groups": [sg],
            "ports": [8443],
            "eni": "eni-0123456789abcdef0",
            "principal": "arn:aws:iam::123456789012:root",
            "cause": [format!("no-healthy={TG}")],
        }),
    );
    let names = named_resources(&r, &s);
    assert_eq!(names, vec![sg.clone(), TG.to_owned()], "no ENI, no IAM ARN");
    assert_eq!(owner_side(&sg, &s), Side::Consumer);
    assert_eq!(owner_side(TG, &s), Side::Provider);
    assert_eq!(owner_side(&s.service_id(), &s), Side::Provider);
    let wanted_all = wanted(
        &s,
        &[
            r.clone(),
            failing("x", Status::Pass, json!({"g": "sg-0fffffffffffffff0"})),
        ],
    );
    assert_eq!(
        wanted_all.len(),
        2,
        "pass checks are not looked up: {wanted_all:?}"
    );
}

#[test]
fn a_checks_changes_are_write_events_newest_first_and_missing_ones_say_why() {
    let mut s = scenario("healthy");
    s.collected_at = "2026-12-02T10:00:00Z".into();
    let sg = s.consumer.endpoint.security_group_ids[0].clone();
    let write = |id: &str, t: &str| {
        let mut rec = record(
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": sg}),
        );
        rec["eventTime"] = json!(t);
        trail(id, "AuthorizeSecurityGroupIngress", t, "false", rec)
    };
    let read = trail(
        "r1",
        "DescribeSecurityGroups",
        "2026-12-02T09:59:00Z",
        "true",
        json!({}),
    );
    s.changes = Some(ChangeFacts {
        since: "2026-12-01T10:00:00Z".into(),
        since_seconds: 86400,
        lookups: vec![
            lookup(
                &sg,
                vec![
                    write("old", "2026-12-02T08:00:00Z"),
                    read,
                    write("new", "2026-12-02T09:30:00Z"),
                ],
            ),
            ResourceLookup {
                resource: TG.into(),
                side: Side::Provider,
                account: Some("111111111111".into()),
                region: "us-east-1".into(),
                events: Fact::Absent(Missing::AccessDenied {
                    action: "cloudtrail:LookupEvents".into(),
                    message: None,
                }),
            },
        ],
    });
    let r = failing(
        "endpoint-sg-ingress",
        Status::Fail,
        json!({"groups": [sg.clone()], "tg": TG}),
    );
    let c = for_check(&r, &s).expect("changes");
    let ids: Vec<&str> = c.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["new", "old"], "read events dropped, newest first");
    assert_eq!(c.events[0].ago_seconds, Some(30 * 60));
    assert_eq!(c.missing.len(), 1);
    assert!(
        c.missing[0]
            .reason
            .contains("missing permission cloudtrail:LookupEvents")
            && c.missing[0].reason.contains("provider"),
        "{:?}",
        c.missing
    );
    // Passing checks carry none; nor does a run without lookups.
    assert_eq!(
        for_check(&failing("x", Status::Pass, json!({"g": sg})), &s),
        None
    );
    s.changes = None;
    assert_eq!(for_check(&r, &s), None);
}

#[test]
fn the_report_attaches_changes_and_the_replay_reads_the_same() {
    let mut s = scenario("endpoint-sg-missing-port");
    s.collected_at = "2026-12-02T10:00:00Z".into();
    let sg = s.consumer.endpoint.security_group_ids[0].clone();
    let mut rec = record(
        "ec2.amazonaws.com",
        "RevokeSecurityGroupIngress",
        json!({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}}]}}),
    );
    rec["eventTime"] = json!("2026-12-02T09:18:00Z");
    s.changes = Some(ChangeFacts {
        since: "2026-12-01T10:00:00Z".into(),
        since_seconds: 86400,
        lookups: vec![lookup(
            &sg,
            vec![trail(
                "e1",
                "RevokeSecurityGroupIngress",
                "2026-12-02T09:18:00Z",
                "false",
                rec,
            )],
        )],
    });
    let report = crate::report::build(&s, &Default::default(), "2026-12-03T00:00:00Z".into(), 1);
    let check = report
        .checks
        .iter()
        .find(|c| c.id == "endpoint-sg-ingress")
        .unwrap();
    assert_eq!(check.status, Status::Fail);
    let changes = check
        .changes
        .as_ref()
        .expect("changes on the failing check");
    assert!(
        changes.events[0].line().starts_with("changed 42 min ago"),
        "relative to collected_at, not the run: {}",
        changes.events[0].line()
    );
    assert_eq!(report.recent_changes.len(), 1);
    // The statuses are those of the same snapshot without changes.
    let mut without = s.clone();
    without.changes = None;
    let plain = crate::report::build(&without, &Default::default(), "t".into(), 1);
    let st = |r: &crate::Report| r.checks.iter().map(|c| c.status).collect::<Vec<_>>();
    assert_eq!(st(&report), st(&plain));
    // Snapshot round trip.
    let text = serde_json::to_string(&s).unwrap();
    let back: Snapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
}

/// Two endpoints behind one security group, both failing `endpoint-sg-ingress`.
fn fleet_of_two(sg_events: [Vec<TrailEvent>; 2]) -> crate::fleet::FleetSnapshot {
    let base = scenario("endpoint-sg-missing-port");
    let sg = base.consumer.endpoint.security_group_ids[0].clone();
    let snapshots = sg_events
        .into_iter()
        .enumerate()
        .map(|(i, events)| {
            let mut s = base.clone();
            s.collected_at = "2026-12-02T10:00:00Z".into();
            s.consumer.endpoint.id = format!("vpce-0{i}aaaaaaaaaaaaaaa");
            s.changes = Some(ChangeFacts {
                since: "2026-12-01T10:00:00Z".into(),
                since_seconds: 86400,
                lookups: vec![lookup(&sg, events)],
            });
            s
        })
        .collect();
    crate::fleet::FleetSnapshot {
        fleet_snapshot_version: crate::fleet::FLEET_SNAPSHOT_VERSION,
        kind: crate::fleet::FleetKind::Fleet,
        collected_by: "test".into(),
        collected_at: "2026-12-02T10:00:00Z".into(),
        scope: Default::default(),
        service: None,
        snapshots,
        endpoint_quotas: vec![],
    }
}

#[test]
fn a_fleet_lists_each_change_once_with_the_endpoints_it_shows_under_newest_first() {
    let sg = scenario("endpoint-sg-missing-port")
        .consumer
        .endpoint
        .security_group_ids[0]
        .clone();
    let revoke = |id: &str, at: &str| {
        let mut rec = record(
            "ec2.amazonaws.com",
            "RevokeSecurityGroupIngress",
            json!({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}}]}}),
        );
        rec["eventTime"] = json!(at);
        trail(id, "RevokeSecurityGroupIngress", at, "false", rec)
    };
    // The shared group's revoke shows under both rows; a later one only under the second
    // (its lookup ran later).
    let fleet = fleet_of_two([
        vec![revoke("e-shared", "2026-12-02T09:18:00Z")],
        vec![
            revoke("e-later", "2026-12-02T09:50:00Z"),
            revoke("e-shared", "2026-12-02T09:18:00Z"),
        ],
    ]);
    let report = crate::fleet::build(&fleet, &Default::default(), "t".into(), 1);
    let ids: Vec<(&str, Vec<&str>)> = report
        .recent_changes
        .iter()
        .map(|c| {
            (
                c.change.event_id.as_str(),
                c.endpoints.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("e-later", vec!["vpce-01aaaaaaaaaaaaaaa"]),
            (
                "e-shared",
                vec!["vpce-00aaaaaaaaaaaaaaa", "vpce-01aaaaaaaaaaaaaaa"]
            ),
        ]
    );
    let line = report.recent_changes[1].line();
    assert!(
        line.starts_with("changed 42 min ago")
            && line.ends_with("[under vpce-00aaaaaaaaaaaaaaa, vpce-01aaaaaaaaaaaaaaa]"),
        "{line}"
    );
    // The JSON keeps the change's own fields at the top, beside `endpoints`.
    let v = serde_json::to_value(&report.recent_changes[1]).unwrap();
    assert_eq!(v["event_id"], "e-shared");
    assert_eq!(v["endpoints"][1], "vpce-01aaaaaaaaaaaaaaa");
    // Past three endpoints the line counts them.
    let mut many = report.recent_changes[1].clone();
    many.endpoints = (0..5).map(|i| format!("vpce-{i}")).collect();
    assert!(
        many.line().ends_with("[under 5 endpoints]"),
        "{}",
        many.line()
    );
    // Without lookups there is nothing to list.
    let mut plain = fleet_of_two([vec![], vec![]]);
    for s in plain.snapshots.iter_mut() {
        s.changes = None;
    }
    assert!(
        crate::fleet::build(&plain, &Default::default(), "t".into(), 1)
            .recent_changes
            .is_empty()
    );
}

#[test]
fn the_provider_views_service_wide_changes_show_under_the_service_id() {
    let fleet = fleet_of_two([vec![], vec![]]);
    let tg_event = {
        let mut rec = record(
            "elasticloadbalancing.amazonaws.com",
            "DeregisterTargets",
            json!({"targetGroupArn": TG, "targets": [{"id": "i-0abc", "port": 8443}]}),
        );
        rec["eventTime"] = json!("2026-12-02T09:55:00Z");
        trail(
            "e-tg",
            "DeregisterTargets",
            "2026-12-02T09:55:00Z",
            "false",
            rec,
        )
    };
    let report = crate::fleet::build(&fleet, &Default::default(), "t".into(), 1);
    assert!(report.recent_changes.is_empty(), "no events recorded");
    // A service summary whose failing check carries the event.
    let mut check = failing(
        "target-health",
        Status::Fail,
        json!({"target_groups": [TG]}),
    );
    let mut service = fleet.snapshots[0].clone();
    service.changes = Some(ChangeFacts {
        since: "2026-12-01T10:00:00Z".into(),
        since_seconds: 86400,
        lookups: vec![lookup(TG, vec![tg_event])],
    });
    check.changes = for_check(&check, &service);
    assert!(check.changes.is_some());
    let reports: Vec<crate::Report> = fleet
        .snapshots
        .iter()
        .map(|s| crate::report::build(s, &Default::default(), "t".into(), 1))
        .collect();
    let all = crate::fleet::recent_changes(Some(("vpce-svc-0123", &[check])), &reports);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].endpoints, vec!["vpce-svc-0123".to_owned()]);
    assert!(
        all[0].change.what.contains("lost target i-0abc:8443"),
        "{:?}",
        all[0]
    );
}

#[test]
fn a_lookup_out_of_reach_is_not_settled_and_any_other_is() {
    let mut facts = ChangeFacts {
        since: "2026-12-01T10:00:00Z".into(),
        since_seconds: 86400,
        lookups: vec![lookup(SG, vec![])],
    };
    assert!(facts.settled(SG), "looked up, no events");
    assert!(!facts.settled(TG), "never asked");
    let mut denied = lookup(TG, vec![]);
    denied.events = Fact::Absent(Missing::ApiError {
        operation: LOOKUP_ACTION.into(),
        message: "AccessDenied".into(),
    });
    facts.lookups.push(denied);
    assert!(
        facts.settled(TG),
        "a denied lookup is an answer: not asked again"
    );
    let mut hidden = lookup(NLB, vec![]);
    hidden.events = Fact::Absent(Missing::NotVisible {
        account: Some("111111111111".into()),
        hint: "needs provider access".into(),
    });
    facts.lookups.push(hidden);
    assert!(
        !facts.settled(NLB),
        "out of reach then: asked again with the owner's credentials"
    );
}
