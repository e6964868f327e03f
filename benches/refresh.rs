//! Refresh benchmark: how many AWS calls, and how long, a plan of a large stack takes.
//!
//! Creates, in the local emulator, a stack of 200 tagged instances, 2 security groups, a
//! classic ELB and 2 Route 53 records (with their ownership records), then plans it five
//! times: directly against the emulator, and through `scripts/aws-proxy` adding 20 ms per
//! call (roughly a region away). Prints the calls by operation, counted twice (by the SDK
//! interceptor behind `--stats`, and on the wire by the proxy), and the median wall time.
//!
//!     cargo bench --bench refresh                 # release build (slow the first time)
//!     cargo bench --profile dev --bench refresh   # the same figures, a faster build
//!
//! Leans on the emulator: moto answers in microseconds and makes everything available at
//! once, so the times measure stackwright and the call count, not AWS.

// A benchmark's output is its figures.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use stackwright::provider::aws::Aws;
use stackwright::provider::{Provider, Scope, ownership};

use support::{endpoint_of, http};

mod support;

const INSTANCES: usize = 200;
const RUNS: usize = 5;
const LATENCY_MS: u64 = 20;
const STACK: &str = "bench";
const ENV: &str = "test";
const ZONE: &str = "bench.example";

fn main() {
    let emulator = support::emulator_child();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("stack dir");
    write_stack(dir.path());
    runtime.block_on(populate(&emulator));

    println!(
        "refresh + plan of {INSTANCES} instances, 2 security groups, 1 ELB, 2 DNS records ({RUNS} runs each)\n"
    );
    measure(
        &runtime,
        dir.path(),
        "emulator, no added latency",
        &emulator,
        None,
    );
    let proxy = endpoint_of(
        "aws-proxy",
        &[
            "--upstream",
            &emulator,
            "--latency-ms",
            &LATENCY_MS.to_string(),
        ],
    );
    measure(
        &runtime,
        dir.path(),
        &format!("through a proxy adding {LATENCY_MS} ms per call"),
        &proxy,
        Some(&proxy),
    );
    println!(
        "for comparison: Terraform's AWS provider refreshes an instance with about nine calls,"
    );
    println!(
        "some {} calls for these {INSTANCES} instances alone.",
        INSTANCES * 9
    );
}

fn write_stack(dir: &Path) {
    std::fs::create_dir_all(dir.join("env")).expect("env dir");
    std::fs::write(dir.join("env").join(format!("{ENV}.toml")), "").expect("env file");
    let stack = format!(
        r#"[stack]
name = "{STACK}"
region = "us-east-1"

[security_group.nodes]
description = "nodes"
ingress = [ {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }}, {{ protocol = "tcp", ports = "0-65535", group = "self" }} ]

[security_group.db]
description = "db"
ingress = [ {{ protocol = "tcp", ports = "3306", group = "nodes" }} ]

[instance.node]
count = {INSTANCES}
ami = "ami-12c6146b"
instance_type = "t2.micro"
security_groups = ["nodes"]

[load_balancer.web]
availability_zones = ["us-east-1a"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
instances = ["node[0]", "node[1]"]

[dns_record.www]
zone = "{ZONE}"
name = "www.{ZONE}"
type = "CNAME"
records = ["${{load_balancer.web.dns_name}}"]

[dns_record.node]
zone = "{ZONE}"
name = "node.{ZONE}"
type = "A"
records = ["${{instance.node[0].private_ip}}"]
"#
    );
    std::fs::write(dir.join("stack.toml"), stack).expect("stack.toml");
}

