//! Resolve the endpoint's names (A and AAAA) through the system resolver or a given
//! one, recording what came back: the CNAME chain and the final addresses, NXDOMAIN,
//! no data, SERVFAIL, a timeout, or an error. `dns-resolution` judges the answers.

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::{DnsFacts, DnsLookup, DnsNameRole, DnsOutcome, Snapshot};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How patient the lookups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsOptions {
    /// Per query (one A or AAAA question to the resolver).
    pub timeout: Duration,
    /// Re-asks after a failed query; kept small so a dead resolver costs seconds, not minutes.
    pub retries: usize,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            timeout: Duration::from_secs(2),
            retries: 1,
        }
    }
}

impl DnsOptions {
    /// The longest one name may take, whatever the resolver library does internally.
    fn hard_limit(&self) -> Duration {
        self.timeout * (self.retries as u32 + 1) + Duration::from_millis(500)
    }
}

/// A name to ask for, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameToResolve {
    pub name: String,
    pub role: DnsNameRole,
}

/// AWS's endpoint-specific names live under `vpce.amazonaws.com` (`.com.cn` in China).
fn is_vpce_name(name: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n.contains(".vpce.amazonaws.com")
}

/// The endpoint's own label of a vpce name: the first one, or for a wildcard name (S3's
/// `*.vpce-….s3.<region>.vpce.amazonaws.com`) the one after the wildcard.
fn first_label(name: &str) -> &str {
    let mut labels = name.split('.');
    match labels.next() {
        Some("*") => labels.next().unwrap_or(""),
        Some(l) => l,
        None => "",
    }
}

/// The label asked under a wildcard name: S3's endpoint-specific names for bucket
/// requests are `bucket.vpce-….s3.<region>.vpce.amazonaws.com` (the S3 User Guide).
pub const WILDCARD_LABEL: &str = "bucket";

/// A concrete name to ask for a wildcard one (`*.x` → `bucket.x`); others unchanged.
fn concrete(name: &str) -> String {
    match name.strip_prefix("*.") {
        Some(rest) => format!("{WILDCARD_LABEL}.{rest}"),
        None => name.to_owned(),
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The names `dns-resolution` needs answers for: the service's private DNS name (when
/// it offers one), the endpoint's regional name and its zonal names.
///
/// DescribeVpcEndpoints lists the regional name first, then one name per AZ (the
/// regional name's first label plus `-<AZ>`), then the private DNS name when private
/// DNS is enabled; that last one is the service's name again and is asked once.
pub fn names_to_resolve(snapshot: &Snapshot) -> Vec<NameToResolve> {
    let aws_service = pl_checks::endpoint_type::service_kind(snapshot)
        == pl_checks::endpoint_type::ServiceKind::AwsService;
    // S3 and the like with private DNS for inbound Resolver endpoints only: the VPC's own
    // queries for the private name are answered for the gateway endpoint, not this one.
    let private_for_inbound_only = snapshot
        .consumer
        .endpoint
        .private_dns_only_for_inbound_resolver_endpoint
        == Some(true);
    let mut out: Vec<NameToResolve> = Vec::new();
    let mut push = |name: &str, role: DnsNameRole| {
        if role == DnsNameRole::PrivateDnsName && private_for_inbound_only {
            return;
        }
        // Wildcard names: the endpoint's own (S3's) always, an AWS service's private name;
        // an endpoint service's wildcard private name is left as it is (refused, said).
        let name = if role != DnsNameRole::PrivateDnsName || aws_service {
            concrete(name)
        } else {
            name.to_owned()
        };
        let name = name.trim_end_matches('.');
        if !name.is_empty() && !out.iter().any(|n| same_name(&n.name, name)) {
            out.push(NameToResolve {
                name: name.to_owned(),
                role,
            });
        }
    };
    let entries = &snapshot.consumer.endpoint.dns_entries;
    if let Some(private) = snapshot
        .consumer
        .service
        .known()
        .and_then(|s| s.private_dns_name.as_deref())
    {
        push(private, DnsNameRole::PrivateDnsName);
    }
    let regional = entries.iter().find(|e| is_vpce_name(&e.dns_name));
    if let Some(r) = regional {
        push(&r.dns_name, DnsNameRole::Regional);
        let zonal_prefix = format!("{}-", first_label(&r.dns_name).to_ascii_lowercase());
        for e in entries.iter().filter(|e| is_vpce_name(&e.dns_name)) {
            if first_label(&e.dns_name)
                .to_ascii_lowercase()
                .starts_with(&zonal_prefix)
            {
                push(&e.dns_name, DnsNameRole::Zonal);
            }
        }
    }
    // Without the service view (access denied), the private name still shows up among
    // the endpoint's entries when private DNS is enabled.
    for e in entries.iter().filter(|e| !is_vpce_name(&e.dns_name)) {
        push(&e.dns_name, DnsNameRole::PrivateDnsName);
    }
    out
}

/// A DNS host name we are willing to send to a resolver: letters, digits and inner
/// hyphens in labels of 1-63 characters, at least two labels, 253 characters at most.
/// Names come from AWS responses, but a snapshot may have been edited; anything else
/// (wildcards, spaces, escapes) is refused rather than sent.
pub fn valid_hostname(name: &str) -> Result<(), String> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.is_empty() || n.len() > 253 {
        return Err(format!("{name:?} is not a DNS host name (length)"));
    }
    let labels: Vec<&str> = n.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("{name:?} is not a fully qualified DNS name"));
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-');
        if !ok {
            return Err(format!(
                "{name:?} is not a DNS host name (label {l:?}); a wildcard private DNS name needs a concrete name under it"
            ));
        }
    }
    Ok(())
}

