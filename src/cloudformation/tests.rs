//! The template of the reference stack, checked for what CloudFormation needs.

use std::collections::BTreeMap;
use std::path::Path;

use petgraph::graphmap::DiGraphMap;

use super::*;

fn paasmaker(env: &str) -> Stack {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/paasmaker");
    crate::stack::load(&dir, Some(env))
        .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
        .stack
}

/// Every logical id a value refers to: `Ref`, `Fn::GetAtt` and `${X…}` in `Fn::Sub`.
fn references(value: &Json, into: &mut Vec<String>) {
    match value {
        Json::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("Ref", Json::String(id)) => into.push(id.clone()),
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        into.extend(parts.first().and_then(Json::as_str).map(String::from));
                    }
                    ("Fn::Sub", Json::Array(parts)) => {
                        parts.iter().skip(1).for_each(|v| references(v, into));
                    }
                    ("Fn::Sub", Json::String(text)) => {
                        for var in text.split("${").skip(1) {
                            if var.starts_with('!') {
                                continue;
                            }
                            let name = var.split(['}', '.']).next().unwrap_or_default();
                            into.push(name.to_string());
                        }
                    }
                    ("DependsOn", Json::Array(ids)) => {
                        into.extend(ids.iter().filter_map(Json::as_str).map(String::from));
                    }
                    _ => references(v, into),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| references(i, into)),
        _ => {}
    }
}

