//! The two healthy worlds every other scenario breaks one link of:
//!
//! * [`healthy`]: a cross-account endpoint in us-east-1. Consumer 222222222222
//!   (VPC 10.0.0.0/16, ENIs in use1-az1 and use1-az2), provider 111111111111
//!   (internal NLB on 8443 in the same two AZ IDs, whose *names* differ between
//!   the accounts), private DNS `payments.internal.example.com` verified, a client
//!   instance 10.0.3.10 with its own security group, flow logs to CloudWatch Logs.
//! * [`enterprise`]: the seed's enterprise scenario: both VPCs on 10.20.0.0/16, an
//!   NLB in three AZs with cross-zone on, acceptance required, the partner's
//!   workload role (not its account root) as the allowed principal.

use super::Scenario;
use crate::fact::Fact;
use crate::model::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const REGION: &str = "us-east-1";
pub const CONSUMER_ACCOUNT: &str = "222222222222";
pub const PROVIDER_ACCOUNT: &str = "111111111111";
pub const ENDPOINT_ID: &str = "vpce-0a1b2c3d4e5f6a7b8";
pub const SERVICE_ID: &str = "vpce-svc-0123456789abcdef0";
pub const SERVICE_NAME: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";
pub const PRIVATE_DNS_NAME: &str = "payments.internal.example.com";
pub const PORT: u16 = 8443;
pub const CONSUMER_VPC: &str = "vpc-0c0a5e1b2d3f4a5b6";
pub const PROVIDER_VPC: &str = "vpc-0f1e2d3c4b5a69788";
pub const ENDPOINT_SG: &str = "sg-0e1d2c3b4a5f60718";
pub const CLIENT_SG: &str = "sg-0a9b8c7d6e5f40312";
pub const CLIENT_INSTANCE: &str = "i-0123456789abcdef0";
pub const CLIENT_IP: &str = "10.0.3.10";
pub const CONSUMER_NACL: &str = "acl-0c1d2e3f4a5b6c7d8";
pub const NLB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/payments-svc-nlb/50dc6c495c0c9188";
pub const LISTENER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:listener/net/payments-svc-nlb/50dc6c495c0c9188/f2f7dc8efc522ab2";
pub const TG_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/payments-svc-tg/73e2d6bc24d8a067";
pub const NLB_SG: &str = "sg-0b1b2b3b4b5b6b7b8";
pub const TARGET_SG: &str = "sg-0d1d2d3d4d5d6d7d8";
pub const FLOW_LOG_GROUP: &str = "/vpc/flow-logs/consumer";
pub const NOTIFICATION_TOPIC: &str = "arn:aws:sns:us-east-1:111111111111:privatelink-connections";

/// The topic policy AWS documents for connection notifications: the endpoint service
/// principal may publish, for this account's endpoint service.
pub fn vpce_topic_policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["SNS:Publish","SNS:Subscribe","SNS:GetTopicAttributes"],"Resource":"{NOTIFICATION_TOPIC}","Condition":{{"StringEquals":{{"AWS:SourceOwner":"{PROVIDER_ACCOUNT}"}}}}}},{{"Sid":"vpce-publish","Effect":"Allow","Principal":{{"Service":"vpce.amazonaws.com"}},"Action":"SNS:Publish","Resource":"{NOTIFICATION_TOPIC}","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:ec2:{REGION}:{PROVIDER_ACCOUNT}:vpc-endpoint-service/*"}}}}}}]}}"#
    )
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("scenario IP")
}

pub fn net(s: &str) -> ipnet::IpNet {
    s.parse().expect("scenario CIDR")
}

pub fn tcp(port: u16, peer: SgPeer, description: &str) -> SgRule {
    SgRule {
        protocol: "tcp".into(),
        port_range: Some(PortRange {
            from: port,
            to: port,
        }),
        peer,
        description: Some(description.into()),
    }
}

pub fn all_traffic(peer: SgPeer) -> SgRule {
    SgRule {
        protocol: "-1".into(),
        port_range: None,
        peer,
        description: None,
    }
}

pub fn sg(
    id: &str,
    name: &str,
    vpc: &str,
    owner: &str,
    ingress: Vec<SgRule>,
    egress: Vec<SgRule>,
) -> SecurityGroup {
    SecurityGroup {
        id: id.into(),
        name: name.into(),
        vpc_id: vpc.into(),
        owner_id: owner.into(),
        ingress,
        egress,
    }
}

pub fn subnet(id: &str, vpc: &str, cidr: &str, az: &str, az_id: &str) -> Subnet {
    Subnet {
        id: id.into(),
        vpc_id: vpc.into(),
        cidr_block: net(cidr),
        availability_zone: az.into(),
        availability_zone_id: az_id.into(),
        ipv6_cidr_blocks: vec![],
        ipv6_native: false,
    }
}

/// The AWS default network ACL: rule 100 allows everything both ways.
pub fn default_nacl(id: &str, vpc: &str, subnets: &[&str]) -> NetworkAcl {
    let all = |egress| NaclEntry {
        rule_number: 100,
        egress,
        protocol: "-1".into(),
        rule_action: "allow".into(),
        cidr: net("0.0.0.0/0"),
        port_range: None,
    };
    NetworkAcl {
        id: id.into(),
        vpc_id: vpc.into(),
        is_default: true,
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        entries: vec![all(false), all(true)],
    }
}

