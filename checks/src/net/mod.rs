//! Shared network logic used by several checks.

pub mod az;
pub mod cidr;
pub mod dns;
pub mod nacl;
pub mod nlb;
pub mod ports;
pub mod resolver;
pub mod sg;
