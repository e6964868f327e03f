//! `stackwright apply` and `stackwright destroy`: plan, pass the gates, ask, then walk the
//! plan against AWS under the stack's lock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use stackwright::engine::{self, Console, Engine, EngineKind, Finish, Operation, RunOptions};
use stackwright::graph::Graph;
use stackwright::plan::PlannedBy;
use stackwright::planfile::{self, SavedPlan};
use stackwright::render;
use stackwright::render::console::Terminal;
use stackwright::stack::Stack;
use stackwright::with_engine;

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
    let kind = args.run.engine.kind();
    if planfile::is_plan_file(&args.target) {
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
        // The stack is read again from its directory: the file is not trusted with it.
        let checked = engine::reload(&saved)?;
        // A saved plan knows its engine, as it knows its env.
        let kind = match (saved.plan.engine, kind) {
            (PlannedBy::Cloudformation, _) => EngineKind::Cloudformation,
            (PlannedBy::Direct, EngineKind::Cloudformation) => bail!(
                "`{}` is a plan of the direct engine: drop --engine",
                args.target.display()
            ),
            (PlannedBy::Direct, EngineKind::Direct) => EngineKind::Direct,
        };
        let mut options = args.run.options(args.allow_open, "STACK".into());
        options.allow_replace_import = args.allow_replace_import;
        let target = Target {
            stack: &checked.loaded.stack,
            graph: &checked.graph,
            saved: Some(&saved),
        };
        return run(Operation::Apply, kind, target, &options, args.run.stats);
    }
    let stack_args = StackArgs {
        stack: args.target,
        env: args.env,
    };
    let Some((loaded, graph)) = super::load_and_graph(&stack_args) else {
        return Ok(ExitCode::FAILURE);
    };
    let mut options = args
        .run
        .options(args.allow_open, stack_args.stack.display().to_string());
    options.rotate = args.rotate_secret.into_iter().collect();
    options.allow_replace_import = args.allow_replace_import;
    let target = Target {
        stack: &loaded.stack,
        graph: &graph,
        saved: None,
    };
    run(Operation::Apply, kind, target, &options, args.run.stats)
}

pub fn exec_destroy(args: DestroyArgs) -> anyhow::Result<ExitCode> {
    if args.expired {
        return destroy_expired(&args.region, args.dry_run, &args.run);
    }
    let Some(dir) = args.dir else {
        if args.region.len() > 1 {
            bail!("--stack tears down one stack and env: give one --region");
        }
        let region = args.region.into_iter().next();
        return destroy_by_tags(
            args.stack_name.unwrap_or_default(),
            args.env,
            region,
            &args.run,
        );
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
    let target = Target {
        stack: &loaded.stack,
        graph: &graph,
        saved: None,
    };
    run(
        Operation::Destroy,
        args.run.engine.kind(),
        target,
        &options,
        args.run.stats,
    )
}

/// `destroy --stack NAME --env ENV`: the direct engine's teardown of what the tags find.
fn destroy_by_tags(
    name: String,
    env: Option<String>,
    region: Option<String>,
    run_args: &RunArgs,
) -> anyhow::Result<ExitCode> {
    if run_args.engine.kind() != EngineKind::Direct {
        bail!(
            "--stack tears down what the direct engine's tags find; a CloudFormation stack \
             is deleted from its files: `stackwright destroy STACK --env ENV --engine \
             cloudformation`"
        );
    }
    let env = env.unwrap_or_default();
    let (stack, graph) = engine::tags::nothing_of(&name, &env, region.as_deref())?;
    let options = run_args.options(false, format!("--stack {name}"));
    let console: Arc<dyn Console> = Arc::new(Terminal);
    let runtime = engine::runtime()?;
    let finish = runtime.block_on(async {
        let cancel = engine::on_ctrl_c(console.clone());
        let mut direct = engine::Direct::connect_by_tags(stack, graph).await?;
        let finish = engine::run(
            &mut direct,
            Operation::Destroy,
            None,
            &options,
            console.clone(),
            cancel,
        )
        .await;
        if run_args.stats {
            render::stderr(&render::summary::calls(&direct.calls()));
        }
        finish
    });
    runtime.shutdown_background();
    Ok(exit(Operation::Destroy, finish?))
}

/// `destroy --expired [--dry-run]`: every expired stack and env in turn; exit 1 when one
/// was left (or not all of it went).
fn destroy_expired(
    regions: &[String],
    dry_run: bool,
    run_args: &RunArgs,
) -> anyhow::Result<ExitCode> {
    if run_args.engine.kind() != EngineKind::Direct {
        bail!("--expired tears down what the direct engine's tags find: drop --engine");
    }
    let options = run_args.options(false, "--stack NAME".into());
    let console: Arc<dyn Console> = Arc::new(Terminal);
    let runtime = engine::runtime()?;
    let swept = runtime.block_on(async {
        let cancel = engine::on_ctrl_c(console.clone());
        engine::sweep::sweep(regions, dry_run, &options, console.clone(), cancel).await
    });
    runtime.shutdown_background();
    let swept = swept?;
    let mut left = Vec::new();
    for (listed, outcome) in &swept {
        let which = format!(
            "stack `{}` env `{}` ({})",
            listed.stack, listed.env, listed.region
        );
        match outcome {
            engine::sweep::Swept::WouldDestroy(_) => {}
            engine::sweep::Swept::Carried {
                plan,
                report,
                succeeded,
            } => {
                render::stdout(&render::summary::applied("Destroy", plan, report));
                if !succeeded {
                    left.push(format!("{which}: not all of it was destroyed (see above)"));
                }
            }
            engine::sweep::Swept::Left(why) => left.push(format!("{which}: {why}")),
        }
    }
    render::stdout(&render::summary::swept(&swept, dry_run, &left));
    Ok(if left.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What to apply: a stack and its graph, and the saved plan of it, if any.
struct Target<'a> {
    stack: &'a Stack,
    graph: &'a Graph,
    saved: Option<&'a SavedPlan>,
}

fn run(
    operation: Operation,
    kind: EngineKind,
    target: Target<'_>,
    options: &RunOptions,
    stats: bool,
) -> anyhow::Result<ExitCode> {
    let console: Arc<dyn Console> = Arc::new(Terminal);
    // A plan saved with --deep is checked against live state read the same way.
    let deep = target.saved.is_some_and(|s| s.deep);
    let runtime = engine::runtime()?;
    let finish = runtime.block_on(async {
        let cancel = engine::on_ctrl_c(console.clone());
        let mut connected =
            engine::connect(kind, target.stack, target.graph, deep, console.clone()).await?;
        with_engine!(&mut connected, e => {
            let finish =
                engine::run(e, operation, target.saved, options, console.clone(), cancel).await;
            if stats {
                render::stderr(&render::summary::calls(&e.calls()));
            }
            finish
        })
    });
    // Not waiting for a question nobody answered (a Ctrl-C at the prompt).
    runtime.shutdown_background();
    Ok(exit(operation, finish?))
}

/// Render how a run finished; its exit code.
fn exit(operation: Operation, finish: Finish) -> ExitCode {
    match finish {
        Finish::NoChanges => ExitCode::SUCCESS,
        Finish::Declined => ExitCode::FAILURE,
        Finish::Carried {
            plan,
            report,
            outputs,
            succeeded,
        } => {
            render::stdout(&render::summary::applied(operation.title(), &plan, &report));
            if let Some(outputs) = outputs {
                render::stdout(&render::summary::outputs(&outputs));
            }
            if succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
