//! First-use fetching against a local HTTP server (tiny_http on 127.0.0.1, supporting `Range`)
//! that serves the public hosts' layout, with the recorded public checksums (no test override
//! here: the tiny-archive runs with overridden checksums are in `train`'s `fetch` test).

use std::collections::HashMap;
use std::fs;
use std::io::Write;

use kann_data::Error;
use kann_data::download::download_all;
use kann_data::ecg::EcgDataset;
use kann_data::fetch::{self, FetchOptions, Outcome};
use kann_data::testdata::shared_data_dir;

mod support {
    pub mod server;
}
use support::server::serve_one as serve;

const IMDB_PATH: &str = "/~amaas/data/sentiment/aclImdb_v1.tar.gz";
const ECG_PATH: &str = "/aeon-toolkit/ECG5000.zip";

fn mirror(base: &str) -> FetchOptions {
    FetchOptions {
        mirror: Some(format!("{base}/")),
        quiet: true,
        ..Default::default()
    }
}

/// `ECG5000.zip` as published: the train/test files (here the shared `.tsv`s) at the top level,
/// deflate-compressed, next to other files.
fn ecg_zip(dir: &std::path::Path) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("ECG5000.txt", opts).unwrap();
    w.write_all(b"ECG5000 description").unwrap();
    for part in ["TRAIN", "TEST"] {
        let name = format!("ECG5000_{part}.tsv");
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(&fs::read(dir.join("ECG5000").join(&name)).unwrap())
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// ECG5000 has no recorded checksum: the download is checked by its contents (500 + 4,500
/// beats, the published class counts), resumed from a `.part`, and not fetched a second time.
#[test]
fn ecg_first_use_fetches_resumes_and_checks_contents() {
    let Some(shared) = shared_data_dir() else {
        return;
    };
    let zip = ecg_zip(&shared);
    let server = serve(HashMap::from([(ECG_PATH.to_string(), zip.clone())]));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).unwrap();
    // An interrupted earlier download: the first half is there.
    fs::write(data.join("ECG5000.zip.part"), &zip[..zip.len() / 2]).unwrap();

    let got = fetch::ensure_ecg(&data, &mirror(&server.base)).unwrap();
    assert_eq!(got, Outcome::Fetched);
    assert_eq!(fs::read(data.join("ECG5000.zip")).unwrap(), zip);
    assert!(!data.join("ECG5000.zip.part").exists());
    for part in ["TRAIN", "TEST"] {
        let name = format!("ECG5000/ECG5000_{part}.tsv");
        assert_eq!(
            fs::read(data.join(&name)).unwrap(),
            fs::read(shared.join(&name)).unwrap()
        );
    }
    assert_eq!(EcgDataset::load(&data).unwrap().beats.len(), 5000);
    assert_eq!(
        server.log.lock().unwrap().clone(),
        [(
            ECG_PATH.to_string(),
            Some(format!("bytes={}-", zip.len() / 2))
        )]
    );

    // Present: nothing is fetched.
    assert_eq!(
        fetch::ensure_ecg(&data, &mirror(&server.base)).unwrap(),
        Outcome::Present
    );
    // A zip already in the folder (placed by hand) is only extracted.
    fs::remove_dir_all(data.join("ECG5000")).unwrap();
    assert_eq!(
        fetch::ensure_ecg(&data, &mirror(&server.base)).unwrap(),
        Outcome::Extracted
    );
    assert_eq!(server.log.lock().unwrap().len(), 1);
}

/// A zip of the right layout but other contents (one beat dropped) is refused and not kept.
#[test]
fn ecg_with_other_contents_is_refused() {
    let Some(shared) = shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("ECG5000")).unwrap();
    let train = fs::read_to_string(shared.join("ECG5000/ECG5000_TRAIN.tsv")).unwrap();
    let short: String = train.lines().skip(1).map(|l| format!("{l}\n")).collect();
    fs::write(src.join("ECG5000/ECG5000_TRAIN.tsv"), short).unwrap();
    fs::copy(
        shared.join("ECG5000/ECG5000_TEST.tsv"),
        src.join("ECG5000/ECG5000_TEST.tsv"),
    )
    .unwrap();
    let server = serve(HashMap::from([(ECG_PATH.to_string(), ecg_zip(&src))]));
    let data = tmp.path().join("data");
    let e = fetch::ensure_ecg(&data, &mirror(&server.base))
        .unwrap_err()
        .to_string();
    assert!(e.contains("499 training and 4500 test beats"), "{e}");
    assert!(e.contains(ECG_PATH), "{e}");
    assert!(!data.join("ECG5000.zip").exists());
    assert!(!data.join("ECG5000.zip.part").exists());
    assert!(!data.join("ECG5000").exists());
}

