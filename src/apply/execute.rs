//! Carrying out a plan against a [`Provider`]: what each step of the walk does.
//!
//! The executor keeps what is known of every resource, starting from the refresh the plan
//! was made from. Before a step runs, the resource's desired attributes are derived again
//! from it, so a reference to something created a moment ago (an instance's public name
//! in a DNS record) resolves to its real value; after the step, the resource is known as
//! [`plan::after_apply`] says a complete apply leaves it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{Report, Reporter, Step, schedule, walk_batched};
use crate::graph::Graph;
use crate::plan::{self, Action, Change, Plan, attrs};
use crate::provider::Progress;
use crate::provider::{
    Desired, LiveResource, LiveState, Provider, Scope, Secret, TAG_ADDRESS, TAG_APPLIED,
    TAG_ATTR_PREFIX, TAG_ENV, TAG_EXPIRES, TAG_FINAL_SNAPSHOT, TAG_PREVENT_DESTROY, TAG_STACK,
    Teardown, Value,
};
use crate::stack::model::{GroupRef, RuleSource, Spec, format_duration};
use crate::stack::template::{Part, Template};
use crate::stack::{Address, Kind, Resource, Stack};

/// Everything an apply needs besides the provider.
#[derive(Debug)]
pub struct Job {
    /// The stack being applied (for `destroy`, the stack as declared, for its settings).
    pub stack: Stack,
    pub plan: Plan,
    /// The live state the plan was made from.
    pub live: LiveState,
    /// Secret values by name: only those [`secrets_needed`] names.
    pub secrets: BTreeMap<String, Secret>,
    /// Unique to this run: part of every idempotency token.
    pub run: String,
    pub parallelism: usize,
    /// The `stackwright:expires` time every resource is created (and updated) with, when
    /// the env expires.
    pub expires_at: Option<String>,
}

/// What an apply did, and every resource as it left it.
#[derive(Debug)]
pub struct Applied {
    pub report: Report,
    pub known: BTreeMap<Address, LiveResource>,
}

/// The secrets the plan's changes send to AWS: those in the user data of instances and
/// the master passwords of databases it creates or replaces, and the master passwords of
/// databases it updates to rotate a secret (`apply --rotate-secret`).
pub fn secrets_needed(plan: &Plan, stack: &Stack) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for change in &plan.changes {
        let rotated = change
            .attrs
            .iter()
            .any(|a| a.name == "master_password" && !a.rotating.is_empty());
        if !matches!(change.action, Action::Create | Action::Replace) && !rotated {
            continue;
        }
        let Some(resource) = stack.resource(&change.address) else {
            continue;
        };
        let template: Option<&Template> = match &resource.spec {
            Spec::Instance(i) => i.user_data.as_ref(),
            Spec::Database(d) => Some(&d.master_password),
            _ => None,
        };
        for part in template.iter().flat_map(|t| t.parts.iter()) {
            if let Part::Secret(name) = part {
                names.insert(name.clone());
            }
        }
    }
    names
}

/// How each database is torn down: with a final snapshot unless the stack says not. A
/// database the stack no longer has (a teardown from tags alone, or one taken out of the
/// stack) goes as its `stackwright:final-snapshot` tag says, with a snapshot without one.
fn teardown(stack: &Stack, address: &Address, live: &LiveResource) -> Teardown {
    Teardown {
        final_snapshot: match stack.resource(address).map(|r| &r.spec) {
            Some(Spec::Database(d)) => d.final_snapshot,
            _ => live.attrs.get("final_snapshot") != Some(&Value::text("false")),
        },
    }
}

struct State<P> {
    provider: Arc<P>,
    scope: Scope,
    stack: Stack,
    changes: BTreeMap<Address, Change>,
    secrets: BTreeMap<String, Secret>,
    run: String,
    expires_at: Option<String>,
    known: Mutex<BTreeMap<Address, LiveResource>>,
    /// Records a replaced instance's step switched to its successor already.
    switched: Mutex<BTreeSet<Address>>,
    reporter: Arc<dyn Reporter>,
}

