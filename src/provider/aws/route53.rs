//! Route 53: per hosted zone, `ListHostedZonesByName` to find it and
//! `ListResourceRecordSets` (pages of 300) to read it. A record belongs to the stack when
//! its ownership TXT record (see [`ownership`]) names the stack, env and address. The
//! zones read are those the stack names and those tagged as holding its records
//! ([`zones`]).

mod zones;

pub(super) use zones::Zones;

use std::collections::BTreeMap;

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{Aws, wait_for};
use crate::provider::{
    Applied, Desired, LiveResource, Progress, ProviderError, Scope, Value, ownership,
};

/// A record name as the stack writes it: lower case, no trailing dot, `*` not `\052`.
pub(super) fn normalize(name: &str) -> String {
    name.trim_end_matches('.')
        .replace("\\052", "*")
        .to_ascii_lowercase()
}

impl Aws {
    /// The id of the hosted zone named `zone`, if there is one.
    pub(super) async fn zone_id(
        &self,
        scope: &Scope,
        zone: &str,
    ) -> Result<Option<String>, ProviderError> {
        let output = self
            .route53
            .list_hosted_zones_by_name()
            .dns_name(zone)
            .max_items(1)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("find hosted zone `{zone}`"), e))?;
        Ok(output
            .hosted_zones()
            .iter()
            .find(|z| normalize(z.name()) == zone && !z.config().is_some_and(|c| c.private_zone()))
            .map(|z| z.id().trim_start_matches("/hostedzone/").to_string()))
    }

    /// The public hosted zone that holds `fqdn`: the longest suffix of it (itself
    /// included) that names one in this account. One `ListHostedZonesByName` a suffix
    /// tried (`generate`).
    pub async fn hosted_zone_of(
        &self,
        scope: &Scope,
        fqdn: &str,
    ) -> Result<Option<String>, ProviderError> {
        let labels: Vec<&str> = fqdn.split('.').collect();
        for start in 0..labels.len().saturating_sub(1) {
            let candidate = labels[start..].join(".");
            if self.zone_id(scope, &candidate).await?.is_some() {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    pub(super) async fn read_records(
        &self,
        scope: &Scope,
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let mut out = Vec::new();
        // The zones the stack names, and a zone it no longer names when its tag says the
        // stack still has records there.
        let zones = self.zones_to_read(scope).await?;
        for (zone, id) in &zones {
            let sets = self.record_sets(scope, id).await?;
            let mut ours = 0;
            let by_name: BTreeMap<(String, String), &ResourceRecordSet> = sets
                .iter()
                .map(|s| ((normalize(s.name()), s.r#type().as_str().to_string()), s))
                .collect();
            for set in &sets {
                if set.r#type() != &RrType::Txt {
                    continue;
                }
                let claims = set
                    .resource_records()
                    .iter()
                    .filter_map(|r| ownership::parse(r.value()));
                for claim in claims {
                    if claim.stack != scope.stack || claim.env != scope.env {
                        continue;
                    }
                    let address = claim.address;
                    let Some((fqdn, record_type)) = ownership::owned(&normalize(set.name())) else {
                        continue;
                    };
                    ours += 1;
                    let mut attrs = BTreeMap::from([
                        ("fqdn".to_string(), Value::text(&fqdn)),
                        ("type".to_string(), Value::text(&record_type)),
                        ("zone".to_string(), Value::text(zone)),
                        (
                            "prevent_destroy".to_string(),
                            crate::provider::flag(claim.prevent_destroy),
                        ),
                    ]);
                    // An owner without its record: a create that stopped half way.
                    if let Some(record) = by_name.get(&(fqdn.clone(), record_type.clone())) {
                        attrs.insert(
                            "ttl".into(),
                            Value::text(record.ttl().unwrap_or_default().to_string()),
                        );
                        attrs.insert(
                            "records".into(),
                            Value::list(
                                record
                                    .resource_records()
                                    .iter()
                                    .map(|r| r.value().trim_end_matches('.').to_string()),
                            ),
                        );
                    }
                    let outputs = BTreeMap::from([("fqdn".to_string(), fqdn.clone())]);
                    out.push(LiveResource {
                        address,
                        id: format!("{fqdn} {record_type}"),
                        attrs,
                        outputs,
                        applied: claim.applied.clone(),
                        expires: None,
                    });
                }
            }
            self.zone_counted(id, ours).await;
            out.extend(self.imported_records(scope, zone, &by_name));
        }
        Ok(out)
    }

    /// The records of `zone` that `[import]` names (`"<fqdn> <TYPE>"`) and no stackwright
    /// claim owns: found at their import address. One another stack or env claims is
    /// noted with its owner; one this scope claims was found through its claim.
    fn imported_records(
        &self,
        scope: &Scope,
        zone: &str,
        by_name: &BTreeMap<(String, String), &ResourceRecordSet>,
    ) -> Vec<LiveResource> {
        let mut out = Vec::new();
        for (address, id) in scope
            .imports
            .iter()
            .filter(|(a, _)| a.kind == crate::stack::Kind::DnsRecord)
        {
            let Some((fqdn, record_type)) = id.split_once(' ') else {
                continue;
            };
            if !(fqdn == zone || fqdn.ends_with(&format!(".{zone}"))) {
                continue;
            }
            let key = (fqdn.to_string(), record_type.to_string());
            let Some(record) = by_name.get(&key) else {
                continue;
            };
            let owner = ownership::name(fqdn, record_type);
            let claims: Vec<ownership::Claim> = by_name
                .get(&(owner, "TXT".to_string()))
                .map(|set| {
                    set.resource_records()
                        .iter()
                        .filter_map(|r| ownership::parse(r.value()))
                        .collect()
                })
                .unwrap_or_default();
            if claims
                .iter()
                .any(|c| c.stack == scope.stack && c.env == scope.env)
            {
                continue;
            }
            if let Some(c) = claims.first() {
                self.note_import_owner(
                    address,
                    crate::provider::Owner {
                        stack: c.stack.clone(),
                        env: c.env.clone(),
                        address: c.address.to_string(),
                    },
                );
                continue;
            }
            self.note_imported(address);
            let attrs = BTreeMap::from([
                ("fqdn".to_string(), Value::text(fqdn)),
                ("type".to_string(), Value::text(record_type)),
                ("zone".to_string(), Value::text(zone)),
                ("prevent_destroy".to_string(), crate::provider::flag(false)),
                (
                    "ttl".to_string(),
                    Value::text(record.ttl().unwrap_or_default().to_string()),
                ),
                (
                    "records".to_string(),
                    Value::list(
                        record
                            .resource_records()
                            .iter()
                            .map(|r| r.value().trim_end_matches('.').to_string()),
                    ),
                ),
            ]);
            out.push(LiveResource {
                address: address.clone(),
                id: id.clone(),
                attrs,
                outputs: BTreeMap::from([("fqdn".to_string(), fqdn.to_string())]),
                applied: None,
                expires: None,
            });
        }
        out
    }

    /// Every record set of a zone, following Route 53's name/type pagination.
    async fn record_sets(
        &self,
        scope: &Scope,
        zone_id: &str,
    ) -> Result<Vec<ResourceRecordSet>, ProviderError> {
        let mut sets = Vec::new();
        let mut next: Option<(String, RrType)> = None;
        loop {
            let mut request = self
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .max_items(300);
            if let Some((name, t)) = next.take() {
                request = request.start_record_name(name).start_record_type(t);
            }
            let page = request
                .send()
                .await
                .map_err(|e| self.error(scope, "list DNS records", e))?;
            sets.extend(page.resource_record_sets().iter().cloned());
            match (
                page.is_truncated(),
                page.next_record_name(),
                page.next_record_type(),
            ) {
                (true, Some(name), Some(t)) => next = Some((name.to_string(), t.clone())),
                _ => return Ok(sets),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The write side: a record and its claim always change together, in one change batch
// (Route 53 applies a batch all or nothing).

const DNS_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

fn record_set(
    name: &str,
    record_type: &str,
    ttl: i64,
    values: &[String],
) -> Result<ResourceRecordSet, String> {
    let records = values
        .iter()
        .map(|v| ResourceRecord::builder().value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    // Fully qualified, with the trailing dot: Route 53 takes either, and the emulator
    // matches a wildcard record in a DELETE only so.
    let name = format!("{}.", name.trim_end_matches('.'));
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(record_type))
        .ttl(ttl)
        .set_resource_records(Some(records))
        .build()
        .map_err(|e| e.to_string())
}

fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change, String> {
    Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| e.to_string())
}

fn record_applied(fqdn: &str, record_type: &str) -> Applied {
    Applied {
        id: format!("{fqdn} {record_type}"),
        outputs: BTreeMap::from([("fqdn".to_string(), fqdn.to_string())]),
    }
}

impl Aws {
    async fn zone_of(&self, scope: &Scope, zone: &str) -> Result<String, ProviderError> {
        self.zone_id(scope, zone).await?.ok_or_else(|| {
            self.failed(
                scope,
                &format!("find hosted zone `{zone}`"),
                "no public hosted zone has that name in this account".into(),
            )
        })
    }

    /// Send a change batch and wait until Route 53 has it on its servers.
    async fn change_records(
        &self,
        scope: &Scope,
        zone_id: &str,
        what: &str,
        changes: Vec<Change>,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let batch = ChangeBatch::builder()
            .comment(format!("stackwright {}/{}", scope.stack, scope.env))
            .set_changes(Some(changes))
            .build()
            .map_err(|e| self.failed(scope, what, e.to_string()))?;
        let output = self
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| self.error(scope, what, e))?;
        let Some(id) = output.change_info().map(|c| c.id().to_string()) else {
            return Ok(());
        };
        wait_for(
            "the change to reach every DNS server",
            DNS_WAIT,
            progress,
            || async {
                let info = self
                    .route53
                    .get_change()
                    .id(&id)
                    .send()
                    .await
                    .map_err(|e| self.error(scope, what, e).to_string())?;
                Ok(
                    (info.change_info().map(|c| c.status()) == Some(&ChangeStatus::Insync))
                        .then_some(()),
                )
            },
        )
        .await
        .map_err(|d| self.failed(scope, what, d))
    }

    /// Write the record and its claim (with the applied codes). A create uses CREATE, so
    /// a record that exists already is refused atomically unless its claim is ours (an
    /// earlier attempt); an update (and our own earlier attempt) UPSERTs.
    pub(super) async fn put_record(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        create: bool,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let address = &want.resource.address;
        let (Some(zone), Some(fqdn), Some(record_type)) =
            (want.text("zone"), want.text("fqdn"), want.text("type"))
        else {
            return Err(self.failed(scope, "write DNS record", "not a DNS record".into()));
        };
        let what = format!("write DNS record `{fqdn}` ({record_type})");
        let ttl = want
            .text("ttl")
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(300);
        let values = match want.attrs.get("records") {
            Some(Value::List(v)) => v.clone(),
            _ => return Err(self.failed(scope, &what, "its records are not known".into())),
        };
        let claim = ownership::value_with_applied(
            &scope.stack,
            &scope.env,
            address,
            &want.applied,
            want.resource.prevent_destroy,
        );
        let fail = |d: String| self.failed(scope, &what, d);
        let owner = ownership::name(fqdn, record_type);
        let changes = |action: ChangeAction| -> Result<Vec<Change>, ProviderError> {
            Ok(vec![
                change(
                    action.clone(),
                    record_set(fqdn, record_type, ttl, &values).map_err(fail)?,
                )
                .map_err(fail)?,
                change(
                    action,
                    record_set(&owner, "TXT", ttl, &[format!("\"{claim}\"")]).map_err(fail)?,
                )
                .map_err(fail)?,
            ])
        };
        let zone_id = self.zone_of(scope, zone).await?;
        self.zone_gains(scope, &zone_id, create).await?;
        if create {
            let address = &want.resource.address;
            let ours = |claims: &[ownership::Claim]| {
                claims
                    .iter()
                    .any(|c| c.stack == scope.stack && c.env == scope.env && c.address == *address)
            };
            let refuse = |claims: &[ownership::Claim]| {
                let by = claims
                    .first()
                    .map(|c| format!("claimed by stack `{}` env `{}`", c.stack, c.env))
                    .unwrap_or_else(|| "not claimed by any stack".into());
                fail(format!(
                    "the record exists and is not part of this stack ({by})"
                ))
            };
            // Looked at first: Route 53 refuses a CREATE over an existing record, but not
            // every endpoint does (the emulator overwrites).
            let claims = self.claims(scope, &zone_id, &owner).await?;
            if !ours(&claims) {
                if !claims.is_empty()
                    || self
                        .record_exists(scope, &zone_id, fqdn, record_type)
                        .await?
                {
                    return Err(refuse(&claims));
                }
                let created = self
                    .change_records(
                        scope,
                        &zone_id,
                        &what,
                        changes(ChangeAction::Create)?,
                        progress,
                    )
                    .await;
                match created {
                    Ok(()) => return Ok(record_applied(fqdn, record_type)),
                    // Written in between: by an earlier attempt of ours, or by someone else.
                    Err(ProviderError::Api { detail, .. })
                        if detail.contains("InvalidChangeBatch") =>
                    {
                        let claims = self.claims(scope, &zone_id, &owner).await?;
                        let visible = !claims.is_empty()
                            || self
                                .record_exists(scope, &zone_id, fqdn, record_type)
                                .await?;
                        // Refused though nothing is there to be seen: the emulator keeps a
                        // deleted wildcard record in its index. There is nothing to take
                        // over, so the UPSERT below writes it.
                        if visible && !ours(&claims) {
                            return Err(refuse(&claims));
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.change_records(
            scope,
            &zone_id,
            &what,
            changes(ChangeAction::Upsert)?,
            progress,
        )
        .await?;
        Ok(record_applied(fqdn, record_type))
    }

    async fn record_exists(
        &self,
        scope: &Scope,
        zone_id: &str,
        fqdn: &str,
        record_type: &str,
    ) -> Result<bool, ProviderError> {
        let output = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(fqdn)
            .start_record_type(RrType::from(record_type))
            .max_items(1)
            .send()
            .await
            .map_err(|e| self.error(scope, "read a DNS record", e))?;
        Ok(output
            .resource_record_sets()
            .iter()
            .any(|s| normalize(s.name()) == fqdn && s.r#type().as_str() == record_type))
    }

    /// The claims in the TXT record `owner`, if there is one.
    async fn claims(
        &self,
        scope: &Scope,
        zone_id: &str,
        owner: &str,
    ) -> Result<Vec<ownership::Claim>, ProviderError> {
        let output = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(owner)
            .start_record_type(RrType::Txt)
            .max_items(1)
            .send()
            .await
            .map_err(|e| self.error(scope, "read a DNS record's claim", e))?;
        Ok(output
            .resource_record_sets()
            .iter()
            .filter(|s| normalize(s.name()) == owner && s.r#type() == &RrType::Txt)
            .flat_map(|s| s.resource_records())
            .filter_map(|r| ownership::parse(r.value()))
            .collect())
    }

    /// DELETE the record and its claim, as they are now (Route 53 deletes only an exact
    /// match); a record already gone is done.
    pub(super) async fn delete_record(
        &self,
        scope: &Scope,
        live: &LiveResource,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let text = |k: &str| match live.attrs.get(k) {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let (zone, fqdn, record_type) = (text("zone"), text("fqdn"), text("type"));
        let what = format!("delete DNS record `{fqdn}` ({record_type})");
        let zone_id = self.zone_of(scope, &zone).await?;
        self.delete_record_sets(scope, live, &zone_id, &what, progress)
            .await?;
        self.zone_loses(scope, &zone_id).await
    }

    async fn delete_record_sets(
        &self,
        scope: &Scope,
        live: &LiveResource,
        zone_id: &str,
        what: &str,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let text = |k: &str| match live.attrs.get(k) {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let (fqdn, record_type) = (text("fqdn"), text("type"));
        // First as refresh read them: the record's values and the claim stackwright wrote
        // (no lookup, which some endpoints answer wrongly for wildcard names).
        if let (Some(Value::List(values)), Some(applied)) =
            (live.attrs.get("records"), live.applied.as_deref())
        {
            let ttl = text("ttl").parse::<i64>().unwrap_or(300);
            let claim = ownership::value_with_applied(
                &scope.stack,
                &scope.env,
                &live.address,
                applied,
                text("prevent_destroy") == "true",
            );
            let fail = |d: String| self.failed(scope, what, d);
            let owner = ownership::name(&fqdn, &record_type);
            let changes = vec![
                change(
                    ChangeAction::Delete,
                    record_set(&fqdn, &record_type, ttl, values).map_err(fail)?,
                )
                .map_err(fail)?,
                change(
                    ChangeAction::Delete,
                    record_set(&owner, "TXT", ttl, &[format!("\"{claim}\"")]).map_err(fail)?,
                )
                .map_err(fail)?,
            ];
            match self
                .change_records(scope, zone_id, what, changes, progress)
                .await
            {
                Ok(()) => return Ok(()),
                // Not exactly so (changed since, or half gone): look them up below.
                Err(ProviderError::Api { detail, .. })
                    if detail.contains("InvalidChangeBatch") || detail.contains("InvalidInput") => {
                }
                Err(e) => return Err(e),
            }
        }
        for _ in 0..3 {
            let mut changes = Vec::new();
            for (name, t) in [
                (fqdn.clone(), record_type.clone()),
                (ownership::name(&fqdn, &record_type), "TXT".to_string()),
            ] {
                let output = self
                    .route53
                    .list_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .start_record_name(&name)
                    .start_record_type(RrType::from(t.as_str()))
                    .max_items(1)
                    .send()
                    .await
                    .map_err(|e| self.error(scope, what, e))?;
                if let Some(set) = output
                    .resource_record_sets()
                    .iter()
                    .find(|s| normalize(s.name()) == name && s.r#type().as_str() == t)
                {
                    changes.push(
                        change(ChangeAction::Delete, set.clone())
                            .map_err(|d| self.failed(scope, what, d))?,
                    );
                }
            }
            if changes.is_empty() {
                return Ok(());
            }
            match self
                .change_records(scope, zone_id, what, changes, progress)
                .await
            {
                Ok(()) => return Ok(()),
                // Changed between the read and the delete: read again.
                Err(ProviderError::Api { detail, .. }) if detail.contains("InvalidChangeBatch") => {
                }
                Err(e) => return Err(e),
            }
        }
        Err(self.failed(
            scope,
            what,
            "the record kept changing while being deleted".into(),
        ))
    }
}
