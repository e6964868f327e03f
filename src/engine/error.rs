//! Why an operation stopped. Each message says what was (not) done and, where there is an
//! obvious way on, ends with a `hint:` paragraph.

use crate::planfile::PlanFileError;
use crate::provider::ProviderError;
use crate::provider::aws::lock::Holder;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The gates said no.
    #[error("refusing to {verb}; nothing was changed:\n{}", list(reasons))]
    Refused {
        verb: &'static str,
        reasons: Vec<String>,
    },
    /// Nobody is there to answer, and `--yes` was not given.
    #[error(
        "refusing to {verb} without a terminal to confirm on; nothing was changed\n\n\
         hint: pass --yes to {verb} without confirmation (as in CI)"
    )]
    NoTerminal { verb: &'static str },
    /// Another run holds the stack's lock.
    #[error(
        "stack `{stack}` env `{env}` is locked by {holder}: another apply or destroy is running\n\n\
         hint: wait for it with --lock-timeout 10m; if that run is gone for good, \
         `stackwright unlock {dir} --env {env}`"
    )]
    Locked {
        stack: String,
        env: String,
        holder: Box<Holder>,
        dir: String,
    },
    /// A secret the plan sends to AWS is not set.
    #[error(
        "secret `{name}` is needed by this plan: set the environment variable `{var}`; \
         nothing was changed"
    )]
    SecretNotSet { name: String, var: String },
    /// Names the plan would create are held in AWS by something else.
    #[error(
        "the plan would create resources whose names are taken; nothing was sent to AWS:\n{}\n\n\
         hint: give each resource another name with `name = \"…\"` in its table",
        list(reasons)
    )]
    NamesTaken { reasons: Vec<String> },
    /// `[import]` entries that cannot be adopted.
    #[error(
        "cannot import what the env file's `[import]` names; nothing was sent to AWS:\n{}",
        list(reasons)
    )]
    ImportRefused { reasons: Vec<String> },
    /// A saved plan no longer matches what is there.
    #[error(
        "the live state of {} has moved since this plan was made; nothing was changed\n\n\
         hint: plan again",
        addresses.join(", ")
    )]
    Moved { addresses: Vec<String> },
    // Not `#[from]`: that would make the inner error a `source`, and `{:#}` would say it
    // twice.
    #[error("{}", with_hint(.0))]
    Provider(ProviderError),
    #[error("{0}")]
    PlanFile(PlanFileError),
    /// Anything else, said in full.
    #[error("{0}")]
    Message(String),
}

impl From<ProviderError> for EngineError {
    fn from(e: ProviderError) -> Self {
        EngineError::Provider(e)
    }
}

impl From<PlanFileError> for EngineError {
    fn from(e: PlanFileError) -> Self {
        EngineError::PlanFile(e)
    }
}

fn list(reasons: &[String]) -> String {
    let lines: Vec<String> = reasons.iter().map(|r| format!("  - {r}")).collect();
    lines.join("\n")
}

/// A provider error as users read it: the message, then a hint.
fn with_hint(e: &ProviderError) -> String {
    match e.hint() {
        Some(hint) => format!("{e}\n\nhint: {hint}"),
        None => e.to_string(),
    }
}

/// `return Err(EngineError::Message(format!(...)))`.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::engine::EngineError::Message(format!($($arg)*)))
    };
}
pub(crate) use fail;
