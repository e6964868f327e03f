//! A plan for people, in the contract's shape:
//!
//! ```text
//!   + security_group.web  will be created
//!   ~ instance.web[0]  will be updated in place (drift)
//! -/+ instance.db  must be replaced (forces replacement: ami)
//!   - dns_record.old  will be destroyed
//!  <= security_group.app  will be imported [sg-0123456789abcdef0]
//!  mv instance.app[0] -> instance.web[0]  will be moved [i-0123456789abcdef0]
//! ```
//!
//! then each changed attribute; lists as added (`+`) and removed (`-`) items; long text
//! (user data) as a unified diff. Every `${secret.NAME}` prints as `(sensitive)`.

use std::fmt::Write;

use similar::TextDiff;

use crate::plan::{Action, AttrChange, Change, Mark, Plan, PlannedBy};
use crate::provider::Value;

const SENSITIVE: &str = "(sensitive)";
const UNKNOWN: &str = "(known after apply)";

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Hide every secret placeholder.
pub(crate) fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${secret.") {
        let Some(end) = rest[i..].find('}') else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str(SENSITIVE);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

fn quoted(value: &str) -> String {
    format!("{:?}", mask(value))
}

pub fn render(plan: &Plan, colour: bool) -> String {
    let paint = Paint { on: colour };
    let mut out = String::new();
    let engine = match plan.engine {
        PlannedBy::Direct => "",
        PlannedBy::Cloudformation => ", through CloudFormation",
    };
    let _ = writeln!(
        out,
        "Plan for stack `{}` (env `{}`, region `{}`{engine}):",
        plan.stack, plan.env, plan.region
    );
    for warning in &plan.warnings {
        let _ = writeln!(out, "\n{} {warning}", paint.wrap("33", "warning:"));
    }
    for change in &plan.changes {
        out.push('\n');
        heading(&mut out, change, &paint);
        body(&mut out, change, &paint);
    }
    if let Some(line) = expiry(plan) {
        let _ = write!(out, "\n{line}\n");
    }
    out.push('\n');
    out.push_str(&summary(plan));
    out
}

/// `Expires: 72h after apply (now 2026-12-06T03:40:00Z).`: what an apply does to the env's
/// expiry. Not a change: it does not count in the summary line.
pub fn expiry(plan: &Plan) -> Option<String> {
    let e = plan.expires.as_ref()?;
    let now = e
        .current
        .as_ref()
        .map(|c| format!(" (now {c})"))
        .unwrap_or_default();
    Some(match e.after_secs {
        Some(secs) => format!("Expires: {} after apply{now}.", duration(secs)),
        None => format!("Expires: never{now}: apply removes the expiry."),
    })
}

/// A duration as an env file writes it: `14d`, `72h`, `10m`, `90s`.
fn duration(secs: u64) -> String {
    if secs > 0 && secs.is_multiple_of(86_400) && secs / 86_400 > 3 {
        format!("{}d", secs / 86_400)
    } else {
        crate::stack::model::format_duration(secs)
    }
}

/// One change's marks and attributes, as the text plan prints them under its heading,
/// without colour: six spaces in, every secret `(sensitive)`.
pub fn details(change: &Change) -> String {
    let mut out = String::new();
    body(&mut out, change, &Paint { on: false });
    out
}

fn body(out: &mut String, change: &Change, paint: &Paint) {
    for mark in &change.marks {
        let (label, reason) = match mark {
            Mark::SecuritySensitive(r) => ("security-sensitive", r),
            Mark::DataLoss(r) => ("data loss", r),
        };
        let _ = writeln!(
            out,
            "      {} {reason}",
            paint.wrap("1;31", &format!("! {label}:"))
        );
    }
    let width = change.attrs.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for attr in &change.attrs {
        attribute(out, change.action, attr, width, paint);
    }
}

fn heading(out: &mut String, change: &Change, paint: &Paint) {
    let colour = match change.action {
        Action::Create => "32",
        Action::Update => "33",
        Action::Replace => "35",
        Action::Destroy => "31",
        Action::Import => "36",
        Action::Move => "36",
    };
    let _ = writeln!(
        out,
        "{} {}  {}",
        paint.wrap(colour, &format!("{:>3}", symbol(change.action))),
        paint.wrap("1", &shown_address(change)),
        words(change)
    );
}

/// The address a heading names: `old -> new` for a move.
pub(crate) fn shown_address(change: &Change) -> String {
    match (&change.moved_from, change.action) {
        (Some(old), Action::Move) => format!("{old} -> {}", change.address),
        _ => change.address.to_string(),
    }
}

/// The sign a change's heading starts with: `+`, `~`, `-/+`, `-` or `<=`.
pub(crate) fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Destroy => "-",
        Action::Import => "<=",
        Action::Move => "mv",
    }
}

