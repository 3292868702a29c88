//! `--watch` end to end: the real binary as a child process with piped stdout and
//! stderr (so not a terminal: runs are appended, no escape codes), against its own
//! moto server (tests/support/emulator.rs) holding a world whose endpoint security
//! group lacks the service port. The test fixes the group through the SDK while the
//! watch runs, as an on-call engineer would, and the watch must notice and stop.
//!
//! Progress is followed through what the binary prints ("run N · every …" on stderr
//! after each finished run), never through sleeps; the only time limit is a safety net
//! against a hung child, far above any normal run.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::emulator::Emulator;
use support::world::{
    consumer_credentials, sdk_config, Spec, World, ACCESS_KEY_ID, PORT, PROVIDER_ROLE_ARN, REGION,
    SECRET_ACCESS_KEY, VPC_CIDR,
};

/// A safety net against a hung watch, never an expectation of speed.
const LIMIT: Duration = Duration::from_secs(300);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fresh emulator holding a world whose endpoint security group admits 443 only,
/// not the service port: endpoint-sg-ingress fails and is the root cause.
fn sg_missing_port_world() -> (Emulator, World) {
    let emulator = Emulator::start();
    let world = runtime().block_on(World::build(
        &emulator.url(),
        &Spec {
            endpoint_sg_ports: vec![443],
            ..Spec::default()
        },
    ));
    (emulator, world)
}

/// The fix the report asks for: admit the service port from the VPC on the endpoint's group.
fn authorize_service_port(emulator: &Emulator, world: &World) {
    let url = emulator.url();
    runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&url, consumer_credentials()).await);
        ec2.authorize_security_group_ingress()
            .group_id(&world.endpoint_sg)
            .ip_permissions(support::world::tcp_rule(PORT, VPC_CIDR))
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress on the endpoint's group");
    });
}

/// pl-doctor with only the world's dummy consumer credentials in its environment (as
/// tests/support/run.rs sets it up), DNS and the TCP probe left out as in the other
/// emulator tests, and `args` after.
fn pl_doctor(endpoint_url: &str, endpoint_id: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pl-doctor"));
    c.envs(support::run::isolated_env(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    for var in support::run::SCRUBBED_VARS {
        c.env_remove(var);
    }
    c.args([
        "--endpoint",
        endpoint_id,
        "--region",
        REGION,
        "--endpoint-url",
        endpoint_url,
        "--skip",
        "dns-resolution",
        "--skip",
        "connect-probe",
    ]);
    c.args(args);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A running watch: its output gathered as it comes.
struct Watch {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// A tick for every line read from either stream.
    lines: Receiver<()>,
    readers: Vec<JoinHandle<()>>,
}

/// What a finished watch left.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn gather(
    stream: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
    tick: mpsc::Sender<()>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            into.lock().unwrap().push_str(&line);
            line.clear();
            let _ = tick.send(());
        }
    })
}

impl Watch {
    fn start(mut command: Command) -> Watch {
        let mut child = command.spawn().expect("start pl-doctor");
        let (tick, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            gather(
                child.stdout.take().expect("piped stdout"),
                Arc::clone(&stdout),
                tick.clone(),
            ),
            gather(
                child.stderr.take().expect("piped stderr"),
                Arc::clone(&stderr),
                tick,
            ),
        ];
        Watch {
            child,
            stdout,
            stderr,
            lines,
            readers,
        }
    }

    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits until stderr shows `needle` (the watch is then between runs or past them).
    fn wait_for_stderr(&mut self, needle: &str) {
        let stream = Arc::clone(&self.stderr);
        self.wait_for(&stream, "stderr", needle);
    }

    /// stdout and stderr are read by separate threads: a line on one says nothing about
    /// how far the other has been read.
    fn wait_for_stdout(&mut self, needle: &str) {
        let stream = Arc::clone(&self.stdout);
        self.wait_for(&stream, "stdout", needle);
    }

