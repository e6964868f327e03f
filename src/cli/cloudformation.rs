//! `--engine cloudformation`: `plan`, `apply`, `destroy` and `output` through a
//! CloudFormation stack named `<stack>-<env>`.
//!
//! 1. The stack becomes a template ([`cloudformation::template`]); its secrets are `NoEcho`
//!    parameters, given from their environment variables, or kept as deployed.
//! 2. A change set is created and described, and shown in stackwright's plan format
//!    ([`changes::plan`]). `plan` deletes it (and the empty stack a first change set
//!    makes); `apply` passes the same gates as the direct engine, asks, executes it and
//!    follows the stack's events until the stack settles. A rollback is a failure.
//! 3. `destroy` deletes the stack behind the same gates; `output` reads the stack's
//!    outputs, or works them out from its resources where the stack has none.
//!
//! CloudFormation runs one operation on a stack at a time and refuses to execute a change
//! set made before another was executed: that is this engine's lock and its stale-plan
//! check, so it takes neither of the direct engine's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use stackwright::apply::gates::{Consent, refusals};
use stackwright::cloudformation::changes::{self, Parameter, ResourceChange, StackInfo, Tracker};
use stackwright::cloudformation::{self, ENGINE_TAG_VALUE};
use stackwright::graph::Graph;
use stackwright::plan::{self, Plan};
use stackwright::provider::aws::Aws;
use stackwright::provider::aws::cloudformation::{ChangeSet, ChangeSetRequest};
use stackwright::provider::{Provider, Scope, Secret};
use stackwright::render;
use stackwright::stack::Stack;
use tokio::sync::watch;

use super::apply::{Mode, Redacting, RunArgs, confirm, on_ctrl_c, redact, run_id};
use super::plan::SavedPlan;

/// How `plan` prints, and where it saves the plan.
#[derive(Clone, Debug)]
pub(super) struct Printing {
    pub json: bool,
    pub detailed_exitcode: bool,
    pub stats: bool,
    pub out: Option<PathBuf>,
}

/// The change set a plan saved by `plan --out` stands for: `apply FILE` executes exactly
/// it, and refuses once the stack has changed since.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedChangeSet {
    /// The change set's id (an ARN).
    pub id: String,
    /// The CloudFormation stack's id and name.
    pub stack_id: String,
    pub stack_name: String,
    /// The stack's newest event when the plan was made: any operation since adds one.
    pub last_event: Option<String>,
}

/// CloudFormation takes a template of at most this many bytes in a request (more needs S3).
const TEMPLATE_LIMIT: usize = 51_200;

/// A secret's stand-in in a change set that `plan` makes and deletes unexecuted, where the
/// secret is not set and the stack has no value for it yet. It never reaches a resource.
const PLACEHOLDER: &str = "stackwright-plan-placeholder";

/// A stack's CloudFormation side: the clients, and the stack's name there.
struct Engine<'a> {
    aws: Aws,
    scope: Scope,
    stack: &'a Stack,
    name: String,
}

/// What a change set is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    /// `plan`: shown and deleted; secrets not set may be stood in for.
    Plan,
    /// `plan --out`: kept for `apply FILE`.
    Save,
    /// `apply`: shown, then executed.
    Apply,
}

/// How a proposal is carried out.
enum Carry {
    /// Nothing to do.
    Nothing,
    /// Execute the change set, on the stack with this id.
    Execute {
        change_set: String,
        stack_id: String,
    },
    /// Delete the stack with this id.
    Delete { stack_id: String },
}

/// A change set made and described (or a stack's deletion), with what is needed to show,
/// carry out or withdraw it.
struct Proposal {
    plan: Plan,
    carry: Carry,
    /// A change set to delete whatever happens: one AWS keeps after saying there is
    /// nothing to do, or one that failed.
    spent: Option<String>,
    /// The stack holds nothing yet (it did not exist, or only as `REVIEW_IN_PROGRESS`):
    /// once the change set is gone, the empty stack is deleted too, if nobody else has a
    /// change set on it.
    empty_stack: Option<String>,
    /// The logical ids the execution changes.
    touched: BTreeSet<String>,
    /// The change set changes only the stack's outputs.
    outputs_only: bool,
    /// Changes to resources stackwright did not write: refused.
    foreign: Vec<String>,
    old: changes::View,
    new: changes::View,
    /// The secret values sent, to keep out of anything printed.
    secrets: Vec<String>,
    /// A saved plan's change set: kept when not carried out, for a later `apply FILE`.
    keep: bool,
    /// The stack's newest event before the change set was made (`Save`), or the one a
    /// saved plan was made at (`apply FILE`): the stack must not have moved on.
    last_event: Option<Option<String>>,
}

