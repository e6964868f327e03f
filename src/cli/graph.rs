//! `stackwright graph`: the dependency graph as DOT or SVG, coloured by the plan with
//! `--plan`.

use std::process::ExitCode;

use clap::Args;
use stackwright::engine::PlanOptions;
use stackwright::render;

use super::StackArgs;

/// Print the dependency graph as Graphviz DOT or SVG (node names are addresses)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright graph stacks/paasmaker --env production\n  \
    stackwright graph stacks/paasmaker --env production --format svg > paasmaker.svg\n  \
    stackwright graph stacks/paasmaker --env staging --plan --format svg > staging-plan.svg\n  \
    stackwright graph stacks/paasmaker --env production | dot -Tpng > paasmaker.png\n\n\
    An edge \"a\" -> \"b\" means a needs b first. Dashed edges are security-group rules\n\
    naming another group: references, but not creation order. With --plan, addresses are\n\
    coloured by what apply would do: green create (+), amber update (~), purple replace\n\
    (-/+), red destroy (-, drawn apart: no longer in the stack); unchanged ones stay plain.")]
pub struct GraphArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// `dot` (Graphviz) or `svg` (laid out by stackwright; no Graphviz needed)
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot, value_name = "FORMAT")]
    format: GraphFormat,
    /// Read AWS (as `plan` does) and colour each address by its planned action
    #[arg(long)]
    plan: bool,
    /// With --plan: the engine that plans (see `plan --help`)
    #[command(flatten)]
    engine: super::EngineArg,
}

/// The values `graph --format` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum GraphFormat {
    /// Graphviz DOT
    Dot,
    /// An SVG picture
    Svg,
}

pub fn exec(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    let planned = if args.plan {
        let options = PlanOptions {
            deep: false,
            out: None,
            source: None,
            allow_replace_import: false,
        };
        let kind = args.engine.kind();
        Some(super::plan::run(
            &loaded.stack,
            &graph,
            kind,
            &options,
            false,
        )?)
    } else {
        None
    };
    let plan = planned.as_ref().map(|p| &p.plan);
    let title = format!("{}-{}", loaded.stack.name, loaded.stack.env);
    render::stdout(&match args.format {
        GraphFormat::Dot => render::dot::render_planned(&graph, &title, plan),
        GraphFormat::Svg => render::svg::render(&graph, &title, plan),
    });
    Ok(ExitCode::SUCCESS)
}
