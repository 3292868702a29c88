//! Private DNS scenarios (runbook 3): each breaks one link between the service's
//! friendly name and the endpoint ENIs.

use super::base::{healthy, ip, PRIVATE_DNS_NAME};
use super::Scenario;
use crate::check::Status::*;
use crate::fact::{Fact, Missing};
use crate::model::*;

fn set_verification(s: &mut Snapshot, state: &str) {
    if let Fact::Known(c) = &mut s.provider.service_configuration {
        if let Some(p) = &mut c.private_dns_name_configuration {
            p.state = state.into();
        }
    }
    if let Fact::Known(v) = &mut s.consumer.service {
        v.private_dns_name_verification_state = Some(state.into());
    }
}

/// With private DNS off, AWS lists no DnsEntry for the private name and associates no
/// zone for it with the VPC.
fn disable_private_dns(s: &mut Snapshot) {
    s.consumer.endpoint.private_dns_enabled = false;
    s.consumer
        .endpoint
        .dns_entries
        .retain(|d| d.dns_name != PRIVATE_DNS_NAME);
    if let Fact::Known(zones) = &mut dns_config(s).hosted_zones {
        zones.retain(|z| z.owning_service.is_none());
    }
}

fn dns_config(s: &mut Snapshot) -> &mut DnsConfig {
    match &mut s.consumer.dns_config {
        Fact::Known(c) => c,
        Fact::Absent(_) => panic!("the healthy world reads the VPC's DNS configuration"),
    }
}

/// The corporate DNS servers the consumer's DHCP option set hands out.
fn corporate_dhcp_servers(s: &mut Snapshot) {
    dns_config(s).dhcp_options = Fact::Known(DhcpOptions {
        id: "dopt-0c0a7e5d1f2b3c4d5".into(),
        domain_name_servers: vec!["10.0.3.53".into(), "10.0.4.53".into()],
        domain_name: Some("corp.example.com".into()),
    });
}

/// pl-doctor ran on the client instance, in the endpoint's VPC (instance metadata).
fn on_the_client_instance(s: &mut Snapshot) {
    s.vantage = Some(Vantage {
        location: VantageLocation::Ec2,
        how: "instance metadata (IMDSv2)".into(),
        instance_id: Some("i-0123456789abcdef0".into()),
        vpc_id: Some(s.consumer.endpoint.vpc_id.clone()),
        subnet_id: Some("subnet-0a1b2c3d4e5f60003".into()),
        region: Some(s.region.clone()),
        stub_upstreams: vec![],
    });
}

fn forward_rule(domain: &str) -> ResolverRule {
    ResolverRule {
        id: "rslvr-rr-0f1e2d3c4b5a69788".into(),
        name: Some("corp-to-onprem".into()),
        domain_name: domain.into(),
        rule_type: "FORWARD".into(),
        target_ips: vec!["192.168.10.53:53".into(), "192.168.11.53:53".into()],
        owner_id: Some("999999999999".into()),
        share_status: Some("SHARED_WITH_ME".into()),
        association_id: Some("rslvr-rrassoc-0a1b2c3d4e5f60718".into()),
    }
}

/// The network team's shared rule forwarding payments.internal.example.com to the
/// on-premises DNS servers (a leftover of the days the service ran in the data centre).
/// The VPC resolver forwards the name there, on-premises DNS no longer knows it.
fn forward_rule_for_the_name() -> Snapshot {
    let mut s = healthy();
    dns_config(&mut s).resolver_rules = Fact::Known(vec![forward_rule(PRIVATE_DNS_NAME)]);
    private_name_answers(&mut s, DnsOutcome::NxDomain);
    s
}

/// The same shared rule, for the corporate parent domain example.com only: PrivateLink's
/// zone for payments.internal.example.com is more specific and wins.
fn forward_rule_for_the_parent() -> Snapshot {
    let mut s = healthy();
    dns_config(&mut s).resolver_rules = Fact::Known(vec![forward_rule("example.com")]);
    s
}

