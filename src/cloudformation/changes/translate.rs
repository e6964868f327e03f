//! Translating a change set into stackwright's plan: CloudFormation decides the actions
//! (add, modify, with or without replacement, remove); the deployed and the new
//! template's [`View`]s give each change its attribute diffs, and the planner's security
//! and data-loss marks are made as for a direct plan, so the same gates apply. Also the
//! plan of deleting the stack ([`teardown`]), and the changes to resources stackwright
//! did not write ([`foreign`]).

use std::collections::{BTreeMap, BTreeSet};

use super::read::{View, attribute_name};
use crate::graph::Graph;
use crate::plan::{self, Action, AttrChange, Change, Mark, Plan, attrs};
use crate::provider::Value;
use crate::provider::cloudformation::ResourceChange;
use crate::stack::model::Spec;
use crate::stack::{Address, Kind, Stack};

/// What one address does in a change set, gathered from its resources' changes.
#[derive(Default)]
struct Gathered {
    created: bool,
    removed: bool,
    modified: bool,
    /// CloudFormation's word on replacement, when it says: `True`, `False`, `Conditional`.
    replacement: Option<String>,
    /// Properties (in the stack's names) CloudFormation says force recreation, with
    /// `(conditionally)` where it only may.
    recreates: BTreeSet<String>,
    /// Every property CloudFormation says changes (in the stack's names).
    properties: BTreeSet<String>,
    id: Option<String>,
}

/// The plan a change set stands for. `old` is the deployed template's view (empty for a
/// stack not created yet), `new` the view of the template the change set was made from.
pub fn plan(
    stack: &Stack,
    graph: &Graph,
    changes: &[ResourceChange],
    old: &View,
    new: &View,
) -> Plan {
    let mut warnings: Vec<String> = foreign(changes, old, new)
        .into_iter()
        .map(|f| format!("CloudFormation also changes {f}, which stackwright did not write"))
        .collect();
    let mut gathered: BTreeMap<Address, Gathered> = BTreeMap::new();
    for rc in changes {
        let Some((address, rule)) = new
            .logical
            .get(&rc.logical_id)
            .or_else(|| old.logical.get(&rc.logical_id))
        else {
            continue;
        };
        let g = gathered.entry(address.clone()).or_default();
        if rule.is_some() {
            // A rule added, changed or removed changes its group's rules.
            g.modified = true;
            continue;
        }
        g.id = g.id.take().or_else(|| rc.physical_id.clone());
        match rc.action.as_str() {
            "Add" => g.created = true,
            "Remove" => g.removed = true,
            "Modify" => {
                g.modified = true;
                if rc.replacement.is_some() {
                    g.replacement = rc.replacement.clone();
                }
                for (property, recreation) in &rc.properties {
                    let name = attribute_name(address.kind, property);
                    g.properties.insert(name.to_string());
                    match recreation.as_deref() {
                        Some("Always") => {
                            g.recreates.insert(name.to_string());
                        }
                        Some("Conditionally") => {
                            g.recreates.insert(format!("{name} (conditionally)"));
                        }
                        _ => {}
                    }
                }
            }
            other => {
                g.modified = true;
                warnings.push(format!(
                    "CloudFormation's action for `{address}` is `{other}`: shown as an update"
                ));
            }
        }
    }
    let empty = BTreeMap::new();
    let ids: BTreeMap<String, String> = changes
        .iter()
        .filter_map(|c| Some((c.logical_id.clone(), c.physical_id.clone()?)))
        .collect();
    let old_live = old.live(&ids);
    let mut out = Vec::new();
    for (address, g) in gathered {
        let before = old.attrs.get(&address).unwrap_or(&empty);
        let after = new.attrs.get(&address).unwrap_or(&empty);
        let mut attrs = diff(address.kind, before, after);
        // A property CloudFormation changes though the template says the same: it reads
        // something replaced (a group's id), known only after apply.
        for name in &g.properties {
            if after.contains_key(name) && !attrs.iter().any(|a| &a.name == name) {
                attrs.push(AttrChange {
                    name: name.clone(),
                    before: before.get(name).cloned(),
                    after: Some(Value::Unknown),
                    forces_replacement: false,
                    drift: false,
                    tracked: false,
                    secrets_changed: Vec::new(),
                    rotating: Vec::new(),
                    withheld: false,
                });
            }
        }
        let (action, replace_because) = match (g.created, g.removed) {
            (true, true) => (
                Action::Replace,
                vec!["its CloudFormation logical id".to_string()],
            ),
            (true, false) => {
                attrs.retain(|a| {
                    !(a.name == "prevent_destroy" && a.after == Some(Value::text("false")))
                });
                (Action::Create, Vec::new())
            }
            (false, true) => (Action::Destroy, Vec::new()),
            (false, false) => {
                let because = replaced_because(&address, &g, &attrs);
                let action = if because.is_empty() {
                    Action::Update
                } else {
                    Action::Replace
                };
                (action, because)
            }
        };
        for a in &mut attrs {
            a.forces_replacement = replace_because
                .iter()
                .any(|r| r.split(' ').next() == Some(a.name.as_str()));
        }
        if action == Action::Destroy {
            attrs.clear();
        }
        let resource = stack.resource(&address);
        let marks = match (resource, action) {
            (_, Action::Destroy) => destroy_marks(&address, g.id.as_deref()),
            (Some(r), _) => plan::marks(&r.spec, old_live.resources.get(&address), action),
            (None, _) => Vec::new(),
        };
        out.push(Change {
            address: address.clone(),
            action,
            id: g.id,
            physical_name: resource.map(|r| r.physical_name.clone()),
            replace_because,
            attrs,
            marks,
            drift: false,
            fingerprint: None,
            applied: None,
            rolling: None,
            dns_switch: Vec::new(),
            moved_from: None,
            restored_from: None,
        });
    }
    warnings.extend(not_rolled(stack, &out, old));
    finish(stack, order(Some(graph), out), warnings)
}

