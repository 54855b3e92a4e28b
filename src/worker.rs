//! The storage thread: owns one backend, serves requests in arrival order, and commits
//! writes that queue up while it is busy in one transaction (group commit).
//!
//! Each request carries an opaque ticket that comes back with its result, so the caller
//! (the JavaScript binding) can settle the matching promise. Results are reported only
//! after the commit holding them succeeded.
//!
//! A store on a server is served the same way, but by a task on the I/O runtime: once its
//! backend is open, the thread hands the queue over and exits.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::backend::{Backend, Entry, KeyWrite, Mutation};
use crate::error::{Code, Error, Result};
use crate::{server, wire};

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
    /// A part of a large set, sent while JavaScript encodes the rest so that both sides work
    /// at once: parsed and, in a file, written in a transaction that the next `Set` (the
    /// rest) commits; a server's engine keeps the parts for that `Set` to apply ahead of its
    /// own writes. `None` drops them (the encoding failed).
    Stage(Option<Vec<u8>>),
    /// A mutation whose values are already in stored form.
    Write(Mutation),
    /// The upkeep a write made on the JavaScript thread left due (`Backend::upkeep`).
    /// Answers nobody.
    Upkeep,
    /// The outcome of a write made on the JavaScript thread whose answer was late
    /// (`TryApply::Owed`): waited for before anything queued after it.
    Owed,
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

/// Set once the store has been served to the end (its backend closed), for bounded waits.
#[derive(Default)]
struct Exited {
    done: Mutex<bool>,
    cond: Condvar,
}

/// Sets `Exited` when dropped: at the end of the storage thread, or of the task it handed
/// the store to.
struct ExitSignal(Arc<Exited>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        *self.0.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.0.cond.notify_all();
    }
}

type Receiver<T> = UnboundedReceiver<Request<T>>;

/// Handle to a running storage thread (or the task it handed a server store to); clones
/// reach the same queue. Once every handle is dropped (or after a `Close` request) it
/// finishes the queued requests, closes the backend and ends.
pub struct Worker<T> {
    tx: UnboundedSender<Request<T>>,
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
        let (tx, rx) = unbounded_channel();
        let exited = Arc::new(Exited::default());
        let signal = ExitSignal(exited.clone());
        let backend: Slot = Arc::default();
        let slot = backend.clone();
        std::thread::Builder::new()
            .name("baileys-rust-auth".into())
            .spawn(move || serve(rx, notify, slot, signal))
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

    /// Waits up to `timeout` for the store to be served to the end; true if it has.
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

/// `guarded` for a server store's task.
async fn guarded_async<R>(f: impl Future<Output = Result<R>>) -> Result<R> {
    AssertUnwindSafe(f)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(panicked()))
}

