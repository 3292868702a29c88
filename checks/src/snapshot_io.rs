//! Reading and writing snapshot files, with errors that say what to do.

use crate::fleet::{FleetSnapshot, FLEET_SNAPSHOT_VERSION};
use crate::model::{Snapshot, SNAPSHOT_VERSION};

/// Snapshots of one endpoint are tens of kilobytes; a fleet of hundreds is a few
/// megabytes. Anything past this is not a snapshot.
pub const MAX_SNAPSHOT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "snapshot is {size} bytes, over the {max}-byte limit: is this really a pl-doctor snapshot?"
    )]
    TooLarge { size: usize, max: usize },
    #[error("snapshot is empty")]
    Empty,
    #[error("snapshot is not valid JSON ({0}); was it truncated? re-save it with --save-snapshot")]
    NotJson(String),
    #[error("snapshot has no snapshot_version field: not a pl-doctor snapshot")]
    NoVersion,
    #[error("snapshot_version {found} is newer than this pl-doctor reads (up to {supported}); upgrade pl-doctor")]
    FutureVersion { found: u64, supported: u32 },
    #[error("snapshot_version {found} is not supported (this pl-doctor reads {supported})")]
    OldVersion { found: u64, supported: u32 },
    #[error("snapshot does not match the version-{supported} format: {detail}")]
    Malformed { detail: String, supported: u32 },
}

/// A snapshot file: one endpoint's, or a fleet's / a service's (`--all`, `--service`).
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Endpoint(Box<Snapshot>),
    Fleet(Box<FleetSnapshot>),
}

/// Parse one endpoint's snapshot (see [`load`]); a fleet file is refused.
pub fn from_slice(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    match load(bytes)? {
        Loaded::Endpoint(s) => Ok(*s),
        Loaded::Fleet(_) => Err(SnapshotError::Malformed {
            detail: "this is a fleet snapshot (--all/--service), not one endpoint's".into(),
            supported: SNAPSHOT_VERSION,
        }),
    }
}

/// Parse a snapshot file of either kind, checking size and version before the full
/// model so that a future or foreign file gets a clear message rather than a field error.
pub fn load(bytes: &[u8]) -> Result<Loaded, SnapshotError> {
    if bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge {
            size: bytes.len(),
            max: MAX_SNAPSHOT_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SnapshotError::Empty);
    }
    // Only the version fields are kept: a fleet of hundreds of endpoints is megabytes of
    // JSON, and a whole `Value` of it would cost several times its size and a second parse.
    #[derive(serde::Deserialize)]
    struct VersionProbe {
        snapshot_version: Option<serde_json::Value>,
        fleet_snapshot_version: Option<serde_json::Value>,
    }
    let not_json = |e: serde_json::Error| SnapshotError::NotJson(e.to_string());
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Valid JSON that is not an object has no version; anything else is not JSON.
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(not_json)?;
        return Err(SnapshotError::NoVersion);
    }
    let probe: VersionProbe = serde_json::from_slice(bytes).map_err(not_json)?;
    if let Some(found) = &probe.fleet_snapshot_version {
        check_version(found.as_u64(), FLEET_SNAPSHOT_VERSION)?;
        let fleet: FleetSnapshot = parse(bytes, FLEET_SNAPSHOT_VERSION)?;
        // The endpoint snapshots inside carry their own version: check them too.
        if let Some(bad) = fleet
            .snapshots
            .iter()
            .chain(fleet.service.iter())
            .find(|s| s.snapshot_version != SNAPSHOT_VERSION)
        {
            check_version(Some(u64::from(bad.snapshot_version)), SNAPSHOT_VERSION)?;
        }
        return Ok(Loaded::Fleet(Box::new(fleet)));
    }
    check_version(
        probe.snapshot_version.as_ref().and_then(|v| v.as_u64()),
        SNAPSHOT_VERSION,
    )?;
    parse(bytes, SNAPSHOT_VERSION).map(|s| Loaded::Endpoint(Box::new(s)))
}

fn check_version(found: Option<u64>, supported: u32) -> Result<(), SnapshotError> {
    let found = found.ok_or(SnapshotError::NoVersion)?;
    if found > u64::from(supported) {
        return Err(SnapshotError::FutureVersion { found, supported });
    }
    if found < u64::from(supported) {
        return Err(SnapshotError::OldVersion { found, supported });
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], supported: u32) -> Result<T, SnapshotError> {
    // Parsed again from the bytes (not the Value) so that errors carry line and column.
    serde_json::from_slice(bytes).map_err(|e| SnapshotError::Malformed {
        detail: e.to_string(),
        supported,
    })
}

/// Pretty JSON with a trailing newline: snapshots are meant to be read and diffed.
pub fn to_string(snapshot: &Snapshot) -> String {
    let mut s = serde_json::to_string_pretty(snapshot).expect("snapshot model always serializes");
    s.push('\n');
    s
}

/// A fleet snapshot as compact JSON: hundreds of endpoints pretty-printed would be
/// mostly indentation.
pub fn fleet_to_string(fleet: &FleetSnapshot) -> String {
    let mut s = serde_json::to_string(fleet).expect("fleet model always serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_snapshots_with_specific_errors() {
        assert!(matches!(from_slice(b"  \n"), Err(SnapshotError::Empty)));
        assert!(matches!(
            from_slice(b"{\"snapshot_version\": 1, \"reg"),
            Err(SnapshotError::NotJson(_))
        ));
        assert!(matches!(
            from_slice(b"[1,2]"),
            Err(SnapshotError::NoVersion)
        ));
        assert!(matches!(
            from_slice(b" \"snapshot\""),
            Err(SnapshotError::NoVersion)
        ));
        assert!(matches!(from_slice(b"[1,"), Err(SnapshotError::NotJson(_))));
        assert!(matches!(
            from_slice(b"{\"a\": 1}"),
            Err(SnapshotError::NoVersion)
        ));
        assert!(matches!(
            from_slice(b"{\"snapshot_version\": 7}"),
            Err(SnapshotError::FutureVersion { found: 7, .. })
        ));
        assert!(matches!(
            from_slice(b"{\"snapshot_version\": 0}"),
            Err(SnapshotError::OldVersion { .. })
        ));
        let err = from_slice(b"{\"snapshot_version\": 1}").unwrap_err();
        assert!(matches!(err, SnapshotError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("missing field"), "{err}");
    }

    #[test]
    fn reads_fleet_files_and_checks_their_versions() {
        assert!(matches!(
            load(b"{\"fleet_snapshot_version\": 9}"),
            Err(SnapshotError::FutureVersion { found: 9, .. })
        ));
        let fleet = FleetSnapshot {
            fleet_snapshot_version: FLEET_SNAPSHOT_VERSION,
            kind: crate::fleet::FleetKind::Fleet,
            collected_by: "pl-doctor test".into(),
            collected_at: "2026-11-25T00:00:00Z".into(),
            scope: Default::default(),
            service: None,
            snapshots: vec![],
            endpoint_quotas: vec![],
        };
        let text = fleet_to_string(&fleet);
        assert_eq!(
            load(text.as_bytes()).unwrap(),
            Loaded::Fleet(Box::new(fleet))
        );
        let err = from_slice(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("fleet snapshot"), "{err}");
    }

    #[test]
    fn rejects_oversized_input_before_parsing() {
        let big = vec![b' '; MAX_SNAPSHOT_BYTES + 1];
        assert!(matches!(
            from_slice(&big),
            Err(SnapshotError::TooLarge { .. })
        ));
    }
}
