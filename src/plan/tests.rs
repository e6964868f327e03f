//! The planner against hand-built live state: no AWS, no emulator. The emulator tests in
//! `tests/testsuite/plan.rs` check the provider reads AWS into the same shapes.

use std::collections::BTreeMap;

use super::*;
use crate::provider::{LiveResource, flag};
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

fn rotating(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn rotating_a_database_password_updates_it_in_place_showing_no_value() {
    let (stack, graph) = setup();
    let live = converged(&stack, &graph);
    let plan = plan_rotating(&stack, &graph, &live, &rotating(&["pw"]));
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let c = change(&plan, "database.db");
    assert_eq!(c.action, Action::Update);
    assert!(c.replace_because.is_empty());
    assert!(c.marks.is_empty(), "no data loss: {:?}", c.marks);
    assert!(!c.drift);
    assert_eq!(c.id.as_deref(), Some("id-database.db"));
    let attr = &c.attrs[0];
    assert_eq!(attr.name, "master_password");
    assert_eq!(attr.rotating, vec!["pw".to_string()]);
    assert!(!attr.forces_replacement);
    assert_eq!(attr.before, Some(Value::text("${secret.pw}")));
    assert_eq!(attr.after, attr.before);
    // The applied tag is what it was: no tag derives from a secret's value.
    assert_eq!(c.applied, live.resources[&c.address].applied);
    let shown = crate::render::plan::render(&plan, false);
    assert!(
        shown.contains("master_password : (sensitive) -> (sensitive) (rotating secret `pw`)"),
        "{shown}"
    );
    assert_eq!(plan.summary.update, 1);
}

#[test]
fn rotating_a_user_data_secret_replaces_the_instances_like_new_user_data() {
    let (stack, graph) = setup();
    let live = converged(&stack, &graph);
    let plan = plan_rotating(&stack, &graph, &live, &rotating(&["token"]));
    for web in ["instance.web[0]", "instance.web[1]"] {
        let c = change(&plan, web);
        assert_eq!(c.action, Action::Replace, "{web}");
        assert_eq!(c.replace_because, vec!["user_data".to_string()]);
        assert_eq!(c.attrs[0].rotating, vec!["token".to_string()]);
        assert_eq!(
            c.attrs[0].after,
            Some(Value::text("token=${secret.token} web"))
        );
    }
    // The record naming the replaced instance waits for its new address, as for any
    // replacement.
    let www = change(&plan, "dns_record.www");
    assert_eq!(www.action, Action::Update);
    assert_eq!(www.attrs[0].after, Some(Value::Unknown));
    assert!(
        plan.changes
            .iter()
            .all(|c| c.address.kind != Kind::Database)
    );
    let shown = crate::render::plan::render(&plan, false);
    assert!(
        shown
            .contains("(sensitive) -> (sensitive) (rotating secret `token`)  # forces replacement"),
        "{shown}"
    );
}

#[test]
fn rotation_extends_a_change_the_stack_makes_anyway() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    set(
        &mut live,
        "database.db",
        "instance_class",
        Value::text("db.t3.small"),
    );
    set(
        &mut live,
        "instance.web[0]",
        "instance_type",
        Value::text("t3.large"),
    );
    let plan = plan_rotating(&stack, &graph, &live, &rotating(&["pw", "token"]));
    let db = change(&plan, "database.db");
    assert_eq!(db.action, Action::Update);
    let names: Vec<&str> = db.attrs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["instance_class", "master_password"]);
    let web = change(&plan, "instance.web[0]");
    assert_eq!(web.action, Action::Replace);
    assert_eq!(web.replace_because, vec!["user_data".to_string()]);
    assert_eq!(web.attrs.len(), 2);
}

#[test]
fn resources_not_there_yet_get_the_value_with_the_rest() {
    let (stack, graph) = setup();
    let plan = plan_rotating(&stack, &graph, &LiveState::default(), &rotating(&["pw"]));
    assert_eq!(plan, super::plan(&stack, &graph, &LiveState::default()));
}