fn serve<T: Send + 'static>(
    mut rx: Receiver<T>,
    mut notify: impl Notify<T>,
    slot: Slot,
    exit: ExitSignal,
) {
    let mut open_error = Error::new(Code::Internal, "the store was not opened");
    let mut next: Option<Request<T>> = None;
    let mut staged = Staged::default();
    // Requests that came while the parts of a set were open in a transaction: served once
    // it ends, in order (JavaScript sends nothing else of this store's calls meanwhile, but
    // reports and lease renewals may come).
    let mut held: VecDeque<Request<T>> = VecDeque::new();
    loop {
        let held_first = || (!staged.open).then(|| held.pop_front()).flatten();
        let Some(Request { op, ticket }) = next
            .take()
            .or_else(held_first)
            .or_else(|| rx.blocking_recv())
        else {
            drop(lock(&slot).take()); // every handle dropped: close the backend
            refuse_held(&mut held, &mut notify);
            return;
        };
        let op = match op {
            Op::Stage(part) => {
                let mut backend = lock(&slot);
                let be = backend.as_deref_mut().map(|be| be as &mut dyn Backend);
                let done = staged.stage(part, ticket, be);
                drop(backend);
                notify.notify(vec![done]);
                continue;
            }
            Op::Set(frame) if staged.open => {
                let result = match lock(&slot).as_deref_mut() {
                    Some(be) => staged.finish(&frame, be),
                    None => Err(Error::closed()),
                };
                notify.notify(vec![Completion {
                    ticket,
                    result: result.map(|()| Reply::Done),
                }]);
                upkeep(&slot);
                continue;
            }
            op if staged.open => {
                held.push_back(Request { op, ticket });
                continue;
            }
            Op::Upkeep => {
                upkeep(&slot);
                continue;
            }
            op => op,
        };
        let mut backend = lock(&slot);
        let done = match op {
            op @ (Op::Set(_) | Op::Write(_)) if backend.is_some() => {
                let be = backend.as_mut().expect("checked above");
                // Requests held while a set's parts were open came first.
                let mut queued = || held.pop_front().or_else(|| rx.try_recv().ok());
                let mut group = Group::gather(op, ticket, &mut queued, &mut next, &mut staged);
                // Every write of the group refused (a set whose parts failed): no commit.
                let results = match group.batch() {
                    [] => Ok(Vec::new()),
                    batch => catch_unwind(AssertUnwindSafe(|| be.apply(batch))),
                };
                Some(group.settle(results.ok()))
            }
            op => serve_one(
                op,
                ticket,
                &mut backend,
                &mut open_error,
                &mut rx,
                &mut notify,
            ),
        };
        let remote = backend.as_ref().is_some_and(|be| be.is_remote());
        let handover = remote.then(server::handle).and_then(|h| h.ok());
        let taken = handover.is_some().then(|| backend.take()).flatten();
        drop(backend);
        let Some(done) = done else {
            // Closed: what was held behind the close is refused like what was queued.
            refuse_held(&mut held, &mut notify);
            return;
        };
        notify.notify(done);
        upkeep(&slot);
        if let (Some(runtime), Some(be)) = (handover, taken) {
            // A server store just opened: its task takes the queue from here, in order.
            *lock(&slot) = Some(be);
            runtime.spawn(serve_remote(rx, notify, slot, exit));
            return;
        }
    }
}

/// Runs what the last writes left due, once their callers were answered (a panic there
/// leaves it undone, and the thread serving). The part the backend hands back runs with the
/// backend unlocked (the JavaScript thread may write meanwhile); the backend is then asked
/// once more, for what that part left.
fn upkeep(slot: &Slot) {
    for _ in 0..2 {
        let work = lock(slot).as_mut().and_then(|be| {
            catch_unwind(AssertUnwindSafe(|| be.upkeep()))
                .ok()
                .flatten()
        });
        match work {
            Some(work) => drop(catch_unwind(AssertUnwindSafe(work))),
            None => return,
        }
    }
}

/// Serves a request that is not a write; `None` once the store is closed.
fn serve_one<T>(
    op: Op,
    ticket: T,
    backend: &mut Option<Box<dyn Backend>>,
    open_error: &mut Error,
    rx: &mut Receiver<T>,
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
            closed(ticket, rx, notify);
            return None;
        }
        _ if backend.is_none() => Err(open_error.clone()),
        op => read(op, backend.as_mut().expect("checked above").as_mut()),
    };
    Some(vec![Completion { ticket, result }])
}

/// Answers a close (its backend closed already) and refuses anything queued behind it.
fn closed<T>(ticket: T, rx: &mut Receiver<T>, notify: &mut impl Notify<T>) {
    notify.notify(vec![Completion {
        ticket,
        result: Ok(Reply::Done),
    }]);
    while let Ok(r) = rx.try_recv() {
        notify.notify(vec![Completion {
            ticket: r.ticket,
            result: Err(Error::closed()),
        }]);
    }
}

/// Refuses the requests held behind a set's parts when the store closes.
fn refuse_held<T>(held: &mut VecDeque<Request<T>>, notify: &mut impl Notify<T>) {
    let refused: Vec<_> = held
        .drain(..)
        .map(|r| Completion {
            ticket: r.ticket,
            result: Err(Error::closed()),
        })
        .collect();
    if !refused.is_empty() {
        notify.notify(refused);
    }
}

