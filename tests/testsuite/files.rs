//! Files that are not what they seem (issue 13): links that lead out of the stack
//! directory, FIFOs, oversized files. Links and FIFOs are made here, at run time, in a
//! temporary stack; nothing of the kind is committed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::text;

const STACK: &str = r#"[stack]
name = "fx"
region = "us-east-1"

[security_group.web]
description = "web"

[instance.web]
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
user_data = { template = "files/web.sh" }
"#;

/// Where `template = "files/web.sh"`'s value starts in [`STACK`].
const TEMPLATE_AT: &str = "stack.toml:12:26";

/// A stack directory holding [`STACK`], an empty `env/test.toml` and `files/`.
fn stack_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir_all(dir.path().join("env")).expect("env");
    std::fs::create_dir_all(dir.path().join("files")).expect("files");
    std::fs::write(dir.path().join("stack.toml"), STACK).expect("stack.toml");
    std::fs::write(dir.path().join("env/test.toml"), "").expect("env file");
    dir
}

/// `stackwright validate DIR --env test`: exit code and stderr, or a failure if it has not
/// finished within 20 s (it is killed then).
fn validate(dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args([
            "validate",
            dir.to_str().expect("utf-8 path"),
            "--env",
            "test",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stackwright");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
                .expect("stderr");
            return (status.code(), stderr);
        }
        if Instant::now() > deadline {
            child.kill().expect("kill");
            child.wait().expect("wait");
            panic!("`stackwright validate {}` hung", dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused_at(stderr: &str, dir: &Path, location: &str, words: &[&str]) {
    let at = format!("--> {}/{location}\n", dir.display());
    assert!(stderr.contains(&at), "no error at {location}:\n{stderr}");
    for word in words {
        assert!(stderr.contains(word), "no `{word}` in:\n{stderr}");
    }
}

#[cfg(unix)]
#[test]
fn files_a_template_linked_outside_the_stack_is_refused_at_its_line() {
    let outside = tempfile::tempdir().expect("temporary directory");
    let secret = outside.path().join("credentials");
    std::fs::write(&secret, "aws_secret_access_key = TOP-SECRET\n").expect("secret");
    let dir = stack_dir();
    std::os::unix::fs::symlink(&secret, dir.path().join("files/web.sh")).expect("link");
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_refused_at(
        &stderr,
        dir.path(),
        TEMPLATE_AT,
        &["files/web.sh", "outside the stack directory"],
    );
    assert!(!stderr.contains("TOP-SECRET"), "{stderr}");

    // A link to a directory outside, with the file below it, is the same.
    std::fs::remove_file(dir.path().join("files/web.sh")).expect("unlink");
    std::fs::remove_dir(dir.path().join("files")).expect("rmdir");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("files")).expect("link");
    std::fs::rename(&secret, outside.path().join("web.sh")).expect("rename");
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_refused_at(
        &stderr,
        dir.path(),
        TEMPLATE_AT,
        &["outside the stack directory"],
    );
    assert!(!stderr.contains("TOP-SECRET"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn files_stack_and_env_files_linked_outside_the_stack_are_refused() {
    let outside = tempfile::tempdir().expect("temporary directory");
    std::fs::write(outside.path().join("stack.toml"), STACK).expect("stack.toml");
    std::fs::write(outside.path().join("test.toml"), "").expect("env file");
    for linked in ["stack.toml", "env/test.toml"] {
        let dir = stack_dir();
        std::fs::write(dir.path().join("files/web.sh"), "echo hi\n").expect("template");
        let target = outside
            .path()
            .join(Path::new(linked).file_name().expect("name"));
        std::fs::remove_file(dir.path().join(linked)).expect("unlink");
        std::os::unix::fs::symlink(&target, dir.path().join(linked)).expect("link");
        let (code, stderr) = validate(dir.path());
        assert_eq!(code, Some(1), "{linked}: {stderr}");
        assert!(
            stderr.contains(&format!("`{}`", dir.path().join(linked).display()))
                && stderr.contains("outside the stack directory"),
            "{linked}: {stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn files_a_fifo_in_place_of_a_file_is_refused_at_once() {
    for fifo in ["files/web.sh", "stack.toml", "env/test.toml"] {
        let dir = stack_dir();
        std::fs::write(dir.path().join("files/web.sh"), "echo hi\n").expect("template");
        std::fs::remove_file(dir.path().join(fifo)).expect("unlink");
        let status = Command::new("mkfifo")
            .arg(dir.path().join(fifo))
            .status()
            .expect("mkfifo");
        assert!(status.success());
        // Nothing ever writes to the FIFO: reading it would wait forever.
        let (code, stderr) = validate(dir.path());
        assert_eq!(code, Some(1), "{fifo}: {stderr}");
        assert!(
            stderr.contains("is a FIFO (named pipe), not a regular file"),
            "{fifo}: {stderr}"
        );
        if fifo == "files/web.sh" {
            assert_refused_at(&stderr, dir.path(), TEMPLATE_AT, &["files/web.sh"]);
        }
    }
}

#[test]
fn files_an_oversized_file_is_refused_before_it_is_read() {
    // Sparse: 1 GiB long, no blocks on disk. Read whole, it would take a gigabyte of memory.
    let dir = stack_dir();
    std::fs::File::create(dir.path().join("files/web.sh"))
        .expect("create")
        .set_len(1 << 30)
        .expect("set_len");
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_refused_at(
        &stderr,
        dir.path(),
        TEMPLATE_AT,
        &["files/web.sh", "16 KiB", "user data"],
    );

    let dir = stack_dir();
    std::fs::File::create(dir.path().join("stack.toml"))
        .expect("create")
        .set_len(1 << 30)
        .expect("set_len");
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("stack.toml") && stderr.contains("at most 4 MiB"),
        "{stderr}"
    );
}

#[test]
fn files_a_directory_in_place_of_a_template_is_refused_at_its_line() {
    let dir = stack_dir();
    std::fs::create_dir(dir.path().join("files/web.sh")).expect("directory");
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_refused_at(
        &stderr,
        dir.path(),
        TEMPLATE_AT,
        &["is a directory, not a regular file"],
    );
}

#[test]
fn files_a_template_linked_inside_the_stack_is_read() {
    let dir = stack_dir();
    std::fs::write(dir.path().join("files/real.sh"), "echo hi\n").expect("template");
    #[cfg(unix)]
    std::os::unix::fs::symlink("real.sh", dir.path().join("files/web.sh")).expect("link");
    #[cfg(not(unix))]
    std::fs::copy(
        dir.path().join("files/real.sh"),
        dir.path().join("files/web.sh"),
    )
    .expect("copy");
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(0), "{}", text(stderr.as_bytes()));
}
