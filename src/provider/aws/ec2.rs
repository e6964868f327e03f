//! EC2: instances, security groups and key pairs, each read with one tag-filtered,
//! paginated call.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, InstanceAttributeName, IpPermission};

use super::{Aws, Ids, Tagged, tag_filters};
use crate::provider::{LiveResource, ProviderError, Scope, Value};
use crate::stack::Address;
use crate::stack::model::{GroupRef, Rule, RuleSource};

/// An instance as read, before ids are mapped to addresses.
pub(super) struct RawInstance {
    pub id: String,
    pub address: Address,
    pub instance: aws_sdk_ec2::types::Instance,
    pub tagged: Tagged,
    /// Read per instance, in deep mode only.
    pub deep: BTreeMap<String, Value>,
}

pub(super) struct RawGroup {
    pub id: String,
    pub address: Address,
    pub group: aws_sdk_ec2::types::SecurityGroup,
    pub tagged: Tagged,
}

/// States in which an instance still exists (and still holds its address).
const LIVE_STATES: [&str; 5] = ["pending", "running", "stopping", "stopped", "shutting-down"];

impl Aws {
    pub(super) async fn read_instances(
        &self,
        scope: &Scope,
    ) -> Result<Vec<RawInstance>, ProviderError> {
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
            .build();
        let pages = self
            .ec2
            .describe_instances()
            .set_filters(Some(tag_filters(scope)))
            .filters(state)
            .max_results(1000)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "describe instances", e))?;
        let mut out = Vec::new();
        for instance in pages
            .iter()
            .flat_map(|p| p.reservations())
            .flat_map(|r| r.instances())
        {
            let tagged = tagged(instance.tags());
            let (Some(address), Some(id)) = (tagged.address(scope), instance.instance_id()) else {
                continue;
            };
            out.push(RawInstance {
                id: id.to_string(),
                address,
                instance: instance.clone(),
                tagged,
                deep: BTreeMap::new(),
            });
        }
        Ok(out)
    }

    /// `--deep`: user data, shutdown behaviour and root volume size, per instance.
    pub(super) async fn read_instances_deep(
        &self,
        scope: &Scope,
        mut instances: Vec<RawInstance>,
    ) -> Result<Vec<RawInstance>, ProviderError> {
        let mut volume_ids = BTreeMap::new();
        for raw in &instances {
            let root = raw.instance.root_device_name().unwrap_or_default();
            for mapping in raw.instance.block_device_mappings() {
                if mapping.device_name() == Some(root)
                    && let Some(v) = mapping.ebs().and_then(|e| e.volume_id())
                {
                    volume_ids.insert(v.to_string(), raw.id.clone());
                }
            }
        }
        let mut sizes = BTreeMap::new();
        if !volume_ids.is_empty() {
            let pages = self
                .ec2
                .describe_volumes()
                .set_volume_ids(Some(volume_ids.keys().cloned().collect()))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| self.error(scope, "describe root volumes", e))?;
            for volume in pages.iter().flat_map(|p| p.volumes()) {
                if let (Some(id), Some(size)) = (volume.volume_id(), volume.size())
                    && let Some(instance) = volume_ids.get(id)
                {
                    sizes.insert(instance.clone(), size);
                }
            }
        }
        for raw in &mut instances {
            let user_data = self
                .ec2
                .describe_instance_attribute()
                .instance_id(&raw.id)
                .attribute(InstanceAttributeName::UserData)
                .send()
                .await
                .map_err(|e| self.error(scope, "read user data", e))?;
            let text = user_data
                .user_data()
                .and_then(|v| v.value())
                .map(|b64| decode_user_data(b64, &scope.secrets))
                .unwrap_or_default();
            raw.deep.insert("user_data".into(), Value::Text(text));
            let shutdown = self
                .ec2
                .describe_instance_attribute()
                .instance_id(&raw.id)
                .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
                .send()
                .await
                .map_err(|e| self.error(scope, "read shutdown behaviour", e))?;
            if let Some(v) = shutdown
                .instance_initiated_shutdown_behavior()
                .and_then(|v| v.value())
            {
                raw.deep.insert("shutdown_behavior".into(), Value::text(v));
            }
            if let Some(size) = sizes.get(&raw.id) {
                raw.deep
                    .insert("root_volume_gb".into(), Value::text(size.to_string()));
            }
        }
        Ok(instances)
    }

    pub(super) async fn read_groups(&self, scope: &Scope) -> Result<Vec<RawGroup>, ProviderError> {
        let pages = self
            .ec2
            .describe_security_groups()
            .set_filters(Some(tag_filters(scope)))
            .max_results(1000)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "describe security groups", e))?;
        let mut out = Vec::new();
        for group in pages.iter().flat_map(|p| p.security_groups()) {
            let tagged = tagged(group.tags());
            let (Some(address), Some(id)) = (tagged.address(scope), group.group_id()) else {
                continue;
            };
            out.push(RawGroup {
                id: id.to_string(),
                address,
                group: group.clone(),
                tagged,
            });
        }
        Ok(out)
    }

    pub(super) async fn read_key_pairs(
        &self,
        scope: &Scope,
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let output = self
            .ec2
            .describe_key_pairs()
            .set_filters(Some(tag_filters(scope)))
            .include_public_key(true)
            .send()
            .await
            .map_err(|e| self.error(scope, "describe key pairs", e))?;
        let mut out = Vec::new();
        for key in output.key_pairs() {
            let tagged = tagged(key.tags());
            let (Some(address), Some(name)) = (tagged.address(scope), key.key_name()) else {
                continue;
            };
            let mut attrs = BTreeMap::from([
                ("name".to_string(), Value::text(name)),
                ("tags".to_string(), tagged.user_tags()),
            ]);
            // The public key as AWS holds it, when it returns it; else what was applied.
            let public_key = key
                .public_key()
                .map(|k| Value::text(crate::provider::public_key_form(k)))
                .or_else(|| tagged.tracked("public_key"));
            if let Some(v) = public_key {
                attrs.insert("public_key".into(), v);
            }
            let outputs = BTreeMap::from([
                ("name".to_string(), name.to_string()),
                (
                    "fingerprint".to_string(),
                    key.key_fingerprint().unwrap_or_default().to_string(),
                ),
            ]);
            out.push(LiveResource {
                address,
                id: name.to_string(),
                attrs,
                outputs,
                applied: tagged.applied(),
            });
        }
        Ok(out)
    }
}

