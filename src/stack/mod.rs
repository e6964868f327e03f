//! The stack language: from a stack directory on disk to a checked [`Stack`].
//!
//! 1. `load`: read `stack.toml` and `env/<env>.toml`, parse them keeping spans, settle the
//!    vars and deserialize each resource table into the [`raw`] types.
//! 2. `check`: turn those into the [`model`]: AWS's rules checked, `${…}` resolved into
//!    [`Template`](template::Template)s, counted instances expanded into replicas.
//!
//! Every mistake found on the way becomes a [`Diagnostic`] with file, line and column;
//! loading fails only after reporting all of them. Nothing here touches AWS.

pub mod check;
pub mod diag;
pub mod files;
pub mod load;
pub mod model;
pub mod names;
pub mod origin;
pub mod raw;
pub mod source;
pub mod template;

use std::path::Path;

pub use check::ReferenceSpans;
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::{Address, Kind, Resource, Spec, Stack};
pub use origin::{LINT_RULES, Origins, TableSpans};
pub use source::{Location, SourceMap, Span};

/// A stack that loaded: the model, the sources it came from, warnings, and where each
/// reference between resources was written (for graph errors).
#[derive(Debug)]
pub struct Loaded {
    pub stack: Stack,
    pub sources: SourceMap,
    pub warnings: Vec<Diagnostic>,
    pub reference_spans: ReferenceSpans,
    /// Where each resource table was written (for `lint`).
    pub origins: Origins,
}

/// A stack that did not load: every diagnostic, and the sources to show them against.
#[derive(Debug, thiserror::Error)]
#[error("stack has {} error(s)", self.error_count())]
pub struct LoadError {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Load and check the stack in `dir` for `env` (required when the stack has env files).
pub fn load(dir: &Path, env: Option<&str>) -> Result<Loaded, LoadError> {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let checked = load::load_raw(dir, env, &mut sources, &mut diags)
        .and_then(|raw| check::check(&raw, &mut sources, &mut diags));
    let mut all = diags.into_vec();
    // Reading order: by file, then position; problems without a place first.
    all.sort_by_key(|d| {
        d.primary
            .as_ref()
            .map(|l| (l.span.file, l.span.range.start))
    });
    match checked {
        Some((stack, reference_spans, origins)) if !all.iter().any(Diagnostic::is_error) => {
            Ok(Loaded {
                stack,
                sources,
                warnings: all,
                reference_spans,
                origins,
            })
        }
        _ => Err(LoadError {
            sources,
            diagnostics: all,
        }),
    }
}

/// Load a stack written inline: `stack.toml` and `env/test.toml` in a temporary directory.
#[cfg(test)]
pub(crate) fn load_text(stack_toml: &str, env_toml: &str) -> Result<Loaded, LoadError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("env")).expect("env directory");
    std::fs::write(dir.path().join("stack.toml"), stack_toml).expect("stack.toml");
    std::fs::write(dir.path().join("env/test.toml"), env_toml).expect("env file");
    load(dir.path(), Some("test"))
}

#[cfg(test)]
mod tests;
