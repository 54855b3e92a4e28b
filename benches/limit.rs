//! The floor under `npm run bench`: the same SQLite work the addon does, done from Rust on
//! values already in stored form, with no JavaScript, no N-API and no storage thread.
//! The JavaScript runner compares the addon against these figures.
//!
//!   limit <fixture> [--rounds N] [--durability normal,full]
//!   limit <fixture> --codec [--rounds N]
//!
//! The fixture (written by benches/run.mjs) starts with `BRALIMIT1\n`, then holds records
//! `[group: u8][type: u32 LE len + UTF-8][id: u32 LE len + UTF-8][value: u32 LE len + wire
//! form]`; the groups are the `G_*` constants below. Prints one line of JSON:
//! `{ "<durability>": { "<workload>": [milliseconds per round] } }`. With `--codec`, it times
//! instead the checks the addon makes in Rust, on the same values: wire form to stored form
//! (`to_stored`, what each write pays) and the check of a stored value (`validate`, what each
//! read pays), printed as `{ "codec": { "<step> <workload>": [...] } }`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Instant;

use baileys_rust_auth::backend::{Backend, KeyWrite, Mutation};
use baileys_rust_auth::codec::{to_stored, validate};
use baileys_rust_auth::sqlite::{Durability, Options, SqliteBackend};

const MAGIC: &[u8] = b"BRALIMIT1\n";
/// W1/W2: the pre-keys of one upload.
const G_PRE_KEYS: u8 = 1;
/// W3/W3c: successive session records of a few chats, one set each.
const G_CHAT_STEPS: u8 = 2;
/// W4 (and the sessions already stored before W3): many sessions.
const G_SESSIONS: u8 = 3;
/// W4: the next record of each of those sessions.
const G_SESSIONS_NEXT: u8 = 4;
/// W5: creds after each small mutation.
const G_CREDS: u8 = 5;
/// W3: the ids read one by one (values empty).
const G_GET_IDS: u8 = 6;
/// W3c: how many sets are in flight together.
const CONCURRENCY: usize = 50;

struct Fixture {
    groups: BTreeMap<u8, Vec<KeyWrite>>,
    /// The values of each group in wire form, as JavaScript sends them.
    wire: BTreeMap<u8, Vec<Vec<u8>>>,
}

impl Fixture {
    fn read(path: &Path) -> Fixture {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.starts_with(MAGIC),
            "{}: not a limit fixture",
            path.display()
        );
        let mut rest = &bytes[MAGIC.len()..];
        let mut groups: BTreeMap<u8, Vec<KeyWrite>> = BTreeMap::new();
        let mut wires: BTreeMap<u8, Vec<Vec<u8>>> = BTreeMap::new();
        while let Some((&group, tail)) = rest.split_first() {
            rest = tail;
            let kind = String::from_utf8(field(&mut rest)).expect("type is UTF-8");
            let id = String::from_utf8(field(&mut rest)).expect("id is UTF-8");
            let wire = field(&mut rest);
            // Stored form, as the addon's storage thread hands values to SQLite.
            let value = (!wire.is_empty()).then(|| to_stored(&wire).expect("valid wire value"));
            groups
                .entry(group)
                .or_default()
                .push(KeyWrite { kind, id, value });
            wires.entry(group).or_default().push(wire);
        }
        Fixture {
            groups,
            wire: wires,
        }
    }

    fn group(&self, g: u8) -> &[KeyWrite] {
        self.groups.get(&g).map_or(&[], Vec::as_slice)
    }
}

/// A length-prefixed field at the front of `rest`.
fn field(rest: &mut &[u8]) -> Vec<u8> {
    let (len, tail) = rest.split_at(4);
    let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
    let (value, tail) = tail.split_at(len);
    *rest = tail;
    value.to_vec()
}

