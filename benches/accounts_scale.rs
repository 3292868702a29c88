//! The many-accounts benchmark of issue 11: the seed's platform at its scale, one
//! service published to `PL_BENCH_ACCOUNTS` (default 120) consumer accounts with one
//! endpoint each, every AWS call held `PL_BENCH_RTT_MS` (default 50 ms) by the fault
//! proxy in front of the AWS API emulator (moto, which serves every account through STS
//! AssumeRole and implements Organizations; tests/support/accounts_world.rs builds it).
//!
//! Measured, for `--service … --consumer-role-name` (as the provider) and `--all --org
//! --role-name … --provider-role-name …` (as the organization's management account):
//! wall time (also in round trips of the injected delay), AWS calls in total and per
//! account, AssumeRole calls, the critical path in round trips (two ways: linking each
//! call only to the calls that can have caused it, by SigV4 session, and linking it to
//! any call answered before it arrived, which the emulator's queue inflates), the calls
//! along it, peak memory (GNU time), and where the emulator's time went. Beside it, the
//! manual way: the seed's CLI runbook per consumer (measured by
//! benches/runbook_latency.rs) × the number of accounts.
//!
//! `bash scripts/bench.sh` runs it after runbook_latency; or directly:
//! `cargo bench --profile dev --bench accounts_scale`. It prints figures, asserts none
//! (it panics only when something it measures does not work).

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::accounts_world::{AccountsWorld, MEMBER_ROLE, PROVIDER_ROLE};
use support::emulator::Emulator;
use support::fault_proxy::{CallTiming, Fault, FaultProxy};
use support::world::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

const PL_DOCTOR: &str = env!("CARGO_BIN_EXE_pl-doctor");

/// The binary measured: the one cargo built for this bench, or `PL_BENCH_BIN` (e.g. a
/// release build made apart by scripts/release-figures.sh, so the dev-built harness can
/// measure a release binary without another cold release build).
fn pl_doctor() -> String {
    std::env::var("PL_BENCH_BIN").unwrap_or_else(|_| PL_DOCTOR.to_owned())
}
const GNU_TIME: &str = "/usr/bin/time";
/// The targets: at most 60 round trips for 120 accounts, under 150 MB.
const TARGET_ROUND_TRIPS: f64 = 60.0;
const TARGET_MEMORY_MB: f64 = 150.0;
/// The seed's CLI runbook for one consumer, as benches/runbook_latency.rs measured it
/// (README, Performance: median of 3, 26 commands); `PL_BENCH_CLI_RUNBOOK_MS` overrides.
const CLI_RUNBOOK_MS: u64 = 14_540;
const CLI_RUNBOOK_COMMANDS: u64 = 26;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

struct Run {
    label: &'static str,
    wall: Duration,
    logged_calls: usize,
    assume_calls: usize,
    proxy_calls: u64,
    critical_path: usize,
    /// The calls along it, consecutive repeats folded ("sts:AssumeRole ×8").
    chain: String,
    /// The critical path linking only calls that can have caused each other.
    session_path: usize,
    session_chain: String,
    peak_mb: f64,
    /// pl-doctor's own CPU time (user + system, GNU time).
    cpu: f64,
    rows: usize,
    accounts: usize,
    /// Per operation: calls and the emulator's own time answering them (the injected delay
    /// taken off), most expensive first.
    emulator_time: Vec<(String, usize, Duration)>,
    verdict: String,
    code: Option<i32>,
}

/// How a call's predecessor on a chain is chosen.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Linking {
    /// Any call answered before it arrived (the same measure as runbook_latency's
    /// `waves`): exact when the API answers side by side, an overestimate when the
    /// emulator queues calls, since an account slowed by the queue then seems to wait
    /// for other accounts' answers.
    AnyAnswer,
    /// Only calls that can have caused it: within its own session (access key); the
    /// first calls of a session after the last AssumeRole answered (its own); an
    /// AssumeRole after its own session's other calls (the organization's listing, the
    /// provider's stages before the consumer sides) or after another session's last call
    /// (an account finishing frees a slot of --concurrency), never after another
    /// AssumeRole, for which it does not wait.
    BySession,
}

