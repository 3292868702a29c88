//! The latency benchmark of issue 7: pl-doctor's one-endpoint diagnosis against the
//! seed's manual runbook as AWS CLI commands, side by side, through one fault proxy that
//! holds every AWS call for `PL_BENCH_RTT_MS` (default 50 ms) in front of one AWS API
//! emulator (moto) holding the healthy two-account world of the end-to-end tests.
//!
//! Run it with `bash scripts/bench.sh` (it provisions moto and a pinned AWS CLI v1 and
//! passes the CLI's path in `PL_BENCH_AWS`), or directly:
//! `PL_BENCH_AWS=/path/to/aws cargo bench --profile dev --bench runbook_latency`.
//!
//! It prints figures and never judges by them except to say, in the summary, whether
//! the targets were met. It fails loudly (panics) when something it measures
//! does not work: the emulator, a runbook command, a diagnosis without a report.
//!
//! One function per measurement, each taking the [`Rig`]: process start, one round trip,
//! one endpoint, the CLI runbook, then the fleet (`--all` over 1 endpoint, the world
//! grown to `PL_BENCH_FLEET` = 200 endpoints, `--all` again, with GNU time's peak
//! memory) and the replay of that fleet's snapshot; then (issue 15) one failing endpoint
//! with `--changes off` and `--changes on`: the wall time the CloudTrail lookups add and
//! when they run beside the Logs Insights query (`PL_BENCH_ONLY=changes` runs only that).

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::emulator::Emulator;
use support::fault_proxy::{CallTiming, Fault, FaultProxy};
use support::fleet_world;
use support::run::Invocation;
use support::world::{
    consumer_credentials, sdk_config, Spec, World, ACCESS_KEY_ID, PROVIDER_ROLE_ARN, REGION,
    SECRET_ACCESS_KEY,
};

/// The targets for one endpoint, the fleet and the replay.
const TARGET_ROUND_TRIPS: f64 = 6.0;
const TARGET_SPEEDUP: f64 = 20.0;
/// "A few seconds" for the fleet scan.
const TARGET_FLEET_SECONDS: f64 = 5.0;
const TARGET_FLEET_MEMORY_MB: f64 = 100.0;
/// "Well under a second" for replaying the fleet's snapshot.
const TARGET_REPLAY_SECONDS: f64 = 0.5;
/// GNU time, for the peak memory of one process (`-v`: "Maximum resident set size").
const GNU_TIME: &str = "/usr/bin/time";

const PL_DOCTOR: &str = env!("CARGO_BIN_EXE_pl-doctor");

/// What the run is asked to do, from the environment.
struct Settings {
    rtt: Duration,
    runs: usize,
    cli_runs: usize,
    aws: PathBuf,
    /// Endpoints in the fleet measurement (`PL_BENCH_FLEET`).
    fleet: usize,
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let aws = std::env::var_os("PL_BENCH_AWS").map(PathBuf::from).unwrap_or_else(|| {
            panic!(
                "PL_BENCH_AWS is not set: run `bash scripts/bench.sh`, which installs the pinned AWS CLI v1 and passes its path"
            )
        });
        assert!(
            aws.is_file(),
            "PL_BENCH_AWS={} is not a file",
            aws.display()
        );
        let runs = env_number("PL_BENCH_RUNS", 5).max(1) as usize;
        let cli_runs = env_number("PL_BENCH_CLI_RUNS", 3).max(1) as usize;
        Settings {
            rtt: Duration::from_millis(env_number("PL_BENCH_RTT_MS", 50)),
            runs,
            cli_runs,
            aws,
            fleet: env_number("PL_BENCH_FLEET", 200).max(2) as usize,
        }
    }
}

/// The profile the measured binary was built with, from where cargo put it
/// (`target/debug/pl-doctor` is the dev profile).
fn build_profile() -> String {
    let dir = Path::new(PL_DOCTOR)
        .parent()
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .unwrap_or("?");
    let name = if dir == "debug" { "dev" } else { dir };
    let optimised = if cfg!(debug_assertions) {
        "unoptimised, debug assertions on"
    } else {
        "optimised"
    };
    format!("{name} ({optimised})")
}

/// One emulator with the healthy world, and the delaying proxy in front of it. The
/// runtime (multi-threaded) keeps serving the proxy while this thread waits for the
/// processes it measures.
struct Rig {
    settings: Settings,
    emulator: Emulator,
    world: World,
    runtime: tokio::runtime::Runtime,
    proxy: FaultProxy,
}

impl Rig {
    fn start(settings: Settings) -> Rig {
        let emulator = Emulator::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        // Built straight against the emulator: the delay is for what is measured.
        let world = runtime.block_on(World::build(&emulator.url(), &Spec::default()));
        let upstream = SocketAddr::from(([127, 0, 0, 1], emulator.port()));
        let proxy = runtime.block_on(FaultProxy::start(upstream));
        proxy.set_faults([Fault::delay(settings.rtt)]);
        Rig {
            settings,
            emulator,
            world,
            runtime,
            proxy,
        }
    }
}

