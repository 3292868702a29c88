//! Scenarios for this area of the runbook (see `scenarios/mod.rs`).

use super::Scenario;

pub fn all() -> Vec<Scenario> {
    vec![]
}
