//! Expiry: what an apply does to the env's `stackwright:expires` tag.
//!
//! The tag is not an attribute. Its value is the apply's own time plus the env's
//! `expires`, so comparing it would make every plan of an expiring env a change; instead
//! the plan carries one [`Expiry`] for the whole env: the duration it will be renewed by,
//! and the earliest expiry the resources carry now. `plan` shows it and does not count it
//! as a change (`No changes.` and exit code 0 stay true of a converged env); every
//! `apply` rewrites the tag on every resource of the env (one batched call per service),
//! so applying again extends it, and an env whose file dropped `expires` has the tag
//! removed.

use serde::{Deserialize, Serialize};

use crate::provider::LiveState;
use crate::stack::Stack;

/// The env's expiry as a plan sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// The env file's `expires` in seconds: apply tags every resource with its own time
    /// plus this. `None`: the env no longer expires; apply removes the tag.
    pub after_secs: Option<u64>,
    /// The earliest `stackwright:expires` on the env's resources now (RFC 3339, UTC).
    pub current: Option<String>,
}

/// The plan's [`Expiry`]: `None` when the env neither expires nor carries the tag, and
/// for a teardown (a stack with no resources).
pub fn expiry(stack: &Stack, live: &LiveState) -> Option<Expiry> {
    if stack.resources.is_empty() {
        return None;
    }
    // RFC 3339 UTC times of one format sort as text.
    let current = live
        .resources
        .values()
        .filter_map(|r| r.expires.clone())
        .min();
    (stack.expires_secs.is_some() || current.is_some()).then_some(Expiry {
        after_secs: stack.expires_secs,
        current,
    })
}
