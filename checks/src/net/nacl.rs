//! Network ACL evaluation, the AWS way: stateless, so each direction is judged on
//! its own (the service port inbound, the ephemeral ports of the replies outbound);
//! entries of one direction in ascending rule number, first match wins, and the
//! implicit `*` rule (32767) denies whatever nothing matched. Traffic between two
//! addresses of the same subnet never crosses the subnet's ACL.
//!
//! A verdict is over a *range* of ports and a *network* of peers: a rule that
//! denies 1024-32767 to part of a /22 leaves some ports and some addresses allowed,
//! and on-call engineers need to know exactly which.

use crate::model::{NaclEntry, NetworkAcl, PortRange};
use crate::net::cidr;
use crate::net::ports::{fmt_range, tcp_ports_of_rule, PortSet};
use ipnet::IpNet;
use serde::Serialize;

/// Rule number of the implicit deny-all entry AWS shows as `*`.
pub const IMPLICIT_DENY: u16 = 32767;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Inbound,
    Outbound,
}

impl Flow {
    fn is_egress(self) -> bool {
        self == Flow::Outbound
    }
    /// The CLI flag of create-network-acl-entry for this direction.
    pub fn cli_flag(self) -> &'static str {
        match self {
            Flow::Inbound => "--ingress",
            Flow::Outbound => "--egress",
        }
    }
}

/// The fate of a run of ports: which rule decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    #[serde(serialize_with = "ser_range")]
    pub ports: PortRange,
    pub allowed: bool,
    /// `None` for the implicit `*` deny.
    pub rule_number: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_cidr: Option<IpNet>,
}

fn ser_range<S: serde::Serializer>(r: &PortRange, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_range(*r))
}

impl Segment {
    /// `rule 90` or `rule *`, as the console shows it.
    pub fn rule_label(&self) -> String {
        match self.rule_number {
            Some(n) => format!("rule {n}"),
            None => "rule * (implicit deny)".into(),
        }
    }
}

/// The segments for one part of the peer network that every entry treats alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceVerdict {
    pub peer: IpNet,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NaclEvaluation {
    pub acl_id: String,
    pub direction: Flow,
    pub peer: IpNet,
    #[serde(serialize_with = "ser_range")]
    pub ports: PortRange,
    pub by_peer: Vec<SourceVerdict>,
}

impl NaclEvaluation {
    /// Ports allowed for every address of the peer.
    pub fn allowed_for_all(&self) -> PortSet {
        self.by_peer
            .iter()
            .fold(PortSet::from(self.ports), |acc, sv| {
                let mut allowed = PortSet::empty();
                for s in sv.segments.iter().filter(|s| s.allowed) {
                    allowed.insert(s.ports);
                }
                acc.intersect(&allowed)
            })
    }

    pub fn fully_allowed(&self) -> bool {
        PortSet::from(self.ports)
            .subtract(&self.allowed_for_all())
            .is_empty()
    }

    /// Every denied run with the part of the peer it applies to.
    pub fn denials(&self) -> Vec<(IpNet, &Segment)> {
        self.by_peer
            .iter()
            .flat_map(|sv| {
                sv.segments
                    .iter()
                    .filter(|s| !s.allowed)
                    .map(move |s| (sv.peer, s))
            })
            .collect()
    }

    /// The lowest-numbered explicit deny that decides part of the traffic (a new allow
    /// must go below it); `None` when only the implicit `*` denies.
    pub fn first_explicit_deny(&self) -> Option<u16> {
        self.denials()
            .iter()
            .filter_map(|(_, s)| s.rule_number)
            .min()
    }
}

/// The ACL associated with `subnet_id`.
pub fn acl_for_subnet<'a>(acls: &'a [NetworkAcl], subnet_id: &str) -> Option<&'a NetworkAcl> {
    acls.iter()
        .find(|a| a.subnet_ids.iter().any(|s| s == subnet_id))
}

/// Splits `piece` until every entry CIDR either contains a part or is disjoint from it.
fn split_by(piece: IpNet, cidrs: &[IpNet], out: &mut Vec<IpNet>) {
    let strictly_inside = cidrs
        .iter()
        .any(|c| cidr::contains(&piece, c) && c.prefix_len() > piece.prefix_len());
    if !strictly_inside {
        out.push(piece);
        return;
    }
    match piece.subnets(piece.prefix_len() + 1) {
        Ok(halves) => {
            for h in halves {
                split_by(h, cidrs, out);
            }
        }
        Err(_) => out.push(piece),
    }
}

