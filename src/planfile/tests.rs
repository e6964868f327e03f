//! Saved plans: the round trip, and every file that is not one refused at once.

use super::*;
use crate::plan::{PlannedBy, Summary};

fn saved() -> SavedPlan {
    let loaded = crate::stack::load_text(
        "[stack]\nname = \"p\"\nregion = \"us-east-1\"\n[security_group.web]\ndescription = \"web\"\n",
        "",
    )
    .unwrap();
    SavedPlan {
        plan: Plan {
            format_version: FORMAT_VERSION,
            stack: "p".into(),
            env: "default".into(),
            region: "us-east-1".into(),
            engine: PlannedBy::Direct,
            changes: Vec::new(),
            summary: Summary::default(),
            warnings: Vec::new(),
            expires: None,
        },
        stack: loaded.stack,
        change_set: None,
        deep: true,
        source: None,
    }
}

#[test]
fn a_plan_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    write(&saved(), &path).unwrap();
    let back = read(&path).unwrap();
    assert_eq!(back.plan, saved().plan);
    assert!(back.deep);
    assert_eq!(back.stack.name, "p");
}

#[test]
fn what_is_not_a_plan_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.plan");
    std::fs::write(&path, "{\"plan\": 3}").unwrap();
    let err = read(&path).unwrap_err();
    assert!(matches!(err, PlanFileError::NotAPlan { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is not a plan saved by `plan --out`")
    );

    let mut old = saved();
    old.plan.format_version = FORMAT_VERSION + 1;
    write(&old, &path).unwrap();
    let err = read(&path).unwrap_err();
    assert!(matches!(err, PlanFileError::Version { .. }), "{err}");
    assert!(err.to_string().contains("plan again"), "{err}");

    let err = read(dir.path()).unwrap_err();
    assert!(matches!(err, PlanFileError::NotAFile { .. }), "{err}");
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.plan");
    // Sparse: no disk and no memory spent on it.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_BYTES + 1).unwrap();
    let err = read(&path).unwrap_err();
    assert!(matches!(err, PlanFileError::TooLarge { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo.plan");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let err = read(&path).unwrap_err();
    assert!(matches!(err, PlanFileError::NotAFile { .. }), "{err}");
}
