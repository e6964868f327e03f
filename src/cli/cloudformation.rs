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

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value as Json;
use stackwright::apply::gates::{Consent, refusals};
use stackwright::cloudformation::changes::{self, Parameter, StackInfo, Tracker};
use stackwright::cloudformation::{self, ENGINE_TAG_VALUE};
use stackwright::graph::Graph;
use stackwright::plan::{self, Plan};
use stackwright::provider::aws::Aws;
use stackwright::provider::aws::cloudformation::ChangeSet;
use stackwright::provider::{Provider, Scope, Secret};
use stackwright::render;
use stackwright::stack::Stack;

use super::apply::{Mode, Redacting, RunArgs, confirm, on_ctrl_c, redact, run_id};

/// How `plan` prints.
#[derive(Clone, Copy, Debug)]
pub(super) struct Printing {
    pub json: bool,
    pub detailed_exitcode: bool,
    pub stats: bool,
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

/// A change set made and described, with what is needed to show, execute or withdraw it.
struct Proposal {
    plan: Plan,
    /// What carrying it out means.
    carry: Carry,
    /// A failed change set AWS keeps after saying there is nothing to do.
    unchanged: Option<String>,
    /// The stack did not exist: the change set made an empty one (`REVIEW_IN_PROGRESS`).
    new_stack: bool,
    old: changes::View,
    new: changes::View,
    /// The secret values sent, to keep out of anything printed.
    secrets: Vec<String>,
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

    /// The secret parameters of `template`: each from its environment variable; else the
    /// value the stack was deployed with; else, for a plan, a placeholder.
    fn parameters(
        &self,
        template: &Json,
        deployed: Option<&StackInfo>,
        mode: Option<Mode>,
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
                _ if mode.is_none() => Some(Secret::new(PLACEHOLDER.to_string())),
                _ => bail!(
                    "secret `{name}` is needed by the CloudFormation stack: set the environment \
                     variable `{var}`; nothing was changed"
                ),
            };
            out.push(Parameter { key, value });
        }
        Ok(out)
    }

    /// Make a change set for the stack as it is now and describe it as a plan. `mode` is
    /// `None` for `plan`, which never executes it.
    async fn propose(&self, graph: &Graph, mode: Option<Mode>) -> anyhow::Result<Proposal> {
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
        let deployed = self.current(mode.unwrap_or(Mode::Apply)).await?;
        let exists = deployed
            .as_ref()
            .is_some_and(|d| d.status != "REVIEW_IN_PROGRESS");
        let parameters = self.parameters(&template, deployed.as_ref().filter(|_| exists), mode)?;
        let secrets: Vec<String> = parameters
            .iter()
            .filter_map(|p| p.value.as_ref().map(|v| v.expose().to_string()))
            .filter(|v| v != PLACEHOLDER)
            .collect();
        let old = if exists {
            let text = self
                .aws
                .cfn_template(&self.scope, &self.name)
                .await
                .map_err(super::provider_error)?;
            changes::View::of(&serde_json::from_str(&text).unwrap_or(Json::Null))
        } else {
            changes::View::default()
        };
        let new = changes::View::of(&template);
        let change_set_name = format!("stackwright-{}", run_id());
        let made = self
            .aws
            .cfn_change_set(
                &self.scope,
                &self.name,
                &change_set_name,
                &body,
                &parameters,
                !exists,
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!(redact(&format!("{:#}", super::provider_error(e)), &secrets))
            })?;
        Ok(match made {
            ChangeSet::Unchanged { id } => Proposal {
                plan: changes::plan(self.stack, graph, &[], &old, &new),
                carry: Carry::Nothing,
                unchanged: id,
                new_stack: false,
                old,
                new,
                secrets,
            },
            ChangeSet::Ready {
                id,
                stack_id,
                changes: mut resource_changes,
            } => {
                // AWS names the physical resource of each change to an existing one; the
                // emulator does not, and the stack's resource list does.
                if resource_changes
                    .iter()
                    .any(|c| c.action != "Add" && c.physical_id.is_none())
                {
                    let ids = self
                        .aws
                        .cfn_resources(&self.scope, &self.name)
                        .await
                        .map_err(super::provider_error)?;
                    for c in &mut resource_changes {
                        if c.physical_id.is_none() {
                            c.physical_id = ids.get(&c.logical_id).cloned();
                        }
                    }
                }
                Proposal {
                    plan: changes::plan(self.stack, graph, &resource_changes, &old, &new),
                    carry: Carry::Execute {
                        change_set: id,
                        stack_id,
                    },
                    unchanged: None,
                    new_stack: !exists && deployed.is_none(),
                    old,
                    new,
                    secrets,
                }
            }
        })
    }

    /// Take back what [`Engine::propose`] made and nobody executed: the change set, and
    /// the empty stack a first change set makes. A failure here is said, not fatal.
    async fn withdraw(&self, p: &Proposal) {
        let mut failed = Vec::new();
        let made = match &p.carry {
            Carry::Execute { change_set, .. } => Some(change_set),
            _ => None,
        };
        for id in made.into_iter().chain(p.unchanged.iter()) {
            if let Err(e) = self.aws.cfn_delete_change_set(&self.scope, id).await {
                failed.push(e.to_string());
            }
        }
        if let (true, Carry::Execute { stack_id, .. }) = (p.new_stack, &p.carry)
            && let Err(e) = self.aws.cfn_delete_stack(&self.scope, stack_id).await
        {
            failed.push(e.to_string());
        }
        for f in failed {
            render::stderr(&format!("warning: {f}\n"));
        }
    }

    /// The stack's outputs: CloudFormation's, or where it has none (the emulator), worked
    /// out from its resources, which carry the stack's tags.
    async fn outputs(&self, info: &StackInfo) -> anyhow::Result<BTreeMap<String, Option<String>>> {
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
            let text = self
                .aws
                .cfn_template(&self.scope, &self.name)
                .await
                .map_err(super::provider_error)?;
            let view = changes::View::of(&serde_json::from_str(&text).unwrap_or(Json::Null));
            let ids = self
                .aws
                .cfn_resources(&self.scope, &self.name)
                .await
                .map_err(super::provider_error)?;
            let mut scope = self.scope.clone();
            scope.physical_ids = ids
                .into_iter()
                .filter_map(|(logical, physical)| Some((physical, view.address(&logical)?.clone())))
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
}

