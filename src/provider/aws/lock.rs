//! The lock that keeps two applies (or destroys) of one stack and env from running at
//! once, held in AWS itself: a security group named `stackwright-lock-<stack>-<env>`, with
//! every `-` inside the stack and the env doubled ([`lock_name`]) so that no two stacks share
//! it (stack `a-b` env `c` and stack `a` env `b-c` did).
//!
//! - Creating it is an atomic create-if-absent: EC2 refuses a second group of the same
//!   name (`InvalidGroup.Duplicate`), whoever asks, from wherever.
//! - Its tags say who holds it (`user@host pid N`), since when, and the run's nonce, so a
//!   repeat of our own create (a lost response, retried) is recognised as ours.
//! - A holder on this host whose process is gone is provably gone: its lock is taken over
//!   with a warning. Elsewhere nobody can prove that; `stackwright unlock` breaks it.
//! - It is deleted by id, so breaking a stale lock never deletes one just taken by another.
//! - [`Aws::break_lock`] breaks only a lock whose tags say it is this stack's and env's, and
//!   not one whose holder still runs on this machine unless forced.
//!
//! It needs nothing but EC2 (a default VPC in the region, which every account has unless
//! it was deleted) and costs nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use tokio::time::Instant;

use super::{Aws, code};
use crate::provider::{ProviderError, Scope};
use crate::stack::names;

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
            (TAG_LOCK, lock_tag(scope)),
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

    /// Whether this holder provably still runs: a live process on this host.
    pub fn is_alive_here(&self) -> bool {
        let here = Holder::me("");
        self.host == here.host
            && self.pid != 0
            && std::path::Path::new("/proc/self").exists()
            && std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
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

/// Why [`Aws::break_lock`] left a lock alone.
#[derive(Debug, thiserror::Error)]
pub enum BreakLockError {
    /// The group of that name is not this stack's lock (its `stackwright:lock` tag says
    /// another stack and env, or nothing): breaking it would free someone else's apply.
    #[error(
        "the group `{group}` is not the lock of stack `{stack}` env `{env}`: {}",
        match tagged {
            Some(t) => format!("its tags say it is the lock of `{t}`"),
            None => "it has no `stackwright:lock` tag".to_string(),
        }
    )]
    NotThisStack {
        group: String,
        stack: String,
        env: String,
        tagged: Option<String>,
    },
    /// The holder runs on this machine: its apply is still going.
    #[error(
        "stack `{stack}` env `{env}` is locked by {holder}, which is still running on this machine"
    )]
    HolderAlive {
        stack: String,
        env: String,
        holder: Holder,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl BreakLockError {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            BreakLockError::NotThisStack { .. } => Some(
                "nothing was deleted; if that group is a leftover, delete it by hand after checking who made it",
            ),
            BreakLockError::HolderAlive { .. } => Some(
                "wait for that run to end, or stop it; break the lock of a live run only when forced (two applies at once undo each other's work)",
            ),
            BreakLockError::Provider(e) => e.hint(),
        }
    }
}

/// For callers that speak only [`ProviderError`].
impl From<BreakLockError> for ProviderError {
    fn from(e: BreakLockError) -> Self {
        match e {
            BreakLockError::Provider(e) => e,
            BreakLockError::NotThisStack { ref stack, .. }
            | BreakLockError::HolderAlive { ref stack, .. } => ProviderError::Api {
                action: "break the lock".into(),
                stack: stack.clone(),
                detail: match e.hint() {
                    Some(hint) => format!("{e} ({hint})"),
                    None => e.to_string(),
                },
            },
        }
    }
}

/// The name of the lock group of `scope`: `stackwright-lock-<stack>-<env>`, hyphens inside
/// the stack and the env doubled ([`names::stack_env`]), so unchanged for names without one.
pub fn lock_name(scope: &Scope) -> String {
    format!(
        "stackwright-lock-{}",
        names::stack_env(&scope.stack, &scope.env)
    )
}

/// What the lock of `scope` says in its `stackwright:lock` tag.
fn lock_tag(scope: &Scope) -> String {
    format!("{}/{}", scope.stack, scope.env)
}

