//! Availability Zones across two accounts.
//!
//! AZ *names* are per account: `us-east-1a` in the consumer account may be `use1-az2`
//! in the provider's. Only AZ *IDs* identify the physical zone, so every comparison
//! across accounts goes name → ID in the account that wrote the name. When a name
//! cannot be translated the caller gets an [`AzError`] that says so; nothing here
//! ever falls back to comparing names.

use crate::fact::{Fact, Missing};
use crate::model::{AzMapping, Snapshot, Subnet, TargetHealthFact};
use std::collections::BTreeMap;
use std::fmt;

/// Whose naming an AZ name is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Consumer,
    Provider,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Account::Consumer => "consumer",
            Account::Provider => "provider",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AzError {
    #[error("AZ name {name} has no AZ ID in the {account} account's mapping ({why}); AZ names differ between accounts, so pl-doctor does not compare them by name")]
    UnmappedName {
        account: Account,
        name: String,
        why: String,
    },
    #[error("AZ ID {id} has no AZ name in the {account} account ({why})")]
    UnmappedId {
        account: Account,
        id: String,
        why: String,
    },
}

/// One account's AZ name ↔ ID mapping, from DescribeAvailabilityZones and, where that
/// is missing or partial, from the subnets (which carry both the name and the ID).
#[derive(Debug, Clone)]
pub struct AzMap {
    account: Account,
    pairs: Vec<AzMapping>,
    /// Why DescribeAvailabilityZones is absent, to explain a failed lookup.
    map_missing: Option<Missing>,
}

impl AzMap {
    pub fn new(
        account: Account,
        az_map: &Fact<Vec<AzMapping>>,
        subnets: &Fact<Vec<Subnet>>,
    ) -> AzMap {
        let mut pairs: Vec<AzMapping> = az_map.known().cloned().unwrap_or_default();
        for s in subnets.known().into_iter().flatten() {
            if !pairs.iter().any(|p| p.name == s.availability_zone) {
                pairs.push(AzMapping {
                    name: s.availability_zone.clone(),
                    id: s.availability_zone_id.clone(),
                });
            }
        }
        AzMap {
            account,
            pairs,
            map_missing: az_map.as_result().err().cloned(),
        }
    }

    pub fn consumer(s: &Snapshot) -> AzMap {
        AzMap::new(Account::Consumer, &s.consumer.az_map, &s.consumer.subnets)
    }

    pub fn provider(s: &Snapshot) -> AzMap {
        AzMap::new(Account::Provider, &s.provider.az_map, &s.provider.subnets)
    }

    pub fn account(&self) -> Account {
        self.account
    }

    fn why_unmapped(&self) -> String {
        match &self.map_missing {
            Some(m) => format!("DescribeAvailabilityZones: {m}"),
            None => "not among the zones DescribeAvailabilityZones returned".into(),
        }
    }

    /// The AZ ID of a name written in this account's naming.
    pub fn id_of(&self, name: &str) -> Result<&str, AzError> {
        self.pairs
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.id.as_str())
            .ok_or_else(|| AzError::UnmappedName {
                account: self.account,
                name: name.to_owned(),
                why: self.why_unmapped(),
            })
    }

    /// This account's name for an AZ ID.
    pub fn name_of(&self, id: &str) -> Result<&str, AzError> {
        self.pairs
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.as_str())
            .ok_or_else(|| AzError::UnmappedId {
                account: self.account,
                id: id.to_owned(),
                why: self.why_unmapped(),
            })
    }

    /// `us-east-1a (use1-az2)` when the ID is known, else the bare name.
    pub fn label(&self, name: &str) -> String {
        match self.id_of(name) {
            Ok(id) => format!("{name} ({id})"),
            Err(_) => name.to_owned(),
        }
    }
}

/// A provider-named AZ (NLB zones, the service's AvailabilityZones, targets) as an AZ ID.
pub fn provider_name_to_id(s: &Snapshot, provider_name: &str) -> Result<String, AzError> {
    AzMap::provider(s).id_of(provider_name).map(str::to_owned)
}

