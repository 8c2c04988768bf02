//! The Large Movie Review Dataset (IMDB, Maas et al. 2011), paper Sec. 4.1.
//!
//! Layout: `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`, 12,500 reviews in each of the
//! four folders. [`ImdbDataset::load`] reads it from the extracted folder or streams it straight
//! from `aclImdb_v1.tar.gz` (gzip + tar, nothing extracted). Other entries (`train/unsup`,
//! `urls_*.txt`, `imdb.vocab`, `README`, ...) are ignored. Texts are kept raw (HTML `<br />`
//! included, as the paper's reference did); tokenization is [`crate::tokenizer`]'s job.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// File name of the public archive.
pub const ARCHIVE_NAME: &str = "aclImdb_v1.tar.gz";
/// Folder name inside the archive.
pub const FOLDER_NAME: &str = "aclImdb";

/// Which part of the corpus a review belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    /// `aclImdb/train` (minus the validation part once carved).
    Train,
    /// Carved from `aclImdb/train` by [`ImdbDataset::split_validation`].
    Validation,
    /// `aclImdb/test`.
    Test,
}

/// One labelled review.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// The `<id>` of the file name (unique within a split and label folder).
    pub id: u32,
    /// The `<rating>` of the file name, 1..=10 (pos >= 7, neg <= 4 in the public data).
    pub rating: u8,
    /// Sentiment label: 1 = positive (`pos/`), 0 = negative (`neg/`).
    pub label: u8,
    /// Raw text of the review, exactly as in the file.
    pub text: String,
    /// Which split the review is in.
    pub split: Split,
}

/// Where the IMDB data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImdbSource {
    /// The `.tar.gz` archive, read as a stream.
    Archive(PathBuf),
    /// The extracted `aclImdb/` folder (the one holding `train/` and `test/`).
    Directory(PathBuf),
}

impl ImdbSource {
    /// Finds the IMDB data at `path`: a `.tar.gz` file, an extracted `aclImdb/` folder, or a data
    /// folder holding either `aclImdb/` (preferred: faster) or `aclImdb_v1.tar.gz`.
    pub fn locate(path: &Path) -> Result<Self> {
        if path.is_file() {
            return Ok(ImdbSource::Archive(path.to_path_buf()));
        }
        if path.is_dir() {
            if path.join("train").is_dir() || path.join("test").is_dir() {
                return Ok(ImdbSource::Directory(path.to_path_buf()));
            }
            let folder = path.join(FOLDER_NAME);
            if folder.is_dir() {
                return Ok(ImdbSource::Directory(folder));
            }
            let archive = path.join(ARCHIVE_NAME);
            if archive.is_file() {
                return Ok(ImdbSource::Archive(archive));
            }
        }
        Err(Error::missing(
            path,
            format!(
                "no IMDB data: expected `{ARCHIVE_NAME}`, an extracted `{FOLDER_NAME}/` folder, \
                 or a folder containing one of them (run `train download`)"
            ),
        ))
    }

    /// Resolves the data location with the precedence explicit path > env `KANN_DATA_DIR` >
    /// `data/` (see [`crate::resolve_data_dir`]) and then [`ImdbSource::locate`]s it.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self> {
        Self::locate(&crate::resolve_data_dir(explicit))
    }
}

/// The labelled IMDB corpus: 25,000 train and 25,000 test reviews in the public data.
#[derive(Debug, Clone, PartialEq)]
pub struct ImdbDataset {
    /// `aclImdb/train` reviews, sorted by (label, id).
    pub train: Vec<Review>,
    /// `aclImdb/test` reviews, sorted by (label, id).
    pub test: Vec<Review>,
}

/// Train / validation / test split of the corpus (see [`ImdbDataset::split_validation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ImdbSplits {
    /// Training reviews (sorted by label, id).
    pub train: Vec<Review>,
    /// Validation reviews carved from `aclImdb/train` (sorted by label, id).
    pub validation: Vec<Review>,
    /// `aclImdb/test` reviews.
    pub test: Vec<Review>,
}

const SPLITS: [(&str, Split); 2] = [("train", Split::Train), ("test", Split::Test)];
const LABELS: [(&str, u8); 2] = [("neg", 0), ("pos", 1)];

