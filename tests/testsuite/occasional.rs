//! Occasional stacks (issue 19) against the emulator: `expires` tags every resource, a
//! plan stays clean and an apply extends it; `stackwright ls` finds every stack and env
//! from an empty directory, marks only the expired one, and costs a handful of calls
//! per region (counted at the proxy, and printed); `destroy --expired --dry-run` changes
//! nothing and `destroy --expired` removes only the expired env; `destroy --stack/--env`
//! from an empty directory removes one env and keeps its database's final snapshot; a
//! third env with `restore_from_env` starts from that snapshot (RestoreDBInstanceFromDBSnapshot
//! at the proxy, no CreateDBInstance) and plans clean after; one naming an env without a
//! snapshot is refused with nothing sent; a saved plan whose snapshot (a manual one, newer
//! than the automated backup) was deleted since is refused at apply with nothing sent.
//!
//! Where these lean on the emulator rather than on AWS: moto makes instances `running`
//! and databases `available` at once, and keeps every test's resources in one account,
//! so `ls` here lists other tests' stacks too (the assertions pick this test's by name).

use std::path::Path;
use std::process::Command;

use crate::emulator::{self, Proxy};
use crate::plan::{AMI, PUBLIC_KEY, PW_VAR, aws_env_at, last_line};
use crate::support::text;

const REGION: &str = "us-east-1";

