//! Atomic file writes: write a temporary file next to the target, then rename it over.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::ModelError;

/// The temporary sibling used while writing `path` (`.<name>.tmp-<pid>`).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Create `path` atomically: `fill` writes the content to a temporary file, which is synced
/// and renamed over `path` only if `fill` succeeds (a crash never leaves a half-written file).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<(), ModelError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ModelError::io(path, e));
    }
    Ok(())
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    use std::io::Write;
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Save a burn module's parameters to a burnpack file at `path`, atomically.
pub fn save_module<M: burn::module::Module>(module: M, path: &Path) -> Result<(), ModelError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    }
    let tmp = temp_path(path);
    let saved = module
        .into_record()
        .save(&tmp)
        .map_err(|e| ModelError::Record(format!("{}: {e}", path.display())));
    if let Err(e) = saved {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
}
