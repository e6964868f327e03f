use super::*;
use crate::stack::load_text;

const HEAD: &str = "[stack]\nname = \"g\"\nregion = \"us-east-1\"\n";

fn graph(body: &str) -> Result<Graph, Vec<Cycle>> {
    let loaded =
        load_text(&format!("{HEAD}{body}"), "").unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    Graph::build(&loaded.stack)
}

fn edges(g: &Graph) -> Vec<String> {
    g.edges()
        .iter()
        .map(|(a, b, _)| format!("{a} -> {b}"))
        .collect()
}

#[test]
fn mutual_and_self_admitting_groups_are_not_a_cycle() {
    let g = graph(
        r#"
[security_group.a]
description = "a"
ingress = [ { protocol = "tcp", ports = "1-2", group = "b" }, { protocol = "tcp", ports = "3", group = "self" } ]
[security_group.b]
description = "b"
ingress = [ { protocol = "tcp", ports = "1-2", group = "a" } ]
"#,
    )
    .expect("no cycle");
    assert_eq!(g.edge_count(), 0);
    let rules: Vec<String> = g
        .rule_references()
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    assert_eq!(
        rules,
        [
            "security_group.a -> security_group.b",
            "security_group.b -> security_group.a"
        ]
    );
}

#[test]
fn replicas_are_nodes_and_every_reference_is_an_edge() {
    let g = graph(
        r#"
[security_group.web]
description = "web"
[instance.db]
ami = "ami-12345678"
instance_type = "t3.micro"
[instance.web]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
user_data = "DB=${instance.db.private_ip}"
[load_balancer.lb]
availability_zones = ["us-east-1a"]
listeners = [ { port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" } ]
instances = ["web"]
[dns_record.www]
zone = "example.com"
name = "www.example.com"
type = "CNAME"
records = ["${load_balancer.lb.dns_name}"]
"#,
    )
    .expect("no cycle");
    assert_eq!(g.node_count(), 6);
    assert_eq!(
        edges(&g),
        [
            "load_balancer.lb -> instance.web[0]",
            "load_balancer.lb -> instance.web[1]",
            "instance.web[0] -> security_group.web",
            "instance.web[0] -> instance.db",
            "instance.web[1] -> security_group.web",
            "instance.web[1] -> instance.db",
            "dns_record.www -> load_balancer.lb",
        ]
    );
    let order: Vec<String> = g.create_order().iter().map(ToString::to_string).collect();
    let position = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(position("security_group.web") < position("instance.web[0]"));
    assert!(position("instance.db") < position("instance.web[1]"));
    assert!(position("instance.web[1]") < position("load_balancer.lb"));
    assert!(position("load_balancer.lb") < position("dns_record.www"));
    let mut reversed = g.destroy_order();
    reversed.reverse();
    // Destroy is a valid reverse: every resource goes before what it depends on.
    let destroy: Vec<String> = g.destroy_order().iter().map(ToString::to_string).collect();
    let at = |a: &str| destroy.iter().position(|x| x == a).unwrap();
    assert!(at("dns_record.www") < at("load_balancer.lb"));
    assert!(at("instance.web[0]") < at("security_group.web"));
    assert_eq!(reversed.len(), 6);
}

#[test]
fn a_cycle_names_every_address_on_it() {
    let cycles = graph(
        r#"
[instance.a]
ami = "ami-12345678"
instance_type = "t3.micro"
user_data = "${instance.b.private_ip}"
[instance.b]
ami = "ami-12345678"
instance_type = "t3.micro"
tags = { Peer = "${instance.c.id}" }
[instance.c]
ami = "ami-12345678"
instance_type = "t3.micro"
depends_on = ["instance.a"]
[instance.d]
ami = "ami-12345678"
instance_type = "t3.micro"
user_data = "${instance.d.id}"
"#,
    )
    .expect_err("cycles");
    let shown: Vec<String> = cycles.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "dependency cycle: `instance.a` -> `instance.b` -> `instance.c` -> `instance.a`",
            "dependency cycle: `instance.d` -> `instance.d`",
        ]
    );
}

#[test]
fn create_order_is_stable() {
    let body = r#"
[security_group.z]
description = "z"
[security_group.a]
description = "a"
[instance.m]
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["z", "a"]
"#;
    let first = graph(body).unwrap().create_order();
    assert_eq!(first, graph(body).unwrap().create_order());
    let shown: Vec<String> = first.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["security_group.a", "security_group.z", "instance.m"]
    );
}
