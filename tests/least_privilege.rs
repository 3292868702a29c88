//! Least privilege end to end: the permissions `pl-doctor iam-policy` prints are
//! exactly enough for a full diagnosis, and a missing one shows up only in the checks
//! that need it, naming the IAM action.
//!
//! On one emulator holding the healthy world, the test creates a consumer IAM user whose
//! only policy is `iam-policy --provider-role-arn …` and, in the provider account, the
//! role pl-doctor assumes with only `iam-policy --provider`. Then it switches moto's IAM
//! enforcement on (`POST /moto-api/reset-auth`, moto's INITIAL_NO_AUTH_ACTION_COUNT:
//! after that many requests every call is authorized against the caller's policies) and
//! runs the binary with the user's key.
//!
//! What moto 5.2.5 enforces (moto/iam/access_control.py): the Action of every EC2,
//! ELBv2, STS and Service Quotas call, against the caller's identity policies: the user's inline policy,
//! and for the assumed provider session the role's policy in the provider account. Gaps:
//! it ignores `Resource` and `Condition` (so the role ARN that scopes sts:AssumeRole is
//! not tested), never evaluates a role's trust policy across accounts (it looks the role
//! up in the caller's account), and always allows sts:GetCallerIdentity.

mod support;

use pl_checks::iam::{policy, Side};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use support::emulator::Emulator;
use support::run::{Invocation, Report};
use support::world::{
    consumer_credentials, provider_credentials, sdk_config, Spec, World, CONSUMER_ACCOUNT,
    PROVIDER_ROLE_ARN,
};

const USER: &str = "pl-doctor-least-privilege";
const USER_POLICY: &str = "pl-doctor-consumer";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Sets moto's INITIAL_NO_AUTH_ACTION_COUNT: `"0"` enforces IAM on every request from
/// now on, `"inf"` turns enforcement off (moto parses the body with Python's `float`).
fn set_auth(emulator: &Emulator, count: &str) {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", emulator.port())).expect("emulator socket");
    write!(
        stream,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{count}",
        count.len()
    )
    .expect("send reset-auth");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read reset-auth");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "reset-auth {count}: {answer}"
    );
}

/// The consumer policy `iam-policy --provider-role-arn` prints, minus `drop`.
fn consumer_policy(drop: Option<&str>) -> String {
    without(policy(Side::Consumer, Some(PROVIDER_ROLE_ARN)), drop)
}

/// `doc` without the action `drop` (asserted present).
fn without(mut doc: serde_json::Value, drop: Option<&str>) -> String {
    if let Some(action) = drop {
        let mut found = false;
        for statement in doc["Statement"].as_array_mut().expect("statements") {
            if let Some(actions) = statement["Action"].as_array_mut() {
                let before = actions.len();
                actions.retain(|a| a != action);
                found |= actions.len() != before;
            }
        }
        assert!(found, "{action} is not in the policy");
    }
    doc.to_string()
}

/// Creates the provider role pl-doctor assumes (trusted by the consumer account, with
/// exactly the provider policy) and the consumer user (exactly the consumer policy);
/// returns the user's access key. Runs before enforcement, as the world's builders.
/// `provider_drop` leaves one action out of the role's policy.
async fn least_privilege_principals(url: &str, provider_drop: Option<&str>) -> (String, String) {
    let provider_iam =
        aws_sdk_iam::Client::new(&sdk_config(url, provider_credentials(url).await).await);
    let role_name = PROVIDER_ROLE_ARN.rsplit('/').next().expect("role name");
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{CONSUMER_ACCOUNT}:root") },
            "Action": "sts:AssumeRole"
        }]
    });
    provider_iam
        .create_role()
        .role_name(role_name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("create the provider role");
    provider_iam
        .put_role_policy()
        .role_name(role_name)
        .policy_name("pl-doctor-provider")
        .policy_document(without(policy(Side::Provider, None), provider_drop))
        .send()
        .await
        .expect("attach the provider policy");

    let consumer_iam = aws_sdk_iam::Client::new(&sdk_config(url, consumer_credentials()).await);
    consumer_iam
        .create_user()
        .user_name(USER)
        .send()
        .await
        .expect("create the consumer user");
    put_user_policy(&consumer_iam, None).await;
    let key = consumer_iam
        .create_access_key()
        .user_name(USER)
        .send()
        .await
        .expect("create the user's access key");
    let key = key.access_key().expect("an access key");
    (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    )
}

