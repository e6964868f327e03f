//! The checked model of a stack: what the stack file means, for one env.
//!
//! Everything here is plain, serializable data with no spans and no file paths, so a plan
//! built on it can be saved and reloaded. Vars, `${stack.name}` and `${env}` are already
//! substituted; what is known only at apply time (secrets, other resources' attributes)
//! stays symbolic in a [`Template`]. Replicas of a counted instance are separate resources
//! (`instance.heart[0]`, `instance.heart[1]`, …).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::address::{Address, Kind};

use super::template::Template;

/// A stack, checked, for one env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    pub name: String,
    pub env: String,
    pub region: String,
    pub endpoint_url: Option<String>,
    /// `expires` of the env file, in seconds: each apply tags every resource with the time
    /// this long after it (`stackwright:expires`). Plans saved before expiry read `None`.
    #[serde(default)]
    pub expires_secs: Option<u64>,
    /// The env's `vpc`: where security groups are created (and every subnet must be).
    /// `None`: the region's default VPC.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Secret name → the environment variable it is read from.
    pub secrets: BTreeMap<String, String>,
    pub resources: BTreeMap<Address, Resource>,
    pub outputs: BTreeMap<String, Template>,
    /// `[import]` of the env file: address → the physical id of a resource made outside
    /// stackwright, adopted (tagged or claimed) by the next apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<Address, String>,
    /// `[moved]` of `stack.toml`, one entry per replica: old address → new address. What
    /// refresh finds at the old address is the new address's (apply rewrites its tag).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub moved: BTreeMap<Address, Address>,
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
    /// The env's `vpc`, where the group is created (`None`: the default VPC).
    #[serde(default)]
    pub vpc: Option<String>,
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
    /// Empty when `subnets` are given (the balancer serves their zones).
    pub availability_zones: Vec<String>,
    /// Subnets of the env's VPC (`Subnets`), instead of zones.
    #[serde(default)]
    pub subnets: Vec<String>,
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
    /// Subnets of the env's VPC: the DB subnet group stackwright makes for the database
    /// (named as the database), destroyed with it. Empty: the default VPC's.
    #[serde(default)]
    pub subnets: Vec<String>,
    pub multi_az: bool,
    pub backup_retention_days: u32,
    pub publicly_accessible: bool,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
    /// `restore_from_env`: when the database is created, it is restored from the newest
    /// available snapshot of the same stack's database (same address) in this env. Only
    /// at create: it is not an attribute, so it never changes a running database. Plans
    /// saved before it read `None`.
    #[serde(default)]
    pub restore_from_env: Option<String>,
    /// `StorageEncrypted`, on by default (`storage_encrypted = false` turns it off). Set
    /// only when the database is created: AWS cannot encrypt a running one in place.
    #[serde(default = "yes")]
    pub storage_encrypted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub ami: String,
    pub instance_type: String,
    pub availability_zone: Option<String>,
    /// The replica's subnet (`subnets` spread round-robin), instead of a zone.
    #[serde(default)]
    pub subnet: Option<String>,
    pub key_name: Option<Template>,
    pub security_groups: Vec<GroupRef>,
    pub root_volume_gb: Option<u32>,
    pub shutdown_behavior: ShutdownBehavior,
    pub user_data: Option<Template>,
    /// How a replacement is rolled when the instance is behind a balancer of the stack.
    #[serde(default)]
    pub rolling: Rolling,
    /// IMDSv2: `required` by default (`metadata_tokens = "optional"` allows IMDSv1 too).
    #[serde(default)]
    pub metadata_tokens: MetadataTokens,
    /// The root volume encrypted, by default (`root_volume_encrypted = false`). Set only
    /// when the instance is launched: a running one's volume is never re-created for it.
    #[serde(default = "yes")]
    pub root_volume_encrypted: bool,
}

fn yes() -> bool {
    true
}

/// `MetadataOptions.HttpTokens` of an instance: whether the metadata service demands a
/// session token (IMDSv2) or also answers plain requests (IMDSv1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataTokens {
    #[default]
    Required,
    Optional,
}

impl MetadataTokens {
    /// As AWS writes it: `required` or `optional`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataTokens::Required => "required",
            MetadataTokens::Optional => "optional",
        }
    }
}

/// `rolling = { batch, health_timeout }` of an instance table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rolling {
    /// Replicas replaced at once.
    pub batch: u32,
    /// How long a new member may take to turn `InService`, in seconds.
    pub health_timeout_secs: u64,
}

impl Rolling {
    pub const DEFAULT_BATCH: u32 = 1;
    pub const DEFAULT_HEALTH_TIMEOUT_SECS: u64 = 600;
}

impl Default for Rolling {
    fn default() -> Self {
        Rolling {
            batch: Rolling::DEFAULT_BATCH,
            health_timeout_secs: Rolling::DEFAULT_HEALTH_TIMEOUT_SECS,
        }
    }
}

/// A duration as the stack writes it: `90s`, `10m`, `2h` (a whole number and one unit).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "a duration is a whole number and a unit, like `90s` or `10m`".to_string())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => return Err("a duration needs a unit: `s`, `m`, `h` or `d`".into()),
        _ => {
            return Err(
                "a duration is a whole number and a unit (`s`, `m`, `h` or `d`), like `90s` or `10m`"
                    .into(),
            );
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| "the duration is too long".to_string())
}

/// A duration in seconds as the stack would write it: `90s`, `10m`, `2h`.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0s".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
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
