//! RDS: `DescribeDBInstances` lists every instance with its tags inline (the API has no tag
//! filter), paginated by 100.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::{DbInstance, Tag};

use super::{Aws, Ids, Tagged, code, wait_for};
use crate::provider::{
    Applied, Desired, LiveResource, Progress, ProviderError, Scope, TAG_RESTORING, Teardown, Value,
    flag,
};
use crate::stack::Address;
use crate::stack::model::Spec;

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
            let id = db.db_instance_identifier().unwrap_or_default();
            let Some(address) = self.claim(scope, crate::stack::Kind::Database, &tagged, id) else {
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
    let mut attrs = BTreeMap::from([
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
        (
            "storage_encrypted".to_string(),
            flag(d.storage_encrypted().unwrap_or(false)),
        ),
        ("tags".to_string(), raw.tagged.user_tags()),
        ("prevent_destroy".to_string(), raw.tagged.prevent_destroy()),
    ]);
    // Only where the tag is (databases created before it have none): what a teardown
    // from tags alone does about a final snapshot.
    if let Some(v) = raw.tagged.tags.get(crate::provider::TAG_FINAL_SNAPSHOT) {
        attrs.insert("final_snapshot".to_string(), Value::text(v.clone()));
    }
    // Not compared (not in the kind's attributes): the plan warns of it.
    if let Some(v) = raw.tagged.tags.get(crate::provider::TAG_RESTORING) {
        attrs.insert("restoring".to_string(), Value::text(v.clone()));
    }
    if let Some(group) = d.db_subnet_group() {
        attrs.insert(
            "subnets".to_string(),
            Value::list(
                group
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(String::from)),
            ),
        );
        // Not compared: which group, to move the database into its own when needed.
        attrs.insert(
            "db_subnet_group".to_string(),
            Value::text(group.db_subnet_group_name().unwrap_or_default()),
        );
    }
    let outputs = db_outputs(d);
    LiveResource {
        address: raw.address.clone(),
        id: identifier,
        attrs,
        outputs,
        applied: raw.tagged.applied(),
        expires: raw.tagged.expires(),
    }
}

// ---------------------------------------------------------------------------------------
// The write side.

/// How long a database may take to become available or to go.
const DB_WAIT: Duration = Duration::from_secs(3600);

fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn db_outputs(db: &DbInstance) -> BTreeMap<String, String> {
    let endpoint = db.endpoint();
    BTreeMap::from([
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
        (
            "identifier".to_string(),
            db.db_instance_identifier().unwrap_or_default().to_string(),
        ),
    ])
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Aws {
    async fn describe_database(
        &self,
        scope: &Scope,
        identifier: &str,
    ) -> Result<Option<DbInstance>, ProviderError> {
        match self
            .rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_instances().first().cloned()),
            Err(e) if code(&e) == Some("DBInstanceNotFound") => Ok(None),
            Err(e) => Err(self.error(scope, &format!("read database `{identifier}`"), e)),
        }
    }

    /// Wait until the database is `available`; its outputs then.
    async fn database_available(
        &self,
        scope: &Scope,
        identifier: &str,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let what = format!("database `{identifier}` to be available");
        let db = wait_for(&what, DB_WAIT, progress, || async {
            let db = self
                .describe_database(scope, identifier)
                .await
                .map_err(|e| e.to_string())?;
            match db.as_ref().and_then(|d| d.db_instance_status()) {
                Some("available") => Ok(db),
                Some("failed" | "incompatible-parameters" | "storage-full" | "deleting") => {
                    Err(format!(
                        "database `{identifier}` is `{}`",
                        db.as_ref()
                            .and_then(|d| d.db_instance_status())
                            .unwrap_or_default()
                    ))
                }
                _ => Ok(None),
            }
        })
        .await
        .map_err(|d| self.failed(scope, &format!("wait for {what}"), d))?;
        Ok(Applied {
            id: identifier.to_string(),
            outputs: db_outputs(&db),
        })
    }

    pub(super) async fn create_database(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::Database(d) = &want.resource.spec else {
            return Err(self.failed(scope, "create database", "not a database".into()));
        };
        let identifier = want.resource.physical_name.as_str();
        let what = format!("create database `{identifier}`");
        let groups = d
            .security_groups
            .iter()
            .map(|g| want.group_id(g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.failed(scope, &what, e))?;
        let password = want
            .master_password
            .as_ref()
            .ok_or_else(|| self.failed(scope, &what, "no master password".into()))?;
        if !d.subnets.is_empty() {
            Box::pin(self.ensure_subnet_group(scope, identifier, &d.subnets, &want.tags)).await?;
        }
        if let Some(snapshot) = &want.restore {
            return Box::pin(self.restore_database(scope, want, snapshot, groups, progress)).await;
        }
        let created = self
            .rds
            .create_db_instance()
            .db_instance_identifier(identifier)
            .engine(&d.engine)
            .set_engine_version(d.engine_version.clone())
            .db_instance_class(&d.instance_class)
            .allocated_storage(int(d.storage_gb))
            .set_storage_type(d.storage_type.clone())
            .master_username(&d.master_username)
            .master_user_password(password.expose())
            .set_db_name(d.db_name.clone())
            .set_port(d.port.map(i32::from))
            .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups))
            .set_availability_zone(d.availability_zone.clone())
            .set_db_subnet_group_name((!d.subnets.is_empty()).then(|| identifier.to_string()))
            .multi_az(d.multi_az)
            .backup_retention_period(int(d.backup_retention_days))
            // AWS's default depends on the subnet group: always say.
            .publicly_accessible(d.publicly_accessible)
            .deletion_protection(d.deletion_protection)
            // Snapshots carry the stack's tags: `restore_from_env` finds them by those.
            .copy_tags_to_snapshot(true)
            // With the account's default RDS key.
            .storage_encrypted(d.storage_encrypted)
            .set_tags(Some(rds_tags(&want.tags)))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if code(&e) == Some("DBInstanceAlreadyExists") => {
                self.adopt_database(scope, want, &what).await?;
            }
            Err(e) => return Err(self.error(scope, &what, e)),
        }
        self.database_available(scope, identifier, progress).await
    }

    /// A create repeated after a crash finds its database there: ours (tagged with the
    /// address) is carried on with; anything else is refused.
    async fn adopt_database(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        what: &str,
    ) -> Result<(), ProviderError> {
        let identifier = want.resource.physical_name.as_str();
        let ours = self
            .describe_database(scope, identifier)
            .await?
            .is_some_and(|db| {
                let tagged = Tagged::new(
                    db.tag_list()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value()?))),
                );
                let id = db.db_instance_identifier().unwrap_or_default();
                tagged.address(scope, id).as_ref() == Some(&want.resource.address)
            });
        if ours {
            Ok(())
        } else {
            Err(self.failed(
                scope,
                what,
                "a database with that identifier exists and is not part of this stack".into(),
            ))
        }
    }

    /// `restore_from_env`: RestoreDBInstanceFromDBSnapshot with the stack's settings that
    /// a restore takes, then, once it is available, ModifyDBInstance for those it does not
    /// (the master password from the secret, backups, storage beyond the snapshot's).
    async fn restore_database(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        snapshot: &str,
        groups: Vec<String>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::Database(d) = &want.resource.spec else {
            return Err(self.failed(scope, "restore database", "not a database".into()));
        };
        let identifier = want.resource.physical_name.as_str();
        let what = format!("restore database `{identifier}` from snapshot `{snapshot}`");
        let password = want
            .master_password
            .as_ref()
            .ok_or_else(|| self.failed(scope, &what, "no master password".into()))?;
        progress(&format!("restoring from snapshot `{snapshot}`"));
        let mut restoring_tags = want.tags.clone();
        restoring_tags.insert(TAG_RESTORING.to_string(), snapshot.to_string());
        let restored = self
            .rds
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(identifier)
            .db_snapshot_identifier(snapshot)
            .db_instance_class(&d.instance_class)
            .set_storage_type(d.storage_type.clone())
            .set_port(d.port.map(i32::from))
            .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups.clone()))
            .set_availability_zone(d.availability_zone.clone())
            .set_db_subnet_group_name((!d.subnets.is_empty()).then(|| identifier.to_string()))
            .multi_az(d.multi_az)
            // AWS's default depends on the subnet group: always say.
            .publicly_accessible(d.publicly_accessible)
            .deletion_protection(d.deletion_protection)
            .copy_tags_to_snapshot(true)
            // The snapshot's own tags (its env's) are not wanted: this database's are
            // given, so the restore is tagged in the create call itself; and marked as
            // restoring until its password is the stack's (a run killed in between is
            // then seen).
            .set_tags(Some(rds_tags(&restoring_tags)))
            .send()
            .await;
        match restored {
            Ok(_) => {}
            Err(e) if code(&e) == Some("DBInstanceAlreadyExists") => {
                self.adopt_database(scope, want, &what).await?;
            }
            Err(e) => return Err(self.error(scope, &what, e)),
        }
        self.database_available(scope, identifier, progress).await?;
        let db = self
            .describe_database(scope, identifier)
            .await?
            .ok_or_else(|| self.failed(scope, &what, "the database is gone".into()))?;
        // The snapshot's password, backups and size are the other env's: the stack's now.
        let mut modify = self
            .rds
            .modify_db_instance()
            .db_instance_identifier(identifier)
            .apply_immediately(true)
            .master_user_password(password.expose())
            .backup_retention_period(int(d.backup_retention_days))
            .publicly_accessible(d.publicly_accessible)
            .deletion_protection(d.deletion_protection);
        if db.allocated_storage().unwrap_or(0) < int(d.storage_gb) {
            modify = modify.allocated_storage(int(d.storage_gb));
        }
        if !groups.is_empty() {
            modify = modify.set_vpc_security_group_ids(Some(groups));
        }
        if d.engine_version.is_some() && d.engine_version.as_deref() != db.engine_version() {
            modify = modify.set_engine_version(d.engine_version.clone());
        }
        progress("giving it the stack's settings");
        modify
            .send()
            .await
            .map_err(|e| self.error(scope, &what, e))?;
        let applied = self.database_available(scope, identifier, progress).await?;
        let arn = db
            .db_instance_arn()
            .ok_or_else(|| self.failed(scope, &what, "the database has no ARN".into()))?;
        self.rds
            .remove_tags_from_resource()
            .resource_name(arn)
            .tag_keys(TAG_RESTORING)
            .send()
            .await
            .map_err(|e| self.error(scope, &what, e))?;
        Ok(applied)
    }

    pub(super) async fn update_database(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::Database(d) = &want.resource.spec else {
            return Err(self.failed(scope, "change database", "not a database".into()));
        };
        let identifier = live.id.as_str();
        let what = format!("change database `{identifier}`");
        let changed = |name: &str| want.changed.contains(name);
        let settings = [
            "engine_version",
            "instance_class",
            "storage_gb",
            "storage_type",
            "port",
            "security_groups",
            "multi_az",
            "backup_retention_days",
            "publicly_accessible",
            "deletion_protection",
            "master_password",
            "subnets",
        ];
        if changed("subnets") && !d.subnets.is_empty() {
            Box::pin(self.ensure_subnet_group(scope, identifier, &d.subnets, &want.tags)).await?;
        }
        if settings.iter().any(|s| changed(s)) {
            let mut modify = self
                .rds
                .modify_db_instance()
                .db_instance_identifier(identifier)
                .apply_immediately(true);
            if changed("engine_version") {
                modify = modify.set_engine_version(d.engine_version.clone());
            }
            if changed("instance_class") {
                modify = modify.db_instance_class(&d.instance_class);
            }
            if changed("storage_gb") {
                modify = modify.allocated_storage(int(d.storage_gb));
            }
            if changed("storage_type") {
                modify = modify.set_storage_type(d.storage_type.clone());
            }
            if changed("port") {
                modify = modify.set_db_port_number(d.port.map(i32::from));
            }
            if changed("security_groups") {
                let groups = d
                    .security_groups
                    .iter()
                    .map(|g| want.group_id(g))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.failed(scope, &what, e))?;
                modify = modify.set_vpc_security_group_ids(Some(groups));
            }
            if changed("multi_az") {
                modify = modify.multi_az(d.multi_az);
            }
            // Into its own subnet group (made above), unless it is in it already.
            if changed("subnets")
                && !d.subnets.is_empty()
                && live.attrs.get("db_subnet_group") != Some(&Value::text(identifier))
            {
                modify = modify.db_subnet_group_name(identifier);
            }
            if changed("backup_retention_days") {
                modify = modify.backup_retention_period(int(d.backup_retention_days));
            }
            // Sent whenever anything changes: AWS's default is not to be relied on.
            modify = modify.publicly_accessible(d.publicly_accessible);
            if changed("deletion_protection") {
                modify = modify.deletion_protection(d.deletion_protection);
            }
            // A rotated secret (`apply --rotate-secret`): the password, in place.
            if changed("master_password") {
                let password = want
                    .master_password
                    .as_ref()
                    .ok_or_else(|| self.failed(scope, &what, "no master password".into()))?;
                modify = modify.master_user_password(password.expose());
            }
            modify
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        let arn = self
            .describe_database(scope, identifier)
            .await?
            .and_then(|db| db.db_instance_arn().map(String::from))
            .ok_or_else(|| self.failed(scope, &what, "the database is gone".into()))?;
        let mut stale = super::stale_tags(live, want);
        // A restore a killed run left unfinished is finished once the password is set.
        if changed("master_password") && live.attrs.contains_key("restoring") {
            stale.push(TAG_RESTORING.to_string());
        }
        if !stale.is_empty() {
            self.rds
                .remove_tags_from_resource()
                .resource_name(&arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        self.rds
            .add_tags_to_resource()
            .resource_name(&arn)
            .set_tags(Some(rds_tags(&want.tags)))
            .send()
            .await
            .map_err(|e| self.error(scope, &what, e))?;
        self.database_available(scope, identifier, progress).await
    }

    /// Delete a database, with a final snapshot unless told otherwise, and wait until it
    /// is gone.
    pub(super) async fn destroy_database(
        &self,
        scope: &Scope,
        live: &LiveResource,
        how: Teardown,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let identifier = live.id.as_str();
        let what = format!("delete database `{identifier}`");
        let mut delete = self
            .rds
            .delete_db_instance()
            .db_instance_identifier(identifier)
            .skip_final_snapshot(!how.final_snapshot);
        if how.final_snapshot {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace([':', 'T'], "-")
                .trim_end_matches('Z')
                .to_string();
            let snapshot = format!("{identifier}-final-{stamp}");
            progress(&format!("final snapshot `{snapshot}`"));
            delete = delete.final_db_snapshot_identifier(snapshot);
        }
        match delete.send().await {
            Ok(_) => {}
            Err(e) if code(&e) == Some("DBInstanceNotFound") => return Ok(()),
            // Being deleted already (a repeated call): wait for it below.
            Err(e) if code(&e) == Some("InvalidDBInstanceState") => {}
            Err(e) => return Err(self.error(scope, &what, e)),
        }
        let gone = format!("database `{identifier}` to be deleted");
        wait_for(&gone, DB_WAIT, progress, || async {
            let db = self
                .describe_database(scope, identifier)
                .await
                .map_err(|e| e.to_string())?;
            Ok(db.is_none().then_some(()))
        })
        .await
        .map_err(|d| self.failed(scope, &what, d))?;
        // Its own subnet group (named as the database) goes with it; a database in the
        // VPC's default group costs no call here.
        if live.attrs.get("db_subnet_group") == Some(&Value::text(identifier)) {
            self.delete_subnet_group(scope, identifier).await?;
        }
        Ok(())
    }
}
