//! `stackwright export`: the stack in another tool's format.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use stackwright::cloudformation::{self, limits};
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
            // The template is printed either way: said on stderr when CloudFormation would
            // need it from S3, or refuse it.
            let body = limits::body(&template);
            match limits::delivery(&loaded.stack.name, &body, limits::resources(&template)) {
                Ok(limits::Delivery::Body) => {}
                Ok(limits::Delivery::S3) => render::stderr(&format!(
                    "note: the template is {} bytes without whitespace, over the {} \
                     CloudFormation takes in a request: deploy it from S3 (`aws cloudformation \
                     deploy --s3-bucket …`)\n",
                    body.len(),
                    limits::BODY_LIMIT
                )),
                Err(e) => render::stderr(&format!("warning: {e}\n")),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
