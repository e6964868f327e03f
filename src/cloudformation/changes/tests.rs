//! Tests of the change-set plan.
