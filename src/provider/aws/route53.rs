//! Route 53: per hosted zone, `ListHostedZonesByName` to find it and
//! `ListResourceRecordSets` (pages of 300) to read it. A record belongs to the stack when
//! its ownership TXT record (see [`ownership`]) names the stack, env and address.

use std::collections::BTreeMap;

use aws_sdk_route53::types::{ResourceRecordSet, RrType};

use super::Aws;
use crate::provider::{LiveResource, ProviderError, Scope, Value, ownership};

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

    pub(super) async fn read_records(
        &self,
        scope: &Scope,
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let mut out = Vec::new();
        for zone in &scope.zones {
            let Some(id) = self.zone_id(scope, zone).await? else {
                return Err(ProviderError::Api {
                    action: format!("find hosted zone `{zone}`"),
                    stack: scope.stack.clone(),
                    detail: "no public hosted zone has that name in this account".into(),
                });
            };
            let sets = self.record_sets(scope, &id).await?;
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
                    let mut attrs = BTreeMap::from([
                        ("fqdn".to_string(), Value::text(&fqdn)),
                        ("type".to_string(), Value::text(&record_type)),
                        ("zone".to_string(), Value::text(zone)),
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
                    });
                }
            }
        }
        Ok(out)
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
