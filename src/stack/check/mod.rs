//! Checking: raw tables into the model, every mistake reported.
//!
//! 1. Index the declared resources (and each instance's `count`) so references can be
//!    resolved in any order.
//! 2. Check each resource's fields: AWS's rules for names, CIDRs, ports, zones, health
//!    checks, record sets; resolve `${…}` into [`Template`]s, refusing secrets where they
//!    would be printed or stored in the clear and resource attributes where a value must be
//!    known at plan time.
//! 3. Expand counted instances into replicas, spread round-robin over their zones.
//! 4. Check outputs and the env file's `[import]` table, and warn of vars and secrets
//!    nothing uses.
//!
//! This module holds the driver (`check` and the `Checker` it runs) and the helpers
//! every kind shares (spans, zones, bounded integers and ports). The rest is one file per
//! concern, each adding methods to `Checker`: `interpolation` (`${…}` resolved, and where
//! secrets and attributes may go), `references` (addresses and security group names
//! resolved, edges noted for the graph), `common` (what every resource has: name,
//! `depends_on`, tags) and one file per resource kind.
//!
//! [`Template`]: super::template::Template

mod common;
mod database;
mod dns_record;
pub(crate) mod imports;
mod instance;
mod interpolation;
mod key_pair;
mod load_balancer;
mod moved;
mod references;
mod security_group;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::diag::{Diagnostic, Diagnostics};
use super::load::{RawBody, RawResource, RawStack};
use super::model::*;
use super::names;
use super::origin::{LINT_RULES, Origins, TableSpans};
use super::raw::SpannedStr;
use super::source::{FileId, SourceMap, Span};

pub use load_balancer::parse_target;

/// Where a reference between two resources was written: for cycle errors.
pub type ReferenceSpans = BTreeMap<(Address, Address), Span>;

/// The largest `count` accepted: a guard against typos, not an AWS limit.
const MAX_COUNT: i64 = 1000;

/// The longest `expires`: a year. An occasional stack meant to outlive that is not one.
const EXPIRES_LIMIT: u64 = 365 * 86_400;

/// How a string field may use `${…}`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Must be known at plan time: vars, `stack.name` and `env` only.
    Known,
    /// Shown in plans and stored in the clear: resource attributes allowed, secrets not.
    Printed,
    /// Secrets allowed too (`master_password`, `user_data`).
    Sensitive,
}

/// Where a string came from, to map offsets inside it back to its file.
#[derive(Clone)]
enum Origin {
    /// A TOML string token; the span covers its quotes.
    Token(Span),
    /// A whole file (a user-data template).
    File(FileId),
    /// Text found verbatim at this offset of a file.
    At(FileId, usize),
}

pub(crate) struct Checker<'a> {
    pub sources: &'a mut SourceMap,
    pub diags: &'a mut Diagnostics,
    raw: &'a RawStack,
    stack_name: String,
    region: String,
    /// The env's `vpc`, once checked.
    vpc: Option<String>,
    declared: BTreeMap<(Kind, String), Option<u32>>,
    /// Declared resources whose tables did not load (their errors are reported): a
    /// reference to one is not judged, so one mistake makes one error, not a cascade.
    failed: BTreeSet<(Kind, String)>,
    used_vars: BTreeSet<String>,
    used_secrets: BTreeSet<String>,
    pub reference_spans: ReferenceSpans,
    /// Where each resource table was written, for `lint`.
    origins: Origins,
    /// The addresses of the resource being checked (every replica).
    current: Vec<Address>,
}

