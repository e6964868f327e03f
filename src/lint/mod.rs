//! `lint`: resilience and security findings about a checked stack, with no AWS call.
//!
//! 1. Each rule family looks at the model of one env ([`resilience`]: zones, single points
//!    of failure, backups; [`security`]: what checkov, cfn-lint and cfn-nag check on
//!    CloudFormation templates) and reports a [`Finding`] against a resource table, at the
//!    key that decides it (the table itself when the key is not written).
//! 2. Findings a resource silences with `lint_allow = ["rule-id"]` are dropped.
//! 3. The rest are sorted by file, line and column, so the same stack always lints the same.
//!
//! The rule ids are [`LINT_RULES`](crate::stack::LINT_RULES) (the checker refuses an
//! unknown id in `lint_allow` at load time); [`RULES`] gives each its severity.

mod resilience;
mod security;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::address::{Address, Kind};
use crate::stack::{Loaded, Resource, Span, TableSpans};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Open to the internet, or data that can be lost for good.
    Error,
    /// Weaker than the usual advice.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Each rule and its severity, in the order of [`crate::stack::LINT_RULES`].
pub const RULES: [(&str, Severity); 16] = [
    ("single-instance", Severity::Warning),
    ("replicas-one-zone", Severity::Warning),
    ("lb-one-zone", Severity::Warning),
    ("lb-no-health-check", Severity::Warning),
    ("db-no-backups", Severity::Error),
    ("db-no-final-snapshot", Severity::Warning),
    ("db-no-deletion-protection", Severity::Warning),
    ("db-single-az", Severity::Warning),
    ("ssh-open-to-world", Severity::Error),
    ("rdp-open-to-world", Severity::Error),
    ("all-ports-open-to-world", Severity::Error),
    ("db-publicly-accessible", Severity::Error),
    ("db-storage-unencrypted", Severity::Warning),
    ("imdsv1-allowed", Severity::Warning),
    ("root-volume-unencrypted", Severity::Warning),
    ("lb-http-only", Severity::Warning),
];

/// One finding, as `lint --json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// The resource table: `instance.heart` for every replica of a counted instance.
    pub address: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Why it matters, in one line.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// What a rule family reports before it is placed and filtered.
struct Raw {
    rule: &'static str,
    kind: Kind,
    name: String,
    span: Span,
    message: String,
    hint: String,
}

/// One resource table of the model: every replica of a counted instance together.
struct Block<'a> {
    kind: Kind,
    name: &'a str,
    origin: &'a TableSpans,
    replicas: Vec<&'a Resource>,
}

impl Block<'_> {
    fn address(&self) -> Address {
        Address::new(self.kind, self.name, None)
    }

    fn finding(
        &self,
        rule: &'static str,
        span: &Span,
        message: String,
        hint: impl Into<String>,
    ) -> Raw {
        Raw {
            rule,
            kind: self.kind,
            name: self.name.to_string(),
            span: span.clone(),
            message,
            hint: hint.into(),
        }
    }
}

/// Every finding about the stack that `loaded` holds, silenced ones left out, in file
/// order.
pub fn lint(loaded: &Loaded) -> Vec<Finding> {
    let mut blocks: BTreeMap<(Kind, &str), Block<'_>> = BTreeMap::new();
    for r in loaded.stack.resources.values() {
        let key = (r.address.kind, r.address.name.clone());
        let Some(origin) = loaded.origins.get(&key) else {
            continue;
        };
        blocks
            .entry((r.address.kind, r.address.name.as_str()))
            .or_insert_with(|| Block {
                kind: r.address.kind,
                name: &r.address.name,
                origin,
                replicas: Vec::new(),
            })
            .replicas
            .push(r);
    }
    let blocks: Vec<Block<'_>> = blocks.into_values().collect();
    let mut raw = Vec::new();
    resilience::check(&loaded.stack.env, &blocks, &mut raw);
    security::check(&blocks, &mut raw);
    let mut findings: Vec<(Span, Finding)> = raw
        .into_iter()
        .filter(|f| {
            loaded
                .origins
                .get(&(f.kind, f.name.clone()))
                .is_none_or(|o| !o.lint_allow.contains(f.rule))
        })
        .map(|f| {
            let location = loaded.sources.location(f.span.file, f.span.range.start);
            let finding = Finding {
                rule: f.rule,
                severity: severity(f.rule),
                address: Address::new(f.kind, &f.name, None).to_string(),
                file: location.file.display().to_string(),
                line: location.line,
                column: location.column,
                message: f.message,
                hint: f.hint,
            };
            (f.span, finding)
        })
        .collect();
    findings.sort_by(|(a, fa), (b, fb)| {
        (a.file, a.range.start, fa.rule).cmp(&(b.file, b.range.start, fb.rule))
    });
    findings.into_iter().map(|(_, f)| f).collect()
}

fn severity(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|(id, _)| *id == rule)
        .map_or(Severity::Warning, |(_, s)| *s)
}

#[cfg(test)]
mod tests;
