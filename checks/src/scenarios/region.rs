//! Cross-region PrivateLink and IP address types.
//!
//! Cross-region: the consumer's endpoint stays in us-east-1 (its VPC, subnets, AZ
//! names), the provider's service, NLB and targets move to the service's Region, whose
//! AZ names and IDs are that Region's. Facts follow AWS: the endpoint carries
//! ServiceRegion; the service lists its SupportedRegions with a ServiceState each; the
//! endpoint's regional and zonal names are under the service's Region; the consumer's
//! AWS/PrivateLinkEndpoints metrics are not published for a cross-region endpoint.
//!
//! IPv6: a dual-stack consumer VPC (subnets with IPv6 CIDRs, ENIs with IPv6 addresses,
//! the default network ACL's `::/0` rules), an IPv6-only client, and the service side
//! varied one link at a time.

use super::base::{self, *};
use super::Scenario;
use crate::check::Status::*;
use crate::fact::Fact;
use crate::model::*;

pub const SERVICE_REGION: &str = "eu-west-1";
/// An opt-in Region (Europe (Spain)): not enabled in an account until it opts in.
pub const OPT_IN_REGION: &str = "eu-south-2";

/// The healthy endpoint with its service moved to `service_region`.
pub fn cross_region(service_region: &str) -> Snapshot {
    let mut s = base::healthy();
    let az_prefix = match service_region {
        "eu-west-1" => "euw1",
        "eu-south-2" => "eus2",
        other => panic!("no AZ-ID prefix for {other} in this scenario"),
    };
    // The provider side lives in the service's Region: its ARNs, AZ names and AZ IDs.
    let provider = serde_json::to_string(&s.provider).expect("provider side");
    let provider = provider
        .replace(REGION, service_region)
        .replace("use1-az", &format!("{az_prefix}-az"));
    s.provider = serde_json::from_str(&provider).expect("provider side");
    // The connection record names the endpoint's own Region (VpcEndpointRegion).
    if let Fact::Known(conns) = &mut s.provider.connections {
        for c in conns {
            c.vpc_endpoint_region = Some(REGION.into());
        }
    }
    let svc_name = SERVICE_NAME.replace(REGION, service_region);
    let remote_domain = format!(".{SERVICE_ID}.{service_region}.vpce.amazonaws.com");
    let local_domain = format!(".{SERVICE_ID}.{REGION}.vpce.amazonaws.com");

    let Fact::Known(cfg) = &mut s.provider.service_configuration else {
        unreachable!()
    };
    cfg.service_name = svc_name.clone();
    cfg.supported_regions = vec![
        SupportedRegion {
            region: service_region.into(),
            service_state: Some("Available".into()),
        },
        SupportedRegion {
            region: REGION.into(),
            service_state: Some("Available".into()),
        },
    ];

    let ep = &mut s.consumer.endpoint;
    ep.service_name = svc_name.clone();
    ep.service_region = Some(service_region.into());
    for d in &mut ep.dns_entries {
        d.dns_name = d.dns_name.replace(&local_domain, &remote_domain);
    }
    let Fact::Known(view) = &mut s.consumer.service else {
        unreachable!()
    };
    view.service_name = svc_name.clone();
    view.service_region = Some(service_region.into());
    // The service's zones are the service Region's.
    view.availability_zones = vec![format!("{service_region}a"), format!("{service_region}b")];
    view.base_endpoint_dns_names =
        vec![format!("{SERVICE_ID}.{service_region}.vpce.amazonaws.com")];
    s.consumer.regions = Fact::Known(vec![RegionOptIn {
        region: service_region.into(),
        opt_in_status: if service_region == OPT_IN_REGION {
            "opted-in".into()
        } else {
            "opt-in-not-required".into()
        },
    }]);
    if let Fact::Known(dns) = &mut s.dns {
        for l in &mut dns.lookups {
            l.name = l.name.replace(&local_domain, &remote_domain);
        }
    }
    let Fact::Known(metrics) = &mut s.observability.metrics else {
        unreachable!()
    };
    // Not published for cross-region endpoints.
    metrics.retain(|m| m.namespace != "AWS/PrivateLinkEndpoints");
    s
}

fn supported_regions(s: &mut Snapshot) -> &mut Vec<SupportedRegion> {
    let Fact::Known(cfg) = &mut s.provider.service_configuration else {
        unreachable!()
    };
    &mut cfg.supported_regions
}

fn listener(s: &mut Snapshot) -> &mut Listener {
    let Fact::Known(lbs) = &mut s.provider.load_balancers else {
        unreachable!()
    };
    let Fact::Known(ls) = &mut lbs[0].listeners else {
        unreachable!()
    };
    &mut ls[0]
}

const IPV6_CLIENT: &str = "2600:1f18:4a3:6f03::10";
const VPC_V6: &str = "2600:1f18:4a3:6f00::/56";

