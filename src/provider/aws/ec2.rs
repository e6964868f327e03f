//! EC2: instances, security groups and key pairs, each read with one tag-filtered,
//! paginated call.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, InstanceAttributeName, InstanceStateName,
    IpPermission, IpRange, Ipv6Range, Placement, ResourceType, ShutdownBehavior, Tag,
    TagSpecification, UserIdGroupPair,
};

use super::{Aws, Ids, Tagged, code, settle, tag_filters, transient, wait_for};
use crate::provider::{
    Applied, Desired, LiveResource, Progress, ProviderError, Scope, TAG_ADDRESS, Value,
};
use crate::stack::Address;
use crate::stack::model::{GroupRef, Rule, RuleSource, Spec};

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
            let Some(id) = instance.instance_id() else {
                continue;
            };
            let Some(address) = tagged.address(scope, id) else {
                self.note_other_engine(scope, &tagged);
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
            let Some(id) = group.group_id() else {
                continue;
            };
            let Some(address) = tagged.address(scope, id) else {
                self.note_other_engine(scope, &tagged);
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
            let Some(name) = key.key_name() else {
                continue;
            };
            let Some(address) = tagged.address(scope, name) else {
                self.note_other_engine(scope, &tagged);
                continue;
            };
            let mut attrs = BTreeMap::from([
                ("name".to_string(), Value::text(name)),
                ("tags".to_string(), tagged.user_tags()),
                ("prevent_destroy".to_string(), tagged.prevent_destroy()),
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
    put("prevent_destroy", raw.tagged.prevent_destroy());
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
    let outputs = instance_outputs(i);
    LiveResource {
        address: raw.address.clone(),
        id: raw.id.clone(),
        attrs,
        outputs,
        applied: raw.tagged.applied(),
    }
}

/// What `${instance.x.attr}` resolves to.
fn instance_outputs(i: &aws_sdk_ec2::types::Instance) -> BTreeMap<String, String> {
    [
        ("id", i.instance_id()),
        ("public_dns", i.public_dns_name()),
        ("public_ip", i.public_ip_address()),
        ("private_dns", i.private_dns_name()),
        ("private_ip", i.private_ip_address()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.unwrap_or_default().to_string()))
    .collect()
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
        ("prevent_destroy".to_string(), raw.tagged.prevent_destroy()),
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

// ---------------------------------------------------------------------------------------
// The write side.

/// How long an instance may take to reach `running`, `stopped` or `terminated`.
const INSTANCE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// Attempts at RunInstances when AWS does not answer (each repeats the ClientToken).
const LAUNCH_ATTEMPTS: u32 = 6;

fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// Filters for one address of the stack.
fn address_filters(scope: &Scope, address: &Address) -> Vec<Filter> {
    let mut filters = tag_filters(scope);
    filters.push(
        Filter::builder()
            .name(format!("tag:{TAG_ADDRESS}"))
            .values(address.to_string())
            .build(),
    );
    filters
}

/// The ids of `want` as [`Ids`], to read rules back as the stack writes them.
fn ids_of(want: &Desired<'_>) -> Ids {
    let mut ids = Ids::default();
    for (address, id) in &want.ids {
        match address.kind {
            crate::stack::Kind::SecurityGroup => {
                ids.groups.insert(id.clone(), address.clone());
            }
            crate::stack::Kind::Instance => {
                ids.instances.insert(id.clone(), address.clone());
            }
            _ => {}
        }
    }
    ids
}

/// A rule as AWS takes it.
fn permission(rule: &Rule, own_id: &str, want: &Desired<'_>) -> Result<IpPermission, String> {
    let mut p = IpPermission::builder().ip_protocol(&rule.protocol);
    match rule.ports {
        Some((a, b)) => p = p.from_port(i32::from(a)).to_port(i32::from(b)),
        None if matches!(rule.protocol.as_str(), "icmp" | "icmpv6") => {
            p = p.from_port(-1).to_port(-1);
        }
        None => {}
    }
    let description = rule.description.clone();
    p = match &rule.source {
        RuleSource::Cidr(c) if c.contains(':') => p.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(description)
                .build(),
        ),
        RuleSource::Cidr(c) => p.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description)
                .build(),
        ),
        RuleSource::SelfGroup => p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(own_id)
                .set_description(description)
                .build(),
        ),
        RuleSource::Group(g) => p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(want.group_id(g)?)
                .set_description(description)
                .build(),
        ),
    };
    Ok(p.build())
}

