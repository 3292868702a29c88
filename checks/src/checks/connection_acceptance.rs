//! Step 3 / Verify 2: the provider has accepted this endpoint's connection.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity, Status};
use crate::fact::Fact;
use crate::model::{eq_wire, EndpointConnection};
use crate::net::topic_policy::{vpce_may_publish, PublishVerdict};
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "connection-acceptance",
    title: "Provider accepted the connection",
    source: "seed: Step 3 (Acceptance, connection notifications), Verify 2",
    severity: Severity::Critical,
    applies_to: crate::endpoint_type::AppliesTo::EndpointServices,
    reads: &[
        "provider.connections",
        "provider.service_configuration.acceptance_required",
        "consumer.service.acceptance_required",
        "consumer.endpoint.state",
        "provider.connection_notifications",
    ],
    consumer_actions: &["ec2:DescribeVpcEndpoints", "ec2:DescribeVpcEndpointServices"],
    provider_actions: &[
        "ec2:DescribeVpcEndpointConnections",
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointConnectionNotifications",
        "sns:GetTopicAttributes",
    ],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html",
    doc: CheckDoc {
        what_it_checks: "The provider's connection record for this endpoint (DescribeVpcEndpointConnections on \
the service, matched by VpcEndpointId): `available` means accepted. `pendingAcceptance` and `rejected` fail. \
Explains acceptance_required (from the provider's configuration, or the consumer's view of the service). Without \
provider access, or where DescribeVpcEndpointConnections is not served, the consumer's endpoint state stands in: \
AWS moves the endpoint to `available` only once its connection is accepted. Connection notifications \
(DescribeVpcEndpointConnectionNotifications on the service): with acceptance_required = true and no `Enabled` \
notification for the `Connect` event, warns; a notification whose SNS topic policy (sns:GetTopicAttributes) does \
not let `vpce.amazonaws.com` publish warns too (an Allow for everyone narrowed by conditions, such as the default \
owner-only policy, does not count).",
        why_it_matters: "With acceptance_required = true every new connection waits in pendingAcceptance for the \
provider. Until then the endpoint has ENIs and DNS names, but traffic to them goes nowhere: clients hang. Without \
a Connect notification nobody learns of a pending connection until a consumer complains; a notification whose \
topic refuses the endpoint service's publish delivers nothing, and AWS disables it.",
        how_to_fix: "Provider: `aws ec2 accept-vpc-endpoint-connections --service-id <vpce-svc-…> \
--vpc-endpoint-ids <vpce-…>` (Terraform: `aws_vpc_endpoint_connection_accepter`). To stop polling, wire \
connection notifications to SNS: `aws ec2 create-vpc-endpoint-connection-notification --service-id <vpce-svc-…> \
--connection-notification-arn <sns-topic-arn> --connection-events Connect Accept Reject Delete` (Terraform: \
`aws_vpc_endpoint_connection_notification`). A rejected or expired connection cannot be accepted: the consumer \
deletes and recreates the endpoint, and the provider accepts the new request.",
    },
};

fn acceptance_note(required: Option<bool>, service_id: &str) -> String {
    match required {
        Some(true) => format!("{service_id} has acceptance_required = true: every new connection waits in pendingAcceptance until the provider accepts it"),
        Some(false) => format!("{service_id} has acceptance_required = false: connections from allowed principals are accepted automatically"),
        None => format!("whether {service_id} requires acceptance is not known"),
    }
}

