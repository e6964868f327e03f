//! `lint`'s findings as text (one a line, `file:line:col:` first, as compilers write
//! them, so editors and CI annotate the line) or as JSON (`schemas/lint.schema.json`).

use serde::Serialize;

use crate::lint::{Finding, Severity};

/// One line a finding:
/// `stack.toml:52:3: warning[ssh-open-to-world] security_group.web: … (hint: …)`.
pub fn text(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{}: {}[{}] {}: {} (hint: {})\n",
                f.file,
                f.line,
                f.column,
                f.severity.as_str(),
                f.rule,
                f.address,
                f.message,
                f.hint
            )
        })
        .collect()
}

/// The closing line, for stderr: `2 findings (1 error, 1 warning)` or `No findings.`
pub fn summary(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No findings.\n".into();
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    format!(
        "{} finding{} ({errors} error{}, {warnings} warning{})\n",
        findings.len(),
        plural(findings.len()),
        plural(errors),
        plural(warnings)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `{"findings": [...]}`, pretty, ending in a newline.
pub fn json(findings: &[Finding]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        findings: &'a [Finding],
    }
    let mut text = serde_json::to_string_pretty(&Out { findings }).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}
