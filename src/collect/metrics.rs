//! CloudWatch metrics for the window: one GetMetricData call per account, concurrently.
//! The provider's credentials read AWS/NetworkELB (resets, flows, host counts of the
//! service's NLBs); the consumer's read AWS/PrivateLinkEndpoints for the endpoint.
//! Which queries to ask and how replies become series are pure functions; the checks
//! (idle-timeout-resets) judge the series.

use super::progress::Stage;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use pl_checks::fact::Missing;
#[cfg(test)]
use pl_checks::model::ProviderSide;
use pl_checks::model::{Endpoint, MetricSeries};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const GET_METRIC_DATA: &str = "cloudwatch:GetMetricData";
pub const NLB_NAMESPACE: &str = "AWS/NetworkELB";
pub const ENDPOINT_NAMESPACE: &str = "AWS/PrivateLinkEndpoints";
pub const SERVICE_NAMESPACE: &str = "AWS/PrivateLinkServices";

/// NLB metrics per load balancer (dimension LoadBalancer), with the statistic that
/// makes sense for each (AWS's "most useful statistics").
const NLB_METRICS: &[(&str, &str)] = &[
    ("TCP_Target_Reset_Count", "Sum"),
    ("TCP_ELB_Reset_Count", "Sum"),
    ("TCP_Client_Reset_Count", "Sum"),
    ("ActiveFlowCount", "Average"),
    ("NewFlowCount", "Sum"),
    // PrivateLink source-port exhaustion (nlb-capacity).
    ("PortAllocationErrorCount", "Sum"),
    // Flows the NLB's security groups dropped: invisible in every other NLB metric
    // (nlb-security-group's evidence).
    ("SecurityGroupBlockedFlowCount_Inbound_TCP", "Sum"),
];

/// Per AZ of each NLB (dimensions AvailabilityZone, LoadBalancer): where ports run out.
const NLB_ZONE_METRICS: &[(&str, &str)] = &[("PortAllocationErrorCount", "Sum")];

/// The provider's view of each connected endpoint (dimensions Service Id, VPC Endpoint Id).
const SERVICE_ENDPOINT_METRICS: &[(&str, &str)] = &[("RstPacketsSent", "Sum")];

/// Host counts exist only per target group (dimensions TargetGroup, LoadBalancer).
/// Minimum healthy and maximum unhealthy: a dip inside a period must not average away.
const TARGET_GROUP_METRICS: &[(&str, &str)] = &[
    ("HealthyHostCount", "Minimum"),
    ("UnHealthyHostCount", "Maximum"),
];

/// The endpoint's own metrics (dimensions Endpoint Type, Service Name, VPC Endpoint Id, VPC Id).
const ENDPOINT_METRICS: &[(&str, &str)] = &[
    ("RstPacketsReceived", "Sum"),
    ("PacketsDropped", "Sum"),
    ("ActiveConnections", "Average"),
    ("NewConnections", "Sum"),
    ("BytesProcessed", "Sum"),
];

/// At most this many points per series, whatever the window.
pub const MAX_POINTS: u64 = 1440;

/// The period for a window: 5 minutes, or coarser so no series exceeds [`MAX_POINTS`].
/// CloudWatch keeps 5-minute data for 63 days and hourly data beyond, and answers only
/// periods that are multiples of those, so longer periods are rounded up to them.
pub fn period_for(window: Duration) -> u32 {
    let secs = window.as_secs().max(1);
    let wanted = secs.div_ceil(MAX_POINTS).max(300);
    let step = if secs > 63 * 86_400 { 3600 } else { 300 };
    let p = wanted.div_ceil(step) * step;
    u32::try_from(p).unwrap_or(u32::MAX / 3600 * 3600)
}

/// One series asked for: its query id and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSeries {
    pub id: String,
    pub namespace: &'static str,
    pub metric_name: &'static str,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: &'static str,
}

/// What one GetMetricData call asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPlan {
    pub period_seconds: u32,
    pub series: Vec<PlannedSeries>,
}

impl MetricPlan {
    fn new(period_seconds: u32) -> Self {
        MetricPlan {
            period_seconds,
            series: Vec::new(),
        }
    }

    fn push(
        &mut self,
        namespace: &'static str,
        (metric_name, statistic): (&'static str, &'static str),
        dimensions: &[(&str, &str)],
    ) {
        // Query ids must start with a lowercase letter and hold only [a-zA-Z0-9_].
        let id = format!("m{}", self.series.len());
        self.series.push(PlannedSeries {
            id,
            namespace,
            metric_name,
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            statistic,
        });
    }

