//! Security-group evaluation, the AWS way: allow-only, stateful (return traffic is
//! admitted automatically, so no ephemeral-port check), the union of every rule of
//! every group on the ENI applies. One walk over the rules serves the endpoint's
//! ingress (endpoint-sg-ingress), the client's egress (client-sg-egress), the NLB's
//! inbound rules (nlb-security-group) and the targets' ingress (target-sg-ingress).

use crate::model::{PrefixList, SecurityGroup, SgPeer, SgRule};
use crate::net::cidr;
use crate::net::ports::rule_covers_tcp_port;
use ipnet::IpNet;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

/// The other end of the traffic: its addresses (sources for ingress, destinations for
/// egress) and the security groups its ENIs carry (what group-reference rules match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub addresses: Vec<IpNet>,
    pub security_group_ids: Vec<String>,
}

/// One rule of one group, as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RuleRef<'a> {
    pub group_id: &'a str,
    #[serde(flatten)]
    pub rule: &'a SgRule,
}

/// The verdict for one TCP port, with the rules it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SgDecision<'a> {
    pub port: u16,
    pub admitted: bool,
    /// Rules on this port that admit the peer (or some of its addresses that end up admitted).
    pub admitting: Vec<RuleRef<'a>>,
    /// CIDR or prefix-list rules on this port that overlap a peer address they do not admit whole.
    pub partial: Vec<RuleRef<'a>>,
    /// Group-reference rules on this port for groups the peer does not carry.
    pub other_group_refs: Vec<RuleRef<'a>>,
    /// Prefix-list rules on this port whose entries are not in the snapshot: they might admit.
    pub unresolved_prefix_lists: Vec<RuleRef<'a>>,
    /// Peer addresses no rule admits (empty when a group reference admits the peer).
    pub uncovered: Vec<IpNet>,
}

impl SgDecision<'_> {
    /// Some rule on the port reaches somewhere in the peer: a partial CIDR overlap or a
    /// reference to any group. This is the "no client given, somewhere in the VPC" reading.
    pub fn admits_some(&self) -> bool {
        self.admitted || !self.partial.is_empty() || !self.other_group_refs.is_empty()
    }

    /// Not admitted, but a prefix list we could not read might admit it: do not guess.
    pub fn undecidable(&self) -> bool {
        !self.admitted && !self.unresolved_prefix_lists.is_empty()
    }
}

/// A group id as rules write it: a cross-account reference may carry `account/sg-…`.
fn bare_group_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The groups named by `ids` found in `all`, and the ids that are not there.
pub fn find_groups<'a>(
    all: &'a [SecurityGroup],
    ids: &[String],
) -> (Vec<&'a SecurityGroup>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        match all.iter().find(|g| g.id == *id) {
            Some(g) => {
                if !found.iter().any(|f: &&SecurityGroup| f.id == g.id) {
                    found.push(g)
                }
            }
            None => missing.push(id.clone()),
        }
    }
    (found, missing)
}

