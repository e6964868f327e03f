//! `[import]` of an env file: address = the physical id of a resource made outside
//! stackwright. Checked here, where nothing is sent: the address must name a resource of
//! the stack (a replica of a counted instance by its index), the id must have the shape
//! of its kind (`sg-…`, `i-…`, `"<fqdn> <TYPE>"`, a name), and no id may be imported twice.
//! Whether the id exists, and whose it is, is the plan's to find out.

use std::collections::BTreeMap;

use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::model::{Address, Kind, Resource};
use crate::stack::raw::SpannedStr;
use crate::stack::source::{FileId, Span};

use super::Checker;

/// The env file's id in the source map: read right after `stack.toml`.
const ENV_FILE: FileId = FileId(1);

/// What an id of another kind looks like, to say so when one is given to the wrong kind.
fn kind_by_shape(id: &str) -> Option<Kind> {
    let hex_after = |prefix: &str| {
        id.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if hex_after("sg-") {
        Some(Kind::SecurityGroup)
    } else if hex_after("i-") {
        Some(Kind::Instance)
    } else if id.split_whitespace().count() == 2 {
        Some(Kind::DnsRecord)
    } else {
        None
    }
}

/// The words for a kind in messages: "a security group".
pub(crate) fn kind_noun(kind: Kind) -> &'static str {
    match kind {
        Kind::SecurityGroup => "a security group",
        Kind::KeyPair => "a key pair",
        Kind::LoadBalancer => "a load balancer",
        Kind::Database => "a database",
        Kind::Instance => "an instance",
        Kind::DnsRecord => "a DNS record",
    }
}

impl Checker<'_> {
    /// The `[import]` table, checked against the stack's resources.
    pub(super) fn imports(
        &mut self,
        resources: &BTreeMap<Address, Resource>,
    ) -> BTreeMap<Address, String> {
        let mut out = BTreeMap::new();
        let mut by_id: BTreeMap<String, (Address, Span)> = BTreeMap::new();
        for (key, value) in &self.raw.imports {
            let key_span = Span::new(ENV_FILE, key.span());
            let value_span = Span::new(ENV_FILE, value.span());
            let Some(address) = self.stack_address(key, &key_span, resources, "import") else {
                continue;
            };
            let id = value.get_ref().trim().to_string();
            if let Some(why) = id_shape(address.kind, &id) {
                self.push(
                    Diagnostic::error(format!("cannot import `{id}` as `{address}`: {why}"))
                        .at(value_span.clone())
                        .hint(id_hint(address.kind)),
                );
                continue;
            }
            let id = match address.kind {
                // One spelling: lower-case name without the root's dot, upper-case type.
                Kind::DnsRecord => normal_record_id(&id),
                _ => id,
            };
            if let Some((first, first_span)) = by_id.get(&id) {
                self.push(
                    Diagnostic::error(format!(
                        "`{id}` is imported twice: as `{first}` and as `{address}`"
                    ))
                    .at(value_span)
                    .also(first_span.clone(), "first imported here")
                    .hint("one resource in AWS is one address of the stack: remove one entry"),
                );
                continue;
            }
            by_id.insert(id.clone(), (address.clone(), value_span));
            out.insert(address, id);
        }
        out
    }

    /// An address written as a key of `[import]` or `[moved]` that must name a resource
    /// of the stack: parsed, and its replica index checked against `count`.
    pub(super) fn stack_address(
        &mut self,
        key: &SpannedStr,
        span: &Span,
        resources: &BTreeMap<Address, Resource>,
        table: &str,
    ) -> Option<Address> {
        let written = key.get_ref();
        let address: Address = match written.parse() {
            Ok(a) => a,
            Err(why) => {
                self.push(
                    Diagnostic::error(format!("invalid address in `[{table}]`: {why}"))
                        .at(span.clone())
                        .hint("an address is `KIND.NAME`, or `instance.NAME[i]` for a replica"),
                );
                return None;
            }
        };
        if resources.contains_key(&address) {
            return Some(address);
        }
        let declared = self
            .declared
            .get(&(address.kind, address.name.clone()))
            .copied();
        let message = match (declared, address.index) {
            (None, _) => {
                let names = resources
                    .keys()
                    .filter(|a| a.kind == address.kind)
                    .map(|a| format!("{}.{}", a.kind, a.name))
                    .collect::<Vec<_>>();
                let written_base = format!("{}.{}", address.kind, address.name);
                let hint = did_you_mean(&written_base, names.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("declare `[{written_base}]` in `stack.toml`"));
                self.push(
                    Diagnostic::error(format!(
                        "`[{table}]` names `{address}`, which the stack does not have"
                    ))
                    .at(span.clone())
                    .hint(hint),
                );
                return None;
            }
            // The table did not load: its own error is reported.
            (Some(_), _) if self.failed.contains(&(address.kind, address.name.clone())) => {
                return None;
            }
            (Some(Some(count)), None) => format!(
                "`{address}` has `count = {count}`: name each replica, `{address}[0]` to `{address}[{}]`",
                count.saturating_sub(1)
            ),
            (Some(Some(count)), Some(_)) => format!(
                "bad replica index in `{address}`: `{}.{}` has `count = {count}`, so replicas are numbered 0 to {}",
                address.kind,
                address.name,
                count.saturating_sub(1) as i64
            ),
            (Some(None), Some(_)) => format!(
                "`{}.{}` has no `count`: it is one resource, `{}.{}`, without an index",
                address.kind, address.name, address.kind, address.name
            ),
            // Declared, loaded, not counted and still not in the model: its spec failed.
            (Some(None), None) => return None,
        };
        self.push(Diagnostic::error(message).at(span.clone()));
        None
    }
}

