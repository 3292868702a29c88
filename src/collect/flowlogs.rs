//! Flow logs covering the endpoint ENIs (DescribeFlowLogs, consumer account) and the
//! Logs Insights query for REJECT records on those ENIs over the window.
//!
//! The query text is built here from the flow log's own LogFormat and the endpoint's
//! ENI ids; every id and field name is validated before it goes into the query string,
//! so nothing AWS or a snapshot says can change what the query does. Logs Insights bills
//! per GB scanned: the query runs once per distinct LogFormat (normally once), and not
//! at all when `flow-log-rejects` is not requested.

use super::convert::Unreadable;
use super::errors::CallFailure;
use super::progress::Stage;
use super::{convert_all, unreadable};
use aws_sdk_cloudwatchlogs::types::{QueryStatus, ResultField};
use aws_sdk_ec2::types::Filter;
use pl_checks::client::is_aws_id;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::{Endpoint, FlowLog, FlowLogRejects, RejectRow};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const DESCRIBE_FLOW_LOGS: &str = "ec2:DescribeFlowLogs";
pub const START_QUERY: &str = "logs:StartQuery";
pub const GET_QUERY_RESULTS: &str = "logs:GetQueryResults";
pub const STOP_QUERY: &str = "logs:StopQuery";

/// The format AWS uses when a flow log is created without one (version 2 fields). Logs
/// Insights discovers these fields by itself in CloudWatch Logs flow-log groups.
pub const DEFAULT_LOG_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// Top rejected (source, port, ENI) rows kept, most rejects first.
pub const ROW_LIMIT: usize = 20;

/// Polling GetQueryResults: start quickly (small queries finish in about a second),
/// back off to this ceiling for long scans.
const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(2);
/// StopQuery after the deadline gets this long: the report is already late.
const STOP_GRACE: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------ DescribeFlowLogs

/// Why the Logs Insights REJECT query is not run by `--all`.
pub const NOT_RUN_FOR_A_FLEET: &str = "the Logs Insights REJECT query is not run for a whole fleet (--all): it bills per GB scanned; run pl-doctor --endpoint <vpce-…> for this endpoint's rejected flows";

/// DescribeFlowLogs for every flow log attached to the endpoint's ENIs, their subnets
/// or its VPC, in one call (one `resource-id` filter with all of them).
#[cfg(test)]
pub async fn describe(
    stage: Stage<'_>,
    ec2: &aws_sdk_ec2::Client,
    endpoint: &Endpoint,
) -> Fact<Vec<FlowLog>> {
    let all = describe_all(stage, ec2, std::slice::from_ref(endpoint)).await;
    cut(&all, endpoint)
}

/// DescribeFlowLogs for the flow logs that cover any of the endpoints: one `resource-id`
/// filter with all their ENIs, subnets and VPCs (200 values per call, AWS's limit).
pub async fn describe_all(
    stage: Stage<'_>,
    ec2: &aws_sdk_ec2::Client,
    endpoints: &[Endpoint],
) -> Result<Vec<aws_sdk_ec2::types::FlowLog>, CallFailure> {
    let mut resources: Vec<String> = Vec::new();
    for r in endpoints.iter().flat_map(covering_resources) {
        if !resources.contains(&r) {
            resources.push(r);
        }
    }
    super::chunked(&resources, super::FILTER_CHUNK, |values| {
        stage.call(
            DESCRIBE_FLOW_LOGS,
            ec2.describe_flow_logs()
                .filter(
                    Filter::builder()
                        .name("resource-id")
                        .set_values(Some(values))
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    })
    .await
}

/// The flow logs of a shared DescribeFlowLogs reply that cover this endpoint.
pub fn cut(
    all: &Result<Vec<aws_sdk_ec2::types::FlowLog>, CallFailure>,
    endpoint: &Endpoint,
) -> Fact<Vec<FlowLog>> {
    let resources = covering_resources(endpoint);
    convert_all(
        DESCRIBE_FLOW_LOGS,
        all.as_ref()
            .map(|all| {
                all.iter()
                    .filter(|f| {
                        f.resource_id()
                            .is_some_and(|r| resources.iter().any(|x| x == r))
                    })
                    .collect::<Vec<_>>()
            })
            .map_err(Clone::clone),
        |f| flow_log(f),
    )
}

/// The resources a flow log can be attached to and still see the endpoint's traffic.
pub fn covering_resources(endpoint: &Endpoint) -> Vec<String> {
    let mut v: Vec<String> = endpoint
        .network_interface_ids
        .iter()
        .chain(&endpoint.subnet_ids)
        .chain(std::iter::once(&endpoint.vpc_id))
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    v.dedup();
    v
}

/// One DescribeFlowLogs item as the snapshot records it.
pub fn flow_log(f: &aws_sdk_ec2::types::FlowLog) -> Result<FlowLog, Unreadable> {
    let need = |v: Option<&str>, field: &str| {
        v.filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Unreadable(format!("reply lacks {field}")))
    };
    let opt = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(FlowLog {
        id: need(f.flow_log_id(), "FlowLogId")?,
        resource_id: need(f.resource_id(), "ResourceId")?,
        traffic_type: need(f.traffic_type().map(|t| t.as_str()), "TrafficType")?,
        // Flow logs created before S3 delivery existed have no LogDestinationType: they
        // all deliver to CloudWatch Logs.
        destination_type: f
            .log_destination_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_else(|| "cloud-watch-logs".to_owned()),
        log_group_name: opt(f.log_group_name()),
        destination: opt(f.log_destination()),
        log_format: opt(f.log_format()),
        status: need(f.flow_log_status(), "FlowLogStatus")?,
    })
}

// ------------------------------------------------------------------ the query text

/// One Logs Insights query: the log groups it scans and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsightsQuery {
    pub log_groups: Vec<String>,
    pub query: String,
}

