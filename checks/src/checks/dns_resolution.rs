//! Verify 4 / runbook 3: the endpoint's names resolve to exactly its ENI addresses.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity, Status};
use crate::model::{
    DnsLookup, DnsNameRole, DnsOutcome, NetworkInterface, Snapshot, VantageLocation,
};
use crate::net::dns::{amazon_resolvers, is_public, offered_name, resolver_ip};
use std::collections::BTreeSet;
use std::net::IpAddr;

pub static META: CheckMeta = CheckMeta {
    id: "dns-resolution",
    title: "Endpoint names resolve to the endpoint ENIs",
    source: "seed: Verify 4, Troubleshooting runbook 3",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "dns.resolver",
        "dns.lookups",
        "consumer.endpoint_enis",
        "consumer.endpoint.id",
        "consumer.vpc.cidr_blocks",
        "consumer.vpc.dhcp_options_id",
        "vantage",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
    ],
    provider_actions: &[],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-customer-owned-services.html",
    doc: CheckDoc {
        what_it_checks: "The resolver's answers for the service's private DNS name and the endpoint's regional and \
zonal vpce-… names, against the endpoint ENIs' addresses. Exactly the ENI addresses: pass. A subset: warn, naming \
the AZ whose ENI is missing. Public addresses, addresses that are not the endpoint's, NXDOMAIN, no A records, or a \
CNAME to another endpoint's vpce-… name: fail, naming the cause from private-dns-verification, \
private-dns-enabled, vpc-dns-attributes and dns-overrides (the DHCP option set, Resolver rule or private hosted \
zone that answers instead), and saying when the configuration and the answers agree. A zonal name answering with \
another AZ's ENI fails. Timeouts and SERVFAIL are unknown (the resolver is named). Answers are judged from where \
pl-doctor ran (`vantage` in the evidence and the snapshot, from the instance metadata service on EC2): on an \
instance in the endpoint's VPC, a private name that does not resolve to the ENIs fails whatever the resolver \
(systemd-resolved's 127.0.0.53 stub included; its upstream servers are reported); on an instance in another VPC, \
or off EC2, a private name that fails while the configuration checks pass and the regional name resolves to the \
ENIs is unknown, naming where pl-doctor ran and what follows (that VPC's DNS decides; off EC2, ask the VPC's \
resolver). Snapshots without a recorded vantage are judged from the resolver address as before.",
        why_it_matters: "Clients connect to whatever the name resolves to. If the private name is not answered by \
the endpoint's private hosted zone, private DNS is not effective (seed runbook 3): clients get NXDOMAIN, the \
provider's public address (traffic leaves PrivateLink), or a stale endpoint. A missing AZ silently removes \
that AZ's ENI from rotation.",
        how_to_fix: "Fix the cause named: publish the verification TXT record (private-dns-verification), \
`aws ec2 modify-vpc-endpoint --vpc-endpoint-id <vpce-…> --private-dns-enabled` (private-dns-enabled), \
`aws ec2 modify-vpc-attribute --vpc-id <vpc-…> --enable-dns-hostnames '{\"Value\":true}'` (vpc-dns-attributes). \
When those pass, find what answers instead: `aws ec2 describe-dhcp-options --dhcp-options-ids <dopt-…>` (custom \
domain-name-servers must forward the name to the VPC resolver at the CIDR base + 2, e.g. with a Route 53 Resolver \
inbound endpoint), `aws route53 list-hosted-zones-by-vpc --vpc-id <vpc-…> --vpc-region <region>` (a private hosted \
zone of yours for the same name overrides AWS's), and `aws route53resolver list-resolver-rule-associations \
--filters Name=VPCId,Values=<vpc-…>` (a forwarding rule sends the name elsewhere). Verify from an instance in the \
VPC with `dig +short <name> @<VPC CIDR base + 2>`.",
    },
};

