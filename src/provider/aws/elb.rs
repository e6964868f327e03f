//! Classic ELB: one `DescribeLoadBalancers` (pages of 400) and `DescribeTags` in batches
//! of 20 names, the most it takes; cross-zone balancing is per balancer, so it is read
//! only in deep mode and otherwise compared through its tag.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancing::types::LoadBalancerDescription;

use super::{Aws, Ids, Tagged};
use crate::provider::{LiveResource, ProviderError, Scope, Value, flag};
use crate::stack::Address;

pub(super) struct RawBalancer {
    pub address: Address,
    pub balancer: LoadBalancerDescription,
    pub tagged: Tagged,
    pub cross_zone: Option<bool>,
}

const TAG_BATCH: usize = 20;

impl Aws {
    pub(super) async fn read_load_balancers(
        &self,
        scope: &Scope,
    ) -> Result<Vec<RawBalancer>, ProviderError> {
        let pages = self
            .elb
            .describe_load_balancers()
            .page_size(400)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "describe load balancers", e))?;
        let all: Vec<&LoadBalancerDescription> = pages
            .iter()
            .flat_map(|p| p.load_balancer_descriptions())
            .collect();
        let names: Vec<String> = all
            .iter()
            .filter_map(|b| b.load_balancer_name())
            .map(String::from)
            .collect();
        let mut tags: BTreeMap<String, Tagged> = BTreeMap::new();
        for batch in names.chunks(TAG_BATCH) {
            let output = self
                .elb
                .describe_tags()
                .set_load_balancer_names(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| self.error(scope, "describe load balancer tags", e))?;
            for description in output.tag_descriptions() {
                let Some(name) = description.load_balancer_name() else {
                    continue;
                };
                let tagged = Tagged::new(
                    description
                        .tags()
                        .iter()
                        .map(|t| (t.key(), t.value().unwrap_or_default())),
                );
                tags.insert(name.to_string(), tagged);
            }
        }
        let mut out = Vec::new();
        for balancer in all {
            let Some(tagged) = balancer.load_balancer_name().and_then(|n| tags.remove(n)) else {
                continue;
            };
            let Some(address) = tagged.address(scope) else {
                continue;
            };
            out.push(RawBalancer {
                address,
                balancer: balancer.clone(),
                tagged,
                cross_zone: None,
            });
        }
        Ok(out)
    }

    pub(super) async fn read_load_balancers_deep(
        &self,
        scope: &Scope,
        mut balancers: Vec<RawBalancer>,
    ) -> Result<Vec<RawBalancer>, ProviderError> {
        for raw in &mut balancers {
            let name = raw.balancer.load_balancer_name().unwrap_or_default();
            let output = self
                .elb
                .describe_load_balancer_attributes()
                .load_balancer_name(name)
                .send()
                .await
                .map_err(|e| self.error(scope, "describe load balancer attributes", e))?;
            raw.cross_zone = output
                .load_balancer_attributes()
                .and_then(|a| a.cross_zone_load_balancing())
                .map(|c| c.enabled());
        }
        Ok(balancers)
    }
}

pub(super) fn resource(raw: &RawBalancer, ids: &Ids) -> LiveResource {
    let b = &raw.balancer;
    let name = b.load_balancer_name().unwrap_or_default().to_string();
    let listeners = b
        .listener_descriptions()
        .iter()
        .filter_map(|d| d.listener())
        .map(|l| {
            let mut text = format!(
                "{}:{} -> {}:{}",
                l.protocol().to_ascii_uppercase(),
                l.load_balancer_port(),
                l.instance_protocol()
                    .unwrap_or(l.protocol())
                    .to_ascii_uppercase(),
                l.instance_port()
            );
            if let Some(cert) = l.ssl_certificate_id() {
                text.push_str(&format!(" cert={cert}"));
            }
            text
        });
    let mut attrs = BTreeMap::from([
        ("name".to_string(), Value::text(&name)),
        (
            "availability_zones".to_string(),
            Value::list(b.availability_zones().iter().cloned()),
        ),
        ("listeners".to_string(), Value::list(listeners)),
        (
            "instances".to_string(),
            Value::list(
                b.instances()
                    .iter()
                    .filter_map(|i| i.instance_id())
                    .map(|i| ids.instance(i)),
            ),
        ),
        (
            "security_groups".to_string(),
            Value::list(b.security_groups().iter().map(|g| ids.group(g))),
        ),
        ("tags".to_string(), raw.tagged.user_tags()),
    ]);
    if let Some(h) = b.health_check() {
        let target = match h.target().split_once(':') {
            Some((protocol, rest)) => format!("{}:{rest}", protocol.to_ascii_uppercase()),
            None => h.target().to_string(),
        };
        attrs.insert(
            "health_check".into(),
            Value::Text(format!(
                "{target} every {}s, timeout {}s, unhealthy {}, healthy {}",
                h.interval(),
                h.timeout(),
                h.unhealthy_threshold(),
                h.healthy_threshold()
            )),
        );
    }
    if let Some(v) = raw
        .cross_zone
        .map(flag)
        .or_else(|| raw.tagged.tracked("cross_zone"))
    {
        attrs.insert("cross_zone".into(), v);
    }
    let outputs = BTreeMap::from([
        (
            "dns_name".to_string(),
            b.dns_name().unwrap_or_default().to_string(),
        ),
        ("name".to_string(), name.clone()),
    ]);
    LiveResource {
        address: raw.address.clone(),
        id: name,
        attrs,
        outputs,
        applied: raw.tagged.applied(),
    }
}
