//! Downloads from a local HTTP server (tiny_http on 127.0.0.1, supporting `Range`).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kann_data::download::{Sources, download_all};
use kann_data::ecg::EcgDataset;
use kann_data::testdata::shared_data_dir;

/// A request seen by the server: (path, Range header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct TestServer {
    base: String,
    log: Log,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Serves `routes` (path -> bytes) with `Range: bytes=N-` support, for at most 120 s.
fn serve(routes: HashMap<String, Vec<u8>>) -> TestServer {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let log: Log = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (log2, stop2) = (log.clone(), stop.clone());
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
            let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(50)) else {
                continue;
            };
            let path = req.url().to_string();
            let range = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Range"))
                .map(|h| h.value.as_str().to_string());
            log2.lock().unwrap().push((path.clone(), range.clone()));
            let Some(body) = routes.get(&path) else {
                let _ = req.respond(tiny_http::Response::empty(404));
                continue;
            };
            let total = body.len();
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|s| s.parse::<usize>().ok());
            let resp = match start {
                Some(s) if s >= total => tiny_http::Response::from_data(Vec::new())
                    .with_status_code(416)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Range", format!("bytes */{total}"))
                            .unwrap(),
                    ),
                Some(s) => tiny_http::Response::from_data(body[s..].to_vec())
                    .with_status_code(206)
                    .with_header(
                        tiny_http::Header::from_bytes(
                            "Content-Range",
                            format!("bytes {s}-{}/{total}", total - 1),
                        )
                        .unwrap(),
                    ),
                None => tiny_http::Response::from_data(body.clone()),
            };
            let _ = req.respond(resp);
        }
    });
    TestServer {
        base: format!("http://127.0.0.1:{port}"),
        log,
        stop,
        handle: Some(handle),
    }
}

fn sources(base: &str) -> Sources {
    Sources {
        imdb_base: format!("{base}/imdb"),
        ecg_base: format!("{base}/ucr/"),
        show_progress: false,
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

#[test]
fn download_resume_and_extract_real_archives() {
    let Some(shared) = shared_data_dir() else {
        return;
    };
    let imdb = fs::read(shared.join("aclImdb_v1.tar.gz")).unwrap();
    let zip = ecg_zip(&shared);
    let server = serve(HashMap::from([
        ("/imdb/aclImdb_v1.tar.gz".to_string(), imdb.clone()),
        ("/ucr/ECG5000.zip".to_string(), zip.clone()),
    ]));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).unwrap();
    // An interrupted earlier download: the first 10 MB are already there.
    fs::write(data.join("aclImdb_v1.tar.gz.part"), &imdb[..10_000_000]).unwrap();
    // ... and the whole zip, as a .part that was never renamed (server answers 416).
    fs::write(data.join("ECG5000.zip.part"), &zip).unwrap();

    let report = download_all(&data, &sources(&server.base)).unwrap();
    assert!(report.imdb_downloaded && report.ecg_downloaded);
    assert_eq!(report.imdb, data.join("aclImdb_v1.tar.gz"));
    assert!(
        fs::read(&report.imdb).unwrap() == imdb,
        "resumed archive differs"
    );
    assert!(!data.join("aclImdb_v1.tar.gz.part").exists());
    assert_eq!(fs::read(data.join("ECG5000.zip")).unwrap(), zip);
    for part in ["TRAIN", "TEST"] {
        let name = format!("ECG5000/ECG5000_{part}.tsv");
        assert_eq!(
            fs::read(data.join(&name)).unwrap(),
            fs::read(shared.join(&name)).unwrap()
        );
    }
    assert_eq!(EcgDataset::load(&data).unwrap().beats.len(), 5000);
    let log = server.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            (
                "/imdb/aclImdb_v1.tar.gz".to_string(),
                Some("bytes=10000000-".to_string())
            ),
            (
                "/ucr/ECG5000.zip".to_string(),
                Some(format!("bytes={}-", zip.len()))
            ),
        ]
    );

    // Everything present: nothing is fetched.
    let again = download_all(&data, &sources(&server.base)).unwrap();
    assert!(!again.imdb_downloaded && !again.ecg_downloaded);
    assert_eq!(server.log.lock().unwrap().len(), 2);

    // A fresh download (no .part) of the zip alone.
    fs::remove_dir_all(data.join("ECG5000")).unwrap();
    fs::remove_file(data.join("ECG5000.zip")).unwrap();
    let third = download_all(&data, &sources(&server.base)).unwrap();
    assert!(!third.imdb_downloaded && third.ecg_downloaded);
    assert_eq!(
        server.log.lock().unwrap()[2],
        ("/ucr/ECG5000.zip".to_string(), None)
    );
}

#[test]
fn download_errors_never_leave_fake_data() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("README.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"nothing").unwrap();
    let wrong_zip = w.finish().unwrap().into_inner();
    let server = serve(HashMap::from([
        (
            "/imdb/aclImdb_v1.tar.gz".to_string(),
            b"<html>moved</html>".to_vec(),
        ),
        ("/ucr/ECG5000.zip".to_string(), wrong_zip),
    ]));
    let tmp = tempfile::tempdir().unwrap();
    let src = sources(&server.base);

    let e = download_all(tmp.path(), &src).unwrap_err().to_string();
    assert!(
        e.contains("/imdb/aclImdb_v1.tar.gz") && e.contains("not the IMDB archive"),
        "{e}"
    );
    assert!(!tmp.path().join("aclImdb_v1.tar.gz").exists());
    assert!(!tmp.path().join("aclImdb_v1.tar.gz.part").exists());

    let e = kann_data::download::download_ecg(tmp.path(), &src.ecg_url(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ECG5000.zip") && e.contains("ECG5000_TRAIN"),
        "{e}"
    );
    assert!(!tmp.path().join("ECG5000").exists());
    assert!(!tmp.path().join("ECG5000.zip").exists());

    let e = kann_data::download::download_imdb(
        tmp.path(),
        &format!("{}/missing.tar.gz", server.base),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing.tar.gz") && e.contains("404"), "{e}");
}
