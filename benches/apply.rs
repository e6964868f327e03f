//! Apply benchmark: the Paasmaker reference stack with 20 heart/router nodes, applied from
//! nothing through `scripts/aws-proxy` adding latency to every call, against the critical
//! path of its graph.
//!
//! The critical path is the longest chain of dependent steps, each weighted by how long
//! that step itself took in the same run (its calls and its waits): no schedule can beat
//! it. The ratio of the apply's wall time to it is what scheduling costs: waiting for a
//! slot (`--parallelism`) or for the walk to notice a step is done.
//!
//!     cargo bench --bench apply                 # release build (slow the first time)
//!     cargo bench --profile dev --bench apply   # the same figures, a faster build
//!
//! Leans on the emulator: moto makes instances `running` and databases `available` at
//! once, so every step's time is its calls (each delayed by the proxy), not AWS's waits.

// A benchmark's output is its figures.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stackwright::apply::{self, Job, Outcome, Reporter, Schedule, Step};
use stackwright::graph::Graph;
use stackwright::provider::aws::Aws;
use stackwright::provider::{Provider, Secret};
use stackwright::stack::Address;
use support::{endpoint_of, http, repo};

mod support;

const HEARTS: u32 = 20;
const LATENCY_MS: u64 = 50;

fn main() {
    let emulator = support::emulator_child();
    let proxy = endpoint_of(
        "aws-proxy",
        &[
            "--upstream",
            &emulator,
            "--latency-ms",
            &LATENCY_MS.to_string(),
        ],
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("stack dir");
    copy_stack(dir.path());
    let mut loaded = stackwright::stack::load(dir.path(), Some("local")).expect("the stack loads");
    loaded.stack.endpoint_url = Some(proxy.clone());
    let stack = loaded.stack;
    let graph = Graph::build(&stack).expect("graph");
    runtime.block_on(create_zone(&emulator));
    println!(
        "apply of stacks/paasmaker (env local, {HEARTS} hearts: {} resources) through a proxy adding {LATENCY_MS} ms per call\n",
        stack.resources.len()
    );
    for parallelism in [10, 32] {
        http(&proxy, "POST", "/__stats/reset");
        let (report, durations, schedule, calls) = runtime.block_on(async {
            let aws = Arc::new(Aws::connect(&stack).await.expect("connect"));
            let scope = stackwright::provider::Scope {
                stack: stack.name.clone(),
                env: stack.env.clone(),
                zones: ["paasmaker.net".to_string()].into(),
                ..Default::default()
            };
            let live = aws.refresh(&scope).await.expect("refresh");
            let plan = stackwright::plan::plan(&stack, &graph, &live);
            assert_eq!(
                plan.summary.create,
                stack.resources.len(),
                "an empty account"
            );
            let schedule = apply::schedule(&plan, &graph);
            let timer = Arc::new(Timer::default());
            let (_tx, cancel) = tokio::sync::watch::channel(false);
            let job = Job {
                stack: stack.clone(),
                plan,
                live,
                secrets: BTreeMap::from([
                    (
                        "rds_password".into(),
                        Secret::new("bench-password-1".into()),
                    ),
                    ("node_token".into(), Secret::new("bench-token-1".into())),
                ]),
                run: format!("bench-{parallelism}"),
                parallelism,
                expires_at: None,
            };
            let applied = apply::execute(
                aws.clone(),
                scope.clone(),
                job,
                &graph,
                timer.clone(),
                cancel,
            )
            .await;
            let calls = aws.stats().by_operation();
            // Leave an empty account for the next round.
            let live = aws.refresh(&scope).await.expect("refresh");
            let nothing = stackwright::stack::Stack {
                resources: BTreeMap::new(),
                ..stack.clone()
            };
            let empty = Graph::build(&nothing).expect("graph");
            let teardown = stackwright::plan::plan(&nothing, &empty, &live);
            let (_tx, cancel) = tokio::sync::watch::channel(false);
            let job = Job {
                stack: stack.clone(),
                plan: teardown,
                live,
                secrets: BTreeMap::new(),
                run: format!("bench-destroy-{parallelism}"),
                parallelism,
                expires_at: None,
            };
            let destroyed =
                apply::execute(aws, scope, job, &empty, Arc::new(Timer::default()), cancel).await;
            assert!(destroyed.report.succeeded(), "{:?}", destroyed.report);
            let durations = timer.durations.lock().expect("timer").clone();
            (applied.report, durations, schedule, calls)
        });
        assert!(report.succeeded(), "the apply failed: {report:?}");
        let critical = critical_path(&schedule, &durations);
        let total: u64 = calls.values().sum();
        let wire = http(&proxy, "GET", "/__stats");
        println!("--parallelism {parallelism}:");
        println!(
            "  apply wall time   {:>7.2} s ({} steps)",
            report.elapsed.as_secs_f64(),
            report.done.len()
        );
        println!(
            "  critical path     {:>7.2} s ({})",
            critical.0.as_secs_f64(),
            critical
                .1
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        println!(
            "  ratio             {:>7.2}x",
            report.elapsed.as_secs_f64() / critical.0.as_secs_f64()
        );
        println!("  API calls (apply, refresh included): {total}");
        println!(
            "    {}",
            calls
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("  on the wire, apply and teardown: {}\n", wire.trim());
    }
}

/// The longest chain of `waits_for`, weighted by each step's measured duration.
fn critical_path(
    schedule: &Schedule,
    durations: &BTreeMap<Address, Duration>,
) -> (Duration, Vec<Address>) {
    let mut best: BTreeMap<&Address, (Duration, Vec<Address>)> = BTreeMap::new();
    // Steps come in an order where every step follows what it waits for.
    for step in &schedule.steps {
        let before = schedule
            .waits_for
            .get(&step.address)
            .into_iter()
            .flatten()
            .filter_map(|a| best.get(a))
            .max_by_key(|(d, _)| *d)
            .cloned()
            .unwrap_or_default();
        let own = durations.get(&step.address).copied().unwrap_or_default();
        let mut chain = before.1;
        chain.push(step.address.clone());
        best.insert(&step.address, (before.0 + own, chain));
    }
    best.into_values()
        .max_by_key(|(d, _)| *d)
        .unwrap_or_default()
}

/// Records how long each step took.
#[derive(Default)]
struct Timer {
    durations: Mutex<BTreeMap<Address, Duration>>,
}

impl Reporter for Timer {
    fn started(&self, _: &Step) {}
    fn progress(&self, _: &Step, _: &str) {}
    fn finished(&self, step: &Step, outcome: &Outcome, elapsed: Duration) {
        if *outcome == Outcome::Done
            && let Ok(mut d) = self.durations.lock()
        {
            d.insert(step.address.clone(), elapsed);
        }
    }
}

/// stacks/paasmaker with the local env, `HEARTS` hearts.
fn copy_stack(to: &Path) {
    let from = repo().join("stacks/paasmaker");
    for sub in ["env", "files"] {
        std::fs::create_dir_all(to.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(from.join(sub)).expect("read dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("file name");
            std::fs::copy(&path, to.join(sub).join(name)).expect("copy");
        }
    }
    std::fs::copy(from.join("stack.toml"), to.join("stack.toml")).expect("copy");
    let env = std::fs::read_to_string(to.join("env/local.toml")).expect("env file");
    let env = env.replace(
        "heart_count      = 2",
        &format!("heart_count      = {HEARTS}"),
    );
    assert!(env.contains(&format!("= {HEARTS}")), "heart_count is set");
    std::fs::write(to.join("env/local.toml"), env).expect("env file");
}

async fn create_zone(endpoint: &str) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    aws_sdk_route53::Client::new(&config)
        .create_hosted_zone()
        .name("paasmaker.net")
        .caller_reference("bench")
        .send()
        .await
        .expect("hosted zone");
}
