//! Step 3 of the seed: the consumer's account is on the service's allow-list.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::known_or_unknown;
use crate::model::{eq_wire, AllowedPrincipal};
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "allowed-principals",
    title: "Consumer is an allowed principal of the service",
    source: "seed: Step 3 (Allowed principals), Step 2 (open allow-list warning)",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.allowed_principals",
        "provider.service_configuration.acceptance_required",
        "consumer.endpoint.owner_id",
        "consumer.endpoint.state",
        "consumer_identity",
    ],
    consumer_actions: &["ec2:DescribeVpcEndpoints", "sts:GetCallerIdentity"],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServicePermissions",
        "ec2:DescribeVpcEndpointServiceConfigurations",
    ],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html",
    doc: CheckDoc {
        what_it_checks: "Whether the consumer's account (the endpoint's OwnerId) is covered by the service's \
allowed principals (DescribeVpcEndpointServicePermissions): `*` (everyone: warns), the account root \
`arn:aws:iam::<account>:root` (every principal in the account: passes, noting that a role would be tighter), or \
an IAM role or user in that account (passes, naming it: only that principal can create endpoints). Organization and \
OU principals (`arn:aws:organizations::…`) may cover the account, but membership is not visible to pl-doctor, so \
they make the check unknown unless something else covers the account. Reports how many entries the list holds \
(AWS documents no quota on allowed principals per service, so no limit is applied).",
        why_it_matters: "Without an allow-list entry the consumer cannot see or target the service at all, and \
new endpoints are refused. Removing an entry does not break connections that were already accepted, so a working \
endpoint can hide a missing entry until the consumer recreates it. `*` means anyone in any account can request a \
connection, and with acceptance_required = false, connect.",
        how_to_fix: "Provider: `aws ec2 modify-vpc-endpoint-service-permissions --service-id <vpce-svc-…> \
--add-allowed-principals arn:aws:iam::<account>:root` (tighter: `arn:aws:iam::<account>:role/<role>`). Terraform: \
`aws_vpc_endpoint_service_allowed_principal` with `principal_arn`. To close an open list: \
`--remove-allowed-principals '*'` after adding the real consumers, or require acceptance \
(`aws ec2 modify-vpc-endpoint-service-configuration --service-id <vpce-svc-…> --acceptance-required`).",
    },
};

// The seed's "allowed principals per endpoint service (default 50)" is not an AWS quota:
// the PrivateLink quotas page (docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html)
// lists no limit on allowed principals, and Service Quotas has none for it. The count of
// entries is reported; no limit is invented.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal<'a> {
    Everyone,
    AccountRoot(&'a str),
    Role {
        account: &'a str,
    },
    User {
        account: &'a str,
    },
    /// An organization or OU: covers its member accounts, which pl-doctor cannot list.
    Organization,
    /// An AWS service principal: never a consumer account.
    Service,
    Other,
}

