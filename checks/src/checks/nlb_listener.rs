//! Step 1 of the seed: the service's NLB is internal, active, and listens on the
//! service port with a listener that forwards to a target group.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity, Status};
use crate::known_or_unknown;
use crate::model::{eq_wire, LoadBalancer};
use crate::net::nlb::service_nlbs;
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "nlb-listener",
    title: "Service NLB is internal and listens on the port",
    source: "seed: Step 1 (Front the service with an NLB)",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.service_configuration.network_load_balancer_arns",
        "provider.service_configuration.gateway_load_balancer_arns",
        "provider.load_balancers[].lb_type",
        "provider.load_balancers[].scheme",
        "provider.load_balancers[].state",
        "provider.load_balancers[].listeners",
        "inputs.ports",
    ],
    consumer_actions: &[],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
    ],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html",
    doc: CheckDoc {
        what_it_checks: "Every Network Load Balancer behind the endpoint service (its NetworkLoadBalancerArns): \
the type is `network`, the scheme is `internal`, the state is `active`, and there is a listener on every port under \
test (`--port`, else every listener port) whose default action forwards to a target group. With several NLBs, each \
endpoint ENI is pinned to one of them at random, so each NLB needs the same listeners.",
        why_it_matters: "The seed's Step 1: the NLB \"must be internal — PrivateLink targets the load balancer's \
private addresses\". A port with no listener is a port the service does not offer: the endpoint ENI accepts the \
client's packets but nothing behind it answers, which looks like a network timeout from the consumer side.",
        how_to_fix: "Missing listener (when the service really serves that port): \
`aws elbv2 create-target-group --name <name> --protocol TCP --port <port> --vpc-id <vpc-…> --target-type ip`, \
`aws elbv2 register-targets --target-group-arn <tg-arn> --targets Id=<ip>,Port=<port>`, then \
`aws elbv2 create-listener --load-balancer-arn <nlb-arn> --protocol TCP --port <port> \
--default-actions Type=forward,TargetGroupArn=<tg-arn>` (Terraform: `aws_lb_listener` with `port` and a \
`default_action { type = \"forward\" }`). If the client uses the wrong port, point it at a port the NLB listens on.\n\
Internet-facing NLB: the scheme cannot be changed. Create an internal NLB in the same subnets \
(`aws elbv2 create-load-balancer --name <name> --type network --scheme internal --subnets <subnet-…> …`; \
Terraform `internal = true` on `aws_lb`), recreate its listeners and target groups, then swap it into the service: \
`aws ec2 modify-vpc-endpoint-service-configuration --service-id <vpce-svc-…> --add-network-load-balancer-arns \
<new-arn> --remove-network-load-balancer-arns <old-arn>` (Terraform: `network_load_balancer_arns` on \
`aws_vpc_endpoint_service`).",
    },
};

struct Problem {
    status: Status,
    summary: String,
    fix: String,
}

fn shell_name(lb: &LoadBalancer, suffix: &str) -> String {
    // NLB and target group names are capped at 32 characters.
    let mut n: String = lb.name.chars().take(32 - suffix.len() - 1).collect();
    n.push('-');
    n.push_str(suffix);
    n
}

