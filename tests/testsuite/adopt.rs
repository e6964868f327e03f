//! Issue 15: adopting what was built by hand. Resources are made through the SDK with no
//! tags, as a console or a script would; the stack names them in `[import]`; `plan` shows
//! imports only, `apply` tags (or claims) them and creates and deletes nothing but its
//! lock (counted at `scripts/aws-proxy`), and the next plan is clean.
//!
//! Where this leans on the emulator: moto makes instances `running` at once; the user data
//! and root volume it reports are what RunInstances was given.

use aws_sdk_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use aws_sdk_route53::types::RrType;

use crate::emulator::{self, Proxy};
use crate::plan::{AMI, Aws, Launch, StackDir, runtime};
use crate::support::text;

const USER_DATA: &str = "#!/bin/sh\necho hello > /tmp/hello\n";

fn stack(name: &str, zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[security_group.web]
name = "{name}-web-by-hand"
description = "web nodes"
ingress = [
  {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }},
  {{ protocol = "tcp", ports = "8080", group = "db" }},
]

[security_group.db]
name = "{name}-db-by-hand"
description = "databases"
ingress = [ {{ protocol = "tcp", ports = "3306", group = "web" }} ]

[instance.app]
ami = "{AMI}"
instance_type = "t2.micro"
availability_zone = "us-east-1a"
security_groups = ["web"]
user_data = """{USER_DATA}"""

[dns_record.www]
zone = "{zone}"
name = "www.{zone}"
type = "CNAME"
ttl = 300
records = ["${{instance.app.public_dns}}"]
"##
    )
}

/// Build by hand (no tags): two groups admitting each other, an instance in one with user
/// data, a CNAME to the instance. Returns the env file's `[import]` table.
fn build_by_hand(s: &StackDir) -> String {
    let rt = runtime();
    rt.block_on(async {
        let aws = Aws::connect().await;
        let web = aws
            .group(&format!("{}-web-by-hand", s.name), "web nodes", &[])
            .await;
        let db = aws
            .group(&format!("{}-db-by-hand", s.name), "databases", &[])
            .await;
        let from = |group: &str, port: i32| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
                .build()
        };
        let anywhere = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        aws.ingress(&web, vec![anywhere, from(&db, 8080)]).await;
        aws.ingress(&db, vec![from(&web, 3306)]).await;
        let instance = aws
            .instance(Launch {
                zone: "us-east-1a",
                instance_type: "t2.micro",
                key_name: None,
                groups: vec![&web],
                user_data: Some(USER_DATA),
                tags: vec![],
            })
            .await;
        let described = aws
            .ec2
            .describe_instances()
            .instance_ids(&instance)
            .send()
            .await
            .expect("DescribeInstances");
        let dns = described.reservations()[0].instances()[0]
            .public_dns_name()
            .unwrap_or_default()
            .to_string();
        let zone_id = aws.zone(&s.zone).await;
        aws.upsert(
            &zone_id,
            vec![(format!("www.{}", s.zone), RrType::Cname, dns)],
        )
        .await;
        format!(
            "region = \"us-east-1\"\n\n[import]\n\"security_group.web\" = \"{web}\"\n\
             \"security_group.db\" = \"{db}\"\n\"instance.app\" = \"{instance}\"\n\
             \"dns_record.www\" = \"www.{} CNAME\"\n",
            s.zone
        )
    })
}

/// The id `[import]` gives `address` in the env file.
fn json_id(s: &StackDir, address: &str) -> String {
    let env = std::fs::read_to_string(s.path().join("env/test.toml")).expect("env file");
    let table: toml::Table = env.parse().expect("env file");
    table["import"][address].as_str().expect("id").to_string()
}

fn write_env(s: &StackDir, env: &str) {
    std::fs::write(s.path().join("env/test.toml"), env).expect("env file");
}

