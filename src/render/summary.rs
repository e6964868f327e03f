//! One-line summaries of commands that succeed.

use crate::graph::Graph;
use crate::stack::{Loaded, Severity};

/// `validate`'s line: what the stack holds in this env.
pub fn validated(loaded: &Loaded, graph: &Graph) -> String {
    let stack = &loaded.stack;
    let mut declared: Vec<(_, &str)> = stack
        .resources
        .keys()
        .map(|a| (a.kind, a.name.as_str()))
        .collect();
    declared.dedup();
    let replicas = stack.resources.keys().filter(|a| a.index.is_some()).count();
    let warnings = loaded
        .warnings
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "stack `{}` (env `{}`, {}) is valid: {}, {}, {} addresses, {}, {}\n",
        stack.name,
        stack.env,
        region(&stack.region),
        plural(declared.len(), "resource"),
        plural(replicas, "replica"),
        graph.node_count(),
        plural(graph.edge_count(), "edge"),
        plural(warnings, "warning"),
    )
}

/// `--stats`: the AWS calls made.
pub fn calls(by_operation: &std::collections::BTreeMap<String, u64>) -> String {
    let total: u64 = by_operation.values().sum();
    let list: Vec<String> = by_operation
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    format!("aws calls: {total} ({})\n", list.join(", "))
}

/// `region `x``, or where it will come from when the stack does not say.
pub fn region(region: &str) -> String {
    if region.is_empty() {
        "region from the AWS configuration".to_string()
    } else {
        format!("region `{region}`")
    }
}

/// The last lines of an apply or destroy: what was done, what failed, what was skipped.
pub fn applied(title: &str, plan: &crate::plan::Plan, report: &crate::apply::Report) -> String {
    use crate::plan::Action;
    let count = |action: Action| report.done.iter().filter(|s| s.action == action).count();
    let mut done = format!(
        "{} created, {} updated, {} replaced, {} destroyed",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Destroy)
    );
    if count(Action::Import) > 0 {
        done.push_str(&format!(", {} imported", count(Action::Import)));
    }
    if count(Action::Move) > 0 {
        done.push_str(&format!(", {} moved", count(Action::Move)));
    }
    let seconds = report.elapsed.as_secs_f64();
    if report.succeeded() {
        return format!("\n{title} complete in {seconds:.1}s: {done}.\n");
    }
    let mut out = format!(
        "\n{title} {} after {seconds:.1}s: {done}; {} of {} changes not made.\n",
        if report.cancelled {
            "interrupted"
        } else {
            "failed"
        },
        report.failed.len() + report.skipped.len(),
        plan.changes.len()
    );
    for (step, message) in &report.failed {
        out.push_str(&format!("  failed:  {}: {message}\n", step.address));
    }
    for (step, reason) in &report.skipped {
        out.push_str(&format!("  skipped: {} ({reason})\n", step.address));
    }
    out.push_str("Run `stackwright plan` to see what is left; apply again to finish.\n");
    out
}

/// `name = value` per output; outputs whose resources do not exist say so.
pub fn outputs(outputs: &std::collections::BTreeMap<String, Option<String>>) -> String {
    if outputs.is_empty() {
        return String::new();
    }
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::from("\nOutputs:\n");
    for (name, value) in outputs {
        match value {
            Some(v) => out.push_str(&format!("  {name:width$} = {v}\n")),
            None => out.push_str(&format!(
                "  {name:width$}   (not known: its resource does not exist)\n"
            )),
        }
    }
    out
}

/// The closing lines of `destroy --expired`: how many expired stacks went (or would), and
/// each one left, with why.
pub fn swept(
    swept: &[(
        crate::provider::inventory::Listed,
        crate::engine::sweep::Swept,
    )],
    dry_run: bool,
    left: &[String],
) -> String {
    if swept.is_empty() {
        return "No expired stacks.\n".to_string();
    }
    let n = swept.len();
    let stacks = if n == 1 { "stack" } else { "stacks" };
    if dry_run {
        return format!(
            "\n{n} expired {stacks} would be destroyed (--dry-run: nothing was changed).\n"
        );
    }
    let mut out = format!(
        "\nExpired: {n} {stacks}, {} destroyed, {} left.\n",
        n - left.len(),
        left.len()
    );
    for why in left {
        out.push_str(&format!("  left {why}\n"));
    }
    out
}

