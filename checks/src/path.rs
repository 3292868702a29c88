//! The path picture: client → endpoint security group and NACL → endpoint ENIs per AZ
//! → connection → NLB → target groups → targets per AZ, each hop carrying the verdict
//! of the checks that judged it. Renderers (table, Mermaid, SVG) draw this; none of
//! them judges anything.
//!
//! Hop statuses come from the check results, never from re-reading the facts: the
//! checks already judged each link. The snapshot only supplies the names on the
//! picture (ids, AZs, addresses, healthy/total counts).

use crate::check::{CheckResult, Status};
use crate::fact::Fact;
use crate::model::Snapshot;
use crate::net::az::{health_by_zone, zone_serves, AzMap, TargetZone};
use serde::{Deserialize, Serialize};

/// The path, client first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathPicture {
    pub hops: Vec<Hop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopKind {
    Client,
    EndpointSecurity,
    EndpointEnis,
    Connection,
    LoadBalancer,
    TargetGroups,
    Targets,
}

impl HopKind {
    /// The hop's short name on every picture.
    pub fn title(self) -> &'static str {
        match self {
            HopKind::Client => "client",
            HopKind::EndpointSecurity => "endpoint SG+NACL",
            HopKind::EndpointEnis => "endpoint ENIs",
            HopKind::Connection => "connection",
            HopKind::LoadBalancer => "NLB",
            HopKind::TargetGroups => "target groups",
            HopKind::Targets => "targets",
        }
    }

    /// The checks that judge this hop. Ids not in the runbook (yet) are ignored, so a
    /// check added later only needs its line here to appear on the picture.
    pub fn check_ids(self) -> &'static [&'static str] {
        match self {
            HopKind::Client => &["client-sg-egress"],
            HopKind::EndpointSecurity => &["endpoint-sg-ingress", "subnet-nacl"],
            HopKind::EndpointEnis => &[
                "ip-address-type",
                "private-dns-verification",
                "private-dns-enabled",
                "vpc-dns-attributes",
                "dns-overrides",
                "dns-resolution",
                "az-alignment",
                "flow-log-rejects",
                "connect-probe",
            ],
            HopKind::Connection => &[
                "endpoint-state",
                "service-region",
                "allowed-principals",
                "connection-acceptance",
                "endpoint-policy",
            ],
            HopKind::LoadBalancer => &[
                "nlb-listener",
                "nlb-security-group",
                "nlb-capacity",
                "idle-timeout-resets",
            ],
            HopKind::TargetGroups => &["cross-zone"],
            HopKind::Targets => &["target-health", "target-sg-ingress"],
        }
    }

    pub const ALL: [HopKind; 7] = [
        HopKind::Client,
        HopKind::EndpointSecurity,
        HopKind::EndpointEnis,
        HopKind::Connection,
        HopKind::LoadBalancer,
        HopKind::TargetGroups,
        HopKind::Targets,
    ];
}

/// One link of the path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub kind: HopKind,
    /// The worst status of its checks (fail, warn, unknown, pass); `skip` when every one was skipped.
    pub status: Status,
    /// Holds the report's root cause.
    pub root_cause: bool,
    /// What the hop is, in ids and settings (`sg-…`, `port 8443`, `state accepted`).
    pub facts: Vec<String>,
    /// The checks behind the hop, in runbook order, with their statuses.
    pub checks: Vec<HopCheck>,
    /// Per Availability Zone (endpoint ENIs, targets); empty for the other hops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneBox>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopCheck {
    pub id: String,
    pub status: Status,
}

/// One AZ of the endpoint ENIs or of the targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneBox {
    /// The AZ name in the naming of the account that owns the hop.
    pub availability_zone: String,
    pub availability_zone_id: Option<String>,
    /// ENI: its address; targets: `healthy/total healthy`.
    pub text: String,
    pub status: Status,
    /// No healthy target serves this zone and cross-zone load balancing is off (the
    /// cross-zone check failed): traffic entering here is dropped.
    pub dead: bool,
}

