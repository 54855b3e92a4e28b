//! `NativeStore`, the class index.js wraps. Every method returns a promise; bad input
//! rejects it with a coded error instead of throwing.

use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::{ToNapiValue, TypeName, ValueType};
use napi::{sys, Env, JsValue, Unknown};
use napi_derive::napi;

use super::convert::{self, Encoder};
use super::settle::{self, Shape, Shared, Ticket};
use crate::backend::{Backend, KeyWrite, Mutation};
use crate::error::{Code, Error, Result};
use crate::sqlite::{Durability, Options, SqliteBackend};
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

/// Longest accepted type name or id, in bytes: far beyond any Baileys id, small enough to
/// keep the index compact.
const MAX_NAME: usize = 4096;

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
}

fn name(env: sys::napi_env, v: sys::napi_value, what: &str) -> Result<String> {
    let s = unsafe { convert::string_arg(env, v)? }
        .ok_or_else(|| Error::invalid(format!("{what} must be a string")))?;
    if s.is_empty() && what == "type" {
        return Err(Error::invalid("type must be a non-empty string"));
    }
    if s.len() > MAX_NAME {
        return Err(Error::new(
            Code::ValueTooLarge,
            format!("{what} is longer than {MAX_NAME} bytes"),
        ));
    }
    Ok(s)
}

unsafe fn ids_arg(env: sys::napi_env, ids: sys::napi_value) -> Result<Vec<String>> {
    if !convert::is_array(env, ids)? {
        return Err(Error::invalid("ids must be an array of strings"));
    }
    let n = convert::array_len(env, ids)?;
    (0..n)
        .map(|i| name(env, convert::element(env, ids, i)?, "each id"))
        .collect()
}

unsafe fn is_nullish(env: sys::napi_env, v: sys::napi_value) -> Result<bool> {
    let t = convert::type_of(env, v)?;
    Ok(t == sys::ValueType::napi_null || t == sys::ValueType::napi_undefined)
}

unsafe fn is_plain_object(env: sys::napi_env, v: sys::napi_value) -> Result<bool> {
    Ok(convert::type_of(env, v)? == sys::ValueType::napi_object && !convert::is_array(env, v)?)
}

/// `{ [type]: { [id]: value | null } }` to key writes, encoding every value here on the
/// JavaScript thread (values cannot cross threads).
unsafe fn writes_arg(env: sys::napi_env, data: sys::napi_value) -> Result<Vec<KeyWrite>> {
    if !is_plain_object(env, data)? {
        return Err(Error::invalid(
            "keys.set takes an object of the form { [type]: { [id]: value | null } }",
        ));
    }
    let mut enc = Encoder::new(env);
    let mut writes = Vec::new();
    let (types, n) = convert::own_keys(env, data)?;
    for i in 0..n {
        let type_key = convert::element(env, types, i)?;
        let kind = name(env, type_key, "type")?;
        let by_id = convert::property(env, data, type_key)?;
        if is_nullish(env, by_id)? {
            continue;
        }
        if !is_plain_object(env, by_id)? {
            return Err(Error::invalid(format!(
                "keys.set: data[{kind:?}] must be an object of ids to values"
            )));
        }
        let (ids, m) = convert::own_keys(env, by_id)?;
        for j in 0..m {
            let id_key = convert::element(env, ids, j)?;
            let id = name(env, id_key, "each id")?;
            let v = convert::property(env, by_id, id_key)?;
            let value = if is_nullish(env, v)? {
                None
            } else {
                Some(
                    enc.encode(v)
                        .map_err(|e| Error::new(e.code, format!("{kind} {id:?}: {}", e.message)))?,
                )
            };
            writes.push(KeyWrite {
                kind: kind.clone(),
                id,
                value,
            });
        }
    }
    Ok(writes)
}

