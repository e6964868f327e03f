//! Change sets as plans, templates as views, stack events as reports (issue 5).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::apply::{Outcome, Reporter, Step};
use crate::cloudformation::template;
use crate::engine::gates::{Consent, refusals};
use crate::graph::Graph;
use crate::plan::{Action, Mark, Plan, attrs};
use crate::provider::Value;
use crate::stack::{Address, Stack, load_text};

const STACK: &str = r#"
    [stack]
    name = "cf"
    region = "us-east-1"
    [secrets]
    pw = { env = "PW" }
    [security_group.web]
    description = "web"
    ingress = [
      { protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" },
      { protocol = "tcp", ports = "0-65535", group = "self" },
    ]
    [security_group.db]
    description = "db"
    ingress = [ { protocol = "tcp", ports = "3306", group = "web" } ]
    [database.main]
    engine = "mysql"
    instance_class = "db.t3.micro"
    storage_gb = 10
    master_username = "root"
    master_password = "${secret.pw}"
    security_groups = ["db"]
    prevent_destroy = PREVENT
    [instance.web]
    count = COUNT
    ami = "AMI"
    instance_type = "t2.micro"
    security_groups = ["web"]
    user_data = "db=${database.main.address} pw=${secret.pw}"
    [load_balancer.web]
    availability_zones = ["us-east-1a"]
    listeners = [ { port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" } ]
    instances = ["web"]
"#;

fn stack_with(count: u32, ami: &str, prevent: bool, extra: &str) -> Stack {
    let text = STACK
        .replace("COUNT", &count.to_string())
        .replace("AMI", ami)
        .replace("PREVENT", &prevent.to_string())
        + extra;
    load_text(&text, "")
        .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
        .stack
}

fn stack(count: u32) -> Stack {
    stack_with(count, "ami-11111111", false, "")
}

fn view(stack: &Stack) -> View {
    View::of(&template(stack))
}

fn change(action: &str, logical: &str) -> ResourceChange {
    ResourceChange {
        action: action.into(),
        logical_id: logical.into(),
        physical_id: (action != "Add").then(|| format!("phys-{logical}")),
        resource_type: "AWS::Some::Type".into(),
        replacement: None,
        properties: Vec::new(),
    }
}

fn plan_of(old: &Stack, new: &Stack, changes: &[ResourceChange]) -> Plan {
    plan(
        new,
        &Graph::build(new).unwrap(),
        changes,
        &view(old),
        &view(new),
    )
}

fn address(s: &str) -> Address {
    s.parse().unwrap()
}

/// The view of a template speaks the planner's language: for every resource of the
/// reference stack, each attribute the template holds reads as the planner's desired
/// value, wherever that value is known before apply.
#[test]
fn the_view_of_a_template_reads_as_the_planners_desired_attributes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/paasmaker");
    for env in ["production", "staging", "local"] {
        let stack = crate::stack::load(&dir, Some(env)).unwrap().stack;
        let view = view(&stack);
        assert_eq!(
            view.attrs.keys().collect::<Vec<_>>(),
            stack.resources.keys().collect::<Vec<_>>()
        );
        let mut compared = 0;
        for (address, resource) in &stack.resources {
            let desired = attrs::desired(resource, &Default::default());
            let seen = &view.attrs[address];
            for (name, value) in seen {
                // The planner never compares the password (AWS never returns it).
                if name == "master_password" {
                    assert_eq!(value, &Value::text("${secret.rds_password}"));
                    continue;
                }
                let want = desired
                    .get(name)
                    .unwrap_or_else(|| panic!("{env}: `{address}` has no attribute `{name}`"));
                if *want != Value::Unknown {
                    assert_eq!(value, want, "{env}: `{address}`.{name}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 50, "{env}: only {compared} attributes compared");
    }
}

#[test]
fn references_and_secrets_read_as_the_stack_writes_them() {
    let v = view(&stack(1));
    let web = &v.attrs[&address("instance.web[0]")];
    assert_eq!(
        web["user_data"],
        Value::text("db=${database.main.address} pw=${secret.pw}")
    );
    assert_eq!(
        v.attrs[&address("security_group.db")]["ingress"],
        Value::list(["tcp 3306 from security_group.web".to_string()])
    );
    assert_eq!(
        v.attrs[&address("load_balancer.web")]["instances"],
        Value::list(["instance.web[0]".to_string()])
    );
    assert_eq!(v.address("InstanceWeb0"), Some(&address("instance.web[0]")));
    let rules: Vec<&(Address, Option<String>)> = v
        .logical
        .iter()
        .filter(|(id, _)| id.starts_with("SecurityGroupWebIngress"))
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        rules,
        [&(address("security_group.web"), Some("ingress".to_string()))]
    );
    assert_eq!(
        v.attrs[&address("security_group.web")]["ingress"],
        Value::list([
            "tcp 0-65535 from self".to_string(),
            "tcp 80 from 0.0.0.0/0".to_string()
        ])
    );
}

#[test]
fn a_new_replica_is_a_create_and_an_update_of_the_balancer() {
    let (old, new) = (stack(1), stack(2));
    let mut lb = change("Modify", "LoadBalancerWeb");
    lb.replacement = Some("False".into());
    lb.properties = vec![("Instances".into(), Some("Never".into()))];
    let p = plan_of(&old, &new, &[lb, change("Add", "InstanceWeb1")]);
    let actions: Vec<(String, Action)> = p
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("instance.web[1]".to_string(), Action::Create),
            ("load_balancer.web".to_string(), Action::Update),
        ]
    );
    let instances = &p.changes[1].attrs[0];
    assert_eq!(instances.name, "instances");
    assert_eq!(
        instances.after,
        Some(Value::list([
            "instance.web[0]".to_string(),
            "instance.web[1]".to_string()
        ]))
    );
    assert!(!instances.forces_replacement);
    assert_eq!((p.summary.create, p.summary.update), (1, 1));
    assert_eq!(p.changes[1].id.as_deref(), Some("phys-LoadBalancerWeb"));
}

#[test]
fn cloudformation_says_what_forces_replacement_and_the_planner_knows_where_it_does_not() {
    let (old, new) = (stack(1), stack_with(1, "ami-22222222", false, ""));
    // AWS: the change set names the property that recreates.
    let mut said = change("Modify", "InstanceWeb0");
    said.replacement = Some("True".into());
    said.properties = vec![("ImageId".into(), Some("Always".into()))];
    let p = plan_of(&old, &new, &[said.clone()]);
    assert_eq!(p.changes[0].action, Action::Replace);
    assert_eq!(p.changes[0].replace_because, ["ami"]);
    let ami = &p.changes[0].attrs[0];
    assert_eq!(
        (ami.name.as_str(), ami.before.clone(), ami.after.clone()),
        (
            "ami",
            Some(Value::text("ami-11111111")),
            Some(Value::text("ami-22222222"))
        )
    );
    assert!(ami.forces_replacement);

    // Conditionally: shown as a replacement, so the gates err on the safe side.
    let mut maybe = said.clone();
    maybe.replacement = Some("Conditional".into());
    maybe.properties = vec![("ImageId".into(), Some("Conditionally".into()))];
    let p = plan_of(&old, &new, &[maybe]);
    assert_eq!(p.changes[0].action, Action::Replace);
    assert_eq!(p.changes[0].replace_because, ["ami (conditionally)"]);
    assert!(p.changes[0].attrs[0].forces_replacement);

    // CloudFormation says no replacement: it is trusted.
    let mut no = said.clone();
    no.replacement = Some("False".into());
    assert_eq!(plan_of(&old, &new, &[no]).changes[0].action, Action::Update);

    // The emulator says nothing: the planner's knowledge (an AMI cannot change in place).
    let mut silent = said;
    silent.replacement = None;
    silent.properties.clear();
    let p = plan_of(&old, &new, &[silent]);
    assert_eq!(p.changes[0].action, Action::Replace);
    assert_eq!(p.changes[0].replace_because, ["ami"]);
}

#[test]
fn a_rule_resource_changes_its_group_and_opening_access_is_marked() {
    let old = stack(1);
    let new = stack_with(
        1,
        "ami-11111111",
        false,
        r#"
        [security_group.admin]
        description = "admin"
        ingress = [ { protocol = "tcp", ports = "22", cidr = "0.0.0.0/0" } ]
        "#,
    );
    // The admin group is new; its open rule is marked as the direct planner marks it.
    let p = plan_of(&old, &new, &[change("Add", "SecurityGroupAdmin")]);
    assert_eq!(p.changes[0].action, Action::Create);
    assert_eq!(
        p.changes[0].marks,
        [Mark::SecuritySensitive(
            "opens tcp 22 to 0.0.0.0/0".to_string()
        )]
    );
    assert_eq!(p.summary.security_sensitive, 1);

    // A separate rule resource removed: the group it belongs to is updated.
    let mut narrower = new.clone();
    let db = narrower
        .resources
        .get_mut(&address("security_group.db"))
        .unwrap();
    if let crate::stack::model::Spec::SecurityGroup(sg) = &mut db.spec {
        sg.ingress.clear();
    }
    let p = plan_of(
        &new,
        &narrower,
        &[change("Remove", "SecurityGroupDbIngress0")],
    );
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let c = &p.changes[0];
    assert_eq!(
        (c.address.to_string(), c.action),
        ("security_group.db".into(), Action::Update)
    );
    assert_eq!(c.attrs[0].name, "ingress");
    assert_eq!(
        c.attrs[0].before,
        Some(Value::list(
            ["tcp 3306 from security_group.web".to_string()]
        ))
    );
    assert_eq!(c.attrs[0].after, Some(Value::list(Vec::<String>::new())));
    assert!(c.marks.is_empty());
}

#[test]
fn a_database_taken_out_is_data_loss_and_its_prevent_destroy_is_kept_in_the_template() {
    let old = stack_with(1, "ami-11111111", true, "");
    let mut new = stack(1);
    new.resources.remove(&address("database.main"));
    // The instances' user data named the database: rewrite it without the reference.
    for r in new.resources.values_mut() {
        if let crate::stack::model::Spec::Instance(i) = &mut r.spec {
            i.user_data = None;
        }
    }
    let p = plan_of(
        &old,
        &new,
        &[
            change("Remove", "DatabaseMain"),
            change("Remove", "SecurityGroupDbIngress0"),
            change("Unknown", "SomethingElse"),
        ],
    );
    let db = p
        .changes
        .iter()
        .find(|c| c.address == address("database.main"))
        .unwrap();
    assert_eq!(db.action, Action::Destroy);
    assert!(matches!(db.marks[..], [Mark::DataLoss(_)]));
    assert_eq!(p.changes.last().unwrap().address, address("database.main"));
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("`SomethingElse`"));

    let live = view(&old).live(&BTreeMap::new());
    let consent = Consent {
        allow_data_loss: true,
        ..Consent::default()
    };
    let refused = refusals(&p, &new, &live, consent);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("prevent_destroy"), "{refused:?}");
}

#[test]
fn teardown_destroys_every_address_dependents_first() {
    let old = stack(2);
    let ids = BTreeMap::from([
        ("DatabaseMain".to_string(), "cf-main".to_string()),
        ("InstanceWeb0".to_string(), "i-0".to_string()),
    ]);
    let p = teardown(&old, &view(&old), &ids);
    let order: Vec<String> = p.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        order,
        [
            "load_balancer.web",
            "instance.web[0]",
            "instance.web[1]",
            "database.main",
            "security_group.db",
            "security_group.web",
        ]
    );
    assert!(p.changes.iter().all(|c| c.action == Action::Destroy));
    assert_eq!(p.changes[1].id.as_deref(), Some("i-0"));
    assert_eq!(p.changes[2].id, None);
    assert_eq!(p.summary.data_loss, 1);
}

