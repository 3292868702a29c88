//! Live collection: AWS APIs → a [`Snapshot`], in dependency stages with everything
//! independent in flight at once. The collector gathers facts and never judges them;
//! every fact it cannot gather carries why (see `errors`).
//!
//! Stages (consumer ∥ provider once the endpoint is known):
//! 1. GetCallerIdentity ∥ DescribeVpcEndpoints ∥ DescribeAvailabilityZones ∥ (client instance)
//! 2. consumer: ENIs ∥ VPC + attributes ∥ subnets ∥ NACLs ∥ SGs ∥ service view, then prefix lists;
//!    provider: identity ∥ AZs ∥ service configuration ∥ permissions ∥ connections → NLBs →
//!    listeners ∥ attributes ∥ target groups ∥ subnets ∥ NLB ENIs → health ∥ listener and
//!    target group attributes → target instances ∥ target ENIs → security groups → prefix lists.

pub mod config;
mod consumer;
mod convert;
pub mod errors;
mod progress;
mod provider;

use crate::exit::Failure;
use config::{load_configs, AwsOptions};
use convert::Unreadable;
use errors::{CallFailure, FailureKind};
use pl_checks::client::ClientSpec;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::*;
use progress::{Stage, Tracker};
use std::time::Duration;

/// What to collect, from the command line.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    pub endpoint_id: String,
    pub client: Option<ClientSpec>,
    pub ports: Vec<u16>,
    pub window: Duration,
    pub aws: AwsOptions,
}

/// Collect a snapshot from AWS. Runs its own tokio runtime: only the live path needs one.
pub fn collect_blocking(req: &LiveRequest) -> Result<Snapshot, Failure> {
    // Role chains in profiles (role_arn + source_profile) build their own STS client from
    // the environment, not from the loader: set AWS_ENDPOINT_URL so --endpoint-url reaches
    // them as the variable would. Done before the runtime exists, while no other thread runs.
    if let Some(url) = &req.aws.endpoint_url {
        std::env::set_var("AWS_ENDPOINT_URL", url);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::CannotDiagnose {
            reason: format!("cannot start the async runtime: {e}"),
            hint: "check the process limits (threads)".into(),
        })?;
    runtime.block_on(collect(req))
}