/// The healthy endpoint in a dual-stack consumer VPC, reached by an IPv6-only client
/// (`--client 2600:1f18:4a3:6f03::10`), to a service that accepts both families on a
/// dual-stack NLB. Every rule on the path admits IPv6 too.
pub fn dualstack() -> Snapshot {
    let mut s = base::healthy();
    s.inputs.client = Some(IPV6_CLIENT.into());
    s.consumer.client = None;
    let c = &mut s.consumer;
    c.endpoint.ip_address_type = Some("dualstack".into());
    c.endpoint.dns_record_ip_type = Some("dualstack".into());
    let Fact::Known(subnets) = &mut c.subnets else {
        unreachable!()
    };
    for (i, sn) in subnets.iter_mut().enumerate() {
        sn.ipv6_cidr_blocks = vec![net(&format!("2600:1f18:4a3:6f0{}::/64", i + 1))];
    }
    let Fact::Known(enis) = &mut c.endpoint_enis else {
        unreachable!()
    };
    for (i, e) in enis.iter_mut().enumerate() {
        e.ipv6_addresses = vec![ip(&format!("2600:1f18:4a3:6f0{}::25", i + 1))];
    }
    let Fact::Known(acls) = &mut c.network_acls else {
        unreachable!()
    };
    // A dual-stack VPC's default ACL: rules 100 (IPv4) and 101 (IPv6) allow everything.
    for egress in [false, true] {
        acls[0].entries.push(NaclEntry {
            rule_number: 101,
            egress,
            protocol: "-1".into(),
            rule_action: "allow".into(),
            cidr: net("::/0"),
            port_range: None,
        });
    }
    let Fact::Known(groups) = &mut c.security_groups else {
        unreachable!()
    };
    groups[0].ingress.push(tcp(
        PORT,
        SgPeer::Cidr(net(VPC_V6)),
        "IPv6 clients to PrivateLink endpoint",
    ));
    let Fact::Known(view) = &mut c.service else {
        unreachable!()
    };
    view.supported_ip_address_types = vec!["ipv4".into(), "ipv6".into()];
    let Fact::Known(cfg) = &mut s.provider.service_configuration else {
        unreachable!()
    };
    cfg.supported_ip_address_types = vec!["ipv4".into(), "ipv6".into()];
    let Fact::Known(lbs) = &mut s.provider.load_balancers else {
        unreachable!()
    };
    lbs[0].ip_address_type = Some("dualstack".into());
    let Fact::Known(groups) = &mut s.provider.security_groups else {
        unreachable!()
    };
    groups[0].ingress.push(tcp(
        PORT,
        SgPeer::Cidr(net("::/0")),
        "PrivateLink clients (IPv6)",
    ));
    s
}

fn supported_types(s: &mut Snapshot, types: &[&str]) {
    let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    let Fact::Known(view) = &mut s.consumer.service else {
        unreachable!()
    };
    view.supported_ip_address_types = types.clone();
    let Fact::Known(cfg) = &mut s.provider.service_configuration else {
        unreachable!()
    };
    cfg.supported_ip_address_types = types;
}

pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();

    v.push(Scenario::new(
        "cross-region-supported",
        "A cross-region endpoint in us-east-1 to a service in eu-west-1 that supports us-east-1 (Available): the AZ check is skipped (AZs need not match across Regions), the consumer's PrivateLink metrics are absent by design.",
        cross_region(SERVICE_REGION),
        None,
        &[("az-alignment", Skip)],
    ));

    let mut s = cross_region(SERVICE_REGION);
    supported_regions(&mut s).retain(|r| r.region != REGION);
    v.push(Scenario::new(
        "cross-region-region-removed",
        "The provider removed us-east-1 from the service's supported Regions: the cross-region endpoint no longer reaches the service while every consumer-side check passes.",
        s,
        Some("service-region"),
        &[("service-region", Fail), ("az-alignment", Skip)],
    ));

    let mut s = cross_region(SERVICE_REGION);
    supported_regions(&mut s)[1].service_state = Some("Pending".into());
    v.push(Scenario::new(
        "cross-region-region-pending",
        "us-east-1 was just added to the service's supported Regions and is still Pending, not Available.",
        s,
        Some("service-region"),
        &[("service-region", Fail), ("az-alignment", Skip)],
    ));

    let mut s = cross_region(SERVICE_REGION);
    listener(&mut s).tcp_idle_timeout_seconds = Some(1800);
    v.push(Scenario::new(
        "cross-region-custom-idle-timeout",
        "The provider raised the NLB listener's TCP idle timeout to 1800 s: cross-region endpoint services do not support a custom idle timeout.",
        s,
        Some("service-region"),
        &[("service-region", Fail), ("az-alignment", Skip)],
    ));

    let mut s = cross_region(OPT_IN_REGION);
    s.consumer.regions = Fact::Known(vec![RegionOptIn {
        region: OPT_IN_REGION.into(),
        opt_in_status: "not-opted-in".into(),
    }]);
    v.push(Scenario::new(
        "cross-region-not-opted-in",
        "The service is in eu-south-2, an opt-in Region the consumer account has not enabled.",
        s,
        Some("service-region"),
        &[("service-region", Fail), ("az-alignment", Skip)],
    ));

    let mut s = cross_region(SERVICE_REGION);
    s.inputs.ports = vec![PORT];
    super::nlb::without_provider_access(&mut s);
    let Fact::Known(metrics) = &mut s.observability.metrics else {
        unreachable!()
    };
    metrics.clear();
    v.push(Scenario::new(
        "cross-region-no-provider-access",
        "A cross-region endpoint read with the consumer's credentials only: the supported Regions are the provider's, and the idle-timeout check says the consumer's metrics are not published for cross-region endpoints instead of reporting no traffic.",
        s,
        None,
        &[
            ("service-region", Unknown),
            ("allowed-principals", Unknown),
            // connection-acceptance: an available endpoint means accepted.
            ("nlb-listener", Unknown),
            ("nlb-security-group", Unknown),
            ("target-health", Unknown),
            ("target-sg-ingress", Unknown),
            ("nlb-capacity", Unknown),
            ("az-alignment", Skip),
            ("cross-zone", Unknown),
            ("idle-timeout-resets", Unknown),
        ],
    ));

    v.push(Scenario::new(
        "dualstack-ipv6-client",
        "A dual-stack endpoint with dual-stack DNS records, reached by an IPv6-only client: the security groups and network ACLs admit it through their IPv6 rules, the service accepts IPv6 on a dual-stack NLB.",
        dualstack(),
        None,
        &[("client-sg-egress", Skip)],
    ));

    let mut s = dualstack();
    s.consumer.endpoint.dns_record_ip_type = Some("service-defined".into());
    v.push(Scenario::new(
        "ipv6-client-service-defined-dns",
        "DnsRecordIpType service-defined gives the private DNS name A records only: the IPv6-only client cannot resolve it to an address.",
        s,
        Some("ip-address-type"),
        &[("client-sg-egress", Skip), ("ip-address-type", Fail)],
    ));

    let mut s = dualstack();
    supported_types(&mut s, &["ipv4"]);
    let Fact::Known(lbs) = &mut s.provider.load_balancers else {
        unreachable!()
    };
    lbs[0].ip_address_type = Some("ipv4".into());
    v.push(Scenario::new(
        "ipv6-dualstack-endpoint-ipv4-service",
        "A dual-stack endpoint to a service that accepts IPv4 only.",
        s,
        Some("ip-address-type"),
        &[("client-sg-egress", Skip), ("ip-address-type", Fail)],
    ));

    let mut s = dualstack();
    let Fact::Known(lbs) = &mut s.provider.load_balancers else {
        unreachable!()
    };
    lbs[0].ip_address_type = Some("ipv4".into());
    v.push(Scenario::new(
        "ipv6-service-nlb-not-dualstack",
        "The service accepts IPv6 but its NLB is still IPv4-only.",
        s,
        Some("ip-address-type"),
        &[("client-sg-egress", Skip), ("ip-address-type", Fail)],
    ));

    let mut s = dualstack();
    let Fact::Known(subnets) = &mut s.consumer.subnets else {
        unreachable!()
    };
    subnets[1].ipv6_cidr_blocks.clear();
    v.push(Scenario::new(
        "ipv6-subnet-without-ipv6",
        "A dual-stack endpoint with one subnet that has no IPv6 CIDR.",
        s,
        Some("ip-address-type"),
        &[("client-sg-egress", Skip), ("ip-address-type", Fail)],
    ));

    let mut s = dualstack();
    let Fact::Known(groups) = &mut s.consumer.security_groups else {
        unreachable!()
    };
    groups[0]
        .ingress
        .retain(|r| !matches!(r.peer, SgPeer::Cidr(n) if n.addr().is_ipv6()));
    let Fact::Known(p) = &mut s.probe else {
        unreachable!()
    };
    for a in &mut p.attempts {
        a.outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    }
    v.push(Scenario::new(
        "ipv6-client-endpoint-sg-ipv4-only",
        "The endpoint security group admits the VPC's IPv4 CIDR only: an IPv6 client's SYNs are dropped (no IPv6 rule), so the probe times out.",
        s,
        Some("endpoint-sg-ingress"),
        &[("endpoint-sg-ingress", Fail), ("client-sg-egress", Skip), ("connect-probe", Fail)],
    ));

    let mut s = dualstack();
    let Fact::Known(acls) = &mut s.consumer.network_acls else {
        unreachable!()
    };
    acls[0].entries.push(NaclEntry {
        rule_number: 90,
        egress: false,
        protocol: "6".into(),
        rule_action: "deny".into(),
        cidr: net("2600:1f18:4a3:6f03::/64"),
        port_range: Some(PortRange {
            from: PORT,
            to: PORT,
        }),
    });
    let Fact::Known(p) = &mut s.probe else {
        unreachable!()
    };
    for a in &mut p.attempts {
        a.outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    }
    v.push(Scenario::new(
        "ipv6-nacl-deny",
        "The network ACL denies the client's IPv6 subnet on the service port (rule 90, before the ::/0 allow).",
        s,
        Some("subnet-nacl"),
        &[("subnet-nacl", Fail), ("client-sg-egress", Skip), ("connect-probe", Fail)],
    ));
    v
}
