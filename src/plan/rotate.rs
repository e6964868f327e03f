//! Rotating secrets (`apply --rotate-secret NAME`): every resource that uses a rotated
//! secret is planned as if the secret's value changed, which stackwright cannot see by
//! itself (it never stores a secret, and tags hold hashes of placeholders, not values).
//!
//! - A database whose master password uses it: an in-place update of `master_password`
//!   (`ModifyDBInstance` with the new `MasterUserPassword`), never a replacement.
//! - An instance whose user data uses it: what a change of user data is, a replacement
//!   (rolled when balancers of the stack serve it, as [`super::plan`] marks it).
//!
//! Resources created or replaced anyway get the secret's current value with the rest. The
//! values shown are the placeholders (`${secret.NAME}`), never a value.

use std::collections::{BTreeMap, BTreeSet};

use super::attrs::{self, Known};
use super::{Action, AttrChange, Change};
use crate::provider::{LiveResource, Value};
use crate::stack::model::Spec;
use crate::stack::template::{Part, Template};
use crate::stack::{Address, Kind, Resource, Stack};

/// The template of `resource` that carries secrets to AWS, and its attribute's name.
fn carrier(resource: &Resource) -> Option<(&'static str, &Template)> {
    match &resource.spec {
        Spec::Instance(i) => i.user_data.as_ref().map(|t| ("user_data", t)),
        Spec::Database(d) => Some(("master_password", &d.master_password)),
        _ => None,
    }
}

fn secrets_in(template: &Template) -> impl Iterator<Item = &str> {
    template.parts.iter().filter_map(|p| match p {
        Part::Secret(name) => Some(name.as_str()),
        _ => None,
    })
}

/// The resources of `stack` that send secret `name` to AWS.
pub fn users(stack: &Stack, name: &str) -> Vec<Address> {
    stack
        .resources
        .values()
        .filter(|r| carrier(r).is_some_and(|(_, t)| secrets_in(t).any(|s| s == name)))
        .map(|r| r.address.clone())
        .collect()
}

/// Why rotating `names` in `stack` is refused: a name the stack does not declare, or one
/// no resource uses. Decided before anything is read or sent.
pub fn check(stack: &Stack, names: &BTreeSet<String>) -> Result<(), String> {
    let declared = || {
        if stack.secrets.is_empty() {
            "the stack declares no secrets".to_string()
        } else {
            let list: Vec<String> = stack.secrets.keys().map(|n| format!("`{n}`")).collect();
            format!("the stack's secrets: {}", list.join(", "))
        }
    };
    let mut reasons = Vec::new();
    for name in names {
        if !stack.secrets.contains_key(name) {
            reasons.push(format!(
                "--rotate-secret `{name}`: stack `{}` has no secret `{name}` ({})",
                stack.name,
                declared()
            ));
        } else if users(stack, name).is_empty() {
            reasons.push(format!(
                "--rotate-secret `{name}`: no resource of stack `{}` uses secret `{name}` (in a \
                 database's master_password or an instance's user_data), so there is nothing \
                 to rotate ({})",
                stack.name,
                declared()
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons.join("\n"))
    }
}

/// `change` (what the plan makes of `resource` otherwise, if anything), extended for the
/// rotated secrets that `resource` uses. A resource that does not exist yet is created
/// with the current value anyway, and is left as it is.
pub fn rotate(
    change: Option<Change>,
    resource: &Resource,
    live: Option<&LiveResource>,
    desired: &BTreeMap<String, Value>,
    known: &Known<'_>,
    rotating: &BTreeSet<String>,
) -> Option<Change> {
    let Some(live) = live else {
        return change;
    };
    let Some((name, template)) = carrier(resource) else {
        return change;
    };
    let names: BTreeSet<String> = secrets_in(template)
        .filter(|s| rotating.contains(*s))
        .map(String::from)
        .collect();
    if names.is_empty() {
        return change;
    }
    let address = &resource.address;
    // AWS cannot change an instance's user data in place; a database's password it can.
    let forces = address.kind == Kind::Instance;
    let mut change = change.unwrap_or_else(|| Change {
        address: address.clone(),
        action: Action::Update,
        id: Some(live.id.clone()),
        physical_name: Some(resource.physical_name.clone()),
        replace_because: Vec::new(),
        attrs: Vec::new(),
        marks: Vec::new(),
        drift: false,
        fingerprint: Some(super::fingerprint(live)),
        applied: Some(super::applied_tag(address.kind, desired)),
        rolling: None,
        dns_switch: Vec::new(),
        moved_from: None,
        restored_from: None,
    });
    match change.attrs.iter_mut().find(|a| a.name == name) {
        Some(attr) => {
            attr.rotating = names.into_iter().collect();
            attr.drift = false;
        }
        None => {
            // Placeholders only: the same text before and after, as far as anyone sees.
            let shown = desired
                .get(name)
                .cloned()
                .unwrap_or_else(|| attrs::render(template, known));
            change.attrs.push(AttrChange {
                name: name.into(),
                before: Some(shown.clone()),
                after: Some(shown),
                forces_replacement: forces,
                drift: false,
                tracked: forces,
                secrets_changed: Vec::new(),
                withheld: false,
                rotating: names.into_iter().collect(),
            });
        }
    }
    if forces && change.action == Action::Update {
        change.action = Action::Replace;
        change.marks = super::marks(&resource.spec, Some(live), Action::Replace);
    }
    change.replace_because = change
        .attrs
        .iter()
        .filter(|a| a.forces_replacement)
        .map(|a| a.name.clone())
        .collect();
    change.drift = change.attrs.iter().all(|a| a.drift);
    Some(change)
}
