//! Reading and writing snapshot files, with errors that say what to do.

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

/// Parse a snapshot, checking size and version before the full model so that a
/// future or foreign file gets a clear message rather than a field error.
pub fn from_slice(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    if bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge {
            size: bytes.len(),
            max: MAX_SNAPSHOT_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SnapshotError::Empty);
    }
    let probe: serde_json::Value =
        // Parsed again from the bytes (not the Value) so that errors carry line and column.
    serde_json::from_slice(bytes).map_err(|e| SnapshotError::NotJson(e.to_string()))?;
    let found = match probe.get("snapshot_version").and_then(|v| v.as_u64()) {
        Some(v) => v,
        None => return Err(SnapshotError::NoVersion),
    };
    if found > u64::from(SNAPSHOT_VERSION) {
        return Err(SnapshotError::FutureVersion {
            found,
            supported: SNAPSHOT_VERSION,
        });
    }
    if found < u64::from(SNAPSHOT_VERSION) {
        return Err(SnapshotError::OldVersion {
            found,
            supported: SNAPSHOT_VERSION,
        });
    }
    // Parsed again from the bytes (not the Value) so that errors carry line and column.
    serde_json::from_slice(bytes).map_err(|e| SnapshotError::Malformed {
        detail: e.to_string(),
        supported: SNAPSHOT_VERSION,
    })
}

/// Pretty JSON with a trailing newline: snapshots are meant to be read and diffed.
pub fn to_string(snapshot: &Snapshot) -> String {
    let mut s = serde_json::to_string_pretty(snapshot).expect("snapshot model always serializes");
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
    fn rejects_oversized_input_before_parsing() {
        let big = vec![b' '; MAX_SNAPSHOT_BYTES + 1];
        assert!(matches!(
            from_slice(&big),
            Err(SnapshotError::TooLarge { .. })
        ));
    }
}
