//! The invalid-stack corpus. Each `fixtures/invalid/NN-name/` holds one mistake (or
//! several, in `multiple-errors`) and an `expect` file: one `FILE:LINE:COL keyword` line per
//! error that must be reported. The full message is pinned by an insta snapshot.

use crate::support::{dirs, root, stackwright, text};

#[test]
fn every_invalid_stack_is_refused_at_its_location() {
    let fixtures = dirs(&root().join("fixtures/invalid"));
    assert!(
        fixtures.len() >= 25,
        "the corpus has {} stacks",
        fixtures.len()
    );
    let mut failures = Vec::new();
    for dir in &fixtures {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let rel = format!("fixtures/invalid/{name}");
        let out = stackwright(&["validate", &rel, "--env", "test"]);
        let stderr = text(&out.stderr);
        if out.status.code() != Some(1) {
            failures.push(format!("{name}: exit {:?}", out.status.code()));
        }
        if stderr.contains("panicked") || !out.stdout.is_empty() {
            failures.push(format!("{name}: panic or output on stdout"));
        }
        let expect = std::fs::read_to_string(dir.join("expect")).expect("expect file");
        let mut expected_errors = 0;
        for line in expect.lines().filter(|l| !l.trim().is_empty()) {
            expected_errors += 1;
            let (location, keyword) = line.split_once(' ').unwrap_or((line, ""));
            if !stderr.contains(&format!("--> {rel}/{location}\n")) {
                failures.push(format!("{name}: no error at {location}"));
            }
            if !stderr.to_lowercase().contains(&keyword.to_lowercase()) {
                failures.push(format!("{name}: no `{keyword}` in the messages"));
            }
        }
        let reported = stderr
            .lines()
            .filter(|l| l.starts_with("error: ") && !l.contains("nothing was sent"))
            .count();
        if reported != expected_errors {
            failures.push(format!(
                "{name}: {reported} errors reported, {expected_errors} expected"
            ));
        }
        let shown = stderr.replace(&rel, "[FIXTURE]");
        insta::assert_snapshot!(name.clone(), shown);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_valid_fixture_loads() {
    for dir in dirs(&root().join("fixtures/valid")) {
        let out = stackwright(&["validate", dir.to_str().unwrap(), "--env", "test"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            dir.display(),
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).is_empty(),
            "{}: {}",
            dir.display(),
            text(&out.stderr)
        );
    }
}
