//! Who holds a physical name: before a plan creates a security group, balancer, database
//! or key pair, the name it will take is looked up, so that a name another stack (or
//! nobody's stack) already holds is an error at plan time naming the holder, not a create
//! that fails half way through an apply.
//!
//! One call per kind that the plan creates, whatever the number of names: group and key
//! names and database identifiers by filter, balancers by one listing (DescribeLoadBalancers
//! fails as a whole on a name that does not exist) and DescribeTags for the ones found.

use aws_sdk_ec2::types::Filter;

use super::{Aws, Tagged};
use crate::provider::{Owner, ProviderError, Scope, TAG_ADDRESS, TAG_ENV, TAG_STACK, Taken};
use crate::stack::{Address, Kind};

impl Aws {
    /// Which of `wanted` (address, physical name) are held in AWS, and by whom.
    pub(super) async fn names_taken(
        &self,
        scope: &Scope,
        wanted: &[(Address, String)],
    ) -> Result<Vec<Taken>, ProviderError> {
        let of = |kind: Kind| -> Vec<&(Address, String)> {
            wanted.iter().filter(|(a, _)| a.kind == kind).collect()
        };
        let mut held: Vec<(Kind, String, Tagged)> = Vec::new();
        let groups = of(Kind::SecurityGroup);
        if !groups.is_empty() {
            held.extend(self.groups_named(scope, &groups).await?);
        }
        let keys = of(Kind::KeyPair);
        if !keys.is_empty() {
            let out = self
                .ec2
                .describe_key_pairs()
                .filters(filter("key-name", &keys))
                .send()
                .await
                .map_err(|e| self.error(scope, "look up key pair names", e))?;
            for k in out.key_pairs() {
                let tags = k.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
                held.push((
                    Kind::KeyPair,
                    k.key_name().unwrap_or_default().to_string(),
                    Tagged::new(tags),
                ));
            }
        }
        let databases = of(Kind::Database);
        if !databases.is_empty() {
            // Listed rather than filtered: a stack has few databases, an account not many,
            // and the listing is what refresh reads too.
            let pages = self
                .rds
                .describe_db_instances()
                .max_records(100)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| self.error(scope, "look up database identifiers", e))?;
            for d in pages.iter().flat_map(|p| p.db_instances()) {
                let tags = d
                    .tag_list()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value()?)));
                held.push((
                    Kind::Database,
                    d.db_instance_identifier().unwrap_or_default().to_string(),
                    Tagged::new(tags),
                ));
            }
        }
        let balancers = of(Kind::LoadBalancer);
        if !balancers.is_empty() {
            held.extend(self.balancers_named(scope, &balancers).await?);
        }
        let mut out = Vec::new();
        for (address, name) in wanted {
            // RDS identifiers and ELB names are case-insensitive.
            let same = |kind: Kind, held: &str| {
                kind == address.kind
                    && match kind {
                        Kind::Database | Kind::LoadBalancer => held.eq_ignore_ascii_case(name),
                        _ => held == name,
                    }
            };
            if let Some((_, _, tagged)) = held.iter().find(|(k, n, _)| same(*k, n)) {
                out.push(Taken {
                    address: address.clone(),
                    name: name.clone(),
                    owner: owner(tagged),
                });
            }
        }
        Ok(out)
    }

    /// Security groups of these names in the VPC stackwright creates groups in (the
    /// region's default VPC): a group of the same name in another VPC takes nothing.
    async fn groups_named(
        &self,
        scope: &Scope,
        groups: &[&(Address, String)],
    ) -> Result<Vec<(Kind, String, Tagged)>, ProviderError> {
        let out = self
            .ec2
            .describe_security_groups()
            .filters(filter("group-name", groups))
            .send()
            .await
            .map_err(|e| self.error(scope, "look up security group names", e))?;
        if out.security_groups().is_empty() {
            return Ok(Vec::new());
        }
        let vpcs = self
            .ec2
            .describe_vpcs()
            .filters(Filter::builder().name("is-default").values("true").build())
            .send()
            .await
            .map_err(|e| self.error(scope, "find the default VPC", e))?;
        let default = vpcs.vpcs().first().and_then(|v| v.vpc_id());
        Ok(out
            .security_groups()
            .iter()
            .filter(|g| default.is_none() || g.vpc_id() == default)
            .map(|g| {
                let tags = g.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
                (
                    Kind::SecurityGroup,
                    g.group_name().unwrap_or_default().to_string(),
                    Tagged::new(tags),
                )
            })
            .collect())
    }

    async fn balancers_named(
        &self,
        scope: &Scope,
        balancers: &[&(Address, String)],
    ) -> Result<Vec<(Kind, String, Tagged)>, ProviderError> {
        let found: Vec<String> = self
            .all_balancers(scope)
            .await?
            .iter()
            .filter_map(|b| b.load_balancer_name())
            .filter(|n| balancers.iter().any(|(_, w)| w.eq_ignore_ascii_case(n)))
            .map(String::from)
            .collect();
        let mut tags = self.balancer_tags(scope, &found).await?;
        let out = found
            .into_iter()
            .map(|name| {
                let tagged = tags.remove(&name).unwrap_or_else(|| Tagged::new([]));
                (Kind::LoadBalancer, name, tagged)
            })
            .collect();
        Ok(out)
    }
}

fn filter(name: &str, wanted: &[&(Address, String)]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(wanted.iter().map(|(_, n)| n.clone()).collect()))
        .build()
}

/// Whose stack the tags say a resource is, if anyone's.
fn owner(tagged: &Tagged) -> Option<Owner> {
    let get = |k: &str| tagged.tags.get(k).cloned();
    Some(Owner {
        stack: get(TAG_STACK)?,
        env: get(TAG_ENV)?,
        address: get(TAG_ADDRESS).unwrap_or_default(),
    })
}
