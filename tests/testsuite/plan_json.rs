//! `schemas/plan.schema.json` describes what `stackwright plan --json` prints: real plans,
//! built in-process against hand-made live state (no AWS), validate; broken ones do not;
//! and a plan never holds a secret's value.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value as Json, json};
use stackwright::graph::Graph;
use stackwright::plan::{self, Action, Known, Mark, Plan, attrs};
use stackwright::provider::{LiveResource, LiveState, Value, tracked_form};
use stackwright::stack::{Address, Stack};

use crate::support::root;

const STACK: &str = r##"
[stack]
name = "shop"
region = "us-east-1"

[secrets]
x = { env = "SHOP_SECRET_X" }
pw = { env = "SHOP_DB_PASSWORD" }

[security_group.web]
description = "web"
ingress = [
  { protocol = "tcp", ports = "443", cidr = "0.0.0.0/0" },
  { protocol = "tcp", ports = "22", cidr = "0.0.0.0/0", description = "SSH" },
]

[instance.heart]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
user_data = """#!/bin/sh
echo 'token=${secret.x}' > /etc/heart.conf
"""

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
records = ["${instance.heart[0].public_ip}"]
"##;

const ENV: &str = r#"region = "eu-west-1"
"#;

/// What the secret could have been set to in `SHOP_SECRET_X`: plan must never print it.
const SECRET_VALUE: &str = "hunter2";

pub(crate) fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas/plan.schema.json")).expect("schema");
    let schema: Json = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
}

pub(crate) fn errors(v: &jsonschema::Validator, instance: &Json) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{e} at `{}`", e.instance_path()))
        .collect()
}

fn load(dir: &Path) -> (Stack, Graph) {
    std::fs::create_dir(dir.join("env")).expect("env directory");
    std::fs::write(dir.join("stack.toml"), STACK).expect("stack.toml");
    std::fs::write(dir.join("env/test.toml"), ENV).expect("env file");
    let loaded = stackwright::stack::load(dir, Some("test"))
        .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).expect("no cycles");
    (loaded.stack, graph)
}

fn address(s: &str) -> Address {
    s.parse().expect("address")
}

/// Live state as apply would leave it: the desired attributes (tracked ones in their tag
/// form), made-up outputs and ids, and the `stackwright:applied` tag.
fn converged(stack: &Stack, graph: &Graph) -> LiveState {
    let mut made: BTreeMap<Address, LiveResource> = BTreeMap::new();
    for address in graph.create_order() {
        let resource = stack.resource(&address).expect("resource");
        let known: Known<'_> = made.iter().map(|(a, r)| (a.clone(), Some(r))).collect();
        let desired = attrs::desired(resource, &known);
        let outputs = address
            .kind
            .attributes()
            .iter()
            .map(|a| (a.to_string(), format!("{address}-{a}")))
            .collect();
        let r = plan::after_apply(&address, format!("id-{address}"), &desired, outputs);
        made.insert(address, r);
    }
    let mut live = LiveState::default();
    for r in made.into_values() {
        live.insert(r);
    }
    live
}

fn set(live: &mut LiveState, at: &str, attr: &str, value: Value) {
    live.resources
        .get_mut(&address(at))
        .expect("live resource")
        .attrs
        .insert(attr.into(), value);
}

/// Live state that makes the plan hold every kind of change: an update that is drift (the
/// SSH rule removed in the console), an update that is not (an instance resized, without
/// the `stackwright:applied` tag), a replacement (new AMI, user data changed behind its
/// hash), a database shrunk (replace, data loss), a replica past `count` and a database no
/// longer in the stack (destroys, the second with data loss), and an address claimed twice
/// (a warning).
fn busy_live(stack: &Stack, graph: &Graph) -> LiveState {
    let mut live = converged(stack, graph);
    set(
        &mut live,
        "security_group.web",
        "ingress",
        Value::list(["tcp 443 from 0.0.0.0/0".to_string()]),
    );
    set(
        &mut live,
        "instance.heart[0]",
        "instance_type",
        Value::text("t3.large"),
    );
    set(
        &mut live,
        "instance.heart[1]",
        "ami",
        Value::text("ami-99999999"),
    );
    set(
        &mut live,
        "instance.heart[1]",
        "user_data",
        Value::text(tracked_form("#!/bin/sh\necho something else\n")),
    );
    set(&mut live, "database.db", "storage_gb", Value::text("100"));
    // Made outside stackwright (no `stackwright:applied` tag): their changes are not drift.
    for at in ["instance.heart[0]", "instance.heart[1]", "database.db"] {
        live.resources
            .get_mut(&address(at))
            .expect("live resource")
            .applied = None;
    }

    let mut extra = live.resources[&address("instance.heart[1]")].clone();
    extra.address = address("instance.heart[2]");
    extra.id = "i-0123456789abcdef0".into();
    live.insert(extra);
    let mut old_db = live.resources[&address("database.db")].clone();
    old_db.address = address("database.old");
    old_db.id = "shop-test-old".into();
    live.insert(old_db);
    let mut twin = live.resources[&address("security_group.web")].clone();
    twin.id = "sg-0twin".into();
    live.insert(twin);
    live
}

