//! The snapshot: everything the runbook reads about one interface endpoint.
//!
//! Plain serde data, no SDK types, so it can be saved by one engineer and replayed
//! by another with no AWS access. Field values that AWS sends as strings (states,
//! protocols, schemes) stay strings exactly as they arrive on the wire; compare
//! them with [`eq_wire`] because the API and the SDK disagree on case
//! (`pendingAcceptance` on the wire, `PendingAcceptance` in the SDK enum).

use crate::fact::{Fact, Missing};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The snapshot format this build writes and reads. Bump it when a field is
/// renamed or removed (adding optional fields does not need a bump).
pub const SNAPSHOT_VERSION: u32 = 1;

/// AWS state strings compare case-insensitively (see module docs).
pub fn eq_wire(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub snapshot_version: u32,
    /// pl-doctor version that collected it.
    pub collected_by: String,
    /// RFC 3339 time the collection started.
    pub collected_at: String,
    pub region: String,
    /// What the collection was asked for; replay uses these unless overridden on the command line.
    pub inputs: CollectionInputs,
    /// The consumer credentials' identity (sts:GetCallerIdentity).
    pub consumer_identity: Fact<CallerIdentity>,
    pub consumer: ConsumerSide,
    pub provider: ProviderSide,
    /// Answers from the resolver for the endpoint's names (dns-resolution).
    pub dns: Fact<DnsFacts>,
    /// TCP connects to the endpoint from where pl-doctor ran (connect-probe).
    pub probe: Fact<ProbeFacts>,
    /// Metrics and flow-log window and results.
    pub observability: Observability,
    /// Where pl-doctor ran (instance metadata on EC2), so a replay judges DNS answers
    /// from the same place. Absent in snapshots from before it was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<Vantage>,
    /// CloudTrail LookupEvents on the resources the failing and warning checks name
    /// (`--changes on`, the default). Absent: not looked up (`--changes off`, or a
    /// snapshot from before it was collected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::changes::ChangeFacts>,
}

impl Snapshot {
    /// The endpoint service's id: from the provider's configuration, else the consumer's
    /// view, else the last segment of the service name (`com.amazonaws.vpce.<region>.vpce-svc-…`).
    pub fn service_id(&self) -> String {
        self.provider
            .service_configuration
            .known()
            .map(|c| c.service_id.clone())
            .or_else(|| self.consumer.service.known().map(|v| v.service_id.clone()))
            .unwrap_or_else(|| {
                let name = &self.consumer.endpoint.service_name;
                name.rsplit('.').next().unwrap_or(name).to_owned()
            })
    }