/// Review of issue 5: a stack whose first create rolled back lists its resources as
/// deleted; destroying it plans nothing (and so the gates have nothing to refuse).
#[test]
fn only_resources_that_exist_are_torn_down() {
    let old = stack_with(1, "ami-11111111", true, "");
    let ids = BTreeMap::from([("InstanceWeb0".to_string(), "i-0".to_string())]);
    let existing = view(&old).existing(&ids);
    assert_eq!(
        existing.attrs.keys().collect::<Vec<_>>(),
        [&address("instance.web[0]")]
    );
    let p = teardown(&old, &existing, &ids);
    assert_eq!(p.changes.len(), 1);
    let nothing = view(&old).existing(&BTreeMap::new());
    let p = teardown(&old, &nothing, &BTreeMap::new());
    assert!(!p.has_changes());
    let live = nothing.live(&BTreeMap::new());
    assert!(refusals(&p, &old, &live, Consent::default()).is_empty());
}

/// Review of issue 5: a database replaced names the database it replaces.
#[test]
fn a_database_replaced_is_named_in_its_data_loss_mark() {
    let old = stack(1);
    let mut new = stack(1);
    if let crate::stack::model::Spec::Database(d) = &mut new
        .resources
        .get_mut(&address("database.main"))
        .unwrap()
        .spec
    {
        d.engine = "postgres".into();
    }
    let p = plan_of(&old, &new, &[change("Modify", "DatabaseMain")]);
    let db = &p.changes[0];
    assert_eq!(db.action, Action::Replace);
    assert_eq!(
        db.marks,
        [Mark::DataLoss(
            "replaces database `phys-DatabaseMain`: the new one starts empty".to_string()
        )]
    );
}

