//! Scenario builders: the source of `fixtures/`. Each scenario is a snapshot (a
//! healthy base with one thing broken) plus the status every check must produce
//! and the root cause. `tests/fixtures.rs` writes them to `fixtures/` with
//! `UPDATE_FIXTURES=1` and otherwise checks the files on disk still match.

use crate::check::Status;
use crate::model::Snapshot;
use crate::registry;

pub mod access;
pub mod awsservice;
pub mod base;
pub mod capacity;
pub mod dns;
pub mod network;
pub mod nlb;
pub mod observability;
pub mod region;

pub struct Scenario {
    /// File stem under fixtures/.
    pub name: &'static str,
    pub description: &'static str,
    pub snapshot: Snapshot,
    /// Expected root cause (first `fail`).
    pub root_cause: Option<&'static str>,
    /// Expected status of every check, in runbook order.
    pub expect: Vec<(&'static str, Status)>,
}

/// Every check `pass`, except the ones named (and, in [`Scenario::new`], the checks that
/// do not apply to the snapshot's kind of endpoint, which are `skip`). Panics on an unknown id so that a
/// typo in a scenario cannot silently expect nothing.
pub fn pass_except(overrides: &[(&'static str, Status)]) -> Vec<(&'static str, Status)> {
    for (id, _) in overrides {
        assert!(
            registry::find(id).is_some(),
            "scenario names unknown check {id}"
        );
    }
    registry::ids()
        .map(|id| {
            let status = overrides
                .iter()
                .find(|(o, _)| *o == id)
                .map(|(_, s)| *s)
                .unwrap_or(Status::Pass);
            (id, status)
        })
        .collect()
}

impl Scenario {
    pub fn new(
        name: &'static str,
        description: &'static str,
        snapshot: Snapshot,
        root_cause: Option<&'static str>,
        overrides: &[(&'static str, Status)],
    ) -> Self {
        // A check that does not apply to this kind of endpoint (the provider-only checks
        // for an AWS service, endpoint-policy for an endpoint service) is `skip`.
        let expect = pass_except(overrides)
            .into_iter()
            .map(|(id, status)| {
                let meta = registry::find(id).expect("listed by the registry").meta;
                let overridden = overrides.iter().any(|(o, _)| *o == id);
                match crate::endpoint_type::not_applicable(&snapshot, meta) {
                    Some(_) if !overridden => (id, Status::Skip),
                    _ => (id, status),
                }
            })
            .collect();
        Scenario {
            name,
            description,
            snapshot,
            root_cause,
            expect,
        }
    }
}

/// Every scenario, in a stable order.
pub fn all() -> Vec<Scenario> {
    let mut v = base::all();
    v.extend(access::all());
    v.extend(network::all());
    v.extend(nlb::all());
    v.extend(dns::all());
    v.extend(observability::all());
    v.extend(region::all());
    v.extend(capacity::all());
    v.extend(awsservice::all());
    v
}
