//! Rolling replacement of balancer members, end to end: the built binary against the
//! emulator through `scripts/aws-proxy`, which puts back the timings moto skips (new
//! instances `pending` for a while, new members `OutOfService` until their health checks
//! pass, or for ever).
//!
//! Where these tests lean on the emulator: moto would report every member `InService` at
//! once and keep terminated ones registered; the proxy's delays stand in for AWS's boot
//! time and `HealthyThreshold × Interval`, and the membership checks read DescribeLoadBalancers.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::Filter;

use crate::emulator::{self, Proxy};
use crate::plan::{AMI, Aws, ENV, StackDir, runtime};
use crate::support::text;

/// An image the emulator knows (moto's built-in list): the root volume mapping that the
/// secure defaults add names the image's root device, read with DescribeImages.
const NEW_AMI: &str = "ami-1e749f67";
const N: usize = 3;

/// A balancer and three replicas behind it in one zone; `rolling` as given.
fn members_stack(ami: &'static str, rolling: &'static str) -> impl Fn(&str, &str) -> String {
    move |name, _zone| {
        format!(
            r#"[stack]
name = "{name}"
region = "us-east-1"

[load_balancer.web]
availability_zones = ["us-east-1a"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
health_check = {{ target = "TCP:80", interval = 30, timeout = 5, unhealthy_threshold = 2, healthy_threshold = 2 }}
instances = ["web"]

[instance.web]
count = {N}
ami = "{ami}"
instance_type = "t2.micro"
availability_zone = "us-east-1a"
{rolling}
"#
        )
    }
}

fn set_ami(s: &StackDir, ami: &str) {
    let path = s.path().join("stack.toml");
    let text = std::fs::read_to_string(&path).expect("stack.toml");
    std::fs::write(&path, text.replace(AMI, ami)).expect("stack.toml");
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

/// The ids of the stack's instances that are not terminated, and those registered with
/// its balancer, read through the SDK.
fn look(
    rt: &tokio::runtime::Runtime,
    aws: &Aws,
    s: &StackDir,
) -> (BTreeSet<String>, BTreeSet<String>) {
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
        let live = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id())
            .map(String::from)
            .collect();
        let b = aws
            .elb
            .describe_load_balancers()
            .load_balancer_names(s.physical("web"))
            .send()
            .await
            .expect("DescribeLoadBalancers");
        let registered = b
            .load_balancer_descriptions()
            .iter()
            .flat_map(|d| d.instances())
            .filter_map(|i| i.instance_id())
            .map(String::from)
            .collect();
        (live, registered)
    })
}

/// `(members, in service)` as DescribeInstanceHealth through `endpoint` reports them.
fn health(endpoint: &str, balancer: &str) -> (usize, usize) {
    let auth = emulator::fake_sigv4("elasticloadbalancing", "us-east-1");
    let body =
        format!("Action=DescribeInstanceHealth&LoadBalancerName={balancer}&Version=2012-06-01");
    let (status, answer) = emulator::http(
        endpoint,
        "POST",
        "/",
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Authorization", &auth),
        ],
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    // By id: moto lists a member registered twice twice (AWS registers it once).
    let mut members = std::collections::BTreeMap::new();
    for member in answer.split("<member>").skip(1) {
        let field = |name: &str| {
            let open = format!("<{name}>");
            let start = member.find(&open)? + open.len();
            let len = member[start..].find('<')?;
            Some(member[start..start + len].to_string())
        };
        if let Some(id) = field("InstanceId") {
            let serving = field("State").as_deref() == Some("InService");
            *members.entry(id).or_insert(false) |= serving;
        }
    }
    (members.len(), members.values().filter(|s| **s).count())
}

