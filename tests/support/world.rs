//! Scenario builders: a cross-account PrivateLink world created through the Rust SDK's
//! own create calls against the emulator.
//!
//! The healthy world is the seed's enterprise layout: provider 111111111111 (reached
//! with sts:AssumeRole, as pl-doctor reaches it) runs an internal NLB on 8443 in three
//! AZs of VPC 10.20.0.0/16 with cross-zone on, one target per AZ, behind an endpoint
//! service with a private DNS name that allows the consumer; consumer 123456789012 (the
//! default credentials' account) has an interface endpoint in two AZs of its own
//! 10.20.0.0/16, an endpoint security group admitting 8443 from the VPC and a custom
//! NACL on the endpoint subnets. Each scenario flips one field of [`Spec`].

use aws_sdk_ec2::config::{Credentials, Region};
use aws_sdk_ec2::types as ec2t;
use aws_sdk_elasticloadbalancingv2::types as elbt;
use aws_smithy_types::error::display::DisplayErrorContext;

pub const REGION: &str = "us-east-1";
pub const CONSUMER_ACCOUNT: &str = "123456789012";
pub const PROVIDER_ACCOUNT: &str = "111111111111";
/// The role pl-doctor assumes in the provider account (moto lets any role be assumed).
pub const PROVIDER_ROLE_ARN: &str = "arn:aws:iam::111111111111:role/pl-doctor-read";
pub const PORT: u16 = 8443;
pub const PRIVATE_DNS_NAME: &str = "payments.internal.example.com";
pub const VPC_CIDR: &str = "10.20.0.0/16";
/// Dummy consumer credentials, distinctive so a test can prove they are never saved.
pub const ACCESS_KEY_ID: &str = "AKIAPLDOCTORE2ETESTS";
pub const SECRET_ACCESS_KEY: &str = "pl-doctor-e2e-secret-never-in-a-snapshot";

/// AZ names (the same AZ IDs in both accounts in moto; see the gaps in live_emulator.rs).
pub const PROVIDER_AZS: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// Who the endpoint service allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// `arn:aws:iam::123456789012:root`.
    ConsumerRoot,
    /// `*`: every AWS account.
    Wildcard,
    /// Another account's root (222222222222), not the consumer.
    OtherAccount,
}

impl Principal {
    pub fn arn(self) -> &'static str {
        match self {
            Principal::ConsumerRoot => "arn:aws:iam::123456789012:root",
            Principal::Wildcard => "*",
            Principal::OtherAccount => "arn:aws:iam::222222222222:root",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// EC2 instances in the provider subnets.
    Instance,
    /// IP addresses in the provider subnets, each held by an ENI with the target group's SG.
    Ip,
}

/// One knob per link of the path; `Spec::default()` is healthy.
#[derive(Debug, Clone)]
pub struct Spec {
    pub principals: Vec<Principal>,
    /// TCP ports the endpoint security group admits from the VPC CIDR.
    pub endpoint_sg_ports: Vec<u16>,
    /// Inbound TCP range the endpoint subnets' NACL allows from the VPC CIDR.
    pub nacl_ingress: (u16, u16),
    /// A lower-numbered NACL entry denying `PORT` inbound from anywhere.
    pub nacl_denies_port: bool,
    pub enable_dns_hostnames: bool,
    pub listener_port: u16,
    pub cross_zone: bool,
    pub target_kind: TargetKind,
    /// Provider AZs holding one target each; empty for a target group with no targets.
    pub target_azs: Vec<&'static str>,
    /// Stop the target instances after registering them.
    pub stop_targets: bool,
    /// Consumer AZs holding the endpoint's subnets (and so its ENIs).
    pub endpoint_azs: Vec<&'static str>,
    /// A CloudWatch Logs group (created in the consumer account) that a flow log on each
    /// endpoint ENI, traffic type ALL, default format, delivers to; None: no flow logs.
    pub flow_log_group: Option<&'static str>,
    /// The service's AcceptanceRequired.
    pub acceptance_required: bool,
    /// A connection notification (all four events) to a new SNS topic in the provider
    /// account, with this topic policy; None: no notification.
    pub notification: Option<TopicPolicy>,
    /// PrivateDnsEnabled on the interface endpoint.
    pub private_dns_enabled: bool,
    /// The interface endpoint's PolicyDocument (endpoints to AWS services); None: AWS's default.
    pub endpoint_policy: Option<&'static str>,
}

/// The policy of a connection-notification topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicPolicy {
    /// What AWS documents: vpce.amazonaws.com may publish.
    VpcePublish,
    /// CreateTopic's default, owner-only policy: the endpoint service cannot publish.
    OwnerOnly,
}

