//! The dependency graph: one node per address (replicas expanded), one edge per reference.
//!
//! An edge `a -> b` means "`a` needs `b` to exist first": it comes from a `${b.attr}` in
//! `a`, from a name in `a`'s `security_groups` or `instances`, or from `depends_on`.
//! Creation walks the graph from the leaves (dependencies first); destruction walks it the
//! other way, because `b` cannot go while `a` still uses it (a security group cannot be
//! deleted while an instance is in it).
//!
//! Security-group rules that name another group are *not* edges: groups are created empty
//! and their rules added once every group exists, so `a` admitting `b` while `b` admits
//! `a` (or a group admitting itself) is not a cycle. They are kept as rule references,
//! drawn dashed by `graph`.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::stack::model::{GroupRef, Resource, RuleSource, Spec};
use crate::stack::{Address, Diagnostic, ReferenceSpans, Stack};

/// Why one resource depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A `${kind.name.attr}` reference.
    Reference,
    /// A name in `security_groups` or `instances`.
    Membership,
    /// `depends_on`.
    DependsOn,
}

#[derive(Clone, Debug)]
pub struct Graph {
    graph: DiGraph<Address, EdgeKind>,
    nodes: BTreeMap<Address, NodeIndex>,
    /// `(group, admitted group)` for rules naming another group of the stack.
    rule_references: BTreeSet<(Address, Address)>,
}

/// A dependency cycle, as a path that starts and ends at the same address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: {}", display_path(&self.path))]
pub struct Cycle {
    pub path: Vec<Address>,
}

