//! The storage thread: owns one backend, serves requests in arrival order, and commits
//! writes that queue up while it is busy in one transaction (group commit).
//!
//! Each request carries an opaque ticket that comes back with its result, so the caller
//! (the JavaScript binding) can settle the matching promise. Results are reported only
//! after the commit holding them succeeded.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use crate::backend::{Backend, Mutation};
use crate::error::{Code, Error, Result};
use crate::wire;

/// Most writes folded into one commit: bounds the latency a large queue adds to its head.
const MAX_GROUP: usize = 256;

pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn Backend>> + Send>;

/// Any other backend call (reports, leases), served in queue order.
pub type Call = Box<dyn FnOnce(&mut dyn Backend) -> Result<Reply> + Send>;

pub enum Op {
    Open(Opener),
    /// `ids` is an ids frame (src/wire.rs).
    Get {
        kind: String,
        ids: Vec<u8>,
    },
    LoadCreds,
    List {
        kind: String,
        after: Option<String>,
        limit: usize,
        with_values: bool,
    },
    /// A set frame (src/wire.rs), parsed on the storage thread.
    Set(Vec<u8>),
    /// A mutation whose values are already in stored form.
    Write(Mutation),
    Call(Call),
    Close,
}

#[derive(Debug, PartialEq)]
pub enum Reply {
    Done,
    /// An entries frame (src/wire.rs).
    Frame(Vec<u8>),
    Creds(Option<Vec<u8>>),
    /// A report, as JSON text.
    Text(String),
}

pub struct Request<T> {
    pub op: Op,
    pub ticket: T,
}

pub struct Completion<T> {
    pub ticket: T,
    pub result: Result<Reply>,
}

/// Where completions go. Called on the storage thread, once per served batch.
pub trait Notify<T>: Send + 'static {
    fn notify(&mut self, done: Vec<Completion<T>>);
}

impl<T, F: FnMut(Vec<Completion<T>>) + Send + 'static> Notify<T> for F {
    fn notify(&mut self, done: Vec<Completion<T>>) {
        self(done)
    }
}

/// Set once the storage thread has finished (its backend closed), for bounded waits.
#[derive(Default)]
struct Exited {
    done: Mutex<bool>,
    cond: Condvar,
}

/// Handle to a running storage thread; clones reach the same thread. Once every handle is
/// dropped (or after a `Close` request) the thread finishes the queued requests, closes
/// the backend and exits.
pub struct Worker<T> {
    tx: Sender<Request<T>>,
    exited: Arc<Exited>,
    backend: Slot,
}

/// The backend, owned by the storage thread, lent to the caller's thread when idle.
type Slot = Arc<Mutex<Option<Box<dyn Backend>>>>;

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Box<dyn Backend>>> {
    // A panic is caught inside every backend call, so the data is never left half-changed.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Clone for Worker<T> {
    fn clone(&self) -> Self {
        Worker {
            tx: self.tx.clone(),
            exited: self.exited.clone(),
            backend: self.backend.clone(),
        }
    }
}

impl<T: Send + 'static> Worker<T> {
    pub fn spawn(notify: impl Notify<T>) -> Result<Self> {
        let (tx, rx) = channel();
        let exited = Arc::new(Exited::default());
        let signal = exited.clone();
        let backend: Slot = Arc::default();
        let slot = backend.clone();
        std::thread::Builder::new()
            .name("baileys-rust-auth".into())
            .spawn(move || {
                serve(rx, notify, slot);
                *signal.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
                signal.cond.notify_all();
            })
            .map_err(|e| Error::new(Code::Internal, format!("cannot start storage thread: {e}")))?;
        Ok(Worker {
            tx,
            exited,
            backend,
        })
    }

    /// Runs `f` on the backend right here if the storage thread is not using it (and it is
    /// open); `None` otherwise. The caller must know that nothing is queued, so that running
    /// now keeps the order of requests.
    pub fn try_now<R>(&self, f: impl FnOnce(&mut dyn Backend) -> R) -> Option<R> {
        let mut guard = match self.backend.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let be = guard.as_mut()?;
        catch_unwind(AssertUnwindSafe(|| f(be.as_mut()))).ok()
    }

    /// Queues a request. Fails only if the thread is gone, giving the ticket back.
    pub fn send(&self, op: Op, ticket: T) -> std::result::Result<(), T> {
        self.tx.send(Request { op, ticket }).map_err(|e| e.0.ticket)
    }

    /// Waits up to `timeout` for the thread to exit; true if it has.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let done = self.exited.done.lock().unwrap_or_else(|e| e.into_inner());
        let (done, _) = self
            .exited
            .cond
            .wait_timeout_while(done, timeout, |done| !*done)
            .unwrap_or_else(|e| e.into_inner());
        *done
    }
}

fn panicked() -> Error {
    Error::new(
        Code::Internal,
        "the storage thread hit a bug (a panic was caught); nothing of this call was written",
    )
}

/// Runs `f`, turning a panic into an `Internal` error so that it never crosses into Node.
fn guarded<R>(f: impl FnOnce() -> Result<R>) -> Result<R> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(panicked()))
}

