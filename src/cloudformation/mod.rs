//! The CloudFormation engine: the same stack, handed to CloudFormation as a template.
//!
//! [`template`] turns a checked stack into a CloudFormation template (JSON), with no I/O:
//!
//! - one resource per address, its logical id the address in CamelCase
//!   (`instance.heart[0]` → `InstanceHeart0`), carrying the contract's three tags;
//! - security-group rules from CIDRs inline, rules naming groups (their own or another,
//!   which may admit each other) as separate `AWS::EC2::SecurityGroupIngress` /
//!   `…Egress` resources, so the template has no cycle;
//! - references (`${instance.pacemaker.public_dns}`) as `Fn::Sub` over `GetAtt`/`Ref`,
//!   user data through `Fn::Base64`;
//! - the user data of a counted instance's replicas written once, in `Mappings` ([`shared`]);
//! - secrets as `NoEcho` parameters, given at deploy time: the template never holds one;
//! - databases with `DeletionPolicy: Snapshot` (`Delete` where `final_snapshot = false`);
//! - the stack's outputs as `Outputs`.

pub mod changes;
mod keep;
pub mod limits;
mod shared;

pub use keep::keep_create_only;

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use crate::provider::{TAG_ADDRESS, TAG_ENGINE, TAG_ENV, TAG_STACK};
use crate::stack::model::{GroupRef, Rule, RuleSource, Spec};
use crate::stack::template::{Part, Template};
use crate::stack::{Address, Kind, Resource, Stack};

/// Resource `Metadata` keys: the address a resource stands for (a rule resource: its
/// group's), which rule list a rule resource belongs to, and `prevent_destroy`, kept in
/// the deployed template so that removing a protected resource is refused too.
pub const META_ADDRESS: &str = "stackwright:address";
pub const META_RULE: &str = "stackwright:rule";
pub const META_PREVENT_DESTROY: &str = "stackwright:prevent-destroy";
/// The `stackwright:engine` tag on what CloudFormation creates: the direct engine leaves
/// such resources to CloudFormation. (Defined with the tags, in the provider.)
pub use crate::provider::ENGINE_TAG_VALUE;

/// The root device an instance's `root_volume_gb` applies to: Ubuntu's and most AMIs'.
/// (The direct engine asks EC2 for the AMI's; a template cannot.)
pub const ROOT_DEVICE: &str = "/dev/sda1";

/// A CloudFormation logical id for an address: `security_group.paasmaker` →
/// `SecurityGroupPaasmaker`, `instance.heart[0]` → `InstanceHeart0`.
pub fn logical_id(address: &Address) -> String {
    let mut out = camel(address.kind.as_str());
    out.push_str(&camel(&address.name));
    if let Some(i) = address.index {
        out.push_str(&i.to_string());
    }
    out
}

/// The CloudFormation stack of a stack and env: `paasmaker-production`.
pub fn stack_name(stack: &Stack) -> String {
    if stack.env.is_empty() {
        stack.name.clone()
    } else {
        // Hyphens doubled inside each part, as in every physical name: stack `a-b` env `c`
        // and stack `a` env `b-c` must not share a CloudFormation stack.
        crate::stack::names::stack_env(&stack.name, &stack.env)
    }
}

/// The template's `OutputKey` for an output: `pacemaker_url` → `PacemakerUrl`.
pub fn output_key(name: &str) -> String {
    camel(name)
}

/// The logical id of the `n`th rule of a group (with logical id `group`) when it is a
/// resource of its own: `SecurityGroupPaasmakerIngress2`.
fn rule_logical_id(group: &str, egress: bool, n: usize) -> String {
    let list = if egress { "Egress" } else { "Ingress" };
    format!("{group}{list}{n}")
}

/// Addresses whose logical ids are the same (`instance.web1`, `instance.web_1` and
/// `instance.web[1]` are all `InstanceWeb1`), one sentence each: such a stack cannot be a
/// template, since one resource would silently replace the other.
pub fn clashes(stack: &Stack) -> Vec<String> {
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for resource in stack.resources.values() {
        let id = logical_id(&resource.address);
        if let Spec::SecurityGroup(sg) = &resource.spec {
            for (egress, rules) in [(false, Some(&sg.ingress)), (true, sg.egress.as_ref())] {
                for (n, rule) in rules.into_iter().flatten().enumerate() {
                    if !matches!(rule.source, RuleSource::Cidr(_)) {
                        let list = if egress { "egress" } else { "ingress" };
                        owners
                            .entry(rule_logical_id(&id, egress, n))
                            .or_default()
                            .push(format!("{list} rule {n} of `{}`", resource.address));
                    }
                }
            }
        }
        owners
            .entry(id)
            .or_default()
            .push(format!("`{}`", resource.address));
    }
    owners
        .into_iter()
        .filter(|(_, o)| o.len() > 1)
        .map(|(id, o)| {
            format!(
                "{} all become CloudFormation logical id `{id}`: rename one",
                o.join(", ")
            )
        })
        .collect()
}