fn verdict_for_state(
    state: &str,
    service_id: &str,
    endpoint_id: &str,
    consumer_account: &str,
    source: &str,
    allow_list_failed: bool,
) -> Outcome {
    let accept = format!(
        "aws ec2 accept-vpc-endpoint-connections --service-id {service_id} --vpc-endpoint-ids {endpoint_id}"
    );
    let notify = format!(
        "To stop polling for pending connections, send them to SNS: aws ec2 create-vpc-endpoint-connection-notification --service-id {service_id} --connection-notification-arn <your SNS topic ARN> --connection-events Connect Accept Reject Delete (Terraform: aws_vpc_endpoint_connection_notification); a Lambda on the topic can auto-approve principals from your consumer registry."
    );
    let recreate = format!(
        "The consumer ({consumer_account}) deletes it (aws ec2 delete-vpc-endpoints --vpc-endpoint-ids {endpoint_id}) and creates a new endpoint; the provider then accepts the new request ({accept} with the new id)."
    );
    if eq_wire(state, "available") {
        Outcome::pass(format!(
            "the connection from {endpoint_id} is accepted ({source})"
        ))
    } else if eq_wire(state, "pendingAcceptance") {
        Outcome::fail(format!(
            "the provider has not accepted {endpoint_id}: the connection is pendingAcceptance ({source})"
        ))
        .remediation(format!(
            "Provider: {}{accept} (Terraform: aws_vpc_endpoint_connection_accepter with vpc_endpoint_service_id = \"{service_id}\" and vpc_endpoint_id = \"{endpoint_id}\"). {notify}",
            if allow_list_failed {
                format!("first add account {consumer_account} to the allowed principals (see allowed-principals), then ")
            } else {
                String::new()
            }
        ))
    } else if eq_wire(state, "rejected") {
        Outcome::fail(format!(
            "the provider rejected the connection from {endpoint_id} ({source})"
        ))
        .remediation(format!(
            "A rejected connection cannot be accepted. {recreate}"
        ))
    } else if eq_wire(state, "expired") {
        Outcome::fail(format!(
            "the connection request from {endpoint_id} expired without being accepted ({source})"
        ))
        .remediation(format!(
            "An expired request cannot be accepted. {recreate} {notify}"
        ))
    } else if eq_wire(state, "pending") {
        Outcome::warn(format!(
            "the connection from {endpoint_id} is pending: AWS is still provisioning it ({source})"
        ))
        .remediation("Wait a few minutes and re-run.")
    } else {
        Outcome::fail(format!(
            "the connection from {endpoint_id} is {state} ({source})"
        ))
        .remediation(format!(
            "A {state} connection carries no traffic. {recreate}"
        ))
    }
}

/// What the service's connection notifications leave unseen: with acceptance required and
/// no Enabled notification for `Connect`, a pending connection waits until someone polls;
/// a notification whose topic policy does not let vpce.amazonaws.com publish delivers nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationFindings {
    pub warnings: Vec<String>,
    pub fixes: Vec<String>,
    /// Said, but not a finding (the notifications could not be read).
    pub notes: Vec<String>,
    pub evidence: serde_json::Value,
}