impl ImdbDataset {
    /// Loads the corpus from `path` (archive, extracted folder or a data folder holding either,
    /// see [`ImdbSource::locate`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_source(&ImdbSource::locate(path.as_ref())?)
    }

    /// Loads the corpus from an already located source.
    pub fn load_source(source: &ImdbSource) -> Result<Self> {
        let reviews = match source {
            ImdbSource::Archive(p) => read_archive(p)?,
            ImdbSource::Directory(p) => read_directory(p)?,
        };
        let root = match source {
            ImdbSource::Archive(p) | ImdbSource::Directory(p) => p,
        };
        let mut train = Vec::new();
        let mut test = Vec::new();
        for r in reviews {
            match r.split {
                Split::Test => test.push(r),
                _ => train.push(r),
            }
        }
        for (split_name, split) in SPLITS {
            for (label_name, label) in LABELS {
                let v = if split == Split::Train { &train } else { &test };
                if !v.iter().any(|r| r.label == label) {
                    return Err(Error::missing(
                        root,
                        format!(
                            "missing folder {FOLDER_NAME}/{split_name}/{label_name} (no reviews found)"
                        ),
                    ));
                }
            }
        }
        train.sort_by_key(|r| (r.label, r.id));
        test.sort_by_key(|r| (r.label, r.id));
        Ok(ImdbDataset { train, test })
    }

    /// Carves a validation split from the training reviews: `fraction` of each label (rounded
    /// to the nearest review), chosen by a seeded shuffle (ChaCha8), so the result is the same
    /// for the same seed on every machine. Both parts stay sorted by (label, id); their `split`
    /// fields become [`Split::Train`] / [`Split::Validation`].
    pub fn split_validation(self, fraction: f64, seed: u64) -> Result<ImdbSplits> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::Config(format!(
                "validation fraction must be in [0, 1), got {fraction}"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut train = Vec::new();
        let mut validation = Vec::new();
        for (_, label) in LABELS {
            let mut part: Vec<Review> = self
                .train
                .iter()
                .filter(|r| r.label == label)
                .cloned()
                .collect();
            part.shuffle(&mut rng);
            let n_val = (fraction * part.len() as f64).round() as usize;
            for (i, mut r) in part.into_iter().enumerate() {
                if i < n_val {
                    r.split = Split::Validation;
                    validation.push(r);
                } else {
                    r.split = Split::Train;
                    train.push(r);
                }
            }
        }
        train.sort_by_key(|r| (r.label, r.id));
        validation.sort_by_key(|r| (r.label, r.id));
        Ok(ImdbSplits {
            train,
            validation,
            test: self.test,
        })
    }

    /// All reviews, train then test.
    pub fn iter(&self) -> impl Iterator<Item = &Review> {
        self.train.iter().chain(self.test.iter())
    }

    /// The reviews a training run uses, and its analysis finds again: the validation split of
    /// [`split_validation`](Self::split_validation)`(val_fraction, seed)`, then each part cut
    /// to its limit by [`limit_reviews`] with the seeds `seed` (train), `seed + 1` (validation)
    /// and `seed + 2` (test). The same arguments give the same reviews on every machine.
    pub fn run_splits(
        self,
        val_fraction: f64,
        seed: u64,
        limits: &SplitLimits,
    ) -> Result<ImdbSplits> {
        let s = self.split_validation(val_fraction, seed)?;
        Ok(ImdbSplits {
            train: limit_reviews(s.train, limits.train, seed),
            validation: limit_reviews(s.validation, limits.validation, seed.wrapping_add(1)),
            test: limit_reviews(s.test, limits.test, seed.wrapping_add(2)),
        })
    }
}

/// How many reviews of each split a run uses (`None`: all); the config's `train_limit`,
/// `val_limit` and `test_limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitLimits {
    /// Training reviews.
    pub train: Option<usize>,
    /// Validation reviews.
    pub validation: Option<usize>,
    /// Test reviews.
    pub test: Option<usize>,
}

/// At most `limit` of `reviews`: all of them (in order) when the limit is absent or not below
/// their number, else the first `limit` after a seeded shuffle (ChaCha8), so both labels keep
/// about their natural proportion.
pub fn limit_reviews(mut reviews: Vec<Review>, limit: Option<usize>, seed: u64) -> Vec<Review> {
    if let Some(n) = limit.filter(|&n| n < reviews.len()) {
        reviews.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        reviews.truncate(n);
    }
    reviews
}

/// If `components` ends in `{train,test}/{pos,neg}/<file>.txt`, returns split, label and file.
fn classify<'a>(components: &[&'a str]) -> Option<(Split, u8, &'a str)> {
    let n = components.len();
    if n < 3 {
        return None;
    }
    let split = SPLITS
        .iter()
        .find(|(name, _)| *name == components[n - 3])?
        .1;
    let label = LABELS
        .iter()
        .find(|(name, _)| *name == components[n - 2])?
        .1;
    let file = components[n - 1];
    file.ends_with(".txt").then_some((split, label, file))
}

