//! The SQLite backend: one file, WAL, every call one transaction.

mod checkpoint;
mod row;
mod schema;
mod snapshot;

use std::fs::{DirBuilder, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, MAIN_DB};

pub use schema::VERSION as SCHEMA_VERSION;

use crate::backend::{
    Backend, Entry, Holder, KeyWrite, Lease, Mutation, SessionInfo, Takeover, TryApply, TypeCount,
    Upkeep,
};
use crate::error::{Code, Error, Result};
use crate::wire;
use checkpoint::Checkpoint;
use row::{Row, SessionRow};

/// What a resolved write survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives the process being killed; an OS crash or power loss
    /// may drop the last commits (never corrupts the file).
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced before its promise resolves, so it also
    /// survives an OS crash or power loss.
    Full,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub session: String,
    pub durability: Durability,
    /// How long a write waits for another connection's lock before failing with `Busy`.
    pub busy_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            session: "default".into(),
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

pub struct SqliteBackend {
    // Dropped before `conn`, so that the store's own connection closes last, and with it
    // the log (a checkpoint and the WAL's removal, as SQLite does at its last close).
    checkpoint: Checkpoint,
    conn: Connection,
    busy_timeout: Duration,
    durability: Durability,
    session: String,
    /// The session's row in the `session` table.
    row: SessionRow,
    /// The token of the lease this connection holds on the session.
    lease: Option<String>,
    /// The session's row while the parts of a set are written in an open transaction.
    parts: Option<Row>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Adds the path to an error met while opening, keeping its code.
fn at(path: &Path, err: impl Into<Error>) -> Error {
    let err = err.into();
    let hint = match err.code {
        Code::CannotOpen | Code::ReadOnly => {
            " (the file and its directory must be writable: SQLite keeps -wal and -shm files beside it)"
        }
        _ => "",
    };
    Error::new(
        err.code,
        format!("{}: {}{hint}", path.display(), err.message),
    )
}

/// Refuses what is not a database before SQLite touches it, and creates a missing file
/// with owner-only permissions: it holds private keys.
fn prepare_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(Error::new(Code::CannotOpen, "is a directory")),
        Ok(meta) if meta.len() > 0 => {
            let mut header = [0u8; 16];
            let n = std::fs::File::open(path)?.read(&mut header)?;
            if n < 16 || &header != SQLITE_MAGIC {
                return Err(Error::new(
                    Code::NotADatabase,
                    "is not an SQLite database; it was left untouched",
                ));
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)?;
            }
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e.into()),
                _ => Ok(()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

impl SqliteBackend {
    pub fn open(path: &Path, options: &Options) -> Result<Self> {
        prepare_file(path).map_err(|e| at(path, e))?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| at(path, e))?;
        // Every statement of the store stays prepared (rusqlite keeps 16 by default).
        conn.set_prepared_statement_cache_capacity(64);
        let checkpoint = Checkpoint::attach(&mut conn, path).map_err(|e| at(path, e))?;
        let mut backend = SqliteBackend {
            conn,
            checkpoint,
            busy_timeout: options.busy_timeout,
            durability: options.durability,
            session: options.session.clone(),
            row: SessionRow::default(),
            lease: None,
            parts: None,
        };
        // Two processes creating the same file race for the switch to WAL, which SQLite
        // reports as busy at once rather than waiting: every step is safe to run again.
        let deadline = Instant::now() + options.busy_timeout;
        loop {
            match backend.configure(options) {
                Err(e) if e.code == Code::Busy && Instant::now() < deadline => {
                    backend.rollback();
                    std::thread::sleep(Duration::from_millis(5));
                }
                r => break r.map_err(|e| at(path, e))?,
            }
        }
        Ok(backend)
    }

    fn configure(&mut self, options: &Options) -> Result<()> {
        let conn = &self.conn;
        conn.busy_timeout(options.busy_timeout)?;
        if conn.is_readonly(MAIN_DB)? {
            return Err(Error::new(Code::ReadOnly, "the file is read-only"));
        }
        // Read the version before anything writes: a newer file must stay untouched. Both
        // reads in one transaction, or another process creating the file in between would
        // make it look like a database of another program.
        conn.execute_batch("BEGIN")?;
        let read = conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .and_then(|version| {
                let tables = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                    r.get::<_, i64>(0)
                })?;
                Ok((version, tables))
            });
        conn.execute_batch("COMMIT")?;
        let (version, tables) = read?;
        if version == 0 && tables > 0 {
            return Err(Error::new(
                Code::NotADatabase,
                "is an SQLite database of another program; it was left untouched",
            ));
        }
        if version > schema::VERSION {
            return Err(Error::new(
                Code::SchemaTooNew,
                format!(
                    "schema version {version} is newer than this library's ({}); upgrade baileys-rust-auth. The file was left untouched",
                    schema::VERSION
                ),
            ));
        }
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::new(
                Code::CannotOpen,
                format!("could not switch to WAL (journal_mode stayed {mode})"),
            ));
        }
        let sync = match options.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        // Only an older file needs the write lock a migration takes. Foreign keys are off
        // meanwhile (the bundled SQLite starts with them on): a migration may rebuild a
        // table the keys refer to, and dropping the old one must leave the keys be.
        if version < schema::VERSION {
            self.conn.pragma_update(None, "foreign_keys", "OFF")?;
            self.migrate()?;
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.row.check(&self.conn, &self.session)?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated between our first read and the lock.
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version >= schema::VERSION {
            return Ok(());
        }
        for sql in &schema::MIGRATIONS[version as usize..] {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", schema::VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// Runs a statement without parameters, kept prepared: transaction control runs a few
    /// times per write, and parsing it each time costs more than the statement itself.
    fn exec(&self, sql: &'static str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([]).map(drop)
    }

    fn write_keys(&self, session: i64, writes: &[KeyWrite]) -> Result<()> {
        let mut put = self.conn.prepare_cached(
            "INSERT INTO key (session, type, id, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (session, type, id) DO UPDATE SET value = excluded.value",
        )?;
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM key WHERE session = ?1 AND type = ?2 AND id = ?3")?;
        for w in writes {
            match &w.value {
                Some(v) => put.execute(params![session, w.kind, w.id, v])?,
                None => delete.execute(params![session, w.kind, w.id])?,
            };
        }
        Ok(())
    }

    /// Writes the creds of the session (whose row `SessionRow::for_write` checked in this
    /// transaction).
    fn write_creds(&self, session: i64, creds: &dyn rusqlite::ToSql) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE session SET creds = ?2, updated_ms = ?3 WHERE id = ?1")?
            .execute(params![session, creds, now_ms()])?;
        Ok(())
    }

    fn apply_one(&self, session: i64, mutation: &Mutation) -> Result<()> {
        match mutation {
            Mutation::Keys(writes) => self.write_keys(session, writes),
            Mutation::Creds(bytes) => self.write_creds(session, bytes),
            Mutation::Clear => {
                self.conn
                    .prepare_cached("DELETE FROM key WHERE session = ?1")?
                    .execute([session])?;
                Ok(())
            }
            Mutation::Replace { creds, keys } => {
                self.apply_one(session, &Mutation::Clear)?;
                self.write_creds(session, creds)?;
                self.write_keys(session, keys)
            }
        }
    }

    /// Fails with `LeaseLost` inside a write transaction when another process has taken the
    /// lease this connection held: its ratchets would overwrite the new holder's.
    fn check_lease(&self) -> Result<()> {
        let Some(token) = &self.lease else {
            return Ok(());
        };
        let holder: Option<String> = self
            .conn
            .prepare_cached("SELECT token FROM lease WHERE session = ?1")?
            .query_row([&self.session], |r| r.get(0))
            .optional()?;
        if holder.as_ref() == Some(token) {
            return Ok(());
        }
        Err(Error::new(
            Code::LeaseLost,
            format!(
                "session '{}' was taken over by another process; this store no longer writes",
                self.session
            ),
        ))
    }

    /// Starts an immediate transaction (a transaction left open by an earlier failure must
    /// not swallow it).
    fn begin(&self) -> Result<()> {
        self.rollback();
        Ok(self.exec("BEGIN IMMEDIATE")?)
    }

    /// In a write transaction: checks the lease, and the session's row (made if need be).
    /// When nothing was committed to the file since this store's last write (its data
    /// version says so, read under the write lock), the lease row is the one that write
    /// found: it is not read again.
    fn write_row(&mut self) -> Result<Row> {
        let unchanged = self.row.unchanged(&self.conn)?;
        if !unchanged {
            self.check_lease()?;
        }
        self.row
            .for_write(&self.conn, &self.session, now_ms(), unchanged)
    }

    /// Runs `f` in an immediate transaction, committed if it returns `Ok`.
    fn in_tx<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.begin()?;
        let r = f(self).and_then(|r| Ok((r, self.exec("COMMIT")?)));
        match r {
            Ok((r, ())) => Ok(r),
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Applies the batch in the open transaction. `Err` means the transaction itself is
    /// lost (SQLite rolls back by itself on some I/O errors): every mutation fails.
    fn apply_in_tx(&self, session: i64, batch: &[Mutation]) -> Result<Vec<Result<()>>> {
        if let [only] = batch {
            // One mutation needs no savepoint: failing it fails the transaction.
            return self.apply_one(session, only).map(|()| vec![Ok(())]);
        }
        // Mutations of a group almost never fail: one savepoint around them all, and only
        // if one does, the group again with a savepoint each, so that it alone fails.
        self.exec("SAVEPOINT g")?;
        let all = batch.iter().try_for_each(|m| self.apply_one(session, m));
        match all {
            Ok(()) => {
                self.exec("RELEASE g")?;
                return Ok(vec![Ok(()); batch.len()]);
            }
            Err(e) if self.conn.is_autocommit() => return Err(e),
            Err(_) => {
                self.exec("ROLLBACK TO g")?;
                self.exec("RELEASE g")?;
            }
        }
        let mut results = Vec::with_capacity(batch.len());
        for mutation in batch {
            self.exec("SAVEPOINT m")?;
            let result = self.apply_one(session, mutation);
            if let Err(e) = &result {
                if self.conn.is_autocommit() {
                    return Err(e.clone());
                }
                self.exec("ROLLBACK TO m")?;
            }
            self.exec("RELEASE m")?;
            results.push(result);
        }
        Ok(results)
    }

    /// Runs `f` with lock waits disabled: the caller would rather go another way than wait.
    fn without_waiting<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let r = f(self);
        let _ = self.conn.busy_timeout(self.busy_timeout);
        r
    }

    /// Runs `f` in a read transaction of its own when `wanted` and none is open.
    fn read_tx<R>(&mut self, wanted: bool, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        let own = wanted && self.conn.is_autocommit();
        if own {
            self.exec("BEGIN")?;
        }
        let r = f(self);
        if own {
            self.rollback();
        }
        r
    }

    /// Runs `f` with the session's row id (`None` while it has none), in one read
    /// transaction when `many` lookups are made (one lock of the file, one snapshot).
    /// It reads with the row id last seen, then checks that nothing was committed since it
    /// was seen (as of the transaction the read began): the usual case costs one C call.
    /// Else the row is looked up and the read made again, both in one transaction.
    fn reading<R>(
        &mut self,
        many: bool,
        f: impl Fn(&Connection, Option<i64>) -> Result<R>,
    ) -> Result<R> {
        self.read_tx(many, |b| {
            if let Some(id) = b.row.cached() {
                let r = f(&b.conn, Some(id))?;
                if b.row.unchanged(&b.conn)? {
                    return Ok(r);
                }
            }
            b.read_tx(true, |b| {
                let id = b.row.check(&b.conn, &b.session)?;
                f(&b.conn, id)
            })
        })
    }

    fn rollback(&self) {
        if !self.conn.is_autocommit() {
            // Nothing more can be done if even this fails; the next BEGIN reports it.
            let _ = self.exec("ROLLBACK");
        }
    }
}