#[test]
fn rolling_three_members_never_leaves_fewer_than_n_minus_one_serving() {
    const BOOT_MS: u64 = 1500;
    const HEALTH_MS: u64 = 2500;
    let s = StackDir::new(
        "roll",
        members_stack(AMI, "rolling = { batch = 1, health_timeout = \"60s\" }"),
    );
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    expect("apply", s.run("apply", &["--yes"]), 0);
    let (old, registered) = look(&rt, &aws, &s);
    assert_eq!(old.len(), N);
    assert_eq!(registered, old);

    set_ami(&s, NEW_AMI);
    let plan = text(&expect("plan", s.run("plan", &[]), 0).stdout);
    for i in 0..N {
        let heading = format!(
            "-/+ instance.web[{i}]  must be replaced (forces replacement: ami) (rolling, 1 at a \
             time, behind load_balancer.web)"
        );
        assert!(plan.contains(&heading), "{plan}");
    }

    // The JSON says the same, and the schema holds it.
    let json: serde_json::Value =
        serde_json::from_slice(&expect("plan --json", s.run("plan", &["--json"]), 0).stdout)
            .expect("JSON");
    let errors = crate::plan_json::errors(&crate::plan_json::validator(), &json);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        json["changes"][0]["rolling"],
        serde_json::json!({"batch": 1, "health_timeout_secs": 60, "balancers": ["load_balancer.web"]})
    );

    let proxy = Proxy::start(
        emulator::endpoint(),
        &[
            "--boot-delay-ms",
            &BOOT_MS.to_string(),
            "--health-delay-ms",
            &HEALTH_MS.to_string(),
        ],
    );
    let started = Instant::now();
    let mut child = s
        .command("apply", &["--yes"], &[], &proxy.endpoint)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run stackwright");
    // Sample the balancer as its clients see it while the apply runs.
    let (mut floor, mut most, mut samples, mut saw_unhealthy) = (usize::MAX, 0, 0, false);
    while child.try_wait().expect("wait").is_none() {
        let (members, serving) = health(&proxy.endpoint, &s.physical("web"));
        floor = floor.min(serving);
        most = most.max(members);
        saw_unhealthy |= members > serving;
        samples += 1;
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the apply hangs"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    let out = expect(
        "apply through the proxy",
        child.wait_with_output().expect("wait"),
        0,
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 replaced"), "{}", shown("apply", &out));

    assert!(samples > 10, "only {samples} samples");
    assert!(
        floor >= N - 1,
        "only {floor} members in service at one point"
    );
    // The samples saw the roll: a new member out of service beside the old ones.
    assert!(
        saw_unhealthy && most > N,
        "no new member seen (most {most})"
    );

    let (new, registered) = look(&rt, &aws, &s);
    assert_eq!(new.len(), N, "one instance per replica");
    assert!(new.is_disjoint(&old), "every replica replaced");
    assert_eq!(registered, new, "exactly the new instances are registered");
    expect(
        "plan after the roll",
        s.run("plan", &["--detailed-exitcode"]),
        0,
    );

    let floor_secs = (BOOT_MS + HEALTH_MS) as f64 / 1000.0 * N as f64;
    eprintln!(
        "rolling {N} members, batch 1: {:.1}s (floor (boot {BOOT_MS} ms + health {HEALTH_MS} ms) \
         x {N} = {floor_secs:.1}s); {samples} samples, at least {floor} in service",
        elapsed.as_secs_f64()
    );
    assert!(
        elapsed.as_secs_f64() >= floor_secs,
        "faster than the floor: delays not applied"
    );
}