/// Why `id` cannot be the id of a resource of `kind`, if it cannot.
fn id_shape(kind: Kind, id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("the id is empty".into());
    }
    let looks = kind_by_shape(id);
    let wrong = |other: Kind| {
        format!(
            "`{id}` looks like the id of {}, and the address is {}",
            kind_noun(other),
            kind_noun(kind)
        )
    };
    match (kind, looks) {
        (Kind::SecurityGroup, Some(Kind::SecurityGroup))
        | (Kind::Instance, Some(Kind::Instance))
        | (Kind::DnsRecord, Some(Kind::DnsRecord)) => None,
        (Kind::SecurityGroup | Kind::Instance | Kind::DnsRecord, Some(other)) => Some(wrong(other)),
        (Kind::SecurityGroup | Kind::Instance | Kind::DnsRecord, None) => {
            Some(format!("`{id}` is not the id of {}", kind_noun(kind)))
        }
        (_, Some(other)) => Some(wrong(other)),
        (_, None) if id.chars().any(char::is_whitespace) => {
            Some(format!("`{id}` is not a name of {}", kind_noun(kind)))
        }
        (_, None) => None,
    }
}

fn id_hint(kind: Kind) -> &'static str {
    match kind {
        Kind::SecurityGroup => "a security group is imported by its id: `sg-0123456789abcdef0`",
        Kind::Instance => "an instance is imported by its id: `i-0123456789abcdef0`",
        Kind::DnsRecord => {
            "a DNS record is imported as its name and type: `\"www.example.net CNAME\"`"
        }
        Kind::LoadBalancer => "a load balancer is imported by its name",
        Kind::Database => "a database is imported by its identifier",
        Kind::KeyPair => "a key pair is imported by its name",
    }
}

/// `"WWW.Example.net. cname"` → `"www.example.net CNAME"`: how providers name records.
pub fn normal_record_id(id: &str) -> String {
    let mut parts = id.split_whitespace();
    let name = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default();
    format!(
        "{} {}",
        name.trim_end_matches('.').to_ascii_lowercase(),
        kind.to_ascii_uppercase()
    )
}
