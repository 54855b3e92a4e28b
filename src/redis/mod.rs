//! The Redis backend: a session's data in a few hashes and sets under one hash tag, every
//! write batch applied by one Lua script (atomic, one round trip), one connection per
//! server shared by the stores of the process, and beside it the fast lane that the
//! JavaScript thread uses for small calls (lane.rs).
//!
//! Times (`created_ms`, lease renewals and lapses) are read from the server's clock (`TIME`).

mod lane;
mod parts;
mod scripts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, RedisError, Script, ScriptInvocation};
use tokio::sync::Mutex as AsyncMutex;

use crate::backend::{
    Backend, Entry, Found, Holder, KeyWrite, Lease, Mutation, Pending, SessionInfo, Takeover,
    TryApply, TypeCount,
};
use crate::error::{Code, Error, Result};
use crate::server::{
    self, block_on, lease_lost, outcome_unknown, unavailable, ServerOptions, CONNECT_TIMEOUT,
};
use crate::wire;
use lane::{Fault, Lane, LaneTarget, Lanes};
use parts::{Outcome, Parts};

const SERVER: &str = "Redis";

/// The key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "bra:";

impl From<RedisError> for Error {
    fn from(err: RedisError) -> Self {
        if err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_timeout()
        {
            return crate::tls::handshake_failed(SERVER, &err, "options.tls.ca")
                .unwrap_or_else(|| unavailable(SERVER, &err));
        }
        let code = match err.code() {
            Some("OOM") => Code::DiskFull,
            Some("READONLY") => Code::ReadOnly,
            Some("BUSY") | Some("LOADING") => Code::Busy,
            Some("NOAUTH") | Some("WRONGPASS") | Some("NOPERM") => Code::CannotOpen,
            _ => Code::Io,
        };
        let hint = if code == Code::DiskFull {
            " (maxmemory reached); nothing of the failed call was written"
        } else {
            ""
        };
        Error::new(code, format!("{SERVER}: {err}{hint}"))
    }
}

/// A `rediss://` connection that timed out. A server that does not speak TLS reads the
/// handshake as the start of a command and waits for the rest: it never answers, and the
/// only sign is the timeout.
fn silent_handshake(err: &RedisError) -> Error {
    unavailable(
        SERVER,
        format!("{err}; over TLS, this is also what a server without TLS does, as it never answers the handshake: for such a server use a redis:// URL"),
    )
}

/// One connection to a server, shared by every store of the process that names it (Redis
/// serves one connection's commands in order; multiplexing costs nothing). Made again
/// after it broke.
struct Connection {
    client: ::redis::Client,
    name: String,
    live: AsyncMutex<Option<MultiplexedConnection>>,
    /// The fast lane beside it (lane.rs), for the JavaScript thread; `None` where it does
    /// not serve (over TLS).
    lanes: Option<Mutex<Lanes>>,
}

impl Connection {
    async fn get(&self) -> Result<MultiplexedConnection> {
        let mut live = self.live.lock().await;
        if let Some(conn) = live.as_ref() {
            return Ok(conn.clone());
        }
        // No response timeout: a large write script may run for long, and giving up on it
        // would not stop it.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let mut conn = match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => conn,
            Err(e) if e.is_timeout() && self.tls() => return Err(silent_handshake(&e)),
            Err(e) => return Err(e.into()),
        };
        ::redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.name)
            .query_async::<()>(&mut conn)
            .await?;
        *live = Some(conn.clone());
        Ok(conn)
    }

    /// Whether the URL asked for TLS (`rediss://`).
    fn tls(&self) -> bool {
        matches!(
            self.client.get_connection_info().addr(),
            ::redis::ConnectionAddr::TcpTls { .. }
        )
    }

    /// Runs a script; a broken connection is dropped so that the next call reconnects.
    async fn run<T: ::redis::FromRedisValue>(&self, call: &ScriptInvocation<'_>) -> Result<T> {
        let mut conn = self.get().await?;
        self.checked(call.invoke_async(&mut conn).await).await
    }

    async fn cmd<T: ::redis::FromRedisValue>(&self, cmd: &::redis::Cmd) -> Result<T> {
        let mut conn = self.get().await?;
        self.checked(cmd.query_async(&mut conn).await).await
    }

    /// Runs the commands of `pipe` (a `MULTI`/`EXEC` block when it is atomic).
    async fn pipe<T: ::redis::FromRedisValue>(&self, pipe: &::redis::Pipeline) -> Result<T> {
        let mut conn = self.get().await?;
        self.checked(pipe.query_async(&mut conn).await).await
    }

    async fn checked<T>(&self, result: ::redis::RedisResult<T>) -> Result<T> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn failed(&self, err: RedisError) -> Error {
        let err = Error::from(err);
        if err.code == Code::Unavailable {
            *self.live.lock().await = None;
        }
        err
    }
}

