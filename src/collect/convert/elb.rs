//! Elastic Load Balancing v2 replies → snapshot model. Pure, unit-tested with SDK builders.

use super::{ip, req, Unreadable};
use aws_sdk_elasticloadbalancingv2::types as elb;
use pl_checks::fact::{Fact, Missing};
use pl_checks::model::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `load_balancing.cross_zone.enabled`, on the NLB and on target groups.
pub const CROSS_ZONE_KEY: &str = "load_balancing.cross_zone.enabled";
/// `tcp.idle_timeout.seconds` on NLB TCP listeners.
pub const TCP_IDLE_TIMEOUT_KEY: &str = "tcp.idle_timeout.seconds";

/// An NLB with the facts that come from other calls (attributes, listeners) already
/// gathered. `eni_addresses` are the private IPs of the NLB's own ENIs per subnet, for
/// NLBs whose LoadBalancerAddresses do not list them (internal NLBs with AWS-picked IPs).
pub fn load_balancer(
    lb: &elb::LoadBalancer,
    attributes: Fact<LbAttributes>,
    listeners: Fact<Vec<Listener>>,
    eni_addresses: &BTreeMap<String, Vec<IpAddr>>,
) -> Result<LoadBalancer, Unreadable> {
    let zones = lb
        .availability_zones()
        .iter()
        .map(|z| {
            let subnet_id = z.subnet_id().unwrap_or_default().to_owned();
            let mut addrs: Vec<IpAddr> = z
                .load_balancer_addresses()
                .iter()
                .filter_map(|a| a.private_ipv4_address())
                .map(ip)
                .collect::<Result<_, _>>()?;
            if addrs.is_empty() {
                addrs = eni_addresses.get(&subnet_id).cloned().unwrap_or_default();
            }
            Ok(LbZone {
                zone_name: z.zone_name().unwrap_or_default().to_owned(),
                subnet_id,
                private_ipv4_addresses: addrs,
            })
        })
        .collect::<Result<_, Unreadable>>()?;
    let security_group_ids = lb.security_groups().to_vec();
    Ok(LoadBalancer {
        arn: req(lb.load_balancer_arn(), "LoadBalancerArn")?.to_owned(),
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        lb_type: lb
            .r#type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        scheme: lb
            .scheme()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        ip_address_type: lb.ip_address_type().map(|t| t.as_str().to_owned()),
        state: lb
            .state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        vpc_id: lb.vpc_id().unwrap_or_default().to_owned(),
        availability_zones: zones,
        enforce_sg_inbound_rules_on_privatelink: if security_group_ids.is_empty() {
            None
        } else {
            lb.enforce_security_group_inbound_rules_on_private_link_traffic()
                .map(str::to_owned)
        },
        security_group_ids,
        attributes,
        listeners,
    })
}

/// The ENI description AWS gives an NLB's network interfaces: `ELB net/<name>/<id>`.
pub fn nlb_eni_description(lb_arn: &str) -> Option<String> {
    lb_arn
        .split_once(":loadbalancer/")
        .map(|(_, suffix)| format!("ELB {suffix}"))
}

pub fn attributes_map<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
        .collect()
}

pub fn lb_attributes(attrs: &[elb::LoadBalancerAttribute]) -> LbAttributes {
    let raw = attributes_map(attrs.iter().map(|a| (a.key(), a.value())));
    LbAttributes {
        // AWS's default for NLBs is off; the attribute is always listed, but be explicit.
        cross_zone_enabled: raw.get(CROSS_ZONE_KEY).is_some_and(|v| v == "true"),
        raw,
    }
}

/// The TCP idle timeout of a listener, when its attributes list it.
pub fn listener_idle_timeout(attrs: &[elb::ListenerAttribute]) -> Option<u32> {
    attrs
        .iter()
        .find(|a| a.key() == Some(TCP_IDLE_TIMEOUT_KEY))
        .and_then(|a| a.value())
        .and_then(|v| v.parse().ok())
}

pub fn target_group_cross_zone(attrs: &[elb::TargetGroupAttribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.key() == Some(CROSS_ZONE_KEY))
        .and_then(|a| a.value())
        .map(str::to_owned)
}

