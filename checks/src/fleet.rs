//! Many endpoints in one run: the consumer's fleet (`--all`) and the provider's view of
//! one service with all its connections (`--service`).
//!
//! Each endpoint keeps its own complete [`Snapshot`] and gets the same [`Report`] as a
//! one-endpoint run, so ticket bots read one shape. The fleet report adds a summary:
//! rows worst first, the verdict over all of them, and (provider view) the service-wide
//! checks evaluated once.

use crate::check::{CheckResult, EvalOptions};
use crate::model::{Snapshot, View};
use crate::report::{self, Report, Verdict};
use serde::{Deserialize, Serialize};

/// The fleet snapshot format this build writes and reads (the endpoint snapshots inside
/// carry their own `snapshot_version`).
pub const FLEET_SNAPSHOT_VERSION: u32 = 1;
/// The fleet report's JSON contract (`schema/fleet-report.schema.json`).
pub const FLEET_SCHEMA_VERSION: u32 = 1;

/// Checks that read only the consumer account's facts (the endpoint's network, DNS, the
/// client, flow logs, the probe): the provider view cannot evaluate them, and says so.
pub const CONSUMER_SIDE: &[&str] = &[
    "endpoint-sg-ingress",
    "client-sg-egress",
    "subnet-nacl",
    "private-dns-enabled",
    "vpc-dns-attributes",
    "dns-resolution",
    "az-alignment",
    "flow-log-rejects",
    "connect-probe",
];

/// Checks whose facts belong to the service, not to one connection: the provider view
/// evaluates them once, for the service, besides each connection's report.
pub const SERVICE_WIDE: &[&str] = &[
    "nlb-listener",
    "nlb-security-group",
    "target-health",
    "target-sg-ingress",
    "private-dns-verification",
    "idle-timeout-resets",
];

/// Whether a service name is a PrivateLink endpoint service's
/// (`com.amazonaws.vpce.<region>.vpce-svc-…`), not an AWS service's such as
/// `com.amazonaws.<region>.s3`: its last label is the `vpce-svc-` id.
pub fn is_endpoint_service(service_name: &str) -> bool {
    service_name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.starts_with("vpce-svc-"))
}

/// The line a fleet report gives to the endpoints it left out, or None when none were:
/// how many go to AWS services, and how many were left out for another reason.
pub fn left_out_summary(scope: &FleetScope) -> Option<String> {
    if scope.left_out.is_empty() {
        return None;
    }
    let aws = scope
        .left_out
        .iter()
        .filter(|l| !is_endpoint_service(&l.service_name))
        .count();
    let other = scope.left_out.len() - aws;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if aws > 0 {
        parts.push(format!(
            "{aws} interface endpoint{} to an AWS service left out (not PrivateLink endpoint services)",
            plural(aws)
        ));
    }
    if other > 0 {
        parts.push(format!(
            "{other} other endpoint{} left out (unreadable or not interface endpoints)",
            plural(other)
        ));
    }
    Some(format!(
        "{}; their ids are in -o json (scope.left_out)",
        parts.join("; ")
    ))
}

/// Why check `id` is `skip` in a snapshot collected from `view`, or None if it can run.
pub fn out_of_view(view: View, id: &str) -> Option<String> {
    match view {
        View::Consumer => None,
        View::Provider if CONSUMER_SIDE.contains(&id) => Some(
            "consumer side: not visible with the provider's credentials; run pl-doctor --endpoint <vpce-…> with the consumer account's"
                .to_owned(),
        ),
        View::Provider => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetKind {
    /// `--all`: the consumer's interface endpoints to PrivateLink services.
    Fleet,
    /// `--service`: one endpoint service and every endpoint connected to it.
    Service,
}

/// What the run covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetScope {
    pub region: String,
    /// The account whose credentials collected it (consumer for a fleet, provider for a service).
    pub account: Option<String>,
    /// `--vpc`, when the fleet was limited to one VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// `--service`: the service id and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// `--all`: interface endpoints found but not diagnosed, with why (endpoints to AWS
    /// services such as `com.amazonaws.<region>.s3` are not PrivateLink endpoint services).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// An endpoint a fleet run found and did not diagnose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    pub endpoint_id: String,
    pub service_name: String,
    pub reason: String,
}

/// A saved fleet or service collection. Every endpoint snapshot is complete on its own
/// (shared facts are copied into each), so any one can be cut out and replayed alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSnapshot {
    pub fleet_snapshot_version: u32,
    pub kind: FleetKind,
    pub collected_by: String,
    pub collected_at: String,
    pub scope: FleetScope,
    /// Provider view: the service's facts for the service-wide checks, in a snapshot
    /// whose endpoint is not known (a service can have no connection at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Snapshot>,
    pub snapshots: Vec<Snapshot>,
}

/// Reports counted by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub inconclusive: usize,
}

/// The service-wide checks of the provider view, evaluated once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub verdict: Verdict,
    pub root_cause: Option<String>,
    pub counts: report::Counts,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    pub schema_version: u32,
    pub tool: String,
    pub version: String,
    pub kind: FleetKind,
    pub scope: FleetScope,
    pub started_at: String,
    pub duration_ms: u64,
    /// The worst verdict of the service summary and every endpoint's report.
    pub verdict: Verdict,
    /// Endpoint reports by verdict.
    pub counts: VerdictCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSummary>,
    /// One report per endpoint, worst verdict first, then by endpoint id.
    pub reports: Vec<Report>,
}

impl FleetReport {
    /// Whether any check failed anywhere (the exit-code rule of a one-endpoint run).
    pub fn any_failed(&self) -> bool {
        self.service.as_ref().is_some_and(|s| s.counts.fail > 0)
            || self.reports.iter().any(|r| r.counts.fail > 0)
    }
}

