//! `--watch [INTERVAL]`: the loop an on-call engineer runs while a fix rolls out.
//!
//! Each run is one call of the diagnosis `app` hands in (`app::diagnose_once` over the
//! scope: one endpoint, a service, a fleet; passing it in keeps the imports one-way,
//! app → watch), rendered as usual and followed by what changed since the previous finished
//! run; then the loop sleeps INTERVAL (from the end of one run to the start of the next)
//! and runs again, until no check fails (exit 0) or Ctrl-C (the last finished run's
//! exit code; 130 when none had finished).
//!
//! Output, by where stdout goes:
//! * a terminal: the screen is cleared and redrawn each run, and a status line on
//!   stderr counts down to the next run;
//! * anything else (a pipe, CI, a test): each run is appended after a separator line
//!   naming the run and its time, with no escape codes;
//! * `-o json`: one compact JSON report per line per run (NDJSON) on stdout; the
//!   changes and notes go to stderr so stdout stays machine-readable.
//!
//! A run that cannot diagnose (exit-3 condition, e.g. the API briefly unreachable) is
//! reported in one line and the watch goes on; bad input (exit 2) stops it at once.
//!
//! The run happens on a worker thread while this thread waits for either its result
//! or Ctrl-C, so an interrupt during a slow run is answered at once: the run in flight
//! is abandoned (only this thread writes to stdout, so nothing half-written is left).

use crate::cli::OutputFormat;
use crate::evaluated::Evaluated;
use crate::exit::{self, Failure};
use crate::render::Style;
use pl_checks::check::{CheckResult, Status};
use pl_checks::report::Verdict;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The exit code when Ctrl-C stops the watch before any run finished: the shell's
/// convention for a process ended by SIGINT (128 + 2), as there is no run to report on.
pub const INTERRUPTED_BEFORE_FIRST_RUN: u8 = 130;

/// Clears the screen and homes the cursor (the scrollback is left alone).
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";
/// Returns to the start of the line and erases it: the status line is rewritten in place.
const ERASE_LINE: &str = "\r\x1b[2K";
/// Shows the cursor again, in case a progress spinner of the abandoned run hid it.
const SHOW_CURSOR: &str = "\x1b[?25h";

// ---------------------------------------------------------------------------------
// What changed between two runs (pure).
// ---------------------------------------------------------------------------------

/// One difference between two evaluated runs of the same scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A check's status changed. `subject` is empty for a one-endpoint run, else the
    /// endpoint id (fleet, service) or `service` (the provider view's service-wide checks).
    Check {
        subject: String,
        id: String,
        from: Status,
        to: Status,
    },
    Verdict {
        subject: String,
        from: Verdict,
        to: Verdict,
    },
    RootCause {
        subject: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// An endpoint that the previous run did not see (fleet, service).
    Appeared { subject: String, verdict: Verdict },
    /// An endpoint that the previous run saw and this one does not.
    Disappeared { subject: String, was: Verdict },
    /// The worst verdict over a whole fleet or service.
    Overall { from: Verdict, to: Verdict },
    /// A CloudTrail change behind a failing or warning check that the previous run did
    /// not list (it arrived, or its check started failing, between the runs).
    Trail {
        subject: String,
        id: String,
        line: String,
    },
}

fn prefix(subject: &str) -> String {
    if subject.is_empty() {
        String::new()
    } else {
        format!("{subject}: ")
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
        match self {
            Change::Check {
                subject,
                id,
                from,
                to,
            } => write!(f, "{}{id}: {from} → {to}", prefix(subject)),
            Change::Verdict { subject, from, to } => write!(
                f,
                "{}verdict: {} → {}",
                prefix(subject),
                from.as_str(),
                to.as_str()
            ),
            Change::RootCause { subject, from, to } => write!(
                f,
                "{}root cause: {} → {}",
                prefix(subject),
                or_none(from),
                or_none(to)
            ),
            Change::Appeared { subject, verdict } => {
                write!(f, "{subject}: appeared (verdict {})", verdict.as_str())
            }
            Change::Disappeared { subject, was } => {
                write!(f, "{subject}: no longer found (was {})", was.as_str())
            }
            Change::Overall { from, to } => {
                write!(f, "overall verdict: {} → {}", from.as_str(), to.as_str())
            }
            Change::Trail { subject, id, line } => {
                write!(f, "{}{id}: new change: {line}", prefix(subject))
            }
        }
    }
}

