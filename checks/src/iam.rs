//! Least-privilege IAM policies, generated from the actions each check declares in its
//! metadata, so the policy cannot drift from what the runbook reads.

use crate::registry::RUNBOOK;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Which account's credentials the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Consumer,
    Provider,
}

/// The verbs pl-doctor may call: reads, Logs Insights queries over flow logs, and
/// the STS calls that establish who it is and reach the provider account.
const READ_ONLY_PREFIXES: [&str; 8] = [
    "Describe",
    "Get",
    "List",
    // cloudtrail:LookupEvents (what changed behind a failing check).
    "Lookup",
    "StartQuery",
    "StopQuery",
    "AssumeRole",
    "GetCallerIdentity",
];

/// True when `action` (`service:Operation`) is one pl-doctor is allowed to call at all.
pub fn is_read_only(action: &str) -> bool {
    action
        .split_once(':')
        .is_some_and(|(_, op)| READ_ONLY_PREFIXES.iter().any(|p| op.starts_with(p)))
}

/// What a fleet run (`--all`) reads beyond the checks' facts, in the consumer account:
/// the applied endpoints-per-VPC quota (crate::quota).
pub const FLEET_CONSUMER_ACTIONS: &[&str] = &["servicequotas:GetServiceQuota"];

/// Every action the runbook (and, on the consumer side, a fleet run) needs on one side,
/// sorted and deduplicated: the checks' own, and on both sides the CloudTrail lookups
/// behind any failing or warning check (`crate::changes`), in whichever account owns the
/// resource.
pub fn actions(side: Side) -> BTreeSet<&'static str> {
    let fleet: &[&'static str] = match side {
        Side::Consumer => FLEET_CONSUMER_ACTIONS,
        Side::Provider => &[],
    };
    RUNBOOK
        .iter()
        .flat_map(|c| match side {
            Side::Consumer => c.meta.consumer_actions,
            Side::Provider => c.meta.provider_actions,
        })
        .chain(fleet)
        .copied()
        .chain(std::iter::once(crate::changes::LOOKUP_ACTION))
        .collect()
}

