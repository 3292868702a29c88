//! A consumer fleet for `--all`: world.rs's healthy two-account world (provider service,
//! consumer VPC, one healthy endpoint) plus more interface endpoints, created through
//! the SDK like the rest of the world, and a way to run the binary over the fleet.
//!
//! moto lets several endpoints with private DNS reach the same service from one VPC
//! (AWS allows one): every healthy endpoint here is a copy of the first, so they share
//! its subnets and security group and get the same verdict.

use super::world::{
    consumer_credentials, sdk_config, World, ACCESS_KEY_ID, PORT, PROVIDER_ROLE_ARN, REGION,
    SECRET_ACCESS_KEY,
};
use assert_cmd::Command;
use aws_sdk_ec2::types as ec2t;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;
use std::time::Duration;

/// An interface endpoint to an AWS service, which `--all` must leave out.
pub const AWS_SERVICE_NAME: &str = "com.amazonaws.us-east-1.s3";
/// The second consumer VPC of [`Mixed`].
pub const OTHER_VPC_CIDR: &str = "10.30.0.0/16";

fn ok<T, E: std::error::Error>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "building the fleet world: {what}: {}",
            DisplayErrorContext(&e)
        )
    })
}

/// `n` healthy interface endpoints to one service in one consumer VPC, plus one
/// interface endpoint to an AWS service.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub world: World,
    /// Every PrivateLink endpoint, the world's own first.
    pub endpoint_ids: Vec<String>,
    pub aws_service_endpoint: String,
}

pub async fn consumer_ec2(url: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config(url, consumer_credentials()).await)
}

/// One interface endpoint in `vpc`, through `subnets` and `group`, with private DNS.
pub async fn add_endpoint(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    service_name: &str,
    subnets: &[String],
    group: &str,
    private_dns: bool,
) -> String {
    let out = ok(
        ec2.create_vpc_endpoint()
            .vpc_endpoint_type(ec2t::VpcEndpointType::Interface)
            .vpc_id(vpc)
            .service_name(service_name)
            .set_subnet_ids(Some(subnets.to_vec()))
            .security_group_ids(group)
            .private_dns_enabled(private_dns)
            .send()
            .await,
        &format!("CreateVpcEndpoint to {service_name}"),
    );
    out.vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .expect("endpoint id")
        .to_owned()
}

/// `more` healthy endpoints beside the world's own (copies of it: same VPC, subnets, group).
pub async fn add_healthy(url: &str, world: &World, more: usize) -> Vec<String> {
    let ec2 = consumer_ec2(url).await;
    let mut ids = Vec::with_capacity(more);
    for _ in 0..more {
        ids.push(
            add_endpoint(
                &ec2,
                &world.consumer_vpc,
                &world.service_name,
                &world.endpoint_subnets,
                &world.endpoint_sg,
                true,
            )
            .await,
        );
    }
    ids
}

/// The healthy world with `n` (>= 1) PrivateLink endpoints in its consumer VPC, and one
/// interface endpoint to an AWS service beside them.
pub async fn build(url: &str, n: usize) -> Fleet {
    assert!(
        n >= 1,
        "a fleet world has at least the world's own endpoint"
    );
    let world = World::build(url, &super::world::Spec::default()).await;
    let ec2 = consumer_ec2(url).await;
    let aws_service_endpoint = add_endpoint(
        &ec2,
        &world.consumer_vpc,
        AWS_SERVICE_NAME,
        &world.endpoint_subnets,
        &world.endpoint_sg,
        false,
    )
    .await;
    let mut endpoint_ids = vec![world.endpoint_id.clone()];
    endpoint_ids.extend(add_healthy(url, &world, n - 1).await);
    Fleet {
        world,
        endpoint_ids,
        aws_service_endpoint,
    }
}

/// Three PrivateLink endpoints with different fates, and one to an AWS service.
#[derive(Debug, Clone)]
pub struct Mixed {
    pub world: World,
    /// The world's own endpoint.
    pub healthy: String,
    /// Same VPC and subnets, but its security group admits nothing.
    pub sg_missing_port: String,
    /// Healthy, in a second consumer VPC.
    pub other_vpc_endpoint: String,
    pub other_vpc: String,
    pub aws_service_endpoint: String,
}

