//! Promises settled from the storage thread.
//!
//! Each store has one threadsafe function. A request carries a `Ticket` (the promise's
//! deferred, plus how to present the reply); the storage thread posts completed tickets
//! back in batches and `deliver` settles them on the JavaScript thread. Deferreds are
//! only ever touched on the JavaScript thread: the storage thread just carries them.

use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::sys;

use super::convert::{self, js_string};
use crate::backend::Mutation;
use crate::error::{Code, Error, Result};
use crate::worker::{Completion, Notify, Op, Reply, Worker};

type Env = sys::napi_env;
type Val = sys::napi_value;

/// How a reply becomes a JavaScript value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `undefined`.
    Done,
    /// A Buffer (an entries frame, or encoded creds; `null` when there are none).
    Bytes,
    /// A string (a JSON report).
    Text,
}

/// A pending promise on its way through the storage thread.
pub struct Ticket {
    deferred: usize,
    shape: Shape,
}

impl Ticket {
    /// A ticket nobody waits for (the close sent when a store is garbage collected).
    pub fn none() -> Self {
        Ticket {
            deferred: 0,
            shape: Shape::Done,
        }
    }
}

thread_local! {
    /// The `AuthStateError` constructor registered by index.js, per JavaScript thread.
    static ERROR_CLASS: Cell<sys::napi_ref> = const { Cell::new(ptr::null_mut()) };
}

pub unsafe fn set_error_class(env: Env, ctor: Val) -> Result<()> {
    let mut r = ptr::null_mut();
    convert::check(
        env,
        sys::napi_create_reference(env, ctor, 1, &mut r),
        "keeping the error class",
    )?;
    let old = ERROR_CLASS.with(|c| c.replace(r));
    if !old.is_null() {
        sys::napi_delete_reference(env, old);
    }
    Ok(())
}

/// An `AuthStateError` (or, before registration, an `Error`) with `code` set.
pub unsafe fn error_value(env: Env, err: &Error) -> Val {
    let code = js_string(env, err.code.as_str()).unwrap_or(ptr::null_mut());
    let msg = js_string(env, &err.message).unwrap_or(ptr::null_mut());
    let mut out = ptr::null_mut();
    let class = ERROR_CLASS.with(|c| c.get());
    if !class.is_null() {
        let mut ctor = ptr::null_mut();
        sys::napi_get_reference_value(env, class, &mut ctor);
        let args = [msg, code];
        if !ctor.is_null()
            && sys::napi_new_instance(env, ctor, 2, args.as_ptr(), &mut out) == sys::Status::napi_ok
        {
            return out;
        }
        let mut exc = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut exc);
    }
    sys::napi_create_error(env, code, msg, &mut out);
    out
}

/// A new promise and the ticket that settles it.
pub unsafe fn promise(env: Env, shape: Shape) -> Result<(Ticket, Val)> {
    let (mut deferred, mut p) = (ptr::null_mut(), ptr::null_mut());
    convert::check(
        env,
        sys::napi_create_promise(env, &mut deferred, &mut p),
        "creating a promise",
    )?;
    Ok((
        Ticket {
            deferred: deferred as usize,
            shape,
        },
        p,
    ))
}

/// A promise already rejected with `err`.
pub unsafe fn rejected(env: Env, err: &Error) -> Val {
    match promise(env, Shape::Done) {
        Ok((ticket, p)) => {
            settle(env, ticket, Err(err.clone()));
            p
        }
        Err(_) => ptr::null_mut(),
    }
}

unsafe fn present(env: Env, shape: Shape, reply: Reply) -> Result<Val> {
    match (shape, reply) {
        (Shape::Done, _) => Ok(convert::undefined(env)),
        (Shape::Bytes, Reply::Frame(bytes) | Reply::Creds(Some(bytes))) => {
            convert::js_buffer(env, bytes)
        }
        (Shape::Bytes, Reply::Creds(None)) => Ok(convert::null(env)),
        (Shape::Text, Reply::Text(text)) => convert::js_string(env, &text),
        (shape, reply) => Err(Error::new(
            Code::Internal,
            format!("reply {reply:?} does not fit {shape:?}"),
        )),
    }
}

