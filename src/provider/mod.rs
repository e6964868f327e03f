//! Providers: where live state comes from.
//!
//! A [`Provider`] finds the resources of one stack and env by their tags and reads them
//! into a [`LiveState`]: for each address, the AWS id, the attributes in the same canonical
//! text form the planner derives from the model (so a converged stack compares equal), and
//! the values `${kind.name.attr}` references resolve to. `aws` is the implementation
//! against the AWS APIs (and the local emulator); it is the only module that imports
//! the AWS SDK crates. `cloudformation` is the plain data of CloudFormation's stacks,
//! change sets and events that the `aws` implementation returns and takes.

pub mod aws;
pub mod cloudformation;
pub mod inventory;
pub mod launch;
pub mod memory;

pub use aws::lock::{Holder, Lock, LockError};

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::stack::model::GroupRef;
use crate::stack::{Address, Resource};

/// The three tags that make a resource part of a stack (the contract's identity).
pub const TAG_STACK: &str = "stackwright:stack";
pub const TAG_ENV: &str = "stackwright:env";
pub const TAG_ADDRESS: &str = "stackwright:address";
/// Per-attribute hashes of what stackwright last applied: tells drift from stack changes.
pub const TAG_APPLIED: &str = "stackwright:applied";
/// `stackwright:attr:<name>`: the value (or hash) of an attribute AWS returns only per
/// resource (user data, shutdown behaviour, cross-zone balancing), so refresh need not
/// make one call per resource to compare it.
pub const TAG_ATTR_PREFIX: &str = "stackwright:attr:";
/// Present (`true`) on resources with `prevent_destroy`: kept in AWS so that removing such
/// a resource from the stack is refused too.
pub const TAG_PREVENT_DESTROY: &str = "stackwright:prevent-destroy";

/// `stackwright:expires`: when the env's resources expire (RFC 3339, UTC), written by each
/// apply of an env whose file sets `expires` (see [`LiveResource::expires`]).
pub const TAG_EXPIRES: &str = "stackwright:expires";
/// `stackwright:final-snapshot`: on a database, whether a teardown takes a final snapshot
/// (`true` or `false`, from the stack's `final_snapshot`), so a destroy from tags alone
/// does what the stack said.
pub const TAG_FINAL_SNAPSHOT: &str = "stackwright:final-snapshot";

/// `stackwright:restoring = <snapshot>`: on a database restored from a snapshot
/// (`restore_from_env`) until the stack's settings that a restore cannot take (the master
/// password above all) have been applied to it. Found on a running database, it says a
/// run stopped in between: the plan warns that the password is still the source env's.
pub const TAG_RESTORING: &str = "stackwright:restoring";

/// `cloudformation` on resources CloudFormation manages (`--engine cloudformation`): the
/// direct engine neither reads nor touches them, so the two engines never fight over one.
pub const TAG_ENGINE: &str = "stackwright:engine";
/// The value of [`TAG_ENGINE`] on what CloudFormation creates: the direct engine leaves
/// such resources to CloudFormation.
pub const ENGINE_TAG_VALUE: &str = "cloudformation";

/// Whether a tag key belongs to stackwright (and so is not a user tag).
pub fn is_own_tag(key: &str) -> bool {
    key.starts_with("stackwright:")
}

/// What to read: one stack in one env.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub stack: String,
    pub env: String,
    /// Route 53 hosted zones to look for the stack's records in.
    pub zones: BTreeSet<String>,
    /// Read attributes AWS returns only per resource for real, instead of through tags.
    pub deep: bool,
    /// Secret values, only in deep mode, to mask them in what AWS returns (user data).
    pub secrets: BTreeMap<String, String>,
    /// Read the resources CloudFormation manages for the stack (tagged
    /// `stackwright:engine = cloudformation`) instead of the direct engine's.
    pub cloudformation: bool,
    /// Physical id → address of what the CloudFormation stack holds (`cloudformation`
    /// only): such a resource is the stack's whatever its tags say.
    pub physical_ids: BTreeMap<String, Address>,
    /// `[import]`: address → the physical id of a resource made outside stackwright. Read
    /// by id beside the tagged ones; untagged, it is found under that address.
    pub imports: BTreeMap<Address, String>,
}

/// An attribute's value, desired or live.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Text(String),
    /// An unordered set, kept sorted.
    List(Vec<String>),
    /// Known only after apply (depends on a resource not created yet).
    Unknown,
}

impl Value {
    pub fn list(items: impl IntoIterator<Item = String>) -> Value {
        let mut v: Vec<String> = items.into_iter().collect();
        v.sort();
        v.dedup();
        Value::List(v)
    }

    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }
}

