//! Seed "Scaling": the bottleneck at high fan-in is "NLB target capacity and source-port
//! exhaustion on long-lived connections, not the endpoint itself". PrivateLink traffic
//! reaches the targets from the NLB's own addresses, so every NLB address can hold about
//! 55,000 concurrent connections to each target IP:port; past that the NLB cannot
//! allocate a source port and drops the new connection (PortAllocationErrorCount).

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity, Status};
use crate::fact::Fact;
use crate::model::{eq_wire, LoadBalancer, MetricSeries, TargetGroup};
use crate::net::nlb::{path_behind_ports, PathBehindPorts};
use crate::net::series::{collected, longest_nonzero_run, peak_per_zone, per_period, total};
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "nlb-capacity",
    title: "No PrivateLink source-port exhaustion or sustained drops",
    source: "seed: Scaling (\"source-port exhaustion on long-lived connections\"); AWS: NLB CloudWatch metrics, PrivateLink CloudWatch metrics and quotas",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "observability.metrics",
        "provider.load_balancers[].attributes",
        "provider.load_balancers[].availability_zones",
        "provider.target_groups[].targets",
        "inputs.ports",
    ],
    consumer_actions: &["cloudwatch:GetMetricData"],
    provider_actions: &[
        "cloudwatch:GetMetricData",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
    ],
    docs_url: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html",
    doc: CheckDoc {
        what_it_checks: "Over the metrics window: AWS/NetworkELB PortAllocationErrorCount (Sum, for the NLB and \
per AZ): any error fails, with the peak 5-minute period per AZ, the targets behind the port and the NLB's \
secondary_ips.auto_assigned.per_subnet. Then the consumer's AWS/PrivateLinkEndpoints PacketsDropped and \
RstPacketsReceived: sustained (non-zero in at least 3 consecutive periods and at least 10 in the window) while \
the targets are healthy (target-health passes) warns, saying what each metric means. Unknown when the NLB \
metrics are not visible (they need provider access) and nothing else is wrong; pass otherwise.",
        why_it_matters: "Targets see PrivateLink connections coming from the NLB's private addresses, so each \
NLB address can hold about 55,000 simultaneous connections to one target IP:port. Long-lived connections from \
many consumers exhaust that: new connections fail or time out while every health check, security group and DNS \
answer is fine, and only PortAllocationErrorCount shows it. At the endpoint, PacketsDropped counts packets it \
discarded: packets above the 8500-byte MTU of an endpoint are dropped (no ICMP \"fragmentation needed\" is sent, \
so path MTU discovery cannot recover), or the endpoint or the service is unhealthy; RstPacketsReceived counts \
resets coming back from the service (targets refusing or resetting, an idle timeout).",
        how_to_fix: "Port allocation errors: register more targets (more IP:port pairs): \
`aws elbv2 register-targets --target-group-arn <tg-arn> --targets Id=<ip-or-instance>,Port=<port>`, or \
give the NLB more source addresses per subnet: `aws elbv2 modify-load-balancer-attributes --load-balancer-arn \
<nlb-arn> --attributes Key=secondary_ips.auto_assigned.per_subnet,Value=<1-7>` (Terraform: \
`secondary_ips_auto_assigned_per_subnet` on `aws_lb`; decreasing it later replaces the NLB), and reuse \
connections instead of opening new ones. Dropped packets: keep packets at or below 8500 bytes (clamp the MSS, or \
set the client interface MTU to 8500 or less), and check target-health and the service's own metrics. Resets: see \
idle-timeout-resets and target-health.",
    },
};

const NLB: &str = "AWS/NetworkELB";
const ENDPOINT: &str = "AWS/PrivateLinkEndpoints";
/// About this many simultaneous connections per NLB address and target IP:port.
const CONNECTIONS_PER_TARGET: u32 = 55_000;
/// "Sustained": non-zero in at least this many consecutive periods...
const SUSTAINED_PERIODS: usize = 3;
/// ...and at least this many in the window (a client killed mid-stream is noise).
const SUSTAINED_FLOOR: f64 = 10.0;
const SECONDARY_IPS_KEY: &str = "secondary_ips.auto_assigned.per_subnet";