impl Proposal {
    fn empty(plan: Plan) -> Proposal {
        Proposal {
            plan,
            carry: Carry::Nothing,
            spent: None,
            empty_stack: None,
            touched: BTreeSet::new(),
            outputs_only: false,
            foreign: Vec::new(),
            old: changes::View::default(),
            new: changes::View::default(),
            secrets: Vec::new(),
            keep: false,
            last_event: None,
        }
    }

    /// Whether carrying it out changes anything: the plan, or only the stack's outputs, or
    /// the deletion of a stack that holds nothing of stackwright's.
    fn changes(&self) -> bool {
        self.plan.has_changes()
            || self.outputs_only
            || !self.foreign.is_empty()
            || matches!(self.carry, Carry::Delete { .. })
    }
}

impl<'a> Engine<'a> {
    async fn connect(stack: &'a Stack) -> anyhow::Result<Engine<'a>> {
        let aws = Aws::connect(stack).await.map_err(super::provider_error)?;
        let mut scope = super::plan::scope(stack, false)?;
        scope.cloudformation = true;
        Ok(Engine {
            aws,
            scope,
            stack,
            name: cloudformation::stack_name(stack),
        })
    }

    /// The stack as it is, refusing states no change set can be made in.
    async fn current(&self, mode: Mode) -> anyhow::Result<Option<StackInfo>> {
        let info = self
            .aws
            .cfn_stack(&self.scope, &self.name)
            .await
            .map_err(super::provider_error)?;
        let Some(info) = info else { return Ok(None) };
        // REVIEW_IN_PROGRESS: only change sets, never executed, as good as no stack.
        if changes::settled(&info.status).is_none() && info.status != "REVIEW_IN_PROGRESS" {
            bail!(
                "CloudFormation stack `{}` is busy ({}): one operation runs on a stack at a time\n\n\
                 hint: wait for it to finish, then run this again",
                self.name,
                info.status
            );
        }
        if info.status == "REVIEW_IN_PROGRESS" {
            // Nothing but change sets: whose they are is all there is to tell whose the
            // stack is (a pending saved plan of `a-b` env `c`, or somebody else's).
            let theirs: Vec<String> = self
                .aws
                .cfn_change_sets(&self.scope, &info.id)
                .await
                .map_err(super::provider_error)?
                .into_iter()
                .filter(|c| !self.is_ours(&c.description))
                .map(|c| format!("`{}`", c.id))
                .collect();
            if !theirs.is_empty() {
                bail!(
                    "CloudFormation stack `{}` holds only change sets, and {} of them {} not \
                     stack `{}` env `{}`'s ({}); nothing was changed",
                    self.name,
                    theirs.len(),
                    if theirs.len() == 1 { "is" } else { "are" },
                    self.stack.name,
                    self.stack.env,
                    theirs.join(", ")
                );
            }
        }
        if info.status == "ROLLBACK_COMPLETE" && mode == Mode::Apply {
            bail!(
                "CloudFormation stack `{}` is in ROLLBACK_COMPLETE: its first create failed and \
                 was rolled back, and such a stack cannot be updated{}\n\n\
                 hint: `stackwright destroy` it with --engine cloudformation, then apply again",
                self.name,
                info.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
        }
        Ok(Some(info))
    }

    /// The deployed template, refused unless stackwright wrote it for this stack and env:
    /// `<stack>-<env>` is ambiguous (`a-b` env `c`, `a` env `b-c`), and a stack of that
    /// name may be anybody's.
    async fn deployed_template(&self) -> anyhow::Result<Json> {
        let text = self
            .aws
            .cfn_template(&self.scope, &self.name)
            .await
            .map_err(super::provider_error)?;
        let template: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        let ours = &template["Metadata"]["stackwright"];
        if ours["stack"].as_str() != Some(self.stack.name.as_str())
            || ours["env"].as_str() != Some(self.stack.env.as_str())
        {
            let whose = match (ours["stack"].as_str(), ours["env"].as_str()) {
                (Some(s), Some(e)) => format!("stackwright's stack `{s}` env `{e}`"),
                _ => "not written by stackwright".to_string(),
            };
            bail!(
                "CloudFormation stack `{}` is not stack `{}` env `{}`: its template is {whose}; \
                 nothing was changed",
                self.name,
                self.stack.name,
                self.stack.env
            );
        }
        Ok(template)
    }

    /// The secret parameters of `template`: each from its environment variable; else the
    /// value the stack was deployed with; else, for a plan, a placeholder.
    fn parameters(
        &self,
        template: &Json,
        deployed: Option<&StackInfo>,
        intent: Intent,
    ) -> anyhow::Result<Vec<Parameter>> {
        let mut out = Vec::new();
        let secrets = template["Metadata"]["stackwright"]["secrets"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (key, name) in secrets {
            let name = name.as_str().unwrap_or_default();
            let var = self.stack.secrets.get(name).cloned().unwrap_or_default();
            let value = match std::env::var(&var) {
                Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                _ if deployed.is_some_and(|d| d.parameters.contains(&key)) => None,
                _ if intent == Intent::Plan => Some(Secret::new(PLACEHOLDER.to_string())),
                _ => bail!(
                    "secret `{name}` is needed by the CloudFormation stack: set the environment \
                     variable `{var}`; nothing was changed"
                ),
            };
            out.push(Parameter { key, value });
        }
        Ok(out)
    }

    /// What its change sets say of them: whose they are (and, after a comma, the digest
    /// of the template they were made from).
    fn description(&self) -> String {
        format!(
            "stackwright: stack `{}` env `{}`",
            self.stack.name, self.stack.env
        )
    }

    /// Whether a change set's description says it is this stack and env's.
    fn is_ours(&self, description: &str) -> bool {
        let ours = self.description();
        description == ours
            || description
                .strip_prefix(&ours)
                .is_some_and(|rest| rest.starts_with(", "))
    }

    /// Make a change set for the stack as it is now and describe it as a plan.
    async fn propose(
        &self,
        graph: &Graph,
        intent: Intent,
        cancel: watch::Receiver<bool>,
    ) -> anyhow::Result<Proposal> {
        no_clashes(self.stack)?;
        let template = cloudformation::template(self.stack);
        let body = serde_json::to_string(&template).context("failed to write the template")?;
        if body.len() > TEMPLATE_LIMIT {
            bail!(
                "the CloudFormation template of stack `{}` is {} bytes; CloudFormation takes at \
                 most {TEMPLATE_LIMIT} in a request\n\nhint: use the direct engine for a stack \
                 this large",
                self.stack.name,
                body.len()
            );
        }
        let deployed = self.current(Mode::Apply).await?;
        let exists = deployed
            .as_ref()
            .is_some_and(|d| d.status != "REVIEW_IN_PROGRESS");
        let parameters =
            self.parameters(&template, deployed.as_ref().filter(|_| exists), intent)?;
        let secrets: Vec<String> = parameters
            .iter()
            .filter_map(|p| p.value.as_ref().map(|v| v.expose().to_string()))
            .filter(|v| v != PLACEHOLDER)
            .collect();
        let old = if exists {
            changes::View::of(&self.deployed_template().await?)
        } else {
            changes::View::default()
        };
        let new = changes::View::of(&template);
        // What a saved plan must find unchanged: read before the change set is made, so
        // nothing between the two escapes it.
        let last_event = match (intent, &deployed) {
            (Intent::Save, Some(d)) if exists => Some(
                self.aws
                    .cfn_last_event(&self.scope, &d.id)
                    .await
                    .map_err(super::provider_error)?,
            ),
            _ => None,
        };
        let change_set_name = format!("stackwright-{}", run_id());
        // CloudFormation keeps the description with the change set: `apply FILE` checks
        // the plan file's stack against it.
        let description = format!("{}, template {}", self.description(), digest(&body));
        let made = self
            .aws
            .cfn_change_set(
                &self.scope,
                &ChangeSetRequest {
                    stack: &self.name,
                    change_set: &change_set_name,
                    description: &description,
                    template: &body,
                    parameters: &parameters,
                    create: !exists,
                },
                cancel,
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!(redact(&format!("{:#}", super::provider_error(e)), &secrets))
            })?;
        // Nothing to do, until the change set says otherwise.
        let unchanged = changes::plan(self.stack, graph, &[], &old, &new);
        let mut proposal = Proposal {
            old,
            new,
            secrets,
            last_event,
            ..Proposal::empty(unchanged)
        };
        match made {
            ChangeSet::Unchanged { id } => {
                proposal.spent = id;
                Ok(proposal)
            }
            ChangeSet::Failed {
                id,
                stack_id,
                reason,
            } => {
                proposal.spent = Some(id);
                proposal.empty_stack = (!exists).then_some(stack_id);
                self.withdraw(&proposal).await;
                bail!(
                    "CloudFormation could not make a change set for stack `{}`: {}; nothing was \
                     changed",
                    self.name,
                    redact(&reason, &proposal.secrets)
                )
            }
            ChangeSet::Ready {
                id,
                stack_id,
                changes: mut resource_changes,
            } => {
                proposal.empty_stack = (!exists).then(|| stack_id.clone());
                proposal.carry = Carry::Execute {
                    change_set: id,
                    stack_id,
                };
                if let Err(e) = self.fill_ids(&mut resource_changes).await {
                    self.withdraw(&proposal).await;
                    return Err(e);
                }
                proposal.touched = resource_changes
                    .iter()
                    .map(|c| c.logical_id.clone())
                    .collect();
                proposal.outputs_only = resource_changes.is_empty();
                proposal.foreign =
                    changes::foreign(&resource_changes, &proposal.old, &proposal.new);
                proposal.plan = changes::plan(
                    self.stack,
                    graph,
                    &resource_changes,
                    &proposal.old,
                    &proposal.new,
                );
                if proposal.outputs_only {
                    proposal.plan.warnings.push(
                        "CloudFormation's change set changes only the stack's outputs".into(),
                    );
                }
                Ok(proposal)
            }
        }
    }

    /// AWS names the physical resource of each change to an existing one; the emulator
    /// does not, and the stack's resource list does.
    async fn fill_ids(&self, resource_changes: &mut [ResourceChange]) -> anyhow::Result<()> {
        if resource_changes
            .iter()
            .all(|c| c.action == "Add" || c.physical_id.is_some())
        {
            return Ok(());
        }
        let ids = self
            .aws
            .cfn_resources(&self.scope, &self.name)
            .await
            .map_err(super::provider_error)?;
        for c in resource_changes.iter_mut() {
            if c.physical_id.is_none() {
                c.physical_id = ids.get(&c.logical_id).cloned();
            }
        }
        Ok(())
    }

    /// Take back what [`Engine::propose`] made and nobody executed: the change set, and
    /// the empty stack a first change set makes, if it is still empty and nobody else has
    /// a change set on it (a plan and a first apply may run at once). A failure here is
    /// said, not fatal.
    async fn withdraw(&self, p: &Proposal) {
        if p.keep {
            return;
        }
        let mut failed = Vec::new();
        let made = match &p.carry {
            Carry::Execute { change_set, .. } => Some(change_set),
            _ => None,
        };
        for id in made.into_iter().chain(p.spent.iter()) {
            if let Err(e) = self.aws.cfn_delete_change_set(&self.scope, id).await {
                failed.push(e.to_string());
            }
        }
        if let Some(stack_id) = &p.empty_stack {
            let unused = async {
                let status = self.aws.cfn_status_of(&self.scope, stack_id).await?;
                Ok::<_, stackwright::provider::ProviderError>(
                    status == "REVIEW_IN_PROGRESS"
                        && self
                            .aws
                            .cfn_change_sets(&self.scope, stack_id)
                            .await?
                            .is_empty(),
                )
            };
            let deleted = match unused.await {
                Ok(true) => self.aws.cfn_delete_stack(&self.scope, stack_id).await,
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = deleted {
                failed.push(e.to_string());
            }
        }
        for f in failed {
            render::stderr(&format!("warning: {}\n", redact(&f, &p.secrets)));
        }
    }

    /// The stack's outputs: CloudFormation's, or where it has none (the emulator), worked
    /// out from its resources, found by their tags and by the physical ids CloudFormation
    /// lists; `deployed` (the view of the template the stack runs) says which is which.
    async fn outputs(
        &self,
        info: &StackInfo,
        deployed: &changes::View,
    ) -> anyhow::Result<BTreeMap<String, Option<String>>> {
        let mut outputs: BTreeMap<String, Option<String>> = self
            .stack
            .outputs
            .keys()
            .map(|name| {
                let key = cloudformation::output_key(name);
                (name.clone(), info.outputs.get(&key).cloned())
            })
            .collect();
        if outputs.values().any(Option::is_none) {
            let ids = self
                .aws
                .cfn_resources(&self.scope, &self.name)
                .await
                .map_err(super::provider_error)?;
            let mut scope = self.scope.clone();
            scope.physical_ids = ids
                .into_iter()
                .filter_map(|(logical, physical)| {
                    Some((physical, deployed.address(&logical)?.clone()))
                })
                .collect();
            let live = self
                .aws
                .refresh(&scope)
                .await
                .map_err(super::provider_error)?;
            for (name, value) in plan::outputs(self.stack, &live.resources) {
                if let Some(slot) = outputs.get_mut(&name).filter(|v| v.is_none()) {
                    *slot = value;
                }
            }
        }
        Ok(outputs)
    }

    /// Save `p` to `path` for `apply FILE`: whether its change set is to be kept (there
    /// is one to carry out). The change set of a plan saved there before is deleted: the
    /// file was its only handle.
    async fn save(&self, p: &Proposal, path: &std::path::Path) -> anyhow::Result<bool> {
        if !p.foreign.is_empty() {
            bail!(
                "the change set changes resources stackwright did not write ({}): it cannot be \
                 applied, so it is not saved",
                p.foreign.join(", ")
            );
        }
        let previous = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<SavedPlan>(&text).ok())
            .and_then(|saved| saved.change_set);
        if let Some(old) = previous {
            // Its change set, and the empty stack it may have made: the file was their
            // only handle (gone already, or executed: nothing is deleted).
            let mut spent = Proposal::empty(p.plan.clone());
            spent.spent = Some(old.id);
            spent.empty_stack = Some(old.stack_id);
            self.withdraw(&spent).await;
        }
        let change_set = match &p.carry {
            Carry::Execute {
                change_set,
                stack_id,
            } if p.changes() => Some(SavedChangeSet {
                id: change_set.clone(),
                stack_id: stack_id.clone(),
                stack_name: self.name.clone(),
                last_event: match &p.last_event {
                    Some(before) => before.clone(),
                    // A new stack: its first event is its change set's.
                    None => self
                        .aws
                        .cfn_last_event(&self.scope, stack_id)
                        .await
                        .map_err(super::provider_error)?,
                },
            }),
            _ => None,
        };
        let keep = change_set.is_some();
        SavedPlan {
            plan: p.plan.clone(),
            stack: self.stack.clone(),
            change_set,
        }
        .write(path)?;
        Ok(keep)
    }

    /// A saved plan's change set as a proposal: the plan made again from the change set
    /// as CloudFormation holds it, refused unless it is the plan saved, the change set can
    /// still be executed and the stack has not changed since the plan was made. A stale
    /// change set is deleted.
    async fn saved(&self, saved: &SavedPlan, graph: &Graph) -> anyhow::Result<Proposal> {
        let Some(cs) = &saved.change_set else {
            // Saved with nothing to do.
            return Ok(Proposal::empty(saved.plan.clone()));
        };
        let again =
            "plan again (`stackwright plan STACK --env ENV --engine cloudformation --out FILE`)";
        if cs.stack_name != self.name {
            bail!(
                "the saved plan is for CloudFormation stack `{}`, not `{}`",
                cs.stack_name,
                self.name
            );
        }
        let stale = |why: String| async move {
            let mut spent = Proposal::empty(saved.plan.clone());
            spent.spent = Some(cs.id.clone());
            spent.empty_stack = Some(cs.stack_id.clone());
            self.withdraw(&spent).await;
            anyhow::anyhow!("{why}; nothing was changed\n\nhint: {again}")
        };
        let described = self
            .aws
            .cfn_describe_change_set(&self.scope, &cs.id)
            .await
            .map_err(super::provider_error)?;
        let Some(mut described) = described else {
            bail!(
                "the change set of this plan is gone (executed, or deleted); nothing was \
                 changed\n\nhint: {again}"
            );
        };
        if described
            .stack_id
            .as_deref()
            .is_some_and(|id| id != cs.stack_id)
        {
            bail!("the saved plan's change set belongs to another stack");
        }
        // The change set was made from the template of the stack in the file, or the file
        // was changed: what is shown must be what runs.
        let body = serde_json::to_string(&cloudformation::template(self.stack))
            .context("failed to write the template")?;
        let made_from = format!("{}, template {}", self.description(), digest(&body));
        if described.description != made_from {
            bail!(
                "the saved plan does not read as its change set (the file was changed?); \
                 nothing was changed\n\nhint: {again}"
            );
        }
        if described.execution_status != "AVAILABLE" {
            return Err(stale(format!(
                "the change set of this plan cannot be executed ({}, {})",
                described.status, described.execution_status
            ))
            .await);
        }
        // CloudFormation marks the change set obsolete once the stack changes; the stack's
        // newest event says so too (and where the emulator does not mark it).
        let now = self
            .aws
            .cfn_stack(&self.scope, &cs.stack_name)
            .await
            .map_err(super::provider_error)?;
        let last = match &now {
            Some(info) if info.id == cs.stack_id => self
                .aws
                .cfn_last_event(&self.scope, &cs.stack_id)
                .await
                .map_err(super::provider_error)?,
            _ => None,
        };
        if now.as_ref().is_none_or(|info| info.id != cs.stack_id) || last != cs.last_event {
            return Err(stale(format!(
                "CloudFormation stack `{}` has changed since this plan was made",
                cs.stack_name
            ))
            .await);
        }
        let exists = now.is_some_and(|info| info.status != "REVIEW_IN_PROGRESS");
        let old = if exists {
            changes::View::of(&self.deployed_template().await?)
        } else {
            changes::View::default()
        };
        let new = changes::View::of(&cloudformation::template(self.stack));
        self.fill_ids(&mut described.changes).await?;
        // What runs is the change set: it must read as the plan that was reviewed.
        let plan = changes::plan(self.stack, graph, &described.changes, &old, &new);
        let actions = |p: &Plan| -> Vec<(String, plan::Action)> {
            p.changes
                .iter()
                .map(|c| (c.address.to_string(), c.action))
                .collect()
        };
        if actions(&plan) != actions(&saved.plan) {
            bail!(
                "the saved plan does not read as its change set (the file was changed?); \
                 nothing was changed\n\nhint: {again}"
            );
        }
        let secrets = self
            .stack
            .secrets
            .values()
            .filter_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
            .collect();
        Ok(Proposal {
            plan,
            carry: Carry::Execute {
                change_set: cs.id.clone(),
                stack_id: cs.stack_id.clone(),
            },
            spent: None,
            empty_stack: None,
            touched: described
                .changes
                .iter()
                .map(|c| c.logical_id.clone())
                .collect(),
            outputs_only: described.changes.is_empty(),
            foreign: changes::foreign(&described.changes, &old, &new),
            old,
            new,
            secrets,
            keep: true,
            last_event: Some(cs.last_event.clone()),
        })
    }

    /// The deletion of the stack as a proposal: every address of the deployed template
    /// that exists (a create rolled back leaves its resources listed, deleted).
    async fn teardown(&self) -> anyhow::Result<Proposal> {
        let nothing = || {
            Proposal::empty(changes::teardown(
                self.stack,
                &changes::View::default(),
                &BTreeMap::new(),
            ))
        };
        let Some(info) = self.current(Mode::Destroy).await? else {
            return Ok(nothing());
        };
        let mut proposal = nothing();
        proposal.carry = Carry::Delete {
            stack_id: info.id.clone(),
        };
        if info.status == "REVIEW_IN_PROGRESS" {
            proposal.plan.warnings.push(format!(
                "CloudFormation stack `{}` holds only change sets: destroy deletes it",
                self.name
            ));
            return Ok(proposal);
        }
        let template = self.deployed_template().await?;
        let ids = self
            .aws
            .cfn_resources(&self.scope, &self.name)
            .await
            .map_err(super::provider_error)?;
        let all = changes::View::of(&template);
        // DeleteStack deletes everything the stack holds: what stackwright did not write
        // (added to the stack by hand) is refused, as in an apply.
        proposal.foreign = ids
            .keys()
            .filter(|l| all.address(l).is_none())
            .map(|l| format!("`{l}` (Remove)"))
            .collect();
        proposal.old = all.existing(&ids);
        proposal.plan = changes::teardown(self.stack, &proposal.old, &ids);
        proposal.touched = ids.into_keys().collect();
        proposal.plan.warnings.extend(
            proposal.foreign.iter().map(|f| {
                format!("CloudFormation also deletes {f}, which stackwright did not write")
            }),
        );
        if !proposal.plan.has_changes() && proposal.foreign.is_empty() {
            proposal.plan.warnings.push(format!(
                "CloudFormation stack `{}` ({}) holds no resource of stack `{}` \
                 ({ENGINE_TAG_VALUE} engine): destroy deletes the empty stack",
                self.name, info.status, self.stack.name
            ));
        }
        Ok(proposal)
    }
}

/// A template's SHA-256, as `sha256:` and hex.
fn digest(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(body.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Refuse a stack two of whose resources would have the same logical id.
pub(super) fn no_clashes(stack: &Stack) -> anyhow::Result<()> {
    let clashes = cloudformation::clashes(stack);
    if clashes.is_empty() {
        return Ok(());
    }
    bail!(
        "stack `{}` cannot be a CloudFormation template; nothing was sent to AWS:\n{}",
        stack.name,
        clashes
            .iter()
            .map(|c| format!("  - {c}\n"))
            .collect::<String>()
    )
}

/// `plan --engine cloudformation`; with `--out`, the change set is kept and saved with the
/// plan for `apply FILE`.
pub(super) fn plan(stack: &Stack, graph: &Graph, view: Printing) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let cancel = on_ctrl_c();
        let engine = Engine::connect(stack).await?;
        // A plan to be applied later sends the real secrets (or keeps the deployed ones):
        // no placeholder.
        let intent = if view.out.is_some() {
            Intent::Save
        } else {
            Intent::Plan
        };
        let proposal = engine.propose(graph, intent, cancel).await;
        let saved = match (&proposal, &view.out) {
            (Ok(p), Some(path)) => {
                let kept = engine.save(p, path).await;
                if kept.as_ref().is_ok_and(|kept| *kept) {
                    Ok(())
                } else {
                    engine.withdraw(p).await;
                    kept.map(|_| ())
                }
            }
            (Ok(p), None) => {
                engine.withdraw(p).await;
                Ok(())
            }
            (Err(_), _) => Ok(()),
        };
        if view.stats {
            render::stderr(&render::summary::calls(&engine.aws.stats().by_operation()));
        }
        saved.and(proposal)
    });
    runtime.shutdown_background();
    let proposal = result?;
    let plan = &proposal.plan;
    if view.json {
        render::stdout(
            &(serde_json::to_string_pretty(plan).context("failed to serialize the plan")? + "\n"),
        );
    } else {
        render::stdout(&render::plan::render(plan, render::stdout_colour()));
    }
    Ok(match (view.detailed_exitcode, proposal.changes()) {
        (true, true) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}

/// `output --engine cloudformation`: every output `None` when the stack does not exist.
pub(super) fn outputs(stack: &Stack) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let engine = Engine::connect(stack).await?;
        let info = engine
            .aws
            .cfn_stack(&engine.scope, &engine.name)
            .await
            .map_err(super::provider_error)?;
        match info.filter(|i| i.status != "REVIEW_IN_PROGRESS") {
            Some(info) => {
                // Only this stack and env's outputs: refused for a stack of the same name.
                let deployed = changes::View::of(&engine.deployed_template().await?);
                engine.outputs(&info, &deployed).await
            }
            None => Ok(stack.outputs.keys().map(|k| (k.clone(), None)).collect()),
        }
    })
}

