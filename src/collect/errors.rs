//! The one place that turns SDK errors into reasons.
//!
//! Every AWS call made by the collector ends here when it fails: the error is
//! classified once ([`classify`]) and then either recorded on the facts it affects
//! ([`CallFailure::to_missing`]) or, for the few failures that leave nothing to
//! diagnose (no endpoint, no credentials, no API), ends the run.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use pl_checks::fact::Missing;
use std::error::Error;

/// What kind of failure a call met, as far as the diagnosis cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// AccessDenied / UnauthorizedOperation: the named IAM action is not granted.
    AccessDenied,
    /// The API does not offer the operation (an old or partial AWS-compatible endpoint).
    Unsupported,
    /// HTTP 5xx: the service failed.
    ServerError,
    /// A `*.NotFound` service error: the id asked for does not exist here.
    NotFound,
    /// The credential chain produced no usable credentials.
    NoCredentials,
    /// The request never got an answer: connection refused, DNS failure, timeout.
    Unreachable,
    /// The overall deadline (`--timeout`) passed before the call answered.
    DeadlinePassed,
    /// Anything else (a 4xx with another code, a reply the SDK could not read).
    Other,
}

/// A failed call: which IAM action it needed, what went wrong, and AWS's words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub action: &'static str,
    pub kind: FailureKind,
    /// The service error code when AWS sent one (e.g. `InvalidVpcEndpointId.NotFound`).
    pub code: Option<String>,
    pub message: String,
}

impl CallFailure {
    /// The reason recorded on the facts this call would have produced.
    pub fn to_missing(&self) -> Missing {
        match self.kind {
            FailureKind::AccessDenied => Missing::AccessDenied {
                action: self.action.to_owned(),
                message: (!self.message.is_empty()).then(|| self.message.clone()),
            },
            FailureKind::Unsupported => Missing::ApiError {
                operation: self.action.to_owned(),
                message: format!(
                    "operation not supported by this API endpoint: {}",
                    self.detail()
                ),
            },
            FailureKind::ServerError => Missing::ApiError {
                operation: self.action.to_owned(),
                message: format!("the service failed (HTTP 5xx): {}", self.detail()),
            },
            FailureKind::NoCredentials => Missing::ApiError {
                operation: self.action.to_owned(),
                message: format!("no credentials: {}", self.message),
            },
            FailureKind::Unreachable => Missing::ApiError {
                operation: self.action.to_owned(),
                message: format!("API unreachable: {}", self.message),
            },
            FailureKind::DeadlinePassed => Missing::DeadlinePassed {
                waiting_for: self.action.to_owned(),
            },
            FailureKind::NotFound | FailureKind::Other => Missing::ApiError {
                operation: self.action.to_owned(),
                message: self.detail(),
            },
        }
    }

    /// `Code: message`, or the message alone when AWS sent no code.
    pub fn detail(&self) -> String {
        match &self.code {
            Some(code) if !self.message.is_empty() => format!("{code}: {}", self.message),
            Some(code) => code.clone(),
            None => self.message.clone(),
        }
    }
}

const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    // EC2 answers AuthFailure when the credentials themselves are not accepted.
    "AuthFailure",
];

const UNSUPPORTED_CODES: &[&str] = &[
    "InvalidAction",
    "UnsupportedOperation",
    "NotImplemented",
    "UnknownOperationException",
    "InvalidParameterValue.UnsupportedOperation",
];

