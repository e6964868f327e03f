//! Addresses: the names resources go by everywhere, `kind.name` and `kind.name[i]`.
//!
//! The vocabulary every layer shares: the six resource [`Kind`]s, an [`Address`] and its
//! text form (parsed, printed, serialized as that text) and [`split_index`] for the `[i]`
//! of a replica. It depends on nothing else in the crate, so any module may use it: the
//! stack's model and its templates, the graph, plans, providers and renderers alike.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The six kinds of resource a stack can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    SecurityGroup,
    KeyPair,
    LoadBalancer,
    Database,
    Instance,
    DnsRecord,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::SecurityGroup,
        Kind::KeyPair,
        Kind::LoadBalancer,
        Kind::Database,
        Kind::Instance,
        Kind::DnsRecord,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SecurityGroup => "security_group",
            Kind::KeyPair => "key_pair",
            Kind::LoadBalancer => "load_balancer",
            Kind::Database => "database",
            Kind::Instance => "instance",
            Kind::DnsRecord => "dns_record",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Where a kind is destroyed when the graph no longer knows the resource (it was
    /// taken out of the stack): what uses others first, records and balancers before
    /// instances, instances before databases, key pairs and groups.
    pub fn destroy_rank(self) -> u8 {
        match self {
            Kind::DnsRecord => 0,
            Kind::LoadBalancer => 1,
            Kind::Instance => 2,
            Kind::Database => 3,
            Kind::KeyPair => 4,
            Kind::SecurityGroup => 5,
        }
    }

    /// The attributes `${kind.name.attr}` may read: known once the resource exists.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Kind::SecurityGroup => &["id", "name"],
            Kind::KeyPair => &["name", "fingerprint"],
            Kind::LoadBalancer => &["dns_name", "name"],
            Kind::Database => &["address", "port", "identifier"],
            Kind::Instance => &["id", "public_dns", "public_ip", "private_dns", "private_ip"],
            Kind::DnsRecord => &["fqdn"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind.name`, or `kind.name[i]` for one replica of a counted instance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
    pub index: Option<u32>,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>, index: Option<u32>) -> Self {
        Address {
            kind,
            name: name.into(),
            index,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an address (`KIND.NAME` or `KIND.NAME[i]`)");
        let (kind, rest) = s.split_once('.').ok_or_else(bad)?;
        let kind = Kind::parse(kind).ok_or_else(bad)?;
        let (name, index) = split_index(rest).ok_or_else(bad)?;
        if name.is_empty() || name.contains('.') {
            return Err(bad());
        }
        Ok(Address::new(kind, name, index))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `heart[2]` → (`heart`, Some(2)); `heart` → (`heart`, None); `heart[x]` → None.
pub fn split_index(s: &str) -> Option<(&str, Option<u32>)> {
    match s.split_once('[') {
        None => Some((s, None)),
        Some((name, rest)) => {
            let digits = rest.strip_suffix(']')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((name, Some(digits.parse().ok()?)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for s in [
            "instance.heart[0]",
            "security_group.paasmaker",
            "dns_record.wildcard",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!("instances.x".parse::<Address>().is_err());
        assert!("instance.x[".parse::<Address>().is_err());
        assert!("instance".parse::<Address>().is_err());
    }

    #[test]
    fn replicas_sort_after_their_base_name() {
        let mut v: Vec<Address> = ["instance.b", "instance.a[1]", "instance.a[0]"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["instance.a[0]", "instance.a[1]", "instance.b"]);
    }
}
