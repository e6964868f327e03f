//! The stack `generate` writes from what a refresh read: it loads, its relations are
//! references, and what it cannot name is warned about.

use std::collections::BTreeMap;

use super::{Request, kinds_of, write};
use crate::provider::{LiveResource, Value};
use crate::stack::model::{GroupRef, RuleSource, Spec};
use crate::stack::template::Part;
use crate::stack::{Address, Kind};

fn live(
    kind: Kind,
    n: usize,
    id: &str,
    attrs: &[(&str, Value)],
    outputs: &[(&str, &str)],
) -> LiveResource {
    LiveResource {
        address: Address::new(kind, format!("id{n}"), None),
        id: id.into(),
        attrs: attrs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
        outputs: outputs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        applied: None,
        expires: None,
    }
}

fn t(s: &str) -> Value {
    Value::text(s)
}

fn l(items: &[&str]) -> Value {
    Value::list(items.iter().map(|s| (*s).to_string()))
}

const USER_DATA: &str = "#!/bin/sh\necho \"${HOME}\" $$ > /tmp/x\n";
const DNS: &str = "front-1.us-east-1.elb.amazonaws.com";

#[test]
fn the_stack_written_loads_with_references_and_warns_of_what_it_cannot_name() {
    let resources = [
        live(
            Kind::SecurityGroup,
            0,
            "sg-11111111",
            &[
                ("name", t("shop-web")),
                ("description", t("web nodes ${not} interpolated")),
                (
                    "ingress",
                    l(&[
                        "tcp 80 from 0.0.0.0/0",
                        "tcp 22 from sg-22222222 \"ssh, from \\\"ops\\\"\"",
                        "tcp 8080 from self",
                    ]),
                ),
                ("egress", l(&["all from 0.0.0.0/0"])),
                ("tags", l(&["team=core"])),
            ],
            &[],
        ),
        live(
            Kind::Instance,
            1,
            "i-44444444",
            &[
                ("ami", t("ami-12c6146b")),
                ("instance_type", t("t2.micro")),
                ("availability_zone", t("us-east-1a")),
                ("key_name", t("ops-key")),
                ("security_groups", l(&["security_group.id0", "sg-33333333"])),
                ("tags", l(&["Name=My App", "team=core"])),
                ("user_data", t(USER_DATA)),
                ("shutdown_behavior", t("terminate")),
                ("root_volume_gb", t("8")),
            ],
            &[("public_dns", "ec2-1-2-3-4.compute-1.amazonaws.com")],
        ),
        live(
            Kind::LoadBalancer,
            2,
            "front",
            &[
                ("name", t("front")),
                ("availability_zones", l(&["us-east-1a"])),
                ("listeners", l(&["HTTP:80 -> HTTP:8080"])),
                (
                    "health_check",
                    t("HTTP:8080/health every 30s, timeout 5s, unhealthy 2, healthy 3"),
                ),
                ("instances", l(&["i-55555555", "instance.id1"])),
                ("security_groups", l(&[])),
                ("cross_zone", t("true")),
            ],
            &[("dns_name", DNS)],
        ),
        live(
            Kind::DnsRecord,
            3,
            "www.example.com CNAME",
            &[
                ("zone", t("example.com")),
                ("fqdn", t("www.example.com")),
                ("type", t("CNAME")),
                ("ttl", t("60")),
                ("records", l(&[DNS])),
            ],
            &[],
        ),
    ];
    let found: BTreeMap<Address, &LiveResource> =
        resources.iter().map(|r| (r.address.clone(), r)).collect();
    let request = Request {
        name: "shop".into(),
        env: "prod".into(),
        region: "us-east-1".into(),
        ids: Vec::new(),
    };
    let names = super::state_names(&found, &request);
    let generated = write::stack(&request, &found, &names, None).expect("generated");

    for warning in [
        "security group sg-11111111 admits security group sg-22222222 which was not listed",
        "instance i-44444444 uses security group sg-33333333 which was not listed",
        "instance i-44444444 uses key pair `ops-key` which was not listed",
        "load balancer `front` has instance i-55555555 registered, which was not listed",
    ] {
        assert!(
            generated.warnings.iter().any(|w| w.starts_with(warning)),
            "{warning}\n{:#?}",
            generated.warnings
        );
    }
    assert_eq!(generated.warnings.len(), 4, "{:#?}", generated.warnings);

    let dir = tempfile::tempdir().expect("temporary directory");
    super::write_dir(dir.path(), &generated, false).expect("written");
    let loaded = crate::stack::load(dir.path(), Some("prod"))
        .unwrap_or_else(|e| panic!("{:#?}\n{:#?}", e.diagnostics, generated.files));
    let stack = loaded.stack;
    let imports: Vec<String> = stack.imports.keys().map(ToString::to_string).collect();
    assert_eq!(
        imports,
        [
            "security_group.web",
            "load_balancer.front",
            "instance.my_app",
            "dns_record.www"
        ]
    );

    let web = Address::new(Kind::SecurityGroup, "web", None);
    let Some(Spec::SecurityGroup(group)) = stack.resource(&web).map(|r| &r.spec) else {
        panic!("no {web}");
    };
    assert_eq!(group.egress, None, "AWS's default egress is left alone");
    assert_eq!(group.description, "web nodes ${not} interpolated");
    let sources: Vec<&RuleSource> = group.ingress.iter().map(|r| &r.source).collect();
    assert!(sources.contains(&&RuleSource::SelfGroup), "{sources:?}");
    assert!(
        sources.contains(&&RuleSource::Group(GroupRef::External(
            "sg-22222222".into()
        ))),
        "{sources:?}"
    );
    assert!(
        group
            .ingress
            .iter()
            .any(|r| r.description.as_deref() == Some("ssh, from \"ops\"")),
        "{:?}",
        group.ingress
    );

    let app = Address::new(Kind::Instance, "my_app", None);
    let resource = stack.resource(&app).expect("instance");
    assert_eq!(resource.physical_name, "My App");
    let Spec::Instance(instance) = &resource.spec else {
        panic!("not an instance");
    };
    assert_eq!(
        instance.security_groups,
        [
            GroupRef::Stack(web.clone()),
            GroupRef::External("sg-33333333".into())
        ]
    );
    let user_data: String = instance
        .user_data
        .as_ref()
        .expect("user data")
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(user_data, USER_DATA);

    let front = Address::new(Kind::LoadBalancer, "front", None);
    let Some(Spec::LoadBalancer(lb)) = stack.resource(&front).map(|r| &r.spec) else {
        panic!("no {front}");
    };
    assert_eq!(lb.instances, [app]);
    assert!(lb.cross_zone);
    let www = Address::new(Kind::DnsRecord, "www", None);
    let Some(Spec::DnsRecord(record)) = stack.resource(&www).map(|r| &r.spec) else {
        panic!("no {www}");
    };
    assert_eq!(
        record.records[0].parts,
        [Part::Attr {
            target: front,
            attr: "dns_name".into()
        }]
    );
}

