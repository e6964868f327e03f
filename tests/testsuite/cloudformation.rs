//! The CloudFormation engine end to end (issue 5), against the emulator's CloudFormation
//! through the real SDK:
//!
//! - `export cloudformation`: the exported template holds no secret and creates the stack;
//! - `--engine cloudformation`: plan (a change set, deleted again), apply (executed and
//!   followed), a clean re-plan, a new replica planned and applied, output, and destroy
//!   behind the gates; the direct engine leaves what CloudFormation manages alone.
//!
//! Leans on the emulator: moto creates every resource at once; it does not check a
//! template as strictly as CloudFormation (unknown properties pass). Its
//! `AWS::EC2::KeyPair` is broken (created under a mangled name, listed without its
//! logical id), so the key pair is the one resource not checked here. Its change sets say
//! nothing of replacement (the unit tests cover AWS's answers), it writes no events per
//! resource, never rolls back (a failed execution is an error of the call), returns no
//! stack Outputs for a stack made by change sets (so `output` works them out from the
//! stack's resources) and drops an ELB's tags (so those are found by CloudFormation's
//! physical ids).

use std::collections::BTreeSet;

use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use serde_json::Value as Json;

use crate::apply::Run;
use crate::census::census;
use crate::plan::{Aws, ENV, PW_VAR, StackDir, TOKEN_VAR, full_stack, runtime};
use crate::support::text;

const PW: &str = "cfn-canary-pw-31337";
const TOKEN: &str = "cfn-canary-token-27182";

#[test]
fn the_exported_template_holds_no_secret_and_cloudformation_creates_the_stack() {
    let s = StackDir::new("cfn", full_stack);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["export", "cloudformation"])
        .arg(s.path())
        .args(["--env", ENV])
        .env(PW_VAR, PW)
        .env(TOKEN_VAR, TOKEN)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run stackwright");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for secret in [PW, TOKEN] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let template: Json = serde_json::from_str(&stdout).expect("the template is JSON");
    let types: BTreeSet<&str> = template["Resources"]
        .as_object()
        .expect("Resources")
        .values()
        .map(|r| r["Type"].as_str().expect("Type"))
        .collect();
    let expected: BTreeSet<&str> = [
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::KeyPair",
        "AWS::ElasticLoadBalancing::LoadBalancer",
        "AWS::RDS::DBInstance",
        "AWS::EC2::Instance",
        "AWS::Route53::RecordSet",
    ]
    .into();
    assert_eq!(types, expected);
    assert_eq!(template["Parameters"]["SecretPw"]["NoEcho"], true);
    // Secure defaults (issue 16): IMDSv2 required, the root volume and storage encrypted.
    let instance = &template["Resources"]["InstanceWeb0"]["Properties"];
    assert_eq!(instance["MetadataOptions"]["HttpTokens"], "required");
    assert_eq!(instance["BlockDeviceMappings"][0]["Ebs"]["Encrypted"], true);
    assert_eq!(
        template["Resources"]["DatabaseMain"]["Properties"]["StorageEncrypted"],
        true
    );
    // The emulator refuses a root volume mapping without a size (AWS takes the image's,
    // as the engine, which reads it, says): one is given here for it.
    let mut given = template.clone();
    for r in given["Resources"]
        .as_object_mut()
        .expect("Resources")
        .values_mut()
    {
        if let Some(ebs) = r
            .pointer_mut("/Properties/BlockDeviceMappings/0/Ebs")
            .and_then(Json::as_object_mut)
        {
            ebs.entry("VolumeSize").or_insert("8".into());
        }
    }
    let body = serde_json::to_string(&given).expect("JSON");

    let rt = runtime();
    rt.block_on(async {
        Aws::connect().await.zone(&s.zone).await;
        let config = Aws::config().await;
        let cfn = aws_sdk_cloudformation::Client::new(&config);
        let parameter = |k: &str, v: &str| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        };
        cfn.create_stack()
            .stack_name(&s.name)
            .template_body(&body)
            .parameters(parameter("SecretPw", PW))
            .parameters(parameter("SecretToken", TOKEN))
            .send()
            .await
            .expect("CreateStack");
        let stack = cfn
            .describe_stacks()
            .stack_name(&s.name)
            .send()
            .await
            .expect("DescribeStacks");
        let stack = &stack.stacks()[0];
        assert_eq!(
            stack.stack_status(),
            Some(&StackStatus::CreateComplete),
            "{:?}",
            stack.stack_status_reason()
        );
        let resources = cfn
            .describe_stack_resources()
            .stack_name(&s.name)
            .send()
            .await
            .expect("DescribeStackResources");
        let created: BTreeSet<&str> = resources
            .stack_resources()
            .iter()
            .filter_map(|r| r.logical_resource_id())
            .collect();
        for id in [
            "SecurityGroupWeb",
            "SecurityGroupDb",
            "LoadBalancerWeb",
            "DatabaseMain",
            "InstanceWeb0",
            "InstanceWeb1",
            "DnsRecordWww",
        ] {
            assert!(created.contains(id), "{id} not created: {created:?}");
        }
        cfn.delete_stack()
            .stack_name(&s.name)
            .send()
            .await
            .expect("DeleteStack");
    });
}

