//! `stackwright apply` and `stackwright destroy`: plan, pass the gates, ask, then walk the
//! plan against AWS under the stack's lock.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use stackwright::apply::gates::{Consent, refusals};
use stackwright::apply::{self, Job};
use stackwright::graph::Graph;
use stackwright::plan::{self, Action, Plan};
use stackwright::provider::aws::Aws;
use stackwright::provider::aws::lock::{Holder, LockError};
use stackwright::provider::{LiveState, Provider, Scope, Secret};
use stackwright::render;
use stackwright::stack::Stack;
use tokio::sync::watch;

use super::StackArgs;
use super::plan::SavedPlan;

/// Make AWS match the stack: show the plan, ask, then create, change and destroy
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright apply stacks/paasmaker --env staging\n  \
    stackwright apply stacks/paasmaker --env staging --yes --allow-open     # in CI\n  \
    stackwright plan stacks/paasmaker --env production --out prod.plan\n  \
    stackwright apply prod.plan                                # exactly that plan\n\n\
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
}

/// Tear down everything the stack's tags find in AWS
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    stackwright destroy stacks/paasmaker --env review-42\n  \
    stackwright destroy stacks/paasmaker --env review-42 --yes --allow-data-loss\n\n\
    Resources are found by their tags, so this works from a fresh checkout. Databases\n\
    get a final snapshot unless the stack sets final_snapshot = false; prevent_destroy\n\
    and deletion protection refuse.")]
pub struct DestroyArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    run: RunArgs,
}

/// What apply and destroy share.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Do not ask for confirmation (required without a terminal)
    #[arg(long, short)]
    pub(super) yes: bool,
    /// Go ahead with changes that can lose data (destroying or replacing a database)
    #[arg(long)]
    pub(super) allow_data_loss: bool,
    /// How many changes may run at once
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    parallelism: u16,
    /// Wait this long for another run's lock (`30s`, `5m`) instead of failing at once
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    lock_timeout: Duration,
    /// Print the AWS calls made, by operation, on stderr
    #[arg(long)]
    pub(super) stats: bool,
    #[command(flatten)]
    pub(super) engine: super::EngineArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Apply,
    Destroy,
}

impl Mode {
    pub(super) fn verb(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Destroy => "destroy",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Mode::Apply => "Apply",
            Mode::Destroy => "Destroy",
        }
    }
}

pub fn exec_apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let cloudformation = args.run.engine.engine == super::Engine::Cloudformation;
    if args.target.is_file() {
        if args.env.is_some() {
            bail!("a saved plan knows its env: drop --env");
        }
        let text = std::fs::read_to_string(&args.target)
            .with_context(|| format!("failed to read `{}`", args.target.display()))?;
        let saved: SavedPlan = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a plan saved by `plan --out`",
                args.target.display()
            )
        })?;
        if saved.plan.format_version != plan::FORMAT_VERSION {
            bail!(
                "`{}` has plan format {}, this stackwright reads {}: plan again",
                args.target.display(),
                saved.plan.format_version,
                plan::FORMAT_VERSION
            );
        }
        let graph = Graph::build(&saved.stack)
            .map_err(|_| anyhow::anyhow!("the saved plan's stack has a dependency cycle"))?;
        // A saved plan knows its engine, as it knows its env.
        match (saved.plan.engine, cloudformation) {
            (plan::Engine::Cloudformation, _) => {
                return super::cloudformation::run(
                    Mode::Apply,
                    &saved.stack,
                    &graph,
                    Some(&saved),
                    &args.run,
                    args.allow_open,
                );
            }
            (plan::Engine::Direct, true) => {
                bail!(
                    "`{}` is a plan of the direct engine: drop --engine",
                    args.target.display()
                )
            }
            (plan::Engine::Direct, false) => {}
        }
        let target = Target {
            stack: saved.stack,
            graph,
            saved: Some(saved.plan),
            dir: "STACK".into(),
        };
        return run(Mode::Apply, target, &args.run, args.allow_open);
    }
    let stack_args = StackArgs {
        stack: args.target,
        env: args.env,
    };
    let Some((loaded, graph)) = super::load_and_graph(&stack_args) else {
        return Ok(ExitCode::FAILURE);
    };
    if cloudformation {
        return super::cloudformation::run(
            Mode::Apply,
            &loaded.stack,
            &graph,
            None,
            &args.run,
            args.allow_open,
        );
    }
    let target = Target {
        stack: loaded.stack,
        graph,
        saved: None,
        dir: stack_args.stack.display().to_string(),
    };
    run(Mode::Apply, target, &args.run, args.allow_open)
}

pub fn exec_destroy(args: DestroyArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, graph)) = super::load_and_graph(&args.stack) else {
        return Ok(ExitCode::FAILURE);
    };
    if args.run.engine.engine == super::Engine::Cloudformation {
        return super::cloudformation::run(
            Mode::Destroy,
            &loaded.stack,
            &graph,
            None,
            &args.run,
            false,
        );
    }
    let target = Target {
        stack: loaded.stack,
        graph,
        saved: None,
        dir: args.stack.stack.display().to_string(),
    };
    run(Mode::Destroy, target, &args.run, false)
}

