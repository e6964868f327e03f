//! The safety gates an apply or destroy passes before anything is changed.
//!
//! - `prevent_destroy` refuses to destroy or replace the resource, whatever the flags; it
//!   is kept in AWS as well, so a protected resource removed from the stack is refused.
//! - A database with deletion protection on in AWS refuses too: RDS would refuse the
//!   delete half way through the apply; better to say so before anything starts.
//! - Changes that can lose data need `--allow-data-loss`, always.
//! - Changes that open access need `--allow-open` when nobody is there to read the plan
//!   and answer the question (no terminal).
//! - Creating what the other engine already manages (CloudFormation) refuses: the names
//!   would collide, and the two engines must not share a resource.

use crate::plan::{Action, Mark, Plan};
use crate::provider::{LiveState, Value};
use crate::stack::{Kind, Stack};

/// What the person (or pipeline) running the command agreed to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Consent {
    /// Someone at a terminal reads the plan and answers.
    pub interactive: bool,
    pub allow_data_loss: bool,
    pub allow_open: bool,
}

/// Why `plan` may not be applied, one sentence each; empty when it may.
pub fn refusals(plan: &Plan, declared: &Stack, live: &LiveState, consent: Consent) -> Vec<String> {
    let mut out = Vec::new();
    for change in &plan.changes {
        if !matches!(change.action, Action::Destroy | Action::Replace) {
            continue;
        }
        let verb = if change.action == Action::Destroy {
            "destroy"
        } else {
            "replace"
        };
        let address = &change.address;
        // The stack's setting, or the one applied last (the resource may have been
        // taken out of the stack).
        let kept_in_aws = live
            .resources
            .get(address)
            .and_then(|r| r.attrs.get("prevent_destroy"))
            == Some(&Value::text("true"));
        if declared
            .resource(address)
            .is_some_and(|r| r.prevent_destroy)
            || kept_in_aws
        {
            out.push(format!(
                "`{address}` has `prevent_destroy = true`: refusing to {verb} it \
                 (set `prevent_destroy = false` and apply first if this is really meant)"
            ));
        }
        let protected = live
            .resources
            .get(address)
            .and_then(|r| r.attrs.get("deletion_protection"))
            == Some(&Value::text("true"));
        if address.kind == Kind::Database && protected {
            out.push(format!(
                "`{address}` has deletion protection on in AWS: refusing to {verb} it \
                 (apply `deletion_protection = false` first)"
            ));
        }
    }
    // The same physical names: a create would collide with what CloudFormation manages.
    let taken: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create && live.other_engine.contains(&c.address))
        .map(|c| format!("`{}`", c.address))
        .collect();
    if !taken.is_empty() {
        out.push(format!(
            "{} already exist{} under CloudFormation: apply with `--engine cloudformation`, \
             or destroy the CloudFormation stack first",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" }
        ));
    }
    let with = |f: fn(&Mark) -> bool| -> Vec<String> {
        plan.changes
            .iter()
            .filter(|c| c.marks.iter().any(f))
            .map(|c| format!("`{}`", c.address))
            .collect()
    };
    let data_loss = with(|m| matches!(m, Mark::DataLoss(_)));
    if !data_loss.is_empty() && !consent.allow_data_loss {
        out.push(format!(
            "{} can lose data: pass --allow-data-loss to go ahead",
            data_loss.join(", ")
        ));
    }
    let open = with(|m| matches!(m, Mark::SecuritySensitive(_)));
    if !open.is_empty() && !consent.interactive && !consent.allow_open {
        out.push(format!(
            "{} open{} access (security-sensitive): pass --allow-open to go ahead without a terminal",
            open.join(", "),
            if open.len() == 1 { "s" } else { "" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;
    use crate::plan::{after_apply, attrs};
    use crate::provider::LiveResource;
    use crate::stack::load_text;

    const STACK: &str = r#"
        [stack]
        name = "g"
        region = "ap-southeast-2"
        [secrets]
        pw = { env = "PW" }
        [security_group.web]
        description = "web"
        ingress = [ { protocol = "tcp", ports = "22", cidr = "0.0.0.0/0" } ]
        [database.db]
        engine = "mysql"
        instance_class = "db.t3.micro"
        storage_gb = 10
        master_username = "root"
        master_password = "${secret.pw}"
        prevent_destroy = PREVENT
    "#;

    fn stack(prevent: bool) -> Stack {
        load_text(&STACK.replace("PREVENT", &prevent.to_string()), "")
            .unwrap()
            .stack
    }

    /// Live state as a complete apply of `stack` leaves it, the database protected or not.
    fn converged(stack: &Stack, protected: bool) -> LiveState {
        let mut live = LiveState::default();
        for (address, resource) in &stack.resources {
            let mut desired = attrs::desired(resource, &Default::default());
            if address.kind == Kind::Database {
                desired.insert(
                    "deletion_protection".into(),
                    crate::provider::flag(protected),
                );
            }
            let r: LiveResource = after_apply(
                address,
                format!("id-{address}"),
                &desired,
                Default::default(),
            );
            live.insert(r);
        }
        live
    }

    fn plan_of(applied: &Stack, live: &LiveState) -> Plan {
        crate::plan::plan(applied, &Graph::build(applied).unwrap(), live)
    }

    fn empty(stack: &Stack) -> Stack {
        Stack {
            resources: Default::default(),
            ..stack.clone()
        }
    }

    /// Issue 5: what CloudFormation manages is not created beside it by the direct engine.
    #[test]
    fn creating_what_cloudformation_manages_is_refused() {
        let s = stack(false);
        let mut live = LiveState::default();
        live.other_engine.insert("database.db".parse().unwrap());
        let plan = plan_of(&s, &live);
        assert!(
            plan.warnings[0].contains("`database.db` of stack `g`"),
            "{:?}",
            plan.warnings
        );
        let everything = Consent {
            interactive: true,
            allow_data_loss: true,
            allow_open: true,
        };
        let refused = refusals(&plan, &s, &live, everything);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].starts_with("`database.db` already exists under CloudFormation"));
        assert!(refusals(&plan, &s, &LiveState::default(), everything).is_empty());
    }

    #[test]
    fn creating_an_open_group_needs_allow_open_only_without_a_terminal() {
        let s = stack(false);
        let plan = plan_of(&s, &LiveState::default());
        let batch = Consent::default();
        let refused = refusals(&plan, &s, &LiveState::default(), batch);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("`security_group.web`") && refused[0].contains("--allow-open"));
        let tty = Consent {
            interactive: true,
            ..batch
        };
        assert!(refusals(&plan, &s, &LiveState::default(), tty).is_empty());
        let flagged = Consent {
            allow_open: true,
            ..batch
        };
        assert!(refusals(&plan, &s, &LiveState::default(), flagged).is_empty());
    }

    #[test]
    fn destroying_a_database_needs_allow_data_loss_even_on_a_terminal() {
        let s = stack(false);
        let live = converged(&s, false);
        let plan = plan_of(&empty(&s), &live);
        let tty = Consent {
            interactive: true,
            ..Consent::default()
        };
        let refused = refusals(&plan, &s, &live, tty);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].contains("`database.db` can lose data"),
            "{refused:?}"
        );
        let allowed = Consent {
            allow_data_loss: true,
            ..tty
        };
        assert!(refusals(&plan, &s, &live, allowed).is_empty());
    }

    #[test]
    fn prevent_destroy_and_deletion_protection_refuse_whatever_the_flags() {
        let everything = Consent {
            interactive: true,
            allow_data_loss: true,
            allow_open: true,
        };
        let s = stack(true);
        let live = converged(&s, false);
        let refused = refusals(&plan_of(&empty(&s), &live), &s, &live, everything);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("prevent_destroy"), "{refused:?}");

        let s = stack(false);
        let live = converged(&s, true);
        let refused = refusals(&plan_of(&empty(&s), &live), &s, &live, everything);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("deletion protection"), "{refused:?}");
    }
}
