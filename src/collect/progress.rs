//! Progress on stderr while collecting (a spinner with the stage and the count of
//! calls done), only when stderr is a terminal, the call log every stage adds to, and
//! the overall `--timeout` deadline: every AWS call of the collector goes through
//! [`Stage::call`], so that one place bounds them all.

use crate::collect::errors::{classify, CallFailure, FailureKind};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::future::Future;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// One AWS call the collector made, for the call log (`PL_DOCTOR_CALL_LOG=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub stage: &'static str,
    pub action: &'static str,
    pub ok: bool,
}

/// Counts calls, shows the spinner, and classifies failures in one place.
pub struct Tracker {
    bar: Option<ProgressBar>,
    /// The overall deadline: a call still in flight then is dropped (its connection
    /// closed) and fails as `DeadlinePassed`; a call not started by then is not made.
    deadline: Option<Instant>,
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    stage: &'static str,
    /// What a many-endpoint run has reached ("endpoints: 200 found", "network checks
    /// 137/200"), shown before the stage.
    headline: String,
    started: usize,
    log: Vec<CallRecord>,
}

impl Tracker {
    /// A tracker whose calls are bounded by `deadline` (the run's `--timeout`).
    pub fn with_deadline(deadline: Instant) -> Self {
        Tracker {
            deadline: Some(deadline),
            ..Tracker::new()
        }
    }

    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Tracker {
            bar,
            deadline: None,
            state: Mutex::new(TrackerState::default()),
        }
    }

    /// Enter a dependency stage: calls made through the returned handle are logged
    /// under its name (consumer and provider stages run side by side).
    pub fn stage(&self, name: &'static str) -> Stage<'_> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.stage = name;
        self.redraw(&s);
        Stage {
            tracker: self,
            name,
        }
    }

    fn redraw(&self, s: &TrackerState) {
        if let Some(bar) = &self.bar {
            let done = s.log.len();
            let headline = if s.headline.is_empty() {
                String::new()
            } else {
                format!("{} · ", s.headline)
            };
            bar.set_message(format!(
                "collecting: {headline}{} · {done}/{} AWS calls done",
                s.stage, s.started
            ));
        }
    }

    /// Show where a many-endpoint run is (counts of endpoints), beside the call counts.
    pub fn headline(&self, text: String) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.headline = text;
        self.redraw(&s);
    }

    fn count_start(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.started += 1;
        self.redraw(&s);
    }

    /// [`Tracker::finish`], then with `PL_DOCTOR_CALL_LOG` set, every call and their
    /// number on stderr (what the benchmark and the call-count tests read).
    pub fn finish_and_log(&self) {
        let calls = self.finish();
        if std::env::var_os("PL_DOCTOR_CALL_LOG").is_some() {
            for c in &calls {
                eprintln!(
                    "pl-doctor: call {} {} {}",
                    c.stage,
                    c.action,
                    if c.ok { "ok" } else { "failed" }
                );
            }
            eprintln!("pl-doctor: {} AWS calls", calls.len());
        }
    }

    pub fn finish(&self) -> Vec<CallRecord> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.log.clone()
    }
}

/// A dependency stage of the collection.
#[derive(Clone, Copy)]
pub struct Stage<'a> {
    tracker: &'a Tracker,
    name: &'static str,
}

