//! Step 5: the consumer turned private DNS on for the endpoint.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::model::{DnsNameRole, DnsOutcome, PrivateZone};
use crate::net::dns::offered_name;
use crate::net::resolver::{decide, Answerer};
use std::collections::BTreeSet;
use std::net::IpAddr;

pub static META: CheckMeta = CheckMeta {
    id: "private-dns-enabled",
    title: "Private DNS is enabled on the endpoint",
    source: "seed: Step 5, Troubleshooting runbook 3",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.endpoint.private_dns_enabled",
        "consumer.endpoint.dns_entries",
        "provider.service_configuration.private_dns_name",
        "consumer.service.private_dns_name",
        "consumer.vpc.enable_dns_support",
        "consumer.vpc.enable_dns_hostnames",
        "dns.lookups",
        "consumer.endpoint_enis",
        "consumer.dns_config.resolver_rules",
        "consumer.dns_config.hosted_zones",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointServices",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeNetworkInterfaces",
        "route53resolver:ListResolverRuleAssociations",
        "route53resolver:GetResolverRule",
        "route53:ListHostedZonesByVPC",
    ],
    provider_actions: &["ec2:DescribeVpcEndpointServiceConfigurations"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/manage-dns-names.html",
    doc: CheckDoc {
        what_it_checks: "When the service offers a private DNS name, the interface endpoint's PrivateDnsEnabled \
flag. For an endpoint to an AWS service the name is the service's own regional name (ssm.us-east-1.amazonaws.com), \
the one the AWS SDKs use: with private DNS off they go to the public endpoint instead. For S3 (and other services \
with both gateway and interface endpoints) it reports PrivateDnsOnlyForInboundResolverEndpoint: the VPC's own \
queries then go to the gateway endpoint, and only on-premises queries through a Resolver inbound endpoint to this one. Skipped when the service has no private DNS name, and when private-dns-verification failed (AWS refuses \
to enable private DNS for an unverified name, so that is the thing to fix first).",
        why_it_matters: "With private DNS off, AWS does not create the managed private hosted zone that makes the \
friendly name (payments.internal.example.com) resolve to the endpoint ENIs inside the VPC. Clients configured \
with the vpce-… names keep working, but the provider hands its consumers the friendly name and TLS certificates \
are issued for it, so in practice every client using the name breaks (NXDOMAIN, or worse, a public answer). \
That is why this is a fail rather than a warn: it is the seed's runbook 3 cause of \"DNS returns the long vpce \
name\". The one exception is a consumer that deliberately disabled it and serves the name from its own private \
hosted zone (a shared-services or hub-and-spoke DNS design): when a private hosted zone of the consumer's \
associated with the VPC covers the name and wins by Route 53 Resolver's precedence (read through \
ListHostedZonesByVPC), or the name already resolves to exactly the endpoint ENIs, this check passes and names \
the zone; whether that zone answers with this endpoint is dns-overrides' judgement.",
        how_to_fix: "`aws ec2 modify-vpc-endpoint --vpc-endpoint-id <vpce-…> --private-dns-enabled` (Terraform: \
`private_dns_enabled = true` on `aws_vpc_endpoint`, or `aws_vpc_endpoint_private_dns`). AWS refuses while the \
name is not verified (private-dns-verification) or while the VPC lacks enableDnsSupport/enableDnsHostnames \
(vpc-dns-attributes), and when a private hosted zone for the same name is already associated with the VPC \
(remove that association first).",
    },
};

/// True when the friendly name already resolves to exactly the endpoint's ENI IPs
/// (someone serves it from their own zone).
fn resolves_to_endpoint(ctx: &Context, name: &str) -> bool {
    let Some(dns) = ctx.snapshot.dns.known() else {
        return false;
    };
    let Some(enis) = ctx.snapshot.consumer.endpoint_enis.known() else {
        return false;
    };
    let want: BTreeSet<IpAddr> = enis.iter().map(|e| e.private_ip).collect();
    dns.lookups.iter().any(|l| {
        l.role == DnsNameRole::PrivateDnsName
            && l.name.trim_end_matches('.').eq_ignore_ascii_case(name)
            && matches!(&l.outcome, DnsOutcome::Answer { addresses, .. }
                if !want.is_empty() && addresses.iter().copied().collect::<BTreeSet<_>>() == want)
    })
}

