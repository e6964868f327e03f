//! What the benchmarks share: starting the helper scripts, and talking to the proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Start a helper script that prints its endpoint as the first line of stdout. It is not
/// waited for: `--parent-pid` makes it exit when this process does.
#[allow(clippy::zombie_processes)]
pub fn endpoint_of(script: &str, args: &[&str]) -> String {
    let mut child = Command::new(repo().join("scripts").join(script))
        .args(args)
        .args(["--parent-pid", &std::process::id().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start scripts/{script}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("endpoint line");
    assert!(
        line.starts_with("http://127.0.0.1:"),
        "scripts/{script} printed {line:?}"
    );
    line.trim().to_string()
}

/// A minimal HTTP/1.1 request to the proxy's own endpoints.
pub fn http(endpoint: &str, method: &str, path: &str) -> String {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("proxy");
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// The emulator's endpoint, in a re-executed copy of this benchmark whose environment
/// points the AWS SDK at nothing real: the first run starts the emulator and runs itself
/// again as that child, then exits with its status (`cargo bench` passes `--bench`; the
/// child is told apart by its environment).
pub fn emulator_child() -> String {
    if let Ok(endpoint) = std::env::var("STACKWRIGHT_BENCH_CHILD") {
        return endpoint;
    }
    let emulator = endpoint_of("emulator", &["serve"]);
    let status = Command::new(std::env::current_exe().expect("own path"))
        .env("STACKWRIGHT_BENCH_CHILD", &emulator)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .status()
        .expect("run the benchmark");
    std::process::exit(status.code().unwrap_or(1));
}
