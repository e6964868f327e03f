//! EC2 instances: read with one tag-filtered call (and, `--deep`, their user data,
//! shutdown behaviour and root volume per instance), launched idempotently with a
//! ClientToken, changed in place where EC2 allows (stopping for a type change), and
//! terminated, each write waiting for the state it asked for.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, InstanceAttributeName, InstanceStateName, ResourceType};

use super::{address_filters, tag_spec, tagged};
use crate::provider::aws::{
    Aws, Ids, Tagged, backoff, code, settle, tag_filters, transient, wait_for,
};
use crate::provider::{
    Applied, Desired, LiveResource, Progress, ProviderError, Scope, TAG_RETIRING, Value,
};
use crate::stack::model::Spec;
use crate::stack::{Address, Kind};

/// An instance as read, before ids are mapped to addresses.
pub(in crate::provider::aws) struct RawInstance {
    pub id: String,
    pub address: Address,
    pub instance: aws_sdk_ec2::types::Instance,
    pub tagged: Tagged,
    /// Read per instance, in deep mode only.
    pub deep: BTreeMap<String, Value>,
    /// A member of a batched launch without its address tag: `address` is the one its
    /// batch tag and launch index say it was launched for.
    pub stray: bool,
}

/// States in which an instance still exists (and still holds its address).
pub(super) const LIVE_STATES: [&str; 5] =
    ["pending", "running", "stopping", "stopped", "shutting-down"];
/// How long an instance may take to reach `running`, `stopped` or `terminated`.
pub(super) const INSTANCE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// Attempts at RunInstances when AWS does not answer (each repeats the ClientToken).
pub(super) const LAUNCH_ATTEMPTS: u32 = 6;