/// Does the union of `groups`' rules in `direction` admit TCP `port` to/from `peer`?
/// `prefix_lists` is `None` when the prefix lists could not be read at all.
pub fn evaluate<'a>(
    groups: &[&'a SecurityGroup],
    direction: Direction,
    port: u16,
    peer: &Peer,
    prefix_lists: Option<&[PrefixList]>,
) -> SgDecision<'a> {
    let mut d = SgDecision {
        port,
        admitted: false,
        admitting: Vec::new(),
        partial: Vec::new(),
        other_group_refs: Vec::new(),
        unresolved_prefix_lists: Vec::new(),
        uncovered: Vec::new(),
    };
    // CIDR-like rules (plain CIDRs and resolved prefix lists) with the CIDRs they name.
    let mut cidr_rules: Vec<(RuleRef<'a>, Vec<IpNet>)> = Vec::new();
    let mut group_match = false;
    for g in groups {
        let rules = match direction {
            Direction::Ingress => &g.ingress,
            Direction::Egress => &g.egress,
        };
        for rule in rules {
            if !rule_covers_tcp_port(&rule.protocol, rule.port_range, port) {
                continue;
            }
            let r = RuleRef {
                group_id: &g.id,
                rule,
            };
            match &rule.peer {
                SgPeer::SecurityGroup(ref_id) => {
                    let carried = peer
                        .security_group_ids
                        .iter()
                        .any(|p| bare_group_id(p) == bare_group_id(ref_id));
                    if carried {
                        group_match = true;
                        d.admitting.push(r);
                    } else {
                        d.other_group_refs.push(r);
                    }
                }
                SgPeer::Cidr(net) => cidr_rules.push((r, vec![*net])),
                SgPeer::PrefixList(pl_id) => {
                    match prefix_lists.and_then(|pls| pls.iter().find(|p| p.id == *pl_id)) {
                        Some(pl) => cidr_rules.push((r, pl.cidrs.clone())),
                        None => d.unresolved_prefix_lists.push(r),
                    }
                }
            }
        }
    }
    if group_match {
        d.admitted = true;
        return d;
    }
    let all_cidrs: Vec<IpNet> = cidr_rules.iter().flat_map(|(_, c)| c.clone()).collect();
    let (covered, uncovered): (Vec<IpNet>, Vec<IpNet>) = peer
        .addresses
        .iter()
        .partition(|a| cidr::union_contains(&all_cidrs, a));
    for (r, cidrs) in cidr_rules {
        let touches = |addrs: &[IpNet]| {
            addrs
                .iter()
                .any(|a| cidrs.iter().any(|c| cidr::overlaps(c, a)))
        };
        if touches(&covered) {
            d.admitting.push(r);
        } else if touches(&uncovered) {
            d.partial.push(r);
        }
    }
    d.admitted = !peer.addresses.is_empty() && uncovered.is_empty();
    d.uncovered = uncovered;
    d
}

/// [`evaluate`] for every port under test.
pub fn evaluate_ports<'a>(
    groups: &[&'a SecurityGroup],
    direction: Direction,
    ports: &[u16],
    peer: &Peer,
    prefix_lists: Option<&[PrefixList]>,
) -> Vec<SgDecision<'a>> {
    ports
        .iter()
        .map(|p| evaluate(groups, direction, *p, peer, prefix_lists))
        .collect()
}

/// What a new rule should name as the other end: a CIDR or a security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Cidr(IpNet),
    Group(String),
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Cidr(n) => write!(f, "{n}"),
            Grant::Group(g) => f.write_str(g),
        }
    }
}

/// The exact AWS CLI command adding a TCP `port` rule to `group_id`.
pub fn authorize_cli(direction: Direction, group_id: &str, port: u16, grant: &Grant) -> String {
    match (direction, grant) {
        (Direction::Ingress, Grant::Cidr(IpNet::V4(n))) => format!(
            "aws ec2 authorize-security-group-ingress --group-id {group_id} --protocol tcp --port {port} --cidr {n}"
        ),
        (Direction::Ingress, Grant::Group(g)) => format!(
            "aws ec2 authorize-security-group-ingress --group-id {group_id} --protocol tcp --port {port} --source-group {g}"
        ),
        (Direction::Ingress, Grant::Cidr(IpNet::V6(n))) => format!(
            "aws ec2 authorize-security-group-ingress --group-id {group_id} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},Ipv6Ranges=[{{CidrIpv6={n}}}]'"
        ),
        (Direction::Egress, grant) => format!(
            "aws ec2 authorize-security-group-egress --group-id {group_id} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},{}'",
            match grant {
                Grant::Cidr(IpNet::V4(n)) => format!("IpRanges=[{{CidrIp={n}}}]"),
                Grant::Cidr(IpNet::V6(n)) => format!("Ipv6Ranges=[{{CidrIpv6={n}}}]"),
                Grant::Group(g) => format!("UserIdGroupPairs=[{{GroupId={g}}}]"),
            }
        ),
    }
}

