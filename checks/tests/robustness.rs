//! Property tests: the snapshot loader, the `--client` parser and the runbook never
//! panic, whatever they are fed. proptest keeps any failing input it finds in
//! `proptest-regressions/` next to this file; those files are committed and replayed
//! first on every run, so every crasher found stays a test.

use pl_checks::check::{EvalOptions, Status};
use pl_checks::client::ClientSpec;
use pl_checks::fact::{Fact, Missing};
use pl_checks::report;
use pl_checks::scenarios;
use pl_checks::snapshot_io;
use proptest::prelude::*;

fn healthy_json() -> String {
    snapshot_io::to_string(&scenarios::base::healthy())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = snapshot_io::from_slice(&bytes);
    }

    #[test]
    fn truncated_snapshots_are_rejected(cut in 0usize..10_000) {
        let json = healthy_json();
        let cut = cut % json.trim_end().len();
        prop_assert!(snapshot_io::from_slice(&json.as_bytes()[..cut]).is_err());
    }

    #[test]
    fn corrupted_snapshots_load_or_fail_cleanly(pos in 0usize..100_000, byte in any::<u8>()) {
        let mut bytes = healthy_json().into_bytes();
        let pos = pos % bytes.len();
        bytes[pos] = byte;
        if let Ok(snap) = snapshot_io::from_slice(&bytes) {
            // Whatever still parses must still evaluate.
            let results = report::evaluate(&snap, &EvalOptions::default());
            prop_assert_eq!(results.len(), pl_checks::registry::RUNBOOK.len());
        }
    }

    #[test]
    fn client_parser_never_panics(s in "\\PC{0,40}") {
        let _ = ClientSpec::parse(&s);
    }

    #[test]
    fn client_parser_accepts_every_ip_and_cidr(a in any::<[u8; 4]>(), len in 0u8..=32) {
        let ip = std::net::Ipv4Addr::from(a);
        prop_assert_eq!(ClientSpec::parse(&ip.to_string()).unwrap(), ClientSpec::Ip(ip.into()));
        let cidr = format!("{ip}/{len}");
        match ClientSpec::parse(&cidr).unwrap() {
            ClientSpec::Cidr(n) => prop_assert_eq!(n.prefix_len(), len),
            other => prop_assert!(false, "{} parsed as {:?}", cidr, other),
        }
    }

    /// Any subset of facts missing (one API denied, another timed out) degrades
    /// checks to unknown/skip with a reason; it never panics or empties the report.
    #[test]
    fn missing_facts_degrade_checks_never_the_run(mask in any::<u16>(), sc in 0usize..26) {
        let all = scenarios::all();
        let mut s = all[sc % all.len()].snapshot.clone();
        let denied = |action: &str| Missing::AccessDenied { action: action.into(), message: None };
        let bit = |i: u32| mask & (1 << i) != 0;
        if bit(0) { s.consumer.endpoint_enis = Fact::Absent(denied("ec2:DescribeNetworkInterfaces")); }
        if bit(1) { s.consumer.vpc = Fact::Absent(denied("ec2:DescribeVpcs")); }
        if bit(2) { s.consumer.subnets = Fact::Absent(denied("ec2:DescribeSubnets")); }
        if bit(3) { s.consumer.network_acls = Fact::Absent(denied("ec2:DescribeNetworkAcls")); }
        if bit(4) { s.consumer.security_groups = Fact::Absent(denied("ec2:DescribeSecurityGroups")); }
        if bit(5) { s.consumer.az_map = Fact::Absent(denied("ec2:DescribeAvailabilityZones")); }
        if bit(6) { s.consumer.service = Fact::Absent(denied("ec2:DescribeVpcEndpointServices")); }
        if bit(7) { s.provider.service_configuration = Fact::Absent(denied("ec2:DescribeVpcEndpointServiceConfigurations")); }
        if bit(8) { s.provider.allowed_principals = Fact::Absent(denied("ec2:DescribeVpcEndpointServicePermissions")); }
        if bit(9) { s.provider.connections = Fact::Absent(Missing::ApiError { operation: "DescribeVpcEndpointConnections".into(), message: "HTTP 503".into() }); }
        if bit(10) { s.provider.load_balancers = Fact::Absent(Missing::DeadlinePassed { waiting_for: "DescribeLoadBalancers".into() }); }
        if bit(11) { s.provider.target_groups = Fact::Absent(denied("elasticloadbalancing:DescribeTargetGroups")); }
        if bit(12) { s.provider.security_groups = Fact::Absent(denied("ec2:DescribeSecurityGroups")); }
        if bit(13) { s.dns = Fact::not_requested("--skip dns-resolution"); }
        if bit(14) { s.observability.metrics = Fact::Absent(denied("cloudwatch:GetMetricData")); }
        if bit(15) { s.provider.az_map = Fact::Absent(denied("ec2:DescribeAvailabilityZones")); }

        let r = report::build(&s, &EvalOptions::default(), "2026-11-24T10:00:00Z".into(), 0);
        prop_assert_eq!(r.checks.len(), pl_checks::registry::RUNBOOK.len());
        for c in &r.checks {
            prop_assert!(!c.summary.is_empty(), "{} has an empty summary", c.id);
            if c.status == Status::Fail || c.status == Status::Warn {
                prop_assert!(c.remediation.is_some(), "{} {:?} without remediation", c.id, c.status);
            }
        }
        prop_assert_eq!(r.root_cause.clone(), report::root_cause(&r.checks).map(|c| c.id.clone()));
    }
}
