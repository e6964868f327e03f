//! A CloudFormation change set as a stackwright plan, and a stack's events as an apply
//! report. No I/O: the AWS provider fetches, this decides.
//!
//! 1. [`View`]: what a template (the one deployed, or the one about to be) says of each
//!    address, in stackwright's attribute names. Properties are named as the stack names
//!    them (`ImageId` → `ami`), rule resources fold back into their group's `ingress` /
//!    `egress` in the planner's rule form (`tcp 22 from 0.0.0.0/0`), references read
//!    `${kind.name.attr}` and secrets `${secret.NAME}` (printed `(sensitive)`).
//! 2. [`plan`]: CloudFormation decides the actions (its change set: add, modify, with or
//!    without replacement, remove); the two views give each change its attribute diffs,
//!    and the planner's security and data-loss marks are made as for a direct plan, so
//!    the same gates apply.
//! 3. [`Tracker`]: the stack events of an execution, fed to the apply [`Reporter`] as they
//!    come and summed up as an apply [`Report`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};

use super::{GET_ATT, META_ADDRESS, META_PREVENT_DESTROY, META_RULE, ref_attribute};
use crate::apply::{Outcome, Report, Reporter, Step};
use crate::graph::Graph;
use crate::plan::{self, Action, AttrChange, Change, Mark, Plan, attrs};
pub use crate::provider::cloudformation::{
    Parameter, ResourceChange, STACK_TYPE, StackEvent, StackInfo, settled,
};
use crate::provider::{LiveResource, LiveState, Value, flag};
use crate::stack::{Address, Kind, Stack};

/// What a template says of each address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    /// Logical id → the address it stands for, and for a rule resource its list
    /// (`ingress` or `egress`).
    pub logical: BTreeMap<String, (Address, Option<String>)>,
    /// Address → attributes, in the planner's names and forms.
    pub attrs: BTreeMap<Address, BTreeMap<String, Value>>,
}

impl View {
    /// The view of `template`; resources without stackwright's metadata are left out.
    pub fn of(template: &Json) -> View {
        let mut view = View::default();
        let Some(resources) = template["Resources"].as_object() else {
            return view;
        };
        for (id, r) in resources {
            let meta = &r["Metadata"];
            let Some(address) = meta[META_ADDRESS]
                .as_str()
                .and_then(|a| a.parse::<Address>().ok())
            else {
                continue;
            };
            let rule = meta[META_RULE].as_str().map(String::from);
            view.logical.insert(id.clone(), (address, rule));
        }
        let secrets: BTreeMap<String, String> = template["Metadata"]["stackwright"]["secrets"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let names = Names {
            logical: &view.logical,
            secrets: &secrets,
        };
        let mut rules: BTreeMap<(Address, String), Vec<String>> = BTreeMap::new();
        let mut attrs: BTreeMap<Address, BTreeMap<String, Value>> = BTreeMap::new();
        for (id, (address, rule)) in &view.logical {
            let r = &resources[id];
            let props = r["Properties"].as_object().cloned().unwrap_or_default();
            if let Some(list) = rule {
                let group = props
                    .get("GroupId")
                    .and_then(|g| names.logical_of(g))
                    .unwrap_or_default();
                rules
                    .entry((address.clone(), list.clone()))
                    .or_default()
                    .push(rule_text(&props, group, &names));
                continue;
            }
            let out = attrs.entry(address.clone()).or_default();
            for (property, value) in &props {
                match property.as_str() {
                    "Tags" => {
                        let user = value.as_array().into_iter().flatten().filter_map(|t| {
                            let key = t["Key"].as_str()?;
                            (!crate::provider::is_own_tag(key))
                                .then(|| format!("{key}={}", names.text(&t["Value"])))
                        });
                        out.insert("tags".into(), Value::list(user));
                    }
                    "SecurityGroupIngress" | "SecurityGroupEgress" => {
                        let list = if property == "SecurityGroupIngress" {
                            "ingress"
                        } else {
                            "egress"
                        };
                        let texts = value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|rule| Some(rule_text(rule.as_object()?, id, &names)));
                        rules
                            .entry((address.clone(), list.into()))
                            .or_default()
                            .extend(texts);
                    }
                    "BlockDeviceMappings" => {
                        let size = &value[0]["Ebs"]["VolumeSize"];
                        if !size.is_null() {
                            out.insert("root_volume_gb".into(), Value::Text(names.text(size)));
                        }
                    }
                    "Listeners" => {
                        let listeners = value.as_array().into_iter().flatten().map(|l| {
                            let t = |k: &str| names.text(&l[k]);
                            let mut text = format!(
                                "{}:{} -> {}:{}",
                                t("Protocol"),
                                t("LoadBalancerPort"),
                                t("InstanceProtocol"),
                                t("InstancePort")
                            );
                            if !l["SSLCertificateId"].is_null() {
                                text.push_str(&format!(" cert={}", t("SSLCertificateId")));
                            }
                            text
                        });
                        out.insert("listeners".into(), Value::list(listeners));
                    }
                    "HealthCheck" => {
                        let t = |k: &str| names.text(&value[k]);
                        let text = format!(
                            "{} every {}s, timeout {}s, unhealthy {}, healthy {}",
                            t("Target"),
                            t("Interval"),
                            t("Timeout"),
                            t("UnhealthyThreshold"),
                            t("HealthyThreshold")
                        );
                        out.insert("health_check".into(), Value::Text(text));
                    }
                    "HostedZoneName" => {
                        let zone = names.text(value).trim_end_matches('.').to_string();
                        out.insert("zone".into(), Value::Text(zone));
                    }
                    _ => {
                        let name = attribute_name(address.kind, property);
                        // Lists of the stack's groups and instances name them by address,
                        // as the stack does.
                        let by_address = matches!(name, "security_groups" | "instances");
                        let value = match value {
                            Json::Array(items) if by_address => {
                                Value::list(items.iter().map(|i| {
                                    names
                                        .logical_of(i)
                                        .and_then(|id| names.logical.get(id))
                                        .map_or_else(|| names.text(i), |(a, _)| a.to_string())
                                }))
                            }
                            Json::Array(items) => Value::list(items.iter().map(|i| names.text(i))),
                            other => Value::Text(names.text(other)),
                        };
                        out.insert(name.to_string(), value);
                    }
                }
            }
            let protected = meta_flag(&r["Metadata"][META_PREVENT_DESTROY]);
            out.insert("prevent_destroy".into(), flag(protected));
        }
        for ((address, list), texts) in rules {
            if let Some(out) = attrs.get_mut(&address) {
                out.insert(list, Value::list(texts));
            }
        }
        view.attrs = attrs;
        view
    }

