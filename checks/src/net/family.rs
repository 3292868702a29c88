//! Address families across the PrivateLink path: the endpoint's IpAddressType, its
//! DnsRecordIpType, its subnets, the service's SupportedIpAddressTypes and the NLBs'
//! IpAddressType, and which of them a client of a given family can use. The rules are
//! AWS's (VpcEndpoint IpAddressType / DnsOptions, "IP address types" in the
//! PrivateLink guide); ip-address-type judges with them, the SG and NACL checks use
//! [`client_families`] to say which rule families apply.

use crate::model::Subnet;
use ipnet::IpNet;

/// An IP address type as the endpoint (and the NLB) carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressType {
    Ipv4,
    Dualstack,
    Ipv6,
}

impl AddressType {
    /// The wire value: `ipv4`, `dualstack` (also the NLB's `dualstack-without-public-ipv4`), `ipv6`.
    pub fn parse(wire: &str) -> Option<Self> {
        match wire.to_ascii_lowercase().as_str() {
            "ipv4" => Some(AddressType::Ipv4),
            "ipv6" => Some(AddressType::Ipv6),
            w if w.starts_with("dualstack") => Some(AddressType::Dualstack),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::Ipv4 => "ipv4",
            AddressType::Dualstack => "dualstack",
            AddressType::Ipv6 => "ipv6",
        }
    }
    pub fn has_v4(self) -> bool {
        matches!(self, AddressType::Ipv4 | AddressType::Dualstack)
    }
    pub fn has_v6(self) -> bool {
        matches!(self, AddressType::Ipv6 | AddressType::Dualstack)
    }
}

/// What an endpoint of `ty` needs of the service's SupportedIpAddressTypes
/// (`ipv4`, `ipv6`): the families it lacks, empty when it is served.
pub fn service_lacks(ty: AddressType, supported: &[String]) -> Vec<&'static str> {
    let has = |f: &str| supported.iter().any(|s| s.eq_ignore_ascii_case(f));
    let mut lacks = Vec::new();
    if ty.has_v4() && !has("ipv4") {
        lacks.push("ipv4");
    }
    if ty.has_v6() && !has("ipv6") {
        lacks.push("ipv6");
    }
    lacks
}

/// Why `subnet` cannot hold an endpoint ENI of `ty`, if it cannot: ipv4 needs an IPv4
/// range, dualstack both families, ipv6 an IPv6-only subnet.
pub fn subnet_mismatch(ty: AddressType, subnet: &Subnet) -> Option<&'static str> {
    match ty {
        AddressType::Ipv4 if !subnet.has_ipv4() => {
            Some("an IPv6-only subnet has no IPv4 addresses")
        }
        AddressType::Dualstack if !subnet.has_ipv6() => Some("it has no IPv6 CIDR"),
        AddressType::Dualstack if !subnet.has_ipv4() => Some("it is IPv6-only"),
        AddressType::Ipv6 if !subnet.ipv6_native => {
            Some("an ipv6 endpoint needs IPv6-only subnets")
        }
        _ => None,
    }
}

/// A DnsRecordIpType: which records the endpoint's names get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecordType {
    Ipv4,
    Dualstack,
    Ipv6,
    /// A for every name; AAAA for the regional and zonal names but not the private DNS name.
    ServiceDefined,
}

impl DnsRecordType {
    pub fn parse(wire: &str) -> Option<Self> {
        match wire.to_ascii_lowercase().as_str() {
            "ipv4" => Some(DnsRecordType::Ipv4),
            "dualstack" => Some(DnsRecordType::Dualstack),
            "ipv6" => Some(DnsRecordType::Ipv6),
            "service-defined" => Some(DnsRecordType::ServiceDefined),
            _ => None,
        }
    }

    /// The endpoint IP address types AWS allows with this record type.
    pub fn allowed_endpoint_types(self) -> &'static [AddressType] {
        match self {
            DnsRecordType::Ipv4 => &[AddressType::Ipv4, AddressType::Dualstack],
            DnsRecordType::Ipv6 => &[AddressType::Ipv6, AddressType::Dualstack],
            DnsRecordType::Dualstack | DnsRecordType::ServiceDefined => &[AddressType::Dualstack],
        }
    }

    /// Whether the private DNS name gets AAAA records.
    pub fn private_name_has_aaaa(self) -> bool {
        matches!(self, DnsRecordType::Ipv6 | DnsRecordType::Dualstack)
    }
    /// Whether the private DNS name gets A records.
    pub fn private_name_has_a(self) -> bool {
        !matches!(self, DnsRecordType::Ipv6)
    }
}