impl Aws {
    /// The lock group, if there is one: its id, holder and `stackwright:lock` tag.
    async fn read_lock(
        &self,
        scope: &Scope,
    ) -> Result<Option<(String, Holder, Option<String>)>, ProviderError> {
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
            let tags: BTreeMap<String, String> = g
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect();
            (
                g.group_id().unwrap_or_default().to_string(),
                Holder::from_tags(&tags),
                tags.get(TAG_LOCK).cloned(),
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
            let Some((id, holder, whose)) = self.read_lock(scope).await? else {
                continue; // released in between: try again
            };
            if whose.is_none() {
                // Not a lock at all: a group somebody made with the lock's name. Waiting
                // would never end, and deleting it is not ours to do.
                return Err(ProviderError::Api {
                    action: "take the lock".into(),
                    stack: scope.stack.clone(),
                    detail: format!(
                        "a security group named `{}` ({id}) exists and is not a stackwright \
                         lock (it has no `{TAG_LOCK}` tag); rename or delete it, then run again",
                        lock_name(scope)
                    ),
                }
                .into());
            }
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

    /// Break the lock of `scope` (`stackwright unlock`): who held it, if anyone.
    ///
    /// Refused, with nothing deleted, when the group's tags say it is not this stack's and
    /// env's lock, and when its holder is still running on this machine unless `force`.
    pub async fn break_lock(
        &self,
        scope: &Scope,
        force: bool,
    ) -> Result<Option<Holder>, BreakLockError> {
        let Some((id, holder, tagged)) = self.read_lock(scope).await? else {
            return Ok(None);
        };
        if tagged.as_deref() != Some(lock_tag(scope).as_str()) {
            return Err(BreakLockError::NotThisStack {
                group: lock_name(scope),
                stack: scope.stack.clone(),
                env: scope.env.clone(),
                tagged,
            });
        }
        if !force && holder.is_alive_here() {
            return Err(BreakLockError::HolderAlive {
                stack: scope.stack.clone(),
                env: scope.env.clone(),
                holder,
            });
        }
        self.delete_lock(scope, &id).await?;
        Ok(Some(holder))
    }

    /// Who holds the lock of `scope`, unless that run is provably gone.
    pub async fn live_holder(&self, scope: &Scope) -> Result<Option<Holder>, ProviderError> {
        Ok(self
            .read_lock(scope)
            .await?
            // A group of that name that is not this stack's lock is for `lock` to say.
            .filter(|(_, _, whose)| {
                whose.as_deref() == Some(format!("{}/{}", scope.stack, scope.env).as_str())
            })
            .map(|(_, holder, _)| holder)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(stack: &str, env: &str) -> Scope {
        Scope {
            stack: stack.into(),
            env: env.into(),
            zones: Default::default(),
            deep: false,
            secrets: Default::default(),
            cloudformation: false,
            physical_ids: Default::default(),
            imports: Default::default(),
        }
    }

    #[test]
    fn lock_names_of_different_stacks_differ_and_old_ones_stay() {
        assert_eq!(
            lock_name(&scope("paasmaker", "production")),
            "stackwright-lock-paasmaker-production"
        );
        let a = lock_name(&scope("a-b", "c"));
        let b = lock_name(&scope("a", "b-c"));
        assert_ne!(a, b, "issue 13: one lock for two stacks");
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("stackwright-lock-a--b-c", "stackwright-lock-a-b--c")
        );
        assert_eq!(lock_tag(&scope("a-b", "c")), "a-b/c");
    }

    #[test]
    fn a_holder_is_alive_here_only_while_its_process_runs() {
        let me = Holder::me("run");
        assert!(me.is_alive_here());
        let gone = Holder {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(!gone.is_alive_here());
        let elsewhere = Holder {
            host: "another-host.invalid".into(),
            ..me
        };
        assert!(!elsewhere.is_alive_here());
    }

    #[test]
    fn a_refusal_reads_as_a_provider_error_for_older_callers() {
        let e = ProviderError::from(BreakLockError::NotThisStack {
            group: "stackwright-lock-a-b-c".into(),
            stack: "a".into(),
            env: "b-c".into(),
            tagged: Some("a-b/c".into()),
        });
        let text = e.to_string();
        assert!(
            text.contains("failed to break the lock of stack `a`")
                && text.contains("its tags say it is the lock of `a-b/c`"),
            "{text}"
        );
    }
}
