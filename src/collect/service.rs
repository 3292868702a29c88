//! `--service`: the provider's view of one endpoint service and every connection to it.
//!
//! The default credentials are the provider's. Stages:
//! 1. GetCallerIdentity ∥ AZs ∥ DescribeVpcEndpointServiceConfigurations ∥ permissions ∥
//!    every connection of the service (the service id is all they need);
//! 2. everything the one-endpoint path gathers behind the service, once: NLBs →
//!    listeners ∥ attributes ∥ target groups → health → targets → security groups →
//!    prefix lists (provider.rs), then the NLB's CloudWatch metrics.
//!
//! The calls do not grow with the number of connections: DescribeVpcEndpointConnections
//! lists them all (paginated). Each connection becomes a snapshot of its own
//! (`fleet::connection_snapshot`): the endpoint as its connection shows it, the
//! service's facts, and the consumer's facts marked not visible.

use super::accounts::{self, MemberRole};
use super::consumer::Lookup;
use super::convert::Unreadable;
use super::errors::FailureKind;
use super::progress::Tracker;
use super::provider::{self, ConfigurationLookupError};
use super::{metrics, now_rfc3339, one_line, rfc3339, LiveRequest, NetworkScope, FILTER_CHUNK};
use crate::exit::Failure;
use aws_sdk_ec2::types as ec2t;
use pl_checks::fact::{Fact, Missing};
use pl_checks::fleet::ScopeFailure;
use pl_checks::fleet::{
    self, FleetKind, FleetScope, FleetSnapshot, ProviderViewHeader, FLEET_SNAPSHOT_VERSION,
};
use pl_checks::model::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// `vpce-svc-…`.
    pub service_id: String,
    /// The settings the service is collected with (its `endpoint_id` is unused; the
    /// default credentials are the provider's).
    pub live: LiveRequest,
    /// `--consumer-role-name`: read each connection's consumer side through this role in
    /// its owner's account; None keeps the provider view.
    pub consumer_role: Option<MemberRole>,
    /// `--concurrency`: consumer accounts read at once.
    pub concurrency: usize,
    /// The VPC pl-doctor runs in, when known: DNS and the probe run only for its endpoints.
    pub vantage_vpc: Option<String>,
}

/// Collect the service and its connections. Runs its own tokio runtime, like the
/// one-endpoint path.
pub fn collect_blocking(req: &ServiceRequest) -> Result<FleetSnapshot, Failure> {
    // As in collect_blocking (mod.rs): role chains in profiles read AWS_ENDPOINT_URL.
    if let Some(url) = &req.live.aws.endpoint_url {
        std::env::set_var("AWS_ENDPOINT_URL", url);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::CannotDiagnose {
            reason: format!("cannot start the async runtime: {e}"),
            hint: "check the process limits (threads)".into(),
        })?;
    runtime.block_on(Box::pin(collect(req)))
}

