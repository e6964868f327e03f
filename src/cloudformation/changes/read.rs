//! Reading what CloudFormation says: a template (the one deployed, or the one about to
//! be) as a [`View`] of each address, in stackwright's attribute names. Properties are
//! named as the stack names them (`ImageId` → `ami`), rule resources fold back into their
//! group's `ingress` / `egress` in the planner's rule form (`tcp 22 from 0.0.0.0/0`),
//! references read `${kind.name.attr}` and secrets `${secret.NAME}` (printed
//! `(sensitive)`). What CloudFormation says of a change set and of a stack's events
//! arrives as the provider's plain types ([`crate::provider::cloudformation`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::cloudformation::{
    GET_ATT, META_ADDRESS, META_PREVENT_DESTROY, META_RULE, ref_attribute,
};
use crate::provider::{LiveResource, LiveState, Value, flag};
use crate::stack::{Address, Kind};

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
            mappings: &template["Mappings"],
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
                        out.insert(
                            "root_volume_encrypted".into(),
                            flag(meta_flag(&value[0]["Ebs"]["Encrypted"])),
                        );
                    }
                    "MetadataOptions" => {
                        let tokens = &value["HttpTokens"];
                        if !tokens.is_null() {
                            out.insert("metadata_tokens".into(), Value::Text(names.text(tokens)));
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
                expires: None,
            });
        }
        state
    }
}

fn meta_flag(value: &Json) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

/// The stack's name for a CloudFormation property, where it has one.
pub(super) fn attribute_name(kind: Kind, property: &str) -> &str {
    if property == "Tags" {
        return "tags";
    }
    let table: &[(&str, &str)] = match kind {
        Kind::SecurityGroup => &[
            ("GroupName", "name"),
            ("GroupDescription", "description"),
            ("VpcId", "vpc"),
        ],
        Kind::KeyPair => &[("KeyName", "name"), ("PublicKeyMaterial", "public_key")],
        Kind::LoadBalancer => &[
            ("LoadBalancerName", "name"),
            ("AvailabilityZones", "availability_zones"),
            ("Subnets", "subnets"),
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
            ("StorageEncrypted", "storage_encrypted"),
            // Its own subnet group's name (a `Ref`): the subnets are the group's.
            ("DBSubnetGroupName", "db_subnet_group"),
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
            ("MetadataOptions", "metadata_tokens"),
            ("SubnetId", "subnet"),
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
    /// The template's `Mappings` (shared user data).
    mappings: &'a Json,
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
                        // Shared user data: pieces looked up and joined.
                        ("Fn::FindInMap", Json::Array(path)) if path.len() == 3 => {
                            let found = path
                                .iter()
                                .try_fold(self.mappings, |at, key| Some(&at[key.as_str()?]));
                            if let Some(found @ Json::String(_)) = found {
                                return found.clone();
                            }
                        }
                        ("Fn::Join", Json::Array(parts)) if parts.len() == 2 => {
                            if let (Some(sep), Some(items)) =
                                (parts[0].as_str(), parts[1].as_array())
                            {
                                let texts: Vec<String> =
                                    items.iter().map(|i| self.text(i)).collect();
                                return Json::String(texts.join(sep));
                            }
                        }
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
