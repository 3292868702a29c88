//! Step 4 (consumer side): do the client's own security groups let it reach the endpoint ENIs?

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::net::cidr;
use crate::net::sg::{self, Direction, Grant, Peer};

pub static META: CheckMeta = CheckMeta {
    id: "client-sg-egress",
    title: "Client security groups allow egress to the endpoint",
    source: "seed: Step 4 (\"consumer-side SGs on the clients still need egress to the endpoint\")",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.client",
        "consumer.endpoint_enis",
        "consumer.security_groups",
        "consumer.prefix_lists",
        "provider.load_balancers[].listeners[].port",
    ],
    consumer_actions: &[
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
    ],
    provider_actions: &["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html",
    doc: CheckDoc {
        what_it_checks: "With --client naming a security group or an instance, the outbound rules of the client's \
security groups (their union) admit TCP on every service port to every endpoint ENI address, or to a security group \
the endpoint ENIs carry. Skipped for an IP or CIDR client, or no client: security-group egress cannot be judged \
without the client's groups.",
        why_it_matters: "Security groups are stateful but filter both directions of a new connection: a client whose \
group only allows, say, HTTPS out on 443 never gets its SYN to the endpoint on 8443, and the failure looks exactly \
like an endpoint problem (a timeout).",
        how_to_fix: "Add an outbound rule on the client's group to the endpoint's security group: \
`aws ec2 authorize-security-group-egress --group-id <client sg-…> --ip-permissions \
'IpProtocol=tcp,FromPort=<port>,ToPort=<port>,UserIdGroupPairs=[{GroupId=<endpoint sg-…>}]'`. Terraform: \
`aws_vpc_security_group_egress_rule` with `referenced_security_group_id = <endpoint sg>` (or an `egress` block on \
the client's `aws_security_group`).",
    },
};

