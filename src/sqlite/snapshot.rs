//! Whole-file copies with SQLite's online backup API: backups taken while other connections
//! keep writing, and restores into a file other processes may have open.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::error::{Code, Error, Result};

/// Pages copied per step (4 MB of 4 KB pages): progress stays live on large files.
const PAGES_PER_STEP: i32 = 1024;

/// Copies every page of `src` into `dest` from one read snapshot, reporting
/// `progress(copied, total)` after each step.
fn copy(src: &Connection, dest: &mut Connection, progress: &dyn Fn(u64, u64)) -> Result<()> {
    // A read transaction held across the steps pins one snapshot (WAL): writers carry on,
    // and the copy never restarts because of them.
    src.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")?;
    let result = (|| {
        let backup = Backup::new(src, dest)?;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            progress(total - (p.remaining.max(0) as u64).min(total), total);
            match step {
                StepResult::Done => return Ok(()),
                StepResult::More => {}
                // The destination is busy (a reader of a restored file): try again shortly.
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                _ => return Err(Error::new(Code::Io, "backup step failed")),
            }
        }
    })();
    let _ = src.execute_batch("COMMIT");
    result
}

/// Writes a snapshot of `src` to the new file `dest`: copied to a temporary file beside it,
/// synced, then renamed, so `dest` never holds half a backup.
pub fn backup_to(src: &Connection, dest: &Path, progress: &dyn Fn(u64, u64)) -> Result<()> {
    let partial = PathBuf::from(format!("{}.partial", dest.display()));
    let _ = std::fs::remove_file(&partial);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)?;
    let written = (|| {
        let mut to = Connection::open(&partial)?;
        copy(src, &mut to, progress)?;
        // Leases belong to the processes running now, not to a copy restored later.
        to.execute("DELETE FROM lease", [])?;
        // A backup is one self-contained file: no -wal beside it.
        to.pragma_update(None, "journal_mode", "DELETE")?;
        drop(to);
        std::fs::File::open(&partial)?.sync_all()?;
        if dest.exists() {
            return Err(Error::new(
                Code::InvalidArgument,
                format!("{} already exists", dest.display()),
            ));
        }
        std::fs::rename(&partial, dest)?;
        if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Replaces the content of the database at `dest` with `src`'s in one transaction: a process
/// reading `dest` meanwhile sees the old content or the new, never a mix.
pub fn restore_into(src: &Connection, dest: &Path, progress: &dyn Fn(u64, u64)) -> Result<()> {
    let mut to = Connection::open_with_flags(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    to.busy_timeout(std::time::Duration::from_secs(5))?;
    copy(src, &mut to, progress)
}
