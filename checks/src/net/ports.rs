//! Protocols and port ranges as security-group and network-ACL rules write them,
//! and interval arithmetic over ports (a NACL's verdict over the ephemeral range
//! is a set of sub-ranges, not a yes/no).

use crate::model::PortRange;
use serde::Serialize;
use std::fmt;

/// The ephemeral range AWS recommends opening for return traffic: it covers every
/// client kind (Linux 32768-60999/61000, Windows 49152-65535, ELB, NAT gateway and
/// Lambda 1024-65535). <https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html>
pub const EPHEMERAL: PortRange = PortRange {
    from: 1024,
    to: 65535,
};

/// The whole port space, what a rule without a port range (or protocol -1) covers.
pub const ALL_PORTS: PortRange = PortRange { from: 0, to: 65535 };

/// A rule's protocol, normalised from its wire forms (`tcp`/`6`, `udp`/`17`, `icmp`/`1`,
/// `icmpv6`/`58`, `-1`/`all` for every protocol, other IANA numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Other(u8),
}

impl Protocol {
    /// `None` for a string that is no protocol AWS would send.
    pub fn parse(wire: &str) -> Option<Protocol> {
        let w = wire.trim();
        let named = [
            ("-1", Protocol::All),
            ("all", Protocol::All),
            ("tcp", Protocol::Tcp),
            ("udp", Protocol::Udp),
            ("icmp", Protocol::Icmp),
            ("icmpv6", Protocol::Icmpv6),
        ];
        if let Some((_, p)) = named.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)) {
            return Some(*p);
        }
        match w.parse::<u8>().ok()? {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            1 => Some(Protocol::Icmp),
            58 => Some(Protocol::Icmpv6),
            n => Some(Protocol::Other(n)),
        }
    }

    /// Does this protocol carry TCP (the only protocol PrivateLink interface endpoints
    /// take for TCP listeners)?
    pub fn matches_tcp(self) -> bool {
        matches!(self, Protocol::All | Protocol::Tcp)
    }
}

/// The TCP ports a rule covers: empty when it is not a TCP rule. Protocol -1 ignores
/// any port range (AWS reports -1/-1 or nothing), a TCP rule without a range covers all.
pub fn tcp_ports_of_rule(protocol: &str, range: Option<PortRange>) -> PortSet {
    match Protocol::parse(protocol) {
        Some(Protocol::All) => PortSet::from(ALL_PORTS),
        Some(Protocol::Tcp) => PortSet::from(range.unwrap_or(ALL_PORTS)),
        _ => PortSet::empty(),
    }
}

/// Does a rule `(protocol, ports)` cover TCP port `port`?
pub fn rule_covers_tcp_port(protocol: &str, range: Option<PortRange>, port: u16) -> bool {
    tcp_ports_of_rule(protocol, range).contains(port)
}

/// `8443` or `1024-65535`, as engineers and the AWS console write ranges.
pub fn fmt_range(r: PortRange) -> String {
    if r.from == r.to {
        r.from.to_string()
    } else {
        format!("{}-{}", r.from, r.to)
    }
}

/// A set of ports as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<PortRange>,
}

impl From<PortRange> for PortSet {
    fn from(r: PortRange) -> Self {
        let mut s = PortSet::empty();
        s.insert(r);
        s
    }
}

impl PortSet {
    pub fn empty() -> Self {
        PortSet { ranges: Vec::new() }
    }

    pub fn single(port: u16) -> Self {
        PortSet::from(PortRange {
            from: port,
            to: port,
        })
    }

    pub fn ranges(&self) -> &[PortRange] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|r| r.from <= port && port <= r.to)
    }

    /// Number of ports in the set (up to 65536, hence u32).
    pub fn len(&self) -> u32 {
        self.ranges
            .iter()
            .map(|r| u32::from(r.to) - u32::from(r.from) + 1)
            .sum()
    }

    /// Adds a range (reversed ranges are normalised), merging overlapping and adjacent ranges.
    pub fn insert(&mut self, r: PortRange) {
        let (lo, hi) = if r.from <= r.to {
            (r.from, r.to)
        } else {
            (r.to, r.from)
        };
        let mut merged = PortRange { from: lo, to: hi };
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for cur in self.ranges.drain(..) {
            let touches = u32::from(cur.from) <= u32::from(merged.to) + 1
                && u32::from(merged.from) <= u32::from(cur.to) + 1;
            if touches {
                merged.from = merged.from.min(cur.from);
                merged.to = merged.to.max(cur.to);
            } else {
                out.push(cur);
            }
        }
        out.push(merged);
        out.sort_unstable();
        self.ranges = out;
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut s = self.clone();
        for r in &other.ranges {
            s.insert(*r);
        }
        s
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let mut s = PortSet::empty();
        for a in &self.ranges {
            for b in &other.ranges {
                let from = a.from.max(b.from);
                let to = a.to.min(b.to);
                if from <= to {
                    s.insert(PortRange { from, to });
                }
            }
        }
        s
    }

    /// The ports of `self` not in `other`.
    pub fn subtract(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        for a in &self.ranges {
            let mut pieces = vec![*a];
            for b in &other.ranges {
                let mut next = Vec::new();
                for p in pieces {
                    if b.to < p.from || b.from > p.to {
                        next.push(p);
                        continue;
                    }
                    if b.from > p.from {
                        next.push(PortRange {
                            from: p.from,
                            to: b.from - 1,
                        });
                    }
                    if b.to < p.to {
                        next.push(PortRange {
                            from: b.to + 1,
                            to: p.to,
                        });
                    }
                }
                pieces = next;
            }
            out.extend(pieces);
        }
        let mut s = PortSet::empty();
        for r in out {
            s.insert(r);
        }
        s
    }

    /// Is every port of `other` in `self`?
    pub fn covers(&self, other: &PortSet) -> bool {
        other.subtract(self).is_empty()
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ranges.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.ranges.iter().map(|r| fmt_range(*r)).collect();
        f.write_str(&parts.join(", "))
    }
}