/// Wall times of repeated runs.
#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.0.clone();
        v.sort();
        v
    }

    fn median(&self) -> Duration {
        let v = self.sorted();
        assert!(!v.is_empty(), "no samples");
        let mid = v.len() / 2;
        if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2
        }
    }

    fn min(&self) -> Duration {
        self.sorted()[0]
    }

    fn max(&self) -> Duration {
        *self.sorted().last().expect("samples")
    }

    fn list(&self) -> String {
        self.0.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ")
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------
// Measurement: process start (no AWS at all)
// ---------------------------------------------------------------------------------

/// `pl-doctor --from-snapshot fixtures/healthy.json -o json`: process start, checks and
/// rendering with no AWS call, to subtract from the live runs.
fn process_start(rig: &Rig) -> Samples {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy.json");
    let run = || {
        let started = Instant::now();
        let out = Command::new(PL_DOCTOR)
            .arg("--from-snapshot")
            .arg(&fixture)
            .args(["-o", "json"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run pl-doctor --from-snapshot");
        let took = started.elapsed();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "pl-doctor --from-snapshot {} exited {:?}: {}",
            fixture.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        took
    };
    run(); // warm-up: page cache
    let mut samples = Samples::default();
    for _ in 0..rig.settings.runs {
        samples.push(run());
    }
    samples
}

// ---------------------------------------------------------------------------------
// Measurement: one round trip through the proxy, no work
// ---------------------------------------------------------------------------------

struct RoundTrip {
    /// sts:GetCallerIdentity from Rust through the delaying proxy, connection warm.
    through_proxy: Samples,
    /// The same call straight to the emulator: its own service time.
    direct: Samples,
    /// A wave as wide as the collector's widest: WIDE_WAVE DescribeVpcs at once through
    /// the proxy. AWS answers them side by side; the emulator (one Python process) does
    /// not, and this is what a wide wave costs here.
    wide_wave: Samples,
}

/// The width of the collector's widest wave (consumer network ∥ provider service stage).
const WIDE_WAVE: usize = 15;

fn baseline_round_trip(rig: &Rig) -> RoundTrip {
    const SAMPLES: usize = 10;
    let time_calls = |url: String| -> Samples {
        rig.runtime.block_on(async move {
            let sts = aws_sdk_sts::Client::new(&sdk_config(&url, consumer_credentials()).await);
            let call = || async {
                let started = Instant::now();
                sts.get_caller_identity()
                    .send()
                    .await
                    .expect("sts:GetCallerIdentity through the proxy");
                started.elapsed()
            };
            call().await; // warm-up: the connection
            let mut samples = Samples::default();
            for _ in 0..SAMPLES {
                samples.push(call().await);
            }
            samples
        })
    };
    let proxy_url = rig.proxy.url();
    let wide_wave = rig.runtime.block_on(async move {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&proxy_url, consumer_credentials()).await);
        let wave = || async {
            let started = Instant::now();
            let calls = (0..WIDE_WAVE).map(|_| ec2.describe_vpcs().send());
            for r in futures_util::future::join_all(calls).await {
                r.expect("ec2:DescribeVpcs through the proxy");
            }
            started.elapsed()
        };
        wave().await; // warm-up: the connections
        let mut samples = Samples::default();
        for _ in 0..SAMPLES {
            samples.push(wave().await);
        }
        samples
    });
    RoundTrip {
        through_proxy: time_calls(rig.proxy.url()),
        direct: time_calls(rig.emulator.url()),
        wide_wave,
    }
}

// ---------------------------------------------------------------------------------
// Measurement: pl-doctor, one endpoint
// ---------------------------------------------------------------------------------

/// One live diagnosis through the proxy.
struct DiagnosisRun {
    wall: Duration,
    /// Requests the proxy saw (retries and the SDK's own sts:AssumeRole included).
    proxy_calls: u64,
    proxy_by_operation: BTreeMap<String, u64>,
    /// `pl-doctor: N AWS calls` (the collector's calls, through its tracker).
    logged_calls: usize,
    /// `pl-doctor: call <stage> <action> ok|failed`, in the order they finished.
    call_log: Vec<(String, String, bool)>,
    timings: Vec<CallTiming>,
    started: Instant,
    exit: Option<i32>,
    verdict: String,
}

struct Diagnosis {
    runs: Vec<DiagnosisRun>,
}

impl Diagnosis {
    fn walls(&self) -> Samples {
        Samples(self.runs.iter().map(|r| r.wall).collect())
    }

    /// The run with the median wall time (the lower one for an even count).
    fn median_run(&self) -> &DiagnosisRun {
        let mut order: Vec<&DiagnosisRun> = self.runs.iter().collect();
        order.sort_by_key(|r| r.wall);
        order[(order.len() - 1) / 2]
    }
}

fn parse_call_log(stderr: &str) -> (Option<usize>, Vec<(String, String, bool)>) {
    let mut total = None;
    let mut calls = Vec::new();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("pl-doctor: call ") {
            // "<stage with spaces> <service:Action> ok|failed"
            let mut words: Vec<&str> = rest.split(' ').collect();
            let outcome = words.pop().unwrap_or("");
            let action = words.pop().unwrap_or("");
            calls.push((words.join(" "), action.to_owned(), outcome == "ok"));
        } else if let Some(n) = line
            .strip_prefix("pl-doctor: ")
            .and_then(|r| r.strip_suffix(" AWS calls"))
        {
            total = n.trim().parse().ok();
        }
    }
    (total, calls)
}

fn diagnose_one_endpoint(rig: &Rig) -> Diagnosis {
    let run = || {
        let mut command = Invocation::new(&rig.world.endpoint_id, &rig.proxy.url()).command();
        command.env("PL_DOCTOR_CALL_LOG", "1");
        rig.proxy.reset_counters();
        let started = Instant::now();
        let out = command.output().expect("run pl-doctor");
        let wall = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "pl-doctor gave no JSON report (exit {:?}, {e})\nstderr:\n{stderr}",
                out.status.code()
            )
        });
        let (logged, call_log) = parse_call_log(&stderr);
        let logged_calls = logged.unwrap_or_else(|| {
            panic!("PL_DOCTOR_CALL_LOG=1 printed no `pl-doctor: N AWS calls` line:\n{stderr}")
        });
        let counters = rig.proxy.counters();
        let proxy_by_operation = counters
            .calls
            .iter()
            .map(|((service, op), c)| (format!("{service}:{op}"), c.seen))
            .collect();
        DiagnosisRun {
            wall,
            proxy_calls: counters.total().seen,
            proxy_by_operation,
            logged_calls,
            call_log,
            timings: rig.proxy.timings(),
            started,
            exit: out.status.code(),
            verdict: json["verdict"].as_str().unwrap_or("?").to_owned(),
        }
    };
    run(); // warm-up: page cache, the emulator's first answers
    let runs = (0..rig.settings.runs).map(|_| run()).collect();
    Diagnosis { runs }
}