fn connection(url: &str, options: &ServerOptions) -> Result<Arc<Connection>> {
    static CONNECTIONS: OnceLock<Mutex<HashMap<String, Arc<Connection>>>> = OnceLock::new();
    let ca = options.tls_ca.as_deref();
    let key = format!("{url}\n{}\n{}", options.client_name, ca.unwrap_or(""));
    server::shared(&CONNECTIONS, key, || {
        let bad_url = |e: RedisError| Error::invalid(format!("not a usable Redis URL: {e}"));
        let client = match ca {
            None => ::redis::Client::open(url).map_err(bad_url)?,
            Some(path) => {
                if !url
                    .get(..9)
                    .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
                {
                    return Err(Error::invalid("tls.ca applies to rediss:// URLs only"));
                }
                let (pem, _) = crate::tls::read_roots(path, "tls.ca")?;
                let roots = ::redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                ::redis::Client::build_with_tls(url, roots).map_err(bad_url)?
            }
        };
        let lanes = LaneTarget::new(
            client.get_connection_info(),
            &options.client_name,
            &[scripts::APPLY],
        );
        Ok(Arc::new(Connection {
            client,
            name: options.client_name.clone(),
            live: AsyncMutex::new(None),
            lanes: lanes.map(|target| Mutex::new(Lanes::new(target))),
        }))
    })
}

/// Prefixes end up in every key name; braces would break the hash tag of the session.
pub fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || prefix.len() > 256 || prefix.contains(['{', '}']) {
        return Err(Error::invalid(format!(
            "prefix '{prefix}' must be 1 to 256 bytes without '{{' or '}}'"
        )));
    }
    Ok(())
}

/// Session and type names inside key names: `%`, `{`, `}` and `:` escaped, so that no two
/// names make the same key and the session's hash tag ends where it should.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '%' | '{' | '}' | ':' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn unescape(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| name.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The key names of one session.
struct Keys {
    /// `{prefix}{session}:`, which every key of the session starts with.
    base: String,
    index: String,
}

impl Keys {
    fn new(prefix: &str, session: &str) -> Self {
        Keys {
            base: format!("{prefix}{{{}}}:", escape(session)),
            index: format!("{prefix}sessions"),
        }
    }

    fn of(&self, what: &str) -> String {
        format!("{}{what}", self.base)
    }

    fn values(&self, kind: &str) -> String {
        format!("{}k:{}", self.base, escape(kind))
    }

    fn ids(&self, kind: &str) -> String {
        format!("{}i:{}", self.base, escape(kind))
    }

    /// KEYS and the first ARGV of a write script.
    fn write<'a>(&self, script: &'a Script, session: &str, token: &str) -> ScriptInvocation<'a> {
        let mut call = script.prepare_invoke();
        for what in ["meta", "lease", "types", "sizes"] {
            call.key(self.of(what));
        }
        call.key(&self.index)
            .arg(&self.base)
            .arg(session)
            .arg(token);
        call
    }
}

