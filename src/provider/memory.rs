//! A provider that keeps one stack's resources in memory: for fast tests of the engine,
//! the plan and the walk without AWS. It records every call, so a test can assert that a
//! refusal came before anything was changed, and fails the creates it is told to.
//!
//! It models no AWS behaviour (no eventual consistency, no throttling, no waiting); the
//! emulator tests cover those.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    Applied, Desired, Holder, LiveResource, LiveState, Lock, LockError, Locking, MemberHealth,
    Progress, Provider, ProviderError, Scope, Snapshot, SnapshotSource, Teardown,
};
use crate::stack::{Address, Kind};

/// The in-memory provider.
#[derive(Debug, Default)]
pub struct Memory {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    resources: BTreeMap<Address, LiveResource>,
    /// Every call, in order: `refresh`, `create ADDRESS`, `lock`, …
    calls: Vec<String>,
    /// Creates of these addresses fail.
    failing: BTreeSet<Address>,
    /// Who holds the lock.
    holder: Option<Holder>,
    next_id: u64,
    /// Instance ids registered with each balancer through `register`.
    members: BTreeMap<Address, BTreeSet<String>>,
    /// New members never turn `InService`.
    never_healthy: bool,
    /// Instances tagged retiring, by id: their address may already hold their successor.
    retiring: BTreeMap<String, LiveResource>,
    /// The master password each database was last sent (created or updated with).
    passwords: BTreeMap<Address, String>,
    /// Resources made outside stackwright, by kind and id (what `[import]` adopts), and
    /// whose tags they carry, if anyone's.
    by_hand: BTreeMap<(Kind, String), (LiveResource, Option<super::Owner>)>,
    /// Database snapshots: (env, address, snapshot).
    snapshots: Vec<(String, Address, Snapshot)>,
    /// The snapshot each database was created from.
    restored: BTreeMap<Address, String>,
    /// The addresses of each `create_batch` call, in order (one RunInstances in AWS).
    launches: Vec<Vec<Address>>,
    /// Instances without their address tag, as a run killed between a batched launch and
    /// its tagging leaves them: refresh reports them as `unaddressed`; an update tags them.
    untagged: BTreeSet<Address>,
    /// Instances of a batched launch for an address another instance holds: refresh
    /// reports them as `surplus`; a destroy of one by its id ends it.
    surplus: Vec<(Address, String)>,
}

