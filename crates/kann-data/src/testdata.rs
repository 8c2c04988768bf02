//! Test support: locating the project's shared real data.
//!
//! Tests that need the real data find it at `<workspace root>/../shared/data`, or at env
//! `KANN_SHARED_DATA` if set. When it is absent they must fail under CI (`CI=true`) and may skip
//! otherwise. [`shared_data_dir`] implements exactly this; it panics on purpose under CI, since
//! failing the test is the intended outcome there.

use std::path::PathBuf;

/// Environment variable overriding the shared data folder.
pub const SHARED_DATA_ENV: &str = "KANN_SHARED_DATA";

/// The default location: `<workspace root>/../shared/data` (workspace root = two levels above
/// this crate's manifest).
pub fn default_shared_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// The shared real-data folder, if present.
///
/// Returns `Some(dir)` when env `KANN_SHARED_DATA` (if set) or the default location is a folder.
/// Otherwise: panics with a clear message if env `CI` is `true` (a test that needs the data must
/// fail there), else prints a skip note to stderr and returns `None`.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os(SHARED_DATA_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default_shared_data_dir(),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "shared test data not found at {} (set {SHARED_DATA_ENV} or provide \
             <workspace root>/../shared/data); required when CI=true",
            dir.display()
        );
    }
    eprintln!(
        "skipping: shared test data not found at {} (set {SHARED_DATA_ENV})",
        dir.display()
    );
    None
}
