//! VPC endpoint types, and which kind of service an Interface endpoint reaches.
//! pl-doctor diagnoses Interface endpoints, to PrivateLink endpoint services and to AWS
//! services; every other type (and any value AWS adds later, which the SDK keeps as its
//! raw string) is recognised, named with what it is, and left out, never mis-parsed.

use crate::check::CheckMeta;
use crate::model::{eq_wire, Snapshot};
use serde::{Deserialize, Serialize};

/// The sentence every non-Interface endpoint gets: what pl-doctor diagnoses.
pub const SCOPE: &str =
    "pl-doctor diagnoses Interface endpoints (to PrivateLink endpoint services and to AWS services)";

/// What an Interface endpoint connects to: the runbook's checks apply per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// A PrivateLink endpoint service (`com.amazonaws.vpce.<region>.vpce-svc-…`): a
    /// provider's NLB and targets, allowed principals, acceptance, private DNS verification.
    EndpointService,
    /// An AWS service (`com.amazonaws.<region>.<service>`, owner `amazon`): AWS runs the
    /// provider side; the endpoint carries an endpoint policy.
    AwsService,
}

impl ServiceKind {
    pub fn describe(self) -> &'static str {
        match self {
            ServiceKind::EndpointService => "a PrivateLink endpoint service",
            ServiceKind::AwsService => "an AWS service",
        }
    }
}

/// Which kinds of endpoint a check applies to (`CheckMeta::applies_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    /// Interface endpoints to endpoint services and to AWS services.
    Both,
    /// Only endpoints to endpoint services: the check reads the provider side, which AWS
    /// runs (and keeps out of view) for its own services.
    EndpointServices,
    /// Only endpoints to AWS services (the endpoint policy).
    AwsServices,
}

impl AppliesTo {
    pub fn includes(self, kind: ServiceKind) -> bool {
        match self {
            AppliesTo::Both => true,
            AppliesTo::EndpointServices => kind == ServiceKind::EndpointService,
            AppliesTo::AwsServices => kind == ServiceKind::AwsService,
        }
    }

    /// For `explain` and the README runbook table.
    pub fn describe(self) -> &'static str {
        match self {
            AppliesTo::Both => "interface endpoints to endpoint services and to AWS services",
            AppliesTo::EndpointServices => {
                "interface endpoints to endpoint services only (skip for AWS services: AWS-managed)"
            }
            AppliesTo::AwsServices => {
                "interface endpoints to AWS services only (skip for endpoint services)"
            }
        }
    }
}

/// Whether a service name is a PrivateLink endpoint service's
/// (`com.amazonaws.vpce.<region>.vpce-svc-…`), not an AWS service's such as
/// `com.amazonaws.<region>.s3`: its last label is the `vpce-svc-` id.
pub fn is_endpoint_service_name(service_name: &str) -> bool {
    service_name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.starts_with("vpce-svc-"))
}

/// Whether a service name is an AWS service's: `com.amazonaws.<region>.<service>` (and
/// the few `aws.<…>` names AWS publishes, e.g. `aws.api.<region>.<service>`), never an
/// endpoint service's `…vpce-svc-…` id.
pub fn is_aws_service_name(service_name: &str) -> bool {
    !is_endpoint_service_name(service_name)
        && (service_name.starts_with("com.amazonaws.") || service_name.starts_with("aws."))
}

/// The owner DescribeVpcEndpointServices reports for AWS's own services.
pub const AWS_OWNER: &str = "amazon";

/// What the snapshot's endpoint connects to: the service's Owner when the consumer's
/// DescribeVpcEndpointServices showed it (`amazon`, or the provider's account id), else
/// the service name's form.
pub fn service_kind(s: &Snapshot) -> ServiceKind {
    kind_of(
        &s.consumer.endpoint.service_name,
        s.consumer.service.known().map(|v| v.owner.as_str()),
    )
}

/// [`service_kind`] from the service's name and, when known, its Owner.
pub fn kind_of(service_name: &str, owner: Option<&str>) -> ServiceKind {
    match owner.filter(|o| !o.is_empty()) {
        Some(owner) if eq_wire(owner, AWS_OWNER) => ServiceKind::AwsService,
        Some(_) => ServiceKind::EndpointService,
        None if is_aws_service_name(service_name) => ServiceKind::AwsService,
        None => ServiceKind::EndpointService,
    }
}

/// Why check `meta` is `skip` for this snapshot's kind of endpoint, or None when it applies.
pub fn not_applicable(s: &Snapshot, meta: &CheckMeta) -> Option<String> {
    let kind = service_kind(s);
    if meta.applies_to.includes(kind) {
        return None;
    }
    let service = &s.consumer.endpoint.service_name;
    Some(match kind {
        ServiceKind::AwsService => {
            format!("AWS-managed service: AWS runs the provider side of {service}")
        }
        ServiceKind::EndpointService => format!(
            "{service} is a PrivateLink endpoint service: {} applies to interface endpoints to AWS services only",
            meta.id
        ),
    })
}

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

    #[test]
    fn aws_services_are_told_from_endpoint_services_by_name_and_owner() {
        assert!(is_endpoint_service_name(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
        ));
        assert!(!is_endpoint_service_name("com.example.vpce-svc-1.api"));
        for aws in [
            "com.amazonaws.us-east-1.s3",
            "com.amazonaws.us-east-1.ecr.dkr",
            "com.amazonaws.eu-west-1.ssm",
            "aws.api.us-east-1.bcm-data-exports",
        ] {
            assert!(is_aws_service_name(aws), "{aws}");
        }
        assert!(!is_aws_service_name(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
        ));
        assert!(!is_aws_service_name("com.example.payments"));
        assert!(!is_aws_service_name(""));
    }
}

#[cfg(all(test, feature = "scenarios"))]
mod kind_tests {
    use super::*;

    #[test]
    fn the_owner_decides_else_the_name() {
        let mut s = crate::scenarios::base::healthy();
        assert_eq!(service_kind(&s), ServiceKind::EndpointService);
        // The Owner decides when it is known, whatever the name looks like.
        if let crate::fact::Fact::Known(v) = &mut s.consumer.service {
            v.owner = "amazon".into();
        }
        assert_eq!(service_kind(&s), ServiceKind::AwsService);
        // Without the service view, the name decides.
        s.consumer.service = crate::fact::Fact::not_requested("x");
        s.consumer.endpoint.service_name = "com.amazonaws.us-east-1.ssm".into();
        assert_eq!(service_kind(&s), ServiceKind::AwsService);
    }

    #[test]
    fn provider_only_checks_skip_for_aws_services_and_the_policy_for_endpoint_services() {
        let s = crate::scenarios::base::healthy();
        let policy = crate::registry::find("endpoint-policy").unwrap().meta;
        let nlb = crate::registry::find("nlb-listener").unwrap().meta;
        let sg = crate::registry::find("endpoint-sg-ingress").unwrap().meta;
        assert!(not_applicable(&s, nlb).is_none());
        assert!(not_applicable(&s, sg).is_none());
        let why = not_applicable(&s, policy).unwrap();
        assert!(
            why.contains("endpoint service") && why.contains("AWS services only"),
            "{why}"
        );
        let aws = crate::scenarios::awsservice::ssm();
        assert!(not_applicable(&aws, nlb)
            .unwrap()
            .starts_with("AWS-managed service"));
        assert!(not_applicable(&aws, policy).is_none());
        assert!(not_applicable(&aws, sg).is_none());
    }
}