#[test]
fn rotating_a_balancer_member_is_rolled() {
    let text = r#"
[stack]
name = "app"
region = "us-east-1"

[secrets]
token = { env = "TOKEN" }

[load_balancer.web]
availability_zones = ["us-east-1a"]
listeners = [ { port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" } ]
instances = ["app"]

[instance.app]
ami = "ami-12345678"
instance_type = "t3.micro"
user_data = "token=${secret.token}"
"#;
    let loaded = load_text(text, "").unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).unwrap();
    let live = converged(&loaded.stack, &graph);
    let plan = plan_rotating(&loaded.stack, &graph, &live, &rotating(&["token"]));
    let app = change(&plan, "instance.app");
    assert_eq!(app.action, Action::Replace);
    let rollout = app.rolling.as_ref().expect("rolled behind the balancer");
    assert_eq!(
        rollout.balancers,
        vec!["load_balancer.web".parse().unwrap()]
    );
}

#[test]
fn an_unknown_or_unused_secret_is_refused_naming_the_stacks_secrets() {
    let (stack, _) = setup();
    let err = rotate::check(&stack, &rotating(&["nope"])).unwrap_err();
    assert!(err.contains("has no secret `nope`"), "{err}");
    assert!(err.contains("the stack's secrets: `pw`, `token`"), "{err}");
    assert!(rotate::check(&stack, &rotating(&["pw", "token"])).is_ok());
    let text = STACK.replace("[secrets]", "[secrets]\nspare = { env = \"SPARE\" }");
    let unused = load_text(&text, "").unwrap().stack;
    let err = rotate::check(&unused, &rotating(&["spare"])).unwrap_err();
    assert!(
        err.contains("no resource of stack `app` uses secret `spare`"),
        "{err}"
    );
    assert_eq!(
        rotate::users(&unused, "token"),
        vec![
            "instance.web[0]".parse::<Address>().unwrap(),
            "instance.web[1]".parse().unwrap()
        ]
    );
}

/// Issue 16: upgrading stackwright to secure defaults never replaces a running resource.
/// An instance launched before them (IMDSv1 answered, root volume unencrypted) is changed
/// in place where AWS can (metadata options) and left alone where it cannot (volume); a
/// database created unencrypted is left alone.
#[test]
fn secure_defaults_never_replace_a_running_resource() {
    let (stack, graph) = setup();
    let mut live = converged(&stack, &graph);
    for i in ["instance.web[0]", "instance.web[1]"] {
        set(&mut live, i, "metadata_tokens", Value::text("optional"));
        set(&mut live, i, "root_volume_encrypted", flag(false));
    }
    set(&mut live, "database.db", "storage_encrypted", flag(false));
    let said = plan(&stack, &graph, &live).warnings;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with("`database.db` keeps its unencrypted storage"));
    // And one made by a stackwright that read none of these.
    live.resources
        .get_mut(&"database.db".parse::<Address>().unwrap())
        .unwrap()
        .attrs
        .remove("storage_encrypted");
    let plan = plan(&stack, &graph, &live);
    let addresses: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(addresses, ["instance.web[0]", "instance.web[1]"]);
    for c in &plan.changes {
        assert_eq!(c.action, Action::Update, "{c:#?}");
        let names: Vec<&str> = c.attrs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["metadata_tokens"]);
        assert_eq!(c.attrs[0].after, Some(Value::text("required")));
        assert!(!c.attrs[0].forces_replacement);
    }
}

#[test]
fn new_resources_show_the_secure_defaults() {
    let (stack, graph) = setup();
    let plan = plan(&stack, &graph, &LiveState::default());
    let after = |address: &str, name: &str| {
        change(&plan, address)
            .attrs
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.after.clone())
    };
    assert_eq!(
        after("instance.web[0]", "metadata_tokens"),
        Some(Value::text("required"))
    );
    assert_eq!(
        after("instance.web[0]", "root_volume_encrypted"),
        Some(flag(true))
    );
    assert_eq!(after("database.db", "storage_encrypted"), Some(flag(true)));
}