pub async fn collect(req: &ServiceRequest) -> Result<FleetSnapshot, Failure> {
    let live = &req.live;
    let collected_at = now_rfc3339();
    let deadline = tokio::time::Instant::now() + live.timeout;
    let window_end = time::OffsetDateTime::now_utc();
    let window_start = window_end - live.window;
    // --service conflicts with --provider-profile/--provider-role-arn: the default
    // credentials (--profile, the environment) are the provider's.
    let configs = super::config::load_configs(&live.aws).await;
    let conf = &configs.consumer;
    let region = match conf.region() {
        Some(r) => r.to_string(),
        None => {
            return Err(Failure::CannotDiagnose {
                reason: format!("cannot collect {}: no AWS region configured", req.service_id),
                hint: "pass --region (e.g. --region us-east-1), set AWS_REGION, or set region in the profile".into(),
            })
        }
    };
    let tracker = Tracker::with_deadline(deadline);
    let clients = provider::Clients::new(conf);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(conf);

    let lookup = provider::lookup(
        &tracker,
        &clients,
        &req.service_id,
        std::future::ready(None),
    )
    .await;
    let account = lookup.identity.known().map(|i| i.account.clone());
    let configuration = match &lookup.configuration {
        Ok(c) => c.clone(),
        Err(e) => {
            tracker.finish();
            return Err(fatal(&req.service_id, &region, account.as_deref(), e));
        }
    };
    let metrics_request = match &live.skip_metrics {
        Some(_) => None,
        None => Some(provider::MetricsRequest {
            client: &cloudwatch,
            period_seconds: metrics::period_for(live.window),
            window: metrics::Window {
                start: window_start.into(),
                end: window_end.into(),
            },
            deadline,
        }),
    };
    let (side, series) = provider::complete(&tracker, &clients, &lookup, metrics_request).await;
    let metrics = match (series, &live.skip_metrics) {
        (Some(Ok(series)), _) => Fact::Known(series),
        (Some(Err(m)), _) => Fact::Absent(m),
        (None, why) => Fact::not_requested(why.clone().unwrap_or_default()),
    };

    let header = ProviderViewHeader {
        collected_by: format!("pl-doctor {}", env!("CARGO_PKG_VERSION")),
        collected_at,
        region: region.clone(),
        inputs: CollectionInputs {
            endpoint_id: String::new(),
            client: None,
            ports: live.ports.clone(),
            window_seconds: live.window.as_secs(),
            only: live.only.clone(),
            skip: live.skip.clone(),
            view: View::Provider,
            consumer_unread: None,
            action: None,
            principal: None,
            resource: None,
        },
        window_start: rfc3339(window_start),
        window_end: rfc3339(window_end),
    };
    let raw_connections = lookup.connections.as_deref().unwrap_or_default();
    let assembled = assemble(
        &header,
        &configuration,
        account.clone(),
        side,
        metrics,
        raw_connections,
    )
    .map_err(|u| Failure::CannotDiagnose {
        reason: format!(
            "cannot read the connections of {} in {region}: unreadable DescribeVpcEndpointConnections reply: {u}",
            req.service_id
        ),
        hint: "retry; if it persists, report it with the pl-doctor version".into(),
    });
    let result = match assembled {
        Ok(mut fleet) => {
            let change_window = live
                .changes_since
                .map(|since| change_window(window_end, since));
            // The service's own lookups (what its service-wide checks name, in the
            // provider's trail) run beside the consumer sides; the rows' follow after.
            let mut service = fleet.service.take();
            if let (Some(s), Some(w)) = (service.as_mut(), &change_window) {
                s.changes = Some(w.clone());
            }
            let options = super::eval_options(live);
            let service_lookups = async {
                if let (Some(s), Some(_)) = (service.as_mut(), &change_window) {
                    super::changes::complete_all(
                        &tracker,
                        std::slice::from_mut(s),
                        &[None],
                        &[Some(conf.clone())],
                        &options,
                        Some(fleet::SERVICE_WIDE),
                        &[],
                        deadline,
                    )
                    .await;
                }
            };
            let consumer_sides = async {
                match &req.consumer_role {
                    Some(role) => {
                        let regions: BTreeMap<String, String> = raw_connections
                            .iter()
                            .filter_map(|c| {
                                Some((
                                    c.vpc_endpoint_id()?.to_owned(),
                                    c.vpc_endpoint_region()
                                        .filter(|r| !r.is_empty())
                                        .unwrap_or(&region)
                                        .to_owned(),
                                ))
                            })
                            .collect();
                        let caller_arn = lookup.identity.known().map(|i| i.arn.clone());
                        consumer_sides(
                            req,
                            role,
                            &tracker,
                            deadline,
                            conf,
                            account.as_deref(),
                            caller_arn.as_deref(),
                            &regions,
                            &mut fleet,
                        )
                        .await
                    }
                    None => BTreeMap::new(),
                }
            };
            let ((), consumer_confs) = tokio::join!(service_lookups, consumer_sides);
            fleet.service = service;
            if let Some(w) = &change_window {
                row_changes(
                    &tracker,
                    &mut fleet,
                    w,
                    &consumer_confs,
                    conf,
                    &options,
                    deadline,
                )
                .await;
            }
            Ok(fleet)
        }
        Err(e) => Err(e),
    };
    tracker.finish_and_log();
    result
}

/// The change facts every snapshot of the provider view starts from: the window, no
/// lookups yet.
fn change_window(
    collected: time::OffsetDateTime,
    since: std::time::Duration,
) -> pl_checks::changes::ChangeFacts {
    let (start, _, _) = super::changes::window(collected, since);
    pl_checks::changes::ChangeFacts {
        since: rfc3339(start),
        since_seconds: (collected - start).whole_seconds().max(0) as u64,
        lookups: Vec::new(),
    }
}