/// The plan as `plan --json` prints it, read back as JSON.
fn as_json(plan: &Plan) -> Json {
    let printed = serde_json::to_string_pretty(plan).expect("serialize");
    let value = serde_json::to_value(plan).expect("to_value");
    assert_eq!(
        serde_json::from_str::<Json>(&printed).expect("printed JSON"),
        value
    );
    value
}

fn actions(json: &Json) -> Vec<&str> {
    json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["action"].as_str().expect("action"))
        .collect()
}

#[test]
fn a_plan_against_an_empty_account_matches_the_schema() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (stack, graph) = load(dir.path());
    let plan = plan::plan(&stack, &graph, &LiveState::default());
    let json = as_json(&plan);

    let found = errors(&validator(), &json);
    assert!(found.is_empty(), "{}\n{json:#}", found.join("\n"));

    assert_eq!(json["format_version"], 1);
    assert_eq!(
        (json["stack"].as_str(), json["env"].as_str()),
        (Some("shop"), Some("test"))
    );
    assert_eq!(json["region"], "eu-west-1");
    assert_eq!(actions(&json), ["create"; 5]);
    let record = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["address"] == "dns_record.www")
        .expect("the record");
    let records = record["attrs"]
        .as_array()
        .expect("attrs")
        .iter()
        .find(|a| a["name"] == "records")
        .expect("records");
    assert_eq!(
        records["after"], "unknown",
        "the instance's IP is known only after apply"
    );
    assert_eq!(json["summary"]["create"], 5);
    assert_eq!(
        json["summary"]["security_sensitive"], 1,
        "SSH from anywhere"
    );
}

#[test]
fn a_plan_with_every_kind_of_change_matches_the_schema() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (stack, graph) = load(dir.path());
    let plan = plan::plan(&stack, &graph, &busy_live(&stack, &graph));
    let json = as_json(&plan);

    let found = errors(&validator(), &json);
    assert!(found.is_empty(), "{}\n{json:#}", found.join("\n"));

    let by_action = |a: Action| plan.changes.iter().filter(move |c| c.action == a);
    // The SG (drift), the resized heart[0], and the record that follows heart[0]'s
    // address: a resize stops and starts the instance, which gives it a new IP.
    assert_eq!(by_action(Action::Update).count(), 3, "{plan:#?}");
    assert_eq!(by_action(Action::Replace).count(), 2, "{plan:#?}");
    let destroyed: Vec<String> = by_action(Action::Destroy)
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(destroyed, ["instance.heart[2]", "database.old"]);
    assert!(
        by_action(Action::Update).any(|c| c.drift),
        "the SSH rule removed in AWS is drift"
    );
    assert!(
        by_action(Action::Update).any(|c| !c.drift),
        "an untagged resource's change is not drift"
    );
    let heart1 = by_action(Action::Replace)
        .find(|c| c.address == address("instance.heart[1]"))
        .expect("heart[1] is replaced");
    assert!(
        heart1
            .attrs
            .iter()
            .any(|a| a.name == "user_data" && a.tracked),
        "{heart1:#?}"
    );
    let data_loss = |c: &plan::Change| c.marks.iter().any(|m| matches!(m, Mark::DataLoss(_)));
    assert!(by_action(Action::Destroy).any(data_loss), "{plan:#?}");
    assert!(by_action(Action::Replace).any(data_loss), "{plan:#?}");
    assert_eq!(plan.summary.data_loss, 2);
    assert_eq!(plan.summary.drift, 1);
    assert_eq!(
        plan.warnings.len(),
        1,
        "security_group.web is claimed twice"
    );
    assert!(
        json.to_string().contains(r#""kind":"data_loss""#),
        "{json:#}"
    );
}

/// A change to a valid plan that the schema must refuse.
type Mutation = Box<dyn Fn(&mut Json)>;

