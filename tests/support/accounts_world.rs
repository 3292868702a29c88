//! Many accounts, both sides: the seed's platform in small. world.rs's provider
//! 111111111111 publishes the service; the hub (the world's consumer credentials,
//! 123456789012, also the organization's management account) has the world's own
//! endpoint; and several member accounts, created through AWS Organizations (moto picks
//! their ids), each have their own VPC on the same 10.20.0.0/16 (the seed's acquired
//! business units) with endpoints to the one service. One member's endpoint security
//! group admits 443 instead of the service port 8443: its endpoints' root cause is
//! `endpoint-sg-ingress`.
//!
//! moto serves many accounts through STS: credentials from AssumeRole act in the
//! account the role ARN names, so the builder reaches each member as pl-doctor does,
//! through `arn:aws:iam::<member>:role/<MEMBER_ROLE>`.

use super::world::{
    consumer_credentials, provider_credentials, sdk_config, Spec, World, ACCESS_KEY_ID, PORT,
    REGION, SECRET_ACCESS_KEY, VPC_CIDR,
};
use assert_cmd::Command;
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types as ec2t;
use aws_smithy_types::error::display::DisplayErrorContext;
use futures_util::StreamExt;
use std::time::Duration;

/// The role pl-doctor assumes in each member account (moto lets any role be assumed).
pub const MEMBER_ROLE: &str = "pl-doctor-read";
/// The role it assumes in the provider account for the provider side.
pub const PROVIDER_ROLE: &str = "pl-doctor-read";

const RUN_LIMIT: Duration = Duration::from_secs(300);
/// Members built at once.
const BUILD_CONCURRENCY: usize = 8;

fn ok<T, E: std::error::Error>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "building the many-accounts world: {what}: {}",
            DisplayErrorContext(&e)
        )
    })
}

#[derive(Debug, Clone)]
pub struct Member {
    pub account: String,
    pub vpc: String,
    pub endpoint_ids: Vec<String>,
    /// Its endpoint security group lacks the service port.
    pub broken_sg: bool,
}

#[derive(Debug, Clone)]
pub struct AccountsWorld {
    pub world: World,
    /// The hub's own account (the organization's management account).
    pub hub_account: String,
    pub members: Vec<Member>,
    /// An organization account that was closed (not ACTIVE): `--org` leaves it out.
    pub closed_account: String,
    /// The provider's (assumed-role) credentials, to run `--service` as the provider.
    pub provider: Credentials,
}

pub async fn assumed(url: &str, base: Credentials, role_arn: &str) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&sdk_config(url, base).await);
    let out = ok(
        sts.assume_role()
            .role_arn(role_arn)
            .role_session_name("pl-doctor-e2e-accounts-world")
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
        "pl-doctor-e2e-accounts-world",
    )
}

pub fn member_role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{MEMBER_ROLE}")
}

/// The organization (the hub as management account) and `n` ACTIVE member accounts,
/// plus one closed account.
async fn organization(url: &str, n: usize) -> (Vec<String>, String) {
    let org = aws_sdk_organizations::Client::new(&sdk_config(url, consumer_credentials()).await);
    ok(
        org.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await,
        "CreateOrganization",
    );
    let mut ids = Vec::new();
    for i in 0..=n {
        let out = ok(
            org.create_account()
                .account_name(format!("business-unit-{i}"))
                .email(format!("bu-{i}@payments.example.com"))
                .send()
                .await,
            "CreateAccount",
        );
        let id = out
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("account id")
            .to_owned();
        ids.push(id);
    }
    let closed = ids.pop().expect("n + 1 accounts");
    ok(
        org.close_account().account_id(&closed).send().await,
        "CloseAccount",
    );
    (ids, closed)
}