/// A rule without its description: what AWS tells rules apart by.
fn rule_key(rule: &Rule) -> (String, Option<(u16, u16)>, RuleSource) {
    (rule.protocol.clone(), rule.ports, rule.source.clone())
}

/// A failed call of either direction's operation, which have different error types.
struct Failed {
    code: Option<String>,
    message: Option<String>,
    error: Box<dyn std::error::Error + Send + Sync>,
    dispatch: bool,
}

impl<E> From<aws_smithy_runtime_api::client::result::SdkError<E, super::HttpResponse>> for Failed
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    fn from(e: aws_smithy_runtime_api::client::result::SdkError<E, super::HttpResponse>) -> Self {
        Failed {
            code: code(&e).map(String::from),
            message: aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&e)
                .map(String::from),
            dispatch: matches!(
                e,
                aws_smithy_runtime_api::client::result::SdkError::DispatchFailure(_)
                    | aws_smithy_runtime_api::client::result::SdkError::TimeoutError(_)
            ),
            error: Box::new(e),
        }
    }
}

impl Failed {
    fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    fn into_error(self, aws: &Aws, scope: &Scope, action: &str) -> ProviderError {
        if self.dispatch {
            return ProviderError::Unreachable {
                endpoint: aws.endpoint.clone(),
                detail: super::error_chain(self.error.as_ref()),
            };
        }
        let detail = match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => super::error_chain(self.error.as_ref()),
        };
        aws.failed(scope, action, detail)
    }
}

