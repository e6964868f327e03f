//! Renaming without rebuilding: `[moved]` in the plan.
//!
//! Refresh finds a resource by the address its tag names, which for a renamed resource is
//! the old one. [`relocate`] puts what was found at an old address of `[moved]` at its new
//! address (when nothing is there already), noting where it came from; the planner then
//! diffs it as the new address's resource, and [`moved`] makes the result an
//! [`Action::Move`]: apply rewrites the address tag (a record's claim) and changes what
//! differs in place. Nothing is created, replaced or destroyed by a move itself.

use std::collections::BTreeMap;

use super::{Action, Change, applied_tag, fingerprint};
use crate::provider::{LiveResource, LiveState, Value};
use crate::stack::{Address, Resource, Stack};

/// What refresh found at the old addresses of `stack`'s `[moved]`, at their new ones.
pub fn relocate(stack: &Stack, live: &mut LiveState) {
    for (old, new) in &stack.moved {
        if live.resources.contains_key(new) {
            continue; // moved already, or the new address holds its own resource
        }
        if let Some(mut resource) = live.resources.remove(old) {
            resource.address = new.clone();
            live.resources.insert(new.clone(), resource);
            live.moved.insert(new.clone(), old.clone());
        }
    }
}

/// The change that gives `live` (found at `old`) `resource`'s address: the diff the
/// planner found, as a move. A diff that forces a replacement stays a replacement, from
/// the old address.
pub fn moved(
    change: Option<Change>,
    resource: &Resource,
    desired: &BTreeMap<String, Value>,
    live: &LiveResource,
    old: &Address,
) -> Change {
    let mut change = match change {
        Some(c) if c.action == Action::Replace => c,
        Some(mut c) => {
            c.action = Action::Move;
            c
        }
        None => Change {
            address: resource.address.clone(),
            action: Action::Move,
            id: Some(live.id.clone()),
            physical_name: Some(resource.physical_name.clone()),
            replace_because: Vec::new(),
            attrs: Vec::new(),
            marks: Vec::new(),
            drift: false,
            fingerprint: Some(fingerprint(live)),
            applied: Some(applied_tag(resource.address.kind, desired)),
            rolling: None,
            dns_switch: Vec::new(),
            moved_from: None,
            restored_from: None,
        },
    };
    change.moved_from = Some(old.clone());
    change
}
