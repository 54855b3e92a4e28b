//! The SQLite schema and its forward migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration is only ever
//! appended, never edited: a file written by version N opens in every later version.

/// Migration `i` brings a database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: sessions (one per `sessionId`, holding its creds) and their keys. A rowid table,
    // not WITHOUT ROWID: session records of 1-5 KB then fit in one leaf page instead of
    // spilling to overflow pages.
    "CREATE TABLE session (
        id         INTEGER PRIMARY KEY,
        name       TEXT    NOT NULL UNIQUE,
        creds      BLOB,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE key (
        session INTEGER NOT NULL REFERENCES session (id) ON DELETE CASCADE,
        type    TEXT    NOT NULL,
        id      TEXT    NOT NULL,
        value   BLOB    NOT NULL,
        UNIQUE (session, type, id)
    );",
    // 2: values may hold objects with compacted base64 keys (codec tag 13). No table changes:
    // the bump makes older builds refuse such files as too new instead of misreading them.
    "",
    // 3: session leases, keyed by name so that a session can be leased before its first
    // write. One live holder per session; see `SqliteBackend::acquire`.
    "CREATE TABLE lease (
        session    TEXT    PRIMARY KEY,
        token      TEXT    NOT NULL,
        pid        INTEGER NOT NULL,
        host       TEXT    NOT NULL,
        since_ms   INTEGER NOT NULL,
        renewed_ms INTEGER NOT NULL,
        ttl_ms     INTEGER NOT NULL
    );",
    // 4: session ids are never given out twice (AUTOINCREMENT): a store that still has a
    // deleted session open must not find another session under its id (see row.rs).
    // SQLite cannot add AUTOINCREMENT in place; the table is rebuilt, with foreign keys off
    // (see `SqliteBackend::migrate`) so that dropping the old one leaves the keys be.
    "CREATE TABLE session_v4 (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT    NOT NULL UNIQUE,
        creds      BLOB,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    INSERT INTO session_v4 (id, name, creds, created_ms, updated_ms)
        SELECT id, name, creds, created_ms, updated_ms FROM session;
    DROP TABLE session;
    ALTER TABLE session_v4 RENAME TO session;",
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;
