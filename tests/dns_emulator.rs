//! The consumer VPC's DNS configuration and pl-doctor's vantage, end to end: the real
//! binary against the AWS API emulator (moto implements Route 53 private hosted zones
//! and records, Route 53 Resolver rules and their VPC associations, and DHCP option sets),
//! with the endpoint's names answered by a DNS server on loopback and, for the vantage, a
//! loopback instance metadata service speaking IMDSv2 (tests/support/imds.rs).
//!
//! The endpoint's DnsEntries come from the launcher, named as AWS names them (regional,
//! zonal per AZ, private DNS name); the first test asserts that, since every DNS reading
//! below depends on it.

mod support;

use support::dns_server::LoopbackDns;
use support::emulator::Emulator;
use support::imds::Imds;
use support::run::{Invocation, Outcome, Report};
use support::world::{consumer_credentials, sdk_config, Spec, World, PRIVATE_DNS_NAME, REGION};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn world(spec: &Spec) -> (Emulator, World) {
    let emulator = Emulator::start();
    let world = runtime().block_on(World::build(&emulator.url(), spec));
    (emulator, world)
}

fn diagnose(emulator: &Emulator, world: &World, dns: &LoopbackDns) -> Report {
    Invocation::new(&world.endpoint_id, &emulator.url())
        .resolver(dns.addr())
        .report()
}

/// The consumer account's clients for what the test adds to the world.
struct Consumer {
    ec2: aws_sdk_ec2::Client,
    route53: aws_sdk_route53::Client,
    resolver: aws_sdk_route53resolver::Client,
}

async fn consumer(url: &str) -> Consumer {
    let conf = sdk_config(url, consumer_credentials()).await;
    Consumer {
        ec2: aws_sdk_ec2::Client::new(&conf),
        route53: aws_sdk_route53::Client::new(&conf),
        resolver: aws_sdk_route53resolver::Client::new(&conf),
    }
}

fn must<T, E: std::error::Error>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "{what}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        )
    })
}

/// A FORWARD rule for `domain` to 192.168.10.53, associated with the VPC; its id.
async fn forward_rule(c: &Consumer, vpc: &str, domain: &str) -> String {
    use aws_sdk_route53resolver::types::{RuleTypeOption, TargetAddress};
    let rule = must(
        c.resolver
            .create_resolver_rule()
            .creator_request_id(format!("pl-doctor-test-{domain}"))
            .name(format!("to-onprem-{}", domain.replace('.', "-")))
            .rule_type(RuleTypeOption::Forward)
            .domain_name(domain)
            .target_ips(
                TargetAddress::builder()
                    .ip("192.168.10.53")
                    .port(53)
                    .build(),
            )
            .send()
            .await,
        "CreateResolverRule",
    );
    let id = rule
        .resolver_rule()
        .and_then(|r| r.id())
        .expect("rule id")
        .to_owned();
    must(
        c.resolver
            .associate_resolver_rule()
            .resolver_rule_id(&id)
            .vpc_id(vpc)
            .name("pl-doctor-test")
            .send()
            .await,
        "AssociateResolverRule",
    );
    id
}

/// A private hosted zone `internal.example.com` associated with the VPC; its id.
async fn private_zone(c: &Consumer, vpc: &str) -> String {
    use aws_sdk_route53::types::{HostedZoneConfig, Vpc, VpcRegion};
    let zone = must(
        c.route53
            .create_hosted_zone()
            .name("internal.example.com")
            .caller_reference("pl-doctor-test-zone")
            .vpc(
                Vpc::builder()
                    .vpc_id(vpc)
                    .vpc_region(VpcRegion::from(REGION))
                    .build(),
            )
            .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
            .send()
            .await,
        "CreateHostedZone",
    );
    zone.hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned()
}

async fn a_record(c: &Consumer, zone: &str, ips: &[&str]) {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let set = ResourceRecordSet::builder()
        .name(PRIVATE_DNS_NAME)
        .r#type(RrType::A)
        .ttl(60)
        .set_resource_records(Some(
            ips.iter()
                .map(|ip| {
                    ResourceRecord::builder()
                        .value(*ip)
                        .build()
                        .expect("record")
                })
                .collect(),
        ))
        .build()
        .expect("record set");
    must(
        c.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Upsert)
                            .resource_record_set(set)
                            .build()
                            .expect("change"),
                    )
                    .build()
                    .expect("batch"),
            )
            .send()
            .await,
        "ChangeResourceRecordSets",
    );
}