/// One evaluated unit of a run: an endpoint's report or a service's summary.
struct Unit<'a> {
    subject: String,
    verdict: Verdict,
    root_cause: Option<&'a str>,
    checks: &'a [CheckResult],
}

/// The units of a run, and its overall verdict when it has several.
fn units(evaluated: &Evaluated) -> (Option<Verdict>, Vec<Unit<'_>>) {
    match evaluated {
        Evaluated::One(r) => (
            None,
            vec![Unit {
                subject: String::new(),
                verdict: r.verdict,
                root_cause: r.root_cause.as_deref(),
                checks: &r.checks,
            }],
        ),
        Evaluated::Many(f) => {
            let service = f.service.iter().map(|s| Unit {
                subject: "service".into(),
                verdict: s.verdict,
                root_cause: s.root_cause.as_deref(),
                checks: &s.checks,
            });
            let endpoints = f.reports.iter().map(|r| Unit {
                subject: r.target.endpoint_id.clone(),
                verdict: r.verdict,
                root_cause: r.root_cause.as_deref(),
                checks: &r.checks,
            });
            (Some(f.verdict), service.chain(endpoints).collect())
        }
    }
}

/// What changed from `previous` to `next`, per (endpoint, check): check statuses in
/// runbook order, then the verdict and the root cause, for each unit in `next`'s order
/// (worst first in a fleet); then the endpoints no longer seen, then the overall verdict.
pub fn diff(previous: &Evaluated, next: &Evaluated) -> Vec<Change> {
    let (previous_overall, before) = units(previous);
    let (next_overall, after) = units(next);
    let mut changes = Vec::new();
    for unit in &after {
        let Some(old) = before.iter().find(|u| u.subject == unit.subject) else {
            changes.push(Change::Appeared {
                subject: unit.subject.clone(),
                verdict: unit.verdict,
            });
            continue;
        };
        for check in unit.checks {
            if let Some(was) = old.checks.iter().find(|c| c.id == check.id) {
                if was.status != check.status {
                    changes.push(Change::Check {
                        subject: unit.subject.clone(),
                        id: check.id.clone(),
                        from: was.status,
                        to: check.status,
                    });
                }
            }
        }
        let seen: Vec<&str> = old
            .checks
            .iter()
            .filter_map(|c| c.changes.as_ref())
            .flat_map(|c| c.events.iter().map(|e| e.event_id.as_str()))
            .collect();
        let mut listed: Vec<&str> = Vec::new();
        for check in unit.checks {
            for e in check.changes.iter().flat_map(|c| &c.events) {
                if !seen.contains(&e.event_id.as_str()) && !listed.contains(&e.event_id.as_str()) {
                    listed.push(&e.event_id);
                    changes.push(Change::Trail {
                        subject: unit.subject.clone(),
                        id: check.id.clone(),
                        line: e.line(),
                    });
                }
            }
        }
        if old.verdict != unit.verdict {
            changes.push(Change::Verdict {
                subject: unit.subject.clone(),
                from: old.verdict,
                to: unit.verdict,
            });
        }
        if old.root_cause != unit.root_cause {
            changes.push(Change::RootCause {
                subject: unit.subject.clone(),
                from: old.root_cause.map(str::to_owned),
                to: unit.root_cause.map(str::to_owned),
            });
        }
    }
    for old in &before {
        if !after.iter().any(|u| u.subject == old.subject) {
            changes.push(Change::Disappeared {
                subject: old.subject.clone(),
                was: old.verdict,
            });
        }
    }
    if let (Some(from), Some(to)) = (previous_overall, next_overall) {
        if from != to {
            changes.push(Change::Overall { from, to });
        }
    }
    changes
}

// ---------------------------------------------------------------------------------
// What each run prints (pure).
// ---------------------------------------------------------------------------------

/// A run's number and the time it started (UTC, to the second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub run: u32,
    pub clock: String,
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {} · {}", self.run, self.clock)
    }
}

