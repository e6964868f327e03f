//! What the engine tells the person (or pipeline) running it, and asks them.
//!
//! The engine never prints: `render` implements [`Console`] for a terminal (stdout for the
//! plan, stderr for the rest, progress bars or timestamped lines), and tests implement it
//! to record what was shown and asked.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::EngineError;
use crate::apply::{Outcome, Reporter, Step};
use crate::plan::Plan;

/// Where the engine's news goes, and who answers its question.
pub trait Console: Send + Sync {
    /// The plan, before the gates and the question.
    fn plan(&self, plan: &Plan);
    /// Something the user should know that does not stop the run.
    fn warning(&self, message: &str);
    /// A line of news (a cancellation, an interruption).
    fn notice(&self, message: &str);
    /// Whether someone is there to read the plan and answer.
    fn interactive(&self) -> bool;
    /// Ask `question` and read the answer (blocking): whether it was `yes`.
    fn ask(&self, question: &str) -> std::io::Result<bool>;
    /// Where the steps of a run report their progress.
    fn reporter(&self) -> Arc<dyn Reporter>;
}

/// Ask on the console; a Ctrl-C while asking is a no.
pub(super) async fn confirm(
    console: &Arc<dyn Console>,
    question: &str,
    mut cancel: watch::Receiver<bool>,
) -> Result<bool, EngineError> {
    // The read blocks and cannot be cancelled: when a Ctrl-C answers first it is left
    // behind (the runtime is shut down without waiting for it).
    let asking = console.clone();
    let question = question.to_string();
    let read = tokio::task::spawn_blocking(move || asking.ask(&question));
    tokio::select! {
        answer = read => {
            answer
                .map_err(|e| EngineError::Message(format!("failed to read the answer: {e}")))?
                .map_err(|e| EngineError::Message(format!("failed to read the answer: {e}")))
        }
        _ = cancel.wait_for(|c| *c) => Ok(false),
    }
}

/// Secret values never reach the terminal, even inside an error AWS sent back: neither
/// the value, nor its base64 inside the base64 of user data that holds it (an error that
/// echoes a RunInstances request), nor that base64 form-encoded (`%2B`, `%2F`, `%3D`).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        for (at, m) in text.match_indices(s.as_str()) {
            ranges.push((at, at + m.len()));
        }
        for core in base64_cores(s.as_bytes()) {
            for form in [core.clone(), form_encoded(&core)] {
                for (at, m) in text.match_indices(form.as_str()) {
                    ranges.push(widen(text, at, at + m.len()));
                }
            }
        }
    }
    if ranges.is_empty() {
        return text.to_string();
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end) in ranges {
        if end <= done {
            continue;
        }
        if start >= done {
            out.push_str(&text[done..start]);
            out.push_str("(sensitive)");
        }
        done = end;
    }
    out.push_str(&text[done..]);
    out
}

/// The shortest base64 run masked: shorter ones (of secrets of a few bytes) would match
/// ordinary text by chance.
const MIN_CORE: usize = 4;

/// The base64 characters that depend only on `value`'s bytes, for each of the three
/// places (modulo 3) it can start at inside a longer encoded text (user data).
fn base64_cores(value: &[u8]) -> Vec<String> {
    let mut cores = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(value);
        let encoded = aws_smithy_types::base64::encode(&bytes);
        // Leading characters that hold bits of the bytes before it.
        let skip = [0, 2, 3][offset];
        // Trailing characters that hold bits of the bytes after it, and the padding.
        let cut = [0, 3, 2][bytes.len() % 3];
        if encoded.len() >= skip + cut + MIN_CORE {
            cores.push(encoded[skip..encoded.len() - cut].to_string());
        }
    }
    cores
}

/// Base64 as it travels in a form-encoded query request.
fn form_encoded(b64: &str) -> String {
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// A base64 match widened by the character on each side, which mixes bits of the secret
/// with bits of its neighbours (and the padding after it).
fn widen(text: &str, start: usize, end: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let escape = |at: usize| {
        text.get(at..at + 3)
            .is_some_and(|e| ["%2B", "%2F", "%2b", "%2f"].contains(&e))
    };
    let mut start = start;
    if start >= 3 && escape(start - 3) {
        start -= 3;
    } else if start >= 1 && b64(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = end;
    if escape(end) {
        end += 3;
    } else if end < bytes.len() && b64(bytes[end]) {
        end += 1;
    }
    for _ in 0..2 {
        if bytes.get(end) == Some(&b'=') {
            end += 1;
        } else if text
            .get(end..end + 3)
            .is_some_and(|e| e.eq_ignore_ascii_case("%3D"))
        {
            end += 3;
        }
    }
    (start, end)
}

/// A reporter that masks secret values in what it passes on.
pub struct Redacting {
    pub inner: Arc<dyn Reporter>,
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for Redacting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redacting").finish_non_exhaustive()
    }
}

impl Reporter for Redacting {
    fn started(&self, step: &Step) {
        self.inner.started(step);
    }

    fn progress(&self, step: &Step, message: &str) {
        self.inner.progress(step, &redact(message, &self.secrets));
    }

    fn finished(&self, step: &Step, outcome: &Outcome, elapsed: Duration) {
        let outcome = match outcome {
            Outcome::Failed(m) => Outcome::Failed(redact(m, &self.secrets)),
            other => other.clone(),
        };
        self.inner.finished(step, &outcome, elapsed);
    }
}

/// Mask secret values in a report's messages.
pub(super) fn redact_report(report: &mut crate::apply::Report, secrets: &[String]) {
    for (_, message) in report.failed.iter_mut().chain(report.skipped.iter_mut()) {
        *message = redact(message, secrets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "canary-token-91c2";

    #[test]
    fn a_secret_is_masked() {
        let secrets = vec![SECRET.to_string()];
        assert_eq!(
            redact(&format!("token={SECRET}, again {SECRET}"), &secrets),
            "token=(sensitive), again (sensitive)"
        );
        assert_eq!(redact("nothing here", &secrets), "nothing here");
    }

    #[test]
    fn the_base64_of_user_data_holding_a_secret_is_masked_wherever_the_secret_starts() {
        // Nothing in common with the text around it, so any 3 bytes of it left are its own.
        const SECRET: &str = "Zq9-xK7-Wm4-Pj2";
        let secrets = vec![SECRET.to_string()];
        for prefix in [
            "",
            "a",
            "ab",
            "#!/bin/sh
echo 'token=",
        ] {
            for suffix in ["", "'\n", "' > /etc/web.conf\n", "xy"] {
                let user_data = format!("{prefix}{SECRET}{suffix}");
                let b64 = aws_smithy_types::base64::encode(&user_data);
                for echoed in [b64.clone(), form_encoded(&b64)] {
                    let error = format!("Value ({echoed}) for parameter userData is invalid");
                    let shown = redact(&error, &secrets);
                    assert!(shown.contains("(sensitive)"), "{shown}");
                    // No run of the secret's own characters is left: decoding what is
                    // left around the mask never gives back 3 bytes of the secret.
                    for core in base64_cores(SECRET.as_bytes()) {
                        for piece in core.as_bytes().windows(4) {
                            let piece = std::str::from_utf8(piece).expect("ascii");
                            assert!(!shown.contains(piece), "{piece} in {shown}");
                        }
                    }
                    assert!(shown.starts_with("Value ("), "{shown}");
                    assert!(
                        shown.ends_with(") for parameter userData is invalid"),
                        "{shown}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_short_secret_does_not_mask_ordinary_text() {
        let secrets = vec!["ab".to_string()];
        assert_eq!(redact("YWJj is base64", &secrets), "YWJj is base64");
    }
}
