//! Every AWS operation the collector can call, per side, as the IAM action it needs.
//! `Stage::call` refuses (in debug builds, so in every test) an action missing here,
//! and the tests below keep the table equal to the source and read-only, and check
//! that `pl-doctor iam-policy` grants all of it.

/// Called with the consumer's credentials (the account owning the endpoint).
pub const CONSUMER: &[&str] = &[
    "sts:GetCallerIdentity",
    // Made by the credentials provider (config.rs) to reach the provider account.
    "sts:AssumeRole",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeSubnets",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
    "ec2:DescribeVpcEndpointServices",
    // Cross-region endpoints only: is the service's Region enabled for this account.
    "ec2:DescribeRegions",
    "ec2:DescribeFlowLogs",
    // dns-overrides: the VPC's DHCP option set, Resolver rules and private hosted zones.
    "ec2:DescribeDhcpOptions",
    "route53resolver:ListResolverRuleAssociations",
    "route53resolver:GetResolverRule",
    "route53:ListHostedZonesByVPC",
    "route53:ListResourceRecordSets",
    "cloudwatch:GetMetricData",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StopQuery",
    // What changed: CloudTrail write events on the resources of failing/warning checks.
    "cloudtrail:LookupEvents",
    // --all: the applied interface-endpoints-per-VPC quota (pl_checks::quota).
    "servicequotas:GetServiceQuota",
];

/// Called with the provider's credentials (the account owning the service and NLB).
pub const PROVIDER: &[&str] = &[
    "sts:GetCallerIdentity",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpointServicePermissions",
    "ec2:DescribeVpcEndpointConnections",
    "ec2:DescribeVpcEndpointConnectionNotifications",
    "sns:GetTopicAttributes",
    "ec2:DescribeSubnets",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "cloudwatch:GetMetricData",
    "cloudtrail:LookupEvents",
];

/// Called with the hub caller's credentials in a many-account run (`--accounts`/`--org`,
/// `--consumer-role-name`, `--provider-role-name`): who it is, which accounts and regions,
/// and the member roles it assumes. The caller's own account is also read as a consumer.
pub const HUB: &[&str] = &[
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    "organizations:ListAccounts",
    "ec2:DescribeRegions",
];

/// True when the collector lists `action` on any side.
pub fn is_listed(action: &str) -> bool {
    CONSUMER.contains(&action) || PROVIDER.contains(&action) || HUB.contains(&action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pl_checks::iam::{self, Side};
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Actions AWS never denies, so a policy need not grant them: "No permissions are
    /// required to perform this operation" (STS API reference, GetCallerIdentity).
    const NEED_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

    /// The collector's sources without their test modules (which name made-up actions).
    fn product_sources() -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            for entry in std::fs::read_dir(dir).expect("read src/collect") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && path.file_name().is_some_and(|n| n != "testing.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("read source");
                    let product = match text.find("#[cfg(test)]\nmod tests") {
                        Some(i) => text[..i].to_owned(),
                        None => text,
                    };
                    out.push((path, product));
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect"),
            &mut out,
        );
        assert!(out.len() > 5, "found the collector's sources");
        out
    }

    /// Every `"service:Operation"` literal of the product code.
    fn action_literals(text: &str) -> Vec<String> {
        const SERVICES: [&str; 11] = [
            "cloudtrail",
            "ec2",
            "elasticloadbalancing",
            "sts",
            "cloudwatch",
            "logs",
            "route53",
            "route53resolver",
            "organizations",
            "sns",
            "servicequotas",
        ];
        let mut found = Vec::new();
        for service in SERVICES {
            let needle = format!("\"{service}:");
            for (i, _) in text.match_indices(&needle) {
                let operation: String = text[i + needle.len()..]
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                found.push(format!("{service}:{operation}"));
            }
        }
        found
    }

    /// Every SDK fluent call on a client (`ec2.describe_vpcs()`, across line breaks),
    /// as `(client, Operation)`.
    fn sdk_calls(text: &str) -> Vec<(String, String)> {
        const CLIENTS: [&str; 11] = [
            "ec2", "elb", "sts", "logs", "cw", "route53", "resolver", "org", "sns", "quotas",
            "trail",
        ];
        let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut found = Vec::new();
        for client in CLIENTS {
            let needle = format!("{client}.");
            for (i, _) in flat.match_indices(&needle) {
                let before = flat[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &flat[i + needle.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && rest[name.len()..].starts_with("()") {
                    let camel: String = name
                        .split('_')
                        .map(|w| {
                            let mut c = w.chars();
                            c.next()
                                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                                .unwrap_or_default()
                        })
                        .collect();
                    found.push((client.to_owned(), camel));
                }
            }
        }
        found
    }

    #[test]
    fn every_action_and_sdk_call_in_the_collector_is_in_the_table() {
        let listed: BTreeSet<&str> = CONSUMER
            .iter()
            .chain(PROVIDER)
            .chain(HUB)
            .copied()
            .collect();
        // Compared case-insensitively: the SDK spells ListHostedZonesByVPC `..._by_vpc`.
        let operations: BTreeSet<String> = listed
            .iter()
            .filter_map(|a| a.split_once(':').map(|(_, op)| op.to_ascii_lowercase()))
            .collect();
        let mut unlisted = Vec::new();
        let mut calls = 0;
        for (path, text) in product_sources() {
            for action in action_literals(&text) {
                if !listed.contains(action.as_str()) {
                    unlisted.push(format!("{}: {action}", path.display()));
                }
            }
            for (client, op) in sdk_calls(&text) {
                calls += 1;
                if !operations.contains(&op.to_ascii_lowercase()) {
                    unlisted.push(format!("{}: {client}.{op}", path.display()));
                }
            }
        }
        assert!(calls >= 25, "the scan found the SDK calls ({calls})");
        assert!(
            unlisted.is_empty(),
            "calls missing from src/collect/operations.rs: {unlisted:#?}"
        );
    }

    #[test]
    fn the_scan_sees_calls_across_line_breaks() {
        let src = "c.ec2\n    .describe_vpcs()\n  .send(); my_ec2.create_vpc(); \"ec2:DeleteVpc\"";
        assert_eq!(sdk_calls(src), [("ec2".into(), "DescribeVpcs".into())]);
        assert_eq!(action_literals(src), ["ec2:DeleteVpc"]);
    }

    #[test]
    fn every_operation_is_read_only() {
        for action in CONSUMER.iter().chain(PROVIDER).chain(HUB) {
            assert!(iam::is_read_only(action), "{action} is not read-only");
        }
    }

    #[test]
    fn iam_policy_grants_every_operation_of_its_side() {
        let role = "arn:aws:iam::111111111111:role/pl-doctor";
        for (side, table) in [(Side::Consumer, CONSUMER), (Side::Provider, PROVIDER)] {
            let policy = iam::policy(side, Some(role));
            let granted: BTreeSet<String> = policy["Statement"]
                .as_array()
                .expect("statements")
                .iter()
                .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let missing: Vec<&&str> = table
                .iter()
                .filter(|a| !granted.contains(**a) && !NEED_NO_PERMISSION.contains(a))
                .collect();
            assert!(
                missing.is_empty(),
                "the {side:?} iam-policy lacks {missing:?}: add them to the consumer_actions/provider_actions of the checks that read them"
            );
        }
        let hub = iam::hub_policy(&["pl-doctor-read"]);
        let granted: BTreeSet<String> = hub["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        for action in HUB.iter().filter(|a| !NEED_NO_PERMISSION.contains(a)) {
            assert!(
                granted.contains(*action),
                "the hub iam-policy lacks {action}"
            );
        }
    }
}