/// `eni-` and 8 or 17 lowercase hex digits: nothing else may enter a query string.
pub fn is_eni_id(s: &str) -> bool {
    is_aws_id(s, "eni-")
}

/// The Insights field name of a flow-log field: `srcaddr` → `srcAddr`,
/// `interface-id` → `interfaceId`, `pkt-srcaddr` → `pktSrcAddr`, `log-status` → `logStatus`.
/// None when the name is not a flow-log field name (lowercase letters, digits, dashes).
pub fn insights_field(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return None;
    }
    let word = |w: &str| -> String {
        // AWS glues address and port words together (srcaddr, dstport); Insights splits them.
        for (glued, split) in [
            ("srcaddr", "srcAddr"),
            ("dstaddr", "dstAddr"),
            ("srcport", "srcPort"),
            ("dstport", "dstPort"),
        ] {
            if w == glued {
                return split.to_owned();
            }
        }
        w.to_owned()
    };
    let mut out = String::new();
    for (i, part) in name.split('-').enumerate() {
        let w = word(part);
        if i == 0 {
            out.push_str(&w);
        } else {
            let mut chars = w.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    Some(out)
}

/// The `${field}` names of a LogFormat, in order, as Insights names.
pub fn parse_log_format(format: &str) -> Result<Vec<String>, String> {
    let tokens: Vec<&str> = format.split(' ').collect();
    let mut fields = Vec::with_capacity(tokens.len());
    for t in tokens {
        let name = t
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| format!("{t:?} is not a ${{field}} of a flow-log format"))?;
        fields.push(
            insights_field(name).ok_or_else(|| format!("{name:?} is not a flow-log field name"))?,
        );
    }
    for needed in ["interfaceId", "srcAddr", "dstPort", "action"] {
        if !fields.iter().any(|f| f == needed) {
            return Err(format!(
                "the format has no {needed} field, so rejects on the endpoint ENIs cannot be told apart"
            ));
        }
    }
    Ok(fields)
}

fn is_default_format(format: Option<&str>) -> bool {
    format.is_none_or(|f| f.split_whitespace().eq(DEFAULT_LOG_FORMAT.split(' ')))
}

/// The REJECT query for flow logs written in `log_format` (None: the default format),
/// restricted to `eni_ids`. Err names what made it unsafe or impossible to build.
pub fn reject_query(log_format: Option<&str>, eni_ids: &[String]) -> Result<String, String> {
    if eni_ids.is_empty() {
        return Err("the endpoint has no network interfaces to look for".into());
    }
    if let Some(bad) = eni_ids.iter().find(|id| !is_eni_id(id)) {
        return Err(format!(
            "{bad:?} is not a network interface id; it is not put into a query"
        ));
    }
    let head = if is_default_format(log_format) {
        "fields @timestamp, srcAddr, dstAddr, dstPort, action, interfaceId".to_owned()
    } else {
        let fields = parse_log_format(log_format.unwrap_or_default())?;
        let pattern = vec!["*"; fields.len()].join(" ");
        format!("parse @message \"{pattern}\" as {}", fields.join(", "))
    };
    let enis = eni_ids
        .iter()
        .map(|id| format!("\"{id}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "{head}\n| filter interfaceId in [{enis}]\n| filter action = \"REJECT\"\n| stats count() as rejects by srcAddr, dstPort, interfaceId\n| sort rejects desc\n| limit {ROW_LIMIT}"
    ))
}

