//! Batched launches (issue 14) against the in-memory provider: the replicas of one block
//! that are ready together go to the provider in one `create_batch` (one RunInstances per
//! launch specification in AWS), at most [`MAX_BATCH`] at a time, in one slot of the
//! parallelism (so do their destroys); an instance a killed run left without its address
//! tag is planned as an update that writes it, and is never launched again.

use std::sync::Arc;

use super::*;
use crate::provider::memory::Memory;
use crate::provider::{Provider, Scope};
use crate::stack::{Stack, load_text};

struct Quiet;

impl Reporter for Quiet {
    fn started(&self, _: &Step) {}
    fn progress(&self, _: &Step, _: &str) {}
    fn finished(&self, _: &Step, _: &Outcome, _: Duration) {}
}

fn fleet(count: usize) -> (Stack, Graph) {
    let text = format!(
        r#"
[stack]
name = "f"
region = "us-east-1"

[security_group.workers]
description = "workers"
ingress = [ {{ protocol = "tcp", ports = "22", cidr = "10.0.0.0/8" }} ]

[instance.worker]
count = {count}
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["workers"]
availability_zones = ["us-east-1a", "us-east-1b"]
"#
    );
    let loaded = load_text(&text, "").unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).unwrap();
    (loaded.stack, graph)
}

fn scope(stack: &Stack) -> Scope {
    Scope {
        stack: stack.name.clone(),
        env: stack.env.clone(),
        ..Scope::default()
    }
}

/// Plan against the memory provider and apply it, `parallelism` steps at once.
async fn apply(memory: &Arc<Memory>, stack: &Stack, graph: &Graph, parallelism: usize) -> Plan {
    let live = memory.refresh(&scope(stack)).await.unwrap();
    let plan = crate::plan::plan(stack, graph, &live);
    let job = Job {
        stack: stack.clone(),
        plan: plan.clone(),
        live,
        secrets: BTreeMap::new(),
        run: "run-1".into(),
        parallelism,
        expires_at: None,
    };
    let (_tx, cancel) = watch::channel(false);
    let applied = execute(
        memory.clone(),
        scope(stack),
        job,
        graph,
        Arc::new(Quiet),
        cancel,
    )
    .await;
    assert!(applied.report.succeeded(), "{:?}", applied.report);
    plan
}

async fn replan(memory: &Arc<Memory>, stack: &Stack, graph: &Graph) -> Plan {
    let live = memory.refresh(&scope(stack)).await.unwrap();
    crate::plan::plan(stack, graph, &live)
}

#[tokio::test]
async fn the_replicas_of_a_block_are_created_together_in_one_slot() {
    let (stack, graph) = fleet(12);
    let memory = Arc::new(Memory::new());
    // Parallelism 1: the twelve would take twelve turns one by one.
    apply(&memory, &stack, &graph, 1).await;
    let launches = memory.launches();
    assert_eq!(launches.len(), 1, "{launches:?}");
    let mut launched: Vec<String> = launches[0].iter().map(ToString::to_string).collect();
    launched.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("instance.worker[{i}]")).collect();
    want.sort();
    assert_eq!(launched, want);
    let again = replan(&memory, &stack, &graph).await;
    assert!(!again.has_changes(), "{again:#?}");
}

#[tokio::test]
async fn a_large_fleet_goes_out_in_batches_of_at_most_max_batch() {
    let (stack, graph) = fleet(250);
    let memory = Arc::new(Memory::new());
    apply(&memory, &stack, &graph, 10).await;
    let sizes: Vec<usize> = memory.launches().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![MAX_BATCH, MAX_BATCH, 50]);
    assert_eq!(memory.addresses().len(), 251);
}

#[tokio::test]
async fn a_replica_left_without_its_address_tag_is_tagged_not_launched_again() {
    let (stack, graph) = fleet(4);
    let memory = Arc::new(Memory::new());
    apply(&memory, &stack, &graph, 10).await;
    let stray: Address = "instance.worker[2]".parse().unwrap();
    let id = memory.id_of(&stray).unwrap();
    memory.drop_address_tag(&stray);
    let before = memory.log().len();

    let plan = replan(&memory, &stack, &graph).await;
    assert_eq!(plan.changes.len(), 1, "{plan:#?}");
    let change = &plan.changes[0];
    assert_eq!(
        (&change.address, change.action, change.id.as_deref()),
        (&stray, Action::Update, Some(id.as_str()))
    );
    let names: Vec<&str> = change.attrs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec![crate::plan::ADDRESS_TAG]);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains(&id) && w.contains("tags it")),
        "{:?}",
        plan.warnings
    );

    apply(&memory, &stack, &graph, 10).await;
    let calls: Vec<String> = memory.log()[before..]
        .iter()
        .filter(|c| c.as_str() != "refresh")
        .cloned()
        .collect();
    assert_eq!(calls, vec![format!("update {stray}")]);
    assert_eq!(memory.id_of(&stray), Some(id));
    let again = replan(&memory, &stack, &graph).await;
    assert!(!again.has_changes(), "{again:#?}");
}

#[tokio::test]
async fn steps_of_one_batch_ready_together_run_as_one_in_one_slot() {
    let step = |s: &str, action| Step {
        address: s.parse().unwrap(),
        action,
    };
    let mut schedule = Schedule::default();
    for i in 0..5 {
        schedule
            .steps
            .push(step(&format!("instance.w[{i}]"), Action::Destroy));
        schedule.batches.insert(
            format!("instance.w[{i}]").parse().unwrap(),
            "destroy w".into(),
        );
    }
    schedule.steps.push(step("instance.solo", Action::Destroy));
    let groups = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = groups.clone();
    let perform = move |steps: Vec<Step>| {
        seen.lock().unwrap().push(steps.len());
        let n = steps.len();
        async move { (0..n).map(|_| Ok(())).collect() }
    };
    let (_tx, cancel) = watch::channel(false);
    let report = walk_batched(&schedule, 1, Arc::new(Quiet), cancel, perform).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.done.len(), 6);
    assert_eq!(*groups.lock().unwrap(), vec![5, 1]);
}

#[tokio::test]
async fn a_surplus_batch_member_is_said_by_the_plan_and_terminated_by_the_next_apply() {
    let (stack, graph) = fleet(2);
    let memory = Arc::new(Memory::new());
    apply(&memory, &stack, &graph, 10).await;
    let held: Address = "instance.worker[1]".parse().unwrap();
    memory.add_surplus(&held, "instance-9999");
    let plan = replan(&memory, &stack, &graph).await;
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("instance-9999") && w.contains("terminates")),
        "{:?}",
        plan.warnings
    );
    // An apply that has something to do (a third replica) terminates it on the way.
    let (bigger, bigger_graph) = fleet(3);
    apply(&memory, &bigger, &bigger_graph, 10).await;
    assert!(memory.surplus().is_empty(), "{:?}", memory.surplus());
    assert!(memory.id_of(&held).is_some(), "the holder stays");
    let again = replan(&memory, &bigger, &bigger_graph).await;
    assert!(
        !again.has_changes() && again.warnings.is_empty(),
        "{again:#?}"
    );
}
