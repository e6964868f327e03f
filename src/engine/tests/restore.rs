//! `restore_from_env` (issue 19) against the in-memory provider: the plan names the newest
//! snapshot of that env's database and the create starts from it; no snapshot is refused
//! at plan time with nothing sent; adding it to a running database plans nothing; a saved
//! plan restores from the snapshot it names, and is refused once that snapshot is gone.

use super::*;
use crate::plan::{Action, Restore};

fn restoring_stack() -> String {
    STACK.replace(
        "master_password = \"${secret.pw}\"\n",
        "master_password = \"${secret.pw}\"\nrestore_from_env = \"production\"\n",
    )
}

fn engine_of(memory: &Arc<Memory>, text: &str) -> Direct<Memory> {
    let (stack, graph) = stack(text);
    let lookup = secrets::fixed(pw_set());
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    Direct::new(memory.clone(), stack, graph, scope, lookup)
}

async fn plan_with(
    direct: &mut Direct<Memory>,
    out: Option<std::path::PathBuf>,
) -> Result<Planned, EngineError> {
    let options = PlanOptions {
        out,
        ..PlanOptions::default()
    };
    let console = Recording::in_ci();
    plan(direct, &options, console.as_ref(), never_cancelled()).await
}

fn database_change(plan: &Plan) -> &crate::plan::Change {
    plan.changes
        .iter()
        .find(|c| c.address == a("database.main"))
        .expect("a change of database.main")
}

#[tokio::test]
async fn the_plan_names_the_newest_snapshot_of_that_env_and_the_create_starts_from_it() {
    let memory = Arc::new(Memory::new());
    let db = a("database.main");
    memory.add_snapshot(
        "production",
        &db,
        "t-production-main-old",
        "2026-01-01T00:00:00Z",
    );
    memory.add_snapshot(
        "production",
        &db,
        "t-production-main-new",
        "2026-02-01T00:00:00Z",
    );
    // Newer, but another env's, and another address of that env.
    memory.add_snapshot("staging", &db, "t-staging-main", "2026-03-01T00:00:00Z");
    memory.add_snapshot(
        "production",
        &a("database.other"),
        "t-production-other",
        "2026-03-01T00:00:00Z",
    );
    let mut direct = engine_of(&memory, &restoring_stack());

    let planned = plan_with(&mut direct, None).await.unwrap();
    let change = database_change(&planned.plan);
    assert_eq!(change.action, Action::Create);
    assert_eq!(
        change.restored_from,
        Some(Restore {
            snapshot: "t-production-main-new".into(),
            env: "production".into(),
        })
    );
    assert!(
        crate::render::plan::words(change)
            .ends_with("will be created, restored from t-production-main-new (env production)"),
        "{}",
        crate::render::plan::words(change)
    );
    let comment = crate::render::markdown::render(&planned.plan, "stackwright plan");
    assert!(
        comment.contains("restored from t-production-main-new (env production)"),
        "{comment}"
    );
    let json = serde_json::to_value(&planned.plan).unwrap();
    let restored = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "database.main")
        .unwrap()["restored_from"]
        .clone();
    assert_eq!(
        restored,
        serde_json::json!({"snapshot": "t-production-main-new", "env": "production"})
    );
    assert_eq!(
        memory.mutating(),
        Vec::<String>::new(),
        "a plan sends nothing"
    );

    let finish = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(
        matches!(
            finish,
            Finish::Carried {
                succeeded: true,
                ..
            }
        ),
        "{finish:?}"
    );
    assert_eq!(
        memory.restored_from(&db).as_deref(),
        Some("t-production-main-new")
    );
    // The stack's password, not the other env's.
    assert_eq!(memory.password_of(&db).as_deref(), Some("hunter2-secret"));

    // Once it runs, the setting changes nothing: no snapshot is even looked for.
    let reads = memory
        .log()
        .iter()
        .filter(|c| c.starts_with("snapshots"))
        .count();
    let planned = plan_with(&mut direct, None).await.unwrap();
    assert!(!planned.changes, "{:?}", planned.plan.changes);
    assert_eq!(
        memory
            .log()
            .iter()
            .filter(|c| c.starts_with("snapshots"))
            .count(),
        reads
    );
}

