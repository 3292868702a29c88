//! What a check is: its metadata (id, title, what it reads, the IAM actions
//! behind those facts, its documentation) and a pure `evaluate` over a [`Context`].

use crate::client::{ClientSpec, ResolvedClient};
use crate::fact::Missing;
use crate::model::Snapshot;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Unknown,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::Skip => "skip",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a failure of this check is for the path (Prowler-style metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

/// Documentation in fixed sections, printed by `pl-doctor explain <id>`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckDoc {
    pub what_it_checks: &'static str,
    pub why_it_matters: &'static str,
    /// Includes the exact AWS CLI command and Terraform attribute where one exists.
    pub how_to_fix: &'static str,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckMeta {
    pub id: &'static str,
    pub title: &'static str,
    /// Where the seed article (or AWS docs, beyond it) covers this.
    pub source: &'static str,
    pub severity: Severity,
    /// Which kinds of interface endpoint the check applies to (to endpoint services, to
    /// AWS services, or both); elsewhere it is `skip`, saying why.
    pub applies_to: crate::endpoint_type::AppliesTo,
    /// Snapshot facts the check reads (paths into the snapshot model).
    pub reads: &'static [&'static str],
    /// IAM actions behind those facts, in the consumer account.
    pub consumer_actions: &'static [&'static str],
    /// IAM actions behind those facts, in the provider account.
    pub provider_actions: &'static [&'static str],
    pub docs_url: &'static str,
    pub doc: CheckDoc,
}

/// One check: its metadata and its pure evaluation.
#[derive(Clone, Copy)]
pub struct Check {
    pub meta: &'static CheckMeta,
    pub evaluate: fn(&Context) -> Outcome,
}

/// What `evaluate` returns; the engine adds id, step and title.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub details: Vec<String>,
    pub evidence: Map<String, Value>,
    pub remediation: Option<String>,
    /// What names this finding's cause, for its `fingerprint`; None: derived from the
    /// evidence ([`crate::fingerprint::default_cause`]).
    pub cause: Option<Vec<String>>,
}

impl Outcome {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Outcome {
            status,
            summary: summary.into(),
            details: Vec::new(),
            evidence: Map::new(),
            remediation: None,
            cause: None,
        }
    }
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(Status::Pass, summary)
    }
    pub fn warn(summary: impl Into<String>) -> Self {
        Self::new(Status::Warn, summary)
    }
    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(Status::Fail, summary)
    }
    pub fn unknown(summary: impl Into<String>) -> Self {
        Self::new(Status::Unknown, summary)
    }
    pub fn skip(summary: impl Into<String>) -> Self {
        Self::new(Status::Skip, summary)
    }
    /// `unknown` because a fact is absent: says which fact and why.
    pub fn missing(what: &str, why: &Missing) -> Self {
        Self::unknown(format!("cannot read {what}: {why}"))
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.details.push(d.into());
        self
    }
    pub fn details<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ds: I) -> Self {
        self.details.extend(ds.into_iter().map(Into::into));
        self
    }
    pub fn evidence(mut self, key: &str, value: impl Serialize) -> Self {
        self.evidence.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }
    pub fn remediation(mut self, r: impl Into<String>) -> Self {
        self.remediation = Some(r.into());
        self
    }
    /// Name the cause explicitly when the evidence's ids are not it (e.g. they include
    /// a list that changes while the problem stays the same): the `fingerprint` is then
    /// derived from these parts alone.
    pub fn cause<I: IntoIterator<Item = S>, S: Into<String>>(mut self, parts: I) -> Self {
        self.cause = Some(parts.into_iter().map(Into::into).collect());
        self
    }
}

/// A check's result as it appears in the report (JSON contract, schema_version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub step: u8,
    pub title: String,
    pub status: Status,
    pub summary: String,
    pub details: Vec<String>,
    pub evidence: Map<String, Value>,
    pub remediation: Option<String>,
    /// On `fail` and `warn` only: the ticket bot's dedup key, the same for the same
    /// endpoint, check and cause in every run (see `crate::fingerprint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// On `fail` and `warn` only, when the run looked them up: the CloudTrail write
    /// events on the resources this check names (see `crate::changes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::changes::CheckChanges>,
}

/// Options that change the evaluation without changing the facts.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// `--client`; overrides the snapshot's recorded client.
    pub client: Option<ClientSpec>,
    /// `--port`; overrides the snapshot's recorded ports.
    pub ports: Vec<u16>,
    /// `--only`: when non-empty, every other check is `skip`.
    pub only: Vec<String>,
    /// `--skip`.
    pub skip: Vec<String>,
    /// `--action`, `--principal`, `--resource` (endpoint-policy); each overrides the
    /// snapshot's recorded one.
    pub policy: crate::net::policy::PolicyRequest,
}