    /// Whether the service requires acceptance, from whichever side is visible.
    pub fn acceptance_required(&self) -> Option<bool> {
        self.provider
            .service_configuration
            .known()
            .map(|c| c.acceptance_required)
            .or_else(|| self.consumer.service.known().map(|v| v.acceptance_required))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionInputs {
    pub endpoint_id: String,
    /// `--client` as given (IP, CIDR, sg-…, i-…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// `--port` values as given; empty means "the NLB listener ports".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// The `--since` window in seconds for metrics and flow logs.
    #[serde(default = "default_window")]
    pub window_seconds: u64,
    /// `--only` as given: facts only other checks read were not collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// `--skip` as given: facts only these checks read were not collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
    /// Whose credentials collected it: the consumer's (`--endpoint`, `--all`) or only the
    /// provider's (`--service`, where the consumer side of each connection is not visible).
    #[serde(default, skip_serializing_if = "View::is_consumer")]
    pub view: View,
    /// Provider view, many accounts (`--service --consumer-role-name`): the consumer side
    /// was asked for and could not be read (e.g. the owner's role could not be assumed);
    /// the consumer-side checks are then `unknown` with this reason instead of `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_unread: Option<crate::fact::Missing>,
    /// `--action` as given (endpoint-policy): the API action the client makes, e.g. `s3:GetObject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `--principal` as given (endpoint-policy): the IAM principal ARN the client signs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// `--resource` as given (endpoint-policy): the resource ARN the client acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// Which account's credentials a snapshot was collected with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// The consumer account (optionally with provider access too): the whole runbook.
    #[default]
    Consumer,
    /// The provider account only: the endpoint is known from its connection to the
    /// service, and the consumer-side checks cannot be evaluated (`fleet::CONSUMER_SIDE`).
    Provider,
}

impl View {
    pub fn is_consumer(&self) -> bool {
        *self == View::Consumer
    }
}

fn default_window() -> u64 {
    3600
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

// ---------------------------------------------------------------- consumer side

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSide {
    /// DescribeVpcEndpoints. Required: without the endpoint there is no diagnosis.
    pub endpoint: Endpoint,
    /// DescribeNetworkInterfaces for the endpoint's ENIs.
    pub endpoint_enis: Fact<Vec<NetworkInterface>>,
    /// DescribeVpcs + DescribeVpcAttribute for the endpoint's VPC.
    pub vpc: Fact<Vpc>,
    /// DescribeSubnets for the endpoint's subnets and the client's subnet.
    pub subnets: Fact<Vec<Subnet>>,
    /// DescribeNetworkAcls for those subnets.
    pub network_acls: Fact<Vec<NetworkAcl>>,
    /// DescribeSecurityGroups for the endpoint's and the client's groups.
    pub security_groups: Fact<Vec<SecurityGroup>>,
    /// DescribeManagedPrefixLists/GetManagedPrefixListEntries for prefix lists the rules reference.
    #[serde(default)]
    pub prefix_lists: Fact<Vec<PrefixList>>,
    /// DescribeAvailabilityZones in the consumer account (names differ per account; IDs do not).
    pub az_map: Fact<Vec<AzMapping>>,
    /// DescribeVpcEndpointServices: the service as the consumer sees it.
    pub service: Fact<ServiceView>,
    /// DescribeRegions (AllRegions) in the consumer account, read for cross-region
    /// endpoints only: whether the service's Region is enabled for this account.
    #[serde(
        default = "regions_not_collected",
        skip_serializing_if = "regions_skipped"
    )]
    pub regions: Fact<Vec<RegionOptIn>>,
    /// The client named by `--client`, resolved (instance → IPs, groups, subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Fact<ClientFacts>>,
    /// What decides DNS answers in the endpoint's VPC: DHCP option set, Resolver rules,
    /// private hosted zones (dns-overrides).
    #[serde(default = "dns_config_not_collected")]
    pub dns_config: Fact<DnsConfig>,
}

fn dns_config_not_collected() -> Fact<DnsConfig> {
    Fact::not_requested(
        "the VPC's DNS configuration was not collected by the version that saved this snapshot",
    )
}

/// DescribeRegions: one Region and whether this account may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionOptIn {
    pub region: String,
    /// `opt-in-not-required`, `opted-in` or `not-opted-in`.
    pub opt_in_status: String,
}

impl RegionOptIn {
    pub fn enabled(&self) -> bool {
        !eq_wire(&self.opt_in_status, "not-opted-in")
    }
}

/// Why a snapshot has no Region list: a same-region endpoint never needs it.
pub const REGIONS_SAME_REGION: &str =
    "same-region endpoint: the Region list is read only for cross-region endpoints";

fn regions_not_collected() -> Fact<Vec<RegionOptIn>> {
    Fact::not_requested(REGIONS_SAME_REGION)
}

fn regions_skipped(f: &Fact<Vec<RegionOptIn>>) -> bool {
    matches!(f, Fact::Absent(Missing::NotRequested { hint }) if hint == REGIONS_SAME_REGION)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    /// `Interface`, `Gateway`, `GatewayLoadBalancer`, …
    pub endpoint_type: String,
    /// Wire value: available, pending, pendingAcceptance, rejected, failed, expired, deleting, deleted.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<StateMessage>,
    pub owner_id: String,
    pub vpc_id: String,
    pub service_name: String,
    pub subnet_ids: Vec<String>,
    pub network_interface_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub private_dns_enabled: bool,
    /// DnsEntries: the regional name first, then one per AZ, then the private DNS name when enabled.
    pub dns_entries: Vec<DnsEntry>,
    /// `ipv4`, `dualstack` or `ipv6`: the addresses the endpoint ENIs get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// DnsOptions.DnsRecordIpType: `ipv4`, `dualstack`, `ipv6` or `service-defined` (A and
    /// AAAA for the regional and zonal names, but only A for the private DNS name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<String>,
    /// The Region of the endpoint service (cross-region PrivateLink); absent or equal to
    /// the snapshot's region for a same-region service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_region: Option<String>,
    /// PolicyDocument: the endpoint policy (JSON text) of an endpoint to an AWS service;
    /// AWS reports the default full-access policy when none was attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
    /// DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint (services with both gateway and
    /// interface endpoints, such as S3): true = the private DNS name answers with this
    /// endpoint only for Route 53 Resolver inbound endpoints (on-premises queries), while
    /// the VPC's own queries go to the gateway endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_only_for_inbound_resolver_endpoint: Option<bool>,
}