/// `plan --engine cloudformation`.
pub(super) fn plan(stack: &Stack, graph: &Graph, view: Printing) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let (plan, engine_stats) = runtime.block_on(async {
        let engine = Engine::connect(stack).await?;
        let proposal = engine.propose(graph, None).await;
        if let Ok(p) = &proposal {
            engine.withdraw(p).await;
        }
        let stats = view
            .stats
            .then(|| render::summary::calls(&engine.aws.stats().by_operation()));
        Ok::<_, anyhow::Error>((proposal?.plan, stats))
    })?;
    if let Some(stats) = engine_stats {
        render::stderr(&stats);
    }
    if view.json {
        render::stdout(
            &(serde_json::to_string_pretty(&plan).context("failed to serialize the plan")? + "\n"),
        );
    } else {
        render::stdout(&render::plan::render(&plan, render::stdout_colour()));
    }
    Ok(match (view.detailed_exitcode, plan.has_changes()) {
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
            Some(info) => engine.outputs(&info).await,
            None => Ok(stack.outputs.keys().map(|k| (k.clone(), None)).collect()),
        }
    })
}

/// `apply` and `destroy --engine cloudformation`.
pub(super) fn run(
    mode: Mode,
    stack: &Stack,
    graph: &Graph,
    args: &RunArgs,
    allow_open: bool,
) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let cancel = on_ctrl_c();
        let engine = Engine::connect(stack).await?;
        let result = go(&engine, mode, graph, args, allow_open, cancel).await;
        if args.stats {
            render::stderr(&render::summary::calls(&engine.aws.stats().by_operation()));
        }
        result
    });
    runtime.shutdown_background();
    result
}

