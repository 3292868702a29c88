//! Shared by the end-to-end test files (`mod support;`): the AWS API emulator, the
//! scenario builders, and running the real binary against them.

// Each test file uses a different part of this module.
#![allow(dead_code)]

pub mod emulator;
pub mod run;
pub mod world;
