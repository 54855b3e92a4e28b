//! What the server backends (PostgreSQL, Redis) share: one async runtime for the process,
//! connections shared per server across stores, their options, and the errors a network
//! brings.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::error::{Code, Error, Result};

/// How long connecting may take before a call fails with `Unavailable`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The name a connection reports to the server when none is given.
pub const DEFAULT_CLIENT_NAME: &str = "baileys-rust-auth";

/// Options of a store on a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub session: String,
    /// PostgreSQL: the schema holding the tables. Redis: the prefix of every key.
    pub namespace: String,
    /// PostgreSQL's `application_name`, Redis' `CLIENT SETNAME`: how an operator (or a test)
    /// finds this library's connections.
    pub client_name: String,
    /// PostgreSQL: how long a statement waits for a row lock before failing with `Busy`.
    pub busy_timeout: Duration,
    /// Redis: replicas that must acknowledge each write, and how long to wait for them.
    pub wait: Option<(u32, Duration)>,
    /// Redis over TLS: a PEM file of the roots to trust instead of the system's.
    pub tls_ca: Option<String>,
}

/// The process's runtime, made on first use. It drives the sockets and serves the server
/// stores' calls as tasks (src/worker.rs). One worker: each call is a short step between
/// two replies, and a second worker only adds wakeups (it is woken to steal work that the
/// first is about to run), which cost more than the call itself. Blocking calls go to its
/// blocking threads.
fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("baileys-rust-auth-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::new(Code::Internal, format!("cannot start the I/O runtime: {e}")))
}

/// Runs `f` to completion on the shared runtime from a plain (non-runtime) thread.
pub fn block_on<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    runtime()?.block_on(f)
}

/// `block_on` for a call with `n` results, which all fail alike if the runtime cannot start.
pub fn block_on_each<T>(n: usize, f: impl Future<Output = Vec<Result<T>>>) -> Vec<Result<T>> {
    match runtime() {
        Ok(rt) => rt.block_on(f),
        Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
    }
}

/// A server backend's blocking `get`, `load_creds` and `apply` (for callers on a plain
/// thread, such as the tests): its `*_async` calls, run to completion on the runtime.
macro_rules! remote_calls {
    () => {
        fn get(
            &mut self,
            kind: &str,
            ids: &[String],
        ) -> $crate::error::Result<Vec<$crate::backend::Entry>> {
            $crate::server::block_on(self.get_async(kind, ids))
        }

        fn load_creds(&mut self) -> $crate::error::Result<Option<Vec<u8>>> {
            $crate::server::block_on(self.load_creds_async())
        }

        fn apply(&mut self, batch: &[$crate::backend::Mutation]) -> Vec<$crate::error::Result<()>> {
            $crate::server::block_on_each(batch.len(), self.apply_async(batch))
        }

        fn is_remote(&self) -> bool {
            true
        }
    };
}
pub(crate) use remote_calls;

/// The shared runtime, to spawn tasks on.
pub fn handle() -> Result<tokio::runtime::Handle> {
    Ok(runtime()?.handle().clone())
}

/// Runs `f` on one of the runtime's blocking threads, lending it `value` there and back: a
/// call that blocks on the runtime must not run on its workers. `None` if the thread failed
/// to run it (`value` is then lost).
pub async fn blocking<V, R>(
    mut value: V,
    f: impl FnOnce(&mut V) -> R + Send + 'static,
) -> Option<(V, R)>
where
    V: Send + 'static,
    R: Send + 'static,
{
    let handle = runtime().ok()?.spawn_blocking(move || {
        let r = f(&mut value);
        (value, r)
    });
    handle.await.ok()
}

/// Connections (pools) shared by every store of the process that names the same server
/// with the same options: `key` says which.
pub fn shared<T: Clone>(
    registry: &'static OnceLock<Mutex<HashMap<String, T>>>,
    key: String,
    make: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let mut map = registry
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(found) = map.get(&key) {
        return Ok(found.clone());
    }
    let made = make()?;
    map.insert(key, made.clone());
    Ok(made)
}

/// The server is unreachable or the connection broke before the call was written.
pub fn unavailable(server: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        Code::Unavailable,
        format!("{server} cannot be reached or the connection broke ({detail}); nothing of the failed call was written"),
    )
}

/// The connection broke while the server was committing: the outcome is unknown.
pub fn outcome_unknown(server: &str, err: &Error) -> Error {
    if err.code != Code::Unavailable {
        return err.clone();
    }
    Error::new(
        Code::Unavailable,
        format!("the connection to {server} broke while it was committing; the call may or may not have been written ({})", err.message),
    )
}

/// `LeaseLost` naming the session: another process took it over.
pub fn lease_lost(session: &str) -> Error {
    Error::new(
        Code::LeaseLost,
        format!(
            "session '{session}' was taken over by another process; this store no longer writes"
        ),
    )
}
