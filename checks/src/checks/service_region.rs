//! Cross-region PrivateLink: an endpoint whose service lives in another Region works
//! only while the provider keeps the consumer's Region among the service's supported
//! Regions (Available there), the consumer account has the service's Region enabled,
//! and the provider's NLB keeps what cross-region connections need (the default TCP
//! idle timeout). A same-region service passes at once.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::fact::Fact;
use crate::model::{eq_wire, Snapshot, View};
use crate::net::nlb::DEFAULT_TCP_IDLE_TIMEOUT_SECONDS;
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "service-region",
    title: "Cross-region service is open to this Region",
    source: "beyond the seed: AWS PrivateLink cross-Region access (Nov 2024)",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.endpoint.service_region",
        "consumer.regions",
        "consumer.service.service_region",
        "provider.service_configuration.supported_regions",
        "provider.load_balancers[].listeners[].tcp_idle_timeout_seconds",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeRegions",
        "ec2:DescribeVpcEndpointServices",
    ],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerAttributes",
    ],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-share-your-services.html#endpoint-service-cross-region",
    doc: CheckDoc {
        what_it_checks: "The endpoint's ServiceRegion against its own Region. Same Region: pass. Cross-region \
(ServiceRegion differs): (1) the provider's ServiceConfiguration.SupportedRegions lists the endpoint's Region with \
ServiceState Available; (2) the consumer account has the service's Region enabled (DescribeRegions with \
AllRegions: OptInStatus is not `not-opted-in`); (3) no listener of the service's NLBs has a custom TCP idle \
timeout (`tcp.idle_timeout.seconds` other than 350), which cross-region endpoint services do not support. \
The consumer reads the service with DescribeVpcEndpointServices ServiceRegions=[<service Region>]: without it a \
remote service looks \"not listed\".",
        why_it_matters: "A cross-region endpoint depends on a provider setting the consumer cannot see: when the \
provider removes the consumer's Region from the supported Regions (or it is not Available there yet), the \
endpoint stops carrying traffic while every consumer-side check passes. An opt-in Region the consumer account \
has not enabled cannot be reached at all. For cross-region endpoints the Availability Zones need not match \
(az-alignment is skipped) and the consumer's AWS/PrivateLinkEndpoints metrics are not published, so the usual \
evidence is missing by design.",
        how_to_fix: "Provider: open the service to the consumer's Region: \
`aws ec2 modify-vpc-endpoint-service-configuration --service-id <vpce-svc-…> --add-supported-regions <consumer Region>` \
(Terraform: `supported_regions` on `aws_vpc_endpoint_service`); the provider's principal needs \
`vpce:AllowMultiRegion`, and so does the consumer's when it creates the endpoint.\n\
Consumer: enable the service's opt-in Region: `aws account enable-region --region-name <service Region>`.\n\
Provider: a listener with a custom idle timeout: set it back to the default, \
`aws elbv2 modify-listener-attributes --listener-arn <arn> --attributes Key=tcp.idle_timeout.seconds,Value=350`, \
and keep connections alive with TCP keepalives below 350 s instead.",
    },
};

/// The two Regions of a cross-region endpoint.
struct Regions {
    /// Where the endpoint (the consumer) is.
    endpoint: String,
    /// Where the endpoint service (the provider) is.
    service: String,
}

/// The endpoint's and the service's Regions when they differ, None for a same-region
/// endpoint. The consumer view knows the service's Region from the endpoint
/// (ServiceRegion); the provider view knows the endpoint's from its connection
/// (VpcEndpointRegion), the snapshot's Region being the service's.
fn regions(s: &Snapshot) -> Option<Regions> {
    let ep = &s.consumer.endpoint;
    let (endpoint, service) = match s.inputs.view {
        View::Consumer => (
            s.region.clone(),
            ep.service_region.clone().or_else(|| {
                s.consumer
                    .service
                    .known()
                    .and_then(|v| v.service_region.clone())
            })?,
        ),
        View::Provider => (
            s.provider
                .connections
                .known()?
                .iter()
                .find(|c| c.vpc_endpoint_id == ep.id)?
                .vpc_endpoint_region
                .clone()?,
            name_region(&ep.service_name)
                .unwrap_or(&s.region)
                .to_owned(),
        ),
    };
    (!endpoint.is_empty() && !service.is_empty() && !endpoint.eq_ignore_ascii_case(&service))
        .then_some(Regions { endpoint, service })
}

