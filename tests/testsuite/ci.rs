//! `scripts/ci-plan-comment`, the shell steps of the CI recipes in docs/ci.md, run without
//! GitHub or GitLab: fake `gh` and `curl` on PATH record every call and answer from a file
//! of comments; the plan is real, against the emulator.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::emulator;
use crate::plan::{StackDir, aws_env_at};
use crate::support::{root, text};

/// A fake `gh`: logs its arguments; `api --method …` keeps the body it was given and
/// answers `{}`; any other call prints the comments file.
const FAKE_GH: &str = r#"#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE/log"
if [[ $* == *"--method"* ]]; then
    for a in "$@"; do [[ $a == body=@* ]] && cp "${a#body=@}" "$FAKE/posted"; done
    echo '{}'
else
    cat "$FAKE/comments-1.json"
fi
"#;

/// A fake `curl` for GitLab's API: logs its arguments; PUT and POST keep the body
/// (`--data-urlencode body@FILE`); a GET of page N prints the file of page N, or `[]`.
const FAKE_CURL: &str = r#"#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE/log"
prev=""
for a in "$@"; do
    [[ $prev == --data-urlencode ]] && cp "${a#body@}" "$FAKE/posted"
    prev=$a
done
url=${*: -1}
page=$FAKE/comments-${url##*&page=}.json
if [[ $* == *"--request"* ]]; then echo '{}'
elif [[ -f $page ]]; then cat "$page"
else echo '[]'; fi
"#;

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        for (name, script) in [("gh", FAKE_GH), ("curl", FAKE_CURL)] {
            let path = bin.join(name);
            std::fs::write(&path, script).expect("fake");
            let chmod = std::process::Command::new("chmod")
                .arg("+x")
                .arg(&path)
                .status()
                .expect("chmod");
            assert!(chmod.success());
        }
        let fake = Fake { dir };
        fake.comments("[]");
        fake
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn comments(&self, json: &str) {
        self.page(1, json);
    }

    fn page(&self, n: usize, json: &str) {
        std::fs::write(self.path().join(format!("comments-{n}.json")), json).expect("comments");
    }

    /// The calls made since the last look, one line each.
    fn calls(&self) -> Vec<String> {
        let log = self.path().join("log");
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        calls.lines().map(str::to_string).collect()
    }

    fn posted(&self) -> String {
        std::fs::read_to_string(self.path().join("posted")).expect("a body was posted")
    }

    /// `scripts/ci-plan-comment ARGS` with the fakes first on PATH, against the emulator.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = std::process::Command::new("bash");
        command
            .arg(root().join("scripts/ci-plan-comment"))
            .args(args)
            .current_dir(self.path())
            .envs(aws_env_at(emulator::endpoint()))
            .env("PATH", path)
            .env("FAKE", self.path())
            .env("STACKWRIGHT", env!("CARGO_BIN_EXE_stackwright"))
            .env("NO_COLOR", "1")
            .env_remove("AWS_PROFILE");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("run scripts/ci-plan-comment")
    }
}

fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "--- stdout\n{}--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn group_stack(name: &str, _zone: &str) -> String {
    format!(
        "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
         [security_group.web]\ndescription = \"web\"\n\
         ingress = [ {{ protocol = \"tcp\", ports = \"443\", cidr = \"0.0.0.0/0\" }} ]\n"
    )
}

const GITHUB: [(&str, &str); 2] = [("GITHUB_REPOSITORY", "acme/infra"), ("PR_NUMBER", "7")];

