//! Batched launches ([`crate::provider::launch`]): the replicas that share a launch
//! specification go out in one RunInstances (MinCount = MaxCount), carrying the tags they
//! all have (the stack's, the env's, the applied codes) and the batch tag from the start;
//! then each gets its own (its address, its default `Name`): one CreateTags each, sent
//! together, since the values differ per instance. All are waited for with one
//! DescribeInstances a poll.

use std::collections::BTreeMap;

use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, Instance, InstanceStateName, Placement,
    ResourceType, ShutdownBehavior, Tag,
};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use super::instances::{INSTANCE_WAIT, LAUNCH_ATTEMPTS, LIVE_STATES, hide_user_data};
use super::tag_spec;
use crate::provider::aws::{Aws, backoff, settle, tag_filters, transient, wait_for};
use crate::provider::launch::{BatchTag, batch_token, split_launches};
use crate::provider::{Applied, Desired, Progress, ProviderError, Scope, TAG_ADDRESS, TAG_BATCH};
use crate::stack::model::Spec;

/// The most instances one RunInstances launches here (AWS takes as many as the account's
/// limits allow; a smaller launch fails fewer replicas when AWS refuses it).
const MOST_PER_CALL: usize = 100;

/// The length of a batch token (`sw-` and 32 hex digits).
const TOKEN_LEN: usize = 35;

/// A RunInstances request for one launch specification, without count, token or tags.
pub(super) struct LaunchRequest {
    pub builder: RunInstancesFluentBuilder,
    /// Everything the request sends (tags aside), as text: replicas with the same key can
    /// be launched together.
    pub key: String,
    /// The user data as sent (base64), to keep it out of errors.
    pub encoded: Option<String>,
}

type Outcome = Result<Applied, ProviderError>;

