//! First use fetches: a data set missing from the data folder is downloaded into it, verified,
//! and only then put in place.
//!
//! [`ensure_imdb`] / [`ensure_ecg`] do nothing when the data folder already holds the data set
//! (any of the layouts [`crate::imdb::ImdbSource::locate`] and [`crate::ecg::locate`] accept).
//! Otherwise they tell the user what is fetched, from where and how large it is, download it into
//! `<data folder>/<file>.part` (resuming an earlier `.part` with an HTTP `Range` request, with an
//! indicatif bar showing bytes, rate and ETA), check it against the size and SHA-256 recorded
//! here ([`IMDB`], [`ECG5000`]), and rename it to its final name only when it matches.
//!
//! - A transfer that stops early (network gone, a server that sends a short file) keeps its
//!   `.part`; the same run retries by resuming it ([`MAX_ATTEMPTS`] tries in all) and a later run
//!   resumes it too.
//! - A file of the wrong size or checksum is deleted and fetched again from the start (same limit).
//! - Without network, or with fetching turned off ([`FetchOptions::offline`], `--offline`,
//!   `KANN_OFFLINE=1`), the error ([`Error::Unavailable`]) names the data set, the folder, the
//!   URL and the one file placement that fixes it; a partial download stays as a resumable
//!   `.part` (said in the message), nothing else is written.
//! - [`FetchOptions::mirror`] (`--mirror URL`, `KANN_MIRROR`) replaces the public host of every
//!   download by another one with the same layout: `<mirror>/~amaas/data/sentiment/aclImdb_v1.tar.gz`,
//!   `<mirror>/aeon-toolkit/ECG5000.zip`.
//!
//! Tests serve small archives of the same layout; they give their checksums through the
//! `test-override` cargo feature (env `KANN_TEST_CHECKSUMS`, see [`expected_for`]), which a
//! release build does not have: there the recorded public checksums are the only ones accepted.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use indicatif::HumanBytes;
use sha2::{Digest, Sha256};

use crate::download::{self, part_path};
use crate::error::{Error, Result};
use crate::{ecg, imdb};

/// Environment variable that turns fetching off when set to anything but empty, `0`, `false`,
/// `no`, `off` (the values `clap` reads as false).
pub const OFFLINE_ENV: &str = "KANN_OFFLINE";
/// Environment variable naming a mirror (base URL with the public hosts' layout).
pub const MIRROR_ENV: &str = "KANN_MIRROR";
/// Test builds only (`test-override` feature): a file whose lines `FILE_NAME SIZE SHA256`
/// replace the recorded size and checksum of that archive.
#[cfg(feature = "test-override")]
pub const TEST_CHECKSUMS_ENV: &str = "KANN_TEST_CHECKSUMS";

/// Tries per download: a stopped transfer is resumed, a corrupt file fetched again, up to this
/// many times in one run.
pub const MAX_ATTEMPTS: usize = 3;

/// Size and SHA-256 (lower-case hex) a downloaded archive must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Bytes.
    pub size: u64,
    /// SHA-256, 64 lower-case hex digits.
    pub sha256: Cow<'static, str>,
}

/// A public archive: where it lives and what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// What it is, for messages.
    pub what: &'static str,
    /// File name in the data folder.
    pub file_name: &'static str,
    /// Scheme and host of the public copy (replaced by a mirror).
    pub origin: &'static str,
    /// Path on that host (kept on a mirror).
    pub path: &'static str,
    /// Size and SHA-256 of the public file, when one could be recorded (see each constant).
    pub expected: Option<Expected>,
}

/// The Large Movie Review Dataset v1.0 (Maas et al., ACL 2011), Stanford AI Lab's archive.
///
/// Size and SHA-256 of the public file as recorded by TensorFlow Datasets
/// (`tensorflow_datasets/url_checksums/imdb_reviews.txt`:
/// `http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz 84125825 c40f74a1…58fe`); the
/// same SHA-256 is pinned by other projects' downloaders that fetch this URL (e.g. Julia's
/// `DataDeps` registrations, gomlx's IMDB example). It was NOT recomputed here: the machine this
/// was written on has no network. (The project's development copy in `../shared/data` was
/// repacked and has another checksum; it is used in place, never verified against this.)
pub const IMDB: Remote = Remote {
    what: "IMDB (Large Movie Review Dataset v1.0)",
    file_name: imdb::ARCHIVE_NAME,
    origin: "https://ai.stanford.edu",
    path: "/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    expected: Some(Expected {
        size: 84_125_825,
        sha256: Cow::Borrowed("c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"),
    }),
};