#[test]
fn a_pull_request_gets_one_comment_updated_and_the_saved_plan_applies_on_merge() {
    let s = StackDir::new("ci-github", group_stack);
    let fake = Fake::new();
    let dir = s.path().display().to_string();
    let plan_file = fake.path().join("staging.plan");
    let plan_arg = plan_file.display().to_string();
    let args = ["--env", "test", "--out", plan_arg.as_str()];
    let marker = format!("<!-- stackwright plan: stack={} env=test -->", s.name);

    // Other comments: a person's, and another env's plan of the same stack.
    fake.comments(&format!(
        r#"[{{"id": 5, "body": "LGTM"}},
            {{"id": 6, "body": "<!-- stackwright plan: stack={} env=prod -->\nplan"}}]"#,
        s.name
    ));
    let stdout = succeeded(&fake.run(&[&[dir.as_str()][..], &args].concat(), &GITHUB));
    assert!(stdout.contains("commented on pull request 7"), "{stdout}");
    let posted = fake.posted();
    assert!(posted.starts_with(&format!("{marker}\n")), "{posted}");
    assert!(
        posted.contains("| + create | `security_group.web` |"),
        "{posted}"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{plan_arg}.md")).expect("the comment is kept"),
        posted
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[0],
        "api --paginate repos/acme/infra/issues/7/comments"
    );
    assert_eq!(
        calls[1],
        format!("api --method POST repos/acme/infra/issues/7/comments -F body=@{plan_arg}.md")
    );

    // The next push: the comment it posted is there, and is edited in place.
    let earlier = serde_json::json!([
        {"id": 5, "body": "LGTM"},
        {"id": 9, "body": posted},
        {"id": 11, "body": posted},
    ]);
    fake.comments(&earlier.to_string());
    let stdout = succeeded(&fake.run(&[&[dir.as_str()][..], &args].concat(), &GITHUB));
    assert!(stdout.contains("updated comment 9"), "{stdout}");
    let calls = fake.calls();
    assert_eq!(
        calls[1],
        format!("api --method PATCH repos/acme/infra/issues/comments/9 -F body=@{plan_arg}.md")
    );

    // On merge: exactly the saved plan is applied.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["apply", &plan_arg, "--yes"])
        .envs(aws_env_at(emulator::endpoint()))
        .env("NO_COLOR", "1")
        .output()
        .expect("apply");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 created"),
        "{}",
        text(&out.stdout)
    );
    s.plan(&[], 0);
    let out = s.run("destroy", &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_merge_request_note_is_found_on_any_page_and_updated() {
    let s = StackDir::new("ci-gitlab", group_stack);
    let fake = Fake::new();
    let dir = s.path().display().to_string();
    let env = [
        ("GITLAB_TOKEN", "glpat-test"),
        ("CI_API_V4_URL", "https://gitlab.example/api/v4"),
        ("CI_PROJECT_ID", "42"),
        ("CI_MERGE_REQUEST_IID", "3"),
    ];
    let notes = "https://gitlab.example/api/v4/projects/42/merge_requests/3/notes";
    let run = || fake.run(&[dir.as_str(), "--env", "test", "--forge", "gitlab"], &env);

    let stdout = succeeded(&run());
    assert!(stdout.contains("commented on merge request 3"), "{stdout}");
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].ends_with(&format!(
            "{notes}?sort=asc&order_by=created_at&per_page=100&page=1"
        )),
        "{calls:?}"
    );
    assert!(
        calls[0].contains("--header PRIVATE-TOKEN: glpat-test"),
        "{calls:?}"
    );
    assert!(
        calls[1].ends_with(&format!(
            "--request POST {notes} --data-urlencode body@stackwright.plan.md"
        )),
        "{calls:?}"
    );
    let posted = fake.posted();

    // A busy merge request: the note is on the second page.
    let others: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"id": i, "body": format!("note {i}")}))
        .collect();
    fake.page(1, &serde_json::Value::from(others).to_string());
    fake.page(
        2,
        &serde_json::json!([{"id": 177, "body": posted}]).to_string(),
    );
    let stdout = succeeded(&run());
    assert!(stdout.contains("updated note 177"), "{stdout}");
    let calls = fake.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[1].ends_with("&page=2"), "{calls:?}");
    assert!(
        calls[2].ends_with(&format!(
            "--request PUT {notes}/177 --data-urlencode body@stackwright.plan.md"
        )),
        "{calls:?}"
    );
}

#[test]
fn a_plan_that_fails_posts_nothing() {
    let fake = Fake::new();
    let missing: PathBuf = fake.path().join("no-such-stack");
    let out = fake.run(&[&missing.display().to_string(), "--env", "test"], &GITHUB);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("stackwright plan failed (exit 1); nothing posted"),
        "{stderr}"
    );
    assert!(fake.calls().is_empty());

    let out = fake.run(
        &["stacks/x", "--env", "test", "--forge", "bitbucket"],
        &GITHUB,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--forge is github or gitlab"));
}