#[test]
fn stack_statuses_settle_as_done_failed_or_not_yet() {
    for (status, settled_as) in [
        ("CREATE_COMPLETE", Some(true)),
        ("UPDATE_COMPLETE", Some(true)),
        ("DELETE_COMPLETE", Some(true)),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None),
        ("CREATE_IN_PROGRESS", None),
        ("ROLLBACK_IN_PROGRESS", None),
        ("ROLLBACK_COMPLETE", Some(false)),
        ("UPDATE_ROLLBACK_COMPLETE", Some(false)),
        ("UPDATE_ROLLBACK_FAILED", Some(false)),
        ("DELETE_FAILED", Some(false)),
        ("", Some(false)),
    ] {
        assert_eq!(settled(status), settled_as, "{status}");
    }
}

/// What a reporter was told, one line per call.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn started(&self, step: &Step) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {}", step.address));
    }
    fn progress(&self, step: &Step, message: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("news {} {message}", step.address));
    }
    fn finished(&self, step: &Step, outcome: &Outcome, _: Duration) {
        self.0
            .lock()
            .unwrap()
            .push(format!("end {} {outcome:?}", step.address));
    }
}

fn event(logical: &str, status: &str, reason: Option<&str>) -> StackEvent {
    StackEvent {
        id: format!("{logical}-{status}"),
        logical_id: logical.into(),
        resource_type: if logical == "cf" {
            STACK_TYPE.into()
        } else {
            "AWS::EC2::Instance".into()
        },
        status: status.into(),
        reason: reason.map(String::from),
    }
}

