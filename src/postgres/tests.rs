//! Against the PostgreSQL server of `BRA_POSTGRES_URL` (default the local one); each test
//! works in a schema of its own, dropped at its end.

use std::time::Duration;

use super::*;
use crate::backend_contract::{ids, put, server_up, skip, Certs, ServerStore};

fn url() -> String {
    std::env::var("BRA_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into())
}

/// A fresh schema, dropped with this value.
type Store = ServerStore<PostgresBackend>;

impl Store {
    fn schema(&self) -> &str {
        &self.options.namespace
    }
}

fn fresh(name: &str) -> Option<Store> {
    if !server_up(
        "PostgreSQL",
        "127.0.0.1:5432",
        "pg_ctlcluster 15 main start",
    ) {
        return None;
    }
    Some(ServerStore::new(
        name,
        url(),
        |unique| format!("bra_t{}", &unique[..unique.len().min(50)]).to_lowercase(),
        PostgresBackend::open,
        |store| {
            let _ = admin(&format!("DROP SCHEMA IF EXISTS {} CASCADE", store.schema()));
        },
    ))
}

/// Runs `sql` on a connection of its own, outside any pool.
fn admin(sql: &str) -> Result<Vec<tokio_postgres::SimpleQueryMessage>> {
    block_on(async {
        let (client, conn) = tokio_postgres::connect(&url(), NoTls).await?;
        tokio::spawn(conn);
        Ok(client.simple_query(sql).await?)
    })
}

/// The first column of each row `sql` returns.
fn column(sql: &str) -> Vec<String> {
    admin(sql)
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// `url` with more parameters.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
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
fn a_failing_mutation_leaves_nothing_and_spares_its_neighbours() {
    let Some(store) = fresh("rollback") else {
        return;
    };
    let mut db = store.open("default");
    db.apply(&[Mutation::Keys(vec![put("session", "keep", b"old")])]);
    // A row the server refuses midway (here by a trigger) fails its own mutation only.
    admin(&format!(
        "CREATE FUNCTION {s}.refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON {s}.key FOR EACH ROW
           WHEN (NEW.id = 'huge') EXECUTE FUNCTION {s}.refuse();",
        s = store.schema()
    ))
    .unwrap();
    crate::backend_contract::a_refused_write_fails_alone(db.as_mut());
}

#[test]
fn schema_is_created_once_by_processes_racing_and_versioned() {
    let Some(store) = fresh("schema") else { return };
    // Several connections migrating one new schema at once: one creates it, the others wait.
    let opened: Vec<_> = (0..4)
        .map(|i| {
            let options = ServerOptions {
                client_name: format!("{}-{i}", store.options.client_name),
                ..store.options("default")
            };
            std::thread::spawn(move || PostgresBackend::open(&url(), &options).map(|_| ()))
        })
        .collect();
    for t in opened {
        t.join().unwrap().unwrap();
    }
    let versions = column(&format!(
        "SELECT version FROM {}.schema_version",
        store.schema()
    ));
    assert_eq!(versions, [SCHEMA_VERSION.to_string()]);

    // A newer schema is refused, untouched.
    admin(&format!(
        "UPDATE {}.schema_version SET version = 999",
        store.schema()
    ))
    .unwrap();
    let err = PostgresBackend::open(&url(), &store.options("default"))
        .err()
        .unwrap();
    assert_eq!(err.code, Code::SchemaTooNew);

    // So is a schema of another program.
    let Some(foreign) = fresh("foreign") else {
        return;
    };
    admin(&format!(
        "CREATE SCHEMA {s}; CREATE TABLE {s}.unrelated (x int);",
        s = foreign.schema()
    ))
    .unwrap();
    let err = PostgresBackend::open(&url(), &foreign.options("default"))
        .err()
        .unwrap();
    assert_eq!(err.code, Code::NotADatabase);
}

#[test]
fn a_version_1_schema_is_migrated_with_its_keys() {
    let Some(store) = fresh("v1") else { return };
    let s = store.schema();
    admin(&format!(
        "CREATE SCHEMA {s}; SET search_path = {s}; {}
         CREATE TABLE schema_version (version integer NOT NULL);
         INSERT INTO schema_version VALUES (1);
         INSERT INTO session (name, created_ms, updated_ms) VALUES ('default', 0, 0);
         INSERT INTO key VALUES (1, 'pre-key', '1', '\\x01');",
        schema::MIGRATIONS[0]
    ))
    .unwrap();
    let mut db = store.open("default");
    assert_eq!(
        db.get("pre-key", &ids(&["1"])).unwrap(),
        [("1".into(), vec![1])]
    );
    let version = column(&format!("SELECT version FROM {s}.schema_version"));
    assert_eq!(version, [SCHEMA_VERSION.to_string()]);
    let foreign_keys = column(&format!(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = '{s}.key'::regclass AND contype = 'f'"
    ));
    assert_eq!(foreign_keys, ["0"]);
    // Deleting a session deletes its keys, as the foreign key's cascade did: through the
    // store, and by an operator's SQL outside the store's search_path.
    let mut other = store.open("other");
    assert!(other.apply(&[Mutation::Keys(vec![put("pre-key", "2", b"2")])])[0].is_ok());
    admin(&format!("DELETE FROM {s}.session WHERE name = 'other'")).unwrap();
    assert_eq!(column(&format!("SELECT id FROM {s}.key")), ["1"]);
    assert!(db.delete_session().unwrap());
    assert_eq!(column(&format!("SELECT count(*) FROM {s}.key")), ["0"]);
}

#[test]
fn a_session_deleted_while_written_keeps_no_keys() {
    let Some(store) = fresh("race") else { return };
    let mut writer = store.open("default");
    assert!(writer.apply(&[Mutation::Creds(b"c".to_vec())])[0].is_ok());
    // Writes of new keys until the session is gone, while another store deletes it: each
    // write either lands before the delete (which then deletes its keys) or fails.
    let writing = std::thread::spawn(move || {
        let mut i = 0;
        loop {
            let write = [Mutation::Keys(vec![put("pre-key", &i.to_string(), b"k")])];
            if let Err(e) = &writer.apply(&write)[0] {
                assert_eq!(e.code, Code::SessionNotFound, "{e:?}");
                return i;
            }
            i += 1;
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(store.open("default").delete_session().unwrap());
    let written = writing.join().unwrap();
    assert!(written > 0);
    let s = store.schema();
    assert_eq!(column(&format!("SELECT count(*) FROM {s}.key")), ["0"]);
    assert_eq!(
        store.open("default").integrity().unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn bad_locations_are_refused_clearly() {
    let Some(store) = fresh("bad") else { return };
    // libpq's `allow` (plain text unless the server insists) is not supported, said so.
    let refused = |url: &str, options: &ServerOptions, says: &str| {
        let err = PostgresBackend::open(url, options).err().unwrap();
        assert_eq!(err.code, Code::InvalidArgument, "{}", err.message);
        assert!(err.message.contains(says), "{}", err.message);
    };
    let s = store.options("s");
    refused(&with_params(&url(), "sslmode=allow"), &s, "sslmode 'allow'");
    // Nor are client certificates.
    refused(&with_params(&url(), "sslcert=/x.pem"), &s, "sslcert");
    let missing = with_params(&url(), "sslmode=verify-ca&sslrootcert=/nonexistent.pem");
    refused(&missing, &s, "/nonexistent.pem");
    let with_ca = ServerOptions {
        tls_ca: Some("/etc/ssl/certs/ca-certificates.crt".into()),
        ..store.options("s")
    };
    refused(&url(), &with_ca, "sslrootcert");
    let bad = ServerOptions {
        namespace: "Bad-Name".into(),
        ..store.options("s")
    };
    assert_eq!(
        PostgresBackend::open(&url(), &bad).err().unwrap().code,
        Code::InvalidArgument
    );
    // Nothing listens on port 9: unreachable, said so.
    let err = PostgresBackend::open("postgres://127.0.0.1:9/test", &store.options("s"))
        .err()
        .unwrap();
    assert_eq!(err.code, Code::Unavailable, "{}", err.message);
}

#[test]
fn a_connection_killed_mid_transaction_writes_nothing_and_the_store_recovers() {
    let Some(store) = fresh("kill") else { return };
    let mut db = store.backend("default");
    assert!(db.apply(&[Mutation::Creds(b"c".to_vec())])[0].is_ok());
    // Hold the key table so that the write below waits, mid-transaction, where it is killed.
    let url = url();
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let schema = store.schema().to_owned();
    let holder = std::thread::spawn(move || {
        block_on(async {
            let (mut client, conn) = tokio_postgres::connect(&url, NoTls).await?;
            tokio::spawn(conn);
            let tx = client.transaction().await?;
            tx.batch_execute(&format!("LOCK TABLE {schema}.key IN EXCLUSIVE MODE"))
                .await?;
            locked_tx.send(()).unwrap();
            let _ = tokio::task::spawn_blocking(move || hold_rx.recv()).await;
            tx.rollback().await?;
            Ok(())
        })
    });
    locked_rx.recv().unwrap();
    let big: Vec<_> = (0..3000)
        .flat_map(|i| {
            [
                put("session", &i.to_string(), &[1; 500]),
                put("pre-key", &i.to_string(), &[2; 64]),
            ]
        })
        .collect();
    let name = store.options.client_name.clone();
    let killer = std::thread::spawn(move || {
        let sql = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = '{name}' AND wait_event_type = 'Lock'"
        );
        for _ in 0..500 {
            let killed = admin(&sql).unwrap().iter().any(|m| {
                matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("t"))
            });
            if killed {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    });
    let results = db.apply(&[
        Mutation::Keys(big.clone()),
        Mutation::Creds(b"new".to_vec()),
    ]);
    assert!(
        killer.join().unwrap(),
        "the write was seen waiting and killed"
    );
    hold_tx.send(()).unwrap();
    holder.join().unwrap().unwrap();
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert_eq!(err.code, Code::Unavailable, "{}", err.message);
    }
    // Nothing of it was written, and the next call works on a new connection.
    assert_eq!(db.load_creds().unwrap(), Some(b"c".to_vec()));
    assert!(db.counts().unwrap().is_empty());
    assert!(db.apply(&[Mutation::Keys(big)])[0].is_ok());
    assert_eq!(db.counts().unwrap().len(), 2);
}

#[test]
fn ssl_parameters_are_taken_off_the_url() {
    let ssl = Ssl::split("postgres://u:p?w@h/db?application_name=x&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca%20file.pem&port=5433").unwrap();
    assert_eq!(
        ssl.url,
        "postgres://u:p?w@h/db?application_name=x&port=5433"
    );
    assert_eq!(ssl.mode, ssl::Mode::VerifyFull);
    assert_eq!(ssl.root_cert.as_deref(), Some("/tmp/ca file.pem"));
    let plain = Ssl::split("postgresql://h/db").unwrap();
    assert_eq!(plain.url, "postgresql://h/db");
    assert_eq!(plain.mode, ssl::Mode::Prefer);
    assert_eq!(
        Ssl::split("postgres://h/db?sslmode=require").unwrap().url,
        "postgres://h/db"
    );
    assert_eq!(
        Ssl::split("postgres://h?sslmode=bogus").unwrap_err().code,
        Code::InvalidArgument
    );
}

/// The certificate file of the local server (`ssl_cert_file`), whose TLS tests read it from
/// disk; `None` (skipped) when the server has TLS off.
fn server_certificate() -> Option<String> {
    if column("SHOW ssl") != ["on"] {
        skip("the PostgreSQL server has ssl = off: its TLS tests need it on");
        return None;
    }
    let file = column("SHOW ssl_cert_file").remove(0);
    Some(if file.starts_with('/') {
        file
    } else {
        format!("{}/{file}", column("SHOW data_directory").remove(0))
    })
}

/// Whether the pooled connections of a store opened at `url` with `options` are encrypted.
fn encrypted(url: &str, options: &ServerOptions) -> bool {
    block_on(async {
        let client = pool(url, options)?.get().await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(row.get::<_, bool>(0))
    })
    .unwrap()
}

/// Opens a store at `url`, round-trips a key through it, and says whether it is encrypted.
fn round_trip(url: &str, options: &ServerOptions) -> Result<bool> {
    let mut db = PostgresBackend::open(url, options)?;
    let value = vec![0, 1, 2, 255];
    assert!(db.apply(&[Mutation::Keys(vec![put("session", "a", &value)])])[0].is_ok());
    assert_eq!(
        db.get("session", &ids(&["a"])).unwrap(),
        vec![("a".into(), value)]
    );
    Ok(encrypted(url, options))
}

#[test]
fn sslmode_says_whether_the_connection_is_encrypted() {
    let Some(store) = fresh("sslmode") else {
        return;
    };
    if server_certificate().is_none() {
        return;
    }
    // `prefer`, the default, connects without TLS (see ssl::Mode::Prefer).
    for (params, tls) in [
        ("", false),
        ("sslmode=disable", false),
        ("sslmode=prefer", false),
        ("sslmode=require", true),
    ] {
        let url = with_params(&url(), params);
        let url = url.trim_end_matches('?');
        assert_eq!(round_trip(url, &store.options("s")), Ok(tls), "{params}");
    }
}

#[test]
fn verify_modes_check_the_certificate_and_the_host_name() {
    let Some(store) = fresh("verify") else { return };
    let Some(cert) = server_certificate() else {
        return;
    };
    let s = store.options("s");
    let trusting =
        |mode: &str, root: &str| with_params(&url(), &format!("sslmode={mode}&sslrootcert={root}"));
    // The chain is checked, not the name: the URL's 127.0.0.1 is not in the certificate.
    assert_eq!(round_trip(&trusting("verify-ca", &cert), &s), Ok(true));
    assert_eq!(round_trip(&trusting("require", &cert), &s), Ok(true));
    let rejected = |url: &str, says: &str| {
        let err = PostgresBackend::open(url, &s).err().unwrap();
        assert_eq!(err.code, Code::Unavailable, "{}", err.message);
        assert!(err.message.contains("TLS handshake"), "{}", err.message);
        assert!(err.message.contains(says), "{}", err.message);
    };
    rejected(&trusting("verify-full", &cert), "does not name");

    // Any other root rejects the certificate, under `require` too (as libpq does).
    let other = Certs::new();
    rejected(&trusting("verify-ca", &other.path("ca.pem")), "not trusted");
    rejected(&trusting("require", &other.path("ca.pem")), "not trusted");

    // The name the certificate gives, reached at the server's address, passes the full check.
    let names = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in", &cert])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&names.stdout).into_owned();
    let Some(name) = names
        .split([' ', ',', '\n'])
        .find_map(|n| n.strip_prefix("DNS:"))
    else {
        return skip(&format!(
            "{cert} names no host: verify-full's success is not tested"
        ));
    };
    let full = trusting("verify-full", &cert).replacen("@127.0.0.1", &format!("@{name}"), 1);
    assert_eq!(
        round_trip(&with_params(&full, "hostaddr=127.0.0.1"), &s),
        Ok(true)
    );
}
