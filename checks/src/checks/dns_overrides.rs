//! Runbook 3: nothing in the consumer VPC's DNS configuration wins the private DNS name
//! away from the endpoint (DHCP option set, Resolver rules, private hosted zones), read
//! through the APIs so the cause is named from anywhere, a laptop included.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity, Status};
use crate::fact::Fact;
use crate::model::{
    eq_wire, DhcpOptions, DnsConfig, DnsNameRole, DnsOutcome, PrivateZone, Snapshot,
    VantageLocation,
};
use crate::net::dns::{amazon_resolvers, offered_name, resolver_ip};
use crate::net::resolver::{decide, normalize, Answerer, Decision};
use std::collections::BTreeSet;
use std::net::IpAddr;

pub static META: CheckMeta = CheckMeta {
    id: "dns-overrides",
    title: "Nothing in the VPC's DNS configuration overrides the private DNS name",
    source: "seed: Troubleshooting runbook 3 (DNS returns the long vpce name); Route 53 Resolver documentation",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.dns_config.dhcp_options",
        "consumer.dns_config.resolver_rules",
        "consumer.dns_config.hosted_zones",
        "consumer.endpoint.private_dns_enabled",
        "consumer.endpoint.dns_entries",
        "consumer.endpoint_enis",
        "consumer.vpc.cidr_blocks",
        "provider.service_configuration.private_dns_name",
        "consumer.service.private_dns_name",
        "dns.lookups",
        "vantage",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcEndpointServices",
        "route53resolver:ListResolverRuleAssociations",
        "route53resolver:GetResolverRule",
        "route53:ListHostedZonesByVPC",
        "route53:ListResourceRecordSets",
    ],
    provider_actions: &["ec2:DescribeVpcEndpointServiceConfigurations"],
    docs_url: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-overview-forward-vpc-to-network-autodefined-rules.html",
    doc: CheckDoc {
        what_it_checks: "What answers for the service's private DNS name inside the consumer VPC, read through the \
APIs and judged with Route 53 Resolver's own precedence. (1) The VPC's DHCP option set (DescribeVpcs -> \
DhcpOptionsId -> DescribeDhcpOptions): domain-name-servers other than AmazonProvidedDNS are a warn naming the \
option set and the servers, and a fail when the name also fails to resolve to the endpoint from inside the VPC \
through them. (2) The Resolver rules associated with the VPC (ListResolverRuleAssociations + GetResolverRule; \
rules shared through RAM included) and (3) the private hosted zones associated with it (ListHostedZonesByVPC, \
then ListResourceRecordSets for the name in the customer zones that cover it). Precedence, from the Route 53 \
Developer Guide: among rules, including the autodefined rule behind each private hosted zone, the most specific \
domain wins (\"How Resolver determines whether the domain name in a query matches any rules\", \
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-overview-forward-vpc-to-network-domain-name-matches.html); \
a conditional forwarding rule for the same domain overrides the autodefined rule of a private hosted zone (this \
page); a matching private hosted zone without a record for the name answers NXDOMAIN \
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/hosted-zone-private-considerations.html). With private \
DNS on, PrivateLink's zone is for the name itself, so only a FORWARD or DELEGATE rule for the name itself wins \
(fail, naming the rule, its domain and target IPs); rules and zones for parent domains lose and are only noted. \
With private DNS off (a consumer serving the name from its own zone, as hub-and-spoke designs do), the winning \
customer zone must answer with this endpoint: an alias or CNAME to one of its vpce-… names, or A/AAAA records \
equal to its ENI addresses (pass); other addresses, another endpoint, or no record (NXDOMAIN) fail naming the \
zone and the record. A read that is denied is unknown naming the IAM action; skipped when the service offers no \
private DNS name. Not read yet: Route 53 Profiles (rules and zones a Profile associates with the VPC are not \
listed by these APIs, so a VPC that gets its DNS from a Profile can look clean here while a Profile's rule \
wins; dns-resolution from inside the VPC still shows the answer), and wildcard records in customer zones.",
        why_it_matters: "\"DNS returns the long vpce name / the wrong address\" is the seed's third failure class, \
and the answers alone cannot say why: a DHCP option set pointing clients at corporate DNS servers that never ask \
the VPC resolver, a Resolver forwarding rule that sends the name to on-premises DNS, or a private hosted zone of \
the consumer's holding stale addresses all look like \"private DNS is broken\" from a client. Reading the \
configuration names the thing to change, from any host.",
        how_to_fix: "Forwarding rule: remove it from the VPC (`aws route53resolver disassociate-resolver-rule \
--vpc-id <vpc-…> --resolver-rule-id <rslvr-rr-…>`), narrow its domain so it no longer covers the name, or \
add a SYSTEM rule for the name (`aws route53resolver create-resolver-rule --rule-type SYSTEM --domain-name \
<name> --name keep-privatelink-local` then `associate-resolver-rule`) so the VPC resolver answers it. Custom \
DHCP DNS servers: make them forward the name (or everything) to the VPC resolver, the VPC CIDR base + 2, e.g. \
through a Route 53 Resolver inbound endpoint, or give the VPC an option set with domain-name-servers = \
AmazonProvidedDNS (`aws ec2 create-dhcp-options --dhcp-configurations \
Key=domain-name-servers,Values=AmazonProvidedDNS` then `aws ec2 associate-dhcp-options`). A zone of yours: \
point the record at the endpoint with an alias to its regional name (`aws route53 change-resource-record-sets \
--hosted-zone-id <Z…>` with an UPSERT of an A alias to the endpoint's first DnsEntry), or turn private DNS on \
and remove the zone's association. Terraform: aws_route53_resolver_rule_association, aws_vpc_dhcp_options, \
aws_route53_record with an alias block.",
    },
};

