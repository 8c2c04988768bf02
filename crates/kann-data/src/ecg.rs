//! ECG5000 (UCR Time Series Archive 2018), paper Sec. 4.2.
//!
//! 5,000 heartbeats of 140 samples, class 1 = normal (2,919 beats), classes 2..=5 anomalous
//! (2,081 beats). Reads `ECG5000_TRAIN` / `ECG5000_TEST` in any of the public formats:
//! - `.tsv` (UCR 2018): label, then 140 values, tab separated;
//! - `.txt` (UCR 2015 / the zip): whitespace separated, scientific notation, label first;
//! - `.arff` (the zip): header, then `@data` and comma separated rows. In the UCR arff files the
//!   class is the LAST attribute (`@attribute target {1,2,3,4,5}` after `att1..att140`); the
//!   loader takes the one nominal (`{...}`) attribute as the class, falling back to the last.
//!
//! The train and test files are merged (train rows first) and split as the reference did
//! (see [`EcgDataset::split`]).

use std::fs;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Samples per beat.
pub const SERIES_LEN: usize = 140;
/// Class label of a normal beat.
pub const NORMAL_CLASS: u8 = 1;
/// Name of the folder holding the files.
pub const FOLDER_NAME: &str = "ECG5000";
/// Accepted file extensions, in order of preference.
pub const EXTENSIONS: [&str; 3] = ["tsv", "txt", "arff"];

/// One heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Beat {
    /// Original UCR class label, 1..=5 (1 = normal).
    pub label: u8,
    /// The 140 samples.
    pub values: Vec<f32>,
    /// Position in the merged file order (train rows 0..500, then test rows).
    pub index: usize,
}

impl Beat {
    /// Whether the beat is normal (class 1).
    pub fn is_normal(&self) -> bool {
        self.label == NORMAL_CLASS
    }
}

/// A beat's samples, so that tensor helpers (e.g. `kann_models::beats_tensor`) take beats as
/// they are.
impl AsRef<[f32]> for Beat {
    fn as_ref(&self) -> &[f32] {
        &self.values
    }
}

/// All beats of ECG5000, train file rows then test file rows.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgDataset {
    /// The beats in file order.
    pub beats: Vec<Beat>,
    /// The two files read (train, test).
    pub files: [PathBuf; 2],
}

/// Split fractions; the defaults are the reference's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcgSplitConfig {
    /// Fraction of the normal beats held out of training (0.15).
    pub rest_fraction: f64,
    /// Fraction of the held-out normal beats that go to test, the others to validation (0.33).
    pub test_fraction_of_rest: f64,
}

impl Default for EcgSplitConfig {
    fn default() -> Self {
        EcgSplitConfig {
            rest_fraction: 0.15,
            test_fraction_of_rest: 0.33,
        }
    }
}

/// The reference's split of ECG5000 (2,481 / 293 / 145 normal beats, 2,081 anomalous).
#[derive(Debug, Clone, PartialEq)]
pub struct EcgSplits {
    /// Normal beats used for training the autoencoder.
    pub train: Vec<Beat>,
    /// Normal beats for validation (early stopping, LR schedule).
    pub validation: Vec<Beat>,
    /// Normal test beats.
    pub test_normal: Vec<Beat>,
    /// All anomalous beats (classes 2..=5); all are test data.
    pub test_anomalous: Vec<Beat>,
}

impl EcgSplits {
    /// Loads ECG5000 from `path` and splits it with the default fractions and `seed`.
    pub fn load(path: impl AsRef<Path>, seed: u64) -> Result<Self> {
        EcgDataset::load(path)?.split(seed)
    }
}

/// Finds `ECG5000_{TRAIN,TEST}.{tsv,txt,arff}` in `path` or `path/ECG5000/`.
pub fn locate(path: &Path) -> Result<[PathBuf; 2]> {
    for dir in [path.to_path_buf(), path.join(FOLDER_NAME)] {
        if let (Some(train), Some(test)) = (find_file(&dir, "TRAIN"), find_file(&dir, "TEST")) {
            return Ok([train, test]);
        }
    }
    Err(Error::missing(
        path,
        "no ECG5000 data: expected ECG5000_TRAIN and ECG5000_TEST (.tsv, .txt or .arff) here \
         or in ECG5000/ (run `train download`)",
    ))
}

fn find_file(dir: &Path, part: &str) -> Option<PathBuf> {
    EXTENSIONS
        .iter()
        .map(|ext| dir.join(format!("{FOLDER_NAME}_{part}.{ext}")))
        .find(|p| p.is_file())
}

