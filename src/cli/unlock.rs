//! `stackwright unlock`: break the lock of a stack and env left by a run that is gone.

use std::process::ExitCode;

use clap::Args;
use stackwright::engine::blocking;
use stackwright::render;

use super::StackArgs;

/// Break the lock of a stack and env (left by a run that was killed)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright unlock stacks/paasmaker --env staging\n\n\
    The lock is a security group named stackwright-lock-<stack>-<env>, whose tags say who\n\
    holds it and since when. Break it only when that run is gone: two applies at once can\n\
    undo each other's work. A holder on this machine that is no longer running is taken\n\
    over automatically, with a warning. A lock whose tags name another stack or env is\n\
    never broken; a holder still running on this machine only with --force.")]
pub struct UnlockArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Break the lock even when its holder is a process still running on this machine
    #[arg(long)]
    force: bool,
}

pub fn exec(args: UnlockArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, _graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    let stack = &loaded.stack;
    let holder = blocking::unlock(stack, args.force)?;
    match holder {
        Some(h) => render::stdout(&format!(
            "Released the lock of stack `{}` env `{}`, held by {h}.\n",
            stack.name, stack.env
        )),
        None => render::stdout(&format!(
            "Stack `{}` env `{}` is not locked.\n",
            stack.name, stack.env
        )),
    }
    Ok(ExitCode::SUCCESS)
}
