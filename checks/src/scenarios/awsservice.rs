//! Interface endpoints to AWS services (`com.amazonaws.us-east-1.ssm`, `.s3`, `.sts`): the
//! consumer-side runbook on port 443, the provider-only checks `skip` (AWS-managed), and
//! the endpoint policy. Built from the healthy world's consumer side, as AWS lists such an
//! endpoint: the service's Owner is `amazon`, its private DNS name is the service's own
//! regional name (`ssm.us-east-1.amazonaws.com`), the endpoint's own names live under
//! `<service>.<region>.vpce.amazonaws.com` (for S3 under a wildcard label,
//! `*.vpce-….s3.us-east-1.vpce.amazonaws.com`), and the endpoint carries a policy (AWS's
//! default full-access one unless another was attached).

use super::base::*;
use super::Scenario;
use crate::check::Status::*;
use crate::fact::Fact;
use crate::model::*;

/// AWS's default endpoint policy, as DescribeVpcEndpoints returns it.
pub const DEFAULT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// An S3 endpoint policy that stops object reads through the endpoint.
pub const DENY_GET_OBJECT_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Sid":"NoObjectReads","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;

/// The role the client instance runs as (`--principal` in the scenarios).
pub const CLIENT_ROLE: &str = "arn:aws:iam::222222222222:role/app-server";

