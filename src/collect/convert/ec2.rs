//! EC2 and STS replies → snapshot model. Pure: no I/O, unit-tested with SDK builders.
//!
//! Enum values keep AWS's wire strings (`as_str()`), never the SDK's variant names:
//! the SDK's `State` enum does not know `pendingAcceptance`, but `as_str()` returns it.

use super::{ip, net, opt_string, port_range, req, Unreadable};
use aws_sdk_ec2::types as ec2;
use pl_checks::fact::Fact;
use pl_checks::model::*;

pub fn endpoint(e: &ec2::VpcEndpoint) -> Result<Endpoint, Unreadable> {
    Ok(Endpoint {
        id: req(e.vpc_endpoint_id(), "VpcEndpointId")?.to_owned(),
        endpoint_type: e
            .vpc_endpoint_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        state: req(e.state().map(|s| s.as_str()), "State")?.to_owned(),
        last_error: e.last_error().map(|le| StateMessage {
            code: le.code().unwrap_or_default().to_owned(),
            message: le.message().unwrap_or_default().to_owned(),
        }),
        owner_id: e.owner_id().unwrap_or_default().to_owned(),
        vpc_id: req(e.vpc_id(), "VpcId")?.to_owned(),
        service_name: req(e.service_name(), "ServiceName")?.to_owned(),
        subnet_ids: e.subnet_ids().to_vec(),
        network_interface_ids: e.network_interface_ids().to_vec(),
        security_group_ids: e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
        dns_entries: e
            .dns_entries()
            .iter()
            .map(|d| DnsEntry {
                dns_name: d.dns_name().unwrap_or_default().to_owned(),
                hosted_zone_id: d.hosted_zone_id().unwrap_or_default().to_owned(),
            })
            .collect(),
        ip_address_type: e.ip_address_type().map(|t| t.as_str().to_owned()),
        dns_record_ip_type: e
            .dns_options()
            .and_then(|d| d.dns_record_ip_type())
            .map(|t| t.as_str().to_owned()),
        service_region: opt_string(e.service_region()),
        policy_document: opt_string(e.policy_document()),
        private_dns_only_for_inbound_resolver_endpoint: e
            .dns_options()
            .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint()),
    })
}

pub fn network_interface(n: &ec2::NetworkInterface) -> Result<NetworkInterface, Unreadable> {
    Ok(NetworkInterface {
        id: req(n.network_interface_id(), "NetworkInterfaceId")?.to_owned(),
        subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
        availability_zone: n.availability_zone().unwrap_or_default().to_owned(),
        private_ip: ip(req(n.private_ip_address(), "PrivateIpAddress")?)?,
        ipv6_addresses: n
            .ipv6_addresses()
            .iter()
            .filter_map(|a| a.ipv6_address())
            .map(ip)
            .collect::<Result<_, _>>()?,
        security_group_ids: group_ids(n.groups()),
    })
}

fn group_ids(groups: &[ec2::GroupIdentifier]) -> Vec<String> {
    groups
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect()
}

/// A VPC with its two DNS attributes, each collected by its own DescribeVpcAttribute call.
pub fn vpc(
    v: &ec2::Vpc,
    enable_dns_support: pl_checks::Fact<bool>,
    enable_dns_hostnames: pl_checks::Fact<bool>,
) -> Result<Vpc, Unreadable> {
    Ok(Vpc {
        id: req(v.vpc_id(), "VpcId")?.to_owned(),
        cidr_blocks: vpc_cidrs(v)?,
        enable_dns_support,
        enable_dns_hostnames,
        dhcp_options_id: opt_string(v.dhcp_options_id()),
    })
}

/// The VPC's associated IPv4 CIDRs (primary first), falling back to CidrBlock.
pub fn vpc_cidrs(v: &ec2::Vpc) -> Result<Vec<ipnet::IpNet>, Unreadable> {
    let associated: Vec<&str> = v
        .cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.cidr_block_state()
                .and_then(|s| s.state())
                .is_none_or(|s| s.as_str() == "associated")
        })
        .filter_map(|a| a.cidr_block())
        .collect();
    let mut cidrs: Vec<ipnet::IpNet> = associated.into_iter().map(net).collect::<Result<_, _>>()?;
    if let Some(primary) = v.cidr_block() {
        let primary = net(primary)?;
        cidrs.retain(|c| *c != primary);
        cidrs.insert(0, primary);
    }
    Ok(cidrs)
}