/// Apply `job.plan` in dependency order, in parallel; stop starting steps after a failure
/// or once `cancel` turns true.
pub async fn execute<P: Provider + 'static>(
    provider: Arc<P>,
    scope: Scope,
    job: Job,
    graph: &Graph,
    reporter: Arc<dyn Reporter>,
    cancel: watch::Receiver<bool>,
) -> Applied {
    let order = schedule(&job.plan, graph);
    let steps: Vec<Step> = job
        .plan
        .changes
        .iter()
        .map(|c| Step {
            address: c.address.clone(),
            action: c.action,
        })
        .collect();
    reporter.planned(&steps);
    // Instances a killed run launched for addresses others hold: not the stack's. Should
    // one fail to go, the next plan says so again.
    for (address, id) in &job.live.surplus {
        let stray = LiveResource {
            address: address.clone(),
            id: id.clone(),
            attrs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            applied: None,
            expires: None,
        };
        let how = Teardown {
            final_snapshot: false,
        };
        let _ = provider.destroy(&scope, &stray, how, &|_: &str| {}).await;
    }
    let state = Arc::new(State {
        provider,
        scope,
        changes: job
            .plan
            .changes
            .iter()
            .map(|c| (c.address.clone(), c.clone()))
            .collect(),
        known: Mutex::new(job.live.resources),
        switched: Mutex::default(),
        stack: job.stack,
        secrets: job.secrets,
        run: job.run,
        expires_at: job.expires_at,
        reporter: reporter.clone(),
    });
    let perform = |steps: Vec<Step>| {
        let state = state.clone();
        async move {
            match steps.as_slice() {
                [step] => vec![state.perform(step).await],
                [first, ..] if first.action == Action::Create => state.launch(&steps).await,
                // Terminations at once: the provider sends them in few calls.
                _ => {
                    let mut set = tokio::task::JoinSet::new();
                    let n = steps.len();
                    for (i, step) in steps.into_iter().enumerate() {
                        let state = state.clone();
                        set.spawn(async move { (i, state.perform(&step).await) });
                    }
                    let mut out: Vec<Result<(), String>> = (0..n)
                        .map(|_| Err("the step did not finish".into()))
                        .collect();
                    while let Some(joined) = set.join_next().await {
                        if let Ok((i, result)) = joined {
                            out[i] = result;
                        }
                    }
                    out
                }
            }
        }
    };
    let report = walk_batched(&order, job.parallelism, reporter, cancel, perform).await;
    let known = state.known.lock().map(|k| k.clone()).unwrap_or_default();
    Applied { report, known }
}

impl<P: Provider> State<P> {
    /// A copy of everything known, for a step to derive its attributes from.
    fn known(&self) -> BTreeMap<Address, LiveResource> {
        self.known.lock().map(|k| k.clone()).unwrap_or_default()
    }

    /// One resource as known now (no copy of the rest).
    fn known_one(&self, address: &Address) -> Option<LiveResource> {
        self.known.lock().ok()?.get(address).cloned()
    }

