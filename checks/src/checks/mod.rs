//! The checks, one module per runbook step (file name = check id with `_`).

pub mod allowed_principals;
pub mod az_alignment;
pub mod client_sg_egress;
pub mod connect_probe;
pub mod connection_acceptance;
pub mod cross_zone;
pub mod dns_overrides;
pub mod dns_resolution;
pub mod endpoint_policy;
pub mod endpoint_sg_ingress;
pub mod endpoint_state;
pub mod flow_log_rejects;
pub mod idle_timeout_resets;
pub mod ip_address_type;
pub mod nlb_capacity;
pub mod nlb_listener;
pub mod nlb_security_group;
pub mod private_dns_enabled;
pub mod private_dns_verification;
pub mod service_region;
pub mod subnet_nacl;
pub mod target_health;
pub mod target_sg_ingress;
pub mod vpc_dns_attributes;