/// Serves a call that neither writes, opens nor closes.
fn read(op: Op, be: &mut dyn Backend) -> Result<Reply> {
    guarded(|| match op {
        Op::Get { kind, ids } => be
            .get_frame(&kind, &wire::parse_ids(&ids)?)
            .map(Reply::Frame),
        Op::LoadCreds => creds(be.load_creds()),
        Op::List {
            kind,
            after,
            limit,
            with_values,
        } => entries(&kind, be.list(&kind, after.as_deref(), limit, with_values)),
        Op::Call(call) => call(be),
        Op::Owed => be.finish_owed().map(|()| Reply::Done),
        Op::Open(_) | Op::Close | Op::Set(_) | Op::Write(_) | Op::Stage(_) | Op::Upkeep => {
            unreachable!("served by the caller")
        }
    })
}

fn entries(kind: &str, found: Result<Vec<Entry>>) -> Result<Reply> {
    wire::entries_frame(kind, &found?).map(Reply::Frame)
}

fn creds(stored: Result<Option<Vec<u8>>>) -> Result<Reply> {
    let creds = match stored? {
        Some(stored) => {
            let mut out = Vec::with_capacity(stored.len() * 4 / 3 + 1);
            wire::present("creds", "", &stored, &mut out)?;
            Some(out)
        }
        None => None,
    };
    Ok(Reply::Creds(creds))
}

/// Serves a server store as a task on the I/O runtime, as `serve` does on its thread. Reads
/// and writes await the server without blocking; other calls (reports, leases, listing)
/// run the backend's blocking methods on a blocking thread. Between requests the backend
/// is in `slot`, where the JavaScript thread may borrow it (`Worker::try_now`).
async fn serve_remote<T: Send + 'static>(
    mut rx: Receiver<T>,
    mut notify: impl Notify<T>,
    slot: Slot,
    _exit: ExitSignal,
) {
    let mut next: Option<Request<T>> = None;
    let mut staged = Staged::default();
    // As in `serve`: what comes while a set's parts are open waits for its last part.
    let mut held: VecDeque<Request<T>> = VecDeque::new();
    loop {
        let request = match next.take() {
            Some(r) => Some(r),
            None => match (!staged.open).then(|| held.pop_front()).flatten() {
                Some(r) => Some(r),
                None => rx.recv().await,
            },
        };
        let Some(Request { op, ticket }) = request else {
            let backend = lock(&slot).take();
            close_remote(backend).await; // every handle dropped
            refuse_held(&mut held, &mut notify);
            return;
        };
        let op = match op {
            // A server backend never has upkeep due.
            Op::Upkeep => continue,
            op @ (Op::Stage(_) | Op::Set(_) | Op::Close) => op,
            op if staged.open => {
                held.push_back(Request { op, ticket });
                continue;
            }
            op => op,
        };
        // `None` only once a blocking thread failed to hand it back.
        let mut backend = lock(&slot).take();
        let done = match (op, backend.as_mut()) {
            (Op::Close, _) => {
                close_remote(backend).await;
                refuse_held(&mut held, &mut notify);
                closed(ticket, &mut rx, &mut notify);
                return;
            }
            // Engines that write parts (Redis, on its lane) do it without waiting.
            (Op::Stage(part), be) => {
                let be = be.map(|be| be.as_mut() as &mut dyn Backend);
                vec![staged.stage(part, ticket, be)]
            }
            (Op::Set(frame), Some(_)) if staged.open => {
                let be = backend.take().expect("matched above");
                let mut parts = std::mem::take(&mut staged);
                let (be, result) =
                    server::blocking(be, move |be| parts.finish(&frame, be.as_mut()))
                        .await
                        .map_or((None, Err(panicked())), |(be, r)| (Some(be), r));
                backend = be;
                vec![Completion {
                    ticket,
                    result: result.map(|()| Reply::Done),
                }]
            }
            (op @ (Op::Set(_) | Op::Write(_)), Some(be)) => {
                let mut queued = || held.pop_front().or_else(|| rx.try_recv().ok());
                let mut group = Group::gather(op, ticket, &mut queued, &mut next, &mut staged);
                let results = AssertUnwindSafe(be.apply_async(group.batch()))
                    .catch_unwind()
                    .await;
                group.settle(results.ok())
            }
            (Op::Get { kind, ids }, Some(be)) => {
                let result = guarded_async(async {
                    let ids = wire::parse_ids(&ids)?;
                    entries(&kind, be.get_async(&kind, &ids).await)
                });
                vec![Completion {
                    ticket,
                    result: result.await,
                }]
            }
            (Op::LoadCreds, Some(be)) => vec![Completion {
                ticket,
                result: guarded_async(async { creds(be.load_creds_async().await) }).await,
            }],
            (Op::Open(_), Some(_)) => vec![Completion {
                ticket,
                result: Err(Error::new(Code::Internal, "the store is open already")),
            }],
            (op, Some(_)) => {
                let be = backend.take().expect("matched above");
                let (be, result) = server::blocking(be, move |be| read(op, be.as_mut()))
                    .await
                    .map_or((None, Err(panicked())), |(be, r)| (Some(be), r));
                backend = be;
                vec![Completion { ticket, result }]
            }
            (_, None) => vec![Completion {
                ticket,
                result: Err(panicked()),
            }],
        };
        // Lent back before the answer, which may let JavaScript make its next call here.
        *lock(&slot) = backend;
        notify.notify(done);
    }
}