    fn addresses_known(&self) -> BTreeSet<Address> {
        self.known
            .lock()
            .map(|k| k.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn set_known(&self, address: &Address, resource: Option<LiveResource>) {
        if let Ok(mut known) = self.known.lock() {
            match resource {
                Some(r) => known.insert(address.clone(), r),
                None => known.remove(address),
            };
        }
    }

    async fn perform(&self, step: &Step) -> Result<(), String> {
        let change = self
            .changes
            .get(&step.address)
            .ok_or_else(|| format!("`{}` is not in the plan", step.address))?;
        let progress = |message: &str| self.reporter.progress(step, message);
        let address = &step.address;
        let live = self.known_one(address);
        let destroy = |live: LiveResource| async move {
            self.provider
                .destroy(
                    &self.scope,
                    &live,
                    teardown(&self.stack, address, &live),
                    &progress,
                )
                .await
                .map_err(|e| e.to_string())?;
            self.set_known(address, None);
            Ok::<(), String>(())
        };
        match change.action {
            Action::Destroy => match live {
                Some(live) => destroy(live).await,
                None => Ok(()), // gone already
            },
            Action::Replace if change.rolling.is_some() && address.kind == Kind::Instance => {
                self.roll(change, live, &progress).await
            }
            Action::Replace if !change.dns_switch.is_empty() && address.kind == Kind::Instance => {
                self.switch(change, live, &progress).await
            }
            Action::Replace => {
                if let Some(live) = live {
                    destroy(live).await?;
                }
                self.create_or_update(change, None, &progress).await
            }
            Action::Create => self.create_or_update(change, None, &progress).await,
            Action::Update
                if change.attrs.iter().all(|a| a.name == "records")
                    && self.switched.lock().is_ok_and(|s| s.contains(address)) =>
            {
                progress("switched already, to the instance that replaced its target");
                Ok(())
            }
            // An import is an update that also writes the stack's tags (or claim): the
            // provider's update always does.
            // So is a move: the tags written are the new address's.
            Action::Update | Action::Import | Action::Move => {
                let live = live.ok_or_else(|| format!("`{address}` is gone"))?;
                self.create_or_update(change, Some(&live), &progress).await
            }
        }
    }

    async fn create_or_update(
        &self,
        change: &Change,
        live: Option<&LiveResource>,
        progress: &Progress<'_>,
    ) -> Result<(), String> {
        let address = &change.address;
        let resource = self
            .stack
            .resource(address)
            .ok_or_else(|| format!("`{address}` is not in the stack"))?;
        let changed = change.attrs.iter().map(|a| a.name.clone()).collect();
        let known_before = self.addresses_known();
        self.put(resource, live, changed, progress).await?;
        if address.kind == Kind::SecurityGroup {
            // Groups created at the same time as this one: whichever of two is known
            // second completes the rules between them, so both look at the other after
            // being known themselves.
            let appeared = group_refs(resource)
                .any(|g| !known_before.contains(g) && self.known_one(g).is_some());
            if appeared && let Some(now) = self.known_one(address) {
                let changed = ["ingress", "egress"].map(String::from).into();
                self.put(resource, Some(&now), changed, progress).await?;
            }
            self.complete_rules_naming(address, progress).await?;
        }
        Ok(())
    }

    /// Create (no `live`) or update one resource, and know it as it is left.
    async fn put(
        &self,
        resource: &Resource,
        live: Option<&LiveResource>,
        changed: BTreeSet<String>,
        progress: &Progress<'_>,
    ) -> Result<(), String> {
        let address = &resource.address;
        let known = self.known();
        let (want, desired) = self.desire(resource, live, changed, &known)?;
        let result = match live {
            Some(live) => {
                self.provider
                    .update(&self.scope, live, &want, progress)
                    .await
            }
            None => self.provider.create(&self.scope, &want, progress).await,
        }
        .map_err(|e| e.to_string())?;
        self.set_known(
            address,
            Some(plan::after_apply(
                address,
                result.id,
                &desired,
                result.outputs,
            )),
        );
        Ok(())
    }

    /// The creates of replicas of one instance block, ready together: one call to the
    /// provider, which launches those that share a launch specification together. Each
    /// step's outcome, in order.
    async fn launch(&self, steps: &[Step]) -> Vec<Result<(), String>> {
        let known = self.known();
        let mut outcomes: Vec<Result<(), String>> = Vec::with_capacity(steps.len());
        let mut members: Vec<(usize, BTreeMap<String, Value>)> = Vec::new();
        let mut wants: Vec<Desired<'_>> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let Some(change) = self.changes.get(&step.address) else {
                outcomes.push(Err(format!("`{}` is not in the plan", step.address)));
                continue;
            };
            let Some(resource) = self.stack.resource(&step.address) else {
                outcomes.push(Err(format!("`{}` is not in the stack", step.address)));
                continue;
            };
            let changed = change.attrs.iter().map(|a| a.name.clone()).collect();
            match self.desire(resource, None, changed, &known) {
                Ok((want, attrs)) => {
                    outcomes.push(Ok(()));
                    members.push((i, attrs));
                    wants.push(want);
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        // The batch's news once, on its first replica (the fleet's bar on a terminal),
        // not once per replica.
        let first = members.first().map(|(i, _)| &steps[*i]);
        let progress = |message: &str| {
            if let Some(step) = first {
                self.reporter.progress(step, message);
            }
        };
        let results = self
            .provider
            .create_batch(&self.scope, &wants, &progress)
            .await;
        let mut results = results.into_iter();
        for (i, attrs) in &members {
            let address = &steps[*i].address;
            outcomes[*i] = match results.next() {
                Some(Ok(applied)) => {
                    self.set_known(
                        address,
                        Some(plan::after_apply(
                            address,
                            applied.id,
                            attrs,
                            applied.outputs,
                        )),
                    );
                    Ok(())
                }
                Some(Err(e)) => Err(e.to_string()),
                None => Err(format!("no outcome was reported for `{address}`")),
            };
        }
        outcomes
    }

    /// What the provider is given to create (no `live`) or update one resource, and the
    /// desired attributes, derived from what is `known` now.
    fn desire<'r>(
        &self,
        resource: &'r Resource,
        live: Option<&LiveResource>,
        changed: BTreeSet<String>,
        known: &BTreeMap<Address, LiveResource>,
    ) -> Result<(Desired<'r>, BTreeMap<String, Value>), String> {
        let address = &resource.address;
        let view: attrs::Known<'_> = known.iter().map(|(a, r)| (a.clone(), Some(r))).collect();
        let desired = attrs::desired(resource, &view);
        if let Some((name, _)) = desired.iter().find(|(_, v)| **v == Value::Unknown) {
            return Err(format!(
                "`{name}` is still unknown: something it refers to was not applied"
            ));
        }
        let after = plan::after_apply(address, String::new(), &desired, BTreeMap::new());
        let mut tags: BTreeMap<String, String> = match desired.get("tags") {
            Some(Value::List(items)) => items
                .iter()
                .filter_map(|t| t.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _ => BTreeMap::new(),
        };
        let applied = after.applied.clone().unwrap_or_default();
        tags.insert(TAG_STACK.into(), self.scope.stack.clone());
        tags.insert(TAG_ENV.into(), self.scope.env.clone());
        tags.insert(TAG_ADDRESS.into(), address.to_string());
        tags.insert(TAG_APPLIED.into(), applied.clone());
        if resource.prevent_destroy {
            tags.insert(TAG_PREVENT_DESTROY.into(), "true".into());
        }
        if let Some(at) = &self.expires_at {
            tags.insert(TAG_EXPIRES.into(), at.clone());
        }
        // What a destroy from tags alone (no stack files) needs to honour the stack.
        if let Spec::Database(d) = &resource.spec {
            tags.insert(TAG_FINAL_SNAPSHOT.into(), d.final_snapshot.to_string());
        }
        for m in attrs::meta(address.kind).iter().filter(|m| m.tracked) {
            if let Some(Value::Text(t)) = after.attrs.get(m.name) {
                tags.insert(format!("{TAG_ATTR_PREFIX}{}", m.name), t.clone());
            }
        }
        let secret = |t: &Template| attrs::render_secret(t, &view, &self.secrets);
        let (user_data, master_password) = match &resource.spec {
            Spec::Instance(i) if live.is_none() => {
                (i.user_data.as_ref().map(secret).transpose()?, None)
            }
            // Sent on create, and on an update only to rotate it.
            Spec::Database(d) if live.is_none() || changed.contains("master_password") => {
                (None, Some(secret(&d.master_password)?))
            }
            _ => (None, None),
        };
        let token = {
            let text = format!(
                "{}\n{}\n{address}\n{}",
                self.scope.stack, self.scope.env, self.run
            );
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("sw-{hex}")
        };
        let want = Desired {
            resource,
            changed,
            tags,
            applied,
            ids: known
                .iter()
                .map(|(a, r)| (a.clone(), r.id.clone()))
                .collect(),
            user_data,
            master_password,
            token,
            attrs: desired.clone(),
            // Only a create restores: a replacement starts empty, as it always did.
            restore: self
                .changes
                .get(address)
                .filter(|c| live.is_none() && c.action == Action::Create)
                .and_then(|c| c.restored_from.as_ref())
                .map(|r| r.snapshot.clone()),
        };
        Ok((want, desired))
    }

    /// A rolling replacement of a balancer member: the new instance launched (the old one
    /// tagged retiring, so refresh tells them apart), registered with every balancer and
    /// `InService` on each before the old one is deregistered (its connections drained)
    /// and terminated. A new instance not in service within the health timeout is
    /// deregistered and terminated, and the old one keeps serving.
    async fn roll(
        &self,
        change: &Change,
        old: Option<LiveResource>,
        progress: &Progress<'_>,
    ) -> Result<(), String> {
        let address = &change.address;
        let rollout = change
            .rolling
            .as_ref()
            .ok_or_else(|| format!("`{address}` is not rolled"))?;
        let balancers: Vec<LiveResource> = rollout
            .balancers
            .iter()
            .map(|b| {
                self.known_one(b)
                    .ok_or_else(|| format!("`{b}` is gone: `{address}` cannot be rolled behind it"))
            })
            .collect::<Result<_, _>>()?;
        let resource = self
            .stack
            .resource(address)
            .ok_or_else(|| format!("`{address}` is not in the stack"))?;
        let err = |e: crate::provider::ProviderError| e.to_string();
        if let Some(old) = &old {
            self.provider
                .set_retiring(&self.scope, old, true)
                .await
                .map_err(err)?;
        }
        let changed = change.attrs.iter().map(|a| a.name.clone()).collect();
        if let Err(e) = self.put(resource, None, changed, progress).await {
            // Nothing new serves: the old instance stays the address's.
            self.keep(address, old.as_ref()).await;
            return Err(e);
        }
        let new = self
            .known_one(address)
            .ok_or_else(|| format!("`{address}` was launched but is not known"))?;
        let ids = vec![new.id.clone()];
        let healthy = async {
            for b in &balancers {
                progress(&format!("registering `{}` with `{}`", new.id, b.address));
                self.provider
                    .register(&self.scope, b, &ids)
                    .await
                    .map_err(err)?;
            }
            self.wait_in_service(&new.id, &balancers, rollout.health_timeout_secs, progress)
                .await
        };
        if let Err(why) = healthy.await {
            // Back out: the new instance leaves every balancer and goes; the old serves.
            let mut undone = Vec::new();
            for b in &balancers {
                if let Err(e) = self
                    .provider
                    .deregister(&self.scope, b, &ids, progress)
                    .await
                {
                    undone.push(e.to_string());
                }
            }
            if let Err(e) = self
                .provider
                .destroy(
                    &self.scope,
                    &new,
                    teardown(&self.stack, address, &new),
                    progress,
                )
                .await
            {
                undone.push(e.to_string());
            }
            self.keep(address, old.as_ref()).await;
            let kept = old
                .as_ref()
                .map(|o| format!("; `{}` keeps serving", o.id))
                .unwrap_or_default();
            let mut message = format!(
                "{why}; the new instance `{}` was deregistered and terminated{kept}",
                new.id
            );
            if !undone.is_empty() {
                message.push_str(&format!(" (backing out failed: {})", undone.join("; ")));
            }
            return Err(message);
        }
        if let Some(old) = &old {
            let old_ids = vec![old.id.clone()];
            for b in &balancers {
                progress(&format!("deregistering `{}` from `{}`", old.id, b.address));
                self.provider
                    .deregister(&self.scope, b, &old_ids, progress)
                    .await
                    .map_err(err)?;
            }
            progress(&format!("terminating `{}`", old.id));
            self.provider
                .destroy(
                    &self.scope,
                    old,
                    teardown(&self.stack, address, old),
                    progress,
                )
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// A replacement of an instance that records of the stack name: the new instance
    /// launched (the old one tagged retiring meanwhile), every record switched to it, then
    /// the old one terminated. A record that cannot be switched leaves the old instance
    /// serving and the new one terminated. The records' own steps, later in the walk,
    /// find them switched already.
    async fn switch(
        &self,
        change: &Change,
        old: Option<LiveResource>,
        progress: &Progress<'_>,
    ) -> Result<(), String> {
        let address = &change.address;
        let resource = self
            .stack
            .resource(address)
            .ok_or_else(|| format!("`{address}` is not in the stack"))?;
        let err = |e: crate::provider::ProviderError| e.to_string();
        if let Some(old) = &old {
            self.provider
                .set_retiring(&self.scope, old, true)
                .await
                .map_err(err)?;
        }
        let changed = change.attrs.iter().map(|a| a.name.clone()).collect();
        if let Err(e) = self.put(resource, None, changed, progress).await {
            self.keep(address, old.as_ref()).await;
            return Err(e);
        }
        let new = self
            .known_one(address)
            .ok_or_else(|| format!("`{address}` was launched but is not known"))?;
        for record in &change.dns_switch {
            progress(&format!("switching `{record}` to `{}`", new.id));
            let switched = match (self.stack.resource(record), self.known_one(record)) {
                (Some(r), Some(live)) => {
                    let changed = BTreeSet::from(["records".to_string()]);
                    self.put(r, Some(&live), changed, progress).await
                }
                _ => Err(format!("`{record}` is gone")),
            };
            if switched.is_ok()
                && let Ok(mut s) = self.switched.lock()
            {
                s.insert(record.clone());
            }
            if let Err(why) = switched {
                let undone = self
                    .provider
                    .destroy(
                        &self.scope,
                        &new,
                        teardown(&self.stack, address, &new),
                        progress,
                    )
                    .await
                    .err()
                    .map(|e| format!(" (terminating it failed: {e})"))
                    .unwrap_or_default();
                self.keep(address, old.as_ref()).await;
                let kept = old
                    .as_ref()
                    .map(|o| format!("; `{}` keeps serving", o.id))
                    .unwrap_or_default();
                return Err(format!(
                    "switching `{record}` to the new instance `{}` failed: {why}; the new \
                     instance was terminated{undone}{kept}",
                    new.id
                ));
            }
        }
        if let Some(old) = &old {
            progress(&format!("terminating `{}`", old.id));
            self.provider
                .destroy(
                    &self.scope,
                    old,
                    teardown(&self.stack, address, old),
                    progress,
                )
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// After a roll that did not go through: the old instance is the address's again.
    async fn keep(&self, address: &Address, old: Option<&LiveResource>) {
        if let Some(old) = old {
            // Best effort: refresh prefers an untagged instance, and there is none now.
            let _ = self.provider.set_retiring(&self.scope, old, false).await;
        }
        self.set_known(address, old.cloned());
    }

    /// Poll every balancer's view of `id` with backoff until all say `InService`, for at
    /// most `timeout_secs`; the error says what AWS last reported.
    async fn wait_in_service(
        &self,
        id: &str,
        balancers: &[LiveResource],
        timeout_secs: u64,
        progress: &Progress<'_>,
    ) -> Result<(), String> {
        let timeout = Duration::from_secs(timeout_secs);
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(500);
        let ids = vec![id.to_string()];
        loop {
            let mut waiting = Vec::new();
            for b in balancers {
                let health = self
                    .provider
                    .member_health(&self.scope, b, &ids)
                    .await
                    .map_err(|e| e.to_string())?;
                match health.iter().find(|h| h.id == id) {
                    Some(h) if h.in_service() => {}
                    Some(h) => waiting.push((b.address.clone(), h.to_string())),
                    None => waiting.push((b.address.clone(), "not listed".to_string())),
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            let reported: Vec<String> = waiting
                .iter()
                .map(|(b, h)| format!("`{b}` reports {h}"))
                .collect();
            if started.elapsed() >= timeout {
                return Err(format!(
                    "the new instance `{id}` was not InService within {}: {}",
                    format_duration(timeout_secs),
                    reported.join(", ")
                ));
            }
            progress(&format!(
                "waiting for `{id}` to be InService: {}",
                reported.join(", ")
            ));
            let left = timeout.saturating_sub(started.elapsed());
            tokio::time::sleep(delay.min(left)).await;
            delay = (delay * 3 / 2).min(Duration::from_secs(15));
        }
    }

    /// Rules that name a group are not creation edges (groups may admit each other), so
    /// a group created before the groups its rules name leaves those rules for later:
    /// once `group` exists, every group of the stack that already exists and names it
    /// gets its rules completed.
    async fn complete_rules_naming(
        &self,
        group: &Address,
        progress: &Progress<'_>,
    ) -> Result<(), String> {
        let named = GroupRef::Stack(group.clone());
        for resource in self.stack.resources.values() {
            if resource.address.kind != Kind::SecurityGroup {
                continue;
            }
            let names_it = group_refs(resource).any(|g| GroupRef::Stack(g.clone()) == named);
            if resource.address == *group || !names_it {
                continue;
            }
            let Some(live) = self.known_one(&resource.address) else {
                continue; // not created yet: its own create will see `group`
            };
            progress(&format!(
                "adding the rules of `{}` that name it",
                resource.address
            ));
            let changed = ["ingress", "egress"].map(String::from).into();
            self.put(resource, Some(&live), changed, progress).await?;
        }
        Ok(())
    }
}

/// The groups of the stack a security group's rules name (itself excluded).
fn group_refs(resource: &Resource) -> impl Iterator<Item = &Address> {
    let rules: Vec<_> = match &resource.spec {
        Spec::SecurityGroup(sg) => sg
            .ingress
            .iter()
            .chain(sg.egress.iter().flatten())
            .collect(),
        _ => Vec::new(),
    };
    rules.into_iter().filter_map(move |r| match &r.source {
        RuleSource::Group(GroupRef::Stack(a)) if *a != resource.address => Some(a),
        _ => None,
    })
}
