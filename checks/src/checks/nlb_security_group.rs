//! Step 8: if the NLB has security groups enforced on PrivateLink traffic, do they admit it?

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::model::{eq_wire, LoadBalancer};
use crate::net::series;
use crate::net::sg::{self, Direction, Grant, Peer};

pub static META: CheckMeta = CheckMeta {
    id: "nlb-security-group",
    title: "NLB security groups admit PrivateLink traffic",
    source: "beyond the seed: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.load_balancers[].security_group_ids",
        "provider.load_balancers[].enforce_sg_inbound_rules_on_privatelink",
        "provider.load_balancers[].listeners[].port",
        "provider.security_groups",
        "provider.prefix_lists",
        "consumer.client",
        "consumer.vpc.cidr_blocks",
        "observability.metrics",
    ],
    consumer_actions: &["ec2:DescribeVpcs", "ec2:DescribeInstances"],
    provider_actions: &[
        "cloudwatch:GetMetricData",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
    ],
    docs_url: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html",
    doc: CheckDoc {
        what_it_checks: "For each of the service's NLBs: with no security group, all client traffic reaches the \
listeners (pass). With security groups and EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic `off`, PrivateLink \
traffic bypasses the inbound rules (pass, noted). With it `on` (the AWS default when the NLB has security groups), \
the union of the NLB's inbound rules must admit TCP on every service port from the source the NLB sees for \
PrivateLink traffic, which per AWS is the consumer client's private IP address, not the endpoint ENI: the \
--client addresses, or with no client somewhere in the consumer VPC's CIDRs. A rule referencing a security group \
cannot match PrivateLink traffic (the consumer's groups are in another VPC and account). Evidence: the NLB's \
SecurityGroupBlockedFlowCount_Inbound_TCP over the window, the flows its groups actually dropped.",
        why_it_matters: "NLBs gained security groups after the seed was written, which says \"the NLB has no SG\"; \
for NLBs that have one, its inbound rules are a second L4 filter between the consumer and the targets, on by \
default. Traffic it drops does not appear in the NLB's CloudWatch metrics (AWS/NetworkELB), so the provider sees \
nothing while every consumer connection times out; the consumer's AWS/PrivateLinkEndpoints metrics and endpoint \
flow logs still show the attempts.",
        how_to_fix: "Admit the consumer clients' private CIDRs (for an internal NLB, AWS suggests the consumer VPC \
CIDR ranges) on the listener port: `aws ec2 authorize-security-group-ingress --group-id <NLB sg-…> --protocol tcp \
--port <listener port> --cidr <consumer client CIDR>`, or stop evaluating inbound rules for PrivateLink traffic \
(access is then governed by the endpoint service's allowed principals): `aws elbv2 set-security-groups \
--load-balancer-arn <NLB ARN> --security-groups <NLB sg-…> \
--enforce-security-group-inbound-rules-on-private-link-traffic off`. Terraform: \
`enforce_security_group_inbound_rules_on_private_link_traffic = \"off\"` on the `aws_lb`, or an \
`aws_vpc_security_group_ingress_rule` on the NLB's group.",
    },
};

/// The rule-based verdict, plus the flows the NLB's security groups actually dropped in
/// the window (SecurityGroupBlockedFlowCount_Inbound_TCP): the only trace of those drops
/// on the provider side, since they appear in no other NLB metric.
pub fn evaluate(ctx: &Context) -> Outcome {
    let o = judge(ctx);
    let Some(metrics) = ctx.snapshot.observability.metrics.known() else {
        return o;
    };
    const NLB: &str = "AWS/NetworkELB";
    const BLOCKED: &str = "SecurityGroupBlockedFlowCount_Inbound_TCP";
    if !series::collected(metrics, NLB, BLOCKED) {
        return o;
    }
    let per_period = series::per_period(metrics, NLB, &[BLOCKED]);
    let blocked = series::total(&per_period);
    let o = o.evidence(
        "security_group_blocked_flows",
        serde_json::json!({
            "metric": format!("{NLB} {BLOCKED} (Sum)"),
            "total": blocked,
            "per_period": per_period,
        }),
    );
    if blocked > 0.0 {
        o.detail(format!(
            "the NLB's security groups dropped {blocked} inbound TCP flows in the window ({BLOCKED}); these drops appear in no other NLB metric"
        ))
    } else {
        o.detail(format!(
            "{BLOCKED}: no inbound TCP flow dropped by the NLB's security groups in the window"
        ))
    }
}

