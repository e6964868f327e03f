//! Saved plans: the round trip and every refusal.