#[test]
fn the_reference_stack_becomes_the_right_resources() {
    let t = template(&paasmaker("production"));
    let types: BTreeMap<&str, &str> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v["Type"].as_str().unwrap()))
        .collect();
    let expected = [
        ("DatabaseApps", "AWS::RDS::DBInstance"),
        ("DnsRecordCluster", "AWS::Route53::RecordSet"),
        ("DnsRecordWildcard", "AWS::Route53::RecordSet"),
        ("InstanceHeart0", "AWS::EC2::Instance"),
        ("InstanceHeart1", "AWS::EC2::Instance"),
        ("InstancePacemaker", "AWS::EC2::Instance"),
        ("LoadBalancerWeb", "AWS::ElasticLoadBalancing::LoadBalancer"),
        ("SecurityGroupPaasmaker", "AWS::EC2::SecurityGroup"),
        (
            "SecurityGroupPaasmakerIngress0",
            "AWS::EC2::SecurityGroupIngress",
        ),
        ("SecurityGroupRds", "AWS::EC2::SecurityGroup"),
        ("SecurityGroupRdsIngress0", "AWS::EC2::SecurityGroupIngress"),
    ];
    assert_eq!(types, expected.into_iter().collect::<BTreeMap<_, _>>());

    let r = &t["Resources"];
    // The group's self rule, outside the group; its CIDR rules inline.
    assert_eq!(
        r["SecurityGroupPaasmakerIngress0"]["Properties"]["SourceSecurityGroupId"],
        json!({ "Fn::GetAtt": ["SecurityGroupPaasmaker", "GroupId"] })
    );
    assert_eq!(
        r["SecurityGroupPaasmaker"]["Properties"]["SecurityGroupIngress"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        r["SecurityGroupRdsIngress0"]["Properties"]["FromPort"],
        json!(3306)
    );
    // The database: snapshot on delete, the password a NoEcho parameter.
    assert_eq!(r["DatabaseApps"]["DeletionPolicy"], "Snapshot");
    assert_eq!(
        r["DatabaseApps"]["Properties"]["MasterUserPassword"],
        json!({ "Fn::Sub": "${SecretRdsPassword}" })
    );
    assert_eq!(r["DatabaseApps"]["Properties"]["PubliclyAccessible"], false);
    assert_eq!(t["Parameters"]["SecretRdsPassword"]["NoEcho"], true);
    assert_eq!(t["Parameters"]["SecretNodeToken"]["NoEcho"], true);
    // References become Fn::Sub over GetAtt.
    assert_eq!(
        r["DnsRecordCluster"]["Properties"]["ResourceRecords"],
        json!([{ "Fn::Sub": ["${InstancePacemakerPublicDns}", {
            "InstancePacemakerPublicDns": { "Fn::GetAtt": ["InstancePacemaker", "PublicDnsName"] }
        }] }])
    );
    let sub = &r["InstancePacemaker"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"];
    let user_data = sub[0].as_str().unwrap();
    assert!(user_data.contains("${DatabaseAppsAddress}"), "{user_data}");
    assert!(user_data.contains("${SecretRdsPassword}"), "{user_data}");
    assert_eq!(
        sub[1]["DatabaseAppsAddress"],
        json!({ "Fn::GetAtt": ["DatabaseApps", "Endpoint.Address"] })
    );
    assert_eq!(
        r["LoadBalancerWeb"]["Properties"]["Instances"],
        json!([{ "Ref": "InstanceHeart0" }, { "Ref": "InstanceHeart1" }])
    );
    assert_eq!(
        r["InstanceHeart0"]["DependsOn"],
        json!(["DnsRecordCluster"])
    );
    // Every taggable resource carries the contract's tags.
    for (id, body) in r.as_object().unwrap() {
        let Some(tags) = body["Properties"]["Tags"].as_array() else {
            continue;
        };
        let address = tags
            .iter()
            .find(|t| t["Key"] == "stackwright:address")
            .unwrap_or_else(|| panic!("{id} has no address tag"));
        assert_eq!(
            logical_id(&address["Value"].as_str().unwrap().parse().unwrap()),
            *id
        );
        assert!(
            tags.iter()
                .any(|t| t["Key"] == "stackwright:stack" && t["Value"] == "paasmaker")
        );
        assert!(
            tags.iter()
                .any(|t| t["Key"] == "stackwright:env" && t["Value"] == "production")
        );
    }
    assert_eq!(
        t["Outputs"]["ElbDnsName"]["Value"]["Fn::Sub"][1]["LoadBalancerWebDnsName"],
        json!({ "Fn::GetAtt": ["LoadBalancerWeb", "DNSName"] })
    );
}

#[test]
fn the_template_has_no_cycle_and_refers_only_to_what_it_declares() {
    for env in ["production", "staging", "local"] {
        let t = template(&paasmaker(env));
        let resources = t["Resources"].as_object().unwrap();
        let parameters: Vec<&String> = t["Parameters"].as_object().unwrap().keys().collect();
        let mut graph = DiGraphMap::<&str, ()>::new();
        for (id, body) in resources {
            graph.add_node(id);
            let mut refs = Vec::new();
            references(body, &mut refs);
            for r in refs {
                if parameters.iter().any(|p| **p == r) {
                    continue;
                }
                let (target, _) = resources
                    .get_key_value(&r)
                    .unwrap_or_else(|| panic!("{env}: {id} refers to undeclared {r}"));
                graph.add_edge(id, target, ());
            }
        }
        assert!(
            petgraph::algo::toposort(&graph, None).is_ok(),
            "{env}: the template has a cycle"
        );
    }
}

#[test]
fn literal_dollar_braces_survive_fn_sub_and_final_snapshot_false_deletes() {
    let stack = paasmaker("local");
    let t = template(&stack);
    assert_eq!(t["Resources"]["DatabaseApps"]["DeletionPolicy"], "Delete");
    let text = super::text(&Template {
        parts: vec![
            Part::Text("echo ${HOME} ".into()),
            Part::Secret("node_token".into()),
        ],
    });
    assert_eq!(
        text,
        json!({ "Fn::Sub": "echo ${!HOME} ${SecretNodeToken}" })
    );
    assert_eq!(
        logical_id(&"instance.heart[12]".parse().unwrap()),
        "InstanceHeart12"
    );
    assert_eq!(
        logical_id(&"dns_record.api-v2".parse().unwrap()),
        "DnsRecordApiV2"
    );
}

/// Review of issue 5: names that CamelCase to the same logical id are said, not lost.
#[test]
fn addresses_with_the_same_logical_id_are_clashes() {
    let stack = crate::stack::load_text(
        r#"
        [stack]
        name = "c"
        region = "us-east-1"
        [security_group.web]
        description = "web"
        ingress = [ { protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }, { protocol = "tcp", ports = "22", group = "self" } ]
        [security_group.web-ingress0]
        description = "clashes with the rule, if it is the first"
        [security_group.web-ingress1]
        description = "clashes with the rule, if it is the second"
        [instance.node]
        count = 2
        ami = "ami-11111111"
        instance_type = "t2.micro"
        [instance.node_1]
        ami = "ami-11111111"
        instance_type = "t2.micro"
        "#,
        "",
    )
    .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
    .stack;
    let found = clashes(&stack);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        found[0],
        "`instance.node[1]`, `instance.node_1` all become CloudFormation logical id \
         `InstanceNode1`: rename one"
    );
    assert!(
        found[1].starts_with("ingress rule ")
            && found[1].contains(" of `security_group.web`, `security_group.web-ingress"),
        "{found:#?}"
    );
    assert!(clashes(&paasmaker("production")).is_empty());
}

