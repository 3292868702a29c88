//! The provider account: the endpoint service, its NLBs, listeners, target groups and
//! targets. Reached through a second profile or an assumed role; without that access
//! every provider fact says so.

use super::convert::{self, elb::TargetPlacement, Unreadable};
use super::errors::CallFailure;
use super::metrics;
use super::progress::{Stage, Tracker};
use super::{convert_all, fact, prefix_lists, security_groups, sorted_unique, unreadable};
use aws_sdk_ec2::types::{self as ec2t, Filter};
use aws_sdk_elasticloadbalancingv2::types as elb;
use futures_util::future::join_all;
use ipnet::IpNet;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub struct Clients {
    ec2: aws_sdk_ec2::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    sts: aws_sdk_sts::Client,
    sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::new(conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
            sns: aws_sdk_sns::Client::new(conf),
        }
    }
}

/// Every provider fact, absent because pl-doctor was given no way into `owner`'s account.
pub fn without_access(owner: Option<&str>) -> ProviderSide {
    ProviderSide {
        identity: Fact::needs_provider(owner),
        service_configuration: Fact::needs_provider(owner),
        allowed_principals: Fact::needs_provider(owner),
        connections: Fact::needs_provider(owner),
        az_map: Fact::needs_provider(owner),
        load_balancers: Fact::needs_provider(owner),
        target_groups: Fact::needs_provider(owner),
        subnets: Fact::needs_provider(owner),
        security_groups: Fact::needs_provider(owner),
        prefix_lists: Fact::needs_provider(owner),
        connection_notifications: Fact::needs_provider(owner),
        alb_target_groups: Fact::needs_provider(owner),
    }
}

/// The service id is the last dot-separated part of its name
/// (`com.amazonaws.vpce.us-east-1.vpce-svc-0123…` → `vpce-svc-0123…`).
pub fn service_id(service_name: &str) -> &str {
    service_name.rsplit('.').next().unwrap_or(service_name)
}

/// Why the service's configuration could not be read.
#[derive(Debug)]
pub enum ConfigurationLookupError {
    /// The call answered, without this service.
    NotInReply,
    Call(CallFailure),
    Unreadable(Unreadable),
}

/// The first provider stage: who the credentials are, the AZ map, and everything read
/// by the service id alone (configuration, permissions, connections), all in flight at once.
pub struct ServiceLookup {
    pub service_id: String,
    pub identity: Fact<CallerIdentity>,
    pub az_map: Fact<Vec<AzMapping>>,
    pub configuration: Result<ServiceConfiguration, ConfigurationLookupError>,
    pub allowed_principals: Fact<Vec<AllowedPrincipal>>,
    /// DescribeVpcEndpointConnections as the SDK returned it: the provider view builds
    /// each connection's endpoint from it (DNS entries and all).
    pub connections: Result<Vec<ec2t::VpcEndpointConnection>, CallFailure>,
    /// DescribeVpcEndpointConnectionNotifications filtered to the service.
    pub notifications: Result<Vec<ec2t::ConnectionNotification>, CallFailure>,
}

impl ServiceLookup {
    /// The configuration as a fact: absent with the reason it could not be read.
    pub fn configuration_fact(&self) -> Fact<ServiceConfiguration> {
        const ACTION: &str = "ec2:DescribeVpcEndpointServiceConfigurations";
        match &self.configuration {
            Ok(c) => Fact::Known(c.clone()),
            Err(ConfigurationLookupError::NotInReply) => Fact::Absent(Missing::ApiError {
                operation: ACTION.into(),
                message: format!(
                    "{} is not a service of the provider account these credentials reach",
                    self.service_id
                ),
            }),
            Err(ConfigurationLookupError::Call(f)) => Fact::Absent(f.to_missing()),
            Err(ConfigurationLookupError::Unreadable(u)) => {
                Fact::Absent(unreadable(ACTION, u.clone()))
            }
        }
    }

    /// Every connection of the service, converted.
    pub fn connections_fact(&self) -> Fact<Vec<EndpointConnection>> {
        convert_all(
            "ec2:DescribeVpcEndpointConnections",
            self.connections.clone(),
            convert::ec2::endpoint_connection,
        )
    }
}

/// The one-endpoint and fleet path: every provider fact for the service the endpoint
/// connects to, and its metrics when asked.
pub async fn collect(
    tracker: &Tracker,
    c: &Clients,
    service_name: &str,
    account: impl std::future::Future<Output = Option<AccountFacts>>,
    metrics: Option<MetricsRequest<'_>>,
) -> (ProviderSide, Option<ProviderSeries>) {
    let l = lookup(tracker, c, service_id(service_name), account).await;
    complete(tracker, c, &l, metrics).await
}

/// The provider account's own facts, which need no service: who the credentials are and
/// the account's AZ map. Asked first (beside the consumer's endpoint lookup), they also
/// resolve assumed-role credentials before the service stage needs them.
#[derive(Debug, Clone)]
pub struct AccountFacts {
    pub identity: Fact<CallerIdentity>,
    pub az_map: Fact<Vec<AzMapping>>,
}

