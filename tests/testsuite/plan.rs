//! `stackwright plan` end to end: the built binary against the local AWS emulator (moto).
//!
//! Each test writes its own stack into a temporary directory under a unique stack name
//! ([`emulator::unique`]) and, where it has DNS records, its own hosted zone, then makes
//! "AWS" look the way it wants with the real SDK clients (resources created out of band,
//! tagged in the create call exactly as stackwright tags them), runs the CLI and asserts
//! on the exact lines that matter. Nothing here hand-writes an AWS response.
//!
//! Where a test leans on the emulator rather than on AWS, it says so. In general:
//! moto makes instances `running` and databases `available` at once, lets an instance's
//! type change while it runs, and accepts any AMI id and any 32-byte "ed25519" key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_route53::types::RrType;
use serde_json::Value as Json;
use stackwright::plan::{applied_tag, attrs};
use stackwright::provider::{LiveResource, ownership};
use stackwright::stack::Address;

use crate::emulator::{self, Proxy};
use crate::support::text;

pub(crate) const ENV: &str = "test";
pub(crate) const AMI: &str = "ami-12c6146b";
pub(crate) const PW_VAR: &str = "STACKWRIGHT_E2E_PW";
pub(crate) const TOKEN_VAR: &str = "STACKWRIGHT_E2E_TOKEN";
/// An OpenSSH ed25519 public key (the 32 key bytes are text; moto does not mind).
pub(crate) const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ1c3RlZCBrZXkgZm9yIHRlc3RzIG9ubHkgMTIzNDU2 e2e@stackwright";
pub(crate) const HEALTH_CHECK: &str = "TCP:80 every 30s, timeout 5s, unhealthy 2, healthy 2";

/// A stack with every kind: two groups admitting each other (and one itself), a key pair,
/// a classic ELB with the counted instance registered, a MySQL database, two instances and
/// a CNAME to the ELB.
pub(crate) fn full_stack(name: &str, zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[secrets]
pw = {{ env = "{PW_VAR}" }}
token = {{ env = "{TOKEN_VAR}" }}

[security_group.web]
description = "web nodes"
ingress = [
  {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }},
  {{ protocol = "tcp", ports = "0-65535", group = "self" }},
  {{ protocol = "tcp", ports = "8080", group = "db" }},
]

[security_group.db]
description = "databases"
ingress = [ {{ protocol = "tcp", ports = "3306", group = "web" }} ]

[key_pair.main]
public_key = "{PUBLIC_KEY}"

[load_balancer.web]
availability_zones = ["us-east-1a", "us-east-1b"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
health_check = {{ target = "TCP:80", interval = 30, timeout = 5, unhealthy_threshold = 2, healthy_threshold = 2 }}
instances = ["web"]

[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"
security_groups = ["db"]
backup_retention_days = 7

[instance.web]
count = 2
ami = "{AMI}"
instance_type = "t2.micro"
key_name = "${{key_pair.main.name}}"
security_groups = ["web"]
availability_zones = ["us-east-1a", "us-east-1b"]
user_data = """#!/bin/sh
echo 'token=${{secret.token}}' > /etc/web.conf
"""

[dns_record.www]
zone = "{zone}"
name = "www.{zone}"
type = "CNAME"
ttl = 300
records = ["${{load_balancer.web.dns_name}}"]
"##
    )
}

/// The token [`populate_full`] launches the instances with.
const FULL_TOKEN: &str = "e2e-full-token";

/// [`full_stack`]'s user data as it reaches AWS: the template with the token in it.
fn full_user_data() -> String {
    format!("#!/bin/sh\necho 'token={FULL_TOKEN}' > /etc/web.conf\n")
}

/// Every address of [`full_stack`], in the order its plan lists creates: dependencies
/// first (groups and key before instances and database, instances before the ELB that
/// registers them, the ELB before the record naming it), ties by address.
pub(crate) const FULL_ADDRESSES: [&str; 8] = [
    "security_group.db",
    "security_group.web",
    "key_pair.main",
    "database.main",
    "instance.web[0]",
    "instance.web[1]",
    "load_balancer.web",
    "dns_record.www",
];

// ---------------------------------------------------------------------------------------
// The stack on disk and the CLI.

/// A stack in a temporary directory: `stack.toml` and `env/test.toml`.
pub(crate) struct StackDir {
    dir: tempfile::TempDir,
    /// The stack's name, unique in this emulator.
    pub(crate) name: String,
    /// A hosted zone name of its own.
    pub(crate) zone: String,
}

