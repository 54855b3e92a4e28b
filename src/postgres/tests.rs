//! Against the PostgreSQL server of `BRA_POSTGRES_URL` (default the local one); each test
//! works in a schema of its own, dropped at its end.

use std::time::Duration;

use super::*;
use crate::backend_contract::{put, server_up, ServerStore};

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

crate::backend_contract!(fresh;
    get_set_delete_clear,
    batches_apply_whole_or_not_at_all,
    sessions_are_isolated_and_survive_reopen,
    list_pages_in_id_order,
    one_live_lease_per_session,
    a_lapsed_lease_is_taken,
    replace_sessions_counts_and_delete,
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
    let rows = admin(&format!(
        "SELECT version FROM {}.schema_version",
        store.schema()
    ))
    .unwrap();
    let versions: Vec<_> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
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
fn bad_locations_are_refused_clearly() {
    let Some(store) = fresh("bad") else { return };
    let err = PostgresBackend::open(
        "postgres://127.0.0.1/test?sslmode=require",
        &store.options("s"),
    )
    .err()
    .unwrap();
    assert_eq!(err.code, Code::InvalidArgument);
    assert!(err.message.contains("sslmode"));
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
