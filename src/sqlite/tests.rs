use std::path::PathBuf;

use super::*;
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

fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite {
        kind: kind.into(),
        id: id.into(),
        value: Some(value.to_vec()),
    }
}

fn del(kind: &str, id: &str) -> KeyWrite {
    KeyWrite {
        kind: kind.into(),
        id: id.into(),
        value: None,
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

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn get_set_delete_clear() {
    let dir = TempDir::new("crud");
    let mut db = open(&dir.file("a/b/auth.db"), "default");
    assert_eq!(db.get("pre-key", &ids(&["1"])).unwrap(), vec![]);
    let results = db.apply(&[Mutation::Keys(vec![
        put("pre-key", "1", b"one"),
        put("pre-key", "2", b"two"),
        put("session", "1", b"s"),
    ])]);
    assert_eq!(results, vec![Ok(())]);
    let mut got = db.get("pre-key", &ids(&["1", "2", "3"])).unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![("1".into(), b"one".to_vec()), ("2".into(), b"two".to_vec())]
    );
    db.apply(&[Mutation::Keys(vec![
        del("pre-key", "1"),
        put("pre-key", "2", b"2!"),
    ])]);
    assert_eq!(
        db.get("pre-key", &ids(&["1", "2"])).unwrap(),
        vec![("2".into(), b"2!".to_vec())]
    );
    db.apply(&[Mutation::Creds(b"creds".to_vec())]);
    db.apply(&[Mutation::Clear]);
    assert_eq!(db.get("pre-key", &ids(&["2"])).unwrap(), vec![]);
    assert_eq!(db.get("session", &ids(&["1"])).unwrap(), vec![]);
    // Clear keeps the creds.
    assert_eq!(db.load_creds().unwrap(), Some(b"creds".to_vec()));
}

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
    let results = db.apply(&[
        Mutation::Keys(vec![put("session", "a", b"a")]),
        Mutation::Keys(vec![
            put("session", "keep", b"new"),
            put("session", "huge", &[0; 2000]),
        ]),
        Mutation::Keys(vec![put("session", "c", b"c")]),
    ]);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(results[1].as_ref().unwrap_err().message.contains("refused"));
    let mut got = db
        .get("session", &ids(&["a", "keep", "huge", "c"]))
        .unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), b"a".to_vec()),
            ("c".into(), b"c".to_vec()),
            ("keep".into(), b"old".to_vec()),
        ]
    );
    // Alone, the failing mutation rolls back its whole transaction.
    let results = db.apply(&[Mutation::Keys(vec![
        put("session", "keep", b"new"),
        put("session", "huge", &[0; 2000]),
    ])]);
    assert!(results[0].is_err());
    assert_eq!(
        db.get("session", &ids(&["keep"])).unwrap(),
        vec![("keep".into(), b"old".to_vec())]
    );
}

#[test]
fn sessions_are_isolated_and_survive_reopen() {
    let dir = TempDir::new("sessions");
    let path = dir.file("auth.db");
    {
        let mut a = open(&path, "a");
        let mut b = open(&path, "b");
        a.apply(&[
            Mutation::Keys(vec![put("t", "x", b"A")]),
            Mutation::Creds(b"ca".to_vec()),
        ]);
        b.apply(&[Mutation::Keys(vec![put("t", "x", b"B")])]);
        b.apply(&[Mutation::Clear]);
        assert_eq!(
            a.get("t", &ids(&["x"])).unwrap(),
            vec![("x".into(), b"A".to_vec())]
        );
        assert_eq!(b.load_creds().unwrap(), None);
    }
    let mut a = open(&path, "a");
    assert_eq!(
        a.get("t", &ids(&["x"])).unwrap(),
        vec![("x".into(), b"A".to_vec())]
    );
    assert_eq!(a.load_creds().unwrap(), Some(b"ca".to_vec()));
}

#[test]
fn list_pages_in_id_order() {
    let dir = TempDir::new("list");
    let mut db = open(&dir.file("auth.db"), "default");
    let writes = (0..10)
        .map(|i| put("k", &format!("{i:02}"), &[i]))
        .collect();
    db.apply(&[Mutation::Keys(writes)]);
    let first = db.list("k", None, 4, true).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first[0], ("00".into(), vec![0]));
    let next = db.list("k", Some("03"), 100, false).unwrap();
    assert_eq!(
        next.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["04", "05", "06", "07", "08", "09"]
    );
    assert!(next.iter().all(|e| e.1.is_empty()));
    assert!(db.list("other", None, 10, true).unwrap().is_empty());
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

