//! The N-API binding: argument checks, value conversion and promise plumbing over the
//! plain-Rust core. Nothing here decides how data is stored.

// `cargo test` builds the binding without registering its exports.
#![cfg_attr(test, allow(dead_code))]

mod convert;
mod settle;
mod store;
