//! The emulator's AWS through the real SDK clients, as the tests build and read it by
//! hand: resources with or without stackwright's tags, records, and the runtime to call
//! them from a test.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::types::{
    InstanceType, IpPermission, IpRange, Placement, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use stackwright::provider::ownership;

use crate::emulator;
use crate::plan::{AMI, PUBLIC_KEY};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The three contract tags of `address` in `stack`/`env`.
pub(crate) fn own_tags(stack: &str, env: &str, address: &str) -> Vec<(String, String)> {
    vec![
        ("stackwright:stack".into(), stack.into()),
        ("stackwright:env".into(), env.into()),
        ("stackwright:address".into(), address.into()),
    ]
}

fn ec2_tags(kind: ResourceType, tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

pub(crate) fn tcp_from_cidr(port: i32, cidr: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        .build()
}

pub(crate) fn tcp_from_group(from: i32, to: i32, group: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(from)
        .to_port(to)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
        .build()
}

/// What an instance is launched with.
pub(crate) struct Launch<'a> {
    pub(crate) zone: &'a str,
    pub(crate) instance_type: &'a str,
    pub(crate) key_name: Option<&'a str>,
    pub(crate) groups: Vec<&'a str>,
    pub(crate) user_data: Option<&'a str>,
    pub(crate) tags: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Aws {
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) elb: aws_sdk_elasticloadbalancing::Client,
    pub(crate) rds: aws_sdk_rds::Client,
    pub(crate) route53: aws_sdk_route53::Client,
}

impl Aws {
    /// The SDK configuration every client here uses: the emulator, us-east-1, its dummy
    /// credentials.
    pub(crate) async fn config() -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(emulator::endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await
    }

    pub(crate) async fn connect() -> Aws {
        let config = Aws::config().await;
        Aws {
            ec2: aws_sdk_ec2::Client::new(&config),
            elb: aws_sdk_elasticloadbalancing::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            route53: aws_sdk_route53::Client::new(&config),
        }
    }

    pub(crate) async fn group(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> String {
        let mut request = self
            .ec2
            .create_security_group()
            .group_name(name)
            .description(description);
        if !tags.is_empty() {
            request = request.tag_specifications(ec2_tags(ResourceType::SecurityGroup, tags));
        }
        let out = request.send().await.expect("CreateSecurityGroup");
        out.group_id().expect("group id").to_string()
    }

    pub(crate) async fn ingress(&self, group: &str, rules: Vec<IpPermission>) {
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(rules))
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress");
    }

