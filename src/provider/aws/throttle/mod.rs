//! EC2's rate limits: one adaptive limiter per bucket class, shared by every task of a run.
//!
//! AWS meters EC2 per account and region with token buckets, one per class of action
//! (RunInstances; other mutating calls; describe calls), and answers a call over its
//! bucket with `RequestLimitExceeded`. Retrying each call on its own (the SDK's retries,
//! or Terraform's) lets two hundred tasks hammer an empty bucket together; here every EC2
//! request of a run, first attempts and retries alike, waits for its turn at its class's
//! limiter first:
//!
//! 1. [`Limiter::acquire`] queues the request (first come, first served) until the
//!    limiter's own bucket lets it go: a rate and a burst, as AWS's buckets have.
//! 2. [`http`] sends it. An answer of `RequestLimitExceeded` or `Throttling` lowers the
//!    rate (multiplicative decrease), pauses the class for a jittered interval, and the
//!    request goes back in the queue: throttling is weather, not a failure. Any other
//!    answer raises the rate by a step (additive increase) up to the class's ceiling.
//!
//! The limiters belong to one [`super::Aws`], which is one run's connection to one account
//! and region. The SDK's standard retries (mode and attempts from the user's AWS settings)
//! still handle 5xx answers and lost connections; its adaptive mode is not used because its
//! rate limiter is per client rather than per bucket class, and its retry quota gives up
//! under sustained throttling. `governor`'s limiters have a fixed quota and no way to lower
//! it when AWS says so, so the bucket here (a GCRA, as governor's) adapts its rate.
//!
//! What a request waits is reported to the step that made it through [`reporting`]: the
//! progress line then says `waiting for the EC2 rate limit`.

pub(super) mod http;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::provider::Progress;

/// A class of EC2 actions that AWS meters with one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// RunInstances.
    Run,
    /// Every other action that changes something.
    Mutate,
    /// `Describe*` and `Get*`.
    Describe,
}

impl Class {
    /// The class of an EC2 action (`RunInstances`, `CreateTags`, `DescribeInstances`).
    pub(crate) fn of(action: &str) -> Class {
        if action == "RunInstances" {
            Class::Run
        } else if action.starts_with("Describe") || action.starts_with("Get") {
            Class::Describe
        } else {
            Class::Mutate
        }
    }

    /// The limiter's ceiling for the class: `(calls a second, burst)`. Above AWS's
    /// documented refill rates, so that an account whose limits were raised is not held
    /// back; the first throttled answer brings the rate down to what the account has.
    fn ceiling(self) -> (f64, f64) {
        match self {
            Class::Run => (5.0, 10.0),
            Class::Mutate => (20.0, 40.0),
            Class::Describe => (50.0, 100.0),
        }
    }

    /// The additive increase per answered call, in calls a second (a twentieth of the
    /// ceiling: back to the ceiling after twenty answers in a row).
    fn step(self) -> f64 {
        self.ceiling().0 / 20.0
    }
}

/// The slowest a limiter goes, in calls a second, however often AWS throttles.
const MIN_RATE: f64 = 0.2;
/// The multiplicative decrease on a throttled answer.
const DECREASE: f64 = 0.7;
/// Throttled answers within this long of a decrease are one signal, not several: the
/// requests in flight together all meet the same empty bucket.
const DECREASE_EVERY: Duration = Duration::from_secs(1);
/// How often a queued request looks at the limiter again (its rate may have changed).
const RECHECK: Duration = Duration::from_millis(250);
/// A wait at least this long is reported on the step's progress line.
pub(super) const REPORTED_WAIT: Duration = Duration::from_secs(1);

/// An adaptive bucket: a rate and a burst (a GCRA schedule), lowered on throttling.
#[derive(Debug)]
pub(crate) struct Limiter {
    class: Class,
    state: Mutex<State>,
    /// The queue: one request at a time waits for the bucket, in the order they came.
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    /// Calls a second.
    rate: f64,
    /// The theoretical arrival time of the next request: a request may go when it is at
    /// most the burst's worth of intervals ahead of now.
    tat: Instant,
    /// When the rate was last lowered.
    decreased: Option<Instant>,
}

impl State {
    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate)
    }
}

