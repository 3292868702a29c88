//! Who may connect, and whether the provider let them: allow-list and acceptance
//! failures (seed Step 3, Runbook 1).

use super::base::healthy;
use super::Scenario;
use crate::check::Status::{Fail, Skip, Warn};
use crate::fact::Fact;
use crate::model::*;

/// The endpoint and the provider's record of it in `state`; no traffic flows, so
/// the probe from the client times out and the endpoint carries no connections.
fn endpoint_not_accepted(s: &mut Snapshot, state: &str) {
    s.consumer.endpoint.state = state.into();
    let Fact::Known(conns) = &mut s.provider.connections else {
        unreachable!()
    };
    conns[0].vpc_endpoint_state = state.into();
    let Fact::Known(probe) = &mut s.probe else {
        unreachable!()
    };
    for a in &mut probe.attempts {
        a.outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    }
    let Fact::Known(metrics) = &mut s.observability.metrics else {
        unreachable!()
    };
    for m in metrics
        .iter_mut()
        .filter(|m| m.namespace == "AWS/PrivateLinkEndpoints")
    {
        m.points.iter_mut().for_each(|p| p.1 = 0.0);
    }
}

fn pending_acceptance() -> Snapshot {
    let mut s = healthy();
    endpoint_not_accepted(&mut s, "pendingAcceptance");
    s
}

fn rejected() -> Snapshot {
    let mut s = healthy();
    endpoint_not_accepted(&mut s, "rejected");
    s
}

/// The consumer created its endpoint while its account root was allowed; before anyone
/// accepted it, the provider tightened the allow-list to partner roles and dropped
/// 222222222222 without adding its role. AWS does not withdraw a pending request when a
/// principal is removed, so the endpoint sits in pendingAcceptance, and the provider's
/// auto-approval (which only approves listed principals) never accepts it. (Had the
/// principal been missing before creation, CreateVpcEndpoint itself would have been
/// refused and there would be no endpoint to diagnose.)
fn principal_not_allowed() -> Snapshot {
    let mut s = pending_acceptance();
    s.provider.allowed_principals = Fact::Known(vec![
        AllowedPrincipal {
            principal: "arn:aws:iam::333333333333:role/fraud-client-prod".into(),
            principal_type: "Role".into(),
        },
        AllowedPrincipal {
            principal: "arn:aws:iam::444444444444:role/payments-client".into(),
            principal_type: "Role".into(),
        },
    ]);
    s
}

/// Self-service with no gate at all: `*` on the allow-list and acceptance off.
fn wildcard_principal() -> Snapshot {
    let mut s = healthy();
    s.provider.allowed_principals = Fact::Known(vec![AllowedPrincipal {
        principal: "*".into(),
        principal_type: "All".into(),
    }]);
    let Fact::Known(cfg) = &mut s.provider.service_configuration else {
        unreachable!()
    };
    cfg.acceptance_required = false;
    let Fact::Known(view) = &mut s.consumer.service else {
        unreachable!()
    };
    view.acceptance_required = false;
    s
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "pending-acceptance",
            "The provider never accepted the connection: endpoint and connection both pendingAcceptance (acceptance_required = true); the client's connects time out.",
            pending_acceptance(),
            Some("endpoint-state"),
            &[
                ("endpoint-state", Fail),
                ("connection-acceptance", Fail),
                // The probe is not judged while the endpoint itself is not available.
                ("connect-probe", Skip),
            ],
        ),
        Scenario::new(
            "rejected",
            "The provider rejected the connection: endpoint and connection both rejected; the endpoint must be recreated.",
            rejected(),
            Some("endpoint-state"),
            &[
                ("endpoint-state", Fail),
                ("connection-acceptance", Fail),
                ("connect-probe", Skip),
            ],
        ),
        Scenario::new(
            "principal-not-allowed",
            "The provider tightened its allow-list to partner roles and dropped the consumer's account before accepting its pending endpoint: the endpoint stays pendingAcceptance and the auto-approval never accepts it.",
            principal_not_allowed(),
            Some("endpoint-state"),
            &[
                ("endpoint-state", Fail),
                ("allowed-principals", Fail),
                ("connection-acceptance", Fail),
                ("connect-probe", Skip),
            ],
        ),
        Scenario::new(
            "wildcard-principal",
            "The service allows `*` with acceptance_required = false: the endpoint works, but anyone in any account can connect.",
            wildcard_principal(),
            None,
            &[("allowed-principals", Warn)],
        ),
    ]
}