impl Aws {
    pub(in crate::provider::aws) async fn read_instances(
        &self,
        scope: &Scope,
    ) -> Result<Vec<RawInstance>, ProviderError> {
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
            .build();
        let imports = crate::provider::aws::imports::ids_of(scope, Kind::Instance);
        let mut queries = vec![tag_filters(scope)];
        if !imports.is_empty() {
            queries.push(vec![
                Filter::builder()
                    .name("instance-id")
                    .set_values(Some(imports))
                    .build(),
            ]);
        }
        let mut pages = Vec::new();
        for filters in queries {
            pages.extend(
                self.ec2
                    .describe_instances()
                    .set_filters(Some(filters))
                    .filters(state.clone())
                    .max_results(1000)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| self.error(scope, "describe instances", e))?,
            );
        }
        let mut out = Vec::new();
        let mut read = std::collections::BTreeSet::new();
        for instance in pages
            .iter()
            .flat_map(|p| p.reservations())
            .flat_map(|r| r.instances())
        {
            let tagged = tagged(instance.tags());
            let Some(id) = instance.instance_id() else {
                continue;
            };
            if !read.insert(id.to_string()) {
                continue;
            }
            let (address, stray) = if let Some(address) = tagged.address(scope, id) {
                (address, false)
            } else if let Some(address) = tagged.batch_address(scope, instance.ami_launch_index()) {
                (address, true)
            } else {
                match self.claim(scope, Kind::Instance, &tagged, id) {
                    Some(address) => (address, false),
                    None => continue,
                }
            };
            out.push(RawInstance {
                id: id.to_string(),
                address,
                instance: instance.clone(),
                tagged,
                deep: BTreeMap::new(),
                stray,
            });
        }
        Ok(out)
    }

    /// `--deep`: user data, shutdown behaviour and root volume size, per instance.
    pub(in crate::provider::aws) async fn read_instances_deep(
        &self,
        scope: &Scope,
        mut instances: Vec<RawInstance>,
    ) -> Result<Vec<RawInstance>, ProviderError> {
        let mut volume_ids = BTreeMap::new();
        for raw in &instances {
            let root = raw.instance.root_device_name().unwrap_or_default();
            for mapping in raw.instance.block_device_mappings() {
                if mapping.device_name() == Some(root)
                    && let Some(v) = mapping.ebs().and_then(|e| e.volume_id())
                {
                    volume_ids.insert(v.to_string(), raw.id.clone());
                }
            }
        }
        let mut sizes = BTreeMap::new();
        if !volume_ids.is_empty() {
            let pages = self
                .ec2
                .describe_volumes()
                .set_volume_ids(Some(volume_ids.keys().cloned().collect()))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| self.error(scope, "describe root volumes", e))?;
            for volume in pages.iter().flat_map(|p| p.volumes()) {
                if let (Some(id), Some(size)) = (volume.volume_id(), volume.size())
                    && let Some(instance) = volume_ids.get(id)
                {
                    sizes.insert(instance.clone(), size);
                }
            }
        }
        for raw in &mut instances {
            let user_data = self
                .ec2
                .describe_instance_attribute()
                .instance_id(&raw.id)
                .attribute(InstanceAttributeName::UserData)
                .send()
                .await
                .map_err(|e| self.error(scope, "read user data", e))?;
            let text = user_data
                .user_data()
                .and_then(|v| v.value())
                .map(|b64| decode_user_data(b64, &scope.secrets))
                .unwrap_or_default();
            raw.deep.insert("user_data".into(), Value::Text(text));
            let shutdown = self
                .ec2
                .describe_instance_attribute()
                .instance_id(&raw.id)
                .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
                .send()
                .await
                .map_err(|e| self.error(scope, "read shutdown behaviour", e))?;
            if let Some(v) = shutdown
                .instance_initiated_shutdown_behavior()
                .and_then(|v| v.value())
            {
                raw.deep.insert("shutdown_behavior".into(), Value::text(v));
            }
            if let Some(size) = sizes.get(&raw.id) {
                raw.deep
                    .insert("root_volume_gb".into(), Value::text(size.to_string()));
            }
        }
        Ok(instances)
    }

    /// The root device name of an AMI (`/dev/sda1`, `/dev/xvda`) and its size in GiB
    /// (when the image says), looked up once.
    pub(crate) async fn root_device(
        &self,
        scope: &Scope,
        ami: &str,
    ) -> Result<(String, Option<i32>), ProviderError> {
        if let Some(d) = self
            .root_devices
            .lock()
            .ok()
            .and_then(|m| m.get(ami).cloned())
        {
            return Ok(d);
        }
        let output = self
            .ec2
            .describe_images()
            .image_ids(ami)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("read AMI `{ami}`"), e))?;
        let image = output.images().first();
        let device = image
            .and_then(|i| i.root_device_name())
            .ok_or_else(|| {
                self.failed(
                    scope,
                    &format!("read AMI `{ami}`"),
                    "no such image in this region".into(),
                )
            })?
            .to_string();
        let size = image.and_then(|i| {
            i.block_device_mappings()
                .iter()
                .find(|m| m.device_name() == Some(device.as_str()))
                .and_then(|m| m.ebs())
                .and_then(|e| e.volume_size())
        });
        if let Ok(mut m) = self.root_devices.lock() {
            m.insert(ami.to_string(), (device.clone(), size));
        }
        Ok((device, size))
    }

    /// The instance launched for `address` with the `stackwright:applied` codes
    /// `applied`, if there is one (not one a rolling apply is retiring).
    async fn find_instance(
        &self,
        scope: &Scope,
        address: &Address,
        applied: &str,
    ) -> Result<Option<String>, ProviderError> {
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
            .build();
        let output = self
            .ec2
            .describe_instances()
            .set_filters(Some(address_filters(scope, address)))
            .filters(state)
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("look for `{address}`"), e))?;
        // Not one a rolling apply is retiring: that is the instance being replaced.
        Ok(output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                let t = tagged(i.tags());
                !t.retiring() && t.applied().as_deref() == Some(applied)
            })
            .find_map(|i| i.instance_id())
            .map(String::from))
    }

    /// Tag (or untag) an instance as being retired by a rolling replacement.
    pub(in crate::provider::aws) async fn tag_retiring(
        &self,
        scope: &Scope,
        live: &LiveResource,
        retiring: bool,
    ) -> Result<(), ProviderError> {
        let id = live.id.as_str();
        let tag = aws_sdk_ec2::types::Tag::builder()
            .key(TAG_RETIRING)
            .value(live.address.to_string())
            .build();
        let what = format!("tag `{id}` as retiring");
        if retiring {
            self.ec2
                .create_tags()
                .resources(id)
                .tags(tag)
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        } else {
            self.ec2
                .delete_tags()
                .resources(id)
                .tags(aws_sdk_ec2::types::Tag::builder().key(TAG_RETIRING).build())
                .send()
                .await
                .map_err(|e| self.error(scope, &what, e))?;
        }
        Ok(())
    }

    /// Launch an instance. RunInstances carries a ClientToken, so AWS launches at most one
    /// instance for repeats of the call; the SDK's own retries are off for it, and before
    /// each repeat the instance is looked for by its address tag, which also keeps
    /// endpoints that ignore the token (the emulator) from launching a second.
    pub(in crate::provider::aws) async fn create_instance(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let address = &want.resource.address;
        let what = format!("launch `{address}`");
        let fail = |d: String| self.failed(scope, &what, d);
        let launch = self.launch_request(scope, want).await?;
        let encoded = launch.encoded;
        let request = launch
            .builder
            .min_count(1)
            .max_count(1)
            .client_token(&want.token)
            .tag_specifications(tag_spec(ResourceType::Instance, &want.tags));
        // A roll a killed run left unfinished launched this address's successor already:
        // adopted, not launched twice (the same codes: launched for the same stack).
        if let Some(id) = self.find_instance(scope, address, &want.applied).await? {
            progress(&format!("adopting `{id}`, launched by an interrupted run"));
            return self
                .wait_for_instance(scope, &id, InstanceStateName::Running, progress)
                .await;
        }
        let no_retries = aws_sdk_ec2::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::disabled());
        let mut attempt = 0;
        let id = loop {
            let launched = request
                .clone()
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await;
            match launched {
                Ok(out) => {
                    break out
                        .instances()
                        .first()
                        .and_then(|i| i.instance_id())
                        .ok_or_else(|| fail("AWS returned no instance".into()))?
                        .to_string();
                }
                Err(e) if transient(&e) && attempt + 1 < LAUNCH_ATTEMPTS => {
                    progress("no answer from AWS; looking for the instance before trying again");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    if let Some(id) = self.find_instance(scope, address, &want.applied).await? {
                        break id;
                    }
                }
                Err(e) => return Err(hide_user_data(self.error(scope, &what, e), &encoded)),
            }
        };
        self.wait_for_instance(scope, &id, InstanceStateName::Running, progress)
            .await
    }

    /// Wait until the instance is in `state`; its outputs then.
    async fn wait_for_instance(
        &self,
        scope: &Scope,
        id: &str,
        state: InstanceStateName,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let what = format!("`{id}` to be {}", state.as_str());
        let instance = wait_for(&what, INSTANCE_WAIT, progress, || async {
            let output = settle(&["InvalidInstanceID.NotFound"], || {
                self.ec2.describe_instances().instance_ids(id).send()
            })
            .await
            .map_err(|e| self.error(scope, &format!("read `{id}`"), e).to_string())?;
            let instance = output
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .next()
                .cloned();
            let now = instance
                .as_ref()
                .and_then(|i| i.state())
                .and_then(|s| s.name())
                .cloned();
            match now {
                Some(s) if s == state => Ok(instance),
                Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
                    if state != InstanceStateName::Terminated =>
                {
                    let reason = instance
                        .as_ref()
                        .and_then(|i| i.state_reason())
                        .and_then(|r| r.message())
                        .unwrap_or("no reason given");
                    Err(format!("`{id}` was terminated: {reason}"))
                }
                _ => Ok(None),
            }
        })
        .await
        .map_err(|d| self.failed(scope, &format!("wait for {what}"), d))?;
        Ok(Applied {
            id: id.to_string(),
            outputs: instance_outputs(&instance),
        })
    }

    pub(in crate::provider::aws) async fn update_instance(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::Instance(spec) = &want.resource.spec else {
            return Err(self.failed(scope, "update instance", "not an instance".into()));
        };
        let id = live.id.as_str();
        let what = |s: &str| format!("{s} `{}` ({id})", want.resource.address);
        if want.changed.contains("security_groups") {
            let groups = spec
                .security_groups
                .iter()
                .map(|g| want.group_id(g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|d| self.failed(scope, &what("change security groups of"), d))?;
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(Some(groups))
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change security groups of"), e))?;
        }
        if want.changed.contains("shutdown_behavior") {
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .instance_initiated_shutdown_behavior(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value(spec.shutdown_behavior.as_str())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change shutdown behaviour of"), e))?;
        }
        if want.changed.contains("metadata_tokens") {
            // In place, no restart. The full set is sent: the emulator (and a careless
            // reading of the API) resets options a request leaves out.
            self.ec2
                .modify_instance_metadata_options()
                .instance_id(id)
                .http_tokens(aws_sdk_ec2::types::HttpTokensState::from(
                    spec.metadata_tokens.as_str(),
                ))
                .http_endpoint(aws_sdk_ec2::types::InstanceMetadataEndpointState::Enabled)
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change the metadata options of"), e))?;
        }
        if want.changed.contains("instance_type") {
            // EC2 changes the type only of a stopped instance.
            progress("stopping to change the instance type");
            self.ec2
                .stop_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| self.error(scope, &what("stop"), e))?;
            self.wait_for_instance(scope, id, InstanceStateName::Stopped, progress)
                .await?;
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .instance_type(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value(&spec.instance_type)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.error(scope, &what("change the type of"), e))?;
            progress("starting");
            self.ec2
                .start_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| self.error(scope, &what("start"), e))?;
        }
        self.retag(scope, id, live, want).await?;
        self.wait_for_instance(scope, id, InstanceStateName::Running, progress)
            .await
    }

    pub(in crate::provider::aws) async fn destroy_instance(
        &self,
        scope: &Scope,
        live: &LiveResource,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let id = live.id.as_str();
        let terminated = self
            .terminations
            .run(id, |ids| self.terminate_batch(scope, ids))
            .await;
        match terminated {
            Ok(()) => {}
            Err(gone) if gone == GONE => return Ok(()),
            Err(detail) => return Err(self.failed(scope, &format!("terminate `{id}`"), detail)),
        }
        // Its security groups can go only once it has.
        self.wait_for_instance(scope, id, InstanceStateName::Terminated, progress)
            .await
            .map(|_| ())
    }
}