/// Closes a server store's backend on a blocking thread: dropping it gives the lease back,
/// which blocks on the runtime.
async fn close_remote(backend: Option<Box<dyn Backend>>) {
    if let Some(be) = backend {
        server::blocking(Some(be), |be| drop(be.take())).await;
    }
}

/// The writes of a set sent in parts (`Op::Stage`), handled while the rest is encoded.
#[derive(Default)]
struct Staged {
    /// Parts kept for the `Set` that completes them (an engine that does not write parts).
    writes: Vec<KeyWrite>,
    /// The first part that failed: the set it belongs to fails with it.
    error: Option<Error>,
    /// Whether the engine holds the parts in an open transaction (`Backend::write_part`).
    open: bool,
}

impl Staged {
    /// Takes a part in (or drops those taken, for `None`), written by `be` if it can, else
    /// kept; answers its request at once.
    fn stage<T>(
        &mut self,
        part: Option<Vec<u8>>,
        ticket: T,
        be: Option<&mut dyn Backend>,
    ) -> Completion<T> {
        match part {
            None => {
                if let (true, Some(be)) = (self.open, be) {
                    let _ = guarded(|| be.end_parts(None));
                }
                *self = Staged::default();
            }
            Some(_) if self.error.is_some() => {}
            Some(frame) => {
                let parsed = guarded(|| wire::parse_set(&frame));
                let taken = match be {
                    // Written by the engine if it can (it declines the first part or none).
                    Some(be) if self.writes.is_empty() => self.write(be, parsed),
                    _ => parsed.map(|w| self.writes.extend(w)),
                };
                if let Err(e) = taken {
                    self.open = false;
                    self.error = Some(e);
                }
            }
        }
        Completion {
            ticket,
            result: Ok(Reply::Done),
        }
    }

    /// Has `be` write a parsed part, or keeps it if `be` declines; on any failure nothing of
    /// the set's parts stays written.
    fn write(&mut self, be: &mut dyn Backend, part: Result<Vec<KeyWrite>>) -> Result<()> {
        let written = part.and_then(|writes| {
            if guarded(|| be.write_part(&writes))? {
                self.open = true;
            } else {
                self.writes.extend(writes);
            }
            Ok(())
        });
        if written.is_err() {
            let _ = guarded(|| be.end_parts(None));
        }
        written
    }

