//! The lock that keeps two applies (or destroys) of one stack and env from running at
//! once, held in AWS itself: a security group named `stackwright-lock-<stack>-<env>`.
//!
//! - Creating it is an atomic create-if-absent: EC2 refuses a second group of the same
//!   name (`InvalidGroup.Duplicate`), whoever asks, from wherever.
//! - Its tags say who holds it (`user@host pid N`), since when, and the run's nonce, so a
//!   repeat of our own create (a lost response, retried) is recognised as ours.
//! - A holder on this host whose process is gone is provably gone: its lock is taken over
//!   with a warning. Elsewhere nobody can prove that; `stackwright unlock` breaks it.
//! - It is deleted by id, so breaking a stale lock never deletes one just taken by another.
//!
//! It needs nothing but EC2 (a default VPC in the region, which every account has unless
//! it was deleted) and costs nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use tokio::time::Instant;

use super::{Aws, code};
use crate::provider::{ProviderError, Scope};

const TAG_LOCK: &str = "stackwright:lock";
const TAG_HOLDER: &str = "stackwright:lock-holder";
const TAG_SINCE: &str = "stackwright:lock-since";
const TAG_RUN: &str = "stackwright:lock-run";

/// Who takes or holds a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// `user@host`.
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub since: String,
    /// Unique to one run.
    pub run: String,
}

impl Holder {
    /// This process, now.
    pub fn me(run: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".into());
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Holder {
            who: format!("{user}@{host}"),
            host,
            pid: std::process::id(),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            run: run.to_string(),
        }
    }

    fn tags(&self, scope: &Scope) -> Vec<Tag> {
        [
            (TAG_LOCK, format!("{}/{}", scope.stack, scope.env)),
            (TAG_HOLDER, format!("{} pid {}", self.who, self.pid)),
            (TAG_SINCE, self.since.clone()),
            (TAG_RUN, self.run.clone()),
        ]
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
    }

    fn from_tags(tags: &BTreeMap<String, String>) -> Holder {
        let holder = tags.get(TAG_HOLDER).cloned().unwrap_or_default();
        let (who, pid) = holder
            .rsplit_once(" pid ")
            .map_or((holder.as_str(), 0), |(w, p)| (w, p.parse().unwrap_or(0)));
        Holder {
            who: who.to_string(),
            host: who.rsplit_once('@').map_or("", |(_, h)| h).to_string(),
            pid,
            since: tags.get(TAG_SINCE).cloned().unwrap_or_default(),
            run: tags.get(TAG_RUN).cloned().unwrap_or_default(),
        }
    }

    /// Whether this holder is provably gone: a process on this host that no longer runs.
    fn is_gone(&self) -> bool {
        let here = Holder::me("");
        self.host == here.host
            && self.pid != 0
            && self.pid != here.pid
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {}) since {}", self.who, self.pid, self.since)
    }
}

/// A lock this run holds. Release it with [`Aws::unlock`].
#[derive(Debug)]
pub struct Lock {
    group_id: String,
}

impl Lock {
    /// A lock known by `id` (the in-memory provider's).
    pub(crate) fn new(id: String) -> Lock {
        Lock { group_id: id }
    }

    pub(crate) fn id(&self) -> &str {
        &self.group_id
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("stack `{stack}` env `{env}` is locked by {holder}")]
    Held {
        stack: String,
        env: String,
        holder: Holder,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

fn lock_name(scope: &Scope) -> String {
    format!("stackwright-lock-{}-{}", scope.stack, scope.env)
}

impl Aws {
    /// The lock group, if there is one: its id and holder.
    async fn read_lock(&self, scope: &Scope) -> Result<Option<(String, Holder)>, ProviderError> {
        let output = self
            .ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values(lock_name(scope))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(scope, "read the lock", e))?;
        Ok(output.security_groups().first().map(|g| {
            let tags = g
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect();
            (
                g.group_id().unwrap_or_default().to_string(),
                Holder::from_tags(&tags),
            )
        }))
    }

    /// Take the lock of `scope` for `me`, waiting up to `wait` for its holder to let go.
    /// `warn` hears about a dead holder's lock taken over, and about waiting.
    pub async fn lock(
        &self,
        scope: &Scope,
        me: &Holder,
        wait: Duration,
        warn: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Lock, LockError> {
        let deadline = Instant::now() + wait;
        let mut told = false;
        loop {
            let created = self
                .ec2
                .create_security_group()
                .group_name(lock_name(scope))
                .description(format!(
                    "stackwright lock of stack {} env {}: held while an apply or destroy runs",
                    scope.stack, scope.env
                ))
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::SecurityGroup)
                        .set_tags(Some(me.tags(scope)))
                        .build(),
                )
                .send()
                .await;
            match created {
                Ok(out) => {
                    return Ok(Lock {
                        group_id: out.group_id().unwrap_or_default().to_string(),
                    });
                }
                Err(e) if code(&e) == Some("InvalidGroup.Duplicate") => {}
                Err(e) => return Err(self.error(scope, "take the lock", e).into()),
            }
            let Some((id, holder)) = self.read_lock(scope).await? else {
                continue; // released in between: try again
            };
            if holder.run == me.run {
                return Ok(Lock { group_id: id }); // our own create, repeated
            }
            if holder.is_gone() {
                warn(&format!(
                    "taking over the lock of {holder}: that process is no longer running"
                ));
                self.delete_lock(scope, &id).await?;
                continue;
            }
            if Instant::now() >= deadline {
                return Err(LockError::Held {
                    stack: scope.stack.clone(),
                    env: scope.env.clone(),
                    holder,
                });
            }
            if !told {
                warn(&format!("waiting for the lock held by {holder}"));
                told = true;
            }
            tokio::time::sleep(Duration::from_secs(2).min(deadline - Instant::now())).await;
        }
    }

    /// Release a lock this run holds.
    pub async fn unlock(&self, scope: &Scope, lock: Lock) -> Result<(), ProviderError> {
        self.delete_lock(scope, &lock.group_id).await
    }

    /// Break whatever lock `scope` has (`stackwright unlock`): who held it, if anyone.
    pub async fn break_lock(&self, scope: &Scope) -> Result<Option<Holder>, ProviderError> {
        let Some((id, holder)) = self.read_lock(scope).await? else {
            return Ok(None);
        };
        self.delete_lock(scope, &id).await?;
        Ok(Some(holder))
    }

    /// Who holds the lock of `scope`, unless that run is provably gone.
    pub async fn live_holder(&self, scope: &Scope) -> Result<Option<Holder>, ProviderError> {
        Ok(self
            .read_lock(scope)
            .await?
            .map(|(_, holder)| holder)
            .filter(|h| !h.is_gone()))
    }

    async fn delete_lock(&self, scope: &Scope, id: &str) -> Result<(), ProviderError> {
        match self.ec2.delete_security_group().group_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("InvalidGroup.NotFound") => Ok(()),
            Err(e) => Err(self.error(scope, "release the lock", e)),
        }
    }
}

impl crate::provider::Locking for Aws {
    async fn lock(
        &self,
        scope: &Scope,
        me: &Holder,
        wait: Duration,
        warn: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Lock, LockError> {
        Aws::lock(self, scope, me, wait, warn).await
    }

    async fn unlock(&self, scope: &Scope, lock: Lock) -> Result<(), ProviderError> {
        Aws::unlock(self, scope, lock).await
    }

    async fn holder(&self, scope: &Scope) -> Result<Option<Holder>, ProviderError> {
        self.live_holder(scope).await
    }
}
