//! Runbook 4 ("works in one AZ, fails in another"), second half: with cross-zone
//! load balancing off, an endpoint ENI only reaches targets in its own AZ, so every
//! AZ ID holding an endpoint ENI needs a healthy target of its own.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::model::{eq_wire, AlbTargetGroup, LoadBalancer, Snapshot, TargetGroup, View};
use crate::net::az::{health_by_zone, zone_serves, AzMap, TargetZone};
use crate::net::nlb::{path_behind_ports, PathBehindPorts};
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "cross-zone",
    title: "Cross-zone load balancing on, or healthy targets in every endpoint AZ",
    source: "seed: Step 1 (cross-zone), Scaling (cross-zone load balancing), Troubleshooting runbook 4",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.load_balancers[].attributes.cross_zone_enabled",
        "provider.target_groups[].cross_zone",
        "provider.target_groups[].targets",
        "provider.alb_target_groups",
        "provider.az_map",
        "provider.subnets",
        "consumer.endpoint_enis",
        "consumer.az_map",
        "consumer.subnets",
    ],
    consumer_actions: &[
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeSubnets",
    ],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetHealth",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeSubnets",
    ],
    docs_url: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#cross-zone-load-balancing",
    doc: CheckDoc {
        what_it_checks: "For every target group behind the ports under test, whether cross-zone load balancing \
is in effect: the target group's `load_balancing.cross_zone.enabled` (`true`, `false`, or the default \
`use_load_balancer_configuration`, which defers to the NLB's attribute of the same name). Where it is off, every \
AZ ID that holds an endpoint ENI (consumer names translated to IDs in the consumer account) must have a healthy \
target (provider names translated in the provider account). Passes with a note when it is off but every endpoint \
AZ is covered: a deliberate zonal-isolation design is legitimate. Skipped when target-health failed, or when \
nlb-listener failed and no listener on the ports forwards to a target group. In the provider view (`--service`), \
where the endpoint's ENIs are not visible: passes when every AZ of the service has a healthy target (an endpoint \
can only have ENIs in the service's AZs), fails when the connection's zonal DNS names show as many AZs as the \
service has, and is unknown otherwise. For `alb`-type target groups with cross-zone on: warns when a target \
group of the ALB itself has `load_balancing.cross_zone.enabled` = `false` (DescribeTargetGroups by the ALB's \
ARN, DescribeTargetGroupAttributes).",
        why_it_matters: "An NLB is zonal by default: the endpoint ENI in one AZ only sends to targets in the same \
physical AZ. With cross-zone off and no healthy target in an ENI's AZ, clients resolving to that ENI fail while \
the others work: the seed's \"works in one AZ, fails in another\". AZ names cannot be compared across accounts; \
only AZ IDs can. Behind an ALB target, the NLB sends to the ALB's nodes in every AZ; an ALB target group with \
cross-zone off only serves from its own AZ, so the node in an AZ without a healthy target answers 503: intermittent \
503s that no NLB metric explains.",
        how_to_fix: "Turn cross-zone on for the NLB: `aws elbv2 modify-load-balancer-attributes --load-balancer-arn \
<nlb-arn> --attributes Key=load_balancing.cross_zone.enabled,Value=true` (Terraform: \
`enable_cross_zone_load_balancing = true` on `aws_lb`), and on a target group that overrides it: \
`aws elbv2 modify-target-group-attributes --target-group-arn <tg-arn> --attributes \
Key=load_balancing.cross_zone.enabled,Value=true` (Terraform: `load_balancing_cross_zone_enabled` on \
`aws_lb_target_group`). Cross-zone traffic incurs inter-AZ data charges, paid by the load balancer owner. \
Or, for zonal isolation, register healthy targets in every AZ ID the consumers' ENIs use. ALB target groups: \
`aws elbv2 modify-target-group-attributes --target-group-arn <alb-tg-arn> --attributes \
Key=load_balancing.cross_zone.enabled,Value=true`.",
    },
};