#[test]
fn ids_are_told_apart_by_their_form() {
    let kinds = kinds_of;
    assert_eq!(
        kinds("sg-0abc"),
        Ok((vec![Kind::SecurityGroup], "sg-0abc".into()))
    );
    assert_eq!(kinds("i-0abc"), Ok((vec![Kind::Instance], "i-0abc".into())));
    assert_eq!(
        kinds("WWW.Example.com. cname"),
        Ok((vec![Kind::DnsRecord], "www.example.com CNAME".into()))
    );
    assert_eq!(
        kinds("shop"),
        Ok((
            vec![Kind::LoadBalancer, Kind::Database, Kind::KeyPair],
            "shop".into()
        ))
    );
    assert_eq!(
        kinds("database:shop"),
        Ok((vec![Kind::Database], "shop".into()))
    );
    assert!(kinds("www.example.com A extra").is_err());
    assert!(kinds("").is_err());
}

#[test]
fn instances_named_as_replicas_and_alike_become_one_counted_block() {
    let instance = |n: usize, id: &str, name: &str, zone: &str, size: &str| {
        live(
            Kind::Instance,
            n,
            id,
            &[
                ("ami", t("ami-12c6146b")),
                ("instance_type", t(size)),
                ("availability_zone", t(zone)),
                ("key_name", t("")),
                ("security_groups", l(&[])),
                ("tags", l(&[&format!("Name={name}")])),
                ("user_data", t("")),
                ("shutdown_behavior", t("stop")),
                ("root_volume_gb", t("8")),
            ],
            &[("public_dns", &format!("{id}.compute-1.amazonaws.com"))],
        )
    };
    let resources = [
        instance(0, "i-00000001", "shop-prod-app-1", "us-east-1b", "t2.micro"),
        instance(1, "i-00000000", "shop-prod-app-0", "us-east-1a", "t2.micro"),
        // Named as a third replica, but not alike: a block of its own.
        instance(2, "i-00000002", "shop-prod-app-2", "us-east-1a", "t2.small"),
        live(
            Kind::LoadBalancer,
            3,
            "front",
            &[
                ("name", t("front")),
                ("availability_zones", l(&["us-east-1a", "us-east-1b"])),
                ("listeners", l(&["HTTP:80 -> HTTP:80"])),
                ("instances", l(&["instance.id0", "instance.id1"])),
                ("cross_zone", t("false")),
            ],
            &[("dns_name", DNS)],
        ),
        live(
            Kind::DnsRecord,
            4,
            "one.example.com CNAME",
            &[
                ("zone", t("example.com")),
                ("fqdn", t("one.example.com")),
                ("type", t("CNAME")),
                ("ttl", t("300")),
                ("records", l(&["i-00000001.compute-1.amazonaws.com"])),
            ],
            &[],
        ),
    ];
    let found: BTreeMap<Address, &LiveResource> =
        resources.iter().map(|r| (r.address.clone(), r)).collect();
    let request = Request {
        name: "shop".into(),
        env: "prod".into(),
        region: "us-east-1".into(),
        ids: Vec::new(),
    };
    let names = super::state_names(&found, &request);
    let generated = write::stack(&request, &found, &names, None).expect("generated");
    assert!(generated.warnings.is_empty(), "{:#?}", generated.warnings);
    let imports: BTreeMap<String, String> = generated
        .imports
        .iter()
        .map(|(a, id)| (a.to_string(), id.clone()))
        .collect();
    assert_eq!(imports["instance.app[0]"], "i-00000000");
    assert_eq!(imports["instance.app[1]"], "i-00000001");
    assert_eq!(imports["instance.app-2"], "i-00000002");

    let dir = tempfile::tempdir().expect("temporary directory");
    super::write_dir(dir.path(), &generated, false).expect("written");
    let loaded = crate::stack::load(dir.path(), Some("prod"))
        .unwrap_or_else(|e| panic!("{:#?}\n{:#?}", e.diagnostics, generated.files));
    let stack = loaded.stack;
    for (i, zone) in [(0, "us-east-1a"), (1, "us-east-1b")] {
        let replica = Address::new(Kind::Instance, "app", Some(i));
        let resource = stack.resource(&replica).expect("replica");
        assert_eq!(resource.physical_name, format!("shop-prod-app-{i}"));
        let Spec::Instance(instance) = &resource.spec else {
            panic!("not an instance");
        };
        assert_eq!(instance.availability_zone.as_deref(), Some(zone));
    }
    assert!(
        stack
            .resource(&Address::new(Kind::Instance, "app", Some(2)))
            .is_none()
    );
    let front = Address::new(Kind::LoadBalancer, "front", None);
    let Some(Spec::LoadBalancer(lb)) = stack.resource(&front).map(|r| &r.spec) else {
        panic!("no {front}");
    };
    assert_eq!(
        lb.instances,
        [
            Address::new(Kind::Instance, "app", Some(0)),
            Address::new(Kind::Instance, "app", Some(1))
        ]
    );
    let one = Address::new(Kind::DnsRecord, "one", None);
    let Some(Spec::DnsRecord(record)) = stack.resource(&one).map(|r| &r.spec) else {
        panic!("no {one}");
    };
    assert_eq!(
        record.records[0].parts,
        [Part::Attr {
            target: Address::new(Kind::Instance, "app", Some(1)),
            attr: "public_dns".into()
        }]
    );
}

