//! A plan as a pull-request comment (GitHub-flavoured Markdown), for `plan --format markdown`:
//!
//! 1. a hidden marker naming the stack and env (`<!-- stackwright plan: stack=… env=… -->`),
//!    so a CI step can find and update its own earlier comment;
//! 2. a title and the summary line (`**Plan: 1 to create, …**`), and the plan's warnings;
//! 3. **Needs attention**: every change that can lose data, then every security-sensitive
//!    one, with the planner's reason;
//! 4. a table of changes: action, address, what forces a replacement, notes;
//! 5. each resource's attribute diff folded in `<details>`, as the text plan prints it.
//!
//! It never exceeds [`LIMIT`] bytes (GitHub's limit for a comment is 65,536 characters; a
//! character is at least a byte). Over it, details are left out resource by resource from
//! the end; if the table alone is still too long, its last rows too (and, last of all,
//! the attention list's last items); the comment then ends by saying how many of each were
//! left out and which command prints the full plan. Secrets print as `(sensitive)`, exactly
//! as in the text plan. The same plan gives the same bytes.

use std::fmt::Write;

use super::plan::{details, mask, shown_address, summary, symbol, words};
use crate::plan::{Action, Change, Mark, Plan, PlannedBy};

/// The most a comment may hold, in bytes: GitHub's 65,536-character limit for a comment.
pub const LIMIT: usize = 65_536;

/// `plan` as a pull-request comment of at most [`LIMIT`] bytes. `full_plan` is the command
/// that prints the whole plan (`stackwright plan STACK --env ENV`), named when something is
/// left out.
pub fn render(plan: &Plan, full_plan: &str) -> String {
    render_within(plan, full_plan, LIMIT)
}

/// [`render`] with another limit, in bytes.
pub fn render_within(plan: &Plan, full_plan: &str, limit: usize) -> String {
    let parts = Parts::of(plan);
    let all = parts.compose(&Cut::none(&parts), full_plan);
    if all.len() <= limit {
        return all;
    }
    let cut = parts.cut(limit, full_plan);
    let out = parts.compose(&cut, full_plan);
    if out.len() <= limit {
        return out;
    }
    // Only a head (title, summary, warnings) longer than the limit gets here.
    hard_cut(&out, limit)
}

/// The comment's pieces, each rendered once; [`Parts::compose`] joins a selection of them.
struct Parts {
    /// Marker, title, summary and warnings: always shown.
    head: String,
    /// One list item per data-loss or security-sensitive change.
    attention: Vec<String>,
    /// One row per change.
    rows: Vec<String>,
    /// One `<details>` block per change with something to show.
    details: Vec<String>,
}

/// How many of each kind of piece are shown (always a prefix of each).
struct Cut {
    attention: usize,
    rows: usize,
    details: usize,
}

impl Cut {
    fn none(parts: &Parts) -> Cut {
        Cut {
            attention: parts.attention.len(),
            rows: parts.rows.len(),
            details: parts.details.len(),
        }
    }
}

const ATTENTION_HEADING: &str = "\n#### Needs attention\n\n";
const TABLE_HEADING: &str = "\n#### Changes\n\n\
    | Action | Address | Forces replacement | Notes |\n\
    |---|---|---|---|\n";
const DETAILS_HEADING: &str = "\n#### Details\n";