fn serve<T>(rx: Receiver<Request<T>>, mut notify: impl Notify<T>, slot: Slot) {
    let mut open_error = Error::new(Code::Internal, "the store was not opened");
    let mut next: Option<Request<T>> = None;
    loop {
        let Some(Request { op, ticket }) = next.take().or_else(|| rx.recv().ok()) else {
            drop(lock(&slot).take()); // every handle dropped: close the backend
            return;
        };
        let mut backend = lock(&slot);
        let done = match op {
            op @ (Op::Set(_) | Op::Write(_)) if backend.is_some() => {
                let be = backend.as_mut().expect("checked above");
                let mut group = Group::default();
                group.take(op, ticket);
                // Fold in the writes already waiting; stop at the first non-write so that
                // it still observes every write queued before it.
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(Request {
                            op: op @ (Op::Set(_) | Op::Write(_)),
                            ticket,
                        }) => group.take(op, ticket),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                let mut done = group.refused;
                done.extend(write_group(be.as_mut(), group.batch, group.tickets));
                Some(done)
            }
            op => serve_one(op, ticket, &mut backend, &mut open_error, &rx, &mut notify),
        };
        drop(backend);
        let Some(done) = done else { return };
        notify.notify(done);
    }
}

/// Serves a request that is not a write; `None` once the store is closed.
fn serve_one<T>(
    op: Op,
    ticket: T,
    backend: &mut Option<Box<dyn Backend>>,
    open_error: &mut Error,
    rx: &Receiver<Request<T>>,
    notify: &mut impl Notify<T>,
) -> Option<Vec<Completion<T>>> {
    let result = match op {
        Op::Open(open) => match guarded(open) {
            Ok(b) => {
                *backend = Some(b);
                Ok(Reply::Done)
            }
            Err(e) => {
                *open_error = e.clone();
                Err(e)
            }
        },
        Op::Close => {
            drop(backend.take()); // closes the connection before the promise resolves
            notify.notify(vec![Completion {
                ticket,
                result: Ok(Reply::Done),
            }]);
            // Anything queued behind close is refused.
            while let Ok(r) = rx.try_recv() {
                notify.notify(vec![Completion {
                    ticket: r.ticket,
                    result: Err(Error::closed()),
                }]);
            }
            return None;
        }
        _ if backend.is_none() => Err(open_error.clone()),
        Op::Get { kind, ids } => {
            let be = backend.as_mut().expect("checked above");
            guarded(|| {
                let found = be.get(&kind, &wire::parse_ids(&ids)?)?;
                wire::entries_frame(&kind, &found).map(Reply::Frame)
            })
        }
        Op::LoadCreds => {
            let be = backend.as_mut().expect("checked above");
            guarded(|| {
                let creds = match be.load_creds()? {
                    Some(stored) => {
                        let mut out = Vec::with_capacity(stored.len() * 4 / 3 + 1);
                        wire::present("creds", "", &stored, &mut out)?;
                        Some(out)
                    }
                    None => None,
                };
                Ok(Reply::Creds(creds))
            })
        }
        Op::List {
            kind,
            after,
            limit,
            with_values,
        } => {
            let be = backend.as_mut().expect("checked above");
            guarded(|| {
                let page = be.list(&kind, after.as_deref(), limit, with_values)?;
                wire::entries_frame(&kind, &page).map(Reply::Frame)
            })
        }
        Op::Call(call) => {
            let be = backend.as_mut().expect("checked above");
            guarded(|| call(be.as_mut()))
        }
        Op::Set(_) | Op::Write(_) => unreachable!("writes are grouped by the caller"),
    };
    Some(vec![Completion { ticket, result }])
}

/// Writes gathered for one commit, and those refused before reaching it.
struct Group<T> {
    batch: Vec<Mutation>,
    tickets: Vec<T>,
    refused: Vec<Completion<T>>,
}

impl<T> Default for Group<T> {
    fn default() -> Self {
        Group {
            batch: Vec::new(),
            tickets: Vec::new(),
            refused: Vec::new(),
        }
    }
}

impl<T> Group<T> {
    fn len(&self) -> usize {
        self.batch.len() + self.refused.len()
    }

    fn take(&mut self, op: Op, ticket: T) {
        let parsed = match op {
            Op::Write(m) => Ok(m),
            Op::Set(frame) => guarded(|| wire::parse_set(&frame)).map(Mutation::Keys),
            _ => Err(Error::new(Code::Internal, "not a write")),
        };
        match parsed {
            Ok(m) => {
                self.batch.push(m);
                self.tickets.push(ticket);
            }
            Err(e) => self.refused.push(Completion {
                ticket,
                result: Err(e),
            }),
        }
    }
}

/// Commits a group of writes and pairs each result with its ticket.
fn write_group<T>(
    be: &mut dyn Backend,
    mut batch: Vec<Mutation>,
    tickets: Vec<T>,
) -> Vec<Completion<T>> {
    // Only the last creds of a group need writing: the earlier ones would be overwritten in
    // the same commit. Their callers get the outcome of the write that replaced them.
    let last_creds = batch.iter().rposition(|m| matches!(m, Mutation::Creds(_)));
    let mut superseded = vec![false; batch.len()];
    if let Some(last) = last_creds {
        for (i, m) in batch.iter_mut().enumerate().take(last) {
            if matches!(m, Mutation::Creds(_)) {
                superseded[i] = true;
                *m = Mutation::Keys(Vec::new());
            }
        }
    }
    let results = catch_unwind(AssertUnwindSafe(|| be.apply(&batch)))
        .unwrap_or_else(|_| batch.iter().map(|_| Err(panicked())).collect());
    let replacing = last_creds.map(|i| results[i].clone());
    tickets
        .into_iter()
        .zip(results)
        .zip(superseded)
        .map(|((ticket, result), superseded)| {
            let result = match (superseded, &replacing) {
                (true, Some(r)) => r.clone(),
                _ => result,
            };
            Completion {
                ticket,
                result: result.map(|()| Reply::Done),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