/// The Region in an endpoint service's name, `com.amazonaws.vpce.<region>.vpce-svc-…`.
fn name_region(service_name: &str) -> Option<&str> {
    let mut parts = service_name.rsplit('.');
    let id = parts.next()?;
    let region = parts.next()?;
    (id.starts_with("vpce-svc-") && !region.is_empty()).then_some(region)
}

/// One reason the cross-region path is broken, with its fix.
struct Problem {
    summary: String,
    fix: String,
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    if !eq_wire(&ep.endpoint_type, "Interface") {
        return Outcome::skip(format!(
            "{} is a {} endpoint, not an Interface endpoint (see endpoint-state)",
            ep.id, ep.endpoint_type
        ));
    }
    let Some(Regions {
        endpoint: here,
        service: remote,
    }) = regions(s)
    else {
        return Outcome::pass(format!(
            "the service is in {}, the endpoint's own Region: cross-region rules do not apply",
            s.region
        ))
        .evidence("region", &s.region)
        .evidence(
            "service_region",
            ep.service_region.as_deref().unwrap_or(&s.region),
        );
    };

    let mut problems: Vec<Problem> = Vec::new();
    let mut unknowns: Vec<String> = Vec::new();
    let mut fine: Vec<String> = Vec::new();
    let svc_id = s.service_id();

    match &s.provider.service_configuration {
        Fact::Known(cfg) => {
            match cfg
                .supported_regions
                .iter()
                .find(|r| r.region.eq_ignore_ascii_case(&here))
            {
                None => problems.push(Problem {
                    summary: format!(
                        "{} is not among the supported Regions of {svc_id} ({}): the provider has not opened the service to it, or removed it",
                        here,
                        list_or_none(cfg.supported_regions.iter().map(|r| r.region.as_str()))
                    ),
                    fix: format!(
                        "Provider: aws ec2 modify-vpc-endpoint-service-configuration --service-id {svc_id} --add-supported-regions {} --region {remote} (Terraform: add \"{}\" to supported_regions on the aws_vpc_endpoint_service; the provider needs vpce:AllowMultiRegion).",
                        here, here
                    ),
                }),
                Some(r) => match r.service_state.as_deref() {
                    Some(state) if eq_wire(state, "Available") => {
                        fine.push(format!("{} is a supported Region, Available", here))
                    }
                    Some(state) => problems.push(Problem {
                        summary: format!(
                            "{svc_id} is {state} in {}, not Available: the supported Region is {}",
                            here,
                            region_state_meaning(state)
                        ),
                        fix: format!(
                            "Provider: wait for Pending to become Available and re-run; a Failed, Closed or Deleted Region is re-added with aws ec2 modify-vpc-endpoint-service-configuration --service-id {svc_id} --add-supported-regions {} --region {remote}.",
                            here
                        ),
                    }),
                    None => unknowns.push(format!(
                        "{} is a supported Region, its ServiceState was not recorded",
                        here
                    )),
                },
            }
        }
        Fact::Absent(m) => unknowns.push(format!(
            "the service's supported Regions (provider.service_configuration): {m}"
        )),
    }

    match &s.consumer.regions {
        // The provider's credentials do not see the consumer account's Regions: the
        // provider view cannot pass what the consumer's may fail.
        Fact::Absent(_) if s.inputs.view == View::Provider => unknowns.push(format!(
            "whether account {} has {remote} enabled (visible only with its credentials)",
            ep.owner_id
        )),
        Fact::Known(regions) => match regions.iter().find(|r| r.region.eq_ignore_ascii_case(&remote)) {
            Some(r) if r.enabled() => fine.push(format!("{remote} is enabled for account {} ({})", ep.owner_id, r.opt_in_status)),
            Some(r) => problems.push(Problem {
                summary: format!(
                    "account {} has not enabled {remote}, the service's Region ({}): it cannot reach a service there",
                    ep.owner_id, r.opt_in_status
                ),
                fix: format!(
                    "Consumer: enable the Region: aws account enable-region --region-name {remote} (it takes minutes to hours; re-run when aws account get-region-opt-status --region-name {remote} says ENABLED)."
                ),
            }),
            None => unknowns.push(format!("{remote} is not in the consumer account's Region list (DescribeRegions)")),
        },
        Fact::Absent(m) => unknowns.push(format!("the consumer account's Regions (consumer.regions): {m}")),
    }