pub fn subnet(s: &ec2::Subnet) -> Result<Subnet, Unreadable> {
    Ok(Subnet {
        id: req(s.subnet_id(), "SubnetId")?.to_owned(),
        vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
        cidr_block: net(req(s.cidr_block(), "CidrBlock")?)?,
        availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
        availability_zone_id: s.availability_zone_id().unwrap_or_default().to_owned(),
        ipv6_cidr_blocks: s
            .ipv6_cidr_block_association_set()
            .iter()
            .filter(|a| {
                a.ipv6_cidr_block_state()
                    .and_then(|st| st.state())
                    .is_none_or(|st| st.as_str() == "associated")
            })
            .filter_map(|a| a.ipv6_cidr_block())
            .map(net)
            .collect::<Result<_, _>>()?,
        ipv6_native: s.ipv6_native().unwrap_or(false),
    })
}

pub fn network_acl(a: &ec2::NetworkAcl) -> Result<NetworkAcl, Unreadable> {
    Ok(NetworkAcl {
        id: req(a.network_acl_id(), "NetworkAclId")?.to_owned(),
        vpc_id: a.vpc_id().unwrap_or_default().to_owned(),
        is_default: a.is_default().unwrap_or(false),
        subnet_ids: a
            .associations()
            .iter()
            .filter_map(|x| x.subnet_id().map(str::to_owned))
            .collect(),
        entries: a
            .entries()
            .iter()
            .map(nacl_entry)
            .collect::<Result<_, _>>()?,
    })
}

fn nacl_entry(e: &ec2::NetworkAclEntry) -> Result<NaclEntry, Unreadable> {
    let number = req(e.rule_number(), "RuleNumber")?;
    let cidr = e
        .cidr_block()
        .or(e.ipv6_cidr_block())
        .ok_or_else(|| Unreadable::missing("CidrBlock"))?;
    Ok(NaclEntry {
        rule_number: u16::try_from(number)
            .map_err(|_| Unreadable(format!("RuleNumber {number} out of range")))?,
        egress: e.egress().unwrap_or(false),
        protocol: req(e.protocol(), "Protocol")?.to_owned(),
        rule_action: req(e.rule_action().map(|a| a.as_str()), "RuleAction")?.to_owned(),
        cidr: net(cidr)?,
        port_range: match e.port_range() {
            Some(p) => port_range(p.from(), p.to())?,
            None => None,
        },
    })
}

pub fn security_group(g: &ec2::SecurityGroup) -> Result<SecurityGroup, Unreadable> {
    Ok(SecurityGroup {
        id: req(g.group_id(), "GroupId")?.to_owned(),
        name: g.group_name().unwrap_or_default().to_owned(),
        vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
        owner_id: g.owner_id().unwrap_or_default().to_owned(),
        ingress: sg_rules(g.ip_permissions())?,
        egress: sg_rules(g.ip_permissions_egress())?,
    })
}

/// Flatten IpPermissions to one rule per peer, the way the console lists security group rules.
pub fn sg_rules(perms: &[ec2::IpPermission]) -> Result<Vec<SgRule>, Unreadable> {
    let mut rules = Vec::new();
    for p in perms {
        let protocol = req(p.ip_protocol(), "IpProtocol")?.to_owned();
        // -1 means every protocol and port; ICMP's From/To are type and code, not ports.
        let ports = match protocol.as_str() {
            "-1" | "icmp" | "icmpv6" | "1" | "58" => None,
            _ => port_range(p.from_port(), p.to_port())?,
        };
        let mut push = |peer: SgPeer, description: Option<&str>| {
            rules.push(SgRule {
                protocol: protocol.clone(),
                port_range: ports,
                peer,
                description: opt_string(description),
            })
        };
        for r in p.ip_ranges() {
            push(
                SgPeer::Cidr(net(req(r.cidr_ip(), "CidrIp")?)?),
                r.description(),
            );
        }
        for r in p.ipv6_ranges() {
            push(
                SgPeer::Cidr(net(req(r.cidr_ipv6(), "CidrIpv6")?)?),
                r.description(),
            );
        }
        for r in p.user_id_group_pairs() {
            let group = req(r.group_id(), "GroupId")?;
            push(SgPeer::SecurityGroup(group.to_owned()), r.description());
        }
        for r in p.prefix_list_ids() {
            let id = req(r.prefix_list_id(), "PrefixListId")?;
            push(SgPeer::PrefixList(id.to_owned()), r.description());
        }
    }
    Ok(rules)
}

