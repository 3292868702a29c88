//! The service's data path on the provider side: which NLBs front the endpoint
//! service, and which target groups the listeners on the ports under test forward to.
//! Shared by nlb-listener, target-health and cross-zone so that they agree on it.

use crate::check::{Context, Outcome, PortsUnderTest};
use crate::model::{eq_wire, LoadBalancer, Snapshot};

/// AWS's default `tcp.idle_timeout.seconds` on an NLB TCP listener (and the fixed value on TLS).
pub const DEFAULT_TCP_IDLE_TIMEOUT_SECONDS: u32 = 350;

/// The service's NLBs as DescribeLoadBalancers returned them, and the ARNs it did not return.
pub struct ServiceNlbs<'a> {
    pub service_id: &'a str,
    pub found: Vec<&'a LoadBalancer>,
    pub not_found: Vec<&'a str>,
}

/// The endpoint service's NLBs, or `unknown` when the provider facts are absent.
pub fn service_nlbs(s: &Snapshot) -> Result<ServiceNlbs<'_>, Outcome> {
    let cfg = match &s.provider.service_configuration {
        crate::Fact::Known(c) => c,
        crate::Fact::Absent(m) => {
            return Err(Outcome::missing(
                "the endpoint service configuration (provider.service_configuration)",
                m,
            ))
        }
    };
    let lbs = match &s.provider.load_balancers {
        crate::Fact::Known(l) => l,
        crate::Fact::Absent(m) => {
            return Err(Outcome::missing(
                "the service's load balancers (provider.load_balancers)",
                m,
            ))
        }
    };
    let mut out = ServiceNlbs {
        service_id: &cfg.service_id,
        found: Vec::new(),
        not_found: Vec::new(),
    };
    for arn in &cfg.network_load_balancer_arns {
        match lbs.iter().find(|lb| &lb.arn == arn) {
            Some(lb) => out.found.push(lb),
            None => out.not_found.push(arn),
        }
    }
    Ok(out)
}

/// Target group ARNs that the listeners on `ports` forward to, across `lbs`, deduplicated
/// in listener order. `unknown` when an NLB's listeners are absent.
pub fn forwarded_target_groups(
    lbs: &[&LoadBalancer],
    ports: &[u16],
) -> Result<Vec<String>, Outcome> {
    let mut arns: Vec<String> = Vec::new();
    for lb in lbs {
        let listeners = match &lb.listeners {
            crate::Fact::Known(l) => l,
            crate::Fact::Absent(m) => {
                return Err(Outcome::missing(
                    &format!("the listeners of {}", lb.name),
                    m,
                ))
            }
        };
        for l in listeners.iter().filter(|l| ports.contains(&l.port)) {
            for a in l
                .default_actions
                .iter()
                .filter(|a| eq_wire(&a.action_type, "forward"))
            {
                for tg in &a.target_group_arns {
                    if !arns.contains(tg) {
                        arns.push(tg.clone());
                    }
                }
            }
        }
    }
    Ok(arns)
}

/// The data path behind the ports under test: the service's NLBs, the ports, and the
/// target groups the listeners on those ports forward to.
pub struct PathBehindPorts<'a> {
    pub nlbs: ServiceNlbs<'a>,
    pub ports: PortsUnderTest,
    pub target_groups: Vec<String>,
}

/// [`PathBehindPorts`] for this run, or the `unknown` outcome saying which fact is missing.
pub fn path_behind_ports<'a>(ctx: &Context<'a>) -> Result<PathBehindPorts<'a>, Outcome> {
    let nlbs = service_nlbs(ctx.snapshot)?;
    let ports = ctx
        .ports()
        .map_err(|why| Outcome::unknown(format!("no port to check: {why}")))?;
    let target_groups = forwarded_target_groups(&nlbs.found, &ports.ports)?;
    Ok(PathBehindPorts {
        nlbs,
        ports,
        target_groups,
    })
}
