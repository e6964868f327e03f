//! The runner and the direct engine against the in-memory provider: every refusal comes
//! before any call that changes anything (the lock included), the gates before the
//! question, the lock is released whatever happens, a failed step skips its dependents,
//! and a saved plan is applied exactly or refused.
//!
//! The CloudFormation engine runs through the same [`run`] and [`plan`]; it needs
//! CloudFormation, so it is tested against the emulator (tests/testsuite/cloudformation.rs).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::*;
use crate::apply::{Outcome, Reporter, Step};
use crate::provider::Holder;
use crate::provider::memory::Memory;
use crate::stack::{Address, load_text};

/// A console that records what it was told and asked, and answers as set.
#[derive(Default)]
struct Recording {
    interactive: bool,
    answer: bool,
    plans: Mutex<Vec<Plan>>,
    asked: Mutex<Vec<String>>,
    said: Mutex<Vec<String>>,
}

impl Recording {
    fn at_terminal(answer: bool) -> Arc<Recording> {
        Arc::new(Recording {
            interactive: true,
            answer,
            ..Recording::default()
        })
    }

    fn in_ci() -> Arc<Recording> {
        Arc::new(Recording::default())
    }

    fn plans_shown(&self) -> usize {
        self.plans.lock().unwrap().len()
    }

    fn questions(&self) -> usize {
        self.asked.lock().unwrap().len()
    }
}

impl Console for Recording {
    fn plan(&self, plan: &Plan) {
        self.plans.lock().unwrap().push(plan.clone());
    }
    fn warning(&self, message: &str) {
        self.said
            .lock()
            .unwrap()
            .push(format!("warning: {message}"));
    }
    fn notice(&self, message: &str) {
        self.said.lock().unwrap().push(message.to_string());
    }
    fn interactive(&self) -> bool {
        self.interactive
    }
    fn ask(&self, question: &str) -> std::io::Result<bool> {
        self.asked.lock().unwrap().push(question.to_string());
        Ok(self.answer)
    }
    fn reporter(&self) -> Arc<dyn Reporter> {
        Arc::new(Quiet)
    }
}

struct Quiet;

impl Reporter for Quiet {
    fn started(&self, _: &Step) {}
    fn progress(&self, _: &Step, _: &str) {}
    fn finished(&self, _: &Step, _: &Outcome, _: Duration) {}
}

/// SSH open to the world (security-sensitive), an instance in the group, and a database
/// whose password is a secret.
const STACK: &str = r#"
[stack]
name = "t"
region = "us-east-1"

[secrets]
pw = { env = "T_PW" }

[security_group.web]
description = "web"
ingress = [ { protocol = "tcp", ports = "22", cidr = "0.0.0.0/0" } ]

[instance.app]
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]

[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${secret.pw}"
"#;

fn pw_set() -> BTreeMap<String, String> {
    BTreeMap::from([("T_PW".to_string(), "hunter2-secret".to_string())])
}

fn stack(text: &str) -> (Stack, Graph) {
    let loaded = load_text(text, "").unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).unwrap();
    (loaded.stack, graph)
}

fn engine(memory: &Arc<Memory>, vars: BTreeMap<String, String>) -> Direct<Memory> {
    let (stack, graph) = stack(STACK);
    let lookup = secrets::fixed(vars);
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    Direct::new(memory.clone(), stack, graph, scope, lookup)
}

fn go_ahead() -> RunOptions {
    RunOptions {
        yes: true,
        allow_open: true,
        ..RunOptions::default()
    }
}

fn never_cancelled() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

async fn apply(
    engine: &mut Direct<Memory>,
    options: &RunOptions,
    console: Arc<Recording>,
) -> Result<Finish, EngineError> {
    run(
        engine,
        Operation::Apply,
        None,
        options,
        console,
        never_cancelled(),
    )
    .await
}

async fn apply_saved(
    engine: &mut Direct<Memory>,
    saved: &crate::planfile::SavedPlan,
) -> Result<Finish, EngineError> {
    run(
        engine,
        Operation::Apply,
        Some(saved),
        &go_ahead(),
        Recording::in_ci(),
        never_cancelled(),
    )
    .await
}

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