impl EcgDataset {
    /// Loads and merges the train and test files found by [`locate`] (`path` may be the
    /// `ECG5000/` folder or the data folder holding it).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let files = locate(path.as_ref())?;
        let mut beats = read_file(&files[0])?;
        let mut test = read_file(&files[1])?;
        beats.append(&mut test);
        for (i, b) in beats.iter_mut().enumerate() {
            b.index = i;
        }
        Ok(EcgDataset { beats, files })
    }

    /// Splits with the reference's fractions ([`EcgSplitConfig::default`]).
    pub fn split(&self, seed: u64) -> Result<EcgSplits> {
        self.split_with(seed, &EcgSplitConfig::default())
    }

    /// Shuffles all beats with `seed` (ChaCha8), then splits the normal beats like scikit-learn's
    /// `train_test_split` did in the reference: the held-out part has `ceil(rest_fraction * n)`
    /// beats and training keeps the remaining ones; the held-out part is split again with
    /// `ceil(test_fraction_of_rest * n_rest)` test beats and the remaining ones for validation.
    ///
    /// With 2,919 normal beats: n_rest = ceil(0.15 * 2919) = ceil(437.85) = 438, train =
    /// 2919 - 438 = 2481; n_test = ceil(0.33 * 438) = ceil(144.54) = 145, validation = 438 - 145
    /// = 293. The 2,081 anomalous beats all go to `test_anomalous` (in shuffled order).
    pub fn split_with(&self, seed: u64, config: &EcgSplitConfig) -> Result<EcgSplits> {
        for (name, f) in [
            ("rest_fraction", config.rest_fraction),
            ("test_fraction_of_rest", config.test_fraction_of_rest),
        ] {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::Config(format!("{name} must be in (0, 1), got {f}")));
            }
        }
        let mut order: Vec<usize> = (0..self.beats.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (normal, anomalous): (Vec<usize>, Vec<usize>) =
            order.into_iter().partition(|&i| self.beats[i].is_normal());
        let n = normal.len();
        let n_rest = ((config.rest_fraction * n as f64).ceil() as usize).min(n);
        let n_train = n - n_rest;
        let n_test = ((config.test_fraction_of_rest * n_rest as f64).ceil() as usize).min(n_rest);
        let n_val = n_rest - n_test;
        let take = |idx: &[usize]| idx.iter().map(|&i| self.beats[i].clone()).collect();
        Ok(EcgSplits {
            train: take(&normal[..n_train]),
            validation: take(&normal[n_train..n_train + n_val]),
            test_normal: take(&normal[n_train + n_val..]),
            test_anomalous: take(&anomalous),
        })
    }
}

/// Reads one ECG5000 file (format chosen by extension: `.arff` or whitespace separated text).
pub fn read_file(path: &Path) -> Result<Vec<Beat>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("arff"))
    {
        parse_arff(&text, &name)
    } else {
        parse_text(&text, &name)
    }
}

/// Parses the UCR text formats (`.tsv`, `.txt`): per line the label then 140 values, separated
/// by tabs or spaces. Blank lines are skipped. `name` is used in error messages.
pub fn parse_text(text: &str, name: &str) -> Result<Vec<Beat>> {
    let mut beats = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        beats.push(parse_row(&fields, 0, name, i + 1, beats.len())?);
    }
    if beats.is_empty() {
        return Err(Error::entry(name, "no beats in file"));
    }
    Ok(beats)
}

/// Parses the UCR `.arff` format: header lines (`@relation`, `@attribute`, `%` comments), then
/// `@data` and one comma separated row per beat. The class is the nominal attribute (the last
/// one in the UCR files).
pub fn parse_arff(text: &str, name: &str) -> Result<Vec<Beat>> {
    let mut attributes: Vec<bool> = Vec::new(); // is nominal
    let mut in_data = false;
    let mut label_pos = 0;
    let mut beats = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('%') {
            continue;
        }
        if !in_data {
            let lower = t.to_ascii_lowercase();
            if lower.starts_with("@attribute") {
                attributes.push(t.contains('{'));
            } else if lower.starts_with("@data") {
                if attributes.len() != SERIES_LEN + 1 {
                    return Err(Error::parse(
                        name,
                        i + 1,
                        format!(
                            "expected {} @attribute lines before @data, found {}",
                            SERIES_LEN + 1,
                            attributes.len()
                        ),
                    ));
                }
                let nominal: Vec<usize> =
                    (0..attributes.len()).filter(|&k| attributes[k]).collect();
                label_pos = if nominal.len() == 1 {
                    nominal[0]
                } else {
                    attributes.len() - 1
                };
                in_data = true;
            }
            continue;
        }
        let fields: Vec<&str> = t.split(',').map(str::trim).collect();
        beats.push(parse_row(&fields, label_pos, name, i + 1, beats.len())?);
    }
    if !in_data {
        return Err(Error::entry(name, "arff file has no @data section"));
    }
    if beats.is_empty() {
        return Err(Error::entry(name, "no beats in file"));
    }
    Ok(beats)
}