pub async fn account(tracker: &Tracker, c: &Clients) -> AccountFacts {
    let stage = tracker.stage("provider: account");
    let identity = stage.call("sts:GetCallerIdentity", c.sts.get_caller_identity().send());
    let azs = stage.call(
        "ec2:DescribeAvailabilityZones",
        c.ec2.describe_availability_zones().send(),
    );
    let (identity, azs) = tokio::join!(identity, azs);
    let identity = match identity {
        Ok(out) => match convert::ec2::caller_identity(&out) {
            Ok(i) => Fact::Known(i),
            Err(u) => Fact::Absent(unreadable("sts:GetCallerIdentity", u)),
        },
        Err(f) => Fact::Absent(f.to_missing()),
    };
    let az_map = fact(azs).map(|out| convert::ec2::az_map(out.availability_zones()));
    AccountFacts { identity, az_map }
}

/// The provider's CloudWatch metrics, fetched as soon as the target groups are known.
#[derive(Clone, Copy)]
pub struct MetricsRequest<'a> {
    pub client: &'a aws_sdk_cloudwatch::Client,
    pub period_seconds: u32,
    pub window: metrics::Window,
    pub deadline: tokio::time::Instant,
}

pub type ProviderSeries = Result<Vec<MetricSeries>, Missing>;

