//! Secure defaults on a stack that was running before them (issue 16): upgrading
//! stackwright changes what AWS can change in place (the instances' metadata options) and
//! replaces nothing; the database keeps its unencrypted storage and the plan says so.

use aws_sdk_ec2::types::Filter;

use crate::emulator;
use crate::plan::{Aws, PW_VAR, StackDir, TOKEN_VAR, full_stack, headings, last_line, runtime};
use crate::support::text;

/// [`full_stack`] as a stack written before the defaults ran: every one turned off.
fn before_defaults(name: &str, zone: &str) -> String {
    full_stack(name, zone)
        .replace(
            "backup_retention_days = 7\n",
            "backup_retention_days = 7\nstorage_encrypted = false\n",
        )
        .replace(
            "instance_type = \"t2.micro\"\n",
            "instance_type = \"t2.micro\"\nmetadata_tokens = \"optional\"\nroot_volume_encrypted = false\n",
        )
}

/// The stack's running instances (id → HttpTokens) and its database (resource id,
/// whether encrypted).
async fn read(aws: &Aws, s: &StackDir) -> (Vec<(String, String)>, (String, bool)) {
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
                .values("pending")
                .build(),
        )
        .send()
        .await
        .expect("DescribeInstances");
    let mut instances: Vec<(String, String)> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                i.instance_id().unwrap_or_default().to_string(),
                i.metadata_options()
                    .and_then(|m| m.http_tokens())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    instances.sort();
    let db = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(s.physical("main"))
        .send()
        .await
        .expect("DescribeDBInstances");
    let db = &db.db_instances()[0];
    let id = format!(
        "{} {}",
        db.dbi_resource_id().unwrap_or_default(),
        db.instance_create_time()
            .map(|t| t.to_string())
            .unwrap_or_default()
    );
    (instances, (id, db.storage_encrypted().unwrap_or(false)))
}

#[test]
fn a_stack_running_before_the_secure_defaults_is_changed_in_place_never_replaced() {
    let s = StackDir::new("defaults", before_defaults);
    let secrets = [(PW_VAR, "defaults-pw-1"), (TOKEN_VAR, "defaults-token")];
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
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.zone(&s.zone));
    run("apply", &["--yes"], 0);
    let (instances, db) = rt.block_on(read(&aws, &s));
    assert_eq!(instances.len(), 2, "{instances:?}");
    assert!(
        instances.iter().all(|(_, t)| t == "optional"),
        "{instances:?}"
    );
    assert!(!db.1);

    // Upgrade: the stack no longer turns the defaults off.
    std::fs::write(s.path().join("stack.toml"), full_stack(&s.name, &s.zone)).expect("stack");
    let (plan, stderr) = run("plan", &["--detailed-exitcode"], 2);
    let expected: Vec<String> = instances.iter().map(|(id, _)| id.clone()).collect();
    let shown = headings(&plan);
    assert_eq!(shown.len(), 2, "{plan}");
    for heading in &shown {
        assert!(
            heading.starts_with("  ~ instance.web[")
                && heading.contains("will be updated in place"),
            "{plan}"
        );
        assert!(
            expected.iter().any(|id| heading.contains(id.as_str())),
            "{plan}"
        );
    }
    assert_eq!(
        plan.matches("metadata_tokens : \"optional\" -> \"required\"")
            .count(),
        2,
        "{plan}"
    );
    assert!(!plan.contains("root_volume_encrypted") && !plan.contains("storage_encrypted"));
    assert_eq!(
        last_line(&plan),
        "Plan: 0 to create, 2 to update, 0 to replace, 0 to destroy.",
        "{plan}"
    );
    let both = format!("{plan}{stderr}");
    assert!(
        both.contains("`database.main` keeps its unencrypted storage"),
        "{both}"
    );

    let (applied, _) = run("apply", &["--yes"], 0);
    assert!(
        applied.contains("0 created, 2 updated, 0 replaced, 0 destroyed"),
        "{applied}"
    );
    let (after, db_after) = rt.block_on(read(&aws, &s));
    let ids = |v: &[(String, String)]| v.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&instances), "the same instances");
    assert!(after.iter().all(|(_, t)| t == "required"), "{after:?}");
    assert_eq!(db_after, db, "the same database, still unencrypted");
    run("plan", &["--detailed-exitcode"], 0);
}
