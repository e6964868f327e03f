//! Instances (EC2): AMI, type, zones, key, groups, volume, shutdown behavior and user data;
//! a counted instance becomes one resource per replica, spread round-robin over its zones
//! and named `NAME-i` when it has an explicit name.

use crate::stack::load::RawResource;
use crate::stack::model::{
    Address, Instance, Kind, MetadataTokens, Resource, Rolling, ShutdownBehavior, Spec,
    parse_duration,
};
use crate::stack::names;
use crate::stack::raw;
use crate::stack::template::{Part, Template};

use super::common::Common;
use super::{Checker, Use};

const USER_DATA_LIMIT: usize = 16 * 1024;
/// The longest `rolling.health_timeout`: a day.
const HEALTH_TIMEOUT_LIMIT: u64 = 86_400;
/// The most replicas replaced at once.
const BATCH_LIMIT: i64 = 1000;

impl Checker<'_> {
    pub(super) fn instance(
        &mut self,
        r: &RawResource,
        i: &raw::Instance,
        common: Option<Common>,
        replicas: &[Option<u32>],
    ) -> Vec<Resource> {
        let mut ok = true;
        let ami = self.known_here(&i.ami, "ami");
        if let Some(a) = &ami {
            let hex = a.strip_prefix("ami-").unwrap_or("");
            if !(hex.len() == 8 || hex.len() == 17) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                self.push(
                    self.error(i.ami.span(), format!("invalid AMI id `{a}`"))
                        .hint("AMI ids look like `ami-0123456789abcdef0`"),
                );
                ok = false;
            }
        }
        let instance_type = self.known_here(&i.instance_type, "instance_type");
        if let Some(t) = &instance_type {
            let valid = t.split_once('.').is_some_and(|(family, size)| {
                family.starts_with(|c: char| c.is_ascii_lowercase())
                    && family
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !size.is_empty()
                    && size
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
            if !valid {
                self.push(
                    self.error(
                        i.instance_type.span(),
                        format!("invalid instance type `{t}`"),
                    )
                    .hint("instance types look like `m1.small` or `t3.micro`"),
                );
                ok = false;
            }
        }
        let zones: Vec<String> = match (&i.availability_zone, &i.availability_zones) {
            (Some(_), Some(list)) => {
                self.push(self.error(
                    list.span(),
                    "give `availability_zone` or `availability_zones`, not both",
                ));
                ok = false;
                Vec::new()
            }
            (Some(z), None) => self.zone(z, "availability_zone").into_iter().collect(),
            (None, Some(list)) => {
                if list.get_ref().is_empty() {
                    self.push(self.error(list.span(), "`availability_zones` is empty"));
                    ok = false;
                }
                let zones: Vec<Option<String>> = list
                    .get_ref()
                    .iter()
                    .map(|z| self.zone(z, "availability_zones"))
                    .collect();
                if zones.iter().any(Option::is_none) {
                    ok = false;
                }
                zones.into_iter().flatten().collect()
            }
            (None, None) => Vec::new(),
        };
        let subnets: Vec<String> = match &i.subnets {
            Some(list) => {
                let zones_key = match (&i.availability_zone, &i.availability_zones) {
                    (Some(z), _) => Some(("availability_zone", z.span())),
                    (None, Some(l)) => Some(("availability_zones", l.span())),
                    (None, None) => None,
                };
                self.subnets(list, zones_key).unwrap_or_else(|| {
                    ok = false;
                    Vec::new()
                })
            }
            None => Vec::new(),
        };
        let key_name = match &i.key_name {
            Some(k) => {
                let t = self.printed(k, "key_name");
                if t.is_none() {
                    ok = false;
                }
                t
            }
            None => None,
        };
        let security_groups = self.group_refs(&i.security_groups, "security_groups");
        let root_volume_gb = match &i.root_volume_gb {
            Some(v) => {
                let n = self.int(v, "root_volume_gb", 1..=16384);
                if n.is_none() {
                    ok = false;
                }
                n
            }
            None => None,
        };
        let shutdown_behavior = match &i.shutdown_behavior {
            Some(s) => match self.known_here(s, "shutdown_behavior").as_deref() {
                Some("stop") => ShutdownBehavior::Stop,
                Some("terminate") => ShutdownBehavior::Terminate,
                Some(other) => {
                    self.push(
                        self.error(s.span(), format!("unknown shutdown behavior `{other}`"))
                            .hint("use `stop` or `terminate`"),
                    );
                    ok = false;
                    ShutdownBehavior::Stop
                }
                None => {
                    ok = false;
                    ShutdownBehavior::Stop
                }
            },
            None => ShutdownBehavior::Stop,
        };
        let user_data = match &i.user_data {
            Some(u) => {
                let t = self.text_source(u, "template", "user_data", Use::Sensitive);
                if let Some(t) = &t {
                    let literal_len: usize = t
                        .parts
                        .iter()
                        .map(|p| if let Part::Text(s) = p { s.len() } else { 0 })
                        .sum();
                    if literal_len > USER_DATA_LIMIT {
                        self.push(self.error(u.span(), format!("user data is {literal_len} bytes; AWS accepts at most {USER_DATA_LIMIT}")));
                        ok = false;
                    }
                } else {
                    ok = false;
                }
                t
            }
            None => None,
        };
        let rolling = match &i.rolling {
            Some(r) => {
                let r = r.get_ref();
                let mut rolling = Rolling::default();
                if let Some(b) = &r.batch {
                    match self.int(b, "rolling.batch", 1..=BATCH_LIMIT) {
                        Some(n) => rolling.batch = n,
                        None => ok = false,
                    }
                }
                if let Some(t) = &r.health_timeout {
                    match self.known_here(t, "rolling.health_timeout") {
                        Some(text) => {
                            match parse_duration(&text) {
                                Ok(secs) if (1..=HEALTH_TIMEOUT_LIMIT).contains(&secs) => {
                                    rolling.health_timeout_secs = secs;
                                }
                                Ok(_) => {
                                    self.push(
                                    self.error(
                                        t.span(),
                                        format!(
                                            "`rolling.health_timeout` must be between 1s and 24h, \
                                             not `{text}`"
                                        ),
                                    )
                                    .hint("a balancer needs `healthy_threshold` × `interval` seconds at least"),
                                );
                                    ok = false;
                                }
                                Err(why) => {
                                    self.push(
                                    self.error(
                                        t.span(),
                                        format!("invalid duration `{text}` for `rolling.health_timeout`"),
                                    )
                                    .hint(why),
                                );
                                    ok = false;
                                }
                            }
                        }
                        None => ok = false,
                    }
                }
                rolling
            }
            None => Rolling::default(),
        };
        let metadata_tokens = match &i.metadata_tokens {
            Some(m) => match self.known_here(m, "metadata_tokens").as_deref() {
                Some("required") => MetadataTokens::Required,
                Some("optional") => MetadataTokens::Optional,
                Some(other) => {
                    self.push(
                        self.error(m.span(), format!("unknown `metadata_tokens` `{other}`"))
                            .hint("use `required` (IMDSv2 only, the default) or `optional`"),
                    );
                    ok = false;
                    MetadataTokens::Required
                }
                None => {
                    ok = false;
                    MetadataTokens::Required
                }
            },
            None => MetadataTokens::Required,
        };
        let (Some(common), Some(ami), Some(instance_type), true) = (common, ami, instance_type, ok)
        else {
            return Vec::new();
        };
        let name_tag = common.tags.get("Name").and_then(Template::as_literal);
        replicas
            .iter()
            .map(|index| {
                let zone = (!zones.is_empty())
                    .then(|| zones[index.unwrap_or(0) as usize % zones.len()].clone());
                let subnet = (!subnets.is_empty())
                    .then(|| subnets[index.unwrap_or(0) as usize % subnets.len()].clone());
                let physical_name = match (&common.explicit_name, &name_tag) {
                    (Some(n), _) => match index {
                        Some(k) => format!("{n}-{k}"),
                        None => n.clone(),
                    },
                    (None, Some(tag)) => tag.clone(),
                    (None, None) => names::default_name(
                        Kind::Instance,
                        &self.stack_name,
                        &self.raw.env,
                        &r.name,
                        *index,
                    ),
                };
                Resource {
                    address: Address::new(Kind::Instance, &r.name, *index),
                    physical_name,
                    prevent_destroy: common.prevent_destroy,
                    depends_on: common.depends_on.clone(),
                    tags: common.tags.clone(),
                    spec: Spec::Instance(Instance {
                        ami: ami.clone(),
                        instance_type: instance_type.clone(),
                        availability_zone: zone,
                        subnet,
                        key_name: key_name.clone(),
                        security_groups: security_groups.clone(),
                        root_volume_gb,
                        shutdown_behavior,
                        user_data: user_data.clone(),
                        rolling,
                        metadata_tokens,
                        root_volume_encrypted: i.root_volume_encrypted.unwrap_or(true),
                    }),
                }
            })
            .collect()
    }
}
