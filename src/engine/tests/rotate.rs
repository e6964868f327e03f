//! `apply --rotate-secret` (issue 13) against the in-memory provider: the password changes
//! in place, no value is shown or stored, and a rotation that cannot be is refused first.

use super::*;

fn rotate(names: &[&str]) -> RunOptions {
    RunOptions {
        rotate: names.iter().map(|n| n.to_string()).collect(),
        ..go_ahead()
    }
}

/// Issue 13: `apply --rotate-secret pw` changes the database's password in place (no
/// replacement, no data loss) with the value set now, and shows, reports and stores
/// neither the old value nor the new.
#[tokio::test]
async fn rotating_a_secret_updates_the_database_in_place_and_prints_no_value() {
    let memory = Arc::new(Memory::new());
    let mut first = engine(&memory, pw_set());
    apply(&mut first, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let db = a("database.main");
    let id = memory.id_of(&db).unwrap();
    assert_eq!(memory.password_of(&db).as_deref(), Some("hunter2-secret"));

    // Without --rotate-secret a new value is invisible: nothing to do.
    let new = BTreeMap::from([("T_PW".to_string(), "correct-horse-rotated".to_string())]);
    let mut again = engine(&memory, new.clone());
    let finish = apply(&mut again, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(matches!(finish, Finish::NoChanges), "{finish:?}");

    let made = memory.mutating().len();
    let console = Recording::in_ci();
    let mut rotating = engine(&memory, new);
    let finish = apply(&mut rotating, &rotate(&["pw"]), console.clone())
        .await
        .unwrap();
    let Finish::Carried {
        plan, succeeded, ..
    } = &finish
    else {
        panic!("{finish:?}")
    };
    assert!(succeeded);
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    assert_eq!(plan.changes[0].action, crate::plan::Action::Update);
    assert_eq!(
        memory.mutating()[made..],
        [
            "lock".to_string(),
            "update database.main".to_string(),
            "unlock".to_string()
        ]
    );
    assert_eq!(memory.id_of(&db), Some(id), "the same database");
    assert_eq!(
        memory.password_of(&db).as_deref(),
        Some("correct-horse-rotated")
    );
    let shown = format!(
        "{:?}\n{}\n{finish:?}",
        console.plans.lock().unwrap(),
        console.said.lock().unwrap().join("\n"),
    );
    for value in ["hunter2-secret", "correct-horse-rotated"] {
        assert!(!shown.contains(value), "{value} in {shown}");
    }
    assert!(shown.contains("rotating: [\"pw\"]"), "{shown}");
}

#[tokio::test]
async fn rotating_an_unknown_or_unused_secret_is_refused_before_any_call() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    let err = apply(&mut direct, &rotate(&["token"]), Recording::in_ci())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("stack `t` has no secret `token`"), "{err}");
    assert!(err.contains("the stack's secrets: `pw`"), "{err}");
    assert_eq!(memory.log(), Vec::<String>::new(), "not even a read");

    let unused = STACK.replace("[secrets]", "[secrets]\nspare = { env = \"T_SPARE\" }");
    let (stack, graph) = stack(&unused);
    let lookup = secrets::fixed(pw_set());
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    let mut direct = Direct::new(memory.clone(), stack, graph, scope, lookup);
    let err = apply(&mut direct, &rotate(&["spare"]), Recording::in_ci())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no resource of stack `t` uses secret `spare`"),
        "{err}"
    );
    assert_eq!(memory.log(), Vec::<String>::new());
}

#[tokio::test]
async fn rotating_with_a_saved_plan_is_refused() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    let (stack, _) = stack(STACK);
    let saved = crate::planfile::SavedPlan {
        plan: Plan {
            format_version: crate::plan::FORMAT_VERSION,
            stack: "t".into(),
            env: stack.env.clone(),
            region: "us-east-1".into(),
            engine: crate::plan::PlannedBy::Direct,
            changes: Vec::new(),
            summary: crate::plan::Summary::default(),
            warnings: Vec::new(),
            expires: None,
        },
        stack,
        change_set: None,
        deep: false,
        source: None,
    };
    let err = run(
        &mut direct,
        Operation::Apply,
        Some(&saved),
        &rotate(&["pw"]),
        Recording::in_ci(),
        never_cancelled(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("not kept in a saved plan"), "{err}");
    assert_eq!(memory.mutating(), Vec::<String>::new());
}
