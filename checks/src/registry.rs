//! The runbook, in order. Adding a check is one file in `checks/`, one line here, one fixture.

use crate::check::Check;
use crate::checks::*;

pub static RUNBOOK: [Check; 19] = [
    Check {
        meta: &endpoint_state::META,
        evaluate: endpoint_state::evaluate,
    },
    Check {
        meta: &allowed_principals::META,
        evaluate: allowed_principals::evaluate,
    },
    Check {
        meta: &connection_acceptance::META,
        evaluate: connection_acceptance::evaluate,
    },
    Check {
        meta: &endpoint_sg_ingress::META,
        evaluate: endpoint_sg_ingress::evaluate,
    },
    Check {
        meta: &client_sg_egress::META,
        evaluate: client_sg_egress::evaluate,
    },
    Check {
        meta: &subnet_nacl::META,
        evaluate: subnet_nacl::evaluate,
    },
    Check {
        meta: &nlb_listener::META,
        evaluate: nlb_listener::evaluate,
    },
    Check {
        meta: &nlb_security_group::META,
        evaluate: nlb_security_group::evaluate,
    },
    Check {
        meta: &target_health::META,
        evaluate: target_health::evaluate,
    },
    Check {
        meta: &target_sg_ingress::META,
        evaluate: target_sg_ingress::evaluate,
    },
    Check {
        meta: &private_dns_verification::META,
        evaluate: private_dns_verification::evaluate,
    },
    Check {
        meta: &private_dns_enabled::META,
        evaluate: private_dns_enabled::evaluate,
    },
    Check {
        meta: &vpc_dns_attributes::META,
        evaluate: vpc_dns_attributes::evaluate,
    },
    Check {
        meta: &dns_resolution::META,
        evaluate: dns_resolution::evaluate,
    },
    Check {
        meta: &az_alignment::META,
        evaluate: az_alignment::evaluate,
    },
    Check {
        meta: &cross_zone::META,
        evaluate: cross_zone::evaluate,
    },
    Check {
        meta: &idle_timeout_resets::META,
        evaluate: idle_timeout_resets::evaluate,
    },
    Check {
        meta: &flow_log_rejects::META,
        evaluate: flow_log_rejects::evaluate,
    },
    Check {
        meta: &connect_probe::META,
        evaluate: connect_probe::evaluate,
    },
];

/// Look a check up by id.
pub fn find(id: &str) -> Option<&'static Check> {
    RUNBOOK.iter().find(|c| c.meta.id == id)
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
            assert_eq!(c.meta.step as usize, i + 1, "{} is out of order", c.meta.id);
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
