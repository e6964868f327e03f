//! The AWS provider: live state from the AWS APIs (or a local emulator speaking them).
//!
//! Refresh reads each kind with as few calls as the API allows, all kinds at once:
//! tag-filtered, paginated `DescribeInstances`, `DescribeSecurityGroups` and
//! `DescribeKeyPairs`; one `DescribeLoadBalancers` plus `DescribeTags` in batches of 20;
//! `DescribeDBInstances` (tags inline); `ListHostedZones` and `ListTagsForResources` to
//! find the zones holding the stack's records, then `ListResourceRecordSets` per zone. Then it turns what AWS returned into canonical attributes,
//! mapping group and instance ids back to addresses. Only `--deep` reads attributes AWS
//! returns per resource (user data, shutdown behaviour, root volume, cross-zone).
//!
//! One file per service; this is the only place `aws_sdk_*` is imported.

mod claims;
pub mod cloudformation;
mod connect;
mod ec2;
mod elb;
mod expiry;
mod imports;
mod inventory;
pub mod lock;
mod rds;
mod route53;
pub mod s3;
mod snapshots;
pub mod stats;
mod subnets;
mod throttle;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::Instant;

use super::{
    Applied, Desired, LiveResource, LiveState, MemberHealth, Progress, Provider, ProviderError,
    Scope, Teardown,
};
use crate::stack::{Address, Kind};

pub use stats::CallStats;

/// An AMI's root device name and its size in GiB (when the image says).
type RootDevice = (String, Option<i32>);

/// Clients for every service a stack uses, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Aws {
    ec2: aws_sdk_ec2::Client,
    elb: aws_sdk_elasticloadbalancing::Client,
    rds: aws_sdk_rds::Client,
    route53: aws_sdk_route53::Client,
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    sts: aws_sdk_sts::Client,
    /// The region the clients call.
    region: String,
    endpoint: String,
    stats: Arc<CallStats>,
    /// EC2's rate limiters for this account and region, shared by every task of the run.
    limits: Arc<throttle::Limits>,
    /// Instances to terminate, sent together (one TerminateInstances for many).
    terminations: Arc<ec2::Batcher>,
    /// Root device names of AMIs, looked up once per AMI.
    /// AMI → its root device name and that device's size in GiB (when the image says).
    root_devices: Arc<Mutex<BTreeMap<String, RootDevice>>>,
    /// Addresses of the stack and env seen in the last refresh but managed by the other
    /// engine (see [`LiveState::other_engine`]).
    other_engine: Arc<Mutex<std::collections::BTreeSet<Address>>>,
    /// The hosted zones tagged as holding the stack's records, and its records in each.
    zones: Arc<tokio::sync::Mutex<route53::Zones>>,
    /// What the readers of the last refresh found of its `[import]` ids.
    imports: Arc<Mutex<imports::Seen>>,
}

impl Aws {
    /// The region the clients talk to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Every call made so far, by operation (retries counted as calls).
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// Note a resource of the stack and env that the other engine manages.
    fn note_other_engine(&self, scope: &Scope, tagged: &Tagged) {
        if let Some(address) = tagged.other_engine(scope)
            && let Ok(mut seen) = self.other_engine.lock()
        {
            seen.insert(address);
        }
    }

    /// A failure that is not an SDK error, in the same words.
    fn failed(&self, scope: &Scope, action: &str, detail: String) -> ProviderError {
        ProviderError::Api {
            action: action.to_string(),
            stack: scope.stack.clone(),
            detail,
        }
    }

    /// An SDK error in the words of the command that met it.
    fn error<E, R>(&self, scope: &Scope, action: &str, e: SdkError<E, R>) -> ProviderError
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug + 'static,
    {
        match &e {
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => {
                ProviderError::Unreachable {
                    endpoint: self.endpoint.clone(),
                    detail: error_chain(&e),
                }
            }
            SdkError::TimeoutError(_) => ProviderError::Unreachable {
                endpoint: self.endpoint.clone(),
                detail: "timed out".into(),
            },
            // AWS's own words: `InvalidGroup.NotFound: The security group … does not exist`.
            SdkError::ServiceError(_) if e.code().is_some() => ProviderError::Api {
                action: action.to_string(),
                stack: scope.stack.clone(),
                detail: format!(
                    "{}: {}",
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or("(no message)")
                ),
            },
            _ => ProviderError::Api {
                action: action.to_string(),
                stack: scope.stack.clone(),
                detail: error_chain(&e),
            },
        }
    }
}

/// AWS's error code (`InvalidGroup.NotFound`), when AWS answered with one.
fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    e.code()
}