impl EvalOptions {
    /// Whether `--only`/`--skip` leave check `id` in the run.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|i| i == id))
            && !self.skip.iter().any(|i| i == id)
    }
}

/// Everything a check may look at: the snapshot, the options, and the results
/// of the checks before it (for "prerequisite failed" reasoning).
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub options: &'a EvalOptions,
    pub(crate) prior: &'a [CheckResult],
}

/// The port AWS service endpoints answer on (HTTPS), unless `--port` says otherwise.
pub const AWS_SERVICE_PORT: u16 = 443;

/// Where the ports under test came from, for the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortsUnderTest {
    pub ports: Vec<u16>,
    pub source: &'static str,
}

impl<'a> Context<'a> {
    pub fn new(snapshot: &'a Snapshot, options: &'a EvalOptions, prior: &'a [CheckResult]) -> Self {
        Context {
            snapshot,
            options,
            prior,
        }
    }

    /// The result of an earlier check in this run.
    pub fn prior(&self, id: &str) -> Option<&CheckResult> {
        self.prior.iter().find(|r| r.id == id)
    }

    /// The first of `ids` that failed earlier in this run, if any: a check that depends
    /// on it says so instead of piling on noise.
    pub fn failed_prerequisite(&self, ids: &[&str]) -> Option<&CheckResult> {
        ids.iter()
            .filter_map(|id| self.prior(id))
            .find(|r| r.status == Status::Fail)
    }

    /// The service ports under test: `--port`, else the ports recorded at collection,
    /// else every NLB listener port. Err when none of those is known.
    pub fn ports(&self) -> Result<PortsUnderTest, String> {
        if !self.options.ports.is_empty() {
            return Ok(PortsUnderTest {
                ports: self.options.ports.clone(),
                source: "--port",
            });
        }
        if !self.snapshot.inputs.ports.is_empty() {
            return Ok(PortsUnderTest {
                ports: self.snapshot.inputs.ports.clone(),
                source: "--port at collection",
            });
        }
        // AWS service APIs are HTTPS: the SDKs connect on 443.
        if crate::endpoint_type::service_kind(self.snapshot)
            == crate::endpoint_type::ServiceKind::AwsService
        {
            return Ok(PortsUnderTest {
                ports: vec![AWS_SERVICE_PORT],
                source: "HTTPS, the port of AWS service APIs",
            });
        }
        match self.listener_ports() {
            Ok(p) if !p.is_empty() => Ok(PortsUnderTest {
                ports: p,
                source: "NLB listeners",
            }),
            Ok(_) => Err("the service's NLB has no listeners; give --port".into()),
            Err(m) => Err(format!(
                "the service port is not known ({m}); give --port or provider access"
            )),
        }
    }

    fn listener_ports(&self) -> Result<Vec<u16>, &'a Missing> {
        let lbs = self.snapshot.provider.load_balancers.as_result()?;
        let mut ports = Vec::new();
        for lb in lbs {
            for l in lb.listeners.as_result()? {
                if !ports.contains(&l.port) {
                    ports.push(l.port);
                }
            }
        }
        ports.sort_unstable();
        Ok(ports)
    }

    /// The request endpoint-policy judges: `--action`/`--principal`/`--resource`, each
    /// else the one recorded at collection.
    pub fn policy_request(&self) -> crate::net::policy::PolicyRequest {
        let given = &self.options.policy;
        let recorded = &self.snapshot.inputs;
        crate::net::policy::PolicyRequest {
            action: given.action.clone().or_else(|| recorded.action.clone()),
            principal: given
                .principal
                .clone()
                .or_else(|| recorded.principal.clone()),
            resource: given.resource.clone().or_else(|| recorded.resource.clone()),
        }
    }

    /// The client under test: `--client`, else the one recorded at collection.
    /// `None` when no client was named; `Some(Err)` when it cannot be resolved from the snapshot.
    pub fn client(&self) -> Option<Result<ResolvedClient, String>> {
        let spec = match &self.options.client {
            Some(s) => s.clone(),
            None => match &self.snapshot.inputs.client {
                Some(raw) => match ClientSpec::parse(raw) {
                    Ok(s) => s,
                    Err(e) => return Some(Err(format!("recorded client {raw:?}: {e}"))),
                },
                None => return None,
            },
        };
        Some(crate::client::resolve(&spec, self.snapshot))
    }
}

/// Convenience for reading a fact or returning `unknown` from a check.
#[macro_export]
macro_rules! known_or_unknown {
    ($fact:expr, $what:expr) => {
        match $fact {
            $crate::fact::Fact::Known(v) => v,
            $crate::fact::Fact::Absent(m) => return $crate::check::Outcome::missing($what, m),
        }
    };
}
