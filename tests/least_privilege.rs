//! Least privilege end to end: the permissions `pl-doctor iam-policy` prints are
//! exactly enough for a full diagnosis, and a missing one shows up only in the checks
//! that need it, naming the IAM action.
//!
//! On one emulator holding the healthy world, the test creates a consumer IAM user whose
//! only policy is `iam-policy --provider-role-arn …` and, in the provider account, the
//! role pl-doctor assumes with only `iam-policy --provider`. Then it switches moto's IAM
//! enforcement on (`POST /moto-api/reset-auth`, moto's INITIAL_NO_AUTH_ACTION_COUNT:
//! after that many requests every call is authorized against the caller's policies) and
//! runs the binary with the user's key. The many-accounts test (below) does the same for
//! the hub, member and provider policies of `--all --org`, `--all --accounts` and
//! `--service --consumer-role-name`.
//!
//! What moto 5.2.5 enforces (moto/iam/access_control.py): the Action of every EC2,
//! ELBv2, STS, Organizations and Service Quotas call, against the caller's identity
//! policies: the user's inline policies, and for an assumed session the role's policy in
//! the role's account. Gaps:
//! it ignores `Resource` and `Condition` (so the role ARN that scopes sts:AssumeRole is
//! not tested), never evaluates a role's trust policy across accounts (it looks the role
//! up in the caller's account), and always allows sts:GetCallerIdentity.

mod support;

use aws_sdk_ec2::config::Credentials;
use pl_checks::iam::{policy, Side};
use std::collections::BTreeMap;
use support::accounts_world::{assumed, command, AccountsWorld, MEMBER_ROLE, PROVIDER_ROLE};
use support::emulator::Emulator;
use support::fleet_world::{run as fleet_run, Run};
use support::run::{Invocation, Report};
use support::world::{
    consumer_credentials, provider_credentials, sdk_config, Spec, World, CONSUMER_ACCOUNT,
    PROVIDER_ACCOUNT, PROVIDER_ROLE_ARN,
};

const USER: &str = "pl-doctor-least-privilege";
const USER_POLICY: &str = "pl-doctor-consumer";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The consumer policy `iam-policy --provider-role-arn` prints, minus `drop`.
fn consumer_policy(drop: Option<&str>) -> String {
    without(policy(Side::Consumer, Some(PROVIDER_ROLE_ARN)), drop)
}

