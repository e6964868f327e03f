//! Which hosted zones hold a stack's records.
//!
//! Records cannot be tagged, but hosted zones can: while a stack and env have records in a
//! zone, the zone carries the tag `stackwright:records:<stack>/<env>`. Refresh reads the
//! zones the stack names and every zone so tagged, so a record whose zone the stack no
//! longer names (its last record there removed from the file) is still found, and
//! destroyed. Finding the zones costs one `ListHostedZones` per 100 zones of the account
//! and one `ListTagsForResources` per 10.
//!
//! The tag is written before a record is created (a crash in between leaves a tag on a
//! zone with nothing of the stack in it: harmless, it costs that zone's listing) and
//! removed once the stack's last record there is deleted. One lock, held across the
//! tagging calls, orders a tag against an untag of the same run.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_route53::types::{Tag, TagResourceType};

use super::normalize;
use crate::provider::aws::Aws;
use crate::provider::{ProviderError, Scope};

/// What a run knows of the zones: which carry the stack's tag, and how many of the stack's
/// records each holds (as refresh counted them, then as the run created and deleted).
#[derive(Debug, Default)]
pub(in crate::provider::aws) struct Zones {
    tagged: BTreeSet<String>,
    records: BTreeMap<String, usize>,
}

/// The zone tag of a stack and env (stack and env names hold no `/`).
pub(in crate::provider::aws) fn tag_key(stack: &str, env: &str) -> String {
    format!("stackwright:records:{stack}/{env}")
}

/// Route 53 answers with `/hostedzone/Z…`; the tagging API wants `Z…`.
fn bare(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

impl Aws {
    /// The zones refresh reads, by name: those the stack names (each must exist) and
    /// those carrying the stack's tag. Where the account has several public zones of one
    /// name, the first by id, as `ListHostedZonesByName` orders them.
    pub(super) async fn zones_to_read(
        &self,
        scope: &Scope,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let mut zones: Vec<(String, String)> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .route53
                .list_hosted_zones()
                .max_items(100)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| self.error(scope, "list hosted zones", e))?;
            zones.extend(
                page.hosted_zones()
                    .iter()
                    .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
                    .map(|z| (normalize(z.name()), bare(z.id()).to_string())),
            );
            match page.next_marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        zones.sort();
        zones.dedup_by(|later, first| later.0 == first.0);

        let key = tag_key(&scope.stack, &scope.env);
        let mut tagged = BTreeSet::new();
        for chunk in zones.chunks(10) {
            let output = self
                .route53
                .list_tags_for_resources()
                .resource_type(TagResourceType::Hostedzone)
                .set_resource_ids(Some(chunk.iter().map(|(_, id)| id.clone()).collect()))
                .send()
                .await
                .map_err(|e| self.error(scope, "read hosted zone tags", e))?;
            for set in output.resource_tag_sets() {
                if set.tags().iter().any(|t| t.key() == Some(key.as_str())) {
                    tagged.extend(set.resource_id().map(|id| bare(id).to_string()));
                }
            }
        }

        let mut out = BTreeMap::new();
        for (name, id) in zones {
            if tagged.contains(&id) || scope.zones.contains(&name) {
                out.insert(name, id);
            }
        }
        if let Some(missing) = scope.zones.iter().find(|z| !out.contains_key(*z)) {
            return Err(self.failed(
                scope,
                &format!("find hosted zone `{missing}`"),
                "no public hosted zone has that name in this account".into(),
            ));
        }
        let mut known = self.zones.lock().await;
        known.tagged = tagged;
        known.records.clear();
        Ok(out)
    }

    /// Refresh found `count` of the stack's records in the zone.
    pub(super) async fn zone_counted(&self, zone_id: &str, count: usize) {
        self.zones
            .lock()
            .await
            .records
            .insert(bare(zone_id).to_string(), count);
    }

    /// Before a record is written: the zone is tagged as holding the stack's records
    /// (once a run), and a new record counted.
    pub(super) async fn zone_gains(
        &self,
        scope: &Scope,
        zone_id: &str,
        create: bool,
    ) -> Result<(), ProviderError> {
        let id = bare(zone_id).to_string();
        let mut known = self.zones.lock().await;
        if create {
            *known.records.entry(id.clone()).or_default() += 1;
        }
        if known.tagged.contains(&id) {
            return Ok(());
        }
        let key = tag_key(&scope.stack, &scope.env);
        let tag = Tag::builder()
            .key(&key)
            .value("records of this stack and env")
            .build();
        self.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&id)
            .add_tags(tag)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("tag hosted zone `{id}` with `{key}`"), e))?;
        known.tagged.insert(id);
        Ok(())
    }

    /// After a record was deleted: when it was the stack's last one in the zone, the tag
    /// goes.
    pub(super) async fn zone_loses(
        &self,
        scope: &Scope,
        zone_id: &str,
    ) -> Result<(), ProviderError> {
        let id = bare(zone_id).to_string();
        let mut known = self.zones.lock().await;
        let left = match known.records.get_mut(&id) {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n
            }
            // Not counted by this run's refresh: nothing is known, the tag stays.
            None => return Ok(()),
        };
        if left > 0 || !known.tagged.contains(&id) {
            return Ok(());
        }
        let key = tag_key(&scope.stack, &scope.env);
        self.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&id)
            .remove_tag_keys(&key)
            .send()
            .await
            .map_err(|e| {
                self.error(
                    scope,
                    &format!("remove the tag `{key}` of hosted zone `{id}`"),
                    e,
                )
            })?;
        known.tagged.remove(&id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_names_stack_and_env_and_cannot_collide() {
        assert_eq!(tag_key("app", "prod"), "stackwright:records:app/prod");
        // `/` is in neither name, so `a-b`/`c` and `a`/`b-c` differ.
        assert_ne!(tag_key("a-b", "c"), tag_key("a", "b-c"));
        // The longest names (32 each) stay under Route 53's 128 characters of tag key.
        assert!(tag_key(&"a".repeat(32), &"b".repeat(32)).len() <= 128);
    }
}