#[test]
fn adopt_a_cluster_built_by_hand_creating_and_deleting_nothing() {
    let s = StackDir::new("adopt", stack);
    let env = build_by_hand(&s);
    write_env(&s, &env);

    let plan = s.plan(&["--detailed-exitcode"], 2);
    for address in [
        "security_group.db",
        "security_group.web",
        "instance.app",
        "dns_record.www",
    ] {
        assert!(
            plan.lines()
                .any(|l| l.starts_with(&format!(" <= {address}  will be imported ["))),
            "{address} not imported:\n{plan}"
        );
    }
    // Nothing differs but the instance's `Name` tag, which stackwright gives every
    // instance: the import says so, and apply then sets it.
    assert!(
        plan.contains(&format!(
            " <= instance.app  will be imported [{}]\n      tags:\n          + Name={}\n",
            json_id(&s, "instance.app"),
            s.physical("app")
        )),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy, 4 to import."),
        "{plan}"
    );

    // The JSON carries the imports too.
    let json: serde_json::Value = serde_json::from_str(&s.plan(&["--json"], 0)).expect("json");
    assert_eq!(json["summary"]["import"], 4, "{json}");
    assert!(
        json["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["action"] == "import"),
        "{json}"
    );

    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let out = s.run_with("apply", &["--yes"], &[], &proxy.endpoint);
    assert!(
        out.status.success(),
        "apply\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stats = proxy.stats();
    let calls = stats["by_operation"].as_object().expect("by_operation");
    let made_or_gone: Vec<(&String, &serde_json::Value)> = calls
        .iter()
        .filter(|(op, _)| {
            ["Create", "Run", "Delete", "Terminate", "Import"]
                .iter()
                .any(|p| op.starts_with(p))
                && op.as_str() != "CreateTags"
                && op.as_str() != "DeleteTags"
        })
        .collect();
    // The lock is a security group, created and deleted; nothing else is.
    let expected = serde_json::json!(1);
    assert_eq!(
        made_or_gone,
        vec![
            (&"CreateSecurityGroup".to_string(), &expected),
            (&"DeleteSecurityGroup".to_string(), &expected),
        ],
        "{stats}"
    );
    assert!(calls.contains_key("CreateTags"), "{stats}");
    assert!(calls.contains_key("ChangeResourceRecordSets"), "{stats}");

    // Tagged now: the import table may stay, and the plan is clean.
    s.plan(&["--detailed-exitcode"], 0);
}

#[test]
fn imports_that_cannot_be_adopted_are_refused_at_plan_time() {
    let s = StackDir::new("adoptno", stack);
    let rt = runtime();
    rt.block_on(async { Aws::connect().await.zone(&s.zone).await });
    write_env(
        &s,
        "region = \"us-east-1\"\n\n[import]\n\"security_group.web\" = \"sg-0123456789abcdef0\"\n",
    );
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let out = s.run_with("apply", &["--yes"], &[], &proxy.endpoint);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no security group `sg-0123456789abcdef0`"),
        "{err}"
    );
    let stats = proxy.stats();
    let calls = stats["by_operation"].as_object().expect("by_operation");
    assert!(
        calls.keys().all(|op| op.starts_with("Describe")
            || op.starts_with("List")
            || op.starts_with("Get")),
        "only reads: {stats}"
    );

    // Another stack's group: refused naming its owner.
    let other = StackDir::new("adoptown", stack);
    let owned = rt.block_on(async {
        let aws = Aws::connect().await;
        aws.group(
            &format!("{}-owned", other.name),
            "web nodes",
            &crate::plan::own_tags(&other.name, "test", "security_group.front"),
        )
        .await
    });
    write_env(
        &s,
        &format!("region = \"us-east-1\"\n\n[import]\n\"security_group.web\" = \"{owned}\"\n"),
    );
    let out = s.run("plan", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "belongs to stack `{}` env `test` (its `security_group.front`)",
            other.name
        )),
        "{err}"
    );
}

fn counted(name: &str, zone: &str) -> String {
    format!(
        r#"[stack]
name = "{name}"
region = "us-east-1"

[instance.app]
count = 2
ami = "{AMI}"
instance_type = "t2.micro"
availability_zones = ["us-east-1a", "us-east-1b"]

[dns_record.www]
zone = "{zone}"
name = "www.{zone}"
type = "CNAME"
ttl = 300
records = ["${{instance.app[0].public_dns}}"]
"#
    )
}

/// The ids of the stack's live instances by their address tag.
fn instances_by_address(s: &StackDir) -> std::collections::BTreeMap<String, String> {
    let rt = runtime();
    rt.block_on(async {
        let aws = Aws::connect().await;
        let out = aws
            .ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:stackwright:stack")
                    .values(&s.name)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .expect("DescribeInstances");
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                let address = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("stackwright:address"))
                    .and_then(|t| t.value())
                    .unwrap_or_default()
                    .to_string();
                (address, i.instance_id().unwrap_or_default().to_string())
            })
            .collect()
    })
}

#[test]
fn renaming_a_counted_block_keeps_its_instances() {
    let s = StackDir::new("moved", counted);
    runtime().block_on(async { Aws::connect().await.zone(&s.zone).await });
    let out = s.run("apply", &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let before = instances_by_address(&s);
    assert_eq!(before.len(), 2, "{before:?}");

    let renamed = counted(&s.name, &s.zone)
        .replace("[instance.app]", "[instance.web]")
        .replace("instance.app[0]", "instance.web[0]")
        .replace("[dns_record.www]", "[dns_record.site]")
        + "\n[moved]\n\"instance.app\" = \"instance.web\"\n\"dns_record.www\" = \"dns_record.site\"\n";
    std::fs::write(s.path().join("stack.toml"), renamed).expect("stack.toml");
    let plan = s.plan(&["--detailed-exitcode"], 2);
    for line in [
        " mv instance.app[0] -> instance.web[0]  will be moved [",
        " mv instance.app[1] -> instance.web[1]  will be moved [",
        " mv dns_record.www -> dns_record.site  will be moved [",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    assert!(
        plan.contains(", 0 to replace, 0 to destroy, 3 to move."),
        "{plan}"
    );
    assert!(plan.contains("Plan: 0 to create,"), "{plan}");
    // `plan --json` carries the moves, as `schemas/plan.schema.json` describes them.
    let json: serde_json::Value = serde_json::from_str(&s.plan(&["--json"], 0)).expect("json");
    assert_eq!(json["summary"]["move"], 3, "{json}");
    let problems = crate::plan_json::errors(&crate::plan_json::validator(), &json);
    assert!(problems.is_empty(), "{problems:?}\n{json}");
    let moved = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["address"] == "instance.web[1]")
        .expect("instance.web[1]");
    assert_eq!(moved["action"], "move", "{json}");
    assert_eq!(moved["moved_from"], "instance.app[1]", "{json}");

    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let out = s.run_with("apply", &["--yes"], &[], &proxy.endpoint);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats = proxy.stats();
    let calls = stats["by_operation"].as_object().expect("by_operation");
    for op in ["RunInstances", "TerminateInstances"] {
        assert!(!calls.contains_key(op), "{op}: {stats}");
    }

    let after = instances_by_address(&s);
    let ids = |m: &std::collections::BTreeMap<String, String>, prefix: &str| -> Vec<String> {
        (0..2)
            .map(|i| {
                m.get(&format!("{prefix}[{i}]"))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(ids(&after, "instance.web"), ids(&before, "instance.app"));
    s.plan(&["--detailed-exitcode"], 0);
}