    /// The view of only the resources that exist (those with a physical id in `ids`,
    /// by logical id): what a stack whose create rolled back still lists is gone.
    pub fn existing(&self, ids: &BTreeMap<String, String>) -> View {
        let logical: BTreeMap<String, (Address, Option<String>)> = self
            .logical
            .iter()
            .filter(|(id, _)| ids.contains_key(*id))
            .map(|(id, a)| (id.clone(), a.clone()))
            .collect();
        let attrs = self
            .attrs
            .iter()
            .filter(|(address, _)| {
                logical
                    .values()
                    .any(|(a, rule)| a == *address && rule.is_none())
            })
            .map(|(a, attrs)| (a.clone(), attrs.clone()))
            .collect();
        View { logical, attrs }
    }

    /// The address a logical id stands for.
    pub fn address(&self, logical_id: &str) -> Option<&Address> {
        self.logical.get(logical_id).map(|(a, _)| a)
    }

    /// The view as live state, for the planner's marks and the gates; `ids` are the
    /// physical ids CloudFormation knows (by logical id).
    pub fn live(&self, ids: &BTreeMap<String, String>) -> LiveState {
        let mut state = LiveState::default();
        for (address, attrs) in &self.attrs {
            let id = self
                .logical
                .iter()
                .find(|(logical, (a, rule))| {
                    a == address && rule.is_none() && ids.contains_key(*logical)
                })
                .and_then(|(logical, _)| ids.get(logical))
                .cloned()
                .unwrap_or_default();
            state.insert(LiveResource {
                address: address.clone(),
                id,
                attrs: attrs.clone(),
                outputs: BTreeMap::new(),
                applied: None,
            });
        }
        state
    }
}

fn meta_flag(value: &Json) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

