//! One writer per run folder: `run.lock`.
//!
//! `train` (and `analyze`, which writes its report into the run folder) takes an exclusive
//! advisory lock (`flock`) on `<run>/run.lock` before writing anything there, and writes who holds
//! it into the file (pid, command line, start time). A second process asking for the same
//! folder fails at once with a message naming that holder. The operating system drops the lock
//! when its holder exits or is killed, so a lock left by a dead process is simply taken over by
//! the next one (which says so). The file itself stays in the folder; only the lock on it counts.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::RunError;

/// Lock file name inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Who holds (or last held) a run folder's lock, as written into `run.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Process id.
    pub pid: u32,
    /// Its command line.
    pub command: String,
    /// When it took the lock (seconds since the Unix epoch).
    pub since_unix: u64,
}

impl LockHolder {
    fn me() -> Self {
        Self {
            pid: std::process::id(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            since_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    fn describe(&self) -> String {
        let age = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(self.since_unix))
            .unwrap_or(0);
        format!("pid {} (`{}`, started {age} s ago)", self.pid, self.command)
    }
}

/// A held run-folder lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// The holder before us, when it had died without releasing (stale lock taken over).
    pub took_over: Option<LockHolder>,
}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether process `pid` is still running (Linux: `/proc/<pid>`; elsewhere assumed running).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Open (creating if absent) the lock file `path` for reading and writing without following a
/// symbolic link (`O_NOFOLLOW`), and only when it is a regular file; anything else is refused with
/// an error naming the path, before a byte of it is changed.
fn open_no_follow(path: &Path) -> Result<File, RunError> {
    let refuse = |what: &str| RunError::Run {
        path: path.to_path_buf(),
        message: format!(
            "is {what}, not a regular file kann wrote; refusing to open it as a lock \
             (remove it if it is not needed)"
        ),
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err(refuse("a symbolic link"));
        }
        if !meta.is_file() {
            return Err(refuse("not a regular file"));
        }
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    // ELOOP (40 on Linux): the path turned into a link between the check and the open.
    let file = options.open(path).map_err(|e| {
        if cfg!(target_os = "linux") && e.raw_os_error() == Some(40) {
            refuse("a symbolic link")
        } else {
            RunError::io(path, e)
        }
    })?;
    let meta = file.metadata().map_err(|e| RunError::io(path, e))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file"));
    }
    Ok(file)
}

/// Take the lock of run folder `dir` (which must exist). Fails at once, naming the holder, when
/// another process holds it.
pub fn lock_run_dir(dir: &Path) -> Result<RunLock, RunError> {
    let path = dir.join(LOCK_FILE);
    // Never follow a link: a `run.lock` that is a symlink would have its target truncated.
    let mut file = open_no_follow(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            // The holder writes its name right after locking; give it a moment.
            let mut holder = read_holder(&mut file);
            for _ in 0..20 {
                if holder.as_ref().is_some_and(|h| alive(h.pid)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
                holder = read_holder(&mut file);
            }
            let who = holder
                .filter(|h| alive(h.pid))
                .map(|h| h.describe())
                .unwrap_or_else(|| "another process".into());
            return Err(RunError::Run {
                path: dir.to_path_buf(),
                message: format!(
                    "in use by {who}, which holds {}; wait for it to finish or use another folder",
                    path.display()
                ),
            });
        }
        Err(TryLockError::Error(e)) => return Err(RunError::io(&path, e)),
    }
    let previous = read_holder(&mut file);
    let me = LockHolder::me();
    let text = serde_json::to_string(&me).unwrap_or_default();
    let written = (|| {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    written.map_err(|e| RunError::io(&path, e))?;
    Ok(RunLock {
        file,
        path,
        took_over: previous.filter(|h| h.pid != me.pid && !alive(h.pid)),
    })
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Leave the file (removing it while locked would race a waiting opener); mark it free.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_naming_the_holder_and_is_free_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_run_dir(dir.path()).unwrap();
        let err = lock_run_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains("run.lock"),
            "{err}"
        );
        drop(first);
        lock_run_dir(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_lock_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, b"keep me").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(LOCK_FILE)).unwrap();
        let err = lock_run_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    }

    #[test]
    fn lock_of_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A lock file left by a process that no longer exists (pid beyond pid_max).
        let dead = LockHolder {
            pid: 4_000_000_000,
            command: "train ecg".into(),
            since_unix: 0,
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let lock = lock_run_dir(dir.path()).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(lock.took_over, Some(dead));
        }
    }
}
