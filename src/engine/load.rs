//! Step 1 of every operation: the stack directory loaded, checked and graphed.

use std::path::Path;

use super::EngineError;
use crate::graph::{Graph, cycle_diagnostic};
use crate::planfile::SavedPlan;
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

/// The stack of a saved plan, read again from the directory it was made from: the file is
/// input from elsewhere, the stack directory and the environment are what stackwright
/// trusts. Refused unless the stack read is the stack in the file (its resources, secrets'
/// variable names, endpoint and region included).
pub fn reload(saved: &SavedPlan) -> Result<Checked, EngineError> {
    let again = "\n\nhint: plan again (`stackwright plan STACK --env ENV --out FILE`) and apply \
                 the plan from where it was made";
    let Some(source) = &saved.source else {
        return Err(EngineError::Message(format!(
            "the saved plan does not say where its stack is (saved by an older stackwright?); \
             nothing was changed{again}"
        )));
    };
    let checked = check(&source.dir, source.env.as_deref()).map_err(|rejected| {
        EngineError::Message(format!(
            "the saved plan's stack cannot be read again: {}{again}",
            rejected.summary
        ))
    })?;
    if checked.loaded.stack != saved.stack {
        return Err(EngineError::Message(format!(
            "the stack in the saved plan is not the stack in `{}` (the file or the directory \
             changed since the plan was made); nothing was changed{again}",
            source.dir.display()
        )));
    }
    Ok(checked)
}
