//! Issue 15: `[import]` against the in-memory provider. An import is planned from what
//! refresh read by id, applied as an update that tags the resource (nothing created or
//! deleted), a no-op once done; every refusal comes before any call that changes anything.

use super::*;
use crate::plan::Action;
use crate::provider::{Owner, Value};
use crate::stack::Kind;

const IMPORTING: &str = r#"
[stack]
name = "t"
region = "us-east-1"

[security_group.web]
name = "web-by-hand"
description = "web"
ingress = [ { protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" } ]

[security_group.other]
description = "not imported"
"#;

/// The attributes refresh reads of a group made by hand, as the stack would have them
/// with `description` and the ingress rules given.
fn by_hand_group(description: &str, ingress: &[&str]) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("name".to_string(), Value::text("web-by-hand")),
        ("description".to_string(), Value::text(description)),
        (
            "ingress".to_string(),
            Value::list(ingress.iter().map(|r| r.to_string())),
        ),
        (
            "egress".to_string(),
            Value::list(["all from 0.0.0.0/0".to_string()]),
        ),
        ("tags".to_string(), Value::list([])),
        ("prevent_destroy".to_string(), Value::text("false")),
    ])
}

fn importing(memory: &Arc<Memory>, env: &str) -> Direct<Memory> {
    let loaded = crate::stack::load_text(IMPORTING, env)
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).unwrap();
    let lookup = secrets::fixed(BTreeMap::new());
    let scope = secrets::scope(&loaded.stack, false, &lookup).unwrap();
    Direct::new(memory.clone(), loaded.stack, graph, scope, lookup)
}

const ENV: &str = "[import]\n\"security_group.web\" = \"sg-0a1b2c\"\n";

fn web_of(plan: &Plan) -> &crate::plan::Change {
    plan.changes
        .iter()
        .find(|c| c.address == a("security_group.web"))
        .expect("a change of security_group.web")
}

async fn plan_of(direct: &mut Direct<Memory>) -> Result<Plan, EngineError> {
    let options = PlanOptions::default();
    plan(
        direct,
        &options,
        Recording::in_ci().as_ref(),
        never_cancelled(),
    )
    .await
    .map(|p| p.plan)
}

#[tokio::test]
async fn an_import_is_tagged_by_the_apply_then_a_no_op() {
    let memory = Arc::new(Memory::new());
    memory.build_by_hand(
        Kind::SecurityGroup,
        "sg-0a1b2c",
        by_hand_group("web", &["tcp 80 from 0.0.0.0/0"]),
        None,
    );
    let mut direct = importing(&memory, ENV);
    let plan = plan_of(&mut direct).await.unwrap();
    let web = web_of(&plan);
    assert_eq!(web.address, a("security_group.web"));
    assert_eq!(web.action, Action::Import);
    assert_eq!(web.id.as_deref(), Some("sg-0a1b2c"));
    assert!(web.attrs.is_empty(), "{:?}", web.attrs);
    assert_eq!((plan.summary.import, plan.summary.update), (1, 0));
    let text = crate::render::plan::render(&plan, false);
    assert!(
        text.contains(" <= security_group.web  will be imported [sg-0a1b2c]"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 1 to create, 0 to update, 0 to replace, 0 to destroy, 1 to import."),
        "{text}"
    );

    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    // Adopted: updated (tagged) in place, the other group created; nothing else.
    let mutating = memory.mutating();
    assert!(mutating.contains(&"update security_group.web".to_string()));
    assert!(
        !mutating
            .iter()
            .any(|c| c.ends_with("security_group.web") && !c.starts_with("update"))
    );
    assert_eq!(
        memory.id_of(&a("security_group.web")).as_deref(),
        Some("sg-0a1b2c")
    );

    // The table stays in the env file: the next plan has nothing to do.
    let mut again = importing(&memory, ENV);
    let plan = plan_of(&mut again).await.unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
}

#[tokio::test]
async fn an_import_shows_the_changes_apply_then_makes() {
    let memory = Arc::new(Memory::new());
    memory.build_by_hand(
        Kind::SecurityGroup,
        "sg-0a1b2c",
        by_hand_group("web", &["tcp 22 from 0.0.0.0/0"]),
        None,
    );
    let mut direct = importing(&memory, ENV);
    let plan = plan_of(&mut direct).await.unwrap();
    let web = web_of(&plan);
    assert_eq!(web.action, Action::Import);
    let names: Vec<&str> = web.attrs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["ingress"]);
    assert_eq!((plan.summary.import, plan.summary.update), (1, 1));
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert_eq!(
        memory.attr_of(&a("security_group.web"), "ingress"),
        Some(Value::list(["tcp 80 from 0.0.0.0/0".to_string()]))
    );
}

