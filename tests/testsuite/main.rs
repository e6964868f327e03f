//! Integration tests: one binary, one module per area.
//!
//! - `fixtures`: every invalid stack in `fixtures/invalid` is refused with its exact
//!   file:line:col and message (snapshots); every valid one loads.
//! - `cloudformation`: the exported template, created by the emulator's CloudFormation.
//! - `cfn_s3`: a template over 51,200 bytes goes to CloudFormation through S3 (issue 18).
//! - `cli`: `validate` and `graph` as a user runs them.
//! - `files`: links out of the stack, FIFOs and oversized files are refused (issue 13).
//! - `adopt`: `[import]` of resources built by hand through the SDK (emulator).
//! - `generate`: a stack directory written from a cluster built by hand (emulator).
//! - `apply`: apply, destroy, output and unlock against the emulator, checked through the SDK.
//! - `robust`: apply under SIGKILL, faults on the wire and concurrent runs (emulator).
//! - `rolling`: rolling replacement of balancer members through the delaying proxy.
//! - `lint`: `lint` on the reference stack (findings pinned), its exit status and JSON.
//! - `schema`: the JSON Schemas accept every shipped stack and refuse bad ones.
//! - `formats`: `plan --format`, `graph --format` and `--plan`, `completions`.
//! - `occasional`: `expires`, `ls` from an empty directory (issue 19; emulator).
//! - `ci`: `scripts/ci-plan-comment` with fake `gh` and `curl`, planning against the emulator.

mod adopt;
mod apply;
mod census;
mod cfn_s3;
mod ci;
mod cli;
mod cloudformation;
mod defaults;
mod emulator;
mod files;
mod fixtures;
mod fleet;
mod formats;
mod generate;
mod lint;
mod occasional;
mod placement;
mod plan;
mod plan_json;
mod robust;
mod rolling;
mod schema;
mod sdk;
mod support;
