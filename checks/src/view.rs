//! Which checks a snapshot's point of view can evaluate. The report engine (every run)
//! and the fleet report (the provider view) both read this; it imports neither, so the
//! imports stay one-way: `report` → `view` ← `fleet` → `report`.

use crate::fact::Missing;
use crate::model::{Snapshot, View};

/// Checks that read only the consumer account's facts (the endpoint's network, DNS, the
/// client, flow logs, the probe): the provider view cannot evaluate them, and says so.
pub const CONSUMER_SIDE: &[&str] = &[
    "endpoint-sg-ingress",
    "client-sg-egress",
    "subnet-nacl",
    "ip-address-type",
    "private-dns-enabled",
    "vpc-dns-attributes",
    "dns-overrides",
    "dns-resolution",
    "az-alignment",
    "flow-log-rejects",
    "connect-probe",
];

/// The checks about one connection's own state (the rest are the service's).
pub const PER_CONNECTION: &[&str] = &["endpoint-state", "connection-acceptance"];

/// Why check `id` is `skip` in a snapshot collected from `view`, or None if it can run.
pub fn out_of_view(snapshot: &Snapshot, id: &str) -> Option<String> {
    match snapshot.inputs.view {
        View::Consumer => None,
        View::Provider if CONSUMER_SIDE.contains(&id) => Some(
            "consumer side: not visible with the provider's credentials; run pl-doctor --endpoint <vpce-…> with the consumer account's"
                .to_owned(),
        ),
        View::Provider if PER_CONNECTION.contains(&id) && deleted_by_owner(snapshot) => {
            let ep = &snapshot.consumer.endpoint;
            Some(format!(
                "{} was deleted by its owner (account {}): AWS lists a deleted connection for a while; nothing to fix on the service",
                ep.id, ep.owner_id
            ))
        }
        View::Provider => None,
    }
}

/// A connection its consumer deleted: history, not a fault. Failing it would keep every
/// `--service` run (and `--watch`) red until AWS stops listing it.
fn deleted_by_owner(snapshot: &Snapshot) -> bool {
    let state = &snapshot.consumer.endpoint.state;
    crate::model::eq_wire(state, "deleted") || crate::model::eq_wire(state, "deleting")
}

/// Why consumer-side check `id` could not be evaluated on a connection whose consumer
/// side was asked for and not read, or None.
pub fn unread_consumer_side<'a>(snapshot: &'a Snapshot, id: &str) -> Option<&'a Missing> {
    snapshot
        .inputs
        .consumer_unread
        .as_ref()
        .filter(|_| CONSUMER_SIDE.contains(&id))
}
