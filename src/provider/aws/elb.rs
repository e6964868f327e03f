//! Classic ELB: one `DescribeLoadBalancers` (pages of 400) and `DescribeTags` in batches
//! of 20 names, the most it takes; cross-zone balancing is per balancer, so it is read
//! only in deep mode and otherwise compared through its tag.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancing::types::{
    CrossZoneLoadBalancing, HealthCheck, Instance, Listener, LoadBalancerAttributes,
    LoadBalancerDescription, Tag, TagKeyOnly,
};

use aws_sdk_elasticloadbalancing::operation::describe_tags::DescribeTagsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::{Aws, Ids, Tagged, code};
use crate::provider::{
    Applied, Desired, LiveResource, MemberHealth, Progress, ProviderError, Scope, Value, flag,
};
use crate::stack::Address;
use crate::stack::model::Spec;

pub(super) struct RawBalancer {
    pub address: Address,
    pub balancer: LoadBalancerDescription,
    pub tagged: Tagged,
    pub cross_zone: Option<bool>,
}

const TAG_BATCH: usize = 20;

impl Aws {
    /// Every classic load balancer of the region (paginated DescribeLoadBalancers).
    pub(super) async fn all_balancers(
        &self,
        scope: &Scope,
    ) -> Result<Vec<LoadBalancerDescription>, ProviderError> {
        let pages = self
            .elb
            .describe_load_balancers()
            .page_size(400)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error(scope, "describe load balancers", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.load_balancer_descriptions())
            .cloned()
            .collect())
    }

    /// The tags of the balancers `names`, by name: DescribeTags for 20 at a time. One
    /// deleted since it was listed (anyone's) is no part of live state: the rest of its
    /// batch is read one by one, and it is left out.
    pub(super) async fn balancer_tags(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> Result<BTreeMap<String, Tagged>, ProviderError> {
        let describe = |names: Vec<String>| {
            self.elb
                .describe_tags()
                .set_load_balancer_names(Some(names))
                .send()
        };
        let gone =
            |e: &SdkError<DescribeTagsError, HttpResponse>| code(e) == Some("LoadBalancerNotFound");
        let mut outputs = Vec::new();
        for batch in names.chunks(TAG_BATCH) {
            match describe(batch.to_vec()).await {
                Ok(output) => outputs.push(output),
                Err(e) if gone(&e) => {
                    for name in batch {
                        match describe(vec![name.clone()]).await {
                            Ok(output) => outputs.push(output),
                            Err(e) if gone(&e) => {}
                            Err(e) => {
                                return Err(self.error(scope, "describe load balancer tags", e));
                            }
                        }
                    }
                }
                Err(e) => return Err(self.error(scope, "describe load balancer tags", e)),
            }
        }
        Ok(outputs
            .iter()
            .flat_map(|o| o.tag_descriptions())
            .filter_map(|d| {
                let tags = d
                    .tags()
                    .iter()
                    .map(|t| (t.key(), t.value().unwrap_or_default()));
                Some((d.load_balancer_name()?.to_string(), Tagged::new(tags)))
            })
            .collect())
    }

    pub(super) async fn read_load_balancers(
        &self,
        scope: &Scope,
    ) -> Result<Vec<RawBalancer>, ProviderError> {
        let all = self.all_balancers(scope).await?;
        let names: Vec<String> = all
            .iter()
            .filter_map(|b| b.load_balancer_name())
            .map(String::from)
            .collect();
        let mut tags = self.balancer_tags(scope, &names).await?;
        let mut out = Vec::new();
        for balancer in &all {
            let name = balancer.load_balancer_name().unwrap_or_default();
            // A balancer without tags may be one `[import]` names.
            let tagged = tags.remove(name).unwrap_or_else(|| Tagged::new([]));
            let Some(address) = self.claim(scope, crate::stack::Kind::LoadBalancer, &tagged, name)
            else {
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
        (
            "subnets".to_string(),
            Value::list(b.subnets().iter().cloned()),
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
        ("prevent_destroy".to_string(), raw.tagged.prevent_destroy()),
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
        expires: raw.tagged.expires(),
    }
}

// ---------------------------------------------------------------------------------------
// The write side: create with its tags, then converge listeners, zones, health check,
// cross-zone balancing, groups and instances to the stack, changing only what differs.

fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

fn listener(l: &crate::stack::model::Listener) -> Option<Listener> {
    Listener::builder()
        .protocol(&l.protocol)
        .load_balancer_port(i32::from(l.port))
        .instance_protocol(&l.instance_protocol)
        .instance_port(i32::from(l.instance_port))
        .set_ssl_certificate_id(l.ssl_certificate_id.clone())
        .build()
        .ok()
}

impl Aws {
    async fn describe_balancer(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<LoadBalancerDescription, ProviderError> {
        let output = self
            .elb
            .describe_load_balancers()
            .load_balancer_names(name)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("read load balancer `{name}`"), e))?;
        output
            .load_balancer_descriptions()
            .first()
            .cloned()
            .ok_or_else(|| self.failed(scope, "read load balancer", format!("`{name}` is gone")))
    }

    /// Whether the balancer `name` carries `want`'s address tag.
    async fn balancer_is_ours(
        &self,
        scope: &Scope,
        name: &str,
        want: &Desired<'_>,
    ) -> Result<bool, ProviderError> {
        let output = self
            .elb
            .describe_tags()
            .load_balancer_names(name)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("read tags of `{name}`"), e))?;
        let address = want.resource.address.to_string();
        Ok(output.tag_descriptions().iter().any(|d| {
            let tagged = Tagged::new(
                d.tags()
                    .iter()
                    .map(|t| (t.key(), t.value().unwrap_or_default())),
            );
            tagged
                .address(scope, name)
                .is_some_and(|a| a.to_string() == address)
        }))
    }

    pub(super) async fn create_balancer(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::LoadBalancer(lb) = &want.resource.spec else {
            return Err(self.failed(scope, "create load balancer", "not a balancer".into()));
        };
        let name = want.resource.physical_name.as_str();
        let what = format!("create load balancer `{name}`");
        let groups = lb
            .security_groups
            .iter()
            .map(|g| want.group_id(g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|d| self.failed(scope, &what, d))?;
        let created = self
            .elb
            .create_load_balancer()
            .load_balancer_name(name)
            .set_listeners(Some(lb.listeners.iter().filter_map(listener).collect()))
            // Subnets (in the env's VPC) or zones (the default VPC), never both.
            .set_availability_zones(lb.subnets.is_empty().then(|| lb.availability_zones.clone()))
            .set_subnets((!lb.subnets.is_empty()).then(|| lb.subnets.clone()))
            .set_security_groups((!groups.is_empty()).then_some(groups))
            .set_tags(Some(elb_tags(&want.tags)))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // AWS answers a repeat with the same settings with success; the emulator, and
            // AWS for other settings, with this: ours if it carries our address.
            Err(e) if code(&e) == Some("DuplicateLoadBalancerName") => {
                if !self.balancer_is_ours(scope, name, want).await? {
                    return Err(self.failed(
                        scope,
                        &what,
                        "a load balancer of that name exists and is not part of this stack".into(),
                    ));
                }
            }
            Err(e) => return Err(self.error(scope, &what, e)),
        }
        self.converge_balancer(scope, name, want, None).await
    }

    pub(super) async fn update_balancer(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        self.converge_balancer(scope, &live.id, want, Some(live))
            .await
    }

    async fn converge_balancer(
        &self,
        scope: &Scope,
        name: &str,
        want: &Desired<'_>,
        live: Option<&LiveResource>,
    ) -> Result<Applied, ProviderError> {
        let Spec::LoadBalancer(lb) = &want.resource.spec else {
            return Err(self.failed(scope, "change load balancer", "not a balancer".into()));
        };
        let what = format!("change load balancer `{name}`");
        let now = self.describe_balancer(scope, name).await?;
        let fail = |d: String| self.failed(scope, &what, d);

        // Listeners: a listener is known by its port; one that differs is replaced.
        let desired: Vec<Listener> = lb.listeners.iter().filter_map(listener).collect();
        let current: Vec<Listener> = now
            .listener_descriptions()
            .iter()
            .filter_map(|d| d.listener().cloned())
            .collect();
        let same = |a: &Listener, b: &Listener| {
            a.load_balancer_port() == b.load_balancer_port()
                && a.protocol().eq_ignore_ascii_case(b.protocol())
                && a.instance_port() == b.instance_port()
                && a.instance_protocol()
                    .unwrap_or(a.protocol())
                    .eq_ignore_ascii_case(b.instance_protocol().unwrap_or(b.protocol()))
                && a.ssl_certificate_id() == b.ssl_certificate_id()
        };
        let stale: Vec<i32> = current
            .iter()
            .filter(|c| !desired.iter().any(|d| same(d, c)))
            .map(|c| c.load_balancer_port())
            .collect();
        if !stale.is_empty() {
            self.elb
                .delete_load_balancer_listeners()
                .load_balancer_name(name)
                .set_load_balancer_ports(Some(stale))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        let missing: Vec<Listener> = desired
            .iter()
            .filter(|d| !current.iter().any(|c| same(d, c)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.elb
                .create_load_balancer_listeners()
                .load_balancer_name(name)
                .set_listeners(Some(missing))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }

        // Zones: enable new ones before disabling old ones. A balancer in subnets serves
        // their zones (a change of subnets replaces it).
        let zones = if lb.subnets.is_empty() {
            now.availability_zones()
        } else {
            &[]
        };
        let enable: Vec<String> = lb
            .availability_zones
            .iter()
            .filter(|z| !zones.contains(z))
            .cloned()
            .collect();
        if !enable.is_empty() {
            self.elb
                .enable_availability_zones_for_load_balancer()
                .load_balancer_name(name)
                .set_availability_zones(Some(enable))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        let disable: Vec<String> = zones
            .iter()
            .filter(|z| !lb.availability_zones.contains(z))
            .cloned()
            .collect();
        if !disable.is_empty() && lb.subnets.is_empty() {
            self.elb
                .disable_availability_zones_for_load_balancer()
                .load_balancer_name(name)
                .set_availability_zones(Some(disable))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }

        if let Some(h) = &lb.health_check {
            let current = now.health_check();
            let differs = current.is_none_or(|c| {
                !c.target().eq_ignore_ascii_case(&h.target)
                    || c.interval() != h.interval as i32
                    || c.timeout() != h.timeout as i32
                    || c.unhealthy_threshold() != h.unhealthy_threshold as i32
                    || c.healthy_threshold() != h.healthy_threshold as i32
            });
            if differs {
                let check = HealthCheck::builder()
                    .target(&h.target)
                    .interval(h.interval as i32)
                    .timeout(h.timeout as i32)
                    .unhealthy_threshold(h.unhealthy_threshold as i32)
                    .healthy_threshold(h.healthy_threshold as i32)
                    .build()
                    .map_err(|e| fail(e.to_string()))?;
                self.elb
                    .configure_health_check()
                    .load_balancer_name(name)
                    .health_check(check)
                    .send()
                    .await
                    .map_err(|e| self.error(scope, &what, e))?;
            }
        }

        let groups = lb
            .security_groups
            .iter()
            .map(|g| want.group_id(g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let mut sorted_now: Vec<String> = now.security_groups().to_vec();
        sorted_now.sort();
        let mut sorted_want = groups.clone();
        sorted_want.sort();
        if !groups.is_empty() && sorted_now != sorted_want {
            self.elb
                .apply_security_groups_to_load_balancer()
                .load_balancer_name(name)
                .set_security_groups(Some(groups))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }

        // Cross-zone balancing is read per balancer: set it on create, or when it changes.
        if live.is_none() || want.changed.contains("cross_zone") {
            let attributes = LoadBalancerAttributes::builder()
                .cross_zone_load_balancing(
                    CrossZoneLoadBalancing::builder()
                        .enabled(lb.cross_zone)
                        .build(),
                )
                .build();
            self.elb
                .modify_load_balancer_attributes()
                .load_balancer_name(name)
                .load_balancer_attributes(attributes)
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }

        // Instances: register the stack's, deregister the rest.
        let wanted = lb
            .instances
            .iter()
            .map(|a| want.id_of(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let registered: Vec<&str> = now
            .instances()
            .iter()
            .filter_map(|i| i.instance_id())
            .collect();
        let register: Vec<Instance> = wanted
            .iter()
            .filter(|i| !registered.contains(&i.as_str()))
            .map(|i| Instance::builder().instance_id(i).build())
            .collect();
        if !register.is_empty() {
            self.elb
                .register_instances_with_load_balancer()
                .load_balancer_name(name)
                .set_instances(Some(register))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        let deregister: Vec<Instance> = registered
            .iter()
            .filter(|i| !wanted.iter().any(|w| w == *i))
            .map(|i| Instance::builder().instance_id(*i).build())
            .collect();
        if !deregister.is_empty() {
            self.elb
                .deregister_instances_from_load_balancer()
                .load_balancer_name(name)
                .set_instances(Some(deregister))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }

        if let Some(live) = live {
            let stale: Vec<TagKeyOnly> = super::stale_tags(live, want)
                .into_iter()
                .map(|k| TagKeyOnly::builder().key(k).build())
                .collect();
            if !stale.is_empty() {
                self.elb
                    .remove_tags()
                    .load_balancer_names(name)
                    .set_tags(Some(stale))
                    .send()
                    .await
                    .map_err(|e| self.error(scope, &what, e))?;
            }
            self.elb
                .add_tags()
                .load_balancer_names(name)
                .set_tags(Some(elb_tags(&want.tags)))
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        Ok(Applied {
            id: name.to_string(),
            outputs: BTreeMap::from([
                (
                    "dns_name".to_string(),
                    now.dns_name().unwrap_or_default().to_string(),
                ),
                ("name".to_string(), name.to_string()),
            ]),
        })
    }

    pub(super) async fn destroy_balancer(
        &self,
        scope: &Scope,
        live: &LiveResource,
    ) -> Result<(), ProviderError> {
        // Deleting a balancer that is gone succeeds.
        self.elb
            .delete_load_balancer()
            .load_balancer_name(&live.id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error(scope, &format!("delete load balancer `{}`", live.id), e))
    }
}

// ---------------------------------------------------------------------------------------
// Members, one at a time: what a rolling replacement does to a balancer.

/// How long deregistration may wait beyond the balancer's draining timeout.
const DRAIN_SLACK: std::time::Duration = std::time::Duration::from_secs(30);

fn members(ids: &[String]) -> Vec<Instance> {
    ids.iter()
        .map(|i| Instance::builder().instance_id(i).build())
        .collect()
}

impl Aws {
    pub(super) async fn register_members(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> Result<(), ProviderError> {
        let name = balancer.id.as_str();
        // The answer lists the members; the emulator's is empty, so it is not relied on.
        self.elb
            .register_instances_with_load_balancer()
            .load_balancer_name(name)
            .set_instances(Some(members(ids)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                self.error(
                    scope,
                    &format!("register {} with `{name}`", ids.join(", ")),
                    e,
                )
            })
    }

    pub(super) async fn deregister_members(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let name = balancer.id.as_str();
        let what = format!("deregister {} from `{name}`", ids.join(", "));
        let now = self.describe_balancer(scope, name).await?;
        let registered: Vec<String> = now
            .instances()
            .iter()
            .filter_map(|i| i.instance_id())
            .filter(|i| ids.iter().any(|w| w == i))
            .map(String::from)
            .collect();
        if registered.is_empty() {
            return Ok(());
        }
        self.elb
            .deregister_instances_from_load_balancer()
            .load_balancer_name(name)
            .set_instances(Some(members(&registered)))
            .send()
            .await
            .map_err(|e| self.error(scope, &what, e))?;
        // With connection draining on, AWS keeps a deregistered member in service until
        // its open requests finish or the draining timeout passes.
        let attributes = self
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_name(name)
            .send()
            .await
            .map_err(|e| self.error(scope, &what, e))?;
        let draining = attributes
            .load_balancer_attributes()
            .and_then(|a| a.connection_draining())
            .filter(|d| d.enabled())
            .map(|d| std::time::Duration::from_secs(d.timeout().unwrap_or(300).max(0) as u64));
        let Some(timeout) = draining else {
            return Ok(());
        };
        progress(&format!(
            "draining connections of {} on `{name}` (up to {}s)",
            registered.join(", "),
            timeout.as_secs()
        ));
        super::wait_for(
            &format!("connection draining on `{name}`"),
            timeout + DRAIN_SLACK,
            progress,
            || async {
                let health = self
                    .member_health(scope, balancer, &registered)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(health.iter().all(|h| !h.in_service()).then_some(()))
            },
        )
        .await
        .map_err(|d| self.failed(scope, &what, d))
    }

    pub(super) async fn member_health(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> Result<Vec<MemberHealth>, ProviderError> {
        let name = balancer.id.as_str();
        let output = self
            .elb
            .describe_instance_health()
            .load_balancer_name(name)
            .set_instances(Some(members(ids)))
            .send()
            .await;
        let output = match output {
            Ok(o) => o,
            // AWS answers a member that is no longer registered with this.
            Err(e) if code(&e) == Some("InvalidInstance") => {
                return Ok(ids
                    .iter()
                    .map(|id| MemberHealth {
                        id: id.clone(),
                        state: "Unknown".into(),
                        reason: None,
                        description: Some("not registered".into()),
                    })
                    .collect());
            }
            Err(e) => {
                return Err(self.error(scope, &format!("read member health of `{name}`"), e));
            }
        };
        Ok(output
            .instance_states()
            .iter()
            .map(|s| MemberHealth {
                id: s.instance_id().unwrap_or_default().to_string(),
                state: s.state().unwrap_or("Unknown").to_string(),
                reason: s.reason_code().map(String::from),
                description: s.description().map(String::from),
            })
            .collect())
    }
}
