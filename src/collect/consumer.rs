//! The consumer account: the endpoints and everything around them that this account can see.
//!
//! One code path serves one endpoint (`--endpoint`) and many (`--all`): every describe
//! is made once for all the endpoints together (id lists and filter values chunked to
//! AWS's limits), then [`Details::consumer_side`] cuts each endpoint's facts out of the
//! shared replies, exactly as a run for that endpoint alone would have seen them.

use super::convert::{self, Unreadable};
use super::dnsconfig;
use super::errors::{CallFailure, FailureKind};
use super::progress::{Stage, Tracker};
use super::{chunked, convert_all, fact, sorted_unique, unreadable, EndpointLookupError};
use super::{FILTER_CHUNK, ID_CHUNK, PER_ITEM_CONCURRENCY};
use aws_sdk_ec2::types as ec2t;
use aws_sdk_ec2::types::{Filter, VpcAttributeName};
use futures_util::StreamExt;
use pl_checks::client::ClientSpec;
use pl_checks::endpoint_type;
use pl_checks::fact::{Fact, Missing};
use pl_checks::fleet::{is_endpoint_service, LeftOut};
use pl_checks::model::*;
use std::collections::{BTreeMap, BTreeSet};

pub struct Clients {
    ec2: aws_sdk_ec2::Client,
    sts: aws_sdk_sts::Client,
    dns: dnsconfig::Clients,
    /// The consumer's Region: a service elsewhere is a cross-region one.
    region: String,
}

impl Clients {
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
            dns: dnsconfig::Clients::new(conf),
            region: conf.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }
}

/// Which endpoints a run looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// `--endpoint`: this one, whatever its service.
    Endpoint(String),
    /// `--all [--vpc]`: every interface endpoint to a PrivateLink endpoint service, and
    /// with `--include-aws-services` those to AWS services too.
    Fleet {
        vpc_id: Option<String>,
        include_aws_services: bool,
    },
    /// `--service --consumer-role-name`: these endpoints of one consumer account (those
    /// connected to the service), by the `vpc-endpoint-id` filter: unlike an id list, a
    /// filter does not fail the whole call when one endpoint was deleted meanwhile.
    Endpoints(Vec<String>),
}

/// The endpoints found, and those found but not diagnosed (with why).
#[derive(Debug, Default)]
pub struct Found {
    pub endpoints: Vec<Endpoint>,
    pub left_out: Vec<LeftOut>,
    /// `--all`: the endpoints counting toward the endpoints-per-VPC quota, per VPC.
    pub in_use_per_vpc: BTreeMap<String, usize>,
}

/// Stage 1: who we are, the endpoints, the AZ map, and the client instance if one was named.
pub struct Discovery {
    pub identity: Result<CallerIdentity, CallFailure>,
    pub found: Result<Found, EndpointLookupError>,
    pub az_map: Fact<Vec<AzMapping>>,
    pub client_instance: Option<Result<ec2t::Instance, Missing>>,
}

pub async fn discover(
    tracker: &Tracker,
    c: &Clients,
    lookup: &Lookup,
    client: Option<&ClientSpec>,
) -> Discovery {
    let stage = tracker.stage("consumer: endpoint");
    let identity = stage.call("sts:GetCallerIdentity", c.sts.get_caller_identity().send());
    let describe = c.ec2.describe_vpc_endpoints();
    let describe = match lookup {
        Lookup::Endpoint(id) => describe.vpc_endpoint_ids(id),
        Lookup::Endpoints(ids) => describe.filters(
            Filter::builder()
                .name("vpc-endpoint-id")
                .set_values(Some(ids.clone()))
                .build(),
        ),
        // Every type: the fleet names the ones it leaves out (scope.left_out, by type).
        Lookup::Fleet { vpc_id, .. } => match vpc_id {
            Some(vpc) => describe.filters(Filter::builder().name("vpc-id").values(vpc).build()),
            None => describe,
        },
    };
    let endpoints = stage.call(
        "ec2:DescribeVpcEndpoints",
        describe.into_paginator().items().send().try_collect(),
    );
    let azs = stage.call(
        "ec2:DescribeAvailabilityZones",
        c.ec2.describe_availability_zones().send(),
    );
    let instance = async {
        match client {
            Some(ClientSpec::Instance(id)) => {
                const ACTION: &str = "ec2:DescribeInstances";
                let r = stage
                    .call(
                        ACTION,
                        c.ec2
                            .describe_instances()
                            .instance_ids(id)
                            .into_paginator()
                            .items()
                            .send()
                            .try_collect(),
                    )
                    .await;
                Some(match r {
                    Ok(reservations) => reservations
                        .into_iter()
                        .flat_map(|r| r.instances.unwrap_or_default())
                        .find(|i| i.instance_id() == Some(id.as_str()))
                        .ok_or_else(|| Missing::ApiError {
                            operation: ACTION.into(),
                            message: format!("instance {id} not found in this account and region"),
                        }),
                    Err(f) => Err(f.to_missing()),
                })
            }
            _ => None,
        }
    };
    let (identity, endpoints, azs, client_instance) =
        tokio::join!(identity, endpoints, azs, instance);

    let identity = identity.and_then(|out| {
        convert::ec2::caller_identity(&out).map_err(|u| CallFailure {
            action: "sts:GetCallerIdentity",
            kind: FailureKind::Other,
            code: None,
            message: format!("unreadable reply: {u}"),
        })
    });
    let found = match endpoints {
        Ok(list) => match lookup {
            Lookup::Endpoint(id) => match list.iter().find(|e| e.vpc_endpoint_id() == Some(id)) {
                Some(e) => convert::ec2::endpoint(e)
                    .map(|e| Found {
                        endpoints: vec![e],
                        ..Found::default()
                    })
                    .map_err(EndpointLookupError::Unreadable),
                None => Err(EndpointLookupError::NotFound),
            },
            Lookup::Fleet {
                include_aws_services,
                ..
            } => Ok(Found {
                in_use_per_vpc: super::quotas::in_use_per_vpc(&list),
                ..fleet_members(&list, *include_aws_services)
            }),
            Lookup::Endpoints(_) => Ok(fleet_members(&list, false)),
        },
        Err(f) => Err(EndpointLookupError::Call(f)),
    };
    let az_map = fact(azs).map(|out| convert::ec2::az_map(out.availability_zones()));
    Discovery {
        identity,
        found,
        az_map,
        client_instance,
    }
}

