//! User data that replicas share, written into the template once.
//!
//! The replicas of a counted instance (`instance.heart[0]`, `[1]`, …) differ only in their
//! index: their user data is the same template. Written into each replica it makes the
//! template grow by the whole script per replica (3 KB for the reference stack's hearts),
//! which is what pushes a template past CloudFormation's limits. So user data used by more
//! than one instance is written once, in the template's `Mappings`, cut where it refers to
//! something (a secret's parameter, another resource's attribute):
//!
//! ```json
//! "Mappings": { "StackwrightUserData": { "InstanceHeart": { "P0": "#!/bin/bash…", "P1": "'\n…" } } }
//! "UserData": { "Fn::Base64": { "Fn::Join": ["", [
//!     { "Fn::FindInMap": ["StackwrightUserData", "InstanceHeart", "P0"] },
//!     { "Ref": "SecretNodeToken" },
//!     { "Fn::FindInMap": ["StackwrightUserData", "InstanceHeart", "P1"] } ]] } }
//! ```
//!
//! `Fn::Sub` cannot be used for this: its text must be written in place, not looked up.
//! User data used once stays `Fn::Sub`, as does user data with more pieces than a mapping
//! holds (200).

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};

use crate::stack::template::{Part, Template};
use crate::stack::{Address, Spec, Stack};

/// The template's mapping that holds shared user data.
pub const MAPPING: &str = "StackwrightUserData";

/// CloudFormation's limits on a mapping: at most 200 keys at each level.
const MAPPING_KEYS: usize = 200;

/// The user data of a stack's instances, shared where more than one uses the same.
#[derive(Debug, Default)]
pub struct SharedUserData {
    /// How many instances use each user data (by its `Fn::Sub` form).
    uses: HashMap<String, usize>,
    /// The mapping key of each user data written into the mapping so far.
    keys: HashMap<String, String>,
    mapping: Map<String, Json>,
}

impl SharedUserData {
    /// Count the uses of each user data of `stack`.
    pub fn of(stack: &Stack) -> SharedUserData {
        let mut shared = SharedUserData::default();
        for r in stack.resources.values() {
            if let Spec::Instance(i) = &r.spec
                && let Some(ud) = &i.user_data
            {
                *shared.uses.entry(key_of(ud)).or_default() += 1;
            }
        }
        shared
    }

    /// The `UserData` property of `address`, whose user data is `ud`, as `Fn::Base64` of
    /// either `inline` (its `Fn::Sub` form) or a join of the shared pieces.
    pub fn user_data(&mut self, address: &Address, ud: &Template, inline: Json) -> Json {
        let key = key_of(ud);
        let pieces = ud.parts.iter().filter(|p| matches!(p, Part::Text(_))).count();
        let shared = self.uses.get(&key).copied().unwrap_or(0) > 1
            && pieces <= MAPPING_KEYS
            && (self.keys.contains_key(&key) || self.mapping.len() < MAPPING_KEYS);
        if !shared {
            return json!({ "Fn::Base64": inline });
        }
        let name = match self.keys.get(&key) {
            Some(name) => name.clone(),
            None => {
                let name = self.add(address, ud);
                self.keys.insert(key, name.clone());
                name
            }
        };
        let mut joined = Vec::with_capacity(ud.parts.len());
        let mut n = 0;
        for part in &ud.parts {
            match part {
                Part::Text(t) if t.is_empty() => {}
                Part::Text(_) => {
                    joined.push(json!({ "Fn::FindInMap": [MAPPING, name, format!("P{n}")] }));
                    n += 1;
                }
                Part::Secret(s) => joined.push(json!({ "Ref": super::secret_parameter(s) })),
                Part::Attr { target, attr } => joined.push(super::attribute(target, attr)),
            }
        }
        json!({ "Fn::Base64": { "Fn::Join": ["", joined] } })
    }

    /// Write `ud`'s text pieces into the mapping under a key named after the instance
    /// block (`InstanceHeart`), numbered if that is taken by other user data.
    fn add(&mut self, address: &Address, ud: &Template) -> String {
        let block = Address {
            index: None,
            ..address.clone()
        };
        let base = super::logical_id(&block);
        let mut name = base.clone();
        let mut n = 2;
        while self.mapping.contains_key(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        let pieces: Map<String, Json> = ud
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) if !t.is_empty() => Some(t.clone()),
                _ => None,
            })
            .enumerate()
            .map(|(n, t)| (format!("P{n}"), Json::String(t)))
            .collect();
        self.mapping.insert(name.clone(), Json::Object(pieces));
        name
    }

    /// The template's `Mappings`, if any user data is shared.
    pub fn mappings(self) -> Option<Json> {
        (!self.mapping.is_empty()).then(|| json!({ MAPPING: self.mapping }))
    }
}

/// User data's identity: its `Fn::Sub` form, which says every piece.
fn key_of(ud: &Template) -> String {
    super::text(ud).to_string()
}