/// The longest chain of calls each sent after the previous was answered: its length,
/// and its calls in order (service:operation).
fn critical_path(timings: &[CallTiming], linking: Linking) -> (usize, Vec<String>) {
    let mut order: Vec<&CallTiming> = timings.iter().collect();
    order.sort_by_key(|t| t.arrived);
    // For each call: its depth and the call before it on its deepest chain.
    let mut depth = vec![0usize; order.len()];
    let mut before: Vec<Option<usize>> = vec![None; order.len()];
    // Answered calls sorted by answer time, consumed as the arrivals pass them.
    let mut answered: Vec<(Instant, usize)> = order
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.answered.map(|a| (a, i)))
        .collect();
    answered.sort();
    let mut next = 0;
    let deeper = |best: Option<usize>, j: usize, depth: &[usize]| match best {
        Some(b) if depth[b] >= depth[j] => Some(b),
        _ => Some(j),
    };
    // The last call (by arrival) of each session: when it is answered, an account is done.
    let mut last_of_session: std::collections::HashMap<&str, usize> = Default::default();
    for (i, t) in order.iter().enumerate() {
        if let Some(key) = t.access_key.as_deref() {
            last_of_session.insert(key, i);
        }
    }
    let is_assume = |i: usize| order[i].operation == "AssumeRole";
    let mut any: Option<usize> = None;
    let mut last_assume: Option<usize> = None;
    let mut finished: Option<usize> = None;
    let mut per_session: std::collections::HashMap<&str, usize> = Default::default();
    let mut per_session_not_assume: std::collections::HashMap<&str, usize> = Default::default();
    for i in 0..order.len() {
        while next < answered.len() && answered[next].0 <= order[i].arrived {
            // Answered before call i arrived, so it arrived earlier: its depth is known.
            let j = answered[next].1;
            any = deeper(any, j, &depth);
            if is_assume(j) {
                last_assume = Some(j);
            }
            if let Some(key) = order[j].access_key.as_deref() {
                let best = deeper(per_session.get(key).copied(), j, &depth);
                per_session.insert(key, best.expect("some"));
                if !is_assume(j) {
                    let best = deeper(per_session_not_assume.get(key).copied(), j, &depth);
                    per_session_not_assume.insert(key, best.expect("some"));
                }
                if last_of_session.get(key) == Some(&j) {
                    finished = deeper(finished, j, &depth);
                }
            }
            next += 1;
        }
        let key = order[i].access_key.as_deref();
        let pred = match (linking, key) {
            (Linking::AnyAnswer, _) | (Linking::BySession, None) => any,
            (Linking::BySession, Some(key)) if is_assume(i) => {
                let own = per_session_not_assume.get(key).copied();
                match (own, finished) {
                    (Some(a), Some(b)) => Some(if depth[a] >= depth[b] { a } else { b }),
                    (a, b) => a.or(b),
                }
            }
            (Linking::BySession, Some(key)) => per_session.get(key).copied().or(last_assume),
        };
        depth[i] = pred.map_or(0, |d| depth[d]) + 1;
        before[i] = pred;
    }
    let Some(mut at) = (0..order.len()).max_by_key(|&i| depth[i]) else {
        return (0, Vec::new());
    };
    let longest = depth[at];
    let mut chain = vec![format!("{}:{}", order[at].service, order[at].operation)];
    while let Some(b) = before[at] {
        chain.push(format!("{}:{}", order[b].service, order[b].operation));
        at = b;
    }
    chain.reverse();
    (longest, chain)
}

/// Where the emulator's time goes: per operation, the calls and the time from arrival to
/// answer less the injected delay (moto's own time, queueing behind other calls included).
fn emulator_time(timings: &[CallTiming], rtt: Duration) -> Vec<(String, usize, Duration)> {
    let mut per_op: std::collections::BTreeMap<String, (usize, Duration)> = Default::default();
    for t in timings {
        let Some(answered) = t.answered else { continue };
        let spent = answered
            .saturating_duration_since(t.arrived)
            .saturating_sub(rtt);
        let e = per_op
            .entry(format!("{}:{}", t.service, t.operation))
            .or_default();
        e.0 += 1;
        e.1 += spent;
    }
    let mut v: Vec<_> = per_op.into_iter().map(|(k, (n, d))| (k, n, d)).collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.2));
    v
}

