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
    // The template changed, so the text AWS holds cannot be aligned to it: an old secret
    // could sit anywhere in it, and none of it is shown (issue 13).
    assert!(
        md.contains("user_data : (differs; not shown: it may hold secrets)"),
        "{md}"
    );
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

// ---------------------------------------------------------------------------------------
// completions

/// Whether `program` is on PATH.
fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_completion_script_names_the_commands_and_loads_in_its_shell() {
    // The shell, and how it checks a script without running it (where it is installed).
    let shells: [(&str, &str, &[&str]); 4] = [
        ("bash", "bash", &["-n"]),
        ("zsh", "zsh", &["-n"]),
        ("fish", "fish", &["--no-execute"]),
        ("powershell", "pwsh", &["-NoProfile", "-File"]),
    ];
    let dir = tempfile::tempdir().expect("temporary directory");
    for (shell, program, check) in shells {
        let script = ok(&stackwright(&["completions", shell]), 0);
        for word in [
            "validate",
            "plan",
            "graph",
            "completions",
            "markdown",
            "--engine",
        ] {
            assert!(script.contains(word), "{shell}: no {word:?}");
        }
        let path = dir.path().join(format!("stackwright.{shell}"));
        std::fs::write(&path, &script).expect("script");
        if installed(program) {
            let out = Command::new(program)
                .args(check)
                .arg(&path)
                .output()
                .expect("run the shell");
            assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        }
    }
    let out = stackwright(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[possible values: bash, zsh, fish, powershell]"));
}

/// Bash, which is always there: the script loads, registers itself, and completes.
#[test]
fn the_bash_completion_completes_commands_and_formats() {
    let script = ok(&stackwright(&["completions", "bash"]), 0);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("stackwright.bash");
    std::fs::write(&path, script).expect("script");
    let probe = r#"
        source "$1" || exit 9
        complete -p stackwright || exit 8
        complete_at() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"
            COMP_POINT=${#COMP_LINE}; COMPREPLY=()
            _stackwright stackwright "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            echo "${COMPREPLY[*]}"; }
        complete_at stackwright pl
        complete_at stackwright plan stacks/x --format ''
        complete_at stackwright graph stacks/x --format ''
        complete_at stackwright completions ''
    "#;
    let out = Command::new("bash")
        .args(["-c", probe, "probe"])
        .arg(&path)
        .output()
        .expect("bash");
    let stdout = ok(&out, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "complete -o bashdefault -o default -o nosort -F _stackwright stackwright",
            "plan",
            "text json markdown",
            "dot svg",
            "-h --help bash zsh fish powershell",
        ],
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// graph --format and --plan

/// A stack of three groups and two instances; `v2` changes one instance in place,
/// replaces the other (a new AMI), adds a group and drops another.
fn graph_stack(name: &str, v2: bool) -> String {
    let (kind, ami, group) = if v2 {
        ("t2.small", "ami-785db401", "new")
    } else {
        ("t2.micro", AMI, "old")
    };
    format!(
        "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
         [security_group.web]\ndescription = \"web\"\n\
         ingress = [ {{ protocol = \"tcp\", ports = \"443\", cidr = \"0.0.0.0/0\" }} ]\n\n\
         [security_group.{group}]\ndescription = \"{group}\"\n\n\
         [instance.a]\nami = \"{AMI}\"\ninstance_type = \"{kind}\"\nsecurity_groups = [\"web\"]\n\n\
         [instance.b]\nami = \"{ami}\"\ninstance_type = \"t2.micro\"\nsecurity_groups = [\"web\"]\n"
    )
}

#[test]
fn graph_plan_colours_each_address_by_its_action() {
    let s = StackDir::new("fmt-graph", |name, _| graph_stack(name, false));
    ok(&s.run("apply", &["--yes"]), 0);
    std::fs::write(s.path().join("stack.toml"), graph_stack(&s.name, true)).expect("stack");

    let dot = ok(&s.run("graph", &["--plan"]), 0);
    let line = |address: &str| {
        dot.lines()
            .find(|l| l.starts_with(&format!("  \"{address}\"")) && !l.contains(" -> "))
            .unwrap_or_else(|| panic!("no node {address} in\n{dot}"))
            .trim()
            .to_string()
    };
    assert_eq!(line("security_group.web"), "\"security_group.web\";");
    assert_eq!(
        line("security_group.new"),
        "\"security_group.new\" [label = \"+ security_group.new\", color = \"#1a7f37\", \
         fillcolor = \"#dafbe1\", style = \"filled\"];"
    );
    assert_eq!(
        line("instance.a"),
        "\"instance.a\" [label = \"~ instance.a\", color = \"#9a6700\", \
         fillcolor = \"#fff8c5\", style = \"filled\"];"
    );
    assert_eq!(
        line("instance.b"),
        "\"instance.b\" [label = \"-/+ instance.b\", color = \"#8250df\", \
         fillcolor = \"#fbefff\", style = \"filled\"];"
    );
    assert_eq!(
        line("security_group.old"),
        "\"security_group.old\" [label = \"- security_group.old\", color = \"#cf222e\", \
         fillcolor = \"#ffebe9\", style = \"filled,dashed\"];"
    );
    // Without --plan, nothing is read and nothing is coloured.
    let plain = ok(&s.run("graph", &[]), 0);
    assert!(
        !plain.contains("color") && !plain.contains("security_group.old"),
        "{plain}"
    );

    let svg = ok(&s.run("graph", &["--plan", "--format", "svg"]), 0);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let fills: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|n| n.attribute("fill"))
        .collect();
    for fill in [
        "#dafbe1ff",
        "#fff8c5ff",
        "#fbefffff",
        "#ffebe9ff",
        "#ffffffff",
    ] {
        assert_eq!(
            fills.iter().filter(|f| **f == fill).count(),
            1,
            "{fill} in {fills:?}"
        );
    }
    // The plan is the same as `plan` prints: graph --plan changed nothing.
    let again = ok(&s.run("graph", &["--plan"]), 0);
    assert_eq!(again, dot);
    std::fs::write(s.path().join("stack.toml"), graph_stack(&s.name, false)).expect("stack");
    ok(&s.run("destroy", &["--yes"]), 0);
}

#[test]
fn graph_svg_of_the_reference_stack_is_xml_with_a_box_per_address() {
    let svg = ok(
        &stackwright(&[
            "graph",
            "stacks/paasmaker",
            "--env",
            "production",
            "--format",
            "svg",
        ]),
        0,
    );
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    // production: two groups, the ELB, the database, the pacemaker, two records and
    // its hearts.
    let dot = ok(
        &stackwright(&["graph", "stacks/paasmaker", "--env", "production"]),
        0,
    );
    let nodes = dot
        .lines()
        .filter(|l| l.trim_end().ends_with("\";") && !l.contains("->") && !l.contains('='))
        .count();
    assert_eq!(rects, nodes, "{dot}");
    assert!(svg.contains("<title>paasmaker-production</title>"));
    let again = stackwright(&[
        "graph",
        "stacks/paasmaker",
        "--env",
        "production",
        "--format",
        "svg",
    ]);
    assert_eq!(text(&again.stdout), svg, "the same picture every time");
}