/// Which families a client's addresses span: (any IPv4, any IPv6).
pub fn client_families(addresses: &[IpNet]) -> (bool, bool) {
    (
        addresses.iter().any(|a| matches!(a, IpNet::V4(_))),
        addresses.iter().any(|a| matches!(a, IpNet::V6(_))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(v6: &[&str], native: bool) -> Subnet {
        Subnet {
            id: "subnet-1".into(),
            vpc_id: "vpc-1".into(),
            cidr_block: "10.0.1.0/24".parse().unwrap(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: "use1-az1".into(),
            ipv6_cidr_blocks: v6.iter().map(|c| c.parse().unwrap()).collect(),
            ipv6_native: native,
        }
    }

    #[test]
    fn address_types_parse_the_wire_values_including_the_nlbs() {
        assert_eq!(AddressType::parse("IPV4"), Some(AddressType::Ipv4));
        assert_eq!(
            AddressType::parse("dualstack-without-public-ipv4"),
            Some(AddressType::Dualstack)
        );
        assert_eq!(AddressType::parse("ipv6"), Some(AddressType::Ipv6));
        assert_eq!(AddressType::parse("quad"), None);
    }

    #[test]
    fn a_service_must_accept_every_family_the_endpoint_uses() {
        let v4 = vec!["ipv4".to_owned()];
        assert!(service_lacks(AddressType::Ipv4, &v4).is_empty());
        assert_eq!(service_lacks(AddressType::Dualstack, &v4), ["ipv6"]);
        assert_eq!(service_lacks(AddressType::Ipv6, &v4), ["ipv6"]);
        assert_eq!(
            service_lacks(AddressType::Ipv4, &["ipv6".to_owned()]),
            ["ipv4"]
        );
        let both = vec!["ipv4".to_owned(), "ipv6".to_owned()];
        assert!(service_lacks(AddressType::Dualstack, &both).is_empty());
    }

    #[test]
    fn subnets_must_have_the_endpoints_families() {
        let v4_only = subnet(&[], false);
        let dual = subnet(&["2600:1f18:1::/64"], false);
        let v6_only = subnet(&["2600:1f18:2::/64"], true);
        assert_eq!(subnet_mismatch(AddressType::Ipv4, &v4_only), None);
        assert_eq!(subnet_mismatch(AddressType::Ipv4, &dual), None);
        assert!(subnet_mismatch(AddressType::Ipv4, &v6_only).is_some());
        assert!(subnet_mismatch(AddressType::Dualstack, &v4_only).is_some());
        assert_eq!(subnet_mismatch(AddressType::Dualstack, &dual), None);
        assert!(subnet_mismatch(AddressType::Dualstack, &v6_only).is_some());
        assert!(subnet_mismatch(AddressType::Ipv6, &dual).is_some());
        assert_eq!(subnet_mismatch(AddressType::Ipv6, &v6_only), None);
    }

    #[test]
    fn record_types_need_the_endpoint_types_aws_documents() {
        use AddressType::*;
        assert_eq!(
            DnsRecordType::parse("service-defined"),
            Some(DnsRecordType::ServiceDefined)
        );
        assert!(DnsRecordType::Ipv4
            .allowed_endpoint_types()
            .contains(&Dualstack));
        assert!(!DnsRecordType::Ipv4.allowed_endpoint_types().contains(&Ipv6));
        assert!(!DnsRecordType::Ipv6.allowed_endpoint_types().contains(&Ipv4));
        assert_eq!(
            DnsRecordType::Dualstack.allowed_endpoint_types(),
            [Dualstack]
        );
        assert_eq!(
            DnsRecordType::ServiceDefined.allowed_endpoint_types(),
            [Dualstack]
        );
        assert!(!DnsRecordType::ServiceDefined.private_name_has_aaaa());
        assert!(DnsRecordType::Dualstack.private_name_has_aaaa());
        assert!(!DnsRecordType::Ipv6.private_name_has_a());
    }

    #[test]
    fn client_families_cover_both_address_kinds() {
        let a: Vec<IpNet> = vec![
            "10.0.3.10/32".parse().unwrap(),
            "2600:1f18::10/128".parse().unwrap(),
        ];
        assert_eq!(client_families(&a), (true, true));
        assert_eq!(client_families(&a[1..]), (false, true));
        assert_eq!(client_families(&[]), (false, false));
    }
}
