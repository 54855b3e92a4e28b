//! `NativeStore`, the class index.js wraps. Every method returns a promise; bad input
//! rejects it with a coded error instead of throwing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{BufferSlice, ToNapiValue, TypeName, ValueType};
use napi::{sys, Env, JsValue, Unknown};
use napi_derive::napi;

use super::convert;
use super::settle::{self, Held, Shape, Shared, Ticket};
use crate::backend::{Backend, Lease, Mutation, Takeover, TryApply};
use crate::error::{Code, Error};
use crate::open::{Engine, StoreOptions};
use crate::sqlite::Durability;
use crate::wire;
use crate::worker::{Op, Reply, Worker};

/// A raw value handed back to JavaScript as is (a promise).
pub struct Raw(sys::napi_value);

impl TypeName for Raw {
    fn type_name() -> &'static str {
        "Promise<any>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

/// Registers the `AuthStateError` class that every rejection is an instance of.
#[napi(js_name = "setErrorClass")]
pub fn set_error_class(env: Env, ctor: Unknown) -> napi::Result<()> {
    unsafe { settle::set_error_class(env.raw(), ctor.raw()) }
        .map_err(|e| napi::Error::from_reason(e.message))
}

/// Every error code, for index.js to export.
#[napi(js_name = "errorCodes")]
pub fn error_codes() -> Vec<&'static str> {
    Code::ALL.iter().map(|c| c.as_str()).collect()
}

/// The keys of each object shape of the presented form (src/shapes.rs), for lib/codec.js.
#[napi(js_name = "valueShapes")]
pub fn value_shapes() -> Vec<Vec<&'static str>> {
    crate::shapes::SHAPES
        .iter()
        .map(|keys| keys.to_vec())
        .collect()
}

/// The schema version this build writes.
#[napi(js_name = "schemaVersion")]
pub fn schema_version() -> i64 {
    crate::sqlite::SCHEMA_VERSION
}

/// A Buffer made as every frame this binding returns is made (see lib/open.js, which keeps it).
#[napi(js_name = "frameBuffer", ts_return_type = "Buffer")]
pub fn frame_buffer(env: Env) -> napi::Result<Raw> {
    unsafe { convert::js_buffer(env.raw(), vec![0]) }
        .map(Raw)
        .map_err(|e| napi::Error::from_reason(e.message))
}

/// How to open a store; each engine reads its own options.
#[napi(object)]
pub struct OpenOptions {
    pub session_id: String,
    /// SQLite: `synchronous=FULL`.
    pub full: bool,
    pub busy_timeout_ms: u32,
    /// PostgreSQL: the schema of the tables.
    pub schema: Option<String>,
    /// Redis: the prefix of every key.
    pub prefix: Option<String>,
    /// Server stores: the name their connections report.
    pub client_name: Option<String>,
    /// Redis: replicas that must acknowledge each write (`WAIT`), and for how long.
    pub redis_wait_replicas: Option<u32>,
    pub redis_wait_timeout_ms: Option<u32>,
    /// Redis over TLS: a PEM file of the roots to trust instead of the system's.
    pub tls_ca: Option<String>,
}

#[napi]
pub struct NativeStore {
    worker: Option<Worker<Ticket>>,
    shared: *const Shared,
    /// Pages copied and in all of the running snapshot, read by `progress`.
    progress: Arc<[AtomicU64; 2]>,
    /// On a server: no call is ever served on this thread (see `Backend::is_remote`), so
    /// the `*Now` calls give up before parsing anything.
    remote: bool,
    /// Whether small calls may complete on this thread: in a file, and on a server with a
    /// fast lane (a Redis store without `WAIT`; src/redis/lane.rs).
    quick: bool,
    /// Parts of a set were staged and its last frame is still to come: until it is, no call
    /// may run on this thread (a write there would leave the parts behind).
    staging: bool,
    /// Writes made together, held by `set_later` until `flush` commits them as one; their
    /// promises, and their frames' size.
    later: Held,
    later_tickets: Vec<Ticket>,
    later_bytes: usize,
    /// Whether every promise `set_later` returned since the last `flush` call was held and
    /// has been fulfilled, committed on this thread: `flush` reports it, so that JavaScript
    /// can count those writes done without waiting on each promise.
    later_clean: bool,
}