pub fn notification_findings(s: &crate::model::Snapshot) -> NotificationFindings {
    let service_id = s.service_id();
    let mut out = NotificationFindings::default();
    let list = match &s.provider.connection_notifications {
        Fact::Known(l) => l,
        Fact::Absent(m) => {
            if s.acceptance_required() == Some(true) {
                out.notes.push(format!(
                    "whether pending connections to {service_id} notify anyone is not known: connection notifications: {m}"
                ));
            }
            return out;
        }
    };
    let create = |events: &str| {
        format!(
            "aws ec2 create-vpc-endpoint-connection-notification --service-id {service_id} --connection-notification-arn <SNS topic ARN> --connection-events {events} (Terraform: aws_vpc_endpoint_connection_notification)"
        )
    };
    let enabled_connect = list
        .iter()
        .any(|n| eq_wire(&n.state, "Enabled") && n.events.iter().any(|e| eq_wire(e, "Connect")));
    if s.acceptance_required() == Some(true) && !enabled_connect {
        let disabled: Vec<&str> = list
            .iter()
            .filter(|n| !eq_wire(&n.state, "Enabled"))
            .map(|n| n.id.as_str())
            .collect();
        out.warnings.push(format!(
            "{service_id} requires acceptance but has no Enabled connection notification for Connect{}: new connections wait in pendingAcceptance until someone looks",
            if disabled.is_empty() {
                String::new()
            } else {
                format!(" ({} disabled: AWS disables a notification it cannot deliver)", disabled.join(", "))
            }
        ));
        out.fixes.push(format!(
            "Notify on new connections: {} with a topic policy that lets vpce.amazonaws.com publish; a Lambda on the topic can accept principals from your consumer registry (seed: Step 3).",
            create("Connect Accept Reject Delete")
        ));
    }
    let mut per = Vec::new();
    for n in list {
        let verdict = match &n.topic_policy {
            Fact::Known(p) => Some(vpce_may_publish(p)),
            Fact::Absent(m) => {
                out.notes.push(format!(
                    "the policy of {} (notification {}) is not known: {m}",
                    n.topic_arn, n.id
                ));
                None
            }
        };
        let judged = match &verdict {
            Some(PublishVerdict::Allowed { .. }) => "allows vpce.amazonaws.com to publish",
            Some(PublishVerdict::Denied { .. }) => "denies vpce.amazonaws.com sns:Publish",
            Some(PublishVerdict::NotAllowed) => "does not allow vpce.amazonaws.com to publish",
            Some(PublishVerdict::Undecided(_)) => "could not be judged",
            None => "not known",
        };
        if matches!(
            verdict,
            Some(PublishVerdict::Denied { .. } | PublishVerdict::NotAllowed)
        ) {
            out.warnings.push(format!(
                "notification {} ({}) cannot be delivered: the policy of {} {judged}",
                n.id,
                n.events.join(", "),
                n.topic_arn
            ));
            out.fixes.push(format!(
                "Let the endpoint service publish to {}: add to its policy {{\"Effect\":\"Allow\",\"Principal\":{{\"Service\":\"vpce.amazonaws.com\"}},\"Action\":\"SNS:Publish\",\"Resource\":\"{}\",\"Condition\":{{\"ArnLike\":{{\"aws:SourceArn\":\"arn:aws:ec2:{}:{}:vpc-endpoint-service/{service_id}\"}}}}}} (aws sns set-topic-attributes --topic-arn {} --attribute-name Policy --attribute-value file://policy.json; Terraform: aws_sns_topic_policy).",
                n.topic_arn,
                n.topic_arn,
                s.region,
                s.provider.identity.known().map(|i| i.account.as_str()).unwrap_or("<provider account>"),
                n.topic_arn
            ));
        }
        if let Some(PublishVerdict::Undecided(why)) = &verdict {
            out.notes
                .push(format!("the policy of {}: {why}", n.topic_arn));
        }
        per.push(json!({
            "id": n.id,
            "topic_arn": n.topic_arn,
            "events": n.events,
            "state": n.state,
            "topic_policy": judged,
        }));
    }
    out.evidence = json!(per);
    out
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let o = judge(ctx);
    let f = notification_findings(ctx.snapshot);
    let mut o = o.details(f.warnings.iter().cloned()).details(f.notes);
    if !f.warnings.is_empty() {
        if o.status == Status::Pass {
            o.status = Status::Warn;
            o.summary = format!("{}; but {}", o.summary, f.warnings[0]);
        }
        o.remediation = Some(match o.remediation.take() {
            Some(r) => format!("{r}\n{}", f.fixes.join("\n")),
            None => f.fixes.join("\n"),
        });
    }
    if ctx
        .snapshot
        .provider
        .connection_notifications
        .known()
        .is_some()
    {
        o = o.evidence("connection_notifications", f.evidence);
    }
    o
}

fn judge(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    let service_id = s.service_id();
    let required = s.acceptance_required();
    let allow_list_failed = ctx.failed_prerequisite(&["allowed-principals"]).is_some();
    let note = acceptance_note(required, &service_id);

    match &s.provider.connections {
        Fact::Known(conns) => {
            let record: Option<&EndpointConnection> =
                conns.iter().find(|c| c.vpc_endpoint_id == ep.id);
            match record {
                Some(c) => {
                    let mut o = verdict_for_state(
                        &c.vpc_endpoint_state,
                        &service_id,
                        &ep.id,
                        &c.vpc_endpoint_owner,
                        "provider's connection record",
                        allow_list_failed,
                    );
                    if !eq_wire(&c.vpc_endpoint_state, &ep.state) {
                        o = o.detail(format!(
                            "the consumer sees the endpoint as {} while the provider's record says {} (the two views can lag each other by a few seconds)",
                            ep.state, c.vpc_endpoint_state
                        ));
                    }
                    o.detail(note)
                        .evidence("connection", json!({
                            "vpc_endpoint_id": c.vpc_endpoint_id,
                            "vpc_endpoint_owner": c.vpc_endpoint_owner,
                            "vpc_endpoint_state": c.vpc_endpoint_state,
                            "creation_timestamp": c.creation_timestamp,
                        }))
                        .evidence("acceptance_required", required)
                        .evidence("service_id", &service_id)
                }
                None if eq_wire(&ep.state, "available") => Outcome::unknown(format!(
                    "{service_id} lists no connection from {} although the consumer sees the endpoint available: the provider credentials probably read a different service, account or region",
                    ep.id
                ))
                .detail(format!("{} connections listed on {service_id}", conns.len()))
                .evidence("endpoint_state", &ep.state)
                .evidence("service_id", &service_id),
                None => Outcome::fail(format!(
                    "{service_id} has no connection record for {} (endpoint state {}): the provider will never see it to accept it",
                    ep.id, ep.state
                ))
                .detail(note)
                .evidence("endpoint_state", &ep.state)
                .evidence("service_id", &service_id)
                .remediation(format!(
                    "Check that {} targets {} (aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {} --query 'VpcEndpoints[0].ServiceName'); if it does, delete and recreate it so a new connection request reaches the provider.",
                    ep.id, ep.service_name, ep.id
                )),
            }
        }
        Fact::Absent(missing) => {
            // AWS moves the endpoint out of pendingAcceptance only when the provider accepts,
            // so the consumer's endpoint state answers the question without provider access.
            let decided = ["available", "pendingAcceptance", "rejected", "expired"]
                .iter()
                .any(|st| eq_wire(st, &ep.state));
            if !decided {
                return Outcome::missing("the provider's connection record (provider.connections)", missing)
                    .detail(format!("the consumer's endpoint state, {}, does not say whether the connection was accepted", ep.state));
            }
            verdict_for_state(
                &ep.state,
                &service_id,
                &ep.id,
                &ep.owner_id,
                "inferred from the consumer's endpoint state",
                allow_list_failed,
            )
            .detail(format!(
                "the provider's connection record is not available: {missing}"
            ))
            .detail(note)
            .evidence("endpoint_state", &ep.state)
            .evidence("acceptance_required", required)
            .evidence("service_id", &service_id)
        }
    }
}