fn lease(token: &str) -> Lease {
    Lease {
        token: token.into(),
        pid: 1,
        host: "here".into(),
        ttl_ms: 60_000,
    }
}

#[test]
fn one_live_lease_per_session() {
    let dir = TempDir::new("lease");
    let path = dir.file("auth.db");
    let mut a = open(&path, "s");
    let mut b = open(&path, "s");
    let mut other = open(&path, "t");
    assert_eq!(a.acquire(&lease("a"), &Takeover::Never).unwrap(), None);
    let held = b.acquire(&lease("b"), &Takeover::Never).unwrap().unwrap();
    assert_eq!((held.token.as_str(), held.host.as_str()), ("a", "here"));
    // Another session is free, and the holder may take its own lease again.
    assert_eq!(other.acquire(&lease("c"), &Takeover::Never).unwrap(), None);
    assert_eq!(a.acquire(&lease("a"), &Takeover::Never).unwrap(), None);
    // Taking over from a holder that is not the one named is refused.
    assert!(b
        .acquire(&lease("b"), &Takeover::From("x".into()))
        .unwrap()
        .is_some());
    assert_eq!(
        b.acquire(&lease("b"), &Takeover::From("a".into())).unwrap(),
        None
    );
    // The old holder can no longer write or renew; the new one can.
    let write = [Mutation::Keys(vec![put("session", "1", b"x")])];
    assert_eq!(
        a.apply(&write)[0].as_ref().unwrap_err().code,
        Code::LeaseLost
    );
    assert_eq!(a.renew().unwrap_err().code, Code::LeaseLost);
    assert!(b.apply(&write)[0].is_ok());
    b.renew().unwrap();
    assert_eq!(a.get("session", &ids(&["1"])).unwrap().len(), 1);
    // Release frees it; closing releases it too.
    b.release().unwrap();
    assert_eq!(a.acquire(&lease("a2"), &Takeover::Never).unwrap(), None);
    drop(a);
    assert_eq!(b.acquire(&lease("b2"), &Takeover::Never).unwrap(), None);
}

#[test]
fn a_lapsed_lease_is_taken() {
    let dir = TempDir::new("lapse");
    let path = dir.file("auth.db");
    let mut a = open(&path, "s");
    let mut b = open(&path, "s");
    let short = Lease {
        ttl_ms: 1,
        ..lease("a")
    };
    assert_eq!(a.acquire(&short, &Takeover::Never).unwrap(), None);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(b.acquire(&lease("b"), &Takeover::Never).unwrap(), None);
    std::mem::forget(a); // a crashed holder: nothing released
}

#[test]
fn replace_sessions_counts_and_delete() {
    let dir = TempDir::new("replace");
    let path = dir.file("auth.db");
    let mut a = open(&path, "a");
    let mut b = open(&path, "b");
    let r = a.apply(&[Mutation::Keys(vec![
        put("session", "old", b"1"),
        put("pre-key", "1", b"22"),
    ])]);
    assert!(r[0].is_ok());
    let r = a.apply(&[Mutation::Replace {
        creds: Some(b"creds".to_vec()),
        keys: vec![put("session", "new", b"333"), put("session", "n2", b"4")],
    }]);
    assert!(r[0].is_ok());
    assert_eq!(a.load_creds().unwrap().unwrap(), b"creds");
    assert_eq!(a.get("session", &ids(&["old", "new"])).unwrap().len(), 1);
    let counts = a.counts().unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].count, counts[0].bytes), (2, 4));
    assert!(b.apply(&[Mutation::Creds(b"c".to_vec())])[0].is_ok());
    a.acquire(&lease("a"), &Takeover::Never).unwrap();
    let sessions = a.sessions().unwrap();
    let names: Vec<_> = sessions.iter().map(|s| s.session_id.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!((sessions[0].keys, sessions[0].has_creds), (2, true));
    assert_eq!(sessions[0].holder.as_ref().unwrap().token, "a");
    assert!(sessions[1].holder.is_none());
    assert!(a.delete_session().unwrap());
    assert!(!a.delete_session().unwrap());
    assert_eq!(b.sessions().unwrap().len(), 1);
    assert!(b.integrity().unwrap().is_empty());
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