#[test]
fn the_schema_refuses_what_plan_never_prints() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (stack, graph) = load(dir.path());
    let v = validator();
    let good = as_json(&plan::plan(&stack, &graph, &busy_live(&stack, &graph)));
    assert!(errors(&v, &good).is_empty());

    let replace = actions(&good)
        .iter()
        .position(|a| *a == "replace")
        .expect("a replace");
    let replace_path = format!("/changes/{replace}/replace_because");
    // What each mutation breaks, and where the schema must say so.
    let mutations: Vec<(&str, &str, Mutation)> = vec![
        (
            "an unknown action",
            "/changes/0/action",
            Box::new(|j| j["changes"][0]["action"] = json!("explode")),
        ),
        (
            "no summary",
            "",
            Box::new(|j| {
                j.as_object_mut().expect("plan").remove("summary");
            }),
        ),
        (
            "an unknown key in the plan",
            "",
            Box::new(|j| j["extra"] = json!(true)),
        ),
        (
            "an unknown key in a change",
            "/changes/0",
            Box::new(|j| j["changes"][0]["note"] = json!("hi")),
        ),
        (
            "an unknown key in the summary",
            "/summary",
            Box::new(|j| j["summary"]["noop"] = json!(0)),
        ),
        (
            "another format version",
            "/format_version",
            Box::new(|j| j["format_version"] = json!(2)),
        ),
        (
            "a bad address",
            "/changes/0/address",
            Box::new(|j| j["changes"][0]["address"] = json!("bucket.logs")),
        ),
        (
            "a short fingerprint",
            "/changes/0/fingerprint",
            Box::new(|j| j["changes"][0]["fingerprint"] = json!("abc")),
        ),
        (
            "a missing optional field instead of null",
            "/changes/0",
            Box::new(|j| {
                j["changes"][0]
                    .as_object_mut()
                    .expect("change")
                    .remove("id");
            }),
        ),
        (
            "a value that is not text, list or unknown",
            "/changes/0/attrs/0/after",
            Box::new(|j| j["changes"][0]["attrs"][0]["after"] = json!({ "number": 3 })),
        ),
        (
            "a text value with two tags",
            "/changes/0/attrs/0/after",
            Box::new(|j| j["changes"][0]["attrs"][0]["after"] = json!({ "text": "a", "list": [] })),
        ),
        (
            "an unknown mark",
            "/changes/0/marks/0",
            Box::new(|j| {
                j["changes"][0]["marks"] = json!([{ "kind": "spooky", "reason": "boo" }]);
            }),
        ),
        (
            "a negative count",
            "/summary/create",
            Box::new(|j| j["summary"]["create"] = json!(-1)),
        ),
        (
            "a replace without a reason",
            &replace_path,
            Box::new(move |j| j["changes"][replace]["replace_because"] = json!([])),
        ),
    ];
    for (what, at, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert_ne!(bad, good, "{what}: the mutation changed nothing");
        let found = errors(&v, &bad);
        assert!(
            found.iter().any(|e| e.ends_with(&format!(" at `{at}`"))),
            "{what}: no error at `{at}`: {found:?}"
        );
    }
}

#[test]
fn plans_hold_secrets_only_as_placeholders() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (stack, graph) = load(dir.path());
    for live in [LiveState::default(), busy_live(&stack, &graph)] {
        let printed =
            serde_json::to_string_pretty(&plan::plan(&stack, &graph, &live)).expect("serialize");
        assert!(printed.contains("${secret.x}"), "{printed}");
        assert!(!printed.contains(SECRET_VALUE), "{printed}");
        // Every mention of a secret is a whole placeholder.
        for (at, _) in printed.match_indices("secret.") {
            let rest = &printed[at..];
            assert!(
                printed[..at].ends_with("${")
                    && (rest.starts_with("secret.x}") || rest.starts_with("secret.pw}")),
                "{}",
                &printed[at.saturating_sub(20)..]
            );
        }
        assert!(!printed.contains("SHOP_SECRET_X"), "{printed}");
    }
}

#[test]
fn every_part_of_the_schema_is_documented_and_closed() {
    let text = std::fs::read_to_string(root().join("schemas/plan.schema.json")).expect("schema");
    let schema: Json = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(
        schema["$id"],
        "https://stackwright.dev/schemas/plan.schema.json"
    );
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let mut problems = Vec::new();
    walk(&schema, "#", true, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The walk sees what it checks.
    let mut broken = schema.clone();
    let defs = broken["$defs"].as_object_mut().expect("$defs");
    defs["summary"]
        .as_object_mut()
        .expect("summary")
        .remove("additionalProperties");
    defs["attrChange"]["properties"]["tracked"]
        .as_object_mut()
        .expect("tracked")
        .remove("description");
    let mut problems = Vec::new();
    walk(&broken, "#", true, &mut problems);
    assert_eq!(
        problems,
        [
            "#/$defs/attrChange/properties/tracked: no description",
            "#/$defs/summary: object without `additionalProperties: false`",
        ]
    );
}

/// Every named schema (the root, `$defs`, properties, `oneOf` branches) has a title and a
/// description; every object schema forbids unknown keys.
fn walk(schema: &Json, at: &str, named: bool, problems: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    if named {
        for key in ["title", "description"] {
            if map
                .get(key)
                .and_then(Json::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{at}: no {key}"));
            }
        }
    }
    if map.get("type") == Some(&json!("object"))
        && map.get("additionalProperties") != Some(&json!(false))
    {
        problems.push(format!(
            "{at}: object without `additionalProperties: false`"
        ));
    }
    for (key, child) in map {
        match key.as_str() {
            "$defs" | "properties" => {
                for (name, sub) in child.as_object().into_iter().flatten() {
                    // In `if`/`then`, properties only constrain: they need no documentation.
                    let documented = !at.contains("/if") && !at.contains("/then");
                    walk(sub, &format!("{at}/{key}/{name}"), documented, problems);
                }
            }
            "oneOf" | "anyOf" | "allOf" => {
                for (i, sub) in child.as_array().into_iter().flatten().enumerate() {
                    let documented = sub.get("$ref").is_none();
                    walk(sub, &format!("{at}/{key}/{i}"), documented, problems);
                }
            }
            "items" | "if" | "then" | "else" | "not" | "additionalProperties" => {
                walk(child, &format!("{at}/{key}"), false, problems);
            }
            _ => {}
        }
    }
}
