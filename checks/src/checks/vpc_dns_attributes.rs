//! Step 5: the consumer VPC lets private hosted zones (and so private DNS) work.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::net::dns::{amazon_resolvers, offered_name};

pub static META: CheckMeta = CheckMeta {
    id: "vpc-dns-attributes",
    title: "Consumer VPC has DNS support and DNS hostnames",
    source: "seed: Step 5, Troubleshooting runbook 3",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.vpc.enable_dns_support",
        "consumer.vpc.enable_dns_hostnames",
        "consumer.endpoint.private_dns_enabled",
        "provider.service_configuration.private_dns_name",
        "consumer.service.private_dns_name",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointServices",
    ],
    provider_actions: &["ec2:DescribeVpcEndpointServiceConfigurations"],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-dns-updating.html",
    doc: CheckDoc {
        what_it_checks: "The consumer VPC's enableDnsSupport and enableDnsHostnames attributes \
(DescribeVpcAttribute). When the endpoint uses private DNS (or the service offers a name it should use), both \
must be true. When it does not, only enableDnsSupport matters: it is what makes the Amazon-provided resolver \
(the VPC CIDR base + 2, and 169.254.169.253) answer at all, including for the endpoint's vpce-… names; \
enableDnsHostnames off is then reported but passes.",
        why_it_matters: "Private DNS works through a private hosted zone that AWS associates with the VPC, and \
private hosted zones only take effect when both attributes are true. With either off, private DNS is silently \
not effective: the friendly name falls through to public DNS (NXDOMAIN or a public address) even though the \
endpoint says private_dns_enabled = true (seed Step 5, runbook 3). AWS also refuses to enable private DNS on an \
endpoint while either is off. Terraform's aws_vpc defaults enable_dns_hostnames to false, so a VPC module \
re-applied without it turns private DNS off for every endpoint in the VPC.",
        how_to_fix: "One attribute per call (the API takes one at a time): `aws ec2 modify-vpc-attribute --vpc-id \
<vpc-…> --enable-dns-support '{\"Value\":true}'` and `aws ec2 modify-vpc-attribute --vpc-id <vpc-…> \
--enable-dns-hostnames '{\"Value\":true}'`. Terraform: `enable_dns_support = true` and `enable_dns_hostnames = \
true` on `aws_vpc`. Then re-run pl-doctor: dns-resolution should show the private name resolving to the ENIs.",
    },
};

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let vpc = crate::known_or_unknown!(&s.consumer.vpc, "the consumer VPC");
    let support = *crate::known_or_unknown!(
        &vpc.enable_dns_support,
        "the VPC attribute enableDnsSupport"
    );
    let hostnames = *crate::known_or_unknown!(
        &vpc.enable_dns_hostnames,
        "the VPC attribute enableDnsHostnames"
    );
    let ep = &s.consumer.endpoint;
    let offered = offered_name(s).ok().flatten();
    // Either the endpoint uses private DNS or it should (private-dns-enabled fails then,
    // and enabling it needs both attributes).
    let private_dns = ep.private_dns_enabled || offered.is_some();
    let evidence = serde_json::json!({
        "vpc_id": vpc.id,
        "enable_dns_support": support,
        "enable_dns_hostnames": hostnames,
        "private_dns_in_use": private_dns,
        "amazon_resolver": amazon_resolvers(&vpc.cidr_blocks).first(),
    });
    let command = |flag: &str| {
        format!(
            "aws ec2 modify-vpc-attribute --vpc-id {} {flag} '{{\"Value\":true}}'",
            vpc.id
        )
    };
    let mut off = Vec::new();
    let mut commands = Vec::new();
    let mut terraform = Vec::new();
    if !support {
        off.push("enableDnsSupport");
        commands.push(command("--enable-dns-support"));
        terraform.push("enable_dns_support = true");
    }
    let hostnames_matter = private_dns;
    if !hostnames && hostnames_matter {
        off.push("enableDnsHostnames");
        commands.push(command("--enable-dns-hostnames"));
        terraform.push("enable_dns_hostnames = true");
    }
    if off.is_empty() {
        let mut out = Outcome::pass(if hostnames {
            format!("{} has enableDnsSupport and enableDnsHostnames on", vpc.id)
        } else {
            format!(
                "{} has enableDnsSupport on; enableDnsHostnames is off but {} does not use private DNS",
                vpc.id, ep.id
            )
        })
        .evidence("vpc", evidence);
        if !hostnames {
            out = out.detail("Turn enableDnsHostnames on before enabling private DNS on any endpoint in this VPC: AWS requires it.");
        }
        return out;
    }
    let why = if private_dns {
        match &offered {
            Some(o) => format!(
                "private DNS for {} cannot take effect (private hosted zones need both attributes)",
                o.name
            ),
            None => {
                "private DNS cannot take effect (private hosted zones need both attributes)".into()
            }
        }
    } else {
        "the Amazon-provided resolver does not answer in this VPC, so even the vpce-… names resolve only through other DNS servers".into()
    };
    let summary = format!("{} has {} off: {why}", vpc.id, off.join(" and "));
    let remediation = format!(
        "{} (one attribute per call). Terraform: {} on the aws_vpc for {}.",
        commands.join(" && "),
        terraform.join(" and "),
        vpc.id
    );
    let out = if private_dns {
        Outcome::fail(summary)
    } else {
        // Clients may resolve the public vpce names through their own DNS servers.
        Outcome::warn(summary)
    };
    out.evidence("vpc", evidence).remediation(remediation)
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::fact::{Fact, Missing};
    use crate::model::Snapshot;
    use crate::scenarios::base::healthy;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    fn with(support: bool, hostnames: bool, private_dns: bool) -> Snapshot {
        let mut s = healthy();
        if let Fact::Known(v) = &mut s.consumer.vpc {
            v.enable_dns_support = Fact::Known(support);
            v.enable_dns_hostnames = Fact::Known(hostnames);
        }
        if !private_dns {
            s.consumer.endpoint.private_dns_enabled = false;
            if let Fact::Known(c) = &mut s.provider.service_configuration {
                c.private_dns_name = None;
            }
        }
        s
    }

    #[test]
    fn hostnames_off_with_private_dns_fails_with_one_call_per_attribute() {
        let o = run(&with(true, false, true));
        assert_eq!(o.status, Status::Fail);
        let r = o.remediation.unwrap();
        assert!(
            r.contains("--vpc-id vpc-0c0a5e1b2d3f4a5b6 --enable-dns-hostnames '{\"Value\":true}'")
        );
        assert!(!r.contains("--enable-dns-support"));
    }

    #[test]
    fn both_off_names_both_commands() {
        let o = run(&with(false, false, true));
        assert!(o
            .summary
            .contains("enableDnsSupport and enableDnsHostnames"));
        assert_eq!(
            o.remediation
                .unwrap()
                .matches("modify-vpc-attribute")
                .count(),
            2
        );
    }

    #[test]
    fn without_private_dns_hostnames_do_not_matter_but_support_does() {
        assert_eq!(run(&with(true, false, false)).status, Status::Pass);
        assert_eq!(run(&with(false, true, false)).status, Status::Warn);
    }

    #[test]
    fn unreadable_attribute_is_unknown() {
        let mut s = healthy();
        if let Fact::Known(v) = &mut s.consumer.vpc {
            v.enable_dns_hostnames = Fact::Absent(Missing::AccessDenied {
                action: "ec2:DescribeVpcAttribute".into(),
                message: None,
            });
        }
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.contains("ec2:DescribeVpcAttribute"));
    }
}
