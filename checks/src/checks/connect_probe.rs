//! Verify 5: a TCP connection to the endpoint succeeds from where pl-doctor runs.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::fact::{Fact, Missing};
use crate::model::{ProbeAttempt, ProbeOutcome, TlsOutcome};

pub static META: CheckMeta = CheckMeta {
    id: "connect-probe",
    title: "TCP connect to the endpoint succeeds",
    source: "seed: Verify 5, Troubleshooting runbook 2",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "probe.port",
        "probe.attempts",
        "probe.attempts.tls",
        "consumer.endpoint_enis",
        "provider.target_groups.health_check",
    ],
    consumer_actions: &["ec2:DescribeVpcEndpoints", "ec2:DescribeNetworkInterfaces"],
    provider_actions: &["elasticloadbalancing:DescribeTargetGroups"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-customer-owned-services.html",
    doc: CheckDoc {
        what_it_checks: "The TCP connects pl-doctor made to the endpoint (each ENI address, per AZ) on the service \
port. Every attempt connected: pass, with connect times per AZ (with `--probe-tls`, a TLS handshake that failed after \
the connect makes it warn). Any attempt refused or timed out: fail, naming \
the AZs, even when other AZs connected, because the clients that DNS or their AZ sends to the broken ENI fail \
every time. Attempts that only failed locally (an error on the probing host): warn when others connected, \
unknown when none did. Skipped when the probe was not requested or endpoint-state failed; unknown when it \
could not run.",
        why_it_matters: "Configuration checks reason about the path; the probe walks it. A refusal means something \
answered with RST: the NLB has no listener on that port, or a target refuses it (a target can pass health checks \
on another port while the service port is down). A timeout means packets were dropped silently: a security group \
or network ACL, an endpoint still pendingAcceptance, or an AZ whose targets are all unhealthy with cross-zone off.",
        how_to_fix: "Refused: check nlb-listener (a listener on the port) and target-health; on the target, \
`ss -ltn 'sport = :<port>'` shows whether the service listens; align the health check with the traffic port \
(`aws elbv2 modify-target-group --target-group-arn <arn> --health-check-port traffic-port`). Timed out: \
endpoint-sg-ingress, client-sg-egress, subnet-nacl, connection-acceptance, cross-zone. Re-probe with \
`nc -vz <ENI IP> <port>` from a client instance.",
    },
};

fn az(a: &ProbeAttempt) -> String {
    a.availability_zone
        .clone()
        .unwrap_or_else(|| a.address.to_string())
}

fn line(a: &ProbeAttempt) -> String {
    let what = match &a.outcome {
        ProbeOutcome::Connected { millis } => format!("connected in {millis} ms"),
        ProbeOutcome::Refused => "refused (RST)".into(),
        ProbeOutcome::Timeout { after_ms } => format!("timed out after {after_ms} ms"),
        ProbeOutcome::Error { message } => format!("error: {message}"),
    };
    let tls = match &a.tls {
        None => String::new(),
        Some(TlsOutcome::Established {
            server_name,
            millis,
            protocol,
        }) => format!(
            "; TLS with {server_name} established in {millis} ms{}",
            protocol
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ),
        Some(TlsOutcome::Failed {
            server_name,
            message,
        }) => format!("; TLS with {server_name} failed: {message}"),
        Some(TlsOutcome::Timeout {
            server_name,
            after_ms,
        }) => format!("; TLS with {server_name} got no answer within {after_ms} ms"),
    };
    format!("{} ({}): {what}{tls}", a.address, az(a))
}

/// Connected attempts whose `--probe-tls` handshake did not complete.
fn tls_failed(a: &ProbeAttempt) -> bool {
    matches!(
        a.tls,
        Some(TlsOutcome::Failed { .. } | TlsOutcome::Timeout { .. })
    )
}

/// Health checks on another port than the traffic port let a target look healthy
/// while the service port refuses.
fn health_check_elsewhere(ctx: &Context, port: u16) -> Vec<String> {
    let Some(tgs) = ctx.snapshot.provider.target_groups.known() else {
        return vec![];
    };
    tgs.iter()
        .filter(|tg| tg.port == port || tg.targets.known().is_some_and(|t| t.iter().any(|x| x.port == port)))
        .filter(|tg| tg.health_check.port != "traffic-port" && tg.health_check.port != port.to_string())
        .map(|tg| {
            format!(
                "{} health-checks port {} while traffic goes to {port}: its targets can be healthy while {port} refuses",
                tg.name, tg.health_check.port
            )
        })
        .collect()
}

