//! The formats for CI and pictures: `plan --format text|json|markdown`, `graph --format
//! dot|svg` and `graph --plan`, and `completions`. Plans and `graph --plan` run against the
//! local emulator.

use std::process::{Command, Output};

use crate::emulator;
use crate::plan::{AMI, Aws, StackDir, runtime};
use crate::support::{root, stackwright, text};

/// `stackwright ARGS` from the repository root against the emulator.
fn against_emulator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(args)
        .current_dir(root())
        .envs(emulator::aws_env())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackwright")
}

fn ok(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "--- stdout\n{}--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

// ---------------------------------------------------------------------------------------
// plan --format

/// The reference stack in an account where nothing of it exists but its hosted zone (no
/// other test in this binary uses the stack name `paasmaker` or the zone): everything to
/// create, the SSH rule flagged.
#[test]
fn the_reference_stack_plans_as_a_pull_request_comment() {
    runtime().block_on(async { Aws::connect().await.zone("paasmaker.net").await });
    let out = against_emulator(&[
        "plan",
        "stacks/paasmaker",
        "--env",
        "local",
        "--format",
        "markdown",
        "--detailed-exitcode",
    ]);
    let md = ok(&out, 2);
    assert!(md.len() <= 65_536);
    insta::assert_snapshot!("reference_stack_plan_markdown", md);
}

#[test]
fn json_is_format_json_and_the_two_flags_conflict() {
    let s = StackDir::new("fmt-json", |name, _| {
        format!(
            "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
             [security_group.web]\ndescription = \"web\"\n\
             ingress = [ {{ protocol = \"tcp\", ports = \"443\", cidr = \"0.0.0.0/0\" }} ]\n"
        )
    });
    let json = s.plan(&["--json"], 0);
    assert_eq!(s.plan(&["--format", "json"], 0), json);
    assert!(json.starts_with("{\n"), "{json}");
    let text_plan = s.plan(&["--format", "text"], 0);
    assert_eq!(s.plan(&[], 0), text_plan);
    assert!(
        text_plan.contains("  + security_group.web  will be created"),
        "{text_plan}"
    );

    for flags in [
        &["--json", "--format", "json"][..],
        &["--json", "--format", "markdown"][..],
    ] {
        let out = s.run("plan", flags);
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("cannot be used with"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = s.run("plan", &["--format", "yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("[possible values: text, json, markdown]"),
        "{}",
        text(&out.stderr)
    );
}

/// An instance whose secret-bearing user data changed in the stack, read for real with
/// `--deep`: the comment shows the diff through the secret, never its value.
#[test]
fn a_markdown_plan_never_holds_a_secret() {
    let stack = |name: &str, user_data: &str| {
        format!(
            "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
             [secrets]\ntoken = {{ env = \"{var}\" }}\n\n\
             [instance.web]\nami = \"{AMI}\"\ninstance_type = \"t2.micro\"\n\
             user_data = \"\"\"{user_data}\"\"\"\n",
            var = crate::plan::TOKEN_VAR
        )
    };
    let s = StackDir::new("fmt-secret", |name, _| {
        stack(name, "#!/bin/sh\necho 'token=${secret.token}'\n")
    });
    let secret = "hunter2-do-not-print";
    let env = [(crate::plan::TOKEN_VAR, secret)];
    ok(
        &s.run_with("apply", &["--yes"], &env, emulator::endpoint()),
        0,
    );
    std::fs::write(
        s.path().join("stack.toml"),
        stack(&s.name, "#!/bin/sh\necho 'token=${secret.token} v2'\n"),
    )
    .expect("stack.toml");
    let md = ok(
        &s.run_with(
            "plan",
            &["--format", "markdown", "--deep", "--detailed-exitcode"],
            &env,
            emulator::endpoint(),
        ),
        2,
    );
    assert!(!md.contains(secret), "{md}");
    assert!(md.contains("\n-    echo 'token=(sensitive)'\n"), "{md}");
    assert!(md.contains("\n+    echo 'token=(sensitive) v2'\n"), "{md}");
    ok(
        &s.run_with("destroy", &["--yes"], &env, emulator::endpoint()),
        0,
    );
}

#[test]
fn help_lists_the_plan_formats() {
    let out = stackwright(&["plan", "--help"]);
    let help = text(&out.stdout);
    assert!(help.contains("--format <FORMAT>"), "{help}");
    assert!(help.contains("--format markdown"), "{help}");
}