/// Is cross-zone in effect for `tg`, and which setting decided it.
fn effective_cross_zone(
    tg: &TargetGroup,
    lbs: &[&LoadBalancer],
) -> Result<(bool, String), Outcome> {
    if let (None, Some(m)) = (&tg.cross_zone, &tg.attributes_missing) {
        // Without the target group's own setting the load balancer's cannot be assumed:
        // the target group may override it either way.
        return Err(Outcome::missing(
            &format!("the attributes of target group {}", tg.name),
            m,
        ));
    }
    match tg.cross_zone.as_deref() {
        Some(v) if v.eq_ignore_ascii_case("true") => {
            return Ok((true, format!("target group {} sets it to true", tg.name)))
        }
        Some(v) if v.eq_ignore_ascii_case("false") => {
            return Ok((false, format!("target group {} sets it to false", tg.name)))
        }
        _ => {}
    }
    let lb = lbs
        .iter()
        .find(|lb| tg.load_balancer_arns.contains(&lb.arn))
        .or(lbs.first())
        .ok_or_else(|| Outcome::unknown(format!("no load balancer found for {}", tg.name)))?;
    let attrs = match &lb.attributes {
        crate::Fact::Known(a) => a,
        crate::Fact::Absent(m) => {
            return Err(Outcome::missing(
                &format!("the attributes of {}", lb.name),
                m,
            ))
        }
    };
    Ok((
        attrs.cross_zone_enabled,
        format!(
            "{} has load_balancing.cross_zone.enabled = {} and {} uses the load balancer's setting",
            lb.name, attrs.cross_zone_enabled, tg.name
        ),
    ))
}

/// The commands that turn cross-zone on where it is off: on the NLBs, and on target
/// groups that override them with `false`.
fn turn_on_commands(nlbs: &[&LoadBalancer], off: &[&TargetGroup]) -> Vec<String> {
    let mut fixes = Vec::new();
    for lb in nlbs {
        if lb.attributes.known().is_some_and(|a| !a.cross_zone_enabled) {
            fixes.push(format!(
                "aws elbv2 modify-load-balancer-attributes --load-balancer-arn {} --attributes Key=load_balancing.cross_zone.enabled,Value=true (Terraform: enable_cross_zone_load_balancing = true on the aws_lb of {})",
                lb.arn, lb.name
            ));
        }
    }
    for tg in off {
        if tg
            .cross_zone
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
        {
            fixes.push(format!(
                "aws elbv2 modify-target-group-attributes --target-group-arn {} --attributes Key=load_balancing.cross_zone.enabled,Value=true (Terraform: load_balancing_cross_zone_enabled = \"true\" on aws_lb_target_group)",
                tg.arn
            ));
        }
    }
    fixes
}

