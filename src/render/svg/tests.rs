//! The picture read back by an XML parser.

use super::*;
use crate::plan::{self, Action};
use crate::provider::LiveState;
use crate::stack::load_text;

const STACK: &str = r#"
[stack]
name = "shop"
region = "us-east-1"

[security_group.web]
description = "web"
ingress = [ { protocol = "tcp", ports = "443", cidr = "0.0.0.0/0" } ]

[security_group.db]
description = "db"
ingress = [ { protocol = "tcp", ports = "3306", group = "web" } ]

[instance.web]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
"#;

fn setup() -> (Graph, Plan) {
    let loaded = load_text(STACK, "").unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).expect("no cycles");
    let plan = plan::plan(&loaded.stack, &graph, &LiveState::default());
    (graph, plan)
}

/// Each box's label and fill: a `<g>` holding the `<rect>`, followed by its `<text>`.
fn boxes(svg: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    root.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| {
            let label: String = n
                .descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect();
            let label = label.trim().to_string();
            if label.is_empty() {
                return None; // an edge's (empty) label
            }
            let group = n.prev_sibling_element().expect("the box before its text");
            let fill = group
                .descendants()
                .find(|d| d.has_tag_name("rect"))
                .and_then(|r| r.attribute("fill"))
                .unwrap_or_else(|| panic!("no box for {label:?}"));
            Some((label, fill.to_string()))
        })
        .collect()
}

#[test]
fn the_graph_is_an_svg_document_with_a_box_per_address() {
    let (graph, _) = setup();
    let svg = render(&graph, "shop-<test>", None);
    let boxes = boxes(&svg);
    let mut labels: Vec<&str> = boxes.iter().map(|(l, _)| l.as_str()).collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "instance.web[0]",
            "instance.web[1]",
            "security_group.db",
            "security_group.web"
        ]
    );
    assert!(boxes.iter().all(|(_, f)| f == "#ffffffff"), "{boxes:?}");
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let title = doc
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text());
    assert_eq!(title, Some("shop-<test>"));
    // Three edges: two instances need the web group; the db group's rule names it (dashed).
    let paths = doc.descendants().filter(|n| n.has_tag_name("path")).count();
    assert_eq!(paths, 3, "{svg}");
    assert_eq!(svg.matches("stroke-dasharray").count(), 1, "{svg}");
}

#[test]
fn with_a_plan_each_box_is_filled_by_its_action() {
    let (graph, mut plan) = setup();
    // The db group updated, and a third instance that the stack no longer has destroyed.
    for change in &mut plan.changes {
        if change.address.to_string() == "security_group.db" {
            change.action = Action::Update;
        }
    }
    let mut gone = plan.changes[0].clone();
    gone.address = "instance.web[2]".parse().expect("address");
    gone.action = Action::Destroy;
    plan.changes.push(gone);
    let svg = render(&graph, "shop-test", Some(&plan));
    let boxes = boxes(&svg);
    assert_eq!(boxes.len(), 5, "{boxes:?}");
    let fill_of = |label: &str| {
        boxes
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| panic!("no {label:?} in {boxes:?}"))
    };
    let create = format!("{}ff", look(Action::Create).fill);
    assert_eq!(fill_of("+ security_group.web"), create);
    assert_eq!(fill_of("+ instance.web[0]"), create);
    assert_eq!(
        fill_of("~ security_group.db"),
        format!("{}ff", look(Action::Update).fill)
    );
    assert_eq!(
        fill_of("- instance.web[2]"),
        format!("{}ff", look(Action::Destroy).fill)
    );
}

#[test]
fn the_same_graph_gives_the_same_picture() {
    let (graph, plan) = setup();
    let first = render(&graph, "shop-test", Some(&plan));
    for _ in 0..5 {
        assert_eq!(render(&graph, "shop-test", Some(&plan)), first);
    }
}

#[test]
fn an_empty_stack_is_an_empty_picture() {
    let loaded = load_text("[stack]\nname = \"empty\"\nregion = \"us-east-1\"\n", "")
        .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).expect("graph");
    assert!(boxes(&render(&graph, "empty-test", None)).is_empty());
}
