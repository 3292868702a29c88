//! Step 10: do the targets' security groups admit the NLB on the traffic and health-check ports?

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::model::{eq_wire, LoadBalancer};
use crate::net::cidr;
use crate::net::sg::{self, Direction, Grant, Peer};
use ipnet::IpNet;

pub static META: CheckMeta = CheckMeta {
    id: "target-sg-ingress",
    title: "Target security groups admit the NLB",
    source: "beyond the seed: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-register-targets.html#target-security-groups",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.load_balancers[].availability_zones[].private_ipv4_addresses",
        "provider.load_balancers[].security_group_ids",
        "provider.load_balancers[].listeners",
        "provider.target_groups[].health_check.port",
        "provider.target_groups[].targets[].security_group_ids",
        "provider.subnets",
        "provider.security_groups",
    ],
    consumer_actions: &[],
    provider_actions: &[
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
    ],
    docs_url: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-register-targets.html",
    doc: CheckDoc {
        what_it_checks: "For every target of the target groups behind the listeners on the ports under test, the \
target's security groups admit TCP on the target port and on the health-check port (`traffic-port` = the target \
port) from the NLB: its private addresses (or, where AWS did not report them, the NLB subnets' CIDRs) or a rule \
referencing the NLB's security group. With cross-zone load balancing off, a target only needs its own zone's NLB \
address. Reports every blocked target.",
        why_it_matters: "Client IP preservation does not apply to PrivateLink traffic: targets see connections and \
health checks coming from the NLB's private addresses, never from the consumer. A target group that only admits an \
ALB, a bastion or the old client CIDRs fails its health checks and drops every PrivateLink connection.",
        how_to_fix: "Reference the NLB's security group on the target group port and health-check port: \
`aws ec2 authorize-security-group-ingress --group-id <target sg-…> --protocol tcp --port <port> --source-group <NLB sg-…>`, \
or, for an NLB without security groups, `--cidr <NLB subnet CIDR>` per NLB subnet. Terraform: \
`aws_vpc_security_group_ingress_rule` with `referenced_security_group_id = <NLB sg>` (or `cidr_ipv4`), or \
`aws_security_group_rule` with `source_security_group_id`.",
    },
};

