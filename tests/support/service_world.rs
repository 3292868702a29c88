//! The provider view's world: world.rs's two-account world (provider 111111111111, one
//! endpoint from consumer 123456789012), plus more connections to the same service and
//! a few allow-list entries, for `pl-doctor --service`:
//!
//! * a second endpoint from the consumer account, in the same VPC;
//! * an endpoint from a third account (222222222222, reached with sts:AssumeRole) that the
//!   allow-list does not cover: a connection whose owner is no longer allowed (moto, like
//!   AWS for already-accepted connections, keeps it working);
//! * optionally an endpoint the consumer created and deleted (moto then lists its
//!   connection as `deleted`, as AWS does for a while);
//! * an allow-list entry for 444444444444, which has no connection;
//! * optionally a second endpoint service on the same NLB, with no connection at all.

use super::world::{
    consumer_credentials, provider_credentials, sdk_config, Spec, World, ACCESS_KEY_ID, REGION,
    SECRET_ACCESS_KEY,
};
use assert_cmd::Command;
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types as ec2t;
use aws_smithy_types::error::display::DisplayErrorContext;
use std::time::Duration;

/// A safety net against a hung run (as in run.rs); tests never assert on timing.
const RUN_LIMIT: Duration = Duration::from_secs(180);

pub const THIRD_ACCOUNT: &str = "222222222222";
/// The role the builder assumes to act as the third account (moto lets any role be assumed).
pub const THIRD_ACCOUNT_ROLE_ARN: &str = "arn:aws:iam::222222222222:role/partner-network-admin";
/// On the allow-list, with no endpoint connected from its account.
pub const UNUSED_PRINCIPAL: &str = "arn:aws:iam::444444444444:root";

#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Create and delete one more endpoint from the consumer.
    pub deleted_endpoint: bool,
    /// A second endpoint service (same NLB) that nobody connects to.
    pub unconnected_service: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceWorld {
    pub world: World,
    pub second_endpoint: String,
    pub third_account_endpoint: String,
    pub deleted_endpoint: Option<String>,
    pub unconnected_service: Option<String>,
    /// Provider credentials (assumed role), for running pl-doctor as the provider.
    pub provider: Credentials,
}

fn ok<T, E: std::error::Error>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "building the provider-view world: {what}: {}",
            DisplayErrorContext(&e)
        )
    })
}

async fn assumed(url: &str, role_arn: &str) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&sdk_config(url, consumer_credentials()).await);
    let out = ok(
        sts.assume_role()
            .role_arn(role_arn)
            .role_session_name("pl-doctor-e2e-service-world")
            .send()
            .await,
        &format!("sts:AssumeRole {role_arn}"),
    );
    let c = out.credentials().expect("AssumeRole returns credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "pl-doctor-e2e-service-world",
    )
}

async fn create_endpoint(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnets: &[String],
    service_name: &str,
) -> String {
    ok(
        ec2.create_vpc_endpoint()
            .vpc_endpoint_type(ec2t::VpcEndpointType::Interface)
            .vpc_id(vpc)
            .service_name(service_name)
            .set_subnet_ids(Some(subnets.to_vec()))
            // One endpoint per VPC may own the private DNS name; the others go without.
            .private_dns_enabled(false)
            .send()
            .await,
        "CreateVpcEndpoint",
    )
    .vpc_endpoint()
    .and_then(|e| e.vpc_endpoint_id())
    .expect("endpoint id")
    .to_owned()
}

impl ServiceWorld {
    pub async fn build(url: &str, spec: &Spec, extras: &Extras) -> ServiceWorld {
        let world = World::build(url, spec).await;
        let consumer = aws_sdk_ec2::Client::new(&sdk_config(url, consumer_credentials()).await);
        let provider_creds = provider_credentials(url).await;
        let provider = aws_sdk_ec2::Client::new(&sdk_config(url, provider_creds.clone()).await);

        let second_endpoint = create_endpoint(
            &consumer,
            &world.consumer_vpc,
            &world.endpoint_subnets,
            &world.service_name,
        )
        .await;
        let deleted_endpoint = if extras.deleted_endpoint {
            let id = create_endpoint(
                &consumer,
                &world.consumer_vpc,
                &world.endpoint_subnets[..1],
                &world.service_name,
            )
            .await;
            ok(
                consumer
                    .delete_vpc_endpoints()
                    .vpc_endpoint_ids(&id)
                    .send()
                    .await,
                "DeleteVpcEndpoints",
            );
            Some(id)
        } else {
            None
        };

        let third = aws_sdk_ec2::Client::new(
            &sdk_config(url, assumed(url, THIRD_ACCOUNT_ROLE_ARN).await).await,
        );
        let vpc = ok(
            third.create_vpc().cidr_block("10.30.0.0/16").send().await,
            "third account CreateVpc",
        )
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
        let subnet = ok(
            third
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block("10.30.1.0/24")
                .availability_zone("us-east-1a")
                .send()
                .await,
            "third account CreateSubnet",
        )
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned();
        let third_account_endpoint =
            create_endpoint(&third, &vpc, &[subnet], &world.service_name).await;

        ok(
            provider
                .modify_vpc_endpoint_service_permissions()
                .service_id(&world.service_id)
                .add_allowed_principals(UNUSED_PRINCIPAL)
                .send()
                .await,
            "ModifyVpcEndpointServicePermissions (an entry with no connection)",
        );
        let unconnected_service = if extras.unconnected_service {
            let out = ok(
                provider
                    .create_vpc_endpoint_service_configuration()
                    .network_load_balancer_arns(&world.nlb_arn)
                    .acceptance_required(true)
                    .send()
                    .await,
                "CreateVpcEndpointServiceConfiguration (no connection)",
            );
            Some(
                out.service_configuration()
                    .and_then(|s| s.service_id())
                    .expect("service id")
                    .to_owned(),
            )
        } else {
            None
        };
        ServiceWorld {
            world,
            second_endpoint,
            third_account_endpoint,
            deleted_endpoint,
            unconnected_service,
            provider: provider_creds,
        }
    }

    /// `pl-doctor --service <id> --region … --endpoint-url … <args>` with the provider's
    /// (assumed-role) credentials as the default credentials, in an environment holding
    /// nothing else of the machine's AWS setup.
    pub fn service_command(&self, url: &str, service_id: &str, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("pl-doctor").expect("pl-doctor binary");
        scrubbed(&mut c);
        c.env("AWS_ACCESS_KEY_ID", self.provider.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", self.provider.secret_access_key())
            .env(
                "AWS_SESSION_TOKEN",
                self.provider.session_token().expect("assumed-role token"),
            )
            .args([
                "--service",
                service_id,
                "--region",
                REGION,
                "--endpoint-url",
                url,
            ])
            .args(args);
        c
    }
}

/// The same scrubbed environment as run.rs, with the world's consumer key by default.
pub fn scrubbed(c: &mut Command) {
    c.timeout(RUN_LIMIT)
        .envs(super::run::isolated_env(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    for var in super::run::SCRUBBED_VARS {
        c.env_remove(var);
    }
}