#[tokio::test]
async fn no_snapshot_is_an_error_at_plan_time_naming_the_env_with_nothing_sent() {
    let memory = Arc::new(Memory::new());
    // The env's snapshots are of another address: not this database's.
    memory.add_snapshot(
        "production",
        &a("database.other"),
        "t-production-other",
        "2026-03-01T00:00:00Z",
    );
    let mut direct = engine_of(&memory, &restoring_stack());
    let err = plan_with(&mut direct, None).await.unwrap_err().to_string();
    assert!(err.contains("env `production`"), "{err}");
    assert!(err.contains("`database.main`"), "{err}");
    assert!(err.contains("nothing was sent to AWS"), "{err}");
    let err = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("env `production`"), "{err}");
    assert_eq!(memory.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn adding_restore_from_env_to_a_running_database_plans_nothing() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let created = memory.id_of(&a("database.main"));
    // No snapshot exists at all: irrelevant, since nothing is created.
    let mut restoring = engine_of(&memory, &restoring_stack());
    let planned = plan_with(&mut restoring, None).await.unwrap();
    assert!(!planned.changes, "{:?}", planned.plan.changes);
    let before = memory.mutating();
    let finish = apply(&mut restoring, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(matches!(finish, Finish::NoChanges), "{finish:?}");
    assert_eq!(memory.mutating(), before);
    assert_eq!(memory.id_of(&a("database.main")), created);
}

#[tokio::test]
async fn a_saved_plan_restores_from_its_snapshot_and_is_refused_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.plan");
    let memory = Arc::new(Memory::new());
    let db = a("database.main");
    memory.add_snapshot(
        "production",
        &db,
        "t-production-main-1",
        "2026-01-01T00:00:00Z",
    );
    let mut direct = engine_of(&memory, &restoring_stack());
    plan_with(&mut direct, Some(path.clone())).await.unwrap();
    let saved = crate::planfile::read(&path).unwrap();
    assert_eq!(
        database_change(&saved.plan)
            .restored_from
            .as_ref()
            .map(|r| r.snapshot.as_str()),
        Some("t-production-main-1")
    );

    // Deleted between plan and apply: refused before anything changes.
    memory.delete_snapshot("t-production-main-1");
    let err = apply_saved(&mut direct, &saved)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("snapshot `t-production-main-1` (env `production`) is no longer available"),
        "{err}"
    );
    assert_eq!(memory.mutating(), Vec::<String>::new());

    // A plan edited to restore from another env's snapshot does not follow from the stack.
    let mut edited = saved.clone();
    for c in &mut edited.plan.changes {
        if let Some(r) = &mut c.restored_from {
            r.env = "staging".into();
        }
    }
    let err = apply_saved(&mut direct, &edited)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not follow from the stack"), "{err}");

    // Back, and a newer one besides: the saved plan restores from the one it shows.
    memory.add_snapshot(
        "production",
        &db,
        "t-production-main-1",
        "2026-01-01T00:00:00Z",
    );
    memory.add_snapshot(
        "production",
        &db,
        "t-production-main-2",
        "2026-02-01T00:00:00Z",
    );
    let finish = apply_saved(&mut direct, &saved).await.unwrap();
    assert!(
        matches!(
            finish,
            Finish::Carried {
                succeeded: true,
                ..
            }
        ),
        "{finish:?}"
    );
    assert_eq!(
        memory.restored_from(&db).as_deref(),
        Some("t-production-main-1")
    );
}

#[test]
fn the_cloudformation_engine_refuses_restore_from_env_before_anything_is_sent() {
    let (restoring, _) = stack(&restoring_stack());
    let err = cloudformation::no_clashes(&restoring)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`database.main` sets `restore_from_env`, which the cloudformation engine does not support"),
        "{err}"
    );
    let (plain, _) = stack(STACK);
    assert!(cloudformation::no_clashes(&plain).is_ok());
}

#[tokio::test]
async fn a_restore_a_killed_run_left_without_the_stacks_password_is_warned_of() {
    let memory = Arc::new(Memory::new());
    let db = a("database.main");
    memory.add_snapshot(
        "production",
        &db,
        "t-production-main-1",
        "2026-01-01T00:00:00Z",
    );
    let mut direct = engine_of(&memory, &restoring_stack());
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let planned = plan_with(&mut direct, None).await.unwrap();
    assert_eq!(planned.plan.warnings, Vec::<String>::new());
    // What the AWS provider reads from `stackwright:restoring` when the run was killed
    // between the restore and the ModifyDBInstance that sets the password.
    memory.set_attr(
        &db,
        "restoring",
        crate::provider::Value::text("t-production-main-1"),
    );
    let planned = plan_with(&mut direct, None).await.unwrap();
    assert!(!planned.changes, "not an attribute: no change by itself");
    assert_eq!(
        planned.plan.warnings.len(),
        1,
        "{:?}",
        planned.plan.warnings
    );
    let warning = &planned.plan.warnings[0];
    assert!(
        warning.contains("`database.main` was restored from snapshot `t-production-main-1`"),
        "{warning}"
    );
    assert!(
        warning.contains("`stackwright apply STACK --env test --rotate-secret pw` sets it"),
        "{warning}"
    );
}