impl Serialize for PortSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.ranges.iter().map(|r| fmt_range(*r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(from: u16, to: u16) -> PortRange {
        PortRange { from, to }
    }

    #[test]
    fn protocols_normalise_from_every_wire_form() {
        assert_eq!(Protocol::parse("tcp"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("TCP"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("6"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("17"), Some(Protocol::Udp));
        assert_eq!(Protocol::parse("udp"), Some(Protocol::Udp));
        assert_eq!(Protocol::parse("-1"), Some(Protocol::All));
        assert_eq!(Protocol::parse("1"), Some(Protocol::Icmp));
        assert_eq!(Protocol::parse("icmpv6"), Some(Protocol::Icmpv6));
        assert_eq!(Protocol::parse("58"), Some(Protocol::Icmpv6));
        assert_eq!(Protocol::parse("50"), Some(Protocol::Other(50)));
        assert_eq!(Protocol::parse("bogus"), None);
        assert_eq!(Protocol::parse("300"), None);
        assert!(Protocol::All.matches_tcp());
        assert!(!Protocol::Udp.matches_tcp());
        assert!(!Protocol::Other(6 + 1).matches_tcp());
    }

    #[test]
    fn rules_cover_tcp_ports_by_protocol_and_range() {
        assert!(rule_covers_tcp_port("tcp", Some(r(8443, 8443)), 8443));
        assert!(!rule_covers_tcp_port("tcp", Some(r(443, 443)), 8443));
        assert!(rule_covers_tcp_port("6", Some(r(8000, 9000)), 8443));
        // -1 means all ports whatever range is reported alongside it.
        assert!(rule_covers_tcp_port("-1", Some(r(0, 0)), 8443));
        assert!(rule_covers_tcp_port("-1", None, 1));
        assert!(rule_covers_tcp_port("tcp", None, 65535));
        assert!(!rule_covers_tcp_port("udp", Some(r(8443, 8443)), 8443));
        assert!(!rule_covers_tcp_port("17", None, 8443));
        assert!(!rule_covers_tcp_port("icmp", None, 8443));
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent_ranges() {
        let mut s = PortSet::empty();
        s.insert(r(100, 200));
        s.insert(r(300, 400));
        s.insert(r(201, 299));
        assert_eq!(s.ranges(), &[r(100, 400)]);
        s.insert(r(65535, 65535));
        s.insert(r(10, 5));
        assert_eq!(s.ranges(), &[r(5, 10), r(100, 400), r(65535, 65535)]);
        assert_eq!(s.len(), 6 + 301 + 1);
    }

    #[test]
    fn subtract_splits_ranges_at_the_edges_of_the_port_space() {
        let all = PortSet::from(ALL_PORTS);
        let rest = all.subtract(&PortSet::single(0));
        assert_eq!(rest.ranges(), &[r(1, 65535)]);
        let rest = all.subtract(&PortSet::single(65535));
        assert_eq!(rest.ranges(), &[r(0, 65534)]);
        let eph = PortSet::from(EPHEMERAL);
        let linux_only = PortSet::from(r(32768, 65535));
        assert_eq!(eph.subtract(&linux_only).ranges(), &[r(1024, 32767)]);
        let holes = eph.subtract(&PortSet::from(r(2000, 3000)).union(&PortSet::single(5000)));
        assert_eq!(
            holes.ranges(),
            &[r(1024, 1999), r(3001, 4999), r(5001, 65535)]
        );
        assert!(eph.subtract(&all).is_empty());
    }

    #[test]
    fn intersect_and_covers() {
        let a = PortSet::from(r(1000, 2000)).union(&PortSet::from(r(3000, 4000)));
        let b = PortSet::from(r(1500, 3500));
        assert_eq!(a.intersect(&b).ranges(), &[r(1500, 2000), r(3000, 3500)]);
        assert!(PortSet::from(ALL_PORTS).covers(&a));
        assert!(!b.covers(&a));
        assert!(a.covers(&PortSet::empty()));
        assert_eq!(a.to_string(), "1000-2000, 3000-4000");
        assert_eq!(PortSet::single(8443).to_string(), "8443");
        assert_eq!(PortSet::empty().to_string(), "none");
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!(["1000-2000", "3000-4000"])
        );
    }
}
