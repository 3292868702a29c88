//! Many accounts, both sides, end to end: the real binary against the AWS API emulator
//! (moto serves every account through STS AssumeRole: the account id comes from the
//! role ARN; it implements Organizations) holding tests/support/accounts_world.rs's
//! provider, hub and member accounts, all on 10.20.0.0/16, sometimes through the
//! fault-injecting proxy, which denies one member's AssumeRole as a trust policy would.
//!
//! The emulator's gaps are those of tests/live_emulator.rs (CloudWatch metrics unknown;
//! DNS and the probe deselected except where a test says otherwise).

mod support;

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use support::accounts_world::{
    command, member_role_arn, AccountsWorld, MEMBER_ROLE, PROVIDER_ROLE,
};
use support::emulator::Emulator;
use support::fault_proxy::{Fault, FaultProxy};
use support::fleet_world::{run, Run};
use support::report_json::{check, row, rows, statuses};

/// The emulator, the world, and the proxy in front of the emulator. The multi-threaded
/// runtime keeps serving the proxy while the test thread runs the binary.
struct Rig {
    _emulator: Emulator,
    world: AccountsWorld,
    _runtime: tokio::runtime::Runtime,
    proxy: FaultProxy,
}

fn rig(members: usize, per_account: usize) -> Rig {
    let emulator = Emulator::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let world = runtime.block_on(AccountsWorld::build(&emulator.url(), members, per_account));
    let upstream = SocketAddr::from(([127, 0, 0, 1], emulator.port()));
    let proxy = runtime.block_on(FaultProxy::start(upstream));
    Rig {
        _emulator: emulator,
        world,
        _runtime: runtime,
        proxy,
    }
}

impl Rig {
    fn url(&self) -> String {
        self.proxy.url()
    }

    /// `--service … --consumer-role-name` as the provider.
    fn service(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "--service",
            self.world.world.service_id.as_str(),
            "--consumer-role-name",
            MEMBER_ROLE,
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&NO_NETWORK);
        run(command(&self.url(), Some(&self.world.provider), &args))
    }

    /// `--all <selection> --role-name … --provider-role-name …` as the hub.
    fn fleet(&self, selection: &[&str], extra: &[&str]) -> Run {
        let mut args = vec!["--all"];
        args.extend_from_slice(selection);
        args.extend_from_slice(&[
            "--role-name",
            MEMBER_ROLE,
            "--provider-role-name",
            PROVIDER_ROLE,
            "-o",
            "json",
        ]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&NO_NETWORK);
        run(command(&self.url(), None, &args))
    }

    /// Deny AssumeRole into `account`'s roles (what a trust policy not naming the caller does).
    fn deny_assume(&self, account: &str) {
        self.proxy.set_faults([Fault::access_denied().only_param(
            "AssumeRole",
            "RoleArn",
            &format!("arn:aws:iam::{account}:"),
        )]);
    }
}

fn schema_text(name: &str) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schema")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("schema/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema/{name} is not JSON: {e}"))
}

fn assert_valid_fleet(json: &Value) {
    let report = schema_text("report.schema.json");
    let id = report["$id"].as_str().expect("$id").to_owned();
    let v = jsonschema::options()
        .with_resource(
            id,
            jsonschema::Resource::from_contents(report).expect("resource"),
        )
        .build(&schema_text("fleet-report.schema.json"))
        .expect("the fleet schema compiles");
    let errors: Vec<String> = v
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "fleet report invalid:\n{}",
        errors.join("\n")
    );
}

fn assume_calls(r: &Run) -> usize {
    r.call_log()
        .iter()
        .filter(|(_, action)| action == "sts:AssumeRole")
        .count()
}

/// DNS and the probe ask this host's network; the world's ENI addresses are not on it.
const NO_NETWORK: [&str; 4] = ["--skip", "dns-resolution", "--skip", "connect-probe"];

/// The checks only the consumer account can evaluate (checks/src/fleet.rs CONSUMER_SIDE),
/// less the two the tests deselect and client-sg-egress (which needs --client).
const CONSUMER_SIDE: [&str; 6] = [
    "endpoint-sg-ingress",
    "subnet-nacl",
    "private-dns-enabled",
    "vpc-dns-attributes",
    "az-alignment",
    "flow-log-rejects",
];

