//! Database snapshots for `restore_from_env`: the newest available one of a stack's
//! database in another env, and whether a saved plan's snapshot is still there.
//!
//! A snapshot is the database's when its tags (copied from the database: stackwright
//! creates databases with `CopyTagsToSnapshot`) name the stack, the env and the address,
//! or, for a database named by default, when it was taken of the identifier that database
//! has in that env and carries no other stack's tags. With a default name the lookup is
//! one DescribeDBSnapshots by that identifier (paginated); with an explicit `name`, every
//! snapshot of the region is listed (paginated by 100) and matched by tags.

use aws_sdk_rds::types::DbSnapshot;

use super::{Aws, Tagged, code};
use crate::provider::{
    ProviderError, Scope, Snapshot, SnapshotSource, TAG_ADDRESS, TAG_ENV, TAG_STACK,
};

impl Aws {
    pub(super) async fn newest_db_snapshot(
        &self,
        scope: &Scope,
        source: &SnapshotSource,
    ) -> Result<Option<Snapshot>, ProviderError> {
        let pages = self
            .rds
            .describe_db_snapshots()
            .set_db_instance_identifier(source.identifier.clone())
            .max_records(100)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                self.error(
                    scope,
                    &format!("describe snapshots of env `{}`", source.env),
                    e,
                )
            })?;
        let newest = pages
            .iter()
            .flat_map(|p| p.db_snapshots())
            .filter(|s| s.status() == Some("available"))
            .filter(|s| of_source(scope, source, s))
            .max_by(|a, b| {
                let key = |s: &DbSnapshot| {
                    (
                        s.snapshot_create_time().copied(),
                        s.db_snapshot_identifier().map(String::from),
                    )
                };
                key(a).cmp(&key(b))
            });
        Ok(newest.map(|s| Snapshot {
            id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
            engine: s.engine().unwrap_or_default().to_ascii_lowercase(),
            created: s
                .snapshot_create_time()
                .map(|t| t.to_string())
                .unwrap_or_default(),
        }))
    }

    pub(super) async fn db_snapshot_available(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<bool, ProviderError> {
        match self
            .rds
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .db_snapshots()
                .iter()
                .any(|s| s.status() == Some("available"))),
            Err(e) if code(&e) == Some("DBSnapshotNotFound") => Ok(false),
            Err(e) => Err(self.error(scope, &format!("describe snapshot `{id}`"), e)),
        }
    }
}

/// Whether snapshot `s` is of the database `source` describes.
fn of_source(scope: &Scope, source: &SnapshotSource, s: &DbSnapshot) -> bool {
    let tagged = Tagged::new(
        s.tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    );
    let tag = |k: &str| tagged.tags.get(k).map(String::as_str);
    match tag(TAG_STACK) {
        Some(stack) => {
            stack == scope.stack
                && tag(TAG_ENV) == Some(source.env.as_str())
                && tag(TAG_ADDRESS) == Some(source.address.to_string().as_str())
        }
        // Taken before tags were copied to snapshots: by the identifier alone.
        None => {
            source.identifier.is_some()
                && s.db_instance_identifier() == source.identifier.as_deref()
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::types::{DbSnapshot, Tag};

    use super::*;

    fn snapshot(instance: &str, tags: &[(&str, &str)]) -> DbSnapshot {
        DbSnapshot::builder()
            .db_snapshot_identifier(format!("{instance}-final"))
            .db_instance_identifier(instance)
            .set_tag_list(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .build()
    }

    fn tags<'a>(stack: &'a str, env: &'a str, address: &'a str) -> [(&'a str, &'a str); 3] {
        [(TAG_STACK, stack), (TAG_ENV, env), (TAG_ADDRESS, address)]
    }

    #[test]
    fn a_snapshot_is_the_databases_by_its_tags_or_by_its_default_identifier() {
        let scope = Scope {
            stack: "app".into(),
            env: "review".into(),
            ..Scope::default()
        };
        let by_name = SnapshotSource {
            address: "database.main".parse().unwrap(),
            env: "production".into(),
            identifier: Some("app-production-main".into()),
        };
        let by_tags = SnapshotSource {
            identifier: None,
            ..by_name.clone()
        };
        let ours = snapshot("renamed-db", &tags("app", "production", "database.main"));
        assert!(of_source(&scope, &by_tags, &ours));
        assert!(of_source(&scope, &by_name, &ours));
        // Tagged for another env, address or stack: never, whatever its identifier.
        for other in [
            tags("app", "staging", "database.main"),
            tags("app", "production", "database.other"),
            tags("other", "production", "database.main"),
        ] {
            let s = snapshot("app-production-main", &other);
            assert!(!of_source(&scope, &by_name, &s), "{other:?}");
        }
        // Without stackwright's tags: by the default identifier only.
        let untagged = snapshot("app-production-main", &[("team", "web")]);
        assert!(of_source(&scope, &by_name, &untagged));
        assert!(!of_source(&scope, &by_tags, &untagged));
        assert!(!of_source(
            &scope,
            &by_name,
            &snapshot("app-production-mainx", &[])
        ));
    }
}