/// The stack's name for a CloudFormation property, where it has one.
fn attribute_name(kind: Kind, property: &str) -> &str {
    if property == "Tags" {
        return "tags";
    }
    let table: &[(&str, &str)] = match kind {
        Kind::SecurityGroup => &[("GroupName", "name"), ("GroupDescription", "description")],
        Kind::KeyPair => &[("KeyName", "name"), ("PublicKeyMaterial", "public_key")],
        Kind::LoadBalancer => &[
            ("LoadBalancerName", "name"),
            ("AvailabilityZones", "availability_zones"),
            ("Listeners", "listeners"),
            ("HealthCheck", "health_check"),
            ("Instances", "instances"),
            ("SecurityGroups", "security_groups"),
            ("CrossZone", "cross_zone"),
        ],
        Kind::Database => &[
            ("DBInstanceIdentifier", "identifier"),
            ("Engine", "engine"),
            ("EngineVersion", "engine_version"),
            ("DBInstanceClass", "instance_class"),
            ("AllocatedStorage", "storage_gb"),
            ("StorageType", "storage_type"),
            ("MasterUsername", "master_username"),
            ("MasterUserPassword", "master_password"),
            ("DBName", "db_name"),
            ("Port", "port"),
            ("VPCSecurityGroups", "security_groups"),
            ("AvailabilityZone", "availability_zone"),
            ("MultiAZ", "multi_az"),
            ("BackupRetentionPeriod", "backup_retention_days"),
            ("PubliclyAccessible", "publicly_accessible"),
            ("DeletionProtection", "deletion_protection"),
        ],
        Kind::Instance => &[
            ("ImageId", "ami"),
            ("InstanceType", "instance_type"),
            ("AvailabilityZone", "availability_zone"),
            ("KeyName", "key_name"),
            ("SecurityGroupIds", "security_groups"),
            ("BlockDeviceMappings", "root_volume_gb"),
            ("InstanceInitiatedShutdownBehavior", "shutdown_behavior"),
            ("UserData", "user_data"),
        ],
        Kind::DnsRecord => &[
            ("HostedZoneName", "zone"),
            ("Name", "fqdn"),
            ("Type", "type"),
            ("TTL", "ttl"),
            ("ResourceRecords", "records"),
        ],
    };
    table
        .iter()
        .find(|(p, _)| *p == property)
        .map_or(property, |(_, a)| a)
}

/// What logical ids and secret parameters stand for, to print template values in the
/// stack's words.
struct Names<'a> {
    logical: &'a BTreeMap<String, (Address, Option<String>)>,
    /// Parameter → secret name.
    secrets: &'a BTreeMap<String, String>,
}

impl Names<'_> {
    /// A template value as text: intrinsic functions as `${kind.name.attr}` references,
    /// numbers and flags as text, objects as compact JSON of such texts.
    fn text(&self, value: &Json) -> String {
        match self.plain(value) {
            Json::String(s) => s,
            other => other.to_string(),
        }
    }

    fn plain(&self, value: &Json) -> Json {
        match value {
            Json::String(_) => value.clone(),
            Json::Number(n) => Json::String(n.to_string()),
            Json::Bool(b) => Json::String(b.to_string()),
            Json::Null => Json::String(String::new()),
            Json::Array(items) => Json::Array(items.iter().map(|i| self.plain(i)).collect()),
            Json::Object(m) => {
                if m.len() == 1
                    && let Some((function, arg)) = m.iter().next()
                {
                    match (function.as_str(), arg) {
                        ("Ref", Json::String(id)) => return Json::String(self.reference(id)),
                        ("Fn::GetAtt", Json::Array(parts)) => {
                            let id = parts.first().and_then(Json::as_str).unwrap_or_default();
                            let attr = parts.get(1).and_then(Json::as_str).unwrap_or_default();
                            return Json::String(self.get_att(id, attr));
                        }
                        ("Fn::Base64", inner) => return self.plain(inner),
                        ("Fn::Sub", Json::String(text)) => {
                            return Json::String(self.sub(text, &Map::new()));
                        }
                        ("Fn::Sub", Json::Array(parts)) => {
                            let text = parts.first().and_then(Json::as_str).unwrap_or_default();
                            let vars = parts.get(1).and_then(Json::as_object).cloned();
                            return Json::String(self.sub(text, &vars.unwrap_or_default()));
                        }
                        _ => {}
                    }
                }
                Json::Object(m.iter().map(|(k, v)| (k.clone(), self.plain(v))).collect())
            }
        }
    }

    fn reference(&self, id: &str) -> String {
        if let Some(secret) = self.secrets.get(id) {
            return format!("${{secret.{secret}}}");
        }
        match self.logical.get(id) {
            Some((address, _)) => format!("${{{address}.{}}}", ref_attribute(address.kind)),
            None => format!("${{{id}}}"),
        }
    }

    fn get_att(&self, id: &str, attr: &str) -> String {
        match self.logical.get(id) {
            Some((address, _)) => {
                let name = GET_ATT
                    .iter()
                    .find(|(kind, _, cfn)| *kind == address.kind && *cfn == attr)
                    .map_or(attr, |(_, name, _)| name);
                format!("${{{address}.{name}}}")
            }
            None => format!("${{{id}.{attr}}}"),
        }
    }

    /// `Fn::Sub`'s text with its variables read: `${!x}` is a literal `${x}`.
    fn sub(&self, text: &str, vars: &Map<String, Json>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                out.push_str("${");
                rest = literal;
                continue;
            }
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let var = &after[..end];
            let value = match (vars.get(var), var.split_once('.')) {
                (Some(v), _) => self.text(v),
                (None, Some((id, attr))) => self.get_att(id, attr),
                (None, None) => self.reference(var),
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The logical id a `GroupId` (`Fn::GetAtt [X, GroupId]`) names.
    fn logical_of<'v>(&self, value: &'v Json) -> Option<&'v str> {
        value["Fn::GetAtt"][0].as_str().or(value["Ref"].as_str())
    }
}