fn segments_for(entries: &[&NaclEntry], peer: &IpNet, ports: PortRange) -> Vec<Segment> {
    let mut remaining = PortSet::from(ports);
    let mut segs = Vec::new();
    for e in entries {
        if remaining.is_empty() {
            break;
        }
        if !cidr::contains(&e.cidr.trunc(), peer) {
            continue;
        }
        let decided = remaining.intersect(&tcp_ports_of_rule(&e.protocol, e.port_range));
        if decided.is_empty() {
            continue;
        }
        let allowed = e.rule_action.eq_ignore_ascii_case("allow");
        let is_star = e.rule_number >= IMPLICIT_DENY;
        for r in decided.ranges() {
            segs.push(Segment {
                ports: *r,
                allowed,
                rule_number: (!is_star).then_some(e.rule_number),
                rule_cidr: Some(e.cidr),
            });
        }
        remaining = remaining.subtract(&decided);
    }
    for r in remaining.ranges() {
        segs.push(Segment {
            ports: *r,
            allowed: false,
            rule_number: None,
            rule_cidr: None,
        });
    }
    segs.sort_by_key(|s| s.ports.from);
    segs
}

/// Which TCP ports of `ports` the ACL lets through in `direction` for traffic whose
/// far end (source inbound, destination outbound) is `peer`.
pub fn evaluate(
    acl: &NetworkAcl,
    direction: Flow,
    peer: &IpNet,
    ports: PortRange,
) -> NaclEvaluation {
    let mut entries: Vec<&NaclEntry> = acl
        .entries
        .iter()
        .filter(|e| e.egress == direction.is_egress())
        .collect();
    entries.sort_by_key(|e| e.rule_number);
    let cidrs: Vec<IpNet> = entries.iter().map(|e| e.cidr.trunc()).collect();
    let mut parts = Vec::new();
    split_by(peer.trunc(), &cidrs, &mut parts);
    // Parts the ACL treats alike are merged back, so a /16 peer with one /24 deny
    // reads as two verdicts, not as the dozen halvings it took to find them.
    let mut grouped: Vec<(Vec<Segment>, Vec<IpNet>)> = Vec::new();
    for part in parts {
        let segs = segments_for(&entries, &part, ports);
        match grouped.iter_mut().find(|(s, _)| *s == segs) {
            Some((_, nets)) => nets.push(part),
            None => grouped.push((segs, vec![part])),
        }
    }
    let mut by_peer = Vec::new();
    for (segs, nets) in grouped {
        for net in IpNet::aggregate(&nets) {
            by_peer.push(SourceVerdict {
                peer: net,
                segments: segs.clone(),
            });
        }
    }
    by_peer.sort_by_key(|sv| sv.peer);
    NaclEvaluation {
        acl_id: acl.id.clone(),
        direction,
        peer: *peer,
        ports,
        by_peer,
    }
}

