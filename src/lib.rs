//! Transactional auth-state storage for Baileys.
//!
//! The core (`codec`, `backend`, `sqlite`, `worker`, `error`) is plain Rust and is tested
//! by `cargo test` without Node; `binding` is the only module that speaks N-API.

pub mod backend;
#[cfg(test)]
mod backend_contract;
pub mod codec;
pub mod error;
pub mod open;
pub mod postgres;
pub mod redis;
pub mod server;
pub mod shapes;
pub mod sqlite;
pub mod tls;
pub mod wire;
pub mod worker;

mod binding;