    /// Completes the parts `be` holds open with the writes of `frame` (the rest of the set),
    /// in their transaction.
    fn finish(&mut self, frame: &[u8], be: &mut dyn Backend) -> Result<()> {
        let staged = std::mem::take(self);
        let done = staged
            .error
            .map_or(Ok(()), Err)
            .and_then(|()| guarded(|| wire::parse_set(frame)))
            .and_then(|last| guarded(|| be.end_parts(Some(&last))));
        if done.is_err() {
            let _ = guarded(|| be.end_parts(None));
        }
        done
    }

    /// The writes of the set that `frame` completes: those kept, then its own.
    fn complete(&mut self, frame: &[u8]) -> Result<Vec<KeyWrite>> {
        let Staged {
            mut writes, error, ..
        } = std::mem::take(self);
        if let Some(e) = error {
            return Err(e);
        }
        let own = guarded(|| wire::parse_set(frame))?;
        if writes.is_empty() {
            return Ok(own);
        }
        writes.extend(own);
        Ok(writes)
    }
}

/// Writes gathered for one commit, and those refused before reaching it.
struct Group<T> {
    batch: Vec<Mutation>,
    tickets: Vec<T>,
    refused: Vec<Completion<T>>,
    /// Creds writes replaced by a later one of the group (see `batch`).
    superseded: Vec<bool>,
    last_creds: Option<usize>,
}

impl<T> Group<T> {
    /// The write `op`, and the writes already queued behind it (`queued` hands the next
    /// one): stops at the first non-write (left in `next`) so that it still observes every
    /// write queued before it.
    fn gather(
        op: Op,
        ticket: T,
        queued: &mut dyn FnMut() -> Option<Request<T>>,
        next: &mut Option<Request<T>>,
        staged: &mut Staged,
    ) -> Self {
        let mut group = Group {
            batch: Vec::new(),
            tickets: Vec::new(),
            refused: Vec::new(),
            superseded: Vec::new(),
            last_creds: None,
        };
        group.take(op, ticket, staged);
        while group.batch.len() + group.refused.len() < MAX_GROUP {
            match queued() {
                Some(Request {
                    op: op @ (Op::Set(_) | Op::Write(_)),
                    ticket,
                }) => group.take(op, ticket, staged),
                Some(other) => {
                    *next = Some(other);
                    break;
                }
                None => break,
            }
        }
        group
    }

    fn take(&mut self, op: Op, ticket: T, staged: &mut Staged) {
        let parsed = match op {
            Op::Write(m) => Ok(m),
            Op::Set(frame) => staged.complete(&frame).map(Mutation::Keys),
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

    /// The mutations to commit. Only the last creds of a group need writing: the earlier
    /// ones would be overwritten in the same commit. Their callers get the outcome of the
    /// write that replaced them.
    fn batch(&mut self) -> &[Mutation] {
        self.last_creds = self
            .batch
            .iter()
            .rposition(|m| matches!(m, Mutation::Creds(_)));
        self.superseded = vec![false; self.batch.len()];
        if let Some(last) = self.last_creds {
            for (i, m) in self.batch.iter_mut().enumerate().take(last) {
                if matches!(m, Mutation::Creds(_)) {
                    self.superseded[i] = true;
                    *m = Mutation::Keys(Vec::new());
                }
            }
        }
        &self.batch
    }

    /// Pairs the commit's results (`None`: it panicked) with their tickets.
    fn settle(self, results: Option<Vec<Result<()>>>) -> Vec<Completion<T>> {
        let results =
            results.unwrap_or_else(|| self.batch.iter().map(|_| Err(panicked())).collect());
        let replacing = self.last_creds.map(|i| results[i].clone());
        let mut done = self.refused;
        done.extend(
            self.tickets
                .into_iter()
                .zip(results)
                .zip(self.superseded)
                .map(|((ticket, result), superseded)| {
                    let result = match (superseded, &replacing) {
                        (true, Some(r)) => r.clone(),
                        _ => result,
                    };
                    Completion {
                        ticket,
                        result: result.map(|()| Reply::Done),
                    }
                }),
        );
        done
    }
}

#[cfg(test)]
mod tests;