pub fn az(name: &str, id: &str) -> AzMapping {
    AzMapping {
        name: name.into(),
        id: id.into(),
    }
}

fn series(
    namespace: &str,
    metric: &str,
    dims: &[(&str, &str)],
    statistic: &str,
    values: &[f64],
) -> MetricSeries {
    MetricSeries {
        namespace: namespace.into(),
        metric_name: metric.into(),
        dimensions: dims
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        statistic: statistic.into(),
        period_seconds: 300,
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("2026-11-24T09:{:02}:00Z", i * 5), *v))
            .collect(),
    }
}

/// NLB metric series for one hour in 5-minute points, the dimension AWS uses for an NLB.
pub fn nlb_series(metric: &str, statistic: &str, values: &[f64]) -> MetricSeries {
    series(
        "AWS/NetworkELB",
        metric,
        &[("LoadBalancer", "net/payments-svc-nlb/50dc6c495c0c9188")],
        statistic,
        values,
    )
}

/// An NLB metric in one AZ (dimensions AvailabilityZone, LoadBalancer), 5-minute Sums.
pub fn nlb_zone_series(metric: &str, zone: &str, values: &[f64]) -> MetricSeries {
    series(
        "AWS/NetworkELB",
        metric,
        &[
            ("AvailabilityZone", zone),
            ("LoadBalancer", "net/payments-svc-nlb/50dc6c495c0c9188"),
        ],
        "Sum",
        values,
    )
}

/// The provider's view of this endpoint (AWS/PrivateLinkServices, Service Id + VPC Endpoint Id).
pub fn service_endpoint_series(metric: &str, values: &[f64]) -> MetricSeries {
    series(
        "AWS/PrivateLinkServices",
        metric,
        &[("Service Id", SERVICE_ID), ("VPC Endpoint Id", ENDPOINT_ID)],
        "Sum",
        values,
    )
}

pub fn endpoint_series(metric: &str, statistic: &str, values: &[f64]) -> MetricSeries {
    series(
        "AWS/PrivateLinkEndpoints",
        metric,
        &[
            ("Endpoint Type", "Interface"),
            ("Service Name", SERVICE_NAME),
            ("VPC Endpoint Id", ENDPOINT_ID),
            ("VPC Id", CONSUMER_VPC),
        ],
        statistic,
        values,
    )
}

pub fn target(ip_addr: &str, az_name: &str, state: &str, reason: Option<&str>) -> TargetHealthFact {
    TargetHealthFact {
        id: ip_addr.into(),
        port: PORT,
        state: state.into(),
        reason: reason.map(Into::into),
        description: reason.map(|r| match r {
            "Target.FailedHealthChecks" => "Health checks failed".into(),
            "Target.Timeout" => "Request timed out".into(),
            other => other.to_string(),
        }),
        availability_zone: Some(az_name.into()),
        private_ip: Some(ip(ip_addr)),
        security_group_ids: Fact::Known(vec![TARGET_SG.into()]),
    }
}