/// Classify a failed call that needed IAM action `action` (e.g. `ec2:DescribeNetworkAcls`).
pub fn classify<E>(action: &'static str, err: &SdkError<E, HttpResponse>) -> CallFailure
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let failure = |kind, code: Option<&str>, message: String| CallFailure {
        action,
        kind,
        code: code.map(str::to_owned),
        message,
    };
    match err {
        SdkError::ServiceError(ctx) => {
            let service_err = ctx.err();
            let code = service_err.code();
            let message = service_err.message().map(str::to_owned).unwrap_or_default();
            let kind = match code {
                Some(c) if ACCESS_DENIED_CODES.contains(&c) => FailureKind::AccessDenied,
                Some(c) if UNSUPPORTED_CODES.contains(&c) => FailureKind::Unsupported,
                Some(c) if c.ends_with(".NotFound") || c.ends_with("NotFoundException") => {
                    FailureKind::NotFound
                }
                _ if status.is_some_and(|s| s == 403) => FailureKind::AccessDenied,
                _ if status.is_some_and(|s| s == 501) => FailureKind::Unsupported,
                _ if status.is_some_and(|s| s >= 500) => FailureKind::ServerError,
                _ => FailureKind::Other,
            };
            let message = if message.is_empty() && code.is_none() {
                format!("HTTP {}", status.unwrap_or_default())
            } else {
                message
            };
            failure(kind, code, message)
        }
        SdkError::ResponseError(_) => {
            let kind = match status {
                Some(501) => FailureKind::Unsupported,
                Some(s) if s >= 500 => FailureKind::ServerError,
                _ => FailureKind::Other,
            };
            let message = match status {
                Some(s) => format!("unreadable reply (HTTP {s}): {}", chain_message(err)),
                None => format!("unreadable reply: {}", chain_message(err)),
            };
            failure(kind, None, message)
        }
        SdkError::TimeoutError(_) => failure(
            FailureKind::Unreachable,
            None,
            format!("no answer in time: {}", chain_message(err)),
        ),
        SdkError::DispatchFailure(dispatch) => {
            if let Some(cred) = find_source::<CredentialsError>(err) {
                return credentials_failure(action, cred);
            }
            let kind = if dispatch.is_io() || dispatch.is_timeout() {
                FailureKind::Unreachable
            } else {
                FailureKind::Other
            };
            failure(kind, None, chain_message(err))
        }
        // Construction failures are bugs in how a request was built or a missing region.
        _ => failure(FailureKind::Other, None, chain_message(err)),
    }
}

/// Credentials are resolved inside the call: a provider that assumes a role fails with
/// STS's answer inside, which names the action really missing (sts:AssumeRole).
fn credentials_failure(action: &'static str, cred: &CredentialsError) -> CallFailure {
    if let CredentialsError::ProviderError(_) = cred {
        if let Some(sts) = find_source::<SdkError<AssumeRoleError, HttpResponse>>(cred) {
            let inner = classify("sts:AssumeRole", sts);
            return match inner.kind {
                FailureKind::AccessDenied => inner,
                _ => CallFailure {
                    action,
                    kind: inner.kind,
                    code: inner.code,
                    message: format!("sts:AssumeRole failed: {}", inner.message),
                },
            };
        }
    }
    let message = match cred {
        // The chain's own text lists every provider it tried, in Debug form: say it plainly.
        CredentialsError::CredentialsNotLoaded(_) => "no credentials found by the standard chain (environment, profile, SSO, web identity, container, instance metadata)".to_owned(),
        other => chain_message(other),
    };
    CallFailure {
        action,
        kind: FailureKind::NoCredentials,
        code: None,
        message,
    }
}

