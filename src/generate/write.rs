//! The generated stack's files: `stack.toml` and `env/<env>.toml` serialized with the
//! `toml` crate from the structs below (fields in their declared order, resources by
//! name), user data under `files/`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::forms::{self, HealthOut, ListenerOut, RuleOut, Source};
use super::{Generated, Request};
use crate::provider::{LiveResource, Value};
use crate::stack::{Address, Kind};

#[derive(Serialize)]
struct StackFile {
    stack: Header,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, SecretOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    security_group: BTreeMap<String, GroupOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    key_pair: BTreeMap<String, KeyOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    load_balancer: BTreeMap<String, BalancerOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    database: BTreeMap<String, DatabaseOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    instance: BTreeMap<String, InstanceOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dns_record: BTreeMap<String, RecordOut>,
}

#[derive(Serialize)]
struct Header {
    name: String,
    region: String,
}

#[derive(Serialize)]
struct SecretOut {
    env: String,
}

#[derive(Serialize)]
struct GroupOut {
    name: String,
    description: String,
    ingress: Vec<RuleOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    egress: Option<Vec<RuleOut>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct KeyOut {
    name: String,
    public_key: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct BalancerOut {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    availability_zones: Vec<String>,
    /// In a VPC other than the default: its subnets, instead of zones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subnets: Vec<String>,
    listeners: Vec<ListenerOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_check: Option<HealthOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    instances: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cross_zone: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct DatabaseOut {
    name: String,
    engine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine_version: Option<String>,
    instance_class: String,
    storage_gb: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_type: Option<String>,
    master_username: String,
    master_password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone: Option<String>,
    multi_az: bool,
    backup_retention_days: u32,
    publicly_accessible: bool,
    deletion_protection: bool,
    /// Written only as `false`: an unencrypted database as it is (the default, on, is
    /// for new ones and would plan nothing, but says something untrue).
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_encrypted: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct InstanceOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    ami: String,
    instance_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zones: Option<Vec<String>>,
    /// In a VPC other than the default: its subnet (a counted block's, in replica order),
    /// instead of zones.
    #[serde(skip_serializing_if = "Option::is_none")]
    subnets: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root_volume_gb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shutdown_behavior: Option<String>,
    /// Written only as `optional`: the default (`required`) would change the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_tokens: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_data: Option<TemplateOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct TemplateOut {
    template: String,
}

#[derive(Serialize)]
struct RecordOut {
    zone: String,
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    ttl: u32,
    records: Vec<String>,
}

#[derive(Serialize)]
struct EnvFile {
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc: Option<String>,
    import: BTreeMap<String, String>,
}

/// The user tags of a live resource (`key=value` items).
pub(super) fn user_tags(live: &LiveResource) -> BTreeMap<String, String> {
    match live.attrs.get("tags") {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The user tags as the stack writes them: values are interpolated, so `${` is `$${`.
fn written_tags(live: &LiveResource) -> BTreeMap<String, String> {
    user_tags(live)
        .into_iter()
        .map(|(k, v)| (k, forms::escape_template(&v)))
        .collect()
}

fn text(live: &LiveResource, name: &str) -> Option<String> {
    match live.attrs.get(name) {
        Some(Value::Text(t)) if !t.is_empty() => Some(t.clone()),
        _ => None,
    }
}

fn list(live: &LiveResource, name: &str) -> Vec<String> {
    match live.attrs.get(name) {
        Some(Value::List(items)) => items.clone(),
        _ => Vec::new(),
    }
}

fn number<T: std::str::FromStr>(live: &LiveResource, name: &str) -> Option<T> {
    text(live, name).and_then(|t| t.parse().ok())
}

fn flag(live: &LiveResource, name: &str) -> bool {
    text(live, name).as_deref() == Some("true")
}

/// An address as the stack names it within its kind: `web`, `app[1]` (a replica).
fn local(address: &Address) -> String {
    match address.index {
        Some(i) => format!("{}[{i}]", address.name),
        None => address.name.clone(),
    }
}

/// The zones of a counted block's replicas (in replica order) as `availability_zones`,
/// over which replicas are spread round-robin: the shortest list that repeats into them.
fn zone_cycle(zones: &[String]) -> Vec<String> {
    let period = (1..=zones.len())
        .find(|&p| zones.iter().enumerate().all(|(i, z)| *z == zones[i % p]))
        .unwrap_or(zones.len());
    zones[..period].to_vec()
}

/// How the resources found are written: their final names, and the warnings.
struct Writer<'a> {
    /// Provisional address (`security_group.id0`) → final address.
    names: &'a BTreeMap<Address, Address>,
    found: &'a BTreeMap<Address, &'a LiveResource>,
    warnings: Vec<String>,
    /// The VPC the stack is placed in (not the region's default): subnets, not zones.
    placed: bool,
}

impl Writer<'_> {
    /// The final name of a provisional address as refresh writes it (`security_group.id0`).
    fn name_of(&self, text: &str) -> Option<String> {
        let address: Address = text.parse().ok()?;
        self.names.get(&address).map(local)
    }

    /// How `live` is named in a warning: `instance i-…`, `load balancer \`web\``.
    fn who(live: &LiveResource) -> String {
        match live.address.kind {
            Kind::SecurityGroup => format!("security group {}", live.id),
            Kind::Instance => format!("instance {}", live.id),
            Kind::LoadBalancer => format!("load balancer `{}`", live.id),
            Kind::Database => format!("database `{}`", live.id),
            Kind::KeyPair => format!("key pair `{}`", live.id),
            Kind::DnsRecord => format!("record `{}`", live.id),
        }
    }

    /// Group references (`security_groups`): names of listed groups, ids of the others.
    fn groups(&mut self, live: &LiveResource, attr: &str) -> Vec<String> {
        list(live, attr)
            .into_iter()
            .map(|g| match self.name_of(&g) {
                Some(name) => name,
                None => {
                    self.warnings.push(format!(
                        "{} uses security group {g} which was not listed; the stack names it \
                         by its id",
                        Self::who(live)
                    ));
                    g
                }
            })
            .collect()
    }

    fn rules(&mut self, live: &LiveResource, attr: &str) -> Vec<RuleOut> {
        let mut out = Vec::new();
        for text in list(live, attr) {
            let Some((mut rule, source)) = forms::rule(&text) else {
                self.warnings.push(format!(
                    "{}: rule `{text}` could not be read back; it is left out, so apply \
                     would remove it",
                    Self::who(live)
                ));
                continue;
            };
            rule.description = rule.description.map(|d| forms::escape_template(&d));
            rule.group = match source {
                Source::Cidr(_) => None,
                Source::SelfGroup => Some("self".into()),
                Source::Address(a) => self.name_of(&a).or(Some(a)),
                Source::External(id) => {
                    self.warnings.push(format!(
                        "{} admits security group {id} which was not listed; the rule names \
                         it by its id",
                        Self::who(live)
                    ));
                    Some(id)
                }
            };
            out.push(rule);
        }
        out
    }

    fn group(&mut self, live: &LiveResource) -> GroupOut {
        let ingress = self.rules(live, "ingress");
        let egress = self.rules(live, "egress");
        // AWS's default egress (all traffic anywhere) is what an omitted `egress` leaves.
        let default_egress = egress.len() == 1
            && egress[0].protocol == "all"
            && egress[0].cidr.as_deref() == Some("0.0.0.0/0")
            && egress[0].description.is_none();
        GroupOut {
            name: forms::escape_template(&text(live, "name").unwrap_or_default()),
            description: forms::escape_template(&text(live, "description").unwrap_or_default()),
            ingress,
            egress: (!default_egress).then_some(egress),
            tags: written_tags(live),
        }
    }

    fn balancer(&mut self, live: &LiveResource) -> BalancerOut {
        let mut instances = Vec::new();
        for member in list(live, "instances") {
            match self.name_of(&member) {
                Some(name) => instances.push(name),
                None => self.warnings.push(format!(
                    "{} has instance {member} registered, which was not listed; the stack \
                     cannot name it, so apply would deregister it: list it too",
                    Self::who(live)
                )),
            }
        }
        instances.sort();
        let mut listeners = Vec::new();
        for listener in list(live, "listeners") {
            match forms::listener(&listener) {
                Some(l) => listeners.push(l),
                None => self.warnings.push(format!(
                    "{}: listener `{listener}` could not be read back; it is left out, so apply \
                     would remove it",
                    Self::who(live)
                )),
            }
        }
        let health_check = text(live, "health_check").and_then(|h| {
            let read = forms::health_check(&h);
            if read.is_none() {
                self.warnings.push(format!(
                    "{}: health check `{h}` could not be read back; it is left out",
                    Self::who(live)
                ));
            }
            read
        });
        let (availability_zones, subnets) = if self.placed {
            (Vec::new(), list(live, "subnets"))
        } else {
            (list(live, "availability_zones"), Vec::new())
        };
        BalancerOut {
            name: text(live, "name").unwrap_or_default(),
            availability_zones,
            subnets,
            listeners,
            health_check,
            instances,
            security_groups: self.groups(live, "security_groups"),
            cross_zone: text(live, "cross_zone").map(|v| v == "true"),
            tags: written_tags(live),
        }
    }

    fn database(&mut self, live: &LiveResource, secret: &str) -> DatabaseOut {
        DatabaseOut {
            name: text(live, "identifier").unwrap_or_default(),
            engine: text(live, "engine").unwrap_or_default(),
            engine_version: text(live, "engine_version"),
            instance_class: text(live, "instance_class").unwrap_or_default(),
            storage_gb: number(live, "storage_gb").unwrap_or(1),
            storage_type: text(live, "storage_type"),
            master_username: text(live, "master_username").unwrap_or_default(),
            master_password: format!("${{secret.{secret}}}"),
            db_name: text(live, "db_name"),
            port: number(live, "port"),
            security_groups: self.groups(live, "security_groups"),
            availability_zone: text(live, "availability_zone"),
            multi_az: flag(live, "multi_az"),
            backup_retention_days: number(live, "backup_retention_days").unwrap_or(0),
            publicly_accessible: flag(live, "publicly_accessible"),
            deletion_protection: flag(live, "deletion_protection"),
            storage_encrypted: text(live, "storage_encrypted")
                .is_some_and(|v| v == "false")
                .then_some(false),
            tags: written_tags(live),
        }
    }

    fn instance(&mut self, live: &LiveResource, user_data: Option<String>) -> InstanceOut {
        let mut tags = written_tags(live);
        // The Name tag as `name`, where the stack can say it so (printable ASCII).
        let name = tags
            .get("Name")
            .filter(|n| crate::stack::names::check(Kind::Instance, n).is_ok())
            .cloned();
        if name.is_some() {
            tags.remove("Name");
        }
        let key_name = text(live, "key_name").map(|key| {
            let listed = self.found.iter().find(|(_, k)| {
                k.address.kind == Kind::KeyPair && text(k, "name").as_deref() == Some(&key)
            });
            match listed.and_then(|(a, _)| self.names.get(a)) {
                Some(a) => format!("${{key_pair.{}.name}}", a.name),
                None => {
                    self.warnings.push(format!(
                        "{} uses key pair `{key}` which was not listed; the stack names it",
                        Self::who(live)
                    ));
                    key
                }
            }
        });
        let subnet = text(live, "subnet").filter(|_| self.placed);
        InstanceOut {
            name,
            count: None,
            ami: text(live, "ami").unwrap_or_default(),
            instance_type: text(live, "instance_type").unwrap_or_default(),
            availability_zone: text(live, "availability_zone").filter(|_| subnet.is_none()),
            availability_zones: None,
            subnets: subnet.map(|s| vec![s]),
            key_name,
            security_groups: self.groups(live, "security_groups"),
            root_volume_gb: number(live, "root_volume_gb"),
            shutdown_behavior: text(live, "shutdown_behavior").filter(|b| b != "stop"),
            metadata_tokens: text(live, "metadata_tokens").filter(|t| t != "required"),
            user_data: user_data.map(|template| TemplateOut { template }),
            tags,
        }
    }

    /// A record's values, each a reference where it is what a listed resource's
    /// attribute resolves to (a balancer's DNS name, an instance's public name or
    /// address, a database's address).
    fn record(&mut self, live: &LiveResource) -> RecordOut {
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        for (address, other) in self.found {
            let Some(name) = self.names.get(address).map(local) else {
                continue;
            };
            let attrs: &[&str] = match address.kind {
                Kind::LoadBalancer => &["dns_name"],
                Kind::Instance => &["public_dns", "public_ip", "private_dns", "private_ip"],
                Kind::Database => &["address"],
                _ => &[],
            };
            for attr in attrs {
                if let Some(v) = other.outputs.get(*attr).filter(|v| !v.is_empty()) {
                    refs.entry(v.trim_end_matches('.').to_ascii_lowercase())
                        .or_insert_with(|| format!("${{{}.{name}.{attr}}}", address.kind));
                }
            }
        }
        let mut records = Vec::new();
        for value in list(live, "records") {
            match refs.get(&value.to_ascii_lowercase()) {
                Some(r) => records.push(r.clone()),
                None => {
                    if value.contains(".elb.amazonaws.com") {
                        self.warnings.push(format!(
                            "{} points at load balancer `{value}` which was not listed; the \
                             stack writes the name",
                            Self::who(live)
                        ));
                    }
                    records.push(value.replace("${", "$${"));
                }
            }
        }
        RecordOut {
            zone: text(live, "zone").unwrap_or_default(),
            name: text(live, "fqdn").unwrap_or_default(),
            record_type: text(live, "type").unwrap_or_default(),
            ttl: number(live, "ttl").unwrap_or(300),
            records,
        }
    }
}

/// The stack directory for `found` (provisional address → what refresh read), named by
/// `names`.
pub(super) fn stack(
    request: &Request,
    found: &BTreeMap<Address, &LiveResource>,
    names: &BTreeMap<Address, Address>,
    vpc: Option<&str>,
) -> Result<Generated, String> {
    let mut out = Generated::default();
    let mut file = StackFile {
        stack: Header {
            name: request.name.clone(),
            region: request.region.clone(),
        },
        secrets: BTreeMap::new(),
        security_group: BTreeMap::new(),
        key_pair: BTreeMap::new(),
        load_balancer: BTreeMap::new(),
        database: BTreeMap::new(),
        instance: BTreeMap::new(),
        dns_record: BTreeMap::new(),
    };
    let mut w = Writer {
        names,
        found,
        warnings: Vec::new(),
        placed: vpc.is_some(),
    };
    // Counted blocks: block name → its replicas by index.
    let mut replicas: BTreeMap<String, BTreeMap<u32, &LiveResource>> = BTreeMap::new();
    for (address, live) in found {
        let Some(final_address) = names.get(address) else {
            continue;
        };
        out.imports.insert(final_address.clone(), live.id.clone());
        let name = final_address.name.clone();
        if let Some(i) = final_address.index {
            replicas.entry(name).or_default().insert(i, live);
            continue;
        }
        match address.kind {
            Kind::SecurityGroup => {
                file.security_group.insert(name, w.group(live));
            }
            Kind::KeyPair => {
                file.key_pair.insert(
                    name,
                    KeyOut {
                        name: text(live, "name").unwrap_or_default(),
                        public_key: text(live, "public_key").unwrap_or_default(),
                        tags: written_tags(live),
                    },
                );
            }
            Kind::LoadBalancer => {
                file.load_balancer.insert(name, w.balancer(live));
            }
            Kind::Database => {
                let secret = format!("{}_master_password", name.replace('-', "_"));
                let var = forms::env_var(&[&request.name, &name, "password"]);
                file.secrets
                    .insert(secret.clone(), SecretOut { env: var.clone() });
                out.secrets.insert(secret.clone(), var);
                file.database.insert(name, w.database(live, &secret));
            }
            Kind::Instance => {
                let user_data = text(live, "user_data").map(|ud| {
                    let path = format!("files/{name}.user-data");
                    out.files.insert(path.clone(), forms::escape_template(&ud));
                    path
                });
                file.instance.insert(name, w.instance(live, user_data));
            }
            Kind::DnsRecord => {
                file.dns_record.insert(name, w.record(live));
            }
        }
    }
    for (name, replicas) in replicas {
        let Some(first) = replicas.values().next() else {
            continue;
        };
        let user_data = text(first, "user_data").map(|ud| {
            let path = format!("files/{name}.user-data");
            out.files.insert(path.clone(), forms::escape_template(&ud));
            path
        });
        let mut block = w.instance(first, user_data);
        let zones: Vec<String> = replicas
            .values()
            .filter_map(|r| text(r, "availability_zone"))
            .collect();
        let cycle = zone_cycle(&zones);
        block.name = None;
        block.count = u32::try_from(replicas.len()).ok();
        if vpc.is_some() {
            let subnets: Vec<String> = replicas
                .values()
                .filter_map(|r| text(r, "subnet"))
                .collect();
            if subnets.len() == replicas.len() {
                block.subnets = Some(zone_cycle(&subnets));
            }
        } else if zones.len() == replicas.len() && cycle.len() > 1 {
            block.availability_zone = None;
            block.availability_zones = Some(cycle);
        }
        file.instance.insert(name, block);
    }
    let env = EnvFile {
        region: request.region.clone(),
        vpc: vpc.map(String::from),
        import: out
            .imports
            .iter()
            .map(|(a, id)| (a.to_string(), id.clone()))
            .collect(),
    };
    let header = format!(
        "# Generated by `stackwright generate` from what exists in AWS (region {}).\n\
         # Every resource here is adopted by the import table of env/{}.toml.\n\n",
        request.region, request.env
    );
    let written = |e: toml::ser::Error| format!("failed to write the stack as TOML: {e}");
    out.files.insert(
        "stack.toml".into(),
        header + &toml::to_string(&file).map_err(written)?,
    );
    out.files.insert(
        format!("env/{}.toml", request.env),
        toml::to_string(&env).map_err(written)?,
    );
    out.warnings = w.warnings;
    Ok(out)
}
