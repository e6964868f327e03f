//! `stackwright validate`: check a stack and its env without touching AWS.

use std::process::ExitCode;

use clap::Args;
use stackwright::render;

use super::StackArgs;

/// Check a stack file and its env file: syntax, types, references, names, the graph
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright validate stacks/paasmaker --env production\n  \
    stackwright validate stacks/paasmaker -e staging\n\n\
    Every mistake is reported with its file, line and column, and the exit status is 1.\n\
    No AWS call is made and no secret needs to be set.")]
pub struct ValidateArgs {
    #[command(flatten)]
    stack: StackArgs,
}

pub fn exec(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    render::stdout(&render::summary::validated(&loaded, &graph));
    Ok(ExitCode::SUCCESS)
}
