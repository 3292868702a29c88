//! pl-doctor's functional core: the snapshot model, the runbook checks and the
//! report. No I/O, no clock, no AWS SDK: every check is a pure function of a
//! [`model::Snapshot`] and the [`check::EvalOptions`].

// Checks return an early `Outcome` (unknown/skip) through `Result::Err`; it is built once
// per check run, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod changes;
pub mod check;
pub mod checks;
pub mod client;
pub mod endpoint_type;
pub mod fact;
pub mod fingerprint;
pub mod fleet;
pub mod iam;
pub mod model;
pub mod net;
pub mod path;
pub mod quota;
pub mod registry;
pub mod report;
pub mod snapshot_io;
pub mod view;

#[cfg(feature = "scenarios")]
pub mod scenarios;

pub use check::{Check, CheckMeta, CheckResult, EvalOptions, Outcome, Status};
pub use fact::{Fact, Missing};
pub use model::Snapshot;
pub use report::Report;