/// Point lookups of `ids`: `found(id, value)` for each one found, its value read in place.
fn each_key(
    conn: &Connection,
    session: i64,
    kind: &str,
    ids: &[String],
    mut found: impl FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("SELECT value FROM key WHERE session = ?1 AND type = ?2 AND id = ?3")?;
    for id in ids {
        let mut rows = stmt.query(params![session, kind, id])?;
        if let Some(row) = rows.next()? {
            let value = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
            found(id, value)?;
        }
    }
    Ok(())
}

impl Backend for SqliteBackend {
    fn get(&mut self, kind: &str, ids: &[String]) -> Result<Vec<Entry>> {
        // Alone, each lookup is a read transaction of its own, taking and dropping the
        // file's shared lock (two system calls): many ids share one.
        self.reading(ids.len() > 1, |conn, session| {
            let mut out = Vec::with_capacity(ids.len());
            if let Some(session) = session {
                each_key(conn, session, kind, ids, |id, v| {
                    out.push((id.to_owned(), v.to_vec()));
                    Ok(())
                })?;
            }
            Ok(out)
        })
    }

    /// The frame is written from the rows themselves: no copy of each value on the way.
    fn get_frame(&mut self, kind: &str, ids: &[String]) -> Result<Vec<u8>> {
        self.reading(ids.len() > 1, |conn, session| {
            // Room guessed at a pre-key's size (about 100 bytes); larger values grow it.
            let mut frame = wire::EntriesFrame::new(kind, ids.len(), ids.len() * 128);
            if let Some(session) = session {
                each_key(conn, session, kind, ids, |id, v| frame.push(id, v))?;
            }
            Ok(frame.finish())
        })
    }

