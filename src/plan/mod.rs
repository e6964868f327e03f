//! Plans: the model diffed against live state, as plain serde data. No I/O here.
//!
//! 1. Walk the graph in creation order. For each address, derive the desired attributes
//!    ([`attrs::desired`]), resolving references from live state, except for resources
//!    this plan creates or replaces: their attributes are known only after apply.
//! 2. Compare with what the provider read: absent means create; a difference in an
//!    attribute AWS cannot change in place means replace; any other difference, update.
//!    Attributes AWS returns only per resource are compared through their tags.
//! 3. Live resources the stack no longer has (a removed resource, a replica past
//!    `count`) are destroyed, dependents first.
//! 4. Mark changes that open access (security-sensitive) or can lose data, and tell drift
//!    (AWS moved away from what stackwright applied) from changes to the stack, using the
//!    per-attribute hashes in the `stackwright:applied` tag.

pub mod attrs;
pub mod expiry;
pub mod imports;
pub mod moves;
pub mod rotate;
pub mod secrets;
mod unaddressed;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::graph::Graph;
use crate::provider::{LiveResource, LiveState, Value, tracked_form};
use crate::stack::model::{Rule, Spec};
use crate::stack::{Address, Kind, Stack};

pub use attrs::Known;
pub use expiry::Expiry;
pub use unaddressed::ADDRESS_TAG;

/// The version of the plan's JSON form (`schemas/plan.schema.json`).
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Destroy,
    /// `[import]`: a resource made outside stackwright is adopted (tagged, or claimed) and
    /// its attributes, if any are listed, changed in place. Nothing is created or deleted.
    Import,
    /// `[moved]`: the resource at `moved_from` takes the new address (its tag, or its
    /// record's claim, is rewritten) and its listed attributes change in place.
    Move,
}

/// One attribute that changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrChange {
    pub name: String,
    /// `None`: not set in AWS (or the resource does not exist yet).
    pub before: Option<Value>,
    /// `None`: the resource is destroyed.
    pub after: Option<Value>,
    pub forces_replacement: bool,
    /// AWS changed it, not the stack: it differs from what stackwright last applied.
    pub drift: bool,
    /// Compared through a tag, so `before` may be a hash (`plan --deep` reads the value).
    pub tracked: bool,
    /// The secrets whose input changed: user data read back (`--deep`) that differs from
    /// the stack only where these are interpolated (`before` shows them masked).
    #[serde(default)]
    pub secrets_changed: Vec<String>,
    /// `before` is not shown (`null`): user data read back that may hold a secret set
    /// before, and that does not align with the template to mask it by position.
    #[serde(default)]
    pub withheld: bool,
    /// The secrets `apply --rotate-secret` rotates here: the value is new, though the
    /// stack's text is not (`before` and `after` show placeholders). Only an apply plans
    /// rotations, so a saved or printed plan never has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotating: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum Mark {
    /// Opens access: ingress from anywhere beyond 80/443, a wider range, a public database.
    SecuritySensitive(String),
    /// Can lose data: a database destroyed or replaced.
    DataLoss(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    /// The AWS id of the resource changed, replaced or destroyed.
    pub id: Option<String>,
    pub physical_name: Option<String>,
    /// The attributes that force replacement.
    pub replace_because: Vec<String>,
    pub attrs: Vec<AttrChange>,
    pub marks: Vec<Mark>,
    /// Every changed attribute is drift.
    pub drift: bool,
    /// The live state this change was planned from (`apply FILE` refuses if it moved).
    pub fingerprint: Option<String>,
    /// The desired attributes' `stackwright:applied` value, for apply to tag with.
    pub applied: Option<String>,
    /// A replacement of a balancer member: rolled (the new one serving before the old one
    /// goes), and how.
    /// `null` for everything else. Plans saved before rollouts read as `null`.
    #[serde(default)]
    pub rolling: Option<Rollout>,
    /// A replacement of an instance that records of the stack name (and no balancer
    /// serves): the new instance is launched, these records are switched to it, then the
    /// old one is terminated. Empty (and left out of JSON) for everything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_switch: Vec<Address>,
    /// `[moved]`: the address the resource had (a move, or a replacement of a moved
    /// resource). Left out of JSON for everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Address>,
    /// A database created from another env's snapshot (`restore_from_env`): which one.
    /// Found by the engine at plan time (the planner does no I/O); left out of JSON
    /// for everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<Restore>,
}

