//! The consumer account: the endpoint and everything around it that this account can see.

use super::convert::{self, Unreadable};
use super::errors::CallFailure;
use super::progress::Tracker;
use super::{
    convert_all, fact, prefix_lists, security_groups, sorted_unique, unreadable,
    EndpointLookupError,
};
use aws_sdk_ec2::types::{Filter, VpcAttributeName};
use pl_checks::client::ClientSpec;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::*;

pub struct Clients {
    ec2: aws_sdk_ec2::Client,
    sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
        }
    }
}

/// Stage 1: who we are, the endpoint, the AZ map, and the client instance if one was named.
pub struct Discovery {
    pub identity: Result<CallerIdentity, CallFailure>,
    pub endpoint: Result<Endpoint, EndpointLookupError>,
    pub az_map: Fact<Vec<AzMapping>>,
    pub client_instance: Option<Result<aws_sdk_ec2::types::Instance, Missing>>,
}

pub async fn discover(
    tracker: &Tracker,
    c: &Clients,
    endpoint_id: &str,
    client: Option<&ClientSpec>,
) -> Discovery {
    let stage = tracker.stage("consumer: endpoint");
    let identity = stage.call("sts:GetCallerIdentity", c.sts.get_caller_identity().send());
    let endpoint = stage.call(
        "ec2:DescribeVpcEndpoints",
        c.ec2
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(endpoint_id)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
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
    let (identity, endpoint, azs, client_instance) =
        tokio::join!(identity, endpoint, azs, instance);

    let identity = identity.and_then(|out| {
        convert::ec2::caller_identity(&out).map_err(|u| CallFailure {
            action: "sts:GetCallerIdentity",
            kind: super::errors::FailureKind::Other,
            code: None,
            message: format!("unreadable reply: {u}"),
        })
    });
    let endpoint = match endpoint {
        Ok(list) => match list
            .iter()
            .find(|e| e.vpc_endpoint_id() == Some(endpoint_id))
        {
            Some(e) => convert::ec2::endpoint(e).map_err(EndpointLookupError::Unreadable),
            None => Err(EndpointLookupError::NotFound),
        },
        Err(f) => Err(EndpointLookupError::Call(f)),
    };
    let az_map = fact(azs).map(|out| convert::ec2::az_map(out.availability_zones()));
    Discovery {
        identity,
        endpoint,
        az_map,
        client_instance,
    }
}

/// Stage 2 (and its prefix-list tail): everything around the endpoint.
pub struct Details {
    pub endpoint_enis: Fact<Vec<NetworkInterface>>,
    pub vpc: Fact<Vpc>,
    pub subnets: Fact<Vec<Subnet>>,
    pub network_acls: Fact<Vec<NetworkAcl>>,
    pub security_groups: Fact<Vec<SecurityGroup>>,
    pub prefix_lists: Fact<Vec<PrefixList>>,
    pub service: Fact<ServiceView>,
    pub client: Option<Fact<ClientFacts>>,
}

pub async fn details(
    tracker: &Tracker,
    c: &Clients,
    endpoint: &Endpoint,
    client: Option<&ClientSpec>,
    client_instance: Option<Result<aws_sdk_ec2::types::Instance, Missing>>,
) -> Details {
    let stage = tracker.stage("consumer: network");
    let instance = client_instance.as_ref().and_then(|r| r.as_ref().ok());

    let subnet_ids = sorted_unique(
        endpoint
            .subnet_ids
            .iter()
            .cloned()
            .chain(instance.and_then(|i| i.subnet_id().map(str::to_owned))),
    );
    let client_sg = match client {
        Some(ClientSpec::SecurityGroup(sg)) => Some(sg.clone()),
        _ => None,
    };
    let group_ids = sorted_unique(
        endpoint
            .security_group_ids
            .iter()
            .cloned()
            .chain(client_sg.clone())
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

    let enis = async {
        const ACTION: &str = "ec2:DescribeNetworkInterfaces";
        if endpoint.network_interface_ids.is_empty() {
            return Fact::Known(vec![]);
        }
        let r = stage
            .call(
                ACTION,
                c.ec2
                    .describe_network_interfaces()
                    .set_network_interface_ids(Some(endpoint.network_interface_ids.clone()))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
            .await;
        convert_all(ACTION, r, convert::ec2::network_interface)
    };
    let vpc = vpc(stage, c, &endpoint.vpc_id);
    let subnets = async {
        const ACTION: &str = "ec2:DescribeSubnets";
        if subnet_ids.is_empty() {
            return Fact::Known(vec![]);
        }
        let r = stage
            .call(
                ACTION,
                c.ec2
                    .describe_subnets()
                    .set_subnet_ids(Some(subnet_ids.clone()))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
            .await;
        convert_all(ACTION, r, convert::ec2::subnet)
    };
    let nacls = async {
        const ACTION: &str = "ec2:DescribeNetworkAcls";
        if subnet_ids.is_empty() {
            return Fact::Known(vec![]);
        }
        let r = stage
            .call(
                ACTION,
                c.ec2
                    .describe_network_acls()
                    .filters(
                        Filter::builder()
                            .name("association.subnet-id")
                            .set_values(Some(subnet_ids.clone()))
                            .build(),
                    )
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect(),
            )
            .await;
        convert_all(ACTION, r, convert::ec2::network_acl)
    };
    let groups = async {
        let groups = security_groups(stage, &c.ec2, group_ids.clone()).await;
        let lists = prefix_lists(tracker, "consumer: prefix lists", &c.ec2, &groups).await;
        (groups, lists)
    };
    let service = service_view(stage, c, &endpoint.service_name);
    let (endpoint_enis, vpc, subnets, network_acls, (security_groups, prefix_lists), service) =
        tokio::join!(enis, vpc, subnets, nacls, groups, service);

    let client = match (client, client_instance) {
        (Some(ClientSpec::Instance(id)), Some(r)) => Some(match r {
            Ok(i) => match convert::ec2::client_instance(id, &i) {
                Ok(facts) => Fact::Known(facts),
                Err(u) => Fact::Absent(unreadable("ec2:DescribeInstances", u)),
            },
            Err(m) => Fact::Absent(m),
        }),
        (Some(ClientSpec::SecurityGroup(sg)), _) => {
            Some(client_group(tracker, c, sg, &security_groups, &vpc).await)
        }
        _ => None,
    };

    Details {
        endpoint_enis,
        vpc,
        subnets,
        network_acls,
        security_groups,
        prefix_lists,
        service,
        client,
    }
}

/// DescribeVpcs ∥ DescribeVpcAttribute enableDnsSupport ∥ enableDnsHostnames.
async fn vpc(stage: super::progress::Stage<'_>, c: &Clients, vpc_id: &str) -> Fact<Vpc> {
    const ACTION: &str = "ec2:DescribeVpcs";
    const ATTRIBUTE: &str = "ec2:DescribeVpcAttribute";
    let describe = stage.call(
        ACTION,
        c.ec2
            .describe_vpcs()
            .vpc_ids(vpc_id)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
    );
    let support = stage.call(
        ATTRIBUTE,
        c.ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(VpcAttributeName::EnableDnsSupport)
            .send(),
    );
    let hostnames = stage.call(
        ATTRIBUTE,
        c.ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(VpcAttributeName::EnableDnsHostnames)
            .send(),
    );
    let (describe, support, hostnames) = tokio::join!(describe, support, hostnames);
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
    match describe {
        Ok(vpcs) => match vpcs.iter().find(|v| v.vpc_id() == Some(vpc_id)) {
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
    }
}

/// DescribeVpcEndpointServices for the endpoint's service, as this account sees it.
async fn service_view(
    stage: super::progress::Stage<'_>,
    c: &Clients,
    service_name: &str,
) -> Fact<ServiceView> {
    const ACTION: &str = "ec2:DescribeVpcEndpointServices";
    // A single named service fits one page; this operation has no SDK paginator.
    let r = stage
        .call(
            ACTION,
            c.ec2
                .describe_vpc_endpoint_services()
                .service_names(service_name)
                .send(),
        )
        .await;
    match r {
        Ok(out) => match out
            .service_details()
            .iter()
            .find(|s| s.service_name() == Some(service_name))
        {
            Some(s) => match convert::ec2::service_view(s) {
                Ok(v) => Fact::Known(v),
                Err(u) => Fact::Absent(unreadable(ACTION, u)),
            },
            None => Fact::Absent(Missing::NotVisible {
                account: None,
                hint: format!(
                    "{service_name} is not listed for this account: deleted, or this account is no longer an allowed principal"
                ),
            }),
        },
        Err(f) => Fact::Absent(f.to_missing()),
    }
}

/// A bare security group as the client: its members can be anywhere in its VPC, so the
/// client's addresses are that VPC's CIDRs (one more DescribeVpcs if it is another VPC).
async fn client_group(
    tracker: &Tracker,
    c: &Clients,
    sg: &str,
    groups: &Fact<Vec<SecurityGroup>>,
    endpoint_vpc: &Fact<Vpc>,
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
    let cidrs = match endpoint_vpc {
        Fact::Known(v) if v.id == group.vpc_id => Ok(v.cidr_blocks.clone()),
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