/// One member: a VPC on 10.20.0.0/16 with two subnets, an endpoint security group
/// (admitting 8443 from the VPC, or only 443 when `broken`), and `endpoints` interface
/// endpoints to the service.
async fn build_member(
    url: &str,
    account: &str,
    service_name: &str,
    endpoints: usize,
    broken: bool,
) -> Member {
    let creds = assumed(url, consumer_credentials(), &member_role_arn(account)).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(url, creds).await);
    let vpc = ok(
        ec2.create_vpc().cidr_block(VPC_CIDR).send().await,
        "CreateVpc",
    )
    .vpc()
    .and_then(|v| v.vpc_id())
    .expect("vpc id")
    .to_owned();
    for attribute in ["support", "hostnames"] {
        let mut m = ec2.modify_vpc_attribute().vpc_id(&vpc);
        let on = ec2t::AttributeBooleanValue::builder().value(true).build();
        m = if attribute == "support" {
            m.enable_dns_support(on)
        } else {
            m.enable_dns_hostnames(on)
        };
        ok(m.send().await, "ModifyVpcAttribute");
    }
    let mut subnets = Vec::new();
    for (az, cidr) in [
        ("us-east-1a", "10.20.1.0/24"),
        ("us-east-1b", "10.20.2.0/24"),
    ] {
        subnets.push(
            ok(
                ec2.create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(cidr)
                    .availability_zone(az)
                    .send()
                    .await,
                "CreateSubnet",
            )
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("subnet id")
            .to_owned(),
        );
    }
    let port = if broken { 443 } else { PORT };
    let sg = super::world::create_sg(&ec2, &vpc, "fraud-endpoint", &[port], VPC_CIDR).await;
    let mut endpoint_ids = Vec::new();
    for _ in 0..endpoints {
        endpoint_ids.push(
            ok(
                ec2.create_vpc_endpoint()
                    .vpc_endpoint_type(ec2t::VpcEndpointType::Interface)
                    .vpc_id(&vpc)
                    .service_name(service_name)
                    .set_subnet_ids(Some(subnets.clone()))
                    .security_group_ids(&sg)
                    // moto, unlike AWS, lets several endpoints of one VPC hold the name.
                    .private_dns_enabled(true)
                    .send()
                    .await,
                "CreateVpcEndpoint",
            )
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .expect("endpoint id")
            .to_owned(),
        );
    }
    endpoint_ids.sort();
    Member {
        account: account.to_owned(),
        vpc,
        endpoint_ids,
        broken_sg: broken,
    }
}

impl AccountsWorld {
    /// `members` member accounts with `per_account` endpoints each; the first member's
    /// endpoint security group is broken.
    pub async fn build(url: &str, members: usize, per_account: usize) -> AccountsWorld {
        let world = World::build(url, &Spec::default()).await;
        let provider = provider_credentials(url).await;
        let (accounts, closed_account) = organization(url, members).await;
        // The allow-list names every member's root, as the platform's registry does.
        let pec2 = aws_sdk_ec2::Client::new(&sdk_config(url, provider.clone()).await);
        ok(
            pec2.modify_vpc_endpoint_service_permissions()
                .service_id(&world.service_id)
                .set_add_allowed_principals(Some(
                    accounts
                        .iter()
                        .map(|a| format!("arn:aws:iam::{a}:root"))
                        .collect(),
                ))
                .send()
                .await,
            "ModifyVpcEndpointServicePermissions",
        );
        // Members side by side, a few at a time: moto answers one call at a time, so more
        // in flight only queue there, but this many hide each member's client-side set-up
        // (SDK configuration, signing) and the round trips' own latency.
        let built: Vec<Member> = futures_util::stream::iter(accounts.iter().enumerate())
            .map(|(i, account)| {
                build_member(url, account, &world.service_name, per_account, i == 0)
            })
            .buffered(BUILD_CONCURRENCY)
            .collect()
            .await;
        // moto builds its catalogue of AWS services' endpoint services on the first
        // DescribeVpcEndpointServices of a region (seconds, under a lock that stalls every
        // other call): pay it here, not inside the first run measured or tested.
        ok(
            pec2.describe_vpc_endpoint_services()
                .service_names(&world.service_name)
                .send()
                .await,
            "DescribeVpcEndpointServices (warming the emulator)",
        );
        AccountsWorld {
            world,
            hub_account: super::world::CONSUMER_ACCOUNT.to_owned(),
            members: built,
            closed_account,
            provider,
        }
    }

    pub fn member_accounts(&self) -> Vec<String> {
        self.members.iter().map(|m| m.account.clone()).collect()
    }
}

/// pl-doctor in a scrubbed environment with `creds` (else the hub's) as the default
/// credentials, the world's region and `--endpoint-url`, the call log on, then `args`.
pub fn command(url: &str, creds: Option<&Credentials>, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("pl-doctor").expect("pl-doctor binary");
    c.timeout(RUN_LIMIT)
        .envs(super::run::isolated_env(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    for var in super::run::SCRUBBED_VARS {
        c.env_remove(var);
    }
    if let Some(creds) = creds {
        c.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key());
        // An assumed role's session, or an IAM user's long-term key (no token).
        if let Some(token) = creds.session_token() {
            c.env("AWS_SESSION_TOKEN", token);
        }
    }
    c.env("PL_DOCTOR_CALL_LOG", "1")
        .args(["--region", REGION, "--endpoint-url", url])
        .args(args);
    c
}