/// The snapshot a new database is restored from, and the env it was taken of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    pub snapshot: String,
    pub env: String,
}

/// How the replacement of an instance registered with balancers of the stack is carried
/// out: the new instance is launched, registered and `InService` on every balancer before
/// the old one is deregistered and terminated, `batch` replicas of the instance at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Replicas of the same instance replaced at once.
    pub batch: u32,
    /// How long the new instance may take to turn `InService`, in seconds.
    pub health_timeout_secs: u64,
    /// The balancers it is registered with (that exist and stay).
    pub balancers: Vec<Address>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub destroy: usize,
    pub drift: usize,
    pub security_sensitive: usize,
    pub data_loss: usize,
    /// Resources adopted by `[import]` (those that also change attributes are counted in
    /// `update` too).
    #[serde(default)]
    pub import: usize,
    /// Resources renamed by `[moved]` (those that also change attributes are counted in
    /// `update` too).
    #[serde(default, rename = "move")]
    pub moved: usize,
}

/// The plan's record of which engine made it, and so carries it out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedBy {
    /// stackwright, calling the AWS APIs.
    #[default]
    Direct,
    /// CloudFormation, executing a change set.
    Cloudformation,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub env: String,
    pub region: String,
    /// Plans saved before there were engines are the direct engine's.
    #[serde(default)]
    pub engine: PlannedBy,
    pub changes: Vec<Change>,
    pub summary: Summary,
    pub warnings: Vec<String>,
    /// The env's expiry, renewed by every apply ([`expiry`]): not a change. Absent when
    /// the env neither expires nor carries the tag (`null`).
    #[serde(default)]
    pub expires: Option<Expiry>,
}

impl Summary {
    /// The counts of `changes`.
    pub fn of(changes: &[Change]) -> Summary {
        let mut summary = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Destroy => summary.destroy += 1,
                Action::Import => {
                    summary.import += 1;
                    summary.update += usize::from(!c.attrs.is_empty());
                }
                Action::Move => {
                    summary.moved += 1;
                    summary.update += usize::from(!c.attrs.is_empty());
                }
            }
            summary.drift += usize::from(c.drift);
            summary.security_sensitive += usize::from(
                c.marks
                    .iter()
                    .any(|m| matches!(m, Mark::SecuritySensitive(_))),
            );
            summary.data_loss +=
                usize::from(c.marks.iter().any(|m| matches!(m, Mark::DataLoss(_))));
        }
        summary
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Plan `stack` against `live`.
pub fn plan(stack: &Stack, graph: &Graph, live: &LiveState) -> Plan {
    plan_rotating(stack, graph, live, &BTreeSet::new())
}

