//! Plans: live state diffed against the model, as plain serde data (no I/O here).
//!
//! Not built yet: issue "Live state and plan" fills this module in.
