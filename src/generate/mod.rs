//! `stackwright generate`: a stack directory written from resources that exist.
//!
//! The ids given are read the way `[import]` reads them: each gets a provisional import
//! address, and one refresh (deep: user data, shutdown behaviour, root volume and
//! cross-zone are read per resource) reads them all, mapping the group and instance ids
//! it finds in rules, memberships and attachments to those addresses. The canonical
//! attributes refresh returns are the ones the planner compares with: written back as a
//! stack, they plan as imports with nothing else to change. Relations between listed
//! resources become references; a related resource that was not listed stays a raw id (or
//! a name), and is named in a warning. Nothing is sent but reads.

mod files;
mod forms;
mod write;

use std::collections::{BTreeMap, BTreeSet};

pub use files::{check_dir, write_dir};

use crate::provider::aws::Aws;
use crate::provider::{LiveResource, Provider, Scope, Value};
use crate::stack::{Address, Kind};

/// What to generate from.
#[derive(Clone, Debug)]
pub struct Request {
    pub name: String,
    pub env: String,
    pub region: String,
    /// `sg-…`, `i-…`, `"<fqdn> <TYPE>"`, or the name of a load balancer, database or key
    /// pair (`load_balancer:NAME`, `database:NAME`, `key_pair:NAME` when one name is
    /// several).
    pub ids: Vec<String>,
}

/// A stack directory's files, in memory.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Path relative to the directory → content, every file there is.
    pub files: BTreeMap<String, String>,
    /// Related resources that were not listed, and what the stack says of them.
    pub warnings: Vec<String>,
    /// Address → the id it imports.
    pub imports: BTreeMap<Address, String>,
    /// Secret → the environment variable it reads.
    pub secrets: BTreeMap<String, String>,
}

/// The stack to connect for: no resources yet, the request's region (the endpoint comes
/// from `AWS_ENDPOINT_URL`, as for every command).
pub fn target(request: &Request) -> crate::stack::Stack {
    crate::stack::Stack {
        name: request.name.clone(),
        env: request.env.clone(),
        region: request.region.clone(),
        endpoint_url: None,
        expires_secs: None,
        vpc: None,
        secrets: BTreeMap::new(),
        resources: BTreeMap::new(),
        outputs: BTreeMap::new(),
        imports: BTreeMap::new(),
        moved: BTreeMap::new(),
    }
}

/// The kinds an id may name, from its form.
fn kinds_of(id: &str) -> Result<(Vec<Kind>, String), String> {
    if let Some((kind, name)) = id.split_once(':')
        && let Some(kind) = Kind::parse(kind)
        && matches!(kind, Kind::LoadBalancer | Kind::Database | Kind::KeyPair)
    {
        return Ok((vec![kind], name.to_string()));
    }
    if let Some((fqdn, record_type)) = id.split_once(' ') {
        let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
        if fqdn.is_empty() || record_type.is_empty() || record_type.contains(' ') {
            return Err(format!(
                "`{id}`: a record is written `\"<fqdn> <TYPE>\"`, like `\"www.example.com CNAME\"`"
            ));
        }
        return Ok((
            vec![Kind::DnsRecord],
            format!("{fqdn} {}", record_type.to_ascii_uppercase()),
        ));
    }
    if id.is_empty() {
        return Err("an empty id".into());
    }
    if id.starts_with("sg-") {
        return Ok((vec![Kind::SecurityGroup], id.to_string()));
    }
    if id.starts_with("i-") {
        return Ok((vec![Kind::Instance], id.to_string()));
    }
    Ok((
        vec![Kind::LoadBalancer, Kind::Database, Kind::KeyPair],
        id.to_string(),
    ))
}

/// What AWS calls a resource of `kind`, for "no such" messages.
fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::SecurityGroup => "security group",
        Kind::Instance => "running or stopped instance",
        Kind::LoadBalancer => "load balancer",
        Kind::Database => "database",
        Kind::KeyPair => "key pair",
        Kind::DnsRecord => "record",
    }
}