pub async fn collect(req: &LiveRequest) -> Result<Snapshot, Failure> {
    let collected_at = now_rfc3339();
    let window_end = time::OffsetDateTime::now_utc();
    let configs = load_configs(&req.aws).await;
    let region = match configs.consumer.region() {
        Some(r) => r.to_string(),
        None => {
            return Err(Failure::CannotDiagnose {
                reason: format!("cannot collect {}: no AWS region configured", req.endpoint_id),
                hint: "pass --region (e.g. --region us-east-1), set AWS_REGION, or set region in the profile".into(),
            })
        }
    };
    let tracker = Tracker::new();
    let consumer_clients = consumer::Clients::new(&configs.consumer);
    let provider_clients = configs.provider.as_ref().map(provider::Clients::new);

    let discovery = consumer::discover(
        &tracker,
        &consumer_clients,
        &req.endpoint_id,
        req.client.as_ref(),
    )
    .await;
    let account = discovery.identity.as_ref().ok().map(|i| i.account.clone());
    let endpoint = match discovery.endpoint {
        Ok(e) => e,
        Err(lookup) => {
            tracker.finish();
            return Err(fatal(
                &req.endpoint_id,
                &region,
                account.as_deref(),
                &lookup,
            ));
        }
    };

    let service_name = endpoint.service_name.clone();
    let (details, provider_side) = tokio::join!(
        consumer::details(
            &tracker,
            &consumer_clients,
            &endpoint,
            req.client.as_ref(),
            discovery.client_instance
        ),
        async {
            match &provider_clients {
                Some(clients) => Some(provider::collect(&tracker, clients, &service_name).await),
                None => None,
            }
        }
    );
    let provider = provider_side.unwrap_or_else(|| {
        let owner = details.service.known().map(|s| s.owner.clone());
        provider::without_access(owner.as_deref())
    });
    let calls = tracker.finish();
    if std::env::var_os("PL_DOCTOR_CALL_LOG").is_some() {
        for c in &calls {
            eprintln!(
                "pl-doctor: call {} {} {}",
                c.stage,
                c.action,
                if c.ok { "ok" } else { "failed" }
            );
        }
        eprintln!("pl-doctor: {} AWS calls", calls.len());
    }

    let window_start = window_end - req.window;
    Ok(Snapshot {
        snapshot_version: SNAPSHOT_VERSION,
        collected_by: format!("pl-doctor {}", env!("CARGO_PKG_VERSION")),
        collected_at,
        region,
        inputs: CollectionInputs {
            endpoint_id: req.endpoint_id.clone(),
            client: req.client.as_ref().map(ToString::to_string),
            ports: req.ports.clone(),
            window_seconds: req.window.as_secs(),
        },
        consumer_identity: fact(discovery.identity),
        consumer: ConsumerSide {
            endpoint,
            endpoint_enis: details.endpoint_enis,
            vpc: details.vpc,
            subnets: details.subnets,
            network_acls: details.network_acls,
            security_groups: details.security_groups,
            prefix_lists: details.prefix_lists,
            az_map: discovery.az_map,
            service: details.service,
            client: details.client,
        },
        provider,
        dns: Fact::not_requested("DNS resolution is not collected by this version"),
        probe: Fact::not_requested("the TCP connect probe is not run by this version"),
        observability: Observability {
            window_start: rfc3339(window_start),
            window_end: rfc3339(window_end),
            metrics: Fact::not_requested("CloudWatch metrics are not collected by this version"),
            flow_logs: Fact::not_requested("flow logs are not collected by this version"),
            flow_log_rejects: Fact::not_requested(
                "the flow-log REJECT query (Logs Insights) is not run by this version",
            ),
        },
    })
}

/// Why the endpoint could not be read at all.
#[derive(Debug)]
pub enum EndpointLookupError {
    /// DescribeVpcEndpoints answered, without this endpoint.
    NotFound,
    Call(CallFailure),
    Unreadable(Unreadable),
}

