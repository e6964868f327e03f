//! Fleets under EC2's rate limits (issue 14), end to end: the built binary against the
//! emulator through `scripts/aws-proxy --ec2-buckets strict`, which meters EC2 with token
//! buckets per class of action (RunInstances 5 / 2 a second, other mutating calls 20 / 5,
//! describe calls 50 / 20) and answers `RequestLimitExceeded` over them.
//!
//! Where these tests lean on the emulator: it has no rate limits of its own (the proxy
//! stands in for AWS's), makes instances `running` at once, and ignores RunInstances'
//! ClientToken (so a repeated launch would launch again: the tests count instances, and
//! a batch's ClientToken is not exercised here; finding a launch by its batch tag is).

use std::collections::BTreeMap;
use std::process::Output;

use aws_sdk_ec2::types::Filter;

use crate::emulator::{self, Proxy};
use crate::plan::{AMI, Aws, StackDir, runtime};
use crate::support::text;

/// Replicas of the fleet.
const N: usize = 30;
/// The zones the fleet is spread over (round-robin): one launch specification each.
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// A security group and `N` identical workers spread over three zones.
fn fleet_stack(name: &str, _zone: &str) -> String {
    let zones: Vec<String> = ZONES.iter().map(|z| format!("\"{z}\"")).collect();
    format!(
        r#"[stack]
name = "{name}"
region = "us-east-1"

[security_group.workers]
description = "workers"
ingress = [ {{ protocol = "tcp", ports = "22", cidr = "10.0.0.0/8" }} ]

[instance.worker]
count = {N}
ami = "{AMI}"
instance_type = "t2.micro"
security_groups = ["workers"]
availability_zones = [{zones}]
"#,
        zones = zones.join(", ")
    )
}

fn shown(what: &str, out: &Output) -> String {
    format!(
        "{what} exited {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn expect(what: &str, out: Output, code: i32) -> Output {
    assert_eq!(out.status.code(), Some(code), "{}", shown(what, &out));
    out
}

/// The stack's instances that are not terminated: id → its `stackwright:address` tag,
/// or `(batch) <its stackwright:batch tag>` when it has no address yet, or empty when it
/// has neither (an instance no run could find).
fn instances(rt: &tokio::runtime::Runtime, aws: &Aws, s: &StackDir) -> BTreeMap<String, String> {
    rt.block_on(async {
        let out = aws
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:stackwright:stack")
                    .values(&s.name)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .set_values(Some(vec!["pending".into(), "running".into()]))
                    .build(),
            )
            .send()
            .await
            .expect("DescribeInstances");
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let tag = |key: &str| {
                    i.tags()
                        .iter()
                        .find(|t| t.key() == Some(key))
                        .and_then(|t| t.value())
                };
                let address = match (tag("stackwright:address"), tag("stackwright:batch")) {
                    (Some(a), _) => a.to_string(),
                    (None, Some(b)) => format!("(batch) {b}"),
                    (None, None) => String::new(),
                };
                Some((i.instance_id()?.to_string(), address))
            })
            .collect()
    })
}

/// One instance per address of the fleet, and none without an address.
fn assert_one_per_address(live: &BTreeMap<String, String>, when: &str) {
    let mut addresses: Vec<&str> = live.values().map(String::as_str).collect();
    addresses.sort_unstable();
    let want: Vec<String> = (0..N).map(|i| format!("instance.worker[{i}]")).collect();
    let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(
        addresses, want,
        "{when}: one instance per address: {live:?}"
    );
}

/// The count of an operation in the proxy's stats (`by_operation` or `throttled`).
fn count(stats: &serde_json::Value, table: &str, op: &str) -> u64 {
    stats[table][op].as_u64().unwrap_or(0)
}