pub const NOTIFICATION_TOPIC_NAME: &str = "privatelink-connections";

impl Default for Spec {
    fn default() -> Self {
        Spec {
            principals: vec![Principal::ConsumerRoot],
            endpoint_sg_ports: vec![PORT],
            nacl_ingress: (PORT, PORT),
            nacl_denies_port: false,
            enable_dns_hostnames: true,
            listener_port: PORT,
            cross_zone: true,
            target_kind: TargetKind::Instance,
            target_azs: PROVIDER_AZS.to_vec(),
            stop_targets: false,
            endpoint_azs: vec!["us-east-1a", "us-east-1b"],
            flow_log_group: None,
            acceptance_required: false,
            notification: None,
            private_dns_enabled: true,
            endpoint_policy: None,
        }
    }
}

impl Spec {
    /// The consumer side of an interface endpoint to an AWS service, healthy: HTTPS (443)
    /// admitted by the endpoint security group and the NACL.
    pub fn aws_service() -> Self {
        Spec {
            endpoint_sg_ports: vec![443],
            nacl_ingress: (443, 443),
            ..Spec::default()
        }
    }
}

/// An interface endpoint to an AWS service (`com.amazonaws.us-east-1.<service>`), built in
/// the consumer account only: AWS runs the provider side.
#[derive(Debug, Clone)]
pub struct AwsServiceWorld {
    pub endpoint_id: String,
    pub service_name: String,
    pub consumer_vpc: String,
    pub endpoint_sg: String,
    pub endpoint_enis: Vec<EndpointEni>,
    pub endpoint_dns_names: Vec<String>,
}

impl AwsServiceWorld {
    pub async fn build(url: &str, service: &str, spec: &Spec) -> Self {
        let consumer_conf = sdk_config(url, consumer_credentials()).await;
        let ec2 = aws_sdk_ec2::Client::new(&consumer_conf);
        let service_name = format!("com.amazonaws.{REGION}.{service}");
        let consumer = build_consumer(&ec2, spec, &service_name).await;
        let (endpoint_enis, endpoint_dns_names) =
            endpoint_details(&ec2, &consumer.endpoint_id).await;
        AwsServiceWorld {
            endpoint_id: consumer.endpoint_id,
            service_name,
            consumer_vpc: consumer.vpc,
            endpoint_sg: consumer.sg,
            endpoint_enis,
            endpoint_dns_names,
        }
    }
}

/// What the builder created, for the test's arguments and assertions.
#[derive(Debug, Clone)]
pub struct World {
    pub endpoint_id: String,
    pub service_id: String,
    pub service_name: String,
    pub consumer_vpc: String,
    pub endpoint_sg: String,
    pub endpoint_subnets: Vec<String>,
    pub endpoint_nacl: String,
    pub provider_vpc: String,
    pub nlb_arn: String,
    pub target_group_arn: String,
    /// Instance ids or IPs registered as targets.
    pub targets: Vec<String>,
    /// The endpoint's ENIs as the emulator finally reports them: (id, AZ, private IPv4).
    pub endpoint_enis: Vec<EndpointEni>,
    /// The endpoint's DnsEntries names, as the launcher makes them answer like AWS: the
    /// regional name, one zonal name per AZ, then the private DNS name when enabled.
    pub endpoint_dns_names: Vec<String>,
    /// The flow logs created for `Spec::flow_log_group`.
    pub flow_log_ids: Vec<String>,
    /// The SNS topic of `Spec::notification`.
    pub notification_topic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointEni {
    pub id: String,
    pub availability_zone: String,
    pub private_ip: String,
}

impl World {
    pub fn eni_ids(&self) -> Vec<&str> {
        self.endpoint_enis.iter().map(|e| e.id.as_str()).collect()
    }

    pub fn eni_ips(&self) -> Vec<&str> {
        self.endpoint_enis
            .iter()
            .map(|e| e.private_ip.as_str())
            .collect()
    }