impl Parts {
    fn of(plan: &Plan) -> Parts {
        let mut head = String::new();
        let _ = writeln!(
            head,
            "<!-- stackwright plan: stack={} env={} -->",
            comment_safe(&plan.stack),
            comment_safe(&plan.env)
        );
        let engine = match plan.engine {
            PlannedBy::Direct => "",
            PlannedBy::Cloudformation => ", through CloudFormation",
        };
        let _ = writeln!(
            head,
            "### stackwright plan: {} (env {}, region {}{engine})\n",
            code(&plan.stack),
            code(&plan.env),
            code(&plan.region)
        );
        // The text plan's closing lines: `Note: …` (when there is one), then `Plan: …` or
        // `No changes.`; here the summary comes first, in bold.
        let closing = summary(plan);
        let mut lines: Vec<&str> = closing.lines().collect();
        let last = lines.pop().unwrap_or_default();
        let _ = writeln!(head, "**{}**", inline(last));
        for note in lines {
            let _ = writeln!(head, "{}", inline(note));
        }
        for warning in &plan.warnings {
            let _ = writeln!(head, "\n> **Warning:** {}", inline(warning));
        }

        let mut attention = Vec::new();
        for loses_data in [true, false] {
            for change in &plan.changes {
                for mark in &change.marks {
                    let (label, reason) = match mark {
                        Mark::DataLoss(r) if loses_data => ("data loss", r),
                        Mark::SecuritySensitive(r) if !loses_data => ("security-sensitive", r),
                        _ => continue,
                    };
                    attention.push(format!(
                        "- **{label}**: {} {}: {}\n",
                        code(&change.address.to_string()),
                        verb(change.action),
                        inline(reason)
                    ));
                }
            }
        }

        let rows = plan.changes.iter().map(row).collect();
        let details = plan.changes.iter().filter_map(folded).collect();
        Parts {
            head,
            attention,
            rows,
            details,
        }
    }

    fn compose(&self, cut: &Cut, full_plan: &str) -> String {
        let mut out = self.head.clone();
        if !self.attention.is_empty() {
            out.push_str(ATTENTION_HEADING);
            for item in &self.attention[..cut.attention] {
                out.push_str(item);
            }
        }
        if !self.rows.is_empty() {
            out.push_str(TABLE_HEADING);
            for row in &self.rows[..cut.rows] {
                out.push_str(row);
            }
        }
        if cut.details > 0 {
            out.push_str(DETAILS_HEADING);
            for block in &self.details[..cut.details] {
                out.push_str(block);
            }
        }
        let left_out = Cut {
            attention: self.attention.len() - cut.attention,
            rows: self.rows.len() - cut.rows,
            details: self.details.len() - cut.details,
        };
        out.push_str(&notice(&left_out, self.details.len(), full_plan));
        out
    }

    /// The largest prefixes that fit in `limit` with the notice saying what was left out:
    /// attention items first, then table rows, then details.
    fn cut(&self, limit: usize, full_plan: &str) -> Cut {
        // The notice at its longest: everything left out (its numbers at their widest).
        let worst = Cut::none(self);
        let budget = limit.saturating_sub(notice(&worst, self.details.len(), full_plan).len());
        let mut size = self.head.len();
        let fits = |piece: &str, size: &mut usize| {
            let fit = *size + piece.len() <= budget;
            if fit {
                *size += piece.len();
            }
            fit
        };
        let mut cut = Cut {
            attention: 0,
            rows: 0,
            details: 0,
        };
        if !self.attention.is_empty() && fits(ATTENTION_HEADING, &mut size) {
            cut.attention = self
                .attention
                .iter()
                .take_while(|i| fits(i, &mut size))
                .count();
        }
        if !self.rows.is_empty() && fits(TABLE_HEADING, &mut size) {
            cut.rows = self.rows.iter().take_while(|r| fits(r, &mut size)).count();
        }
        if cut.rows == self.rows.len() && fits(DETAILS_HEADING, &mut size) {
            cut.details = self
                .details
                .iter()
                .take_while(|d| fits(d, &mut size))
                .count();
        }
        cut
    }
}

/// What was left out, and how to see all of it; empty when nothing was.
fn notice(left_out: &Cut, details: usize, full_plan: &str) -> String {
    let mut what = Vec::new();
    if left_out.details > 0 {
        what.push(format!(
            "the details of {} of {details} changes",
            left_out.details
        ));
    }
    if left_out.rows > 0 {
        what.push(format!("the last {} rows of the table", left_out.rows));
    }
    if left_out.attention > 0 {
        what.push(format!(
            "the last {} items needing attention",
            left_out.attention
        ));
    }
    if what.is_empty() {
        return String::new();
    }
    format!(
        "\n---\n\n**Shortened to fit a comment (65,536 characters at most):** left out {}. \
         The full plan: {}, or the plan saved with `--out`.\n",
        what.join("; "),
        code(&format!("{full_plan} --format text"))
    )
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "will be replaced",
        Action::Destroy => "will be destroyed",
        Action::Import => "will be imported",
        Action::Move => "will be moved",
    }
}