fn throttled(stats: &serde_json::Value) -> u64 {
    stats["faults"]["RequestLimitExceeded"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_fleet_applies_and_destroys_through_strict_rate_limits() {
    let proxy = Proxy::start(emulator::endpoint(), &["--ec2-buckets", "strict"]);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let s = StackDir::new("fleet", fleet_stack);

    let out = expect(
        "apply through strict buckets",
        s.run_with("apply", &["--yes", "--stats"], &[], &proxy.endpoint),
        0,
    );
    let stats = proxy.stats();
    eprintln!("apply: {stats}");
    assert!(
        throttled(&stats) > 0,
        "the apply met no throttling, so this test shows nothing: {stats}"
    );
    // Batched launches: one RunInstances per launch specification (zone), each answered
    // once (a throttled one is sent again, and counted as throttled).
    let launches =
        count(&stats, "by_operation", "RunInstances") - count(&stats, "throttled", "RunInstances");
    assert_eq!(
        launches,
        ZONES.len() as u64,
        "{N} replicas over {} zones: {stats}",
        ZONES.len()
    );
    // What stackwright counted matches what the proxy answered.
    assert!(
        text(&out.stderr).contains("(throttled)"),
        "{}",
        shown("apply", &out)
    );
    assert_one_per_address(&instances(&rt, &aws, &s), "after apply");
    expect(
        "plan after apply",
        s.run_with("plan", &["--detailed-exitcode"], &[], &proxy.endpoint),
        0,
    );

    proxy.reset();
    expect(
        "destroy through strict buckets",
        s.run_with("destroy", &["--yes"], &[], &proxy.endpoint),
        0,
    );
    let stats = proxy.stats();
    eprintln!("destroy: {stats}");
    assert!(
        instances(&rt, &aws, &s).is_empty(),
        "every instance terminated"
    );
    // The replicas' destroys run together: their terminations go out in few calls.
    let terminations = count(&stats, "by_operation", "TerminateInstances")
        - count(&stats, "throttled", "TerminateInstances");
    assert!(
        (1..=2).contains(&terminations),
        "{N} replicas terminated in {terminations} calls: {stats}"
    );
}

/// A run killed while it waits for the rate limit (and while launches are on their way)
/// is finished by the next: one instance per address, none without its address.
#[test]
fn a_fleet_apply_killed_under_throttling_is_finished_by_the_next() {
    let proxy = Proxy::start(emulator::endpoint(), &["--ec2-buckets", "strict"]);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let mut mid_apply = Vec::new();
    for kill_after in [1500, 3000] {
        let when = format!("killed after {kill_after} ms");
        let s = StackDir::new("fleetkill", fleet_stack);
        let mut apply = s
            .command("apply", &["--yes"], &[], &proxy.endpoint)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn apply");
        std::thread::sleep(std::time::Duration::from_millis(kill_after));
        apply.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        apply.wait().expect("reap");
        let live = instances(&rt, &aws, &s);
        let untagged = live.values().filter(|a| a.starts_with("(batch)")).count();
        if !live.is_empty() && (live.len() < N || untagged > 0) {
            mid_apply.push((kill_after, live.len()));
        }
        // Every instance is findable: by its address, or (launched, not yet tagged) by
        // its batch tag, which names the address it was launched for.
        assert!(
            live.values().all(|a| !a.is_empty()),
            "{when}: an instance neither tagged with its address nor with its batch: {live:?}"
        );
        expect(
            &format!("the apply after the kill ({when})"),
            s.run_with("apply", &["--yes"], &[], &proxy.endpoint),
            0,
        );
        assert_one_per_address(&instances(&rt, &aws, &s), &when);
        expect(
            &format!("plan after the rerun ({when})"),
            s.run("plan", &["--detailed-exitcode"]),
            0,
        );
        expect(
            &format!("destroy ({when})"),
            s.run_with("destroy", &["--yes"], &[], &proxy.endpoint),
            0,
        );
    }
    eprintln!("kills mid-apply (ms, instances): {mid_apply:?}");
    assert!(
        !mid_apply.is_empty(),
        "no kill landed while the fleet was being launched"
    );
}

/// A run killed after a batched launch and before the address tags (CreateTags held back
/// 3 s by the proxy, the kill as soon as the emulator shows an untagged member): the next
/// apply tags those instances with the addresses their batch tag names, launches only
/// what was never launched, and leaves one instance per address.
#[test]
fn a_fleet_apply_killed_between_launch_and_tags_is_finished_by_the_next() {
    let slow = Proxy::start(
        emulator::endpoint(),
        &["--ec2-buckets", "strict", "--delay-op", "CreateTags=3000"],
    );
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let s = StackDir::new("fleetstray", fleet_stack);
    let mut apply = s
        .command("apply", &["--yes"], &[], &slow.endpoint)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn apply");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let untagged = |live: &BTreeMap<String, String>| {
        live.iter()
            .filter(|(_, a)| a.starts_with("(batch)"))
            .map(|(id, _)| id.clone())
            .collect::<Vec<String>>()
    };
    let before = loop {
        let live = instances(&rt, &aws, &s);
        if !untagged(&live).is_empty() || std::time::Instant::now() > deadline {
            break live;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    apply.kill().expect("SIGKILL");
    apply.wait().expect("reap");
    let strays = untagged(&before);
    assert!(
        !strays.is_empty(),
        "no launched instance without its address tag was seen: {before:?}"
    );
    let live = instances(&rt, &aws, &s);
    assert!(
        live.values().all(|a| !a.is_empty()),
        "an instance no run could find: {live:?}"
    );

    let proxy = Proxy::start(emulator::endpoint(), &["--ec2-buckets", "strict"]);
    let plan = expect(
        "plan after the kill",
        s.run_with("plan", &["--detailed-exitcode"], &[], &proxy.endpoint),
        2,
    );
    let shown = format!("{}{}", text(&plan.stdout), text(&plan.stderr));
    eprintln!("plan after the kill:\n{shown}");
    assert!(
        shown.contains("address_tag") && shown.contains(&strays[0]),
        "the plan says which instances get their address tag: {shown}"
    );
    let rerun = expect(
        "the apply after the kill",
        s.run_with("apply", &["--yes"], &[], &proxy.endpoint),
        0,
    );
    eprintln!("the apply after the kill:\n{}", text(&rerun.stderr));
    let after = instances(&rt, &aws, &s);
    assert_one_per_address(&after, "after the rerun");
    for id in &strays {
        assert!(
            after
                .get(id)
                .is_some_and(|a| a.starts_with("instance.worker[")),
            "`{id}` was given its address, not replaced: {after:?}"
        );
    }
    expect(
        "plan after the rerun",
        s.run("plan", &["--detailed-exitcode"]),
        0,
    );
    expect(
        "destroy",
        s.run_with("destroy", &["--yes"], &[], &proxy.endpoint),
        0,
    );
    assert!(
        instances(&rt, &aws, &s).is_empty(),
        "every instance terminated"
    );
}

/// Every batched RunInstances is carried out and its answer lost (the proxy closes the
/// connection): the apply finds each launch by its batch tag before sending it again, so
/// nothing is launched twice. The emulator ignores ClientToken, so this is the lookup at
/// work, not AWS's idempotency (which would answer a repeat with the same instances).
#[test]
fn a_batched_launch_whose_answer_is_lost_is_found_not_repeated() {
    let proxy = Proxy::start(
        emulator::endpoint(),
        &["--drop-response-of", "RunInstances"],
    );
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let s = StackDir::new("fleetlost", fleet_stack);
    expect(
        "apply with every RunInstances answer lost",
        s.run_with("apply", &["--yes"], &[], &proxy.endpoint),
        0,
    );
    let stats = proxy.stats();
    assert_eq!(
        count(&stats, "by_operation", "RunInstances"),
        ZONES.len() as u64,
        "one launch per zone, none repeated: {stats}"
    );
    assert_one_per_address(&instances(&rt, &aws, &s), "after lost answers");
    expect(
        "plan after the apply",
        s.run("plan", &["--detailed-exitcode"]),
        0,
    );
    expect(
        "destroy",
        s.run_with("destroy", &["--yes"], &[], &proxy.endpoint),
        0,
    );
}
