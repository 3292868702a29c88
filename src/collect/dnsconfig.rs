//! The consumer VPC's DNS configuration for `dns-overrides`: its DHCP option set, the
//! Route 53 Resolver rules associated with it and its private hosted zones (with their
//! records for the private DNS name). Read-only calls; each part is its own fact, so one
//! denied API leaves the others standing.
//!
//! Round trips: ListResolverRuleAssociations ∥ ListHostedZonesByVPC start beside the rest
//! of stage 2 (they need only the VPC id); GetResolverRule for each associated rule,
//! DescribeDhcpOptions (the id comes with DescribeVpcs) and ListResourceRecordSets for the
//! customer zones covering the name follow, still shallower than the provider's stages.

use super::errors::CallFailure;
use super::progress::Stage;
use super::{fact, sorted_unique, PER_ITEM_CONCURRENCY};
use futures_util::StreamExt;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::*;
use pl_checks::net::resolver::{match_depth, normalize};
use std::collections::BTreeMap;

pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub route53: aws_sdk_route53::Client,
    pub resolver: aws_sdk_route53resolver::Client,
}

impl Clients {
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::new(conf),
            route53: aws_sdk_route53::Client::new(conf),
            resolver: aws_sdk_route53resolver::Client::new(conf),
        }
    }
}

/// What one VPC has, before the records of its zones are read.
#[derive(Debug, Clone)]
pub struct VpcDns {
    pub resolver_rules: Fact<Vec<ResolverRule>>,
    pub hosted_zones: Result<Vec<PrivateZone>, Missing>,
}

/// Rules ∥ zones for each VPC (the part that needs only the VPC id).
pub async fn per_vpc(
    stage: Stage<'_>,
    c: &Clients,
    region: &str,
    vpc_ids: &[String],
) -> BTreeMap<String, VpcDns> {
    futures_util::stream::iter(vpc_ids.iter().cloned())
        .map(|vpc_id| async move {
            let (rules, zones) = tokio::join!(
                resolver_rules(stage, c, &vpc_id),
                hosted_zones(stage, c, region, &vpc_id)
            );
            (
                vpc_id,
                VpcDns {
                    resolver_rules: rules,
                    hosted_zones: zones,
                },
            )
        })
        .buffer_unordered(PER_ITEM_CONCURRENCY)
        .collect()
        .await
}