/// What a change's heading says after its address: `will be created`, `must be replaced
/// (forces replacement: ami)`, with drift and the AWS id when there is one.
pub(crate) fn words(change: &Change) -> String {
    let words = match change.action {
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => format!(
            "must be replaced (forces replacement: {})",
            change.replace_because.join(", ")
        ),
        Action::Destroy => "will be destroyed".to_string(),
        Action::Import => "will be imported".to_string(),
        Action::Move => "will be moved".to_string(),
    };
    let drift = if change.drift {
        " (drift: changed in AWS, not in the stack)"
    } else if !change.attrs.is_empty() && change.attrs.iter().all(|a| !a.secrets_changed.is_empty())
    {
        " (secret input changed)"
    } else {
        ""
    };
    let rolling = match &change.rolling {
        Some(r) => {
            let behind: Vec<String> = r.balancers.iter().map(ToString::to_string).collect();
            format!(
                " (rolling, {} at a time, behind {})",
                r.batch,
                behind.join(", ")
            )
        }
        None if !change.dns_switch.is_empty() => {
            let records: Vec<String> = change.dns_switch.iter().map(ToString::to_string).collect();
            format!(
                " (new one first, then {} switched to it, then the old one terminated)",
                records.join(", ")
            )
        }
        None => String::new(),
    };
    let restored = match &change.restored_from {
        Some(r) => format!(", restored from {} (env {})", r.snapshot, r.env),
        None => String::new(),
    };
    let id = match (&change.id, change.action) {
        (
            Some(id),
            Action::Update | Action::Replace | Action::Destroy | Action::Import | Action::Move,
        ) => {
            format!(" [{id}]")
        }
        _ => String::new(),
    };
    format!("{words}{restored}{rolling}{drift}{id}")
}

fn attribute(out: &mut String, action: Action, attr: &AttrChange, width: usize, paint: &Paint) {
    let name = format!("{:width$}", attr.name);
    let pad = " ".repeat(6);
    let secret = !attr.secrets_changed.is_empty();
    let note = match (attr.forces_replacement, attr.drift, secret) {
        (true, _, true) => paint.wrap("35", "  # forces replacement; secret input changed"),
        (false, _, true) => paint.wrap("33", "  # secret input changed"),
        (true, true, false) => paint.wrap("35", "  # forces replacement; drift"),
        (true, false, false) => paint.wrap("35", "  # forces replacement"),
        (false, true, false) => paint.wrap("33", "  # drift: changed in AWS"),
        (false, false, false) => String::new(),
    };
    if attr.withheld {
        let _ = writeln!(
            out,
            "{pad}{name} : (differs; not shown: it may hold secrets){note}"
        );
        return;
    }
    if !attr.rotating.is_empty() {
        let names: Vec<String> = attr.rotating.iter().map(|n| format!("`{n}`")).collect();
        let note = if attr.forces_replacement {
            paint.wrap("35", "  # forces replacement")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{pad}{name} : {SENSITIVE} -> {SENSITIVE} (rotating secret {}){note}",
            names.join(", ")
        );
        return;
    }
    if secret {
        let names: Vec<String> = attr
            .secrets_changed
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        let _ = writeln!(
            out,
            "{pad}{name} : {SENSITIVE} -> {SENSITIVE} (new input for secret {}){note}",
            names.join(", ")
        );
        return;
    }
    match (&attr.before, &attr.after) {
        (_, Some(Value::List(after))) => {
            let before: &[String] = match &attr.before {
                Some(Value::List(b)) => b,
                _ => &[],
            };
            let added: Vec<&String> = after.iter().filter(|a| !before.contains(a)).collect();
            let removed: Vec<&String> = before.iter().filter(|b| !after.contains(b)).collect();
            if action == Action::Create && after.is_empty() {
                return;
            }
            let _ = writeln!(out, "{pad}{}:{note}", attr.name);
            for a in added {
                let _ = writeln!(out, "{pad}    {} {}", paint.wrap("32", "+"), mask(a));
            }
            for r in removed {
                let _ = writeln!(out, "{pad}    {} {}", paint.wrap("31", "-"), mask(r));
            }
        }
        (before, Some(Value::Text(after)))
            if after.contains('\n') || before.as_ref().is_some_and(is_long) =>
        {
            long_text(out, attr, before.as_ref(), after, &name, &note, paint);
        }
        (None, Some(after)) => {
            let _ = writeln!(out, "{pad}{name} = {}{note}", shown(after));
        }
        (Some(before), Some(after)) => {
            let _ = writeln!(
                out,
                "{pad}{name} : {} -> {}{note}",
                shown(before),
                shown(after)
            );
        }
        (_, None) => {}
    }
}