impl NativeStore {
    /// Queues `op` and returns the promise its completion settles.
    fn submit(&mut self, env: Env, shape: Shape, op: Result<Op>) -> Raw {
        let env = env.raw();
        let Some(worker) = self.worker.as_ref() else {
            return Raw(unsafe { settle::rejected(env, &Error::closed()) });
        };
        let op = match op {
            Ok(op) => op,
            Err(e) => return Raw(unsafe { settle::rejected(env, &e) }),
        };
        unsafe {
            let (ticket, promise) = match settle::promise(env, shape) {
                Ok(p) => p,
                Err(e) => return Raw(settle::rejected(env, &e)),
            };
            match worker.send(op, ticket) {
                Ok(()) => settle::track(env, self.shared),
                Err(ticket) => settle::settle(
                    env,
                    ticket,
                    Err(Error::new(Code::Internal, "the storage thread is gone")),
                ),
            }
            Raw(promise)
        }
    }
}

#[napi]
impl NativeStore {
    #[napi(constructor)]
    pub fn new(env: Env) -> napi::Result<Self> {
        let (channel, shared) = unsafe { settle::channel(env.raw()) }
            .map_err(|e| napi::Error::from_reason(e.message))?;
        let worker = Worker::spawn(channel).map_err(|e| napi::Error::from_reason(e.message))?;
        Ok(NativeStore {
            worker: Some(worker),
            shared,
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
            session,
            durability: if full {
                Durability::Full
            } else {
                Durability::Normal
            },
            busy_timeout: Duration::from_millis(busy_timeout_ms.into()),
        };
        let path = PathBuf::from(path);
        let open = Box::new(move || {
            SqliteBackend::open(&path, &options).map(|b| Box::new(b) as Box<dyn Backend>)
        });
        self.submit(env, Shape::Done, Ok(Op::Open(open)))
    }

    #[napi]
    pub fn get(&mut self, env: Env, kind: Unknown, ids: Unknown) -> Raw {
        let raw = env.raw();
        let op = name(raw, kind.raw(), "type").and_then(|kind| {
            Ok(Op::Get {
                kind,
                ids: unsafe { ids_arg(raw, ids.raw())? },
            })
        });
        self.submit(env, Shape::Map, op)
    }

    #[napi]
    pub fn set(&mut self, env: Env, data: Unknown) -> Raw {
        let op = unsafe { writes_arg(env.raw(), data.raw()) }.map(|w| Op::Write(Mutation::Keys(w)));
        self.submit(env, Shape::Done, op)
    }

    #[napi]
    pub fn clear(&mut self, env: Env) -> Raw {
        self.submit(env, Shape::Done, Ok(Op::Write(Mutation::Clear)))
    }

    #[napi(js_name = "loadCreds")]
    pub fn load_creds(&mut self, env: Env) -> Raw {
        self.submit(env, Shape::Creds, Ok(Op::LoadCreds))
    }

    #[napi(js_name = "saveCreds")]
    pub fn save_creds(&mut self, env: Env, creds: Unknown) -> Raw {
        let raw = env.raw();
        let op = unsafe {
            if is_plain_object(raw, creds.raw()) == Ok(true) {
                Encoder::new(raw)
                    .encode(creds.raw())
                    .map(|b| Op::Write(Mutation::Creds(b)))
            } else {
                Err(Error::invalid("creds must be an object"))
            }
        };
        self.submit(env, Shape::Done, op)
    }

    /// One page of `list`/`listIds`: up to `limit` entries after `after`, in id order.
    #[napi(js_name = "listPage")]
    pub fn list_page(
        &mut self,
        env: Env,
        kind: Unknown,
        after: Option<String>,
        limit: u32,
        with_values: bool,
    ) -> Raw {
        let op = name(env.raw(), kind.raw(), "type").map(|kind| Op::List {
            kind,
            after,
            limit: limit.max(1) as usize,
            with_values,
        });
        let shape = if with_values {
            Shape::Pairs
        } else {
            Shape::Ids
        };
        self.submit(env, shape, op)
    }

    /// Waits for every queued call, closes the file, and refuses later calls.
    #[napi]
    pub fn close(&mut self, env: Env) -> Raw {
        let promise = self.submit(env, Shape::Done, Ok(Op::Close));
        // The thread finishes the queue on its own; never block this thread joining it.
        self.worker = None;
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
