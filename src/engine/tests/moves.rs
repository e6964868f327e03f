//! Issue 15: `[moved]` against the in-memory provider. Renaming a counted block plans one
//! move per replica, and apply rewrites the address without creating, replacing or
//! destroying anything: the replicas keep their ids.

use super::*;
use crate::plan::Action;

const BEFORE: &str = r#"
[stack]
name = "t"
region = "us-east-1"

[security_group.web]
description = "web"

[instance.app]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
"#;

fn direct(memory: &Arc<Memory>, text: &str) -> Direct<Memory> {
    let (stack, graph) = stack(text);
    let lookup = secrets::fixed(BTreeMap::new());
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    Direct::new(memory.clone(), stack, graph, scope, lookup)
}

#[tokio::test]
async fn renaming_a_counted_block_moves_every_replica_and_keeps_its_ids() {
    let memory = Arc::new(Memory::new());
    apply(
        &mut direct(&memory, BEFORE),
        &go_ahead(),
        Recording::in_ci(),
    )
    .await
    .unwrap();
    let ids: Vec<Option<String>> = (0..2)
        .map(|i| memory.id_of(&a(&format!("instance.app[{i}]"))))
        .collect();

    let after = BEFORE.replace("[instance.app]", "[instance.web]")
        + "\n[moved]\n\"instance.app\" = \"instance.web\"\n";
    let mut renamed = direct(&memory, &after);
    let options = PlanOptions::default();
    let planned = plan(
        &mut renamed,
        &options,
        Recording::in_ci().as_ref(),
        never_cancelled(),
    )
    .await
    .unwrap()
    .plan;
    let text = crate::render::plan::render(&planned, false);
    assert!(
        text.contains(" mv instance.app[0] -> instance.web[0]  will be moved ["),
        "{text}"
    );
    assert!(text.contains(" mv instance.app[1] -> instance.web[1]  will be moved ["));
    // The `Name` tag follows the block's name (the default physical name): the only
    // attribute that changes, in place.
    assert!(
        text.contains("          + Name=t-test-web-0\n          - Name=t-test-app-0\n"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to destroy, 2 to move."),
        "{text}"
    );
    assert!(planned.changes.iter().all(|c| c.action == Action::Move));

    let before = memory.mutating().len();
    apply(&mut renamed, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let calls: Vec<String> = memory.mutating()[before..].to_vec();
    assert!(
        calls.iter().all(|c| [
            "lock",
            "unlock",
            "update instance.web[0]",
            "update instance.web[1]"
        ]
        .contains(&c.as_str())),
        "{calls:?}"
    );
    let now: Vec<Option<String>> = (0..2)
        .map(|i| memory.id_of(&a(&format!("instance.web[{i}]"))))
        .collect();
    assert_eq!(now, ids);
    assert_eq!(memory.id_of(&a("instance.app[0]")), None);

    // Moved: the entry stays and plans nothing.
    let mut again = direct(&memory, &after);
    let clean = plan(
        &mut again,
        &options,
        Recording::in_ci().as_ref(),
        never_cancelled(),
    )
    .await
    .unwrap()
    .plan;
    assert!(clean.changes.is_empty(), "{:?}", clean.changes);
}
