//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, which
//! scripts/test.sh installs) loads fixture reports from a loopback HTTP server that also
//! serves as the browser's only proxy, so every request the page makes, to anywhere,
//! reaches the recorder. The test asserts that only the page itself was requested, that
//! the console stayed silent, and that a screenshot was taken. Two control pages prove
//! that the recorder and the console watch do catch a request and an error.
//!
//! Fails loudly when chromium is missing: it never skips.

use assert_cmd::Command;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Hosts Chromium itself contacts through the proxy at start-up (sign-in, Google
/// services, and the component updater, which newer builds call over plain HTTP, e.g.
/// `POST http://update.googleapis.com/service/update2/json`, despite
/// --disable-component-update), with no Referer and no page behind them. Only requests
/// to exactly these hosts (a CONNECT tunnel or an absolute http:// URL) are not counted;
/// any request that carries a Referer or Sec-Fetch-Site (the page made it), and any
/// other host, is.
const BROWSER_OWN: &[&str] = &[
    "accounts.google.com",
    "www.google.com",
    "clients2.google.com",
    "android.clients.google.com",
    "optimizationguide-pa.googleapis.com",
    "update.googleapis.com",
];

/// The host a proxied request goes to: `CONNECT host:port` or `METHOD http://host[:port]/…`.
fn proxied_host(request_line: &str) -> Option<&str> {
    let target = request_line.split(' ').nth(1)?;
    let authority = match request_line.strip_prefix("CONNECT ") {
        Some(_) => target,
        None => target.strip_prefix("http://")?.split('/').next()?,
    };
    Some(authority.rsplit_once(':').map_or(authority, |(h, _)| h))
}

#[derive(Debug, Clone)]
struct Request {
    line: String,
    from_page: bool,
}

/// A loopback HTTP server and proxy: serves `pages` by path, records every request.
struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Recorder {
    fn start(pages: Vec<(String, Vec<u8>)>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let pages = Arc::new(pages);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                let pages = Arc::clone(&pages);
                std::thread::spawn(move || serve(stream, &pages, &log));
            }
        });
        Recorder { port, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, pages: &[(String, Vec<u8>)], log: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let line = line.trim_end().to_owned();
    let mut from_page = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("referer:")
            || lower.starts_with("sec-fetch-site:") && !lower.contains("none")
        {
            from_page = true;
        }
    }
    let connect_host = line
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next());
    let from_page = from_page || proxied_host(&line).is_none_or(|h| !BROWSER_OWN.contains(&h));
    log.lock().unwrap().push(Request {
        line: line.clone(),
        from_page,
    });
    let target = line.split(' ').nth(1).unwrap_or("");
    let body = pages
        .iter()
        .find(|(p, _)| connect_host.is_none() && target.ends_with(p.as_str()))
        .map(|(_, b)| b.clone());
    let response = match body {
        Some(b) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            )
            .into_bytes();
            r.extend(b);
            r
        }
        None => {
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&response);
}

struct Visit {
    requests: Vec<Request>,
    console: Vec<String>,
    screenshot: Vec<u8>,
}

/// Load `page` (served by the recorder) in headless Chromium and take a screenshot.
fn visit(page: &str, html: Vec<u8>, shot: &Path) -> Visit {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML browser test needs Debian's chromium package (scripts/test.sh installs it: apt-get install chromium)"
    );
    let recorder = Recorder::start(vec![(format!("/{page}"), html)]);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/{page}", recorder.port);
    let mut child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-client-side-phishing-detection",
            "--disable-domain-reliability",
            "--no-pings",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,Translate,AutofillServerCommunication",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,1100",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--proxy-server=http://127.0.0.1:{}", recorder.port))
        .arg("--proxy-bypass-list=<-loopback>")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish loading {url} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = reader.join().unwrap();
    // Chromium prints console messages as `[pid:tid:time:LEVEL:CONSOLE:line] "message", source: …`.
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Visit {
        requests: recorder.requests(),
        console,
        screenshot: std::fs::read(shot).unwrap_or_default(),
    }
}

fn report_html(args: &[&str]) -> Vec<u8> {
    let out = Command::cargo_bin("pl-doctor")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        !out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"))
}