/// A first apply: two instances and a group (with its rule resource), and every logical
/// id of the template touched, as a CREATE change set touches them.
fn creation() -> (Plan, View, BTreeSet<String>) {
    let s = stack(2);
    let v = view(&s);
    let changes = [
        change("Add", "InstanceWeb0"),
        change("Add", "InstanceWeb1"),
        change("Add", "SecurityGroupWeb"),
    ];
    let touched = v.logical.keys().cloned().collect();
    (
        plan(
            &s,
            &Graph::build(&s).unwrap(),
            &changes,
            &View::default(),
            &v,
        ),
        v,
        touched,
    )
}

/// The logical id of the web group's rule resource.
fn web_rule(v: &View) -> String {
    v.logical
        .iter()
        .find(|(id, (a, rule))| {
            rule.is_some() && *a == address("security_group.web") && id.contains("Ingress")
        })
        .map(|(id, _)| id.clone())
        .expect("the web group's self rule")
}

#[test]
fn a_stack_that_settles_complete_without_resource_events_did_every_change() {
    let (p, v, touched) = creation();
    let recorder = Arc::new(Recorder::default());
    let mut t = Tracker::new(&p, &[&v], &touched, recorder.clone());
    t.event(&event("cf", "CREATE_IN_PROGRESS", None));
    t.event(&event("cf", "CREATE_COMPLETE", None));
    let (report, warnings) = t.finish("CREATE_COMPLETE", true, false);
    assert!(report.succeeded());
    assert!(warnings.is_empty());
    assert_eq!(report.done.len(), 3);
    let calls = recorder.0.lock().unwrap().clone();
    // In plan order: the group before the instances.
    assert_eq!(calls[0], "start security_group.web");
    assert_eq!(calls.len(), 6);
}

#[test]
fn a_stack_settled_at_another_status_than_asked_for_did_not_do_the_changes() {
    let (p, v, touched) = creation();
    let t = Tracker::new(&p, &[&v], &touched, Arc::new(Recorder::default()));
    // An apply that finds its stack deleted under it.
    let (report, _) = t.finish("DELETE_COMPLETE", false, false);
    assert!(!report.succeeded());
    assert!(report.done.is_empty());
    assert_eq!(report.skipped.len(), 3);
}

