//! Live collection: AWS APIs → a [`Snapshot`], in dependency stages with everything
//! independent in flight at once. The collector gathers facts and never judges them;
//! every fact it cannot gather carries why (see `errors`).
//!
//! One code path serves one endpoint (`--endpoint`) and a fleet (`--all`):
//! [`collect_many`] makes every describe once for all the endpoints it found (id lists
//! and filter values chunked to AWS's limits) and cuts one complete snapshot per
//! endpoint from the shared replies (`consumer::Details::consumer_side`); the provider
//! side is collected once per distinct service.
//!
//! Stages (consumer ∥ provider once the endpoints are known):
//! 1. GetCallerIdentity ∥ DescribeVpcEndpoints ∥ DescribeAvailabilityZones ∥ (client instance)
//! 2. consumer: ENIs ∥ VPC + attributes ∥ subnets ∥ NACLs ∥ SGs ∥ service view, then prefix lists;
//!    provider: identity ∥ AZs ∥ service configuration ∥ permissions ∥ connections → NLBs →
//!    listeners ∥ attributes ∥ target groups ∥ subnets ∥ NLB ENIs → health ∥ listener and
//!    target group attributes → target instances ∥ target ENIs → security groups → prefix lists.
//!
//! Observability overlaps all of it: once the endpoint is known, the consumer's
//! GetMetricData (AWS/PrivateLinkEndpoints) and DescribeFlowLogs → Logs Insights query
//! start beside stage 2; the provider's GetMetricData (AWS/NetworkELB) starts as soon as
//! the provider stages have named the NLBs and their target groups (the host-count
//! metrics need the TargetGroup dimension).

pub mod accounts;
pub mod changes;
pub mod config;
mod consumer;
mod convert;
mod dnsconfig;
pub mod errors;
pub mod fleet;
pub mod flowlogs;
pub mod metrics;
pub mod operations;
mod progress;
mod provider;
mod quotas;
pub mod service;
#[cfg(test)]
mod testing;
pub mod vantage;

use crate::exit::Failure;
use crate::netprobe::{dns, tcp};
use config::{load_configs, AwsOptions};
pub use consumer::Lookup;
use convert::Unreadable;
use errors::{CallFailure, FailureKind};
use futures_util::StreamExt;
use pl_checks::client::ClientSpec;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::*;
use progress::{Stage, Tracker};
use std::collections::BTreeMap;
use std::time::Duration;

/// What to collect, from the command line.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    pub endpoint_id: String,
    pub client: Option<ClientSpec>,
    pub ports: Vec<u16>,
    pub window: Duration,
    /// `--timeout`: the overall deadline. Metrics and the Logs Insights query still
    /// running then are recorded as `DeadlinePassed` (and the query is stopped).
    pub timeout: Duration,
    /// Why CloudWatch metrics are not collected (e.g. `--skip idle-timeout-resets`), if not.
    pub skip_metrics: Option<String>,
    /// Why the Logs Insights REJECT query is not run (e.g. `--skip flow-log-rejects`), if not:
    /// it bills per GB scanned.
    pub skip_reject_query: Option<String>,
    pub aws: AwsOptions,
    pub network: NetworkRequest,
    /// `--only`/`--skip`, recorded in the snapshot so a replay keeps the selection.
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// `--action`/`--principal`/`--resource` (endpoint-policy), recorded in the snapshot.
    pub policy: pl_checks::net::policy::PolicyRequest,
    /// `--include-aws-services`: fleets diagnose interface endpoints to AWS services too.
    pub include_aws_services: bool,
    /// `--changes-since` with `--changes on`; None with `--changes off`: the CloudTrail
    /// window looked up behind the failing and warning checks.
    pub changes_since: Option<Duration>,
}

/// What to ask from the host pl-doctor runs on, after the AWS facts are in.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    /// `--resolver`; the system resolver when absent.
    pub resolver: Option<std::net::SocketAddr>,
    /// `--probe-target`: addresses to probe besides the endpoint's own ENIs.
    pub probe_targets: Vec<std::net::IpAddr>,
    /// `--probe-tls`: a TLS handshake with SNI = the private DNS name after connecting.
    pub probe_tls: bool,
    /// dns-resolution deselected by `--only`/`--skip`: do not ask the resolver.
    pub skip_dns: bool,
    /// connect-probe deselected: send no traffic to the endpoint.
    pub skip_probe: bool,
}

