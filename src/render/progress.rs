//! Progress of an apply, as the executor reports it ([`Reporter`]): on a terminal, one
//! indicatif spinner line per step in flight; otherwise (CI, a pipe), one plain line per
//! event with the time of day (UTC) and the time since the apply started.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::{Outcome, Reporter, Step};
use crate::plan::Action;

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Destroy => "destroy",
        Action::Import => "import",
        Action::Move => "move",
    }
}

fn outcome_text(outcome: &Outcome, elapsed: Duration) -> String {
    match outcome {
        Outcome::Done => format!("done in {:.1}s", elapsed.as_secs_f64()),
        Outcome::Failed(message) => {
            format!("FAILED after {:.1}s: {message}", elapsed.as_secs_f64())
        }
        Outcome::Skipped(reason) => format!("skipped: {reason}"),
    }
}

/// The reporter for where stderr goes.
pub fn reporter() -> Arc<dyn Reporter> {
    if super::stderr_colour() {
        Arc::new(Bars::new())
    } else {
        Arc::new(Lines::new(Box::new(std::io::stderr())))
    }
}

/// One line per event: `12:03:44 +3.2s instance.web[0]: create done in 2.1s`.
pub struct Lines {
    started: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines").finish_non_exhaustive()
    }
}

impl Lines {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Lines {
            started: Instant::now(),
            out: Mutex::new(out),
        }
    }

    fn line(&self, step: &Step, text: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let (h, m, s) = ((now / 3600) % 24, (now / 60) % 60, now % 60);
        let since = self.started.elapsed().as_secs_f64();
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(
                out,
                "{h:02}:{m:02}:{s:02} +{since:.1}s {}: {text}",
                step.address
            );
        }
    }
}

impl Reporter for Lines {
    fn started(&self, step: &Step) {
        self.line(step, &format!("{} started", verb(step.action)));
    }

    fn progress(&self, step: &Step, message: &str) {
        self.line(step, message);
    }

    fn finished(&self, step: &Step, outcome: &Outcome, elapsed: Duration) {
        self.line(
            step,
            &format!("{} {}", verb(step.action), outcome_text(outcome, elapsed)),
        );
    }
}

/// A spinner line per step in flight; finished steps stay as one line each.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Bars {
    fn started(&self, step: &Step) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(step.address.to_string());
        bar.set_message(format!("{}…", verb(step.action)));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(step.address.to_string(), bar);
        }
    }

    fn progress(&self, step: &Step, message: &str) {
        if let Some(bar) = self
            .bars
            .lock()
            .ok()
            .and_then(|b| b.get(&step.address.to_string()).cloned())
        {
            bar.set_message(format!("{}: {message}", verb(step.action)));
        }
    }

    fn finished(&self, step: &Step, outcome: &Outcome, elapsed: Duration) {
        let text = format!("{} {}", verb(step.action), outcome_text(outcome, elapsed));
        let bar = self
            .bars
            .lock()
            .ok()
            .and_then(|mut b| b.remove(&step.address.to_string()));
        match bar {
            Some(bar) => bar.finish_with_message(text),
            None => {
                let _ = self.multi.println(format!("  {} {text}", step.address));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_are_timestamped_one_per_event() {
        let sink = Sink::default();
        let lines = Lines::new(Box::new(sink.clone()));
        let step = Step {
            address: "instance.web[0]".parse().unwrap(),
            action: Action::Create,
        };
        lines.started(&step);
        lines.progress(&step, "waiting for `running`");
        lines.finished(
            &step,
            &Outcome::Failed("boom".into()),
            Duration::from_millis(2500),
        );
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let got: Vec<&str> = text
            .lines()
            .map(|l| l.split_once(' ').unwrap().1)
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(
            got,
            [
                "instance.web[0]: create started",
                "instance.web[0]: waiting for `running`",
                "instance.web[0]: create FAILED after 2.5s: boom",
            ]
        );
        let first = text.lines().next().unwrap();
        assert_eq!(first.as_bytes()[2], b':', "{first}");
        assert!(first[9..].starts_with('+'), "{first}");
    }
}