const CF: [&str; 2] = ["--engine", "cloudformation"];
const SECRETS: [(&str, &str); 2] = [(PW_VAR, PW), (TOKEN_VAR, TOKEN)];

/// [`full_stack`] with outputs, and `count` replicas of the instance.
fn counted(count: u32) -> impl Fn(&str, &str) -> String {
    move |name, zone| {
        format!(
            "{}\n[outputs]\nbalancer = \"${{load_balancer.web.dns_name}}\"\n\
             database = \"${{database.main.address}}\"\nfirst = \"${{instance.web[0].public_dns}}\"\n",
            full_stack(name, zone).replace("count = 2", &format!("count = {count}"))
        )
    }
}

/// Every command run in a test, to check no secret was ever printed.
#[derive(Default)]
struct Transcript(Vec<Run>);

impl Transcript {
    fn run(&mut self, s: &StackDir, command: &str, args: &[&str], env: &[(&str, &str)]) -> &Run {
        let mut all: Vec<&str> = CF.to_vec();
        all.extend_from_slice(args);
        self.0.push(s.cli_with(command, &all, env));
        self.0.last().expect("just pushed")
    }

    fn no_secret_printed(&self) {
        for run in &self.0 {
            for secret in [PW, TOKEN] {
                assert!(
                    !run.stdout.contains(secret) && !run.stderr.contains(secret),
                    "a secret was printed\n{}",
                    run.shown()
                );
            }
        }
    }
}

/// The stack's CloudFormation stack: its status, or `None` when there is none.
async fn stack_status(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Option<StackStatus> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out.stacks().first().and_then(|s| s.stack_status()).cloned(),
        Err(e) => {
            let text = format!("{:?}", e);
            assert!(text.contains("does not exist"), "DescribeStacks: {text}");
            None
        }
    }
}

/// The ids of the stack's instances that are not terminated, found by its tags.
async fn running(aws: &Aws, stack: &str) -> BTreeSet<String> {
    census(aws, stack, None)
        .await
        .into_iter()
        .filter(|(address, _)| address.starts_with("instance."))
        .flat_map(|(_, ids)| ids)
        .collect()
}

/// What a test of the engine works with: the CloudFormation stack's name, SDK clients on
/// the emulator, and the stack's hosted zone made.
struct World {
    cf_name: String,
    rt: tokio::runtime::Runtime,
    aws: Aws,
    cfn: aws_sdk_cloudformation::Client,
}

impl World {
    fn new(s: &StackDir) -> World {
        let rt = runtime();
        let aws = rt.block_on(Aws::connect());
        rt.block_on(aws.zone(&s.zone));
        let cfn = aws_sdk_cloudformation::Client::new(&rt.block_on(Aws::config()));
        World {
            cf_name: format!("{}-{ENV}", s.name),
            rt,
            aws,
            cfn,
        }
    }
}

