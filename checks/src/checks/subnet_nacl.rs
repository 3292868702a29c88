//! Step 6: do the network ACLs on the path allow the service port one way and the
//! ephemeral ports of the replies the other way?

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::model::{NetworkAcl, PortRange};
use crate::net::cidr;
use crate::net::family;
use crate::net::nacl::{self, Flow, NaclEvaluation};
use crate::net::ports::{fmt_range, PortSet, EPHEMERAL};
use ipnet::IpNet;

pub static META: CheckMeta = CheckMeta {
    id: "subnet-nacl",
    title: "Network ACLs allow the port and the ephemeral return ports",
    source: "beyond the seed: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.endpoint_enis",
        "consumer.subnets",
        "consumer.network_acls",
        "consumer.vpc.cidr_blocks",
        "consumer.client",
        "provider.load_balancers[].listeners[].port",
    ],
    consumer_actions: &[
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeVpcs",
        "ec2:DescribeInstances",
    ],
    provider_actions: &["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html",
    doc: CheckDoc {
        what_it_checks: "Network ACLs are stateless, so both directions are judged, each in rule-number order with \
first match winning and the implicit `*` deny last. The ACL of every endpoint ENI subnet must allow the service \
port inbound from the client and the ephemeral ports 1024-65535 outbound to it; when the client's subnet is known \
(an instance), its ACL must allow the port outbound to the ENI addresses and the ephemeral ports inbound from them. \
With no --client, the consumer VPC's CIDRs stand in for the client (said in the summary). A client in the same \
subnet as an ENI does not cross that ACL. Allowing only part of 1024-65535 warns: Linux clients use 32768-60999, \
but Windows uses 49152-65535 and NAT gateways, ELB and Lambda use 1024-65535, and AWS recommends opening \
1024-65535 for return traffic.",
        why_it_matters: "A deny numbered before the allow-all, or a custom ACL that forgot the return ports, drops \
packets silently: the client sees a timeout that looks like a security-group or provider problem. Unlike security \
groups, ACLs need the replies' ephemeral ports opened explicitly.",
        how_to_fix: "Insert an allow below the denying rule's number: `aws ec2 create-network-acl-entry \
--network-acl-id <acl-…> --ingress --rule-number <n> --protocol tcp --port-range From=<port>,To=<port> \
--cidr-block <client CIDR> --rule-action allow`, and for the replies `--egress ... --port-range From=1024,To=65535 \
--cidr-block <client CIDR>`; or fix the offending entry in place with `aws ec2 replace-network-acl-entry` (same \
arguments, its rule number). Terraform: `aws_network_acl_rule` with `network_acl_id`, `rule_number`, `egress`, \
`protocol = \"tcp\"`, `rule_action = \"allow\"`, `cidr_block`, `from_port`, `to_port`.",
    },
};

/// One judged hop: an ACL, a direction, a peer and the ports that must pass.
struct Hop<'a> {
    acl: &'a NetworkAcl,
    subnet_id: String,
    what: &'static str,
    eval: NaclEvaluation,
}

/// Linux (32768-60999) or Windows (49152-65535) clients can still get replies.
fn a_common_client_range_is_open(allowed: &PortSet) -> bool {
    allowed.covers(&PortSet::from(PortRange {
        from: 32768,
        to: 60999,
    })) || allowed.covers(&PortSet::from(PortRange {
        from: 49152,
        to: 65535,
    }))
}

/// The CLI flag of an ACL entry's CIDR: IPv6 entries take `--ipv6-cidr-block`.
fn cidr_flag(n: &IpNet) -> &'static str {
    if n.addr().is_ipv4() {
        "--cidr-block"
    } else {
        "--ipv6-cidr-block"
    }
}

