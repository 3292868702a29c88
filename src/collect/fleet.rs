//! `--all`: every interface endpoint to a PrivateLink service in the consumer's region
//! (optionally one VPC), with the facts they share fetched once for all.
//!
//! The collection itself is [`super::collect_many`], the same code a one-endpoint run
//! uses: one DescribeVpcEndpoints (filtered to interface endpoints, and to `--vpc`),
//! then one batched describe per kind for all the endpoints, then one complete snapshot
//! per endpoint cut from the shared replies.

use super::consumer::Lookup;
use super::errors::FailureKind;
use super::{one_line, EndpointLookupError, LiveRequest};
use crate::exit::Failure;
use pl_checks::fleet::{FleetKind, FleetScope, FleetSnapshot, FLEET_SNAPSHOT_VERSION};

#[derive(Debug, Clone)]
pub struct FleetRequest {
    /// `--vpc`: only the endpoints in this VPC.
    pub vpc_id: Option<String>,
    /// The settings every endpoint is collected with (its `endpoint_id` is unused).
    pub live: LiveRequest,
}

pub fn collect_blocking(req: &FleetRequest) -> Result<FleetSnapshot, Failure> {
    super::runtime(&req.live)?.block_on(Box::pin(collect(req)))
}

pub async fn collect(req: &FleetRequest) -> Result<FleetSnapshot, Failure> {
    let lookup = Lookup::Fleet {
        vpc_id: req.vpc_id.clone(),
        include_aws_services: req.live.include_aws_services,
    };
    let c = super::collect_many(&req.live, &lookup).await?;
    Ok(FleetSnapshot {
        fleet_snapshot_version: FLEET_SNAPSHOT_VERSION,
        kind: FleetKind::Fleet,
        collected_by: format!("pl-doctor {}", env!("CARGO_PKG_VERSION")),
        collected_at: c.collected_at,
        scope: FleetScope {
            region: c.region,
            account: c.account,
            vpc_id: req.vpc_id.clone(),
            left_out: c.left_out,
            ..FleetScope::default()
        },
        service: None,
        snapshots: c.snapshots,
        endpoint_quotas: c.endpoint_quota.into_iter().collect(),
    })
}

/// The one-line reason and hint when the endpoints cannot be listed at all. Finding
/// none is not a failure: that is an empty fleet.
pub(super) fn fatal(
    vpc_id: Option<&str>,
    region: &str,
    account: Option<&str>,
    err: &EndpointLookupError,
) -> Failure {
    let whom = format!(
        "in {region}{}, account {}",
        vpc_id.map(|v| format!(" ({v})")).unwrap_or_default(),
        account.unwrap_or("unknown")
    );
    let what = format!("cannot list the interface endpoints {whom}");
    let (reason, hint) = match err {
        // A filtered describe answers with a list, never "not found".
        EndpointLookupError::NotFound => (
            format!("{what}: no reply listed them"),
            "retry; if it persists, report it with the pl-doctor version".to_owned(),
        ),
        EndpointLookupError::Call(f) => match f.kind {
            FailureKind::NoCredentials => (
                format!("{what}: no AWS credentials ({})", one_line(&f.message)),
                "set AWS_PROFILE or pass --profile, or run aws sso login".to_owned(),
            ),
            FailureKind::Unreachable => (
                format!("{what}: AWS API unreachable ({})", one_line(&f.message)),
                "check --endpoint-url / AWS_ENDPOINT_URL and the network (proxy, VPN)".to_owned(),
            ),
            FailureKind::DeadlinePassed => (
                format!("{what}: the deadline (--timeout) passed while waiting for {}", f.action),
                "raise --timeout; if calls are this slow, check --endpoint-url / the network (proxy, VPN)".to_owned(),
            ),
            FailureKind::AccessDenied => (
                format!("{what}: missing permission {}", f.action),
                format!("grant {} to the consumer credentials (see pl-doctor iam-policy)", f.action),
            ),
            _ => (
                format!("{what}: {} failed: {}", f.action, one_line(&f.detail())),
                "retry; if it persists, check --endpoint-url / the network, then the AWS Health Dashboard for the region".to_owned(),
            ),
        },
        EndpointLookupError::Unreadable(u) => (
            format!("{what}: unreadable reply: {u}"),
            "retry; if it persists, report it with the pl-doctor version".to_owned(),
        ),
    };
    Failure::CannotDiagnose { reason, hint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::errors::CallFailure;

    fn reason_and_hint(f: Failure) -> (String, String) {
        match f {
            Failure::CannotDiagnose { reason, hint } => (reason, hint),
            other => panic!("not CannotDiagnose: {other:?}"),
        }
    }

    fn failure(kind: FailureKind) -> EndpointLookupError {
        EndpointLookupError::Call(CallFailure {
            action: "ec2:DescribeVpcEndpoints",
            kind,
            code: Some("Code".into()),
            message: "line one\n  line two".into(),
        })
    }

    #[test]
    fn fatal_fleet_messages_are_one_line_with_region_account_and_a_hint() {
        let (reason, hint) = reason_and_hint(fatal(
            Some("vpc-0a1b2c3d4e5f6a7b8"),
            "eu-west-1",
            Some("222222222222"),
            &failure(FailureKind::AccessDenied),
        ));
        assert!(
            reason.contains("eu-west-1")
                && reason.contains("222222222222")
                && reason.contains("vpc-0a1b2c3d4e5f6a7b8")
                && reason.contains("missing permission ec2:DescribeVpcEndpoints"),
            "{reason}"
        );
        assert!(hint.contains("grant ec2:DescribeVpcEndpoints"), "{hint}");

        let (reason, hint) = reason_and_hint(fatal(
            None,
            "eu-west-1",
            None,
            &failure(FailureKind::NoCredentials),
        ));
        assert!(
            reason.contains("no AWS credentials") && reason.contains("account unknown"),
            "{reason}"
        );
        assert!(!reason.contains('\n'), "one line: {reason:?}");
        assert!(hint.contains("AWS_PROFILE"), "{hint}");

        let (reason, hint) = reason_and_hint(fatal(
            None,
            "eu-west-1",
            None,
            &failure(FailureKind::Unreachable),
        ));
        assert!(reason.contains("unreachable"), "{reason}");
        assert!(hint.contains("--endpoint-url"), "{hint}");
    }
}
