//! What a storage engine must do to hold auth states. The worker drives any `Backend`
//! the same way; SQLite is the first one.

use std::future::{ready, Future};
use std::path::Path;
use std::pin::Pin;

use serde::Serialize;

use crate::error::{Code, Error, Result};
use crate::wire;

/// One key write of a `keys.set` call: `value: None` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWrite {
    pub kind: String,
    pub id: String,
    pub value: Option<Vec<u8>>,
}

/// One call that must be applied whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Every key of one `keys.set` call, of any number of types.
    Keys(Vec<KeyWrite>),
    /// The encoded creds object, replacing the stored one.
    Creds(Vec<u8>),
    /// Removes every key of the session (not its creds).
    Clear,
    /// Replaces the whole session: every key removed, then `keys` written and the creds set
    /// (`None` leaves the session without creds). Imports and resets, in one transaction.
    Replace {
        creds: Option<Vec<u8>>,
        keys: Vec<KeyWrite>,
    },
}

/// A stored key: its id and, when asked for, its encoded value.
pub type Entry = (String, Vec<u8>);

/// Work a write left due (`Backend::upkeep`), run without the backend: calls made on the
/// JavaScript thread meanwhile are not held up by it.
pub type Upkeep = Box<dyn FnOnce() + Send>;

/// One session of a store, as `listSessions` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub session_id: String,
    pub created_ms: i64,
    /// Last creds write (key writes do not stamp the session: one page less per commit).
    pub updated_ms: i64,
    pub has_creds: bool,
    pub keys: i64,
    /// Encoded size of the keys' values.
    pub bytes: i64,
    pub holder: Option<Holder>,
}

/// How many keys of one type a session holds, and their encoded size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeCount {
    #[serde(rename = "type")]
    pub kind: String,
    pub count: i64,
    pub bytes: i64,
}

/// Who holds a session's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub since_ms: i64,
    pub renewed_ms: i64,
    pub ttl_ms: u64,
    /// Names one holding of the lease; `Takeover::From` compares it.
    pub token: String,
}

/// A request for a session's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub token: String,
    pub pid: u32,
    pub host: String,
    /// The lease lapses this long after its last renewal.
    pub ttl_ms: u64,
}

/// Whether to take a lease someone else holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Takeover {
    Never,
    Always,
    /// Only while this token still holds it: the caller found its holder dead.
    From(String),
}

/// The result of a call that waits on a network.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a `get` finds.
pub type Found = Result<Vec<Entry>>;

/// What `Backend::try_apply` came to.
#[derive(Debug)]
pub enum TryApply {
    /// Applied (or failed), with each mutation's outcome.
    Done(Vec<Result<()>>),
    /// Nothing written: the batch goes through the storage thread instead.
    NotNow,
    /// Sent to the server, whose answer is late: `finish_owed`, on the storage side, waits
    /// for it. Until then the store serves nothing else.
    Owed,
}

/// A storage engine bound to one session.
pub trait Backend: Send {
    /// The stored values of `ids` that exist, in any order.
    fn get(&mut self, kind: &str, ids: &[String]) -> Result<Vec<Entry>>;

    /// The encoded creds, if the session has any.
    fn load_creds(&mut self) -> Result<Option<Vec<u8>>>;

    /// Applies every mutation atomically and durably before returning. Returns one result
    /// per mutation, in order: a failed mutation leaves nothing behind, and the others still
    /// apply unless the engine could not commit at all, in which case all fail.
    fn apply(&mut self, batch: &[Mutation]) -> Vec<Result<()>>;

    /// Whether the engine's calls wait on a network (a server). The worker then serves the
    /// store from a task on the I/O runtime (src/server.rs), which wakes when a reply
    /// arrives, instead of from a thread of its own blocked on each reply: one thread
    /// handoff less each way. Such an engine answers the `*_async` calls without blocking.
    fn is_remote(&self) -> bool {
        false
    }