/// `apply` and `destroy --engine cloudformation`, and `apply FILE` of a plan it saved.
pub(super) fn run(
    mode: Mode,
    stack: &Stack,
    graph: &Graph,
    saved: Option<&SavedPlan>,
    args: &RunArgs,
    allow_open: bool,
) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let cancel = on_ctrl_c();
        let engine = Engine::connect(stack).await?;
        let result = async {
            let proposal = match (mode, saved) {
                (Mode::Apply, Some(saved)) => engine.saved(saved, graph).await?,
                (Mode::Apply, None) => engine.propose(graph, Intent::Apply, cancel.clone()).await?,
                (Mode::Destroy, _) => engine.teardown().await?,
            };
            match carry_out(&engine, mode, &proposal, args, allow_open, cancel).await {
                // CloudFormation took it: nothing is withdrawn, whatever happens next.
                Ok(Carried::Started(result)) => result,
                Ok(Carried::Not(code)) => {
                    engine.withdraw(&proposal).await;
                    Ok(code)
                }
                Err(e) => {
                    engine.withdraw(&proposal).await;
                    Err(e)
                }
            }
        }
        .await;
        if args.stats {
            render::stderr(&render::summary::calls(&engine.aws.stats().by_operation()));
        }
        result
    });
    runtime.shutdown_background();
    result
}

