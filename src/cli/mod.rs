//! The command line: one file per command, each an `Args` struct and an `exec` that makes
//! one call into the library. Exit status: 0 success, 1 any error (usage errors included:
//! `plan --detailed-exitcode` keeps 2 for "changes").

mod apply;
mod completions;
mod export;
mod generate;
mod graph;
mod lint;
mod ls;
mod man;
mod output;
mod plan;
mod unlock;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use stackwright::engine::{self, EngineKind};
use stackwright::graph::Graph;
use stackwright::render;
use stackwright::stack::Loaded;

#[derive(Debug, Parser)]
#[command(
    name = "stackwright",
    version,
    about = "Declarative infrastructure for AWS: plan and apply stacks of security groups, \
             classic ELBs, RDS, EC2 and Route 53",
    after_help = "Examples:\n  \
        stackwright validate stacks/paasmaker --env production\n  \
        stackwright lint stacks/paasmaker --env production\n  \
        stackwright graph stacks/paasmaker --env staging --format svg > graph.svg\n  \
        stackwright plan stacks/paasmaker --env staging\n  \
        stackwright apply stacks/paasmaker --env staging\n  \
        stackwright output stacks/paasmaker --env staging\n  \
        stackwright destroy stacks/paasmaker --env staging\n  \
        stackwright ls --json\n  \
        stackwright apply stacks/paasmaker --env staging --engine cloudformation\n  \
        stackwright generate stacks/shop --name shop --env production sg-0a1b2c3d i-0123456789abcdef0\n  \
        stackwright completions bash > ~/.local/share/bash-completion/completions/stackwright\n\n\
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
    Lint(lint::LintArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Destroy(apply::DestroyArgs),
    Output(output::OutputArgs),
    Ls(ls::LsArgs),
    Unlock(unlock::UnlockArgs),
    Export(export::ExportArgs),
    Generate(generate::GenerateArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
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

/// `--engine`, for the commands that read or change AWS.
#[derive(Debug, Args)]
struct EngineArg {
    /// Who carries out the plan: `direct` (stackwright calls the AWS APIs) or
    /// `cloudformation` (a CloudFormation stack named `<stack>-<env>`, changed through
    /// change sets)
    #[arg(long, value_enum, default_value_t = EngineName::Direct, value_name = "ENGINE")]
    engine: EngineName,
}

/// The values `--engine` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum EngineName {
    /// stackwright calls the AWS APIs itself, walking the graph in parallel
    Direct,
    /// The stack goes to CloudFormation as a template: its change set is the plan, and
    /// CloudFormation holds the state, applies and rolls back
    Cloudformation,
}

impl EngineArg {
    fn kind(&self) -> EngineKind {
        match self.engine {
            EngineName::Direct => EngineKind::Direct,
            EngineName::Cloudformation => EngineKind::Cloudformation,
        }
    }
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
        Command::Lint(args) => lint::exec(args),
        Command::Plan(args) => plan::exec(args),
        Command::Apply(args) => apply::exec_apply(args),
        Command::Destroy(args) => apply::exec_destroy(args),
        Command::Output(args) => output::exec(args),
        Command::Ls(args) => ls::exec(args),
        Command::Unlock(args) => unlock::exec(args),
        Command::Export(args) => export::exec(args),
        Command::Generate(args) => generate::exec(args),
        Command::Completions(args) => completions::exec(args),
        Command::Man(args) => man::exec(args),
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
    let checked = render::diagnostics::checked(engine::check(&args.stack, args.env.as_deref()))?;
    Some((checked.loaded, checked.graph))
}
