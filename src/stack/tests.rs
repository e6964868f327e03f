//! Loading and checking stacks written inline: interpolation, vars, counts, replicas and
//! the model they produce. The invalid-stack corpus lives in `fixtures/invalid`.

use super::model::*;
use super::template::Part;
use super::*;

const HEAD: &str = "[stack]\nname = \"app\"\nregion = \"us-east-1\"\n";

fn ok(body: &str, env: &str) -> Loaded {
    load_text(&format!("{HEAD}{body}"), env).unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
}

fn errors(body: &str, env: &str) -> Vec<String> {
    let e = load_text(&format!("{HEAD}{body}"), env).expect_err("should not load");
    e.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect()
}

fn instance<'a>(l: &'a Loaded, address: &str) -> &'a Instance {
    match &l.stack.resources[&address.parse::<Address>().unwrap()].spec {
        Spec::Instance(i) => i,
        other => panic!("not an instance: {other:?}"),
    }
}

#[test]
fn count_from_a_var_expands_replicas_round_robin_over_zones() {
    let l = ok(
        r#"
[vars]
n = 3
zones = ["us-east-1a", "us-east-1b"]
[instance.web]
count = "${var.n}"
ami = "ami-12345678"
instance_type = "t3.micro"
availability_zones = "${var.zones}"
"#,
        "[vars]\nn = 5\n",
    );
    let zones: Vec<_> = (0..5)
        .map(|i| {
            instance(&l, &format!("instance.web[{i}]"))
                .availability_zone
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(
        zones,
        [
            "us-east-1a",
            "us-east-1b",
            "us-east-1a",
            "us-east-1b",
            "us-east-1a"
        ]
    );
    let r = &l.stack.resources[&"instance.web[4]".parse::<Address>().unwrap()];
    assert_eq!(r.physical_name, "app-test-web-4");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn interpolation_substitutes_vars_and_keeps_secrets_and_attributes_symbolic() {
    let l = ok(
        r#"
[vars]
host = "example.net"
port = 42500
[secrets]
token = { env = "APP_TOKEN" }
[instance.master]
ami = "ami-12345678"
instance_type = "t3.micro"
[instance.node]
ami = "ami-12345678"
instance_type = "t3.micro"
user_data = "h=${var.host}:${var.port} s=${stack.name}/${env} t=${secret.token} m=${instance.master.private_ip} $${HOME}"
[outputs]
url = "http://${instance.master.public_dns}:${var.port}"
"#,
        "",
    );
    let ud = instance(&l, "instance.node").user_data.clone().unwrap();
    let master: Address = "instance.master".parse().unwrap();
    assert_eq!(
        ud.parts,
        vec![
            Part::Text("h=example.net:42500 s=app/test t=".into()),
            Part::Secret("token".into()),
            Part::Text(" m=".into()),
            Part::Attr {
                target: master.clone(),
                attr: "private_ip".into()
            },
            Part::Text(" ${HOME}".into()),
        ]
    );
    assert_eq!(
        l.stack.outputs["url"].to_string(),
        "http://${instance.master.public_dns}:42500"
    );
    assert_eq!(l.stack.secrets["token"], "APP_TOKEN");
}

#[test]
fn the_env_file_overrides_defaults_and_region() {
    let l = ok(
        r#"
[vars]
size = { default = "t3.micro", description = "instance size" }
[instance.web]
ami = "ami-12345678"
instance_type = "${var.size}"
"#,
        "region = \"eu-west-1\"\nendpoint_url = \"http://127.0.0.1:5000\"\n[vars]\nsize = \"m5.large\"\n",
    );
    assert_eq!(instance(&l, "instance.web").instance_type, "m5.large");
    assert_eq!(l.stack.region, "eu-west-1");
    assert_eq!(
        l.stack.endpoint_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
}

#[test]
fn a_var_holding_dollar_brace_is_not_read_as_an_expression() {
    let l = ok(
        r#"
[vars]
greeting = "${not.an.expression}"
[instance.web]
ami = "ami-12345678"
instance_type = "t3.micro"
user_data = "${var.greeting}"
tags = { Motd = "say ${var.greeting}" }
"#,
        "",
    );
    let ud = instance(&l, "instance.web").user_data.clone().unwrap();
    assert_eq!(ud.as_literal().as_deref(), Some("${not.an.expression}"));
}

#[test]
fn rules_are_normalized() {
    let l = ok(
        r#"
[security_group.web]
description = "web"
ingress = [
  { protocol = 6, ports = 443, cidr = "2001:DB8::/32" },
  { protocol = "TCP", ports = "0-65535", group = "self" },
  { protocol = "all", cidr = "10.0.0.0/8" },
]
"#,
        "",
    );
    let Spec::SecurityGroup(sg) =
        &l.stack.resources[&"security_group.web".parse::<Address>().unwrap()].spec
    else {
        panic!("not a group")
    };
    let shown: Vec<String> = sg
        .ingress
        .iter()
        .map(|r| format!("{} {:?} {:?}", r.protocol, r.ports, r.source))
        .collect();
    assert_eq!(
        shown,
        [
            "-1 None Cidr(\"10.0.0.0/8\")",
            "tcp Some((0, 65535)) SelfGroup",
            "tcp Some((443, 443)) Cidr(\"2001:db8::/32\")",
        ]
    );
    assert_eq!(
        sg.egress, None,
        "omitted egress is left alone, not managed as empty"
    );
}

#[test]
fn every_mistake_is_reported_in_one_run() {
    let found = errors(
        r#"
[security_group.web]
description = "web"
ingress = [ { protocol = "tcp", ports = "90-80", cidr = "10.0.0.1/8" } ]
[instance.a]
ami = "ami-1"
instance_type = 5
amii = 1
[database.db]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 0
master_username = "root"
master_password = "${secret.nope}"
"#,
        "",
    );
    assert_eq!(
        found,
        [
            "port range `90-80` is reversed",
            "`instance_type` must be a string, not an integer `5`",
            "unknown key `amii` in `instance.a`",
            "`storage_gb` must be between 1 and 65536, not 0",
            "unknown secret `nope`",
        ]
    );
}

#[test]
fn references_must_resolve() {
    let found = errors(
        r#"
[instance.web]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
[instance.one]
ami = "ami-12345678"
instance_type = "t3.micro"
tags = { A = "${instance.web.id}", B = "${instance.web[2].id}", C = "${instance.one[0].id}", D = "${instance.wbe[0].id}", E = "${instance.one.dns_name}" }
"#,
        "",
    );
    assert_eq!(
        found,
        [
            "`instance.web` has `count`: refer to one replica, by index",
            "replica index [2] is out of range: `instance.web` has 2 replicas, [0] to [1] in env `test`",
            "`instance.one` has no `count`, so it has no replica [0]",
            "unknown resource `instance.wbe`",
            "unknown attribute `dns_name` of `instance`",
        ]
    );
}

#[test]
fn values_needed_at_plan_time_cannot_wait_for_apply() {
    let found = errors(
        r#"
[instance.a]
ami = "ami-12345678"
instance_type = "t3.micro"
[security_group.web]
description = "web"
ingress = [ { protocol = "tcp", ports = "22", cidr = "${instance.a.private_ip}/32" } ]
"#,
        "",
    );
    assert_eq!(
        found,
        [
            "`ingress[0].cidr` must be known at plan time, but `${instance.a.private_ip}` is known only after `instance.a` is created"
        ]
    );
}

#[test]
fn validate_needs_no_secret_set_and_warns_of_unused_declarations() {
    // SOME_UNSET_SECRET is not in the environment: loading must not read it.
    let l = ok(
        r#"
[vars]
unused = 1
[secrets]
pw = { env = "SOME_UNSET_SECRET_FOR_STACKWRIGHT_TESTS" }
spare = { env = "SPARE" }
[database.db]
engine = "MySQL"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${secret.pw}"
"#,
        "",
    );
    let warnings: Vec<&str> = l.warnings.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        warnings,
        ["var `unused` is never used", "secret `spare` is never used"]
    );
    let Spec::Database(db) = &l.stack.resources[&"database.db".parse::<Address>().unwrap()].spec
    else {
        panic!()
    };
    assert_eq!(db.engine, "mysql");
    assert!(
        !db.publicly_accessible,
        "the unsafe AWS default is never implied"
    );
    assert!(db.final_snapshot);
}

#[test]
fn the_model_round_trips_through_json() {
    let l = ok(
        r#"
[instance.web]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
user_data = "${instance.web[0].private_ip}"
"#,
        "",
    );
    let json = serde_json::to_string(&l.stack).unwrap();
    let back: Stack = serde_json::from_str(&json).unwrap();
    assert_eq!(back, l.stack);
    assert!(json.contains("\"instance.web[1]\""));
}

#[test]
fn no_panic_on_arbitrary_bytes() {
    // A cheap fuzz: every prefix of a valid stack, and some hostile strings.
    let full = format!(
        "{HEAD}[vars]\nn = 2\n[instance.web]\ncount = \"${{var.n}}\"\nami = \"ami-12345678\"\ninstance_type = \"t3.micro\"\nuser_data = \"${{instance.web[1].id}}\"\n"
    );
    for end in 0..full.len() {
        if full.is_char_boundary(end) {
            let _ = load_text(&full[..end], "");
        }
    }
    for hostile in [
        "\u{0}",
        "[stack]\nname = \"\u{1F600}\"",
        "a = \"${\"",
        "[instance.\"\"]",
        "[stack]\nname=1\n[[instance.x]]",
    ] {
        let _ = load_text(hostile, "[vars]\nx = 1\n");
    }
}

#[test]
fn no_panic_on_mutated_stacks() {
    // Deterministic byte mutations of the reference stack: whatever comes out, loading
    // returns a result (almost always errors) and never panics.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/paasmaker");
    let stack = std::fs::read_to_string(dir.join("stack.toml")).unwrap();
    let env = std::fs::read_to_string(dir.join("env/production.toml")).unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"[]{}=\"'$.,-_0123456789aZ\n #\\";
    for _ in 0..300 {
        let mut bytes = stack.clone().into_bytes();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_text(&text, &env);
    }
}

#[test]
fn a_stack_without_region_leaves_it_to_the_aws_configuration() {
    let l = load_text(
        "[stack]\nname = \"app\"\n[instance.web]\nami = \"ami-12345678\"\ninstance_type = \"t3.micro\"\n",
        "",
    )
    .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    assert_eq!(l.stack.region, "");
}

// ---- files that are not what they seem (issue 13) ------------------------------------------

#[test]
fn an_env_integer_out_of_range_is_reported_where_it_is_written() {
    let e = load_text(
        &format!(
            "{HEAD}[vars]\napp_count = {{ default = 1 }}\n[security_group.web]\ndescription = \"w\"\n[instance.app]\ncount = \"${{var.app_count}}\"\nami = \"ami-12345678\"\ninstance_type = \"t3.micro\"\nsecurity_groups = [\"web\"]\n"
        ),
        "[vars]\napp_count = 99999999999999999999999\n",
    )
    .expect_err("out of range");
    let shown: Vec<String> = e
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.location(&e.sources).unwrap(), d.message))
        .collect();
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(
        shown[0].ends_with("env/test.toml:2:13 the value of var `app_count` is out of range: `99999999999999999999999` does not fit in 64 bits"),
        "{shown:#?}"
    );
}

#[test]
fn an_error_in_an_env_list_is_reported_in_the_env_file_with_its_use() {
    let e = load_text(
        &format!(
            "{HEAD}[vars]\nzones = [\"us-east-1a\"]\n[load_balancer.web]\navailability_zones = \"${{var.zones}}\"\nlisteners = [ {{ port = 80, protocol = \"http\", instance_port = 80, instance_protocol = \"http\" }} ]\n"
        ),
        "[vars]\nzones = [\n  \"us-east-1a\",\n  \"eu-west-1b\",\n  7,\n]\n",
    )
    .expect_err("bad zone");
    let d = &e.diagnostics[0];
    assert_eq!(e.diagnostics.len(), 1, "{:#?}", e.diagnostics);
    let at = d.location(&e.sources).unwrap();
    assert!(
        at.to_string().ends_with("env/test.toml:5:3"),
        "{at} {}",
        d.message
    );
    assert_eq!(
        d.message,
        "`availability_zones[2]` must be a string, not an integer `7`"
    );
    let used = e
        .sources
        .location(d.secondary[0].span.file, d.secondary[0].span.range.start);
    assert!(used.to_string().ends_with("stack.toml:7:22"), "{used}");

    let e = load_text(
        &format!(
            "{HEAD}[vars]\nzones = [\"us-east-1a\"]\n[load_balancer.web]\navailability_zones = \"${{var.zones}}\"\nlisteners = [ {{ port = 80, protocol = \"http\", instance_port = 80, instance_protocol = \"http\" }} ]\n"
        ),
        "[vars]\nzones = [\n  \"us-east-1a\",\n  \"eu-west-1b\",\n]\n",
    )
    .expect_err("bad zone");
    let d = &e.diagnostics[0];
    let at = d.location(&e.sources).unwrap();
    assert!(
        at.to_string().ends_with("env/test.toml:4:3"),
        "{at} {}",
        d.message
    );
    assert!(d.message.contains("eu-west-1b"), "{}", d.message);
}

#[test]
fn interpolations_are_located_once_per_string() {
    // One output holding many `${var.x}`: each expression's span is its own, found without
    // going over the string again (what made the loader quadratic).
    let n = 2000;
    let value = "${var.x}".repeat(n);
    let l = ok(
        &format!("[vars]\nx = \"ab\"\n[outputs]\nnote = \"{value}\"\n"),
        "",
    );
    assert_eq!(
        l.stack.outputs["note"].as_literal().unwrap(),
        "ab".repeat(n)
    );
    let e = load_text(
        &format!(
            "{HEAD}[outputs]\nnote = \"{}${{var.nope}}\"\n",
            "$${x}".repeat(n)
        ),
        "",
    )
    .expect_err("unknown var");
    let at = e.diagnostics[0].location(&e.sources).unwrap();
    assert_eq!(at.column, 9 + 5 * n, "{at}");
}

/// Every file of `stacks/paasmaker`, in a temporary directory, with `edit` applied to one.
fn reference_stack_with(file: &str, mut edit: impl FnMut(&mut Vec<u8>)) -> tempfile::TempDir {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/paasmaker");
    let dir = tempfile::tempdir().expect("temporary directory");
    for rel in [
        "stack.toml",
        "env/production.toml",
        "files/heart.sh",
        "files/pacemaker.sh",
    ] {
        let mut bytes = std::fs::read(from.join(rel)).expect("reference stack");
        if rel == file {
            edit(&mut bytes);
        }
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("directories");
        std::fs::write(to, bytes).expect("write");
    }
    dir
}

#[test]
fn random_byte_edits_of_the_reference_stack_never_panic_and_every_error_has_a_place() {
    // Seeded xorshift: the same 400 cases every run, a few seconds in all.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let files = [
        "stack.toml",
        "env/production.toml",
        "files/heart.sh",
        "files/pacemaker.sh",
    ];
    let alphabet = b"[]{}=\"'$.,-_0123456789aZ\n #\\\xff\xc3\x00";
    let mut errors = 0;
    for case in 0..400 {
        let file = files[(next() % 4) as usize];
        let edits: Vec<u64> = (0..(1 + next() % 4) * 3).map(|_| next()).collect();
        let dir = reference_stack_with(file, |bytes| {
            for e in edits.chunks(3) {
                let at = (e[0] as usize) % bytes.len().max(1);
                let byte = match e[2] % 4 {
                    0 => (e[2] >> 8) as u8, // any byte at all
                    _ => alphabet[(e[2] >> 8) as usize % alphabet.len()],
                };
                match e[1] % 3 {
                    0 if !bytes.is_empty() => bytes[at] = byte,
                    1 if !bytes.is_empty() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, byte),
                }
            }
        });
        let loaded = std::panic::catch_unwind(|| load(dir.path(), Some("production")));
        let Ok(result) = loaded else {
            panic!("case {case}: loading panicked after editing `{file}`")
        };
        if let Err(e) = result {
            for d in e.diagnostics.iter().filter(|d| d.is_error()) {
                errors += 1;
                assert!(
                    d.location(&e.sources).is_some(),
                    "case {case} (`{file}` edited): `{}` has no location",
                    d.message
                );
            }
        }
    }
    assert!(errors > 100, "the edits found only {errors} errors");
}