/// Most ids a read serves on the JavaScript thread; larger reads go to the storage thread.
const MAX_NOW_IDS: usize = 32;
/// Largest set frame written on the JavaScript thread, in bytes (a few sessions).
const MAX_NOW_FRAME: usize = 32 * 1024;
/// Most writes `set_later` holds before committing them, and most bytes of them committed
/// on the JavaScript thread in one go: more go through the storage thread. (50 session
/// writes, 191 kB, commit there in 0.15 ms, at most 0.33 ms in 15 rounds.)
const MAX_LATER: usize = 256;
const MAX_LATER_BYTES: usize = 256 * 1024;

impl NativeStore {
    /// Queues `op` (after the writes held by `set_later`) and returns the promise its
    /// completion settles.
    fn submit(&mut self, env: Env, shape: Shape, op: Op) -> Raw {
        let env = env.raw();
        self.flush_later(env);
        if self.worker.is_none() {
            return Raw(unsafe { settle::rejected(env, &Error::closed()) });
        }
        unsafe {
            let (ticket, promise) = match settle::promise(env, shape) {
                Ok(p) => p,
                Err(e) => return Raw(settle::rejected(env, &e)),
            };
            self.send(env, op, ticket);
            Raw(promise)
        }
    }

    /// Queues `op` with the ticket that settles its promise.
    unsafe fn send(&self, env: sys::napi_env, op: Op, ticket: Ticket) {
        let sent = match self.worker.as_ref() {
            Some(worker) => worker.send(op, ticket),
            None => Err(ticket),
        };
        match sent {
            // The store lives until its channel is finalized, after the last completion.
            Ok(()) => settle::track(env, &*self.shared),
            Err(ticket) => settle::settle(
                env,
                ticket,
                Err(Error::new(Code::Internal, "the storage thread is gone")),
            ),
        }
    }

    /// Runs `f` on the backend on this thread when nothing is queued and the storage thread
    /// is idle: a small call then costs no thread round trip. `None` otherwise. The writes
    /// held by `set_later` are committed first.
    fn now<R>(
        &mut self,
        env: sys::napi_env,
        f: impl FnOnce(&mut dyn Backend) -> Option<R>,
    ) -> Option<R> {
        self.flush_later(env);
        self.now_only(f)
    }

    fn now_only<R>(&self, f: impl FnOnce(&mut dyn Backend) -> Option<R>) -> Option<R> {
        let worker = self.worker.as_ref()?;
        if !self.quick || self.staging || !unsafe { (*self.shared).idle() } {
            return None;
        }
        worker.try_now(f).flatten()
    }

    /// Applies `batch` in one transaction on this thread if the store can (see `now`), with
    /// each mutation's outcome.
    fn apply_now(&self, batch: &[Mutation]) -> TryApply {
        let Some((tried, upkeep)) =
            self.now_only(|be| Some((be.try_apply(batch), be.upkeep_due())))
        else {
            return TryApply::NotNow;
        };
        // The storage thread does it, with this thread free; nobody waits for it.
        if let (true, Some(worker)) = (upkeep, &self.worker) {
            let _ = worker.send(Op::Upkeep, Ticket::none());
        }
        tried
    }

    /// The promise of a write made on this thread whose outcome is owed (`TryApply::Owed`):
    /// the storage side collects it, before any call made after it.
    fn owed(&self, env: sys::napi_env) -> Raw {
        unsafe {
            match settle::promise(env, Shape::Done) {
                Ok((ticket, promise)) => {
                    self.send(env, Op::Owed, ticket);
                    Raw(promise)
                }
                Err(e) => Raw(settle::rejected(env, &e)),
            }
        }
    }

