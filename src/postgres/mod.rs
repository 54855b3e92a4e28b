//! The PostgreSQL backend: the SQLite tables in a schema of their own, one transaction per
//! write batch, connections pooled per server across the stores of the process.
//!
//! Times (`created_ms`, lease renewals and lapses) are read from the server's clock, so that
//! processes on hosts whose clocks disagree still agree on when a lease lapsed.

mod schema;
mod ssl;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

pub use schema::VERSION as SCHEMA_VERSION;

use crate::backend::{
    Backend, Entry, Found, Holder, KeyWrite, Lease, Mutation, Pending, SessionInfo, Takeover,
    TypeCount,
};
use crate::error::{Code, Error, Result};
use crate::server::{
    self, block_on, lease_lost, outcome_unknown, unavailable, ServerOptions, CONNECT_TIMEOUT,
};
use ssl::Ssl;

const SERVER: &str = "PostgreSQL";

/// The schema used when none is configured.
pub const DEFAULT_SCHEMA: &str = "baileys_auth";

/// Connections per server and options. A store uses one at a time, so this bounds how many
/// stores of one process write at once, not how many can be open.
const POOL_SIZE: usize = 16;

/// Milliseconds since the epoch on the server's clock.
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

pub struct PostgresBackend {
    pool: Pool,
    session: String,
    /// Row id of the session, once it exists in a committed transaction.
    session_id: Option<i64>,
    /// The token of the lease this store holds on the session.
    lease: Option<String>,
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(db) = err.as_db_error() else {
            // No answer from the server: the socket failed, closed or timed out, or the TLS
            // handshake failed.
            return crate::tls::handshake_failed(SERVER, &err, "sslrootcert")
                .unwrap_or_else(|| unavailable(SERVER, &err));
        };
        let state = db.code().code();
        let code = match state {
            // Connection exceptions, and a backend terminated or the server shutting down.
            s if s.starts_with("08") || s.starts_with("57P") => Code::Unavailable,
            "53100" => Code::DiskFull,
            "55P03" | "40001" | "40P01" => Code::Busy,
            "54000" => Code::ValueTooLarge,
            "25006" => Code::ReadOnly,
            // Missing database or role, refused login or privilege.
            "3D000" | "28000" | "28P01" | "42501" => Code::CannotOpen,
            _ => Code::Io,
        };
        match code {
            Code::Unavailable => unavailable(SERVER, db.message()),
            Code::Busy => Error::new(
                code,
                format!(
                    "{SERVER}: a row stayed locked by another connection ({state}: {})",
                    db.message()
                ),
            ),
            _ => Error::new(code, format!("{SERVER}: {state}: {}", db.message())),
        }
    }
}

impl From<PoolError> for Error {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => Error::new(
                Code::Busy,
                format!(
                    "every one of the {POOL_SIZE} {SERVER} connections of this process stayed busy"
                ),
            ),
            PoolError::Timeout(_) => unavailable(SERVER, "timed out connecting"),
            PoolError::Closed => Error::closed(),
            other => Error::new(Code::Io, format!("{SERVER}: {other}")),
        }
    }
}

/// Schema names are plain identifiers: they go into SQL and connection options unquoted.
pub fn check_schema(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "schema '{name}' must be a lowercase identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters"
        )))
    }
}

/// The pool of the server and options, shared by every store that names them.
fn pool(url: &str, options: &ServerOptions) -> Result<Pool> {
    static POOLS: OnceLock<Mutex<HashMap<String, Pool>>> = OnceLock::new();
    let lock_ms = options.busy_timeout.as_millis().max(1);
    let key = format!(
        "{url}\n{}\n{}\n{lock_ms}",
        options.namespace, options.client_name
    );
    server::shared(&POOLS, key, || {
        let ssl = Ssl::split(url)?;
        let mut config: tokio_postgres::Config = ssl.url.parse().map_err(|e| {
            // The parser's Display leaves out which parameter it refused.
            let which = std::error::Error::source(&e).map(|s| format!(" ({s})"));
            Error::invalid(format!(
                "not a PostgreSQL URL: {e}{}",
                which.unwrap_or_default()
            ))
        })?;
        config
            .ssl_mode(ssl.ssl_mode())
            .application_name(&options.client_name)
            // Unqualified names resolve in the store's schema only; a lock waited for longer
            // than the busy timeout fails the call with Busy, as SQLite's does.
            .options(format!(
                "-c search_path={} -c lock_timeout={lock_ms}",
                options.namespace
            ))
            .connect_timeout(CONNECT_TIMEOUT);
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match ssl.connector()? {
            Some(tls) => Manager::from_config(config, tls, recycling),
            None => Manager::from_config(config, NoTls, recycling),
        };
        Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.busy_timeout))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| Error::new(Code::Internal, format!("{SERVER} pool: {e}")))
    })
}