/// The IAM policy document for one side. With `assume_role` (the consumer side of a
/// cross-account run) the consumer may also assume that provider role.
pub fn policy(side: Side, assume_role: Option<&str>) -> Value {
    let sid = match side {
        Side::Consumer => "PlDoctorConsumerReadOnly",
        Side::Provider => "PlDoctorProviderReadOnly",
    };
    let mut statements = vec![json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions(side).into_iter().collect::<Vec<_>>(),
        "Resource": "*",
    })];
    if let (Side::Consumer, Some(role)) = (side, assume_role) {
        statements.push(json!({
            "Sid": "PlDoctorAssumeProviderRole",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": role,
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The hub caller's policy for a many-account run: list the organization's accounts and
/// the enabled regions, and assume the named member roles in any account (each member
/// role's own policy is the consumer's, or the provider's for `--provider-role-name`;
/// its trust policy names the caller). The caller's own account is read without
/// assuming, so the caller needs the consumer policy too when it has endpoints.
pub fn hub_policy(role_names: &[&str]) -> Value {
    let mut statements = vec![json!({
        "Sid": "PlDoctorHubDiscovery",
        "Effect": "Allow",
        "Action": ["ec2:DescribeRegions", "organizations:ListAccounts"],
        "Resource": "*",
    })];
    if !role_names.is_empty() {
        statements.push(json!({
            "Sid": "PlDoctorAssumeMemberRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": role_names
                .iter()
                .map(|n| format!("arn:aws:iam::*:role/{n}"))
                .collect::<Vec<_>>(),
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The trust policy a member role needs: the hub principal may assume it, with the
/// external id when one is used.
pub fn member_trust_policy(hub_principal: &str, external_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Sid": "PlDoctorHub",
        "Effect": "Allow",
        "Principal": { "AWS": hub_principal },
        "Action": "sts:AssumeRole",
    });
    if let Some(id) = external_id {
        statement["Condition"] = json!({ "StringEquals": { "sts:ExternalId": id } });
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_policy_lists_accounts_regions_and_assumes_only_the_named_roles() {
        let p = hub_policy(&["pl-doctor-read", "pl-doctor-provider"]);
        let text = p.to_string();
        assert!(
            text.contains("organizations:ListAccounts") && text.contains("ec2:DescribeRegions")
        );
        assert!(text.contains("arn:aws:iam::*:role/pl-doctor-read"));
        assert!(text.contains("arn:aws:iam::*:role/pl-doctor-provider"));
        for s in p["Statement"].as_array().unwrap() {
            for a in s["Action"].as_array().unwrap() {
                assert!(is_read_only(a.as_str().unwrap()), "{a}");
            }
        }
        let trust = member_trust_policy("arn:aws:iam::111111111111:role/platform-hub", Some("x-1"));
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
            "x-1"
        );
        assert_eq!(
            trust["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:role/platform-hub"
        );
    }

    #[test]
    fn every_declared_action_is_read_only_and_well_formed() {
        for c in RUNBOOK.iter() {
            for a in c
                .meta
                .consumer_actions
                .iter()
                .chain(c.meta.provider_actions)
            {
                let (svc, op) = a
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{}: {a} has no service prefix", c.meta.id));
                assert!(
                    [
                        "ec2",
                        "elasticloadbalancing",
                        "sts",
                        "cloudwatch",
                        "logs",
                        "route53",
                        "route53resolver",
                        "sns",
                        "servicequotas"
                    ]
                    .contains(&svc),
                    "{}: unexpected service in {a}",
                    c.meta.id
                );
                assert!(
                    op.chars().next().is_some_and(|ch| ch.is_ascii_uppercase()),
                    "{a}"
                );
                assert!(
                    is_read_only(a),
                    "{}: {a} is not a read-only action",
                    c.meta.id
                );
            }
        }
    }

    #[test]
    fn mutating_actions_are_not_read_only() {
        for a in [
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AcceptVpcEndpointConnections",
            "ec2:ModifyVpcEndpoint",
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "ec2:CreateFlowLogs",
            "ec2:DeleteVpcEndpoints",
            "logs:PutQueryDefinition",
            "nocolon",
        ] {
            assert!(!is_read_only(a), "{a}");
        }
    }

    #[test]
    fn policies_cover_what_the_checks_declare_per_side() {
        let consumer = policy(
            Side::Consumer,
            Some("arn:aws:iam::111111111111:role/pl-doctor"),
        );
        let actions: Vec<&str> = consumer["Statement"][0]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(actions.contains(&"ec2:DescribeVpcEndpoints"));
        assert!(actions.contains(&"ec2:DescribeNetworkAcls"));
        assert!(
            actions.contains(&"servicequotas:GetServiceQuota"),
            "the fleet's endpoints-per-VPC quota"
        );
        assert!(
            !actions.contains(&"elasticloadbalancing:DescribeTargetHealth"),
            "provider-only action in consumer policy"
        );
        assert!(actions.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert_eq!(consumer["Statement"][1]["Action"][0], "sts:AssumeRole");
        assert_eq!(
            consumer["Statement"][1]["Resource"],
            "arn:aws:iam::111111111111:role/pl-doctor"
        );

        let provider = policy(Side::Provider, None);
        assert_eq!(provider["Statement"].as_array().unwrap().len(), 1);
        let p: Vec<&str> = provider["Statement"][0]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for needed in [
            "elasticloadbalancing:DescribeTargetHealth",
            "ec2:DescribeVpcEndpointServiceConfigurations",
            "ec2:DescribeVpcEndpointServicePermissions",
            "ec2:DescribeVpcEndpointConnections",
        ] {
            assert!(p.contains(&needed), "provider policy lacks {needed}");
        }
    }
}