struct Scripts {
    apply: Script,
    delete: Script,
    acquire: Script,
    renew: Script,
    release: Script,
    list: Script,
    counts: Script,
    session: Script,
    check: Script,
}

fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        apply: Script::new(scripts::APPLY),
        delete: Script::new(scripts::DELETE),
        acquire: Script::new(scripts::ACQUIRE),
        renew: Script::new(scripts::RENEW),
        release: Script::new(scripts::RELEASE),
        list: Script::new(scripts::LIST),
        counts: Script::new(scripts::COUNTS),
        session: Script::new(scripts::SESSION),
        check: Script::new(scripts::CHECK),
    })
}

/// Appends a mutation's arguments to the apply script's (see scripts::APPLY).
fn push_mutation(call: &mut ScriptInvocation<'_>, mutation: &Mutation) {
    let push_keys = |call: &mut ScriptInvocation<'_>, writes: &[KeyWrite]| {
        call.arg(writes.len());
        for w in writes {
            let (flag, value) = match &w.value {
                Some(v) => ("p", v.as_slice()),
                None => ("d", &[][..]),
            };
            call.arg(flag).arg(escape(&w.kind)).arg(&w.id).arg(value);
        }
    };
    match mutation {
        Mutation::Keys(writes) => {
            call.arg("K");
            push_keys(call, writes);
        }
        Mutation::Creds(creds) => {
            call.arg("C").arg(creds.as_slice());
        }
        Mutation::Clear => {
            call.arg("X");
        }
        Mutation::Replace { creds, keys } => {
            call.arg("R")
                .arg(if creds.is_some() { "1" } else { "0" })
                .arg(creds.as_deref().unwrap_or_default());
            push_keys(call, keys);
        }
    }
}

type HolderFields = (
    Option<u32>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<u64>,
    Option<String>,
);

fn holder((pid, host, since, renewed, ttl, token): HolderFields) -> Option<Holder> {
    Some(Holder {
        pid: pid?,
        host: host?,
        since_ms: since?,
        renewed_ms: renewed?,
        ttl_ms: ttl?,
        token: token?,
    })
}

pub struct RedisBackend {
    conn: Arc<Connection>,
    prefix: String,
    keys: Keys,
    session: String,
    /// The token of the lease this store holds on the session.
    lease: Option<String>,
    wait: Option<(u32, std::time::Duration)>,
    /// The `born` mark of the session this store read or wrote, once it did: its writes
    /// then go to that session only, not to one made again under its name after it was
    /// deleted (see scripts::APPLY).
    known: Option<String>,
    /// The mark a session this store makes gets.
    mark: String,
    /// Whether small calls made on the JavaScript thread take the fast lane (not with
    /// `WAIT`, which must follow the write on its connection).
    quick: bool,
    /// A lane whose write's reply came late, and that write's call, until `finish_owed`
    /// collects it.
    owed: Option<(Lane, ScriptInvocation<'static>)>,
    /// A large set's parts, queued on the lane until its last part (parts.rs).
    parts: Option<Parts>,
}

/// A mark no earlier making of a session under the same name has: the clock, and random
/// bits (the standard library seeds each `RandomState` from the system's randomness).
fn fresh_mark() -> String {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let random = std::collections::hash_map::RandomState::new().hash_one(nanos);
    format!("{nanos:x}-{random:016x}")
}

/// What scripts::APPLY answers.
enum Applied {
    Done { born: String },
    LeaseLost,
    SessionDeleted,
}

impl ::redis::FromRedisValue for Applied {
    fn from_redis_value(v: ::redis::Value) -> Result<Self, ::redis::ParsingError> {
        if let ::redis::Value::Int(-1) = v {
            return Ok(Applied::LeaseLost);
        }
        let (applied, born): (i64, String) = ::redis::FromRedisValue::from_redis_value(v)?;
        Ok(if applied == -2 {
            Applied::SessionDeleted
        } else {
            Applied::Done { born }
        })
    }
}

impl RedisBackend {
    /// Connects to the server at `url`: `redis://`, or `rediss://` over TLS (checking the
    /// server's certificate against `tls_ca` or the system's roots, or not at all with the
    /// URL's `#insecure`).
    pub fn open(url: &str, options: &ServerOptions) -> Result<Self> {
        check_prefix(&options.namespace)?;
        let conn = connection(url, options)?;
        block_on(conn.get())?;
        let quick = options.wait.is_none();
        if let (true, Some(lanes)) = (quick, &conn.lanes) {
            // Here, off the JavaScript thread, it may take its time.
            lanes.lock().unwrap_or_else(|e| e.into_inner()).connect();
        }
        Ok(RedisBackend {
            conn,
            prefix: options.namespace.clone(),
            keys: Keys::new(&options.namespace, &options.session),
            session: options.session.clone(),
            lease: None,
            wait: options.wait,
            known: None,
            mark: fresh_mark(),
            quick,
            owed: None,
            parts: None,
        })
    }

