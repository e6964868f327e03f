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