#[test]
fn a_member_that_never_turns_healthy_fails_the_apply_and_the_old_ones_keep_serving() {
    let s = StackDir::new(
        "sick",
        members_stack(AMI, "rolling = { batch = 1, health_timeout = \"3s\" }"),
    );
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    expect("apply", s.run("apply", &["--yes"]), 0);
    let (old, _) = look(&rt, &aws, &s);

    set_ami(&s, NEW_AMI);
    let proxy = Proxy::start(emulator::endpoint(), &["--never-healthy"]);
    let out = expect(
        "apply through a never-healthy proxy",
        s.run_with("apply", &["--yes"], &[], &proxy.endpoint),
        1,
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let launched: Vec<String> = proxy.stats()["launched"]
        .as_array()
        .expect("launched")
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert_eq!(
        launched.len(),
        1,
        "one new instance tried: {launched:?}\n{all}"
    );
    assert!(all.contains("instance.web[0]"), "{all}");
    assert!(
        all.contains(&format!(
            "the new instance `{}` was not InService within 3s",
            launched[0]
        )),
        "{all}"
    );
    assert!(all.contains("OutOfService"), "{all}");

    // The old members serve as before; the new one is gone and not registered.
    let (live, registered) = look(&rt, &aws, &s);
    assert_eq!(live, old, "{all}");
    assert_eq!(registered, old, "{all}");
    let (members, serving) = health(emulator::endpoint(), &s.physical("web"));
    assert_eq!((members, serving), (N, N));

    // The next plan still shows every replacement, rolled.
    let plan = text(&expect("plan", s.run("plan", &["--detailed-exitcode"]), 2).stdout);
    for i in 0..N {
        assert!(
            plan.contains(&format!(
                "-/+ instance.web[{i}]  must be replaced (forces replacement: ami) (rolling"
            )),
            "{plan}"
        );
    }
    assert!(!plan.contains("warning"), "{plan}");
}

#[test]
fn balancer_membership_is_repaired_by_the_next_apply() {
    let s = StackDir::new("members", members_stack(AMI, ""));
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    expect("apply", s.run("apply", &["--yes"]), 0);
    let (ids, _) = look(&rt, &aws, &s);
    let ids: Vec<String> = ids.into_iter().collect();
    rt.block_on(async {
        // One member deregistered behind stackwright's back, another terminated (moto, like
        // AWS for a while, keeps it registered).
        aws.elb
            .deregister_instances_from_load_balancer()
            .load_balancer_name(s.physical("web"))
            .instances(
                aws_sdk_elasticloadbalancing::types::Instance::builder()
                    .instance_id(&ids[0])
                    .build(),
            )
            .send()
            .await
            .expect("DeregisterInstancesFromLoadBalancer");
        aws.ec2
            .terminate_instances()
            .instance_ids(&ids[1])
            .send()
            .await
            .expect("TerminateInstances");
    });
    let plan = text(&expect("plan", s.run("plan", &["--detailed-exitcode"]), 2).stdout);
    assert!(plan.contains("~ load_balancer.web"), "{plan}");
    expect("apply", s.run("apply", &["--yes"]), 0);
    let (live, registered) = look(&rt, &aws, &s);
    assert_eq!(live.len(), N);
    assert!(!live.contains(&ids[1]));
    assert_eq!(
        registered, live,
        "every instance registered, the terminated one not"
    );
    expect("plan", s.run("plan", &["--detailed-exitcode"]), 0);
    let _ = ENV;
}

#[test]
fn a_roll_killed_at_any_point_is_finished_by_the_next_apply() {
    const BOOT_MS: u64 = 800;
    const HEALTH_MS: u64 = 1200;
    // One roll of 3 members takes about 3 × (boot + health + polling) ≈ 8 s through this
    // proxy: the kills land in the first member's launch, its health wait, the second and
    // third members, and the last termination.
    let proxy = Proxy::start(
        emulator::endpoint(),
        &[
            "--latency-ms",
            "20",
            "--boot-delay-ms",
            &BOOT_MS.to_string(),
            "--health-delay-ms",
            &HEALTH_MS.to_string(),
        ],
    );
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let (mut mid_roll, mut finished_by_rerun) = (Vec::new(), 0);
    for kill_after in [1200, 2500, 4000, 6000, 8000] {
        let when = format!("killed after {kill_after} ms");
        let s = StackDir::new(
            "rollkill",
            members_stack(AMI, "rolling = { batch = 1, health_timeout = \"60s\" }"),
        );
        expect("apply", s.run("apply", &["--yes"]), 0);
        let (old, _) = look(&rt, &aws, &s);
        set_ami(&s, NEW_AMI);

        let mut apply = s
            .command("apply", &["--yes"], &[], &proxy.endpoint)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn apply");
        std::thread::sleep(Duration::from_millis(kill_after));
        apply.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        apply.wait().expect("reap");
        let (live, registered) = look(&rt, &aws, &s);
        if live.len() > N || (!live.is_disjoint(&old) && live != old) {
            mid_roll.push((kill_after, live.len(), registered.len()));
        }

        let plan = text(&s.run_with("plan", &[], &[], &proxy.endpoint).stdout);
        assert!(!plan.contains("claimed by"), "{when}: {plan}");
        finished_by_rerun += usize::from(plan.contains("was interrupted: this apply finishes it"));
        let out = expect(
            &format!("the apply after the kill ({when})"),
            s.run_with("apply", &["--yes"], &[], &proxy.endpoint),
            0,
        );
        let (live, registered) = look(&rt, &aws, &s);
        assert_eq!(
            live.len(),
            N,
            "{when}: one instance per replica\n{}",
            shown("rerun", &out)
        );
        assert!(live.is_disjoint(&old), "{when}: every replica replaced");
        assert_eq!(registered, live, "{when}: exactly the instances registered");
        let (members, serving) = health(emulator::endpoint(), &s.physical("web"));
        assert_eq!((members, serving), (N, N), "{when}");
        let plan = text(
            &expect(
                &format!("plan after the rerun ({when})"),
                s.run("plan", &["--detailed-exitcode"]),
                0,
            )
            .stdout,
        );
        assert!(!plan.contains("warning"), "{when}: {plan}");
    }
    eprintln!(
        "kills mid-roll (ms, instances, registered): {mid_roll:?}; {finished_by_rerun} finished by the rerun"
    );
    // The kills landed in the middle of rolls (two instances for one address, or some
    // replicas replaced and others not), and reruns finished adopted successors.
    assert!(
        mid_roll.len() >= 3,
        "kills in the middle of a roll: {mid_roll:?}"
    );
    assert!(
        finished_by_rerun >= 1,
        "no rerun finished an interrupted roll: {mid_roll:?}"
    );
}

/// Issue 12: an instance no balancer serves but a record names (the Pacemaker) is replaced
/// new-first: the record is switched to the new instance before the old one is
/// terminated, and the next plan is clean (the record names the new instance, and only
/// one instance holds the address).
#[test]
fn an_instance_a_record_names_is_replaced_new_first_and_the_record_switched() {
    let s = StackDir::new("switch", |name, zone| {
        format!(
            r#"[stack]
name = "{name}"
region = "us-east-1"

[instance.master]
ami = "{AMI}"
instance_type = "t2.micro"

[dns_record.cluster]
zone = "{zone}"
name = "cluster.{zone}"
type = "CNAME"
ttl = 300
records = ["${{instance.master.public_dns}}"]
"#
        )
    });
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.zone(&s.zone));
    expect("apply", s.run("apply", &["--yes"]), 0);
    set_ami(&s, NEW_AMI);
    let plan = s.plan(&["--detailed-exitcode"], 2);
    assert!(
        plan.contains(
            "-/+ instance.master  must be replaced (forces replacement: ami) (new one first, \
             then dns_record.cluster switched to it, then the old one terminated)"
        ),
        "{plan}"
    );
    let run = expect("apply", s.run("apply", &["--yes"]), 0);
    let out = format!("{}{}", text(&run.stdout), text(&run.stderr));
    let at = |what: &str| {
        out.find(what)
            .unwrap_or_else(|| panic!("no `{what}` in\n{out}"))
    };
    assert!(at("instance.master: switching `dns_record.cluster`") < at("terminating `"));
    s.plan(&["--detailed-exitcode"], 0);
}