/// Against the recorded public size and SHA-256: a server that sends something else is refused
/// (a short file kept as a resumable `.part`, a wrong one deleted), nothing lands under the final
/// name, and the error says what to do.
#[test]
fn imdb_download_is_checked_against_the_public_checksum() {
    let wrong = b"<html>moved</html>".to_vec();
    let server = serve(HashMap::from([(IMDB_PATH.to_string(), wrong.clone())]));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let e = fetch::ensure_imdb(&data, &mirror(&server.base)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Unavailable { .. }), "{msg}");
    assert!(
        msg.contains(&format!("{}{IMDB_PATH}", server.base)),
        "{msg}"
    );
    assert!(msg.contains("84125825"), "{msg}");
    assert!(msg.contains("curl -fLo"), "{msg}");
    assert!(!data.join("aclImdb_v1.tar.gz").exists());
    // Short of the recorded size: kept to resume, and each try asked for the rest.
    assert_eq!(
        fs::read(data.join("aclImdb_v1.tar.gz.part")).unwrap(),
        wrong
    );
    assert!(msg.contains("is kept and the next run resumes it"), "{msg}");
    let log = server.log.lock().unwrap().clone();
    assert_eq!(log.len(), fetch::MAX_ATTEMPTS);
    assert_eq!(log[0].1, None);
    assert_eq!(log[1].1, Some(format!("bytes={}-", wrong.len())));

    // Longer than the recorded size: deleted, not resumed.
    let big = vec![7u8; 84_125_826];
    let server = serve(HashMap::from([(IMDB_PATH.to_string(), big)]));
    let data = tmp.path().join("data2");
    let msg = fetch::ensure_imdb(&data, &mirror(&server.base))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("the server sent more than the expected 84125825 bytes"),
        "{msg}"
    );
    assert!(!data.join("aclImdb_v1.tar.gz").exists());
    assert!(!data.join("aclImdb_v1.tar.gz.part").exists());
}

#[test]
fn offline_and_unreachable_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let offline = FetchOptions {
        offline: true,
        ..Default::default()
    };
    let msg = fetch::ensure_imdb(&data, &offline).unwrap_err().to_string();
    assert!(msg.contains("fetching is turned off"), "{msg}");
    assert!(
        msg.contains("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"),
        "{msg}"
    );
    assert!(
        msg.contains("put aclImdb_v1.tar.gz (84125825 bytes, SHA-256 c40f74a1"),
        "{msg}"
    );
    assert!(!data.exists(), "offline must write nothing");

    // A host that refuses connections: the URL tried and the fix; nothing written.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let msg = fetch::ensure_ecg(&data, &mirror(&format!("http://127.0.0.1:{port}")))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(&format!("http://127.0.0.1:{port}{ECG_PATH}")),
        "{msg}"
    );
    assert!(msg.contains("put ECG5000.zip in"), "{msg}");
    assert!(!data.exists(), "nothing written");
}

#[test]
fn download_all_fetches_only_what_is_missing() {
    let Some(shared) = shared_data_dir() else {
        return;
    };
    let zip = ecg_zip(&shared);
    let server = serve(HashMap::from([(ECG_PATH.to_string(), zip)]));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).unwrap();
    // IMDB already there (the project's repacked copy is used in place, never re-verified).
    std::os::unix::fs::symlink(
        shared.join("aclImdb_v1.tar.gz"),
        data.join("aclImdb_v1.tar.gz"),
    )
    .unwrap();
    let report = download_all(&data, &mirror(&server.base)).unwrap();
    assert_eq!(report.imdb, Outcome::Present);
    assert_eq!(report.ecg, Outcome::Fetched);
    let paths: Vec<String> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(paths, [ECG_PATH]);
}