/// The outcome of terminating an instance that does not exist (any more).
const GONE: &str = "InvalidInstanceID.NotFound";

impl Aws {
    /// One TerminateInstances for `ids`; each id's outcome. When AWS refuses the batch
    /// because an id does not exist (a sibling step's instance that another run
    /// terminated), each id is sent alone to tell which.
    async fn terminate_batch(&self, scope: &Scope, ids: Vec<String>) -> Vec<Result<(), String>> {
        match self
            .ec2
            .terminate_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
        {
            Ok(_) => ids.iter().map(|_| Ok(())).collect(),
            Err(e) if code(&e) == Some(GONE) && ids.len() > 1 => {
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    out.push(
                        match self.ec2.terminate_instances().instance_ids(id).send().await {
                            Ok(_) => Ok(()),
                            Err(e) if code(&e) == Some(GONE) => Err(GONE.to_string()),
                            Err(e) => Err(detail(self.error(scope, "terminate", e))),
                        },
                    );
                }
                out
            }
            Err(e) if code(&e) == Some(GONE) => vec![Err(GONE.to_string())],
            Err(e) => {
                let d = detail(self.error(scope, "terminate", e));
                ids.iter().map(|_| Err(d.clone())).collect()
            }
        }
    }
}

/// What went wrong, without the action and stack the caller names again.
fn detail(error: ProviderError) -> String {
    match error {
        ProviderError::Api { detail, .. } => detail,
        other => other.to_string(),
    }
}

