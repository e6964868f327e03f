//! The direct engine: stackwright reads live state through a [`Provider`], plans against
//! it, and walks the plan itself ([`apply::execute`]) under the stack's lock.
//!
//! 1. Propose: refresh, plan (or, for a saved plan, check that the live state of every
//!    address it touches is as it was, and that the plan still follows from its stack),
//!    read the secrets the plan sends. A lock held by another live run is found here, by
//!    a read, so a second apply fails at once and changes nothing.
//! 2. Carry out: take the lock (the first call that changes AWS), refresh again and check
//!    that nothing the plan touches moved while it was shown and confirmed, walk it,
//!    release the lock whatever happened.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::watch;

use super::console::redact_report;
use super::error::fail;
use super::gates::{self, Consent};
use super::secrets::{self, Lookup};
use super::{Console, Engine, EngineError, Finish, Intent, Operation, Redacting, RunOptions};
use crate::apply::{self, Job};
use crate::graph::Graph;
use crate::plan::{self, Action, Plan, PlannedBy};
use crate::planfile::{self, SavedPlan};
use crate::provider::aws::Aws;
use crate::provider::aws::lock::{Holder, LockError};
use crate::provider::{LiveState, Locking, Provider, Scope, Secret};
use crate::stack::{Kind, Stack};

/// The direct engine over a provider (AWS, or the in-memory one in tests).
pub struct Direct<P> {
    provider: Arc<P>,
    stack: Stack,
    graph: Graph,
    scope: Scope,
    lookup: Lookup,
    run_id: String,
    /// The secrets to rotate: set, once checked, by [`Engine::preflight`].
    rotating: BTreeSet<String>,
    /// `--allow-replace-import`.
    allow_replace_import: bool,
}

impl<P> std::fmt::Debug for Direct<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("stack", &self.stack.name)
            .field("env", &self.stack.env)
            .finish_non_exhaustive()
    }
}

/// A plan of the direct engine, and what carrying it out needs.
#[derive(Debug)]
pub struct DirectProposal {
    pub plan: Plan,
    /// The live state the plan was made from.
    live: LiveState,
    /// The secrets the plan sends to AWS (read when proposing to apply).
    secrets: BTreeMap<String, Secret>,
    /// A teardown walks an empty stack's graph.
    teardown: bool,
    /// Made from a saved plan: applied exactly, or refused.
    saved: bool,
    /// An apply of an env that expires (or no longer does): the `stackwright:expires` tag
    /// is rewritten on every resource even when nothing else changes.
    renew: bool,
}

impl Direct<Aws> {
    /// Connect to AWS for `stack`: `deep` reads per-resource attributes for real.
    pub async fn connect(stack: Stack, graph: Graph, deep: bool) -> Result<Self, EngineError> {
        let lookup = secrets::process_env();
        let scope = secrets::scope(&stack, deep, &lookup)?;
        let aws = Aws::connect(&stack).await?;
        Ok(Direct::new(Arc::new(aws), stack, graph, scope, lookup))
    }
}