/// One resource as found in AWS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveResource {
    pub address: Address,
    /// The AWS id: `sg-…`, `i-…`, the ELB or DB name, the record's `name type`, the key name.
    pub id: String,
    /// Canonical attributes, named as the planner names them.
    pub attrs: BTreeMap<String, Value>,
    /// What `${address.attr}` resolves to.
    pub outputs: BTreeMap<String, String>,
    /// The `stackwright:applied` tag, when stackwright applied this resource.
    pub applied: Option<String>,
    /// The `stackwright:expires` tag (RFC 3339, UTC), when the resource has one. Not an
    /// attribute: it is not compared, so it never shows as a change or drift, and not in
    /// the fingerprint, so renewing it does not make a saved plan stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Everything of one stack and env found in AWS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    pub resources: BTreeMap<Address, LiveResource>,
    /// Addresses claimed by more than one resource: `(address, every id)`.
    pub conflicts: Vec<(Address, Vec<String>)>,
    /// Addresses of the stack and env whose resources the other engine manages (tagged
    /// `stackwright:engine = cloudformation`, or not, against what was asked for): left
    /// alone, and said.
    #[serde(default)]
    pub other_engine: BTreeSet<Address>,
    /// Rolls a killed run left unfinished: the address (whose resource is still the
    /// instance being retired, tagged [`TAG_RETIRING`]) → the id of the successor that
    /// roll launched. Replacing the address again adopts it instead of launching another.
    #[serde(default)]
    pub unfinished: BTreeMap<Address, String>,
    /// Addresses of `[import]` whose resource was found by its id and carries no
    /// stackwright tags (or claim): found here under that address, adopted by the apply.
    #[serde(default)]
    pub imported: BTreeSet<Address>,
    /// Addresses of `[import]` whose id names a resource that another stack or env owns
    /// (by its tags or claim): refused at plan time, naming the owner.
    #[serde(default)]
    pub import_owners: BTreeMap<Address, Owner>,
    /// `[moved]`: new address → the old address its resource was found at (and is
    /// tagged with until the apply rewrites the tag). Set by `plan::moves::relocate`.
    #[serde(default)]
    pub moved: BTreeMap<Address, Address>,
    /// Instances of a batched launch that a killed run left without their address tag
    /// (they carry the stack's tags and [`TAG_BATCH`], which names the address each was
    /// launched for): address → id. Each is also the address's resource; the plan updates
    /// it to write the tag.
    #[serde(default)]
    pub unaddressed: BTreeMap<Address, String>,
    /// Instances of a batched launch, without their address tag, launched for an address
    /// another instance holds: `(address, id)`. An apply terminates them.
    #[serde(default)]
    pub surplus: Vec<(Address, String)>,
}

impl LiveState {
    /// Add a resource; a second one with the same address is a conflict, not a replacement.
    pub fn insert(&mut self, resource: LiveResource) {
        match self.resources.get(&resource.address) {
            Some(existing) if existing.id != resource.id => {
                let address = resource.address.clone();
                match self.conflicts.iter_mut().find(|(a, _)| *a == address) {
                    Some((_, ids)) => ids.push(resource.id),
                    None => self
                        .conflicts
                        .push((address, vec![existing.id.clone(), resource.id])),
                }
            }
            _ => {
                self.resources.insert(resource.address.clone(), resource);
            }
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("no AWS credentials found")]
    NoCredentials { detail: String },
    #[error("cannot reach AWS at `{endpoint}`: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("failed to {action} of stack `{stack}`: {detail}")]
    Api {
        action: String,
        stack: String,
        detail: String,
    },
}

impl ProviderError {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ProviderError::NoCredentials { .. } => Some(
                "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
            ),
            ProviderError::Unreachable { .. } => Some(
                "check the endpoint; for the local emulator, start it with `scripts/emulator start`",
            ),
            ProviderError::Api { .. } => None,
        }
    }
}