/// What the connections' failing and warning checks name: the service's lookups where
/// they name the same provider resources (target groups, NLBs: looked up once for the
/// service, not once per connection), then the rest in the provider's trail and, for a
/// connection whose consumer side was read, in its owner's (`consumer_confs`, by endpoint
/// id). A row read through `--consumer-role-name` brings the lookups its own collection
/// made; the others start from `window`.
async fn row_changes(
    tracker: &Tracker,
    fleet: &mut FleetSnapshot,
    window: &pl_checks::changes::ChangeFacts,
    consumer_confs: &BTreeMap<String, aws_config::SdkConfig>,
    provider: &aws_config::SdkConfig,
    options: &pl_checks::EvalOptions,
    deadline: tokio::time::Instant,
) {
    let service_lookups: Vec<pl_checks::changes::ResourceLookup> = fleet
        .service
        .as_ref()
        .and_then(|s| s.changes.as_ref())
        .map(|c| c.lookups.clone())
        .unwrap_or_default();
    for s in fleet.snapshots.iter_mut().filter(|s| s.changes.is_none()) {
        s.changes = Some(window.clone());
    }
    let consumers: Vec<Option<aws_config::SdkConfig>> = fleet
        .snapshots
        .iter()
        .map(|s| consumer_confs.get(&s.consumer.endpoint.id).cloned())
        .collect();
    let providers = vec![Some(provider.clone()); fleet.snapshots.len()];
    super::changes::complete_all(
        tracker,
        &mut fleet.snapshots,
        &consumers,
        &providers,
        options,
        None,
        &service_lookups,
        deadline,
    )
    .await;
}

/// Whether a connection's endpoint still exists in its owner's account to be read.
fn consumer_readable(s: &Snapshot) -> bool {
    let state = &s.consumer.endpoint.state;
    !(eq_wire(state, "deleted")
        || eq_wire(state, "deleting")
        || s.consumer.endpoint.owner_id.is_empty())
}

