//! The runner against the in-memory provider.