    pub(crate) async fn key_pair(&self, name: &str, tags: &[(String, String)]) {
        self.ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_sdk_ec2::primitives::Blob::new(PUBLIC_KEY.as_bytes()))
            .tag_specifications(ec2_tags(ResourceType::KeyPair, tags))
            .send()
            .await
            .expect("ImportKeyPair");
    }

    pub(crate) async fn instance(&self, launch: Launch<'_>) -> String {
        let mut request = self
            .ec2
            .run_instances()
            .image_id(AMI)
            .instance_type(InstanceType::from(launch.instance_type))
            .min_count(1)
            .max_count(1)
            .placement(Placement::builder().availability_zone(launch.zone).build())
            .set_security_group_ids(Some(launch.groups.iter().map(|g| g.to_string()).collect()))
            // As stackwright launches (secure defaults, issue 16): IMDSv2 tokens required.
            // (The root volume's encryption is not read back, so not given here.)
            .metadata_options(
                aws_sdk_ec2::types::InstanceMetadataOptionsRequest::builder()
                    .http_tokens(aws_sdk_ec2::types::HttpTokensState::Required)
                    .build(),
            );
        // Untagged, as built by hand (issue 15): AWS refuses an empty tag specification.
        if !launch.tags.is_empty() {
            request = request.tag_specifications(ec2_tags(ResourceType::Instance, &launch.tags));
        }
        if let Some(key) = launch.key_name {
            request = request.key_name(key);
        }
        if let Some(text) = launch.user_data {
            // RunInstances takes user data base64-encoded (the CLIs do it for you).
            request = request.user_data(aws_smithy_types::base64::encode(text));
        }
        let out = request.send().await.expect("RunInstances");
        out.instances()[0]
            .instance_id()
            .expect("instance id")
            .to_string()
    }

    pub(crate) async fn tag_ec2(&self, id: &str, key: &str, value: &str) {
        self.ec2
            .create_tags()
            .resources(id)
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .expect("CreateTags");
    }

    /// A classic ELB with the stack's listener and health check; its DNS name.
    pub(crate) async fn balancer(
        &self,
        name: &str,
        tags: &[(String, String)],
        instances: &[String],
    ) -> String {
        use aws_sdk_elasticloadbalancing::types as elb;
        let out = self
            .elb
            .create_load_balancer()
            .load_balancer_name(name)
            .availability_zones("us-east-1a")
            .availability_zones("us-east-1b")
            .listeners(
                elb::Listener::builder()
                    .protocol("HTTP")
                    .load_balancer_port(80)
                    .instance_protocol("HTTP")
                    .instance_port(80)
                    .build()
                    .expect("listener"),
            )
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| elb::Tag::builder().key(k).value(v).build().expect("tag"))
                    .collect(),
            ))
            .send()
            .await
            .expect("CreateLoadBalancer");
        self.health_check(name, "TCP:80", 30, 5, 2, 2).await;
        if !instances.is_empty() {
            self.elb
                .register_instances_with_load_balancer()
                .load_balancer_name(name)
                .set_instances(Some(
                    instances
                        .iter()
                        .map(|i| elb::Instance::builder().instance_id(i).build())
                        .collect(),
                ))
                .send()
                .await
                .expect("RegisterInstancesWithLoadBalancer");
        }
        out.dns_name().expect("DNS name").to_string()
    }

    pub(crate) async fn health_check(
        &self,
        name: &str,
        target: &str,
        interval: i32,
        timeout: i32,
        unhealthy: i32,
        healthy: i32,
    ) {
        self.elb
            .configure_health_check()
            .load_balancer_name(name)
            .health_check(
                aws_sdk_elasticloadbalancing::types::HealthCheck::builder()
                    .target(target)
                    .interval(interval)
                    .timeout(timeout)
                    .unhealthy_threshold(unhealthy)
                    .healthy_threshold(healthy)
                    .build()
                    .expect("health check"),
            )
            .send()
            .await
            .expect("ConfigureHealthCheck");
    }

    /// A MySQL database as [`full_stack`] describes it; its ARN.
    pub(crate) async fn database(
        &self,
        identifier: &str,
        group: &str,
        tags: &[(String, String)],
    ) -> String {
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(identifier)
            .engine("mysql")
            .db_instance_class("db.t3.micro")
            .allocated_storage(10)
            .master_username("root")
            .master_user_password("not-the-canary")
            .vpc_security_group_ids(group)
            .backup_retention_period(7)
            .multi_az(false)
            .publicly_accessible(false)
            .deletion_protection(false)
            .storage_encrypted(true)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .expect("CreateDBInstance");
        out.db_instance()
            .and_then(|d| d.db_instance_arn())
            .expect("database ARN")
            .to_string()
    }

    /// A public hosted zone; its id.
    pub(crate) async fn zone(&self, name: &str) -> String {
        let out = self
            .route53
            .create_hosted_zone()
            .name(name)
            .caller_reference(name)
            .send()
            .await
            .expect("CreateHostedZone");
        out.hosted_zone().expect("zone").id().to_string()
    }

    pub(crate) async fn upsert(&self, zone_id: &str, sets: Vec<(String, RrType, String)>) {
        let changes = sets
            .into_iter()
            .map(|(name, t, value)| {
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(
                        ResourceRecordSet::builder()
                            .name(name)
                            .r#type(t)
                            .ttl(300)
                            .resource_records(
                                ResourceRecord::builder()
                                    .value(value)
                                    .build()
                                    .expect("record"),
                            )
                            .build()
                            .expect("record set"),
                    )
                    .build()
                    .expect("change")
            })
            .collect();
        self.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .expect("batch"),
            )
            .send()
            .await
            .expect("ChangeResourceRecordSets");
    }

    /// A record and its ownership TXT record, claiming it for `stack`/`env`/`address`.
    pub(crate) async fn owned_record(
        &self,
        zone_id: &str,
        (fqdn, t, value): (&str, RrType, &str),
        (stack, env, address): (&str, &str, &str),
    ) {
        let owner = ownership::name(fqdn, t.as_str());
        let claim = ownership::value(stack, env, &address.parse().expect("address"));
        self.upsert(
            zone_id,
            vec![
                (fqdn.to_string(), t, value.to_string()),
                (owner, RrType::Txt, format!("\"{claim}\"")),
            ],
        )
        .await;
    }
}
