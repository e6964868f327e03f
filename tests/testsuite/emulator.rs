//! The local AWS emulator (moto, `scripts/emulator`) and the counting proxy in front of it
//! (`scripts/aws-proxy`), for tests that talk to "AWS".
//!
//! - [`endpoint`] starts one emulator per test binary on first use; it stops by itself when
//!   the test process ends. Tests share it and isolate by stack name ([`unique`]), never by
//!   resetting moto.
//! - [`aws_env`] is the environment that points the `stackwright` binary or an SDK client at
//!   it, and never at a developer's real account.
//! - [`Proxy`] forwards to it, counts requests per AWS operation and can inject latency and
//!   faults.
//!
//! The first run on a machine creates `.venv` and installs moto from PyPI (about 30 s).
#![allow(
    dead_code,
    reason = "a support module: not every test uses every helper"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long the emulator may take to answer, including a first install of moto.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the proxy may take to print its endpoint.
const PROXY_TIMEOUT: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The emulator's endpoint, `http://127.0.0.1:PORT`, starting it on first use.
///
/// One moto per test binary: `scripts/emulator serve --parent-pid <this process>`, left
/// running and stopped by the script itself within a second of this process ending.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<Result<String, String>> = OnceLock::new();
    match ENDPOINT.get_or_init(start_emulator) {
        Ok(endpoint) => endpoint,
        Err(message) => panic!("{message}"),
    }
}

fn start_emulator() -> Result<String, String> {
    let script = root().join("scripts/emulator");
    // The script's own messages go to a file, not into the test output: it prints its last
    // one after this process has ended.
    let dir = root().join("target/emulator");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let err_path = dir.join(format!("serve-{}.err", std::process::id()));
    let err = std::fs::File::create(&err_path)
        .map_err(|e| format!("creating {}: {e}", err_path.display()))?;
    let mut child = Command::new("bash")
        .arg(&script)
        .args(["serve", "--parent-pid", &std::process::id().to_string()])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not run {}: {e}", script.display()))?;
    let what = "the local AWS emulator (scripts/emulator serve)";
    first_line(&mut child, START_TIMEOUT, what).map_err(|message| {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        format!("{message}\n--- {} ---\n{stderr}", err_path.display())
    })
    // The child is dropped, not killed: it stops when this process is gone.
}

/// The first stdout line of `child`, which must be an `http://127.0.0.1:PORT` endpoint.
/// On failure the child is killed and the error says why.
fn first_line(child: &mut Child, timeout: Duration, what: &str) -> Result<String, String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
    });
    let fail = |child: &mut Child, why: String| {
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("{what} failed to start: {why}"))
    };
    match rx.recv_timeout(timeout) {
        Ok(Ok(line)) if line.trim().starts_with("http://127.0.0.1:") => Ok(line.trim().to_owned()),
        Ok(Ok(line)) if line.is_empty() => {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            Err(format!(
                "{what} failed to start: it exited ({status}) without printing its endpoint"
            ))
        }
        Ok(Ok(line)) => fail(
            child,
            format!("its first line was {line:?}, not an endpoint"),
        ),
        Ok(Err(e)) => fail(child, format!("reading its stdout: {e}")),
        Err(_) => fail(child, format!("no endpoint within {} s", timeout.as_secs())),
    }
}

/// Environment for running `stackwright` (or an SDK client) against the emulator.
///
/// Pass it with `Command::envs`; a later `.env("AWS_REGION", ..)` overrides the region.
/// Credentials are moto's dummies, the config and credentials files are `/dev/null`, and
/// every endpoint setting, general and per service, is the emulator's, so a developer's real
/// profile or endpoint settings are never used.
pub fn aws_env() -> Vec<(&'static str, String)> {
    let endpoint = endpoint().to_owned();
    vec![
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ENDPOINT_URL_EC2", endpoint.clone()),
        ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING", endpoint.clone()),
        ("AWS_ENDPOINT_URL_RDS", endpoint.clone()),
        ("AWS_ENDPOINT_URL_ROUTE_53", endpoint.clone()),
        ("AWS_ENDPOINT_URL_S3", endpoint.clone()),
        ("AWS_ENDPOINT_URL_STS", endpoint),
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "ap-southeast-2".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
    ]
}

/// A name no other test in any run against the same emulator uses: `prefix`, a per-process
/// counter and a hash of the process id; at most 20 characters, valid as a stack name
/// (lowercase letters and digits, starting with a letter). Without a hyphen, so that the
/// physical names of its resources are the plain `<stack>-<env>-<name>` (a hyphen in the
/// stack is doubled in them: see `stack::names::stack_env`).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // FNV-1a of the process id, as 4 base-36 digits.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in std::process::id().to_le_bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    let suffix = format!("{}{}", base36(n, 1), base36(hash % 36u32.pow(4), 4));

    let mut name = String::new();
    for c in prefix.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (name.is_empty() || name.ends_with('-')) {
            continue;
        }
        if name.is_empty() && !c.is_ascii_lowercase() {
            name.push('t');
        }
        name.push(c);
    }
    if name.is_empty() {
        name.push('t');
    }
    name.retain(|c| c != '-');
    name.truncate(20 - 1 - suffix.len());
    format!("{name}{suffix}")
}

