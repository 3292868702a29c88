//! The provider's side of the path: the NLB, its listeners and targets, AZ coverage,
//! and what pl-doctor can say without provider access (seed Step 1, Runbook 2 and 4).

use super::base::{self, healthy, ip, subnet, target};
use super::Scenario;
use crate::check::Status::{Fail, Skip, Unknown, Warn};
use crate::fact::Fact;
use crate::model::*;

fn metric(s: &mut Snapshot, name: &str, value: f64) {
    let Fact::Known(metrics) = &mut s.observability.metrics else {
        unreachable!()
    };
    for m in metrics.iter_mut().filter(|m| m.metric_name == name) {
        m.points.iter_mut().for_each(|p| p.1 = value);
    }
}

fn lb(s: &mut Snapshot) -> &mut LoadBalancer {
    let Fact::Known(lbs) = &mut s.provider.load_balancers else {
        unreachable!()
    };
    &mut lbs[0]
}

fn targets(s: &mut Snapshot) -> &mut Vec<TargetHealthFact> {
    let Fact::Known(tgs) = &mut s.provider.target_groups else {
        unreachable!()
    };
    let Fact::Known(t) = &mut tgs[0].targets else {
        unreachable!()
    };
    t
}

fn probe(s: &mut Snapshot) -> &mut ProbeFacts {
    let Fact::Known(p) = &mut s.probe else {
        unreachable!()
    };
    p
}

/// The consumer's app config says 9443 and the consumer opened 9443 everywhere on its
/// side; the provider's NLB only listens on 8443.
fn no_listener_on_port() -> Snapshot {
    let mut s = healthy();
    s.inputs.ports = vec![9443];
    let Fact::Known(sgs) = &mut s.consumer.security_groups else {
        unreachable!()
    };
    for g in sgs.iter_mut() {
        for r in g.ingress.iter_mut().chain(g.egress.iter_mut()) {
            if r.port_range
                == Some(PortRange {
                    from: base::PORT,
                    to: base::PORT,
                })
            {
                r.port_range = Some(PortRange {
                    from: 9443,
                    to: 9443,
                });
            }
        }
    }
    let p = probe(&mut s);
    p.port = 9443;
    for a in &mut p.attempts {
        a.outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    }
    s
}

/// Recreated from a module whose `internal` defaulted to false, and swapped into the service.
fn internet_facing_nlb() -> Snapshot {
    let mut s = healthy();
    lb(&mut s).scheme = "internet-facing".into();
    s
}

/// A deploy moved the service to port 8080; both targets fail the TCP health check on 8443.
/// With every target unhealthy the NLB fails open, the targets reset, and the client sees refusals.
fn all_targets_unhealthy() -> Snapshot {
    let mut s = healthy();
    for t in targets(&mut s).iter_mut() {
        t.state = "unhealthy".into();
        t.reason = Some("Target.FailedHealthChecks".into());
        t.description = Some("Health checks failed".into());
    }
    metric(&mut s, "HealthyHostCount", 0.0);
    metric(&mut s, "UnHealthyHostCount", 2.0);
    metric(&mut s, "TCP_Target_Reset_Count", 45.0);
    metric(&mut s, "ActiveFlowCount", 0.0);
    metric(&mut s, "RstPacketsReceived", 40.0);
    metric(&mut s, "ActiveConnections", 0.0);
    for a in &mut probe(&mut s).attempts {
        a.outcome = ProbeOutcome::Refused;
    }
    s
}

/// Cross-zone off; the target in use1-az1 (provider us-east-1b, consumer us-east-1a) died,
/// so the consumer's us-east-1a ENI has nothing behind it while us-east-1b works.
fn cross_zone_off_healthy_one_az() -> Snapshot {
    let mut s = healthy();
    let l = lb(&mut s);
    let Fact::Known(attrs) = &mut l.attributes else {
        unreachable!()
    };
    attrs.cross_zone_enabled = false;
    attrs
        .raw
        .insert("load_balancing.cross_zone.enabled".into(), "false".into());
    let t = &mut targets(&mut s)[1];
    assert_eq!(t.availability_zone.as_deref(), Some("us-east-1b"));
    t.state = "unhealthy".into();
    t.reason = Some("Target.FailedHealthChecks".into());
    t.description = Some("Health checks failed".into());
    metric(&mut s, "HealthyHostCount", 1.0);
    metric(&mut s, "UnHealthyHostCount", 1.0);
    // The ENI in the consumer's us-east-1a (use1-az1) reaches only the dead target.
    probe(&mut s).attempts[0].outcome = ProbeOutcome::Timeout { after_ms: 3000 };
    s
}