/// The parameter a secret is passed in: `rds_password` → `SecretRdsPassword`.
pub fn secret_parameter(name: &str) -> String {
    format!("Secret{}", camel(name))
}

fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The attributes `Fn::GetAtt` reads, as `(kind, stackwright's name, CloudFormation's)`:
/// an instance's `PublicDnsName`, a database's `Endpoint.Address`. Anything else is `Ref`.
const GET_ATT: &[(Kind, &str, &str)] = &[
    (Kind::SecurityGroup, "id", "GroupId"),
    (Kind::KeyPair, "fingerprint", "KeyFingerprint"),
    (Kind::LoadBalancer, "dns_name", "DNSName"),
    (Kind::Database, "address", "Endpoint.Address"),
    (Kind::Database, "port", "Endpoint.Port"),
    (Kind::Instance, "public_dns", "PublicDnsName"),
    (Kind::Instance, "public_ip", "PublicIp"),
    (Kind::Instance, "private_dns", "PrivateDnsName"),
    (Kind::Instance, "private_ip", "PrivateIp"),
];

/// What `Ref` returns, in stackwright's words: an instance's id, the names of keys,
/// balancers, databases and records.
fn ref_attribute(kind: Kind) -> &'static str {
    match kind {
        Kind::Instance | Kind::SecurityGroup => "id",
        _ => "name",
    }
}

/// `${kind.name.attr}` as CloudFormation reads it: `Fn::GetAtt` or `Ref`.
fn attribute(target: &Address, attr: &str) -> Json {
    let id = logical_id(target);
    match GET_ATT
        .iter()
        .find(|(kind, name, _)| *kind == target.kind && *name == attr)
    {
        Some((_, _, cfn)) => json!({ "Fn::GetAtt": [id, cfn] }),
        None => json!({ "Ref": id }),
    }
}

/// A template as a string, or a `Fn::Sub` when it refers to anything: secrets as
/// `${SecretX}` (a parameter), attributes through Fn::Sub's variable map
/// (`${InstancePacemakerPublicDns}` → `Fn::GetAtt`), which every implementation reads.
fn text(template: &Template) -> Json {
    if let Some(literal) = template.as_literal() {
        return Json::String(literal);
    }
    let mut out = String::new();
    let mut variables = Map::new();
    for part in &template.parts {
        match part {
            // A literal `${` must not be read as a variable by Fn::Sub.
            Part::Text(t) => out.push_str(&t.replace("${", "${!")),
            Part::Secret(name) => out.push_str(&format!("${{{}}}", secret_parameter(name))),
            Part::Attr { target, attr } => {
                let name = format!("{}{}", logical_id(target), camel(attr));
                out.push_str(&format!("${{{name}}}"));
                variables.insert(name, attribute(target, attr));
            }
        }
    }
    if variables.is_empty() {
        json!({ "Fn::Sub": out })
    } else {
        json!({ "Fn::Sub": [out, variables] })
    }
}

fn group_id(group: &GroupRef) -> Json {
    match group {
        GroupRef::Stack(a) => json!({ "Fn::GetAtt": [logical_id(a), "GroupId"] }),
        GroupRef::External(id) => Json::String(id.clone()),
    }
}

fn tags(stack: &Stack, resource: &Resource, extra: &[(&str, Json)]) -> Json {
    let mut tags: BTreeMap<String, Json> = resource
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    for (k, v) in extra {
        tags.entry((*k).to_string()).or_insert_with(|| v.clone());
    }
    tags.insert(TAG_STACK.into(), json!(stack.name));
    tags.insert(TAG_ENV.into(), json!(stack.env));
    tags.insert(TAG_ADDRESS.into(), json!(resource.address.to_string()));
    tags.insert(TAG_ENGINE.into(), json!(ENGINE_TAG_VALUE));
    Json::Array(
        tags.into_iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect(),
    )
}