impl<P: Provider + Locking + 'static> Direct<P> {
    pub fn new(provider: Arc<P>, stack: Stack, graph: Graph, scope: Scope, lookup: Lookup) -> Self {
        Direct {
            provider,
            stack,
            graph,
            scope,
            lookup,
            run_id: super::run_id(),
            rotating: BTreeSet::new(),
            allow_replace_import: false,
        }
    }

    /// Live state, with what `[moved]` renames found at its new address.
    async fn refresh(&self) -> Result<LiveState, EngineError> {
        let mut live = self.provider.refresh(&self.scope).await?;
        plan::moves::relocate(&self.stack, &mut live);
        Ok(live)
    }

    /// Refuse, from what refresh read, imports that cannot go ahead ([`plan::imports`]).
    fn imports_allowed(&self, live: &LiveState, plan: &Plan) -> Result<(), EngineError> {
        let reasons = plan::imports::refusals(&self.stack, live, plan, self.allow_replace_import);
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(EngineError::ImportRefused { reasons })
        }
    }

    /// A stack with the same settings and no resources: what a teardown plans towards.
    fn nothing(&self) -> Stack {
        Stack {
            resources: BTreeMap::new(),
            ..self.stack.clone()
        }
    }

    fn graph_of_nothing(&self) -> Result<Graph, EngineError> {
        Graph::build(&self.nothing())
            .map_err(|_| EngineError::Message("an empty stack has no cycle".into()))
    }

    /// Refuse a plan that creates a resource under a name another stack holds: at plan
    /// time, naming that stack, rather than half way through an apply. Resources of this
    /// stack and env are refresh's to find.
    async fn names_free(&self, plan: &Plan) -> Result<(), EngineError> {
        let wanted: Vec<(crate::stack::Address, String)> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::Create)
            .filter(|c| {
                matches!(
                    c.address.kind,
                    Kind::SecurityGroup | Kind::LoadBalancer | Kind::Database | Kind::KeyPair
                )
            })
            .filter_map(|c| {
                let resource = self.stack.resource(&c.address)?;
                Some((c.address.clone(), resource.physical_name.clone()))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let reasons: Vec<String> = self
            .provider
            .taken(&self.scope, &wanted)
            .await?
            .into_iter()
            .filter_map(|t| {
                // Another stack's: refused now. Nobody's (made by hand, or by another tool)
                // is left to the create, which fails naming it; adopting it is `[import]`'s.
                let o = t.owner?;
                if o.stack == self.scope.stack && o.env == self.scope.env {
                    return None;
                }
                Some(format!(
                    "`{}` would be named `{}`, which stack `{}` env `{}` (its `{}`) already has",
                    t.address, t.name, o.stack, o.env, o.address
                ))
            })
            .collect();
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(EngineError::NamesTaken { reasons })
        }
    }

    /// Fail at once, by a read, when another run holds the lock and we are not to wait.
    async fn not_locked(&self, options: &RunOptions) -> Result<(), EngineError> {
        if !options.lock_timeout.is_zero() {
            return Ok(());
        }
        match self.provider.holder(&self.scope).await? {
            Some(holder) => Err(self.locked(holder, options)),
            None => Ok(()),
        }
    }

    fn locked(&self, holder: Holder, options: &RunOptions) -> EngineError {
        EngineError::Locked {
            stack: self.scope.stack.clone(),
            env: self.scope.env.clone(),
            holder: Box::new(holder),
            dir: options.dir.clone(),
        }
    }

    /// Under the lock: the live state again, then the walk. If anything the plan touches
    /// moved while it was shown and confirmed (another run, waited for with
    /// `--lock-timeout`), the plan is made again: with nothing left to do, nothing is done
    /// (`None`); with the same changes, they are made; otherwise the run is refused. A
    /// saved plan is applied exactly or refused.
    async fn walk(
        &self,
        proposal: DirectProposal,
        options: &RunOptions,
        console: &Arc<dyn Console>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Option<apply::Applied>, EngineError> {
        let live = self.refresh().await?;
        let graph = if proposal.teardown {
            self.graph_of_nothing()?
        } else {
            self.graph.clone()
        };
        let mut plan = proposal.plan;
        if let Err(moved) = still_current(&plan, &live) {
            if proposal.saved {
                return Err(moved);
            }
            let towards = if proposal.teardown {
                self.nothing()
            } else {
                self.stack.clone()
            };
            let rotating = if proposal.teardown {
                BTreeSet::new()
            } else {
                self.rotating.clone()
            };
            let mut again = plan::plan_rotating(&towards, &graph, &live, &rotating);
            super::restore::carry(&towards, &plan, &mut again);
            if !again.has_changes() && !proposal.renew {
                console.notice(
                    "Nothing left to do: the changes were made while this run waited for the \
                     lock.",
                );
                return Ok(None);
            }
            if again.has_changes() && !same_changes(&again, &plan) {
                return Err(moved);
            }
            plan = again;
        }
        let secret_values = values(&proposal.secrets);
        let reporter = Arc::new(Redacting {
            inner: console.reporter(),
            secrets: secret_values,
        });
        // Apply time plus the env's `expires`: taken once, so every resource of this run
        // carries the same time.
        let expires_at = self
            .stack
            .expires_secs
            .filter(|_| proposal.renew)
            .map(|secs| crate::provider::inventory::expires_at(std::time::SystemTime::now(), secs));
        let job = Job {
            stack: self.stack.clone(),
            plan,
            live,
            secrets: proposal.secrets,
            run: self.run_id.clone(),
            parallelism: options.parallelism,
            expires_at: expires_at.clone(),
        };
        let applied = apply::execute(
            self.provider.clone(),
            self.scope.clone(),
            job,
            &graph,
            reporter,
            cancel,
        )
        .await;
        if proposal.renew {
            self.renew(&applied, expires_at.as_deref(), console).await;
        }
        Ok(Some(applied))
    }

    /// Rewrite the `stackwright:expires` tag of every resource the env has after the walk
    /// (those it created carry it already; tagging them again is harmless), or remove it.
    /// A failure is warned of: the walk's changes stand, and the next apply renews again.
    async fn renew(&self, applied: &apply::Applied, at: Option<&str>, console: &Arc<dyn Console>) {
        let resources: Vec<crate::provider::LiveResource> =
            applied.known.values().cloned().collect();
        match self.provider.set_expiry(&self.scope, &resources, at).await {
            Ok(()) => console.notice(&match at {
                Some(at) => format!("Expires at {at}."),
                None => "No longer expires.".to_string(),
            }),
            Err(e) => console.warning(&format!(
                "could not renew the expiry of stack `{}` env `{}`: {e}\nhint: apply again",
                self.scope.stack, self.scope.env
            )),
        }
    }
}