/// A replacement of balancer members is not rolled through CloudFormation: it replaces an
/// `AWS::EC2::Instance` without waiting for the balancer's health check (CreationPolicy
/// and UpdatePolicy do not apply to plain instances). One warning per replaced instance
/// listed by a balancer of the stack that is deployed and not itself replaced, as the
/// direct engine would roll it.
fn not_rolled(stack: &Stack, changes: &[Change], old: &View) -> Vec<String> {
    let replaced: BTreeSet<&Address> = changes
        .iter()
        .filter(|c| c.action == Action::Replace)
        .map(|c| &c.address)
        .collect();
    changes
        .iter()
        .filter(|c| c.action == Action::Replace && c.address.kind == Kind::Instance)
        .filter_map(|c| {
            let balancers: Vec<String> = stack
                .resources
                .values()
                .filter(|r| match &r.spec {
                    Spec::LoadBalancer(lb) => lb.instances.contains(&c.address),
                    _ => false,
                })
                .filter(|r| old.attrs.contains_key(&r.address) && !replaced.contains(&r.address))
                .map(|r| format!("`{}`", r.address))
                .collect();
            (!balancers.is_empty()).then(|| {
                format!(
                    "`{}` is replaced at once, not rolling, though {} {} it: CloudFormation \
                     replaces a plain instance without waiting for the balancer's health \
                     check (CreationPolicy and UpdatePolicy do not apply to \
                     AWS::EC2::Instance); use `--engine direct` to roll it",
                    c.address,
                    balancers.join(", "),
                    if balancers.len() == 1 {
                        "serves"
                    } else {
                        "serve"
                    }
                )
            })
        })
        .collect()
}

/// The changes to resources stackwright did not write (neither template says they stand
/// for an address), as `` `LogicalId` (Type: Action) ``: shown as warnings, and refused.
pub fn foreign(changes: &[ResourceChange], old: &View, new: &View) -> Vec<String> {
    changes
        .iter()
        .filter(|c| new.address(&c.logical_id).is_none() && old.address(&c.logical_id).is_none())
        .map(|c| format!("`{}` ({}: {})", c.logical_id, c.resource_type, c.action))
        .collect()
}