/// The calls of a run in round trips ("waves"): a call's wave is one more than the
/// deepest wave among the calls answered before it was sent, so wave k holds calls that
/// could only start after k-1 sequential round trips. The number of waves is the length
/// of the longest chain of calls each sent after the previous one was answered: the
/// run's critical path as the proxy saw it, measured rather than read off the source,
/// and a lower bound on its wall time in round trips. (Which call of the wave before a
/// call waited for is not observable; only that it could not have overlapped them.)
fn waves(timings: &[CallTiming]) -> Vec<Vec<&CallTiming>> {
    let mut order: Vec<&CallTiming> = timings.iter().collect();
    order.sort_by_key(|t| t.arrived);
    let mut depth = vec![0usize; order.len()];
    for i in 0..order.len() {
        depth[i] = (0..i)
            .filter(|&j| order[j].answered.is_some_and(|a| a <= order[i].arrived))
            .map(|j| depth[j])
            .max()
            .unwrap_or(0)
            + 1;
    }
    let mut waves: Vec<Vec<&CallTiming>> =
        vec![Vec::new(); depth.iter().copied().max().unwrap_or(0)];
    for (t, d) in order.into_iter().zip(depth) {
        waves[d - 1].push(t);
    }
    waves
}

// ---------------------------------------------------------------------------------
// Measurement: the manual runbook as AWS CLI commands
// ---------------------------------------------------------------------------------

struct RunbookRun {
    wall: Duration,
    commands: usize,
    proxy_calls: u64,
}

struct Runbook {
    runs: Vec<RunbookRun>,
    /// Each command of the last run, as run (credentials are in the environment only).
    commands: Vec<(String, Duration)>,
}

impl Runbook {
    fn walls(&self) -> Samples {
        Samples(self.runs.iter().map(|r| r.wall).collect())
    }
}

/// Runs the AWS CLI against the proxy as one side, in an environment holding only that
/// side's credentials (no profile, config file or instance metadata of this machine).
struct Cli<'a> {
    aws: &'a Path,
    url: String,
    credentials: Vec<(&'static str, String)>,
    log: Vec<(String, Duration)>,
}

impl<'a> Cli<'a> {
    fn new(aws: &'a Path, url: String, credentials: Vec<(&'static str, String)>) -> Self {
        Cli {
            aws,
            url,
            credentials,
            log: Vec::new(),
        }
    }

    /// One command; its JSON output. A failing command fails the benchmark, loudly.
    fn run(&mut self, args: &[&str]) -> Value {
        let mut c = Command::new(self.aws);
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            c.env_remove(var);
        }
        c.env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/pl-doctor-bench/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/pl-doctor-bench/credentials",
            )
            .envs(self.credentials.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .args(["--endpoint-url", &self.url, "--output", "json"])
            .stdin(Stdio::null());
        let started = Instant::now();
        let out: Output = c.output().expect("run the AWS CLI");
        let took = started.elapsed();
        let shown = format!("aws {}", args.join(" "));
        assert!(
            out.status.success(),
            "runbook command failed ({}): {shown}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.log.push((shown.clone(), took));
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{shown}: output is not JSON ({e})"))
    }
}

fn strings(v: &Value, pointer_list: &str, field: &str) -> Vec<String> {
    v[pointer_list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[field].as_str().map(str::to_owned))
        .collect()
}

