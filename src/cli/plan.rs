//! `stackwright plan`: read the stack's live state and print what apply would do.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use stackwright::engine::{EngineKind, PlanOptions, Planned, blocking};
use stackwright::graph::Graph;
use stackwright::planfile::Source;
use stackwright::render;
use stackwright::render::console::Terminal;
use stackwright::stack::Stack;

use super::StackArgs;

/// Compare the stack with what is in AWS and print the changes apply would make
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright plan stacks/paasmaker --env production\n  \
    stackwright plan stacks/paasmaker --env staging --detailed-exitcode --json > plan.json\n  \
    stackwright plan stacks/paasmaker --env staging --out staging.plan\n  \
    stackwright plan stacks/paasmaker --env staging --format markdown > comment.md\n  \
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
    /// How to print the plan: `text`, `json` (schemas/plan.schema.json) or `markdown` (a
    /// pull-request comment of at most 65,536 characters)
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<PlanFormat>,
    /// The same as --format json
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Save the plan, with the live-state fingerprint of every resource it touches (with
    /// --engine cloudformation: keep its change set), for `apply FILE`
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan `[import]` entries whose resource would have to be replaced to match the
    /// stack (refused otherwise): the resource made by hand is destroyed and made anew
    #[arg(long)]
    allow_replace_import: bool,
    /// Print the AWS calls made, by operation, on stderr
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    engine: super::EngineArg,
}

/// The values `--format` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// For people: each change, its attributes, the summary last
    Text,
    /// For programs: schemas/plan.schema.json
    Json,
    /// For a pull request: summary, what needs attention, a table, details folded
    Markdown,
}

pub fn exec(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    let kind = args.engine.kind();
    let options = PlanOptions {
        deep: args.deep,
        out: args.out.clone(),
        source: Some(Source {
            dir: args.stack.stack.clone(),
            env: args.stack.env.clone(),
        }),
        allow_replace_import: args.allow_replace_import,
    };
    let planned = run(&loaded.stack, &graph, kind, &options, args.stats)?;
    let format = match (args.json, args.format) {
        (true, _) => PlanFormat::Json,
        (false, format) => format.unwrap_or(PlanFormat::Text),
    };
    match format {
        PlanFormat::Json => render::stdout(
            &(serde_json::to_string_pretty(&planned.plan)
                .context("failed to serialize the plan")?
                + "\n"),
        ),
        PlanFormat::Text => render::stdout(&render::plan::render(
            &planned.plan,
            render::stdout_colour(),
        )),
        PlanFormat::Markdown => render::stdout(&render::markdown::render(
            &planned.plan,
            &render::markdown::full_plan_command(
                &args.stack.stack,
                args.stack.env.as_deref(),
                kind == EngineKind::Cloudformation,
            ),
        )),
    }
    Ok(match (args.detailed_exitcode, planned.changes) {
        (true, true) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}

/// Plan `stack` with the engine `kind` (for `plan`, and `graph --plan`), printing the AWS
/// calls made with `stats`.
pub(super) fn run(
    stack: &Stack,
    graph: &Graph,
    kind: EngineKind,
    options: &PlanOptions,
    stats: bool,
) -> anyhow::Result<Planned> {
    let (planned, calls) = blocking::plan(kind, stack, graph, options, Arc::new(Terminal))?;
    if let Some(calls) = calls.filter(|_| stats) {
        render::stderr(&render::summary::calls(&calls));
    }
    Ok(planned?)
}
