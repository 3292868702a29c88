//! Runs the runbook over a snapshot and assembles the report (JSON contract, schema_version 1).

use crate::check::{CheckResult, Context, EvalOptions, Status};
use crate::fact::Fact;
use crate::model::{Snapshot, View};
use crate::registry::RUNBOOK;
use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    pub version: String,
    pub target: Target,
    pub started_at: String,
    pub duration_ms: u64,
    pub verdict: Verdict,
    pub root_cause: Option<String>,
    pub counts: Counts,
    pub checks: Vec<CheckResult>,
    /// The path picture: each hop with the verdict of the checks behind it.
    #[serde(default)]
    pub path: crate::path::PathPicture,
    /// Every failing or warning check's changes, once each, newest first (the
    /// "Recent changes" section). Empty when none were found or looked up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_changes: Vec<crate::changes::Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub endpoint_id: String,
    pub service_name: String,
    /// `endpoint_service` or `aws_service`: which runbook checks apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_kind: Option<crate::endpoint_type::ServiceKind>,
    pub service_id: Option<String>,
    pub region: String,
    pub consumer_account: Option<String>,
    pub provider_account: Option<String>,
    /// The endpoint's state (wire value), as the consumer or, in the provider view, the
    /// connection shows it.
    #[serde(default)]
    pub endpoint_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// AZ names the endpoint has a network interface in (the consumer account's naming).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    /// The endpoint's Region: `region` in the consumer view; in the provider view the
    /// connection's VpcEndpointRegion (cross-region PrivateLink), when AWS reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_region: Option<String>,
    /// The service's Region: `region` in the provider view; the endpoint's ServiceRegion
    /// in the consumer view, when AWS reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_region: Option<String>,
    /// The provider's AWS/PrivateLinkServices RstPacketsSent for this endpoint, summed over
    /// the window: resets the service sent back to this consumer. Absent when the series
    /// was not collected (no provider access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_rst_packets_sent: Option<f64>,
}

impl Target {
    /// Who provides the service, for the report headers: the provider's account, `AWS`
    /// for an AWS service, or `unknown`.
    pub fn provider_label(&self) -> String {
        match (&self.provider_account, self.service_kind) {
            (Some(a), _) => a.clone(),
            (None, Some(crate::endpoint_type::ServiceKind::AwsService)) => {
                "AWS (AWS-managed service)".into()
            }
            (None, _) => "unknown".into(),
        }
    }
}

/// RstPacketsSent (AWS/PrivateLinkServices) to this endpoint over the window, when collected.
fn provider_rst_packets_sent(snapshot: &Snapshot) -> Option<f64> {
    let metrics = snapshot.observability.metrics.known()?;
    let id = &snapshot.consumer.endpoint.id;
    let mine: Vec<_> = metrics
        .iter()
        .filter(|m| {
            m.namespace == "AWS/PrivateLinkServices"
                && m.metric_name == "RstPacketsSent"
                && m.dimensions.get("VPC Endpoint Id") == Some(id)
        })
        .collect();
    if mine.is_empty() {
        return None;
    }
    Some(
        mine.iter()
            .flat_map(|m| &m.points)
            .fold(0.0, |a, (_, v)| a + v),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub unknown: usize,
    pub skip: usize,
}

/// Evaluate every check in runbook order. Checks selected away by `--only`/`--skip`
/// are `skip`; every other check sees the results before it.
pub fn evaluate(snapshot: &Snapshot, options: &EvalOptions) -> Vec<CheckResult> {
    // A snapshot collected with --only/--skip lacks the facts of the deselected checks;
    // replaying it without a selection of its own keeps the collection's selection, so
    // the replay gives the identical report.
    let recorded;
    let options = if options.only.is_empty()
        && options.skip.is_empty()
        && !(snapshot.inputs.only.is_empty() && snapshot.inputs.skip.is_empty())
    {
        recorded = EvalOptions {
            only: snapshot.inputs.only.clone(),
            skip: snapshot.inputs.skip.clone(),
            ..options.clone()
        };
        &recorded
    } else {
        options
    };
    let subject = fingerprint_subject(snapshot);
    let mut results: Vec<CheckResult> = Vec::with_capacity(RUNBOOK.len());
    for check in RUNBOOK.iter() {
        let meta = check.meta;
        let unread = crate::view::unread_consumer_side(snapshot, meta.id)
            .filter(|_| options.selects(meta.id));
        let outcome = if let Some(why) = unread {
            crate::check::Outcome::missing("the consumer side", why)
        } else if let Some(why) = crate::view::out_of_view(snapshot, meta.id) {
            crate::check::Outcome::skip(why)
        } else if let Some(why) = crate::endpoint_type::not_applicable(snapshot, meta) {
            crate::check::Outcome::skip(why)
        } else if !options.selects(meta.id) {
            let why = if options.skip.iter().any(|i| i == meta.id) {
                "skipped by --skip"
            } else {
                "not selected by --only"
            };
            crate::check::Outcome::skip(why)
        } else {
            (check.evaluate)(&Context::new(snapshot, options, &results))
        };
        let fingerprint = matches!(outcome.status, Status::Fail | Status::Warn).then(|| {
            let cause = outcome
                .cause
                .clone()
                .unwrap_or_else(|| crate::fingerprint::default_cause(&outcome.evidence));
            crate::fingerprint::fingerprint(&subject, meta.id, &cause)
        });
        results.push(CheckResult {
            id: meta.id.to_owned(),
            step: crate::registry::step(meta.id),
            title: meta.title.to_owned(),
            status: outcome.status,
            summary: outcome.summary,
            details: outcome.details,
            evidence: outcome.evidence,
            remediation: outcome.remediation,
            fingerprint,
            changes: None,
        });
    }
    // The changes behind each failing or warning check, from the recorded lookups: after
    // every check ran, so no check's status depends on them.
    for r in results.iter_mut() {
        r.changes = crate::changes::for_check(r, snapshot);
    }
    results
}

/// What a fingerprint is about: the endpoint, or (the provider view's service-wide
/// checks, evaluated on the service's own snapshot) the service.
fn fingerprint_subject(snapshot: &Snapshot) -> String {
    let ep = &snapshot.consumer.endpoint.id;
    if !ep.is_empty() {
        return ep.clone();
    }
    snapshot
        .provider
        .service_configuration
        .known()
        .map(|c| c.service_id.clone())
        .or_else(|| {
            snapshot
                .consumer
                .service
                .known()
                .map(|s| s.service_id.clone())
        })
        .unwrap_or_default()
}

/// The root cause is the first `fail` in runbook order.
pub fn root_cause(results: &[CheckResult]) -> Option<&CheckResult> {
    results.iter().find(|r| r.status == Status::Fail)
}

/// `fail` if anything failed; else `inconclusive` if something could not be
/// evaluated (the broken link may hide there); else `warn`; else `pass`.
pub fn verdict(counts: &Counts) -> Verdict {
    if counts.fail > 0 {
        Verdict::Fail
    } else if counts.unknown > 0 {
        Verdict::Inconclusive
    } else if counts.warn > 0 {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

pub fn count(results: &[CheckResult]) -> Counts {
    let mut c = Counts::default();
    for r in results {
        match r.status {
            Status::Pass => c.pass += 1,
            Status::Warn => c.warn += 1,
            Status::Fail => c.fail += 1,
            Status::Unknown => c.unknown += 1,
            Status::Skip => c.skip += 1,
        }
    }
    c
}

/// Where the endpoint is: its ENIs' AZs, else its subnets', else (provider view) what
/// the connection's zonal DNS names say.
fn endpoint_zones(snapshot: &Snapshot) -> Vec<String> {
    let consumer = &snapshot.consumer;
    let mut zones: Vec<String> = match (&consumer.endpoint_enis, &consumer.subnets) {
        (Fact::Known(enis), _) if !enis.is_empty() => {
            enis.iter().map(|e| e.availability_zone.clone()).collect()
        }
        (_, Fact::Known(subnets)) => subnets
            .iter()
            .filter(|s| consumer.endpoint.subnet_ids.contains(&s.id))
            .map(|s| s.availability_zone.clone())
            .collect(),
        _ => snapshot
            .provider
            .connections
            .known()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.vpc_endpoint_id == consumer.endpoint.id)
            })
            .map(|c| c.availability_zones.clone())
            .unwrap_or_default(),
    };
    zones.sort();
    zones.dedup();
    zones
}