    /// What the VPC resolver answers for the endpoint's own names, as AWS does: the
    /// regional name with every ENI, each zonal name (`…-<az>.vpce-svc-…`) with its AZ's
    /// ENI only; plus `private_answer` for the private DNS name (none: NXDOMAIN).
    pub fn aws_zone(&self, private_answer: &[&str]) -> super::dns_server::Zone {
        let mut zone = super::dns_server::Zone::new();
        if !private_answer.is_empty() {
            zone = zone.addresses(PRIVATE_DNS_NAME, private_answer);
        }
        for name in self
            .endpoint_dns_names
            .iter()
            .filter(|n| n.ends_with(".vpce.amazonaws.com"))
        {
            let first = name.split('.').next().unwrap_or_default();
            let zonal: Vec<&str> = self
                .endpoint_enis
                .iter()
                .filter(|e| first.ends_with(&format!("-{}", e.availability_zone)))
                .map(|e| e.private_ip.as_str())
                .collect();
            zone = if zonal.is_empty() {
                zone.addresses(name, &self.eni_ips())
            } else {
                zone.addresses(name, &zonal)
            };
        }
        zone
    }
}

/// Unwraps an SDK result, panicking with the whole error chain and what was being built.
fn ok<T, E: std::error::Error>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "building the emulator world: {what}: {}",
            DisplayErrorContext(&e)
        )
    })
}

/// `10.20.N.0/24` for AZ letter a=1, b=2, …: the same layout in both VPCs (they overlap,
/// as in the seed's enterprise scenario).
fn subnet_cidr(az: &str) -> String {
    let letter = az.bytes().last().expect("AZ name");
    format!("10.20.{}.0/24", letter - b'a' + 1)
}

fn host_in(az: &str, host: u8) -> String {
    let letter = az.bytes().last().expect("AZ name");
    format!("10.20.{}.{host}", letter - b'a' + 1)
}

pub async fn sdk_config(url: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(credentials)
        .load()
        .await
}

pub fn consumer_credentials() -> Credentials {
    Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        None,
        None,
        "pl-doctor-e2e",
    )
}

/// The provider account's credentials, through sts:AssumeRole as pl-doctor gets them.
pub async fn provider_credentials(url: &str) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&sdk_config(url, consumer_credentials()).await);
    let out = ok(
        sts.assume_role()
            .role_arn(PROVIDER_ROLE_ARN)
            .role_session_name("pl-doctor-e2e-builder")
            .send()
            .await,
        "sts:AssumeRole into the provider account",
    );
    let c = out.credentials().expect("AssumeRole returns credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "pl-doctor-e2e-provider",
    )
}

impl World {
    pub async fn build(url: &str, spec: &Spec) -> World {
        let consumer_conf = sdk_config(url, consumer_credentials()).await;
        let provider_conf = sdk_config(url, provider_credentials(url).await).await;
        let cec2 = aws_sdk_ec2::Client::new(&consumer_conf);
        let pec2 = aws_sdk_ec2::Client::new(&provider_conf);
        let pelb = aws_sdk_elasticloadbalancingv2::Client::new(&provider_conf);

        let provider = build_provider(&pec2, &pelb, spec).await;
        let notification_topic = match spec.notification {
            Some(policy) => {
                let sns = aws_sdk_sns::Client::new(&provider_conf);
                Some(build_notification(&pec2, &sns, &provider.service_id, policy).await)
            }
            None => None,
        };
        let consumer = build_consumer(&cec2, spec, &provider.service_name).await;
        let (endpoint_enis, endpoint_dns_names) =
            endpoint_details(&cec2, &consumer.endpoint_id).await;
        let flow_log_ids = match spec.flow_log_group {
            Some(group) => {
                let logs = aws_sdk_cloudwatchlogs::Client::new(&consumer_conf);
                build_flow_logs(&cec2, &logs, group, &endpoint_enis).await
            }
            None => Vec::new(),
        };
        World {
            endpoint_id: consumer.endpoint_id,
            service_id: provider.service_id,
            service_name: provider.service_name,
            consumer_vpc: consumer.vpc,
            endpoint_sg: consumer.sg,
            endpoint_subnets: consumer.subnets,
            endpoint_nacl: consumer.nacl,
            provider_vpc: provider.vpc,
            nlb_arn: provider.nlb_arn,
            target_group_arn: provider.tg_arn,
            targets: provider.targets,
            endpoint_enis,
            endpoint_dns_names,
            flow_log_ids,
            notification_topic,
        }
    }
}

