use std::path::PathBuf;

use super::*;
use crate::backend_contract::{ids, put};
use crate::codec::Value;

/// A fresh directory under the target dir, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "bra-test-{}-{}-{name}",
            std::process::id(),
            now_ms()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(path: &Path, session: &str) -> SqliteBackend {
    SqliteBackend::open(
        path,
        &Options {
            session: session.into(),
            ..Options::default()
        },
    )
    .unwrap()
}

/// A fresh file, removed with this value.
struct Store(TempDir);

impl Store {
    fn open(&self, session: &str) -> Box<dyn Backend> {
        Box::new(open(&self.0.file("auth.db"), session))
    }
}

fn fresh(name: &str) -> Option<Store> {
    Some(Store(TempDir::new(name)))
}

crate::backend_contract!(fresh;
    get_set_delete_clear,
    frames_present_what_get_finds,
    batches_apply_whole_or_not_at_all,
    sessions_are_isolated_and_survive_reopen,
    list_pages_in_id_order,
    one_live_lease_per_session,
    a_lapsed_lease_is_taken,
    replace_sessions_counts_and_delete,
    a_session_deleted_elsewhere_is_not_written,
    a_deleted_session_is_not_mistaken_for_a_later_one,
    counts_follow_large_mixed_writes,
);

#[test]
fn a_failing_mutation_leaves_nothing_and_spares_its_neighbours() {
    let dir = TempDir::new("rollback");
    let mut db = open(&dir.file("auth.db"), "default");
    db.apply(&[Mutation::Keys(vec![put("session", "keep", b"old")])]);
    // A row SQLite refuses midway (here by a trigger) fails its own mutation only.
    db.conn
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.key WHEN NEW.id = 'huge'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    crate::backend_contract::a_refused_write_fails_alone(&mut db);
}

#[test]
fn schema_is_created_versioned_and_migrated_forward() {
    let dir = TempDir::new("schema");
    let path = dir.file("auth.db");
    drop(open(&path, "default"));
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);

    // An empty version-0 database is set up on open...
    let empty = dir.file("empty.db");
    Connection::open(&empty)
        .unwrap()
        .execute_batch("PRAGMA user_version = 0; VACUUM;")
        .unwrap();
    let mut db = open(&empty, "default");
    db.apply(&[Mutation::Keys(vec![put("t", "1", b"v")])]);
    assert_eq!(db.get("t", &ids(&["1"])).unwrap().len(), 1);

    // ...but another program's database is refused, untouched.
    let foreign = dir.file("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE unrelated (x);")
        .unwrap();
    let before = std::fs::read(&foreign).unwrap();
    let err = SqliteBackend::open(&foreign, &Options::default())
        .err()
        .unwrap();
    assert_eq!(err.code, Code::NotADatabase);
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
}

/// A file of schema version 3 (session ids that SQLite could give out again) is rebuilt
/// on open with its sessions, their ids and keys, which still go with their session.
#[test]
fn an_older_file_keeps_its_sessions_and_no_longer_gives_an_id_out_twice() {
    let dir = TempDir::new("v3");
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.file("auth.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    for sql in &schema::MIGRATIONS[..3] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(
        "PRAGMA user_version = 3;
         INSERT INTO session VALUES (1, 'a', x'01', 5, 6), (2, 'b', NULL, 7, 8);
         INSERT INTO key VALUES (1, 'pre-key', '1', x'aa'), (2, 'pre-key', '1', x'bb');",
    )
    .unwrap();
    drop(conn);

    let mut b = open(&path, "b");
    assert_eq!(
        b.get("pre-key", &ids(&["1"])).unwrap(),
        vec![("1".into(), vec![0xbb])]
    );
    assert!(b.delete_session().unwrap());
    // 'b' had the largest id: a session made after it gets another.
    let mut c = open(&path, "c");
    assert_eq!(
        c.apply(&[Mutation::Keys(vec![put("pre-key", "1", b"c")])]),
        vec![Ok(())]
    );

    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let rows: Vec<(i64, String, i64)> = conn
        .prepare("SELECT id, name, created_ms FROM session ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(rows[0], (1, "a".into(), 5));
    assert_eq!((rows[1].0, rows[1].1.as_str()), (3, "c"));
    // b's keys went with it; a's stayed, linked to a.
    let keys: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT session, value FROM key ORDER BY session")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(keys, vec![(1, vec![0xaa]), (3, b"c".to_vec())]);
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0);
    assert_eq!(open(&path, "a").load_creds().unwrap(), Some(vec![1]));
}

