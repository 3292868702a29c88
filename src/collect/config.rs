//! AWS configuration the way every AWS tool does it: the standard credential chain,
//! named profiles, region, a custom API endpoint, and provider access through a second
//! profile or an assumed role.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_types::sdk_config::{RetryConfig, SharedCredentialsProvider, TimeoutConfig};
/// Every per-call network deadline of the collector, in one place. They run inside the
/// overall `--timeout` deadline, which `progress::Stage::call` puts on every call: a
/// call still retrying when that passes is dropped and its facts say so.
pub mod deadlines {
    use std::time::Duration;

    /// A TCP/TLS connect that has not succeeded by then will not: the API is unreachable.
    pub const CONNECT: Duration = Duration::from_secs(3);
    /// One attempt of one call, including reading the reply.
    pub const ATTEMPT: Duration = Duration::from_secs(10);
    /// One call with all its retries.
    pub const OPERATION: Duration = Duration::from_secs(20);
    /// Attempts per call (standard retry mode: exponential backoff with jitter). pl-doctor
    /// runs when things are broken, throttled APIs included: five attempts ride out a
    /// throttled burst where the SDK's default three can lose a call (measured: 30%
    /// throttling, a 3-attempt call occasionally lost every attempt).
    pub const MAX_ATTEMPTS: u32 = 5;
    /// First and largest pause between attempts: four pauses stay well inside OPERATION.
    pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
    pub const MAX_BACKOFF: Duration = Duration::from_secs(4);
}

/// Where and as whom to collect.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub provider: ProviderAccess,
}

/// How pl-doctor reaches the provider account, if at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProviderAccess {
    #[default]
    None,
    Profile(String),
    AssumeRole {
        role_arn: String,
        external_id: Option<String>,
    },
}

/// The loaded configuration for both sides.
pub struct AwsConfigs {
    pub consumer: SdkConfig,
    pub provider: Option<SdkConfig>,
}

/// Session name on the provider's CloudTrail: says who assumed the role and why.
const SESSION_NAME: &str = "pl-doctor";

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(deadlines::CONNECT)
        .operation_attempt_timeout(deadlines::ATTEMPT)
        .operation_timeout(deadlines::OPERATION)
        .build()
}

async fn load(profile: Option<&str>, opts: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(deadlines::MAX_ATTEMPTS)
                .with_initial_backoff(deadlines::INITIAL_BACKOFF)
                .with_max_backoff(deadlines::MAX_BACKOFF),
        )
        .timeout_config(timeouts());
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    // aws-config reads AWS_ENDPOINT_URL itself; --endpoint-url wins over it.
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}

/// Load the consumer configuration and, when asked for, the provider's.
/// Nothing here calls AWS yet: credentials are resolved lazily by the first call.
pub async fn load_configs(opts: &AwsOptions) -> AwsConfigs {
    let consumer = load(opts.profile.as_deref(), opts).await;
    let provider = match &opts.provider {
        ProviderAccess::None => None,
        ProviderAccess::Profile(p) => {
            let mut conf = load(Some(p), opts).await;
            // The provider side is read in the endpoint's region, whatever the profile says.
            if let Some(region) = consumer.region() {
                conf = conf.into_builder().region(region.clone()).build();
            }
            Some(conf)
        }
        ProviderAccess::AssumeRole {
            role_arn,
            external_id,
        } => {
            let mut builder = AssumeRoleProvider::builder(role_arn.clone())
                .session_name(SESSION_NAME)
                .configure(&consumer);
            if let Some(id) = external_id {
                builder = builder.external_id(id.clone());
            }
            let assumed = builder.build().await;
            Some(
                consumer
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(assumed))
                    .build(),
            )
        }
    };
    AwsConfigs { consumer, provider }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn configs_carry_region_endpoint_retries_and_short_connect_timeout() {
        let opts = AwsOptions {
            region: Some("eu-west-1".into()),
            profile: None,
            endpoint_url: Some("http://127.0.0.1:9".into()),
            provider: ProviderAccess::AssumeRole {
                role_arn: "arn:aws:iam::111111111111:role/pl-doctor".into(),
                external_id: Some("ticket-42".into()),
            },
        };
        let configs = load_configs(&opts).await;
        for conf in [&configs.consumer, configs.provider.as_ref().unwrap()] {
            assert_eq!(conf.region().unwrap().as_ref(), "eu-west-1");
            assert_eq!(conf.endpoint_url(), Some("http://127.0.0.1:9"));
            let retry = conf.retry_config().unwrap();
            assert_eq!(retry.mode(), aws_smithy_types::retry::RetryMode::Standard);
            assert_eq!(retry.max_attempts(), deadlines::MAX_ATTEMPTS);
            let t = conf.timeout_config().unwrap();
            assert_eq!(t.connect_timeout(), Some(deadlines::CONNECT));
            assert_eq!(t.operation_timeout(), Some(deadlines::OPERATION));
        }
    }
}