/// The flow logs whose log groups can hold REJECT records of the endpoint (CloudWatch
/// Logs destination, not ACCEPT-only), grouped by LogFormat: one query per format.
/// S3 and Firehose destinations are only recorded: Insights cannot query them.
pub fn plan_queries(
    flow_logs: &[FlowLog],
    eni_ids: &[String],
) -> Result<Vec<InsightsQuery>, String> {
    let mut by_format: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for f in flow_logs.iter().filter(|f| {
        f.destination_type.eq_ignore_ascii_case("cloud-watch-logs")
            && !f.traffic_type.eq_ignore_ascii_case("ACCEPT")
    }) {
        let Some(group) = &f.log_group_name else {
            continue;
        };
        let format = (!is_default_format(f.log_format.as_deref()))
            .then(|| f.log_format.clone())
            .flatten();
        let groups = by_format.entry(format).or_default();
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    by_format
        .into_iter()
        .map(|(format, mut log_groups)| {
            log_groups.sort();
            Ok(InsightsQuery {
                query: reject_query(format.as_deref(), eni_ids)?,
                log_groups,
            })
        })
        .collect()
}

// ------------------------------------------------------------------ results

/// Distinct skip reasons kept for the evidence.
const SKIP_REASONS_KEPT: usize = 5;

/// The aggregated rows of a finished query, and the rows skipped (with why) because they
/// lack a field or hold an unreadable value: one odd row does not discard the reply.
pub fn reject_rows(results: &[Vec<ResultField>]) -> (Vec<RejectRow>, u64, Vec<String>) {
    let mut rows = Vec::new();
    let mut skipped = 0;
    let mut reasons: Vec<String> = Vec::new();
    for r in results.iter().map(|row| reject_row(row)) {
        match r {
            Ok(row) => rows.push(row),
            Err(Unreadable(why)) => {
                skipped += 1;
                if !reasons.contains(&why) && reasons.len() < SKIP_REASONS_KEPT {
                    reasons.push(why);
                }
            }
        }
    }
    (rows, skipped, reasons)
}

fn reject_row(row: &[ResultField]) -> Result<RejectRow, Unreadable> {
    let get = |name: &str| {
        row.iter()
            .find(|f| f.field() == Some(name))
            .and_then(ResultField::value)
    };
    let src_addr = get("srcAddr")
        .ok_or_else(|| Unreadable("a result row lacks srcAddr".into()))?
        .to_owned();
    let port = get("dstPort").unwrap_or_default();
    let dst_port = port
        .parse::<u16>()
        .map_err(|_| Unreadable(format!("dstPort {port:?} is not a port")))?;
    let count = get("rejects").unwrap_or_default();
    let rejects = count
        .parse::<u64>()
        .or_else(|_| count.parse::<f64>().map(|f| f as u64))
        .map_err(|_| Unreadable(format!("rejects {count:?} is not a count")))?;
    Ok(RejectRow {
        src_addr,
        dst_port,
        interface_id: get("interfaceId").map(str::to_owned),
        rejects,
    })
}

/// Several queries (one per LogFormat) as one fact: rows merged, most rejects first.
pub fn merge(parts: Vec<FlowLogRejects>) -> FlowLogRejects {
    let mut log_groups = Vec::new();
    let mut queries = Vec::new();
    let mut rows = Vec::new();
    let mut records = None;
    let mut bytes = None;
    let mut rows_skipped = 0;
    let mut skipped_reasons: Vec<String> = Vec::new();
    let add = |acc: &mut Option<f64>, v: Option<f64>| {
        if let Some(v) = v {
            *acc = Some(acc.unwrap_or(0.0) + v);
        }
    };
    for p in parts {
        log_groups.extend(p.log_groups);
        queries.push(p.query);
        rows.extend(p.rows);
        add(&mut records, p.records_scanned);
        add(&mut bytes, p.bytes_scanned);
        rows_skipped += p.rows_skipped;
        for r in p.skipped_reasons {
            if !skipped_reasons.contains(&r) && skipped_reasons.len() < SKIP_REASONS_KEPT {
                skipped_reasons.push(r);
            }
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.rejects));
    rows.truncate(ROW_LIMIT);
    FlowLogRejects {
        log_groups,
        query: queries.join("\n\n"),
        rows,
        records_scanned: records,
        bytes_scanned: bytes,
        rows_skipped,
        skipped_reasons,
    }
}

// ------------------------------------------------------------------ running it

/// The query window in epoch seconds, as StartQuery takes it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start_epoch: i64,
    pub end_epoch: i64,
}

/// The REJECT query over the flow logs that cover the endpoint, or why it did not run.
pub async fn rejects(
    stage: Stage<'_>,
    logs: &aws_sdk_cloudwatchlogs::Client,
    flow_logs: &Fact<Vec<FlowLog>>,
    eni_ids: &[String],
    window: Window,
    deadline: Instant,
) -> Fact<FlowLogRejects> {
    let flow_logs = match flow_logs {
        Fact::Known(f) => f,
        Fact::Absent(m) => return Fact::Absent(m.clone()),
    };
    let plan = match plan_queries(flow_logs, eni_ids) {
        Ok(p) => p,
        Err(why) => {
            return Fact::Absent(Missing::ApiError {
                operation: START_QUERY.into(),
                message: format!("pl-doctor did not run the REJECT query: {why}"),
            })
        }
    };
    if plan.is_empty() {
        return Fact::not_requested(
            "no flow log of the endpoint ENIs delivers to CloudWatch Logs, so there is nothing Logs Insights can query",
        );
    }
    let results =
        futures_util::future::join_all(plan.iter().map(|q| run(stage, logs, q, window, deadline)))
            .await;
    let mut parts = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(p) => parts.push(p),
            // One format's groups unread would hide their rejects: the whole fact is absent.
            Err(m) => return Fact::Absent(m),
        }
    }
    Fact::Known(merge(parts))
}

fn deadline_passed(waiting_for: &str) -> Missing {
    Missing::DeadlinePassed {
        waiting_for: waiting_for.to_owned(),
    }
}

