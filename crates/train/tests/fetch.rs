//! First use fetches: the `train` binary against a local server (tiny_http) that serves the
//! public hosts' layout (`--mirror`), with tiny archives built here whose sizes and SHA-256 reach
//! the binary through kann-data's test-only override (`KANN_TEST_CHECKSUMS`, compiled in only
//! with the `test-override` feature that these tests turn on).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IMDB_PATH: &str = "/~amaas/data/sentiment/aclImdb_v1.tar.gz";
const ECG_PATH: &str = "/aeon-toolkit/ECG5000.zip";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[path = "../../kann-data/tests/support/server.rs"]
mod server;
use server::serve;

/// A tiny `aclImdb_v1.tar.gz` of the public layout: 40 reviews in each labelled folder, plus the
/// files the public archive has beside them.
fn tiny_imdb() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, text: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, text.as_bytes()).unwrap();
    };
    add(
        "aclImdb/README",
        "Large Movie Review Dataset v1.0 (tiny test copy)\n",
    );
    add("aclImdb/imdb.vocab", "the\nfilm\n");
    for split in ["train", "test"] {
        for (label, rating, words) in [
            (
                "pos",
                9,
                "a wonderful film, great acting and a moving story; I loved it",
            ),
            (
                "neg",
                2,
                "a terrible film, boring acting and a dull story; I hated it",
            ),
        ] {
            for id in 0..40 {
                add(
                    &format!("aclImdb/{split}/{label}/{id}_{rating}.txt"),
                    &format!("Review {id}: {words}. {}", "Really. ".repeat(id % 5)),
                );
            }
        }
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A tiny `ECG5000.zip` of the public layout (`ECG5000_{TRAIN,TEST}.txt` among other files):
/// 32 normal and 8 anomalous beats of 140 samples.
fn tiny_ecg() -> Vec<u8> {
    let beat = |i: usize, label: u8| {
        let mut line = format!("{label}");
        for t in 0..140 {
            let v = ((t as f32) * 0.1 + i as f32 * 0.01).sin() * if label == 1 { 1.0 } else { 2.5 };
            let _ = write!(line, "  {v:.7e}");
        }
        line + "\n"
    };
    let labels = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| beat(i, if i % 4 == 3 { 1 + (i % 5) as u8 } else { 1 }))
            .collect()
    };
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in [
        ("ECG5000.txt", "ECG5000 description".to_string()),
        ("ECG5000_TRAIN.txt", labels(0..10)),
        ("ECG5000_TEST.txt", labels(10..40)),
    ] {
        w.start_file(name, opts).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Writes the archives' test checksums file (`FILE_NAME SIZE SHA256` lines).
fn checksums(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let mut text = String::new();
    for (name, bytes) in files {
        let p = dir.join(name);
        fs::write(&p, bytes).unwrap();
        let sha = kann_data::fetch::sha256_file(&p).unwrap();
        let _ = writeln!(text, "{name} {} {sha}", bytes.len());
        fs::remove_file(&p).unwrap();
    }
    let p = dir.join("checksums.txt");
    fs::write(&p, text).unwrap();
    p
}

fn train(checksums: Option<&Path>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    c.current_dir(workspace())
        .env("RAYON_NUM_THREADS", "1")
        .env_remove("KANN_DATA_DIR")
        .env_remove("KANN_OFFLINE")
        .env_remove("KANN_MIRROR")
        .env_remove("KANN_TEST_CHECKSUMS");
    if let Some(p) = checksums {
        c.env("KANN_TEST_CHECKSUMS", p);
    }
    c
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// From an empty data folder `train imdb` (smoke config) fetches the archive, resuming a
/// transfer that stopped short, verifies it, and trains with the shipped vocabulary (the data
/// folder has none); a second run fetches nothing.
#[test]
fn imdb_first_use_fetches_resumes_verifies_and_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let imdb = tiny_imdb();
    let sums = checksums(tmp.path(), &[("aclImdb_v1.tar.gz", &imdb)]);
    let half = imdb.len() / 2;
    // The first answer is a complete HTTP response of a short file (a server that cut it).
    let server = serve(HashMap::from([(
        IMDB_PATH.to_string(),
        vec![imdb[..half].to_vec(), imdb.clone()],
    )]));
    let data = tmp.path().join("data");
    let run = |out: &str| {
        train(Some(&sums))
            .args(["imdb", "--config", "configs/imdb-smoke.toml", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(tmp.path().join(out))
            .args(["--mirror", &server.base])
            .output()
            .unwrap()
    };
    let out = run("run1");
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("fetching aclImdb_v1.tar.gz ("), "{log}");
    assert!(
        log.contains(&format!(", {} bytes) from", imdb.len())),
        "{log}"
    );
    assert!(
        log.contains(&format!("{}{IMDB_PATH}", server.base)),
        "{log}"
    );
    assert!(log.contains(&format!("resuming at byte {half}")), "{log}");
    assert!(log.contains("verified"), "{log}");
    assert_eq!(fs::read(data.join("aclImdb_v1.tar.gz")).unwrap(), imdb);
    assert_eq!(files_in(&data), ["aclImdb_v1.tar.gz"]);
    assert_eq!(
        server.log.lock().unwrap().clone(),
        [
            (IMDB_PATH.to_string(), None),
            (IMDB_PATH.to_string(), Some(format!("bytes={half}-"))),
        ]
    );
    // Trained, with the vocabulary that ships in data/ (none in the data folder).
    assert!(tmp.path().join("run1/summary.json").is_file(), "{log}");
    assert_eq!(
        fs::read(tmp.path().join("run1/vocab.txt")).unwrap(),
        fs::read(workspace().join("data/imdb_wordpiece.vocab")).unwrap()
    );

    // Second run: the archive is there, nothing is fetched.
    let out = run("run2");
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("fetching"), "{log}");
    assert_eq!(server.log.lock().unwrap().len(), 2);
}

/// An altered download (right size, wrong bytes) is refused, deleted, and fetched again from
/// the start; `train ecg` then trains on it.
#[test]
fn ecg_altered_download_is_refused_and_fetched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tiny_ecg();
    let sums = checksums(tmp.path(), &[("ECG5000.zip", &zip)]);
    let mut altered = zip.clone();
    let k = altered.len() / 3;
    altered[k] ^= 0x55;
    let server = serve(HashMap::from([(
        ECG_PATH.to_string(),
        vec![altered, zip.clone()],
    )]));
    let data = tmp.path().join("data");
    let out = train(Some(&sums))
        .args(["ecg", "--config", "configs/ecg-smoke.toml", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(tmp.path().join("run"))
        .args(["--mirror", &server.base])
        .output()
        .unwrap();
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("refused: SHA-256"), "{log}");
    assert!(log.contains("fetching it again from the start"), "{log}");
    assert_eq!(
        server.log.lock().unwrap().clone(),
        [(ECG_PATH.to_string(), None), (ECG_PATH.to_string(), None)]
    );
    assert_eq!(fs::read(data.join("ECG5000.zip")).unwrap(), zip);
    assert_eq!(files_in(&data), ["ECG5000", "ECG5000.zip"]);
    assert!(tmp.path().join("run/summary.json").is_file(), "{log}");
}

/// No network (a host that refuses connections), or fetching turned off by flag or variable:
/// the error names what is missing, the URL and the fix; no run folder, no data file is left.
#[test]
fn without_network_or_offline_the_error_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    // (flags, environment variable, URL named, reason named)
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, String, &'a str);
    let cases: [Case; 3] = [
        (
            &["--mirror", &dead],
            None,
            format!("{dead}{IMDB_PATH}"),
            "aclImdb_v1.tar.gz",
        ),
        (
            &["--offline"],
            None,
            format!("https://ai.stanford.edu{IMDB_PATH}"),
            "turned off",
        ),
        (
            &[],
            Some(("KANN_OFFLINE", "1")),
            format!("https://ai.stanford.edu{IMDB_PATH}"),
            "turned off",
        ),
    ];
    for (flags, env, url, why) in cases {
        let mut cmd = train(None);
        cmd.args(["imdb", "--config", "configs/imdb-smoke.toml", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(tmp.path().join("run"))
            .args(flags);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("IMDB"), "{err}");
        assert!(err.contains(&format!("URL: {url}")), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(
            err.contains(&format!(
                "curl -fLo {} {url}",
                data.join("aclImdb_v1.tar.gz").display()
            )),
            "{err}"
        );
        assert!(!tmp.path().join("run").exists(), "{err}");
        assert!(!data.exists(), "{:?}", files_in(&data));
    }
}
