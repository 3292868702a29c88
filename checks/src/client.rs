//! `--client`: who is trying to reach the service, parsed and resolved against a snapshot.

use crate::model::Snapshot;
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;
use std::str::FromStr;

/// A client as the on-call engineer names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ClientSpec {
    Ip(IpAddr),
    Cidr(IpNet),
    SecurityGroup(String),
    Instance(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientSpecError(String);

/// `sg-`/`i-` followed by 8 or 17 lowercase hex digits, as AWS issues them.
pub fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl ClientSpec {
    pub fn parse(raw: &str) -> Result<Self, ClientSpecError> {
        let s = raw.trim();
        if s.starts_with("sg-") {
            return if is_aws_id(s, "sg-") {
                Ok(ClientSpec::SecurityGroup(s.to_owned()))
            } else {
                Err(ClientSpecError(format!(
                    "{raw:?} is not a security group id (sg- then 8 or 17 hex digits)"
                )))
            };
        }
        if s.starts_with("i-") {
            return if is_aws_id(s, "i-") {
                Ok(ClientSpec::Instance(s.to_owned()))
            } else {
                Err(ClientSpecError(format!(
                    "{raw:?} is not an instance id (i- then 8 or 17 hex digits)"
                )))
            };
        }
        if s.contains('/') {
            return IpNet::from_str(s)
                .map(|n| ClientSpec::Cidr(n.trunc()))
                .map_err(|_| {
                    ClientSpecError(format!("{raw:?} is not a valid CIDR (e.g. 10.20.1.0/24)"))
                });
        }
        IpAddr::from_str(s).map(ClientSpec::Ip).map_err(|_| {
            ClientSpecError(format!(
                "{raw:?} is not a client: give an IP, a CIDR, a security group id (sg-…) or an instance id (i-…)"
            ))
        })
    }
}

impl std::fmt::Display for ClientSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientSpec::Ip(ip) => write!(f, "{ip}"),
            ClientSpec::Cidr(n) => write!(f, "{n}"),
            ClientSpec::SecurityGroup(s) | ClientSpec::Instance(s) => f.write_str(s),
        }
    }
}

/// A client reduced to what filters match on: source addresses and security groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedClient {
    pub spec: String,
    pub addresses: Vec<IpNet>,
    pub security_group_ids: Vec<String>,
    pub subnet_id: Option<String>,
}

/// Resolve a client against the snapshot. IPs and CIDRs need nothing; a security
/// group or instance must have been collected (its groups, addresses, subnet).
pub fn resolve(spec: &ClientSpec, snap: &Snapshot) -> Result<ResolvedClient, String> {
    match spec {
        ClientSpec::Ip(ip) => Ok(ResolvedClient {
            spec: spec.to_string(),
            addresses: vec![IpNet::from(*ip)],
            security_group_ids: vec![],
            subnet_id: None,
        }),
        ClientSpec::Cidr(net) => Ok(ResolvedClient {
            spec: spec.to_string(),
            addresses: vec![*net],
            security_group_ids: vec![],
            subnet_id: None,
        }),
        ClientSpec::SecurityGroup(_) | ClientSpec::Instance(_) => {
            let wanted = spec.to_string();
            match &snap.consumer.client {
                Some(crate::fact::Fact::Known(c)) if c.spec == wanted => Ok(ResolvedClient {
                    spec: wanted,
                    addresses: c.addresses.clone(),
                    security_group_ids: c.security_group_ids.clone(),
                    subnet_id: c.subnet_id.clone(),
                }),
                Some(crate::fact::Fact::Absent(m)) if snap.inputs.client.as_deref() == Some(&wanted) => {
                    Err(format!("client {wanted} could not be resolved: {m}"))
                }
                _ => Err(format!(
                    "client {wanted} was not collected in this snapshot; collect with --client {wanted}, or give an IP or CIDR"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_client_kind() {
        assert_eq!(
            ClientSpec::parse("10.20.1.5").unwrap(),
            ClientSpec::Ip("10.20.1.5".parse().unwrap())
        );
        assert_eq!(
            ClientSpec::parse("10.20.1.7/24").unwrap(),
            ClientSpec::Cidr("10.20.1.0/24".parse().unwrap())
        );
        assert_eq!(
            ClientSpec::parse("sg-0123456789abcdef0").unwrap(),
            ClientSpec::SecurityGroup("sg-0123456789abcdef0".into())
        );
        assert_eq!(
            ClientSpec::parse("i-0abc1234").unwrap(),
            ClientSpec::Instance("i-0abc1234".into())
        );
        assert_eq!(
            ClientSpec::parse("fd00::1").unwrap(),
            ClientSpec::Ip("fd00::1".parse().unwrap())
        );
    }

    #[test]
    fn rejects_malformed_clients_with_a_reason() {
        for bad in [
            "10.20.1.300",
            "10.0.0.0/33",
            "sg-xyz",
            "i-12",
            "sg-0123456789ABCDEF0",
            "",
            "client",
        ] {
            let err = ClientSpec::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }
}