/// An error that echoes the request holds the user data sent, in base64 (as sent, or
/// form-encoded): it may hold secrets, so it is not shown. (The engine masks each secret's
/// own base64 in every message as well.)
pub(super) fn hide_user_data(error: ProviderError, encoded: &Option<String>) -> ProviderError {
    let Some(b64) = encoded.as_deref().filter(|b| !b.is_empty()) else {
        return error;
    };
    let form = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let hide = |text: String| {
        text.replace(b64, "(user data: not shown)")
            .replace(&form, "(user data: not shown)")
    };
    match error {
        ProviderError::Api {
            action,
            stack,
            detail,
        } => ProviderError::Api {
            action,
            stack,
            detail: hide(detail),
        },
        ProviderError::Unreachable { endpoint, detail } => ProviderError::Unreachable {
            endpoint,
            detail: hide(detail),
        },
        ProviderError::NoCredentials { detail } => ProviderError::NoCredentials {
            detail: hide(detail),
        },
    }
}

/// User data as text, with every secret value replaced by its `${secret.NAME}`, so it
/// compares with the stack's template and is never printed.
fn decode_user_data(b64: &str, secrets: &BTreeMap<String, String>) -> String {
    use aws_smithy_types::base64;
    let bytes = base64::decode(b64).unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    for (name, value) in secrets {
        if !value.is_empty() {
            text = text.replace(value.as_str(), &format!("${{secret.{name}}}"));
        }
    }
    text
}

