//! Step 1 of every operation: the stack directory loaded, checked and graphed.

use std::path::Path;

use crate::graph::{Graph, cycle_diagnostic};
use crate::stack::diag::Diagnostic;
use crate::stack::{self, Loaded, SourceMap};

/// A stack that passed every check, and its graph. Warnings are in `loaded.warnings`.
#[derive(Debug)]
pub struct Checked {
    pub loaded: Loaded,
    pub graph: Graph,
}

/// A stack that did not: every diagnostic, the sources to show them against, and the
/// closing line.
#[derive(Debug)]
pub struct Rejected {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
    /// `error: stack `DIR` (env `ENV`) has N errors; nothing was sent to AWS`, without
    /// the `error: `.
    pub summary: String,
    /// Warnings found before the errors that stopped it (shown with them).
    pub warnings: Vec<Diagnostic>,
}

/// Load `dir` in `env`, check it and build its graph.
pub fn check(dir: &Path, env: Option<&str>) -> Result<Checked, Box<Rejected>> {
    let loaded = match stack::load(dir, env) {
        Ok(loaded) => loaded,
        Err(e) => {
            let count = e.error_count();
            return Err(Box::new(Rejected {
                diagnostics: e.diagnostics,
                sources: e.sources,
                summary: summary(dir, env, count),
                warnings: Vec::new(),
            }));
        }
    };
    match Graph::build(&loaded.stack) {
        Ok(graph) => Ok(Checked { loaded, graph }),
        Err(cycles) => {
            let diagnostics: Vec<_> = cycles
                .iter()
                .map(|c| cycle_diagnostic(c, &loaded.reference_spans))
                .collect();
            let count = diagnostics.len();
            Err(Box::new(Rejected {
                diagnostics,
                summary: summary(dir, env, count),
                warnings: loaded.warnings,
                sources: loaded.sources,
            }))
        }
    }
}

fn summary(dir: &Path, env: Option<&str>, errors: usize) -> String {
    let env = env.map(|e| format!(" (env `{e}`)")).unwrap_or_default();
    let plural = if errors == 1 { "" } else { "s" };
    format!(
        "stack `{}`{env} has {errors} error{plural}; nothing was sent to AWS",
        dir.display()
    )
}