/// The seed's "Troubleshooting runbook" and "Verify" steps, as the AWS CLI commands an
/// engineer types, in order, each taking ids from the world or from an earlier answer.
/// Returns the commands run.
fn runbook_once(rig: &Rig) -> Vec<(String, Duration)> {
    let w = &rig.world;
    let aws = rig.settings.aws.as_path();
    let url = rig.proxy.url();
    let enis: Vec<&str> = w.eni_ids();
    let mut consumer = Cli::new(
        aws,
        url.clone(),
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ],
    );
    // Consumer: the endpoint and everything around it.
    consumer.run(&["sts", "get-caller-identity"]);
    consumer.run(&[
        "ec2",
        "describe-vpc-endpoints",
        "--vpc-endpoint-ids",
        &w.endpoint_id,
    ]);
    consumer.run(&[
        "ec2",
        "describe-vpc-endpoint-services",
        "--service-names",
        &w.service_name,
    ]);
    let mut args = vec![
        "ec2",
        "describe-network-interfaces",
        "--network-interface-ids",
    ];
    args.extend(&enis);
    consumer.run(&args);
    consumer.run(&[
        "ec2",
        "describe-security-groups",
        "--group-ids",
        &w.endpoint_sg,
    ]);
    let mut args = vec!["ec2", "describe-subnets", "--subnet-ids"];
    args.extend(w.endpoint_subnets.iter().map(String::as_str));
    consumer.run(&args);
    let subnet_filter = format!(
        "Name=association.subnet-id,Values={}",
        w.endpoint_subnets.join(",")
    );
    consumer.run(&["ec2", "describe-network-acls", "--filters", &subnet_filter]);
    consumer.run(&["ec2", "describe-vpcs", "--vpc-ids", &w.consumer_vpc]);
    for attribute in ["enableDnsSupport", "enableDnsHostnames"] {
        consumer.run(&[
            "ec2",
            "describe-vpc-attribute",
            "--vpc-id",
            &w.consumer_vpc,
            "--attribute",
            attribute,
        ]);
    }
    consumer.run(&["ec2", "describe-availability-zones"]);
    let eni_filter = format!("Name=resource-id,Values={}", enis.join(","));
    consumer.run(&["ec2", "describe-flow-logs", "--filter", &eni_filter]);

    // Provider: the role, then the service, its NLB, listeners and targets.
    let assumed = consumer.run(&[
        "sts",
        "assume-role",
        "--role-arn",
        PROVIDER_ROLE_ARN,
        "--role-session-name",
        "pl-doctor-bench",
    ]);
    let c = &assumed["Credentials"];
    let field = |name: &str| {
        c[name]
            .as_str()
            .unwrap_or_else(|| panic!("sts assume-role: no Credentials.{name} in the answer"))
            .to_owned()
    };
    let mut provider = Cli::new(
        aws,
        url,
        vec![
            ("AWS_ACCESS_KEY_ID", field("AccessKeyId")),
            ("AWS_SECRET_ACCESS_KEY", field("SecretAccessKey")),
            ("AWS_SESSION_TOKEN", field("SessionToken")),
        ],
    );
    provider.run(&[
        "ec2",
        "describe-vpc-endpoint-service-configurations",
        "--service-ids",
        &w.service_id,
    ]);
    provider.run(&[
        "ec2",
        "describe-vpc-endpoint-service-permissions",
        "--service-id",
        &w.service_id,
    ]);
    let service_filter = format!("Name=service-id,Values={}", w.service_id);
    provider.run(&[
        "ec2",
        "describe-vpc-endpoint-connections",
        "--filters",
        &service_filter,
    ]);
    provider.run(&["ec2", "describe-availability-zones"]);
    let lbs = provider.run(&[
        "elbv2",
        "describe-load-balancers",
        "--load-balancer-arns",
        &w.nlb_arn,
    ]);
    let mut lb_groups: Vec<String> = lbs["LoadBalancers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|lb| lb["SecurityGroups"].as_array().cloned().unwrap_or_default())
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    let listeners = provider.run(&[
        "elbv2",
        "describe-listeners",
        "--load-balancer-arn",
        &w.nlb_arn,
    ]);
    let listener_arns = strings(&listeners, "Listeners", "ListenerArn");
    assert!(
        !listener_arns.is_empty(),
        "describe-listeners: no listener on {}",
        w.nlb_arn
    );
    provider.run(&[
        "elbv2",
        "describe-target-groups",
        "--load-balancer-arn",
        &w.nlb_arn,
    ]);
    provider.run(&[
        "elbv2",
        "describe-target-health",
        "--target-group-arn",
        &w.target_group_arn,
    ]);
    provider.run(&[
        "elbv2",
        "describe-load-balancer-attributes",
        "--load-balancer-arn",
        &w.nlb_arn,
    ]);
    provider.run(&[
        "elbv2",
        "describe-target-group-attributes",
        "--target-group-arn",
        &w.target_group_arn,
    ]);
    for arn in &listener_arns {
        provider.run(&[
            "elbv2",
            "describe-listener-attributes",
            "--listener-arn",
            arn,
        ]);
    }
    // The targets' security groups: the instances name them (as pl-doctor reads them).
    let mut args = vec!["ec2", "describe-instances", "--instance-ids"];
    args.extend(w.targets.iter().map(String::as_str));
    let instances = provider.run(&args);
    let target_groups = instances["Reservations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Instances"].as_array().cloned().unwrap_or_default())
        .flat_map(|i| i["SecurityGroups"].as_array().cloned().unwrap_or_default())
        .filter_map(|g| g["GroupId"].as_str().map(str::to_owned));
    lb_groups.extend(target_groups);
    lb_groups.sort();
    lb_groups.dedup();
    assert!(
        !lb_groups.is_empty(),
        "no NLB or target security group found"
    );
    let mut args = vec!["ec2", "describe-security-groups", "--group-ids"];
    args.extend(lb_groups.iter().map(String::as_str));
    provider.run(&args);

    consumer.log.into_iter().chain(provider.log).collect()
}

fn cli_runbook(rig: &Rig) -> Runbook {
    let mut runs = Vec::new();
    let mut commands = Vec::new();
    for _ in 0..rig.settings.cli_runs {
        rig.proxy.reset_counters();
        let started = Instant::now();
        commands = runbook_once(rig);
        let wall = started.elapsed();
        runs.push(RunbookRun {
            wall,
            commands: commands.len(),
            proxy_calls: rig.proxy.counters().total().seen,
        });
    }
    Runbook { runs, commands }
}

// ---------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------

fn yes_no(met: bool) -> &'static str {
    if met {
        "MET"
    } else {
        "MISSED"
    }
}

fn print_round_trip(rig: &Rig, rt: &RoundTrip) {
    println!(
        "\n## Baseline: one round trip, no work (sts:GetCallerIdentity from Rust, warm connection)"
    );
    println!(
        "  through the proxy:  median {}, min {}  (injected delay {})",
        ms(rt.through_proxy.median()),
        ms(rt.through_proxy.min()),
        ms(rig.settings.rtt)
    );
    println!(
        "  straight to moto:   median {}, min {}  (the emulator's own service time)",
        ms(rt.direct.median()),
        ms(rt.direct.min())
    );
    println!(
        "  a wave of {WIDE_WAVE} concurrent ec2:DescribeVpcs through the proxy: median {}, min {} ({:.1} round trips: the emulator answers concurrent calls one after another; AWS does not)",
        ms(rt.wide_wave.median()),
        ms(rt.wide_wave.min()),
        rt.wide_wave.median().as_secs_f64() / rt.through_proxy.median().as_secs_f64()
    );
}

fn print_process_start(start: &Samples) {
    println!(
        "\n## Process start: pl-doctor --from-snapshot fixtures/healthy.json -o json (no AWS)"
    );
    println!(
        "  median {}, min {}  (runs: {})",
        ms(start.median()),
        ms(start.min()),
        start.list()
    );
}

fn offset(run: &DiagnosisRun, at: Instant) -> String {
    ms(at.saturating_duration_since(run.started))
}