/// `a, a, b` → `a ×2 → b`.
fn fold(chain: &[String]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in chain {
        match out.last_mut() {
            Some((last, n)) if last == c => *n += 1,
            _ => out.push((c.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(c, n)| if n > 1 { format!("{c} ×{n}") } else { c })
        .collect::<Vec<_>>()
        .join(" → ")
}

fn measure(
    rtt: Duration,
    proxy: &FaultProxy,
    label: &'static str,
    creds: Option<(&str, &str, Option<&str>)>,
    args: &[&str],
) -> Run {
    assert!(
        Path::new(GNU_TIME).is_file(),
        "{GNU_TIME} not found: peak memory needs GNU time (Debian: apt-get install time)"
    );
    let url = proxy.url();
    let (key, secret, token) = creds.unwrap_or((ACCESS_KEY_ID, SECRET_ACCESS_KEY, None));
    let mut c = Command::new(GNU_TIME);
    c.arg("-v")
        .arg(pl_doctor())
        .args(["--region", REGION, "--endpoint-url", &url])
        .args(args)
        .args(["--skip", "dns-resolution,connect-probe", "-o", "json"])
        .args(["--timeout", "300s"])
        .env_clear()
        .env("NO_COLOR", "1")
        .env("PL_DOCTOR_CALL_LOG", "1")
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/pl-doctor-bench/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/pl-doctor-bench/credentials",
        )
        .stdin(Stdio::null());
    if let Some(t) = token {
        c.env("AWS_SESSION_TOKEN", t);
    }
    proxy.reset_counters();
    let started = Instant::now();
    let out = c.output().expect("run pl-doctor");
    let wall = started.elapsed();
    let timings = proxy.timings();
    let path = critical_path(&timings, Linking::AnyAnswer);
    let by_session = critical_path(&timings, Linking::BySession);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{label}: no JSON report (exit {:?}, {e})\nstderr:\n{stderr}",
            out.status.code()
        )
    });
    let logged_calls = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("pl-doctor: ")?
                .strip_suffix(" AWS calls")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{label}: no call count on stderr:\n{stderr}"));
    let assume_calls = stderr
        .lines()
        .filter(|l| l.starts_with("pl-doctor: call ") && l.contains(" sts:AssumeRole "))
        .count();
    let peak_kb: f64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .unwrap_or_else(|| panic!("GNU time printed no peak memory:\n{stderr}"))
        .trim()
        .parse()
        .expect("kbytes");
    let seconds = |name: &str| -> f64 {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let cpu = seconds("User time (seconds):") + seconds("System time (seconds):");
    Run {
        label,
        wall,
        cpu,
        logged_calls,
        assume_calls,
        proxy_calls: proxy.counters().total().seen,
        critical_path: path.0,
        chain: fold(&path.1),
        session_path: by_session.0,
        session_chain: fold(&by_session.1),
        emulator_time: emulator_time(&timings, rtt),
        peak_mb: peak_kb / 1024.0,
        rows: json["reports"].as_array().map(Vec::len).unwrap_or(0),
        accounts: json["scope"]["accounts"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0),
        verdict: json["verdict"].as_str().unwrap_or("?").to_owned(),
        code: out.status.code(),
    }
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev (unoptimised, debug assertions on)"
    } else {
        "release (optimised)"
    }
}