fn nlb_sources(
    lb: &LoadBalancer,
    subnets: Option<&[crate::model::Subnet]>,
    zone: Option<&str>,
) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::new();
    for z in &lb.availability_zones {
        if let Some(zone) = zone {
            if z.zone_name != zone {
                continue;
            }
        }
        if !z.private_ipv4_addresses.is_empty() {
            out.extend(z.private_ipv4_addresses.iter().map(|a| cidr::host(*a)));
            continue;
        }
        match subnets.and_then(|ss| ss.iter().find(|s| s.id == z.subnet_id)) {
            Some(s) => out.push(s.cidr_block),
            None => {
                return Err(format!(
                    "neither {}'s private address in {} nor its subnet {}'s CIDR is known",
                    lb.name, z.zone_name, z.subnet_id
                ))
            }
        }
    }
    Ok(out)
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let p = &ctx.snapshot.provider;
    let lbs = known_or_unknown!(
        &p.load_balancers,
        "the service's load balancers (elasticloadbalancing:DescribeLoadBalancers)"
    );
    let tgs = known_or_unknown!(
        &p.target_groups,
        "the target groups (elasticloadbalancing:DescribeTargetGroups)"
    );
    let all_groups = known_or_unknown!(
        &p.security_groups,
        "the targets' security groups (ec2:DescribeSecurityGroups in the provider account)"
    );
    let ports = match ctx.ports() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(format!("the service ports are not known: {why}")),
    };
    let pls = p.prefix_lists.known().map(Vec::as_slice);
    let mut checked = Vec::new();
    let mut blocked = Vec::new();
    let mut unknowns = Vec::new();
    let mut fixes = std::collections::BTreeSet::new();
    for lb in lbs {
        let listeners = known_or_unknown!(
            &lb.listeners,
            "the NLB's listeners (elasticloadbalancing:DescribeListeners)"
        );
        let cross_zone = lb.attributes.known().map(|a| a.cross_zone_enabled);
        for l in listeners.iter().filter(|l| ports.ports.contains(&l.port)) {
            for arn in l
                .default_actions
                .iter()
                .flat_map(|a| a.target_group_arns.iter())
            {
                let Some(tg) = tgs.iter().find(|t| t.arn == *arn) else {
                    unknowns.push(format!("target group {arn} was not collected"));
                    continue;
                };
                let targets = match tg.targets.as_result() {
                    Ok(t) => t,
                    Err(m) => {
                        unknowns.push(format!("targets of {}: {m}", tg.name));
                        continue;
                    }
                };
                // Cross-zone off: only the NLB node in the target's own zone sends to it.
                let zonal = match tg.cross_zone.as_deref() {
                    Some(v) if eq_wire(v, "true") => false,
                    Some(v) if eq_wire(v, "false") => true,
                    _ => cross_zone == Some(false),
                };
                for t in targets {
                    let zone = if zonal {
                        t.availability_zone.as_deref()
                    } else {
                        None
                    };
                    let sources = match nlb_sources(lb, p.subnets.known().map(Vec::as_slice), zone)
                    {
                        Ok(s) => s,
                        Err(e) => {
                            unknowns.push(e);
                            continue;
                        }
                    };
                    let peer = Peer {
                        addresses: sources.clone(),
                        security_group_ids: lb.security_group_ids.clone(),
                    };
                    let sg_ids = match t.security_group_ids.as_result() {
                        Ok(ids) => ids,
                        Err(m) => {
                            unknowns.push(format!("security groups of target {}: {m}", t.id));
                            continue;
                        }
                    };
                    let (groups, missing) = sg::find_groups(all_groups, sg_ids);
                    let hc_port = if eq_wire(&tg.health_check.port, "traffic-port") {
                        Some(t.port)
                    } else {
                        tg.health_check.port.parse::<u16>().ok()
                    };
                    let mut tports = vec![t.port];
                    if let Some(h) = hc_port {
                        if h != t.port {
                            tports.push(h);
                        }
                    }
                    let decisions =
                        sg::evaluate_ports(&groups, Direction::Ingress, &tports, &peer, pls);
                    let bad: Vec<_> = decisions.iter().filter(|d| !d.admitted).collect();
                    checked.push(serde_json::json!({
                        "target_group": tg.name, "target": t.id, "availability_zone": t.availability_zone,
                        "security_group_ids": sg_ids, "nlb_sources": peer, "decisions": decisions,
                    }));
                    if bad.is_empty() {
                        continue;
                    }
                    if !missing.is_empty()
                        || bad.iter().all(|d| d.undecidable())
                        || groups.is_empty()
                    {
                        unknowns.push(format!("target {}: no resolved rule admits the NLB, but groups {} or a prefix list could not be read", t.id, missing.join(", ")));
                        continue;
                    }
                    let what: Vec<String> = bad
                        .iter()
                        .map(|d| {
                            let role = if d.port == t.port && Some(d.port) == hc_port {
                                "traffic and health checks"
                            } else if d.port == t.port {
                                "traffic"
                            } else {
                                "health checks"
                            };
                            format!("{} ({role})", d.port)
                        })
                        .collect();
                    blocked.push(format!(
                        "{} in {} ({}, groups {}) does not admit the NLB on TCP {}",
                        t.id,
                        tg.name,
                        t.availability_zone.as_deref().unwrap_or("zone unknown"),
                        sg_ids.join(", "),
                        what.join(", ")
                    ));
                    let target_sg = &groups[0].id;
                    for d in &bad {
                        if let Some(nlb_sg) = lb.security_group_ids.first() {
                            let g = Grant::Group(nlb_sg.clone());
                            fixes.insert(sg::authorize_cli(
                                Direction::Ingress,
                                target_sg,
                                d.port,
                                &g,
                            ));
                            fixes.insert(format!(
                                "Terraform: {}",
                                sg::terraform_rule(
                                    Direction::Ingress,
                                    target_sg,
                                    d.port,
                                    &g,
                                    "from the NLB"
                                )
                            ));
                        } else {
                            for src in nlb_sources(lb, p.subnets.known().map(Vec::as_slice), zone)
                                .unwrap_or_default()
                            {
                                let net = lb
                                    .availability_zones
                                    .iter()
                                    .filter_map(|z| {
                                        p.subnets
                                            .known()
                                            .and_then(|ss| ss.iter().find(|s| s.id == z.subnet_id))
                                    })
                                    .map(|s| s.cidr_block)
                                    .find(|c| cidr::contains(c, &src))
                                    .unwrap_or(src);
                                fixes.insert(sg::authorize_cli(
                                    Direction::Ingress,
                                    target_sg,
                                    d.port,
                                    &Grant::Cidr(net),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    let ev = |o: Outcome| o.evidence("ports", &ports).evidence("targets", &checked);
    if !blocked.is_empty() {
        return ev(Outcome::fail(format!(
            "{} target(s) do not admit PrivateLink traffic from the NLB: {}",
            blocked.len(),
            blocked.join("; ")
        ))
        .detail("PrivateLink traffic and health checks reach targets from the NLB's private addresses; client IP preservation does not apply to PrivateLink traffic")
        .details(unknowns)
        .remediation(format!("Admit the NLB on the target security groups:\n{}", fixes.into_iter().collect::<Vec<_>>().join("\n"))));
    }
    if !unknowns.is_empty() {
        return ev(Outcome::unknown(unknowns.join("; ")));
    }
    if checked.is_empty() {
        return ev(Outcome::skip(format!(
            "no target behind a listener on TCP {} (see nlb-listener and target-health)",
            ports
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    ev(Outcome::pass(format!(
        "all {} target(s) admit the NLB on their traffic and health-check ports",
        checked.len()
    )))
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::fact::Fact;
    use crate::model::*;
    use crate::scenarios::base;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    fn target_ingress(s: &mut Snapshot, rules: Vec<SgRule>) {
        let Fact::Known(gs) = &mut s.provider.security_groups else {
            unreachable!()
        };
        gs.iter_mut()
            .find(|g| g.id == base::TARGET_SG)
            .unwrap()
            .ingress = rules;
    }

    #[test]
    fn healthy_and_enterprise_pass() {
        assert_eq!(run(&base::healthy()).status, Status::Pass);
        assert_eq!(run(&base::enterprise()).status, Status::Pass);
    }

    #[test]
    fn targets_admitting_only_an_alb_fail_with_the_nlb_sg_fix() {
        let mut s = base::healthy();
        target_ingress(
            &mut s,
            vec![base::tcp(
                8443,
                SgPeer::SecurityGroup("sg-0a1a1a1a1a1a1a1a1".into()),
                "ALB",
            )],
        );
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("10.1.1.100") && o.summary.contains("10.1.2.100"),
            "{}",
            o.summary
        );
        assert!(o.remediation.unwrap().contains(&format!(
            "--group-id {} --protocol tcp --port 8443 --source-group {}",
            base::TARGET_SG,
            base::NLB_SG
        )));
    }

    #[test]
    fn separate_health_check_port_is_required_and_cross_zone_off_needs_only_the_local_node() {
        let mut s = base::enterprise();
        let Fact::Known(tgs) = &mut s.provider.target_groups else {
            unreachable!()
        };
        tgs[0].health_check.port = "9000".into();
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("9000 (health checks)"), "{}", o.summary);
        assert!(o
            .remediation
            .unwrap()
            .contains("--port 9000 --cidr 10.20.101.0/24"));

        // Each zone's NLB subnet admitted only by... its own zone: fine with cross-zone off.
        let mut s = base::enterprise();
        let Fact::Known(tgs) = &mut s.provider.target_groups else {
            unreachable!()
        };
        tgs[0].cross_zone = Some("false".into());
        target_ingress(&mut s, vec![]);
        assert_eq!(run(&s).status, Status::Fail);
    }
}
