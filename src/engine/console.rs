//! What the engine tells the person (or pipeline) running it, and asks them.
//!
//! The engine never prints: `render` implements [`Console`] for a terminal (stdout for the
//! plan, stderr for the rest, progress bars or timestamped lines), and tests implement it
//! to record what was shown and asked.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::EngineError;
use crate::apply::{Outcome, Reporter, Step};
use crate::plan::Plan;

/// Where the engine's news goes, and who answers its question.
pub trait Console: Send + Sync {
    /// The plan, before the gates and the question.
    fn plan(&self, plan: &Plan);
    /// Something the user should know that does not stop the run.
    fn warning(&self, message: &str);
    /// A line of news (a cancellation, an interruption).
    fn notice(&self, message: &str);
    /// Whether someone is there to read the plan and answer.
    fn interactive(&self) -> bool;
    /// Ask `question` and read the answer (blocking): whether it was `yes`.
    fn ask(&self, question: &str) -> std::io::Result<bool>;
    /// Where the steps of a run report their progress.
    fn reporter(&self) -> Arc<dyn Reporter>;
}

/// Ask on the console; a Ctrl-C while asking is a no.
pub(super) async fn confirm(
    console: &Arc<dyn Console>,
    question: &str,
    mut cancel: watch::Receiver<bool>,
) -> Result<bool, EngineError> {
    // The read blocks and cannot be cancelled: when a Ctrl-C answers first it is left
    // behind (the runtime is shut down without waiting for it).
    let asking = console.clone();
    let question = question.to_string();
    let read = tokio::task::spawn_blocking(move || asking.ask(&question));
    tokio::select! {
        answer = read => {
            answer
                .map_err(|e| EngineError::Message(format!("failed to read the answer: {e}")))?
                .map_err(|e| EngineError::Message(format!("failed to read the answer: {e}")))
        }
        _ = cancel.wait_for(|c| *c) => Ok(false),
    }
}

/// Secret values never reach the terminal, even inside an error AWS sent back.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "(sensitive)");
    }
    out
}

/// A reporter that masks secret values in what it passes on.
pub struct Redacting {
    pub inner: Arc<dyn Reporter>,
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for Redacting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redacting").finish_non_exhaustive()
    }
}

impl Reporter for Redacting {
    fn started(&self, step: &Step) {
        self.inner.started(step);
    }

    fn progress(&self, step: &Step, message: &str) {
        self.inner.progress(step, &redact(message, &self.secrets));
    }

    fn finished(&self, step: &Step, outcome: &Outcome, elapsed: Duration) {
        let outcome = match outcome {
            Outcome::Failed(m) => Outcome::Failed(redact(m, &self.secrets)),
            other => other.clone(),
        };
        self.inner.finished(step, &outcome, elapsed);
    }
}

/// Mask secret values in a report's messages.
pub(super) fn redact_report(report: &mut crate::apply::Report, secrets: &[String]) {
    for (_, message) in report.failed.iter_mut().chain(report.skipped.iter_mut()) {
        *message = redact(message, secrets);
    }
}