fn print_diagnosis(rig: &Rig, d: &Diagnosis) {
    let walls = d.walls();
    println!(
        "\n## pl-doctor --endpoint {} --provider-role-arn … -o json --skip dns-resolution --skip connect-probe",
        rig.world.endpoint_id
    );
    println!(
        "  (dns-resolution and connect-probe skipped as in the emulator tests: the emulator's names and ENI addresses are made up)"
    );
    println!(
        "  wall: median {}, min {}, max {}  (runs: {}; one warm-up run not counted)",
        ms(walls.median()),
        ms(walls.min()),
        ms(walls.max()),
        walls.list()
    );
    for (i, r) in d.runs.iter().enumerate() {
        let depth = waves(&r.timings).len();
        println!(
            "  run {}: {} · exit {:?} · verdict {} · proxy saw {} calls · call log {} calls · critical path {} round trips deep",
            i + 1,
            ms(r.wall),
            r.exit,
            r.verdict,
            r.proxy_calls,
            r.logged_calls,
            depth
        );
    }
    let run = d.median_run();
    let logged: BTreeMap<String, u64> =
        run.call_log
            .iter()
            .fold(BTreeMap::new(), |mut m, (_, action, _)| {
                let op = action.rsplit(':').next().unwrap_or(action);
                *m.entry(op.to_owned()).or_default() += 1;
                m
            });
    println!("\n  Calls of the median run, per operation: proxy saw / call log");
    for (key, seen) in &run.proxy_by_operation {
        let op = key.rsplit(':').next().unwrap_or(key);
        let in_log = logged.get(op).copied().unwrap_or(0);
        let note = if in_log == *seen {
            ""
        } else if op == "AssumeRole" {
            "  (the SDK's credentials provider, not a collector call)"
        } else {
            "  (differs: retries or calls outside the tracker)"
        };
        println!("    {key:<60} {seen:>2} / {in_log:>2}{note}");
    }
    let failed: Vec<&(String, String, bool)> = run.call_log.iter().filter(|c| !c.2).collect();
    if !failed.is_empty() {
        println!("  Calls that failed (facts recorded as unknown with the reason):");
        for (stage, action, _) in failed {
            println!("    {stage}: {action}");
        }
    }
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for (stage, action, _) in &run.call_log {
        match stages.iter_mut().find(|(s, _)| s == stage) {
            Some((_, actions)) => actions.push(action.clone()),
            None => stages.push((stage.clone(), vec![action.clone()])),
        }
    }
    println!("\n  Stages of the median run (call log; order of their first answer):");
    for (stage, actions) in &stages {
        println!(
            "    {stage:<40} {:>2} calls: {}",
            actions.len(),
            actions.join(", ")
        );
    }
    let waves = waves(&run.timings);
    println!(
        "\n  Critical path of the median run: {} round trips deep. Every call, by the round trip (wave) it was sent in:",
        waves.len()
    );
    for (i, wave) in waves.iter().enumerate() {
        let sent = wave.iter().map(|t| t.arrived).min();
        let answered = wave.iter().filter_map(|t| t.answered).max();
        println!(
            "    wave {:>2}  sent +{:>6} … last answered +{:>6}: {}",
            i + 1,
            sent.map(|a| offset(run, a)).unwrap_or_default(),
            answered
                .map(|a| offset(run, a))
                .unwrap_or_else(|| "-".into()),
            wave.iter()
                .map(|t| format!("{}:{}", t.service, t.operation))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let (Some(first), Some(last)) = (
        run.timings.iter().map(|t| t.arrived).min(),
        run.timings.iter().filter_map(|t| t.answered).max(),
    ) {
        println!(
            "  first call sent at +{}, last answered at +{}, process exited at +{}",
            offset(run, first),
            offset(run, last),
            ms(run.wall)
        );
    }
}

fn print_runbook(rb: &Runbook) {
    let walls = rb.walls();
    println!("\n## The manual runbook: AWS CLI commands in sequence (the seed's Troubleshooting runbook + Verify)");
    println!(
        "  wall: median {}, min {}, max {}  (runs: {})",
        secs(walls.median()),
        secs(walls.min()),
        secs(walls.max()),
        rb.runs
            .iter()
            .map(|r| secs(r.wall))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, r) in rb.runs.iter().enumerate() {
        println!(
            "  run {}: {} commands, proxy saw {} calls",
            i + 1,
            r.commands,
            r.proxy_calls
        );
    }
    println!("  Commands of the last run (credentials only in the environment):");
    for (i, (cmd, took)) in rb.commands.iter().enumerate() {
        println!("    {:>2}. {:>7}  {cmd}", i + 1, ms(*took));
    }
}

// ---------------------------------------------------------------------------------
// Measurement: the fleet (`--all`) and the replay of its snapshot
// ---------------------------------------------------------------------------------

/// pl-doctor under GNU time, in an environment holding only the world's consumer key:
/// `-v` reports the process's peak memory on stderr after pl-doctor's own lines.
fn under_gnu_time(args: &[&str]) -> Command {
    assert!(
        Path::new(GNU_TIME).is_file(),
        "{GNU_TIME} not found: the fleet measurement needs GNU time for peak memory (Debian: apt-get install time)"
    );
    let mut c = Command::new(GNU_TIME);
    c.arg("-v")
        .arg(PL_DOCTOR)
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/pl-doctor-bench/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/pl-doctor-bench/credentials",
        )
        .stdin(Stdio::null());
    c
}

/// GNU time's "Maximum resident set size (kbytes): N", in MB.
fn peak_memory_mb(stderr: &str) -> f64 {
    let kb: f64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .unwrap_or_else(|| panic!("GNU time printed no peak memory:\n{stderr}"))
        .trim()
        .parse()
        .expect("a number of kbytes");
    kb / 1024.0
}

struct FleetRun {
    endpoints: usize,
    wall: Duration,
    proxy_calls: u64,
    logged_calls: usize,
    peak_mb: f64,
    verdict: String,
}

/// One `pl-doctor --all` through the proxy, saving the fleet snapshot to `save`.
fn scan_fleet(rig: &Rig, save: &Path) -> FleetRun {
    let url = rig.proxy.url();
    let save = save.to_str().expect("utf-8 path");
    let mut command = under_gnu_time(&[
        "--all",
        "--region",
        REGION,
        "--endpoint-url",
        &url,
        "--provider-role-arn",
        PROVIDER_ROLE_ARN,
        "--skip",
        "dns-resolution",
        "--skip",
        "connect-probe",
        "-o",
        "json",
        "--save-snapshot",
        save,
    ]);
    command.env("PL_DOCTOR_CALL_LOG", "1");
    rig.proxy.reset_counters();
    let started = Instant::now();
    let out = command.output().expect("run pl-doctor --all");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pl-doctor --all gave no JSON report (exit {:?}, {e})\nstderr:\n{stderr}",
            out.status.code()
        )
    });
    let (logged, _) = parse_call_log(&stderr);
    FleetRun {
        endpoints: json["reports"].as_array().map(Vec::len).unwrap_or(0),
        wall,
        proxy_calls: rig.proxy.counters().total().seen,
        logged_calls: logged.unwrap_or_else(|| panic!("no call count on stderr:\n{stderr}")),
        peak_mb: peak_memory_mb(&stderr),
        verdict: json["verdict"].as_str().unwrap_or("?").to_owned(),
    }
}

