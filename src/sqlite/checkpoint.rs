//! WAL checkpoints after a commit's callers are answered, not inside the commit.
//!
//! SQLite copies the WAL back into the database from inside the commit that takes it past
//! 1000 pages: a write and an fsync of the file, 3-8 ms here and far more on slow storage,
//! on whichever thread committed, often the JavaScript thread (small writes are made there).
//! The store's WAL hook only marks the checkpoint as due; the storage thread runs it once
//! the commit's promises are settled (`Backend::upkeep`).
//!
//! It runs in two steps. The bulk is copied on a connection of its own, with the store's
//! connection free: the JavaScript thread goes on writing meanwhile (a passive checkpoint
//! copies what was committed when it began, and never waits for writers). What was written
//! meanwhile is then copied on the store's connection, which no write can use until it is
//! done: the log is then copied whole, and the next write starts it over from its beginning
//! (a log that is never copied whole grows on). Should nobody run checkpoints, the log
//! growing far past the mark makes a commit checkpoint itself, as SQLite would.

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags, MAIN_DB};

use crate::backend::Upkeep;

/// WAL size, in pages, from which a checkpoint is due (SQLite's own default).
const WAL_PAGES: c_int = 1000;
/// WAL size from which a commit checkpoints itself.
const WAL_PAGES_INLINE: c_int = 4 * WAL_PAGES;

pub struct Checkpoint {
    due: Arc<AtomicBool>,
    /// Set once the bulk was copied away from the store's connection.
    rest: Arc<AtomicBool>,
    path: PathBuf,
    /// The connection the bulk is copied on, opened at the first checkpoint.
    conn: Arc<Mutex<Option<Connection>>>,
}

impl Checkpoint {
    /// Registers the hook on `conn`, the store's connection to `path` (it replaces SQLite's
    /// automatic checkpoints).
    pub fn attach(conn: &mut Connection, path: &Path) -> rusqlite::Result<Checkpoint> {
        let due = Arc::new(AtomicBool::new(false));
        let mark = Arc::clone(&due);
        conn.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            if pages >= WAL_PAGES_INLINE {
                // Busy means another connection is checkpointing: nothing to do.
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
                mark.store(false, Ordering::Relaxed);
            } else if pages >= WAL_PAGES {
                mark.store(true, Ordering::Relaxed);
            }
            Ok(())
        }))?;
        Ok(Checkpoint {
            due,
            rest: Arc::default(),
            path: path.to_owned(),
            conn: Arc::default(),
        })
    }

    pub fn due(&self) -> bool {
        self.due.load(Ordering::Relaxed)
    }

    /// Copies what the bulk left, on `store` (the store's connection), or hands back the
    /// copy of the bulk, to run away from it, when a commit marked a checkpoint due.
    pub fn run(&self, store: &Connection) -> Option<Upkeep> {
        if self.rest.swap(false, Ordering::Relaxed) {
            self.due.store(false, Ordering::Relaxed);
            let _ = store.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE);
            return None;
        }
        if !self.due.swap(false, Ordering::Relaxed) {
            return None;
        }
        let (path, conn, rest) = (
            self.path.clone(),
            Arc::clone(&self.conn),
            Arc::clone(&self.rest),
        );
        Some(Box::new(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            if conn.is_none() {
                *conn = open(&path).ok();
            }
            if let Some(conn) = conn.as_ref() {
                let _ = conn.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE);
            }
            // What was written meanwhile (or all of it, had this failed) is left to the
            // store's connection; with nothing left, its checkpoint writes nothing.
            rest.store(true, Ordering::Relaxed);
        }))
    }
}

/// A connection to the store's file for checkpoints. It reads the file's header first:
/// until a connection has, it does not know the file is in WAL mode, and its checkpoints
/// do nothing.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.pragma_query_value(None, "schema_version", |r| r.get::<_, i64>(0))?;
    Ok(conn)
}
