//! stackwright: declarative infrastructure for AWS.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`stack`]: a stack directory (TOML + env file) is loaded and checked into a plain,
//!    serializable model; every mistake is reported with file, line and column.
//! 2. [`graph`]: the model becomes a dependency graph (petgraph), one node per address,
//!    edges from references; destroy order is its reverse.
//! 3. [`provider`]: reads and changes AWS, one module per service (later issues).
//! 4. [`plan`]: live state diffed against the model: a plain data structure (later issues).
//! 5. [`apply`]: the plan walked in graph order, in parallel (later issues).
//! 6. [`engine`]: one runner for `plan`, `apply`, `destroy` and `output` over two
//!    engines (direct calls, or CloudFormation change sets): load, lock, gates, confirm,
//!    carry out, report. [`planfile`] is the saved-plan format it reads and writes.
//! 7. [`render`]: everything people see: diagnostics, DOT, plans, progress, and the
//!    engine's console.
//! 8. [`cloudformation`]: the same stack as a CloudFormation template.
//! 9. [`lint`]: resilience and security findings about a checked stack (no AWS call).
//!
//! The CLI (`src/cli`, in the binary) parses arguments, makes one call into [`engine`] (or
//! [`stack`] and [`render`] for the commands that need no AWS), and hands the result to
//! [`render`]. See `docs/architecture.md` for what each module owns and may import.

pub mod address;
pub mod apply;
pub mod cloudformation;
pub mod engine;
pub mod generate;
pub mod graph;
pub mod lint;
pub mod plan;
pub mod planfile;
pub mod provider;
pub mod render;
pub mod stack;