fn internet_facing_fix(service_id: &str, lb: &LoadBalancer, ports: &[u16]) -> String {
    let subnets: Vec<&str> = lb
        .availability_zones
        .iter()
        .map(|z| z.subnet_id.as_str())
        .collect();
    let listeners: Vec<String> = lb
        .listeners
        .known()
        .into_iter()
        .flatten()
        .filter(|l| ports.contains(&l.port))
        .map(|l| {
            let tgs: Vec<&str> = l
                .default_actions
                .iter()
                .flat_map(|a| a.target_group_arns.iter().map(String::as_str))
                .collect();
            format!(
                "aws elbv2 create-listener --load-balancer-arn \"$NEW_NLB_ARN\" --protocol {} --port {} --default-actions Type=forward,TargetGroupArn=<a target group with the targets of {}>",
                l.protocol,
                l.port,
                tgs.join(", ")
            )
        })
        .collect();
    format!(
        "{} is {} and an NLB's scheme cannot be changed: create an internal NLB in the same subnets and swap it into the service. \
NEW_NLB_ARN=$(aws elbv2 create-load-balancer --name {} --type network --scheme internal --subnets {} --query 'LoadBalancers[0].LoadBalancerArn' --output text); \
{}; then aws ec2 modify-vpc-endpoint-service-configuration --service-id {} --add-network-load-balancer-arns \"$NEW_NLB_ARN\" --remove-network-load-balancer-arns {}. \
Terraform: internal = true on the aws_lb (this replaces it) and network_load_balancer_arns on aws_vpc_endpoint_service.",
        lb.name,
        lb.scheme,
        shell_name(lb, "int"),
        subnets.join(" "),
        if listeners.is_empty() {
            "recreate its listeners on the new NLB (aws elbv2 create-listener)".to_owned()
        } else {
            listeners.join("; ")
        },
        service_id,
        lb.arn
    )
}

