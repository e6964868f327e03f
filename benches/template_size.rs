//! Template size benchmark: the CloudFormation template of the Paasmaker reference stack
//! (env local) with 1, 10 and 100 heart/router nodes (and either side of each limit), as exported for people (pretty) and
//! as sent to CloudFormation (compact), and how it is sent: in the request up to 51,200
//! bytes, through S3 up to 1 MB, else refused. No AWS call: the template is built in
//! process.
//!
//!     cargo bench --profile dev --bench template_size

// A benchmark's output is its figures.
#![allow(clippy::print_stdout)]

use std::path::Path;

use stackwright::cloudformation::{self, limits};

fn main() {
    println!(
        "CloudFormation template of stacks/paasmaker (env local), bytes\n\n\
         {:>6}  {:>9}  {:>9}  {:>9}  sent",
        "hearts", "resources", "pretty", "compact"
    );
    // 1, 10 and 100, and either side of each limit the reference stack meets: 51,200 bytes
    // (the most sent in a request) and 500 resources (the most in a stack).
    for hearts in [1, 10, 37, 38, 100, 491, 492] {
        let dir = tempfile::tempdir().expect("stack dir");
        copy_stack(dir.path(), hearts);
        let loaded = stackwright::stack::load(dir.path(), Some("local")).expect("the stack loads");
        let template = cloudformation::template(&loaded.stack);
        let pretty = serde_json::to_string_pretty(&template).expect("json").len();
        let body = limits::body(&template);
        let resources = limits::resources(&template);
        let sent = match limits::delivery("paasmaker", &body, resources) {
            Ok(limits::Delivery::Body) => "in the request".to_string(),
            Ok(limits::Delivery::S3) => "through S3".to_string(),
            Err(e) => format!("refused: {}", e.reasons.join("; ")),
        };
        println!(
            "{hearts:>6}  {resources:>9}  {pretty:>9}  {:>9}  {sent}",
            body.len()
        );
    }
}

/// The reference stack with `hearts` heart/router nodes.
fn copy_stack(to: &Path, hearts: u32) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/paasmaker");
    for sub in ["env", "files"] {
        std::fs::create_dir_all(to.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(from.join(sub)).expect("read dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("file name");
            std::fs::copy(&path, to.join(sub).join(name)).expect("copy");
        }
    }
    std::fs::copy(from.join("stack.toml"), to.join("stack.toml")).expect("copy");
    let env = std::fs::read_to_string(to.join("env/local.toml")).expect("env file");
    let set = format!("heart_count      = {hearts}");
    let env = env.replace("heart_count      = 2", &set);
    assert!(env.contains(&set), "heart_count is set");
    std::fs::write(to.join("env/local.toml"), env).expect("env file");
}