#[test]
fn a_rollback_is_a_failure_with_its_cause_and_nothing_kept() {
    let (p, v, touched) = creation();
    let recorder = Arc::new(Recorder::default());
    let mut t = Tracker::new(&p, &[&v], &touched, recorder.clone());
    let rule = web_rule(&v);
    for e in [
        event("SecurityGroupWeb", "CREATE_IN_PROGRESS", None),
        event("SecurityGroupWeb", "CREATE_COMPLETE", None),
        event(&rule, "CREATE_COMPLETE", None),
        event("InstanceWeb0", "CREATE_IN_PROGRESS", None),
        event(
            "InstanceWeb0",
            "CREATE_FAILED",
            Some("The image id '[ami-1]' does not exist"),
        ),
        event("cf", "ROLLBACK_IN_PROGRESS", None),
        event("SecurityGroupWeb", "DELETE_IN_PROGRESS", None),
        event("SecurityGroupWeb", "DELETE_COMPLETE", None),
    ] {
        t.event(&e);
    }
    let (report, warnings) = t.finish("ROLLBACK_COMPLETE", false, false);
    assert!(!report.succeeded());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(report.done.is_empty(), "{:?}", report.done);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0.address, address("instance.web[0]"));
    assert!(report.failed[0].1.contains("does not exist"));
    let skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|(s, why)| (s.address.to_string(), why.clone()))
        .collect();
    assert!(skipped.contains(&(
        "security_group.web".to_string(),
        "rolled back by CloudFormation".to_string()
    )));
    assert!(skipped.contains(&(
        "instance.web[1]".to_string(),
        "the stack settled at ROLLBACK_COMPLETE".to_string()
    )));
    // The group's step ended once, when its rule was complete too.
    let calls = recorder.0.lock().unwrap().clone();
    let group: Vec<&String> = calls
        .iter()
        .filter(|c| c.contains("security_group.web"))
        .collect();
    assert_eq!(
        group.first().map(|c| c.as_str()),
        Some("start security_group.web")
    );
    let ends: Vec<&&String> = group.iter().filter(|c| c.starts_with("end ")).collect();
    assert_eq!(ends.len(), 1, "{calls:?}");
    // It waited for its rule: the group's own completion was only news.
    let news = calls
        .iter()
        .position(|c| c == "news security_group.web SecurityGroupWeb CREATE_COMPLETE");
    let end = calls
        .iter()
        .position(|c| c.starts_with("end security_group.web"));
    assert!(news.is_some() && news < end, "{calls:?}");
}

/// Review of issue 5: a rule that fails after its group was created fails the group's
/// step with its reason; a failure after a step ended (an old resource not deleted in the
/// clean-up after a replacement) is a warning, not lost.
#[test]
fn failures_of_a_groups_rules_and_after_a_step_ended_are_said() {
    let (p, v, touched) = creation();
    let mut t = Tracker::new(&p, &[&v], &touched, Arc::new(Recorder::default()));
    let rule = web_rule(&v);
    for e in [
        event("SecurityGroupWeb", "CREATE_COMPLETE", None),
        event(&rule, "CREATE_FAILED", Some("InvalidPermission.Duplicate")),
        event("InstanceWeb0", "CREATE_COMPLETE", None),
        event("InstanceWeb0", "DELETE_FAILED", Some("DependencyViolation")),
        event("NotOurs", "DELETE_FAILED", Some("resource in use")),
    ] {
        t.event(&e);
    }
    let (report, warnings) = t.finish("UPDATE_ROLLBACK_COMPLETE", false, false);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0.address, address("security_group.web"));
    assert_eq!(report.failed[0].1, "InvalidPermission.Duplicate");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("`instance.web[0]`") && warnings[0].contains("DependencyViolation")
    );
    assert!(warnings[1].contains("NotOurs DELETE_FAILED: resource in use"));
}

#[test]
fn a_follow_stopped_by_ctrl_c_says_cloudformation_carries_on() {
    let (p, v, touched) = creation();
    let t = Tracker::new(&p, &[&v], &touched, Arc::new(Recorder::default()));
    let (report, _) = t.finish("CREATE_IN_PROGRESS", false, true);
    assert!(report.cancelled);
    assert_eq!(report.skipped.len(), 3);
    assert!(report.skipped[0].1.contains("CloudFormation carries on"));
}