/// How `DnsFacts::resolver` names the resolver: `IP:PORT`, or `system (IP …)` with the
/// system's configured name servers, so `dns-resolution` can tell whether the VPC's
/// own resolver was asked.
fn resolver_label(given: Option<SocketAddr>, system: &ResolverConfig) -> String {
    match given {
        Some(sa) => sa.to_string(),
        None => {
            let mut ips: Vec<String> = Vec::new();
            for ns in system.name_servers() {
                let ip = ns.ip.to_string();
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            if ips.is_empty() {
                "system".into()
            } else {
                format!("system ({})", ips.join(" "))
            }
        }
    }
}

/// A resolver that asks exactly what it is told: no hosts file, no search domains,
/// no cache (each name is asked once anyway), and bounded time.
fn build_resolver(
    given: Option<SocketAddr>,
    opts: &DnsOptions,
) -> Result<(TokioResolver, String), String> {
    let (config, mut ropts) = match given {
        Some(sa) => {
            let mut ns = NameServerConfig::udp_and_tcp(sa.ip());
            for c in &mut ns.connections {
                c.port = sa.port();
            }
            (
                ResolverConfig::from_name_servers(vec![ns]),
                ResolverOpts::default(),
            )
        }
        None => hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("reading the system resolver configuration: {e}"))?,
    };
    let label = resolver_label(given, &config);
    let (_, _, name_servers) = config.into_parts();
    if name_servers.is_empty() {
        return Err("the system resolver configuration names no name servers".into());
    }
    let config = ResolverConfig::from_name_servers(name_servers);
    ropts.timeout = opts.timeout;
    ropts.attempts = opts.retries;
    ropts.use_hosts_file = ResolveHosts::Never;
    ropts.cache_size = 0;
    ropts.preserve_intermediates = true;
    ropts.ndots = 0;
    ropts.try_tcp_on_error = true;
    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(ropts)
        .build()
        .map_err(|e| format!("building the resolver: {e}"))?;
    Ok((resolver, label))
}

/// Resolve every name concurrently through `resolver` (`None`: the system's).
/// `Err` only when no resolver could be set up (no usable system configuration).
pub async fn resolve(
    resolver: Option<SocketAddr>,
    names: &[NameToResolve],
    opts: &DnsOptions,
) -> Result<DnsFacts, String> {
    let (client, label) = build_resolver(resolver, opts)?;
    let lookups = names.iter().map(|n| {
        let client = client.clone();
        async move {
            let outcome = match valid_hostname(&n.name) {
                Err(e) => DnsOutcome::Error {
                    message: format!("not asked: {e}"),
                },
                Ok(()) => lookup_name(&client, &n.name, opts).await,
            };
            DnsLookup {
                name: n.name.clone(),
                role: n.role,
                outcome,
            }
        }
    });
    let lookups = futures_util::future::join_all(lookups).await;
    Ok(DnsFacts {
        resolver: label,
        lookups,
    })
}

