//! Observability: flow logs cover the endpoint ENIs and show no rejected traffic.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::model::{eq_wire, FlowLog, RejectRow};

pub static META: CheckMeta = CheckMeta {
    id: "flow-log-rejects",
    title: "Flow logs show no rejects at the endpoint",
    source: "seed: Observability and cost (VPC Flow Logs on the endpoint ENIs, the Logs Insights REJECT query)",
    severity: Severity::Medium,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "observability.flow_logs",
        "observability.flow_log_rejects",
        "consumer.endpoint.network_interface_ids",
        "consumer.endpoint.subnet_ids",
        "consumer.endpoint.vpc_id",
    ],
    consumer_actions: &[
        "ec2:DescribeFlowLogs",
        "ec2:DescribeVpcEndpoints",
        "logs:StartQuery",
        "logs:GetQueryResults",
        // Stops the query when --timeout passes, so an abandoned scan stops billing.
        "logs:StopQuery",
    ],
    provider_actions: &[],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html",
    doc: CheckDoc {
        what_it_checks: "That an ACTIVE flow log with traffic type ALL or REJECT covers the endpoint's ENIs (attached \
to an ENI, to one of the endpoint's subnets, or to its VPC) and delivers to CloudWatch Logs, then the Logs Insights \
query for REJECT records on those ENIs over the window. Rejects on a service port fail with the top sources and \
ports; rejects only on other ports warn (a client aimed at the wrong port, or a scanner); none pass. No covering \
flow log warns with the command to create one; flow logs only to S3 or Firehose warn, since Logs Insights cannot \
query them.",
        why_it_matters: "Flow logs on the endpoint ENIs are the ground truth when a consumer swears they cannot \
connect (seed Observability): a REJECT row names the source address and port that the endpoint security group \
or the subnet's network ACL dropped, even after the change that caused it was reverted.",
        how_to_fix: "No flow log: `aws ec2 create-flow-logs --resource-type NetworkInterface --resource-ids <eni-…> \
--traffic-type ALL --log-destination-type cloud-watch-logs --log-group-name <group> --deliver-logs-permission-arn \
<role ARN trusted by vpc-flow-logs.amazonaws.com>` (Terraform: `aws_flow_log` with `eni_id`, `traffic_type = \
\"ALL\"`, `log_destination_type = \"cloud-watch-logs\"`). Rejects: the endpoint security group must admit the \
source on the port (endpoint-sg-ingress, e.g. `aws ec2 authorize-security-group-ingress --group-id <sg-…> \
--protocol tcp --port <port> --cidr <source>/32`), and the subnet's network ACL must allow it in and the \
ephemeral ports out (subnet-nacl).",
    },
};

fn covers(fl: &FlowLog, enis: &[String], subnets: &[String], vpc: &str) -> bool {
    let r = fl.resource_id.as_str();
    let captures_rejects = eq_wire(&fl.traffic_type, "ALL") || eq_wire(&fl.traffic_type, "REJECT");
    captures_rejects
        && eq_wire(&fl.status, "ACTIVE")
        && (enis.iter().any(|e| e == r) || subnets.iter().any(|s| s == r) || r == vpc)
}