/// The one-line reason and hint for a run that cannot diagnose anything.
fn fatal(
    endpoint_id: &str,
    region: &str,
    account: Option<&str>,
    err: &EndpointLookupError,
) -> Failure {
    let whom = match account {
        Some(a) => format!("in {region}, account {a}"),
        None => format!("in {region}, account unknown"),
    };
    let (reason, hint) = match err {
        EndpointLookupError::NotFound => (
            format!("endpoint {endpoint_id} not found {whom}"),
            "wrong region? wrong profile? (the endpoint lives in the consumer account: pass --region and --profile for it)".to_owned(),
        ),
        EndpointLookupError::Call(f) => match f.kind {
            FailureKind::NotFound => (
                format!("endpoint {endpoint_id} not found {whom} ({})", f.detail()),
                "wrong region? wrong profile? (the endpoint lives in the consumer account: pass --region and --profile for it)".to_owned(),
            ),
            FailureKind::NoCredentials => (
                format!("cannot collect {endpoint_id} {whom}: no AWS credentials ({})", one_line(&f.message)),
                "set AWS_PROFILE or pass --profile, or run aws sso login".to_owned(),
            ),
            FailureKind::Unreachable => (
                format!("cannot collect {endpoint_id} {whom}: AWS API unreachable ({})", one_line(&f.message)),
                "check --endpoint-url / AWS_ENDPOINT_URL and the network (proxy, VPN)".to_owned(),
            ),
            FailureKind::AccessDenied => (
                format!("cannot read endpoint {endpoint_id} {whom}: missing permission {}", f.action),
                format!("grant {} to the consumer credentials (see the README's IAM policy)", f.action),
            ),
            _ => (
                format!("cannot read endpoint {endpoint_id} {whom}: {} failed: {}", f.action, one_line(&f.detail())),
                "retry; if it persists, check --endpoint-url / the network, then the AWS Health Dashboard for the region".to_owned(),
            ),
        },
        EndpointLookupError::Unreadable(u) => (
            format!("cannot read endpoint {endpoint_id} {whom}: unreadable reply: {u}"),
            "retry; if it persists, report it with the pl-doctor version".to_owned(),
        ),
    };
    Failure::CannotDiagnose { reason, hint }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

// ------------------------------------------------------------- shared fact helpers

/// A call's result as a fact.
fn fact<T>(r: Result<T, CallFailure>) -> Fact<T> {
    match r {
        Ok(v) => Fact::Known(v),
        Err(f) => Fact::Absent(f.to_missing()),
    }
}

fn unreadable(action: &str, u: Unreadable) -> Missing {
    Missing::ApiError {
        operation: action.to_owned(),
        message: format!("unreadable reply: {u}"),
    }
}

/// Convert every item of a call's reply; one unreadable item makes the whole fact absent,
/// because a list with a hole would let a check conclude from what is not there.
fn convert_all<S, T>(
    action: &'static str,
    r: Result<Vec<S>, CallFailure>,
    f: impl Fn(&S) -> Result<T, Unreadable>,
) -> Fact<Vec<T>> {
    match r {
        Ok(items) => match items.iter().map(f).collect::<Result<Vec<T>, _>>() {
            Ok(v) => Fact::Known(v),
            Err(u) => Fact::Absent(unreadable(action, u)),
        },
        Err(e) => Fact::Absent(e.to_missing()),
    }
}

fn sorted_unique(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = ids.into_iter().filter(|s| !s.is_empty()).collect();
    v.sort();
    v.dedup();
    v
}

/// DescribeSecurityGroups for `ids` (none → nothing to describe, no call).
async fn security_groups(
    stage: Stage<'_>,
    ec2: &aws_sdk_ec2::Client,
    ids: Vec<String>,
) -> Fact<Vec<SecurityGroup>> {
    if ids.is_empty() {
        return Fact::Known(vec![]);
    }
    const ACTION: &str = "ec2:DescribeSecurityGroups";
    let r = stage
        .call(
            ACTION,
            ec2.describe_security_groups()
                .set_group_ids(Some(ids))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await;
    convert_all(ACTION, r, convert::ec2::security_group)
}

/// The prefix lists the groups' rules reference: DescribeManagedPrefixLists for their
/// names ∥ GetManagedPrefixListEntries for each (that API takes one list).
async fn prefix_lists(
    tracker: &Tracker,
    stage_name: &'static str,
    ec2: &aws_sdk_ec2::Client,
    groups: &Fact<Vec<SecurityGroup>>,
) -> Fact<Vec<PrefixList>> {
    let groups = match groups {
        Fact::Known(g) => g,
        Fact::Absent(m) => return Fact::Absent(m.clone()),
    };
    let ids = convert::ec2::referenced_prefix_lists(groups);
    if ids.is_empty() {
        return Fact::Known(vec![]);
    }
    let stage = tracker.stage(stage_name);
    const ENTRIES: &str = "ec2:GetManagedPrefixListEntries";
    let names = stage.call(
        "ec2:DescribeManagedPrefixLists",
        ec2.describe_managed_prefix_lists()
            .set_prefix_list_ids(Some(ids.clone()))
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let entries = futures_util::future::join_all(ids.iter().map(|id| {
        stage.call(
            ENTRIES,
            ec2.get_managed_prefix_list_entries()
                .prefix_list_id(id)
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    }));
    let (names, entries) = tokio::join!(names, entries);
    // Names only label the evidence: without DescribeManagedPrefixLists the CIDRs still count.
    let names = names.unwrap_or_default();
    let mut lists = Vec::new();
    for (id, result) in ids.iter().zip(entries) {
        let name = names
            .iter()
            .find(|p| p.prefix_list_id() == Some(id.as_str()))
            .and_then(|p| p.prefix_list_name());
        match result {
            Ok(entries) => match convert::ec2::prefix_list(id, name, &entries) {
                Ok(p) => lists.push(p),
                Err(u) => return Fact::Absent(unreadable(ENTRIES, u)),
            },
            Err(f) => return Fact::Absent(f.to_missing()),
        }
    }
    Fact::Known(lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind) -> CallFailure {
        CallFailure {
            action: "ec2:DescribeVpcEndpoints",
            kind,
            code: Some("Code".into()),
            message: "line one\n  line two".into(),
        }
    }

    fn reason_and_hint(f: Failure) -> (String, String) {
        match f {
            Failure::CannotDiagnose { reason, hint } => (reason, hint),
            other => panic!("not CannotDiagnose: {other:?}"),
        }
    }

    #[test]
    fn fatal_messages_name_endpoint_region_account_and_give_a_hint() {
        let ep = "vpce-0a1b2c3d4e5f6a7b8";
        let (reason, hint) = reason_and_hint(fatal(
            ep,
            "eu-west-1",
            Some("222222222222"),
            &EndpointLookupError::NotFound,
        ));
        assert!(
            reason.contains(ep) && reason.contains("eu-west-1") && reason.contains("222222222222"),
            "{reason}"
        );
        assert!(hint.contains("wrong region? wrong profile?"), "{hint}");

        let (reason, hint) = reason_and_hint(fatal(
            ep,
            "eu-west-1",
            None,
            &EndpointLookupError::Call(failure(FailureKind::Unreachable)),
        ));
        assert!(
            reason.contains("unreachable") && reason.contains("account unknown"),
            "{reason}"
        );
        assert!(!reason.contains('\n'), "one line: {reason:?}");
        assert!(hint.contains("--endpoint-url"), "{hint}");

        let (_, hint) = reason_and_hint(fatal(
            ep,
            "eu-west-1",
            None,
            &EndpointLookupError::Call(failure(FailureKind::NoCredentials)),
        ));
        assert!(
            hint.contains("AWS_PROFILE") && hint.contains("aws sso login"),
            "{hint}"
        );

        let (reason, _) = reason_and_hint(fatal(
            ep,
            "eu-west-1",
            None,
            &EndpointLookupError::Call(failure(FailureKind::AccessDenied)),
        ));
        assert!(
            reason.contains("missing permission ec2:DescribeVpcEndpoints"),
            "{reason}"
        );

        let (reason, hint) = reason_and_hint(fatal(
            ep,
            "eu-west-1",
            None,
            &EndpointLookupError::Call(failure(FailureKind::NotFound)),
        ));
        assert!(
            reason.contains("not found") && hint.contains("wrong region?"),
            "{reason}"
        );
    }

    #[test]
    fn an_unreadable_item_makes_the_whole_list_absent() {
        let ok: Fact<Vec<u8>> = convert_all("ec2:X", Ok(vec![1, 2]), |v| Ok(*v));
        assert_eq!(ok, Fact::Known(vec![1, 2]));
        let bad: Fact<Vec<u8>> = convert_all("ec2:X", Ok(vec![1, 2]), |v| {
            if *v == 2 {
                Err(Unreadable("reply lacks Id".into()))
            } else {
                Ok(*v)
            }
        });
        assert_eq!(
            bad,
            Fact::Absent(Missing::ApiError {
                operation: "ec2:X".into(),
                message: "unreadable reply: reply lacks Id".into()
            })
        );
        assert_eq!(
            sorted_unique(["b".into(), "a".into(), "".into(), "b".into()]),
            ["a", "b"]
        );
    }
}
