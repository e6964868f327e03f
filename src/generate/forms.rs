//! The canonical text forms refresh reads attributes into (see `plan::attrs`), read back
//! into what a stack file writes: rules, listeners, health checks, names.

use serde::Serialize;

/// A rule as `stack.toml` writes it: `{ protocol, ports, cidr | group, description }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleOut {
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Where a rule's traffic comes from, as read: the group of a rule is an address of the
/// set (`security_group.x`), `self`, or an id not listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Cidr(String),
    SelfGroup,
    Address(String),
    External(String),
}

/// A rule's canonical text (`tcp 22 from 0.0.0.0/0 "SSH"`, `all from security_group.web`)
/// split into its protocol, ports, source and description.
pub fn rule(text: &str) -> Option<(RuleOut, Source)> {
    let (head, tail) = text.split_once(" from ")?;
    let mut head = head.split(' ');
    let protocol = head.next()?.to_string();
    let ports = head.next().map(str::to_string);
    let (source, description) = match tail.split_once(' ') {
        Some((s, d)) => (s, Some(unquote(d)?)),
        None => (tail, None),
    };
    let source = if source == "self" {
        Source::SelfGroup
    } else if source.starts_with("security_group.") {
        Source::Address(source.to_string())
    } else if source.contains('/') && !source.starts_with("sg-") && source.contains(['.', ':']) {
        Source::Cidr(source.to_string())
    } else {
        Source::External(source.to_string())
    };
    let out = RuleOut {
        protocol,
        ports,
        cidr: match &source {
            Source::Cidr(c) => Some(c.clone()),
            _ => None,
        },
        group: None,
        description,
    };
    Some((out, source))
}

/// The inverse of `{:?}` on a string: `"a \"b\""` → `a "b"`.
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'u' => {
                let rest: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let hex = rest.strip_prefix('{')?;
                out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// A listener as `stack.toml` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListenerOut {
    pub port: u16,
    pub protocol: String,
    pub instance_port: u16,
    pub instance_protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_certificate_id: Option<String>,
}

/// `HTTP:80 -> HTTP:8080 cert=<arn>` read back.
pub fn listener(text: &str) -> Option<ListenerOut> {
    let (front, back) = text.split_once(" -> ")?;
    let (back, cert) = match back.split_once(" cert=") {
        Some((b, c)) => (b, Some(c.to_string())),
        None => (back, None),
    };
    let (protocol, port) = front.split_once(':')?;
    let (instance_protocol, instance_port) = back.split_once(':')?;
    Some(ListenerOut {
        port: port.parse().ok()?,
        protocol: protocol.to_ascii_lowercase(),
        instance_port: instance_port.parse().ok()?,
        instance_protocol: instance_protocol.to_ascii_lowercase(),
        ssl_certificate_id: cert,
    })
}

/// A health check as `stack.toml` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthOut {
    pub target: String,
    pub interval: u32,
    pub timeout: u32,
    pub unhealthy_threshold: u32,
    pub healthy_threshold: u32,
}

/// `TCP:80 every 30s, timeout 5s, unhealthy 2, healthy 2` read back.
pub fn health_check(text: &str) -> Option<HealthOut> {
    let (target, rest) = text.split_once(" every ")?;
    let mut parts = rest.split(", ");
    let interval = parts.next()?.strip_suffix('s')?.parse().ok()?;
    let timeout = parts
        .next()?
        .strip_prefix("timeout ")?
        .strip_suffix('s')?
        .parse()
        .ok()?;
    let unhealthy_threshold = parts.next()?.strip_prefix("unhealthy ")?.parse().ok()?;
    let healthy_threshold = parts.next()?.strip_prefix("healthy ")?.parse().ok()?;
    Some(HealthOut {
        target: target.to_string(),
        interval,
        timeout,
        unhealthy_threshold,
        healthy_threshold,
    })
}

/// A resource name (lowercase letters, digits, `-`, `_`, starting with a letter) made
/// from what AWS calls the resource, without the stack's own prefix when it has one.
pub fn resource_name(aws_name: &str, prefixes: &[String], fallback: &str) -> String {
    let lower = aws_name.to_ascii_lowercase();
    let mut base = lower.as_str();
    for p in prefixes {
        if let Some(rest) = base.strip_prefix(p.as_str())
            && !rest.is_empty()
        {
            base = rest;
            break;
        }
    }
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("{fallback}_{name}");
    }
    name
}

