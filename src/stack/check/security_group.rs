//! Security groups: the description, and ingress and egress rules put in normal form
//! (protocol names and numbers, port ranges, canonical CIDRs, `self` or another group) so
//! that the same rule compares equal however it was written.

use ipnet::IpNet;

use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::model::{Rule, RuleSource, SecurityGroup};
use crate::stack::raw::{self, SpannedStr, StrOrInt};

use super::Checker;

impl Checker<'_> {
    pub(super) fn security_group(&mut self, sg: &raw::SecurityGroup) -> Option<SecurityGroup> {
        let description = self.known_here(&sg.description, "description")?;
        let mut ok = true;
        if description.is_empty() || description.len() > 255 {
            self.push(self.error(
                sg.description.span(),
                "a security group description is 1 to 255 characters",
            ));
            ok = false;
        } else if !description
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c))
        {
            self.push(
                self.error(sg.description.span(), "security group descriptions may hold only letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*"),
            );
            ok = false;
        }
        let ingress = self.rules(sg.ingress.as_deref().unwrap_or_default(), "ingress");
        let egress = sg
            .egress
            .as_deref()
            .map(|rules| self.rules(rules, "egress"));
        let ingress = ingress?;
        let egress = match egress {
            Some(e) => Some(e?),
            None => None,
        };
        ok.then_some(SecurityGroup {
            description,
            ingress,
            egress,
            vpc: self.vpc.clone(),
        })
    }

    fn rules(&mut self, rules: &[toml::Spanned<raw::Rule>], field: &str) -> Option<Vec<Rule>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, rule) in rules.iter().enumerate() {
            match self.rule(rule, &format!("{field}[{i}]")) {
                Some(r) => {
                    if out.contains(&r) {
                        self.push(self.error(rule.span(), "this rule is given twice"));
                        ok = false;
                    }
                    if field == "ingress" {
                        let span = self.span(rule.span());
                        if let Some(origin) = self.origin_mut() {
                            origin.ingress.insert(r.clone(), span);
                        }
                    }
                    out.push(r);
                }
                None => ok = false,
            }
        }
        out.sort();
        ok.then_some(out)
    }

    fn rule(&mut self, rule: &toml::Spanned<raw::Rule>, field: &str) -> Option<Rule> {
        let r = rule.get_ref();
        let protocol = self.protocol(&r.protocol)?;
        let has_ports = matches!(protocol.as_str(), "tcp" | "udp");
        let ports = match (&r.ports, protocol.as_str()) {
            (Some(p), "-1") => {
                self.push(self.error(p.span(), "protocol `all` covers every port: remove `ports`"));
                return None;
            }
            (Some(p), _) => Some(self.port_range(p)?),
            (None, _) if has_ports => {
                self.push(
                    self.error(rule.span(), format!("a `{protocol}` rule needs `ports`"))
                        .hint("e.g. `ports = \"443\"` or `ports = \"0-65535\"`"),
                );
                return None;
            }
            (None, _) => None,
        };
        let source = match (&r.cidr, &r.group) {
            (Some(_), Some(_)) => {
                self.push(
                    self.error(rule.span(), "a rule takes `cidr` or `group`, not both")
                        .hint("write two rules"),
                );
                return None;
            }
            (None, None) => {
                self.push(self.error(rule.span(), "a rule needs `cidr` or `group`"));
                return None;
            }
            (Some(c), None) => RuleSource::Cidr(self.cidr(c, &format!("{field}.cidr"))?),
            (None, Some(g)) => {
                let name = self.known_here(g, &format!("{field}.group"))?;
                if name == "self" {
                    RuleSource::SelfGroup
                } else {
                    // Not a creation dependency: groups are created empty and their rules
                    // added once all exist, so groups may admit each other.
                    RuleSource::Group(self.group_ref(&name, self.span(g.span()))?)
                }
            }
        };
        let description = match &r.description {
            Some(d) => Some(self.known_here(d, &format!("{field}.description"))?),
            None => None,
        };
        Some(Rule {
            protocol,
            ports,
            source,
            description,
        })
    }

    fn protocol(&mut self, p: &toml::Spanned<StrOrInt>) -> Option<String> {
        let number = |n: i64| match n {
            -1 => Some("-1".to_string()),
            1 => Some("icmp".into()),
            6 => Some("tcp".into()),
            17 => Some("udp".into()),
            58 => Some("icmpv6".into()),
            0..=255 => Some(n.to_string()),
            _ => None,
        };
        let found = match p.get_ref() {
            StrOrInt::Int(n) => number(*n),
            StrOrInt::Str(s) => match s.to_ascii_lowercase().as_str() {
                "tcp" | "udp" | "icmp" | "icmpv6" => Some(s.to_ascii_lowercase()),
                "all" | "-1" => Some("-1".into()),
                other => other.parse::<i64>().ok().and_then(number),
            },
        };
        if found.is_none() {
            let shown = match p.get_ref() {
                StrOrInt::Int(n) => n.to_string(),
                StrOrInt::Str(s) => s.clone(),
            };
            let hint = did_you_mean(&shown, ["tcp", "udp", "icmp", "icmpv6", "all"])
                .unwrap_or_else(|| {
                    "use `tcp`, `udp`, `icmp`, `icmpv6`, `all` or a protocol number 0-255".into()
                });
            self.push(
                self.error(p.span(), format!("unknown protocol `{shown}`"))
                    .hint(hint),
            );
        }
        found
    }

    fn port_range(&mut self, p: &toml::Spanned<StrOrInt>) -> Option<(u16, u16)> {
        let text = match p.get_ref() {
            StrOrInt::Int(n) => n.to_string(),
            StrOrInt::Str(s) => s.trim().to_string(),
        };
        let parse = |s: &str| -> Option<i64> { s.trim().parse::<i64>().ok() };
        let (low, high) = match text.split_once('-') {
            Some((a, b)) => (parse(a), parse(b)),
            None => (parse(&text), parse(&text)),
        };
        let (Some(low), Some(high)) = (low, high) else {
            self.push(
                self.error(p.span(), format!("invalid port range `{text}`"))
                    .hint("write a port (`\"22\"`) or a range (`\"8000-8080\"`)"),
            );
            return None;
        };
        for port in [low, high] {
            if !(0..=65535).contains(&port) {
                self.push(self.error(
                    p.span(),
                    format!("port `{port}` is out of range: ports are 0 to 65535"),
                ));
                return None;
            }
        }
        if low > high {
            self.push(
                self.error(p.span(), format!("port range `{text}` is reversed"))
                    .hint(format!("write `\"{high}-{low}\"`")),
            );
            return None;
        }
        Some((low as u16, high as u16))
    }

    fn cidr(&mut self, c: &SpannedStr, field: &str) -> Option<String> {
        let text = self.known_here(c, field)?;
        let span = self.span(c.span());
        let net: IpNet = match text.parse() {
            Ok(n) => n,
            Err(_) => {
                let hint = match text.parse::<std::net::IpAddr>() {
                    Ok(ip) => format!(
                        "a CIDR has a prefix length: `{ip}/{}`",
                        if ip.is_ipv4() { 32 } else { 128 }
                    ),
                    Err(_) => {
                        "a CIDR is an address and a prefix length, e.g. `10.0.0.0/8` or `::/0`"
                            .into()
                    }
                };
                self.push(
                    Diagnostic::error(format!("invalid CIDR `{text}`"))
                        .at(span)
                        .hint(hint),
                );
                return None;
            }
        };
        if net.trunc() != net {
            self.push(
                Diagnostic::error(format!("CIDR `{text}` has host bits set; AWS refuses it"))
                    .at(span)
                    .hint(format!("did you mean `{}`?", net.trunc())),
            );
            return None;
        }
        Some(net.to_string())
    }
}
