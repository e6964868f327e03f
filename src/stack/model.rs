//! The checked model of a stack: what the stack file means, for one env.
//!
//! Everything here is plain, serializable data with no spans and no file paths, so a plan
//! built on it can be saved and reloaded. Vars, `${stack.name}` and `${env}` are already
//! substituted; what is known only at apply time (secrets, other resources' attributes)
//! stays symbolic in a [`Template`]. Replicas of a counted instance are separate resources
//! (`instance.heart[0]`, `instance.heart[1]`, …).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::template::Template;

/// The six kinds of resource a stack can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    SecurityGroup,
    KeyPair,
    LoadBalancer,
    Database,
    Instance,
    DnsRecord,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::SecurityGroup,
        Kind::KeyPair,
        Kind::LoadBalancer,
        Kind::Database,
        Kind::Instance,
        Kind::DnsRecord,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SecurityGroup => "security_group",
            Kind::KeyPair => "key_pair",
            Kind::LoadBalancer => "load_balancer",
            Kind::Database => "database",
            Kind::Instance => "instance",
            Kind::DnsRecord => "dns_record",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Where a kind is destroyed when the graph no longer knows the resource (it was
    /// taken out of the stack): what uses others first, records and balancers before
    /// instances, instances before databases, key pairs and groups.
    pub fn destroy_rank(self) -> u8 {
        match self {
            Kind::DnsRecord => 0,
            Kind::LoadBalancer => 1,
            Kind::Instance => 2,
            Kind::Database => 3,
            Kind::KeyPair => 4,
            Kind::SecurityGroup => 5,
        }
    }

    /// The attributes `${kind.name.attr}` may read: known once the resource exists.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Kind::SecurityGroup => &["id", "name"],
            Kind::KeyPair => &["name", "fingerprint"],
            Kind::LoadBalancer => &["dns_name", "name"],
            Kind::Database => &["address", "port", "identifier"],
            Kind::Instance => &["id", "public_dns", "public_ip", "private_dns", "private_ip"],
            Kind::DnsRecord => &["fqdn"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind.name`, or `kind.name[i]` for one replica of a counted instance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
    pub index: Option<u32>,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>, index: Option<u32>) -> Self {
        Address {
            kind,
            name: name.into(),
            index,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an address (`KIND.NAME` or `KIND.NAME[i]`)");
        let (kind, rest) = s.split_once('.').ok_or_else(bad)?;
        let kind = Kind::parse(kind).ok_or_else(bad)?;
        let (name, index) = super::template::split_index(rest).ok_or_else(bad)?;
        if name.is_empty() || name.contains('.') {
            return Err(bad());
        }
        Ok(Address::new(kind, name, index))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A stack, checked, for one env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    pub name: String,
    pub env: String,
    pub region: String,
    pub endpoint_url: Option<String>,
    /// Secret name → the environment variable it is read from.
    pub secrets: BTreeMap<String, String>,
    pub resources: BTreeMap<Address, Resource>,
    pub outputs: BTreeMap<String, Template>,
}

impl Stack {
    pub fn resource(&self, address: &Address) -> Option<&Resource> {
        self.resources.get(address)
    }
}

/// One resource (one replica, for counted instances).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub address: Address,
    /// The name AWS knows it by (the `Name` tag for instances, the FQDN for records).
    pub physical_name: String,
    pub prevent_destroy: bool,
    /// Ordering edges from `depends_on`.
    pub depends_on: Vec<Address>,
    /// Extra tags from the stack file (the three `stackwright:` tags are added on create).
    pub tags: BTreeMap<String, Template>,
    pub spec: Spec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Spec {
    SecurityGroup(SecurityGroup),
    KeyPair(KeyPair),
    LoadBalancer(LoadBalancer),
    Database(Database),
    Instance(Instance),
    DnsRecord(DnsRecord),
}

/// A group named in `security_groups`: one of the stack's, or one that exists already.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRef {
    Stack(Address),
    External(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub description: String,
    pub ingress: Vec<Rule>,
    /// `None`: AWS's default allow-all egress is left alone.
    pub egress: Option<Vec<Rule>>,
}

/// A rule in normalized form: the same rule always compares equal however it was written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rule {
    /// As AWS's `IpProtocol`: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a number.
    pub protocol: String,
    /// Inclusive port range; `None` for protocols without ports (all ports).
    pub ports: Option<(u16, u16)>,
    pub source: RuleSource,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// A CIDR in canonical form (`10.0.0.0/8`, `::/0`).
    Cidr(String),
    /// The group itself (`group = "self"`).
    SelfGroup,
    Group(GroupRef),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyPair {
    pub public_key: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub availability_zones: Vec<String>,
    pub listeners: Vec<Listener>,
    pub health_check: Option<HealthCheck>,
    /// Every replica registered with the balancer.
    pub instances: Vec<Address>,
    pub security_groups: Vec<GroupRef>,
    pub cross_zone: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub port: u16,
    /// Upper case, as AWS returns it: `HTTP`, `HTTPS`, `TCP`, `SSL`.
    pub protocol: String,
    pub instance_port: u16,
    pub instance_protocol: String,
    pub ssl_certificate_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Normalized: protocol upper case (`TCP:80`, `HTTP:80/health`).
    pub target: String,
    pub interval: u32,
    pub timeout: u32,
    pub unhealthy_threshold: u32,
    pub healthy_threshold: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Database {
    /// Lower case, as AWS returns it.
    pub engine: String,
    pub engine_version: Option<String>,
    pub instance_class: String,
    pub storage_gb: u32,
    pub storage_type: Option<String>,
    pub master_username: String,
    pub master_password: Template,
    pub db_name: Option<String>,
    pub port: Option<u16>,
    pub security_groups: Vec<GroupRef>,
    pub availability_zone: Option<String>,
    pub multi_az: bool,
    pub backup_retention_days: u32,
    pub publicly_accessible: bool,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub ami: String,
    pub instance_type: String,
    pub availability_zone: Option<String>,
    pub key_name: Option<Template>,
    pub security_groups: Vec<GroupRef>,
    pub root_volume_gb: Option<u32>,
    pub shutdown_behavior: ShutdownBehavior,
    pub user_data: Option<Template>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownBehavior {
    Stop,
    Terminate,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// The hosted zone's name, lower case, no trailing dot.
    pub zone: String,
    /// The record's fully qualified name, lower case, no trailing dot.
    pub fqdn: String,
    pub record_type: String,
    pub ttl: u32,
    pub records: Vec<Template>,
}

/// The canonical text of a rule, used in plans and to compare desired with live rules:
/// `tcp 22 from 0.0.0.0/0 "SSH"`, `all from security_group.web`, `tcp 0-65535 from self`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        f.write_str(protocol)?;
        match self.ports {
            Some((a, b)) if a == b => write!(f, " {a}")?,
            Some((a, b)) => write!(f, " {a}-{b}")?,
            None => {}
        }
        f.write_str(" from ")?;
        match &self.source {
            RuleSource::Cidr(c) => f.write_str(c)?,
            RuleSource::SelfGroup => f.write_str("self")?,
            RuleSource::Group(GroupRef::Stack(a)) => write!(f, "{a}")?,
            RuleSource::Group(GroupRef::External(id)) => f.write_str(id)?,
        }
        if let Some(d) = &self.description {
            write!(f, " {d:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupRef::Stack(a) => write!(f, "{a}"),
            GroupRef::External(id) => f.write_str(id),
        }
    }
}

/// `HTTP:80 -> HTTP:80`, with ` cert=<arn>` when there is a certificate.
impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} -> {}:{}",
            self.protocol, self.port, self.instance_protocol, self.instance_port
        )?;
        if let Some(c) = &self.ssl_certificate_id {
            write!(f, " cert={c}")?;
        }
        Ok(())
    }
}

/// `TCP:80 every 30s, timeout 5s, unhealthy 2, healthy 2`.
impl fmt::Display for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} every {}s, timeout {}s, unhealthy {}, healthy {}",
            self.target,
            self.interval,
            self.timeout,
            self.unhealthy_threshold,
            self.healthy_threshold
        )
    }
}

impl ShutdownBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownBehavior::Stop => "stop",
            ShutdownBehavior::Terminate => "terminate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for s in [
            "instance.heart[0]",
            "security_group.paasmaker",
            "dns_record.wildcard",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!("instances.x".parse::<Address>().is_err());
        assert!("instance.x[".parse::<Address>().is_err());
        assert!("instance".parse::<Address>().is_err());
    }

    #[test]
    fn replicas_sort_after_their_base_name() {
        let mut v: Vec<Address> = ["instance.b", "instance.a[1]", "instance.a[0]"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["instance.a[0]", "instance.a[1]", "instance.b"]);
    }
}
