//! The walk against steps that only sleep and record: ordering, parallelism, failure
//! and cancellation, with tokio's paused clock so timings are exact.

use std::sync::Mutex;

use super::*;
use crate::provider::LiveState;
use crate::stack::load_text;

#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
}

impl Reporter for Log {
    fn started(&self, step: &Step) {
        self.events
            .lock()
            .unwrap()
            .push(format!("start {}", step.address));
    }
    fn progress(&self, _: &Step, _: &str) {}
    fn finished(&self, step: &Step, outcome: &Outcome, _: Duration) {
        let word = match outcome {
            Outcome::Done => "done".to_string(),
            Outcome::Failed(m) => format!("failed ({m})"),
            Outcome::Skipped(r) => format!("skipped ({r})"),
        };
        self.events
            .lock()
            .unwrap()
            .push(format!("{word} {}", step.address));
    }
}

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

/// `(address, waits for…)`, all creates.
fn schedule_of(steps: &[(&str, &[&str])]) -> Schedule {
    Schedule {
        steps: steps
            .iter()
            .map(|(s, _)| Step {
                address: a(s),
                action: Action::Create,
            })
            .collect(),
        waits_for: steps
            .iter()
            .map(|(s, w)| (a(s), w.iter().map(|x| a(x)).collect()))
            .collect(),
        batches: BTreeMap::new(),
    }
}

fn never_cancelled() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

/// Each step sleeps its own number of seconds (the digit in its name); `fail` fails.
fn sleeper(
    fail: Option<&'static str>,
) -> impl Fn(Step) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
    move |step: Step| {
        let secs: u64 = step
            .address
            .name
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(1);
        let fails = fail.is_some_and(|f| step.address.to_string() == f);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            if fails {
                Err("injected".into())
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn independent_steps_run_in_parallel_and_the_walk_takes_the_critical_path() {
    // Two chains: sg1 -> i5 (6 s) and sg2 -> i3 -> r1 (6 s); everything else in parallel.
    let schedule = schedule_of(&[
        ("security_group.sg1", &[]),
        ("security_group.sg2", &[]),
        ("instance.i5", &["security_group.sg1"]),
        ("instance.i3", &["security_group.sg2"]),
        ("dns_record.r1", &["instance.i3"]),
    ]);
    let log = Arc::new(Log::default());
    let report = walk(&schedule, 10, log.clone(), never_cancelled(), sleeper(None)).await;
    assert!(report.succeeded());
    assert_eq!(report.done.len(), 5);
    assert_eq!(
        report.elapsed,
        Duration::from_secs(6),
        "the longest chain, not the sum (12 s)"
    );
    let events = log.events.lock().unwrap().clone();
    let at = |e: &str| events.iter().position(|x| x == e).unwrap();
    assert!(at("done instance.i3") < at("start dns_record.r1"));
    assert!(at("done security_group.sg1") < at("start instance.i5"));
}

#[tokio::test(start_paused = true)]
async fn parallelism_bounds_what_runs_at_once() {
    // Names without digits: the sleeper gives each one second.
    let schedule = Schedule {
        steps: ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|n| Step {
                address: a(&format!("instance.w{n}")),
                action: Action::Create,
            })
            .collect(),
        waits_for: BTreeMap::new(),
        batches: BTreeMap::new(),
    };
    // Six 1-second steps, two at a time: three rounds.
    let report = walk(
        &schedule,
        2,
        Arc::new(Log::default()),
        never_cancelled(),
        sleeper(None),
    )
    .await;
    assert_eq!(report.done.len(), 6);
    assert_eq!(report.elapsed, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn after_a_failure_nothing_new_starts_in_flight_steps_finish_and_dependents_are_skipped() {
    let schedule = schedule_of(&[
        ("security_group.a1", &[]),
        ("instance.b3", &[]),
        ("instance.c1", &["security_group.a1"]),
        ("instance.d1", &[]),
    ]);
    let log = Arc::new(Log::default());
    // a1 fails at 1 s while b3 runs (until 3 s); with parallelism 2, d1 has not started.
    let report = walk(
        &schedule,
        2,
        log.clone(),
        never_cancelled(),
        sleeper(Some("security_group.a1")),
    )
    .await;
    assert!(!report.succeeded());
    assert_eq!(report.failed.len(), 1);
    let done: Vec<String> = report.done.iter().map(|s| s.address.to_string()).collect();
    assert_eq!(done, ["instance.b3"], "the step in flight finished");
    let skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|(s, r)| (s.address.to_string(), r.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "instance.c1".to_string(),
                "it needs `security_group.a1`, which failed".to_string()
            ),
            (
                "instance.d1".to_string(),
                "not started: `security_group.a1` failed".to_string()
            ),
        ]
    );
    assert_eq!(report.elapsed, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_new_steps_and_lets_running_ones_finish() {
    let schedule = schedule_of(&[("instance.a2", &[]), ("instance.b1", &["instance.a2"])]);
    let (tx, rx) = watch::channel(false);
    let walking = tokio::spawn(async move {
        walk(&schedule, 4, Arc::new(Log::default()), rx, sleeper(None)).await
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    tx.send(true).unwrap();
    let report = walking.await.unwrap();
    assert!(report.cancelled);
    assert_eq!(report.done.len(), 1, "a2 was running and finished");
    assert_eq!(
        report.skipped[0].1,
        "not started: the apply was interrupted"
    );
}

#[test]
fn a_plan_is_scheduled_by_its_graph_and_destroys_wait_for_everything_else() {
    let loaded = load_text(
        r#"[stack]
name = "app"
region = "us-east-1"
[security_group.web]
description = "web"
[instance.web]
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
[dns_record.www]
zone = "example.com"
name = "www.example.com"
type = "A"
records = ["${instance.web.public_ip}"]
"#,
        "",
    )
    .unwrap();
    let graph = Graph::build(&loaded.stack).unwrap();
    let mut live = LiveState::default();
    for (address, kind_id) in [("security_group.old", "sg-1"), ("dns_record.old", "old A")] {
        live.insert(crate::provider::LiveResource {
            address: a(address),
            id: kind_id.into(),
            attrs: Default::default(),
            outputs: Default::default(),
            applied: None,
            expires: None,
        });
    }
    let plan = crate::plan::plan(&loaded.stack, &graph, &live);
    let s = schedule(&plan, &graph);
    let waits = |x: &str| {
        s.waits_for[&a(x)]
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert!(waits("security_group.web").is_empty());
    assert_eq!(waits("instance.web"), ["security_group.web"]);
    assert_eq!(waits("dns_record.www"), ["instance.web"]);
    // The old record goes before the old group (dependents first), after every create.
    assert_eq!(
        waits("dns_record.old"),
        ["security_group.web", "instance.web", "dns_record.www"]
    );
    assert_eq!(
        waits("security_group.old"),
        [
            "security_group.web",
            "instance.web",
            "dns_record.old",
            "dns_record.www"
        ]
    );
}