/// The consumer's own private hosted zone that answers `name` in the VPC by Resolver's
/// precedence, with private DNS off (the zone a hub-and-spoke design brings instead).
fn own_zone_serving<'a>(ctx: &Context<'a>, name: &str) -> Option<&'a PrivateZone> {
    let cfg = ctx.snapshot.consumer.dns_config.known()?;
    let rules = cfg.resolver_rules.known()?;
    let zones = cfg.hosted_zones.known()?;
    match decide(name, false, None, rules, zones).winner {
        Answerer::Zone(z) if z.owning_service.is_none() => Some(z),
        _ => None,
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let offered = match offered_name(s) {
        Ok(Some(o)) => o,
        Ok(None) => return Outcome::skip("the service offers no private DNS name"),
        Err(m) if !ep.private_dns_enabled => {
            return Outcome::missing("whether the service offers a private DNS name", m)
        }
        Err(_) => {
            return Outcome::pass(format!("private DNS is enabled on {}", ep.id))
                .evidence("private_dns_enabled", true)
        }
    };
    let evidence = serde_json::json!({
        "endpoint_id": ep.id,
        "private_dns_enabled": ep.private_dns_enabled,
        "private_dns_name": offered.name,
        "dns_entries": ep.dns_entries.iter().map(|d| d.dns_name.as_str()).collect::<Vec<_>>(),
    });
    let aws_service =
        crate::endpoint_type::service_kind(s) == crate::endpoint_type::ServiceKind::AwsService;
    if ep.private_dns_enabled {
        let out = Outcome::pass(format!(
            "private DNS is enabled on {} for {}",
            ep.id, offered.name
        ))
        .evidence("endpoint", evidence);
        return match ep.private_dns_only_for_inbound_resolver_endpoint {
            Some(true) => out
                .detail(format!(
                    "for inbound Resolver endpoints only (PrivateDnsOnlyForInboundResolverEndpoint): queries from {} itself resolve {} for the VPC's gateway endpoint, which carries its traffic; queries forwarded from on premises through a Route 53 Resolver inbound endpoint get this endpoint's addresses. In-VPC clients reach this endpoint only through its own names ({}).",
                    ep.vpc_id,
                    offered.name,
                    ep.dns_entries.first().map(|d| d.dns_name.as_str()).unwrap_or("its vpce-… names")
                ))
                .evidence("private_dns_only_for_inbound_resolver_endpoint", true),
            _ => out,
        };
    }
    if let Some(z) = own_zone_serving(ctx, offered.name) {
        return Outcome::pass(format!(
            "private DNS is off on {} by choice: private hosted zone {} ({}) of this VPC serves {} instead (dns-overrides judges its record)",
            ep.id, z.id, z.name, offered.name
        ))
        .evidence("endpoint", evidence)
        .evidence("serving_zone", serde_json::json!({"id": z.id, "name": z.name}));
    }
    if let Some(p) = ctx.failed_prerequisite(&["private-dns-verification"]) {
        return Outcome::skip(format!(
            "prerequisite private-dns-verification failed: {}; AWS refuses to enable private DNS on {} until the name is verified",
            p.summary, ep.id
        ))
        .evidence("endpoint", evidence);
    }
    if resolves_to_endpoint(ctx, offered.name) {
        return Outcome::pass(format!(
            "private DNS is disabled on {}, but {} already resolves to exactly its ENIs (served by a zone of your own)",
            ep.id, offered.name
        ))
        .evidence("endpoint", evidence)
        .detail("Keep that zone in step with the endpoint: an alias or CNAME to the endpoint's regional DNS name survives ENI changes; A records do not.");
    }
    let mut out = if aws_service {
        Outcome::fail(format!(
            "private DNS is disabled on {}: the AWS SDKs and CLI resolve {} to the service's public endpoint, so they never use this endpoint (from a subnet without a NAT or internet route, their calls time out)",
            ep.id, offered.name
        ))
    } else {
        Outcome::fail(format!(
            "private DNS is disabled on {}: {} does not resolve to the endpoint inside {}; only clients using the vpce-… names work",
            ep.id, offered.name, ep.vpc_id
        ))
    }
    .evidence("endpoint", evidence);
    let mut prereqs = Vec::new();
    if !offered.is_verified() {
        prereqs.push(format!(
            "the name is {} (not verified), and AWS refuses until it is",
            offered.state.unwrap_or("in an unknown verification state")
        ));
    }
    if let Some(vpc) = s.consumer.vpc.known() {
        for (attr, fact) in [
            ("enableDnsSupport", &vpc.enable_dns_support),
            ("enableDnsHostnames", &vpc.enable_dns_hostnames),
        ] {
            if fact.known() == Some(&false) {
                prereqs.push(format!(
                    "{} has {attr} off (see vpc-dns-attributes)",
                    vpc.id
                ));
            }
        }
    }
    if !prereqs.is_empty() {
        out = out.detail(format!("Before enabling: {}.", prereqs.join("; ")));
    }
    out.remediation(format!(
        "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --private-dns-enabled (Terraform: private_dns_enabled = true on the aws_vpc_endpoint for {}). AWS refuses if a private hosted zone for {} is already associated with {}: remove that association first.",
        ep.id, ep.service_name, offered.name, ep.vpc_id
    ))
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{CheckResult, EvalOptions, Status};
    use crate::fact::Fact;
    use crate::model::Snapshot;
    use crate::scenarios::base::healthy;

    fn run_with(s: &Snapshot, prior: &[CheckResult]) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), prior))
    }

    fn disabled() -> Snapshot {
        let mut s = healthy();
        s.consumer.endpoint.private_dns_enabled = false;
        if let Fact::Known(d) = &mut s.dns {
            d.lookups[0].outcome = DnsOutcome::NoData;
        }
        s
    }

    #[test]
    fn disabled_fails_with_the_endpoint_id_in_the_command() {
        let o = run_with(&disabled(), &[]);
        assert_eq!(o.status, Status::Fail);
        assert!(o.remediation.unwrap().contains(
            "modify-vpc-endpoint --vpc-endpoint-id vpce-0a1b2c3d4e5f6a7b8 --private-dns-enabled"
        ));
    }

    #[test]
    fn unverified_name_is_a_prerequisite_not_a_second_failure() {
        let prior = [CheckResult {
            id: "private-dns-verification".into(),
            step: 11,
            title: String::new(),
            status: Status::Fail,
            summary: "pendingVerification".into(),
            details: vec![],
            evidence: Default::default(),
            remediation: None,
            fingerprint: None,
            changes: None,
        }];
        let o = run_with(&disabled(), &prior);
        assert_eq!(o.status, Status::Skip);
        assert!(o.summary.contains("AWS refuses"));
    }

    #[test]
    fn own_zone_answering_with_the_enis_passes() {
        let mut s = disabled();
        if let Fact::Known(d) = &mut s.dns {
            d.lookups[0].outcome = DnsOutcome::Answer {
                addresses: vec!["10.0.2.25".parse().unwrap(), "10.0.1.25".parse().unwrap()],
                cname_chain: vec![],
            };
        }
        assert_eq!(run_with(&s, &[]).status, Status::Pass);
    }

    #[test]
    fn vpc_attributes_off_are_named_as_prerequisites() {
        let mut s = disabled();
        if let Fact::Known(v) = &mut s.consumer.vpc {
            v.enable_dns_hostnames = Fact::Known(false);
        }
        let o = run_with(&s, &[]);
        assert!(o
            .details
            .iter()
            .any(|d| d.contains("enableDnsHostnames off")));
    }
}
