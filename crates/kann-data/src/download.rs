//! Downloading the public archives when they are missing.
//!
//! - IMDB: Stanford AI Lab's `aclImdb_v1.tar.gz`, kept as is (the loader streams it);
//! - ECG5000: the UEA & UCR repository's `ECG5000.zip`, whose `ECG5000_TRAIN` / `ECG5000_TEST`
//!   files (`.tsv`, `.txt` or `.arff`, first available in that order) are extracted into
//!   `ECG5000/` after they parse.
//!
//! Each download goes into `<name>.part`, resumes with an HTTP `Range` request if a `.part` is
//! already there, shows an indicatif progress bar (rate, ETA) when asked, and is renamed into
//! place only after its structure has been checked (the tar lists the four labelled folders;
//! the zip holds both ECG5000 files and they parse). Nothing is ever substituted for real data:
//! any failure is an error.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::ecg;
use crate::error::{Error, Result};
use crate::imdb;

/// Default base URL of the IMDB archive (Stanford AI Lab).
pub const IMDB_BASE_URL: &str = "https://ai.stanford.edu/~amaas/data/sentiment";
/// Default base URL of `ECG5000.zip` (UEA & UCR Time Series Classification repository).
pub const ECG_BASE_URL: &str = "https://www.timeseriesclassification.com/aeon-toolkit";
/// File name of the ECG5000 archive.
pub const ECG_ZIP_NAME: &str = "ECG5000.zip";

/// Where to download from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// Base URL; the archive is `<imdb_base>/aclImdb_v1.tar.gz`.
    pub imdb_base: String,
    /// Base URL; the archive is `<ecg_base>/ECG5000.zip`.
    pub ecg_base: String,
    /// Show progress bars on stderr.
    pub show_progress: bool,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            imdb_base: IMDB_BASE_URL.into(),
            ecg_base: ECG_BASE_URL.into(),
            show_progress: true,
        }
    }
}

impl Sources {
    /// URL of the IMDB archive.
    pub fn imdb_url(&self) -> String {
        format!(
            "{}/{}",
            self.imdb_base.trim_end_matches('/'),
            imdb::ARCHIVE_NAME
        )
    }

    /// URL of the ECG5000 archive.
    pub fn ecg_url(&self) -> String {
        format!("{}/{ECG_ZIP_NAME}", self.ecg_base.trim_end_matches('/'))
    }
}

/// What [`download_all`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// The IMDB data (archive or extracted folder).
    pub imdb: PathBuf,
    /// Whether the IMDB archive was downloaded now (false: already present).
    pub imdb_downloaded: bool,
    /// The `ECG5000/` folder.
    pub ecg: PathBuf,
    /// Whether ECG5000 was downloaded now (false: already present).
    pub ecg_downloaded: bool,
}

/// Downloads whatever of IMDB and ECG5000 is missing from `data_dir` (created if needed).
pub fn download_all(data_dir: &Path, sources: &Sources) -> Result<DownloadReport> {
    fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let (imdb, imdb_downloaded) = match imdb::ImdbSource::locate(data_dir) {
        Ok(imdb::ImdbSource::Archive(p)) | Ok(imdb::ImdbSource::Directory(p)) => (p, false),
        Err(_) => (
            download_imdb(data_dir, &sources.imdb_url(), sources.show_progress)?,
            true,
        ),
    };
    let ecg_dir = data_dir.join(ecg::FOLDER_NAME);
    let ecg_downloaded = if ecg::locate(&ecg_dir).is_ok() {
        false
    } else {
        download_ecg(data_dir, &sources.ecg_url(), sources.show_progress)?;
        true
    };
    Ok(DownloadReport {
        imdb,
        imdb_downloaded,
        ecg: ecg_dir,
        ecg_downloaded,
    })
}

fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Downloads the IMDB archive into `data_dir/aclImdb_v1.tar.gz` (resuming a `.part`), checks
/// that it lists the four labelled folders, then renames it into place. A `.part` that is
/// complete but fails the check is deleted (so the next try starts afresh) and the error names
/// it.
pub fn download_imdb(data_dir: &Path, url: &str, show_progress: bool) -> Result<PathBuf> {
    let dest = data_dir.join(imdb::ARCHIVE_NAME);
    let part = part_path(&dest);
    fetch_to_part(url, &part, show_progress)?;
    if let Err(e) = imdb::archive_folder_counts(&part) {
        let _ = fs::remove_file(&part);
        return Err(Error::Download {
            url: url.into(),
            msg: format!("downloaded file is not the IMDB archive (deleted): {e}"),
        });
    }
    fs::rename(&part, &dest).map_err(|e| Error::io(&dest, e))?;
    Ok(dest)
}

/// Downloads `ECG5000.zip` into `data_dir` (resuming a `.part`), extracts `ECG5000_TRAIN` and
/// `ECG5000_TEST` (first format present in both of `.tsv`, `.txt`, `.arff`) into a temporary
/// folder, parses them, then renames the folder to `data_dir/ECG5000/` and the archive to
/// `data_dir/ECG5000.zip`. Returns the folder.
pub fn download_ecg(data_dir: &Path, url: &str, show_progress: bool) -> Result<PathBuf> {
    let zip_dest = data_dir.join(ECG_ZIP_NAME);
    if !zip_dest.is_file() {
        let part = part_path(&zip_dest);
        fetch_to_part(url, &part, show_progress)?;
        if let Err(e) = check_ecg_zip(&part) {
            let _ = fs::remove_file(&part);
            return Err(Error::Download {
                url: url.into(),
                msg: format!("downloaded file is not the ECG5000 archive (deleted): {e}"),
            });
        }
        fs::rename(&part, &zip_dest).map_err(|e| Error::io(&zip_dest, e))?;
    }
    extract_ecg_zip(&zip_dest, data_dir)
}

fn zip_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::entry(path.display().to_string(), format!("bad zip archive: {e}"))
}

/// Lists the ECG5000 train/test entries of a zip: returns (extension, train entry, test entry).
fn find_ecg_entries(path: &Path) -> Result<(String, String, String)> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_err(path, e))?;
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(|e| zip_err(path, e))?;
        names.push(f.name().map_err(|e| zip_err(path, e))?.into_owned());
    }
    for ext in ecg::EXTENSIONS {
        let find = |part: &str| {
            let want = format!("{}_{part}.{ext}", ecg::FOLDER_NAME);
            names
                .iter()
                .find(|n| n.rsplit('/').next() == Some(want.as_str()))
                .cloned()
        };
        if let (Some(train), Some(test)) = (find("TRAIN"), find("TEST")) {
            return Ok((ext.to_string(), train, test));
        }
    }
    Err(Error::missing(
        path,
        format!(
            "zip has no ECG5000_TRAIN/ECG5000_TEST pair in .tsv, .txt or .arff ({} entries)",
            names.len()
        ),
    ))
}

fn check_ecg_zip(path: &Path) -> Result<()> {
    find_ecg_entries(path).map(|_| ())
}

/// Extracts the ECG5000 train/test files of `zip_path` into `data_dir/ECG5000/` (atomically:
/// temporary folder, parse check, rename). Returns the folder.
pub fn extract_ecg_zip(zip_path: &Path, data_dir: &Path) -> Result<PathBuf> {
    let (ext, train, test) = find_ecg_entries(zip_path)?;
    let final_dir = data_dir.join(ecg::FOLDER_NAME);
    let tmp_dir = data_dir.join(format!(".{}.tmp-{}", ecg::FOLDER_NAME, std::process::id()));
    let _ = fs::remove_dir_all(&tmp_dir);
    fs::create_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
    let result = (|| {
        let file = fs::File::open(zip_path).map_err(|e| Error::io(zip_path, e))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_err(zip_path, e))?;
        for (part, entry) in [("TRAIN", &train), ("TEST", &test)] {
            let out = tmp_dir.join(format!("{}_{part}.{ext}", ecg::FOLDER_NAME));
            let mut f = archive
                .by_name(entry)
                .map_err(|e| zip_err(zip_path, format!("{entry}: {e}")))?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .map_err(|e| zip_err(zip_path, format!("{entry}: {e}")))?;
            fs::write(&out, &bytes).map_err(|e| Error::io(&out, e))?;
            ecg::read_file(&out)?;
        }
        if final_dir.exists() {
            // An incomplete folder (no train/test pair): keep it aside rather than delete.
            let old = data_dir.join(format!("{}.incomplete", ecg::FOLDER_NAME));
            let _ = fs::remove_dir_all(&old);
            fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
        }
        fs::rename(&tmp_dir, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        Ok(final_dir.clone())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp_dir);
    }
    result
}

