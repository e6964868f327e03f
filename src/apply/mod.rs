//! Applying a plan: a tokio walk of the graph in dependency order, with bounded
//! parallelism, reporting through a `Reporter` trait that `render` implements.
//!
//! Not built yet: issue "Apply and destroy" fills this module in.
