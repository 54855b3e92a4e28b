//! What a storage engine must do to hold auth states. The worker drives any `Backend`
//! the same way; SQLite is the first one.

use crate::error::Result;

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
}

/// A stored key: its id and, when asked for, its encoded value.
pub type Entry = (String, Vec<u8>);

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

    /// Serves `get` at once when that involves no waiting on a lock (it runs on the caller's
    /// thread); `None` sends it through the storage thread instead.
    fn try_get(&mut self, _kind: &str, _ids: &[String]) -> Option<Result<Vec<Entry>>> {
        None
    }

    /// Applies a small batch at once under the same conditions as `try_get`; `None` (nothing
    /// written) sends it through the storage thread instead.
    fn try_apply(&mut self, _batch: &[Mutation]) -> Option<Vec<Result<()>>> {
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
}