pub async fn build_mixed(url: &str) -> Mixed {
    let world = World::build(url, &super::world::Spec::default()).await;
    let ec2 = consumer_ec2(url).await;
    let closed =
        super::world::create_sg(&ec2, &world.consumer_vpc, "closed-endpoint", &[], "").await;
    let sg_missing_port = add_endpoint(
        &ec2,
        &world.consumer_vpc,
        &world.service_name,
        &world.endpoint_subnets,
        &closed,
        true,
    )
    .await;

    let other_vpc = ok(
        ec2.create_vpc().cidr_block(OTHER_VPC_CIDR).send().await,
        "CreateVpc (second consumer VPC)",
    )
    .vpc()
    .and_then(|v| v.vpc_id())
    .expect("vpc id")
    .to_owned();
    for hostnames in [false, true] {
        let value = ec2t::AttributeBooleanValue::builder().value(true).build();
        let call = ec2.modify_vpc_attribute().vpc_id(&other_vpc);
        let call = if hostnames {
            call.enable_dns_hostnames(value)
        } else {
            call.enable_dns_support(value)
        };
        ok(call.send().await, "ModifyVpcAttribute (second VPC)");
    }
    let mut subnets = Vec::new();
    for (az, cidr) in [
        ("us-east-1a", "10.30.1.0/24"),
        ("us-east-1b", "10.30.2.0/24"),
    ] {
        subnets.push(
            ok(
                ec2.create_subnet()
                    .vpc_id(&other_vpc)
                    .cidr_block(cidr)
                    .availability_zone(az)
                    .send()
                    .await,
                "CreateSubnet (second VPC)",
            )
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("subnet id")
            .to_owned(),
        );
    }
    let open = super::world::create_sg(
        &ec2,
        &other_vpc,
        "other-vpc-endpoint",
        &[PORT],
        OTHER_VPC_CIDR,
    )
    .await;
    let other_vpc_endpoint =
        add_endpoint(&ec2, &other_vpc, &world.service_name, &subnets, &open, true).await;
    let aws_service_endpoint = add_endpoint(
        &ec2,
        &world.consumer_vpc,
        AWS_SERVICE_NAME,
        &world.endpoint_subnets,
        &world.endpoint_sg,
        false,
    )
    .await;
    Mixed {
        healthy: world.endpoint_id.clone(),
        world,
        sg_missing_port,
        other_vpc_endpoint,
        other_vpc,
        aws_service_endpoint,
    }
}

// ------------------------------------------------------------- running the binary

/// A safety net against a hung run; tests never assert on timing.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// pl-doctor with only the world's dummy consumer credentials in its environment (as
/// run.rs does for one endpoint), the region and `--endpoint-url`, and `args` after.
/// DNS and the connect probe are skipped (the ENI addresses are fake; run.rs explains).
pub fn command(url: &str, provider_access: bool, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("pl-doctor").expect("pl-doctor binary");
    c.timeout(RUN_LIMIT)
        .envs(super::run::isolated_env(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    for var in super::run::SCRUBBED_VARS {
        c.env_remove(var);
    }
    c.args(["--region", REGION, "--endpoint-url", url]);
    if provider_access {
        c.args(["--provider-role-arn", PROVIDER_ROLE_ARN]);
    }
    c.args(["--skip", "dns-resolution", "--skip", "connect-probe"]);
    c.args(args);
    c
}

/// What one run printed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON (exit {:?}, {e})\nstdout: {}\nstderr: {}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// The AWS calls the call log (`PL_DOCTOR_CALL_LOG=1`) counted.
    pub fn calls(&self) -> usize {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("pl-doctor: ") && l.ends_with(" AWS calls"))
            .unwrap_or_else(|| panic!("no call count on stderr:\n{}", self.stderr));
        line.trim_start_matches("pl-doctor: ")
            .trim_end_matches(" AWS calls")
            .parse()
            .expect("a count")
    }

    /// The logged calls as (stage, action), for failure messages and per-kind counts.
    pub fn call_log(&self) -> Vec<(String, String)> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("pl-doctor: call "))
            .map(|l| {
                let mut words: Vec<&str> = l.split(' ').collect();
                words.pop(); // ok / failed
                let action = words.pop().unwrap_or_default().to_owned();
                (words.join(" "), action)
            })
            .collect()
    }
}

pub fn run(mut c: Command) -> Run {
    let out = c.output().expect("run pl-doctor");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
