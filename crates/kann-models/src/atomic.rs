//! Atomic file writes: the one writer of the workspace is `kann_run::atomic` (re-exported here);
//! this module adds saving a burn module through it.

use std::path::Path;

use crate::error::ModelError;

pub use kann_run::atomic::*;

/// Save a burn module's parameters to a burnpack file at `path`, crash-safe and with its
/// checksum sidecar (see [`crate::integrity`]).
pub fn save_module<M: burn::module::Module>(module: M, path: &Path) -> Result<(), ModelError> {
    let bytes = crate::integrity::module_bytes(&module)?;
    Ok(crate::integrity::write_weights(path, &bytes)?)
}