fn is_long(v: &Value) -> bool {
    matches!(v, Value::Text(t) if t.contains('\n'))
}

fn shown(v: &Value) -> String {
    match v {
        // Numbers and flags read better bare.
        Value::Text(t)
            if t == "true"
                || t == "false"
                || (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())) =>
        {
            t.clone()
        }
        Value::Text(t) => quoted(t),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| quoted(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Unknown => UNKNOWN.to_string(),
    }
}

/// User data: its size on create; a unified diff when both texts are known; otherwise
/// the note that only a hash was compared.
fn long_text(
    out: &mut String,
    attr: &AttrChange,
    before: Option<&Value>,
    after: &str,
    name: &str,
    note: &str,
    paint: &Paint,
) {
    let pad = " ".repeat(6);
    let lines = after.lines().count();
    match before {
        None => {
            let _ = writeln!(out, "{pad}{name} = ({lines} lines){note}");
        }
        Some(Value::Text(b)) if b.starts_with("sha256:") || attr.tracked => {
            let _ = writeln!(
                out,
                "{pad}{name} : changed ({lines} lines now; AWS holds {}: `plan --deep` shows the text){note}",
                b.get(..19).unwrap_or(b)
            );
        }
        Some(Value::Text(b)) => {
            let _ = writeln!(out, "{pad}{}:{note}", attr.name);
            let (b, a) = (mask(b), mask(after));
            let diff = TextDiff::from_lines(&b, &a);
            for line in diff
                .unified_diff()
                .context_radius(2)
                .header("AWS", "stack")
                .to_string()
                .lines()
            {
                let coloured = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => paint.wrap("32", line),
                    Some('-') if !line.starts_with("---") => paint.wrap("31", line),
                    _ => line.to_string(),
                };
                let _ = writeln!(out, "{pad}    {coloured}");
            }
        }
        Some(other) => {
            let _ = writeln!(
                out,
                "{pad}{name} : {} -> ({lines} lines){note}",
                shown(other)
            );
        }
    }
}

/// The closing lines; the very last is `Plan: …` or `No changes.`.
pub fn summary(plan: &Plan) -> String {
    let s = &plan.summary;
    if !plan.has_changes() {
        return "No changes.\n".to_string();
    }
    let mut out = String::new();
    let mut notes = Vec::new();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if s.security_sensitive > 0 {
        notes.push(format!(
            "{} security-sensitive",
            plural(s.security_sensitive, "change is", "changes are")
        ));
    }
    if s.data_loss > 0 {
        notes.push(format!(
            "{} lose data",
            plural(s.data_loss, "change can", "changes can")
        ));
    }
    if s.drift > 0 {
        notes.push(format!(
            "{} drift",
            plural(s.drift, "change repairs", "changes repair")
        ));
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "Note: {}.", notes.join("; "));
    }
    // `, N to import` only when there is an import: plans without one read as before.
    let import = if s.import > 0 {
        format!(", {} to import", s.import)
    } else {
        String::new()
    };
    let moved = if s.moved > 0 {
        format!(", {} to move", s.moved)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to update, {} to replace, {} to destroy{import}{moved}.",
        s.create, s.update, s.replace, s.destroy
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_everywhere_in_text() {
        assert_eq!(
            mask("a ${secret.x} b ${secret.y}"),
            "a (sensitive) b (sensitive)"
        );
        assert_eq!(mask("no ${secret"), "no ${secret");
    }
}
