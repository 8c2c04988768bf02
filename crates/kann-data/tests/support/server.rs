//! A local HTTP server for the fetch tests (tiny_http on 127.0.0.1) that serves the public
//! hosts' layout with `Range: bytes=N-` support. Shared by `kann-data`'s `download` test and
//! `train`'s `fetch` test (included with `#[path]`), so both exercise the same server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request seen by the server: (path, Range header).
pub type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Every request seen, in order.
    pub log: Log,
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

/// Serves `routes`: path -> the bodies of its successive requests (the last one repeats), with
/// `Range: bytes=N-` support, for at most 120 s.
pub fn serve(routes: HashMap<String, Vec<Vec<u8>>>) -> TestServer {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let log: Log = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (log2, stop2) = (log.clone(), stop.clone());
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut served: HashMap<String, usize> = HashMap::new();
        while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
            let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(20)) else {
                continue;
            };
            let path = req.url().to_string();
            let range = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Range"))
                .map(|h| h.value.as_str().to_string());
            log2.lock().unwrap().push((path.clone(), range.clone()));
            let Some(bodies) = routes.get(&path) else {
                let _ = req.respond(tiny_http::Response::empty(404));
                continue;
            };
            let n = served.entry(path.clone()).or_default();
            let body = &bodies[(*n).min(bodies.len() - 1)];
            *n += 1;
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

/// Serves `routes` (path -> bytes, the same body for every request); see [`serve`].
#[allow(dead_code)] // train's fetch test serves successive bodies only
pub fn serve_one(routes: HashMap<String, Vec<u8>>) -> TestServer {
    serve(routes.into_iter().map(|(k, v)| (k, vec![v])).collect())
}