fn parse_row(
    fields: &[&str],
    label_pos: usize,
    name: &str,
    line: usize,
    index: usize,
) -> Result<Beat> {
    if fields.len() != SERIES_LEN + 1 {
        return Err(Error::parse(
            name,
            line,
            format!("expected {} fields, found {}", SERIES_LEN + 1, fields.len()),
        ));
    }
    let raw = fields[label_pos].trim_matches(|c| c == '\'' || c == '"');
    let label_f: f64 = raw
        .parse()
        .map_err(|_| Error::parse(name, line, format!("label is not a number: {raw:?}")))?;
    if label_f.fract() != 0.0 || !(1.0..=5.0).contains(&label_f) {
        return Err(Error::parse(
            name,
            line,
            format!("unknown label {raw} (ECG5000 classes are 1..=5)"),
        ));
    }
    let mut values = Vec::with_capacity(SERIES_LEN);
    for (k, f) in fields.iter().enumerate() {
        if k == label_pos {
            continue;
        }
        let v: f32 = f.parse().map_err(|_| {
            Error::parse(name, line, format!("field {}: not a number: {f:?}", k + 1))
        })?;
        if !v.is_finite() {
            return Err(Error::parse(
                name,
                line,
                format!("field {}: not a finite number: {f:?}", k + 1),
            ));
        }
        values.push(v);
    }
    Ok(Beat {
        label: label_f as u8,
        values,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn row(label: &str, n: usize, sep: &str) -> String {
        let mut s = label.to_string();
        for k in 0..n {
            s.push_str(sep);
            let _ = write!(s, "{:.7e}", k as f32 * 0.01 - 0.5);
        }
        s
    }

    #[test]
    fn text_tab_and_space() {
        let text = format!(
            "{}\n{}\n\n",
            row("1", 140, "\t"),
            row("3.0000000e+00", 140, "  ")
        );
        let b = parse_text(&text, "x.tsv").unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].label, b[1].label), (1, 3));
        assert_eq!(b[1].values.len(), 140);
        assert!((b[1].values[2] - (-0.48)).abs() < 1e-6);
    }

    #[test]
    fn text_errors_name_file_and_line() {
        let good = row("1", 140, "\t");
        let short = row("2", 139, "\t");
        let text = format!("{good}\n{short}\n");
        let e = parse_text(&text, "ECG5000_TRAIN.tsv")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "ECG5000_TRAIN.tsv line 2: expected 141 fields, found 140"
        );

        let bad_label = row("7", 140, "\t");
        let e = parse_text(&bad_label, "f.tsv").unwrap_err().to_string();
        assert!(e.starts_with("f.tsv line 1: unknown label 7"), "{e}");

        let with_field_3 = |v: &str| {
            let mut f: Vec<&str> = good.split('\t').collect();
            f[2] = v;
            f.join("\t")
        };
        let e = parse_text(&with_field_3("abc"), "f.tsv")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f.tsv line 1: field 3: not a number: \"abc\"");

        let nan = with_field_3("NaN");
        assert!(parse_text(&nan, "f.tsv").is_err());
        assert!(parse_text("\n", "f.tsv").is_err());
    }

    #[test]
    fn arff_label_last() {
        let mut text = String::from("@relation ECG5000\n% comment\n");
        for k in 1..=140 {
            let _ = writeln!(text, "@attribute att{k} numeric");
        }
        text.push_str("@attribute target {1,2,3,4,5}\n\n@data\n");
        let mut r: Vec<String> = (0..140).map(|k| format!("{}", k as f32)).collect();
        r.push("4".into());
        text.push_str(&r.join(","));
        text.push('\n');
        let b = parse_arff(&text, "ECG5000_TEST.arff").unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].label, 4);
        assert_eq!(b[0].values[139], 139.0);
        let bad = text.replace(",4\n", ",9\n");
        let e = parse_arff(&bad, "ECG5000_TEST.arff")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ECG5000_TEST.arff line 146: unknown label 9"),
            "{e}"
        );
    }
}