/// Creates the schema or brings it up to date. Under an advisory lock: processes opening a
/// new schema at once migrate it one after the other.
async fn migrate(client: &mut deadpool_postgres::Client, schema_name: &str) -> Result<()> {
    if let Some(version) = version(client).await? {
        if version == schema::VERSION {
            return Ok(());
        }
    }
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('baileys-rust-auth/' || $1))",
        &[&schema_name],
    )
    .await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
            &[&schema_name],
        )
        .await?
        .is_some();
    if !exists {
        tx.batch_execute(&format!("CREATE SCHEMA \"{schema_name}\""))
            .await?;
    }
    let version = match version(&tx).await? {
        Some(v) => v,
        None => {
            let tables: i64 = tx
                .query_one(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
                    &[&schema_name],
                )
                .await?
                .get(0);
            if tables > 0 {
                return Err(Error::new(
                    Code::NotADatabase,
                    format!("schema '{schema_name}' holds tables of another program; it was left untouched"),
                ));
            }
            tx.batch_execute(
                "CREATE TABLE schema_version (version integer NOT NULL);
                 INSERT INTO schema_version VALUES (0);",
            )
            .await?;
            0
        }
    };
    if version > schema::VERSION {
        return Err(Error::new(
            Code::SchemaTooNew,
            format!(
                "schema '{schema_name}' is at version {version}, newer than this library's ({}); upgrade baileys-rust-auth. It was left untouched",
                schema::VERSION
            ),
        ));
    }
    for sql in &schema::MIGRATIONS[version as usize..] {
        tx.batch_execute(sql).await?;
    }
    tx.execute(
        "UPDATE schema_version SET version = $1",
        &[&schema::VERSION],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The schema's version, `None` if it has no `schema_version` table.
async fn version(client: &impl GenericClient) -> Result<Option<i32>> {
    let found = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?
        .get::<_, bool>(0);
    if !found {
        return Ok(None);
    }
    let row = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .await?;
    Ok(Some(row.get::<_, Option<i32>>(0).unwrap_or(0)))
}

/// The key writes of a mutation as the array parameters of one statement: deletes, then
/// puts. Only the last write of each key counts: one statement may touch a row only once.
struct KeyColumns<'a> {
    delete_types: Vec<&'a str>,
    delete_ids: Vec<&'a str>,
    put_types: Vec<&'a str>,
    put_ids: Vec<&'a str>,
    values: Vec<&'a [u8]>,
}

impl<'a> KeyColumns<'a> {
    fn of(writes: &'a [KeyWrite]) -> Self {
        let mut last: HashMap<(&str, &str), &KeyWrite> = HashMap::with_capacity(writes.len());
        for w in writes {
            last.insert((&w.kind, &w.id), w);
        }
        let mut cols = KeyColumns {
            delete_types: Vec::new(),
            delete_ids: Vec::new(),
            put_types: Vec::with_capacity(last.len()),
            put_ids: Vec::with_capacity(last.len()),
            values: Vec::with_capacity(last.len()),
        };
        for w in last.into_values() {
            match &w.value {
                Some(v) => {
                    cols.put_types.push(&w.kind);
                    cols.put_ids.push(&w.id);
                    cols.values.push(v);
                }
                None => {
                    cols.delete_types.push(&w.kind);
                    cols.delete_ids.push(&w.id);
                }
            }
        }
        cols
    }
}

