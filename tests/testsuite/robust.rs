//! `apply` when things go wrong: the process killed mid-apply, a network that drops
//! responses, AWS failing and throttling, and two applies at once. The contract: the next
//! run finishes the job, and there is never more than one resource per address.
//!
//! Where these lean on the emulator: moto ignores RunInstances' ClientToken, so a repeated
//! launch would make a second instance; that none appears shows stackwright's own check by
//! tag before a repeat, which on AWS comes on top of the token. moto makes everything
//! available at once, so a kill lands between calls, not during a long wait; the latency
//! the proxy adds spreads the calls out so the kills land at different steps.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::census::census;
use crate::emulator::{self, Proxy};
use crate::plan::{Aws, FULL_ADDRESSES, PW_VAR, StackDir, TOKEN_VAR, full_stack, runtime};
use crate::support::text;

const SECRETS: [(&str, &str); 2] = [(PW_VAR, "robust-pw-1"), (TOKEN_VAR, "robust-token-1")];

/// Exactly one resource for each of the full stack's addresses, and nothing else.
fn assert_one_each(census: &BTreeMap<String, Vec<String>>, when: &str) {
    let addresses: Vec<&str> = census.keys().map(String::as_str).collect();
    let mut expected = FULL_ADDRESSES.to_vec();
    expected.sort();
    assert_eq!(addresses, expected, "{when}: {census:#?}");
    for (address, ids) in census {
        assert_eq!(ids.len(), 1, "{when}: `{address}` has {ids:?}");
    }
}

fn assert_clean(s: &StackDir, when: &str) {
    let plan = s.plan(&[], 0);
    assert!(
        plan.trim_end().ends_with("No changes."),
        "{when}: the next plan\n{plan}"
    );
}

/// A full stack with its own hosted zone; the zone's id.
fn full(prefix: &str) -> (StackDir, String) {
    let s = StackDir::new(prefix, full_stack);
    let zone_id = runtime().block_on(async { Aws::connect().await.zone(&s.zone).await });
    (s, zone_id)
}

/// When a test kills an apply.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// After this long, whatever it is doing.
    After(Duration),
    /// Once this many of its steps have started.
    AtStep(usize),
}