impl Stage<'_> {
    /// Run one AWS call needing IAM `action`, counting it and classifying its failure.
    /// The overall deadline bounds it: past it the call is dropped and fails as
    /// [`FailureKind::DeadlinePassed`] (the SDK's own per-attempt timeouts and retries,
    /// config.rs, run inside this bound).
    pub async fn call<T, E>(
        &self,
        action: &'static str,
        fut: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, CallFailure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.bounded_call(action, self.tracker.deadline, fut).await
    }

    /// Like [`Stage::call`], but bounded by `grace` from now instead of the overall
    /// deadline: for the clean-up a run still owes once the deadline has passed
    /// (logs:StopQuery, so an abandoned Logs Insights scan stops billing).
    pub async fn call_past_deadline<T, E>(
        &self,
        action: &'static str,
        grace: Duration,
        fut: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, CallFailure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.bounded_call(action, Some(Instant::now() + grace), fut)
            .await
    }

    async fn bounded_call<T, E>(
        &self,
        action: &'static str,
        deadline: Option<Instant>,
        fut: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, CallFailure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        debug_assert!(
            crate::collect::operations::is_listed(action),
            "{action} is not in src/collect/operations.rs"
        );
        let t = self.tracker;
        let passed = || CallFailure {
            action,
            kind: FailureKind::DeadlinePassed,
            code: None,
            message: "the overall deadline (--timeout) passed".into(),
        };
        let result = match deadline {
            // Not made at all once the deadline is behind: nothing would wait for it.
            Some(d) if Instant::now() >= d => return Err(passed()),
            Some(d) => {
                t.count_start();
                match tokio::time::timeout_at(d, fut).await {
                    Ok(r) => r.map_err(|e| classify(action, &e)),
                    Err(_) => Err(passed()),
                }
            }
            None => {
                t.count_start();
                fut.await.map_err(|e| classify(action, &e))
            }
        };
        let mut s = t.state.lock().unwrap_or_else(|e| e.into_inner());
        s.log.push(CallRecord {
            stage: self.name,
            action,
            ok: result.is_ok(),
        });
        t.redraw(&s);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsError;
    use pl_checks::fact::Missing;

    type Reply = Result<u8, SdkError<DescribeNetworkAclsError, HttpResponse>>;

    #[tokio::test(start_paused = true)]
    async fn a_call_in_flight_at_the_deadline_is_dropped_and_later_calls_are_not_made() {
        let tracker = Tracker::with_deadline(Instant::now() + Duration::from_secs(5));
        let stage = tracker.stage("consumer: network");
        let answered = stage
            .call("ec2:DescribeSubnets", async { Reply::Ok(1) })
            .await;
        assert_eq!(answered, Ok(1));

        // Never answers: the deadline ends it, naming the action it waited for.
        let hung = stage
            .call("ec2:DescribeNetworkAcls", std::future::pending::<Reply>())
            .await
            .unwrap_err();
        assert_eq!(hung.kind, FailureKind::DeadlinePassed);
        assert_eq!(
            hung.to_missing(),
            Missing::DeadlinePassed {
                waiting_for: "ec2:DescribeNetworkAcls".into()
            }
        );

        // Past the deadline a call is not even started.
        let started = std::sync::atomic::AtomicBool::new(false);
        let late = stage
            .call("ec2:DescribeSecurityGroups", async {
                started.store(true, std::sync::atomic::Ordering::SeqCst);
                Reply::Ok(2)
            })
            .await
            .unwrap_err();
        assert_eq!(late.kind, FailureKind::DeadlinePassed);
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        let log = tracker.finish();
        assert_eq!(
            log.iter().map(|c| (c.action, c.ok)).collect::<Vec<_>>(),
            [
                ("ec2:DescribeSubnets", true),
                ("ec2:DescribeNetworkAcls", false)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn clean_up_past_the_deadline_gets_its_grace() {
        let tracker = Tracker::with_deadline(Instant::now());
        let stage = tracker.stage("consumer: flow logs");
        let stopped = stage
            .call_past_deadline("logs:StopQuery", Duration::from_secs(2), async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Reply::Ok(3)
            })
            .await;
        assert_eq!(stopped, Ok(3));
        let hung = stage
            .call_past_deadline(
                "logs:StopQuery",
                Duration::from_secs(2),
                std::future::pending::<Reply>(),
            )
            .await
            .unwrap_err();
        assert_eq!(hung.kind, FailureKind::DeadlinePassed);
    }
}
