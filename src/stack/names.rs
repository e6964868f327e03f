//! Physical names: what each resource is called in AWS, and AWS's rules for them.
//!
//! A resource without an explicit `name` is called `<stack>-<env>-<name>` (`-<i>` per
//! replica), where every `-` inside the stack and the env is doubled ([`stack_env`]): stack
//! `a-b` env `c` is `a--b-c`, stack `a` env `b-c` is `a-b--c`, so two stacks never share a
//! name, and a stack and env without a hyphen keep the names they always had. Where AWS
//! allows fewer characters than that takes (32 for a classic ELB, 63 for an RDS identifier),
//! the name is cut to fit and ends in `-` and 8 hex digits of the SHA-256 of the full name,
//! so it stays stable from run to run and distinct between stacks. RDS refuses `--`: a
//! database of a stack or env with a hyphen is called by the plain join, told apart by that
//! hash suffix. An explicit `name` is never changed: one AWS would refuse is an error at
//! validate time.

use sha2::{Digest, Sha256};

use crate::address::Kind;

/// The longest physical name AWS accepts for a kind.
pub fn max_len(kind: Kind) -> usize {
    match kind {
        Kind::LoadBalancer => 32,
        Kind::Database => 63,
        Kind::SecurityGroup | Kind::KeyPair => 255,
        Kind::Instance => 256,
        Kind::DnsRecord => 253,
    }
}

/// Stack and env as one part of a name that no other stack and env give: each `-` inside
/// either is doubled, and one `-` joins them (`a-b`, `c` → `a--b-c`; `a`, `b-c` → `a-b--c`).
/// Without a hyphen in either, the plain `<stack>-<env>` of old.
///
/// It cannot collide: stack and env names start with a letter and do not end with `-`, so
/// the join is the only run of hyphens of odd length.
pub fn stack_env(stack: &str, env: &str) -> String {
    format!("{}-{}", stack.replace('-', "--"), env.replace('-', "--"))
}

/// The default physical name, shortened with a stable hash suffix when AWS needs it.
pub fn default_name(kind: Kind, stack: &str, env: &str, name: &str, index: Option<u32>) -> String {
    let join = |stack_env: &str| {
        let mut full = format!("{stack_env}-{name}");
        if let Some(i) = index {
            full.push_str(&format!("-{i}"));
        }
        // Resource names may hold `_`, which neither ELB nor RDS accept.
        if matches!(kind, Kind::LoadBalancer | Kind::Database) {
            full = full.replace('_', "-").to_ascii_lowercase();
        }
        full
    };
    let full = join(&stack_env(stack, env));
    if kind == Kind::Database && (stack.contains('-') || env.contains('-')) {
        // RDS refuses `--`: the plain join, made distinct by the hash of the full name.
        return with_hash(&join(&format!("{stack}-{env}")), &full, max_len(kind));
    }
    shorten(&full, max_len(kind))
}

/// `name` if it fits in `limit` characters; otherwise its start, `-`, and a hash suffix.
pub fn shorten(name: &str, limit: usize) -> String {
    if name.len() <= limit {
        return name.to_string();
    }
    with_hash(name, name, limit)
}

/// The start of `name`, `-`, and 8 hex digits of the SHA-256 of `hashed`, in `limit`.
fn with_hash(name: &str, hashed: &str, limit: usize) -> String {
    let digest = Sha256::digest(hashed.as_bytes());
    let suffix: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut keep = (limit - suffix.len() - 1).min(name.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let head = name[..keep].trim_end_matches('-');
    format!("{head}-{suffix}")
}

/// Why AWS would refuse `name` for `kind`, if it would.
pub fn check(kind: Kind, name: &str) -> Result<(), String> {
    let limit = max_len(kind);
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.len() > limit {
        let what = kind.as_str().replace('_', " ");
        return Err(format!(
            "{what} names are at most {limit} characters; this one has {}",
            name.len()
        ));
    }
    match kind {
        Kind::LoadBalancer => {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err("load balancer names may hold only letters, digits and `-`".into());
            }
            if name.starts_with('-') || name.ends_with('-') {
                return Err("load balancer names cannot start or end with `-`".into());
            }
        }
        Kind::Database => {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(
                    "database identifiers may hold only lowercase letters, digits and `-`".into(),
                );
            }
            if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                return Err("database identifiers must start with a letter".into());
            }
            if name.ends_with('-') || name.contains("--") {
                return Err("database identifiers cannot end with `-` or contain `--`".into());
            }
        }
        Kind::SecurityGroup => {
            if name.starts_with("sg-") {
                return Err("security group names cannot start with `sg-`".into());
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c))
            {
                return Err("security group names may hold only letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*".into());
            }
        }
        Kind::KeyPair | Kind::Instance => {
            if !name.is_ascii() || name.chars().any(|c| c.is_ascii_control()) {
                return Err(format!("{kind} names must be printable ASCII"));
            }
        }
        Kind::DnsRecord => {}
    }
    Ok(())
}

