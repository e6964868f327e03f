//! Every rule fires on a stack made to trip it, at the line marked `#!` (column: the first
//! character of that line), and `lint_allow` on the resource silences it (issue 16).

use std::path::Path;

use crate::stack::{self, LINT_RULES, LoadError, Loaded};

use super::{Finding, RULES, lint};

const HEAD: &str = "[stack]\nname = \"t\"\nregion = \"ap-southeast-2\"\n\n";

fn load(body: &str, env: &str) -> Result<Loaded, LoadError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("env")).expect("env directory");
    std::fs::write(dir.path().join("stack.toml"), format!("{HEAD}{body}")).expect("stack.toml");
    std::fs::write(dir.path().join(format!("env/{env}.toml")), "").expect("env file");
    stack::load(dir.path(), Some(env))
}

fn findings(body: &str, env: &str) -> Vec<Finding> {
    match load(body, env) {
        Ok(loaded) => lint(&loaded),
        Err(e) => panic!("does not load: {:?}", e.diagnostics),
    }
}

const DB: &str = r#"engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "correct-horse"
"#;
const HTTPS: &str = r#"{ port = 443, protocol = "https", instance_port = 80, instance_protocol = "http", ssl_certificate_id = "arn:aws:acm:ap-southeast-2:123456789012:certificate/x" }"#;
const CHECK: &str = r#"health_check = { target = "TCP:80", interval = 30, timeout = 5, unhealthy_threshold = 2, healthy_threshold = 2 }"#;

/// (rule, env, stack body with `ALLOW` in the tripping table and `#!` on the line the
/// finding must point at).
fn cases() -> Vec<(&'static str, &'static str, String)> {
    let inst = "ami = \"ami-12345678\"\ninstance_type = \"t3.micro\"\n";
    let pair = format!(
        "[instance.pair]\ncount = 2\n{inst}availability_zones = [\"ap-southeast-2a\", \"ap-southeast-2b\"]\n\n"
    );
    vec![
        ("single-instance", "test", format!("[instance.solo] #!\nALLOW\n{inst}")),
        (
            "replicas-one-zone",
            "test",
            format!("[instance.web]\nALLOW\ncount = 3\n{inst}availability_zones = [\"ap-southeast-2a\"] #!\n"),
        ),
        (
            "lb-one-zone",
            "test",
            format!("[load_balancer.web]\nALLOW\navailability_zones = [\"ap-southeast-2a\"] #!\nlisteners = [{HTTPS}]\n{CHECK}\n"),
        ),
        (
            "lb-no-health-check",
            "test",
            format!("[load_balancer.web] #!\nALLOW\navailability_zones = [\"ap-southeast-2a\", \"ap-southeast-2b\"]\nlisteners = [{HTTPS}]\n"),
        ),
        (
            "db-no-backups",
            "production",
            format!("[database.main]\nALLOW\n{DB}deletion_protection = true\nbackup_retention_days = 0 #!\n"),
        ),
        (
            "db-no-final-snapshot",
            "prod-eu",
            format!("[database.main]\nALLOW\n{DB}deletion_protection = true\nfinal_snapshot = false #!\n"),
        ),
        (
            "db-no-deletion-protection",
            "live",
            format!("[database.main] #!\nALLOW\n{DB}"),
        ),
        (
            "db-single-az",
            "test",
            format!("{pair}[database.main]\nALLOW\n{DB}multi_az = false #!\n"),
        ),
        (
            "ssh-open-to-world",
            "test",
            "[security_group.web]\nALLOW\ndescription = \"web\"\ningress = [\n  { protocol = \"tcp\", ports = \"443\", cidr = \"0.0.0.0/0\" },\n  { protocol = \"tcp\", ports = \"20-23\", cidr = \"0.0.0.0/0\" }, #!\n]\n".into(),
        ),
        (
            "rdp-open-to-world",
            "test",
            "[security_group.win]\nALLOW\ndescription = \"win\"\ningress = [\n  { protocol = \"tcp\", ports = \"3389\", cidr = \"::/0\" }, #!\n]\n".into(),
        ),
        (
            "all-ports-open-to-world",
            "test",
            "[security_group.any]\nALLOW\ndescription = \"any\"\ningress = [\n  { protocol = \"all\", cidr = \"10.0.0.0/8\" },\n  { protocol = \"tcp\", ports = \"0-65535\", cidr = \"0.0.0.0/0\" }, #!\n]\n".into(),
        ),
        (
            "db-publicly-accessible",
            "test",
            format!("[database.main]\nALLOW\n{DB}publicly_accessible = true #!\n"),
        ),
        (
            "db-storage-unencrypted",
            "test",
            format!("[database.main]\nALLOW\n{DB}storage_encrypted = false #!\n"),
        ),
        (
            "imdsv1-allowed",
            "test",
            format!("{pair}[instance.web]\nALLOW\ncount = 2\n{inst}availability_zones = [\"ap-southeast-2a\", \"ap-southeast-2b\"]\nmetadata_tokens = \"optional\" #!\n"),
        ),
        (
            "root-volume-unencrypted",
            "test",
            format!("[instance.web]\nALLOW\n{inst}root_volume_encrypted = false #!\n"),
        ),
        (
            "lb-http-only",
            "test",
            format!("[load_balancer.web]\nALLOW\navailability_zones = [\"ap-southeast-2a\", \"ap-southeast-2b\"]\nlisteners = [\n  {{ port = 80, protocol = \"http\", instance_port = 80, instance_protocol = \"http\" }}, #!\n]\n{CHECK}\n"),
        ),
    ]
}

