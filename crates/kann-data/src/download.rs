//! The transfer and archive handling under [`crate::fetch`]:
//!
//! - [`fetch_to_part`]: one HTTP download into `<name>.part`, resuming an existing `.part` with a
//!   `Range` request, with an indicatif progress bar (bytes, rate, ETA);
//! - the ECG5000 zip: its `ECG5000_TRAIN` / `ECG5000_TEST` files (`.tsv`, `.txt` or `.arff`, first
//!   available in that order) are parsed in memory ([`ecg_zip_beats`]) and extracted into
//!   `ECG5000/` atomically ([`extract_ecg_zip`]);
//! - [`download_all`] (`train download`): both data sets at once.
//!
//! Nothing is ever substituted for real data: any failure is an error.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use crate::ecg;
use crate::error::{Error, Result};
use crate::fetch::{self, FetchOptions, Outcome};

/// File name of the ECG5000 archive.
pub const ECG_ZIP_NAME: &str = "ECG5000.zip";

/// What [`download_all`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// IMDB: already present, fetched now.
    pub imdb: Outcome,
    /// ECG5000: already present, fetched now, or extracted from a zip already there.
    pub ecg: Outcome,
}

/// `train download`: makes sure both IMDB and ECG5000 are in `data_dir` (created if needed),
/// fetching what is missing ([`fetch::ensure_imdb`], [`fetch::ensure_ecg`]).
pub fn download_all(data_dir: &Path, opts: &FetchOptions) -> Result<DownloadReport> {
    fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    Ok(DownloadReport {
        imdb: fetch::ensure_imdb(data_dir, opts)?,
        ecg: fetch::ensure_ecg(data_dir, opts)?,
    })
}

/// `<dest>.part`: where a download of `dest` is written until it is verified.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
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

/// Parses the ECG5000 train and test files of a zip in memory (nothing is written).
pub fn ecg_zip_beats(path: &Path) -> Result<(Vec<ecg::Beat>, Vec<ecg::Beat>)> {
    let (ext, train, test) = find_ecg_entries(path)?;
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_err(path, e))?;
    let mut read = |entry: &str| -> Result<Vec<ecg::Beat>> {
        let mut f = archive
            .by_name(entry)
            .map_err(|e| zip_err(path, format!("{entry}: {e}")))?;
        let mut text = String::new();
        f.read_to_string(&mut text)
            .map_err(|e| zip_err(path, format!("{entry}: {e}")))?;
        let name = format!("{}: {entry}", path.display());
        if ext == "arff" {
            ecg::parse_arff(&text, &name)
        } else {
            ecg::parse_text(&text, &name)
        }
    };
    Ok((read(&train)?, read(&test)?))
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
/// success the file at `part` holds everything the server sent (its size matches the server's
/// total when the server states one); the caller verifies it. An interrupted transfer leaves
/// `part` in place for the next try. `size_hint` (the expected size) sizes the progress bar when
/// the server states no length. The size and the resume point are said on stderr.
pub fn fetch_to_part(
    url: &str,
    part: &Path,
    size_hint: Option<u64>,
    show_progress: bool,
) -> Result<()> {
    let derr = |msg: String| Error::Download {
        url: url.into(),
        msg,
    };
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
        // The server's length decides completeness; the expected size only sizes the bar.
        let shown = total.or(size_hint);
        let name = part
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        eprintln!(
            "  {name}: {}{}",
            shown.map_or("size not stated".to_string(), |t| format!(
                "{} ({t} bytes)",
                HumanBytes(t)
            )),
            if offset > 0 {
                format!(", resuming at byte {offset}")
            } else {
                String::new()
            }
        );
        if let Some(dir) = part.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .append(offset > 0)
            .open(part)
            .map_err(|e| Error::io(part, e))?;
        let pb = if show_progress {
            let pb = ProgressBar::new(shown.unwrap_or(0));
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb.set_message(name.clone());
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
            if let Some(h) = size_hint
                && written > h
            {
                pb.abandon();
                return Err(derr(format!(
                    "the server sent more than the expected {h} bytes"
                )));
            }
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
}