/// An SNS topic with `policy` and a connection notification of the service to it.
async fn build_notification(
    ec2: &aws_sdk_ec2::Client,
    sns: &aws_sdk_sns::Client,
    service_id: &str,
    policy: TopicPolicy,
) -> String {
    let topic = ok(
        sns.create_topic()
            .name(NOTIFICATION_TOPIC_NAME)
            .send()
            .await,
        "CreateTopic",
    );
    let arn = topic.topic_arn().expect("topic ARN").to_owned();
    if policy == TopicPolicy::VpcePublish {
        let doc = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "vpce-publish",
                "Effect": "Allow",
                "Principal": { "Service": "vpce.amazonaws.com" },
                "Action": "SNS:Publish",
                "Resource": arn,
                "Condition": { "ArnLike": { "aws:SourceArn": format!(
                    "arn:aws:ec2:{REGION}:{PROVIDER_ACCOUNT}:vpc-endpoint-service/{service_id}"
                ) } }
            }]
        });
        ok(
            sns.set_topic_attributes()
                .topic_arn(&arn)
                .attribute_name("Policy")
                .attribute_value(doc.to_string())
                .send()
                .await,
            "SetTopicAttributes",
        );
    }
    ok(
        ec2.create_vpc_endpoint_connection_notification()
            .service_id(service_id)
            .connection_notification_arn(&arn)
            .set_connection_events(Some(
                ["Connect", "Accept", "Reject", "Delete"]
                    .map(String::from)
                    .to_vec(),
            ))
            .send()
            .await,
        "CreateVpcEndpointConnectionNotification",
    );
    arn
}

/// The endpoint's ENIs and DNS names, read back after the launcher gave the ENIs
/// their subnet addresses.
async fn endpoint_details(
    ec2: &aws_sdk_ec2::Client,
    endpoint_id: &str,
) -> (Vec<EndpointEni>, Vec<String>) {
    let described = ok(
        ec2.describe_vpc_endpoints()
            .vpc_endpoint_ids(endpoint_id)
            .send()
            .await,
        "DescribeVpcEndpoints (the new endpoint)",
    );
    let endpoint = &described.vpc_endpoints()[0];
    let names = endpoint
        .dns_entries()
        .iter()
        .filter_map(|d| d.dns_name().map(str::to_owned))
        .collect();
    let enis = ok(
        ec2.describe_network_interfaces()
            .set_network_interface_ids(Some(endpoint.network_interface_ids().to_vec()))
            .send()
            .await,
        "DescribeNetworkInterfaces (the endpoint ENIs)",
    );
    let enis = enis
        .network_interfaces()
        .iter()
        .map(|e| EndpointEni {
            id: e.network_interface_id().expect("ENI id").to_owned(),
            availability_zone: e.availability_zone().expect("ENI AZ").to_owned(),
            private_ip: e.private_ip_address().expect("ENI address").to_owned(),
        })
        .collect();
    (enis, names)
}

/// A log group and, on each endpoint ENI, a flow log (ALL traffic, default format) to it.
async fn build_flow_logs(
    ec2: &aws_sdk_ec2::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    enis: &[EndpointEni],
) -> Vec<String> {
    ok(
        logs.create_log_group().log_group_name(group).send().await,
        "CreateLogGroup",
    );
    let out = ok(
        ec2.create_flow_logs()
            .resource_type(ec2t::FlowLogsResourceType::NetworkInterface)
            .set_resource_ids(Some(enis.iter().map(|e| e.id.clone()).collect()))
            .traffic_type(ec2t::TrafficType::All)
            .log_destination_type(ec2t::LogDestinationType::CloudWatchLogs)
            .log_group_name(group)
            .deliver_logs_permission_arn(FLOW_LOGS_ROLE_ARN)
            .send()
            .await,
        "CreateFlowLogs",
    );
    assert!(
        out.unsuccessful().is_empty(),
        "CreateFlowLogs: {:?}",
        out.unsuccessful()
    );
    out.flow_log_ids().to_vec()
}