fn summary(report: &Report, id: &str) -> String {
    report.check(id)["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_emulator_names_the_endpoint_like_aws() {
    let (_emulator, world) = world(&Spec::default());
    let names = &world.endpoint_dns_names;
    let id = &world.endpoint_id;
    let svc = &world.service_id;
    let regional = &names[0];
    let suffix = regional
        .strip_prefix(&format!("{id}-"))
        .and_then(|r| r.strip_suffix(&format!(".{svc}.{REGION}.vpce.amazonaws.com")))
        .unwrap_or_else(|| panic!("regional name {regional}"));
    assert_eq!(suffix.len(), 8, "{regional}");
    let mut zonal: Vec<String> = names[1..names.len() - 1].to_vec();
    zonal.sort();
    let mut want: Vec<String> = world
        .endpoint_enis
        .iter()
        .map(|e| {
            format!(
                "{id}-{suffix}-{}.{svc}.{REGION}.vpce.amazonaws.com",
                e.availability_zone
            )
        })
        .collect();
    want.sort();
    assert_eq!(zonal, want, "one zonal name per AZ");
    assert_eq!(names.last().map(String::as_str), Some(PRIVATE_DNS_NAME));
}

#[test]
fn a_forward_rule_for_the_name_is_the_root_cause_and_one_for_its_parent_is_not() {
    let (emulator, world) = world(&Spec::default());
    let c = runtime().block_on(consumer(&emulator.url()));

    // Nothing of the customer's in the way: AWS's zone answers.
    let dns = LoopbackDns::start(world.aws_zone(&world.eni_ips()));
    let report = diagnose(&emulator, &world, &dns);
    report.expect(&[("dns-overrides", "pass"), ("dns-resolution", "pass")]);
    report.expect_root_cause(None, 0);

    // The corporate parent domain forwarded on-premises: PrivateLink's zone is more specific.
    let parent = runtime().block_on(forward_rule(&c, &world.consumer_vpc, "example.com"));
    let report = diagnose(&emulator, &world, &dns);
    report.expect(&[("dns-overrides", "pass"), ("dns-resolution", "pass")]);
    report.expect_root_cause(None, 0);
    let details = report.check("dns-overrides")["details"].to_string();
    assert!(
        details.contains(&parent) && details.contains("less specific"),
        "the parent rule is noted: {details}"
    );
    drop(dns);

    // The name itself forwarded: the rule beats the private hosted zone, the VPC
    // resolver asks on-premises DNS, which answers NXDOMAIN.
    let exact = runtime().block_on(forward_rule(&c, &world.consumer_vpc, PRIVATE_DNS_NAME));
    let dns = LoopbackDns::start(world.aws_zone(&[]));
    let report = diagnose(&emulator, &world, &dns);
    report.expect(&[("dns-overrides", "fail"), ("dns-resolution", "fail")]);
    report.expect_root_cause(Some("dns-overrides"), 1);
    let s = summary(&report, "dns-overrides");
    assert!(
        s.contains(&exact) && s.contains(PRIVATE_DNS_NAME) && s.contains("192.168.10.53:53"),
        "{s}"
    );
    let fix = report.check("dns-overrides")["remediation"].to_string();
    assert!(
        fix.contains(&format!(
            "disassociate-resolver-rule --vpc-id {} --resolver-rule-id {exact}",
            world.consumer_vpc
        )),
        "{fix}"
    );
    assert!(
        summary(&report, "dns-resolution").contains("dns-overrides found"),
        "dns-resolution names the cause: {}",
        summary(&report, "dns-resolution")
    );
}

#[test]
fn with_private_dns_off_the_consumers_own_zone_decides() {
    let (emulator, world) = world(&Spec {
        private_dns_enabled: false,
        ..Spec::default()
    });
    let c = runtime().block_on(consumer(&emulator.url()));
    let zone = runtime().block_on(private_zone(&c, &world.consumer_vpc));

    // A stale address: the zone's record is named, and private-dns-enabled is no failure.
    runtime().block_on(a_record(&c, &zone, &["10.20.9.9"]));
    let dns = LoopbackDns::start(world.aws_zone(&["10.20.9.9"]));
    let report = diagnose(&emulator, &world, &dns);
    report.expect(&[
        ("private-dns-enabled", "pass"),
        ("dns-overrides", "fail"),
        ("dns-resolution", "fail"),
    ]);
    report.expect_root_cause(Some("dns-overrides"), 1);
    let s = summary(&report, "dns-overrides");
    assert!(
        s.contains(&zone) && s.contains("internal.example.com") && s.contains("A 10.20.9.9"),
        "{s}"
    );
    let p = summary(&report, "private-dns-enabled");
    assert!(p.contains(&zone), "says which zone serves the name: {p}");
    drop(dns);

    // The same zone answering with the endpoint's addresses passes.
    let ips = world.eni_ips();
    runtime().block_on(a_record(&c, &zone, &ips));
    let dns = LoopbackDns::start(world.aws_zone(&ips));
    let report = diagnose(&emulator, &world, &dns);
    report.expect(&[
        ("private-dns-enabled", "pass"),
        ("dns-overrides", "pass"),
        ("dns-resolution", "pass"),
    ]);
    report.expect_root_cause(None, 0);
}

#[test]
fn custom_dhcp_dns_servers_with_right_answers_warn_naming_the_option_set() {
    let (emulator, world) = world(&Spec::default());
    let c = runtime().block_on(consumer(&emulator.url()));
    let dopt = runtime().block_on(async {
        use aws_sdk_ec2::types::NewDhcpConfiguration;
        let out = must(
            c.ec2
                .create_dhcp_options()
                .dhcp_configurations(
                    NewDhcpConfiguration::builder()
                        .key("domain-name-servers")
                        .values("10.20.3.53")
                        .values("10.20.4.53")
                        .build(),
                )
                .send()
                .await,
            "CreateDhcpOptions",
        );
        let id = out
            .dhcp_options()
            .and_then(|d| d.dhcp_options_id())
            .expect("dopt id")
            .to_owned();
        must(
            c.ec2
                .associate_dhcp_options()
                .dhcp_options_id(&id)
                .vpc_id(&world.consumer_vpc)
                .send()
                .await,
            "AssociateDhcpOptions",
        );
        id
    });
    let dns = LoopbackDns::start(world.aws_zone(&world.eni_ips()));
    let report = diagnose(&emulator, &world, &dns);
    report.expect(&[("dns-overrides", "warn"), ("dns-resolution", "pass")]);
    report.expect_root_cause(None, 0);
    let s = summary(&report, "dns-overrides");
    assert!(s.contains(&dopt) && s.contains("10.20.3.53"), "{s}");
}

// ------------------------------------------------------------------ vantage

/// Runs the diagnosis with instance metadata from `imds` (or none), as an instance would.
fn diagnose_from(
    emulator: &Emulator,
    world: &World,
    dns: &LoopbackDns,
    imds: Option<&Imds>,
) -> Report {
    let inv = Invocation::new(&world.endpoint_id, &emulator.url()).resolver(dns.addr());
    let mut cmd = inv.command();
    if let Some(imds) = imds {
        cmd.env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
    }
    let out = cmd.output().expect("run pl-doctor");
    let outcome = Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let json = serde_json::from_str(&outcome.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}\n{}",
            outcome.stdout, outcome.stderr
        )
    });
    Report { json, outcome }
}