/// `proxy_protocol_v2.enabled`: whether the NLB prepends the PPv2 header (to health checks too).
pub fn target_group_proxy_protocol_v2(attrs: &[elb::TargetGroupAttribute]) -> Option<bool> {
    attrs
        .iter()
        .find(|a| a.key() == Some("proxy_protocol_v2.enabled"))
        .and_then(|a| a.value())
        .map(|v| v.eq_ignore_ascii_case("true"))
}

/// The target-group attributes the checks read: cross-zone and proxy protocol v2.
pub type TargetGroupAttrs = (Option<String>, Option<bool>);

pub fn target_group_attrs(attrs: &[elb::TargetGroupAttribute]) -> TargetGroupAttrs {
    (
        target_group_cross_zone(attrs),
        target_group_proxy_protocol_v2(attrs),
    )
}

/// `idle_timeout`: the listener's attribute as read, or why it could not be.
pub fn listener(
    l: &elb::Listener,
    idle_timeout: Result<Option<u32>, Missing>,
) -> Result<Listener, Unreadable> {
    let (tcp_idle_timeout_seconds, attributes_missing) = split(idle_timeout);
    let port = req(l.port(), "Port")?;
    Ok(Listener {
        arn: req(l.listener_arn(), "ListenerArn")?.to_owned(),
        port: u16::try_from(port).map_err(|_| Unreadable(format!("listener port {port}")))?,
        protocol: l
            .protocol()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        default_actions: l.default_actions().iter().map(action).collect(),
        tcp_idle_timeout_seconds,
        attributes_missing,
    })
}

fn action(a: &elb::Action) -> ListenerAction {
    let mut arns: Vec<String> = a
        .target_group_arn()
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(fwd) = a.forward_config() {
        for tg in fwd.target_groups() {
            if let Some(arn) = tg.target_group_arn() {
                if !arns.iter().any(|x| x == arn) {
                    arns.push(arn.to_owned());
                }
            }
        }
    }
    ListenerAction {
        action_type: a
            .r#type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        target_group_arns: arns,
    }
}

/// An attribute as read (`Ok`, possibly unset) or why it could not be.
fn split<T>(r: Result<Option<T>, Missing>) -> (Option<T>, Option<Missing>) {
    match r {
        Ok(v) => (v, None),
        Err(m) => (None, Some(m)),
    }
}

/// `attributes`: the target group's attributes as read, or why they could not be.
pub fn target_group(
    tg: &elb::TargetGroup,
    attributes: Result<TargetGroupAttrs, Missing>,
    targets: Fact<Vec<TargetHealthFact>>,
) -> Result<TargetGroup, Unreadable> {
    let (cross_zone, proxy_protocol_v2, attributes_missing) = match attributes {
        Ok((c, p)) => (c, p, None),
        Err(m) => (None, None, Some(m)),
    };
    let port = tg.port().unwrap_or_default();
    Ok(TargetGroup {
        arn: req(tg.target_group_arn(), "TargetGroupArn")?.to_owned(),
        name: tg.target_group_name().unwrap_or_default().to_owned(),
        protocol: tg
            .protocol()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        port: u16::try_from(port).map_err(|_| Unreadable(format!("target group port {port}")))?,
        target_type: tg
            .target_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
        load_balancer_arns: tg.load_balancer_arns().to_vec(),
        health_check: HealthCheck {
            protocol: tg
                .health_check_protocol()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            port: tg.health_check_port().unwrap_or("traffic-port").to_owned(),
        },
        cross_zone,
        attributes_missing,
        targets,
        proxy_protocol_v2,
    })
}

/// Where a target sits, found by other calls (the instance, or the subnet holding the IP).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetPlacement {
    pub availability_zone: Option<String>,
    pub private_ip: Option<IpAddr>,
    pub security_group_ids: Option<Fact<Vec<String>>>,
}