/// Every key write of a mutation in one statement, so one round trip however many keys,
/// under the lease condition (`lease` `None`: none held, or checked already in the open
/// transaction) and while the session's row is there; whether the lease held, and whether
/// the row was there.
async fn write_keys(
    client: &impl GenericClient,
    session: Session<'_>,
    lease: Option<&str>,
    writes: &[KeyWrite],
) -> std::result::Result<(bool, bool), tokio_postgres::Error> {
    let cols = KeyColumns::of(writes);
    let params: [&(dyn ToSql + Sync); 8] = [
        &session.name,
        &lease,
        &session.id,
        &cols.put_types,
        &cols.put_ids,
        &cols.values,
        &cols.delete_types,
        &cols.delete_ids,
    ];
    // PUT_KEYS takes the first six.
    let (sql, params) = if cols.delete_ids.is_empty() {
        (PUT_KEYS, &params[..6])
    } else {
        (WRITE_KEYS, &params[..])
    };
    let stmt = client.prepare_cached(sql).await?;
    let row = client.query_one(&stmt, params).await?;
    Ok((row.get(0), row.get(1)))
}

/// The creds write in one statement, under the lease condition as `write_keys` takes it;
/// whether the lease held, and whether the session's row was there.
async fn write_creds(
    client: &impl GenericClient,
    session: Session<'_>,
    lease: Option<&str>,
    creds: Option<&[u8]>,
) -> std::result::Result<(bool, bool), tokio_postgres::Error> {
    let stmt = client.prepare_cached(WRITE_CREDS).await?;
    let row = client
        .query_one(&stmt, &[&session.name, &lease, &session.id, &creds])
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// What a write made in a transaction whose lease was checked comes to: it fails only when
/// the session's row is gone.
fn written_in_tx(session: Session<'_>, (_, here): (bool, bool)) -> Result<()> {
    match here {
        true => Ok(()),
        false => Err(Error::session_deleted(session.name)),
    }
}

async fn write_keys_in(
    tx: &Transaction<'_>,
    session: Session<'_>,
    writes: &[KeyWrite],
) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    written_in_tx(session, write_keys(tx, session, None, writes).await?)
}

async fn set_creds(tx: &Transaction<'_>, session: Session<'_>, creds: Option<&[u8]>) -> Result<()> {
    written_in_tx(session, write_creds(tx, session, None, creds).await?)
}

async fn clear(tx: &Transaction<'_>, session: Session<'_>) -> Result<()> {
    let stmt = tx
        .prepare_cached("DELETE FROM key WHERE session = $1")
        .await?;
    tx.execute(&stmt, &[&session.id]).await?;
    Ok(())
}

/// The session a write goes to: its row id, and its name for errors.
#[derive(Clone, Copy)]
struct Session<'a> {
    id: i64,
    name: &'a str,
}

async fn apply_one(tx: &Transaction<'_>, session: Session<'_>, mutation: &Mutation) -> Result<()> {
    match mutation {
        Mutation::Keys(writes) => write_keys_in(tx, session, writes).await,
        Mutation::Creds(bytes) => set_creds(tx, session, Some(bytes)).await,
        Mutation::Clear => clear(tx, session).await,
        Mutation::Replace { creds, keys } => {
            clear(tx, session).await?;
            set_creds(tx, session, creds.as_deref()).await?;
            write_keys_in(tx, session, keys).await
        }
    }
}

/// Fails with `LeaseLost` when another process took the lease this store held. The row
/// stays share-locked until the transaction ends, so a takeover waits for this write.
async fn check_lease(tx: &Transaction<'_>, session: &str, lease: Option<&str>) -> Result<()> {
    let Some(token) = lease else { return Ok(()) };
    let stmt = tx
        .prepare_cached("SELECT token FROM lease WHERE session = $1 FOR SHARE")
        .await?;
    let holder: Option<String> = tx.query_opt(&stmt, &[&session]).await?.map(|r| r.get(0));
    if holder.as_deref() == Some(token) {
        Ok(())
    } else {
        Err(lease_lost(session))
    }
}

/// The session's row id, creating the row inside the open transaction if needed.
async fn ensure_session(tx: &Transaction<'_>, name: &str) -> Result<i64> {
    let stmt = tx
        .prepare_cached(concat!(
            "INSERT INTO session (name, created_ms, updated_ms) VALUES ($1, ",
            now_ms!(),
            ", ",
            now_ms!(),
            ") ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id"
        ))
        .await?;
    Ok(tx.query_one(&stmt, &[&name]).await?.get(0))
}

/// Whether every write of the batch is one statement, so that pipelining them keeps their
/// order (a replace is three, sent one after the other).
fn pipelinable(batch: &[Mutation]) -> bool {
    batch.len() > 1
        && batch
            .iter()
            .all(|m| matches!(m, Mutation::Keys(_) | Mutation::Creds(_) | Mutation::Clear))
}