/// Where the endpoint lives: the consumer view's own Region, or the provider's connection
/// record's VpcEndpointRegion.
fn endpoint_region(snapshot: &Snapshot) -> Option<String> {
    match snapshot.inputs.view {
        View::Consumer => Some(snapshot.region.clone()),
        View::Provider => snapshot
            .provider
            .connections
            .known()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.vpc_endpoint_id == snapshot.consumer.endpoint.id)
            })
            .and_then(|c| c.vpc_endpoint_region.clone()),
    }
}

/// Run the runbook and assemble the report. Time fields come from the caller:
/// the core never reads the clock.
pub fn build(
    snapshot: &Snapshot,
    options: &EvalOptions,
    started_at: String,
    duration_ms: u64,
) -> Report {
    let checks = evaluate(snapshot, options);
    let counts = count(&checks);
    let consumer = &snapshot.consumer;
    let service = consumer.service.known();
    let provider_account = match (&snapshot.provider.identity, service) {
        (Fact::Known(id), _) => Some(id.account.clone()),
        // An AWS service's Owner is `amazon`, not an account (service_kind says so).
        (_, Some(s))
            if !s.owner.is_empty()
                && !crate::model::eq_wire(&s.owner, crate::endpoint_type::AWS_OWNER) =>
        {
            Some(s.owner.clone())
        }
        _ => None,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        tool: "pl-doctor".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        target: Target {
            endpoint_id: consumer.endpoint.id.clone(),
            service_name: consumer.endpoint.service_name.clone(),
            service_kind: Some(crate::endpoint_type::service_kind(snapshot)),
            service_id: service.map(|s| s.service_id.clone()).or_else(|| {
                snapshot
                    .provider
                    .service_configuration
                    .known()
                    .map(|c| c.service_id.clone())
            }),
            region: snapshot.region.clone(),
            consumer_account: snapshot
                .consumer_identity
                .known()
                .map(|i| i.account.clone())
                .or_else(|| Some(consumer.endpoint.owner_id.clone())),
            provider_account,
            endpoint_state: consumer.endpoint.state.clone(),
            vpc_id: Some(consumer.endpoint.vpc_id.clone()).filter(|v| !v.is_empty()),
            availability_zones: endpoint_zones(snapshot),
            endpoint_region: endpoint_region(snapshot),
            service_region: match snapshot.inputs.view {
                View::Consumer => consumer
                    .endpoint
                    .service_region
                    .clone()
                    .or_else(|| service.and_then(|s| s.service_region.clone())),
                View::Provider => Some(snapshot.region.clone()),
            },
            provider_rst_packets_sent: provider_rst_packets_sent(snapshot),
        },
        started_at,
        duration_ms,
        verdict: verdict(&counts),
        root_cause: root_cause(&checks).map(|r| r.id.clone()),
        counts,
        path: crate::path::build(
            snapshot,
            &checks,
            root_cause(&checks).map(|r| r.id.as_str()),
        ),
        recent_changes: crate::changes::recent(&checks),
        checks,
    }
}
