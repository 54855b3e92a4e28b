//! The PostgreSQL schema and its forward migrations.
//!
//! The tables live in a schema of their own (`baileys_auth` unless configured), whose
//! `schema_version` table holds the number of migrations applied. A migration is only ever
//! appended, never edited.

/// Migration `i` brings a schema from version `i` to `i + 1`. Statements run with the
/// `search_path` set to the store's schema.
pub const MIGRATIONS: &[&str] = &[
    // 1: sessions, their keys and leases, as in the SQLite file. Names and ids sort by bytes
    // (COLLATE "C"): the order `list` pages in, whatever the database's locale.
    "CREATE TABLE session (
        id         bigserial PRIMARY KEY,
        name       text COLLATE \"C\" NOT NULL UNIQUE,
        creds      bytea,
        created_ms bigint NOT NULL,
        updated_ms bigint NOT NULL
    );
    CREATE TABLE key (
        session bigint NOT NULL REFERENCES session (id) ON DELETE CASCADE,
        type    text COLLATE \"C\" NOT NULL,
        id      text COLLATE \"C\" NOT NULL,
        value   bytea NOT NULL,
        PRIMARY KEY (session, type, id)
    );
    CREATE TABLE lease (
        session    text PRIMARY KEY,
        token      text   NOT NULL,
        pid        bigint NOT NULL,
        host       text   NOT NULL,
        since_ms   bigint NOT NULL,
        renewed_ms bigint NOT NULL,
        ttl_ms     bigint NOT NULL
    );",
    // 2: keys no longer refer to their session by a foreign key. Its check share-locked the
    // session's row once per key written, which cost more than writing a small key (812
    // pre-keys: 12 ms with it, 4 ms without). A write checks and locks the row once instead
    // (`live!` in mod.rs). A trigger deletes the keys of deleted sessions, as the key's
    // cascade did, whoever deletes them (an older process, an operator's SQL); the schema
    // is fixed in its search_path, which was the store's when it was made.
    "ALTER TABLE key DROP CONSTRAINT key_session_fkey;
    CREATE FUNCTION delete_keys_of_sessions() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
    BEGIN
        DELETE FROM key WHERE session IN (SELECT id FROM gone);
        RETURN NULL;
    END $$;
    CREATE TRIGGER keys_go_with_their_session AFTER DELETE ON session
        REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION delete_keys_of_sessions();",
];

/// The schema version this build writes.
pub const VERSION: i32 = MIGRATIONS.len() as i32;