fn assert_clean(name: &str, v: &Visit) {
    let page: Vec<&Request> = v.requests.iter().filter(|r| r.from_page).collect();
    assert_eq!(
        page.len(),
        1,
        "{name}: the page made requests besides itself: {page:?}"
    );
    assert!(page[0].line.contains(".html"), "{name}: {page:?}");
    assert!(
        v.console.is_empty(),
        "{name}: console messages: {:?}",
        v.console
    );
    assert!(
        v.screenshot.starts_with(b"\x89PNG"),
        "{name}: no screenshot"
    );
    // A blank page compresses to a few kB; the rendered report does not.
    assert!(
        v.screenshot.len() > 20_000,
        "{name}: the screenshot looks blank ({} bytes)",
        v.screenshot.len()
    );
}

#[test]
fn fixture_reports_load_with_no_network_request_and_no_console_message() {
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("PL_DOCTOR_SCREENSHOTS").map(PathBuf::from);
    for name in [
        "cross-zone-off-healthy-one-az",
        "healthy",
        "provider-not-visible",
        "endpoint-sg-missing-port",
    ] {
        let path = fixture(name);
        let html = report_html(&["--from-snapshot", path.to_str().unwrap(), "-o", "html"]);
        let shot = keep
            .as_deref()
            .unwrap_or(dir.path())
            .join(format!("{name}.png"));
        let v = visit("report.html", html, &shot);
        println!(
            "{name}: {} requests through the proxy ({} by the page), screenshot {} bytes",
            v.requests.len(),
            v.requests.iter().filter(|r| r.from_page).count(),
            v.screenshot.len()
        );
        assert_clean(name, &v);
    }
}

#[test]
fn the_recorder_and_the_console_watch_catch_what_they_must() {
    let dir = tempfile::tempdir().unwrap();
    // No CSP here: these pages show the test would see a leak if the report had one.
    let leaky = b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"https://fonts.example.invalid/x.css\"><title>t</title></head><body><h1>control</h1><img src=\"http://example.invalid/x.png\"></body></html>".to_vec();
    let v = visit("leaky.html", leaky, &dir.path().join("leaky.png"));
    let page: Vec<String> = v
        .requests
        .iter()
        .filter(|r| r.from_page)
        .map(|r| r.line.clone())
        .collect();
    assert!(
        page.iter().any(|l| l.contains("example.invalid/x.png")),
        "http request not seen: {page:?}"
    );
    assert!(
        page.iter()
            .any(|l| l.starts_with("CONNECT fonts.example.invalid:443")),
        "https request not seen: {page:?}"
    );
    let noisy = b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>t</title></head><body><script>console.error('pl-doctor control error')</script></body></html>".to_vec();
    let v = visit("noisy.html", noisy, &dir.path().join("noisy.png"));
    assert!(
        v.console
            .iter()
            .any(|l| l.contains("pl-doctor control error")),
        "console error not seen: {:?}",
        v.console
    );
}

#[test]
fn a_fleet_report_loads_clean_too() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = serde_json::json!({
        "fleet_snapshot_version": 1,
        "kind": "fleet",
        "collected_by": "pl-doctor test",
        "collected_at": "2026-11-25T00:00:00Z",
        "scope": { "region": "us-east-1", "account": "222222222222" },
        "snapshots": [
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(fixture("nacl-deny")).unwrap()).unwrap(),
        ],
    });
    let path = dir.path().join("fleet.json");
    std::fs::write(&path, serde_json::to_vec(&fleet).unwrap()).unwrap();
    let html = report_html(&["--from-snapshot", path.to_str().unwrap(), "-o", "html"]);
    let v = visit("fleet.html", html, &dir.path().join("fleet.png"));
    assert_clean("fleet", &v);
}

#[test]
fn the_recorder_tells_the_browser_s_own_hosts_from_the_page_s() {
    assert_eq!(
        proxied_host("CONNECT update.googleapis.com:443 HTTP/1.1"),
        Some("update.googleapis.com")
    );
    assert_eq!(
        proxied_host("POST http://update.googleapis.com/service/update2/json?x=1 HTTP/1.1"),
        Some("update.googleapis.com")
    );
    assert_eq!(
        proxied_host("GET http://127.0.0.1:39935/report.html HTTP/1.1"),
        Some("127.0.0.1")
    );
    assert_eq!(proxied_host("GET /report.html HTTP/1.1"), None);
}
