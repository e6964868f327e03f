//! `stackwright man`: the manual page (roff), on stdout.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};
use stackwright::render;

/// Print the manual page (roff), for `man`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright man > ~/.local/share/man/man1/stackwright.1 && man stackwright\n  \
    stackwright man | man -l -")]
pub struct ManArgs {}

pub fn exec(_args: ManArgs) -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut page)
        .context("failed to write the manual page")?;
    render::stdout(&String::from_utf8_lossy(&page));
    Ok(ExitCode::SUCCESS)
}