/// What one answer says about the endpoint.
#[derive(Debug, Clone, PartialEq)]
enum Reading {
    /// Exactly the expected ENI addresses.
    Exact {
        via_cname: Vec<String>,
    },
    /// Some ENI addresses; the AZs of the missing ones.
    Partial {
        missing_azs: Vec<String>,
    },
    /// A zonal name answered with another AZ's ENI.
    WrongZone {
        expected_az: String,
        got: Vec<IpAddr>,
    },
    /// A CNAME to some other endpoint's vpce-… name.
    OtherEndpoint {
        chain: Vec<String>,
        addresses: Vec<IpAddr>,
    },
    Public {
        addresses: Vec<IpAddr>,
        chain: Vec<String>,
    },
    Foreign {
        addresses: Vec<IpAddr>,
        chain: Vec<String>,
    },
    NotFound {
        what: &'static str,
    },
    NoAnswer {
        what: String,
    },
}

impl Reading {
    fn status(&self) -> Status {
        match self {
            Reading::Exact { via_cname } if via_cname.is_empty() => Status::Pass,
            Reading::Exact { .. } | Reading::Partial { .. } => Status::Warn,
            Reading::NoAnswer { .. } => Status::Unknown,
            _ => Status::Fail,
        }
    }

    fn describe(&self) -> String {
        let ips = |a: &[IpAddr]| {
            a.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Reading::Exact { via_cname } if via_cname.is_empty() => "the endpoint ENIs".into(),
            Reading::Exact { via_cname } => format!(
                "the endpoint ENIs, but through CNAME {}: a zone of your own answers, not AWS's private DNS",
                via_cname.join(" -> ")
            ),
            Reading::Partial { missing_azs } => {
                format!("only some ENIs; missing the ENI in {}", missing_azs.join(", "))
            }
            Reading::WrongZone { expected_az, got } => {
                format!("{} instead of the {expected_az} ENI", ips(got))
            }
            Reading::OtherEndpoint { chain, addresses } => format!(
                "CNAME {} -> {}: another endpoint's name, not this endpoint",
                chain.join(" -> "),
                ips(addresses)
            ),
            Reading::Public { addresses, .. } => {
                format!("public address(es) {}: public DNS answered, not the endpoint's private zone", ips(addresses))
            }
            Reading::Foreign { addresses, .. } => {
                format!("{}, which are not this endpoint's ENIs", ips(addresses))
            }
            Reading::NotFound { what } => (*what).into(),
            Reading::NoAnswer { what } => what.clone(),
        }
    }
}

/// The AZ a zonal name is for: its endpoint label (the first, or for a name asked under
/// a wildcard such as S3's `bucket.vpce-…`, the `vpce-…` one) ends with `-<AZ name>`.
fn zonal_az<'a>(name: &str, enis: &'a [NetworkInterface]) -> Option<&'a str> {
    let first = name
        .split('.')
        .find(|l| l.starts_with("vpce-"))
        .or_else(|| name.split('.').next())?;
    enis.iter()
        .map(|e| e.availability_zone.as_str())
        .find(|az| first.ends_with(&format!("-{az}")))
}

