//! Which engine a store's location names: a file path (SQLite), or a server URL.

use std::path::Path;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::Result;
use crate::postgres::{self, PostgresBackend};
use crate::redis::{self, RedisBackend};
use crate::server::{ServerOptions, DEFAULT_CLIENT_NAME};
use crate::sqlite::{self, Durability, SqliteBackend};

/// Every option of a store; each engine reads its own.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub session: String,
    /// SQLite only.
    pub durability: Durability,
    pub busy_timeout: Duration,
    /// PostgreSQL only.
    pub schema: Option<String>,
    /// Redis only.
    pub prefix: Option<String>,
    /// Server stores: the name their connections report.
    pub client_name: Option<String>,
    /// Redis only: replicas to wait for after each write, and for how long.
    pub wait: Option<(u32, Duration)>,
    /// Redis over TLS only: a PEM file of the roots to trust instead of the system's.
    pub tls_ca: Option<String>,
}

/// The engine a location names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Redis,
}

impl Engine {
    pub fn of(location: &str) -> Engine {
        let scheme = location
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Engine::Postgres,
            Some("redis" | "rediss") => Engine::Redis,
            _ => Engine::Sqlite,
        }
    }
}

/// Opens the store at `location`: a file path, or a `postgres://`, `postgresql://`,
/// `redis://` or `rediss://` URL.
pub fn open(location: &str, options: &StoreOptions) -> Result<Box<dyn Backend>> {
    let server = |namespace: &Option<String>, default: &str| ServerOptions {
        session: options.session.clone(),
        namespace: namespace.clone().unwrap_or_else(|| default.to_owned()),
        client_name: options
            .client_name
            .clone()
            .unwrap_or_else(|| DEFAULT_CLIENT_NAME.to_owned()),
        busy_timeout: options.busy_timeout,
        wait: options.wait,
        tls_ca: options.tls_ca.clone(),
    };
    Ok(match Engine::of(location) {
        Engine::Sqlite => Box::new(SqliteBackend::open(
            Path::new(location),
            &sqlite::Options {
                session: options.session.clone(),
                durability: options.durability,
                busy_timeout: options.busy_timeout,
            },
        )?),
        Engine::Postgres => Box::new(PostgresBackend::open(
            location,
            &server(&options.schema, postgres::DEFAULT_SCHEMA),
        )?),
        Engine::Redis => Box::new(RedisBackend::open(
            location,
            &server(&options.prefix, redis::DEFAULT_PREFIX),
        )?),
    })
}