/// How bad a verdict is, for "worst first": fail, inconclusive, warn, pass.
pub fn severity_rank(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 0,
        Verdict::Inconclusive => 1,
        Verdict::Warn => 2,
        Verdict::Pass => 3,
    }
}

/// The worst of some verdicts; `pass` for none.
pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    verdicts
        .into_iter()
        .min_by_key(|v| severity_rank(*v))
        .unwrap_or(Verdict::Pass)
}

/// Evaluate every endpoint (and the service) and assemble the fleet report. Time fields
/// come from the caller: the core never reads the clock.
pub fn build(
    fleet: &FleetSnapshot,
    options: &EvalOptions,
    started_at: String,
    duration_ms: u64,
) -> FleetReport {
    let mut reports: Vec<Report> = fleet
        .snapshots
        .iter()
        .map(|s| report::build(s, options, started_at.clone(), duration_ms))
        .collect();
    reports.sort_by(|a, b| {
        severity_rank(a.verdict)
            .cmp(&severity_rank(b.verdict))
            .then_with(|| a.target.endpoint_id.cmp(&b.target.endpoint_id))
    });
    let service = fleet.service.as_ref().map(|s| service_summary(s, options));
    let mut counts = VerdictCounts::default();
    for r in &reports {
        match r.verdict {
            Verdict::Pass => counts.pass += 1,
            Verdict::Warn => counts.warn += 1,
            Verdict::Fail => counts.fail += 1,
            Verdict::Inconclusive => counts.inconclusive += 1,
        }
    }
    let verdict = worst(
        service
            .iter()
            .map(|s| s.verdict)
            .chain(reports.iter().map(|r| r.verdict)),
    );
    FleetReport {
        schema_version: FLEET_SCHEMA_VERSION,
        tool: "pl-doctor".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: fleet.kind,
        scope: fleet.scope.clone(),
        started_at,
        duration_ms,
        verdict,
        counts,
        service,
        reports,
    }
}

/// The service-wide checks only, on the service's own snapshot.
fn service_summary(snapshot: &Snapshot, options: &EvalOptions) -> ServiceSummary {
    let checks: Vec<CheckResult> = report::evaluate(snapshot, options)
        .into_iter()
        .filter(|c| SERVICE_WIDE.contains(&c.id.as_str()))
        .collect();
    let counts = report::count(&checks);
    ServiceSummary {
        verdict: report::verdict(&counts),
        root_cause: report::root_cause(&checks).map(|c| c.id.clone()),
        counts,
        checks,
    }
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::registry;
    use crate::scenarios;

    fn fleet_of(snapshots: Vec<Snapshot>) -> FleetSnapshot {
        FleetSnapshot {
            fleet_snapshot_version: FLEET_SNAPSHOT_VERSION,
            kind: FleetKind::Fleet,
            collected_by: "pl-doctor test".into(),
            collected_at: "2026-11-25T00:00:00Z".into(),
            scope: FleetScope {
                region: "us-east-1".into(),
                ..FleetScope::default()
            },
            service: None,
            snapshots,
        }
    }

    fn scenario(name: &str) -> Snapshot {
        scenarios::all()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("scenario {name}"))
            .snapshot
    }

    #[test]
    fn every_listed_id_is_a_runbook_check_and_the_lists_do_not_overlap() {
        for id in CONSUMER_SIDE.iter().chain(SERVICE_WIDE) {
            assert!(registry::find(id).is_some(), "{id} is not a check id");
        }
        for id in CONSUMER_SIDE {
            assert!(!SERVICE_WIDE.contains(id), "{id} in both lists");
        }
    }

    #[test]
    fn rows_come_worst_first_and_the_verdict_is_the_worst() {
        let healthy = scenario("healthy");
        let mut broken = scenario("endpoint-sg-missing-port");
        broken.consumer.endpoint.id = "vpce-0000000000000000a".into();
        let report = build(
            &fleet_of(vec![healthy, broken]),
            &EvalOptions::default(),
            "t".into(),
            0,
        );
        assert_eq!(report.reports.len(), 2);
        assert_eq!(report.reports[0].verdict, Verdict::Fail);
        assert_eq!(
            report.reports[0].target.endpoint_id,
            "vpce-0000000000000000a"
        );
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(report.counts.fail, 1);
        assert!(report.any_failed());
        assert_eq!(
            report.counts.pass + report.counts.warn + report.counts.inconclusive,
            1
        );
    }

    #[test]
    fn an_empty_fleet_passes_with_no_rows() {
        let report = build(&fleet_of(vec![]), &EvalOptions::default(), "t".into(), 0);
        assert_eq!(report.verdict, Verdict::Pass);
        assert!(report.reports.is_empty());
        assert!(!report.any_failed());
    }

    #[test]
    fn the_provider_view_skips_consumer_side_checks_and_summarises_the_service() {
        let mut snap = scenario("all-targets-unhealthy");
        snap.inputs.view = View::Provider;
        let mut fleet = fleet_of(vec![snap.clone()]);
        fleet.kind = FleetKind::Service;
        fleet.service = Some(snap);
        let report = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        let one = &report.reports[0];
        for id in CONSUMER_SIDE {
            let c = one.checks.iter().find(|c| c.id == *id).unwrap();
            assert_eq!(c.status, Status::Skip, "{id}");
            assert!(c.summary.contains("consumer side"), "{id}: {}", c.summary);
        }
        let service = report.service.as_ref().unwrap();
        assert_eq!(service.checks.len(), SERVICE_WIDE.len());
        assert_eq!(service.root_cause.as_deref(), Some("target-health"));
        assert!(report.any_failed());
    }
}
