//! Applying a plan: the walk of its changes in dependency order, in parallel.
//!
//! 1. [`schedule`] turns a plan into steps and what each waits for: a create, update or
//!    replace waits for the changes of what it depends on (an instance for its security
//!    group); every destroy waits for all of those, so nothing is removed while something
//!    still being changed may use it, and destroys go dependents first (a DNS record
//!    before the balancer it points at, an instance before its security group).
//! 2. [`walk`] runs the steps on tokio, at most `parallelism` at once, each as soon as
//!    everything it waits for is done. The step itself (the AWS calls and the waiting until
//!    the resource is usable) is the caller's closure, so this module knows no provider.
//! 3. On a failure nothing new starts, steps in flight finish, and everything not done is
//!    reported skipped, with the failure it waited on. A cancellation (the first Ctrl-C)
//!    does the same.
//! 4. The creates of the replicas of one instance block that are ready at the same moment
//!    run as one step of the walk ([`walk_batched`]), so that they can go out in one
//!    RunInstances: a fleet of 200 is a few launches, not 200. So do their destroys, so
//!    that their terminations go out together.
//!
//! Progress goes through [`Reporter`], which `render` implements (progress lines on a
//! terminal, timestamped lines otherwise); this module never draws anything.

mod execute;

pub use execute::{Applied, Job, execute, secrets_needed};

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::graph::Graph;
use crate::plan::{Action, Plan};
use crate::stack::Address;

/// Hears about every step as the walk runs it.
pub trait Reporter: Send + Sync {
    /// Every step the walk will run, before the first starts (a reporter may group the
    /// replicas of one instance block).
    fn planned(&self, steps: &[Step]) {
        let _ = steps;
    }
    fn started(&self, step: &Step);
    /// A step's own news while it runs ("waiting for `running`").
    fn progress(&self, step: &Step, message: &str);
    fn finished(&self, step: &Step, outcome: &Outcome, elapsed: Duration);
}

/// One change to carry out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub address: Address,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not run: `reason` says which failure (or the cancellation) it waited on.
    Skipped(String),
}

/// What a walk did.
#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<Step>,
    pub failed: Vec<(Step, String)>,
    pub skipped: Vec<(Step, String)>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.cancelled
    }
}

/// Steps and what each waits for.
#[derive(Debug, Default)]
pub struct Schedule {
    pub steps: Vec<Step>,
    pub waits_for: BTreeMap<Address, BTreeSet<Address>>,
    /// Steps that may be carried out together, by a key they share: the creates of the
    /// replicas of one instance block (one RunInstances can launch many), and their
    /// destroys (one TerminateInstances can end many). Steps with the same key that are
    /// ready at the same moment run as one, in one slot of the parallelism.
    pub batches: BTreeMap<Address, String>,
}

/// The most steps run as one (a fleet's launches): enough for a few RunInstances calls,
/// few enough that one refusal does not fail a whole fleet.
pub const MAX_BATCH: usize = 100;

/// Order a plan's changes (see the module doc).
pub fn schedule(plan: &Plan, graph: &Graph) -> Schedule {
    let changed: BTreeSet<&Address> = plan.changes.iter().map(|c| &c.address).collect();
    let mut out = Schedule::default();
    let not_destroys: Vec<&Address> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Destroy)
        .map(|c| &c.address)
        .collect();
    let mut earlier_destroys: Vec<(&Address, u8)> = Vec::new();
    for change in &plan.changes {
        let waits: BTreeSet<Address> = match change.action {
            Action::Destroy => {
                let rank = change.address.kind.destroy_rank();
                not_destroys
                    .iter()
                    .map(|a| (*a).clone())
                    .chain(
                        earlier_destroys
                            .iter()
                            .filter(|(_, r)| *r < rank)
                            .map(|(a, _)| (*a).clone()),
                    )
                    .collect()
            }
            _ => graph
                .dependencies_of(&change.address)
                .into_iter()
                .filter(|d| changed.contains(d))
                .cloned()
                .collect(),
        };
        if change.action == Action::Destroy {
            earlier_destroys.push((&change.address, change.address.kind.destroy_rank()));
        }
        out.waits_for.insert(change.address.clone(), waits);
        let together = match change.action {
            Action::Create => "create",
            Action::Destroy => "destroy",
            _ => "",
        };
        if !together.is_empty()
            && change.address.kind == crate::stack::Kind::Instance
            && change.address.index.is_some()
        {
            out.batches.insert(
                change.address.clone(),
                format!("{together} {}", change.address.name),
            );
        }
        out.steps.push(Step {
            address: change.address.clone(),
            action: change.action,
        });
    }
    chain_rollouts(plan, &mut out);
    out
}

/// Rolling replacements of one instance's replicas go `batch` at a time: each waits for the
/// replica `batch` places before it, so a failed one stops the roll (the rest are skipped,
/// the old instances serving).
fn chain_rollouts(plan: &Plan, out: &mut Schedule) {
    let mut by_instance: BTreeMap<(String, u32), Vec<&Address>> = BTreeMap::new();
    for change in &plan.changes {
        if let Some(r) = &change.rolling {
            by_instance
                .entry((change.address.name.clone(), r.batch.max(1)))
                .or_default()
                .push(&change.address);
        }
    }
    for ((_, batch), mut replicas) in by_instance {
        replicas.sort_by_key(|a| a.index);
        let batch = batch as usize;
        for (i, address) in replicas.iter().enumerate().skip(batch) {
            out.waits_for
                .entry((*address).clone())
                .or_default()
                .insert(replicas[i - batch].clone());
        }
    }
}

