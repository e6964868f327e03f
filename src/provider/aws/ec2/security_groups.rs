//! EC2 security groups: read with one tag-filtered call, their permissions read back as
//! the stack's rules; created, then their rules converged (authorize what is missing,
//! describe, revoke what the stack no longer has, so no allowed traffic is cut in
//! between); deleted after the rules of other groups that name them.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType, UserIdGroupPair};

use super::{address_filters, tag_spec, tagged};
use crate::provider::aws::{
    Aws, HttpResponse, Ids, Tagged, code, error_chain, settle, tag_filters,
};
use crate::provider::{Applied, Desired, LiveResource, Progress, ProviderError, Scope, Value};
use crate::stack::model::{GroupRef, Rule, RuleSource, Spec};
use crate::stack::{Address, Kind};

/// A security group as read, before ids are mapped to addresses.
pub(in crate::provider::aws) struct RawGroup {
    pub id: String,
    pub address: Address,
    pub group: aws_sdk_ec2::types::SecurityGroup,
    pub tagged: Tagged,
}

impl Aws {
    pub(in crate::provider::aws) async fn read_groups(
        &self,
        scope: &Scope,
    ) -> Result<Vec<RawGroup>, ProviderError> {
        let imports = crate::provider::aws::imports::ids_of(scope, Kind::SecurityGroup);
        let mut queries = vec![tag_filters(scope)];
        if !imports.is_empty() {
            queries.push(vec![
                Filter::builder()
                    .name("group-id")
                    .set_values(Some(imports))
                    .build(),
            ]);
        }
        let mut pages = Vec::new();
        for filters in queries {
            pages.extend(
                self.ec2
                    .describe_security_groups()
                    .set_filters(Some(filters))
                    .max_results(1000)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| self.error(scope, "describe security groups", e))?,
            );
        }
        let mut out = Vec::new();
        let mut read = std::collections::BTreeSet::new();
        for group in pages.iter().flat_map(|p| p.security_groups()) {
            let tagged = tagged(group.tags());
            let Some(id) = group.group_id() else {
                continue;
            };
            // Tagged and imported both: read twice.
            if !read.insert(id.to_string()) {
                continue;
            }
            let Some(address) = self.claim(scope, Kind::SecurityGroup, &tagged, id) else {
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
}

pub(in crate::provider::aws) fn group_resource(raw: &RawGroup, ids: &Ids) -> LiveResource {
    let g = &raw.group;
    let rules = |permissions: &[IpPermission]| {
        Value::list(
            permissions
                .iter()
                .flat_map(|p| rules_of(p, &raw.id, ids))
                .map(|r| r.to_string()),
        )
    };
    let mut attrs = BTreeMap::from([
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
    if let Some(vpc) = g.vpc_id() {
        attrs.insert("vpc".to_string(), Value::text(vpc));
    }
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
        expires: raw.tagged.expires(),
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

impl<E> From<aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>> for Failed
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    fn from(e: aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>) -> Self {
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
                detail: error_chain(self.error.as_ref()),
            };
        }
        let detail = match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => error_chain(self.error.as_ref()),
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

    pub(in crate::provider::aws) async fn create_group(
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
            // The env's VPC; without one, the region's default VPC.
            .set_vpc_id(want.text("vpc").map(String::from))
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

    pub(in crate::provider::aws) async fn update_group(
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
    pub(in crate::provider::aws) async fn destroy_group(
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
}
