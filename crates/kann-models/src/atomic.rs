//! Atomic file writes: write a temporary file next to the target, then rename it over.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::ModelError;

/// The temporary sibling used while writing `path` (`.<name>.tmp-<pid>`; see [`is_temp_name`]).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Whether `name` is a temporary file name made by [`temp_path`] (`.<name>.tmp-<pid>`, also with
/// burn's own scratch suffix after it): what a killed write leaves behind.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name
            .match_indices(".tmp-")
            .any(|(i, m)| name[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Remove the temporary files of killed writes (see [`is_temp_name`]) directly inside `dir`;
/// returns how many were removed. Call it only while holding the folder's lock
/// ([`crate::lock`]), when no other writer can be half way through a write there.
pub fn remove_temp_files(dir: &Path) -> Result<usize, ModelError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(ModelError::io(dir, e)),
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_temp_name(&name) {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| ModelError::io(&path, e))?;
        n += 1;
    }
    Ok(n)
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
        // A fresh file, never through a link planted at the temporary name.
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
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

/// Save a burn module's parameters to a burnpack file at `path`, crash-safe and with its
/// checksum sidecar (see [`crate::integrity`]).
pub fn save_module<M: burn::module::Module>(module: M, path: &Path) -> Result<(), ModelError> {
    let bytes = crate::integrity::module_bytes(&module)?;
    crate::integrity::write_weights(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        let p = temp_path(Path::new("/x/model.bpk"));
        assert!(is_temp_name(&p.file_name().unwrap().to_string_lossy()));
        assert!(is_temp_name(".optim.bpk.tmp-12.12-0.tmp"));
        for real in [
            "model.bpk",
            "report.json",
            ".hidden",
            "a.tmp-1",
            ".x.tmp-abc",
        ] {
            assert!(!is_temp_name(real), "{real}");
        }
    }
}

#[cfg(test)]
mod float_round_trip {
    /// Every state file is JSON; a resumed run equals an uninterrupted one to the last digit only
    /// if every `f64` parses back to the same bits (serde_json's `float_roundtrip`, pinned in
    /// workspace-hack; without it about one value in a few thousand moves by one ulp).
    #[test]
    fn every_f64_written_as_json_parses_back_to_the_same_bits() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut moved = Vec::new();
        for _ in 0..200_000 {
            // xorshift over the bit patterns of finite doubles of every magnitude.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            let text = serde_json::to_string(&v).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            if back.to_bits() != v.to_bits() {
                moved.push(text);
            }
        }
        assert!(
            moved.is_empty(),
            "{} values moved, e.g. {:?}",
            moved.len(),
            &moved[..moved.len().min(3)]
        );
    }
}
