//! `restore_from_env`: a database the plan creates starts from another env's data.
//!
//! 1. At plan time, for each database the plan creates whose stack says
//!    `restore_from_env = "<env>"`, the provider finds the newest available snapshot of the
//!    same stack's database at the same address in that env (final, manual or automated).
//!    The plan's change names it (`restored from <id> (env <env>)`); none found is an
//!    error naming the env, before anything is sent.
//! 2. A saved plan is applied with the snapshot it names, not a newer one: before anything
//!    is changed, that snapshot must still be there.
//! 3. A restore is two steps in AWS (the restore, then the stack's password and backups,
//!    which a restore cannot take). A run killed in between leaves the database with the
//!    source env's password, marked `stackwright:restoring`: the plan warns of it, and
//!    `apply --rotate-secret` sets the stack's password and clears the mark.
//!
//! Only creates restore. A database that exists is never replaced or touched because the
//! stack asks for a restore: the setting is not an attribute, so adding it to a running
//! database plans nothing.

use super::EngineError;
use crate::plan::{Action, Plan, Restore};
use crate::provider::{LiveState, Provider, Scope, SnapshotSource};
use crate::stack::model::Spec;
use crate::stack::{Kind, Stack, names};

/// The env a database the plan creates is to be restored from, and whose snapshots to
/// look for.
fn sources(stack: &Stack, plan: &Plan) -> Vec<(usize, SnapshotSource, String)> {
    plan.changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action == Action::Create && c.address.kind == Kind::Database)
        .filter_map(|(n, c)| {
            let resource = stack.resource(&c.address)?;
            let Spec::Database(d) = &resource.spec else {
                return None;
            };
            let env = d.restore_from_env.clone()?;
            // With the default name, the database of that env is called as this one
            // would be there; with an explicit `name`, only its tags tell.
            let default = |env: &str| {
                names::default_name(Kind::Database, &stack.name, env, &c.address.name, None)
            };
            let identifier = (resource.physical_name == default(&stack.env)).then(|| default(&env));
            let source = SnapshotSource {
                address: c.address.clone(),
                env,
                identifier,
            };
            Some((n, source, d.engine.clone()))
        })
        .collect()
}

/// Name, in `plan`, the snapshot each database it creates with `restore_from_env` starts
/// from; refuse (nothing sent) when there is none, or when it is another engine's data.
pub async fn find<P: Provider>(
    provider: &P,
    scope: &Scope,
    stack: &Stack,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    let mut missing = Vec::new();
    for (n, source, engine) in sources(stack, plan) {
        match provider.newest_snapshot(scope, &source).await? {
            Some(s) if s.engine != engine => missing.push(format!(
                "`{}`: the newest snapshot of env `{}`, `{}`, is of engine `{}`, not `{engine}`",
                source.address, source.env, s.id, s.engine
            )),
            Some(s) => {
                plan.changes[n].restored_from = Some(Restore {
                    snapshot: s.id,
                    env: source.env,
                });
            }
            None => missing.push(format!(
                "`{}`: no available snapshot of stack `{}` env `{}`'s `{}` was found",
                source.address, stack.name, source.env, source.address
            )),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(EngineError::Message(format!(
        "cannot restore from another env; nothing was sent to AWS:\n{}\n\n\
         hint: apply that env (or snapshot its database) first, or take `restore_from_env` \
         out to start empty",
        missing
            .iter()
            .map(|m| format!("  - {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    )))
}

/// A saved plan restores from the snapshots it names: each must still be available.
pub async fn still_there<P: Provider>(
    provider: &P,
    scope: &Scope,
    plan: &Plan,
) -> Result<(), EngineError> {
    let mut gone = Vec::new();
    for change in &plan.changes {
        let Some(r) = &change.restored_from else {
            continue;
        };
        if !provider.snapshot_available(scope, &r.snapshot).await? {
            gone.push(format!(
                "  - `{}`: snapshot `{}` (env `{}`) is no longer available",
                change.address, r.snapshot, r.env
            ));
        }
    }
    if gone.is_empty() {
        return Ok(());
    }
    Err(EngineError::Message(format!(
        "the saved plan restores from snapshots that are gone; nothing was changed:\n{}\n\n\
         hint: plan again",
        gone.join("\n")
    )))
}

/// Keep the snapshots `from` named on the same creates of `to` (a plan made again from
/// `stack`), so a run restores from what was shown; only where `stack` still restores
/// that database from that env, so a plan that no longer follows from the stack differs.
pub fn carry(stack: &Stack, from: &Plan, to: &mut Plan) {
    for (n, source, _) in sources(stack, to) {
        to.changes[n].restored_from = from
            .changes
            .iter()
            .find(|c| c.address == source.address && c.action == Action::Create)
            .and_then(|c| c.restored_from.clone())
            .filter(|r| r.env == source.env);
    }
}

/// Warn of databases a killed run left restored but without the stack's password.
pub fn unfinished(stack: &Stack, live: &LiveState, plan: &mut Plan) {
    for r in live.resources.values() {
        let Some(crate::provider::Value::Text(snapshot)) = r.attrs.get("restoring") else {
            continue;
        };
        let secrets: Vec<String> = match stack.resource(&r.address).map(|r| &r.spec) {
            Some(Spec::Database(d)) => d
                .master_password
                .parts
                .iter()
                .filter_map(|p| match p {
                    crate::stack::template::Part::Secret(name) => Some(name.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let hint = match secrets.first() {
            Some(name) => format!(
                "`stackwright apply STACK --env {} --rotate-secret {name}` sets it",
                stack.env
            ),
            None => "set the master password by hand, then apply".to_string(),
        };
        plan.warnings.push(format!(
            "`{}` was restored from snapshot `{snapshot}`, but the run stopped before its \
             master password was set: it still has the password of the env the snapshot was \
             taken of\nhint: {hint}",
            r.address
        ));
    }
}