/// Issue 16 meets issue 15: what a live resource has against the secure defaults is
/// written as it is (IMDSv1 allowed, storage not encrypted), so the generated stack plans
/// no change to them; what matches the defaults is left out.
#[test]
fn live_resources_below_the_secure_defaults_are_written_as_they_are() {
    let instance = |n: usize, id: &str, tokens: &str, name: &str| {
        live(
            Kind::Instance,
            n,
            id,
            &[
                ("ami", t("ami-12c6146b")),
                ("instance_type", t("t2.micro")),
                ("availability_zone", t("us-east-1a")),
                ("metadata_tokens", t(tokens)),
                ("tags", l(&[&format!("Name={name}")])),
            ],
            &[],
        )
    };
    let database = |n: usize, id: &str, encrypted: &str| {
        live(
            Kind::Database,
            n,
            id,
            &[
                ("identifier", t(id)),
                ("engine", t("mysql")),
                ("instance_class", t("db.t3.micro")),
                ("storage_gb", t("10")),
                ("master_username", t("root")),
                ("storage_encrypted", t(encrypted)),
            ],
            &[],
        )
    };
    let resources = [
        instance(0, "i-11111111", "optional", "old"),
        instance(1, "i-22222222", "required", "new"),
        database(2, "olddb", "false"),
        database(3, "newdb", "true"),
    ];
    let found: BTreeMap<Address, &LiveResource> =
        resources.iter().map(|r| (r.address.clone(), r)).collect();
    let request = Request {
        name: "shop".into(),
        env: "prod".into(),
        region: "us-east-1".into(),
        ids: Vec::new(),
    };
    let names = super::state_names(&found, &request);
    let generated = write::stack(&request, &found, &names, None).expect("generated");
    let dir = tempfile::tempdir().expect("temporary directory");
    super::write_dir(dir.path(), &generated, false).expect("written");
    let stack_toml = std::fs::read_to_string(dir.path().join("stack.toml")).expect("stack.toml");
    assert_eq!(
        stack_toml.matches("metadata_tokens").count(),
        1,
        "{stack_toml}"
    );
    assert_eq!(
        stack_toml.matches("storage_encrypted").count(),
        1,
        "{stack_toml}"
    );
    let stack = crate::stack::load(dir.path(), Some("prod"))
        .unwrap_or_else(|e| panic!("{:#?}\n{stack_toml}", e.diagnostics))
        .stack;
    let tokens = |name: &str| match &stack.resources[&Address::new(Kind::Instance, name, None)].spec
    {
        Spec::Instance(i) => i.metadata_tokens,
        other => panic!("{other:?}"),
    };
    use crate::stack::model::MetadataTokens;
    assert_eq!(tokens("old"), MetadataTokens::Optional);
    assert_eq!(tokens("new"), MetadataTokens::Required);
    let encrypted =
        |name: &str| match &stack.resources[&Address::new(Kind::Database, name, None)].spec {
            Spec::Database(d) => d.storage_encrypted,
            other => panic!("{other:?}"),
        };
    assert!(!encrypted("olddb"));
    assert!(encrypted("newdb"));
}