/// A fresh directory per database, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("bra-limit-{}-{tag}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Db {
    backend: SqliteBackend,
    /// The bulk of a checkpoint, being copied on a thread of its own.
    bulk: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl Db {
    /// A write as the store makes it: the commit; then the checkpoint it left due, run as the
    /// storage thread runs it (`upkeep` in src/worker.rs) while the JavaScript thread goes on
    /// committing: its bulk on a thread of its own, beside the writes that follow, and what
    /// the bulk left, on the writing connection, at the first write after it is done.
    fn apply(&mut self, batch: &[Mutation]) {
        for result in self.backend.apply(batch) {
            result.expect("write");
        }
        if let Some(done) = self.bulk.take_if(|bulk| bulk.is_finished()) {
            done.join().expect("checkpoint");
        }
        if self.bulk.is_none() {
            self.bulk = self.backend.upkeep().map(std::thread::spawn);
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(bulk) = self.bulk.take() {
            let _ = bulk.join();
        }
    }
}

fn open(durability: Durability, tag: &str) -> Db {
    let dir = TempDir::new(tag);
    let options = Options {
        durability,
        ..Options::default()
    };
    let backend = SqliteBackend::open(&dir.0.join("auth.db"), &options).expect("open");
    Db {
        backend,
        bulk: None,
        _dir: dir,
    }
}

fn keys(writes: &[KeyWrite]) -> Mutation {
    Mutation::Keys(writes.to_vec())
}

fn ids(writes: &[KeyWrite]) -> Vec<String> {
    writes.iter().map(|w| w.id.clone()).collect()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// One round of the codec's steps over the values of W1, W3 sets, W4 and W5.
fn codec_round(f: &Fixture, out: &mut BTreeMap<&'static str, Vec<f64>>) {
    let groups = [
        ("to_stored W1", "validate W1", G_PRE_KEYS),
        ("to_stored W3", "validate W3", G_CHAT_STEPS),
        ("to_stored W4", "validate W4", G_SESSIONS),
        ("to_stored W5", "validate W5", G_CREDS),
    ];
    for (converted, checked, group) in groups {
        let wire = f.wire.get(&group).map_or(&[][..], Vec::as_slice);
        let t = Instant::now();
        let stored: Vec<Vec<u8>> = wire
            .iter()
            .map(|w| to_stored(black_box(w)).expect("valid wire value"))
            .collect();
        out.entry(converted).or_default().push(ms(t));
        let t = Instant::now();
        for v in &stored {
            validate(black_box(v)).expect("valid stored value");
        }
        out.entry(checked).or_default().push(ms(t));
    }
}

/// One round of every workload; each starts from a fresh database, as in the runner.
fn round(f: &Fixture, durability: Durability, out: &mut BTreeMap<&'static str, Vec<f64>>) {
    let mut record = |name: &'static str, value: f64| out.entry(name).or_default().push(value);
    let pre_keys = f.group(G_PRE_KEYS);
    let sessions = f.group(G_SESSIONS);

    // W1, W2: one set of every pre-key, then one get of them all.
    let mut db = open(durability, "w1");
    let batch = [keys(pre_keys)];
    let t = Instant::now();
    db.apply(&batch);
    record("W1", ms(t));
    let wanted = ids(pre_keys);
    let t = Instant::now();
    let found = black_box(db.backend.get("pre-key", &wanted).expect("get"));
    record("W2", ms(t));
    assert_eq!(found.len(), wanted.len());
    drop(db);

    // W3: sequential single-session sets, each its own commit, then single gets.
    let steps = f.group(G_CHAT_STEPS);
    let mut db = open(durability, "w3");
    db.apply(&[keys(sessions)]);
    let singles: Vec<[Mutation; 1]> = steps
        .iter()
        .map(|w| [keys(std::slice::from_ref(w))])
        .collect();
    let t = Instant::now();
    for batch in &singles {
        db.apply(batch);
    }
    record("W3set", ms(t));
    let gets: Vec<[String; 1]> = f.group(G_GET_IDS).iter().map(|w| [w.id.clone()]).collect();
    let t = Instant::now();
    for id in &gets {
        black_box(db.backend.get("session", id).expect("get"));
    }
    record("W3get", ms(t));
    drop(db);

    // W3c: the same sets in flight 50 at a time. The addon's storage thread commits
    // writes that queue up together, each in its own savepoint: the best case is one
    // commit per 50.
    let mut db = open(durability, "w3c");
    db.apply(&[keys(sessions)]);
    let chunks: Vec<Vec<Mutation>> = steps
        .chunks(CONCURRENCY)
        .map(|c| c.iter().map(|w| keys(std::slice::from_ref(w))).collect())
        .collect();
    let t = Instant::now();
    for batch in &chunks {
        db.apply(batch);
    }
    record("W3c", ms(t));
    drop(db);

    // W4: one get of many stored sessions, then one set of their next records.
    let mut db = open(durability, "w4");
    db.apply(&[keys(sessions)]);
    let wanted = ids(sessions);
    let t = Instant::now();
    let found = black_box(db.backend.get("session", &wanted).expect("get"));
    record("W4get", ms(t));
    assert_eq!(found.len(), wanted.len());
    let batch = [keys(f.group(G_SESSIONS_NEXT))];
    let t = Instant::now();
    db.apply(&batch);
    record("W4set", ms(t));
    drop(db);

    // W5: creds saved after each small mutation.
    let mut db = open(durability, "w5");
    let creds: Vec<[Mutation; 1]> = f
        .group(G_CREDS)
        .iter()
        .map(|w| [Mutation::Creds(w.value.clone().expect("creds value"))])
        .collect();
    db.apply(&creds[0]);
    let t = Instant::now();
    for batch in &creds {
        db.apply(batch);
    }
    record("W5", ms(t));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut fixture = None;
    let mut rounds = 5usize;
    let mut durabilities = vec![Durability::Normal, Durability::Full];
    let mut codec = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--rounds N")
            }
            "--durability" => {
                durabilities = args
                    .next()
                    .expect("--durability normal,full")
                    .split(',')
                    .map(|d| match d {
                        "normal" => Durability::Normal,
                        "full" => Durability::Full,
                        other => panic!("unknown durability {other:?}"),
                    })
                    .collect()
            }
            "--codec" => codec = true,
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            path => fixture = Some(PathBuf::from(path)),
        }
    }
    let fixture = Fixture::read(&fixture.expect("usage: limit <fixture> [--rounds N]"));

    // One section per durability, or the codec's alone.
    let sections: Vec<Option<Durability>> = if codec {
        vec![None]
    } else {
        durabilities.into_iter().map(Some).collect()
    };
    let mut json = String::from("{");
    for (i, &section) in sections.iter().enumerate() {
        let mut out = BTreeMap::new();
        for _ in 0..rounds {
            match section {
                Some(durability) => round(&fixture, durability, &mut out),
                None => codec_round(&fixture, &mut out),
            }
        }
        let name = match section {
            Some(Durability::Normal) => "normal",
            Some(Durability::Full) => "full",
            None => "codec",
        };
        let fields: Vec<String> = out
            .iter()
            .map(|(k, v)| {
                let v: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
                format!("\"{k}\":[{}]", v.join(","))
            })
            .collect();
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!("\"{name}\":{{{}}}", fields.join(",")));
    }
    json.push('}');
    println!("{json}");
}