/// The snapshot's `dns` fact: resolve the names of [`names_to_resolve`]; a resolver
/// that cannot be set up makes the fact absent with the reason.
pub async fn collect(
    snapshot: &Snapshot,
    resolver: Option<SocketAddr>,
    opts: &DnsOptions,
) -> Fact<DnsFacts> {
    let names = names_to_resolve(snapshot);
    if names.is_empty() {
        return Fact::not_requested(
            "the endpoint lists no DNS names and the service offers no private DNS name",
        );
    }
    match resolve(resolver, &names, opts).await {
        Ok(f) => Fact::Known(f),
        Err(message) => Fact::Absent(Missing::ApiError {
            operation: "DNS resolver setup".into(),
            message,
        }),
    }
}

/// One question's result, before A and AAAA are combined.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Records {
        addresses: Vec<IpAddr>,
        cname_chain: Vec<String>,
    },
    NxDomain,
    NoData,
    ServFail,
    Timeout,
    Error(String),
}

async fn ask(client: &TokioResolver, name: &Name, rtype: RecordType, opts: &DnsOptions) -> Answer {
    let result = tokio::time::timeout(opts.hard_limit(), client.lookup(name.clone(), rtype)).await;
    let lookup = match result {
        Err(_) => return Answer::Timeout,
        Ok(Err(e)) => return classify_error(&e),
        Ok(Ok(l)) => l,
    };
    let mut addresses = Vec::new();
    let mut cname_chain = Vec::new();
    for record in lookup.answers() {
        match &record.data {
            RData::A(a) => addresses.push(IpAddr::V4(a.0)),
            RData::AAAA(a) => addresses.push(IpAddr::V6(a.0)),
            RData::CNAME(c) => {
                cname_chain.push(c.0.to_ascii().trim_end_matches('.').to_ascii_lowercase())
            }
            _ => {}
        }
    }
    if addresses.is_empty() {
        return Answer::NoData;
    }
    Answer::Records {
        addresses,
        cname_chain,
    }
}

