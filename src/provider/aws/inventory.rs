//! Every stackwright resource in one region, whatever its stack: `stackwright ls`.
//!
//! Batched like refresh, never one call per resource: a tag-key-filtered, paginated
//! `DescribeInstances`, `DescribeSecurityGroups` (the locks are security groups too, so
//! the same call finds them) and `DescribeKeyPairs`; `DescribeLoadBalancers` plus
//! `DescribeTags` per 20 balancers; `DescribeDBInstances` (tags inline). Route 53 records
//! carry no tags and are not read: a stack's records go with its other resources.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::{Aws, Tagged};
use crate::provider::inventory::{Found, Inventory};
use crate::provider::{ProviderError, Scope, TAG_ENV, TAG_EXPIRES, TAG_STACK};

/// The lock group's tag (see `lock`): `stackwright:lock = <stack>/<env>`.
const TAG_LOCK: &str = "stackwright:lock";
/// Instances in these states are the stack's (terminated ones are not).
const LIVE_STATES: [&str; 5] = ["pending", "running", "stopping", "stopped", "shutting-down"];

/// An SDK time as RFC 3339 UTC, to the second.
fn rfc3339(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    let t = std::time::SystemTime::try_from(*t?).ok()?;
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

impl Tagged {
    /// The stack and env these tags name, with `created` and the expiry.
    fn found(&self, created: Option<String>) -> Option<Found> {
        Some(Found {
            stack: self.tags.get(TAG_STACK)?.clone(),
            env: self.tags.get(TAG_ENV)?.clone(),
            created,
            expires: self.tags.get(TAG_EXPIRES).cloned(),
        })
    }
}

fn ec2_tagged(tags: &[aws_sdk_ec2::types::Tag]) -> Tagged {
    Tagged::new(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

impl Aws {
    /// Every resource tagged with a stack and env in this region, and the locks held.
    pub async fn inventory(&self) -> Result<Inventory, ProviderError> {
        let scope = Scope {
            stack: "*".into(),
            ..Scope::default()
        };
        let (ec2, elb, rds) = tokio::join!(
            self.inventory_ec2(&scope),
            self.inventory_elb(&scope),
            self.inventory_rds(&scope)
        );
        let mut inventory = ec2?;
        inventory.resources.extend(elb?);
        inventory.resources.extend(rds?);
        Ok(inventory)
    }

    async fn inventory_ec2(&self, scope: &Scope) -> Result<Inventory, ProviderError> {
        let ours = || Filter::builder().name("tag-key").values(TAG_STACK).build();
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
            .build();
        let instances = self
            .ec2
            .describe_instances()
            .filters(ours())
            .filters(state)
            .max_results(1000)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "list instances", e))?;
        let groups = self
            .ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("tag-key")
                    .values(TAG_STACK)
                    .values(TAG_LOCK)
                    .build(),
            )
            .max_results(1000)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "list security groups", e))?;
        let keys = self
            .ec2
            .describe_key_pairs()
            .filters(ours())
            .send()
            .await
            .map_err(|e| self.error(scope, "list key pairs", e))?;
        let mut out = Inventory::default();
        for i in instances
            .iter()
            .flat_map(|p| p.reservations())
            .flat_map(|r| r.instances())
        {
            out.resources
                .extend(ec2_tagged(i.tags()).found(rfc3339(i.launch_time())));
        }
        for g in groups.iter().flat_map(|p| p.security_groups()) {
            let tagged = ec2_tagged(g.tags());
            if let Some(lock) = tagged.tags.get(TAG_LOCK) {
                if let Some((stack, env)) = lock.split_once('/') {
                    out.locks.push((stack.to_string(), env.to_string()));
                }
                continue;
            }
            out.resources.extend(tagged.found(None));
        }
        for k in keys.key_pairs() {
            out.resources
                .extend(ec2_tagged(k.tags()).found(rfc3339(k.create_time())));
        }
        Ok(out)
    }

    async fn inventory_elb(&self, scope: &Scope) -> Result<Vec<Found>, ProviderError> {
        let all = self.all_balancers(scope).await?;
        let created: BTreeMap<String, Option<String>> = all
            .iter()
            .filter_map(|b| {
                Some((
                    b.load_balancer_name()?.to_string(),
                    rfc3339(b.created_time()),
                ))
            })
            .collect();
        let names: Vec<String> = created.keys().cloned().collect();
        let tags = self.balancer_tags(scope, &names).await?;
        Ok(tags
            .into_iter()
            .flat_map(|(name, tagged)| tagged.found(created.get(&name).cloned().flatten()))
            .collect())
    }

    async fn inventory_rds(&self, scope: &Scope) -> Result<Vec<Found>, ProviderError> {
        let pages = self
            .rds
            .describe_db_instances()
            .max_records(100)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "list databases", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.db_instances())
            .filter(|db| db.db_instance_status() != Some("deleting"))
            .filter_map(|db| {
                let tagged = Tagged::new(
                    db.tag_list()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value()?))),
                );
                tagged.found(rfc3339(db.instance_create_time()))
            })
            .collect())
    }
}