/// Whether two plans make the same changes (their fingerprints aside).
fn same_changes(a: &Plan, b: &Plan) -> bool {
    let strip = |p: &Plan| -> Vec<plan::Change> {
        p.changes
            .iter()
            .cloned()
            .map(|mut c| {
                c.fingerprint = None;
                c
            })
            .collect()
    };
    strip(a) == strip(b)
}

fn values(secrets: &BTreeMap<String, Secret>) -> Vec<String> {
    secrets.values().map(|s| s.expose().to_string()).collect()
}

impl<P: Provider + Locking + 'static> Engine for Direct<P> {
    type Proposal = DirectProposal;

    fn allow_replace_import(&mut self, allow: bool) {
        self.allow_replace_import = allow;
    }

    async fn preflight(&mut self, options: &RunOptions) -> Result<(), EngineError> {
        // Before anything is read: a secret the stack does not have, or that nothing uses.
        plan::rotate::check(&self.stack, &options.rotate).map_err(EngineError::Message)?;
        self.rotating = options.rotate.clone();
        self.not_locked(options).await
    }

    async fn propose(
        &mut self,
        intent: Intent,
        _cancel: watch::Receiver<bool>,
    ) -> Result<DirectProposal, EngineError> {
        self.provider.placement(&self.scope, &self.stack).await?;
        let live = self.refresh().await?;
        let mut plan = plan::plan_rotating(&self.stack, &self.graph, &live, &self.rotating);
        self.imports_allowed(&live, &plan)?;
        self.names_free(&plan).await?;
        super::restore::find(&*self.provider, &self.scope, &self.stack, &mut plan).await?;
        super::restore::unfinished(&self.stack, &live, &mut plan);
        let secrets = match intent {
            Intent::Apply => secrets::needed(&plan, &self.stack, &self.lookup)?,
            Intent::Plan | Intent::Save => BTreeMap::new(),
        };
        let renew = intent == Intent::Apply && plan.expires.is_some();
        Ok(DirectProposal {
            plan,
            live,
            secrets,
            teardown: false,
            saved: false,
            renew,
        })
    }

    async fn resume(&mut self, saved: &SavedPlan) -> Result<DirectProposal, EngineError> {
        if saved.plan.engine != PlannedBy::Direct {
            fail!("the saved plan is not the direct engine's");
        }
        if !self.rotating.is_empty() {
            fail!(
                "--rotate-secret is planned when applying a stack, not kept in a saved plan; \
                 nothing was changed\n\nhint: `stackwright apply STACK --env ENV \
                 --rotate-secret NAME` (it shows the plan and asks)"
            );
        }
        self.provider.placement(&self.scope, &self.stack).await?;
        let live = self.refresh().await?;
        still_current(&saved.plan, &live)?;
        // The plan must follow from the stack saved with it, against the same live state:
        // an edit to either (a mark taken out, an attribute changed) is refused.
        let mut again = plan::plan(&self.stack, &self.graph, &live);
        super::restore::carry(&self.stack, &saved.plan, &mut again);
        if again.changes != saved.plan.changes {
            fail!(
                "the saved plan does not follow from the stack saved with it (the file was \
                 changed?); nothing was changed\n\nhint: plan again"
            );
        }
        self.imports_allowed(&live, &again)?;
        self.names_free(&again).await?;
        // Restored from the snapshot shown, which must still be there.
        super::restore::still_there(&*self.provider, &self.scope, &again).await?;
        let secrets = secrets::needed(&again, &self.stack, &self.lookup)?;
        let renew = again.expires.is_some();
        Ok(DirectProposal {
            plan: again,
            live,
            secrets,
            teardown: false,
            saved: true,
            renew,
        })
    }

    async fn teardown(&mut self) -> Result<DirectProposal, EngineError> {
        let live = self.refresh().await?;
        let plan = plan::plan(&self.nothing(), &self.graph_of_nothing()?, &live);
        Ok(DirectProposal {
            plan,
            live,
            secrets: BTreeMap::new(),
            teardown: true,
            saved: false,
            renew: false,
        })
    }

    fn plan_of<'p>(&self, proposal: &'p DirectProposal) -> &'p Plan {
        &proposal.plan
    }

    /// An apply that only renews the expiry still has something to do; a `plan` of it
    /// has no changes ([`plan::expiry`]).
    fn changes(&self, proposal: &DirectProposal) -> bool {
        proposal.plan.has_changes() || proposal.renew
    }

    fn refusals(&self, proposal: &DirectProposal, consent: Consent) -> Vec<String> {
        gates::refusals(&proposal.plan, &self.stack, &proposal.live, consent)
    }

    fn question(&self, operation: Operation) -> String {
        format!(
            "\nDo you want to {} stack `{}` (env `{}`) as above? Only `yes` is accepted: ",
            operation.verb(),
            self.scope.stack,
            self.scope.env
        )
    }

    async fn save(
        &mut self,
        proposal: &DirectProposal,
        path: &std::path::Path,
        source: Option<&planfile::Source>,
    ) -> Result<bool, EngineError> {
        let saved = SavedPlan {
            plan: proposal.plan.clone(),
            stack: self.stack.clone(),
            change_set: None,
            deep: self.scope.deep,
            source: source.cloned(),
        };
        planfile::write(&saved, path)?;
        Ok(false)
    }

    async fn carry_out(
        &mut self,
        proposal: DirectProposal,
        operation: Operation,
        options: &RunOptions,
        console: Arc<dyn Console>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Finish, EngineError> {
        let me = Holder::me(&self.run_id);
        let warn = |m: &str| console.warning(m);
        let lock = match self
            .provider
            .lock(&self.scope, &me, options.lock_timeout, &warn)
            .await
        {
            Ok(lock) => lock,
            Err(LockError::Held { holder, .. }) => return Err(self.locked(holder, options)),
            Err(LockError::Provider(e)) => return Err(e.into()),
        };
        let secret_values = values(&proposal.secrets);
        let plan = proposal.plan.clone();
        let walked = self.walk(proposal, options, &console, cancel).await;
        // Released whatever happened; a failure to release is said, not hidden.
        if let Err(e) = self.provider.unlock(&self.scope, lock).await {
            console.warning(&format!(
                "could not release the lock: {e}\nhint: `stackwright unlock {} --env {}`",
                options.dir, self.scope.env
            ));
        }
        let Some(applied) = walked? else {
            return Ok(Finish::NoChanges);
        };
        let mut report = applied.report;
        redact_report(&mut report, &secret_values);
        let succeeded = report.succeeded();
        let outputs = (succeeded && operation == Operation::Apply)
            .then(|| plan::outputs(&self.stack, &applied.known));
        Ok(Finish::Carried {
            plan,
            report,
            outputs,
            succeeded,
        })
    }

    async fn withdraw(&mut self, _proposal: &DirectProposal, _console: &dyn Console) {}

    async fn outputs(&mut self) -> Result<BTreeMap<String, Option<String>>, EngineError> {
        let live = self.refresh().await?;
        Ok(plan::outputs(&self.stack, &live.resources))
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        self.provider.calls()
    }
}

/// A plan applies only to the live state it was made from: every address it touches
/// must be as it was (a create: still absent).
pub fn still_current(plan: &Plan, live: &LiveState) -> Result<(), EngineError> {
    let mut moved = Vec::new();
    for change in &plan.changes {
        let now = live.resources.get(&change.address);
        let same = match (change.action, now) {
            (Action::Create, None) => true,
            (Action::Create, Some(_)) => false,
            (_, Some(now)) => {
                change.fingerprint.as_deref() == Some(plan::fingerprint(now).as_str())
            }
            (_, None) => false,
        };
        if !same {
            moved.push(format!("`{}`", change.address));
        }
    }
    if moved.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Moved { addresses: moved })
    }
}
