//! Shared network logic used by several checks.
pub mod dns;
