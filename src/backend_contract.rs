//! What every `Backend` must do, written once and run on each engine: SQLite, and the
//! PostgreSQL and Redis servers. `open(session)` gives a new connection to one shared store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backend::{Backend, KeyWrite, Lease, Mutation, Takeover};
use crate::codec::{to_stored, Value};
use crate::error::{Code, Result};
use crate::server::ServerOptions;
use crate::wire;

pub type Open<'a> = &'a dyn Fn(&str) -> Box<dyn Backend>;

pub fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite {
        kind: kind.into(),
        id: id.into(),
        value: Some(value.to_vec()),
    }
}

pub fn del(kind: &str, id: &str) -> KeyWrite {
    KeyWrite {
        kind: kind.into(),
        id: id.into(),
        value: None,
    }
}

pub fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn lease(token: &str) -> Lease {
    Lease {
        token: token.into(),
        pid: 1,
        host: "here".into(),
        ttl_ms: 60_000,
    }
}

fn sorted(mut v: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    v.sort();
    v
}

pub fn get_set_delete_clear(open: Open) {
    let mut db = open("default");
    assert_eq!(db.get("pre-key", &ids(&["1"])).unwrap(), vec![]);
    assert_eq!(db.load_creds().unwrap(), None);
    let results = db.apply(&[Mutation::Keys(vec![
        put("pre-key", "1", b"one"),
        put("pre-key", "2", b"two"),
        put("session", "1", b"s"),
        put("odd:{type}%", "id with : and {braces}", b""),
    ])]);
    assert_eq!(results, vec![Ok(())]);
    assert_eq!(
        sorted(db.get("pre-key", &ids(&["1", "2", "3"])).unwrap()),
        vec![("1".into(), b"one".to_vec()), ("2".into(), b"two".to_vec())]
    );
    assert_eq!(
        db.get("odd:{type}%", &ids(&["id with : and {braces}"]))
            .unwrap(),
        vec![("id with : and {braces}".into(), vec![])]
    );
    // The last write of a key in one call wins.
    db.apply(&[Mutation::Keys(vec![
        del("pre-key", "1"),
        put("pre-key", "2", b"2?"),
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
    assert!(db.counts().unwrap().is_empty());
    // Clear keeps the creds.
    assert_eq!(db.load_creds().unwrap(), Some(b"creds".to_vec()));
}

/// A reply frame holds what `get` finds, presented; a damaged value fails the read instead
/// of reaching JavaScript.
pub fn frames_present_what_get_finds(open: Open) {
    let mut db = open("default");
    let json = Value::Object(vec![("n".into(), Value::Number(7.0))]).encode();
    let bytes = Value::Bytes(vec![1, 2, 3]).encode();
    let results = db.apply(&[Mutation::Keys(vec![
        put("session", "b", &to_stored(&json).unwrap()),
        put("session", "a", &to_stored(&bytes).unwrap()),
    ])]);
    assert_eq!(results, vec![Ok(())]);
    let asked = ids(&["b", "missing", "a"]);
    let found = db.get("session", &asked).unwrap();
    assert_eq!(found.len(), 2);
    let frame = db.get_frame("session", &asked).unwrap();
    assert_eq!(frame, wire::entries_frame("session", &found).unwrap());
    assert_eq!(db.get_frame("session", &ids(&["missing"])).unwrap(), [0]);
    assert_eq!(
        db.apply(&[Mutation::Keys(vec![put("session", "c", &[200])])]),
        vec![Ok(())]
    );
    assert_eq!(
        db.get_frame("session", &ids(&["c"])).unwrap_err().code,
        Code::Corrupt
    );
}

/// A batch of several mutations (group commit) applies each; a lost lease fails them all,
/// writing nothing.
pub fn batches_apply_whole_or_not_at_all(open: Open) {
    let mut a = open("s");
    let mut b = open("s");
    let results = a.apply(&[
        Mutation::Keys(vec![put("session", "a", b"a"), put("pre-key", "1", b"k")]),
        Mutation::Creds(b"c1".to_vec()),
        Mutation::Keys(vec![del("pre-key", "1"), put("sender-key", "g", b"g")]),
        Mutation::Creds(b"c2".to_vec()),
    ]);
    assert_eq!(results, vec![Ok(()), Ok(()), Ok(()), Ok(())]);
    assert_eq!(b.load_creds().unwrap(), Some(b"c2".to_vec()));
    assert_eq!(b.get("pre-key", &ids(&["1"])).unwrap(), vec![]);
    assert_eq!(b.get("sender-key", &ids(&["g"])).unwrap().len(), 1);

    assert_eq!(a.acquire(&lease("a"), &Takeover::Never).unwrap(), None);
    assert_eq!(b.acquire(&lease("b"), &Takeover::Always).unwrap(), None);
    let results = a.apply(&[
        Mutation::Keys(vec![put("session", "late", b"x")]),
        Mutation::Creds(b"late".to_vec()),
    ]);
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err().code == Code::LeaseLost));
    assert_eq!(b.get("session", &ids(&["late"])).unwrap(), vec![]);
    assert_eq!(b.load_creds().unwrap(), Some(b"c2".to_vec()));
}

pub fn sessions_are_isolated_and_survive_reopen(open: Open) {
    {
        let mut a = open("a");
        let mut b = open("b");
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
    let mut a = open("a");
    assert_eq!(
        a.get("t", &ids(&["x"])).unwrap(),
        vec![("x".into(), b"A".to_vec())]
    );
    assert_eq!(a.load_creds().unwrap(), Some(b"ca".to_vec()));
}

pub fn list_pages_in_id_order(open: Open) {
    let mut db = open("default");
    // Byte order: "B" < "a" < "é", whatever the server's locale.
    let mut expected: Vec<String> = (0..600).map(|i| format!("{i:04}")).collect();
    expected.extend(["B", "a", "é"].map(String::from));
    let writes = expected.iter().rev().map(|id| put("k", id, id.as_bytes()));
    db.apply(&[Mutation::Keys(writes.collect())]);
    let first = db.list("k", None, 4, true).unwrap();
    assert_eq!(first[0], ("0000".into(), b"0000".to_vec()));
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = db.list("k", after.as_deref(), 256, false).unwrap();
        assert!(page.iter().all(|e| e.1.is_empty()));
        listed.extend(page.iter().map(|e| e.0.clone()));
        if page.len() < 256 {
            break;
        }
        after = page.last().map(|e| e.0.clone());
    }
    assert_eq!(listed, expected);
    assert!(db.list("other", None, 10, true).unwrap().is_empty());
}

pub fn one_live_lease_per_session(open: Open) {
    let mut a = open("s");
    let mut b = open("s");
    let mut other = open("t");
    assert_eq!(a.acquire(&lease("a"), &Takeover::Never).unwrap(), None);
    let held = b.acquire(&lease("b"), &Takeover::Never).unwrap().unwrap();
    assert_eq!((held.token.as_str(), held.host.as_str()), ("a", "here"));
    assert_eq!((held.pid, held.ttl_ms), (1, 60_000));
    // Another session is free, and the holder may take its own lease again.
    assert_eq!(other.acquire(&lease("c"), &Takeover::Never).unwrap(), None);
    assert_eq!(a.acquire(&lease("a"), &Takeover::Never).unwrap(), None);
    // The holder writes, one write after another (a store may trust what it saw at its
    // last write while nothing else was committed): a takeover still stops its next one.
    for _ in 0..2 {
        let warm = [Mutation::Keys(vec![put("session", "warm", b"w")])];
        assert!(a.apply(&warm)[0].is_ok());
    }
    // Taking over from a holder that is not the one named is refused.
    assert!(b
        .acquire(&lease("b"), &Takeover::From("x".into()))
        .unwrap()
        .is_some());
    assert_eq!(
        b.acquire(&lease("b"), &Takeover::From("a".into())).unwrap(),
        None
    );
    // The old holder can no longer write (puts, deletes or creds), renew or delete; the new
    // one can.
    let write = [Mutation::Keys(vec![put("session", "1", b"x")])];
    let refused = [
        write[0].clone(),
        Mutation::Keys(vec![del("session", "warm"), put("session", "1", b"x")]),
        Mutation::Creds(b"late".to_vec()),
    ];
    for mutation in refused {
        assert_eq!(
            a.apply(&[mutation])[0].as_ref().unwrap_err().code,
            Code::LeaseLost
        );
    }
    assert_eq!(a.get("session", &ids(&["warm", "1"])).unwrap().len(), 1);
    assert_eq!(a.renew().unwrap_err().code, Code::LeaseLost);
    assert_eq!(a.delete_session().unwrap_err().code, Code::LeaseLost);
    assert!(b.apply(&write)[0].is_ok());
    b.renew().unwrap();
    assert_eq!(a.get("session", &ids(&["1"])).unwrap().len(), 1);
    // Release frees it; closing releases it too.
    b.release().unwrap();
    assert_eq!(a.acquire(&lease("a2"), &Takeover::Never).unwrap(), None);
    drop(a);
    assert_eq!(b.acquire(&lease("b2"), &Takeover::Never).unwrap(), None);
}

pub fn a_lapsed_lease_is_taken(open: Open) {
    let mut a = open("s");
    let mut b = open("s");
    let short = Lease {
        ttl_ms: 1,
        ..lease("a")
    };
    assert_eq!(a.acquire(&short, &Takeover::Never).unwrap(), None);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(b.acquire(&lease("b"), &Takeover::Never).unwrap(), None);
    assert_eq!(
        a.apply(&[Mutation::Clear])[0].as_ref().unwrap_err().code,
        Code::LeaseLost
    );
    std::mem::forget(a); // a crashed holder: nothing released
}

pub fn replace_sessions_counts_and_delete(open: Open) {
    let mut a = open("a");
    let mut b = open("b");
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
    assert_eq!(
        (counts[0].kind.as_str(), counts[0].count, counts[0].bytes),
        ("session", 2, 4)
    );
    assert!(b.apply(&[Mutation::Creds(b"c".to_vec())])[0].is_ok());
    a.acquire(&lease("a"), &Takeover::Never).unwrap();
    let sessions = a.sessions().unwrap();
    let names: Vec<_> = sessions.iter().map(|s| s.session_id.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        (sessions[0].keys, sessions[0].bytes, sessions[0].has_creds),
        (2, 4, true)
    );
    assert!(sessions[0].created_ms > 0 && sessions[0].updated_ms >= sessions[0].created_ms);
    assert_eq!(sessions[0].holder.as_ref().unwrap().token, "a");
    assert!(sessions[1].holder.is_none());
    assert!(a.integrity().unwrap().is_empty());
    assert!(a.delete_session().unwrap());
    assert!(!a.delete_session().unwrap());
    assert_eq!(b.sessions().unwrap().len(), 1);
    assert_eq!(a.load_creds().unwrap(), None);
    assert!(a.counts().unwrap().is_empty());
    assert!(b.integrity().unwrap().is_empty());
    // A deleted session is made anew by its next write.
    assert!(a.apply(&[Mutation::Keys(vec![put("t", "1", b"v")])])[0].is_ok());
    assert_eq!(a.get("t", &ids(&["1"])).unwrap().len(), 1);
}

/// A store whose session another handle deleted (no lease kept it) fails its writes with
/// `SessionNotFound` and writes nothing: neither creds without their keys, nor keys. A new
/// handle starts the session anew.
pub fn a_session_deleted_elsewhere_is_not_written(open: Open) {
    let mut a = open("s");
    assert!(a.apply(&[Mutation::Creds(b"creds".to_vec())])[0].is_ok());
    assert!(a.apply(&[Mutation::Keys(vec![put("pre-key", "1", b"1")])])[0].is_ok());
    let mut b = open("s");
    assert!(b.delete_session().unwrap());
    for m in [
        Mutation::Keys(vec![put("pre-key", "2", b"2")]),
        Mutation::Creds(b"again".to_vec()),
        Mutation::Replace {
            creds: Some(b"again".to_vec()),
            keys: vec![put("pre-key", "3", b"3")],
        },
    ] {
        let r = a.apply(&[m]);
        assert_eq!(
            r[0].as_ref().unwrap_err().code,
            Code::SessionNotFound,
            "{r:?}"
        );
    }
    // Together in one batch, as the storage thread groups them: each fails the same way.
    let r = a.apply(&[
        Mutation::Creds(b"again".to_vec()),
        Mutation::Keys(vec![put("pre-key", "4", b"4")]),
    ]);
    assert!(r
        .iter()
        .all(|r| r.as_ref().is_err_and(|e| e.code == Code::SessionNotFound)));
    assert!(b.sessions().unwrap().iter().all(|s| s.session_id != "s"));
    assert_eq!(b.load_creds().unwrap(), None);
    assert!(b
        .get("pre-key", &ids(&["1", "2", "3", "4"]))
        .unwrap()
        .is_empty());
    let mut c = open("s");
    assert!(c.apply(&[Mutation::Creds(b"new".to_vec())])[0].is_ok());
    assert_eq!(c.load_creds().unwrap().unwrap(), b"new");
}

/// A store whose session was deleted elsewhere does not take the sessions made after it
/// for its own, whatever row they get (SQLite gave a new session the largest row id plus
/// one: the deleted one's) and even under the same name: its writes fail and theirs are
/// untouched. It reads nothing of another session, nor of one made again under its name.
pub fn a_deleted_session_is_not_mistaken_for_a_later_one(open: Open) {
    let mut a = open("old");
    assert_eq!(
        a.apply(&[Mutation::Keys(vec![put("pre-key", "1", b"a")])]),
        vec![Ok(())]
    );
    assert_eq!(a.get("pre-key", &ids(&["1"])).unwrap().len(), 1);
    assert!(open("old").delete_session().unwrap());
    let mut other = open("other");
    assert_eq!(
        other.apply(&[Mutation::Keys(vec![put("pre-key", "1", b"other")])]),
        vec![Ok(())]
    );
    assert!(a.get("pre-key", &ids(&["1"])).unwrap().is_empty());
    let mut again = open("old");
    assert_eq!(
        again.apply(&[Mutation::Keys(vec![put("pre-key", "2", b"again")])]),
        vec![Ok(())]
    );
    for m in [
        Mutation::Keys(vec![put("pre-key", "3", b"stale")]),
        Mutation::Creds(b"stale".to_vec()),
    ] {
        let r = a.apply(&[m]);
        assert_eq!(
            r[0].as_ref().unwrap_err().code,
            Code::SessionNotFound,
            "{r:?}"
        );
    }
    assert!(a.get("pre-key", &ids(&["1", "2", "3"])).unwrap().is_empty());
    assert_eq!(
        other.get("pre-key", &ids(&["1", "3"])).unwrap(),
        vec![("1".into(), b"other".to_vec())]
    );
    assert_eq!(
        again.get("pre-key", &ids(&["1", "2", "3"])).unwrap(),
        vec![("2".into(), b"again".to_vec())]
    );
    assert_eq!(again.load_creds().unwrap(), None);
}

/// Counts and sizes follow large mixed writes: many keys of a type at once, a key written
/// twice or written then deleted in one call, types interleaved.
pub fn counts_follow_large_mixed_writes(open: Open) {
    let mut db = open("s");
    let mut writes: Vec<KeyWrite> = (0..1200)
        .map(|i| put("pre-key", &i.to_string(), &vec![b'p'; i % 7]))
        .collect();
    writes.insert(600, put("session", "a", b"aaaa"));
    writes.extend([
        put("pre-key", "3", b"longer value"),
        put("session", "a", b"a"),
        put("session", "b", b"bb"),
        del("session", "b"),
        put("pre-key", "1199", b""),
    ]);
    assert_eq!(db.apply(&[Mutation::Keys(writes)]), vec![Ok(())]);
    let after_first: i64 = (0..1200).map(|i| (i % 7) as i64).sum::<i64>() - 3 + 12 - 1199 % 7;
    let counts = |db: &mut Box<dyn Backend>| -> Vec<(String, i64, i64)> {
        let counts = db.counts().unwrap();
        counts
            .into_iter()
            .map(|c| (c.kind, c.count, c.bytes))
            .collect()
    };
    assert_eq!(
        counts(&mut db),
        [
            ("pre-key".into(), 1200, after_first),
            ("session".into(), 1, 1)
        ]
    );
    // Rewritten at other sizes, some deleted, in two mutations of one batch.
    let rewrite: Vec<KeyWrite> = (0..1200)
        .map(|i| match i % 3 {
            0 => del("pre-key", &i.to_string()),
            _ => put("pre-key", &i.to_string(), b"xy"),
        })
        .collect();
    let results = db.apply(&[
        Mutation::Keys(rewrite),
        Mutation::Keys(vec![del("session", "a"), put("pre-key", "0", b"z")]),
    ]);
    assert_eq!(results, vec![Ok(()), Ok(())]);
    assert_eq!(counts(&mut db), [("pre-key".into(), 801, 800 * 2 + 1)]);
    assert!(db.integrity().unwrap().is_empty());
}

/// Server stores have no file to copy: snapshot refuses, pointing to the JSON export.
pub fn snapshot_is_refused(open: Open) {
    let mut a = open("s");
    let err = a
        .snapshot(std::path::Path::new("/nonexistent"), false, &|_, _| {})
        .unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument);
    assert!(err.message.contains("exportJson"), "{}", err.message);
}

/// A write the engine refuses midway (the caller made it refuse id `huge`, e.g. by a
/// trigger) fails its own mutation only; alone, it rolls back its whole transaction. `db`
/// holds `session/keep = old`.
pub fn a_refused_write_fails_alone(db: &mut dyn Backend) {
    let results = db.apply(&[
        Mutation::Keys(vec![put("session", "a", b"a")]),
        Mutation::Keys(vec![
            put("session", "keep", b"new"),
            del("session", "a"),
            put("session", "huge", &[0; 2000]),
        ]),
        Mutation::Keys(vec![put("session", "c", b"c")]),
    ]);
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(results[1].as_ref().unwrap_err().message.contains("refused"));
    let got = sorted(
        db.get("session", &ids(&["a", "keep", "huge", "c"]))
            .unwrap(),
    );
    assert_eq!(
        got,
        vec![
            ("a".into(), b"a".to_vec()),
            ("c".into(), b"c".to_vec()),
            ("keep".into(), b"old".to_vec()),
        ]
    );
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

/// A store on a server for one test: a namespace (schema, key prefix) and client name of
/// its own, cleaned up by `clean` when dropped.
pub struct ServerStore<B> {
    pub options: ServerOptions,
    pub url: String,
    open: fn(&str, &ServerOptions) -> Result<B>,
    clean: fn(&ServerStore<B>),
}

impl<B: Backend + 'static> ServerStore<B> {
    /// `namespace` turns a name unique to this test run into the store's namespace.
    pub fn new(
        name: &str,
        url: String,
        namespace: impl FnOnce(&str) -> String,
        open: fn(&str, &ServerOptions) -> Result<B>,
        clean: fn(&ServerStore<B>),
    ) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let unique = format!("{}_{nanos}_{name}", std::process::id());
        ServerStore {
            options: ServerOptions {
                session: "default".into(),
                namespace: namespace(&unique),
                client_name: format!("bra-test-{unique}"),
                busy_timeout: Duration::from_secs(5),
                wait: None,
                tls_ca: None,
            },
            url,
            open,
            clean,
        }
    }

    pub fn options(&self, session: &str) -> ServerOptions {
        ServerOptions {
            session: session.into(),
            ..self.options.clone()
        }
    }

    pub fn backend(&self, session: &str) -> B {
        (self.open)(&self.url, &self.options(session)).unwrap()
    }

    pub fn open(&self, session: &str) -> Box<dyn Backend> {
        Box::new(self.backend(session))
    }
}

