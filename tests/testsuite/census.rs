//! What of a stack is in "AWS": every address's resources, found through the real SDK by
//! the contract's tags and, for records, by their claims.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use aws_sdk_route53::types::RrType;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackwright::provider::ownership;

use crate::plan::{Aws, ENV};

/// Every address's AWS ids, found by tags (instances not terminated, databases not being
/// deleted) and, for records, by their claims in `zone_id`. Other tests create and delete
/// resources at the same time, so a balancer gone between the listing and its tags is
/// skipped, not an error.
pub(crate) async fn census(
    aws: &Aws,
    stack: &str,
    zone_id: Option<&str>,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let ours = |tags: Vec<(String, String)>| -> Option<String> {
        let get = |k: &str| {
            tags.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        (get("stackwright:stack").as_deref() == Some(stack)
            && get("stackwright:env").as_deref() == Some(ENV))
        .then(|| get("stackwright:address"))
        .flatten()
    };
    let pairs = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let by_stack = Filter::builder()
        .name("tag:stackwright:stack")
        .values(stack)
        .build();
    let instances = aws
        .ec2
        .describe_instances()
        .filters(by_stack.clone())
        .send()
        .await
        .expect("DescribeInstances");
    for i in instances.reservations().iter().flat_map(|r| r.instances()) {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string());
        if matches!(state.as_deref(), Some("terminated" | "shutting-down")) {
            continue;
        }
        if let Some(a) = ours(pairs(i.tags())) {
            out.entry(a)
                .or_default()
                .push(i.instance_id().unwrap_or_default().into());
        }
    }
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(by_stack.clone())
        .send()
        .await
        .expect("DescribeSecurityGroups");
    for g in groups.security_groups() {
        if let Some(a) = ours(pairs(g.tags())) {
            out.entry(a)
                .or_default()
                .push(g.group_id().unwrap_or_default().into());
        }
    }
    let keys = aws
        .ec2
        .describe_key_pairs()
        .filters(by_stack)
        .send()
        .await
        .expect("DescribeKeyPairs");
    for k in keys.key_pairs() {
        if let Some(a) = ours(pairs(k.tags())) {
            out.entry(a)
                .or_default()
                .push(k.key_name().unwrap_or_default().into());
        }
    }
    let balancers = aws
        .elb
        .describe_load_balancers()
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let names: Vec<String> = balancers
        .load_balancer_descriptions()
        .iter()
        .filter_map(|b| b.load_balancer_name().map(String::from))
        .collect();
    for name in &names {
        let tags = match aws
            .elb
            .describe_tags()
            .load_balancer_names(name)
            .send()
            .await
        {
            Ok(tags) => tags,
            Err(e) if ProvideErrorMetadata::code(&e) == Some("LoadBalancerNotFound") => continue,
            Err(e) => panic!("DescribeTags: {e:?}"),
        };
        for d in tags.tag_descriptions() {
            let t = d
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            if let Some(a) = ours(t) {
                out.entry(a).or_default().push(name.clone());
            }
        }
    }
    let databases = aws
        .rds
        .describe_db_instances()
        .send()
        .await
        .expect("DescribeDBInstances");
    for d in databases.db_instances() {
        if d.db_instance_status() == Some("deleting") {
            continue;
        }
        let t = d
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if let Some(a) = ours(t) {
            out.entry(a)
                .or_default()
                .push(d.db_instance_identifier().unwrap_or_default().into());
        }
    }
    let Some(zone_id) = zone_id else {
        return out;
    };
    let records = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .expect("ListResourceRecordSets");
    for set in records.resource_record_sets() {
        if set.r#type() != &RrType::Txt {
            continue;
        }
        for claim in set
            .resource_records()
            .iter()
            .filter_map(|r| ownership::parse(r.value()))
        {
            if claim.stack == stack && claim.env == ENV {
                out.entry(claim.address.to_string())
                    .or_default()
                    .push(set.name().to_string());
            }
        }
    }
    out
}