/// Describes take at most this many ids per call (the rest go in further calls).
pub const ID_CHUNK: usize = 1000;
/// AWS takes at most 200 values per filter.
pub const FILTER_CHUNK: usize = 200;
/// Calls AWS offers no batch form for (one per VPC, per prefix list, …) in flight at once.
pub const PER_ITEM_CONCURRENCY: usize = 16;
/// DNS lookups and connect probes (one endpoint each) in flight at once.
pub const NETWORK_CONCURRENCY: usize = 16;
/// Provider-side collections (one per distinct service) in flight at once.
const PROVIDER_CONCURRENCY: usize = 4;

/// Collect a snapshot from AWS. Runs its own tokio runtime: only the live path needs one.
/// The collection's future is boxed (here and in the other scopes' entry points): it is
/// large, and `--watch` runs it on a worker thread with the default 2 MiB stack.
pub fn collect_blocking(req: &LiveRequest) -> Result<Snapshot, Failure> {
    runtime(req)?.block_on(Box::pin(collect(req)))
}

/// The runtime a live collection runs on.
fn runtime(req: &LiveRequest) -> Result<tokio::runtime::Runtime, Failure> {
    // Role chains in profiles (role_arn + source_profile) build their own STS client from
    // the environment, not from the loader: set AWS_ENDPOINT_URL so --endpoint-url reaches
    // them as the variable would. Done before the runtime exists, while no other thread runs.
    if let Some(url) = &req.aws.endpoint_url {
        std::env::set_var("AWS_ENDPOINT_URL", url);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::CannotDiagnose {
            reason: format!("cannot start the async runtime: {e}"),
            hint: "check the process limits (threads)".into(),
        })
}

/// One endpoint: the fleet-of-one case of [`collect_many`].
pub async fn collect(req: &LiveRequest) -> Result<Snapshot, Failure> {
    let lookup = Lookup::Endpoint(req.endpoint_id.clone());
    let mut collection = collect_many(req, &lookup).await?;
    collection
        .snapshots
        .pop()
        .ok_or_else(|| Failure::CannotDiagnose {
            reason: format!("endpoint {} not found", req.endpoint_id),
            hint: "wrong region? wrong profile?".into(),
        })
}

/// What one collection over some endpoints produced.
pub struct Collection {
    pub collected_at: String,
    pub region: String,
    /// The consumer credentials' account, when GetCallerIdentity answered.
    pub account: Option<String>,
    /// One complete snapshot per endpoint, in endpoint id order.
    pub snapshots: Vec<Snapshot>,
    /// Endpoints found but not diagnosed (`--all`: endpoints to AWS services).
    pub left_out: Vec<pl_checks::fleet::LeftOut>,
    /// `--all`: the endpoints-per-VPC quota and each VPC's use of it.
    pub endpoint_quota: Option<pl_checks::quota::EndpointQuotaFacts>,
}

/// Collect the endpoints `lookup` names, with every describe made once for all of them
/// and each endpoint's snapshot cut from the shared replies.
pub async fn collect_many(req: &LiveRequest, lookup: &Lookup) -> Result<Collection, Failure> {
    let deadline = tokio::time::Instant::now() + req.timeout;
    let configs = load_configs(&req.aws).await;
    // The one bound on every AWS call (progress.rs); `within_deadline` bounds DNS and the probe.
    let tracker = Tracker::with_deadline(deadline);
    let result = collect_with(
        req,
        lookup,
        &configs,
        &tracker,
        deadline,
        &NetworkScope::Here,
    )
    .await;
    match &result {
        Ok(_) => tracker.finish_and_log(),
        Err(_) => {
            tracker.finish();
        }
    }
    result
}

/// Where DNS resolution and the connect probe may run from for a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkScope {
    /// One account's run: the host is taken to be where the user chose to run it.
    Here,
    /// A many-account run: only for endpoints in the VPC pl-doctor itself runs in (None:
    /// not known, e.g. outside EC2); every other endpoint says why they were not run.
    OnlyInVpc(Option<String>),
}