fn tags(address: &str) -> Vec<Tag> {
    [
        ("stackwright:stack", STACK),
        ("stackwright:env", ENV),
        ("stackwright:address", address),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

/// Create the stack's resources out of band, tagged as stackwright tags them.
async fn populate(endpoint: &str) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let existing = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag:stackwright:stack")
                .values(STACK)
                .build(),
        )
        .send()
        .await
        .expect("describe");
    if !existing.reservations().is_empty() {
        return;
    }
    let mut groups = Vec::new();
    for name in ["nodes", "db"] {
        let address = format!("security_group.{name}");
        let created = ec2
            .create_security_group()
            .group_name(format!("{STACK}-{ENV}-{name}"))
            .description(name)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(tags(&address)))
                    .build(),
            )
            .send()
            .await
            .expect("create group");
        groups.push(created.group_id().unwrap_or_default().to_string());
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut ids = Vec::new();
    let collect = |done: Result<
        aws_sdk_ec2::operation::run_instances::RunInstancesOutput,
        tokio::task::JoinError,
    >,
                   ids: &mut Vec<String>| {
        ids.extend(
            done.expect("task")
                .instances()
                .iter()
                .filter_map(|i| i.instance_id())
                .map(String::from),
        );
    };
    for i in 0..INSTANCES {
        let ec2 = ec2.clone();
        let group = groups[0].clone();
        tasks.spawn(async move {
            ec2.run_instances()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T2Micro)
                .min_count(1)
                .max_count(1)
                .security_group_ids(group)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Instance)
                        .set_tags(Some(tags(&format!("instance.node[{i}]"))))
                        .build(),
                )
                .send()
                .await
                .expect("run instance")
        });
        if tasks.len() >= 10
            && let Some(done) = tasks.join_next().await
        {
            collect(done, &mut ids);
        }
    }
    while let Some(done) = tasks.join_next().await {
        collect(done, &mut ids);
    }
    let elb = aws_sdk_elasticloadbalancing::Client::new(&config);
    use aws_sdk_elasticloadbalancing::types::{Listener, Tag as ElbTag};
    let balancer = elb
        .create_load_balancer()
        .load_balancer_name(format!("{STACK}-{ENV}-web"))
        .availability_zones("us-east-1a")
        .listeners(
            Listener::builder()
                .protocol("HTTP")
                .load_balancer_port(80)
                .instance_protocol("HTTP")
                .instance_port(80)
                .build()
                .expect("listener"),
        )
        .set_tags(Some(
            tags("load_balancer.web")
                .into_iter()
                .map(|t| {
                    ElbTag::builder()
                        .key(t.key().unwrap_or_default())
                        .value(t.value().unwrap_or_default())
                        .build()
                        .expect("tag")
                })
                .collect(),
        ))
        .send()
        .await
        .expect("create load balancer");
    let route53 = aws_sdk_route53::Client::new(&config);
    let zone = route53
        .create_hosted_zone()
        .name(ZONE)
        .caller_reference(format!("bench-{}", std::process::id()))
        .send()
        .await
        .expect("zone");
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id().to_string())
        .unwrap_or_default();
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let record = |name: String, t: RrType, value: String| {
        Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(
                ResourceRecordSet::builder()
                    .name(name)
                    .r#type(t)
                    .ttl(300)
                    .resource_records(ResourceRecord::builder().value(value).build().expect("rr"))
                    .build()
                    .expect("set"),
            )
            .build()
            .expect("change")
    };
    let mut changes = Vec::new();
    for (name, t, address, value) in [
        (
            "www",
            RrType::Cname,
            "dns_record.www",
            balancer.dns_name().unwrap_or("elb").to_string(),
        ),
        ("node", RrType::A, "dns_record.node", "10.0.0.1".to_string()),
    ] {
        let fqdn = format!("{name}.{ZONE}");
        let owner = ownership::name(&fqdn, t.as_str());
        changes.push(record(fqdn, t, value));
        changes.push(record(
            owner,
            RrType::Txt,
            format!(
                "\"{}\"",
                ownership::value(STACK, ENV, &address.parse().expect("address"))
            ),
        ));
    }
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("records");
    println!(
        "set-up: {} instances created in {:.1} s\n",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    label: &str,
    endpoint: &str,
    proxy: Option<&str>,
) {
    let mut times = Vec::new();
    let mut calls = Default::default();
    let mut wire = None;
    let mut changes = 0;
    for _ in 0..RUNS {
        if let Some(p) = proxy {
            http(p, "POST", "/__stats/reset");
        }
        let started = Instant::now();
        let mut loaded = stackwright::stack::load(dir, Some(ENV)).expect("the bench stack loads");
        loaded.stack.endpoint_url = Some(endpoint.to_string());
        let graph = stackwright::graph::Graph::build(&loaded.stack).expect("graph");
        let scope = Scope {
            stack: STACK.into(),
            env: ENV.into(),
            zones: [ZONE.to_string()].into(),
            ..Scope::default()
        };
        let (live, stats) = runtime.block_on(async {
            let aws = Aws::connect(&loaded.stack).await.expect("connect");
            let live = aws.refresh(&scope).await.expect("refresh");
            (live, aws.stats().by_operation())
        });
        let plan = stackwright::plan::plan(&loaded.stack, &graph, &live);
        times.push(started.elapsed());
        assert_eq!(
            live.resources.len(),
            INSTANCES + 5,
            "every resource is found"
        );
        changes = plan.changes.len();
        calls = stats;
        if let Some(p) = proxy {
            wire = Some(http(p, "GET", "/__stats"));
        }
    }
    times.sort();
    let median = times[RUNS / 2];
    let total: u64 = calls.values().sum();
    println!("{label}:");
    println!(
        "  API calls per refresh: {total}  ({})",
        calls
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(w) = wire {
        println!("  counted on the wire by the proxy: {}", w.trim());
    }
    println!(
        "  wall time, median of {RUNS}: {} ms (min {} ms, max {} ms); {changes} changes planned\n",
        ms(median),
        ms(times[0]),
        ms(times[RUNS - 1])
    );
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}
