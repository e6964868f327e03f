//! CloudFormation's vocabulary: the plain data the CloudFormation provider
//! ([`crate::provider::aws::cloudformation`]) returns and takes, and the change-set logic
//! above it ([`crate::cloudformation::changes`]) reads. Stacks, change sets, their
//! resource changes, stack events and parameters, with no SDK type and no I/O, so the
//! provider need not reach up into the engine that uses it.

use std::collections::{BTreeMap, BTreeSet};

use crate::provider::Secret;

/// One resource change of a change set, as CloudFormation describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify` or `Remove` (or `Import`, `Dynamic`, which stackwright never asks
    /// for).
    pub action: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `True`, `False` or `Conditional`; `None` where CloudFormation does not say (the
    /// emulator never does).
    pub replacement: Option<String>,
    /// The properties that change, each with whether it forces recreation (`Always`,
    /// `Conditionally`, `Never`).
    pub properties: Vec<(String, Option<String>)>,
}

/// A stack as `DescribeStacks` returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackInfo {
    /// The stack id (an ARN): unlike the name, it still finds a deleted stack.
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    /// `OutputKey` → value.
    pub outputs: BTreeMap<String, String>,
    /// The parameters the stack was deployed with (keys only: values may be secrets).
    pub parameters: BTreeSet<String>,
}

/// One stack event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

/// A template parameter for a change set: a secret's value, or `None` to keep the value
/// the stack was deployed with (`UsePreviousValue`).
#[derive(Clone, Debug)]
pub struct Parameter {
    pub key: String,
    pub value: Option<Secret>,
}

/// The resource type of the stack itself in its events.
pub const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// Whether a stack status is final: `Some(true)` done, `Some(false)` failed or rolled
/// back, `None` still moving.
pub fn settled(status: &str) -> Option<bool> {
    if status.is_empty() {
        return Some(false);
    }
    if status.ends_with("_IN_PROGRESS") {
        return None;
    }
    let failed = status.contains("ROLLBACK") || status.ends_with("_FAILED");
    Some(!failed)
}

/// What `CreateChangeSet` came to.
#[derive(Debug)]
pub enum ChangeSet {
    /// Nothing to do. `id` is the failed change set AWS keeps (to delete), if any.
    Unchanged { id: Option<String> },
    /// Ready to execute (or to delete).
    Ready {
        id: String,
        stack_id: String,
        changes: Vec<ResourceChange>,
    },
    /// CloudFormation could not make it (or it took too long, or Ctrl-C): `reason`. The
    /// change set (and an empty stack made for it) are left to delete.
    Failed {
        id: String,
        stack_id: String,
        reason: String,
    },
}

/// A change set to make.
#[derive(Clone, Copy, Debug)]
pub struct ChangeSetRequest<'a> {
    /// The CloudFormation stack's name.
    pub stack: &'a str,
    /// The change set's name.
    pub change_set: &'a str,
    /// Says whose it is: stackwright's stack and env.
    pub description: &'a str,
    /// The template: its body (JSON), or where CloudFormation reads it.
    pub template: TemplateSource<'a>,
    pub parameters: &'a [Parameter],
    /// A new stack (`CREATE`), else an `UPDATE`.
    pub create: bool,
}

/// How a change set's template is given: in the request (at most 51,200 bytes), or by
/// the URL of an S3 object that holds it (up to 1 MB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateSource<'a> {
    Body(&'a str),
    Url(&'a str),
}

/// A change set as `ListChangeSets` lists it.
#[derive(Clone, Debug, Default)]
pub struct ChangeSetSummary {
    pub id: String,
    pub description: String,
}

/// A change set as `DescribeChangeSet` tells it.
#[derive(Clone, Debug, Default)]
pub struct Described {
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED`, …
    pub status: String,
    /// `AVAILABLE` when it can be executed; `OBSOLETE`, `EXECUTE_COMPLETE`, …
    pub execution_status: String,
    pub reason: Option<String>,
    /// Who made it, for what (stackwright writes the stack, env and template digest).
    pub description: String,
    /// The stack it belongs to.
    pub stack_id: Option<String>,
    pub changes: Vec<ResourceChange>,
}

/// How a follow of stack events ended.
#[derive(Debug)]
pub struct Settled {
    pub status: String,
    pub reason: Option<String>,
    /// Ctrl-C: no longer followed, CloudFormation carries on.
    pub cancelled: bool,
}