/// Plan `stack` against `live`, rotating the secrets `rotating` ([`rotate`]): every
/// resource that sends one to AWS is planned as if its value changed.
pub fn plan_rotating(
    stack: &Stack,
    graph: &Graph,
    live: &LiveState,
    rotating: &BTreeSet<String>,
) -> Plan {
    let mut known: Known<'_> = BTreeMap::new();
    let mut changes = Vec::new();
    for address in graph.create_order() {
        let Some(resource) = stack.resource(&address) else {
            continue;
        };
        let current = live.resources.get(&address);
        let desired = attrs::desired(resource, &known);
        let mut change = compare(
            &address,
            resource.physical_name.clone(),
            &desired,
            current,
            &resource.spec,
        );
        if let Some(change) = change.as_mut()
            && !stack.secrets.is_empty()
        {
            mask_user_data(change, resource, &known);
        }
        if !rotating.is_empty() {
            change = rotate::rotate(change, resource, current, &desired, &known, rotating);
        }
        if let Some(current) = current.filter(|_| live.imported.contains(&address)) {
            change = Some(imports::adopt(change, resource, &desired, current));
        }
        if let (Some(current), Some(old)) = (current, live.moved.get(&address)) {
            change = Some(moves::moved(change, resource, &desired, current, old));
        }
        if let Some(current) = current
            && live.unaddressed.get(&address) == Some(&current.id)
        {
            change = unaddressed::write_address_tag(change, current, resource, &desired);
        }
        // A resource created or replaced has new attributes; so has an instance resized in
        // place, since the stop and start that takes gives it a new public name and IP.
        let stays = change.as_ref().is_none_or(|c| {
            matches!(c.action, Action::Update | Action::Import | Action::Move)
                && !(address.kind == Kind::Instance
                    && c.attrs.iter().any(|a| a.name == "instance_type"))
        });
        known.insert(address.clone(), if stays { current } else { None });
        if let Some(change) = change {
            changes.push(change);
        }
    }
    changes.extend(destroys(stack, live));
    mark_rollouts(stack, live, &mut changes);
    mark_dns_switches(stack, live, &mut changes);
    let mut warnings = Vec::new();
    for (address, ids) in &live.conflicts {
        warnings.push(format!(
            "`{address}` is claimed by {} resources ({}); this plan uses `{}`",
            ids.len(),
            ids.join(", "),
            live.resources.get(address).map_or("", |r| r.id.as_str())
        ));
    }
    for (address, new) in &live.unfinished {
        let old = live.resources.get(address).map_or("", |r| r.id.as_str());
        let finished = changes
            .iter()
            .find(|c| c.address == *address && (c.rolling.is_some() || !c.dns_switch.is_empty()));
        warnings.push(if let Some(c) = finished.filter(|c| c.rolling.is_none()) {
            let records: Vec<String> = c.dns_switch.iter().map(|r| format!("`{r}`")).collect();
            format!(
                "a replacement of `{address}` was interrupted: this apply finishes it, taking \
                 `{new}` (launched by it) as the new instance and retiring `{old}` once {} \
                 {} switched to `{new}`",
                records.join(", "),
                if records.len() == 1 { "is" } else { "are" }
            )
        } else if finished.is_some() {
            format!(
                "a rolling replacement of `{address}` was interrupted: this apply finishes it, \
                 taking `{new}` (launched by it) as the new instance and retiring `{old}` once \
                 `{new}` is InService"
            )
        } else {
            format!(
                "a rolling replacement of `{address}` was interrupted, and the stack no longer \
                 asks for it: `{old}` stays, `{new}` (launched by it) is not the stack's; \
                 terminate `{new}`"
            )
        });
    }
    warnings.extend(unaddressed::warnings(stack, live));
    for (address, id) in &live.surplus {
        let holder = live.resources.get(address).map_or("", |r| r.id.as_str());
        warnings.push(format!(
            "`{id}` was launched for `{address}` by a run that was interrupted, and `{holder}` \
             holds that address: an apply terminates `{id}`"
        ));
    }
    if !live.other_engine.is_empty() {
        let list: Vec<String> = live.other_engine.iter().map(|a| format!("`{a}`")).collect();
        warnings.push(format!(
            "{} of stack `{}` env `{}` {} managed by CloudFormation (`--engine \
             cloudformation`): the direct engine leaves {} alone",
            list.join(", "),
            stack.name,
            stack.env,
            if list.len() == 1 { "is" } else { "are" },
            if list.len() == 1 { "it" } else { "them" },
        ));
    }
    warnings.extend(kept_unencrypted(stack, live));
    let summary = Summary::of(&changes);
    Plan {
        format_version: FORMAT_VERSION,
        stack: stack.name.clone(),
        env: stack.env.clone(),
        region: stack.region.clone(),
        engine: PlannedBy::Direct,
        changes,
        summary,
        warnings,
        expires: expiry::expiry(stack, live),
    }
}

