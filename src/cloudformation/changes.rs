//! A CloudFormation change set as a stackwright plan, and a stack's events as an apply
//! report. No I/O: the AWS provider fetches, this decides.
//!
//! 1. `read`: what CloudFormation says. [`View`]: what a template (the one deployed, or
//!    the one about to be) says of each address, in stackwright's attribute names.
//!    Properties are named as the stack names them (`ImageId` → `ami`), rule resources
//!    fold back into their group's `ingress` / `egress` in the planner's rule form
//!    (`tcp 22 from 0.0.0.0/0`), references read `${kind.name.attr}` and secrets
//!    `${secret.NAME}` (printed `(sensitive)`). Change sets, stacks and their events come
//!    as the provider's plain types, re-exported here ([`ResourceChange`], [`StackInfo`],
//!    [`StackEvent`], [`Parameter`], [`settled`]).
//! 2. `translate`: [`plan`]: CloudFormation decides the actions (its change set: add,
//!    modify, with or without replacement, remove); the two views give each change its
//!    attribute diffs, and the planner's security and data-loss marks are made as for a
//!    direct plan, so the same gates apply. [`teardown`] and [`foreign`] likewise.
//! 3. `follow`: [`Tracker`]: the stack events of an execution, fed to the apply
//!    [`Reporter`](crate::apply::Reporter) as they come and summed up as an apply
//!    [`Report`](crate::apply::Report).

mod follow;
mod read;
mod translate;

pub use follow::Tracker;
pub use read::View;
pub use translate::{foreign, plan, teardown};

pub use crate::provider::cloudformation::{
    Parameter, ResourceChange, STACK_TYPE, StackEvent, StackInfo, settled,
};

#[cfg(test)]
mod tests;
