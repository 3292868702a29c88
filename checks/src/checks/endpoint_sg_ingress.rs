//! Step 4 / Runbook 2: does an endpoint security group admit the client on every service port?

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::net::sg::{self, Direction, Grant, Peer, SgDecision};

pub static META: CheckMeta = CheckMeta {
    id: "endpoint-sg-ingress",
    title: "Endpoint security group allows the client on the service port",
    source: "seed: Step 4 (\"the most common stumble\"), Troubleshooting runbook 2",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.endpoint.security_group_ids",
        "consumer.security_groups",
        "consumer.prefix_lists",
        "consumer.vpc.cidr_blocks",
        "consumer.client",
        "provider.load_balancers[].listeners[].port",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
        "ec2:DescribeVpcs",
        "ec2:DescribeInstances",
    ],
    provider_actions: &["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html",
    doc: CheckDoc {
        what_it_checks: "The inbound rules of the security groups attached to the interface endpoint (the union of \
all of them: security groups are allow-only) admit TCP on every service port (--port, else the NLB listener ports) \
from the client given with --client: an IP or CIDR must be wholly inside a rule's CIDR (or a resolved prefix list), \
an instance or security group also matches a rule that references one of its groups. With no --client, it passes \
when some rule on the port reaches somewhere in the consumer VPC (a CIDR overlapping a VPC CIDR, or a \
security-group reference) and says that a specific client was not checked.",
        why_it_matters: "The security group on the endpoint ENIs is the consumer-side L4 filter in front of the \
service, and the seed calls it the most common stumble: an endpoint that is `available` but whose connections hang \
(security groups drop silently, so clients see timeouts, not refusals) almost always lacks an inbound rule for the \
service port from the client.",
        how_to_fix: "Add an inbound rule for the port from the client CIDR or the client's security group: \
`aws ec2 authorize-security-group-ingress --group-id <endpoint sg-…> --protocol tcp --port <port> --cidr <client CIDR>` \
(or `--source-group <client sg-…>`). Terraform: an `ingress { from_port = <port>, to_port = <port>, protocol = \"tcp\", \
cidr_blocks = [\"<client CIDR>\"] }` block (or `security_groups = [\"<client sg-…>\"]`) on the endpoint's \
`aws_security_group`, or a standalone `aws_vpc_security_group_ingress_rule`.",
    },
};

