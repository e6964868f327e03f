//! `stackwright apply`, `destroy`, `output` and `unlock` end to end: the built binary
//! against the local AWS emulator (moto).
//!
//! Each test writes its own stack under a unique name, with its own hosted zone where it
//! has DNS records (the stack directory and SDK helpers are `plan.rs`'s), runs the
//! commands as CI runs them (no terminal, secrets in the environment) and then looks at
//! what they left in "AWS" through the real SDK clients, never through stackwright's own
//! reading of it. Changes "behind stackwright's back" are made with the SDK too.
//!
//! Where a test leans on the emulator rather than on AWS:
//! - moto makes instances `running` and databases `available` (or deleted) at once, so a
//!   whole apply takes seconds, and it changes the type of a running instance (drift that
//!   AWS would allow only while the instance is stopped);
//! - moto accepts any AMI id and any 32-byte "ed25519" key, and reports a database whose
//!   `PubliclyAccessible` was never sent as having none: so `Some(false)` shows it was
//!   sent explicitly;
//! - the lock is a security group in the default VPC, which moto has in every region.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, InstanceAttributeName, IpPermission, SecurityGroup};
use aws_sdk_route53::types::RrType;
use stackwright::provider::ownership;

use crate::census::census;
use crate::emulator::{self, Proxy};
use crate::plan::{
    AMI, Aws, ENV, FULL_ADDRESSES, PW_VAR, StackDir, TOKEN_VAR, aws_env_at, full_stack, headings,
    last_line, own_tags, runtime, tcp_from_cidr, tcp_from_group,
};
use crate::support::text;

/// Secret values while the commands run: distinctive, so any leak is found by search.
const PW: &str = "canary-apply-pw-5d1e0c";
const TOKEN: &str = "canary-apply-token-3b8f77";
const SECRETS: [(&str, &str); 2] = [(PW_VAR, PW), (TOKEN_VAR, TOKEN)];

/// What CI passes: no question asked, and consent to changes that open access.
const YES: [&str; 2] = ["--yes", "--allow-open"];

/// The user data of [`full_stack`]'s instances as AWS must hold it: the real token.
fn web_user_data() -> String {
    format!("#!/bin/sh\necho 'token={TOKEN}' > /etc/web.conf\n")
}

/// [`full_stack`] with outputs and user tags. TOML lets a table's sub-table be written
/// after other tables, so the tags are added here rather than by copying the stack.
fn every_kind(name: &str, zone: &str) -> String {
    format!(
        r#"{}
[outputs]
balancer = "${{load_balancer.web.dns_name}}"
database = "${{database.main.address}}"

[security_group.db.tags]
Team = "e2e"

[instance.web.tags]
Team = "e2e"
"#,
        full_stack(name, zone)
    )
}

// ---------------------------------------------------------------------------------------
// Running the CLI.

