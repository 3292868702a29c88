//! The endpoint policy of an interface endpoint to an AWS service: does it let the
//! client's request through? (Endpoint services have none: AWS allows full access.)

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::net::policy::{
    describe, evaluate as decide, is_full_access, statements, Decision, Evaluation, PolicyRequest,
};
use serde_json::{json, Value};

pub static META: CheckMeta = CheckMeta {
    id: "endpoint-policy",
    title: "Endpoint policy allows the client's request",
    source: "beyond the seed: AWS PrivateLink guide, Control access to VPC endpoints using endpoint policies",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::AwsServices,
    reads: &[
        "consumer.endpoint.policy_document",
        "consumer.endpoint.vpc_id",
        "consumer.service.vpc_endpoint_policy_supported",
        "inputs.action",
        "inputs.principal",
        "inputs.resource",
    ],
    consumer_actions: &["ec2:DescribeVpcEndpoints", "ec2:DescribeVpcEndpointServices"],
    provider_actions: &[],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html",
    doc: CheckDoc {
        what_it_checks: "The endpoint's PolicyDocument (DescribeVpcEndpoints), for interface endpoints to AWS \
services only: endpoint services have no endpoint policy (AWS allows full access through an endpoint to a service \
other than an AWS service), so there the check is skip. AWS's default policy (Allow every principal, action and \
resource) passes. Any other policy, with no request named, warns and lists what each statement allows or denies. \
With `--action service:Operation` (and `--principal <ARN>`, `--resource <ARN>` when the statements name them) it \
evaluates the policy as IAM does for one resource-based policy: an explicit Deny that applies fails naming the \
statement (Deny wins over any Allow); no Allow that applies fails as an implicit deny; an Allow that applies passes. \
Principal (`*`, `{\"AWS\": …}` ARNs, account ids and roots; assumed-role sessions count as their role), \
NotPrincipal, Action/NotAction, Resource/NotResource with `*` and `?` wildcards, and conditions on \
aws:PrincipalAccount, aws:PrincipalArn, aws:SourceVpc and aws:SourceVpce (StringEquals, StringNotEquals, \
StringLike, StringNotLike, the IgnoreCase and Arn forms, Null, ForAnyValue:/ForAllValues:, IfExists) are \
evaluated. A statement that depends on something not given, on aws:PrincipalOrgID (the principal's organization is \
not visible), on another condition key or operator, or on a policy variable is said to be undecidable: the check is \
unknown, naming the statement and why, rather than guessing.",
        why_it_matters: "The endpoint policy is a second gate after the security groups: the TCP connection and \
TLS handshake succeed, and then the AWS API answers AccessDenied for every request the policy does not allow \
(for S3 an HTTP 403, for SSM and STS an AccessDeniedException), which looks like an IAM problem on the caller's role. \
It does not replace identity or bucket policies: all of them must allow the request.",
        how_to_fix: "Read the policy: `aws ec2 describe-vpc-endpoints --vpc-endpoint-ids <vpce-…> --query \
'VpcEndpoints[0].PolicyDocument' --output text`. Change it so that the statement named allows the request (or no \
longer denies it): `aws ec2 modify-vpc-endpoint --vpc-endpoint-id <vpce-…> --policy-document file://policy.json` \
(Terraform: the `policy` argument of `aws_vpc_endpoint`, or `aws_vpc_endpoint_policy`). To go back to full access, \
set AWS's default policy: {\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}. \
Changes take a few minutes to apply.",
    },
};

/// The request in words: `s3:GetObject by arn:… on arn:…`.
fn request_words(r: &PolicyRequest) -> String {
    let mut s = r.action.clone().unwrap_or_else(|| "any action".into());
    if let Some(p) = &r.principal {
        s.push_str(&format!(" by {p}"));
    }
    if let Some(res) = &r.resource {
        s.push_str(&format!(" on {res}"));
    }
    s
}

