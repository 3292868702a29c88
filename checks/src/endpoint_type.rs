//! VPC endpoint types. pl-doctor diagnoses Interface endpoints to PrivateLink endpoint
//! services; every other type (and any value AWS adds later, which the SDK keeps as
//! its raw string) is recognised, named with what it is, and left out, never mis-parsed.

use crate::model::eq_wire;

/// The sentence every non-Interface endpoint gets: what pl-doctor diagnoses.
pub const SCOPE: &str = "pl-doctor diagnoses Interface endpoints to PrivateLink endpoint services";

/// The endpoint types AWS documents besides Interface, with what each is.
const KNOWN: [(&str, &str); 4] = [
    ("Gateway", "a Gateway endpoint (S3 or DynamoDB through route-table entries: no network interfaces, no NLB)"),
    ("GatewayLoadBalancer", "a Gateway Load Balancer endpoint (traffic sent to inspection appliances behind a Gateway Load Balancer, GENEVE)"),
    ("Resource", "a Resource endpoint (a VPC Lattice resource configuration)"),
    ("ServiceNetwork", "a Service network endpoint (a VPC Lattice service network)"),
];

pub fn is_interface(endpoint_type: &str) -> bool {
    eq_wire(endpoint_type, "Interface")
}

/// What an endpoint of this type is, in words (`Interface` included, for completeness).
pub fn describe(endpoint_type: &str) -> String {
    if is_interface(endpoint_type) {
        return "an Interface endpoint".to_owned();
    }
    if endpoint_type.is_empty() {
        return "an endpoint whose type AWS did not report".to_owned();
    }
    KNOWN
        .iter()
        .find(|(t, _)| eq_wire(t, endpoint_type))
        .map(|(_, what)| (*what).to_owned())
        .unwrap_or_else(|| {
            format!("a {endpoint_type} endpoint (a type this pl-doctor does not know yet)")
        })
}

/// For `--endpoint` (or a replayed snapshot) naming an endpoint pl-doctor does not
/// diagnose: the one-line reason and the hint, or None for an Interface endpoint.
pub fn not_diagnosable(ep: &crate::model::Endpoint) -> Option<(String, String)> {
    if is_interface(&ep.endpoint_type) {
        return None;
    }
    Some((
        format!(
            "{} is {} to {}: {SCOPE}, so there is no runbook to walk for it",
            ep.id,
            describe(&ep.endpoint_type),
            ep.service_name
        ),
        "give an Interface endpoint (aws ec2 describe-vpc-endpoints --filters Name=vpc-endpoint-type,Values=Interface lists them), or run --all to see every endpoint and why the others are left out".to_owned(),
    ))
}

/// Why a fleet leaves an endpoint of this type out (the `scope.left_out` reason).
pub fn left_out_reason(endpoint_type: &str) -> String {
    format!("{}: {SCOPE}", describe(endpoint_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_type_is_named_and_unknown_ones_kept_verbatim() {
        assert!(describe("Gateway").contains("route-table"));
        assert!(describe("gatewayloadbalancer").contains("Gateway Load Balancer"));
        assert!(describe("Resource").contains("VPC Lattice resource"));
        assert!(describe("ServiceNetwork").contains("service network"));
        let future = describe("QuantumTunnel");
        assert!(
            future.contains("QuantumTunnel") && future.contains("does not know"),
            "{future}"
        );
        assert!(describe("").contains("did not report"));
        assert!(is_interface("interface"));
        assert!(left_out_reason("Gateway").ends_with(SCOPE));
    }
}