/// The session's row is looked up again only once another connection has committed: a
/// store alone pays one C call per read or write for knowing its row still holds.
#[test]
fn the_session_row_is_looked_up_again_only_after_another_commit() {
    let dir = TempDir::new("row");
    let path = dir.file("auth.db");
    let mut a = open(&path, "a");
    let write = |db: &mut SqliteBackend, id: &str| {
        assert_eq!(
            db.apply(&[Mutation::Keys(vec![put("t", id, b"v")])]),
            vec![Ok(())]
        );
    };
    write(&mut a, "1");
    let before = a.row.lookups;
    for id in ["2", "3"] {
        write(&mut a, id);
        assert_eq!(a.get("t", &ids(&[id])).unwrap().len(), 1);
        assert_eq!(a.get("t", &ids(&["1", id])).unwrap().len(), 2);
    }
    assert_eq!(a.row.lookups, before);
    write(&mut open(&path, "b"), "1");
    assert_eq!(a.get("t", &ids(&["1"])).unwrap().len(), 1);
    assert_eq!(a.get("t", &ids(&["1", "2"])).unwrap().len(), 2);
    write(&mut a, "4");
    assert_eq!(a.row.lookups, before + 1);
}

#[test]
fn files_it_must_not_touch_are_refused_untouched() {
    let dir = TempDir::new("refuse");
    std::fs::create_dir_all(&dir.0).unwrap();

    let garbage = dir.file("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, just text").unwrap();
    let before = std::fs::read(&garbage).unwrap();
    let err = SqliteBackend::open(&garbage, &Options::default())
        .err()
        .unwrap();
    assert_eq!(err.code, Code::NotADatabase);
    assert_eq!(std::fs::read(&garbage).unwrap(), before);

    let newer = dir.file("newer.db");
    Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 999;")
        .unwrap();
    let before = std::fs::read(&newer).unwrap();
    let err = SqliteBackend::open(&newer, &Options::default())
        .err()
        .unwrap();
    assert_eq!(err.code, Code::SchemaTooNew);
    assert_eq!(std::fs::read(&newer).unwrap(), before);

    let err = SqliteBackend::open(&dir.0, &Options::default())
        .err()
        .unwrap();
    assert_eq!(err.code, Code::CannotOpen);
}

#[test]
fn new_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let path = dir.file("nested/auth.db");
    let mut db = open(&path, "default");
    db.apply(&[Mutation::Creds(Value::Null.encode())]);
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    let mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn snapshot_copies_while_another_connection_writes() {
    let dir = TempDir::new("snapshot");
    let path = dir.file("auth.db");
    let mut a = open(&path, "s");
    let big: Vec<_> = (0..6000)
        .map(|i| put("session", &i.to_string(), &[7u8; 2000]))
        .collect();
    assert!(a.apply(&[Mutation::Keys(big)])[0].is_ok());
    let mut writer = open(&path, "s");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let busy = std::thread::spawn(move || {
        let mut n = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let w = [Mutation::Keys(vec![put("pre-key", &n.to_string(), b"v")])];
            assert!(writer.apply(&w)[0].is_ok());
            n += 1;
        }
        n
    });
    let steps = std::cell::Cell::new(0);
    let dest = dir.file("backup.db");
    a.snapshot(&dest, false, &|done, total| {
        assert!(done <= total);
        steps.set(steps.get() + 1);
    })
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = busy.join().unwrap();
    assert!(steps.get() > 1, "progress reported once per step");
    assert!(written > 0);
    let mut copy = open(&dest, "s");
    assert!(copy.integrity().unwrap().is_empty());
    assert_eq!(sessions_count(&mut copy), 6000);
    // An existing file is never overwritten by a backup.
    assert!(a.snapshot(&dest, false, &|_, _| {}).is_err());
    // A restore brings the store back to the snapshot, in place.
    assert!(a.apply(&[Mutation::Clear])[0].is_ok());
    copy.snapshot(&path, true, &|_, _| {}).unwrap();
    assert_eq!(sessions_count(&mut a), 6000);
    assert!(a.integrity().unwrap().is_empty());
}