/// The calls that change something.
const MUTATING: [&str; 10] = [
    "create",
    "expire",
    "update",
    "destroy",
    "lock",
    "unlock",
    "register",
    "deregister",
    "retire",
    "unretire",
];

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner)
    }

    /// Make every create of `address` fail.
    pub fn fail_create(&self, address: &Address) {
        self.with(|i| i.failing.insert(address.clone()));
    }

    /// Make every member health report `OutOfService`.
    pub fn never_healthy(&self) {
        self.with(|i| i.never_healthy = true);
    }

    /// The instance ids registered with `balancer` through `register` and not deregistered.
    pub fn members(&self, balancer: &Address) -> BTreeSet<String> {
        self.with(|i| i.members.get(balancer).cloned().unwrap_or_default())
    }

    /// Have someone else hold the lock.
    pub fn hold_lock(&self, holder: Holder) {
        self.with(|i| i.holder = Some(holder));
    }

    /// Whether anyone holds the lock.
    pub fn locked(&self) -> bool {
        self.with(|i| i.holder.is_some())
    }

    /// Every call so far.
    pub fn log(&self) -> Vec<String> {
        self.with(|i| i.calls.clone())
    }

    /// The calls so far that change something (the lock included).
    pub fn mutating(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|c| MUTATING.iter().any(|m| c.split(' ').next() == Some(m)))
            .collect()
    }

    /// The id of the resource at `address`, if it exists.
    pub fn id_of(&self, address: &Address) -> Option<String> {
        self.with(|i| i.resources.get(address).map(|r| r.id.clone()))
    }

    /// The master password the database at `address` was last sent.
    pub fn password_of(&self, address: &Address) -> Option<String> {
        self.with(|i| i.passwords.get(address).cloned())
    }

    /// A snapshot of the database at `address` of env `env`, taken at `created`.
    pub fn add_snapshot(&self, env: &str, address: &Address, id: &str, created: &str) {
        self.with(|i| {
            i.snapshots.push((
                env.to_string(),
                address.clone(),
                Snapshot {
                    id: id.to_string(),
                    engine: "mysql".to_string(),
                    created: created.to_string(),
                },
            ))
        });
    }

    /// Remove a snapshot (deleted by someone between plan and apply).
    pub fn delete_snapshot(&self, id: &str) {
        self.with(|i| i.snapshots.retain(|(_, _, s)| s.id != id));
    }

    /// The snapshot the database at `address` was created from.
    pub fn restored_from(&self, address: &Address) -> Option<String> {
        self.with(|i| i.restored.get(address).cloned())
    }

    /// The addresses of each batched create, in order.
    pub fn launches(&self) -> Vec<Vec<Address>> {
        self.with(|i| i.launches.clone())
    }

    /// Take the address tag off the instance at `address`, as a run killed right after a
    /// batched launch leaves it (it keeps the batch's tags, so refresh still finds it).
    pub fn drop_address_tag(&self, address: &Address) {
        self.with(|i| i.untagged.insert(address.clone()));
    }

    /// Leave a surplus member of a batch: an instance launched for `address`, which
    /// another instance already holds (as two runs at once could leave, were there no lock).
    pub fn add_surplus(&self, address: &Address, id: &str) {
        self.with(|i| i.surplus.push((address.clone(), id.to_string())));
    }

    /// The surplus instances not terminated yet.
    pub fn surplus(&self) -> Vec<(Address, String)> {
        self.with(|i| i.surplus.clone())
    }

    /// The addresses that exist.
    pub fn addresses(&self) -> Vec<Address> {
        self.with(|i| i.resources.keys().cloned().collect())
    }

    /// A live attribute of the resource at `address`.
    pub fn attr_of(&self, address: &Address, name: &str) -> Option<super::Value> {
        self.with(|i| i.resources.get(address)?.attrs.get(name).cloned())
    }

    /// A resource made outside stackwright (by hand, or tagged by `owner`): found only
    /// through an `[import]` of its id. `attrs` as refresh would read them.
    pub fn build_by_hand(
        &self,
        kind: Kind,
        id: &str,
        attrs: BTreeMap<String, super::Value>,
        owner: Option<super::Owner>,
    ) {
        let resource = LiveResource {
            address: Address::new(kind, "by-hand", None),
            id: id.to_string(),
            attrs,
            outputs: outputs(kind, id, id),
            applied: None,
            expires: None,
        };
        self.with(|i| i.by_hand.insert((kind, id.to_string()), (resource, owner)));
    }

    /// Change a live attribute behind the stack's back (drift, or another run).
    pub fn set_attr(&self, address: &Address, name: &str, value: super::Value) {
        self.with(|i| {
            if let Some(r) = i.resources.get_mut(address) {
                r.attrs.insert(name.to_string(), value);
            }
        });
    }
}

fn failure(scope: &Scope, action: String) -> ProviderError {
    ProviderError::Api {
        action,
        stack: scope.stack.clone(),
        detail: "the in-memory provider was told to fail".into(),
    }
}