impl NetworkScope {
    /// Why the network facts are not gathered for `endpoint`, or None when they are.
    fn excludes(&self, endpoint: &Endpoint) -> Option<String> {
        match self {
            NetworkScope::Here => None,
            NetworkScope::OnlyInVpc(Some(vpc)) if *vpc == endpoint.vpc_id => None,
            NetworkScope::OnlyInVpc(Some(vpc)) => Some(format!(
                "asks the network from where pl-doctor runs (in {vpc}), and {} is in {}: run pl-doctor --endpoint {} on a host in that VPC",
                endpoint.id, endpoint.vpc_id, endpoint.id
            )),
            NetworkScope::OnlyInVpc(None) => Some(format!(
                "asks the network from where pl-doctor runs, which is not known to be in {} (many-account run): run pl-doctor --endpoint {} on a host in that VPC",
                endpoint.vpc_id, endpoint.id
            )),
        }
    }
}

/// [`collect_many`] with the configurations, tracker and deadline given: one account and
/// region of a many-account run, or the whole of a one-account run.
pub async fn collect_with(
    req: &LiveRequest,
    lookup: &Lookup,
    configs: &config::AwsConfigs,
    tracker: &Tracker,
    deadline: tokio::time::Instant,
    network_scope: &NetworkScope,
) -> Result<Collection, Failure> {
    let collected_at = now_rfc3339();
    let window_end = time::OffsetDateTime::now_utc();
    let window_start = window_end - req.window;
    let region = match configs.consumer.region() {
        Some(r) => r.to_string(),
        None => {
            let what = match lookup {
                Lookup::Endpoint(id) => id.clone(),
                Lookup::Fleet { .. } | Lookup::Endpoints(_) => {
                    "the interface endpoints (--all)".to_owned()
                }
            };
            return Err(Failure::CannotDiagnose {
                reason: format!("cannot collect {what}: no AWS region configured"),
                hint: "pass --region (e.g. --region us-east-1), set AWS_REGION, or set region in the profile".into(),
            });
        }
    };
    let consumer_clients = consumer::Clients::new(&configs.consumer);
    let provider_clients = configs.provider.as_ref().map(provider::Clients::new);
    // The observability calls run beside consumer::details, on clients of their own.
    let consumer_ec2 = aws_sdk_ec2::Client::new(&configs.consumer);
    let consumer_cloudwatch = aws_sdk_cloudwatch::Client::new(&configs.consumer);
    let consumer_logs = aws_sdk_cloudwatchlogs::Client::new(&configs.consumer);
    let provider_cloudwatch = configs
        .provider
        .as_ref()
        .map(aws_sdk_cloudwatch::Client::new);
    let trail_clients = req
        .changes_since
        .map(|_| changes::Clients::new(&configs.consumer, configs.provider.as_ref()));
    let collected_time = time::OffsetDateTime::now_utc();
    let many = !matches!(lookup, Lookup::Endpoint(_));
    // Where pl-doctor runs, beside the first stage (bounded well under a second).
    let vantage = futures_util::FutureExt::shared(Box::pin(vantage::find()));
    let vantage_driver = tokio::spawn(vantage.clone());

    // The provider account's own facts need no endpoint: asked from the start, they also
    // resolve the assumed role's credentials while the consumer side is read. Shared, so
    // the provider stages can await them without the consumer side waiting too.
    let provider_account = futures_util::FutureExt::shared(Box::pin(async {
        match &provider_clients {
            Some(c) => Some(provider::account(tracker, c).await),
            None => None,
        }
    }));
    let diagnosis = async {
        // `--all` also reads the endpoints-per-VPC quota, in the same round trip.
        let applied_quota = async {
            match lookup {
                Lookup::Fleet { .. } => Some(
                    quotas::applied_endpoint_quota(
                        tracker,
                        &aws_sdk_servicequotas::Client::new(&configs.consumer),
                    )
                    .await,
                ),
                Lookup::Endpoint(_) | Lookup::Endpoints(_) => None,
            }
        };
        let (discovery, applied_quota) = tokio::join!(
            consumer::discover(tracker, &consumer_clients, lookup, req.client.as_ref()),
            applied_quota
        );
        let account = discovery.identity.as_ref().ok().map(|i| i.account.clone());
        let found = match discovery.found {
            Ok(found) => found,
            Err(lookup_error) => {
                return Err(match lookup {
                    Lookup::Endpoint(id) => fatal(id, &region, account.as_deref(), &lookup_error),
                    Lookup::Endpoints(_) => {
                        fleet::fatal(None, &region, account.as_deref(), &lookup_error)
                    }
                    Lookup::Fleet { vpc_id, .. } => fleet::fatal(
                        vpc_id.as_deref(),
                        &region,
                        account.as_deref(),
                        &lookup_error,
                    ),
                });
            }
        };
        let endpoints = found.endpoints;
        // A Gateway, Resource, … endpoint named by --endpoint: nothing to walk, so no
        // further call is made (exit 3, like an endpoint that is not there).
        if let (Lookup::Endpoint(_), Some((reason, hint))) = (
            lookup,
            endpoints
                .first()
                .and_then(pl_checks::endpoint_type::not_diagnosable),
        ) {
            tracker.finish();
            return Err(Failure::CannotDiagnose { reason, hint });
        }
        if many {
            tracker.headline(format!("endpoints: {} found", endpoints.len()));
        }

        let period = metrics::period_for(req.window);
        let metrics_window = metrics::Window {
            start: window_start.into(),
            end: window_end.into(),
        };
        let query_window = flowlogs::Window {
            start_epoch: window_start.unix_timestamp(),
            end_epoch: window_end.unix_timestamp(),
        };
        let consumer_metrics = async {
            if req.skip_metrics.is_some() {
                return None;
            }
            let stage = tracker.stage("consumer: metrics");
            Some(
                metrics::fetch_consumer(
                    stage,
                    &consumer_cloudwatch,
                    &endpoints,
                    period,
                    metrics_window,
                    deadline,
                )
                .await,
            )
        };
        let flow_logs = async {
            let stage = tracker.stage("consumer: flow logs");
            let described = flowlogs::describe_all(stage, &consumer_ec2, &endpoints).await;
            let flow_logs: Vec<Fact<Vec<FlowLog>>> = endpoints
                .iter()
                .map(|e| flowlogs::cut(&described, e))
                .collect();
            let rejects: Vec<Fact<FlowLogRejects>> = match (&req.skip_reject_query, many) {
                (Some(why), _) => flow_logs
                    .iter()
                    .map(|_| Fact::not_requested(why.clone()))
                    .collect(),
                // It bills per GB scanned, per endpoint: not for a whole fleet at once.
                (None, true) => flow_logs
                    .iter()
                    .map(|_| Fact::not_requested(flowlogs::NOT_RUN_FOR_A_FLEET))
                    .collect(),
                (None, false) => {
                    futures_util::future::join_all(endpoints.iter().zip(&flow_logs).map(
                        |(e, fl)| {
                            flowlogs::rejects(
                                stage,
                                &consumer_logs,
                                fl,
                                &e.network_interface_ids,
                                query_window,
                                deadline,
                            )
                        },
                    ))
                    .await
                }
            };
            (flow_logs, rejects)
        };
        // The provider side belongs to the service: collected once per distinct service and
        // shared by its endpoints.
        let provider_sides = async {
            let clients = provider_clients.as_ref()?;
            // AWS runs the provider side of its own services: nothing to ask there.
            let names = sorted_unique(
                endpoints
                    .iter()
                    .filter(|e| !pl_checks::endpoint_type::is_aws_service_name(&e.service_name))
                    .map(|e| e.service_name.clone()),
            );
            let sides = futures_util::stream::iter(names)
                .map(|name| {
                    let tracker = &tracker;
                    let account = provider_account.clone();
                    let metrics_request = match (&req.skip_metrics, &provider_cloudwatch) {
                        (None, Some(cw)) => Some(provider::MetricsRequest {
                            client: cw,
                            period_seconds: period,
                            window: metrics_window,
                            deadline,
                        }),
                        _ => None,
                    };
                    async move {
                        let (side, series) =
                            provider::collect(tracker, clients, &name, account, metrics_request)
                                .await;
                        (name, (side, series))
                    }
                })
                .buffer_unordered(PROVIDER_CONCURRENCY)
                .collect::<BTreeMap<_, _>>()
                .await;
            Some(sides)
        };
        let identity = fact(discovery.identity);
        let options = eval_options(req);
        // One snapshot per endpoint from the shared replies; `flow` is None while the flow
        // logs are still being read (the provisional snapshot the change lookups start from).
        let build = |details: &consumer::Details,
                     provider_sides: &Option<
            BTreeMap<String, (ProviderSide, Option<provider::ProviderSeries>)>,
        >,
                     consumer_metrics: &Option<Vec<Result<Vec<MetricSeries>, Missing>>>,
                     vantage: &Vantage,
                     i: usize,
                     endpoint: Endpoint,
                     flow: Option<(Fact<Vec<FlowLog>>, Fact<FlowLogRejects>)>|
         -> Snapshot {
            let consumer = details.consumer_side(endpoint, &discovery.az_map);
            let shared = provider_sides
                .as_ref()
                .and_then(|sides| sides.get(&consumer.endpoint.service_name));
            let kind = pl_checks::endpoint_type::kind_of(
                &consumer.endpoint.service_name,
                consumer.service.known().map(|s| s.owner.as_str()),
            );
            let (provider, provider_metrics) = match shared {
                _ if kind == pl_checks::endpoint_type::ServiceKind::AwsService => (
                    ProviderSide::aws_managed(&consumer.endpoint.service_name),
                    None,
                ),
                Some((side, series)) => (side.clone(), series.clone()),
                None => {
                    let owner = consumer.service.known().map(|s| s.owner.clone());
                    (provider::without_access(owner.as_deref()), None)
                }
            };
            let metrics = match consumer_metrics {
                None => Fact::not_requested(req.skip_metrics.clone().unwrap_or_default()),
                Some(per_endpoint) => {
                    match metrics::combine(provider_metrics, per_endpoint[i].clone()) {
                        Ok(series) => Fact::Known(series),
                        Err(m) => Fact::Absent(m),
                    }
                }
            };
            let (flow_logs, flow_log_rejects) = flow.unwrap_or_else(|| {
                (
                    Fact::not_requested("flow logs still being read"),
                    Fact::not_requested("flow logs still being read"),
                )
            });
            Snapshot {
                snapshot_version: SNAPSHOT_VERSION,
                collected_by: format!("pl-doctor {}", env!("CARGO_PKG_VERSION")),
                collected_at: collected_at.clone(),
                region: region.clone(),
                inputs: CollectionInputs {
                    endpoint_id: consumer.endpoint.id.clone(),
                    client: req.client.as_ref().map(ToString::to_string),
                    ports: req.ports.clone(),
                    window_seconds: req.window.as_secs(),
                    only: req.only.clone(),
                    skip: req.skip.clone(),
                    view: View::Consumer,
                    consumer_unread: None,
                    action: req.policy.action.clone(),
                    principal: req.policy.principal.clone(),
                    resource: req.policy.resource.clone(),
                },
                consumer_identity: identity.clone(),
                consumer,
                provider,
                dns: Fact::not_requested("DNS resolution is not collected by this version"),
                probe: Fact::not_requested("the TCP connect probe is not run by this version"),
                observability: Observability {
                    window_start: rfc3339(window_start),
                    window_end: rfc3339(window_end),
                    metrics,
                    flow_logs,
                    flow_log_rejects,
                },
                vantage: Some(vantage.clone()),
                changes: None,
            }
        };
        let trail_window = req
            .changes_since
            .map(|since| changes::window(collected_time, since));
        let trail_accounts = |provider_sides: &Option<
            BTreeMap<String, (ProviderSide, Option<provider::ProviderSeries>)>,
        >| changes::Accounts {
            consumer: identity.known().map(|i| i.account.clone()),
            provider: provider_sides.as_ref().and_then(|sides| {
                sides
                    .values()
                    .find_map(|(side, _)| side.identity.known().map(|i| i.account.clone()))
            }),
        };
        // The structural facts, then (once they are in, while the flow logs and their
        // Logs Insights query still run) the CloudTrail lookups on what fails so far.
        let structural = async {
            let (details, provider_sides, consumer_metrics) = tokio::join!(
                consumer::details(
                    tracker,
                    &consumer_clients,
                    &endpoints,
                    req.client.as_ref(),
                    discovery.client_instance.clone()
                ),
                provider_sides,
                consumer_metrics,
            );
            let mut looked_up = Vec::new();
            if let (Some(clients), Some((_, start, end))) = (&trail_clients, trail_window) {
                let vantage = vantage.clone().await;
                let provisional: Vec<Snapshot> = endpoints
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        build(
                            &details,
                            &provider_sides,
                            &consumer_metrics,
                            &vantage,
                            i,
                            e.clone(),
                            None,
                        )
                    })
                    .collect();
                let wanted = changes_wanted(&provisional, &options, &[]);
                looked_up = changes::lookup_all(
                    tracker,
                    clients,
                    &wanted,
                    &trail_accounts(&provider_sides),
                    &region,
                    (start, end),
                    deadline,
                )
                .await;
            }
            (details, provider_sides, consumer_metrics, looked_up)
        };
        let (
            (details, provider_sides, consumer_metrics, mut looked_up),
            (flow_logs, flow_log_rejects),
        ) = tokio::join!(structural, flow_logs);

        let vantage = vantage.clone().await;
        let mut snapshots = Vec::with_capacity(endpoints.len());
        for (i, ((endpoint, flow_logs), flow_log_rejects)) in endpoints
            .into_iter()
            .zip(flow_logs)
            .zip(flow_log_rejects)
            .enumerate()
        {
            snapshots.push(build(
                &details,
                &provider_sides,
                &consumer_metrics,
                &vantage,
                i,
                endpoint,
                Some((flow_logs, flow_log_rejects)),
            ));
        }

        // Names and ENI addresses come from the AWS facts, so the network facts come last.
        let total = snapshots.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let snapshots: Vec<Snapshot> = futures_util::stream::iter(snapshots)
            .map(|s| match network_scope.excludes(&s.consumer.endpoint) {
                None => futures_util::future::Either::Left(network_facts(
                    s,
                    &req.network,
                    &req.ports,
                    deadline,
                )),
                Some(why) => futures_util::future::Either::Right(std::future::ready(Snapshot {
                    dns: Fact::not_requested(format!("dns-resolution {why}")),
                    probe: Fact::not_requested(format!("connect-probe {why}")),
                    ..s
                })),
            })
            .buffered(NETWORK_CONCURRENCY)
            .inspect(|_| {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if many {
                    tracker.headline(format!("endpoints: {total} found, {n}/{total} diagnosed"));
                }
            })
            .collect()
            .await;

        // The checks only the flow logs, DNS and the probe decide: their resources not
        // looked up yet follow now, then each snapshot gets the lookups of its own checks.
        let mut snapshots = snapshots;
        if let (Some(clients), Some((start_time, start, end))) = (&trail_clients, trail_window) {
            let done: Vec<String> = looked_up.iter().map(|l| l.resource.clone()).collect();
            let more = changes_wanted(&snapshots, &options, &done);
            looked_up.extend(
                changes::lookup_all(
                    tracker,
                    clients,
                    &more,
                    &trail_accounts(&provider_sides),
                    &region,
                    (start, end),
                    deadline,
                )
                .await,
            );
            let since_seconds = (collected_time - start_time).whole_seconds().max(0) as u64;
            for s in snapshots.iter_mut() {
                let mine: Vec<String> = changes_wanted(std::slice::from_ref(s), &options, &[])
                    .into_iter()
                    .map(|w| w.resource)
                    .collect();
                s.changes = Some(pl_checks::changes::ChangeFacts {
                    since: rfc3339(start_time),
                    since_seconds,
                    lookups: looked_up
                        .iter()
                        .filter(|l| mine.contains(&l.resource))
                        .cloned()
                        .collect(),
                });
            }
        }

        let endpoint_quota = applied_quota.map(|applied| pl_checks::quota::EndpointQuotaFacts {
            account: account.clone(),
            region: region.clone(),
            applied,
            in_use: found.in_use_per_vpc,
        });
        Ok(Collection {
            collected_at,
            region,
            account,
            snapshots,
            left_out: found.left_out,
            endpoint_quota,
        })
    };
    // Drive the account facts beside the diagnosis; a diagnosis that ends first (the
    // endpoint not found, no provider access) does not wait for them.
    tokio::pin!(diagnosis);
    let mut account_driver = provider_account.clone();
    let result = tokio::select! {
        result = &mut diagnosis => result,
        _ = &mut account_driver => diagnosis.await,
    };
    vantage_driver.abort();
    result
}

