//! `stackwright plan`: read the stack's live state and print what apply would do.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use stackwright::plan::{self, Plan};
use stackwright::provider::aws::Aws;
use stackwright::provider::{Provider, Scope};
use stackwright::render;
use stackwright::stack::Stack;
use stackwright::stack::model::Spec;

use super::StackArgs;

/// Compare the stack with what is in AWS and print the changes apply would make
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright plan stacks/paasmaker --env production\n  \
    stackwright plan stacks/paasmaker --env staging --detailed-exitcode --json > plan.json\n  \
    stackwright plan stacks/paasmaker --env staging --out staging.plan\n  \
    stackwright plan stacks/paasmaker --env staging --engine cloudformation\n\n\
    Resources are found by their tags; there is no state file. Secrets are never read\n\
    unless --deep needs them to hide them in user data, and are printed as (sensitive).\n\
    With --detailed-exitcode: 0 no changes, 2 changes, 1 error.")]
pub struct PlanArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Read attributes AWS returns only per resource (user data, shutdown behaviour, root
    /// volume, cross-zone) for real, instead of through their tags: one call each
    #[arg(long)]
    deep: bool,
    /// Print the plan as JSON (schemas/plan.schema.json) instead of text
    #[arg(long)]
    json: bool,
    /// Save the plan, with the live-state fingerprint of every resource it touches (with
    /// --engine cloudformation: keep its change set), for `apply FILE`
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
    /// Print the AWS calls made, by operation, on stderr
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    engine: super::EngineArg,
}

/// A plan saved by `--out`: the plan and the checked stack it was made from (which holds
/// secrets only by name); with the cloudformation engine, the change set it stands for.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedPlan {
    pub plan: Plan,
    pub stack: Stack,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set: Option<super::cloudformation::SavedChangeSet>,
}

impl SavedPlan {
    /// Write it to `path` (JSON).
    pub fn write(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self).context("failed to serialize the plan")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("failed to write the plan to `{}`", path.display()))
    }
}

pub fn exec(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    if args.engine.engine == super::Engine::Cloudformation {
        if args.deep {
            bail!(
                "--deep reads what the direct engine tracks in tags; CloudFormation's change set needs no such read: drop --deep"
            );
        }
        let view = super::cloudformation::Printing {
            json: args.json,
            detailed_exitcode: args.detailed_exitcode,
            stats: args.stats,
            out: args.out.clone(),
        };
        return super::cloudformation::plan(&loaded.stack, &graph, view);
    }
    let scope = scope(&loaded.stack, args.deep)?;
    let runtime = super::runtime()?;
    let stack = &loaded.stack;
    let (live, aws) = runtime
        .block_on(async {
            let aws = Aws::connect(stack).await?;
            let live = aws.refresh(&scope).await;
            Ok::<_, stackwright::provider::ProviderError>((live, aws))
        })
        .map_err(super::provider_error)?;
    if args.stats {
        render::stderr(&render::summary::calls(&aws.stats().by_operation()));
    }
    let live = live.map_err(super::provider_error)?;
    let plan = plan::plan(stack, &graph, &live);
    if let Some(path) = &args.out {
        let saved = SavedPlan {
            plan: plan.clone(),
            stack: stack.clone(),
            change_set: None,
        };
        saved.write(path)?;
    }
    if args.json {
        render::stdout(
            &(serde_json::to_string_pretty(&plan).context("failed to serialize the plan")? + "\n"),
        );
    } else {
        render::stdout(&render::plan::render(&plan, render::stdout_colour()));
    }
    Ok(match (args.detailed_exitcode, plan.has_changes()) {
        (true, true) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}

/// What to read: the stack's tags, the zones its records live in, and in deep mode the
/// secrets to hide in what AWS returns.
pub(super) fn scope(stack: &Stack, deep: bool) -> anyhow::Result<Scope> {
    let zones = stack
        .resources
        .values()
        .filter_map(|r| match &r.spec {
            Spec::DnsRecord(d) => Some(d.zone.clone()),
            _ => None,
        })
        .collect();
    let mut secrets = BTreeMap::new();
    if deep {
        // Only user data is read back from AWS; the master password never is.
        let in_user_data: std::collections::BTreeSet<&str> = stack
            .resources
            .values()
            .filter_map(|r| match &r.spec {
                Spec::Instance(i) => i.user_data.as_ref(),
                _ => None,
            })
            .flat_map(|t| t.parts.iter())
            .filter_map(|p| match p {
                stackwright::stack::template::Part::Secret(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        for (name, var) in stack
            .secrets
            .iter()
            .filter(|(n, _)| in_user_data.contains(n.as_str()))
        {
            match std::env::var(var) {
                Ok(value) if !value.is_empty() => {
                    secrets.insert(name.clone(), value);
                }
                _ => anyhow::bail!(
                    "`plan --deep` reads user data, which holds secret `{name}`: set `{var}` so it can be hidden"
                ),
            }
        }
    }
    Ok(Scope {
        stack: stack.name.clone(),
        env: stack.env.clone(),
        zones,
        deep,
        secrets,
        cloudformation: false,
        physical_ids: BTreeMap::new(),
    })
}