/// Hub-and-spoke DNS: the consumer turned private DNS off and serves the name from its
/// own private hosted zone internal.example.com, which holds `record`.
fn own_zone(record: ZoneRecord, answer: DnsOutcome) -> Snapshot {
    let mut s = healthy();
    disable_private_dns(&mut s);
    let owner = s.consumer.endpoint.owner_id.clone();
    if let Fact::Known(zones) = &mut dns_config(&mut s).hosted_zones {
        zones.push(PrivateZone {
            id: "Z03ABCDEF1INTERNAL".into(),
            name: "internal.example.com".into(),
            owning_account: Some(owner),
            owning_service: None,
            records: Fact::Known(vec![record]),
        });
    }
    private_name_answers(&mut s, answer);
    s
}

/// The zone's A record still lists the addresses of the endpoint it replaced.
fn own_zone_stale() -> Snapshot {
    own_zone(
        ZoneRecord {
            name: PRIVATE_DNS_NAME.into(),
            record_type: "A".into(),
            values: vec!["10.0.1.140".into(), "10.0.2.177".into()],
            alias_target: None,
        },
        DnsOutcome::Answer {
            addresses: vec![ip("10.0.1.140"), ip("10.0.2.177")],
            cname_chain: vec![],
        },
    )
}

/// The zone's record is an alias to the endpoint's regional name: it follows the endpoint.
fn own_zone_alias() -> Snapshot {
    let regional = healthy().consumer.endpoint.dns_entries[0].dns_name.clone();
    own_zone(
        ZoneRecord {
            name: PRIVATE_DNS_NAME.into(),
            record_type: "A".into(),
            values: vec![],
            alias_target: Some(regional),
        },
        DnsOutcome::Answer {
            addresses: vec![ip("10.0.1.25"), ip("10.0.2.25")],
            cname_chain: vec![],
        },
    )
}

/// The VPC hands out the corporate DNS servers, which forward payments.internal.example.com
/// to the VPC resolver through an inbound endpoint: answers are right, but every lookup
/// depends on those servers.
fn dhcp_servers_forwarding() -> Snapshot {
    let mut s = healthy();
    corporate_dhcp_servers(&mut s);
    if let Fact::Known(d) = &mut s.dns {
        d.resolver = "system".into();
    }
    on_the_client_instance(&mut s);
    s
}

/// The on-call role may not read Route 53 Resolver: the rules are unknown, so what
/// answers the name cannot be judged from the configuration (the answers still are).
fn resolver_rules_denied() -> Snapshot {
    let mut s = healthy();
    dns_config(&mut s).resolver_rules = Fact::Absent(Missing::AccessDenied {
        action: "route53resolver:ListResolverRuleAssociations".into(),
        message: Some("User: arn:aws:sts::222222222222:assumed-role/oncall/jane is not authorized to perform: route53resolver:ListResolverRuleAssociations".into()),
    });
    s
}

fn private_name_answers(s: &mut Snapshot, outcome: DnsOutcome) {
    if let Fact::Known(d) = &mut s.dns {
        for l in d
            .lookups
            .iter_mut()
            .filter(|l| l.role == DnsNameRole::PrivateDnsName)
        {
            l.outcome = outcome.clone();
        }
    }
}

fn custom_dhcp_options(s: &mut Snapshot) {
    if let Fact::Known(v) = &mut s.consumer.vpc {
        v.dhcp_options_id = Some("dopt-0c0a7e5d1f2b3c4d5".into());
    }
}

/// The provider published the name but never added the TXT record, so the name is
/// pendingVerification. AWS refused the consumer's attempt to enable private DNS,
/// so the endpoint was created with it off; the friendly name is NXDOMAIN in public DNS.
fn unverified() -> Snapshot {
    let mut s = healthy();
    set_verification(&mut s, "pendingVerification");
    disable_private_dns(&mut s);
    private_name_answers(&mut s, DnsOutcome::NxDomain);
    s
}

