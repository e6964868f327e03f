//! The command line: one file per command, each an `Args` struct and an `exec` that makes
//! one call into the library. Exit status: 0 success, 1 any error (usage errors included:
//! `plan --detailed-exitcode` keeps 2 for "changes").

mod apply;
mod cloudformation;
mod export;
mod graph;
mod output;
mod plan;
mod unlock;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use stackwright::graph::{Graph, cycle_diagnostic};
use stackwright::render;
use stackwright::stack::{self, Loaded};

#[derive(Debug, Parser)]
#[command(
    name = "stackwright",
    version,
    about = "Declarative infrastructure for AWS: plan and apply stacks of security groups, \
             classic ELBs, RDS, EC2 and Route 53",
    after_help = "Examples:\n  \
        stackwright validate stacks/paasmaker --env production\n  \
        stackwright graph stacks/paasmaker --env staging | dot -Tsvg > graph.svg\n  \
        stackwright plan stacks/paasmaker --env staging\n  \
        stackwright apply stacks/paasmaker --env staging\n  \
        stackwright output stacks/paasmaker --env staging\n  \
        stackwright destroy stacks/paasmaker --env staging\n  \
        stackwright apply stacks/paasmaker --env staging --engine cloudformation\n\n\
        The stack format: docs/stack-format.md"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::ValidateArgs),
    Graph(graph::GraphArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Destroy(apply::DestroyArgs),
    Output(output::OutputArgs),
    Unlock(unlock::UnlockArgs),
    Export(export::ExportArgs),
}

/// The stack and env every command takes.
#[derive(Debug, Args)]
struct StackArgs {
    /// The stack directory (holding `stack.toml` and `env/<env>.toml`)
    #[arg(value_name = "STACK")]
    stack: PathBuf,
    /// The env: `env/<ENV>.toml` in the stack directory (required when the stack has env files)
    #[arg(long, short, value_name = "ENV")]
    env: Option<String>,
}

/// Who carries out a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum Engine {
    /// stackwright calls the AWS APIs itself, walking the graph in parallel
    #[default]
    Direct,
    /// The stack goes to CloudFormation as a template: its change set is the plan, and
    /// CloudFormation holds the state, applies and rolls back
    Cloudformation,
}

/// `--engine`, for the commands that read or change AWS.
#[derive(Debug, Args)]
struct EngineArg {
    /// Who carries out the plan: `direct` (stackwright calls the AWS APIs) or
    /// `cloudformation` (a CloudFormation stack named `<stack>-<env>`, changed through
    /// change sets)
    #[arg(long, value_enum, default_value_t = Engine::Direct, value_name = "ENGINE")]
    engine: Engine,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Validate(args) => validate::exec(args),
        Command::Graph(args) => graph::exec(args),
        Command::Plan(args) => plan::exec(args),
        Command::Apply(args) => apply::exec_apply(args),
        Command::Destroy(args) => apply::exec_destroy(args),
        Command::Output(args) => output::exec(args),
        Command::Unlock(args) => unlock::exec(args),
        Command::Export(args) => export::exec(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            render::stderr(&format!("error: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

/// Load, check and graph a stack, printing every diagnostic (warnings too). `None` when it
/// has errors: they have been printed, and the command exits 1.
fn load_and_graph(args: &StackArgs) -> Option<(Loaded, Graph)> {
    let colour = render::stderr_colour();
    let loaded = match stack::load(&args.stack, args.env.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            render::stderr(&render::diagnostics::render_all(
                &e.diagnostics,
                &e.sources,
                colour,
            ));
            failed(&args.stack, args.env.as_deref(), e.error_count());
            return None;
        }
    };
    render::stderr(&render::diagnostics::render_all(
        &loaded.warnings,
        &loaded.sources,
        colour,
    ));
    match Graph::build(&loaded.stack) {
        Ok(graph) => Some((loaded, graph)),
        Err(cycles) => {
            let diagnostics: Vec<_> = cycles
                .iter()
                .map(|c| cycle_diagnostic(c, &loaded.reference_spans))
                .collect();
            render::stderr(&render::diagnostics::render_all(
                &diagnostics,
                &loaded.sources,
                colour,
            ));
            failed(&args.stack, args.env.as_deref(), diagnostics.len());
            None
        }
    }
}

fn failed(dir: &Path, env: Option<&str>, errors: usize) {
    let env = env.map(|e| format!(" (env `{e}`)")).unwrap_or_default();
    let plural = if errors == 1 { "" } else { "s" };
    render::stderr(&format!(
        "error: stack `{}`{env} has {errors} error{plural}; nothing was sent to AWS\n",
        dir.display()
    ));
}

/// The async runtime the commands that talk to AWS run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// A provider error as the CLI reports it: the message, then a hint.
fn provider_error(e: stackwright::provider::ProviderError) -> anyhow::Error {
    match e.hint() {
        Some(hint) => anyhow::anyhow!("{e}\n\nhint: {hint}"),
        None => anyhow::anyhow!("{e}"),
    }
}
