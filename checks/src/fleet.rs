//! Many endpoints in one run: the consumer's fleet (`--all`) and the provider's view of
//! one service with all its connections (`--service`).
//!
//! Each endpoint keeps its own complete [`Snapshot`] and gets the same [`Report`] as a
//! one-endpoint run, so ticket bots read one shape. The fleet report adds a summary:
//! rows worst first, the verdict over all of them, and (provider view) the service-wide
//! checks evaluated once.

use crate::changes::Change;
use crate::check::{CheckResult, EvalOptions};
use crate::checks::allowed_principals::{classify, Principal};
use crate::fact::{Fact, Missing};
use crate::model::{
    eq_wire, CollectionInputs, ConsumerSide, Endpoint, MetricSeries, Observability, ProviderSide,
    Snapshot, View, SNAPSHOT_VERSION,
};
use crate::net::az::{target_zone, AzMap, TargetZone};
use crate::quota::{self, EndpointQuotaFacts, VpcEndpointUsage};
use crate::report::{self, Report, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fleet snapshot format this build writes and reads (the endpoint snapshots inside
/// carry their own `snapshot_version`).
pub const FLEET_SNAPSHOT_VERSION: u32 = 1;
/// The fleet report's JSON contract (`schema/fleet-report.schema.json`).
pub const FLEET_SCHEMA_VERSION: u32 = 1;

pub use crate::view::{out_of_view, unread_consumer_side, CONSUMER_SIDE, PER_CONNECTION};

/// Checks whose facts belong to the service, not to one connection: the provider view
/// evaluates them once, for the service, besides each connection's report.
pub const SERVICE_WIDE: &[&str] = &[
    "nlb-listener",
    "nlb-security-group",
    "target-health",
    "target-sg-ingress",
    "nlb-capacity",
    "private-dns-verification",
    "idle-timeout-resets",
];

pub use crate::endpoint_type::is_endpoint_service_name as is_endpoint_service;

/// The line a fleet report gives to the endpoints it left out, or None when none were:
/// how many go to AWS services, and how many were left out for another reason.
pub fn left_out_summary(scope: &FleetScope) -> Option<String> {
    if scope.left_out.is_empty() {
        return None;
    }
    // Other endpoint types first, by type; then interface endpoints to AWS services.
    let is_other_type = |l: &&LeftOut| {
        !l.endpoint_type.is_empty() && !crate::endpoint_type::is_interface(&l.endpoint_type)
    };
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for l in scope.left_out.iter().filter(is_other_type) {
        *by_type.entry(l.endpoint_type.as_str()).or_default() += 1;
    }
    let aws = scope
        .left_out
        .iter()
        .filter(|l| !is_other_type(l) && !is_endpoint_service(&l.service_name))
        .count();
    let typed: usize = by_type.values().sum();
    let other = scope.left_out.len() - aws - typed;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if typed > 0 {
        parts.push(format!(
            "{} left out by type ({})",
            by_type
                .iter()
                .map(|(t, n)| format!("{n} {t} endpoint{}", plural(*n)))
                .collect::<Vec<_>>()
                .join(", "),
            crate::endpoint_type::SCOPE
        ));
    }
    if aws > 0 {
        parts.push(format!(
            "{aws} interface endpoint{} to an AWS service left out (--include-aws-services diagnoses them too)",
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
    /// Many accounts (`--accounts`, `--org`, `--consumer-role-name`): the accounts read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Many regions (`--regions`): the regions read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// What could not be listed, assumed or read: one entry per account × region (or
    /// provider account), so a gap is a row saying why, never silence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<ScopeFailure>,
}

/// An account (and region) a many-account run could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeFailure {
    /// The account, when known (a failed organizations:ListAccounts has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What failed, as the IAM action (e.g. `sts:AssumeRole`, `ec2:DescribeVpcEndpoints`).
    pub operation: String,
    /// One line: what happened (e.g. "cannot assume arn:aws:iam::444444444444:role/pl-doctor-read: AccessDenied").
    pub reason: String,
    /// What to do about it.
    pub hint: String,
}

/// An endpoint a fleet run found and did not diagnose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    pub endpoint_id: String,
    pub service_name: String,
    /// VpcEndpointType as AWS sent it (`Interface`, `Gateway`, `GatewayLoadBalancer`,
    /// `Resource`, `ServiceNetwork`, or a value newer than this pl-doctor).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint_type: String,
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
    /// `--all`: per account × region, the interface-endpoints-per-VPC quota and the
    /// endpoints counting toward it in each VPC (absent in older snapshots).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoint_quotas: Vec<EndpointQuotaFacts>,
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
    /// Healthy and total targets per AZ of every target group behind the service's NLBs.
    #[serde(default = "not_summarised")]
    pub target_health: Fact<Vec<TargetGroupZones>>,
    /// The allow-list's size and the allow-list against who is actually connected.
    #[serde(default = "not_summarised")]
    pub principals: Fact<PrincipalHygiene>,
    /// The service's connections by state (wire value); absent with the reason when
    /// they could not be listed, so "no rows" is never mistaken for "no connections".
    #[serde(default = "not_summarised")]
    pub connections: Fact<BTreeMap<String, usize>>,
}

fn not_summarised<T>() -> Fact<T> {
    Fact::not_requested("not summarised by the pl-doctor that wrote this report")
}

/// One target group's targets, per Availability Zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupZones {
    pub target_group: String,
    pub arn: String,
    /// Every zone of the target group's load balancers (0 of 0 where nothing is
    /// registered) and every zone a target sits in; absent when DescribeTargetHealth is.
    pub zones: Fact<Vec<ZoneHealth>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneHealth {
    /// The provider account's name for the zone; `all` for IP targets outside the VPC.
    pub availability_zone: String,
    /// The physical zone, the same in every account; None when the name cannot be mapped.
    pub availability_zone_id: Option<String>,
    pub healthy: usize,
    pub total: usize,
}

/// Allowed-principals hygiene: how many entries, `*`, and the allow-list against the
/// accounts that are connected. (No quota: AWS documents none on allowed principals.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalHygiene {
    /// Entries in the allow-list.
    pub in_use: usize,
    /// Kept for the JSON contract (schema_version 1 never loses a field): earlier builds
    /// reported a "quota of 50" here, but AWS documents no quota on allowed principals,
    /// so it is always null now, and so is `headroom`; `near_quota` is always false.
    #[serde(default)]
    pub quota: Option<usize>,
    #[serde(default)]
    pub headroom: Option<usize>,
    #[serde(default)]
    pub near_quota: bool,
    /// `*` is listed: every account may connect (acceptance permitting).
    pub wildcard: bool,
    pub acceptance_required: Option<bool>,
    /// Entries naming an account (its root, or a role or user in it) from which no
    /// endpoint is connected: stale onboarding, or a consumer that left.
    pub without_connection: Fact<Vec<String>>,
    /// Connections whose owner no entry covers (and no `*`): they keep working, because
    /// removing a principal does not affect accepted connections, but a recreated
    /// endpoint would be refused.
    pub owners_not_allowed: Fact<Vec<ConnectionOwner>>,
    /// Organization or OU entries: they may cover an owner listed above, but membership
    /// is not visible to pl-doctor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organization_entries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionOwner {
    pub endpoint_id: String,
    pub owner: String,
    pub state: String,
}

/// How a provider-view snapshot says a consumer fact is out of its reach: named after
/// the consumer account, with the command that would see it.
pub fn consumer_not_visible(owner: Option<&str>, endpoint_id: Option<&str>) -> Missing {
    Missing::NotVisible {
        account: owner.filter(|o| !o.is_empty()).map(str::to_owned),
        hint: match endpoint_id {
            Some(id) => format!(
                "consumer side: run pl-doctor --endpoint {id} with the consumer account's credentials"
            ),
            None => "consumer side: run pl-doctor --endpoint <vpce-…> with each consumer account's credentials".into(),
        },
    }
}

/// What a provider-view collection shares across the service and its connections.
#[derive(Debug, Clone)]
pub struct ProviderViewHeader {
    pub collected_by: String,
    pub collected_at: String,
    pub region: String,
    /// The run's inputs (ports, window, --only/--skip); `endpoint_id` and `view` are set here.
    pub inputs: CollectionInputs,
    pub window_start: String,
    pub window_end: String,
}

/// The service's own snapshot in the provider view: the provider's facts, no endpoint
/// (`consumer.endpoint` carries only the service name), every consumer fact not visible.
/// The service-wide checks are evaluated on it.
pub fn service_snapshot(
    header: &ProviderViewHeader,
    endpoint_type: &str,
    provider: ProviderSide,
    metrics: Fact<Vec<MetricSeries>>,
) -> Snapshot {
    let service_name = provider
        .service_configuration
        .known()
        .map(|c| c.service_name.clone())
        .unwrap_or_default();
    let endpoint = Endpoint {
        id: String::new(),
        endpoint_type: endpoint_type.to_owned(),
        state: String::new(),
        last_error: None,
        owner_id: String::new(),
        vpc_id: String::new(),
        service_name,
        subnet_ids: vec![],
        network_interface_ids: vec![],
        security_group_ids: vec![],
        private_dns_enabled: false,
        dns_entries: vec![],
        ip_address_type: None,
        dns_record_ip_type: None,
        service_region: None,
        policy_document: None,
        private_dns_only_for_inbound_resolver_endpoint: None,
    };
    provider_view(header, endpoint, provider, metrics)
}

/// One connection as the provider sees it: `endpoint` synthesised from the connection
/// (id, owner, state, service name, DNS entries; what only the consumer sees left
/// empty), the service's provider facts with the connections narrowed to this one, and
/// every consumer fact not visible, naming the owner and the command that would see it.
pub fn connection_snapshot(service: &Snapshot, endpoint: Endpoint) -> Snapshot {
    let header = ProviderViewHeader {
        collected_by: service.collected_by.clone(),
        collected_at: service.collected_at.clone(),
        region: service.region.clone(),
        inputs: service.inputs.clone(),
        window_start: service.observability.window_start.clone(),
        window_end: service.observability.window_end.clone(),
    };
    let mut provider = service.provider.clone();
    // Each connection's snapshot carries its own record only, so N connections do not
    // cost N² records; the service snapshot keeps them all.
    provider.connections = provider.connections.map(|all| {
        all.into_iter()
            .filter(|c| c.vpc_endpoint_id == endpoint.id)
            .collect()
    });
    provider_view(
        &header,
        endpoint,
        provider,
        service.observability.metrics.clone(),
    )
}

/// One connection with both sides: the consumer's own snapshot of the endpoint (read
/// through the owner account's role) and the provider facts of the connection's
/// snapshot, with both accounts' metrics. The whole runbook applies to it.
pub fn both_sides(connection: &Snapshot, mut consumer: Snapshot) -> Snapshot {
    consumer.inputs.view = View::Consumer;
    consumer.provider = connection.provider.clone();
    let metrics = std::mem::replace(&mut consumer.observability.metrics, Fact::Known(Vec::new()));
    consumer.observability.metrics = match (connection.observability.metrics.clone(), metrics) {
        (Fact::Known(mut provider), Fact::Known(own)) => {
            provider.extend(own);
            Fact::Known(provider)
        }
        (Fact::Absent(m), _) | (_, Fact::Absent(m)) => Fact::Absent(m),
    };
    consumer
}

/// A connection whose consumer side was asked for and could not be read (the owner's
/// role could not be assumed, its endpoints not listed): the provider-side checks stand,
/// and the consumer-side checks are `unknown` naming `why` instead of `skip`.
pub fn consumer_unread(connection: &Snapshot, why: &Missing) -> Snapshot {
    let mut s = connection.clone();
    s.inputs.consumer_unread = Some(why.clone());
    s
}

fn provider_view(
    header: &ProviderViewHeader,
    endpoint: Endpoint,
    provider: ProviderSide,
    metrics: Fact<Vec<MetricSeries>>,
) -> Snapshot {
    let owner = Some(endpoint.owner_id.clone()).filter(|o| !o.is_empty());
    let id = Some(endpoint.id.clone()).filter(|i| !i.is_empty());
    let hidden = || consumer_not_visible(owner.as_deref(), id.as_deref());
    let inputs = CollectionInputs {
        endpoint_id: endpoint.id.clone(),
        view: View::Provider,
        ..header.inputs.clone()
    };
    Snapshot {
        snapshot_version: SNAPSHOT_VERSION,
        collected_by: header.collected_by.clone(),
        collected_at: header.collected_at.clone(),
        region: header.region.clone(),
        inputs,
        consumer_identity: Fact::Absent(hidden()),
        consumer: ConsumerSide {
            endpoint,
            endpoint_enis: Fact::Absent(hidden()),
            vpc: Fact::Absent(hidden()),
            subnets: Fact::Absent(hidden()),
            network_acls: Fact::Absent(hidden()),
            security_groups: Fact::Absent(hidden()),
            prefix_lists: Fact::Absent(hidden()),
            az_map: Fact::Absent(hidden()),
            service: Fact::Absent(hidden()),
            regions: Fact::Absent(hidden()),
            client: None,
            dns_config: Fact::Absent(hidden()),
        },
        provider,
        dns: Fact::Absent(hidden()),
        probe: Fact::Absent(hidden()),
        observability: Observability {
            window_start: header.window_start.clone(),
            window_end: header.window_end.clone(),
            metrics,
            flow_logs: Fact::Absent(hidden()),
            flow_log_rejects: Fact::Absent(hidden()),
        },
        vantage: None,
        changes: None,
    }
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
    /// Endpoints per root cause, most first (then by runbook order): the pattern a
    /// platform team looks for first ("12 × endpoint-sg-ingress").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_causes: Vec<RootCauseCount>,
    /// `--all`: each VPC's interface and Gateway Load Balancer endpoints against the
    /// quota (Service Quotas `vpc`/`L-29B6F2EB`), nearest first; `near_quota` (80 %)
    /// makes the verdict at least `warn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_endpoints: Vec<VpcEndpointUsage>,
    /// The changes under the failing and warning checks of the service summary and every
    /// report, once each (by event id), newest first, each with where it shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_changes: Vec<FleetChange>,
    /// One report per endpoint, worst verdict first, then by account, then by endpoint id.
    pub reports: Vec<Report>,
}

/// One change behind a fleet's failing or warning checks: a revoked rule on a shared
/// security group shows under every endpoint that uses it, but it is one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetChange {
    #[serde(flatten)]
    pub change: Change,
    /// The endpoints whose checks show it, in report order; the service id for the
    /// provider view's service-wide checks.
    pub endpoints: Vec<String>,
}

impl FleetChange {
    /// The change's line, naming where it shows: `… (under vpce-1, vpce-2)`, or `(under 14
    /// endpoints)` past a few.
    pub fn line(&self) -> String {
        const NAMED: usize = 3;
        let under = if self.endpoints.len() > NAMED {
            format!("{} endpoints", self.endpoints.len())
        } else {
            self.endpoints.join(", ")
        };
        format!("{} [under {under}]", self.change.line())
    }
}

/// The fleet's "Recent changes": the service summary's first, then each report's, merged
/// by event id, newest first.
pub fn recent_changes(
    service: Option<(&str, &[CheckResult])>,
    reports: &[Report],
) -> Vec<FleetChange> {
    let mut all: Vec<FleetChange> = Vec::new();
    let mut add = |events: &mut dyn Iterator<Item = &Change>, under: &str| {
        for e in events {
            match all.iter_mut().find(|f| f.change.event_id == e.event_id) {
                Some(f) if !f.endpoints.iter().any(|x| x == under) => {
                    f.endpoints.push(under.to_owned())
                }
                Some(_) => {}
                None => all.push(FleetChange {
                    change: e.clone(),
                    endpoints: vec![under.to_owned()],
                }),
            }
        }
    };
    if let Some((service_id, checks)) = service {
        add(
            &mut checks
                .iter()
                .filter_map(|c| c.changes.as_ref())
                .flat_map(|c| &c.events),
            service_id,
        );
    }
    for r in reports {
        add(&mut r.recent_changes.iter(), &r.target.endpoint_id);
    }
    all.sort_by(|a, b| crate::changes::newest_first(&a.change, &b.change));
    all
}

/// How many endpoints share a root cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCauseCount {
    pub check: String,
    pub endpoints: usize,
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
            .then_with(|| a.target.consumer_account.cmp(&b.target.consumer_account))
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
    // An account or region that could not be read may hide the broken link: at worst
    // inconclusive, never a clean pass.
    let unread = (!fleet.scope.failed.is_empty()).then_some(Verdict::Inconclusive);
    let vpc_endpoints = quota::usage(&fleet.endpoint_quotas);
    // A VPC near its endpoint quota breaks nothing yet: the next endpoint would.
    let near_quota = vpc_endpoints
        .iter()
        .any(|u| u.near_quota)
        .then_some(Verdict::Warn);
    let verdict = worst(
        service
            .iter()
            .map(|s| s.verdict)
            .chain(reports.iter().map(|r| r.verdict))
            .chain(unread)
            .chain(near_quota),
    );
    let root_causes = root_cause_counts(&reports);
    let recent_changes = recent_changes(
        service.as_ref().map(|s| {
            (
                fleet.scope.service_id.as_deref().unwrap_or("service"),
                s.checks.as_slice(),
            )
        }),
        &reports,
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
        root_causes,
        vpc_endpoints,
        recent_changes,
        reports,
    }
}

