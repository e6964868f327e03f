//! `stackwright output`: the stack's outputs, from live state.

use std::process::ExitCode;

use clap::Args;
use std::sync::Arc;

use stackwright::engine::blocking;
use stackwright::render;
use stackwright::render::console::Terminal;

use super::StackArgs;

/// Print the stack's outputs, read from AWS
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright output stacks/paasmaker --env production\n  \
    stackwright output stacks/paasmaker --env production --json | jq -r .elb_dns_name\n\n\
    Exit 1 when an output's resource does not exist (apply first).")]
pub struct OutputArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Print the outputs as one JSON object
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: super::EngineArg,
}

pub fn exec(args: OutputArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    let outputs = blocking::outputs(
        args.engine.kind(),
        &loaded.stack,
        &graph,
        Arc::new(Terminal),
    )?;
    render::stdout(&if args.json {
        render::summary::outputs_json(&outputs)
    } else {
        render::summary::outputs_plain(&outputs)
    });
    match render::summary::missing_outputs(&outputs) {
        None => Ok(ExitCode::SUCCESS),
        Some(error) => {
            render::stderr(&error);
            Ok(ExitCode::FAILURE)
        }
    }
}
