//! The operations for a synchronous caller (the command line): each owns a runtime,
//! listens for Ctrl-C where a run must stop cleanly, and hands back the AWS calls it made
//! with its result, for `--stats`. The engine still prints nothing of its own.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use super::sweep::{self, Swept};
use super::{
    Console, Engine, EngineError, EngineKind, Finish, Operation, PlanOptions, Planned, RunOptions,
};
use crate::graph::Graph;
use crate::plan::PlannedBy;
use crate::planfile::SavedPlan;
use crate::provider::inventory::Listed;
use crate::stack::Stack;
use crate::with_engine;

/// Every AWS call a run made, by operation (`None` when it never connected).
pub type Calls = Option<BTreeMap<String, u64>>;

/// Run `work` to its end on a runtime of its own, without waiting for what it left
/// running (a question nobody answered after a Ctrl-C).
pub fn block_on<T>(work: impl Future<Output = T>) -> Result<T, EngineError> {
    let runtime = super::runtime()?;
    let out = runtime.block_on(work);
    runtime.shutdown_background();
    Ok(out)
}

/// `plan`: a CloudFormation plan withdraws its change set on a Ctrl-C; a direct plan only
/// reads, and stops at once.
pub fn plan(
    kind: EngineKind,
    stack: &Stack,
    graph: &Graph,
    options: &PlanOptions,
    console: Arc<dyn Console>,
) -> Result<(Result<Planned, EngineError>, Calls), EngineError> {
    block_on(async {
        let (_keep, mut cancel) = watch::channel(false);
        if kind == EngineKind::Cloudformation {
            cancel = super::on_ctrl_c(console.clone());
        }
        let mut connected =
            match super::connect(kind, stack, graph, options.deep, console.clone()).await {
                Ok(c) => c,
                Err(e) => return (Err(e), None),
            };
        with_engine!(&mut connected, e => {
            let planned = super::plan(e, options, console.as_ref(), cancel).await;
            (planned, Some(e.calls()))
        })
    })
}

/// `apply` or `destroy` of a stack, or of the saved plan of it.
pub fn run(
    operation: Operation,
    kind: EngineKind,
    (stack, graph): (&Stack, &Graph),
    saved: Option<&SavedPlan>,
    options: &RunOptions,
    console: Arc<dyn Console>,
) -> Result<(Result<Finish, EngineError>, Calls), EngineError> {
    // A plan saved with --deep is checked against live state read the same way.
    let deep = saved.is_some_and(|s| s.deep);
    block_on(async {
        let cancel = super::on_ctrl_c(console.clone());
        let mut connected = match super::connect(kind, stack, graph, deep, console.clone()).await {
            Ok(c) => c,
            Err(e) => return (Err(e), None),
        };
        with_engine!(&mut connected, e => {
            let finish = super::run(e, operation, saved, options, console.clone(), cancel).await;
            (finish, Some(e.calls()))
        })
    })
}

/// `destroy --stack NAME --env ENV`: the direct engine's teardown of what the tags find.
pub fn destroy_by_tags(
    name: &str,
    env: &str,
    region: Option<&str>,
    options: &RunOptions,
    console: Arc<dyn Console>,
) -> Result<(Result<Finish, EngineError>, Calls), EngineError> {
    let (stack, graph) = super::tags::nothing_of(name, env, region)?;
    block_on(async {
        let cancel = super::on_ctrl_c(console.clone());
        let mut direct = match super::Direct::connect_by_tags(stack, graph).await {
            Ok(d) => d,
            Err(e) => return (Err(e), None),
        };
        let finish = super::run(
            &mut direct,
            Operation::Destroy,
            None,
            options,
            console,
            cancel,
        )
        .await;
        (finish, Some(direct.calls()))
    })
}

/// `destroy --expired [--dry-run]`: every expired stack and env in turn.
pub fn sweep(
    regions: &[String],
    dry_run: bool,
    options: &RunOptions,
    console: Arc<dyn Console>,
) -> Result<Vec<(Listed, Swept)>, EngineError> {
    block_on(async {
        let cancel = super::on_ctrl_c(console.clone());
        sweep::sweep(regions, dry_run, options, console, cancel).await
    })?
}

/// The engine that applies a saved plan: the one that made it. A direct plan asked of the
/// CloudFormation engine is refused.
pub fn engine_of(saved: &SavedPlan, asked: EngineKind) -> Result<EngineKind, EngineError> {
    match (saved.plan.engine, asked) {
        (PlannedBy::Cloudformation, _) => Ok(EngineKind::Cloudformation),
        (PlannedBy::Direct, EngineKind::Cloudformation) => Err(EngineError::Message(
            "this is a plan of the direct engine: drop --engine".into(),
        )),
        (PlannedBy::Direct, EngineKind::Direct) => Ok(EngineKind::Direct),
    }
}

/// `output`: the stack's outputs, from what is there now (`None`: its resource is gone).
pub fn outputs(
    kind: EngineKind,
    stack: &Stack,
    graph: &Graph,
    console: Arc<dyn Console>,
) -> Result<BTreeMap<String, Option<String>>, EngineError> {
    block_on(async {
        let mut connected = super::connect(kind, stack, graph, false, console).await?;
        with_engine!(&mut connected, e => super::outputs(e).await)
    })?
}

/// `unlock`: break the stack's lock (one a process on this machine still holds only with
/// `force`); who held it, if anyone.
pub fn unlock(stack: &Stack, force: bool) -> Result<Option<String>, EngineError> {
    let scope = super::secrets::scope(stack, false, &super::secrets::process_env())?;
    block_on(async {
        let aws = crate::provider::aws::Aws::connect(stack).await?;
        let holder = aws.break_lock(&scope, force).await.map_err(|e| {
            EngineError::Message(match e.hint() {
                Some(hint) => format!("{e}\n\nhint: {hint}"),
                None => e.to_string(),
            })
        })?;
        Ok(holder.map(|h| h.to_string()))
    })?
}

/// `generate`: read the resources `ids` name and write them as stack `name` env `env`
/// (in memory). The region, if not given, is the one configured. Every reason it cannot
/// is in the error, one per line.
pub fn generate(
    name: &str,
    env: &str,
    region: Option<&str>,
    ids: &[String],
) -> Result<crate::generate::Generated, EngineError> {
    use crate::generate::{self, Request};
    use crate::provider::aws::Aws;
    block_on(async {
        let region = match region {
            Some(r) => r.to_string(),
            None => Aws::configured_region().await.ok_or_else(|| {
                EngineError::Message(
                    "no region is configured: pass --region (or set AWS_REGION)".into(),
                )
            })?,
        };
        let request = Request {
            name: name.to_string(),
            env: env.to_string(),
            region,
            ids: ids.to_vec(),
        };
        let aws = Aws::connect(&generate::target(&request)).await?;
        generate::generate(&aws, &request)
            .await
            .map_err(|errors| EngineError::Message(errors.join("\nerror: ")))
    })?
}