/// Whether a failed call may have been carried out, or may succeed if repeated: no
/// answer (a dropped connection, a timeout), a 5xx, or throttling. A create that failed
/// so must look for what it may have made before it tries again.
fn transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => {
            let throttled = e.code().is_some_and(|c| {
                c.contains("Throttl")
                    || matches!(
                        c,
                        "RequestLimitExceeded"
                            | "TooManyRequestsException"
                            | "PriorRequestNotComplete"
                            | "InternalError"
                            | "InternalFailure"
                            | "ServiceUnavailable"
                            | "Unavailable"
                    )
            });
            let status = e.raw_response().map(|r| r.status().as_u16());
            throttled || status.is_some_and(|s| s >= 500 || s == 429)
        }
        _ => false,
    }
}

/// The keys of the user tags a live resource has (`key=value` items).
fn live_tag_keys(live: &LiveResource) -> Vec<String> {
    match live.attrs.get("tags") {
        Some(super::Value::List(items)) => items
            .iter()
            .filter_map(|t| t.split_once('=').map(|(k, _)| k.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The tags an update removes: the user's that the stack no longer has, and
/// `stackwright:prevent-destroy` once the stack turns it off.
fn stale_tags(live: &LiveResource, want: &Desired<'_>) -> Vec<String> {
    let mut keys = live_tag_keys(live);
    if live.attrs.get("prevent_destroy") == Some(&super::Value::text("true")) {
        keys.push(super::TAG_PREVENT_DESTROY.to_string());
    }
    keys.retain(|k| !want.tags.contains_key(k));
    keys
}

/// Backoff between attempts: 1 s, 2 s, 4 s … at most 16 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.min(4))
}

/// How long AWS's eventual consistency is waited out (a group just created not found
/// yet; a group still held by an ELB or a terminated instance's interface).
const SETTLE: Duration = Duration::from_secs(180);

/// Run `call` until it does not fail with one of `codes`, backing off, for at most
/// [`SETTLE`].
async fn settle<T, E, R, F, Fut>(codes: &[&str], mut call: F) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    let deadline = Instant::now() + SETTLE;
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e)
                if code(&e).is_some_and(|c| codes.contains(&c))
                    && Instant::now() + backoff(attempt) < deadline =>
            {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Poll `check` until it returns a value, reporting what is awaited, for at most
/// `timeout`. The first check is immediate; then every 2 s, backing off to 15 s.
async fn wait_for<T, F, Fut>(
    what: &str,
    timeout: Duration,
    progress: &Progress<'_>,
    mut check: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_secs(2);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "still waiting for {what} after {}",
                humantime::format_duration(timeout)
            ));
        }
        progress(&format!("waiting for {what}"));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

/// An error and its causes, one line: `service error: InvalidParameter: bad value`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The stack's tag filters for EC2's `Describe*` calls.
fn tag_filters(scope: &Scope) -> Vec<aws_sdk_ec2::types::Filter> {
    use aws_sdk_ec2::types::Filter;
    vec![
        Filter::builder()
            .name(format!("tag:{}", super::TAG_STACK))
            .values(&scope.stack)
            .build(),
        Filter::builder()
            .name(format!("tag:{}", super::TAG_ENV))
            .values(&scope.env)
            .build(),
    ]
}

/// Tags as a map; the address they name, when they name one of `scope`.
struct Tagged {
    tags: BTreeMap<String, String>,
}

impl Tagged {
    fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tagged {
        Tagged {
            tags: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The address, if these are the tags of a resource of `scope`, or if `id` is one
    /// CloudFormation lists as the stack's (its own record, kept even where the emulator
    /// drops a resource's tags).
    fn address(&self, scope: &Scope, id: &str) -> Option<Address> {
        if let Some(address) = scope.physical_ids.get(id) {
            return Some(address.clone());
        }
        match self.stack_address(scope)? {
            (address, true) => Some(address),
            (_, false) => None,
        }
    }

    /// The address, if these are the tags of a resource of `scope`'s stack and env that
    /// the other engine manages.
    fn other_engine(&self, scope: &Scope) -> Option<Address> {
        match self.stack_address(scope)? {
            (address, false) => Some(address),
            (_, true) => None,
        }
    }

    /// The address, if these are the tags of a resource of `scope`'s stack and env, and
    /// whether the engine `scope` reads for manages it.
    fn stack_address(&self, scope: &Scope) -> Option<(Address, bool)> {
        let same = self.tags.get(super::TAG_STACK)? == &scope.stack
            && self.tags.get(super::TAG_ENV)? == &scope.env;
        if !same {
            return None;
        }
        let by_cloudformation =
            self.tags.get(super::TAG_ENGINE).map(String::as_str) == Some(super::ENGINE_TAG_VALUE);
        let address = self.tags.get(super::TAG_ADDRESS)?.parse().ok()?;
        Some((address, by_cloudformation == scope.cloudformation))
    }

    /// The user's tags (not stackwright's, not AWS's) as `key=value`.
    fn user_tags(&self) -> super::Value {
        super::Value::list(
            self.tags
                .iter()
                .filter(|(k, _)| !super::is_own_tag(k) && !k.starts_with("aws:"))
                .map(|(k, v)| format!("{k}={v}")),
        )
    }

    fn tracked(&self, name: &str) -> Option<super::Value> {
        self.tags
            .get(&format!("{}{name}", super::TAG_ATTR_PREFIX))
            .map(|v| super::Value::text(v.clone()))
    }

    /// `prevent_destroy` as applied: the `stackwright:prevent-destroy` tag.
    fn prevent_destroy(&self) -> super::Value {
        super::flag(
            self.tags
                .get(super::TAG_PREVENT_DESTROY)
                .is_some_and(|v| v == "true"),
        )
    }

    /// The address a member of a batched launch without its address tag was launched
    /// for: its batch tag's replica at `launch_index` (its AmiLaunchIndex). Only for the
    /// direct engine's resources of `scope`.
    fn batch_address(&self, scope: &Scope, launch_index: Option<i32>) -> Option<Address> {
        let same = self.tags.get(super::TAG_STACK)? == &scope.stack
            && self.tags.get(super::TAG_ENV)? == &scope.env;
        if !same
            || scope.cloudformation
            || self.tags.contains_key(super::TAG_ADDRESS)
            || self.tags.contains_key(super::TAG_ENGINE)
        {
            return None;
        }
        let tag = super::launch::BatchTag::parse(self.tags.get(super::TAG_BATCH)?)?;
        let index = tag.index_of(launch_index?)?;
        Some(Address::new(Kind::Instance, tag.block, Some(index)))
    }

    /// Whether a rolling apply is retiring this instance ([`super::TAG_RETIRING`]).
    fn retiring(&self) -> bool {
        self.tags.contains_key(super::TAG_RETIRING)
    }

    fn applied(&self) -> Option<String> {
        self.tags.get(super::TAG_APPLIED).cloned()
    }

    fn expires(&self) -> Option<String> {
        self.tags.get(super::TAG_EXPIRES).cloned()
    }
}

/// Ids found in this refresh, to turn references in AWS back into addresses.
#[derive(Default)]
struct Ids {
    groups: BTreeMap<String, Address>,
    instances: BTreeMap<String, Address>,
}

impl Ids {
    fn group(&self, id: &str) -> String {
        self.groups
            .get(id)
            .map_or_else(|| id.to_string(), ToString::to_string)
    }

    fn instance(&self, id: &str) -> String {
        self.instances
            .get(id)
            .map_or_else(|| id.to_string(), ToString::to_string)
    }
}

impl Provider for Aws {
    /// Calls by operation; `ec2:<Action> (throttled)` counts the answers of
    /// `RequestLimitExceeded`, each of which the request was sent again after.
    fn calls(&self) -> BTreeMap<String, u64> {
        let mut calls = self.stats.by_operation();
        for (action, n) in self.limits.throttled() {
            calls.insert(format!("ec2:{action} (throttled)"), n);
        }
        calls
    }

    async fn taken(
        &self,
        scope: &Scope,
        wanted: &[(Address, String)],
    ) -> Result<Vec<crate::provider::Taken>, ProviderError> {
        self.names_taken(scope, wanted).await
    }

    async fn newest_snapshot(
        &self,
        scope: &Scope,
        source: &crate::provider::SnapshotSource,
    ) -> Result<Option<crate::provider::Snapshot>, ProviderError> {
        self.newest_db_snapshot(scope, source).await
    }

    async fn snapshot_available(&self, scope: &Scope, id: &str) -> Result<bool, ProviderError> {
        self.db_snapshot_available(scope, id).await
    }

    async fn placement(
        &self,
        scope: &Scope,
        stack: &crate::stack::Stack,
    ) -> Result<(), ProviderError> {
        self.check_placement(scope, stack).await
    }

    async fn refresh(&self, scope: &Scope) -> Result<LiveState, ProviderError> {
        if let Ok(mut seen) = self.other_engine.lock() {
            seen.clear();
        }
        self.start_claims(scope);
        let (instances, groups, keys, balancers, databases, records) = tokio::try_join!(
            self.read_instances(scope),
            self.read_groups(scope),
            self.read_key_pairs(scope),
            self.read_load_balancers(scope),
            self.read_databases(scope),
            self.read_records(scope),
        )?;
        let claims = self.take_claims();
        let imports_seen = &claims.imported;
        let imported = |a: &Address| imports_seen.contains(a);
        let mut ids = Ids::default();
        for g in &groups {
            ids.groups.insert(g.id.clone(), g.address.clone());
        }
        // Members of a batched launch without their address tag (a killed run): each is
        // its address's resource, unless another instance holds the address (surplus).
        let held: std::collections::BTreeSet<Address> = instances
            .iter()
            .filter(|i| !i.stray)
            .map(|i| i.address.clone())
            .collect();
        let mut claimed = std::collections::BTreeSet::new();
        let mut surplus = Vec::new();
        let instances: Vec<ec2::RawInstance> = instances
            .into_iter()
            .filter(|i| {
                let extra =
                    i.stray && (held.contains(&i.address) || !claimed.insert(i.address.clone()));
                if extra {
                    surplus.push((i.address.clone(), i.id.clone()));
                }
                !extra
            })
            .collect();
        // An instance a rolling apply is retiring keeps its address until the roll is
        // over: while it serves, it is the address's resource, and a successor launched
        // beside it is an unfinished roll's (known by its id; the next roll adopts it).
        // Once its termination has started, the successor is the address's.
        let going = |i: &ec2::RawInstance| {
            i.instance.state().and_then(|s| s.name())
                == Some(&aws_sdk_ec2::types::InstanceStateName::ShuttingDown)
        };
        let successors: std::collections::BTreeSet<Address> = instances
            .iter()
            .filter(|i| !i.tagged.retiring())
            .map(|i| i.address.clone())
            .collect();
        let mut instances: Vec<ec2::RawInstance> = instances
            .into_iter()
            .filter(|i| !(i.tagged.retiring() && going(i) && successors.contains(&i.address)))
            .collect();
        let serving_retiring: std::collections::BTreeSet<Address> = instances
            .iter()
            .filter(|i| i.tagged.retiring())
            .map(|i| i.address.clone())
            .collect();
        instances
            .sort_by_key(|i| imported(&i.address) && scope.imports.get(&i.address) == Some(&i.id));
        instances.sort_by_key(|i| !i.tagged.retiring());
        let unfinished =
            |i: &ec2::RawInstance| !i.tagged.retiring() && serving_retiring.contains(&i.address);
        for i in &instances {
            if !unfinished(i) {
                ids.instances.insert(i.id.clone(), i.address.clone());
            }
        }
        let mut state = LiveState::default();
        // Where a tagged resource and an imported one claim one address, the tagged one
        // is the address's (and the import is refused): inserted first, as the first of
        // two claims wins.
        let mut groups = groups;
        groups
            .sort_by_key(|g| imported(&g.address) && scope.imports.get(&g.address) == Some(&g.id));
        for resource in groups.iter().map(|g| ec2::group_resource(g, &ids)) {
            state.insert(resource);
        }
        // An imported resource has no tags to compare its per-resource attributes
        // through: those are read for real (a few calls, once, at adoption).
        let instances = if scope.deep {
            self.read_instances_deep(scope, instances).await?
        } else {
            let (imported, rest): (Vec<_>, Vec<_>) = instances
                .into_iter()
                .partition(|i| claims.imported.contains(&i.address));
            let mut all = rest;
            all.extend(self.read_instances_deep(scope, imported).await?);
            all
        };
        for i in &instances {
            let resource = ec2::instance_resource(i, &ids);
            if unfinished(i) && !state.unfinished.contains_key(&i.address) {
                state.unfinished.insert(i.address.clone(), resource.id);
            } else {
                if i.stray {
                    state
                        .unaddressed
                        .insert(i.address.clone(), resource.id.clone());
                }
                state.insert(resource);
            }
        }
        state.surplus = surplus;
        let last =
            |r: &LiveResource| imported(&r.address) && scope.imports.get(&r.address) == Some(&r.id);
        let mut keys = keys;
        keys.sort_by_key(|r| last(r));
        for resource in keys {
            state.insert(resource);
        }
        let balancers = if scope.deep {
            self.read_load_balancers_deep(scope, balancers).await?
        } else {
            let (imported, rest): (Vec<_>, Vec<_>) = balancers
                .into_iter()
                .partition(|b| claims.imported.contains(&b.address));
            let mut all = rest;
            all.extend(self.read_load_balancers_deep(scope, imported).await?);
            all
        };
        let mut balancers: Vec<LiveResource> =
            balancers.iter().map(|b| elb::resource(b, &ids)).collect();
        balancers.sort_by_key(|r| last(r));
        let mut databases: Vec<LiveResource> =
            databases.iter().map(|d| rds::resource(d, &ids)).collect();
        databases.sort_by_key(|r| last(r));
        let mut records = records;
        records.sort_by_key(|r| last(r));
        for resource in balancers.into_iter().chain(databases).chain(records) {
            state.insert(resource);
        }
        if let Ok(mut seen) = self.other_engine.lock() {
            state.other_engine = std::mem::take(&mut *seen);
        }
        // Imports found at their address, untagged; an import id found under another
        // address (already tagged there) is the plan's to refuse.
        state.imported = claims
            .imported
            .into_iter()
            .filter(|a| {
                state
                    .resources
                    .get(a)
                    .is_some_and(|r| scope.imports.get(a) == Some(&r.id))
            })
            .collect();
        state.import_owners = claims.owners;
        Ok(state)
    }

    async fn create(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        // Each kind's future boxed: in one match they would all be as large as the
        // largest (a database's), and a debug build overflowed a worker's stack.
        let work = async {
            match want.resource.address.kind {
                Kind::SecurityGroup => Box::pin(self.create_group(scope, want)).await,
                Kind::KeyPair => Box::pin(self.create_key(scope, want)).await,
                Kind::LoadBalancer => Box::pin(self.create_balancer(scope, want)).await,
                Kind::Database => Box::pin(self.create_database(scope, want, progress)).await,
                Kind::Instance => Box::pin(self.create_instance(scope, want, progress)).await,
                Kind::DnsRecord => Box::pin(self.put_record(scope, want, true, progress)).await,
            }
        };
        throttle::reporting(progress, work).await
    }

    async fn create_batch(
        &self,
        scope: &Scope,
        wants: &[Desired<'_>],
        progress: &Progress<'_>,
    ) -> Vec<Result<Applied, ProviderError>> {
        if wants
            .iter()
            .all(|w| w.resource.address.kind == Kind::Instance)
        {
            return throttle::reporting(progress, self.create_instances(scope, wants, progress))
                .await;
        }
        let mut out = Vec::with_capacity(wants.len());
        for want in wants {
            out.push(self.create(scope, want, progress).await);
        }
        out
    }

    async fn update(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        let work = async {
            match want.resource.address.kind {
                Kind::SecurityGroup => Box::pin(self.update_group(scope, live, want)).await,
                Kind::KeyPair => Box::pin(self.update_key(scope, live, want)).await,
                Kind::LoadBalancer => Box::pin(self.update_balancer(scope, live, want)).await,
                Kind::Database => Box::pin(self.update_database(scope, live, want, progress)).await,
                Kind::Instance => Box::pin(self.update_instance(scope, live, want, progress)).await,
                Kind::DnsRecord => Box::pin(self.put_record(scope, want, false, progress)).await,
            }
        };
        throttle::reporting(progress, work).await
    }

    async fn register(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> Result<(), ProviderError> {
        self.register_members(scope, balancer, ids).await
    }

    async fn deregister(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        self.deregister_members(scope, balancer, ids, progress)
            .await
    }

    async fn member_health(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> Result<Vec<MemberHealth>, ProviderError> {
        Aws::member_health(self, scope, balancer, ids).await
    }

    async fn set_expiry(
        &self,
        scope: &Scope,
        resources: &[LiveResource],
        at: Option<&str>,
    ) -> Result<(), ProviderError> {
        self.expire(scope, resources, at).await
    }

    async fn set_retiring(
        &self,
        scope: &Scope,
        instance: &LiveResource,
        retiring: bool,
    ) -> Result<(), ProviderError> {
        self.tag_retiring(scope, instance, retiring).await
    }

    async fn destroy(
        &self,
        scope: &Scope,
        live: &LiveResource,
        how: Teardown,
        progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        let work = async {
            match live.address.kind {
                Kind::SecurityGroup => Box::pin(self.destroy_group(scope, live, progress)).await,
                Kind::KeyPair => Box::pin(self.destroy_key(scope, live)).await,
                Kind::LoadBalancer => Box::pin(self.destroy_balancer(scope, live)).await,
                Kind::Database => Box::pin(self.destroy_database(scope, live, how, progress)).await,
                Kind::Instance => Box::pin(self.destroy_instance(scope, live, progress)).await,
                Kind::DnsRecord => Box::pin(self.delete_record(scope, live, progress)).await,
            }
        };
        throttle::reporting(progress, work).await
    }
}