/// Verified name, but the consumer created the endpoint with private_dns_enabled = false
/// (the seed's Step 4 snippet does exactly that). Public DNS holds only the verification
/// TXT record under the name, so the name itself answers NOERROR with no A records.
fn disabled() -> Snapshot {
    let mut s = healthy();
    disable_private_dns(&mut s);
    private_name_answers(&mut s, DnsOutcome::NoData);
    s
}

/// A Terraform refactor re-applied the consumer's aws_vpc without enable_dns_hostnames
/// (default false). The endpoint still says private_dns_enabled = true, but the managed
/// private hosted zone no longer takes effect, so the name falls through to public DNS.
fn hostnames_off() -> Snapshot {
    let mut s = healthy();
    if let Fact::Known(v) = &mut s.consumer.vpc {
        v.enable_dns_hostnames = Fact::Known(false);
    }
    private_name_answers(&mut s, DnsOutcome::NoData);
    s
}

/// Private DNS is configured right, but the VPC's DHCP option set points clients at the
/// corporate AD DNS servers. Before private DNS existed, the team added
/// `payments.internal.example.com CNAME` to the regional name of the endpoint they had in
/// the old shared-services VPC (10.60.0.0/16, still attached through a transit gateway).
/// The corporate servers answer from that zone and never ask the VPC resolver, so clients
/// get the long vpce-… name of the other endpoint and its addresses.
fn long_vpce_name() -> Snapshot {
    let mut s = healthy();
    custom_dhcp_options(&mut s);
    corporate_dhcp_servers(&mut s);
    if let Fact::Known(d) = &mut s.dns {
        d.resolver = "system".into();
    }
    on_the_client_instance(&mut s);
    private_name_answers(
        &mut s,
        DnsOutcome::Answer {
            addresses: vec![ip("10.60.1.44"), ip("10.60.2.17")],
            cname_chain: vec![
                "vpce-0f9e8d7c6b5a49382-k2j3h4g5.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com".into(),
            ],
        },
    );
    s
}