    fn wait_for(&mut self, stream: &Mutex<String>, name: &str, needle: &str) {
        let deadline = Instant::now() + LIMIT;
        while !stream.lock().unwrap().contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "no {needle:?} on {name} within {LIMIT:?}\n{}",
                        self.output()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "pl-doctor ended ({status:?}) before {needle:?}\n{}",
                        self.output()
                    );
                }
            }
        }
    }

    /// Ctrl-C, as the terminal sends it.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT: {status}");
    }

    /// Waits for the child to end by itself.
    fn end(mut self) -> Ended {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for pl-doctor") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "pl-doctor still watching after {LIMIT:?}\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for reader in self.readers.drain(..) {
            reader.join().expect("output reader");
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        Ended {
            code: status.code(),
            stdout,
            stderr,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // A failed assertion must not leave the child watching forever.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The runs appended to stdout, each after its separator line `── run N · HH:MM:SS UTC ──`.
fn runs(stdout: &str) -> Vec<&str> {
    stdout
        .split("── run ")
        .skip(1)
        .map(|chunk| chunk.split_once('\n').map_or("", |(_, rest)| rest))
        .collect()
}

#[test]
fn watch_notices_the_fix_and_stops_by_itself_with_exit_0() {
    let (emulator, world) = sg_missing_port_world();
    let mut watch = Watch::start(pl_doctor(
        &emulator.url(),
        &world.endpoint_id,
        &["--provider-role-arn", PROVIDER_ROLE_ARN, "--watch", "1s"],
    ));
    // Run 1 finished (the countdown follows each finished run): it must have failed.
    watch.wait_for_stderr("run 1 · every 1s · next run in");
    watch.wait_for_stdout("Verdict:");
    {
        let stdout = watch.stdout.lock().unwrap();
        let first = runs(&stdout);
        assert_eq!(first.len(), 1, "{stdout}");
        assert!(
            first[0].contains("Verdict: FAIL") && first[0].contains("endpoint-sg-ingress"),
            "run 1 fails on the security group:\n{stdout}"
        );
    }
    authorize_service_port(&emulator, &world);
    let ended = watch.end();
    let all = format!("stdout:\n{}\nstderr:\n{}", ended.stdout, ended.stderr);
    assert_eq!(ended.code, Some(0), "exit 0 once no check fails\n{all}");
    assert!(
        ended.stdout.contains("endpoint-sg-ingress: fail → pass"),
        "the change is shown\n{all}"
    );
    assert!(
        ended
            .stdout
            .contains("root cause: endpoint-sg-ingress → none"),
        "{all}"
    );
    assert!(
        ended.stdout.contains("no check fails any more (run "),
        "{all}"
    );
    assert!(
        !ended.stdout.contains('\x1b'),
        "no escape codes in a pipe\n{all}"
    );
    let runs = runs(&ended.stdout);
    assert!(runs.len() >= 2, "{all}");
    assert!(
        runs.last().unwrap().contains("Verdict: PASS")
            || runs.last().unwrap().contains("Verdict: WARN")
            || runs.last().unwrap().contains("Verdict: INCONCLUSIVE"),
        "the last run has no failing check\n{all}"
    );
    // Every run before the last still failed: the watch went on exactly while it should.
    for run in &runs[..runs.len() - 1] {
        assert!(run.contains("Verdict: FAIL"), "{all}");
    }
}

#[test]
fn ctrl_c_while_failing_exits_1_with_whole_reports_only() {
    let (emulator, world) = sg_missing_port_world();
    // A long interval: Ctrl-C comes while the watch waits for run 2.
    let mut watch = Watch::start(pl_doctor(
        &emulator.url(),
        &world.endpoint_id,
        &["--provider-role-arn", PROVIDER_ROLE_ARN, "--watch", "1h"],
    ));
    watch.wait_for_stderr("run 1 · every 1h · next run in");
    watch.interrupt();
    let ended = watch.end();
    let all = format!("stdout:\n{}\nstderr:\n{}", ended.stdout, ended.stderr);
    assert_eq!(ended.code, Some(1), "the last run's exit code\n{all}");
    assert!(
        ended.stderr.contains("stopped by Ctrl-C") && ended.stderr.contains("exit code 1"),
        "{all}"
    );
    // Exactly run 1, whole: its separator, the complete table, the closing verdict line.
    let runs = runs(&ended.stdout);
    assert_eq!(runs.len(), 1, "{all}");
    assert!(ended.stdout.ends_with('\n'), "{all}");
    let last_line = ended.stdout.lines().last().unwrap_or_default();
    assert!(last_line.starts_with("Verdict: FAIL"), "{all}");
    assert!(!ended.stdout.contains('\x1b'), "{all}");
}

#[test]
fn json_watch_emits_one_valid_report_per_line_and_rewrites_the_snapshot() {
    let (emulator, world) = sg_missing_port_world();
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("watch.json");
    let mut watch = Watch::start(pl_doctor(
        &emulator.url(),
        &world.endpoint_id,
        &[
            "--provider-role-arn",
            PROVIDER_ROLE_ARN,
            "--watch",
            "1s",
            "-o",
            "json",
            "--save-snapshot",
            snapshot.to_str().expect("utf-8 path"),
        ],
    ));
    watch.wait_for_stderr("run 1 · every 1s · next run in");
    authorize_service_port(&emulator, &world);
    let ended = watch.end();
    let all = format!("stdout:\n{}\nstderr:\n{}", ended.stdout, ended.stderr);
    assert_eq!(ended.code, Some(0), "{all}");

    let schema = report_schema();
    let reports: Vec<Value> = ended
        .stdout
        .lines()
        .map(|line| {
            let report: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON document: {e}: {line}\n{all}"));
            let errors: Vec<String> = schema.iter_errors(&report).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}\n{line}");
            report
        })
        .collect();
    assert!(reports.len() >= 2, "{all}");
    let status = |r: &Value| {
        r["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == "endpoint-sg-ingress"))
            .map(|c| c["status"].clone())
    };
    assert_eq!(reports[0]["root_cause"], "endpoint-sg-ingress", "{all}");
    assert_eq!(status(&reports[0]), Some(Value::from("fail")));
    let last = reports.last().unwrap();
    assert_eq!(last["root_cause"], Value::Null, "{all}");
    assert_eq!(status(last), Some(Value::from("pass")));
    assert_eq!(last["counts"]["fail"], 0, "{all}");
    // The changes go to stderr, so stdout stays one document per line.
    assert!(
        ended.stderr.contains("endpoint-sg-ingress: fail → pass"),
        "{all}"
    );
    assert!(ended.stderr.contains("no check fails any more"), "{all}");

    // --save-snapshot is rewritten each run: the file now holds the fixed world.
    let replay = Command::new(env!("CARGO_BIN_EXE_pl-doctor"))
        .env("NO_COLOR", "1")
        .args(["--from-snapshot", snapshot.to_str().unwrap(), "-o", "json"])
        .output()
        .expect("replay the saved snapshot");
    assert_eq!(replay.status.code(), Some(0), "{all}");
    let replayed: Value = serde_json::from_slice(&replay.stdout).expect("replayed report");
    assert_eq!(status(&replayed), Some(Value::from("pass")));
}

#[test]
fn ctrl_c_during_the_first_run_abandons_it_and_exits_130() {
    // An "AWS API" that accepts connections and never answers: run 1 stays in flight
    // (the SDK's per-attempt timeout is many seconds away) when Ctrl-C comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().flatten() {
            held.push(conn);
        }
    });
    let mut watch = Watch::start(pl_doctor(
        &url,
        "vpce-0a1b2c3d4e5f6a7b8",
        &["--watch", "1s", "--timeout", "10m"],
    ));
    // Printed once the Ctrl-C handler is in place, just before run 1 starts.
    watch.wait_for_stderr("pl-doctor: watching vpce-0a1b2c3d4e5f6a7b8 every 1s");
    watch.interrupt();
    let ended = watch.end();
    let all = format!("stdout:\n{}\nstderr:\n{}", ended.stdout, ended.stderr);
    assert_eq!(ended.code, Some(130), "no run finished\n{all}");
    assert_eq!(ended.stdout, "", "nothing half-written\n{all}");
    assert!(
        ended
            .stderr
            .contains("stopped by Ctrl-C (run 1 abandoned) before any run finished"),
        "{all}"
    );
}

fn report_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"),
    )
    .expect("schema/report.schema.json");
    jsonschema::validator_for(&serde_json::from_str(&text).expect("schema is JSON"))
        .expect("schema compiles")
}