#[test]
fn rolling_defaults_and_durations() {
    use crate::stack::model::{Rolling, format_duration, parse_duration};
    assert_eq!(
        Rolling::default(),
        Rolling {
            batch: 1,
            health_timeout_secs: 600
        }
    );
    assert_eq!(parse_duration("90s"), Ok(90));
    assert_eq!(parse_duration("10m"), Ok(600));
    assert_eq!(parse_duration("2h"), Ok(7200));
    for bad in ["10", "m", "10 m", "1.5m", "-5s", "10minutes", ""] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(format_duration(600), "10m");
    assert_eq!(format_duration(90), "90s");
}

#[test]
fn one_mistake_makes_one_error_not_a_cascade() {
    // A misspelt required key: the unknown key says "did you mean", and the missing
    // field it causes is not reported again; references to the block that did not load
    // are not judged (its replica count is unknown).
    let found = errors(
        r#"
[instance.app]
count = 2
ami = "ami-12345678"
instance_typ = "t3.micro"
[dns_record.www]
zone = "example.com"
name = "www.example.com"
type = "A"
ttl = 60
records = ["${instance.app[5].private_ip}"]
"#,
        "",
    );
    assert_eq!(found, ["unknown key `instance_typ` in `instance.app`"]);

    // The references are still judged when the block loads.
    let found = errors(
        r#"
[instance.app]
count = 2
ami = "ami-12345678"
instance_type = "t3.micro"
[dns_record.www]
zone = "example.com"
name = "www.example.com"
type = "A"
ttl = 60
records = ["${instance.app[5].private_ip}"]
"#,
        "",
    );
    assert_eq!(
        found,
        [
            "replica index [5] is out of range: `instance.app` has 2 replicas, [0] to [1] in env `test`"
        ]
    );
}

