//! `stackwright ls`: every stack and env the tags find in the account, no files needed.

use std::process::ExitCode;

use clap::Args;
use stackwright::engine::{self, inventory};
use stackwright::render;

/// List every stack and env in the account, found by their tags
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright ls\n  \
    stackwright ls --region us-east-1 --region ap-southeast-2 --json\n\n\
    Works from any directory: the account is the inventory. Per stack and env: its\n\
    resources (Route 53 records, which carry no tags, are not counted), the oldest one's\n\
    creation time, the earliest `stackwright:expires`, whether that has passed, and whether\n\
    a run holds its lock. A handful of calls per region, whatever the number of resources.")]
pub struct LsArgs {
    /// A region to list (repeat for more); without one, the configured region
    #[arg(long, value_name = "REGION")]
    region: Vec<String>,
    /// Print `{"stacks": [...]}` (schemas/ls.schema.json)
    #[arg(long)]
    json: bool,
    /// Print the AWS calls made per region to stderr
    #[arg(long)]
    stats: bool,
}

pub fn exec(args: LsArgs) -> anyhow::Result<ExitCode> {
    let runtime = engine::runtime()?;
    let listing = runtime.block_on(inventory::ls(&args.region))?;
    if args.json {
        render::stdout(&render::inventory::json(&listing.stacks));
    } else {
        render::stdout(&render::inventory::table(&listing.stacks));
    }
    if args.stats {
        render::stderr(&render::inventory::calls(&listing.calls));
    }
    Ok(ExitCode::SUCCESS)
}