/// `stackwright apply FILE --yes` against the emulator, no secret set: its stdout and
/// stderr, after checking it exited with `code`.
fn apply_file(file: &std::path::Path, code: i32) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .arg("apply")
        .arg(file)
        .arg("--yes")
        .envs(crate::plan::aws_env_at(crate::emulator::endpoint()))
        .env("NO_COLOR", "1")
        .env_remove(PW_VAR)
        .env_remove(TOKEN_VAR)
        .output()
        .expect("run stackwright");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// A plan printed by `--json`, which must match `schemas/plan.schema.json` as the direct
/// engine's do.
fn plan_json(run: &Run) -> Json {
    let plan = json(run);
    let problems = crate::plan_json::errors(&crate::plan_json::validator(), &plan);
    assert!(problems.is_empty(), "{problems:#?}\n{}", run.shown());
    plan
}

fn json(run: &Run) -> Json {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.shown()))
}

fn actions(plan: &Json) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().expect("address").to_string(),
                c["action"].as_str().expect("action").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_cloudformation_engine_plans_applies_replans_clean_scales_and_destroys() {
    let s = StackDir::new("cfe", counted(2));
    let World {
        cf_name,
        rt,
        aws,
        cfn,
    } = World::new(&s);
    let mut t = Transcript::default();

    // A plan of a stack not created yet: every address created, and nothing left behind
    // (the empty stack a first change set makes is deleted with it). No secret is needed.
    let run = t.run(&s, "plan", &["--json", "--detailed-exitcode"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.shown());
    let plan = plan_json(run);
    let created: BTreeSet<String> = actions(&plan)
        .into_iter()
        .map(|(address, action)| {
            assert_eq!(action, "create", "{address}");
            address
        })
        .collect();
    let expected: BTreeSet<String> = crate::plan::FULL_ADDRESSES
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(created, expected);
    assert_eq!(plan["summary"]["data_loss"], 0);
    assert_eq!(rt.block_on(stack_status(&cfn, &cf_name)), None);

    // Apply without the secrets: refused, naming the variable, nothing made.
    let run = t.run(&s, "apply", &["--yes"], &[]);
    assert_eq!(run.code, Some(1), "{}", run.shown());
    assert!(
        run.stderr.contains(PW_VAR) || run.stderr.contains(TOKEN_VAR),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(stack_status(&cfn, &cf_name)), None);

    // Apply: the stack is created, and its resources carry the engine's tag.
    let run = t.run(&s, "apply", &["--yes"], &SECRETS);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 8 created, 0 updated, 0 replaced, 0 destroyed."
    );
    assert_eq!(
        rt.block_on(stack_status(&cfn, &cf_name)),
        Some(StackStatus::CreateComplete)
    );
    let first = rt.block_on(running(&aws, &s.name));
    assert_eq!(first.len(), 2, "{first:?}");
    let tags = rt.block_on(async {
        aws.ec2
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .values(first.iter().next().expect("an instance"))
                    .build(),
            )
            .send()
            .await
            .expect("DescribeTags")
    });
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("stackwright:engine") && t.value() == Some("cloudformation")),
        "{tags:?}"
    );

    // Planned again right after, with no secret set: clean.
    let run = t.run(&s, "plan", &["--detailed-exitcode"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    assert!(run.stdout.contains("No changes."), "{}", run.shown());

    // The outputs, worked out from the stack's resources where moto gives none.
    let run = t.run(&s, "output", &["--json"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    let outputs = json(run);
    let balancer = outputs["balancer"].as_str().expect("balancer");
    assert!(balancer.contains(&s.physical("web")), "{outputs}");
    assert!(
        outputs["database"]
            .as_str()
            .expect("database")
            .contains(&s.physical("main"))
    );
    assert!(
        outputs["first"].as_str().is_some_and(|d| !d.is_empty()),
        "{outputs}"
    );

    // The direct engine leaves what CloudFormation manages alone, and says so: nothing of
    // the stack is its to destroy, and it refuses to create what CloudFormation has.
    let run = s.cli_with("destroy", &["--yes", "--allow-data-loss"], &SECRETS);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    assert!(run.stdout.contains("No changes."), "{}", run.shown());
    assert!(
        run.stdout.contains("`instance.web[0]`, `instance.web[1]`")
            && run.stdout.contains("managed by CloudFormation"),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(running(&aws, &s.name)), first);
    t.0.push(run);
    let run = s.cli_with("apply", &["--yes"], &SECRETS);
    assert_eq!(run.code, Some(1), "{}", run.shown());
    assert!(
        run.stderr.contains("already exist under CloudFormation"),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(running(&aws, &s.name)), first);
    t.0.push(run);

    // A third replica: planned as its create and the balancer's update, then applied.
    std::fs::write(s.path().join("stack.toml"), counted(3)(&s.name, &s.zone)).expect("rewrite");
    let run = t.run(&s, "plan", &["--json", "--detailed-exitcode"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.shown());
    let plan = plan_json(run);
    assert_eq!(
        actions(&plan),
        [
            ("instance.web[2]".to_string(), "create".to_string()),
            ("load_balancer.web".to_string(), "update".to_string()),
        ]
    );
    let instances = &plan["changes"][1]["attrs"][0];
    assert_eq!(instances["name"], "instances");
    assert_eq!(
        instances["after"]["list"],
        serde_json::json!(["instance.web[0]", "instance.web[1]", "instance.web[2]"])
    );
    let run = t.run(&s, "apply", &["--yes"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 1 created, 1 updated, 0 replaced, 0 destroyed."
    );
    assert_eq!(rt.block_on(running(&aws, &s.name)).len(), 3);
    let run = t.run(&s, "plan", &["--detailed-exitcode"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());

    // Destroy: the database's data needs --allow-data-loss, then the stack goes.
    let run = t.run(&s, "destroy", &["--yes"], &[]);
    assert_eq!(run.code, Some(1), "{}", run.shown());
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.shown());
    assert!(run.stdout.contains("- database.main"), "{}", run.shown());
    assert_eq!(
        rt.block_on(stack_status(&cfn, &cf_name)),
        Some(StackStatus::UpdateComplete)
    );
    let run = t.run(&s, "destroy", &["--yes", "--allow-data-loss"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    // Everything CloudFormation lists as existing: all 9 addresses but the key pair, which
    // the emulator lists without its logical id (AWS lists it; DeleteStack deletes it
    // either way).
    assert_eq!(
        run.summary(),
        "Destroy complete [ELAPSED]: 0 created, 0 updated, 0 replaced, 8 destroyed."
    );
    assert!(!run.stdout.contains("- key_pair.main"), "{}", run.shown());
    assert_eq!(rt.block_on(stack_status(&cfn, &cf_name)), None);
    // Nothing of the stack is left that its tags find (the emulator's ELB has none).
    let left = rt.block_on(census(&aws, &s.name, None));
    assert!(left.is_empty(), "{left:?}");
    let run = t.run(&s, "output", &[], &[]);
    assert_eq!(run.code, Some(1), "{}", run.shown());
    let run = t.run(&s, "plan", &["--detailed-exitcode"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.shown());

    t.no_secret_printed();
}

#[test]
fn the_cloudformation_engine_refuses_what_it_cannot_do_before_calling_aws() {
    let s = StackDir::new("cfr", counted(1));
    // No emulator is needed: each of these is refused before any call.
    let dead = "http://127.0.0.1:9";
    let mut args = CF.to_vec();
    args.push("--deep");
    let out = s.run_with("plan", &args, &[], dead);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("drop --deep"), "{stderr}");
    // Over CloudFormation's 500 resources a stack: said, with the count, before any call
    // (issue 18; a template over 51,200 bytes now goes through S3, see `cfn_s3`).
    let large = StackDir::new("cfl", |name, zone| {
        full_stack(name, zone).replace("count = 2", "count = 600")
    });
    let out = large.run_with("plan", &CF, &[], dead);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("resources; a CloudFormation stack holds at most 500"),
        "{stderr}"
    );
}

/// Review of issue 5: a CloudFormation stack of the same name that stackwright did not
/// write for this stack and env is refused (`a-b` env `c` and `a` env `b-c` share a
/// name); one that holds only change sets (left by an interrupted plan) is deleted by
/// `destroy`.
#[test]
fn a_stack_of_the_same_name_is_refused_unless_ours_and_an_empty_one_is_destroyed() {
    let s = StackDir::new("cfo", counted(1));
    let cf_name = format!("{}-{ENV}", s.name);
    let rt = runtime();
    let cfn = aws_sdk_cloudformation::Client::new(&rt.block_on(Aws::config()));
    let foreign = serde_json::json!({
        "Resources": { "Theirs": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": { "GroupDescription": "not stackwright's" },
        }},
    })
    .to_string();
    rt.block_on(async {
        cfn.create_stack()
            .stack_name(&cf_name)
            .template_body(&foreign)
            .send()
            .await
            .expect("CreateStack")
    });
    let mut t = Transcript::default();
    for command in ["plan", "destroy"] {
        let run = t.run(
            &s,
            command,
            &["--yes", "--allow-data-loss"][..usize::from(command == "destroy") * 2],
            &SECRETS,
        );
        assert_eq!(run.code, Some(1), "{}", run.shown());
        assert!(
            run.stderr.contains(&format!(
                "CloudFormation stack `{cf_name}` is not stack `{}` env `{ENV}`",
                s.name
            )) && run.stderr.contains("not written by stackwright"),
            "{}",
            run.shown()
        );
    }
    assert_eq!(
        rt.block_on(stack_status(&cfn, &cf_name)),
        Some(StackStatus::CreateComplete)
    );
    rt.block_on(async {
        cfn.delete_stack()
            .stack_name(&cf_name)
            .send()
            .await
            .expect("DeleteStack")
    });

    // A stack that holds only a change set, somebody else's: refused.
    let made = rt.block_on(async {
        cfn.create_change_set()
            .stack_name(&cf_name)
            .change_set_name("theirs")
            .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
            .template_body(&foreign)
            .send()
            .await
            .expect("CreateChangeSet")
    });
    let run = t.run(&s, "destroy", &["--yes"], &[]);
    assert_eq!(run.code, Some(1), "{}", run.shown());
    assert!(
        run.stderr
            .contains("holds only change sets, and 1 of them is not"),
        "{}",
        run.shown()
    );
    // Once that is gone, the empty stack (as an interrupted plan leaves one) is deleted.
    rt.block_on(async {
        cfn.delete_change_set()
            .change_set_name(made.id().expect("an id"))
            .send()
            .await
            .expect("DeleteChangeSet");
    });
    assert_eq!(
        rt.block_on(stack_status(&cfn, &cf_name)),
        Some(StackStatus::ReviewInProgress)
    );
    let run = t.run(&s, "destroy", &["--yes"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    assert!(
        run.stdout.contains("holds only change sets"),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(stack_status(&cfn, &cf_name)), None);
    t.no_secret_printed();
}

/// `plan --out` keeps its change set; `apply FILE` executes exactly it (with no secret set:
/// the change set holds the parameters) and refuses a plan made before the stack changed.
#[test]
fn a_saved_change_set_is_applied_exactly_and_refused_once_the_stack_moved() {
    let s = StackDir::new("cfs", counted(1));
    let World {
        cf_name,
        rt,
        aws,
        cfn,
    } = World::new(&s);
    let mut t = Transcript::default();
    let run = t.run(&s, "apply", &["--yes"], &SECRETS);
    assert_eq!(run.code, Some(0), "{}", run.shown());

    // Two plans of a second replica, saved.
    std::fs::write(s.path().join("stack.toml"), counted(2)(&s.name, &s.zone)).expect("rewrite");
    let first = s.path().join("first.plan");
    let second = s.path().join("second.plan");
    for file in [&first, &second] {
        let path = file.to_str().expect("a UTF-8 path");
        let run = t.run(&s, "plan", &["--out", path, "--detailed-exitcode"], &[]);
        assert_eq!(run.code, Some(2), "{}", run.shown());
        let text = std::fs::read_to_string(file).expect("the saved plan");
        assert!(!text.contains(PW) && !text.contains(TOKEN));
        let saved: Json = serde_json::from_str(&text).expect("JSON");
        assert_eq!(saved["plan"]["engine"], "cloudformation");
        assert!(saved["change_set"]["id"].as_str().is_some(), "{saved}");
    }
    let kept = rt.block_on(async {
        cfn.list_change_sets()
            .stack_name(&cf_name)
            .send()
            .await
            .expect("ListChangeSets")
    });
    let available = kept
        .summaries()
        .iter()
        .filter(|c| c.stack_name() == Some(cf_name.as_str()))
        .filter(|c| c.execution_status().map(|e| e.as_str()) == Some("AVAILABLE"))
        .count();
    assert_eq!(available, 2, "{kept:?}");

    // A saved plan edited to show less than its change set does: refused, and the change
    // set is kept for the real one.
    let tampered = s.path().join("tampered.plan");
    let mut edited: Json =
        serde_json::from_str(&std::fs::read_to_string(&first).expect("plan")).expect("JSON");
    edited["plan"]["changes"]
        .as_array_mut()
        .expect("changes")
        .truncate(1);
    std::fs::write(&tampered, edited.to_string()).expect("write");
    let (_, stderr) = apply_file(&tampered, 1);
    assert!(
        stderr.contains("does not read as its change set"),
        "{stderr}"
    );
    // Edited to show another instance type than its change set was made with: since
    // issue 13 the stack is read again from its directory, and the file's is not it (before,
    // the change set's template digest caught it, later).
    let text = std::fs::read_to_string(&first).expect("plan");
    assert!(text.contains("t2.micro"));
    std::fs::write(&tampered, text.replace("t2.micro", "t2.large")).expect("write");
    let (_, stderr) = apply_file(&tampered, 1);
    assert!(
        stderr.contains("the stack in the saved plan is not the stack in"),
        "{stderr}"
    );

    // The first is applied exactly, with no secret set and no --env.
    let (stdout, _) = apply_file(&first, 0);
    assert!(
        stdout.contains("Apply complete") && stdout.contains("1 created, 1 updated"),
        "{stdout}"
    );
    assert_eq!(rt.block_on(running(&aws, &s.name)).len(), 2);

    // The second was made before that: refused, and nothing changes.
    let (_, stderr) = apply_file(&second, 1);
    assert!(
        stderr.contains("has changed since this plan was made")
            || stderr.contains("cannot be executed"),
        "{stderr}"
    );
    assert_eq!(rt.block_on(running(&aws, &s.name)).len(), 2);
    let run = t.run(&s, "plan", &["--detailed-exitcode"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());

    let run = t.run(&s, "destroy", &["--yes", "--allow-data-loss"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.shown());
    t.no_secret_printed();
}

/// Issue 11: an apply that could never be confirmed (no `--yes`, no terminal) is refused
/// before a change set is made: CreateChangeSet writes to AWS (for a new stack, it makes one).
#[test]
fn an_apply_without_yes_or_terminal_makes_no_change_set() {
    let s = StackDir::new("cfnotty", counted(1));
    let world = World::new(&s);
    let mut t = Transcript::default();
    let run = t.run(&s, "apply", &[], &SECRETS);
    assert_eq!(run.code, Some(1), "{}", run.shown());
    assert!(run.stderr.contains("without a terminal"), "{}", run.shown());
    let stacks = world
        .rt
        .block_on(async { world.cfn.list_stacks().send().await.expect("ListStacks") });
    assert!(
        !stacks
            .stack_summaries()
            .iter()
            .any(|st| st.stack_name() == Some(world.cf_name.as_str())),
        "no stack, not even one REVIEW_IN_PROGRESS: {stacks:?}"
    );
}
