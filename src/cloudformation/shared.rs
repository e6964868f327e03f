//! User data that replicas share, written into the template once.
//!
//! The replicas of a counted instance (`instance.heart[0]`, `[1]`, …) differ only in their
//! index: their user data is the same template. Written into each replica it makes the
//! template grow by the whole script per replica (3 KB for the reference stack's hearts),
//! which is what pushes a template past CloudFormation's limits. So a counted instance's
//! user data is written once, in the template's `Mappings`, cut where it refers to
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
//! A counted instance's user data is written so whatever its count, even 1: scaling must
//! not change how a running replica's user data is written. An instance without `count`
//! keeps `Fn::Sub`, as does user data with more pieces than a mapping holds (200).

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};

use crate::stack::Address;
use crate::stack::template::{Part, Template};

/// The template's mapping that holds shared user data.
pub const MAPPING: &str = "StackwrightUserData";

/// CloudFormation's limits on a mapping: at most 200 keys at each level.
const MAPPING_KEYS: usize = 200;

/// The user data of a stack's counted instances, written once per distinct text.
#[derive(Debug, Default)]
pub struct SharedUserData {
    /// The mapping key of each user data written into the mapping so far, by its
    /// `Fn::Sub` form (which says every piece).
    keys: HashMap<String, String>,
    mapping: Map<String, Json>,
}

impl SharedUserData {
    /// The `UserData` property of `address`, whose user data is `ud`, as `Fn::Base64` of
    /// either `inline` (its `Fn::Sub` form) or a join of the shared pieces.
    pub fn user_data(&mut self, address: &Address, ud: &Template, inline: Json) -> Json {
        let key = inline.to_string();
        let pieces = ud
            .parts
            .iter()
            .filter(|p| matches!(p, Part::Text(_)))
            .count();
        // Every replica of a counted instance, even one alone (`count = 1`): the form of a
        // replica's user data must not change when the count does, or scaling from one to
        // two would update the first (for EC2 user data, an interruption).
        let shared = address.index.is_some()
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