#[cfg(all(test, feature = "scenarios"))]
mod tests {
    use super::*;
    use crate::check::{EvalOptions, Status};
    use crate::model::Snapshot;
    use crate::scenarios::base;

    fn run(s: &Snapshot) -> Outcome {
        evaluate(&Context::new(s, &EvalOptions::default(), &[]))
    }

    fn conn_state(s: &mut Snapshot, state: &str) {
        let Fact::Known(c) = &mut s.provider.connections else {
            unreachable!()
        };
        c[0].vpc_endpoint_state = state.into();
        s.consumer.endpoint.state = state.into();
    }

    #[test]
    fn healthy_bases_pass() {
        assert_eq!(run(&base::healthy()).status, Status::Pass);
        assert_eq!(run(&base::enterprise()).status, Status::Pass);
    }

    #[test]
    fn pending_fails_with_accept_command_and_sns_tip() {
        let mut s = base::healthy();
        conn_state(&mut s, "PendingAcceptance");
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        let fix = o.remediation.unwrap();
        assert!(
            fix.contains(&format!(
                "accept-vpc-endpoint-connections --service-id {} --vpc-endpoint-ids {}",
                base::SERVICE_ID,
                base::ENDPOINT_ID
            )),
            "{fix}"
        );
        assert!(
            fix.contains("create-vpc-endpoint-connection-notification"),
            "{fix}"
        );
        assert!(o
            .details
            .iter()
            .any(|d| d.contains("acceptance_required = true")));
    }

    #[test]
    fn rejected_fails_and_says_recreate() {
        let mut s = base::healthy();
        conn_state(&mut s, "rejected");
        let o = run(&s);
        assert_eq!(o.status, Status::Fail);
        assert!(o.remediation.unwrap().contains("cannot be accepted"));
    }

    #[test]
    fn unreadable_connections_fall_back_to_the_endpoint_state() {
        // The AWS emulator does not serve DescribeVpcEndpointConnections.
        let mut s = base::healthy();
        s.provider.connections = Fact::Absent(crate::Missing::ApiError {
            operation: "DescribeVpcEndpointConnections".into(),
            message: "not implemented".into(),
        });
        let o = run(&s);
        assert_eq!(o.status, Status::Pass);
        assert!(o.summary.contains("inferred"));
        s.consumer.endpoint.state = "pendingAcceptance".into();
        assert_eq!(run(&s).status, Status::Fail);
        s.consumer.endpoint.state = "pending".into();
        assert_eq!(run(&s).status, Status::Unknown);
    }

    #[test]
    fn no_record_is_unknown_when_available_and_fail_otherwise() {
        let mut s = base::healthy();
        s.provider.connections = Fact::Known(vec![]);
        assert_eq!(run(&s).status, Status::Unknown);
        s.consumer.endpoint.state = "pendingAcceptance".into();
        assert_eq!(run(&s).status, Status::Fail);
    }
}
