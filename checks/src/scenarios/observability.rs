//! Observability scenarios: what the metrics, flow logs and the probe show when the
//! configuration itself is (now) right.

use super::base::{endpoint_series, healthy, nlb_series, tcp, NLB_SG, TARGET_SG};
use super::Scenario;
use crate::check::Status::*;
use crate::fact::Fact;
use crate::model::*;

fn replace_metric(s: &mut Snapshot, series: MetricSeries) {
    if let Fact::Known(m) = &mut s.observability.metrics {
        m.retain(|x| !(x.namespace == series.namespace && x.metric_name == series.metric_name));
        m.push(series);
    }
}

/// Long-lived gRPC channels from a batch client idle for ~6-10 minutes between jobs;
/// the NLB forgets them after 350 s and the next write gets a RST. Hosts stay healthy
/// and flow counts steady: only the resets rise, in the two job waves at 09:25 and 09:45.
fn idle_resets() -> Snapshot {
    let mut s = healthy();
    let target = [
        0.0, 1.0, 0.0, 0.0, 0.0, 31.0, 2.0, 0.0, 0.0, 36.0, 28.0, 0.0,
    ];
    let elb = [0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 12.0, 7.0, 0.0];
    replace_metric(&mut s, nlb_series("TCP_Target_Reset_Count", "Sum", &target));
    replace_metric(&mut s, nlb_series("TCP_ELB_Reset_Count", "Sum", &elb));
    // The RSTs travel back to the consumer through the endpoint.
    let rst: Vec<f64> = target.iter().zip(elb).map(|(t, e)| t + e).collect();
    replace_metric(&mut s, endpoint_series("RstPacketsReceived", "Sum", &rst));
    s
}

fn without_flow_logs() -> Snapshot {
    let mut s = healthy();
    s.observability.flow_logs = Fact::Known(vec![]);
    s.observability.flow_log_rejects =
        Fact::not_requested("no flow log covering the endpoint ENIs delivers to CloudWatch Logs");
    s
}

/// A deploy at 09:20 replaced the endpoint security group's 10.0.0.0/16 rule with the
/// new app subnet only; it was reverted at 09:35. Today's configuration is healthy, but
/// the flow logs recorded the client subnet's SYNs rejected on 8443, and the NLB saw
/// almost no new flows in those three periods.
fn rejects() -> Snapshot {
    let mut s = healthy();
    if let Fact::Known(r) = &mut s.observability.flow_log_rejects {
        r.rows = vec![
            RejectRow {
                src_addr: "10.0.3.10".into(),
                dst_port: 8443,
                interface_id: Some("eni-0a1a2a3a4a5a6a7a8".into()),
                rejects: 184,
            },
            RejectRow {
                src_addr: "10.0.3.10".into(),
                dst_port: 8443,
                interface_id: Some("eni-0b1b2b3b4b5b6b7b8".into()),
                rejects: 171,
            },
            RejectRow {
                src_addr: "10.0.3.27".into(),
                dst_port: 8443,
                interface_id: Some("eni-0a1a2a3a4a5a6a7a8".into()),
                rejects: 96,
            },
        ];
        r.records_scanned = Some(51_877.0);
    }
    replace_metric(
        &mut s,
        nlb_series(
            "NewFlowCount",
            "Sum",
            &[
                40.0, 38.0, 45.0, 50.0, 3.0, 1.0, 2.0, 61.0, 46.0, 43.0, 40.0, 38.0,
            ],
        ),
    );
    replace_metric(
        &mut s,
        nlb_series(
            "ActiveFlowCount",
            "Average",
            &[
                120.0, 118.0, 125.0, 130.0, 64.0, 22.0, 19.0, 110.0, 126.0, 123.0, 120.0, 118.0,
            ],
        ),
    );
    replace_metric(
        &mut s,
        endpoint_series(
            "ActiveConnections",
            "Average",
            &[
                60.0, 59.0, 62.0, 65.0, 31.0, 11.0, 9.0, 55.0, 63.0, 61.0, 60.0, 59.0,
            ],
        ),
    );
    s
}

/// The provider health-checks a sidecar on 8080 and runs the NLB zonal (cross-zone off).
/// The payments process on its us-east-1b target (10.1.2.100, AZ ID use1-az1) crashed at
/// 09:50; the sidecar still answers, so the target stays healthy while 8443 answers RST.
/// The consumer's us-east-1a ENI is in use1-az1 too, so its connections are refused; the
/// us-east-1b ENI (use1-az2) reaches the healthy target.
fn refused() -> Snapshot {
    let mut s = healthy();
    if let Fact::Known(lbs) = &mut s.provider.load_balancers {
        if let Fact::Known(a) = &mut lbs[0].attributes {
            a.cross_zone_enabled = false;
            a.raw
                .insert("load_balancing.cross_zone.enabled".into(), "false".into());
        }
    }
    if let Fact::Known(tgs) = &mut s.provider.target_groups {
        tgs[0].health_check.port = "8080".into();
    }
    if let Fact::Known(sgs) = &mut s.provider.security_groups {
        for g in sgs.iter_mut().filter(|g| g.id == TARGET_SG) {
            g.ingress.push(tcp(
                8080,
                SgPeer::SecurityGroup(NLB_SG.into()),
                "health checks from the NLB",
            ));
        }
    }
    if let Fact::Known(p) = &mut s.probe {
        p.attempts[0].outcome = ProbeOutcome::Refused;
    }
    // Each refused SYN is a target RST: about half the new flows since 09:50.
    replace_metric(
        &mut s,
        nlb_series(
            "TCP_Target_Reset_Count",
            "Sum",
            &[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 19.0, 22.0],
        ),
    );
    s
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "idle-timeout-resets",
            "Long-idle gRPC channels are reset by the NLB's 350 s idle timeout: bursts of target and load-balancer resets while every host stays healthy.",
            idle_resets(),
            Some("idle-timeout-resets"),
            &[("idle-timeout-resets", Fail)],
        ),
        Scenario::new(
            "flow-logs-absent",
            "No VPC flow log covers the endpoint ENIs: everything works, but a rejected connection would leave no trace.",
            without_flow_logs(),
            None,
            &[("flow-log-rejects", Warn)],
        ),
        Scenario::new(
            "flow-log-rejects",
            "A security group change (since reverted) rejected the client subnet on 8443 for 15 minutes: the configuration is healthy now, the flow logs show the rejects.",
            rejects(),
            Some("flow-log-rejects"),
            &[("flow-log-rejects", Fail)],
        ),
        Scenario::new(
            "probe-refused",
            "Zonal NLB, health checks on a sidecar port: the service process on the provider's use1-az1 target died while the target stays healthy, so connections through the consumer's us-east-1a ENI are refused.",
            refused(),
            Some("connect-probe"),
            &[
                // The refusals are target RSTs; the check attributes them to the refused probe.
                ("idle-timeout-resets", Warn),
                // reconcile: cross-zone off with healthy targets in every AZ passes by DESIGN.md;
                // a cross-zone check that warns whenever cross-zone is off would say warn here.
                // reconcile: target-health passes (health checks on 8080 succeed) and
                // target-sg-ingress passes (8443 and 8080 admitted from the NLB's group).
                ("connect-probe", Fail),
            ],
        ),
    ]
}