/// The lines a child writes, as they come.
fn lines_of(stream: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn an_apply_killed_at_any_moment_is_finished_by_the_next_with_one_resource_per_address() {
    // 40 ms a call spreads the apply's ~40 calls over about a second and a half.
    let proxy = Proxy::start(emulator::endpoint(), &["--latency-ms", "40"]);
    let aws = runtime().block_on(Aws::connect());
    let mut mid_walk = Vec::new();
    // Kills are placed by what the apply has said, not by the clock, so that a loaded
    // machine moves them with it: one before the first step (lock, refresh), the others
    // after the k-th step has started.
    for kill_at in [
        Kill::After(Duration::from_millis(150)),
        Kill::AtStep(1),
        Kill::AtStep(2),
        Kill::AtStep(4),
        Kill::AtStep(7),
    ] {
        let kill_after = format!("{kill_at:?}");
        let (s, zone_id) = full("kill");
        let mut apply = s
            .command(
                "apply",
                &["--yes", "--allow-open"],
                &SECRETS,
                &proxy.endpoint,
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn apply");
        let lines = lines_of(apply.stderr.take().expect("stderr"));
        let mut stderr = Vec::new();
        match kill_at {
            Kill::After(pause) => std::thread::sleep(pause),
            Kill::AtStep(k) => {
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut started = 0;
                while started < k {
                    let Ok(line) =
                        lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    else {
                        break;
                    };
                    started += usize::from(line.ends_with("started"));
                    stderr.push(line);
                }
            }
        }
        apply.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        apply.wait().expect("reap");
        stderr.extend(lines.iter());
        let started = stderr.iter().filter(|l| l.ends_with("started")).count();
        let done = stderr.iter().filter(|l| l.contains(" done in ")).count();
        if started > 0 && done < FULL_ADDRESSES.len() {
            mid_walk.push((kill_after.clone(), started, done));
        }

        let rerun = s.run_with(
            "apply",
            &["--yes", "--allow-open"],
            &SECRETS,
            emulator::endpoint(),
        );
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "killed {kill_after} ({started} steps started)\n--- stdout\n{}--- stderr\n{}",
            text(&rerun.stdout),
            text(&rerun.stderr)
        );
        let census = runtime().block_on(census(&aws, &s.name, Some(&zone_id)));
        assert_one_each(&census, &format!("killed {kill_after}"));
        assert_clean(&s, &format!("killed {kill_after}"));
        // A lock left by the killed run was taken over, not waited for.
        let rerun_err = text(&rerun.stderr);
        if rerun_err.contains("lock") {
            assert!(rerun_err.contains("taking over the lock"), "{rerun_err}");
        }
    }
    // At least two kills land while steps are in flight.
    assert!(
        mid_walk.len() >= 2,
        "kills in the middle of the walk: {mid_walk:?}"
    );
}

#[test]
fn throttling_5xx_and_lost_responses_do_not_stop_an_apply_or_duplicate_anything() {
    let (s, zone_id) = full("faults");
    // Every 5th request is carried out but its answer lost, every 7th fails with a 500,
    // every 11th is throttled: over 40 requests, so every kind of create meets some.
    let proxy = Proxy::start(
        emulator::endpoint(),
        &[
            "--drop-response-every",
            "5",
            "--fail-every",
            "7",
            "--throttle-every",
            "11",
        ],
    );
    let started = Instant::now();
    let out = s.run_with(
        "apply",
        &["--yes", "--allow-open"],
        &SECRETS,
        &proxy.endpoint,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "--- stdout\n{}--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stats = proxy.stats();
    for fault in ["dropped", "InternalError", "Throttling"] {
        assert!(
            stats["faults"][fault].as_u64().unwrap_or(0) > 0,
            "the proxy injected no {fault}: {stats}"
        );
    }
    let aws = runtime().block_on(Aws::connect());
    assert_one_each(
        &runtime().block_on(census(&aws, &s.name, Some(&zone_id))),
        "after a faulty apply",
    );
    assert_clean(&s, "after a faulty apply");
    // And a destroy through the same faults leaves nothing.
    let out = s.run_with(
        "destroy",
        &["--yes", "--allow-data-loss"],
        &[],
        &proxy.endpoint,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "--- stdout\n{}--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let left = runtime().block_on(census(&aws, &s.name, Some(&zone_id)));
    assert!(left.is_empty(), "left after destroy: {left:#?}");
    assert!(started.elapsed() < Duration::from_secs(300));
}

#[test]
fn two_applies_at_once_never_run_together() {
    let (s, zone_id) = full("twice");
    let proxy = Proxy::start(emulator::endpoint(), &["--latency-ms", "30"]);
    let spawn = |extra: &[&str]| {
        let mut args = vec!["--yes", "--allow-open"];
        args.extend_from_slice(extra);
        s.command("apply", &args, &SECRETS, &proxy.endpoint)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn apply")
    };
    // Without --lock-timeout: one runs, the other fails at once naming the holder.
    let (a, b) = (spawn(&[]), spawn(&[]));
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(1)),
        "one succeeds, one is refused: {codes:?}\n--- a\n{}--- b\n{}",
        text(&a.stderr),
        text(&b.stderr)
    );
    let refused = if a.status.code() == Some(1) { &a } else { &b };
    let why = text(&refused.stderr);
    assert!(
        why.contains("is locked by") && why.contains("(pid "),
        "{why}"
    );
    assert!(why.contains("--lock-timeout"), "{why}");

    // With --lock-timeout the second waits its turn, then finds nothing left to do.
    let status = s.run_with(
        "destroy",
        &["--yes", "--allow-data-loss"],
        &[],
        emulator::endpoint(),
    );
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}\n--- a\n{}--- b\n{}",
        text(&status.stderr),
        text(&a.stderr),
        text(&b.stderr)
    );
    let (a, b) = (
        spawn(&["--lock-timeout", "60s"]),
        spawn(&["--lock-timeout", "60s"]),
    );
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    for out in [&a, &b] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let applied: Vec<bool> = [&a, &b]
        .iter()
        .map(|o| text(&o.stdout).contains("Apply complete"))
        .collect();
    assert_eq!(
        applied.iter().filter(|x| **x).count(),
        1,
        "exactly one applied: {applied:?}"
    );
    let waited = [&a, &b]
        .iter()
        .any(|o| text(&o.stderr).contains("waiting for the lock"));
    assert!(waited, "one of them waited for the lock");
    let aws = runtime().block_on(Aws::connect());
    assert_one_each(
        &runtime().block_on(census(&aws, &s.name, Some(&zone_id))),
        "after both",
    );
    assert_clean(&s, "after both");
}

