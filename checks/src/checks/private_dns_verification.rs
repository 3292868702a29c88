//! Step 5: the provider proved ownership of the private DNS name's domain.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::model::eq_wire;
use crate::net::dns::offered_name;

pub static META: CheckMeta = CheckMeta {
    id: "private-dns-verification",
    title: "Private DNS name is verified",
    source: "seed: Step 5 (Private DNS and domain ownership verification), Verify 1",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.service_configuration.private_dns_name",
        "provider.service_configuration.private_dns_name_configuration",
        "consumer.service.private_dns_name",
        "consumer.service.private_dns_name_verification_state",
    ],
    consumer_actions: &["ec2:DescribeVpcEndpointServices"],
    provider_actions: &["ec2:DescribeVpcEndpointServiceConfigurations"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/manage-dns-names.html",
    doc: CheckDoc {
        what_it_checks: "The verification state of the endpoint service's private DNS name: the provider's \
PrivateDnsNameConfiguration (state, TXT record name and value) when provider access is given, otherwise the \
PrivateDnsNameVerificationState that DescribeVpcEndpointServices shows to consumers. Only `verified` passes; \
`pendingVerification` and `failed` fail and name the TXT record to publish. A service without a private DNS \
name is skipped.",
        why_it_matters: "AWS makes the provider prove it owns the domain before any consumer may enable private \
DNS, so that nobody can publish a service that hijacks *.example.com. Until the name is verified, consumers \
cannot set private_dns_enabled = true (AWS refuses), and the friendly name does not resolve to the endpoint: \
clients configured with it fail with NXDOMAIN while the long vpce-… names still work.",
        how_to_fix: "Provider: read the record AWS asks for: `aws ec2 describe-vpc-endpoint-service-configurations \
--service-ids <vpce-svc-…> --query 'ServiceConfigurations[0].PrivateDnsNameConfiguration'`, publish it in the \
PUBLIC hosted zone of the domain (verification runs against public DNS even though the service is private): \
TXT `<Name>.<private DNS name>` with value `<Value>` (Terraform: `aws_route53_record` with type = \"TXT\" in the \
public zone), then `aws ec2 start-vpc-endpoint-service-private-dns-verification --service-id <vpce-svc-…>`. \
`failed` means AWS looked and did not find the record: check it with `dig +short TXT <Name>.<domain>` from the \
internet, fix it, and start verification again. Consumers then enable private DNS on their endpoints.",
    },
};

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let offered =
        match offered_name(s) {
            Ok(Some(o)) => o,
            Ok(None) => return Outcome::skip(
                "the service offers no private DNS name: clients use the endpoint's vpce DNS names",
            ),
            Err(m) => return Outcome::missing("the service's private DNS name", m),
        };
    let evidence = serde_json::json!({
        "private_dns_name": offered.name,
        "state": offered.state,
        "source": offered.source,
        "txt_record": offered.txt.map(|t| serde_json::json!({
            "type": t.record_type, "name": t.name, "value": t.value,
        })),
    });
    let Some(state) = offered.state else {
        return Outcome::unknown(format!(
            "the verification state of {} is not reported by the {} view of the service; give provider access (--provider-profile or --provider-role-arn) to read PrivateDnsNameConfiguration",
            offered.name, offered.source
        ))
        .evidence("private_dns", evidence);
    };
    if offered.is_verified() {
        return Outcome::pass(format!("{} is verified", offered.name))
            .evidence("private_dns", evidence);
    }
    let meaning = if eq_wire(state, "failed") {
        "AWS looked for the TXT record in public DNS and did not find it"
    } else if eq_wire(state, "pendingVerification") {
        "AWS is waiting for the provider to publish the TXT record and start verification"
    } else {
        "a state this pl-doctor does not know"
    };
    let svc_id = s
        .provider
        .service_configuration
        .known()
        .map(|c| c.service_id.as_str())
        .or_else(|| s.consumer.service.known().map(|v| v.service_id.as_str()))
        .unwrap_or("the service");
    let provider = s
        .consumer
        .service
        .known()
        .map(|v| format!("Provider (account {})", v.owner))
        .unwrap_or_else(|| "Provider".into());
    let publish = match (offered.txt_fqdn(), offered.txt) {
        (Some(fqdn), Some(t)) => format!(
            "publish TXT {fqdn} with value \"{}\" in the PUBLIC hosted zone that serves {} (Terraform: aws_route53_record in that public zone with name = \"{fqdn}\", type = \"TXT\", ttl = 1800, records = [\"{}\"]); check it from the internet with dig +short TXT {fqdn}",
            t.value, offered.name, t.value
        ),
        _ => format!(
            "read the TXT record AWS asks for (aws ec2 describe-vpc-endpoint-service-configurations --service-ids {svc_id} --query 'ServiceConfigurations[0].PrivateDnsNameConfiguration'; not visible to the consumer) and publish <Name>.{} TXT <Value> in the PUBLIC hosted zone (Terraform: aws_route53_record)",
            offered.name
        ),
    };
    Outcome::fail(format!(
        "private DNS name {} is {state}: {meaning}; consumers cannot enable private DNS until it is verified",
        offered.name
    ))
    .evidence("private_dns", evidence)
    .detail("Verification is done against public DNS even though the service is private (seed Step 5).")
    .remediation(format!(
        "{provider}: {publish}; then aws ec2 start-vpc-endpoint-service-private-dns-verification --service-id {svc_id}. Once the state is verified, enable private DNS on the endpoint."
    ))
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::fact::Fact;
    use crate::model::Snapshot;
    use crate::scenarios::base::healthy;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    fn set_state(s: &mut Snapshot, state: &str) {
        if let Fact::Known(c) = &mut s.provider.service_configuration {
            c.private_dns_name_configuration.as_mut().unwrap().state = state.into();
        }
        if let Fact::Known(v) = &mut s.consumer.service {
            v.private_dns_name_verification_state = Some(state.into());
        }
    }

    #[test]
    fn pending_names_the_exact_txt_record_and_the_service() {
        let mut s = healthy();
        set_state(&mut s, "pendingVerification");
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        let r = o.remediation.unwrap();
        assert!(
            r.contains("TXT _a1b2c3d4.payments.internal.example.com"),
            "{r}"
        );
        assert!(r.contains("vpce:8mDqKz2bPq1Xc9lR0sTu"));
        assert!(r.contains("--service-id vpce-svc-0123456789abcdef0"));
    }

    #[test]
    fn state_compares_case_insensitively() {
        let mut s = healthy();
        set_state(&mut s, "Verified");
        assert_eq!(run(&s).status, Status::Pass);
        set_state(&mut s, "Failed");
        assert!(run(&s).summary.contains("did not find"));
    }

    #[test]
    fn consumer_view_suffices_without_provider_access() {
        let mut s = healthy();
        set_state(&mut s, "failed");
        s.provider.service_configuration = Fact::needs_provider(Some("111111111111"));
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o
            .remediation
            .unwrap()
            .contains("not visible to the consumer"));
    }

    #[test]
    fn no_private_dns_name_skips() {
        let mut s = healthy();
        if let Fact::Known(c) = &mut s.provider.service_configuration {
            c.private_dns_name = None;
            c.private_dns_name_configuration = None;
        }
        assert_eq!(run(&s).status, Status::Skip);
    }

    #[test]
    fn no_source_of_the_state_is_unknown() {
        let mut s = healthy();
        s.provider.service_configuration = Fact::needs_provider(None);
        if let Fact::Known(v) = &mut s.consumer.service {
            v.private_dns_name_verification_state = None;
        }
        assert_eq!(run(&s).status, Status::Unknown);
    }
}