/// A consumer-named AZ (endpoint ENIs, the consumer's view of the service) as an AZ ID.
pub fn consumer_name_to_id(s: &Snapshot, consumer_name: &str) -> Result<String, AzError> {
    AzMap::consumer(s).id_of(consumer_name).map(str::to_owned)
}

/// What the consumer account calls the zone the provider calls `provider_name`.
pub fn consumer_name_for_provider_az(s: &Snapshot, provider_name: &str) -> Result<String, AzError> {
    let id = provider_name_to_id(s, provider_name)?;
    AzMap::consumer(s).name_of(&id).map(str::to_owned)
}

/// Where a target sits, as the key its health is grouped by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetZone {
    /// A physical zone, by AZ ID.
    Id(String),
    /// An IP target outside the NLB's VPC, registered with AvailabilityZone `all`:
    /// every NLB zone can reach it.
    All,
    /// The provider named a zone pl-doctor cannot translate, or none at all.
    Unmapped(String),
}

impl fmt::Display for TargetZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetZone::Id(id) => f.write_str(id),
            TargetZone::All => f.write_str("all zones (target outside the NLB's VPC)"),
            TargetZone::Unmapped(n) => write!(f, "{n} (AZ ID unknown)"),
        }
    }
}

pub fn target_zone(map: &AzMap, t: &TargetHealthFact) -> TargetZone {
    match t.availability_zone.as_deref() {
        Some(z) if z.eq_ignore_ascii_case("all") => TargetZone::All,
        Some(z) => match map.id_of(z) {
            Ok(id) => TargetZone::Id(id.to_owned()),
            Err(_) => TargetZone::Unmapped(z.to_owned()),
        },
        None => TargetZone::Unmapped("no AZ reported".into()),
    }
}

/// Healthy and total targets per zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZoneCount {
    pub healthy: usize,
    pub total: usize,
}

pub fn health_by_zone<'a>(
    map: &AzMap,
    targets: impl IntoIterator<Item = &'a TargetHealthFact>,
) -> BTreeMap<TargetZone, ZoneCount> {
    let mut out: BTreeMap<TargetZone, ZoneCount> = BTreeMap::new();
    for t in targets {
        let c = out.entry(target_zone(map, t)).or_default();
        c.total += 1;
        if crate::model::eq_wire(&t.state, "healthy") {
            c.healthy += 1;
        }
    }
    out
}