mod imports;
// Issue 19: `expires` in an env file, a duration like `rolling.health_timeout`.
#[test]
fn expires_is_a_duration_from_the_env_file() {
    let body = "[security_group.web]\ndescription = \"web\"\n";
    assert_eq!(ok(body, "").stack.expires_secs, None);
    assert_eq!(
        ok(body, "expires = \"72h\"\n").stack.expires_secs,
        Some(72 * 3600)
    );
    assert_eq!(
        ok(body, "expires = \"14d\"\n").stack.expires_secs,
        Some(14 * 86_400)
    );
    assert_eq!(ok(body, "expires = \"90s\"\n").stack.expires_secs, Some(90));
    for bad in ["3 days", "72", "0s", "400d", "1.5h"] {
        let found = errors(body, &format!("expires = \"{bad}\"\n"));
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert!(found[0].contains("expires"), "{bad}: {found:?}");
    }
}

// Issue 19: `restore_from_env` names an env (interpolation allowed); empty means none.
#[test]
fn restore_from_env_names_an_env_and_an_empty_one_means_none() {
    let body = |value: &str| {
        format!(
            "[vars]\nsource = \"production\"\n[secrets]\npw = {{ env = \"PW\" }}\n\
             [database.main]\nengine = \"mysql\"\ninstance_class = \"db.t3.micro\"\n\
             storage_gb = 10\nmaster_username = \"root\"\nmaster_password = \"${{secret.pw}}\"\n\
             restore_from_env = \"{value}\"\n"
        )
    };
    let restore =
        |l: &Loaded| match &l.stack.resources[&"database.main".parse::<Address>().unwrap()].spec {
            Spec::Database(d) => d.restore_from_env.clone(),
            other => panic!("not a database: {other:?}"),
        };
    assert_eq!(
        restore(&ok(&body("staging"), "")).as_deref(),
        Some("staging")
    );
    assert_eq!(
        restore(&ok(&body("${var.source}"), "")).as_deref(),
        Some("production")
    );
    assert_eq!(
        restore(&ok(&body("${var.source}"), "[vars]\nsource = \"\"\n")),
        None
    );
    assert_eq!(restore(&ok(&body(""), "")), None);
    let found = errors(&body("Prod env"), "");
    assert_eq!(found, ["invalid env name `Prod env`"]);
}