/// The healthy world's consumer side, turned into an endpoint to AWS service `svc` on 443.
fn aws_service(svc: &str, service_id: &str, wildcard: bool) -> Snapshot {
    let mut s = healthy();
    let name = format!("com.amazonaws.{REGION}.{svc}");
    let public_name = format!("{svc}.{REGION}.amazonaws.com");
    let label = if wildcard { "*." } else { "" };
    let tail = format!("{svc}.{REGION}.vpce.amazonaws.com");
    let regional = format!("{label}{ENDPOINT_ID}-abcd1234.{tail}");
    let zonal_a = format!("{label}{ENDPOINT_ID}-abcd1234-us-east-1a.{tail}");
    let zonal_b = format!("{label}{ENDPOINT_ID}-abcd1234-us-east-1b.{tail}");
    // The names a resolver is asked: a concrete one under a wildcard.
    let asked = |n: &str| n.replacen("*.", "bucket.", 1);
    let private_zone = "Z0AWSMANAGED0PRIVATE01";

    let ep = &mut s.consumer.endpoint;
    ep.service_name = name.clone();
    ep.dns_entries = vec![
        DnsEntry {
            dns_name: regional.clone(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        },
        DnsEntry {
            dns_name: zonal_a.clone(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        },
        DnsEntry {
            dns_name: zonal_b.clone(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        },
        DnsEntry {
            dns_name: public_name.clone(),
            hosted_zone_id: private_zone.into(),
        },
    ];
    ep.policy_document = Some(DEFAULT_POLICY.into());

    s.consumer.service = Fact::Known(ServiceView {
        service_name: name.clone(),
        service_id: service_id.into(),
        owner: "amazon".into(),
        service_type: "Interface".into(),
        acceptance_required: false,
        // AWS services are offered in every AZ of the Region.
        availability_zones: ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|z| format!("us-east-1{z}"))
            .collect(),
        private_dns_name: Some(public_name.clone()),
        private_dns_name_verification_state: Some("verified".into()),
        base_endpoint_dns_names: vec![tail.clone()],
        service_region: Some(REGION.into()),
        supported_ip_address_types: vec!["ipv4".into()],
        vpc_endpoint_policy_supported: Some(true),
    });
    if let Fact::Known(azs) = &mut s.consumer.az_map {
        azs.push(az("us-east-1e", "use1-az3"));
        azs.push(az("us-east-1f", "use1-az5"));
    }
    // HTTPS from the VPC to the endpoint; the client's group lets HTTPS out to it.
    let Fact::Known(groups) = &mut s.consumer.security_groups else {
        unreachable!()
    };
    for g in groups.iter_mut() {
        if g.id == ENDPOINT_SG {
            g.name = format!("{svc}-endpoint-sg");
            g.ingress = vec![tcp(
                443,
                SgPeer::Cidr(net("10.0.0.0/16")),
                "HTTPS from the VPC",
            )];
        } else if g.id == CLIENT_SG {
            g.egress = vec![tcp(
                443,
                SgPeer::SecurityGroup(ENDPOINT_SG.into()),
                "to the endpoint",
            )];
        }
    }
    s.consumer.dns_config =
        Fact::Known(aws_dns_config("dopt-0a1b2c3d", &public_name, private_zone));
    s.provider = ProviderSide::aws_managed(&name);

    let enis = vec![ip("10.0.1.25"), ip("10.0.2.25")];
    let answer = |addresses: Vec<std::net::IpAddr>| DnsOutcome::Answer {
        addresses,
        cname_chain: vec![],
    };
    s.dns = Fact::Known(DnsFacts {
        resolver: "10.0.0.2:53".into(),
        lookups: vec![
            DnsLookup {
                name: public_name,
                role: DnsNameRole::PrivateDnsName,
                outcome: answer(enis.clone()),
            },
            DnsLookup {
                name: asked(&regional),
                role: DnsNameRole::Regional,
                outcome: answer(enis.clone()),
            },
            DnsLookup {
                name: asked(&zonal_a),
                role: DnsNameRole::Zonal,
                outcome: answer(vec![enis[0]]),
            },
            DnsLookup {
                name: asked(&zonal_b),
                role: DnsNameRole::Zonal,
                outcome: answer(vec![enis[1]]),
            },
        ],
    });
    let Fact::Known(p) = &mut s.probe else {
        unreachable!()
    };
    p.port = 443;
    // The consumer's own metrics only: AWS/PrivateLinkEndpoints, dimension Service Name.
    let Fact::Known(ms) = &mut s.observability.metrics else {
        unreachable!()
    };
    ms.retain(|m| m.namespace == "AWS/PrivateLinkEndpoints");
    for m in ms.iter_mut() {
        m.dimensions.insert("Service Name".into(), name.clone());
    }
    s
}

pub fn ssm() -> Snapshot {
    aws_service("ssm", "vpce-svc-0a1b2c3d4e5f60718", false)
}

pub fn sts() -> Snapshot {
    aws_service("sts", "vpce-svc-0b2c3d4e5f6071829", false)
}

/// S3 with private DNS for inbound Resolver endpoints only (AWS's default when the VPC has
/// an S3 gateway endpoint): in-VPC queries for s3.us-east-1.amazonaws.com go to the gateway
/// endpoint, so only the endpoint's own wildcard names are asked.
pub fn s3() -> Snapshot {
    let mut s = aws_service("s3", "vpce-svc-0c3d4e5f607182930", true);
    s.consumer
        .endpoint
        .private_dns_only_for_inbound_resolver_endpoint = Some(true);
    if let Fact::Known(d) = &mut s.dns {
        d.lookups.retain(|l| l.role != DnsNameRole::PrivateDnsName);
    }
    s
}

pub fn s3_policy_denies_get_object() -> Snapshot {
    let mut s = s3();
    s.consumer.endpoint.policy_document = Some(DENY_GET_OBJECT_POLICY.into());
    s
}

/// The service's name answers with its public addresses (private DNS not effective).
fn public_answer(s: &mut Snapshot) {
    if let Fact::Known(d) = &mut s.dns {
        for l in &mut d.lookups {
            if l.role == DnsNameRole::PrivateDnsName {
                l.outcome = DnsOutcome::Answer {
                    addresses: vec![ip("52.46.141.158"), ip("52.46.155.21")],
                    cname_chain: vec![],
                };
            }
        }
    }
}

fn endpoint_sg(s: &mut Snapshot) -> &mut SecurityGroup {
    let Fact::Known(gs) = &mut s.consumer.security_groups else {
        unreachable!()
    };
    gs.iter_mut()
        .find(|g| g.id == ENDPOINT_SG)
        .expect("endpoint group")
}

fn probe_times_out(s: &mut Snapshot) {
    let Fact::Known(p) = &mut s.probe else {
        unreachable!()
    };
    for a in &mut p.attempts {
        a.outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    }
}

fn rejected_at_enis(s: &mut Snapshot, port: u16) {
    let Fact::Known(r) = &mut s.observability.flow_log_rejects else {
        unreachable!()
    };
    r.rows = ["eni-0a1a2a3a4a5a6a7a8", "eni-0b1b2b3b4b5b6b7b8"]
        .iter()
        .map(|eni| RejectRow {
            src_addr: CLIENT_IP.into(),
            dst_port: port,
            interface_id: Some((*eni).into()),
            rejects: 150,
        })
        .collect();
}

pub fn all() -> Vec<Scenario> {
    let mut sts_8443 = sts();
    // A group copied from an endpoint-service set-up: the service port there was 8443.
    endpoint_sg(&mut sts_8443).ingress = vec![tcp(
        8443,
        SgPeer::Cidr(net("10.0.0.0/16")),
        "copied from the payments endpoint",
    )];
    probe_times_out(&mut sts_8443);
    rejected_at_enis(&mut sts_8443, 443);

    let mut denied = s3_policy_denies_get_object();
    denied.inputs.action = Some("s3:GetObject".into());
    denied.inputs.principal = Some(CLIENT_ROLE.into());
    denied.inputs.resource = Some("arn:aws:s3:::app-artifacts/builds/latest.tar.gz".into());

    let mut allowed = s3_policy_denies_get_object();
    allowed.inputs.action = Some("s3:PutObject".into());
    allowed.inputs.resource = Some("arn:aws:s3:::app-artifacts/uploads/report.csv".into());

    let mut private_dns_off = ssm();
    private_dns_off.consumer.endpoint.private_dns_enabled = false;
    private_dns_off
        .consumer
        .endpoint
        .dns_entries
        .retain(|d| !d.dns_name.ends_with(".amazonaws.com") || d.dns_name.contains(".vpce."));
    if let Fact::Known(c) = &mut private_dns_off.consumer.dns_config {
        if let Fact::Known(zones) = &mut c.hosted_zones {
            zones.clear();
        }
    }
    if let Fact::Known(d) = &mut private_dns_off.dns {
        for l in &mut d.lookups {
            if l.role == DnsNameRole::PrivateDnsName {
                // Without private DNS the SDK's name resolves to the service's public addresses.
                l.outcome = DnsOutcome::Answer {
                    addresses: vec![ip("52.46.141.158"), ip("52.46.155.21")],
                    cname_chain: vec![],
                };
            }
        }
    }

    // A locked-down client group copied from the endpoint-service set-up: 8443 out only.
    let mut client_egress = ssm();
    {
        let Fact::Known(gs) = &mut client_egress.consumer.security_groups else {
            unreachable!()
        };
        let g = gs
            .iter_mut()
            .find(|g| g.id == CLIENT_SG)
            .expect("client group");
        g.egress = vec![tcp(
            8443,
            SgPeer::SecurityGroup(ENDPOINT_SG.into()),
            "to the payments endpoint",
        )];
    }
    // pl-doctor ran on the client instance: its own probe is dropped too; the SYNs never
    // leave the instance, so the endpoint's flow logs show no REJECT.
    probe_times_out(&mut client_egress);

    // The endpoint subnets' custom ACL denies HTTPS from the app subnet ahead of its allow-all.
    let mut nacl = ssm();
    {
        let Fact::Known(acls) = &mut nacl.consumer.network_acls else {
            unreachable!()
        };
        acls[0].subnet_ids = vec!["subnet-0a1b2c3d4e5f60003".into()];
        let entry =
            |n: u16, egress: bool, proto: &str, action: &str, cidr: &str, port: Option<u16>| {
                NaclEntry {
                    rule_number: n,
                    egress,
                    protocol: proto.into(),
                    rule_action: action.into(),
                    cidr: net(cidr),
                    port_range: port.map(|p| PortRange { from: p, to: p }),
                }
            };
        acls.push(NetworkAcl {
            id: "acl-0e9d8c7b6a5f4e3d2".into(),
            vpc_id: CONSUMER_VPC.into(),
            is_default: false,
            subnet_ids: vec![
                "subnet-0a1b2c3d4e5f60001".into(),
                "subnet-0a1b2c3d4e5f60002".into(),
            ],
            entries: vec![
                entry(90, false, "6", "deny", "10.0.3.0/24", Some(443)),
                entry(100, false, "-1", "allow", "0.0.0.0/0", None),
                entry(100, true, "-1", "allow", "0.0.0.0/0", None),
            ],
        });
    }
    probe_times_out(&mut nacl);
    rejected_at_enis(&mut nacl, 443);

    // A Terraform refactor left the VPC without enableDnsHostnames: the private hosted zone
    // for ssm.us-east-1.amazonaws.com no longer takes effect, the SDK gets the public name.
    let mut hostnames_off = ssm();
    if let Fact::Known(v) = &mut hostnames_off.consumer.vpc {
        v.enable_dns_hostnames = Fact::Known(false);
    }
    public_answer(&mut hostnames_off);

    // The network team's shared Resolver rule forwards the service's name to the on-premises
    // DNS servers (left from a set-up that reached SSM through the data centre): a Resolver
    // rule beats a private hosted zone for the same name, so the endpoint loses the name.
    let mut forwarded = ssm();
    if let Fact::Known(c) = &mut forwarded.consumer.dns_config {
        c.resolver_rules = Fact::Known(vec![ResolverRule {
            id: "rslvr-rr-0f1e2d3c4b5a69788".into(),
            name: Some("ssm-to-onprem".into()),
            domain_name: "ssm.us-east-1.amazonaws.com".into(),
            rule_type: "FORWARD".into(),
            target_ips: vec!["192.168.10.53:53".into(), "192.168.11.53:53".into()],
            owner_id: Some("999999999999".into()),
            share_status: Some("SHARED_WITH_ME".into()),
            association_id: Some("rslvr-rrassoc-0a1b2c3d4e5f60718".into()),
        }]);
    }
    public_answer(&mut forwarded);

    let mut az_not_offered = ssm();
    if let Fact::Known(v) = &mut az_not_offered.consumer.service {
        v.availability_zones.retain(|z| z != "us-east-1b");
    }

    vec![
        Scenario::new(
            "aws-service-ssm",
            "An interface endpoint to AWS Systems Manager (com.amazonaws.us-east-1.ssm): the consumer-side runbook on 443 passes, the provider-only checks skip (AWS-managed), the default endpoint policy passes.",
            ssm(),
            None,
            &[],
        ),
        Scenario::new(
            "aws-service-s3",
            "An interface endpoint to S3 with its wildcard names (*.vpce-….s3.us-east-1.vpce.amazonaws.com) and private DNS for inbound Resolver endpoints only (the VPC's own queries go to its S3 gateway endpoint).",
            s3(),
            None,
            &[],
        ),
        Scenario::new(
            "aws-service-sts-sg-8443",
            "An interface endpoint to STS whose security group admits only 8443 (copied from an endpoint-service set-up): AWS service APIs listen on 443, so the SDK's connections hang.",
            sts_8443,
            Some("endpoint-sg-ingress"),
            &[
                ("endpoint-sg-ingress", Fail),
                ("flow-log-rejects", Fail),
                ("connect-probe", Fail),
            ],
        ),
        Scenario::new(
            "aws-service-s3-policy-restricts",
            "An S3 endpoint whose policy denies s3:GetObject, judged with no request named: warn, listing what each statement allows or denies.",
            s3_policy_denies_get_object(),
            None,
            &[("endpoint-policy", Warn)],
        ),
        Scenario::new(
            "aws-service-s3-policy-denies",
            "An S3 endpoint whose policy denies s3:GetObject, for the client's s3:GetObject (--action, recorded at collection): endpoint-policy fails naming the Deny statement.",
            denied,
            Some("endpoint-policy"),
            &[("endpoint-policy", Fail)],
        ),
        Scenario::new(
            "aws-service-s3-policy-allows",
            "The same S3 endpoint policy, for s3:PutObject: allowed by its Allow statement, the Deny does not apply.",
            allowed,
            None,
            &[],
        ),
        Scenario::new(
            "aws-service-ssm-private-dns-off",
            "An SSM endpoint with private DNS off: the SDK resolves ssm.us-east-1.amazonaws.com to the public endpoint and never uses the interface endpoint.",
            private_dns_off,
            Some("private-dns-enabled"),
            &[
                ("private-dns-enabled", Fail),
                // Nothing in the VPC serves the name: nothing overrides, the cause is above.
                ("dns-overrides", Skip),
                ("dns-resolution", Fail),
            ],
        ),
        Scenario::new(
            "aws-service-ssm-client-egress-8443",
            "An SSM endpoint whose client security group lets only 8443 out (copied from an endpoint-service set-up): the SDK's HTTPS never leaves the instance.",
            client_egress,
            Some("client-sg-egress"),
            &[("client-sg-egress", Fail), ("connect-probe", Fail)],
        ),
        Scenario::new(
            "aws-service-ssm-nacl-deny-443",
            "An SSM endpoint whose subnets' network ACL denies TCP 443 from the app subnet ahead of its allow-all: packets are dropped silently.",
            nacl,
            Some("subnet-nacl"),
            &[
                ("subnet-nacl", Fail),
                ("flow-log-rejects", Fail),
                ("connect-probe", Fail),
            ],
        ),
        Scenario::new(
            "aws-service-ssm-hostnames-off",
            "An SSM endpoint in a VPC without enableDnsHostnames: AWS's private zone for ssm.us-east-1.amazonaws.com no longer answers, the SDK gets the public endpoint.",
            hostnames_off,
            Some("vpc-dns-attributes"),
            &[("vpc-dns-attributes", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "aws-service-ssm-forward-rule",
            "A shared Resolver FORWARD rule for ssm.us-east-1.amazonaws.com sends the service's name to on-premises DNS, which answers with the public endpoint: the SDK bypasses the interface endpoint.",
            forwarded,
            Some("dns-overrides"),
            &[("dns-overrides", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "aws-service-ssm-az-not-offered",
            "An SSM endpoint with a subnet in an AZ the service does not list (DescribeVpcEndpointServices AvailabilityZones).",
            az_not_offered,
            Some("az-alignment"),
            &[("az-alignment", Fail)],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_service_worlds_are_recognised_as_such() {
        use crate::endpoint_type::{service_kind, ServiceKind};
        for s in [ssm(), sts(), s3()] {
            assert_eq!(service_kind(&s), ServiceKind::AwsService);
        }
        assert_eq!(healthy().consumer.endpoint.service_name, SERVICE_NAME);
    }
}