/// Running databases whose storage is not encrypted though the stack asks for it (the
/// default since issue 16): said, never planned, since AWS encrypts storage only at create
/// and a default must not replace a running resource by itself.
fn kept_unencrypted(stack: &Stack, live: &LiveState) -> Vec<String> {
    stack
        .resources
        .values()
        .filter(|r| matches!(&r.spec, Spec::Database(d) if d.storage_encrypted))
        .filter(|r| {
            live.resources
                .get(&r.address)
                .and_then(|l| l.attrs.get("storage_encrypted"))
                .is_some_and(|v| *v == crate::provider::flag(false))
        })
        .map(|r| {
            format!(
                "`{}` keeps its unencrypted storage: AWS encrypts a database only when it is \
                 created, and stackwright does not replace a running one for it (to encrypt \
                 it, restore an encrypted copy of a snapshot)",
                r.address
            )
        })
        .collect()
}

/// Replacements of instances that balancers of the stack serve are rolled: every balancer
/// listing the instance that exists in AWS and is not itself replaced.
fn mark_rollouts(stack: &Stack, live: &LiveState, changes: &mut [Change]) {
    let replaced: BTreeSet<Address> = changes
        .iter()
        .filter(|c| c.action == Action::Replace)
        .map(|c| c.address.clone())
        .collect();
    for change in changes.iter_mut() {
        if change.action != Action::Replace || change.address.kind != Kind::Instance {
            continue;
        }
        let Some(Spec::Instance(instance)) = stack.resource(&change.address).map(|r| &r.spec)
        else {
            continue;
        };
        let balancers: Vec<Address> = stack
            .resources
            .values()
            .filter(|r| match &r.spec {
                Spec::LoadBalancer(lb) => lb.instances.contains(&change.address),
                _ => false,
            })
            .map(|r| r.address.clone())
            .filter(|a| live.resources.contains_key(a) && !replaced.contains(a))
            .collect();
        if balancers.is_empty() {
            continue;
        }
        change.rolling = Some(Rollout {
            batch: instance.rolling.batch,
            health_timeout_secs: instance.rolling.health_timeout_secs,
            balancers,
        });
    }
}

/// Replacements of instances that no balancer serves but records of the stack name
/// (`${instance.x.public_dns}`): the new instance first, then every such record that
/// exists in AWS and is not itself replaced or destroyed is switched to it, then the old
/// instance goes.
fn mark_dns_switches(stack: &Stack, live: &LiveState, changes: &mut [Change]) {
    let going: BTreeSet<Address> = changes
        .iter()
        .filter(|c| matches!(c.action, Action::Replace | Action::Destroy))
        .map(|c| c.address.clone())
        .collect();
    for change in changes.iter_mut() {
        if change.action != Action::Replace
            || change.address.kind != Kind::Instance
            || change.rolling.is_some()
        {
            continue;
        }
        change.dns_switch = stack
            .resources
            .values()
            .filter(|r| match &r.spec {
                Spec::DnsRecord(d) => d
                    .records
                    .iter()
                    .flat_map(|t| t.attrs())
                    .any(|(target, _)| *target == change.address),
                _ => false,
            })
            .map(|r| r.address.clone())
            .filter(|a| live.resources.contains_key(a) && !going.contains(a))
            .collect();
    }
}

/// User data read back (`--deep`) in a stack with secrets may hold a secret's old value,
/// which no value masking can find: mask it by position ([`secrets::align`]), and call a
/// difference only there a change of secret input, not drift; show none of a text that
/// does not align.
fn mask_user_data(change: &mut Change, resource: &crate::stack::Resource, known: &Known<'_>) {
    let Spec::Instance(instance) = &resource.spec else {
        return;
    };
    for attr in change.attrs.iter_mut().filter(|a| a.name == "user_data") {
        let Some(Value::Text(live)) = &attr.before else {
            continue;
        };
        if live.starts_with("sha256:") {
            continue; // compared through its tag: a hash of placeholders, not the text
        }
        let aligned = match &instance.user_data {
            Some(template) => secrets::align(template, known, live),
            None => secrets::Aligned::Withheld,
        };
        match aligned {
            secrets::Aligned::SecretsChanged { masked, names } => {
                attr.before = Some(Value::Text(masked));
                attr.secrets_changed = names;
                attr.drift = false;
            }
            secrets::Aligned::Withheld => {
                attr.before = None;
                attr.withheld = true;
            }
        }
    }
    change.drift = change.attrs.iter().all(|a| a.drift);
}