/// What `${address.attr}` resolves to for a new resource of `kind`.
fn outputs(kind: Kind, id: &str, name: &str) -> BTreeMap<String, String> {
    let pairs: Vec<(&str, String)> = match kind {
        Kind::SecurityGroup => vec![("id", id.to_string())],
        Kind::LoadBalancer => vec![("dns_name", format!("{name}.elb.example"))],
        Kind::Database => vec![
            ("address", format!("{name}.db.example")),
            ("port", "3306".into()),
        ],
        Kind::Instance => vec![
            ("id", id.to_string()),
            ("public_dns", format!("{id}.compute.example")),
            ("private_ip", "10.0.0.1".into()),
        ],
        Kind::KeyPair => vec![("name", name.to_string())],
        Kind::DnsRecord => vec![],
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Provider for Memory {
    async fn refresh(&self, scope: &Scope) -> Result<LiveState, ProviderError> {
        self.with(|i| {
            i.calls.push("refresh".into());
            let mut live = LiveState::default();
            for r in i.resources.values() {
                live.insert(r.clone());
                if i.untagged.contains(&r.address) {
                    live.unaddressed.insert(r.address.clone(), r.id.clone());
                }
            }
            for (address, id) in &scope.imports {
                let Some((found, owner)) = i.by_hand.get(&(address.kind, id.clone())) else {
                    continue;
                };
                match owner {
                    Some(owner) => {
                        live.import_owners.insert(address.clone(), owner.clone());
                    }
                    None if !live.resources.contains_key(address) => {
                        live.insert(LiveResource {
                            address: address.clone(),
                            ..found.clone()
                        });
                        live.imported.insert(address.clone());
                    }
                    None => {}
                }
            }
            live.surplus = i.surplus.clone();
            Ok(live)
        })
    }

    async fn create(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
        _progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        self.with(|i| create_one(i, scope, want))
    }

    async fn create_batch(
        &self,
        scope: &Scope,
        wants: &[Desired<'_>],
        _progress: &Progress<'_>,
    ) -> Vec<Result<Applied, ProviderError>> {
        self.with(|i| {
            i.launches
                .push(wants.iter().map(|w| w.resource.address.clone()).collect());
            wants.iter().map(|w| create_one(i, scope, w)).collect()
        })
    }

    async fn update(
        &self,
        _scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
        _progress: &Progress<'_>,
    ) -> Result<Applied, ProviderError> {
        self.with(|i| {
            i.calls.push(format!("update {}", live.address));
            // Every update writes the address tag with the rest.
            i.untagged.remove(&live.address);
            if let Some(p) = &want.master_password {
                i.passwords
                    .insert(live.address.clone(), p.expose().to_string());
            }
            // An imported resource becomes the stack's: tagged with its address; a moved
            // one is tagged with its new address only.
            i.by_hand.remove(&(live.address.kind, live.id.clone()));
            i.resources
                .retain(|a, r| !(r.id == live.id && *a != live.address));
            let r = i
                .resources
                .entry(live.address.clone())
                .or_insert_with(|| live.clone());
            for name in &want.changed {
                match want.attrs.get(name) {
                    Some(v) => r.attrs.insert(name.clone(), v.clone()),
                    None => r.attrs.remove(name),
                };
            }
            r.applied = Some(want.applied.clone());
            if let Some(at) = want.tags.get(super::TAG_EXPIRES) {
                r.expires = Some(at.clone());
            }
            Ok(Applied {
                id: r.id.clone(),
                outputs: r.outputs.clone(),
            })
        })
    }

    async fn newest_snapshot(
        &self,
        _scope: &Scope,
        source: &SnapshotSource,
    ) -> Result<Option<Snapshot>, ProviderError> {
        self.with(|i| {
            i.calls
                .push(format!("snapshots {} {}", source.env, source.address));
            Ok(i.snapshots
                .iter()
                .filter(|(env, address, _)| *env == source.env && *address == source.address)
                .map(|(_, _, s)| s)
                .max_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)))
                .cloned())
        })
    }

    async fn snapshot_available(&self, _scope: &Scope, id: &str) -> Result<bool, ProviderError> {
        self.with(|i| {
            i.calls.push(format!("snapshot {id}"));
            Ok(i.snapshots.iter().any(|(_, _, s)| s.id == id))
        })
    }

    async fn set_expiry(
        &self,
        _scope: &Scope,
        resources: &[LiveResource],
        at: Option<&str>,
    ) -> Result<(), ProviderError> {
        self.with(|i| {
            let mut addresses: Vec<String> = Vec::new();
            for live in resources {
                if live.address.kind == crate::stack::Kind::DnsRecord {
                    continue;
                }
                if let Some(r) = i.resources.get_mut(&live.address) {
                    r.expires = at.map(String::from);
                    addresses.push(live.address.to_string());
                }
            }
            i.calls.push(format!(
                "expire {} {}",
                at.unwrap_or("never"),
                addresses.join(",")
            ));
            Ok(())
        })
    }

    async fn destroy(
        &self,
        _scope: &Scope,
        live: &LiveResource,
        _how: Teardown,
        _progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        self.with(|i| {
            i.calls.push(format!("destroy {}", live.address));
            i.by_hand.remove(&(live.address.kind, live.id.clone()));
            i.surplus.retain(|(_, id)| *id != live.id);
            // By id: during a rolling replacement the address is already its successor's.
            if i.resources
                .get(&live.address)
                .is_some_and(|r| r.id == live.id)
            {
                i.resources.remove(&live.address);
                i.untagged.remove(&live.address);
            }
            Ok(())
        })
    }

    async fn register(
        &self,
        _scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> Result<(), ProviderError> {
        self.with(|i| {
            i.calls
                .push(format!("register {} {}", balancer.address, ids.join(",")));
            let members = i.members.entry(balancer.address.clone()).or_default();
            members.extend(ids.iter().cloned());
            Ok(())
        })
    }

    async fn deregister(
        &self,
        _scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
        _progress: &Progress<'_>,
    ) -> Result<(), ProviderError> {
        self.with(|i| {
            i.calls
                .push(format!("deregister {} {}", balancer.address, ids.join(",")));
            if let Some(members) = i.members.get_mut(&balancer.address) {
                members.retain(|m| !ids.contains(m));
            }
            Ok(())
        })
    }

    async fn member_health(
        &self,
        _scope: &Scope,
        balancer: &LiveResource,
        ids: &[String],
    ) -> Result<Vec<MemberHealth>, ProviderError> {
        self.with(|i| {
            i.calls.push(format!("health {}", balancer.address));
            Ok(ids
                .iter()
                .map(|id| MemberHealth {
                    id: id.clone(),
                    state: if i.never_healthy {
                        "OutOfService"
                    } else {
                        "InService"
                    }
                    .into(),
                    reason: i.never_healthy.then(|| "Instance".into()),
                    description: i.never_healthy.then(|| "failing its health check".into()),
                })
                .collect())
        })
    }

    async fn set_retiring(
        &self,
        _scope: &Scope,
        instance: &LiveResource,
        retiring: bool,
    ) -> Result<(), ProviderError> {
        self.with(|i| {
            i.calls.push(format!(
                "{} {}",
                if retiring { "retire" } else { "unretire" },
                instance.id
            ));
            if retiring {
                i.retiring.insert(instance.id.clone(), instance.clone());
            } else if let Some(old) = i.retiring.remove(&instance.id) {
                i.resources.entry(old.address.clone()).or_insert(old);
            }
            Ok(())
        })
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for call in self.log() {
            let op = call.split(' ').next().unwrap_or_default().to_string();
            *out.entry(op).or_insert(0) += 1;
        }
        out
    }
}

impl Locking for Memory {
    async fn lock(
        &self,
        scope: &Scope,
        me: &Holder,
        _wait: Duration,
        _warn: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Lock, LockError> {
        let held = self.with(|i| {
            i.calls.push("lock".into());
            match &i.holder {
                Some(holder) if holder.run != me.run => Some(holder.clone()),
                _ => {
                    i.holder = Some(me.clone());
                    None
                }
            }
        });
        match held {
            Some(holder) => Err(LockError::Held {
                stack: scope.stack.clone(),
                env: scope.env.clone(),
                holder,
            }),
            None => Ok(Lock::new(me.run.clone())),
        }
    }

    async fn unlock(&self, _scope: &Scope, lock: Lock) -> Result<(), ProviderError> {
        self.with(|i| {
            i.calls.push("unlock".into());
            if i.holder.as_ref().is_some_and(|h| h.run == lock.id()) {
                i.holder = None;
            }
            Ok(())
        })
    }

    async fn holder(&self, _scope: &Scope) -> Result<Option<Holder>, ProviderError> {
        self.with(|i| {
            i.calls.push("holder".into());
            Ok(i.holder.clone())
        })
    }
}

/// One create, as `create` and `create_batch` make it.
fn create_one(i: &mut Inner, scope: &Scope, want: &Desired<'_>) -> Result<Applied, ProviderError> {
    let address = want.resource.address.clone();
    i.calls.push(format!("create {address}"));
    if i.failing.contains(&address) {
        return Err(failure(scope, format!("create `{address}`")));
    }
    if let Some(p) = &want.master_password {
        i.passwords.insert(address.clone(), p.expose().to_string());
    }
    if let Some(snapshot) = &want.restore {
        i.restored.insert(address.clone(), snapshot.clone());
    }
    i.next_id += 1;
    let id = format!("{}-{:04}", address.kind, i.next_id);
    let outputs = outputs(address.kind, &id, &want.resource.physical_name);
    i.resources.insert(
        address.clone(),
        LiveResource {
            address: address.clone(),
            id: id.clone(),
            attrs: want.attrs.clone(),
            outputs: outputs.clone(),
            applied: Some(want.applied.clone()),
            expires: want.tags.get(super::TAG_EXPIRES).cloned(),
        },
    );
    i.untagged.remove(&address);
    Ok(Applied { id, outputs })
}
