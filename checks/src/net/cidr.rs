//! CIDR containment and overlap, IPv4 and IPv6. A rule of one family never matches
//! a source of the other (an IPv4 rule does not admit IPv6 traffic, and vice versa).

use ipnet::IpNet;
use std::net::IpAddr;

/// How much of a source network a rule's CIDR covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every address of the source is in the rule.
    Full,
    /// Some addresses are, some are not.
    Partial,
    None,
}

fn same_family(a: &IpNet, b: &IpNet) -> bool {
    matches!(
        (a, b),
        (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
    )
}

/// Does `rule` contain every address of `source`?
pub fn contains(rule: &IpNet, source: &IpNet) -> bool {
    same_family(rule, source) && rule.contains(source)
}

/// Do the two networks share at least one address?
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    same_family(a, b) && (a.contains(&b.network()) || b.contains(&a.network()))
}

pub fn coverage(rule: &IpNet, source: &IpNet) -> Coverage {
    if contains(rule, source) {
        Coverage::Full
    } else if overlaps(rule, source) {
        Coverage::Partial
    } else {
        Coverage::None
    }
}

/// Does the union of `rules` contain every address of `source`? (Two /17 rules cover a /16.)
pub fn union_contains(rules: &[IpNet], source: &IpNet) -> bool {
    let relevant: Vec<IpNet> = rules
        .iter()
        .filter(|r| overlaps(r, source))
        .map(IpNet::trunc)
        .collect();
    IpNet::aggregate(&relevant)
        .iter()
        .any(|agg| contains(agg, source))
}

/// An address as a host network (/32 or /128), how rules and clients meet.
pub fn host(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn containment_is_whole_source_and_same_family() {
        assert!(contains(&n("10.0.0.0/16"), &n("10.0.3.10/32")));
        assert!(contains(&n("10.0.0.0/16"), &n("10.0.0.0/16")));
        assert!(!contains(&n("10.0.3.0/24"), &n("10.0.0.0/16")));
        assert!(contains(&n("0.0.0.0/0"), &n("192.168.1.0/24")));
        assert!(!contains(&n("0.0.0.0/0"), &n("fd00::1/128")));
        assert!(!contains(&n("::/0"), &n("10.0.0.1/32")));
        assert!(contains(&n("fd00::/8"), &n("fd00:1::/64")));
    }

    #[test]
    fn overlap_in_either_direction() {
        assert!(overlaps(&n("10.0.3.0/24"), &n("10.0.0.0/16")));
        assert!(overlaps(&n("10.0.0.0/16"), &n("10.0.3.0/24")));
        assert!(!overlaps(&n("10.1.0.0/16"), &n("10.0.0.0/16")));
        assert!(!overlaps(&n("::/0"), &n("10.0.0.0/16")));
        assert_eq!(
            coverage(&n("10.0.3.0/24"), &n("10.0.0.0/16")),
            Coverage::Partial
        );
        assert_eq!(
            coverage(&n("10.0.0.0/8"), &n("10.0.0.0/16")),
            Coverage::Full
        );
        assert_eq!(
            coverage(&n("172.16.0.0/12"), &n("10.0.0.0/16")),
            Coverage::None
        );
    }

    #[test]
    fn union_of_rules_can_cover_what_no_single_rule_does() {
        let halves = [n("10.0.0.0/17"), n("10.0.128.0/17")];
        assert!(union_contains(&halves, &n("10.0.0.0/16")));
        assert!(!union_contains(&halves[..1], &n("10.0.0.0/16")));
        // A gap anywhere breaks coverage.
        let gappy = [n("10.0.0.0/17"), n("10.0.128.0/18")];
        assert!(!union_contains(&gappy, &n("10.0.0.0/16")));
        // Non-canonical CIDRs as some tools write them (host bits set) still count.
        assert!(union_contains(&[n("10.0.3.7/24")], &n("10.0.3.10/32")));
        assert!(!union_contains(&[n("::/0")], &n("10.0.3.10/32")));
        assert!(!union_contains(&[], &n("10.0.3.10/32")));
    }

    #[test]
    fn hosts_are_single_address_networks() {
        assert_eq!(host("10.0.1.25".parse().unwrap()), n("10.0.1.25/32"));
        assert_eq!(host("fd00::5".parse().unwrap()), n("fd00::5/128"));
    }
}