    /// Commits the writes `set_later` held: in one transaction on this thread when the store
    /// can, settling their promises at once; else through the storage thread, where they
    /// arrive together and share one commit there. Every other call flushes them first, so
    /// calls still reach the store in the order they were made.
    fn flush_later(&mut self, env: sys::napi_env) {
        if self.later_tickets.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.later_bytes);
        let tickets = std::mem::take(&mut self.later_tickets);
        let batch = std::mem::take(&mut *settle::lock_held(&self.later));
        let done = match bytes <= MAX_LATER_BYTES {
            true => self.apply_now(&batch),
            false => TryApply::NotNow,
        };
        unsafe {
            if !matches!(&done, TryApply::Done(results) if results.iter().all(Result::is_ok)) {
                self.later_clean = false;
            }
            match done {
                TryApply::Done(results) => {
                    for (ticket, result) in tickets.into_iter().zip(results) {
                        settle::settle(env, ticket, result.map(|()| Reply::Done));
                    }
                }
                TryApply::NotNow => {
                    for (mutation, ticket) in batch.into_iter().zip(tickets) {
                        self.send(env, Op::Write(mutation), ticket);
                    }
                }
                // Only a file holds writes, and only a single write is ever left owed: the
                // first promise is that write's, any other is refused, never sent twice.
                TryApply::Owed => {
                    let mut tickets = tickets.into_iter();
                    if let Some(ticket) = tickets.next() {
                        self.send(env, Op::Owed, ticket);
                    }
                    for ticket in tickets {
                        let lost =
                            Error::new(Code::Internal, "a write held with others was left owed");
                        settle::settle(env, ticket, Err(lost));
                    }
                }
            }
        }
    }

    /// Queues a backend call whose result reaches JavaScript as JSON text.
    fn report<R: serde::Serialize>(
        &mut self,
        env: Env,
        f: impl FnOnce(&mut dyn Backend) -> crate::error::Result<R> + Send + 'static,
    ) -> Raw {
        let call = Box::new(move |be: &mut dyn Backend| {
            let value = f(be)?;
            serde_json::to_string(&value)
                .map(Reply::Text)
                .map_err(|e| Error::new(Code::Internal, format!("report: {e}")))
        });
        self.submit(env, Shape::Text, Op::Call(call))
    }

    /// Applies `mutation` at once on this thread when nothing is queued and the backend can;
    /// else hands it back (`Err`), for the storage thread.
    fn try_write(
        &mut self,
        env: sys::napi_env,
        mutation: Mutation,
    ) -> std::result::Result<Wrote, Mutation> {
        self.flush_later(env);
        let batch = [mutation];
        match self.apply_now(&batch) {
            TryApply::Done(mut results) => Ok(Wrote::Done(results.pop().unwrap_or(Ok(())))),
            TryApply::Owed => Ok(Wrote::Owed),
            TryApply::NotNow => {
                let [mutation] = batch;
                Err(mutation)
            }
        }
    }

    /// Writes `mutation` at once if it can, else through the storage thread.
    fn write(&mut self, env: Env, mutation: Mutation) -> Raw {
        match self.try_write(env.raw(), mutation) {
            Ok(Wrote::Done(result)) => {
                let result = result.map(|()| Reply::Done);
                Raw(unsafe { settle::settled(env.raw(), Shape::Done, result) })
            }
            Ok(Wrote::Owed) => self.owed(env.raw()),
            Err(mutation) => self.submit(env, Shape::Done, Op::Write(mutation)),
        }
    }

    /// `true` once `mutation` was committed on this thread, `false` when it has to go
    /// through the storage thread, or the error it failed with: a call that completes here
    /// costs JavaScript no promise of its own. A write sent to a server whose answer is late
    /// returns the promise of its outcome.
    fn write_now(&mut self, env: Env, mutation: Mutation) -> Raw {
        let env = env.raw();
        match self.try_write(env, mutation) {
            Ok(Wrote::Done(Ok(()))) => Raw(unsafe { convert::boolean(env, true) }),
            Ok(Wrote::Done(Err(e))) => Raw(unsafe { settle::error_value(env, &e) }),
            Ok(Wrote::Owed) => self.owed(env),
            Err(_) => Raw(unsafe { convert::boolean(env, false) }),
        }
    }
}

/// A write made on the JavaScript thread: done, or sent with its outcome owed.
enum Wrote {
    Done(crate::error::Result<()>),
    Owed,
}

/// Creds as JavaScript encoded them, in stored form.
fn stored_creds(creds: &[u8]) -> crate::error::Result<Vec<u8>> {
    crate::codec::to_stored(creds)
        .map_err(|e| Error::new(Code::Internal, format!("creds: {}", e.message)))
}

#[napi]
impl NativeStore {
    #[napi(constructor)]
    pub fn new(env: Env) -> napi::Result<Self> {
        let (channel, shared) = unsafe { settle::channel(env.raw()) }
            .map_err(|e| napi::Error::from_reason(e.message))?;
        let worker = Worker::spawn(channel).map_err(|e| napi::Error::from_reason(e.message))?;
        let later = Held::default();
        unsafe { settle::guard_teardown(env.raw(), &*shared, worker.clone(), later.clone()) }
            .map_err(|e| napi::Error::from_reason(e.message))?;
        Ok(NativeStore {
            worker: Some(worker),
            shared,
            progress: Arc::default(),
            remote: false,
            quick: false,
            staging: false,
            later,
            later_tickets: Vec::new(),
            later_bytes: 0,
            later_clean: true,
        })
    }

