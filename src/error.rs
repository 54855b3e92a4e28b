//! Every failure the store can report, each with a stable code.
//!
//! The codes are part of the public API: JavaScript callers branch on `err.code`, so a
//! variant's code never changes once released. README lists them.

use std::fmt;

/// A stable, machine-readable error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// An argument has the wrong type or shape (ids not an array of strings, empty type name...).
    InvalidArgument,
    /// A value holds something that cannot be stored (function, symbol, BigInt, non-byte typed array).
    UnsupportedValue,
    /// A value refers to itself.
    CircularValue,
    /// A value is nested deeper than the codec allows.
    ValueTooDeep,
    /// A value or id is larger than the store accepts.
    ValueTooLarge,
    /// The store was closed; no call is accepted any more.
    Closed,
    /// The path exists and is not an SQLite database; it was left untouched.
    NotADatabase,
    /// The database was written by a newer version of this library; it was left untouched.
    SchemaTooNew,
    /// The database or its directory cannot be written.
    ReadOnly,
    /// The database cannot be opened (a directory, a missing permission...).
    CannotOpen,
    /// The disk (or the configured size limit) is full; nothing of the failed call was written.
    DiskFull,
    /// Another connection held the database longer than the busy timeout.
    Busy,
    /// Stored bytes do not decode: the file was damaged or written by something else.
    Corrupt,
    /// Any other storage error reported by the engine or the OS.
    Io,
    /// A bug: an invariant broke or a panic was caught. Nothing was half-written.
    Internal,
    /// Neither `baileys` nor `@whiskeysockets/baileys` is installed, or the one installed fails
    /// to load or lacks what the package uses (raised by lib/baileys.js).
    BaileysNotFound,
    /// Another live process holds the session's lease; the error names it.
    SessionLocked,
    /// This process's lease was taken over by another; nothing of the failed call was written.
    LeaseLost,
    /// The named session does not exist.
    SessionNotFound,
    /// The target session already holds different creds; pass `overwrite` to replace them.
    SessionExists,
    /// A multi-file auth folder, JSON export or backup cannot be read whole (a torn
    /// creds.json...); nothing was written.
    InvalidSource,
    /// The server cannot be reached, the connection broke or the TLS handshake failed; nothing
    /// of the failed call was written (unless the message says the connection broke while
    /// committing).
    Unavailable,
    /// A Redis write reached the primary but fewer replicas than asked acknowledged it in time.
    NotReplicated,
}

impl Code {
    /// Every code, in the order README documents them.
    pub const ALL: [Code; 23] = [
        Code::InvalidArgument,
        Code::UnsupportedValue,
        Code::CircularValue,
        Code::ValueTooDeep,
        Code::ValueTooLarge,
        Code::Closed,
        Code::NotADatabase,
        Code::SchemaTooNew,
        Code::ReadOnly,
        Code::CannotOpen,
        Code::DiskFull,
        Code::Busy,
        Code::Corrupt,
        Code::Io,
        Code::Internal,
        Code::BaileysNotFound,
        Code::SessionLocked,
        Code::LeaseLost,
        Code::SessionNotFound,
        Code::SessionExists,
        Code::InvalidSource,
        Code::Unavailable,
        Code::NotReplicated,
    ];

    /// The string JavaScript sees as `err.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "ERR_INVALID_ARGUMENT",
            Code::UnsupportedValue => "ERR_UNSUPPORTED_VALUE",
            Code::CircularValue => "ERR_CIRCULAR_VALUE",
            Code::ValueTooDeep => "ERR_VALUE_TOO_DEEP",
            Code::ValueTooLarge => "ERR_VALUE_TOO_LARGE",
            Code::Closed => "ERR_CLOSED",
            Code::NotADatabase => "ERR_NOT_A_DATABASE",
            Code::SchemaTooNew => "ERR_SCHEMA_TOO_NEW",
            Code::ReadOnly => "ERR_READ_ONLY",
            Code::CannotOpen => "ERR_CANNOT_OPEN",
            Code::DiskFull => "ERR_DISK_FULL",
            Code::Busy => "ERR_BUSY",
            Code::Corrupt => "ERR_CORRUPT",
            Code::Io => "ERR_IO",
            Code::Internal => "ERR_INTERNAL",
            Code::BaileysNotFound => "ERR_BAILEYS_NOT_FOUND",
            Code::SessionLocked => "ERR_SESSION_LOCKED",
            Code::LeaseLost => "ERR_LEASE_LOST",
            Code::SessionNotFound => "ERR_SESSION_NOT_FOUND",
            Code::SessionExists => "ERR_SESSION_EXISTS",
            Code::InvalidSource => "ERR_INVALID_SOURCE",
            Code::Unavailable => "ERR_UNAVAILABLE",
            Code::NotReplicated => "ERR_NOT_REPLICATED",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with its code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    pub message: String,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(Code::InvalidArgument, message)
    }

    pub fn closed() -> Self {
        Error::new(Code::Closed, "the auth store is closed")
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::new(Code::Corrupt, message)
    }

    /// A write of a store whose session another connection deleted while it was open
    /// (possible without a lease): it fails rather than bring back creds without their keys,
    /// or resolve having written nothing.
    pub fn session_deleted(session: &str) -> Self {
        Error::new(
            Code::SessionNotFound,
            format!("session '{session}' was deleted while this store had it open; open it again to start it anew"),
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode as E;
        let code = match err.sqlite_error_code() {
            Some(E::DiskFull) => Code::DiskFull,
            Some(E::DatabaseBusy) | Some(E::DatabaseLocked) => Code::Busy,
            Some(E::ReadOnly) => Code::ReadOnly,
            Some(E::NotADatabase) => Code::NotADatabase,
            Some(E::DatabaseCorrupt) => Code::Corrupt,
            Some(E::CannotOpen) | Some(E::PermissionDenied) => Code::CannotOpen,
            Some(E::TooBig) => Code::ValueTooLarge,
            _ => Code::Io,
        };
        let message = match code {
            Code::DiskFull => format!("the disk is full: {err}"),
            Code::Busy => format!("the database stayed locked by another connection: {err}"),
            _ => format!("sqlite: {err}"),
        };
        Error::new(code, message)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let code = match err.kind() {
            std::io::ErrorKind::PermissionDenied
            | std::io::ErrorKind::NotADirectory
            | std::io::ErrorKind::IsADirectory => Code::CannotOpen,
            std::io::ErrorKind::ReadOnlyFilesystem => Code::ReadOnly,
            std::io::ErrorKind::StorageFull => Code::DiskFull,
            _ => Code::Io,
        };
        Error::new(code, err.to_string())
    }
}
