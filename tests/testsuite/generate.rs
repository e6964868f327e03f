//! Issue 15: `stackwright generate` writes a stack directory from a cluster built by hand
//! through the SDK with no stackwright tags (two groups admitting each other, a key pair,
//! two instances in two zones with user data, a balancer with a health check, a database
//! with a password, a CNAME to the balancer). The stack it writes validates, plans as
//! imports only, applies creating and deleting nothing but the lock (counted at
//! `scripts/aws-proxy`), and plans clean afterwards.
//!
//! The instances carry a `Name` tag, as the console's launch wizard gives them: an
//! instance's name is its `Name` tag, and one without it would plan the tag as an update.
//! Where this leans on the emulator: moto makes instances `running` and databases
//! `available` at once, and reports the user data RunInstances was given.

use aws_sdk_route53::types::RrType;

use crate::emulator::{self, Proxy};
use crate::plan::{
    Aws, ENV, Launch, PUBLIC_KEY, StackDir, aws_env_at, own_tags, runtime, tcp_from_cidr,
    tcp_from_group,
};
use crate::support::text;

/// `$` and `${…}` in user data must come back as they were (a template escapes them).
const USER_DATA: &str = "#!/bin/sh\necho \"${HOME}\" > /tmp/home\n";
/// The master password `Aws::database` gives the database: never read, never written.
const PASSWORD: &str = "not-the-canary";

/// What was built: the ids to generate from, and the ones the assertions name.
struct Built {
    ids: Vec<String>,
    web_group: String,
    extra_group: String,
    instances: [String; 2],
}

fn build_cluster(s: &StackDir) -> Built {
    let rt = runtime();
    rt.block_on(async {
        let aws = Aws::connect().await;
        let web = aws
            .group(&format!("{}-web", s.name), "web nodes", &[])
            .await;
        let db = aws.group(&format!("{}-db", s.name), "databases", &[]).await;
        // Not listed: its use is warned about.
        let extra = aws
            .group(&format!("{}-ops", s.name), "ops access", &[])
            .await;
        aws.ingress(
            &web,
            vec![
                tcp_from_cidr(80, "0.0.0.0/0"),
                tcp_from_group(8080, 8080, &db),
            ],
        )
        .await;
        aws.ingress(&db, vec![tcp_from_group(3306, 3306, &web)])
            .await;
        let key = format!("{}-deploy", s.name);
        aws.ec2
            .import_key_pair()
            .key_name(&key)
            .public_key_material(aws_sdk_ec2::primitives::Blob::new(PUBLIC_KEY.as_bytes()))
            .send()
            .await
            .expect("ImportKeyPair");
        let mut instances = Vec::new();
        for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
            let mut groups = vec![web.as_str()];
            if i == 1 {
                groups.push(&extra);
            }
            instances.push(
                aws.instance(Launch {
                    zone,
                    instance_type: "t2.micro",
                    key_name: Some(&key),
                    groups,
                    user_data: Some(USER_DATA),
                    tags: vec![("Name".into(), format!("{}-web-{}", s.name, i + 1))],
                })
                .await,
            );
        }
        let lb = format!("{}-lb", s.name);
        let dns_name = aws.balancer(&lb, &[], &instances).await;
        let database = format!("{}-orders", s.name);
        aws.database(&database, &db, &[]).await;
        let zone_id = aws.zone(&s.zone).await;
        aws.upsert(
            &zone_id,
            vec![(format!("www.{}", s.zone), RrType::Cname, dns_name)],
        )
        .await;
        let mut ids = vec![web.clone(), db, key];
        ids.extend(instances.iter().cloned());
        ids.extend([lb, database, format!("www.{} CNAME", s.zone)]);
        Built {
            ids,
            web_group: web,
            extra_group: extra,
            instances: [instances[0].clone(), instances[1].clone()],
        }
    })
}