async fn resolver_rules(stage: Stage<'_>, c: &Clients, vpc_id: &str) -> Fact<Vec<ResolverRule>> {
    let associations = stage
        .call(
            "route53resolver:ListResolverRuleAssociations",
            c.resolver
                .list_resolver_rule_associations()
                .filters(
                    aws_sdk_route53resolver::types::Filter::builder()
                        .name("VPCId")
                        .values(vpc_id)
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await;
    let associations = match associations {
        Ok(a) => a,
        Err(f) => return Fact::Absent(f.to_missing()),
    };
    let wanted: Vec<(String, Option<String>)> = associations
        .iter()
        .filter(|a| a.vpc_id().is_none_or(|v| v == vpc_id))
        .filter_map(|a| {
            a.resolver_rule_id()
                .map(|r| (r.to_owned(), a.id().map(str::to_owned)))
        })
        .collect();
    let rules: Vec<Result<ResolverRule, CallFailure>> = futures_util::stream::iter(wanted)
        .map(|(rule_id, association_id)| async move {
            let out = stage
                .call(
                    "route53resolver:GetResolverRule",
                    c.resolver
                        .get_resolver_rule()
                        .resolver_rule_id(&rule_id)
                        .send(),
                )
                .await?;
            Ok(convert_rule(&rule_id, association_id, out.resolver_rule()))
        })
        .buffer_unordered(PER_ITEM_CONCURRENCY)
        .collect()
        .await;
    // A rule that cannot be read may be the one that wins: the list is whole or absent.
    match rules.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(mut rules) => {
            rules.sort_by(|a, b| a.id.cmp(&b.id));
            Fact::Known(rules)
        }
        Err(f) => Fact::Absent(f.to_missing()),
    }
}

fn convert_rule(
    rule_id: &str,
    association_id: Option<String>,
    r: Option<&aws_sdk_route53resolver::types::ResolverRule>,
) -> ResolverRule {
    let opt = |s: Option<&str>| s.filter(|v| !v.is_empty()).map(str::to_owned);
    ResolverRule {
        id: r.and_then(|r| r.id()).unwrap_or(rule_id).to_owned(),
        name: r.and_then(|r| opt(r.name())),
        domain_name: r
            .and_then(|r| r.domain_name())
            .map(|d| d.trim_end_matches('.').to_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".".into()),
        rule_type: r
            .and_then(|r| r.rule_type())
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        target_ips: r
            .map(|r| {
                r.target_ips()
                    .iter()
                    .filter_map(|t| {
                        let port = t.port().unwrap_or(53);
                        match (t.ip(), t.ipv6()) {
                            (Some(ip), _) => Some(format!("{ip}:{port}")),
                            (None, Some(v6)) => Some(format!("[{v6}]:{port}")),
                            _ => None,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        owner_id: r.and_then(|r| opt(r.owner_id())),
        share_status: r
            .and_then(|r| r.share_status())
            .map(|s| s.as_str().to_owned()),
        association_id,
    }
}

async fn hosted_zones(
    stage: Stage<'_>,
    c: &Clients,
    region: &str,
    vpc_id: &str,
) -> Result<Vec<PrivateZone>, Missing> {
    let mut zones = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = stage
            .call(
                "route53:ListHostedZonesByVPC",
                c.route53
                    .list_hosted_zones_by_vpc()
                    .vpc_id(vpc_id)
                    .vpc_region(aws_sdk_route53::types::VpcRegion::from(region))
                    .set_next_token(token.take())
                    .send(),
            )
            .await
            .map_err(|f| f.to_missing())?;
        for z in out.hosted_zone_summaries() {
            let owner = z.owner();
            zones.push(PrivateZone {
                id: z
                    .hosted_zone_id()
                    .trim_start_matches("/hostedzone/")
                    .to_owned(),
                name: z.name().trim_end_matches('.').to_owned(),
                owning_account: owner.and_then(|o| o.owning_account()).map(str::to_owned),
                owning_service: owner.and_then(|o| o.owning_service()).map(str::to_owned),
                records: Fact::not_requested("the zone does not cover the private DNS name"),
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    zones.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(zones)
}

/// DescribeDhcpOptions for every option set the VPCs use, at once; `default` (or none)
/// is the VPC resolver, which needs no call.
pub async fn dhcp_options(
    stage: Stage<'_>,
    c: &Clients,
    ids: &[String],
) -> BTreeMap<String, Fact<DhcpOptions>> {
    const ACTION: &str = "ec2:DescribeDhcpOptions";
    let ids = sorted_unique(ids.iter().filter(|i| *i != "default").cloned());
    if ids.is_empty() {
        return BTreeMap::new();
    }
    let reply = stage
        .call(
            ACTION,
            c.ec2
                .describe_dhcp_options()
                .set_dhcp_options_ids(Some(ids.clone()))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await;
    ids.iter()
        .map(|id| {
            let one = match &reply {
                Ok(sets) => match sets
                    .iter()
                    .find(|d| d.dhcp_options_id() == Some(id.as_str()))
                {
                    Some(d) => Fact::Known(convert_dhcp(id, d)),
                    None => Fact::Absent(Missing::ApiError {
                        operation: ACTION.into(),
                        message: format!("DHCP option set {id} not in the reply"),
                    }),
                },
                Err(f) => Fact::Absent(f.to_missing()),
            };
            (id.clone(), one)
        })
        .collect()
}

fn convert_dhcp(id: &str, d: &aws_sdk_ec2::types::DhcpOptions) -> DhcpOptions {
    let values = |key: &str| -> Vec<String> {
        d.dhcp_configurations()
            .iter()
            .filter(|c| c.key() == Some(key))
            .flat_map(|c| {
                c.values()
                    .iter()
                    .filter_map(|v| v.value().map(str::to_owned))
            })
            .collect()
    };
    let servers = values("domain-name-servers");
    DhcpOptions {
        id: id.to_owned(),
        // An option set without domain-name-servers gives instances no DNS server at all;
        // AWS lists none then, and that is recorded as it is.
        domain_name_servers: servers,
        domain_name: values("domain-name").into_iter().next(),
    }
}

/// The DHCP option set of a VPC as a fact: a VPC with the `default` set (or none) uses
/// AmazonProvidedDNS.
pub fn dhcp_for(
    vpc: &Fact<Vpc>,
    described: &BTreeMap<String, Fact<DhcpOptions>>,
) -> Fact<DhcpOptions> {
    let vpc = match vpc {
        Fact::Known(v) => v,
        Fact::Absent(m) => return Fact::Absent(m.clone()),
    };
    match vpc.dhcp_options_id.as_deref() {
        None | Some("default") => Fact::Known(DhcpOptions {
            id: "default".into(),
            domain_name_servers: vec!["AmazonProvidedDNS".into()],
            domain_name: None,
        }),
        Some(id) => described.get(id).cloned().unwrap_or_else(|| {
            Fact::Absent(Missing::ApiError {
                operation: "ec2:DescribeDhcpOptions".into(),
                message: format!("DHCP option set {id} not described"),
            })
        }),
    }
}

/// The customer zones (not AWS-managed) of `zones` that cover `name`.
pub fn zones_covering<'a>(zones: &'a [PrivateZone], name: &str) -> Vec<&'a PrivateZone> {
    zones
        .iter()
        .filter(|z| z.owning_service.is_none() && match_depth(name, &z.name).is_some())
        .collect()
}

/// ListResourceRecordSets from `name` on, in zone `zone_id`: the records of that name
/// (A, AAAA, CNAME, alias). One page of a few records is enough: the listing is sorted by
/// name, then type.
pub async fn records_for(
    stage: Stage<'_>,
    c: &Clients,
    zone_id: &str,
    name: &str,
) -> Fact<Vec<ZoneRecord>> {
    let out = stage
        .call(
            "route53:ListResourceRecordSets",
            c.route53
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(name)
                .max_items(20)
                .send(),
        )
        .await;
    fact(out).map(|out| {
        out.resource_record_sets()
            .iter()
            .filter(|r| normalize(&unescape(r.name())) == normalize(name))
            .map(|r| ZoneRecord {
                name: unescape(r.name()).trim_end_matches('.').to_owned(),
                record_type: r.r#type().as_str().to_owned(),
                values: r
                    .resource_records()
                    .iter()
                    .map(|v| v.value().trim_end_matches('.').to_owned())
                    .collect(),
                alias_target: r
                    .alias_target()
                    .map(|a| a.dns_name().trim_end_matches('.').to_owned()),
            })
            .collect()
    })
}

/// Route 53 writes `*` and other special characters as `\052`-style octal escapes.
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if digits.len() == 3 && digits.chars().all(|d| d.is_ascii_digit()) {
                if let Ok(code) = u8::from_str_radix(&digits, 8) {
                    out.push(code as char);
                    for _ in 0..3 {
                        chars.next();
                    }
                    continue;
                }
            }
        }
        out.push(ch);
    }
    out
}

/// The private DNS name an endpoint's VPC is asked about: the service's (as the consumer
/// sees it), else the endpoint's DnsEntry that is not one of its own vpce-… names.
pub fn private_name(endpoint: &Endpoint, service: &Fact<ServiceView>) -> Option<String> {
    service
        .known()
        .and_then(|s| s.private_dns_name.clone())
        .or_else(|| {
            endpoint
                .dns_entries
                .iter()
                .map(|d| d.dns_name.clone())
                .find(|n| !n.contains(".vpce.amazonaws.com"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route53_escapes_are_read_back() {
        assert_eq!(
            unescape("\\052.internal.example.com."),
            "*.internal.example.com."
        );
        assert_eq!(
            unescape("payments.internal.example.com."),
            "payments.internal.example.com."
        );
    }

    #[test]
    fn rules_keep_domain_targets_and_sharing() {
        use aws_sdk_route53resolver::types as r53r;
        let rule = r53r::ResolverRule::builder()
            .id("rslvr-rr-1")
            .domain_name("payments.internal.example.com.")
            .rule_type(r53r::RuleTypeOption::Forward)
            .target_ips(
                r53r::TargetAddress::builder()
                    .ip("192.168.10.53")
                    .port(53)
                    .build(),
            )
            .owner_id("999999999999")
            .share_status(r53r::ShareStatus::SharedWithMe)
            .build();
        let r = convert_rule("rslvr-rr-1", Some("assoc-1".into()), Some(&rule));
        assert_eq!(r.domain_name, "payments.internal.example.com");
        assert_eq!(r.rule_type, "FORWARD");
        assert_eq!(r.target_ips, ["192.168.10.53:53"]);
        assert_eq!(r.share_status.as_deref(), Some("SHARED_WITH_ME"));
        let root = r53r::ResolverRule::builder()
            .id("rslvr-autodefined-rr-internet-resolver")
            .domain_name(".")
            .rule_type(r53r::RuleTypeOption::Recursive)
            .build();
        assert_eq!(convert_rule("x", None, Some(&root)).domain_name, ".");
    }

    #[test]
    fn default_option_set_is_the_vpc_resolver() {
        let vpc = Fact::Known(Vpc {
            id: "vpc-1".into(),
            cidr_blocks: vec!["10.0.0.0/16".parse().unwrap()],
            enable_dns_support: Fact::Known(true),
            enable_dns_hostnames: Fact::Known(true),
            dhcp_options_id: Some("default".into()),
        });
        let d = dhcp_for(&vpc, &BTreeMap::new());
        assert_eq!(
            d.known().unwrap().domain_name_servers,
            ["AmazonProvidedDNS"]
        );
    }
}