/// Why a modified resource is replaced: CloudFormation's word when it gives one; where it
/// gives none (the emulator), the planner's knowledge of which attributes AWS cannot
/// change in place.
fn replaced_because(address: &Address, g: &Gathered, attrs: &[AttrChange]) -> Vec<String> {
    match g.replacement.as_deref() {
        Some("True") | Some("Conditional") => {
            if g.recreates.is_empty() {
                vec!["CloudFormation's decision".to_string()]
            } else {
                g.recreates.iter().cloned().collect()
            }
        }
        Some(_) => Vec::new(),
        None => attrs
            .iter()
            .filter(|a| attrs::meta_of(address.kind, &a.name).is_some_and(|m| m.replace))
            .map(|a| a.name.clone())
            .collect(),
    }
}

/// The attributes that differ between two views of one address, in the planner's order.
fn diff(
    kind: Kind,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<AttrChange> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    let position = |n: &str| {
        attrs::meta(kind)
            .iter()
            .position(|m| m.name == n)
            .unwrap_or(usize::MAX)
    };
    names.sort_by(|a, b| (position(a), a).cmp(&(position(b), b)));
    names.dedup();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .map(|n| AttrChange {
            name: n.clone(),
            before: before.get(n).cloned(),
            after: after.get(n).cloned(),
            forces_replacement: false,
            drift: false,
            tracked: false,
            secrets_changed: Vec::new(),
            rotating: Vec::new(),
            withheld: false,
        })
        .collect()
}

fn destroy_marks(address: &Address, id: Option<&str>) -> Vec<Mark> {
    if address.kind == Kind::Database {
        vec![Mark::DataLoss(format!(
            "destroys database `{}` and its data",
            id.unwrap_or(&address.name)
        ))]
    } else {
        Vec::new()
    }
}

/// Creates and changes in creation order, then destroys, dependents first.
fn order(graph: Option<&Graph>, mut changes: Vec<Change>) -> Vec<Change> {
    let position: BTreeMap<Address, usize> = graph
        .map(Graph::create_order)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, a)| (a, i))
        .collect();
    changes.sort_by(|a, b| {
        let key = |c: &Change| {
            let destroy = c.action == Action::Destroy;
            (
                destroy,
                if destroy {
                    usize::from(c.address.kind.destroy_rank())
                } else {
                    position.get(&c.address).copied().unwrap_or(usize::MAX)
                },
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.address.cmp(&b.address))
    });
    changes
}

fn finish(stack: &Stack, changes: Vec<Change>, warnings: Vec<String>) -> Plan {
    Plan {
        format_version: plan::FORMAT_VERSION,
        stack: stack.name.clone(),
        env: stack.env.clone(),
        region: stack.region.clone(),
        engine: plan::PlannedBy::Cloudformation,
        summary: plan::Summary::of(&changes),
        changes,
        warnings,
        expires: None,
    }
}

/// The plan of deleting the stack: every address the deployed template holds, dependents
/// first. `ids` are the physical ids CloudFormation knows, by logical id.
pub fn teardown(stack: &Stack, old: &View, ids: &BTreeMap<String, String>) -> Plan {
    let live = old.live(ids);
    let changes = live
        .resources
        .values()
        .map(|r| {
            let id = (!r.id.is_empty()).then(|| r.id.clone());
            Change {
                address: r.address.clone(),
                action: Action::Destroy,
                marks: destroy_marks(&r.address, id.as_deref()),
                id,
                physical_name: None,
                replace_because: Vec::new(),
                attrs: Vec::new(),
                drift: false,
                fingerprint: None,
                applied: None,
                rolling: None,
                dns_switch: Vec::new(),
                moved_from: None,
                restored_from: None,
            }
        })
        .collect();
    finish(stack, order(None, changes), Vec::new())
}
