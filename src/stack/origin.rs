//! Where each resource of a checked stack was written, for tools that judge the stack
//! after it loaded (`lint`): the model itself keeps no spans, so that plans built on it can
//! be saved and compared.
//!
//! Also the ids of the lint rules a resource may silence with `lint_allow`: the checker
//! refuses an unknown one at load time, naming where it is written, so the list lives
//! here, below `lint`, which holds the rules themselves.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::Kind;

use super::model::Rule;
use super::source::Span;

/// Every lint rule id, in the order `docs/lint.md` lists them.
pub const LINT_RULES: [&str; 16] = [
    "single-instance",
    "replicas-one-zone",
    "lb-one-zone",
    "lb-no-health-check",
    "db-no-backups",
    "db-no-final-snapshot",
    "db-no-deletion-protection",
    "db-single-az",
    "ssh-open-to-world",
    "rdp-open-to-world",
    "all-ports-open-to-world",
    "db-publicly-accessible",
    "db-storage-unencrypted",
    "imdsv1-allowed",
    "root-volume-unencrypted",
    "lb-http-only",
];

/// Where one resource table (a whole counted instance block: one table, many replicas)
/// was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpans {
    /// The table's first character: where findings about a key not written point.
    pub table: Span,
    /// Each key written in the table.
    pub keys: BTreeMap<String, Span>,
    /// Rule ids silenced by `lint_allow`.
    pub lint_allow: BTreeSet<String>,
    /// A security group's ingress rules (normalized, as in the model) and where each is
    /// written.
    pub ingress: BTreeMap<Rule, Span>,
    /// A balancer's listeners, in the model's order.
    pub listeners: Vec<Span>,
}

impl TableSpans {
    /// Where `key` is written, or the table when it is not.
    pub fn key_or_table(&self, key: &str) -> &Span {
        self.keys.get(key).unwrap_or(&self.table)
    }
}

/// Every resource table's origin, by kind and name.
pub type Origins = BTreeMap<(Kind, String), TableSpans>;