fn read(lookup: &DnsLookup, enis: &[NetworkInterface], endpoint_id: &str) -> Reading {
    let (addresses, chain) = match &lookup.outcome {
        DnsOutcome::Answer {
            addresses,
            cname_chain,
        } if !addresses.is_empty() => (addresses, cname_chain),
        DnsOutcome::Answer { .. } | DnsOutcome::NoData => {
            return Reading::NotFound {
                what: "no A/AAAA records (NOERROR, no data)",
            }
        }
        DnsOutcome::NxDomain => return Reading::NotFound { what: "NXDOMAIN" },
        DnsOutcome::ServFail => {
            return Reading::NoAnswer {
                what: "SERVFAIL".into(),
            }
        }
        DnsOutcome::Timeout { after_ms } => {
            return Reading::NoAnswer {
                what: format!("no answer within {after_ms} ms"),
            }
        }
        DnsOutcome::Error { message } => {
            return Reading::NoAnswer {
                what: format!("lookup error: {message}"),
            }
        }
    };
    let got: BTreeSet<IpAddr> = addresses.iter().copied().collect();
    let eni_of = |ip: &IpAddr| {
        enis.iter()
            .find(|e| e.private_ip == *ip || e.ipv6_addresses.contains(ip))
    };
    let other_endpoint: Vec<String> = chain
        .iter()
        .filter(|c| c.contains(".vpce.amazonaws.com") && !c.starts_with(&format!("{endpoint_id}-")))
        .cloned()
        .collect();
    if !other_endpoint.is_empty() && !got.iter().all(|ip| eni_of(ip).is_some()) {
        return Reading::OtherEndpoint {
            chain: chain.clone(),
            addresses: addresses.clone(),
        };
    }
    if got.iter().any(|ip| is_public(*ip)) {
        return Reading::Public {
            addresses: addresses.clone(),
            chain: chain.clone(),
        };
    }
    if !got.iter().all(|ip| eni_of(ip).is_some()) {
        return Reading::Foreign {
            addresses: addresses.clone(),
            chain: chain.clone(),
        };
    }
    if lookup.role == DnsNameRole::Zonal {
        if let Some(az) = zonal_az(&lookup.name, enis) {
            return if got
                .iter()
                .all(|ip| eni_of(ip).is_some_and(|e| e.availability_zone == az))
            {
                Reading::Exact { via_cname: vec![] }
            } else {
                Reading::WrongZone {
                    expected_az: az.to_owned(),
                    got: addresses.clone(),
                }
            };
        }
        return Reading::Exact { via_cname: vec![] };
    }
    let missing_azs: Vec<String> = enis
        .iter()
        .filter(|e| !got.contains(&e.private_ip))
        .map(|e| e.availability_zone.clone())
        .collect();
    if !missing_azs.is_empty() {
        return Reading::Partial { missing_azs };
    }
    // AWS's managed zone answers the private name with A records; a CNAME means another zone answers.
    let via_cname = if lookup.role == DnsNameRole::PrivateDnsName {
        chain.clone()
    } else {
        vec![]
    };
    Reading::Exact { via_cname }
}