/// `--consumer-role-name`: each connection's consumer side, read through the role in its
/// owner's account (assumed once per account), in the connection's own region, one
/// batched collection per account and region, `--concurrency` accounts at a time.
/// Returns each read endpoint's configuration (its owner's, in its Region), for the
/// change lookups that follow.
#[allow(clippy::too_many_arguments)]
async fn consumer_sides(
    req: &ServiceRequest,
    role: &MemberRole,
    tracker: &Tracker,
    deadline: tokio::time::Instant,
    hub: &aws_config::SdkConfig,
    provider_account: Option<&str>,
    caller_arn: Option<&str>,
    regions: &BTreeMap<String, String>,
    fleet: &mut FleetSnapshot,
) -> BTreeMap<String, aws_config::SdkConfig> {
    let home = fleet.scope.region.clone();
    // owner → region → endpoint ids.
    let mut wanted: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for s in fleet.snapshots.iter().filter(|s| consumer_readable(s)) {
        let ep = &s.consumer.endpoint;
        let region = regions.get(&ep.id).cloned().unwrap_or_else(|| home.clone());
        wanted
            .entry(ep.owner_id.clone())
            .or_default()
            .entry(region)
            .or_default()
            .push(ep.id.clone());
    }
    let partition = accounts::partition_of(caller_arn);
    let session = accounts::session_length(req.live.timeout);
    // Where pl-doctor runs (instance metadata on EC2), asked once for the whole run.
    let here = match &req.vantage_vpc {
        Some(vpc) => Some(vpc.clone()),
        None => super::vantage::find().await.vpc_id,
    };
    let network = NetworkScope::OnlyInVpc(here);
    let permits = tokio::sync::Semaphore::new(req.concurrency.max(1));
    // Per owner: Ok(consumer snapshots by endpoint id) or why the account could not be read;
    // plus the failures to list in scope.failed.
    let results = futures_util::future::join_all(wanted.iter().map(|(owner, by_region)| {
        let (permits, network, partition) = (&permits, &network, &partition);
        async move {
            let _permit = permits.acquire().await;
            let role_arn = role.arn(partition, owner);
            let conf = if Some(owner.as_str()) == provider_account {
                Ok(hub.clone())
            } else {
                accounts::assume(
                    tracker.stage("consumer: assume role"),
                    hub,
                    &role_arn,
                    role.external_id.as_deref(),
                    session,
                )
                .await
            };
            let conf = match conf {
                Ok(c) => c,
                Err(f) => {
                    let reason = accounts::assume_failure_reason(&role_arn, &f);
                    let failure = ScopeFailure {
                        account: Some(owner.clone()),
                        region: by_region.keys().next().cloned(),
                        operation: "sts:AssumeRole".into(),
                        reason: reason.clone(),
                        hint: accounts::assume_failure_hint(&role_arn, owner, &f),
                    };
                    let why = accounts::unassumable(owner, &format!("{reason} (account {owner})"));
                    let per_endpoint = by_region
                        .values()
                        .flatten()
                        .map(|id| (id.clone(), Err(why.clone())))
                        .collect::<Vec<_>>();
                    return (per_endpoint, vec![failure], Vec::new());
                }
            };
            let mut per_endpoint = Vec::new();
            let mut failures = Vec::new();
            let mut confs = Vec::new();
            for (region, ids) in by_region {
                let conf = accounts::in_region(&conf, region);
                confs.extend(ids.iter().map(|id| (id.clone(), conf.clone())));
                for chunk in ids.chunks(FILTER_CHUNK) {
                    let lookup = Lookup::Endpoints(chunk.to_vec());
                    match accounts::read_member(
                        &req.live, &lookup, &conf, tracker, deadline, network, owner,
                    )
                    .await
                    {
                        Ok(c) => {
                            let mut found: BTreeMap<String, Snapshot> = c
                                .snapshots
                                .into_iter()
                                .map(|s| (s.consumer.endpoint.id.clone(), s))
                                .collect();
                            for id in chunk {
                                per_endpoint.push((
                                    id.clone(),
                                    found.remove(id).ok_or_else(|| {
                                        accounts::unassumable(
                                            owner,
                                            &format!(
                                                "{id} is not among the interface endpoints of account {owner} in {region} (deleted meanwhile?)"
                                            ),
                                        )
                                    }),
                                ));
                            }
                        }
                        Err(f) => {
                            let why = accounts::unassumable(owner, &f.reason);
                            per_endpoint.extend(chunk.iter().map(|id| (id.clone(), Err(why.clone()))));
                            failures.push(f);
                        }
                    }
                }
            }
            (per_endpoint, failures, confs)
        }
    }))
    .await;
    let mut consumers: BTreeMap<String, Result<Snapshot, Missing>> = BTreeMap::new();
    let mut confs: BTreeMap<String, aws_config::SdkConfig> = BTreeMap::new();
    for (per_endpoint, failures, read_with) in results {
        consumers.extend(per_endpoint);
        fleet.scope.failed.extend(failures);
        confs.extend(read_with);
    }
    fleet.scope.accounts = wanted.keys().cloned().collect();
    let mut regions_read: Vec<String> = wanted.values().flat_map(|r| r.keys().cloned()).collect();
    regions_read.sort();
    regions_read.dedup();
    fleet.scope.regions = regions_read;
    for s in fleet.snapshots.iter_mut() {
        match consumers.remove(&s.consumer.endpoint.id) {
            Some(Ok(consumer)) => *s = fleet::both_sides(s, consumer),
            Some(Err(why)) => {
                confs.remove(&s.consumer.endpoint.id);
                *s = fleet::consumer_unread(s, &why)
            }
            None => {}
        }
    }
    confs
}

/// The endpoint type a service's connections have: Gateway Load Balancer endpoints for
/// a service fronted only by GWLBs, interface endpoints otherwise.
fn endpoint_type(configuration: &ServiceConfiguration) -> &'static str {
    if configuration.network_load_balancer_arns.is_empty()
        && !configuration.gateway_load_balancer_arns.is_empty()
    {
        "GatewayLoadBalancer"
    } else {
        "Interface"
    }
}

/// The endpoint as its connection shows it to the provider: id, owner, state, DNS
/// entries. What only the consumer sees (VPC, subnets, ENIs, groups, private DNS) is left
/// empty; the consumer-side checks are skipped in this view.
fn connection_endpoint(
    c: &ec2t::VpcEndpointConnection,
    configuration: &ServiceConfiguration,
) -> Result<Endpoint, Unreadable> {
    let id = c
        .vpc_endpoint_id()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Unreadable("a connection lacks VpcEndpointId".into()))?;
    let state = c
        .vpc_endpoint_state()
        .map(|s| s.as_str().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Unreadable(format!("connection {id} lacks VpcEndpointState")))?;
    Ok(Endpoint {
        id: id.to_owned(),
        endpoint_type: endpoint_type(configuration).to_owned(),
        state,
        last_error: None,
        owner_id: c.vpc_endpoint_owner().unwrap_or_default().to_owned(),
        vpc_id: String::new(),
        service_name: configuration.service_name.clone(),
        subnet_ids: vec![],
        network_interface_ids: vec![],
        security_group_ids: vec![],
        private_dns_enabled: false,
        dns_entries: c
            .dns_entries()
            .iter()
            .filter_map(|d| {
                Some(DnsEntry {
                    dns_name: d.dns_name()?.to_owned(),
                    hosted_zone_id: d.hosted_zone_id().unwrap_or_default().to_owned(),
                })
            })
            .collect(),
        ip_address_type: c.ip_address_type().map(|t| t.as_str().to_owned()),
        dns_record_ip_type: None,
        service_region: None,
        policy_document: None,
        private_dns_only_for_inbound_resolver_endpoint: None,
    })
}