/// ECG5000 from the UEA & UCR Time Series Classification repository (`ECG5000.zip`, holding
/// `ECG5000_{TRAIN,TEST}` as `.txt`, `.arff` and `.ts`).
///
/// No checksum recorded: the repository publishes none, none could be found recorded elsewhere,
/// and this machine has no network to compute one. The download is checked by its contents
/// instead ([`check_ecg_counts`]): both files parse, 500 + 4,500 beats of 140 samples, classes
/// 1-5 counted 2,919 / 1,767 / 96 / 194 / 24 (the published class distribution, and that of the
/// project's copy).
pub const ECG5000: Remote = Remote {
    what: "ECG5000 (UCR time series archive)",
    file_name: download::ECG_ZIP_NAME,
    origin: "https://www.timeseriesclassification.com",
    path: "/aeon-toolkit/ECG5000.zip",
    expected: None,
};

/// Whether and from where to fetch. The default fetches from the public hosts; the environment
/// ([`OFFLINE_ENV`], [`MIRROR_ENV`]) applies on top of the fields (see [`FetchOptions::effective`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchOptions {
    /// Never download (`--offline`).
    pub offline: bool,
    /// Base URL replacing the public hosts (`--mirror URL`).
    pub mirror: Option<String>,
    /// No progress bars (messages still go to stderr).
    pub quiet: bool,
}

/// A variable's value read as a switch, as `clap` reads one: unset, empty, `0`, `false`, `no`,
/// `off`, `n`, `f` are off.
fn env_switch(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off" | "n" | "f"
        )
    })
}

impl FetchOptions {
    /// The options with the environment applied: offline if the field or [`OFFLINE_ENV`] says
    /// so; the field's mirror, else a non-empty [`MIRROR_ENV`].
    pub fn effective(&self) -> FetchOptions {
        FetchOptions {
            offline: self.offline || env_switch(OFFLINE_ENV),
            mirror: self.mirror.clone().or_else(|| {
                std::env::var(MIRROR_ENV)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            }),
            quiet: self.quiet,
        }
    }

    /// The URL `remote` is fetched from: the public one, or the mirror with the same path.
    pub fn url(&self, remote: &Remote) -> String {
        let base = self.mirror.as_deref().unwrap_or(remote.origin);
        format!("{}{}", base.trim_end_matches('/'), remote.path)
    }
}

/// The size and checksum a download of `remote` must match: the recorded ones; in builds with
/// the `test-override` feature, a line `FILE_NAME SIZE SHA256` for it in the file named by
/// `KANN_TEST_CHECKSUMS` replaces them (release builds never read that variable).
pub fn expected_for(remote: &Remote) -> Result<Option<Expected>> {
    #[cfg(feature = "test-override")]
    if let Some(file) = std::env::var_os(TEST_CHECKSUMS_ENV).filter(|v| !v.is_empty()) {
        let file = PathBuf::from(file);
        let text = fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        for (i, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.first() != Some(&remote.file_name) {
                continue;
            }
            let size = f.get(1).and_then(|s| s.parse().ok());
            match (size, f.get(2)) {
                (Some(size), Some(sha)) if f.len() == 3 => {
                    return Ok(Some(Expected {
                        size,
                        sha256: Cow::Owned(sha.to_ascii_lowercase()),
                    }));
                }
                _ => {
                    return Err(Error::parse(
                        file.display().to_string(),
                        i + 1,
                        "expected `FILE_NAME SIZE SHA256`",
                    ));
                }
            }
        }
    }
    Ok(remote.expected.clone())
}

/// What an `ensure_*` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The data set was already in the data folder; nothing was fetched.
    Present,
    /// It was downloaded (and verified) now.
    Fetched,
    /// A complete archive was already in the folder and was only extracted (ECG5000).
    Extracted,
}

/// Makes sure the IMDB data is in `data_dir` (`aclImdb_v1.tar.gz` or `aclImdb/`), fetching the
/// archive on first use (see the module docs).
pub fn ensure_imdb(data_dir: &Path, opts: &FetchOptions) -> Result<Outcome> {
    if imdb::ImdbSource::locate(data_dir).is_ok() {
        return Ok(Outcome::Present);
    }
    fetch(&IMDB, data_dir, opts, |part| {
        imdb::archive_folder_counts(part).map(drop)
    })?;
    Ok(Outcome::Fetched)
}