#[tokio::test]
async fn imports_that_cannot_go_ahead_are_refused_before_anything_is_sent() {
    // An id that does not exist.
    let memory = Arc::new(Memory::new());
    let mut direct = importing(&memory, ENV);
    let err = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no security group `sg-0a1b2c`"), "{err}");
    assert!(memory.mutating().is_empty(), "{:?}", memory.mutating());

    // Another stack's.
    let memory = Arc::new(Memory::new());
    memory.build_by_hand(
        Kind::SecurityGroup,
        "sg-0a1b2c",
        by_hand_group("web", &["tcp 80 from 0.0.0.0/0"]),
        Some(Owner {
            stack: "shop".into(),
            env: "production".into(),
            address: "security_group.front".into(),
        }),
    );
    let mut direct = importing(&memory, ENV);
    let err = plan_of(&mut direct).await.unwrap_err().to_string();
    assert!(
        err.contains("belongs to stack `shop` env `production` (its `security_group.front`)"),
        "{err}"
    );
    assert!(memory.mutating().is_empty());

    // One that would have to be replaced: the attribute is named, and the flag lets it
    // through as a replacement.
    let memory = Arc::new(Memory::new());
    memory.build_by_hand(
        Kind::SecurityGroup,
        "sg-0a1b2c",
        by_hand_group("made in the console", &["tcp 80 from 0.0.0.0/0"]),
        None,
    );
    let mut direct = importing(&memory, ENV);
    let err = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`description` cannot change in place"),
        "{err}"
    );
    assert!(err.contains("--allow-replace-import"), "{err}");
    assert!(memory.mutating().is_empty());
    let options = PlanOptions {
        allow_replace_import: true,
        ..PlanOptions::default()
    };
    let plan = plan(
        &mut direct,
        &options,
        Recording::in_ci().as_ref(),
        never_cancelled(),
    )
    .await
    .unwrap()
    .plan;
    assert_eq!(web_of(&plan).action, Action::Replace);
}

#[tokio::test]
async fn an_address_the_stack_holds_already_cannot_import_another_id() {
    let memory = Arc::new(Memory::new());
    let mut direct = importing(&memory, "");
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    memory.build_by_hand(
        Kind::SecurityGroup,
        "sg-0a1b2c",
        by_hand_group("web", &["tcp 80 from 0.0.0.0/0"]),
        None,
    );
    let before = memory.mutating().len();
    let mut direct = importing(&memory, ENV);
    let err = plan_of(&mut direct).await.unwrap_err().to_string();
    assert!(err.contains("it cannot also import `sg-0a1b2c`"), "{err}");
    assert_eq!(memory.mutating().len(), before);
}

#[tokio::test]
async fn destroy_leaves_what_is_not_imported_yet() {
    let memory = Arc::new(Memory::new());
    memory.build_by_hand(
        Kind::SecurityGroup,
        "sg-0a1b2c",
        by_hand_group("web", &["tcp 80 from 0.0.0.0/0"]),
        None,
    );
    let mut direct = importing(&memory, ENV);
    let finish = run(
        &mut direct,
        Operation::Destroy,
        None,
        &go_ahead(),
        Recording::in_ci(),
        never_cancelled(),
    )
    .await
    .unwrap();
    assert!(matches!(finish, Finish::NoChanges));
    assert!(!memory.mutating().iter().any(|c| c.starts_with("destroy")));
}