/// `stackwright generate <dir> --name <stack> --env test --region us-east-1 ARGS`.
fn generate(s: &StackDir, args: &[String]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .arg("generate")
        .arg(s.path())
        .args(["--name", &s.name, "--env", ENV, "--region", "us-east-1"])
        .args(args)
        .envs(aws_env_at(emulator::endpoint()))
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackwright generate")
}

fn toml_at<'a>(table: &'a toml::Table, path: &[&str]) -> &'a toml::Value {
    let mut value = table
        .get(path[0])
        .unwrap_or_else(|| panic!("no `{}`", path[0]));
    for key in &path[1..] {
        value = value
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in {path:?}: {value}"));
    }
    value
}

fn strings(value: &toml::Value) -> Vec<&str> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string"))
        .collect()
}

#[test]
fn generate_writes_a_stack_that_adopts_a_cluster_built_by_hand() {
    let s = StackDir::new("gen", |_, _| String::new());
    let built = build_cluster(&s);

    // The directory holds files already: refused, nothing written.
    let out = generate(&s, &built.ids);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not empty") && text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(s.path().join("stack.toml")).expect("stack.toml"),
        ""
    );

    let mut forced = vec!["--force".to_string()];
    forced.extend(built.ids.iter().cloned());
    let out = generate(&s, &forced);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: instance {} uses security group {} which was not listed",
            built.instances[1], built.extra_group
        )),
        "{stderr}"
    );

    let stack_toml = std::fs::read_to_string(s.path().join("stack.toml")).expect("stack.toml");
    let stack: toml::Table = stack_toml.parse().expect("stack.toml is TOML");
    let env_toml = std::fs::read_to_string(s.path().join("env/test.toml")).expect("env");
    let env: toml::Table = env_toml.parse().expect("env file is TOML");
    // Relations are references by name, not ids.
    let ingress = |group: &str| -> Vec<String> {
        toml_at(&stack, &["security_group", group, "ingress"])
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| r.to_string())
            .collect()
    };
    assert!(
        ingress("web").iter().any(|r| r.contains("group = \"db\"")),
        "{stack_toml}"
    );
    assert!(
        ingress("db").iter().any(|r| r.contains("group = \"web\"")),
        "{stack_toml}"
    );
    for (name, groups) in [
        ("web-1", vec!["web"]),
        ("web-2", vec![built.extra_group.as_str(), "web"]),
    ] {
        let mut found = strings(toml_at(&stack, &["instance", name, "security_groups"]));
        found.sort_unstable();
        let mut groups = groups;
        groups.sort_unstable();
        assert_eq!(found, groups, "{stack_toml}");
        assert_eq!(
            toml_at(&stack, &["instance", name, "key_name"]).as_str(),
            Some("${key_pair.deploy.name}"),
            "{stack_toml}"
        );
        let template = toml_at(&stack, &["instance", name, "user_data", "template"])
            .as_str()
            .expect("template path");
        let file = std::fs::read_to_string(s.path().join(template)).expect("user data file");
        assert_eq!(file, USER_DATA.replace("${", "$${"), "{template}");
    }
    let mut members = strings(toml_at(&stack, &["load_balancer", "lb", "instances"]));
    members.sort_unstable();
    assert_eq!(members, ["web-1", "web-2"], "{stack_toml}");
    assert_eq!(
        strings(toml_at(&stack, &["dns_record", "www", "records"])),
        ["${load_balancer.lb.dns_name}"],
        "{stack_toml}"
    );
    // The password is a secret read from a variable, never a value.
    let secret_var = toml_at(&stack, &["secrets", "orders_master_password", "env"])
        .as_str()
        .expect("env var")
        .to_string();
    assert_eq!(
        toml_at(&stack, &["database", "orders", "master_password"]).as_str(),
        Some("${secret.orders_master_password}")
    );
    for shown in [&stack_toml, &env_toml, &stdout, &stderr] {
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
    assert!(stdout.contains(&secret_var), "{stdout}");
    let imports = env["import"].as_table().expect("[import]");
    assert_eq!(imports.len(), 8, "{env_toml}");
    assert_eq!(
        imports["security_group.web"].as_str(),
        Some(built.web_group.as_str())
    );
    assert!(!imports.contains_key("security_group.ops"), "{env_toml}");

    // The editors' schemas accept what generate writes.
    let mut problems = crate::schema::problems(
        &crate::schema::validator("stack.schema.json"),
        &s.path().join("stack.toml"),
    );
    problems.extend(crate::schema::problems(
        &crate::schema::validator("env.schema.json"),
        &s.path().join("env/test.toml"),
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let out = s.run("validate", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = s.plan(&["--detailed-exitcode"], 2);
    assert!(
        plan.contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to destroy, 8 to import."),
        "{plan}"
    );
    let imported = plan
        .lines()
        .filter(|l| l.starts_with(" <= ") && l.contains("  will be imported ["))
        .count();
    assert_eq!(imported, 8, "{plan}");

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
    let made_or_gone: Vec<&String> = calls
        .keys()
        .filter(|op| {
            [
                "Create",
                "Run",
                "Delete",
                "Terminate",
                "Import",
                "Modify",
                "Register",
                "Deregister",
            ]
            .iter()
            .any(|p| op.starts_with(p))
                && ![
                    "CreateTags",
                    "AddTags",
                    "CreateSecurityGroup",
                    "DeleteSecurityGroup",
                ]
                .contains(&op.as_str())
        })
        .collect();
    assert!(made_or_gone.is_empty(), "{stats}");
    // The lock is a security group, created and deleted once; no other group is.
    assert_eq!(
        calls.get("CreateSecurityGroup"),
        Some(&serde_json::json!(1)),
        "{stats}"
    );
    assert_eq!(
        calls.get("DeleteSecurityGroup"),
        Some(&serde_json::json!(1)),
        "{stats}"
    );

    s.plan(&["--detailed-exitcode"], 0);
}

#[test]
fn generate_refuses_ids_that_name_nothing_and_sends_only_reads() {
    let s = StackDir::new("genno", |_, _| String::new());
    let empty = tempfile::tempdir().expect("temporary directory");
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .arg("generate")
        .arg(empty.path().join("new"))
        .args(["--name", &s.name, "--env", ENV, "--region", "us-east-1"])
        .args([
            "sg-0123456789abcdef0",
            "no-such-thing",
            "www.nowhere.e2e.example A",
        ])
        .envs(aws_env_at(&proxy.endpoint))
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackwright generate");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no public hosted zone in this account holds `www.nowhere.e2e.example`"),
        "{err}"
    );
    assert!(!empty.path().join("new").exists());
    let stats = proxy.stats();
    let calls = stats["by_operation"].as_object().expect("by_operation");
    assert!(
        calls.keys().all(|op| op.starts_with("Describe")
            || op.starts_with("List")
            || op.starts_with("Get")),
        "only reads: {stats}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .arg("generate")
        .arg(empty.path().join("new"))
        .args(["--name", &s.name, "--env", ENV, "--region", "us-east-1"])
        .args(["sg-0123456789abcdef0", "no-such-thing"])
        .envs(aws_env_at(emulator::endpoint()))
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackwright generate");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for expected in [
        "`sg-0123456789abcdef0`: there is no security group of that id in region `us-east-1`",
        "`no-such-thing`: there is no load balancer or database or key pair of that name",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert!(!empty.path().join("new").exists());

    // Another stack's group is refused naming its owner; a name that is both a balancer
    // and a key pair is refused as ambiguous, and `key_pair:NAME` says which.
    let (owned, both) = runtime().block_on(async {
        let aws = Aws::connect().await;
        let owned = aws
            .group(
                &format!("{}-owned", s.name),
                "owned",
                &own_tags("someoneelse", "prod", "security_group.front"),
            )
            .await;
        let both = format!("{}-both", s.name);
        aws.balancer(&both, &[], &[]).await;
        aws.ec2
            .import_key_pair()
            .key_name(&both)
            .public_key_material(aws_sdk_ec2::primitives::Blob::new(PUBLIC_KEY.as_bytes()))
            .send()
            .await
            .expect("ImportKeyPair");
        (owned, both)
    });
    let run = |dir: &std::path::Path, ids: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
            .arg("generate")
            .arg(dir)
            .args(["--name", &s.name, "--env", ENV, "--region", "us-east-1"])
            .args(ids)
            .envs(aws_env_at(emulator::endpoint()))
            .env_remove("AWS_PROFILE")
            .env("NO_COLOR", "1")
            .output()
            .expect("run stackwright generate")
    };
    let out = run(&empty.path().join("new"), &[&owned, &both]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for expected in [
        format!("`{owned}` belongs to stack `someoneelse` env `prod` (its `security_group.front`)"),
        format!("`{both}` names a load balancer and a key pair: write `load_balancer:{both}`"),
    ] {
        assert!(err.contains(&expected), "{expected}\n{err}");
    }
    assert!(!empty.path().join("new").exists());
    let out = run(&empty.path().join("new"), &[&format!("key_pair:{both}")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stack_toml =
        std::fs::read_to_string(empty.path().join("new/stack.toml")).expect("stack.toml");
    assert!(stack_toml.contains("[key_pair.both]"), "{stack_toml}");
    assert!(!stack_toml.contains("load_balancer"), "{stack_toml}");
}

/// Instances named as stackwright names replicas (`<stack>-<env>-<name>-<i>`) and alike but
/// for their zone become one counted block; adopting them renames and moves nothing.
#[test]
fn instances_named_as_replicas_become_a_counted_block_that_plans_as_imports() {
    let s = StackDir::new("gencount", |_, _| String::new());
    let ids = runtime().block_on(async {
        let aws = Aws::connect().await;
        let group = aws.group(&format!("{}-app", s.name), "app", &[]).await;
        let mut ids = vec![group.clone()];
        for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
            ids.push(
                aws.instance(Launch {
                    zone,
                    instance_type: "t2.micro",
                    key_name: None,
                    groups: vec![&group],
                    user_data: Some(USER_DATA),
                    tags: vec![("Name".into(), s.physical(&format!("app-{i}")))],
                })
                .await,
            );
        }
        ids
    });
    let empty = tempfile::tempdir().expect("temporary directory");
    let dir = empty.path().join("stack");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .arg("generate")
        .arg(&dir)
        .args(["--name", &s.name, "--env", ENV, "--region", "us-east-1"])
        .args(&ids)
        .envs(aws_env_at(emulator::endpoint()))
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackwright generate");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stack_toml = std::fs::read_to_string(dir.join("stack.toml")).expect("stack.toml");
    let stack: toml::Table = stack_toml.parse().expect("TOML");
    assert_eq!(
        toml_at(&stack, &["instance", "app", "count"]).as_integer(),
        Some(2),
        "{stack_toml}"
    );
    assert_eq!(
        strings(toml_at(&stack, &["instance", "app", "availability_zones"])),
        ["us-east-1a", "us-east-1b"],
        "{stack_toml}"
    );
    let env_toml = std::fs::read_to_string(dir.join("env/test.toml")).expect("env");
    let env: toml::Table = env_toml.parse().expect("TOML");
    assert_eq!(
        env["import"]["instance.app[0]"].as_str(),
        Some(ids[1].as_str())
    );
    assert_eq!(
        env["import"]["instance.app[1]"].as_str(),
        Some(ids[2].as_str())
    );

    // Plan and apply the generated directory (StackDir runs commands in its own).
    for file in ["stack.toml", "env/test.toml", "files/app.user-data"] {
        let target = s.path().join(file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("directory");
        std::fs::copy(dir.join(file), target).expect("copy");
    }
    let plan = s.plan(&["--detailed-exitcode"], 2);
    assert!(
        plan.contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to destroy, 3 to import."),
        "{plan}"
    );
    let out = s.run("apply", &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    s.plan(&["--detailed-exitcode"], 0);
}

/// Issue 16 meets issue 15: a cluster built by hand in a VPC of its own (a group in it, an
/// instance in one of its subnets, a balancer in both) is generated with the env's `vpc`
/// and `subnets` instead of zones, plans as imports only, and is clean after the apply.
#[test]
fn a_cluster_in_a_vpc_of_its_own_is_generated_with_its_subnets() {
    use aws_sdk_elasticloadbalancing::types::Listener;
    let s = StackDir::new("genvpc", |_, _| String::new());
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let (vpc, subnets) = rt.block_on(crate::placement::vpc_in(
        &aws,
        71,
        &["us-east-1a", "us-east-1b"],
    ));
    let balancer = format!("{}-front", s.name);
    let (group, instance) = rt.block_on(async {
        let group = aws
            .ec2
            .create_security_group()
            .group_name(format!("{}-web", s.name))
            .description("web")
            .vpc_id(&vpc)
            .send()
            .await
            .expect("CreateSecurityGroup")
            .group_id()
            .expect("group id")
            .to_string();
        let instance = aws
            .ec2
            .run_instances()
            .image_id(crate::plan::AMI)
            .instance_type(aws_sdk_ec2::types::InstanceType::T2Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(&subnets[0])
            .security_group_ids(&group)
            .metadata_options(
                aws_sdk_ec2::types::InstanceMetadataOptionsRequest::builder()
                    .http_tokens(aws_sdk_ec2::types::HttpTokensState::Required)
                    .build(),
            )
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value(s.physical("web"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("RunInstances")
            .instances()[0]
            .instance_id()
            .expect("instance id")
            .to_string();
        aws.elb
            .create_load_balancer()
            .load_balancer_name(&balancer)
            .listeners(
                Listener::builder()
                    .protocol("HTTP")
                    .load_balancer_port(80)
                    .instance_protocol("HTTP")
                    .instance_port(80)
                    .build()
                    .expect("listener"),
            )
            .set_subnets(Some(subnets.clone()))
            .security_groups(&group)
            .send()
            .await
            .expect("CreateLoadBalancer");
        aws.elb
            .register_instances_with_load_balancer()
            .load_balancer_name(&balancer)
            .instances(
                aws_sdk_elasticloadbalancing::types::Instance::builder()
                    .instance_id(&instance)
                    .build(),
            )
            .send()
            .await
            .expect("RegisterInstancesWithLoadBalancer");
        (group, instance)
    });
    let out = generate(&s, &[group, instance, balancer, "--force".into()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stack_toml = std::fs::read_to_string(s.path().join("stack.toml")).expect("stack.toml");
    let env_toml = std::fs::read_to_string(s.path().join("env/test.toml")).expect("env");
    let env: toml::Table = env_toml.parse().expect("TOML");
    assert_eq!(env["vpc"].as_str(), Some(vpc.as_str()), "{env_toml}");
    let stack: toml::Table = stack_toml.parse().expect("TOML");
    let web = stack["instance"]
        .as_table()
        .and_then(|t| t.values().next())
        .expect("an instance block");
    assert_eq!(
        web["subnets"].as_array().map(Vec::len),
        Some(1),
        "{stack_toml}"
    );
    assert_eq!(web["subnets"][0].as_str(), Some(subnets[0].as_str()));
    assert!(web.get("availability_zone").is_none(), "{stack_toml}");
    let front = stack["load_balancer"]
        .as_table()
        .and_then(|t| t.values().next())
        .expect("a balancer block");
    let mut written = strings(&front["subnets"]);
    written.sort_unstable();
    let mut made: Vec<&str> = subnets.iter().map(String::as_str).collect();
    made.sort_unstable();
    assert_eq!(written, made, "{stack_toml}");

    let plan = s.plan(&["--detailed-exitcode"], 2);
    assert!(
        plan.contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to destroy, 3 to import."),
        "{plan}\n{stack_toml}"
    );
    let out = s.run("apply", &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    s.plan(&["--detailed-exitcode"], 0);
}
