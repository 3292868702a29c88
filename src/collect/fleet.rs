//! `--all`: every interface endpoint to a PrivateLink service in the consumer's region
//! (optionally one VPC), with the facts they share fetched once for all.

use super::LiveRequest;
use crate::exit::Failure;
use pl_checks::fleet::FleetSnapshot;

#[derive(Debug, Clone)]
pub struct FleetRequest {
    /// `--vpc`: only the endpoints in this VPC.
    pub vpc_id: Option<String>,
    /// The settings every endpoint is collected with (its `endpoint_id` is unused).
    pub live: LiveRequest,
}

pub fn collect_blocking(_req: &FleetRequest) -> Result<FleetSnapshot, Failure> {
    Err(Failure::CannotDiagnose {
        reason: "--all is not part of this build yet".into(),
        hint: "diagnose one endpoint with --endpoint vpce-…".into(),
    })
}
