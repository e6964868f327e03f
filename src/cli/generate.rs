//! `stackwright generate`: write a stack directory from resources that exist in AWS.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use stackwright::engine::blocking;
use stackwright::generate;
use stackwright::render;
use stackwright::stack::names::check_stack_name;

/// Write a stack directory from resources built outside stackwright, to adopt them
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright generate stacks/shop --name shop --env production --region eu-west-1 \\\n      \
    sg-0a1b2c3d sg-4e5f6a7b i-0123456789abcdef0 i-0fedcba9876543210 shop-web shop-db \\\n      \
    \"www.shop.example CNAME\"\n\n\
    IDs: security groups (sg-…), instances (i-…), a load balancer's name, a database's\n\
    identifier, a key pair's name (write load_balancer:NAME, database:NAME or key_pair:NAME\n\
    when one name is several), a DNS record as \"<fqdn> <TYPE>\".\n\n\
    Writes DIR/stack.toml (relations between the listed resources as references),\n\
    DIR/env/ENV.toml (region and the [import] table), user data under DIR/files/, and a\n\
    database's master password as a [secrets] entry read from an environment variable.\n\
    A related resource that was not listed is named in a warning. Only reads are sent.\n\
    `stackwright plan DIR --env ENV` then shows imports only; `apply` adopts them.")]
pub struct GenerateArgs {
    /// The stack directory to write: must not exist or be empty (see --force)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The stack's name (`[stack] name`)
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The env the resources become (`env/<ENV>.toml`)
    #[arg(long, short, value_name = "ENV")]
    env: String,
    /// The region to read (default: the configured one, as `AWS_REGION` or the profile)
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Write into DIR even when it holds files, overwriting those generate writes
    #[arg(long)]
    force: bool,
    /// The resources to adopt
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
}

pub fn exec(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    check_stack_name(&args.name).map_err(|e| anyhow::anyhow!("--name `{}`: {e}", args.name))?;
    check_stack_name(&args.env).map_err(|e| anyhow::anyhow!("--env `{}`: {e}", args.env))?;
    generate::check_dir(&args.dir, args.force).map_err(anyhow::Error::msg)?;
    let generated = blocking::generate(&args.name, &args.env, args.region.as_deref(), &args.ids)?;
    for w in &generated.warnings {
        render::stderr(&format!("warning: {w}\n"));
    }
    generate::write_dir(&args.dir, &generated, args.force).map_err(anyhow::Error::msg)?;
    render::stdout(&render::summary::generated(
        &args.dir, &args.env, &generated,
    ));
    Ok(ExitCode::SUCCESS)
}