fn row_line(r: &RejectRow) -> String {
    format!(
        "{} -> port {}{}: {} rejects",
        r.src_addr,
        r.dst_port,
        r.interface_id
            .as_deref()
            .map(|i| format!(" on {i}"))
            .unwrap_or_default(),
        r.rejects
    )
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let o = &s.observability;
    let window = format!("{} to {}", o.window_start, o.window_end);
    let flow_logs = crate::known_or_unknown!(&o.flow_logs, "the flow logs of the endpoint ENIs");
    let covering: Vec<&FlowLog> = flow_logs
        .iter()
        .filter(|f| covers(f, &ep.network_interface_ids, &ep.subnet_ids, &ep.vpc_id))
        .collect();
    let queryable: Vec<&FlowLog> = covering
        .iter()
        .copied()
        .filter(|f| eq_wire(&f.destination_type, "cloud-watch-logs"))
        .collect();
    let account = s
        .consumer_identity
        .known()
        .map(|i| i.account.clone())
        .unwrap_or_else(|| ep.owner_id.clone());
    let group = format!("/vpc/flow-logs/{}", ep.id);
    let create = format!(
        "aws ec2 create-flow-logs --resource-type NetworkInterface --resource-ids {} --traffic-type ALL --log-destination-type cloud-watch-logs --log-group-name {group} --deliver-logs-permission-arn arn:aws:iam::{account}:role/vpc-flow-logs-delivery (a role trusted by vpc-flow-logs.amazonaws.com with logs:CreateLogStream, logs:PutLogEvents, logs:DescribeLogStreams; create it first if it does not exist). Terraform: aws_flow_log with eni_id per ENI ({}), traffic_type = \"ALL\", log_destination_type = \"cloud-watch-logs\".",
        ep.network_interface_ids.join(" "),
        ep.network_interface_ids.join(", ")
    );
    let listed: Vec<_> = flow_logs
        .iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id, "resource_id": f.resource_id, "traffic_type": f.traffic_type,
                "destination_type": f.destination_type, "status": f.status,
                "covers_endpoint": covering.iter().any(|c| c.id == f.id),
            })
        })
        .collect();
    let mut planned: Vec<String> = queryable
        .iter()
        .filter_map(|f| f.log_group_name.clone())
        .collect();
    planned.sort();
    planned.dedup();
    if covering.is_empty() {
        return Outcome::warn(format!(
            "no active flow log capturing rejects covers the endpoint ENIs ({}): rejected connections leave no trace",
            ep.network_interface_ids.join(", ")
        ))
        .evidence("flow_logs", &listed)
        .evidence("endpoint_enis", &ep.network_interface_ids)
        .evidence("log_groups", Vec::<String>::new())
        .detail("Log groups queried: none (no flow log to query).")
        .remediation(create);
    }
    if queryable.is_empty() {
        let dests: Vec<String> = covering
            .iter()
            .map(|f| format!("{} ({})", f.id, f.destination_type))
            .collect();
        return Outcome::warn(format!(
            "flow logs cover the endpoint ENIs but deliver only to {}: Logs Insights cannot query them, so pl-doctor cannot look for rejects",
            dests.join(", ")
        ))
        .evidence("flow_logs", &listed)
        .evidence("log_groups", Vec::<String>::new())
        .detail("Log groups queried: none (Logs Insights reads only CloudWatch Logs).")
        .detail("Query them with Athena over the S3 bucket (filter interface_id on the endpoint ENIs and action = 'REJECT'), or add a CloudWatch Logs flow log as below.")
        .remediation(create);
    }
    let groups_text = |g: &[String]| {
        if g.is_empty() {
            "no log group".to_owned()
        } else {
            g.join(", ")
        }
    };
    let rejects = match &o.flow_log_rejects {
        crate::fact::Fact::Known(r) => r,
        crate::fact::Fact::Absent(m) => {
            return Outcome::unknown(format!(
                "cannot read the Logs Insights REJECT query over {}: {m}",
                groups_text(&planned)
            ))
            .evidence("window", &window)
            .evidence("flow_logs", &listed)
            .evidence("log_groups", &planned)
        }
    };
    let skipped = (rejects.rows_skipped > 0).then(|| {
        format!(
            "{} result row(s) skipped, not guessed: {}",
            rejects.rows_skipped,
            rejects.skipped_reasons.join("; ")
        )
    });
    let base = |out: Outcome| {
        let out = out
            .evidence("window", &window)
            .evidence("flow_logs", &listed)
            .evidence("log_groups", &rejects.log_groups)
            .evidence("query", &rejects.query)
            .evidence("records_scanned", rejects.records_scanned)
            .evidence("rows_skipped", rejects.rows_skipped)
            .detail(format!(
                "Log groups queried: {}.",
                groups_text(&rejects.log_groups)
            ));
        match &skipped {
            Some(s) => out.detail(s.clone()),
            None => out,
        }
    };
    if rejects.rows.is_empty() && rejects.rows_skipped > 0 {
        return base(Outcome::unknown(format!(
            "the REJECT query over {} answered, but none of its {} result row(s) could be read: whether anything was rejected in {window} is not known",
            groups_text(&rejects.log_groups),
            rejects.rows_skipped
        )));
    }
    if rejects.rows.is_empty() {
        return base(Outcome::pass(format!(
            "no REJECT records for the endpoint ENIs in {window} ({} scanned in {})",
            rejects
                .records_scanned
                .map(|n| format!("{n} records"))
                .unwrap_or_else(|| "records".into()),
            rejects.log_groups.join(", ")
        )));
    }
    let ports = ctx.ports().ok().map(|p| p.ports);
    let on_service = |r: &&RejectRow| ports.as_ref().is_none_or(|p| p.contains(&r.dst_port));
    let service_rows: Vec<&RejectRow> = rejects.rows.iter().filter(on_service).collect();
    let top: Vec<String> = rejects.rows.iter().take(5).map(row_line).collect();
    let rows_evidence: Vec<_> = rejects.rows.iter().collect();
    if service_rows.is_empty() {
        return base(Outcome::warn(format!(
            "rejects at the endpoint only on ports the service does not serve ({}): a client aimed at the wrong port, or a scan",
            top.join("; ")
        )))
        .evidence("rows", &rows_evidence)
        .remediation(format!(
            "Point the clients at the service port{} ({}); the endpoint security group correctly drops other ports.",
            if ports.as_ref().is_some_and(|p| p.len() > 1) { "s" } else { "" },
            ports.unwrap_or_default().iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    let total: u64 = service_rows.iter().map(|r| r.rejects).sum();
    let first = service_rows[0];
    let sg = ep
        .security_group_ids
        .first()
        .map(String::as_str)
        .unwrap_or("the endpoint security group");
    let cidr = if first.src_addr.contains(':') {
        format!("--ip-permissions IpProtocol=tcp,FromPort={p},ToPort={p},Ipv6Ranges=[{{CidrIpv6={}/128}}]", first.src_addr, p = first.dst_port)
    } else {
        format!(
            "--protocol tcp --port {} --cidr {}/32",
            first.dst_port, first.src_addr
        )
    };
    base(Outcome::fail(format!(
        "{total} rejected connection attempts to the endpoint on the service port in {window}; top: {}",
        row_line(first)
    )))
    .evidence("rows", &rows_evidence)
    .details(top)
    .detail("Compare with endpoint-sg-ingress and subnet-nacl: if they pass now, the rejects came from a change that has since been reverted (check CloudTrail for AuthorizeSecurityGroupIngress/RevokeSecurityGroupIngress and ReplaceNetworkAclEntry in the window).")
    .remediation(format!(
        "If these sources should reach the service: admit them on the endpoint security group (aws ec2 authorize-security-group-ingress --group-id {sg} {cidr}; see endpoint-sg-ingress) and make sure the network ACL of the endpoint subnets ({}) allows them in and ephemeral ports 1024-65535 out (see subnet-nacl).",
        ep.subnet_ids.join(", ")
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

    fn with_rows(rows: Vec<RejectRow>) -> Snapshot {
        let mut s = healthy();
        if let Fact::Known(r) = &mut s.observability.flow_log_rejects {
            r.rows = rows;
        }
        s
    }

    fn row(src: &str, port: u16, n: u64) -> RejectRow {
        RejectRow {
            src_addr: src.into(),
            dst_port: port,
            interface_id: Some("eni-0a1a2a3a4a5a6a7a8".into()),
            rejects: n,
        }
    }

    #[test]
    fn rejects_on_the_service_port_fail_with_the_source() {
        let o = run(&with_rows(vec![
            row("10.0.3.10", 8443, 42),
            row("10.0.3.11", 8443, 7),
        ]));
        assert_eq!(o.status, Status::Fail);
        assert!(o.summary.contains("49 rejected"));
        assert!(o.remediation.unwrap().contains(
            "--group-id sg-0e1d2c3b4a5f60718 --protocol tcp --port 8443 --cidr 10.0.3.10/32"
        ));
    }

    #[test]
    fn rejects_only_on_other_ports_warn() {
        let o = run(&with_rows(vec![row("10.0.3.10", 443, 12)]));
        assert_eq!(o.status, Status::Warn);
        assert!(o.remediation.unwrap().contains("8443"));
    }

    #[test]
    fn no_covering_flow_log_warns_with_the_concrete_enis() {
        let mut s = healthy();
        s.observability.flow_logs = Fact::Known(vec![]);
        let o = run(&s);
        assert_eq!(o.status, Status::Warn);
        let r = o.remediation.unwrap();
        assert!(r.contains("--resource-ids eni-0a1a2a3a4a5a6a7a8 eni-0b1b2b3b4b5b6b7b8"));
        assert!(r.contains("arn:aws:iam::222222222222:role/vpc-flow-logs-delivery"));
    }

    #[test]
    fn accept_only_or_other_vpc_flow_logs_do_not_cover() {
        let mut s = healthy();
        if let Fact::Known(f) = &mut s.observability.flow_logs {
            f[0].traffic_type = "ACCEPT".into();
            f.push(FlowLog {
                resource_id: "vpc-0ffffffffffffffff".into(),
                traffic_type: "ALL".into(),
                id: "fl-2".into(),
                ..f[0].clone()
            });
        }
        assert_eq!(run(&s).status, Status::Warn);
    }

    #[test]
    fn s3_only_cannot_be_queried() {
        let mut s = healthy();
        if let Fact::Known(f) = &mut s.observability.flow_logs {
            f[0].destination_type = "s3".into();
        }
        let o = run(&s);
        assert_eq!(o.status, Status::Warn);
        assert!(o.summary.contains("Logs Insights cannot query"));
    }

    #[test]
    fn no_rows_pass_reporting_the_window() {
        let o = run(&healthy());
        assert_eq!(o.status, Status::Pass);
        assert!(o
            .summary
            .contains("2026-11-24T09:00:00Z to 2026-11-24T10:00:00Z"));
    }

    #[test]
    fn every_status_names_the_log_groups_queried() {
        use crate::fact::Missing;
        let mut s = healthy();
        s.observability.flow_log_rejects = Fact::Absent(Missing::AccessDenied {
            action: "logs:StartQuery".into(),
            message: None,
        });
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(
            o.summary.contains("/vpc/flow-logs/consumer") && o.summary.contains("logs:StartQuery"),
            "{}",
            o.summary
        );
        assert_eq!(o.evidence["log_groups"][0], "/vpc/flow-logs/consumer");
        for o in [
            run(&healthy()),
            run(&with_rows(vec![row("10.0.3.10", 8443, 3)])),
        ] {
            assert!(
                o.details
                    .iter()
                    .any(|d| d == "Log groups queried: /vpc/flow-logs/consumer."),
                "{:?}",
                o.details
            );
        }
    }

    #[test]
    fn skipped_rows_are_counted_and_a_reply_of_only_skipped_rows_is_unknown() {
        let mut s = with_rows(vec![row("10.0.3.10", 8443, 3)]);
        if let Fact::Known(r) = &mut s.observability.flow_log_rejects {
            r.rows_skipped = 2;
            r.skipped_reasons = vec!["a result row lacks srcAddr".into()];
        }
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.details
                .iter()
                .any(|d| d.starts_with("2 result row(s) skipped")),
            "{:?}",
            o.details
        );
        if let Fact::Known(r) = &mut s.observability.flow_log_rejects {
            r.rows.clear();
        }
        let o = run(&s);
        assert_eq!(o.status, Status::Unknown);
        assert!(
            o.summary.contains("none of its 2 result row(s)"),
            "{}",
            o.summary
        );
    }
}