/// An environment variable name: upper case letters, digits and `_`.
pub fn env_var(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// User data as a template file: `${` would be read as interpolation, so it is `$${`.
pub fn escape_template(text: &str) -> String {
    text.replace("${", "$${")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::{GroupRef, Rule, RuleSource};
    use crate::stack::{Address, Kind};

    fn shown(
        protocol: &str,
        ports: Option<(u16, u16)>,
        source: RuleSource,
        d: Option<&str>,
    ) -> String {
        Rule {
            protocol: protocol.into(),
            ports,
            source,
            description: d.map(str::to_string),
        }
        .to_string()
    }

    #[test]
    fn rules_read_back_from_their_canonical_text() {
        let text = shown(
            "tcp",
            Some((22, 22)),
            RuleSource::Cidr("10.0.0.0/8".into()),
            Some("ops \"vpn\"\tand ü"),
        );
        let (out, source) = rule(&text).expect("parsed");
        assert_eq!(out.protocol, "tcp");
        assert_eq!(out.ports.as_deref(), Some("22"));
        assert_eq!(out.cidr.as_deref(), Some("10.0.0.0/8"));
        assert_eq!(out.description.as_deref(), Some("ops \"vpn\"\tand ü"));
        assert_eq!(source, Source::Cidr("10.0.0.0/8".into()));

        let group = Address::new(Kind::SecurityGroup, "db", None);
        let text = shown("-1", None, RuleSource::Group(GroupRef::Stack(group)), None);
        let (out, source) = rule(&text).expect("parsed");
        assert_eq!((out.protocol.as_str(), out.ports), ("all", None));
        assert_eq!(source, Source::Address("security_group.db".into()));

        let text = shown(
            "udp",
            Some((1000, 2000)),
            RuleSource::Group(GroupRef::External("sg-0abc".into())),
            None,
        );
        let (out, source) = rule(&text).expect("parsed");
        assert_eq!(out.ports.as_deref(), Some("1000-2000"));
        assert_eq!(source, Source::External("sg-0abc".into()));
        let (_, source) =
            rule(&shown("tcp", Some((1, 2)), RuleSource::SelfGroup, None)).expect("self");
        assert_eq!(source, Source::SelfGroup);
        let (out, _) = rule(&shown(
            "tcp",
            Some((443, 443)),
            RuleSource::Cidr("::/0".into()),
            None,
        ))
        .expect("v6");
        assert_eq!(out.cidr.as_deref(), Some("::/0"));
    }

    #[test]
    fn listeners_and_health_checks_read_back() {
        let l = listener("HTTPS:443 -> HTTP:8080 cert=arn:aws:acm:x").expect("listener");
        assert_eq!(
            (
                l.port,
                l.protocol.as_str(),
                l.instance_port,
                l.instance_protocol.as_str()
            ),
            (443, "https", 8080, "http")
        );
        assert_eq!(l.ssl_certificate_id.as_deref(), Some("arn:aws:acm:x"));
        let h = health_check("HTTP:80/health every 30s, timeout 5s, unhealthy 3, healthy 2")
            .expect("health check");
        assert_eq!(
            (
                h.target.as_str(),
                h.interval,
                h.timeout,
                h.unhealthy_threshold,
                h.healthy_threshold
            ),
            ("HTTP:80/health", 30, 5, 3, 2)
        );
        assert!(health_check("TCP:80").is_none());
    }

    #[test]
    fn names_are_valid_resource_names() {
        let prefixes = vec!["shop-prod-".to_string(), "shop-".to_string()];
        assert_eq!(resource_name("shop-prod-Web", &prefixes, "sg"), "web");
        assert_eq!(resource_name("shop-db", &prefixes, "sg"), "db");
        assert_eq!(resource_name("9 lives.x", &prefixes, "sg"), "sg_9_lives_x");
        assert_eq!(resource_name("shop-", &prefixes, "sg"), "shop-");
        assert_eq!(env_var(&["shop-1", "orders"]), "SHOP_1_ORDERS");
        assert_eq!(escape_template("echo ${HOME} $$"), "echo $${HOME} $$");
    }
}