/// Does a zone with these counts serve traffic arriving in AZ `az_id`?
pub fn zone_serves(counts: &BTreeMap<TargetZone, ZoneCount>, az_id: &str) -> bool {
    counts.iter().any(|(z, c)| {
        c.healthy > 0
            && match z {
                TargetZone::Id(id) => id == az_id,
                TargetZone::All => true,
                TargetZone::Unmapped(_) => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AzMapping;

    fn pairs(p: &[(&str, &str)]) -> Fact<Vec<AzMapping>> {
        Fact::Known(
            p.iter()
                .map(|(n, i)| AzMapping {
                    name: n.to_string(),
                    id: i.to_string(),
                })
                .collect(),
        )
    }

    fn subnet(name: &str, id: &str) -> Subnet {
        Subnet {
            id: "subnet-1".into(),
            vpc_id: "vpc-1".into(),
            cidr_block: "10.0.0.0/24".parse().unwrap(),
            availability_zone: name.into(),
            availability_zone_id: id.into(),
            ipv6_cidr_blocks: vec![],
            ipv6_native: false,
        }
    }

    #[test]
    fn same_name_maps_to_different_ids_per_account() {
        let consumer = AzMap::new(
            Account::Consumer,
            &pairs(&[("us-east-1c", "use1-az4")]),
            &Fact::Known(vec![]),
        );
        let provider = AzMap::new(
            Account::Provider,
            &pairs(&[("us-east-1c", "use1-az6")]),
            &Fact::Known(vec![]),
        );
        assert_eq!(consumer.id_of("us-east-1c").unwrap(), "use1-az4");
        assert_eq!(provider.id_of("us-east-1c").unwrap(), "use1-az6");
        assert_eq!(provider.name_of("use1-az6").unwrap(), "us-east-1c");
        assert_eq!(consumer.label("us-east-1c"), "us-east-1c (use1-az4)");
    }

    #[test]
    fn missing_mapping_is_an_error_that_names_the_account_and_the_reason() {
        let m = AzMap::new(
            Account::Provider,
            &Fact::needs_provider(Some("111111111111")),
            &Fact::needs_provider(Some("111111111111")),
        );
        let err = m.id_of("us-east-1a").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("provider"), "{text}");
        assert!(text.contains("needs provider access"), "{text}");
        assert!(text.contains("does not compare them by name"), "{text}");
        assert!(m.name_of("use1-az1").is_err());
        assert_eq!(m.label("us-east-1a"), "us-east-1a");
    }

    #[test]
    fn subnets_fill_in_when_describe_availability_zones_is_denied() {
        let denied = Fact::Absent(Missing::AccessDenied {
            action: "ec2:DescribeAvailabilityZones".into(),
            message: None,
        });
        let m = AzMap::new(
            Account::Consumer,
            &denied,
            &Fact::Known(vec![subnet("us-east-1b", "use1-az2")]),
        );
        assert_eq!(m.id_of("us-east-1b").unwrap(), "use1-az2");
        let err = m.id_of("us-east-1d").unwrap_err().to_string();
        assert!(err.contains("ec2:DescribeAvailabilityZones"), "{err}");
    }

    #[test]
    fn the_az_map_wins_over_a_subnet_for_the_same_name() {
        let m = AzMap::new(
            Account::Consumer,
            &pairs(&[("us-east-1a", "use1-az1")]),
            &Fact::Known(vec![subnet("us-east-1a", "use1-az9")]),
        );
        assert_eq!(m.id_of("us-east-1a").unwrap(), "use1-az1");
    }

    #[cfg(feature = "scenarios")]
    #[test]
    fn translates_between_the_base_scenario_accounts() {
        let s = crate::scenarios::base::healthy();
        // Provider's us-east-1a is use1-az2, which the consumer calls us-east-1b.
        assert_eq!(provider_name_to_id(&s, "us-east-1a").unwrap(), "use1-az2");
        assert_eq!(consumer_name_to_id(&s, "us-east-1a").unwrap(), "use1-az1");
        assert_eq!(
            consumer_name_for_provider_az(&s, "us-east-1a").unwrap(),
            "us-east-1b"
        );
        assert!(consumer_name_for_provider_az(&s, "us-east-1z").is_err());
    }

    fn t(az: Option<&str>, state: &str) -> TargetHealthFact {
        TargetHealthFact {
            id: "10.1.1.1".into(),
            port: 8443,
            state: state.into(),
            reason: None,
            description: None,
            availability_zone: az.map(Into::into),
            private_ip: None,
            security_group_ids: Fact::Known(vec![]),
        }
    }

    #[test]
    fn health_is_grouped_by_az_id_and_all_zone_targets_serve_every_zone() {
        let m = AzMap::new(
            Account::Provider,
            &pairs(&[("us-east-1a", "use1-az2"), ("us-east-1b", "use1-az1")]),
            &Fact::Known(vec![]),
        );
        let targets = [
            t(Some("us-east-1a"), "healthy"),
            t(Some("us-east-1b"), "unhealthy"),
            t(Some("us-east-1q"), "healthy"),
        ];
        let by = health_by_zone(&m, &targets);
        assert_eq!(
            by[&TargetZone::Id("use1-az2".into())],
            ZoneCount {
                healthy: 1,
                total: 1
            }
        );
        assert!(zone_serves(&by, "use1-az2"));
        assert!(!zone_serves(&by, "use1-az1"));
        // A healthy target in an untranslatable zone is not credited to any AZ ID.
        assert!(!zone_serves(&by, "use1-az4"));
        let all = health_by_zone(&m, &[t(Some("all"), "healthy")]);
        assert!(zone_serves(&all, "use1-az1"));
        assert_eq!(target_zone(&m, &t(Some("ALL"), "healthy")), TargetZone::All);
    }
}
