//! The account as an inventory: every stack and env the tags find in a region, for
//! `stackwright ls` and `destroy --expired`. Plain data and a pure grouping; the reads
//! are `aws::inventory`'s.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// One tagged resource as the inventory sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub stack: String,
    pub env: String,
    /// When AWS created it (RFC 3339, UTC), where AWS says (security groups do not).
    pub created: Option<String>,
    /// Its `stackwright:expires` tag.
    pub expires: Option<String>,
}

/// What one region holds: the resources, and the locks (`stack`, `env`) held now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub resources: Vec<Found>,
    pub locks: Vec<(String, String)>,
}

/// One stack and env in one region: a row of `stackwright ls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub stack: String,
    pub env: String,
    pub region: String,
    /// How many resources carry its tags (Route 53 records, which carry none, are not
    /// counted; the lock is not a resource).
    pub resources: usize,
    /// The oldest resource's creation time (RFC 3339, UTC).
    pub created: Option<String>,
    /// The earliest `stackwright:expires` of its resources.
    pub expires: Option<String>,
    /// Whether `expires` has passed.
    pub expired: bool,
    /// Whether a run holds its lock now.
    pub locked: bool,
}

/// Group `inventory` by stack and env, sorted by stack, env. Linear in the resources.
pub fn list(region: &str, inventory: &Inventory, now: SystemTime) -> Vec<Listed> {
    let mut rows: BTreeMap<(&str, &str), Listed> = BTreeMap::new();
    let row = |stack: &str, env: &str| Listed {
        stack: stack.to_string(),
        env: env.to_string(),
        region: region.to_string(),
        resources: 0,
        created: None,
        expires: None,
        expired: false,
        locked: false,
    };
    for found in &inventory.resources {
        let r = rows
            .entry((&found.stack, &found.env))
            .or_insert_with(|| row(&found.stack, &found.env));
        r.resources += 1;
        // RFC 3339 UTC times of one format sort as text.
        r.created = min(r.created.take(), found.created.clone());
        r.expires = min(r.expires.take(), found.expires.clone());
    }
    for (stack, env) in &inventory.locks {
        rows.entry((stack, env))
            .or_insert_with(|| row(stack, env))
            .locked = true;
    }
    rows.into_values()
        .map(|mut r| {
            r.expired = r.expires.as_deref().is_some_and(|e| expired(e, now));
            r
        })
        .collect()
}

fn min(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn found(stack: &str, env: &str, created: Option<&str>, expires: Option<&str>) -> Found {
        Found {
            stack: stack.into(),
            env: env.into(),
            created: created.map(String::from),
            expires: expires.map(String::from),
        }
    }

    #[test]
    fn stacks_are_grouped_by_stack_and_env_with_their_oldest_and_earliest() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_271_600); // 2026-12-03T04:20:00Z
        let inventory = Inventory {
            resources: vec![
                found(
                    "app",
                    "review",
                    Some("2026-12-01T00:00:00Z"),
                    Some("2026-12-03T04:00:00Z"),
                ),
                found(
                    "app",
                    "review",
                    Some("2026-11-30T00:00:00Z"),
                    Some("2026-12-04T00:00:00Z"),
                ),
                found("app", "review", None, None),
                found("app", "production", Some("2025-01-01T00:00:00Z"), None),
                found("app", "load", None, Some("2026-12-09T00:00:00Z")),
            ],
            locks: vec![
                ("app".into(), "production".into()),
                ("new".into(), "x".into()),
            ],
        };
        let rows = list("us-east-1", &inventory, now);
        let keys: Vec<(&str, &str, usize, bool, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.stack.as_str(),
                    r.env.as_str(),
                    r.resources,
                    r.expired,
                    r.locked,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("app", "load", 1, false, false),
                ("app", "production", 1, false, true),
                ("app", "review", 3, true, false),
                ("new", "x", 0, false, true),
            ]
        );
        let review = &rows[2];
        assert_eq!(review.created.as_deref(), Some("2026-11-30T00:00:00Z"));
        assert_eq!(review.expires.as_deref(), Some("2026-12-03T04:00:00Z"));
        assert_eq!(review.region, "us-east-1");
    }
}

// The `stackwright:expires` tag's times.

/// The RFC 3339 UTC time `secs` after `now`, to the second: `2026-12-06T03:40:00Z`.
pub fn expires_at(now: std::time::SystemTime, secs: u64) -> String {
    let at = now + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Whether an expiry (RFC 3339) has passed at `now`. A value that does not parse has
/// not: a hand-edited tag never gets a stack destroyed.
pub fn expired(expires: &str, now: std::time::SystemTime) -> bool {
    humantime::parse_rfc3339_weak(expires).is_ok_and(|at| at <= now)
}

#[cfg(test)]
mod expiry_tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn expiry_times_are_rfc3339_utc_and_compare_with_now() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_271_600); // 2026-12-03T04:20:00Z
        assert_eq!(expires_at(now, 72 * 3600), "2026-12-06T04:20:00Z");
        assert!(expired("2026-12-03T04:19:59Z", now));
        assert!(expired("2026-12-03T04:20:00Z", now));
        assert!(!expired("2026-12-03T04:20:01Z", now));
        assert!(!expired("next tuesday", now));
    }
}