    fn try_get_frame(&mut self, kind: &str, ids: &[String]) -> Option<Result<Vec<u8>>> {
        match self.without_waiting(|b| b.get_frame(kind, ids)) {
            Err(e) if e.code == Code::Busy => None,
            r => Some(r),
        }
    }

    fn try_apply(&mut self, batch: &[Mutation]) -> TryApply {
        // An fsync per commit belongs off the JavaScript thread.
        if self.durability == Durability::Full {
            return TryApply::NotNow;
        }
        // Busy can only come from BEGIN IMMEDIATE, before anything was written.
        let results = self.without_waiting(|b| b.apply(batch));
        let busy = results
            .iter()
            .any(|r| matches!(r, Err(e) if e.code == Code::Busy));
        if busy {
            TryApply::NotNow
        } else {
            TryApply::Done(results)
        }
    }

    fn write_part(&mut self, writes: &[KeyWrite]) -> Result<bool> {
        let written = (|| {
            let row = match self.parts {
                Some(row) => row,
                None => {
                    self.begin()?;
                    let row = self.write_row()?;
                    self.parts = Some(row);
                    row
                }
            };
            self.write_keys(row.id, writes)
        })();
        if written.is_err() {
            self.parts = None;
            self.rollback();
        }
        written.map(|()| true)
    }