pub(crate) fn check(
    raw: &RawStack,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<(Stack, ReferenceSpans, Origins)> {
    let stack_name = raw
        .section
        .as_ref()
        .map(|s| s.name.get_ref().clone())
        .unwrap_or_default();
    let mut checker = Checker {
        sources,
        diags,
        raw,
        stack_name,
        region: String::new(),
        vpc: None,
        declared: BTreeMap::new(),
        failed: BTreeSet::new(),
        used_vars: raw.used_vars.clone(),
        used_secrets: BTreeSet::new(),
        reference_spans: BTreeMap::new(),
        origins: BTreeMap::new(),
        current: Vec::new(),
    };
    let stack = checker.run();
    let spans = std::mem::take(&mut checker.reference_spans);
    let origins = std::mem::take(&mut checker.origins);
    (!checker.diags.has_errors()).then_some((stack, spans, origins))
}

impl Checker<'_> {
    fn run(&mut self) -> Stack {
        let raw = self.raw;
        let file = raw.stack_file;
        if let Some(section) = &raw.section
            && let Err(why) = names::check_stack_name(section.name.get_ref())
        {
            self.diags.push(
                Diagnostic::error(format!("invalid stack name `{}`", section.name.get_ref()))
                    .at(Span::new(file, section.name.span()))
                    .hint(why),
            );
        }
        self.region = self.region(file);
        let endpoint_url = raw.endpoint_url.as_ref().and_then(|u| {
            let env_file = FileId(1);
            let url = self.known(u, env_file, "endpoint_url")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.diags.push(
                    Diagnostic::error(format!("invalid `endpoint_url` `{url}`"))
                        .at(Span::new(env_file, u.span()))
                        .hint("an endpoint is a URL such as `http://127.0.0.1:5000`"),
                );
                return None;
            }
            Some(url)
        });
        let expires_secs = self.expires();

        self.vpc = raw.vpc.as_ref().and_then(|v| {
            let env_file = FileId(1);
            let vpc = self.known(v, env_file, "vpc")?;
            if !aws_id(&vpc, "vpc-") {
                self.diags.push(
                    Diagnostic::error(format!("invalid `vpc` `{vpc}`"))
                        .at(Span::new(env_file, v.span()))
                        .hint("a VPC id looks like `vpc-0123456789abcdef0`"),
                );
                return None;
            }
            Some(vpc)
        });

        // 1. Every declared resource, so references resolve in any order.
        for r in &raw.resources {
            let count = match &r.body {
                Some(RawBody::Instance(i)) => i.count.as_ref().map(|c| self.count(c, file)),
                _ => None,
            };
            self.declared.insert((r.kind, r.name.clone()), count);
            if r.body.is_none() {
                self.failed.insert((r.kind, r.name.clone()));
            }
        }

        // 2 and 3.
        let mut resources = BTreeMap::new();
        for r in &raw.resources {
            let Some(body) = &r.body else { continue };
            for resource in self.resource(r, body) {
                resources.insert(resource.address.clone(), resource);
            }
        }

        // 4.
        self.current.clear();
        let imports = self.imports(&resources);
        let moved = self.moved(&resources);
        let mut outputs = BTreeMap::new();
        for (name, value) in &raw.outputs {
            let origin = Origin::Token(Span::new(file, value.span()));
            let field = format!("output `{}`", name.get_ref());
            if let Some(t) = self.template(origin, value.get_ref(), &field, Use::Printed) {
                outputs.insert(name.get_ref().clone(), t);
            }
        }
        let mut secrets = BTreeMap::new();
        for (name, (span, secret)) in &raw.secrets {
            let var = secret.env.get_ref();
            let valid = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.diags.push(
                    Diagnostic::error(format!("invalid environment variable name `{var}`"))
                        .at(Span::new(file, secret.env.span()))
                        .hint("use letters, digits and `_`, not starting with a digit"),
                );
            }
            // After an error, a declaration may look unused only because its user failed.
            if !self.used_secrets.contains(name) && !self.diags.has_errors() {
                self.diags.push(
                    Diagnostic::warning(format!("secret `{name}` is never used")).at(span.clone()),
                );
            }
            secrets.insert(name.clone(), var.clone());
        }
        for (name, var) in &raw.vars {
            if !self.used_vars.contains(name) && !self.diags.has_errors() {
                self.diags.push(
                    Diagnostic::warning(format!("var `{name}` is never used")).at(var.span.clone()),
                );
            }
        }
        Stack {
            name: self.stack_name.clone(),
            env: raw.env.clone(),
            region: self.region.clone(),
            endpoint_url,
            expires_secs,
            vpc: self.vpc.clone(),
            secrets,
            resources,
            outputs,
            imports,
            moved,
        }
    }

    /// `expires` of the env file: a duration from a minute to a year.
    fn expires(&mut self) -> Option<u64> {
        let value = self.raw.expires.as_ref()?;
        let env_file = FileId(1);
        let text = self.known(value, env_file, "expires")?;
        let (message, hint) = match parse_duration(&text) {
            Ok(secs) if (1..=EXPIRES_LIMIT).contains(&secs) => return Some(secs),
            Ok(_) => (
                format!("`expires` must be between 1s and 365d, not `{text}`"),
                "an occasional stack lives a year at most; drop `expires` for one that stays",
            ),
            Err(why) => (
                format!("invalid `expires` `{text}`: {why}"),
                "for example `expires = \"72h\"` or `expires = \"14d\"`",
            ),
        };
        self.diags.push(
            Diagnostic::error(message)
                .at(Span::new(env_file, value.span()))
                .hint(hint),
        );
        None
    }

    fn region(&mut self, file: FileId) -> String {
        let raw = self.raw;
        let (value, region_file) = match (
            &raw.env_region,
            raw.section.as_ref().and_then(|s| s.region.as_ref()),
        ) {
            (Some(r), _) => (r, FileId(1)),
            (None, Some(r)) => (r, file),
            // Left to the AWS configuration (`AWS_REGION`, the profile): zones cannot be
            // checked against it here.
            (None, None) => {
                return String::new();
            }
        };
        let Some(region) = self.known(value, region_file, "region") else {
            return String::new();
        };
        let parts: Vec<&str> = region.split('-').collect();
        let valid = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
        if !valid {
            self.diags.push(
                Diagnostic::error(format!("invalid region `{region}`"))
                    .at(Span::new(region_file, value.span()))
                    .hint("a region looks like `ap-southeast-2` or `us-east-1`"),
            );
        }
        region
    }

    fn count(&mut self, count: &toml::Spanned<i64>, file: FileId) -> u32 {
        let n = *count.get_ref();
        if !(0..=MAX_COUNT).contains(&n) {
            self.diags.push(
                Diagnostic::error(format!(
                    "invalid `count` `{n}`: it must be between 0 and {MAX_COUNT}"
                ))
                .at(Span::new(file, count.span())),
            );
            return 0;
        }
        n as u32
    }

    fn span(&self, range: Range<usize>) -> Span {
        Span::new(self.raw.stack_file, range)
    }

    fn error(&self, range: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message).at(self.span(range))
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn resource(&mut self, r: &RawResource, body: &RawBody) -> Vec<Resource> {
        let kind = r.kind;
        let replicas: Vec<Option<u32>> = match self
            .declared
            .get(&(kind, r.name.clone()))
            .copied()
            .flatten()
        {
            Some(n) => (0..n).map(Some).collect(),
            None => vec![None],
        };
        self.current = replicas
            .iter()
            .map(|i| Address::new(kind, &r.name, *i))
            .collect();
        let table = Span::new(
            r.table_span.file,
            r.table_span.range.start..r.table_span.range.start + 1,
        );
        self.origins.insert(
            (kind, r.name.clone()),
            TableSpans {
                table,
                keys: r.keys.clone(),
                lint_allow: Default::default(),
                ingress: Default::default(),
                listeners: Vec::new(),
            },
        );
        let common = self.common(r, body);
        let spec = match body {
            RawBody::SecurityGroup(sg) => self.security_group(sg).map(Spec::SecurityGroup),
            RawBody::KeyPair(kp) => self.key_pair(kp).map(Spec::KeyPair),
            RawBody::LoadBalancer(lb) => self.load_balancer(lb).map(Spec::LoadBalancer),
            RawBody::Database(db) => self.database(db).map(Spec::Database),
            RawBody::Instance(i) => return self.instance(r, i, common, &replicas),
            RawBody::DnsRecord(d) => self.dns_record(d).map(Spec::DnsRecord),
        };
        let (Some(spec), Some(common)) = (spec, common) else {
            return Vec::new();
        };
        let physical_name = match (&spec, common.explicit_name) {
            (Spec::DnsRecord(d), _) => d.fqdn.clone(),
            (_, Some(name)) => name,
            (_, None) => names::default_name(kind, &self.stack_name, &self.raw.env, &r.name, None),
        };
        vec![Resource {
            address: Address::new(kind, &r.name, None),
            physical_name,
            prevent_destroy: common.prevent_destroy,
            depends_on: common.depends_on,
            tags: common.tags,
            spec,
        }]
    }

    /// The origin of the resource being checked.
    fn origin_mut(&mut self) -> Option<&mut TableSpans> {
        let a = self.current.first()?;
        self.origins.get_mut(&(a.kind, a.name.clone()))
    }

    /// `lint_allow`: rule ids a resource silences, each one a rule `lint` knows.
    fn lint_allow(&mut self, allow: &Option<Vec<SpannedStr>>) -> bool {
        let mut ok = true;
        let mut ids = std::collections::BTreeSet::new();
        for id in allow.iter().flatten() {
            let Some(value) = self.known_here(id, "lint_allow") else {
                ok = false;
                continue;
            };
            if LINT_RULES.contains(&value.as_str()) {
                ids.insert(value);
            } else {
                let hint = super::diag::did_you_mean(&value, LINT_RULES)
                    .unwrap_or_else(|| "the rules are listed by `docs/lint.md`".to_string());
                self.push(
                    self.error(
                        id.span(),
                        format!("unknown lint rule `{value}` in `lint_allow`"),
                    )
                    .hint(hint),
                );
                ok = false;
            }
        }
        if let Some(origin) = self.origin_mut() {
            origin.lint_allow = ids;
        }
        ok
    }

    fn current_span(&self) -> Span {
        let Some(a) = self.current.first() else {
            return self.span(0..0);
        };
        self.raw
            .resources
            .iter()
            .find(|r| r.kind == a.kind && r.name == a.name)
            .map(|r| {
                Span::new(
                    r.table_span.file,
                    r.table_span.range.start..r.table_span.range.start + 1,
                )
            })
            .unwrap_or_else(|| self.span(0..0))
    }

    /// `subnets = [...]`: ids of subnets, which need the env's `vpc` (whether each is in it
    /// is asked of AWS at plan time). `zones`: the zone key also written, if any, where
    /// the error points: subnets and zones are exclusive.
    fn subnets(
        &mut self,
        list: &toml::Spanned<Vec<SpannedStr>>,
        zones: Option<(&str, std::ops::Range<usize>)>,
    ) -> Option<Vec<String>> {
        let mut ok = true;
        if let Some((key, range)) = zones {
            self.push(
                self.error(range, format!("give `{key}` or `subnets`, not both"))
                    .hint("each subnet is in one zone, so `subnets` already says where"),
            );
            ok = false;
        }
        if self.raw.vpc.is_none() {
            self.push(
                self.error(list.span(), "`subnets` needs the env's `vpc`")
                    .hint(format!(
                        "name the VPC the subnets are in: `vpc = \"vpc-…\"` in env/{}.toml",
                        self.raw.env
                    )),
            );
            ok = false;
        }
        if list.get_ref().is_empty() {
            self.push(self.error(list.span(), "`subnets` is empty"));
            ok = false;
        }
        let mut out: Vec<String> = Vec::new();
        for s in list.get_ref() {
            let Some(id) = self.known_here(s, "subnets") else {
                ok = false;
                continue;
            };
            if !aws_id(&id, "subnet-") {
                self.push(
                    self.error(s.span(), format!("invalid subnet id `{id}`"))
                        .hint("a subnet id looks like `subnet-0123456789abcdef0`"),
                );
                ok = false;
            } else if out.contains(&id) {
                self.push(self.error(s.span(), format!("subnet `{id}` is listed twice")));
                ok = false;
            }
            out.push(id);
        }
        ok.then_some(out)
    }

    fn zone(&mut self, z: &SpannedStr, field: &str) -> Option<String> {
        let zone = self.known_here(z, field)?;
        let suffix = zone.strip_prefix(self.region.as_str()).unwrap_or("");
        let valid = suffix.len() == 1 && suffix.chars().all(|c| c.is_ascii_lowercase());
        if !valid && !self.region.is_empty() {
            self.push(
                self.error(
                    z.span(),
                    format!(
                        "availability zone `{zone}` is not in region `{}`",
                        self.region
                    ),
                )
                .hint(format!(
                    "zones of this region are `{0}a`, `{0}b`, …",
                    self.region
                )),
            );
            return None;
        }
        Some(zone)
    }

    fn int(
        &mut self,
        v: &toml::Spanned<i64>,
        field: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<u32> {
        let n = *v.get_ref();
        if !range.contains(&n) {
            let message = if *range.end() == i64::from(u32::MAX) {
                format!("`{field}` must be at least {}, not {n}", range.start())
            } else {
                format!(
                    "`{field}` must be between {} and {}, not {n}",
                    range.start(),
                    range.end()
                )
            };
            self.push(self.error(v.span(), message));
            return None;
        }
        u32::try_from(n).ok()
    }

    fn port(&mut self, v: &toml::Spanned<i64>, field: &str) -> Option<u16> {
        self.int(v, field, 1..=65535).map(|p| p as u16)
    }
}

/// Whether `id` is an AWS id with `prefix` (`vpc-`, `subnet-`): 8 or 17 hex digits.
fn aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}