struct Fleet {
    /// `--all` over the world's one endpoint, before the fleet is grown.
    one: FleetRun,
    /// `--all` over the grown fleet, repeated.
    many: Vec<FleetRun>,
    snapshot_bytes: u64,
    replay: Samples,
    replay_peak_mb: f64,
}

impl Fleet {
    fn median_many(&self) -> &FleetRun {
        let mut order: Vec<&FleetRun> = self.many.iter().collect();
        order.sort_by_key(|r| r.wall);
        order[(order.len() - 1) / 2]
    }
}

/// `--all` over one endpoint, then the world grown to `PL_BENCH_FLEET` endpoints (one
/// service, one VPC) and `--all` again, then the saved fleet snapshot replayed.
fn fleet(rig: &Rig) -> Fleet {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = scan_fleet(rig, &dir.path().join("fleet-1.json"));
    assert_eq!(one.endpoints, 1, "the world starts with one endpoint");
    let more = rig.settings.fleet - 1;
    let grow = Instant::now();
    rig.runtime.block_on(fleet_world::add_healthy(
        &rig.emulator.url(),
        &rig.world,
        more,
    ));
    println!(
        "  grew the world to {} endpoints in {} (straight to the emulator)",
        rig.settings.fleet,
        secs(grow.elapsed())
    );
    let saved = dir
        .path()
        .join(format!("fleet-{}.json", rig.settings.fleet));
    scan_fleet(rig, &saved); // warm-up: the emulator's first answers over the grown world
    let many: Vec<FleetRun> = (0..3).map(|_| scan_fleet(rig, &saved)).collect();
    for r in &many {
        assert_eq!(r.endpoints, rig.settings.fleet, "every endpoint is a row");
    }
    let snapshot_bytes = std::fs::metadata(&saved).expect("saved fleet").len();
    let saved_str = saved.to_str().expect("utf-8 path");
    let mut replay = Samples::default();
    let mut replay_peak_mb: f64 = 0.0;
    for i in 0..=rig.settings.runs {
        let started = Instant::now();
        let out = under_gnu_time(&["--from-snapshot", saved_str, "-o", "json"])
            .output()
            .expect("replay the fleet");
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "replay exited {:?}: {stderr}",
            out.status.code()
        );
        if i > 0 {
            // The first run warms the page cache.
            replay.push(took);
            replay_peak_mb = replay_peak_mb.max(peak_memory_mb(&stderr));
        }
    }
    Fleet {
        one,
        many,
        snapshot_bytes,
        replay,
        replay_peak_mb,
    }
}

fn print_fleet(rig: &Rig, f: &Fleet) {
    println!(
        "\n## Fleet: pl-doctor --all --provider-role-arn … -o json --save-snapshot F (dns-resolution, connect-probe skipped), every call held {}",
        ms(rig.settings.rtt)
    );
    println!(
        "  {:>9} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "endpoints", "wall", "proxy calls", "logged calls", "peak memory", "verdict"
    );
    for r in std::iter::once(&f.one).chain(&f.many) {
        println!(
            "  {:>9} {:>12} {:>12} {:>12} {:>9.1} MB {:>10}",
            r.endpoints,
            ms(r.wall),
            r.proxy_calls,
            r.logged_calls,
            r.peak_mb,
            r.verdict
        );
    }
    println!(
        "\n## Replay: pl-doctor --from-snapshot <{}-endpoint fleet snapshot, {:.1} MB> -o json",
        rig.settings.fleet,
        f.snapshot_bytes as f64 / 1e6
    );
    println!(
        "  wall: median {}, min {}, max {} (runs: {}); peak memory {:.1} MB",
        ms(f.replay.median()),
        ms(f.replay.min()),
        ms(f.replay.max()),
        f.replay.list(),
        f.replay_peak_mb
    );
}