    /// The MetricDataQueries of the call.
    pub fn queries(&self) -> Vec<MetricDataQuery> {
        self.series
            .iter()
            .map(|s| {
                let metric = Metric::builder()
                    .namespace(s.namespace)
                    .metric_name(s.metric_name)
                    .set_dimensions(Some(
                        s.dimensions
                            .iter()
                            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                            .collect(),
                    ))
                    .build();
                MetricDataQuery::builder()
                    .id(&s.id)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(self.period_seconds as i32)
                            .stat(s.statistic)
                            .build(),
                    )
                    .return_data(true)
                    .build()
            })
            .collect()
    }
}

/// The CloudWatch dimension value of a load balancer or target group: the ARN's
/// resource part after its type (`…:loadbalancer/net/name/id` → `net/name/id`,
/// `…:targetgroup/name/id` → `targetgroup/name/id`).
pub fn lb_dimension(arn: &str) -> Option<&str> {
    arn.split_once(":loadbalancer/").map(|(_, rest)| rest)
}

pub fn target_group_dimension(arn: &str) -> Option<&str> {
    arn.rsplit_once(':')
        .map(|(_, rest)| rest)
        .filter(|r| r.starts_with("targetgroup/"))
}

/// What the provider's queries are asked about: the NLBs (ARN and AZ names), each target
/// group with the load balancers it serves, and the service with its connected endpoints.
#[derive(Debug, Clone, Default)]
pub struct ProviderScope {
    pub nlbs: Vec<(String, Vec<String>)>,
    pub target_groups: Vec<(String, Vec<String>)>,
    /// The service id and the endpoints connected to it (AWS/PrivateLinkServices).
    pub service: Option<(String, Vec<String>)>,
}