/// One of each kind that carries tags: a group, a key pair, an instance, a balancer and
/// a database.
fn stack_toml(name: &str) -> String {
    format!(
        r#"[stack]
name = "{name}"
region = "{REGION}"

[vars]
source = ""     # the env whose database a new one is restored from; "" for none

[secrets]
pw = {{ env = "{PW_VAR}" }}

[security_group.web]
description = "web"
ingress = [ {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }} ]

[key_pair.main]
public_key = "{PUBLIC_KEY}"

[instance.web]
ami = "{AMI}"
instance_type = "t2.micro"
key_name = "${{key_pair.main.name}}"
security_groups = ["web"]

[load_balancer.web]
availability_zones = ["us-east-1a"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
instances = ["web"]

[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"
restore_from_env = "${{var.source}}"
"#
    )
}

/// How many resources of [`stack_toml`] carry tags.
const TAGGED: u64 = 5;

/// `stackwright ARGS` in `dir`, against `endpoint`: (exit code, stdout, stderr).
fn run(dir: &Path, endpoint: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(args)
        .current_dir(dir)
        .envs(aws_env_at(endpoint))
        .env_remove("AWS_PROFILE")
        .env("AWS_REGION", REGION)
        .env(PW_VAR, "occasional-pw-7c1d")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackwright");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(dir, emulator::endpoint(), args);
    assert_eq!(code, Some(0), "{args:?}\n{stdout}\n{stderr}");
    stdout
}

/// This stack's rows of `ls --json`, by env.
fn rows(listing: &str, stack: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(listing).expect("ls --json");
    v["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|r| r["stack"] == stack)
        .cloned()
        .collect()
}

#[test]
fn expiring_envs_are_tagged_listed_from_anywhere_and_renewed_by_apply() {
    let name = emulator::unique("occ");
    let dir = tempfile::tempdir().expect("stack directory");
    std::fs::create_dir(dir.path().join("env")).expect("env directory");
    std::fs::write(dir.path().join("stack.toml"), stack_toml(&name)).expect("stack");
    std::fs::write(dir.path().join("env/review.toml"), "expires = \"2s\"\n").expect("env");
    std::fs::write(dir.path().join("env/staging.toml"), "expires = \"72h\"\n").expect("env");
    let stack = dir.path().to_str().expect("utf-8 path");
    for env in ["review", "staging"] {
        ok(
            dir.path(),
            &["apply", stack, "--env", env, "--yes", "--allow-open"],
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(3));

    // From an empty directory, through the counting proxy: both envs, only one expired.
    let empty = tempfile::tempdir().expect("empty directory");
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let (code, listing, stderr) = run(
        empty.path(),
        &proxy.endpoint,
        &["ls", "--json", "--region", REGION],
    );
    assert_eq!(code, Some(0), "{listing}\n{stderr}");
    let calls = proxy.stats();
    eprintln!(
        "ls in one region ({} stacks in the emulator): {} calls {}",
        serde_json::from_str::<serde_json::Value>(&listing).unwrap()["stacks"]
            .as_array()
            .map_or(0, Vec::len),
        calls["total"],
        calls["by_operation"]
    );
    // A handful of calls per region, however many stacks: one of each of six reads.
    assert_eq!(calls["total"], 6, "{calls}");
    proxy.reset();
    let (code, two, stderr) = run(
        empty.path(),
        &proxy.endpoint,
        &["ls", "--json", "--region", REGION, "--region", "us-west-2"],
    );
    assert_eq!(code, Some(0), "{two}\n{stderr}");
    let calls = proxy.stats();
    eprintln!(
        "ls in two regions: {} calls {}",
        calls["total"], calls["by_operation"]
    );
    // The same per region (DescribeTags only where there are balancers: none here in the
    // second region, so 6 + 5).
    assert_eq!(calls["total"], 11, "{calls}");
    assert_eq!(calls["by_operation"]["DescribeTags"], 1, "{calls}");
    assert!(
        calls["by_operation"]
            .as_object()
            .unwrap()
            .values()
            .all(|n| n.as_u64() <= Some(2)),
        "{calls}"
    );
    let found = rows(&listing, &name);
    let envs: Vec<(&str, bool, u64)> = found
        .iter()
        .map(|r| {
            (
                r["env"].as_str().unwrap(),
                r["expired"].as_bool().unwrap(),
                r["resources"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        envs,
        [("review", true, TAGGED), ("staging", false, TAGGED)],
        "{listing}"
    );
    for r in &found {
        assert_eq!(r["region"], REGION);
        assert_eq!(r["locked"], false);
        assert!(r["created"].is_string(), "{r}");
    }
    let staging_expires = found[1]["expires"].as_str().unwrap().to_string();
    let at = humantime::parse_rfc3339(&staging_expires).expect("RFC 3339");
    let in_72h = std::time::SystemTime::now() + std::time::Duration::from_secs(72 * 3600);
    assert!(
        at <= in_72h && at + std::time::Duration::from_secs(120) >= in_72h,
        "{staging_expires}"
    );

    // The table, for people.
    let table = ok(empty.path(), &["ls", "--region", REGION]);
    assert!(table.starts_with("STACK "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{name} ")) && l.contains(" review ")),
        "{table}"
    );

    // The sweep: a dry run changes nothing; then only the expired env goes.
    let expired = ["destroy", "--expired", "--region", REGION];
    let dry: Vec<&str> = expired.iter().copied().chain(["--dry-run"]).collect();
    let (code, stdout, stderr) = run(empty.path(), emulator::endpoint(), &dry);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "Stack `{name}` env `review` ({REGION}) expired at"
        )),
        "{stderr}"
    );
    assert!(stdout.contains("- database.main"), "{stdout}");
    assert!(
        stdout.contains("would be destroyed (--dry-run: nothing was changed)"),
        "{stdout}"
    );
    let listing = ok(empty.path(), &["ls", "--json", "--region", REGION]);
    let counts: Vec<u64> = rows(&listing, &name)
        .iter()
        .map(|r| r["resources"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [TAGGED, TAGGED], "{listing}");

    let sweep: Vec<&str> = expired
        .iter()
        .copied()
        .chain(["--yes", "--allow-data-loss"])
        .collect();
    let swept = ok(empty.path(), &sweep);
    assert!(swept.contains("destroyed, 0 left."), "{swept}");
    let listing = ok(empty.path(), &["ls", "--json", "--region", REGION]);
    let envs: Vec<String> = rows(&listing, &name)
        .iter()
        .map(|r| r["env"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(envs, ["staging"], "{listing}");

    // The tag is not an attribute: the plan is clean, and says when the env expires.
    let plan = ok(
        dir.path(),
        &["plan", stack, "--env", "staging", "--detailed-exitcode"],
    );
    assert_eq!(last_line(&plan), "No changes.", "{plan}");
    assert!(
        plan.contains(&format!(
            "Expires: 72h after apply (now {staging_expires})."
        )),
        "{plan}"
    );

    // Applying again extends it, on every resource.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let applied = ok(dir.path(), &["apply", stack, "--env", "staging", "--yes"]);
    let listing = ok(empty.path(), &["ls", "--json", "--region", REGION]);
    let staging = rows(&listing, &name)
        .into_iter()
        .find(|r| r["env"] == "staging")
        .expect("staging");
    let renewed = staging["expires"].as_str().unwrap();
    assert!(renewed > staging_expires.as_str(), "{renewed}\n{applied}");
    assert_eq!(staging["resources"].as_u64(), Some(TAGGED));
}

/// The operations in proxy stats that change something (anything but a read).
fn writes(stats: &serde_json::Value) -> Vec<String> {
    stats["by_operation"]
        .as_object()
        .expect("by_operation")
        .keys()
        .filter(|op| {
            !["Describe", "List", "Get", "route53:GET"]
                .iter()
                .any(|read| op.starts_with(read))
        })
        .cloned()
        .collect()
}

/// `destroy --stack NAME --env ENV` from an empty directory: the gates refuse without
/// consent (nothing changed), then everything of that env goes, the other env stays, and
/// the database leaves its final snapshot. Leans on moto deleting a database at once and
/// taking the final snapshot it is asked for.
#[test]
fn destroy_by_tags_alone_keeps_the_final_snapshot_and_the_other_env() {
    let name = emulator::unique("occd");
    let dir = tempfile::tempdir().expect("stack directory");
    std::fs::create_dir(dir.path().join("env")).expect("env directory");
    std::fs::write(dir.path().join("stack.toml"), stack_toml(&name)).expect("stack");
    for env in ["review", "keep"] {
        std::fs::write(dir.path().join(format!("env/{env}.toml")), "").expect("env");
        let stack = dir.path().to_str().expect("utf-8 path");
        ok(
            dir.path(),
            &["apply", stack, "--env", env, "--yes", "--allow-open"],
        );
    }
    let empty = tempfile::tempdir().expect("empty directory");
    let by_tags = [
        "destroy", "--stack", &name, "--env", "review", "--region", REGION,
    ];

    // Without a terminal and without --yes; then without --allow-data-loss: refused.
    for extra in [&[][..], &["--yes"][..]] {
        let args: Vec<&str> = by_tags
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect();
        let (code, stdout, stderr) = run(empty.path(), emulator::endpoint(), &args);
        assert_eq!(code, Some(1), "{args:?}\n{stdout}\n{stderr}");
        assert!(stdout.contains("- database.main"), "{stdout}");
    }
    let listing = ok(empty.path(), &["ls", "--json", "--region", REGION]);
    let counts: Vec<(String, u64)> = rows(&listing, &name)
        .iter()
        .map(|r| {
            (
                r["env"].as_str().unwrap().to_string(),
                r["resources"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [("keep".to_string(), TAGGED), ("review".to_string(), TAGGED)]
    );

    let args: Vec<&str> = by_tags
        .iter()
        .copied()
        .chain(["--yes", "--allow-data-loss"])
        .collect();
    let destroyed = ok(empty.path(), &args);
    assert!(destroyed.contains("Destroy complete"), "{destroyed}");
    let listing = ok(empty.path(), &["ls", "--json", "--region", REGION]);
    let envs: Vec<String> = rows(&listing, &name)
        .iter()
        .map(|r| r["env"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(envs, ["keep"], "{listing}");

    let snapshots = crate::plan::runtime().block_on(async {
        let aws = crate::plan::Aws::connect().await;
        aws.rds
            .describe_db_snapshots()
            .db_instance_identifier(format!("{name}-review-main"))
            .send()
            .await
            .expect("describe snapshots")
            .db_snapshots()
            .iter()
            .filter_map(|s| {
                let env = s
                    .tag_list()
                    .iter()
                    .find(|t| t.key() == Some("stackwright:env"))
                    .and_then(|t| t.value().map(String::from));
                Some((s.db_snapshot_identifier()?.to_string(), env))
            })
            .collect::<Vec<_>>()
    });
    let finals: Vec<&(String, Option<String>)> = snapshots
        .iter()
        .filter(|(s, _)| s.starts_with(&format!("{name}-review-main-final-")))
        .collect();
    assert_eq!(finals.len(), 1, "{snapshots:?}");
    // Databases copy their tags to their snapshots (CopyTagsToSnapshot): that is how
    // `restore_from_env` knows whose a snapshot is, whatever the database was called.
    assert_eq!(finals[0].1.as_deref(), Some("review"), "{snapshots:?}");
    let final_snapshot = finals[0].0.clone();

    // A third env starts from that snapshot: named in the plan (text and JSON), restored
    // by RestoreDBInstanceFromDBSnapshot, never created empty, and clean afterwards.
    // (Through the proxy, which counts every call by operation.)
    let stack = dir.path().to_str().expect("utf-8 path");
    std::fs::write(
        dir.path().join("env/copy.toml"),
        "[vars]\nsource = \"review\"\n",
    )
    .expect("env");
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let (code, planned, stderr) = run(
        dir.path(),
        &proxy.endpoint,
        &["plan", stack, "--env", "copy"],
    );
    assert_eq!(code, Some(0), "{planned}\n{stderr}");
    assert!(
        planned.contains(&format!(
            "+ database.main  will be created, restored from {final_snapshot} (env review)"
        )),
        "{planned}"
    );
    let (code, json, stderr) = run(
        dir.path(),
        &proxy.endpoint,
        &["plan", stack, "--env", "copy", "--json"],
    );
    assert_eq!(code, Some(0), "{json}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("plan --json");
    let invalid = crate::plan_json::errors(&crate::plan_json::validator(), &json);
    assert!(invalid.is_empty(), "{invalid:?}");
    let db = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["address"] == "database.main")
        .expect("database.main")
        .clone();
    assert_eq!(
        db["restored_from"],
        serde_json::json!({"snapshot": final_snapshot, "env": "review"})
    );
    assert_eq!(
        writes(&proxy.stats()),
        Vec::<String>::new(),
        "plans send nothing"
    );
    proxy.reset();
    let (code, applied, stderr) = run(
        dir.path(),
        &proxy.endpoint,
        &["apply", stack, "--env", "copy", "--yes", "--allow-open"],
    );
    assert_eq!(code, Some(0), "{applied}\n{stderr}");
    let stats = proxy.stats();
    assert_eq!(
        stats["by_operation"]["RestoreDBInstanceFromDBSnapshot"], 1,
        "{stats}"
    );
    assert!(
        stats["by_operation"].get("CreateDBInstance").is_none(),
        "{stats}"
    );
    assert_eq!(stats["by_operation"]["ModifyDBInstance"], 1, "{stats}");
    assert_eq!(
        stats["by_operation"]["RemoveTagsFromResource"], 1,
        "{stats}"
    );
    let (code, again, stderr) = run(
        dir.path(),
        emulator::endpoint(),
        &["plan", stack, "--env", "copy", "--detailed-exitcode"],
    );
    assert_eq!(code, Some(0), "{again}\n{stderr}");
    assert_eq!(last_line(&again), "No changes.", "{again}");
    assert!(!again.contains("warning:"), "{again}");
    // Tagged as the copy env's (not the snapshot's env's), and the restore finished: the
    // `stackwright:restoring` mark is gone once the password was set.
    let tags: std::collections::BTreeMap<String, String> = crate::plan::runtime().block_on(async {
        let aws = crate::plan::Aws::connect().await;
        aws.rds
            .describe_db_instances()
            .db_instance_identifier(format!("{name}-copy-main"))
            .send()
            .await
            .expect("describe the restored database")
            .db_instances()[0]
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect()
    });
    assert_eq!(
        tags.get("stackwright:env").map(String::as_str),
        Some("copy"),
        "{tags:?}"
    );
    assert!(!tags.contains_key("stackwright:restoring"), "{tags:?}");

    // A run killed between the restore and the password (the mark put back by hand, as
    // such a run leaves it): the plan warns and names the fix, which clears the mark.
    let copy_tags = |add: bool| {
        let instance = format!("{name}-copy-main");
        crate::plan::runtime().block_on(async move {
            let aws = crate::plan::Aws::connect().await;
            let db = aws
                .rds
                .describe_db_instances()
                .db_instance_identifier(instance)
                .send()
                .await
                .expect("describe the restored database");
            let db = &db.db_instances()[0];
            if add {
                let tag = aws_sdk_rds::types::Tag::builder()
                    .key("stackwright:restoring")
                    .value("a-snapshot")
                    .build();
                aws.rds
                    .add_tags_to_resource()
                    .resource_name(db.db_instance_arn().expect("arn"))
                    .tags(tag)
                    .send()
                    .await
                    .expect("tag");
            }
            db.tag_list()
                .iter()
                .filter_map(|t| t.key().map(String::from))
                .collect::<Vec<_>>()
        })
    };
    copy_tags(true);
    let (code, warned, stderr) = run(
        dir.path(),
        emulator::endpoint(),
        &["plan", stack, "--env", "copy"],
    );
    assert_eq!(code, Some(0), "{warned}\n{stderr}");
    let shown = format!("{warned}{stderr}");
    assert!(
        shown.contains("`database.main` was restored from snapshot `a-snapshot`"),
        "{shown}"
    );
    assert!(shown.contains("--rotate-secret pw` sets it"), "{shown}");
    ok(
        dir.path(),
        &[
            "apply",
            stack,
            "--env",
            "copy",
            "--rotate-secret",
            "pw",
            "--yes",
        ],
    );
    let keys = copy_tags(false);
    assert!(
        !keys.iter().any(|k| k == "stackwright:restoring"),
        "{keys:?}"
    );
    // The restored database is the copy env's, by its tags (not the snapshot's env's).
    let listing = ok(empty.path(), &["ls", "--json", "--region", REGION]);
    let envs: Vec<(String, u64)> = rows(&listing, &name)
        .iter()
        .map(|r| {
            (
                r["env"].as_str().unwrap().to_string(),
                r["resources"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        envs,
        [("copy".to_string(), TAGGED), ("keep".to_string(), TAGGED)],
        "{listing}"
    );

    // An env whose source has no snapshot: refused at plan time, naming the env, and
    // nothing sent (neither by plan nor by apply).
    std::fs::write(
        dir.path().join("env/orphan.toml"),
        "[vars]\nsource = \"nowhere\"\n",
    )
    .expect("env");
    proxy.reset();
    for args in [
        &["plan", stack, "--env", "orphan"][..],
        &["apply", stack, "--env", "orphan", "--yes", "--allow-open"][..],
    ] {
        let (code, stdout, stderr) = run(dir.path(), &proxy.endpoint, args);
        assert_eq!(code, Some(1), "{args:?}\n{stdout}\n{stderr}");
        assert!(stderr.contains("env `nowhere`"), "{stderr}");
        assert!(stderr.contains("nothing was sent to AWS"), "{stderr}");
    }
    let stats = proxy.stats();
    assert_eq!(writes(&stats), Vec::<String>::new(), "{stats}");
    assert!(
        stats["by_operation"]["DescribeDBSnapshots"].as_u64() >= Some(2),
        "{stats}"
    );

    // A saved plan restores from the snapshot it names, checked again at apply: a manual
    // snapshot of the running `keep` env (newer than its automated one) is named, then
    // deleted, and `apply FILE` is refused with nothing changed.
    let manual = format!("{name}-keep-main-manual");
    let rds = |delete: bool| {
        let manual = manual.clone();
        let instance = format!("{name}-keep-main");
        crate::plan::runtime().block_on(async move {
            let aws = crate::plan::Aws::connect().await;
            if delete {
                aws.rds
                    .delete_db_snapshot()
                    .db_snapshot_identifier(manual)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            } else {
                aws.rds
                    .create_db_snapshot()
                    .db_instance_identifier(instance)
                    .db_snapshot_identifier(manual)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
            .expect("snapshot call")
        })
    };
    rds(false);
    std::fs::write(
        dir.path().join("env/copy2.toml"),
        "[vars]\nsource = \"keep\"\n",
    )
    .expect("env");
    let plan_file = dir.path().join("copy2.plan");
    let plan_path = plan_file.to_str().expect("utf-8 path");
    let planned = ok(
        dir.path(),
        &["plan", stack, "--env", "copy2", "--out", plan_path],
    );
    assert!(
        planned.contains(&format!("restored from {manual} (env keep)")),
        "{planned}"
    );
    rds(true);
    proxy.reset();
    let (code, stdout, stderr) = run(
        dir.path(),
        &proxy.endpoint,
        &["apply", plan_path, "--yes", "--allow-open"],
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "snapshot `{manual}` (env `keep`) is no longer available"
        )),
        "{stderr}"
    );
    let stats = proxy.stats();
    assert_eq!(writes(&stats), Vec::<String>::new(), "{stats}");
}

/// A database with an explicit `name` (`${env}` in it): its snapshots are found by their
/// tags alone (every snapshot of the region listed), and the restore works the same.
/// Leans on moto copying a database's tags to its final snapshot, as AWS does with
/// `CopyTagsToSnapshot`.
#[test]
fn a_renamed_database_is_restored_from_a_snapshot_found_by_its_tags() {
    let name = emulator::unique("occn");
    let dir = tempfile::tempdir().expect("stack directory");
    std::fs::create_dir(dir.path().join("env")).expect("env directory");
    std::fs::write(
        dir.path().join("stack.toml"),
        format!(
            r#"[stack]
name = "{name}"
region = "{REGION}"

[vars]
source = ""

[secrets]
pw = {{ env = "{PW_VAR}" }}

[database.main]
name = "data-${{env}}-{name}"
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"
restore_from_env = "${{var.source}}"
"#
        ),
    )
    .expect("stack");
    std::fs::write(dir.path().join("env/src.toml"), "").expect("env");
    std::fs::write(
        dir.path().join("env/dst.toml"),
        "[vars]\nsource = \"src\"\n",
    )
    .expect("env");
    let stack = dir.path().to_str().expect("utf-8 path");
    ok(dir.path(), &["apply", stack, "--env", "src", "--yes"]);
    ok(
        dir.path(),
        &[
            "destroy",
            stack,
            "--env",
            "src",
            "--yes",
            "--allow-data-loss",
        ],
    );
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let (code, planned, stderr) = run(
        dir.path(),
        &proxy.endpoint,
        &["plan", stack, "--env", "dst"],
    );
    assert_eq!(code, Some(0), "{planned}\n{stderr}");
    let prefix = format!("+ database.main  will be created, restored from data-src-{name}-final-");
    assert!(
        planned.contains(&prefix) && planned.contains("(env src)"),
        "{planned}"
    );
    proxy.reset();
    let (code, applied, stderr) = run(
        dir.path(),
        &proxy.endpoint,
        &["apply", stack, "--env", "dst", "--yes"],
    );
    assert_eq!(code, Some(0), "{applied}\n{stderr}");
    let stats = proxy.stats();
    assert_eq!(
        stats["by_operation"]["RestoreDBInstanceFromDBSnapshot"], 1,
        "{stats}"
    );
    assert!(
        stats["by_operation"].get("CreateDBInstance").is_none(),
        "{stats}"
    );
    let again = ok(
        dir.path(),
        &["plan", stack, "--env", "dst", "--detailed-exitcode"],
    );
    assert_eq!(last_line(&again), "No changes.", "{again}");
    ok(
        dir.path(),
        &[
            "destroy",
            stack,
            "--env",
            "dst",
            "--yes",
            "--allow-data-loss",
        ],
    );
}

/// A teardown from tags alone finds the stack's records through the hosted zone tagged as
/// holding them (`stackwright:records:<stack>/<env>`, written with the first record), and
/// takes the tag off once the zone holds none of them.
#[test]
fn destroy_by_tags_finds_records_through_their_tagged_zone() {
    use crate::plan::{Aws, StackDir, runtime};
    let s = StackDir::new("tagzone", |name, zone| {
        format!(
            r#"[stack]
name = "{name}"
region = "{REGION}"

[dns_record.www]
zone = "{zone}"
name = "www.{zone}"
type = "CNAME"
ttl = 60
records = ["target.example.org"]
"#
        )
    });
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let zone_id = rt.block_on(aws.zone(&s.zone));
    let bare = zone_id.trim_start_matches("/hostedzone/").to_string();
    let www = format!("www.{}.", s.zone);
    let state = || {
        rt.block_on(async {
            let sets = aws
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(&zone_id)
                .send()
                .await
                .expect("ListResourceRecordSets");
            let names: Vec<String> = sets
                .resource_record_sets()
                .iter()
                .map(|r| format!("{} {}", r.name(), r.r#type().as_str()))
                .collect();
            let tags = aws
                .route53
                .list_tags_for_resource()
                .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
                .resource_id(&bare)
                .send()
                .await
                .expect("ListTagsForResource");
            let keys: Vec<String> = tags
                .resource_tag_set()
                .map(|t| {
                    t.tags()
                        .iter()
                        .filter_map(|t| t.key().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (names, keys)
        })
    };
    let key = format!("stackwright:records:{}/test", s.name);

    let out = s.run("apply", &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (names, keys) = state();
    assert!(names.contains(&format!("{www} CNAME")), "{names:?}");
    assert!(keys.contains(&key), "{keys:?}");

    let empty = tempfile::tempdir().expect("empty directory");
    let by_tags = [
        "destroy", "--stack", &s.name, "--env", "test", "--region", REGION, "--yes",
    ];
    let (code, stdout, stderr) = run(empty.path(), emulator::endpoint(), &by_tags);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("- dns_record.www"), "{stdout}");
    let (names, keys) = state();
    assert!(!names.iter().any(|n| n.starts_with(&www)), "{names:?}");
    assert!(!keys.contains(&key), "{keys:?}");
}