/// Stage 1: configuration ∥ permissions ∥ connections (everything read by the service id
/// alone), beside the account's facts unless they are already known.
pub async fn lookup(
    tracker: &Tracker,
    c: &Clients,
    svc_id: &str,
    account_facts: impl std::future::Future<Output = Option<AccountFacts>>,
) -> ServiceLookup {
    let stage = tracker.stage("provider: service");
    // Facts already being asked elsewhere (the one-endpoint path starts them beside the
    // endpoint lookup) are awaited here, beside the service's calls, never before them.
    let account_facts = async {
        match account_facts.await {
            Some(a) => a,
            None => account(tracker, c).await,
        }
    };
    let configuration = async {
        const ACTION: &str = "ec2:DescribeVpcEndpointServiceConfigurations";
        let r = stage
            .call(
                ACTION,
                c.ec2
                    .describe_vpc_endpoint_service_configurations()
                    .service_ids(svc_id)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
            .await;
        match r {
            Err(f) => Err(ConfigurationLookupError::Call(f)),
            Ok(list) => match list.iter().find(|s| s.service_id() == Some(svc_id)) {
                None => Err(ConfigurationLookupError::NotInReply),
                Some(s) => convert::ec2::service_configuration(s)
                    .map_err(ConfigurationLookupError::Unreadable),
            },
        }
    };
    let permissions = async {
        const ACTION: &str = "ec2:DescribeVpcEndpointServicePermissions";
        let r = stage
            .call(
                ACTION,
                c.ec2
                    .describe_vpc_endpoint_service_permissions()
                    .service_id(svc_id)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
            .await;
        convert_all(ACTION, r, convert::ec2::allowed_principal)
    };
    let connections = stage.call(
        "ec2:DescribeVpcEndpointConnections",
        c.ec2
            .describe_vpc_endpoint_connections()
            .filters(Filter::builder().name("service-id").values(svc_id).build())
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let notifications = stage.call(
        DESCRIBE_NOTIFICATIONS,
        c.ec2
            .describe_vpc_endpoint_connection_notifications()
            .filters(Filter::builder().name("service-id").values(svc_id).build())
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let (account_facts, configuration, allowed_principals, connections, notifications) = tokio::join!(
        account_facts,
        configuration,
        permissions,
        connections,
        notifications
    );
    ServiceLookup {
        service_id: svc_id.to_owned(),
        identity: account_facts.identity,
        az_map: account_facts.az_map,
        configuration,
        allowed_principals,
        connections,
        notifications,
    }
}

/// The stages after the lookup: the NLBs behind the service and everything behind them.
pub async fn complete(
    tracker: &Tracker,
    c: &Clients,
    l: &ServiceLookup,
    metrics: Option<MetricsRequest<'_>>,
) -> (ProviderSide, Option<ProviderSeries>) {
    let service_configuration = l.configuration_fact();
    let connections = l.connections_fact();
    // The endpoints whose AWS/PrivateLinkServices series can exist: the connected ones.
    let connected: Vec<String> = connections
        .known()
        .map(|cs| {
            cs.iter()
                .filter(|c| {
                    !["deleted", "deleting", "rejected", "expired", "failed"]
                        .iter()
                        .any(|st| eq_wire(st, &c.vpc_endpoint_state))
                })
                .map(|c| c.vpc_endpoint_id.clone())
                .collect()
        })
        .unwrap_or_default();
    let lbs = async {
        match &service_configuration {
            Fact::Known(s) => {
                let service = (s.service_id.clone(), connected);
                load_balancers(
                    tracker,
                    c,
                    s.network_load_balancer_arns.clone(),
                    service,
                    metrics,
                )
                .await
            }
            Fact::Absent(m) => (
                LoadBalancing::absent(m.clone()),
                metrics.map(|_| Err(m.clone())),
            ),
        }
    };
    // The notifications' topic policies beside the load balancers: they need only the
    // notification list.
    let ((lbs, series), connection_notifications) =
        tokio::join!(lbs, connection_notifications(tracker, c, &l.notifications));
    let side = ProviderSide {
        identity: l.identity.clone(),
        service_configuration,
        allowed_principals: l.allowed_principals.clone(),
        connections,
        az_map: l.az_map.clone(),
        load_balancers: lbs.load_balancers,
        target_groups: lbs.target_groups,
        subnets: lbs.subnets,
        security_groups: lbs.security_groups,
        prefix_lists: lbs.prefix_lists,
        connection_notifications,
        alb_target_groups: lbs.alb_target_groups,
    };
    (side, series)
}

const DESCRIBE_NOTIFICATIONS: &str = "ec2:DescribeVpcEndpointConnectionNotifications";
const GET_TOPIC_ATTRIBUTES: &str = "sns:GetTopicAttributes";

/// The service's connection notifications, each with its SNS topic's policy (one
/// GetTopicAttributes per distinct topic, all at once).
async fn connection_notifications(
    tracker: &Tracker,
    c: &Clients,
    listed: &Result<Vec<ec2t::ConnectionNotification>, CallFailure>,
) -> Fact<Vec<ConnectionNotification>> {
    let listed = match listed {
        Ok(l) => l,
        Err(f) => return Fact::Absent(f.to_missing()),
    };
    let topics = sorted_unique(
        listed
            .iter()
            .filter_map(|n| n.connection_notification_arn().map(str::to_owned)),
    );
    let stage = tracker.stage("provider: notification topics");
    let policies: BTreeMap<String, Fact<String>> = join_all(topics.iter().map(|t| async move {
        let r = stage
            .call(
                GET_TOPIC_ATTRIBUTES,
                c.sns.get_topic_attributes().topic_arn(t).send(),
            )
            .await;
        let policy = match r {
            Ok(o) => match o.attributes().and_then(|a| a.get("Policy")) {
                Some(p) => Fact::Known(p.clone()),
                None => Fact::Absent(Missing::ApiError {
                    operation: GET_TOPIC_ATTRIBUTES.into(),
                    message: format!("{t} has no Policy attribute"),
                }),
            },
            Err(f) => Fact::Absent(f.to_missing()),
        };
        (t.clone(), policy)
    }))
    .await
    .into_iter()
    .collect();
    convert_all(
        DESCRIBE_NOTIFICATIONS,
        Ok::<_, CallFailure>(listed.clone()),
        |n| {
            convert::ec2::connection_notification(n, |topic| {
                policies.get(topic).cloned().unwrap_or_else(|| {
                    Fact::Absent(Missing::ApiError {
                        operation: GET_TOPIC_ATTRIBUTES.into(),
                        message: "the notification names no topic".into(),
                    })
                })
            })
        },
    )
}

/// Everything behind the service's NLBs.
struct LoadBalancing {
    alb_target_groups: Fact<Vec<AlbTargetGroup>>,
    load_balancers: Fact<Vec<LoadBalancer>>,
    target_groups: Fact<Vec<TargetGroup>>,
    subnets: Fact<Vec<Subnet>>,
    security_groups: Fact<Vec<SecurityGroup>>,
    prefix_lists: Fact<Vec<PrefixList>>,
}

impl LoadBalancing {
    fn absent(m: Missing) -> Self {
        LoadBalancing {
            alb_target_groups: Fact::Absent(m.clone()),
            load_balancers: Fact::Absent(m.clone()),
            target_groups: Fact::Absent(m.clone()),
            subnets: Fact::Absent(m.clone()),
            security_groups: Fact::Absent(m.clone()),
            prefix_lists: Fact::Absent(m),
        }
    }
}

/// What the per-NLB calls of one stage returned.
struct PerLb {
    lb: elb::LoadBalancer,
    listeners: Result<Vec<elb::Listener>, CallFailure>,
    attributes: Result<Vec<elb::LoadBalancerAttribute>, CallFailure>,
    target_groups: Result<Vec<elb::TargetGroup>, CallFailure>,
}

const DESCRIBE_TARGET_GROUPS: &str = "elasticloadbalancing:DescribeTargetGroups";
const DESCRIBE_SUBNETS: &str = "ec2:DescribeSubnets";
const DESCRIBE_INSTANCES: &str = "ec2:DescribeInstances";
const DESCRIBE_ENIS: &str = "ec2:DescribeNetworkInterfaces";

async fn load_balancers(
    tracker: &Tracker,
    c: &Clients,
    arns: Vec<String>,
    service: (String, Vec<String>),
    metrics: Option<MetricsRequest<'_>>,
) -> (LoadBalancing, Option<ProviderSeries>) {
    if arns.is_empty() {
        // A service fronted by Gateway Load Balancers only: no NLB facts to gather.
        let nothing = LoadBalancing {
            alb_target_groups: Fact::Known(vec![]),
            load_balancers: Fact::Known(vec![]),
            target_groups: Fact::Known(vec![]),
            subnets: Fact::Known(vec![]),
            security_groups: Fact::Known(vec![]),
            prefix_lists: Fact::Known(vec![]),
        };
        return (nothing, metrics.map(|_| Ok(vec![])));
    }
    // DescribeLoadBalancers ∥ per NLB (listeners ∥ attributes ∥ target groups) ∥ the NLBs'
    // own ENIs: all of them need only the ARNs, so they share one round trip.
    let stage = tracker.stage("provider: load balancers");
    let eni_descriptions: Vec<String> = arns
        .iter()
        .filter_map(|arn| convert::elb::nlb_eni_description(arn))
        .collect();
    let describe = stage.call(
        "elasticloadbalancing:DescribeLoadBalancers",
        c.elb
            .describe_load_balancers()
            .set_load_balancer_arns(Some(arns.clone()))
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let calls = join_all(arns.iter().map(|arn| per_lb(stage, c, arn)));
    let (lbs, calls, nlb_addresses) =
        tokio::join!(describe, calls, nlb_addresses(stage, c, eni_descriptions));
    let lbs = match lbs {
        Ok(lbs) => lbs,
        Err(f) => {
            let m = f.to_missing();
            return (LoadBalancing::absent(m.clone()), metrics.map(|_| Err(m)));
        }
    };
    // An ARN the configuration names but DescribeLoadBalancers does not return (deleted)
    // has no facts to pair its calls with.
    let per_lb: Vec<PerLb> = calls
        .into_iter()
        .filter_map(|(arn, calls)| {
            let lb = lbs
                .iter()
                .find(|l| l.load_balancer_arn() == Some(arn.as_str()))?
                .clone();
            Some(PerLb {
                lb,
                listeners: calls.0,
                attributes: calls.1,
                target_groups: calls.2,
            })
        })
        .collect();
    let vpc_ids = sorted_unique(
        per_lb
            .iter()
            .filter_map(|p| p.lb.vpc_id().map(str::to_owned))
            .chain(
                per_lb
                    .iter()
                    .filter_map(|p| p.target_groups.as_ref().ok())
                    .flatten()
                    .filter_map(|tg| tg.vpc_id().map(str::to_owned)),
            ),
    );

    // The provider metrics need only the NLB and target group ARNs: they run beside
    // everything from here on instead of after it.
    let provider_series = async {
        let m = metrics?;
        let groups: Result<Vec<(String, Vec<String>)>, Missing> = per_lb
            .iter()
            .map(|p| match &p.target_groups {
                Ok(tgs) => Ok(tgs
                    .iter()
                    .map(|t| {
                        (
                            t.target_group_arn().unwrap_or_default().to_owned(),
                            t.load_balancer_arns().to_vec(),
                        )
                    })
                    .collect::<Vec<_>>()),
                Err(f) => Err(f.to_missing()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.into_iter().flatten().collect());
        let nlbs = per_lb
            .iter()
            .map(|p| {
                let arn = p.lb.load_balancer_arn().unwrap_or_default().to_owned();
                let zones =
                    p.lb.availability_zones()
                        .iter()
                        .filter_map(|z| z.zone_name().map(str::to_owned))
                        .collect();
                (arn, zones)
            })
            .collect();
        let plan = groups.and_then(|target_groups| {
            let scope = metrics::ProviderScope {
                nlbs,
                target_groups,
                service: Some(service),
            };
            metrics::provider_plan_for(&scope, m.period_seconds)
        });
        Some(match plan {
            Ok(plan) => {
                let stage = tracker.stage("provider: metrics");
                metrics::fetch(stage, m.client, &plan, m.window, m.deadline).await
            }
            Err(missing) => Err(missing),
        })
    };
    let behind = behind_load_balancers(tracker, c, &per_lb, vpc_ids, nlb_addresses);
    tokio::join!(behind, provider_series)
}

/// Target health, the targets and their security groups, behind the NLBs already described.
async fn behind_load_balancers(
    tracker: &Tracker,
    c: &Clients,
    per_lb: &[PerLb],
    vpc_ids: Vec<String>,
    nlb_addresses: BTreeMap<String, Vec<IpAddr>>,
) -> LoadBalancing {
    // Listener attributes ∥ target health ∥ target group attributes.
    let stage = tracker.stage("provider: target health");
    let listener_arns: Vec<String> = per_lb
        .iter()
        .filter_map(|p| p.listeners.as_ref().ok())
        .flatten()
        .filter_map(|l| l.listener_arn().map(str::to_owned))
        .collect();
    let mut tgs: Vec<&elb::TargetGroup> = Vec::new();
    for tg in per_lb
        .iter()
        .filter_map(|p| p.target_groups.as_ref().ok())
        .flatten()
    {
        if !tgs
            .iter()
            .any(|t| t.target_group_arn() == tg.target_group_arn())
        {
            tgs.push(tg);
        }
    }
    let idle_timeouts = join_all(listener_arns.iter().map(|arn| async move {
        let r = stage
            .call(
                "elasticloadbalancing:DescribeListenerAttributes",
                c.elb
                    .describe_listener_attributes()
                    .listener_arn(arn)
                    .send(),
            )
            .await;
        let timeout = r
            .map(|o| convert::elb::listener_idle_timeout(o.attributes()))
            .map_err(|f| f.to_missing());
        (arn.clone(), timeout)
    }));
    let health = join_all(tgs.iter().map(|tg| {
        stage.call(
            "elasticloadbalancing:DescribeTargetHealth",
            c.elb
                .describe_target_health()
                .target_group_arn(tg.target_group_arn().unwrap_or_default())
                .send(),
        )
    }));
    let tg_cross_zone = join_all(tgs.iter().map(|tg| async move {
        target_group_attributes(stage, c, tg.target_group_arn().unwrap_or_default())
            .await
            .map(|a| convert::elb::target_group_attrs(&a))
    }));
    // The subnets and security groups of the NLBs' and target groups' VPCs, by filter in
    // this same round trip: the groups a target turns out to use are almost always among
    // them, so the targets' groups need no round trip of their own.
    let (idle_timeouts, health, tg_cross_zone, vpc_subnets, vpc_groups) = tokio::join!(
        idle_timeouts,
        health,
        tg_cross_zone,
        vpc_subnets(stage, c, vpc_ids.clone()),
        vpc_security_groups(stage, c, vpc_ids)
    );
    let idle_timeouts: BTreeMap<String, Result<Option<u32>, Missing>> =
        idle_timeouts.into_iter().collect();
    let health: Vec<Result<Vec<elb::TargetHealthDescription>, CallFailure>> = health
        .into_iter()
        .map(|r| r.map(|o| o.target_health_descriptions().to_vec()))
        .collect();

    // Where the targets are: instances' placement, and the ENIs holding IP targets.
    let stage = tracker.stage("provider: targets");
    let targets_of = |kind: &str| -> Vec<String> {
        sorted_unique(
            tgs.iter()
                .zip(&health)
                .filter(|(tg, _)| tg.target_type().map(|t| t.as_str()) == Some(kind))
                .filter_map(|(_, h)| h.as_ref().ok())
                .flatten()
                .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned)),
        )
    };
    let instance_ids = targets_of("instance");
    let target_ips = targets_of("ip");
    let tg_vpcs = sorted_unique(tgs.iter().filter_map(|t| t.vpc_id().map(str::to_owned)));
    let alb_arns = targets_of("alb");
    let (instances, target_enis, alb_target_groups) = tokio::join!(
        target_instances(stage, c, instance_ids),
        target_enis(stage, c, target_ips, tg_vpcs),
        alb_target_groups(tracker, c, alb_arns)
    );

    let subnet_list: Result<&[Subnet], &Missing> = vpc_subnets.as_deref();
    let mut used_subnets: Vec<String> = per_lb
        .iter()
        .flat_map(|p| p.lb.availability_zones())
        .filter_map(|z| z.subnet_id().map(str::to_owned))
        .collect();
    let mut target_groups = Vec::new();
    let mut target_groups_missing = per_lb
        .iter()
        .find_map(|p| p.target_groups.as_ref().err())
        .map(|f| f.to_missing());
    for ((tg, health), cross_zone) in tgs.iter().zip(health).zip(tg_cross_zone) {
        let kind = tg
            .target_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        let targets = match health {
            Ok(descriptions) => {
                let converted: Result<Vec<TargetHealthFact>, _> = descriptions
                    .iter()
                    .map(|d| {
                        let id = d.target().and_then(|t| t.id()).unwrap_or_default();
                        let (placement, subnet) =
                            place_target(&kind, id, &instances, &target_enis, subnet_list);
                        used_subnets.extend(subnet);
                        convert::elb::target_health(d, placement)
                    })
                    .collect();
                match converted {
                    Ok(t) => Fact::Known(t),
                    Err(u) => {
                        Fact::Absent(unreadable("elasticloadbalancing:DescribeTargetHealth", u))
                    }
                }
            }
            Err(f) => Fact::Absent(f.to_missing()),
        };
        match convert::elb::target_group(tg, cross_zone, targets) {
            Ok(t) => target_groups.push(t),
            Err(u) => target_groups_missing = Some(unreadable(DESCRIBE_TARGET_GROUPS, u)),
        }
    }

    let mut load_balancers = Vec::new();
    let mut load_balancers_missing = None;
    for p in per_lb {
        let attributes = match &p.attributes {
            Ok(a) => Fact::Known(convert::elb::lb_attributes(a)),
            Err(f) => Fact::Absent(f.to_missing()),
        };
        let listeners = match &p.listeners {
            Ok(ls) => {
                let converted: Result<Vec<Listener>, _> = ls
                    .iter()
                    .map(|l| {
                        let timeout = l
                            .listener_arn()
                            .and_then(|a| idle_timeouts.get(a).cloned())
                            .unwrap_or(Ok(None));
                        convert::elb::listener(l, timeout)
                    })
                    .collect();
                match converted {
                    Ok(l) => Fact::Known(l),
                    Err(u) => Fact::Absent(unreadable("elasticloadbalancing:DescribeListeners", u)),
                }
            }
            Err(f) => Fact::Absent(f.to_missing()),
        };
        match convert::elb::load_balancer(&p.lb, attributes, listeners, &nlb_addresses) {
            Ok(lb) => load_balancers.push(lb),
            Err(u) => {
                load_balancers_missing =
                    Some(unreadable("elasticloadbalancing:DescribeLoadBalancers", u))
            }
        }
    }

    let subnets = match &vpc_subnets {
        Ok(all) => {
            let used = sorted_unique(used_subnets);
            Fact::Known(
                all.iter()
                    .filter(|s| used.contains(&s.id))
                    .cloned()
                    .collect(),
            )
        }
        Err(m) => Fact::Absent(m.clone()),
    };

    // Security groups of the NLBs and of every target, then the prefix lists they use.
    let group_ids = sorted_unique(
        load_balancers
            .iter()
            .flat_map(|lb| lb.security_group_ids.iter().cloned())
            .chain(
                target_groups
                    .iter()
                    .filter_map(|tg| tg.targets.known())
                    .flatten()
                    .filter_map(|t| t.security_group_ids.known())
                    .flatten()
                    .cloned(),
            ),
    );
    let groups = match vpc_groups {
        Fact::Known(in_vpcs) => {
            // Only groups outside those VPCs (rare: targets in a peered VPC) cost a call.
            let elsewhere: Vec<String> = group_ids
                .iter()
                .filter(|id| !in_vpcs.iter().any(|g| &g.id == *id))
                .cloned()
                .collect();
            let more = security_groups(
                tracker.stage("provider: security groups"),
                &c.ec2,
                elsewhere,
            )
            .await;
            more.map(|more| {
                in_vpcs
                    .into_iter()
                    .filter(|g| group_ids.contains(&g.id))
                    .chain(more)
                    .collect()
            })
        }
        Fact::Absent(_) => {
            security_groups(
                tracker.stage("provider: security groups"),
                &c.ec2,
                group_ids,
            )
            .await
        }
    };
    let lists = prefix_lists(tracker, "provider: prefix lists", &c.ec2, &groups).await;

    LoadBalancing {
        alb_target_groups,
        load_balancers: match load_balancers_missing {
            Some(m) => Fact::Absent(m),
            None => Fact::Known(load_balancers),
        },
        target_groups: match target_groups_missing {
            Some(m) => Fact::Absent(m),
            None => Fact::Known(target_groups),
        },
        subnets,
        security_groups: groups,
        prefix_lists: lists,
    }
}

/// The target groups of the ALBs registered as `alb`-type targets, with their cross-zone
/// attribute: DescribeTargetGroups by each ALB's ARN, then their attributes. No call when
/// no target is an ALB.
async fn alb_target_groups(
    tracker: &Tracker,
    c: &Clients,
    alb_arns: Vec<String>,
) -> Fact<Vec<AlbTargetGroup>> {
    if alb_arns.is_empty() {
        return Fact::Known(vec![]);
    }
    let stage = tracker.stage("provider: ALB target groups");
    let listed = join_all(alb_arns.iter().map(|arn| async move {
        let r = stage
            .call(
                DESCRIBE_TARGET_GROUPS,
                c.elb
                    .describe_target_groups()
                    .load_balancer_arn(arn)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
            .await;
        (arn.clone(), r)
    }))
    .await;
    let mut groups: Vec<(String, elb::TargetGroup)> = Vec::new();
    for (arn, r) in listed {
        match r {
            Ok(tgs) => groups.extend(tgs.into_iter().map(|t| (arn.clone(), t))),
            Err(f) => return Fact::Absent(f.to_missing()),
        }
    }
    let stage = tracker.stage("provider: ALB target group attributes");
    let attrs = join_all(groups.iter().map(|(_, tg)| async move {
        target_group_attributes(stage, c, tg.target_group_arn().unwrap_or_default())
            .await
            .map(|a| convert::elb::target_group_cross_zone(&a))
    }))
    .await;
    Fact::Known(
        groups
            .iter()
            .zip(attrs)
            .map(|((alb, tg), attr)| {
                let (cross_zone, attributes_missing) = match attr {
                    Ok(v) => (v, None),
                    Err(m) => (None, Some(m)),
                };
                AlbTargetGroup {
                    load_balancer_arn: alb.clone(),
                    arn: tg.target_group_arn().unwrap_or_default().to_owned(),
                    name: tg.target_group_name().unwrap_or_default().to_owned(),
                    cross_zone,
                    attributes_missing,
                }
            })
            .collect(),
    )
}

type PerLbCalls = (
    Result<Vec<elb::Listener>, CallFailure>,
    Result<Vec<elb::LoadBalancerAttribute>, CallFailure>,
    Result<Vec<elb::TargetGroup>, CallFailure>,
);

/// Listeners ∥ attributes ∥ target groups of one NLB (each of these APIs takes one).
/// One target group's attributes (DescribeTargetGroupAttributes takes one ARN per call):
/// the NLB's target groups and, behind ALB-type targets, the ALB's own.
async fn target_group_attributes(
    stage: Stage<'_>,
    c: &Clients,
    arn: &str,
) -> Result<Vec<elb::TargetGroupAttribute>, Missing> {
    stage
        .call(
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            c.elb
                .describe_target_group_attributes()
                .target_group_arn(arn)
                .send(),
        )
        .await
        .map(|o| o.attributes().to_vec())
        .map_err(|f| f.to_missing())
}

async fn per_lb(stage: Stage<'_>, c: &Clients, arn: &str) -> (String, PerLbCalls) {
    let listeners = stage.call(
        "elasticloadbalancing:DescribeListeners",
        c.elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let attributes = stage.call(
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        c.elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send(),
    );
    let target_groups = stage.call(
        DESCRIBE_TARGET_GROUPS,
        c.elb
            .describe_target_groups()
            .load_balancer_arn(arn)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let (listeners, attributes, target_groups) = tokio::join!(listeners, attributes, target_groups);
    (
        arn.to_owned(),
        (
            listeners,
            attributes.map(|o| o.attributes().to_vec()),
            target_groups,
        ),
    )
}

/// Every security group of the NLBs' and target groups' VPCs.
async fn vpc_security_groups(
    stage: Stage<'_>,
    c: &Clients,
    vpc_ids: Vec<String>,
) -> Fact<Vec<SecurityGroup>> {
    const ACTION: &str = "ec2:DescribeSecurityGroups";
    if vpc_ids.is_empty() {
        return Fact::Known(vec![]);
    }
    let r = stage
        .call(
            ACTION,
            c.ec2
                .describe_security_groups()
                .filters(
                    Filter::builder()
                        .name("vpc-id")
                        .set_values(Some(vpc_ids))
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await;
    convert_all(ACTION, r, convert::ec2::security_group)
}

/// Every subnet of the NLBs' VPCs: the NLB's own, and those that hold IP targets.
async fn vpc_subnets(
    stage: Stage<'_>,
    c: &Clients,
    vpc_ids: Vec<String>,
) -> Result<Vec<Subnet>, Missing> {
    if vpc_ids.is_empty() {
        return Ok(vec![]);
    }
    let r = stage
        .call(
            DESCRIBE_SUBNETS,
            c.ec2
                .describe_subnets()
                .filters(
                    Filter::builder()
                        .name("vpc-id")
                        .set_values(Some(vpc_ids))
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await;
    match convert_all(DESCRIBE_SUBNETS, r, convert::ec2::subnet) {
        Fact::Known(s) => Ok(s),
        Fact::Absent(m) => Err(m),
    }
}

/// The NLBs' own ENIs (description `ELB net/<name>/<id>`): their private address per subnet.
/// Best effort: without them, addresses come only from LoadBalancerAddresses.
async fn nlb_addresses(
    stage: Stage<'_>,
    c: &Clients,
    descriptions: Vec<String>,
) -> BTreeMap<String, Vec<IpAddr>> {
    let mut by_subnet: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    if descriptions.is_empty() {
        return by_subnet;
    }
    let r = stage
        .call(
            DESCRIBE_ENIS,
            c.ec2
                .describe_network_interfaces()
                .filters(
                    Filter::builder()
                        .name("description")
                        .set_values(Some(descriptions))
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await;
    for eni in r.unwrap_or_default() {
        if let (Some(subnet), Some(addr)) = (eni.subnet_id(), eni.private_ip_address()) {
            if let Ok(addr) = addr.parse() {
                by_subnet.entry(subnet.to_owned()).or_default().push(addr);
            }
        }
    }
    by_subnet
}

async fn target_instances(
    stage: Stage<'_>,
    c: &Clients,
    ids: Vec<String>,
) -> Result<Vec<aws_sdk_ec2::types::Instance>, Missing> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    stage
        .call(
            DESCRIBE_INSTANCES,
            c.ec2
                .describe_instances()
                .set_instance_ids(Some(ids))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .await
        .map(|reservations| {
            reservations
                .into_iter()
                .flat_map(|r| r.instances.unwrap_or_default())
                .collect()
        })
        .map_err(|f| f.to_missing())
}

async fn target_enis(
    stage: Stage<'_>,
    c: &Clients,
    ips: Vec<String>,
    vpc_ids: Vec<String>,
) -> Result<Vec<aws_sdk_ec2::types::NetworkInterface>, Missing> {
    if ips.is_empty() {
        return Ok(vec![]);
    }
    let mut req = c.ec2.describe_network_interfaces().filters(
        Filter::builder()
            .name("addresses.private-ip-address")
            .set_values(Some(ips))
            .build(),
    );
    if !vpc_ids.is_empty() {
        req = req.filters(
            Filter::builder()
                .name("vpc-id")
                .set_values(Some(vpc_ids))
                .build(),
        );
    }
    stage
        .call(
            DESCRIBE_ENIS,
            req.into_paginator().items().send().try_collect(),
        )
        .await
        .map_err(|f| f.to_missing())
}

/// A target's AZ, address and groups, and the subnet it sits in (for the subnets fact).
fn place_target(
    kind: &str,
    id: &str,
    instances: &Result<Vec<aws_sdk_ec2::types::Instance>, Missing>,
    enis: &Result<Vec<aws_sdk_ec2::types::NetworkInterface>, Missing>,
    subnets: Result<&[Subnet], &Missing>,
) -> (TargetPlacement, Option<String>) {
    match kind {
        "instance" => match instances {
            Ok(list) => match list.iter().find(|i| i.instance_id() == Some(id)) {
                Some(i) => match convert::ec2::instance_placement(i) {
                    Ok(p) => (
                        TargetPlacement {
                            availability_zone: p.availability_zone,
                            private_ip: p.private_ip,
                            security_group_ids: Some(Fact::Known(p.security_group_ids)),
                        },
                        p.subnet_id,
                    ),
                    Err(u) => (
                        TargetPlacement {
                            security_group_ids: Some(Fact::Absent(unreadable(
                                DESCRIBE_INSTANCES,
                                u,
                            ))),
                            ..Default::default()
                        },
                        None,
                    ),
                },
                None => (
                    TargetPlacement {
                        security_group_ids: Some(Fact::Absent(Missing::ApiError {
                            operation: DESCRIBE_INSTANCES.into(),
                            message: format!("instance {id} not in the reply (terminated?)"),
                        })),
                        ..Default::default()
                    },
                    None,
                ),
            },
            Err(m) => (
                TargetPlacement {
                    security_group_ids: Some(Fact::Absent(m.clone())),
                    ..Default::default()
                },
                None,
            ),
        },
        "ip" => {
            let addr: Option<IpAddr> = id.parse().ok();
            let subnet = match (subnets, addr) {
                (Ok(list), Some(a)) => list.iter().find(|s| s.cidr_block.contains(&IpNet::from(a))),
                _ => None,
            };
            let groups = match enis {
                Ok(list) => match list.iter().find(|e| eni_holds(e, id)) {
                    Some(e) => Fact::Known(
                        e.groups()
                            .iter()
                            .filter_map(|g| g.group_id().map(str::to_owned))
                            .collect(),
                    ),
                    None => Fact::Absent(Missing::NotVisible {
                        account: None,
                        hint: format!(
                            "no network interface in the target group's VPC holds {id} (a target outside the VPC, on premises or peered?)"
                        ),
                    }),
                },
                Err(m) => Fact::Absent(m.clone()),
            };
            (
                TargetPlacement {
                    availability_zone: subnet.map(|s| s.availability_zone.clone()),
                    private_ip: addr,
                    security_group_ids: Some(groups),
                },
                subnet.map(|s| s.id.clone()),
            )
        }
        _ => (TargetPlacement::default(), None),
    }
}

fn eni_holds(eni: &aws_sdk_ec2::types::NetworkInterface, ip: &str) -> bool {
    eni.private_ip_address() == Some(ip)
        || eni
            .private_ip_addresses()
            .iter()
            .any(|a| a.private_ip_address() == Some(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types as ec2;

    #[test]
    fn service_id_is_the_last_part_of_the_name() {
        assert_eq!(
            service_id("com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"),
            "vpce-svc-0123456789abcdef0"
        );
        assert_eq!(service_id("vpce-svc-0123"), "vpce-svc-0123");
    }

    #[test]
    fn without_access_every_provider_fact_names_the_owner() {
        let p = without_access(Some("111111111111"));
        let Fact::Absent(Missing::NotVisible { account, hint }) = &p.load_balancers else {
            panic!("not NotVisible")
        };
        assert_eq!(account.as_deref(), Some("111111111111"));
        assert!(hint.contains("--provider-role-arn"));
        assert_eq!(p.target_groups, p.load_balancers.clone().map(|_| vec![]));
    }

    fn subnet(id: &str, cidr: &str, az: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc_id: "vpc-p".into(),
            cidr_block: cidr.parse().unwrap(),
            availability_zone: az.into(),
            availability_zone_id: "use1-az1".into(),
            ipv6_cidr_blocks: vec![],
            ipv6_native: false,
        }
    }

    #[test]
    fn ip_targets_take_the_az_of_their_subnet_and_the_groups_of_their_eni() {
        let subnets = [
            subnet("subnet-a", "10.1.1.0/24", "us-east-1a"),
            subnet("subnet-b", "10.1.2.0/24", "us-east-1b"),
        ];
        let enis = Ok(vec![ec2::NetworkInterface::builder()
            .private_ip_address("10.1.2.100")
            .groups(ec2::GroupIdentifier::builder().group_id("sg-t").build())
            .build()]);
        let (p, sub) = place_target("ip", "10.1.2.100", &Ok(vec![]), &enis, Ok(&subnets));
        assert_eq!(p.availability_zone.as_deref(), Some("us-east-1b"));
        assert_eq!(sub.as_deref(), Some("subnet-b"));
        assert_eq!(p.security_group_ids, Some(Fact::Known(vec!["sg-t".into()])));

        let (p, sub) = place_target("ip", "192.168.9.9", &Ok(vec![]), &enis, Ok(&subnets));
        assert_eq!((p.availability_zone, sub), (None, None));
        assert!(matches!(
            p.security_group_ids,
            Some(Fact::Absent(Missing::NotVisible { .. }))
        ));
    }

    #[test]
    fn instance_targets_take_their_placement_or_the_reason_it_is_missing() {
        let instances = Ok(vec![ec2::Instance::builder()
            .instance_id("i-1")
            .private_ip_address("10.1.1.5")
            .subnet_id("subnet-a")
            .placement(
                ec2::Placement::builder()
                    .availability_zone("us-east-1a")
                    .build(),
            )
            .security_groups(ec2::GroupIdentifier::builder().group_id("sg-i").build())
            .build()]);
        let (p, sub) = place_target("instance", "i-1", &instances, &Ok(vec![]), Ok(&[]));
        assert_eq!(p.availability_zone.as_deref(), Some("us-east-1a"));
        assert_eq!(p.private_ip, Some("10.1.1.5".parse().unwrap()));
        assert_eq!(sub.as_deref(), Some("subnet-a"));

        let denied = Missing::AccessDenied {
            action: DESCRIBE_INSTANCES.into(),
            message: None,
        };
        let (p, _) = place_target(
            "instance",
            "i-1",
            &Err(denied.clone()),
            &Ok(vec![]),
            Ok(&[]),
        );
        assert_eq!(p.security_group_ids, Some(Fact::Absent(denied)));
    }
}
