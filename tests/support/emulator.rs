//! The AWS API emulator for end-to-end tests: moto's server (pinned in
//! scripts/emulator.sh), one per test on its own free loopback port, so tests never
//! see each other's resources and run in parallel.
//!
//! The server is started through tests/emulator/moto_launcher.py, which binds
//! 127.0.0.1 on a port the kernel picks (no race for a "free" port), prints it, adds
//! the few AWS behaviours moto lacks (see its docstring), and exits when its stdin
//! closes: the server never outlives the test process, even one that is killed.
//! Dropping [`Emulator`] kills it and reaps it.
//!
//! If the emulator cannot be provisioned or started, the test panics with what failed
//! and how to provision it by hand. It never skips.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

/// How long a cold start may take on a busy 2-core machine (importing moto is most of it).
const START_TIMEOUT: Duration = Duration::from_secs(90);

const PROVISION_HINT: &str =
    "provision it with `bash scripts/emulator.sh` (needs python3 with venv and pip, and PyPI)";

pub struct Emulator {
    child: Child,
    /// Held open: the launcher exits when it closes.
    _stdin: ChildStdin,
    port: u16,
    log: PathBuf,
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target dir this test was built into (…/target/debug/pl-doctor → …/target).
fn target_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_pl-doctor"));
    bin.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Runs scripts/emulator.sh once per test process (a no-op when already installed)
/// and returns the venv's python.
fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/emulator.sh"))
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", target_dir())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("AWS emulator: cannot run bash scripts/emulator.sh: {e}; {PROVISION_HINT}")
            });
        if !out.status.success() {
            panic!(
                "AWS emulator: scripts/emulator.sh failed ({}):\n{}\n{PROVISION_HINT}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let venv = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let venv = if Path::new(&venv).is_absolute() {
            PathBuf::from(venv)
        } else {
            repo_root().join(venv)
        };
        let python = venv.join("bin/python");
        assert!(
            python.exists(),
            "AWS emulator: {} missing after scripts/emulator.sh; {PROVISION_HINT}",
            python.display()
        );
        python
    })
}

impl Emulator {
    /// Starts a fresh, empty emulator. Panics (never skips) when it cannot.
    pub fn start() -> Emulator {
        let python = venv_python();
        let launcher = repo_root().join("tests/emulator/moto_launcher.py");
        let log = tempfile::Builder::new()
            .prefix("pl-doctor-moto-")
            .suffix(".log")
            .tempfile()
            .expect("temp file for the emulator log")
            .into_temp_path()
            .keep()
            .expect("keep the emulator log");
        let log_file = std::fs::File::create(&log).expect("emulator log file");
        let mut child = Command::new(python)
            .arg(&launcher)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            // The server's own account and region defaults; clients always name theirs.
            .env_remove("MOTO_ACCOUNT_ID")
            .env("PYTHONUNBUFFERED", "1")
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "AWS emulator: cannot start {} {}: {e}; {PROVISION_HINT}",
                    python.display(),
                    launcher.display()
                )
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            // Keep draining so the server never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let mut emulator = Emulator {
            child,
            _stdin: stdin,
            port: 0,
            log,
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => match line.trim().strip_prefix("PORT ").map(str::parse::<u16>) {
                Some(Ok(port)) => emulator.port = port,
                _ => panic!(
                    "AWS emulator: the launcher did not report its port (said {line:?}); log:\n{}\n{PROVISION_HINT}",
                    emulator.log_tail()
                ),
            },
            Err(_) => panic!(
                "AWS emulator: not listening after {START_TIMEOUT:?}; log:\n{}\n{PROVISION_HINT}",
                emulator.log_tail()
            ),
        }
        emulator
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL to give `--endpoint-url` and the SDK.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sets moto's INITIAL_NO_AUTH_ACTION_COUNT (`POST /moto-api/reset-auth`): `"0"`
    /// enforces IAM on every request from now on (each call authorized against the
    /// caller's identity policies), `"inf"` turns enforcement off (moto parses the body
    /// with Python's `float`).
    pub fn set_iam_enforcement(&self, count: &str) {
        use std::io::Write;
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("emulator socket");
        write!(
            stream,
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{count}",
            count.len()
        )
        .expect("send reset-auth");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read reset-auth");
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "reset-auth {count}: {answer}"
        );
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
