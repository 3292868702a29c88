//! Shared network logic used by several checks.

pub mod az;
pub mod cidr;
pub mod dns;
pub mod family;
pub mod nacl;
pub mod nlb;
pub mod policy;
pub mod ports;
pub mod resolver;
pub mod series;
pub mod sg;
pub mod topic_policy;
