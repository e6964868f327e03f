//! `stackwright graph`: the dependency graph as DOT.

use std::process::ExitCode;

use clap::Args;
use stackwright::render;

use super::StackArgs;

/// Print the dependency graph as Graphviz DOT (node names are addresses)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright graph stacks/paasmaker --env production\n  \
    stackwright graph stacks/paasmaker --env production | dot -Tsvg > paasmaker.svg\n\n\
    An edge \"a\" -> \"b\" means a needs b first. Dashed edges are security-group rules\n\
    naming another group: references, but not creation order.")]
pub struct GraphArgs {
    #[command(flatten)]
    stack: StackArgs,
}

pub fn exec(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    let title = format!("{}-{}", loaded.stack.name, loaded.stack.env);
    render::stdout(&render::dot::render(&graph, &title));
    Ok(ExitCode::SUCCESS)
}