/// Parses `<id>_<rating>.txt`.
fn parse_file_name(file: &str, location: &str) -> Result<(u32, u8)> {
    let stem = file.strip_suffix(".txt").unwrap_or(file);
    let bad = || {
        Error::entry(
            location,
            "file name is not `<id>_<rating>.txt` with a rating in 1..=10",
        )
    };
    let (id, rating) = stem.split_once('_').ok_or_else(bad)?;
    let id: u32 = id.parse().map_err(|_| bad())?;
    let rating: u8 = rating.parse().map_err(|_| bad())?;
    if !(1..=10).contains(&rating) {
        return Err(bad());
    }
    Ok((id, rating))
}

fn make_review(
    bytes: Vec<u8>,
    split: Split,
    label: u8,
    file: &str,
    location: &str,
) -> Result<Review> {
    let (id, rating) = parse_file_name(file, location)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::entry(location, format!("review is not valid UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(Error::entry(location, "empty review"));
    }
    Ok(Review {
        id,
        rating,
        label,
        text,
        split,
    })
}

fn read_archive(path: &Path) -> Result<Vec<Review>> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(gz);
    let archive_name = path.display().to_string();
    let read_err = |e: std::io::Error| {
        Error::entry(
            archive_name.as_str(),
            format!("cannot read archive (truncated or corrupt?): {e}"),
        )
    };
    let mut reviews = Vec::with_capacity(50_000);
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let entry_path = entry.path().map_err(read_err)?.into_owned();
        let entry_str = entry_path.to_string_lossy().into_owned();
        let components: Vec<&str> = entry_str.split('/').filter(|c| !c.is_empty()).collect();
        let Some((split, label, file)) = classify(&components) else {
            continue;
        };
        let location = format!("{archive_name}: {entry_str}");
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(|e| {
            Error::entry(
                location.as_str(),
                format!("cannot read entry (truncated archive?): {e}"),
            )
        })?;
        reviews.push(make_review(bytes, split, label, file, &location)?);
    }
    read_to_gzip_end(archive.into_inner()).map_err(read_err)?;
    Ok(reviews)
}

/// Reads what is left of the gzip stream after tar's end-of-archive marker, so that
/// `GzDecoder` reaches the trailer and checks its CRC-32 and length: one changed byte anywhere in
/// the archive is then an error, not a silently different data set.
fn read_to_gzip_end(mut rest: impl Read) -> std::io::Result<()> {
    std::io::copy(&mut rest, &mut std::io::sink()).map(|_| ())
}

/// Checks an IMDB archive's structure without keeping the texts: reads it to the end (so a
/// truncated or corrupt archive is an error) and counts the review files of the four labelled
/// folders, returned as `[train/neg, train/pos, test/neg, test/pos]`. Errors if a folder is
/// missing.
pub fn archive_folder_counts(path: &Path) -> Result<[usize; 4]> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(gz);
    let name = path.display().to_string();
    let read_err = |e: std::io::Error| {
        Error::entry(
            name.as_str(),
            format!("cannot read archive (truncated or corrupt?): {e}"),
        )
    };
    let mut counts = [0usize; 4];
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let entry_str = entry
            .path()
            .map_err(read_err)?
            .to_string_lossy()
            .into_owned();
        let components: Vec<&str> = entry_str.split('/').filter(|c| !c.is_empty()).collect();
        if let Some((split, label, _)) = classify(&components)
            && entry.header().entry_type().is_file()
        {
            let k = if split == Split::Train { 0 } else { 2 } + label as usize;
            counts[k] += 1;
        }
        // Read the entry's data so that a truncated archive is detected.
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(read_err)?;
    }
    read_to_gzip_end(archive.into_inner()).map_err(read_err)?;
    for (k, (split_name, label_name)) in [
        ("train", "neg"),
        ("train", "pos"),
        ("test", "neg"),
        ("test", "pos"),
    ]
    .into_iter()
    .enumerate()
    {
        if counts[k] == 0 {
            return Err(Error::missing(
                path,
                format!("archive has no {FOLDER_NAME}/{split_name}/{label_name}/ reviews"),
            ));
        }
    }
    Ok(counts)
}

