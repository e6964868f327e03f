//! The CloudFormation engine: `plan`, `apply`, `destroy` and `output` through a
//! CloudFormation stack named `<stack>-<env>`.
//!
//! 1. The stack becomes a template ([`cloudformation::template`]); its secrets are `NoEcho`
//!    parameters, given from their environment variables, or kept as deployed.
//! 2. A change set is created and described, and shown in stackwright's plan format
//!    ([`changes::plan`]). `plan` deletes it (and the empty stack a first change set
//!    makes); `apply` passes the same gates as the direct engine, asks, executes it and
//!    follows the stack's events until the stack settles ([`carry`]). A rollback is a
//!    failure.
//! 3. `destroy` deletes the stack behind the same gates; `output` reads the stack's
//!    outputs, or works them out from its resources where the stack has none.
//!
//! CloudFormation runs one operation on a stack at a time and refuses to execute a change
//! set made before another was executed: that is this engine's lock and its stale-plan
//! check, so it takes neither of the direct engine's. Its change set is its plan: one made
//! for a run that is refused or declined is withdrawn before the run ends, and nothing of
//! the stack's resources changes. A run that could never be confirmed (no `--yes`, no
//! terminal) is refused before a change set is made.

mod carry;
mod saved;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value as Json;
use tokio::sync::watch;

use super::error::fail;
use super::gates::{self, Consent};
use super::secrets::{self, Lookup};
use super::{Console, Engine, EngineError, Finish, Intent, Operation, RunOptions, redact};
use crate::cloudformation;
use crate::cloudformation::changes::{self, Parameter, ResourceChange, StackInfo};
use crate::cloudformation::limits::{self, Delivery};
use crate::graph::Graph;
use crate::plan::{self, Plan};
use crate::planfile::SavedPlan;
use crate::provider::aws::Aws;
use crate::provider::aws::cloudformation::{ChangeSet, ChangeSetRequest, TemplateSource};
use crate::provider::aws::s3;
use crate::provider::{Provider, Scope, Secret};
use crate::stack::Stack;
use crate::stack::model::Spec;

type Result<T> = std::result::Result<T, EngineError>;

/// A secret's stand-in in a change set that `plan` makes and deletes unexecuted, where the
/// secret is not set and the stack has no value for it yet. It never reaches a resource.
const PLACEHOLDER: &str = "stackwright-plan-placeholder";

/// The CloudFormation engine for one stack: the clients, and the stack's name there.
pub struct Cloudformation<'a> {
    aws: Aws,
    scope: Scope,
    stack: &'a Stack,
    graph: &'a Graph,
    name: String,
    lookup: Lookup,
    console: Arc<dyn Console>,
}

impl std::fmt::Debug for Cloudformation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloudformation")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How a proposal is carried out.
#[derive(Debug)]
pub(super) enum Carry {
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
#[derive(Debug)]
pub struct Proposal {
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

impl<'a> Cloudformation<'a> {
    /// Connect to AWS for `stack`; `console` hears warnings (a change set that could not
    /// be withdrawn).
    pub async fn connect(
        stack: &'a Stack,
        graph: &'a Graph,
        console: Arc<dyn Console>,
    ) -> Result<Cloudformation<'a>> {
        let lookup = secrets::process_env();
        let mut scope = secrets::scope(stack, false, &lookup)?;
        scope.cloudformation = true;
        let aws = Aws::connect(stack).await?;
        Ok(Cloudformation {
            aws,
            scope,
            stack,
            graph,
            name: cloudformation::stack_name(stack),
            lookup,
            console,
        })
    }