/// One thing found, in the order it is reported.
struct Finding {
    status: Status,
    summary: String,
    details: Vec<String>,
    remediation: Option<String>,
}

impl Finding {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Finding {
            status,
            summary: summary.into(),
            details: vec![],
            remediation: None,
        }
    }
    fn detail(mut self, d: impl Into<String>) -> Self {
        self.details.push(d.into());
        self
    }
    fn fix(mut self, r: impl Into<String>) -> Self {
        self.remediation = Some(r.into());
        self
    }
}

fn rank(s: Status) -> u8 {
    match s {
        Status::Fail => 4,
        Status::Unknown => 3,
        Status::Warn => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    }
}

/// The private DNS name under test: the service's, else the endpoint's DnsEntry that is
/// not one of its own vpce-… names.
fn private_name(s: &Snapshot) -> Result<Option<String>, Outcome> {
    match offered_name(s) {
        Ok(o) => Ok(o.map(|o| o.name.to_owned())),
        Err(m) => {
            let from_entries = s
                .consumer
                .endpoint
                .dns_entries
                .iter()
                .map(|d| d.dns_name.as_str())
                .find(|n| !n.contains(".vpce.amazonaws.com"));
            match from_entries {
                Some(n) => Ok(Some(n.to_owned())),
                None => Err(Outcome::missing(
                    "whether the service offers a private DNS name",
                    m,
                )),
            }
        }
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let name = match private_name(s) {
        Ok(Some(n)) => n,
        Ok(None) => {
            return Outcome::skip(
                "the service offers no private DNS name: clients use the endpoint's vpce-… names, which no VPC setting overrides",
            )
        }
        Err(o) => return o,
    };
    let cfg = crate::known_or_unknown!(&s.consumer.dns_config, "the VPC's DNS configuration");
    let endpoint_zone_id = ep
        .dns_entries
        .iter()
        .find(|d| normalize(&d.dns_name) == normalize(&name))
        .map(|d| d.hosted_zone_id.as_str());

    let resolution = resolution_finding(s, cfg, &name, endpoint_zone_id);
    let dhcp = dhcp_finding(s, &cfg.dhcp_options, &name);
    let mut findings: Vec<Finding> = vec![resolution.finding];
    findings.extend(dhcp);
    // The worst finding heads the result; the others follow as details.
    let head = findings
        .iter()
        .enumerate()
        .max_by_key(|(i, f)| (rank(f.status), std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let head = findings.remove(head);
    let mut out = match head.status {
        Status::Pass => Outcome::pass(head.summary),
        Status::Warn => Outcome::warn(head.summary),
        Status::Fail => Outcome::fail(head.summary),
        Status::Unknown => Outcome::unknown(head.summary),
        Status::Skip => Outcome::skip(head.summary),
    }
    .details(head.details);
    let mut fixes: Vec<String> = head.remediation.into_iter().collect();
    for f in findings {
        if f.status != Status::Pass && f.status != Status::Skip {
            out = out.detail(format!("also ({}): {}", f.status, f.summary));
        } else {
            out = out.detail(f.summary);
        }
        out = out.details(f.details);
        fixes.extend(f.remediation);
    }
    if matches!(out.status, Status::Fail | Status::Warn) && !fixes.is_empty() {
        out = out.remediation(fixes.join(" Also: "));
    }
    out.evidence("private_dns_name", &name)
        .evidence("private_dns_enabled", ep.private_dns_enabled)
        .evidence("answerer", resolution.answerer)
        .evidence("also_matching", resolution.also_matching)
        .evidence(
            "dhcp_options",
            cfg.dhcp_options.known().map(
                |d| serde_json::json!({"id": d.id, "domain_name_servers": d.domain_name_servers}),
            ),
        )
}

struct Resolution {
    finding: Finding,
    answerer: Option<String>,
    also_matching: Vec<String>,
}

fn resolution_finding(
    s: &Snapshot,
    cfg: &DnsConfig,
    name: &str,
    endpoint_zone_id: Option<&str>,
) -> Resolution {
    let ep = &s.consumer.endpoint;
    let plain = |finding| Resolution {
        finding,
        answerer: None,
        also_matching: vec![],
    };
    let (rules, zones) = match (&cfg.resolver_rules, &cfg.hosted_zones) {
        (Fact::Known(r), Fact::Known(z)) => (r.as_slice(), z.as_slice()),
        (Fact::Known(rules), Fact::Absent(zones_missing)) => {
            // A forwarding rule for the name itself wins whatever the zones are.
            let d = decide(name, ep.private_dns_enabled, endpoint_zone_id, rules, &[]);
            if d.winner.sends_away() && d.winner.domain(name) == normalize(name) {
                return judge(s, name, &d);
            }
            return plain(Finding::new(
                Status::Unknown,
                format!(
                    "cannot read the private hosted zones associated with {}: {zones_missing}",
                    ep.vpc_id
                ),
            ));
        }
        (Fact::Absent(m), _) => {
            return plain(Finding::new(
                Status::Unknown,
                format!(
                    "cannot read the Resolver rules associated with {}: {m}",
                    ep.vpc_id
                ),
            ))
        }
    };
    let d = decide(name, ep.private_dns_enabled, endpoint_zone_id, rules, zones);
    judge(s, name, &d)
}

fn judge(s: &Snapshot, name: &str, d: &Decision) -> Resolution {
    let ep = &s.consumer.endpoint;
    let vpc = &ep.vpc_id;
    let winner = d.winner.describe(name);
    let noted: Vec<String> = d
        .losers
        .iter()
        .map(|l| {
            let why = if l.domain(name) == d.winner.domain(name) {
                "same domain; Resolver's precedence gives it to the answerer above"
            } else {
                "less specific, so it loses"
            };
            format!("noted: {} also matches {name} ({why})", l.describe(name))
        })
        .collect();
    let finding = match &d.winner {
        Answerer::Rule(r) if d.winner.sends_away() => {
            let owner = match (r.share_status.as_deref(), &r.owner_id) {
                (Some(st), Some(o)) if eq_wire(st, "SHARED_WITH_ME") => {
                    format!(" The rule is shared with this account through RAM: its owner, account {o}, changes or unshares it.")
                }
                _ => String::new(),
            };
            let targets = if r.target_ips.is_empty() {
                "elsewhere".to_owned()
            } else {
                r.target_ips.join(", ")
            };
            Finding::new(
                Status::Fail,
                format!(
                    "{name} is answered by {winner}: the question leaves the VPC resolver, so clients in {vpc} never get {}",
                    if ep.private_dns_enabled {
                        "the endpoint's private zone (a forwarding rule for the same name beats a private hosted zone)"
                    } else {
                        "this endpoint's addresses unless those servers serve them"
                    }
                ),
            )
            .fix(format!(
                "Remove or narrow the rule: aws route53resolver disassociate-resolver-rule --vpc-id {vpc} --resolver-rule-id {id} (or change its domain {domain} so it no longer covers {name}); or keep it and let the VPC resolver answer {name}: aws route53resolver create-resolver-rule --rule-type SYSTEM --domain-name {name} --name keep-privatelink-local, then aws route53resolver associate-resolver-rule --vpc-id {vpc} --resolver-rule-id <the new rule>; or make the servers at {targets} forward {name} back to the VPC resolver through a Route 53 Resolver inbound endpoint.{owner}",
                id = r.id,
                domain = normalize(&r.domain_name),
            ))
        }
        Answerer::EndpointZone(_) => {
            let same_name_zone = d.losers.iter().find_map(|l| match l {
                Answerer::Zone(z) if normalize(&z.name) == normalize(name) => Some(*z),
                _ => None,
            });
            match same_name_zone {
                Some(z) => Finding::new(
                    Status::Warn,
                    format!(
                        "private hosted zone {} ({}) of yours has the same name as AWS's private DNS zone for the endpoint: AWS refuses to enable private DNS while such a zone is associated with {vpc}, and with both associated which one answers is not documented",
                        z.id, z.name
                    ),
                )
                .fix(format!(
                    "Remove the association: aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id {} --vpc VPCRegion={},VPCId={vpc}",
                    z.id, s.region
                )),
                None => Finding::new(
                    Status::Pass,
                    format!("{winner} answers {name} in {vpc}: no Resolver rule or private hosted zone overrides it"),
                ),
            }
        }
        Answerer::Zone(z) => zone_finding(s, name, z, &winner),
        Answerer::Rule(_) | Answerer::Public => Finding::new(
            Status::Skip,
            format!(
                "private DNS is off on {} and no private hosted zone or forwarding rule of {vpc} serves {name}: Resolver asks public DNS (see private-dns-enabled)",
                ep.id
            ),
        ),
    };
    let mut finding = finding;
    finding.details.extend(noted.iter().cloned());
    Resolution {
        finding,
        answerer: Some(winner),
        also_matching: d.losers.iter().map(|l| l.describe(name)).collect(),
    }
}

/// A customer zone answers the name: its record must lead to this endpoint.
fn zone_finding(s: &Snapshot, name: &str, z: &PrivateZone, winner: &str) -> Finding {
    let ep = &s.consumer.endpoint;
    let regional = ep
        .dns_entries
        .first()
        .map(|d| d.dns_name.clone())
        .unwrap_or_else(|| ep.id.clone());
    let regional_zone = ep
        .dns_entries
        .first()
        .map(|d| d.hosted_zone_id.clone())
        .unwrap_or_default();
    let alias_fix = format!(
        "aws route53 change-resource-record-sets --hosted-zone-id {} --change-batch '{{\"Changes\":[{{\"Action\":\"UPSERT\",\"ResourceRecordSet\":{{\"Name\":\"{name}\",\"Type\":\"A\",\"AliasTarget\":{{\"HostedZoneId\":\"{regional_zone}\",\"DNSName\":\"{regional}\",\"EvaluateTargetHealth\":false}}}}}}]}}' (an alias to the endpoint's regional name follows the endpoint; Terraform: an alias block on the aws_route53_record), or turn private DNS on for {} and remove the zone's record",
        z.id, ep.id
    );
    let instead = if ep.private_dns_enabled {
        "".to_owned()
    } else {
        format!(
            " (private DNS is off on {}: this zone serves the name instead)",
            ep.id
        )
    };
    let records = match &z.records {
        Fact::Known(r) => r,
        Fact::Absent(m) => {
            return Finding::new(
                Status::Unknown,
                format!("{winner} answers {name}{instead}, but its records cannot be read: {m}"),
            )
        }
    };
    let for_name: Vec<_> = records
        .iter()
        .filter(|r| normalize(&r.name) == normalize(name))
        .filter(|r| {
            matches!(
                r.record_type.to_ascii_uppercase().as_str(),
                "A" | "AAAA" | "CNAME"
            )
        })
        .collect();
    if for_name.is_empty() {
        return Finding::new(
            Status::Fail,
            format!(
                "{winner} covers {name} but has no A, AAAA or CNAME record for it: Resolver answers NXDOMAIN (a matching private hosted zone never falls through to public DNS){instead}"
            ),
        )
        .fix(format!("Add the record: {alias_fix}."));
    }
    let own_names: BTreeSet<String> = ep
        .dns_entries
        .iter()
        .map(|d| normalize(&d.dns_name))
        .collect();
    let record_text = |r: &crate::model::ZoneRecord| match &r.alias_target {
        Some(t) => format!("{} {} alias {}", r.name, r.record_type, t),
        None => format!("{} {} {}", r.name, r.record_type, r.values.join(", ")),
    };
    let shown: Vec<String> = for_name.iter().map(|r| record_text(r)).collect();
    // Alias and CNAME records name a target.
    let targets: Vec<String> = for_name
        .iter()
        .filter_map(|r| {
            r.alias_target.clone().or_else(|| {
                r.record_type
                    .eq_ignore_ascii_case("CNAME")
                    .then(|| r.values.first().cloned())
                    .flatten()
            })
        })
        .map(|t| normalize(&t))
        .collect();
    if !targets.is_empty() {
        if targets.iter().all(|t| own_names.contains(t)) {
            return Finding::new(
                Status::Pass,
                format!(
                    "{winner} answers {name} with {}: this endpoint's own name{instead}",
                    shown.join("; ")
                ),
            );
        }
        let other = targets
            .iter()
            .find(|t| !own_names.contains(*t))
            .cloned()
            .unwrap_or_default();
        let what = if other.contains(".vpce.amazonaws.com") {
            "another endpoint's vpce-… name, not this endpoint's"
        } else {
            "a name that is not this endpoint's"
        };
        return Finding::new(
            Status::Fail,
            format!(
                "{winner} answers {name} with {}: {other} is {what}{instead}",
                shown.join("; ")
            ),
        )
        .fix(format!("Point the record at {}: {alias_fix}.", ep.id));
    }
    let addresses: BTreeSet<IpAddr> = for_name
        .iter()
        .flat_map(|r| {
            r.values
                .iter()
                .filter_map(|v| v.trim().parse::<IpAddr>().ok())
        })
        .collect();
    let enis = match &s.consumer.endpoint_enis {
        Fact::Known(e) => e,
        Fact::Absent(m) => {
            return Finding::new(
                Status::Unknown,
                format!("{winner} answers {name} with {}, but the endpoint ENIs to compare with cannot be read: {m}", shown.join("; ")),
            )
        }
    };
    let eni_ips: BTreeSet<IpAddr> = enis
        .iter()
        .flat_map(|e| std::iter::once(e.private_ip).chain(e.ipv6_addresses.iter().copied()))
        .collect();
    let listed = eni_ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let stale: Vec<String> = addresses
        .iter()
        .filter(|a| !eni_ips.contains(a))
        .map(ToString::to_string)
        .collect();
    if !stale.is_empty() {
        return Finding::new(
            Status::Fail,
            format!(
                "{winner} answers {name} with {}: {} {} not this endpoint's ENI address(es) ({listed}){instead}",
                shown.join("; "),
                stale.join(", "),
                if stale.len() == 1 { "is" } else { "are" }
            ),
        )
        .fix(format!("Replace the stale record: {alias_fix}."));
    }
    let missing: Vec<&str> = enis
        .iter()
        .filter(|e| !addresses.contains(&e.private_ip))
        .map(|e| e.availability_zone.as_str())
        .collect();
    if !missing.is_empty() {
        return Finding::new(
            Status::Warn,
            format!(
                "{winner} answers {name} with {}: only some of the endpoint's ENIs, missing the one in {}{instead}",
                shown.join("; "),
                missing.join(", ")
            ),
        )
        .fix(format!("List every ENI, or better: {alias_fix}."));
    }
    Finding::new(
        Status::Pass,
        format!("{winner} answers {name} with exactly the endpoint's ENI addresses ({listed}){instead}"),
    )
    .detail("A records do not follow the endpoint when its ENIs change; an alias to its regional name does.")
}

/// The DHCP option set's DNS servers: AmazonProvidedDNS is the VPC resolver; anything else
/// must forward to it.
fn dhcp_finding(s: &Snapshot, dhcp: &Fact<DhcpOptions>, name: &str) -> Option<Finding> {
    let dhcp = match dhcp {
        Fact::Known(d) => d,
        Fact::Absent(m) => {
            return Some(Finding::new(
                Status::Unknown,
                format!("cannot read the VPC's DHCP option set: {m}"),
            ))
        }
    };
    let custom: Vec<&str> = dhcp
        .domain_name_servers
        .iter()
        .map(String::as_str)
        .filter(|srv| !eq_wire(srv, "AmazonProvidedDNS"))
        .collect();
    if custom.is_empty() {
        return None;
    }
    let ep = &s.consumer.endpoint;
    let vpc_resolver = s
        .consumer
        .vpc
        .known()
        .and_then(|v| amazon_resolvers(&v.cidr_blocks).first().copied())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "the VPC CIDR base + 2".into());
    let servers = dhcp.domain_name_servers.join(", ");
    let fix = format!(
        "Make {} forward {name} (or everything) to the VPC resolver {vpc_resolver}, e.g. through a Route 53 Resolver inbound endpoint, or associate an option set with domain-name-servers=AmazonProvidedDNS: aws ec2 create-dhcp-options --dhcp-configurations Key=domain-name-servers,Values=AmazonProvidedDNS, then aws ec2 associate-dhcp-options --dhcp-options-id <the new dopt-…> --vpc-id {} (instances pick it up when they renew their DHCP lease).",
        custom.join(", "),
        ep.vpc_id
    );
    let through = inside_failure(s, &custom, name);
    Some(match through {
        Some(how) => Finding::new(
            Status::Fail,
            format!(
                "DHCP option set {} hands out DNS servers {servers}, and {how}: those servers do not answer with the endpoint",
                dhcp.id
            ),
        )
        .fix(fix),
        None => Finding::new(
            Status::Warn,
            format!(
                "DHCP option set {} hands out DNS servers {servers}, not AmazonProvidedDNS: clients in {} ask them, and they must forward {name} to the VPC resolver {vpc_resolver}",
                dhcp.id, ep.vpc_id
            ),
        )
        .fix(fix),
    })
}

/// How the private name failed to resolve to the endpoint through the option set's
/// servers from inside the VPC, if the DNS facts show that: the resolver asked was one
/// of those servers, or the host's own resolver on an instance in the endpoint's VPC.
fn inside_failure(s: &Snapshot, servers: &[&str], name: &str) -> Option<String> {
    let dns = s.dns.known()?;
    let lookup = dns
        .lookups
        .iter()
        .find(|l| l.role == DnsNameRole::PrivateDnsName && normalize(&l.name) == normalize(name))?;
    let enis: BTreeSet<IpAddr> = s
        .consumer
        .endpoint_enis
        .known()?
        .iter()
        .map(|e| e.private_ip)
        .collect();
    let failed = match &lookup.outcome {
        DnsOutcome::Answer { addresses, .. } => {
            addresses.iter().any(|a| !enis.contains(a)) || addresses.is_empty()
        }
        DnsOutcome::NxDomain | DnsOutcome::NoData => true,
        _ => false,
    };
    if !failed {
        return None;
    }
    let asked = resolver_ip(&dns.resolver);
    let asked_a_server = asked.is_some_and(|ip| {
        servers
            .iter()
            .any(|srv| srv.parse::<IpAddr>().ok() == Some(ip))
    });
    let on_instance_in_vpc = dns.resolver.starts_with("system")
        && s.vantage.as_ref().is_some_and(|v| {
            v.location == VantageLocation::Ec2
                && v.vpc_id.as_deref() == Some(s.consumer.endpoint.vpc_id.as_str())
        });
    if asked_a_server || on_instance_in_vpc {
        Some(format!(
            "{name} does not resolve to the endpoint's ENIs through resolver {} from inside {}",
            dns.resolver, s.consumer.endpoint.vpc_id
        ))
    } else {
        None
    }
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::EvalOptions;
    use crate::fact::Missing;
    use crate::model::{ResolverRule, ZoneRecord};
    use crate::scenarios::base::{healthy, PRIVATE_DNS_NAME};

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    fn cfg(s: &mut Snapshot) -> &mut DnsConfig {
        match &mut s.consumer.dns_config {
            Fact::Known(c) => c,
            Fact::Absent(_) => panic!("healthy has a DNS config"),
        }
    }

    fn forward(domain: &str) -> ResolverRule {
        ResolverRule {
            id: "rslvr-rr-0a1b2c3d4e5f60718".into(),
            name: Some("to-onprem".into()),
            domain_name: domain.into(),
            rule_type: "FORWARD".into(),
            target_ips: vec!["192.168.10.53:53".into()],
            owner_id: Some("222222222222".into()),
            share_status: Some("NOT_SHARED".into()),
            association_id: Some("rslvr-rrassoc-1".into()),
        }
    }

    #[test]
    fn healthy_passes_naming_aws_zone() {
        let o = run(&healthy());
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert!(
            o.summary.contains("Z0123456789PRIVATEZONE"),
            "{}",
            o.summary
        );
    }

    #[test]
    fn forward_rule_for_the_name_fails_and_for_the_parent_is_noted() {
        let mut s = healthy();
        cfg(&mut s).resolver_rules = Fact::Known(vec![forward(PRIVATE_DNS_NAME)]);
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("rslvr-rr-0a1b2c3d4e5f60718")
                && o.summary.contains("192.168.10.53:53"),
            "{}",
            o.summary
        );
        assert!(o.remediation.unwrap().contains("disassociate-resolver-rule --vpc-id vpc-0c0a5e1b2d3f4a5b6 --resolver-rule-id rslvr-rr-0a1b2c3d4e5f60718"));

        let mut s = healthy();
        cfg(&mut s).resolver_rules = Fact::Known(vec![forward("example.com")]);
        let o = run(&s);
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert!(
            o.details
                .iter()
                .any(|d| d.starts_with("noted:") && d.contains("less specific")),
            "{:?}",
            o.details
        );
    }

    fn own_zone(records: Vec<ZoneRecord>) -> Snapshot {
        let mut s = healthy();
        s.consumer.endpoint.private_dns_enabled = false;
        s.consumer
            .endpoint
            .dns_entries
            .retain(|d| d.dns_name != PRIVATE_DNS_NAME);
        cfg(&mut s).hosted_zones = Fact::Known(vec![PrivateZone {
            id: "Z0INTERNAL".into(),
            name: "internal.example.com".into(),
            owning_account: Some("222222222222".into()),
            owning_service: None,
            records: Fact::Known(records),
        }]);
        s
    }

    fn a(values: &[&str]) -> ZoneRecord {
        ZoneRecord {
            name: PRIVATE_DNS_NAME.into(),
            record_type: "A".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias_target: None,
        }
    }

    #[test]
    fn own_zone_with_private_dns_off_is_judged_by_its_record() {
        let o = run(&own_zone(vec![a(&["10.0.1.25", "10.0.2.25"])]));
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        let o = run(&own_zone(vec![a(&["10.0.1.99"])]));
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("Z0INTERNAL") && o.summary.contains("10.0.1.99"),
            "{}",
            o.summary
        );
        let o = run(&own_zone(vec![]));
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("NXDOMAIN"), "{}", o.summary);
        let o = run(&own_zone(vec![a(&["10.0.1.25"])]));
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("us-east-1b"), "{}", o.summary);
        let regional = healthy().consumer.endpoint.dns_entries[0].dns_name.clone();
        let alias = ZoneRecord {
            alias_target: Some(format!("{regional}.")),
            values: vec![],
            ..a(&[])
        };
        assert_eq!(run(&own_zone(vec![alias])).status, Status::Pass);
    }

    #[test]
    fn custom_dhcp_servers_warn_and_fail_when_they_answer_wrong_from_inside() {
        let mut s = healthy();
        cfg(&mut s).dhcp_options = Fact::Known(DhcpOptions {
            id: "dopt-0c0a7e5d1f2b3c4d5".into(),
            domain_name_servers: vec!["10.0.3.53".into()],
            domain_name: None,
        });
        let o = run(&s);
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("dopt-0c0a7e5d1f2b3c4d5") && o.summary.contains("10.0.3.53"));
        assert!(o.remediation.unwrap().contains("10.0.0.2"));
        if let Fact::Known(d) = &mut s.dns {
            d.resolver = "10.0.3.53:53".into();
            d.lookups[0].outcome = DnsOutcome::NxDomain;
        }
        assert_eq!(run(&s).status, Status::Fail);
    }

    #[test]
    fn a_denied_read_is_unknown_naming_the_action() {
        let mut s = healthy();
        cfg(&mut s).resolver_rules = Fact::Absent(Missing::AccessDenied {
            action: "route53resolver:ListResolverRuleAssociations".into(),
            message: None,
        });
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(o
            .summary
            .contains("route53resolver:ListResolverRuleAssociations"));
        let mut s = healthy();
        if let Fact::Known(c) = &mut s.provider.service_configuration {
            c.private_dns_name = None;
        }
        assert_eq!(run(&s).status, Status::Skip);
    }
}