/// How a command ended and what it printed.
pub(crate) struct Run {
    what: String,
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    fn from(what: String, out: Output) -> Run {
        Run {
            what,
            code: out.status.code(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }

    /// Everything it printed, for failure messages.
    pub(crate) fn shown(&self) -> String {
        format!(
            "{} exited {:?}\n--- stdout\n{}--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Assert it exited with `code`.
    pub(crate) fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, Some(code), "{}", self.shown());
        self
    }

    /// The `<Title> complete in Xs: …` line, the time replaced by `[ELAPSED]`.
    pub(crate) fn summary(&self) -> String {
        let line = self
            .stdout
            .lines()
            .find(|l| l.contains(" complete in ") || l.contains(" failed after "))
            .unwrap_or_else(|| panic!("no summary line\n{}", self.shown()));
        let (head, rest) = line
            .split_once(" in ")
            .or_else(|| line.split_once(" after "))
            .expect("a time");
        let (_, tail) = rest.split_once("s: ").expect("seconds");
        format!("{head} [ELAPSED]: {tail}")
    }
}

impl StackDir {
    /// `stackwright COMMAND DIR --env test ARGS`, the secrets set.
    fn cli(&self, command: &str, args: &[&str]) -> Run {
        self.cli_with(command, args, &SECRETS)
    }

    /// The same with only the environment variables `env` set besides AWS's.
    pub(crate) fn cli_with(&self, command: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.run_with(command, args, env, emulator::endpoint());
        Run::from(format!("{command} {}", args.join(" ")), out)
    }

    /// `apply ARGS`, which must succeed.
    fn apply(&self, args: &[&str]) -> Run {
        self.cli("apply", args).expect(0)
    }

    /// Write `stack.toml` anew, as someone editing the stack would.
    fn rewrite(&self, stack_toml: impl Fn(&str, &str) -> String) {
        std::fs::write(
            self.path().join("stack.toml"),
            stack_toml(&self.name, &self.zone),
        )
        .expect("stack");
    }

    /// The plan, which must say `No changes.`
    fn assert_converged(&self) {
        let plan = self.plan(&["--detailed-exitcode"], 0);
        assert_eq!(last_line(&plan), "No changes.", "{plan}");
    }
}

/// `stackwright` against `endpoint`, the secrets set.
fn stackwright(endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackwright"));
    cmd.envs(aws_env_at(endpoint))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .envs(SECRETS)
        .env("NO_COLOR", "1");
    cmd
}

/// `stackwright apply PLANFILE ARGS`.
fn apply_saved(file: &Path, args: &[&str]) -> Run {
    let out = stackwright(emulator::endpoint())
        .arg("apply")
        .arg(file)
        .args(args)
        .output()
        .expect("run stackwright");
    Run::from(format!("apply {} {}", file.display(), args.join(" ")), out)
}

// ---------------------------------------------------------------------------------------
// "AWS", through the SDK.

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// The stack's filters: `stackwright:stack` and `stackwright:env`.
fn stack_filters(s: &StackDir) -> Vec<Filter> {
    vec![
        tag_filter("stackwright:stack", &s.name),
        tag_filter("stackwright:env", ENV),
    ]
}

fn pairs<'a>(
    tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .map(|(k, v)| {
            (
                k.unwrap_or_default().to_string(),
                v.unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Assert `tags` hold the contract's three tags for `address` of the stack.
fn assert_own_tags(s: &StackDir, tags: &BTreeMap<String, String>, address: &str) {
    for (k, v) in own_tags(&s.name, ENV, address) {
        assert_eq!(tags.get(&k), Some(&v), "{address}: tag {k} in {tags:?}");
    }
}

/// Instances of the stack that are not terminated, by their address tag.
async fn instances(aws: &Aws, s: &StackDir) -> BTreeMap<String, Vec<aws_sdk_ec2::types::Instance>> {
    let out = aws
        .ec2
        .describe_instances()
        .set_filters(Some(stack_filters(s)))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(
                    ["pending", "running", "stopping", "stopped", "shutting-down"]
                        .map(String::from)
                        .to_vec(),
                ))
                .build(),
        )
        .send()
        .await
        .expect("DescribeInstances");
    let mut by_address: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for i in out.reservations().iter().flat_map(|r| r.instances()) {
        let tags = pairs(i.tags().iter().map(|t| (t.key(), t.value())));
        let address = tags.get("stackwright:address").cloned().unwrap_or_default();
        by_address.entry(address).or_default().push(i.clone());
    }
    by_address
}

/// The one live instance of each address; panics when an address has more than one.
async fn one_per_address(
    aws: &Aws,
    s: &StackDir,
) -> BTreeMap<String, aws_sdk_ec2::types::Instance> {
    instances(aws, s)
        .await
        .into_iter()
        .map(|(address, mut found)| {
            let ids: Vec<_> = found.iter().map(|i| i.instance_id()).collect();
            assert_eq!(found.len(), 1, "{address} has {ids:?}");
            (address, found.remove(0))
        })
        .collect()
}

async fn instance_state(aws: &Aws, id: &str) -> String {
    let out = aws
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("DescribeInstances");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.state().and_then(|s| s.name()))
        .map(|n| n.as_str().to_string())
        .next()
        .unwrap_or_default()
}

async fn user_data(aws: &Aws, id: &str) -> String {
    let out = aws
        .ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(InstanceAttributeName::UserData)
        .send()
        .await
        .expect("DescribeInstanceAttribute");
    let b64 = out
        .user_data()
        .and_then(|v| v.value())
        .expect("user data")
        .to_string();
    String::from_utf8(aws_smithy_types::base64::decode(&b64).expect("base64")).expect("UTF-8")
}

/// The stack's security groups, by name.
async fn groups(aws: &Aws, s: &StackDir) -> BTreeMap<String, SecurityGroup> {
    let out = aws
        .ec2
        .describe_security_groups()
        .set_filters(Some(stack_filters(s)))
        .send()
        .await
        .expect("DescribeSecurityGroups");
    out.security_groups()
        .iter()
        .map(|g| (g.group_name().unwrap_or_default().to_string(), g.clone()))
        .collect()
}

async fn group_named(aws: &Aws, name: &str) -> Option<SecurityGroup> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .expect("DescribeSecurityGroups");
    out.security_groups().first().cloned()
}

/// Ingress rules as `tcp 80 from 0.0.0.0/0` and `tcp 0-65535 from <name>`, `names`
/// naming group ids; sorted.
fn ingress(group: &SecurityGroup, names: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in group.ip_permissions() {
        let ports = match (p.from_port(), p.to_port()) {
            (Some(a), Some(b)) if a == b => a.to_string(),
            (Some(a), Some(b)) => format!("{a}-{b}"),
            _ => "all".to_string(),
        };
        let protocol = p.ip_protocol().unwrap_or_default();
        for r in p.ip_ranges() {
            out.push(format!(
                "{protocol} {ports} from {}",
                r.cidr_ip().unwrap_or("")
            ));
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap_or_default();
            let name = names.get(id).map_or(id, String::as_str);
            out.push(format!("{protocol} {ports} from {name}"));
        }
    }
    out.sort();
    out
}

async fn balancer(
    aws: &Aws,
    name: &str,
) -> Option<aws_sdk_elasticloadbalancing::types::LoadBalancerDescription> {
    let out = aws
        .elb
        .describe_load_balancers()
        .load_balancer_names(name)
        .send()
        .await;
    match out {
        Ok(out) => out.load_balancer_descriptions().first().cloned(),
        Err(e)
            if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                == Some("LoadBalancerNotFound") =>
        {
            None
        }
        Err(e) => panic!("DescribeLoadBalancers: {e:?}"),
    }
}

fn registered(
    b: &aws_sdk_elasticloadbalancing::types::LoadBalancerDescription,
) -> BTreeSet<String> {
    b.instances()
        .iter()
        .filter_map(|i| i.instance_id())
        .map(String::from)
        .collect()
}

async fn balancer_tags(aws: &Aws, name: &str) -> BTreeMap<String, String> {
    let out = aws
        .elb
        .describe_tags()
        .load_balancer_names(name)
        .send()
        .await
        .expect("DescribeTags");
    out.tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn database(aws: &Aws, identifier: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    match aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => out.db_instances().first().cloned(),
        Err(e)
            if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                == Some("DBInstanceNotFound") =>
        {
            None
        }
        Err(e) => panic!("DescribeDBInstances: {e:?}"),
    }
}

async fn key_pairs(aws: &Aws, s: &StackDir) -> Vec<aws_sdk_ec2::types::KeyPairInfo> {
    aws.ec2
        .describe_key_pairs()
        .set_filters(Some(stack_filters(s)))
        .send()
        .await
        .expect("DescribeKeyPairs")
        .key_pairs()
        .to_vec()
}

/// Every record set of a zone but its SOA and NS: `(name, type, ttl, values)`, sorted.
async fn records(aws: &Aws, zone_id: &str) -> Vec<(String, String, i64, Vec<String>)> {
    let out = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .expect("ListResourceRecordSets");
    out.resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type(), RrType::Soa | RrType::Ns))
        .map(|r| {
            (
                r.name().trim_end_matches('.').to_string(),
                r.r#type().as_str().to_string(),
                r.ttl().unwrap_or_default(),
                r.resource_records()
                    .iter()
                    .map(|v| v.value().to_string())
                    .collect(),
            )
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_kind_converges_and_aws_holds_what_the_stack_says() {
    let s = StackDir::new("conv", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let zone_id = rt.block_on(aws.zone(&s.zone));

    let run = s.apply(&YES);
    let creates: Vec<String> = FULL_ADDRESSES
        .iter()
        .map(|a| format!("  + {a}  will be created"))
        .collect();
    assert_eq!(headings(&run.stdout), creates, "{}", run.shown());
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 8 created, 0 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
    // Without a terminal, one plain line per event on stderr.
    for address in FULL_ADDRESSES {
        let done = format!(" {address}: create done in ");
        assert!(run.stderr.contains(&done), "no {done:?}\n{}", run.shown());
    }
    s.assert_converged();

    rt.block_on(async {
        // Groups: both rules that name the other group, and the one naming itself.
        let groups = groups(&aws, &s).await;
        let (web, db) = (s.physical("web"), s.physical("db"));
        assert_eq!(
            groups.keys().collect::<Vec<_>>(),
            [&db, &web],
            "{groups:#?}"
        );
        let names: BTreeMap<String, String> = groups
            .iter()
            .map(|(name, g)| (g.group_id().unwrap_or_default().to_string(), name.clone()))
            .collect();
        assert_eq!(
            ingress(&groups[&web], &names),
            [
                format!("tcp 0-65535 from {web}"),
                "tcp 80 from 0.0.0.0/0".to_string(),
                format!("tcp 8080 from {db}"),
            ]
        );
        assert_eq!(
            ingress(&groups[&db], &names),
            [format!("tcp 3306 from {web}")]
        );
        for (name, address) in [(&web, "security_group.web"), (&db, "security_group.db")] {
            let tags = pairs(groups[name].tags().iter().map(|t| (t.key(), t.value())));
            assert_own_tags(&s, &tags, address);
        }
        let db_tags = pairs(groups[&db].tags().iter().map(|t| (t.key(), t.value())));
        assert_eq!(db_tags.get("Team").map(String::as_str), Some("e2e"));
        let web_id = groups[&web].group_id().expect("id").to_string();
        let db_id = groups[&db].group_id().expect("id").to_string();

        // The key pair.
        let keys = key_pairs(&aws, &s).await;
        assert_eq!(keys.len(), 1, "{keys:#?}");
        assert_eq!(keys[0].key_name(), Some(s.physical("main").as_str()));
        assert_own_tags(
            &s,
            &pairs(keys[0].tags().iter().map(|t| (t.key(), t.value()))),
            "key_pair.main",
        );

        // Instances: one per replica, spread over the zones, with the real token.
        let instances = one_per_address(&aws, &s).await;
        assert_eq!(
            instances.keys().collect::<Vec<_>>(),
            ["instance.web[0]", "instance.web[1]"]
        );
        for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
            let address = format!("instance.web[{i}]");
            let instance = &instances[&address];
            let id = instance.instance_id().expect("id");
            assert_eq!(
                instance.instance_type().map(|t| t.as_str()),
                Some("t2.micro")
            );
            assert_eq!(instance.image_id(), Some(AMI));
            assert_eq!(instance.key_name(), Some(s.physical("main").as_str()));
            let sgs: Vec<_> = instance
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id())
                .collect();
            assert_eq!(sgs, [web_id.as_str()], "{address}");
            assert_eq!(
                instance.placement().and_then(|p| p.availability_zone()),
                Some(zone),
                "{address}"
            );
            assert_eq!(user_data(&aws, id).await, web_user_data(), "{address}");
            let tags = pairs(instance.tags().iter().map(|t| (t.key(), t.value())));
            assert_own_tags(&s, &tags, &address);
            assert_eq!(
                tags.get("Team").map(String::as_str),
                Some("e2e"),
                "{tags:?}"
            );
            assert_eq!(
                tags.get("Name"),
                Some(&s.physical(&format!("web-{i}"))),
                "{tags:?}"
            );
        }
        let instance_ids: BTreeSet<String> = instances
            .values()
            .filter_map(|i| i.instance_id())
            .map(String::from)
            .collect();

        // The balancer: listener, health check, the stack's instances registered.
        let b = balancer(&aws, &s.physical("web")).await.expect("the ELB");
        let listeners: Vec<_> = b
            .listener_descriptions()
            .iter()
            .filter_map(|d| d.listener())
            .map(|l| {
                (
                    l.protocol().to_ascii_uppercase(),
                    l.load_balancer_port(),
                    l.instance_protocol()
                        .unwrap_or_default()
                        .to_ascii_uppercase(),
                    l.instance_port(),
                )
            })
            .collect();
        assert_eq!(listeners, [("HTTP".into(), 80, "HTTP".into(), 80)]);
        let h = b.health_check().expect("health check");
        assert_eq!(
            (
                h.target(),
                h.interval(),
                h.timeout(),
                h.unhealthy_threshold(),
                h.healthy_threshold()
            ),
            ("TCP:80", 30, 5, 2, 2)
        );
        assert_eq!(registered(&b), instance_ids);
        let mut zones = b.availability_zones().to_vec();
        zones.sort();
        assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
        assert_own_tags(
            &s,
            &balancer_tags(&aws, &s.physical("web")).await,
            "load_balancer.web",
        );
        let dns_name = b.dns_name().expect("DNS name").to_string();

        // The database: private, said explicitly; the size and class of the stack.
        let d = database(&aws, &s.physical("main")).await.expect("the DB");
        assert_eq!(d.publicly_accessible(), Some(false), "{d:#?}");
        assert_eq!(d.db_instance_class(), Some("db.t3.micro"));
        assert_eq!(d.allocated_storage(), Some(10));
        assert_eq!(d.engine(), Some("mysql"));
        assert_eq!(d.master_username(), Some("root"));
        assert_eq!(d.backup_retention_period(), Some(7));
        let vpc_groups: Vec<_> = d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        assert_eq!(vpc_groups, [db_id.as_str()]);
        assert_own_tags(
            &s,
            &pairs(d.tag_list().iter().map(|t| (t.key(), t.value()))),
            "database.main",
        );

        // The record and the TXT record that claims it.
        let fqdn = format!("www.{}", s.zone);
        let owner = ownership::name(&fqdn, "CNAME");
        let found = records(&aws, &zone_id).await;
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|(n, t, _, _)| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            names,
            [(owner.as_str(), "TXT"), (fqdn.as_str(), "CNAME")],
            "{found:#?}"
        );
        assert_eq!(found[1].2, 300);
        assert_eq!(found[1].3, [dns_name]);
        assert_eq!(found[0].3.len(), 1, "{found:#?}");
        let claim = ownership::parse(&found[0].3[0]).expect("a stackwright claim");
        assert_eq!(
            (
                claim.stack.as_str(),
                claim.env.as_str(),
                claim.address.to_string()
            ),
            (s.name.as_str(), ENV, "dns_record.www".to_string())
        );
        assert!(claim.applied.is_some(), "{claim:?}");
    });

    // The outputs end the apply's report.
    assert!(
        run.stdout.contains("\nOutputs:\n  balancer = "),
        "{}",
        run.shown()
    );
    // The lock is released.
    let lock = format!("stackwright-lock-{}-{ENV}", s.name);
    assert!(rt.block_on(group_named(&aws, &lock)).is_none());
}

