//! Classic load balancers: zones, listeners (protocol pairs, certificates), the health
//! check and its target, and the instances registered (every replica of a counted instance
//! named without an index).

use crate::address::split_index;
use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::model::{Address, HealthCheck, Kind, Listener, LoadBalancer};
use crate::stack::raw::{self, SpannedStr};

use super::Checker;

impl Checker<'_> {
    pub(super) fn load_balancer(&mut self, lb: &raw::LoadBalancer) -> Option<LoadBalancer> {
        let mut ok = true;
        let mut zones = Vec::new();
        for z in &lb.availability_zones {
            match self.zone(z, "availability_zones") {
                Some(z) => zones.push(z),
                None => ok = false,
            }
        }
        let subnets = match &lb.subnets {
            Some(list) => {
                let zones_key = lb.availability_zones.first().map(|z| {
                    let last = lb.availability_zones.last().unwrap_or(z);
                    ("availability_zones", z.span().start..last.span().end)
                });
                self.subnets(list, zones_key).unwrap_or_else(|| {
                    ok = false;
                    Vec::new()
                })
            }
            None => Vec::new(),
        };
        if lb.availability_zones.is_empty() && lb.subnets.is_none() {
            self.push(
                Diagnostic::error(
                    "a load balancer needs at least one availability zone (or `subnets`)",
                )
                .at(self.current_span()),
            );
            ok = false;
        }
        let mut listeners: Vec<Listener> = Vec::new();
        for l in &lb.listeners {
            match self.listener(l) {
                Some(listener) => {
                    if listeners.iter().any(|x| x.port == listener.port) {
                        self.push(self.error(
                            l.get_ref().port.span(),
                            format!("two listeners on port {}", listener.port),
                        ));
                        ok = false;
                    }
                    listeners.push(listener);
                    let span = self.span(l.span());
                    if let Some(origin) = self.origin_mut() {
                        origin.listeners.push(span);
                    }
                }
                None => ok = false,
            }
        }
        if lb.listeners.is_empty() {
            self.push(
                Diagnostic::error("a load balancer needs at least one listener")
                    .at(self.current_span()),
            );
            ok = false;
        }
        let health_check = match &lb.health_check {
            Some(h) => match self.health_check(h.get_ref()) {
                Some(h) => Some(h),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let mut instances = Vec::new();
        for i in lb.instances.iter().flatten() {
            let span = self.span(i.span());
            let Some((name, index)) = split_index(i.get_ref()) else {
                self.push(
                    Diagnostic::error(format!("invalid instance `{}`", i.get_ref()))
                        .at(span)
                        .hint("write `NAME` or `NAME[i]`"),
                );
                ok = false;
                continue;
            };
            match self
                .declared
                .get(&(Kind::Instance, name.to_string()))
                .copied()
            {
                Some(Some(count)) if index.is_none() => {
                    for k in 0..count {
                        let a = Address::new(Kind::Instance, name, Some(k));
                        self.note_reference(&a, &span);
                        instances.push(a);
                    }
                }
                Some(_) => match self.resolve_address(Kind::Instance, name, index, &span, None) {
                    Some(a) => {
                        self.note_reference(&a, &span);
                        instances.push(a);
                    }
                    None => ok = false,
                },
                None => {
                    let names = self
                        .declared
                        .keys()
                        .filter(|(k, _)| *k == Kind::Instance)
                        .map(|(_, n)| n.as_str());
                    let hint = did_you_mean(name, names);
                    self.push(
                        Diagnostic::error(format!("unknown instance `{name}`"))
                            .at(span)
                            .maybe_hint(hint),
                    );
                    ok = false;
                }
            }
        }
        let security_groups = self.group_refs(&lb.security_groups, "security_groups");
        ok.then_some(LoadBalancer {
            availability_zones: zones,
            subnets,
            listeners,
            health_check,
            instances,
            security_groups,
            cross_zone: lb.cross_zone.unwrap_or(false),
        })
    }

    fn elb_protocol(&mut self, p: &SpannedStr, field: &str) -> Option<String> {
        let value = self.known_here(p, field)?.to_ascii_uppercase();
        if !["HTTP", "HTTPS", "TCP", "SSL"].contains(&value.as_str()) {
            self.push(
                self.error(
                    p.span(),
                    format!("unknown listener protocol `{}`", p.get_ref()),
                )
                .hint("use `http`, `https`, `tcp` or `ssl`"),
            );
            return None;
        }
        Some(value)
    }

    fn listener(&mut self, l: &toml::Spanned<raw::Listener>) -> Option<Listener> {
        let raw = l.get_ref();
        let port = self.port(&raw.port, "port");
        let instance_port = self.port(&raw.instance_port, "instance_port");
        let protocol = self.elb_protocol(&raw.protocol, "protocol");
        let instance_protocol = self.elb_protocol(&raw.instance_protocol, "instance_protocol");
        let ssl_certificate_id = match &raw.ssl_certificate_id {
            Some(c) => Some(self.known_here(c, "ssl_certificate_id")?),
            None => None,
        };
        let (port, instance_port, protocol, instance_protocol) =
            (port?, instance_port?, protocol?, instance_protocol?);
        let layer7 = |p: &str| p == "HTTP" || p == "HTTPS";
        if layer7(&protocol) != layer7(&instance_protocol) {
            self.push(
                self.error(
                    raw.instance_protocol.span(),
                    format!("a {protocol} listener cannot forward to {instance_protocol}"),
                )
                .hint("HTTP and HTTPS forward to HTTP or HTTPS; TCP and SSL to TCP or SSL"),
            );
            return None;
        }
        if (protocol == "HTTPS" || protocol == "SSL") && ssl_certificate_id.is_none() {
            self.push(self.error(
                l.span(),
                format!("an {protocol} listener needs `ssl_certificate_id`"),
            ));
            return None;
        }
        Some(Listener {
            port,
            protocol,
            instance_port,
            instance_protocol,
            ssl_certificate_id,
        })
    }

    fn health_check(&mut self, h: &raw::HealthCheck) -> Option<HealthCheck> {
        let target = self.known_here(&h.target, "health_check.target")?;
        let normalized = match parse_target(&target) {
            Ok(t) => Some(t),
            Err(why) => {
                self.push(
                    self.error(
                        h.target.span(),
                        format!("invalid health check target `{target}`: {why}"),
                    )
                    .hint("targets are `TCP:80`, `SSL:443`, `HTTP:80/path` or `HTTPS:443/path`"),
                );
                None
            }
        };
        let interval = self.int(&h.interval, "health_check.interval", 5..=300);
        let timeout = self.int(&h.timeout, "health_check.timeout", 2..=60);
        let unhealthy_threshold = self.int(
            &h.unhealthy_threshold,
            "health_check.unhealthy_threshold",
            2..=10,
        );
        let healthy_threshold = self.int(
            &h.healthy_threshold,
            "health_check.healthy_threshold",
            2..=10,
        );
        let (interval, timeout) = (interval?, timeout?);
        if timeout >= interval {
            self.push(self.error(h.timeout.span(), format!("the health check timeout ({timeout} s) must be less than its interval ({interval} s)")));
            return None;
        }
        Some(HealthCheck {
            target: normalized?,
            interval,
            timeout,
            unhealthy_threshold: unhealthy_threshold?,
            healthy_threshold: healthy_threshold?,
        })
    }
}

/// `tcp:80` → `TCP:80`; `HTTP:80/health` stays; errors say what is wrong.
pub fn parse_target(target: &str) -> Result<String, String> {
    let (protocol, rest) = target.split_once(':').ok_or("expected `PROTOCOL:PORT`")?;
    let protocol = protocol.to_ascii_uppercase();
    let (port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let port: u32 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    if !(1..=65535).contains(&port) {
        return Err(format!("port {port} is out of range"));
    }
    match (protocol.as_str(), path) {
        ("TCP" | "SSL", None) => Ok(format!("{protocol}:{port}")),
        ("TCP" | "SSL", Some(_)) => Err(format!("a {protocol} check takes no path")),
        ("HTTP" | "HTTPS", Some(path)) => Ok(format!("{protocol}:{port}{path}")),
        ("HTTP" | "HTTPS", None) => Err(format!(
            "an {protocol} check needs a path, e.g. `{protocol}:{port}/`"
        )),
        (other, _) => Err(format!("unknown protocol `{other}`")),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_check_targets() {
        assert_eq!(parse_target("tcp:80").unwrap(), "TCP:80");
        assert_eq!(
            parse_target("HTTP:8080/health").unwrap(),
            "HTTP:8080/health"
        );
        assert!(parse_target("HTTP:80").is_err());
        assert!(parse_target("TCP:abc").is_err());
        assert!(parse_target("FTP:21").is_err());
        assert!(parse_target("TCP:0").is_err());
        assert!(parse_target("TCP:80/x").is_err());
        assert!(parse_target("80").is_err());
    }
}
