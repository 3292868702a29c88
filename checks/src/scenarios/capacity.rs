//! Capacity, target-health causes and connection notifications: what grew in the
//! runbook after the seed (issue 13): PrivateLink source-port exhaustion, sustained drops
//! at the endpoint, proxy protocol v2 breaking health checks, an ALB behind the NLB with
//! zonal target groups, and connections nobody is told about.

use super::base::{
    endpoint_series, healthy, nlb_series, nlb_zone_series, NOTIFICATION_TOPIC, PORT,
    PROVIDER_ACCOUNT, TARGET_SG,
};
use super::Scenario;
use crate::check::Status::*;
use crate::fact::Fact;
use crate::model::*;

fn replace_metric(s: &mut Snapshot, series: MetricSeries) {
    if let Fact::Known(m) = &mut s.observability.metrics {
        m.retain(|x| {
            !(x.namespace == series.namespace
                && x.metric_name == series.metric_name
                && x.dimensions == series.dimensions)
        });
        m.push(series);
    }
}

fn target_group(s: &mut Snapshot) -> &mut TargetGroup {
    let Fact::Known(tgs) = &mut s.provider.target_groups else {
        unreachable!()
    };
    &mut tgs[0]
}

/// About 120 consumer accounts keep long-lived gRPC channels open through the endpoint
/// service; a batch wave at 09:40 pushed past about 55,000 connections per NLB address to
/// each of the two targets' IP:port. The NLB could not allocate source ports and dropped
/// new connections, mostly in us-east-1a; existing ones and health checks stayed fine.
fn port_allocation_errors() -> Snapshot {
    let mut s = healthy();
    let a = [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 212.0, 1840.0, 977.0, 35.0,
    ];
    let b = [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 416.0, 120.0, 0.0,
    ];
    let whole: Vec<f64> = a.iter().zip(b).map(|(x, y)| x + y).collect();
    replace_metric(
        &mut s,
        nlb_series("PortAllocationErrorCount", "Sum", &whole),
    );
    replace_metric(
        &mut s,
        nlb_zone_series("PortAllocationErrorCount", "us-east-1a", &a),
    );
    replace_metric(
        &mut s,
        nlb_zone_series("PortAllocationErrorCount", "us-east-1b", &b),
    );
    replace_metric(
        &mut s,
        nlb_series(
            "ActiveFlowCount",
            "Average",
            &[
                98_000.0, 99_500.0, 101_000.0, 102_400.0, 104_000.0, 105_800.0, 107_100.0,
                108_600.0, 109_900.0, 110_000.0, 109_950.0, 109_700.0,
            ],
        ),
    );
    s
}

/// The targets stay healthy, but the endpoint has been dropping packets for 35 minutes.
fn endpoint_packets_dropped() -> Snapshot {
    let mut s = healthy();
    replace_metric(
        &mut s,
        endpoint_series(
            "PacketsDropped",
            "Sum",
            &[
                0.0, 0.0, 0.0, 0.0, 0.0, 14.0, 22.0, 19.0, 25.0, 31.0, 18.0, 20.0,
            ],
        ),
    );
    s
}

/// The provider turned on proxy protocol v2 to log client addresses; the service behind
/// it (HTTP on 8443, health check GET /healthz on the traffic port) does not parse the
/// header, so the NLB's health checks get 400 and every target is unhealthy.
fn ppv2_health_failures() -> Snapshot {
    let mut s = healthy();
    let tg = target_group(&mut s);
    tg.proxy_protocol_v2 = Some(true);
    tg.health_check.protocol = "HTTP".into();
    let Fact::Known(targets) = &mut tg.targets else {
        unreachable!()
    };
    for t in targets.iter_mut() {
        t.state = "unhealthy".into();
        t.reason = Some("Target.ResponseCodeMismatch".into());
        t.description = Some("Health checks failed with these codes: [400]".into());
    }
    if let Fact::Known(m) = &mut s.observability.metrics {
        for x in m.iter_mut() {
            match x.metric_name.as_str() {
                "HealthyHostCount" => x.points.iter_mut().for_each(|p| p.1 = 0.0),
                "UnHealthyHostCount" => x.points.iter_mut().for_each(|p| p.1 = 2.0),
                _ => {}
            }
        }
    }
    s
}

pub const ALB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/payments-web-alb/8e3a1f0c2b4d6e79";

