//! DNS facts shared by the private-DNS checks: which private DNS name the service
//! offers (and its verification record), where the VPC's Amazon-provided resolver
//! lives, and whether an address is publicly routable.

use crate::fact::Missing;
use crate::model::{eq_wire, PrivateDnsNameConfiguration, Snapshot};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The service's private DNS name as the best available source reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedName<'a> {
    pub name: &'a str,
    /// pendingVerification, verified, failed (wire form); `None` when no source says.
    pub state: Option<&'a str>,
    /// The TXT record AWS asks the provider to publish (provider view only).
    pub txt: Option<&'a PrivateDnsNameConfiguration>,
    /// `provider` (DescribeVpcEndpointServiceConfigurations) or `consumer` (DescribeVpcEndpointServices).
    pub source: &'static str,
}

impl OfferedName<'_> {
    pub fn is_verified(&self) -> bool {
        self.state.is_some_and(|s| eq_wire(s, "verified"))
    }

    /// `<name>.<domain>`: the fully qualified TXT record name to publish in the public zone.
    pub fn txt_fqdn(&self) -> Option<String> {
        self.txt
            .map(|t| format!("{}.{}", t.name.trim_end_matches('.'), self.name))
    }
}

/// The private DNS name the service offers: `Ok(None)` when it offers none.
/// The provider's configuration wins (it carries the TXT record); the consumer's
/// view of the service fills in the state when the provider's is not visible.
pub fn offered_name(s: &Snapshot) -> Result<Option<OfferedName<'_>>, &Missing> {
    let consumer = s.consumer.service.as_result();
    let consumer_state = consumer
        .ok()
        .and_then(|v| v.private_dns_name_verification_state.as_deref());
    match s.provider.service_configuration.as_result() {
        Ok(cfg) => {
            let Some(name) = cfg.private_dns_name.as_deref() else {
                return Ok(None);
            };
            let txt = cfg.private_dns_name_configuration.as_ref();
            Ok(Some(OfferedName {
                name,
                state: txt.map(|t| t.state.as_str()).or(consumer_state),
                txt,
                source: "provider",
            }))
        }
        Err(provider_missing) => match consumer {
            Ok(view) => Ok(view.private_dns_name.as_deref().map(|name| OfferedName {
                name,
                state: consumer_state,
                txt: None,
                source: "consumer",
            })),
            Err(_) => Err(provider_missing),
        },
    }
}

/// Addresses at which the Amazon-provided DNS server answers inside a VPC: the
/// primary IPv4 CIDR's base plus two, and the link-local addresses every Nitro
/// instance can use.
pub fn amazon_resolvers(vpc_cidrs: &[IpNet]) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = vpc_cidrs
        .iter()
        .find_map(|c| match c {
            IpNet::V4(n) => Some(IpAddr::V4(Ipv4Addr::from(
                u32::from(n.network()).wrapping_add(2),
            ))),
            IpNet::V6(_) => None,
        })
        .into_iter()
        .collect();
    v.push(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 253)));
    v.push(IpAddr::V6(Ipv6Addr::new(
        0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253,
    )));
    v
}

/// The resolver address out of `system`, `IP`, `IP:PORT` or `[IPv6]:PORT`; `None` for `system`.
pub fn resolver_ip(resolver: &str) -> Option<IpAddr> {
    let r = resolver.trim();
    if let Ok(ip) = r.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = r.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    // `system (10.0.0.2)` and similar annotations.
    let inner = r
        .split(['(', ')', ' '])
        .find_map(|p| p.parse::<IpAddr>().ok());
    inner
}

/// Globally routable: not RFC 1918, shared (100.64/10), loopback, link-local,
/// unique-local or unspecified. A private name answering with one of these is
/// served by public DNS, not by the endpoint's private hosted zone.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let shared = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
            !(v4.is_private()
                || shared
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            let unique_local = (seg0 & 0xfe00) == 0xfc00;
            let link_local = (seg0 & 0xffc0) == 0xfe80;
            !(unique_local || link_local || v6.is_loopback() || v6.is_unspecified())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_resolver_is_the_primary_cidr_base_plus_two() {
        let cidrs: Vec<IpNet> = vec![
            "10.20.0.0/16".parse().unwrap(),
            "10.21.0.0/16".parse().unwrap(),
        ];
        let r = amazon_resolvers(&cidrs);
        assert_eq!(r[0], "10.20.0.2".parse::<IpAddr>().unwrap());
        assert!(r.contains(&"169.254.169.253".parse().unwrap()));
        assert!(!r.contains(&"10.21.0.2".parse().unwrap()));
    }

    #[test]
    fn resolver_strings_parse_with_and_without_ports() {
        assert_eq!(
            resolver_ip("10.0.0.2:53"),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(resolver_ip("10.0.0.2"), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(
            resolver_ip("[fd00:ec2::253]:53"),
            Some("fd00:ec2::253".parse().unwrap())
        );
        assert_eq!(resolver_ip("system"), None);
        assert_eq!(
            resolver_ip("system (10.0.0.2)"),
            Some("10.0.0.2".parse().unwrap())
        );
    }

    #[test]
    fn private_shared_and_link_local_addresses_are_not_public() {
        for a in [
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.253",
            "fd00:ec2::253",
            "fe80::1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in ["52.20.114.37", "100.128.0.1", "2600:1f18::1"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[cfg(feature = "scenarios")]
    #[test]
    fn provider_configuration_wins_and_consumer_view_fills_in() {
        use crate::fact::Fact;
        let s = crate::scenarios::base::healthy();
        let o = offered_name(&s).unwrap().unwrap();
        assert_eq!(o.source, "provider");
        assert_eq!(
            o.txt_fqdn().unwrap(),
            "_a1b2c3d4.payments.internal.example.com"
        );

        let mut s = crate::scenarios::base::healthy();
        s.provider.service_configuration = Fact::needs_provider(Some("111111111111"));
        if let Fact::Known(v) = &mut s.consumer.service {
            v.private_dns_name_verification_state = Some("pendingVerification".into());
        }
        let o = offered_name(&s).unwrap().unwrap();
        assert_eq!(
            (o.source, o.state),
            ("consumer", Some("pendingVerification"))
        );
        assert!(o.txt.is_none() && !o.is_verified());

        let mut s = crate::scenarios::base::healthy();
        if let Fact::Known(c) = &mut s.provider.service_configuration {
            c.private_dns_name = None;
        }
        assert!(offered_name(&s).unwrap().is_none());
    }
}