fn set_policy_fix(ep: &str) -> String {
    format!(
        "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {ep} --policy-document file://policy.json with the statement changed (Terraform: the policy argument of aws_vpc_endpoint); AWS's default, full access, is {{\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}}]}}"
    )
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let service = &ep.service_name;
    let supported = s
        .consumer
        .service
        .known()
        .and_then(|v| v.vpc_endpoint_policy_supported);
    if supported == Some(false) {
        return Outcome::pass(format!(
            "{service} does not support endpoint policies: AWS allows full access through {}",
            ep.id
        ))
        .evidence("vpc_endpoint_policy_supported", false);
    }
    let Some(policy) = ep
        .policy_document
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    else {
        return Outcome::unknown(format!(
            "DescribeVpcEndpoints reported no PolicyDocument for {} (a snapshot from before pl-doctor recorded it?)",
            ep.id
        ));
    };
    let policy_json: Value = serde_json::from_str(policy).unwrap_or(Value::Null);
    let sts = match statements(policy) {
        Ok(sts) => sts,
        Err(u) => {
            return Outcome::unknown(format!(
                "cannot read the endpoint policy of {}: {}",
                ep.id, u.0
            ))
            .evidence("policy_document", policy)
        }
    };
    let request = ctx.policy_request();
    let request_evidence = json!({
        "action": request.action, "principal": request.principal, "resource": request.resource,
    });
    let lines: Vec<String> = sts
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let at = crate::net::policy::StatementRef {
                index: i + 1,
                sid: crate::net::policy::sid(st),
            };
            format!("{at}: {}", describe(st))
        })
        .collect();
    let base = |o: Outcome| {
        o.evidence("policy", &policy_json)
            .evidence("request", &request_evidence)
    };

    if is_full_access(policy) {
        return base(Outcome::pass(format!(
            "{} has the default full-access endpoint policy: every principal, action and resource is allowed through it",
            ep.id
        )));
    }
    if request.is_empty() {
        return base(
            Outcome::warn(format!(
                "the endpoint policy of {} restricts what goes through it ({} statement{}); name the request to judge it",
                ep.id,
                sts.len(),
                if sts.len() == 1 { "" } else { "s" }
            ))
            .details(lines)
            .remediation(format!(
                "Judge the request the client makes: pl-doctor --endpoint {} --action <service:Operation, e.g. s3:GetObject> --principal <the caller's role ARN> --resource <the ARN it acts on>. If the policy is narrower than intended: {}",
                ep.id,
                set_policy_fix(&ep.id)
            ))
            .cause(["restricted"]),
        );
    }
    let words = request_words(&request);
    let e = Evaluation::through_endpoint(&request, &ep.vpc_id, &ep.id, None);
    let decision = match decide(policy, &e) {
        Ok(d) => d,
        Err(u) => {
            return base(Outcome::unknown(format!(
                "cannot evaluate the endpoint policy of {}: {}",
                ep.id, u.0
            )))
        }
    };
    match decision {
        Decision::Allowed(at) => base(
            Outcome::pass(format!("the endpoint policy of {} allows {words} ({at})", ep.id))
                .details(lines)
                .evidence("decision", "allowed")
                .evidence("statement", json!({"index": at.index, "sid": at.sid})),
        ),
        Decision::Denied(at) => base(
            Outcome::fail(format!(
                "the endpoint policy of {} denies {words}: {at} is an explicit Deny, which wins over any Allow",
                ep.id
            ))
            .detail(format!("{at}: {}", describe(&sts[at.index - 1])))
            .details(lines.iter().filter(|l| !l.starts_with(&format!("{at}:"))).cloned())
            .evidence("decision", "denied")
            .evidence("statement", json!({"index": at.index, "sid": at.sid}))
            .remediation(format!(
                "Remove or narrow {at} so that it no longer denies {words}: {}",
                set_policy_fix(&ep.id)
            ))
            .cause([
                "denied".to_owned(),
                at.sid.clone().unwrap_or_else(|| at.index.to_string()),
                request.action.clone().unwrap_or_default(),
            ]),
        ),
        Decision::ImplicitlyDenied => base(
            Outcome::fail(format!(
                "no statement of the endpoint policy of {} allows {words}: it is implicitly denied",
                ep.id
            ))
            .details(lines)
            .evidence("decision", "implicitly_denied")
            .remediation(format!(
                "Add an Allow statement for {words} (Principal, Action, Resource and conditions that cover it): {}",
                set_policy_fix(&ep.id)
            ))
            .cause(["implicit".to_owned(), request.action.clone().unwrap_or_default()]),
        ),
        Decision::Undecided(why) => {
            let first = why
                .first()
                .map(|(at, w)| format!("{at}: {w}"))
                .unwrap_or_default();
            base(
                Outcome::unknown(format!(
                    "cannot tell whether the endpoint policy of {} allows {words}: {first}",
                    ep.id
                ))
                .details(why.iter().skip(1).map(|(at, w)| format!("{at}: {w}")))
                .details(lines)
                .evidence("decision", "undecided"),
            )
        }
    }
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::scenarios::awsservice;

    fn run(s: &crate::model::Snapshot, action: Option<&str>) -> Outcome {
        let opts = EvalOptions {
            policy: PolicyRequest {
                action: action.map(Into::into),
                ..Default::default()
            },
            ..EvalOptions::default()
        };
        evaluate(&Context::new(s, &opts, &[]))
    }

    #[test]
    fn default_policy_passes_and_a_restricting_one_warns_listing_it() {
        let s = awsservice::s3();
        assert_eq!(run(&s, None).status, Status::Pass);
        assert_eq!(run(&s, Some("s3:GetObject")).status, Status::Pass);
        let s = awsservice::s3_policy_denies_get_object();
        let o = run(&s, None);
        assert_eq!(o.status, Status::Warn, "{o:?}");
        assert!(
            o.details.iter().any(|d| d.contains("Deny s3:GetObject")),
            "{o:?}"
        );
    }

    #[test]
    fn a_deny_fails_naming_the_statement_and_other_actions_pass() {
        let s = awsservice::s3_policy_denies_get_object();
        let o = run(&s, Some("s3:GetObject"));
        assert_eq!(o.status, Status::Fail, "{o:?}");
        assert!(o.summary.contains("NoObjectReads"), "{}", o.summary);
        assert!(o.remediation.unwrap().contains("modify-vpc-endpoint"));
        assert_eq!(run(&s, Some("s3:PutObject")).status, Status::Pass);
        assert_eq!(run(&s, Some("sqs:SendMessage")).status, Status::Pass);
    }

    #[test]
    fn an_unevaluable_statement_is_unknown_and_no_policy_reported_is_unknown() {
        let mut s = awsservice::s3();
        s.consumer.endpoint.policy_document = Some(
            r#"{"Statement":[{"Sid":"OrgOnly","Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}]}"#.into(),
        );
        let o = run(&s, Some("s3:GetObject"));
        assert_eq!(o.status, Status::Unknown, "{o:?}");
        assert!(o.summary.contains("OrgOnly"), "{}", o.summary);
        s.consumer.endpoint.policy_document = None;
        assert_eq!(run(&s, None).status, Status::Unknown);
        if let crate::fact::Fact::Known(v) = &mut s.consumer.service {
            v.vpc_endpoint_policy_supported = Some(false);
        }
        assert_eq!(run(&s, None).status, Status::Pass);
    }
}
