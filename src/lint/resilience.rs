//! Resilience: the usual advice for AWS. Spread over zones, no single point of failure,
//! backups you can restore.
//!
//! The database rules about lost data (`db-no-backups`, `db-no-final-snapshot`,
//! `db-no-deletion-protection`) judge only an env that looks like production (see
//! [`looks_like_production`]): a throwaway env without backups is a choice its env file
//! makes, and `lint_allow` on the resource would silence production too.

use std::collections::BTreeSet;

use crate::address::Kind;
use crate::stack::Spec;

use super::{Block, Raw};

pub(super) fn check(env: &str, blocks: &[Block<'_>], out: &mut Vec<Raw>) {
    let production = looks_like_production(env);
    // Roles run as more than one replica: the stack is built to survive losing one.
    let replicated = blocks
        .iter()
        .any(|b| b.kind == Kind::Instance && b.replicas.len() >= 2);
    for b in blocks {
        match (&b.kind, b.replicas.first().map(|r| &r.spec)) {
            (Kind::Instance, Some(Spec::Instance(_))) => instances(b, out),
            (Kind::LoadBalancer, Some(Spec::LoadBalancer(lb))) => {
                let address = b.address();
                // Subnets stand for their zones (lint reads nothing from AWS).
                if lb.availability_zones.len() < 2 && lb.subnets.len() < 2 {
                    out.push(b.finding(
                        "lb-one-zone",
                        b.origin.key_or_table("availability_zones"),
                        format!("`{address}` serves one zone: losing that zone takes it down"),
                        "list two or more `availability_zones` (with `cross_zone = true` when \
                         the members are not spread evenly)",
                    ));
                }
                if lb.health_check.is_none() {
                    out.push(b.finding(
                        "lb-no-health-check",
                        &b.origin.table,
                        format!(
                            "`{address}` has no `health_check`: it keeps sending traffic to \
                             members that stopped answering"
                        ),
                        "add `health_check = { target = \"TCP:80\", interval = 30, timeout = 5, \
                         unhealthy_threshold = 2, healthy_threshold = 2 }`",
                    ));
                }
            }
            (Kind::Database, Some(Spec::Database(db))) => {
                let address = b.address();
                if production && db.backup_retention_days == 0 {
                    out.push(b.finding(
                        "db-no-backups",
                        b.origin.key_or_table("backup_retention_days"),
                        format!(
                            "`{address}` keeps no automated backups in env `{env}`: no \
                             point-in-time restore"
                        ),
                        "set `backup_retention_days` to 7 or more",
                    ));
                }
                if production && !db.final_snapshot {
                    out.push(b.finding(
                        "db-no-final-snapshot",
                        b.origin.key_or_table("final_snapshot"),
                        format!(
                            "`{address}` is destroyed without a final snapshot in env `{env}`: \
                             its data goes with it"
                        ),
                        "remove `final_snapshot = false` (a final snapshot is the default)",
                    ));
                }
                if production && !db.deletion_protection {
                    out.push(b.finding(
                        "db-no-deletion-protection",
                        b.origin.key_or_table("deletion_protection"),
                        format!(
                            "`{address}` has no deletion protection in env `{env}`: one \
                             mistaken destroy deletes it"
                        ),
                        "set `deletion_protection = true`",
                    ));
                }
                if replicated && !db.multi_az {
                    out.push(b.finding(
                        "db-single-az",
                        b.origin.key_or_table("multi_az"),
                        format!(
                            "`{address}` is in one zone while other roles run replicas: losing \
                             that zone stops them all"
                        ),
                        "set `multi_az = true` (a standby in a second zone)",
                    ));
                }
            }
            _ => {}
        }
    }
}

fn instances(b: &Block<'_>, out: &mut Vec<Raw>) {
    let address = b.address();
    let count = b.replicas.len();
    if count == 1 {
        out.push(b.finding(
            "single-instance",
            b.origin.key_or_table("count"),
            format!("`{address}` is a single instance: a single point of failure"),
            "run two or more replicas (`count`), or silence with `lint_allow = \
             [\"single-instance\"]` and a comment saying why there can be only one",
        ));
    }
    if count >= 2 {
        let zones: BTreeSet<Option<&str>> = b
            .replicas
            .iter()
            .map(|r| match &r.spec {
                Spec::Instance(i) => i.availability_zone.as_deref().or(i.subnet.as_deref()),
                _ => None,
            })
            .collect();
        // Without a zone AWS chooses one per launch, and may choose the same one.
        if zones.len() < 2 || zones.contains(&None) {
            let span = ["availability_zones", "availability_zone", "count"]
                .iter()
                .find_map(|k| b.origin.keys.get(*k))
                .unwrap_or(&b.origin.table);
            out.push(b.finding(
                "replicas-one-zone",
                span,
                format!(
                    "the {count} replicas of `{address}` are not spread over zones: losing one \
                     zone loses them all"
                ),
                "list two or more `availability_zones`; replicas are spread round-robin",
            ));
        }
    }
}

/// An env named `production`, `prod`, `prd` or `live`, alone or as a word of its name
/// (`prod-eu`, `eu-production`).
pub(super) fn looks_like_production(env: &str) -> bool {
    env.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| matches!(w, "production" | "prod" | "prd" | "live"))
}