fn missing_listener_fix(lb: &LoadBalancer, port: u16, listening: &[u16]) -> String {
    let tg_name = shell_name(lb, &port.to_string());
    let mut fix = format!(
        "If the service really serves {port}: TG_ARN=$(aws elbv2 create-target-group --name {tg_name} --protocol TCP --port {port} --vpc-id {} --target-type ip --query 'TargetGroups[0].TargetGroupArn' --output text); aws elbv2 register-targets --target-group-arn \"$TG_ARN\" --targets Id=<target>,Port={port}; aws elbv2 create-listener --load-balancer-arn {} --protocol TCP --port {port} --default-actions Type=forward,TargetGroupArn=\"$TG_ARN\" (Terraform: aws_lb_listener with port = {port} and an aws_lb_target_group).",
        lb.vpc_id, lb.arn
    );
    if !listening.is_empty() {
        let ports: Vec<String> = listening.iter().map(u16::to_string).collect();
        fix.push_str(&format!(
            " If the client has the wrong port: {} listens on {}; use that port (and allow it on the endpoint security group).",
            lb.name,
            ports.join(", ")
        ));
    }
    fix
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let cfg = known_or_unknown!(
        &s.provider.service_configuration,
        "the endpoint service configuration (provider.service_configuration)"
    );
    if cfg.network_load_balancer_arns.is_empty() {
        let gwlb = !cfg.gateway_load_balancer_arns.is_empty();
        return Outcome::fail(if gwlb {
            format!(
                "{} is backed by a Gateway Load Balancer, not an NLB: Interface endpoints reach services behind an NLB",
                cfg.service_id
            )
        } else {
            format!("{} has no Network Load Balancer", cfg.service_id)
        })
        .evidence("service_id", &cfg.service_id)
        .evidence("gateway_load_balancer_arns", &cfg.gateway_load_balancer_arns)
        .remediation(format!(
            "Attach an internal NLB to the service: aws ec2 modify-vpc-endpoint-service-configuration --service-id {} --add-network-load-balancer-arns <internal NLB ARN> (Terraform: network_load_balancer_arns on aws_vpc_endpoint_service).",
            cfg.service_id
        ));
    }
    let nlbs = match service_nlbs(s) {
        Ok(n) => n,
        Err(o) => return o,
    };
    let ports = match ctx.ports() {
        Ok(p) => p,
        Err(why) => return Outcome::unknown(format!("no port to check: {why}")),
    };

    let mut problems: Vec<Problem> = Vec::new();
    for arn in &nlbs.not_found {
        problems.push(Problem {
            status: Status::Fail,
            summary: format!("the service names NLB {arn}, which DescribeLoadBalancers did not return (deleted?)"),
            fix: format!(
                "Replace the missing NLB: aws ec2 modify-vpc-endpoint-service-configuration --service-id {} --remove-network-load-balancer-arns {arn} --add-network-load-balancer-arns <an internal NLB ARN>.",
                cfg.service_id
            ),
        });
    }
    let mut lb_evidence = Vec::new();
    let mut details = Vec::new();
    for lb in &nlbs.found {
        if !eq_wire(&lb.lb_type, "network") {
            problems.push(Problem {
                status: Status::Fail,
                summary: format!("{} is a {} load balancer, not a network one", lb.name, lb.lb_type),
                fix: format!(
                    "Front the service with an internal NLB and swap it in: aws ec2 modify-vpc-endpoint-service-configuration --service-id {} --add-network-load-balancer-arns <internal NLB ARN> --remove-network-load-balancer-arns {} (an ALB can sit behind the NLB as an `alb` target).",
                    cfg.service_id, lb.arn
                ),
            });
        }
        if !eq_wire(&lb.scheme, "internal") {
            problems.push(Problem {
                status: Status::Fail,
                summary: format!(
                    "{} is {}; an endpoint service's NLB must be internal",
                    lb.name, lb.scheme
                ),
                fix: internet_facing_fix(&cfg.service_id, lb, &ports.ports),
            });
        }
        if !eq_wire(&lb.state, "active") {
            let (status, fix) = if eq_wire(&lb.state, "failed") {
                (Status::Fail, format!("{} failed to provision: recreate it (aws elbv2 describe-load-balancers --load-balancer-arns {} shows State.Reason).", lb.name, lb.arn))
            } else {
                (Status::Warn, format!("{} is {}: wait and re-run; if it stays impaired, check its zones with aws elbv2 describe-load-balancers --load-balancer-arns {}.", lb.name, lb.state, lb.arn))
            };
            problems.push(Problem {
                status,
                summary: format!("{} is {}, not active", lb.name, lb.state),
                fix,
            });
        }
        let listeners = known_or_unknown!(&lb.listeners, &format!("the listeners of {}", lb.name));
        let listening: Vec<u16> = listeners.iter().map(|l| l.port).collect();
        for &port in &ports.ports {
            match listeners.iter().find(|l| l.port == port) {
                None => problems.push(Problem {
                    status: Status::Fail,
                    summary: format!("{} has no listener on port {port}", lb.name),
                    fix: missing_listener_fix(lb, port, &listening),
                }),
                Some(l) => {
                    let forwards: Vec<&String> = l
                        .default_actions
                        .iter()
                        .filter(|a| eq_wire(&a.action_type, "forward"))
                        .flat_map(|a| &a.target_group_arns)
                        .collect();
                    if forwards.is_empty() {
                        problems.push(Problem {
                            status: Status::Fail,
                            summary: format!("the {} listener on {port} of {} does not forward to a target group", l.protocol, lb.name),
                            fix: format!(
                                "aws elbv2 modify-listener --listener-arn {} --default-actions Type=forward,TargetGroupArn=<target group ARN> (Terraform: default_action {{ type = \"forward\" }} on aws_lb_listener).",
                                l.arn
                            ),
                        });
                    } else {
                        details.push(format!(
                            "{}: {} listener on {port} forwards to {}",
                            lb.name,
                            l.protocol,
                            forwards
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
            }
        }
        lb_evidence.push(json!({
            "arn": lb.arn,
            "name": lb.name,
            "type": lb.lb_type,
            "scheme": lb.scheme,
            "state": lb.state,
            "listeners": listeners.iter().map(|l| json!({
                "port": l.port,
                "protocol": l.protocol,
                "forwards_to": l.default_actions.iter()
                    .filter(|a| eq_wire(&a.action_type, "forward"))
                    .flat_map(|a| a.target_group_arns.clone())
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
    }

    let worst = problems
        .iter()
        .map(|p| p.status)
        .find(|s| *s == Status::Fail)
        .or(problems.first().map(|p| p.status));
    let mut out = match worst {
        None => Outcome::pass(format!(
            "{} is internal and active, listening on {} with forwarding listeners",
            nlbs.found
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            ports
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(status) => {
            let summary = problems
                .iter()
                .filter(|p| p.status == status)
                .map(|p| p.summary.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let o = if status == Status::Fail {
                Outcome::fail(summary)
            } else {
                Outcome::warn(summary)
            };
            o.remediation(
                problems
                    .iter()
                    .map(|p| p.fix.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        }
    };
    if nlbs.found.len() > 1 {
        details.push("the service has several NLBs: each endpoint ENI is pinned to one of them at random, so every NLB needs the same listeners".into());
    }
    out = out
        .details(details)
        .details(problems.iter().skip(1).map(|p| p.summary.clone()))
        .evidence("service_id", nlbs.service_id)
        .evidence("ports", &ports)
        .evidence("load_balancers", lb_evidence);
    out
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::EvalOptions;
    use crate::fact::Fact;
    use crate::model::Snapshot;
    use crate::scenarios::base;

    fn run(s: &Snapshot, opts: &EvalOptions) -> Outcome {
        evaluate(&Context::new(s, opts, &[]))
    }

    fn lb(s: &mut Snapshot) -> &mut LoadBalancer {
        let Fact::Known(lbs) = &mut s.provider.load_balancers else {
            unreachable!()
        };
        &mut lbs[0]
    }

    #[test]
    fn healthy_bases_pass() {
        let o = EvalOptions::default();
        assert_eq!(run(&base::healthy(), &o).status, Status::Pass);
        assert_eq!(run(&base::enterprise(), &o).status, Status::Pass);
    }

    #[test]
    fn an_explicit_port_without_a_listener_fails_even_though_listener_ports_would_pass() {
        let s = base::healthy();
        let opts = EvalOptions {
            ports: vec![9443],
            ..Default::default()
        };
        let o = run(&s, &opts);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.summary.contains("no listener on port 9443"),
            "{}",
            o.summary
        );
        let fix = o.remediation.unwrap();
        assert!(fix.contains("--port 9443"), "{fix}");
        assert!(fix.contains("listens on 8443"), "{fix}");
        let mut s2 = base::healthy();
        s2.inputs.ports = vec![9443];
        assert_eq!(run(&s2, &EvalOptions::default()).status, Status::Fail);
    }

    #[test]
    fn internet_facing_fails_with_a_swap_to_a_new_internal_nlb() {
        let mut s = base::healthy();
        lb(&mut s).scheme = "internet-facing".into();
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Fail);
        let fix = o.remediation.unwrap();
        assert!(fix.contains("--scheme internal"), "{fix}");
        assert!(
            fix.contains("subnet-0f0e0d0c0b0a00001 subnet-0f0e0d0c0b0a00002"),
            "{fix}"
        );
        assert!(
            fix.contains(&format!(
                "--remove-network-load-balancer-arns {}",
                base::NLB_ARN
            )),
            "{fix}"
        );
        assert!(fix.contains("internal = true"), "{fix}");
    }

    #[test]
    fn a_listener_that_does_not_forward_fails() {
        let mut s = base::healthy();
        let Fact::Known(ls) = &mut lb(&mut s).listeners else {
            unreachable!()
        };
        ls[0].default_actions[0].action_type = "fixed-response".into();
        assert_eq!(run(&s, &EvalOptions::default()).status, Status::Fail);
    }

    #[test]
    fn impaired_nlb_warns_and_wire_case_is_ignored() {
        let mut s = base::healthy();
        lb(&mut s).state = "active_impaired".into();
        lb(&mut s).scheme = "INTERNAL".into();
        assert_eq!(run(&s, &EvalOptions::default()).status, Status::Warn);
    }

    #[test]
    fn missing_provider_facts_are_unknown() {
        let mut s = base::healthy();
        s.provider.load_balancers = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        let o = run(&s, &EvalOptions::default());
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("needs provider access"), "{}", o.summary);
    }

    #[test]
    fn a_service_nlb_that_no_longer_exists_fails() {
        let mut s = base::healthy();
        lb(&mut s).arn =
            "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/other/1".into();
        let o = run(
            &s,
            &EvalOptions {
                ports: vec![8443],
                ..Default::default()
            },
        );
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("did not return"), "{}", o.summary);
    }
}
