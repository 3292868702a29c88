//! Runbook 2 (second half): "a dead target group looks like a network problem from
//! the client". Every target group behind the ports under test has healthy targets,
//! reported per AZ ID with AWS's own reason codes.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::model::{eq_wire, LoadBalancer, TargetGroup, TargetHealthFact};
use crate::net::az::{health_by_zone, target_zone, AzMap, TargetZone};
use crate::net::nlb::{path_behind_ports, PathBehindPorts};
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "target-health",
    title: "Targets behind the port are healthy",
    source: "seed: Troubleshooting runbook 2 (\"confirm targets are healthy\"), Observability (HealthyHostCount/UnHealthyHostCount)",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.service_configuration.network_load_balancer_arns",
        "provider.load_balancers[].listeners",
        "provider.target_groups[].targets",
        "provider.target_groups[].health_check",
        "provider.target_groups[].proxy_protocol_v2",
        "provider.target_groups[].target_type",
        "provider.az_map",
        "provider.subnets",
        "consumer.az_map",
        "inputs.ports",
    ],
    consumer_actions: &["ec2:DescribeAvailabilityZones"],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeSubnets",
    ],
    docs_url: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html",
    doc: CheckDoc {
        what_it_checks: "For every target group that a listener on the ports under test forwards to: \
DescribeTargetHealth for each target, grouped by AZ ID (names translated in the provider account), with the \
reason code AWS gives for each target that is not healthy (Elb.RegistrationInProgress, Elb.InitialHealthChecking, \
Target.FailedHealthChecks, Target.Timeout, Target.ResponseCodeMismatch, Target.NotRegistered, Target.NotInUse, \
Target.DeregistrationInProgress, Target.InvalidState, Target.IpUnusable, Target.HealthCheckDisabled, \
Elb.InternalError). Fails when a target group has no targets or no healthy target; warns when some targets are \
not healthy. Names the likely cause: a target group with proxy_protocol_v2.enabled whose targets fail health \
checks (the PPv2 header goes to health checks too); `alb`-type targets, whose health is the HTTP(S) check through \
the ALB and which the NLB's HealthyHostCount does not count. Skipped when nlb-listener failed and no listener on \
the ports forwards to a target group.",
        why_it_matters: "The endpoint ENI, the NLB and every security group can be right and the client still \
gets resets or hangs because nothing healthy stands behind the listener. When every target is unhealthy the NLB \
fails open and sends traffic to all of them, so clients see the dead service's refusals, not a clean error.",
        how_to_fix: "By reason code: Target.FailedHealthChecks/Target.Timeout: make the service listen on the \
health-check port and let the NLB's private addresses in (target security groups, NACLs; see target-sg-ingress); \
Target.ResponseCodeMismatch: fix the health endpoint or \
`aws elbv2 modify-target-group --target-group-arn <tg-arn> --matcher HttpCode=200-399`; Target.NotRegistered: \
`aws elbv2 register-targets --target-group-arn <tg-arn> --targets Id=<id>,Port=<port>`; Target.InvalidState: the \
instance is stopped or terminated: `aws ec2 start-instances --instance-ids <i-…>` or register a running one; \
Target.NotInUse: enable the target's AZ on the NLB (`aws elbv2 set-subnets`); Target.IpUnusable: register the \
service's own address instead; Target.HealthCheckDisabled: `aws elbv2 modify-target-group --health-check-enabled`; \
Elb.RegistrationInProgress/Elb.InitialHealthChecking: wait for the health checks (healthy threshold × interval). \
Terraform: `aws_lb_target_group` `health_check {}` and `aws_lb_target_group_attachment`.",
    },
};

/// What AWS means by a reason code, and whether waiting fixes it.
fn reason_meaning(code: &str) -> &'static str {
    const CODES: [(&str, &str); 12] = [
        ("Elb.RegistrationInProgress", "the target is still being registered with the load balancer"),
        ("Elb.InitialHealthChecking", "the load balancer is still sending the minimum number of health checks to decide"),
        ("Target.ResponseCodeMismatch", "the health check did not return an expected HTTP code"),
        ("Target.Timeout", "the health check request timed out"),
        ("Target.FailedHealthChecks", "the load balancer could not connect to the target, or the response was malformed"),
        ("Target.NotRegistered", "the target is not registered with the target group"),
        ("Target.NotInUse", "the target group is not used by a load balancer, or the target's AZ is not enabled on the load balancer"),
        ("Target.DeregistrationInProgress", "the target is being deregistered (draining)"),
        ("Target.InvalidState", "the target instance is stopped or terminated"),
        ("Target.IpUnusable", "the target IP address is reserved for use by a load balancer"),
        ("Target.HealthCheckDisabled", "health checks are disabled for the target group"),
        ("Elb.InternalError", "the health checks failed because of an Elastic Load Balancing internal error"),
    ];
    CODES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, m)| *m)
        .unwrap_or("a reason code this pl-doctor does not know")
}