fn worst(a: Status, b: Status) -> Status {
    let rank = |s: Status| match s {
        Status::Fail => 4,
        Status::Unknown => 3,
        Status::Warn => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let dns = crate::known_or_unknown!(&s.dns, "DNS answers for the endpoint's names");
    let enis = crate::known_or_unknown!(&s.consumer.endpoint_enis, "the endpoint ENIs' addresses");
    let ep = &s.consumer.endpoint;
    if dns.lookups.is_empty() {
        return Outcome::unknown(format!(
            "no DNS lookups were recorded (resolver {})",
            dns.resolver
        ));
    }
    if enis.is_empty() {
        return Outcome::unknown(format!(
            "{} has no network interfaces to compare DNS answers with",
            ep.id
        ));
    }
    let readings: Vec<(&DnsLookup, Reading)> = dns
        .lookups
        .iter()
        .map(|l| (l, read(l, enis, &ep.id)))
        .collect();
    let status = readings
        .iter()
        .fold(Status::Pass, |acc, (_, r)| worst(acc, r.status()));
    let eni_evidence: Vec<_> = enis
        .iter()
        .map(|e| serde_json::json!({"eni": e.id, "az": e.availability_zone, "ip": e.private_ip}))
        .collect();
    let lookup_evidence: Vec<_> = readings
        .iter()
        .map(|(l, r)| {
            serde_json::json!({
                "name": l.name, "role": l.role, "outcome": l.outcome,
                "status": r.status(), "reading": r.describe(),
            })
        })
        .collect();
    let lines: Vec<String> = readings
        .iter()
        .map(|(l, r)| format!("{} ({}): {}", l.name, role_name(l.role), r.describe()))
        .collect();
    let base = |o: Outcome| {
        o.evidence("resolver", &dns.resolver)
            .evidence("endpoint_enis", &eni_evidence)
            .evidence("lookups", &lookup_evidence)
            .details(lines.clone())
    };
    let (_, vantage_evidence) = vantage(s);
    let base = |o: Outcome| base(o).evidence("vantage", &vantage_evidence);
    match status {
        Status::Pass => {
            let mut o = base(Outcome::pass(format!(
                "every name resolves to exactly the {} endpoint ENI address(es) (resolver {})",
                enis.len(),
                dns.resolver
            )));
            if let Some(r) = ctx
                .prior("dns-overrides")
                .filter(|r| r.status == Status::Pass)
            {
                o = o.detail(format!("Configuration and answers agree: {}", r.summary));
            }
            o
        }
        Status::Warn => {
            let bad: Vec<String> = readings
                .iter()
                .filter(|(_, r)| r.status() == Status::Warn)
                .map(|(l, r)| format!("{} resolves to {}", l.name, r.describe()))
                .collect();
            base(Outcome::warn(bad.join("; "))).remediation(format!(
                "Check the endpoint's subnets and ENIs: aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {} --query 'VpcEndpoints[0].[SubnetIds,NetworkInterfaceIds]'; if a zone of your own answers, make its record an alias or CNAME to {} so it follows the endpoint.",
                ep.id,
                ep.dns_entries.first().map(|d| d.dns_name.as_str()).unwrap_or(ep.id.as_str())
            ))
        }
        Status::Unknown => {
            let bad: Vec<String> = readings
                .iter()
                .filter(|(_, r)| r.status() == Status::Unknown)
                .map(|(l, r)| format!("{}: {}", l.name, r.describe()))
                .collect();
            base(Outcome::unknown(format!(
                "resolver {} did not answer: {}",
                dns.resolver,
                bad.join("; ")
            )))
            .detail("Re-run with --resolver <VPC CIDR base + 2> from inside the VPC, or check that the resolver is reachable on UDP/TCP 53.")
        }
        _ => fail_or_vantage(ctx, &readings, base),
    }
}

/// Where pl-doctor ran, relative to the endpoint's VPC.
#[derive(Debug, Clone, PartialEq)]
enum Where {
    EndpointVpc,
    OtherVpc(String),
    /// Not on EC2 (no instance metadata answered).
    Outside,
    /// Not recorded (a snapshot from before vantage was collected) or no VPC in the metadata.
    Unrecorded,
}

/// Where pl-doctor ran, and the evidence saying so and how it was found out.
fn vantage(s: &Snapshot) -> (Where, serde_json::Value) {
    let ep_vpc = &s.consumer.endpoint.vpc_id;
    match &s.vantage {
        Some(v) => {
            let place = match (v.location, &v.vpc_id) {
                (VantageLocation::Ec2, Some(vpc)) if vpc == ep_vpc => Where::EndpointVpc,
                (VantageLocation::Ec2, Some(vpc)) => Where::OtherVpc(vpc.clone()),
                (VantageLocation::Ec2, None) => Where::Unrecorded,
                (VantageLocation::NotEc2, _) => Where::Outside,
            };
            let name = match &place {
                Where::EndpointVpc => "endpoint_vpc",
                Where::OtherVpc(_) => "other_vpc",
                Where::Outside => "outside_vpc",
                Where::Unrecorded => "unknown",
            };
            let evidence = serde_json::json!({
                "where": name,
                "how": v.how,
                "instance_id": v.instance_id,
                "vpc_id": v.vpc_id,
                "subnet_id": v.subnet_id,
                "stub_upstreams": v.stub_upstreams,
            });
            (place, evidence)
        }
        None => (
            Where::Unrecorded,
            serde_json::json!({
                "where": "unknown",
                "how": "not recorded in this snapshot: judged from the resolver address",
            }),
        ),
    }
}

fn role_name(r: DnsNameRole) -> &'static str {
    match r {
        DnsNameRole::PrivateDnsName => "private DNS name",
        DnsNameRole::Regional => "regional",
        DnsNameRole::Zonal => "zonal",
    }
}

