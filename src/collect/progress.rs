//! Progress on stderr while collecting (a spinner with the stage and the count of
//! calls done), only when stderr is a terminal, and the call log every stage adds to.

use crate::collect::errors::{classify, CallFailure};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::future::Future;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

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
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    stage: &'static str,
    started: usize,
    log: Vec<CallRecord>,
}

impl Tracker {
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
            bar.set_message(format!(
                "collecting: {} · {done}/{} AWS calls done",
                s.stage, s.started
            ));
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
    pub async fn call<T, E>(
        &self,
        action: &'static str,
        fut: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, CallFailure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let t = self.tracker;
        {
            let mut s = t.state.lock().unwrap_or_else(|e| e.into_inner());
            s.started += 1;
            t.redraw(&s);
        }
        let result = fut.await.map_err(|e| classify(action, &e));
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
