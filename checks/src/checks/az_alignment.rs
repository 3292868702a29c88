//! Step 4 / Runbook 4: every endpoint subnet sits in an AZ the service publishes,
//! compared by AZ ID because AZ names differ between the two accounts.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::fact::Fact;
use crate::net::az::AzMap;
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "az-alignment",
    title: "Endpoint subnets are in AZ IDs the service publishes",
    source: "seed: Step 4 (AZ alignment), Troubleshooting runbook 4",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.endpoint.subnet_ids",
        "consumer.subnets",
        "consumer.endpoint_enis",
        "consumer.az_map",
        "consumer.service.availability_zones",
        "provider.service_configuration.availability_zones",
        "provider.az_map",
        "provider.subnets",
        "provider.load_balancers[].availability_zones",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeSubnets",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeVpcEndpointServices",
    ],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeSubnets",
        "elasticloadbalancing:DescribeLoadBalancers",
    ],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html",
    doc: CheckDoc {
        what_it_checks: "The AZ ID of every endpoint subnet (from DescribeSubnets in the consumer account) against \
the AZ IDs the service publishes: the provider's ServiceConfiguration AvailabilityZones translated with the \
provider account's AZ mapping, or, without provider access, the consumer's DescribeVpcEndpointServices \
AvailabilityZones translated with the consumer account's mapping. Reports each zone's name in both accounts.",
        why_it_matters: "An endpoint ENI in an AZ the provider does not serve is dead weight: there is no NLB node \
behind it, so clients that resolve to its address fail while the others work. AZ names are per account \
(`us-east-1c` may be use1-az4 for the consumer and use1-az6 for the provider), so only AZ IDs can be compared.",
        how_to_fix: "Consumer: move the endpoint to subnets in published AZ IDs: \
`aws ec2 modify-vpc-endpoint --vpc-endpoint-id <vpce-…> --add-subnet-ids <subnet in a published AZ ID> \
--remove-subnet-ids <subnet-…>` (Terraform: `subnet_ids` on `aws_vpc_endpoint`). Provider: serve that AZ ID by \
adding a subnet in it to the NLB: `aws elbv2 set-subnets --load-balancer-arn <nlb-arn> --subnets <current subnets> \
<subnet in the AZ>` (Terraform: `subnets` on `aws_lb`); the service publishes the NLB's zones.",
    },
};

struct EndpointSubnet {
    subnet_id: String,
    consumer_az: String,
    az_id: String,
}

fn endpoint_subnets(ctx: &Context, consumer: &AzMap) -> Result<Vec<EndpointSubnet>, Outcome> {
    let ep = &ctx.snapshot.consumer.endpoint;
    let from_subnets = ctx.snapshot.consumer.subnets.as_result();
    let enis = ctx.snapshot.consumer.endpoint_enis.known();
    let mut out = Vec::new();
    for sid in &ep.subnet_ids {
        if let Ok(subnets) = from_subnets {
            if let Some(sn) = subnets.iter().find(|s| &s.id == sid) {
                out.push(EndpointSubnet {
                    subnet_id: sid.clone(),
                    consumer_az: sn.availability_zone.clone(),
                    az_id: sn.availability_zone_id.clone(),
                });
                continue;
            }
        }
        // DescribeSubnets is missing this subnet: the ENI in it still names its AZ.
        let eni = enis.and_then(|es| es.iter().find(|e| &e.subnet_id == sid));
        match eni {
            Some(e) => match consumer.id_of(&e.availability_zone) {
                Ok(id) => out.push(EndpointSubnet {
                    subnet_id: sid.clone(),
                    consumer_az: e.availability_zone.clone(),
                    az_id: id.to_owned(),
                }),
                Err(err) => {
                    return Err(Outcome::unknown(format!("cannot place endpoint subnet {sid} by AZ ID: {err}")))
                }
            },
            None => {
                return Err(match from_subnets {
                    Err(m) => Outcome::missing(&format!("the AZ of endpoint subnet {sid} (consumer.subnets)"), m),
                    Ok(_) => Outcome::unknown(format!(
                        "endpoint subnet {sid} is neither among the described subnets nor behind a described endpoint ENI"
                    )),
                })
            }
        }
    }
    Ok(out)
}

struct Published {
    /// AZ IDs in the order the service lists them.
    ids: Vec<String>,
    source: &'static str,
    /// Why the provider's own list could not be used, when it was not.
    provider_gap: Option<String>,
}