fn print_summary(
    rig: &Rig,
    start: &Samples,
    rt: &RoundTrip,
    d: &Diagnosis,
    rb: &Runbook,
    fleet: &Fleet,
) {
    let rtt = rig.settings.rtt;
    let pl = d.walls().median();
    let cli = rb.walls().median();
    let pl_calls = d.median_run().proxy_calls;
    let cli_calls = rb.runs.last().map(|r| r.proxy_calls).unwrap_or(0);
    let cli_commands = rb.runs.last().map(|r| r.commands).unwrap_or(0);
    let over_start = pl.saturating_sub(start.median());
    let in_injected = over_start.as_secs_f64() / rtt.as_secs_f64();
    let measured_rtt = rt.through_proxy.median();
    let in_measured = over_start.as_secs_f64() / measured_rtt.as_secs_f64();
    let depths: Samples = Samples(
        d.runs
            .iter()
            .map(|r| Duration::from_secs(waves(&r.timings).len() as u64))
            .collect(),
    );
    let depth = depths.median().as_secs();
    let ratio = cli.as_secs_f64() / pl.as_secs_f64();

    println!(
        "\n## Summary (injected delay {} per call; pl-doctor built with the {} profile)",
        ms(rtt),
        build_profile()
    );
    println!("  {:<44} {:>14} {:>14}", "", "pl-doctor", "CLI runbook");
    println!(
        "  {:<44} {:>14} {:>14}",
        "wall time (median)",
        ms(pl),
        secs(cli)
    );
    println!(
        "  {:<44} {:>14} {:>14}",
        "API calls the proxy saw (per run)", pl_calls, cli_calls
    );
    println!(
        "  {:<44} {:>14} {:>14}",
        "processes started", 1, cli_commands
    );
    println!("  {:<44} {:>14.1}x", "ratio CLI / pl-doctor", ratio);
    println!(
        "  {:<44} {:>14}",
        "pl-doctor minus process start",
        ms(over_start)
    );
    println!(
        "  {:<44} {:>14.1}",
        "  … in injected round trips", in_injected
    );
    println!(
        "  {:<44} {:>14.1}",
        "  … in measured round trips", in_measured
    );
    println!(
        "  {:<44} {:>14}",
        "critical path (round trips deep, median)", depth
    );
    println!("\n  Targets (issue 7):");
    let depth_met = in_measured <= TARGET_ROUND_TRIPS;
    println!(
        "    <= ~{TARGET_ROUND_TRIPS:.0} round trips for one endpoint: {} ({in_measured:.1} measured round trips of {} over process start; critical path {depth} round trips deep)",
        yes_no(depth_met),
        ms(measured_rtt)
    );
    if !depth_met {
        let wide = rt.wide_wave.median().as_secs_f64() / measured_rtt.as_secs_f64();
        if (depth as f64) <= TARGET_ROUND_TRIPS {
            println!(
                "      why: the dependency chain is {depth} round trips deep (within target), but on this emulator a wave of {WIDE_WAVE} concurrent calls costs {wide:.1} round trips (baseline above): the widest waves are served one call after another"
            );
        } else {
            println!(
                "      why: the collector's dependency chain is {depth} round trips deep (the waves under \"Critical path\" above); each costs one round trip, plus the client's own time between them"
            );
        }
    }
    let ratio_met = ratio >= TARGET_SPEEDUP;
    println!(
        "    >= {TARGET_SPEEDUP:.0}x faster than the CLI runbook:       {} ({ratio:.1}x)",
        yes_no(ratio_met)
    );
    if !ratio_met {
        println!(
            "      why: the runbook's {cli_commands} commands take {} each on average; pl-doctor takes {}",
            ms(cli / cli_commands.max(1) as u32),
            ms(pl)
        );
    }
    let many = fleet.median_many();
    let fleet_secs = many.wall.as_secs_f64();
    println!(
        "    fleet of {}: a few seconds (<= {TARGET_FLEET_SECONDS:.0} s):      {} ({})",
        many.endpoints,
        yes_no(fleet_secs <= TARGET_FLEET_SECONDS),
        ms(many.wall)
    );
    let grew = many.logged_calls as i64 - fleet.one.logged_calls as i64;
    println!(
        "    calls independent of N:                 {} ({} calls for 1 endpoint, {} for {}; {:+} from chunked filters and GetMetricData's 500-query limit)",
        yes_no(grew.unsigned_abs() as usize <= many.endpoints / 50),
        fleet.one.logged_calls,
        many.logged_calls,
        many.endpoints,
        grew
    );
    let peak = fleet.many.iter().map(|r| r.peak_mb).fold(0.0, f64::max);
    println!(
        "    fleet memory < {TARGET_FLEET_MEMORY_MB:.0} MB:                   {} ({peak:.1} MB peak)",
        yes_no(peak < TARGET_FLEET_MEMORY_MB)
    );
    let replay = fleet.replay.median();
    println!(
        "    replay well under a second (<= {:.0} ms): {} ({})",
        TARGET_REPLAY_SECONDS * 1000.0,
        yes_no(replay.as_secs_f64() <= TARGET_REPLAY_SECONDS),
        ms(replay)
    );
}

// ---------------------------------------------------------------------------------
// Measurement: what changed (issue 15), one failing endpoint, --changes off vs on
// ---------------------------------------------------------------------------------

struct ChangesRun {
    wall: Duration,
    lookups: u64,
    timings: Vec<CallTiming>,
    started: Instant,
    events: usize,
}

/// A world of its own with flow logs (so the run's last stage is the Logs Insights query
/// the lookups are to overlap), its endpoint security group's 8443 rule revoked and
/// three CloudTrail events recorded on that group (two pages at the launcher's page size);
/// then `--changes off` and `--changes on` (the default) in turn, `runs` times each.
fn changes_on_a_failing_endpoint(settings: &Settings) -> (Vec<ChangesRun>, Vec<ChangesRun>) {
    use support::trail::{event, now_epoch, record};
    let emulator = Emulator::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let world = runtime.block_on(World::build(
        &emulator.url(),
        &Spec {
            flow_log_group: Some("bench-flow-logs"),
            ..Spec::default()
        },
    ));
    let sg = world.endpoint_sg.clone();
    runtime.block_on(async {
        let ec2 =
            aws_sdk_ec2::Client::new(&sdk_config(&emulator.url(), consumer_credentials()).await);
        ec2.revoke_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(8443)
                    .to_port(8443)
                    .ip_ranges(
                        aws_sdk_ec2::types::IpRange::builder()
                            .cidr_ip(support::world::VPC_CIDR)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("RevokeSecurityGroupIngress");
    });
    let now = now_epoch();
    let account = support::world::CONSUMER_ACCOUNT;
    let events: Vec<Value> = [
        ("RevokeSecurityGroupIngress", 42 * 60),
        ("AuthorizeSecurityGroupIngress", 3 * 3600),
        ("AuthorizeSecurityGroupIngress", 20 * 3600),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, ago))| {
        event(
            &format!("bench-{i}"),
            account,
            "ec2.amazonaws.com",
            name,
            "AWS::EC2::SecurityGroup",
            &sg,
            now - ago,
            serde_json::json!({"groupId": sg}),
        )
    })
    .collect();
    record(emulator.port(), account, &events);
    let proxy = runtime.block_on(FaultProxy::start(SocketAddr::from((
        [127, 0, 0, 1],
        emulator.port(),
    ))));
    proxy.set_faults([Fault::delay(settings.rtt)]);
    let run = |changes: &str| {
        let mut command = Invocation::new(&world.endpoint_id, &proxy.url())
            .arg("--changes")
            .arg(changes)
            .command();
        proxy.reset_counters();
        let started = Instant::now();
        let out = command.output().expect("run pl-doctor");
        let wall = started.elapsed();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pl-doctor gave no JSON report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let sg_check = json["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "endpoint-sg-ingress"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            sg_check["status"], "fail",
            "the endpoint fails at its security group"
        );
        ChangesRun {
            wall,
            lookups: proxy.counters().operation("LookupEvents").seen,
            timings: proxy.timings(),
            started,
            events: sg_check["changes"]["events"].as_array().map_or(0, Vec::len),
        }
    };
    run("on"); // warm-up
    let mut off = Vec::new();
    let mut on = Vec::new();
    for _ in 0..settings.runs {
        off.push(run("off"));
        on.push(run("on"));
    }
    drop(proxy);
    drop(emulator);
    (off, on)
}

