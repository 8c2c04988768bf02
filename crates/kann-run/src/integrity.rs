//! Integrity-checked run files (the byte level; loading weights into a burn module is
//! `kann_models::integrity`).
//!
//! Every file of a run that a result depends on (the weights `X.bpk`, `config.toml`,
//! `model.json`, `vocab.txt`, `metrics.csv`, `summary.json`, the task's own metrics) is written
//! by [`write_checked`] with a sidecar `X.crc32` holding the CRC-32 and the length of the file.
//! [`read_verified`] (and `kann_models::integrity::load_weights_verified` for weights) recomputes both on every load, so
//! a file whose bytes were flipped, truncated, edited or swapped is refused with a message naming
//! it instead of silently giving different numbers. CRC-32 catches every error burst of
//! up to 32 bits and misses random damage with probability 2^-32; it guards against accidents
//! (bad disks, partial copies, edited files), not against deliberate forgery.
//!
//! A file and its sidecar cannot be replaced in one atomic step, so [`write_checked`]
//! goes through a state in which both the old and the new file are accepted:
//! 1. the new weights are written to a temporary file (synced);
//! 2. the sidecar is replaced by one listing the new checksum *and* the old file's;
//! 3. the temporary file is renamed over the weights;
//! 4. the sidecar is replaced by one listing only the new checksum.
//!
//! A kill at any point leaves a file that matches its sidecar (old or new contents).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::atomic::{commit, temp_path, write_atomic};
use crate::error::RunError;
use crate::testhook;

/// Suffix of the checksum sidecar (`model.bpk` -> `model.bpk.crc32`).
pub const CHECKSUM_SUFFIX: &str = ".crc32";

/// CRC-32 (IEEE) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Length and CRC-32 of a byte string, as recorded in a sidecar or manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    /// Length in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE).
    pub crc32: u32,
}

impl Checksum {
    /// The checksum of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self {
            bytes: data.len() as u64,
            crc32: crc32(data),
        }
    }

    /// The sidecar line: `crc32 <8 hex digits> bytes <n>`.
    pub fn line(&self) -> String {
        format!("crc32 {:08x} bytes {}", self.crc32, self.bytes)
    }

    fn parse_line(line: &str) -> Option<Self> {
        let mut it = line.split_whitespace();
        if it.next()? != "crc32" {
            return None;
        }
        let crc32 = u32::from_str_radix(it.next()?, 16).ok()?;
        if it.next()? != "bytes" {
            return None;
        }
        let bytes = it.next()?.parse().ok()?;
        it.next().is_none().then_some(Self { bytes, crc32 })
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes, CRC-32 {:08x}", self.bytes, self.crc32)
    }
}

/// The sidecar of a checked file (`model.bpk` -> `model.bpk.crc32`).
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(CHECKSUM_SUFFIX);
    path.with_file_name(name)
}

/// The checksums a sidecar accepts; `Ok(None)` when there is no sidecar.
pub fn read_sidecar(path: &Path) -> Result<Option<Vec<Checksum>>, RunError> {
    let side = sidecar_path(path);
    let text = match std::fs::read_to_string(&side) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RunError::io(&side, e)),
    };
    let mut sums = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let sum = Checksum::parse_line(line).ok_or_else(|| {
            RunError::Integrity(format!(
                "{} line {}: expected `crc32 <hex> bytes <n>`, found {line:?}",
                side.display(),
                i + 1
            ))
        })?;
        sums.push(sum);
    }
    if sums.is_empty() {
        return Err(RunError::Integrity(format!(
            "{}: empty checksum file",
            side.display()
        )));
    }
    Ok(Some(sums))
}

fn write_sidecar(path: &Path, sums: &[Checksum]) -> Result<(), RunError> {
    let text: String = sums.iter().map(|s| s.line() + "\n").collect();
    write_atomic(&sidecar_path(path), text.as_bytes())
}

/// Write weights `bytes` to `path` with its checksum sidecar, crash-safe (see the module docs);
/// the test hook points `weights-between-sidecar-and-rename` and `weights-after-rename` are on
/// this path only.
pub fn write_weights(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    write_with_sidecar(path, bytes, true)
}

/// Write any run file `bytes` to `path` with its checksum sidecar, crash-safe (see the module
/// docs); read it back with [`read_verified`].
pub fn write_checked(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    write_with_sidecar(path, bytes, false)
}

fn write_with_sidecar(path: &Path, bytes: &[u8], weight_hooks: bool) -> Result<(), RunError> {
    let hook = |name: &str| {
        if weight_hooks {
            testhook::point(name)
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| RunError::io(parent, e))?;
    }
    let new = Checksum::of(bytes);
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(RunError::io(path, e));
    }
    // The current file's checksum, if it is whole, stays accepted until the rename is done.
    let old = match std::fs::read(path) {
        Ok(old) => Some(Checksum::of(&old)).filter(|&c| c != new),
        Err(_) => None,
    };
    let result = (|| {
        write_sidecar(
            path,
            &[Some(new), old].into_iter().flatten().collect::<Vec<_>>(),
        )?;
        hook("weights-between-sidecar-and-rename");
        commit(&tmp, path)?;
        hook("weights-after-rename");
        write_sidecar(path, &[new])
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Read a file written by [`write_checked`] or [`write_weights`] and check it against its
/// sidecar. Returns the bytes and whether a checksum was recorded (`false`: a file written before
/// checksums existed, or by hand; not verified).
pub fn read_verified(path: &Path) -> Result<(Vec<u8>, bool), RunError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunError::Integrity(format!(
                "{}: no such file",
                path.display()
            )));
        }
        Err(e) => return Err(RunError::io(path, e)),
    };
    let Some(accepted) = read_sidecar(path)? else {
        return Ok((bytes, false));
    };
    let found = Checksum::of(&bytes);
    if !accepted.contains(&found) {
        return Err(RunError::Integrity(format!(
            "{}: the file is damaged: it has {found}, but {} records {}; \
             the file was changed after kann wrote it",
            path.display(),
            sidecar_path(path).display(),
            accepted
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    Ok((bytes, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_line_round_trips() {
        let c = Checksum::of(b"hello weights");
        assert_eq!(Checksum::parse_line(&c.line()), Some(c));
        assert_eq!(Checksum::parse_line("crc32 zz bytes 3"), None);
        assert_eq!(Checksum::parse_line("crc32 00000000 bytes 3 x"), None);
    }

    #[test]
    fn flipped_byte_is_refused_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bpk");
        write_weights(&path, &[7u8; 1000]).unwrap();
        assert!(read_verified(&path).unwrap().1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[500] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_verified(&path).unwrap_err().to_string();
        assert!(err.contains("w.bpk") && err.contains("damaged"), "{err}");
    }

    #[test]
    fn rewrite_leaves_only_the_new_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bpk");
        write_weights(&path, b"first").unwrap();
        write_weights(&path, b"second").unwrap();
        let sums = read_sidecar(&path).unwrap().unwrap();
        assert_eq!(sums, vec![Checksum::of(b"second")]);
        // The old content is no longer accepted.
        std::fs::write(&path, b"first").unwrap();
        assert!(read_verified(&path).is_err());
    }
}
