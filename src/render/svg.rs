//! The dependency graph as SVG, laid out in Rust (the `layout-rs` crate: Graphviz's `dot`
//! layering, no Graphviz needed). The same picture as [`super::dot`]: a box per address,
//! an arrow from each address to what it needs first, rules naming another group dashed;
//! with a plan, each box filled by its planned action and labelled with its sign.

use std::collections::{BTreeMap, BTreeSet};

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::dot::{actions, look};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::stack::Address;

const FONT_SIZE: usize = 14;

/// The graph as an SVG document titled `title`, coloured by `plan` when there is one.
pub fn render(graph: &Graph, title: &str, plan: Option<&Plan>) -> String {
    let planned = plan.map(actions).unwrap_or_default();
    let mut addresses: Vec<&Address> = graph.addresses().collect();
    // What the plan destroys is no longer in the stack: drawn too, without edges.
    let destroyed: Vec<&Address> = planned.keys().filter(|a| !addresses.contains(a)).collect();
    addresses.extend(destroyed);
    if addresses.is_empty() {
        return empty(title);
    }

    let orientation = Orientation::TopToBottom;
    let mut vg = VisualGraph::new(orientation);
    let mut handles = BTreeMap::new();
    for address in addresses {
        let name = address.to_string();
        let (label, line, fill) = match planned.get(address) {
            Some(action) => {
                let l = look(*action);
                (format!("{} {name}", l.sign), l.line, l.fill)
            }
            None => (name, "#24292f", "#ffffff"),
        };
        let shape = ShapeKind::new_box(&label);
        let size = get_shape_size(orientation.flip(), &shape, FONT_SIZE, false);
        let style = StyleAttr::new(colour(line), 1, Some(colour(fill)), 0, FONT_SIZE);
        let node = Element::create(shape, style, orientation.flip(), size);
        handles.insert(address.clone(), vg.add_node(node));
    }

    let mut drawn = BTreeSet::new();
    let edges = graph
        .edges()
        .into_iter()
        .map(|(from, to, _)| (from, to, LineStyleKind::Normal));
    let rules = graph
        .rule_references()
        .filter(|(from, to)| from != to)
        .map(|(from, to)| (from, to, LineStyleKind::Dashed));
    for (from, to, line_style) in edges.chain(rules) {
        if !drawn.insert((from.clone(), to.clone())) {
            continue;
        }
        let (Some(&from), Some(&to)) = (handles.get(from), handles.get(to)) else {
            continue;
        };
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            line_style,
            "",
            &StyleAttr::new(colour("#57606a"), 1, None, 0, FONT_SIZE),
            &None,
            &None,
        );
        vg.add_edge(arrow, from, to);
    }

    let mut svg = SVGWriter::new();
    vg.do_it(false, false, false, &mut svg);
    titled(&svg.finalize(), title)
}

fn colour(web: &str) -> Color {
    Color::from_name(web).unwrap_or_else(|| Color::fast("black"))
}

/// `svg` with a `<title>` as the first thing in its root element.
fn titled(svg: &str, title: &str) -> String {
    let title = format!("<title>{}</title>\n", escape(title));
    match svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    {
        Some(end) => {
            let (head, rest) = svg.split_at(end);
            let rest = rest.strip_prefix('\n').unwrap_or(rest);
            format!("{head}\n{title}{rest}\n")
        }
        None => svg.to_string(),
    }
}

/// A stack with no resources: an empty picture.
fn empty(title: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
         <svg width=\"1\" height=\"1\" viewBox=\"0 0 1 1\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <title>{}</title>\n</svg>\n",
        escape(title)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