/// EC2's tags as a map (a tag without a value has none to compare).
fn tagged(tags: &[aws_sdk_ec2::types::Tag]) -> Tagged {
    Tagged::new(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

/// User data as text, with every secret value replaced by its `${secret.NAME}`, so it
/// compares with the stack's template and is never printed.
fn decode_user_data(b64: &str, secrets: &BTreeMap<String, String>) -> String {
    use aws_smithy_types::base64;
    let bytes = base64::decode(b64).unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    for (name, value) in secrets {
        if !value.is_empty() {
            text = text.replace(value.as_str(), &format!("${{secret.{name}}}"));
        }
    }
    text
}

pub(super) fn instance_resource(raw: &RawInstance, ids: &Ids) -> LiveResource {
    let i = &raw.instance;
    let mut attrs = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        attrs.insert(k.to_string(), v);
    };
    put("ami", Value::text(i.image_id().unwrap_or_default()));
    put(
        "instance_type",
        Value::text(i.instance_type().map(|t| t.as_str()).unwrap_or_default()),
    );
    if let Some(zone) = i.placement().and_then(|p| p.availability_zone()) {
        put("availability_zone", Value::text(zone));
    }
    put("key_name", Value::text(i.key_name().unwrap_or_default()));
    put(
        "security_groups",
        Value::list(
            i.security_groups()
                .iter()
                .filter_map(|g| g.group_id())
                .map(|g| ids.group(g)),
        ),
    );
    put("tags", raw.tagged.user_tags());
    for name in ["user_data", "shutdown_behavior", "root_volume_gb"] {
        if let Some(v) = raw
            .deep
            .get(name)
            .cloned()
            .or_else(|| raw.tagged.tracked(name))
        {
            attrs.insert(name.to_string(), v);
        }
    }
    let outputs = [
        ("id", i.instance_id()),
        ("public_dns", i.public_dns_name()),
        ("public_ip", i.public_ip_address()),
        ("private_dns", i.private_dns_name()),
        ("private_ip", i.private_ip_address()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.unwrap_or_default().to_string()))
    .collect();
    LiveResource {
        address: raw.address.clone(),
        id: raw.id.clone(),
        attrs,
        outputs,
        applied: raw.tagged.applied(),
    }
}

pub(super) fn group_resource(raw: &RawGroup, ids: &Ids) -> LiveResource {
    let g = &raw.group;
    let rules = |permissions: &[IpPermission]| {
        Value::list(
            permissions
                .iter()
                .flat_map(|p| rules_of(p, &raw.id, ids))
                .map(|r| r.to_string()),
        )
    };
    let attrs = BTreeMap::from([
        (
            "name".to_string(),
            Value::text(g.group_name().unwrap_or_default()),
        ),
        (
            "description".to_string(),
            Value::text(g.description().unwrap_or_default()),
        ),
        ("ingress".to_string(), rules(g.ip_permissions())),
        ("egress".to_string(), rules(g.ip_permissions_egress())),
        ("tags".to_string(), raw.tagged.user_tags()),
    ]);
    let outputs = BTreeMap::from([
        ("id".to_string(), raw.id.clone()),
        (
            "name".to_string(),
            g.group_name().unwrap_or_default().to_string(),
        ),
    ]);
    LiveResource {
        address: raw.address.clone(),
        id: raw.id.clone(),
        attrs,
        outputs,
        applied: raw.tagged.applied(),
    }
}

/// One AWS permission as the stack's rules: one rule per source, normalized as the
/// checker normalizes the stack's (protocol names, `-1` for all, canonical CIDRs).
pub(super) fn rules_of(p: &IpPermission, own_id: &str, ids: &Ids) -> Vec<Rule> {
    let protocol = match p.ip_protocol().unwrap_or("-1") {
        "6" => "tcp".to_string(),
        "17" => "udp".to_string(),
        "1" => "icmp".to_string(),
        "58" => "icmpv6".to_string(),
        other => other.to_ascii_lowercase(),
    };
    let ports = match (p.from_port(), p.to_port()) {
        _ if protocol == "-1" => None,
        (Some(a), Some(b)) if a >= 0 && b >= 0 => Some((a as u16, b as u16)),
        _ => None,
    };
    let rule = |source: RuleSource, description: Option<&str>| Rule {
        protocol: protocol.clone(),
        ports,
        source,
        description: description.map(String::from),
    };
    let cidr = |c: &str| {
        c.parse::<ipnet::IpNet>()
            .map_or_else(|_| c.to_string(), |n| n.trunc().to_string())
    };
    let mut out = Vec::new();
    for r in p.ip_ranges() {
        out.push(rule(
            RuleSource::Cidr(cidr(r.cidr_ip().unwrap_or_default())),
            r.description(),
        ));
    }
    for r in p.ipv6_ranges() {
        out.push(rule(
            RuleSource::Cidr(cidr(r.cidr_ipv6().unwrap_or_default())),
            r.description(),
        ));
    }
    for pair in p.user_id_group_pairs() {
        let id = pair.group_id().unwrap_or_default();
        let source = if id == own_id {
            RuleSource::SelfGroup
        } else {
            match ids.groups.get(id) {
                Some(a) => RuleSource::Group(GroupRef::Stack(a.clone())),
                None => RuleSource::Group(GroupRef::External(id.to_string())),
            }
        };
        out.push(rule(source, pair.description()));
    }
    out
}