    fn end_parts(&mut self, last: Option<&[KeyWrite]>) -> Result<()> {
        let row = self.parts.take();
        let Some(last) = last else {
            self.rollback();
            return Ok(());
        };
        let Some(row) = row else {
            return Err(Error::new(Code::Internal, "no parts were written"));
        };
        let committed = self
            .write_keys(row.id, last)
            .and_then(|()| Ok(self.exec("COMMIT")?));
        match committed {
            Ok(()) => self.row.committed(&self.conn, row),
            Err(_) => self.rollback(),
        }
        committed
    }

    fn upkeep_due(&self) -> bool {
        self.checkpoint.due()
    }

    fn upkeep(&mut self) -> Option<Upkeep> {
        self.checkpoint.run(&self.conn)
    }

    fn load_creds(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT creds FROM session WHERE name = ?1")?
            .query_row([&self.session], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()?
            .flatten())
    }

    fn apply(&mut self, batch: &[Mutation]) -> Vec<Result<()>> {
        let outcome = self.in_tx(|b| {
            let row = b.write_row()?;
            Ok((row, b.apply_in_tx(row.id, batch)?))
        });
        match outcome {
            Ok((row, results)) => {
                self.row.committed(&self.conn, row);
                results
            }
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn list(
        &mut self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
        with_values: bool,
    ) -> Result<Vec<Entry>> {
        let value = if with_values { "value" } else { "x''" };
        let sql = format!(
            "SELECT id, {value} FROM key WHERE session = ?1 AND type = ?2 AND id {} ?3
             ORDER BY id LIMIT ?4",
            if after.is_some() { ">" } else { ">=" }
        );
        self.reading(false, |conn, session| {
            let Some(session) = session else {
                return Ok(Vec::new());
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![session, kind, after.unwrap_or(""), limit as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn sessions(&mut self) -> Result<Vec<SessionInfo>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.name, s.created_ms, s.updated_ms, s.creds IS NOT NULL,
                    (SELECT count(*) FROM key k WHERE k.session = s.id),
                    (SELECT coalesce(sum(length(k.value)), 0) FROM key k WHERE k.session = s.id)
             FROM session s ORDER BY s.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SessionInfo {
                session_id: r.get(0)?,
                created_ms: r.get(1)?,
                updated_ms: r.get(2)?,
                has_creds: r.get(3)?,
                keys: r.get(4)?,
                bytes: r.get(5)?,
                holder: None,
            })
        })?;
        let mut sessions = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        for s in &mut sessions {
            s.holder = holder(&self.conn, &s.session_id)?;
        }
        Ok(sessions)
    }

    fn counts(&mut self) -> Result<Vec<TypeCount>> {
        self.reading(false, |conn, session| {
            let Some(session) = session else {
                return Ok(Vec::new());
            };
            let mut stmt = conn.prepare_cached(
                "SELECT type, count(*), sum(length(value)) FROM key WHERE session = ?1
                 GROUP BY type ORDER BY type",
            )?;
            let rows = stmt.query_map([session], |r| {
                Ok(TypeCount {
                    kind: r.get(0)?,
                    count: r.get(1)?,
                    bytes: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn delete_session(&mut self) -> Result<bool> {
        let name = self.session.clone();
        let deleted = self.in_tx(|b| {
            b.check_lease()?;
            b.conn
                .prepare_cached("DELETE FROM lease WHERE session = ?1")?
                .execute([&name])?;
            Ok(b.conn
                .prepare_cached("DELETE FROM session WHERE name = ?1")?
                .execute([&name])?
                > 0)
        })?;
        self.row.forget();
        self.lease = None;
        Ok(deleted)
    }

    fn integrity(&mut self) -> Result<Vec<String>> {
        let mut problems: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        problems.retain(|p| p != "ok");
        let orphans: i64 = self.conn.query_row(
            "SELECT count(*) FROM pragma_foreign_key_check('key')",
            [],
            |r| r.get(0),
        )?;
        if orphans > 0 {
            problems.push(format!("{orphans} keys belong to no session"));
        }
        Ok(problems)
    }

    fn acquire(&mut self, lease: &Lease, takeover: &Takeover) -> Result<Option<Holder>> {
        let name = self.session.clone();
        let refused = self.in_tx(|b| {
            let now = now_ms();
            if let Some(h) = holder(&b.conn, &name)? {
                let lapsed = h.renewed_ms.saturating_add(h.ttl_ms as i64) < now;
                let may = h.token == lease.token
                    || lapsed
                    || match takeover {
                        Takeover::Never => false,
                        Takeover::Always => true,
                        Takeover::From(token) => *token == h.token,
                    };
                if !may {
                    return Ok(Some(h));
                }
            }
            b.conn
                .prepare_cached(
                    "INSERT INTO lease (session, token, pid, host, since_ms, renewed_ms, ttl_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
                     ON CONFLICT (session) DO UPDATE SET token = excluded.token,
                        pid = excluded.pid, host = excluded.host, since_ms = excluded.since_ms,
                        renewed_ms = excluded.renewed_ms, ttl_ms = excluded.ttl_ms",
                )?
                .execute(params![
                    name,
                    lease.token,
                    lease.pid,
                    lease.host,
                    now,
                    lease.ttl_ms as i64
                ])?;
            Ok(None)
        })?;
        if refused.is_none() {
            self.lease = Some(lease.token.clone());
        }
        Ok(refused)
    }

    fn renew(&mut self) -> Result<()> {
        if self.lease.is_none() {
            return Ok(());
        }
        let name = self.session.clone();
        self.in_tx(|b| {
            b.check_lease()?;
            b.conn
                .prepare_cached("UPDATE lease SET renewed_ms = ?2 WHERE session = ?1")?
                .execute(params![name, now_ms()])?;
            Ok(())
        })
    }

    fn release(&mut self) -> Result<()> {
        let Some(token) = self.lease.take() else {
            return Ok(());
        };
        let name = self.session.clone();
        self.in_tx(|b| {
            b.conn
                .prepare_cached("DELETE FROM lease WHERE session = ?1 AND token = ?2")?
                .execute([&name, &token])?;
            Ok(())
        })
    }

    fn snapshot(
        &mut self,
        dest: &Path,
        into_existing: bool,
        progress: &dyn Fn(u64, u64),
    ) -> Result<()> {
        self.rollback();
        if into_existing {
            snapshot::restore_into(&self.conn, dest, progress)
        } else {
            snapshot::backup_to(&self.conn, dest, progress)
        }
        .map_err(|e| at(dest, e))
    }
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        // Closing gives the lease back; a crash leaves it to lapse (or to be found dead).
        let _ = self.release();
    }
}

/// The lease row of a session, if any.
fn holder(conn: &Connection, name: &str) -> Result<Option<Holder>> {
    Ok(conn
        .prepare_cached(
            "SELECT pid, host, since_ms, renewed_ms, ttl_ms, token FROM lease WHERE session = ?1",
        )?
        .query_row([name], |r| {
            Ok(Holder {
                pid: r.get(0)?,
                host: r.get(1)?,
                since_ms: r.get(2)?,
                renewed_ms: r.get(3)?,
                ttl_ms: r.get::<_, i64>(4)?.max(0) as u64,
                token: r.get(5)?,
            })
        })
        .optional()?)
}

#[cfg(test)]
mod tests;