/// Makes sure ECG5000 is in `data_dir` (`ECG5000/ECG5000_{TRAIN,TEST}.*`): extracts an
/// `ECG5000.zip` already there (checked like a download), else fetches it on first use (see the
/// module docs).
pub fn ensure_ecg(data_dir: &Path, opts: &FetchOptions) -> Result<Outcome> {
    if ecg::locate(data_dir).is_ok() {
        return Ok(Outcome::Present);
    }
    let expected = expected_for(&ECG5000)?;
    let zip = data_dir.join(ECG5000.file_name);
    let outcome = if zip.is_file() {
        let verdict = match verify(&zip, expected.as_ref()) {
            Ok(()) if expected.is_none() => check_ecg_zip(&zip).map_err(|e| e.to_string()),
            other => other.map_err(|r| r.to_string()),
        };
        if let Err(e) = verdict {
            return Err(Error::Entry {
                location: zip.display().to_string(),
                msg: format!(
                    "{e}; this is not the published ECG5000.zip: delete it (the next run \
                     fetches the archive) or replace it with the file from {}",
                    opts.effective().url(&ECG5000)
                ),
            });
        }
        Outcome::Extracted
    } else {
        fetch(&ECG5000, data_dir, opts, check_ecg_zip)?;
        Outcome::Fetched
    };
    download::extract_ecg_zip(&zip, data_dir)?;
    Ok(outcome)
}

/// The check of an ECG5000 zip when no checksum is recorded: both files parse and have the
/// published shape ([`check_ecg_counts`]).
fn check_ecg_zip(zip: &Path) -> Result<()> {
    let (train, test) = download::ecg_zip_beats(zip)?;
    check_ecg_counts(&train, &test).map_err(|msg| Error::entry(zip.display().to_string(), msg))
}

/// ECG5000's published shape, checked when no checksum is recorded: 500 training and 4,500
/// test beats (the loader already checks 140 samples each), classes 1..=5 counted
/// 2,919 / 1,767 / 96 / 194 / 24 over both files.
pub fn check_ecg_counts(
    train: &[ecg::Beat],
    test: &[ecg::Beat],
) -> std::result::Result<(), String> {
    const COUNTS: [usize; 5] = [2919, 1767, 96, 194, 24];
    if train.len() != 500 || test.len() != 4500 {
        return Err(format!(
            "{} training and {} test beats, expected 500 and 4500",
            train.len(),
            test.len()
        ));
    }
    let mut counts = [0usize; 5];
    for b in train.iter().chain(test) {
        if let Some(c) = (b.label as usize)
            .checked_sub(1)
            .and_then(|k| counts.get_mut(k))
        {
            *c += 1;
        }
    }
    if counts != COUNTS {
        return Err(format!(
            "class counts {counts:?}, expected {COUNTS:?} (classes 1..=5)"
        ));
    }
    Ok(())
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Why a downloaded file was not accepted.
#[derive(Debug)]
enum Refusal {
    /// Shorter than expected: keep and resume.
    Short(u64, u64),
    /// Wrong size or content: delete and fetch again.
    Corrupt(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Short(have, want) => write!(f, "incomplete: {have} of {want} bytes"),
            Refusal::Corrupt(m) => f.write_str(m),
        }
    }
}

/// Checks a complete file against `expected` (size, then SHA-256).
fn verify(path: &Path, expected: Option<&Expected>) -> std::result::Result<(), Refusal> {
    let Some(exp) = expected else {
        return Ok(());
    };
    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size < exp.size {
        return Err(Refusal::Short(size, exp.size));
    }
    if size > exp.size {
        return Err(Refusal::Corrupt(format!(
            "{size} bytes, expected {}",
            exp.size
        )));
    }
    let sha = sha256_file(path).map_err(|e| Refusal::Corrupt(e.to_string()))?;
    if sha != exp.sha256 {
        return Err(Refusal::Corrupt(format!(
            "SHA-256 {sha}, expected {}",
            exp.sha256
        )));
    }
    Ok(())
}

/// The error for a data set that is missing and could not be fetched.
fn unavailable(
    remote: &Remote,
    data_dir: &Path,
    url: &str,
    expected: Option<&Expected>,
    reason: String,
) -> Error {
    let dest = data_dir.join(remote.file_name);
    let part = part_path(&dest);
    let size = match expected {
        Some(e) => format!(" ({} bytes, SHA-256 {})", e.size, e.sha256),
        None => String::new(),
    };
    let mut fix = format!(
        "put {}{size} in {}: on a machine with network, curl -fLo {} {url} (or copy it there); \
         or give --data-dir (or KANN_DATA_DIR) a folder that already holds the data set",
        remote.file_name,
        data_dir.display(),
        dest.display(),
    );
    if let Ok(m) = fs::metadata(&part) {
        let _ = write!(
            fix,
            "; the partial download {} ({} bytes) is kept and the next run resumes it",
            part.display(),
            m.len()
        );
    }
    Error::Unavailable {
        what: remote.what.to_string(),
        dir: data_dir.to_path_buf(),
        url: url.to_string(),
        reason,
        fix,
    }
}