/// The NLB fronts an internal ALB (an `alb`-type target group on 443) for static IPs;
/// the NLB has cross-zone on, but the ALB's own target group was set zonal: the ALB node
/// in us-east-1b, where that group has no healthy task, answers 503 to a third of the
/// requests.
fn alb_target_cross_zone_mismatch() -> Snapshot {
    let mut s = healthy();
    let tg = target_group(&mut s);
    tg.target_type = "alb".into();
    tg.protocol = "TCP".into();
    tg.health_check = HealthCheck {
        protocol: "HTTPS".into(),
        port: "traffic-port".into(),
    };
    tg.targets = Fact::Known(vec![TargetHealthFact {
        id: ALB_ARN.into(),
        port: PORT,
        state: "healthy".into(),
        reason: None,
        description: None,
        availability_zone: None,
        private_ip: None,
        security_group_ids: Fact::Known(vec![TARGET_SG.into()]),
    }]);
    s.provider.alb_target_groups = Fact::Known(vec![AlbTargetGroup {
        load_balancer_arn: ALB_ARN.into(),
        arn: "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/payments-web-tasks/5c1d7e9f3a2b4c68".into(),
        name: "payments-web-tasks".into(),
        cross_zone: Some("false".into()),
        attributes_missing: None,
    }]);
    s
}

fn no_notifications(s: &mut Snapshot) {
    s.provider.connection_notifications = Fact::Known(vec![]);
}

/// A new consumer's endpoint waits in pendingAcceptance (acceptance_required = true) and
/// the service has no connection notification: nobody on the provider side knows.
fn pending_acceptance_unnotified() -> Snapshot {
    let mut s = healthy();
    s.consumer.endpoint.state = "pendingAcceptance".into();
    if let Fact::Known(c) = &mut s.provider.connections {
        c[0].vpc_endpoint_state = "pendingAcceptance".into();
    }
    no_notifications(&mut s);
    s
}

/// The Connect notification exists, but its topic kept CreateTopic's owner-only policy:
/// the endpoint service cannot publish, so the next pending connection goes unseen.
fn notification_topic_refuses_vpce() -> Snapshot {
    let mut s = healthy();
    if let Fact::Known(n) = &mut s.provider.connection_notifications {
        n[0].topic_policy = Fact::Known(format!(
            r#"{{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:Subscribe","SNS:Publish"],"Resource":"{NOTIFICATION_TOPIC}","Condition":{{"StringEquals":{{"AWS:SourceOwner":"{PROVIDER_ACCOUNT}"}}}}}}]}}"#
        ));
    }
    s
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "port-allocation-errors",
            "About 120 consumers hold long-lived gRPC channels; a batch wave at 09:40 pushed past ~55,000 connections per NLB address to each target IP:port: PortAllocationErrorCount (mostly us-east-1a) while every target stays healthy.",
            port_allocation_errors(),
            Some("nlb-capacity"),
            &[("nlb-capacity", Fail)],
        ),
        Scenario::new(
            "endpoint-packets-dropped",
            "The targets stay healthy, but the endpoint's PacketsDropped has counted in every period since 09:25.",
            endpoint_packets_dropped(),
            None,
            &[("nlb-capacity", Warn)],
        ),
        Scenario::new(
            "ppv2-health-failures",
            "Proxy protocol v2 was enabled on the target group; the HTTP service does not parse the header and answers the NLB's HTTP health checks with 400: every target unhealthy.",
            ppv2_health_failures(),
            Some("target-health"),
            &[
                ("target-health", Fail),
                ("cross-zone", Skip),
                ("idle-timeout-resets", Skip),
            ],
        ),
        Scenario::new(
            "alb-target-cross-zone-mismatch",
            "The NLB fronts an internal ALB (alb-type target) with cross-zone on; the ALB's own target group has cross-zone off: intermittent 503s from the ALB node in the AZ without a healthy task.",
            alb_target_cross_zone_mismatch(),
            None,
            &[("cross-zone", Warn)],
        ),
        Scenario::new(
            "pending-acceptance-unnotified",
            "A new consumer's endpoint waits in pendingAcceptance and the service (acceptance_required = true) has no connection notification: nobody is told.",
            pending_acceptance_unnotified(),
            Some("endpoint-state"),
            &[
                ("endpoint-state", Fail),
                ("connection-acceptance", Fail),
                ("connect-probe", Skip),
            ],
        ),
        Scenario::new(
            "notification-topic-refuses-vpce",
            "The service's Connect notification goes to an SNS topic with CreateTopic's owner-only policy: vpce.amazonaws.com cannot publish, so pending connections would go unseen.",
            notification_topic_refuses_vpce(),
            None,
            &[("connection-acceptance", Warn)],
        ),
    ]
}