    /// Opens (creating if needed) the store at `location`, a file path or a server URL;
    /// lib/open.js has checked the arguments.
    #[napi]
    pub fn open(&mut self, env: Env, location: String, options: OpenOptions) -> Raw {
        let wait = options.redis_wait_replicas.map(|replicas| {
            let ms = options.redis_wait_timeout_ms.unwrap_or(0);
            (replicas, Duration::from_millis(ms.into()))
        });
        let options = StoreOptions {
            session: options.session_id,
            durability: if options.full {
                Durability::Full
            } else {
                Durability::Normal
            },
            busy_timeout: Duration::from_millis(options.busy_timeout_ms.into()),
            schema: options.schema,
            prefix: options.prefix,
            client_name: options.client_name,
            wait,
            tls_ca: options.tls_ca,
        };
        let engine = Engine::of(&location);
        self.remote = engine != Engine::Sqlite;
        self.quick =
            engine == Engine::Sqlite || (engine == Engine::Redis && options.wait.is_none());
        let open = Box::new(move || crate::open::open(&location, &options));
        self.submit(env, Shape::Done, Op::Open(open))
    }

    /// `ids`: an ids frame (src/wire.rs). Resolves to an entries frame.
    #[napi]
    pub fn get(&mut self, env: Env, kind: String, ids: BufferSlice) -> Raw {
        let op = Op::Get {
            kind,
            ids: ids.to_vec(),
        };
        self.submit(env, Shape::Bytes, op)
    }

    /// A small read answered at once on this thread, its entries frame written into `out`
    /// (a buffer JavaScript keeps for this: no allocation per read, whose external memory
    /// would make the engine collect garbage far more often). Returns the frame's length; -1
    /// when the read must go through `get` (work queued, many ids, a lock to wait for, or any
    /// trouble, which `get` reports); -2 when the frame does not fit `out`.
    #[napi(js_name = "getSync")]
    pub fn get_sync(
        &mut self,
        env: Env,
        kind: String,
        ids: BufferSlice,
        mut out: BufferSlice,
    ) -> i64 {
        // Counted before anything is parsed: a large read pays nothing here.
        if !wire::ids_count(&ids).is_ok_and(|n| n <= MAX_NOW_IDS) {
            return -1;
        }
        let frame = self.now(env.raw(), |be| {
            let ids = wire::parse_ids(&ids).ok()?;
            be.try_get_frame(&kind, &ids)?.ok()
        });
        match frame {
            Some(f) if f.len() <= out.len() => {
                out[..f.len()].copy_from_slice(&f);
                f.len() as i64
            }
            Some(_) => -2,
            None => -1,
        }
    }

    /// `frame`: a set frame (src/wire.rs), applied in one transaction on the storage thread,
    /// where writes made together share one commit. The frame is parsed there: a large one
    /// costs the event loop nothing.
    #[napi]
    pub fn set(&mut self, env: Env, frame: BufferSlice) -> Raw {
        self.staging = false;
        self.submit(env, Shape::Done, Op::Set(frame.to_vec()))
    }