pub(crate) fn classify(p: &AllowedPrincipal) -> Principal<'_> {
    let arn = p.principal.as_str();
    if arn == "*" || eq_wire(&p.principal_type, "All") {
        return Principal::Everyone;
    }
    if eq_wire(&p.principal_type, "Service") || arn.ends_with(".amazonaws.com") {
        return Principal::Service;
    }
    // arn:<partition>:<service>::<account>:<resource>
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Principal::Other;
    }
    let (service, account, resource) = (parts[2], parts[4], parts[5]);
    match service {
        "iam" if resource == "root" => Principal::AccountRoot(account),
        "iam" if resource.starts_with("role/") => Principal::Role { account },
        "iam" if resource.starts_with("user/") => Principal::User { account },
        "organizations" => Principal::Organization,
        _ => Principal::Other,
    }
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let account = if !ep.owner_id.is_empty() {
        ep.owner_id.clone()
    } else {
        match s.consumer_identity.known() {
            Some(id) => id.account.clone(),
            None => return Outcome::unknown("the consumer account is not known (endpoint OwnerId empty, sts:GetCallerIdentity absent)"),
        }
    };
    let principals = known_or_unknown!(
        &s.provider.allowed_principals,
        "the service's allowed principals (provider.allowed_principals)"
    );
    let service_id = s.service_id();
    let acceptance_required = s.acceptance_required();

    let classified: Vec<(&AllowedPrincipal, Principal)> =
        principals.iter().map(|p| (p, classify(p))).collect();
    let everyone = classified.iter().any(|(_, c)| *c == Principal::Everyone);
    let root = classified
        .iter()
        .find(|(_, c)| *c == Principal::AccountRoot(&account))
        .map(|(p, _)| p.principal.as_str());
    let scoped: Vec<&str> = classified
        .iter()
        .filter(|(_, c)| matches!(c, Principal::Role { account: a } | Principal::User { account: a } if *a == account))
        .map(|(p, _)| p.principal.as_str())
        .collect();
    let orgs: Vec<&str> = classified
        .iter()
        .filter(|(_, c)| *c == Principal::Organization)
        .map(|(p, _)| p.principal.as_str())
        .collect();

    let mut details = vec![format!(
        "{} allowed principal entr{} on {service_id}",
        principals.len(),
        if principals.len() == 1 { "y" } else { "ies" }
    )];
    let ignored: Vec<&str> = classified
        .iter()
        .filter(|(_, c)| matches!(c, Principal::Service | Principal::Other))
        .map(|(p, _)| p.principal.as_str())
        .collect();
    if !ignored.is_empty() {
        details.push(format!(
            "entries that cannot cover an AWS account: {}",
            ignored.join(", ")
        ));
    }
    let evidence_list: Vec<_> = principals
        .iter()
        .map(|p| json!({ "principal": p.principal, "principal_type": p.principal_type }))
        .collect();
    let root_arn = format!("arn:aws:iam::{account}:root");

    let out = if everyone {
        Outcome::warn(format!(
            "{service_id} allows every principal in every account (`*`){}",
            match acceptance_required {
                Some(false) => " and does not require acceptance: anyone who knows the service name can connect",
                Some(true) => ": only the acceptance gate decides who connects",
                None => "",
            }
        ))
        .detail("seed Step 2: \"Do not run with false and an open allow-list unless you genuinely intend anyone in any account to connect.\"")
        .remediation(format!(
            "If the service is not meant to be public: aws ec2 modify-vpc-endpoint-service-permissions --service-id {service_id} --add-allowed-principals {root_arn} --remove-allowed-principals '*' (add every other consumer too; Terraform: one aws_vpc_endpoint_service_allowed_principal per consumer){}",
            if acceptance_required == Some(false) {
                format!(", or at least require acceptance: aws ec2 modify-vpc-endpoint-service-configuration --service-id {service_id} --acceptance-required (Terraform: acceptance_required = true)")
            } else {
                String::new()
            }
        ))
    } else if !scoped.is_empty() {
        Outcome::pass(format!(
            "account {account} is allowed through {}",
            scoped.join(", ")
        ))
        .detail(format!(
            "only {} can create endpoints to {service_id}; other principals in {account} are refused{}",
            scoped.join(", "),
            if root.is_some() { " (but the account root is listed too)" } else { "" }
        ))
    } else if let Some(r) = root {
        Outcome::pass(format!("account {account} is allowed through its root ({r})")).detail(format!(
            "{r} lets every principal in {account} create endpoints; a specific role ARN (arn:aws:iam::{account}:role/<workload role>) would be tighter (seed Step 3)"
        ))
    } else if !orgs.is_empty() {
        Outcome::unknown(format!(
            "account {account} is not listed by itself; it is allowed only if it belongs to {}, and pl-doctor cannot see organization membership",
            orgs.join(", ")
        ))
        .detail(format!("check with: aws organizations list-parents --child-id {account} (from the management account)"))
    } else {
        let available = eq_wire(&ep.state, "available");
        let fix = format!(
            "Provider: aws ec2 modify-vpc-endpoint-service-permissions --service-id {service_id} --add-allowed-principals {root_arn} (tighter: the consumer's workload role, arn:aws:iam::{account}:role/<role>). Terraform: resource \"aws_vpc_endpoint_service_allowed_principal\" with vpc_endpoint_service_id = \"{service_id}\" and principal_arn = \"{root_arn}\".{}",
            if available {
                String::new()
            } else {
                format!(" Then accept the pending connection: aws ec2 accept-vpc-endpoint-connections --service-id {service_id} --vpc-endpoint-ids {}.", ep.id)
            }
        );
        let o = if available {
            Outcome::warn(format!(
                "account {account} is not in the allow-list of {service_id}; {} still works because removing a principal does not affect accepted connections, but a new or recreated endpoint would be refused",
                ep.id
            ))
        } else {
            Outcome::fail(format!(
                "account {account} is not in the allow-list of {service_id}"
            ))
        };
        o.remediation(fix)
    };
    out.details(details)
        .evidence("consumer_account", &account)
        .evidence("service_id", &service_id)
        .evidence("acceptance_required", acceptance_required)
        .evidence("allowed_principals", evidence_list)
        .evidence(
            "matched",
            json!({ "everyone": everyone, "account_root": root, "principals": scoped }),
        )
        // The allow-list's other entries come and go without changing this finding.
        .cause([
            format!("account={account}"),
            format!("service={service_id}"),
            format!("wildcard={everyone}"),
        ])
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::fact::Fact;
    use crate::model::Snapshot;
    use crate::scenarios::base;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    fn set(s: &mut Snapshot, list: &[(&str, &str)]) {
        s.provider.allowed_principals = Fact::Known(
            list.iter()
                .map(|(p, t)| AllowedPrincipal {
                    principal: p.to_string(),
                    principal_type: t.to_string(),
                })
                .collect(),
        );
    }

    #[test]
    fn root_passes_with_a_tighter_role_note() {
        let o = run(&base::healthy());
        assert_eq!(o.status, Status::Pass);
        assert!(
            o.details.iter().any(|d| d.contains("would be tighter")),
            "{:?}",
            o.details
        );
    }

    #[test]
    fn role_passes_naming_the_role() {
        let o = run(&base::enterprise());
        assert_eq!(o.status, Status::Pass);
        assert!(o
            .summary
            .contains("arn:aws:iam::333333333333:role/fraud-client-prod"));
        assert!(o
            .details
            .iter()
            .any(|d| d.starts_with("only arn:aws:iam::333333333333:role/fraud-client-prod")));
    }

    #[test]
    fn wildcard_warns_and_says_public_without_acceptance() {
        let mut s = base::healthy();
        set(&mut s, &[("*", "All")]);
        let Fact::Known(cfg) = &mut s.provider.service_configuration else {
            unreachable!()
        };
        cfg.acceptance_required = false;
        let o = run(&s);
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("anyone"), "{}", o.summary);
        assert!(o.remediation.unwrap().contains("--acceptance-required"));
    }

    #[test]
    fn missing_account_fails_when_pending_and_warns_when_already_accepted() {
        let mut s = base::healthy();
        set(
            &mut s,
            &[
                ("arn:aws:iam::333333333333:root", "Account"),
                ("arn:aws:iam::222222222222:role/other-team", "Role"),
            ],
        );
        s.consumer.endpoint.owner_id = "222222222222".into();
        // A role in the account covers it (only that role can create endpoints).
        assert_eq!(run(&s).status, Status::Pass);

        set(
            &mut s,
            &[
                ("arn:aws:iam::333333333333:root", "Account"),
                ("arn:aws:iam::2222222222220:root", "Account"),
            ],
        );
        let o = run(&s);
        assert_eq!(
            o.status,
            Status::Warn,
            "available endpoint keeps working: {}",
            o.summary
        );
        s.consumer.endpoint.state = "pendingAcceptance".into();
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        let fix = o.remediation.unwrap();
        assert!(
            fix.contains(&format!(
                "--service-id {} --add-allowed-principals arn:aws:iam::222222222222:root",
                base::SERVICE_ID
            )),
            "{fix}"
        );
        assert!(
            fix.contains("aws_vpc_endpoint_service_allowed_principal"),
            "{fix}"
        );
        assert!(fix.contains("accept-vpc-endpoint-connections"), "{fix}");
    }

    #[test]
    fn organization_principals_are_unknown_not_guessed() {
        let mut s = base::healthy();
        set(
            &mut s,
            &[(
                "arn:aws:organizations::999999999999:ou/o-a1b2c3d4e5/ou-ab12-cdef3456",
                "OrganizationUnit",
            )],
        );
        assert_eq!(run(&s).status, Status::Unknown);
    }

    #[test]
    fn a_long_list_is_counted_not_judged_against_an_invented_quota() {
        let mut s = base::healthy();
        let mut list: Vec<(String, String)> = (0..59)
            .map(|i| {
                (
                    format!("arn:aws:iam::{:012}:root", 300000000000u64 + i),
                    "Account".to_string(),
                )
            })
            .collect();
        list.push((
            format!("arn:aws:iam::{}:root", base::CONSUMER_ACCOUNT),
            "Account".into(),
        ));
        let refs: Vec<(&str, &str)> = list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        set(&mut s, &refs);
        let o = run(&s);
        assert_eq!(o.status, Status::Pass, "{}", o.summary);
        assert!(
            o.details
                .iter()
                .any(|d| d.starts_with("60 allowed principal entries")),
            "{:?}",
            o.details
        );
        assert!(!format!("{o:?}").contains("quota"), "{o:?}");
    }

    #[test]
    fn absent_permissions_are_unknown_needing_provider_access() {
        let mut s = base::healthy();
        s.provider.allowed_principals = Fact::needs_provider(Some(base::PROVIDER_ACCOUNT));
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("needs provider access"));
    }

    #[test]
    fn classify_handles_partitions_and_services() {
        let p = |a: &str, t: &str| AllowedPrincipal {
            principal: a.into(),
            principal_type: t.into(),
        };
        assert_eq!(
            classify(&p("arn:aws-us-gov:iam::123456789012:root", "Account")),
            Principal::AccountRoot("123456789012")
        );
        assert_eq!(
            classify(&p("elasticloadbalancing.amazonaws.com", "Service")),
            Principal::Service
        );
        assert_eq!(
            classify(&p("arn:aws:iam::123456789012:user/ci", "User")),
            Principal::User {
                account: "123456789012"
            }
        );
        assert_eq!(
            classify(&p(
                "arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5",
                "OrganizationUnit"
            )),
            Principal::Organization
        );
    }
}