#[test]
fn vantage_decides_how_a_failing_private_name_is_read() {
    let (emulator, world) = world(&Spec::default());
    let client_subnet = world.endpoint_subnets[0].clone();

    for private_answer in [&[][..], &["203.0.113.10"][..]] {
        let dns = LoopbackDns::start(world.aws_zone(private_answer));

        // Not on EC2 (no metadata service): today's "outside the VPC" reading.
        let report = diagnose_from(&emulator, &world, &dns, None);
        report.expect(&[("dns-resolution", "unknown")]);
        report.expect_root_cause(None, 0);
        let v = &report.check("dns-resolution")["evidence"]["vantage"];
        assert_eq!(v["where"], "outside_vpc", "{v}");

        // On an instance in the endpoint's VPC: a failure, whatever the resolver.
        let inside = Imds::start("i-0123456789abcdef0", &world.consumer_vpc, &client_subnet);
        let report = diagnose_from(&emulator, &world, &dns, Some(&inside));
        report.expect(&[("dns-resolution", "fail")]);
        report.expect_root_cause(Some("dns-resolution"), 1);
        let v = &report.check("dns-resolution")["evidence"]["vantage"];
        assert_eq!(v["where"], "endpoint_vpc", "{v}");
        assert_eq!(v["vpc_id"], world.consumer_vpc.as_str());
        assert_eq!(v["subnet_id"], client_subnet.as_str());
        assert_eq!(v["how"], "instance metadata (IMDSv2)");
        let asked = inside.asked.lock().unwrap().clone();
        assert_eq!(
            asked.first().map(String::as_str),
            Some("PUT /latest/api/token"),
            "IMDSv2: a token first: {asked:?}"
        );

        // On an instance in another VPC: the reading names that VPC.
        let elsewhere = Imds::start(
            "i-0fedcba9876543210",
            "vpc-0ffeeffeeffeeffee",
            "subnet-0ffee",
        );
        let report = diagnose_from(&emulator, &world, &dns, Some(&elsewhere));
        report.expect(&[("dns-resolution", "unknown")]);
        report.expect_root_cause(None, 0);
        let s = summary(&report, "dns-resolution");
        assert!(s.contains("pl-doctor runs in vpc-0ffeeffeeffeeffee"), "{s}");
        assert_eq!(
            report.check("dns-resolution")["evidence"]["vantage"]["where"],
            "other_vpc"
        );
    }
}
