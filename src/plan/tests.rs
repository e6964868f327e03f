//! The planner against hand-built live state: no AWS, no emulator. The emulator tests in
//! `tests/testsuite/plan.rs` check the provider reads AWS into the same shapes.

use std::collections::BTreeMap;

use super::*;
use crate::provider::LiveResource;
use crate::stack::load_text;

const STACK: &str = r#"
[stack]
name = "app"
region = "us-east-1"

[security_group.web]
description = "web"
ingress = [ { protocol = "tcp", ports = "443", cidr = "0.0.0.0/0" } ]

[instance.web]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
user_data = "token=${secret.token} web"

[database.db]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 20
master_username = "root"
master_password = "${secret.pw}"

[dns_record.www]
zone = "example.com"
name = "www.example.com"
type = "A"
records = ["${instance.web[0].public_ip}"]

[secrets]
token = { env = "TOKEN" }
pw = { env = "PW" }
"#;

fn setup() -> (Stack, Graph) {
    let loaded = load_text(STACK, "").unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).unwrap();
    (loaded.stack, graph)
}

/// Live state exactly as apply would leave it: desired attributes, outputs, applied tag.
fn converged(stack: &Stack, graph: &Graph) -> LiveState {
    let mut live = LiveState::default();
    let mut made: BTreeMap<Address, LiveResource> = BTreeMap::new();
    for address in graph.create_order() {
        let resource = stack.resource(&address).unwrap();
        let snapshot = made.clone();
        let known: Known<'_> = snapshot.iter().map(|(a, r)| (a.clone(), Some(r))).collect();
        let desired = attrs::desired(resource, &known);
        let outputs = address
            .kind
            .attributes()
            .iter()
            .map(|a| (a.to_string(), format!("{address}-{a}")))
            .collect();
        let r = after_apply(&address, format!("id-{address}"), &desired, outputs);
        made.insert(address, r);
    }
    for (_, r) in made {
        live.insert(r);
    }
    live
}

fn set(live: &mut LiveState, address: &str, attr: &str, value: Value) {
    live.resources
        .get_mut(&address.parse::<Address>().unwrap())
        .unwrap()
        .attrs
        .insert(attr.into(), value);
}

fn change<'a>(plan: &'a Plan, address: &str) -> &'a Change {
    plan.changes
        .iter()
        .find(|c| c.address.to_string() == address)
        .unwrap_or_else(|| panic!("no change for {address}: {plan:#?}"))
}

#[test]
fn an_empty_account_creates_everything_in_graph_order() {
    let (stack, graph) = setup();
    let plan = plan(&stack, &graph, &LiveState::default());
    let order: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        order,
        [
            "security_group.web",
            "database.db",
            "instance.web[0]",
            "instance.web[1]",
            "dns_record.www"
        ]
    );
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(
        plan.summary,
        Summary {
            create: 5,
            ..Summary::default()
        }
    );
    // The record points at an instance not created yet.
    let records = change(&plan, "dns_record.www")
        .attrs
        .iter()
        .find(|a| a.name == "records")
        .unwrap();
    assert_eq!(records.after, Some(Value::Unknown));
}

#[test]
fn a_converged_stack_has_no_changes() {
    let (stack, graph) = setup();
    let live = converged(&stack, &graph);
    let plan = plan(&stack, &graph, &live);
    assert!(!plan.has_changes(), "{plan:#?}");
}

#[test]
fn in_place_updates_replacements_and_destroys() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(
        &mut live,
        "instance.web[0]",
        "instance_type",
        Value::text("t3.large"),
    );
    set(
        &mut live,
        "instance.web[1]",
        "ami",
        Value::text("ami-99999999"),
    );
    let mut extra = live.resources[&"instance.web[1]".parse::<Address>().unwrap()].clone();
    extra.address = "instance.web[2]".parse().unwrap();
    extra.id = "i-extra".into();
    live.insert(extra);

    let plan = plan(&stack, &graph, &live);
    let updated = change(&plan, "instance.web[0]");
    assert_eq!(updated.action, Action::Update);
    assert_eq!(updated.attrs.len(), 1);
    assert_eq!(updated.attrs[0].before, Some(Value::text("t3.large")));
    let replaced = change(&plan, "instance.web[1]");
    assert_eq!(replaced.action, Action::Replace);
    assert_eq!(replaced.replace_because, ["ami"]);
    let destroyed = change(&plan, "instance.web[2]");
    assert_eq!(
        (destroyed.action, destroyed.id.as_deref()),
        (Action::Destroy, Some("i-extra"))
    );
    // The record follows web[0]'s address, which the resize changes.
    assert_eq!(change(&plan, "dns_record.www").action, Action::Update);
    assert_eq!(
        (
            plan.summary.update,
            plan.summary.replace,
            plan.summary.destroy
        ),
        (2, 1, 1)
    );
}

