//! SDK reply types → snapshot model types. Pure functions, each unit-tested with the
//! SDK's own builders, so what lands in a snapshot is exactly what AWS said.

pub mod ec2;
pub mod elb;

use ipnet::IpNet;
use std::net::IpAddr;

/// A reply that lacks a field AWS always sends, or sends one in a form we cannot read.
/// The facts it would have filled become `ApiError` with this text, never a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl Unreadable {
    fn missing(field: &str) -> Self {
        Unreadable(format!("reply lacks {field}"))
    }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn req<T>(v: Option<T>, field: &str) -> Result<T, Unreadable> {
    v.ok_or_else(|| Unreadable::missing(field))
}

fn opt_string(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn ip(s: &str) -> Result<IpAddr, Unreadable> {
    s.parse()
        .map_err(|_| Unreadable(format!("{s:?} is not an IP address")))
}

/// A CIDR, truncated to its network (AWS accepts and echoes host bits in some places).
fn net(s: &str) -> Result<IpNet, Unreadable> {
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| Unreadable(format!("{s:?} is not a CIDR")))
}

/// FromPort/ToPort as AWS sends them; absent or -1 means "all ports".
fn port_range(
    from: Option<i32>,
    to: Option<i32>,
) -> Result<Option<pl_checks::model::PortRange>, Unreadable> {
    match (from, to) {
        (None, None) | (Some(-1), _) | (_, Some(-1)) => Ok(None),
        (Some(f), t) => {
            let to = t.unwrap_or(f);
            let cast =
                |p: i32| u16::try_from(p).map_err(|_| Unreadable(format!("port {p} out of range")));
            Ok(Some(pl_checks::model::PortRange {
                from: cast(f)?,
                to: cast(to)?,
            }))
        }
        (None, Some(t)) => Err(Unreadable(format!("ToPort {t} without FromPort"))),
    }
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_cidrs_read_like_aws_writes_them() {
        assert_eq!(port_range(Some(-1), Some(-1)), Ok(None));
        assert_eq!(port_range(None, None), Ok(None));
        assert_eq!(
            port_range(Some(1024), Some(65535)),
            Ok(Some(pl_checks::model::PortRange {
                from: 1024,
                to: 65535
            }))
        );
        assert!(port_range(Some(70000), Some(70000)).is_err());
        assert_eq!(
            net("10.0.3.7/24").unwrap(),
            "10.0.3.0/24".parse::<IpNet>().unwrap()
        );
        assert!(net("10.0.0.0").is_err());
        assert!(ip("fd00::1").is_ok());
    }
}