/// Issue 13: CloudFormation stack names are unambiguous like every physical name.
#[test]
fn stack_names_of_stacks_and_envs_that_join_alike_differ() {
    let named = |name: &str, env: &str| {
        let mut stack = crate::stack::load_text(
            &format!("[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n"),
            "",
        )
        .unwrap()
        .stack;
        stack.env = env.into();
        stack_name(&stack)
    };
    assert_ne!(named("a-b", "c"), named("a", "b-c"));
    assert_eq!(named("paasmaker", "production"), "paasmaker-production");
}

/// Issue 18: the hearts' user data is written once, in `Mappings`, and each replica joins
/// its pieces; it reads back as the same text as written inline, secret as a reference.
#[test]
fn user_data_replicas_share_is_written_once_and_reads_back_the_same() {
    let stack = paasmaker("production");
    let t = template(&stack);
    let shared = &t["Mappings"][shared::MAPPING]["InstanceHeart"];
    let pieces = shared.as_object().expect("the hearts' user data is shared");
    assert!(pieces.len() >= 2, "{pieces:?}");
    assert!(
        pieces
            .values()
            .any(|p| p.as_str().is_some_and(|s| s.contains("is_heart: true")))
    );
    let r = &t["Resources"];
    let ud0 = &r["InstanceHeart0"]["Properties"]["UserData"];
    assert_eq!(ud0, &r["InstanceHeart1"]["Properties"]["UserData"]);
    let joined = ud0["Fn::Base64"]["Fn::Join"][1].as_array().expect("a join");
    assert!(
        joined.contains(&json!({ "Ref": "SecretNodeToken" })),
        "{joined:?}"
    );
    // Used once: written in place.
    assert!(!r["InstancePacemaker"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"].is_null());
    assert!(t["Mappings"][shared::MAPPING]["InstancePacemaker"].is_null());

    // The same template with the hearts' user data inline reads as the same view.
    let mut inline = t.clone();
    for (address, resource) in &stack.resources {
        if let Spec::Instance(i) = &resource.spec
            && let Some(ud) = &i.user_data
        {
            inline["Resources"][logical_id(address)]["Properties"]["UserData"] =
                json!({ "Fn::Base64": text(ud) });
        }
    }
    let view = changes::View::of(&t);
    assert_eq!(view, changes::View::of(&inline));
    let heart: Address = "instance.heart[1]".parse().unwrap();
    let crate::provider::Value::Text(read) = &view.attrs[&heart]["user_data"] else {
        panic!("user data is text")
    };
    assert!(
        read.contains("node_token: '${secret.node_token}'"),
        "{read}"
    );
    assert!(!read.contains("FindInMap"), "{read}");
}

/// Issue 18: the template no longer grows by the whole user data per replica.
#[test]
fn a_replica_adds_far_less_than_its_user_data_to_the_template() {
    let stack = paasmaker("production");
    let Spec::Instance(heart) =
        &stack.resources[&"instance.heart[0]".parse::<Address>().unwrap()].spec
    else {
        panic!("an instance")
    };
    let ud_len = text(heart.user_data.as_ref().unwrap()).to_string().len();
    let t = template(&stack);
    let replica = t["Resources"]["InstanceHeart1"].to_string().len();
    assert!(
        replica < ud_len / 2,
        "{replica} bytes a replica, user data {ud_len}"
    );
}

/// Issue 18: a replica's user data is written the same whatever the count, so scaling from
/// one heart to two does not update the first (for EC2, an interruption).
#[test]
fn a_replicas_user_data_reads_the_same_with_one_replica_or_two() {
    let two = paasmaker("production");
    let mut one = two.clone();
    one.resources
        .remove(&"instance.heart[1]".parse::<Address>().unwrap());
    let (t2, t1) = (template(&two), template(&one));
    let ud = |t: &Json| t["Resources"]["InstanceHeart0"]["Properties"]["UserData"].clone();
    assert!(!ud(&t1)["Fn::Base64"]["Fn::Join"].is_null(), "{}", ud(&t1));
    assert_eq!(ud(&t1), ud(&t2));
    assert_eq!(t1["Mappings"], t2["Mappings"]);
}

/// Issue 16: placement in a VPC exports as CloudFormation says it: groups with `VpcId`,
/// the balancer with `Subnets` (no zones), each replica's `SubnetId` round-robin, and the
/// database in a DB subnet group of its own that is part of it (metadata) in the template.
#[test]
fn placement_in_a_vpc_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("env")).unwrap();
    std::fs::write(
        dir.path().join("env/test.toml"),
        "vpc = \"vpc-0a1b2c3d4e5f60718\"\n",
    )
    .unwrap();
    let (a, b) = ("subnet-0a1b2c3d4e5f60718", "subnet-1a1b2c3d4e5f60718");
    std::fs::write(
        dir.path().join("stack.toml"),
        format!(
            r#"[stack]
name = "placed"
region = "us-east-1"
[security_group.web]
description = "web"
[load_balancer.web]
subnets = ["{a}", "{b}"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "not-a-secret"
subnets = ["{a}", "{b}"]
[instance.web]
count = 3
ami = "ami-12345678"
instance_type = "t3.micro"
subnets = ["{a}", "{b}"]
"#
        ),
    )
    .unwrap();
    let stack = crate::stack::load(dir.path(), Some("test"))
        .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
        .stack;
    let t = template(&stack);
    let r = &t["Resources"];
    assert_eq!(
        r["SecurityGroupWeb"]["Properties"]["VpcId"],
        "vpc-0a1b2c3d4e5f60718"
    );
    let lb = &r["LoadBalancerWeb"]["Properties"];
    assert_eq!(lb["Subnets"], json!([a, b]));
    assert!(lb["AvailabilityZones"].is_null());
    for (k, s) in [(0, a), (1, b), (2, a)] {
        assert_eq!(r[format!("InstanceWeb{k}")]["Properties"]["SubnetId"], s);
    }
    let db = &r["DatabaseMain"]["Properties"];
    assert_eq!(
        db["DBSubnetGroupName"],
        json!({ "Ref": "DatabaseMainSubnetGroup" })
    );
    let group = &r["DatabaseMainSubnetGroup"];
    assert_eq!(group["Type"], "AWS::RDS::DBSubnetGroup");
    assert_eq!(group["Properties"]["SubnetIds"], json!([a, b]));
    assert_eq!(group["Properties"]["DBSubnetGroupName"], "placed-test-main");
    assert_eq!(group["Metadata"][META_ADDRESS], "database.main");
    assert!(clashes(&stack).is_empty());
}