/// A rule's protocol and ports as CloudFormation spells them.
fn rule_fields(rule: &Rule, into: &mut Map<String, Json>) {
    into.insert("IpProtocol".into(), json!(rule.protocol));
    match rule.ports {
        Some((a, b)) => {
            into.insert("FromPort".into(), json!(a));
            into.insert("ToPort".into(), json!(b));
        }
        None if matches!(rule.protocol.as_str(), "icmp" | "icmpv6") => {
            into.insert("FromPort".into(), json!(-1));
            into.insert("ToPort".into(), json!(-1));
        }
        None => {}
    }
    if let Some(d) = &rule.description {
        into.insert("Description".into(), json!(d));
    }
}

/// An inline rule (from a CIDR), or `None` for a rule naming a group.
fn inline_rule(rule: &Rule, egress: bool) -> Option<Json> {
    let RuleSource::Cidr(cidr) = &rule.source else {
        return None;
    };
    let mut m = Map::new();
    rule_fields(rule, &mut m);
    let key = match (egress, cidr.contains(':')) {
        (false, false) => "CidrIp",
        (false, true) => "CidrIpv6",
        (true, false) => "CidrIp",
        (true, true) => "CidrIpv6",
    };
    m.insert(key.into(), json!(cidr));
    Some(Json::Object(m))
}