/// Print how an apply or destroy finished: the summary of what was done, and the stack's
/// outputs after an apply. Whether it succeeded (a declined run did not).
pub fn finish(title: &str, finish: &crate::engine::Finish) -> bool {
    use crate::engine::Finish;
    match finish {
        Finish::NoChanges => true,
        Finish::Declined => false,
        Finish::Carried {
            plan,
            report,
            outputs,
            succeeded,
        } => {
            super::stdout(&applied(title, plan, report));
            if let Some(outputs) = outputs {
                super::stdout(&self::outputs(outputs));
            }
            *succeeded
        }
    }
}

/// Print `destroy --expired`: each teardown's summary, then the closing lines. Whether a
/// stack was left (or not all of it went).
pub fn sweep_report(
    swept: &[(
        crate::provider::inventory::Listed,
        crate::engine::sweep::Swept,
    )],
    dry_run: bool,
) -> bool {
    use crate::engine::sweep::Swept;
    let mut left = Vec::new();
    for (listed, outcome) in swept {
        let which = format!(
            "stack `{}` env `{}` ({})",
            listed.stack, listed.env, listed.region
        );
        match outcome {
            Swept::WouldDestroy(_) => {}
            Swept::Carried {
                plan,
                report,
                succeeded,
            } => {
                super::stdout(&applied("Destroy", plan, report));
                if !succeeded {
                    left.push(format!("{which}: not all of it was destroyed (see above)"));
                }
            }
            Swept::Left(why) => left.push(format!("{which}: {why}")),
        }
    }
    super::stdout(&self::swept(swept, dry_run, &left));
    !left.is_empty()
}

/// `output`: `name = value` for each output whose resource exists.
pub fn outputs_plain(outputs: &std::collections::BTreeMap<String, Option<String>>) -> String {
    outputs
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name} = {v}\n")))
        .collect()
}

/// `output --json`: one object, `null` for an output whose resource does not exist.
pub fn outputs_json(outputs: &std::collections::BTreeMap<String, Option<String>>) -> String {
    let known: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.clone().map_or(serde_json::Value::Null, Into::into),
            )
        })
        .collect();
    serde_json::to_string_pretty(&known).unwrap_or_default() + "\n"
}

/// `output`'s error when outputs refer to resources that do not exist, if any do.
pub fn missing_outputs(
    outputs: &std::collections::BTreeMap<String, Option<String>>,
) -> Option<String> {
    let missing: Vec<String> = outputs
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    let one = missing.len() == 1;
    (!missing.is_empty()).then(|| {
        format!(
            "error: output{} {} refer{} to resources that do not exist in AWS\n\nhint: apply \
             the stack first\n",
            if one { "" } else { "s" },
            missing.join(", "),
            if one { "s" } else { "" },
        )
    })
}

/// `generate`: what it wrote, the secrets to set, and the next command.
pub fn generated(
    dir: &std::path::Path,
    env: &str,
    generated: &crate::generate::Generated,
) -> String {
    let mut out = format!(
        "Wrote `{}`: {} resources to import.\n",
        dir.display(),
        generated.imports.len()
    );
    for file in generated.files.keys() {
        out.push_str(&format!("  {file}\n"));
    }
    for (secret, var) in &generated.secrets {
        out.push_str(&format!(
            "Secret `{secret}` is read from `{var}`: set it to the current value before an \
             apply that needs it.\n"
        ));
    }
    out.push_str(&format!(
        "Next: stackwright plan {} --env {env}\n",
        dir.display()
    ));
    out
}