/// A call bounded by the overall deadline.
async fn bounded<T>(
    deadline: Instant,
    waiting_for: &str,
    call: impl std::future::Future<Output = Result<T, CallFailure>>,
) -> Result<T, Missing> {
    match tokio::time::timeout_at(deadline, call).await {
        Ok(r) => r.map_err(|f| f.to_missing()),
        Err(_) => Err(deadline_passed(waiting_for)),
    }
}

/// StartQuery, then GetQueryResults with backoff until it completes or the deadline
/// passes (then StopQuery, so the scan stops billing).
async fn run(
    stage: Stage<'_>,
    logs: &aws_sdk_cloudwatchlogs::Client,
    q: &InsightsQuery,
    window: Window,
    deadline: Instant,
) -> Result<FlowLogRejects, Missing> {
    let started = bounded(
        deadline,
        "the Logs Insights REJECT query to start (logs:StartQuery)",
        stage.call(
            START_QUERY,
            logs.start_query()
                .set_log_group_names(Some(q.log_groups.clone()))
                .start_time(window.start_epoch)
                .end_time(window.end_epoch)
                .query_string(&q.query)
                .limit(ROW_LIMIT as i32)
                .send(),
        ),
    )
    .await?;
    let Some(query_id) = started.query_id().filter(|s| !s.is_empty()) else {
        return Err(unreadable(
            START_QUERY,
            Unreadable("reply lacks queryId".into()),
        ));
    };
    let waiting_for = "the Logs Insights REJECT query (logs:GetQueryResults)";
    let mut delay = FIRST_POLL;
    loop {
        let wake = Instant::now() + delay;
        if wake >= deadline {
            tokio::time::sleep_until(deadline).await;
            stop(stage, logs, query_id).await;
            return Err(deadline_passed(waiting_for));
        }
        tokio::time::sleep_until(wake).await;
        let polled = bounded(
            deadline,
            waiting_for,
            stage.call(
                GET_QUERY_RESULTS,
                logs.get_query_results().query_id(query_id).send(),
            ),
        )
        .await;
        let out = match polled {
            Ok(out) => out,
            Err(m @ Missing::DeadlinePassed { .. }) => {
                stop(stage, logs, query_id).await;
                return Err(m);
            }
            Err(m) => return Err(m),
        };
        match out.status() {
            Some(QueryStatus::Complete) => {
                let (rows, rows_skipped, skipped_reasons) = reject_rows(out.results());
                let stats = out.statistics();
                return Ok(FlowLogRejects {
                    log_groups: q.log_groups.clone(),
                    query: q.query.clone(),
                    rows,
                    records_scanned: stats.map(|s| s.records_scanned()),
                    bytes_scanned: stats.map(|s| s.bytes_scanned()),
                    rows_skipped,
                    skipped_reasons,
                });
            }
            Some(QueryStatus::Running | QueryStatus::Scheduled) => {
                delay = (delay * 2).min(MAX_POLL);
            }
            other => {
                let status = other.map(|s| s.as_str()).unwrap_or("without a status");
                return Err(Missing::ApiError {
                    operation: GET_QUERY_RESULTS.into(),
                    message: format!("the Logs Insights query {query_id} ended {status}"),
                });
            }
        }
    }
}