fn sessions_count(b: &mut SqliteBackend) -> i64 {
    let counts = b.counts().unwrap();
    counts.iter().find(|c| c.kind == "session").unwrap().count
}

/// Writes `n` keys of 16 KB (four pages each), one transaction each, as the JavaScript
/// thread does; returns whether a checkpoint was left due.
fn write_pages(db: &mut SqliteBackend, from: usize, n: usize) -> bool {
    let value = vec![7u8; 16 * 1024];
    for i in from..from + n {
        let results = db.apply(&[Mutation::Keys(vec![put("session", &i.to_string(), &value)])]);
        assert!(results.iter().all(|r| r.is_ok()));
    }
    db.upkeep_due()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn checkpoints_wait_for_upkeep_and_bound_the_log_without_it() {
    let dir = TempDir::new("checkpoint");
    let path = dir.file("auth.db");
    let mut db = open(&path, "default");
    // 1,200 pages into the WAL: the commit that passes 1,000 marks a checkpoint as due
    // and leaves the database file as it was.
    assert!(!write_pages(&mut db, 0, 100));
    assert!(write_pages(&mut db, 100, 200));
    assert!(file_len(&path) < 1 << 20, "the commit checkpointed");
    // The bulk is copied on a connection of its own, with the store free to write: here
    // it can copy only up to what a reader holds, and the store's connection copies the
    // rest once the reader is done.
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM key", [], |r| r.get(0))
        .unwrap();
    let bulk = db.upkeep().expect("a checkpoint is due");
    assert!(!db.upkeep_due());
    write_pages(&mut db, 300, 10);
    bulk();
    reader.execute_batch("ROLLBACK").unwrap();
    assert!(
        db.upkeep().is_none(),
        "the rest is copied on the store's connection"
    );
    assert!(!db.upkeep_due());
    assert!(
        file_len(&path) > 4 << 20,
        "upkeep copied the WAL into the database"
    );
    // Copied whole, the log starts over at the next write.
    assert!(!write_pages(&mut db, 310, 100), "the log started over");
    // With nobody doing the upkeep, a commit checkpoints itself once the WAL passes 4,000
    // pages: the log stays bounded.
    let wal = dir.file("auth.db-wal");
    write_pages(&mut db, 410, 2000);
    assert!(file_len(&path) > 20 << 20);
    assert!(file_len(&wal) < 20 << 20, "WAL of {} bytes", file_len(&wal));
    drop(db);
    let mut db = open(&path, "default");
    let found = db.get("session", &ids(&["0", "1299", "2409"])).unwrap();
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|(_, v)| v.len() >= 16 * 1024));
}

#[test]
fn the_parts_of_a_set_are_seen_together_once_the_last_commits() {
    let dir = TempDir::new("parts");
    let path = dir.file("auth.db");
    let mut a = open(&path, "s");
    let mut other = open(&path, "s");
    assert_eq!(a.write_part(&[put("pre-key", "1", b"one")]), Ok(true));
    assert_eq!(a.write_part(&[put("pre-key", "2", b"two")]), Ok(true));
    assert!(other.get("pre-key", &ids(&["1", "2"])).unwrap().is_empty());
    a.end_parts(Some(&[put("pre-key", "3", b"three")])).unwrap();
    assert_eq!(
        other.get("pre-key", &ids(&["1", "2", "3"])).unwrap().len(),
        3
    );
    // Dropped parts leave nothing, and the connection writes on as usual.
    assert_eq!(a.write_part(&[put("pre-key", "4", b"four")]), Ok(true));
    a.end_parts(None).unwrap();
    assert!(other.get("pre-key", &ids(&["4"])).unwrap().is_empty());
    assert_eq!(
        a.apply(&[Mutation::Keys(vec![put("pre-key", "5", b"five")])]),
        vec![Ok(())]
    );
    assert_eq!(other.get("pre-key", &ids(&["4", "5"])).unwrap().len(), 1);
    // Ending parts that were never written is a mistake of the caller, not a silent loss.
    assert_eq!(a.end_parts(Some(&[])).unwrap_err().code, Code::Internal);
}