    /// A part of a large set frame, sent while the rest is encoded: parsed on the storage
    /// thread meanwhile, and written by the `set` of the frame that completes it, in the
    /// same transaction. Nothing answers a part (each answer would wake this thread while it
    /// encodes the next): one that fails fails that `set`, and a closed store refuses the
    /// `set`; no call runs on this thread meanwhile (`staging`), and the `set` is answered
    /// after its parts. `null` drops the parts sent (the encoding failed): it returns a
    /// promise, so that this thread's calls wait until they are dropped.
    #[napi(
        ts_args_type = "part: Buffer | null",
        ts_return_type = "Promise<void> | undefined"
    )]
    pub fn stage(&mut self, env: Env, part: Option<BufferSlice>) -> Option<Raw> {
        let Some(part) = part else {
            self.staging = false;
            return Some(self.submit(env, Shape::Done, Op::Stage(None)));
        };
        self.flush_later(env.raw());
        self.staging = true;
        if let Some(worker) = self.worker.as_ref() {
            let _ = worker.send(Op::Stage(Some(part.to_vec())), Ticket::none());
        }
        None
    }

    /// `set` for a write made together with others (`setNow` took the first of them): held
    /// until `flush`, which index.js queues as a microtask, or the store's next call, then
    /// committed with the others in one transaction (see `flush_later`). A large frame, or
    /// a store on a server, goes through `set`.
    #[napi(js_name = "setLater")]
    pub fn set_later(&mut self, env: Env, frame: BufferSlice) -> Raw {
        if self.remote || self.staging || self.worker.is_none() || frame.len() > MAX_NOW_FRAME {
            self.later_clean = false;
            return self.set(env, frame);
        }
        let env = env.raw();
        unsafe {
            let held = wire::parse_set(&frame).and_then(|writes| {
                settle::promise(env, Shape::Done).map(|(ticket, promise)| (writes, ticket, promise))
            });
            let (writes, ticket, promise) = match held {
                Ok(held) => held,
                Err(e) => {
                    self.later_clean = false;
                    return Raw(settle::rejected(env, &e));
                }
            };
            settle::lock_held(&self.later).push(Mutation::Keys(writes));
            self.later_tickets.push(ticket);
            self.later_bytes += frame.len();
            if self.later_tickets.len() >= MAX_LATER || self.later_bytes > MAX_LATER_BYTES {
                self.flush_later(env);
            }
            Raw(promise)
        }
    }

    /// Commits the writes `setLater` holds. `true` when every promise `setLater` returned
    /// since the last `flush` is fulfilled (its write held and committed on this thread):
    /// JavaScript then counts them done without a reaction on each.
    #[napi]
    pub fn flush(&mut self, env: Env) -> bool {
        self.flush_later(env.raw());
        std::mem::replace(&mut self.later_clean, true)
    }

    /// `set`, done at once on this thread when the store is idle and the frame small: see
    /// `write_now` for what it returns.
    #[napi(js_name = "setNow", ts_return_type = "boolean | Error | Promise<void>")]
    pub fn set_now(&mut self, env: Env, frame: BufferSlice) -> Raw {
        if !self.quick || frame.len() > MAX_NOW_FRAME {
            return Raw(unsafe { convert::boolean(env.raw(), false) });
        }
        match wire::parse_set(&frame) {
            Ok(writes) => self.write_now(env, Mutation::Keys(writes)),
            Err(e) => Raw(unsafe { settle::error_value(env.raw(), &e) }),
        }
    }

    #[napi]
    pub fn clear(&mut self, env: Env) -> Raw {
        self.write(env, Mutation::Clear)
    }

    /// Resolves to the encoded creds, or `null` for a new session.
    #[napi(js_name = "loadCreds")]
    pub fn load_creds(&mut self, env: Env) -> Raw {
        self.submit(env, Shape::Bytes, Op::LoadCreds)
    }

    /// `creds`: one encoded value, written through the storage thread.
    #[napi(js_name = "saveCreds")]
    pub fn save_creds(&mut self, env: Env, creds: BufferSlice) -> Raw {
        match stored_creds(&creds) {
            Ok(stored) => self.submit(env, Shape::Done, Op::Write(Mutation::Creds(stored))),
            Err(e) => Raw(unsafe { settle::rejected(env.raw(), &e) }),
        }
    }

    /// `saveCreds`, done at once on this thread when it can: see `write_now`.
    #[napi(
        js_name = "saveCredsNow",
        ts_return_type = "boolean | Error | Promise<void>"
    )]
    pub fn save_creds_now(&mut self, env: Env, creds: BufferSlice) -> Raw {
        if !self.quick {
            return Raw(unsafe { convert::boolean(env.raw(), false) });
        }
        match stored_creds(&creds) {
            Ok(stored) => self.write_now(env, Mutation::Creds(stored)),
            Err(e) => Raw(unsafe { settle::error_value(env.raw(), &e) }),
        }
    }

    /// One page of `list`/`listIds`: up to `limit` entries after `after`, in id order, as
    /// an entries frame (values empty unless `withValues`).
    #[napi(js_name = "listPage")]
    pub fn list_page(
        &mut self,
        env: Env,
        kind: String,
        after: Option<String>,
        limit: u32,
        with_values: bool,
    ) -> Raw {
        let op = Op::List {
            kind,
            after,
            limit: limit.max(1) as usize,
            with_values,
        };
        self.submit(env, Shape::Bytes, op)
    }

    /// Every session of the store, as JSON (`SessionInfo[]`).
    #[napi]
    pub fn sessions(&mut self, env: Env) -> Raw {
        self.report(env, |be| be.sessions())
    }

    /// Keys per type of this session, as JSON (`TypeCount[]`).
    #[napi]
    pub fn counts(&mut self, env: Env) -> Raw {
        self.report(env, |be| be.counts())
    }

    /// The engine's consistency check, as JSON (the problems found).
    #[napi]
    pub fn integrity(&mut self, env: Env) -> Raw {
        self.report(env, |be| be.integrity())
    }

    /// Removes this session whole; resolves to JSON `true` if it existed.
    #[napi(js_name = "deleteSession")]
    pub fn delete_session(&mut self, env: Env) -> Raw {
        self.report(env, |be| be.delete_session())
    }

    /// Takes the session's lease; resolves to JSON `null`, or the live holder that kept it.
    /// `takeover`: take it from any holder; `from`: only from the holder with this token.
    #[napi]
    pub fn acquire(
        &mut self,
        env: Env,
        token: String,
        host: String,
        ttl_ms: u32,
        takeover: bool,
        from: Option<String>,
    ) -> Raw {
        let lease = Lease {
            token,
            pid: std::process::id(),
            host,
            ttl_ms: ttl_ms.into(),
        };
        let takeover = match (takeover, from) {
            (true, _) => Takeover::Always,
            (false, Some(token)) => Takeover::From(token),
            (false, None) => Takeover::Never,
        };
        self.report(env, move |be| be.acquire(&lease, &takeover))
    }

    /// Extends the lease; rejects with `ERR_LEASE_LOST` once another process took it.
    #[napi]
    pub fn renew(&mut self, env: Env) -> Raw {
        self.report(env, |be| be.renew())
    }

    /// Gives the lease back.
    #[napi]
    pub fn release(&mut self, env: Env) -> Raw {
        self.report(env, |be| be.release())
    }

    /// Replaces the whole session in one transaction: `keys` a set frame (or `null` for
    /// none), `creds` one encoded value (or `null` to leave the session without creds).
    #[napi]
    pub fn replace(
        &mut self,
        env: Env,
        keys: Option<BufferSlice>,
        creds: Option<BufferSlice>,
    ) -> Raw {
        let keys = match keys.map(|f| wire::parse_set(&f)).transpose() {
            Ok(keys) => keys.unwrap_or_default(),
            Err(e) => return Raw(unsafe { settle::rejected(env.raw(), &e) }),
        };
        let creds = match creds.map(|c| crate::codec::to_stored(&c)).transpose() {
            Ok(creds) => creds,
            Err(e) => return Raw(unsafe { settle::rejected(env.raw(), &e) }),
        };
        self.submit(
            env,
            Shape::Done,
            Op::Write(Mutation::Replace { creds, keys }),
        )
    }

    /// Copies the whole file to `dest` (a new file), or with `intoExisting` over the database
    /// at `dest` in one transaction (a restore). `progress` follows it.
    #[napi]
    pub fn snapshot(&mut self, env: Env, dest: String, into_existing: bool) -> Raw {
        let progress = self.progress.clone();
        for p in progress.iter() {
            p.store(0, Ordering::Relaxed);
        }
        self.report(env, move |be| {
            be.snapshot(&PathBuf::from(dest), into_existing, &|done, total| {
                progress[0].store(done, Ordering::Relaxed);
                progress[1].store(total, Ordering::Relaxed);
            })
        })
    }

    /// `[done, total]` pages of the last snapshot.
    #[napi(getter)]
    pub fn progress(&self) -> Vec<f64> {
        self.progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed) as f64)
            .collect()
    }

    /// Waits for every queued call, closes the file, and refuses later calls.
    #[napi]
    pub fn close(&mut self, env: Env) -> Raw {
        let promise = self.submit(env, Shape::Done, Op::Close);
        // The thread finishes the queue on its own; never block this thread joining it.
        self.worker = None;
        promise
    }

    /// Whether the store is on a server: its writes made together are not held (see
    /// `setLater`), and its health is the server's.
    #[napi(getter)]
    pub fn remote(&self) -> bool {
        self.remote
    }

    /// Whether small calls may complete on the JavaScript thread (`getSync`, `setNow`,
    /// `saveCredsNow`): in a file, and on a Redis server through its fast lane.
    #[napi(getter)]
    pub fn quick(&self) -> bool {
        self.quick
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.worker.is_none()
    }
}

impl Drop for NativeStore {
    fn drop(&mut self) {
        // Garbage collected while open: let the thread finish its queue and close the file.
        if let Some(worker) = self.worker.take() {
            settle::send_held(&worker, &self.later);
            let _ = worker.send(Op::Close, Ticket::none());
        }
    }
}