fn print_changes(off: &[ChangesRun], on: &[ChangesRun]) {
    let walls = |runs: &[ChangesRun]| Samples(runs.iter().map(|r| r.wall).collect());
    let (off_w, on_w) = (walls(off), walls(on));
    println!("\n## What changed (issue 15): one failing endpoint (security group rule revoked, flow logs on), --changes off vs on");
    println!(
        "  --changes off: median {} (min {}, max {})",
        ms(off_w.median()),
        ms(off_w.min()),
        ms(off_w.max())
    );
    println!(
        "  --changes on:  median {} (min {}, max {})",
        ms(on_w.median()),
        ms(on_w.min()),
        ms(on_w.max())
    );
    let added = on_w.median().as_secs_f64() - off_w.median().as_secs_f64();
    println!(
        "  added wall time (median on - median off): {:+.0} ms",
        added * 1000.0
    );
    let mut order: Vec<&ChangesRun> = on.iter().collect();
    order.sort_by_key(|r| r.wall);
    let median = order[(order.len() - 1) / 2];
    println!(
        "  LookupEvents calls per run: {} (resources named by failing/warning checks, paged; launcher page size 2); events shown under endpoint-sg-ingress: {}",
        median.lookups, median.events
    );
    let at = |t: Instant| (t - median.started).as_secs_f64() * 1000.0;
    let lookups: Vec<&CallTiming> = median
        .timings
        .iter()
        .filter(|t| t.operation == "LookupEvents")
        .collect();
    let insights: Vec<&CallTiming> = median
        .timings
        .iter()
        .filter(|t| t.service == "logs")
        .collect();
    if let (Some(first), Some(last)) = (lookups.first(), lookups.last()) {
        println!(
            "  LookupEvents: first sent at +{:.0} ms, last answered at +{:.0} ms (of the median run's {})",
            at(first.arrived),
            last.answered.map(at).unwrap_or(f64::NAN),
            ms(median.wall)
        );
    }
    if let (Some(first), Some(last)) = (insights.first(), insights.last()) {
        println!(
            "  Logs Insights (logs:*): first sent at +{:.0} ms, last answered at +{:.0} ms: the lookups run beside it",
            at(first.arrived),
            last.answered.map(at).unwrap_or(f64::NAN)
        );
    }
}

fn main() {
    // `PL_BENCH_ONLY=changes`: only the what-changed measurement (no AWS CLI needed).
    if std::env::var("PL_BENCH_ONLY").as_deref() == Ok("changes") {
        let settings = Settings {
            rtt: Duration::from_millis(env_number("PL_BENCH_RTT_MS", 50)),
            runs: env_number("PL_BENCH_RUNS", 5).max(1) as usize,
            cli_runs: 0,
            aws: PathBuf::new(),
            fleet: 0,
        };
        println!("# pl-doctor latency benchmark: what changed (issue 15) only");
        println!("  pl-doctor: {PL_DOCTOR} (profile {})", build_profile());
        println!(
            "  emulator:  moto 5.2.5 behind the fault proxy, every call held {} (PL_BENCH_RTT_MS); {} runs each (PL_BENCH_RUNS)",
            ms(settings.rtt),
            settings.runs
        );
        let (off, on) = changes_on_a_failing_endpoint(&settings);
        print_changes(&off, &on);
        return;
    }
    let settings = Settings::from_env();
    let aws_version = Command::new(&settings.aws)
        .arg("--version")
        .output()
        .map(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text).trim().to_owned()
        })
        .unwrap_or_else(|e| panic!("{} --version: {e}", settings.aws.display()));
    println!("# pl-doctor latency benchmark: one endpoint vs the manual runbook");
    println!("  pl-doctor: {PL_DOCTOR} (profile {})", build_profile());
    println!("  AWS CLI:   {aws_version}");
    println!(
        "  emulator:  moto 5.2.5 behind the fault proxy, every call held {} (PL_BENCH_RTT_MS); pl-doctor runs {} (PL_BENCH_RUNS), runbook runs {} (PL_BENCH_CLI_RUNS)",
        ms(settings.rtt),
        settings.runs,
        settings.cli_runs
    );
    println!("  building the healthy two-account world (tests/support/world.rs) …");
    let rig = Rig::start(settings);

    let start = process_start(&rig);
    print_process_start(&start);
    let round_trip = baseline_round_trip(&rig);
    print_round_trip(&rig, &round_trip);
    let diagnosis = diagnose_one_endpoint(&rig);
    print_diagnosis(&rig, &diagnosis);
    let runbook = cli_runbook(&rig);
    print_runbook(&runbook);
    let fleet = fleet(&rig);
    print_fleet(&rig, &fleet);
    let (off, on) = changes_on_a_failing_endpoint(&rig.settings);
    print_changes(&off, &on);
    print_summary(&rig, &start, &round_trip, &diagnosis, &runbook, &fleet);
}