pub fn evaluate(ctx: &Context) -> Outcome {
    let client = match ctx.client() {
        None => {
            return Outcome::skip(
                "no --client given: security-group egress cannot be judged without the client's groups; give --client sg-… or i-…",
            )
        }
        Some(Err(why)) => return Outcome::unknown(format!("cannot resolve the client: {why}")),
        Some(Ok(c)) => c,
    };
    if client.security_group_ids.is_empty() {
        return Outcome::skip(format!(
            "client {} is an address, not a security group or instance: its security groups are unknown; give --client sg-… or i-… to check its egress",
            client.spec
        ));
    }
    let ports = match ctx.ports() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(format!("the service ports are not known: {why}")),
    };
    let consumer = &ctx.snapshot.consumer;
    let enis = known_or_unknown!(
        &consumer.endpoint_enis,
        "the endpoint's network interfaces (ec2:DescribeNetworkInterfaces)"
    );
    let all_groups = known_or_unknown!(
        &consumer.security_groups,
        "the client's security groups (ec2:DescribeSecurityGroups)"
    );
    let (groups, missing) = sg::find_groups(all_groups, &client.security_group_ids);
    if groups.is_empty() {
        return Outcome::unknown(format!(
            "the client's security groups {} were not returned by DescribeSecurityGroups",
            missing.join(", ")
        ));
    }
    // Only the address family the client speaks matters: an IPv4 client never sends to the ENIs' IPv6 addresses.
    let client_v6 = client.addresses.iter().any(|a| a.addr().is_ipv6());
    let mut dest = Peer::default();
    for e in enis {
        dest.addresses.push(cidr::host(e.private_ip));
        if client_v6 {
            dest.addresses
                .extend(e.ipv6_addresses.iter().map(|a| cidr::host(*a)));
        }
        for g in &e.security_group_ids {
            if !dest.security_group_ids.contains(g) {
                dest.security_group_ids.push(g.clone());
            }
        }
    }
    let decisions = sg::evaluate_ports(
        &groups,
        Direction::Egress,
        &ports.ports,
        &dest,
        consumer.prefix_lists.known().map(Vec::as_slice),
    );
    let group_ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let base = |o: Outcome| {
        o.evidence("ports", &ports)
            .evidence("client", &client)
            .evidence("client_security_groups", &group_ids)
            .evidence("endpoint_destinations", &dest)
            .evidence("decisions", &decisions)
    };
    let blocked: Vec<_> = decisions.iter().filter(|d| !d.admitted).collect();
    if blocked.is_empty() {
        let rules: Vec<String> = decisions
            .iter()
            .flat_map(|d| {
                d.admitting.iter().map(move |r| {
                    format!("port {}: {}", d.port, sg::describe(r, Direction::Egress))
                })
            })
            .collect();
        return base(Outcome::pass(format!(
            "{}'s security groups {} allow TCP {} out to the endpoint ENIs",
            client.spec,
            group_ids.join(", "),
            ports
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .details(rules);
    }
    if !missing.is_empty() || blocked.iter().all(|d| d.undecidable()) {
        return base(Outcome::unknown(format!(
            "no resolved egress rule of {} reaches the endpoint, but {} could hold one",
            group_ids.join(", "),
            if missing.is_empty() {
                "an unresolved prefix list".to_owned()
            } else {
                format!("groups {} (not returned)", missing.join(", "))
            }
        )));
    }
    let blocked_ports: Vec<String> = blocked.iter().map(|d| d.port.to_string()).collect();
    let unreachable: Vec<String> = blocked
        .iter()
        .flat_map(|d| d.uncovered.iter())
        .map(|n| {
            let eni = enis.iter().find(|e| {
                cidr::host(e.private_ip) == *n
                    || e.ipv6_addresses.iter().any(|a| cidr::host(*a) == *n)
            });
            match eni {
                Some(e) => format!("{} ({}, {})", n.addr(), e.id, e.availability_zone),
                None => n.to_string(),
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let client_sg = group_ids[0];
    let mut fixes = Vec::new();
    for d in &blocked {
        if let Some(ep_sg) = dest.security_group_ids.first() {
            fixes.push(sg::authorize_cli(
                Direction::Egress,
                client_sg,
                d.port,
                &Grant::Group(ep_sg.clone()),
            ));
            fixes.push(format!(
                "Terraform: {}",
                sg::terraform_rule(
                    Direction::Egress,
                    client_sg,
                    d.port,
                    &Grant::Group(ep_sg.clone()),
                    "to the PrivateLink endpoint"
                )
            ));
        } else {
            for n in &d.uncovered {
                fixes.push(sg::authorize_cli(
                    Direction::Egress,
                    client_sg,
                    d.port,
                    &Grant::Cidr(*n),
                ));
            }
        }
    }
    base(
        Outcome::fail(format!(
            "{}'s security groups {} do not allow TCP {} out to the endpoint ENIs {}",
            client.spec,
            group_ids.join(", "),
            blocked_ports.join(", "),
            unreachable.join(", ")
        ))
        .detail("the SYN never leaves the client: it sees a timeout, and the endpoint ENIs' flow logs show nothing")
        .remediation(format!(
            "Allow egress from the client's group {client_sg} to the endpoint's security group:\n{}",
            fixes.join("\n")
        )),
    )
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::client::ClientSpec;
    use crate::fact::Fact;
    use crate::model::*;
    use crate::scenarios::base;

    fn run(s: &Snapshot, opts: &EvalOptions) -> Outcome {
        evaluate(&Context::new(s, opts, &[]))
    }

    #[test]
    fn healthy_passes_and_enterprise_skips() {
        assert_eq!(
            run(&base::healthy(), &EvalOptions::default()).status,
            Status::Pass
        );
        let o = run(&base::enterprise(), &EvalOptions::default());
        assert_eq!(o.status, Status::Skip);
        assert!(o.summary.contains("--client sg-"), "{}", o.summary);
        let mut s = base::healthy();
        s.inputs.client = None;
        assert_eq!(run(&s, &EvalOptions::default()).status, Status::Skip);
    }

    #[test]
    fn egress_only_on_443_fails_naming_both_groups() {
        let mut s = base::healthy();
        let Fact::Known(gs) = &mut s.consumer.security_groups else {
            unreachable!()
        };
        let c = gs.iter_mut().find(|g| g.id == base::CLIENT_SG).unwrap();
        c.egress = vec![base::tcp(
            443,
            SgPeer::Cidr(base::net("0.0.0.0/0")),
            "HTTPS out",
        )];
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("10.0.1.25") && o.summary.contains("eni-0b1b2b3b4b5b6b7b8"),
            "{}",
            o.summary
        );
        let r = o.remediation.unwrap();
        assert!(r.contains(&format!(
            "aws ec2 authorize-security-group-egress --group-id {} --ip-permissions 'IpProtocol=tcp,FromPort=8443,ToPort=8443,UserIdGroupPairs=[{{GroupId={}}}]'",
            base::CLIENT_SG, base::ENDPOINT_SG
        )), "{r}");
    }

    #[test]
    fn a_cidr_rule_covering_one_eni_is_not_enough() {
        let mut s = base::healthy();
        let Fact::Known(gs) = &mut s.consumer.security_groups else {
            unreachable!()
        };
        let c = gs.iter_mut().find(|g| g.id == base::CLIENT_SG).unwrap();
        c.egress = vec![base::tcp(
            8443,
            SgPeer::Cidr(base::net("10.0.1.0/24")),
            "az-a only",
        )];
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("10.0.2.25") && !o.summary.contains("10.0.1.25"),
            "{}",
            o.summary
        );
        let o = run(
            &s,
            &EvalOptions {
                client: Some(ClientSpec::parse("10.0.3.10").unwrap()),
                ..Default::default()
            },
        );
        assert_eq!(o.status, Status::Skip);
    }
}
