//! Placement in a VPC of the stack's own (issue 16): a VPC and two subnets made with raw
//! SDK calls, a stack applied into them (instances round-robin over the subnets, the
//! balancer in both, the database in a DB subnet group stackwright makes), a clean
//! re-plan, a destroy that leaves nothing (the subnet group included); and a subnet of
//! another VPC refused at plan time, naming it, with nothing made.
//!
//! Leans on the emulator: everything is available at once, so nothing here waits.

use aws_sdk_ec2::types::Filter;

use crate::census::census;
use crate::emulator;
use crate::plan::{AMI, Aws, PW_VAR, StackDir, runtime};
use crate::support::text;

/// A VPC with a subnet in each of us-east-1a and us-east-1b: (vpc, [subnets]).
async fn vpc(aws: &Aws, cidr: u8) -> (String, Vec<String>) {
    vpc_in(aws, cidr, &["us-east-1a", "us-east-1b"]).await
}

/// A VPC with a subnet in each of `zones` (in order).
pub(crate) async fn vpc_in(aws: &Aws, cidr: u8, zones: &[&str]) -> (String, Vec<String>) {
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block(format!("10.{cidr}.0.0/16"))
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (i, zone) in zones.iter().copied().enumerate() {
        let out = aws
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.{cidr}.{i}.0/24"))
            .availability_zone(zone)
            .send()
            .await
            .expect("CreateSubnet");
        subnets.push(
            out.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string(),
        );
    }
    (vpc, subnets)
}

fn placed_stack(subnets: &[String]) -> impl Fn(&str, &str) -> String {
    let list = subnets
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    move |name, _zone| {
        format!(
            r#"[stack]
name = "{name}"
region = "us-east-1"

[secrets]
pw = {{ env = "{PW_VAR}" }}

[security_group.web]
description = "web nodes"
ingress = [ {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }} ]

[security_group.db]
description = "databases"
ingress = [ {{ protocol = "tcp", ports = "3306", group = "web" }} ]

[load_balancer.web]
subnets = [{list}]
security_groups = ["web"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
instances = ["web"]

[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"
security_groups = ["db"]
subnets = [{list}]
final_snapshot = false

[instance.web]
count = 3
ami = "{AMI}"
instance_type = "t2.micro"
security_groups = ["web"]
subnets = [{list}]
"#
        )
    }
}

fn in_vpc(s: &StackDir, vpc: &str) {
    std::fs::write(
        s.path().join("env/test.toml"),
        format!("region = \"us-east-1\"\nvpc = \"{vpc}\"\n"),
    )
    .expect("env file");
}

#[test]
fn a_stack_in_a_vpc_of_its_own_applies_replans_clean_and_destroys_to_nothing() {
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let (vpc_id, subnets) = rt.block_on(vpc(&aws, 61));
    let s = StackDir::new("vpc", placed_stack(&subnets));
    in_vpc(&s, &vpc_id);
    let secrets = [(PW_VAR, "placement-pw-1")];
    let run = |command: &str, args: &[&str], code: i32| {
        let out = s.run_with(command, args, &secrets, emulator::endpoint());
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command} {args:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        );
        stdout
    };
    let plan = run("plan", &[], 0);
    for s in &subnets {
        assert!(plan.contains(s.as_str()), "{plan}");
    }
    run("apply", &["--yes"], 0);

    rt.block_on(async {
        // Security groups in the VPC.
        let groups = aws
            .ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("tag:stackwright:stack")
                    .values(&s.name)
                    .build(),
            )
            .send()
            .await
            .expect("DescribeSecurityGroups");
        assert_eq!(groups.security_groups().len(), 2);
        for g in groups.security_groups() {
            assert_eq!(g.vpc_id(), Some(vpc_id.as_str()), "{g:?}");
        }
        // Instances round-robin over the subnets, by replica index.
        let out = aws
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:stackwright:stack")
                    .values(&s.name)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .expect("DescribeInstances");
        let mut placed: Vec<(String, String)> = out
            .reservations()
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
                (address, i.subnet_id().unwrap_or_default().to_string())
            })
            .collect();
        placed.sort();
        let expected: Vec<(String, String)> = (0..3)
            .map(|k| (format!("instance.web[{k}]"), subnets[k % 2].clone()))
            .collect();
        assert_eq!(placed, expected);
        // The balancer in both subnets.
        let lb = aws
            .elb
            .describe_load_balancers()
            .load_balancer_names(s.physical("web"))
            .send()
            .await
            .expect("DescribeLoadBalancers");
        let mut lb_subnets = lb.load_balancer_descriptions()[0].subnets().to_vec();
        lb_subnets.sort();
        let mut want = subnets.clone();
        want.sort();
        assert_eq!(lb_subnets, want);
        // The database in its own subnet group, named as it.
        let db = aws
            .rds
            .describe_db_instances()
            .db_instance_identifier(s.physical("main"))
            .send()
            .await
            .expect("DescribeDBInstances");
        let group = db.db_instances()[0]
            .db_subnet_group()
            .expect("a subnet group");
        assert_eq!(
            group.db_subnet_group_name(),
            Some(s.physical("main").as_str())
        );
        assert_eq!(group.vpc_id(), Some(vpc_id.as_str()));
        let mut db_subnets: Vec<String> = group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(String::from))
            .collect();
        db_subnets.sort();
        assert_eq!(db_subnets, want);
    });

    run("plan", &["--detailed-exitcode"], 0);

    // Drift in the VPC is found and undone as anywhere: a rule added out of band.
    rt.block_on(async {
        let groups = aws
            .ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values(s.physical("web"))
                    .build(),
            )
            .send()
            .await
            .expect("DescribeSecurityGroups");
        let id = groups.security_groups()[0]
            .group_id()
            .expect("id")
            .to_string();
        aws.ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .ip_permissions(crate::plan::tcp_from_cidr(22, "0.0.0.0/0"))
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress");
    });
    let plan = run("plan", &["--detailed-exitcode"], 2);
    assert!(
        plan.contains("  ~ security_group.web  will be updated in place"),
        "{plan}"
    );
    assert!(plan.contains("- tcp 22 from 0.0.0.0/0"), "{plan}");
    run("apply", &["--yes"], 0);
    run("plan", &["--detailed-exitcode"], 0);

    run("destroy", &["--yes", "--allow-data-loss"], 0);
    let left = rt.block_on(census(&aws, &s.name, None));
    assert!(left.is_empty(), "{left:?}");
    let group = rt.block_on(
        aws.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(s.physical("main"))
            .send(),
    );
    assert!(
        group.is_err()
            || group
                .as_ref()
                .is_ok_and(|g| g.db_subnet_groups().is_empty()),
        "the DB subnet group is deleted with the database: {group:?}"
    );
}