impl StackDir {
    pub(crate) fn new(prefix: &str, stack_toml: impl Fn(&str, &str) -> String) -> StackDir {
        let name = emulator::unique(prefix);
        let zone = format!("{name}.e2e.example");
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("env")).expect("env directory");
        std::fs::write(dir.path().join("stack.toml"), stack_toml(&name, &zone)).expect("stack");
        std::fs::write(dir.path().join("env/test.toml"), "region = \"us-east-1\"\n")
            .expect("env file");
        StackDir { dir, name, zone }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<stack>-<env>-<name>`: the physical name stackwright gives a resource.
    pub(crate) fn physical(&self, name: &str) -> String {
        format!("{}-{ENV}-{name}", self.name)
    }

    /// `stackwright <command> <dir> --env test ARGS` against the emulator.
    pub(crate) fn run(&self, command: &str, args: &[&str]) -> Output {
        self.run_with(command, args, &[], emulator::endpoint())
    }

    /// The same with extra environment variables, against `endpoint`.
    pub(crate) fn run_with(
        &self,
        command: &str,
        args: &[&str],
        env: &[(&str, &str)],
        endpoint: &str,
    ) -> Output {
        self.command(command, args, env, endpoint)
            .output()
            .expect("run stackwright")
    }

    /// The command [`StackDir::run_with`] runs, to spawn it instead.
    pub(crate) fn command(
        &self,
        command: &str,
        args: &[&str],
        env: &[(&str, &str)],
        endpoint: &str,
    ) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackwright"));
        cmd.arg(command)
            .arg(self.path())
            .args(["--env", ENV])
            .args(args)
            .envs(aws_env_at(endpoint))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove(PW_VAR)
            .env_remove(TOKEN_VAR)
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `plan ARGS`, which must exit with `code`; its stdout.
    pub(crate) fn plan(&self, args: &[&str], code: i32) -> String {
        let out = self.run("plan", args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "plan {args:?}\n--- stdout\n{}--- stderr\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub(crate) fn load(&self) -> stackwright::stack::Stack {
        stackwright::stack::load(self.path(), Some(ENV))
            .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
            .stack
    }
}

/// [`emulator::aws_env`] with every endpoint pointing at `endpoint` (the emulator itself,
/// or a counting proxy in front of it).
pub(crate) fn aws_env_at(endpoint: &str) -> Vec<(&'static str, String)> {
    emulator::aws_env()
        .into_iter()
        .map(|(k, v)| {
            if k.starts_with("AWS_ENDPOINT_URL") {
                (k, endpoint.to_string())
            } else {
                (k, v)
            }
        })
        .collect()
}

/// The heading lines of a text plan: `<symbol> <address>  <words>`.
pub(crate) fn headings(plan: &str) -> Vec<&str> {
    plan.lines()
        .filter(|l| {
            ["  + ", "  ~ ", "-/+ ", "  - "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect()
}

pub(crate) fn last_line(plan: &str) -> &str {
    plan.trim_end().lines().last().unwrap_or_default()
}

pub(crate) fn json(stdout: &str) -> Json {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("plan --json: {e}\n{stdout}"))
}

pub(crate) fn change<'a>(plan: &'a Json, address: &str) -> &'a Json {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change for {address}: {plan:#}"))
}

/// The lines from `heading` up to the next blank line.
pub(crate) fn block<'a>(plan: &'a str, heading: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = plan.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == heading)
        .unwrap_or_else(|| panic!("no line {heading:?} in\n{plan}"));
    lines[start..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect()
}

// ---------------------------------------------------------------------------------------
// "AWS", through the real SDK clients: `crate::sdk`.

pub(crate) use crate::sdk::{Aws, Launch, own_tags, runtime, tcp_from_cidr, tcp_from_group};

/// What [`populate_full`] made.
#[derive(Debug)]
struct Full {
    web_group: String,
    db_group: String,
    key_name: String,
    instances: Vec<String>,
    balancer: String,
    balancer_dns: String,
    database_arn: String,
    zone_id: String,
}

/// Every resource of [`full_stack`], created out of band exactly as the stack describes
/// it and tagged in the create call, as apply would leave it (but without the
/// `stackwright:applied` and `stackwright:attr:` tags, which only stackwright writes).
///
/// Leans on the emulator: nothing waits for the instances to run or the database to be
/// available before the ELB registers them or a plan reads them (moto does both at once),
/// and the classic ELB is made without subnets or groups (moto gives it the default VPC's
/// default group, which the stack does not manage, so the plan does not compare it).
async fn populate_full(aws: &Aws, s: &StackDir) -> Full {
    let user_data = full_user_data();
    let tags = |address: &str| own_tags(&s.name, ENV, address);
    let web_group = aws
        .group(&s.physical("web"), "web nodes", &tags("security_group.web"))
        .await;
    let db_group = aws
        .group(&s.physical("db"), "databases", &tags("security_group.db"))
        .await;
    aws.ingress(
        &web_group,
        vec![
            tcp_from_cidr(80, "0.0.0.0/0"),
            tcp_from_group(0, 65535, &web_group),
            tcp_from_group(8080, 8080, &db_group),
        ],
    )
    .await;
    aws.ingress(&db_group, vec![tcp_from_group(3306, 3306, &web_group)])
        .await;
    let key_name = s.physical("main");
    aws.key_pair(&key_name, &tags("key_pair.main")).await;
    let mut instances = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        let address = format!("instance.web[{i}]");
        let mut tags = tags(&address);
        tags.push(("Name".into(), s.physical(&format!("web-{i}"))));
        let id = aws
            .instance(Launch {
                zone,
                instance_type: "t2.micro",
                key_name: Some(&key_name),
                groups: vec![web_group.as_str()],
                user_data: Some(&user_data),
                tags,
            })
            .await;
        instances.push(id);
    }
    let balancer = s.physical("web");
    let balancer_dns = aws
        .balancer(&balancer, &tags("load_balancer.web"), &instances)
        .await;
    let database_arn = aws
        .database(&s.physical("main"), &db_group, &tags("database.main"))
        .await;
    let zone_id = aws.zone(&s.zone).await;
    aws.owned_record(
        &zone_id,
        (&format!("www.{}", s.zone), RrType::Cname, &balancer_dns),
        (&s.name, ENV, "dns_record.www"),
    )
    .await;
    Full {
        web_group,
        db_group,
        key_name,
        instances,
        balancer,
        balancer_dns,
        database_arn,
        zone_id,
    }
}

/// The `stackwright:applied` tag apply would leave on `address`: the codes of its desired
/// attributes. `known` holds the live outputs its references read.
fn applied(stack: &stackwright::stack::Stack, address: &str, known: &attrs::Known<'_>) -> String {
    let address: Address = address.parse().expect("address");
    let resource = stack.resource(&address).expect("resource in the stack");
    applied_tag(address.kind, &attrs::desired(resource, known))
}

/// A live resource holding only the outputs a reference reads.
fn outputs(address: &str, pairs: &[(&str, &str)]) -> LiveResource {
    LiveResource {
        address: address.parse().expect("address"),
        id: String::new(),
        attrs: BTreeMap::new(),
        outputs: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        applied: None,
        expires: None,
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn empty_account_plans_every_address_as_create() {
    let s = StackDir::new("empty", full_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    // The zone must exist (it is not the stack's to create); nothing else does.
    rt.block_on(aws.zone(&s.zone));

    let plan = s.plan(&[], 0);
    let expected: Vec<String> = FULL_ADDRESSES
        .iter()
        .map(|a| format!("  + {a}  will be created"))
        .collect();
    assert_eq!(headings(&plan), expected, "{plan}");
    assert_eq!(
        last_line(&plan),
        "Plan: 8 to create, 0 to update, 0 to replace, 0 to destroy.",
        "{plan}"
    );
    assert!(
        plan.starts_with(&format!(
            "Plan for stack `{}` (env `test`, region `us-east-1`):\n",
            s.name
        )),
        "{plan}"
    );
    // What is known before apply, and what is not.
    for line in [
        format!("      name        = \"{}\"", s.physical("web")),
        "      user_data             = (2 lines)".to_string(),
        "      key_name              = (known after apply)".to_string(),
        "      records = (known after apply)".to_string(),
        format!("      health_check       = \"{HEALTH_CHECK}\""),
    ] {
        assert!(plan.lines().any(|l| l == line), "no {line:?} in\n{plan}");
    }
    assert!(
        !plan.contains("token="),
        "user data is not printed on create"
    );

    let out = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        plan,
        "--detailed-exitcode changes only the status"
    );

    let j = json(&s.plan(&["--json"], 0));
    let changes = j["changes"].as_array().expect("changes");
    let creates: Vec<&str> = changes
        .iter()
        .filter(|c| c["action"] == "create")
        .map(|c| c["address"].as_str().expect("address"))
        .collect();
    assert_eq!(creates, FULL_ADDRESSES, "{j:#}");
    assert_eq!(changes.len(), 8);
    assert_eq!(j["summary"]["create"], 8);
    assert_eq!(
        (j["stack"].as_str(), j["env"].as_str()),
        (Some(s.name.as_str()), Some(ENV))
    );
}

#[test]
fn resources_created_out_of_band_with_the_stacks_tags_are_found() {
    let s = StackDir::new("found", full_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(populate_full(&aws, &s));

    let out = s.run("plan", &["--detailed-exitcode", "--stats"]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a stack converged out of band plans nothing\n{stdout}{stderr}"
    );
    assert_eq!(
        stdout,
        format!(
            "Plan for stack `{}` (env `test`, region `us-east-1`):\n\nNo changes.\n",
            s.name
        )
    );
    // One call per kind (and per zone), not per resource: no DescribeInstanceAttribute,
    // no DescribeLoadBalancerAttributes. DescribeTags is one per 20 ELBs in the region,
    // and the other tests' ELBs share this emulator.
    let calls = stderr
        .lines()
        .find_map(|l| l.strip_prefix("aws calls: "))
        .unwrap_or_else(|| panic!("no `aws calls:` line in {stderr:?}"));
    let total: u64 = calls
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad `aws calls:` line {calls:?}"));
    // Finding the zones the stack has records in is one `ListHostedZones` per 100 public
    // zones and one `ListTagsForResources` per 10: the other tests' zones share this
    // emulator, so the bound counts them (after the plan: an upper bound).
    let zones = rt.block_on(async {
        aws.route53
            .list_hosted_zones()
            .send()
            .await
            .expect("ListHostedZones")
            .hosted_zones()
            .len()
    });
    let zone_calls = zones.div_ceil(100) + zones.div_ceil(10);
    assert!(
        total as usize <= 11 + zone_calls,
        "{total} calls ({zones} zones): {calls}"
    );
    for op in [
        "ec2:DescribeInstances 1",
        "ec2:DescribeSecurityGroups 1",
        "ec2:DescribeKeyPairs 1",
        "elb:DescribeLoadBalancers 1",
        "rds:DescribeDBInstances 1",
        "route53:ListResourceRecordSets 1",
    ] {
        assert!(calls.contains(op), "no {op:?} in {calls}");
    }
    assert!(!calls.contains("Attribute"), "{calls}");

    let j = json(&s.plan(&["--json"], 0));
    assert_eq!(j["changes"], Json::Array(Vec::new()), "{j:#}");

    // --deep reads what AWS returns only per resource (user data, shutdown behaviour,
    // cross-zone balancing) for real, hides the token in the user data and compares:
    // still converged.
    let out = s.run_with(
        "plan",
        &["--deep", "--detailed-exitcode", "--stats"],
        &[(PW_VAR, "e2e-full-pw"), (TOKEN_VAR, FULL_TOKEN)],
        emulator::endpoint(),
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(last_line(&stdout), "No changes.", "{stdout}");
    for op in [
        "ec2:DescribeInstanceAttribute 4",
        "elb:DescribeLoadBalancerAttributes 1",
    ] {
        assert!(stderr.contains(op), "no {op:?} in {stderr}");
    }
}

#[test]
fn drift_in_each_kind_is_shown() {
    let s = StackDir::new("drift", full_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let full = rt.block_on(populate_full(&aws, &s));
    let stack = s.load();

    // Tag each resource as apply would: the codes of what it applied.
    let key = outputs("key_pair.main", &[("name", &full.key_name)]);
    let known_key: attrs::Known<'_> = [(key.address.clone(), Some(&key))].into();
    let none: attrs::Known<'_> = BTreeMap::new();
    rt.block_on(async {
        for (id, address, known) in [
            (&full.web_group, "security_group.web", &none),
            (&full.db_group, "security_group.db", &none),
            (&full.instances[0], "instance.web[0]", &known_key),
            (&full.instances[1], "instance.web[1]", &known_key),
        ] {
            aws.tag_ec2(id, "stackwright:applied", &applied(&stack, address, known))
                .await;
        }
        aws.elb
            .add_tags()
            .load_balancer_names(&full.balancer)
            .tags(
                aws_sdk_elasticloadbalancing::types::Tag::builder()
                    .key("stackwright:applied")
                    .value(applied(&stack, "load_balancer.web", &none))
                    .build()
                    .expect("tag"),
            )
            .send()
            .await
            .expect("AddTags");
        aws.rds
            .add_tags_to_resource()
            .resource_name(&full.database_arn)
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("stackwright:applied")
                    .value(applied(&stack, "database.main", &none))
                    .build(),
            )
            .send()
            .await
            .expect("AddTagsToResource");
    });
    assert_eq!(
        s.plan(&["--detailed-exitcode"], 0).lines().last(),
        Some("No changes."),
        "the applied tags alone change nothing"
    );

    // Now someone changes each kind in the console.
    rt.block_on(async {
        aws.ingress(&full.web_group, vec![tcp_from_cidr(22, "203.0.113.0/24")])
            .await;
        aws.health_check(&full.balancer, "HTTP:8080/health", 10, 3, 4, 5)
            .await;
        aws.rds
            .modify_db_instance()
            .db_instance_identifier(s.physical("main"))
            .backup_retention_period(3)
            .apply_immediately(true)
            .send()
            .await
            .expect("ModifyDBInstance");
        // AWS changes an instance's type only while it is stopped; moto takes it running.
        aws.ec2
            .modify_instance_attribute()
            .instance_id(&full.instances[1])
            .instance_type(
                aws_sdk_ec2::types::AttributeValue::builder()
                    .value("t2.large")
                    .build(),
            )
            .send()
            .await
            .expect("ModifyInstanceAttribute");
    });

    let plan = s.plan(&["--detailed-exitcode"], 2);
    let drift = "will be updated in place (drift: changed in AWS, not in the stack)";
    let note = "  # drift: changed in AWS";
    assert_eq!(
        headings(&plan),
        [
            format!("  ~ security_group.web  {drift} [{}]", full.web_group),
            format!("  ~ database.main  {drift} [{}]", s.physical("main")),
            format!("  ~ instance.web[1]  {drift} [{}]", full.instances[1]),
            format!("  ~ load_balancer.web  {drift} [{}]", full.balancer),
        ],
        "{plan}"
    );
    assert_eq!(
        block(&plan, headings(&plan)[0])[1..],
        [
            format!("      ingress:{note}"),
            "          - tcp 22 from 203.0.113.0/24".to_string(),
        ],
        "{plan}"
    );
    assert_eq!(
        block(&plan, headings(&plan)[1])[1..],
        [format!("      backup_retention_days : 3 -> 7{note}")],
        "{plan}"
    );
    assert_eq!(
        block(&plan, headings(&plan)[2])[1..],
        [format!(
            "      instance_type : \"t2.large\" -> \"t2.micro\"{note}"
        )],
        "{plan}"
    );
    assert_eq!(
        block(&plan, headings(&plan)[3])[1..],
        [format!(
            "      health_check : \"HTTP:8080/health every 10s, timeout 3s, unhealthy 4, healthy 5\" -> \"{HEALTH_CHECK}\"{note}"
        )],
        "{plan}"
    );
    let tail: Vec<&str> = plan.trim_end().lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            "Plan: 0 to create, 4 to update, 0 to replace, 0 to destroy.",
            "Note: 4 changes repair drift.",
        ],
        "{plan}"
    );

    let j = json(&s.plan(&["--json"], 0));
    for address in [
        "security_group.web",
        "database.main",
        "instance.web[1]",
        "load_balancer.web",
    ] {
        let c = change(&j, address);
        assert_eq!(
            (&c["action"], &c["drift"]),
            (&Json::from("update"), &Json::Bool(true)),
            "{c:#}"
        );
        assert!(
            c["attrs"]
                .as_array()
                .expect("attrs")
                .iter()
                .all(|a| a["drift"] == true),
            "{c:#}"
        );
    }
    assert_eq!(j["summary"]["drift"], 4, "{j:#}");
    assert_eq!(j["summary"]["update"], 4, "{j:#}");
    assert_eq!(j["changes"].as_array().expect("changes").len(), 4);
}

#[test]
fn a_dns_record_changed_in_aws_is_drift() {
    let s = StackDir::new("dnsdrift", full_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let full = rt.block_on(populate_full(&aws, &s));
    let stack = s.load();
    let balancer = outputs("load_balancer.web", &[("dns_name", &full.balancer_dns)]);
    let known: attrs::Known<'_> = [(balancer.address.clone(), Some(&balancer))].into();
    let codes = applied(&stack, "dns_record.www", &known);
    let fqdn = format!("www.{}", s.zone);
    // Route 53 records cannot be tagged: the applied codes ride in the ownership record,
    // as a fifth field (`ownership::parse` already ignores fields past the address). This
    // is the fix suggested with the bug report; adjust it to the form the fix chooses.
    let claim = format!(
        "{},stackwright/applied={codes}",
        ownership::value(&s.name, ENV, &"dns_record.www".parse().expect("address"))
    );
    rt.block_on(aws.upsert(
        &full.zone_id,
        vec![
            (fqdn.clone(), RrType::Cname, "elsewhere.example.net".into()),
            (
                ownership::name(&fqdn, "CNAME"),
                RrType::Txt,
                format!("\"{claim}\""),
            ),
        ],
    ));

    let plan = s.plan(&[], 0);
    let heading = format!(
        "  ~ dns_record.www  will be updated in place (drift: changed in AWS, not in the stack) [{fqdn} CNAME]"
    );
    assert_eq!(headings(&plan), [heading.as_str()], "{plan}");
    assert_eq!(
        block(&plan, &heading)[1..],
        [
            "      records:  # drift: changed in AWS".to_string(),
            format!("          + {}", full.balancer_dns),
            "          - elsewhere.example.net".to_string(),
        ],
        "{plan}"
    );
    let j = json(&s.plan(&["--json"], 0));
    assert_eq!(change(&j, "dns_record.www")["drift"], true, "{j:#}");
    assert_eq!(j["summary"]["drift"], 1);
}

/// A record changed in Route 53 is still planned back (as an update), drift or not.
#[test]
fn a_dns_record_changed_in_aws_is_planned_back() {
    let s = StackDir::new("dnsback", full_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let full = rt.block_on(populate_full(&aws, &s));
    let fqdn = format!("www.{}", s.zone);
    rt.block_on(aws.upsert(
        &full.zone_id,
        vec![(fqdn.clone(), RrType::Cname, "elsewhere.example.net".into())],
    ));
    let plan = s.plan(&["--detailed-exitcode"], 2);
    let heading = headings(&plan);
    assert_eq!(heading.len(), 1, "{plan}");
    assert!(
        heading[0].starts_with("  ~ dns_record.www  will be updated in place")
            && heading[0].ends_with(&format!(" [{fqdn} CNAME]")),
        "{plan}"
    );
    let lines = block(&plan, heading[0]);
    assert_eq!(
        lines[2..],
        [
            format!("          + {}", full.balancer_dns),
            "          - elsewhere.example.net".to_string(),
        ],
        "{plan}"
    );
    assert!(lines[1].starts_with("      records:"), "{plan}");
    assert_eq!(
        last_line(&plan),
        "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy."
    );
}

#[test]
fn other_stacks_and_untagged_resources_are_never_touched() {
    let s = StackDir::new("alone", full_stack);
    let other = emulator::unique("other");
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let zone_id = rt.block_on(aws.zone(&s.zone));
    let foreign = rt.block_on(async {
        let mut groups = Vec::new();
        let mut instances = Vec::new();
        // Untagged, named exactly as the stack would name them.
        groups.push(aws.group(&s.physical("web"), "web nodes", &[]).await);
        // Another stack, same env and addresses; the same stack in another env; the
        // stack's own tags but no address.
        let mut partial = own_tags(&s.name, ENV, "");
        partial.pop();
        for (name, tags) in [
            (
                format!("{other}-{ENV}-web"),
                own_tags(&other, ENV, "security_group.web"),
            ),
            (
                format!("{}-prod-web", s.name),
                own_tags(&s.name, "prod", "security_group.web"),
            ),
            (format!("{}-partial", s.name), partial.clone()),
        ] {
            groups.push(aws.group(&name, "web nodes", &tags).await);
        }
        for (i, tags) in [
            vec![("Name".to_string(), s.physical("web-0"))],
            own_tags(&other, ENV, "instance.web[0]"),
            own_tags(&s.name, "prod", "instance.web[0]"),
            own_tags(&s.name, "prod", "instance.web[7]"),
            partial,
        ]
        .into_iter()
        .enumerate()
        {
            let id = aws
                .instance(Launch {
                    zone: "us-east-1a",
                    instance_type: "t2.micro",
                    key_name: None,
                    groups: vec![groups[i % groups.len()].as_str()],
                    user_data: None,
                    tags,
                })
                .await;
            instances.push(id);
        }
        aws.key_pair(
            &format!("{}-prod-main", s.name),
            &own_tags(&s.name, "prod", "key_pair.main"),
        )
        .await;
        aws.balancer(
            &format!("{}-prod-web", s.name),
            &own_tags(&s.name, "prod", "load_balancer.web"),
            &instances[2..3],
        )
        .await;
        aws.database(
            &format!("{other}-{ENV}-main"),
            &groups[1],
            &own_tags(&other, ENV, "database.main"),
        )
        .await;
        // The stack's record name, claimed by another stack; another claimed by the
        // stack in another env; one nobody claims.
        aws.owned_record(
            &zone_id,
            (
                &format!("www.{}", s.zone),
                RrType::Cname,
                "other.example.net",
            ),
            (&other, ENV, "dns_record.www"),
        )
        .await;
        aws.owned_record(
            &zone_id,
            (
                &format!("api.{}", s.zone),
                RrType::Cname,
                "prod.example.net",
            ),
            (&s.name, "prod", "dns_record.api"),
        )
        .await;
        aws.upsert(
            &zone_id,
            vec![(
                format!("old.{}", s.zone),
                RrType::Cname,
                "old.example.net".into(),
            )],
        )
        .await;
        (groups, instances)
    });
    let (groups, instances) = foreign;
    let names = World {
        groups: groups.clone(),
        instances: instances.clone(),
        key_pairs: vec![format!("{}-prod-main", s.name)],
        balancers: vec![format!("{}-prod-web", s.name)],
        databases: vec![format!("{other}-{ENV}-main")],
        zone_id: zone_id.clone(),
    };
    // moto moves an instance from pending to running on the first describe after launch:
    // look once so that is not mistaken for a change.
    rt.block_on(names.describe(&aws));
    let before = rt.block_on(names.describe(&aws));

    // Through a counting proxy, to see every call the plan makes.
    let proxy = emulator::Proxy::start(emulator::endpoint(), &[]);
    let out = s.run_with("plan", &[], &[], &proxy.endpoint);
    let plan = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{plan}{}", text(&out.stderr));
    let expected: Vec<String> = FULL_ADDRESSES
        .iter()
        .map(|a| format!("  + {a}  will be created"))
        .collect();
    assert_eq!(headings(&plan), expected, "nothing but creates\n{plan}");
    assert_eq!(
        last_line(&plan),
        "Plan: 8 to create, 0 to update, 0 to replace, 0 to destroy."
    );
    for id in groups.iter().chain(&instances) {
        assert!(!plan.contains(id.as_str()), "{id} in\n{plan}");
    }
    for word in [other.as_str(), "prod", "api.", "old.", "warning"] {
        assert!(!plan.contains(word), "{word:?} in\n{plan}");
    }
    let stats = proxy.stats();
    let ops = stats["by_operation"].as_object().expect("by_operation");
    assert_eq!(
        ops.get("DescribeInstances"),
        Some(&Json::from(1)),
        "{stats}"
    );
    for op in ops.keys() {
        let read = ["Describe", "List", "GetHostedZone"]
            .iter()
            .any(|p| op.starts_with(p))
            || op.starts_with("route53:GET ");
        assert!(read, "plan made a call that is not a read: {op} ({stats})");
    }

    let after = rt.block_on(names.describe(&aws));
    assert_eq!(before, after, "plan changed something in AWS");
}

/// Resources to describe, to tell whether anything changed.
struct World {
    groups: Vec<String>,
    instances: Vec<String>,
    key_pairs: Vec<String>,
    balancers: Vec<String>,
    databases: Vec<String>,
    zone_id: String,
}

impl World {
    /// What AWS says of them, as comparable text (fields moto fills in anew on every
    /// describe, such as a database's latest restorable time, left out).
    async fn describe(&self, aws: &Aws) -> Vec<String> {
        let mut out = Vec::new();
        let groups = aws
            .ec2
            .describe_security_groups()
            .set_group_ids(Some(self.groups.clone()))
            .send()
            .await
            .expect("DescribeSecurityGroups");
        for g in groups.security_groups() {
            out.push(format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}",
                g.group_id(),
                g.group_name(),
                g.description(),
                g.ip_permissions(),
                g.ip_permissions_egress(),
                sorted_tags(g.tags().iter().map(|t| (t.key(), t.value())))
            ));
        }
        let instances = aws
            .ec2
            .describe_instances()
            .set_instance_ids(Some(self.instances.clone()))
            .send()
            .await
            .expect("DescribeInstances");
        for i in instances.reservations().iter().flat_map(|r| r.instances()) {
            out.push(format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}",
                i.instance_id(),
                i.state().and_then(|s| s.name()),
                i.instance_type(),
                i.image_id(),
                i.security_groups(),
                sorted_tags(i.tags().iter().map(|t| (t.key(), t.value())))
            ));
        }
        let keys = aws
            .ec2
            .describe_key_pairs()
            .set_key_names(Some(self.key_pairs.clone()))
            .send()
            .await
            .expect("DescribeKeyPairs");
        for k in keys.key_pairs() {
            out.push(format!(
                "{:?} {:?} {:?}",
                k.key_name(),
                k.key_fingerprint(),
                sorted_tags(k.tags().iter().map(|t| (t.key(), t.value())))
            ));
        }
        let balancers = aws
            .elb
            .describe_load_balancers()
            .set_load_balancer_names(Some(self.balancers.clone()))
            .send()
            .await
            .expect("DescribeLoadBalancers");
        for b in balancers.load_balancer_descriptions() {
            out.push(format!(
                "{:?} {:?} {:?} {:?} {:?}",
                b.load_balancer_name(),
                b.listener_descriptions(),
                b.health_check(),
                b.instances(),
                b.availability_zones()
            ));
        }
        let tags = aws
            .elb
            .describe_tags()
            .set_load_balancer_names(Some(self.balancers.clone()))
            .send()
            .await
            .expect("DescribeTags");
        for d in tags.tag_descriptions() {
            out.push(format!(
                "{:?} {:?}",
                d.load_balancer_name(),
                sorted_tags(d.tags().iter().map(|t| (Some(t.key()), t.value())))
            ));
        }
        for id in &self.databases {
            let dbs = aws
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .expect("DescribeDBInstances");
            for d in dbs.db_instances() {
                out.push(format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    d.db_instance_identifier(),
                    d.db_instance_status(),
                    d.db_instance_class(),
                    d.allocated_storage(),
                    d.backup_retention_period(),
                    d.vpc_security_groups(),
                    sorted_tags(d.tag_list().iter().map(|t| (t.key(), t.value())))
                ));
            }
        }
        let records = aws
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .send()
            .await
            .expect("ListResourceRecordSets");
        for r in records.resource_record_sets() {
            out.push(format!("{r:?}"));
        }
        out.sort();
        out
    }
}

fn sorted_tags<'a>(
    tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = tags
        .map(|(k, v)| {
            (
                k.unwrap_or_default().to_string(),
                v.unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A smaller stack for the destroy test: a group, two web instances and a record.
fn web_stack(name: &str, zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[security_group.web]
description = "web nodes"
ingress = [
  {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }},
  {{ protocol = "tcp", ports = "443", cidr = "0.0.0.0/0" }},
]

[security_group.new]
description = "added to the stack since"

[instance.web]
count = 2
ami = "{AMI}"
instance_type = "t2.micro"
security_groups = ["web"]
availability_zone = "us-east-1a"

[dns_record.www]
zone = "{zone}"
name = "www.{zone}"
type = "A"
ttl = 300
records = ["192.0.2.10"]
"##
    )
}

#[test]
fn removed_resources_and_extra_replicas_are_destroyed() {
    let s = StackDir::new("gone", web_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let tags = |address: &str| own_tags(&s.name, ENV, address);
    let (web, old, instances) = rt.block_on(async {
        // The group as it was before 443 was added to the stack: an update, not drift.
        let web = aws
            .group(&s.physical("web"), "web nodes", &tags("security_group.web"))
            .await;
        aws.ingress(&web, vec![tcp_from_cidr(80, "0.0.0.0/0")])
            .await;
        let old = aws
            .group(&s.physical("old"), "removed", &tags("security_group.old"))
            .await;
        let mut instances = Vec::new();
        // Three replicas live; the stack now says `count = 2`.
        for i in 0..3 {
            let mut t = tags(&format!("instance.web[{i}]"));
            t.push(("Name".into(), s.physical(&format!("web-{i}"))));
            let id = aws
                .instance(Launch {
                    zone: "us-east-1a",
                    instance_type: "t2.micro",
                    key_name: None,
                    groups: vec![web.as_str()],
                    user_data: None,
                    tags: t,
                })
                .await;
            instances.push(id);
        }
        aws.database(&s.physical("legacy"), &old, &tags("database.legacy"))
            .await;
        let zone_id = aws.zone(&s.zone).await;
        aws.owned_record(
            &zone_id,
            (&format!("www.{}", s.zone), RrType::A, "192.0.2.10"),
            (&s.name, ENV, "dns_record.www"),
        )
        .await;
        aws.owned_record(
            &zone_id,
            (
                &format!("old.{}", s.zone),
                RrType::Cname,
                "legacy.example.net",
            ),
            (&s.name, ENV, "dns_record.old"),
        )
        .await;
        (web, old, instances)
    });

    let plan = s.plan(&["--detailed-exitcode"], 2);
    assert_eq!(
        headings(&plan),
        [
            "  + security_group.new  will be created".to_string(),
            format!("  ~ security_group.web  will be updated in place [{web}]"),
            format!(
                "  - dns_record.old  will be destroyed [old.{} CNAME]",
                s.zone
            ),
            format!("  - instance.web[2]  will be destroyed [{}]", instances[2]),
            format!(
                "  - database.legacy  will be destroyed [{}]",
                s.physical("legacy")
            ),
            format!("  - security_group.old  will be destroyed [{old}]"),
        ],
        "creates and updates first, then destroys, dependents first\n{plan}"
    );
    assert_eq!(
        block(
            &plan,
            &format!("  ~ security_group.web  will be updated in place [{web}]")
        )[1..],
        ["      ingress:", "          + tcp 443 from 0.0.0.0/0"],
        "{plan}"
    );
    assert_eq!(
        block(
            &plan,
            &format!(
                "  - database.legacy  will be destroyed [{}]",
                s.physical("legacy")
            )
        )[1..],
        [format!(
            "      ! data loss: destroys database `{}` and its data",
            s.physical("legacy")
        )],
        "{plan}"
    );
    let tail: Vec<&str> = plan.trim_end().lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            "Plan: 1 to create, 1 to update, 0 to replace, 4 to destroy.",
            "Note: 1 change can lose data.",
        ],
        "{plan}"
    );
    for kept in &instances[..2] {
        assert!(!plan.contains(kept.as_str()), "{kept} is kept\n{plan}");
    }

    let j = json(&s.plan(&["--json"], 0));
    let destroys: Vec<(&str, &str)> = j["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "destroy")
        .map(|c| {
            (
                c["address"].as_str().expect("address"),
                c["id"].as_str().expect("id"),
            )
        })
        .collect();
    let legacy = s.physical("legacy");
    let old_record = format!("old.{} CNAME", s.zone);
    assert_eq!(
        destroys,
        [
            ("dns_record.old", old_record.as_str()),
            ("instance.web[2]", instances[2].as_str()),
            ("database.legacy", legacy.as_str()),
            ("security_group.old", old.as_str()),
        ]
    );
    assert_eq!(j["summary"]["destroy"], 4);
    assert_eq!(j["summary"]["data_loss"], 1);
}

/// The stack after its only DNS record was removed: one group.
fn group_only_stack(name: &str, _zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[security_group.web]
description = "web nodes"
"##
    )
}

fn group_and_record_stack(name: &str, zone: &str) -> String {
    format!(
        r##"{}
[dns_record.www]
zone = "{zone}"
name = "www.{zone}"
type = "A"
ttl = 60
records = ["192.0.2.10"]
"##,
        group_only_stack(name, zone)
    )
}

/// The stack's tag on a hosted zone, if the zone has it.
async fn zone_tag(aws: &Aws, zone_id: &str, stack: &str) -> Option<String> {
    let out = aws
        .route53
        .list_tags_for_resource()
        .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
        .resource_id(zone_id.trim_start_matches("/hostedzone/"))
        .send()
        .await
        .expect("ListTagsForResource");
    let key = format!("stackwright:records:{stack}/{ENV}");
    out.resource_tag_set()
        .into_iter()
        .flat_map(|s| s.tags())
        .find(|t| t.key() == Some(key.as_str()))
        .and_then(|t| t.key().map(str::to_string))
}

#[test]
fn a_record_removed_with_the_last_of_its_zone_is_destroyed() {
    // Its only record in the zone: once the file drops it, the stack names the zone no
    // more. The zone's tag, written when the record was created, is how refresh finds it.
    let s = StackDir::new("lastrec", group_and_record_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let zone_id = rt.block_on(aws.zone(&s.zone));
    let fqdn = format!("www.{}", s.zone);
    let out = s.run("apply", &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(rt.block_on(zone_tag(&aws, &zone_id, &s.name)).is_some());

    std::fs::write(
        s.path().join("stack.toml"),
        group_only_stack(&s.name, &s.zone),
    )
    .expect("rewrite");
    let plan = s.plan(&["--detailed-exitcode"], 2);
    assert_eq!(
        headings(&plan),
        [format!("  - dns_record.www  will be destroyed [{fqdn} A]")],
        "{plan}"
    );
    let out = s.run("apply", &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        last_line(&s.plan(&["--detailed-exitcode"], 0)),
        "No changes."
    );
    // The record and its claim are gone, and with them the zone's tag.
    let names: Vec<String> = rt.block_on(async {
        aws.route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .send()
            .await
            .expect("ListResourceRecordSets")
            .resource_record_sets()
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    });
    assert!(!names.iter().any(|n| n.contains("www")), "{names:?}");
    assert_eq!(rt.block_on(zone_tag(&aws, &zone_id, &s.name)), None);
}

/// What a secret is set to while the commands run: none may ever print it.
const PW: &str = "canary-pw-7f3a";
const TOKEN: &str = "canary-token-91c2";

/// One web instance with the token in its user data, and a database with the password.
fn secret_stack(name: &str, _zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[secrets]
pw = {{ env = "{PW_VAR}" }}
token = {{ env = "{TOKEN_VAR}" }}

[security_group.web]
description = "web nodes"
ingress = [ {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }} ]

[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"

[instance.web]
count = 1
ami = "{AMI}"
instance_type = "t2.micro"
security_groups = ["web"]
availability_zone = "us-east-1a"
user_data = """#!/bin/sh
echo 'token=${{secret.token}}' > /etc/web.conf
"""
"##
    )
}

#[test]
fn secrets_never_appear_anywhere() {
    let s = StackDir::new("secret", secret_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    // The instance was launched (by an older version of the stack) with the real token in
    // its user data, written to another file.
    let live_user_data = format!("#!/bin/sh\necho 'token={TOKEN}' > /etc/old.conf\n");
    let instance = rt.block_on(async {
        let tags = |address: &str| own_tags(&s.name, ENV, address);
        let web = aws
            .group(&s.physical("web"), "web nodes", &tags("security_group.web"))
            .await;
        aws.ingress(&web, vec![tcp_from_cidr(80, "0.0.0.0/0")])
            .await;
        let mut t = tags("instance.web[0]");
        t.push(("Name".into(), s.physical("web-0")));
        aws.instance(Launch {
            zone: "us-east-1a",
            instance_type: "t2.micro",
            key_name: None,
            groups: vec![web.as_str()],
            user_data: Some(&live_user_data),
            tags: t,
        })
        .await
    });
    let secrets = [(PW_VAR, PW), (TOKEN_VAR, TOKEN)];
    let out_file = s.path().join("saved.plan");
    let deep_file = s.path().join("deep.plan");
    let out_arg = out_file.to_str().expect("path");
    let deep_arg = deep_file.to_str().expect("path");
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("plan", vec![]),
        ("plan", vec!["--json"]),
        ("plan", vec!["--out", out_arg]),
        ("plan", vec!["--deep"]),
        ("plan", vec!["--deep", "--json"]),
        ("plan", vec!["--deep", "--out", deep_arg, "--stats"]),
        ("validate", vec![]),
        ("graph", vec![]),
    ];
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut deep_text = String::new();
    for (command, args) in &runs {
        let out = s.run_with(command, args, &secrets, emulator::endpoint());
        let what = format!("{command} {}", args.join(" "));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        if args == &["--deep"] {
            deep_text = text(&out.stdout);
        }
        seen.push((format!("{what}: stdout"), text(&out.stdout)));
        seen.push((format!("{what}: stderr"), text(&out.stderr)));
    }
    for file in [&out_file, &deep_file] {
        let saved = std::fs::read_to_string(file).expect("saved plan");
        // The stack in it names the secret; the deep plan holds it as a placeholder.
        assert!(saved.contains(r#""secret": "token""#), "{saved}");
        if file == &deep_file {
            assert!(saved.contains("token=${secret.token}"), "{saved}");
        }
        seen.push((file.display().to_string(), saved));
    }
    let encoded = aws_smithy_types::base64::encode(&live_user_data);
    for (what, output) in &seen {
        for canary in [PW, TOKEN, encoded.as_str()] {
            assert!(
                !output.contains(canary),
                "{what} holds {canary:?}:\n{output}"
            );
        }
    }

    // Without --deep, user data is compared through its tag, which an instance made
    // outside stackwright lacks: not a change.
    let shallow = &seen[0].1;
    assert!(!shallow.contains("instance.web[0]"), "{shallow}");
    // With --deep it is read back. It holds the token, but the text around it is not the
    // template's, so nothing says where an old secret might sit: none of it is shown.
    let heading = format!(
        "-/+ instance.web[0]  must be replaced (forces replacement: user_data) [{instance}]"
    );
    assert_eq!(
        block(&deep_text, &heading)[1..],
        ["      user_data : (differs; not shown: it may hold secrets)  # forces replacement"],
        "{deep_text}"
    );
    assert!(!deep_text.contains("/etc/old.conf"), "{deep_text}");

    // --deep needs the secrets of user data, to hide them: without one it stops before
    // reading anything. The master password is never read back, so it is not needed.
    let out = s.run_with("plan", &["--deep"], &[(PW_VAR, PW)], emulator::endpoint());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("set `{TOKEN_VAR}`")), "{stderr}");
    assert!(!stderr.contains(PW) && !text(&out.stdout).contains(PW));
    let out = s.run_with(
        "plan",
        &["--deep"],
        &[(TOKEN_VAR, TOKEN)],
        emulator::endpoint(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(TOKEN) && !text(&out.stderr).contains(TOKEN));
}

#[test]
fn plans_are_byte_identical() {
    let s = StackDir::new("same", full_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let full = rt.block_on(populate_full(&aws, &s));
    // Make the plan hold updates and a destroy, not just `No changes.`
    rt.block_on(async {
        aws.ingress(&full.db_group, vec![tcp_from_cidr(22, "0.0.0.0/0")])
            .await;
        aws.health_check(&full.balancer, "HTTP:80/", 10, 5, 2, 2)
            .await;
        let mut t = own_tags(&s.name, ENV, "instance.web[2]");
        t.push(("Name".into(), s.physical("web-2")));
        aws.instance(Launch {
            zone: "us-east-1b",
            instance_type: "t2.micro",
            key_name: Some(&full.key_name),
            groups: vec![full.web_group.as_str(), full.db_group.as_str()],
            user_data: None,
            tags: t,
        })
        .await;
    });
    let out_a: PathBuf = s.path().join("a.plan");
    let out_b: PathBuf = s.path().join("b.plan");
    let text_a = s.plan(&["--out", out_a.to_str().expect("path")], 0);
    let text_b = s.plan(&["--out", out_b.to_str().expect("path")], 0);
    assert_eq!(text_a, text_b);
    assert!(
        text_a.ends_with("Plan: 0 to create, 2 to update, 0 to replace, 1 to destroy.\n"),
        "{text_a}"
    );
    assert_eq!(
        std::fs::read(&out_a).expect("a.plan"),
        std::fs::read(&out_b).expect("b.plan")
    );
    let json_a = s.plan(&["--json"], 0);
    let json_b = s.plan(&["--json"], 0);
    assert_eq!(json_a, json_b);
    assert_eq!(json(&json_a)["changes"].as_array().map(Vec::len), Some(3));
}

/// A token an instance was launched with and that has been replaced since: stackwright
/// never knew it as the secret's value now, so only its place in the template hides it.
const OLD_TOKEN: &str = "old-token-38ab";

#[test]
fn a_secret_changed_since_apply_is_masked_by_position_and_called_a_secret_input() {
    let s = StackDir::new("rotated", secret_stack);
    let old = [(PW_VAR, "old-pw-5d1e"), (TOKEN_VAR, OLD_TOKEN)];
    let out = s.run_with("apply", &["--yes"], &old, emulator::endpoint());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let new = [(PW_VAR, PW), (TOKEN_VAR, TOKEN)];
    let saved = s.path().join("deep.plan");
    let saved_arg = saved.to_str().expect("path");
    let run = |args: &[&str]| {
        let out = s.run_with("plan", args, &new, emulator::endpoint());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}\n{}",
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    };
    let (plan, plan_err) = run(&["--deep"]);
    let (json_text, json_err) = run(&["--deep", "--json"]);
    run(&["--deep", "--out", saved_arg]);
    let file = std::fs::read_to_string(&saved).expect("saved plan");
    let sent = format!("#!/bin/sh\necho 'token={OLD_TOKEN}' > /etc/web.conf\n");
    let encoded = aws_smithy_types::base64::encode(&sent);
    for output in [&plan, &plan_err, &json_text, &json_err, &file] {
        for canary in [OLD_TOKEN, TOKEN, encoded.as_str()] {
            assert!(!output.contains(canary), "holds {canary:?}:\n{output}");
        }
    }
    // The text differs only where the token is: a new input, not AWS drifting.
    let heading = headings(&plan)
        .into_iter()
        .find(|h| h.contains("instance.web[0]"))
        .unwrap_or_else(|| panic!("{plan}"))
        .to_string();
    assert!(
        heading.starts_with(
            "-/+ instance.web[0]  must be replaced (forces replacement: user_data) \
             (secret input changed) [i-"
        ),
        "{plan}"
    );
    assert_eq!(
        block(&plan, &heading)[1..],
        [
            "      user_data : (sensitive) -> (sensitive) (new input for secret `token`)  \
             # forces replacement; secret input changed"
        ],
        "{plan}"
    );
    assert!(!plan.contains("drift"), "{plan}");
    let doc = json(&json_text);
    let web = change(&doc, "instance.web[0]");
    assert_eq!(web["drift"], false, "{web:#}");
    let attr = &web["attrs"][0];
    assert_eq!(attr["name"], "user_data");
    assert_eq!(attr["drift"], false);
    assert_eq!(attr["secrets_changed"], serde_json::json!(["token"]));
    assert_eq!(
        attr["before"]["text"],
        "#!/bin/sh\necho 'token=${secret.token}' > /etc/web.conf\n"
    );
    assert_eq!(doc["summary"]["drift"], 0);

    // The template changed too: the live text no longer aligns, so none of it is shown.
    let toml = std::fs::read_to_string(s.path().join("stack.toml")).expect("stack");
    std::fs::write(
        s.path().join("stack.toml"),
        toml.replace("/etc/web.conf", "/etc/app.conf"),
    )
    .expect("stack");
    let (plan, plan_err) = run(&["--deep"]);
    let (json_text, _) = run(&["--deep", "--json"]);
    for output in [&plan, &plan_err, &json_text] {
        for canary in [OLD_TOKEN, TOKEN, encoded.as_str(), "/etc/web.conf"] {
            assert!(!output.contains(canary), "holds {canary:?}:\n{output}");
        }
    }
    let heading = headings(&plan)
        .into_iter()
        .find(|h| h.contains("instance.web[0]"))
        .unwrap_or_else(|| panic!("{plan}"))
        .to_string();
    assert_eq!(
        block(&plan, &heading)[1..],
        ["      user_data : (differs; not shown: it may hold secrets)  # forces replacement"],
        "{plan}"
    );
    let doc = json(&json_text);
    let attr = &change(&doc, "instance.web[0]")["attrs"][0];
    assert_eq!(attr["before"], Json::Null, "{attr:#}");
    assert_eq!(attr["withheld"], true, "{attr:#}");
}

#[test]
fn an_aws_error_that_echoes_user_data_shows_no_secret() {
    // The proxy answers RunInstances with an error quoting the request: each parameter's
    // value (the user data in base64) and the form-encoded body.
    let proxy = Proxy::start(emulator::endpoint(), &["--echo-error", "RunInstances"]);
    let s = StackDir::new("echo", secret_stack);
    let secrets = [(PW_VAR, PW), (TOKEN_VAR, TOKEN)];
    let out = s.run_with("apply", &["--yes"], &secrets, &proxy.endpoint);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // The error is shown: AWS's code and its words around the user data.
    assert!(stderr.contains("InvalidParameterValue"), "{stderr}");
    assert!(
        stderr.contains("for parameter UserData is invalid"),
        "{stderr}"
    );
    // The user data sent, whole, is named as such.
    assert!(
        stderr.contains("Value ((user data: not shown)) for parameter UserData"),
        "{stderr}"
    );
    let user_data = "#!/bin/sh\necho 'token=canary-token-91c2' > /etc/web.conf\n";
    assert!(user_data.contains(TOKEN));
    let b64 = aws_smithy_types::base64::encode(user_data);
    let form = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    // The token's own base64 characters, where it sits in this user data.
    let start = user_data.find(TOKEN).expect("token");
    let first = start.div_ceil(3) * 4;
    let last = (start + TOKEN.len()) / 3 * 4;
    let core = &b64[first..last];
    for output in [&stdout, &stderr] {
        for canary in [TOKEN, PW, b64.as_str(), form.as_str(), core] {
            assert!(!output.contains(canary), "holds {canary:?}:\n{output}");
        }
    }
}