/// Run `schedule`'s steps with `perform`, at most `parallelism` at once; stop starting new
/// ones after a failure or once `cancel` turns true. Steps of one batch go to `perform`
/// one by one.
pub async fn walk<F, Fut>(
    schedule: &Schedule,
    parallelism: usize,
    reporter: Arc<dyn Reporter>,
    cancel: watch::Receiver<bool>,
    perform: F,
) -> Report
where
    F: Fn(Step) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let perform_all = |steps: Vec<Step>| {
        let futures: Vec<Fut> = steps.into_iter().map(&perform).collect();
        async move {
            let mut out = Vec::with_capacity(futures.len());
            for f in futures {
                out.push(f.await);
            }
            out
        }
    };
    walk_batched(schedule, parallelism, reporter, cancel, perform_all).await
}

/// [`walk`], with the steps of one batch ([`Schedule::batches`]) that are ready together
/// given to `perform` at once (up to [`MAX_BATCH`]); it returns each step's outcome, in
/// order.
pub async fn walk_batched<F, Fut>(
    schedule: &Schedule,
    parallelism: usize,
    reporter: Arc<dyn Reporter>,
    mut cancel: watch::Receiver<bool>,
    perform: F,
) -> Report
where
    F: Fn(Vec<Step>) -> Fut,
    Fut: Future<Output = Vec<Result<(), String>>> + Send + 'static,
{
    let started = Instant::now();
    let parallelism = parallelism.max(1);
    let steps: BTreeMap<&Address, &Step> = schedule.steps.iter().map(|s| (&s.address, s)).collect();
    let mut waiting: BTreeMap<&Address, BTreeSet<&Address>> = schedule
        .steps
        .iter()
        .map(|s| {
            let waits = schedule
                .waits_for
                .get(&s.address)
                .map(|w| w.iter().filter(|a| steps.contains_key(a)).collect())
                .unwrap_or_default();
            (&s.address, waits)
        })
        .collect();
    // Ready steps in plan order, so a walk with parallelism 1 follows the plan.
    let position: BTreeMap<&Address, usize> = schedule
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (&s.address, i))
        .collect();
    let mut ready: BTreeSet<(usize, &Address)> = BTreeSet::new();
    waiting.retain(|a, w| {
        if w.is_empty() {
            ready.insert((position[a], *a));
            false
        } else {
            true
        }
    });
    let mut report = Report::default();
    type Ran = (Vec<Step>, Vec<Result<(), String>>, Duration);
    let mut running: JoinSet<Ran> = JoinSet::new();
    let mut stop: Option<String> = None;
    loop {
        if stop.is_none() && *cancel.borrow() {
            stop = Some("the apply was interrupted".into());
            report.cancelled = true;
        }
        while stop.is_none() && running.len() < parallelism {
            let Some((_, address)) = ready.pop_first() else {
                break;
            };
            let mut group = vec![steps[address].clone()];
            if let Some(key) = schedule.batches.get(address) {
                let mates: Vec<(usize, &Address)> = ready
                    .iter()
                    .filter(|(_, a)| schedule.batches.get(*a) == Some(key))
                    .take(MAX_BATCH - 1)
                    .copied()
                    .collect();
                for mate in mates {
                    ready.remove(&mate);
                    group.push(steps[mate.1].clone());
                }
            }
            for step in &group {
                reporter.started(step);
            }
            let fut = perform(group.clone());
            running.spawn(async move {
                let t = Instant::now();
                let results = fut.await;
                (group, results, t.elapsed())
            });
        }
        if running.is_empty() {
            break;
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            changed = cancel.changed(), if stop.is_none() => {
                if changed.is_err() {
                    // The sender is gone: nobody can cancel any more.
                    cancel = watch::channel(false).1;
                }
                continue;
            }
        };
        let Some(joined) = joined else { break };
        let (group, results, elapsed) = match joined {
            Ok(x) => x,
            Err(e) => {
                stop.get_or_insert_with(|| format!("a step panicked: {e}"));
                continue;
            }
        };
        let mut results = results.into_iter();
        for step in group {
            let result = results
                .next()
                .unwrap_or_else(|| Err("no outcome was reported for this step".into()));
            match result {
                Ok(()) => {
                    reporter.finished(&step, &Outcome::Done, elapsed);
                    let address = step.address.clone();
                    waiting.retain(|a, w| {
                        w.remove(&address);
                        if w.is_empty() {
                            ready.insert((position[a], *a));
                            false
                        } else {
                            true
                        }
                    });
                    report.done.push(step);
                }
                Err(message) => {
                    reporter.finished(&step, &Outcome::Failed(message.clone()), elapsed);
                    stop.get_or_insert_with(|| format!("`{}` failed", step.address));
                    report.failed.push((step, message));
                }
            }
        }
    }
    // Everything not run, in plan order, with the reason it was not.
    let failed: BTreeSet<&Address> = report.failed.iter().map(|(s, _)| &s.address).collect();
    let done: BTreeSet<&Address> = report.done.iter().map(|s| &s.address).collect();
    for step in &schedule.steps {
        let finished = done.contains(&step.address) || failed.contains(&step.address);
        if finished {
            continue;
        }
        let blocked_by = schedule
            .waits_for
            .get(&step.address)
            .and_then(|w| w.iter().find(|a| failed.contains(a)));
        let reason = match (blocked_by, &stop) {
            (Some(a), _) => format!("it needs `{a}`, which failed"),
            (None, Some(why)) => format!("not started: {why}"),
            (None, None) => "not started".to_string(),
        };
        reporter.finished(step, &Outcome::Skipped(reason.clone()), Duration::ZERO);
        report.skipped.push((step.clone(), reason));
    }
    report.elapsed = started.elapsed();
    report
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fleet_tests;
