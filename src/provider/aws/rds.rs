//! RDS: `DescribeDBInstances` lists every instance with its tags inline (the API has no tag
//! filter), paginated by 100.

use std::collections::BTreeMap;

use aws_sdk_rds::types::DbInstance;

use super::{Aws, Ids, Tagged};
use crate::provider::{LiveResource, ProviderError, Scope, Value, flag};
use crate::stack::Address;

pub(super) struct RawDatabase {
    pub address: Address,
    pub db: DbInstance,
    pub tagged: Tagged,
}

impl Aws {
    pub(super) async fn read_databases(
        &self,
        scope: &Scope,
    ) -> Result<Vec<RawDatabase>, ProviderError> {
        let pages = self
            .rds
            .describe_db_instances()
            .max_records(100)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "describe databases", e))?;
        let mut out = Vec::new();
        for db in pages.iter().flat_map(|p| p.db_instances()) {
            // A database being deleted is gone as far as the stack is concerned.
            if db.db_instance_status() == Some("deleting") {
                continue;
            }
            let tagged = Tagged::new(
                db.tag_list()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value()?))),
            );
            let Some(address) = tagged.address(scope) else {
                continue;
            };
            out.push(RawDatabase {
                address,
                db: db.clone(),
                tagged,
            });
        }
        Ok(out)
    }
}

pub(super) fn resource(raw: &RawDatabase, ids: &Ids) -> LiveResource {
    let d = &raw.db;
    let identifier = d.db_instance_identifier().unwrap_or_default().to_string();
    let text = |k: &str, v: Option<&str>| (k.to_string(), Value::text(v.unwrap_or_default()));
    let number = |k: &str, v: Option<i32>| {
        (
            k.to_string(),
            Value::text(v.map(|n| n.to_string()).unwrap_or_default()),
        )
    };
    let attrs = BTreeMap::from([
        text("identifier", Some(&identifier)),
        text("engine", d.engine().map(str::to_ascii_lowercase).as_deref()),
        text("engine_version", d.engine_version()),
        text("instance_class", d.db_instance_class()),
        number("storage_gb", d.allocated_storage()),
        text("storage_type", d.storage_type()),
        text("master_username", d.master_username()),
        text("db_name", d.db_name()),
        number(
            "port",
            d.endpoint().and_then(|e| e.port()).or(d.db_instance_port()),
        ),
        (
            "security_groups".to_string(),
            Value::list(
                d.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id())
                    .map(|g| ids.group(g)),
            ),
        ),
        text("availability_zone", d.availability_zone()),
        ("multi_az".to_string(), flag(d.multi_az().unwrap_or(false))),
        number("backup_retention_days", d.backup_retention_period()),
        (
            "publicly_accessible".to_string(),
            flag(d.publicly_accessible().unwrap_or(false)),
        ),
        (
            "deletion_protection".to_string(),
            flag(d.deletion_protection().unwrap_or(false)),
        ),
        ("tags".to_string(), raw.tagged.user_tags()),
    ]);
    let endpoint = d.endpoint();
    let outputs = BTreeMap::from([
        (
            "address".to_string(),
            endpoint
                .and_then(|e| e.address())
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "port".to_string(),
            endpoint
                .and_then(|e| e.port())
                .map(|p| p.to_string())
                .unwrap_or_default(),
        ),
        ("identifier".to_string(), identifier.clone()),
    ]);
    LiveResource {
        address: raw.address.clone(),
        id: identifier,
        attrs,
        outputs,
        applied: raw.tagged.applied(),
    }
}