/// `HH:MM:SS UTC` of an RFC 3339 UTC timestamp such as a report's `started_at`.
pub fn clock_of(rfc3339: &str) -> String {
    let time = rfc3339.split_once('T').map_or(rfc3339, |(_, t)| t);
    format!("{} UTC", time.get(..8).unwrap_or(time))
}

fn clock_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:02}:{:02}:{:02} UTC",
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// "changed since …" (one change a line) or "no change since …"; nothing for the first run.
pub fn changes_text(since: Option<&Stamp>, changes: &[Change]) -> String {
    let Some(since) = since else {
        return String::new();
    };
    if changes.is_empty() {
        return format!("no change since {} (run {})\n", since.clock, since.run);
    }
    let mut text = format!("changed since {} (run {}):\n", since.clock, since.run);
    for change in changes {
        text.push_str(&format!("  {change}\n"));
    }
    text
}

/// The same on one line, for stderr beside NDJSON.
pub fn changes_line(since: Option<&Stamp>, changes: &[Change]) -> Option<String> {
    let since = since?;
    Some(if changes.is_empty() {
        format!("no change since {} (run {})", since.clock, since.run)
    } else {
        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
        format!(
            "changed since {} (run {}): {}",
            since.clock,
            since.run,
            list.join("; ")
        )
    })
}

/// How runs are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// stdout is a terminal: clear and redraw.
    Redraw,
    /// stdout is a pipe or a file: append, with a separator line per run.
    Append,
    /// `-o json`: one compact report per line.
    Ndjson,
}

impl Layout {
    pub fn choose(format: OutputFormat, stdout_is_terminal: bool) -> Layout {
        match (format, stdout_is_terminal) {
            (OutputFormat::Json, _) => Layout::Ndjson,
            (_, true) => Layout::Redraw,
            (_, false) => Layout::Append,
        }
    }
}

/// What one finished run writes to stdout and to stderr (each ends with a newline, or is empty).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub stdout: String,
    pub stderr: String,
}

/// The frame of a finished run. `body` is the rendered report (table, Markdown) or its
/// compact JSON; `stop` the closing line when the watch ends with this run.
pub fn frame(
    layout: Layout,
    stamp: &Stamp,
    body: &str,
    changes: (Option<&Stamp>, &[Change]),
    stop: Option<&str>,
) -> Frame {
    let (since, changes) = changes;
    let with_newline = |s: &str| {
        if s.ends_with('\n') {
            s.to_owned()
        } else {
            format!("{s}\n")
        }
    };
    match layout {
        Layout::Redraw | Layout::Append => {
            let head = match layout {
                Layout::Redraw => format!("{CLEAR_SCREEN}pl-doctor --watch · {stamp}\n\n"),
                _ => format!("── {stamp} ──\n"),
            };
            let mut stdout = head + &with_newline(body);
            let changed = changes_text(since, changes);
            if !changed.is_empty() {
                stdout.push('\n');
                stdout.push_str(&changed);
            }
            if let Some(stop) = stop {
                stdout.push_str(&with_newline(stop));
            }
            Frame {
                stdout,
                stderr: String::new(),
            }
        }
        Layout::Ndjson => {
            let mut stderr = String::new();
            if let Some(line) = changes_line(since, changes) {
                stderr.push_str(&format!("{stamp}: {line}\n"));
            }
            if let Some(stop) = stop {
                stderr.push_str(&with_newline(stop));
            }
            Frame {
                stdout: with_newline(body.trim_end()),
                stderr,
            }
        }
    }
}

/// "32s", "2m 5s": an elapsed time to the second.
fn elapsed_text(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// The line that ends a watch because no check fails.
pub fn stop_line(run: u32, elapsed: Duration) -> String {
    if run == 1 {
        format!("no check fails (run 1, after {})", elapsed_text(elapsed))
    } else {
        format!(
            "no check fails any more (run {run}, after {})",
            elapsed_text(elapsed)
        )
    }
}

/// "run 4 · every 10s · next run in 7s · Ctrl-C to stop"
pub fn status_line(run: u32, interval: Duration, remaining: Duration) -> String {
    // Round up: "next run in 0s" would be shown while there is still time to wait.
    let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
    format!(
        "run {run} · every {} · next run in {}s · Ctrl-C to stop",
        humantime::format_duration(interval),
        secs
    )
}

/// A run's exit code, remembered for Ctrl-C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    pub run: u32,
    pub code: u8,
}