fn row(change: &Change) -> String {
    let action = match change.action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Destroy => "destroy",
        Action::Import => "import",
        Action::Move => "move",
    };
    let mut notes = Vec::new();
    if change.marks.iter().any(|m| matches!(m, Mark::DataLoss(_))) {
        notes.push("**data loss**".to_string());
    }
    if change
        .marks
        .iter()
        .any(|m| matches!(m, Mark::SecuritySensitive(_)))
    {
        notes.push("**security-sensitive**".to_string());
    }
    if change.drift {
        notes.push("drift".to_string());
    }
    if let Some(r) = &change.restored_from {
        notes.push(format!(
            "restored from {} (env {})",
            inline(&r.snapshot),
            inline(&r.env)
        ));
    }
    format!(
        "| {} {action} | {} | {} | {} |\n",
        inline(symbol(change.action)),
        code(&shown_address(change)),
        inline(&change.replace_because.join(", ")),
        notes.join(", ")
    )
}

/// A change's attribute diff folded in `<details>`; `None` when it has nothing to show.
fn folded(change: &Change) -> Option<String> {
    let body = details(change);
    if body.trim().is_empty() {
        return None;
    }
    let mut diff = String::new();
    for line in body.lines() {
        let line = line.strip_prefix("      ").unwrap_or(line);
        let text = line.trim_start();
        let indent = &line[..line.len() - text.len()];
        let mut chars = text.chars();
        let sign = chars.next().unwrap_or(' ');
        let is_header = ["---", "+++", "@@"].iter().any(|h| text.starts_with(h));
        // A sign in the text plan's line moves to the first column, where a `diff` block
        // colours it; other lines take the change's own sign.
        if matches!(sign, '+' | '-' | '!') && !is_header {
            let _ = writeln!(diff, "{sign}{indent}{}", chars.as_str());
        } else {
            let sign = match change.action {
                Action::Create => '+',
                Action::Destroy => '-',
                Action::Update | Action::Replace | Action::Import | Action::Move => ' ',
            };
            let _ = writeln!(diff, "{sign} {line}");
        }
    }
    let fence = "`".repeat(longest_run(&diff, '`').max(2) + 1);
    Some(format!(
        "\n<details><summary><code>{} {}</code> {}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n",
        html(symbol(change.action)),
        html(&shown_address(change)),
        html(&mask(&words(change)))
    ))
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Text for a Markdown paragraph or table cell, never at the start of a line: secrets
/// masked, one line, every character Markdown or a table would read as syntax escaped.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in mask(text).chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            // Emphasis, code, links, HTML, entities, tables, strikethrough, maths, and
            // GitHub's issue links and mentions (which would notify someone).
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '$' | '#' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A code span, or escaped text when the text would break one (a backtick, a pipe, a line
/// break).
fn code(text: &str) -> String {
    let text = mask(text);
    if text.is_empty() || text.contains(['`', '|', '\n', '\r']) || text.starts_with(' ') {
        inline(&text)
    } else {
        format!("`{text}`")
    }
}

/// Text inside an HTML element.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

/// Text inside an HTML comment: nothing that could close it.
fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The first `limit` bytes, less room for a closing line, cut at a line end.
fn hard_cut(text: &str, limit: usize) -> String {
    const TAIL: &str = "\n\n**Cut here to fit a comment.**\n";
    let mut end = limit.saturating_sub(TAIL.len()).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').unwrap_or(end);
    format!("{}{TAIL}", &text[..end])
}

#[cfg(test)]
mod tests;

/// The command that prints this plan in full, for a comment that had to leave some out:
/// `stackwright plan DIR [--env ENV] [--engine cloudformation]`, quoted for a shell.
pub fn full_plan_command(dir: &std::path::Path, env: Option<&str>, cloudformation: bool) -> String {
    let quoted = |s: &str| {
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    let mut command = format!("stackwright plan {}", quoted(&dir.display().to_string()));
    if let Some(env) = env {
        command.push_str(&format!(" --env {}", quoted(env)));
    }
    if cloudformation {
        command.push_str(" --engine cloudformation");
    }
    command
}
