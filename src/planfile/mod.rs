//! The saved-plan format (`plan --out FILE`, `apply FILE`) and its checks, and nothing else.
//!
//! A saved plan is JSON: the [`Plan`] as `plan` printed it, the checked [`Stack`] it was
//! made from (secrets only by the names of their environment variables), and, for the
//! CloudFormation engine, the change set it stands for. It is input from elsewhere: a file
//! a reviewer approved may have been edited since, or may not be a plan at all. So:
//!
//! 1. it is read only if it is a regular file of at most [`MAX_BYTES`] bytes, through a
//!    bounded reader (a FIFO or `/dev/zero` in its place is refused, not waited on);
//! 2. it must parse, and carry this stackwright's [`FORMAT_VERSION`];
//! 3. what it says is never trusted by the engine beyond that (see `engine`): the stack
//!    is read again from the directory the file names and must be the stack in the file;
//!    live state is read again and compared with the plan's fingerprints; the plan is made
//!    again from the stack and that live state and must be the plan in the file; the gates
//!    and marks are those of the plan made again. An edit to the file is refused or has no
//!    effect (docs/security.md, "Saved plans").

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::{FORMAT_VERSION, Plan};
use crate::stack::Stack;

/// The largest plan file read: a plan of a few thousand resources is a few megabytes.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A plan saved by `plan --out`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub plan: Plan,
    pub stack: Stack,
    /// With the CloudFormation engine: the change set the plan stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set: Option<SavedChangeSet>,
    /// Made with `plan --deep`: live state is read the same way to check it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deep: bool,
    /// Where the stack was read from: `apply FILE` reads it again from there and refuses
    /// unless it is the stack in the file. Plans saved without it are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// The stack directory and env a plan was made from, as the user gave them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// The change set a plan saved by `plan --out --engine cloudformation` stands for: `apply
/// FILE` executes exactly it, and refuses once the stack has changed since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedChangeSet {
    /// The change set's id (an ARN).
    pub id: String,
    /// The CloudFormation stack's id and name.
    pub stack_id: String,
    pub stack_name: String,
    /// The stack's newest event when the plan was made: any operation since adds one.
    pub last_event: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("failed to read `{}`: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("`{}` is not a regular file: a saved plan is one", path.display())]
    NotAFile { path: PathBuf },
    #[error("`{}` is over {MAX_BYTES} bytes: not a plan saved by `plan --out`", path.display())]
    TooLarge { path: PathBuf },
    #[error("`{}` is not a plan saved by `plan --out`: {detail}", path.display())]
    NotAPlan { path: PathBuf, detail: String },
    #[error(
        "`{}` has plan format {found}, this stackwright reads {FORMAT_VERSION}: plan again",
        path.display()
    )]
    Version { path: PathBuf, found: u32 },
    #[error("failed to write the plan to `{}`: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Whether `path` names a regular file (following links): how `apply` tells a saved plan
/// from a stack directory.
pub fn is_plan_file(path: &Path) -> bool {
    path.is_file()
}

/// Read and check a saved plan.
pub fn read(path: &Path) -> Result<SavedPlan, PlanFileError> {
    let read_error = |cause| PlanFileError::Read {
        path: path.to_path_buf(),
        cause,
    };
    // The type is checked before opening: opening a FIFO for reading blocks until a writer
    // comes. The handle's own metadata is checked again after (the path may have changed).
    let before = std::fs::metadata(path).map_err(read_error)?;
    if !before.is_file() {
        return Err(PlanFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(PlanFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > MAX_BYTES {
        return Err(PlanFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(PlanFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse(path, &bytes)
}

/// Check the bytes of a saved plan read from `path`.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<SavedPlan, PlanFileError> {
    let not_a_plan = |detail: String| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        detail,
    };
    // The version first, so an old plan is told to plan again rather than what no longer
    // parses in it.
    #[derive(Deserialize)]
    struct Versioned {
        plan: VersionOnly,
    }
    #[derive(Deserialize)]
    struct VersionOnly {
        format_version: u32,
    }
    let versioned: Versioned =
        serde_json::from_slice(bytes).map_err(|e| not_a_plan(e.to_string()))?;
    if versioned.plan.format_version != FORMAT_VERSION {
        return Err(PlanFileError::Version {
            path: path.to_path_buf(),
            found: versioned.plan.format_version,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| not_a_plan(e.to_string()))
}

/// Write a plan to `path` (pretty JSON, one trailing newline).
pub fn write(saved: &SavedPlan, path: &Path) -> Result<(), PlanFileError> {
    let json = serde_json::to_string_pretty(saved).map_err(|e| PlanFileError::Write {
        path: path.to_path_buf(),
        cause: std::io::Error::other(e),
    })?;
    std::fs::write(path, json + "\n").map_err(|cause| PlanFileError::Write {
        path: path.to_path_buf(),
        cause,
    })
}

/// The change set a file at `path` was saved with, if it holds a readable plan: saving over
/// it withdraws that change set (the file was its only handle).
pub fn previous_change_set(path: &Path) -> Option<SavedChangeSet> {
    read(path).ok().and_then(|saved| saved.change_set)
}

#[cfg(test)]
mod tests;
