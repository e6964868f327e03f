//! The operation runner: one sequence of steps for `plan`, `apply`, `destroy` and
//! `output`, whichever engine carries the plan out.
//!
//! 1. [`check`]: the stack directory is loaded, checked and graphed; a stack with errors
//!    stops here with its diagnostics, and nothing is sent to AWS.
//! 2. The engine is connected ([`Direct`] calls the AWS APIs itself; [`Cloudformation`]
//!    hands the stack to CloudFormation) and makes a proposal: the plan, and what it takes
//!    to carry it out. A saved plan ([`crate::planfile`]) is checked against live state
//!    first; a teardown proposes to destroy everything the stack's tags (or its
//!    CloudFormation stack) hold. Every read that can refuse (a lock held by someone else,
//!    a secret not set, a stale saved plan, a database to restore from another env that
//!    has no snapshot: [`restore`]) happens in this step.
//! 3. The plan is shown, then the gates: [`gates::refusals`] (prevent_destroy, deletion
//!    protection, data loss, opening access) and the engine's own, then confirmation.
//!    Every refusal is decided here, before any call that changes AWS.
//! 4. The engine carries the proposal out (the direct engine under the stack's lock, which
//!    it takes only now and checks the plan again under), reporting progress through a
//!    [`Console`]; a proposal not carried out is withdrawn.
//!
//! The engine never prints: it tells and asks a [`Console`] (which `render` implements for
//! a terminal) and returns what happened as data.

pub mod blocking;
pub mod cloudformation;
mod console;
pub mod direct;
mod error;
pub mod gates;
pub mod inventory;
mod load;
pub mod restore;
pub mod secrets;
pub mod sweep;
pub mod tags;

#[cfg(test)]
mod tests;

pub use cloudformation::Cloudformation;
pub use console::{Console, Redacting, redact};
pub use direct::Direct;
pub use error::EngineError;
pub use load::{Checked, Rejected, check, reload};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::apply::Report;
use crate::graph::Graph;
use crate::plan::Plan;
use crate::planfile::SavedPlan;
use crate::provider::aws::Aws;
use crate::stack::Stack;
use gates::Consent;

/// Which engine carries a plan out: what `--engine` chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// stackwright calls the AWS APIs itself, walking the graph in parallel.
    #[default]
    Direct,
    /// The stack goes to CloudFormation as a template, changed through change sets.
    Cloudformation,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Direct => "direct",
            EngineKind::Cloudformation => "cloudformation",
        }
    }
}

/// What is being done to the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Destroy,
}

impl Operation {
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Apply => "apply",
            Operation::Destroy => "destroy",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Destroy => "Destroy",
        }
    }
}

/// What a proposal is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// `plan`: shown, then dropped.
    Plan,
    /// `plan --out`: kept for `apply FILE`.
    Save,
    /// `apply`: shown, then carried out.
    Apply,
}

/// `plan`'s options.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Read attributes AWS returns only per resource for real (direct engine).
    pub deep: bool,
    /// Save the plan here for `apply FILE`.
    pub out: Option<PathBuf>,
    /// Where the stack was read from, recorded in the saved plan.
    pub source: Option<crate::planfile::Source>,
    /// Plan imports whose resource must be replaced (`--allow-replace-import`).
    pub allow_replace_import: bool,
}

/// What `apply` and `destroy` were told.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Go ahead without asking.
    pub yes: bool,
    pub allow_data_loss: bool,
    pub allow_open: bool,
    /// How many changes may run at once (direct engine).
    pub parallelism: usize,
    /// How long to wait for another run's lock (direct engine).
    pub lock_timeout: Duration,
    /// The stack directory as the user gave it, for hints (`STACK` for a saved plan).
    pub dir: String,
    /// The secrets to rotate (`apply --rotate-secret`, direct engine): every resource
    /// using one is planned as if its value changed. Checked in [`Engine::preflight`].
    pub rotate: BTreeSet<String>,
    /// Apply imports whose resource must be replaced (`--allow-replace-import`).
    pub allow_replace_import: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            yes: false,
            allow_data_loss: false,
            allow_open: false,
            parallelism: 10,
            lock_timeout: Duration::ZERO,
            dir: "STACK".into(),
            rotate: BTreeSet::new(),
            allow_replace_import: false,
        }
    }
}

/// How an apply or destroy ended, when it did not fail with an error.
// One per run, moved once: boxing the plan and report would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Finish {
    /// The plan had nothing to do.
    NoChanges,
    /// Nobody said yes, or a Ctrl-C came before anything started: nothing was changed.
    Declined,
    /// Carried out: the report (secret values masked) and, for a successful apply, the
    /// stack's outputs.
    Carried {
        plan: Plan,
        report: Report,
        outputs: Option<BTreeMap<String, Option<String>>>,
        /// Whether everything was done (CloudFormation: and the stack settled as asked).
        succeeded: bool,
    },
}

/// A plan made by `plan`: to show, and whether it changes anything (CloudFormation may
/// change only its outputs, which the plan shows as no resource change).
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub changes: bool,
}