/// fail > warn > unknown > pass; `skip` only when nothing else is there.
fn rank(s: Status) -> u8 {
    match s {
        Status::Fail => 4,
        Status::Warn => 3,
        Status::Unknown => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    }
}

pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
    statuses
        .into_iter()
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Skip)
}

/// Build the picture from the evaluated checks (statuses) and the snapshot (names).
pub fn build(snapshot: &Snapshot, checks: &[CheckResult], root_cause: Option<&str>) -> PathPicture {
    let status_of = |id: &str| checks.iter().find(|c| c.id == id).map(|c| c.status);
    let cross_zone_failed = status_of("cross-zone") == Some(Status::Fail);
    let serving = serving_zones(snapshot);
    let hops = HopKind::ALL
        .iter()
        .map(|&kind| {
            let behind: Vec<HopCheck> = kind
                .check_ids()
                .iter()
                .filter_map(|id| {
                    status_of(id).map(|status| HopCheck {
                        id: (*id).to_owned(),
                        status,
                    })
                })
                .collect();
            let status = worst(behind.iter().map(|c| c.status));
            let root = root_cause.is_some_and(|rc| behind.iter().any(|c| c.id == rc));
            let (facts, zones) = match kind {
                HopKind::Client => (client_facts(snapshot), Vec::new()),
                HopKind::EndpointSecurity => (endpoint_security_facts(snapshot), Vec::new()),
                HopKind::EndpointEnis => (
                    Vec::new(),
                    eni_zones(snapshot, cross_zone_failed, serving.as_ref()),
                ),
                HopKind::Connection => (connection_facts(snapshot), Vec::new()),
                HopKind::LoadBalancer => (nlb_facts(snapshot), Vec::new()),
                HopKind::TargetGroups => (target_group_facts(snapshot), Vec::new()),
                HopKind::Targets => {
                    let zones = target_zones(snapshot, cross_zone_failed);
                    let facts = match (&snapshot.provider.target_groups, zones.is_empty()) {
                        (Fact::Absent(_), _) => vec![provider_hidden(snapshot)],
                        (Fact::Known(_), true) => vec!["no target health known".into()],
                        (Fact::Known(_), false) => Vec::new(),
                    };
                    (facts, zones)
                }
            };
            Hop {
                kind,
                status,
                root_cause: root,
                facts,
                checks: behind,
                zones,
            }
        })
        .collect();
    PathPicture { hops }
}

fn client_facts(s: &Snapshot) -> Vec<String> {
    match (&s.consumer.client, &s.inputs.client) {
        (Some(Fact::Known(c)), _) => {
            let mut f = vec![c.spec.clone()];
            let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
            if !addrs.is_empty() && addrs.iter().all(|a| *a != c.spec) {
                f.push(addrs.join(", "));
            }
            f.extend(c.security_group_ids.iter().cloned());
            f
        }
        (_, Some(raw)) => vec![raw.clone()],
        (_, None) => vec![if s.consumer.endpoint.vpc_id.is_empty() {
            "any client (no --client given)".to_owned()
        } else {
            format!(
                "any client in {} (no --client given)",
                s.consumer.endpoint.vpc_id
            )
        }],
    }
}