/// What to apply: a stack (and its graph), or a saved plan of one.
struct Target {
    stack: Stack,
    graph: Graph,
    saved: Option<Plan>,
    /// The stack directory as given, for hints.
    dir: String,
}

fn run(mode: Mode, target: Target, args: &RunArgs, allow_open: bool) -> anyhow::Result<ExitCode> {
    let Target {
        stack,
        graph,
        saved,
        dir,
    } = target;
    let scope = super::plan::scope(&stack, false)?;
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let cancel = on_ctrl_c();
        let aws = Arc::new(Aws::connect(&stack).await.map_err(super::provider_error)?);
        let run_id = run_id();
        let me = Holder::me(&run_id);
        let warn = |m: &str| render::stderr(&format!("warning: {m}\n"));
        let lock = match aws.lock(&scope, &me, args.lock_timeout, &warn).await {
            Ok(lock) => lock,
            Err(LockError::Held { holder, .. }) => {
                bail!(
                    "stack `{}` env `{}` is locked by {holder}: another apply or destroy is running\n\n\
                     hint: wait for it with --lock-timeout 10m; if that run is gone for good, \
                     `stackwright unlock {} --env {}`",
                    scope.stack,
                    scope.env,
                    dir,
                    scope.env
                );
            }
            Err(LockError::Provider(e)) => return Err(super::provider_error(e)),
        };
        let session = Session {
            mode,
            aws: aws.clone(),
            scope: scope.clone(),
            stack,
            graph,
            run_id,
            allow_open,
            cancel,
        };
        let result = session.go(saved, args).await;
        // Released whatever happened; a failure to release is said, not hidden.
        if let Err(e) = aws.unlock(&scope, lock).await {
            render::stderr(&format!(
                "warning: could not release the lock: {e}\n\
                 hint: `stackwright unlock {} --env {}`\n",
                dir,
                scope.env
            ));
        }
        if args.stats {
            render::stderr(&render::summary::calls(&aws.stats().by_operation()));
        }
        result
    });
    // Not waiting for a question nobody answered (a Ctrl-C at the prompt).
    runtime.shutdown_background();
    result
}

/// The first Ctrl-C (SIGINT) cancels: nothing new starts, what is in flight finishes, the
/// lock is released. The second exits at once. Installed before the lock is taken, so
/// an interrupt at any point lets go of it.
pub(super) fn on_ctrl_c() -> watch::Receiver<bool> {
    let (cancel_tx, cancel) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            render::stderr(
                "\ninterrupted: starting nothing new, letting the changes in flight finish \
                 (Ctrl-C again to exit at once)\n",
            );
            let _ = cancel_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                render::stderr("exiting at once: the next plan shows what is left\n");
                std::process::exit(130);
            }
        }
    });
    cancel
}

/// Unique to this run: the time and the process.
pub(super) fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos:x}-{:x}", std::process::id())
}

struct Session {
    mode: Mode,
    aws: Arc<Aws>,
    scope: Scope,
    stack: Stack,
    graph: Graph,
    run_id: String,
    allow_open: bool,
    /// Turns true at the first Ctrl-C.
    cancel: watch::Receiver<bool>,
}