impl<B> Drop for ServerStore<B> {
    fn drop(&mut self) {
        (self.clean)(self);
    }
}

/// Runs every test above on one engine; `fresh()` makes an opener of a new, empty store.
#[macro_export]
macro_rules! backend_contract {
    ($fresh:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let Some(store) = $fresh(stringify!($name)) else { return };
                $crate::backend_contract::$name(&|session| store.open(session));
            }
        )*
    };
}

/// Whether the server at `addr` answers; `false` (the test skipped, with a message) when it
/// does not, unless CI is set, where a missing server fails the run.
pub fn server_up(name: &str, addr: &str, start: &str) -> bool {
    let up = addr
        .parse()
        .ok()
        .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
        .is_some();
    if !up {
        skip(&format!(
            "{name} is not running on {addr}; start it with `{start}`"
        ));
    }
    up
}

/// Says why a test is skipped; under CI, where every test must run, fails it instead.
pub fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
}

/// A throwaway certificate authority and a server certificate it signed, for localhost and
/// 127.0.0.1 (`ca.pem`, `server.pem`, `server.key`), in a directory removed on drop. The
/// node tests make theirs with the same script.
pub struct Certs {
    pub dir: std::path::PathBuf,
}

impl Certs {
    pub fn new() -> Certs {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bra-certs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/__test__/helpers/make-certs.sh"
        );
        let made = std::process::Command::new("sh")
            .arg(script)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(made.success(), "{script} failed");
        Certs { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