fn main() {
    let accounts = env_number("PL_BENCH_ACCOUNTS", 120).max(1) as usize;
    let rtt = Duration::from_millis(env_number("PL_BENCH_RTT_MS", 50));
    let cli_runbook = Duration::from_millis(env_number("PL_BENCH_CLI_RUNBOOK_MS", CLI_RUNBOOK_MS));
    let emulator = Emulator::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("accounts_scale: building {accounts} consumer accounts × 1 endpoint in moto …");
    let built = Instant::now();
    let world = runtime.block_on(AccountsWorld::build(&emulator.url(), accounts, 1));
    println!(
        "  built in {:.1} s (straight against the emulator, no delay)",
        built.elapsed().as_secs_f64()
    );
    let upstream = SocketAddr::from(([127, 0, 0, 1], emulator.port()));
    let proxy = runtime.block_on(FaultProxy::start(upstream));
    proxy.set_faults([Fault::delay(rtt)]);

    let provider = &world.provider;
    let token = provider.session_token().map(str::to_owned);
    let service = measure(
        rtt,
        &proxy,
        "--service --consumer-role-name",
        Some((
            provider.access_key_id(),
            provider.secret_access_key(),
            token.as_deref(),
        )),
        &[
            "--service",
            &world.world.service_id,
            "--consumer-role-name",
            MEMBER_ROLE,
        ],
    );
    // PL_BENCH_SNAPSHOT=FILE keeps the --all --org run's snapshot, to replay offline
    // (`pl-doctor --from-snapshot FILE`: the evaluation and rendering cost alone).
    let snapshot = std::env::var("PL_BENCH_SNAPSHOT").ok();
    let mut org_args = vec![
        "--all",
        "--org",
        "--role-name",
        MEMBER_ROLE,
        "--provider-role-name",
        PROVIDER_ROLE,
    ];
    if let Some(path) = snapshot.as_deref() {
        org_args.extend(["--save-snapshot", path]);
    }
    let org = measure(rtt, &proxy, "--all --org", None, &org_args);

    let rtt_ms = rtt.as_secs_f64() * 1000.0;
    println!();
    println!(
        "pl-doctor {} · build {} · {accounts} consumer accounts (+ the hub's own) × 1 endpoint · every call held {} ms",
        env!("CARGO_PKG_VERSION"),
        build_profile(),
        rtt.as_millis()
    );
    println!("| measurement | {} | {} |", service.label, org.label);
    println!("|---|---:|---:|");
    let row = |name: &str, f: &dyn Fn(&Run) -> String| {
        println!("| {name} | {} | {} |", f(&service), f(&org));
    };
    row("rows (endpoints) / accounts read", &|r| {
        format!("{} / {}", r.rows, r.accounts)
    });
    row("verdict (exit code)", &|r| {
        format!("{} ({:?})", r.verdict, r.code)
    });
    row("wall", &|r| format!("{:.2} s", r.wall.as_secs_f64()));
    row("pl-doctor's own CPU time (user + system)", &|r| {
        format!("{:.2} s", r.cpu)
    });
    row("wall in round trips", &|r| {
        format!("{:.1}", r.wall.as_secs_f64() * 1000.0 / rtt_ms)
    });
    row(
        "critical path, round trips (calls linked within each account's session)",
        &|r| r.session_path.to_string(),
    );
    row(
        "critical path, round trips (any earlier answer; inflated by moto's queue)",
        &|r| r.critical_path.to_string(),
    );
    row("AWS calls (call log / proxy)", &|r| {
        format!("{} / {}", r.logged_calls, r.proxy_calls)
    });
    row("AWS calls per account", &|r| {
        format!("{:.1}", r.logged_calls as f64 / r.accounts.max(1) as f64)
    });
    row("sts:AssumeRole calls", &|r| r.assume_calls.to_string());
    row("peak memory (GNU time)", &|r| {
        format!("{:.1} MB", r.peak_mb)
    });
    let manual = cli_runbook * accounts as u32;
    println!(
        "| the manual way: the CLI runbook per consumer ({:.2} s, {CLI_RUNBOOK_COMMANDS} commands) × {accounts} | {:.1} min, {} commands | (same) |",
        cli_runbook.as_secs_f64(),
        manual.as_secs_f64() / 60.0,
        CLI_RUNBOOK_COMMANDS * accounts as u64
    );
    println!();
    for r in [&service, &org] {
        let rts = r.wall.as_secs_f64() * 1000.0 / rtt_ms;
        println!(
            "{}: critical path {} round trips by session (target ≤ {TARGET_ROUND_TRIPS}: {}; {} linking any earlier answer), {:.1} round trips of wall time against this emulator ({}), {:.1} MB (target < {TARGET_MEMORY_MB}: {}), {:.0}× faster than the manual way",
            r.label,
            r.session_path,
            if r.session_path as f64 <= TARGET_ROUND_TRIPS { "met" } else { "not met" },
            r.critical_path,
            rts,
            if rts <= TARGET_ROUND_TRIPS { "within the target" } else { "over the target" },
            r.peak_mb,
            if r.peak_mb < TARGET_MEMORY_MB { "met" } else { "not met" },
            manual.as_secs_f64() / r.wall.as_secs_f64()
        );
    }
    for r in [&service, &org] {
        println!(
            "{}: the critical path by session: {}",
            r.label, r.session_chain
        );
        println!(
            "{}: the critical path, any earlier answer: {}",
            r.label, r.chain
        );
    }
    for r in [&service, &org] {
        let total: Duration = r.emulator_time.iter().map(|e| e.2).sum();
        println!(
            "{}: time inside the emulator (arrival to answer, less the delay; summed over calls): {:.1} s; most expensive operations:",
            r.label,
            total.as_secs_f64()
        );
        for (op, n, d) in r.emulator_time.iter().take(8) {
            println!(
                "  {op}: {n} calls, {:.2} s ({:.0} ms per call)",
                d.as_secs_f64(),
                d.as_secs_f64() * 1000.0 / *n as f64
            );
        }
    }
    println!("(moto is one Python process: it answers the calls of every account in flight one after another, so the wall time here is bounded by its throughput, not by round trips; the critical path by session is what AWS, answering side by side, would cost.)");
}
