//! `destroy --expired`: every stack and env whose `stackwright:expires` has passed, found
//! by `ls`'s reads, torn down one after another as `destroy --stack NAME --env ENV` does
//! (each through the runner: its gates, its lock, its order). One that cannot go (its
//! lock held, a gate refusing, a step failing) is reported with the reason, and the rest
//! still go. `--dry-run` shows each teardown plan and changes nothing.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

use super::{Console, Direct, Engine, EngineError, Finish, Operation, RunOptions, tags};
use crate::apply::Report;
use crate::plan::Plan;
use crate::provider::aws::Aws;
use crate::provider::inventory::{Listed, list};

/// What became of one expired stack and env.
#[derive(Debug)]
pub enum Swept {
    /// `--dry-run`: what its teardown would do.
    WouldDestroy(Plan),
    /// Torn down, or tried: the report says what was done and what was not.
    Carried {
        plan: Plan,
        report: Report,
        succeeded: bool,
    },
    /// Not torn down, and why.
    Left(String),
}

/// Every expired stack and env in `regions` (none: the configured region), in turn.
pub async fn sweep(
    regions: &[String],
    dry_run: bool,
    options: &RunOptions,
    console: Arc<dyn Console>,
    cancel: watch::Receiver<bool>,
) -> Result<Vec<(Listed, Swept)>, EngineError> {
    let asked: Vec<Option<&str>> = if regions.is_empty() {
        vec![None]
    } else {
        regions.iter().map(|r| Some(r.as_str())).collect()
    };
    let mut out = Vec::new();
    for region in asked {
        let aws = Aws::connect_region(region).await?;
        let inventory = aws.inventory().await?;
        let expired = list(aws.region(), &inventory, SystemTime::now())
            .into_iter()
            .filter(|l| l.expired);
        for listed in expired {
            if *cancel.borrow() {
                out.push((listed, Swept::Left("interrupted before it started".into())));
                continue;
            }
            console.notice(&format!(
                "Stack `{}` env `{}` ({}) expired at {}:",
                listed.stack,
                listed.env,
                listed.region,
                listed.expires.as_deref().unwrap_or_default()
            ));
            let swept = match one(&listed, dry_run, options, &console, cancel.clone()).await {
                Ok(swept) => swept,
                Err(e) => Swept::Left(e.to_string()),
            };
            out.push((listed, swept));
        }
    }
    Ok(out)
}

async fn one(
    listed: &Listed,
    dry_run: bool,
    options: &RunOptions,
    console: &Arc<dyn Console>,
    cancel: watch::Receiver<bool>,
) -> Result<Swept, EngineError> {
    let (stack, graph) = tags::nothing_of(&listed.stack, &listed.env, Some(&listed.region))?;
    let mut direct = Direct::connect_by_tags(stack, graph).await?;
    if dry_run {
        let proposal = direct.teardown().await?;
        let plan = direct.plan_of(&proposal).clone();
        console.plan(&plan);
        return Ok(Swept::WouldDestroy(plan));
    }
    let options = RunOptions {
        dir: format!("--stack {}", listed.stack),
        ..options.clone()
    };
    Ok(
        match super::run(
            &mut direct,
            Operation::Destroy,
            None,
            &options,
            console.clone(),
            cancel,
        )
        .await?
        {
            Finish::NoChanges => Swept::Left("nothing of it was found any more".into()),
            Finish::Declined => Swept::Left("not confirmed".into()),
            Finish::Carried {
                plan,
                report,
                succeeded,
                ..
            } => Swept::Carried {
                plan,
                report,
                succeeded,
            },
        },
    )
}
