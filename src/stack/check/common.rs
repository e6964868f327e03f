//! What every resource has whatever its kind: an explicit `name` (checked against AWS's
//! rules for that kind), `prevent_destroy`, `depends_on` and tags (no reserved keys,
//! AWS's lengths, no secrets: tags are shown and stored in the clear).

use std::collections::BTreeMap;

use crate::stack::diag::Diagnostic;
use crate::stack::load::{RawBody, RawResource};
use crate::stack::model::{Address, Kind};
use crate::stack::names;
use crate::stack::template::Template;

use super::Checker;

impl Checker<'_> {
    pub(super) fn common(&mut self, r: &RawResource, body: &RawBody) -> Option<Common> {
        let (name, prevent_destroy, depends_on, tags, lint_allow) = match body {
            RawBody::SecurityGroup(x) => (
                &x.name,
                x.prevent_destroy,
                &x.depends_on,
                &x.tags,
                &x.lint_allow,
            ),
            RawBody::KeyPair(x) => (
                &x.name,
                x.prevent_destroy,
                &x.depends_on,
                &x.tags,
                &x.lint_allow,
            ),
            RawBody::LoadBalancer(x) => (
                &x.name,
                x.prevent_destroy,
                &x.depends_on,
                &x.tags,
                &x.lint_allow,
            ),
            RawBody::Database(x) => (
                &x.name,
                x.prevent_destroy,
                &x.depends_on,
                &x.tags,
                &x.lint_allow,
            ),
            RawBody::Instance(x) => (
                &x.name,
                x.prevent_destroy,
                &x.depends_on,
                &x.tags,
                &x.lint_allow,
            ),
            RawBody::DnsRecord(x) => (
                &None,
                x.prevent_destroy,
                &x.depends_on,
                &None,
                &x.lint_allow,
            ),
        };
        let mut ok = self.lint_allow(lint_allow);
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
}

pub(super) struct Common {
    pub(super) explicit_name: Option<String>,
    pub(super) prevent_destroy: bool,
    pub(super) depends_on: Vec<Address>,
    pub(super) tags: BTreeMap<String, Template>,
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