/// The fleet snapshot of a service: its own snapshot for the service-wide checks, and
/// one per connection, in the order DescribeVpcEndpointConnections listed them.
fn assemble(
    header: &ProviderViewHeader,
    configuration: &ServiceConfiguration,
    account: Option<String>,
    provider: ProviderSide,
    metrics: Fact<Vec<MetricSeries>>,
    connections: &[ec2t::VpcEndpointConnection],
) -> Result<FleetSnapshot, Unreadable> {
    let service = fleet::service_snapshot(header, endpoint_type(configuration), provider, metrics);
    let snapshots = connections
        .iter()
        .map(|c| connection_endpoint(c, configuration))
        .map(|e| e.map(|e| fleet::connection_snapshot(&service, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FleetSnapshot {
        fleet_snapshot_version: FLEET_SNAPSHOT_VERSION,
        kind: FleetKind::Service,
        collected_by: header.collected_by.clone(),
        collected_at: header.collected_at.clone(),
        scope: FleetScope {
            region: header.region.clone(),
            account,
            vpc_id: None,
            service_id: Some(configuration.service_id.clone()),
            service_name: Some(configuration.service_name.clone()),
            ..FleetScope::default()
        },
        service: Some(service),
        snapshots,
        endpoint_quotas: vec![],
    })
}

const RUN_WITH_PROVIDER: &str =
    "run with the provider account's credentials (--profile) and region (--region)";

/// The one-line reason and hint for a service that cannot be read at all.
fn fatal(
    service_id: &str,
    region: &str,
    account: Option<&str>,
    err: &ConfigurationLookupError,
) -> Failure {
    let whom = format!("in {region}, account {}", account.unwrap_or("unknown"));
    let (reason, hint) = match err {
        ConfigurationLookupError::NotInReply => (
            format!("endpoint service {service_id} not found {whom}"),
            format!("wrong region? wrong profile? {RUN_WITH_PROVIDER}"),
        ),
        ConfigurationLookupError::Unreadable(u) => (
            format!("cannot read endpoint service {service_id} {whom}: unreadable reply: {u}"),
            "retry; if it persists, report it with the pl-doctor version".to_owned(),
        ),
        ConfigurationLookupError::Call(f) => match f.kind {
            FailureKind::NotFound => (
                format!("endpoint service {service_id} not found {whom} ({})", one_line(&f.detail())),
                format!("wrong region? wrong profile? {RUN_WITH_PROVIDER}"),
            ),
            FailureKind::NoCredentials => (
                format!("cannot collect {service_id} {whom}: no AWS credentials ({})", one_line(&f.message)),
                format!("{RUN_WITH_PROVIDER}: set AWS_PROFILE or pass --profile, or run aws sso login"),
            ),
            FailureKind::Unreachable => (
                format!("cannot collect {service_id} {whom}: AWS API unreachable ({})", one_line(&f.message)),
                "check --endpoint-url / AWS_ENDPOINT_URL and the network (proxy, VPN)".to_owned(),
            ),
            FailureKind::DeadlinePassed => (
                format!("cannot read endpoint service {service_id} {whom}: the deadline (--timeout) passed while waiting for {}", f.action),
                "raise --timeout; if calls are this slow, check --endpoint-url / the network (proxy, VPN)".to_owned(),
            ),
            FailureKind::AccessDenied => (
                format!("cannot read endpoint service {service_id} {whom}: missing permission {}", f.action),
                format!("grant the provider policy (pl-doctor iam-policy --provider) to these credentials, or {RUN_WITH_PROVIDER}"),
            ),
            _ => (
                format!("cannot read endpoint service {service_id} {whom}: {} failed: {}", f.action, one_line(&f.detail())),
                "retry; if it persists, check --endpoint-url / the network, then the AWS Health Dashboard for the region".to_owned(),
            ),
        },
    };
    Failure::CannotDiagnose { reason, hint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::errors::CallFailure;
    use pl_checks::check::{EvalOptions, Status};
    use pl_checks::fact::Missing;
    use pl_checks::scenarios::base;

    fn header() -> ProviderViewHeader {
        ProviderViewHeader {
            collected_by: "pl-doctor test".into(),
            collected_at: "2026-11-24T10:00:00Z".into(),
            region: base::REGION.into(),
            inputs: CollectionInputs::default(),
            window_start: "2026-11-24T09:00:00Z".into(),
            window_end: "2026-11-24T10:00:00Z".into(),
        }
    }

    fn connection(id: &str, owner: &str, state: &str) -> ec2t::VpcEndpointConnection {
        ec2t::VpcEndpointConnection::builder()
            .vpc_endpoint_id(id)
            .vpc_endpoint_owner(owner)
            .vpc_endpoint_state(ec2t::State::from(state))
            .dns_entries(
                ec2t::DnsEntry::builder()
                    .dns_name(format!(
                        "{id}-abcd1234.{}.us-east-1.vpce.amazonaws.com",
                        base::SERVICE_ID
                    ))
                    .hosted_zone_id("Z7HUB22UULQXV")
                    .build(),
            )
            .dns_entries(
                ec2t::DnsEntry::builder()
                    .dns_name(format!(
                        "{id}-abcd1234-us-east-1a.{}.us-east-1.vpce.amazonaws.com",
                        base::SERVICE_ID
                    ))
                    .hosted_zone_id("Z7HUB22UULQXV")
                    .build(),
            )
            .ip_address_type(ec2t::IpAddressType::Ipv4)
            .build()
    }

    fn healthy_configuration() -> ServiceConfiguration {
        base::healthy()
            .provider
            .service_configuration
            .known()
            .cloned()
            .unwrap()
    }

    #[test]
    fn a_connection_becomes_an_endpoint_with_only_what_the_provider_sees() {
        let e = connection_endpoint(
            &connection(
                "vpce-0aaaaaaaaaaaaaaaa",
                "333333333333",
                "pendingAcceptance",
            ),
            &healthy_configuration(),
        )
        .unwrap();
        assert_eq!(e.id, "vpce-0aaaaaaaaaaaaaaaa");
        assert_eq!(e.owner_id, "333333333333");
        assert_eq!(e.state, "pendingAcceptance");
        assert_eq!(e.endpoint_type, "Interface");
        assert_eq!(e.service_name, base::SERVICE_NAME);
        assert_eq!(e.dns_entries.len(), 2);
        assert_eq!(e.ip_address_type.as_deref(), Some("ipv4"));
        assert!(
            e.vpc_id.is_empty() && e.subnet_ids.is_empty() && e.network_interface_ids.is_empty()
        );

        let mut gwlb = healthy_configuration();
        gwlb.network_load_balancer_arns.clear();
        gwlb.gateway_load_balancer_arns = vec!["arn:gwlb".into()];
        assert_eq!(endpoint_type(&gwlb), "GatewayLoadBalancer");

        let no_state = ec2t::VpcEndpointConnection::builder()
            .vpc_endpoint_id("vpce-0bbbbbbbbbbbbbbbb")
            .build();
        assert!(connection_endpoint(&no_state, &healthy_configuration()).is_err());
    }

    #[test]
    fn each_connection_gets_a_provider_view_snapshot_and_the_service_its_own() {
        let healthy = base::healthy();
        let mut provider = healthy.provider.clone();
        let mut records = provider.connections.known().cloned().unwrap();
        let mut second = records[0].clone();
        second.vpc_endpoint_id = "vpce-0aaaaaaaaaaaaaaaa".into();
        second.vpc_endpoint_owner = "333333333333".into();
        second.vpc_endpoint_state = "pendingAcceptance".into();
        records.push(second);
        provider.connections = Fact::Known(records);
        let raw = [
            connection(base::ENDPOINT_ID, base::CONSUMER_ACCOUNT, "available"),
            connection(
                "vpce-0aaaaaaaaaaaaaaaa",
                "333333333333",
                "pendingAcceptance",
            ),
        ];
        let fleet = assemble(
            &header(),
            &healthy_configuration(),
            Some(base::PROVIDER_ACCOUNT.into()),
            provider,
            Fact::Known(vec![]),
            &raw,
        )
        .unwrap();
        assert_eq!(fleet.kind, FleetKind::Service);
        assert_eq!(fleet.scope.service_id.as_deref(), Some(base::SERVICE_ID));
        assert_eq!(fleet.scope.account.as_deref(), Some(base::PROVIDER_ACCOUNT));
        assert_eq!(fleet.snapshots.len(), 2);
        let service = fleet.service.as_ref().unwrap();
        assert_eq!(service.inputs.view, View::Provider);
        assert_eq!(service.provider.connections.known().unwrap().len(), 2);
        let pending = &fleet.snapshots[1];
        assert_eq!(pending.inputs.view, View::Provider);
        assert_eq!(pending.inputs.endpoint_id, "vpce-0aaaaaaaaaaaaaaaa");
        // Its own connection record only.
        assert_eq!(pending.provider.connections.known().unwrap().len(), 1);
        let Fact::Absent(Missing::NotVisible { account, hint }) = &pending.consumer.endpoint_enis
        else {
            panic!("consumer facts are not visible")
        };
        assert_eq!(account.as_deref(), Some("333333333333"));
        assert!(
            hint.contains("pl-doctor --endpoint vpce-0aaaaaaaaaaaaaaaa"),
            "{hint}"
        );

        let report = fleet::build(&fleet, &EvalOptions::default(), "t".into(), 0);
        let row = report
            .reports
            .iter()
            .find(|r| r.target.endpoint_id == "vpce-0aaaaaaaaaaaaaaaa")
            .unwrap();
        assert_eq!(row.target.consumer_account.as_deref(), Some("333333333333"));
        assert_eq!(row.target.endpoint_state, "pendingAcceptance");
        let status = |id: &str| row.checks.iter().find(|c| c.id == id).unwrap().status;
        assert_eq!(status("endpoint-state"), Status::Fail);
        assert_eq!(status("connection-acceptance"), Status::Fail);
        // 333333333333 is not on the healthy scenario's allow-list, and not yet accepted.
        assert_eq!(status("allowed-principals"), Status::Fail);
        assert_eq!(status("endpoint-sg-ingress"), Status::Skip);
        assert_eq!(
            report.reports[0].target.endpoint_id,
            "vpce-0aaaaaaaaaaaaaaaa"
        );
    }

    fn reason_and_hint(f: Failure) -> (String, String) {
        match f {
            Failure::CannotDiagnose { reason, hint } => (reason, hint),
            other => panic!("not CannotDiagnose: {other:?}"),
        }
    }

    #[test]
    fn an_unknown_service_is_one_line_naming_service_region_account_with_a_hint() {
        let svc = "vpce-svc-0123456789abcdef0";
        for err in [
            ConfigurationLookupError::NotInReply,
            ConfigurationLookupError::Call(CallFailure {
                action: "ec2:DescribeVpcEndpointServiceConfigurations",
                kind: FailureKind::NotFound,
                code: Some("InvalidVpcEndpointServiceId.NotFound".into()),
                message: "The VpcEndpointService Id 'x'\n does not exist".into(),
            }),
        ] {
            let (reason, hint) =
                reason_and_hint(fatal(svc, "eu-west-1", Some("111111111111"), &err));
            assert!(
                reason.contains(svc)
                    && reason.contains("eu-west-1")
                    && reason.contains("111111111111"),
                "{reason}"
            );
            assert!(
                reason.contains("not found") && !reason.contains('\n'),
                "{reason}"
            );
            assert!(
                hint.contains("provider account's credentials (--profile)")
                    && hint.contains("region"),
                "{hint}"
            );
        }
        let (reason, hint) = reason_and_hint(fatal(
            svc,
            "eu-west-1",
            None,
            &ConfigurationLookupError::Call(CallFailure {
                action: "ec2:DescribeVpcEndpointServiceConfigurations",
                kind: FailureKind::AccessDenied,
                code: Some("UnauthorizedOperation".into()),
                message: "no".into(),
            }),
        ));
        assert!(
            reason.contains("missing permission ec2:DescribeVpcEndpointServiceConfigurations")
                && reason.contains("account unknown"),
            "{reason}"
        );
        assert!(hint.contains("iam-policy --provider"), "{hint}");
    }
}