/// Prefix list ids that rules of these groups reference, sorted and deduplicated.
pub fn referenced_prefix_lists(groups: &[SecurityGroup]) -> Vec<String> {
    let mut ids: Vec<String> = groups
        .iter()
        .flat_map(|g| g.ingress.iter().chain(&g.egress))
        .filter_map(|r| match &r.peer {
            SgPeer::PrefixList(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

pub fn prefix_list(
    id: &str,
    name: Option<&str>,
    entries: &[ec2::PrefixListEntry],
) -> Result<PrefixList, Unreadable> {
    Ok(PrefixList {
        id: id.to_owned(),
        name: name.unwrap_or_default().to_owned(),
        cidrs: entries
            .iter()
            .filter_map(|e| e.cidr())
            .map(net)
            .collect::<Result<_, _>>()?,
    })
}

pub fn az_map(zones: &[ec2::AvailabilityZone]) -> Vec<AzMapping> {
    zones
        .iter()
        .filter_map(|z| {
            Some(AzMapping {
                name: z.zone_name()?.to_owned(),
                id: z.zone_id()?.to_owned(),
            })
        })
        .collect()
}

/// DescribeRegions (AllRegions): each Region with its OptInStatus.
pub fn regions(regions: &[ec2::Region]) -> Vec<RegionOptIn> {
    regions
        .iter()
        .filter_map(|r| {
            Some(RegionOptIn {
                region: r.region_name()?.to_owned(),
                opt_in_status: r
                    .opt_in_status()
                    .unwrap_or("opt-in-not-required")
                    .to_owned(),
            })
        })
        .collect()
}

pub fn service_view(s: &ec2::ServiceDetail) -> Result<ServiceView, Unreadable> {
    Ok(ServiceView {
        service_name: req(s.service_name(), "ServiceName")?.to_owned(),
        service_id: s.service_id().unwrap_or_default().to_owned(),
        owner: s.owner().unwrap_or_default().to_owned(),
        service_type: s
            .service_type()
            .first()
            .and_then(|t| t.service_type())
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        acceptance_required: s.acceptance_required().unwrap_or(false),
        availability_zones: s.availability_zones().to_vec(),
        private_dns_name: opt_string(s.private_dns_name()),
        private_dns_name_verification_state: s
            .private_dns_name_verification_state()
            .map(|v| v.as_str().to_owned()),
        base_endpoint_dns_names: s.base_endpoint_dns_names().to_vec(),
        service_region: opt_string(s.service_region()),
        supported_ip_address_types: s
            .supported_ip_address_types()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        vpc_endpoint_policy_supported: s.vpc_endpoint_policy_supported(),
    })
}

pub fn service_configuration(
    c: &ec2::ServiceConfiguration,
) -> Result<ServiceConfiguration, Unreadable> {
    Ok(ServiceConfiguration {
        service_id: req(c.service_id(), "ServiceId")?.to_owned(),
        service_name: c.service_name().unwrap_or_default().to_owned(),
        service_state: c
            .service_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        acceptance_required: c.acceptance_required().unwrap_or(false),
        network_load_balancer_arns: c.network_load_balancer_arns().to_vec(),
        gateway_load_balancer_arns: c.gateway_load_balancer_arns().to_vec(),
        availability_zones: c.availability_zones().to_vec(),
        private_dns_name: opt_string(c.private_dns_name()),
        private_dns_name_configuration: c.private_dns_name_configuration().map(|p| {
            PrivateDnsNameConfiguration {
                state: p.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                record_type: p.r#type().unwrap_or_default().to_owned(),
                name: p.name().unwrap_or_default().to_owned(),
                value: p.value().unwrap_or_default().to_owned(),
            }
        }),
        supported_regions: c
            .supported_regions()
            .iter()
            .filter_map(|r| {
                Some(SupportedRegion {
                    region: r.region()?.to_owned(),
                    service_state: opt_string(r.service_state()),
                })
            })
            .collect(),
        supported_ip_address_types: c
            .supported_ip_address_types()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
    })
}

pub fn allowed_principal(p: &ec2::AllowedPrincipal) -> Result<AllowedPrincipal, Unreadable> {
    Ok(AllowedPrincipal {
        principal: req(p.principal(), "Principal")?.to_owned(),
        principal_type: p
            .principal_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
    })
}

pub fn endpoint_connection(
    c: &ec2::VpcEndpointConnection,
) -> Result<EndpointConnection, Unreadable> {
    Ok(EndpointConnection {
        vpc_endpoint_id: req(c.vpc_endpoint_id(), "VpcEndpointId")?.to_owned(),
        vpc_endpoint_owner: c.vpc_endpoint_owner().unwrap_or_default().to_owned(),
        vpc_endpoint_state: req(
            c.vpc_endpoint_state().map(|s| s.as_str()),
            "VpcEndpointState",
        )?
        .to_owned(),
        creation_timestamp: c.creation_timestamp().and_then(super::rfc3339),
        network_load_balancer_arns: c.network_load_balancer_arns().to_vec(),
        availability_zones: zonal_dns_zones(c.dns_entries().iter().filter_map(|d| d.dns_name())),
        vpc_endpoint_region: opt_string(c.vpc_endpoint_region()),
    })
}

/// A connection notification; `policy_of` gives its topic's policy as collected.
pub fn connection_notification(
    n: &ec2::ConnectionNotification,
    policy_of: impl Fn(&str) -> Fact<String>,
) -> Result<ConnectionNotification, Unreadable> {
    let topic_arn = n
        .connection_notification_arn()
        .unwrap_or_default()
        .to_owned();
    Ok(ConnectionNotification {
        id: req(n.connection_notification_id(), "ConnectionNotificationId")?.to_owned(),
        notification_type: n
            .connection_notification_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        topic_policy: policy_of(&topic_arn),
        topic_arn,
        events: n.connection_events().to_vec(),
        state: n
            .connection_notification_state()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
    })
}

/// AZ names from an endpoint's zonal DNS names: `vpce-<id>-<suffix>-<az>.<service>…`
/// (the regional name is `vpce-<id>-<suffix>.<service>…`, with no AZ).
pub fn zonal_dns_zones<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut zones: Vec<String> = names
        .into_iter()
        .filter_map(|name| {
            let label = name.split('.').next()?;
            let rest = label.strip_prefix("vpce-")?;
            let mut parts = rest.splitn(3, '-');
            let (_id, _suffix, zone) = (parts.next()?, parts.next()?, parts.next()?);
            Some(zone.to_owned()).filter(|z| !z.is_empty())
        })
        .collect();
    zones.sort();
    zones.dedup();
    zones
}

/// An instance named by `--client`: the addresses it sends from, its groups, its subnet.
pub fn client_instance(spec: &str, i: &ec2::Instance) -> Result<ClientFacts, Unreadable> {
    let mut addresses = Vec::new();
    let mut groups = group_ids(i.security_groups());
    for eni in i.network_interfaces() {
        for a in eni.private_ip_addresses() {
            if let Some(addr) = a.private_ip_address() {
                addresses.push(ipnet::IpNet::from(ip(addr)?));
            }
        }
        // A dual-stack or IPv6-only client sends from these too (the IPv6 rules apply).
        for a in eni.ipv6_addresses() {
            if let Some(addr) = a.ipv6_address() {
                addresses.push(ipnet::IpNet::from(ip(addr)?));
            }
        }
        groups.extend(group_ids(eni.groups()));
    }
    if addresses.is_empty() {
        if let Some(addr) = i.private_ip_address() {
            addresses.push(ipnet::IpNet::from(ip(addr)?));
        }
    }
    addresses.dedup();
    groups.sort();
    groups.dedup();
    Ok(ClientFacts {
        spec: spec.to_owned(),
        addresses,
        security_group_ids: groups,
        subnet_id: opt_string(i.subnet_id()),
    })
}

/// An instance target: its AZ, primary address and security groups.
pub struct InstancePlacement {
    pub availability_zone: Option<String>,
    pub private_ip: Option<std::net::IpAddr>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
}

pub fn instance_placement(i: &ec2::Instance) -> Result<InstancePlacement, Unreadable> {
    Ok(InstancePlacement {
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_owned),
        private_ip: i.private_ip_address().map(ip).transpose()?,
        subnet_id: opt_string(i.subnet_id()),
        security_group_ids: group_ids(i.security_groups()),
    })
}

pub fn caller_identity(
    out: &aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput,
) -> Result<CallerIdentity, Unreadable> {
    Ok(CallerIdentity {
        account: req(out.account(), "Account")?.to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_az_names_from_zonal_dns_names_only() {
        let zones = zonal_dns_zones([
            "vpce-0a1b2c3d4e5f6a7b8-9zq8w7x6.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
            "vpce-0a1b2c3d4e5f6a7b8-9zq8w7x6-us-east-1b.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
            "vpce-0a1b2c3d4e5f6a7b8-9zq8w7x6-us-east-1a.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
            "payments.internal.example.com",
        ]);
        assert_eq!(zones, vec!["us-east-1a", "us-east-1b"]);
    }
    use aws_sdk_ec2::types::{
        AvailabilityZone, DnsEntry as SdkDnsEntry, GroupIdentifier, IpPermission, IpRange,
        NetworkAclAssociation, NetworkAclEntry as SdkNaclEntry, PortRange as SdkPortRange,
        PrefixListId, RuleAction, SecurityGroupIdentifier, ServiceDetail, ServiceTypeDetail, State,
        UserIdGroupPair, VpcCidrBlockAssociation, VpcCidrBlockState, VpcCidrBlockStateCode,
    };

    #[test]
    fn endpoint_keeps_the_wire_state_and_every_id() {
        let e = ec2::VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-0a1b2c3d4e5f6a7b8")
            .vpc_endpoint_type(ec2::VpcEndpointType::Interface)
            // What the API sends: lowerCamel, unknown to the SDK's enum.
            .state(State::from("pendingAcceptance"))
            .owner_id("222222222222")
            .vpc_id("vpc-0c0a5e1b2d3f4a5b6")
            .service_name("com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0")
            .subnet_ids("subnet-1")
            .subnet_ids("subnet-2")
            .network_interface_ids("eni-1")
            .groups(SecurityGroupIdentifier::builder().group_id("sg-1").build())
            .private_dns_enabled(true)
            .dns_entries(
                SdkDnsEntry::builder()
                    .dns_name("vpce-0a1b.vpce-svc-0123.us-east-1.vpce.amazonaws.com")
                    .hosted_zone_id("Z7HUB22UULQXV")
                    .build(),
            )
            .ip_address_type(ec2::IpAddressType::Ipv4)
            .last_error(
                ec2::LastError::builder()
                    .code("Client.Error")
                    .message("rejected")
                    .build(),
            )
            .build();
        let m = endpoint(&e).unwrap();
        assert_eq!(m.state, "pendingAcceptance");
        assert_eq!(m.endpoint_type, "Interface");
        assert_eq!(m.subnet_ids, ["subnet-1", "subnet-2"]);
        assert_eq!(m.security_group_ids, ["sg-1"]);
        assert!(m.private_dns_enabled);
        assert_eq!(m.dns_entries[0].hosted_zone_id, "Z7HUB22UULQXV");
        assert_eq!(m.ip_address_type.as_deref(), Some("ipv4"));
        assert_eq!(m.last_error.unwrap().code, "Client.Error");
    }

    #[test]
    fn cross_region_and_address_type_facts_are_read_as_aws_sends_them() {
        let e = ec2::VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-0a1b2c3d4e5f6a7b8")
            .vpc_endpoint_type(ec2::VpcEndpointType::Interface)
            .state(State::from("available"))
            .vpc_id("vpc-1")
            .service_name("com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0")
            .service_region("eu-west-1")
            .ip_address_type(ec2::IpAddressType::Dualstack)
            .dns_options(
                ec2::DnsOptions::builder()
                    .dns_record_ip_type(ec2::DnsRecordIpType::from("service-defined"))
                    .build(),
            )
            .build();
        let m = endpoint(&e).unwrap();
        assert_eq!(m.service_region.as_deref(), Some("eu-west-1"));
        assert_eq!(m.remote_service_region("us-east-1"), Some("eu-west-1"));
        assert_eq!(m.remote_service_region("eu-west-1"), None);
        assert_eq!(m.ip_address_type.as_deref(), Some("dualstack"));
        assert_eq!(m.dns_record_ip_type.as_deref(), Some("service-defined"));

        let sn = ec2::Subnet::builder()
            .subnet_id("subnet-1")
            .cidr_block("10.0.1.0/24")
            .ipv6_cidr_block_association_set(
                ec2::SubnetIpv6CidrBlockAssociation::builder()
                    .ipv6_cidr_block("2600:1f18:4a3:6f01::/64")
                    .ipv6_cidr_block_state(
                        ec2::SubnetCidrBlockState::builder()
                            .state(ec2::SubnetCidrBlockStateCode::Associated)
                            .build(),
                    )
                    .build(),
            )
            .ipv6_cidr_block_association_set(
                ec2::SubnetIpv6CidrBlockAssociation::builder()
                    .ipv6_cidr_block("2600:1f18:4a3:6f09::/64")
                    .ipv6_cidr_block_state(
                        ec2::SubnetCidrBlockState::builder()
                            .state(ec2::SubnetCidrBlockStateCode::Disassociated)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let m = subnet(&sn).unwrap();
        assert_eq!(
            m.ipv6_cidr_blocks,
            [net("2600:1f18:4a3:6f01::/64").unwrap()]
        );
        assert!(m.has_ipv4() && !m.ipv6_native);

        let c = ec2::VpcEndpointConnection::builder()
            .vpc_endpoint_id("vpce-0a1b2c3d4e5f6a7b8")
            .vpc_endpoint_state(State::from("available"))
            .vpc_endpoint_region("us-east-1")
            .build();
        assert_eq!(
            endpoint_connection(&c)
                .unwrap()
                .vpc_endpoint_region
                .as_deref(),
            Some("us-east-1")
        );

        let r = regions(&[
            ec2::Region::builder()
                .region_name("eu-south-2")
                .opt_in_status("not-opted-in")
                .build(),
            ec2::Region::builder()
                .region_name("eu-west-1")
                .opt_in_status("opt-in-not-required")
                .build(),
        ]);
        assert!(!r[0].enabled());
        assert!(r[1].enabled());
    }

    #[test]
    fn a_client_instance_sends_from_its_ipv6_addresses_too() {
        let i = ec2::Instance::builder()
            .instance_id("i-0123456789abcdef0")
            .network_interfaces(
                ec2::InstanceNetworkInterface::builder()
                    .private_ip_addresses(
                        ec2::InstancePrivateIpAddress::builder()
                            .private_ip_address("10.0.3.10")
                            .build(),
                    )
                    .ipv6_addresses(
                        ec2::InstanceIpv6Address::builder()
                            .ipv6_address("2600:1f18:4a3:6f03::10")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let c = client_instance("i-0123456789abcdef0", &i).unwrap();
        assert_eq!(
            c.addresses,
            [
                net("10.0.3.10/32").unwrap(),
                net("2600:1f18:4a3:6f03::10/128").unwrap()
            ]
        );
    }

    #[test]
    fn endpoint_without_state_is_unreadable() {
        let e = ec2::VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-0a1b2c3d4e5f6a7b8")
            .build();
        assert!(endpoint(&e).unwrap_err().0.contains("State"));
    }

    #[test]
    fn sg_permissions_flatten_to_one_rule_per_peer() {
        let perms = [
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8443)
                .to_port(8443)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("10.0.0.0/16")
                        .description("clients")
                        .build(),
                )
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-client").build())
                .prefix_list_ids(PrefixListId::builder().prefix_list_id("pl-0123").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("-1")
                .from_port(-1)
                .to_port(-1)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("icmp")
                .from_port(8)
                .to_port(0)
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
        ];
        let rules = sg_rules(&perms).unwrap();
        assert_eq!(rules.len(), 5);
        let p8443 = Some(PortRange {
            from: 8443,
            to: 8443,
        });
        assert_eq!(rules[0].peer, SgPeer::Cidr("10.0.0.0/16".parse().unwrap()));
        assert_eq!(rules[0].description.as_deref(), Some("clients"));
        assert_eq!(rules[0].port_range, p8443);
        assert_eq!(rules[1].peer, SgPeer::SecurityGroup("sg-client".into()));
        assert_eq!(rules[2].peer, SgPeer::PrefixList("pl-0123".into()));
        assert_eq!(
            (rules[3].protocol.as_str(), rules[3].port_range),
            ("-1", None)
        );
        assert_eq!(
            (rules[4].protocol.as_str(), rules[4].port_range),
            ("icmp", None)
        );

        let g = SecurityGroup {
            id: "sg-1".into(),
            name: "x".into(),
            vpc_id: "vpc-1".into(),
            owner_id: "1".into(),
            ingress: rules.clone(),
            egress: rules,
        };
        assert_eq!(referenced_prefix_lists(&[g]), ["pl-0123"]);
    }

    #[test]
    fn nacl_entries_keep_order_numbers_actions_and_ports() {
        let acl = ec2::NetworkAcl::builder()
            .network_acl_id("acl-1")
            .vpc_id("vpc-1")
            .is_default(false)
            .associations(
                NetworkAclAssociation::builder()
                    .subnet_id("subnet-1")
                    .build(),
            )
            .entries(
                SdkNaclEntry::builder()
                    .rule_number(90)
                    .egress(false)
                    .protocol("6")
                    .rule_action(RuleAction::Deny)
                    .cidr_block("10.0.3.0/24")
                    .port_range(SdkPortRange::builder().from(8443).to(8443).build())
                    .build(),
            )
            .entries(
                SdkNaclEntry::builder()
                    .rule_number(32767)
                    .egress(true)
                    .protocol("-1")
                    .rule_action(RuleAction::Deny)
                    .ipv6_cidr_block("::/0")
                    .build(),
            )
            .build();
        let m = network_acl(&acl).unwrap();
        assert_eq!(m.subnet_ids, ["subnet-1"]);
        assert_eq!(m.entries[0].rule_action, "deny");
        assert_eq!(m.entries[0].protocol, "6");
        assert_eq!(
            m.entries[0].port_range,
            Some(PortRange {
                from: 8443,
                to: 8443
            })
        );
        assert!(m.entries[1].egress);
        assert_eq!(m.entries[1].cidr, "::/0".parse::<ipnet::IpNet>().unwrap());
    }

    #[test]
    fn vpc_cidrs_put_the_primary_first_and_skip_disassociated_blocks() {
        let assoc = |cidr: &str, state: VpcCidrBlockStateCode| {
            VpcCidrBlockAssociation::builder()
                .cidr_block(cidr)
                .cidr_block_state(VpcCidrBlockState::builder().state(state).build())
                .build()
        };
        let v = ec2::Vpc::builder()
            .vpc_id("vpc-1")
            .cidr_block("10.0.0.0/16")
            .cidr_block_association_set(assoc("100.64.0.0/16", VpcCidrBlockStateCode::Associated))
            .cidr_block_association_set(assoc("10.0.0.0/16", VpcCidrBlockStateCode::Associated))
            .cidr_block_association_set(assoc("10.9.0.0/16", VpcCidrBlockStateCode::Disassociated))
            .dhcp_options_id("dopt-1")
            .build();
        let m = vpc(
            &v,
            pl_checks::Fact::Known(true),
            pl_checks::Fact::Known(false),
        )
        .unwrap();
        let want: Vec<ipnet::IpNet> = vec![
            "10.0.0.0/16".parse().unwrap(),
            "100.64.0.0/16".parse().unwrap(),
        ];
        assert_eq!(m.cidr_blocks, want);
        assert_eq!(m.enable_dns_hostnames, pl_checks::Fact::Known(false));
    }

    #[test]
    fn service_view_and_az_map_keep_wire_values() {
        let s = ServiceDetail::builder()
            .service_name("com.amazonaws.vpce.us-east-1.vpce-svc-0123")
            .service_id("vpce-svc-0123")
            .owner("111111111111")
            .service_type(
                ServiceTypeDetail::builder()
                    .service_type(ec2::ServiceType::Interface)
                    .build(),
            )
            .acceptance_required(true)
            .availability_zones("us-east-1a")
            .private_dns_name("payments.internal.example.com")
            .private_dns_name_verification_state(ec2::DnsNameState::from("pendingVerification"))
            .supported_ip_address_types(ec2::ServiceConnectivityType::Ipv4)
            .build();
        let v = service_view(&s).unwrap();
        assert_eq!(v.service_type, "Interface");
        assert_eq!(
            v.private_dns_name_verification_state.as_deref(),
            Some("pendingVerification")
        );
        assert_eq!(v.supported_ip_address_types, ["ipv4"]);
        assert!(v.acceptance_required);

        let zones = [
            AvailabilityZone::builder()
                .zone_name("us-east-1a")
                .zone_id("use1-az2")
                .build(),
            AvailabilityZone::builder().zone_name("broken").build(),
        ];
        assert_eq!(
            az_map(&zones),
            [AzMapping {
                name: "us-east-1a".into(),
                id: "use1-az2".into()
            }]
        );
    }

    #[test]
    fn client_instance_collects_every_private_address_and_group() {
        let i = ec2::Instance::builder()
            .instance_id("i-0123456789abcdef0")
            .private_ip_address("10.0.3.10")
            .subnet_id("subnet-3")
            .security_groups(GroupIdentifier::builder().group_id("sg-b").build())
            .network_interfaces(
                ec2::InstanceNetworkInterface::builder()
                    .groups(GroupIdentifier::builder().group_id("sg-a").build())
                    .private_ip_addresses(
                        ec2::InstancePrivateIpAddress::builder()
                            .private_ip_address("10.0.3.10")
                            .build(),
                    )
                    .private_ip_addresses(
                        ec2::InstancePrivateIpAddress::builder()
                            .private_ip_address("10.0.3.11")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let c = client_instance("i-0123456789abcdef0", &i).unwrap();
        assert_eq!(
            c.addresses,
            vec![
                "10.0.3.10/32".parse::<ipnet::IpNet>().unwrap(),
                "10.0.3.11/32".parse().unwrap()
            ]
        );
        assert_eq!(c.security_group_ids, ["sg-a", "sg-b"]);
        assert_eq!(c.subnet_id.as_deref(), Some("subnet-3"));
    }

    #[test]
    fn service_configuration_and_permissions_keep_wire_values() {
        let c = ec2::ServiceConfiguration::builder()
            .service_id("vpce-svc-0123")
            .service_name("com.amazonaws.vpce.us-east-1.vpce-svc-0123")
            .service_state(ec2::ServiceState::Available)
            .acceptance_required(false)
            .network_load_balancer_arns("arn:nlb")
            .availability_zones("us-east-1b")
            .private_dns_name("payments.internal.example.com")
            .private_dns_name_configuration(
                ec2::PrivateDnsNameConfiguration::builder()
                    .state(ec2::DnsNameState::from("verified"))
                    .r#type("TXT")
                    .name("_a1b2c3d4")
                    .value("vpce:abc")
                    .build(),
            )
            .supported_regions(
                ec2::SupportedRegionDetail::builder()
                    .region("us-east-1")
                    .service_state("Available")
                    .build(),
            )
            .supported_regions(
                ec2::SupportedRegionDetail::builder()
                    .region("eu-west-1")
                    .service_state("Pending")
                    .build(),
            )
            .supported_ip_address_types(ec2::ServiceConnectivityType::Ipv4)
            .supported_ip_address_types(ec2::ServiceConnectivityType::Ipv6)
            .build();
        let m = service_configuration(&c).unwrap();
        assert_eq!(m.service_state, "Available");
        assert_eq!(m.network_load_balancer_arns, ["arn:nlb"]);
        let dns = m.private_dns_name_configuration.unwrap();
        assert_eq!(
            (dns.state.as_str(), dns.record_type.as_str()),
            ("verified", "TXT")
        );
        // Each Region keeps its own state: a Pending one is not yet usable.
        assert_eq!(
            m.supported_regions,
            [
                SupportedRegion {
                    region: "us-east-1".into(),
                    service_state: Some("Available".into())
                },
                SupportedRegion {
                    region: "eu-west-1".into(),
                    service_state: Some("Pending".into())
                },
            ]
        );
        assert_eq!(m.supported_ip_address_types, ["ipv4", "ipv6"]);

        let p = ec2::AllowedPrincipal::builder()
            .principal("arn:aws:iam::222222222222:root")
            .principal_type(ec2::PrincipalType::Account)
            .build();
        assert_eq!(allowed_principal(&p).unwrap().principal_type, "Account");

        let conn = ec2::VpcEndpointConnection::builder()
            .vpc_endpoint_id("vpce-1")
            .vpc_endpoint_owner("222222222222")
            .vpc_endpoint_state(State::from("pendingAcceptance"))
            .creation_timestamp(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .build();
        let m = endpoint_connection(&conn).unwrap();
        assert_eq!(m.vpc_endpoint_state, "pendingAcceptance");
        assert_eq!(
            m.creation_timestamp.as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
    }
}
