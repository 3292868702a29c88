//! SDK clients answering from typed replies (aws-smithy-mocks) for the collector's unit
//! tests: CloudWatch speaks Smithy RPC v2 CBOR, which the AWS emulator does not serve,
//! and Logs Insights results (and their timing) are only partly emulated.

/// A client of `$krate` whose calls are answered by `$rules` (aws_smithy_mocks::Rule).
/// Retries are off so a mocked error is seen once, as the collector would see it.
macro_rules! mock_client {
    ($krate:ident, $rules:expr) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(aws_smithy_mocks::RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .credentials_provider($krate::config::Credentials::new(
                    "AKIDPLDOCTORTEST",
                    "not-a-secret",
                    None,
                    None,
                    "pl-doctor-test",
                ))
                .retry_config($krate::config::retry::RetryConfig::disabled())
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}
pub(crate) use mock_client;

/// An AccessDenied-style service error as the SDK builds it from a reply.
pub fn error_meta(code: &str, message: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}
