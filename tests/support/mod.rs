//! Shared by the integration test files (`mod support;`): real servers on loopback
//! (DNS, TCP, a fault-injecting proxy), the AWS API emulator, the scenario builders,
//! and running the real binary against them.

// Each test file uses a different part of this module.
#![allow(dead_code)]

pub mod accounts_world;
pub mod dns_server;
pub mod emulator;
pub mod fault_proxy;
pub mod fleet_world;
pub mod html_check;
pub mod imds;
pub mod report_json;
pub mod run;
pub mod service_world;
pub mod tcp;
pub mod trail;
pub mod world;