fn display_path(path: &[Address]) -> String {
    path.iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// The resources `resource` depends on, and why.
pub fn dependencies(resource: &Resource) -> Vec<(Address, EdgeKind)> {
    let mut out: Vec<(Address, EdgeKind)> = Vec::new();
    let mut templates = Vec::new();
    let mut groups: Vec<&GroupRef> = Vec::new();
    match &resource.spec {
        Spec::SecurityGroup(_) | Spec::KeyPair(_) => {}
        Spec::LoadBalancer(lb) => {
            groups.extend(&lb.security_groups);
            out.extend(
                lb.instances
                    .iter()
                    .map(|a| (a.clone(), EdgeKind::Membership)),
            );
        }
        Spec::Database(db) => {
            groups.extend(&db.security_groups);
            templates.push(&db.master_password);
        }
        Spec::Instance(i) => {
            groups.extend(&i.security_groups);
            templates.extend(i.key_name.iter().chain(i.user_data.iter()));
        }
        Spec::DnsRecord(d) => templates.extend(&d.records),
    }
    templates.extend(resource.tags.values());
    for g in groups {
        if let GroupRef::Stack(a) = g {
            out.push((a.clone(), EdgeKind::Membership));
        }
    }
    for t in templates {
        out.extend(t.attrs().map(|(a, _)| (a.clone(), EdgeKind::Reference)));
    }
    out.extend(
        resource
            .depends_on
            .iter()
            .map(|a| (a.clone(), EdgeKind::DependsOn)),
    );
    out
}

impl Graph {
    /// Build the graph of `stack`; a cycle is an error naming every address on it.
    pub fn build(stack: &Stack) -> Result<Graph, Vec<Cycle>> {
        let mut graph = DiGraph::new();
        let mut nodes = BTreeMap::new();
        for address in stack.resources.keys() {
            nodes.insert(address.clone(), graph.add_node(address.clone()));
        }
        let mut rule_references = BTreeSet::new();
        for (address, resource) in &stack.resources {
            let from = nodes[address];
            for (target, kind) in dependencies(resource) {
                // The model only holds references the checker resolved.
                if let Some(&to) = nodes.get(&target)
                    && graph.find_edge(from, to).is_none()
                {
                    graph.add_edge(from, to, kind);
                }
            }
            if let Spec::SecurityGroup(sg) = &resource.spec {
                for rule in sg.ingress.iter().chain(sg.egress.iter().flatten()) {
                    if let RuleSource::Group(GroupRef::Stack(other)) = &rule.source {
                        rule_references.insert((address.clone(), other.clone()));
                    }
                }
            }
        }
        let built = Graph {
            graph,
            nodes,
            rule_references,
        };
        let cycles = built.cycles();
        if cycles.is_empty() {
            Ok(built)
        } else {
            Err(cycles)
        }
    }

    fn cycles(&self) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        for component in tarjan_scc(&self.graph) {
            let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
            let Some(&start) = members.iter().min_by_key(|n| &self.graph[**n]) else {
                continue;
            };
            let self_loop = self.graph.find_edge(start, start).is_some();
            if members.len() < 2 && !self_loop {
                continue;
            }
            let path = if self_loop {
                vec![start, start]
            } else {
                self.cycle_from(start, &members)
            };
            cycles.push(Cycle {
                path: path.into_iter().map(|n| self.graph[n].clone()).collect(),
            });
        }
        cycles.sort_by(|a, b| a.path.cmp(&b.path));
        cycles
    }

    /// A path from `start` back to itself inside one strongly connected component,
    /// following the smallest address at each step so the message is stable.
    fn cycle_from(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<NodeIndex> {
        let mut path = vec![start];
        let mut seen = BTreeSet::from([start]);
        let mut stack = vec![self.sorted_successors(start, members)];
        while let Some(next) = stack.last_mut() {
            match next.pop() {
                Some(n) if n == start => {
                    path.push(start);
                    return path;
                }
                Some(n) if seen.insert(n) => {
                    path.push(n);
                    stack.push(self.sorted_successors(n, members));
                }
                Some(_) => {}
                None => {
                    stack.pop();
                    path.pop();
                }
            }
        }
        vec![start, start]
    }

    fn sorted_successors(&self, n: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<NodeIndex> {
        let mut next: Vec<NodeIndex> = self
            .graph
            .neighbors(n)
            .filter(|m| members.contains(m))
            .collect();
        // Popped from the end: largest first in the vector means smallest tried first.
        next.sort_by(|a, b| self.graph[*b].cmp(&self.graph[*a]));
        next
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.nodes.keys()
    }

    /// Every dependency edge `(from, to, why)`, sorted.
    pub fn edges(&self) -> Vec<(&Address, &Address, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((&self.graph[a], &self.graph[b], self.graph[e]))
            })
            .collect();
        edges.sort();
        edges
    }

    pub fn rule_references(&self) -> impl Iterator<Item = &(Address, Address)> {
        self.rule_references.iter()
    }

    /// What `address` needs first.
    pub fn dependencies_of(&self, address: &Address) -> Vec<&Address> {
        self.neighbors(address, Direction::Outgoing)
    }

    /// What needs `address` first.
    pub fn dependents_of(&self, address: &Address) -> Vec<&Address> {
        self.neighbors(address, Direction::Incoming)
    }

    fn neighbors(&self, address: &Address, direction: Direction) -> Vec<&Address> {
        let Some(&n) = self.nodes.get(address) else {
            return Vec::new();
        };
        let mut out: Vec<&Address> = self
            .graph
            .neighbors_directed(n, direction)
            .map(|m| &self.graph[m])
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Creation order: every address after everything it depends on; ties in address order.
    pub fn create_order(&self) -> Vec<Address> {
        self.order(Direction::Outgoing)
    }

    /// Destruction order: every address before everything it depends on.
    pub fn destroy_order(&self) -> Vec<Address> {
        self.order(Direction::Incoming)
    }

    /// Kahn's algorithm over `direction`'s edges, always taking the smallest ready address,
    /// so the order is the same on every run.
    fn order(&self, direction: Direction) -> Vec<Address> {
        let mut waiting: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        let mut ready: BTreeSet<(&Address, NodeIndex)> = BTreeSet::new();
        for n in self.graph.node_indices() {
            let blockers = self.graph.neighbors_directed(n, direction).count();
            if blockers == 0 {
                ready.insert((&self.graph[n], n));
            } else {
                waiting.insert(n, blockers);
            }
        }
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some((address, n)) = ready.pop_first() {
            order.push(address.clone());
            for m in self.graph.neighbors_directed(n, direction.opposite()) {
                if let Some(count) = waiting.get_mut(&m) {
                    *count -= 1;
                    if *count == 0 {
                        waiting.remove(&m);
                        ready.insert((&self.graph[m], m));
                    }
                }
            }
        }
        order
    }
}

/// A cycle as a diagnostic: the first reference is the primary location, every other one
/// on the cycle is labelled.
pub fn cycle_diagnostic(cycle: &Cycle, spans: &ReferenceSpans) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(cycle.to_string());
    for (i, pair) in cycle.path.windows(2).enumerate() {
        let (from, to) = (&pair[0], &pair[1]);
        let Some(span) = spans.get(&(from.clone(), to.clone())) else {
            continue;
        };
        let text = format!("`{from}` refers to `{to}` here");
        diagnostic = if i == 0 {
            diagnostic.at(span.clone()).label(text)
        } else {
            diagnostic.also(span.clone(), text)
        };
    }
    diagnostic.hint("break the cycle: one of these references must go, or become a var")
}

#[cfg(test)]
mod tests;
