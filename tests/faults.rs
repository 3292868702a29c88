//! Fault tests: the real binary collecting from the AWS API emulator through the
//! fault-injecting proxy (tests/support/fault_proxy.rs), all on loopback. Each test
//! diagnoses the healthy world once cleanly through the proxy, then again with faults
//! switched on, and compares. Timing is printed, never asserted (the machine is shared).

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::emulator::Emulator;
use support::fault_proxy::{Fault, FaultProxy};
use support::run::{Invocation, Report};
use support::world::{Spec, World};

/// The emulator with the healthy world, and the proxy in front of it. The runtime
/// (multi-threaded) keeps serving the proxy while the test thread runs the binary.
struct Rig {
    emulator: Emulator,
    world: World,
    runtime: tokio::runtime::Runtime,
    proxy: FaultProxy,
}

fn rig() -> Rig {
    let emulator = Emulator::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let world = runtime.block_on(World::build(&emulator.url(), &Spec::default()));
    let upstream = SocketAddr::from(([127, 0, 0, 1], emulator.port()));
    let proxy = runtime.block_on(FaultProxy::start(upstream));
    Rig {
        emulator,
        world,
        runtime,
        proxy,
    }
}

impl Rig {
    fn diagnose(&self) -> Invocation {
        // The runtime must outlive every run: keep the field used.
        let _ = &self.runtime;
        let _ = &self.emulator;
        Invocation::new(&self.world.endpoint_id, &self.proxy.url())
    }
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"),
    )
    .expect("schema/report.schema.json");
    jsonschema::validator_for(&serde_json::from_str(&text).expect("schema is JSON"))
        .expect("schema compiles")
}

fn assert_valid_report(report: &Value) {
    let v = schema();
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not validate against the schema:\n{}",
        errors.join("\n")
    );
}

/// The exit code the verdicts call for: 1 when a check fails, else 0.
fn exit_for(report: &Report) -> i32 {
    let failed = report.statuses().values().any(|s| s == "fail");
    i32::from(failed)
}

/// Checks whose status differs between two runs: id → (before, after).
fn differences(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeMap<String, (String, String)> {
    before
        .iter()
        .filter(|(id, s)| after.get(*id) != Some(*s))
        .map(|(id, s)| {
            (
                id.clone(),
                (s.clone(), after.get(id).cloned().unwrap_or_default()),
            )
        })
        .collect()
}

fn text_of(check: &Value) -> String {
    check.to_string()
}

#[test]
fn thirty_percent_throttling_changes_no_verdict() {
    let rig = rig();
    let clean = rig.diagnose().report();
    assert_valid_report(&clean.json);

    // Every operation: the 4th, 7th and 10th call of each ten answer with the
    // service's throttling error; standard retries with backoff absorb them.
    rig.proxy.set_faults([Fault::throttle().share(30)]);
    rig.proxy.reset_counters();
    let throttled = rig.diagnose().report();
    let counts = rig.proxy.counters().total();
    println!(
        "throttled run: {} calls seen, {} throttled",
        counts.seen, counts.faulted
    );
    assert!(
        counts.faulted > 0,
        "the proxy throttled nothing: {counts:?}"
    );
    assert_valid_report(&throttled.json);
    assert_eq!(
        differences(&clean.statuses(), &throttled.statuses()),
        BTreeMap::new(),
        "throttling changed verdicts\n{}",
        throttled.summary()
    );
    assert_eq!(throttled.root_cause(), clean.root_cause());
    assert_eq!(throttled.outcome.code, clean.outcome.code);
}

#[test]
fn a_failing_api_makes_only_its_dependent_checks_unknown() {
    let rig = rig();
    let clean = rig.diagnose().report();

    // DescribeTargetHealth answers 503 every time: the retries are exhausted.
    rig.proxy.set_faults([Fault::service_unavailable()
        .only_operation("DescribeTargetHealth")
        .share(100)]);
    rig.proxy.reset_counters();
    let faulted = rig.diagnose().report();
    let counts = rig.proxy.counters().operation("DescribeTargetHealth");
    println!("DescribeTargetHealth: {counts:?}");
    assert!(
        counts.faulted > 0,
        "no DescribeTargetHealth faulted: {counts:?}"
    );
    assert_valid_report(&faulted.json);

    // The checks that read target health (and nothing else) change, to unknown,
    // naming the operation that failed.
    const DEPENDENT: &[&str] = &["target-health", "cross-zone", "target-sg-ingress"];
    let changed = differences(&clean.statuses(), &faulted.statuses());
    assert!(
        changed.contains_key("target-health"),
        "target-health unchanged\n{}",
        faulted.summary()
    );
    for (id, (_, now)) in &changed {
        assert!(
            DEPENDENT.contains(&id.as_str()),
            "{id} changed although it does not read target health\n{}",
            faulted.summary()
        );
        assert_eq!(now, "unknown", "{id}\n{}", faulted.summary());
        let text = text_of(faulted.check(id));
        assert!(
            text.contains("DescribeTargetHealth"),
            "{id} does not name the failed operation: {text}"
        );
    }
    println!("unknown because of DescribeTargetHealth: {changed:?}");
    assert_eq!(faulted.outcome.code, Some(exit_for(&faulted)));
}

#[test]
fn slow_calls_past_the_deadline_still_give_a_complete_report() {
    let rig = rig();
    // Every call held 3 s: the endpoint lookup answers in time, the next stage does not.
    rig.proxy
        .set_faults([Fault::delay(Duration::from_secs(3)).share(100)]);
    let started = Instant::now();
    let report = rig.diagnose().arg("--timeout").arg("5s").report();
    println!(
        "slow run with --timeout 5s took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_valid_report(&report.json);
    let statuses = report.statuses();
    assert_eq!(
        statuses.len(),
        pl_checks::registry::RUNBOOK.len(),
        "every check reported\n{}",
        report.summary()
    );
    let cut_short: Vec<&String> = statuses
        .iter()
        .filter(|(id, s)| *s == "unknown" && text_of(report.check(id)).contains("deadline passed"))
        .map(|(id, _)| id)
        .collect();
    assert!(
        !cut_short.is_empty(),
        "no check says the deadline passed\n{}",
        report.summary()
    );
    println!("cut short by the deadline: {cut_short:?}");
    assert_eq!(
        report.outcome.code,
        Some(exit_for(&report)),
        "{}",
        report.summary()
    );
    // Held calls of the dropped connections are released so the emulator is idle.
    rig.proxy.release_held();
}