/// The interface endpoints to PrivateLink endpoint services (and to AWS services when
/// `include_aws_services`), sorted by id; the others (other endpoint types, endpoints to
/// AWS services by default, unreadable items) are left out with why.
fn fleet_members(list: &[ec2t::VpcEndpoint], include_aws_services: bool) -> Found {
    let mut found = Found::default();
    for e in list {
        let id = e.vpc_endpoint_id().unwrap_or("(no id)").to_owned();
        let service_name = e.service_name().unwrap_or_default().to_owned();
        // as_str() keeps a type the SDK does not know yet as AWS sent it.
        let endpoint_type = e
            .vpc_endpoint_type()
            .map(|t| t.as_str())
            .unwrap_or_default();
        let reason = if !endpoint_type::is_interface(endpoint_type) {
            Some(endpoint_type::left_out_reason(endpoint_type))
        } else if !is_endpoint_service(&service_name) && !include_aws_services {
            Some(
                "an AWS service, not a PrivateLink endpoint service (com.amazonaws.vpce.<region>.vpce-svc-…); --include-aws-services diagnoses it too"
                    .to_owned(),
            )
        } else {
            match convert::ec2::endpoint(e) {
                Ok(endpoint) => {
                    found.endpoints.push(endpoint);
                    None
                }
                Err(u) => Some(format!("unreadable reply: {u}")),
            }
        };
        if let Some(reason) = reason {
            found.left_out.push(LeftOut {
                endpoint_id: id,
                service_name,
                endpoint_type: endpoint_type.to_owned(),
                reason,
            });
        }
    }
    found.endpoints.sort_by(|a, b| a.id.cmp(&b.id));
    found
        .left_out
        .sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    found
}

/// Stage 2 (and its prefix-list tail) for every endpoint at once: the replies of one
/// batched describe per kind, cut per endpoint by [`Details::consumer_side`].
pub struct Details {
    enis: Result<Vec<ec2t::NetworkInterface>, CallFailure>,
    vpcs: BTreeMap<String, Fact<Vpc>>,
    subnets: Result<Vec<ec2t::Subnet>, CallFailure>,
    nacls: Result<Vec<ec2t::NetworkAcl>, CallFailure>,
    groups: Result<Vec<ec2t::SecurityGroup>, CallFailure>,
    /// Every prefix list the groups reference, by id.
    prefix_lists: BTreeMap<String, Result<PrefixList, Missing>>,
    services: BTreeMap<String, Fact<ServiceView>>,
    /// DescribeRegions for the cross-region endpoints' service Regions (once for all).
    regions: Fact<Vec<RegionOptIn>>,
    own_region: String,
    client: Option<Fact<ClientFacts>>,
    /// The client instance's subnet and groups, described beside every endpoint's own.
    client_subnet: Option<String>,
    client_groups: Vec<String>,
    /// Each endpoint's VPC DNS configuration (dns-overrides), by endpoint id.
    dns_configs: BTreeMap<String, Fact<DnsConfig>>,
}