/// What an engine does; the runner ([`plan`], [`run`], [`outputs`]) does the rest.
///
/// A proposal is the engine's own: the plan, and its handle on carrying it out (the live
/// state and secrets for the direct engine; a change set for CloudFormation).
#[allow(async_fn_in_trait)] // used generically, never as `dyn`
pub trait Engine {
    type Proposal;

    /// Reads that can refuse an apply or destroy before anything is planned (the direct
    /// engine: a lock held by another live run).
    async fn preflight(&mut self, options: &RunOptions) -> Result<(), EngineError>;

    /// Let `[import]` entries through whose resource would have to be replaced to match
    /// the stack (`--allow-replace-import`); refused at plan time otherwise.
    fn allow_replace_import(&mut self, _allow: bool) {}

    /// Whether making a proposal writes to AWS (CloudFormation's change set): then a run
    /// that could never be confirmed is refused before one is made.
    fn proposing_writes(&self) -> bool {
        false
    }

    /// Make a plan of the stack against what is there now.
    async fn propose(
        &mut self,
        intent: Intent,
        cancel: watch::Receiver<bool>,
    ) -> Result<Self::Proposal, EngineError>;

    /// A saved plan, checked against what is there now: refused when it has moved on.
    async fn resume(&mut self, saved: &SavedPlan) -> Result<Self::Proposal, EngineError>;

    /// A plan to destroy everything of the stack.
    async fn teardown(&mut self) -> Result<Self::Proposal, EngineError>;

    fn plan_of<'p>(&self, proposal: &'p Self::Proposal) -> &'p Plan;

    /// Whether carrying the proposal out changes anything.
    fn changes(&self, proposal: &Self::Proposal) -> bool;

    /// Why the proposal may not be carried out with this consent: the shared gates and
    /// the engine's own refusals.
    fn refusals(&self, proposal: &Self::Proposal, consent: Consent) -> Vec<String>;

    /// The question asked before carrying it out.
    fn question(&self, operation: Operation) -> String;

    /// Save it for `apply FILE`, with where its stack was read from: whether what
    /// carries it out is kept (a change set).
    async fn save(
        &mut self,
        proposal: &Self::Proposal,
        path: &std::path::Path,
        source: Option<&crate::planfile::Source>,
    ) -> Result<bool, EngineError>;

    /// Carry it out, reporting through `console`.
    async fn carry_out(
        &mut self,
        proposal: Self::Proposal,
        operation: Operation,
        options: &RunOptions,
        console: Arc<dyn Console>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Finish, EngineError>;

    /// Take back what making the proposal left in AWS (a change set) and nobody carried
    /// out. Failures are warned of, not fatal.
    async fn withdraw(&mut self, proposal: &Self::Proposal, console: &dyn Console);

    /// The stack's outputs, from what is there now.
    async fn outputs(&mut self) -> Result<BTreeMap<String, Option<String>>, EngineError>;

    /// Every AWS call made so far, by operation.
    fn calls(&self) -> BTreeMap<String, u64>;
}

/// The async runtime the operations run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, EngineError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Message(format!("failed to start the async runtime: {e}")))
}

/// `plan`: make a proposal, save it if asked, withdraw what is not kept.
pub async fn plan<E: Engine>(
    engine: &mut E,
    options: &PlanOptions,
    console: &dyn Console,
    cancel: watch::Receiver<bool>,
) -> Result<Planned, EngineError> {
    let intent = if options.out.is_some() {
        Intent::Save
    } else {
        Intent::Plan
    };
    engine.allow_replace_import(options.allow_replace_import);
    let proposal = engine.propose(intent, cancel).await?;
    let kept = match &options.out {
        Some(path) => engine.save(&proposal, path, options.source.as_ref()).await,
        None => Ok(false),
    };
    if !matches!(kept, Ok(true)) {
        engine.withdraw(&proposal, console).await;
    }
    kept?;
    Ok(Planned {
        changes: engine.changes(&proposal),
        plan: engine.plan_of(&proposal).clone(),
    })
}

/// `apply` (of the stack, or of a saved plan) and `destroy`: propose, show, pass the
/// gates, ask, carry out. Everything that refuses happens before anything is changed.
pub async fn run<E: Engine>(
    engine: &mut E,
    operation: Operation,
    saved: Option<&SavedPlan>,
    options: &RunOptions,
    console: Arc<dyn Console>,
    cancel: watch::Receiver<bool>,
) -> Result<Finish, EngineError> {
    if engine.proposing_writes() && !options.yes && !console.interactive() {
        return Err(EngineError::NoTerminal {
            verb: operation.verb(),
        });
    }
    engine.preflight(options).await?;
    engine.allow_replace_import(options.allow_replace_import);
    let proposal = match (operation, saved) {
        (Operation::Apply, Some(saved)) => engine.resume(saved).await?,
        (Operation::Apply, None) => engine.propose(Intent::Apply, cancel.clone()).await?,
        (Operation::Destroy, _) => engine.teardown().await?,
    };
    match decide(engine, &proposal, operation, options, &console, &cancel).await {
        Ok(true) => {
            engine
                .carry_out(proposal, operation, options, console, cancel)
                .await
        }
        Ok(false) => {
            engine.withdraw(&proposal, console.as_ref()).await;
            Ok(if engine.changes(&proposal) {
                Finish::Declined
            } else {
                Finish::NoChanges
            })
        }
        Err(e) => {
            engine.withdraw(&proposal, console.as_ref()).await;
            Err(e)
        }
    }
}