    match custom_idle_timeouts(s) {
        Ok(custom) if custom.is_empty() => {
            fine.push("every NLB listener keeps the default TCP idle timeout".to_owned())
        }
        Ok(custom) => {
            for (lb, port, arn, secs) in custom {
                problems.push(Problem {
                    summary: format!(
                        "listener {port} of {lb} has a custom TCP idle timeout ({secs} s): cross-region endpoint services do not support it"
                    ),
                    fix: format!(
                        "Provider: aws elbv2 modify-listener-attributes --listener-arn {arn} --attributes Key=tcp.idle_timeout.seconds,Value={DEFAULT_TCP_IDLE_TIMEOUT_SECONDS} --region {remote}, and have clients send TCP keepalives below {DEFAULT_TCP_IDLE_TIMEOUT_SECONDS} s instead."
                    ),
                });
            }
        }
        Err(why) => unknowns.push(why),
    }

    let evidence = json!({
        "region": here,
        "service_region": remote,
        "supported_regions": s.provider.service_configuration.known().map(|c| &c.supported_regions),
        "consumer_region_opt_in": s.consumer.regions.known().and_then(|rs| rs.iter().find(|r| r.region.eq_ignore_ascii_case(&remote))),
    });
    let notes = [
        format!("cross-region endpoint: {} in {} → {svc_id} in {remote}", ep.id, here),
        "Availability Zones need not match across Regions (az-alignment is skipped); the consumer's AWS/PrivateLinkEndpoints metrics are not published for cross-region endpoints".to_owned(),
    ];
    if !problems.is_empty() {
        let first = &problems[0];
        let mut out = Outcome::fail(first.summary.clone())
            .details(notes)
            .details(problems.iter().skip(1).map(|p| p.summary.clone()))
            .details(unknowns.iter().map(|u| format!("not evaluated: {u}")))
            .evidence("cross_region", evidence);
        out = out.remediation(
            problems
                .iter()
                .map(|p| p.fix.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        return out;
    }
    if !unknowns.is_empty() {
        return Outcome::unknown(format!(
            "cross-region service in {remote}: cannot evaluate {}",
            unknowns.join("; ")
        ))
        .details(notes)
        .details(fine)
        .evidence("cross_region", evidence);
    }
    Outcome::pass(format!(
        "cross-region service in {remote}: {}",
        fine.join("; ")
    ))
    .details(notes)
    .evidence("cross_region", evidence)
}

fn list_or_none<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

fn region_state_meaning(state: &str) -> &'static str {
    const STATES: [(&str, &str); 5] = [
        ("Pending", "still being set up"),
        ("Deleting", "being removed by the provider"),
        ("Deleted", "removed by the provider"),
        ("Failed", "in a failed state"),
        ("Closed", "closed to new connections"),
    ];
    STATES
        .iter()
        .find(|(s, _)| eq_wire(s, state))
        .map(|(_, m)| *m)
        .unwrap_or("in a state this pl-doctor does not know")
}

/// (NLB name, port, listener ARN, seconds) of every listener whose TCP idle timeout is
/// not the default; Err naming what could not be read.
fn custom_idle_timeouts(s: &Snapshot) -> Result<Vec<(String, u16, String, u32)>, String> {
    let lbs =
        s.provider.load_balancers.as_result().map_err(|m| {
            format!("the NLB listeners' idle timeouts (provider.load_balancers): {m}")
        })?;
    let mut out = Vec::new();
    for lb in lbs {
        let listeners = lb
            .listeners
            .as_result()
            .map_err(|m| format!("the listeners of {}: {m}", lb.name))?;
        for l in listeners {
            if let Some(m) = &l.attributes_missing {
                return Err(format!(
                    "the idle timeout of listener {} on {}: {m}",
                    l.port, lb.name
                ));
            }
            if let Some(secs) = l.tcp_idle_timeout_seconds {
                if secs != DEFAULT_TCP_IDLE_TIMEOUT_SECONDS {
                    out.push((lb.name.clone(), l.port, l.arn.clone(), secs));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::name_region;

    #[test]
    fn the_service_region_is_read_from_an_endpoint_service_name() {
        assert_eq!(
            name_region("com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"),
            Some("eu-west-1")
        );
        assert_eq!(name_region("com.amazonaws.us-east-1.s3"), None);
        assert_eq!(name_region("vpce-svc-0123"), None);
    }
}
