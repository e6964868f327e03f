//! Adopting what was built by hand: `[import]` in the plan.
//!
//! The provider reads every `[import]` id beside the stack's tagged resources; one that
//! carries no stackwright tags is found under its import address and listed in
//! [`LiveState::imported`]. The planner then diffs it like any resource of the stack, and
//! [`adopt`] turns the result into an [`Action::Import`] (apply tags it and changes what
//! differs in place). [`refusals`] is what makes an import safe: every reason not to go on
//! is found here, from what was read, before anything is sent.
//!
//! An import entry whose resource already carries the stack's tags for that address is a
//! no-op, so the table can stay in the env file after the apply.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Action, Change, Plan, applied_tag, fingerprint};
use crate::provider::{LiveResource, LiveState, Value};
use crate::stack::{Address, Kind, Resource, Stack};

/// The change that adopts `live` at `resource`'s address: the diff the planner found
/// (`change`), as an import. A diff that forces a replacement stays a replacement (refused
/// unless `--allow-replace-import`).
pub fn adopt(
    change: Option<Change>,
    resource: &Resource,
    desired: &BTreeMap<String, Value>,
    live: &LiveResource,
) -> Change {
    match change {
        Some(c) if c.action == Action::Replace => c,
        Some(mut c) => {
            c.action = Action::Import;
            c.drift = false;
            for a in &mut c.attrs {
                a.drift = false;
            }
            c
        }
        None => Change {
            address: resource.address.clone(),
            action: Action::Import,
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
    }
}

/// What AWS calls the resource an id names, for "does not exist" messages.
fn what(kind: Kind, id: &str) -> String {
    match kind {
        Kind::SecurityGroup => format!("no security group `{id}`"),
        Kind::Instance => format!("no instance `{id}` (that is not terminated)"),
        Kind::LoadBalancer => format!("no load balancer named `{id}`"),
        Kind::Database => format!("no database with identifier `{id}`"),
        Kind::KeyPair => format!("no key pair named `{id}`"),
        Kind::DnsRecord => format!("no record `{id}` in the record's hosted zone"),
    }
}

/// Every reason the imports of `stack` cannot go ahead, given what refresh found and the
/// plan made from it: an id that does not exist, a resource another stack, env or address
/// owns, an address that holds another resource already, and (unless `allow_replace`) an
/// import whose resource would be replaced. Empty: go on.
pub fn refusals(stack: &Stack, live: &LiveState, plan: &Plan, allow_replace: bool) -> Vec<String> {
    let mut reasons = Vec::new();
    let held: BTreeMap<(Kind, &str), &Address> = live
        .resources
        .values()
        .map(|r| ((r.address.kind, r.id.as_str()), &r.address))
        .collect();
    for (address, id) in &stack.imports {
        if let Some(owner) = live.import_owners.get(address) {
            reasons.push(format!(
                "`{address}`: `{id}` belongs to stack `{}` env `{}` (its `{}`); it is not \
                 imported from there",
                owner.stack, owner.env, owner.address
            ));
            continue;
        }
        if live.imported.contains(address) {
            let replaced = plan
                .changes
                .iter()
                .find(|c| c.address == *address && c.action == Action::Replace);
            if let Some(c) = replaced.filter(|_| !allow_replace) {
                let mut why = format!(
                    "`{address}`: `{id}` would have to be replaced to match the stack: {} \
                     cannot change in place",
                    c.replace_because
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for a in c.attrs.iter().filter(|a| a.forces_replacement) {
                    let _ = write!(
                        why,
                        " (`{}` is {}, the stack says {})",
                        a.name,
                        shown(a.before.as_ref()),
                        shown(a.after.as_ref())
                    );
                }
                why.push_str(
                    "; edit the stack to match, or pass --allow-replace-import to replace it",
                );
                reasons.push(why);
            }
            continue;
        }
        match (
            live.resources.get(address),
            held.get(&(address.kind, id.as_str())),
        ) {
            // Already the stack's, at this address: imported before; nothing to do.
            (Some(r), _) if r.id == *id => {}
            (Some(r), _) => reasons.push(format!(
                "`{address}` is `{}` already (by its stackwright tags); it cannot also import \
                 `{id}`",
                r.id
            )),
            (None, Some(other)) => reasons.push(format!(
                "`{address}`: `{id}` is already this stack's `{other}` (stack `{}` env `{}`); \
                 to rename it, use `[moved]` in `stack.toml`",
                stack.name, stack.env
            )),
            (None, None) => reasons.push(format!(
                "`{address}`: there is {} in region `{}`",
                what(address.kind, id),
                if stack.region.is_empty() {
                    "(configured)"
                } else {
                    &stack.region
                }
            )),
        }
    }
    reasons
}

fn shown(v: Option<&Value>) -> String {
    match v {
        Some(Value::Text(t)) if t.len() > 100 || t.contains('\n') => "another text".into(),
        Some(Value::Text(t)) => format!("`{t}`"),
        Some(Value::List(items)) => format!("[{}]", items.join(", ")),
        Some(Value::Unknown) => "(known after apply)".into(),
        None => "not set".into(),
    }
}
