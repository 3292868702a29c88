//! Where pl-doctor runs: on EC2, the instance's VPC and subnet from the instance metadata
//! service (IMDSv2, through the SDK's IMDS client); otherwise "not on EC2". DNS answers
//! and the connect probe mean different things inside the endpoint's VPC, in another
//! VPC and off AWS, so the report and the snapshot carry this ([`Vantage`]).
//!
//! It runs beside the first stage of collection and is bounded well under a second: off
//! EC2 the metadata address does not answer and the short connect timeout ends it.
//! `AWS_EC2_METADATA_DISABLED=true` skips it; `AWS_EC2_METADATA_SERVICE_ENDPOINT` points
//! it elsewhere (read by the SDK's client builder), as for every AWS SDK.

use pl_checks::model::{Vantage, VantageLocation};
use std::time::Duration;

/// A metadata service that has not accepted the connection by then is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// One reply from a metadata service that did accept the connection.
const READ_TIMEOUT: Duration = Duration::from_millis(500);
/// The whole lookup: token, MAC, then the VPC, subnet, instance and region at once.
const LIMIT: Duration = Duration::from_millis(900);

const DISABLED_VAR: &str = "AWS_EC2_METADATA_DISABLED";
const ENDPOINT_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// Where pl-doctor runs, as the environment lets it find out.
pub async fn find() -> Vantage {
    let disabled = std::env::var(DISABLED_VAR).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let endpoint = std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|e| !e.trim().is_empty());
    let mut vantage = if disabled {
        not_ec2(format!("instance metadata not asked ({DISABLED_VAR}=true)"))
    } else {
        ask(endpoint.as_deref()).await
    };
    vantage.stub_upstreams = stub_upstreams(
        std::fs::read_to_string("/etc/resolv.conf").ok().as_deref(),
        std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
            .ok()
            .as_deref(),
    );
    vantage
}

fn not_ec2(how: String) -> Vantage {
    Vantage {
        location: VantageLocation::NotEc2,
        how,
        instance_id: None,
        vpc_id: None,
        subnet_id: None,
        region: None,
        stub_upstreams: vec![],
    }
}

/// The instance metadata at `endpoint` (the SDK's default, 169.254.169.254, when `None`).
pub async fn ask(endpoint: Option<&str>) -> Vantage {
    let at = endpoint.unwrap_or(DEFAULT_ENDPOINT).to_owned();
    let mut builder = aws_config::imds::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_timeout(LIMIT)
        .max_attempts(1);
    if let Some(e) = endpoint {
        builder = match builder.endpoint(e) {
            Ok(b) => b,
            Err(err) => {
                return not_ec2(format!("{ENDPOINT_VAR}={e} is not a URL: {err}"));
            }
        };
    }
    let client = builder.build();
    match tokio::time::timeout(LIMIT, gather(&client)).await {
        Ok(Ok(v)) => v,
        Ok(Err(why)) => not_ec2(format!(
            "no instance metadata service answered at {at}: {why}"
        )),
        Err(_) => not_ec2(format!(
            "no instance metadata service answered at {at} within {} ms",
            LIMIT.as_millis()
        )),
    }
}

async fn gather(client: &aws_config::imds::Client) -> Result<Vantage, String> {
    let get = |path: String| async move {
        client
            .get(path.clone())
            .await
            .map(|v| v.as_ref().trim().to_owned())
            .map_err(|e| format!("{path}: {}", one_line(&e.to_string())))
    };
    let mac = get("/latest/meta-data/mac".into()).await?;
    let interface = format!("/latest/meta-data/network/interfaces/macs/{mac}");
    let (vpc, subnet, instance, region) = tokio::join!(
        get(format!("{interface}/vpc-id")),
        get(format!("{interface}/subnet-id")),
        get("/latest/meta-data/instance-id".into()),
        get("/latest/meta-data/placement/region".into()),
    );
    Ok(Vantage {
        location: VantageLocation::Ec2,
        how: "instance metadata (IMDSv2)".into(),
        instance_id: instance.ok(),
        vpc_id: Some(vpc?),
        subnet_id: subnet.ok(),
        region: region.ok(),
        stub_upstreams: vec![],
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// systemd-resolved's upstream servers, when the host resolver is its 127.0.0.53 stub:
/// the `nameserver` lines of /run/systemd/resolve/resolv.conf.
fn stub_upstreams(etc_resolv: Option<&str>, systemd_resolv: Option<&str>) -> Vec<String> {
    let nameservers = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some("nameserver"))
                    .then(|| words.next().map(str::to_owned))
                    .flatten()
            })
            .collect()
    };
    let uses_stub = etc_resolv.is_some_and(|t| {
        nameservers(t)
            .iter()
            .any(|n| n == "127.0.0.53" || n == "127.0.0.54")
    });
    match (uses_stub, systemd_resolv) {
        (true, Some(text)) => nameservers(text),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_upstreams_only_for_the_systemd_stub() {
        let stub = "# managed by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\n";
        let upstream = "nameserver 10.0.0.2\nnameserver 169.254.169.253\nsearch ec2.internal\n";
        assert_eq!(
            stub_upstreams(Some(stub), Some(upstream)),
            ["10.0.0.2", "169.254.169.253"]
        );
        assert!(stub_upstreams(Some("nameserver 10.0.0.2\n"), Some(upstream)).is_empty());
        assert!(stub_upstreams(Some(stub), None).is_empty());
    }

    #[tokio::test]
    async fn nothing_listening_is_not_ec2_and_quick() {
        // A loopback port with nothing behind it refuses at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let v = ask(Some(&url)).await;
        assert_eq!(v.location, VantageLocation::NotEc2);
        assert!(v.how.contains(&url), "{}", v.how);
    }
}
