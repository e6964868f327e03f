//! One-line summaries of commands that succeed.

use crate::graph::Graph;
use crate::stack::{Loaded, Severity};

/// `validate`'s line: what the stack holds in this env.
pub fn validated(loaded: &Loaded, graph: &Graph) -> String {
    let stack = &loaded.stack;
    let mut declared: Vec<(_, &str)> = stack
        .resources
        .keys()
        .map(|a| (a.kind, a.name.as_str()))
        .collect();
    declared.dedup();
    let replicas = stack.resources.keys().filter(|a| a.index.is_some()).count();
    let warnings = loaded
        .warnings
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "stack `{}` (env `{}`, {}) is valid: {}, {}, {} addresses, {}, {}\n",
        stack.name,
        stack.env,
        region(&stack.region),
        plural(declared.len(), "resource"),
        plural(replicas, "replica"),
        graph.node_count(),
        plural(graph.edge_count(), "edge"),
        plural(warnings, "warning"),
    )
}

/// `--stats`: the AWS calls made.
pub fn calls(by_operation: &std::collections::BTreeMap<String, u64>) -> String {
    let total: u64 = by_operation.values().sum();
    let list: Vec<String> = by_operation
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    format!("aws calls: {total} ({})\n", list.join(", "))
}

/// `region `x``, or where it will come from when the stack does not say.
pub fn region(region: &str) -> String {
    if region.is_empty() {
        "region from the AWS configuration".to_string()
    } else {
        format!("region `{region}`")
    }
}