impl Session {
    async fn go(self, saved: Option<Plan>, args: &RunArgs) -> anyhow::Result<ExitCode> {
        let live = self
            .aws
            .refresh(&self.scope)
            .await
            .map_err(super::provider_error)?;
        let empty_graph;
        let (plan, graph) = match (self.mode, saved) {
            (Mode::Apply, Some(saved)) => {
                still_current(&saved, &live)?;
                (saved, &self.graph)
            }
            (Mode::Apply, None) => (plan::plan(&self.stack, &self.graph, &live), &self.graph),
            (Mode::Destroy, _) => {
                let nothing = Stack {
                    resources: BTreeMap::new(),
                    ..self.stack.clone()
                };
                empty_graph = Graph::build(&nothing)
                    .map_err(|_| anyhow::anyhow!("an empty stack has no cycle"))?;
                (plan::plan(&nothing, &empty_graph, &live), &empty_graph)
            }
        };
        render::stdout(&render::plan::render(&plan, render::stdout_colour()));
        if !plan.has_changes() {
            return Ok(ExitCode::SUCCESS);
        }
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let consent = Consent {
            interactive: interactive && !args.yes,
            allow_data_loss: args.allow_data_loss,
            allow_open: self.allow_open,
        };
        let refused = refusals(&plan, &self.stack, &live, consent);
        if !refused.is_empty() {
            let list: Vec<String> = refused.iter().map(|r| format!("  - {r}\n")).collect();
            render::stderr(&format!(
                "error: refusing to {}; nothing was changed:\n{}",
                self.verb(),
                list.concat()
            ));
            return Ok(ExitCode::FAILURE);
        }
        let secrets = self.secrets(&plan)?;
        if !args.yes {
            if !interactive {
                bail!(
                    "refusing to {} without a terminal to confirm on; nothing was changed\n\n\
                     hint: pass --yes to {} without confirmation (as in CI)",
                    self.verb(),
                    self.verb()
                );
            }
            let question = format!(
                "\nDo you want to {} stack `{}` (env `{}`) as above? Only `yes` is accepted: ",
                self.verb(),
                self.scope.stack,
                self.scope.env
            );
            if !confirm(&question, self.cancel.clone()).await? {
                render::stderr(&format!(
                    "{} cancelled; nothing was changed.\n",
                    self.title()
                ));
                return Ok(ExitCode::FAILURE);
            }
        }
        if *self.cancel.borrow() {
            render::stderr(&format!(
                "{} interrupted; nothing was changed.\n",
                self.title()
            ));
            return Ok(ExitCode::FAILURE);
        }
        let secret_values: Vec<String> = secrets.values().map(|s| s.expose().to_string()).collect();
        let reporter = Arc::new(Redacting {
            inner: render::progress::reporter(),
            secrets: secret_values.clone(),
        });
        let job = Job {
            stack: self.stack.clone(),
            plan: plan.clone(),
            live,
            secrets,
            run: self.run_id.clone(),
            parallelism: usize::from(args.parallelism),
        };
        let applied = apply::execute(
            self.aws.clone(),
            self.scope.clone(),
            job,
            graph,
            reporter,
            self.cancel.clone(),
        )
        .await;
        let summary = render::summary::applied(self.title(), &plan, &applied.report);
        render::stdout(&redact(&summary, &secret_values));
        if !applied.report.succeeded() {
            return Ok(ExitCode::FAILURE);
        }
        if self.mode == Mode::Apply {
            let outputs = plan::outputs(&self.stack, &applied.known);
            render::stdout(&render::summary::outputs(&outputs));
        }
        Ok(ExitCode::SUCCESS)
    }

    fn verb(&self) -> &'static str {
        self.mode.verb()
    }

    fn title(&self) -> &'static str {
        self.mode.title()
    }

    /// The secrets the plan sends to AWS, read from their environment variables.
    fn secrets(&self, plan: &Plan) -> anyhow::Result<BTreeMap<String, Secret>> {
        let mut out = BTreeMap::new();
        for name in apply::secrets_needed(plan, &self.stack) {
            let var = self.stack.secrets.get(&name).cloned().unwrap_or_default();
            match std::env::var(&var) {
                Ok(v) if !v.is_empty() => {
                    out.insert(name, Secret::new(v));
                }
                _ => bail!(
                    "secret `{name}` is needed by this plan: set the environment variable `{var}`; \
                     nothing was changed"
                ),
            }
        }
        Ok(out)
    }
}

/// A saved plan applies only to the live state it was made from.
fn still_current(plan: &Plan, live: &LiveState) -> anyhow::Result<()> {
    let mut moved = Vec::new();
    for change in &plan.changes {
        let now = live.resources.get(&change.address);
        let same = match (change.action, now) {
            (Action::Create, None) => true,
            (Action::Create, Some(_)) => false,
            (_, Some(now)) => {
                change.fingerprint.as_deref() == Some(plan::fingerprint(now).as_str())
            }
            (_, None) => false,
        };
        if !same {
            moved.push(format!("`{}`", change.address));
        }
    }
    if moved.is_empty() {
        return Ok(());
    }
    bail!(
        "the live state of {} has moved since this plan was made; nothing was changed\n\n\
         hint: plan again",
        moved.join(", ")
    )
}

/// Ask on the terminal; a Ctrl-C while asking is a no.
pub(super) async fn confirm(
    question: &str,
    mut cancel: watch::Receiver<bool>,
) -> anyhow::Result<bool> {
    render::stderr(question);
    let read = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map(|_| answer)
    });
    tokio::select! {
        answer = read => {
            let answer = answer
                .context("failed to read the answer")?
                .context("failed to read the answer")?;
            Ok(answer.trim() == "yes")
        }
        _ = cancel.wait_for(|c| *c) => Ok(false),
    }
}

/// Secret values never reach the terminal, even inside an error AWS sent back.
pub(super) fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "(sensitive)");
    }
    out
}

pub(super) struct Redacting {
    pub(super) inner: Arc<dyn apply::Reporter>,
    pub(super) secrets: Vec<String>,
}

impl apply::Reporter for Redacting {
    fn started(&self, step: &apply::Step) {
        self.inner.started(step);
    }

    fn progress(&self, step: &apply::Step, message: &str) {
        self.inner.progress(step, &redact(message, &self.secrets));
    }

    fn finished(&self, step: &apply::Step, outcome: &apply::Outcome, elapsed: Duration) {
        let outcome = match outcome {
            apply::Outcome::Failed(m) => apply::Outcome::Failed(redact(m, &self.secrets)),
            other => other.clone(),
        };
        self.inner.finished(step, &outcome, elapsed);
    }
}