/// The provider's queries for a collected provider side (the tests' way in; the collector
/// starts them earlier, from the ARNs, with [`provider_plan_for`]).
/// Err when a fact they depend on is missing (provider access given, but a describe
/// failed): a plan with a hole would let the check read absent host counts as healthy.
#[cfg(test)]
pub fn provider_plan(provider: &ProviderSide, period_seconds: u32) -> Result<MetricPlan, Missing> {
    let config = provider
        .service_configuration
        .as_result()
        .map_err(Clone::clone)?;
    let target_groups = provider.target_groups.as_result().map_err(Clone::clone)?;
    let zones = |arn: &str| -> Vec<String> {
        provider
            .load_balancers
            .known()
            .and_then(|lbs| lbs.iter().find(|l| l.arn == arn))
            .map(|l| {
                l.availability_zones
                    .iter()
                    .map(|z| z.zone_name.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    let endpoints: Vec<String> = provider
        .connections
        .known()
        .map(|c| c.iter().map(|c| c.vpc_endpoint_id.clone()).collect())
        .unwrap_or_default();
    let scope = ProviderScope {
        nlbs: config
            .network_load_balancer_arns
            .iter()
            .map(|a| (a.clone(), zones(a)))
            .collect(),
        target_groups: target_groups
            .iter()
            .map(|t| (t.arn.clone(), t.load_balancer_arns.clone()))
            .collect(),
        service: Some((config.service_id.clone(), endpoints)),
    };
    provider_plan_for(&scope, period_seconds)
}

/// The provider's queries from the ARNs alone, so they can start as soon as
/// DescribeLoadBalancers and DescribeTargetGroups have answered.
pub fn provider_plan_for(
    scope: &ProviderScope,
    period_seconds: u32,
) -> Result<MetricPlan, Missing> {
    let mut plan = MetricPlan::new(period_seconds);
    for (arn, zones) in &scope.nlbs {
        let Some(lb) = lb_dimension(arn) else {
            return Err(Missing::ApiError {
                operation: GET_METRIC_DATA.into(),
                message: format!("{arn:?} is not a load balancer ARN"),
            });
        };
        for m in NLB_METRICS {
            plan.push(NLB_NAMESPACE, *m, &[("LoadBalancer", lb)]);
        }
        for (tg_arn, _) in scope
            .target_groups
            .iter()
            .filter(|(_, lbs)| lbs.iter().any(|a| a == arn))
        {
            let Some(tg_dim) = target_group_dimension(tg_arn) else {
                return Err(Missing::ApiError {
                    operation: GET_METRIC_DATA.into(),
                    message: format!("{tg_arn:?} is not a target group ARN"),
                });
            };
            for m in TARGET_GROUP_METRICS {
                plan.push(
                    NLB_NAMESPACE,
                    *m,
                    &[("LoadBalancer", lb), ("TargetGroup", tg_dim)],
                );
            }
        }
        for zone in zones {
            for m in NLB_ZONE_METRICS {
                plan.push(
                    NLB_NAMESPACE,
                    *m,
                    &[("AvailabilityZone", zone), ("LoadBalancer", lb)],
                );
            }
        }
    }
    if let Some((service_id, endpoints)) = &scope.service {
        for endpoint in endpoints {
            for m in SERVICE_ENDPOINT_METRICS {
                plan.push(
                    SERVICE_NAMESPACE,
                    *m,
                    &[("Service Id", service_id), (ENDPOINT_DIMENSION, endpoint)],
                );
            }
        }
    }
    Ok(plan)
}

/// The consumer's queries: the endpoint's AWS/PrivateLinkEndpoints metrics.
#[cfg(test)]
pub fn consumer_plan(endpoint: &Endpoint, period_seconds: u32) -> MetricPlan {
    let mut plan = MetricPlan::new(period_seconds);
    push_endpoint(&mut plan, endpoint);
    plan
}

fn push_endpoint(plan: &mut MetricPlan, endpoint: &Endpoint) {
    let dims = [
        ("Endpoint Type", endpoint.endpoint_type.as_str()),
        ("Service Name", endpoint.service_name.as_str()),
        (ENDPOINT_DIMENSION, endpoint.id.as_str()),
        ("VPC Id", endpoint.vpc_id.as_str()),
    ];
    for m in ENDPOINT_METRICS {
        plan.push(ENDPOINT_NAMESPACE, *m, &dims);
    }
}

/// The dimension naming the endpoint a consumer series belongs to.
const ENDPOINT_DIMENSION: &str = "VPC Endpoint Id";

/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// The consumer's queries for many endpoints in as few calls as the per-call query
/// limit allows, each plan with the range of `endpoints` it covers. One endpoint gives
/// exactly [`consumer_plan`].
pub fn consumer_plans(
    endpoints: &[Endpoint],
    period_seconds: u32,
) -> Vec<(MetricPlan, std::ops::Range<usize>)> {
    let per_call = MAX_QUERIES_PER_CALL / ENDPOINT_METRICS.len();
    endpoints
        .chunks(per_call)
        .enumerate()
        .map(|(k, chunk)| {
            let mut plan = MetricPlan::new(period_seconds);
            for e in chunk {
                push_endpoint(&mut plan, e);
            }
            let start = k * per_call;
            (plan, start..start + chunk.len())
        })
        .collect()
}

/// The consumer's series of every endpoint (in `endpoints` order): one GetMetricData
/// call per [`MAX_QUERIES_PER_CALL`] queries, all at once. A failed call makes the
/// metrics of the endpoints it covered absent, with its reason.
pub async fn fetch_consumer(
    stage: Stage<'_>,
    cw: &aws_sdk_cloudwatch::Client,
    endpoints: &[Endpoint],
    period_seconds: u32,
    window: Window,
    deadline: Instant,
) -> Vec<Result<Vec<MetricSeries>, Missing>> {
    let plans = consumer_plans(endpoints, period_seconds);
    let replies = futures_util::future::join_all(
        plans
            .iter()
            .map(|(plan, _)| fetch(stage, cw, plan, window, deadline)),
    )
    .await;
    let mut out = Vec::with_capacity(endpoints.len());
    for ((_, range), reply) in plans.iter().zip(replies) {
        for i in range.clone() {
            out.push(match &reply {
                Ok(series) => Ok(series
                    .iter()
                    .filter(|s| {
                        s.dimensions.get(ENDPOINT_DIMENSION).map(String::as_str)
                            == Some(endpoints[i].id.as_str())
                    })
                    .cloned()
                    .collect()),
                Err(m) => Err(m.clone()),
            });
        }
    }
    out
}

/// RFC 3339 as the snapshot writes times (`2026-11-24T09:05:00Z`).
fn rfc3339(t: &DateTime) -> Result<String, Missing> {
    t.fmt(Format::DateTime).map_err(|e| Missing::ApiError {
        operation: GET_METRIC_DATA.into(),
        message: format!("unreadable timestamp: {e}"),
    })
}

/// The replies of one (paginated) call → one series per planned query, points oldest
/// first. Every query must have come back Complete: a Forbidden or failed series makes
/// the whole fact absent rather than leave a hole the check would read as "no traffic".
pub fn series(
    plan: &MetricPlan,
    pages: &[GetMetricDataOutput],
) -> Result<Vec<MetricSeries>, Missing> {
    let api_error = |message: String| Missing::ApiError {
        operation: GET_METRIC_DATA.into(),
        message,
    };
    let mut out = Vec::with_capacity(plan.series.len());
    for planned in &plan.series {
        let results: Vec<_> = pages
            .iter()
            .flat_map(|p| p.metric_data_results())
            .filter(|r| r.id() == Some(planned.id.as_str()))
            .collect();
        let what = format!(
            "{} {} ({})",
            planned.namespace, planned.metric_name, planned.statistic
        );
        let Some(last) = results.last() else {
            return Err(api_error(format!("no result for {what}")));
        };
        let messages = || {
            results
                .iter()
                .flat_map(|r| r.messages())
                .filter_map(|m| m.value())
                .collect::<Vec<_>>()
                .join("; ")
        };
        match last.status_code() {
            Some(StatusCode::Complete) => {}
            Some(StatusCode::Forbidden) => {
                return Err(Missing::AccessDenied {
                    action: GET_METRIC_DATA.into(),
                    message: Some(format!("{what}: {}", messages())),
                })
            }
            other => {
                let status = other.map(|s| s.as_str()).unwrap_or("no status");
                return Err(api_error(format!(
                    "{what} came back {status}: {}",
                    messages()
                )));
            }
        }
        let mut points: Vec<(DateTime, f64)> = Vec::new();
        for r in &results {
            if r.timestamps().len() != r.values().len() {
                return Err(api_error(format!(
                    "{what}: {} timestamps for {} values",
                    r.timestamps().len(),
                    r.values().len()
                )));
            }
            points.extend(
                r.timestamps()
                    .iter()
                    .copied()
                    .zip(r.values().iter().copied()),
            );
        }
        // CloudWatch answers newest first unless asked otherwise; the model is oldest first.
        points.sort_by_key(|(t, _)| (t.secs(), t.subsec_nanos()));
        points.dedup_by_key(|(t, _)| (t.secs(), t.subsec_nanos()));
        out.push(MetricSeries {
            namespace: planned.namespace.to_owned(),
            metric_name: planned.metric_name.to_owned(),
            dimensions: planned.dimensions.clone(),
            statistic: planned.statistic.to_owned(),
            period_seconds: plan.period_seconds,
            points: points
                .iter()
                .map(|(t, v)| Ok((rfc3339(t)?, *v)))
                .collect::<Result<_, Missing>>()?,
        });
    }
    Ok(out)
}

/// The metrics window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: std::time::SystemTime,
    pub end: std::time::SystemTime,
}

/// `plan` in as few GetMetricData calls as the per-call query limit allows (a service with
/// hundreds of connections asks one RstPacketsSent query per endpoint), all at once.
pub async fn fetch(
    stage: Stage<'_>,
    cw: &aws_sdk_cloudwatch::Client,
    plan: &MetricPlan,
    window: Window,
    deadline: Instant,
) -> Result<Vec<MetricSeries>, Missing> {
    if plan.series.len() <= MAX_QUERIES_PER_CALL {
        return fetch_one(stage, cw, plan, window, deadline).await;
    }
    let parts: Vec<MetricPlan> = plan
        .series
        .chunks(MAX_QUERIES_PER_CALL)
        .map(|c| MetricPlan {
            period_seconds: plan.period_seconds,
            series: c.to_vec(),
        })
        .collect();
    let replies = futures_util::future::join_all(
        parts
            .iter()
            .map(|p| fetch_one(stage, cw, p, window, deadline)),
    )
    .await;
    let mut all = Vec::with_capacity(plan.series.len());
    for r in replies {
        all.extend(r?);
    }
    Ok(all)
}

/// One GetMetricData call (all pages) for `plan`, bounded by the overall deadline.
async fn fetch_one(
    stage: Stage<'_>,
    cw: &aws_sdk_cloudwatch::Client,
    plan: &MetricPlan,
    window: Window,
    deadline: Instant,
) -> Result<Vec<MetricSeries>, Missing> {
    if plan.series.is_empty() {
        return Ok(vec![]);
    }
    let call = stage.call(
        GET_METRIC_DATA,
        cw.get_metric_data()
            .set_metric_data_queries(Some(plan.queries()))
            .start_time(DateTime::from(window.start))
            .end_time(DateTime::from(window.end))
            .scan_by(ScanBy::TimestampAscending)
            .into_paginator()
            .send()
            .try_collect(),
    );
    let pages = match tokio::time::timeout_at(deadline, call).await {
        Ok(Ok(pages)) => pages,
        Ok(Err(f)) => return Err(f.to_missing()),
        Err(_) => {
            return Err(Missing::DeadlinePassed {
                waiting_for: "CloudWatch metrics (cloudwatch:GetMetricData)".into(),
            })
        }
    };
    series(plan, &pages)
}

/// Both accounts' series as one fact. Without provider access only the consumer's
/// series exist (the check then says host health is not visible); with it, a failure on
/// either side makes the fact absent with that side's reason.
pub fn combine(
    provider: Option<Result<Vec<MetricSeries>, Missing>>,
    consumer: Result<Vec<MetricSeries>, Missing>,
) -> Result<Vec<MetricSeries>, Missing> {
    let mut all = match provider {
        Some(p) => p?,
        None => vec![],
    };
    all.extend(consumer?);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::progress::Tracker;
    use crate::collect::testing::{error_meta, mock_client};
    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataInput};
    use aws_sdk_cloudwatch::types::{MessageData, MetricDataResult};
    use aws_smithy_mocks::mock;
    use pl_checks::check::CheckResult;
    use pl_checks::check::{EvalOptions, Status};
    use pl_checks::fact::Fact;
    use pl_checks::scenarios::base::{
        healthy, CONSUMER_VPC, ENDPOINT_ID, SERVICE_ID, SERVICE_NAME,
    };
    use std::sync::{Arc, Mutex};

    /// 2026-11-24T09:00:00Z, the healthy scenario's window start.
    const T0: i64 = 1_795_510_800;

    fn window() -> Window {
        Window {
            start: std::time::UNIX_EPOCH + Duration::from_secs(T0 as u64),
            end: std::time::UNIX_EPOCH + Duration::from_secs(T0 as u64 + 3600),
        }
    }

    fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn period_is_five_minutes_or_coarser_to_stay_under_1440_points() {
        let h = 3600;
        assert_eq!(period_for(Duration::from_secs(h)), 300);
        assert_eq!(period_for(Duration::from_secs(24 * h)), 300);
        assert_eq!(period_for(Duration::from_secs(7 * 24 * h)), 600);
        assert_eq!(period_for(Duration::from_secs(30 * 24 * h)), 1800);
        // Beyond 63 days CloudWatch holds hourly data only.
        assert_eq!(period_for(Duration::from_secs(90 * 24 * h)), 7200);
        for secs in [60, 3599, 86_401, 999_999, 5_443_201, 40_000_000] {
            let p = u64::from(period_for(Duration::from_secs(secs)));
            assert!(secs.div_ceil(p) <= MAX_POINTS, "{secs} s at {p} s");
            assert!(p % 300 == 0 && p >= 300, "{p}");
        }
    }

    #[test]
    fn provider_plan_asks_every_nlb_metric_and_host_counts_per_target_group() {
        let s = healthy();
        let plan = provider_plan(&s.provider, 300).unwrap();
        let lb = "net/payments-svc-nlb/50dc6c495c0c9188";
        let tg = "targetgroup/payments-svc-tg/73e2d6bc24d8a067";
        let got: Vec<(&str, &str, BTreeMap<String, String>)> = plan
            .series
            .iter()
            .map(|p| (p.metric_name, p.statistic, p.dimensions.clone()))
            .collect();
        let nlb = dims(&[("LoadBalancer", lb)]);
        let per_tg = dims(&[("LoadBalancer", lb), ("TargetGroup", tg)]);
        let per_az = |az: &str| dims(&[("AvailabilityZone", az), ("LoadBalancer", lb)]);
        let per_endpoint = dims(&[("Service Id", SERVICE_ID), ("VPC Endpoint Id", ENDPOINT_ID)]);
        assert_eq!(
            got,
            vec![
                ("TCP_Target_Reset_Count", "Sum", nlb.clone()),
                ("TCP_ELB_Reset_Count", "Sum", nlb.clone()),
                ("TCP_Client_Reset_Count", "Sum", nlb.clone()),
                ("ActiveFlowCount", "Average", nlb.clone()),
                ("NewFlowCount", "Sum", nlb.clone()),
                ("PortAllocationErrorCount", "Sum", nlb.clone()),
                ("SecurityGroupBlockedFlowCount_Inbound_TCP", "Sum", nlb),
                ("HealthyHostCount", "Minimum", per_tg.clone()),
                ("UnHealthyHostCount", "Maximum", per_tg),
                ("PortAllocationErrorCount", "Sum", per_az("us-east-1a")),
                ("PortAllocationErrorCount", "Sum", per_az("us-east-1b")),
                ("RstPacketsSent", "Sum", per_endpoint),
            ]
        );
        let namespaces: Vec<&str> = plan.series.iter().map(|p| p.namespace).collect();
        assert_eq!(namespaces[..11], [NLB_NAMESPACE; 11]);
        assert_eq!(namespaces[11], SERVICE_NAMESPACE);
        for p in &plan.series {
            let mut chars = p.id.chars();
            assert!(
                chars.next().is_some_and(|c| c.is_ascii_lowercase()),
                "{}",
                p.id
            );
            assert!(
                chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{}",
                p.id
            );
        }
        let mut ids: Vec<&str> = plan.series.iter().map(|p| p.id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), plan.series.len(), "ids are unique");

        // Without the target groups the host counts cannot be asked: the plan says why.
        let mut s = healthy();
        s.provider.target_groups = Fact::Absent(Missing::AccessDenied {
            action: "elasticloadbalancing:DescribeTargetGroups".into(),
            message: None,
        });
        assert!(matches!(
            provider_plan(&s.provider, 300),
            Err(Missing::AccessDenied { action, .. }) if action == "elasticloadbalancing:DescribeTargetGroups"
        ));
    }

    #[test]
    fn consumer_plan_uses_the_endpoint_dimensions() {
        let plan = consumer_plan(&healthy().consumer.endpoint, 300);
        let names: Vec<&str> = plan.series.iter().map(|p| p.metric_name).collect();
        assert_eq!(
            names,
            [
                "RstPacketsReceived",
                "PacketsDropped",
                "ActiveConnections",
                "NewConnections",
                "BytesProcessed"
            ]
        );
        assert!(plan.series.iter().all(|p| p.namespace == ENDPOINT_NAMESPACE
            && p.dimensions
                == dims(&[
                    ("Endpoint Type", "Interface"),
                    ("Service Name", SERVICE_NAME),
                    ("VPC Endpoint Id", ENDPOINT_ID),
                    ("VPC Id", CONSUMER_VPC),
                ])));
    }

    #[test]
    fn arn_suffixes_are_the_dimension_values() {
        assert_eq!(
            lb_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/a/1"
            ),
            Some("net/a/1")
        );
        assert_eq!(
            target_group_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/tg/2"
            ),
            Some("targetgroup/tg/2")
        );
        assert_eq!(lb_dimension("net/a/1"), None);
        assert_eq!(target_group_dimension("arn:aws:iam::1:role/x"), None);
    }

    /// One page of a GetMetricData reply the way CloudWatch sends it: per query, the
    /// timestamps newest first with their values, and a status code.
    fn page(
        plan: &MetricPlan,
        values: &dyn Fn(&str) -> Vec<f64>,
        offset: usize,
        status: StatusCode,
        next_token: Option<&str>,
    ) -> GetMetricDataOutput {
        let mut out = GetMetricDataOutput::builder();
        for p in &plan.series {
            let v = values(p.metric_name);
            let mut r = MetricDataResult::builder()
                .id(&p.id)
                .label(p.metric_name)
                .status_code(status.clone());
            for (i, value) in v.iter().enumerate().rev() {
                let t = T0 + ((offset + i) as i64) * 300;
                r = r.timestamps(DateTime::from_secs(t)).values(*value);
            }
            out = out.metric_data_results(r.build());
        }
        out.set_next_token(next_token.map(Into::into)).build()
    }

    fn burst(metric: &str) -> Vec<f64> {
        match metric {
            "TCP_Target_Reset_Count" => vec![0., 1., 0., 0., 0., 0., 2., 0., 0., 38., 41., 0.],
            other => steady(other),
        }
    }

    fn steady(metric: &str) -> Vec<f64> {
        match metric {
            "TCP_Target_Reset_Count" => vec![0., 1., 0., 0., 0., 0., 2., 0., 0., 0., 0., 0.],
            "TCP_Client_Reset_Count" | "RstPacketsReceived" | "RstPacketsSent" => {
                vec![1., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0.]
            }
            "ActiveFlowCount" => vec![
                120., 118., 125., 130., 122., 119., 121., 124., 126., 123., 120., 118.,
            ],
            "NewFlowCount" | "NewConnections" => {
                vec![40., 38., 45., 50., 42., 39., 41., 44., 46., 43., 40., 38.]
            }
            "HealthyHostCount" => vec![2.; 12],
            "ActiveConnections" => vec![60.; 12],
            "BytesProcessed" => vec![1.5e6; 12],
            _ => vec![0.; 12],
        }
    }

    fn no_points(_: &str) -> Vec<f64> {
        vec![]
    }

    /// The GetMetricData replies for `values`, split over two pages (NextToken), and the
    /// inputs the collector sent.
    async fn fetched(
        plan: &MetricPlan,
        values: fn(&str) -> Vec<f64>,
    ) -> (Result<Vec<MetricSeries>, Missing>, Vec<GetMetricDataInput>) {
        let sent: Arc<Mutex<Vec<GetMetricDataInput>>> = Arc::default();
        let record = sent.clone();
        let (p1, p2) = {
            let first = move |m: &str| values(m).into_iter().take(6).collect::<Vec<_>>();
            let rest = move |m: &str| values(m).into_iter().skip(6).collect::<Vec<_>>();
            (
                page(plan, &first, 0, StatusCode::PartialData, Some("page-2")),
                page(plan, &rest, 6, StatusCode::Complete, None),
            )
        };
        let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .match_requests(move |i| {
                record.lock().unwrap().push(i.clone());
                true
            })
            .sequence()
            .output(move || p1.clone())
            .output(move || p2.clone())
            .build();
        let cw = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let tracker = Tracker::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = fetch(tracker.stage("t"), &cw, plan, window(), deadline).await;
        let sent = sent.lock().unwrap().clone();
        (got, sent)
    }

    #[tokio::test]
    async fn one_paginated_call_asks_the_planned_queries_and_yields_series_oldest_first() {
        let plan = provider_plan(&healthy().provider, 300).unwrap();
        let (got, sent) = fetched(&plan, burst).await;
        let series = got.unwrap();

        assert_eq!(sent.len(), 2, "the call and its second page");
        assert_eq!(sent[0].next_token(), None);
        assert_eq!(sent[1].next_token(), Some("page-2"));
        let first = &sent[0];
        assert_eq!(first.start_time(), Some(&DateTime::from_secs(T0)));
        assert_eq!(first.end_time(), Some(&DateTime::from_secs(T0 + 3600)));
        let queries = first.metric_data_queries();
        assert_eq!(queries.len(), 12);
        let q = &queries[7];
        assert_eq!(q.id(), Some("m7"));
        let stat = q.metric_stat().unwrap();
        assert_eq!((stat.period(), stat.stat()), (Some(300), Some("Minimum")));
        let metric = stat.metric().unwrap();
        assert_eq!(metric.namespace(), Some("AWS/NetworkELB"));
        assert_eq!(metric.metric_name(), Some("HealthyHostCount"));
        let d: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            d,
            [
                ("LoadBalancer", "net/payments-svc-nlb/50dc6c495c0c9188"),
                (
                    "TargetGroup",
                    "targetgroup/payments-svc-tg/73e2d6bc24d8a067"
                )
            ]
        );

        assert_eq!(series.len(), 12);
        let rst_sent = &series[11];
        assert_eq!(
            (
                rst_sent.namespace.as_str(),
                rst_sent.dimensions.get("Service Id").map(String::as_str)
            ),
            (SERVICE_NAMESPACE, Some(SERVICE_ID))
        );
        let resets = &series[0];
        assert_eq!(resets.metric_name, "TCP_Target_Reset_Count");
        assert_eq!(resets.period_seconds, 300);
        assert_eq!(resets.points.len(), 12, "both pages");
        assert_eq!(resets.points[0], ("2026-11-24T09:00:00Z".to_owned(), 0.0));
        assert_eq!(resets.points[9], ("2026-11-24T09:45:00Z".to_owned(), 38.0));
        assert_eq!(resets.points[11], ("2026-11-24T09:55:00Z".to_owned(), 0.0));
        assert!(
            resets.points.windows(2).all(|w| w[0].0 < w[1].0),
            "oldest first"
        );
    }

    #[tokio::test]
    async fn a_service_with_hundreds_of_connections_is_asked_in_calls_of_500_queries() {
        let mut s = healthy();
        if let Fact::Known(c) = &mut s.provider.connections {
            let first = c[0].clone();
            c.clear();
            for i in 0..600 {
                let mut e = first.clone();
                e.vpc_endpoint_id = format!("vpce-{i:017x}");
                c.push(e);
            }
        }
        let plan = provider_plan(&s.provider, 300).unwrap();
        assert_eq!(plan.series.len(), 11 + 600);
        let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
        let record = sizes.clone();
        let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .match_requests(move |i| {
                record.lock().unwrap().push(i.metric_data_queries().len());
                true
            })
            .sequence()
            .output(|| GetMetricDataOutput::builder().build())
            .repeatedly()
            .build();
        let cw = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let tracker = Tracker::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = fetch(tracker.stage("t"), &cw, &plan, window(), deadline).await;
        let mut sizes = sizes.lock().unwrap().clone();
        sizes.sort_unstable();
        assert_eq!(sizes, [111, 500], "two calls, none over the limit");
        // Every query came back without a result: a hole, reported, not "no traffic".
        assert!(
            matches!(got, Err(Missing::ApiError { message, .. }) if message.contains("no result for"))
        );
    }

    fn idle_check(metrics: Vec<MetricSeries>) -> CheckResult {
        let mut s = healthy();
        s.observability.metrics = Fact::Known(metrics);
        pl_checks::report::build(&s, &EvalOptions::default(), "t".into(), 0)
            .checks
            .into_iter()
            .find(|c| c.id == "idle-timeout-resets")
            .unwrap()
    }

    async fn both_sides(values: fn(&str) -> Vec<f64>) -> Vec<MetricSeries> {
        let s = healthy();
        let provider = fetched(&provider_plan(&s.provider, 300).unwrap(), values)
            .await
            .0;
        let consumer = fetched(&consumer_plan(&s.consumer.endpoint, 300), values)
            .await
            .0;
        combine(Some(provider), consumer).unwrap()
    }

    #[tokio::test]
    async fn a_reset_burst_with_healthy_hosts_fails_idle_timeout_resets() {
        let c = idle_check(both_sides(burst).await);
        assert_eq!(c.status, Status::Fail, "{}", c.summary);
        assert!(c.summary.contains("idle-timeout pattern"), "{}", c.summary);
        assert_eq!(c.evidence["figures"]["resets_total"], 82.0);
        assert_eq!(c.evidence["metrics_side"], "provider");
    }

    #[tokio::test]
    async fn steady_traffic_passes_and_no_datapoints_is_no_traffic() {
        let c = idle_check(both_sides(steady).await);
        assert_eq!(c.status, Status::Pass, "{}", c.summary);
        assert!(c.summary.contains("no reset rise"), "{}", c.summary);

        let series = both_sides(no_points).await;
        assert!(series.iter().all(|s| s.points.is_empty()));
        let c = idle_check(series);
        assert_eq!(c.status, Status::Pass, "{}", c.summary);
        assert!(
            c.summary.contains("no traffic in the window"),
            "{}",
            c.summary
        );
    }

    fn exhausted(metric: &str) -> Vec<f64> {
        match metric {
            "PortAllocationErrorCount" => {
                vec![0., 0., 0., 0., 0., 0., 0., 0., 12., 40., 31., 0.]
            }
            other => steady(other),
        }
    }

    #[tokio::test]
    async fn replayed_port_allocation_errors_fail_nlb_capacity_with_per_az_peaks() {
        let mut s = healthy();
        s.observability.metrics = Fact::Known(both_sides(exhausted).await);
        let report = pl_checks::report::build(&s, &EvalOptions::default(), "t".into(), 0);
        let c = report
            .checks
            .iter()
            .find(|c| c.id == "nlb-capacity")
            .unwrap();
        assert_eq!(c.status, Status::Fail, "{}", c.summary);
        assert_eq!(c.evidence["port_allocation_errors_total"], 83.0);
        let peaks = c.evidence["port_allocation_error_peaks"]
            .as_array()
            .unwrap();
        assert_eq!(peaks.len(), 2, "one per AZ of the NLB: {peaks:?}");
        assert_eq!(peaks[0]["errors"], 40.0);
        // The provider's RstPacketsSent for this endpoint lands on the report's target.
        assert_eq!(report.target.provider_rst_packets_sent, Some(3.0));

        let steady_side = both_sides(steady).await;
        s.observability.metrics = Fact::Known(steady_side);
        let report = pl_checks::report::build(&s, &EvalOptions::default(), "t".into(), 0);
        let c = report
            .checks
            .iter()
            .find(|c| c.id == "nlb-capacity")
            .unwrap();
        assert_eq!(c.status, Status::Pass, "{}", c.summary);
    }

    #[tokio::test]
    async fn without_provider_access_only_endpoint_metrics_are_judged() {
        let s = healthy();
        let consumer = fetched(&consumer_plan(&s.consumer.endpoint, 300), steady)
            .await
            .0;
        let series = combine(None, consumer).unwrap();
        assert!(series.iter().all(|m| m.namespace == ENDPOINT_NAMESPACE));
        let c = idle_check(series);
        assert_eq!(c.evidence["metrics_side"], "consumer");
        assert_eq!(c.status, Status::Pass, "{}", c.summary);
    }

    #[tokio::test]
    async fn denied_or_failed_series_make_the_fact_absent() {
        let plan = consumer_plan(&healthy().consumer.endpoint, 300);
        let denied = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_error(|| {
            GetMetricDataError::generic(error_meta(
                "AccessDenied",
                "User is not authorized to perform: cloudwatch:GetMetricData",
            ))
        });
        let cw = mock_client!(aws_sdk_cloudwatch, [&denied]);
        let tracker = Tracker::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = fetch(tracker.stage("t"), &cw, &plan, window(), deadline).await;
        assert!(
            matches!(&got, Err(Missing::AccessDenied { action, .. }) if action == GET_METRIC_DATA),
            "{got:?}"
        );

        // Per-series statuses: Forbidden names the permission, InternalError the failure.
        let with_status = |status: StatusCode| {
            let mut out = page(&plan, &steady, 0, StatusCode::Complete, None);
            let mut results = out.metric_data_results.take().unwrap();
            results[2].status_code = Some(status);
            results[2].messages = Some(vec![MessageData::builder()
                .code("Err")
                .value("no access to metric")
                .build()]);
            out.metric_data_results = Some(results);
            out
        };
        assert!(matches!(
            series(&plan, &[with_status(StatusCode::Forbidden)]),
            Err(Missing::AccessDenied { message: Some(m), .. }) if m.contains("ActiveConnections") && m.contains("no access")
        ));
        assert!(matches!(
            series(&plan, &[with_status(StatusCode::InternalError)]),
            Err(Missing::ApiError { message, .. }) if message.contains("InternalError")
        ));
        // A query with no result at all is a hole, not "no traffic".
        let mut out = page(&plan, &steady, 0, StatusCode::Complete, None);
        out.metric_data_results.as_mut().unwrap().pop();
        assert!(matches!(
            series(&plan, &[out]),
            Err(Missing::ApiError { message, .. }) if message.contains("no result for")
        ));
        // A provider failure is not hidden behind the consumer's series.
        let denied = Missing::AccessDenied {
            action: GET_METRIC_DATA.into(),
            message: None,
        };
        assert_eq!(combine(Some(Err(denied.clone())), Ok(vec![])), Err(denied));
    }
}
