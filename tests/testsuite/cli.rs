//! `validate` and `graph` as a user runs them.

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
