//! Which row of the `session` table holds this store's session, kept between calls.
//!
//! A row id is not a session's for ever: a session deleted by another connection may be
//! made again, and a restore brings in the rows of a backup. A store that kept trusting the
//! row it first saw would read and write a session that is no longer its own. The row is
//! looked up again, by name, whenever another connection has committed since it was last
//! seen, and counts as the same session while its id and creation time match (ids are never
//! given out twice in a file: see schema.rs). Whether anything was committed is one C call,
//! no statement: the pager counts the changes to the file it sees at each transaction it
//! begins (`SQLITE_FCNTL_DATA_VERSION`).

use std::ffi::{c_uint, c_void};

use rusqlite::{ffi, params, Connection, OptionalExtension};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    created_ms: i64,
}

#[derive(Default)]
pub struct SessionRow {
    /// The row last seen.
    known: Option<Row>,
    /// The file's change count when `known` was last looked up or written by this store.
    version: Option<c_uint>,
    /// The row this store used was deleted (or replaced) by another connection: its writes
    /// fail and its reads find nothing until it deletes the session itself (see `forget`).
    gone: bool,
    /// Lookups made, for tests.
    #[cfg(test)]
    pub lookups: u32,
}

/// Changes to the main database seen by `conn` as of the last transaction it began, its
/// own commits included.
fn data_version(conn: &Connection) -> Result<c_uint> {
    let mut version: c_uint = 0;
    // SAFETY: the handle is live while `conn` is borrowed, the name is NUL-terminated, and
    // SQLITE_FCNTL_DATA_VERSION writes one unsigned int through the pointer.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_DATA_VERSION,
            (&mut version as *mut c_uint).cast::<c_void>(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(Error::from(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("reading the data version".into()),
        )));
    }
    Ok(version)
}

impl SessionRow {
    /// The row id last seen, unchecked: a read made with it holds if `unchanged` says so
    /// once the read's transaction has begun.
    pub fn cached(&self) -> Option<i64> {
        self.known.filter(|_| !self.gone).map(|r| r.id)
    }

    /// Whether the row id last seen holds in the transaction `conn` began last: nothing was
    /// committed to the file since it was looked up or written by this store.
    pub fn unchanged(&self, conn: &Connection) -> Result<bool> {
        Ok(self.cached().is_some() && self.version == Some(data_version(conn)?))
    }

    /// Looks the row of session `name` up, in the caller's transaction (the lookup begins it
    /// if need be), and returns its id; `None` while the session has no row, or since it was
    /// gone.
    pub fn check(&mut self, conn: &Connection, name: &str) -> Result<Option<i64>> {
        #[cfg(test)]
        {
            self.lookups += 1;
        }
        let found = conn
            .prepare_cached("SELECT id, created_ms FROM session WHERE name = ?1")?
            .query_row([name], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    created_ms: r.get(1)?,
                })
            })
            .optional()?;
        match (self.known, found) {
            _ if self.gone => {}
            (Some(known), Some(row)) if row == known => {}
            (Some(_), _) => self.gone = true,
            (None, found) => self.known = found,
        }
        self.version = Some(data_version(conn)?);
        Ok(self.cached())
    }

    /// The session's row for a write, made if it has none yet, inside the caller's write
    /// transaction (`committed` records it); key writes leave an existing row alone, one
    /// page less per commit. Fails once the row was gone. `unchanged`: what `unchanged`
    /// answered in this transaction.
    pub fn for_write(
        &mut self,
        conn: &Connection,
        name: &str,
        now_ms: i64,
        unchanged: bool,
    ) -> Result<Row> {
        if !unchanged {
            self.check(conn, name)?;
        }
        if self.gone {
            return Err(Error::session_deleted(name));
        }
        if let Some(row) = self.known {
            return Ok(row);
        }
        let (id, created_ms) = conn
            .prepare_cached(
                "INSERT INTO session (name, created_ms, updated_ms) VALUES (?1, ?2, ?2)
                 ON CONFLICT (name) DO UPDATE SET name = excluded.name
                 RETURNING id, created_ms",
            )?
            .query_row(params![name, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(Row { id, created_ms })
    }

    /// Records a write of this store to `row`, just committed on `conn` (should the count
    /// not be read, the next call looks the row up).
    pub fn committed(&mut self, conn: &Connection, row: Row) {
        self.known = Some(row);
        self.version = data_version(conn).ok();
    }

    /// Forgets the row after this store deleted its session: a later write starts it anew.
    pub fn forget(&mut self) {
        self.known = None;
        self.version = None;
        self.gone = false;
    }
}
