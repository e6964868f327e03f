//! `stackwright output`: the stack's outputs, from live state.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use std::sync::Arc;

use stackwright::engine::{self, Console};
use stackwright::render;
use stackwright::render::console::Terminal;
use stackwright::with_engine;

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
    let console: Arc<dyn Console> = Arc::new(Terminal);
    let runtime = engine::runtime()?;
    let outputs = runtime.block_on(async {
        let mut connected =
            engine::connect(args.engine.kind(), &loaded.stack, &graph, false, console).await?;
        with_engine!(&mut connected, e => engine::outputs(e).await)
    })?;
    if args.json {
        let known: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.clone().map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect();
        let text = serde_json::to_string_pretty(&known).context("failed to write JSON")?;
        render::stdout(&(text + "\n"));
    } else {
        for (name, value) in &outputs {
            if let Some(v) = value {
                render::stdout(&format!("{name} = {v}\n"));
            }
        }
    }
    let missing: Vec<&str> = outputs
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    render::stderr(&format!(
        "error: output{} {} refer{} to resources that do not exist in AWS\n\nhint: apply the stack first\n",
        if missing.len() == 1 { "" } else { "s" },
        missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if missing.len() == 1 { "s" } else { "" },
    ));
    Ok(ExitCode::FAILURE)
}
