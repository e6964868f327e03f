//! Diagnostics: what is wrong with a stack, where, and how to fix it.
//!
//! Loading collects every problem it finds instead of stopping at the first (terraform's
//! tfdiags): each [`Diagnostic`] has a severity, a lowercase message with values in
//! backticks, a primary span, optional secondary spans (the rest of a cycle, say) and a
//! `hint:`. Rendering them with source snippets is `render`'s job.

use serde::Serialize;

use super::source::{FileId, Location, SourceMap, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span with an optional label drawn under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            hint: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.primary = Some(Label { span, text: None });
        self
    }

    pub fn label(mut self, text: impl Into<String>) -> Self {
        if let Some(primary) = &mut self.primary {
            primary.text = Some(text.into());
        }
        self
    }

    pub fn also(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            text: Some(text.into()),
        });
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn maybe_hint(self, hint: Option<String>) -> Self {
        match hint {
            Some(h) => self.hint(h),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn location(&self, sources: &SourceMap) -> Option<Location> {
        self.primary
            .as_ref()
            .map(|l| sources.location(l.span.file, l.span.range.start))
    }
}

/// The diagnostics of one load, in the order found.
///
/// A span can be *poisoned* once an error has been reported inside it: later errors within
/// it are consequences of the first (an unknown var left a value of the wrong type behind)
/// and are dropped rather than shown twice.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    poisoned: Vec<Span>,
    /// In order of `range.start`, disjoint.
    aliases: Vec<Alias>,
}

/// Spans past the end of a file that stand for spans of another file: see
/// [`Diagnostics::alias`].
#[derive(Debug)]
struct Alias {
    range: Span,
    to: FileId,
    used: Label,
}

impl Diagnostics {
    /// Spans inside `range` (past the end of its file) stand for spans of `to`, shifted by
    /// `range.start`: a var's list value written in the env file, substituted where
    /// `stack.toml` uses it (`used`, with `note` drawn under it). Every diagnostic pushed is
    /// moved back to where its value was written, the use shown beside it. Ranges must be
    /// given in increasing order.
    pub fn alias(&mut self, range: Span, to: FileId, used: Span, note: impl Into<String>) {
        debug_assert!(
            self.aliases
                .last()
                .is_none_or(|a| a.range.range.end <= range.range.start)
        );
        self.aliases.push(Alias {
            range,
            to,
            used: Label {
                span: used,
                text: Some(note.into()),
            },
        });
    }

    /// `span` where it was written, and the use to show beside it, if it is an alias.
    fn unalias(&self, span: &Span) -> Option<(Span, &Label)> {
        let i = self
            .aliases
            .partition_point(|a| a.range.range.start <= span.range.start);
        let alias = &self.aliases[i.checked_sub(1)?];
        alias.range.contains(span).then(|| {
            let base = alias.range.range.start;
            (
                Span::new(alias.to, span.range.start - base..span.range.end - base),
                &alias.used,
            )
        })
    }

    pub fn push(&mut self, mut diagnostic: Diagnostic) {
        if let Some(primary) = &diagnostic.primary
            && self.poisoned.iter().any(|p| p.contains(&primary.span))
        {
            return;
        }
        if !self.aliases.is_empty() {
            let mut uses = Vec::new();
            if let Some(primary) = &mut diagnostic.primary
                && let Some((span, used)) = self.unalias(&primary.span)
            {
                primary.span = span;
                uses.push(used.clone());
            }
            for label in &mut diagnostic.secondary {
                if let Some((span, _)) = self.unalias(&label.span) {
                    label.span = span;
                }
            }
            diagnostic.secondary.extend(uses);
        }
        if !self.list.contains(&diagnostic) {
            self.list.push(diagnostic);
        }
    }

    /// Push an error and poison `span` so its consequences are not reported again.
    pub fn push_poisoning(&mut self, diagnostic: Diagnostic, span: Span) {
        self.push(diagnostic);
        self.poison(span);
    }

    /// Drop later errors within `span`: the problem behind them is reported elsewhere.
    pub fn poison(&mut self, span: Span) {
        self.poisoned.push(span);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.is_error()).count()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }
}

/// `hint: did you mean `x`?` when one candidate is close to `given`.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < given.len().max(1))
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            did_you_mean("amii", ["ami", "count"]).as_deref(),
            Some("did you mean `ami`?")
        );
        assert_eq!(did_you_mean("zzz", ["ami", "count"]), None);
    }

    #[test]
    fn poisoned_spans_swallow_consequences() {
        let mut d = Diagnostics::default();
        let outer = Span::new(FileId(0), 10..20);
        d.push_poisoning(Diagnostic::error("unknown var").at(outer.clone()), outer);
        d.push(Diagnostic::error("invalid type").at(Span::new(FileId(0), 12..14)));
        d.push(Diagnostic::error("elsewhere").at(Span::new(FileId(0), 30..31)));
        let messages: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["unknown var", "elsewhere"]);
    }
}
