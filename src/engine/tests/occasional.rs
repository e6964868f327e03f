//! Occasional stacks (issue 19): every apply tags every resource with its expiry, a plan
//! of a converged env is still `No changes`, applying again extends the expiry, and an
//! env that drops `expires` has the tag removed; a teardown by tags alone (a stack with
//! no resources, as `destroy --stack` makes) is refused by a `prevent_destroy` it only
//! knows from AWS.

use std::time::{Duration, SystemTime};

use super::*;
use crate::provider::{Provider, Scope};

fn engine_with_env(memory: &Arc<Memory>, env: &str) -> (Direct<Memory>, Scope) {
    let loaded = load_text(STACK, env).unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).unwrap();
    let lookup = secrets::fixed(pw_set());
    let scope = secrets::scope(&loaded.stack, false, &lookup).unwrap();
    let direct = Direct::new(memory.clone(), loaded.stack, graph, scope.clone(), lookup);
    (direct, scope)
}

async fn expiries(memory: &Arc<Memory>, scope: &Scope) -> Vec<Option<String>> {
    let live = memory.refresh(scope).await.unwrap();
    live.resources.values().map(|r| r.expires.clone()).collect()
}

async fn plan_of(direct: &mut Direct<Memory>) -> Planned {
    let console = Recording::in_ci();
    plan(
        direct,
        &PlanOptions::default(),
        console.as_ref(),
        never_cancelled(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn apply_tags_every_resource_with_its_expiry_and_a_plan_stays_clean() {
    let memory = Arc::new(Memory::new());
    let (mut direct, scope) = engine_with_env(&memory, "expires = \"72h\"\n");
    let before = SystemTime::now();
    let finish = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(matches!(
        finish,
        Finish::Carried {
            succeeded: true,
            ..
        }
    ));
    let tagged = expiries(&memory, &scope).await;
    assert_eq!(tagged.len(), 3);
    let first = tagged[0].clone().expect("every resource carries the tag");
    assert!(tagged.iter().all(|t| t.as_deref() == Some(first.as_str())));
    let at = humantime::parse_rfc3339(&first).unwrap();
    let expected = before + Duration::from_secs(72 * 3600);
    assert!(
        at + Duration::from_secs(1) >= expected && at <= expected + Duration::from_secs(60),
        "{first}"
    );

    // The tag is not an attribute: a plan of the converged env has no changes, and says
    // when it expires.
    let planned = plan_of(&mut direct).await;
    assert!(!planned.changes);
    assert_eq!(
        planned.plan.expires,
        Some(crate::plan::Expiry {
            after_secs: Some(72 * 3600),
            current: Some(first.clone()),
        })
    );

    // Applying again with nothing else to change still renews it: one batched call.
    let mutating_before = memory.mutating().len();
    let finish = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(matches!(
        finish,
        Finish::Carried {
            succeeded: true,
            ..
        }
    ));
    let new: Vec<String> = memory.mutating()[mutating_before..].to_vec();
    assert!(
        new.iter().filter(|c| c.starts_with("expire ")).count() == 1
            && !new
                .iter()
                .any(|c| c.starts_with("create") || c.starts_with("update")),
        "{new:?}"
    );
}

#[tokio::test]
async fn an_env_that_drops_expires_has_the_tag_removed() {
    let memory = Arc::new(Memory::new());
    let (mut direct, scope) = engine_with_env(&memory, "expires = \"10m\"\n");
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(expiries(&memory, &scope).await.iter().all(Option::is_some));

    let (mut direct, scope) = engine_with_env(&memory, "");
    let planned = plan_of(&mut direct).await;
    assert!(!planned.changes);
    let expiry = planned.plan.expires.expect("the tag is still there");
    assert_eq!(expiry.after_secs, None);
    assert!(expiry.current.is_some());
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(expiries(&memory, &scope).await.iter().all(Option::is_none));
    // Nothing left to say: the plan has no expiry, and an apply has nothing to do.
    assert_eq!(plan_of(&mut direct).await.plan.expires, None);
    let finish = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert!(matches!(finish, Finish::NoChanges));
}

#[tokio::test]
async fn a_plan_of_an_env_that_never_expired_has_no_expiry() {
    let memory = Arc::new(Memory::new());
    let (mut direct, _) = engine_with_env(&memory, "");
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    assert_eq!(plan_of(&mut direct).await.plan.expires, None);
}

#[tokio::test]
async fn a_teardown_by_tags_alone_is_refused_by_prevent_destroy_before_any_change() {
    let memory = Arc::new(Memory::new());
    let kept = STACK.replace(
        "description = \"web\"\n",
        "description = \"web\"\nprevent_destroy = true\n",
    );
    let loaded = load_text(&kept, "").unwrap();
    let lookup = secrets::fixed(pw_set());
    let scope = secrets::scope(&loaded.stack, false, &lookup).unwrap();
    let graph = Graph::build(&loaded.stack).unwrap();
    let mut direct = Direct::new(memory.clone(), loaded.stack.clone(), graph, scope, lookup);
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let before = memory.mutating();

    // What `destroy --stack t --env test` builds: the name, env and region, nothing else.
    let (nothing, graph) =
        super::super::tags::nothing_of(&loaded.stack.name, &loaded.stack.env, Some("us-east-1"))
            .unwrap();
    let lookup = secrets::fixed(BTreeMap::new());
    let scope = secrets::scope(&nothing, false, &lookup).unwrap();
    let mut by_tags = Direct::new(memory.clone(), nothing, graph, scope, lookup);
    let options = RunOptions {
        allow_data_loss: true,
        ..go_ahead()
    };
    let err = run(
        &mut by_tags,
        Operation::Destroy,
        None,
        &options,
        Recording::in_ci(),
        never_cancelled(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("prevent_destroy"), "{err}");
    assert_eq!(memory.mutating(), before, "nothing changed, no lock taken");
    assert!(super::super::tags::nothing_of("Bad Name", "test", None).is_err());
}