/// Parses `Content-Range: bytes START-END/TOTAL` (or `bytes */TOTAL`).
fn parse_content_range(v: &str) -> (Option<u64>, Option<u64>) {
    let v = v.trim().strip_prefix("bytes").unwrap_or(v).trim();
    let (range, total) = v.split_once('/').unwrap_or((v, "*"));
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total.trim().parse().ok())
}

/// Downloads `url` into `part`, resuming from its current size with a `Range` request. On
/// success the file at `part` is complete (its size matches the server's total when the server
/// states one). An interrupted transfer leaves `part` in place for the next try.
pub fn fetch_to_part(url: &str, part: &Path, show_progress: bool) -> Result<()> {
    let derr = |msg: String| Error::Download {
        url: url.into(),
        msg,
    };
    if let Some(dir) = part.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into();
    // At most one restart (a 416 for a .part that does not match the server's file).
    for _attempt in 0..2 {
        let existing = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let mut req = agent.get(url);
        if existing > 0 {
            req = req.header("Range", format!("bytes={existing}-"));
        }
        let mut resp = req.call().map_err(|e| derr(e.to_string()))?;
        let status = resp.status().as_u16();
        let content_range = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .map(parse_content_range);
        let content_length = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let (offset, total) = match status {
            206 => {
                let (start, total) = content_range.unwrap_or((None, None));
                if start != Some(existing) {
                    return Err(derr(format!(
                        "server answered range request from byte {existing} with range start {start:?}"
                    )));
                }
                (existing, total.or(content_length.map(|l| l + existing)))
            }
            200 => (0, content_length),
            416 if existing > 0 => {
                let total = content_range.and_then(|(_, t)| t);
                if total == Some(existing) {
                    return Ok(()); // already complete
                }
                fs::remove_file(part).map_err(|e| Error::io(part, e))?;
                continue;
            }
            s => return Err(derr(format!("HTTP status {s}"))),
        };
        let mut file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .append(offset > 0)
            .open(part)
            .map_err(|e| Error::io(part, e))?;
        let pb = if show_progress {
            let pb = ProgressBar::new(total.unwrap_or(0));
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb.set_message(
                part.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            pb.set_position(offset);
            pb
        } else {
            ProgressBar::hidden()
        };
        let mut reader = resp.body_mut().as_reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut written = offset;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    pb.abandon();
                    let _ = file.flush();
                    return Err(derr(format!(
                        "interrupted after {written} bytes ({e}); run again to resume from {}",
                        part.display()
                    )));
                }
            };
            file.write_all(&buf[..n]).map_err(|e| Error::io(part, e))?;
            written += n as u64;
            pb.set_position(written);
        }
        file.sync_all().map_err(|e| Error::io(part, e))?;
        pb.finish();
        if let Some(t) = total
            && written != t
        {
            return Err(derr(format!(
                "incomplete: {written} of {t} bytes; run again to resume from {}",
                part.display()
            )));
        }
        return Ok(());
    }
    Err(derr("server refused to resume and restart".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            (Some(100), Some(200))
        );
        assert_eq!(parse_content_range("bytes */200"), (None, Some(200)));
        assert_eq!(parse_content_range("bytes 5-9/*"), (Some(5), None));
    }

    #[test]
    fn urls() {
        let s = Sources {
            imdb_base: "http://127.0.0.1:9/a/".into(),
            ecg_base: "http://h/b".into(),
            show_progress: false,
        };
        assert_eq!(s.imdb_url(), "http://127.0.0.1:9/a/aclImdb_v1.tar.gz");
        assert_eq!(s.ecg_url(), "http://h/b/ECG5000.zip");
    }
}
