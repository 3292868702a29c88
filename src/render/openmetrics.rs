//! `-o openmetrics`: gauges for a scheduled run (a CronJob writing a node_exporter
//! textfile, or any OpenMetrics scraper). The exposition format is written by the
//! Prometheus project's own Rust client (`prometheus-client`), not by hand.
//!
//! Statuses and verdicts are state sets, one series per possible value with 1 for the
//! current one and 0 for the others (the `kube_pod_status_phase` convention), so an
//! alert is `pl_doctor_check_status{status="fail"} == 1` and a dashboard can count
//! every state without knowing a numeric code.

use pl_checks::check::Status;
use pl_checks::fleet::FleetReport;
use pl_checks::report::{Report, Verdict};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

const STATUSES: [Status; 5] = [
    Status::Pass,
    Status::Warn,
    Status::Fail,
    Status::Unknown,
    Status::Skip,
];
const VERDICTS: [Verdict; 4] = [
    Verdict::Pass,
    Verdict::Warn,
    Verdict::Fail,
    Verdict::Inconclusive,
];

struct Metrics {
    registry: Registry,
    check_status: Family<Labels, FloatGauge>,
    verdict: Family<Labels, FloatGauge>,
    endpoints: Family<Labels, FloatGauge>,
}

impl Metrics {
    fn new(started_at: &str, duration_ms: u64) -> Self {
        let mut registry = Registry::with_prefix("pl_doctor");
        let check_status = Family::<Labels, FloatGauge>::default();
        registry.register(
            "check_status",
            "Status of a runbook check for an endpoint (1 for the current status, 0 for the others)",
            check_status.clone(),
        );
        let verdict = Family::<Labels, FloatGauge>::default();
        registry.register(
            "endpoint_verdict",
            "Verdict of the runbook for an endpoint (1 for the current verdict, 0 for the others)",
            verdict.clone(),
        );
        let endpoints = Family::<Labels, FloatGauge>::default();
        registry.register(
            "endpoints",
            "Endpoints diagnosed in this run, by verdict",
            endpoints.clone(),
        );
        let timestamp = FloatGauge::default();
        timestamp.set(unix_seconds(started_at));
        registry.register_with_unit(
            "run_timestamp",
            "When this run started (Unix time)",
            Unit::Seconds,
            timestamp,
        );
        let duration = FloatGauge::default();
        duration.set(duration_ms as f64 / 1000.0);
        registry.register_with_unit(
            "run_duration",
            "How long this run took",
            Unit::Seconds,
            duration,
        );
        Metrics {
            registry,
            check_status,
            verdict,
            endpoints,
        }
    }

    fn report(&self, r: &Report) {
        let base = base_labels(r);
        for c in &r.checks {
            self.checks_of(&base, &c.id, c.status);
        }
        for v in VERDICTS {
            let mut l = base.clone();
            l.push(("verdict".into(), v.as_str().into()));
            self.verdict
                .get_or_create(&l)
                .set(f64::from(u8::from(v == r.verdict)));
        }
    }

    fn checks_of(&self, base: &Labels, check: &str, status: Status) {
        for s in STATUSES {
            let mut l = base.clone();
            l.push(("check".into(), check.into()));
            l.push(("status".into(), s.as_str().into()));
            self.check_status
                .get_or_create(&l)
                .set(f64::from(u8::from(s == status)));
        }
    }

    fn counts<'a>(&self, verdicts: impl Iterator<Item = &'a Verdict>) {
        let all: Vec<&Verdict> = verdicts.collect();
        for v in VERDICTS {
            let n = all.iter().filter(|x| ***x == v).count();
            self.endpoints
                .get_or_create(&vec![("verdict".into(), v.as_str().into())])
                .set(n as f64);
        }
    }

    fn finish(self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

fn base_labels(r: &Report) -> Labels {
    let t = &r.target;
    vec![
        (
            "account".into(),
            t.consumer_account.clone().unwrap_or_default(),
        ),
        ("region".into(), t.region.clone()),
        ("endpoint".into(), t.endpoint_id.clone()),
    ]
}

/// RFC 3339 to Unix seconds; 0 for a timestamp that does not parse (it came from this
/// process's clock, so that only happens with a hand-edited report).
fn unix_seconds(rfc3339: &str) -> f64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
        .unwrap_or(0.0)
}

pub fn openmetrics(report: &Report) -> String {
    let m = Metrics::new(&report.started_at, report.duration_ms);
    m.report(report);
    m.counts(std::iter::once(&report.verdict));
    m.finish()
}

/// Every endpoint's checks and verdict; the provider view's service-wide checks under
/// `endpoint` = the service id.
pub fn fleet_openmetrics(fleet: &FleetReport) -> String {
    let m = Metrics::new(&fleet.started_at, fleet.duration_ms);
    for r in &fleet.reports {
        m.report(r);
    }
    if let Some(service) = &fleet.service {
        let base: Labels = vec![
            (
                "account".into(),
                fleet.scope.account.clone().unwrap_or_default(),
            ),
            ("region".into(), fleet.scope.region.clone()),
            (
                "endpoint".into(),
                fleet.scope.service_id.clone().unwrap_or_default(),
            ),
        ];
        for c in &service.checks {
            m.checks_of(&base, &c.id, c.status);
        }
    }
    m.counts(fleet.reports.iter().map(|r| &r.verdict));
    m.finish()
}