/// What Ctrl-C prints (stderr) and the exit code it leaves with.
pub fn interrupted(in_flight: Option<u32>, last: Option<Finished>) -> (String, u8) {
    let what = match in_flight {
        Some(run) => format!("stopped by Ctrl-C (run {run} abandoned)"),
        None => "stopped by Ctrl-C".to_owned(),
    };
    match last {
        Some(Finished { run, code }) => (
            format!("pl-doctor: {what}; exit code {code}, that of run {run}, the last to finish"),
            code,
        ),
        None => (
            format!(
                "pl-doctor: {what} before any run finished; exit code {INTERRUPTED_BEFORE_FIRST_RUN}"
            ),
            INTERRUPTED_BEFORE_FIRST_RUN,
        ),
    }
}

fn compact_json(evaluated: &Evaluated) -> String {
    match evaluated {
        Evaluated::One(r) => serde_json::to_string(r),
        Evaluated::Many(f) => serde_json::to_string(f),
    }
    .expect("reports always serialize")
}

// ---------------------------------------------------------------------------------
// The loop (the imperative part).
// ---------------------------------------------------------------------------------

enum Event {
    /// The run in flight ended: its result, or the panic it raised.
    Finished(std::thread::Result<Result<Evaluated, Failure>>),
    Interrupted,
}

/// One run of the diagnosis, shared with the worker threads.
type Diagnose = dyn Fn() -> Result<Evaluated, Failure> + Send + Sync;

/// Where output goes and how it looks.
struct Terminal {
    layout: Layout,
    format: OutputFormat,
    style: Style,
    /// stderr is a terminal: the status line is rewritten in place.
    stderr_tty: bool,
}

impl Terminal {
    /// Writes to stdout; false when its reader has gone (`| head`): the watch stops.
    fn out(&self, text: &str) -> Result<bool, Failure> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(Failure::Output(format!("cannot write output: {e}"))),
        }
    }

    /// Writes to stderr, on a line of its own (after erasing the status line on a terminal).
    fn note(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let erase = if self.stderr_tty { ERASE_LINE } else { "" };
        let mut err = std::io::stderr().lock();
        let _ = err
            .write_all(format!("{erase}{text}").as_bytes())
            .and_then(|()| err.flush());
    }

    /// The countdown: rewritten in place on a terminal; else one line per wait.
    fn status(&self, line: &str, first: bool) {
        let mut err = std::io::stderr().lock();
        let text = if self.stderr_tty {
            format!("{ERASE_LINE}{line}")
        } else if first {
            format!("{line}\n")
        } else {
            return;
        };
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    }

    fn clear_status(&self) {
        if self.stderr_tty {
            let mut err = std::io::stderr().lock();
            let _ = err
                .write_all(ERASE_LINE.as_bytes())
                .and_then(|()| err.flush());
        }
    }

    /// Leaves the terminal as it was found: status line erased, cursor shown.
    fn restore(&self) {
        if self.stderr_tty {
            let mut err = std::io::stderr().lock();
            let _ = err
                .write_all(format!("{ERASE_LINE}{SHOW_CURSOR}").as_bytes())
                .and_then(|()| err.flush());
        }
    }

    fn body(&self, evaluated: &Evaluated) -> String {
        match self.layout {
            Layout::Ndjson => compact_json(evaluated),
            Layout::Redraw | Layout::Append => evaluated.render(self.format, self.style),
        }
    }
}

/// Sends `Event::Interrupted` on each Ctrl-C (SIGINT); a second one while the first is
/// being handled leaves at once.
fn forward_interrupts(events: Sender<Event>, stderr_tty: bool) -> Result<(), Failure> {
    use signal_hook::consts::SIGINT;
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT]).map_err(|e| Failure::CannotDiagnose {
            reason: format!("--watch: cannot handle Ctrl-C: {e}"),
            hint: "run without --watch".into(),
        })?;
    std::thread::Builder::new()
        .name("pl-doctor-ctrl-c".into())
        .spawn(move || {
            for (seen, _) in signals.forever().enumerate() {
                if seen > 0 {
                    if stderr_tty {
                        eprint!("{ERASE_LINE}{SHOW_CURSOR}");
                    }
                    std::process::exit(i32::from(INTERRUPTED_BEFORE_FIRST_RUN));
                }
                let _ = events.send(Event::Interrupted);
            }
        })
        .map_err(|e| Failure::CannotDiagnose {
            reason: format!("--watch: cannot start the Ctrl-C handler: {e}"),
            hint: "check the process limits (threads)".into(),
        })?;
    Ok(())
}