    fn token(&self) -> &str {
        self.lease.as_deref().unwrap_or("")
    }

    /// The fast lane of `conn` (this store's), when this store takes it and no other
    /// thread holds it.
    fn lanes<'c>(&self, conn: &'c Connection) -> Option<MutexGuard<'c, Lanes>> {
        let lanes = conn.lanes.as_ref().filter(|_| self.quick)?;
        match lanes.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The call of the apply script for `batch`.
    fn apply_call(&self, batch: &[Mutation]) -> ScriptInvocation<'static> {
        let mut call = self
            .keys
            .write(&scripts().apply, &self.session, self.token());
        call.arg(match &self.known {
            Some(born) => format!("={born}"),
            None => format!("+{}", self.mark),
        });
        for mutation in batch {
            push_mutation(&mut call, mutation);
        }
        call
    }

    /// What the apply script answered: the mark of the session written, kept.
    fn applied(&mut self, applied: Applied) -> Result<()> {
        match applied {
            Applied::Done { born } => {
                self.known = Some(born);
                Ok(())
            }
            Applied::LeaseLost => Err(lease_lost(&self.session)),
            Applied::SessionDeleted => Err(Error::session_deleted(&self.session)),
        }
    }

    /// Applies the batch through the runtime.
    async fn apply_batch(&mut self, batch: &[Mutation]) -> Result<()> {
        let call = self.apply_call(batch);
        let applied: Applied = self
            .conn
            .run(&call)
            .await
            .map_err(|e| outcome_unknown(SERVER, &e))?;
        self.applied(applied)?;
        if let Some((replicas, timeout)) = self.wait {
            let acked: u32 = self
                .conn
                .cmd(
                    ::redis::cmd("WAIT")
                        .arg(replicas)
                        .arg(timeout.as_millis() as u64),
                )
                .await?;
            if acked < replicas {
                return Err(Error::new(
                    Code::NotReplicated,
                    format!("the write reached the Redis primary, but only {acked} of the {replicas} replicas asked for acknowledged it within {} ms; a failover may lose it", timeout.as_millis()),
                ));
            }
        }
        Ok(())
    }

    /// The read of `ids`: their values, or nothing if the session this store knows is gone
    /// (`Marked`).
    fn read(&self, kind: &str, ids: &[String]) -> Read {
        let read = ::redis::cmd("HMGET")
            .arg(self.keys.values(kind))
            .arg(ids)
            .to_owned();
        match &self.known {
            None => Read::Plain(read),
            // Read with the session's mark, in one MULTI/EXEC: a store whose session was
            // deleted (maybe made again under its name) finds nothing, as it would in a
            // file or in PostgreSQL, instead of the keys of the new session.
            Some(_) => {
                let mut pipe = ::redis::pipe();
                pipe.atomic()
                    .cmd("HMGET")
                    .arg(self.keys.of("meta"))
                    .arg(&["created_ms", "born"])
                    .add_command(read);
                Read::Marked(pipe)
            }
        }
    }

    /// The entries a read found; `marked` is the answer of a `Read::Marked`.
    fn found(
        &self,
        ids: &[String],
        values: Vec<Option<Vec<u8>>>,
        marked: Option<Mark>,
    ) -> Vec<Entry> {
        if let (Some((created, born)), Some(known)) = (marked, &self.known) {
            if created.is_none() || born.as_deref().unwrap_or("") != known {
                return Vec::new();
            }
        }
        ids.iter()
            .zip(values)
            .filter_map(|(id, v)| Some((id.clone(), v?)))
            .collect()
    }
}