/// A lease holder from the six columns at `at` (pid, host, since, renewed, ttl, token).
fn holder_at(row: &Row, at: usize) -> Option<Holder> {
    let token: Option<String> = row.get(at + 5);
    Some(Holder {
        pid: row.get::<_, i64>(at).clamp(0, u32::MAX.into()) as u32,
        host: row.get(at + 1),
        since_ms: row.get(at + 2),
        renewed_ms: row.get(at + 3),
        ttl_ms: row.get::<_, i64>(at + 4).max(0) as u64,
        token: token?,
    })
}

/// The lease condition of the single-statement writes: no lease held (`$2` null), or the
/// lease row still holds this store's token, share-locked until the statement commits.
macro_rules! lease_ok {
    () => {
        "lease_ok AS (SELECT $2::text IS NULL OR EXISTS (
            SELECT FROM lease WHERE session = $1 AND token = $2 FOR SHARE) AS ok)"
    };
}

/// Whether the session's row (`$3`) is there, share-locked until the statement commits so
/// that deleting the session waits for the write (and its trigger then deletes what the
/// write made). Once per statement: a foreign key from each key to it checked and locked
/// the row once per key.
macro_rules! live {
    () => {
        "live AS (SELECT EXISTS (SELECT FROM session WHERE id = $3 FOR KEY SHARE) AS here)"
    };
}

/// The upsert of a write's puts: `$3` the session's row id, `$4`..`$6` the types, ids and
/// values.
macro_rules! put_keys {
    () => {
        "put AS (
            INSERT INTO key (session, type, id, value)
            SELECT $3, * FROM unnest($4::text[], $5::text[], $6::bytea[])
            WHERE (SELECT ok FROM lease_ok) AND (SELECT here FROM live)
            ON CONFLICT (session, type, id) DO UPDATE SET value = excluded.value
        )"
    };
}

/// `write_keys` of puts alone (nearly every write: deletes are used pre-keys). A statement
/// with the deletes is planned anew on every call (its plans for the given arrays look
/// cheaper to the server than a generic one), and planning costs more than the write;
/// this one keeps a generic plan after a few calls.
const PUT_KEYS: &str = concat!(
    "WITH ",
    lease_ok!(),
    ", ",
    live!(),
    ", ",
    put_keys!(),
    " SELECT ok, here FROM lease_ok, live"
);

/// `write_keys` with deletes: `$7`, `$8` the types and ids to delete.
const WRITE_KEYS: &str = concat!(
    "WITH ",
    lease_ok!(),
    ", ",
    live!(),
    ", gone AS (
        DELETE FROM key WHERE session = $3 AND (SELECT ok FROM lease_ok) AND (SELECT here FROM live)
        AND (type, id) IN (SELECT * FROM unnest($7::text[], $8::text[]))
     ), ",
    put_keys!(),
    " SELECT ok, here FROM lease_ok, live"
);

/// The creds write under the lease condition, in one statement; returns whether the lease
/// holds, and whether the session row is still there.
const WRITE_CREDS: &str = concat!(
    "WITH ",
    lease_ok!(),
    ", put AS (
        UPDATE session SET creds = $4, updated_ms = ",
    now_ms!(),
    " WHERE id = $3 AND (SELECT ok FROM lease_ok) RETURNING 1
     )
     SELECT ok, EXISTS (SELECT FROM put) FROM lease_ok"
);

const HOLDER: &str =
    "SELECT pid, host, since_ms, renewed_ms, ttl_ms, token FROM lease WHERE session = $1";

impl PostgresBackend {
    /// Connects to the server at `url` (a `postgres://` or `postgresql://` URL), creating or
    /// migrating the schema.
    pub fn open(url: &str, options: &ServerOptions) -> Result<Self> {
        check_schema(&options.namespace)?;
        if options.tls_ca.is_some() {
            return Err(Error::invalid(
                "tls.ca applies to rediss:// URLs: give PostgreSQL the root certificate with sslrootcert= in the URL",
            ));
        }
        let pool = pool(url, options)?;
        let session_id = block_on(async {
            let mut client = pool.get().await?;
            migrate(&mut client, &options.namespace).await?;
            let row = client
                .query_opt(
                    "SELECT id FROM session WHERE name = $1",
                    &[&options.session],
                )
                .await?;
            Ok(row.map(|r| r.get(0)))
        })?;
        Ok(PostgresBackend {
            pool,
            session: options.session.clone(),
            session_id,
            lease: None,
        })
    }

