//! Secrets: read from the environment at run time, only when a step needs them, and
//! never written anywhere. The lookup is injected so tests need not touch the process
//! environment.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::EngineError;
use crate::apply;
use crate::plan::Plan;
use crate::provider::{Scope, Secret};
use crate::stack::Stack;
use crate::stack::model::Spec;
use crate::stack::template::Part;

/// Where secret values come from: an environment variable's name to its value.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment; an empty variable counts as not set.
pub fn process_env() -> Lookup {
    Arc::new(|var: &str| std::env::var(var).ok().filter(|v| !v.is_empty()))
}

/// A fixed set of variables (tests).
pub fn fixed(vars: BTreeMap<String, String>) -> Lookup {
    Arc::new(move |var: &str| vars.get(var).cloned().filter(|v| !v.is_empty()))
}

/// The value of secret `name` of `stack`, or why not.
pub fn value(stack: &Stack, name: &str, lookup: &Lookup) -> Result<Secret, EngineError> {
    let var = stack.secrets.get(name).cloned().unwrap_or_default();
    match lookup(&var) {
        Some(v) => Ok(Secret::new(v)),
        None => Err(EngineError::SecretNotSet {
            name: name.to_string(),
            var,
        }),
    }
}

/// The secrets `plan` sends to AWS, read now: a missing one is an error before anything
/// is shown or changed.
pub fn needed(
    plan: &Plan,
    stack: &Stack,
    lookup: &Lookup,
) -> Result<BTreeMap<String, Secret>, EngineError> {
    apply::secrets_needed(plan, stack)
        .into_iter()
        .map(|name| Ok((name.clone(), value(stack, &name, lookup)?)))
        .collect()
}

/// What to read for `stack`: its tags, the zones its records live in, and with `deep`
/// the secrets to hide in what AWS returns (only user data is read back; the master
/// password never is).
pub fn scope(stack: &Stack, deep: bool, lookup: &Lookup) -> Result<Scope, EngineError> {
    let zones = stack
        .resources
        .values()
        .filter_map(|r| match &r.spec {
            Spec::DnsRecord(d) => Some(d.zone.clone()),
            _ => None,
        })
        .collect();
    let mut secrets = BTreeMap::new();
    // Imported instances have their user data read for real (they have no tag to compare
    // through), so the secrets in theirs are needed to hide them, `--deep` or not.
    let read_back = |r: &&crate::stack::Resource| deep || stack.imports.contains_key(&r.address);
    if deep
        || stack
            .imports
            .keys()
            .any(|a| a.kind == crate::stack::Kind::Instance)
    {
        let in_user_data: BTreeSet<&str> = stack
            .resources
            .values()
            .filter(read_back)
            .filter_map(|r| match &r.spec {
                Spec::Instance(i) => i.user_data.as_ref(),
                _ => None,
            })
            .flat_map(|t| t.parts.iter())
            .filter_map(|p| match p {
                Part::Secret(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        for (name, var) in stack
            .secrets
            .iter()
            .filter(|(n, _)| in_user_data.contains(n.as_str()))
        {
            match lookup(var) {
                Some(value) => {
                    secrets.insert(name.clone(), value);
                }
                None => {
                    let who = if deep {
                        "`plan --deep` reads user data"
                    } else {
                        "the user data of an imported instance is read back"
                    };
                    return Err(EngineError::Message(format!(
                        "{who}, which holds secret `{name}`: set `{var}` so it can be hidden"
                    )));
                }
            }
        }
    }
    Ok(Scope {
        stack: stack.name.clone(),
        env: stack.env.clone(),
        zones,
        deep,
        secrets,
        cloudformation: false,
        physical_ids: BTreeMap::new(),
        imports: stack.imports.clone(),
    })
}
