//! Issue 15: mistakes in an env file's `[import]` table are load errors with the file,
//! line and column of the entry, and nothing is sent to AWS.

use super::*;

const BODY: &str = r#"
[security_group.web]
description = "web"
[instance.app]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
[instance.one]
ami = "ami-12345678"
instance_type = "t3.micro"
[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "longenough"
[dns_record.www]
zone = "example.net"
name = "www.example.net"
type = "CNAME"
records = ["example.org"]
"#;

/// Every error as `file:line:col: message`.
fn located(env: &str) -> Vec<String> {
    let e = load_text(&format!("{HEAD}{BODY}"), env).expect_err("should not load");
    e.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = d
                .primary
                .as_ref()
                .map(|l| {
                    e.sources
                        .location(l.span.file, l.span.range.start)
                        .to_string()
                })
                .unwrap_or_default();
            let file = at.rsplit('/').next().unwrap_or_default().to_string();
            format!("{file}: {}", d.message)
        })
        .collect()
}

#[test]
fn a_good_import_table_is_in_the_model_with_records_spelt_one_way() {
    let l = ok(
        BODY,
        "[import]\n\"security_group.web\" = \"sg-0abc\"\n\"instance.app[1]\" = \"i-0def\"\n\
         \"database.main\" = \"legacy-db\"\n\"dns_record.www\" = \"WWW.Example.net. cname\"\n",
    );
    let imports: Vec<(String, &str)> = l
        .stack
        .imports
        .iter()
        .map(|(a, id)| (a.to_string(), id.as_str()))
        .collect();
    assert_eq!(
        imports,
        [
            ("security_group.web".to_string(), "sg-0abc"),
            ("database.main".to_string(), "legacy-db"),
            ("instance.app[1]".to_string(), "i-0def"),
            ("dns_record.www".to_string(), "www.example.net CNAME"),
        ]
    );
}

#[test]
fn mistakes_in_the_import_table_are_load_errors_where_they_are_written() {
    let env = "[import]\n\
               \"security_group.nope\" = \"sg-0abc\"\n\
               \"instance.app[2]\" = \"i-0aaa\"\n\
               \"instance.app\" = \"i-0bbb\"\n\
               \"instance.one[0]\" = \"i-0ccc\"\n\
               \"instanse.x\" = \"i-0ddd\"\n\
               \"security_group.web\" = \"i-0eee\"\n\
               \"instance.app[0]\" = \"i-0fff\"\n\
               \"instance.app[1]\" = \"i-0fff\"\n\
               \"database.main\" = \"sg-0123\"\n";
    assert_eq!(
        located(env),
        [
            "test.toml:2:1: `[import]` names `security_group.nope`, which the stack does not have",
            "test.toml:3:1: bad replica index in `instance.app[2]`: `instance.app` has `count = 2`, so replicas are numbered 0 to 1",
            "test.toml:4:1: `instance.app` has `count = 2`: name each replica, `instance.app[0]` to `instance.app[1]`",
            "test.toml:5:1: `instance.one` has no `count`: it is one resource, `instance.one`, without an index",
            "test.toml:6:1: invalid address in `[import]`: `instanse.x` is not an address (`KIND.NAME` or `KIND.NAME[i]`)",
            "test.toml:7:24: cannot import `i-0eee` as `security_group.web`: `i-0eee` looks like the id of an instance, and the address is a security group",
            "test.toml:9:21: `i-0fff` is imported twice: as `instance.app[0]` and as `instance.app[1]`",
            "test.toml:10:19: cannot import `sg-0123` as `database.main`: `sg-0123` looks like the id of a security group, and the address is a database",
        ]
    );
}

#[test]
fn an_import_table_that_is_not_a_table_of_strings_is_refused() {
    let errors = located("import = 3\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("`import` must be a table"), "{errors:?}");
    let errors = located("[import]\n\"security_group.web\" = 3\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("test.toml:2:"), "{errors:?}");
}

// `[moved]` of `stack.toml` (issue 15).

fn moved_errors(moved: &str) -> Vec<String> {
    let text = format!("{HEAD}{BODY}[moved]\n{moved}");
    let e = load_text(&text, "").expect_err("should not load");
    e.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = d
                .primary
                .as_ref()
                .map(|l| {
                    e.sources
                        .location(l.span.file, l.span.range.start)
                        .to_string()
                })
                .unwrap_or_default();
            let file = at.rsplit('/').next().unwrap_or_default().to_string();
            format!("{file}: {}", d.message)
        })
        .collect()
}

#[test]
fn a_block_rename_moves_every_replica() {
    let l = ok(
        &format!(
            "{BODY}[moved]\n\"instance.web\" = \"instance.app\"\n\"security_group.old\" = \"security_group.web\"\n"
        ),
        "",
    );
    let moved: Vec<(String, String)> = l
        .stack
        .moved
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        moved,
        [
            (
                "security_group.old".to_string(),
                "security_group.web".to_string()
            ),
            ("instance.web[0]".to_string(), "instance.app[0]".to_string()),
            ("instance.web[1]".to_string(), "instance.app[1]".to_string()),
        ]
    );
}

#[test]
fn mistakes_in_the_moved_table_are_load_errors_where_they_are_written() {
    // The head and BODY take lines 1 to 24; `[moved]` is line 25.
    assert_eq!(
        moved_errors(
            "\"instance.one\" = \"instance.app[0]\"\n\
             \"security_group.x\" = \"instance.app\"\n\
             \"instance.gone\" = \"instance.nope\"\n\
             \"instance.a\" = \"instance.app[1]\"\n\
             \"instance.b\" = \"instance.app[1]\"\n\
             \"instance.c[0]\" = \"instance.app\"\n"
        ),
        [
            "stack.toml:26:1: cannot move `instance.one`: `instance.one` is still in the stack",
            "stack.toml:27:22: cannot move `security_group.x` to `instance.app`: `security_group.x` is a security group and `instance.app` an instance",
            "stack.toml:28:19: `[moved]` moves `instance.gone` to `instance.nope`, which the stack does not have",
            "stack.toml:30:16: two moves onto `instance.app[1]`: from `instance.a` and from `instance.b`",
            "stack.toml:31:19: cannot move the one replica `instance.c[0]` onto every replica of `instance.app`",
        ]
    );
}