/// Starts one run on a worker thread; its result arrives as `Event::Finished`.
fn start_run(diagnose: &Arc<Diagnose>, events: &Sender<Event>, run: u32) -> Result<(), Failure> {
    let diagnose = Arc::clone(diagnose);
    let events = events.clone();
    std::thread::Builder::new()
        .name(format!("pl-doctor-run-{run}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| diagnose()));
            let _ = events.send(Event::Finished(result));
        })
        .map(drop)
        .map_err(|e| Failure::CannotDiagnose {
            reason: format!("--watch: cannot start run {run}: {e}"),
            hint: "check the process limits (threads)".into(),
        })
}

/// Re-runs `diagnose` (of `what`) every `interval` until no check fails or Ctrl-C.
pub fn run(
    what: &str,
    format: OutputFormat,
    diagnose: impl Fn() -> Result<Evaluated, Failure> + Send + Sync + 'static,
    interval: Duration,
    style: Style,
) -> Result<u8, Failure> {
    let terminal = Terminal {
        layout: Layout::choose(format, std::io::stdout().is_terminal()),
        format,
        style,
        stderr_tty: std::io::stderr().is_terminal(),
    };
    let (events_tx, events) = mpsc::channel();
    forward_interrupts(events_tx.clone(), terminal.stderr_tty)?;
    terminal.note(&format!(
        "pl-doctor: watching {} every {}; stops when no check fails, or on Ctrl-C\n",
        what,
        humantime::format_duration(interval)
    ));
    let diagnose: Arc<Diagnose> = Arc::new(diagnose);
    let watch_started = Instant::now();
    let mut previous: Option<(Stamp, Evaluated)> = None;
    let mut last: Option<Finished> = None;
    let stop_on_interrupt = |in_flight: Option<u32>, last: Option<Finished>| {
        terminal.restore();
        let (line, code) = interrupted(in_flight, last);
        terminal.note(&format!("{line}\n"));
        Ok(code)
    };
    let mut run = 0u32;
    loop {
        run += 1;
        let stamp = Stamp {
            run,
            clock: clock_now(),
        };
        start_run(&diagnose, &events_tx, run)?;
        // This thread holds a sender, so the channel never closes while it waits.
        let result = match events.recv() {
            Ok(Event::Finished(result)) => result,
            Ok(Event::Interrupted) | Err(_) => return stop_on_interrupt(Some(run), last),
        };
        match result {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(failure @ Failure::CannotDiagnose { .. })) => {
                // Perhaps the API is briefly unreachable: the next run may succeed.
                terminal.note(&format!("pl-doctor: {stamp}: {failure}; still watching\n"));
                last = Some(Finished {
                    run,
                    code: failure.code(),
                });
            }
            Ok(Err(failure)) => {
                terminal.restore();
                return Err(failure);
            }
            Ok(Ok(evaluated)) => {
                let code = evaluated.exit_code();
                let stamp = Stamp {
                    run,
                    clock: match &evaluated {
                        Evaluated::One(r) => clock_of(&r.started_at),
                        Evaluated::Many(f) => clock_of(&f.started_at),
                    },
                };
                let changes = previous
                    .as_ref()
                    .map(|(_, before)| diff(before, &evaluated))
                    .unwrap_or_default();
                let stop =
                    (code == exit::NO_FAILURE).then(|| stop_line(run, watch_started.elapsed()));
                let frame = frame(
                    terminal.layout,
                    &stamp,
                    &terminal.body(&evaluated),
                    (previous.as_ref().map(|(s, _)| s), &changes),
                    stop.as_deref(),
                );
                terminal.clear_status();
                let open = terminal.out(&frame.stdout)?;
                terminal.note(&frame.stderr);
                if stop.is_some() || !open {
                    terminal.restore();
                    return Ok(code);
                }
                last = Some(Finished { run, code });
                previous = Some((stamp, evaluated));
            }
        }
        // Wait, counting down on a terminal, until the next run or Ctrl-C.
        let next_run = Instant::now() + interval;
        let mut first = true;
        loop {
            let remaining = next_run.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            terminal.status(&status_line(run, interval, remaining), first);
            first = false;
            // Wake on the second boundary so the countdown ticks whole seconds.
            let tick = Duration::from_nanos(u64::from(remaining.subsec_nanos()));
            let tick = if tick.is_zero() {
                Duration::from_secs(1)
            } else {
                tick
            };
            match events.recv_timeout(tick.min(remaining)) {
                Ok(Event::Interrupted) => return stop_on_interrupt(None, last),
                // No run is in flight while waiting.
                Ok(Event::Finished(_)) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return stop_on_interrupt(None, last),
            }
        }
        terminal.clear_status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pl_checks::check::EvalOptions;
    use pl_checks::fleet::{self, FleetKind, FleetScope, FleetSnapshot};
    use pl_checks::model::Snapshot;
    use pl_checks::report;
    use pl_checks::scenarios;

    fn scenario(name: &str) -> Snapshot {
        scenarios::all()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("scenario {name}"))
            .snapshot
    }

    fn one(name: &str) -> Evaluated {
        Evaluated::One(Box::new(report::build(
            &scenario(name),
            &EvalOptions::default(),
            "2026-11-25T02:10:05.123Z".into(),
            10,
        )))
    }

    /// A fleet of the named scenarios, each under its own endpoint id.
    fn many(endpoints: &[(&str, &str)]) -> Evaluated {
        let snapshots = endpoints
            .iter()
            .map(|(id, name)| {
                let mut s = scenario(name);
                s.consumer.endpoint.id = (*id).to_owned();
                s
            })
            .collect();
        let snapshot = FleetSnapshot {
            fleet_snapshot_version: fleet::FLEET_SNAPSHOT_VERSION,
            kind: FleetKind::Fleet,
            collected_by: "pl-doctor test".into(),
            collected_at: "2026-11-25T02:10:05Z".into(),
            scope: FleetScope {
                region: "us-east-1".into(),
                ..FleetScope::default()
            },
            service: None,
            snapshots,
            endpoint_quotas: vec![],
        };
        Evaluated::Many(Box::new(fleet::build(
            &snapshot,
            &EvalOptions::default(),
            "2026-11-25T02:10:05Z".into(),
            10,
        )))
    }

    fn lines(changes: &[Change]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_fixed_security_group_shows_as_the_check_verdict_and_root_cause_changing() {
        let before = one("endpoint-sg-missing-port");
        let after = one("healthy");
        let Evaluated::One(b) = &before else {
            unreachable!()
        };
        let Evaluated::One(a) = &after else {
            unreachable!()
        };
        let changes = diff(&before, &after);
        let shown = lines(&changes);
        assert!(
            shown.contains(&"endpoint-sg-ingress: fail → pass".to_owned()),
            "{shown:?}"
        );
        assert!(
            shown.contains(&format!("verdict: fail → {}", a.verdict.as_str())),
            "{shown:?}"
        );
        assert!(
            shown.contains(&"root cause: endpoint-sg-ingress → none".to_owned()),
            "{shown:?}"
        );
        // Exactly the checks whose status differs, no more.
        let differing = b
            .checks
            .iter()
            .zip(&a.checks)
            .filter(|(x, y)| x.status != y.status)
            .count();
        let checks = changes
            .iter()
            .filter(|c| matches!(c, Change::Check { .. }))
            .count();
        assert_eq!(checks, differing);
        // And the reverse direction reads the other way round.
        assert!(
            lines(&diff(&after, &before)).contains(&"endpoint-sg-ingress: pass → fail".to_owned())
        );
    }

    /// The failing security group of `endpoint-sg-missing-port` with CloudTrail events.
    fn with_trail(events: &[(&str, &str)]) -> Evaluated {
        use pl_checks::changes::{ChangeFacts, ResourceLookup, Side, TrailEvent};
        let mut s = scenario("endpoint-sg-missing-port");
        let sg = s.consumer.endpoint.security_group_ids[0].clone();
        s.changes = Some(ChangeFacts {
            since: "2026-11-23T10:00:00Z".into(),
            since_seconds: 86400,
            lookups: vec![ResourceLookup {
                resource: sg.clone(),
                side: Side::Consumer,
                account: None,
                region: "us-east-1".into(),
                events: pl_checks::Fact::Known(
                    events
                        .iter()
                        .map(|(id, time)| TrailEvent {
                            event_id: (*id).into(),
                            event_name: "RevokeSecurityGroupIngress".into(),
                            event_time: (*time).into(),
                            event_source: None,
                            username: Some("ci".into()),
                            read_only: Some("false".into()),
                            resources: vec![sg.clone()],
                            cloud_trail_event: serde_json::json!({"requestParameters": {"groupId": sg}}),
                        })
                        .collect(),
                ),
            }],
        });
        Evaluated::One(Box::new(report::build(
            &s,
            &EvalOptions::default(),
            "t".into(),
            1,
        )))
    }

    #[test]
    fn a_change_that_arrived_between_runs_is_shown_once() {
        let before = with_trail(&[("e1", "2026-11-24T09:00:00Z")]);
        let after = with_trail(&[
            ("e2", "2026-11-24T09:58:00Z"),
            ("e1", "2026-11-24T09:00:00Z"),
        ]);
        let shown = lines(&diff(&before, &after));
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(
            shown[0].starts_with("endpoint-sg-ingress: new change: changed 2 min ago")
                && shown[0].contains("RevokeSecurityGroupIngress by ci"),
            "{shown:?}"
        );
        assert_eq!(diff(&after, &after.clone()), []);
    }

    #[test]
    fn identical_runs_have_no_changes() {
        let run = one("endpoint-sg-missing-port");
        assert_eq!(diff(&run, &run.clone()), []);
        let fleet = many(&[
            ("vpce-0000000000000000a", "healthy"),
            ("vpce-0000000000000000b", "nacl-deny"),
        ]);
        assert_eq!(diff(&fleet, &fleet.clone()), []);
    }

    #[test]
    fn fleet_changes_name_the_endpoint_and_endpoints_that_come_and_go() {
        let before = many(&[
            ("vpce-0000000000000000a", "healthy"),
            ("vpce-0000000000000000b", "endpoint-sg-missing-port"),
            ("vpce-0000000000000000c", "healthy"),
        ]);
        let after = many(&[
            ("vpce-0000000000000000a", "healthy"),
            ("vpce-0000000000000000b", "healthy"),
            ("vpce-0000000000000000d", "nacl-deny"),
        ]);
        let shown = lines(&diff(&before, &after));
        for want in [
            "vpce-0000000000000000b: endpoint-sg-ingress: fail → pass",
            "vpce-0000000000000000b: root cause: endpoint-sg-ingress → none",
            "vpce-0000000000000000d: appeared (verdict fail)",
        ] {
            assert!(shown.contains(&want.to_owned()), "{want} in {shown:?}");
        }
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with("vpce-0000000000000000c: no longer found (was ")),
            "{shown:?}"
        );
        // Unchanged endpoints say nothing; the overall verdict stays fail (d fails).
        assert!(!shown
            .iter()
            .any(|l| l.starts_with("vpce-0000000000000000a")));
        assert!(!shown.iter().any(|l| l.starts_with("overall")), "{shown:?}");
        let fixed = many(&[("vpce-0000000000000000a", "healthy")]);
        let shown = lines(&diff(&after, &fixed));
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with("overall verdict: fail → ")),
            "{shown:?}"
        );
    }

    #[test]
    fn changes_read_as_changed_or_no_change_since_the_previous_run() {
        let since = Stamp {
            run: 3,
            clock: "02:10:05 UTC".into(),
        };
        assert_eq!(changes_text(None, &[]), "");
        assert_eq!(
            changes_text(Some(&since), &[]),
            "no change since 02:10:05 UTC (run 3)\n"
        );
        let changes = [
            Change::Check {
                subject: String::new(),
                id: "endpoint-sg-ingress".into(),
                from: Status::Fail,
                to: Status::Pass,
            },
            Change::RootCause {
                subject: String::new(),
                from: Some("endpoint-sg-ingress".into()),
                to: None,
            },
        ];
        assert_eq!(
            changes_text(Some(&since), &changes),
            "changed since 02:10:05 UTC (run 3):\n  endpoint-sg-ingress: fail → pass\n  root cause: endpoint-sg-ingress → none\n"
        );
        assert_eq!(
            changes_line(Some(&since), &changes).as_deref(),
            Some("changed since 02:10:05 UTC (run 3): endpoint-sg-ingress: fail → pass; root cause: endpoint-sg-ingress → none")
        );
    }

    #[test]
    fn frames_append_with_a_separator_redraw_on_a_terminal_and_keep_ndjson_clean() {
        let stamp = Stamp {
            run: 2,
            clock: "02:10:15 UTC".into(),
        };
        let since = Stamp {
            run: 1,
            clock: "02:10:05 UTC".into(),
        };
        let change = [Change::Verdict {
            subject: String::new(),
            from: Verdict::Fail,
            to: Verdict::Pass,
        }];
        let appended = frame(
            Layout::Append,
            &stamp,
            "REPORT\n",
            (Some(&since), &change),
            Some("no check fails any more (run 2, after 12s)"),
        );
        assert_eq!(
            appended.stdout,
            "── run 2 · 02:10:15 UTC ──\nREPORT\n\nchanged since 02:10:05 UTC (run 1):\n  verdict: fail → pass\nno check fails any more (run 2, after 12s)\n"
        );
        assert!(
            !appended.stdout.contains('\x1b'),
            "no escape codes in a pipe"
        );
        assert_eq!(appended.stderr, "");

        let redrawn = frame(Layout::Redraw, &stamp, "REPORT\n", (None, &[]), None);
        assert!(redrawn.stdout.starts_with(CLEAR_SCREEN));
        assert!(redrawn.stdout.contains("run 2 · 02:10:15 UTC\n\nREPORT\n"));

        let json = frame(
            Layout::Ndjson,
            &stamp,
            "{\"verdict\":\"pass\"}",
            (Some(&since), &change),
            Some("no check fails any more (run 2, after 12s)"),
        );
        assert_eq!(json.stdout, "{\"verdict\":\"pass\"}\n");
        assert_eq!(
            json.stderr,
            "run 2 · 02:10:15 UTC: changed since 02:10:05 UTC (run 1): verdict: fail → pass\nno check fails any more (run 2, after 12s)\n"
        );
    }

    #[test]
    fn compact_json_is_one_line_and_the_same_report() {
        let run = one("endpoint-sg-missing-port");
        let line = compact_json(&run);
        assert!(!line.contains('\n'));
        let Evaluated::One(r) = &run else {
            unreachable!()
        };
        let back: report::Report = serde_json::from_str(&line).expect("a report");
        assert_eq!(&back, &**r);
        let fleet = many(&[("vpce-0000000000000000a", "healthy")]);
        assert!(!compact_json(&fleet).contains('\n'));
    }

    #[test]
    fn status_stop_and_interrupt_lines() {
        assert_eq!(clock_of("2026-11-25T02:10:05.123456Z"), "02:10:05 UTC");
        assert_eq!(clock_of("2026-11-25T02:10:05Z"), "02:10:05 UTC");
        assert_eq!(
            status_line(4, Duration::from_secs(10), Duration::from_millis(6200)),
            "run 4 · every 10s · next run in 7s · Ctrl-C to stop"
        );
        assert_eq!(
            stop_line(4, Duration::from_millis(32_900)),
            "no check fails any more (run 4, after 32s)"
        );
        assert_eq!(
            stop_line(1, Duration::from_secs(125)),
            "no check fails (run 1, after 2m 5s)"
        );
        let (line, code) = interrupted(Some(5), Some(Finished { run: 4, code: 1 }));
        assert_eq!(code, 1);
        assert!(
            line.contains("run 5 abandoned") && line.contains("run 4"),
            "{line}"
        );
        let (line, code) = interrupted(None, Some(Finished { run: 3, code: 3 }));
        assert_eq!(code, 3, "{line}");
        let (_, code) = interrupted(Some(1), None);
        assert_eq!(code, INTERRUPTED_BEFORE_FIRST_RUN);
    }
}
