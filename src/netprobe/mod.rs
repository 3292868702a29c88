//! Network facts gathered from the host pl-doctor runs on: what the resolver answers
//! for the endpoint's names (`dns`) and whether TCP connects to the endpoint's ENIs
//! (`tcp`). Both only gather; `dns-resolution` and `connect-probe` judge.
//!
//! The deciding parts (which names to ask for, which addresses may be probed) are pure
//! functions of the snapshot so they are unit-tested without a network. The probe
//! never sends traffic to an address that is not one of the endpoint's own ENIs (or
//! one the user named with `--probe-target`).
//!
//! This module only imports external crates (`pl_checks`, hickory, tokio, rustls), so
//! the integration tests can include it by path until the binary grows a library.

pub mod dns;
pub mod tcp;