/// Endpoints per root cause, most first; ties in runbook order.
pub fn root_cause_counts(reports: &[Report]) -> Vec<RootCauseCount> {
    let mut by_check: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reports {
        if let Some(id) = r.root_cause.as_deref() {
            *by_check.entry(id).or_insert(0) += 1;
        }
    }
    let step = |id: &str| {
        crate::registry::ids()
            .position(|i| i == id)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<RootCauseCount> = by_check
        .into_iter()
        .map(|(check, endpoints)| RootCauseCount {
            check: check.to_owned(),
            endpoints,
        })
        .collect();
    out.sort_by(|a, b| {
        b.endpoints
            .cmp(&a.endpoints)
            .then_with(|| step(&a.check).cmp(&step(&b.check)))
    });
    out
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
        target_health: target_health_by_zone(&snapshot.provider),
        principals: principal_hygiene(snapshot),
        connections: snapshot.provider.connections.as_result().map_or_else(
            |m| Fact::Absent(m.clone()),
            |conns| {
                let mut by_state = BTreeMap::new();
                for c in conns {
                    *by_state.entry(c.vpc_endpoint_state.clone()).or_insert(0) += 1;
                }
                Fact::Known(by_state)
            },
        ),
    }
}

/// Healthy/total targets per AZ, per target group, from the provider's facts.
pub fn target_health_by_zone(provider: &ProviderSide) -> Fact<Vec<TargetGroupZones>> {
    let tgs = match &provider.target_groups {
        Fact::Known(t) => t,
        Fact::Absent(m) => return Fact::Absent(m.clone()),
    };
    let map = AzMap::new(
        crate::net::az::Account::Provider,
        &provider.az_map,
        &provider.subnets,
    );
    let lb_zones: Vec<(&str, &str)> = provider
        .load_balancers
        .known()
        .into_iter()
        .flatten()
        .flat_map(|lb| {
            lb.availability_zones
                .iter()
                .map(move |z| (lb.arn.as_str(), z.zone_name.as_str()))
        })
        .collect();
    let out = tgs
        .iter()
        .map(|tg| {
            let zones = tg.targets.as_result().map(|targets| {
                let mut zones: Vec<ZoneHealth> = Vec::new();
                fn entry(zones: &mut Vec<ZoneHealth>, name: &str, id: Option<String>) -> usize {
                    match zones.iter().position(|z| z.availability_zone == name) {
                        Some(i) => i,
                        None => {
                            zones.push(ZoneHealth {
                                availability_zone: name.to_owned(),
                                availability_zone_id: id,
                                healthy: 0,
                                total: 0,
                            });
                            zones.len() - 1
                        }
                    }
                }
                for (_, name) in lb_zones
                    .iter()
                    .filter(|(arn, _)| tg.load_balancer_arns.iter().any(|a| a == arn))
                {
                    entry(&mut zones, name, map.id_of(name).ok().map(str::to_owned));
                }
                for t in targets {
                    let (name, id) = match (target_zone(&map, t), t.availability_zone.as_deref()) {
                        (TargetZone::Id(id), Some(name)) => (name.to_owned(), Some(id)),
                        (TargetZone::All, _) => ("all".to_owned(), None),
                        (_, Some(name)) => (name.to_owned(), None),
                        (_, None) => ("unknown".to_owned(), None),
                    };
                    let i = entry(&mut zones, &name, id);
                    zones[i].total += 1;
                    if eq_wire(&t.state, "healthy") {
                        zones[i].healthy += 1;
                    }
                }
                zones.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
                zones
            });
            TargetGroupZones {
                target_group: tg.name.clone(),
                arn: tg.arn.clone(),
                zones: match zones {
                    Ok(z) => Fact::Known(z),
                    Err(m) => Fact::Absent(m.clone()),
                },
            }
        })
        .collect();
    Fact::Known(out)
}

