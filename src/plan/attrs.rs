//! What each kind's attributes are called, which force replacement, and the desired value
//! of each, derived from the model.
//!
//! The names and text forms here are the ones the provider reads live state into, so a
//! converged stack compares equal attribute by attribute.

use std::collections::BTreeMap;

use crate::provider::{LiveResource, Secret, Value, flag};
use crate::stack::model::{GroupRef, Spec};
use crate::stack::template::{Part, Template};
use crate::stack::{Address, Kind, Resource};

/// One attribute of a kind.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub name: &'static str,
    /// Changing it means a new resource (AWS cannot change it in place).
    pub replace: bool,
    /// AWS returns it only per resource: compared through its `stackwright:attr:` tag.
    pub tracked: bool,
}

const fn m(name: &'static str, replace: bool, tracked: bool) -> Meta {
    Meta {
        name,
        replace,
        tracked,
    }
}

/// A kind's attributes, in a fixed order (the `stackwright:applied` tag depends on it:
/// append only).
pub fn meta(kind: Kind) -> &'static [Meta] {
    match kind {
        Kind::SecurityGroup => {
            const {
                &[
                    m("name", true, false),
                    m("description", true, false),
                    m("ingress", false, false),
                    m("egress", false, false),
                    m("tags", false, false),
                    m("prevent_destroy", false, false),
                    m("vpc", true, false),
                ]
            }
        }
        Kind::KeyPair => {
            const {
                &[
                    m("name", true, false),
                    m("public_key", true, true),
                    m("tags", false, false),
                    m("prevent_destroy", false, false),
                ]
            }
        }
        Kind::LoadBalancer => {
            const {
                &[
                    m("name", true, false),
                    m("availability_zones", false, false),
                    m("listeners", false, false),
                    m("health_check", false, false),
                    m("instances", false, false),
                    m("security_groups", false, false),
                    m("cross_zone", false, true),
                    m("tags", false, false),
                    m("prevent_destroy", false, false),
                    m("subnets", true, false),
                ]
            }
        }
        Kind::Database => {
            const {
                &[
                    m("identifier", true, false),
                    m("engine", true, false),
                    m("engine_version", false, false),
                    m("instance_class", false, false),
                    m("storage_gb", false, false),
                    m("storage_type", false, false),
                    m("master_username", true, false),
                    m("db_name", true, false),
                    m("port", false, false),
                    m("security_groups", false, false),
                    m("availability_zone", true, false),
                    m("multi_az", false, false),
                    m("backup_retention_days", false, false),
                    m("publicly_accessible", false, false),
                    m("deletion_protection", false, false),
                    m("tags", false, false),
                    m("prevent_destroy", false, false),
                    m("storage_encrypted", false, false),
                    m("subnets", false, false),
                ]
            }
        }
        Kind::Instance => {
            const {
                &[
                    m("ami", true, false),
                    m("instance_type", false, false),
                    m("availability_zone", true, false),
                    m("key_name", true, false),
                    m("security_groups", false, false),
                    m("root_volume_gb", true, true),
                    m("shutdown_behavior", false, true),
                    m("user_data", true, true),
                    m("tags", false, false),
                    m("prevent_destroy", false, false),
                    m("metadata_tokens", false, false),
                    m("root_volume_encrypted", false, false),
                    m("subnet", true, false),
                ]
            }
        }
        Kind::DnsRecord => {
            const {
                &[
                    m("zone", true, false),
                    m("fqdn", true, false),
                    m("type", true, false),
                    m("ttl", false, false),
                    m("records", false, false),
                    m("prevent_destroy", false, false),
                ]
            }
        }
    }
}

/// Settings AWS takes only when a resource is created and cannot change in place: shown
/// for a new resource, never a change (let alone a replacement) of a running one. A
/// default that changed under a running resource must not replace it (issue 16).
pub fn create_only(name: &str) -> bool {
    matches!(name, "storage_encrypted" | "root_volume_encrypted")
}

pub fn meta_of(kind: Kind, name: &str) -> Option<Meta> {
    meta(kind).iter().copied().find(|a| a.name == name)
}

/// What `${address.attr}` resolves to at plan time: the live outputs of resources that
/// exist and stay; `None` for those being created or replaced.
pub type Known<'a> = BTreeMap<Address, Option<&'a LiveResource>>;

/// A template's value: secrets as `${secret.NAME}` (never their value), other resources'
/// attributes from live state, or `Unknown` if any is not known before apply.
pub fn render(template: &Template, known: &Known<'_>) -> Value {
    let mut out = String::new();
    for part in &template.parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Secret(name) => out.push_str(&format!("${{secret.{name}}}")),
            Part::Attr { target, attr } => {
                match known
                    .get(target)
                    .copied()
                    .flatten()
                    .and_then(|live| live.outputs.get(attr))
                {
                    Some(v) => out.push_str(v),
                    None => return Value::Unknown,
                }
            }
        }
    }
    Value::Text(out)
}

/// A template's value for AWS: secrets filled in from `secrets`, attributes from `known`.
/// Only apply calls this, and only for the settings AWS needs secrets in.
pub fn render_secret(
    template: &Template,
    known: &Known<'_>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<Secret, String> {
    let mut out = String::new();
    for part in &template.parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Secret(name) => match secrets.get(name) {
                Some(v) => out.push_str(v.expose()),
                None => return Err(format!("secret `{name}` is not set")),
            },
            Part::Attr { target, attr } => match known
                .get(target)
                .copied()
                .flatten()
                .and_then(|live| live.outputs.get(attr))
            {
                Some(v) => out.push_str(v),
                None => return Err(format!("`{target}.{attr}` is not known")),
            },
        }
    }
    Ok(Secret::new(out))
}