pub(in crate::provider::aws) fn instance_resource(raw: &RawInstance, ids: &Ids) -> LiveResource {
    let i = &raw.instance;
    let mut attrs = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        attrs.insert(k.to_string(), v);
    };
    put("ami", Value::text(i.image_id().unwrap_or_default()));
    put(
        "instance_type",
        Value::text(i.instance_type().map(|t| t.as_str()).unwrap_or_default()),
    );
    if let Some(subnet) = i.subnet_id() {
        put("subnet", Value::text(subnet));
    }
    if let Some(zone) = i.placement().and_then(|p| p.availability_zone()) {
        put("availability_zone", Value::text(zone));
    }
    put("key_name", Value::text(i.key_name().unwrap_or_default()));
    put(
        "security_groups",
        Value::list(
            i.security_groups()
                .iter()
                .filter_map(|g| g.group_id())
                .map(|g| ids.group(g)),
        ),
    );
    put("tags", raw.tagged.user_tags());
    put("prevent_destroy", raw.tagged.prevent_destroy());
    if let Some(tokens) = i.metadata_options().and_then(|m| m.http_tokens()) {
        put("metadata_tokens", Value::text(tokens.as_str()));
    }
    for name in ["user_data", "shutdown_behavior", "root_volume_gb"] {
        if let Some(v) = raw
            .deep
            .get(name)
            .cloned()
            .or_else(|| raw.tagged.tracked(name))
        {
            attrs.insert(name.to_string(), v);
        }
    }
    let outputs = instance_outputs(i);
    LiveResource {
        address: raw.address.clone(),
        id: raw.id.clone(),
        attrs,
        outputs,
        applied: raw.tagged.applied(),
        expires: raw.tagged.expires(),
    }
}

/// What `${instance.x.attr}` resolves to.
pub(super) fn instance_outputs(i: &aws_sdk_ec2::types::Instance) -> BTreeMap<String, String> {
    [
        ("id", i.instance_id()),
        ("public_dns", i.public_dns_name()),
        ("public_ip", i.public_ip_address()),
        ("private_dns", i.private_dns_name()),
        ("private_ip", i.private_ip_address()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.unwrap_or_default().to_string()))
    .collect()
}