fn rules_line(d: &SgDecision) -> Vec<String> {
    let mut out = Vec::new();
    for r in &d.partial {
        out.push(format!(
            "port {}: {} covers only part of the client",
            d.port,
            sg::describe(r, Direction::Ingress)
        ));
    }
    for r in &d.other_group_refs {
        out.push(format!(
            "port {}: {} admits members of that group; the client does not carry it",
            d.port,
            sg::describe(r, Direction::Ingress)
        ));
    }
    for r in &d.unresolved_prefix_lists {
        out.push(format!(
            "port {}: {} could not be resolved (prefix list entries not collected); it might admit the client",
            d.port,
            sg::describe(r, Direction::Ingress)
        ));
    }
    out
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let ports = match ctx.ports() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(format!("the service ports are not known: {why}")),
    };
    let consumer = &ctx.snapshot.consumer;
    let ep = &consumer.endpoint;
    let all_groups = known_or_unknown!(
        &consumer.security_groups,
        "the endpoint's security groups (ec2:DescribeSecurityGroups)"
    );
    if ep.security_group_ids.is_empty() {
        return Outcome::unknown(format!(
            "DescribeVpcEndpoints lists no security group on {}; re-run the collection",
            ep.id
        ));
    }
    let (groups, missing) = sg::find_groups(all_groups, &ep.security_group_ids);
    if groups.is_empty() {
        return Outcome::unknown(format!(
            "the endpoint's security groups {} were not returned by DescribeSecurityGroups",
            missing.join(", ")
        ));
    }
    let prefix_lists = consumer.prefix_lists.known().map(Vec::as_slice);
    let group_ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let target_sg = group_ids[0];

    let client = match ctx.client() {
        Some(Err(why)) => return Outcome::unknown(format!("cannot resolve the client: {why}")),
        Some(Ok(c)) => Some(c),
        None => None,
    };
    let (peer, vpc_mode_cidrs) = match &client {
        Some(c) => (
            Peer {
                addresses: c.addresses.clone(),
                security_group_ids: c.security_group_ids.clone(),
            },
            None,
        ),
        None => {
            let vpc = known_or_unknown!(&consumer.vpc, "the endpoint's VPC (ec2:DescribeVpcs)");
            (
                Peer {
                    addresses: vpc.cidr_blocks.clone(),
                    security_group_ids: vec![],
                },
                Some(vpc.cidr_blocks.clone()),
            )
        }
    };
    let decisions = sg::evaluate_ports(
        &groups,
        Direction::Ingress,
        &ports.ports,
        &peer,
        prefix_lists,
    );
    let ok = |d: &SgDecision| {
        if vpc_mode_cidrs.is_some() {
            d.admits_some()
        } else {
            d.admitted
        }
    };
    let blocked: Vec<&SgDecision> = decisions.iter().filter(|d| !ok(d)).collect();
    let who = match &client {
        Some(c) if c.spec.contains('/') || c.spec.parse::<std::net::IpAddr>().is_ok() => {
            c.spec.clone()
        }
        Some(c) => format!(
            "{} ({})",
            c.spec,
            c.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!(
            "the VPC {}",
            peer.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut out_evidence = vec![
        ("ports", serde_json::to_value(&ports).unwrap_or_default()),
        ("endpoint_security_groups", serde_json::json!(group_ids)),
        ("client", serde_json::to_value(&client).unwrap_or_default()),
        (
            "decisions",
            serde_json::to_value(&decisions).unwrap_or_default(),
        ),
    ];
    if !missing.is_empty() {
        out_evidence.push(("groups_not_returned", serde_json::json!(missing)));
    }
    let with_evidence = |mut o: Outcome| {
        for (k, v) in &out_evidence {
            o = o.evidence(k, v);
        }
        o
    };
    let details: Vec<String> = decisions.iter().flat_map(rules_line).collect();
    let port_list = |ds: &[&SgDecision]| {
        ds.iter()
            .map(|d| d.port.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    if blocked.is_empty() {
        let admitting: Vec<String> = decisions
            .iter()
            .flat_map(|d| {
                d.admitting
                    .iter()
                    .chain(if vpc_mode_cidrs.is_some() {
                        d.partial.iter()
                    } else {
                        [].iter()
                    })
                    .chain(if vpc_mode_cidrs.is_some() {
                        d.other_group_refs.iter()
                    } else {
                        [].iter()
                    })
                    .map(move |r| {
                        format!("port {}: {}", d.port, sg::describe(r, Direction::Ingress))
                    })
            })
            .collect();
        let summary = if vpc_mode_cidrs.is_some() {
            format!(
                "{} admits TCP {} from within the VPC; no --client given, so no specific client was checked",
                group_ids.join(", "),
                ports.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            )
        } else {
            format!(
                "{} admits TCP {} from {who}",
                group_ids.join(", "),
                ports
                    .ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut o = Outcome::pass(summary).details(admitting);
        if vpc_mode_cidrs.is_some() {
            o = o.detail(
                "give --client <IP|CIDR|sg-…|i-…> to check that a particular client is admitted",
            );
        }
        return with_evidence(o);
    }

    // A prefix list we could not read, or a group we could not see, might hold the missing rule.
    let undecidable: Vec<&&SgDecision> = blocked.iter().filter(|d| d.undecidable()).collect();
    if undecidable.len() == blocked.len() || !missing.is_empty() {
        let why = if !missing.is_empty() {
            format!(
                "security groups {} were not returned by DescribeSecurityGroups and may hold the rule",
                missing.join(", ")
            )
        } else {
            "a prefix-list rule could not be resolved (needs ec2:GetManagedPrefixListEntries)"
                .to_owned()
        };
        return with_evidence(
            Outcome::unknown(format!(
                "no resolved rule of {} admits TCP {} from {who}, but {why}",
                group_ids.join(", "),
                port_list(&blocked)
            ))
            .details(details),
        );
    }

    // The fix names the client's group when it has one (rules follow instances as they
    // move) and the uncovered CIDRs otherwise.
    let mut fixes = Vec::new();
    let mut terraform = Vec::new();
    for d in &blocked {
        let grants: Vec<Grant> = match (&client, &vpc_mode_cidrs) {
            (Some(c), _) if !c.security_group_ids.is_empty() => {
                vec![Grant::Group(c.security_group_ids[0].clone())]
            }
            _ => d.uncovered.iter().map(|n| Grant::Cidr(*n)).collect(),
        };
        for g in &grants {
            fixes.push(sg::authorize_cli(Direction::Ingress, target_sg, d.port, g));
            let peer_attr = match g {
                Grant::Group(s) => format!("security_groups = [\"{s}\"]"),
                Grant::Cidr(n) if n.addr().is_ipv4() => format!("cidr_blocks = [\"{n}\"]"),
                Grant::Cidr(n) => format!("ipv6_cidr_blocks = [\"{n}\"]"),
            };
            terraform.push(format!(
                "ingress {{ from_port = {p}, to_port = {p}, protocol = \"tcp\", {peer_attr} }}",
                p = d.port
            ));
        }
        if let (Some(c), None) = (&client, &vpc_mode_cidrs) {
            if !c.security_group_ids.is_empty() {
                for n in &d.uncovered {
                    fixes.push(format!(
                        "or by address: {}",
                        sg::authorize_cli(Direction::Ingress, target_sg, d.port, &Grant::Cidr(*n))
                    ));
                }
            }
        }
    }
    let summary = format!(
        "endpoint security group {} does not allow TCP {} from {who}",
        group_ids.join(", "),
        port_list(&blocked)
    );
    let remediation = format!(
        "Allow the client on the endpoint's security group {target_sg}:\n{}\nTerraform: on the aws_security_group {target_sg}, add {}",
        fixes.join("\n"),
        terraform.join(" and ")
    );
    with_evidence(
        Outcome::fail(summary)
            .details(details)
            .detail("security groups drop silently: clients see connection timeouts, not refusals")
            .remediation(remediation),
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

    fn endpoint_sg(s: &mut Snapshot) -> &mut SecurityGroup {
        let Fact::Known(gs) = &mut s.consumer.security_groups else {
            unreachable!()
        };
        gs.iter_mut().find(|g| g.id == base::ENDPOINT_SG).unwrap()
    }

    #[test]
    fn healthy_and_enterprise_pass() {
        assert_eq!(
            run(&base::healthy(), &EvalOptions::default()).status,
            Status::Pass
        );
        assert_eq!(
            run(&base::enterprise(), &EvalOptions::default()).status,
            Status::Pass
        );
    }

    #[test]
    fn missing_port_fails_with_concrete_fix() {
        let mut s = base::healthy();
        endpoint_sg(&mut s).ingress[0].port_range = Some(PortRange { from: 443, to: 443 });
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains(base::ENDPOINT_SG) && o.summary.contains("8443"),
            "{}",
            o.summary
        );
        let r = o.remediation.unwrap();
        assert!(r.contains(&format!(
            "aws ec2 authorize-security-group-ingress --group-id {} --protocol tcp --port 8443 --source-group {}",
            base::ENDPOINT_SG,
            base::CLIENT_SG
        )), "{r}");
        assert!(r.contains("--cidr 10.0.3.10/32"), "{r}");
    }

    #[test]
    fn ip_client_outside_the_rule_fails_and_partial_overlap_is_reported() {
        let s = base::healthy();
        let opts = EvalOptions {
            client: Some(ClientSpec::parse("10.9.0.0/16").unwrap()),
            ..Default::default()
        };
        let o = run(&s, &opts);
        assert_eq!(o.status, Status::Fail);
        assert!(o.remediation.unwrap().contains("--cidr 10.9.0.0/16"));
        let opts = EvalOptions {
            client: Some(ClientSpec::parse("10.0.0.0/8").unwrap()),
            ..Default::default()
        };
        let o = run(&s, &opts);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.details.iter().any(|d| d.contains("only part")),
            "{:?}",
            o.details
        );
    }

    #[test]
    fn without_a_client_somewhere_in_the_vpc_is_enough() {
        let mut s = base::healthy();
        s.inputs.client = None;
        s.consumer.client = None;
        endpoint_sg(&mut s).ingress[0].peer = SgPeer::Cidr(base::net("10.0.3.0/24"));
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert!(o.summary.contains("no --client"));
        endpoint_sg(&mut s).ingress[0].peer = SgPeer::Cidr(base::net("192.168.0.0/16"));
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Fail);
        assert!(o.remediation.unwrap().contains("--cidr 10.0.0.0/16"));
    }

    #[test]
    fn unknowns_name_the_missing_fact() {
        let mut s = base::healthy();
        s.consumer.security_groups = Fact::Absent(crate::fact::Missing::AccessDenied {
            action: "ec2:DescribeSecurityGroups".into(),
            message: None,
        });
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("ec2:DescribeSecurityGroups"));

        let mut s = base::healthy();
        s.provider.load_balancers = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("--port"), "{}", o.summary);
        // With --port, no provider access is needed.
        let o = run(
            &s,
            &EvalOptions {
                ports: vec![8443],
                ..Default::default()
            },
        );
        assert_eq!(o.status, Status::Pass);
    }

    #[test]
    fn unresolved_prefix_list_is_unknown_not_fail() {
        let mut s = base::healthy();
        endpoint_sg(&mut s).ingress[0].peer = SgPeer::PrefixList("pl-0123456789abcdef0".into());
        assert_eq!(run(&s, &EvalOptions::default()).status, Status::Unknown);
        s.consumer.prefix_lists = Fact::Known(vec![PrefixList {
            id: "pl-0123456789abcdef0".into(),
            name: "corp-clients".into(),
            cidrs: vec![base::net("10.0.3.0/24")],
        }]);
        assert_eq!(run(&s, &EvalOptions::default()).status, Status::Pass);
    }
}
