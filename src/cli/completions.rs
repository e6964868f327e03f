//! `stackwright completions SHELL`: a completion script for the shell, on stdout.

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell as Generator;
use stackwright::render;

/// Print a completion script for a shell
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright completions bash > ~/.local/share/bash-completion/completions/stackwright\n  \
    stackwright completions zsh > \"${fpath[1]}/_stackwright\"\n  \
    stackwright completions fish > ~/.config/fish/completions/stackwright.fish\n  \
    stackwright completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell the script is for
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

/// The shells a script is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

pub fn exec(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let generator = match args.shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
        Shell::Powershell => Generator::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(
        generator,
        &mut super::Cli::command(),
        "stackwright",
        &mut script,
    );
    render::stdout(&String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}