/// One resource as apply wants it, with everything resolved: references to other
/// resources are known by now, secrets are filled in where AWS needs them.
#[derive(Clone, Debug)]
pub struct Desired<'a> {
    pub resource: &'a Resource,
    /// The canonical attributes (secrets as `${secret.NAME}`), as the plan compares them.
    pub attrs: BTreeMap<String, Value>,
    /// The names of the attributes this change sets (an update leaves the rest alone).
    pub changed: BTreeSet<String>,
    /// Every tag the resource must carry: the user's, the contract's three, the
    /// `stackwright:applied` codes and the `stackwright:attr:*` forms.
    pub tags: BTreeMap<String, String>,
    /// The `stackwright:applied` codes (Route 53 records carry them in their claim).
    pub applied: String,
    /// The AWS id of every resource of the stack known so far (groups, instances, keys).
    pub ids: BTreeMap<Address, String>,
    /// User data with secret values in it, for AWS only.
    pub user_data: Option<Secret>,
    /// The database master password, for AWS only.
    pub master_password: Option<Secret>,
    /// An idempotency token for creates where AWS takes one (RunInstances' ClientToken).
    pub token: String,
    /// A database created from this snapshot (`restore_from_env`) rather than empty.
    pub restore: Option<String>,
}

impl Desired<'_> {
    /// The id of a security group, ours (by address) or one that exists already.
    pub fn group_id(&self, group: &GroupRef) -> Result<String, String> {
        match group {
            GroupRef::External(id) => Ok(id.clone()),
            GroupRef::Stack(address) => self.id_of(address),
        }
    }

    pub fn id_of(&self, address: &Address) -> Result<String, String> {
        self.ids
            .get(address)
            .cloned()
            .ok_or_else(|| format!("`{address}` has no AWS id yet"))
    }

    /// The text of a canonical attribute, if it is set.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }
}

/// A secret value: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// What a create or update left: the id and what `${address.attr}` resolves to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub outputs: BTreeMap<String, String>,
}

/// How to tear a resource down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Teardown {
    /// Databases: take a final snapshot first.
    pub final_snapshot: bool,
}

/// A member's health as a balancer reports it (DescribeInstanceHealth).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberHealth {
    pub id: String,
    /// `InService`, `OutOfService` or `Unknown`.
    pub state: String,
    /// `ELB` or `Instance`, when AWS gives one.
    pub reason: Option<String>,
    pub description: Option<String>,
}

impl MemberHealth {
    pub fn in_service(&self) -> bool {
        self.state == "InService"
    }
}

impl std::fmt::Display for MemberHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.state)?;
        let detail: Vec<&str> = [self.reason.as_deref(), self.description.as_deref()]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty() && *t != "N/A")
            .collect();
        if !detail.is_empty() {
            write!(f, " ({})", detail.join(": "))?;
        }
        Ok(())
    }
}

/// `stackwright:batch` on instances launched together by one RunInstances: which block,
/// which replicas (in launch-index order) and the launch's token ([`launch`]). Each
/// carries it from its launch, before it has its own address tag.
pub const TAG_BATCH: &str = "stackwright:batch";

/// `stackwright:retiring` on an instance being replaced by a rolling apply: it keeps its
/// address tag (and serves) until its successor is in service, and refresh prefers the
/// instance without this tag when two claim one address.
pub const TAG_RETIRING: &str = "stackwright:retiring";

/// A step's news while it runs ("waiting for `running`").
pub type Progress<'a> = dyn Fn(&str) + Send + Sync + 'a;