#[test]
fn drift_in_each_kind_is_repaired() {
    let s = StackDir::new("repair", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let zone_id = rt.block_on(aws.zone(&s.zone));
    s.apply(&YES);
    s.assert_converged();

    let fqdn = format!("www.{}", s.zone);
    let (web_id, db_id, instances, dns_name) = rt.block_on(async {
        let groups = groups(&aws, &s).await;
        let web_id = groups[&s.physical("web")]
            .group_id()
            .expect("id")
            .to_string();
        let db_id = groups[&s.physical("db")]
            .group_id()
            .expect("id")
            .to_string();
        let instances: Vec<String> = one_per_address(&aws, &s)
            .await
            .values()
            .filter_map(|i| i.instance_id())
            .map(String::from)
            .collect();
        let dns_name = balancer(&aws, &s.physical("web"))
            .await
            .and_then(|b| b.dns_name().map(String::from))
            .expect("DNS name");

        // Someone changes each kind in the console.
        aws.ec2
            .revoke_security_group_ingress()
            .group_id(&web_id)
            .ip_permissions(tcp_from_group(8080, 8080, &db_id))
            .send()
            .await
            .expect("RevokeSecurityGroupIngress");
        aws.ingress(&db_id, vec![tcp_from_cidr(22, "203.0.113.0/24")])
            .await;
        aws.health_check(&s.physical("web"), "HTTP:8080/health", 10, 3, 4, 5)
            .await;
        aws.rds
            .modify_db_instance()
            .db_instance_identifier(s.physical("main"))
            .backup_retention_period(3)
            .apply_immediately(true)
            .send()
            .await
            .expect("ModifyDBInstance");
        aws.ec2
            .delete_tags()
            .resources(&instances[0])
            .tags(aws_sdk_ec2::types::Tag::builder().key("Team").build())
            .send()
            .await
            .expect("DeleteTags");
        aws.ec2
            .modify_instance_attribute()
            .instance_id(&instances[1])
            .instance_type(
                aws_sdk_ec2::types::AttributeValue::builder()
                    .value("t2.large")
                    .build(),
            )
            .send()
            .await
            .expect("ModifyInstanceAttribute");
        aws.upsert(
            &zone_id,
            vec![(fqdn.clone(), RrType::Cname, "elsewhere.example.net".into())],
        )
        .await;
        (web_id, db_id, instances, dns_name)
    });

    let plan = s.plan(&["--detailed-exitcode"], 2);
    let drift = "will be updated in place (drift: changed in AWS, not in the stack)";
    assert_eq!(
        headings(&plan),
        [
            format!("  ~ security_group.db  {drift} [{db_id}]"),
            format!("  ~ security_group.web  {drift} [{web_id}]"),
            format!("  ~ database.main  {drift} [{}]", s.physical("main")),
            format!("  ~ instance.web[0]  {drift} [{}]", instances[0]),
            format!("  ~ instance.web[1]  {drift} [{}]", instances[1]),
            format!("  ~ load_balancer.web  {drift} [{}]", s.physical("web")),
            format!("  ~ dns_record.www  {drift} [{fqdn} CNAME]"),
        ],
        "{plan}"
    );
    let tail: Vec<&str> = plan.trim_end().lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            "Plan: 0 to create, 7 to update, 0 to replace, 0 to destroy.",
            "Note: 7 changes repair drift.",
        ],
        "{plan}"
    );

    let run = s.apply(&YES);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 0 created, 7 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
    s.assert_converged();

    rt.block_on(async {
        let groups = groups(&aws, &s).await;
        let (web, db) = (s.physical("web"), s.physical("db"));
        let names = BTreeMap::from([(web_id.clone(), web.clone()), (db_id.clone(), db.clone())]);
        assert_eq!(
            ingress(&groups[&web], &names),
            [
                format!("tcp 0-65535 from {web}"),
                "tcp 80 from 0.0.0.0/0".to_string(),
                format!("tcp 8080 from {db}"),
            ]
        );
        assert_eq!(
            ingress(&groups[&db], &names),
            [format!("tcp 3306 from {web}")]
        );
        let b = balancer(&aws, &s.physical("web")).await.expect("the ELB");
        let h = b.health_check().expect("health check");
        assert_eq!(
            (
                h.target(),
                h.interval(),
                h.timeout(),
                h.unhealthy_threshold(),
                h.healthy_threshold()
            ),
            ("TCP:80", 30, 5, 2, 2)
        );
        let d = database(&aws, &s.physical("main")).await.expect("the DB");
        assert_eq!(d.backup_retention_period(), Some(7));
        assert_eq!(d.publicly_accessible(), Some(false));
        // Repaired in place: the same instances, no replacement.
        let now = one_per_address(&aws, &s).await;
        let ids: Vec<&str> = now.values().filter_map(|i| i.instance_id()).collect();
        assert_eq!(ids, instances);
        let web1 = &now["instance.web[1]"];
        assert_eq!(web1.instance_type().map(|t| t.as_str()), Some("t2.micro"));
        assert_eq!(
            web1.state().and_then(|s| s.name()).map(|n| n.as_str()),
            Some("running")
        );
        let web0 = pairs(
            now["instance.web[0]"]
                .tags()
                .iter()
                .map(|t| (t.key(), t.value())),
        );
        assert_eq!(
            web0.get("Team").map(String::as_str),
            Some("e2e"),
            "{web0:?}"
        );
        let found = records(&aws, &zone_id).await;
        let record = found
            .iter()
            .find(|(n, t, _, _)| *n == fqdn && t == "CNAME")
            .expect("the record");
        assert_eq!(record.3, [dns_name]);
    });
}

