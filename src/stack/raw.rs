//! Serde types that mirror the TOML exactly, spans kept.
//!
//! These say what a stack file may contain and nothing about what it means: every field is
//! the type written in the file, numbers are `i64` so the checker can say "`count` must be 0
//! or more" rather than serde's "expected u32", and every value that a later error might
//! point at is [`Spanned`]. Unknown keys are refused here (`deny_unknown_fields`).
//! `check.rs` turns these into the model.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use toml::Spanned;

pub type SpannedStr = Spanned<String>;
pub type Tags = BTreeMap<SpannedStr, SpannedStr>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSection {
    pub name: SpannedStr,
    pub region: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub env: SpannedStr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    pub region: Option<SpannedStr>,
    pub endpoint_url: Option<SpannedStr>,
    /// `expires = "72h"`: how long after each apply the env's resources expire.
    pub expires: Option<SpannedStr>,
    /// `vpc = "vpc-…"`: where the stack's resources go (else the default VPC).
    pub vpc: Option<SpannedStr>,
    // `[vars]` is taken out of the table first and read as spanned TOML values.
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub name: Option<SpannedStr>,
    pub prevent_destroy: Option<bool>,
    pub depends_on: Option<Vec<SpannedStr>>,
    pub lint_allow: Option<Vec<SpannedStr>>,
    pub tags: Option<Tags>,
    pub description: SpannedStr,
    pub ingress: Option<Vec<Spanned<Rule>>>,
    pub egress: Option<Vec<Spanned<Rule>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub protocol: Spanned<StrOrInt>,
    pub ports: Option<Spanned<StrOrInt>>,
    pub cidr: Option<SpannedStr>,
    pub group: Option<SpannedStr>,
    pub description: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    pub name: Option<SpannedStr>,
    pub prevent_destroy: Option<bool>,
    pub depends_on: Option<Vec<SpannedStr>>,
    pub lint_allow: Option<Vec<SpannedStr>>,
    pub tags: Option<Tags>,
    #[serde(default)]
    pub availability_zones: Vec<SpannedStr>,
    pub subnets: Option<Spanned<Vec<SpannedStr>>>,
    pub listeners: Vec<Spanned<Listener>>,
    pub health_check: Option<Spanned<HealthCheck>>,
    pub instances: Option<Vec<SpannedStr>>,
    pub security_groups: Option<Vec<SpannedStr>>,
    pub cross_zone: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub port: Spanned<i64>,
    pub protocol: SpannedStr,
    pub instance_port: Spanned<i64>,
    pub instance_protocol: SpannedStr,
    pub ssl_certificate_id: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub target: SpannedStr,
    pub interval: Spanned<i64>,
    pub timeout: Spanned<i64>,
    pub unhealthy_threshold: Spanned<i64>,
    pub healthy_threshold: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub name: Option<SpannedStr>,
    pub prevent_destroy: Option<bool>,
    pub depends_on: Option<Vec<SpannedStr>>,
    pub lint_allow: Option<Vec<SpannedStr>>,
    pub tags: Option<Tags>,
    pub engine: SpannedStr,
    pub engine_version: Option<SpannedStr>,
    pub instance_class: SpannedStr,
    pub storage_gb: Spanned<i64>,
    pub storage_type: Option<SpannedStr>,
    pub master_username: SpannedStr,
    pub master_password: SpannedStr,
    pub db_name: Option<SpannedStr>,
    pub port: Option<Spanned<i64>>,
    pub security_groups: Option<Vec<SpannedStr>>,
    pub availability_zone: Option<SpannedStr>,
    pub subnets: Option<Spanned<Vec<SpannedStr>>>,
    pub multi_az: Option<bool>,
    pub backup_retention_days: Option<Spanned<i64>>,
    pub publicly_accessible: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub final_snapshot: Option<bool>,
    pub restore_from_env: Option<SpannedStr>,
    pub storage_encrypted: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub name: Option<SpannedStr>,
    pub prevent_destroy: Option<bool>,
    pub depends_on: Option<Vec<SpannedStr>>,
    pub lint_allow: Option<Vec<SpannedStr>>,
    pub tags: Option<Tags>,
    pub count: Option<Spanned<i64>>,
    pub ami: SpannedStr,
    pub instance_type: SpannedStr,
    pub availability_zone: Option<SpannedStr>,
    pub availability_zones: Option<Spanned<Vec<SpannedStr>>>,
    pub subnets: Option<Spanned<Vec<SpannedStr>>>,
    pub key_name: Option<SpannedStr>,
    pub security_groups: Option<Vec<SpannedStr>>,
    pub root_volume_gb: Option<Spanned<i64>>,
    pub shutdown_behavior: Option<SpannedStr>,
    pub user_data: Option<Spanned<TextSource>>,
    pub rolling: Option<Spanned<Rolling>>,
    pub metadata_tokens: Option<SpannedStr>,
    pub root_volume_encrypted: Option<bool>,
}

/// `rolling = { batch = 1, health_timeout = "10m" }`: how replicas behind a balancer are
/// replaced.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rolling {
    pub batch: Option<Spanned<i64>>,
    pub health_timeout: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    pub name: SpannedStr,
    pub prevent_destroy: Option<bool>,
    pub depends_on: Option<Vec<SpannedStr>>,
    pub lint_allow: Option<Vec<SpannedStr>>,
    pub zone: SpannedStr,
    #[serde(rename = "type")]
    pub record_type: SpannedStr,
    pub ttl: Option<Spanned<i64>>,
    pub records: Spanned<Vec<SpannedStr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPair {
    pub name: Option<SpannedStr>,
    pub prevent_destroy: Option<bool>,
    pub depends_on: Option<Vec<SpannedStr>>,
    pub lint_allow: Option<Vec<SpannedStr>>,
    pub tags: Option<Tags>,
    pub public_key: Spanned<TextSource>,
}

/// A protocol or port written as a string (`"tcp"`, `"80-90"`) or an integer (`6`, `80`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrOrInt {
    Str(String),
    Int(i64),
}

impl<'de> Deserialize<'de> for StrOrInt {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StrOrInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Str(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrOrInt, E> {
                i64::try_from(v)
                    .map(StrOrInt::Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Text given inline (`user_data = "…"`) or read from a file in the stack directory
/// (`user_data = { template = "files/x.sh" }`, `public_key = { file = "files/id.pub" }`).
#[derive(Debug)]
pub enum TextSource {
    Inline(String),
    File { key: String, path: SpannedStr },
}

impl<'de> Deserialize<'de> for TextSource {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a table `{ template = \"path\" }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextSource, E> {
                Ok(TextSource::Inline(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextSource, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "template" && key != "file" {
                        return Err(de::Error::unknown_field(&key, &["template", "file"]));
                    }
                    if found.is_some() {
                        return Err(de::Error::custom("expected exactly one key"));
                    }
                    found = Some(TextSource::File {
                        key,
                        path: map.next_value()?,
                    });
                }
                found.ok_or_else(|| de::Error::missing_field("template"))
            }
        }
        d.deserialize_any(V)
    }
}
