//! Bad input gives an error naming the file and line or entry, never a panic.

use std::fs;
use std::path::Path;

use kann_data::ecg::EcgDataset;
use kann_data::imdb::{ImdbDataset, Split};
use kann_data::tokenizer::Tokenizer;

/// A small archive in the aclImdb layout: (path inside archive, contents).
fn write_tar_gz(path: &Path, files: &[(&str, &str)]) {
    let f = fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn good_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("aclImdb/README", "readme"),
        ("aclImdb/imdb.vocab", "the\nand\n"),
        ("aclImdb/train/urls_pos.txt", "http://x\n"),
        (
            "aclImdb/train/pos/0_9.txt",
            "A great film.<br /><br />Loved it.",
        ),
        ("aclImdb/train/pos/1_7.txt", "Good."),
        ("aclImdb/train/neg/0_2.txt", "Awful."),
        ("aclImdb/train/unsup/0_0.txt", "ignored"),
        ("aclImdb/test/pos/0_10.txt", "Superb!"),
        ("aclImdb/test/neg/0_1.txt", "Terrible; a mess."),
        ("aclImdb/test/neg/3_4.txt", "Meh, not good."),
    ]
}

#[test]
fn small_archive_and_folder_load() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("aclImdb_v1.tar.gz");
    write_tar_gz(&archive, &good_files());
    let d = ImdbDataset::load(tmp.path()).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (3, 3));
    assert_eq!(d.train[0].text, "Awful.");
    assert_eq!(
        (d.train[2].id, d.train[2].rating, d.train[2].label),
        (1, 7, 1)
    );
    assert_eq!(d.test[2].split, Split::Test);

    // Same data from an extracted folder.
    let root = tmp.path().join("x");
    for (name, text) in good_files() {
        let p = root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    let e = ImdbDataset::load(root.join("aclImdb")).unwrap();
    assert_eq!(d, e);
    assert_eq!(d, ImdbDataset::load(&root).unwrap());
}

#[test]
fn an_archive_whose_gzip_checksum_fails_is_refused() {
    // One byte of the gzip trailer's CRC-32 changed: the tar entries still decode, and tar stops
    // at its end-of-archive marker before the trailer; only reading the stream to its end (and
    // so checking the CRC) notices.
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("aclImdb_v1.tar.gz");
    write_tar_gz(&archive, &good_files());
    let mut bytes = fs::read(&archive).unwrap();
    let crc_at = bytes.len() - 8;
    bytes[crc_at] ^= 0x01;
    fs::write(&archive, &bytes).unwrap();
    let err = ImdbDataset::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("aclImdb_v1.tar.gz"), "{err}");
    let err = kann_data::imdb::archive_folder_counts(&archive)
        .unwrap_err()
        .to_string();
    assert!(err.contains("aclImdb_v1.tar.gz"), "{err}");
}

