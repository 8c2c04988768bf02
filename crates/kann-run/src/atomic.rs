//! The one atomic file writer of kann: every file `train`, `analyze`, the Koopman and plot
//! crates and the data download write goes through [`write_atomic_with`] (or [`write_atomic`]).
//!
//! The content is written to a fresh temporary sibling `.<name>.tmp-<pid>-<n>` ([`temp_path`];
//! created with `create_new`, so never through a link planted at that name), synced, renamed
//! over the target, and the folder is synced so the rename itself survives a power cut. A crash
//! at any point leaves either the old file or the new one, plus at most a temporary file that
//! [`is_temp_name`] recognises and [`remove_temp_files`] removes under the folder's lock.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::RunError;

/// Distinguishes the temporary files of concurrent writes within one process.
static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary sibling for writing `path`: `.<name>.tmp-<pid>-<n>` (see [`is_temp_name`]).
pub fn temp_path(path: &Path) -> PathBuf {
    temp_path_with_extension(path, "")
}

/// [`temp_path`] with `.<extension>` appended (`.<name>.tmp-<pid>-<n>.<extension>`), for writers
/// that pick the format from the file's extension (the PNG encoder); empty: none.
pub fn temp_path_with_extension(path: &Path, extension: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let dot = if extension.is_empty() { "" } else { "." };
    path.with_file_name(format!(
        ".{name}.tmp-{}-{n}{dot}{extension}",
        std::process::id()
    ))
}

/// Whether `name` is a temporary file name made by [`temp_path`] (`.<name>.tmp-<pid>...`, also
/// with an extension or burn's own scratch suffix after it): what a killed write leaves behind.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name
            .match_indices(".tmp-")
            .any(|(i, m)| name[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Remove the temporary files of killed writes (see [`is_temp_name`]) directly inside `dir`;
/// returns how many were removed. Call it only while holding the folder's lock
/// ([`crate::lock`]), when no other writer can be half way through a write there.
pub fn remove_temp_files(dir: &Path) -> Result<usize, RunError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(RunError::io(dir, e)),
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
        removed.map_err(|e| RunError::io(&path, e))?;
        n += 1;
    }
    Ok(n)
}

/// Sync folder `dir`, so that the renames inside it are durable (best effort: not every platform
/// can open a folder).
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Move the finished temporary file `tmp` over `path` and sync the folder; `tmp` is removed if
/// the rename fails.
pub fn commit(tmp: &Path, path: &Path) -> Result<(), RunError> {
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(RunError::io(path, e));
    }
    sync_dir(parent_of(path));
    Ok(())
}

/// Create `path` atomically: `fill` writes the content to a fresh temporary file, which is synced
/// and renamed over `path` only if `fill` succeeds (a crash never leaves a half-written file).
/// The folder is created if missing.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<(), RunError> {
    let parent = parent_of(path);
    std::fs::create_dir_all(parent).map_err(|e| RunError::io(parent, e))?;
    let tmp = temp_path(path);
    let written = (|| {
        // A fresh file, never through a link planted at the temporary name.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        fill(&mut file)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(RunError::io(path, e));
    }
    commit(&tmp, path)
}

/// Write `bytes` to `path` atomically ([`write_atomic_with`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use std::io::Write;
    write_atomic_with(path, |f| f.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        let p = temp_path(Path::new("/x/model.bpk"));
        assert!(is_temp_name(&p.file_name().unwrap().to_string_lossy()));
        let png = temp_path_with_extension(Path::new("/x/fig.png"), "png");
        let name = png.file_name().unwrap().to_string_lossy().into_owned();
        assert!(is_temp_name(&name) && name.ends_with(".png"), "{name}");
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

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |_| Err(std::io::Error::other("disk full")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("report.json") && err.contains("disk full"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious.txt");
        std::fs::write(&precious, b"keep me").unwrap();
        let path = dir.path().join("out.json");
        std::os::unix::fs::symlink(&precious, &path).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
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