impl Aws {
    /// The request that launches `want`'s instance (count, token and tags aside).
    pub(super) async fn launch_request(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
    ) -> Result<LaunchRequest, ProviderError> {
        let Spec::Instance(spec) = &want.resource.spec else {
            return Err(self.failed(scope, "launch instance", "not an instance".into()));
        };
        let what = format!("launch `{}`", want.resource.address);
        let mut key = vec![
            spec.ami.clone(),
            spec.instance_type.clone(),
            spec.shutdown_behavior.as_str().to_string(),
        ];
        let mut request = self
            .ec2
            .run_instances()
            .image_id(&spec.ami)
            .instance_type(spec.instance_type.as_str().into())
            .instance_initiated_shutdown_behavior(ShutdownBehavior::from(
                spec.shutdown_behavior.as_str(),
            ))
            .metadata_options(
                aws_sdk_ec2::types::InstanceMetadataOptionsRequest::builder()
                    .http_tokens(aws_sdk_ec2::types::HttpTokensState::from(
                        spec.metadata_tokens.as_str(),
                    ))
                    .http_endpoint(aws_sdk_ec2::types::InstanceMetadataEndpointState::Enabled)
                    .build(),
            );
        key.push(format!("tokens {}", spec.metadata_tokens.as_str()));
        if let Some(k) = want.text("key_name") {
            request = request.key_name(k);
            key.push(format!("key {k}"));
        }
        for g in &spec.security_groups {
            let id = want.group_id(g).map_err(|d| self.failed(scope, &what, d))?;
            key.push(format!("group {id}"));
            request = request.security_group_ids(id);
        }
        if let Some(subnet) = &spec.subnet {
            request = request.subnet_id(subnet);
            key.push(format!("subnet {subnet}"));
        }
        if let Some(zone) = &spec.availability_zone {
            request = request.placement(Placement::builder().availability_zone(zone).build());
            key.push(format!("zone {zone}"));
        }
        let encoded = want
            .user_data
            .as_ref()
            .map(|u| aws_smithy_types::base64::encode(u.expose().as_bytes()));
        if let Some(encoded) = &encoded {
            request = request.user_data(encoded);
            // The key feeds the batch's ClientToken, which is a tag: it hashes the user
            // data as the stack writes it (`${secret.NAME}`), never with secret values.
            let text = want.text("user_data").unwrap_or_default();
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            key.push(format!("user data {hex}"));
        }
        if spec.root_volume_gb.is_some() || spec.root_volume_encrypted {
            let (device, image_size) = self.root_device(scope, &spec.ami).await?;
            let mut ebs = EbsBlockDevice::builder().delete_on_termination(true);
            // The image's own size when the stack gives none: the same volume AWS would
            // make, said explicitly (the emulator refuses a mapping without a size).
            let size = spec
                .root_volume_gb
                .map(|gb| i32::try_from(gb).unwrap_or(i32::MAX))
                .or(image_size);
            if let Some(gb) = size {
                ebs = ebs.volume_size(gb);
                key.push(format!("root {gb}"));
            }
            if spec.root_volume_encrypted {
                // With the account's default EBS key: no key to manage in the stack.
                ebs = ebs.encrypted(true);
                key.push("root encrypted".to_string());
            }
            request = request.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(ebs.build())
                    .build(),
            );
        }
        Ok(LaunchRequest {
            builder: request,
            key: key.join("\n"),
            encoded,
        })
    }

    /// Create the instances of `wants` (replicas of one block), those that share a launch
    /// specification together; each one's outcome, in order.
    pub(in crate::provider::aws) async fn create_instances(
        &self,
        scope: &Scope,
        wants: &[Desired<'_>],
        progress: &Progress<'_>,
    ) -> Vec<Outcome> {
        let mut results: Vec<Option<Outcome>> = (0..wants.len()).map(|_| None).collect();
        let mut launches: BTreeMap<(String, String), (LaunchRequest, Vec<usize>)> = BTreeMap::new();
        for (i, want) in wants.iter().enumerate() {
            match self.launch_request(scope, want).await {
                Ok(request) => {
                    let block = want.resource.address.name.clone();
                    launches
                        .entry((block, request.key.clone()))
                        .or_insert_with(|| (request, Vec::new()))
                        .1
                        .push(i);
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        // 1. Every launch, one RunInstances each; 2. every instance's own tags, sent
        // together; 3. one wait for all of them (an instance boots in tens of seconds on
        // AWS: the launches' boots overlap).
        let mut launched: Vec<(usize, String, Vec<Tag>)> = Vec::new();
        for ((block, _), (request, mut members)) in launches {
            members.sort_by_key(|i| wants[*i].resource.address.index);
            let indexes: Vec<u32> = members
                .iter()
                .map(|i| wants[*i].resource.address.index.unwrap_or(0))
                .collect();
            let mut at = 0;
            for chunk in split_launches(&block, &indexes, TOKEN_LEN, MOST_PER_CALL) {
                let these = &members[at..at + chunk.len()];
                at += chunk.len();
                let batch: Vec<&Desired<'_>> = these.iter().map(|i| &wants[*i]).collect();
                match self
                    .launch_together(scope, &request, &block, chunk, &batch, progress)
                    .await
                {
                    Ok(made) => {
                        for (k, i) in these.iter().enumerate() {
                            match made.get(k) {
                                Some((Some(id), own)) => {
                                    launched.push((*i, id.clone(), own.clone()));
                                }
                                _ => {
                                    results[*i] = Some(Err(self.failed(
                                        scope,
                                        &format!("launch `{}`", wants[*i].resource.address),
                                        format!(
                                            "AWS launched {} of {} instances; this replica \
                                             was not",
                                            made.iter().filter(|(id, _)| id.is_some()).count(),
                                            these.len()
                                        ),
                                    )));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        for i in these {
                            results[*i] = Some(Err(e.clone()));
                        }
                    }
                }
            }
        }
        if !launched.is_empty() {
            progress(&format!(
                "tagging {} instances launched together with their addresses",
                launched.len()
            ));
        }
        let mut tagging = JoinSet::new();
        for (i, id, own) in &launched {
            let (i, id, own) = (*i, id.clone(), own.clone());
            let ec2 = self.ec2.clone();
            tagging.spawn(crate::provider::aws::throttle::carried(async move {
                let sent = ec2
                    .create_tags()
                    .resources(&id)
                    .set_tags(Some(own))
                    .send()
                    .await;
                (i, id, sent)
            }));
        }
        while let Some(joined) = tagging.join_next().await {
            let Ok((i, id, Err(e))) = joined else {
                continue;
            };
            results[i] = Some(Err(self.error(scope, &format!("tag `{id}`"), e)));
        }
        let waiting: Vec<(usize, String)> = launched
            .into_iter()
            .filter(|(i, _, _)| results[*i].is_none())
            .map(|(i, id, _)| (i, id))
            .collect();
        let ids: Vec<String> = waiting.iter().map(|(_, id)| id.clone()).collect();
        match self.wait_running(scope, &ids, progress).await {
            Ok(states) => {
                for (i, id) in waiting {
                    let what = format!("launch `{}`", wants[i].resource.address);
                    results[i] = Some(match states.get(&id) {
                        Some(Ok(instance)) => Ok(Applied {
                            id,
                            outputs: super::instances::instance_outputs(instance),
                        }),
                        Some(Err(reason)) => Err(self.failed(
                            scope,
                            &what,
                            format!("`{id}` was terminated: {reason}"),
                        )),
                        None => Err(self.failed(scope, &what, format!("`{id}` was not seen"))),
                    });
                }
            }
            Err(e) => {
                for (i, _) in waiting {
                    results[i] = Some(Err(e.clone()));
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(self.failed(scope, "launch", "not launched".into()))))
            .collect()
    }

    /// One RunInstances for `batch` (replicas `indexes` of `block`, in that order): for
    /// each replica, in order, the id AWS gave it (by AmiLaunchIndex) and its own tags.
    async fn launch_together(
        &self,
        scope: &Scope,
        request: &LaunchRequest,
        block: &str,
        indexes: Vec<u32>,
        batch: &[&Desired<'_>],
        progress: &Progress<'_>,
    ) -> Result<Vec<(Option<String>, Vec<Tag>)>, ProviderError> {
        let n = batch.len();
        let what = format!("launch {n} replicas of `instance.{block}`");
        let token = batch_token(batch.iter().map(|w| w.token.as_str()), &request.key);
        let tag = BatchTag {
            block: block.to_string(),
            indexes,
            token: token.clone(),
        };
        // The tags every member has go with the launch; each member's own (its address,
        // its default `Name`) right after it.
        let mut tags = batch[0].tags.clone();
        tags.remove(TAG_ADDRESS);
        tags.retain(|k, v| batch.iter().all(|w| w.tags.get(k) == Some(v)));
        let own: Vec<Vec<Tag>> = batch
            .iter()
            .map(|w| {
                w.tags
                    .iter()
                    .filter(|(k, _)| !tags.contains_key(*k))
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect()
            })
            .collect();
        tags.insert(TAG_BATCH.to_string(), tag.value());
        let count = i32::try_from(n).unwrap_or(i32::MAX);
        let send = request
            .builder
            .clone()
            .min_count(count)
            .max_count(count)
            .client_token(&token)
            .tag_specifications(tag_spec(ResourceType::Instance, &tags));
        // Not retried by the SDK: a retry after a lost answer looks for the launch first
        // (AWS would answer the same ClientToken with the same instances; the emulator
        // would launch again).
        let no_retries = aws_sdk_ec2::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::disabled());
        progress(&format!(
            "launching instance.{block}[{}] together ({n} instances)",
            crate::provider::launch::encode_indexes(&tag.indexes)
        ));
        let mut attempt = 0;
        let launched: Vec<Instance> = loop {
            let sent = send
                .clone()
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await;
            match sent {
                Ok(out) => break out.instances().to_vec(),
                Err(e) if transient(&e) && attempt + 1 < LAUNCH_ATTEMPTS => {
                    progress("no answer from AWS; looking for the launch before trying again");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    let found = self.find_batch(scope, &tag.value()).await?;
                    if !found.is_empty() {
                        break found;
                    }
                }
                Err(e) => {
                    return Err(hide_user_data(
                        self.error(scope, &what, e),
                        &request.encoded,
                    ));
                }
            }
        };
        // AmiLaunchIndex k is the k-th replica of the batch.
        let mut out: Vec<(Option<String>, Vec<Tag>)> =
            own.into_iter().map(|tags| (None, tags)).collect();
        for instance in &launched {
            if let (Some(k), Some(id)) = (instance.ami_launch_index(), instance.instance_id())
                && let Some(slot) = usize::try_from(k).ok().and_then(|k| out.get_mut(k))
            {
                slot.0 = Some(id.to_string());
            }
        }
        Ok(out)
    }

    /// The live instances of one launch, by its batch tag.
    async fn find_batch(&self, scope: &Scope, value: &str) -> Result<Vec<Instance>, ProviderError> {
        let state = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
            .build();
        let batch = Filter::builder()
            .name(format!("tag:{TAG_BATCH}"))
            .values(value)
            .build();
        let output = self
            .ec2
            .describe_instances()
            .set_filters(Some(tag_filters(scope)))
            .filters(batch)
            .filters(state)
            .send()
            .await
            .map_err(|e| self.error(scope, "look for a launch", e))?;
        Ok(output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .cloned()
            .collect())
    }

    /// Wait until each of `ids` is running (its instance) or gone (why), with one
    /// DescribeInstances a poll for all of them.
    async fn wait_running(
        &self,
        scope: &Scope,
        ids: &[String],
        progress: &Progress<'_>,
    ) -> Result<BTreeMap<String, Result<Instance, String>>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let what = format!("{} instances to be running", ids.len());
        wait_for(&what, INSTANCE_WAIT, progress, || async {
            let output = settle(&["InvalidInstanceID.NotFound"], || {
                self.ec2
                    .describe_instances()
                    .set_instance_ids(Some(ids.to_vec()))
                    .send()
            })
            .await
            .map_err(|e| self.error(scope, "read launched instances", e).to_string())?;
            let mut states = BTreeMap::new();
            for instance in output.reservations().iter().flat_map(|r| r.instances()) {
                let Some(id) = instance.instance_id() else {
                    continue;
                };
                match instance.state().and_then(|s| s.name()) {
                    Some(InstanceStateName::Running) => {
                        states.insert(id.to_string(), Ok(instance.clone()));
                    }
                    Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown) => {
                        let reason = instance
                            .state_reason()
                            .and_then(|r| r.message())
                            .unwrap_or("no reason given");
                        states.insert(id.to_string(), Err(reason.to_string()));
                    }
                    _ => {}
                }
            }
            Ok((states.len() == ids.len()).then_some(states))
        })
        .await
        .map_err(|d| self.failed(scope, &format!("wait for {what}"), d))
    }
}
