//! `[moved]` of `stack.toml`: old address = new address, for renaming a resource without
//! rebuilding it. A block written without an index moves every replica
//! (`"instance.app" = "instance.web"` is `instance.app[i]` → `instance.web[i]` for each
//! replica of `instance.web`). Refused here, with the place it is written: an address
//! that is not one, a new address the stack does not have, an old one it still has, two
//! kinds, a block moved onto one replica, and two moves onto one address.

use std::collections::BTreeMap;

use crate::stack::diag::Diagnostic;
use crate::stack::model::{Address, Resource};
use crate::stack::source::Span;

use super::Checker;
use super::imports::kind_noun;

impl Checker<'_> {
    /// The `[moved]` table, one entry per replica.
    pub(super) fn moved(
        &mut self,
        resources: &BTreeMap<Address, Resource>,
    ) -> BTreeMap<Address, Address> {
        let file = self.raw.stack_file;
        let mut out = BTreeMap::new();
        // new address → (old address, where the move is written).
        let mut onto: BTreeMap<Address, (Address, Span)> = BTreeMap::new();
        for (key, value) in &self.raw.moved {
            let key_span = Span::new(file, key.span());
            let value_span = Span::new(file, value.span());
            let parse = |s: &str| s.parse::<Address>();
            let (old, new) = match (parse(key.get_ref()), parse(value.get_ref())) {
                (Ok(old), Ok(new)) => (old, new),
                (Err(why), _) => {
                    self.push(invalid(why).at(key_span));
                    continue;
                }
                (_, Err(why)) => {
                    self.push(invalid(why).at(value_span));
                    continue;
                }
            };
            if old.kind != new.kind {
                self.push(
                    Diagnostic::error(format!(
                        "cannot move `{old}` to `{new}`: `{old}` is {} and `{new}` {}",
                        kind_noun(old.kind),
                        kind_noun(new.kind)
                    ))
                    .at(value_span)
                    .hint("a move renames a resource; it cannot make it another kind"),
                );
                continue;
            }
            if self.declared.contains_key(&(old.kind, old.name.clone())) {
                self.push(
                    Diagnostic::error(format!(
                        "cannot move `{old}`: `{}.{}` is still in the stack",
                        old.kind, old.name
                    ))
                    .at(key_span)
                    .hint(format!(
                        "rename the table `[{}.{}]` to the new name, then keep this entry",
                        old.kind, old.name
                    )),
                );
                continue;
            }
            let declared = self.declared.get(&(new.kind, new.name.clone())).copied();
            let pairs: Vec<(Address, Address)> = match (declared, new.index, old.index) {
                (None, _, _) => {
                    self.push(
                        Diagnostic::error(format!(
                            "`[moved]` moves `{old}` to `{new}`, which the stack does not have"
                        ))
                        .at(value_span),
                    );
                    continue;
                }
                (Some(_), _, _) if self.failed.contains(&(new.kind, new.name.clone())) => {
                    continue; // the table did not load: its own error is reported
                }
                // A block to a block: every replica of the new one.
                (Some(Some(_)), None, None) => resources
                    .keys()
                    .filter(|a| a.kind == new.kind && a.name == new.name)
                    .map(|a| (Address::new(old.kind, &old.name, a.index), a.clone()))
                    .collect(),
                (Some(Some(_)), None, Some(_)) => {
                    self.push(
                        Diagnostic::error(format!(
                            "cannot move the one replica `{old}` onto every replica of `{new}`"
                        ))
                        .at(value_span)
                        .hint(format!("name the replica: `{new}[0]`")),
                    );
                    continue;
                }
                _ if resources.contains_key(&new) => vec![(old.clone(), new.clone())],
                _ => {
                    // An index the block does not have, or one on a block without count.
                    self.stack_address(value, &value_span, resources, "moved");
                    continue;
                }
            };
            for (old, new) in pairs {
                if let Some((first, first_span)) = onto.get(&new) {
                    self.push(
                        Diagnostic::error(format!(
                            "two moves onto `{new}`: from `{first}` and from `{old}`"
                        ))
                        .at(value_span.clone())
                        .also(first_span.clone(), "first moved here"),
                    );
                    continue;
                }
                onto.insert(new.clone(), (old.clone(), value_span.clone()));
                out.insert(old, new);
            }
        }
        out
    }
}

fn invalid(why: String) -> Diagnostic {
    Diagnostic::error(format!("invalid address in `[moved]`: {why}"))
        .hint("an address is `KIND.NAME`, or `instance.NAME[i]` for a replica")
}