/// The template for `stack`, as `serde_json` (print it with `to_string_pretty`).
pub fn template(stack: &Stack) -> Json {
    let mut resources = Map::new();
    let mut parameters = Map::new();
    let mut shared = shared::SharedUserData::default();
    for (name, var) in &stack.secrets {
        let used = stack.resources.values().any(|r| match &r.spec {
            Spec::Instance(i) => i
                .user_data
                .iter()
                .any(|t| t.parts.contains(&Part::Secret(name.clone()))),
            Spec::Database(d) => d
                .master_password
                .parts
                .contains(&Part::Secret(name.clone())),
            _ => false,
        });
        if used {
            parameters.insert(
                secret_parameter(name),
                json!({
                    "Type": "String",
                    "NoEcho": true,
                    "Description": format!("secret `{name}` (stackwright reads it from ${var})"),
                }),
            );
        }
    }
    for resource in stack.resources.values() {
        let id = logical_id(&resource.address);
        let mut body = match &resource.spec {
            Spec::SecurityGroup(sg) => {
                for (egress, rules) in [(false, Some(&sg.ingress)), (true, sg.egress.as_ref())] {
                    let Some(rules) = rules else { continue };
                    for (n, rule) in rules.iter().enumerate() {
                        let source = match &rule.source {
                            RuleSource::Cidr(_) => continue,
                            RuleSource::SelfGroup => json!({ "Fn::GetAtt": [id, "GroupId"] }),
                            RuleSource::Group(g) => group_id(g),
                        };
                        let mut m = Map::new();
                        m.insert("GroupId".into(), json!({ "Fn::GetAtt": [id, "GroupId"] }));
                        rule_fields(rule, &mut m);
                        let (kind, key, suffix) = if egress {
                            (
                                "AWS::EC2::SecurityGroupEgress",
                                "DestinationSecurityGroupId",
                                "Egress",
                            )
                        } else {
                            (
                                "AWS::EC2::SecurityGroupIngress",
                                "SourceSecurityGroupId",
                                "Ingress",
                            )
                        };
                        m.insert(key.into(), source);
                        resources.insert(
                            rule_logical_id(&id, egress, n),
                            json!({
                                "Type": kind,
                                "Metadata": {
                                    META_ADDRESS: resource.address.to_string(),
                                    META_RULE: suffix.to_ascii_lowercase(),
                                },
                                "Properties": m,
                            }),
                        );
                    }
                }
                let mut props = json!({
                    "GroupName": resource.physical_name,
                    "GroupDescription": sg.description,
                    "SecurityGroupIngress": sg.ingress.iter().filter_map(|r| inline_rule(r, false)).collect::<Vec<_>>(),
                    "Tags": tags(stack, resource, &[]),
                });
                if let Some(vpc) = &sg.vpc {
                    props["VpcId"] = json!(vpc);
                }
                if let Some(egress) = &sg.egress {
                    props["SecurityGroupEgress"] = json!(
                        egress
                            .iter()
                            .filter_map(|r| inline_rule(r, true))
                            .collect::<Vec<_>>()
                    );
                }
                json!({ "Type": "AWS::EC2::SecurityGroup", "Properties": props })
            }
            Spec::KeyPair(k) => json!({
                "Type": "AWS::EC2::KeyPair",
                "Properties": {
                    "KeyName": resource.physical_name,
                    "PublicKeyMaterial": k.public_key,
                    "Tags": tags(stack, resource, &[]),
                },
            }),
            Spec::LoadBalancer(lb) => {
                let listeners: Vec<Json> = lb
                    .listeners
                    .iter()
                    .map(|l| {
                        let mut m = json!({
                            "LoadBalancerPort": l.port.to_string(),
                            "Protocol": l.protocol,
                            "InstancePort": l.instance_port.to_string(),
                            "InstanceProtocol": l.instance_protocol,
                        });
                        if let Some(c) = &l.ssl_certificate_id {
                            m["SSLCertificateId"] = json!(c);
                        }
                        m
                    })
                    .collect();
                let mut props = json!({
                    "LoadBalancerName": resource.physical_name,
                    "Listeners": listeners,
                    "Instances": lb.instances.iter().map(|a| json!({ "Ref": logical_id(a) })).collect::<Vec<_>>(),
                    "CrossZone": lb.cross_zone,
                    "Tags": tags(stack, resource, &[]),
                });
                // Subnets (in the env's VPC) or zones, never both.
                if lb.subnets.is_empty() {
                    props["AvailabilityZones"] = json!(lb.availability_zones);
                } else {
                    props["Subnets"] = json!(lb.subnets);
                }
                if let Some(h) = &lb.health_check {
                    props["HealthCheck"] = json!({
                        "Target": h.target,
                        "Interval": h.interval.to_string(),
                        "Timeout": h.timeout.to_string(),
                        "UnhealthyThreshold": h.unhealthy_threshold.to_string(),
                        "HealthyThreshold": h.healthy_threshold.to_string(),
                    });
                }
                if !lb.security_groups.is_empty() {
                    props["SecurityGroups"] =
                        json!(lb.security_groups.iter().map(group_id).collect::<Vec<_>>());
                }
                json!({ "Type": "AWS::ElasticLoadBalancing::LoadBalancer", "Properties": props })
            }
            Spec::Database(d) => {
                let mut props = json!({
                    "DBInstanceIdentifier": resource.physical_name,
                    "Engine": d.engine,
                    "DBInstanceClass": d.instance_class,
                    "AllocatedStorage": d.storage_gb.to_string(),
                    "MasterUsername": d.master_username,
                    "MasterUserPassword": text(&d.master_password),
                    "MultiAZ": d.multi_az,
                    "BackupRetentionPeriod": d.backup_retention_days,
                    // Always said: AWS's default depends on the subnet group.
                    "PubliclyAccessible": d.publicly_accessible,
                    "DeletionProtection": d.deletion_protection,
                    "StorageEncrypted": d.storage_encrypted,
                    "Tags": tags(stack, resource, &[]),
                });
                let optional = [
                    ("EngineVersion", d.engine_version.as_ref().map(|v| json!(v))),
                    ("StorageType", d.storage_type.as_ref().map(|v| json!(v))),
                    ("DBName", d.db_name.as_ref().map(|v| json!(v))),
                    ("Port", d.port.map(|p| json!(p.to_string()))),
                    (
                        "AvailabilityZone",
                        d.availability_zone.as_ref().map(|v| json!(v)),
                    ),
                ];
                for (k, v) in optional {
                    if let Some(v) = v {
                        props[k] = v;
                    }
                }
                if !d.security_groups.is_empty() {
                    props["VPCSecurityGroups"] =
                        json!(d.security_groups.iter().map(group_id).collect::<Vec<_>>());
                }
                // Its own DB subnet group, named as the database, made and deleted with it.
                if !d.subnets.is_empty() {
                    let group = format!("{id}SubnetGroup");
                    resources.insert(
                        group.clone(),
                        json!({
                            "Type": "AWS::RDS::DBSubnetGroup",
                            // Part of the database, as a rule is of its group: a change
                            // to it is a change to the database.
                            "Metadata": {
                                META_ADDRESS: resource.address.to_string(),
                                META_RULE: "subnet_group",
                            },
                            "Properties": {
                                "DBSubnetGroupName": resource.physical_name,
                                "DBSubnetGroupDescription": format!(
                                    "stackwright: subnets of database `{}` (stack `{}` env `{}`)",
                                    resource.physical_name, stack.name, stack.env
                                ),
                                "SubnetIds": d.subnets,
                                "Tags": tags(stack, resource, &[]),
                            },
                        }),
                    );
                    props["DBSubnetGroupName"] = json!({ "Ref": group });
                }
                let policy = if d.final_snapshot {
                    "Snapshot"
                } else {
                    "Delete"
                };
                json!({
                    "Type": "AWS::RDS::DBInstance",
                    "DeletionPolicy": policy,
                    "UpdateReplacePolicy": policy,
                    "Properties": props,
                })
            }
            Spec::Instance(i) => {
                let name = json!(resource.physical_name);
                let mut props = json!({
                    "ImageId": i.ami,
                    "InstanceType": i.instance_type,
                    "InstanceInitiatedShutdownBehavior": i.shutdown_behavior.as_str(),
                    "MetadataOptions": {
                        "HttpTokens": i.metadata_tokens.as_str(),
                        "HttpEndpoint": "enabled",
                    },
                    "Tags": tags(stack, resource, &[("Name", name)]),
                });
                if let Some(k) = &i.key_name {
                    props["KeyName"] = text(k);
                }
                if !i.security_groups.is_empty() {
                    props["SecurityGroupIds"] =
                        json!(i.security_groups.iter().map(group_id).collect::<Vec<_>>());
                }
                if let Some(z) = &i.availability_zone {
                    props["AvailabilityZone"] = json!(z);
                }
                if let Some(subnet) = &i.subnet {
                    props["SubnetId"] = json!(subnet);
                }
                if i.root_volume_gb.is_some() || i.root_volume_encrypted {
                    let mut ebs = json!({ "DeleteOnTermination": true });
                    if let Some(gb) = i.root_volume_gb {
                        ebs["VolumeSize"] = json!(gb.to_string());
                    }
                    if i.root_volume_encrypted {
                        ebs["Encrypted"] = json!(true);
                    }
                    props["BlockDeviceMappings"] =
                        json!([{ "DeviceName": ROOT_DEVICE, "Ebs": ebs }]);
                }
                if let Some(ud) = &i.user_data {
                    props["UserData"] = shared.user_data(&resource.address, ud, text(ud));
                }
                json!({ "Type": "AWS::EC2::Instance", "Properties": props })
            }
            Spec::DnsRecord(r) => json!({
                "Type": "AWS::Route53::RecordSet",
                "Properties": {
                    "HostedZoneName": format!("{}.", r.zone),
                    "Name": r.fqdn,
                    "Type": r.record_type,
                    "TTL": r.ttl.to_string(),
                    "ResourceRecords": r.records.iter().map(text).collect::<Vec<_>>(),
                },
            }),
        };
        body["Metadata"] = json!({ META_ADDRESS: resource.address.to_string() });
        if resource.prevent_destroy {
            body["Metadata"][META_PREVENT_DESTROY] = json!(true);
        }
        if !resource.depends_on.is_empty() {
            body["DependsOn"] = json!(
                resource
                    .depends_on
                    .iter()
                    .map(logical_id)
                    .collect::<Vec<_>>()
            );
        }
        resources.insert(id, body);
    }
    let outputs: Map<String, Json> = stack
        .outputs
        .iter()
        .map(|(name, t)| {
            (
                output_key(name),
                json!({ "Description": name, "Value": text(t) }),
            )
        })
        .collect();
    let secrets: Map<String, Json> = parameters
        .keys()
        .filter_map(|p| {
            let name = stack.secrets.keys().find(|n| secret_parameter(n) == *p)?;
            Some((p.clone(), json!(name)))
        })
        .collect();
    let mut root = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("stackwright stack `{}`, env `{}`", stack.name, stack.env),
        "Metadata": { "stackwright": { "stack": stack.name, "env": stack.env, "secrets": secrets } },
        "Resources": resources,
    });
    if !parameters.is_empty() {
        root["Parameters"] = Json::Object(parameters);
    }
    if let Some(mappings) = shared.mappings() {
        root["Mappings"] = mappings;
    }
    if !outputs.is_empty() {
        root["Outputs"] = Json::Object(outputs);
    }
    root
}

#[cfg(test)]
mod tests;