fn judge(ctx: &Context) -> Outcome {
    let provider = &ctx.snapshot.provider;
    let lbs = known_or_unknown!(
        &provider.load_balancers,
        "the service's load balancers (elasticloadbalancing:DescribeLoadBalancers)"
    );
    if lbs.is_empty() {
        return Outcome::unknown(
            "no load balancer of the service was collected (see nlb-listener)",
        );
    }
    let ports = match ctx.ports() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(format!("the service ports are not known: {why}")),
    };
    let metrics_note = "traffic dropped by an NLB security group does not appear in the NLB's CloudWatch metrics; the consumer's AWS/PrivateLinkEndpoints metrics and endpoint flow logs still see it";

    let mut notes = Vec::new();
    let mut enforcing = Vec::new();
    for lb in lbs {
        if lb.security_group_ids.is_empty() {
            notes.push(format!(
                "{}: no security group: all client traffic reaches the listeners",
                lb.name
            ));
            continue;
        }
        match lb.enforce_sg_inbound_rules_on_privatelink.as_deref() {
            Some(v) if eq_wire(v, "off") => notes.push(format!(
                "{}: security groups {} do not evaluate PrivateLink traffic (EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic = off); the allowed principals are the gate",
                lb.name,
                lb.security_group_ids.join(", ")
            )),
            Some(_) => enforcing.push(lb),
            None => {
                notes.push(format!(
                    "{}: EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic not reported; assuming AWS's default, on",
                    lb.name
                ));
                enforcing.push(lb)
            }
        }
    }
    if enforcing.is_empty() {
        return Outcome::pass(notes.join("; ")).evidence("load_balancers", lbs.iter().map(|l| serde_json::json!({
            "name": l.name, "security_group_ids": l.security_group_ids,
            "enforce_sg_inbound_rules_on_privatelink": l.enforce_sg_inbound_rules_on_privatelink,
        })).collect::<Vec<_>>());
    }

    let all_groups = known_or_unknown!(
        &provider.security_groups,
        "the NLB's security groups (ec2:DescribeSecurityGroups in the provider account)"
    );
    // Per AWS, the NLB's inbound rules see the consumer client's private IP for PrivateLink traffic.
    let (peer, who, vpc_mode) = match ctx.client() {
        Some(Err(why)) => return Outcome::unknown(format!("cannot resolve the client: {why}")),
        Some(Ok(c)) => {
            let who = format!(
                "client {} ({})",
                c.spec,
                c.addresses
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (
                Peer {
                    addresses: c.addresses,
                    security_group_ids: vec![],
                },
                who,
                false,
            )
        }
        None => {
            let vpc = known_or_unknown!(
                &ctx.snapshot.consumer.vpc,
                "the consumer VPC's CIDRs (ec2:DescribeVpcs)"
            );
            let who = format!(
                "the consumer VPC {}",
                vpc.cidr_blocks
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (
                Peer {
                    addresses: vpc.cidr_blocks.clone(),
                    security_group_ids: vec![],
                },
                who,
                true,
            )
        }
    };
    let pls = provider.prefix_lists.known().map(Vec::as_slice);
    let mut per_lb = Vec::new();
    let mut failures = Vec::new();
    let mut undecided = Vec::new();
    let mut fixes = Vec::new();
    let mut details = notes.clone();
    // A port with no listener is nlb-listener's finding; the security group only filters
    // traffic that some listener would take.
    let listened = |lb: &LoadBalancer| -> Vec<u16> {
        match lb.listeners.known() {
            Some(ls) => ports
                .ports
                .iter()
                .copied()
                .filter(|p| ls.iter().any(|l| l.port == *p))
                .collect(),
            None => ports.ports.clone(),
        }
    };
    if enforcing.iter().all(|lb| listened(lb).is_empty()) {
        return Outcome::skip(format!(
            "no listener on TCP {} to filter (see nlb-listener)",
            ports
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for lb in &enforcing {
        let (groups, missing) = sg::find_groups(all_groups, &lb.security_group_ids);
        if groups.is_empty() {
            undecided.push(format!(
                "{}'s security groups {} were not returned by DescribeSecurityGroups",
                lb.name,
                missing.join(", ")
            ));
            continue;
        }
        let decisions = sg::evaluate_ports(&groups, Direction::Ingress, &listened(lb), &peer, pls);
        for d in &decisions {
            for r in &d.other_group_refs {
                details.push(format!(
                    "{}: {} cannot match PrivateLink traffic (the source is the consumer client's address)",
                    lb.name,
                    sg::describe(r, Direction::Ingress)
                ));
            }
            for r in &d.partial {
                details.push(format!(
                    "{}: {} covers only part of {who}",
                    lb.name,
                    sg::describe(r, Direction::Ingress)
                ));
            }
        }
        let ok = |d: &sg::SgDecision| {
            if vpc_mode {
                d.admitted || !d.partial.is_empty()
            } else {
                d.admitted
            }
        };
        let blocked: Vec<_> = decisions.iter().filter(|d| !ok(d)).collect();
        if !blocked.is_empty() && (!missing.is_empty() || blocked.iter().all(|d| d.undecidable())) {
            undecided.push(format!(
                "{}: no resolved rule admits it, but an unreadable group or prefix list might",
                lb.name
            ));
        } else if !blocked.is_empty() {
            let bports: Vec<String> = blocked.iter().map(|d| d.port.to_string()).collect();
            failures.push(format!(
                "{}'s security group {} enforces inbound rules on PrivateLink traffic and admits nothing on TCP {} from {who}",
                lb.name,
                lb.security_group_ids.join(", "),
                bports.join(", ")
            ));
            for d in &blocked {
                for n in &d.uncovered {
                    fixes.push(sg::authorize_cli(
                        Direction::Ingress,
                        &groups[0].id,
                        d.port,
                        &Grant::Cidr(*n),
                    ));
                }
            }
            fixes.push(format!(
                "or stop enforcing the NLB's inbound rules on PrivateLink traffic: aws elbv2 set-security-groups --load-balancer-arn {} --security-groups {} --enforce-security-group-inbound-rules-on-private-link-traffic off",
                lb.arn,
                lb.security_group_ids.join(" ")
            ));
        }
        per_lb.push(serde_json::json!({
            "name": lb.name, "arn": lb.arn, "security_group_ids": lb.security_group_ids,
            "enforce_sg_inbound_rules_on_privatelink": lb.enforce_sg_inbound_rules_on_privatelink,
            "decisions": decisions,
        }));
    }
    let with_ev = |o: Outcome| {
        o.evidence("ports", &ports)
            .evidence("privatelink_source", &peer)
            .evidence("enforcing_load_balancers", &per_lb)
    };
    if !failures.is_empty() {
        return with_ev(
            Outcome::fail(failures.join("; "))
                .details(details)
                .detail(metrics_note)
                .remediation(format!(
                    "Provider ({}): admit the consumer clients on the NLB's security group (the NLB sees the client's private IP for PrivateLink traffic):\n{}\nTerraform: an aws_vpc_security_group_ingress_rule on the NLB's group, or enforce_security_group_inbound_rules_on_private_link_traffic = \"off\" on the aws_lb.",
                    provider.identity.known().map(|i| i.account.as_str()).unwrap_or("the service owner"),
                    fixes.join("\n")
                )),
        );
    }
    if !undecided.is_empty() {
        return with_ev(Outcome::unknown(undecided.join("; ")).details(details));
    }
    let mut o = Outcome::pass(format!(
        "the NLB security groups admit PrivateLink traffic on TCP {} from {who}",
        ports
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .details(details);
    if vpc_mode {
        o = o.detail("no --client given: a rule reaching part of the consumer VPC was accepted; give --client to check a particular client");
    }
    with_ev(o)
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

    fn nlb_sg_ingress(s: &mut Snapshot, rules: Vec<SgRule>) {
        let Fact::Known(gs) = &mut s.provider.security_groups else {
            unreachable!()
        };
        gs.iter_mut()
            .find(|g| g.id == base::NLB_SG)
            .unwrap()
            .ingress = rules;
    }

    #[test]
    fn healthy_and_enterprise_pass() {
        assert_eq!(run(&base::healthy()).status, Status::Pass);
        let o = run(&base::enterprise());
        assert_eq!(o.status, Status::Pass);
        assert!(o.summary.contains("no security group"));
    }

    #[test]
    fn a_rule_for_the_provider_vpc_does_not_admit_privatelink_clients() {
        let mut s = base::healthy();
        nlb_sg_ingress(
            &mut s,
            vec![
                base::tcp(8443, SgPeer::Cidr(base::net("10.1.0.0/16")), "provider VPC"),
                base::tcp(
                    8443,
                    SgPeer::SecurityGroup(base::ENDPOINT_SG.into()),
                    "endpoint sg",
                ),
            ],
        );
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.details.iter().any(|d| d.contains("CloudWatch metrics")));
        assert!(o
            .details
            .iter()
            .any(|d| d.contains("cannot match PrivateLink traffic")));
        let r = o.remediation.unwrap();
        assert!(
            r.contains(&format!(
                "--group-id {} --protocol tcp --port 8443 --cidr 10.0.3.10/32",
                base::NLB_SG
            )),
            "{r}"
        );
        assert!(r.contains("--enforce-security-group-inbound-rules-on-private-link-traffic off"));
        // Turning enforcement off makes the same rules irrelevant.
        let Fact::Known(lbs) = &mut s.provider.load_balancers else {
            unreachable!()
        };
        lbs[0].enforce_sg_inbound_rules_on_privatelink = Some("off".into());
        let o = run(&s);
        assert_eq!(o.status, Status::Pass);
        assert!(o.summary.contains("= off"));
    }

    #[test]
    fn provider_facts_absent_is_unknown() {
        let mut s = base::healthy();
        s.provider.load_balancers = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        assert_eq!(run(&s).status, Status::Unknown);
        let mut s = base::healthy();
        s.provider.security_groups = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        assert_eq!(run(&s).status, Status::Unknown);
    }
}