/// How the collection evaluates its snapshots to learn what fails (the change lookups):
/// as the report will, from the same inputs.
pub(crate) fn eval_options(req: &LiveRequest) -> pl_checks::EvalOptions {
    pl_checks::EvalOptions {
        client: req.client.clone(),
        ports: req.ports.clone(),
        only: req.only.clone(),
        skip: req.skip.clone(),
        policy: req.policy.clone(),
    }
}

/// The resources the failing and warning checks of `snapshots` name (evaluated as they
/// stand), once each, without those in `done`.
fn changes_wanted(
    snapshots: &[Snapshot],
    options: &pl_checks::EvalOptions,
    done: &[String],
) -> Vec<changes::Wanted> {
    let mut out: Vec<changes::Wanted> = Vec::new();
    for s in snapshots {
        let results = pl_checks::report::evaluate(s, options);
        for (resource, side) in pl_checks::changes::wanted(s, &results) {
            if done.contains(&resource) || out.iter().any(|w| w.resource == resource) {
                continue;
            }
            out.push(changes::Wanted {
                global: pl_checks::changes::is_hosted_zone(&resource, s),
                resource,
                side,
            });
        }
    }
    out
}

/// DNS resolution and the connect probe for one endpoint, from this host, unless
/// deselected; both bounded by the overall deadline.
async fn network_facts(
    mut snapshot: Snapshot,
    network: &NetworkRequest,
    ports: &[u16],
    deadline: tokio::time::Instant,
) -> Snapshot {
    snapshot.dns = if network.skip_dns {
        Fact::not_requested("dns-resolution not selected (--only/--skip)")
    } else {
        within_deadline(
            deadline,
            "DNS resolution of the endpoint's names",
            dns::collect(&snapshot, network.resolver, &dns::DnsOptions::default()),
        )
        .await
    };
    snapshot.probe = if network.skip_probe {
        Fact::not_requested("connect-probe not selected (--only/--skip)")
    } else {
        let opts = tcp::ProbeOptions {
            tls: probe_tls(&snapshot, network.probe_tls),
            ..tcp::ProbeOptions::default()
        };
        within_deadline(
            deadline,
            "the TCP connect probe",
            tcp::collect(
                &snapshot,
                &snapshot.dns,
                &network.probe_targets,
                ports.first().copied(),
                &opts,
            ),
        )
        .await
    };
    snapshot
}