fn endpoint_security_facts(s: &Snapshot) -> Vec<String> {
    let ep = &s.consumer.endpoint;
    let mut f: Vec<String> = ep.security_group_ids.clone();
    if let Fact::Known(acls) = &s.consumer.network_acls {
        let mut ids: Vec<String> = acls
            .iter()
            .filter(|a| a.subnet_ids.iter().any(|sn| ep.subnet_ids.contains(sn)))
            .map(|a| a.id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        f.extend(ids);
    }
    f
}

fn connection_facts(s: &Snapshot) -> Vec<String> {
    let ep = &s.consumer.endpoint;
    let mut f = Vec::new();
    if !ep.state.is_empty() {
        f.push(format!("endpoint {}", ep.state));
    }
    if let Some(c) = s
        .provider
        .connections
        .known()
        .and_then(|cs| cs.iter().find(|c| c.vpc_endpoint_id == ep.id))
    {
        f.push(format!("connection {}", c.vpc_endpoint_state));
    }
    f.push(s.service_id());
    f
}

/// Why a provider hop shows nothing: AWS runs it (an AWS service), or no provider access.
fn provider_hidden(s: &Snapshot) -> String {
    match crate::endpoint_type::service_kind(s) {
        crate::endpoint_type::ServiceKind::AwsService => "AWS-managed (not visible)".into(),
        crate::endpoint_type::ServiceKind::EndpointService => {
            "not visible (no provider access)".into()
        }
    }
}

fn nlb_facts(s: &Snapshot) -> Vec<String> {
    let Fact::Known(lbs) = &s.provider.load_balancers else {
        return vec![provider_hidden(s)];
    };
    let mut f = Vec::new();
    for lb in lbs {
        f.push(lb.name.clone());
        if let Fact::Known(ls) = &lb.listeners {
            let mut ports: Vec<u16> = ls.iter().map(|l| l.port).collect();
            ports.sort_unstable();
            ports.dedup();
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            if !ports.is_empty() {
                f.push(format!("port {}", ports.join(",")));
            }
        }
        f.extend(lb.security_group_ids.iter().cloned());
    }
    f
}

fn target_group_facts(s: &Snapshot) -> Vec<String> {
    let Fact::Known(tgs) = &s.provider.target_groups else {
        return vec![provider_hidden(s)];
    };
    let lb_cross_zone = s
        .provider
        .load_balancers
        .known()
        .and_then(|lbs| lbs.iter().find_map(|lb| lb.attributes.known()))
        .map(|a| a.cross_zone_enabled);
    let mut f: Vec<String> = tgs.iter().map(|t| t.name.clone()).collect();
    if let Some(on) = lb_cross_zone {
        f.push(format!("cross-zone {}", if on { "on" } else { "off" }));
    }
    f
}

/// Healthy targets per zone over every target group, or None without provider facts.
fn serving_zones(
    s: &Snapshot,
) -> Option<std::collections::BTreeMap<TargetZone, crate::net::az::ZoneCount>> {
    let tgs = s.provider.target_groups.known()?;
    let map = AzMap::provider(s);
    let mut all = Vec::new();
    for tg in tgs {
        all.extend(tg.targets.known()?.iter());
    }
    Some(health_by_zone(&map, all))
}

/// An ENI's zone: `fail` when dead, `pass` when a healthy target serves it (in its AZ
/// or, with cross-zone on, anywhere), `unknown` without the provider's target health.
fn eni_zones(
    s: &Snapshot,
    cross_zone_failed: bool,
    serving: Option<&std::collections::BTreeMap<TargetZone, crate::net::az::ZoneCount>>,
) -> Vec<ZoneBox> {
    let Fact::Known(enis) = &s.consumer.endpoint_enis else {
        return Vec::new();
    };
    let map = AzMap::consumer(s);
    let mut zones: Vec<ZoneBox> = enis
        .iter()
        .map(|eni| {
            let id = map.id_of(&eni.availability_zone).ok().map(str::to_owned);
            let dead = cross_zone_failed
                && match (&id, serving) {
                    (Some(id), Some(counts)) => !zone_serves(counts, id),
                    _ => false,
                };
            ZoneBox {
                availability_zone: eni.availability_zone.clone(),
                availability_zone_id: id.clone(),
                text: eni.private_ip.to_string(),
                status: match (dead, serving) {
                    (true, _) => Status::Fail,
                    (false, None) => Status::Unknown,
                    (false, Some(counts)) => {
                        let any_healthy = counts.values().any(|c| c.healthy > 0);
                        let here = id.as_deref().is_some_and(|id| zone_serves(counts, id));
                        if here || (any_healthy && !cross_zone_failed) {
                            Status::Pass
                        } else {
                            Status::Warn
                        }
                    }
                },
                dead,
            }
        })
        .collect();
    zones.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    zones
}

fn target_zones(s: &Snapshot, cross_zone_failed: bool) -> Vec<ZoneBox> {
    let Some(counts) = serving_zones(s) else {
        return Vec::new();
    };
    let map = AzMap::provider(s);
    counts
        .iter()
        .map(|(zone, c)| {
            let (name, id) = match zone {
                TargetZone::Id(id) => (map.name_of(id).unwrap_or(id).to_owned(), Some(id.clone())),
                TargetZone::All => ("all".to_owned(), None),
                TargetZone::Unmapped(n) => (n.clone(), None),
            };
            let status = if c.healthy == 0 {
                Status::Fail
            } else if c.healthy < c.total {
                Status::Warn
            } else {
                Status::Pass
            };
            ZoneBox {
                availability_zone: name,
                availability_zone_id: id,
                text: format!("{}/{} healthy", c.healthy, c.total),
                status,
                dead: c.healthy == 0 && cross_zone_failed,
            }
        })
        .collect()
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::EvalOptions;
    use crate::scenarios;

    fn picture(name: &str) -> (crate::report::Report, PathPicture) {
        let sc = scenarios::all()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        let r = crate::report::build(&sc.snapshot, &EvalOptions::default(), "t".into(), 0);
        let p = r.path.clone();
        (r, p)
    }

    fn hop(p: &PathPicture, k: HopKind) -> &Hop {
        p.hops.iter().find(|h| h.kind == k).unwrap()
    }

    #[test]
    fn the_root_cause_hop_is_the_one_holding_the_root_cause_check() {
        let (r, p) = picture("endpoint-sg-missing-port");
        assert_eq!(r.root_cause.as_deref(), Some("endpoint-sg-ingress"));
        let roots: Vec<HopKind> = p
            .hops
            .iter()
            .filter(|h| h.root_cause)
            .map(|h| h.kind)
            .collect();
        assert_eq!(roots, vec![HopKind::EndpointSecurity]);
        assert_eq!(hop(&p, HopKind::EndpointSecurity).status, Status::Fail);
        assert!(hop(&p, HopKind::EndpointSecurity)
            .facts
            .iter()
            .any(|f| f.starts_with("sg-")));
    }

    #[test]
    fn a_healthy_endpoint_passes_every_hop_and_every_check_appears_once() {
        let (r, p) = picture("healthy");
        assert!(
            p.hops
                .iter()
                .all(|h| h.status == Status::Pass && !h.root_cause),
            "{p:?}"
        );
        let mut on_picture: Vec<&str> = p
            .hops
            .iter()
            .flat_map(|h| h.checks.iter().map(|c| c.id.as_str()))
            .collect();
        on_picture.sort();
        let mut all: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
        all.sort();
        assert_eq!(on_picture, all, "every check judges exactly one hop");
    }

    #[test]
    fn a_zone_without_healthy_targets_and_cross_zone_off_is_dead() {
        let (_, p) = picture("cross-zone-off-healthy-one-az");
        let enis = hop(&p, HopKind::EndpointEnis);
        let dead: Vec<&str> = enis
            .zones
            .iter()
            .filter(|z| z.dead)
            .map(|z| z.availability_zone.as_str())
            .collect();
        assert_eq!(dead, vec!["us-east-1a"], "{enis:?}");
        assert!(enis.zones.iter().all(|z| z.availability_zone_id.is_some()));
        let targets = hop(&p, HopKind::Targets);
        assert!(
            targets
                .zones
                .iter()
                .any(|z| z.dead && z.text == "0/1 healthy"),
            "{targets:?}"
        );
        assert!(hop(&p, HopKind::TargetGroups).root_cause);
    }

    #[test]
    fn without_provider_access_the_provider_hops_say_so() {
        let (_, p) = picture("provider-not-visible");
        let nlb = hop(&p, HopKind::LoadBalancer);
        assert!(
            nlb.facts.iter().any(|f| f.contains("no provider access")),
            "{nlb:?}"
        );
        assert_ne!(nlb.status, Status::Pass);
    }
}