/// Stack, env and resource names: what goes into every physical name and tag.
pub fn check_stack_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 32;
    if ok {
        Ok(())
    } else {
        Err(
            "use lowercase letters, digits and `-`, starting with a letter, at most 32 characters"
                .into(),
        )
    }
}

pub fn check_resource_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("use lowercase letters, digits, `-` and `_`, starting with a letter".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_join_stack_env_and_name() {
        assert_eq!(
            default_name(Kind::SecurityGroup, "paasmaker", "production", "rds", None),
            "paasmaker-production-rds"
        );
        assert_eq!(
            default_name(Kind::Instance, "paasmaker", "staging", "heart", Some(3)),
            "paasmaker-staging-heart-3"
        );
    }

    #[test]
    fn long_elb_names_are_shortened_stably_and_stay_valid() {
        let a = default_name(
            Kind::LoadBalancer,
            "paasmaker",
            "production",
            "web_frontend",
            None,
        );
        assert_eq!(a.len(), 32);
        assert_eq!(
            a,
            default_name(
                Kind::LoadBalancer,
                "paasmaker",
                "production",
                "web_frontend",
                None
            )
        );
        assert!(a.starts_with("paasmaker-production-"));
        check(Kind::LoadBalancer, &a).unwrap();
        let b = default_name(
            Kind::LoadBalancer,
            "paasmaker",
            "production",
            "web_frontenc",
            None,
        );
        assert_ne!(
            a, b,
            "names that differ only past the cut must still differ"
        );
    }

    #[test]
    fn database_identifiers_follow_rds_rules() {
        assert!(check(Kind::Database, "1db").is_err());
        assert!(check(Kind::Database, "Db").is_err());
        assert!(check(Kind::Database, "a--b").is_err());
        assert!(check(Kind::Database, "apps-").is_err());
        check(Kind::Database, "paasmaker-production-apps").unwrap();
        let long = default_name(
            Kind::Database,
            &"s".repeat(32),
            &"e".repeat(32),
            "apps",
            None,
        );
        assert_eq!(long.len(), 63);
        check(Kind::Database, &long).unwrap();
    }

    #[test]
    fn stack_and_env_join_without_collisions() {
        // Issue 13: stack `a-b` env `c` and stack `a` env `b-c` shared every name.
        assert_eq!(stack_env("a-b", "c"), "a--b-c");
        assert_eq!(stack_env("a", "b-c"), "a-b--c");
        assert_eq!(stack_env("paasmaker", "production"), "paasmaker-production");
        let pairs = [
            ("a", "b-c"),
            ("a-b", "c"),
            ("a", "b--c"),
            ("a--b", "c"),
            ("a-b", "c-d"),
            ("a-b-c", "d"),
            ("a", "b-c-d"),
        ];
        for kind in Kind::ALL.iter().copied() {
            let mut seen = std::collections::BTreeMap::new();
            for (stack, env) in pairs {
                for (name, index) in [("x", None), ("x", Some(1)), ("x-1", None), ("d-x", None)] {
                    let physical = default_name(kind, stack, env, name, index);
                    if let Some(other) = seen.insert(physical.clone(), (stack, env, name, index)) {
                        // Within one stack, `x` replica 1 and `x-1` are one name (not issue 13).
                        assert_eq!(
                            (other.0, other.1),
                            (stack, env),
                            "{kind}: `{physical}` for {other:?} and {:?}",
                            (stack, env, name, index)
                        );
                    }
                    // (A stack or env holding `--` itself never made a valid identifier.)
                    if kind == Kind::Database && !format!("{stack}{env}").contains("--") {
                        check(kind, &physical).unwrap_or_else(|e| panic!("{physical}: {e}"));
                    }
                }
            }
        }
    }

    #[test]
    fn names_without_a_hyphen_in_stack_or_env_are_unchanged() {
        // What every running resource of such a stack is called: the upgrade renames nothing.
        for kind in Kind::ALL.iter().copied() {
            let old = shorten(
                &{
                    let full = "paasmaker-production-web_frontend-2".to_string();
                    if matches!(kind, Kind::LoadBalancer | Kind::Database) {
                        full.replace('_', "-")
                    } else {
                        full
                    }
                },
                max_len(kind),
            );
            assert_eq!(
                default_name(kind, "paasmaker", "production", "web_frontend", Some(2)),
                old
            );
        }
        assert_eq!(
            default_name(
                Kind::LoadBalancer,
                "paasmaker",
                "production",
                "web_frontend",
                None
            ),
            "paasmaker-production-we-baf9af29"
        );
    }

    #[test]
    fn stack_names() {
        check_stack_name("paasmaker").unwrap();
        assert!(check_stack_name("Paasmaker").is_err());
        assert!(check_stack_name("9lives").is_err());
        assert!(check_stack_name("a_b").is_err());
    }
}
