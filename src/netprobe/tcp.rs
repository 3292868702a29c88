//! The connect probe: a TCP connect (short timeout) to the service port on each of
//! the endpoint's ENI addresses, optionally followed by a TLS handshake with SNI = the
//! service's private DNS name. `connect-probe` judges the results.
//!
//! Which addresses may be probed is decided by [`probe_targets`]: only the endpoint's
//! own ENI addresses that a name actually resolved to, or the addresses the user gave
//! with `--probe-target`. Nothing else is ever connected to.

use pl_checks::fact::{Fact, Missing};
use pl_checks::model::{
    DnsFacts, DnsOutcome, ProbeAttempt, ProbeFacts, ProbeOutcome, Snapshot, TlsOutcome,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Long enough for a cross-AZ connect, short enough that a silent drop costs seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One address to connect to, with the AZ of the ENI that holds it (when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub address: IpAddr,
    pub availability_zone: Option<String>,
}

pub const NO_ENI_ANSWER_HINT: &str = "probe skipped: no name resolved to the endpoint's ENIs (so a connect could reach someone else's address); give --probe-target";

/// The addresses the probe may connect to.
///
/// With `--probe-target` addresses: those (the user vouches for them), labelled with
/// their ENI's AZ when they are ENI addresses. Otherwise the endpoint's ENI addresses
/// that some name resolved to, in ENI order; if none did, nothing is probed and the
/// fact says why (`NotRequested`, so `connect-probe` skips with the hint).
pub fn probe_targets(
    snapshot: &Snapshot,
    dns: &Fact<DnsFacts>,
    given: &[IpAddr],
) -> Result<Vec<ProbeTarget>, Missing> {
    let enis = snapshot.consumer.endpoint_enis.known();
    let az_of = |ip: &IpAddr| {
        enis.into_iter()
            .flatten()
            .find(|e| e.private_ip == *ip || e.ipv6_addresses.contains(ip))
            .map(|e| e.availability_zone.clone())
    };
    if !given.is_empty() {
        let mut out: Vec<ProbeTarget> = Vec::new();
        for ip in given {
            if !out.iter().any(|t| t.address == *ip) {
                out.push(ProbeTarget {
                    address: *ip,
                    availability_zone: az_of(ip),
                });
            }
        }
        return Ok(out);
    }
    let Some(enis) = enis else {
        let why = snapshot
            .consumer
            .endpoint_enis
            .as_result()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(Missing::NotRequested {
            hint: format!(
                "probe skipped: the endpoint's ENI addresses are unknown ({why}); give --probe-target"
            ),
        });
    };
    let answered: Vec<IpAddr> = dns
        .known()
        .into_iter()
        .flat_map(|d| d.lookups.iter())
        .filter_map(|l| match &l.outcome {
            DnsOutcome::Answer { addresses, .. } => Some(addresses.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut out: Vec<ProbeTarget> = Vec::new();
    for e in enis {
        for ip in std::iter::once(&e.private_ip).chain(e.ipv6_addresses.iter()) {
            if answered.contains(ip) && !out.iter().any(|t| t.address == *ip) {
                out.push(ProbeTarget {
                    address: *ip,
                    availability_zone: Some(e.availability_zone.clone()),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(Missing::NotRequested {
            hint: NO_ENI_ANSWER_HINT.into(),
        });
    }
    Ok(out)
}

/// The port to probe: the first `--port`, else the first NLB listener's port.
pub fn probe_port(snapshot: &Snapshot) -> Option<u16> {
    if let Some(p) = snapshot.inputs.ports.first() {
        return Some(*p);
    }
    // AWS service APIs are HTTPS (443), whatever the provider side, which AWS keeps.
    if pl_checks::endpoint_type::service_kind(snapshot)
        == pl_checks::endpoint_type::ServiceKind::AwsService
    {
        return Some(pl_checks::check::AWS_SERVICE_PORT);
    }
    snapshot
        .provider
        .load_balancers
        .known()?
        .iter()
        .filter_map(|lb| lb.listeners.known())
        .flatten()
        .map(|l| l.port)
        .next()
}

/// The SNI for `--probe-tls`: the service's private DNS name, when it has a concrete one
/// (for an AWS service, the service's own name: `ssm.us-east-1.amazonaws.com`).
pub fn tls_server_name(snapshot: &Snapshot) -> Option<String> {
    let from_service = snapshot
        .consumer
        .service
        .known()
        .and_then(|s| s.private_dns_name.clone());
    let from_entries = || {
        snapshot
            .consumer
            .endpoint
            .dns_entries
            .iter()
            .find(|e| !e.dns_name.contains(".vpce.amazonaws.com"))
            .map(|e| e.dns_name.clone())
    };
    let name = from_service.or_else(from_entries)?;
    let mut name = name.trim_end_matches('.').to_owned();
    // An AWS service's wildcard name (S3's `*.s3.<region>.amazonaws.com`) is served under
    // the service's own name, which its certificate covers.
    if pl_checks::endpoint_type::service_kind(snapshot)
        == pl_checks::endpoint_type::ServiceKind::AwsService
    {
        if let Some(parent) = name.strip_prefix("*.") {
            name = parent.to_owned();
        }
    }
    super::dns::valid_hostname(&name).ok().map(|_| name)
}

/// A TLS handshake to run after each successful connect.
#[derive(Clone)]
pub struct TlsProbe {
    server_name: ServerName<'static>,
    name: String,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsProbe")
            .field("server_name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsProbe {
    /// Verify the server's certificate against `roots` for `server_name`.
    pub fn new(server_name: &str, roots: RootCertStore) -> Result<Self, String> {
        let sn = ServerName::try_from(server_name.to_owned())
            .map_err(|e| format!("{server_name:?} cannot be a TLS server name: {e}"))?;
        // Name the provider: rustls cannot pick one by itself when more than one
        // (ring, aws-lc-rs) is compiled in by other dependencies.
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS configuration: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(TlsProbe {
            server_name: sn,
            name: server_name.to_owned(),
            config: Arc::new(config),
        })
    }

    /// Verify against the operating system's trust store: a private service's
    /// certificate is usually issued by the organisation's own CA, installed there.
    pub fn with_system_roots(server_name: &str) -> Result<Self, String> {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
            return Err(format!(
                "no trusted root certificates found on this host{}",
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errors.join("; "))
                }
            ));
        }
        Self::new(server_name, roots)
    }

    pub fn server_name(&self) -> &str {
        &self.name
    }

    async fn handshake(&self, stream: TcpStream, timeout: Duration) -> TlsOutcome {
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let started = Instant::now();
        let server_name = self.name.clone();
        match tokio::time::timeout(timeout, connector.connect(self.server_name.clone(), stream))
            .await
        {
            Err(_) => TlsOutcome::Timeout {
                server_name,
                after_ms: timeout.as_millis() as u64,
            },
            Ok(Err(e)) => TlsOutcome::Failed {
                server_name,
                message: e.to_string(),
            },
            Ok(Ok(mut tls)) => {
                let millis = started.elapsed().as_millis() as u64;
                let protocol = tls.get_ref().1.protocol_version().map(|v| format!("{v:?}"));
                // Say goodbye properly; the server's reaction does not matter.
                let _ = tokio::time::timeout(
                    Duration::from_millis(200),
                    tokio::io::AsyncWriteExt::shutdown(&mut tls),
                )
                .await;
                TlsOutcome::Established {
                    server_name,
                    millis,
                    protocol,
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub connect_timeout: Duration,
    pub tls: Option<TlsProbe>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: None,
        }
    }
}

async fn connect(addr: SocketAddr, timeout: Duration) -> (ProbeOutcome, Option<TcpStream>) {
    let started = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => (
            ProbeOutcome::Timeout {
                after_ms: timeout.as_millis() as u64,
            },
            None,
        ),
        Ok(Ok(stream)) => (
            ProbeOutcome::Connected {
                millis: started.elapsed().as_millis() as u64,
            },
            Some(stream),
        ),
        Ok(Err(e)) => {
            let outcome = match e.kind() {
                ErrorKind::ConnectionRefused => ProbeOutcome::Refused,
                // The kernel gave up before our timer did (SYN retries exhausted).
                ErrorKind::TimedOut => ProbeOutcome::Timeout {
                    after_ms: started.elapsed().as_millis() as u64,
                },
                _ => ProbeOutcome::Error {
                    message: e.to_string(),
                },
            };
            (outcome, None)
        }
    }
}

/// Connect to every target concurrently; one attempt each, no retries.
pub async fn probe(targets: &[ProbeTarget], port: u16, opts: &ProbeOptions) -> ProbeFacts {
    let attempts = targets.iter().map(|t| async move {
        let (outcome, stream) =
            connect(SocketAddr::new(t.address, port), opts.connect_timeout).await;
        let tls = match (&opts.tls, stream) {
            (Some(tls), Some(stream)) => Some(tls.handshake(stream, opts.connect_timeout).await),
            _ => None,
        };
        ProbeAttempt {
            address: t.address,
            availability_zone: t.availability_zone.clone(),
            outcome,
            tls,
        }
    });
    ProbeFacts {
        port,
        attempts: futures_util::future::join_all(attempts).await,
    }
}

/// The snapshot's `probe` fact: decide the targets ([`probe_targets`]) and the port
/// ([`probe_port`], or `port` when given), then probe.
pub async fn collect(
    snapshot: &Snapshot,
    dns: &Fact<DnsFacts>,
    given_targets: &[IpAddr],
    port: Option<u16>,
    opts: &ProbeOptions,
) -> Fact<ProbeFacts> {
    let Some(port) = port.or_else(|| probe_port(snapshot)) else {
        return Fact::not_requested(
            "probe skipped: no service port known (no --port and no visible NLB listener); give --port",
        );
    };
    match probe_targets(snapshot, dns, given_targets) {
        Ok(targets) => Fact::Known(probe(&targets, port, opts).await),
        Err(missing) => Fact::Absent(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pl_checks::model::{DnsLookup, DnsNameRole};
    use pl_checks::scenarios::base::healthy;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn dns_answering(addresses: &[&str]) -> Fact<DnsFacts> {
        Fact::Known(DnsFacts {
            resolver: "10.0.0.2:53".into(),
            lookups: vec![DnsLookup {
                name: "payments.internal.example.com".into(),
                role: DnsNameRole::PrivateDnsName,
                outcome: DnsOutcome::Answer {
                    addresses: addresses.iter().map(|a| ip(a)).collect(),
                    cname_chain: vec![],
                },
            }],
        })
    }

    #[test]
    fn targets_are_the_eni_addresses_a_name_resolved_to() {
        let s = healthy();
        let t = probe_targets(&s, &s.dns, &[]).unwrap();
        assert_eq!(
            t,
            vec![
                ProbeTarget {
                    address: ip("10.0.1.25"),
                    availability_zone: Some("us-east-1a".into())
                },
                ProbeTarget {
                    address: ip("10.0.2.25"),
                    availability_zone: Some("us-east-1b".into())
                },
            ]
        );
        let t = probe_targets(&s, &dns_answering(&["10.0.2.25", "52.20.114.37"]), &[]).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].address, ip("10.0.2.25"));
    }

    #[test]
    fn public_or_foreign_answers_are_never_probed() {
        let s = healthy();
        for dns in [
            dns_answering(&["52.20.114.37", "34.194.56.201"]),
            dns_answering(&["10.0.9.9"]),
            Fact::not_requested("no DNS"),
        ] {
            match probe_targets(&s, &dns, &[]) {
                Err(Missing::NotRequested { hint }) => assert_eq!(hint, NO_ENI_ANSWER_HINT),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unknown_enis_skip_the_probe_with_the_reason() {
        let mut s = healthy();
        s.consumer.endpoint_enis = Fact::Absent(Missing::AccessDenied {
            action: "ec2:DescribeNetworkInterfaces".into(),
            message: None,
        });
        match probe_targets(&s, &s.dns, &[]) {
            Err(Missing::NotRequested { hint }) => {
                assert!(hint.contains("ec2:DescribeNetworkInterfaces"), "{hint}");
                assert!(hint.contains("--probe-target"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_targets_are_used_as_given_and_labelled_with_their_az() {
        let s = healthy();
        let t = probe_targets(
            &s,
            &Fact::not_requested("x"),
            &[ip("10.0.2.25"), ip("192.0.2.7"), ip("10.0.2.25")],
        )
        .unwrap();
        assert_eq!(
            t,
            vec![
                ProbeTarget {
                    address: ip("10.0.2.25"),
                    availability_zone: Some("us-east-1b".into())
                },
                ProbeTarget {
                    address: ip("192.0.2.7"),
                    availability_zone: None
                },
            ]
        );
    }

    #[test]
    fn port_is_the_first_given_port_else_the_first_listener() {
        let mut s = healthy();
        s.inputs.ports.clear();
        assert_eq!(probe_port(&s), Some(pl_checks::scenarios::base::PORT));
        s.inputs.ports = vec![9443, 9000];
        assert_eq!(probe_port(&s), Some(9443));
        s.inputs.ports.clear();
        s.provider.load_balancers = Fact::needs_provider(Some("222222222222"));
        assert_eq!(probe_port(&s), None);
    }

    #[test]
    fn sni_is_the_concrete_private_dns_name() {
        let mut s = healthy();
        assert_eq!(
            tls_server_name(&s).as_deref(),
            Some("payments.internal.example.com")
        );
        if let Fact::Known(v) = &mut s.consumer.service {
            v.private_dns_name = Some("*.internal.example.com".into());
        }
        assert_eq!(tls_server_name(&s), None);
    }

    #[test]
    fn an_aws_service_is_probed_on_443_with_its_own_name_as_sni() {
        use pl_checks::scenarios::awsservice;
        let mut s = awsservice::ssm();
        assert_eq!(probe_port(&s), Some(443));
        assert_eq!(
            tls_server_name(&s).as_deref(),
            Some("ssm.us-east-1.amazonaws.com")
        );
        s.inputs.ports = vec![8443];
        assert_eq!(probe_port(&s), Some(8443));
        let mut s = awsservice::s3();
        if let Fact::Known(v) = &mut s.consumer.service {
            v.private_dns_name = Some("*.s3.us-east-1.amazonaws.com".into());
        }
        assert_eq!(
            tls_server_name(&s).as_deref(),
            Some("s3.us-east-1.amazonaws.com")
        );
    }
}
