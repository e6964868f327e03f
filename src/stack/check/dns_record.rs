//! DNS records (Route 53): the name inside its zone (both lower case, no trailing dot), the
//! record type, TTL, and values checked where they are literal (A and AAAA addresses, a
//! single CNAME).

use crate::stack::model::DnsRecord;
use crate::stack::raw;

use super::Checker;

impl Checker<'_> {
    pub(super) fn dns_record(&mut self, d: &raw::DnsRecord) -> Option<DnsRecord> {
        const TYPES: [&str; 9] = ["A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"];
        let zone = normalize_dns(&self.known_here(&d.zone, "zone")?);
        let fqdn = normalize_dns(&self.known_here(&d.name, "name")?);
        let mut ok = true;
        if fqdn != zone && !fqdn.ends_with(&format!(".{zone}")) {
            self.push(
                self.error(
                    d.name.span(),
                    format!("record `{fqdn}` is not inside zone `{zone}`"),
                )
                .hint(format!("names in this zone end in `.{zone}`")),
            );
            ok = false;
        }
        if fqdn.split('.').skip(1).any(|label| label.contains('*'))
            || fqdn.split('.').any(|l| l.is_empty() || l.len() > 63)
        {
            self.push(
                self.error(d.name.span(), format!("invalid record name `{fqdn}`"))
                    .hint("`*` may only be the first label, and labels are 1 to 63 characters"),
            );
            ok = false;
        }
        let record_type = self
            .known_here(&d.record_type, "type")?
            .to_ascii_uppercase();
        if !TYPES.contains(&record_type.as_str()) {
            self.push(
                self.error(
                    d.record_type.span(),
                    format!("unknown record type `{record_type}`"),
                )
                .hint(format!("types: {}", TYPES.join(", "))),
            );
            ok = false;
        }
        let ttl = match &d.ttl {
            Some(t) => self.int(t, "ttl", 0..=2_147_483_647)?,
            None => 300,
        };
        let list = d.records.get_ref();
        if list.is_empty() {
            self.push(self.error(d.records.span(), "`records` is empty"));
            ok = false;
        }
        if record_type == "CNAME" && list.len() > 1 {
            self.push(
                self.error(d.records.span(), format!("a CNAME record has exactly one value; this one has {}", list.len()))
                    .hint("DNS allows no other record beside a CNAME: use several A records, or one name per target"),
            );
            ok = false;
        }
        let mut records = Vec::new();
        for r in list {
            let Some(t) = self.printed(r, "records") else {
                ok = false;
                continue;
            };
            if let Some(literal) = t.as_literal() {
                let bad = match record_type.as_str() {
                    "A" => literal.parse::<std::net::Ipv4Addr>().is_err(),
                    "AAAA" => literal.parse::<std::net::Ipv6Addr>().is_err(),
                    _ => false,
                };
                if bad {
                    self.push(self.error(
                        r.span(),
                        format!("`{literal}` is not a valid {record_type} record value"),
                    ));
                    ok = false;
                }
            }
            records.push(t);
        }
        ok.then_some(DnsRecord {
            zone,
            fqdn,
            record_type,
            ttl,
            records,
        })
    }
}

fn normalize_dns(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
