//! EC2: instances, security groups and key pairs, each read with one tag-filtered,
//! paginated call, created and changed one by one, and terminated in batches
//! ([`batch`]). The provider's refresh
//! (`Provider::refresh` of [`super::Aws`]) reads the three, then maps ids to addresses with
//! [`group_resource`] and [`instance_resource`] (rules and instances name groups by
//! address); applies go to each kind's file. What all three share is here: EC2's tags
//! as [`Tagged`], tag specifications, the filter for one address, and retagging.

mod batch;
mod instances;
mod key_pairs;
mod launch;
mod security_groups;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

pub(super) use batch::Batcher;
pub(super) use instances::{RawInstance, instance_resource};
pub(super) use security_groups::group_resource;

use super::{Aws, Tagged, tag_filters};
use crate::provider::{Desired, LiveResource, ProviderError, Scope, TAG_ADDRESS};
use crate::stack::Address;

/// EC2's tags as a map (a tag without a value has none to compare).
fn tagged(tags: &[aws_sdk_ec2::types::Tag]) -> Tagged {
    Tagged::new(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// Filters for one address of the stack.
fn address_filters(scope: &Scope, address: &Address) -> Vec<Filter> {
    let mut filters = tag_filters(scope);
    filters.push(
        Filter::builder()
            .name(format!("tag:{TAG_ADDRESS}"))
            .values(address.to_string())
            .build(),
    );
    filters
}

impl Aws {
    /// Replace the user tags of an EC2 resource with `want`'s and refresh stackwright's.
    async fn retag(
        &self,
        scope: &Scope,
        id: &str,
        live: &LiveResource,
        want: &Desired<'_>,
    ) -> Result<(), ProviderError> {
        let stale: Vec<Tag> = super::stale_tags(live, want)
            .into_iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        if !stale.is_empty() {
            self.ec2
                .delete_tags()
                .resources(id)
                .set_tags(Some(stale))
                .send()
                .await
                .map_err(|e| self.error(scope, &format!("remove tags of `{id}`"), e))?;
        }
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(&want.tags)))
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("tag `{id}`"), e))?;
        Ok(())
    }
}