/// The role flow logs deliver with (moto only checks that one is named).
pub const FLOW_LOGS_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/vpc-flow-logs-delivery";

/// Writes `lines` (flow-log records) to a new stream of `group`, as the flow-log
/// service would, each stamped `timestamp_ms`.
pub async fn put_flow_log_records(url: &str, group: &str, lines: &[String], timestamp_ms: i64) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(url, consumer_credentials()).await);
    let stream = "eni-records";
    ok(
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await,
        "CreateLogStream",
    );
    let events = lines.iter().map(|l| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .message(l)
            .timestamp(timestamp_ms)
            .build()
            .expect("log event")
    });
    ok(
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(events.collect()))
            .send()
            .await,
        "PutLogEvents",
    );
}

struct Provider {
    vpc: String,
    nlb_arn: String,
    tg_arn: String,
    targets: Vec<String>,
    service_id: String,
    service_name: String,
}

async fn create_vpc(ec2: &aws_sdk_ec2::Client, who: &str) -> String {
    let vpc = ok(
        ec2.create_vpc().cidr_block(VPC_CIDR).send().await,
        &format!("{who} CreateVpc"),
    );
    vpc.vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned()
}

async fn create_subnet(ec2: &aws_sdk_ec2::Client, vpc: &str, az: &str) -> String {
    let out = ok(
        ec2.create_subnet()
            .vpc_id(vpc)
            .cidr_block(subnet_cidr(az))
            .availability_zone(az)
            .send()
            .await,
        &format!("CreateSubnet in {az}"),
    );
    out.subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned()
}

/// One ingress rule: TCP `port` from `cidr` (what the tests authorise and revoke).
#[allow(dead_code)] // not every test binary that includes support/ uses it
pub fn tcp_rule(port: u16, cidr: &str) -> ec2t::IpPermission {
    ec2t::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port))
        .ip_ranges(ec2t::IpRange::builder().cidr_ip(cidr).build())
        .build()
}

/// A security group in `vpc` admitting TCP on `ingress_ports` from `clients`.
pub async fn create_sg(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    name: &str,
    ingress_ports: &[u16],
    clients: &str,
) -> String {
    let id = ok(
        ec2.create_security_group()
            .vpc_id(vpc)
            .group_name(name)
            .description(format!("pl-doctor e2e {name}"))
            .send()
            .await,
        &format!("CreateSecurityGroup {name}"),
    )
    .group_id()
    .expect("group id")
    .to_owned();
    if !ingress_ports.is_empty() {
        let perms = ingress_ports.iter().map(|p| {
            ec2t::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(*p))
                .to_port(i32::from(*p))
                .ip_ranges(
                    ec2t::IpRange::builder()
                        .cidr_ip(clients)
                        .description("clients")
                        .build(),
                )
                .build()
        });
        ok(
            ec2.authorize_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(perms.collect()))
                .send()
                .await,
            &format!("AuthorizeSecurityGroupIngress {name}"),
        );
    }
    id
}