/// Whether a proposal was set going (and then how it ended), or is to be withdrawn.
enum Carried {
    Started(anyhow::Result<ExitCode>),
    Not(ExitCode),
}

/// Show a proposal, pass the gates, ask, then carry it out and follow it.
async fn carry_out(
    engine: &Engine<'_>,
    mode: Mode,
    proposal: &Proposal,
    args: &RunArgs,
    allow_open: bool,
    cancel: watch::Receiver<bool>,
) -> anyhow::Result<Carried> {
    let (scope, aws) = (&engine.scope, &engine.aws);
    let plan = &proposal.plan;
    render::stdout(&render::plan::render(plan, render::stdout_colour()));
    if !proposal.changes() {
        return Ok(Carried::Not(ExitCode::SUCCESS));
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let consent = Consent {
        interactive: interactive && !args.yes,
        allow_data_loss: args.allow_data_loss,
        allow_open,
    };
    let mut refused = refusals(
        plan,
        engine.stack,
        &proposal.old.live(&BTreeMap::new()),
        consent,
    );
    if !proposal.foreign.is_empty() {
        refused.push(format!(
            "the change set changes resources stackwright did not write ({}): refusing to \
             {} them through stackwright",
            proposal.foreign.join(", "),
            mode.verb()
        ));
    }
    let verb = mode.verb();
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|r| format!("  - {r}\n")).collect();
        render::stderr(&format!(
            "error: refusing to {verb}; nothing was changed:\n{}",
            list.concat()
        ));
        return Ok(Carried::Not(ExitCode::FAILURE));
    }
    if !args.yes {
        if !interactive {
            render::stderr(&format!(
                "error: refusing to {verb} without a terminal to confirm on; nothing was changed\n\n\
                 hint: pass --yes to {verb} without confirmation (as in CI)\n"
            ));
            return Ok(Carried::Not(ExitCode::FAILURE));
        }
        let question = format!(
            "\nDo you want to {verb} CloudFormation stack `{}` as above? Only `yes` is accepted: ",
            engine.name
        );
        if !confirm(&question, cancel.clone()).await? {
            render::stderr(&format!(
                "{} cancelled; nothing was changed.\n",
                mode.title()
            ));
            return Ok(Carried::Not(ExitCode::FAILURE));
        }
    }
    if *cancel.borrow() {
        render::stderr(&format!(
            "{} interrupted; nothing was changed.\n",
            mode.title()
        ));
        return Ok(Carried::Not(ExitCode::FAILURE));
    }
    let stack_id = match &proposal.carry {
        Carry::Execute { stack_id, .. } | Carry::Delete { stack_id } => stack_id,
        Carry::Nothing => return Ok(Carried::Not(ExitCode::SUCCESS)),
    };
    let since = aws
        .cfn_last_event(scope, stack_id)
        .await
        .map_err(super::provider_error)?;
    // A saved plan: the stack may have moved on while the question was asked.
    if let Some(expected) = &proposal.last_event
        && since != *expected
    {
        bail!(
            "CloudFormation stack `{}` has changed since this plan was made; nothing was \
             changed\n\nhint: plan again",
            engine.name
        );
    }
    let started = match &proposal.carry {
        Carry::Execute { change_set, .. } => aws.cfn_execute(scope, change_set).await,
        _ => aws.cfn_delete_stack(scope, stack_id).await,
    };
    started.map_err(|e| {
        anyhow::anyhow!(
            "{}; nothing was changed\n\nhint: CloudFormation refuses a change set made before \
             the stack last changed: plan again",
            redact(&e.to_string(), &proposal.secrets)
        )
    })?;
    Ok(Carried::Started(
        follow(engine, mode, proposal, stack_id, since, cancel).await,
    ))
}