/// The Display of an error and its sources, joined with ": ", skipping a source whose
/// text its parent already shows (many SDK errors repeat their cause).
pub fn chain_message(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first error of type `T` in `err`'s source chain (including `err` itself).
fn find_source<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    type AclError = SdkError<DescribeNetworkAclsError, HttpResponse>;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    fn service_error(status: u16, code: Option<&str>, message: &str) -> AclError {
        let mut meta = ErrorMetadata::builder().message(message);
        if let Some(code) = code {
            meta = meta.code(code);
        }
        SdkError::service_error(
            DescribeNetworkAclsError::generic(meta.build()),
            response(status),
        )
    }

    const ACTION: &str = "ec2:DescribeNetworkAcls";

    #[test]
    fn access_denied_codes_name_the_iam_action() {
        for code in [
            "UnauthorizedOperation",
            "AccessDenied",
            "AccessDeniedException",
        ] {
            let f = classify(
                ACTION,
                &service_error(403, Some(code), "You are not authorized"),
            );
            assert_eq!(f.kind, FailureKind::AccessDenied, "{code}");
            assert_eq!(
                f.to_missing(),
                Missing::AccessDenied {
                    action: ACTION.into(),
                    message: Some("You are not authorized".into())
                }
            );
        }
    }

    #[test]
    fn unsupported_operations_and_server_errors_say_so() {
        let f = classify(
            ACTION,
            &service_error(400, Some("InvalidAction"), "not valid"),
        );
        assert_eq!(f.kind, FailureKind::Unsupported);
        let Missing::ApiError { operation, message } = f.to_missing() else {
            panic!("not an ApiError")
        };
        assert_eq!(operation, ACTION);
        assert!(
            message.contains("not supported") && message.contains("InvalidAction"),
            "{message}"
        );

        let f = classify(
            ACTION,
            &service_error(503, Some("Unavailable"), "try later"),
        );
        assert_eq!(f.kind, FailureKind::ServerError);
        let Missing::ApiError { message, .. } = f.to_missing() else {
            panic!("not an ApiError")
        };
        assert!(
            message.contains("5xx") && message.contains("Unavailable: try later"),
            "{message}"
        );

        // A 5xx whose body the SDK could not parse is still a server error.
        let unreadable: AclError = SdkError::response_error("bad xml", response(500));
        assert_eq!(classify(ACTION, &unreadable).kind, FailureKind::ServerError);
    }

    #[test]
    fn not_found_codes_are_recognised_and_other_codes_keep_aws_words() {
        let f = classify(
            "ec2:DescribeVpcEndpoints",
            &service_error(400, Some("InvalidVpcEndpointId.NotFound"), "does not exist"),
        );
        assert_eq!(f.kind, FailureKind::NotFound);
        assert_eq!(f.code.as_deref(), Some("InvalidVpcEndpointId.NotFound"));

        let f = classify(
            ACTION,
            &service_error(400, Some("InvalidParameterValue"), "bad filter"),
        );
        assert_eq!(f.kind, FailureKind::Other);
        assert_eq!(
            f.to_missing(),
            Missing::ApiError {
                operation: ACTION.into(),
                message: "InvalidParameterValue: bad filter".into()
            }
        );
    }

    #[test]
    fn unreachable_apis_are_told_apart_from_service_errors() {
        let refused: AclError =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert_eq!(classify(ACTION, &refused).kind, FailureKind::Unreachable);
        let timed_out: AclError = SdkError::timeout_error("operation timeout (3s)");
        assert_eq!(classify(ACTION, &timed_out).kind, FailureKind::Unreachable);
        let Missing::ApiError { message, .. } = classify(ACTION, &timed_out).to_missing() else {
            panic!("not an ApiError")
        };
        assert!(message.starts_with("API unreachable"), "{message}");
    }

    #[test]
    fn missing_credentials_are_found_inside_a_dispatch_failure() {
        // This is how the orchestrator reports an identity resolver that found nothing.
        let no_creds: AclError = SdkError::dispatch_failure(ConnectorError::other(
            Box::new(CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            )),
            None,
        ));
        let f = classify(ACTION, &no_creds);
        assert_eq!(f.kind, FailureKind::NoCredentials);
        assert!(f.message.contains("standard chain"), "{}", f.message);

        // Other credential failures (an expired SSO token) keep the provider's words.
        let expired: AclError = SdkError::dispatch_failure(ConnectorError::other(
            Box::new(CredentialsError::provider_error(
                "the SSO session has expired",
            )),
            None,
        ));
        let f = classify(ACTION, &expired);
        assert_eq!(f.kind, FailureKind::NoCredentials);
        assert!(
            f.message.contains("SSO session has expired"),
            "{}",
            f.message
        );
    }

    #[test]
    fn chain_messages_are_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err: AclError = SdkError::dispatch_failure(ConnectorError::io(Box::new(io)));
        let text = chain_message(&err);
        assert!(text.starts_with("dispatch failure"), "{text}");
        assert!(text.ends_with("Connection refused"), "{text}");
        assert_eq!(text.matches("Connection refused").count(), 1, "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_refused_assume_role_names_sts_assume_role() {
        let sts_denied: SdkError<AssumeRoleError, HttpResponse> = SdkError::service_error(
            AssumeRoleError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform sts:AssumeRole")
                    .build(),
            ),
            response(403),
        );
        let err: AclError = SdkError::dispatch_failure(ConnectorError::other(
            Box::new(CredentialsError::provider_error(sts_denied)),
            None,
        ));
        let f = classify(ACTION, &err);
        assert_eq!(f.kind, FailureKind::AccessDenied);
        assert_eq!(f.action, "sts:AssumeRole");
    }
}