#[test]
fn a_subnet_of_another_vpc_is_refused_at_plan_time_naming_it() {
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let (vpc_id, subnets) = rt.block_on(vpc(&aws, 62));
    let (other_vpc, other) = rt.block_on(vpc(&aws, 63));
    let mixed = vec![subnets[0].clone(), other[1].clone()];
    let s = StackDir::new("vpcno", placed_stack(&mixed));
    in_vpc(&s, &vpc_id);
    for command in ["plan", "apply"] {
        let out = s.run_with(
            command,
            &["--yes"][..usize::from(command == "apply")],
            &[(PW_VAR, "placement-pw-2")],
            emulator::endpoint(),
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        let said = format!(
            "subnet `{}` (`database.main`, `instance.web[1]`, `load_balancer.web`) is in VPC \
             `{other_vpc}`, not in the env's VPC `{vpc_id}`",
            other[1]
        );
        assert!(stderr.contains(&said), "{command}: {stderr}");
        assert!(stderr.contains("nothing was sent"), "{stderr}");
        assert!(
            !stderr.contains(&subnets[0]),
            "only the wrong one is named: {stderr}"
        );
    }
    let left = rt.block_on(census(&aws, &s.name, None));
    assert!(left.is_empty(), "{left:?}");
}

/// The CloudFormation engine places the same stack the same way: the change set makes the
/// DB subnet group with the database, re-plans clean, and deleting the stack removes it.
#[test]
fn the_cloudformation_engine_places_a_stack_in_a_vpc_too() {
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let (vpc_id, subnets) = rt.block_on(vpc(&aws, 64));
    let s = StackDir::new("cfvpc", placed_stack(&subnets));
    in_vpc(&s, &vpc_id);
    let secrets = [(PW_VAR, "placement-pw-3")];
    let run = |command: &str, args: &[&str], code: i32| {
        let mut all = vec!["--engine", "cloudformation"];
        all.extend_from_slice(args);
        let out = s.run_with(command, &all, &secrets, emulator::endpoint());
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command} {args:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        );
        stdout
    };
    // The change set reads back as the direct engine's plan: placement in its words.
    let plan = run("plan", &[], 0);
    for line in [
        format!("      subnet                = \"{}\"", subnets[1]),
        format!("      vpc         = \"{vpc_id}\""),
    ] {
        assert!(plan.lines().any(|l| l == line), "no {line:?} in\n{plan}");
    }
    run("apply", &["--yes"], 0);
    let group = rt
        .block_on(
            aws.rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(s.physical("main"))
                .send(),
        )
        .expect("the DB subnet group");
    let group = &group.db_subnet_groups()[0];
    assert_eq!(group.vpc_id(), Some(vpc_id.as_str()));
    run("plan", &["--detailed-exitcode"], 0);
    run("destroy", &["--yes", "--allow-data-loss"], 0);
    let group = rt.block_on(
        aws.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(s.physical("main"))
            .send(),
    );
    assert!(
        group.is_err()
            || group
                .as_ref()
                .is_ok_and(|g| g.db_subnet_groups().is_empty()),
        "{group:?}"
    );
}

