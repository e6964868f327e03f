//! `validate` and `graph` as a user runs them; `generate`'s refusals that need no AWS.

use crate::support::{stackwright, text};

#[test]
fn the_reference_stack_validates_in_every_env() {
    for (env, line) in [
        (
            "production",
            "is valid: 8 resources, 2 replicas, 9 addresses, 11 edges, 0 warnings",
        ),
        (
            "staging",
            "is valid: 8 resources, 1 replica, 8 addresses, 8 edges, 0 warnings",
        ),
        (
            "local",
            "is valid: 8 resources, 2 replicas, 9 addresses, 11 edges, 0 warnings",
        ),
    ] {
        let out = stackwright(&["validate", "stacks/paasmaker", "--env", env]);
        assert_eq!(out.status.code(), Some(0), "{env}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!(
                "stack `paasmaker` (env `{env}`, region `ap-southeast-2`)"
            )),
            "{stdout}"
        );
        assert!(stdout.trim_end().ends_with(line), "{env}: {stdout}");
        assert_eq!(text(&out.stderr), "", "no warnings on the reference stack");
    }
}

#[test]
fn graph_prints_dot_whose_edges_are_the_references() {
    let out = stackwright(&["graph", "stacks/paasmaker", "--env", "production"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(
        dot.starts_with("digraph \"paasmaker-production\" {\n"),
        "{dot}"
    );
    let edges: Vec<&str> = dot
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(" -> "))
        .collect();
    assert_eq!(
        edges,
        [
            "\"load_balancer.web\" -> \"instance.heart[0]\";",
            "\"load_balancer.web\" -> \"instance.heart[1]\";",
            "\"database.apps\" -> \"security_group.rds\";",
            "\"instance.heart[0]\" -> \"security_group.paasmaker\";",
            "\"instance.heart[0]\" -> \"dns_record.cluster\";",
            "\"instance.heart[1]\" -> \"security_group.paasmaker\";",
            "\"instance.heart[1]\" -> \"dns_record.cluster\";",
            "\"instance.pacemaker\" -> \"security_group.paasmaker\";",
            "\"instance.pacemaker\" -> \"database.apps\";",
            "\"dns_record.cluster\" -> \"instance.pacemaker\";",
            "\"dns_record.wildcard\" -> \"load_balancer.web\";",
            "\"security_group.rds\" -> \"security_group.paasmaker\" [style = \"dashed\", label = \"rule\"];",
        ]
    );
    let again = stackwright(&["graph", "stacks/paasmaker", "--env", "production"]);
    assert_eq!(again.stdout, out.stdout, "graph output is deterministic");
}

#[test]
fn a_stack_with_env_files_needs_env_and_lists_them() {
    let out = stackwright(&["validate", "stacks/paasmaker"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("has env files; choose one with `--env`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: one of: --env local, --env production, --env staging"),
        "{stderr}"
    );

    let out = stackwright(&["validate", "stacks/paasmaker", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no env file `stacks/paasmaker/env/prod.toml`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the envs of this stack are `local`, `production`, `staging`"),
        "{stderr}"
    );
}

#[test]
fn a_missing_stack_is_a_clear_error() {
    let out = stackwright(&["graph", "no/such/stack"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: `no/such/stack` is not a directory"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn help_has_examples_and_usage_errors_exit_1() {
    for command in ["validate", "graph"] {
        let out = stackwright(&[command, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(
            help.contains("Examples:")
                && help.contains(&format!("stackwright {command} stacks/paasmaker")),
            "{help}"
        );
    }
    let out = stackwright(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "usage errors exit 1: 2 means `changes` for plan"
    );
}

#[test]
fn warnings_are_printed_and_do_not_fail() {
    let out = stackwright(&["validate", "fixtures/warnings", "--env", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: `master_password` is written in the stack file in the clear"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: var `unused` is never used"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("2 warnings"),
        "{}",
        text(&out.stdout)
    );
}

/// `plan` with a clean AWS environment: no profile files, no metadata service.
fn plan_with(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"));
    command
        .args(["plan", "stacks/paasmaker", "--env", "local"])
        .current_dir(crate::support::root())
        .env("NO_COLOR", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run stackwright")
}

#[test]
fn plan_without_credentials_says_so_and_sends_nothing() {
    // A closed port: had anything been sent, the error would be about reaching it.
    let out = plan_with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: no AWS credentials found"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: set AWS_PROFILE"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && out.stdout.is_empty(),
        "{stderr}"
    );
}

#[test]
fn plan_against_an_endpoint_that_is_down_is_a_clear_error() {
    let out = plan_with(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot reach AWS at `http://127.0.0.1:9`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check the endpoint"), "{stderr}");
}

/// `generate` refuses what it can see before reading AWS: a bad stack or env name, and a
/// directory that holds files (no AWS endpoint is configured here: nothing is sent).
#[test]
fn generate_refuses_bad_names_and_a_non_empty_directory_before_reading_aws() {
    let out = stackwright(&[
        "generate",
        "fixtures/warnings",
        "--name",
        "shop",
        "--env",
        "test",
        "sg-12345678",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("`fixtures/warnings` is not empty") && err.contains("--force"),
        "{err}"
    );
    let out = stackwright(&[
        "generate",
        "target/no-such-dir",
        "--name",
        "Shop_1",
        "--env",
        "test",
        "sg-12345678",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: --name `Shop_1`: use lowercase"),
        "{err}"
    );
    assert!(!std::path::Path::new("target/no-such-dir").exists());
}
