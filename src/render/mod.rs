//! Everything people see, and the only place that knows about colour and layout.
//!
//! Deciding is elsewhere; this module draws: diagnostics with source snippets
//! ([`diagnostics`]), the graph as DOT ([`dot`]). Colour is used only on a terminal and
//! never when `NO_COLOR` is set.

pub mod console;
pub mod diagnostics;
pub mod dot;
pub mod inventory;
pub mod lint;
pub mod markdown;
pub mod plan;
pub mod progress;
pub mod summary;
pub mod svg;

use std::io::IsTerminal;

/// Whether to draw in colour on stderr.
pub fn stderr_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Write data to stdout. A closed pipe (`stackwright graph … | head`) is not an error.
pub fn stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Write diagnostics and progress to stderr.
pub fn stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Whether to draw in colour on stdout.
pub fn stdout_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}
