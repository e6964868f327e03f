//! `stackwright export`: the stack in another tool's format.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use stackwright::cloudformation;
use stackwright::render;

use super::StackArgs;

/// Print the stack in another tool's format (no AWS call, no secret read)
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    format: Format,
}

#[derive(Debug, Subcommand)]
enum Format {
    /// A CloudFormation template (JSON): secrets become NoEcho parameters, references
    /// Fn::Sub over GetAtt/Ref, group-to-group rules separate resources
    #[command(after_help = "Examples:\n  \
        stackwright export cloudformation stacks/paasmaker --env production > paasmaker.json\n  \
        aws cloudformation deploy --template-file paasmaker.json --stack-name paasmaker-production \\\n      \
        --parameter-overrides SecretRdsPassword=… SecretNodeToken=…\n\n\
        Instances' root_volume_gb applies to /dev/sda1 (Ubuntu's root device).")]
    Cloudformation(StackArgs),
}

pub fn exec(args: ExportArgs) -> anyhow::Result<ExitCode> {
    match args.format {
        Format::Cloudformation(stack) => {
            let Some((loaded, _graph)) = super::load_and_graph(&stack) else {
                return Ok(ExitCode::FAILURE);
            };
            stackwright::engine::cloudformation::no_clashes(&loaded.stack)?;
            let template = cloudformation::template(&loaded.stack);
            let text =
                serde_json::to_string_pretty(&template).context("failed to write the template")?;
            render::stdout(&(text + "\n"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