/// Both accounts have a us-east-1c: use1-az4 for the consumer, use1-az6 for the provider.
/// The provider re-homed its third NLB subnet from its us-east-1d (use1-az4) to its
/// us-east-1c (use1-az6) to "match" the consumer, leaving the consumer's third ENI
/// with no NLB behind it.
fn az_id_not_published() -> Snapshot {
    let mut s = healthy();
    let eni_c = "eni-0c1c2c3c4c5c6c7c8";
    let sub_c = "subnet-0a1b2c3d4e5f60004";
    let eni_ip = ip("10.0.4.25");
    let zonal_c = format!(
        "{}-abcd1234-us-east-1c.{}.{}.vpce.amazonaws.com",
        base::ENDPOINT_ID,
        base::SERVICE_ID,
        base::REGION
    );
    let c = &mut s.consumer;
    c.endpoint.subnet_ids.push(sub_c.into());
    c.endpoint.network_interface_ids.push(eni_c.into());
    c.endpoint.dns_entries.insert(
        3,
        DnsEntry {
            dns_name: zonal_c.clone(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        },
    );
    let Fact::Known(enis) = &mut c.endpoint_enis else {
        unreachable!()
    };
    enis.push(NetworkInterface {
        id: eni_c.into(),
        subnet_id: sub_c.into(),
        availability_zone: "us-east-1c".into(),
        private_ip: eni_ip,
        ipv6_addresses: vec![],
        security_group_ids: vec![base::ENDPOINT_SG.into()],
    });
    let Fact::Known(subs) = &mut c.subnets else {
        unreachable!()
    };
    subs.push(subnet(
        sub_c,
        base::CONSUMER_VPC,
        "10.0.4.0/24",
        "us-east-1c",
        "use1-az4",
    ));
    let Fact::Known(nacls) = &mut c.network_acls else {
        unreachable!()
    };
    nacls[0].subnet_ids.push(sub_c.into());
    // Consumer's names for the published use1-az2, use1-az1, use1-az6.
    let Fact::Known(view) = &mut c.service else {
        unreachable!()
    };
    view.availability_zones = vec![
        "us-east-1a".into(),
        "us-east-1b".into(),
        "us-east-1d".into(),
    ];

    let p = &mut s.provider;
    let Fact::Known(cfg) = &mut p.service_configuration else {
        unreachable!()
    };
    cfg.availability_zones.push("us-east-1c".into());
    let Fact::Known(psubs) = &mut p.subnets else {
        unreachable!()
    };
    psubs.push(subnet(
        "subnet-0f0e0d0c0b0a00003",
        base::PROVIDER_VPC,
        "10.1.3.0/24",
        "us-east-1c",
        "use1-az6",
    ));
    lb(&mut s).availability_zones.push(LbZone {
        zone_name: "us-east-1c".into(),
        subnet_id: "subnet-0f0e0d0c0b0a00003".into(),
        private_ipv4_addresses: vec![ip("10.1.3.10")],
    });
    targets(&mut s).push(target("10.1.3.100", "us-east-1c", "healthy", None));
    metric(&mut s, "HealthyHostCount", 3.0);

    let Fact::Known(dns) = &mut s.dns else {
        unreachable!()
    };
    for l in dns.lookups.iter_mut() {
        if let DnsOutcome::Answer { addresses, .. } = &mut l.outcome {
            if l.role != DnsNameRole::Zonal {
                addresses.push(eni_ip);
            }
        }
    }
    dns.lookups.push(DnsLookup {
        name: zonal_c,
        role: DnsNameRole::Zonal,
        outcome: DnsOutcome::Answer {
            addresses: vec![eni_ip],
            cname_chain: vec![],
        },
    });
    probe(&mut s).attempts.push(ProbeAttempt {
        address: eni_ip,
        availability_zone: Some("us-east-1c".into()),
        outcome: ProbeOutcome::Timeout { after_ms: 3000 },
        tls: None,
    });
    let Fact::Known(rej) = &mut s.observability.flow_log_rejects else {
        unreachable!()
    };
    rej.query = rej.query.replace(
        "\"eni-0b1b2b3b4b5b6b7b8\"]",
        &format!("\"eni-0b1b2b3b4b5b6b7b8\", \"{eni_c}\"]"),
    );
    s
}

/// An on-call engineer in the consumer account with no provider credentials, who knows
/// the service port.
fn provider_not_visible() -> Snapshot {
    let mut s = healthy();
    s.inputs.ports = vec![base::PORT];
    without_provider_access(&mut s);
    let Fact::Known(metrics) = &mut s.observability.metrics else {
        unreachable!()
    };
    metrics.retain(|m| m.namespace == "AWS/PrivateLinkEndpoints");
    s
}

/// Every provider fact not visible (no provider credentials for account 111111111111).
pub fn without_provider_access(s: &mut Snapshot) {
    let acct = Some(base::PROVIDER_ACCOUNT);
    let p = &mut s.provider;
    p.identity = Fact::needs_provider(acct);
    p.service_configuration = Fact::needs_provider(acct);
    p.allowed_principals = Fact::needs_provider(acct);
    p.connections = Fact::needs_provider(acct);
    p.az_map = Fact::needs_provider(acct);
    p.load_balancers = Fact::needs_provider(acct);
    p.target_groups = Fact::needs_provider(acct);
    p.subnets = Fact::needs_provider(acct);
    p.security_groups = Fact::needs_provider(acct);
    p.prefix_lists = Fact::needs_provider(acct);
    p.connection_notifications = Fact::needs_provider(acct);
    p.alb_target_groups = Fact::needs_provider(acct);
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "no-listener-on-port",
            "The consumer uses port 9443 (and opened it on its security groups); the provider's NLB only listens on 8443.",
            no_listener_on_port(),
            Some("nlb-listener"),
            &[
                ("nlb-listener", Fail),
                // Nothing listens on 9443: the NLB and target security groups have nothing to filter.
                ("nlb-security-group", Skip),
                ("target-health", Skip),
                ("target-sg-ingress", Skip),
                ("cross-zone", Skip),
                // reconcile: a port without a listener behind the endpoint ENI times out (could be refused).
                ("connect-probe", Fail),
            ],
        ),
        Scenario::new(
            "internet-facing-nlb",
            "The service's NLB was recreated internet-facing (a module defaulted `internal` to false) and swapped into the service; the seed requires an internal NLB.",
            internet_facing_nlb(),
            Some("nlb-listener"),
            &[("nlb-listener", Fail)],
        ),
        Scenario::new(
            "all-targets-unhealthy",
            "A deploy moved the service to another port: both targets fail health checks on 8443 (Target.FailedHealthChecks), the NLB fails open and the targets refuse.",
            all_targets_unhealthy(),
            Some("target-health"),
            &[
                ("target-health", Fail),
                ("cross-zone", Skip),
                // Resets from unhealthy targets are target-health's finding, not an idle-timeout pattern.
                ("idle-timeout-resets", Skip),
                // The fail-open NLB forwards the targets' RSTs: the probe is refused.
                ("connect-probe", Fail),
            ],
        ),
        Scenario::new(
            "cross-zone-off-healthy-one-az",
            "Cross-zone load balancing is off and the only healthy target is in use1-az2: the endpoint ENI in use1-az1 (consumer us-east-1a) has nothing behind it, the one in use1-az2 works.",
            cross_zone_off_healthy_one_az(),
            Some("cross-zone"),
            &[
                ("target-health", Warn),
                ("cross-zone", Fail),
                // reconcile: one ENI times out, the other connects.
                ("connect-probe", Fail),
            ],
        ),
        Scenario::new(
            "az-id-not-published",
            "The endpoint's third subnet is the consumer's us-east-1c (use1-az4); the provider publishes its own us-east-1c, which is use1-az6: same name, different zone, and no NLB behind that ENI.",
            az_id_not_published(),
            Some("az-alignment"),
            &[
                ("az-alignment", Fail),
                // reconcile: the ENI in use1-az4 times out, the other two connect.
                ("connect-probe", Fail),
            ],
        ),
        Scenario::new(
            "provider-not-visible",
            "No provider credentials: every provider fact is not visible (account 111111111111); the consumer side is fully checked and the provider side is unknown.",
            provider_not_visible(),
            None,
            &[
                ("allowed-principals", Unknown),
                // connection-acceptance passes from the consumer's side: an available endpoint means accepted.
                ("nlb-listener", Unknown),
                ("nlb-security-group", Unknown),
                ("target-health", Unknown),
                ("target-sg-ingress", Unknown),
                // private-dns-verification reads the consumer's view of the service (verified) and passes;
                // idle-timeout-resets judges the consumer's AWS/PrivateLinkEndpoints resets alone.
                ("cross-zone", Unknown),
                // PortAllocationErrorCount is an NLB metric: provider side.
                ("nlb-capacity", Unknown),
            ],
        ),
    ]
}