/// The 1-based line and column the `#!` marker asks for, in the whole `stack.toml`.
fn marked(body: &str) -> (usize, usize) {
    let text = format!("{HEAD}{body}");
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("#!"))
        .expect("a `#!` marker");
    let column = line.len() - line.trim_start().len() + 1;
    (i + 1, column)
}

#[test]
fn every_rule_fires_where_marked_and_lint_allow_silences_it() {
    let cases = cases();
    let covered: Vec<&str> = cases.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(
        covered, LINT_RULES,
        "one case per rule, in the catalogue's order"
    );
    for (rule, env, body) in cases {
        let tripped = body.replace("ALLOW", "lint_allow = []");
        let (line, column) = marked(&tripped);
        let found = findings(&tripped, env);
        let hit: Vec<&Finding> = found.iter().filter(|f| f.rule == rule).collect();
        assert_eq!(hit.len(), 1, "{rule}: one finding expected in {found:#?}");
        assert_eq!(
            (hit[0].line, hit[0].column),
            (line, column),
            "{rule}: at the marked line\n{tripped}"
        );
        assert!(hit[0].file.ends_with("stack.toml"), "{:?}", hit[0].file);
        assert!(!hit[0].message.is_empty() && !hit[0].hint.is_empty());

        let allowed = body.replace("ALLOW", &format!("lint_allow = [\"{rule}\"]"));
        let found = findings(&allowed, env);
        assert!(
            found.iter().all(|f| f.rule != rule),
            "{rule}: silenced by lint_allow, yet {found:#?}"
        );
    }
}

#[test]
fn production_only_rules_stay_quiet_elsewhere() {
    let body = format!("[database.main]\n{DB}backup_retention_days = 0\nfinal_snapshot = false\n");
    let rules: Vec<&str> = findings(&body, "staging").iter().map(|f| f.rule).collect();
    assert_eq!(rules, Vec::<&str>::new());
    let rules: Vec<&str> = findings(&body, "production")
        .iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(
        rules,
        [
            "db-no-deletion-protection",
            "db-no-backups",
            "db-no-final-snapshot"
        ]
    );
}

#[test]
fn the_secure_defaults_lint_clean() {
    let body = format!(
        "[instance.web]\ncount = 2\nami = \"ami-12345678\"\ninstance_type = \"t3.micro\"\n\
         availability_zones = [\"ap-southeast-2a\", \"ap-southeast-2b\"]\n\n\
         [database.main]\n{DB}multi_az = true\ndeletion_protection = true\n"
    );
    assert_eq!(findings(&body, "production"), Vec::<Finding>::new());
}

#[test]
fn an_unknown_rule_in_lint_allow_is_a_load_error_where_it_is_written() {
    let body = "[security_group.web]\ndescription = \"web\"\nlint_allow = [\"ssh-open-to-wrld\"]\n";
    let e = load(body, "test").expect_err("should not load");
    let d = e
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error");
    assert_eq!(
        d.message,
        "unknown lint rule `ssh-open-to-wrld` in `lint_allow`"
    );
    let at = d.location(&e.sources).expect("a location");
    assert_eq!((at.line, at.column), (7, 15));
    assert!(at.file.ends_with(Path::new("stack.toml")));
    assert_eq!(d.hint.as_deref(), Some("did you mean `ssh-open-to-world`?"));
}

#[test]
fn the_severities_cover_every_rule_in_order() {
    let ids: Vec<&str> = RULES.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, LINT_RULES);
}

/// Placement (issue 16): lint reads nothing from AWS, so distinct subnets count as
/// distinct zones; a single subnet is a single zone.
#[test]
fn subnets_count_as_zones() {
    let rules = |subnets: &str| -> Vec<&'static str> {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("env")).expect("env directory");
        let body = format!(
            "[load_balancer.web]\nsubnets = {subnets}\nlisteners = [{HTTPS}]\n{CHECK}\n\n\
             [instance.web]\ncount = 2\nami = \"ami-12345678\"\ninstance_type = \"t3.micro\"\n\
             subnets = {subnets}\n"
        );
        std::fs::write(dir.path().join("stack.toml"), format!("{HEAD}{body}")).expect("stack");
        std::fs::write(
            dir.path().join("env/test.toml"),
            "vpc = \"vpc-0a1b2c3d4e5f60718\"\n",
        )
        .expect("env file");
        let loaded = stack::load(dir.path(), Some("test"))
            .unwrap_or_else(|e| panic!("does not load: {:?}", e.diagnostics));
        lint(&loaded).iter().map(|f| f.rule).collect()
    };
    assert_eq!(
        rules(r#"["subnet-0a1b2c3d", "subnet-1a1b2c3d"]"#),
        Vec::<&str>::new()
    );
    assert_eq!(
        rules(r#"["subnet-0a1b2c3d"]"#),
        ["lb-one-zone", "replicas-one-zone"]
    );
}