fn fix_for(hop: &Hop, peer: IpNet, ports: PortRange) -> String {
    let deny = hop.eval.first_explicit_deny();
    let n = nacl::suggest_rule_number(hop.acl, hop.eval.direction, deny);
    let mut s = format!(
        "aws ec2 create-network-acl-entry --network-acl-id {} {} --rule-number {n} --protocol tcp --port-range From={},To={} {} {peer} --rule-action allow",
        hop.acl.id,
        hop.eval.direction.cli_flag(),
        ports.from,
        ports.to,
        cidr_flag(&peer)
    );
    if let Some(d) = deny {
        if let Some(e) = hop
            .acl
            .entries
            .iter()
            .find(|e| e.rule_number == d && e.egress == (hop.eval.direction == Flow::Outbound))
        {
            s.push_str(&format!(
                "\n  or, if rule {d} should not deny this traffic: aws ec2 replace-network-acl-entry --network-acl-id {} {} --rule-number {d} --protocol tcp --port-range From={},To={} {} {} --rule-action allow",
                hop.acl.id,
                hop.eval.direction.cli_flag(),
                ports.from,
                ports.to,
                cidr_flag(&e.cidr),
                e.cidr
            ));
        }
    }
    s.push_str(&format!(
        "\n  Terraform: resource \"aws_network_acl_rule\" {{ network_acl_id = \"{}\", rule_number = {n}, egress = {}, protocol = \"tcp\", rule_action = \"allow\", {} = \"{peer}\", from_port = {}, to_port = {} }}",
        hop.acl.id,
        hop.eval.direction == Flow::Outbound,
        if peer.addr().is_ipv4() { "cidr_block" } else { "ipv6_cidr_block" },
        ports.from,
        ports.to
    ));
    s
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let ports = match ctx.ports() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(format!("the service ports are not known: {why}")),
    };
    let c = &ctx.snapshot.consumer;
    let acls = known_or_unknown!(
        &c.network_acls,
        "the network ACLs (ec2:DescribeNetworkAcls)"
    );
    let enis = known_or_unknown!(
        &c.endpoint_enis,
        "the endpoint's network interfaces (ec2:DescribeNetworkInterfaces)"
    );
    let subnets = c.subnets.known().map(Vec::as_slice).unwrap_or(&[]);
    let client = match ctx.client() {
        Some(Err(why)) => return Outcome::unknown(format!("cannot resolve the client: {why}")),
        Some(Ok(cl)) => Some(cl),
        None => None,
    };
    let (peers, client_subnet, who) = match &client {
        Some(cl) => (
            cl.addresses.clone(),
            cl.subnet_id.clone(),
            format!("client {}", cl.spec),
        ),
        None => {
            let vpc = known_or_unknown!(&c.vpc, "the consumer VPC's CIDRs (ec2:DescribeVpcs)");
            let who = format!(
                "the VPC {} (no --client given)",
                vpc.cidr_blocks
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (vpc.cidr_blocks.clone(), None, who)
        }
    };

    let mut hops: Vec<Hop> = Vec::new();
    let mut notes = Vec::new();
    let mut unknowns = Vec::new();
    let mut eni_subnets: Vec<&str> = enis.iter().map(|e| e.subnet_id.as_str()).collect();
    eni_subnets.dedup();
    eni_subnets.sort_unstable();
    eni_subnets.dedup();
    for sid in &eni_subnets {
        let Some(acl) = nacl::acl_for_subnet(acls, sid) else {
            unknowns.push(format!(
                "no network ACL associated with endpoint subnet {sid} was collected"
            ));
            continue;
        };
        // Both families: an IPv6 client inside the subnet's IPv6 CIDR stays inside it too.
        let subnet_cidrs: Vec<IpNet> = subnets
            .iter()
            .filter(|s| s.id == *sid)
            .flat_map(|s| std::iter::once(s.cidr_block).chain(s.ipv6_cidr_blocks.iter().copied()))
            .collect();
        for peer in &peers {
            if subnet_cidrs.iter().any(|sc| cidr::contains(sc, peer)) {
                notes.push(format!("{peer} is inside endpoint subnet {sid}: traffic within a subnet does not cross its network ACL"));
                continue;
            }
            for port in &ports.ports {
                hops.push(Hop {
                    acl,
                    subnet_id: sid.to_string(),
                    what: "service port inbound from the client",
                    eval: nacl::evaluate(
                        acl,
                        Flow::Inbound,
                        peer,
                        PortRange {
                            from: *port,
                            to: *port,
                        },
                    ),
                });
            }
            hops.push(Hop {
                acl,
                subnet_id: sid.to_string(),
                what: "ephemeral ports outbound to the client",
                eval: nacl::evaluate(acl, Flow::Outbound, peer, EPHEMERAL),
            });
        }
    }
    if let Some(csid) = &client_subnet {
        match nacl::acl_for_subnet(acls, csid) {
            None => unknowns.push(format!(
                "no network ACL associated with the client's subnet {csid} was collected"
            )),
            Some(acl) => {
                let (client_v4, client_v6) = family::client_families(&peers);
                // The ENI addresses the client talks to: its family's (IPv4, IPv6 or both).
                let eni_addresses = enis.iter().filter(|e| e.subnet_id != *csid).flat_map(|e| {
                    std::iter::once(e.private_ip)
                        .filter(move |_| client_v4)
                        .chain(e.ipv6_addresses.iter().copied().filter(move |_| client_v6))
                        .map(cidr::host)
                });
                for eni in eni_addresses {
                    for port in &ports.ports {
                        hops.push(Hop {
                            acl,
                            subnet_id: csid.clone(),
                            what: "service port outbound from the client's subnet to the endpoint ENI",
                            eval: nacl::evaluate(acl, Flow::Outbound, &eni, PortRange { from: *port, to: *port }),
                        });
                    }
                    hops.push(Hop {
                        acl,
                        subnet_id: csid.clone(),
                        what:
                            "ephemeral ports inbound to the client's subnet from the endpoint ENI",
                        eval: nacl::evaluate(acl, Flow::Inbound, &eni, EPHEMERAL),
                    });
                }
                for e in enis.iter().filter(|e| e.subnet_id == *csid) {
                    notes.push(format!("the client shares subnet {csid} with {}: that path does not cross a network ACL", e.id));
                }
            }
        }
    }

    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut fixes = Vec::new();
    for hop in &hops {
        if hop.eval.fully_allowed() {
            continue;
        }
        let is_ephemeral = hop.eval.ports == EPHEMERAL;
        let allowed = hop.eval.allowed_for_all();
        let denied: Vec<String> = hop
            .eval
            .denials()
            .iter()
            .map(|(net, seg)| {
                format!(
                    "{} to/from {net} denied by {}",
                    fmt_range(seg.ports),
                    seg.rule_label()
                )
            })
            .collect();
        let line = format!(
            "{} (subnet {}), {}: {}",
            hop.acl.id,
            hop.subnet_id,
            hop.what,
            denied.join(", ")
        );
        let mut denied_nets: Vec<IpNet> = hop.eval.denials().iter().map(|(n, _)| *n).collect();
        denied_nets.sort_unstable();
        denied_nets.dedup();
        if is_ephemeral && !allowed.is_empty() && a_common_client_range_is_open(&allowed) {
            warns.push(format!("{line} (only {allowed} open)"));
        } else {
            fails.push(line);
        }
        for net in IpNet::aggregate(&denied_nets) {
            fixes.push(fix_for(hop, net, hop.eval.ports));
        }
    }
    let evidence = |o: Outcome| {
        o.evidence("ports", &ports)
            .evidence("peer", &peers)
            .evidence(
                "evaluations",
                hops.iter()
                    .map(|h| serde_json::json!({"subnet_id": h.subnet_id, "what": h.what, "evaluation": h.eval}))
                    .collect::<Vec<_>>(),
            )
    };
    if !fails.is_empty() {
        return evidence(
            Outcome::fail(format!("a network ACL drops traffic for {who}: {}", fails[0]))
                .details(fails.iter().skip(1).cloned())
                .details(warns)
                .details(notes)
                .detail("network ACL drops are silent: the client sees a timeout; flow logs on the endpoint ENIs record REJECT")
                .remediation(format!("Allow the traffic in the network ACL (rule numbers are free slots that beat the deny):\n{}", fixes.join("\n"))),
        );
    }
    if !unknowns.is_empty() {
        return evidence(Outcome::unknown(unknowns.join("; ")).details(notes));
    }
    if !warns.is_empty() {
        return evidence(
            Outcome::warn(format!("the network ACLs open only part of the ephemeral range 1024-65535 for {who}: {}", warns[0]))
                .details(warns.iter().skip(1).cloned())
                .detail("Linux clients use 32768-60999, but Windows uses 49152-65535 and NAT gateways, ELB and Lambda use 1024-65535; AWS recommends opening 1024-65535 for return traffic")
                .details(notes)
                .remediation(format!("Open the whole ephemeral range:\n{}", fixes.join("\n"))),
        );
    }
    if hops.is_empty() {
        return evidence(
            Outcome::pass(format!("no network ACL lies on the path for {who}")).details(notes),
        );
    }
    evidence(
        Outcome::pass(format!(
            "the network ACLs allow TCP {} and the ephemeral return ports 1024-65535 for {who}",
            ports
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .details(notes),
    )
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

    fn entry(
        num: u16,
        egress: bool,
        action: &str,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> NaclEntry {
        NaclEntry {
            rule_number: num,
            egress,
            protocol: if ports.is_some() {
                "6".into()
            } else {
                "-1".into()
            },
            rule_action: action.into(),
            cidr: base::net(cidr),
            port_range: ports.map(|(from, to)| PortRange { from, to }),
        }
    }

    fn shared_acl(s: &mut Snapshot) -> &mut NetworkAcl {
        let Fact::Known(acls) = &mut s.consumer.network_acls else {
            unreachable!()
        };
        &mut acls[0]
    }

    #[test]
    fn healthy_and_enterprise_pass() {
        assert_eq!(run(&base::healthy()).status, Status::Pass);
        let o = run(&base::enterprise());
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
    }

    #[test]
    fn a_deny_before_the_allow_all_fails_with_a_rule_number_below_it() {
        let mut s = base::healthy();
        shared_acl(&mut s).entries.push(entry(
            90,
            false,
            "deny",
            "10.0.3.0/24",
            Some((8443, 8443)),
        ));
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("rule 90"), "{}", o.summary);
        let r = o.remediation.unwrap();
        assert!(r.contains(&format!(
            "aws ec2 create-network-acl-entry --network-acl-id {} --ingress --rule-number 80 --protocol tcp --port-range From=8443,To=8443 --cidr-block 10.0.3.10/32 --rule-action allow",
            base::CONSUMER_NACL
        )), "{r}");
        assert!(r.contains("replace-network-acl-entry"));
        assert!(r.contains("aws_network_acl_rule"));
    }

    #[test]
    fn linux_only_ephemeral_range_warns_and_none_fails() {
        let mut s = base::healthy();
        let acl = shared_acl(&mut s);
        acl.entries.retain(|e| !e.egress);
        acl.entries.push(entry(
            100,
            true,
            "allow",
            "10.0.0.0/16",
            Some((32768, 65535)),
        ));
        // The shared ACL is also the client subnet's: its requests to the ENIs go out on 8443.
        acl.entries
            .push(entry(110, true, "allow", "10.0.0.0/16", Some((8443, 8443))));
        let o = run(&s);
        assert_eq!(o.status, Status::Warn, "{}", o.summary);
        assert!(o.remediation.unwrap().contains("--egress"));
        let acl = shared_acl(&mut s);
        acl.entries.retain(|e| !e.egress);
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("implicit deny"), "{}", o.summary);
    }

    #[test]
    fn no_client_uses_the_vpc_and_same_subnet_is_noted() {
        let mut s = base::healthy();
        s.inputs.client = None;
        s.consumer.client = None;
        let o = run(&s);
        assert_eq!(o.status, Status::Pass);
        assert!(o.summary.contains("no --client given"));
        let mut s = base::healthy();
        let Some(Fact::Known(cl)) = &mut s.consumer.client else {
            unreachable!()
        };
        cl.addresses = vec![base::net("10.0.1.50/32")];
        cl.subnet_id = Some("subnet-0a1b2c3d4e5f60001".into());
        shared_acl(&mut s).entries.push(entry(
            90,
            false,
            "deny",
            "10.0.1.0/24",
            Some((8443, 8443)),
        ));
        let o = run(&s);
        // The client's traffic to the ENI in its own subnet skips the ACL, but the other ENI's subnet denies it.
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.details.iter().any(|d| d.contains("does not cross")),
            "{:?}",
            o.details
        );
    }
}