fn classify_error(e: &NetError) -> Answer {
    match e {
        NetError::Timeout => Answer::Timeout,
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            if nr.response_code == ResponseCode::NXDomain {
                Answer::NxDomain
            } else {
                Answer::NoData
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => Answer::ServFail,
        NetError::Dns(DnsError::ResponseCode(code)) => {
            Answer::Error(format!("the resolver answered {code}"))
        }
        other => Answer::Error(other.to_string()),
    }
}

/// A and AAAA for one name, asked together and combined into one outcome: any
/// addresses make an answer; otherwise the most telling failure wins (NXDOMAIN, then a
/// timeout or SERVFAIL, then no data).
async fn lookup_name(client: &TokioResolver, name: &str, opts: &DnsOptions) -> DnsOutcome {
    let started = Instant::now();
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let qname = match Name::from_ascii(&fqdn) {
        Ok(n) => n,
        Err(e) => {
            return DnsOutcome::Error {
                message: format!("not asked: {name:?} is not a DNS name ({e})"),
            }
        }
    };
    let (a, aaaa) = tokio::join!(
        ask(client, &qname, RecordType::A, opts),
        ask(client, &qname, RecordType::AAAA, opts)
    );
    let after_ms = started.elapsed().as_millis() as u64;
    combine(a, aaaa, after_ms)
}

fn combine(a: Answer, aaaa: Answer, after_ms: u64) -> DnsOutcome {
    let mut addresses: Vec<IpAddr> = Vec::new();
    let mut cname_chain: Vec<String> = Vec::new();
    for ans in [&a, &aaaa] {
        if let Answer::Records {
            addresses: ads,
            cname_chain: chain,
        } = ans
        {
            for ip in ads {
                if !addresses.contains(ip) {
                    addresses.push(*ip);
                }
            }
            if cname_chain.is_empty() {
                cname_chain.clone_from(chain);
            }
        }
    }
    if !addresses.is_empty() {
        return DnsOutcome::Answer {
            addresses,
            cname_chain,
        };
    }
    let both = [&a, &aaaa];
    if both.iter().any(|x| matches!(x, Answer::NxDomain)) {
        return DnsOutcome::NxDomain;
    }
    if both.iter().any(|x| matches!(x, Answer::Timeout)) {
        return DnsOutcome::Timeout { after_ms };
    }
    if both.iter().any(|x| matches!(x, Answer::ServFail)) {
        return DnsOutcome::ServFail;
    }
    if let Some(Answer::Error(m)) = both.iter().find(|x| matches!(x, Answer::Error(_))) {
        return DnsOutcome::Error { message: m.clone() };
    }
    DnsOutcome::NoData
}

#[cfg(test)]
mod tests {
    use super::*;
    use pl_checks::model::DnsEntry;

    fn names(s: &Snapshot) -> Vec<(String, DnsNameRole)> {
        names_to_resolve(s)
            .into_iter()
            .map(|n| (n.name, n.role))
            .collect()
    }

    #[test]
    fn names_are_the_private_name_then_regional_then_zonal_without_duplicates() {
        let s = pl_checks::scenarios::base::healthy();
        let got = names(&s);
        let roles: Vec<DnsNameRole> = got.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            roles,
            vec![
                DnsNameRole::PrivateDnsName,
                DnsNameRole::Regional,
                DnsNameRole::Zonal,
                DnsNameRole::Zonal
            ]
        );
        assert_eq!(got[0].0, "payments.internal.example.com");
        assert!(got[1]
            .0
            .starts_with("vpce-0a1b2c3d4e5f6a7b8-abcd1234.vpce-svc-"));
        assert!(got[2].0.contains("-abcd1234-us-east-1a."));
        assert!(got[3].0.contains("-abcd1234-us-east-1b."));
    }

    #[test]
    fn aws_services_ask_their_own_name_and_s3_a_concrete_name_under_its_wildcards() {
        let got = names(&pl_checks::scenarios::awsservice::ssm());
        assert_eq!(
            got[0],
            (
                "ssm.us-east-1.amazonaws.com".into(),
                DnsNameRole::PrivateDnsName
            )
        );
        assert!(
            got[1].0.ends_with(".ssm.us-east-1.vpce.amazonaws.com"),
            "{got:?}"
        );
        assert_eq!(got.len(), 4, "{got:?}");
        // S3: the wildcard entries are asked as bucket.vpce-…, zonal ones recognised as
        // such; private DNS for inbound Resolver endpoints only: the private name is not
        // the VPC's to ask.
        let got = names(&pl_checks::scenarios::awsservice::s3());
        let roles: Vec<DnsNameRole> = got.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            roles,
            vec![
                DnsNameRole::Regional,
                DnsNameRole::Zonal,
                DnsNameRole::Zonal
            ],
            "{got:?}"
        );
        assert!(got[0]
            .0
            .starts_with("bucket.vpce-0a1b2c3d4e5f6a7b8-abcd1234.s3.us-east-1.vpce."));
        for (n, _) in &got {
            assert!(valid_hostname(n).is_ok(), "{n}");
        }
        let mut s = pl_checks::scenarios::awsservice::s3();
        s.consumer
            .endpoint
            .private_dns_only_for_inbound_resolver_endpoint = Some(false);
        assert_eq!(names(&s)[0].1, DnsNameRole::PrivateDnsName);
    }

    #[test]
    fn private_name_from_the_entries_when_the_service_view_is_missing() {
        let mut s = pl_checks::scenarios::base::healthy();
        s.consumer.service = Fact::Absent(Missing::AccessDenied {
            action: "ec2:DescribeVpcEndpointServices".into(),
            message: None,
        });
        let got = names(&s);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[3],
            (
                "payments.internal.example.com".into(),
                DnsNameRole::PrivateDnsName
            )
        );
    }

    #[test]
    fn no_private_name_when_the_service_offers_none_and_private_dns_is_off() {
        let mut s = pl_checks::scenarios::base::healthy();
        if let Fact::Known(v) = &mut s.consumer.service {
            v.private_dns_name = None;
        }
        s.consumer.endpoint.private_dns_enabled = false;
        s.consumer
            .endpoint
            .dns_entries
            .retain(|e| e.dns_name.contains(".vpce.amazonaws.com"));
        let got = names(&s);
        assert!(got.iter().all(|(_, r)| *r != DnsNameRole::PrivateDnsName));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn vpce_names_that_are_not_this_endpoints_zonal_names_are_not_zonal() {
        let mut s = pl_checks::scenarios::base::healthy();
        s.consumer.endpoint.dns_entries.push(DnsEntry {
            dns_name:
                "vpce-0ffffffffffffffff-zz.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com"
                    .into(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        });
        assert_eq!(
            names(&s)
                .iter()
                .filter(|(_, r)| *r == DnsNameRole::Zonal)
                .count(),
            2
        );
    }

    #[test]
    fn host_names_are_validated() {
        assert!(valid_hostname("payments.internal.example.com").is_ok());
        assert!(valid_hostname("payments.internal.example.com.").is_ok());
        assert!(
            valid_hostname("vpce-0a1b-us-east-1a.vpce-svc-0123.us-east-1.vpce.amazonaws.com")
                .is_ok()
        );
        for bad in [
            "",
            "localhost",
            "*.example.com",
            "a..example.com",
            "-a.example.com",
            "a-.example.com",
            "a b.example.com",
            "a\\.example.com",
            "exa_mple.com",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "a.".repeat(130)),
        ] {
            assert!(valid_hostname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_combine_addresses_first_then_the_most_telling_failure() {
        let v4: IpAddr = "10.0.1.25".parse().unwrap();
        let v6: IpAddr = "fd00::25".parse().unwrap();
        let recs = |a: IpAddr, chain: &[&str]| Answer::Records {
            addresses: vec![a],
            cname_chain: chain.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            combine(recs(v4, &["x.vpce.amazonaws.com"]), recs(v6, &[]), 5),
            DnsOutcome::Answer {
                addresses: vec![v4, v6],
                cname_chain: vec!["x.vpce.amazonaws.com".into()]
            }
        );
        assert!(matches!(
            combine(recs(v4, &[]), Answer::Timeout, 5),
            DnsOutcome::Answer { .. }
        ));
        assert_eq!(
            combine(Answer::NxDomain, Answer::Timeout, 5),
            DnsOutcome::NxDomain
        );
        assert_eq!(
            combine(Answer::NoData, Answer::Timeout, 7),
            DnsOutcome::Timeout { after_ms: 7 }
        );
        assert_eq!(
            combine(Answer::ServFail, Answer::NoData, 5),
            DnsOutcome::ServFail
        );
        assert_eq!(
            combine(Answer::NoData, Answer::NoData, 5),
            DnsOutcome::NoData
        );
        assert_eq!(
            combine(Answer::Error("x".into()), Answer::NoData, 5),
            DnsOutcome::Error {
                message: "x".into()
            }
        );
    }

    #[test]
    fn the_resolver_label_names_the_system_name_servers() {
        let cfg = ResolverConfig::from_name_servers(vec![
            NameServerConfig::udp_and_tcp("10.0.0.2".parse().unwrap()),
            NameServerConfig::udp_and_tcp("10.0.0.2".parse().unwrap()),
            NameServerConfig::udp_and_tcp("1.1.1.1".parse().unwrap()),
        ]);
        assert_eq!(resolver_label(None, &cfg), "system (10.0.0.2 1.1.1.1)");
        assert_eq!(
            pl_checks::net::dns::resolver_ip(&resolver_label(None, &cfg)),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            resolver_label(Some("10.0.0.2:53".parse().unwrap()), &cfg),
            "10.0.0.2:53"
        );
    }
}