/// Send `rules` in one call; when AWS answers with one of `done` (a rule that exists
/// already, or is gone already), one call per rule, each such answer counting as done.
async fn one_call_or_each<F, Fut>(
    rules: Vec<IpPermission>,
    call: F,
    done: &[&str],
) -> Result<(), Failed>
where
    F: Fn(Vec<IpPermission>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failed>>,
{
    let is_done = |e: &Failed| e.code().is_some_and(|c| done.contains(&c));
    match call(rules.clone()).await {
        Err(e) if is_done(&e) && rules.len() > 1 => {
            for rule in rules {
                match call(vec![rule]).await {
                    Err(e) if !is_done(&e) => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        }
        Err(e) if is_done(&e) => Ok(()),
        other => other,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Aws {
    /// The group as AWS has it now, waiting out "not found" just after its create.
    async fn describe_group(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<aws_sdk_ec2::types::SecurityGroup, ProviderError> {
        let output = settle(&["InvalidGroup.NotFound"], || {
            self.ec2.describe_security_groups().group_ids(id).send()
        })
        .await
        .map_err(|e| self.error(scope, &format!("read security group `{id}`"), e))?;
        output
            .security_groups()
            .first()
            .cloned()
            .ok_or_else(|| self.failed(scope, "read security group", format!("`{id}` not found")))
    }

    async fn find_group(
        &self,
        scope: &Scope,
        address: &Address,
    ) -> Result<Option<String>, ProviderError> {
        let output = self
            .ec2
            .describe_security_groups()
            .set_filters(Some(address_filters(scope, address)))
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("look for `{address}`"), e))?;
        Ok(output
            .security_groups()
            .iter()
            .find_map(|g| g.group_id())
            .map(String::from))
    }

    pub(super) async fn create_group(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        let address = &want.resource.address;
        let name = want.resource.physical_name.as_str();
        let description = want.text("description").unwrap_or(name);
        let created = self
            .ec2
            .create_security_group()
            .group_name(name)
            .description(description)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, &want.tags))
            .send()
            .await;
        let id = match created {
            Ok(out) => out.group_id().unwrap_or_default().to_string(),
            Err(e) if code(&e) == Some("InvalidGroup.Duplicate") => {
                // Ours from an earlier run (or an earlier attempt of this call), or not ours.
                match self.find_group(scope, address).await? {
                    Some(id) => id,
                    None => {
                        return Err(self.failed(
                            scope,
                            &format!("create security group `{name}`"),
                            "a security group of that name exists and is not part of this stack \
                             (no stackwright tags); rename one of them"
                                .into(),
                        ));
                    }
                }
            }
            Err(e) => {
                return Err(self.error(scope, &format!("create security group `{name}`"), e));
            }
        };
        self.converge_rules(scope, &id, want).await?;
        Ok(Applied {
            outputs: BTreeMap::from([
                ("id".to_string(), id.clone()),
                ("name".to_string(), name.to_string()),
            ]),
            id,
        })
    }

    pub(super) async fn update_group(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        self.converge_rules(scope, &live.id, want).await?;
        self.retag(scope, &live.id, live, want).await?;
        Ok(Applied {
            id: live.id.clone(),
            outputs: BTreeMap::from([
                ("id".to_string(), live.id.clone()),
                ("name".to_string(), want.resource.physical_name.clone()),
            ]),
        })
    }

    /// Authorize the rules the group lacks, update descriptions, then revoke the rules
    /// the stack no longer has (in that order, so no allowed traffic is cut in between).
    async fn converge_rules(
        &self,
        scope: &Scope,
        id: &str,
        want: &Desired<'_>,
    ) -> Result<(), ProviderError> {
        let Spec::SecurityGroup(sg) = &want.resource.spec else {
            return Ok(());
        };
        let group = self.describe_group(scope, id).await?;
        let ids = ids_of(want);
        let directions = [
            (
                Direction::Ingress,
                Some(&sg.ingress),
                group.ip_permissions(),
            ),
            (
                Direction::Egress,
                sg.egress.as_ref(),
                group.ip_permissions_egress(),
            ),
        ];
        for (direction, desired, live) in directions {
            let Some(desired) = desired else { continue };
            let live: Vec<Rule> = live.iter().flat_map(|p| rules_of(p, id, &ids)).collect();
            let fail = |d: String| self.failed(scope, "change security group rules", d);
            let mut add = Vec::new();
            let mut describe = Vec::new();
            // A rule naming a group of the stack not created yet waits for it: that
            // group's create completes the rules that name it.
            let pending = |rule: &Rule| matches!(&rule.source, RuleSource::Group(GroupRef::Stack(a)) if !want.ids.contains_key(a));
            for rule in desired.iter().filter(|r| !pending(r)) {
                match live.iter().find(|l| rule_key(l) == rule_key(rule)) {
                    None => add.push(permission(rule, id, want).map_err(fail)?),
                    Some(l) if l.description != rule.description => {
                        describe.push(permission(rule, id, want).map_err(fail)?);
                    }
                    Some(_) => {}
                }
            }
            let remove = live
                .iter()
                .filter(|l| !desired.iter().any(|r| rule_key(r) == rule_key(l)))
                .map(|l| permission(l, id, want).map_err(fail))
                .collect::<Result<Vec<_>, _>>()?;
            self.authorize(scope, id, direction, add).await?;
            self.describe_rules(scope, id, direction, describe).await?;
            self.revoke(scope, id, direction, remove).await?;
        }
        Ok(())
    }

    /// Authorize `rules` in one call; if some exist already (a repeated call), one by one.
    async fn authorize(
        &self,
        scope: &Scope,
        id: &str,
        direction: Direction,
        rules: Vec<IpPermission>,
    ) -> Result<(), ProviderError> {
        if rules.is_empty() {
            return Ok(());
        }
        let call = |rules: Vec<IpPermission>| async move {
            let not_found = ["InvalidGroup.NotFound"];
            match direction {
                Direction::Ingress => settle(&not_found, || {
                    self.ec2
                        .authorize_security_group_ingress()
                        .group_id(id)
                        .set_ip_permissions(Some(rules.clone()))
                        .send()
                })
                .await
                .map(|_| ())
                .map_err(Failed::from),
                Direction::Egress => settle(&not_found, || {
                    self.ec2
                        .authorize_security_group_egress()
                        .group_id(id)
                        .set_ip_permissions(Some(rules.clone()))
                        .send()
                })
                .await
                .map(|_| ())
                .map_err(Failed::from),
            }
        };
        let what = format!("authorize rules of security group `{id}`");
        one_call_or_each(rules, call, &["InvalidPermission.Duplicate"])
            .await
            .map_err(|e| e.into_error(self, scope, &what))
    }

    /// Revoke `rules` in one call; if some are gone already, one by one.
    async fn revoke(
        &self,
        scope: &Scope,
        id: &str,
        direction: Direction,
        rules: Vec<IpPermission>,
    ) -> Result<(), ProviderError> {
        if rules.is_empty() {
            return Ok(());
        }
        let call = |rules: Vec<IpPermission>| async move {
            match direction {
                Direction::Ingress => self
                    .ec2
                    .revoke_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(rules))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(Failed::from),
                Direction::Egress => self
                    .ec2
                    .revoke_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(rules))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(Failed::from),
            }
        };
        let what = format!("revoke rules of security group `{id}`");
        // Gone already, or the group itself is (destroyed concurrently): nothing to do.
        let done = ["InvalidPermission.NotFound", "InvalidGroup.NotFound"];
        one_call_or_each(rules, call, &done)
            .await
            .map_err(|e| e.into_error(self, scope, &what))
    }

    async fn describe_rules(
        &self,
        scope: &Scope,
        id: &str,
        direction: Direction,
        rules: Vec<IpPermission>,
    ) -> Result<(), ProviderError> {
        if rules.is_empty() {
            return Ok(());
        }
        let what = format!("update rule descriptions of security group `{id}`");
        match direction {
            Direction::Ingress => self
                .ec2
                .update_security_group_rule_descriptions_ingress()
                .group_id(id)
                .set_ip_permissions(Some(rules))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, &what, e)),
            Direction::Egress => self
                .ec2
                .update_security_group_rule_descriptions_egress()
                .group_id(id)
                .set_ip_permissions(Some(rules))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, &what, e)),
        }
    }

    /// Delete a group: first the rules of the stack's other groups that name it (groups
    /// that admit each other cannot otherwise go), then the group, waiting while AWS
    /// still holds it (an ELB or a terminated instance letting go).
    pub(super) async fn destroy_group(
        &self,
        scope: &Scope,
        live: &LiveResource,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let id = live.id.as_str();
        for (filter, direction) in [
            ("ip-permission.group-id", Direction::Ingress),
            ("egress.ip-permission.group-id", Direction::Egress),
        ] {
            let mut filters = tag_filters(scope);
            filters.push(Filter::builder().name(filter).values(id).build());
            let output = self
                .ec2
                .describe_security_groups()
                .set_filters(Some(filters))
                .send()
                .await
                .map_err(|e| self.error(scope, "find rules that name the group", e))?;
            for other in output.security_groups() {
                let Some(other_id) = other.group_id() else {
                    continue;
                };
                let permissions = match direction {
                    Direction::Ingress => other.ip_permissions(),
                    Direction::Egress => other.ip_permissions_egress(),
                };
                let naming: Vec<IpPermission> = permissions
                    .iter()
                    .filter_map(|p| {
                        let pairs: Vec<UserIdGroupPair> = p
                            .user_id_group_pairs()
                            .iter()
                            .filter(|g| g.group_id() == Some(id))
                            .map(|g| {
                                UserIdGroupPair::builder()
                                    .group_id(id)
                                    .set_description(g.description().map(String::from))
                                    .build()
                            })
                            .collect();
                        (!pairs.is_empty()).then(|| {
                            IpPermission::builder()
                                .set_ip_protocol(p.ip_protocol().map(String::from))
                                .set_from_port(p.from_port())
                                .set_to_port(p.to_port())
                                .set_user_id_group_pairs(Some(pairs))
                                .build()
                        })
                    })
                    .collect();
                self.revoke(scope, other_id, direction, naming).await?;
            }
        }
        progress("deleting (waits while AWS still holds the group)");
        match settle(&["DependencyViolation", "InvalidGroup.InUse"], || {
            self.ec2.delete_security_group().group_id(id).send()
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("InvalidGroup.NotFound") => Ok(()),
            Err(e) => Err(self.error(scope, &format!("delete security group `{id}`"), e)),
        }
    }

    /// Replace the user tags of an EC2 resource with `want`'s and refresh stackwright's.
    async fn retag(
        &self,
        scope: &Scope,
        id: &str,
        live: &LiveResource,
        want: &Desired<'_>,
    ) -> Result<(), ProviderError> {
        let stale: Vec<Tag> = super::stale_tags(live, want)
            .into_iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        if !stale.is_empty() {
            self.ec2
                .delete_tags()
                .resources(id)
                .set_tags(Some(stale))
                .send()
                .await
                .map_err(|e| self.error(scope, &format!("remove tags of `{id}`"), e))?;
        }
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(&want.tags)))
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("tag `{id}`"), e))?;
        Ok(())
    }

    // --- key pairs

    async fn find_key(
        &self,
        scope: &Scope,
        address: &Address,
    ) -> Result<Option<aws_sdk_ec2::types::KeyPairInfo>, ProviderError> {
        let output = self
            .ec2
            .describe_key_pairs()
            .set_filters(Some(address_filters(scope, address)))
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("look for `{address}`"), e))?;
        Ok(output.key_pairs().first().cloned())
    }

    pub(super) async fn create_key(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::KeyPair(key) = &want.resource.spec else {
            return Err(self.failed(scope, "import key pair", "not a key pair".into()));
        };
        let name = want.resource.physical_name.as_str();
        let imported = self
            .ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_smithy_types::Blob::new(key.public_key.as_bytes()))
            .tag_specifications(tag_spec(ResourceType::KeyPair, &want.tags))
            .send()
            .await;
        let fingerprint = match imported {
            Ok(out) => out.key_fingerprint().unwrap_or_default().to_string(),
            Err(e) if code(&e) == Some("InvalidKeyPair.Duplicate") => {
                match self.find_key(scope, &want.resource.address).await? {
                    Some(k) => k.key_fingerprint().unwrap_or_default().to_string(),
                    None => {
                        return Err(self.failed(
                            scope,
                            &format!("import key pair `{name}`"),
                            "a key pair of that name exists and is not part of this stack".into(),
                        ));
                    }
                }
            }
            Err(e) => return Err(self.error(scope, &format!("import key pair `{name}`"), e)),
        };
        Ok(Applied {
            id: name.to_string(),
            outputs: BTreeMap::from([
                ("name".to_string(), name.to_string()),
                ("fingerprint".to_string(), fingerprint),
            ]),
        })
    }

    pub(super) async fn update_key(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        // Only tags change in place; EC2 tags a key pair by its `key-…` id.
        let key = self
            .find_key(scope, &want.resource.address)
            .await?
            .ok_or_else(|| self.failed(scope, "tag key pair", format!("`{}` is gone", live.id)))?;
        let key_id = key.key_pair_id().unwrap_or_default();
        self.retag(scope, key_id, live, want).await?;
        Ok(Applied {
            id: live.id.clone(),
            outputs: live.outputs.clone(),
        })
    }

    pub(super) async fn destroy_key(
        &self,
        scope: &Scope,
        live: &LiveResource,
    ) -> Result<(), ProviderError> {
        match self.ec2.delete_key_pair().key_name(&live.id).send().await {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("InvalidKeyPair.NotFound") => Ok(()),
            Err(e) => Err(self.error(scope, &format!("delete key pair `{}`", live.id), e)),
        }
    }

    // --- instances

    /// The root device name of an AMI (`/dev/sda1`, `/dev/xvda`), looked up once.
    async fn root_device(&self, scope: &Scope, ami: &str) -> Result<String, ProviderError> {
        if let Some(d) = self
            .root_devices
            .lock()
            .ok()
            .and_then(|m| m.get(ami).cloned())
        {
            return Ok(d);
        }
        let output = self
            .ec2
            .describe_images()
            .image_ids(ami)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("read AMI `{ami}`"), e))?;
        let device = output
            .images()
            .first()
            .and_then(|i| i.root_device_name())
            .ok_or_else(|| {
                self.failed(
                    scope,
                    &format!("read AMI `{ami}`"),
                    "no such image in this region".into(),
                )
            })?
            .to_string();
        if let Ok(mut m) = self.root_devices.lock() {
            m.insert(ami.to_string(), device.clone());
        }
        Ok(device)
    }

    async fn find_instance(
        &self,
        scope: &Scope,
        address: &Address,
    ) -> Result<Option<String>, ProviderError> {
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
            .build();
        let output = self
            .ec2
            .describe_instances()
            .set_filters(Some(address_filters(scope, address)))
            .filters(state)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("look for `{address}`"), e))?;
        Ok(output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| i.instance_id())
            .map(String::from))
    }

    /// Launch an instance. RunInstances carries a ClientToken, so AWS launches at most one
    /// instance for repeats of the call; the SDK's own retries are off for it, and before
    /// each repeat the instance is looked for by its address tag, which also keeps
    /// endpoints that ignore the token (the emulator) from launching a second.
    pub(super) async fn create_instance(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::Instance(spec) = &want.resource.spec else {
            return Err(self.failed(scope, "launch instance", "not an instance".into()));
        };
        let address = &want.resource.address;
        let what = format!("launch `{address}`");
        let fail = |d: String| self.failed(scope, &what, d);
        let mut request = self
            .ec2
            .run_instances()
            .image_id(&spec.ami)
            .instance_type(spec.instance_type.as_str().into())
            .min_count(1)
            .max_count(1)
            .client_token(&want.token)
            .instance_initiated_shutdown_behavior(ShutdownBehavior::from(
                spec.shutdown_behavior.as_str(),
            ))
            .tag_specifications(tag_spec(ResourceType::Instance, &want.tags));
        if let Some(key) = want.text("key_name") {
            request = request.key_name(key);
        }
        for g in &spec.security_groups {
            request = request.security_group_ids(want.group_id(g).map_err(fail)?);
        }
        if let Some(zone) = &spec.availability_zone {
            request = request.placement(Placement::builder().availability_zone(zone).build());
        }
        if let Some(user_data) = &want.user_data {
            request = request.user_data(aws_smithy_types::base64::encode(
                user_data.expose().as_bytes(),
            ));
        }
        if let Some(gb) = spec.root_volume_gb {
            let device = self.root_device(scope, &spec.ami).await?;
            request = request.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(i32::try_from(gb).unwrap_or(i32::MAX))
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            );
        }
        let no_retries = aws_sdk_ec2::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::disabled());
        let mut attempt = 0;
        let id = loop {
            let launched = request
                .clone()
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await;
            match launched {
                Ok(out) => {
                    break out
                        .instances()
                        .first()
                        .and_then(|i| i.instance_id())
                        .ok_or_else(|| fail("AWS returned no instance".into()))?
                        .to_string();
                }
                Err(e) if transient(&e) && attempt + 1 < LAUNCH_ATTEMPTS => {
                    progress("no answer from AWS; looking for the instance before trying again");
                    tokio::time::sleep(super::backoff(attempt)).await;
                    attempt += 1;
                    if let Some(id) = self.find_instance(scope, address).await? {
                        break id;
                    }
                }
                Err(e) => return Err(self.error(scope, &what, e)),
            }
        };
        self.wait_for_instance(scope, &id, InstanceStateName::Running, progress)
            .await
    }

    /// Wait until the instance is in `state`; its outputs then.
    async fn wait_for_instance(
        &self,
        scope: &Scope,
        id: &str,
        state: InstanceStateName,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let what = format!("`{id}` to be {}", state.as_str());
        let instance = wait_for(&what, INSTANCE_WAIT, progress, || async {
            let output = settle(&["InvalidInstanceID.NotFound"], || {
                self.ec2.describe_instances().instance_ids(id).send()
            })
            .await
            .map_err(|e| self.error(scope, &format!("read `{id}`"), e).to_string())?;
            let instance = output
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .next()
                .cloned();
            let now = instance
                .as_ref()
                .and_then(|i| i.state())
                .and_then(|s| s.name())
                .cloned();
            match now {
                Some(s) if s == state => Ok(instance),
                Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
                    if state != InstanceStateName::Terminated =>
                {
                    let reason = instance
                        .as_ref()
                        .and_then(|i| i.state_reason())
                        .and_then(|r| r.message())
                        .unwrap_or("no reason given");
                    Err(format!("`{id}` was terminated: {reason}"))
                }
                _ => Ok(None),
            }
        })
        .await
        .map_err(|d| self.failed(scope, &format!("wait for {what}"), d))?;
        Ok(Applied {
            id: id.to_string(),
            outputs: instance_outputs(&instance),
        })
    }

    pub(super) async fn update_instance(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::Instance(spec) = &want.resource.spec else {
            return Err(self.failed(scope, "update instance", "not an instance".into()));
        };
        let id = live.id.as_str();
        let what = |s: &str| format!("{s} `{}` ({id})", want.resource.address);
        if want.changed.contains("security_groups") {
            let groups = spec
                .security_groups
                .iter()
                .map(|g| want.group_id(g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|d| self.failed(scope, &what("change security groups of"), d))?;
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(Some(groups))
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change security groups of"), e))?;
        }
        if want.changed.contains("shutdown_behavior") {
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .instance_initiated_shutdown_behavior(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value(spec.shutdown_behavior.as_str())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change shutdown behaviour of"), e))?;
        }
        if want.changed.contains("instance_type") {
            // EC2 changes the type only of a stopped instance.
            progress("stopping to change the instance type");
            self.ec2
                .stop_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| self.error(scope, &what("stop"), e))?;
            self.wait_for_instance(scope, id, InstanceStateName::Stopped, progress)
                .await?;
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .instance_type(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value(&spec.instance_type)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change the type of"), e))?;
            progress("starting");
            self.ec2
                .start_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| self.error(scope, &what("start"), e))?;
        }
        self.retag(scope, id, live, want).await?;
        self.wait_for_instance(scope, id, InstanceStateName::Running, progress)
            .await
    }

    pub(super) async fn destroy_instance(
        &self,
        scope: &Scope,
        live: &LiveResource,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let id = live.id.as_str();
        match self.ec2.terminate_instances().instance_ids(id).send().await {
            Ok(_) => {}
            Err(e) if code(&e) == Some("InvalidInstanceID.NotFound") => return Ok(()),
            Err(e) => return Err(self.error(scope, &format!("terminate `{id}`"), e)),
        }
        // Its security groups can go only once it has.
        self.wait_for_instance(scope, id, InstanceStateName::Terminated, progress)
            .await
            .map(|_| ())
    }
}