/// Runs `call` over `ids` in chunks of at most `size` (AWS caps id lists and filter
/// values), all at once, and concatenates the replies; no ids, no call. One chunk's
/// failure is the whole list's: a list with a hole would let a check conclude from
/// what is not there.
pub async fn chunked<T, F, Fut>(ids: &[String], size: usize, call: F) -> Result<Vec<T>, CallFailure>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, CallFailure>>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let replies =
        futures_util::future::join_all(ids.chunks(size.max(1)).map(|c| call(c.to_vec()))).await;
    let mut all = Vec::new();
    for reply in replies {
        all.extend(reply?);
    }
    Ok(all)
}

/// A network fact gathered from this host, bounded by the overall deadline like the AWS
/// calls: past it the lookups or connects in flight are dropped.
async fn within_deadline<T>(
    deadline: tokio::time::Instant,
    waiting_for: &str,
    gather: impl std::future::Future<Output = Fact<T>>,
) -> Fact<T> {
    let passed = || {
        Fact::Absent(Missing::DeadlinePassed {
            waiting_for: waiting_for.to_owned(),
        })
    };
    if tokio::time::Instant::now() >= deadline {
        return passed();
    }
    tokio::time::timeout_at(deadline, gather)
        .await
        .unwrap_or_else(|_| passed())
}

/// The TLS handshake for `--probe-tls`, when it can be set up; otherwise the probe
/// stays TCP-only and says why on stderr.
fn probe_tls(snapshot: &Snapshot, wanted: bool) -> Option<tcp::TlsProbe> {
    if !wanted {
        return None;
    }
    let result = tcp::tls_server_name(snapshot)
        .ok_or_else(|| "the service has no concrete private DNS name to use as SNI".to_owned())
        .and_then(|name| tcp::TlsProbe::with_system_roots(&name));
    match result {
        Ok(tls) => Some(tls),
        Err(why) => {
            eprintln!("pl-doctor: --probe-tls: {why}; probing TCP only");
            None
        }
    }
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
            FailureKind::DeadlinePassed => (
                format!("cannot read endpoint {endpoint_id} {whom}: the deadline (--timeout) passed while waiting for {}", f.action),
                "raise --timeout; if calls are this slow, check --endpoint-url / the network (proxy, VPN)".to_owned(),
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
            &EndpointLookupError::Call(failure(FailureKind::DeadlinePassed)),
        ));
        assert!(
            reason.contains("deadline") && reason.contains("ec2:DescribeVpcEndpoints"),
            "{reason}"
        );
        assert!(hint.contains("--timeout"), "{hint}");

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
