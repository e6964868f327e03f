//! The engine's [`Console`] on a terminal or in CI: the plan on stdout, news on stderr,
//! progress bars on a terminal and timestamped lines elsewhere, the question on stderr and
//! its answer from stdin.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use crate::apply::Reporter;
use crate::engine::Console;
use crate::plan::Plan;

/// The console of the `stackwright` command.
#[derive(Debug, Default)]
pub struct Terminal;

impl Console for Terminal {
    fn plan(&self, plan: &Plan) {
        super::stdout(&super::plan::render(plan, super::stdout_colour()));
    }

    fn warning(&self, message: &str) {
        super::stderr(&format!("warning: {message}\n"));
    }

    fn notice(&self, message: &str) {
        super::stderr(&format!("{message}\n"));
    }

    fn interactive(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    fn ask(&self, question: &str) -> std::io::Result<bool> {
        super::stderr(question);
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(answer.trim() == "yes")
    }

    fn reporter(&self) -> Arc<dyn Reporter> {
        super::progress::reporter()
    }
}