/// Issue 16 meets issue 15: resources in a VPC other than the default are written with
/// the env's `vpc`, an instance's `subnets` and a balancer's `subnets` instead of zones,
/// so that what the stack makes later lands in that VPC too.
#[test]
fn resources_in_a_vpc_are_written_with_its_subnets() {
    let (a, b) = ("subnet-0a1b2c3d4e5f60718", "subnet-1a1b2c3d4e5f60718");
    let vpc = "vpc-0a1b2c3d4e5f60718";
    let resources = [
        live(
            Kind::SecurityGroup,
            0,
            "sg-11111111",
            &[
                ("name", t("web")),
                ("description", t("web")),
                ("vpc", t(vpc)),
                ("ingress", l(&[])),
            ],
            &[],
        ),
        live(
            Kind::Instance,
            1,
            "i-11111111",
            &[
                ("ami", t("ami-12c6146b")),
                ("instance_type", t("t2.micro")),
                ("availability_zone", t("us-east-1a")),
                ("subnet", t(a)),
                ("security_groups", l(&["security_group.id0"])),
                ("tags", l(&["Name=web"])),
            ],
            &[],
        ),
        live(
            Kind::LoadBalancer,
            2,
            "front",
            &[
                ("name", t("front")),
                ("availability_zones", l(&["us-east-1a", "us-east-1b"])),
                ("subnets", l(&[a, b])),
                ("listeners", l(&["HTTP:80 -> HTTP:80"])),
                ("instances", l(&["instance.id1"])),
            ],
            &[("dns_name", DNS)],
        ),
    ];
    let found: BTreeMap<Address, &LiveResource> =
        resources.iter().map(|r| (r.address.clone(), r)).collect();
    let request = Request {
        name: "shop".into(),
        env: "prod".into(),
        region: "us-east-1".into(),
        ids: Vec::new(),
    };
    let names = super::state_names(&found, &request);
    let generated = write::stack(&request, &found, &names, Some(vpc)).expect("generated");
    let dir = tempfile::tempdir().expect("temporary directory");
    super::write_dir(dir.path(), &generated, false).expect("written");
    let stack = crate::stack::load(dir.path(), Some("prod"))
        .unwrap_or_else(|e| panic!("{:#?}\n{:#?}", e.diagnostics, generated.files))
        .stack;
    assert_eq!(stack.vpc.as_deref(), Some(vpc));
    let Some(Spec::Instance(web)) = stack
        .resource(&Address::new(Kind::Instance, "web", None))
        .map(|r| &r.spec)
    else {
        panic!("{:#?}", generated.files)
    };
    assert_eq!(web.subnet.as_deref(), Some(a));
    assert_eq!(web.availability_zone, None);
    let Some(Spec::LoadBalancer(front)) = stack
        .resource(&Address::new(Kind::LoadBalancer, "front", None))
        .map(|r| &r.spec)
    else {
        panic!("{:#?}", generated.files)
    };
    assert_eq!(front.subnets, [a, b]);
    assert!(front.availability_zones.is_empty(), "{front:?}");
}