#[test]
fn service_with_consumer_role_gives_every_connection_its_consumer_side_and_a_denied_role_stays_one_row(
) {
    let rig = rig(3, 1);
    let w = &rig.world;

    let both = rig.service(&[]);
    assert_eq!(both.code, Some(1), "a broken member fails: {}", both.stderr);
    let json = both.json();
    assert_valid_fleet(&json);
    // Every connection's owner was assumed exactly once (the provider's own account has none).
    let owners: Vec<String> = std::iter::once(w.hub_account.clone())
        .chain(w.member_accounts())
        .collect();
    assert_eq!(assume_calls(&both), owners.len(), "{:?}", both.call_log());
    let mut listed: Vec<String> = json["scope"]["accounts"]
        .as_array()
        .expect("scope.accounts")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut expected = owners.clone();
    expected.sort();
    assert_eq!(listed, expected);
    for m in &w.members {
        let r = row(&json, &m.endpoint_ids[0]);
        assert_eq!(r["target"]["consumer_account"], m.account.as_str());
        assert_eq!(r["target"]["region"], "us-east-1");
        assert_eq!(
            r["target"]["vpc_id"],
            m.vpc.as_str(),
            "the consumer's own view"
        );
        let s = statuses(r);
        for id in CONSUMER_SIDE {
            assert_ne!(
                s[id], "skip",
                "{id} of {} was not evaluated: {r:#}",
                m.account
            );
        }
        assert_eq!(s["vpc-dns-attributes"], "pass");
        assert_eq!(
            s["connection-acceptance"], "pass",
            "the provider side stays"
        );
        assert_eq!(s["nlb-listener"], "pass");
        if m.broken_sg {
            assert_eq!(s["endpoint-sg-ingress"], "fail");
            assert_eq!(r["root_cause"], "endpoint-sg-ingress");
            // What changed is looked up in the member's own trail, through its role.
            let changes = &check(r, "endpoint-sg-ingress")["changes"];
            assert!(changes.get("missing").is_none(), "looked up: {changes:#}");
            assert!(
                changes["resources"][0]
                    .as_str()
                    .is_some_and(|g| g.starts_with("sg-")),
                "{changes:#}"
            );
        } else {
            assert_eq!(s["endpoint-sg-ingress"], "pass", "{r:#}");
            assert!(r["root_cause"].is_null(), "{r:#}");
        }
    }
    assert_eq!(json["root_causes"][0]["check"], "endpoint-sg-ingress");
    assert_eq!(json["root_causes"][0]["endpoints"], 1);

    // One member's role cannot be assumed: its row keeps the provider side, its consumer
    // side is unknown naming the role, the account and the error; the rest stand.
    let denied = &w.members[1];
    rig.deny_assume(&denied.account);
    let partial = rig.service(&[]);
    rig.proxy.clear_faults();
    assert_eq!(partial.code, Some(1), "{}", partial.stderr);
    let json = partial.json();
    assert_valid_fleet(&json);
    let r = row(&json, &denied.endpoint_ids[0]);
    let s = statuses(r);
    for id in CONSUMER_SIDE {
        assert_eq!(s[id], "unknown", "{id}: {r:#}");
    }
    let summary = check(r, "endpoint-sg-ingress")["summary"].as_str().unwrap();
    let role = member_role_arn(&denied.account);
    assert!(
        summary.contains(&format!("cannot assume {role}")) && summary.contains("AccessDenied"),
        "{summary}"
    );
    assert!(summary.contains(&denied.account), "{summary}");
    assert_eq!(s["connection-acceptance"], "pass");
    assert_eq!(s["endpoint-state"], "pass");
    let failed = json["scope"]["failed"].as_array().expect("scope.failed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["account"], denied.account.as_str());
    assert_eq!(failed[0]["operation"], "sts:AssumeRole");
    for m in w.members.iter().filter(|m| m.account != denied.account) {
        let s = statuses(row(&json, &m.endpoint_ids[0]));
        let expected = if m.broken_sg { "fail" } else { "pass" };
        assert_eq!(s["endpoint-sg-ingress"], expected, "{}", m.account);
    }

    // The table names accounts, what was not read, and the root-cause summary.
    let table = run(command(
        &rig.url(),
        Some(&w.provider),
        &[
            "--service",
            &w.world.service_id,
            "--consumer-role-name",
            MEMBER_ROLE,
            "--skip",
            "dns-resolution,connect-probe",
        ],
    ));
    assert_eq!(table.code, Some(1), "{}", table.stderr);
    assert!(
        table
            .stdout
            .contains("Root causes: 1 × endpoint-sg-ingress"),
        "{}",
        table.stdout
    );
    for m in &w.members {
        assert!(
            table.stdout.contains(&format!("account {}", m.account)),
            "{}",
            table.stdout
        );
    }
}

#[test]
fn fleets_of_accounts_and_of_the_organization_read_every_account_with_the_provider_side() {
    let rig = rig(3, 1);
    let w = &rig.world;
    let mut accounts: Vec<String> = vec![w.hub_account.clone()];
    accounts.extend(w.member_accounts());
    let list = accounts.join(",");

    let all = rig.fleet(&["--accounts", &list], &[]);
    assert_eq!(all.code, Some(1), "the broken member fails: {}", all.stderr);
    let json = all.json();
    assert_valid_fleet(&json);
    assert_eq!(json["kind"], "fleet");
    // The hub's own account without assuming; each member once; the provider once.
    assert_eq!(
        assume_calls(&all),
        w.members.len() + 1,
        "{:?}",
        all.call_log()
    );
    let row_accounts: std::collections::BTreeSet<String> = rows(&json)
        .iter()
        .map(|r| r["target"]["consumer_account"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        row_accounts,
        accounts.iter().cloned().collect(),
        "rows from every account"
    );
    for r in rows(&json) {
        let s = statuses(r);
        assert_eq!(s["nlb-listener"], "pass", "provider side read: {r:#}");
        assert_eq!(s["target-health"], "pass", "provider side read: {r:#}");
        assert_eq!(r["target"]["provider_account"], "111111111111");
        assert_eq!(r["target"]["region"], "us-east-1");
    }
    for m in &w.members {
        let r = row(&json, &m.endpoint_ids[0]);
        let expected = if m.broken_sg { "fail" } else { "pass" };
        assert_eq!(statuses(r)["endpoint-sg-ingress"], expected);
    }
    assert!(json["scope"].get("failed").is_none(), "{:#}", json["scope"]);

    // What changed, in the row's own account: the broken member's group is looked up with
    // that member's role, and an event recorded in its trail shows under its row.
    let broken = w
        .members
        .iter()
        .find(|m| m.broken_sg)
        .expect("a broken member");
    let sg_changes = |json: &Value| {
        check(row(json, &broken.endpoint_ids[0]), "endpoint-sg-ingress")["changes"].clone()
    };
    let before = sg_changes(&json);
    assert!(before.get("missing").is_none(), "looked up: {before:#}");
    let sg = before["resources"][0]
        .as_str()
        .expect("the group")
        .to_owned();
    assert!(sg.starts_with("sg-"), "{before:#}");
    support::trail::record(
        rig._emulator.port(),
        &broken.account,
        &[support::trail::event(
            "e-member",
            &broken.account,
            "ec2.amazonaws.com",
            "RevokeSecurityGroupIngress",
            "AWS::EC2::SecurityGroup",
            &sg,
            support::trail::now_epoch() - 600,
            serde_json::json!({"groupId": sg}),
        )],
    );
    let again = rig.fleet(&["--accounts", &list], &[]).json();
    let after = sg_changes(&again);
    assert_eq!(after["events"][0]["event_id"], "e-member", "{after:#}");
    assert_eq!(after["events"][0]["account"], broken.account.as_str());

    // A member whose role is denied is listed in scope.failed; the rest are diagnosed and
    // the exit code still comes from the verdicts.
    let denied = &w.members[2];
    rig.deny_assume(&denied.account);
    let partial = rig.fleet(&["--accounts", &list], &[]);
    let only_good = rig.fleet(
        &[
            "--accounts",
            &format!("{},{}", w.members[1].account, denied.account),
        ],
        &[],
    );
    rig.proxy.clear_faults();
    assert_eq!(partial.code, Some(1), "{}", partial.stderr);
    let json = partial.json();
    assert_valid_fleet(&json);
    let failed = json["scope"]["failed"].as_array().expect("scope.failed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["account"], denied.account.as_str());
    assert_eq!(failed[0]["operation"], "sts:AssumeRole");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains(&format!(
            "cannot assume {}",
            member_role_arn(&denied.account)
        )),
        "{failed:#?}"
    );
    assert!(rows(&json)
        .iter()
        .all(|r| r["target"]["consumer_account"] != denied.account.as_str()));
    assert_eq!(rows(&json).len(), accounts.len() - 1);
    // Healthy rows only, one account unread: inconclusive at worst, not a failure.
    assert_eq!(only_good.code, Some(0), "{}", only_good.stderr);
    assert_eq!(only_good.json()["verdict"], "inconclusive");

    // Nothing readable at all: exit 3 with one line naming why.
    rig.deny_assume(&denied.account);
    let nothing = rig.fleet(&["--accounts", &denied.account], &[]);
    rig.proxy.clear_faults();
    assert_eq!(nothing.code, Some(3), "{}", nothing.stderr);
    assert!(
        nothing.stderr.contains("cannot assume"),
        "{}",
        nothing.stderr
    );

    // --org: the organization's ACTIVE accounts (the closed one left out), the same rows.
    let org = rig.fleet(&["--org"], &[]);
    assert_eq!(org.code, Some(1), "{}", org.stderr);
    let json = org.json();
    assert_valid_fleet(&json);
    let scoped: Vec<String> = json["scope"]["accounts"]
        .as_array()
        .expect("scope.accounts")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert!(!scoped.contains(&w.closed_account), "{scoped:?}");
    let mut sorted = accounts.clone();
    sorted.sort();
    assert_eq!(scoped, sorted);
    assert!(org
        .call_log()
        .iter()
        .any(|(_, a)| a == "organizations:ListAccounts"));
    assert_eq!(rows(&json).len(), accounts.len());

    // DNS and the probe run only for endpoints in the VPC pl-doctor runs in: not known
    // here, so each row says why instead of asking this host's network.
    let with_network = run(command(
        &rig.url(),
        None,
        &[
            "--all",
            "--accounts",
            &w.members[1].account,
            "--role-name",
            MEMBER_ROLE,
            "-o",
            "json",
            "--only",
            "dns-resolution,connect-probe",
        ],
    ));
    let json = with_network.json();
    let r = row(&json, &w.members[1].endpoint_ids[0]);
    for id in ["dns-resolution", "connect-probe"] {
        let c = check(r, id);
        let text = c.to_string();
        assert!(text.contains("from where pl-doctor runs"), "{id}: {c:#}");
    }

    // The saved snapshot of a many-account run replays offline to the same verdicts.
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("accounts.json");
    let live = rig.fleet(
        &["--accounts", &list],
        &["--save-snapshot", saved.to_str().unwrap()],
    );
    let replay = run(command(
        "http://127.0.0.1:9",
        None,
        &[
            "--from-snapshot",
            saved.to_str().unwrap(),
            "-o",
            "json",
            "--skip",
            "dns-resolution,connect-probe",
        ],
    ));
    assert_eq!(replay.code, live.code, "{}", replay.stderr);
    let (a, b) = (live.json(), replay.json());
    assert_eq!(a["verdict"], b["verdict"]);
    assert_eq!(a["root_causes"], b["root_causes"]);
    assert_eq!(a["scope"]["accounts"], b["scope"]["accounts"]);
    for r in rows(&a) {
        let id = r["target"]["endpoint_id"].as_str().unwrap();
        assert_eq!(statuses(r), statuses(row(&b, id)), "{id}");
    }
}

#[test]
fn calls_per_account_do_not_grow_with_the_endpoints_in_it() {
    let mut counts = Vec::new();
    for per_account in [2, 8] {
        let rig = rig(3, per_account);
        let w = &rig.world;
        let members = w.member_accounts().join(",");
        let fleet = rig.fleet(&["--accounts", &members], &[]);
        assert_eq!(fleet.code, Some(1), "{}", fleet.stderr);
        assert_eq!(rows(&fleet.json()).len(), 3 * per_account);
        let service = rig.service(&[]);
        assert_eq!(service.code, Some(1), "{}", service.stderr);
        assert_eq!(rows(&service.json()).len(), 3 * per_account + 1);
        // LookupEvents takes one resource per call: its calls follow the distinct
        // resources the failing rows name (one page each here), not the describes' count.
        let lookups = |r: &Run| {
            r.call_log()
                .iter()
                .filter(|(_, a)| a == "cloudtrail:LookupEvents")
                .count()
        };
        let named: std::collections::BTreeSet<String> = rows(&fleet.json())
            .iter()
            .flat_map(|r| r["checks"].as_array().cloned().unwrap_or_default())
            .flat_map(|c| {
                c["changes"]["resources"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            lookups(&fleet),
            named.len(),
            "one lookup per named resource"
        );
        counts.push((
            per_account,
            fleet.calls() - lookups(&fleet),
            service.calls() - lookups(&service),
        ));
        eprintln!(
            "{per_account} endpoints per account: --all --accounts {} calls, --service --consumer-role-name {} calls",
            fleet.calls(),
            service.calls()
        );
    }
    assert_eq!(
        counts[0].1, counts[1].1,
        "--all --accounts calls grew: {counts:?}"
    );
    assert_eq!(counts[0].2, counts[1].2, "--service calls grew: {counts:?}");
}

#[test]
fn the_organization_is_read_across_list_accounts_pages() {
    // ListAccounts answers at most 20 accounts a page (the launcher pages as AWS
    // documents): the hub and 21 members are two pages, and every account is read.
    let rig = rig(21, 1);
    let w = &rig.world;
    rig.proxy.reset_counters();
    let org = rig.fleet(&["--org"], &[]);
    assert_eq!(org.code, Some(1), "the broken member fails: {}", org.stderr);
    let json = org.json();
    let pages = rig.proxy.counters().operation("ListAccounts").seen;
    assert_eq!(pages, 2, "two pages of ListAccounts");
    let mut expected: Vec<String> = std::iter::once(w.hub_account.clone())
        .chain(w.member_accounts())
        .collect();
    expected.sort();
    let scoped: Vec<String> = json["scope"]["accounts"]
        .as_array()
        .expect("scope.accounts")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        scoped, expected,
        "every ACTIVE account, the closed one left out"
    );
    assert_eq!(rows(&json).len(), expected.len());
    assert_eq!(
        assume_calls(&org),
        w.members.len() + 1,
        "each member and the provider once"
    );
}
