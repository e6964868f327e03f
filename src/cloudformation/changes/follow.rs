//! Following an execution's stack events into an apply report: the [`Tracker`] feeds
//! each event to the apply [`Reporter`] as it comes and sums them up as a [`Report`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::read::View;
use crate::apply::{Outcome, Report, Reporter, Step};
use crate::plan::Plan;
use crate::provider::cloudformation::{STACK_TYPE, StackEvent};
use crate::stack::Address;

/// Follows an execution's stack events. An address's step starts with the first event of
/// any of its resources (a group's rules are its resources too) and ends when every one of
/// its resources the execution touches is `…_COMPLETE`, or at the first `…_FAILED`. Once
/// the stack rolls back nothing more is done; a failure of a step already ended (an old
/// resource CloudFormation could not delete after a replacement) is a warning.
pub struct Tracker {
    steps: BTreeMap<Address, Step>,
    /// The plan's order, which steps without events of their own are reported in.
    order: Vec<Address>,
    logical: BTreeMap<String, Address>,
    /// Per address, the logical ids the execution touches that are not complete yet.
    outstanding: BTreeMap<Address, BTreeSet<String>>,
    reporter: Arc<dyn Reporter>,
    started: BTreeMap<Address, Instant>,
    finished: BTreeSet<Address>,
    report: Report,
    warnings: Vec<String>,
    rolling_back: bool,
    began: Instant,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("steps", &self.steps.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker of `plan`'s changes. `views` say which logical ids stand for which
    /// addresses (the new template's and the deployed one's); `touched` are the logical
    /// ids the execution changes (the change set's, or every resource of a stack deleted).
    pub fn new(
        plan: &Plan,
        views: &[&View],
        touched: &BTreeSet<String>,
        reporter: Arc<dyn Reporter>,
    ) -> Tracker {
        let steps: BTreeMap<Address, Step> = plan
            .changes
            .iter()
            .map(|c| {
                (
                    c.address.clone(),
                    Step {
                        address: c.address.clone(),
                        action: c.action,
                    },
                )
            })
            .collect();
        let mut logical = BTreeMap::new();
        for view in views {
            for (id, (address, _)) in &view.logical {
                logical.entry(id.clone()).or_insert_with(|| address.clone());
            }
        }
        let mut outstanding: BTreeMap<Address, BTreeSet<String>> = BTreeMap::new();
        for id in touched {
            if let Some(address) = logical.get(id).filter(|a| steps.contains_key(*a)) {
                outstanding
                    .entry(address.clone())
                    .or_default()
                    .insert(id.clone());
            }
        }
        Tracker {
            order: plan.changes.iter().map(|c| c.address.clone()).collect(),
            steps,
            logical,
            outstanding,
            reporter,
            started: BTreeMap::new(),
            finished: BTreeSet::new(),
            report: Report::default(),
            warnings: Vec::new(),
            rolling_back: false,
            began: Instant::now(),
        }
    }

    /// One event, in the order CloudFormation wrote them.
    pub fn event(&mut self, e: &StackEvent) {
        if e.resource_type == STACK_TYPE {
            if e.status.contains("ROLLBACK") {
                self.rolling_back = true;
            }
            return;
        }
        let failed = e.status.ends_with("_FAILED");
        let reason = || {
            format!(
                "{} {}: {}",
                e.logical_id,
                e.status,
                e.reason.as_deref().unwrap_or("no reason given")
            )
        };
        let Some(step) = self
            .logical
            .get(&e.logical_id)
            .and_then(|a| self.steps.get(a))
            .cloned()
        else {
            if failed {
                self.warnings.push(reason());
            }
            return;
        };
        if self.finished.contains(&step.address) {
            if failed {
                self.warnings
                    .push(format!("`{}`: {}", step.address, reason()));
            }
            return;
        }
        if self.rolling_back {
            // Undoing, not doing: said, but it ends nothing.
            if self.started.contains_key(&step.address) {
                self.reporter
                    .progress(&step, &format!("rolling back: {}", e.status));
            }
            return;
        }
        self.start(&step);
        if failed {
            let why = e.reason.clone().unwrap_or_else(|| e.status.clone());
            self.end(&step, Outcome::Failed(why));
        } else if e.status.ends_with("_COMPLETE") {
            let left = self.outstanding.entry(step.address.clone()).or_default();
            left.remove(&e.logical_id);
            if left.is_empty() {
                self.end(&step, Outcome::Done);
            } else {
                self.reporter
                    .progress(&step, &format!("{} {}", e.logical_id, e.status));
            }
        } else {
            self.reporter.progress(&step, &e.status);
        }
    }

    fn start(&mut self, step: &Step) {
        if !self.started.contains_key(&step.address) {
            self.started.insert(step.address.clone(), Instant::now());
            self.reporter.started(step);
        }
    }

    fn end(&mut self, step: &Step, outcome: Outcome) {
        let elapsed = self
            .started
            .get(&step.address)
            .map_or(Duration::ZERO, Instant::elapsed);
        self.reporter.finished(step, &outcome, elapsed);
        self.finished.insert(step.address.clone());
        match outcome {
            Outcome::Done => self.report.done.push(step.clone()),
            Outcome::Failed(m) => self.report.failed.push((step.clone(), m)),
            Outcome::Skipped(r) => self.report.skipped.push((step.clone(), r)),
        }
    }

    /// The report once the stack settled at `status`, which is what was asked for when
    /// `reached` (CREATE or UPDATE_COMPLETE for an apply, DELETE_COMPLETE for a destroy),
    /// or once the follow was `cancelled`; and the warnings. Steps with no event of their
    /// own (the emulator writes none per resource) are done when the stack is; when it
    /// rolled back, nothing of the change set was kept.
    pub fn finish(mut self, status: &str, reached: bool, cancelled: bool) -> (Report, Vec<String>) {
        let ok = reached && !cancelled;
        let open: Vec<Step> = self
            .order
            .iter()
            .filter(|a| !self.finished.contains(*a))
            .filter_map(|a| self.steps.get(a).cloned())
            .collect();
        for step in open {
            if ok {
                self.start(&step);
                self.end(&step, Outcome::Done);
            } else {
                let why = if cancelled {
                    "no longer followed: CloudFormation carries on".to_string()
                } else {
                    format!("the stack settled at {status}")
                };
                self.end(&step, Outcome::Skipped(why));
            }
        }
        if !ok && !cancelled && status.contains("ROLLBACK") {
            let undone = std::mem::take(&mut self.report.done);
            self.report.skipped.extend(
                undone
                    .into_iter()
                    .map(|s| (s, "rolled back by CloudFormation".to_string())),
            );
        }
        self.report.cancelled = cancelled;
        self.report.elapsed = self.began.elapsed();
        (self.report, self.warnings)
    }
}