/// The fix for one reason code, for the listed targets of one target group.
fn reason_fix(
    code: &str,
    tg: &TargetGroup,
    ids: &[&TargetHealthFact],
    lbs: &[&LoadBalancer],
) -> String {
    let id_list = ids
        .iter()
        .map(|t| t.id.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let targets_arg = ids
        .iter()
        .map(|t| format!("Id={},Port={}", t.id, t.port))
        .collect::<Vec<_>>()
        .join(" ");
    let hc_port = if tg.health_check.port.eq_ignore_ascii_case("traffic-port") {
        tg.port.to_string()
    } else {
        tg.health_check.port.clone()
    };
    let nlb_ips: Vec<String> = lbs
        .iter()
        .flat_map(|lb| &lb.availability_zones)
        .flat_map(|z| &z.private_ipv4_addresses)
        .map(|a| a.to_string())
        .collect();
    let nlb_addrs = if nlb_ips.is_empty() {
        "the NLB's private addresses".to_owned()
    } else {
        format!("the NLB's private addresses ({})", nlb_ips.join(", "))
    };
    let c = code.to_ascii_lowercase();
    match c.as_str() {
        "elb.registrationinprogress" | "elb.initialhealthchecking" => format!(
            "{id_list} in {}: wait for registration and the first health checks (healthy threshold × interval), then re-run.",
            tg.name
        ),
        "target.failedhealthchecks" | "target.timeout" => format!(
            "{id_list} in {}: make the service listen on {} port {hc_port} on those targets, and let {nlb_addrs} in on {hc_port} (target security groups and NACLs; see target-sg-ingress). Then watch: aws elbv2 describe-target-health --target-group-arn {} --targets {targets_arg}.",
            tg.name, tg.health_check.protocol, tg.arn
        ),
        "target.responsecodemismatch" => format!(
            "{id_list} in {}: the health endpoint answers with an unexpected HTTP code: fix it, or widen the matcher: aws elbv2 modify-target-group --target-group-arn {} --matcher HttpCode=200-399.",
            tg.name, tg.arn
        ),
        "target.notregistered" => format!(
            "aws elbv2 register-targets --target-group-arn {} --targets {targets_arg} (Terraform: aws_lb_target_group_attachment).",
            tg.arn
        ),
        "target.notinuse" => {
            let lb_arns = lbs.iter().map(|l| l.arn.as_str()).collect::<Vec<_>>().join(", ");
            let azs = ids
                .iter()
                .filter_map(|t| t.availability_zone.as_deref())
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{id_list} in {}: enable the targets' AZ ({azs}) on the NLB ({lb_arns}) with aws elbv2 set-subnets --load-balancer-arn <nlb> --subnets <its current subnets> <a subnet in {azs}>, or register targets in the NLB's zones; and make sure a listener forwards to {}.",
                tg.name, tg.arn
            )
        }
        "target.deregistrationinprogress" => format!(
            "{id_list} in {} are draining: register their replacements (aws elbv2 register-targets --target-group-arn {} --targets Id=<new target>,Port={}), or re-register them if the deregistration was a mistake.",
            tg.name, tg.arn, tg.port
        ),
        "target.invalidstate" => format!(
            "{id_list} are stopped or terminated: aws ec2 start-instances --instance-ids {id_list}, or register running instances in {} instead.",
            tg.name
        ),
        "target.ipunusable" => format!(
            "{id_list} are load balancer addresses: register the service's own addresses and remove these: aws elbv2 deregister-targets --target-group-arn {} --targets {targets_arg}.",
            tg.arn
        ),
        "target.healthcheckdisabled" => format!(
            "aws elbv2 modify-target-group --target-group-arn {} --health-check-enabled --health-check-protocol {} --health-check-port {}",
            tg.arn, tg.health_check.protocol, tg.health_check.port
        ),
        "elb.internalerror" => format!(
            "{id_list} in {}: an Elastic Load Balancing internal error; re-run, and if it persists open an AWS Support case citing {}.",
            tg.name, tg.arn
        ),
        _ => format!(
            "{id_list} in {}: inspect with aws elbv2 describe-target-health --target-group-arn {}.",
            tg.name, tg.arn
        ),
    }
}