pub fn target_health(
    d: &elb::TargetHealthDescription,
    placement: TargetPlacement,
) -> Result<TargetHealthFact, Unreadable> {
    let target = req(d.target(), "Target")?;
    let health = d.target_health();
    let port = target.port().unwrap_or_default();
    // TargetDescription.AvailabilityZone is `all` for IPs outside the VPC: no AZ then.
    let listed_az = target
        .availability_zone()
        .filter(|az| *az != "all")
        .map(str::to_owned);
    Ok(TargetHealthFact {
        id: req(target.id(), "Target.Id")?.to_owned(),
        port: u16::try_from(port).map_err(|_| Unreadable(format!("target port {port}")))?,
        state: req(
            health.and_then(|h| h.state()).map(|s| s.as_str()),
            "TargetHealth.State",
        )?
        .to_owned(),
        reason: health
            .and_then(|h| h.reason())
            .map(|r| r.as_str().to_owned()),
        description: health.and_then(|h| h.description()).map(str::to_owned),
        availability_zone: placement.availability_zone.or(listed_az),
        private_ip: placement.private_ip,
        security_group_ids: placement.security_group_ids.unwrap_or_else(|| {
            Fact::not_requested(
                "security groups of this target type are not collected by this version",
            )
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use elb::{
        Action, ActionTypeEnum, AvailabilityZone, ForwardActionConfig, LoadBalancerAddress,
        LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerState, LoadBalancerStateEnum,
        LoadBalancerTypeEnum, ProtocolEnum, TargetDescription, TargetGroupTuple, TargetHealth,
        TargetHealthReasonEnum, TargetHealthStateEnum,
    };

    const NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/payments-svc-nlb/50dc6c495c0c9188";

    #[test]
    fn nlb_addresses_come_from_the_reply_or_else_from_its_enis() {
        let lb = elb::LoadBalancer::builder()
            .load_balancer_arn(NLB)
            .load_balancer_name("payments-svc-nlb")
            .r#type(LoadBalancerTypeEnum::Network)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .state(
                LoadBalancerState::builder()
                    .code(LoadBalancerStateEnum::Active)
                    .build(),
            )
            .vpc_id("vpc-p")
            .availability_zones(
                AvailabilityZone::builder()
                    .zone_name("us-east-1a")
                    .subnet_id("subnet-a")
                    .load_balancer_addresses(
                        LoadBalancerAddress::builder()
                            .private_ipv4_address("10.1.1.10")
                            .build(),
                    )
                    .build(),
            )
            .availability_zones(
                AvailabilityZone::builder()
                    .zone_name("us-east-1b")
                    .subnet_id("subnet-b")
                    .build(),
            )
            .security_groups("sg-nlb")
            .enforce_security_group_inbound_rules_on_private_link_traffic("on")
            .build();
        let enis = BTreeMap::from([("subnet-b".to_string(), vec![ip("10.1.2.10").unwrap()])]);
        let m = load_balancer(
            &lb,
            Fact::Known(lb_attributes(&[])),
            Fact::Known(vec![]),
            &enis,
        )
        .unwrap();
        assert_eq!(
            (m.lb_type.as_str(), m.scheme.as_str(), m.state.as_str()),
            ("network", "internal", "active")
        );
        assert_eq!(
            m.availability_zones[0].private_ipv4_addresses,
            [ip("10.1.1.10").unwrap()]
        );
        assert_eq!(
            m.availability_zones[1].private_ipv4_addresses,
            [ip("10.1.2.10").unwrap()]
        );
        assert_eq!(
            m.enforce_sg_inbound_rules_on_privatelink.as_deref(),
            Some("on")
        );
        assert_eq!(
            nlb_eni_description(NLB).as_deref(),
            Some("ELB net/payments-svc-nlb/50dc6c495c0c9188")
        );
    }

    #[test]
    fn enforce_flag_is_absent_for_an_nlb_without_security_groups() {
        let lb = elb::LoadBalancer::builder()
            .load_balancer_arn(NLB)
            .enforce_security_group_inbound_rules_on_private_link_traffic("on")
            .build();
        let m = load_balancer(
            &lb,
            Fact::Known(lb_attributes(&[])),
            Fact::Known(vec![]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(m.enforce_sg_inbound_rules_on_privatelink, None);
    }

    #[test]
    fn attributes_read_cross_zone_and_idle_timeout() {
        let attrs = [
            LoadBalancerAttribute::builder()
                .key(CROSS_ZONE_KEY)
                .value("true")
                .build(),
            LoadBalancerAttribute::builder()
                .key("deletion_protection.enabled")
                .value("false")
                .build(),
        ];
        let a = lb_attributes(&attrs);
        assert!(a.cross_zone_enabled);
        assert_eq!(a.raw.len(), 2);
        assert!(!lb_attributes(&attrs[1..]).cross_zone_enabled);

        let l = [elb::ListenerAttribute::builder()
            .key(TCP_IDLE_TIMEOUT_KEY)
            .value("600")
            .build()];
        assert_eq!(listener_idle_timeout(&l), Some(600));
        assert_eq!(listener_idle_timeout(&[]), None);
        let t = [elb::TargetGroupAttribute::builder()
            .key(CROSS_ZONE_KEY)
            .value("false")
            .build()];
        assert_eq!(target_group_cross_zone(&t).as_deref(), Some("false"));
    }

    #[test]
    fn listener_actions_collect_target_groups_from_both_forms() {
        let l = elb::Listener::builder()
            .listener_arn("arn:listener")
            .port(8443)
            .protocol(ProtocolEnum::Tcp)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn("arn:tg1")
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn("arn:tg1")
                                    .build(),
                            )
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn("arn:tg2")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        let m = listener(&l, Ok(Some(350))).unwrap();
        assert_eq!((m.port, m.protocol.as_str()), (8443, "TCP"));
        assert_eq!(m.default_actions[0].action_type, "forward");
        assert_eq!(
            m.default_actions[0].target_group_arns,
            ["arn:tg1", "arn:tg2"]
        );
        assert_eq!(m.tcp_idle_timeout_seconds, Some(350));
        assert_eq!(m.attributes_missing, None);
        let denied = Missing::AccessDenied {
            action: "elasticloadbalancing:DescribeListenerAttributes".into(),
            message: None,
        };
        let m = listener(&l, Err(denied.clone())).unwrap();
        assert_eq!(m.tcp_idle_timeout_seconds, None);
        assert_eq!(m.attributes_missing, Some(denied), "the reason is kept");
    }

    #[test]
    fn target_health_keeps_reason_codes_and_placement() {
        let d = elb::TargetHealthDescription::builder()
            .target(
                TargetDescription::builder()
                    .id("10.1.1.100")
                    .port(8443)
                    .availability_zone("all")
                    .build(),
            )
            .target_health(
                TargetHealth::builder()
                    .state(TargetHealthStateEnum::Unhealthy)
                    .reason(TargetHealthReasonEnum::FailedHealthChecks)
                    .description("Health checks failed")
                    .build(),
            )
            .build();
        let t = target_health(
            &d,
            TargetPlacement {
                availability_zone: Some("us-east-1a".into()),
                private_ip: Some(ip("10.1.1.100").unwrap()),
                security_group_ids: Some(Fact::Known(vec!["sg-t".into()])),
            },
        )
        .unwrap();
        assert_eq!(t.state, "unhealthy");
        assert_eq!(t.reason.as_deref(), Some("Target.FailedHealthChecks"));
        assert_eq!(t.availability_zone.as_deref(), Some("us-east-1a"));
        assert_eq!(t.security_group_ids, Fact::Known(vec!["sg-t".into()]));

        let unplaced = target_health(&d, TargetPlacement::default()).unwrap();
        assert_eq!(unplaced.availability_zone, None, "`all` is not an AZ");
        assert!(unplaced.security_group_ids.known().is_none());
    }

    #[test]
    fn target_group_defaults_health_check_port_to_traffic_port() {
        let tg = elb::TargetGroup::builder()
            .target_group_arn("arn:tg")
            .target_group_name("tg")
            .protocol(ProtocolEnum::Tcp)
            .port(8443)
            .target_type(elb::TargetTypeEnum::Ip)
            .health_check_protocol(ProtocolEnum::Tcp)
            .load_balancer_arns(NLB)
            .build();
        let m = target_group(
            &tg,
            Ok((Some("use_load_balancer_configuration".into()), Some(true))),
            Fact::Known(vec![]),
        )
        .unwrap();
        assert_eq!(m.proxy_protocol_v2, Some(true));
        assert_eq!(m.health_check.port, "traffic-port");
        assert_eq!(m.target_type, "ip");
        assert_eq!(m.load_balancer_arns, [NLB]);
    }
}