    /// The session of this store's writes, at row `id`.
    fn target(&self, id: i64) -> Session<'_> {
        Session {
            id,
            name: &self.session,
        }
    }

    /// One `keys.set` or creds write of a known session as one statement, so one round trip
    /// (its own implicit transaction) instead of BEGIN, lease check, write and COMMIT. The
    /// lease row is share-locked inside it, as `check_lease` does. `None`: not such a call.
    async fn apply_single(&self, batch: &[Mutation]) -> Option<Result<()>> {
        let (Some(session), [mutation]) = (self.session_id, batch) else {
            return None;
        };
        let (keys, creds) = match mutation {
            Mutation::Keys(writes) => (Some(writes), None),
            Mutation::Creds(bytes) => (None, Some(bytes.as_slice())),
            _ => return None,
        };
        let target = self.target(session);
        let lease = self.lease.as_deref();
        let run = async {
            let client = self.pool.get().await?;
            // Whether the lease holds, and whether the session row is still there.
            let written = match keys {
                Some(writes) => write_keys(&client, target, lease, writes).await,
                None => write_creds(&client, target, lease, creds).await,
            };
            match written.map_err(|e| outcome_unknown(SERVER, &e.into()))? {
                (false, _) => Err(lease_lost(&self.session)),
                (true, false) => Err(Error::session_deleted(&self.session)),
                (true, true) => Ok(()),
            }
        };
        Some(run.await)
    }

    async fn apply_batch(&mut self, batch: &[Mutation]) -> Result<Vec<Result<()>>> {
        if let Some(result) = self.apply_single(batch).await {
            return Ok(vec![result]);
        }
        let mut client = self.pool.get().await?;
        if let Some(session) = self.session_id.filter(|_| pipelinable(batch)) {
            if let Some(results) = self.apply_pipelined(&mut client, session, batch).await? {
                return Ok(results);
            }
        }
        let mut tx = client.transaction().await?;
        check_lease(&tx, &self.session, self.lease.as_deref()).await?;
        let session = match self.session_id {
            Some(id) => id,
            None => ensure_session(&tx, &self.session).await?,
        };
        let target = self.target(session);
        let results = if let [only] = batch {
            // One mutation needs no savepoint: failing it fails the transaction.
            apply_one(&tx, target, only).await?;
            vec![Ok(())]
        } else {
            let mut results = Vec::with_capacity(batch.len());
            for mutation in batch {
                let savepoint = tx.savepoint("m").await?;
                match apply_one(&savepoint, target, mutation).await {
                    Ok(()) => {
                        savepoint.commit().await?;
                        results.push(Ok(()));
                    }
                    // The connection is gone: nothing of the batch commits.
                    Err(e) if e.code == Code::Unavailable => return Err(e),
                    Err(e) => {
                        savepoint.rollback().await?;
                        results.push(Err(e));
                    }
                }
            }
            results
        };
        tx.commit()
            .await
            .map_err(|e| outcome_unknown(SERVER, &e.into()))?;
        self.session_id = Some(session);
        Ok(results)
    }

    /// A batch of several writes in one transaction, the lease check and every statement
    /// sent at once (tokio-postgres pipelines futures joined on one connection): a few round
    /// trips for the whole batch, where savepoints cost three per write. `None` when a write
    /// failed: nothing was committed, and the caller applies the batch one savepoint at a
    /// time to learn which.
    async fn apply_pipelined(
        &self,
        client: &mut deadpool_postgres::Client,
        session: i64,
        batch: &[Mutation],
    ) -> Result<Option<Vec<Result<()>>>> {
        let tx = client.transaction().await?;
        let lease = check_lease(&tx, &self.session, self.lease.as_deref());
        let target = self.target(session);
        let writes =
            futures_util::future::join_all(batch.iter().map(|m| apply_one(&tx, target, m)));
        let (lease, writes) = futures_util::future::join(lease, writes).await;
        lease?;
        if let Some(Err(e)) = writes.iter().find(|r| r.is_err()) {
            if e.code == Code::Unavailable {
                return Err(e.clone());
            }
            return Ok(None); // dropped: rolled back
        }
        tx.commit()
            .await
            .map_err(|e| outcome_unknown(SERVER, &e.into()))?;
        Ok(Some(writes))
    }

    /// Runs `f` in one transaction, committed if it returns `Ok`.
    async fn in_tx<R>(
        &self,
        f: impl for<'a> AsyncFnOnce(&'a Transaction<'a>) -> Result<R>,
    ) -> Result<R> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let r = f(&tx).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, params).await?)
    }

    async fn acquire_async(&self, lease: &Lease, takeover: &Takeover) -> Result<Option<Holder>> {
        let (always, from) = match takeover {
            Takeover::Never => (false, None),
            Takeover::Always => (true, None),
            Takeover::From(token) => (false, Some(token.as_str())),
        };
        let ttl = i64::try_from(lease.ttl_ms).unwrap_or(i64::MAX);
        // One statement decides on the row it locks: two processes acquiring at once cannot
        // both win. A lease lapses when renewed_ms + ttl_ms is past (server clock).
        let sql = concat!(
            "INSERT INTO lease (session, token, pid, host, since_ms, renewed_ms, ttl_ms)
             VALUES ($1, $2, $3, $4, ",
            now_ms!(),
            ", ",
            now_ms!(),
            ", $5)
             ON CONFLICT (session) DO UPDATE SET token = excluded.token, pid = excluded.pid,
                host = excluded.host, since_ms = excluded.since_ms,
                renewed_ms = excluded.renewed_ms, ttl_ms = excluded.ttl_ms
             WHERE lease.token = excluded.token
                OR lease.renewed_ms + lease.ttl_ms < excluded.renewed_ms
                OR $6 OR lease.token = $7"
        );
        // A holder that left between the refusal and the look at it: try again.
        for _ in 0..3 {
            let pid = i64::from(lease.pid);
            let taken = self
                .execute(
                    sql,
                    &[
                        &self.session,
                        &lease.token,
                        &pid,
                        &lease.host,
                        &ttl,
                        &always,
                        &from,
                    ],
                )
                .await?;
            if taken == 1 {
                return Ok(None);
            }
            if let Some(row) = self.query(HOLDER, &[&self.session]).await?.first() {
                return Ok(holder_at(row, 0));
            }
        }
        Err(Error::new(
            Code::Busy,
            format!(
                "the lease of session '{}' kept changing hands",
                self.session
            ),
        ))
    }
}

