//! References: `kind.name[i]` resolved against what the stack declares, and security
//! groups named in `security_groups` and rules (the stack's own, or existing `sg-…` ids).
//!
//! Each reference that makes one resource wait for another is noted with where it was
//! written, so the graph can point at it when the references form a cycle.

use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::model::{Address, GroupRef, Kind};
use crate::stack::raw::SpannedStr;
use crate::stack::source::Span;

use super::Checker;

impl Checker<'_> {
    pub(super) fn note_reference(&mut self, target: &Address, span: &Span) {
        for from in &self.current {
            self.reference_spans
                .entry((from.clone(), target.clone()))
                .or_insert_with(|| span.clone());
        }
    }

    /// The address `kind.name[index]`, if the stack declares it. `attr` shapes the hint.
    pub(super) fn resolve_address(
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
        if self.failed.contains(&(kind, name.to_string())) {
            return None;
        }
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
    pub(super) fn group_refs(
        &mut self,
        list: &Option<Vec<SpannedStr>>,
        field: &str,
    ) -> Vec<GroupRef> {
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

    pub(super) fn group_ref(&mut self, name: &str, span: Span) -> Option<GroupRef> {
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
}
