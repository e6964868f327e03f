//! `stackwright apply` and `stackwright destroy`: plan, pass the gates, ask, then walk the
//! plan against AWS under the stack's lock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use stackwright::engine::{self, EngineKind, Finish, Operation, RunOptions, blocking};
use stackwright::planfile;
use stackwright::render;
use stackwright::render::console::Terminal;

use super::StackArgs;

/// Make AWS match the stack: show the plan, ask, then create, change and destroy
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright apply stacks/paasmaker --env staging\n  \
    stackwright apply stacks/paasmaker --env staging --yes --allow-open     # in CI\n  \
    stackwright plan stacks/paasmaker --env production --out prod.plan\n  \
    stackwright apply prod.plan                                # exactly that plan\n  \
    DB_PASSWORD=new stackwright apply stacks/paasmaker --env staging --rotate-secret db_password\n\n\
    Without a terminal, --yes is required. Changes that can lose data need\n\
    --allow-data-loss; changes that open access need --allow-open without a terminal.\n\
    One apply or destroy of a stack and env runs at a time: see `stackwright unlock`.")]
pub struct ApplyArgs {
    /// The stack directory, or a plan saved by `plan --out` (applied exactly, and refused
    /// if the live state it was made from has moved)
    #[arg(value_name = "STACK|PLAN")]
    target: PathBuf,
    /// The env: `env/<ENV>.toml` in the stack directory (not with a saved plan)
    #[arg(long, short, value_name = "ENV")]
    env: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    /// Go ahead with changes that open access (security-sensitive) without a terminal
    #[arg(long)]
    allow_open: bool,
    /// Rotate secret NAME (repeatable): send its current value to every resource using it
    /// (a database's master password in place; instances replaced, as for new user data)
    #[arg(long = "rotate-secret", value_name = "NAME")]
    rotate_secret: Vec<String>,
    /// Apply `[import]` entries whose resource would have to be replaced to match the
    /// stack (refused otherwise): the resource made by hand is destroyed and made anew
    #[arg(long)]
    allow_replace_import: bool,
}

/// Tear down everything the stack's tags find in AWS
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright destroy stacks/paasmaker --env review-42\n  \
    stackwright destroy stacks/paasmaker --env review-42 --yes --allow-data-loss\n  \
    stackwright destroy --stack paasmaker --env review-42 --region ap-southeast-2   # no files\n\n\
    Resources are found by their tags, so this works from a fresh checkout, and with\n\
    --stack from any directory. Databases get a final snapshot unless the stack sets\n\
    final_snapshot = false (kept in a tag for --stack); prevent_destroy and deletion\n\
    protection refuse.")]
pub struct DestroyArgs {
    /// The stack directory (holding `stack.toml` and `env/<env>.toml`); or `--stack NAME`
    #[arg(value_name = "STACK", required_unless_present_any = ["stack_name", "expired"])]
    dir: Option<PathBuf>,
    /// The env: `env/<ENV>.toml` in the stack directory (required with --stack)
    #[arg(long, short, value_name = "ENV")]
    env: Option<String>,
    /// Tear down stack NAME by its tags alone, without its files (needs --env)
    #[arg(
        long = "stack",
        value_name = "NAME",
        conflicts_with = "dir",
        requires = "env"
    )]
    stack_name: Option<String>,
    /// Tear down, one after another, every stack and env whose `expires` has passed
    #[arg(long, conflicts_with_all = ["dir", "stack_name", "env"])]
    expired: bool,
    /// With --expired: show what would be torn down, and change nothing
    #[arg(long, requires = "expired")]
    dry_run: bool,
    /// With --stack or --expired: the region (else the configured one); repeatable with
    /// --expired
    #[arg(long, value_name = "REGION")]
    region: Vec<String>,
    #[command(flatten)]
    run: RunArgs,
}

/// What apply and destroy share.
#[derive(Debug, Args)]
struct RunArgs {
    /// Do not ask for confirmation (required without a terminal)
    #[arg(long, short)]
    yes: bool,
    /// Go ahead with changes that can lose data (destroying or replacing a database)
    #[arg(long)]
    allow_data_loss: bool,
    /// How many changes may run at once
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    parallelism: u16,
    /// Wait this long for another run's lock (`30s`, `5m`) instead of failing at once
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    lock_timeout: Duration,
    /// Print the AWS calls made, by operation, on stderr
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    engine: super::EngineArg,
}