/// The same rule as a standalone Terraform resource
/// (`aws_vpc_security_group_ingress_rule` / `aws_vpc_security_group_egress_rule`).
pub fn terraform_rule(
    direction: Direction,
    group_id: &str,
    port: u16,
    grant: &Grant,
    description: &str,
) -> String {
    let kind = match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    let peer = match grant {
        Grant::Cidr(IpNet::V4(n)) => format!("cidr_ipv4 = \"{n}\""),
        Grant::Cidr(IpNet::V6(n)) => format!("cidr_ipv6 = \"{n}\""),
        Grant::Group(g) => format!("referenced_security_group_id = \"{g}\""),
    };
    format!(
        "resource \"aws_vpc_security_group_{kind}_rule\" \"{name}\" {{ security_group_id = \"{group_id}\", ip_protocol = \"tcp\", from_port = {port}, to_port = {port}, {peer}, description = \"{description}\" }}",
        name = description.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
    )
}

/// One rule in one line for details: `sg-… tcp 8443 from 10.0.0.0/16`.
pub fn describe(r: &RuleRef, direction: Direction) -> String {
    let ports = match crate::net::ports::Protocol::parse(&r.rule.protocol) {
        Some(crate::net::ports::Protocol::All) => "all traffic".to_owned(),
        _ => match r.rule.port_range {
            Some(pr) => format!("{} {}", r.rule.protocol, crate::net::ports::fmt_range(pr)),
            None => format!("{} all ports", r.rule.protocol),
        },
    };
    let peer = match &r.rule.peer {
        SgPeer::Cidr(n) => n.to_string(),
        SgPeer::SecurityGroup(g) => format!("security group {g}"),
        SgPeer::PrefixList(p) => format!("prefix list {p}"),
    };
    let dir = match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    format!("{} {ports} {dir} {peer}", r.group_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PortRange;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn rule(protocol: &str, ports: Option<(u16, u16)>, peer: SgPeer) -> SgRule {
        SgRule {
            protocol: protocol.into(),
            port_range: ports.map(|(from, to)| PortRange { from, to }),
            peer,
            description: None,
        }
    }

    fn group(id: &str, ingress: Vec<SgRule>, egress: Vec<SgRule>) -> SecurityGroup {
        SecurityGroup {
            id: id.into(),
            name: id.into(),
            vpc_id: "vpc-1".into(),
            owner_id: "222222222222".into(),
            ingress,
            egress,
        }
    }

    fn peer(addrs: &[&str], sgs: &[&str]) -> Peer {
        Peer {
            addresses: addrs.iter().map(|a| n(a)).collect(),
            security_group_ids: sgs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn cidr_rule_admits_only_when_it_contains_every_peer_address() {
        let g = group(
            "sg-a",
            vec![rule(
                "tcp",
                Some((8443, 8443)),
                SgPeer::Cidr(n("10.0.3.0/24")),
            )],
            vec![],
        );
        let d = evaluate(
            &[&g],
            Direction::Ingress,
            8443,
            &peer(&["10.0.3.10/32"], &[]),
            None,
        );
        assert!(d.admitted);
        assert_eq!(d.admitting.len(), 1);
        assert_eq!(d.admitting[0].group_id, "sg-a");

        let wide = peer(&["10.0.0.0/16"], &[]);
        let d = evaluate(&[&g], Direction::Ingress, 8443, &wide, None);
        assert!(!d.admitted);
        assert_eq!(d.partial.len(), 1, "partial overlap reported separately");
        assert!(d.admits_some());
        assert_eq!(d.uncovered, vec![n("10.0.0.0/16")]);

        let d = evaluate(
            &[&g],
            Direction::Ingress,
            443,
            &peer(&["10.0.3.10/32"], &[]),
            None,
        );
        assert!(!d.admitted && d.partial.is_empty() && !d.admits_some());
    }

    #[test]
    fn the_union_of_all_groups_applies() {
        let a = group(
            "sg-a",
            vec![rule(
                "tcp",
                Some((8443, 8443)),
                SgPeer::Cidr(n("10.0.0.0/17")),
            )],
            vec![],
        );
        let b = group(
            "sg-b",
            vec![rule(
                "6",
                Some((8000, 9000)),
                SgPeer::Cidr(n("10.0.128.0/17")),
            )],
            vec![],
        );
        let d = evaluate(
            &[&a, &b],
            Direction::Ingress,
            8443,
            &peer(&["10.0.0.0/16"], &[]),
            None,
        );
        assert!(d.admitted);
        assert_eq!(d.admitting.len(), 2);
        // An instance with two addresses needs both admitted.
        let two = peer(&["10.0.1.5/32", "10.1.0.5/32"], &[]);
        let d = evaluate(&[&a, &b], Direction::Ingress, 8443, &two, None);
        assert!(!d.admitted);
        assert_eq!(d.uncovered, vec![n("10.1.0.5/32")]);
    }

    #[test]
    fn all_traffic_and_protocol_filtering() {
        let g = group(
            "sg-a",
            vec![
                rule("udp", Some((8443, 8443)), SgPeer::Cidr(n("0.0.0.0/0"))),
                rule("icmp", None, SgPeer::Cidr(n("0.0.0.0/0"))),
            ],
            vec![rule("-1", None, SgPeer::Cidr(n("0.0.0.0/0")))],
        );
        let p = peer(&["10.0.1.25/32"], &[]);
        assert!(!evaluate(&[&g], Direction::Ingress, 8443, &p, None).admitted);
        assert!(evaluate(&[&g], Direction::Egress, 8443, &p, None).admitted);
        // An IPv4 rule never admits an IPv6 peer.
        let v6 = peer(&["fd00::5/128"], &[]);
        assert!(!evaluate(&[&g], Direction::Egress, 8443, &v6, None).admitted);
    }

    #[test]
    fn group_references_match_peers_carrying_the_group() {
        let g = group(
            "sg-endpoint",
            vec![rule(
                "tcp",
                Some((8443, 8443)),
                SgPeer::SecurityGroup("sg-client".into()),
            )],
            vec![],
        );
        let carrying = peer(&["10.0.3.10/32"], &["sg-client"]);
        let d = evaluate(&[&g], Direction::Ingress, 8443, &carrying, None);
        assert!(d.admitted && d.uncovered.is_empty());
        let other = peer(&["10.0.3.10/32"], &["sg-other"]);
        let d = evaluate(&[&g], Direction::Ingress, 8443, &other, None);
        assert!(!d.admitted);
        assert_eq!(d.other_group_refs.len(), 1);
        assert!(
            d.admits_some(),
            "a group reference could admit someone in the VPC"
        );
        // Cross-account references are written account/sg-….
        let g2 = group(
            "sg-e",
            vec![rule(
                "tcp",
                None,
                SgPeer::SecurityGroup("222222222222/sg-client".into()),
            )],
            vec![],
        );
        assert!(evaluate(&[&g2], Direction::Ingress, 1, &carrying, None).admitted);
    }

    #[test]
    fn prefix_lists_resolve_or_are_reported_unresolved() {
        let g = group(
            "sg-a",
            vec![rule(
                "tcp",
                Some((8443, 8443)),
                SgPeer::PrefixList("pl-1".into()),
            )],
            vec![],
        );
        let p = peer(&["10.0.3.10/32"], &[]);
        let d = evaluate(&[&g], Direction::Ingress, 8443, &p, None);
        assert!(!d.admitted && d.undecidable());
        let pls = vec![PrefixList {
            id: "pl-1".into(),
            name: "corp".into(),
            cidrs: vec![n("192.168.0.0/16"), n("10.0.0.0/16")],
        }];
        let d = evaluate(&[&g], Direction::Ingress, 8443, &p, Some(&pls));
        assert!(d.admitted && !d.undecidable());
        let d = evaluate(
            &[&g],
            Direction::Ingress,
            8443,
            &peer(&["172.16.0.1/32"], &[]),
            Some(&pls),
        );
        assert!(!d.admitted && !d.undecidable());
        // Known lists but not this one: still unresolved.
        let d = evaluate(&[&g], Direction::Ingress, 8443, &p, Some(&[]));
        assert!(d.undecidable());
    }

    #[test]
    fn an_empty_peer_is_never_admitted_by_cidrs() {
        let g = group(
            "sg-a",
            vec![rule("-1", None, SgPeer::Cidr(n("0.0.0.0/0")))],
            vec![],
        );
        assert!(!evaluate(&[&g], Direction::Ingress, 1, &Peer::default(), None).admitted);
    }

    #[test]
    fn find_groups_reports_missing_ids_and_dedups() {
        let all = vec![group("sg-a", vec![], vec![]), group("sg-b", vec![], vec![])];
        let ids = vec!["sg-a".to_string(), "sg-x".to_string(), "sg-a".to_string()];
        let (found, missing) = find_groups(&all, &ids);
        assert_eq!(found.len(), 1);
        assert_eq!(missing, vec!["sg-x".to_string()]);
    }

    #[test]
    fn evidence_serialises_rules_flat() {
        let g = group(
            "sg-a",
            vec![rule(
                "tcp",
                Some((8443, 8443)),
                SgPeer::Cidr(n("10.0.0.0/16")),
            )],
            vec![],
        );
        let d = evaluate(
            &[&g],
            Direction::Ingress,
            8443,
            &peer(&["10.0.3.10/32"], &[]),
            None,
        );
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["admitting"][0]["group_id"], "sg-a");
        assert_eq!(v["admitting"][0]["peer"]["cidr"], "10.0.0.0/16");
        assert_eq!(v["admitted"], true);
    }

    #[test]
    fn fix_commands_name_the_group_port_and_peer() {
        let c = authorize_cli(
            Direction::Ingress,
            "sg-e",
            8443,
            &Grant::Cidr(n("10.0.3.10/32")),
        );
        assert_eq!(c, "aws ec2 authorize-security-group-ingress --group-id sg-e --protocol tcp --port 8443 --cidr 10.0.3.10/32");
        let c = authorize_cli(
            Direction::Ingress,
            "sg-e",
            8443,
            &Grant::Group("sg-c".into()),
        );
        assert!(c.ends_with("--source-group sg-c"));
        let c = authorize_cli(
            Direction::Egress,
            "sg-c",
            8443,
            &Grant::Group("sg-e".into()),
        );
        assert!(
            c.contains(
                "IpProtocol=tcp,FromPort=8443,ToPort=8443,UserIdGroupPairs=[{GroupId=sg-e}]"
            ),
            "{c}"
        );
        let c = authorize_cli(
            Direction::Ingress,
            "sg-e",
            443,
            &Grant::Cidr(n("fd00::/64")),
        );
        assert!(c.contains("Ipv6Ranges=[{CidrIpv6=fd00::/64}]"), "{c}");
        let t = terraform_rule(
            Direction::Ingress,
            "sg-t",
            8443,
            &Grant::Group("sg-n".into()),
            "from the NLB",
        );
        assert!(
            t.starts_with("resource \"aws_vpc_security_group_ingress_rule\" \"from_the_nlb\""),
            "{t}"
        );
        assert!(t.contains("referenced_security_group_id = \"sg-n\""));
        let g = group(
            "sg-a",
            vec![rule("-1", None, SgPeer::Cidr(n("0.0.0.0/0")))],
            vec![],
        );
        let r = RuleRef {
            group_id: &g.id,
            rule: &g.ingress[0],
        };
        assert_eq!(
            describe(&r, Direction::Ingress),
            "sg-a all traffic from 0.0.0.0/0"
        );
    }
}
