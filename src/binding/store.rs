//! `NativeStore`, the class index.js wraps. Every method returns a promise; bad input
//! rejects it with a coded error instead of throwing.

use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::{Buffer, ToNapiValue, TypeName, ValueType};
use napi::{sys, Env, JsValue, Unknown};
use napi_derive::napi;

use super::settle::{self, Shape, Shared, Ticket};
use crate::backend::{Backend, Mutation};
use crate::error::{Code, Error, Result};
use crate::sqlite::{Durability, Options, Reader, SqliteBackend};
use crate::wire;
use crate::worker::{Op, Worker};

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

/// The schema version this build writes.
#[napi(js_name = "schemaVersion")]
pub fn schema_version() -> i64 {
    crate::sqlite::SCHEMA_VERSION
}

#[napi]
pub struct NativeStore {
    worker: Option<Worker<Ticket>>,
    shared: *const Shared,
    /// Where `open` was asked to open, for the JavaScript-thread reader.
    opened: Option<(PathBuf, String)>,
    reader: Option<Reader>,
}

/// Most ids a read serves on the JavaScript thread; larger reads go to the storage thread.
const MAX_SYNC_IDS: usize = 32;

impl NativeStore {
    /// Queues `op` and returns the promise its completion settles.
    fn submit(&mut self, env: Env, shape: Shape, op: Op) -> Raw {
        let env = env.raw();
        let Some(worker) = self.worker.as_ref() else {
            return Raw(unsafe { settle::rejected(env, &Error::closed()) });
        };
        let write = matches!(op, Op::Set(_) | Op::Write(_));
        unsafe {
            let (ticket, promise) = match settle::promise(env, shape, write) {
                Ok(p) => p,
                Err(e) => return Raw(settle::rejected(env, &e)),
            };
            match worker.send(op, ticket) {
                // The store lives until its channel is finalized, after the last completion.
                Ok(()) => settle::track(env, &*self.shared, write),
                Err(ticket) => settle::settle(
                    env,
                    ticket,
                    Err(Error::new(Code::Internal, "the storage thread is gone")),
                ),
            }
            Raw(promise)
        }
    }

    fn sync_get(&mut self, kind: &str, ids: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.worker.is_none() || unsafe { (*self.shared).writes_in_flight() } {
            return Ok(None);
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let ids = wire::parse_ids(ids)?;
        if ids.len() > MAX_SYNC_IDS {
            return Ok(None);
        }
        let found = reader.get(kind, &ids)?;
        wire::entries_frame(kind, &found).map(Some)
    }
}

#[napi]
impl NativeStore {
    #[napi(constructor)]
    pub fn new(env: Env) -> napi::Result<Self> {
        let (channel, shared) = unsafe { settle::channel(env.raw()) }
            .map_err(|e| napi::Error::from_reason(e.message))?;
        let worker = Worker::spawn(channel).map_err(|e| napi::Error::from_reason(e.message))?;
        unsafe { settle::guard_teardown(env.raw(), &*shared, worker.clone()) }
            .map_err(|e| napi::Error::from_reason(e.message))?;
        Ok(NativeStore {
            worker: Some(worker),
            shared,
            opened: None,
            reader: None,
        })
    }

    /// Opens (creating if needed) the SQLite file; index.js has checked the arguments.
    #[napi]
    pub fn open(
        &mut self,
        env: Env,
        path: String,
        session: String,
        full: bool,
        busy_timeout_ms: u32,
    ) -> Raw {
        let options = Options {
            session: session.clone(),
            durability: if full {
                Durability::Full
            } else {
                Durability::Normal
            },
            busy_timeout: Duration::from_millis(busy_timeout_ms.into()),
        };
        let path = PathBuf::from(path);
        self.opened = Some((path.clone(), session));
        let open = Box::new(move || {
            SqliteBackend::open(&path, &options).map(|b| Box::new(b) as Box<dyn Backend>)
        });
        self.submit(env, Shape::Done, Op::Open(open))
    }

    /// Opens the JavaScript-thread reader, once `open` has resolved. Without it every read
    /// goes through the storage thread, which is only slower.
    #[napi(js_name = "openReader")]
    pub fn open_reader(&mut self) -> bool {
        if let Some((path, session)) = &self.opened {
            self.reader = Reader::open(path, session).ok();
        }
        self.reader.is_some()
    }

    /// `ids`: an ids frame (src/wire.rs). Resolves to an entries frame.
    #[napi]
    pub fn get(&mut self, env: Env, kind: String, ids: Buffer) -> Raw {
        let op = Op::Get {
            kind,
            ids: ids.to_vec(),
        };
        self.submit(env, Shape::Bytes, op)
    }

    /// A small read answered at once on this thread, or `null` when it must go through
    /// `get` (writes in flight, many ids, or any trouble, which `get` then reports).
    #[napi(js_name = "getSync")]
    pub fn get_sync(&mut self, kind: String, ids: Buffer) -> Option<Buffer> {
        self.sync_get(&kind, &ids).ok().flatten().map(Buffer::from)
    }

    /// `frame`: a set frame (src/wire.rs), applied in one transaction.
    #[napi]
    pub fn set(&mut self, env: Env, frame: Buffer) -> Raw {
        self.submit(env, Shape::Done, Op::Set(frame.to_vec()))
    }

    #[napi]
    pub fn clear(&mut self, env: Env) -> Raw {
        self.submit(env, Shape::Done, Op::Write(Mutation::Clear))
    }

    /// Resolves to the encoded creds, or `null` for a new session.
    #[napi(js_name = "loadCreds")]
    pub fn load_creds(&mut self, env: Env) -> Raw {
        self.submit(env, Shape::Bytes, Op::LoadCreds)
    }

    /// `creds`: one encoded value.
    #[napi(js_name = "saveCreds")]
    pub fn save_creds(&mut self, env: Env, creds: Buffer) -> Raw {
        self.submit(env, Shape::Done, Op::Write(Mutation::Creds(creds.to_vec())))
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

    /// Waits for every queued call, closes the file, and refuses later calls.
    #[napi]
    pub fn close(&mut self, env: Env) -> Raw {
        let promise = self.submit(env, Shape::Done, Op::Close);
        // The thread finishes the queue on its own; never block this thread joining it.
        self.worker = None;
        self.reader = None;
        promise
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
            let _ = worker.send(Op::Close, Ticket::none());
        }
    }
}