fn published_az_ids(
    ctx: &Context,
    consumer: &AzMap,
    provider: &AzMap,
) -> Result<Published, Outcome> {
    let s = ctx.snapshot;
    let provider_gap =
        match &s.provider.service_configuration {
            Fact::Known(cfg) => {
                let ids: Result<Vec<String>, _> = cfg
                    .availability_zones
                    .iter()
                    .map(|n| provider.id_of(n).map(str::to_owned))
                    .collect();
                match ids {
                    Ok(ids) => return Ok(Published {
                        ids,
                        source:
                            "provider ServiceConfiguration.AvailabilityZones, provider AZ mapping",
                        provider_gap: None,
                    }),
                    Err(e) => e.to_string(),
                }
            }
            Fact::Absent(m) => format!("provider.service_configuration: {m}"),
        };
    match &s.consumer.service {
        Fact::Known(view) => {
            let ids: Result<Vec<String>, _> = view
                .availability_zones
                .iter()
                .map(|n| consumer.id_of(n).map(str::to_owned))
                .collect();
            match ids {
                Ok(ids) => Ok(Published {
                    ids,
                    source: "consumer DescribeVpcEndpointServices AvailabilityZones, consumer AZ mapping",
                    provider_gap: Some(provider_gap),
                }),
                Err(e) => Err(Outcome::unknown(format!(
                    "cannot tell which AZ IDs the service publishes: {e}; and from the provider side: {provider_gap}"
                ))),
            }
        }
        Fact::Absent(m) => Err(Outcome::unknown(format!(
            "cannot tell which AZ IDs the service publishes: consumer.service: {m}; provider side: {provider_gap}"
        ))),
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    if let Some(remote) = s.consumer.endpoint.remote_service_region(&s.region) {
        return Outcome::skip(format!(
            "cross-region endpoint: the service is in {remote}, the endpoint in {}; AZ IDs are per Region and need not match across Regions (see service-region)",
            s.region
        ))
        .evidence("service_region", remote);
    }
    let consumer = AzMap::consumer(s);
    let provider = AzMap::provider(s);
    let subnets = match endpoint_subnets(ctx, &consumer) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let published = match published_az_ids(ctx, &consumer, &provider) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let names_of = |id: &str| {
        json!({
            "az_id": id,
            "consumer_az": consumer.name_of(id).ok(),
            "provider_az": provider.name_of(id).ok(),
        })
    };
    let describe = |id: &str| {
        let c = consumer.name_of(id).ok().map(|n| format!("consumer {n}"));
        let p = provider.name_of(id).ok().map(|n| format!("provider {n}"));
        let names: Vec<String> = c.into_iter().chain(p).collect();
        if names.is_empty() {
            id.to_owned()
        } else {
            format!("{id} ({})", names.join(", "))
        }
    };

    let mut out_of_zone: Vec<&EndpointSubnet> = Vec::new();
    for sn in &subnets {
        if !published.ids.contains(&sn.az_id) {
            out_of_zone.push(sn);
        }
    }
    let published_text = published
        .ids
        .iter()
        .map(|i| describe(i))
        .collect::<Vec<_>>()
        .join(", ");
    let mut details: Vec<String> = subnets
        .iter()
        .map(|sn| format!("{} is in {}", sn.subnet_id, describe(&sn.az_id)))
        .collect();
    details.push(format!(
        "the service publishes {published_text} (from {})",
        published.source
    ));
    if let Some(gap) = &published.provider_gap {
        details.push(format!("the provider's own list was not usable: {gap}"));
    }
    // Call out a name both accounts use for different zones: the trap the seed warns about.
    for sn in &out_of_zone {
        if let Ok(pid) = provider.id_of(&sn.consumer_az) {
            if pid != sn.az_id {
                details.push(format!(
                    "both accounts call a zone {}, but it is {} for the consumer and {pid} for the provider: compare AZ IDs, not names",
                    sn.consumer_az, sn.az_id
                ));
            }
        }
    }

    let evidence_subnets: Vec<_> = subnets
        .iter()
        .map(|sn| {
            json!({
                "subnet_id": sn.subnet_id,
                "consumer_az": sn.consumer_az,
                "az_id": sn.az_id,
                "provider_az": provider.name_of(&sn.az_id).ok(),
                "published": published.ids.contains(&sn.az_id),
            })
        })
        .collect();
    let evidence_published: Vec<_> = published.ids.iter().map(|i| names_of(i)).collect();

    let out = if out_of_zone.is_empty() {
        let ids: Vec<&str> = subnets.iter().map(|s| s.az_id.as_str()).collect();
        Outcome::pass(format!(
            "every endpoint subnet is in an AZ ID the service publishes ({})",
            ids.join(", ")
        ))
    } else {
        let ep = &s.consumer.endpoint;
        let bad = out_of_zone
            .iter()
            .map(|sn| format!("{} ({} = {})", sn.subnet_id, sn.consumer_az, sn.az_id))
            .collect::<Vec<_>>()
            .join(", ");
        let used: Vec<&str> = subnets.iter().map(|s| s.az_id.as_str()).collect();
        // A described subnet of the endpoint's VPC in a published AZ ID the endpoint does not use yet.
        let replacement = s.consumer.subnets.known().and_then(|all| {
            all.iter().find(|c| {
                c.vpc_id == ep.vpc_id
                    && published.ids.contains(&c.availability_zone_id)
                    && !used.contains(&c.availability_zone_id.as_str())
            })
        });
        let add = match replacement {
            Some(r) => format!("--add-subnet-ids {} ", r.id),
            None => String::new(),
        };
        let unused_published: Vec<String> = published
            .ids
            .iter()
            .filter(|i| !used.contains(&i.as_str()))
            .map(|i| describe(i))
            .collect();
        let mut fix = format!(
            "Consumer: aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} {add}--remove-subnet-ids {}{}.",
            ep.id,
            out_of_zone.iter().map(|s| s.subnet_id.as_str()).collect::<Vec<_>>().join(" "),
            if replacement.is_none() && !unused_published.is_empty() {
                format!(
                    " (to keep the AZ count, add a subnet of {} in {} with --add-subnet-ids)",
                    ep.vpc_id,
                    unused_published.join(" or ")
                )
            } else {
                String::new()
            }
        );
        if let Some(lb) = s.provider.load_balancers.known().and_then(|l| l.first()) {
            let current: Vec<&str> = lb
                .availability_zones
                .iter()
                .map(|z| z.subnet_id.as_str())
                .collect();
            for sn in &out_of_zone {
                let pname = provider
                    .name_of(&sn.az_id)
                    .map(|n| format!("the provider's {n}"))
                    .unwrap_or_else(|_| "the provider account".into());
                fix.push_str(&format!(
                    "\nOr provider: serve {} by adding a subnet of {} in {} ({pname}) to the NLB: aws elbv2 set-subnets --load-balancer-arn {} --subnets {} <that subnet> (Terraform: subnets on aws_lb); the service then publishes it.",
                    sn.az_id,
                    lb.vpc_id,
                    sn.az_id,
                    lb.arn,
                    current.join(" ")
                ));
            }
        } else {
            for sn in &out_of_zone {
                fix.push_str(&format!(
                    "\nOr provider ({}): add a subnet in AZ ID {} to the service's NLB with aws elbv2 set-subnets.",
                    s.consumer.service.known().map(|v| v.owner.as_str()).unwrap_or("the service owner"),
                    sn.az_id
                ));
            }
        }
        Outcome::fail(format!(
            "endpoint subnet {bad} is in an AZ ID the service does not publish (it publishes {})",
            published.ids.join(", ")
        ))
        .remediation(fix)
    };
    out.details(details)
        .evidence("endpoint_subnets", evidence_subnets)
        .evidence("published_azs", evidence_published)
        .evidence("published_source", published.source)
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::model::Snapshot;
    use crate::scenarios::base;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    #[test]
    fn healthy_bases_pass_by_az_id_although_names_differ() {
        let o = run(&base::healthy());
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert!(o.summary.contains("use1-az1, use1-az2"), "{}", o.summary);
        assert_eq!(run(&base::enterprise()).status, Status::Pass);
    }

    #[test]
    fn same_name_different_id_fails_and_names_both_accounts() {
        let mut s = base::healthy();
        // Provider publishes its us-east-1a, us-east-1b and us-east-1c (use1-az6);
        // the endpoint's second subnet is the consumer's us-east-1c (use1-az4).
        let Fact::Known(cfg) = &mut s.provider.service_configuration else {
            unreachable!()
        };
        cfg.availability_zones.push("us-east-1c".into());
        let Fact::Known(subs) = &mut s.consumer.subnets else {
            unreachable!()
        };
        subs[1].availability_zone = "us-east-1c".into();
        subs[1].availability_zone_id = "use1-az4".into();
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary
                .contains("subnet-0a1b2c3d4e5f60002 (us-east-1c = use1-az4)"),
            "{}",
            o.summary
        );
        assert!(
            o.summary.contains("use1-az2, use1-az1, use1-az6"),
            "{}",
            o.summary
        );
        assert!(
            o.details
                .iter()
                .any(|d| d.contains("both accounts call a zone us-east-1c")),
            "{:?}",
            o.details
        );
        let fix = o.remediation.unwrap();
        assert!(
            fix.contains("--remove-subnet-ids subnet-0a1b2c3d4e5f60002"),
            "{fix}"
        );
        assert!(fix.contains("aws elbv2 set-subnets"), "{fix}");
        assert!(
            fix.contains("use1-az4 (the provider's us-east-1d)"),
            "{fix}"
        );
    }

    #[test]
    fn without_provider_access_the_consumers_view_is_used() {
        let mut s = base::healthy();
        s.provider.service_configuration = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        s.provider.az_map = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        s.provider.subnets = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        s.provider.load_balancers = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        let o = run(&s);
        assert_eq!(o.status, Status::Pass);
        assert!(o.evidence["published_source"]
            .as_str()
            .unwrap()
            .starts_with("consumer"));

        // Consumer sees only us-east-1a: the us-east-1b subnet is out.
        let Fact::Known(v) = &mut s.consumer.service else {
            unreachable!()
        };
        v.availability_zones = vec!["us-east-1a".into()];
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o
            .remediation
            .unwrap()
            .contains("Or provider (111111111111)"));
    }

    #[test]
    fn an_untranslatable_name_is_unknown_not_a_guess() {
        let mut s = base::healthy();
        s.provider.service_configuration = Fact::needs_provider(None);
        s.consumer.az_map = Fact::Known(vec![]);
        s.consumer.subnets = Fact::Known(vec![]);
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown, "{}", o.summary);
    }
}
