//! The one place that decides pl-doctor's exit codes (DESIGN.md):
//! 0 no check failed, 1 at least one check failed, 2 bad usage or bad input,
//! 3 could not diagnose at all.

use crate::cli::FailOn;
use pl_checks::fleet::FleetReport;
use pl_checks::report::{Report, Verdict};
use std::process::ExitCode;

/// Why a run ended without a report.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad usage or bad input: a malformed id, an unreadable snapshot, conflicting flags.
    #[error("{0}")]
    BadInput(String),
    /// Nothing to diagnose: endpoint not found, no credentials, API unreachable.
    #[error("{reason}; hint: {hint}")]
    CannotDiagnose { reason: String, hint: String },
    /// Writing the output failed (closed pipe, full disk).
    #[error("{0}")]
    Output(String),
}

pub const NO_FAILURE: u8 = 0;
pub const CHECK_FAILED: u8 = 1;
pub const BAD_INPUT: u8 = 2;
pub const CANNOT_DIAGNOSE: u8 = 3;

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::BadInput(_) => BAD_INPUT,
            Failure::CannotDiagnose { .. } | Failure::Output(_) => CANNOT_DIAGNOSE,
        }
    }
}

/// The exit code of a finished diagnosis: only `fail` checks make it non-zero;
/// `unknown` and `warn` are reported but do not fail the run.
pub fn for_report(report: &Report) -> u8 {
    if report.counts.fail > 0 {
        CHECK_FAILED
    } else {
        NO_FAILURE
    }
}

/// A fleet or service run: as for one endpoint, over every report (and the service's checks).
pub fn for_fleet(report: &FleetReport) -> u8 {
    if report.any_failed() {
        CHECK_FAILED
    } else {
        NO_FAILURE
    }
}

/// `--fail-on`: exit 1 when the verdict is at least as bad as `fail_on` (verdicts by
/// badness: pass < warn < inconclusive < fail), else 0. `--fail-on fail` is exactly
/// [`for_report`]/[`for_fleet`]: today's exit codes stay the default.
pub fn gated(verdict: Verdict, fail_on: FailOn) -> u8 {
    let bad = match fail_on {
        FailOn::Fail => matches!(verdict, Verdict::Fail),
        FailOn::Inconclusive => matches!(verdict, Verdict::Fail | Verdict::Inconclusive),
        FailOn::Warn => !matches!(verdict, Verdict::Pass),
    };
    if bad {
        CHECK_FAILED
    } else {
        NO_FAILURE
    }
}

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_gates_by_verdict_and_fail_is_the_default_policy() {
        use Verdict::*;
        let table = [
            (FailOn::Fail, [0, 0, 0, 1]),
            (FailOn::Inconclusive, [0, 0, 1, 1]),
            (FailOn::Warn, [0, 1, 1, 1]),
        ];
        for (gate, want) in table {
            let got: Vec<u8> = [Pass, Warn, Inconclusive, Fail]
                .into_iter()
                .map(|v| gated(v, gate))
                .collect();
            assert_eq!(got, want, "--fail-on {gate:?}");
        }
    }
}
