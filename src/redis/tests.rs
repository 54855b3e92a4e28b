//! Against the Redis server of `BRA_REDIS_URL` (default the local one); each test works
//! under a key prefix of its own, whose keys are removed at its end.

use std::time::Duration;

use super::*;
use crate::backend_contract::{del, ids, lease, put, server_up, skip, Certs, ServerStore};

fn url() -> String {
    std::env::var("BRA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh prefix, whose keys go with this value.
type Store = ServerStore<RedisBackend>;

impl Store {
    /// Every key under the prefix.
    fn keys(&self) -> Vec<String> {
        admin(::redis::cmd("KEYS").arg(format!("{}*", self.options.namespace))).unwrap()
    }
}

fn fresh(name: &str) -> Option<Store> {
    if !server_up("Redis", "127.0.0.1:6379", "redis-server --daemonize yes") {
        return None;
    }
    Some(ServerStore::new(
        name,
        url(),
        |unique| format!("bra-test:{unique}:"),
        RedisBackend::open,
        |store| {
            for key in store.keys() {
                let _: Result<i64> = admin(::redis::cmd("UNLINK").arg(key));
            }
        },
    ))
}

/// Runs `cmd` on a connection of its own.
fn admin<T: ::redis::FromRedisValue>(cmd: &::redis::Cmd) -> Result<T> {
    block_on(async {
        let client = ::redis::Client::open(url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        Ok(cmd.query_async(&mut conn).await?)
    })
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
    snapshot_is_refused,
);

#[test]
fn names_are_escaped_into_one_hash_tag_per_session() {
    assert_eq!(escape("a:{b}%"), "a%3A%7Bb%7D%25");
    assert_eq!(unescape(&escape("x:{y}%é")), "x:{y}%é");
    let keys = Keys::new("p:", "s}:k:t");
    assert_eq!(keys.values("t"), "p:{s%7D%3Ak%3At}:k:t");
    let Some(store) = fresh("tags") else { return };
    let mut db = store.open("s}:k:t");
    assert!(db.apply(&[Mutation::Keys(vec![put("t}:x", "1", b"v")])])[0].is_ok());
    let mut other = store.open("s");
    assert_eq!(other.get("t", &ids(&["1"])).unwrap(), vec![]);
    assert_eq!(db.counts().unwrap()[0].kind, "t}:x");
    assert!(db.integrity().unwrap().is_empty());
}

/// Batches of one type's puts and lone creds writes take the script's short path: it must
/// keep the ids index and the sizes as the general one does.
#[test]
fn short_path_writes_keep_the_index_and_sizes() {
    let Some(store) = fresh("short") else { return };
    let mut db = store.open("s");
    let count = |db: &mut Box<dyn Backend>| {
        let c = db.counts().unwrap();
        assert_eq!(c.len(), 1);
        (c[0].count, c[0].bytes)
    };
    let keys = |writes| Mutation::Keys(writes);
    assert!(db.apply(&[keys(vec![put("t", "1", b"aa"), put("t", "2", b"")])])[0].is_ok());
    assert_eq!(count(&mut db), (2, 2));
    assert!(db.apply(&[keys(vec![put("t", "1", b"abcd"), put("t", "3", b"x")])])[0].is_ok());
    assert_eq!(count(&mut db), (3, 5));
    assert!(db.apply(&[keys(vec![put("t", "2", b"")])])[0].is_ok());
    assert_eq!(count(&mut db), (3, 5));
    let listed: Vec<String> = db
        .list("t", None, 10, false)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(listed, ids(&["1", "2", "3"]));
    assert_eq!(
        db.get("t", &ids(&["1", "2"])).unwrap(),
        vec![("1".into(), b"abcd".to_vec()), ("2".into(), Vec::new())]
    );
    assert!(db.apply(&[Mutation::Creds(b"c\0\xff".to_vec())])[0].is_ok());
    assert_eq!(db.load_creds().unwrap(), Some(b"c\0\xff".to_vec()));
    let info = db.sessions().unwrap();
    assert!(info[0].has_creds && info[0].keys == 3 && info[0].bytes == 5);
    assert!(db.integrity().unwrap().is_empty());
}

/// The fast lane (lane.rs) writes and reads as the shared connection does; a write it
/// sent whose answer is late is collected by `finish_owed`, the script loaded again if the
/// server lost it meanwhile.
#[test]
fn the_fast_lane_writes_and_reads_like_the_shared_connection() {
    let Some(store) = fresh("lane") else { return };
    let mut db = store.open("s");
    let stored = |v: &[u8]| {
        let value = crate::codec::Value::Bytes(v.to_vec()).encode();
        crate::codec::to_stored(&value).unwrap()
    };
    let write = |db: &mut Box<dyn Backend>, value: &[u8]| match db
        .try_apply(&[Mutation::Keys(vec![put("t", "1", &stored(value))])])
    {
        TryApply::Done(results) => results.into_iter().collect::<Result<()>>(),
        // A loaded machine may be late by a millisecond.
        TryApply::Owed => db.finish_owed(),
        TryApply::NotNow => panic!("the lane is not taken"),
    };
    let read = |db: &mut Box<dyn Backend>, value: &[u8]| {
        assert_eq!(
            db.get("t", &ids(&["1"])).unwrap(),
            vec![("1".into(), stored(value))]
        )
    };
    write(&mut db, b"a").unwrap();
    read(&mut db, b"a");
    if let Some(frame) = db.try_get_frame("t", &ids(&["1"])) {
        assert_eq!(frame.unwrap(), db.get_frame("t", &ids(&["1"])).unwrap());
    }

    // The server forgot the script: the lane loads it again.
    let _: String = admin(::redis::cmd("SCRIPT").arg("FLUSH")).unwrap();
    write(&mut db, b"b").unwrap();
    read(&mut db, b"b");

    // Writes paused: the answer is late and owed, then collected, the script loaded again
    // first if it was forgotten.
    for flush in [false, true] {
        if flush {
            let _: String = admin(::redis::cmd("SCRIPT").arg("FLUSH")).unwrap();
        }
        let _: String = admin(::redis::cmd("CLIENT").arg(&["PAUSE", "300", "WRITE"])).unwrap();
        let value = [b'c', u8::from(flush)];
        let tried = db.try_apply(&[Mutation::Keys(vec![put("t", "1", &stored(&value))])]);
        assert!(matches!(tried, TryApply::Owed), "{tried:?}");
        db.finish_owed().unwrap();
        read(&mut db, &value);
        // A late answer rests the lane for a second.
        let next = [Mutation::Keys(vec![put("t", "2", &stored(b"x"))])];
        assert!(matches!(db.try_apply(&next), TryApply::NotNow));
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(db.finish_owed().is_err(), "nothing is owed any more");

    // A lane the server closed (as it does past its idle `timeout`) is found closed before
    // a write is sent on it, and connected again.
    let name = format!("bra-lane-test-{}", std::process::id());
    let options = ServerOptions {
        client_name: name.clone(),
        ..store.options.clone()
    };
    let mut own = RedisBackend::open(&store.url, &options).unwrap();
    let put_now =
        |be: &mut RedisBackend| be.try_apply(&[Mutation::Keys(vec![put("t", "3", &stored(b"y"))])]);
    // Answered in time, so that the lane stays (a loaded machine may be late).
    for tries in 0.. {
        match put_now(&mut own) {
            TryApply::Done(r) if r == [Ok(())] => break,
            TryApply::Owed => own.finish_owed().unwrap(),
            other => assert!(matches!(other, TryApply::NotNow), "{other:?}"),
        }
        assert!(tries < 5, "the lane answers in time");
        std::thread::sleep(Duration::from_millis(1100));
    }
    kill_client(&name, " cmd=evalsha ");
    match put_now(&mut own) {
        TryApply::Done(r) => assert_eq!(r, [Ok(())]),
        TryApply::Owed => own.finish_owed().unwrap(),
        TryApply::NotNow => panic!("the lane is connected again"),
    }
}

/// Kills the connection named `name` whose `CLIENT LIST` line holds `marker`, and lets the
/// close reach the client.
fn kill_client(name: &str, marker: &str) {
    let listed: String = admin(::redis::cmd("CLIENT").arg("LIST")).unwrap();
    let id = listed
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")) && l.contains(marker))
        .and_then(|l| l.strip_prefix("id="))
        .and_then(|l| l.split(' ').next())
        .expect("the connection")
        .to_owned();
    let _: i64 = admin(::redis::cmd("CLIENT").arg(&["KILL", "ID", &id])).unwrap();
    std::thread::sleep(Duration::from_millis(50));
}

/// How many times the server ran EXEC.
fn execs() -> u64 {
    let info: String = admin(::redis::cmd("INFO").arg("commandstats")).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_exec:calls="))
        .and_then(|l| l.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// A large set written in parts is queued in a MULTI on the lane (parts.rs) and written by
/// one EXEC, keeping the ids index and the sizes as the apply script does. When the lease
/// or the session's record changed before EXEC, or the lane broke, nothing of it runs
/// there: it is applied the usual way, which refuses a lost lease.
#[test]
fn a_set_written_in_parts_is_one_transaction_or_the_usual_write() {
    let Some(store) = fresh("parts") else { return };
    let name = format!("bra-parts-test-{}", std::process::id());
    let options = ServerOptions {
        client_name: name.clone(),
        ..store.options.clone()
    };
    let mut db = RedisBackend::open(&store.url, &options).unwrap();
    assert_eq!(db.acquire(&lease("a"), &Takeover::Never).unwrap(), None);
    let sessions = |from: usize, n: usize, tag: u8| -> Vec<KeyWrite> {
        let value = |i: usize| vec![tag; 100 + i % 50];
        (from..from + n)
            .map(|i| put("session", &i.to_string(), &value(i)))
            .collect()
    };
    let bytes = |tag: u8| -> Vec<(String, Vec<u8>)> {
        let mut all: Vec<_> = sessions(0, 1000, tag)
            .into_iter()
            .map(|w| (w.id, w.value.unwrap()))
            .collect();
        all.sort();
        all
    };
    let read = |db: &mut RedisBackend| {
        let ids: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let mut found = db.get("session", &ids).unwrap();
        found.sort();
        found
    };
    let written = |db: &mut RedisBackend, tag: u8| {
        assert_eq!(read(db), bytes(tag));
        assert!(db.integrity().unwrap().is_empty());
    };
    // A lane dropped with its parts is connected again by a call on the JavaScript thread;
    // until then, parts are kept for the apply script.
    let reconnect = |db: &mut RedisBackend| {
        assert!(!db.write_part(&sessions(0, 1, b'x')).unwrap());
        db.end_parts(None).unwrap_err();
        for tries in 0.. {
            let small = [Mutation::Keys(vec![put("pre-key", "y", b"new")])];
            match db.try_apply(&small) {
                TryApply::Done(r) if r == [Ok(())] => break,
                TryApply::Owed => db.finish_owed().unwrap(),
                other => assert!(matches!(other, TryApply::NotNow), "{other:?}"),
            }
            assert!(tries < 5, "the lane answers in time");
            std::thread::sleep(Duration::from_millis(1100));
        }
    };
    let old = vec![put("pre-key", "x", b"old"), put("session", "gone", b"zz")];
    assert!(db.apply(&[Mutation::Keys(old)])[0].is_ok());

    // Three parts (the first two sent as they come), deletes and a second type among them.
    let before = execs();
    assert!(
        db.write_part(&sessions(0, 700, b'a')).unwrap(),
        "the lane takes the parts"
    );
    let mixed = [
        del("pre-key", "x"),
        del("session", "gone"),
        put("pre-key", "y", b"new"),
    ];
    assert!(db.write_part(&mixed).unwrap());
    db.end_parts(Some(&sessions(700, 300, b'a'))).unwrap();
    assert_eq!(execs(), before + 1, "one EXEC wrote it");
    written(&mut db, b'a');
    let counts: Vec<_> = db
        .counts()
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.count))
        .collect();
    assert_eq!(counts, [("pre-key".into(), 1), ("session".into(), 1000)]);
    assert_eq!(db.get("session", &ids(&["gone"])).unwrap(), vec![]);

    // The store's own renewal between parts changes the lease: applied the usual way.
    assert!(db.write_part(&sessions(0, 700, b'b')).unwrap());
    db.renew().unwrap();
    db.end_parts(Some(&sessions(700, 300, b'b'))).unwrap();
    written(&mut db, b'b');

    // Dropped parts write nothing.
    assert!(db.write_part(&sessions(0, 700, b'd')).unwrap());
    db.end_parts(None).unwrap();
    written(&mut db, b'b');
    reconnect(&mut db);

    // The lane killed between parts: the server dropped the MULTI; applied the usual way.
    assert!(db.write_part(&sessions(0, 700, b'c')).unwrap());
    kill_client(&name, " flags=x "); // in a MULTI
    assert!(db.write_part(&sessions(700, 100, b'c')).unwrap());
    db.end_parts(Some(&sessions(800, 200, b'c'))).unwrap();
    written(&mut db, b'c');
    reconnect(&mut db);

    // Taken over between parts: the lease is lost, and nothing of the set is written.
    assert!(db.write_part(&sessions(0, 700, b'e')).unwrap());
    let mut other = RedisBackend::open(&store.url, &store.options).unwrap();
    assert_eq!(other.acquire(&lease("b"), &Takeover::Always).unwrap(), None);
    let err = db.end_parts(Some(&sessions(700, 300, b'e'))).unwrap_err();
    assert_eq!(err.code, Code::LeaseLost);
    written(&mut db, b'c');
}

#[test]
fn bad_locations_are_refused_clearly() {
    let Some(store) = fresh("bad") else { return };
    let bad = ServerOptions {
        namespace: "a{b}".into(),
        ..store.options("s")
    };
    assert_eq!(
        RedisBackend::open(&url(), &bad).err().unwrap().code,
        Code::InvalidArgument
    );
    // A root certificate is for TLS, and must be a readable PEM file.
    let with_ca = |ca: &str| ServerOptions {
        tls_ca: Some(ca.into()),
        ..store.options("s")
    };
    let certs = Certs::new();
    for (url, ca) in [
        (url(), certs.path("ca.pem")),
        ("rediss://127.0.0.1:6379".into(), "/nonexistent.pem".into()),
        ("rediss://127.0.0.1:6379".into(), certs.path("server.key")),
    ] {
        let err = RedisBackend::open(&url, &with_ca(&ca)).err().unwrap();
        assert_eq!(err.code, Code::InvalidArgument, "{}", err.message);
    }
    let err = RedisBackend::open("redis://127.0.0.1:9", &store.options("s"))
        .err()
        .unwrap();
    assert_eq!(err.code, Code::Unavailable, "{}", err.message);
}

#[test]
fn rediss_to_a_server_without_tls_says_what_may_be_wrong() {
    let Some(store) = fresh("plain-tls") else {
        return;
    };
    // The plain server never answers the handshake: the connection times out.
    let plain = url().replacen("redis://", "rediss://", 1);
    let err = RedisBackend::open(&plain, &store.options("s"))
        .err()
        .unwrap();
    assert_eq!(err.code, Code::Unavailable, "{}", err.message);
    assert!(
        err.message.contains("use a redis:// URL"),
        "{}",
        err.message
    );
}

#[test]
fn waiting_for_absent_replicas_fails_clearly() {
    let Some(store) = fresh("wait") else { return };
    let options = ServerOptions {
        wait: Some((1, Duration::from_millis(20))),
        ..store.options("s")
    };
    let mut db = RedisBackend::open(&url(), &options).unwrap();
    let err = db
        .apply(&[Mutation::Creds(b"c".to_vec())])
        .remove(0)
        .unwrap_err();
    assert_eq!(err.code, Code::NotReplicated, "{}", err.message);
    let mut none = RedisBackend::open(
        &url(),
        &ServerOptions {
            wait: Some((0, Duration::from_millis(20))),
            ..store.options("s")
        },
    )
    .unwrap();
    assert!(none.apply(&[Mutation::Creds(b"c".to_vec())])[0].is_ok());
}

#[test]
fn a_connection_killed_mid_write_writes_nothing_and_the_store_recovers() {
    let Some(store) = fresh("kill") else { return };
    let mut db = store.backend("default");
    assert!(db.apply(&[Mutation::Creds(b"c".to_vec())])[0].is_ok());
    // Paused writes hold the script in the server, received and not run, where it is killed.
    let name = store.options.client_name.clone();
    admin::<()>(::redis::cmd("CLIENT").arg("PAUSE").arg(3000).arg("WRITE")).unwrap();
    let killer = std::thread::spawn(move || {
        for _ in 0..300 {
            let clients: String = admin(::redis::cmd("CLIENT").arg("LIST")).unwrap();
            let waiting = clients
                .lines()
                .find(|l| l.contains(&format!(" name={name} ")) && l.contains("cmd=evalsha"));
            if let Some(line) = waiting {
                let id = line.split(' ').next().unwrap().trim_start_matches("id=");
                let _: i64 = admin(::redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id)).unwrap();
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    });
    let big: Vec<_> = (0..3000)
        .flat_map(|i| {
            [
                put("session", &i.to_string(), &[1; 500]),
                put("pre-key", &i.to_string(), &[2; 64]),
            ]
        })
        .collect();
    let results = db.apply(&[
        Mutation::Keys(big.clone()),
        Mutation::Creds(b"new".to_vec()),
    ]);
    let killed = killer.join().unwrap();
    admin::<()>(::redis::cmd("CLIENT").arg("UNPAUSE")).unwrap();
    assert!(killed, "the write was seen waiting and killed");
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert_eq!(err.code, Code::Unavailable, "{}", err.message);
    }
    assert_eq!(db.load_creds().unwrap(), Some(b"c".to_vec()));
    assert!(db.counts().unwrap().is_empty());
    assert!(db.apply(&[Mutation::Keys(big)])[0].is_ok());
    assert_eq!(db.counts().unwrap().len(), 2);
}

/// A redis-server of a test's own, listening with TLS only, on a free port, with a
/// certificate made for it; stopped when dropped.
struct TlsRedis {
    server: std::process::Child,
    port: u16,
    certs: Certs,
}

impl TlsRedis {
    /// `None` (skipped, failed under CI) when redis-server cannot serve TLS here.
    fn start() -> Option<TlsRedis> {
        let certs = Certs::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let started = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .args(["--tls-cert-file", &certs.path("server.pem")])
            .args(["--tls-key-file", &certs.path("server.key")])
            .args(["--tls-ca-cert-file", &certs.path("ca.pem")])
            .arg("--dir")
            .arg(&certs.dir)
            .stdout(std::process::Stdio::null())
            .spawn();
        let mut server = match started {
            Ok(child) => child,
            Err(e) => {
                skip(&format!("cannot start redis-server: {e}"));
                return None;
            }
        };
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(TlsRedis {
                    server,
                    port,
                    certs,
                });
            }
            if let Ok(Some(status)) = server.try_wait() {
                skip(&format!(
                    "redis-server with --tls-port exited ({status}): is it built with TLS?"
                ));
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        panic!("redis-server with TLS did not listen on port {port}");
    }

    fn url(&self, host: &str) -> String {
        format!("rediss://{host}:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn rediss_checks_the_certificate_unless_insecure() {
    let Some(server) = TlsRedis::start() else {
        return;
    };
    let store = ServerStore::new(
        "tls",
        server.url("127.0.0.1"),
        |unique| format!("bra-test:{unique}:"),
        RedisBackend::open,
        // The server goes, and its data with it.
        |_| {},
    );
    let trusting = |ca: &str| ServerOptions {
        tls_ca: Some(ca.into()),
        ..store.options("s")
    };
    let round_trip = |url: &str, options: &ServerOptions| {
        let mut db = RedisBackend::open(url, options).unwrap();
        let value = vec![0, 1, 2, 255];
        assert!(db.apply(&[Mutation::Keys(vec![put("session", "a", &value)])])[0].is_ok());
        assert_eq!(
            db.get("session", &ids(&["a"])).unwrap(),
            vec![("a".into(), value)]
        );
    };
    let ca = server.certs.path("ca.pem");
    round_trip(&server.url("127.0.0.1"), &trusting(&ca));
    round_trip(&server.url("localhost"), &trusting(&ca));

    // The system's roots, or another authority's, reject the certificate.
    let other = Certs::new();
    for options in [store.options("s"), trusting(&other.path("ca.pem"))] {
        let err = RedisBackend::open(&server.url("127.0.0.1"), &options)
            .err()
            .unwrap();
        assert_eq!(err.code, Code::Unavailable, "{}", err.message);
        assert!(err.message.contains("TLS handshake"), "{}", err.message);
        assert!(err.message.contains("not trusted"), "{}", err.message);
    }

    // `#insecure` checks nothing.
    round_trip(
        &format!("{}/#insecure", server.url("127.0.0.1")),
        &store.options("s"),
    );
}