fn base36(mut n: u32, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 || out.len() < width {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// `scripts/aws-proxy` in front of an upstream (normally [`endpoint`]): counts requests per
/// AWS operation and injects latency or faults. Stopped when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub endpoint: String,
    child: Child,
}

impl Proxy {
    /// Start a proxy to `upstream` with extra `args` such as `["--latency-ms", "20"]` or
    /// `["--throttle-every", "3"]` (see `scripts/aws-proxy --help`).
    pub fn start(upstream: &str, args: &[&str]) -> Proxy {
        let script = root().join("scripts/aws-proxy");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--upstream", upstream])
            .args(args)
            .args(["--parent-pid", &std::process::id().to_string()])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run python3 {}: {e}", script.display()));
        match first_line(&mut child, PROXY_TIMEOUT, "scripts/aws-proxy") {
            Ok(endpoint) => Proxy { endpoint, child },
            Err(message) => panic!("{message}"),
        }
    }

    /// `{"total": N, "by_operation": {"DescribeInstances": N, ...}, "faults": {...}}`.
    pub fn stats(&self) -> serde_json::Value {
        let (status, body) = http(&self.endpoint, "GET", "/__stats", &[], b"");
        assert_eq!(status, 200, "GET /__stats: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET /__stats: {e}: {body}"))
    }

    /// Zero the counts (and restart the fault sequence).
    pub fn reset(&self) {
        let (status, body) = http(&self.endpoint, "POST", "/__stats/reset", &[], b"");
        assert_eq!(status, 200, "POST /__stats/reset: {body}");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP/1.1 request to `base` (`http://HOST:PORT`) + `path`; returns the status
/// and the body as text. One connection per request; panics on transport errors.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let authority = base
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{base}: only http:// endpoints"))
        .trim_end_matches('/');
    let url = format!("{base}{path}");
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .expect("write timeout");

    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    stream
        .write_all(body)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));

    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {url}: no complete response: {response:?}"));
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut payload = response[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {url}: bad status line in {head:?}"));
    let chunked = head.lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
    });
    if chunked {
        payload = dechunk(&payload).unwrap_or_else(|| panic!("{method} {url}: bad chunked body"));
    }
    (status, String::from_utf8_lossy(&payload).into_owned())
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// What an SDK's SigV4 `Authorization` header looks like to moto, which routes a request by
/// the service and region in its credential scope and does not check the signature.
pub fn fake_sigv4(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0000"
    )
}

#[test]
fn emulator_answers() {
    let (status, body) = http(endpoint(), "GET", "/moto-api/", &[], b"");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn emulator_proxy_counts_one_request() {
    let proxy = Proxy::start(endpoint(), &[]);
    // Unsigned, moto would take a query-protocol request for S3: the credential scope routes it.
    let auth = fake_sigv4("ec2", "ap-southeast-2");
    let (status, body) = http(
        &proxy.endpoint,
        "POST",
        "/",
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Authorization", &auth),
        ],
        b"Action=DescribeRegions&Version=2016-11-15",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<DescribeRegionsResponse"), "{body}");
    assert!(body.contains("ap-southeast-2"), "{body}");

    let stats = proxy.stats();
    assert_eq!(stats["by_operation"]["DescribeRegions"], 1, "{stats}");
    assert_eq!(stats["total"], 1, "{stats}");
    proxy.reset();
    assert_eq!(proxy.stats()["total"], 0);
}

#[test]
fn emulator_unique_names_are_valid_stack_names() {
    let names: Vec<String> = ["web", "Very_Long Prefix-For A Test", "9lives", "-", ""]
        .iter()
        .map(|p| unique(p))
        .collect();
    for name in &names {
        assert!(name.len() <= 20, "{name}");
        assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
        // No hyphen: physical names stay the plain `<stack>-<env>-<name>`.
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{name}"
        );
    }
    assert!(names[0].starts_with("web"), "{}", names[0]);
    assert_ne!(unique("web"), unique("web"));
}

/// Issue 14: `--ec2-buckets strict` answers an EC2 request over its class's bucket as EC2
/// does (503, `RequestLimitExceeded` in EC2's XML error shape), does not forward it, and
/// counts it; other services are not metered.
#[test]
fn emulator_proxy_strict_buckets_answer_request_limit_exceeded() {
    let proxy = Proxy::start(endpoint(), &["--ec2-buckets", "strict"]);
    let form = [(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )];
    let send = |service: &str, body: &str| {
        let auth = fake_sigv4(service, "us-east-1");
        let mut headers = form.to_vec();
        headers.push(("Authorization", &auth));
        http(&proxy.endpoint, "POST", "/", &headers, body.as_bytes())
    };
    // RunInstances: 5 of burst, 2 a second. Without an image the emulator refuses the
    // ones let through (400), so nothing is launched; a sixth within the same second finds
    // the bucket empty.
    let mut answers = Vec::new();
    for _ in 0..8 {
        answers.push(send("ec2", "Action=RunInstances&Version=2016-11-15"));
    }
    let throttled: Vec<&(u16, String)> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!throttled.is_empty(), "{answers:?}");
    assert!(answers[..5].iter().all(|(s, _)| *s != 503), "{answers:?}");
    let (_, body) = throttled[0];
    assert!(
        body.starts_with("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"),
        "{body}"
    );
    // The describe bucket is another: still full.
    let (status, body) = send("ec2", "Action=DescribeRegions&Version=2016-11-15");
    assert_eq!(status, 200, "{body}");
    // Not EC2: not metered.
    for _ in 0..8 {
        let (status, body) = send(
            "elasticloadbalancing",
            "Action=DescribeLoadBalancers&Version=2012-06-01",
        );
        assert_eq!(status, 200, "{body}");
    }
    let stats = proxy.stats();
    assert_eq!(
        stats["throttled"]["RunInstances"],
        throttled.len(),
        "{stats}"
    );
    assert_eq!(
        stats["faults"]["RequestLimitExceeded"],
        throttled.len(),
        "{stats}"
    );
    assert_eq!(stats["by_operation"]["RunInstances"], 8, "{stats}");
    assert!(
        stats["throttled"].get("DescribeLoadBalancers").is_none(),
        "{stats}"
    );
}