fn read_directory(root: &Path) -> Result<Vec<Review>> {
    let mut files = Vec::new();
    for (split_name, split) in SPLITS {
        for (label_name, label) in LABELS {
            let dir = root.join(split_name).join(label_name);
            if !dir.is_dir() {
                return Err(Error::missing(
                    &dir,
                    format!("missing folder {split_name}/{label_name} of the IMDB data"),
                ));
            }
            for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "txt") && p.is_file() {
                    files.push((p, split, label));
                }
            }
        }
    }
    files
        .par_iter()
        .map(|(p, split, label)| {
            let bytes = fs::read(p).map_err(|e| Error::io(p, e))?;
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
            make_review(bytes, *split, *label, file, &p.display().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_paths() {
        assert_eq!(
            classify(&["aclImdb", "train", "pos", "1_9.txt"]),
            Some((Split::Train, 1, "1_9.txt"))
        );
        assert_eq!(
            classify(&["test", "neg", "3_2.txt"]),
            Some((Split::Test, 0, "3_2.txt"))
        );
        assert_eq!(classify(&["aclImdb", "train", "unsup", "1_0.txt"]), None);
        assert_eq!(classify(&["aclImdb", "train", "urls_pos.txt"]), None);
        assert_eq!(classify(&["aclImdb", "imdb.vocab"]), None);
    }

    /// A corpus of `n` reviews per label in each of train and test.
    fn corpus(n: u32) -> ImdbDataset {
        let reviews = |split| {
            (0..2u8)
                .flat_map(|label| {
                    (0..n).map(move |id| Review {
                        id,
                        rating: if label == 1 { 8 } else { 2 },
                        label,
                        text: format!("{split:?} {label} {id}"),
                        split,
                    })
                })
                .collect::<Vec<_>>()
        };
        ImdbDataset {
            train: reviews(Split::Train),
            test: reviews(Split::Test),
        }
    }

    fn keys(reviews: &[Review]) -> Vec<(Split, u8, u32)> {
        reviews.iter().map(|r| (r.split, r.label, r.id)).collect()
    }

    #[test]
    fn run_splits_are_deterministic_disjoint_and_limited() {
        let limits = SplitLimits {
            train: Some(30),
            validation: Some(6),
            test: Some(25),
        };
        let a = corpus(50).run_splits(0.2, 7, &limits).unwrap();
        let b = corpus(50).run_splits(0.2, 7, &limits).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            (a.train.len(), a.validation.len(), a.test.len()),
            (30, 6, 25)
        );
        // Train and validation come from aclImdb/train and share no review.
        let train: std::collections::HashSet<(u8, u32)> =
            a.train.iter().map(|r| (r.label, r.id)).collect();
        assert!(
            a.validation
                .iter()
                .all(|r| !train.contains(&(r.label, r.id)))
        );
        assert!(a.train.iter().all(|r| r.split == Split::Train));
        assert!(a.validation.iter().all(|r| r.split == Split::Validation));
        assert!(a.test.iter().all(|r| r.split == Split::Test));
        // Another seed draws other reviews.
        let c = corpus(50).run_splits(0.2, 8, &limits).unwrap();
        assert_ne!(keys(&a.train), keys(&c.train));
    }

    #[test]
    fn run_splits_cut_each_part_with_its_own_seed() {
        // The seeds train runs have always used: split_seed, + 1, + 2.
        let limits = SplitLimits {
            train: Some(10),
            validation: Some(4),
            test: Some(9),
        };
        let got = corpus(20).run_splits(0.25, 3, &limits).unwrap();
        let full = corpus(20).split_validation(0.25, 3).unwrap();
        assert_eq!(got.train, limit_reviews(full.train, Some(10), 3));
        assert_eq!(got.validation, limit_reviews(full.validation, Some(4), 4));
        assert_eq!(got.test, limit_reviews(full.test, Some(9), 5));
        // No limits: the whole split, unshuffled.
        let all = corpus(20)
            .run_splits(0.25, 3, &SplitLimits::default())
            .unwrap();
        assert_eq!(all, corpus(20).split_validation(0.25, 3).unwrap());
        assert!(corpus(2).run_splits(1.5, 3, &limits).is_err());
    }

    #[test]
    fn file_names() {
        assert_eq!(parse_file_name("12_8.txt", "x").unwrap(), (12, 8));
        assert!(parse_file_name("12_0.txt", "x").is_err());
        assert!(parse_file_name("12.txt", "x").is_err());
        let e = parse_file_name("a_3.txt", "arch: train/pos/a_3.txt").unwrap_err();
        assert!(e.to_string().contains("train/pos/a_3.txt"), "{e}");
    }
}