/// A rule as the planner writes it (`tcp 0-65535 from self`), from CloudFormation's
/// properties; `group` is the logical id of the group it belongs to.
fn rule_text(props: &Map<String, Json>, group: &str, names: &Names<'_>) -> String {
    let text = |k: &str| props.get(k).map(|v| names.text(v));
    let protocol = match text("IpProtocol").as_deref() {
        Some("-1") | None => "all".to_string(),
        Some(p) => p.to_string(),
    };
    let mut out = protocol;
    match (text("FromPort"), text("ToPort")) {
        (Some(a), Some(b)) if a != "-1" && a == b => out.push_str(&format!(" {a}")),
        (Some(a), Some(b)) if a != "-1" => out.push_str(&format!(" {a}-{b}")),
        _ => {}
    }
    out.push_str(" from ");
    let group_source = ["SourceSecurityGroupId", "DestinationSecurityGroupId"]
        .iter()
        .find_map(|k| props.get(*k));
    let source = match group_source {
        Some(g) => match names.logical_of(g) {
            Some(id) if id == group => "self".to_string(),
            Some(id) => names
                .logical
                .get(id)
                .map_or_else(|| id.to_string(), |(a, _)| a.to_string()),
            None => names.text(g),
        },
        None => text("CidrIp")
            .or_else(|| text("CidrIpv6"))
            .unwrap_or_default(),
    };
    out.push_str(&source);
    if let Some(d) = text("Description") {
        out.push_str(&format!(" {d:?}"));
    }
    out
}

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
        });
    }
    finish(stack, order(Some(graph), out), warnings)
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
        engine: plan::Engine::Cloudformation,
        summary: plan::Summary::of(&changes),
        changes,
        warnings,
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
            }
        })
        .collect();
    finish(stack, order(None, changes), Vec::new())
}

