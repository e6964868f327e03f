//! `[import]` in refresh: resources read by their ids beside the stack's tagged ones.
//!
//! Each reader hands every resource it reads to [`Aws::claim`] instead of asking its
//! tags alone: a resource tagged for the scope is found at its address as always; one
//! that an `[import]` names and that carries no stackwright tags is found at the import
//! address and noted as imported; one that an `[import]` names and another stack or env
//! tagged is noted with its owner, for the plan to refuse. EC2 filters by tag on the
//! server, so for the kinds with imports the EC2 readers make one more call, filtered by
//! the imported ids; balancers, databases and records are listed whole already.

use std::collections::{BTreeMap, BTreeSet};

use super::{Aws, Tagged};
use crate::provider::{Owner, Scope, TAG_ADDRESS, TAG_ENV, TAG_STACK};
use crate::stack::{Address, Kind};

/// What the readers of one refresh found of the scope's imports.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// (kind, id) → the import address: built once per refresh, so claiming is a lookup.
    index: BTreeMap<(Kind, String), Address>,
    pub imported: BTreeSet<Address>,
    pub owners: BTreeMap<Address, Owner>,
}

impl Seen {
    pub(super) fn of(scope: &Scope) -> Seen {
        Seen {
            index: scope
                .imports
                .iter()
                .map(|(a, id)| ((a.kind, id.clone()), a.clone()))
                .collect(),
            ..Seen::default()
        }
    }
}

/// The ids `[import]` names for `kind`.
pub(super) fn ids_of(scope: &Scope, kind: Kind) -> Vec<String> {
    scope
        .imports
        .iter()
        .filter(|(a, _)| a.kind == kind)
        .map(|(_, id)| id.clone())
        .collect()
}

impl Aws {
    /// The address of a resource of `kind` read with these tags: the one its tags name
    /// for the scope, or the `[import]` address of an untagged one. Notes imports and
    /// their owners, and resources of the scope the other engine manages.
    pub(super) fn claim(
        &self,
        scope: &Scope,
        kind: Kind,
        tagged: &Tagged,
        id: &str,
    ) -> Option<Address> {
        if let Some(address) = tagged.address(scope, id) {
            return Some(address);
        }
        self.note_other_engine(scope, tagged);
        let mut seen = self.imports.lock().ok()?;
        let address = seen.index.get(&(kind, id.to_string()))?.clone();
        match tagged.tags.get(TAG_STACK) {
            None => {
                seen.imported.insert(address.clone());
                Some(address)
            }
            Some(stack) => {
                let owner = Owner {
                    stack: stack.clone(),
                    env: tagged.tags.get(TAG_ENV).cloned().unwrap_or_default(),
                    address: tagged.tags.get(TAG_ADDRESS).cloned().unwrap_or_default(),
                };
                seen.owners.insert(address, owner);
                None
            }
        }
    }

    /// An `[import]` found untagged (or unclaimed) at `address`.
    pub(super) fn note_imported(&self, address: &Address) {
        if let Ok(mut seen) = self.imports.lock() {
            seen.imported.insert(address.clone());
        }
    }

    /// An `[import]` whose resource `owner` tagged (or claimed).
    pub(super) fn note_import_owner(&self, address: &Address, owner: Owner) {
        if let Ok(mut seen) = self.imports.lock() {
            seen.owners.insert(address.clone(), owner);
        }
    }

    /// A fresh record of imports for a refresh of `scope`.
    pub(super) fn start_claims(&self, scope: &Scope) {
        if let Ok(mut seen) = self.imports.lock() {
            *seen = Seen::of(scope);
        }
    }

    /// What the readers found of the imports.
    pub(super) fn take_claims(&self) -> Seen {
        self.imports
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}