/// A read of keys (see `RedisBackend::read`).
enum Read {
    Plain(::redis::Cmd),
    Marked(::redis::Pipeline),
}

/// The `created_ms` and `born` of a session, read with its keys.
type Mark = (Option<i64>, Option<String>);
type Values = Vec<Option<Vec<u8>>>;

impl Backend for RedisBackend {
    server::remote_calls!();

    fn get_async<'a>(&'a mut self, kind: &'a str, ids: &'a [String]) -> Pending<'a, Found> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            Ok(match self.read(kind, ids) {
                Read::Plain(cmd) => {
                    let values = self.conn.cmd(&cmd).await?;
                    self.found(ids, values, None)
                }
                Read::Marked(pipe) => {
                    let (mark, values): (Mark, Values) = self.conn.pipe(&pipe).await?;
                    self.found(ids, values, Some(mark))
                }
            })
        })
    }

    fn load_creds_async(&mut self) -> Pending<'_, Result<Option<Vec<u8>>>> {
        let cmd = ::redis::cmd("HMGET")
            .arg(self.keys.of("meta"))
            .arg(&["creds", "created_ms", "born"])
            .to_owned();
        Box::pin(async move {
            type Meta = (Option<Vec<u8>>, Option<i64>, Option<String>);
            let (creds, created, born): Meta = self.conn.cmd(&cmd).await?;
            if created.is_some() {
                self.known = Some(born.unwrap_or_default());
            }
            Ok(creds)
        })
    }

    fn apply_async<'a>(&'a mut self, batch: &'a [Mutation]) -> Pending<'a, Vec<Result<()>>> {
        // One script for the whole batch: Redis runs it whole, so each mutation applies
        // entirely, and none can fail alone once the lease check passed.
        Box::pin(async move {
            let result = self.apply_batch(batch).await;
            batch.iter().map(|_| result.clone()).collect()
        })
    }

    /// On the fast lane, a read gives up when the reply is late (the lane is dropped with
    /// it): it is then made again through the runtime, which is safe for a read.
    fn try_get_frame(&mut self, kind: &str, ids: &[String]) -> Option<Result<Vec<u8>>> {
        let conn = self.conn.clone();
        let mut lanes = self.lanes(&conn)?;
        let lane = lanes.get()?;
        let read = self.read(kind, ids);
        lane.begin();
        let found = match read {
            Read::Plain(cmd) => cmd.query::<Values>(lane).map(|v| (None, v)),
            Read::Marked(pipe) => pipe
                .query::<(Mark, Values)>(lane)
                .map(|(mark, v)| (Some(mark), v)),
        };
        match found {
            Ok((mark, values)) => Some(wire::entries_frame(kind, &self.found(ids, values, mark))),
            Err(_) => {
                lanes.rest();
                None
            }
        }
    }

    /// On the fast lane, a write whose reply is late leaves it owed (it may have been
    /// applied): the storage side collects it with `finish_owed` before anything else.
    fn try_apply(&mut self, batch: &[Mutation]) -> TryApply {
        if batch.len() != 1 {
            return TryApply::NotNow;
        }
        let conn = self.conn.clone();
        let Some(mut lanes) = self.lanes(&conn) else {
            return TryApply::NotNow;
        };
        let Some(lane) = lanes.get() else {
            return TryApply::NotNow;
        };
        let call = self.apply_call(batch);
        lane.begin();
        let result = match call.invoke::<Applied>(lane) {
            Ok(applied) => self.applied(applied),
            Err(e) => match lane.fault() {
                Some(Fault::Late) => {
                    // The lane goes with the write it owes; the others get a new one.
                    self.owed = lanes.take().map(|lane| (lane, call));
                    return TryApply::Owed;
                }
                Some(Fault::NotSent) => {
                    lanes.rest();
                    return TryApply::NotNow;
                }
                Some(Fault::Broken) => {
                    lanes.rest();
                    Err(outcome_unknown(SERVER, &unavailable(SERVER, e)))
                }
                None => Err(e.into()),
            },
        };
        TryApply::Done(vec![result])
    }

    fn finish_owed(&mut self) -> Result<()> {
        let Some((mut lane, call)) = self.owed.take() else {
            return Err(Error::new(Code::Internal, "no write is owed"));
        };
        match lane.finish_script::<Applied>(&call) {
            Ok(applied) => self.applied(applied),
            Err(e) if e.is_io_error() => Err(outcome_unknown(SERVER, &unavailable(SERVER, e))),
            Err(e) => Err(e.into()),
        }
    }

    /// A part goes to the lane if it is free (else every part is kept for the apply
    /// script): sent without waiting, as the store's task calls this between requests.
    fn write_part(&mut self, writes: &[KeyWrite]) -> Result<bool> {
        if self.parts.is_none() {
            let conn = self.conn.clone();
            let Some(lane) = self.lanes(&conn).and_then(|mut lanes| lanes.lend()) else {
                return Ok(false);
            };
            self.parts = Some(Parts::begin(lane, &self.keys));
        }
        if let Some(parts) = self.parts.as_mut() {
            parts.push(&self.keys, writes);
        }
        Ok(true)
    }

    fn end_parts(&mut self, last: Option<&[KeyWrite]>) -> Result<()> {
        let Some(parts) = self.parts.take() else {
            return Err(Error::new(Code::Internal, "no parts were written"));
        };
        // Without a last part the set is dropped, and its MULTI with the lane's connection.
        let Some(last) = last else {
            return Ok(());
        };
        let token = self.token().to_owned();
        let (lane, outcome) = parts.finish(
            &self.keys,
            &self.session,
            &token,
            self.known.as_deref(),
            &self.mark,
            last,
        );
        if let (Some(lane), Some(lanes)) = (lane, &self.conn.lanes) {
            lanes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .give_back(lane);
        }
        match outcome {
            Outcome::Done { born } => {
                self.known = Some(born);
                Ok(())
            }
            Outcome::Again(writes) => block_on(self.apply_batch(&[Mutation::Keys(writes)])),
            Outcome::Failed(e) => Err(e),
        }
    }

    fn list(
        &mut self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
        with_values: bool,
    ) -> Result<Vec<Entry>> {
        let mut call = scripts().list.prepare_invoke();
        call.key(self.keys.ids(kind))
            .key(self.keys.values(kind))
            .arg(after.map_or("-".to_owned(), |a| format!("({a}")))
            .arg(limit)
            .arg(if with_values { "1" } else { "0" });
        let flat: Vec<Vec<u8>> = block_on(self.conn.run(&call))?;
        let mut entries = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(id), Some(value)) = (it.next(), it.next()) {
            let id =
                String::from_utf8(id).map_err(|_| Error::corrupt("a stored id is not UTF-8"))?;
            entries.push((id, value));
        }
        Ok(entries)
    }

    fn sessions(&mut self) -> Result<Vec<SessionInfo>> {
        let mut names: Vec<String> = block_on(
            self.conn
                .cmd(::redis::cmd("SMEMBERS").arg(&self.keys.index)),
        )?;
        names.sort();
        let mut sessions = Vec::with_capacity(names.len());
        for name in names {
            let keys = Keys::new(&self.prefix, &name);
            let mut call = scripts().session.prepare_invoke();
            for what in ["meta", "lease", "types", "sizes"] {
                call.key(keys.of(what));
            }
            call.arg(&keys.base);
            type Row = (i64, i64, bool, i64, i64);
            let found: Option<(Row, HolderFields)> = block_on(self.conn.run(&call))?;
            let Some(((created_ms, updated_ms, has_creds, keys, bytes), lease)) = found else {
                continue; // deleted meanwhile
            };
            sessions.push(SessionInfo {
                session_id: name,
                created_ms,
                updated_ms,
                has_creds,
                keys,
                bytes,
                holder: holder(lease),
            });
        }
        Ok(sessions)
    }

    fn counts(&mut self) -> Result<Vec<TypeCount>> {
        let mut call = scripts().counts.prepare_invoke();
        call.key(self.keys.of("types"))
            .key(self.keys.of("sizes"))
            .arg(&self.keys.base);
        let flat: Vec<(String, i64, i64)> = block_on(self.conn.run(&call))?;
        let mut counts: Vec<TypeCount> = flat
            .into_iter()
            .map(|(kind, count, bytes)| TypeCount {
                kind: unescape(&kind),
                count,
                bytes,
            })
            .collect();
        counts.sort_by(|a, b| a.kind.cmp(&b.kind));
        Ok(counts)
    }

    fn delete_session(&mut self) -> Result<bool> {
        let call = self
            .keys
            .write(&scripts().delete, &self.session, self.token());
        let existed: i64 = block_on(self.conn.run(&call))?;
        if existed < 0 {
            return Err(lease_lost(&self.session));
        }
        self.lease = None;
        self.known = None;
        Ok(existed == 1)
    }

    fn integrity(&mut self) -> Result<Vec<String>> {
        let names: Vec<String> = block_on(
            self.conn
                .cmd(::redis::cmd("SMEMBERS").arg(&self.keys.index)),
        )?;
        let mut problems = Vec::new();
        for name in names {
            let keys = Keys::new(&self.prefix, &name);
            let mut call = scripts().check.prepare_invoke();
            for what in ["meta", "types", "sizes"] {
                call.key(keys.of(what));
            }
            call.arg(&keys.base);
            let found: Vec<String> = block_on(self.conn.run(&call))?;
            problems.extend(found.into_iter().map(|p| format!("session '{name}': {p}")));
        }
        Ok(problems)
    }

    fn acquire(&mut self, lease: &Lease, takeover: &Takeover) -> Result<Option<Holder>> {
        let (mode, from) = match takeover {
            Takeover::Never => ("n", ""),
            Takeover::Always => ("a", ""),
            Takeover::From(token) => ("f", token.as_str()),
        };
        let mut call = scripts().acquire.prepare_invoke();
        call.key(self.keys.of("lease"))
            .arg(&lease.token)
            .arg(lease.pid)
            .arg(&lease.host)
            .arg(lease.ttl_ms)
            .arg(mode)
            .arg(from);
        let refused: Option<HolderFields> = block_on(self.conn.run(&call))?;
        match refused {
            None => {
                self.lease = Some(lease.token.clone());
                Ok(None)
            }
            Some(fields) => Ok(holder(fields)),
        }
    }

    fn renew(&mut self) -> Result<()> {
        let Some(token) = &self.lease else {
            return Ok(());
        };
        let mut call = scripts().renew.prepare_invoke();
        call.key(self.keys.of("lease")).arg(token);
        let renewed: i64 = block_on(self.conn.run(&call))?;
        if renewed == 0 {
            return Err(lease_lost(&self.session));
        }
        Ok(())
    }

    fn release(&mut self) -> Result<()> {
        let Some(token) = self.lease.take() else {
            return Ok(());
        };
        let mut call = scripts().release.prepare_invoke();
        call.key(self.keys.of("lease")).arg(token);
        block_on(self.conn.run::<i64>(&call))?;
        Ok(())
    }
}

impl Drop for RedisBackend {
    fn drop(&mut self) {
        // Closing gives the lease back; a crash leaves it to lapse (or to be found dead).
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests;
