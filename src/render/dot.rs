//! The dependency graph as Graphviz DOT, node names being addresses:
//! `"instance.heart[0]" -> "security_group.paasmaker";`. Rules that admit another group are
//! drawn dashed: they are references, not creation order.
//!
//! With a plan (`graph --plan`), each address is coloured by its planned action (outline
//! `color`, `fillcolor`, `style = "filled"`) and its label starts with the plan's sign
//! (`+ instance.web[0]`), so the picture reads without colour too; addresses the plan
//! destroys are not in the stack, and are drawn apart, dashed. Unchanged ones stay plain.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::graph::Graph;
use crate::plan::{Action, Plan};
use crate::stack::Address;

/// How one planned action is drawn, in DOT and SVG alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Look {
    /// The outline.
    pub line: &'static str,
    /// The fill.
    pub fill: &'static str,
    /// Put before the address in its label.
    pub sign: &'static str,
}

/// The look of each action: green create, amber update, purple replace, red destroy.
pub fn look(action: Action) -> Look {
    let (line, fill) = match action {
        Action::Create => ("#1a7f37", "#dafbe1"),
        Action::Update => ("#9a6700", "#fff8c5"),
        Action::Replace => ("#8250df", "#fbefff"),
        Action::Destroy => ("#cf222e", "#ffebe9"),
        Action::Import => ("#0969da", "#ddf4ff"),
        Action::Move => ("#1b7c83", "#d8f3f6"),
    };
    Look {
        line,
        fill,
        sign: super::plan::symbol(action),
    }
}

/// Each address the plan changes, with its action.
pub fn actions(plan: &Plan) -> BTreeMap<Address, Action> {
    plan.changes
        .iter()
        .map(|c| (c.address.clone(), c.action))
        .collect()
}

/// The graph as DOT.
pub fn render(graph: &Graph, title: &str) -> String {
    render_planned(graph, title, None)
}

/// The graph as DOT, coloured by `plan` when there is one.
pub fn render_planned(graph: &Graph, title: &str, plan: Option<&Plan>) -> String {
    let mut out = String::new();
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let planned = plan.map(actions).unwrap_or_default();
    let _ = writeln!(out, "digraph {} {{", quote(title));
    let _ = writeln!(out, "  rankdir = \"RL\";");
    let _ = writeln!(out, "  node [shape = \"box\"];");
    let node = |out: &mut String, address: &Address, action: Option<Action>, apart: bool| {
        let name = address.to_string();
        match action {
            None => {
                let _ = writeln!(out, "  {};", quote(&name));
            }
            Some(action) => {
                let l = look(action);
                let style = if apart { "filled,dashed" } else { "filled" };
                let _ = writeln!(
                    out,
                    "  {} [label = {}, color = {}, fillcolor = {}, style = {}];",
                    quote(&name),
                    quote(&format!("{} {name}", l.sign)),
                    quote(l.line),
                    quote(l.fill),
                    quote(style)
                );
            }
        }
    };
    for address in graph.addresses() {
        node(&mut out, address, planned.get(address).copied(), false);
    }
    // What the plan destroys is no longer in the stack: no edges, drawn apart.
    for (address, action) in &planned {
        if !graph.addresses().any(|a| a == address) {
            node(&mut out, address, Some(*action), true);
        }
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