// Regression (issue 11): `apply` without `--yes` and without a terminal took the lock (a
// security group, created and deleted) before it refused.
#[tokio::test]
async fn no_terminal_and_no_yes_refuses_before_anything_is_changed() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    let options = RunOptions {
        allow_open: true,
        ..RunOptions::default()
    };
    let console = Recording::in_ci();
    let err = apply(&mut direct, &options, console.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::NoTerminal { verb: "apply" }),
        "{err}"
    );
    assert!(err.to_string().contains("hint: pass --yes"), "{err}");
    assert_eq!(memory.mutating(), Vec::<String>::new());
    assert_eq!(
        console.plans_shown(),
        1,
        "the plan is shown before refusing"
    );
}

#[tokio::test]
async fn the_gates_refuse_before_the_question_and_before_the_lock() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    // At a terminal: opening access would be asked about, but the plan also replaces
    // nothing and loses nothing, so only --allow-open matters without a terminal.
    let console = Recording::in_ci();
    let options = RunOptions {
        yes: true,
        ..RunOptions::default()
    };
    let err = apply(&mut direct, &options, console.clone())
        .await
        .unwrap_err();
    let EngineError::Refused { reasons, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        reasons.iter().any(|r| r.contains("pass --allow-open")),
        "{reasons:?}"
    );
    assert_eq!(memory.mutating(), Vec::<String>::new());

    // Destroying the database needs --allow-data-loss even at a terminal, and the gate
    // answers before the question is asked.
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let before = memory.mutating().len();
    let console = Recording::at_terminal(true);
    let err = run(
        &mut direct,
        Operation::Destroy,
        None,
        &RunOptions::default(),
        console.clone(),
        never_cancelled(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("pass --allow-data-loss"), "{err}");
    assert_eq!(console.questions(), 0, "refused before asking");
    assert_eq!(memory.mutating().len(), before, "{:?}", memory.mutating());
}

#[tokio::test]
async fn a_lock_held_by_another_run_refuses_before_planning() {
    let memory = Arc::new(Memory::new());
    let mut other = Holder::me("another-run");
    other.who = "someone@elsewhere".into();
    memory.hold_lock(other);
    let mut direct = engine(&memory, pw_set());
    let err = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("locked by someone@elsewhere"),
        "{err}"
    );
    assert!(
        err.to_string().contains("stackwright unlock STACK"),
        "{err}"
    );
    // One read, nothing else: not even a refresh.
    assert_eq!(memory.log(), vec!["holder".to_string()]);
    assert!(memory.locked(), "someone else's lock is left alone");
}

#[tokio::test]
async fn the_lock_is_taken_after_consent_and_released_on_success() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    let finish = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let Finish::Carried {
        succeeded, report, ..
    } = finish
    else {
        panic!("{finish:?}")
    };
    assert!(succeeded, "{report:?}");
    assert_eq!(report.done.len(), 3);
    let log = memory.log();
    let lock = log.iter().position(|c| c == "lock").unwrap();
    assert!(
        log[..lock].iter().all(|c| c == "holder" || c == "refresh"),
        "only reads before the lock: {log:?}"
    );
    assert_eq!(
        log[lock + 1],
        "refresh",
        "the plan is checked again under the lock"
    );
    assert_eq!(log.last().map(String::as_str), Some("unlock"));
    assert!(!memory.locked());
    // Applied: the next proposal has nothing to do.
    let again = direct
        .propose(Intent::Plan, never_cancelled())
        .await
        .unwrap();
    assert!(!again.plan.has_changes(), "{:?}", again.plan.changes);
}

#[tokio::test]
async fn a_failed_step_skips_its_dependents_and_the_lock_is_still_released() {
    let memory = Arc::new(Memory::new());
    memory.fail_create(&a("security_group.web"));
    let mut direct = engine(&memory, pw_set());
    let finish = apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let Finish::Carried {
        succeeded, report, ..
    } = finish
    else {
        panic!("{finish:?}")
    };
    assert!(!succeeded);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .any(|(s, _)| s.address == a("instance.app")),
        "the instance waits on its group: {report:?}"
    );
    assert!(!memory.locked());
    assert_eq!(memory.log().last().map(String::as_str), Some("unlock"));
    assert!(!memory.addresses().contains(&a("instance.app")));
}

