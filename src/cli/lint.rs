//! `stackwright lint`: resilience and security findings, without touching AWS.

use std::process::ExitCode;

use clap::Args;
use stackwright::render;

use super::StackArgs;

/// Report resilience and security findings about a stack (no AWS call)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright lint stacks/paasmaker --env production\n  \
    stackwright lint stacks/paasmaker --env staging --json\n\n\
    One finding a line, `file:line:col: severity[rule] address: why (hint: what to do)`.\n\
    Exit status: 0 no finding, 2 findings, 1 error (the stack does not load).\n\
    A resource silences a rule with `lint_allow = [\"rule-id\"]` and a comment saying why.\n\
    The rules, and the checkov / cfn-lint / cfn-nag checks they match: docs/lint.md")]
pub struct LintArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Print `{"findings": [...]}` (schema: schemas/lint.schema.json)
    #[arg(long)]
    json: bool,
}

pub fn exec(args: LintArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, _graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    let findings = stackwright::lint::lint(&loaded);
    if args.json {
        render::stdout(&render::lint::json(&findings));
    } else {
        render::stdout(&render::lint::text(&findings));
        render::stderr(&render::lint::summary(&findings));
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