/// With cross-zone off an ENI reaches only the targets in its own AZ ID, whose *name*
/// differs between the accounts: name them, so the provider knows where to look.
fn targets_behind(ctx: &Context, a: &ProbeAttempt) -> Option<String> {
    let s = ctx.snapshot;
    let eni = s
        .consumer
        .endpoint_enis
        .known()?
        .iter()
        .find(|e| e.private_ip == a.address)?;
    let az_id = s
        .consumer
        .subnets
        .known()?
        .iter()
        .find(|sn| sn.id == eni.subnet_id)?
        .availability_zone_id
        .clone();
    let provider_az = s
        .provider
        .az_map
        .known()?
        .iter()
        .find(|m| m.id == az_id)?
        .name
        .clone();
    let targets: Vec<String> = s
        .provider
        .target_groups
        .known()?
        .iter()
        .filter_map(|tg| tg.targets.known())
        .flatten()
        .filter(|t| t.availability_zone.as_deref() == Some(provider_az.as_str()))
        .map(|t| format!("{} ({})", t.id, t.state))
        .collect();
    Some(format!(
        "{} ({}) is AZ ID {az_id}, the provider's {provider_az}; targets there: {}",
        eni.availability_zone,
        a.address,
        if targets.is_empty() {
            "none".to_owned()
        } else {
            targets.join(", ")
        }
    ))
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    if let Some(p) = ctx.failed_prerequisite(&["endpoint-state"]) {
        return Outcome::skip(format!("prerequisite endpoint-state failed: {}", p.summary));
    }
    let probe = match &s.probe {
        Fact::Known(p) => p,
        Fact::Absent(Missing::NotRequested { hint }) => {
            return Outcome::skip(format!("the TCP probe was not run: {hint}"))
        }
        Fact::Absent(m) => return Outcome::missing("the TCP probe", m),
    };
    if probe.attempts.is_empty() {
        return Outcome::unknown(format!(
            "the probe made no connection attempts on port {}",
            probe.port
        ));
    }
    let per_az: Vec<_> = probe
        .attempts
        .iter()
        .map(|a| serde_json::json!({"address": a.address, "availability_zone": a.availability_zone, "outcome": a.outcome}))
        .collect();
    let lines: Vec<String> = probe.attempts.iter().map(line).collect();
    let base = |o: Outcome| {
        o.evidence("port", probe.port)
            .evidence("attempts", &per_az)
            .details(lines.clone())
    };
    let connected: Vec<&ProbeAttempt> = probe
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, ProbeOutcome::Connected { .. }))
        .collect();
    let refused: Vec<&ProbeAttempt> = probe
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, ProbeOutcome::Refused))
        .collect();
    let timed_out: Vec<&ProbeAttempt> = probe
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, ProbeOutcome::Timeout { .. }))
        .collect();
    let names = |v: &[&ProbeAttempt]| {
        v.iter()
            .map(|a| format!("{} ({})", az(a), a.address))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let works = if connected.is_empty() {
        String::new()
    } else {
        format!("; connects via {}", names(&connected))
    };
    if connected.len() == probe.attempts.len() {
        let times: Vec<String> = probe
            .attempts
            .iter()
            .map(|a| match a.outcome {
                ProbeOutcome::Connected { millis } => format!("{} {millis} ms", az(a)),
                _ => unreachable!(),
            })
            .collect();
        let tls_broken: Vec<&ProbeAttempt> =
            probe.attempts.iter().filter(|a| tls_failed(a)).collect();
        if !tls_broken.is_empty() {
            // TCP works, so the path is fine; TLS failing is the service's certificate
            // or TLS listener, which clients see as a handshake error.
            return base(Outcome::warn(format!(
                "TCP {} connects through every ENI, but the TLS handshake failed via {}",
                probe.port,
                names(&tls_broken)
            )))
            .remediation(format!(
                "Check the certificate the service presents for the private DNS name (its names and issuer) and that the port speaks TLS: openssl s_client -connect {}:{} -servername <private DNS name>. A certificate from a private CA needs that CA in the client's trust store.",
                tls_broken[0].address, probe.port
            ));
        }
        return base(Outcome::pass(format!(
            "TCP {} connects through every ENI ({})",
            probe.port,
            times.join(", ")
        )));
    }
    let outside = ctx
        .prior("dns-resolution")
        .is_some_and(|r| r.evidence.get("vantage").and_then(|v| v.as_str()) == Some("outside_vpc"));
    if outside && connected.is_empty() && refused.is_empty() {
        return base(Outcome::unknown(format!(
            "TCP {} timed out on every ENI, but pl-doctor appears to run outside {} (see dns-resolution): the ENI addresses are not reachable from here",
            probe.port, s.consumer.endpoint.vpc_id
        )))
        .detail("Run pl-doctor from an instance in the consumer VPC to probe the path clients use.");
    }
    if !refused.is_empty() {
        let out = base(Outcome::fail(format!(
            "TCP {} refused via {}{works}: something answers with RST (no NLB listener on the port, or a target refusing it)",
            probe.port,
            names(&refused)
        )));
        let health_checks = health_check_elsewhere(ctx, probe.port);
        let hc_elsewhere = !health_checks.is_empty();
        let mut elsewhere: Vec<String> = refused
            .iter()
            .filter_map(|a| targets_behind(ctx, a))
            .collect();
        elsewhere.extend(health_checks);
        let mut remediation = format!(
            "Check nlb-listener for a listener on port {p} and target-health for the targets serving {}; on each target behind that AZ confirm the service listens (ss -ltn 'sport = :{p}') and restart it if not.",
            names(&refused),
            p = probe.port
        );
        if hc_elsewhere {
            let arns: Vec<String> = ctx
                .snapshot
                .provider
                .target_groups
                .known()
                .into_iter()
                .flatten()
                .filter(|tg| {
                    tg.health_check.port != "traffic-port"
                        && tg.health_check.port != probe.port.to_string()
                })
                .map(|tg| tg.arn.clone())
                .collect();
            for arn in arns {
                remediation.push_str(&format!(
                    " Health-check the traffic port so a dead service port marks the target unhealthy: aws elbv2 modify-target-group --target-group-arn {arn} --health-check-port traffic-port (Terraform: health_check {{ port = \"traffic-port\" }} on aws_lb_target_group)."
                ));
            }
        }
        return out.details(elsewhere).remediation(remediation);
    }
    if !timed_out.is_empty() {
        return base(Outcome::fail(format!(
            "TCP {} timed out via {}{works}: packets are dropped silently",
            probe.port,
            names(&timed_out)
        )))
        .remediation(format!(
            "Look at the checks above for the drop: endpoint-sg-ingress and client-sg-egress (port {p} to the ENIs {}), subnet-nacl, connection-acceptance (a pendingAcceptance connection drops traffic), target-health and cross-zone (an AZ with no healthy targets and cross-zone off). Re-test from a client with nc -vz {} {p}.",
            names(&timed_out),
            timed_out[0].address,
            p = probe.port
        ));
    }
    if connected.is_empty() {
        return base(Outcome::unknown(format!(
            "the probe could not run from this host: {}",
            lines.join("; ")
        )));
    }
    let errored: Vec<&ProbeAttempt> = probe
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, ProbeOutcome::Error { .. }))
        .collect();
    base(Outcome::warn(format!(
        "TCP {} connects via {} but the probe failed locally via {}",
        probe.port,
        names(&connected),
        names(&errored)
    )))
    .remediation(format!(
        "Re-probe from a client instance: nc -vz {} {}",
        errored[0].address, probe.port
    ))
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{CheckResult, EvalOptions, Status};
    use crate::model::Snapshot;
    use crate::scenarios::base::healthy;

    fn run_with(s: &Snapshot, prior: &[CheckResult]) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), prior))
    }

    fn set(s: &mut Snapshot, i: usize, o: ProbeOutcome) {
        if let Fact::Known(p) = &mut s.probe {
            p.attempts[i].outcome = o;
        }
    }

    fn prior(id: &str, status: Status, evidence: &[(&str, &str)]) -> CheckResult {
        CheckResult {
            id: id.into(),
            step: 0,
            title: String::new(),
            status,
            summary: "x".into(),
            details: vec![],
            evidence: evidence
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
                .collect(),
            remediation: None,
            fingerprint: None,
            changes: None,
        }
    }

    #[test]
    fn all_connected_passes_with_times_per_az() {
        let o = run_with(&healthy(), &[]);
        assert_eq!(o.status, Status::Pass);
        assert!(o.summary.contains("us-east-1a 2 ms"));
    }

    #[test]
    fn one_az_refused_fails_naming_it_and_the_working_one() {
        let mut s = healthy();
        set(&mut s, 0, ProbeOutcome::Refused);
        let o = run_with(&s, &[]);
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("refused via us-east-1a (10.0.1.25)"));
        assert!(o.summary.contains("connects via us-east-1b"));
        assert!(!o.remediation.unwrap().contains("--health-check-port"));
        // Consumer us-east-1a is use1-az1, which the provider calls us-east-1b.
        assert!(
            o.details.iter().any(|d| d.contains(
                "AZ ID use1-az1, the provider's us-east-1b; targets there: 10.1.2.100 (healthy)"
            )),
            "{:?}",
            o.details
        );
    }

    #[test]
    fn timeouts_fail_pointing_at_filters() {
        let mut s = healthy();
        set(&mut s, 0, ProbeOutcome::Timeout { after_ms: 3000 });
        set(&mut s, 1, ProbeOutcome::Timeout { after_ms: 3000 });
        let o = run_with(&s, &[]);
        assert_eq!(o.status, Status::Fail);
        assert!(o.remediation.unwrap().contains("endpoint-sg-ingress"));
    }

    #[test]
    fn timeouts_from_outside_the_vpc_are_unknown() {
        let mut s = healthy();
        set(&mut s, 0, ProbeOutcome::Timeout { after_ms: 3000 });
        set(&mut s, 1, ProbeOutcome::Timeout { after_ms: 3000 });
        let p = [prior(
            "dns-resolution",
            Status::Unknown,
            &[("vantage", "outside_vpc")],
        )];
        assert_eq!(run_with(&s, &p).status, Status::Unknown);
    }

    #[test]
    fn local_errors_warn_or_are_unknown() {
        let mut s = healthy();
        set(
            &mut s,
            1,
            ProbeOutcome::Error {
                message: "network unreachable".into(),
            },
        );
        assert_eq!(run_with(&s, &[]).status, Status::Warn);
        set(
            &mut s,
            0,
            ProbeOutcome::Error {
                message: "network unreachable".into(),
            },
        );
        assert_eq!(run_with(&s, &[]).status, Status::Unknown);
    }

    #[test]
    fn not_requested_skips_and_failed_endpoint_state_skips() {
        let mut s = healthy();
        s.probe = Fact::not_requested("--no-probe was given");
        assert_eq!(run_with(&s, &[]).status, Status::Skip);
        let s = healthy();
        let p = [prior("endpoint-state", Status::Fail, &[])];
        assert!(run_with(&s, &p)
            .summary
            .starts_with("prerequisite endpoint-state failed"));
    }

    #[test]
    fn a_failed_tls_handshake_after_connecting_warns() {
        let mut s = healthy();
        if let Fact::Known(p) = &mut s.probe {
            p.attempts[0].tls = Some(TlsOutcome::Established {
                server_name: "payments.internal.example.com".into(),
                millis: 4,
                protocol: Some("TLSv1_3".into()),
            });
            p.attempts[1].tls = Some(TlsOutcome::Failed {
                server_name: "payments.internal.example.com".into(),
                message: "invalid peer certificate: NotValidForName".into(),
            });
        }
        let o = run_with(&s, &[]);
        assert_eq!(o.status, Status::Warn);
        assert!(o
            .summary
            .contains("TLS handshake failed via us-east-1b (10.0.2.25)"));
        assert!(o
            .details
            .iter()
            .any(|d| d
                .contains("TLS with payments.internal.example.com established in 4 ms (TLSv1_3)")));
        assert!(o.details.iter().any(|d| d.contains("NotValidForName")));
    }

    #[test]
    fn health_check_on_another_port_is_called_out() {
        let mut s = healthy();
        if let Fact::Known(t) = &mut s.provider.target_groups {
            t[0].health_check.port = "8080".into();
        }
        set(&mut s, 0, ProbeOutcome::Refused);
        let o = run_with(&s, &[]);
        assert!(o
            .details
            .iter()
            .any(|d| d.contains("health-checks port 8080")));
        assert!(o
            .remediation
            .unwrap()
            .contains("--health-check-port traffic-port"));
    }
}