#[tokio::test]
async fn a_missing_secret_is_reported_before_the_plan_is_shown() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, BTreeMap::new());
    let console = Recording::in_ci();
    let err = apply(&mut direct, &go_ahead(), console.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::SecretNotSet { name, var } if name == "pw" && var == "T_PW"),
        "{err}"
    );
    assert_eq!(console.plans_shown(), 0);
    assert_eq!(memory.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn a_no_at_the_question_changes_nothing() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    let console = Recording::at_terminal(false);
    let finish = apply(&mut direct, &RunOptions::default(), console.clone())
        .await
        .unwrap();
    assert!(matches!(finish, Finish::Declined), "{finish:?}");
    assert_eq!(console.questions(), 1);
    let question = console.asked.lock().unwrap()[0].clone();
    assert!(
        question.contains("Do you want to apply stack `t`"),
        "{question}"
    );
    assert_eq!(memory.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn a_saved_plan_round_trips_and_is_applied_exactly_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.plan");
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    let options = PlanOptions {
        deep: false,
        out: Some(path.clone()),
        source: None,
        allow_replace_import: false,
    };
    let console = Recording::in_ci();
    let planned = plan(&mut direct, &options, console.as_ref(), never_cancelled())
        .await
        .unwrap();
    assert!(planned.changes);
    let saved = crate::planfile::read(&path).unwrap();
    assert_eq!(saved.plan, planned.plan);
    assert_eq!(
        memory.mutating(),
        Vec::<String>::new(),
        "plan changes nothing"
    );

    // An edited plan: the data-loss and security marks taken out of it.
    let mut edited = saved.clone();
    for change in &mut edited.plan.changes {
        change.marks.clear();
    }
    let err = apply_saved(&mut direct, &edited).await.unwrap_err();
    assert!(
        err.to_string().contains("does not follow from the stack"),
        "{err}"
    );
    // An edited stack: the instance type changed in the file, the plan left as it was.
    let mut edited = saved.clone();
    let app = edited.stack.resources.get_mut(&a("instance.app")).unwrap();
    if let crate::stack::Spec::Instance(i) = &mut app.spec {
        i.instance_type = "m5.24xlarge".into();
    }
    let mut tampered = Direct::new(
        memory.clone(),
        edited.stack.clone(),
        Graph::build(&edited.stack).unwrap(),
        secrets::scope(&edited.stack, false, &secrets::fixed(pw_set())).unwrap(),
        secrets::fixed(pw_set()),
    );
    let err = apply_saved(&mut tampered, &edited).await.unwrap_err();
    assert!(
        err.to_string().contains("does not follow from the stack"),
        "{err}"
    );
    assert_eq!(memory.mutating(), Vec::<String>::new());

    // The plan as saved applies.
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

    // Once applied, the same plan is stale: what it creates exists.
    let err = apply_saved(&mut direct, &saved).await.unwrap_err();
    assert!(matches!(err, EngineError::Moved { .. }), "{err}");
}

#[tokio::test]
async fn a_plan_that_moved_while_it_was_confirmed_is_refused_under_the_lock() {
    let memory = Arc::new(Memory::new());
    let mut direct = engine(&memory, pw_set());
    apply(&mut direct, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    // The stack changes the instance type; between the plan and the lock, someone else
    // changes the instance too.
    let (changed, graph) = stack(&STACK.replace("t3.micro", "t3.small"));
    let lookup = secrets::fixed(pw_set());
    let scope = secrets::scope(&changed, false, &lookup).unwrap();
    let mut direct = Direct::new(memory.clone(), changed, graph, scope, lookup);
    let proposal = direct
        .propose(Intent::Apply, never_cancelled())
        .await
        .unwrap();
    assert!(proposal.plan.has_changes());
    memory.set_attr(
        &a("instance.app"),
        "instance_type",
        crate::provider::Value::text("c5.large"),
    );
    let console: Arc<dyn Console> = Recording::in_ci();
    let err = direct
        .carry_out(
            proposal,
            Operation::Apply,
            &go_ahead(),
            console,
            never_cancelled(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Moved { .. }), "{err}");
    assert!(!memory.locked(), "released after refusing");
    assert!(!memory.log().iter().any(|c| c.starts_with("update")));
}

#[tokio::test]
async fn a_plan_made_by_another_run_while_waiting_for_the_lock_is_nothing_left_to_do() {
    let memory = Arc::new(Memory::new());
    let mut waiting = engine(&memory, pw_set());
    let proposal = waiting
        .propose(Intent::Apply, never_cancelled())
        .await
        .unwrap();
    // Another run applies the same stack first.
    apply(
        &mut engine(&memory, pw_set()),
        &go_ahead(),
        Recording::in_ci(),
    )
    .await
    .unwrap();
    let made = memory.mutating().len();
    let console = Recording::in_ci();
    let finish = waiting
        .carry_out(
            proposal,
            Operation::Apply,
            &go_ahead(),
            console.clone(),
            never_cancelled(),
        )
        .await
        .unwrap();
    assert!(matches!(finish, Finish::NoChanges), "{finish:?}");
    let said = console.said.lock().unwrap().join("\n");
    assert!(said.contains("Nothing left to do"), "{said}");
    // Only the lock was taken and released: nothing created twice.
    assert_eq!(
        memory.mutating()[made..],
        ["lock".to_string(), "unlock".to_string()]
    );
}

/// Issue 13: a saved plan is a promise. Its stack is read again from the directory it
/// names; an edit to the stack in the file (here: a secret read from another variable,
/// which would send that variable's value to AWS) is refused.
#[test]
fn a_saved_plan_whose_stack_was_edited_is_refused_against_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.toml"), STACK).unwrap();
    let loaded = crate::stack::load(dir.path(), None).unwrap();
    let mut saved = crate::planfile::SavedPlan {
        plan: Plan {
            format_version: crate::plan::FORMAT_VERSION,
            stack: "t".into(),
            env: loaded.stack.env.clone(),
            region: "us-east-1".into(),
            engine: crate::plan::PlannedBy::Direct,
            changes: Vec::new(),
            summary: crate::plan::Summary::default(),
            warnings: Vec::new(),
            expires: None,
        },
        stack: loaded.stack,
        change_set: None,
        deep: false,
        source: Some(crate::planfile::Source {
            dir: dir.path().to_path_buf(),
            env: None,
        }),
    };
    let checked = reload(&saved).unwrap();
    assert_eq!(checked.loaded.stack, saved.stack);

    saved
        .stack
        .secrets
        .insert("pw".into(), "AWS_SECRET_ACCESS_KEY".into());
    let err = reload(&saved).unwrap_err().to_string();
    assert!(err.contains("is not the stack in"), "{err}");

    saved.source = None;
    let err = reload(&saved).unwrap_err().to_string();
    assert!(err.contains("does not say where its stack is"), "{err}");
}

/// Three replicas behind a balancer; `{ami}` is filled in.
const BEHIND: &str = r#"
[stack]
name = "t"
region = "us-east-1"

[load_balancer.web]
availability_zones = ["us-east-1a"]
listeners = [ { port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" } ]
instances = ["app"]

[instance.app]
count = 3
ami = "{ami}"
instance_type = "t3.micro"
"#;

fn behind(memory: &Arc<Memory>, ami: &str) -> Direct<Memory> {
    let (stack, graph) = stack(&BEHIND.replace("{ami}", ami));
    let lookup = secrets::fixed(BTreeMap::new());
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    Direct::new(memory.clone(), stack, graph, scope, lookup)
}

/// The calls that touch replicas or membership, after the first apply.
fn roll_calls(memory: &Memory, from: usize) -> Vec<String> {
    memory.log()[from..]
        .iter()
        .filter(|c| !matches!(c.as_str(), "refresh" | "lock" | "unlock" | "holder"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn replacing_balancer_members_rolls_them_one_at_a_time() {
    let memory = Arc::new(Memory::new());
    let mut first = behind(&memory, "ami-11111111");
    apply(&mut first, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let old: Vec<String> = (0..3)
        .map(|i| memory.id_of(&a(&format!("instance.app[{i}]"))).unwrap())
        .collect();
    let from = memory.log().len();

    let mut second = behind(&memory, "ami-22222222");
    let console = Recording::in_ci();
    let finish = apply(&mut second, &go_ahead(), console.clone())
        .await
        .unwrap();
    let Finish::Carried { succeeded, .. } = finish else {
        panic!("{finish:?}")
    };
    assert!(succeeded);
    let plan = &console.plans.lock().unwrap()[0];
    let rolling = plan.changes[0].rolling.as_ref().expect("rolled");
    assert_eq!(
        (rolling.batch, rolling.balancers.clone()),
        (1, vec![a("load_balancer.web")])
    );

    let mut expected = Vec::new();
    for (i, old) in old.iter().enumerate() {
        let new = memory.id_of(&a(&format!("instance.app[{i}]"))).unwrap();
        assert_ne!(&new, old);
        expected.extend([
            format!("retire {old}"),
            format!("create instance.app[{i}]"),
            format!("register load_balancer.web {new}"),
            "health load_balancer.web".to_string(),
            format!("deregister load_balancer.web {old}"),
            format!("destroy instance.app[{i}]"),
        ]);
    }
    // One replica at a time, each new one serving before its old one leaves.
    assert_eq!(roll_calls(&memory, from), expected);
}

#[tokio::test]
async fn a_member_that_never_turns_healthy_is_backed_out_and_the_old_one_kept() {
    let memory = Arc::new(Memory::new());
    let mut first = behind(&memory, "ami-11111111");
    apply(&mut first, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let old = memory.id_of(&a("instance.app[0]")).unwrap();
    memory.never_healthy();

    let stack_text = BEHIND.replace("{ami}", "ami-22222222").replace(
        "instance_type = \"t3.micro\"",
        "instance_type = \"t3.micro\"\nrolling = { batch = 1, health_timeout = \"1s\" }",
    );
    let (stack, graph) = stack(&stack_text);
    let lookup = secrets::fixed(BTreeMap::new());
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    let mut second = Direct::new(memory.clone(), stack, graph, scope, lookup);
    let finish = apply(&mut second, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let Finish::Carried {
        succeeded, report, ..
    } = finish
    else {
        panic!("{finish:?}")
    };
    assert!(!succeeded);
    let (step, message) = &report.failed[0];
    assert_eq!(step.address, a("instance.app[0]"));
    assert!(message.contains("was not InService within 1s"), "{message}");
    assert!(message.contains("OutOfService"), "{message}");
    assert!(
        message.contains(&format!("`{old}` keeps serving")),
        "{message}"
    );
    // The rest wait for it: skipped, their old instances untouched.
    assert_eq!(report.skipped.len(), 2, "{report:?}");
    assert_eq!(memory.id_of(&a("instance.app[0]")), Some(old.clone()));
    assert!(memory.members(&a("load_balancer.web")).is_empty());
    let log = memory.log();
    assert!(log.contains(&format!("unretire {old}")), "{log:?}");
    assert!(
        !log.iter()
            .any(|c| c.starts_with("deregister") && c.contains(&old)),
        "{log:?}"
    );
}

/// An instance no balancer serves, named by a record; `{ami}` is filled in.
const NAMED: &str = r#"
[stack]
name = "t"
region = "us-east-1"

[instance.master]
ami = "{ami}"
instance_type = "t3.micro"

[dns_record.cluster]
zone = "example.com"
name = "cluster.example.com"
type = "CNAME"
ttl = 300
records = ["${instance.master.public_dns}"]
"#;

fn named(memory: &Arc<Memory>, ami: &str) -> Direct<Memory> {
    let (stack, graph) = stack(&NAMED.replace("{ami}", ami));
    let lookup = secrets::fixed(BTreeMap::new());
    let scope = secrets::scope(&stack, false, &lookup).unwrap();
    Direct::new(memory.clone(), stack, graph, scope, lookup)
}

/// Issue 12: replacing an instance a record names creates the new one first, switches
/// the record to it, then terminates the old one; the plan says so, and the record's own
/// step finds it switched.
#[tokio::test]
async fn replacing_an_instance_a_record_names_switches_the_record_before_the_old_one_goes() {
    let memory = Arc::new(Memory::new());
    let mut first = named(&memory, "ami-11111111");
    apply(&mut first, &go_ahead(), Recording::in_ci())
        .await
        .unwrap();
    let old = memory.id_of(&a("instance.master")).unwrap();
    let from = memory.log().len();

    let mut second = named(&memory, "ami-22222222");
    let console = Recording::in_ci();
    let finish = apply(&mut second, &go_ahead(), console.clone())
        .await
        .unwrap();
    let Finish::Carried { succeeded, .. } = finish else {
        panic!("{finish:?}")
    };
    assert!(succeeded);
    let plan = &console.plans.lock().unwrap()[0];
    let master = plan
        .changes
        .iter()
        .find(|c| c.address == a("instance.master"))
        .unwrap();
    assert_eq!(master.action, crate::plan::Action::Replace);
    assert!(master.rolling.is_none());
    assert_eq!(master.dns_switch, vec![a("dns_record.cluster")]);
    let text = crate::render::plan::render(plan, false);
    assert!(
        text.contains(
            "(new one first, then dns_record.cluster switched to it, then the old one terminated)"
        ),
        "{text}"
    );

    let new = memory.id_of(&a("instance.master")).unwrap();
    assert_ne!(new, old);
    assert_eq!(
        roll_calls(&memory, from),
        [
            format!("retire {old}"),
            "create instance.master".to_string(),
            "update dns_record.cluster".to_string(),
            "destroy instance.master".to_string(),
        ]
    );
    assert_eq!(
        memory.attr_of(&a("dns_record.cluster"), "records"),
        Some(crate::provider::Value::list([format!(
            "{new}.compute.example"
        )]))
    );
}

mod imports;

mod moves;
mod occasional;
mod restore;
mod rotate;
