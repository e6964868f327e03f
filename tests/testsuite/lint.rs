//! `stackwright lint` as a user runs it (issue 16): the reference stack's findings are
//! pinned, with and without the `lint_allow` entries that silence what it chose, and the
//! exit status and JSON follow the contract.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{root, stackwright, text};

const ENVS: [&str; 3] = ["production", "staging", "local"];

/// Copy the reference stack to `dir/paasmaker` without its `lint_allow` lines.
fn without_lint_allow(dir: &Path) {
    let from = root().join("stacks/paasmaker");
    let to = dir.join("paasmaker");
    for sub in ["", "env", "files"] {
        std::fs::create_dir_all(to.join(sub)).expect("directory");
        for entry in std::fs::read_dir(from.join(sub)).expect("read stack") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let body = std::fs::read_to_string(&path).expect("read");
                let body = if sub.is_empty() && path.ends_with("stack.toml") {
                    body.lines()
                        .filter(|l| !l.starts_with("lint_allow"))
                        .map(|l| format!("{l}\n"))
                        .collect()
                } else {
                    body
                };
                std::fs::write(to.join(sub).join(path.file_name().expect("name")), body)
                    .expect("write");
            }
        }
    }
}

/// `stackwright lint` run from `dir`, so paths in the output are relative to it.
fn lint_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run stackwright")
}

#[test]
fn the_reference_stack_lints_clean_in_every_env() {
    for env in ENVS {
        let out = stackwright(&["lint", "stacks/paasmaker", "--env", env]);
        assert_eq!(
            (out.status.code(), text(&out.stdout)),
            (Some(0), String::new()),
            "{env}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "No findings.\n");
    }
}

#[test]
fn what_the_reference_stack_silences_is_pinned() {
    let dir = tempfile::tempdir().expect("temporary directory");
    without_lint_allow(dir.path());
    let mut shown = String::new();
    for env in ENVS {
        let out = lint_in(dir.path(), &["paasmaker", "--env", env]);
        assert_eq!(out.status.code(), Some(2), "{env}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        for line in stdout.lines() {
            assert!(
                line.starts_with("paasmaker/stack.toml:"),
                "each line starts with file:line:col: {line}"
            );
        }
        shown.push_str(&format!("## {env}\n{stdout}{}\n", text(&out.stderr)));
    }
    insta::assert_snapshot!("reference_stack_lint_without_lint_allow", shown);
}

#[test]
fn lint_json_matches_its_schema_and_the_text() {
    let dir = tempfile::tempdir().expect("temporary directory");
    without_lint_allow(dir.path());
    let json = lint_in(dir.path(), &["paasmaker", "--env", "staging", "--json"]);
    assert_eq!(json.status.code(), Some(2), "{}", text(&json.stderr));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let schema_text =
        std::fs::read_to_string(root().join("schemas/lint.schema.json")).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    let plain = text(&lint_in(dir.path(), &["paasmaker", "--env", "staging"]).stdout);
    let findings = value["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), plain.lines().count());
    for (f, line) in findings.iter().zip(plain.lines()) {
        let at = format!(
            "{}:{}:{}: {}[{}] {}: ",
            f["file"].as_str().unwrap_or_default(),
            f["line"],
            f["column"],
            f["severity"].as_str().unwrap_or_default(),
            f["rule"].as_str().unwrap_or_default(),
            f["address"].as_str().unwrap_or_default(),
        );
        assert!(line.starts_with(&at), "{line} vs {at}");
    }

    let clean = stackwright(&["lint", "stacks/paasmaker", "--env", "staging", "--json"]);
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(text(&clean.stdout), "{\n  \"findings\": []\n}\n");
}

#[test]
fn a_stack_that_does_not_load_exits_1_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    without_lint_allow(dir.path());
    let stack = dir.path().join("paasmaker/stack.toml");
    let body = std::fs::read_to_string(&stack).expect("read");
    let body = body.replacen(
        "[instance.pacemaker]\n",
        "[instance.pacemaker]\nlint_allow = [\"single-instanse\"]\n",
        1,
    );
    std::fs::write(&stack, body).expect("write");
    let out = lint_in(dir.path(), &["paasmaker", "--env", "production"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown lint rule `single-instanse` in `lint_allow`")
            && stderr.contains("did you mean `single-instance`?"),
        "{stderr}"
    );
}