/// The healthy cross-account endpoint (see module docs).
pub fn healthy() -> Snapshot {
    let eni_a = "eni-0a1a2a3a4a5a6a7a8";
    let eni_b = "eni-0b1b2b3b4b5b6b7b8";
    let regional = format!("{ENDPOINT_ID}-abcd1234.{SERVICE_ID}.{REGION}.vpce.amazonaws.com");
    let zonal_a =
        format!("{ENDPOINT_ID}-abcd1234-us-east-1a.{SERVICE_ID}.{REGION}.vpce.amazonaws.com");
    let zonal_b =
        format!("{ENDPOINT_ID}-abcd1234-us-east-1b.{SERVICE_ID}.{REGION}.vpce.amazonaws.com");
    let enis = vec![ip("10.0.1.25"), ip("10.0.2.25")];

    Snapshot {
        snapshot_version: SNAPSHOT_VERSION,
        collected_by: "pl-doctor 0.1.0".into(),
        collected_at: "2026-11-24T10:00:00Z".into(),
        region: REGION.into(),
        inputs: CollectionInputs {
            endpoint_id: ENDPOINT_ID.into(),
            client: Some(CLIENT_INSTANCE.into()),
            ports: vec![],
            window_seconds: 3600,
            only: vec![],
            skip: vec![],
            view: View::Consumer,
            consumer_unread: None,
            action: None,
            principal: None,
            resource: None,
        },
        consumer_identity: Fact::Known(CallerIdentity {
            account: CONSUMER_ACCOUNT.into(),
            arn: format!("arn:aws:sts::{CONSUMER_ACCOUNT}:assumed-role/oncall/jane"),
        }),
        consumer: ConsumerSide {
            endpoint: Endpoint {
                id: ENDPOINT_ID.into(),
                endpoint_type: "Interface".into(),
                state: "available".into(),
                last_error: None,
                owner_id: CONSUMER_ACCOUNT.into(),
                vpc_id: CONSUMER_VPC.into(),
                service_name: SERVICE_NAME.into(),
                subnet_ids: vec!["subnet-0a1b2c3d4e5f60001".into(), "subnet-0a1b2c3d4e5f60002".into()],
                network_interface_ids: vec![eni_a.into(), eni_b.into()],
                security_group_ids: vec![ENDPOINT_SG.into()],
                private_dns_enabled: true,
                dns_entries: vec![
                    DnsEntry { dns_name: regional.clone(), hosted_zone_id: "Z7HUB22UULQXV".into() },
                    DnsEntry { dns_name: zonal_a.clone(), hosted_zone_id: "Z7HUB22UULQXV".into() },
                    DnsEntry { dns_name: zonal_b.clone(), hosted_zone_id: "Z7HUB22UULQXV".into() },
                    DnsEntry { dns_name: PRIVATE_DNS_NAME.into(), hosted_zone_id: "Z0123456789PRIVATEZONE".into() },
                ],
                ip_address_type: Some("ipv4".into()),
                dns_record_ip_type: Some("ipv4".into()),
                service_region: Some(REGION.into()),
                policy_document: None,
                private_dns_only_for_inbound_resolver_endpoint: None,
            },
            endpoint_enis: Fact::Known(vec![
                NetworkInterface {
                    id: eni_a.into(),
                    subnet_id: "subnet-0a1b2c3d4e5f60001".into(),
                    availability_zone: "us-east-1a".into(),
                    private_ip: enis[0],
                    ipv6_addresses: vec![],
                    security_group_ids: vec![ENDPOINT_SG.into()],
                },
                NetworkInterface {
                    id: eni_b.into(),
                    subnet_id: "subnet-0a1b2c3d4e5f60002".into(),
                    availability_zone: "us-east-1b".into(),
                    private_ip: enis[1],
                    ipv6_addresses: vec![],
                    security_group_ids: vec![ENDPOINT_SG.into()],
                },
            ]),
            vpc: Fact::Known(Vpc {
                id: CONSUMER_VPC.into(),
                cidr_blocks: vec![net("10.0.0.0/16")],
                enable_dns_support: Fact::Known(true),
                enable_dns_hostnames: Fact::Known(true),
                dhcp_options_id: Some("dopt-0a1b2c3d".into()),
            }),
            subnets: Fact::Known(vec![
                subnet("subnet-0a1b2c3d4e5f60001", CONSUMER_VPC, "10.0.1.0/24", "us-east-1a", "use1-az1"),
                subnet("subnet-0a1b2c3d4e5f60002", CONSUMER_VPC, "10.0.2.0/24", "us-east-1b", "use1-az2"),
                subnet("subnet-0a1b2c3d4e5f60003", CONSUMER_VPC, "10.0.3.0/24", "us-east-1a", "use1-az1"),
            ]),
            network_acls: Fact::Known(vec![default_nacl(
                CONSUMER_NACL,
                CONSUMER_VPC,
                &["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"],
            )]),
            security_groups: Fact::Known(vec![
                sg(
                    ENDPOINT_SG,
                    "payments-endpoint-sg",
                    CONSUMER_VPC,
                    CONSUMER_ACCOUNT,
                    vec![tcp(PORT, SgPeer::Cidr(net("10.0.0.0/16")), "Clients to PrivateLink endpoint")],
                    vec![all_traffic(SgPeer::Cidr(net("0.0.0.0/0")))],
                ),
                sg(
                    CLIENT_SG,
                    "payments-client-sg",
                    CONSUMER_VPC,
                    CONSUMER_ACCOUNT,
                    vec![],
                    vec![tcp(PORT, SgPeer::SecurityGroup(ENDPOINT_SG.into()), "to payments endpoint")],
                ),
            ]),
            prefix_lists: Fact::Known(vec![]),
            az_map: Fact::Known(vec![
                az("us-east-1a", "use1-az1"),
                az("us-east-1b", "use1-az2"),
                az("us-east-1c", "use1-az4"),
                az("us-east-1d", "use1-az6"),
            ]),
            regions: Fact::not_requested(REGIONS_SAME_REGION),
            service: Fact::Known(ServiceView {
                service_name: SERVICE_NAME.into(),
                service_id: SERVICE_ID.into(),
                owner: PROVIDER_ACCOUNT.into(),
                service_type: "Interface".into(),
                acceptance_required: true,
                availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
                private_dns_name: Some(PRIVATE_DNS_NAME.into()),
                private_dns_name_verification_state: Some("verified".into()),
                base_endpoint_dns_names: vec![format!("{SERVICE_ID}.{REGION}.vpce.amazonaws.com")],
                service_region: Some(REGION.into()),
                supported_ip_address_types: vec!["ipv4".into()],
                vpc_endpoint_policy_supported: None,
            }),
            client: Some(Fact::Known(ClientFacts {
                spec: CLIENT_INSTANCE.into(),
                addresses: vec![net("10.0.3.10/32")],
                security_group_ids: vec![CLIENT_SG.into()],
                subnet_id: Some("subnet-0a1b2c3d4e5f60003".into()),
            })),
            dns_config: Fact::Known(aws_dns_config("dopt-0a1b2c3d", PRIVATE_DNS_NAME, "Z0123456789PRIVATEZONE")),
        },
        provider: ProviderSide {
            identity: Fact::Known(CallerIdentity {
                account: PROVIDER_ACCOUNT.into(),
                arn: format!("arn:aws:sts::{PROVIDER_ACCOUNT}:assumed-role/pl-doctor-readonly/pl-doctor"),
            }),
            service_configuration: Fact::Known(ServiceConfiguration {
                service_id: SERVICE_ID.into(),
                service_name: SERVICE_NAME.into(),
                service_state: "Available".into(),
                acceptance_required: true,
                network_load_balancer_arns: vec![NLB_ARN.into()],
                gateway_load_balancer_arns: vec![],
                // Provider's naming: its us-east-1a is use1-az2, its us-east-1b is use1-az1.
                availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
                private_dns_name: Some(PRIVATE_DNS_NAME.into()),
                private_dns_name_configuration: Some(PrivateDnsNameConfiguration {
                    state: "verified".into(),
                    record_type: "TXT".into(),
                    name: "_a1b2c3d4".into(),
                    value: "vpce:8mDqKz2bPq1Xc9lR0sTu".into(),
                }),
                supported_regions: vec![SupportedRegion {
                    region: REGION.into(),
                    service_state: Some("Available".into()),
                }],
                supported_ip_address_types: vec!["ipv4".into()],
            }),
            allowed_principals: Fact::Known(vec![AllowedPrincipal {
                principal: format!("arn:aws:iam::{CONSUMER_ACCOUNT}:root"),
                principal_type: "Account".into(),
            }]),
            connections: Fact::Known(vec![EndpointConnection {
                vpc_endpoint_id: ENDPOINT_ID.into(),
                vpc_endpoint_owner: CONSUMER_ACCOUNT.into(),
                vpc_endpoint_state: "available".into(),
                creation_timestamp: Some("2026-11-20T08:00:00Z".into()),
                network_load_balancer_arns: vec![NLB_ARN.into()],
                availability_zones: vec![],
                vpc_endpoint_region: Some(REGION.into()),
            }]),
            az_map: Fact::Known(vec![
                az("us-east-1a", "use1-az2"),
                az("us-east-1b", "use1-az1"),
                az("us-east-1c", "use1-az6"),
                az("us-east-1d", "use1-az4"),
            ]),
            load_balancers: Fact::Known(vec![LoadBalancer {
                arn: NLB_ARN.into(),
                name: "payments-svc-nlb".into(),
                lb_type: "network".into(),
                scheme: "internal".into(),
                ip_address_type: Some("ipv4".into()),
                state: "active".into(),
                vpc_id: PROVIDER_VPC.into(),
                availability_zones: vec![
                    LbZone {
                        zone_name: "us-east-1a".into(),
                        subnet_id: "subnet-0f0e0d0c0b0a00001".into(),
                        private_ipv4_addresses: vec![ip("10.1.1.10")],
                    },
                    LbZone {
                        zone_name: "us-east-1b".into(),
                        subnet_id: "subnet-0f0e0d0c0b0a00002".into(),
                        private_ipv4_addresses: vec![ip("10.1.2.10")],
                    },
                ],
                security_group_ids: vec![NLB_SG.into()],
                enforce_sg_inbound_rules_on_privatelink: Some("on".into()),
                attributes: Fact::Known(LbAttributes {
                    cross_zone_enabled: true,
                    raw: BTreeMap::from([
                        ("deletion_protection.enabled".into(), "true".into()),
                        ("load_balancing.cross_zone.enabled".into(), "true".into()),
                    ]),
                }),
                listeners: Fact::Known(vec![Listener {
                    arn: LISTENER_ARN.into(),
                    port: PORT,
                    protocol: "TCP".into(),
                    default_actions: vec![ListenerAction {
                        action_type: "forward".into(),
                        target_group_arns: vec![TG_ARN.into()],
                    }],
                    tcp_idle_timeout_seconds: Some(350),
                    attributes_missing: None,
                }]),
            }]),
            target_groups: Fact::Known(vec![TargetGroup {
                arn: TG_ARN.into(),
                name: "payments-svc-tg".into(),
                protocol: "TCP".into(),
                port: PORT,
                target_type: "ip".into(),
                vpc_id: PROVIDER_VPC.into(),
                load_balancer_arns: vec![NLB_ARN.into()],
                health_check: HealthCheck {
                    protocol: "TCP".into(),
                    port: "traffic-port".into(),
                },
                cross_zone: Some("use_load_balancer_configuration".into()),
                attributes_missing: None,
                proxy_protocol_v2: Some(false),
                targets: Fact::Known(vec![
                    target("10.1.1.100", "us-east-1a", "healthy", None),
                    target("10.1.2.100", "us-east-1b", "healthy", None),
                ]),
            }]),
            subnets: Fact::Known(vec![
                subnet("subnet-0f0e0d0c0b0a00001", PROVIDER_VPC, "10.1.1.0/24", "us-east-1a", "use1-az2"),
                subnet("subnet-0f0e0d0c0b0a00002", PROVIDER_VPC, "10.1.2.0/24", "us-east-1b", "use1-az1"),
            ]),
            security_groups: Fact::Known(vec![
                sg(
                    NLB_SG,
                    "payments-nlb-sg",
                    PROVIDER_VPC,
                    PROVIDER_ACCOUNT,
                    vec![tcp(PORT, SgPeer::Cidr(net("0.0.0.0/0")), "PrivateLink clients")],
                    vec![all_traffic(SgPeer::Cidr(net("0.0.0.0/0")))],
                ),
                sg(
                    TARGET_SG,
                    "payments-targets-sg",
                    PROVIDER_VPC,
                    PROVIDER_ACCOUNT,
                    vec![tcp(PORT, SgPeer::SecurityGroup(NLB_SG.into()), "from the NLB (traffic and health checks)")],
                    vec![all_traffic(SgPeer::Cidr(net("0.0.0.0/0")))],
                ),
            ]),
            prefix_lists: Fact::Known(vec![]),
            connection_notifications: Fact::Known(vec![ConnectionNotification {
                id: "vpce-nfn-0a1b2c3d4e5f60718".into(),
                notification_type: "Topic".into(),
                topic_arn: NOTIFICATION_TOPIC.into(),
                events: vec!["Connect".into(), "Accept".into(), "Reject".into(), "Delete".into()],
                state: "Enabled".into(),
                topic_policy: Fact::Known(vpce_topic_policy()),
            }]),
            alb_target_groups: Fact::Known(vec![]),
        },
        dns: Fact::Known(DnsFacts {
            resolver: "10.0.0.2:53".into(),
            lookups: vec![
                DnsLookup {
                    name: PRIVATE_DNS_NAME.into(),
                    role: DnsNameRole::PrivateDnsName,
                    outcome: DnsOutcome::Answer { addresses: enis.clone(), cname_chain: vec![] },
                },
                DnsLookup {
                    name: regional,
                    role: DnsNameRole::Regional,
                    outcome: DnsOutcome::Answer { addresses: enis.clone(), cname_chain: vec![] },
                },
                DnsLookup {
                    name: zonal_a,
                    role: DnsNameRole::Zonal,
                    outcome: DnsOutcome::Answer { addresses: vec![enis[0]], cname_chain: vec![] },
                },
                DnsLookup {
                    name: zonal_b,
                    role: DnsNameRole::Zonal,
                    outcome: DnsOutcome::Answer { addresses: vec![enis[1]], cname_chain: vec![] },
                },
            ],
        }),
        probe: Fact::Known(ProbeFacts {
            port: PORT,
            attempts: vec![
                ProbeAttempt {
                    address: enis[0],
                    availability_zone: Some("us-east-1a".into()),
                    outcome: ProbeOutcome::Connected { millis: 2 },
                    tls: None,
                },
                ProbeAttempt {
                    address: enis[1],
                    availability_zone: Some("us-east-1b".into()),
                    outcome: ProbeOutcome::Connected { millis: 3 },
                    tls: None,
                },
            ],
        }),
        observability: Observability {
            window_start: "2026-11-24T09:00:00Z".into(),
            window_end: "2026-11-24T10:00:00Z".into(),
            metrics: Fact::Known(vec![
                nlb_series("TCP_Target_Reset_Count", "Sum", &[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
                nlb_series("TCP_ELB_Reset_Count", "Sum", &[0.0; 12]),
                nlb_series("TCP_Client_Reset_Count", "Sum", &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
                nlb_series("ActiveFlowCount", "Average", &[120.0, 118.0, 125.0, 130.0, 122.0, 119.0, 121.0, 124.0, 126.0, 123.0, 120.0, 118.0]),
                nlb_series("NewFlowCount", "Sum", &[40.0, 38.0, 45.0, 50.0, 42.0, 39.0, 41.0, 44.0, 46.0, 43.0, 40.0, 38.0]),
                nlb_series("HealthyHostCount", "Minimum", &[2.0; 12]),
                nlb_series("UnHealthyHostCount", "Maximum", &[0.0; 12]),
                // NLB metrics are published only when non-zero: no points is the healthy reply.
                nlb_series("PortAllocationErrorCount", "Sum", &[]),
                nlb_series("SecurityGroupBlockedFlowCount_Inbound_TCP", "Sum", &[]),
                nlb_zone_series("PortAllocationErrorCount", "us-east-1a", &[]),
                nlb_zone_series("PortAllocationErrorCount", "us-east-1b", &[]),
                service_endpoint_series("RstPacketsSent", &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
                endpoint_series("RstPacketsReceived", "Sum", &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
                endpoint_series("PacketsDropped", "Sum", &[0.0; 12]),
                endpoint_series("ActiveConnections", "Average", &[60.0, 59.0, 62.0, 65.0, 61.0, 60.0, 60.0, 62.0, 63.0, 61.0, 60.0, 59.0]),
            ]),
            flow_logs: Fact::Known(vec![FlowLog {
                id: "fl-0a1b2c3d4e5f60718".into(),
                resource_id: CONSUMER_VPC.into(),
                traffic_type: "ALL".into(),
                destination_type: "cloud-watch-logs".into(),
                log_group_name: Some(FLOW_LOG_GROUP.into()),
                destination: Some(format!("arn:aws:logs:{REGION}:{CONSUMER_ACCOUNT}:log-group:{FLOW_LOG_GROUP}")),
                log_format: Some("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}".into()),
                status: "ACTIVE".into(),
            }]),
            flow_log_rejects: Fact::Known(FlowLogRejects {
                log_groups: vec![FLOW_LOG_GROUP.into()],
                query: format!(
                    "fields @timestamp, srcAddr, dstAddr, dstPort, action, interfaceId\n| filter interfaceId in [\"{eni_a}\", \"{eni_b}\"]\n| filter action = \"REJECT\"\n| stats count() as rejects by srcAddr, dstPort, interfaceId\n| sort rejects desc\n| limit 20"
                ),
                rows: vec![],
                records_scanned: Some(48210.0),
                bytes_scanned: Some(9_650_112.0),
                rows_skipped: 0,
                skipped_reasons: vec![],
            }),
        },
        vantage: None,
        changes: None,
    }
}

/// The VPC's DNS configuration when nothing of the customer's is in the way: the DHCP
/// option set hands out AmazonProvidedDNS, no Resolver rules, and the only private hosted
/// zone is the one PrivateLink manages for the private DNS name.
pub fn aws_dns_config(dhcp_options_id: &str, private_dns_name: &str, zone_id: &str) -> DnsConfig {
    DnsConfig {
        dhcp_options: Fact::Known(DhcpOptions {
            id: dhcp_options_id.into(),
            domain_name_servers: vec!["AmazonProvidedDNS".into()],
            domain_name: Some("ec2.internal".into()),
        }),
        resolver_rules: Fact::Known(vec![]),
        hosted_zones: Fact::Known(vec![PrivateZone {
            id: zone_id.into(),
            name: private_dns_name.into(),
            owning_account: None,
            owning_service: Some("vpce.amazonaws.com".into()),
            records: Fact::not_requested("a zone AWS manages for the endpoint's private DNS name"),
        }]),
    }
}

/// The seed's enterprise scenario (see module docs).
pub fn enterprise() -> Snapshot {
    let mut s = healthy();
    let consumer = "333333333333";
    let role = "arn:aws:iam::333333333333:role/fraud-client-prod";
    let dns_name = "fraud.internal.payments.example.com";
    let svc_id = "vpce-svc-0fa1b2c3d4e5f6071";
    let svc_name = format!("com.amazonaws.vpce.us-east-1.{svc_id}");
    let ep_id = "vpce-0f1a2b3c4d5e6f708";
    let vpc = "vpc-0e1e2e3e4e5e6e7e8";
    let pvpc = "vpc-0d0d1d2d3d4d5d6d7";
    let nlb_arn = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/fraud-scoring-nlb/8a1b2c3d4e5f6a7b";
    let tg_arn = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/fraud-scoring-tg/1b2c3d4e5f6a7b8c";
    let enis = [
        ("eni-0e01e02e03e04e05e", "10.20.1.37"),
        ("eni-0e11e12e13e14e15e", "10.20.2.41"),
        ("eni-0e21e22e23e24e25e", "10.20.3.29"),
    ];
    // Consumer naming: a→az1, b→az2, c→az4. Provider naming: a→az2, b→az1, c→az4.
    let consumer_azs = [
        ("us-east-1a", "use1-az1"),
        ("us-east-1b", "use1-az2"),
        ("us-east-1c", "use1-az4"),
    ];
    let provider_azs = [
        ("us-east-1a", "use1-az2"),
        ("us-east-1b", "use1-az1"),
        ("us-east-1c", "use1-az4"),
    ];
    let regional = format!("{ep_id}-9zq8w7x6.{svc_id}.{REGION}.vpce.amazonaws.com");

    s.inputs = CollectionInputs {
        endpoint_id: ep_id.into(),
        client: Some("10.20.8.0/22".into()),
        ports: vec![],
        window_seconds: 3600,
        only: vec![],
        skip: vec![],
        view: View::Consumer,
        consumer_unread: None,
        action: None,
        principal: None,
        resource: None,
    };
    s.consumer_identity = Fact::Known(CallerIdentity {
        account: consumer.into(),
        arn: format!("arn:aws:sts::{consumer}:assumed-role/fraud-client-prod/oncall"),
    });
    let c = &mut s.consumer;
    c.client = None;
    let subnet_ids: Vec<String> = (1..=3)
        .map(|i| format!("subnet-0e0e0e0e0e0e0000{i}"))
        .collect();
    c.endpoint = Endpoint {
        id: ep_id.into(),
        endpoint_type: "Interface".into(),
        state: "available".into(),
        last_error: None,
        owner_id: consumer.into(),
        vpc_id: vpc.into(),
        service_name: svc_name.clone(),
        subnet_ids: subnet_ids.clone(),
        network_interface_ids: enis.iter().map(|(e, _)| e.to_string()).collect(),
        security_group_ids: vec![ENDPOINT_SG.into()],
        private_dns_enabled: true,
        dns_entries: vec![
            DnsEntry {
                dns_name: regional.clone(),
                hosted_zone_id: "Z7HUB22UULQXV".into(),
            },
            DnsEntry {
                dns_name: dns_name.into(),
                hosted_zone_id: "Z0987654321PRIVATEZONE".into(),
            },
        ],
        ip_address_type: Some("ipv4".into()),
        dns_record_ip_type: Some("ipv4".into()),
        service_region: Some(REGION.into()),
        policy_document: None,
        private_dns_only_for_inbound_resolver_endpoint: None,
    };
    c.dns_config = Fact::Known(aws_dns_config(
        "dopt-0e1e2e3e",
        dns_name,
        "Z0987654321PRIVATEZONE",
    ));
    c.endpoint_enis = Fact::Known(
        enis.iter()
            .zip(&subnet_ids)
            .zip(consumer_azs)
            .map(|(((eni, addr), sub), (az_name, _))| NetworkInterface {
                id: eni.to_string(),
                subnet_id: sub.clone(),
                availability_zone: az_name.into(),
                private_ip: ip(addr),
                ipv6_addresses: vec![],
                security_group_ids: vec![ENDPOINT_SG.into()],
            })
            .collect(),
    );
    c.vpc = Fact::Known(Vpc {
        id: vpc.into(),
        cidr_blocks: vec![net("10.20.0.0/16")],
        enable_dns_support: Fact::Known(true),
        enable_dns_hostnames: Fact::Known(true),
        dhcp_options_id: Some("dopt-0e1e2e3e".into()),
    });
    c.subnets = Fact::Known(
        subnet_ids
            .iter()
            .zip(consumer_azs)
            .enumerate()
            .map(|(i, (id, (name, zid)))| {
                subnet(id, vpc, &format!("10.20.{}.0/24", i + 1), name, zid)
            })
            .collect(),
    );
    c.network_acls = Fact::Known(vec![default_nacl(
        "acl-0e1e2e3e4e5e6e7e8",
        vpc,
        &subnet_ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )]);
    c.security_groups = Fact::Known(vec![sg(
        ENDPOINT_SG,
        "fraud-endpoint-sg",
        vpc,
        consumer,
        vec![tcp(
            PORT,
            SgPeer::Cidr(net("10.20.8.0/21")),
            "fraud clients (app subnets)",
        )],
        vec![],
    )]);
    c.az_map = Fact::Known(consumer_azs.iter().map(|(n, i)| az(n, i)).collect());
    c.service = Fact::Known(ServiceView {
        service_name: svc_name.clone(),
        service_id: svc_id.into(),
        owner: PROVIDER_ACCOUNT.into(),
        service_type: "Interface".into(),
        acceptance_required: true,
        availability_zones: consumer_azs.iter().map(|(n, _)| n.to_string()).collect(),
        private_dns_name: Some(dns_name.into()),
        private_dns_name_verification_state: Some("verified".into()),
        base_endpoint_dns_names: vec![format!("{svc_id}.{REGION}.vpce.amazonaws.com")],
        service_region: Some(REGION.into()),
        supported_ip_address_types: vec!["ipv4".into()],
        vpc_endpoint_policy_supported: None,
    });

    let p = &mut s.provider;
    let Fact::Known(cfg) = &mut p.service_configuration else {
        unreachable!()
    };
    cfg.service_id = svc_id.into();
    cfg.service_name = svc_name.clone();
    cfg.network_load_balancer_arns = vec![nlb_arn.into()];
    cfg.availability_zones = provider_azs.iter().map(|(n, _)| n.to_string()).collect();
    cfg.private_dns_name = Some(dns_name.into());
    p.allowed_principals = Fact::Known(vec![
        AllowedPrincipal {
            principal: role.into(),
            principal_type: "Role".into(),
        },
        AllowedPrincipal {
            principal: "arn:aws:iam::444444444444:role/fraud-client-prod".into(),
            principal_type: "Role".into(),
        },
        AllowedPrincipal {
            principal: "arn:aws:iam::555555555555:role/fraud-client-prod".into(),
            principal_type: "Role".into(),
        },
    ]);
    p.connections = Fact::Known(vec![EndpointConnection {
        vpc_endpoint_id: ep_id.into(),
        vpc_endpoint_owner: consumer.into(),
        vpc_endpoint_state: "available".into(),
        creation_timestamp: Some("2026-10-02T14:11:00Z".into()),
        network_load_balancer_arns: vec![nlb_arn.into()],
        availability_zones: vec![],
        vpc_endpoint_region: Some(REGION.into()),
    }]);
    p.az_map = Fact::Known(provider_azs.iter().map(|(n, i)| az(n, i)).collect());
    let provider_subnets: Vec<Subnet> = provider_azs
        .iter()
        .enumerate()
        .map(|(i, (n, zid))| {
            subnet(
                &format!("subnet-0d0d0d0d0d0d0000{}", i + 1),
                pvpc,
                &format!("10.20.{}.0/24", 101 + i),
                n,
                zid,
            )
        })
        .collect();
    let Fact::Known(lbs) = &mut p.load_balancers else {
        unreachable!()
    };
    let lb = &mut lbs[0];
    lb.arn = nlb_arn.into();
    lb.name = "fraud-scoring-nlb".into();
    lb.vpc_id = pvpc.into();
    lb.availability_zones = provider_subnets
        .iter()
        .enumerate()
        .map(|(i, sn)| LbZone {
            zone_name: sn.availability_zone.clone(),
            subnet_id: sn.id.clone(),
            private_ipv4_addresses: vec![ip(&format!("10.20.{}.10", 101 + i))],
        })
        .collect();
    lb.security_group_ids = vec![];
    lb.enforce_sg_inbound_rules_on_privatelink = None;
    let Fact::Known(ls) = &mut lb.listeners else {
        unreachable!()
    };
    ls[0].arn = "arn:aws:elasticloadbalancing:us-east-1:111111111111:listener/net/fraud-scoring-nlb/8a1b2c3d4e5f6a7b/0c1d2e3f4a5b6c7d".into();
    ls[0].protocol = "TLS".into();
    ls[0].default_actions[0].target_group_arns = vec![tg_arn.into()];
    let Fact::Known(tgs) = &mut p.target_groups else {
        unreachable!()
    };
    let tg = &mut tgs[0];
    tg.arn = tg_arn.into();
    tg.name = "fraud-scoring-tg".into();
    tg.vpc_id = pvpc.into();
    tg.load_balancer_arns = vec![nlb_arn.into()];
    tg.targets = Fact::Known(
        provider_azs
            .iter()
            .enumerate()
            .map(|(i, (n, _))| target(&format!("10.20.{}.{}", 101 + i, 50 + i), n, "healthy", None))
            .collect(),
    );
    p.subnets = Fact::Known(provider_subnets);
    // No NLB security group: the targets admit the NLB's subnets (PrivateLink traffic
    // arrives from the NLB's private addresses).
    p.security_groups = Fact::Known(vec![sg(
        TARGET_SG,
        "fraud-targets-sg",
        pvpc,
        PROVIDER_ACCOUNT,
        vec![
            tcp(PORT, SgPeer::Cidr(net("10.20.101.0/24")), "NLB us-east-1a"),
            tcp(PORT, SgPeer::Cidr(net("10.20.102.0/24")), "NLB us-east-1b"),
            tcp(PORT, SgPeer::Cidr(net("10.20.103.0/24")), "NLB us-east-1c"),
        ],
        vec![all_traffic(SgPeer::Cidr(net("0.0.0.0/0")))],
    )]);

    let eni_ips: Vec<IpAddr> = enis.iter().map(|(_, a)| ip(a)).collect();
    s.dns = Fact::Known(DnsFacts {
        resolver: "10.20.0.2:53".into(),
        lookups: vec![
            DnsLookup {
                name: dns_name.into(),
                role: DnsNameRole::PrivateDnsName,
                outcome: DnsOutcome::Answer {
                    addresses: eni_ips.clone(),
                    cname_chain: vec![],
                },
            },
            DnsLookup {
                name: regional,
                role: DnsNameRole::Regional,
                outcome: DnsOutcome::Answer {
                    addresses: eni_ips.clone(),
                    cname_chain: vec![],
                },
            },
        ],
    });
    s.probe = Fact::Known(ProbeFacts {
        port: PORT,
        attempts: eni_ips
            .iter()
            .zip(consumer_azs)
            .map(|(a, (n, _))| ProbeAttempt {
                address: *a,
                availability_zone: Some(n.into()),
                outcome: ProbeOutcome::Connected { millis: 2 },
                tls: None,
            })
            .collect(),
    });
    let o = &mut s.observability;
    let Fact::Known(metrics) = &mut o.metrics else {
        unreachable!()
    };
    for m in metrics.iter_mut() {
        if m.namespace == "AWS/NetworkELB" {
            m.dimensions.insert(
                "LoadBalancer".into(),
                "net/fraud-scoring-nlb/8a1b2c3d4e5f6a7b".into(),
            );
        } else {
            m.dimensions.insert("Service Name".into(), svc_name.clone());
            m.dimensions.insert("VPC Endpoint Id".into(), ep_id.into());
            m.dimensions.insert("VPC Id".into(), vpc.into());
        }
        if m.metric_name == "HealthyHostCount" {
            m.points.iter_mut().for_each(|p| p.1 = 3.0);
        }
    }
    let Fact::Known(fls) = &mut o.flow_logs else {
        unreachable!()
    };
    fls[0].resource_id = vpc.into();
    let Fact::Known(rej) = &mut o.flow_log_rejects else {
        unreachable!()
    };
    rej.query = rej
        .query
        .replace("eni-0a1a2a3a4a5a6a7a8", enis[0].0)
        .replace(
            "\"eni-0b1b2b3b4b5b6b7b8\"",
            &format!("\"{}\", \"{}\"", enis[1].0, enis[2].0),
        );
    s
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "healthy",
            "A healthy cross-account endpoint: every link of the path works.",
            healthy(),
            None,
            &[],
        ),
        Scenario::new(
            "enterprise",
            "The seed's enterprise scenario: both VPCs on 10.20.0.0/16, NLB in three AZs with cross-zone on, acceptance required, the partner's role (not its root) allowed.",
            enterprise(),
            None,
            &[("client-sg-egress", crate::check::Status::Skip)],
        ),
    ]
}