/// What an endpoint metric means when it keeps counting.
fn endpoint_meaning(metric: &str) -> &'static str {
    match metric {
        "PacketsDropped" => "packets the endpoint dropped: packets larger than the 8500-byte MTU of an endpoint are dropped (it sends no ICMP \"fragmentation needed\", so path MTU discovery cannot recover), or the endpoint or endpoint service is unhealthy",
        "RstPacketsReceived" => "TCP resets the endpoint received from the service: the NLB or its targets refusing or resetting connections (targets at capacity, the idle timeout, the application closing them)",
        _ => "an endpoint metric",
    }
}

/// The NLB's secondary IPs per subnet as DescribeLoadBalancerAttributes reported them.
fn secondary_ips(lb: &LoadBalancer) -> Option<u32> {
    match &lb.attributes {
        Fact::Known(a) => Some(
            a.raw
                .get(SECONDARY_IPS_KEY)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
        Fact::Absent(_) => None,
    }
}

/// Targets behind the port, per target group: (name, healthy, total, distinct IP:port).
fn target_counts(tgs: &[&TargetGroup]) -> Vec<serde_json::Value> {
    tgs.iter()
        .map(|tg| match &tg.targets {
            Fact::Known(t) => {
                let healthy = t.iter().filter(|t| eq_wire(&t.state, "healthy")).count();
                let mut pairs: Vec<(String, u16)> = t
                    .iter()
                    .map(|t| {
                        (
                            t.private_ip
                                .map(|ip| ip.to_string())
                                .unwrap_or_else(|| t.id.clone()),
                            t.port,
                        )
                    })
                    .collect();
                pairs.sort();
                pairs.dedup();
                json!({
                    "target_group": tg.name,
                    "arn": tg.arn,
                    "healthy": healthy,
                    "total": t.len(),
                    "target_ip_ports": pairs.len(),
                })
            }
            Fact::Absent(m) => json!({
                "target_group": tg.name,
                "arn": tg.arn,
                "targets": format!("not known: {m}"),
            }),
        })
        .collect()
}

#[derive(Debug, serde::Serialize)]
struct Sustained {
    metric: &'static str,
    total: f64,
    longest_run_periods: usize,
    meaning: &'static str,
}

fn sustained(metrics: &[MetricSeries]) -> Vec<Sustained> {
    ["PacketsDropped", "RstPacketsReceived"]
        .into_iter()
        .filter_map(|metric| {
            let p = per_period(metrics, ENDPOINT, &[metric]);
            let t = total(&p);
            let run = longest_nonzero_run(&p);
            (run >= SUSTAINED_PERIODS && t >= SUSTAINED_FLOOR).then(|| Sustained {
                metric,
                total: t,
                longest_run_periods: run,
                meaning: endpoint_meaning(metric),
            })
        })
        .collect()
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let metrics = crate::known_or_unknown!(&s.observability.metrics, "CloudWatch metrics");
    let window = format!(
        "{} to {}",
        s.observability.window_start, s.observability.window_end
    );
    let drops = sustained(metrics);
    let targets_healthy = ctx.prior("target-health").map(|r| r.status == Status::Pass);

    // The path behind the ports, for the target counts and the fix; the metrics verdict
    // stands without it (an NLB with no listener on the port still exhausts ports).
    let path: Option<PathBehindPorts> = path_behind_ports(ctx).ok();
    let tgs: Vec<&TargetGroup> = match (&path, s.provider.target_groups.known()) {
        (Some(p), Some(all)) => all
            .iter()
            .filter(|t| p.target_groups.contains(&t.arn))
            .collect(),
        _ => vec![],
    };
    let nlbs: Vec<&LoadBalancer> = path
        .as_ref()
        .map(|p| p.nlbs.found.clone())
        .unwrap_or_default();

    if !collected(metrics, NLB, "PortAllocationErrorCount") {
        // Provider metrics not visible (no provider access, or a snapshot from before
        // pl-doctor asked for them): only the consumer side can be judged.
        if !drops.is_empty() {
            return drops_warn(&drops, &window, None)
                .detail("PortAllocationErrorCount (AWS/NetworkELB) is not visible: it needs provider access (--provider-profile or --provider-role-arn).");
        }
        return Outcome::unknown(
            "PortAllocationErrorCount (AWS/NetworkELB) is not visible: it needs provider access (--provider-profile or --provider-role-arn)",
        )
        .evidence("window", &window);
    }

    let errors = per_period(metrics, NLB, &["PortAllocationErrorCount"]);
    let errors_total = total(&errors);
    let peaks = peak_per_zone(metrics, NLB, "PortAllocationErrorCount");
    let counts = target_counts(&tgs);
    let lb_evidence: Vec<serde_json::Value> = nlbs
        .iter()
        .map(|lb| {
            json!({
                "name": lb.name,
                "arn": lb.arn,
                "zones": lb.availability_zones.len(),
                "secondary_ips_per_subnet": secondary_ips(lb),
            })
        })
        .collect();

    if errors_total > 0.0 {
        let zones = if peaks.is_empty() {
            "per-AZ series not available".to_owned()
        } else {
            peaks
                .iter()
                .map(|(z, (t, v))| format!("{z}: peak {v} in the period at {t}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let target_line = counts
            .iter()
            .map(
                |c| match (c.get("healthy"), c.get("total"), c.get("target_ip_ports")) {
                    (Some(h), Some(t), Some(p)) => format!(
                        "{}: {h}/{t} targets healthy, {p} distinct target IP:port",
                        c["target_group"].as_str().unwrap_or("")
                    ),
                    _ => format!(
                        "{}: {}",
                        c["target_group"].as_str().unwrap_or(""),
                        c["targets"].as_str().unwrap_or("targets not known")
                    ),
                },
            )
            .collect::<Vec<_>>()
            .join("; ");
        let mut fixes = Vec::new();
        for tg in &tgs {
            fixes.push(format!(
                "Register more targets in {} (each adds about {CONNECTIONS_PER_TARGET} connections per NLB address): aws elbv2 register-targets --target-group-arn {} --targets Id=<new {}>,Port={}.",
                tg.name,
                tg.arn,
                if eq_wire(&tg.target_type, "instance") { "instance id" } else { "target IP" },
                tg.port
            ));
        }
        for lb in &nlbs {
            let now = secondary_ips(lb);
            let next = now.map(|n| (n + 1).min(7)).unwrap_or(1);
            fixes.push(format!(
                "Or give {} more source addresses per subnet (now {}): aws elbv2 modify-load-balancer-attributes --load-balancer-arn {} --attributes Key={SECONDARY_IPS_KEY},Value={next} (0-7; Terraform: secondary_ips_auto_assigned_per_subnet = {next} on aws_lb; lowering it later replaces the NLB).",
                lb.name,
                now.map(|n| n.to_string()).unwrap_or_else(|| "not known".into()),
                lb.arn
            ));
        }
        if fixes.is_empty() {
            fixes.push(format!("Register more targets behind the port, or raise {SECONDARY_IPS_KEY} on the NLB (0-7; Terraform: secondary_ips_auto_assigned_per_subnet)."));
        }
        fixes.push(
            "Reuse long-lived connections (pooling) instead of opening new ones per request."
                .into(),
        );
        let mut o = Outcome::fail(format!(
            "{errors_total} PrivateLink source-port allocation errors (PortAllocationErrorCount) in {window}: the NLB ran out of source ports to its targets and dropped new connections"
        ))
        .detail(format!("per AZ: {zones}"))
        .detail(format!(
            "each NLB address holds about {CONNECTIONS_PER_TARGET} simultaneous connections to one target IP:port (PrivateLink traffic reaches targets from the NLB's addresses)"
        ));
        if !target_line.is_empty() {
            o = o.detail(format!("targets behind the port now: {target_line}"));
        }
        for d in &drops {
            o = o.detail(format!(
                "also sustained at the endpoint: {} ({} in the window): {}",
                d.metric, d.total, d.meaning
            ));
        }
        return o
            .evidence("window", &window)
            .evidence("port_allocation_errors_total", errors_total)
            .evidence(
                "port_allocation_error_peaks",
                peaks
                    .iter()
                    .map(|(z, (t, v))| json!({ "availability_zone": z, "period": t, "errors": v }))
                    .collect::<Vec<_>>(),
            )
            .evidence("port_allocation_errors_per_period", &errors)
            .evidence("targets", counts)
            .evidence("load_balancers", lb_evidence)
            .evidence("endpoint_sustained", &drops)
            .remediation(fixes.join("\n"));
    }

    if !drops.is_empty() {
        match targets_healthy {
            Some(true) => return drops_warn(&drops, &window, Some(errors_total)),
            _ => {
                // Unhealthy targets drop and reset by themselves: target-health's finding.
                return Outcome::pass(format!(
                    "no PortAllocationErrorCount in {window}; the endpoint's sustained {} are explained by the targets' health (see target-health)",
                    drops.iter().map(|d| d.metric).collect::<Vec<_>>().join(" and ")
                ))
                .evidence("window", &window)
                .evidence("port_allocation_errors_total", errors_total)
                .evidence("endpoint_sustained", &drops)
                .evidence("targets", counts);
            }
        }
    }
    Outcome::pass(format!(
        "no PortAllocationErrorCount and no sustained endpoint drops or resets in {window}"
    ))
    .evidence("window", &window)
    .evidence("port_allocation_errors_total", errors_total)
    .evidence("targets", counts)
    .evidence("load_balancers", lb_evidence)
}

fn drops_warn(drops: &[Sustained], window: &str, errors_total: Option<f64>) -> Outcome {
    let names = drops
        .iter()
        .map(|d| d.metric)
        .collect::<Vec<_>>()
        .join(" and ");
    let mut o = Outcome::warn(format!(
        "sustained {names} at the endpoint in {window} while the targets are healthy"
    ));
    for d in drops {
        o = o.detail(format!(
            "{}: {} in the window, non-zero in {} consecutive periods: {}",
            d.metric, d.total, d.longest_run_periods, d.meaning
        ));
    }
    let mut fix = Vec::new();
    if drops.iter().any(|d| d.metric == "PacketsDropped") {
        fix.push("Keep packets through the endpoint at or below 8500 bytes: clamp the TCP MSS on the clients or their gateway (e.g. iptables -t mangle -A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 8460) or set the client interface MTU to 8500 or less (ip link set dev eth0 mtu 8500); UDP senders must not exceed it.");
    }
    if drops.iter().any(|d| d.metric == "RstPacketsReceived") {
        fix.push("Find who resets: the provider's TCP_Target_Reset_Count and TCP_ELB_Reset_Count (see idle-timeout-resets) and the service's logs; send keepalives below the NLB idle timeout.");
    }
    o.evidence("window", window)
        .evidence("endpoint_sustained", drops)
        .evidence("port_allocation_errors_total", errors_total)
        .remediation(fix.join("\n"))
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{CheckResult, EvalOptions};
    use crate::model::Snapshot;
    use crate::scenarios::base::{endpoint_series, healthy, nlb_zone_series};

    fn run_with(s: &Snapshot, target_health: Status) -> Outcome {
        let prior = [CheckResult {
            id: "target-health".into(),
            step: 9,
            title: String::new(),
            status: target_health,
            summary: String::new(),
            details: vec![],
            evidence: Default::default(),
            remediation: None,
            fingerprint: None,
            changes: None,
        }];
        evaluate(&Context::new(s, &EvalOptions::default(), &prior))
    }

    fn metrics(s: &mut Snapshot) -> &mut Vec<MetricSeries> {
        let Fact::Known(m) = &mut s.observability.metrics else {
            unreachable!()
        };
        m
    }

    fn replace(s: &mut Snapshot, series: MetricSeries) {
        let m = metrics(s);
        m.retain(|x| {
            !(x.namespace == series.namespace
                && x.metric_name == series.metric_name
                && x.dimensions == series.dimensions)
        });
        m.push(series);
    }

    #[test]
    fn healthy_passes() {
        let o = run_with(&healthy(), Status::Pass);
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert_eq!(o.evidence["port_allocation_errors_total"], 0.0);
    }

    #[test]
    fn port_allocation_errors_fail_with_peaks_per_zone_and_target_count() {
        let mut s = healthy();
        let a = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12.0, 40.0, 31.0, 0.0,
        ];
        let b = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0];
        let whole: Vec<f64> = a.iter().zip(b).map(|(x, y)| x + y).collect();
        replace(
            &mut s,
            crate::scenarios::base::nlb_series("PortAllocationErrorCount", "Sum", &whole),
        );
        replace(
            &mut s,
            nlb_zone_series("PortAllocationErrorCount", "us-east-1a", &a),
        );
        replace(
            &mut s,
            nlb_zone_series("PortAllocationErrorCount", "us-east-1b", &b),
        );
        let o = run_with(&s, Status::Pass);
        assert_eq!(o.status, Status::Fail, "{}", o.summary);
        assert!(
            o.summary
                .contains("92 PrivateLink source-port allocation errors"),
            "{}",
            o.summary
        );
        let peaks = o.details.iter().find(|d| d.starts_with("per AZ")).unwrap();
        assert!(
            peaks.contains("us-east-1a: peak 40 in the period at 2026-11-24T09:45:00Z"),
            "{peaks}"
        );
        assert!(peaks.contains("us-east-1b: peak 9"), "{peaks}");
        assert!(
            o.details
                .iter()
                .any(|d| d.contains("2/2 targets healthy, 2 distinct target IP:port")),
            "{:?}",
            o.details
        );
        let fix = o.remediation.unwrap();
        assert!(
            fix.contains(
                "aws elbv2 register-targets --target-group-arn arn:aws:elasticloadbalancing"
            ),
            "{fix}"
        );
        assert!(
            fix.contains("Key=secondary_ips.auto_assigned.per_subnet,Value=1"),
            "{fix}"
        );
        assert!(fix.contains("(now 0)"), "{fix}");
    }

    #[test]
    fn sustained_drops_with_healthy_targets_warn_and_explain_the_mtu() {
        let mut s = healthy();
        replace(
            &mut s,
            endpoint_series(
                "PacketsDropped",
                "Sum",
                &[0.0, 0.0, 4.0, 6.0, 5.0, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
        );
        let o = run_with(&s, Status::Pass);
        assert_eq!(o.status, Status::Warn, "{}", o.summary);
        assert!(
            o.details.iter().any(|d| d.contains("8500-byte MTU")),
            "{:?}",
            o.details
        );
        assert!(o.remediation.unwrap().contains("MSS"));
        // The same drops with unhealthy targets are target-health's finding.
        let o = run_with(&s, Status::Fail);
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert!(o.summary.contains("target-health"), "{}", o.summary);
        // Scattered single drops are not sustained.
        let mut s = healthy();
        replace(
            &mut s,
            endpoint_series(
                "PacketsDropped",
                "Sum",
                &[9.0, 0.0, 9.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
        );
        assert_eq!(run_with(&s, Status::Pass).status, Status::Pass);
    }

    #[test]
    fn without_nlb_metrics_it_is_unknown_unless_the_endpoint_shows_drops() {
        let mut s = healthy();
        metrics(&mut s).retain(|m| m.namespace != NLB);
        let o = run_with(&s, Status::Pass);
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("provider access"), "{}", o.summary);
        replace(
            &mut s,
            endpoint_series(
                "RstPacketsReceived",
                "Sum",
                &[0.0, 5.0, 5.0, 5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
        );
        assert_eq!(run_with(&s, Status::Pass).status, Status::Warn);
        s.observability.metrics = Fact::Absent(crate::Missing::AccessDenied {
            action: "cloudwatch:GetMetricData".into(),
            message: None,
        });
        assert_eq!(run_with(&s, Status::Pass).status, Status::Unknown);
    }
}