/// The VPC's DHCP option set points at the corporate AD DNS server 10.0.3.53 (in the
/// client subnet), which resolves internal.example.com from the internet. The provider
/// publishes payments.internal.example.com publicly for its partners' internet path
/// (an internet-facing ALB), so clients get public addresses and leave PrivateLink.
/// The vpce-… names still resolve to the ENIs (public DNS serves them), and pl-doctor
/// asked 10.0.3.53, an address inside the consumer VPC, so it ran inside the VPC.
fn public_ip() -> Snapshot {
    let mut s = healthy();
    custom_dhcp_options(&mut s);
    corporate_dhcp_servers(&mut s);
    if let Fact::Known(d) = &mut s.dns {
        d.resolver = "10.0.3.53:53".into();
    }
    private_name_answers(
        &mut s,
        DnsOutcome::Answer {
            addresses: vec![ip("52.20.114.37"), ip("34.194.56.201")],
            cname_chain: vec![
                "payments-partners-alb-1234567890.us-east-1.elb.amazonaws.com".into(),
            ],
        },
    );
    s
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "dns-unverified",
            "The provider's private DNS name is pendingVerification (TXT record never published); AWS refused to enable private DNS on the endpoint, and payments.internal.example.com is NXDOMAIN.",
            unverified(),
            Some("private-dns-verification"),
            &[
                ("private-dns-verification", Fail),
                // Enabling is impossible until the name is verified: a prerequisite, not a second cause.
                ("private-dns-enabled", Skip),
                // Private DNS off and no zone of the consumer's: nothing for it to judge.
                ("dns-overrides", Skip),
                ("dns-resolution", Fail),
            ],
        ),
        Scenario::new(
            "private-dns-disabled",
            "The name is verified but the endpoint was created with private_dns_enabled = false: the friendly name has no A records inside the VPC, only the vpce-… names work.",
            disabled(),
            Some("private-dns-enabled"),
            &[
                ("private-dns-enabled", Fail),
                ("dns-overrides", Skip),
                ("dns-resolution", Fail),
            ],
        ),
        Scenario::new(
            "vpc-dns-hostnames-off",
            "The consumer VPC's enableDnsHostnames was turned off (aws_vpc re-applied without enable_dns_hostnames): private DNS is enabled on the endpoint but no longer takes effect.",
            hostnames_off(),
            Some("vpc-dns-attributes"),
            // reconcile: AWS may refuse ModifyVpcAttribute while a private-DNS endpoint
            // exists; if so this scenario only arises through a VPC re-created by IaC.
            &[("vpc-dns-attributes", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-long-vpce-name",
            "Private DNS is configured correctly, but custom DHCP options send clients to corporate DNS, where payments.internal.example.com is a CNAME to an old endpoint's vpce-… name in another VPC.",
            long_vpce_name(),
            // Run on the client instance: the option set's servers answer wrong from inside
            // the VPC, so the configuration names the cause.
            Some("dns-overrides"),
            // reconcile: connect-probe passes because the probe dials the ENI addresses; a
            // probe of the name would reach the old endpoint instead.
            &[("dns-overrides", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-public-ip",
            "Custom DHCP options point at a corporate resolver (10.0.3.53) that resolves payments.internal.example.com on the internet, where the provider publishes a public partner ALB: clients get public IPs and bypass PrivateLink.",
            public_ip(),
            // 10.0.3.53 is one of the option set's servers: its wrong answer is theirs.
            Some("dns-overrides"),
            &[("dns-overrides", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-forward-rule",
            "A Route 53 Resolver rule shared by the network account forwards payments.internal.example.com to on-premises DNS (192.168.10.53, 192.168.11.53), which no longer knows it: the forwarding rule beats PrivateLink's private hosted zone for the same name, and the VPC resolver answers NXDOMAIN.",
            forward_rule_for_the_name(),
            Some("dns-overrides"),
            &[("dns-overrides", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-forward-rule-parent",
            "The shared forwarding rule covers only the corporate parent domain example.com: PrivateLink's zone for payments.internal.example.com is more specific and answers; the rule is noted, nothing fails.",
            forward_rule_for_the_parent(),
            None,
            &[],
        ),
        Scenario::new(
            "dns-own-zone-stale",
            "Hub-and-spoke DNS: private DNS is off and the consumer's private hosted zone internal.example.com answers payments.internal.example.com with the A records of the endpoint it replaced (10.0.1.140, 10.0.2.177).",
            own_zone_stale(),
            Some("dns-overrides"),
            // private-dns-enabled passes: off by choice, the consumer's zone serves the name.
            &[("dns-overrides", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-own-zone-alias",
            "Hub-and-spoke DNS done right: private DNS is off and the consumer's zone internal.example.com holds an alias from payments.internal.example.com to the endpoint's regional name.",
            own_zone_alias(),
            None,
            &[],
        ),
        Scenario::new(
            "dns-dhcp-servers-forwarding",
            "The VPC's DHCP option set hands out the corporate DNS servers 10.0.3.53 and 10.0.4.53, which forward the name to the VPC resolver: answers are right from the client instance, but every lookup depends on those servers.",
            dhcp_servers_forwarding(),
            None,
            &[("dns-overrides", Warn)],
        ),
        Scenario::new(
            "dns-overrides-denied",
            "The on-call role lacks route53resolver:ListResolverRuleAssociations: dns-overrides cannot say what answers the name (unknown, naming the action); the answers themselves are right.",
            resolver_rules_denied(),
            None,
            &[("dns-overrides", Unknown)],
        ),
    ]
}