/// Whether two values of an attribute are the same, tracked ones by their tag form.
fn same(meta: attrs::Meta, desired: &Value, live: &Value) -> bool {
    match (meta.tracked, desired, live) {
        (_, Value::Unknown, _) => false,
        (true, Value::Text(d), Value::Text(l)) => tracked_form(d) == tracked_form(l),
        _ => desired == live,
    }
}

fn compare(
    address: &Address,
    physical: String,
    desired: &BTreeMap<String, Value>,
    live: Option<&LiveResource>,
    spec: &Spec,
) -> Option<Change> {
    let kind = address.kind;
    let applied = Some(applied_tag(kind, desired));
    let Some(live) = live else {
        let attrs = attrs::meta(kind)
            .iter()
            .filter_map(|m| {
                let after = desired.get(m.name)?.clone();
                // Said only when set: every resource has it, almost always off.
                if m.name == "prevent_destroy" && after == Value::text("false") {
                    return None;
                }
                Some(AttrChange {
                    name: m.name.into(),
                    before: None,
                    after: Some(after),
                    forces_replacement: false,
                    drift: false,
                    tracked: false,
                    secrets_changed: Vec::new(),
                    withheld: false,
                    rotating: Vec::new(),
                })
            })
            .collect();
        let marks = marks(spec, None, Action::Create);
        return Some(Change {
            address: address.clone(),
            action: Action::Create,
            id: None,
            physical_name: Some(physical),
            replace_because: Vec::new(),
            attrs,
            marks,
            drift: false,
            fingerprint: None,
            applied,
            rolling: None,
            dns_switch: Vec::new(),
            moved_from: None,
            restored_from: None,
        });
    };
    let applied_codes = live.applied.as_deref().map(decode_applied);
    let mut changed = Vec::new();
    for (index, m) in attrs::meta(kind).iter().enumerate() {
        let Some(want) = desired.get(m.name) else {
            continue;
        };
        if attrs::create_only(m.name) {
            continue;
        }
        let have = live.attrs.get(m.name);
        let differs = match have {
            Some(have) => !same(*m, want, have),
            // A tracked attribute without its tag (a resource made outside stackwright)
            // cannot be compared without `--deep`: not a change.
            None if m.tracked => false,
            None => true,
        };
        if !differs {
            continue;
        }
        let mut forces = m.replace;
        // RDS storage only grows in place.
        if m.name == "storage_gb" {
            let number = |v: Option<&Value>| match v {
                Some(Value::Text(t)) => t.parse::<u64>().ok(),
                _ => None,
            };
            forces = matches!((number(Some(want)), number(have)), (Some(w), Some(h)) if w < h);
        }
        let drift = applied_codes
            .as_ref()
            .and_then(|codes| codes.get(index).cloned().flatten())
            .is_some_and(|code| code == attr_code(m.name, want));
        changed.push(AttrChange {
            name: m.name.into(),
            before: have.cloned(),
            after: Some(want.clone()),
            forces_replacement: forces,
            drift,
            tracked: m.tracked
                && !have.is_some_and(|h| matches!(h, Value::Text(t) if !t.starts_with("sha256:"))),
            secrets_changed: Vec::new(),
            withheld: false,
            rotating: Vec::new(),
        });
    }
    if changed.is_empty() {
        return None;
    }
    let replace_because: Vec<String> = changed
        .iter()
        .filter(|c| c.forces_replacement)
        .map(|c| c.name.clone())
        .collect();
    let action = if replace_because.is_empty() {
        Action::Update
    } else {
        Action::Replace
    };
    let drift = changed.iter().all(|c| c.drift);
    Some(Change {
        address: address.clone(),
        action,
        id: Some(live.id.clone()),
        physical_name: Some(physical),
        replace_because,
        marks: marks(spec, Some(live), action),
        attrs: changed,
        drift,
        fingerprint: Some(fingerprint(live)),
        applied,
        rolling: None,
        dns_switch: Vec::new(),
        moved_from: None,
        restored_from: None,
    })
}