impl RunArgs {
    fn options(&self, allow_open: bool, dir: String) -> RunOptions {
        RunOptions {
            yes: self.yes,
            allow_data_loss: self.allow_data_loss,
            allow_open,
            parallelism: usize::from(self.parallelism),
            lock_timeout: self.lock_timeout,
            dir,
            rotate: Default::default(),
            allow_replace_import: false,
        }
    }
}

pub fn exec_apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let mut kind = args.run.engine.kind();
    let saved = if planfile::is_plan_file(&args.target) {
        if args.env.is_some() {
            bail!("a saved plan knows its env: drop --env");
        }
        if !args.rotate_secret.is_empty() {
            bail!(
                "--rotate-secret is planned when applying a stack, not kept in a saved plan: \
                 `stackwright apply STACK --env ENV --rotate-secret NAME` (it shows the plan \
                 and asks)"
            );
        }
        let saved = planfile::read(&args.target)?;
        kind = blocking::engine_of(&saved, kind)?;
        Some(saved)
    } else {
        None
    };
    // A saved plan's stack is read again from its directory: the file is not trusted with it.
    let (loaded, graph, dir) = match &saved {
        Some(saved) => {
            let checked = engine::reload(saved)?;
            (checked.loaded, checked.graph, "STACK".to_string())
        }
        None => {
            let stack_args = StackArgs {
                stack: args.target.clone(),
                env: args.env.clone(),
            };
            let Some((loaded, graph)) = super::load_and_graph(&stack_args) else {
                return Ok(ExitCode::FAILURE);
            };
            (loaded, graph, args.target.display().to_string())
        }
    };
    let mut options = args.run.options(args.allow_open, dir);
    options.rotate = args.rotate_secret.into_iter().collect();
    options.allow_replace_import = args.allow_replace_import;
    let ran = blocking::run(
        Operation::Apply,
        kind,
        (&loaded.stack, &graph),
        saved.as_ref(),
        &options,
        Arc::new(Terminal),
    )?;
    finished(Operation::Apply, ran, args.run.stats)
}

pub fn exec_destroy(args: DestroyArgs) -> anyhow::Result<ExitCode> {
    let direct_only = |what: &str| -> anyhow::Result<()> {
        if args.run.engine.kind() != EngineKind::Direct {
            bail!("{what} tears down what the direct engine's tags find: drop --engine");
        }
        Ok(())
    };
    if args.expired {
        direct_only("--expired")?;
        let options = args.run.options(false, "--stack NAME".into());
        let swept = blocking::sweep(&args.region, args.dry_run, &options, Arc::new(Terminal))?;
        // Exit 1 when a stack was left, or not all of it went.
        let left = render::summary::sweep_report(&swept, args.dry_run);
        return Ok(ExitCode::from(u8::from(left)));
    }
    let Some(dir) = args.dir else {
        direct_only("--stack")?;
        if args.region.len() > 1 {
            bail!("--stack tears down one stack and env: give one --region");
        }
        let name = args.stack_name.unwrap_or_default();
        let options = args.run.options(false, format!("--stack {name}"));
        let ran = blocking::destroy_by_tags(
            &name,
            args.env.as_deref().unwrap_or_default(),
            args.region.first().map(String::as_str),
            &options,
            Arc::new(Terminal),
        )?;
        return finished(Operation::Destroy, ran, args.run.stats);
    };
    if !args.region.is_empty() {
        bail!("--region goes with --stack or --expired; a stack directory says its region");
    }
    let stack_args = StackArgs {
        stack: dir,
        env: args.env,
    };
    let Some((loaded, graph)) = super::load_and_graph(&stack_args) else {
        return Ok(ExitCode::FAILURE);
    };
    let options = args
        .run
        .options(false, stack_args.stack.display().to_string());
    let ran = blocking::run(
        Operation::Destroy,
        args.run.engine.kind(),
        (&loaded.stack, &graph),
        None,
        &options,
        Arc::new(Terminal),
    )?;
    finished(Operation::Destroy, ran, args.run.stats)
}

/// Print the calls made (`--stats`) and how the run finished; its exit code.
fn finished(
    operation: Operation,
    (finish, calls): (Result<Finish, engine::EngineError>, blocking::Calls),
    stats: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(calls) = calls.filter(|_| stats) {
        render::stderr(&render::summary::calls(&calls));
    }
    let succeeded = render::summary::finish(operation.title(), &finish?);
    Ok(ExitCode::from(u8::from(!succeeded)))
}