async fn go(
    engine: &Engine<'_>,
    mode: Mode,
    graph: &Graph,
    args: &RunArgs,
    allow_open: bool,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<ExitCode> {
    let (scope, aws) = (&engine.scope, &engine.aws);
    let proposal = match mode {
        Mode::Apply => engine.propose(graph, Some(mode)).await?,
        Mode::Destroy => teardown(engine).await?,
    };
    let plan = &proposal.plan;
    render::stdout(&render::plan::render(plan, render::stdout_colour()));
    if !plan.has_changes() {
        engine.withdraw(&proposal).await;
        return Ok(ExitCode::SUCCESS);
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let consent = Consent {
        interactive: interactive && !args.yes,
        allow_data_loss: args.allow_data_loss,
        allow_open,
    };
    let live = proposal.old.live(&BTreeMap::new());
    let refused = refusals(plan, engine.stack, &live, consent);
    let verb = mode.verb();
    let go_ahead = if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|r| format!("  - {r}\n")).collect();
        render::stderr(&format!(
            "error: refusing to {verb}; nothing was changed:\n{}",
            list.concat()
        ));
        false
    } else if args.yes {
        true
    } else if !interactive {
        render::stderr(&format!(
            "error: refusing to {verb} without a terminal to confirm on; nothing was changed\n\n\
             hint: pass --yes to {verb} without confirmation (as in CI)\n"
        ));
        false
    } else {
        let question = format!(
            "\nDo you want to {verb} CloudFormation stack `{}` as above? Only `yes` is accepted: ",
            engine.name
        );
        let yes = confirm(&question, cancel.clone()).await?;
        if !yes {
            render::stderr(&format!(
                "{} cancelled; nothing was changed.\n",
                mode.title()
            ));
        }
        yes
    };
    if !go_ahead || *cancel.borrow() {
        engine.withdraw(&proposal).await;
        return Ok(ExitCode::FAILURE);
    }
    let stack_id = match &proposal.carry {
        Carry::Execute { stack_id, .. } | Carry::Delete { stack_id } => stack_id,
        Carry::Nothing => bail!("nothing to carry out"),
    };
    let since = aws
        .cfn_last_event(scope, stack_id)
        .await
        .map_err(super::provider_error)?;
    let started = match &proposal.carry {
        Carry::Execute { change_set, .. } => aws.cfn_execute(scope, change_set).await,
        _ => aws.cfn_delete_stack(scope, stack_id).await,
    };
    started.map_err(|e| {
        anyhow::anyhow!(
            "{}\n\nhint: CloudFormation refuses a change set made before the stack last \
             changed: plan again",
            redact(&e.to_string(), &proposal.secrets)
        )
    })?;
    let reporter = Arc::new(Redacting {
        inner: render::progress::reporter(),
        secrets: proposal.secrets.clone(),
    });
    let mut tracker = Tracker::new(plan, &[&proposal.new, &proposal.old], reporter);
    let settled = aws
        .cfn_follow(scope, stack_id, since, &mut |e| tracker.event(e), cancel)
        .await
        .map_err(super::provider_error)?;
    let report = tracker.finish(&settled.status, settled.cancelled);
    let summary = render::summary::applied(mode.title(), plan, &report);
    render::stdout(&redact(&summary, &proposal.secrets));
    if settled.cancelled {
        render::stderr(&format!(
            "CloudFormation carries on with stack `{}` ({}); `stackwright plan --engine \
             cloudformation` shows where it stands.\n",
            engine.name, settled.status
        ));
        return Ok(ExitCode::FAILURE);
    }
    if !report.succeeded() {
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
        let outputs = engine.outputs(&info).await?;
        render::stdout(&render::summary::outputs(&outputs));
    }
    Ok(ExitCode::SUCCESS)
}

/// The deletion of the stack as a proposal: every address its deployed template holds.
async fn teardown(engine: &Engine<'_>) -> anyhow::Result<Proposal> {
    let (scope, aws) = (&engine.scope, &engine.aws);
    let nothing = |old| Proposal {
        plan: changes::teardown(engine.stack, &changes::View::default(), &BTreeMap::new()),
        carry: Carry::Nothing,
        unchanged: None,
        new_stack: false,
        old,
        new: changes::View::default(),
        secrets: Vec::new(),
    };
    let Some(info) = engine.current(Mode::Destroy).await? else {
        return Ok(nothing(changes::View::default()));
    };
    let text = aws
        .cfn_template(scope, &engine.name)
        .await
        .map_err(super::provider_error)?;
    let old = changes::View::of(&serde_json::from_str(&text).unwrap_or(Json::Null));
    let ids = aws
        .cfn_resources(scope, &engine.name)
        .await
        .map_err(super::provider_error)?;
    let mut plan = changes::teardown(engine.stack, &old, &ids);
    if !plan.has_changes() && info.status != "REVIEW_IN_PROGRESS" {
        // A stack holding nothing stackwright wrote is still a stack to delete.
        plan.warnings.push(format!(
            "CloudFormation stack `{}` holds no resource of stack `{}` ({ENGINE_TAG_VALUE} engine)",
            engine.name, engine.stack.name
        ));
    }
    Ok(Proposal {
        plan,
        carry: Carry::Delete { stack_id: info.id },
        unchanged: None,
        new_stack: false,
        old,
        new: changes::View::default(),
        secrets: Vec::new(),
    })
}