fn groups(list: &[GroupRef]) -> Value {
    Value::list(list.iter().map(ToString::to_string))
}

/// The desired attributes of `resource`. Attributes the stack leaves to AWS (egress when
/// omitted, optional settings not given) are absent: absent means not managed.
pub fn desired(resource: &Resource, known: &Known<'_>) -> BTreeMap<String, Value> {
    let mut a: BTreeMap<String, Value> = BTreeMap::new();
    // Kept in AWS too (a tag, or the record's claim), so that removing a protected
    // resource from the stack is refused as well.
    a.insert("prevent_destroy".into(), flag(resource.prevent_destroy));
    let mut put = |k: &str, v: Value| {
        a.insert(k.to_string(), v);
    };
    let name = || Value::text(&resource.physical_name);
    let mut tags: Vec<Value> = Vec::new();
    let mut tag_text: Vec<String> = Vec::new();
    for (k, t) in &resource.tags {
        match render(t, known) {
            Value::Text(v) => tag_text.push(format!("{k}={v}")),
            other => tags.push(other),
        }
    }
    match &resource.spec {
        Spec::SecurityGroup(sg) => {
            put("name", name());
            put("description", Value::text(&sg.description));
            put(
                "ingress",
                Value::list(sg.ingress.iter().map(ToString::to_string)),
            );
            if let Some(egress) = &sg.egress {
                put(
                    "egress",
                    Value::list(egress.iter().map(ToString::to_string)),
                );
            }
            if let Some(vpc) = &sg.vpc {
                put("vpc", Value::text(vpc));
            }
        }
        Spec::KeyPair(k) => {
            put("name", name());
            put(
                "public_key",
                Value::text(crate::provider::public_key_form(&k.public_key)),
            );
        }
        Spec::LoadBalancer(lb) => {
            put("name", name());
            if lb.subnets.is_empty() {
                put(
                    "availability_zones",
                    Value::list(lb.availability_zones.iter().cloned()),
                );
            } else {
                put("subnets", Value::list(lb.subnets.iter().cloned()));
            }
            put(
                "listeners",
                Value::list(lb.listeners.iter().map(ToString::to_string)),
            );
            if let Some(h) = &lb.health_check {
                put("health_check", Value::text(h.to_string()));
            }
            put(
                "instances",
                Value::list(lb.instances.iter().map(ToString::to_string)),
            );
            if !lb.security_groups.is_empty() {
                put("security_groups", groups(&lb.security_groups));
            }
            put("cross_zone", flag(lb.cross_zone));
        }
        Spec::Database(d) => {
            put("identifier", name());
            put("engine", Value::text(&d.engine));
            if let Some(v) = &d.engine_version {
                put("engine_version", Value::text(v));
            }
            put("instance_class", Value::text(&d.instance_class));
            put("storage_gb", Value::text(d.storage_gb.to_string()));
            if let Some(v) = &d.storage_type {
                put("storage_type", Value::text(v));
            }
            put("master_username", Value::text(&d.master_username));
            if let Some(v) = &d.db_name {
                put("db_name", Value::text(v));
            }
            if let Some(p) = d.port {
                put("port", Value::text(p.to_string()));
            }
            if !d.security_groups.is_empty() {
                put("security_groups", groups(&d.security_groups));
            }
            if let Some(z) = &d.availability_zone {
                put("availability_zone", Value::text(z));
            }
            put("multi_az", flag(d.multi_az));
            put(
                "backup_retention_days",
                Value::text(d.backup_retention_days.to_string()),
            );
            put("publicly_accessible", flag(d.publicly_accessible));
            put("deletion_protection", flag(d.deletion_protection));
            put("storage_encrypted", flag(d.storage_encrypted));
            if !d.subnets.is_empty() {
                put("subnets", Value::list(d.subnets.iter().cloned()));
            }
        }
        Spec::Instance(i) => {
            put("ami", Value::text(&i.ami));
            put("instance_type", Value::text(&i.instance_type));
            if let Some(z) = &i.availability_zone {
                put("availability_zone", Value::text(z));
            }
            if let Some(k) = &i.key_name {
                put("key_name", render(k, known));
            }
            if !i.security_groups.is_empty() {
                put("security_groups", groups(&i.security_groups));
            }
            if let Some(gb) = i.root_volume_gb {
                put("root_volume_gb", Value::text(gb.to_string()));
            }
            put(
                "shutdown_behavior",
                Value::text(i.shutdown_behavior.as_str()),
            );
            if let Some(ud) = &i.user_data {
                put("user_data", render(ud, known));
            }
            put("metadata_tokens", Value::text(i.metadata_tokens.as_str()));
            put("root_volume_encrypted", flag(i.root_volume_encrypted));
            if let Some(subnet) = &i.subnet {
                put("subnet", Value::text(subnet));
            }
            // An instance's name is its Name tag.
            if !resource.tags.contains_key("Name") {
                tag_text.push(format!("Name={}", resource.physical_name));
            }
        }
        Spec::DnsRecord(d) => {
            put("zone", Value::text(&d.zone));
            put("fqdn", Value::text(&d.fqdn));
            put("type", Value::text(&d.record_type));
            put("ttl", Value::text(d.ttl.to_string()));
            let records: Vec<Value> = d.records.iter().map(|r| render(r, known)).collect();
            let all_known = records.iter().all(|r| matches!(r, Value::Text(_)));
            let texts = records.into_iter().filter_map(|r| match r {
                Value::Text(t) => Some(t.trim_end_matches('.').to_string()),
                _ => None,
            });
            put(
                "records",
                if all_known {
                    Value::list(texts)
                } else {
                    Value::Unknown
                },
            );
            return a;
        }
    }
    put(
        "tags",
        if tags.is_empty() {
            Value::list(tag_text)
        } else {
            Value::Unknown
        },
    );
    a
}
