//! Runbook 1: is the interface endpoint `available`?

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::model::eq_wire;

pub static META: CheckMeta = CheckMeta {
    id: "endpoint-state",
    title: "Endpoint is available",
    source: "seed: Troubleshooting runbook 1, Verify 3",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &["consumer.endpoint.state", "consumer.endpoint.last_error", "consumer.endpoint.endpoint_type"],
    consumer_actions: &["ec2:DescribeVpcEndpoints"],
    provider_actions: &[],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html",
    doc: CheckDoc {
        what_it_checks: "The interface endpoint's State as DescribeVpcEndpoints reports it. Only `available` \
carries traffic. Every other state is named with its meaning: `pendingAcceptance` (the provider has not \
accepted the connection), `pending` (AWS is still provisioning the ENIs), `rejected` (the provider rejected it), \
`failed` (provisioning failed; LastError says why), `expired` (a pendingAcceptance request was never accepted and \
timed out), `deleting`/`deleted`.",
        why_it_matters: "Nothing downstream matters until the endpoint is available: an endpoint in \
pendingAcceptance has ENIs but the provider's NLB drops its traffic, so clients see hangs that look like a \
network problem. The seed's runbook puts this first because most failures are one of the first three items.",
        how_to_fix: "pendingAcceptance: the provider accepts it \
(`aws ec2 accept-vpc-endpoint-connections --service-id <vpce-svc-…> --vpc-endpoint-ids <vpce-…>`), and the \
consumer's account or role must be in the service's allowed principals (see allowed-principals). Terraform \
(provider side): `aws_vpc_endpoint_connection_accepter`, or `acceptance_required = false` on \
`aws_vpc_endpoint_service` when the allow-list is the gate.\n\
rejected/expired/failed: the endpoint cannot be revived; fix the cause (principal, acceptance, the LastError), \
delete it (`aws ec2 delete-vpc-endpoints --vpc-endpoint-ids <vpce-…>`) and create a new one \
(`aws_vpc_endpoint` with `vpc_endpoint_type = \"Interface\"`).\n\
pending: wait a few minutes and re-run; AWS is creating the ENIs.",
    },
};

/// What each non-available state means, in the words an on-call engineer needs.
fn meaning(state: &str) -> Option<(&'static str, bool)> {
    // (explanation, is it terminal?)
    const STATES: [(&str, &str, bool); 7] = [
        ("pendingAcceptance", "the provider has not accepted the connection yet (acceptance_required = true on the service)", false),
        ("pending", "AWS is still provisioning the endpoint's network interfaces", false),
        ("rejected", "the provider rejected the connection request", true),
        ("failed", "the endpoint could not be created", true),
        ("expired", "the connection request was never accepted and expired", true),
        ("deleting", "the endpoint is being deleted", true),
        ("deleted", "the endpoint has been deleted", true),
    ];
    STATES
        .iter()
        .find(|(s, _, _)| eq_wire(s, state))
        .map(|(_, m, terminal)| (*m, *terminal))
}

/// A value for a command line, or a placeholder where the snapshot does not have it (the
/// provider view sees the endpoint only through its connection: no VPC, subnets or groups).
fn or_placeholder<'a>(value: &'a str, placeholder: &'a str) -> &'a str {
    if value.is_empty() {
        placeholder
    } else {
        value
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let ep = &ctx.snapshot.consumer.endpoint;
    let evidence_state = serde_json::json!({
        "endpoint_id": ep.id,
        "state": ep.state,
        "endpoint_type": ep.endpoint_type,
        "last_error": ep.last_error,
    });
    if !eq_wire(&ep.endpoint_type, "Interface") {
        return Outcome::fail(format!(
            "{} is {}, not an Interface endpoint: {}",
            ep.id,
            crate::endpoint_type::describe(&ep.endpoint_type),
            crate::endpoint_type::SCOPE
        ))
        .evidence("endpoint", evidence_state)
        .remediation(format!(
            "Create an Interface endpoint to {}: aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id {} --service-name {} --subnet-ids <one subnet per AZ> --security-group-ids <endpoint SG> (Terraform: aws_vpc_endpoint with vpc_endpoint_type = \"Interface\").",
            ep.service_name, ep.vpc_id, ep.service_name
        ));
    }
    if eq_wire(&ep.state, "available") {
        return Outcome::pass(format!("{} is available", ep.id))
            .evidence("endpoint", evidence_state);
    }
    let svc_id = ctx.snapshot.service_id();
    let (meaning, terminal) =
        meaning(&ep.state).unwrap_or(("a state this pl-doctor does not know", false));
    let mut out = Outcome::fail(format!("{} is {}: {}", ep.id, ep.state, meaning))
        .evidence("endpoint", evidence_state);
    if let Some(err) = &ep.last_error {
        out = out.detail(format!("LastError {}: {}", err.code, err.message));
    }
    let remediation = if eq_wire(&ep.state, "pendingAcceptance") {
        format!(
            "Provider ({}): accept the connection: aws ec2 accept-vpc-endpoint-connections --service-id {} --vpc-endpoint-ids {} (Terraform: aws_vpc_endpoint_connection_accepter). Check that account {} is in the service's allowed principals (see allowed-principals).",
            ctx.snapshot
                .consumer
                .service
                .known()
                .map(|s| s.owner.as_str())
                .or_else(|| ctx.snapshot.provider.identity.known().map(|i| i.account.as_str()))
                .unwrap_or("the service owner"),
            svc_id,
            ep.id,
            ep.owner_id
        )
    } else if eq_wire(&ep.state, "pending") {
        "Wait a few minutes and re-run: AWS is provisioning the endpoint's ENIs.".to_owned()
    } else if terminal {
        format!(
            "{} cannot carry traffic again. Fix the cause (allowed principals, provider acceptance{}), then replace it: aws ec2 delete-vpc-endpoints --vpc-endpoint-ids {} and aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id {} --service-name {} --subnet-ids {} --security-group-ids {}.",
            ep.id,
            if ep.last_error.is_some() { ", the LastError above" } else { "" },
            ep.id,
            or_placeholder(&ep.vpc_id, "<vpc-…>"),
            ep.service_name,
            or_placeholder(&ep.subnet_ids.join(" "), "<one subnet per AZ>"),
            or_placeholder(&ep.security_group_ids.join(" "), "<endpoint SG>")
        )
    } else {
        format!(
            "Inspect the endpoint: aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {}",
            ep.id
        )
    };
    out.remediation(remediation)
}

#[cfg(test)]
mod tests {
    use super::meaning;

    #[test]
    fn states_match_case_insensitively_like_the_wire_and_the_sdk_disagree() {
        assert_eq!(meaning("pendingAcceptance"), meaning("PendingAcceptance"));
        assert!(meaning("pendingacceptance").is_some());
        assert!(meaning("Rejected").unwrap().1);
        assert!(!meaning("pending").unwrap().1);
        assert!(meaning("available").is_none());
    }
}