impl Endpoint {
    /// The service's Region when it differs from `region` (the endpoint's own): the
    /// endpoint is a cross-region one.
    pub fn remote_service_region<'a>(&'a self, region: &str) -> Option<&'a str> {
        self.service_region
            .as_deref()
            .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case(region))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMessage {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEntry {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub id: String,
    pub subnet_id: String,
    pub availability_zone: String,
    pub private_ip: IpAddr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<IpAddr>,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub cidr_blocks: Vec<IpNet>,
    /// DescribeVpcAttribute enableDnsSupport.
    pub enable_dns_support: Fact<bool>,
    /// DescribeVpcAttribute enableDnsHostnames.
    pub enable_dns_hostnames: Fact<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_options_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub cidr_block: IpNet,
    pub availability_zone: String,
    pub availability_zone_id: String,
    /// The subnet's associated IPv6 CIDRs (empty: an IPv4-only subnet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_cidr_blocks: Vec<IpNet>,
    /// Ipv6Native: an IPv6-only subnet (its `cidr_block` is then meaningless).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ipv6_native: bool,
}

impl Subnet {
    /// Whether the subnet has IPv4 addresses to give (an IPv6-only subnet has none).
    pub fn has_ipv4(&self) -> bool {
        !self.ipv6_native
    }
    pub fn has_ipv6(&self) -> bool {
        !self.ipv6_cidr_blocks.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    pub is_default: bool,
    /// Subnets associated with this ACL.
    pub subnet_ids: Vec<String>,
    pub entries: Vec<NaclEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaclEntry {
    /// 1..=32766 for the account's rules; AWS also lists 32767, the `*` rule that denies
    /// everything no earlier rule matched (the evaluation treats it like any deny).
    pub rule_number: u16,
    /// true = outbound (egress) rule.
    pub egress: bool,
    /// IANA number as a string, `-1` for all (wire form of the API).
    pub protocol: String,
    /// `allow` or `deny`.
    pub rule_action: String,
    pub cidr: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
}

/// An inclusive port range, as AWS writes it (FromPort/ToPort).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
}

/// One IpPermission flattened to a single source/destination, like a security group rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SgRule {
    /// `tcp`, `udp`, `icmp`, a number, or `-1` for all (wire form).
    pub protocol: String,
    /// Absent when protocol is `-1` (all ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
    pub peer: SgPeer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SgPeer {
    Cidr(IpNet),
    SecurityGroup(String),
    PrefixList(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixList {
    pub id: String,
    pub name: String,
    pub cidrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzMapping {
    pub name: String,
    pub id: String,
}

/// DescribeVpcEndpointServices: what the consumer can see of the provider's service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub service_name: String,
    pub service_id: String,
    pub owner: String,
    pub service_type: String,
    pub acceptance_required: bool,
    /// AZ names in the consumer account's naming.
    pub availability_zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    /// pendingVerification, verified, failed (wire form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name_verification_state: Option<String>,
    #[serde(default)]
    pub base_endpoint_dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_region: Option<String>,
    #[serde(default)]
    pub supported_ip_address_types: Vec<String>,
    /// VpcEndpointPolicySupported: whether the service honours endpoint policies (AWS
    /// allows full access through endpoints of services that do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_policy_supported: Option<bool>,
}

/// What `--client` named, resolved to addresses and groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientFacts {
    /// The `--client` argument.
    pub spec: String,
    /// Addresses the client sends from (an IP as /32, a CIDR, an instance's IPs, or for a
    /// bare security group the CIDRs of its VPC, because its members can be anywhere in it).
    pub addresses: Vec<IpNet>,
    /// Security groups the client's traffic carries (instance's groups, or the given group).
    pub security_group_ids: Vec<String>,
    /// The client's own subnet when known (an instance), for its NACL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

/// The consumer VPC's DNS configuration, read through the APIs: what answers for a name
/// inside the VPC, whatever host pl-doctor runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// DescribeDhcpOptions for the VPC's option set (`dhcp_options_id` of the VPC).
    pub dhcp_options: Fact<DhcpOptions>,
    /// ListResolverRuleAssociations (VPCId filter) + GetResolverRule for each: the rules
    /// associated with the VPC, whoever owns them (rules shared through RAM included).
    pub resolver_rules: Fact<Vec<ResolverRule>>,
    /// ListHostedZonesByVPC: the private hosted zones associated with the VPC, each with
    /// its records for the private DNS name (ListResourceRecordSets) when the zone covers it.
    pub hosted_zones: Fact<Vec<PrivateZone>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpOptions {
    pub id: String,
    /// `domain-name-servers` values as AWS lists them (`AmazonProvidedDNS` or addresses).
    pub domain_name_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverRule {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The domain the rule applies to, without the trailing dot (`.` for every name).
    pub domain_name: String,
    /// FORWARD, SYSTEM, RECURSIVE or DELEGATE (wire form).
    pub rule_type: String,
    /// Where FORWARD/DELEGATE rules send the question, `ip:port`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// NOT_SHARED, SHARED_WITH_ME, SHARED_BY_ME.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateZone {
    /// `Z…`, without the `/hostedzone/` prefix.
    pub id: String,
    /// The zone's domain, without the trailing dot.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owning_account: Option<String>,
    /// Set for zones an AWS service manages (PrivateLink's private DNS zone:
    /// `vpce.amazonaws.com`); those are AWS's, not the customer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owning_service: Option<String>,
    /// The zone's records for the private DNS name (A, AAAA, CNAME, alias), read only for
    /// zones that cover the name; `not_requested` for the others.
    pub records: Fact<Vec<ZoneRecord>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRecord {
    /// Without the trailing dot.
    pub name: String,
    /// A, AAAA, CNAME, …
    pub record_type: String,
    /// ResourceRecords values (addresses, a CNAME target).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// An alias record's target DNS name, without the trailing dot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_target: Option<String>,
}

/// Where pl-doctor ran, and how that was found out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vantage {
    /// `ec2` when the instance metadata service answered, `not_ec2` otherwise.
    pub location: VantageLocation,
    /// How it was determined, e.g. `instance metadata (IMDSv2)`, or why it could not be.
    pub how: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// systemd-resolved's upstream servers (/run/systemd/resolve/resolv.conf) when the host
    /// resolver is its 127.0.0.53 stub.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stub_upstreams: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VantageLocation {
    Ec2,
    NotEc2,
}

// ---------------------------------------------------------------- provider side

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSide {
    /// The provider account's identity when pl-doctor had provider credentials.
    pub identity: Fact<CallerIdentity>,
    /// DescribeVpcEndpointServiceConfigurations.
    pub service_configuration: Fact<ServiceConfiguration>,
    /// DescribeVpcEndpointServicePermissions.
    pub allowed_principals: Fact<Vec<AllowedPrincipal>>,
    /// DescribeVpcEndpointConnections filtered to this service.
    pub connections: Fact<Vec<EndpointConnection>>,
    /// DescribeAvailabilityZones in the provider account.
    pub az_map: Fact<Vec<AzMapping>>,
    /// DescribeLoadBalancers for the service's NLBs, with their listeners and attributes.
    pub load_balancers: Fact<Vec<LoadBalancer>>,
    /// DescribeTargetGroups for the NLBs' target groups, with health.
    pub target_groups: Fact<Vec<TargetGroup>>,
    /// DescribeSubnets for the NLB's and the targets' subnets.
    pub subnets: Fact<Vec<Subnet>>,
    /// DescribeSecurityGroups for the NLB's and the targets' groups.
    pub security_groups: Fact<Vec<SecurityGroup>>,
    #[serde(default)]
    pub prefix_lists: Fact<Vec<PrefixList>>,
    /// DescribeVpcEndpointConnectionNotifications for the service, each with its SNS
    /// topic's policy (sns:GetTopicAttributes).
    #[serde(default = "not_in_snapshot")]
    pub connection_notifications: Fact<Vec<ConnectionNotification>>,
    /// The target groups of the ALBs registered as `alb`-type targets of the NLB's target
    /// groups (DescribeTargetGroups by LoadBalancerArn, DescribeTargetGroupAttributes).
    #[serde(default = "not_in_snapshot")]
    pub alb_target_groups: Fact<Vec<AlbTargetGroup>>,
}

impl ProviderSide {
    /// The provider side of an endpoint to an AWS service: AWS runs it, so nothing of it is
    /// asked for (the checks that read it are `skip`, "AWS-managed service").
    pub fn aws_managed(service_name: &str) -> Self {
        fn f<T>(service_name: &str) -> Fact<T> {
            Fact::Absent(Missing::NotRequested {
                hint: format!("AWS-managed service: {service_name} is run by AWS, which keeps its provider side out of view"),
            })
        }
        ProviderSide {
            identity: f(service_name),
            service_configuration: f(service_name),
            allowed_principals: f(service_name),
            connections: f(service_name),
            az_map: f(service_name),
            load_balancers: f(service_name),
            target_groups: f(service_name),
            subnets: f(service_name),
            security_groups: f(service_name),
            prefix_lists: f(service_name),
            connection_notifications: f(service_name),
            alb_target_groups: f(service_name),
        }
    }
}

/// A fact an older snapshot did not record: absent with that reason, never read as "none".
fn not_in_snapshot<T>() -> Fact<T> {
    Fact::not_requested("this snapshot was collected before pl-doctor recorded it")
}

/// One connection notification of the endpoint service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionNotification {
    pub id: String,
    /// `Topic` (SNS).
    pub notification_type: String,
    /// The SNS topic ARN.
    pub topic_arn: String,
    /// Connect, Accept, Reject, Delete.
    pub events: Vec<String>,
    /// `Enabled` or `Disabled` (AWS disables a notification it cannot deliver).
    pub state: String,
    /// The topic's access policy (GetTopicAttributes `Policy`), as JSON text.
    pub topic_policy: Fact<String>,
}

/// A target group of an ALB that is itself a target of the NLB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlbTargetGroup {
    /// The ALB's ARN (the NLB target's id).
    pub load_balancer_arn: String,
    pub arn: String,
    pub name: String,
    /// `load_balancing.cross_zone.enabled`: `true`, `false` or `use_load_balancer_configuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<String>,
    /// Why `cross_zone` is not known (DescribeTargetGroupAttributes failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes_missing: Option<Missing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfiguration {
    pub service_id: String,
    pub service_name: String,
    /// Pending, Available, Deleting, Deleted, Failed.
    pub service_state: String,
    pub acceptance_required: bool,
    pub network_load_balancer_arns: Vec<String>,
    #[serde(default)]
    pub gateway_load_balancer_arns: Vec<String>,
    /// AZ names in the provider account's naming.
    pub availability_zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name_configuration: Option<PrivateDnsNameConfiguration>,
    /// Cross-region PrivateLink: the Regions consumers may connect from, each with its
    /// state (older snapshots hold bare Region names: state unknown).
    #[serde(default, deserialize_with = "supported_regions")]
    pub supported_regions: Vec<SupportedRegion>,
    /// `ipv4`, `ipv6`: the address families the service accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_ip_address_types: Vec<String>,
}

/// ServiceConfiguration.SupportedRegions[]: one Region the provider opened the service to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportedRegion {
    pub region: String,
    /// ServiceState for that Region: Pending, Available, Deleting, Deleted, Failed, Closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_state: Option<String>,
}

/// Reads both the current form (objects) and snapshot-version-1 files written before
/// the Region's state was kept (bare Region names).
fn supported_regions<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<SupportedRegion>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Name(String),
        Full(SupportedRegion),
    }
    Ok(Vec::<Wire>::deserialize(d)?
        .into_iter()
        .map(|w| match w {
            Wire::Name(region) => SupportedRegion {
                region,
                service_state: None,
            },
            Wire::Full(r) => r,
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateDnsNameConfiguration {
    /// pendingVerification, verified, failed.
    pub state: String,
    /// `TXT`.
    pub record_type: String,
    /// The record name AWS asks for, e.g. `_a1b2c3d4`.
    pub name: String,
    /// The value, e.g. `vpce:abc123…`. A verification token, not a secret: it is published in public DNS.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedPrincipal {
    /// An ARN (`arn:aws:iam::222222222222:root`, a role, a user) or `*`.
    pub principal: String,
    /// All, Service, OrganizationUnit, Account, User, Role.
    pub principal_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointConnection {
    pub vpc_endpoint_id: String,
    pub vpc_endpoint_owner: String,
    /// Same values as the endpoint state, as the provider sees it.
    pub vpc_endpoint_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default)]
    pub network_load_balancer_arns: Vec<String>,
    /// The endpoint's AZ names in the consumer account's naming, read from the
    /// connection's zonal DNS entries (`vpce-…-us-east-1a.vpce-svc-…`): all the provider
    /// can see of where the endpoint is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    /// VpcEndpointRegion: the Region the endpoint lives in (cross-region PrivateLink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    /// `network`, `application`, `gateway`.
    pub lb_type: String,
    /// `internal` or `internet-facing`.
    pub scheme: String,
    /// `ipv4`, `dualstack` or `dualstack-without-public-ipv4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// active, provisioning, active_impaired, failed.
    pub state: String,
    pub vpc_id: String,
    pub availability_zones: Vec<LbZone>,
    /// Empty when the NLB was created without security groups.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: `on` (AWS default) or `off`;
    /// absent when the NLB has no security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_sg_inbound_rules_on_privatelink: Option<String>,
    /// DescribeLoadBalancerAttributes.
    pub attributes: Fact<LbAttributes>,
    /// DescribeListeners (+ DescribeListenerAttributes for the idle timeout).
    pub listeners: Fact<Vec<Listener>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbZone {
    /// AZ name in the provider account's naming.
    pub zone_name: String,
    pub subnet_id: String,
    /// The NLB's private address in this AZ: what targets see as the source of PrivateLink traffic.
    #[serde(default)]
    pub private_ipv4_addresses: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbAttributes {
    /// `load_balancing.cross_zone.enabled`.
    pub cross_zone_enabled: bool,
    /// Every attribute as AWS returned it, for the evidence.
    #[serde(default)]
    pub raw: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub arn: String,
    pub port: u16,
    /// TCP, TLS, UDP, TCP_UDP.
    pub protocol: String,
    pub default_actions: Vec<ListenerAction>,
    /// `tcp.idle_timeout.seconds` (DescribeListenerAttributes); AWS default 350.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_idle_timeout_seconds: Option<u32>,
    /// Why `tcp_idle_timeout_seconds` is not known when DescribeListenerAttributes
    /// failed (absent: read, and `None` there means the AWS default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes_missing: Option<Missing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerAction {
    /// `forward`, …
    pub action_type: String,
    /// Target groups of the action (TargetGroupArn or ForwardConfig.TargetGroups).
    pub target_group_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: String,
    pub port: u16,
    /// `instance`, `ip`, `alb`.
    pub target_type: String,
    pub vpc_id: String,
    pub load_balancer_arns: Vec<String>,
    pub health_check: HealthCheck,
    /// Target-group level `load_balancing.cross_zone.enabled`: `true`, `false` or
    /// `use_load_balancer_configuration` (AWS default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<String>,
    /// Why `cross_zone` is not known when DescribeTargetGroupAttributes failed (absent:
    /// read, and `None` there means the load balancer's setting applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes_missing: Option<Missing>,
    /// DescribeTargetHealth.
    pub targets: Fact<Vec<TargetHealthFact>>,
    /// `proxy_protocol_v2.enabled` (DescribeTargetGroupAttributes); absent when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol_v2: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub protocol: String,
    /// `traffic-port` or a port number, as AWS writes it.
    pub port: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetHealthFact {
    /// Instance id, IP address or ALB ARN.
    pub id: String,
    pub port: u16,
    /// initial, healthy, unhealthy, unhealthy.draining, unused, draining, unavailable.
    pub state: String,
    /// AWS reason code, e.g. Target.FailedHealthChecks, Target.NotInUse, Elb.InitialHealthChecking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The target's AZ name in the provider account (from the instance, or the subnet holding the IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The target's private address (the IP itself, or the instance's primary IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<IpAddr>,
    /// Security groups on the target (instance or the ENI holding the IP).
    pub security_group_ids: Fact<Vec<String>>,
}

// ---------------------------------------------------------------- DNS and probe

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsFacts {
    /// The resolver asked (`system` or IP:port).
    pub resolver: String,
    pub lookups: Vec<DnsLookup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsLookup {
    pub name: String,
    pub role: DnsNameRole,
    pub outcome: DnsOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsNameRole {
    /// The service's private DNS name (payments.internal.example.com).
    PrivateDnsName,
    /// The endpoint's regional name (vpce-…-….vpce-svc-….region.vpce.amazonaws.com).
    Regional,
    /// One of the endpoint's zonal names.
    Zonal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DnsOutcome {
    /// Final A/AAAA addresses and the CNAME chain that led to them.
    Answer {
        addresses: Vec<IpAddr>,
        cname_chain: Vec<String>,
    },
    NxDomain,
    /// The name exists but has no A/AAAA records.
    NoData,
    ServFail,
    Timeout {
        after_ms: u64,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeFacts {
    pub port: u16,
    pub attempts: Vec<ProbeAttempt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAttempt {
    pub address: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub outcome: ProbeOutcome,
    /// The TLS handshake after the connect, when `--probe-tls` asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeOutcome {
    Connected { millis: u64 },
    Refused,
    Timeout { after_ms: u64 },
    Error { message: String },
}

/// A TLS handshake with SNI = the service's private DNS name, after a TCP connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsOutcome {
    /// The handshake completed and the certificate verified for `server_name`.
    Established {
        server_name: String,
        millis: u64,
        /// e.g. `TLSv1_3`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
    },
    /// The handshake failed: an alert, a certificate that does not verify for the name, a reset.
    Failed {
        server_name: String,
        message: String,
    },
    Timeout {
        server_name: String,
        after_ms: u64,
    },
}

// ---------------------------------------------------------------- observability

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observability {
    /// Window start and end, RFC 3339.
    pub window_start: String,
    pub window_end: String,
    /// GetMetricData on AWS/NetworkELB (provider) and AWS/PrivateLinkEndpoints (consumer).
    pub metrics: Fact<Vec<MetricSeries>>,
    /// DescribeFlowLogs for the endpoint ENIs, their subnets and VPC.
    pub flow_logs: Fact<Vec<FlowLog>>,
    /// The Logs Insights REJECT query over those flow logs.
    pub flow_log_rejects: Fact<FlowLogRejects>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period_seconds: u32,
    /// (RFC 3339 timestamp, value), oldest first.
    pub points: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowLog {
    pub id: String,
    /// The ENI, subnet or VPC the flow log is attached to.
    pub resource_id: String,
    /// ACCEPT, REJECT, ALL.
    pub traffic_type: String,
    /// cloud-watch-logs, s3, kinesis-data-firehose.
    pub destination_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// ACTIVE, …
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowLogRejects {
    pub log_groups: Vec<String>,
    pub query: String,
    /// Top rejected (source, destination port) pairs, most rejects first.
    pub rows: Vec<RejectRow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_scanned: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_scanned: Option<f64>,
    /// Result rows that lacked a field or held an unreadable value: skipped, not guessed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_skipped: u64,
    /// Why they were skipped (distinct reasons, first few).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_reasons: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectRow {
    pub src_addr: String,
    pub dst_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_id: Option<String>,
    pub rejects: u64,
}