/// The provider view: the endpoint's ENIs are not visible, only how many AZs its
/// connection's zonal DNS names name (in the consumer's AZ naming, which the provider
/// cannot map to AZ IDs). What still decides it: an endpoint can only have ENIs in the
/// service's AZs, so healthy targets in every service AZ serve it wherever it is; and an
/// endpoint with ENIs in as many AZs as the service has is in every one of them.
fn provider_view(
    s: &crate::model::Snapshot,
    nlbs: &[&LoadBalancer],
    off: &[&TargetGroup],
    settings: Vec<serde_json::Value>,
) -> Outcome {
    let provider_map = AzMap::provider(s);
    let mut service_zones: Vec<(String, String)> = Vec::new();
    for lb in nlbs {
        for z in &lb.availability_zones {
            match provider_map.id_of(&z.zone_name) {
                Ok(id) => {
                    if !service_zones.iter().any(|(_, i)| i == id) {
                        service_zones.push((z.zone_name.clone(), id.to_owned()));
                    }
                }
                Err(err) => {
                    return Outcome::unknown(format!(
                        "cannot place the NLB zone {} of {} by AZ ID: {err}",
                        z.zone_name, lb.name
                    ))
                    .evidence("cross_zone", settings)
                }
            }
        }
    }
    service_zones.sort();
    let mut uncovered: Vec<(&TargetGroup, String, String)> = Vec::new();
    for tg in off {
        let targets = known_or_unknown!(&tg.targets, &format!("the target health of {}", tg.name));
        let by_zone = health_by_zone(&provider_map, targets);
        for (name, id) in &service_zones {
            if !zone_serves(&by_zone, id) {
                uncovered.push((tg, name.clone(), id.clone()));
            }
        }
    }
    let ep = &s.consumer.endpoint;
    let endpoint_zones: Vec<String> = s
        .provider
        .connections
        .known()
        .and_then(|cs| cs.iter().find(|c| c.vpc_endpoint_id == ep.id))
        .map(|c| c.availability_zones.clone())
        .unwrap_or_default();
    let zone_list = service_zones
        .iter()
        .map(|(n, i)| format!("{n} ({i})"))
        .collect::<Vec<_>>()
        .join(", ");
    let coverage = serde_json::json!({
        "service_zones": service_zones.iter().map(|(n, i)| serde_json::json!({"provider_az": n, "az_id": i})).collect::<Vec<_>>(),
        "zones_without_healthy_target": uncovered.iter().map(|(tg, n, i)| serde_json::json!({"target_group": tg.name, "provider_az": n, "az_id": i})).collect::<Vec<_>>(),
        "endpoint_zones_consumer_names": endpoint_zones,
    });
    if uncovered.is_empty() {
        return Outcome::pass(format!(
            "cross-zone load balancing is off, but every AZ of the service ({zone_list}) has a healthy target: the endpoint's ENIs can only be in those AZs"
        ))
        .detail("zonal isolation is a legitimate design (seed: Scaling), as long as each AZ keeps enough healthy capacity: when an AZ loses its last healthy target, the endpoint ENIs there fail while the others work")
        .evidence("cross_zone", settings)
        .evidence("provider_view_coverage", coverage);
    }
    let gaps = uncovered
        .iter()
        .map(|(tg, n, i)| format!("{} has no healthy target in {n} ({i})", tg.name))
        .collect::<Vec<_>>()
        .join("; ");
    let fix = format!(
        "Provider: turn cross-zone load balancing on: {}. Inter-AZ traffic is then billed to the load balancer owner. Or get a healthy target into every AZ of the service (see target-health).",
        turn_on_commands(nlbs, off).join("; ")
    );
    if !service_zones.is_empty() && endpoint_zones.len() >= service_zones.len() {
        return Outcome::fail(format!(
            "works in one AZ, fails in another: cross-zone load balancing is off and {gaps}; {} has ENIs in {} AZs ({}, the consumer's names), as many as the service has, so one of them is in each service AZ",
            ep.id,
            endpoint_zones.len(),
            endpoint_zones.join(", ")
        ))
        .evidence("cross_zone", settings)
        .evidence("provider_view_coverage", coverage)
        .remediation(fix);
    }
    Outcome::unknown(format!(
        "cross-zone load balancing is off and {gaps}; whether {} has an ENI there is not visible with the provider's credentials: {}",
        ep.id,
        if endpoint_zones.is_empty() {
            "its connection names no AZ".to_owned()
        } else {
            format!(
                "its connection names {} of the service's {} AZs ({}, in the consumer account's naming, which only the consumer can map to AZ IDs)",
                endpoint_zones.len(),
                service_zones.len(),
                endpoint_zones.join(", ")
            )
        }
    ))
    .detail(format!(
        "run pl-doctor --endpoint {} with the consumer account's credentials to place its ENIs by AZ ID",
        ep.id
    ))
    .evidence("cross_zone", settings)
    .evidence("provider_view_coverage", coverage)
    .remediation(fix)
}