/// A database's subnet list changes in place (its subnet group is modified, the database
/// stays); subnets all in one zone are refused at plan time, as RDS would refuse the group.
#[test]
fn a_database_changes_subnets_in_place_and_one_zone_is_refused() {
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let (vpc_id, subnets) = rt.block_on(vpc_in(
        &aws,
        65,
        &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"],
    ));
    let db_only = |list: &[String]| {
        let list = list
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        move |name: &str, _zone: &str| {
            format!(
                r#"[stack]
name = "{name}"
region = "us-east-1"

[secrets]
pw = {{ env = "{PW_VAR}" }}

[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"
subnets = [{list}]
final_snapshot = false
"#
            )
        }
    };
    let s = StackDir::new("dbnet", db_only(&subnets[..2]));
    in_vpc(&s, &vpc_id);
    let secrets = [(PW_VAR, "placement-pw-4")];
    let run = |command: &str, args: &[&str], code: i32| {
        let out = s.run_with(command, args, &secrets, emulator::endpoint());
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command} {args:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        );
        (stdout, stderr)
    };
    run("apply", &["--yes"], 0);
    let group_subnets = || {
        let out = rt
            .block_on(
                aws.rds
                    .describe_db_instances()
                    .db_instance_identifier(s.physical("main"))
                    .send(),
            )
            .expect("DescribeDBInstances");
        let db = &out.db_instances()[0];
        let mut ids: Vec<String> = db
            .db_subnet_group()
            .map(|g| {
                g.subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        (db.dbi_resource_id().unwrap_or_default().to_string(), ids)
    };
    let (id, before) = group_subnets();
    let mut want: Vec<String> = subnets[..2].to_vec();
    want.sort();
    assert_eq!(before, want);

    let stack_toml = s.path().join("stack.toml");
    std::fs::write(&stack_toml, db_only(&subnets[..3])(&s.name, &s.zone)).expect("stack");
    let (plan, _) = run("plan", &["--detailed-exitcode"], 2);
    assert!(
        plan.contains("  ~ database.main  will be updated in place"),
        "{plan}"
    );
    assert!(plan.contains(&format!("+ {}", subnets[2])), "{plan}");
    assert!(plan.contains("0 to replace"), "{plan}");
    let (_, stderr) = run("apply", &["--yes", "--stats"], 0);
    let calls = stderr
        .lines()
        .find_map(|l| l.strip_prefix("aws calls: "))
        .unwrap_or_else(|| panic!("no `aws calls:` line in {stderr:?}"));
    assert!(calls.contains("rds:ModifyDBSubnetGroup 1"), "{calls}");
    for never in [
        "CreateDBInstance",
        "DeleteDBInstance",
        "CreateDBSubnetGroup",
    ] {
        assert!(!calls.contains(never), "{never} in {calls}");
    }
    let (same, _) = group_subnets();
    assert_eq!(same, id, "the same database");
    // Leans on nothing more: moto 5.2.5's ModifyDBSubnetGroup drops the group from its
    // registry and leaves the database showing the old subnets, so the new list cannot
    // be read back here (AWS shows it).

    // Both in us-east-1a: refused before anything is sent.
    let one_zone = vec![subnets[0].clone(), subnets[3].clone()];
    std::fs::write(&stack_toml, db_only(&one_zone)(&s.name, &s.zone)).expect("stack");
    let (_, stderr) = run("plan", &[], 1);
    assert!(
        stderr.contains(
            "the subnets of `database.main` are all in zone `us-east-1a`: RDS needs a subnet \
             group in at least two zones"
        ),
        "{stderr}"
    );
    run("destroy", &["--yes", "--allow-data-loss"], 0);
}