/// Settles a ticket's promise on the JavaScript thread.
pub unsafe fn settle(env: Env, ticket: Ticket, result: Result<Reply>) {
    if ticket.deferred == 0 {
        return;
    }
    let deferred = ticket.deferred as sys::napi_deferred;
    let value = result.and_then(|reply| present(env, ticket.shape, reply));
    let status = match value {
        Ok(v) => sys::napi_resolve_deferred(env, deferred, v),
        Err(e) => sys::napi_reject_deferred(env, deferred, error_value(env, &e)),
    };
    if status != sys::Status::napi_ok {
        // Only when the environment is shutting down; there is nobody left to tell.
        let mut exc = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut exc);
    }
}

/// Whether the JavaScript environment is being torn down: from then on the storage thread
/// must not touch the threadsafe function, which Node frees.
#[derive(Default)]
pub struct Lifeline {
    env_gone: Mutex<bool>,
}

impl Lifeline {
    fn gone(&self) -> std::sync::MutexGuard<'_, bool> {
        self.env_gone.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes a store holds on the JavaScript thread to commit together (`setLater`), their
/// promises kept apart (those never leave that thread). Shared with the teardown hook, which
/// hands them to the storage thread should the environment go first.
pub type Held = Arc<Mutex<Vec<Mutation>>>;

pub fn lock_held(held: &Held) -> std::sync::MutexGuard<'_, Vec<Mutation>> {
    held.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the environment-teardown hook needs: the storage thread, to let it finish.
struct Teardown {
    lifeline: Arc<Lifeline>,
    worker: Worker<Ticket>,
    held: Held,
}

/// Runs when the environment shuts down (process exit, worker thread end) with the store
/// still open: the storage thread finishes what was queued and closes the file, then is cut
/// off from JavaScript. Registered after the threadsafe function, so it runs before Node
/// frees it.
unsafe extern "C" fn on_teardown(arg: *mut c_void) {
    let hook = Box::from_raw(arg as *mut Teardown);
    send_held(&hook.worker, &hook.held);
    let _ = hook.worker.send(Op::Close, Ticket::none());
    hook.worker.wait_exit(Duration::from_secs(10));
    *hook.lifeline.gone() = true;
}

/// JavaScript-thread state of one store's threadsafe function.
pub struct Shared {
    tsfn: Cell<sys::napi_threadsafe_function>,
    /// Promises not yet settled: the function keeps the event loop alive only while some are.
    pending: Cell<usize>,
    lifeline: Arc<Lifeline>,
    /// The teardown hook's argument, to unregister it when the store ends first.
    teardown: Cell<*mut c_void>,
}

impl Shared {
    /// No promise of this store is waiting on the storage thread, so nothing is queued.
    pub fn idle(&self) -> bool {
        self.pending.get() == 0
    }
}

type Batch = Vec<Completion<Ticket>>;

unsafe extern "C" fn deliver(env: Env, _js_cb: Val, context: *mut c_void, data: *mut c_void) {
    let batch = Box::from_raw(data as *mut Batch);
    if env.is_null() {
        return; // the environment is going away; the promises die with it
    }
    let shared = &*(context as *const Shared);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        for done in *batch {
            if done.ticket.deferred != 0 {
                shared.pending.set(shared.pending.get() - 1);
            }
            settle(env, done.ticket, done.result);
        }
        if shared.pending.get() == 0 {
            sys::napi_unref_threadsafe_function(env, shared.tsfn.get());
        }
    }));
}

unsafe extern "C" fn finalize(env: Env, data: *mut c_void, _hint: *mut c_void) {
    let shared = Box::from_raw(data as *mut Shared);
    let hook = shared.teardown.get();
    // Still registered unless the teardown hook already ran (and freed its argument).
    if !hook.is_null() && !*shared.lifeline.gone() {
        sys::napi_remove_env_cleanup_hook(env, Some(on_teardown), hook);
        drop(Box::from_raw(hook as *mut Teardown));
    }
}

/// The storage thread's end of the threadsafe function.
pub struct Channel {
    tsfn: sys::napi_threadsafe_function,
    lifeline: Arc<Lifeline>,
}

