//! Every scenario evaluated in-process: each check's status and the root cause
//! must be exactly what the scenario declares. (tests/fixtures.rs at the workspace
//! root runs the real binary on the files these scenarios generate.)

use pl_checks::check::{EvalOptions, Status};
use pl_checks::registry::RUNBOOK;
use pl_checks::report;
use pl_checks::scenarios;

#[test]
fn every_scenario_produces_its_declared_statuses_and_root_cause() {
    let mut problems = Vec::new();
    for sc in scenarios::all() {
        let results = report::evaluate(&sc.snapshot, &EvalOptions::default());
        for ((id, want), got) in sc.expect.iter().zip(&results) {
            assert_eq!(*id, got.id);
            if *want != got.status {
                problems.push(format!(
                    "{:<28} {:<26} expected {:<7} got {:<7} {}",
                    sc.name,
                    id,
                    want.as_str(),
                    got.status.as_str(),
                    got.summary
                ));
            }
        }
        let root = report::root_cause(&results).map(|r| r.id.as_str());
        if root != sc.root_cause {
            problems.push(format!(
                "{:<28} root cause expected {:?} got {:?}",
                sc.name, sc.root_cause, root
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_check_passes_in_one_scenario_and_fails_in_another() {
    let all = scenarios::all();
    let mut missing = Vec::new();
    for c in RUNBOOK.iter() {
        for wanted in [Status::Pass, Status::Fail] {
            let covered = all.iter().any(|sc| {
                sc.expect
                    .iter()
                    .any(|(id, s)| *id == c.meta.id && *s == wanted)
            });
            if !covered {
                missing.push(format!(
                    "{} has no scenario where it is {}",
                    c.meta.id, wanted
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn scenario_names_are_unique_file_stems() {
    let mut names: Vec<_> = scenarios::all().iter().map(|s| s.name).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(n, names.len(), "duplicate scenario name");
    assert!(names.iter().all(|n| n
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')));
}

#[test]
fn replay_keeps_the_selection_recorded_at_collection_unless_given_anew() {
    let mut s = scenarios::base::healthy();
    s.inputs.skip = vec!["connect-probe".into()];
    let replayed = report::evaluate(&s, &EvalOptions::default());
    let probe = replayed.iter().find(|r| r.id == "connect-probe").unwrap();
    assert_eq!(probe.status, Status::Skip);
    assert_eq!(probe.summary, "skipped by --skip");

    let anew = EvalOptions {
        only: vec!["endpoint-state".into()],
        ..EvalOptions::default()
    };
    let results = report::evaluate(&s, &anew);
    assert_eq!(
        results.iter().filter(|r| r.status != Status::Skip).count(),
        1
    );
    assert_eq!(results[0].status, Status::Pass);
}