/// A free rule number for a new allow in `direction`: just below `below` when an
/// explicit deny must be beaten, else a round number after the last rule.
pub fn suggest_rule_number(acl: &NetworkAcl, direction: Flow, below: Option<u16>) -> u16 {
    let used: Vec<u16> = acl
        .entries
        .iter()
        .filter(|e| e.egress == direction.is_egress())
        .map(|e| e.rule_number)
        .collect();
    let free = |n: &u16| !used.contains(n);
    match below {
        Some(limit) => {
            // Prefer a multiple of 10 (AWS's convention leaves gaps), else any gap.
            let tens = (1..limit).rev().filter(|n| n % 10 == 0).find(free);
            tens.or_else(|| (1..limit).rev().find(free)).unwrap_or(1)
        }
        None => {
            let last = used
                .iter()
                .copied()
                .filter(|n| *n < IMPLICIT_DENY)
                .max()
                .unwrap_or(0);
            let next = (last / 10 + 1) * 10;
            if next < IMPLICIT_DENY {
                next
            } else {
                (1..IMPLICIT_DENY).rev().find(free).unwrap_or(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn entry(
        num: u16,
        egress: bool,
        proto: &str,
        action: &str,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> NaclEntry {
        NaclEntry {
            rule_number: num,
            egress,
            protocol: proto.into(),
            rule_action: action.into(),
            cidr: n(cidr),
            port_range: ports.map(|(from, to)| PortRange { from, to }),
        }
    }

    fn acl(entries: Vec<NaclEntry>) -> NetworkAcl {
        NetworkAcl {
            id: "acl-1".into(),
            vpc_id: "vpc-1".into(),
            is_default: false,
            subnet_ids: vec!["subnet-a".into()],
            entries,
        }
    }

    fn p(port: u16) -> PortRange {
        PortRange {
            from: port,
            to: port,
        }
    }

    #[test]
    fn first_match_wins_in_rule_number_order_not_list_order() {
        let a = acl(vec![
            entry(100, false, "-1", "allow", "0.0.0.0/0", None),
            entry(90, false, "6", "deny", "10.0.3.0/24", Some((8443, 8443))),
        ]);
        let ev = evaluate(&a, Flow::Inbound, &n("10.0.3.10/32"), p(8443));
        assert!(!ev.fully_allowed());
        assert_eq!(ev.first_explicit_deny(), Some(90));
        let ev = evaluate(&a, Flow::Inbound, &n("10.0.4.10/32"), p(8443));
        assert!(ev.fully_allowed());
        assert_eq!(ev.by_peer[0].segments[0].rule_number, Some(100));
        // Outbound has no entries: the implicit deny decides.
        let ev = evaluate(&a, Flow::Outbound, &n("10.0.4.10/32"), p(8443));
        assert!(!ev.fully_allowed());
        assert_eq!(ev.first_explicit_deny(), None);
        assert_eq!(ev.denials()[0].1.rule_label(), "rule * (implicit deny)");
    }

    #[test]
    fn ephemeral_range_is_judged_in_sub_ranges() {
        let a = acl(vec![
            entry(100, true, "6", "allow", "10.0.0.0/16", Some((32768, 65535))),
            entry(200, true, "tcp", "allow", "10.0.0.0/16", Some((443, 443))),
        ]);
        let ev = evaluate(
            &a,
            Flow::Outbound,
            &n("10.0.3.10/32"),
            crate::net::ports::EPHEMERAL,
        );
        assert_eq!(ev.allowed_for_all().to_string(), "32768-65535");
        let segs = &ev.by_peer[0].segments;
        assert_eq!(segs.len(), 2);
        assert_eq!(
            segs[0].ports,
            PortRange {
                from: 1024,
                to: 32767
            }
        );
        assert!(!segs[0].allowed && segs[0].rule_number.is_none());
        assert_eq!(segs[1].rule_number, Some(100));
    }

    #[test]
    fn a_rule_for_part_of_the_peer_splits_the_verdict_by_address() {
        let a = acl(vec![
            entry(50, false, "6", "deny", "10.0.3.0/24", Some((8443, 8443))),
            entry(100, false, "-1", "allow", "0.0.0.0/0", None),
        ]);
        let ev = evaluate(&a, Flow::Inbound, &n("10.0.0.0/16"), p(8443));
        assert!(!ev.fully_allowed());
        let denied: Vec<IpNet> = ev.denials().iter().map(|(net, _)| *net).collect();
        assert_eq!(denied, vec![n("10.0.3.0/24")]);
        // The allowed remainder is merged back into a handful of networks, not 256.
        assert!(ev.by_peer.len() <= 9, "{:?}", ev.by_peer);
        let allowed: Vec<IpNet> = ev
            .by_peer
            .iter()
            .filter(|sv| sv.segments.iter().all(|s| s.allowed))
            .map(|sv| sv.peer)
            .collect();
        assert!(allowed.contains(&n("10.0.0.0/23")));
        assert!(allowed.contains(&n("10.0.128.0/17")));
    }

    #[test]
    fn protocols_and_families_filter_entries() {
        let a = acl(vec![
            entry(10, false, "17", "allow", "0.0.0.0/0", None),
            entry(20, false, "-1", "allow", "::/0", None),
            entry(30, false, "6", "allow", "0.0.0.0/0", Some((8443, 8443))),
        ]);
        let ev = evaluate(&a, Flow::Inbound, &n("10.0.3.10/32"), p(8443));
        assert_eq!(ev.by_peer[0].segments[0].rule_number, Some(30));
        let ev = evaluate(&a, Flow::Inbound, &n("fd00::1/128"), p(443));
        assert_eq!(ev.by_peer[0].segments[0].rule_number, Some(20));
    }

    #[test]
    fn a_listed_star_entry_is_the_implicit_deny() {
        let a = acl(vec![entry(32767, false, "-1", "deny", "0.0.0.0/0", None)]);
        let ev = evaluate(&a, Flow::Inbound, &n("10.0.3.10/32"), p(8443));
        assert!(!ev.fully_allowed());
        assert_eq!(ev.first_explicit_deny(), None);
    }

    #[test]
    fn rule_number_suggestions_beat_the_deny_and_avoid_used_numbers() {
        let a = acl(vec![
            entry(90, false, "6", "deny", "10.0.3.0/24", Some((8443, 8443))),
            entry(80, false, "6", "allow", "10.9.0.0/16", Some((22, 22))),
            entry(100, false, "-1", "allow", "0.0.0.0/0", None),
        ]);
        assert_eq!(suggest_rule_number(&a, Flow::Inbound, Some(90)), 70);
        assert_eq!(suggest_rule_number(&a, Flow::Inbound, None), 110);
        assert_eq!(suggest_rule_number(&a, Flow::Outbound, None), 10);
        let tight = acl(vec![entry(1, false, "-1", "allow", "0.0.0.0/0", None)]);
        assert_eq!(suggest_rule_number(&tight, Flow::Inbound, Some(5)), 4);
        assert_eq!(
            acl_for_subnet(std::slice::from_ref(&tight), "subnet-a")
                .unwrap()
                .id,
            "acl-1"
        );
        assert!(acl_for_subnet(&[tight], "subnet-b").is_none());
    }
}
