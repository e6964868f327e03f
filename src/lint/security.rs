//! Security: what teams already run in CI on CloudFormation templates (checkov, cfn-lint,
//! cfn-nag), judged on the stack itself. `docs/lint.md` maps each rule to theirs.
//!
//! A rule open on every port from anywhere is reported once, as
//! `all-ports-open-to-world`, not again as SSH and RDP.

use crate::address::Kind;
use crate::stack::Spec;
use crate::stack::model::{MetadataTokens, Rule, RuleSource};

use super::{Block, Raw};

pub(super) fn check(blocks: &[Block<'_>], out: &mut Vec<Raw>) {
    for b in blocks {
        let address = b.address();
        match b.replicas.first().map(|r| &r.spec) {
            Some(Spec::SecurityGroup(sg)) => {
                for rule in &sg.ingress {
                    ingress(b, rule, out);
                }
            }
            Some(Spec::Database(db)) => {
                if db.publicly_accessible {
                    out.push(b.finding(
                        "db-publicly-accessible",
                        b.origin.key_or_table("publicly_accessible"),
                        format!("`{address}` has a public address: the database is reachable from the internet"),
                        "set `publicly_accessible = false` and reach it from instances in its security groups",
                    ));
                }
                if !db.storage_encrypted {
                    out.push(b.finding(
                        "db-storage-unencrypted",
                        b.origin.key_or_table("storage_encrypted"),
                        format!("`{address}` stores its data, backups and snapshots unencrypted"),
                        "remove `storage_encrypted = false` (encryption is the default for new \
                         databases; a running one cannot be encrypted in place: restore it from an \
                         encrypted snapshot copy)",
                    ));
                }
            }
            Some(Spec::Instance(i)) if b.kind == Kind::Instance => {
                if i.metadata_tokens == MetadataTokens::Optional {
                    out.push(b.finding(
                        "imdsv1-allowed",
                        b.origin.key_or_table("metadata_tokens"),
                        format!(
                            "`{address}` answers IMDSv1: a request forged through the instance (SSRF) \
                             can read its role's credentials"
                        ),
                        "remove `metadata_tokens = \"optional\"` (IMDSv2 tokens are required by \
                         default; apply changes a running instance in place)",
                    ));
                }
                if !i.root_volume_encrypted {
                    out.push(b.finding(
                        "root-volume-unencrypted",
                        b.origin.key_or_table("root_volume_encrypted"),
                        format!("`{address}` has an unencrypted root volume (and snapshots of it)"),
                        "remove `root_volume_encrypted = false` (new instances are encrypted by \
                         default; a running one keeps its volume until it is replaced)",
                    ));
                }
            }
            Some(Spec::LoadBalancer(lb)) => {
                let secure = lb
                    .listeners
                    .iter()
                    .any(|l| matches!(l.protocol.as_str(), "HTTPS" | "SSL"));
                let plain = lb.listeners.iter().position(|l| l.protocol == "HTTP");
                if let (false, Some(i)) = (secure, plain) {
                    let span = b.origin.listeners.get(i).unwrap_or(&b.origin.table);
                    out.push(b.finding(
                        "lb-http-only",
                        span,
                        format!(
                            "`{address}` listens on plain HTTP with no HTTPS listener: traffic \
                             crosses the internet in the clear"
                        ),
                        "add an `https` listener with `ssl_certificate_id` (and redirect HTTP to it)",
                    ));
                }
            }
            _ => {}
        }
    }
}

fn ingress(b: &Block<'_>, rule: &Rule, out: &mut Vec<Raw>) {
    let RuleSource::Cidr(cidr) = &rule.source else {
        return;
    };
    if !(cidr == "0.0.0.0/0" || cidr == "::/0") {
        return;
    }
    let address = b.address();
    let span = b.origin.ingress.get(rule).unwrap_or(&b.origin.table);
    let covers = |port: u16| match (rule.protocol.as_str(), rule.ports) {
        ("-1", _) => true,
        ("tcp", Some((a, z))) => a <= port && port <= z,
        _ => false,
    };
    let every_port = match (rule.protocol.as_str(), rule.ports) {
        ("-1", _) => true,
        ("tcp" | "udp", Some((a, z))) => a <= 1 && z == 65535,
        _ => false,
    };
    if every_port {
        out.push(b.finding(
            "all-ports-open-to-world",
            span,
            format!("`{address}` admits every port from `{cidr}`: {rule}"),
            "admit only the ports a service needs, from the addresses that need them",
        ));
        return;
    }
    if covers(22) {
        out.push(b.finding(
            "ssh-open-to-world",
            span,
            format!("`{address}` admits SSH (22) from `{cidr}`: every scanner on the internet tries it"),
            "narrow `cidr` to the admins' addresses (a var such as `admin_cidr`), or reach nodes through a bastion or SSM",
        ));
    }
    if covers(3389) {
        out.push(b.finding(
            "rdp-open-to-world",
            span,
            format!("`{address}` admits RDP (3389) from `{cidr}`"),
            "narrow `cidr` to the admins' addresses, or reach nodes through a bastion or SSM",
        ));
    }
}
