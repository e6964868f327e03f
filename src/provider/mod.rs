//! Providers: the `Provider` trait (read / create / update / delete per kind) and, under
//! `aws/`, its implementation, the only place that imports `aws_sdk_*`.
//!
//! Not built yet: issue "Live state and plan" fills this module in.