fn fail_or_vantage(
    ctx: &Context,
    readings: &[(&DnsLookup, Reading)],
    base: impl Fn(Outcome) -> Outcome,
) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let dns = s.dns.known().expect("checked by evaluate");
    let vpc = s.consumer.vpc.known();
    let failed: Vec<&(&DnsLookup, Reading)> = readings
        .iter()
        .filter(|(_, r)| r.status() == Status::Fail)
        .collect();
    let private_failed_only = failed.iter().all(|(l, r)| {
        l.role == DnsNameRole::PrivateDnsName
            && matches!(r, Reading::NotFound { .. } | Reading::Public { .. })
    });
    let regional_ok = readings
        .iter()
        .any(|(l, r)| l.role == DnsNameRole::Regional && matches!(r, Reading::Exact { .. }));
    let config_ok = [
        "private-dns-verification",
        "private-dns-enabled",
        "vpc-dns-attributes",
    ]
    .iter()
    .all(|id| ctx.prior(id).is_some_and(|r| r.status == Status::Pass))
        && !ctx
            .prior("dns-overrides")
            .is_some_and(|r| matches!(r.status, Status::Fail | Status::Warn));
    let resolver = resolver_ip(&dns.resolver);
    let asked_the_vpc = resolver.is_some_and(|ip| {
        vpc.is_some_and(|v| {
            amazon_resolvers(&v.cidr_blocks).contains(&ip)
                || v.cidr_blocks.iter().any(|c| c.contains(&ip))
        })
    });
    let vpc_resolver = vpc
        .and_then(|v| amazon_resolvers(&v.cidr_blocks).first().copied())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "169.254.169.253".into());
    let (place, vantage_evidence) = vantage(s);
    let base = |o: Outcome| base(o).evidence("vantage", &vantage_evidence);
    let elsewhere = match &place {
        Where::EndpointVpc => false,
        Where::OtherVpc(_) => true,
        Where::Outside | Where::Unrecorded => !asked_the_vpc,
    };
    let name = offered_name(s).ok().flatten().map(|o| o.name.to_owned());
    let name = name.as_deref().unwrap_or("the private DNS name");
    let regional = ep
        .dns_entries
        .first()
        .map(|d| d.dns_name.as_str())
        .unwrap_or(ep.id.as_str());
    if private_failed_only && regional_ok && config_ok && elsewhere {
        let v = s.vantage.as_ref();
        if let Where::OtherVpc(other) = &place {
            let instance = v
                .and_then(|v| v.instance_id.as_deref())
                .unwrap_or("this instance");
            return base(Outcome::unknown(format!(
                "pl-doctor runs in {other} ({instance}, from the instance metadata), not in the endpoint's {}: {other}'s DNS decides what this host gets for {name}, and AWS's private DNS zone for the endpoint is associated only with {}",
                ep.vpc_id, ep.vpc_id
            )))
            .detail(format!(
                "To use the endpoint from {other}, associate a private hosted zone for {name} (an alias to {regional}) with {other}, or resolve through {}'s resolver ({vpc_resolver}) via a Resolver inbound endpoint; to judge the endpoint's own VPC, run pl-doctor on an instance in {}.",
                ep.vpc_id, ep.vpc_id
            ));
        }
        if place == Where::Outside {
            let how = v.map(|v| v.how.as_str()).unwrap_or_default();
            return base(Outcome::unknown(format!(
                "pl-doctor is not on EC2 ({how}): the private DNS name does not resolve privately from here, but the configuration is right and the regional name resolves to the ENIs (resolver {})",
                dns.resolver
            )))
            .detail(format!(
                "Run pl-doctor from an instance inside {}, or give --resolver {vpc_resolver} (the VPC's Amazon-provided DNS) from a host that can reach it.",
                ep.vpc_id
            ));
        }
        return base(Outcome::unknown(format!(
            "the private DNS name does not resolve privately from here, but the configuration is right and the regional name resolves to the ENIs: pl-doctor most likely ran outside {} (resolver {})",
            ep.vpc_id, dns.resolver
        )))
        .evidence(
            "vantage",
            serde_json::json!({
                "where": "outside_vpc",
                "how": "inferred: no vantage recorded, and the resolver asked is not the VPC's",
            }),
        )
        .detail(format!(
            "Run pl-doctor from an instance inside {}, or give --resolver {vpc_resolver} (the VPC's Amazon-provided DNS) from a host that can reach it.",
            ep.vpc_id
        ));
    }
    let first = failed
        .first()
        .map(|(l, r)| format!("{} resolves to {}", l.name, r.describe()));
    let causes: Vec<&str> = [
        "private-dns-verification",
        "private-dns-enabled",
        "vpc-dns-attributes",
        "dns-overrides",
    ]
    .into_iter()
    .filter(|id| {
        ctx.prior(id).is_some_and(|r| {
            r.status == Status::Fail || (*id == "dns-overrides" && r.status == Status::Warn)
        })
    })
    .collect();
    let overrides = ctx.prior("dns-overrides");
    let (cause, remediation) = if let Some(c) = causes.first().filter(|c| **c == "dns-overrides") {
        let prior = overrides.expect("filtered above");
        (
            format!(
                "configuration and answers agree: dns-overrides found {}",
                prior.summary
            ),
            prior
                .remediation
                .clone()
                .unwrap_or_else(|| format!("see pl-doctor explain {c}")),
        )
    } else if let Some(c) = causes.first() {
        let prior = ctx.prior(c).expect("filtered above");
        (
            format!("likely cause: {c} failed ({})", prior.summary),
            format!(
                "Fix {c} first: {}",
                prior
                    .remediation
                    .clone()
                    .unwrap_or_else(|| format!("see pl-doctor explain {c}"))
            ),
        )
    } else if overrides.is_some_and(|r| r.status == Status::Pass) {
        let vpc_id = &ep.vpc_id;
        (
            format!(
                "the VPC's DNS configuration is right ({}), so what answers sits between this host and the VPC resolver: the host's resolver configuration or a DNS forwarder it uses",
                overrides.map(|r| r.summary.as_str()).unwrap_or_default()
            ),
            format!(
                "Compare with the VPC resolver from an instance in {vpc_id}: dig +short {name} @{vpc_resolver}; if that answers with the ENIs, fix the host's resolver (/etc/resolv.conf, systemd-resolved's DNS= servers) or the forwarder so it asks {vpc_resolver} for {name}."
            ),
        )
    } else {
        let vpc_id = &ep.vpc_id;
        let dopt = vpc
            .and_then(|v| v.dhcp_options_id.clone())
            .map(|d| format!("aws ec2 describe-dhcp-options --dhcp-options-ids {d} (custom domain-name-servers must forward {name} to the VPC resolver {vpc_resolver}, e.g. through a Route 53 Resolver inbound endpoint, or use AmazonProvidedDNS); "))
            .unwrap_or_default();
        (
            "private DNS is configured correctly, so something else answers for the name: a custom DHCP option set whose DNS servers do not ask the VPC resolver, a private hosted zone of yours for the same name, or a Resolver forwarding rule".to_owned(),
            format!(
                "Find what answers instead: {dopt}aws route53 list-hosted-zones-by-vpc --vpc-id {vpc_id} --vpc-region {region}; aws route53resolver list-resolver-rule-associations --filters Name=VPCId,Values={vpc_id}. Remove the override (or point it at {regional}), then check from an instance in {vpc_id}: dig +short {name} @{vpc_resolver}",
                region = s.region,
                regional = ep.dns_entries.first().map(|d| d.dns_name.as_str()).unwrap_or(ep.id.as_str()),
            ),
        )
    };
    let mut out = base(Outcome::fail(format!(
        "{}: private DNS is not effective; {cause}",
        first.unwrap_or_default()
    )))
    .remediation(remediation);
    if place == Where::EndpointVpc {
        let v = s
            .vantage
            .as_ref()
            .expect("EndpointVpc comes from a vantage");
        out = out.detail(format!(
            "pl-doctor ran inside {} ({}{}; {}): this is what clients there get",
            ep.vpc_id,
            v.instance_id.as_deref().unwrap_or("an instance"),
            v.subnet_id
                .as_deref()
                .map(|sn| format!(", {sn}"))
                .unwrap_or_default(),
            v.how
        ));
        if dns.resolver.starts_with("system") && !v.stub_upstreams.is_empty() {
            out = out.detail(format!(
                "The host resolver is systemd-resolved's stub (127.0.0.53), forwarding to {}",
                v.stub_upstreams.join(", ")
            ));
        }
    }
    out
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{CheckResult, EvalOptions};
    use crate::fact::Fact;
    use crate::model::Snapshot;
    use crate::scenarios::base::healthy;

    fn passed(ids: &[&str]) -> Vec<CheckResult> {
        ids.iter()
            .map(|id| CheckResult {
                id: id.to_string(),
                step: 0,
                title: String::new(),
                status: Status::Pass,
                summary: String::new(),
                details: vec![],
                evidence: Default::default(),
                remediation: None,
                fingerprint: None,
                changes: None,
            })
            .collect()
    }

    const CONFIG: [&str; 3] = [
        "private-dns-verification",
        "private-dns-enabled",
        "vpc-dns-attributes",
    ];

    fn run(s: &Snapshot, prior: &[CheckResult]) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), prior))
    }

    fn set(s: &mut Snapshot, i: usize, outcome: DnsOutcome) {
        if let Fact::Known(d) = &mut s.dns {
            d.lookups[i].outcome = outcome;
        }
    }

    fn answer(ips: &[&str], chain: &[&str]) -> DnsOutcome {
        DnsOutcome::Answer {
            addresses: ips.iter().map(|i| i.parse().unwrap()).collect(),
            cname_chain: chain.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn missing_az_warns_naming_the_az() {
        let mut s = healthy();
        set(&mut s, 0, answer(&["10.0.1.25"], &[]));
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("us-east-1b"), "{}", o.summary);
    }

    #[test]
    fn zonal_name_answering_with_another_zone_fails() {
        let mut s = healthy();
        set(&mut s, 2, answer(&["10.0.2.25"], &[]));
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("instead of the us-east-1a ENI"),
            "{}",
            o.summary
        );
    }

    #[test]
    fn nxdomain_names_the_failed_configuration_check() {
        let mut s = healthy();
        set(&mut s, 0, DnsOutcome::NxDomain);
        let mut prior = passed(&CONFIG);
        prior[1].status = Status::Fail;
        prior[1].summary = "private DNS is disabled".into();
        let o = run(&s, &prior);
        assert_eq!(o.status, Status::Fail);
        assert!(o
            .summary
            .contains("likely cause: private-dns-enabled failed"));
    }

    #[test]
    fn outside_the_vpc_is_unknown_not_a_configuration_failure() {
        let mut s = healthy();
        set(&mut s, 0, answer(&["52.20.114.37"], &[]));
        if let Fact::Known(d) = &mut s.dns {
            d.resolver = "system".into();
        }
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Unknown);
        assert_eq!(o.evidence["vantage"]["where"], "outside_vpc");
        assert!(o.details.iter().any(|d| d.contains("--resolver 10.0.0.2")));
    }

    #[test]
    fn the_vpc_resolver_answering_publicly_is_a_real_failure() {
        let mut s = healthy();
        set(&mut s, 0, answer(&["52.20.114.37"], &[]));
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Fail);
        assert!(o
            .remediation
            .unwrap()
            .contains("describe-dhcp-options --dhcp-options-ids dopt-0a1b2c3d"));
    }

    #[test]
    fn cname_to_another_endpoint_fails_and_to_this_one_warns() {
        let mut s = healthy();
        set(
            &mut s,
            0,
            answer(&["10.60.1.44"], &["vpce-0f9e8d7c6b5a49382-k2j3h4g5.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com"]),
        );
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("another endpoint's name"));

        let regional = s.consumer.endpoint.dns_entries[0].dns_name.clone();
        set(&mut s, 0, answer(&["10.0.1.25", "10.0.2.25"], &[&regional]));
        assert_eq!(run(&s, &passed(&CONFIG)).status, Status::Warn);
    }

    #[test]
    fn timeouts_are_unknown_naming_the_resolver() {
        let mut s = healthy();
        set(&mut s, 1, DnsOutcome::Timeout { after_ms: 2000 });
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("10.0.0.2:53"));
    }

    #[test]
    fn zonal_az_is_read_from_the_first_label() {
        let s = healthy();
        let enis = s.consumer.endpoint_enis.known().unwrap();
        let name = &s.consumer.endpoint.dns_entries[1].dns_name;
        assert_eq!(zonal_az(name, enis), Some("us-east-1a"));
        assert_eq!(
            zonal_az(&s.consumer.endpoint.dns_entries[0].dns_name, enis),
            None
        );
    }

    fn on_ec2_in(s: &mut Snapshot, vpc: &str) {
        s.vantage = Some(crate::model::Vantage {
            location: VantageLocation::Ec2,
            how: "instance metadata (IMDSv2)".into(),
            instance_id: Some("i-0123456789abcdef0".into()),
            vpc_id: Some(vpc.into()),
            subnet_id: Some("subnet-0a1b2c3d4e5f60003".into()),
            region: Some("us-east-1".into()),
            stub_upstreams: vec!["10.0.0.2".into()],
        });
        if let Fact::Known(d) = &mut s.dns {
            d.resolver = "system".into();
        }
    }

    #[test]
    fn inside_the_endpoints_vpc_a_failing_private_name_fails_whatever_the_resolver() {
        let mut s = healthy();
        set(&mut s, 0, DnsOutcome::NxDomain);
        on_ec2_in(&mut s, "vpc-0c0a5e1b2d3f4a5b6");
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Fail, "{}", o.summary);
        assert_eq!(o.evidence["vantage"]["where"], "endpoint_vpc");
        assert_eq!(o.evidence["vantage"]["how"], "instance metadata (IMDSv2)");
        assert!(
            o.details
                .iter()
                .any(|d| d.contains("systemd-resolved") && d.contains("10.0.0.2")),
            "{:?}",
            o.details
        );
    }

    #[test]
    fn in_another_vpc_the_reading_names_that_vpc() {
        let mut s = healthy();
        set(&mut s, 0, DnsOutcome::NxDomain);
        on_ec2_in(&mut s, "vpc-0ffeeffeeffeeffee");
        let o = run(&s, &passed(&CONFIG));
        assert_eq!(o.status, Status::Unknown);
        assert!(
            o.summary
                .contains("pl-doctor runs in vpc-0ffeeffeeffeeffee"),
            "{}",
            o.summary
        );
        assert_eq!(o.evidence["vantage"]["where"], "other_vpc");
    }

    #[test]
    fn the_cause_dns_overrides_found_is_named_and_agreement_is_said() {
        let mut s = healthy();
        set(&mut s, 0, DnsOutcome::NxDomain);
        let mut prior = passed(&CONFIG);
        prior.push(CheckResult {
            id: "dns-overrides".into(),
            step: 0,
            title: String::new(),
            status: Status::Fail,
            summary: "Resolver rule rslvr-rr-1 forwards it".into(),
            details: vec![],
            evidence: Default::default(),
            remediation: Some("disassociate rslvr-rr-1".into()),
            fingerprint: None,
            changes: None,
        });
        let o = run(&s, &prior);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains(
                "configuration and answers agree: dns-overrides found Resolver rule rslvr-rr-1"
            ),
            "{}",
            o.summary
        );
        assert_eq!(o.remediation.as_deref(), Some("disassociate rslvr-rr-1"));
        let mut prior = passed(&CONFIG);
        prior.extend(passed(&["dns-overrides"]));
        let o = run(&healthy(), &prior);
        assert!(o
            .details
            .iter()
            .any(|d| d.starts_with("Configuration and answers agree")));
    }
}
