//! Instances a batched launch left without their address tag (a run killed between the
//! launch and the tagging): the plan's warning per block, and the update that writes the
//! tag instead of launching again (issue 14).

use std::collections::BTreeMap;

use super::{Action, AttrChange, Change, applied_tag, fingerprint, marks};
use crate::address::Address;
use crate::provider::{LiveResource, LiveState, Value};
use crate::stack::Stack;

/// What the plan says of instances of batched launches left without their address tag:
/// one warning per block (a fleet's batch is one line, not one per instance).
pub(super) fn warnings(stack: &Stack, live: &LiveState) -> Vec<String> {
    let mut by_block: BTreeMap<(&str, bool), Vec<(&Address, &String)>> = BTreeMap::new();
    for (address, id) in &live.unaddressed {
        let kept = stack.resource(address).is_some();
        by_block
            .entry((address.name.as_str(), kept))
            .or_default()
            .push((address, id));
    }
    by_block
        .into_iter()
        .map(|((_, kept), members)| {
            let what = if let [(address, id)] = members.as_slice() {
                format!("`{id}` was launched for `{address}`")
            } else {
                let list: Vec<String> = members
                    .iter()
                    .map(|(a, id)| format!("`{id}` for `{a}`"))
                    .collect();
                format!(
                    "{} instances were launched ({})",
                    members.len(),
                    list.join(", ")
                )
            };
            let one = members.len() == 1;
            let then = match (kept, one) {
                (true, true) => "this apply tags it (or replaces it, if the stack changed since)",
                (true, false) => {
                    "this apply tags them (or replaces them, if the stack changed since)"
                }
                (false, true) => "the stack no longer has it, so this apply terminates it",
                (false, false) => "the stack no longer has them, so this apply terminates them",
            };
            format!(
                "{what} together by a run that was interrupted before tagging {} with {} \
                 address: {then}",
                if one { "it" } else { "them" },
                if one { "its" } else { "their" },
            )
        })
        .collect()
}

/// An instance of a batched launch without its address tag ([`LiveState::unaddressed`]):
/// the update that writes it, unless the change replaces the instance anyway.
pub(super) fn write_address_tag(
    change: Option<Change>,
    live: &LiveResource,
    resource: &crate::stack::Resource,
    desired: &BTreeMap<String, Value>,
) -> Option<Change> {
    let tag = AttrChange {
        name: ADDRESS_TAG.into(),
        before: None,
        after: Some(Value::text(live.address.to_string())),
        forces_replacement: false,
        drift: false,
        tracked: false,
        secrets_changed: Vec::new(),
        withheld: false,
        rotating: Vec::new(),
    };
    match change {
        Some(mut c) if c.action == Action::Update => {
            c.drift = false;
            c.attrs.push(tag);
            Some(c)
        }
        Some(c) => Some(c),
        None => Some(Change {
            address: live.address.clone(),
            action: Action::Update,
            id: Some(live.id.clone()),
            physical_name: Some(resource.physical_name.clone()),
            replace_because: Vec::new(),
            attrs: vec![tag],
            marks: marks(&resource.spec, Some(live), Action::Update),
            drift: false,
            fingerprint: Some(fingerprint(live)),
            applied: Some(applied_tag(live.address.kind, desired)),
            rolling: None,
            dns_switch: Vec::new(),
            moved_from: None,
            restored_from: None,
        }),
    }
}

/// The name a plan gives the address tag a batched launch had not written yet.
pub const ADDRESS_TAG: &str = "address_tag";