    /// `get`, for a remote engine's task; others answer it at once.
    fn get_async<'a>(&'a mut self, kind: &'a str, ids: &'a [String]) -> Pending<'a, Found> {
        Box::pin(ready(self.get(kind, ids)))
    }

    /// `load_creds`, as `get_async`.
    fn load_creds_async(&mut self) -> Pending<'_, Result<Option<Vec<u8>>>> {
        Box::pin(ready(self.load_creds()))
    }

    /// `apply`, as `get_async`.
    fn apply_async<'a>(&'a mut self, batch: &'a [Mutation]) -> Pending<'a, Vec<Result<()>>> {
        Box::pin(ready(self.apply(batch)))
    }

    /// `get` as a reply frame (src/wire.rs); an engine may build it straight from its rows.
    fn get_frame(&mut self, kind: &str, ids: &[String]) -> Result<Vec<u8>> {
        wire::entries_frame(kind, &self.get(kind, ids)?)
    }

    /// Serves `get_frame` at once when that involves no waiting on a lock (it runs on the
    /// caller's thread); `None` sends it through the storage thread instead.
    fn try_get_frame(&mut self, _kind: &str, _ids: &[String]) -> Option<Result<Vec<u8>>> {
        None
    }

    /// Applies a small batch at once under the same conditions as `try_get_frame`.
    fn try_apply(&mut self, _batch: &[Mutation]) -> TryApply {
        TryApply::NotNow
    }

    /// The outcome of the batch `try_apply` left owed, waiting for it (a blocking call).
    fn finish_owed(&mut self) -> Result<()> {
        Err(Error::new(Code::Internal, "no write is owed"))
    }

    /// Writes part of a large set (`KeyWrite`s of one `keys.set` sent in parts while the
    /// rest is encoded) in a transaction left open for the next parts, so that the engine
    /// works while JavaScript encodes. `Ok(false)`: this engine does not, and the caller
    /// keeps the parts to apply them with the last. After an `Err` nothing of the parts is
    /// written and no transaction is open.
    fn write_part(&mut self, _writes: &[KeyWrite]) -> Result<bool> {
        Ok(false)
    }

    /// Ends the parts `write_part` wrote: writes `last` (the rest of the set) with them and
    /// commits, or rolls them back (`None`). Nothing may reach the engine in between.
    fn end_parts(&mut self, _last: Option<&[KeyWrite]>) -> Result<()> {
        Err(Error::new(Code::Internal, "no parts were written"))
    }

    /// Whether a write left work that can wait (SQLite: a WAL checkpoint); the storage
    /// thread does it with `upkeep`, after the callers of the write were answered.
    fn upkeep_due(&self) -> bool {
        false
    }

    /// Does what `upkeep_due` reports, or hands back the part of it to run with the backend
    /// free (the storage thread then asks again, for what that part left).
    #[must_use = "the part handed back is the work still to do"]
    fn upkeep(&mut self) -> Option<Upkeep> {
        None
    }

    /// Up to `limit` keys of `kind` whose id sorts after `after`, in id order; values are
    /// left empty unless `with_values`.
    fn list(
        &mut self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
        with_values: bool,
    ) -> Result<Vec<Entry>>;

    /// Every session of the store, with its key count and lease holder, in name order.
    fn sessions(&mut self) -> Result<Vec<SessionInfo>>;

    /// Keys per type of this session, in type order.
    fn counts(&mut self) -> Result<Vec<TypeCount>>;

    /// Removes this session (creds, keys, lease); false if there was none.
    fn delete_session(&mut self) -> Result<bool>;

    /// The engine's own consistency check: the problems found, none when sound.
    fn integrity(&mut self) -> Result<Vec<String>>;

    /// Takes this session's lease, or returns who holds it when it is live and `takeover`
    /// does not allow taking it. While held, every write first checks it still is, and
    /// fails with `LeaseLost` once someone took it over.
    fn acquire(&mut self, lease: &Lease, takeover: &Takeover) -> Result<Option<Holder>>;

    /// Extends the lease held; `LeaseLost` if someone took it over.
    fn renew(&mut self) -> Result<()>;

    /// Gives the lease back (nothing if none is held).
    fn release(&mut self) -> Result<()>;

    /// Copies the whole store, every session, to the file `dest` as one consistent snapshot
    /// taken while others keep writing; with `into_existing`, `dest` is a database of this
    /// library whose content is replaced in one transaction (a restore). Reports
    /// `progress(done, total)` as it goes. Only a file store has a file to copy: a server
    /// store is backed up with the server's own tools.
    fn snapshot(
        &mut self,
        _dest: &Path,
        _into_existing: bool,
        _progress: &dyn Fn(u64, u64),
    ) -> Result<()> {
        Err(Error::invalid(
            "backup and restore copy SQLite files; a server store is backed up with the server's own tools, or one session at a time with exportJson and importJson",
        ))
    }
}