async fn build_provider(
    ec2: &aws_sdk_ec2::Client,
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    spec: &Spec,
) -> Provider {
    let vpc = create_vpc(ec2, "provider").await;
    let mut subnets = Vec::new();
    for az in PROVIDER_AZS {
        subnets.push((az, create_subnet(ec2, &vpc, az).await));
    }
    // Targets see PrivateLink traffic from the NLB's addresses in the VPC.
    let target_sg = create_sg(ec2, &vpc, "service-targets", &[PORT], VPC_CIDR).await;

    let nlb = ok(
        elb.create_load_balancer()
            .name("payments-svc-nlb")
            .r#type(elbt::LoadBalancerTypeEnum::Network)
            .scheme(elbt::LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnets.iter().map(|(_, s)| s.clone()).collect()))
            .send()
            .await,
        "CreateLoadBalancer (internal NLB)",
    );
    let nlb_arn = nlb.load_balancers()[0]
        .load_balancer_arn()
        .expect("nlb arn")
        .to_owned();
    ok(
        elb.modify_load_balancer_attributes()
            .load_balancer_arn(&nlb_arn)
            .attributes(
                elbt::LoadBalancerAttribute::builder()
                    .key("load_balancing.cross_zone.enabled")
                    .value(spec.cross_zone.to_string())
                    .build(),
            )
            .send()
            .await,
        "ModifyLoadBalancerAttributes cross-zone",
    );

    let target_type = match spec.target_kind {
        TargetKind::Instance => elbt::TargetTypeEnum::Instance,
        TargetKind::Ip => elbt::TargetTypeEnum::Ip,
    };
    let tg = ok(
        elb.create_target_group()
            .name("payments-svc-tg")
            .protocol(elbt::ProtocolEnum::Tcp)
            .port(i32::from(PORT))
            .vpc_id(&vpc)
            .target_type(target_type)
            .health_check_protocol(elbt::ProtocolEnum::Tcp)
            .send()
            .await,
        "CreateTargetGroup",
    );
    let tg_arn = tg.target_groups()[0]
        .target_group_arn()
        .expect("tg arn")
        .to_owned();

    let mut targets = Vec::new();
    for az in &spec.target_azs {
        let subnet = &subnets
            .iter()
            .find(|(a, _)| a == az)
            .unwrap_or_else(|| panic!("no provider subnet in {az}"))
            .1;
        let id = match spec.target_kind {
            TargetKind::Instance => {
                let out = ok(
                    ec2.run_instances()
                        .image_id("ami-12c6146b")
                        .instance_type(ec2t::InstanceType::T3Micro)
                        .min_count(1)
                        .max_count(1)
                        .subnet_id(subnet)
                        .security_group_ids(&target_sg)
                        .send()
                        .await,
                    &format!("RunInstances in {az}"),
                );
                out.instances()[0]
                    .instance_id()
                    .expect("instance id")
                    .to_owned()
            }
            TargetKind::Ip => {
                let ip = host_in(az, 10);
                ok(
                    ec2.create_network_interface()
                        .subnet_id(subnet)
                        .private_ip_address(&ip)
                        .groups(&target_sg)
                        .description(format!("payments service task {ip}"))
                        .send()
                        .await,
                    &format!("CreateNetworkInterface for target {ip}"),
                );
                ip
            }
        };
        targets.push(id);
    }
    if !targets.is_empty() {
        ok(
            elb.register_targets()
                .target_group_arn(&tg_arn)
                .set_targets(Some(
                    targets
                        .iter()
                        .map(|t| {
                            elbt::TargetDescription::builder()
                                .id(t)
                                .port(i32::from(PORT))
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await,
            "RegisterTargets",
        );
    }
    if spec.stop_targets {
        assert_eq!(
            spec.target_kind,
            TargetKind::Instance,
            "only instances stop"
        );
        ok(
            ec2.stop_instances()
                .set_instance_ids(Some(targets.clone()))
                .send()
                .await,
            "StopInstances",
        );
    }

    ok(
        elb.create_listener()
            .load_balancer_arn(&nlb_arn)
            .protocol(elbt::ProtocolEnum::Tcp)
            .port(i32::from(spec.listener_port))
            .default_actions(
                elbt::Action::builder()
                    .r#type(elbt::ActionTypeEnum::Forward)
                    .target_group_arn(&tg_arn)
                    .build(),
            )
            .send()
            .await,
        "CreateListener",
    );

    let service = ok(
        ec2.create_vpc_endpoint_service_configuration()
            .network_load_balancer_arns(&nlb_arn)
            .acceptance_required(spec.acceptance_required)
            .private_dns_name(PRIVATE_DNS_NAME)
            .send()
            .await,
        "CreateVpcEndpointServiceConfiguration",
    );
    let service = service
        .service_configuration()
        .expect("service configuration");
    let service_id = service.service_id().expect("service id").to_owned();
    let service_name = service.service_name().expect("service name").to_owned();
    ok(
        ec2.modify_vpc_endpoint_service_permissions()
            .service_id(&service_id)
            .set_add_allowed_principals(Some(
                spec.principals.iter().map(|p| p.arn().to_owned()).collect(),
            ))
            .send()
            .await,
        "ModifyVpcEndpointServicePermissions",
    );
    Provider {
        vpc,
        nlb_arn,
        tg_arn,
        targets,
        service_id,
        service_name,
    }
}

struct Consumer {
    vpc: String,
    sg: String,
    subnets: Vec<String>,
    nacl: String,
    endpoint_id: String,
}

async fn build_consumer(ec2: &aws_sdk_ec2::Client, spec: &Spec, service_name: &str) -> Consumer {
    let vpc = create_vpc(ec2, "consumer").await;
    for (attribute, on) in [("support", true), ("hostnames", spec.enable_dns_hostnames)] {
        let value = ec2t::AttributeBooleanValue::builder().value(on).build();
        let call = ec2.modify_vpc_attribute().vpc_id(&vpc);
        let call = if attribute == "support" {
            call.enable_dns_support(value)
        } else {
            call.enable_dns_hostnames(value)
        };
        ok(
            call.send().await,
            &format!("ModifyVpcAttribute enableDns{attribute}"),
        );
    }
    let mut subnets = Vec::new();
    for az in &spec.endpoint_azs {
        subnets.push(create_subnet(ec2, &vpc, az).await);
    }
    let sg = create_sg(
        ec2,
        &vpc,
        "payments-endpoint",
        &spec.endpoint_sg_ports,
        VPC_CIDR,
    )
    .await;
    let nacl = build_nacl(ec2, &vpc, &subnets, spec).await;
    let endpoint = ok(
        ec2.create_vpc_endpoint()
            .vpc_endpoint_type(ec2t::VpcEndpointType::Interface)
            .vpc_id(&vpc)
            .service_name(service_name)
            .set_subnet_ids(Some(subnets.clone()))
            .security_group_ids(&sg)
            .private_dns_enabled(spec.private_dns_enabled)
            .set_policy_document(spec.endpoint_policy.map(str::to_owned))
            .send()
            .await,
        "CreateVpcEndpoint (Interface)",
    );
    let endpoint_id = endpoint
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .expect("endpoint id")
        .to_owned();
    Consumer {
        vpc,
        sg,
        subnets,
        nacl,
        endpoint_id,
    }
}

async fn nacl_entry(
    ec2: &aws_sdk_ec2::Client,
    nacl: &str,
    rule: i32,
    egress: bool,
    action: ec2t::RuleAction,
    cidr: &str,
    ports: (u16, u16),
) {
    ok(
        ec2.create_network_acl_entry()
            .network_acl_id(nacl)
            .rule_number(rule)
            .protocol("6")
            .rule_action(action)
            .egress(egress)
            .cidr_block(cidr)
            .port_range(
                ec2t::PortRange::builder()
                    .from(i32::from(ports.0))
                    .to(i32::from(ports.1))
                    .build(),
            )
            .send()
            .await,
        &format!("CreateNetworkAclEntry {rule}"),
    );
}

/// A custom NACL on the endpoint subnets: the service port in from the VPC, ephemeral
/// ports back out to it (NACLs are stateless).
async fn build_nacl(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnets: &[String],
    spec: &Spec,
) -> String {
    let nacl = ok(
        ec2.create_network_acl().vpc_id(vpc).send().await,
        "CreateNetworkAcl",
    )
    .network_acl()
    .and_then(|n| n.network_acl_id())
    .expect("nacl id")
    .to_owned();
    use ec2t::RuleAction::{Allow, Deny};
    nacl_entry(ec2, &nacl, 100, false, Allow, VPC_CIDR, spec.nacl_ingress).await;
    nacl_entry(ec2, &nacl, 100, true, Allow, VPC_CIDR, (1024, 65535)).await;
    if spec.nacl_denies_port {
        nacl_entry(ec2, &nacl, 50, false, Deny, "0.0.0.0/0", (PORT, PORT)).await;
    }
    // Move each endpoint subnet from the VPC's default NACL to this one.
    let current = ok(
        ec2.describe_network_acls()
            .filters(
                ec2t::Filter::builder()
                    .name("association.subnet-id")
                    .set_values(Some(subnets.to_vec()))
                    .build(),
            )
            .send()
            .await,
        "DescribeNetworkAcls (default associations)",
    );
    for association in current
        .network_acls()
        .iter()
        .flat_map(|a| a.associations())
        .filter(|a| {
            a.subnet_id()
                .is_some_and(|s| subnets.iter().any(|x| x == s))
        })
    {
        ok(
            ec2.replace_network_acl_association()
                .association_id(
                    association
                        .network_acl_association_id()
                        .expect("association id"),
                )
                .network_acl_id(&nacl)
                .send()
                .await,
            "ReplaceNetworkAclAssociation",
        );
    }
    nacl
}