/// Downloads `remote` into `data_dir/<file_name>` (see the module docs). `check` examines the
/// complete `.part` when no checksum is recorded for it.
fn fetch(
    remote: &Remote,
    data_dir: &Path,
    opts: &FetchOptions,
    check: impl Fn(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let opts = opts.effective();
    let url = opts.url(remote);
    let expected = expected_for(remote)?;
    if opts.offline {
        return Err(unavailable(
            remote,
            data_dir,
            &url,
            expected.as_ref(),
            format!("fetching is turned off (--offline or {OFFLINE_ENV}=1)"),
        ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::Config(format!(
            "mirror {url}: expected an http:// or https:// URL"
        )));
    }
    // The folder is made by the first byte written (`fetch_to_part`), not before.
    let dest = data_dir.join(remote.file_name);
    let part = part_path(&dest);
    let size_note = expected
        .as_ref()
        .map(|e| format!(" ({}, {} bytes)", HumanBytes(e.size), e.size))
        .unwrap_or_default();
    eprintln!(
        "{} is not in {}: fetching {}{size_note} from {url}",
        remote.what,
        data_dir.display(),
        remote.file_name
    );
    let mut last: Option<String> = None;
    for attempt in 1..=MAX_ATTEMPTS {
        let have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let complete = expected.as_ref().is_some_and(|e| have == e.size);
        if !complete {
            if let Some(e) = &expected
                && have > e.size
            {
                let _ = fs::remove_file(&part);
            }
            if let Err(e) =
                download::fetch_to_part(&url, &part, expected.as_ref().map(|e| e.size), !opts.quiet)
            {
                let now = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
                let msg = match &e {
                    Error::Download { msg, .. } => msg.clone(),
                    other => other.to_string(),
                };
                if expected.as_ref().is_some_and(|x| now > x.size) {
                    // Not the file we want: never kept.
                    let _ = fs::remove_file(&part);
                    let msg = format!("{} from {url} refused: {msg}", remote.file_name);
                    eprintln!("{msg}; deleted, fetching it again from the start");
                    last = Some(msg);
                    continue;
                }
                if now > have && attempt < MAX_ATTEMPTS {
                    eprintln!("{msg}; resuming (try {} of {MAX_ATTEMPTS})", attempt + 1);
                    last = Some(msg);
                    continue;
                }
                return Err(unavailable(remote, data_dir, &url, expected.as_ref(), msg));
            }
        }
        let verdict = match verify(&part, expected.as_ref()) {
            Ok(()) if expected.is_none() => {
                check(&part).map_err(|e| Refusal::Corrupt(e.to_string()))
            }
            other => other,
        };
        match verdict {
            Ok(()) => {
                fs::rename(&part, &dest).map_err(|e| Error::io(&dest, e))?;
                eprintln!(
                    "{}: verified, saved as {}",
                    remote.file_name,
                    dest.display()
                );
                return Ok(dest);
            }
            Err(r) => {
                let msg = format!("{} from {url} refused: {r}", remote.file_name);
                match r {
                    Refusal::Short(..) => {
                        eprintln!("{msg}; resuming");
                    }
                    Refusal::Corrupt(_) => {
                        let _ = fs::remove_file(&part);
                        eprintln!("{msg}; deleted, fetching it again from the start");
                    }
                }
                last = Some(msg);
            }
        }
    }
    Err(unavailable(
        remote,
        data_dir,
        &url,
        expected.as_ref(),
        format!(
            "{MAX_ATTEMPTS} tries failed; last: {}",
            last.unwrap_or_default()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_keeps_the_public_layout() {
        let o = FetchOptions {
            mirror: Some("http://127.0.0.1:8000/".into()),
            ..Default::default()
        };
        assert_eq!(
            o.url(&IMDB),
            "http://127.0.0.1:8000/~amaas/data/sentiment/aclImdb_v1.tar.gz"
        );
        assert_eq!(
            o.url(&ECG5000),
            "http://127.0.0.1:8000/aeon-toolkit/ECG5000.zip"
        );
        let public = FetchOptions::default();
        assert_eq!(
            public.url(&IMDB),
            "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
        );
    }

    #[test]
    fn verify_tells_short_from_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, b"abc").unwrap();
        let sha = sha256_file(&p).unwrap();
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let exp = |size, sha: &str| Expected {
            size,
            sha256: Cow::Owned(sha.to_string()),
        };
        assert!(verify(&p, Some(&exp(3, &sha))).is_ok());
        assert!(matches!(
            verify(&p, Some(&exp(4, &sha))),
            Err(Refusal::Short(3, 4))
        ));
        assert!(matches!(
            verify(&p, Some(&exp(2, &sha))),
            Err(Refusal::Corrupt(_))
        ));
        assert!(matches!(
            verify(&p, Some(&exp(3, &"0".repeat(64)))),
            Err(Refusal::Corrupt(_))
        ));
    }
}
