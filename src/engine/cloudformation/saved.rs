//! Saved plans of the CloudFormation engine (the change set kept, checked again before it
//! is executed) and teardowns (the stack's deletion as a plan).

use std::collections::BTreeMap;

use super::{Carry, Cloudformation, Proposal, Result, digest};
use crate::cloudformation::ENGINE_TAG_VALUE;
use crate::cloudformation::changes;
use crate::engine::error::fail;
use crate::engine::{EngineError, Operation};
use crate::plan::{self, Plan};
use crate::planfile::{self, SavedChangeSet, SavedPlan};

impl Cloudformation<'_> {
    /// Save `p` to `path` for `apply FILE`: whether its change set is to be kept (there
    /// is one to carry out). The change set of a plan saved there before is deleted: the
    /// file was its only handle.
    pub(super) async fn save_plan(
        &self,
        p: &Proposal,
        path: &std::path::Path,
        source: Option<&planfile::Source>,
    ) -> Result<bool> {
        if !p.foreign.is_empty() {
            fail!(
                "the change set changes resources stackwright did not write ({}): it cannot be \
                 applied, so it is not saved",
                p.foreign.join(", ")
            );
        }
        let previous = planfile::previous_change_set(path);
        if let Some(old) = previous {
            // Its change set, and the empty stack it may have made: the file was their
            // only handle (gone already, or executed: nothing is deleted).
            let mut spent = Proposal::empty(p.plan.clone());
            spent.spent = Some(old.id);
            spent.empty_stack = Some(old.stack_id);
            self.take_back(&spent).await;
        }
        let change_set = match &p.carry {
            Carry::Execute {
                change_set,
                stack_id,
            } if p.changes() => Some(SavedChangeSet {
                id: change_set.clone(),
                stack_id: stack_id.clone(),
                stack_name: self.name.clone(),
                last_event: match &p.last_event {
                    Some(before) => before.clone(),
                    // A new stack: its first event is its change set's.
                    None => self.aws.cfn_last_event(&self.scope, stack_id).await?,
                },
            }),
            _ => None,
        };
        let keep = change_set.is_some();
        planfile::write(
            &SavedPlan {
                plan: p.plan.clone(),
                stack: self.stack.clone(),
                change_set,
                deep: false,
                source: source.cloned(),
            },
            path,
        )?;
        Ok(keep)
    }

    /// A saved plan's change set as a proposal: the plan made again from the change set
    /// as CloudFormation holds it, refused unless it is the plan saved, the change set can
    /// still be executed and the stack has not changed since the plan was made. A stale
    /// change set is deleted.
    pub(super) async fn resume_saved(&self, saved: &SavedPlan) -> Result<Proposal> {
        let Some(cs) = &saved.change_set else {
            // Saved with nothing to do.
            return Ok(Proposal::empty(saved.plan.clone()));
        };
        let again =
            "plan again (`stackwright plan STACK --env ENV --engine cloudformation --out FILE`)";
        if cs.stack_name != self.name {
            fail!(
                "the saved plan is for CloudFormation stack `{}`, not `{}`",
                cs.stack_name,
                self.name
            );
        }
        let stale = |why: String| async move {
            let mut spent = Proposal::empty(saved.plan.clone());
            spent.spent = Some(cs.id.clone());
            spent.empty_stack = Some(cs.stack_id.clone());
            self.take_back(&spent).await;
            EngineError::Message(format!("{why}; nothing was changed\n\nhint: {again}"))
        };
        let described = self
            .aws
            .cfn_describe_change_set(&self.scope, &cs.id)
            .await?;
        let Some(mut described) = described else {
            fail!(
                "the change set of this plan is gone (executed, or deleted); nothing was \
                 changed\n\nhint: {again}"
            );
        };
        if described
            .stack_id
            .as_deref()
            .is_some_and(|id| id != cs.stack_id)
        {
            fail!("the saved plan's change set belongs to another stack");
        }
        // The change set was made from the template of the stack in the file, or the file
        // was changed: what is shown must be what runs.
        let held = self.aws.cfn_stack(&self.scope, &cs.stack_name).await?;
        let deployed = match held {
            Some(info) if info.id == cs.stack_id && info.status != "REVIEW_IN_PROGRESS" => {
                Some(self.deployed_template().await?)
            }
            _ => None,
        };
        let template = self.template(deployed.as_ref()).await?;
        let body = crate::cloudformation::limits::body(&template);
        let made_from = format!("{}, template {}", self.description(), digest(&body));
        if described.description != made_from {
            fail!(
                "the saved plan does not read as its change set (the file was changed?); \
                 nothing was changed\n\nhint: {again}"
            );
        }
        if described.execution_status != "AVAILABLE" {
            return Err(stale(format!(
                "the change set of this plan cannot be executed ({}, {})",
                described.status, described.execution_status
            ))
            .await);
        }
        // CloudFormation marks the change set obsolete once the stack changes; the stack's
        // newest event says so too (and where the emulator does not mark it).
        let now = self.aws.cfn_stack(&self.scope, &cs.stack_name).await?;
        let last = match &now {
            Some(info) if info.id == cs.stack_id => {
                self.aws.cfn_last_event(&self.scope, &cs.stack_id).await?
            }
            _ => None,
        };
        if now.as_ref().is_none_or(|info| info.id != cs.stack_id) || last != cs.last_event {
            return Err(stale(format!(
                "CloudFormation stack `{}` has changed since this plan was made",
                cs.stack_name
            ))
            .await);
        }
        let exists = now.is_some_and(|info| info.status != "REVIEW_IN_PROGRESS");
        let old = if exists {
            changes::View::of(&self.deployed_template().await?)
        } else {
            changes::View::default()
        };
        let new = changes::View::of(&template);
        self.fill_ids(&mut described.changes).await?;
        // What runs is the change set: it must read as the plan that was reviewed.
        let plan = changes::plan(self.stack, self.graph, &described.changes, &old, &new);
        let actions = |p: &Plan| -> Vec<(String, plan::Action)> {
            p.changes
                .iter()
                .map(|c| (c.address.to_string(), c.action))
                .collect()
        };
        if actions(&plan) != actions(&saved.plan) {
            fail!(
                "the saved plan does not read as its change set (the file was changed?); \
                 nothing was changed\n\nhint: {again}"
            );
        }
        let secrets = self
            .stack
            .secrets
            .values()
            .filter_map(|var| (self.lookup)(var))
            .collect();
        Ok(Proposal {
            plan,
            carry: Carry::Execute {
                change_set: cs.id.clone(),
                stack_id: cs.stack_id.clone(),
            },
            spent: None,
            empty_stack: None,
            touched: described
                .changes
                .iter()
                .map(|c| c.logical_id.clone())
                .collect(),
            outputs_only: described.changes.is_empty(),
            foreign: changes::foreign(&described.changes, &old, &new),
            old,
            new,
            secrets,
            keep: true,
            last_event: Some(cs.last_event.clone()),
        })
    }

    /// The deletion of the stack as a proposal: every address of the deployed template
    /// that exists (a create rolled back leaves its resources listed, deleted).
    pub(super) async fn teardown_proposal(&self) -> Result<Proposal> {
        let nothing = || {
            Proposal::empty(changes::teardown(
                self.stack,
                &changes::View::default(),
                &BTreeMap::new(),
            ))
        };
        let Some(info) = self.current(Operation::Destroy).await? else {
            return Ok(nothing());
        };
        let mut proposal = nothing();
        proposal.carry = Carry::Delete {
            stack_id: info.id.clone(),
        };
        if info.status == "REVIEW_IN_PROGRESS" {
            proposal.plan.warnings.push(format!(
                "CloudFormation stack `{}` holds only change sets: destroy deletes it",
                self.name
            ));
            return Ok(proposal);
        }
        let template = self.deployed_template().await?;
        let ids = self.aws.cfn_resources(&self.scope, &self.name).await?;
        let all = changes::View::of(&template);
        // DeleteStack deletes everything the stack holds: what stackwright did not write
        // (added to the stack by hand) is refused, as in an apply.
        proposal.foreign = ids
            .keys()
            .filter(|l| all.address(l).is_none())
            .map(|l| format!("`{l}` (Remove)"))
            .collect();
        proposal.old = all.existing(&ids);
        proposal.plan = changes::teardown(self.stack, &proposal.old, &ids);
        proposal.touched = ids.into_keys().collect();
        proposal.plan.warnings.extend(
            proposal.foreign.iter().map(|f| {
                format!("CloudFormation also deletes {f}, which stackwright did not write")
            }),
        );
        if !proposal.plan.has_changes() && proposal.foreign.is_empty() {
            proposal.plan.warnings.push(format!(
                "CloudFormation stack `{}` ({}) holds no resource of stack `{}` \
                 ({ENGINE_TAG_VALUE} engine): destroy deletes the empty stack",
                self.name, info.status, self.stack.name
            ));
        }
        Ok(proposal)
    }
}