/// A target failing its health checks (as opposed to registering, draining or unused).
fn fails_checks(t: &TargetHealthFact) -> bool {
    eq_wire(&t.state, "unhealthy")
        || t.reason.as_deref().is_some_and(|r| {
            [
                "Target.FailedHealthChecks",
                "Target.Timeout",
                "Target.ResponseCodeMismatch",
            ]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(r))
        })
}

fn zone_label(provider: &AzMap, consumer: &AzMap, zone: &TargetZone) -> String {
    match zone {
        TargetZone::Id(id) => {
            let p = provider.name_of(id).map(|n| format!("provider {n}")).ok();
            let c = consumer.name_of(id).map(|n| format!("consumer {n}")).ok();
            let names: Vec<String> = p.into_iter().chain(c).collect();
            if names.is_empty() {
                id.clone()
            } else {
                format!("{id} ({})", names.join(", "))
            }
        }
        other => other.to_string(),
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let PathBehindPorts {
        nlbs,
        ports,
        target_groups: tg_arns,
    } = match path_behind_ports(ctx) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let port_list = ports
        .ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if tg_arns.is_empty() {
        // Without a forwarding listener there are no targets to judge; with one (say an
        // internet-facing NLB), target health still matters even though nlb-listener failed.
        if let Some(p) = ctx.failed_prerequisite(&["nlb-listener"]) {
            return Outcome::skip(format!("prerequisite nlb-listener failed: {}", p.summary));
        }
        return Outcome::fail(format!(
            "no listener on {port_list} forwards to a target group"
        ))
        .evidence("ports", &ports)
        .remediation(
            "See nlb-listener: add a listener on the port that forwards to a target group.",
        );
    }
    let all_tgs = known_or_unknown!(
        &s.provider.target_groups,
        "the target groups (provider.target_groups)"
    );
    let provider_map = AzMap::provider(s);
    let consumer_map = AzMap::consumer(s);

    let mut empty: Vec<&TargetGroup> = Vec::new();
    let mut dead: Vec<&TargetGroup> = Vec::new();
    let mut some_unhealthy = false;
    let mut details = Vec::new();
    let mut fixes = Vec::new();
    let mut tg_evidence = Vec::new();
    for arn in &tg_arns {
        let Some(tg) = all_tgs.iter().find(|t| &t.arn == arn) else {
            return Outcome::unknown(format!(
                "target group {arn} (forwarded to by the listener) was not among the described target groups"
            ));
        };
        let targets = known_or_unknown!(&tg.targets, &format!("the target health of {}", tg.name));
        let by_zone = health_by_zone(&provider_map, targets);
        let healthy: usize = by_zone.values().map(|c| c.healthy).sum();
        if targets.is_empty() {
            empty.push(tg);
        } else if healthy == 0 {
            dead.push(tg);
        }
        let zones_text = by_zone
            .iter()
            .map(|(z, c)| {
                format!(
                    "{}: {}/{} healthy",
                    zone_label(&provider_map, &consumer_map, z),
                    c.healthy,
                    c.total
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        if !targets.is_empty() {
            details.push(format!("{}: {zones_text}", tg.name));
        }
        let not_healthy: Vec<&TargetHealthFact> = targets
            .iter()
            .filter(|t| !eq_wire(&t.state, "healthy"))
            .collect();
        some_unhealthy |= !not_healthy.is_empty();
        for t in &not_healthy {
            let zone = target_zone(&provider_map, t);
            details.push(format!(
                "{} {}:{} in {} is {}{}",
                tg.name,
                t.id,
                t.port,
                zone_label(&provider_map, &consumer_map, &zone),
                t.state,
                match (&t.reason, &t.description) {
                    (Some(r), Some(d)) => format!(": {r} ({}; AWS says: {d})", reason_meaning(r)),
                    (Some(r), None) => format!(": {r} ({})", reason_meaning(r)),
                    _ => String::new(),
                }
            ));
        }
        // One fix per reason code, naming every target that has it.
        let mut reasons: Vec<&str> = Vec::new();
        for t in &not_healthy {
            let r = t.reason.as_deref().unwrap_or("");
            if !reasons.iter().any(|x| x.eq_ignore_ascii_case(r)) {
                reasons.push(r);
            }
        }
        // The likely cause behind the reason codes, where the target group says it.
        // A TCP health check only connects, so the header cannot fail it; an HTTP(S) one
        // sends the header before its request, which a target not expecting it rejects.
        let http_check = ["HTTP", "HTTPS"]
            .iter()
            .any(|p| eq_wire(p, &tg.health_check.protocol));
        if tg.proxy_protocol_v2 == Some(true)
            && http_check
            && not_healthy.iter().any(|t| fails_checks(t))
        {
            details.push(format!(
                "likely cause: proxy protocol v2 is enabled on {} (proxy_protocol_v2.enabled = true), and the NLB sends the PPv2 header on its {} health checks too: a target that does not parse it answers them with an error or closes the connection",
                tg.name, tg.health_check.protocol
            ));
            fixes.push(format!(
                "{}: make the service accept the proxy protocol v2 header on port {} and on the health-check port (nginx: listen {} proxy_protocol; HAProxy: accept-proxy on the bind; Envoy: the proxy_protocol listener filter), or turn it off if nothing needs the client address: aws elbv2 modify-target-group-attributes --target-group-arn {} --attributes Key=proxy_protocol_v2.enabled,Value=false (Terraform: proxy_protocol_v2 = false on aws_lb_target_group).",
                tg.name, tg.port, tg.port, tg.arn
            ));
        }
        if eq_wire(&tg.target_type, "alb") {
            details.push(format!(
                "{}'s targets are Application Load Balancers: their health is the NLB's HTTP(S) health check through the ALB (answered by the ALB's own targets), and the NLB's HealthyHostCount metric does not count ALB targets, so this check reads DescribeTargetHealth",
                tg.name
            ));
        }
        for r in reasons {
            let with: Vec<&TargetHealthFact> = not_healthy
                .iter()
                .copied()
                .filter(|t| t.reason.as_deref().unwrap_or("").eq_ignore_ascii_case(r))
                .collect();
            fixes.push(reason_fix(r, tg, &with, &nlbs.found));
        }
        tg_evidence.push(json!({
            "arn": tg.arn,
            "name": tg.name,
            "port": tg.port,
            "target_type": tg.target_type,
            "proxy_protocol_v2": tg.proxy_protocol_v2,
            "health_check": { "protocol": tg.health_check.protocol, "port": tg.health_check.port },
            "zones": by_zone.iter().map(|(z, c)| json!({
                "zone": z.to_string(),
                "az_id": match z { TargetZone::Id(id) => Some(id.as_str()), _ => None },
                "provider_az": match z { TargetZone::Id(id) => provider_map.name_of(id).ok(), _ => None },
                "consumer_az": match z { TargetZone::Id(id) => consumer_map.name_of(id).ok(), _ => None },
                "healthy": c.healthy,
                "total": c.total,
            })).collect::<Vec<_>>(),
            "targets": targets.iter().map(|t| json!({
                "id": t.id,
                "port": t.port,
                "state": t.state,
                "reason": t.reason,
                "description": t.description,
                "availability_zone": t.availability_zone,
                "az_id": match target_zone(&provider_map, t) { TargetZone::Id(id) => Some(id), _ => None },
            })).collect::<Vec<_>>(),
        }));
    }

    let names = |v: &[&TargetGroup]| {
        v.iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = if !empty.is_empty() || !dead.is_empty() {
        let mut parts = Vec::new();
        if !empty.is_empty() {
            parts.push(format!("{} has no registered targets", names(&empty)));
            for tg in &empty {
                fixes.push(format!(
                    "aws elbv2 register-targets --target-group-arn {} --targets Id=<service {} or instance id>,Port={} (Terraform: aws_lb_target_group_attachment).",
                    tg.arn,
                    if eq_wire(&tg.target_type, "ip") { "IP" } else { "instance" },
                    tg.port
                ));
            }
        }
        if !dead.is_empty() {
            parts.push(format!("{} has no healthy target", names(&dead)));
            details.push("with every target unhealthy the NLB fails open and sends traffic to all of them: clients see the dead service's resets and timeouts, not a clean error".into());
        }
        Outcome::fail(format!("behind port {port_list}: {}", parts.join("; ")))
    } else if some_unhealthy {
        details.push("whether a zone without a healthy target still serves its endpoint ENI depends on cross-zone load balancing (see cross-zone)".into());
        Outcome::warn(format!(
            "every target group behind port {port_list} has a healthy target, but some targets are not healthy"
        ))
    } else {
        Outcome::pass(format!(
            "every target behind port {port_list} is healthy ({} target group{})",
            tg_arns.len(),
            if tg_arns.len() == 1 { "" } else { "s" }
        ))
    };
    if !fixes.is_empty() {
        out = out.remediation(fixes.join("\n"));
    }
    // The cause is which target groups are empty or dead (or, for the warning, that some
    // target is unhealthy), not which instances: an Auto Scaling group replacing them is
    // still the same problem for the ticket bot.
    let cause = ports
        .ports
        .iter()
        .map(|p| format!("port={p}"))
        .chain(empty.iter().map(|tg| format!("empty={}", tg.arn)))
        .chain(dead.iter().map(|tg| format!("no-healthy={}", tg.arn)))
        .chain(
            (empty.is_empty() && dead.is_empty() && some_unhealthy)
                .then(|| "some-unhealthy".to_owned()),
        );
    out.details(details)
        .evidence("ports", &ports)
        .evidence("target_groups", tg_evidence)
        .cause(cause)
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{CheckResult, EvalOptions, Status};
    use crate::fact::Fact;
    use crate::model::Snapshot;
    use crate::scenarios::base;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
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

    #[test]
    fn healthy_bases_pass() {
        assert_eq!(run(&base::healthy()).status, Status::Pass);
        assert_eq!(run(&base::enterprise()).status, Status::Pass);
    }

    #[test]
    fn all_unhealthy_fails_with_reason_and_concrete_fix() {
        let mut s = base::healthy();
        for t in targets(&mut s).iter_mut() {
            t.state = "unhealthy".into();
            t.reason = Some("Target.FailedHealthChecks".into());
        }
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        let fix = o.remediation.unwrap();
        assert!(fix.contains("10.1.1.100 10.1.2.100"), "{fix}");
        assert!(fix.contains("port 8443"), "{fix}");
        assert!(fix.contains("10.1.1.10, 10.1.2.10"), "{fix}");
        // Per-AZ with AZ IDs and both accounts' names.
        assert!(
            o.details
                .iter()
                .any(|d| d
                    .contains("use1-az2 (provider us-east-1a, consumer us-east-1b): 0/1 healthy")),
            "{:?}",
            o.details
        );
    }

    #[test]
    fn one_unhealthy_warns_and_names_the_code() {
        let mut s = base::healthy();
        let t = &mut targets(&mut s)[1];
        t.state = "unused".into();
        t.reason = Some("Target.InvalidState".into());
        t.id = "i-0fedcba9876543210".into();
        let o = run(&s);
        assert_eq!(o.status, Status::Warn);
        assert!(o
            .remediation
            .unwrap()
            .contains("aws ec2 start-instances --instance-ids i-0fedcba9876543210"));
        assert!(o
            .details
            .iter()
            .any(|d| d.contains("stopped or terminated")));
    }

    #[test]
    fn no_targets_fails() {
        let mut s = base::healthy();
        targets(&mut s).clear();
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("no registered targets"), "{}", o.summary);
    }

    #[test]
    fn skips_when_nlb_listener_failed_for_lack_of_a_listener() {
        let mut s = base::healthy();
        s.inputs.ports = vec![9443];
        let prior = [CheckResult {
            id: "nlb-listener".into(),
            step: 7,
            title: String::new(),
            status: Status::Fail,
            summary: "payments-svc-nlb has no listener on port 9443".into(),
            details: vec![],
            evidence: Default::default(),
            remediation: None,
            fingerprint: None,
            changes: None,
        }];
        let o = evaluate(&Context::new(&s, &EvalOptions::default(), &prior));
        assert_eq!(o.status, Status::Skip);
        assert!(o.summary.starts_with("prerequisite nlb-listener failed"));
    }

    #[test]
    fn absent_target_health_is_unknown() {
        let mut s = base::healthy();
        let Fact::Known(tgs) = &mut s.provider.target_groups else {
            unreachable!()
        };
        tgs[0].targets = Fact::Absent(crate::Missing::AccessDenied {
            action: "elasticloadbalancing:DescribeTargetHealth".into(),
            message: None,
        });
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(o
            .summary
            .contains("elasticloadbalancing:DescribeTargetHealth"));
    }

    #[test]
    fn every_documented_reason_code_has_a_meaning() {
        for code in [
            "Elb.RegistrationInProgress",
            "Elb.InitialHealthChecking",
            "Target.ResponseCodeMismatch",
            "Target.Timeout",
            "Target.FailedHealthChecks",
            "Target.NotRegistered",
            "Target.NotInUse",
            "Target.DeregistrationInProgress",
            "Target.InvalidState",
            "Target.IpUnusable",
            "Target.HealthCheckDisabled",
            "Elb.InternalError",
        ] {
            assert_ne!(
                reason_meaning(code),
                reason_meaning("Nope.Unknown"),
                "{code}"
            );
        }
    }
}