/// `doc` without the action `drop` (asserted present); a statement left with no action
/// goes too (IAM rejects one).
fn without(mut doc: serde_json::Value, drop: Option<&str>) -> String {
    if let Some(action) = drop {
        let mut found = false;
        let statements = doc["Statement"].as_array_mut().expect("statements");
        for statement in statements.iter_mut() {
            if let Some(actions) = statement["Action"].as_array_mut() {
                let before = actions.len();
                actions.retain(|a| a != action);
                found |= actions.len() != before;
            }
        }
        statements.retain(|s| s["Action"].as_array().is_none_or(|a| !a.is_empty()));
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
    check_summaries(&report.json)
}

/// Check id → summary of one report (a single run's, or one row of a fleet report).
fn check_summaries(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["checks"]
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
    emulator.set_iam_enforcement("inf");
    rt.block_on(async {
        let iam = aws_sdk_iam::Client::new(&sdk_config(url, consumer_credentials()).await);
        put_user_policy(&iam, Some(drop)).await;
    });
    emulator.set_iam_enforcement("0");
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

    emulator.set_iam_enforcement("0");
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

    emulator.set_iam_enforcement("0");
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

// ---- Many accounts: the hub and member policies (issue 11) ----
//
// The world of tests/support/accounts_world.rs (provider 111111111111, the hub
// 123456789012 with its own endpoint, members created through Organizations). Every
// principal carries exactly what `pl-doctor iam-policy` prints for it, read from the
// binary's own output:
// - the hub user (`--all --org` / `--all --accounts`): `iam-policy --hub --role-name R`
//   and, for its own account's endpoint, the consumer policy (`iam-policy`);
// - the provider user (`--service --consumer-role-name R`): `iam-policy --provider` and
//   `iam-policy --hub --role-name R` (its sts:AssumeRole on the consumer roles);
// - role R in every consumer account: `iam-policy --member`, trusted as
//   `iam-policy --member --trust-principal <hub user>` prints (moto does not evaluate
//   trust policies, see above);
// - role R in the provider account (`--provider-role-name R`): `iam-policy --provider`.

const HUB_USER: &str = "pl-doctor-hub";
const PROVIDER_USER: &str = "pl-doctor-provider-oncall";

/// `pl-doctor iam-policy ARGS`, as printed.
fn printed_policy(args: &[&str]) -> serde_json::Value {
    let out = assert_cmd::Command::cargo_bin("pl-doctor")
        .expect("pl-doctor binary")
        .arg("iam-policy")
        .args(args)
        .output()
        .expect("run pl-doctor iam-policy");
    assert!(out.status.success(), "iam-policy {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("iam-policy {args:?} printed no JSON: {e}"))
}

struct ManyAccountPrincipals {
    hub: Credentials,
    provider: Credentials,
}

/// An IAM user `name` in the account `iam` acts in, with one inline policy per
/// (name, document), and its access key.
async fn user_with_policies(
    iam: &aws_sdk_iam::Client,
    name: &str,
    policies: &[(&str, String)],
) -> Credentials {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("create user");
    for (policy_name, document) in policies {
        iam.put_user_policy()
            .user_name(name)
            .policy_name(*policy_name)
            .policy_document(document)
            .send()
            .await
            .expect("put user policy");
    }
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("create access key");
    let key = key.access_key().expect("an access key");
    Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "pl-doctor-least-privilege",
    )
}

/// Role `MEMBER_ROLE` in the account `iam` acts in, trusted per `trust`, with `policy`.
async fn role_with_policy(iam: &aws_sdk_iam::Client, trust: &str, policy: String) {
    iam.create_role()
        .role_name(MEMBER_ROLE)
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create role");
    put_role_policy(iam, policy).await;
}

async fn put_role_policy(iam: &aws_sdk_iam::Client, policy: String) {
    iam.put_role_policy()
        .role_name(MEMBER_ROLE)
        .policy_name("pl-doctor")
        .policy_document(policy)
        .send()
        .await
        .expect("put role policy");
}

/// An IAM client acting in `account` (through the builder's own session there).
async fn iam_in(url: &str, account: &str) -> aws_sdk_iam::Client {
    let creds = if account == CONSUMER_ACCOUNT {
        consumer_credentials()
    } else {
        assumed(
            url,
            consumer_credentials(),
            &format!("arn:aws:iam::{account}:role/pl-doctor-e2e-builder"),
        )
        .await
    };
    aws_sdk_iam::Client::new(&sdk_config(url, creds).await)
}

async fn many_account_principals(url: &str, world: &AccountsWorld) -> ManyAccountPrincipals {
    let hub_policy = printed_policy(&["--hub", "--role-name", MEMBER_ROLE]).to_string();
    let consumer = printed_policy(&[]).to_string();
    let provider_policy = printed_policy(&["--provider"]).to_string();
    let member = printed_policy(&["--member"]).to_string();
    let hub_arn = format!("arn:aws:iam::{CONSUMER_ACCOUNT}:user/{HUB_USER}");
    let trust = printed_policy(&["--member", "--trust-principal", &hub_arn]).to_string();

    let hub_iam = iam_in(url, CONSUMER_ACCOUNT).await;
    let hub = user_with_policies(
        &hub_iam,
        HUB_USER,
        &[
            ("pl-doctor-hub", hub_policy.clone()),
            ("pl-doctor-consumer", consumer),
        ],
    )
    .await;
    // The hub's own account has a connection too (read by --service through the role).
    role_with_policy(&hub_iam, &trust, member.clone()).await;
    for m in &world.members {
        role_with_policy(&iam_in(url, &m.account).await, &trust, member.clone()).await;
    }
    let provider_iam = iam_in(url, PROVIDER_ACCOUNT).await;
    role_with_policy(&provider_iam, &trust, provider_policy.clone()).await;
    let provider = user_with_policies(
        &provider_iam,
        PROVIDER_USER,
        &[
            ("pl-doctor-provider", provider_policy),
            ("pl-doctor-hub", hub_policy),
        ],
    )
    .await;
    ManyAccountPrincipals { hub, provider }
}

/// Row endpoint id → (check id → status) of a fleet report.
fn row_statuses(json: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, String>> {
    support::report_json::rows(json)
        .iter()
        .map(|r| {
            (
                r["target"]["endpoint_id"].as_str().unwrap().to_owned(),
                support::report_json::statuses(r),
            )
        })
        .collect()
}

/// Every "missing permission" a fleet report's rows name.
fn denials(json: &serde_json::Value) -> Vec<String> {
    json["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .flat_map(|r| {
            let endpoint = r["target"]["endpoint_id"].as_str().unwrap().to_owned();
            check_summaries(r)
                .into_iter()
                .filter(|(_, s)| s.contains("missing permission"))
                .map(move |(id, s)| format!("{endpoint} {id}: {s}"))
        })
        .collect()
}

fn assert_exactly_enough(label: &str, baseline: &Run, run: &Run) {
    let json = run.json();
    let denied = denials(&json);
    assert!(
        denied.is_empty(),
        "{label}: denied with exactly the printed policies:\n{}\nstderr:\n{}",
        denied.join("\n"),
        run.stderr
    );
    assert!(
        json["scope"].get("failed").is_none(),
        "{label}: {:#}",
        json["scope"]
    );
    // The fleet's own reads too: each VPC's endpoints-per-VPC quota is the applied value.
    let usage = json["vpc_endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !label.starts_with("--all") || !usage.is_empty(),
        "{label}: no vpc_endpoints: {json:#}"
    );
    for usage in &usage {
        assert_eq!(usage["quota_source"], "applied", "{label}: {usage:#}");
    }
    assert_eq!(run.code, baseline.code, "{label}: {}", run.stderr);
    assert_eq!(
        row_statuses(&json),
        row_statuses(&baseline.json()),
        "{label}: least privilege changes the diagnosis"
    );
}

#[test]
fn the_hub_and_member_policies_are_exactly_enough_for_many_accounts() {
    let emulator = Emulator::start();
    let url = emulator.url();
    let rt = runtime();
    let world = rt.block_on(AccountsWorld::build(&url, 2, 1));
    let members: Vec<String> = std::iter::once(world.hub_account.clone())
        .chain(world.member_accounts())
        .collect();
    let accounts_list = members.join(",");
    let skip = ["--skip", "dns-resolution,connect-probe", "-o", "json"];
    // `--all <selection>` through the member and provider roles.
    let fleet_args = |selection: &[&'static str]| -> Vec<&str> {
        ["--all"]
            .into_iter()
            .chain(selection.iter().copied())
            .chain([
                "--role-name",
                MEMBER_ROLE,
                "--provider-role-name",
                PROVIDER_ROLE,
            ])
            .chain(skip)
            .collect()
    };
    let org_args = fleet_args(&["--org"]);
    let mut accounts_args = fleet_args(&["--accounts"]);
    accounts_args.insert(2, &accounts_list);
    let service_args: Vec<&str> = [
        "--service",
        world.world.service_id.as_str(),
        "--consumer-role-name",
        MEMBER_ROLE,
    ]
    .into_iter()
    .chain(skip)
    .collect();

    // The same world without enforcement: what the least-privileged runs must match.
    let base_org = fleet_run(command(&url, None, &org_args));
    let base_accounts = fleet_run(command(&url, None, &accounts_args));
    let base_service = fleet_run(command(&url, Some(&world.provider), &service_args));
    assert_eq!(
        base_org.code,
        Some(1),
        "a broken member: {}",
        base_org.stderr
    );

    let p = rt.block_on(many_account_principals(&url, &world));
    emulator.set_iam_enforcement("0");
    let org = fleet_run(command(&url, Some(&p.hub), &org_args));
    let accounts = fleet_run(command(&url, Some(&p.hub), &accounts_args));
    let service = fleet_run(command(&url, Some(&p.provider), &service_args));
    assert_exactly_enough("--all --org", &base_org, &org);
    assert_exactly_enough("--all --accounts", &base_accounts, &accounts);
    assert_exactly_enough("--service --consumer-role-name", &base_service, &service);
    assert_eq!(
        row_statuses(&org.json()).len(),
        members.len(),
        "a row per account"
    );

    // One action fewer in one member's role: only that account's subnet-nacl loses its
    // fact, and names the action, in both kinds of run.
    let narrowed = &world.members[1];
    emulator.set_iam_enforcement("inf");
    rt.block_on(async {
        let policy = without(
            printed_policy(&["--member"]),
            Some("ec2:DescribeNetworkAcls"),
        );
        put_role_policy(&iam_in(&url, &narrowed.account).await, policy).await;
    });
    emulator.set_iam_enforcement("0");
    for (label, baseline, run) in [
        (
            "--all --org",
            &base_org,
            fleet_run(command(&url, Some(&p.hub), &org_args)),
        ),
        (
            "--service --consumer-role-name",
            &base_service,
            fleet_run(command(&url, Some(&p.provider), &service_args)),
        ),
    ] {
        let json = run.json();
        let mut expected = row_statuses(&baseline.json());
        let endpoint = &narrowed.endpoint_ids[0];
        expected
            .get_mut(endpoint)
            .expect("the narrowed member's row")
            .insert("subnet-nacl".to_owned(), "unknown".to_owned());
        assert_eq!(row_statuses(&json), expected, "{label}: {}", run.stderr);
        let denied = denials(&json);
        assert_eq!(
            denied.len(),
            1,
            "{label}: only the narrowed member's subnet-nacl is denied: {denied:#?}"
        );
        assert!(
            denied[0].starts_with(&format!("{endpoint} subnet-nacl: "))
                && denied[0].contains("missing permission ec2:DescribeNetworkAcls"),
            "{label}: {denied:#?}"
        );
    }

    // The hub without sts:AssumeRole: every member account (and the provider side) is a
    // scope.failed entry naming the action; the hub's own account is still read.
    narrow_hub(&emulator, &rt, &url, "sts:AssumeRole");
    let no_assume = fleet_run(command(&url, Some(&p.hub), &accounts_args));
    let json = no_assume.json();
    let failed = json["scope"]["failed"].as_array().expect("scope.failed");
    let mut failed_accounts: Vec<&str> = failed
        .iter()
        .map(|f| f["account"].as_str().unwrap())
        .collect();
    failed_accounts.sort();
    let mut expected_failed: Vec<&str> = world
        .members
        .iter()
        .map(|m| m.account.as_str())
        .chain([PROVIDER_ACCOUNT])
        .collect();
    expected_failed.sort();
    assert_eq!(failed_accounts, expected_failed, "{failed:#?}");
    for f in failed {
        assert_eq!(f["operation"], "sts:AssumeRole", "{f:#}");
        assert!(
            f["reason"].as_str().unwrap().contains("sts:AssumeRole"),
            "the reason names the missing action: {f:#}"
        );
    }
    let rows = row_statuses(&json);
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        vec![&world.world.endpoint_id],
        "the hub's own endpoint is still diagnosed"
    );

    // The hub without organizations:ListAccounts: --org cannot start, and says why.
    narrow_hub(&emulator, &rt, &url, "organizations:ListAccounts");
    let no_list = fleet_run(command(&url, Some(&p.hub), &org_args));
    assert_eq!(no_list.code, Some(3), "{}", no_list.stderr);
    assert!(
        no_list.stderr.contains("organizations:ListAccounts"),
        "{}",
        no_list.stderr
    );
}

/// The hub user's policy becomes the printed hub policy without `action` (enforcement
/// off while it is written, back on after).
fn narrow_hub(emulator: &Emulator, rt: &tokio::runtime::Runtime, url: &str, action: &str) {
    emulator.set_iam_enforcement("inf");
    rt.block_on(async {
        let iam = iam_in(url, CONSUMER_ACCOUNT).await;
        iam.put_user_policy()
            .user_name(HUB_USER)
            .policy_name("pl-doctor-hub")
            .policy_document(without(
                printed_policy(&["--hub", "--role-name", MEMBER_ROLE]),
                Some(action),
            ))
            .send()
            .await
            .expect("narrow the hub policy");
    });
    emulator.set_iam_enforcement("0");
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

    emulator.set_iam_enforcement("0");
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
