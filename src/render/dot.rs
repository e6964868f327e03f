//! The dependency graph as Graphviz DOT, node names being addresses:
//! `"instance.heart[0]" -> "security_group.paasmaker";`. Rules that admit another group are
//! drawn dashed: they are references, not creation order.

use std::fmt::Write;

use crate::graph::Graph;

pub fn render(graph: &Graph, title: &str) -> String {
    let mut out = String::new();
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let _ = writeln!(out, "digraph {} {{", quote(title));
    let _ = writeln!(out, "  rankdir = \"RL\";");
    let _ = writeln!(out, "  node [shape = \"box\"];");
    for address in graph.addresses() {
        let _ = writeln!(out, "  {};", quote(&address.to_string()));
    }
    for (from, to, _) in graph.edges() {
        let _ = writeln!(
            out,
            "  {} -> {};",
            quote(&from.to_string()),
            quote(&to.to_string())
        );
    }
    for (from, to) in graph.rule_references() {
        if from != to {
            let _ = writeln!(
                out,
                "  {} -> {} [style = \"dashed\", label = \"rule\"];",
                quote(&from.to_string()),
                quote(&to.to_string())
            );
        }
    }
    out.push_str("}\n");
    out
}