pub async fn details(
    tracker: &Tracker,
    c: &Clients,
    endpoints: &[Endpoint],
    client: Option<&ClientSpec>,
    client_instance: Option<Result<ec2t::Instance, Missing>>,
) -> Details {
    let stage = tracker.stage("consumer: network");
    let instance = client_instance.as_ref().and_then(|r| r.as_ref().ok());
    let client_subnet = instance.and_then(|i| i.subnet_id().map(str::to_owned));
    let client_groups = sorted_unique(
        match client {
            Some(ClientSpec::SecurityGroup(sg)) => Some(sg.clone()),
            _ => None,
        }
        .into_iter()
        .chain(
            instance
                .map(|i| {
                    i.security_groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        ),
    );

    let eni_ids = sorted_unique(
        endpoints
            .iter()
            .flat_map(|e| e.network_interface_ids.iter().cloned()),
    );
    let vpc_ids = sorted_unique(endpoints.iter().map(|e| e.vpc_id.clone()));
    let subnet_ids = sorted_unique(
        endpoints
            .iter()
            .flat_map(|e| e.subnet_ids.iter().cloned())
            .chain(client_subnet.clone()),
    );
    let group_ids = sorted_unique(
        endpoints
            .iter()
            .flat_map(|e| e.security_group_ids.iter().cloned())
            .chain(client_groups.iter().cloned()),
    );
    let own_region = c.region.clone();
    // A cross-region endpoint's service is only listed when asked with its Region
    // (ServiceRegions); without it AWS answers as if the service did not exist.
    let service_names: Vec<(String, Option<String>)> = endpoints
        .iter()
        .map(|e| {
            (
                e.service_name.clone(),
                e.remote_service_region(&own_region).map(str::to_owned),
            )
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let remote_regions = sorted_unique(service_names.iter().filter_map(|(_, r)| r.clone()));

    let enis = chunked(&eni_ids, ID_CHUNK, |ids| {
        stage.call(
            "ec2:DescribeNetworkInterfaces",
            c.ec2
                .describe_network_interfaces()
                .set_network_interface_ids(Some(ids))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    });
    let vpcs = vpcs(stage, c, &vpc_ids);
    let subnets = chunked(&subnet_ids, ID_CHUNK, |ids| {
        stage.call(
            "ec2:DescribeSubnets",
            c.ec2
                .describe_subnets()
                .set_subnet_ids(Some(ids))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    });
    let nacls = chunked(&subnet_ids, FILTER_CHUNK, |ids| {
        stage.call(
            "ec2:DescribeNetworkAcls",
            c.ec2
                .describe_network_acls()
                .filters(
                    Filter::builder()
                        .name("association.subnet-id")
                        .set_values(Some(ids))
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    });
    let groups = async {
        let groups = chunked(&group_ids, ID_CHUNK, |ids| {
            stage.call(
                "ec2:DescribeSecurityGroups",
                c.ec2
                    .describe_security_groups()
                    .set_group_ids(Some(ids))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
        })
        .await;
        let lists = prefix_lists(tracker, c, &groups).await;
        (groups, lists)
    };
    let services = services(stage, c, &service_names);
    let regions = async {
        if remote_regions.is_empty() {
            return Fact::not_requested(REGIONS_SAME_REGION);
        }
        fact(
            stage
                .call(
                    "ec2:DescribeRegions",
                    c.ec2.describe_regions().all_regions(true).send(),
                )
                .await,
        )
        .map(|out| convert::ec2::regions(out.regions()))
    };
    let dns_stage = tracker.stage("consumer: DNS configuration");
    let vpc_dns = dnsconfig::per_vpc(dns_stage, &c.dns, &c.region, &vpc_ids);
    let (enis, vpcs, subnets, nacls, (groups, prefix_lists), services, regions, vpc_dns) =
        tokio::join!(enis, vpcs, subnets, nacls, groups, services, regions, vpc_dns);
    let dns_configs = dns_configs(dns_stage, c, endpoints, &vpcs, &services, vpc_dns).await;

    let client = match (client, client_instance) {
        (Some(ClientSpec::Instance(id)), Some(r)) => Some(match r {
            Ok(i) => match convert::ec2::client_instance(id, &i) {
                Ok(facts) => Fact::Known(facts),
                Err(u) => Fact::Absent(unreadable("ec2:DescribeInstances", u)),
            },
            Err(m) => Fact::Absent(m),
        }),
        (Some(ClientSpec::SecurityGroup(sg)), _) => {
            let group = cut_groups(&groups, std::slice::from_ref(sg));
            Some(client_group(tracker, c, sg, &group, &vpcs).await)
        }
        _ => None,
    };

    Details {
        enis,
        vpcs,
        subnets,
        nacls,
        groups,
        prefix_lists,
        services,
        regions,
        own_region,
        client,
        client_subnet,
        client_groups,
        dns_configs,
    }
}

/// The DHCP option sets (their ids come with DescribeVpcs) ∥ the records of each customer
/// zone covering an endpoint's private DNS name, then one DNS configuration per endpoint.
async fn dns_configs(
    stage: Stage<'_>,
    c: &Clients,
    endpoints: &[Endpoint],
    vpcs: &BTreeMap<String, Fact<Vpc>>,
    services: &BTreeMap<String, Fact<ServiceView>>,
    vpc_dns: BTreeMap<String, dnsconfig::VpcDns>,
) -> BTreeMap<String, Fact<DnsConfig>> {
    let dhcp_ids: Vec<String> = vpcs
        .values()
        .filter_map(|v| v.known().and_then(|v| v.dhcp_options_id.clone()))
        .collect();
    let name_of = |e: &Endpoint| {
        let service = services
            .get(&e.service_name)
            .cloned()
            .unwrap_or_else(|| not_listed(&e.service_name));
        dnsconfig::private_name(e, &service)
    };
    let wanted: BTreeSet<(String, String)> = endpoints
        .iter()
        .filter_map(|e| {
            let name = name_of(e)?;
            let zones = vpc_dns.get(&e.vpc_id)?.hosted_zones.as_ref().ok()?;
            Some(
                dnsconfig::zones_covering(zones, &name)
                    .into_iter()
                    .map(|z| (z.id.clone(), name.clone()))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    let dhcp = dnsconfig::dhcp_options(stage, &c.dns, &dhcp_ids);
    let records = futures_util::stream::iter(wanted)
        .map(|(zone, name)| async move {
            let r = dnsconfig::records_for(stage, &c.dns, &zone, &name).await;
            ((zone, name), r)
        })
        .buffer_unordered(PER_ITEM_CONCURRENCY)
        .collect::<BTreeMap<_, _>>();
    let (dhcp, records) = tokio::join!(dhcp, records);
    endpoints
        .iter()
        .map(|e| {
            let vpc = vpcs.get(&e.vpc_id).cloned().unwrap_or_else(|| {
                Fact::Absent(Missing::ApiError {
                    operation: "ec2:DescribeVpcs".into(),
                    message: format!("VPC {} not in the reply", e.vpc_id),
                })
            });
            let config = match vpc_dns.get(&e.vpc_id) {
                Some(v) => {
                    let name = name_of(e);
                    let hosted_zones = match &v.hosted_zones {
                        Ok(zones) => Fact::Known(
                            zones
                                .iter()
                                .map(|z| {
                                    let mut z = z.clone();
                                    if let Some(r) = name
                                        .as_ref()
                                        .and_then(|n| records.get(&(z.id.clone(), n.clone())))
                                    {
                                        z.records = r.clone();
                                    }
                                    z
                                })
                                .collect(),
                        ),
                        Err(m) => Fact::Absent(m.clone()),
                    };
                    Fact::Known(DnsConfig {
                        dhcp_options: dnsconfig::dhcp_for(&vpc, &dhcp),
                        resolver_rules: v.resolver_rules.clone(),
                        hosted_zones,
                    })
                }
                None => Fact::not_requested("the endpoint's VPC was not asked about"),
            };
            (e.id.clone(), config)
        })
        .collect()
}

impl Details {
    /// One endpoint's consumer side, cut from the shared replies: only its ENIs, its
    /// VPC, its (and the client's) subnets and their NACLs, its (and the client's)
    /// groups and the prefix lists they reference, its service.
    pub fn consumer_side(&self, endpoint: Endpoint, az_map: &Fact<Vec<AzMapping>>) -> ConsumerSide {
        let endpoint_id = endpoint.id.clone();
        let endpoint_enis = match &self.enis {
            Ok(all) => convert_all(
                "ec2:DescribeNetworkInterfaces",
                Ok(all
                    .iter()
                    .filter(|n| {
                        n.network_interface_id().is_some_and(|id| {
                            endpoint.network_interface_ids.iter().any(|e| e == id)
                        })
                    })
                    .collect::<Vec<_>>()),
                |n| convert::ec2::network_interface(n),
            ),
            Err(f) => Fact::Absent(f.to_missing()),
        };
        let vpc = self.vpcs.get(&endpoint.vpc_id).cloned().unwrap_or_else(|| {
            Fact::Absent(Missing::ApiError {
                operation: "ec2:DescribeVpcs".into(),
                message: format!("VPC {} not in the reply", endpoint.vpc_id),
            })
        });
        let subnet_ids: BTreeSet<&str> = endpoint
            .subnet_ids
            .iter()
            .map(String::as_str)
            .chain(self.client_subnet.as_deref())
            .collect();
        let subnets = match &self.subnets {
            Ok(all) => convert_all(
                "ec2:DescribeSubnets",
                Ok(all
                    .iter()
                    .filter(|s| s.subnet_id().is_some_and(|id| subnet_ids.contains(id)))
                    .collect::<Vec<_>>()),
                |s| convert::ec2::subnet(s),
            ),
            Err(f) => Fact::Absent(f.to_missing()),
        };
        let network_acls = match &self.nacls {
            Ok(all) => convert_all(
                "ec2:DescribeNetworkAcls",
                Ok(all
                    .iter()
                    .filter(|a| {
                        a.associations()
                            .iter()
                            .any(|s| s.subnet_id().is_some_and(|id| subnet_ids.contains(id)))
                    })
                    .collect::<Vec<_>>()),
                |a| convert::ec2::network_acl(a),
            ),
            Err(f) => Fact::Absent(f.to_missing()),
        };
        let group_ids = sorted_unique(
            endpoint
                .security_group_ids
                .iter()
                .cloned()
                .chain(self.client_groups.iter().cloned()),
        );
        let security_groups = cut_groups(&self.groups, &group_ids);
        let prefix_lists = match &security_groups {
            Fact::Known(groups) => {
                let mut lists = Vec::new();
                let mut absent = None;
                for id in convert::ec2::referenced_prefix_lists(groups) {
                    match self.prefix_lists.get(&id) {
                        Some(Ok(p)) => lists.push(p.clone()),
                        Some(Err(m)) => {
                            absent = Some(m.clone());
                            break;
                        }
                        None => {
                            absent = Some(Missing::ApiError {
                                operation: "ec2:GetManagedPrefixListEntries".into(),
                                message: format!("prefix list {id} not described"),
                            });
                            break;
                        }
                    }
                }
                match absent {
                    Some(m) => Fact::Absent(m),
                    None => Fact::Known(lists),
                }
            }
            Fact::Absent(m) => Fact::Absent(m.clone()),
        };
        let service = self
            .services
            .get(&endpoint.service_name)
            .cloned()
            .unwrap_or_else(|| not_listed(&endpoint.service_name));
        let regions = match endpoint.remote_service_region(&self.own_region) {
            None => Fact::not_requested(REGIONS_SAME_REGION),
            Some(remote) => self.regions.clone().map(|all| {
                all.into_iter()
                    .filter(|r| r.region.eq_ignore_ascii_case(remote))
                    .collect()
            }),
        };
        ConsumerSide {
            endpoint,
            endpoint_enis,
            vpc,
            subnets,
            network_acls,
            security_groups,
            prefix_lists,
            az_map: az_map.clone(),
            service,
            regions,
            client: self.client.clone(),
            dns_config: self
                .dns_configs
                .get(&endpoint_id)
                .cloned()
                .unwrap_or_else(|| Fact::not_requested("the endpoint's VPC was not asked about")),
        }
    }
}

/// The named groups out of the shared DescribeSecurityGroups reply, in reply order.
fn cut_groups(
    all: &Result<Vec<ec2t::SecurityGroup>, CallFailure>,
    ids: &[String],
) -> Fact<Vec<SecurityGroup>> {
    match all {
        Ok(all) => convert_all(
            "ec2:DescribeSecurityGroups",
            Ok(all
                .iter()
                .filter(|g| g.group_id().is_some_and(|id| ids.iter().any(|x| x == id)))
                .collect::<Vec<_>>()),
            |g| convert::ec2::security_group(g),
        ),
        Err(f) => Fact::Absent(f.to_missing()),
    }
}

/// DescribeVpcs for all the VPCs at once ∥ DescribeVpcAttribute enableDnsSupport and
/// enableDnsHostnames for each (that API takes one VPC and one attribute).
async fn vpcs(stage: Stage<'_>, c: &Clients, vpc_ids: &[String]) -> BTreeMap<String, Fact<Vpc>> {
    const ACTION: &str = "ec2:DescribeVpcs";
    const ATTRIBUTE: &str = "ec2:DescribeVpcAttribute";
    let describe = chunked(vpc_ids, ID_CHUNK, |ids| {
        stage.call(
            ACTION,
            c.ec2
                .describe_vpcs()
                .set_vpc_ids(Some(ids))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    });
    let attributes = futures_util::stream::iter(vpc_ids.iter().cloned())
        .map(|vpc_id| async move {
            let support = stage.call(
                ATTRIBUTE,
                c.ec2
                    .describe_vpc_attribute()
                    .vpc_id(&vpc_id)
                    .attribute(VpcAttributeName::EnableDnsSupport)
                    .send(),
            );
            let hostnames = stage.call(
                ATTRIBUTE,
                c.ec2
                    .describe_vpc_attribute()
                    .vpc_id(&vpc_id)
                    .attribute(VpcAttributeName::EnableDnsHostnames)
                    .send(),
            );
            let (support, hostnames) = tokio::join!(support, hostnames);
            let attribute = |r: Result<Option<bool>, CallFailure>, name: &str| match r {
                Ok(Some(v)) => Fact::Known(v),
                Ok(None) => Fact::Absent(unreadable(
                    ATTRIBUTE,
                    Unreadable(format!("reply lacks {name}")),
                )),
                Err(f) => Fact::Absent(f.to_missing()),
            };
            let support = attribute(
                support.map(|o| o.enable_dns_support().and_then(|a| a.value())),
                "EnableDnsSupport",
            );
            let hostnames = attribute(
                hostnames.map(|o| o.enable_dns_hostnames().and_then(|a| a.value())),
                "EnableDnsHostnames",
            );
            (vpc_id, (support, hostnames))
        })
        .buffer_unordered(PER_ITEM_CONCURRENCY)
        .collect::<BTreeMap<_, _>>();
    let (describe, mut attributes) = tokio::join!(describe, attributes);
    vpc_ids
        .iter()
        .map(|vpc_id| {
            let (support, hostnames) = attributes
                .remove(vpc_id)
                .expect("attributes asked for every VPC");
            let vpc = match &describe {
                Ok(vpcs) => match vpcs.iter().find(|v| v.vpc_id() == Some(vpc_id.as_str())) {
                    Some(v) => match convert::ec2::vpc(v, support, hostnames) {
                        Ok(v) => Fact::Known(v),
                        Err(u) => Fact::Absent(unreadable(ACTION, u)),
                    },
                    None => Fact::Absent(Missing::ApiError {
                        operation: ACTION.into(),
                        message: format!("VPC {vpc_id} not in the reply"),
                    }),
                },
                Err(f) => Fact::Absent(f.to_missing()),
            };
            (vpc_id.clone(), vpc)
        })
        .collect()
}

/// A service the consumer's DescribeVpcEndpointServices does not list.
fn not_listed(service_name: &str) -> Fact<ServiceView> {
    Fact::Absent(Missing::NotVisible {
        account: None,
        hint: format!(
            "{service_name} is not listed for this account: deleted, or this account is no longer an allowed principal"
        ),
    })
}

const DESCRIBE_SERVICES: &str = "ec2:DescribeVpcEndpointServices";

/// DescribeVpcEndpointServices for the named services (all pages; this operation has no
/// SDK paginator).
async fn describe_services(
    stage: Stage<'_>,
    c: &Clients,
    names: Vec<String>,
    service_region: Option<&str>,
) -> Result<Vec<ec2t::ServiceDetail>, CallFailure> {
    let mut details = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = stage
            .call(
                DESCRIBE_SERVICES,
                c.ec2
                    .describe_vpc_endpoint_services()
                    .set_service_names(Some(names.clone()))
                    .set_service_regions(service_region.map(|r| vec![r.to_owned()]))
                    .set_next_token(token.take())
                    .send(),
            )
            .await?;
        details.extend(out.service_details().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(details),
        }
    }
}

/// The services as this account sees them, by name: one DescribeVpcEndpointServices for
/// all of them. AWS fails the whole call when one name is not visible
/// (InvalidServiceName), so then each name is asked alone: one deleted service must not
/// hide the others.
async fn services(
    stage: Stage<'_>,
    c: &Clients,
    names: &[(String, Option<String>)],
) -> BTreeMap<String, Fact<ServiceView>> {
    // One batch per service Region: the endpoint's own (no ServiceRegions) and each remote one.
    let mut by_region: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for (name, region) in names {
        by_region
            .entry(region.clone())
            .or_default()
            .push(name.clone());
    }
    futures_util::future::join_all(
        by_region
            .iter()
            .map(|(region, names)| services_in(stage, c, names, region.as_deref())),
    )
    .await
    .into_iter()
    .flatten()
    .collect()
}

async fn services_in(
    stage: Stage<'_>,
    c: &Clients,
    names: &[String],
    service_region: Option<&str>,
) -> BTreeMap<String, Fact<ServiceView>> {
    let batch = chunked(names, FILTER_CHUNK, |chunk| {
        describe_services(stage, c, chunk, service_region)
    })
    .await;
    let per_name: Vec<(String, Result<Vec<ec2t::ServiceDetail>, CallFailure>)> = match batch {
        Err(f)
            if names.len() > 1
                && (f.kind == FailureKind::NotFound
                    || f.code.as_deref() == Some("InvalidServiceName")) =>
        {
            futures_util::stream::iter(names.iter().cloned())
                .map(|name| async move {
                    let r = describe_services(stage, c, vec![name.clone()], service_region).await;
                    (name, r)
                })
                .buffer_unordered(PER_ITEM_CONCURRENCY)
                .collect()
                .await
        }
        batch => names.iter().map(|n| (n.clone(), batch.clone())).collect(),
    };
    per_name
        .into_iter()
        .map(|(name, reply)| {
            let view = match reply {
                Ok(details) => match details
                    .iter()
                    .find(|s| s.service_name() == Some(name.as_str()))
                {
                    Some(s) => match convert::ec2::service_view(s) {
                        Ok(v) => Fact::Known(v),
                        Err(u) => Fact::Absent(unreadable(DESCRIBE_SERVICES, u)),
                    },
                    None => not_listed(&name),
                },
                Err(f) => Fact::Absent(f.to_missing()),
            };
            (name, view)
        })
        .collect()
}

/// The prefix lists every readable group references: DescribeManagedPrefixLists for
/// their names ∥ GetManagedPrefixListEntries for each (that API takes one list).
async fn prefix_lists(
    tracker: &Tracker,
    c: &Clients,
    groups: &Result<Vec<ec2t::SecurityGroup>, CallFailure>,
) -> BTreeMap<String, Result<PrefixList, Missing>> {
    const ENTRIES: &str = "ec2:GetManagedPrefixListEntries";
    let Ok(groups) = groups else {
        return BTreeMap::new();
    };
    // Unreadable groups make their endpoints' groups absent, and so their prefix lists.
    let readable: Vec<SecurityGroup> = groups
        .iter()
        .filter_map(|g| convert::ec2::security_group(g).ok())
        .collect();
    let ids = convert::ec2::referenced_prefix_lists(&readable);
    if ids.is_empty() {
        return BTreeMap::new();
    }
    let stage = tracker.stage("consumer: prefix lists");
    let names = chunked(&ids, ID_CHUNK, |chunk| {
        stage.call(
            "ec2:DescribeManagedPrefixLists",
            c.ec2
                .describe_managed_prefix_lists()
                .set_prefix_list_ids(Some(chunk))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
    });
    let entries = futures_util::stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let r = stage
                .call(
                    ENTRIES,
                    c.ec2
                        .get_managed_prefix_list_entries()
                        .prefix_list_id(&id)
                        .into_paginator()
                        .items()
                        .send()
                        .try_collect(),
                )
                .await;
            (id, r)
        })
        .buffer_unordered(PER_ITEM_CONCURRENCY)
        .collect::<Vec<_>>();
    let (names, entries) = tokio::join!(names, entries);
    // Names only label the evidence: without DescribeManagedPrefixLists the CIDRs still count.
    let names = names.unwrap_or_default();
    entries
        .into_iter()
        .map(|(id, result)| {
            let name = names
                .iter()
                .find(|p| p.prefix_list_id() == Some(id.as_str()))
                .and_then(|p| p.prefix_list_name());
            let list = match result {
                Ok(entries) => convert::ec2::prefix_list(&id, name, &entries)
                    .map_err(|u| unreadable(ENTRIES, u)),
                Err(f) => Err(f.to_missing()),
            };
            (id, list)
        })
        .collect()
}

/// A bare security group as the client: its members can be anywhere in its VPC, so the
/// client's addresses are that VPC's CIDRs (one more DescribeVpcs if no endpoint is in it).
async fn client_group(
    tracker: &Tracker,
    c: &Clients,
    sg: &str,
    groups: &Fact<Vec<SecurityGroup>>,
    endpoint_vpcs: &BTreeMap<String, Fact<Vpc>>,
) -> Fact<ClientFacts> {
    const ACTION: &str = "ec2:DescribeVpcs";
    let group = match groups {
        Fact::Known(gs) => match gs.iter().find(|g| g.id == sg) {
            Some(g) => g,
            None => {
                return Fact::Absent(Missing::ApiError {
                    operation: "ec2:DescribeSecurityGroups".into(),
                    message: format!("security group {sg} not in the reply"),
                })
            }
        },
        Fact::Absent(m) => return Fact::Absent(m.clone()),
    };
    let cidrs = match endpoint_vpcs.get(&group.vpc_id) {
        Some(Fact::Known(v)) => Ok(v.cidr_blocks.clone()),
        _ => {
            let r = tracker
                .stage("consumer: client")
                .call(
                    ACTION,
                    c.ec2
                        .describe_vpcs()
                        .vpc_ids(&group.vpc_id)
                        .into_paginator()
                        .items()
                        .send()
                        .try_collect(),
                )
                .await;
            match r {
                Ok(vpcs) => match vpcs
                    .iter()
                    .find(|v| v.vpc_id() == Some(group.vpc_id.as_str()))
                {
                    Some(v) => convert::ec2::vpc_cidrs(v).map_err(|u| unreadable(ACTION, u)),
                    None => Err(Missing::ApiError {
                        operation: ACTION.into(),
                        message: format!("VPC {} not in the reply", group.vpc_id),
                    }),
                },
                Err(f) => Err(f.to_missing()),
            }
        }
    };
    match cidrs {
        Ok(addresses) => Fact::Known(ClientFacts {
            spec: sg.to_owned(),
            addresses,
            security_group_ids: vec![sg.to_owned()],
            subnet_id: None,
        }),
        Err(m) => Fact::Absent(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_vpce_svc_names_are_endpoint_services() {
        assert!(is_endpoint_service(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
        ));
        assert!(is_endpoint_service("vpce-svc-0123456789abcdef0"));
        assert!(!is_endpoint_service("com.amazonaws.us-east-1.s3"));
        assert!(!is_endpoint_service("com.amazonaws.us-east-1.execute-api"));
        // The id must be the last label, not anywhere in the name.
        assert!(!is_endpoint_service("com.example.vpce-svc-1.api"));
        assert!(!is_endpoint_service(""));
    }

    fn sdk_endpoint(id: &str, service: &str, kind: &str) -> ec2t::VpcEndpoint {
        ec2t::VpcEndpoint::builder()
            .vpc_endpoint_id(id)
            .vpc_endpoint_type(ec2t::VpcEndpointType::from(kind))
            .state(ec2t::State::from("available"))
            .owner_id("123456789012")
            .vpc_id("vpc-0a1b2c3d4e5f6a7b8")
            .service_name(service)
            .private_dns_enabled(false)
            .build()
    }

    #[test]
    fn the_fleet_keeps_privatelink_interface_endpoints_and_says_why_others_are_left_out() {
        let svc = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";
        let list = [
            sdk_endpoint("vpce-0000000000000000b", svc, "Interface"),
            sdk_endpoint(
                "vpce-0000000000000000c",
                "com.amazonaws.us-east-1.s3",
                "Interface",
            ),
            sdk_endpoint("vpce-0000000000000000a", svc, "Interface"),
            sdk_endpoint("vpce-0000000000000000d", svc, "GatewayLoadBalancer"),
            sdk_endpoint(
                "vpce-0000000000000000e",
                "com.amazonaws.us-east-1.s3",
                "Gateway",
            ),
            sdk_endpoint("vpce-0000000000000000f", svc, "Resource"),
            sdk_endpoint("vpce-00000000000000010", svc, "ServiceNetwork"),
            // A type AWS adds after this SDK was built: kept verbatim, not mis-parsed.
            sdk_endpoint("vpce-00000000000000011", svc, "FutureType"),
        ];
        let found = fleet_members(&list, false);
        let ids: Vec<&str> = found.endpoints.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["vpce-0000000000000000a", "vpce-0000000000000000b"]);
        let left: Vec<(&str, &str)> = found
            .left_out
            .iter()
            .map(|l| (l.endpoint_id.as_str(), l.reason.as_str()))
            .collect();
        assert_eq!(left.len(), 6);
        let by_type: Vec<(&str, &str)> = found
            .left_out
            .iter()
            .map(|l| (l.endpoint_id.as_str(), l.endpoint_type.as_str()))
            .collect();
        assert_eq!(
            by_type[2..],
            [
                ("vpce-0000000000000000e", "Gateway"),
                ("vpce-0000000000000000f", "Resource"),
                ("vpce-00000000000000010", "ServiceNetwork"),
                ("vpce-00000000000000011", "FutureType"),
            ]
        );
        assert!(
            left[5].1.contains("FutureType") && left[5].1.contains("does not know"),
            "{}",
            left[5].1
        );
        assert!(left
            .iter()
            .skip(1)
            .all(|(_, r)| r.ends_with(endpoint_type::SCOPE)));
        assert_eq!(left[0].0, "vpce-0000000000000000c");
        assert!(left[0].1.contains("AWS service"), "{}", left[0].1);
        assert_eq!(found.left_out[0].service_name, "com.amazonaws.us-east-1.s3");
        assert_eq!(left[1].0, "vpce-0000000000000000d");
        assert!(
            left[1].1.contains("Gateway Load Balancer endpoint"),
            "{}",
            left[1].1
        );
        assert_eq!(found.left_out[1].endpoint_type, "GatewayLoadBalancer");

        // --include-aws-services: the interface endpoint to S3 is diagnosed too; the
        // Gateway endpoint to S3 stays out by type.
        let found = fleet_members(&list, true);
        let ids: Vec<&str> = found.endpoints.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "vpce-0000000000000000a",
                "vpce-0000000000000000b",
                "vpce-0000000000000000c"
            ]
        );
        assert_eq!(found.left_out.len(), 5);
        assert!(found
            .left_out
            .iter()
            .all(|l| l.endpoint_id != "vpce-0000000000000000c"));
    }
}