/// Best effort: a query left running bills until it finishes by itself.
async fn stop(stage: Stage<'_>, logs: &aws_sdk_cloudwatchlogs::Client, query_id: &str) {
    let _ = stage
        .call_past_deadline(
            STOP_QUERY,
            STOP_GRACE,
            logs.stop_query().query_id(query_id).send(),
        )
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::progress::Tracker;
    use crate::collect::testing::{error_meta, mock_client};
    use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
    use aws_sdk_cloudwatchlogs::operation::start_query::{StartQueryError, StartQueryOutput};
    use aws_sdk_cloudwatchlogs::operation::stop_query::StopQueryOutput;
    use aws_sdk_cloudwatchlogs::types::QueryStatistics;
    use aws_sdk_ec2::operation::describe_flow_logs::DescribeFlowLogsOutput;
    use aws_sdk_ec2::types::{LogDestinationType, TrafficType};
    use aws_smithy_mocks::mock;
    use pl_checks::check::{EvalOptions, Status};
    use pl_checks::scenarios::base::{healthy, CONSUMER_VPC, FLOW_LOG_GROUP};
    use std::sync::{Arc, Mutex};

    const ENI_A: &str = "eni-0a1a2a3a4a5a6a7a8";
    const ENI_B: &str = "eni-0b1b2b3b4b5b6b7b8";
    const CUSTOM: &str = "${version} ${vpc-id} ${subnet-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${tcp-flags} ${pkt-srcaddr} ${action} ${log-status}";

    fn enis() -> Vec<String> {
        vec![ENI_A.into(), ENI_B.into()]
    }

    fn cw_flow_log(id: &str, format: Option<&str>) -> FlowLog {
        FlowLog {
            id: id.into(),
            resource_id: CONSUMER_VPC.into(),
            traffic_type: "ALL".into(),
            destination_type: "cloud-watch-logs".into(),
            log_group_name: Some(FLOW_LOG_GROUP.into()),
            destination: None,
            log_format: format.map(Into::into),
            status: "ACTIVE".into(),
        }
    }

    #[test]
    fn default_format_uses_the_fields_insights_discovers() {
        let q = reject_query(Some(DEFAULT_LOG_FORMAT), &enis()).unwrap();
        assert_eq!(
            q,
            "fields @timestamp, srcAddr, dstAddr, dstPort, action, interfaceId\n\
             | filter interfaceId in [\"eni-0a1a2a3a4a5a6a7a8\", \"eni-0b1b2b3b4b5b6b7b8\"]\n\
             | filter action = \"REJECT\"\n\
             | stats count() as rejects by srcAddr, dstPort, interfaceId\n\
             | sort rejects desc\n\
             | limit 20"
        );
        // The scenario snapshots record exactly this text for the default format.
        assert_eq!(
            healthy()
                .observability
                .flow_log_rejects
                .known()
                .unwrap()
                .query,
            q
        );
        // A flow log without a LogFormat writes the default one.
        assert_eq!(reject_query(None, &enis()).unwrap(), q);
    }

    #[test]
    fn custom_format_is_parsed_from_the_flow_logs_own_fields() {
        let q = reject_query(Some(CUSTOM), &[ENI_A.into()]).unwrap();
        assert_eq!(
            q,
            "parse @message \"* * * * * * * * * * * * *\" as version, vpcId, subnetId, interfaceId, srcAddr, dstAddr, srcPort, dstPort, protocol, tcpFlags, pktSrcAddr, action, logStatus\n\
             | filter interfaceId in [\"eni-0a1a2a3a4a5a6a7a8\"]\n\
             | filter action = \"REJECT\"\n\
             | stats count() as rejects by srcAddr, dstPort, interfaceId\n\
             | sort rejects desc\n\
             | limit 20"
        );
    }

    #[test]
    fn flow_log_field_names_map_to_insights_names() {
        for (aws, insights) in [
            ("srcaddr", "srcAddr"),
            ("dstport", "dstPort"),
            ("interface-id", "interfaceId"),
            ("account-id", "accountId"),
            ("log-status", "logStatus"),
            ("pkt-srcaddr", "pktSrcAddr"),
            ("pkt-dst-aws-service", "pktDstAwsService"),
            ("flow-direction", "flowDirection"),
            ("action", "action"),
        ] {
            assert_eq!(insights_field(aws).as_deref(), Some(insights), "{aws}");
        }
        for bad in [
            "",
            "Srcaddr",
            "src addr",
            "srcaddr\"",
            "-x",
            "x-",
            "a--b",
            "x|y",
        ] {
            assert_eq!(insights_field(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_that_cannot_be_queried_safely_are_refused() {
        let no_action = "${version} ${interface-id} ${srcaddr} ${dstport}";
        assert!(reject_query(Some(no_action), &enis())
            .unwrap_err()
            .contains("no action field"));
        // A format smuggling query syntax never reaches a query string.
        let smuggled =
            "${interface-id} ${srcaddr} ${dstport} ${action}\" | display @message | filter \"";
        assert!(reject_query(Some(smuggled), &enis()).is_err());
        assert!(reject_query(Some("${srcaddr|x} ${action}"), &enis()).is_err());
    }

    #[test]
    fn an_id_that_is_not_an_eni_never_reaches_the_query() {
        let evil = "eni-0a1a2a3a\"] | filter 1 = 1 | display @message #";
        let err = reject_query(None, &[ENI_A.into(), evil.into()]).unwrap_err();
        assert!(err.contains("is not a network interface id"), "{err}");
        for bad in [
            "eni-0A1A2A3A",
            "eni-123",
            "eni-0a1a2a3a4a5a6a7a8a",
            "sg-0a1a2a3a",
            "",
        ] {
            assert!(!is_eni_id(bad), "{bad:?}");
            assert!(reject_query(None, &[bad.into()]).is_err(), "{bad:?}");
        }
        assert!(is_eni_id("eni-0a1a2a3a") && is_eni_id(ENI_A));
        assert!(reject_query(None, &[]).is_err());
    }

    #[test]
    fn only_cloudwatch_logs_groups_that_can_hold_rejects_are_queried_once_per_format() {
        let mut s3 = cw_flow_log("fl-s3", None);
        s3.destination_type = "s3".into();
        s3.log_group_name = None;
        let mut accept_only = cw_flow_log("fl-accept", None);
        accept_only.traffic_type = "ACCEPT".into();
        accept_only.log_group_name = Some("/accept-only".into());
        let mut eni_level = cw_flow_log("fl-eni", None);
        eni_level.resource_id = ENI_A.into();
        let mut custom = cw_flow_log("fl-custom", Some(CUSTOM));
        custom.log_group_name = Some("/custom".into());
        let plan = plan_queries(
            &[
                s3,
                accept_only,
                eni_level,
                cw_flow_log("fl-vpc", Some(DEFAULT_LOG_FORMAT)),
                custom,
            ],
            &enis(),
        )
        .unwrap();
        assert_eq!(plan.len(), 2, "{plan:?}");
        assert_eq!(
            plan[0].log_groups,
            [FLOW_LOG_GROUP],
            "default format, group once"
        );
        assert!(plan[0].query.starts_with("fields "));
        assert_eq!(plan[1].log_groups, ["/custom"]);
        assert!(plan[1].query.starts_with("parse @message"));
        assert!(plan_queries(&[], &enis()).unwrap().is_empty());
    }

    #[test]
    fn describe_flow_logs_items_become_flow_logs() {
        let sdk = aws_sdk_ec2::types::FlowLog::builder()
            .flow_log_id("fl-0a1b2c3d4e5f60718")
            .resource_id(ENI_A)
            .traffic_type(TrafficType::Reject)
            .log_destination_type(LogDestinationType::S3)
            .log_destination("arn:aws:s3:::flow-log-bucket/endpoint/")
            .log_format(DEFAULT_LOG_FORMAT)
            .flow_log_status("ACTIVE")
            .build();
        assert_eq!(
            flow_log(&sdk).unwrap(),
            FlowLog {
                id: "fl-0a1b2c3d4e5f60718".into(),
                resource_id: ENI_A.into(),
                traffic_type: "REJECT".into(),
                destination_type: "s3".into(),
                log_group_name: None,
                destination: Some("arn:aws:s3:::flow-log-bucket/endpoint/".into()),
                log_format: Some(DEFAULT_LOG_FORMAT.into()),
                status: "ACTIVE".into(),
            }
        );
        // Flow logs older than S3 delivery carry only a log group.
        let legacy = aws_sdk_ec2::types::FlowLog::builder()
            .flow_log_id("fl-1")
            .resource_id(CONSUMER_VPC)
            .traffic_type(TrafficType::All)
            .log_group_name(FLOW_LOG_GROUP)
            .flow_log_status("ACTIVE")
            .build();
        let fl = flow_log(&legacy).unwrap();
        assert_eq!(fl.destination_type, "cloud-watch-logs");
        assert_eq!(fl.log_group_name.as_deref(), Some(FLOW_LOG_GROUP));
        let no_id = aws_sdk_ec2::types::FlowLog::builder()
            .resource_id(ENI_A)
            .build();
        assert!(flow_log(&no_id).is_err());
    }

    #[tokio::test]
    async fn one_describe_flow_logs_call_filters_on_the_enis_subnets_and_vpc() {
        let endpoint = healthy().consumer.endpoint;
        let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let record = seen.clone();
        let rule = mock!(aws_sdk_ec2::Client::describe_flow_logs)
            .match_requests(move |input| {
                let values = input
                    .filter()
                    .iter()
                    .filter(|f| f.name() == Some("resource-id"))
                    .flat_map(|f| f.values().to_vec())
                    .collect();
                record.lock().unwrap().push(values);
                true
            })
            .then_output(|| {
                DescribeFlowLogsOutput::builder()
                    .flow_logs(
                        aws_sdk_ec2::types::FlowLog::builder()
                            .flow_log_id("fl-0a1b2c3d4e5f60718")
                            .resource_id(CONSUMER_VPC)
                            .traffic_type(TrafficType::All)
                            .log_destination_type(LogDestinationType::CloudWatchLogs)
                            .log_group_name(FLOW_LOG_GROUP)
                            .log_format(DEFAULT_LOG_FORMAT)
                            .flow_log_status("ACTIVE")
                            .build(),
                    )
                    .build()
            });
        let ec2 = mock_client!(aws_sdk_ec2, [&rule]);
        let tracker = Tracker::new();
        let got = describe(tracker.stage("t"), &ec2, &endpoint).await;
        assert_eq!(rule.num_calls(), 1);
        let mut expected = endpoint.network_interface_ids.clone();
        expected.extend(endpoint.subnet_ids.clone());
        expected.push(endpoint.vpc_id.clone());
        assert_eq!(*seen.lock().unwrap(), vec![expected]);
        let fls = got.known().expect("flow logs");
        assert_eq!(fls.len(), 1);
        assert_eq!(fls[0].log_group_name.as_deref(), Some(FLOW_LOG_GROUP));
    }

    fn field(name: &str, value: &str) -> ResultField {
        ResultField::builder().field(name).value(value).build()
    }

    fn result_row(src: &str, port: &str, eni: &str, n: &str) -> Vec<ResultField> {
        vec![
            field("srcAddr", src),
            field("dstPort", port),
            field("interfaceId", eni),
            field("rejects", n),
        ]
    }

    fn window() -> Window {
        Window {
            start_epoch: 1_795_510_800,
            end_epoch: 1_795_514_400,
        }
    }

    fn started() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_cloudwatchlogs::Client::start_query)
            .then_output(|| StartQueryOutput::builder().query_id("q-12345678").build())
    }

    #[tokio::test(start_paused = true)]
    async fn the_query_is_polled_until_complete_and_its_rows_become_the_fact() {
        type Started = (Vec<String>, i64, i64, String);
        let start_inputs: Arc<Mutex<Vec<Started>>> = Arc::default();
        let record = start_inputs.clone();
        let start = mock!(aws_sdk_cloudwatchlogs::Client::start_query)
            .match_requests(move |i| {
                record.lock().unwrap().push((
                    i.log_group_names().to_vec(),
                    i.start_time().unwrap_or_default(),
                    i.end_time().unwrap_or_default(),
                    i.query_string().unwrap_or_default().to_owned(),
                ));
                true
            })
            .then_output(|| StartQueryOutput::builder().query_id("q-12345678").build());
        let results = mock!(aws_sdk_cloudwatchlogs::Client::get_query_results)
            .match_requests(|i| i.query_id() == Some("q-12345678"))
            .sequence()
            .output(|| {
                GetQueryResultsOutput::builder()
                    .status(QueryStatus::Scheduled)
                    .build()
            })
            .output(|| {
                GetQueryResultsOutput::builder()
                    .status(QueryStatus::Running)
                    .build()
            })
            .output(|| {
                GetQueryResultsOutput::builder()
                    .status(QueryStatus::Complete)
                    .results(result_row("10.0.3.10", "8443", ENI_A, "42"))
                    .results(result_row("10.0.3.11", "8443", ENI_B, "7"))
                    .statistics(
                        QueryStatistics::builder()
                            .records_matched(49.0)
                            .records_scanned(48_210.0)
                            .bytes_scanned(9_650_112.0)
                            .build(),
                    )
                    .build()
            })
            .build();
        let stop = mock!(aws_sdk_cloudwatchlogs::Client::stop_query)
            .then_output(|| StopQueryOutput::builder().success(true).build());
        let logs = mock_client!(aws_sdk_cloudwatchlogs, [&start, &results, &stop]);
        let tracker = Tracker::new();
        let flow_logs = Fact::Known(vec![cw_flow_log("fl-1", Some(DEFAULT_LOG_FORMAT))]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = rejects(
            tracker.stage("t"),
            &logs,
            &flow_logs,
            &enis(),
            window(),
            deadline,
        )
        .await;

        let got = got.known().expect("query results").clone();
        assert_eq!(start.num_calls(), 1);
        assert_eq!(results.num_calls(), 3);
        assert_eq!(stop.num_calls(), 0, "a finished query is not stopped");
        let sent = start_inputs.lock().unwrap().clone();
        assert_eq!(
            sent,
            vec![(
                vec![FLOW_LOG_GROUP.to_owned()],
                1_795_510_800,
                1_795_514_400,
                reject_query(None, &enis()).unwrap()
            )]
        );
        assert_eq!(got.log_groups, [FLOW_LOG_GROUP]);
        assert_eq!(got.records_scanned, Some(48_210.0));
        assert_eq!(got.bytes_scanned, Some(9_650_112.0));
        assert_eq!(
            got.rows,
            vec![
                RejectRow {
                    src_addr: "10.0.3.10".into(),
                    dst_port: 8443,
                    interface_id: Some(ENI_A.into()),
                    rejects: 42
                },
                RejectRow {
                    src_addr: "10.0.3.11".into(),
                    dst_port: 8443,
                    interface_id: Some(ENI_B.into()),
                    rejects: 7
                },
            ]
        );

        // The check then names the top rejected source and the fix.
        let mut s = healthy();
        s.observability.flow_log_rejects = Fact::Known(got);
        let report = pl_checks::report::build(&s, &EvalOptions::default(), "t".into(), 0);
        let check = report
            .checks
            .iter()
            .find(|c| c.id == "flow-log-rejects")
            .unwrap();
        assert_eq!(check.status, Status::Fail, "{}", check.summary);
        assert!(check.summary.contains("49 rejected"), "{}", check.summary);
        assert!(check.summary.contains("10.0.3.10"), "{}", check.summary);
    }

    #[tokio::test(start_paused = true)]
    async fn when_the_deadline_passes_the_query_is_stopped_and_the_fact_says_so() {
        let start = started();
        let running = mock!(aws_sdk_cloudwatchlogs::Client::get_query_results)
            .sequence()
            .output(|| {
                GetQueryResultsOutput::builder()
                    .status(QueryStatus::Running)
                    .build()
            })
            .repeatedly()
            .build();
        let stopped: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = stopped.clone();
        let stop = mock!(aws_sdk_cloudwatchlogs::Client::stop_query)
            .match_requests(move |i| {
                record
                    .lock()
                    .unwrap()
                    .push(i.query_id().unwrap_or_default().to_owned());
                true
            })
            .then_output(|| StopQueryOutput::builder().success(true).build());
        let logs = mock_client!(aws_sdk_cloudwatchlogs, [&start, &running, &stop]);
        let tracker = Tracker::new();
        let flow_logs = Fact::Known(vec![cw_flow_log("fl-1", None)]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let got = rejects(
            tracker.stage("t"),
            &logs,
            &flow_logs,
            &enis(),
            window(),
            deadline,
        )
        .await;
        assert_eq!(
            got,
            Fact::Absent(Missing::DeadlinePassed {
                waiting_for: "the Logs Insights REJECT query (logs:GetQueryResults)".into()
            })
        );
        assert_eq!(*stopped.lock().unwrap(), ["q-12345678"]);
        // Backoff on virtual time: polls at 0.25, 0.75, 1.75, 3.75, 5.75, 7.75 and 9.75 s
        // (250 ms doubling to a 2 s ceiling); the next one would pass the 10 s deadline.
        assert_eq!(running.num_calls(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_queries_and_denied_starts_are_recorded_with_their_reason() {
        let start = started();
        let failed = mock!(aws_sdk_cloudwatchlogs::Client::get_query_results).then_output(|| {
            GetQueryResultsOutput::builder()
                .status(QueryStatus::Failed)
                .build()
        });
        let logs = mock_client!(aws_sdk_cloudwatchlogs, [&start, &failed]);
        let tracker = Tracker::new();
        let flow_logs = Fact::Known(vec![cw_flow_log("fl-1", None)]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = rejects(
            tracker.stage("t"),
            &logs,
            &flow_logs,
            &enis(),
            window(),
            deadline,
        )
        .await;
        let Fact::Absent(Missing::ApiError { operation, message }) = got else {
            panic!("not an ApiError: {got:?}")
        };
        assert_eq!(operation, GET_QUERY_RESULTS);
        assert!(message.contains("ended Failed"), "{message}");

        let denied = mock!(aws_sdk_cloudwatchlogs::Client::start_query).then_error(|| {
            StartQueryError::generic(error_meta(
                "AccessDeniedException",
                "not authorized to perform: logs:StartQuery",
            ))
        });
        let logs = mock_client!(aws_sdk_cloudwatchlogs, [&denied]);
        let got = rejects(
            tracker.stage("t"),
            &logs,
            &flow_logs,
            &enis(),
            window(),
            deadline,
        )
        .await;
        assert!(
            matches!(&got, Fact::Absent(Missing::AccessDenied { action, .. }) if action == START_QUERY),
            "{got:?}"
        );
    }

    #[tokio::test]
    async fn nothing_is_started_without_a_queryable_flow_log_or_with_a_bad_id() {
        let start = started();
        let logs = mock_client!(aws_sdk_cloudwatchlogs, [&start]);
        let tracker = Tracker::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut s3 = cw_flow_log("fl-s3", None);
        s3.destination_type = "s3".into();
        let got = rejects(
            tracker.stage("t"),
            &logs,
            &Fact::Known(vec![s3]),
            &enis(),
            window(),
            deadline,
        )
        .await;
        assert!(
            matches!(got, Fact::Absent(Missing::NotRequested { .. })),
            "{got:?}"
        );

        let evil = vec!["eni-0a1a2a3a\"] | display @message".to_owned()];
        let cw = Fact::Known(vec![cw_flow_log("fl-1", None)]);
        let got = rejects(tracker.stage("t"), &logs, &cw, &evil, window(), deadline).await;
        let Fact::Absent(Missing::ApiError { message, .. }) = got else {
            panic!("not refused: {got:?}")
        };
        assert!(message.contains("not a network interface id"), "{message}");
        assert_eq!(start.num_calls(), 0, "no query was started");
    }

    #[test]
    fn rows_from_several_formats_merge_most_rejects_first() {
        let part = |group: &str, rows: Vec<(&str, u64)>| FlowLogRejects {
            log_groups: vec![group.into()],
            query: format!("q {group}"),
            rows: rows
                .into_iter()
                .map(|(src, n)| RejectRow {
                    src_addr: src.into(),
                    dst_port: 8443,
                    interface_id: None,
                    rejects: n,
                })
                .collect(),
            records_scanned: Some(10.0),
            bytes_scanned: None,
            rows_skipped: 1,
            skipped_reasons: vec![format!("odd row in {group}")],
        };
        let m = merge(vec![
            part("/a", vec![("10.0.0.1", 3)]),
            part("/b", (0..25).map(|i| ("10.0.0.9", i)).collect()),
        ]);
        assert_eq!(m.log_groups, ["/a", "/b"]);
        assert_eq!(m.rows_skipped, 2);
        assert_eq!(m.skipped_reasons, ["odd row in /a", "odd row in /b"]);
        assert_eq!(m.query, "q /a\n\nq /b");
        assert_eq!(m.rows.len(), ROW_LIMIT);
        assert_eq!(m.rows[0].rejects, 24);
        assert_eq!(m.records_scanned, Some(20.0));
        assert_eq!(m.bytes_scanned, None);
    }

    #[test]
    fn unreadable_result_rows_are_skipped_and_counted_not_guessed() {
        let (rows, skipped, reasons) = reject_rows(&[
            result_row("10.0.3.10", "-", ENI_A, "1"),
            result_row("10.0.3.10", "8443", ENI_A, "many"),
            vec![field("dstPort", "8443")],
            vec![field("dstPort", "443")],
            result_row("10.0.3.11", "8443", ENI_A, "7"),
        ]);
        assert_eq!(skipped, 4);
        assert_eq!(
            reasons,
            [
                "dstPort \"-\" is not a port",
                "rejects \"many\" is not a count",
                "a result row lacks srcAddr"
            ]
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].src_addr.as_str(), rows[0].rejects),
            ("10.0.3.11", 7)
        );
    }
}