/// Read the resources `request.ids` name and make the stack directory's files. Errors
/// (an id that names nothing, or several things, or a resource some stack owns) are all
/// returned together.
pub async fn generate(aws: &Aws, request: &Request) -> Result<Generated, Vec<String>> {
    let mut errors = Vec::new();
    // Each id → the kinds it may be, each under a provisional address `kind.idN`.
    let mut wanted: Vec<(String, Vec<Kind>)> = Vec::new();
    let mut seen_ids = BTreeSet::new();
    for id in &request.ids {
        match kinds_of(id.trim()) {
            Ok((kinds, id)) => {
                if seen_ids.insert(id.clone()) {
                    wanted.push((id, kinds));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let provisional = |n: usize, kind: Kind| Address::new(kind, format!("id{n}"), None);
    let mut scope = Scope {
        stack: request.name.clone(),
        env: request.env.clone(),
        deep: true,
        ..Scope::default()
    };
    for (n, (id, kinds)) in wanted.iter().enumerate() {
        for kind in kinds {
            scope.imports.insert(provisional(n, *kind), id.clone());
        }
        if kinds == &[Kind::DnsRecord] {
            let fqdn = id.split(' ').next().unwrap_or_default();
            match aws.hosted_zone_of(&scope, fqdn).await {
                Ok(Some(zone)) => {
                    scope.zones.insert(zone);
                }
                Ok(None) => errors.push(format!(
                    "`{id}`: no public hosted zone in this account holds `{fqdn}`"
                )),
                Err(e) => return Err(vec![e.to_string()]),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let state = aws.refresh(&scope).await.map_err(|e| vec![e.to_string()])?;
    // Which kind each id turned out to be.
    let mut found: BTreeMap<Address, &LiveResource> = BTreeMap::new();
    for (n, (given, kinds)) in wanted.iter().enumerate() {
        let mut hits = Vec::new();
        for kind in kinds {
            let address = provisional(n, *kind);
            if let Some(owner) = state.import_owners.get(&address) {
                errors.push(format!(
                    "`{given}` belongs to stack `{}` env `{}` (its `{}`) already",
                    owner.stack, owner.env, owner.address
                ));
            } else if state.imported.contains(&address)
                && let Some(live) = state.resources.get(&address)
            {
                hits.push(live);
            }
        }
        match hits.as_slice() {
            [one] => {
                found.insert(one.address.clone(), one);
            }
            [] if errors.iter().any(|e| e.starts_with(&format!("`{given}`"))) => {}
            [] => errors.push(format!(
                "`{given}`: there is no {} of that {} in region `{}`",
                kinds
                    .iter()
                    .map(|k| what(*k))
                    .collect::<Vec<_>>()
                    .join(" or "),
                if kinds == &[Kind::DnsRecord] {
                    "name and type"
                } else if kinds.len() > 1 {
                    "name"
                } else {
                    "id"
                },
                request.region
            )),
            several => errors.push(format!(
                "`{given}` names a {}: write `{}:{given}` for the one meant",
                several
                    .iter()
                    .map(|l| what(l.address.kind))
                    .collect::<Vec<_>>()
                    .join(" and a "),
                several[0].address.kind
            )),
        }
    }
    // An alias record (to a balancer, say) holds no values: `dns_record` cannot say it.
    for live in found.values() {
        if live.address.kind == Kind::DnsRecord
            && matches!(live.attrs.get("records"), Some(Value::List(v)) if v.is_empty())
        {
            errors.push(format!(
                "`{}`: it has no values (an alias record?); a `dns_record` holds values, so \
                 it cannot be generated",
                live.id
            ));
        }
    }
    let strangers: Vec<String> = state
        .resources
        .values()
        .filter(|r| !state.imported.contains(&r.address))
        .map(|r| format!("{} ({})", r.address, r.id))
        .collect();
    if !strangers.is_empty() {
        errors.push(format!(
            "stack `{}` env `{}` has resources in AWS already: {}; generate writes a new \
             stack: choose another --name or --env",
            request.name,
            request.env,
            strangers.join(", ")
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let vpc = placement(aws, &scope, &found).await?;
    let mut generated = write::stack(
        request,
        &found,
        &state_names(&found, request),
        vpc.as_deref(),
    )
    .map_err(|e| vec![e])?;
    if let Some(vpc) = &vpc {
        generated.warnings.extend(
            found
                .values()
                .filter(|l| l.address.kind == Kind::Database)
                .map(|l| {
                    format!(
                        "database `{}` stays in its DB subnet group in {vpc}; `subnets` is                          not written for it (stackwright would make a group of its own)",
                        l.id
                    )
                }),
        );
    }
    Ok(generated)
}

/// The VPC the listed security groups are in, when it is not the region's default (the
/// stack's env then says `vpc`, and instances and balancers their `subnets`, so that what
/// the stack creates later lands there too). Groups in several VPCs: refused, since a
/// stack lives in one.
async fn placement(
    aws: &Aws,
    scope: &Scope,
    found: &BTreeMap<Address, &LiveResource>,
) -> Result<Option<String>, Vec<String>> {
    let vpcs: BTreeSet<String> = found
        .values()
        .filter(|l| l.address.kind == Kind::SecurityGroup)
        .filter_map(|l| match l.attrs.get("vpc") {
            Some(Value::Text(v)) if !v.is_empty() => Some(v.clone()),
            _ => None,
        })
        .collect();
    if vpcs.is_empty() {
        return Ok(None);
    }
    let default = aws
        .default_vpc(scope)
        .await
        .map_err(|e| vec![e.to_string()])?;
    let elsewhere: Vec<&String> = vpcs
        .iter()
        .filter(|v| Some(*v) != default.as_ref())
        .collect();
    match elsewhere.as_slice() {
        [] => Ok(None),
        [one] if vpcs.len() == 1 => Ok(Some((*one).clone())),
        _ => Err(vec![format!(
            "the security groups listed are in several VPCs ({}); a stack lives in one:              generate each VPC's resources as a stack of their own",
            vpcs.iter().cloned().collect::<Vec<_>>().join(", ")
        )]),
    }
}

/// Instances that can safely be one counted block: alike in everything but their zone
/// (and the subnet that follows it: the default VPC has one per zone),
/// and named exactly as stackwright names the replicas of that block
/// (`<stack>-<env>-<name>-<i>`, `i` from 0 without a gap), so that adopting them renames
/// nothing. Provisional address → the replica's address. Anything else stays one block
/// per instance.
fn counted_blocks(
    found: &BTreeMap<Address, &LiveResource>,
    request: &Request,
) -> BTreeMap<Address, Address> {
    use crate::stack::names::{check_resource_name, default_name, stack_env};
    let prefix = format!("{}-", stack_env(&request.name, &request.env));
    // (block name, everything but the zone and the name) → (index, provisional address).
    let mut blocks: BTreeMap<(String, String), Vec<(u32, Address)>> = BTreeMap::new();
    for (address, live) in found.iter().filter(|(a, _)| a.kind == Kind::Instance) {
        let mut tags = write::user_tags(live);
        let Some(name) = tags.remove("Name") else {
            continue;
        };
        let Some((block, index)) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.rsplit_once('-'))
        else {
            continue;
        };
        let Ok(index) = index.parse::<u32>() else {
            continue;
        };
        if check_resource_name(block).is_err()
            || default_name(
                Kind::Instance,
                &request.name,
                &request.env,
                block,
                Some(index),
            ) != name
        {
            continue;
        }
        let shape: Vec<String> = live
            .attrs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "availability_zone" | "subnet" | "tags"))
            .map(|(k, v)| format!("{k}={v:?}"))
            .chain(tags.iter().map(|(k, v)| format!("tag {k}={v}")))
            .collect();
        blocks
            .entry((block.to_string(), shape.join("\n")))
            .or_default()
            .push((index, address.clone()));
    }
    let mut out = BTreeMap::new();
    let mut used = BTreeSet::new();
    for ((block, _), mut replicas) in blocks {
        replicas.sort();
        let whole = replicas.len() >= 2
            && replicas
                .iter()
                .enumerate()
                .all(|(n, (i, _))| usize::try_from(*i).is_ok_and(|i| i == n));
        if !whole || !used.insert(block.clone()) {
            continue;
        }
        for (i, address) in replicas {
            out.insert(
                address,
                Address::new(Kind::Instance, block.clone(), Some(i)),
            );
        }
    }
    out
}

/// The final name of every resource found: what AWS calls it, made a valid resource name,
/// unique within its kind.
fn state_names(
    found: &BTreeMap<Address, &LiveResource>,
    request: &Request,
) -> BTreeMap<Address, Address> {
    let prefixes = vec![
        format!("{}-{}-", request.name, request.env),
        format!("{}-", request.name),
    ];
    let mut taken: BTreeSet<(Kind, String)> = BTreeSet::new();
    let mut names = BTreeMap::new();
    let counted = counted_blocks(found, request);
    for replica in counted.values() {
        taken.insert((Kind::Instance, replica.name.clone()));
    }
    for (address, live) in found {
        if let Some(replica) = counted.get(address) {
            names.insert(address.clone(), replica.clone());
            continue;
        }
        let text = |k: &str| match live.attrs.get(k) {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let (aws_name, fallback) = match address.kind {
            Kind::SecurityGroup => (text("name"), "sg"),
            Kind::KeyPair => (text("name"), "key"),
            Kind::LoadBalancer => (text("name"), "lb"),
            Kind::Database => (text("identifier"), "db"),
            Kind::Instance => (
                write::user_tags(live)
                    .remove("Name")
                    .unwrap_or_else(|| live.id.clone()),
                "instance",
            ),
            Kind::DnsRecord => {
                let fqdn = text("fqdn");
                let zone = text("zone");
                let label = fqdn
                    .strip_suffix(&zone)
                    .map(|l| l.trim_end_matches('.'))
                    .unwrap_or(&fqdn)
                    .replace('*', "wildcard");
                let label = if label.is_empty() {
                    "apex".to_string()
                } else {
                    label
                };
                (label, "record")
            }
        };
        let base = forms::resource_name(&aws_name, &prefixes, fallback);
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert((address.kind, name.clone())) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.insert(address.clone(), Address::new(address.kind, name, None));
    }
    names
}

#[cfg(test)]
mod tests;
