//! Route 53 Resolver's precedence: which of a VPC's Resolver rules and private hosted
//! zones answers a name. Shared by `dns-overrides` (which judges the answerer) and
//! `private-dns-enabled` (a consumer's own zone serving the name instead of AWS's).
//!
//! What the Route 53 Developer Guide says, and this module follows:
//! * a rule (or zone) matches a name equal to its domain or below it; among matches the
//!   most specific domain wins ("How Resolver determines whether the domain name in a
//!   query matches any rules");
//! * each private hosted zone associated with the VPC is an autodefined rule for its name,
//!   and "if you want to override an autodefined rule, you can create a conditional
//!   forwarding rule for the same domain name": for the same domain, an explicit rule beats
//!   a zone ("Domain names that VPC Resolver creates autodefined system rules for");
//! * a matching private hosted zone without a record for the name answers NXDOMAIN; it
//!   does not fall through to public DNS ("Considerations when working with a private
//!   hosted zone").
//!
//! An explicit SYSTEM rule makes Resolver answer the name itself: from the most specific
//! private hosted zone that matches, else public DNS.

use crate::model::{eq_wire, PrivateZone, ResolverRule};

/// Lowercase, without the trailing dot, and without a leading `*.` (a wildcard private
/// DNS name is matched as the domain it covers).
pub fn normalize(name: &str) -> String {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    n.strip_prefix("*.").map(str::to_owned).unwrap_or(n)
}

/// How many labels of `domain` match `name` when `name` is `domain` or below it
/// (`.` matches everything with 0 labels); `None` when it does not match.
pub fn match_depth(name: &str, domain: &str) -> Option<usize> {
    let name = normalize(name);
    let domain = normalize(domain);
    if domain.is_empty() {
        return Some(0);
    }
    if name == domain || name.ends_with(&format!(".{domain}")) {
        Some(domain.split('.').count())
    } else {
        None
    }
}

/// Something that can answer for the name in the VPC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answerer<'a> {
    /// A Resolver rule of the VPC (FORWARD, DELEGATE, SYSTEM, RECURSIVE).
    Rule(&'a ResolverRule),
    /// The private hosted zone PrivateLink manages for this endpoint's private DNS name
    /// (`None`: not in the listing, but private DNS is on, so AWS associates it).
    EndpointZone(Option<&'a PrivateZone>),
    /// Any other private hosted zone associated with the VPC.
    Zone(&'a PrivateZone),
    /// No rule and no zone: Resolver resolves the name recursively (public DNS).
    Public,
}

impl Answerer<'_> {
    /// The domain it matches on (`""` for public DNS).
    pub fn domain(&self, private_dns_name: &str) -> String {
        match self {
            Answerer::Rule(r) => normalize(&r.domain_name),
            Answerer::EndpointZone(Some(z)) | Answerer::Zone(z) => normalize(&z.name),
            Answerer::EndpointZone(None) => normalize(private_dns_name),
            Answerer::Public => String::new(),
        }
    }

    /// One phrase naming it, for summaries and details.
    pub fn describe(&self, private_dns_name: &str) -> String {
        match self {
            Answerer::Rule(r) => {
                let targets = if r.target_ips.is_empty() {
                    String::new()
                } else {
                    format!(" to {}", r.target_ips.join(", "))
                };
                let shared = match r.share_status.as_deref() {
                    Some(s) if eq_wire(s, "SHARED_WITH_ME") => match &r.owner_id {
                        Some(o) => format!(", shared by account {o}"),
                        None => ", shared with this account".into(),
                    },
                    _ => String::new(),
                };
                let domain = normalize(&r.domain_name);
                format!(
                    "Resolver rule {} ({} {}{targets}{shared})",
                    r.id,
                    r.rule_type.to_ascii_uppercase(),
                    if domain.is_empty() { "." } else { &domain },
                )
            }
            Answerer::EndpointZone(Some(z)) => format!(
                "AWS's private hosted zone {} for {} (private DNS of the endpoint)",
                z.id, z.name
            ),
            Answerer::EndpointZone(None) => {
                format!("AWS's private hosted zone for {private_dns_name} (private DNS of the endpoint)")
            }
            Answerer::Zone(z) => match &z.owning_service {
                Some(svc) => format!(
                    "private hosted zone {} ({}, managed by {svc})",
                    z.id, z.name
                ),
                None => format!("private hosted zone {} ({})", z.id, z.name),
            },
            Answerer::Public => {
                "public DNS (no Resolver rule or private hosted zone matches)".into()
            }
        }
    }

    /// FORWARD and DELEGATE rules send the question away from the VPC's resolver.
    pub fn sends_away(&self) -> bool {
        matches!(self, Answerer::Rule(r) if eq_wire(&r.rule_type, "FORWARD") || eq_wire(&r.rule_type, "DELEGATE"))
    }
}

/// Who answers, and what else matched the name but loses.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<'a> {
    pub winner: Answerer<'a>,
    /// Every other rule or zone that matches the name, most specific first.
    pub losers: Vec<Answerer<'a>>,
}