/// The plan view of a change set, as people read it: a replacement with its reason, a new
/// replica with its secret-bearing user data, the balancer's update.
#[test]
fn a_change_set_plan_renders_as_a_direct_plan_does() {
    let (old, new) = (stack(1), stack_with(2, "ami-22222222", false, ""));
    let mut replaced = change("Modify", "InstanceWeb0");
    replaced.replacement = Some("True".into());
    replaced.properties = vec![("ImageId".into(), Some("Always".into()))];
    let mut lb = change("Modify", "LoadBalancerWeb");
    lb.replacement = Some("False".into());
    let p = plan_of(&old, &new, &[replaced, lb, change("Add", "InstanceWeb1")]);
    insta::assert_snapshot!(crate::render::plan::render(&p, false));
}

/// A group replaced: the instance's `SecurityGroupIds` read the same in the template, but
/// CloudFormation changes them; the plan says the new value is known after apply.
#[test]
fn a_property_cloudformation_changes_though_the_template_reads_the_same_is_known_after_apply() {
    let s = stack(1);
    let mut modified = change("Modify", "InstanceWeb0");
    modified.replacement = Some("False".into());
    modified.properties = vec![("SecurityGroupIds".into(), Some("Never".into()))];
    let p = plan_of(&s, &s, &[modified]);
    assert_eq!(p.changes[0].action, Action::Update);
    let groups = &p.changes[0].attrs[0];
    assert_eq!(groups.name, "security_groups");
    assert_eq!(
        groups.before,
        Some(Value::list(["security_group.web".to_string()]))
    );
    assert_eq!(groups.after, Some(Value::Unknown));
}

/// Issue 12: a replacement of balancer members is not rolled by CloudFormation, and its
/// plan says so, one warning per replaced member of a deployed balancer; an instance
/// behind no balancer, or one whose balancer is new, gets none.
#[test]
fn a_replaced_balancer_member_is_warned_not_rolling() {
    let (old, new) = (stack(2), stack_with(2, "ami-22222222", false, ""));
    let replaced = |logical: &str| {
        let mut c = change("Modify", logical);
        c.replacement = Some("True".into());
        c.properties = vec![("ImageId".into(), Some("Always".into()))];
        c
    };
    let mut lb = change("Modify", "LoadBalancerWeb");
    lb.replacement = Some("False".into());
    let p = plan_of(
        &old,
        &new,
        &[replaced("InstanceWeb0"), replaced("InstanceWeb1"), lb],
    );
    let warned: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| w.contains("not rolling"))
        .collect();
    assert_eq!(warned.len(), 2, "{:#?}", p.warnings);
    assert!(warned[0].starts_with(
        "`instance.web[0]` is replaced at once, not rolling, though `load_balancer.web` serves it"
    ));
    assert!(warned[0].contains("CreationPolicy and UpdatePolicy do not apply"));
    assert!(warned[0].contains("--engine direct"));
    assert!(warned[1].starts_with("`instance.web[1]`"));
    assert!(p.changes.iter().all(|c| c.rolling.is_none()));

    // An update in place is no replacement: no warning.
    let mut updated = change("Modify", "InstanceWeb0");
    updated.replacement = Some("False".into());
    updated.properties = vec![("SecurityGroupIds".into(), Some("Never".into()))];
    let p = plan_of(&old, &old, &[updated]);
    assert!(p.warnings.is_empty(), "{:#?}", p.warnings);

    // The balancer not deployed yet (the first change set): nothing serves, nothing to roll.
    let bare = load_text(
        "[stack]\nname = \"cf\"\nregion = \"us-east-1\"\n\
         [instance.web]\nami = \"ami-11111111\"\ninstance_type = \"t2.micro\"\n",
        "",
    )
    .unwrap()
    .stack;
    let p = plan_of(&bare, &new, &[replaced("InstanceWeb0")]);
    assert!(
        !p.warnings.iter().any(|w| w.contains("not rolling")),
        "{:#?}",
        p.warnings
    );

    // An instance behind no balancer: replaced at once, as with the direct engine.
    let alone = |ami: &str| {
        load_text(
            &format!(
                "[stack]\nname = \"cf\"\nregion = \"us-east-1\"\n\
                 [instance.web]\nami = \"{ami}\"\ninstance_type = \"t2.micro\"\n"
            ),
            "",
        )
        .unwrap()
        .stack
    };
    let p = plan_of(
        &alone("ami-11111111"),
        &alone("ami-22222222"),
        &[replaced("InstanceWeb")],
    );
    assert_eq!(p.changes[0].action, Action::Replace);
    assert!(p.warnings.is_empty(), "{:#?}", p.warnings);
}