/// Live resources the stack does not have, dependents first: the graph no longer knows
/// them, so by kind, records and balancers before instances, instances before groups.
fn destroys(stack: &Stack, live: &LiveState) -> Vec<Change> {
    let mut gone: Vec<&LiveResource> = live
        .resources
        .values()
        .filter(|r| stack.resource(&r.address).is_none())
        // Found by an `[import]` id and not tagged yet: never the stack's to destroy.
        .filter(|r| !live.imported.contains(&r.address))
        .collect();
    gone.sort_by(|a, b| {
        (a.address.kind.destroy_rank(), &b.address)
            .cmp(&(b.address.kind.destroy_rank(), &a.address))
    });
    gone.into_iter()
        .map(|r| {
            let marks = if r.address.kind == Kind::Database {
                vec![Mark::DataLoss(format!(
                    "destroys database `{}` and its data",
                    r.id
                ))]
            } else {
                Vec::new()
            };
            Change {
                address: r.address.clone(),
                action: Action::Destroy,
                id: Some(r.id.clone()),
                physical_name: None,
                replace_because: Vec::new(),
                attrs: Vec::new(),
                marks,
                drift: false,
                fingerprint: Some(fingerprint(r)),
                applied: None,
                rolling: None,
                dns_switch: Vec::new(),
                moved_from: None,
                restored_from: None,
            }
        })
        .collect()
}

/// The security-sensitive and data-loss marks of a change to a resource of `spec`, given
/// what is live (`None` for a create).
pub fn marks(spec: &Spec, live: Option<&LiveResource>, action: Action) -> Vec<Mark> {
    let mut marks = BTreeSet::new();
    match spec {
        Spec::SecurityGroup(sg) => {
            let before: Vec<ParsedRule> = match live.and_then(|l| l.attrs.get("ingress")) {
                Some(Value::List(rules)) => {
                    rules.iter().filter_map(|r| ParsedRule::parse(r)).collect()
                }
                _ => Vec::new(),
            };
            for rule in &sg.ingress {
                let text = rule.to_string();
                if before.iter().any(|b| b.text == text) {
                    continue;
                }
                if let Some(reason) = opens(rule, &before) {
                    marks.insert(Mark::SecuritySensitive(reason));
                }
            }
        }
        Spec::Database(d) => {
            let was_public =
                live.and_then(|l| l.attrs.get("publicly_accessible")) == Some(&Value::text("true"));
            if d.publicly_accessible && !was_public {
                marks.insert(Mark::SecuritySensitive(
                    "makes the database reachable from the internet".into(),
                ));
            }
            if action == Action::Replace {
                marks.insert(Mark::DataLoss(format!(
                    "replaces database `{}`: the new one starts empty",
                    live.map_or("", |l| l.id.as_str())
                )));
            }
        }
        _ => {}
    }
    marks.into_iter().collect()
}

/// A live rule's text taken apart, to compare ranges.
struct ParsedRule {
    text: String,
    protocol: String,
    ports: Option<(u32, u32)>,
    source: String,
}

impl ParsedRule {
    fn parse(text: &str) -> Option<ParsedRule> {
        let mut words = text.split_whitespace();
        let protocol = words.next()?.to_string();
        let mut next = words.next()?;
        let mut ports = None;
        if next != "from" {
            let (a, b) = next.split_once('-').unwrap_or((next, next));
            ports = Some((a.parse().ok()?, b.parse().ok()?));
            next = words.next()?;
        }
        (next == "from").then_some(())?;
        Some(ParsedRule {
            text: text.to_string(),
            protocol,
            ports,
            source: words.next()?.to_string(),
        })
    }
}