/// Resolver's answerer for `name` in a VPC with these rules and zones. `endpoint_zone_id`
/// is the hosted zone id of the endpoint's DnsEntry for the private name (AWS's zone);
/// `private_dns_enabled` says whether that zone is associated even when the listing
/// does not show it.
pub fn decide<'a>(
    name: &str,
    private_dns_enabled: bool,
    endpoint_zone_id: Option<&str>,
    rules: &'a [ResolverRule],
    zones: &'a [PrivateZone],
) -> Decision<'a> {
    // (depth, explicit rule beats zone, answerer)
    let mut candidates: Vec<(usize, u8, Answerer<'a>)> = Vec::new();
    for r in rules {
        if let Some(d) = match_depth(name, &r.domain_name) {
            candidates.push((d, 2, Answerer::Rule(r)));
        }
    }
    let is_endpoint_zone = |z: &PrivateZone| {
        z.owning_service.is_some()
            && (endpoint_zone_id.is_some_and(|id| id.eq_ignore_ascii_case(&z.id))
                || normalize(&z.name) == normalize(name))
    };
    let mut endpoint_zone_listed = false;
    for z in zones {
        if let Some(d) = match_depth(name, &z.name) {
            if is_endpoint_zone(z) {
                if !private_dns_enabled {
                    // Left behind in a listing while private DNS was being turned off.
                    continue;
                }
                endpoint_zone_listed = true;
                candidates.push((d, 1, Answerer::EndpointZone(Some(z))));
            } else {
                candidates.push((d, 1, Answerer::Zone(z)));
            }
        }
    }
    if private_dns_enabled && !endpoint_zone_listed {
        candidates.push((
            match_depth(name, name).unwrap_or(0),
            1,
            Answerer::EndpointZone(None),
        ));
    }
    // Most specific first; for the same domain a rule first, then AWS's zone before a
    // customer zone of the same name (AWS refuses to enable private DNS while one is
    // associated, so that tie only arises when one was associated afterwards).
    candidates.sort_by(|a, b| {
        b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then_with(|| {
            let endpoint = |x: &Answerer| matches!(x, Answerer::EndpointZone(_));
            endpoint(&b.2).cmp(&endpoint(&a.2))
        })
    });
    let mut ordered: Vec<Answerer<'a>> = candidates.into_iter().map(|c| c.2).collect();
    if ordered.is_empty() {
        return Decision {
            winner: Answerer::Public,
            losers: vec![],
        };
    }
    let first = ordered.remove(0);
    // A SYSTEM (or RECURSIVE) rule answers locally: the most specific zone still
    // decides, else public DNS.
    let winner = match first {
        Answerer::Rule(r) if !Answerer::Rule(r).sends_away() => {
            match ordered
                .iter()
                .position(|a| matches!(a, Answerer::Zone(_) | Answerer::EndpointZone(_)))
            {
                Some(i) => {
                    let zone = ordered.remove(i);
                    ordered.insert(0, first);
                    zone
                }
                None => {
                    ordered.insert(0, first);
                    Answerer::Public
                }
            }
        }
        other => other,
    };
    Decision {
        winner,
        losers: ordered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fact::Fact;

    const NAME: &str = "payments.internal.example.com";

    fn rule(id: &str, kind: &str, domain: &str) -> ResolverRule {
        ResolverRule {
            id: id.into(),
            name: None,
            domain_name: domain.into(),
            rule_type: kind.into(),
            target_ips: vec!["192.168.10.53:53".into()],
            owner_id: None,
            share_status: None,
            association_id: None,
        }
    }

    fn zone(id: &str, name: &str, service: Option<&str>) -> PrivateZone {
        PrivateZone {
            id: id.into(),
            name: name.into(),
            owning_account: service.is_none().then(|| "222222222222".into()),
            owning_service: service.map(str::to_owned),
            records: Fact::Known(vec![]),
        }
    }

    #[test]
    fn names_match_their_domain_and_below_it_only() {
        assert_eq!(match_depth(NAME, "example.com."), Some(2));
        assert_eq!(match_depth(NAME, NAME), Some(4));
        assert_eq!(match_depth("PAYMENTS.internal.example.com.", NAME), Some(4));
        assert_eq!(match_depth(NAME, "."), Some(0));
        assert_eq!(match_depth(NAME, "ample.com"), None);
        assert_eq!(match_depth("example.com", NAME), None);
        assert_eq!(match_depth("a.example.com", "*.example.com"), Some(2));
    }

    #[test]
    fn a_forward_rule_for_the_name_beats_aws_zone_and_a_parent_rule_loses_to_it() {
        let rules = [rule("rslvr-rr-1", "FORWARD", NAME)];
        let d = decide(NAME, true, Some("Z1"), &rules, &[]);
        assert!(matches!(d.winner, Answerer::Rule(r) if r.id == "rslvr-rr-1"));
        assert!(d.winner.sends_away());
        assert_eq!(d.losers, [Answerer::EndpointZone(None)]);

        let rules = [rule("rslvr-rr-2", "FORWARD", "example.com")];
        let zones = [zone("Z1", NAME, Some("vpce.amazonaws.com"))];
        let d = decide(NAME, true, Some("Z1"), &rules, &zones);
        assert_eq!(d.winner, Answerer::EndpointZone(Some(&zones[0])));
        assert!(matches!(d.losers[..], [Answerer::Rule(r)] if r.id == "rslvr-rr-2"));
    }

    #[test]
    fn the_most_specific_customer_zone_answers_when_private_dns_is_off() {
        let zones = [
            zone("ZPARENT", "example.com", None),
            zone("ZINTERNAL", "internal.example.com", None),
        ];
        let d = decide(NAME, false, None, &[], &zones);
        assert_eq!(d.winner, Answerer::Zone(&zones[1]));
        assert_eq!(d.losers, [Answerer::Zone(&zones[0])]);
        // The same domain in a forwarding rule beats the zone.
        let rules = [rule("rslvr-rr-3", "FORWARD", "internal.example.com")];
        let d = decide(NAME, false, None, &rules, &zones);
        assert!(matches!(d.winner, Answerer::Rule(_)));
    }

    #[test]
    fn a_system_rule_answers_from_the_zones_and_nothing_is_public() {
        let rules = [
            rule("rslvr-rr-fwd", "FORWARD", "example.com"),
            rule("rslvr-rr-sys", "SYSTEM", "internal.example.com"),
        ];
        let d = decide(NAME, false, None, &rules, &[]);
        assert_eq!(d.winner, Answerer::Public);
        let zones = [zone("ZCORP", "example.com", None)];
        let d = decide(NAME, false, None, &rules, &zones);
        assert_eq!(d.winner, Answerer::Zone(&zones[0]));
        assert_eq!(decide(NAME, false, None, &[], &[]).winner, Answerer::Public);
    }

    #[test]
    fn aws_zone_is_ignored_with_private_dns_off_and_assumed_with_it_on() {
        let zones = [zone("Z1", NAME, Some("vpce.amazonaws.com"))];
        assert_eq!(
            decide(NAME, false, None, &[], &zones).winner,
            Answerer::Public
        );
        assert_eq!(
            decide(NAME, true, None, &[], &[]).winner,
            Answerer::EndpointZone(None)
        );
        // A customer zone of the same name ties with AWS's: AWS's is named the answerer
        // and the customer's listed as overlapping.
        let zones = [zone("ZMINE", NAME, None)];
        let d = decide(NAME, true, Some("Z1"), &[], &zones);
        assert_eq!(d.winner, Answerer::EndpointZone(None));
        assert_eq!(d.losers, [Answerer::Zone(&zones[0])]);
    }
}