/// Issue 16: `subnets` from a var, spread round-robin over the replicas like zones; the
/// env's `vpc` reaches the model and the security groups.
#[test]
fn subnets_from_a_var_spread_round_robin_and_the_vpc_reaches_the_groups() {
    let l = ok(
        r#"
[vars]
subnets = ["subnet-0a1b2c3d4e5f60718", "subnet-1a1b2c3d4e5f60718"]
[security_group.web]
description = "web"
[instance.web]
count = 3
ami = "ami-12345678"
instance_type = "t3.micro"
subnets = "${var.subnets}"
"#,
        "vpc = \"vpc-0a1b2c3d4e5f60718\"\n",
    );
    assert_eq!(l.stack.vpc.as_deref(), Some("vpc-0a1b2c3d4e5f60718"));
    let placed: Vec<Option<&str>> = (0..3)
        .map(|k| {
            instance(&l, &format!("instance.web[{k}]"))
                .subnet
                .as_deref()
        })
        .collect();
    assert_eq!(
        placed,
        [
            Some("subnet-0a1b2c3d4e5f60718"),
            Some("subnet-1a1b2c3d4e5f60718"),
            Some("subnet-0a1b2c3d4e5f60718")
        ]
    );
    assert!(instance(&l, "instance.web[0]").availability_zone.is_none());
    match &l.stack.resources[&"security_group.web".parse::<Address>().unwrap()].spec {
        Spec::SecurityGroup(sg) => assert_eq!(sg.vpc.as_deref(), Some("vpc-0a1b2c3d4e5f60718")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn subnets_are_refused_with_zones_without_a_vpc_or_malformed() {
    let lb = |keys: &str| {
        format!(
            "[load_balancer.web]\n{keys}\nlisteners = [ {{ port = 80, protocol = \"http\", instance_port = 80, instance_protocol = \"http\" }} ]\n"
        )
    };
    let vpc = "vpc = \"vpc-0a1b2c3d4e5f60718\"\n";
    assert_eq!(
        errors(
            &lb("availability_zones = [\"us-east-1a\"]\nsubnets = [\"subnet-0a1b2c3d\"]"),
            vpc
        ),
        ["give `availability_zones` or `subnets`, not both"]
    );
    assert_eq!(
        errors(&lb("subnets = [\"subnet-0a1b2c3d\"]"), ""),
        ["`subnets` needs the env's `vpc`"]
    );
    assert_eq!(
        errors(
            &lb("subnets = [\"sub-0a1b2c3d\", \"subnet-0a1b2c3d\", \"subnet-0a1b2c3d\"]"),
            vpc
        ),
        [
            "invalid subnet id `sub-0a1b2c3d`",
            "subnet `subnet-0a1b2c3d` is listed twice"
        ]
    );
    assert_eq!(
        errors(&lb(""), vpc),
        ["a load balancer needs at least one availability zone (or `subnets`)"]
    );
    // A balancer in subnets needs no zones.
    ok(&lb("subnets = [\"subnet-0a1b2c3d\"]"), vpc);
}