// The threadsafe function exists to be called from other threads.
unsafe impl Send for Channel {}

impl Notify<Ticket> for Channel {
    fn notify(&mut self, mut done: Batch) {
        // Nobody waits for a ticket of none: JavaScript is not woken for it.
        done.retain(|c| c.ticket.deferred != 0);
        if done.is_empty() {
            return;
        }
        // Held across the call, so teardown cannot free the function meanwhile.
        let gone = self.lifeline.gone();
        if *gone {
            return;
        }
        let data = Box::into_raw(Box::new(done));
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                self.tsfn,
                data.cast(),
                sys::ThreadsafeFunctionCallMode::blocking,
            )
        };
        if status != sys::Status::napi_ok {
            // The environment is closing: nobody will read these.
            drop(unsafe { Box::from_raw(data) });
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let gone = self.lifeline.gone();
        if *gone {
            return;
        }
        unsafe {
            sys::napi_release_threadsafe_function(
                self.tsfn,
                sys::ThreadsafeFunctionReleaseMode::release,
            );
        }
    }
}

/// Creates a store's threadsafe function: the `Channel` goes to the storage thread, the
/// `Shared` pointer stays on the JavaScript thread (valid until the channel is dropped and
/// the function finalized).
pub unsafe fn channel(env: Env) -> Result<(Channel, *const Shared)> {
    let lifeline = Arc::new(Lifeline::default());
    let shared = Box::into_raw(Box::new(Shared {
        tsfn: Cell::new(ptr::null_mut()),
        pending: Cell::new(0),
        lifeline: lifeline.clone(),
        teardown: Cell::new(ptr::null_mut()),
    }));
    let name = js_string(env, "baileys-rust-auth")?;
    let mut tsfn = ptr::null_mut();
    let status = sys::napi_create_threadsafe_function(
        env,
        ptr::null_mut(),
        ptr::null_mut(),
        name,
        0,
        1,
        shared.cast(),
        Some(finalize),
        shared.cast(),
        Some(deliver),
        &mut tsfn,
    );
    if let Err(e) = convert::check(env, status, "creating the completion channel") {
        drop(Box::from_raw(shared));
        return Err(e);
    }
    (*shared).tsfn.set(tsfn);
    // An idle store must not keep the process alive.
    sys::napi_unref_threadsafe_function(env, tsfn);
    Ok((Channel { tsfn, lifeline }, shared))
}

/// Hands the writes held on the JavaScript thread to the storage thread, answering nobody:
/// their promises are gone with the store or the environment.
pub fn send_held(worker: &Worker<Ticket>, held: &Held) {
    let writes = std::mem::take(&mut *lock_held(held));
    for mutation in writes {
        let _ = worker.send(Op::Write(mutation), Ticket::none());
    }
}

/// Makes sure the storage thread winds down before the environment goes (see `on_teardown`).
pub unsafe fn guard_teardown(
    env: Env,
    shared: &Shared,
    worker: Worker<Ticket>,
    held: Held,
) -> Result<()> {
    let hook = Box::into_raw(Box::new(Teardown {
        lifeline: shared.lifeline.clone(),
        worker,
        held,
    }));
    let status = sys::napi_add_env_cleanup_hook(env, Some(on_teardown), hook.cast());
    if let Err(e) = convert::check(env, status, "registering the shutdown hook") {
        drop(Box::from_raw(hook));
        return Err(e);
    }
    shared.teardown.set(hook.cast());
    Ok(())
}

/// Counts a promise handed to the storage thread (JavaScript thread only).
pub unsafe fn track(env: Env, shared: &Shared) {
    if shared.pending.get() == 0 {
        sys::napi_ref_threadsafe_function(env, shared.tsfn.get());
    }
    shared.pending.set(shared.pending.get() + 1);
}

/// A promise settled at once with `result` (work done on the JavaScript thread).
pub unsafe fn settled(env: Env, shape: Shape, result: Result<Reply>) -> Val {
    match promise(env, shape) {
        Ok((ticket, p)) => {
            settle(env, ticket, result);
            p
        }
        Err(e) => rejected(env, &e),
    }
}
