//! WAL checkpoints after a commit's callers are answered, not inside the commit.
//!
//! SQLite copies the WAL back into the database from inside the commit that takes it past
//! 1000 pages: a write and an fsync of the file, 3-8 ms here and far more on slow storage,
//! on whichever thread committed, often the JavaScript thread (small writes are made there).
//! The store's WAL hook only marks the checkpoint as due; the storage thread runs it once
//! the commit's promises are settled (`Backend::upkeep`). Should nobody run it, the log
//! growing far past the mark makes a commit checkpoint itself, as SQLite would.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB};

/// WAL size, in pages, from which a checkpoint is due (SQLite's own default).
const WAL_PAGES: c_int = 1000;
/// WAL size from which a commit checkpoints itself.
const WAL_PAGES_INLINE: c_int = 4 * WAL_PAGES;

pub struct Checkpoint {
    due: Arc<AtomicBool>,
}

impl Checkpoint {
    /// Registers the hook on `conn` (it replaces SQLite's automatic checkpoints).
    pub fn attach(conn: &mut Connection) -> rusqlite::Result<Checkpoint> {
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
        Ok(Checkpoint { due })
    }

    pub fn due(&self) -> bool {
        self.due.load(Ordering::Relaxed)
    }

    /// Checkpoints `conn` if a commit marked it due.
    pub fn run(&self, conn: &Connection) {
        if self.due.swap(false, Ordering::Relaxed) {
            let _ = conn.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE);
        }
    }
}