#[test]
fn truncated_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("aclImdb_v1.tar.gz");
    // Enough incompressible text that the gzip stream spans several blocks.
    let big: String = (0..40_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
        .collect();
    let mut files = good_files();
    files.push(("aclImdb/test/pos/9_8.txt", big.as_str()));
    files.push(("aclImdb/test/pos/10_8.txt", "after"));
    write_tar_gz(&archive, &files);
    let bytes = fs::read(&archive).unwrap();
    let cut = tmp.path().join("cut.tar.gz");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = ImdbDataset::load(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.tar.gz") && e.contains("truncated"), "{e}");
    let e = kann_data::imdb::archive_folder_counts(&cut)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.tar.gz"), "{e}");
    // Not a gzip file at all.
    let junk = tmp.path().join("junk.tar.gz");
    fs::write(&junk, b"<html>not found</html>").unwrap();
    let e = ImdbDataset::load(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.tar.gz"), "{e}");
}

#[test]
fn empty_review_and_bad_name() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar.gz");
    let mut files = good_files();
    files.push(("aclImdb/train/neg/5_3.txt", "  \n"));
    write_tar_gz(&archive, &files);
    let e = ImdbDataset::load(&archive).unwrap_err().to_string();
    assert!(
        e.contains("aclImdb/train/neg/5_3.txt") && e.contains("empty review"),
        "{e}"
    );

    let mut files = good_files();
    files.push(("aclImdb/train/neg/5_x.txt", "text"));
    write_tar_gz(&archive, &files);
    let e = ImdbDataset::load(&archive).unwrap_err().to_string();
    assert!(e.contains("aclImdb/train/neg/5_x.txt"), "{e}");
}

#[test]
fn missing_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar.gz");
    let files: Vec<_> = good_files()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("aclImdb/test/neg"))
        .collect();
    write_tar_gz(&archive, &files);
    let e = ImdbDataset::load(&archive).unwrap_err().to_string();
    assert!(
        e.contains("a.tar.gz") && e.contains("aclImdb/test/neg"),
        "{e}"
    );
    let e = kann_data::imdb::archive_folder_counts(&archive)
        .unwrap_err()
        .to_string();
    assert!(e.contains("aclImdb/test/neg"), "{e}");

    let root = tmp.path().join("aclImdb");
    for (name, text) in &files {
        let p = tmp.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    let e = ImdbDataset::load(&root).unwrap_err().to_string();
    assert!(e.contains("test/neg"), "{e}");
    let e = ImdbDataset::load(tmp.path().join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nowhere") && e.contains("no IMDB data"), "{e}");
}

fn ecg_row(label: &str, n: usize) -> String {
    let mut s = label.to_string();
    for k in 0..n {
        write!(s, "\t{:.8}", (k as f32 * 0.1).sin()).unwrap();
    }
    s
}

use std::fmt::Write as _;

fn ecg_dir(train: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("ECG5000");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("ECG5000_TRAIN.tsv"), train).unwrap();
    let test = format!("{}\n{}\n", ecg_row("1", 140), ecg_row("2", 140));
    fs::write(d.join("ECG5000_TEST.tsv"), test).unwrap();
    tmp
}

#[test]
fn ecg_bad_rows() {
    let good = ecg_row("1", 140);
    let mut lines: Vec<String> = (0..11).map(|_| good.clone()).collect();
    let ok = ecg_dir(&(lines.join("\n") + "\n"));
    let d = EcgDataset::load(ok.path()).unwrap();
    assert_eq!(d.beats.len(), 13);
    assert_eq!(d.beats[12].label, 2);

    lines.push(ecg_row("1", 139));
    let tmp = ecg_dir(&(lines.join("\n") + "\n"));
    let e = EcgDataset::load(tmp.path()).unwrap_err().to_string();
    assert_eq!(
        e,
        "ECG5000_TRAIN.tsv line 12: expected 141 fields, found 140"
    );

    lines[11] = ecg_row("7", 140);
    let tmp = ecg_dir(&(lines.join("\n") + "\n"));
    let e = EcgDataset::load(tmp.path()).unwrap_err().to_string();
    assert!(
        e.starts_with("ECG5000_TRAIN.tsv line 12: unknown label 7"),
        "{e}"
    );

    lines[11] = good
        .replacen('\t', "\t1.5x\t", 1)
        .replacen("\t0.00000000", "", 1);
    let tmp = ecg_dir(&(lines.join("\n") + "\n"));
    let e = EcgDataset::load(tmp.path()).unwrap_err().to_string();
    assert!(
        e.starts_with("ECG5000_TRAIN.tsv line 12: field 2: not a number: \"1.5x\""),
        "{e}"
    );

    let empty = tempfile::tempdir().unwrap();
    let e = EcgDataset::load(empty.path()).unwrap_err().to_string();
    assert!(e.contains("no ECG5000 data"), "{e}");
}

#[test]
fn vocab_without_unk() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("my.vocab");
    fs::write(&p, "the\n##s\nand\n").unwrap();
    let e = Tokenizer::from_vocab_file(&p).unwrap_err().to_string();
    assert!(
        e.contains("my.vocab") && e.contains("no `<unk>` entry"),
        "{e}"
    );
    fs::write(&p, "<unk>\nthe\n\nand\n").unwrap();
    let e = Tokenizer::from_vocab_file(&p).unwrap_err().to_string();
    assert!(e.contains("my.vocab line 3: empty vocabulary entry"), "{e}");
    let e = Tokenizer::from_vocab_file(tmp.path().join("missing.vocab"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.vocab"), "{e}");
}
