//! Checking: raw tables into the model, every mistake reported.
//!
//! 1. Index the declared resources (and each instance's `count`) so references can be
//!    resolved in any order.
//! 2. Check each resource's fields: AWS's rules for names, CIDRs, ports, zones, health
//!    checks, record sets; resolve `${…}` into [`Template`]s, refusing secrets where they
//!    would be printed or stored in the clear and resource attributes where a value must be
//!    known at plan time.
//! 3. Expand counted instances into replicas, spread round-robin over their zones.
//! 4. Check outputs, and warn of vars and secrets nothing uses.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use ipnet::IpNet;

use super::diag::{Diagnostic, Diagnostics, did_you_mean};
use super::load::{RawBody, RawResource, RawStack};
use super::model::*;
use super::names;
use super::raw::{self, SpannedStr, StrOrInt, TextSource};
use super::source::{FileId, SourceMap, Span};
use super::template::{self, Expr, Part, Piece, Template};

/// Where a reference between two resources was written: for cycle errors.
pub type ReferenceSpans = BTreeMap<(Address, Address), Span>;

/// The largest `count` accepted: a guard against typos, not an AWS limit.
const MAX_COUNT: i64 = 1000;
const USER_DATA_LIMIT: usize = 16 * 1024;

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
    declared: BTreeMap<(Kind, String), Option<u32>>,
    used_vars: BTreeSet<String>,
    used_secrets: BTreeSet<String>,
    pub reference_spans: ReferenceSpans,
    /// The addresses of the resource being checked (every replica).
    current: Vec<Address>,
}