/// Show the plan, pass the gates and ask: whether to carry it out.
async fn decide<E: Engine>(
    engine: &E,
    proposal: &E::Proposal,
    operation: Operation,
    options: &RunOptions,
    console: &Arc<dyn Console>,
    cancel: &watch::Receiver<bool>,
) -> Result<bool, EngineError> {
    console.plan(engine.plan_of(proposal));
    if !engine.changes(proposal) {
        return Ok(false);
    }
    let interactive = console.interactive();
    let consent = Consent {
        interactive: interactive && !options.yes,
        allow_data_loss: options.allow_data_loss,
        allow_open: options.allow_open,
    };
    let reasons = engine.refusals(proposal, consent);
    if !reasons.is_empty() {
        return Err(EngineError::Refused {
            verb: operation.verb(),
            reasons,
        });
    }
    if !options.yes {
        if !interactive {
            return Err(EngineError::NoTerminal {
                verb: operation.verb(),
            });
        }
        if !console::confirm(console, &engine.question(operation), cancel.clone()).await? {
            console.notice(&format!(
                "{} cancelled; nothing was changed.",
                operation.title()
            ));
            return Ok(false);
        }
    }
    if *cancel.borrow() {
        console.notice(&format!(
            "{} interrupted; nothing was changed.",
            operation.title()
        ));
        return Ok(false);
    }
    Ok(true)
}

/// `output`: the stack's outputs from live state.
pub async fn outputs<E: Engine>(
    engine: &mut E,
) -> Result<BTreeMap<String, Option<String>>, EngineError> {
    engine.outputs().await
}

/// The engine chosen for a stack, connected to AWS.
#[derive(Debug)]
pub enum Connected<'a> {
    Direct(Direct<Aws>),
    Cloudformation(Cloudformation<'a>),
}

/// Connect the engine `kind` for `stack`. Refuses, before any call, what that engine
/// cannot do with the stack.
pub async fn connect<'a>(
    kind: EngineKind,
    stack: &'a Stack,
    graph: &'a Graph,
    deep: bool,
    console: Arc<dyn Console>,
) -> Result<Connected<'a>, EngineError> {
    match kind {
        EngineKind::Direct => Ok(Connected::Direct(
            Direct::connect(stack.clone(), graph.clone(), deep).await?,
        )),
        EngineKind::Cloudformation => {
            if !stack.imports.is_empty() {
                return Err(EngineError::Message(format!(
                    "the env file imports {} resource(s) with `[import]`, which the \
                     CloudFormation engine does not do: it would have to hand them to a \
                     CloudFormation stack; nothing was sent to AWS\n\n\
                     hint: adopt them with the direct engine (drop --engine), or take the \
                     `[import]` table out",
                    stack.imports.len()
                )));
            }
            if stack.expires_secs.is_some() {
                return Err(EngineError::Message(
                    "`expires` is carried out by the direct engine (it tags every resource \
                     itself); CloudFormation's stacks have no expiry here: drop --engine \
                     cloudformation, or `expires` from the env file"
                        .into(),
                ));
            }
            if deep {
                return Err(EngineError::Message(
                    "--deep reads what the direct engine tracks in tags; CloudFormation's change \
                     set needs no such read: drop --deep"
                        .into(),
                ));
            }
            Ok(Connected::Cloudformation(
                Cloudformation::connect(stack, graph, console).await?,
            ))
        }
    }
}

/// Run `$body` with `$engine` bound to whichever engine `$connected` holds.
#[macro_export]
macro_rules! with_engine {
    ($connected:expr, $engine:ident => $body:expr) => {
        match $connected {
            $crate::engine::Connected::Direct($engine) => $body,
            $crate::engine::Connected::Cloudformation($engine) => $body,
        }
    };
}

/// The first Ctrl-C (SIGINT) cancels: nothing new starts, what is in flight finishes, the
/// lock is released. The second exits at once. Install it before anything is taken, so
/// an interrupt at any point lets go of it.
pub fn on_ctrl_c(console: Arc<dyn Console>) -> watch::Receiver<bool> {
    let (cancel_tx, cancel) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            console.notice(
                "\ninterrupted: starting nothing new, letting the changes in flight finish \
                 (Ctrl-C again to exit at once)",
            );
            let _ = cancel_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                console.notice("exiting at once: the next plan shows what is left");
                std::process::exit(130);
            }
        }
    });
    cancel
}

/// Unique to this run: the time and the process.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos:x}-{:x}", std::process::id())
}