pub fn evaluate(ctx: &Context) -> Outcome {
    if let Some(p) = ctx.failed_prerequisite(&["target-health"]) {
        return Outcome::skip(format!("prerequisite {} failed: {}", p.id, p.summary));
    }
    let s = ctx.snapshot;
    let PathBehindPorts {
        nlbs,
        target_groups: tg_arns,
        ..
    } = match path_behind_ports(ctx) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let all_tgs = known_or_unknown!(
        &s.provider.target_groups,
        "the target groups (provider.target_groups)"
    );
    let tgs: Vec<&TargetGroup> = all_tgs
        .iter()
        .filter(|t| tg_arns.contains(&t.arn))
        .collect();
    if tgs.is_empty() {
        return Outcome::skip(match ctx.failed_prerequisite(&["nlb-listener"]) {
            Some(p) => format!("prerequisite nlb-listener failed: {}", p.summary),
            None => "no target group behind the ports under test (see nlb-listener)".into(),
        });
    }

    let mut settings = Vec::new();
    let mut off: Vec<&TargetGroup> = Vec::new();
    let mut on: Vec<&TargetGroup> = Vec::new();
    for tg in &tgs {
        match effective_cross_zone(tg, &nlbs.found) {
            Ok((is_on, why)) => {
                settings.push(
                    json!({ "target_group": tg.name, "cross_zone": is_on, "decided_by": why }),
                );
                if is_on {
                    on.push(tg);
                } else {
                    off.push(tg);
                }
            }
            Err(o) => return o,
        }
    }
    let alb = match alb_mismatches(s, &on) {
        Ok(m) => m,
        Err(o) => return o,
    };
    if off.is_empty() {
        return with_alb_mismatches(
            Outcome::pass(
                "cross-zone load balancing is on: every endpoint ENI reaches healthy targets in any AZ",
            ),
            &alb,
        )
        .evidence("cross_zone", settings);
    }

    if s.inputs.view == View::Provider && s.consumer.endpoint_enis.known().is_none() {
        return provider_view(s, &nlbs.found, &off, settings);
    }
    let enis = known_or_unknown!(
        &s.consumer.endpoint_enis,
        "the endpoint's network interfaces (consumer.endpoint_enis)"
    );
    let consumer_map = AzMap::consumer(s);
    let provider_map = AzMap::provider(s);
    let mut eni_zones = Vec::new();
    for e in enis {
        match consumer_map.id_of(&e.availability_zone) {
            Ok(id) => eni_zones.push((e, id.to_owned())),
            Err(err) => {
                return Outcome::unknown(format!(
                    "cannot place endpoint ENI {} by AZ ID: {err}",
                    e.id
                ))
            }
        }
    }

    let mut gaps = Vec::new();
    let mut coverage = Vec::new();
    for tg in &off {
        let targets = known_or_unknown!(&tg.targets, &format!("the target health of {}", tg.name));
        let by_zone = health_by_zone(&provider_map, targets);
        let healthy_ids: Vec<String> = by_zone
            .iter()
            .filter(|(_, c)| c.healthy > 0)
            .map(|(z, c)| format!("{z} ({} healthy)", c.healthy))
            .collect();
        for (eni, az_id) in &eni_zones {
            let served = zone_serves(&by_zone, az_id);
            let provider_name = provider_map.name_of(az_id).ok().map(str::to_owned);
            coverage.push(json!({
                "target_group": tg.name,
                "eni": eni.id,
                "eni_ip": eni.private_ip,
                "consumer_az": eni.availability_zone,
                "az_id": az_id,
                "provider_az": provider_name,
                "healthy_targets": by_zone.iter()
                    .filter(|(z, _)| matches!(z, TargetZone::Id(id) if id == az_id) || **z == TargetZone::All)
                    .map(|(_, c)| c.healthy).sum::<usize>(),
                "served": served,
            }));
            if !served {
                gaps.push((tg, *eni, az_id.clone(), provider_name, healthy_ids.clone()));
            }
        }
    }

    let out = if gaps.is_empty() {
        Outcome::pass(
            "cross-zone load balancing is off, but every AZ ID with an endpoint ENI has a healthy target of its own",
        )
        .detail("zonal isolation is a legitimate design (seed: Scaling), as long as each AZ keeps enough healthy capacity: when an AZ loses its last healthy target, the endpoint ENI there fails while the others work")
    } else {
        let what = gaps
            .iter()
            .map(|(tg, eni, id, pname, _)| {
                format!(
                    "ENI {} ({}, consumer {} = {id}{}) has no healthy target in {}",
                    eni.id,
                    eni.private_ip,
                    eni.availability_zone,
                    pname
                        .as_ref()
                        .map(|n| format!(" = provider {n}"))
                        .unwrap_or_default(),
                    tg.name
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let fixes = turn_on_commands(&nlbs.found, &off);
        let zones: Vec<String> = gaps
            .iter()
            .map(|(_, _, id, pname, _)| match pname {
                Some(n) => format!("{id} (the provider's {n})"),
                None => id.clone(),
            })
            .collect();
        let mut zones_dedup = zones.clone();
        zones_dedup.dedup();
        Outcome::fail(format!(
            "works in one AZ, fails in another: cross-zone load balancing is off and {what}"
        ))
        .details(gaps.iter().map(|(tg, _, _, _, healthy)| {
            format!("{} has healthy targets only in: {}", tg.name, if healthy.is_empty() { "none".into() } else { healthy.join(", ") })
        }))
        .remediation(format!(
            "Provider: turn cross-zone load balancing on: {}. Inter-AZ traffic is then billed to the load balancer owner. Or, for zonal isolation, get a healthy target into {} (see target-health for why the ones there are not healthy).",
            fixes.join("; "),
            zones_dedup.join(", ")
        ))
    };
    with_alb_mismatches(out, &alb)
        .evidence("cross_zone", settings)
        .evidence("endpoint_az_coverage", coverage)
}

/// An ALB registered behind the NLB (an `alb`-type target) with a target group of its own
/// whose cross-zone load balancing is off.
struct AlbMismatch<'a> {
    nlb_target_group: &'a TargetGroup,
    alb_target_group: &'a AlbTargetGroup,
}

/// ALB targets of the cross-zone target groups whose own target groups turn cross-zone
/// off: the NLB spreads connections over every ALB node, and a node in an AZ without a
/// healthy target of its (zonal) target group answers 503. `unknown` when the ALB's
/// target groups were not collected.
fn alb_mismatches<'a>(
    s: &'a Snapshot,
    cross_zone_on: &[&'a TargetGroup],
) -> Result<Vec<AlbMismatch<'a>>, Outcome> {
    let alb_tgs: Vec<&&TargetGroup> = cross_zone_on
        .iter()
        .filter(|t| eq_wire(&t.target_type, "alb"))
        .collect();
    if alb_tgs.is_empty() {
        return Ok(vec![]);
    }
    let behind = known_or_unknown_result(&s.provider.alb_target_groups)?;
    let mut out = Vec::new();
    for tg in alb_tgs {
        let Some(targets) = tg.targets.known() else {
            continue;
        };
        for t in targets {
            for atg in behind.iter().filter(|a| a.load_balancer_arn == t.id) {
                if let (None, Some(m)) = (&atg.cross_zone, &atg.attributes_missing) {
                    return Err(Outcome::missing(
                        &format!("the attributes of the ALB's target group {}", atg.name),
                        m,
                    ));
                }
                if atg
                    .cross_zone
                    .as_deref()
                    .is_some_and(|v| eq_wire(v, "false"))
                {
                    out.push(AlbMismatch {
                        nlb_target_group: tg,
                        alb_target_group: atg,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn known_or_unknown_result(
    f: &crate::fact::Fact<Vec<AlbTargetGroup>>,
) -> Result<&Vec<AlbTargetGroup>, Outcome> {
    f.as_result().map_err(|m| {
        Outcome::missing(
            "the target groups of the ALB targets (provider.alb_target_groups)",
            m,
        )
    })
}

/// A pass becomes a warn when an ALB target's own target group is zonal.
fn with_alb_mismatches(o: Outcome, mismatches: &[AlbMismatch]) -> Outcome {
    if mismatches.is_empty() {
        return o;
    }
    let what = mismatches
        .iter()
        .map(|m| {
            format!(
                "{} (behind {}) has cross-zone off",
                m.alb_target_group.name, m.nlb_target_group.name
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let fix = mismatches
        .iter()
        .map(|m| {
            format!(
                "aws elbv2 modify-target-group-attributes --target-group-arn {} --attributes Key=load_balancing.cross_zone.enabled,Value=true",
                m.alb_target_group.arn
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let detail = format!("the NLB balances across every AZ, but the ALB's target group {what}: the ALB node in an AZ without a healthy target of that group answers 503, so clients see intermittent 503s");
    let evidence: Vec<serde_json::Value> = mismatches
        .iter()
        .map(|m| {
            json!({
                "nlb_target_group": m.nlb_target_group.name,
                "alb": m.alb_target_group.load_balancer_arn,
                "alb_target_group": m.alb_target_group.name,
                "alb_target_group_arn": m.alb_target_group.arn,
                "cross_zone": m.alb_target_group.cross_zone,
            })
        })
        .collect();
    let alb_fix = format!("Turn cross-zone on for the ALB's target groups too (Terraform: load_balancing_cross_zone_enabled = \"true\" on their aws_lb_target_group): {fix}.");
    let o = if o.status == crate::check::Status::Pass {
        let mut w = Outcome::warn(format!(
            "intermittent 503s likely: the NLB has cross-zone on, but {what}"
        ));
        w.details = o.details;
        w.evidence = o.evidence;
        w.remediation(alb_fix)
    } else {
        let r = match &o.remediation {
            Some(r) => format!("{r}\n{alb_fix}"),
            None => alb_fix,
        };
        o.remediation(r)
    };
    o.detail(detail)
        .evidence("alb_target_cross_zone_mismatch", evidence)
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

    fn cross_zone_off(s: &mut Snapshot) {
        let Fact::Known(lbs) = &mut s.provider.load_balancers else {
            unreachable!()
        };
        let Fact::Known(a) = &mut lbs[0].attributes else {
            unreachable!()
        };
        a.cross_zone_enabled = false;
    }

    fn tg(s: &mut Snapshot) -> &mut TargetGroup {
        let Fact::Known(tgs) = &mut s.provider.target_groups else {
            unreachable!()
        };
        &mut tgs[0]
    }

    #[test]
    fn healthy_bases_pass() {
        assert_eq!(run(&base::healthy()).status, Status::Pass);
        assert_eq!(run(&base::enterprise()).status, Status::Pass);
    }

    #[test]
    fn off_with_every_eni_az_covered_passes_with_a_note() {
        let mut s = base::healthy();
        cross_zone_off(&mut s);
        let o = run(&s);
        assert_eq!(o.status, Status::Pass);
        assert!(o.details[0].contains("zonal isolation"));
    }

    #[test]
    fn off_with_an_uncovered_eni_az_fails_by_az_id_not_name() {
        let mut s = base::healthy();
        cross_zone_off(&mut s);
        // The provider's us-east-1b is use1-az1: the consumer's us-east-1a ENI.
        let Fact::Known(t) = &mut tg(&mut s).targets else {
            unreachable!()
        };
        t[1].state = "unhealthy".into();
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("eni-0a1a2a3a4a5a6a7a8"), "{}", o.summary);
        assert!(
            o.summary.contains("use1-az1 = provider us-east-1b"),
            "{}",
            o.summary
        );
        let fix = o.remediation.unwrap();
        assert!(fix.contains(&format!("--load-balancer-arn {} --attributes Key=load_balancing.cross_zone.enabled,Value=true", base::NLB_ARN)), "{fix}");
        assert!(
            fix.contains("inter-AZ") || fix.contains("Inter-AZ"),
            "{fix}"
        );
    }

    #[test]
    fn target_group_override_beats_the_load_balancer_attribute() {
        let mut s = base::healthy();
        tg(&mut s).cross_zone = Some("false".into());
        let Fact::Known(t) = &mut tg(&mut s).targets else {
            unreachable!()
        };
        t[0].state = "unhealthy".into();
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o
            .remediation
            .unwrap()
            .contains("modify-target-group-attributes"));

        let mut s = base::healthy();
        cross_zone_off(&mut s);
        tg(&mut s).cross_zone = Some("true".into());
        let Fact::Known(t) = &mut tg(&mut s).targets else {
            unreachable!()
        };
        t[0].state = "unhealthy".into();
        assert_eq!(run(&s).status, Status::Pass);
    }

    #[test]
    fn an_unread_target_group_setting_is_unknown_not_the_load_balancers() {
        // With the load balancer's cross-zone off, the target group could override it
        // either way: assuming the load balancer's would be a guess.
        let mut s = base::healthy();
        cross_zone_off(&mut s);
        tg(&mut s).cross_zone = None;
        tg(&mut s).attributes_missing = Some(crate::Missing::AccessDenied {
            action: "elasticloadbalancing:DescribeTargetGroupAttributes".into(),
            message: None,
        });
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(
            o.summary.contains("DescribeTargetGroupAttributes"),
            "{}",
            o.summary
        );
    }

    #[test]
    fn unknown_attributes_are_unknown_and_failed_target_health_skips() {
        let mut s = base::healthy();
        let Fact::Known(lbs) = &mut s.provider.load_balancers else {
            unreachable!()
        };
        lbs[0].attributes = Fact::Absent(crate::Missing::AccessDenied {
            action: "elasticloadbalancing:DescribeLoadBalancerAttributes".into(),
            message: None,
        });
        assert_eq!(run(&s).status, Status::Unknown);

        let prior = [CheckResult {
            id: "target-health".into(),
            step: 9,
            title: String::new(),
            status: Status::Fail,
            summary: "no healthy target".into(),
            details: vec![],
            evidence: Default::default(),
            remediation: None,
            fingerprint: None,
            changes: None,
        }];
        let o = evaluate(&Context::new(
            &base::healthy(),
            &EvalOptions::default(),
            &prior,
        ));
        assert_eq!(o.status, Status::Skip);
        assert!(o.summary.contains("prerequisite target-health failed"));
    }
}