/// The allow-list's size and the allow-list against the connections (the service snapshot's
/// provider facts: every connection of the service).
pub fn principal_hygiene(snapshot: &Snapshot) -> Fact<PrincipalHygiene> {
    let provider = &snapshot.provider;
    let principals = match &provider.allowed_principals {
        Fact::Known(p) => p,
        Fact::Absent(m) => return Fact::Absent(m.clone()),
    };
    let classified: Vec<_> = principals.iter().map(|p| (p, classify(p))).collect();
    let wildcard = classified.iter().any(|(_, c)| *c == Principal::Everyone);
    let account_of = |c: &Principal<'_>| -> Option<String> {
        match c {
            Principal::AccountRoot(a)
            | Principal::Role { account: a }
            | Principal::User { account: a } => Some((*a).to_owned()),
            _ => None,
        }
    };
    let organization_entries: Vec<String> = classified
        .iter()
        .filter(|(_, c)| *c == Principal::Organization)
        .map(|(p, _)| p.principal.clone())
        .collect();
    let (without_connection, owners_not_allowed) = match &provider.connections {
        Fact::Absent(m) => (Fact::Absent(m.clone()), Fact::Absent(m.clone())),
        Fact::Known(conns) => {
            // A deleted endpoint no longer uses its account's entry.
            let live: Vec<_> = conns
                .iter()
                .filter(|c| !eq_wire(&c.vpc_endpoint_state, "deleted"))
                .collect();
            let unused = classified
                .iter()
                .filter_map(|(p, c)| {
                    let account = account_of(c)?;
                    (!live.iter().any(|c| c.vpc_endpoint_owner == account))
                        .then(|| p.principal.clone())
                })
                .collect();
            let not_allowed = if wildcard {
                vec![]
            } else {
                live.iter()
                    .filter(|c| {
                        !classified
                            .iter()
                            .any(|(_, p)| account_of(p).as_deref() == Some(&c.vpc_endpoint_owner))
                    })
                    .map(|c| ConnectionOwner {
                        endpoint_id: c.vpc_endpoint_id.clone(),
                        owner: c.vpc_endpoint_owner.clone(),
                        state: c.vpc_endpoint_state.clone(),
                    })
                    .collect()
            };
            (Fact::Known(unused), Fact::Known(not_allowed))
        }
    };
    Fact::Known(PrincipalHygiene {
        in_use: principals.len(),
        quota: None,
        headroom: None,
        near_quota: false,
        wildcard,
        acceptance_required: snapshot.acceptance_required(),
        without_connection,
        owners_not_allowed,
        organization_entries,
    })
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
            endpoint_quotas: vec![],
        }
    }

    fn scenario(name: &str) -> Snapshot {
        scenarios::all()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("scenario {name}"))
            .snapshot
    }

    fn in_account(mut s: Snapshot, account: &str, id: &str) -> Snapshot {
        s.consumer.endpoint.owner_id = account.into();
        s.consumer.endpoint.id = id.into();
        s.inputs.endpoint_id = id.into();
        if let Fact::Known(i) = &mut s.consumer_identity {
            i.account = account.into();
        }
        s
    }

    #[test]
    fn a_vpc_near_its_endpoint_quota_makes_a_passing_fleet_warn() {
        let mut fleet = fleet_of(vec![scenario("healthy")]);
        let quota_facts = |in_use: usize| crate::quota::EndpointQuotaFacts {
            account: Some("111111111111".into()),
            region: "us-east-1".into(),
            applied: Fact::Known(50),
            in_use: [("vpc-0c0c0c0c0c0c0c0c0".to_owned(), in_use)].into(),
        };
        fleet.endpoint_quotas = vec![quota_facts(12)];
        let calm = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        assert_eq!(calm.verdict, Verdict::Pass);
        assert_eq!(calm.vpc_endpoints.len(), 1);
        assert!(!calm.vpc_endpoints[0].near_quota);

        fleet.endpoint_quotas = vec![quota_facts(44)];
        let near = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        assert_eq!(near.verdict, Verdict::Warn, "44 of 50 endpoints: 88 %");
        assert_eq!(near.vpc_endpoints[0].percent, 88);
        let json = serde_json::to_value(&near).unwrap();
        assert_eq!(json["vpc_endpoints"][0]["quota_source"], "applied");
        assert_eq!(json["vpc_endpoints"][0]["near_quota"], true);
    }

    #[test]
    fn many_accounts_count_root_causes_and_an_unread_account_makes_it_inconclusive() {
        let mut fleet = fleet_of(vec![
            in_account(
                scenario("endpoint-sg-missing-port"),
                "333333333333",
                "vpce-0000000000000000a",
            ),
            in_account(
                scenario("endpoint-sg-missing-port"),
                "444444444444",
                "vpce-0000000000000000b",
            ),
            in_account(
                scenario("pending-acceptance"),
                "555555555555",
                "vpce-0000000000000000c",
            ),
            in_account(
                scenario("healthy"),
                "666666666666",
                "vpce-0000000000000000d",
            ),
        ]);
        let report = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        let counts: Vec<(String, usize)> = report
            .root_causes
            .iter()
            .map(|c| (c.check.clone(), c.endpoints))
            .collect();
        assert_eq!(counts[0], ("endpoint-sg-ingress".to_owned(), 2));
        assert_eq!(counts[1].1, 1);
        assert_eq!(report.verdict, Verdict::Fail);

        // Only the healthy row, one account unread: inconclusive, never a clean pass.
        fleet.snapshots.truncate(0);
        fleet.snapshots.push(scenario("healthy"));
        let clean = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        fleet.scope.failed.push(ScopeFailure {
            account: Some("777777777777".into()),
            region: None,
            operation: "sts:AssumeRole".into(),
            reason: "cannot assume arn:aws:iam::777777777777:role/pl-doctor-read: AccessDenied"
                .into(),
            hint: "fix the trust policy".into(),
        });
        let partial = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        assert_eq!(clean.verdict, Verdict::Pass);
        assert_eq!(partial.verdict, Verdict::Inconclusive);
        assert!(partial.root_causes.is_empty());
    }

    #[test]
    fn a_connection_read_on_both_sides_runs_the_whole_runbook_and_an_unread_one_says_why() {
        let consumer = scenario("endpoint-sg-missing-port");
        let header = ProviderViewHeader {
            collected_by: "t".into(),
            collected_at: "t".into(),
            region: consumer.region.clone(),
            inputs: CollectionInputs::default(),
            window_start: consumer.observability.window_start.clone(),
            window_end: consumer.observability.window_end.clone(),
        };
        let service = service_snapshot(
            &header,
            "Interface",
            consumer.provider.clone(),
            Fact::Known(vec![]),
        );
        let connection = connection_snapshot(&service, consumer.consumer.endpoint.clone());
        let status = |s: &Snapshot, id: &str| {
            report::build(s, &EvalOptions::default(), "t".into(), 0)
                .checks
                .into_iter()
                .find(|c| c.id == id)
                .unwrap()
        };
        assert_eq!(
            status(&connection, "endpoint-sg-ingress").status,
            Status::Skip
        );

        let both = both_sides(&connection, consumer.clone());
        assert_eq!(both.inputs.view, View::Consumer);
        assert_eq!(status(&both, "endpoint-sg-ingress").status, Status::Fail);
        assert_eq!(status(&both, "connection-acceptance").status, Status::Pass);

        let why = Missing::NotVisible {
            account: Some("444444444444".into()),
            hint: "cannot assume arn:aws:iam::444444444444:role/pl-doctor-read: AccessDenied"
                .into(),
        };
        let unread = consumer_unread(&connection, &why);
        for id in CONSUMER_SIDE {
            let c = status(&unread, id);
            assert_eq!(c.status, Status::Unknown, "{id}");
            assert!(
                c.summary
                    .contains("cannot assume arn:aws:iam::444444444444:role/pl-doctor-read"),
                "{}",
                c.summary
            );
        }
        assert_eq!(
            status(&unread, "connection-acceptance").status,
            Status::Pass
        );
        // It survives a save and a replay.
        let text = serde_json::to_string(&unread).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(status(&back, "subnet-nacl").status, Status::Unknown);
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
    fn a_connection_its_owner_deleted_is_history_not_a_failure() {
        let mut snap = scenario("healthy");
        snap.inputs.view = View::Provider;
        snap.consumer.endpoint.state = "deleted".into();
        if let crate::fact::Fact::Known(conns) = &mut snap.provider.connections {
            conns[0].vpc_endpoint_state = "deleted".into();
        }
        let report = crate::report::build(&snap, &EvalOptions::default(), "t".into(), 0);
        for id in PER_CONNECTION {
            let c = report.checks.iter().find(|c| c.id == *id).unwrap();
            assert_eq!(c.status, Status::Skip, "{id}: {}", c.summary);
            assert!(c.summary.contains("deleted by its owner"), "{}", c.summary);
        }
        assert_ne!(report.verdict, Verdict::Fail);
        // The consumer's own view of its deleted endpoint still fails: it asked about it.
        snap.inputs.view = View::Consumer;
        let report = crate::report::build(&snap, &EvalOptions::default(), "t".into(), 0);
        assert_eq!(report.root_cause.as_deref(), Some("endpoint-state"));
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

    /// A scenario as `--service` would collect it: the service's snapshot from its
    /// provider facts, and its endpoint's connection as the provider sees it.
    fn provider_view_of(s: &Snapshot) -> (Snapshot, Snapshot) {
        let header = ProviderViewHeader {
            collected_by: s.collected_by.clone(),
            collected_at: s.collected_at.clone(),
            region: s.region.clone(),
            inputs: s.inputs.clone(),
            window_start: s.observability.window_start.clone(),
            window_end: s.observability.window_end.clone(),
        };
        let service = service_snapshot(
            &header,
            "Interface",
            s.provider.clone(),
            s.observability.metrics.clone(),
        );
        let ep = &s.consumer.endpoint;
        let record = s
            .provider
            .connections
            .known()
            .and_then(|cs| cs.iter().find(|c| c.vpc_endpoint_id == ep.id));
        let endpoint = Endpoint {
            id: ep.id.clone(),
            endpoint_type: "Interface".into(),
            state: record.map_or(ep.state.clone(), |c| c.vpc_endpoint_state.clone()),
            last_error: None,
            owner_id: record.map_or(ep.owner_id.clone(), |c| c.vpc_endpoint_owner.clone()),
            vpc_id: String::new(),
            service_name: ep.service_name.clone(),
            subnet_ids: vec![],
            network_interface_ids: vec![],
            security_group_ids: vec![],
            private_dns_enabled: false,
            dns_entries: ep.dns_entries.clone(),
            ip_address_type: None,
            dns_record_ip_type: None,
            service_region: None,
            policy_document: None,
            private_dns_only_for_inbound_resolver_endpoint: None,
        };
        let connection = connection_snapshot(&service, endpoint);
        (service, connection)
    }

    fn status_of(r: &Report, id: &str) -> Status {
        r.checks.iter().find(|c| c.id == id).unwrap().status
    }

    #[test]
    fn the_provider_view_of_every_scenario_never_contradicts_the_consumer_view() {
        // A check the provider can evaluate gives the consumer view's status, or says it
        // cannot tell (unknown/skip); it never passes what fails or fails what passes.
        let mut compared = 0;
        for sc in scenarios::all() {
            let s = &sc.snapshot;
            if !s.provider.connections.known().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.vpc_endpoint_id == s.consumer.endpoint.id)
            }) || !eq_wire(&s.consumer.endpoint.endpoint_type, "Interface")
            {
                continue;
            }
            let consumer = report::build(s, &EvalOptions::default(), "t".into(), 0);
            let (_, conn) = provider_view_of(s);
            let provider = report::build(&conn, &EvalOptions::default(), "t".into(), 0);
            for c in &provider.checks {
                let want = status_of(&consumer, &c.id);
                if CONSUMER_SIDE.contains(&c.id.as_str()) {
                    assert_eq!(c.status, Status::Skip, "{}: {}", sc.name, c.id);
                    continue;
                }
                assert!(
                    c.status == want || matches!(c.status, Status::Unknown | Status::Skip),
                    "{}: {} is {:?} in the provider view, {:?} in the consumer's: {}",
                    sc.name,
                    c.id,
                    c.status,
                    want,
                    c.summary
                );
                compared += 1;
            }
        }
        assert!(compared > 100, "compared {compared} check results");
    }

    #[test]
    fn the_provider_view_judges_the_connection_by_its_state() {
        let mut s = scenario("healthy");
        let Fact::Known(conns) = &mut s.provider.connections else {
            unreachable!()
        };
        conns[0].vpc_endpoint_state = "rejected".into();
        let (_, conn) = provider_view_of(&s);
        let r = report::build(&conn, &EvalOptions::default(), "t".into(), 0);
        assert_eq!(r.target.endpoint_state, "rejected");
        assert_eq!(r.root_cause.as_deref(), Some("endpoint-state"));
        assert_eq!(status_of(&r, "connection-acceptance"), Status::Fail);
        let fix = r.checks[0].remediation.clone().unwrap();
        // No VPC, subnets or groups in the provider view: placeholders, not empty flags.
        assert!(fix.contains("--vpc-id <vpc-…>"), "{fix}");
        assert!(fix.contains("--subnet-ids <one subnet per AZ>"), "{fix}");
        assert!(!fix.contains("  "), "{fix}");

        let Fact::Known(conns) = &mut s.provider.connections else {
            unreachable!()
        };
        conns[0].vpc_endpoint_state = "pendingAcceptance".into();
        let (_, conn) = provider_view_of(&s);
        let r = report::build(&conn, &EvalOptions::default(), "t".into(), 0);
        let fix = r.checks[0].remediation.clone().unwrap();
        assert!(
            fix.starts_with(&format!("Provider ({})", scenarios::base::PROVIDER_ACCOUNT)),
            "{fix}"
        );
        let consumer_side = r
            .checks
            .iter()
            .find(|c| c.id == "vpc-dns-attributes")
            .unwrap();
        assert!(
            consumer_side.summary.contains("consumer side"),
            "{}",
            consumer_side.summary
        );
    }

    fn cross_zone_off(s: &mut Snapshot) {
        let Fact::Known(lbs) = &mut s.provider.load_balancers else {
            unreachable!()
        };
        let Fact::Known(a) = &mut lbs[0].attributes else {
            unreachable!()
        };
        a.cross_zone_enabled = false;
    }

    fn cross_zone_of(s: &Snapshot) -> crate::check::CheckResult {
        let (_, conn) = provider_view_of(s);
        report::evaluate(&conn, &EvalOptions::default())
            .into_iter()
            .find(|c| c.id == "cross-zone")
            .unwrap()
    }

    #[test]
    fn cross_zone_in_the_provider_view_reasons_from_the_service_azs() {
        let mut s = scenario("healthy");
        assert_eq!(cross_zone_of(&s).status, Status::Pass, "cross-zone on");
        cross_zone_off(&mut s);
        // Both NLB zones have a healthy target: wherever the ENIs are, they are served.
        let c = cross_zone_of(&s);
        assert_eq!(c.status, Status::Pass, "{}", c.summary);
        assert!(
            c.summary.contains("every AZ of the service"),
            "{}",
            c.summary
        );

        // use1-az1 (the provider's us-east-1b) loses its only healthy target.
        let Fact::Known(tgs) = &mut s.provider.target_groups else {
            unreachable!()
        };
        let Fact::Known(t) = &mut tgs[0].targets else {
            unreachable!()
        };
        t[1].state = "unhealthy".into();
        // The connection names no AZ: the provider cannot tell.
        let c = cross_zone_of(&s);
        assert_eq!(c.status, Status::Unknown, "{}", c.summary);
        assert!(c.summary.contains("us-east-1b (use1-az1)"), "{}", c.summary);
        assert!(
            c.details.iter().any(|d| d.contains("pl-doctor --endpoint")),
            "{:?}",
            c.details
        );
        assert!(c
            .remediation
            .unwrap()
            .contains("load_balancing.cross_zone.enabled,Value=true"));

        // One zonal name of two service AZs: still cannot tell which.
        let Fact::Known(conns) = &mut s.provider.connections else {
            unreachable!()
        };
        conns[0].availability_zones = vec!["us-east-1a".into()];
        let c = cross_zone_of(&s);
        assert_eq!(c.status, Status::Unknown, "{}", c.summary);
        assert!(
            c.summary.contains("1 of the service's 2 AZs"),
            "{}",
            c.summary
        );

        // ENIs in as many AZs as the service has: one is in the uncovered zone.
        let Fact::Known(conns) = &mut s.provider.connections else {
            unreachable!()
        };
        conns[0].availability_zones = vec!["us-east-1a".into(), "us-east-1b".into()];
        let c = cross_zone_of(&s);
        assert_eq!(c.status, Status::Fail, "{}", c.summary);
        assert!(
            c.summary.contains("works in one AZ, fails in another"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn target_health_is_summarised_per_az_with_empty_nlb_zones() {
        let mut s = scenario("healthy");
        let Fact::Known(tgs) = &mut s.provider.target_groups else {
            unreachable!()
        };
        let Fact::Known(t) = &mut tgs[0].targets else {
            unreachable!()
        };
        t[0].state = "unhealthy".into();
        t.remove(1);
        let Fact::Known(groups) = target_health_by_zone(&s.provider) else {
            panic!("target groups known")
        };
        assert_eq!(groups.len(), 1);
        let Fact::Known(zones) = &groups[0].zones else {
            panic!("health known")
        };
        assert_eq!(
            zones,
            &vec![
                ZoneHealth {
                    availability_zone: "us-east-1a".into(),
                    availability_zone_id: Some("use1-az2".into()),
                    healthy: 0,
                    total: 1
                },
                ZoneHealth {
                    availability_zone: "us-east-1b".into(),
                    availability_zone_id: Some("use1-az1".into()),
                    healthy: 0,
                    total: 0
                },
            ]
        );
        s.provider.target_groups = Fact::needs_provider(None);
        assert!(target_health_by_zone(&s.provider).known().is_none());
    }

    #[test]
    fn principal_hygiene_lists_unused_entries_and_owners_no_longer_allowed() {
        let mut s = scenario("healthy");
        let consumer = scenarios::base::CONSUMER_ACCOUNT;
        s.provider.allowed_principals = Fact::Known(
            [
                format!("arn:aws:iam::{consumer}:root"),
                "arn:aws:iam::444444444444:role/partner".to_owned(),
                "arn:aws:organizations::999999999999:ou/o-a1b2c3d4e5/ou-ab12-cdef3456".to_owned(),
            ]
            .into_iter()
            .map(|p| crate::model::AllowedPrincipal {
                principal: p,
                principal_type: String::new(),
            })
            .collect(),
        );
        let Fact::Known(conns) = &mut s.provider.connections else {
            unreachable!()
        };
        let mut other = conns[0].clone();
        other.vpc_endpoint_id = "vpce-0bbbbbbbbbbbbbbbb".into();
        other.vpc_endpoint_owner = "555555555555".into();
        let mut gone = conns[0].clone();
        gone.vpc_endpoint_id = "vpce-0cccccccccccccccc".into();
        gone.vpc_endpoint_owner = "666666666666".into();
        gone.vpc_endpoint_state = "deleted".into();
        conns.push(other);
        conns.push(gone);
        let Fact::Known(h) = principal_hygiene(&s) else {
            panic!("known")
        };
        assert_eq!(h.in_use, 3);
        assert!(!h.wildcard);
        // The fields of the old "quota" stay in the JSON (contract), with no invented limit.
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["quota"], serde_json::Value::Null);
        assert_eq!(json["headroom"], serde_json::Value::Null);
        assert_eq!(json["near_quota"], false);
        assert_eq!(
            h.without_connection,
            Fact::Known(vec!["arn:aws:iam::444444444444:role/partner".to_owned()])
        );
        assert_eq!(
            h.owners_not_allowed,
            Fact::Known(vec![ConnectionOwner {
                endpoint_id: "vpce-0bbbbbbbbbbbbbbbb".into(),
                owner: "555555555555".into(),
                state: "available".into(),
            }])
        );
        assert_eq!(h.organization_entries.len(), 1);

        // `*` allows every owner; 48 entries are counted, with no invented limit.
        s.provider.allowed_principals = Fact::Known(
            std::iter::once("*".to_owned())
                .chain((0..47).map(|i| format!("arn:aws:iam::{:012}:root", 700000000000u64 + i)))
                .map(|p| crate::model::AllowedPrincipal {
                    principal: p,
                    principal_type: String::new(),
                })
                .collect(),
        );
        let Fact::Known(h) = principal_hygiene(&s) else {
            panic!("known")
        };
        assert!(h.wildcard);
        assert_eq!(h.in_use, 48);
        assert_eq!(h.owners_not_allowed, Fact::Known(vec![]));

        s.provider.connections = Fact::needs_provider(None);
        let Fact::Known(h) = principal_hygiene(&s) else {
            panic!("known")
        };
        assert!(h.without_connection.known().is_none());
        s.provider.allowed_principals = Fact::needs_provider(None);
        assert!(principal_hygiene(&s).known().is_none());
    }

    #[test]
    fn a_service_with_no_connection_still_gets_its_service_wide_checks() {
        let mut s = scenario("all-targets-unhealthy");
        s.provider.connections = Fact::Known(vec![]);
        let (service, _) = provider_view_of(&s);
        let mut fleet = fleet_of(vec![]);
        fleet.kind = FleetKind::Service;
        fleet.service = Some(service);
        let report = build(&fleet, &EvalOptions::default(), "t".into(), 0);
        assert!(report.reports.is_empty());
        let summary = report.service.as_ref().unwrap();
        assert_eq!(summary.root_cause.as_deref(), Some("target-health"));
        assert_eq!(summary.connections, Fact::Known(BTreeMap::new()));
        assert!(summary.target_health.known().is_some());
        assert_eq!(report.verdict, Verdict::Fail);
        assert!(report.any_failed());
        // The summary round-trips through JSON (ticket bots read it back).
        let json = serde_json::to_string(&report).unwrap();
        let back: FleetReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