pub(crate) fn check(
    raw: &RawStack,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<(Stack, ReferenceSpans)> {
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
        declared: BTreeMap::new(),
        used_vars: raw.used_vars.clone(),
        used_secrets: BTreeSet::new(),
        reference_spans: BTreeMap::new(),
        current: Vec::new(),
    };
    let stack = checker.run();
    let spans = std::mem::take(&mut checker.reference_spans);
    (!checker.diags.has_errors()).then_some((stack, spans))
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

        // 1. Every declared resource, so references resolve in any order.
        for r in &raw.resources {
            let count = match &r.body {
                Some(RawBody::Instance(i)) => i.count.as_ref().map(|c| self.count(c, file)),
                _ => None,
            };
            self.declared.insert((r.kind, r.name.clone()), count);
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
            secrets,
            resources,
            outputs,
        }
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

    // ---- strings and references ------------------------------------------------------------

    /// A string that must be known at plan time.
    fn known(&mut self, s: &SpannedStr, file: FileId, field: &str) -> Option<String> {
        self.template(
            Origin::Token(Span::new(file, s.span())),
            s.get_ref(),
            field,
            Use::Known,
        )?
        .as_literal()
    }

    fn known_here(&mut self, s: &SpannedStr, field: &str) -> Option<String> {
        self.known(s, self.raw.stack_file, field)
    }

    fn printed(&mut self, s: &SpannedStr, field: &str) -> Option<Template> {
        self.template(
            Origin::Token(self.span(s.span())),
            s.get_ref(),
            field,
            Use::Printed,
        )
    }

    /// The span of bytes `offset..offset + len` of a string's text, in its file. For a token
    /// whose source differs from its value (escapes, a substituted var), the whole token.
    /// Constant time: [`template`](Self::template) locates the text once, not per `${…}`.
    fn inner(&self, origin: &Origin, _text: &str, offset: usize, len: usize) -> Span {
        match origin {
            Origin::File(file) => Span::new(*file, offset..offset + len),
            Origin::At(file, start) => Span::new(*file, start + offset..start + offset + len),
            Origin::Token(span) => span.clone(),
        }
    }

    /// Resolve the `${…}` in `text`. `None` after reporting any error.
    fn template(&mut self, origin: Origin, text: &str, field: &str, use_: Use) -> Option<Template> {
        let origin = match origin {
            Origin::Token(span) => match self.sources.verbatim_start(&span, text) {
                Some(start) => Origin::At(span.file, start),
                None => Origin::Token(span),
            },
            other => other,
        };
        let pieces = match template::parse(text) {
            Ok(p) => p,
            Err(e) => {
                let span = self.inner(&origin, text, e.offset, e.len);
                self.push(Diagnostic::error(e.message).at(span).maybe_hint(e.hint));
                return None;
            }
        };
        let mut out = Template::default();
        let mut ok = true;
        for piece in pieces {
            let (expr, offset, len) = match piece {
                Piece::Text(t) => {
                    out.push_text(&t);
                    continue;
                }
                Piece::Expr { expr, offset, len } => (expr, offset, len),
            };
            let span = self.inner(&origin, text, offset, len);
            let shown = &text[offset..offset + len];
            match self.expr(expr, &span, shown, field, use_) {
                Some(Resolved::Text(t)) => out.push_text(&t),
                Some(Resolved::Part(p)) => out.parts.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn expr(
        &mut self,
        expr: Expr,
        span: &Span,
        shown: &str,
        field: &str,
        use_: Use,
    ) -> Option<Resolved> {
        match expr {
            Expr::StackName => Some(Resolved::Text(self.stack_name.clone())),
            Expr::Env => Some(Resolved::Text(self.raw.env.clone())),
            Expr::Var(name) => {
                let Some(var) = self.raw.vars.get(&name) else {
                    self.push(super::load::unknown_var(&name, &self.raw.vars).at(span.clone()));
                    return None;
                };
                self.used_vars.insert(name.clone());
                match var.value.as_ref()? {
                    toml::Value::String(s) => Some(Resolved::Text(s.clone())),
                    toml::Value::Integer(i) => Some(Resolved::Text(i.to_string())),
                    toml::Value::Float(f) => Some(Resolved::Text(f.to_string())),
                    toml::Value::Boolean(b) => Some(Resolved::Text(b.to_string())),
                    _ => {
                        self.push(
                            Diagnostic::error(format!(
                                "var `{name}` is an array and cannot be part of a string"
                            ))
                            .at(span.clone())
                            .hint(format!("use it as the whole value: `\"${{var.{name}}}\"`")),
                        );
                        None
                    }
                }
            }
            Expr::Secret(name) => {
                if !self.raw.secrets.contains_key(&name) {
                    self.push(
                        Diagnostic::error(format!("unknown secret `{name}`")).at(span.clone()).maybe_hint(
                            did_you_mean(&name, self.raw.secrets.keys().map(String::as_str))
                                .or_else(|| Some(format!("declare it in `[secrets]`: `{name} = {{ env = \"…\" }}`"))),
                        ),
                    );
                    return None;
                }
                self.used_secrets.insert(name.clone());
                if use_ != Use::Sensitive {
                    self.push(
                        Diagnostic::error(format!(
                            "secret `{name}` cannot be used in {}: it would be printed or stored in the clear",
                            quoted_field(field)
                        ))
                        .at(span.clone())
                        .hint("secrets may be used only in `master_password` and `user_data`"),
                    );
                    return None;
                }
                Some(Resolved::Part(Part::Secret(name)))
            }
            Expr::Attr {
                kind,
                name,
                index,
                attr,
            } => {
                let target = self.resolve_address(kind, &name, index, span, Some(&attr))?;
                if !kind.attributes().contains(&attr.as_str()) {
                    let list = kind
                        .attributes()
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.push(
                        Diagnostic::error(format!("unknown attribute `{attr}` of `{kind}`"))
                            .at(span.clone())
                            .hint(
                                match did_you_mean(&attr, kind.attributes().iter().copied()) {
                                    Some(h) => h,
                                    None => format!("the attributes of {kind} are {list}"),
                                },
                            ),
                    );
                    return None;
                }
                if use_ == Use::Known {
                    self.push(
                        Diagnostic::error(format!(
                            "{} must be known at plan time, but `{shown}` is known only after `{target}` is created",
                            quoted_field(field)
                        ))
                        .at(span.clone())
                        .hint("use a literal or a var here"),
                    );
                    return None;
                }
                self.note_reference(&target, span);
                Some(Resolved::Part(Part::Attr { target, attr }))
            }
        }
    }

    fn note_reference(&mut self, target: &Address, span: &Span) {
        for from in &self.current {
            self.reference_spans
                .entry((from.clone(), target.clone()))
                .or_insert_with(|| span.clone());
        }
    }

    /// The address `kind.name[index]`, if the stack declares it. `attr` shapes the hint.
    fn resolve_address(
        &mut self,
        kind: Kind,
        name: &str,
        index: Option<u32>,
        span: &Span,
        attr: Option<&str>,
    ) -> Option<Address> {
        let Some(count) = self.declared.get(&(kind, name.to_string())).copied() else {
            let same_kind = self
                .declared
                .keys()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| n.as_str());
            let hint = did_you_mean(name, same_kind).map(|_| {
                let close = self
                    .declared
                    .keys()
                    .filter(|(k, _)| *k == kind)
                    .min_by_key(|(_, n)| strsim::damerau_levenshtein(name, n))
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default();
                format!("did you mean `{kind}.{close}`?")
            });
            self.push(
                Diagnostic::error(format!("unknown resource `{kind}.{name}`"))
                    .at(span.clone())
                    .maybe_hint(hint),
            );
            return None;
        };
        let attr = attr.unwrap_or("id");
        match (count, index) {
            (None, None) => Some(Address::new(kind, name, None)),
            (None, Some(i)) => {
                self.push(
                    Diagnostic::error(format!(
                        "`{kind}.{name}` has no `count`, so it has no replica [{i}]"
                    ))
                    .at(span.clone())
                    .hint(format!("write `{kind}.{name}.{attr}`")),
                );
                None
            }
            (Some(n), None) => {
                self.push(
                    Diagnostic::error(format!(
                        "`{kind}.{name}` has `count`: refer to one replica, by index"
                    ))
                    .at(span.clone())
                    .hint(format!(
                        "e.g. `{kind}.{name}[0].{attr}` ({n} replicas in this env)"
                    )),
                );
                None
            }
            (Some(n), Some(i)) if i >= n => {
                let has = if n == 0 {
                    "no replicas".to_string()
                } else {
                    format!("{n} replicas, [0] to [{}]", n - 1)
                };
                self.push(
                    Diagnostic::error(format!("replica index [{i}] is out of range: `{kind}.{name}` has {has} in env `{}`", self.raw.env))
                        .at(span.clone()),
                );
                None
            }
            (Some(_), Some(i)) => Some(Address::new(kind, name, Some(i))),
        }
    }

    /// `security_groups = ["web", "sg-0123…"]`: the stack's groups by name, or existing ids.
    fn group_refs(&mut self, list: &Option<Vec<SpannedStr>>, field: &str) -> Vec<GroupRef> {
        let mut out = Vec::new();
        for s in list.iter().flatten() {
            let Some(name) = self.known_here(s, field) else {
                continue;
            };
            if let Some(g) = self.group_ref(&name, self.span(s.span())) {
                // Membership is a creation dependency (unlike a rule naming a group).
                if let GroupRef::Stack(target) = &g {
                    self.note_reference(target, &self.span(s.span()));
                }
                if out.contains(&g) {
                    self.push(
                        Diagnostic::error(format!("security group `{name}` is listed twice"))
                            .at(self.span(s.span())),
                    );
                }
                out.push(g);
            }
        }
        out
    }

    fn group_ref(&mut self, name: &str, span: Span) -> Option<GroupRef> {
        if let Some(id) = name.strip_prefix("sg-") {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                self.push(
                    Diagnostic::error(format!("invalid security group id `{name}`")).at(span),
                );
                return None;
            }
            return Some(GroupRef::External(name.to_string()));
        }
        if self
            .declared
            .contains_key(&(Kind::SecurityGroup, name.to_string()))
        {
            return Some(GroupRef::Stack(Address::new(
                Kind::SecurityGroup,
                name,
                None,
            )));
        }
        let groups = self
            .declared
            .keys()
            .filter(|(k, _)| *k == Kind::SecurityGroup)
            .map(|(_, n)| n.as_str());
        let hint = did_you_mean(name, groups).or_else(|| {
            Some("name a `[security_group.NAME]` of this stack, or give an existing group's id `sg-…`".into())
        });
        self.push(
            Diagnostic::error(format!("unknown security group `{name}`"))
                .at(span)
                .maybe_hint(hint),
        );
        None
    }

    // ---- resources ------------------------------------------------------------------------

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

    fn common(&mut self, r: &RawResource, body: &RawBody) -> Option<Common> {
        let (name, prevent_destroy, depends_on, tags) = match body {
            RawBody::SecurityGroup(x) => (&x.name, x.prevent_destroy, &x.depends_on, &x.tags),
            RawBody::KeyPair(x) => (&x.name, x.prevent_destroy, &x.depends_on, &x.tags),
            RawBody::LoadBalancer(x) => (&x.name, x.prevent_destroy, &x.depends_on, &x.tags),
            RawBody::Database(x) => (&x.name, x.prevent_destroy, &x.depends_on, &x.tags),
            RawBody::Instance(x) => (&x.name, x.prevent_destroy, &x.depends_on, &x.tags),
            RawBody::DnsRecord(x) => (&None, x.prevent_destroy, &x.depends_on, &None),
        };
        let mut ok = true;
        let explicit_name = match name {
            Some(n) => match self.known_here(n, "name") {
                Some(value) => {
                    if let Err(why) = names::check(r.kind, &value) {
                        self.push(
                            self.error(
                                n.span(),
                                format!("invalid {} `{value}`", name_word(r.kind)),
                            )
                            .hint(why),
                        );
                        ok = false;
                    }
                    Some(value)
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let mut deps = Vec::new();
        for d in depends_on.iter().flatten() {
            let span = self.span(d.span());
            match d.get_ref().parse::<Address>() {
                Ok(a) => match self.resolve_address(a.kind, &a.name, a.index, &span, None) {
                    Some(target) => {
                        self.note_reference(&target, &span);
                        deps.push(target);
                    }
                    None => ok = false,
                },
                Err(why) => {
                    // `instance.heart` with count: every replica.
                    self.push(
                        Diagnostic::error(format!("invalid `depends_on` entry: {why}")).at(span),
                    );
                    ok = false;
                }
            }
        }
        let mut tag_map = BTreeMap::new();
        for (k, v) in tags.iter().flatten() {
            let key = k.get_ref();
            let lower = key.to_ascii_lowercase();
            if lower.starts_with("stackwright:") || lower.starts_with("aws:") {
                self.push(
                    self.error(k.span(), format!("tag key `{key}` is reserved"))
                        .hint("keys starting with `stackwright:` or `aws:` are set by stackwright and AWS"),
                );
                ok = false;
            } else if key.is_empty() || key.chars().count() > 128 {
                self.push(self.error(k.span(), "tag keys are 1 to 128 characters"));
                ok = false;
            }
            match self.printed(v, &format!("tags.{key}")) {
                Some(t) => {
                    if t.as_literal().is_some_and(|l| l.chars().count() > 256) {
                        self.push(self.error(v.span(), "tag values are at most 256 characters"));
                        ok = false;
                    }
                    tag_map.insert(key.clone(), t);
                }
                None => ok = false,
            }
        }
        ok.then_some(Common {
            explicit_name,
            prevent_destroy: prevent_destroy.unwrap_or(false),
            depends_on: deps,
            tags: tag_map,
        })
    }

    fn security_group(&mut self, sg: &raw::SecurityGroup) -> Option<SecurityGroup> {
        let description = self.known_here(&sg.description, "description")?;
        let mut ok = true;
        if description.is_empty() || description.len() > 255 {
            self.push(self.error(
                sg.description.span(),
                "a security group description is 1 to 255 characters",
            ));
            ok = false;
        } else if !description
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c))
        {
            self.push(
                self.error(sg.description.span(), "security group descriptions may hold only letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*"),
            );
            ok = false;
        }
        let ingress = self.rules(sg.ingress.as_deref().unwrap_or_default(), "ingress");
        let egress = sg
            .egress
            .as_deref()
            .map(|rules| self.rules(rules, "egress"));
        let ingress = ingress?;
        let egress = match egress {
            Some(e) => Some(e?),
            None => None,
        };
        ok.then_some(SecurityGroup {
            description,
            ingress,
            egress,
        })
    }

    fn rules(&mut self, rules: &[toml::Spanned<raw::Rule>], field: &str) -> Option<Vec<Rule>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, rule) in rules.iter().enumerate() {
            match self.rule(rule, &format!("{field}[{i}]")) {
                Some(r) => {
                    if out.contains(&r) {
                        self.push(self.error(rule.span(), "this rule is given twice"));
                        ok = false;
                    }
                    out.push(r);
                }
                None => ok = false,
            }
        }
        out.sort();
        ok.then_some(out)
    }

    fn rule(&mut self, rule: &toml::Spanned<raw::Rule>, field: &str) -> Option<Rule> {
        let r = rule.get_ref();
        let protocol = self.protocol(&r.protocol)?;
        let has_ports = matches!(protocol.as_str(), "tcp" | "udp");
        let ports = match (&r.ports, protocol.as_str()) {
            (Some(p), "-1") => {
                self.push(self.error(p.span(), "protocol `all` covers every port: remove `ports`"));
                return None;
            }
            (Some(p), _) => Some(self.port_range(p)?),
            (None, _) if has_ports => {
                self.push(
                    self.error(rule.span(), format!("a `{protocol}` rule needs `ports`"))
                        .hint("e.g. `ports = \"443\"` or `ports = \"0-65535\"`"),
                );
                return None;
            }
            (None, _) => None,
        };
        let source = match (&r.cidr, &r.group) {
            (Some(_), Some(_)) => {
                self.push(
                    self.error(rule.span(), "a rule takes `cidr` or `group`, not both")
                        .hint("write two rules"),
                );
                return None;
            }
            (None, None) => {
                self.push(self.error(rule.span(), "a rule needs `cidr` or `group`"));
                return None;
            }
            (Some(c), None) => RuleSource::Cidr(self.cidr(c, &format!("{field}.cidr"))?),
            (None, Some(g)) => {
                let name = self.known_here(g, &format!("{field}.group"))?;
                if name == "self" {
                    RuleSource::SelfGroup
                } else {
                    // Not a creation dependency: groups are created empty and their rules
                    // added once all exist, so groups may admit each other.
                    RuleSource::Group(self.group_ref(&name, self.span(g.span()))?)
                }
            }
        };
        let description = match &r.description {
            Some(d) => Some(self.known_here(d, &format!("{field}.description"))?),
            None => None,
        };
        Some(Rule {
            protocol,
            ports,
            source,
            description,
        })
    }

    fn protocol(&mut self, p: &toml::Spanned<StrOrInt>) -> Option<String> {
        let number = |n: i64| match n {
            -1 => Some("-1".to_string()),
            1 => Some("icmp".into()),
            6 => Some("tcp".into()),
            17 => Some("udp".into()),
            58 => Some("icmpv6".into()),
            0..=255 => Some(n.to_string()),
            _ => None,
        };
        let found = match p.get_ref() {
            StrOrInt::Int(n) => number(*n),
            StrOrInt::Str(s) => match s.to_ascii_lowercase().as_str() {
                "tcp" | "udp" | "icmp" | "icmpv6" => Some(s.to_ascii_lowercase()),
                "all" | "-1" => Some("-1".into()),
                other => other.parse::<i64>().ok().and_then(number),
            },
        };
        if found.is_none() {
            let shown = match p.get_ref() {
                StrOrInt::Int(n) => n.to_string(),
                StrOrInt::Str(s) => s.clone(),
            };
            let hint = did_you_mean(&shown, ["tcp", "udp", "icmp", "icmpv6", "all"])
                .unwrap_or_else(|| {
                    "use `tcp`, `udp`, `icmp`, `icmpv6`, `all` or a protocol number 0-255".into()
                });
            self.push(
                self.error(p.span(), format!("unknown protocol `{shown}`"))
                    .hint(hint),
            );
        }
        found
    }

    fn port_range(&mut self, p: &toml::Spanned<StrOrInt>) -> Option<(u16, u16)> {
        let text = match p.get_ref() {
            StrOrInt::Int(n) => n.to_string(),
            StrOrInt::Str(s) => s.trim().to_string(),
        };
        let parse = |s: &str| -> Option<i64> { s.trim().parse::<i64>().ok() };
        let (low, high) = match text.split_once('-') {
            Some((a, b)) => (parse(a), parse(b)),
            None => (parse(&text), parse(&text)),
        };
        let (Some(low), Some(high)) = (low, high) else {
            self.push(
                self.error(p.span(), format!("invalid port range `{text}`"))
                    .hint("write a port (`\"22\"`) or a range (`\"8000-8080\"`)"),
            );
            return None;
        };
        for port in [low, high] {
            if !(0..=65535).contains(&port) {
                self.push(self.error(
                    p.span(),
                    format!("port `{port}` is out of range: ports are 0 to 65535"),
                ));
                return None;
            }
        }
        if low > high {
            self.push(
                self.error(p.span(), format!("port range `{text}` is reversed"))
                    .hint(format!("write `\"{high}-{low}\"`")),
            );
            return None;
        }
        Some((low as u16, high as u16))
    }

    fn cidr(&mut self, c: &SpannedStr, field: &str) -> Option<String> {
        let text = self.known_here(c, field)?;
        let span = self.span(c.span());
        let net: IpNet = match text.parse() {
            Ok(n) => n,
            Err(_) => {
                let hint = match text.parse::<std::net::IpAddr>() {
                    Ok(ip) => format!(
                        "a CIDR has a prefix length: `{ip}/{}`",
                        if ip.is_ipv4() { 32 } else { 128 }
                    ),
                    Err(_) => {
                        "a CIDR is an address and a prefix length, e.g. `10.0.0.0/8` or `::/0`"
                            .into()
                    }
                };
                self.push(
                    Diagnostic::error(format!("invalid CIDR `{text}`"))
                        .at(span)
                        .hint(hint),
                );
                return None;
            }
        };
        if net.trunc() != net {
            self.push(
                Diagnostic::error(format!("CIDR `{text}` has host bits set; AWS refuses it"))
                    .at(span)
                    .hint(format!("did you mean `{}`?", net.trunc())),
            );
            return None;
        }
        Some(net.to_string())
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

    fn load_balancer(&mut self, lb: &raw::LoadBalancer) -> Option<LoadBalancer> {
        let mut ok = true;
        let mut zones = Vec::new();
        for z in &lb.availability_zones {
            match self.zone(z, "availability_zones") {
                Some(z) => zones.push(z),
                None => ok = false,
            }
        }
        if lb.availability_zones.is_empty() {
            self.push(
                Diagnostic::error("a load balancer needs at least one availability zone")
                    .at(self.current_span()),
            );
            ok = false;
        }
        let mut listeners: Vec<Listener> = Vec::new();
        for l in &lb.listeners {
            match self.listener(l) {
                Some(listener) => {
                    if listeners.iter().any(|x| x.port == listener.port) {
                        self.push(self.error(
                            l.get_ref().port.span(),
                            format!("two listeners on port {}", listener.port),
                        ));
                        ok = false;
                    }
                    listeners.push(listener);
                }
                None => ok = false,
            }
        }
        if lb.listeners.is_empty() {
            self.push(
                Diagnostic::error("a load balancer needs at least one listener")
                    .at(self.current_span()),
            );
            ok = false;
        }
        let health_check = match &lb.health_check {
            Some(h) => match self.health_check(h.get_ref()) {
                Some(h) => Some(h),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let mut instances = Vec::new();
        for i in lb.instances.iter().flatten() {
            let span = self.span(i.span());
            let Some((name, index)) = template::split_index(i.get_ref()) else {
                self.push(
                    Diagnostic::error(format!("invalid instance `{}`", i.get_ref()))
                        .at(span)
                        .hint("write `NAME` or `NAME[i]`"),
                );
                ok = false;
                continue;
            };
            match self
                .declared
                .get(&(Kind::Instance, name.to_string()))
                .copied()
            {
                Some(Some(count)) if index.is_none() => {
                    for k in 0..count {
                        let a = Address::new(Kind::Instance, name, Some(k));
                        self.note_reference(&a, &span);
                        instances.push(a);
                    }
                }
                Some(_) => match self.resolve_address(Kind::Instance, name, index, &span, None) {
                    Some(a) => {
                        self.note_reference(&a, &span);
                        instances.push(a);
                    }
                    None => ok = false,
                },
                None => {
                    let names = self
                        .declared
                        .keys()
                        .filter(|(k, _)| *k == Kind::Instance)
                        .map(|(_, n)| n.as_str());
                    let hint = did_you_mean(name, names);
                    self.push(
                        Diagnostic::error(format!("unknown instance `{name}`"))
                            .at(span)
                            .maybe_hint(hint),
                    );
                    ok = false;
                }
            }
        }
        let security_groups = self.group_refs(&lb.security_groups, "security_groups");
        ok.then_some(LoadBalancer {
            availability_zones: zones,
            listeners,
            health_check,
            instances,
            security_groups,
            cross_zone: lb.cross_zone.unwrap_or(false),
        })
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

    fn elb_protocol(&mut self, p: &SpannedStr, field: &str) -> Option<String> {
        let value = self.known_here(p, field)?.to_ascii_uppercase();
        if !["HTTP", "HTTPS", "TCP", "SSL"].contains(&value.as_str()) {
            self.push(
                self.error(
                    p.span(),
                    format!("unknown listener protocol `{}`", p.get_ref()),
                )
                .hint("use `http`, `https`, `tcp` or `ssl`"),
            );
            return None;
        }
        Some(value)
    }

    fn listener(&mut self, l: &toml::Spanned<raw::Listener>) -> Option<Listener> {
        let raw = l.get_ref();
        let port = self.port(&raw.port, "port");
        let instance_port = self.port(&raw.instance_port, "instance_port");
        let protocol = self.elb_protocol(&raw.protocol, "protocol");
        let instance_protocol = self.elb_protocol(&raw.instance_protocol, "instance_protocol");
        let ssl_certificate_id = match &raw.ssl_certificate_id {
            Some(c) => Some(self.known_here(c, "ssl_certificate_id")?),
            None => None,
        };
        let (port, instance_port, protocol, instance_protocol) =
            (port?, instance_port?, protocol?, instance_protocol?);
        let layer7 = |p: &str| p == "HTTP" || p == "HTTPS";
        if layer7(&protocol) != layer7(&instance_protocol) {
            self.push(
                self.error(
                    raw.instance_protocol.span(),
                    format!("a {protocol} listener cannot forward to {instance_protocol}"),
                )
                .hint("HTTP and HTTPS forward to HTTP or HTTPS; TCP and SSL to TCP or SSL"),
            );
            return None;
        }
        if (protocol == "HTTPS" || protocol == "SSL") && ssl_certificate_id.is_none() {
            self.push(self.error(
                l.span(),
                format!("an {protocol} listener needs `ssl_certificate_id`"),
            ));
            return None;
        }
        Some(Listener {
            port,
            protocol,
            instance_port,
            instance_protocol,
            ssl_certificate_id,
        })
    }

    fn health_check(&mut self, h: &raw::HealthCheck) -> Option<HealthCheck> {
        let target = self.known_here(&h.target, "health_check.target")?;
        let normalized = match parse_target(&target) {
            Ok(t) => Some(t),
            Err(why) => {
                self.push(
                    self.error(
                        h.target.span(),
                        format!("invalid health check target `{target}`: {why}"),
                    )
                    .hint("targets are `TCP:80`, `SSL:443`, `HTTP:80/path` or `HTTPS:443/path`"),
                );
                None
            }
        };
        let interval = self.int(&h.interval, "health_check.interval", 5..=300);
        let timeout = self.int(&h.timeout, "health_check.timeout", 2..=60);
        let unhealthy_threshold = self.int(
            &h.unhealthy_threshold,
            "health_check.unhealthy_threshold",
            2..=10,
        );
        let healthy_threshold = self.int(
            &h.healthy_threshold,
            "health_check.healthy_threshold",
            2..=10,
        );
        let (interval, timeout) = (interval?, timeout?);
        if timeout >= interval {
            self.push(self.error(h.timeout.span(), format!("the health check timeout ({timeout} s) must be less than its interval ({interval} s)")));
            return None;
        }
        Some(HealthCheck {
            target: normalized?,
            interval,
            timeout,
            unhealthy_threshold: unhealthy_threshold?,
            healthy_threshold: healthy_threshold?,
        })
    }

    fn database(&mut self, db: &raw::Database) -> Option<Database> {
        const ENGINES: [&str; 10] = [
            "mysql",
            "mariadb",
            "postgres",
            "oracle-ee",
            "oracle-se2",
            "oracle-ee-cdb",
            "sqlserver-ee",
            "sqlserver-se",
            "sqlserver-ex",
            "sqlserver-web",
        ];
        let mut ok = true;
        let engine = self
            .known_here(&db.engine, "engine")
            .map(|e| e.to_ascii_lowercase());
        if let Some(e) = &engine
            && !ENGINES.contains(&e.as_str())
        {
            let hint = did_you_mean(e, ENGINES)
                .unwrap_or_else(|| format!("engines: {}", ENGINES.join(", ")));
            self.push(
                self.error(db.engine.span(), format!("unknown database engine `{e}`"))
                    .hint(hint),
            );
            ok = false;
        }
        let instance_class = self.known_here(&db.instance_class, "instance_class");
        if let Some(c) = &instance_class
            && (!c.starts_with("db.") || c.len() < 5)
        {
            self.push(
                self.error(
                    db.instance_class.span(),
                    format!("invalid instance class `{c}`"),
                )
                .hint("RDS classes look like `db.t3.micro`"),
            );
            ok = false;
        }
        let storage_gb = self.int(&db.storage_gb, "storage_gb", 1..=65536);
        let storage_type = match &db.storage_type {
            Some(t) => {
                let value = self.known_here(t, "storage_type");
                if let Some(v) = &value
                    && !["standard", "gp2", "gp3", "io1", "io2"].contains(&v.as_str())
                {
                    self.push(
                        self.error(t.span(), format!("unknown storage type `{v}`"))
                            .hint("use `standard`, `gp2`, `gp3`, `io1` or `io2`"),
                    );
                    ok = false;
                }
                value
            }
            None => None,
        };
        let master_username = self.known_here(&db.master_username, "master_username");
        if let Some(u) = &master_username {
            let limit = if engine.as_deref() == Some("mysql") {
                16
            } else {
                63
            };
            let valid = u.starts_with(|c: char| c.is_ascii_alphabetic())
                && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && u.len() <= limit;
            if !valid {
                self.push(
                    self.error(
                        db.master_username.span(),
                        format!("invalid master user name `{u}`"),
                    )
                    .hint(format!(
                        "a letter, then letters, digits or `_`, at most {limit} characters"
                    )),
                );
                ok = false;
            }
        }
        let password_origin = Origin::Token(self.span(db.master_password.span()));
        let master_password = self.template(
            password_origin,
            db.master_password.get_ref(),
            "master_password",
            Use::Sensitive,
        );
        if let Some(p) = &master_password
            && let Some(literal) = p.as_literal()
        {
            self.push(
                Diagnostic::warning("`master_password` is written in the stack file in the clear")
                    .at(self.span(db.master_password.span()))
                    .hint("use `${secret.NAME}` and declare the secret under `[secrets]`"),
            );
            if !(8..=128).contains(&literal.len()) {
                self.push(self.error(
                    db.master_password.span(),
                    "a master password is 8 to 128 characters",
                ));
                ok = false;
            }
        }
        let db_name = match &db.db_name {
            Some(n) => {
                let value = self.known_here(n, "db_name");
                if let Some(v) = &value
                    && (!v.starts_with(|c: char| c.is_ascii_alphabetic())
                        || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        || v.len() > 64)
                {
                    self.push(
                        self.error(n.span(), format!("invalid database name `{v}`"))
                            .hint("a letter, then letters, digits or `_`"),
                    );
                    ok = false;
                }
                value
            }
            None => None,
        };
        let port = match &db.port {
            Some(p) => Some(self.port(p, "port")?),
            None => None,
        };
        let engine_version = match &db.engine_version {
            Some(v) => Some(self.known_here(v, "engine_version")?),
            None => None,
        };
        let availability_zone = match &db.availability_zone {
            Some(z) => Some(self.zone(z, "availability_zone")?),
            None => None,
        };
        if db.multi_az == Some(true) && availability_zone.is_some() {
            self.push(
                Diagnostic::error(
                    "a Multi-AZ database cannot be pinned to one `availability_zone`",
                )
                .at(self.current_span()),
            );
            ok = false;
        }
        let backup_retention_days = match &db.backup_retention_days {
            Some(d) => self.int(d, "backup_retention_days", 0..=35),
            None => Some(1),
        };
        let security_groups = self.group_refs(&db.security_groups, "security_groups");
        if !ok {
            return None;
        }
        Some(Database {
            engine: engine?,
            engine_version,
            instance_class: instance_class?,
            storage_gb: storage_gb?,
            storage_type,
            master_username: master_username?,
            master_password: master_password?,
            db_name,
            port,
            security_groups,
            availability_zone,
            multi_az: db.multi_az.unwrap_or(false),
            backup_retention_days: backup_retention_days?,
            publicly_accessible: db.publicly_accessible.unwrap_or(false),
            deletion_protection: db.deletion_protection.unwrap_or(false),
            final_snapshot: db.final_snapshot.unwrap_or(true),
        })
    }

    fn instance(
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
                        key_name: key_name.clone(),
                        security_groups: security_groups.clone(),
                        root_volume_gb,
                        shutdown_behavior,
                        user_data: user_data.clone(),
                    }),
                }
            })
            .collect()
    }

    /// Text given inline or read from a file of the stack directory (`key = "path"`).
    fn text_source(
        &mut self,
        source: &toml::Spanned<TextSource>,
        key: &str,
        field: &str,
        use_: Use,
    ) -> Option<Template> {
        match source.get_ref() {
            TextSource::Inline(text) => {
                self.template(Origin::Token(self.span(source.span())), text, field, use_)
            }
            TextSource::File { key: given, .. } if given != key => {
                self.push(self.error(
                    source.span(),
                    format!("`{field}` reads a file with `{key} = \"…\"`, not `{given}`"),
                ));
                None
            }
            TextSource::File { path, .. } => {
                let (dir, at) = (&self.raw.dir, self.span(path.span()));
                let id = super::files::read_named_file(
                    self.sources,
                    self.diags,
                    dir,
                    path.get_ref(),
                    at,
                    field,
                    key,
                )?;
                let text = self.sources.text(id).to_string();
                if key == "file" {
                    return Some(Template::literal(text));
                }
                self.template(Origin::File(id), &text, field, use_)
            }
        }
    }

    fn key_pair(&mut self, kp: &raw::KeyPair) -> Option<KeyPair> {
        let text = self
            .text_source(&kp.public_key, "file", "public_key", Use::Known)?
            .as_literal()?;
        let key = text.trim().to_string();
        let mut fields = key.split_whitespace();
        let algorithm = fields.next().unwrap_or("");
        let body = fields.next().unwrap_or("");
        let known = [
            "ssh-rsa",
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
        ];
        let base64 = !body.is_empty()
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
        if !known.contains(&algorithm) || !base64 {
            self.push(
                self.error(kp.public_key.span(), "`public_key` is not an OpenSSH public key")
                    .hint("it starts with `ssh-ed25519`, `ssh-rsa` or `ecdsa-sha2-…`, then the key in base64"),
            );
            return None;
        }
        Some(KeyPair { public_key: key })
    }

    fn dns_record(&mut self, d: &raw::DnsRecord) -> Option<DnsRecord> {
        const TYPES: [&str; 9] = ["A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"];
        let zone = normalize_dns(&self.known_here(&d.zone, "zone")?);
        let fqdn = normalize_dns(&self.known_here(&d.name, "name")?);
        let mut ok = true;
        if fqdn != zone && !fqdn.ends_with(&format!(".{zone}")) {
            self.push(
                self.error(
                    d.name.span(),
                    format!("record `{fqdn}` is not inside zone `{zone}`"),
                )
                .hint(format!("names in this zone end in `.{zone}`")),
            );
            ok = false;
        }
        if fqdn.split('.').skip(1).any(|label| label.contains('*'))
            || fqdn.split('.').any(|l| l.is_empty() || l.len() > 63)
        {
            self.push(
                self.error(d.name.span(), format!("invalid record name `{fqdn}`"))
                    .hint("`*` may only be the first label, and labels are 1 to 63 characters"),
            );
            ok = false;
        }
        let record_type = self
            .known_here(&d.record_type, "type")?
            .to_ascii_uppercase();
        if !TYPES.contains(&record_type.as_str()) {
            self.push(
                self.error(
                    d.record_type.span(),
                    format!("unknown record type `{record_type}`"),
                )
                .hint(format!("types: {}", TYPES.join(", "))),
            );
            ok = false;
        }
        let ttl = match &d.ttl {
            Some(t) => self.int(t, "ttl", 0..=2_147_483_647)?,
            None => 300,
        };
        let list = d.records.get_ref();
        if list.is_empty() {
            self.push(self.error(d.records.span(), "`records` is empty"));
            ok = false;
        }
        if record_type == "CNAME" && list.len() > 1 {
            self.push(
                self.error(d.records.span(), format!("a CNAME record has exactly one value; this one has {}", list.len()))
                    .hint("DNS allows no other record beside a CNAME: use several A records, or one name per target"),
            );
            ok = false;
        }
        let mut records = Vec::new();
        for r in list {
            let Some(t) = self.printed(r, "records") else {
                ok = false;
                continue;
            };
            if let Some(literal) = t.as_literal() {
                let bad = match record_type.as_str() {
                    "A" => literal.parse::<std::net::Ipv4Addr>().is_err(),
                    "AAAA" => literal.parse::<std::net::Ipv6Addr>().is_err(),
                    _ => false,
                };
                if bad {
                    self.push(self.error(
                        r.span(),
                        format!("`{literal}` is not a valid {record_type} record value"),
                    ));
                    ok = false;
                }
            }
            records.push(t);
        }
        ok.then_some(DnsRecord {
            zone,
            fqdn,
            record_type,
            ttl,
            records,
        })
    }
}