#[test]
fn changes_made_in_aws_are_drift_and_changes_to_the_stack_are_not() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    // Someone opened SSH in the console: the stack still says what was applied.
    set(
        &mut live,
        "security_group.web",
        "ingress",
        Value::list([
            "tcp 443 from 0.0.0.0/0".into(),
            "tcp 22 from 0.0.0.0/0".into(),
        ]),
    );
    // And the stack was edited after the last apply: not drift.
    let db: Address = "database.db".parse().unwrap();
    live.resources.get_mut(&db).unwrap().applied = Some("abcd".repeat(20));
    set(&mut live, "database.db", "storage_gb", Value::text("10"));

    let plan = plan(&stack, &graph, &live);
    let sg = change(&plan, "security_group.web");
    assert!(sg.drift && sg.attrs[0].drift, "{sg:#?}");
    let db = change(&plan, "database.db");
    assert!(!db.drift);
    assert_eq!(db.action, Action::Update, "storage grows in place");
    assert_eq!(plan.summary.drift, 1);
}

#[test]
fn shrinking_storage_replaces_the_database_and_is_marked_data_loss() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(&mut live, "database.db", "storage_gb", Value::text("100"));
    let plan = plan(&stack, &graph, &live);
    let db = change(&plan, "database.db");
    assert_eq!(db.action, Action::Replace);
    assert!(db.marks.iter().any(|m| matches!(m, Mark::DataLoss(_))));
    assert_eq!(plan.summary.data_loss, 1);
}

#[test]
fn replacing_a_resource_makes_its_dependents_wait_for_its_new_attributes() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(
        &mut live,
        "instance.web[0]",
        "ami",
        Value::text("ami-99999999"),
    );
    let plan = plan(&stack, &graph, &live);
    assert_eq!(change(&plan, "instance.web[0]").action, Action::Replace);
    let record = change(&plan, "dns_record.www");
    assert_eq!(
        record.attrs[0].after,
        Some(Value::Unknown),
        "the new instance's IP is not known yet"
    );
}

#[test]
fn user_data_is_compared_through_its_hash_and_never_holds_a_secret() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(
        &mut live,
        "instance.web[1]",
        "user_data",
        Value::text(tracked_form("something else\nentirely")),
    );
    let plan = plan(&stack, &graph, &live);
    let c = change(&plan, "instance.web[1]");
    assert_eq!(c.replace_because, ["user_data"]);
    assert_eq!(
        c.attrs[0].after,
        Some(Value::text("token=${secret.token} web"))
    );
    // A resource made outside stackwright has no hash tag: not a change without --deep.
    let mut untracked = converged(&stack, &graph);
    untracked
        .resources
        .get_mut(&"instance.web[1]".parse::<Address>().unwrap())
        .unwrap()
        .attrs
        .remove("user_data");
    assert!(!super::plan(&stack, &graph, &untracked).has_changes());
}

#[test]
fn opening_access_is_security_sensitive() {
    let text = STACK.replace(r#"ports = "443""#, r#"ports = "0-65535""#);
    let loaded = load_text(&text, "").unwrap();
    let graph = Graph::build(&loaded.stack).unwrap();
    let mut live = converged(&loaded.stack, &graph);
    set(
        &mut live,
        "security_group.web",
        "ingress",
        Value::list(["tcp 443 from 0.0.0.0/0".into()]),
    );
    let plan = plan(&loaded.stack, &graph, &live);
    let sg = change(&plan, "security_group.web");
    assert_eq!(
        sg.marks,
        [Mark::SecuritySensitive(
            "opens tcp 0-65535 to 0.0.0.0/0".into()
        )]
    );
}

#[test]
fn plans_are_deterministic_and_round_trip_through_json() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(
        &mut live,
        "instance.web[0]",
        "instance_type",
        Value::text("t3.large"),
    );
    let a = serde_json::to_string(&plan(&stack, &graph, &live)).unwrap();
    let b = serde_json::to_string(&plan(&stack, &graph, &live)).unwrap();
    assert_eq!(a, b);
    let back: Plan = serde_json::from_str(&a).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), a);
}

#[test]
fn resizing_an_instance_makes_its_public_address_unknown_to_dependents() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(
        &mut live,
        "instance.web[0]",
        "instance_type",
        Value::text("t3.large"),
    );
    let plan = plan(&stack, &graph, &live);
    assert_eq!(change(&plan, "instance.web[0]").action, Action::Update);
    // Stop and start give the instance a new public IP: the record must follow it.
    assert_eq!(
        change(&plan, "dns_record.www").attrs[0].after,
        Some(Value::Unknown)
    );
}

#[test]
fn a_successor_left_by_an_interrupted_roll_that_the_stack_no_longer_asks_for_is_said() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    live.unfinished
        .insert("instance.web[0]".parse().unwrap(), "i-new".into());
    let plan = plan(&stack, &graph, &live);
    assert!(!plan.has_changes(), "{plan:#?}");
    assert_eq!(
        plan.warnings,
        [
            "a rolling replacement of `instance.web[0]` was interrupted, and the stack no \
             longer asks for it: `id-instance.web[0]` stays, `i-new` (launched by it) is not \
             the stack's; terminate `i-new`"
        ]
    );
}