/// Follow what CloudFormation was set going until the stack settles, then say how it went.
async fn follow(
    engine: &Engine<'_>,
    mode: Mode,
    proposal: &Proposal,
    stack_id: &str,
    since: Option<String>,
    cancel: watch::Receiver<bool>,
) -> anyhow::Result<ExitCode> {
    let (scope, aws) = (&engine.scope, &engine.aws);
    let plan = &proposal.plan;
    let reporter = Arc::new(Redacting {
        inner: render::progress::reporter(),
        secrets: proposal.secrets.clone(),
    });
    let mut tracker = Tracker::new(
        plan,
        &[&proposal.new, &proposal.old],
        &proposal.touched,
        reporter,
    );
    let settled = aws
        .cfn_follow(scope, stack_id, since, &mut |e| tracker.event(e), cancel)
        .await;
    let settled = match settled {
        Ok(s) => s,
        Err(e) => {
            return Err(anyhow::anyhow!(
                "{}\n\nhint: CloudFormation carries on with stack `{}`; `stackwright plan \
                 --engine cloudformation` shows where it stands",
                redact(&super::provider_error(e).to_string(), &proposal.secrets),
                engine.name
            ));
        }
    };
    let reached = match mode {
        Mode::Apply => matches!(
            settled.status.as_str(),
            "CREATE_COMPLETE" | "UPDATE_COMPLETE"
        ),
        Mode::Destroy => settled.status == "DELETE_COMPLETE",
    };
    let (report, warnings) = tracker.finish(&settled.status, reached, settled.cancelled);
    let summary = render::summary::applied(mode.title(), plan, &report);
    render::stdout(&redact(&summary, &proposal.secrets));
    for w in &warnings {
        render::stderr(&redact(&format!("warning: {w}\n"), &proposal.secrets));
    }
    if settled.cancelled {
        render::stderr(&format!(
            "CloudFormation carries on with stack `{}` ({}); `stackwright plan --engine \
             cloudformation` shows where it stands.\n",
            engine.name, settled.status
        ));
        return Ok(ExitCode::FAILURE);
    }
    if !reached || !report.succeeded() {
        render::stderr(&redact(
            &format!(
                "error: CloudFormation stack `{}` settled at {}{}\n",
                engine.name,
                settled.status,
                settled
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            &proposal.secrets,
        ));
        return Ok(ExitCode::FAILURE);
    }
    if mode == Mode::Apply {
        let info = aws
            .cfn_stack(scope, &engine.name)
            .await
            .map_err(super::provider_error)?
            .unwrap_or_default();
        // The template just deployed: no need to read it back.
        let outputs = engine.outputs(&info, &proposal.new).await?;
        render::stdout(&render::summary::outputs(&outputs));
    }
    Ok(ExitCode::SUCCESS)
}
