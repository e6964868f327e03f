//! Diagnostics drawn the way cargo draws them: a headline, ` --> file:line:col`, the source
//! line with the mistake underlined, then a `hint:` when there is an obvious fix.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::stack::diag::{Diagnostic, Severity};
use crate::stack::{SourceMap, Span};

/// One diagnostic as text, ending in a newline.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, colour: bool) -> String {
    let renderer = if colour {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(diagnostic.message.as_str());
    let mut text = match &diagnostic.primary {
        None => renderer.render(&[Group::with_title(title)]),
        Some(primary) => {
            // One snippet per file, primary file first.
            let mut files = vec![primary.span.file];
            for l in &diagnostic.secondary {
                if !files.contains(&l.span.file) {
                    files.push(l.span.file);
                }
            }
            let mut group = Group::with_title(title);
            for file in files {
                let mut snippet = Snippet::source(sources.text(file))
                    .path(display_path(sources, file))
                    .fold(true);
                if primary.span.file == file {
                    let range = visible(&primary.span, sources);
                    snippet = snippet.annotation(
                        AnnotationKind::Primary
                            .span(range)
                            .label(primary.text.as_deref()),
                    );
                }
                for label in diagnostic.secondary.iter().filter(|l| l.span.file == file) {
                    let range = visible(&label.span, sources);
                    snippet = snippet.annotation(
                        AnnotationKind::Context
                            .span(range)
                            .label(label.text.as_deref()),
                    );
                }
                group = group.element(snippet);
            }
            renderer.render(&[group])
        }
    };
    text.push('\n');
    if let Some(hint) = &diagnostic.hint {
        text.push_str(&format!("\nhint: {hint}\n"));
    }
    text
}

/// Every diagnostic, each followed by a blank line.
pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap, colour: bool) -> String {
    diagnostics
        .iter()
        .map(|d| render(d, sources, colour) + "\n")
        .collect()
}

fn display_path(sources: &SourceMap, file: crate::stack::source::FileId) -> String {
    sources.path(file).display().to_string()
}

/// A span the snippet renderer can draw: inside the file, on char boundaries, and at least
/// one character wide where the file allows.
fn visible(span: &Span, sources: &SourceMap) -> std::ops::Range<usize> {
    let text = sources.text(span.file);
    let mut start = span.range.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.range.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    // A table's span runs over many lines; underline its first line only.
    if let Some(newline) = text[start..end].find('\n') {
        end = start + newline;
    }
    if end == start && end < text.len() {
        end = start + text[start..].chars().next().map_or(0, char::len_utf8);
    }
    start..end
}

/// Print what checking a stack found, warnings too, and on errors the summary line:
/// the checked stack, or `None` when it has errors.
pub fn checked(
    result: Result<crate::engine::Checked, Box<crate::engine::Rejected>>,
) -> Option<crate::engine::Checked> {
    let colour = super::stderr_colour();
    match result {
        Ok(checked) => {
            let loaded = &checked.loaded;
            super::stderr(&render_all(&loaded.warnings, &loaded.sources, colour));
            Some(checked)
        }
        Err(rejected) => {
            super::stderr(&render_all(&rejected.warnings, &rejected.sources, colour));
            super::stderr(&render_all(
                &rejected.diagnostics,
                &rejected.sources,
                colour,
            ));
            super::stderr(&format!("error: {}\n", rejected.summary));
            None
        }
    }
}