impl Backend for PostgresBackend {
    server::remote_calls!();

    fn get_async<'a>(&'a mut self, kind: &'a str, ids: &'a [String]) -> Pending<'a, Found> {
        Box::pin(async move {
            // By the session's row id once known: the join by name costs the server about
            // as much again as the lookup itself.
            let rows = match (self.session_id, ids) {
                // One id by equality: `id = ANY(...)` is only an index condition once the
                // table has statistics; before (a new or freshly filled store) each read
                // scanned every key of its type.
                (Some(session), [id]) => {
                    self.query(
                        "SELECT id, value FROM key WHERE session = $1 AND type = $2 AND id = $3",
                        &[&session, &kind, id],
                    )
                    .await?
                }
                (Some(session), _) => {
                    self.query(
                        "SELECT id, value FROM key WHERE session = $1 AND type = $2 AND id = ANY($3)",
                        &[&session, &kind, &ids],
                    )
                    .await?
                }
                (None, _) => {
                    self.query(
                        "SELECT k.id, k.value FROM key k JOIN session s ON s.id = k.session
                         WHERE s.name = $1 AND k.type = $2 AND k.id = ANY($3)",
                        &[&self.session, &kind, &ids],
                    )
                    .await?
                }
            };
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn load_creds_async(&mut self) -> Pending<'_, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT creds FROM session WHERE name = $1",
                    &[&self.session],
                )
                .await?;
            Ok(rows.first().and_then(|r| r.get(0)))
        })
    }

    fn apply_async<'a>(&'a mut self, batch: &'a [Mutation]) -> Pending<'a, Vec<Result<()>>> {
        Box::pin(async move {
            match self.apply_batch(batch).await {
                Ok(results) => results,
                Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
            }
        })
    }

    fn list(
        &mut self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
        with_values: bool,
    ) -> Result<Vec<Entry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = block_on(self.query(
            "SELECT k.id, CASE WHEN $5 THEN k.value ELSE ''::bytea END
             FROM key k JOIN session s ON s.id = k.session
             WHERE s.name = $1 AND k.type = $2 AND ($3::text IS NULL OR k.id > $3)
             ORDER BY k.id LIMIT $4",
            &[&self.session, &kind, &after, &limit, &with_values],
        ))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn sessions(&mut self) -> Result<Vec<SessionInfo>> {
        let rows = block_on(self.query(
            "SELECT s.name, s.created_ms, s.updated_ms, s.creds IS NOT NULL,
                    coalesce(k.n, 0), coalesce(k.bytes, 0),
                    l.pid, l.host, l.since_ms, l.renewed_ms, l.ttl_ms, l.token
             FROM session s
             LEFT JOIN (SELECT session, count(*) AS n, sum(length(value))::bigint AS bytes
                        FROM key GROUP BY session) k ON k.session = s.id
             LEFT JOIN lease l ON l.session = s.name
             ORDER BY s.name",
            &[],
        ))?;
        Ok(rows
            .iter()
            .map(|r| SessionInfo {
                session_id: r.get(0),
                created_ms: r.get(1),
                updated_ms: r.get(2),
                has_creds: r.get(3),
                keys: r.get(4),
                bytes: r.get(5),
                holder: r.get::<_, Option<i64>>(6).and_then(|_| holder_at(r, 6)),
            })
            .collect())
    }

    fn counts(&mut self) -> Result<Vec<TypeCount>> {
        let rows = block_on(self.query(
            "SELECT k.type, count(*), sum(length(k.value))::bigint
             FROM key k JOIN session s ON s.id = k.session
             WHERE s.name = $1 GROUP BY k.type ORDER BY k.type",
            &[&self.session],
        ))?;
        Ok(rows
            .iter()
            .map(|r| TypeCount {
                kind: r.get(0),
                count: r.get(1),
                bytes: r.get(2),
            })
            .collect())
    }

    fn delete_session(&mut self) -> Result<bool> {
        let (name, lease) = (self.session.clone(), self.lease.clone());
        let deleted = block_on(self.in_tx(async |tx| {
            check_lease(tx, &name, lease.as_deref()).await?;
            tx.execute("DELETE FROM lease WHERE session = $1", &[&name])
                .await?;
            // Its keys go with it (a trigger), after the writes that locked the row (see
            // `live!`) committed: they are seen and deleted too.
            Ok(tx
                .execute("DELETE FROM session WHERE name = $1", &[&name])
                .await?
                > 0)
        }))?;
        self.session_id = None;
        self.lease = None;
        Ok(deleted)
    }

    fn integrity(&mut self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let rows = block_on(self.query(
            "SELECT (SELECT max(version) FROM schema_version),
                    (SELECT count(*) FROM key k
                     WHERE NOT EXISTS (SELECT 1 FROM session s WHERE s.id = k.session))",
            &[],
        ))?;
        let version: Option<i32> = rows[0].get(0);
        let orphans: i64 = rows[0].get(1);
        if version != Some(schema::VERSION) {
            problems.push(format!(
                "schema_version is {version:?}, expected {}",
                schema::VERSION
            ));
        }
        if orphans > 0 {
            problems.push(format!("{orphans} keys belong to no session"));
        }
        Ok(problems)
    }

    fn acquire(&mut self, lease: &Lease, takeover: &Takeover) -> Result<Option<Holder>> {
        let refused = block_on(self.acquire_async(lease, takeover))?;
        if refused.is_none() {
            self.lease = Some(lease.token.clone());
        }
        Ok(refused)
    }

    fn renew(&mut self) -> Result<()> {
        let Some(token) = &self.lease else {
            return Ok(());
        };
        let renewed = block_on(self.execute(
            concat!(
                "UPDATE lease SET renewed_ms = ",
                now_ms!(),
                " WHERE session = $1 AND token = $2"
            ),
            &[&self.session, token],
        ))?;
        if renewed == 0 {
            return Err(lease_lost(&self.session));
        }
        Ok(())
    }

    fn release(&mut self) -> Result<()> {
        let Some(token) = self.lease.take() else {
            return Ok(());
        };
        block_on(self.execute(
            "DELETE FROM lease WHERE session = $1 AND token = $2",
            &[&self.session, &token],
        ))?;
        Ok(())
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        // Closing gives the lease back; a crash leaves it to lapse (or to be found dead).
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests;