/// Reads and changes live state. Every write is safe to repeat: a create first adopts a
/// resource already tagged with its address, and a delete of something gone is done.
pub trait Provider: Send + Sync {
    /// Every resource tagged for `scope`, read with as few calls as the APIs allow.
    fn refresh(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<LiveState, ProviderError>> + Send;

    /// Create a resource (or adopt the one already tagged with its address) and wait
    /// until it is usable.
    fn create(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> impl Future<Output = Result<Applied, ProviderError>> + Send;

    /// Create many resources (the replicas of one instance block), each as [`create`]
    /// would, and each one's outcome in order. The AWS provider launches the instances
    /// that share a launch specification with one RunInstances; by default, one by one.
    ///
    /// [`create`]: Provider::create
    fn create_batch(
        &self,
        scope: &Scope,
        wants: &[Desired<'_>],
        progress: &Progress<'_>,
    ) -> impl Future<Output = Vec<Result<Applied, ProviderError>>> + Send {
        async move {
            let mut out = Vec::with_capacity(wants.len());
            for want in wants {
                out.push(self.create(scope, want, progress).await);
            }
            out
        }
    }

    /// Change the attributes in `want.changed` in place, and the tags, then wait until
    /// the resource is usable again.
    fn update(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
        progress: &Progress<'_>,
    ) -> impl Future<Output = Result<Applied, ProviderError>> + Send;

    /// Delete a resource and wait until it is gone.
    fn destroy(
        &self,
        scope: &Scope,
        live: &LiveResource,
        how: Teardown,
        progress: &Progress<'_>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Register instances (by id) with a balancer of the stack.
    fn register(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Deregister those of `ids` that are registered with a balancer, and wait out its
    /// connection draining (until none of them is reported in service).
    fn deregister(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
        progress: &Progress<'_>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// The health of `ids` as a balancer reports it.
    fn member_health(
        &self,
        scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<MemberHealth>, ProviderError>> + Send;

    /// Tag (or untag) an instance as [`TAG_RETIRING`].
    fn set_retiring(
        &self,
        scope: &Scope,
        instance: &LiveResource,
        retiring: bool,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Set the `stackwright:expires` tag of `resources` to `at` (RFC 3339, UTC), or remove
    /// it (`None`): batched, as few calls as the APIs allow. Route 53 records, which
    /// carry no tags, are skipped: their stack's expiry is its other resources'.
    fn set_expiry(
        &self,
        scope: &Scope,
        resources: &[LiveResource],
        at: Option<&str>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Every call made so far, by operation (for `--stats`).
    fn calls(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }

    /// Which of `wanted` (an address to create, the physical name it will take) are held
    /// by something in AWS already, and whose it is: read before planning creates, so a
    /// name taken by another stack is an error at plan time.
    fn taken(
        &self,
        _scope: &Scope,
        _wanted: &[(Address, String)],
    ) -> impl Future<Output = Result<Vec<Taken>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Refuse a stack placed where it cannot go (a subnet not in the env's VPC), read
    /// before planning: nothing is sent.
    fn placement(
        &self,
        _scope: &Scope,
        _stack: &crate::stack::Stack,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        async { Ok(()) }
    }

    /// The newest available snapshot (final, manual or automated) of the database
    /// `source` describes: read at plan time for `restore_from_env`. `None`: there is none.
    fn newest_snapshot(
        &self,
        _scope: &Scope,
        _source: &SnapshotSource,
    ) -> impl Future<Output = Result<Option<Snapshot>, ProviderError>> + Send {
        async { Ok(None) }
    }

    /// Whether the snapshot `id` is still there and available (a saved plan's, before
    /// anything is changed).
    fn snapshot_available(
        &self,
        _scope: &Scope,
        _id: &str,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send {
        async { Ok(false) }
    }
}

/// Whose snapshots `restore_from_env` looks for: the database at `address` of the
/// scope's stack in `env`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotSource {
    pub address: Address,
    pub env: String,
    /// The identifier that database has (or had) in `env`, when its name follows from the
    /// stack and env (no explicit `name`): snapshots are then looked up by it, and those
    /// without stackwright's tags (taken before they were copied) are found too. `None`:
    /// by tags alone.
    pub identifier: Option<String>,
}

/// A database snapshot a restore can start from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    /// Lower case, as the stack writes it.
    pub engine: String,
    /// When it was taken (RFC 3339), for the newest.
    pub created: String,
}

/// A physical name a create would take, and who holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub address: Address,
    pub name: String,
    /// The stack, env and address its tags name; `None`: not stackwright's.
    pub owner: Option<Owner>,
}

/// Whose a resource is, by its tags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub stack: String,
    pub env: String,
    pub address: String,
}

/// The lock that keeps two applies (or destroys) of one stack and env from running at
/// once, held where the resources are.
pub trait Locking: Send + Sync {
    /// Take the lock of `scope` for `me`, waiting up to `wait` for its holder to let go.
    /// `warn` hears about a dead holder's lock taken over, and about waiting.
    fn lock(
        &self,
        scope: &Scope,
        me: &Holder,
        wait: std::time::Duration,
        warn: &(dyn Fn(&str) + Send + Sync),
    ) -> impl Future<Output = Result<Lock, LockError>> + Send;

    /// Release a lock this run holds.
    fn unlock(
        &self,
        scope: &Scope,
        lock: Lock,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Who holds the lock of `scope`, if a run that may still be alive does: a read, for
    /// refusing before anything is changed.
    fn holder(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Option<Holder>, ProviderError>> + Send;
}

/// `true`/`false` as attribute text.
pub fn flag(b: bool) -> Value {
    Value::text(if b { "true" } else { "false" })
}

/// How a tracked attribute is stored in its `stackwright:attr:` tag: short single-line
/// text as it is, anything else as `sha256:` and 32 hex digits.
pub fn tracked_form(value: &str) -> String {
    use sha2::{Digest, Sha256};
    if value.starts_with("sha256:") || (value.len() <= 64 && !value.contains('\n')) {
        return value.to_string();
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Route 53 records cannot be tagged: each record stackwright manages has a TXT record
/// beside it, as external-dns does, saying whose it is. Its name is one label in front of
/// the record's (`_sw-cname.production.paasmaker.net`; for `*.x`, `_sw-cname-wildcard.x`):
/// one label, so it never hides a name the wildcard should answer, and never shares its
/// name with the record (a CNAME allows nothing beside it).
pub mod ownership {
    use crate::stack::Address;

    const HERITAGE: &str = "heritage=stackwright";

    /// The owner record's name for a record `fqdn` of type `record_type`.
    pub fn name(fqdn: &str, record_type: &str) -> String {
        let t = record_type.to_ascii_lowercase();
        match fqdn.strip_prefix("*.") {
            Some(rest) => format!("_sw-{t}-wildcard.{rest}"),
            None => format!("_sw-{t}.{fqdn}"),
        }
    }

    /// The record an owner name stands for: `(fqdn, TYPE)`.
    pub fn owned(owner: &str) -> Option<(String, String)> {
        let (label, rest) = owner.strip_prefix("_sw-")?.split_once('.')?;
        match label.strip_suffix("-wildcard") {
            Some(t) => Some((format!("*.{rest}"), t.to_ascii_uppercase())),
            None => Some((rest.to_string(), label.to_ascii_uppercase())),
        }
    }

    /// The TXT value (without Route 53's quotes).
    pub fn value(stack: &str, env: &str, address: &Address) -> String {
        format!(
            "{HERITAGE},stackwright/stack={stack},stackwright/env={env},stackwright/address={address}"
        )
    }

    /// The TXT value with the record's `stackwright:applied` codes: records cannot be
    /// tagged, so the codes that tell drift from stack changes ride in the claim.
    pub fn value_with_applied(
        stack: &str,
        env: &str,
        address: &Address,
        applied: &str,
        prevent_destroy: bool,
    ) -> String {
        let mut v = format!(
            "{},stackwright/applied={applied}",
            value(stack, env, address)
        );
        if prevent_destroy {
            v.push_str(",stackwright/prevent-destroy=true");
        }
        v
    }

    /// Who a TXT value (quoted or not) says owns the record beside it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Claim {
        pub stack: String,
        pub env: String,
        pub address: Address,
        pub applied: Option<String>,
        pub prevent_destroy: bool,
    }

    pub fn parse(value: &str) -> Option<Claim> {
        let value = value.trim().trim_matches('"');
        let mut fields = value.split(',');
        if fields.next()? != HERITAGE {
            return None;
        }
        let mut get = |key: &str| fields.next()?.strip_prefix(key).map(String::from);
        let stack = get("stackwright/stack=")?;
        let env = get("stackwright/env=")?;
        let address = get("stackwright/address=")?.parse().ok()?;
        // Later fields are optional, and unknown ones are ignored.
        let applied = get("stackwright/applied=");
        let prevent_destroy = get("stackwright/prevent-destroy=").is_some_and(|v| v == "true");
        Some(Claim {
            stack,
            env,
            address,
            applied,
            prevent_destroy,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn owner_names_round_trip_and_wildcards_stay_one_label() {
            for (fqdn, t) in [
                ("production.paasmaker.net", "CNAME"),
                ("*.production.paasmaker.net", "CNAME"),
                ("paasmaker.net", "A"),
            ] {
                let owner = name(fqdn, t);
                assert!(!owner.contains('*'));
                assert_eq!(owned(&owner), Some((fqdn.to_string(), t.to_string())));
            }
            assert_eq!(name("*.x.net", "CNAME"), "_sw-cname-wildcard.x.net");
            let a: Address = "dns_record.cluster".parse().unwrap();
            let v = value("paasmaker", "production", &a);
            let claim = parse(&format!("\"{v}\"")).unwrap();
            assert_eq!(
                (claim.stack.as_str(), claim.env.as_str(), claim.applied),
                ("paasmaker", "production", None)
            );
            assert_eq!(claim.address, a);
            let with = value_with_applied("paasmaker", "production", &a, "ab12----", false);
            assert_eq!(parse(&with).unwrap().applied.as_deref(), Some("ab12----"));
            assert!(!parse(&with).unwrap().prevent_destroy);
            let kept = value_with_applied("paasmaker", "production", &a, "ab12----", true);
            assert!(parse(&kept).unwrap().prevent_destroy);
            assert_eq!(parse("\"v=spf1 -all\""), None);
        }
    }
}

/// An OpenSSH public key as compared: algorithm and key, without the comment (AWS may
/// return its own, or none).
pub fn public_key_form(key: &str) -> String {
    key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