async fn put_user_policy(iam: &aws_sdk_iam::Client, drop: Option<&str>) {
    iam.put_user_policy()
        .user_name(USER)
        .policy_name(USER_POLICY)
        .policy_document(consumer_policy(drop))
        .send()
        .await
        .expect("put the consumer user's policy");
}

fn summaries(report: &Report) -> BTreeMap<String, String> {
    report.json["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id").to_owned(),
                c["summary"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The consumer user's policy becomes the printed one without `drop` (enforcement is
/// off while it is written, back on after).
fn restrict_consumer(emulator: &Emulator, rt: &tokio::runtime::Runtime, url: &str, drop: &str) {
    set_auth(emulator, "inf");
    rt.block_on(async {
        let iam = aws_sdk_iam::Client::new(&sdk_config(url, consumer_credentials()).await);
        put_user_policy(&iam, Some(drop)).await;
    });
    set_auth(emulator, "0");
}

/// `--all` with the user's key: the fleet report.
fn fleet_report(endpoint_id: &str, url: &str, key_id: &str, secret: &str) -> serde_json::Value {
    let fleet = Invocation::new(endpoint_id, url)
        .access_key(key_id, secret)
        .fleet()
        .output();
    serde_json::from_str(&fleet.stdout)
        .unwrap_or_else(|e| panic!("no fleet JSON ({e}): {}", fleet.stderr))
}

#[test]
fn the_printed_policies_are_exactly_enough() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let world = rt.block_on(World::build(&url, &Spec::default()));
    let (key_id, secret) = rt.block_on(least_privilege_principals(&url, None));

    // The same world diagnosed without enforcement: what the least-privileged runs must match.
    let unrestricted = Invocation::new(&world.endpoint_id, &url).report();
    let baseline = unrestricted.statuses();

    set_auth(&emulator, "0");
    let run = Invocation::new(&world.endpoint_id, &url)
        .access_key(&key_id, &secret)
        .report();
    let denied: Vec<String> = summaries(&run)
        .into_iter()
        .filter(|(_, s)| s.contains("missing permission"))
        .map(|(id, s)| format!("{id}: {s}"))
        .collect();
    assert!(
        denied.is_empty(),
        "denied with exactly the printed policies:\n{}\n{}\nemulator log:\n{}",
        denied.join("\n"),
        run.summary(),
        emulator.log_tail()
    );
    // The lookups behind the failing and warning checks (cloudtrail:LookupEvents, on both
    // sides) are granted too: no check says its changes are missing for want of it.
    let changes_denied: Vec<String> = run.json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .flat_map(|c| {
            c["changes"]["missing"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|m| m["reason"].as_str().map(str::to_owned))
        .filter(|r| r.contains("missing permission"))
        .collect();
    assert!(changes_denied.is_empty(), "{changes_denied:?}");
    assert_eq!(
        run.statuses(),
        baseline,
        "least privilege changes the diagnosis\n{}\nunrestricted:\n{}",
        run.summary(),
        unrestricted.summary()
    );

    // A fleet run reads one thing more, the endpoints-per-VPC quota: the same policy
    // grants it (servicequotas:GetServiceQuota), so the applied value is used.
    let fleet = fleet_report(&world.endpoint_id, &url, &key_id, &secret);
    assert_eq!(
        fleet["vpc_endpoints"][0]["quota_source"], "applied",
        "{:#}",
        fleet["vpc_endpoints"]
    );

    // One action fewer: only the check that reads network ACLs loses its fact.
    restrict_consumer(&emulator, &rt, &url, "ec2:DescribeNetworkAcls");
    let run = Invocation::new(&world.endpoint_id, &url)
        .access_key(&key_id, &secret)
        .report();
    let mut expected = baseline.clone();
    expected.insert("subnet-nacl".to_owned(), "unknown".to_owned());
    assert_eq!(run.statuses(), expected, "{}", run.summary());
    let nacl = run.check("subnet-nacl")["summary"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        nacl.contains("missing permission ec2:DescribeNetworkAcls"),
        "subnet-nacl names the missing action\n{}",
        run.summary()
    );
    // Without the quota read, a fleet falls back to AWS's default and says why.
    restrict_consumer(&emulator, &rt, &url, "servicequotas:GetServiceQuota");
    let fleet = fleet_report(&world.endpoint_id, &url, &key_id, &secret);
    let usage = &fleet["vpc_endpoints"][0];
    assert_eq!(usage["quota_source"], "default", "{usage:#}");
    assert!(
        usage["quota_unread"]
            .as_str()
            .is_some_and(|w| w.contains("missing permission servicequotas:GetServiceQuota")),
        "{usage:#}"
    );

    for (id, summary) in summaries(&run) {
        if id != "subnet-nacl" {
            assert!(
                !summary.contains("missing permission"),
                "{id} denied: {summary}\n{}",
                run.summary()
            );
        }
    }
}

#[test]
fn a_missing_provider_permission_turns_only_its_checks_unknown() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let world = rt.block_on(World::build(&url, &Spec::default()));
    let baseline = Invocation::new(&world.endpoint_id, &url)
        .report()
        .statuses();
    let action = "elasticloadbalancing:DescribeTargetHealth";
    let (key_id, secret) = rt.block_on(least_privilege_principals(&url, Some(action)));

    set_auth(&emulator, "0");
    let run = Invocation::new(&world.endpoint_id, &url)
        .access_key(&key_id, &secret)
        .report();
    // target-sg-ingress finds the targets to judge through their health too.
    let affected = ["target-health", "target-sg-ingress"];
    let mut expected = baseline.clone();
    for id in affected {
        expected.insert(id.to_owned(), "unknown".to_owned());
    }
    assert_eq!(run.statuses(), expected, "{}", run.summary());
    for (id, summary) in summaries(&run) {
        let named = summary.contains(&format!("missing permission {action}"));
        assert_eq!(
            named,
            affected.contains(&id.as_str()),
            "{id}: {summary}\n{}",
            run.summary()
        );
        assert!(
            named || !summary.contains("missing permission"),
            "{id} denied: {summary}\n{}",
            run.summary()
        );
    }
}

/// The CloudTrail lookups behind a failing check are granted by the printed policies
/// (cloudtrail:LookupEvents, on both sides), and without that one action the diagnosis
/// is the same while the check says why its changes are missing.
#[test]
fn the_change_lookups_are_granted_and_a_denied_one_changes_no_status() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    // The endpoint security group admits 443 only: endpoint-sg-ingress fails naming it.
    let world = rt.block_on(World::build(
        &url,
        &Spec {
            endpoint_sg_ports: vec![443],
            ..Spec::default()
        },
    ));
    let (key_id, secret) = rt.block_on(least_privilege_principals(&url, None));
    let changes_of = |run: &Report| run.check("endpoint-sg-ingress")["changes"].clone();

    set_auth(&emulator, "0");
    let granted = Invocation::new(&world.endpoint_id, &url)
        .access_key(&key_id, &secret)
        .report();
    let changes = changes_of(&granted);
    assert_eq!(
        granted.statuses()["endpoint-sg-ingress"],
        "fail",
        "{}",
        granted.summary()
    );
    assert_eq!(changes["resources"], serde_json::json!([world.endpoint_sg]));
    assert!(
        changes.get("missing").is_none(),
        "looked up with the printed policy: {changes}"
    );

    restrict_consumer(&emulator, &rt, &url, "cloudtrail:LookupEvents");
    let denied = Invocation::new(&world.endpoint_id, &url)
        .access_key(&key_id, &secret)
        .report();
    assert_eq!(
        denied.statuses(),
        granted.statuses(),
        "{}",
        denied.summary()
    );
    let missing = changes_of(&denied)["missing"].clone();
    assert!(
        missing[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("missing permission cloudtrail:LookupEvents"),
        "{missing}"
    );
}