enum Resolved {
    Text(String),
    Part(Part),
}

struct Common {
    explicit_name: Option<String>,
    prevent_destroy: bool,
    depends_on: Vec<Address>,
    tags: BTreeMap<String, Template>,
}

fn quoted_field(field: &str) -> String {
    if field.starts_with("output ") {
        field.to_string()
    } else {
        format!("`{field}`")
    }
}

fn name_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Database => "database identifier",
        Kind::LoadBalancer => "load balancer name",
        Kind::SecurityGroup => "security group name",
        Kind::KeyPair => "key pair name",
        Kind::Instance => "instance name",
        Kind::DnsRecord => "record name",
    }
}

fn normalize_dns(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `tcp:80` → `TCP:80`; `HTTP:80/health` stays; errors say what is wrong.
pub fn parse_target(target: &str) -> Result<String, String> {
    let (protocol, rest) = target.split_once(':').ok_or("expected `PROTOCOL:PORT`")?;
    let protocol = protocol.to_ascii_uppercase();
    let (port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let port: u32 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    if !(1..=65535).contains(&port) {
        return Err(format!("port {port} is out of range"));
    }
    match (protocol.as_str(), path) {
        ("TCP" | "SSL", None) => Ok(format!("{protocol}:{port}")),
        ("TCP" | "SSL", Some(_)) => Err(format!("a {protocol} check takes no path")),
        ("HTTP" | "HTTPS", Some(path)) => Ok(format!("{protocol}:{port}{path}")),
        ("HTTP" | "HTTPS", None) => Err(format!(
            "an {protocol} check needs a path, e.g. `{protocol}:{port}/`"
        )),
        (other, _) => Err(format!("unknown protocol `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_check_targets() {
        assert_eq!(parse_target("tcp:80").unwrap(), "TCP:80");
        assert_eq!(
            parse_target("HTTP:8080/health").unwrap(),
            "HTTP:8080/health"
        );
        assert!(parse_target("HTTP:80").is_err());
        assert!(parse_target("TCP:abc").is_err());
        assert!(parse_target("FTP:21").is_err());
        assert!(parse_target("TCP:0").is_err());
        assert!(parse_target("TCP:80/x").is_err());
        assert!(parse_target("80").is_err());
    }
}