/// Why adding `rule` opens access, if it does: from anywhere to anything but 80 and 443,
/// or a wider range than the same protocol and source had.
fn opens(rule: &Rule, before: &[ParsedRule]) -> Option<String> {
    let source = rule
        .to_string()
        .split_whitespace()
        .skip_while(|w| *w != "from")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let anywhere = matches!(source.as_str(), "0.0.0.0/0" | "::/0");
    let web_only =
        matches!(rule.ports, Some((80, 80)) | Some((443, 443))) && rule.protocol == "tcp";
    let protocol = if rule.protocol == "-1" {
        "all"
    } else {
        rule.protocol.as_str()
    };
    let ports = rule.ports.map(|(a, b)| (u32::from(a), u32::from(b)));
    if anywhere && !web_only {
        let shown = match rule.ports {
            Some((a, b)) if a == b => format!("{protocol} {a}"),
            Some((a, b)) => format!("{protocol} {a}-{b}"),
            None => format!("{protocol} traffic"),
        };
        return Some(format!("opens {shown} to {source}"));
    }
    let width = |p: Option<(u32, u32)>| p.map_or(65536, |(a, b)| b - a + 1);
    for b in before
        .iter()
        .filter(|b| b.protocol == protocol && b.source == source)
    {
        if width(ports) > width(b.ports) {
            return Some(format!(
                "widens {protocol} from {source} beyond {}",
                b.text.split(" from ").next().unwrap_or_default()
            ));
        }
    }
    None
}

/// A 4-hex-digit code of one attribute's desired value: enough to tell "the stack still
/// says what was applied" from "the stack changed", not a security boundary.
fn attr_code(name: &str, value: &Value) -> String {
    let text = match value {
        Value::Text(t) => tracked_form(t),
        Value::List(items) => items.join("\n"),
        Value::Unknown => return "----".into(),
    };
    let digest = Sha256::digest(format!("{name}={text}").as_bytes());
    format!("{:02x}{:02x}", digest[0], digest[1])
}

/// The `stackwright:applied` tag for these desired attributes: one code per attribute of
/// the kind, in [`attrs::meta`] order, `----` where unmanaged or unknown.
pub fn applied_tag(kind: Kind, desired: &BTreeMap<String, Value>) -> String {
    attrs::meta(kind)
        .iter()
        .map(|m| {
            desired
                .get(m.name)
                .map_or_else(|| "----".to_string(), |v| attr_code(m.name, v))
        })
        .collect()
}

fn decode_applied(tag: &str) -> Vec<Option<String>> {
    tag.as_bytes()
        .chunks(4)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .filter(|s| *s != "----")
                .map(String::from)
        })
        .collect()
}

/// The resource as a complete apply leaves it: the desired attributes (tracked ones in the
/// form their `stackwright:attr:` tags hold) and the `stackwright:applied` tag. Apply tags
/// with exactly this; tests build converged live state from it.
pub fn after_apply(
    address: &Address,
    id: String,
    desired: &BTreeMap<String, Value>,
    outputs: BTreeMap<String, String>,
) -> LiveResource {
    let mut attrs = desired.clone();
    for m in attrs::meta(address.kind).iter().filter(|m| m.tracked) {
        if let Some(Value::Text(t)) = attrs.get_mut(m.name) {
            *t = tracked_form(t);
        }
    }
    LiveResource {
        address: address.clone(),
        id,
        attrs,
        outputs,
        applied: Some(applied_tag(address.kind, desired)),
        expires: None,
    }
}

/// The stack's outputs from what is known of its resources: `None` where an output
/// refers to a resource that does not exist (yet).
pub fn outputs(
    stack: &Stack,
    known: &BTreeMap<Address, LiveResource>,
) -> BTreeMap<String, Option<String>> {
    let view: Known<'_> = known.iter().map(|(a, r)| (a.clone(), Some(r))).collect();
    stack
        .outputs
        .iter()
        .map(|(name, template)| {
            let value = match attrs::render(template, &view) {
                Value::Text(t) => Some(t),
                _ => None,
            };
            (name.clone(), value)
        })
        .collect()
}

/// A short hash of a live resource as read: `apply FILE` compares it to refuse stale plans.
pub fn fingerprint(live: &LiveResource) -> String {
    let json = serde_json::to_string(&(&live.id, &live.attrs)).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