    /// The stack as it is, refusing states no change set can be made in.
    async fn current(&self, operation: Operation) -> Result<Option<StackInfo>> {
        let info = self.aws.cfn_stack(&self.scope, &self.name).await?;
        let Some(info) = info else { return Ok(None) };
        // REVIEW_IN_PROGRESS: only change sets, never executed, as good as no stack.
        if changes::settled(&info.status).is_none() && info.status != "REVIEW_IN_PROGRESS" {
            fail!(
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
                .await?
                .into_iter()
                .filter(|c| !self.is_ours(&c.description))
                .map(|c| format!("`{}`", c.id))
                .collect();
            if !theirs.is_empty() {
                fail!(
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
        if info.status == "ROLLBACK_COMPLETE" && operation == Operation::Apply {
            fail!(
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
    async fn deployed_template(&self) -> Result<Json> {
        let text = self.aws.cfn_template(&self.scope, &self.name).await?;
        let template: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        let ours = &template["Metadata"]["stackwright"];
        if ours["stack"].as_str() != Some(self.stack.name.as_str())
            || ours["env"].as_str() != Some(self.stack.env.as_str())
        {
            let whose = match (ours["stack"].as_str(), ours["env"].as_str()) {
                (Some(s), Some(e)) => format!("stackwright's stack `{s}` env `{e}`"),
                _ => "not written by stackwright".to_string(),
            };
            fail!(
                "CloudFormation stack `{}` is not stack `{}` env `{}`: its template is {whose}; \
                 nothing was changed",
                self.name,
                self.stack.name,
                self.stack.env
            );
        }
        Ok(template)
    }

    /// The stack's template; for a stack CloudFormation holds (`deployed`), with the
    /// create-only settings of what it already made kept as deployed, so that a default
    /// that changed replaces nothing (issue 16).
    ///
    /// An instance's root volume mapping names the AMI's own root device, and a size
    /// (the image's unless the stack gives one), read from EC2: a template alone can only
    /// guess the device (`/dev/sda1`), and a mapping to the wrong one adds a volume and
    /// leaves the root volume unencrypted.
    async fn template(&self, deployed: Option<&Json>) -> Result<Json> {
        let mut template = cloudformation::template(self.stack);
        if let Some(deployed) = deployed {
            cloudformation::keep_create_only(&mut template, deployed);
        }
        let Some(resources) = template["Resources"].as_object_mut() else {
            return Ok(template);
        };
        for (id, resource) in resources.iter_mut() {
            // A running instance's mapping is the deployed one (`keep_create_only`).
            let running = deployed.is_some_and(|d| {
                !d["Resources"][id.as_str()]["Properties"]["BlockDeviceMappings"].is_null()
            });
            if resource["Type"] != "AWS::EC2::Instance" || running {
                continue;
            }
            let Some(ami) = resource["Properties"]["ImageId"]
                .as_str()
                .map(str::to_string)
            else {
                continue;
            };
            let Some(mapping) = resource.pointer_mut("/Properties/BlockDeviceMappings/0") else {
                continue;
            };
            let (device, size) = self.aws.root_device(&self.scope, &ami).await?;
            mapping["DeviceName"] = Json::String(device);
            if mapping["Ebs"]["VolumeSize"].is_null()
                && let Some(gb) = size
            {
                mapping["Ebs"]["VolumeSize"] = Json::String(gb.to_string());
            }
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
    ) -> Result<Vec<Parameter>> {
        let mut out = Vec::new();
        let secrets = template["Metadata"]["stackwright"]["secrets"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (key, name) in secrets {
            let name = name.as_str().unwrap_or_default();
            let var = self.stack.secrets.get(name).cloned().unwrap_or_default();
            let value = match (self.lookup)(&var) {
                Some(v) => Some(Secret::new(v)),
                _ if deployed.is_some_and(|d| d.parameters.contains(&key)) => None,
                _ if intent == Intent::Plan => Some(Secret::new(PLACEHOLDER.to_string())),
                _ => {
                    return Err(EngineError::SecretNotSet {
                        name: name.to_string(),
                        var,
                    });
                }
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
    async fn make(&self, intent: Intent, cancel: watch::Receiver<bool>) -> Result<Proposal> {
        no_clashes(self.stack)?;
        let limit = |template: &Json| {
            let body = limits::body(template);
            limits::delivery(&self.stack.name, &body, limits::resources(template))
                .map(|delivery| (body, delivery))
                .map_err(|e| EngineError::Message(e.to_string()))
        };
        // CloudFormation's limits, before any call; said again of the template as sent.
        limit(&cloudformation::template(self.stack))?;
        self.aws.check_placement(&self.scope, self.stack).await?;
        let deployed = self.current(Operation::Apply).await?;
        let exists = deployed
            .as_ref()
            .is_some_and(|d| d.status != "REVIEW_IN_PROGRESS");
        let deployed_template = if exists {
            Some(self.deployed_template().await?)
        } else {
            None
        };
        let template = self.template(deployed_template.as_ref()).await?;
        let (body, delivery) = limit(&template)?;
        let parameters =
            self.parameters(&template, deployed.as_ref().filter(|_| exists), intent)?;
        let secrets: Vec<String> = parameters
            .iter()
            .filter_map(|p| p.value.as_ref().map(|v| v.expose().to_string()))
            .filter(|v| v != PLACEHOLDER)
            .collect();
        let old = deployed_template
            .as_ref()
            .map(changes::View::of)
            .unwrap_or_default();
        let new = changes::View::of(&template);
        // What a saved plan must find unchanged: read before the change set is made, so
        // nothing between the two escapes it.
        let last_event = match (intent, &deployed) {
            (Intent::Save, Some(d)) if exists => {
                Some(self.aws.cfn_last_event(&self.scope, &d.id).await?)
            }
            _ => None,
        };
        let change_set_name = format!("stackwright-{}", super::run_id());
        // CloudFormation keeps the description with the change set: `apply FILE` checks
        // the plan file's stack against it.
        let description = format!("{}, template {}", self.description(), digest(&body));
        // Too large for the request: through S3, the last thing before the change set,
        // after every refusal above.
        let url = match delivery {
            Delivery::Body => None,
            Delivery::S3 => {
                let key = s3::template_key(&self.name, &sha256_hex(&body));
                Some(self.aws.put_template(&self.scope, &key, &body).await?.url)
            }
        };
        let made = self
            .aws
            .cfn_change_set(
                &self.scope,
                &ChangeSetRequest {
                    stack: &self.name,
                    change_set: &change_set_name,
                    description: &description,
                    template: match &url {
                        Some(url) => TemplateSource::Url(url),
                        None => TemplateSource::Body(&body),
                    },
                    parameters: &parameters,
                    create: !exists,
                },
                cancel,
            )
            .await
            .map_err(|e| {
                EngineError::Message(redact(&EngineError::from(e).to_string(), &secrets))
            })?;
        // Nothing to do, until the change set says otherwise.
        let unchanged = changes::plan(self.stack, self.graph, &[], &old, &new);
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
                self.take_back(&proposal).await;
                fail!(
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
                    self.take_back(&proposal).await;
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
                    self.graph,
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
    async fn fill_ids(&self, resource_changes: &mut [ResourceChange]) -> Result<()> {
        if resource_changes
            .iter()
            .all(|c| c.action == "Add" || c.physical_id.is_some())
        {
            return Ok(());
        }
        let ids = self.aws.cfn_resources(&self.scope, &self.name).await?;
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
    async fn take_back(&self, p: &Proposal) {
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
                Ok::<_, crate::provider::ProviderError>(
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
            self.console.warning(&redact(&f, &p.secrets));
        }
    }

    /// The stack's outputs: CloudFormation's, or where it has none (the emulator), worked
    /// out from its resources, found by their tags and by the physical ids CloudFormation
    /// lists; `deployed` (the view of the template the stack runs) says which is which.
    async fn outputs_of(
        &self,
        info: &StackInfo,
        deployed: &changes::View,
    ) -> Result<BTreeMap<String, Option<String>>> {
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
            let ids = self.aws.cfn_resources(&self.scope, &self.name).await?;
            let mut scope = self.scope.clone();
            scope.physical_ids = ids
                .into_iter()
                .filter_map(|(logical, physical)| {
                    Some((physical, deployed.address(&logical)?.clone()))
                })
                .collect();
            let live = self.aws.refresh(&scope).await?;
            for (name, value) in plan::outputs(self.stack, &live.resources) {
                if let Some(slot) = outputs.get_mut(&name).filter(|v| v.is_none()) {
                    *slot = value;
                }
            }
        }
        Ok(outputs)
    }
}

/// A template's SHA-256, as `sha256:` and hex.
fn digest(body: &str) -> String {
    format!("sha256:{}", sha256_hex(body))
}

/// A template's SHA-256 in hex: the name of its object in S3.
fn sha256_hex(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(body.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuse a stack two of whose resources would have the same logical id.
pub fn no_clashes(stack: &Stack) -> Result<()> {
    let clashes = cloudformation::clashes(stack);
    if clashes.is_empty() {
        return no_restores(stack);
    }
    fail!(
        "stack `{}` cannot be a CloudFormation template; nothing was sent to AWS:\n{}",
        stack.name,
        clashes
            .iter()
            .map(|c| format!("  - {c}\n"))
            .collect::<String>()
    )
}

/// `restore_from_env` is the direct engine's: CloudFormation's `DBSnapshotIdentifier`
/// would have to name one snapshot for the database's whole life (changing it replaces
/// the database), and the newest snapshot changes every day. Refused before anything is
/// sent, rather than a database that silently starts empty.
fn no_restores(stack: &Stack) -> Result<()> {
    let restoring: Vec<String> = stack
        .resources
        .values()
        .filter(|r| matches!(&r.spec, Spec::Database(d) if d.restore_from_env.is_some()))
        .map(|r| format!("`{}`", r.address))
        .collect();
    if restoring.is_empty() {
        return Ok(());
    }
    fail!(
        "{} {} `restore_from_env`, which the cloudformation engine does not support; nothing \
         was sent to AWS\n\nhint: apply this stack with the direct engine (without \
         --engine cloudformation), or take `restore_from_env` out",
        restoring.join(", "),
        if restoring.len() == 1 { "sets" } else { "set" }
    )
}

impl Engine for Cloudformation<'_> {
    type Proposal = Proposal;

    async fn preflight(&mut self, options: &RunOptions) -> Result<()> {
        if !options.rotate.is_empty() {
            return Err(EngineError::Message(
                "--rotate-secret is supported by the direct engine only, not with --engine \
                 cloudformation; nothing was changed\n\nhint: drop --engine cloudformation \
                 for a stack the direct engine manages"
                    .into(),
            ));
        }
        Ok(())
    }

    fn proposing_writes(&self) -> bool {
        true
    }

    async fn propose(&mut self, intent: Intent, cancel: watch::Receiver<bool>) -> Result<Proposal> {
        self.make(intent, cancel).await
    }

    async fn resume(&mut self, saved: &SavedPlan) -> Result<Proposal> {
        if saved.plan.engine != plan::PlannedBy::Cloudformation {
            fail!("the saved plan is not the CloudFormation engine's");
        }
        self.resume_saved(saved).await
    }

    async fn teardown(&mut self) -> Result<Proposal> {
        self.teardown_proposal().await
    }

    fn plan_of<'p>(&self, proposal: &'p Proposal) -> &'p Plan {
        &proposal.plan
    }

    fn changes(&self, proposal: &Proposal) -> bool {
        proposal.changes()
    }

    fn refusals(&self, proposal: &Proposal, consent: Consent) -> Vec<String> {
        let mut refused = gates::refusals(
            &proposal.plan,
            self.stack,
            &proposal.old.live(&BTreeMap::new()),
            consent,
        );
        if !proposal.foreign.is_empty() {
            refused.push(format!(
                "the change set changes resources stackwright did not write ({}): refusing to \
                 {} them through stackwright",
                proposal.foreign.join(", "),
                match proposal.carry {
                    Carry::Delete { .. } => Operation::Destroy.verb(),
                    _ => Operation::Apply.verb(),
                }
            ));
        }
        refused
    }

    fn question(&self, operation: Operation) -> String {
        format!(
            "\nDo you want to {} CloudFormation stack `{}` as above? Only `yes` is accepted: ",
            operation.verb(),
            self.name
        )
    }

    async fn save(
        &mut self,
        proposal: &Proposal,
        path: &std::path::Path,
        source: Option<&crate::planfile::Source>,
    ) -> Result<bool> {
        self.save_plan(proposal, path, source).await
    }

    async fn carry_out(
        &mut self,
        proposal: Proposal,
        operation: Operation,
        _options: &RunOptions,
        console: Arc<dyn Console>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Finish> {
        match self.carry(&proposal, operation, &console, cancel).await {
            // CloudFormation took it: nothing is withdrawn, whatever happens next.
            Ok(Some(finish)) => Ok(finish),
            Ok(None) => {
                self.take_back(&proposal).await;
                Ok(Finish::NoChanges)
            }
            Err(e) => {
                self.take_back(&proposal).await;
                Err(e)
            }
        }
    }

    async fn withdraw(&mut self, proposal: &Proposal, _console: &dyn Console) {
        self.take_back(proposal).await;
    }

    async fn outputs(&mut self) -> Result<BTreeMap<String, Option<String>>> {
        let info = self.aws.cfn_stack(&self.scope, &self.name).await?;
        match info.filter(|i| i.status != "REVIEW_IN_PROGRESS") {
            Some(info) => {
                // Only this stack and env's outputs: refused for a stack of the same name.
                let deployed = changes::View::of(&self.deployed_template().await?);
                self.outputs_of(&info, &deployed).await
            }
            None => Ok(self
                .stack
                .outputs
                .keys()
                .map(|k| (k.clone(), None))
                .collect()),
        }
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        self.aws.stats().by_operation()
    }
}
