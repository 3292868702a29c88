//! DNS collection and the connect probe against real servers on loopback, and end to
//! end through the checks: the facts pl-doctor gathers make `dns-resolution` and
//! `connect-probe` say the right thing. Nothing here leaves 127.0.0.0/8.

#[allow(dead_code)]
#[path = "../src/netprobe/mod.rs"]
mod netprobe;
mod support;

use netprobe::dns::{self, DnsOptions, NameToResolve};
use netprobe::tcp::{self, ProbeOptions, TlsProbe};
use pl_checks::check::{CheckResult, EvalOptions, Status};
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::{DnsNameRole, DnsOutcome, ProbeOutcome, Snapshot, TlsOutcome};
use pl_checks::report::{self, Report};
use pl_checks::scenarios::base::{healthy, ip, PRIVATE_DNS_NAME};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use support::dns_server::{SilentDns, TestDns, Zone};
use support::tcp::{loopback, Accepting, Blackhole, PortGroup, TestPki};

/// Short, so the never-answering resolver costs well under a second.
fn quick() -> DnsOptions {
    DnsOptions {
        timeout: Duration::from_millis(400),
        retries: 0,
    }
}

fn quick_probe() -> ProbeOptions {
    ProbeOptions {
        connect_timeout: Duration::from_millis(400),
        tls: None,
    }
}

fn private(name: &str) -> Vec<NameToResolve> {
    vec![NameToResolve {
        name: name.into(),
        role: DnsNameRole::PrivateDnsName,
    }]
}

async fn resolve_one(server: SocketAddr, name: &str) -> DnsOutcome {
    let facts = dns::resolve(Some(server), &private(name), &quick())
        .await
        .expect("a resolver for a given address");
    assert_eq!(facts.resolver, server.to_string());
    assert_eq!(facts.lookups.len(), 1);
    facts.lookups.into_iter().next().unwrap().outcome
}

fn ips(v: &[&str]) -> Vec<IpAddr> {
    v.iter().map(|s| ip(s)).collect()
}

// ------------------------------------------------------------------ DNS outcomes

#[tokio::test]
async fn a_records_come_back_as_an_answer_without_cnames() {
    let dns =
        TestDns::start(Zone::new().addresses(PRIVATE_DNS_NAME, &["10.0.1.25", "10.0.2.25"])).await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::Answer {
            addresses: ips(&["10.0.1.25", "10.0.2.25"]),
            cname_chain: vec![]
        }
    );
}

#[tokio::test]
async fn a_and_aaaa_are_both_asked() {
    let dns =
        TestDns::start(Zone::new().addresses(PRIVATE_DNS_NAME, &["10.0.1.25", "fd00:ec2::25"]))
            .await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::Answer {
            addresses: ips(&["10.0.1.25", "fd00:ec2::25"]),
            cname_chain: vec![]
        }
    );
}

#[tokio::test]
async fn a_public_answer_is_recorded_as_given() {
    let dns = TestDns::start(Zone::new().addresses(PRIVATE_DNS_NAME, &["52.20.114.37"])).await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::Answer {
            addresses: ips(&["52.20.114.37"]),
            cname_chain: vec![]
        }
    );
}

#[tokio::test]
async fn an_unknown_name_is_nxdomain_and_an_empty_one_is_no_data() {
    let dns = TestDns::start(Zone::new().no_data("empty.internal.example.com")).await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::NxDomain
    );
    assert_eq!(
        resolve_one(dns.addr(), "empty.internal.example.com").await,
        DnsOutcome::NoData
    );
}

#[tokio::test]
async fn a_cname_chain_to_the_vpce_name_is_recorded_hop_by_hop() {
    let regional =
        "vpce-0a1b2c3d4e5f6a7b8-abcd1234.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com";
    let dns = TestDns::start(
        Zone::new()
            .cname(PRIVATE_DNS_NAME, "payments.corp.example.com")
            .cname("payments.corp.example.com", regional)
            .addresses(regional, &["10.0.1.25", "10.0.2.25"]),
    )
    .await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::Answer {
            addresses: ips(&["10.0.1.25", "10.0.2.25"]),
            cname_chain: vec!["payments.corp.example.com".into(), regional.into()]
        }
    );
}

