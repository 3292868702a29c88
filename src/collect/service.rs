//! `--service`: the provider's view of one endpoint service and every connection to it.

use super::LiveRequest;
use crate::exit::Failure;
use pl_checks::fleet::FleetSnapshot;

#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// `vpce-svc-…`.
    pub service_id: String,
    /// The settings the service is collected with (its `endpoint_id` is unused; the
    /// default credentials are the provider's).
    pub live: LiveRequest,
}

pub fn collect_blocking(_req: &ServiceRequest) -> Result<FleetSnapshot, Failure> {
    Err(Failure::CannotDiagnose {
        reason: "--service is not part of this build yet".into(),
        hint: "diagnose one endpoint with --endpoint vpce-… from the consumer account".into(),
    })
}