#[test]
fn the_first_ctrl_c_finishes_what_is_in_flight_and_releases_the_lock() {
    let (s, zone_id) = full("sigint");
    let proxy = Proxy::start(emulator::endpoint(), &["--latency-ms", "60"]);
    let apply = s
        .command(
            "apply",
            &["--yes", "--allow-open"],
            &SECRETS,
            &proxy.endpoint,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    // Once the first step has started (after the plan, the lock and the refresh under it:
    // how long that takes changes with what the apply reads first, so it is watched for
    // rather than timed), while the first steps run.
    let mut apply = apply;
    let err = apply.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a step starts within a minute");
        if line.ends_with("started") {
            break;
        }
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &apply.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let out = apply.wait_with_output().expect("apply");
    let stderr = reader.join().expect("stderr reader");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--- stdout\n{stdout}--- stderr\n{stderr}"
    );
    assert!(
        stderr.contains("interrupted: starting nothing new"),
        "{stderr}"
    );
    assert!(stdout.contains("\nApply interrupted after "), "{stdout}");
    assert!(stdout.contains("skipped: "), "steps were left: {stdout}");
    // Steps in flight finished rather than being abandoned: every started step ended.
    let started = stderr.lines().filter(|l| l.ends_with("started")).count();
    let ended = stderr
        .lines()
        .filter(|l| l.contains(" done in ") || l.contains(" FAILED "))
        .count();
    assert_eq!(started, ended, "{stderr}");

    // The lock was released: the next run takes it without taking anything over.
    let rerun = s.run_with(
        "apply",
        &["--yes", "--allow-open"],
        &SECRETS,
        emulator::endpoint(),
    );
    let rerun_err = text(&rerun.stderr);
    assert_eq!(rerun.status.code(), Some(0), "{rerun_err}");
    assert!(!rerun_err.contains("lock"), "{rerun_err}");
    let aws = runtime().block_on(Aws::connect());
    assert_one_each(
        &runtime().block_on(census(&aws, &s.name, Some(&zone_id))),
        "after Ctrl-C and a rerun",
    );
    assert_clean(&s, "after Ctrl-C and a rerun");
}

/// Records, the wildcard among them, as a stack that lives for one event has them.
fn records_stack(name: &str, zone: &str) -> String {
    format!(
        r#"[stack]
name = "{name}"
region = "us-east-1"

[dns_record.apex]
zone = "{zone}"
name = "event.{zone}"
type = "CNAME"
records = ["lb.example.com"]

[dns_record.wildcard]
zone = "{zone}"
name = "*.event.{zone}"
type = "CNAME"
records = ["lb.example.com"]
"#
    )
}

#[test]
fn a_stack_destroyed_and_applied_again_converges_wildcard_records_too() {
    let s = StackDir::new("again", records_stack);
    runtime().block_on(async { Aws::connect().await.zone(&s.zone).await });
    for round in 0..2 {
        let apply = s.run("apply", &["--yes"]);
        assert_eq!(
            apply.status.code(),
            Some(0),
            "round {round}: {}",
            text(&apply.stdout)
        );
        assert_clean(&s, &format!("round {round}"));
        let destroy = s.run("destroy", &["--yes"]);
        assert_eq!(
            destroy.status.code(),
            Some(0),
            "round {round}: {}",
            text(&destroy.stdout)
        );
        let plan = s.plan(&[], 0);
        assert!(
            plan.trim_end()
                .ends_with("Plan: 2 to create, 0 to update, 0 to replace, 0 to destroy."),
            "round {round}: after destroy\n{plan}"
        );
    }
}