/// Instances registered with a balancer, as many as `var.web_count` says.
fn counted_stack(name: &str, _zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[vars]
web_count = 1

[security_group.web]
description = "web nodes"
ingress = [ {{ protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" }} ]

[load_balancer.web]
availability_zones = ["us-east-1a", "us-east-1b"]
listeners = [ {{ port = 80, protocol = "http", instance_port = 80, instance_protocol = "http" }} ]
instances = ["web"]

[instance.web]
count = "${{var.web_count}}"
ami = "{AMI}"
instance_type = "t2.micro"
security_groups = ["web"]
availability_zones = ["us-east-1a", "us-east-1b"]
"##
    )
}

#[test]
fn scaling_a_counted_instance_up_and_down() {
    let s = StackDir::new("scale", counted_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let set_count = |n: u32| {
        std::fs::write(
            s.path().join("env/test.toml"),
            format!("region = \"us-east-1\"\n\n[vars]\nweb_count = {n}\n"),
        )
        .expect("env file");
    };
    // Each live replica once, and the ids the ELB has registered.
    let look = || {
        rt.block_on(async {
            let live = one_per_address(&aws, &s).await;
            let b = balancer(&aws, &s.physical("web")).await.expect("the ELB");
            let ids: BTreeMap<String, String> = live
                .iter()
                .map(|(a, i)| (a.clone(), i.instance_id().unwrap_or_default().to_string()))
                .collect();
            (ids, registered(&b))
        })
    };
    let values =
        |ids: &BTreeMap<String, String>| -> BTreeSet<String> { ids.values().cloned().collect() };

    let run = s.apply(&YES);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 3 created, 0 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
    s.assert_converged();
    let (one, elb) = look();
    assert_eq!(one.keys().collect::<Vec<_>>(), ["instance.web[0]"]);
    assert_eq!(elb, values(&one));

    set_count(3);
    let plan = s.plan(&[], 0);
    assert_eq!(
        headings(&plan),
        [
            "  + instance.web[1]  will be created".to_string(),
            "  + instance.web[2]  will be created".to_string(),
            format!(
                "  ~ load_balancer.web  will be updated in place [{}]",
                s.physical("web")
            ),
        ],
        "{plan}"
    );
    let run = s.apply(&YES);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 2 created, 1 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
    s.assert_converged();
    let (three, elb) = look();
    assert_eq!(
        three.keys().collect::<Vec<_>>(),
        ["instance.web[0]", "instance.web[1]", "instance.web[2]"]
    );
    assert_eq!(three["instance.web[0]"], one["instance.web[0]"], "kept");
    assert_eq!(elb, values(&three), "all three registered");

    set_count(1);
    let run = s.apply(&YES);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 0 created, 1 updated, 0 replaced, 2 destroyed.",
        "{}",
        run.shown()
    );
    s.assert_converged();
    let (back, elb) = look();
    assert_eq!(back, one, "the first replica is the one kept");
    assert_eq!(elb, values(&one));
    for gone in ["instance.web[1]", "instance.web[2]"] {
        let state = rt.block_on(instance_state(&aws, &three[gone]));
        assert_eq!(state, "terminated", "{gone}");
    }
}

#[test]
fn destroy_leaves_nothing_of_the_stack() {
    let s = StackDir::new("destroy", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let zone_id = rt.block_on(aws.zone(&s.zone));
    s.apply(&YES);
    let instance_ids: Vec<String> = rt.block_on(async {
        one_per_address(&aws, &s)
            .await
            .values()
            .filter_map(|i| i.instance_id())
            .map(String::from)
            .collect()
    });
    assert_eq!(instance_ids.len(), 2);

    let run = s.cli("destroy", &["--yes", "--allow-data-loss"]).expect(0);
    let destroys: Vec<&str> = headings(&run.stdout)
        .into_iter()
        .filter(|h| h.starts_with("  - "))
        .collect();
    assert_eq!(destroys.len(), 8, "{}", run.shown());
    assert_eq!(
        run.summary(),
        "Destroy complete [ELAPSED]: 0 created, 0 updated, 0 replaced, 8 destroyed.",
        "{}",
        run.shown()
    );

    rt.block_on(async {
        assert_eq!(instances(&aws, &s).await, BTreeMap::new());
        for id in &instance_ids {
            assert_eq!(instance_state(&aws, id).await, "terminated", "{id}");
        }
        assert_eq!(groups(&aws, &s).await, BTreeMap::new());
        let keys = key_pairs(&aws, &s).await;
        assert!(keys.is_empty(), "{keys:#?}");
        let left = census(&aws, &s.name, Some(&zone_id)).await;
        assert!(left.is_empty(), "{left:#?}");
        let left = records(&aws, &zone_id).await;
        assert!(left.is_empty(), "{left:#?}");
        // The database went with a final snapshot (the stack does not say otherwise).
        let snapshots = aws
            .rds
            .describe_db_snapshots()
            .db_instance_identifier(s.physical("main"))
            .send()
            .await
            .expect("DescribeDBSnapshots");
        assert_eq!(snapshots.db_snapshots().len(), 1, "{snapshots:#?}");
        let lock = format!("stackwright-lock-{}-{ENV}", s.name);
        assert!(group_named(&aws, &lock).await.is_none());
    });

    let plan = s.plan(&[], 0);
    let creates: Vec<String> = FULL_ADDRESSES
        .iter()
        .map(|a| format!("  + {a}  will be created"))
        .collect();
    assert_eq!(headings(&plan), creates, "{plan}");

    // Nothing left: a second destroy has nothing to do.
    let again = s.cli("destroy", &["--yes"]).expect(0);
    assert_eq!(last_line(&again.stdout), "No changes.", "{}", again.shown());
}

/// A group that opens SSH to the world, and a database.
fn gated_stack(name: &str, zone: &str) -> String {
    format!(
        r##"{}
[database.main]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 10
master_username = "root"
master_password = "${{secret.pw}}"
security_groups = ["ssh"]
"##,
        gated_stack_without_database(name, zone)
    )
}

/// [`gated_stack`] after its database was removed from it.
fn gated_stack_without_database(name: &str, _zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[secrets]
pw = {{ env = "{PW_VAR}" }}

[security_group.ssh]
description = "ssh from anywhere"
ingress = [ {{ protocol = "tcp", ports = "22", cidr = "0.0.0.0/0" }} ]
"##
    )
}

/// Regression (issue 11): `apply` without `--yes` and without a terminal created and then
/// deleted the lock group before refusing. Every refusal now comes before any call that
/// changes AWS: counted at the proxy, only reads reach it.
#[test]
fn refusals_make_no_call_that_changes_aws() {
    let s = StackDir::new("readonly", gated_stack);
    let proxy = emulator::Proxy::start(emulator::endpoint(), &[]);
    let only_reads = |what: &str, args: &[&str]| {
        proxy.reset();
        let out = s.run_with(what, args, &SECRETS, &proxy.endpoint);
        let run = Run::from(format!("{what} {}", args.join(" ")), out).expect(1);
        let stats = proxy.stats();
        let ops = stats["by_operation"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(!ops.is_empty(), "the refusal read AWS first: {stats}");
        let writes: Vec<&String> = ops
            .keys()
            .filter(|op| {
                !["Describe", "List", "Get"]
                    .iter()
                    .any(|r| op.starts_with(r))
            })
            .collect();
        assert!(
            writes.is_empty(),
            "{writes:?} sent before refusing\n{}",
            run.shown()
        );
        run
    };
    let run = only_reads("apply", &["--allow-open"]);
    assert!(run.stderr.contains("without a terminal"), "{}", run.shown());
    let run = only_reads("apply", &["--yes"]);
    assert!(run.stderr.contains("--allow-open"), "{}", run.shown());
}

#[test]
fn gates_refuse_before_anything_changes() {
    let s = StackDir::new("gates", gated_stack);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let lock = format!("stackwright-lock-{}-{ENV}", s.name);
    let nothing_made = |run: &Run| {
        rt.block_on(async {
            assert_eq!(groups(&aws, &s).await, BTreeMap::new(), "{}", run.shown());
            assert!(
                database(&aws, &s.physical("main")).await.is_none(),
                "{}",
                run.shown()
            );
            assert!(group_named(&aws, &lock).await.is_none(), "lock left behind");
        });
    };

    // No terminal to ask on, and no --yes.
    let run = s.cli("apply", &["--allow-open"]).expect(1);
    assert!(run.stderr.contains("without a terminal"), "{}", run.shown());
    assert!(run.stderr.contains("--yes"), "{}", run.shown());
    nothing_made(&run);

    // SSH open to the world, without --allow-open.
    let run = s.cli("apply", &["--yes"]).expect(1);
    assert!(
        run.stderr
            .contains("`security_group.ssh` opens access (security-sensitive): pass --allow-open"),
        "{}",
        run.shown()
    );
    nothing_made(&run);

    // The master password's variable unset.
    let run = s.cli_with("apply", &YES, &[]).expect(1);
    assert!(
        run.stderr
            .contains(&format!("set the environment variable `{PW_VAR}`")),
        "{}",
        run.shown()
    );
    nothing_made(&run);

    s.apply(&YES);
    s.assert_converged();

    // The database removed from the stack: destroying it needs --allow-data-loss.
    s.rewrite(gated_stack_without_database);
    let run = s.cli("apply", &YES).expect(1);
    assert!(
        run.stderr
            .contains("`database.main` can lose data: pass --allow-data-loss"),
        "{}",
        run.shown()
    );
    let status = rt
        .block_on(database(&aws, &s.physical("main")))
        .and_then(|d| d.db_instance_status().map(String::from));
    assert_eq!(status.as_deref(), Some("available"));
    assert!(rt.block_on(group_named(&aws, &lock)).is_none());

    let run = s.apply(&["--yes", "--allow-open", "--allow-data-loss"]);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 0 created, 0 updated, 0 replaced, 1 destroyed.",
        "{}",
        run.shown()
    );
    let left = rt.block_on(census(&aws, &s.name, None));
    assert!(
        !left.keys().any(|a| a.starts_with("database.")),
        "{left:#?}"
    );
    s.assert_converged();
}

/// Two groups, one of them protected; `description` forces replacement.
fn protected_stack(name: &str, description: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

[security_group.keep]
description = "{description}"
prevent_destroy = true

[security_group.other]
description = "other"
"##
    )
}

#[test]
fn prevent_destroy_refuses_destroy_and_replace() {
    let s = StackDir::new("keep", |name, _| protected_stack(name, "kept"));
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    s.apply(&YES);
    let before = rt.block_on(groups(&aws, &s));
    assert_eq!(before.len(), 2);

    let run = s.cli("destroy", &["--yes", "--allow-data-loss"]).expect(1);
    assert!(
        run.stderr
            .contains("`security_group.keep` has `prevent_destroy = true`: refusing to destroy it"),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(groups(&aws, &s)), before, "nothing destroyed");

    // A description is fixed at create: a new one replaces the group.
    s.rewrite(|name, _| protected_stack(name, "kept, renamed"));
    let run = s.cli("apply", &["--yes", "--allow-data-loss"]).expect(1);
    assert!(
        run.stderr
            .contains("`security_group.keep` has `prevent_destroy = true`: refusing to replace it"),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(groups(&aws, &s)), before, "nothing replaced");
}

#[test]
fn prevent_destroy_refuses_when_the_resource_is_removed_from_the_stack() {
    let s = StackDir::new("keepgone", |name, _| protected_stack(name, "kept"));
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    s.apply(&YES);
    let before = rt.block_on(groups(&aws, &s));
    assert_eq!(before.len(), 2);

    s.rewrite(|name, _| {
        format!(
            "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
             [security_group.other]\ndescription = \"other\"\n"
        )
    });
    let run = s.cli("apply", &["--yes", "--allow-data-loss"]).expect(1);
    assert!(
        run.stderr.contains("`security_group.keep`") && run.stderr.contains("prevent_destroy"),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(groups(&aws, &s)), before, "nothing destroyed");
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_once_aws_moved() {
    let s = StackDir::new("saved", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.zone(&s.zone));

    let file = s.path().join("create.plan");
    s.plan(&["--out", file.to_str().expect("path")], 0);
    let run = apply_saved(&file, &YES).expect(0);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 8 created, 0 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
    s.assert_converged();
    let user_data_now = rt.block_on(async {
        let live = one_per_address(&aws, &s).await;
        user_data(&aws, live["instance.web[0]"].instance_id().expect("id")).await
    });
    assert_eq!(
        user_data_now,
        web_user_data(),
        "the secret came from the environment"
    );

    // Drift in two resources, planned and saved; then one of them moves again.
    let (web_id, db_id) = rt.block_on(async {
        let groups = groups(&aws, &s).await;
        let web_id = groups[&s.physical("web")]
            .group_id()
            .expect("id")
            .to_string();
        let db_id = groups[&s.physical("db")]
            .group_id()
            .expect("id")
            .to_string();
        aws.ec2
            .revoke_security_group_ingress()
            .group_id(&web_id)
            .ip_permissions(tcp_from_group(8080, 8080, &db_id))
            .send()
            .await
            .expect("RevokeSecurityGroupIngress");
        aws.health_check(&s.physical("web"), "HTTP:8080/health", 10, 3, 4, 5)
            .await;
        (web_id, db_id)
    });
    let file = s.path().join("repair.plan");
    let plan = s.plan(&["--out", file.to_str().expect("path")], 0);
    assert_eq!(headings(&plan).len(), 2, "{plan}");
    let moved: IpPermission = tcp_from_cidr(80, "0.0.0.0/0");
    rt.block_on(async {
        aws.ec2
            .revoke_security_group_ingress()
            .group_id(&web_id)
            .ip_permissions(moved)
            .send()
            .await
            .expect("RevokeSecurityGroupIngress");
    });
    let snapshot = || {
        rt.block_on(async {
            let groups = groups(&aws, &s).await;
            let names = BTreeMap::from([
                (web_id.clone(), "web".to_string()),
                (db_id.clone(), "db".to_string()),
            ]);
            let rules = ingress(&groups[&s.physical("web")], &names);
            let check = balancer(&aws, &s.physical("web"))
                .await
                .and_then(|b| b.health_check().map(|h| h.target().to_string()));
            (rules, check)
        })
    };
    let before = snapshot();
    assert_eq!(
        before,
        (
            vec!["tcp 0-65535 from web".to_string()],
            Some("HTTP:8080/health".to_string())
        )
    );

    let run = apply_saved(&file, &["--yes"]).expect(1);
    assert!(
        run.stderr.contains(
            "the live state of `security_group.web` has moved since this plan was made; \
             nothing was changed"
        ),
        "{}",
        run.shown()
    );
    assert_eq!(snapshot(), before, "nothing changed, not even the ELB");

    // Planned again, it applies.
    s.apply(&YES);
    s.assert_converged();
}

#[test]
fn output_reads_the_live_outputs() {
    let s = StackDir::new("output", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.zone(&s.zone));

    let run = s.cli("output", &["--json"]).expect(1);
    assert!(
        run.stderr
            .contains("outputs `balancer`, `database` refer to resources that do not exist in AWS"),
        "{}",
        run.shown()
    );

    let applied = s.apply(&YES);
    let (dns_name, address) = rt.block_on(async {
        let b = balancer(&aws, &s.physical("web")).await.expect("the ELB");
        let d = database(&aws, &s.physical("main")).await.expect("the DB");
        (
            b.dns_name().expect("DNS name").to_string(),
            d.endpoint()
                .and_then(|e| e.address())
                .expect("endpoint")
                .to_string(),
        )
    });
    let run = s.cli("output", &["--json"]).expect(0);
    let j: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        j,
        serde_json::json!({ "balancer": dns_name, "database": address }),
        "{}",
        run.shown()
    );
    let run = s.cli("output", &[]).expect(0);
    assert_eq!(
        run.stdout,
        format!("balancer = {dns_name}\ndatabase = {address}\n")
    );
    assert!(
        applied.stdout.ends_with(&format!(
            "\nOutputs:\n  balancer = {dns_name}\n  database = {address}\n"
        )),
        "{}",
        applied.shown()
    );
}

#[test]
fn secrets_never_leave_the_process_but_for_aws() {
    let s = StackDir::new("canary", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.zone(&s.zone));

    let saved = s.path().join("saved.plan");
    let mut runs = vec![
        s.cli("plan", &[]).expect(0),
        s.cli("plan", &["--json"]).expect(0),
        s.cli("plan", &["--out", saved.to_str().expect("path")])
            .expect(0),
        s.cli("apply", &YES).expect(0),
        s.cli("output", &["--json"]).expect(0),
    ];

    // Then an apply that fails half way: a third replica (its user data holds the token)
    // and a group whose name is taken by a group that is not the stack's.
    rt.block_on(aws.group(&s.physical("extra"), "not the stack's", &[]));
    s.rewrite(|name, zone| {
        every_kind(name, zone).replace("count = 2", "count = 3")
            + "\n[security_group.extra]\ndescription = \"extra\"\n"
    });
    let failed = s.cli("apply", &YES).expect(1);
    assert!(
        failed.summary().starts_with("Apply failed [ELAPSED]: "),
        "{}",
        failed.shown()
    );
    assert!(
        failed
            .stdout
            .contains("  failed:  security_group.extra: failed to create security group"),
        "{}",
        failed.shown()
    );
    runs.push(failed);
    runs.push(s.cli("output", &[]).expect(0));
    runs.push(s.cli("plan", &["--deep"]).expect(0));

    // AWS, and only AWS, got the real token: the replicas of both applies.
    let in_aws = rt.block_on(async {
        let live = one_per_address(&aws, &s).await;
        let mut data = Vec::new();
        for instance in live.values() {
            data.push(user_data(&aws, instance.instance_id().expect("id")).await);
        }
        data
    });
    assert_eq!(in_aws, [web_user_data(), web_user_data(), web_user_data()]);

    runs.push(s.cli("destroy", &["--yes", "--allow-data-loss"]).expect(0));

    let b64 = aws_smithy_types::base64::encode(web_user_data());
    let saved_text = std::fs::read_to_string(&saved).expect("saved plan");
    let mut seen: Vec<(String, &str)> = vec![("saved plan".into(), saved_text.as_str())];
    for run in &runs {
        seen.push((format!("{}: stdout", run.what), &run.stdout));
        seen.push((format!("{}: stderr", run.what), &run.stderr));
    }
    for (what, output) in &seen {
        for canary in [PW, TOKEN, b64.as_str()] {
            assert!(
                !output.contains(canary),
                "{what} holds {canary:?}:\n{output}"
            );
        }
    }
    // The group that was not the stack's is still there.
    assert!(
        rt.block_on(group_named(&aws, &s.physical("extra")))
            .is_some()
    );
}

/// One A record, `www`, in the stack's zone.
fn record_stack(name: &str, zone: &str) -> String {
    format!(
        r##"[stack]
name = "{name}"
region = "us-east-1"

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
fn a_record_claimed_by_another_stack_is_not_taken_over() {
    let s = StackDir::new("takeover", record_stack);
    let other = emulator::unique("owner");
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let fqdn = format!("www.{}", s.zone);
    let zone_id = rt.block_on(async {
        let zone_id = aws.zone(&s.zone).await;
        aws.owned_record(
            &zone_id,
            (&fqdn, RrType::A, "198.51.100.7"),
            (&other, ENV, "dns_record.www"),
        )
        .await;
        zone_id
    });
    let before = rt.block_on(records(&aws, &zone_id));

    let run = s.cli("apply", &YES).expect(1);
    assert!(
        run.stdout.contains("  failed:  dns_record.www: "),
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(records(&aws, &zone_id)), before, "untouched");
}

#[test]
fn a_balancer_of_another_stack_deleted_during_refresh_is_no_error() {
    let s = StackDir::new("elbrace", |name, _| lock_stack(name, false));
    let doomed = emulator::unique("doomed");
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.balancer(&doomed, &own_tags(&doomed, ENV, "load_balancer.web"), &[]));
    // Every request waits a second in the proxy after it is counted: once DescribeTags is
    // counted, the balancers it names were listed, and it reaches the emulator only after
    // the balancer is gone.
    let proxy = emulator::Proxy::start(emulator::endpoint(), &["--latency-ms", "1000"]);
    let child = stackwright(&proxy.endpoint)
        .arg("apply")
        .arg(s.path())
        .args(["--env", ENV, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run stackwright");
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.stats()["by_operation"]["DescribeTags"].as_u64() < Some(1) {
        assert!(
            Instant::now() < deadline,
            "no DescribeTags: {}",
            proxy.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.block_on(async {
        aws.elb
            .delete_load_balancer()
            .load_balancer_name(&doomed)
            .send()
            .await
            .expect("DeleteLoadBalancer")
    });
    let out = child.wait_with_output().expect("wait");
    let run = Run::from("apply --yes (through a slow proxy)".into(), out).expect(0);
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 1 created, 0 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
}

/// One group; `extra` adds a second.
fn lock_stack(name: &str, extra: bool) -> String {
    let mut out = format!(
        "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
         [security_group.web]\ndescription = \"web nodes\"\n"
    );
    if extra {
        out.push_str("\n[security_group.extra]\ndescription = \"added later\"\n");
    }
    out
}

#[test]
fn a_held_lock_stops_apply_until_released() {
    let s = StackDir::new("lock", |name, _| lock_stack(name, false));
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let lock = format!("stackwright-lock-{}-{ENV}", s.name);
    let holder = [
        ("stackwright:lock".to_string(), format!("{}/{ENV}", s.name)),
        (
            "stackwright:lock-holder".to_string(),
            "someone@otherhost pid 1".to_string(),
        ),
        (
            "stackwright:lock-since".to_string(),
            "2026-01-01T00:00:00Z".to_string(),
        ),
        ("stackwright:lock-run".to_string(), "x".to_string()),
    ];
    rt.block_on(aws.group(&lock, "held by another run", &holder));

    let started = Instant::now();
    let run = s.cli("apply", &YES).expect(1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed at once: {:?}",
        started.elapsed()
    );
    assert!(
        run.stderr.contains(&format!(
            "stack `{}` env `{ENV}` is locked by someone@otherhost",
            s.name
        )),
        "{}",
        run.shown()
    );
    assert_eq!(
        rt.block_on(groups(&aws, &s)),
        BTreeMap::new(),
        "nothing made"
    );
    assert!(
        rt.block_on(group_named(&aws, &lock)).is_some(),
        "still held"
    );

    let run = s.cli("unlock", &[]).expect(0);
    assert!(
        run.stdout.contains("held by someone@otherhost"),
        "{}",
        run.shown()
    );
    assert!(rt.block_on(group_named(&aws, &lock)).is_none(), "broken");
    let run = s.cli("unlock", &[]).expect(0);
    assert!(run.stdout.contains("is not locked"), "{}", run.shown());

    s.apply(&YES);
    s.assert_converged();
    assert!(rt.block_on(group_named(&aws, &lock)).is_none(), "released");

    // Held again; released by its holder three seconds into an apply that waits.
    let id = rt.block_on(aws.group(&lock, "held by another run", &holder));
    s.rewrite(|name, _| lock_stack(name, true));
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        let rt = runtime();
        rt.block_on(async {
            let aws = Aws::connect().await;
            aws.ec2
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .expect("DeleteSecurityGroup");
        });
    });
    let started = Instant::now();
    let run = s.apply(&["--yes", "--allow-open", "--lock-timeout", "20s"]);
    let waited = started.elapsed();
    releaser.join().expect("releaser");
    assert!(
        waited >= Duration::from_secs(3),
        "{waited:?}\n{}",
        run.shown()
    );
    assert!(
        run.stderr
            .contains("waiting for the lock held by someone@otherhost"),
        "{}",
        run.shown()
    );
    assert_eq!(
        run.summary(),
        "Apply complete [ELAPSED]: 1 created, 0 updated, 0 replaced, 0 destroyed.",
        "{}",
        run.shown()
    );
    assert_eq!(rt.block_on(groups(&aws, &s)).len(), 2);
    assert!(rt.block_on(group_named(&aws, &lock)).is_none(), "released");
}

/// Issue 13: a saved plan is a promise. A plan file whose stack was edited (a secret read
/// from another variable: the AWS secret key would become the database password) is
/// refused before anything is sent; a plan saved with `--deep` can be applied.
#[test]
fn an_edited_plan_file_is_refused_and_a_deep_plan_applies() {
    let s = StackDir::new("promise", every_kind);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    rt.block_on(aws.zone(&s.zone));

    let file = s.path().join("create.plan");
    s.plan(&["--out", file.to_str().expect("path")], 0);
    let text = std::fs::read_to_string(&file).expect("plan");
    assert!(
        text.contains(PW_VAR),
        "the secret's variable is in the file"
    );
    let edited = s.path().join("edited.plan");
    std::fs::write(&edited, text.replace(PW_VAR, "AWS_SECRET_ACCESS_KEY")).expect("write");
    let run = apply_saved(&edited, &YES).expect(1);
    assert!(
        run.stderr
            .contains("the stack in the saved plan is not the stack in"),
        "{}",
        run.shown()
    );
    assert_eq!(
        rt.block_on(groups(&aws, &s)),
        BTreeMap::new(),
        "nothing was made"
    );

    // Applied; then the instances resized in the stack, planned with --deep and saved.
    apply_saved(&file, &YES).expect(0);
    let stack = std::fs::read_to_string(s.path().join("stack.toml")).expect("stack");
    assert!(stack.contains("t2.micro"), "{stack}");
    std::fs::write(
        s.path().join("stack.toml"),
        stack.replace("t2.micro", "t2.small"),
    )
    .expect("rewrite");
    let deep = s.path().join("deep.plan");
    // --deep reads user data, so it needs the secrets, to hide them.
    s.cli("plan", &["--deep", "--out", deep.to_str().expect("path")])
        .expect(0);
    let run = apply_saved(&deep, &YES).expect(0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.shown());
}

/// `stackwright COMMAND DIR --env ENV ARGS` against `endpoint`.
fn command_env(dir: &Path, env: &str, command: &str, args: &[&str], endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackwright"));
    cmd.arg(command)
        .arg(dir)
        .args(["--env", env])
        .args(args)
        .envs(aws_env_at(endpoint))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("NO_COLOR", "1");
    cmd
}

/// The same, run against the emulator: exit code, stdout, stderr.
fn run_env(dir: &Path, env: &str, command: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = command_env(dir, env, command, args, emulator::endpoint())
        .output()
        .expect("run stackwright");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A stack called `name` with the env `env`, in a temporary directory.
fn lock_stack_dir(name: &str, env: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("env")).expect("env directory");
    std::fs::write(dir.path().join("stack.toml"), lock_stack(name, false)).expect("stack");
    std::fs::write(
        dir.path().join(format!("env/{env}.toml")),
        "region = \"us-east-1\"\n",
    )
    .expect("env file");
    dir
}

/// The id of the group tagged as the lock of `stack_env` (`<stack>/<env>`), whatever its name.
async fn lock_tagged(aws: &Aws, stack_env: &str) -> Option<String> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("tag:stackwright:lock")
                .values(stack_env)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups");
    out.security_groups()
        .first()
        .map(|g| g.group_id().unwrap_or_default().to_string())
}

#[test]
fn stacks_whose_names_joined_alike_get_distinct_locks_and_unlock_breaks_only_its_own() {
    // Issue 13: stack `X-b` env `c` and stack `X` env `b-c` had one lock,
    // `stackwright-lock-X-b-c`: unlocking one broke the other's live lock.
    let base = emulator::unique("lockpair");
    let (one, one_env) = (format!("{base}-b"), "c");
    let (two, two_env) = (base.clone(), "b-c");
    let one_dir = lock_stack_dir(&one, one_env);
    let two_dir = lock_stack_dir(&two, two_env);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let two_lock = format!("stackwright-lock-{base}-b--c");
    assert_ne!(two_lock, format!("stackwright-lock-{base}--b-c"));

    // Stack one applies, slowly (every call through a proxy that waits), holding its lock.
    let proxy = Proxy::start(emulator::endpoint(), &["--latency-ms", "400"]);
    let apply_one = command_env(
        one_dir.path(),
        one_env,
        "apply",
        &["--yes"],
        &proxy.endpoint,
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("apply one");
    let deadline = Instant::now() + Duration::from_secs(30);
    let one_lock = loop {
        if let Some(id) = rt.block_on(lock_tagged(&aws, &format!("{one}/{one_env}"))) {
            break id;
        }
        assert!(Instant::now() < deadline, "stack one never took its lock");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Meanwhile stack two is not locked, and unlocking it leaves stack one's lock alone.
    let (code, stdout, stderr) = run_env(two_dir.path(), two_env, "unlock", &[]);
    let one_still_locked = rt.block_on(lock_tagged(&aws, &format!("{one}/{one_env}")));
    let one_out = apply_one.wait_with_output().expect("apply one");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("is not locked"), "{stdout}{stderr}");
    assert_eq!(
        one_still_locked,
        Some(one_lock),
        "unlock of two broke one's lock"
    );
    assert_eq!(one_out.status.code(), Some(0), "{}", text(&one_out.stderr));
    // Stack two applies under a lock of its own, released at the end.
    let (code, stdout, stderr) = run_env(two_dir.path(), two_env, "apply", &["--yes"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        rt.block_on(group_named(&aws, &two_lock)).is_none(),
        "two's lock kept"
    );

    let held_by = |tag: String, holder: String| {
        vec![
            ("stackwright:lock".to_string(), tag),
            ("stackwright:lock-holder".to_string(), holder),
            (
                "stackwright:lock-since".to_string(),
                "2026-01-01T00:00:00Z".to_string(),
            ),
            ("stackwright:lock-run".to_string(), "x".to_string()),
        ]
    };
    // A group at stack two's lock name whose tags say it is another stack's lock: refused.
    let id = rt.block_on(aws.group(
        &two_lock,
        "not two's lock",
        &held_by("other/env".into(), "someone@otherhost pid 1".into()),
    ));
    let (code, stdout, stderr) = run_env(two_dir.path(), two_env, "unlock", &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("its tags say it is the lock of `other/env`"),
        "{stderr}"
    );
    assert!(
        rt.block_on(group_named(&aws, &two_lock)).is_some(),
        "deleted anyway"
    );
    rt.block_on(async {
        aws.ec2
            .delete_security_group()
            .group_id(&id)
            .send()
            .await
            .expect("DeleteSecurityGroup");
    });

    // Stack two's own lock, held by a process that runs on this machine (this test): refused.
    let me = stackwright::provider::aws::lock::Holder::me("x");
    rt.block_on(aws.group(
        &two_lock,
        "held by a live run here",
        &held_by(
            format!("{two}/{two_env}"),
            format!("{} pid {}", me.who, me.pid),
        ),
    ));
    let (code, stdout, stderr) = run_env(two_dir.path(), two_env, "unlock", &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("which is still running on this machine"),
        "{stderr}"
    );
    assert!(
        rt.block_on(group_named(&aws, &two_lock)).is_some(),
        "a live lock broken"
    );

    // Cleaned up: the lock held by this test, then both stacks.
    let group = rt
        .block_on(group_named(&aws, &two_lock))
        .expect("two's lock");
    rt.block_on(async {
        aws.ec2
            .delete_security_group()
            .group_id(group.group_id().expect("id"))
            .send()
            .await
            .expect("DeleteSecurityGroup");
    });
    let (code, stdout, stderr) = run_env(one_dir.path(), one_env, "destroy", &["--yes"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, stderr) = run_env(two_dir.path(), two_env, "destroy", &["--yes"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

/// Issue 13: a security group that has the lock's name but is not a lock (no
/// `stackwright:lock` tag) is said to be so, at once; it is neither waited for nor deleted.
#[test]
fn a_group_with_the_locks_name_that_is_no_lock_is_said_to_be_so() {
    let s = StackDir::new("notalock", |name, _| lock_stack(name, false));
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let lock = format!("stackwright-lock-{}-{ENV}", s.name);
    rt.block_on(aws.group(&lock, "somebody's group", &[]));
    let run = s
        .cli("apply", &[&YES[..], &["--lock-timeout", "30s"]].concat())
        .expect(1);
    assert!(
        run.stderr.contains("exists and is not a stackwright lock"),
        "{}",
        run.shown()
    );
    assert!(
        !run.stderr.contains("waiting for the lock"),
        "{}",
        run.shown()
    );
    assert!(
        rt.block_on(group_named(&aws, &lock)).is_some(),
        "somebody's group is left alone"
    );
    assert_eq!(
        rt.block_on(groups(&aws, &s)),
        BTreeMap::new(),
        "nothing made"
    );
}

/// Issue 13: two stacks whose physical names collide get an error at plan time naming the
/// other stack, not a half-applied run.
#[test]
fn a_name_another_stack_holds_is_refused_at_plan_time_naming_it() {
    let first = StackDir::new("holder", |name, _| lock_stack(name, false));
    first.apply(&YES);
    let taken = first.physical("web");
    let second = StackDir::new("clash", move |name, _| {
        format!(
            "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
             [security_group.own]\ndescription = \"free\"\n\n\
             [security_group.web]\ndescription = \"taken\"\nname = \"{taken}\"\n"
        )
    });
    let run = second.cli("plan", &[]).expect(1);
    assert!(
        run.stderr.contains(&format!(
            "`security_group.web` would be named `{}`, which stack `{}` env `{ENV}` (its \
             `security_group.web`) already has",
            first.physical("web"),
            first.name
        )),
        "{}",
        run.shown()
    );
    let run = second.cli("apply", &YES).expect(1);
    assert!(run.stderr.contains("names are taken"), "{}", run.shown());
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    assert_eq!(
        rt.block_on(groups(&aws, &second)),
        BTreeMap::new(),
        "nothing of the second stack was made"
    );
}

/// Issue 13: `apply --rotate-secret pw` with a new value sends it to the database in place
/// (one ModifyDBInstance, carrying MasterUserPassword; no create, no delete) and prints
/// neither the old value nor the new. moto does not return a password, so what was sent is
/// seen at the proxy: counted, and echoed back by an error that stackwright must mask.
#[test]
fn rotating_a_secret_changes_the_database_password_in_place() {
    const OLD: &str = "canary-rotate-old-8a41c2";
    const NEW: &str = "canary-rotate-new-0f3b9d";
    let s = StackDir::new("rotate", gated_stack);
    let first = s.cli_with("apply", &YES, &[(PW_VAR, OLD)]).expect(0);
    let rt = runtime();
    let aws = rt.block_on(Aws::connect());
    let before = rt
        .block_on(database(&aws, &s.physical("main")))
        .expect("the database");

    let rotate = [YES[0], YES[1], "--rotate-secret", "pw"];
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let out = s.run_with("apply", &rotate, &[(PW_VAR, NEW)], &proxy.endpoint);
    let run = Run::from("apply --rotate-secret pw".into(), out).expect(0);
    assert!(
        run.stdout
            .contains("master_password : (sensitive) -> (sensitive) (rotating secret `pw`)"),
        "{}",
        run.shown()
    );
    assert!(
        run.stdout.contains("will be updated in place"),
        "{}",
        run.shown()
    );
    let ops = proxy.stats()["by_operation"].clone();
    assert_eq!(ops["ModifyDBInstance"], 1, "{ops}");
    for op in ["CreateDBInstance", "DeleteDBInstance"] {
        assert!(ops.get(op).is_none(), "{op} sent: {ops}");
    }
    let after = rt
        .block_on(database(&aws, &s.physical("main")))
        .expect("the database");
    assert_eq!(
        after.dbi_resource_id(),
        before.dbi_resource_id(),
        "the same one"
    );
    assert_eq!(after.instance_create_time(), before.instance_create_time());

    // What ModifyDBInstance carried, echoed by an error as AWS sometimes does: the new
    // password was in it, and is masked in what is printed.
    let echo = Proxy::start(emulator::endpoint(), &["--echo-error", "ModifyDBInstance"]);
    let out = s.run_with("apply", &rotate, &[(PW_VAR, NEW)], &echo.endpoint);
    let failed = Run::from("apply --rotate-secret pw (echoed)".into(), out).expect(1);
    let shown = failed.shown();
    assert!(shown.contains("MasterUserPassword"), "{shown}");
    for run in [&first, &run, &failed] {
        for value in [OLD, NEW] {
            assert!(
                !run.shown().contains(value),
                "{value} printed\n{}",
                run.shown()
            );
        }
    }

    // Refused before anything is sent: a secret the stack does not have, one given with
    // a saved plan.
    echo.reset();
    let out = s.run_with(
        "apply",
        &[YES[0], YES[1], "--rotate-secret", "nope"],
        &[(PW_VAR, NEW)],
        &echo.endpoint,
    );
    let refused = Run::from("apply --rotate-secret nope".into(), out).expect(1);
    assert!(
        refused.stderr.contains("has no secret `nope`")
            && refused.stderr.contains("the stack's secrets: `pw`"),
        "{}",
        refused.shown()
    );
    assert_eq!(echo.stats()["total"], 0, "{}", echo.stats());
    let file = s.path().join("saved.plan");
    s.plan(&["--out", file.to_str().unwrap()], 0);
    let saved = apply_saved(&file, &["--yes", "--rotate-secret", "pw"]).expect(1);
    assert!(
        saved.stderr.contains("not kept in a saved plan"),
        "{}",
        saved.shown()
    );
}