impl Limiter {
    pub(crate) fn new(class: Class) -> Limiter {
        Limiter {
            class,
            state: Mutex::new(State {
                rate: class.ceiling().0,
                tat: Instant::now(),
                decreased: None,
            }),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// The current rate, in calls a second.
    pub(crate) fn rate(&self) -> f64 {
        self.state.lock().map_or(MIN_RATE, |s| s.rate)
    }

    /// The time until a request may go (zero: it goes, and its slot is taken).
    fn try_take(&self) -> Duration {
        let Ok(mut s) = self.state.lock() else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let interval = s.interval();
        let tolerance = interval.mul_f64(self.class.ceiling().1 - 1.0);
        let ahead = s.tat.saturating_duration_since(now);
        if ahead <= tolerance {
            s.tat = s.tat.max(now) + interval;
            Duration::ZERO
        } else {
            ahead - tolerance
        }
    }

    /// Wait for this request's turn; `report` is called once if that takes
    /// [`REPORTED_WAIT`] or more. Returns how long it waited.
    pub(crate) async fn acquire(&self, report: impl FnOnce()) -> Duration {
        let started = Instant::now();
        let mut report = Some(report);
        let mut reported = |waited: Duration| {
            if waited >= REPORTED_WAIT
                && let Some(r) = report.take()
            {
                r();
            }
        };
        let _turn = match tokio::time::timeout(REPORTED_WAIT, self.turn.lock()).await {
            Ok(turn) => turn,
            Err(_) => {
                reported(started.elapsed());
                self.turn.lock().await
            }
        };
        loop {
            let wait = self.try_take();
            if wait.is_zero() {
                return started.elapsed();
            }
            reported(started.elapsed() + wait);
            tokio::time::sleep(wait.min(RECHECK)).await;
        }
    }

    /// AWS answered: a step up, to the ceiling at most.
    pub(crate) fn answered(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.rate = (s.rate + self.class.step()).min(self.class.ceiling().0);
        }
    }

    /// AWS throttled a request: the rate down (once for the answers of one moment), and
    /// the whole class paused for a jittered interval (the burst is spent: AWS's bucket
    /// is empty).
    pub(crate) fn throttled(&self) {
        if let Ok(mut s) = self.state.lock() {
            let now = Instant::now();
            if s.decreased.is_none_or(|t| now >= t + DECREASE_EVERY) {
                s.rate = (s.rate * DECREASE).max(MIN_RATE);
                s.decreased = Some(now);
            }
            let interval = s.interval();
            let tolerance = interval.mul_f64(self.class.ceiling().1 - 1.0);
            let pause = interval.mul_f64(0.5 + fastrand::f64());
            s.tat = s.tat.max(now + tolerance) + pause;
        }
    }
}

/// The three limiters of one account and region, and what they saw.
#[derive(Debug)]
pub(crate) struct Limits {
    run: Limiter,
    mutate: Limiter,
    describe: Limiter,
    throttled: Mutex<BTreeMap<String, u64>>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            run: Limiter::new(Class::Run),
            mutate: Limiter::new(Class::Mutate),
            describe: Limiter::new(Class::Describe),
            throttled: Mutex::default(),
        }
    }
}

impl Limits {
    pub(crate) fn limiter(&self, class: Class) -> &Limiter {
        match class {
            Class::Run => &self.run,
            Class::Mutate => &self.mutate,
            Class::Describe => &self.describe,
        }
    }

    fn count_throttled(&self, action: &str) {
        if let Ok(mut t) = self.throttled.lock() {
            *t.entry(action.to_string()).or_default() += 1;
        }
    }

    /// Throttled answers AWS gave, by action.
    pub(crate) fn throttled(&self) -> BTreeMap<String, u64> {
        self.throttled.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

tokio::task_local! {
    /// Where the requests of the step being run report their waits.
    static NOTICES: tokio::sync::mpsc::UnboundedSender<String>;
}

/// Run `work`, passing what its requests wait for to `progress`.
pub(super) async fn reporting<F: Future>(progress: &Progress<'_>, work: F) -> F::Output {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let work = NOTICES.scope(tx, work);
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => return out,
            Some(text) = rx.recv() => progress(&text),
        }
    }
}

/// `work`, for a task the step being run spawns: its requests' waits are told to that
/// step as well (a task-local does not follow a spawned task by itself).
pub(in crate::provider::aws) fn carried<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let tx = NOTICES.try_with(|tx| tx.clone()).ok();
    async move {
        match tx {
            Some(tx) => NOTICES.scope(tx, work).await,
            None => work.await,
        }
    }
}

/// Tell the step being run (if any) what its request waits for.
pub(super) fn notice(text: String) {
    let _ = NOTICES.try_with(|tx| tx.send(text));
}

#[cfg(test)]
mod tests;
