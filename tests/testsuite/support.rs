//! Running the built `stackwright` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `stackwright ARGS` from the repository root, without colour.
pub fn stackwright(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run stackwright")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Subdirectories of `dir`, sorted.
pub fn dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}
