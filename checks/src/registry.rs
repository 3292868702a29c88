//! The runbook, in order. Adding a check is one file in `checks/`, one line here, one fixture.

use crate::check::Check;
use crate::checks::*;

/// One runbook entry: the check module's `META` and `evaluate`.
macro_rules! check {
    ($m:ident) => {
        Check {
            meta: &$m::META,
            evaluate: $m::evaluate,
        }
    };
}

/// The runbook in order; a check's step is its position here (1-based), so inserting
/// one is one line and renumbers nothing by hand.
pub static RUNBOOK: &[Check] = &[
    check!(endpoint_state),
    check!(service_region),
    check!(allowed_principals),
    check!(connection_acceptance),
    check!(endpoint_sg_ingress),
    check!(client_sg_egress),
    check!(subnet_nacl),
    check!(ip_address_type),
    check!(endpoint_policy),
    check!(nlb_listener),
    check!(nlb_security_group),
    check!(target_health),
    check!(target_sg_ingress),
    check!(nlb_capacity),
    check!(private_dns_verification),
    check!(private_dns_enabled),
    check!(vpc_dns_attributes),
    check!(dns_overrides),
    check!(dns_resolution),
    check!(az_alignment),
    check!(cross_zone),
    check!(idle_timeout_resets),
    check!(flow_log_rejects),
    check!(connect_probe),
];

/// Look a check up by id.
pub fn find(id: &str) -> Option<&'static Check> {
    RUNBOOK.iter().find(|c| c.meta.id == id)
}

/// A check's position in the runbook, 1-based (bots key on ids; steps shift when a
/// check is inserted).
pub fn step(id: &str) -> u8 {
    RUNBOOK
        .iter()
        .position(|c| c.meta.id == id)
        .map(|i| (i + 1) as u8)
        .expect("step of a check id that is not in the runbook")
}

/// Every check id, in runbook order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    RUNBOOK.iter().map(|c| c.meta.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_is_ordered_and_ids_match_files() {
        for (i, c) in RUNBOOK.iter().enumerate() {
            assert_eq!(step(c.meta.id) as usize, i + 1, "{} step", c.meta.id);
            assert!(
                !c.meta.doc.what_it_checks.is_empty()
                    && !c.meta.doc.why_it_matters.is_empty()
                    && !c.meta.doc.how_to_fix.is_empty(),
                "{} lacks docs",
                c.meta.id
            );
            assert!(
                !c.meta.reads.is_empty(),
                "{} does not say what it reads",
                c.meta.id
            );
            assert!(
                c.meta.docs_url.starts_with("https://docs.aws.amazon.com/"),
                "{} docs_url",
                c.meta.id
            );
        }
        let mut ids: Vec<_> = ids().collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RUNBOOK.len(), "duplicate check id");
    }
}