/// Follows an execution's stack events. An address's step starts with the first event of
/// any of its resources (a group's rules are its resources too) and ends when every one of
/// its resources the execution touches is `…_COMPLETE`, or at the first `…_FAILED`. Once
/// the stack rolls back nothing more is done; a failure of a step already ended (an old
/// resource CloudFormation could not delete after a replacement) is a warning.
pub struct Tracker {
    steps: BTreeMap<Address, Step>,
    /// The plan's order, which steps without events of their own are reported in.
    order: Vec<Address>,
    logical: BTreeMap<String, Address>,
    /// Per address, the logical ids the execution touches that are not complete yet.
    outstanding: BTreeMap<Address, BTreeSet<String>>,
    reporter: Arc<dyn Reporter>,
    started: BTreeMap<Address, Instant>,
    finished: BTreeSet<Address>,
    report: Report,
    warnings: Vec<String>,
    rolling_back: bool,
    began: Instant,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("steps", &self.steps.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker of `plan`'s changes. `views` say which logical ids stand for which
    /// addresses (the new template's and the deployed one's); `touched` are the logical
    /// ids the execution changes (the change set's, or every resource of a stack deleted).
    pub fn new(
        plan: &Plan,
        views: &[&View],
        touched: &BTreeSet<String>,
        reporter: Arc<dyn Reporter>,
    ) -> Tracker {
        let steps: BTreeMap<Address, Step> = plan
            .changes
            .iter()
            .map(|c| {
                (
                    c.address.clone(),
                    Step {
                        address: c.address.clone(),
                        action: c.action,
                    },
                )
            })
            .collect();
        let mut logical = BTreeMap::new();
        for view in views {
            for (id, (address, _)) in &view.logical {
                logical.entry(id.clone()).or_insert_with(|| address.clone());
            }
        }
        let mut outstanding: BTreeMap<Address, BTreeSet<String>> = BTreeMap::new();
        for id in touched {
            if let Some(address) = logical.get(id).filter(|a| steps.contains_key(*a)) {
                outstanding
                    .entry(address.clone())
                    .or_default()
                    .insert(id.clone());
            }
        }
        Tracker {
            order: plan.changes.iter().map(|c| c.address.clone()).collect(),
            steps,
            logical,
            outstanding,
            reporter,
            started: BTreeMap::new(),
            finished: BTreeSet::new(),
            report: Report::default(),
            warnings: Vec::new(),
            rolling_back: false,
            began: Instant::now(),
        }
    }

    /// One event, in the order CloudFormation wrote them.
    pub fn event(&mut self, e: &StackEvent) {
        if e.resource_type == STACK_TYPE {
            if e.status.contains("ROLLBACK") {
                self.rolling_back = true;
            }
            return;
        }
        let failed = e.status.ends_with("_FAILED");
        let reason = || {
            format!(
                "{} {}: {}",
                e.logical_id,
                e.status,
                e.reason.as_deref().unwrap_or("no reason given")
            )
        };
        let Some(step) = self
            .logical
            .get(&e.logical_id)
            .and_then(|a| self.steps.get(a))
            .cloned()
        else {
            if failed {
                self.warnings.push(reason());
            }
            return;
        };
        if self.finished.contains(&step.address) {
            if failed {
                self.warnings
                    .push(format!("`{}`: {}", step.address, reason()));
            }
            return;
        }
        if self.rolling_back {
            // Undoing, not doing: said, but it ends nothing.
            if self.started.contains_key(&step.address) {
                self.reporter
                    .progress(&step, &format!("rolling back: {}", e.status));
            }
            return;
        }
        self.start(&step);
        if failed {
            let why = e.reason.clone().unwrap_or_else(|| e.status.clone());
            self.end(&step, Outcome::Failed(why));
        } else if e.status.ends_with("_COMPLETE") {
            let left = self.outstanding.entry(step.address.clone()).or_default();
            left.remove(&e.logical_id);
            if left.is_empty() {
                self.end(&step, Outcome::Done);
            } else {
                self.reporter
                    .progress(&step, &format!("{} {}", e.logical_id, e.status));
            }
        } else {
            self.reporter.progress(&step, &e.status);
        }
    }

    fn start(&mut self, step: &Step) {
        if !self.started.contains_key(&step.address) {
            self.started.insert(step.address.clone(), Instant::now());
            self.reporter.started(step);
        }
    }

    fn end(&mut self, step: &Step, outcome: Outcome) {
        let elapsed = self
            .started
            .get(&step.address)
            .map_or(Duration::ZERO, Instant::elapsed);
        self.reporter.finished(step, &outcome, elapsed);
        self.finished.insert(step.address.clone());
        match outcome {
            Outcome::Done => self.report.done.push(step.clone()),
            Outcome::Failed(m) => self.report.failed.push((step.clone(), m)),
            Outcome::Skipped(r) => self.report.skipped.push((step.clone(), r)),
        }
    }

    /// The report once the stack settled at `status`, which is what was asked for when
    /// `reached` (CREATE or UPDATE_COMPLETE for an apply, DELETE_COMPLETE for a destroy),
    /// or once the follow was `cancelled`; and the warnings. Steps with no event of their
    /// own (the emulator writes none per resource) are done when the stack is; when it
    /// rolled back, nothing of the change set was kept.
    pub fn finish(mut self, status: &str, reached: bool, cancelled: bool) -> (Report, Vec<String>) {
        let ok = reached && !cancelled;
        let open: Vec<Step> = self
            .order
            .iter()
            .filter(|a| !self.finished.contains(*a))
            .filter_map(|a| self.steps.get(a).cloned())
            .collect();
        for step in open {
            if ok {
                self.start(&step);
                self.end(&step, Outcome::Done);
            } else {
                let why = if cancelled {
                    "no longer followed: CloudFormation carries on".to_string()
                } else {
                    format!("the stack settled at {status}")
                };
                self.end(&step, Outcome::Skipped(why));
            }
        }
        if !ok && !cancelled && status.contains("ROLLBACK") {
            let undone = std::mem::take(&mut self.report.done);
            self.report.skipped.extend(
                undone
                    .into_iter()
                    .map(|s| (s, "rolled back by CloudFormation".to_string())),
            );
        }
        self.report.cancelled = cancelled;
        self.report.elapsed = self.began.elapsed();
        (self.report, self.warnings)
    }
}

#[cfg(test)]
mod tests;
