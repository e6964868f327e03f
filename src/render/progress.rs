//! Progress of an apply, as the executor reports it ([`Reporter`]): on a terminal, one
//! indicatif spinner line per step in flight, and one bar with counts for the replicas of
//! an instance block (a fleet of 200 is one line, not 200); otherwise (CI, a pipe), one
//! plain line per event with the time of day (UTC) and the time since the apply started.

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

/// A spinner line per step in flight; finished steps stay as one line each. The replicas
/// of one instance block with the same action share one [`Fleet`] bar.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    fleets: Mutex<BTreeMap<(String, &'static str), Fleet>>,
}

/// The replicas of one block that one action applies to: their count, and how far.
#[derive(Debug, Default)]
struct Fleet {
    bar: Option<ProgressBar>,
    total: u64,
    in_flight: u64,
    done: u64,
    failed: u64,
    skipped: u64,
    /// The latest news of one of them (`waiting for the EC2 rate limit …`).
    news: String,
}

impl Fleet {
    fn message(&self) -> String {
        let mut parts = vec![format!("{} in flight", self.in_flight)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        if !self.news.is_empty() {
            parts.push(self.news.clone());
        }
        parts.join(", ")
    }

    fn over(&self) -> bool {
        self.done + self.failed + self.skipped >= self.total
    }
}

/// The fleet a step belongs to: its block and verb, when the block has 2 or more
/// replicas in the plan.
fn fleet_key(step: &Step) -> Option<(String, &'static str)> {
    step.address.index?;
    Some((
        format!("{}.{}", step.address.kind, step.address.name),
        verb(step.action),
    ))
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
            fleets: Mutex::new(BTreeMap::new()),
        }
    }

    /// Run `f` on the step's fleet, if it is in one.
    fn with_fleet(&self, step: &Step, f: impl FnOnce(&MultiProgress, &mut Fleet)) -> bool {
        let Some(key) = fleet_key(step) else {
            return false;
        };
        let Ok(mut fleets) = self.fleets.lock() else {
            return false;
        };
        match fleets.get_mut(&key) {
            Some(fleet) if fleet.total >= 2 => {
                f(&self.multi, fleet);
                true
            }
            _ => false,
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Bars {
    fn planned(&self, steps: &[Step]) {
        if let Ok(mut fleets) = self.fleets.lock() {
            for key in steps.iter().filter_map(fleet_key) {
                fleets.entry(key).or_default().total += 1;
            }
        }
    }

    fn started(&self, step: &Step) {
        let grouped = self.with_fleet(step, |multi, fleet| {
            let total = fleet.total;
            let bar = fleet
                .bar
                .get_or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(total));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix:.bold} [{bar:24}] {pos}/{len} {msg} [{elapsed}]",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_prefix(format!(
                        "{} {}",
                        fleet_key(step).map(|k| k.0).unwrap_or_default(),
                        verb(step.action)
                    ));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                })
                .clone();
            fleet.in_flight += 1;
            bar.set_message(fleet.message());
        });
        if grouped {
            return;
        }
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
        let grouped = self.with_fleet(step, |_, fleet| {
            fleet.news = format!("{}: {message}", step.address);
            if let Some(bar) = &fleet.bar {
                bar.set_message(fleet.message());
            }
        });
        if grouped {
            return;
        }
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
        let grouped = self.with_fleet(step, |multi, fleet| {
            fleet.in_flight = fleet.in_flight.saturating_sub(1);
            match outcome {
                Outcome::Done => fleet.done += 1,
                Outcome::Failed(_) => {
                    fleet.failed += 1;
                    // A failure keeps its own line: its message matters.
                    let _ = multi.println(format!("  {} {text}", step.address));
                }
                Outcome::Skipped(_) => fleet.skipped += 1,
            }
            let bar = fleet
                .bar
                .get_or_insert_with(|| multi.add(ProgressBar::hidden()))
                .clone();
            bar.set_position(fleet.done);
            if fleet.over() {
                fleet.news.clear();
                bar.finish_with_message(fleet.message());
            } else {
                bar.set_message(fleet.message());
            }
        });
        if grouped {
            return;
        }
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

    fn step(address: &str) -> Step {
        Step {
            address: address.parse().unwrap(),
            action: Action::Create,
        }
    }

    /// Issue 14: the replicas of a block are one bar with counts; a lone replica and
    /// other resources keep their own lines.
    #[test]
    fn replicas_of_a_block_share_one_bar_with_counts() {
        let bars = Bars::default();
        bars.multi.set_draw_target(ProgressDrawTarget::hidden());
        let fleet: Vec<Step> = (0..200)
            .map(|i| step(&format!("instance.worker[{i}]")))
            .collect();
        let mut all = fleet.clone();
        all.push(step("instance.solo[0]"));
        all.push(step("security_group.web"));
        bars.planned(&all);
        for s in &fleet[..10] {
            bars.started(s);
        }
        bars.started(&all[200]);
        bars.started(&all[201]);
        bars.progress(&fleet[3], "waiting for the EC2 rate limit");
        for s in &fleet[..4] {
            bars.finished(s, &Outcome::Done, Duration::from_secs(1));
        }
        bars.finished(&fleet[4], &Outcome::Failed("boom".into()), Duration::ZERO);
        // Two lines of their own, not 202.
        assert_eq!(
            bars.bars
                .lock()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>(),
            ["instance.solo[0]", "security_group.web"]
        );
        let fleets = bars.fleets.lock().unwrap();
        let f = &fleets[&("instance.worker".to_string(), "create")];
        assert_eq!((f.total, f.in_flight, f.done, f.failed), (200, 5, 4, 1));
        let bar = f.bar.as_ref().unwrap();
        assert_eq!((bar.position(), bar.length()), (4, Some(200)));
        assert_eq!(
            bar.message(),
            "5 in flight, 1 failed, instance.worker[3]: waiting for the EC2 rate limit"
        );
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