#[tokio::test]
async fn a_partial_answer_keeps_only_what_was_served() {
    let dns = TestDns::start(Zone::new().addresses(PRIVATE_DNS_NAME, &["10.0.1.25"])).await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::Answer {
            addresses: ips(&["10.0.1.25"]),
            cname_chain: vec![]
        }
    );
}

#[tokio::test]
async fn servfail_is_recorded() {
    let dns = TestDns::start(Zone::new().servfail(PRIVATE_DNS_NAME)).await;
    assert_eq!(
        resolve_one(dns.addr(), PRIVATE_DNS_NAME).await,
        DnsOutcome::ServFail
    );
}

#[tokio::test]
async fn a_resolver_that_never_answers_times_out() {
    let silent = SilentDns::start().await;
    match resolve_one(silent.addr(), PRIVATE_DNS_NAME).await {
        DnsOutcome::Timeout { .. } => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_names_are_not_sent() {
    let dns = TestDns::start(Zone::new()).await;
    match resolve_one(dns.addr(), "*.internal.example.com").await {
        DnsOutcome::Error { message } => assert!(message.starts_with("not asked"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn all_names_of_the_snapshot_are_resolved_in_one_go() {
    let s = healthy();
    let names = dns::names_to_resolve(&s);
    let mut zone = Zone::new();
    for n in &names {
        zone = zone.addresses(&n.name, &["10.0.1.25"]);
    }
    let server = TestDns::start(zone).await;
    let Fact::Known(facts) = dns::collect(&s, Some(server.addr()), &quick()).await else {
        panic!("dns facts")
    };
    assert_eq!(facts.lookups.len(), names.len());
    for (l, n) in facts.lookups.iter().zip(&names) {
        assert_eq!((&l.name, l.role), (&n.name, n.role));
        assert!(matches!(l.outcome, DnsOutcome::Answer { .. }), "{l:?}");
    }
}

// ------------------------------------------------------------------ through the checks

/// The zone a healthy private DNS setup serves for the snapshot's names: the private
/// and regional names to every ENI, each zonal name to its AZ's ENI.
fn healthy_zone(s: &Snapshot) -> Zone {
    let enis = s.consumer.endpoint_enis.known().unwrap();
    let all: Vec<String> = enis.iter().map(|e| e.private_ip.to_string()).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut zone = Zone::new();
    for n in dns::names_to_resolve(s) {
        zone = match n.role {
            DnsNameRole::Zonal => {
                let eni = enis
                    .iter()
                    .find(|e| n.name.contains(&format!("-{}.", e.availability_zone)))
                    .expect("a zonal name per ENI");
                zone.addresses(&n.name, &[&eni.private_ip.to_string()])
            }
            _ => zone.addresses(&n.name, &all),
        };
    }
    zone
}

fn run(s: &Snapshot) -> Report {
    report::build(s, &EvalOptions::default(), "2026-11-24T10:00:00Z".into(), 0)
}

fn check<'a>(r: &'a Report, id: &str) -> &'a CheckResult {
    r.checks
        .iter()
        .find(|c| c.id == id)
        .expect("check in report")
}

async fn with_dns_from(mut s: Snapshot, zone: Zone) -> Snapshot {
    let server = TestDns::start(zone).await;
    s.dns = dns::collect(&s, Some(server.addr()), &quick()).await;
    s
}

#[tokio::test]
async fn the_endpoint_enis_served_by_the_resolver_make_dns_resolution_pass() {
    let s = healthy();
    let zone = healthy_zone(&s);
    let s = with_dns_from(s, zone).await;
    let r = run(&s);
    let c = check(&r, "dns-resolution");
    assert_eq!(c.status, Status::Pass, "{}", c.summary);
    assert_eq!(r.root_cause, None);
}

#[tokio::test]
async fn a_missing_az_in_the_answer_warns_naming_it() {
    let s = healthy();
    let zone = healthy_zone(&s).addresses(PRIVATE_DNS_NAME, &["10.0.1.25"]);
    let s = with_dns_from(s, zone).await;
    let c = check(&run(&s), "dns-resolution").clone();
    assert_eq!(c.status, Status::Warn, "{}", c.summary);
    assert!(
        c.summary.contains("missing the ENI in us-east-1b"),
        "{}",
        c.summary
    );
}

#[tokio::test]
async fn a_stale_private_address_fails_with_dns_resolution_as_root_cause() {
    let s = healthy();
    let zone = healthy_zone(&s).addresses(PRIVATE_DNS_NAME, &["10.0.9.9"]);
    let s = with_dns_from(s, zone).await;
    let r = run(&s);
    let c = check(&r, "dns-resolution");
    assert_eq!(c.status, Status::Fail, "{}", c.summary);
    assert!(
        c.summary.contains("not this endpoint's ENIs"),
        "{}",
        c.summary
    );
    assert!(
        c.summary.contains("private DNS is not effective"),
        "{}",
        c.summary
    );
    assert_eq!(r.root_cause.as_deref(), Some("dns-resolution"));
}

#[tokio::test]
async fn a_cname_to_another_endpoint_fails() {
    let s = healthy();
    let other =
        "vpce-0f9e8d7c6b5a49382-k2j3h4g5.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com";
    let zone = healthy_zone(&s)
        .cname(PRIVATE_DNS_NAME, other)
        .addresses(other, &["10.60.1.44", "10.60.2.17"]);
    let s = with_dns_from(s, zone).await;
    let r = run(&s);
    let c = check(&r, "dns-resolution");
    assert_eq!(c.status, Status::Fail, "{}", c.summary);
    assert!(
        c.summary.contains("another endpoint's name"),
        "{}",
        c.summary
    );
    assert_eq!(r.root_cause.as_deref(), Some("dns-resolution"));
}

#[tokio::test]
async fn a_public_answer_with_private_dns_disabled_names_that_as_the_cause() {
    let mut s = healthy();
    let zone = healthy_zone(&s).addresses(PRIVATE_DNS_NAME, &["52.20.114.37"]);
    s.consumer.endpoint.private_dns_enabled = false;
    s.consumer
        .endpoint
        .dns_entries
        .retain(|e| e.dns_name.contains(".vpce.amazonaws.com"));
    let s = with_dns_from(s, zone).await;
    let r = run(&s);
    let c = check(&r, "dns-resolution");
    assert_eq!(c.status, Status::Fail, "{}", c.summary);
    assert!(
        c.summary.contains("public address(es) 52.20.114.37"),
        "{}",
        c.summary
    );
    assert!(
        c.summary
            .contains("likely cause: private-dns-enabled failed"),
        "{}",
        c.summary
    );
    assert_eq!(r.root_cause.as_deref(), Some("private-dns-enabled"));
}

#[tokio::test]
async fn a_public_answer_from_outside_the_vpc_is_unknown_not_blamed_on_the_configuration() {
    // The configuration is right and the regional name resolves to the ENIs, but the
    // resolver asked (loopback here) is not the VPC's: pl-doctor ran elsewhere.
    let s = healthy();
    let zone = healthy_zone(&s).addresses(PRIVATE_DNS_NAME, &["52.20.114.37"]);
    let s = with_dns_from(s, zone).await;
    let c = check(&run(&s), "dns-resolution").clone();
    assert_eq!(c.status, Status::Unknown, "{}", c.summary);
    assert!(
        c.summary.contains("most likely ran outside"),
        "{}",
        c.summary
    );
    assert_eq!(
        c.evidence.get("vantage").and_then(|v| v["where"].as_str()),
        Some("outside_vpc")
    );
}

#[tokio::test]
async fn a_silent_resolver_makes_dns_resolution_unknown_naming_it() {
    let mut s = healthy();
    let silent = SilentDns::start().await;
    s.dns = dns::collect(&s, Some(silent.addr()), &quick()).await;
    let c = check(&run(&s), "dns-resolution").clone();
    assert_eq!(c.status, Status::Unknown, "{}", c.summary);
    assert!(
        c.summary
            .contains(&format!("resolver {} did not answer", silent.addr())),
        "{}",
        c.summary
    );
}

// ------------------------------------------------------------------ the connect probe

/// The healthy snapshot with its two ENIs moved to 127.0.0.11 (us-east-1a) and
/// 127.0.0.12 (us-east-1b). The probe runs on the test's reserved port (given to
/// `tcp::collect`), while the snapshot keeps its service port so the security-group
/// and listener checks still describe a healthy endpoint.
fn loopback_snapshot() -> Snapshot {
    let mut s = healthy();
    if let Fact::Known(enis) = &mut s.consumer.endpoint_enis {
        enis[0].private_ip = loopback(11);
        enis[1].private_ip = loopback(12);
    }
    s
}

async fn probe_snapshot(s: &mut Snapshot, port: u16, given: &[IpAddr], opts: &ProbeOptions) {
    let zone = healthy_zone(s);
    let server = TestDns::start(zone).await;
    s.dns = dns::collect(s, Some(server.addr()), &quick()).await;
    s.probe = tcp::collect(s, &s.dns, given, Some(port), opts).await;
}

fn outcomes(s: &Snapshot) -> Vec<(IpAddr, ProbeOutcome)> {
    let Fact::Known(p) = &s.probe else {
        panic!("probe facts: {:?}", s.probe)
    };
    p.attempts
        .iter()
        .map(|a| (a.address, a.outcome.clone()))
        .collect()
}

#[tokio::test]
async fn accepting_enis_make_connect_probe_pass() {
    let group = PortGroup::reserve().await;
    let _a = Accepting::start(group.at(loopback(11)), None).await;
    let _b = Accepting::start(group.at(loopback(12)), None).await;
    let mut s = loopback_snapshot();
    probe_snapshot(&mut s, group.port(), &[], &quick_probe()).await;
    let got = outcomes(&s);
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|(_, o)| matches!(o, ProbeOutcome::Connected { .. })),
        "{got:?}"
    );
    let r = run(&s);
    let c = check(&r, "connect-probe");
    assert_eq!(c.status, Status::Pass, "{}", c.summary);
    assert_eq!(check(&r, "dns-resolution").status, Status::Pass);
}

#[tokio::test]
async fn a_refusing_eni_fails_connect_probe_naming_its_az() {
    let group = PortGroup::reserve().await;
    let _a = Accepting::start(group.at(loopback(11)), None).await;
    // Nothing listens on 127.0.0.12 at this port: the kernel answers RST.
    let mut s = loopback_snapshot();
    probe_snapshot(&mut s, group.port(), &[], &quick_probe()).await;
    assert_eq!(
        outcomes(&s)[1],
        (loopback(12), ProbeOutcome::Refused),
        "{:?}",
        outcomes(&s)
    );
    let r = run(&s);
    let c = check(&r, "connect-probe");
    assert_eq!(c.status, Status::Fail, "{}", c.summary);
    assert!(
        c.summary.contains("refused via us-east-1b (127.0.0.12)"),
        "{}",
        c.summary
    );
    assert_eq!(r.root_cause.as_deref(), Some("connect-probe"));
}

#[tokio::test]
async fn a_blackholed_eni_times_out_within_the_connect_timeout() {
    let group = PortGroup::reserve().await;
    let _a = Accepting::start(group.at(loopback(11)), None).await;
    let _hole = Blackhole::start(group.at(loopback(12))).await;
    let mut s = loopback_snapshot();
    probe_snapshot(&mut s, group.port(), &[], &quick_probe()).await;
    assert!(
        matches!(outcomes(&s)[1], (a, ProbeOutcome::Timeout { .. }) if a == loopback(12)),
        "{:?}",
        outcomes(&s)
    );
    let c = check(&run(&s), "connect-probe").clone();
    assert_eq!(c.status, Status::Fail, "{}", c.summary);
    assert!(
        c.summary.contains("timed out via us-east-1b"),
        "{}",
        c.summary
    );
}

#[tokio::test]
async fn addresses_that_are_not_the_endpoints_are_never_connected_to() {
    let group = PortGroup::reserve().await;
    // 127.0.0.13 stands for someone else's address that DNS points at.
    let stranger = Accepting::start(group.at(loopback(13)), None).await;
    let mut s = loopback_snapshot();
    let mut zone = Zone::new();
    for n in dns::names_to_resolve(&s) {
        zone = zone.addresses(&n.name, &["127.0.0.13"]);
    }
    let server = TestDns::start(zone).await;
    s.dns = dns::collect(&s, Some(server.addr()), &quick()).await;
    s.probe = tcp::collect(&s, &s.dns, &[], Some(group.port()), &quick_probe()).await;
    assert_eq!(
        s.probe,
        Fact::Absent(Missing::NotRequested {
            hint: tcp::NO_ENI_ANSWER_HINT.into()
        })
    );
    let c = check(&run(&s), "connect-probe").clone();
    assert_eq!(c.status, Status::Skip, "{}", c.summary);
    assert!(c.summary.contains("--probe-target"), "{}", c.summary);
    // Our own connection is accepted after any earlier one: exactly one means the probe made none.
    let _own = tokio::net::TcpStream::connect(group.at(loopback(13)))
        .await
        .unwrap();
    for _ in 0..200 {
        if stranger.accepted() > 0 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(stranger.accepted(), 1);
}

#[tokio::test]
async fn probe_targets_given_by_the_user_are_probed() {
    let group = PortGroup::reserve().await;
    let _c = Accepting::start(group.at(loopback(13)), None).await;
    let mut s = loopback_snapshot();
    probe_snapshot(&mut s, group.port(), &[loopback(13)], &quick_probe()).await;
    let got = outcomes(&s);
    assert_eq!(got.len(), 1);
    assert!(
        matches!(got[0], (a, ProbeOutcome::Connected { .. }) if a == loopback(13)),
        "{got:?}"
    );
}

// ------------------------------------------------------------------ --probe-tls

async fn tls_outcome(server_names: &[&str], tls_server: bool) -> TlsOutcome {
    let group = PortGroup::reserve().await;
    let pki = TestPki::new(server_names);
    let _a = Accepting::start(
        group.at(loopback(11)),
        tls_server.then(|| pki.server.clone()),
    )
    .await;
    let _b = Accepting::start(
        group.at(loopback(12)),
        tls_server.then(|| pki.server.clone()),
    )
    .await;
    let mut s = loopback_snapshot();
    let sni = tcp::tls_server_name(&s).expect("the private DNS name");
    let opts = ProbeOptions {
        connect_timeout: Duration::from_millis(2000),
        tls: Some(TlsProbe::new(&sni, pki.roots.clone()).unwrap()),
    };
    probe_snapshot(&mut s, group.port(), &[], &opts).await;
    let Fact::Known(p) = &s.probe else { panic!() };
    assert!(matches!(
        p.attempts[0].outcome,
        ProbeOutcome::Connected { .. }
    ));
    let tls = p.attempts[0]
        .tls
        .clone()
        .expect("a TLS outcome after a connect");
    // TCP worked: a TLS problem warns (the service's certificate or listener), never fails the path.
    let expected = if matches!(tls, TlsOutcome::Established { .. }) {
        Status::Pass
    } else {
        Status::Warn
    };
    let c = check(&run(&s), "connect-probe").clone();
    assert_eq!(c.status, expected, "{}", c.summary);
    tls
}

#[tokio::test]
async fn tls_handshake_with_the_private_name_as_sni_is_established() {
    match tls_outcome(&[PRIVATE_DNS_NAME], true).await {
        TlsOutcome::Established {
            server_name,
            protocol,
            ..
        } => {
            assert_eq!(server_name, PRIVATE_DNS_NAME);
            assert_eq!(protocol.as_deref(), Some("TLSv1_3"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_the_handshake() {
    match tls_outcome(&["other.example.com"], true).await {
        TlsOutcome::Failed { message, .. } => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_plain_tcp_service_fails_the_handshake() {
    assert!(matches!(
        tls_outcome(&[PRIVATE_DNS_NAME], false).await,
        TlsOutcome::Failed { .. }
    ));
}
