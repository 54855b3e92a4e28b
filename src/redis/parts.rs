//! A large set written in parts, while JavaScript encodes the rest: the parts are queued in
//! a MULTI on the fast lane, lent for the purpose, and run by one EXEC after the last.
//!
//! Two costs go away beside the apply script. The parts travel to the server while the
//! next ones are encoded, instead of all at the end; and their values are written by
//! `HSET`, never copied into Lua, which costs the server about as much as the rest of the
//! write (2.4 ms for 1.5 MB). Only the bookkeeping runs as a script (scripts::PART).
//!
//! The checks the apply script makes first (the lease, the session's mark) are made here on
//! replies read before EXEC, and `WATCH` keeps them true until it runs: if the lease or the
//! session's record changed in between, EXEC runs nothing, and the set is applied the
//! usual way, which reports a lost lease or a deleted session. So is the set when the lane
//! breaks before EXEC was sent: the server drops a MULTI with its connection.

use std::collections::HashSet;
use std::io::Write;

use ::redis::{RedisError, Value};

use super::lane::Lane;
use super::{escape, scripts, Keys, SERVER};
use crate::backend::KeyWrite;
use crate::error::Error;
use crate::server::{outcome_unknown, unavailable};

/// Values gathered before they are sent: each batch costs the server a script call.
const BATCH_BYTES: usize = 64 * 1024;
/// Most writes one call of scripts::PART takes (Lua's `unpack` takes at most 8,000 values).
const MAX_PER_SCRIPT: usize = 1000;

/// The replies before the queued commands: `WATCH`, the lease's token, the session's
/// `created_ms` and `born`, `MULTI`.
const CHECKS: usize = 4;

/// A set's parts queued on a lane.
pub struct Parts {
    lane: Lane,
    /// Packed commands not yet sent.
    out: Vec<u8>,
    /// Commands queued after `MULTI`.
    queued: usize,
    /// Every write so far, to apply them the usual way if the transaction does not run.
    writes: Vec<KeyWrite>,
    /// How many of `writes` are packed.
    packed: usize,
    /// Bytes of the values not yet packed.
    pending: usize,
    /// The lane broke: nothing more is sent, and the set goes the usual way.
    broken: bool,
}

/// How a set written in parts ended.
pub enum Outcome {
    /// Written; the mark of the session it went to.
    Done {
        born: String,
    },
    /// Nothing ran: these writes (the whole set) are to be applied the usual way.
    Again(Vec<KeyWrite>),
    Failed(Error),
}

impl Parts {
    /// Starts the transaction on `lane`: watches the lease and the session's record, asks
    /// for what the checks need, opens the MULTI.
    pub fn begin(lane: Lane, keys: &Keys) -> Parts {
        let (meta, lease) = (keys.of("meta"), keys.of("lease"));
        let mut out = Vec::with_capacity(BATCH_BYTES * 2);
        command(&mut out, &[b"WATCH", meta.as_bytes(), lease.as_bytes()]);
        command(&mut out, &[b"HGET", lease.as_bytes(), b"token"]);
        command(
            &mut out,
            &[b"HMGET", meta.as_bytes(), b"created_ms", b"born"],
        );
        command(&mut out, &[b"MULTI"]);
        let mut parts = Parts {
            lane,
            out,
            queued: 0,
            writes: Vec::new(),
            packed: 0,
            pending: 0,
            broken: false,
        };
        parts.send();
        parts
    }

    /// Takes a part in, sending what is due without waiting.
    pub fn push(&mut self, keys: &Keys, writes: &[KeyWrite]) {
        self.pending += writes
            .iter()
            .map(|w| w.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
        self.writes.extend_from_slice(writes);
        // A broken lane sends nothing more: the writes are kept for the usual way.
        if self.pending >= BATCH_BYTES && !self.broken {
            self.pack(keys);
            self.send();
        }
    }

    /// Queues the last part and runs the transaction if the checks hold, waiting for the
    /// server (a blocking thread's call). Returns the lane if it can serve again.
    pub fn finish(
        mut self,
        keys: &Keys,
        session: &str,
        token: &str,
        known: Option<&str>,
        mark: &str,
        last: &[KeyWrite],
    ) -> (Option<Lane>, Outcome) {
        self.writes.extend_from_slice(last);
        self.pack(keys);
        let finish = scripts::FINISH.as_bytes();
        let (meta, index) = (keys.of("meta"), &keys.index);
        command(
            &mut self.out,
            &[
                b"EVAL",
                finish,
                b"2",
                meta.as_bytes(),
                index.as_bytes(),
                session.as_bytes(),
                mark.as_bytes(),
            ],
        );
        self.queued += 1;
        match self.checked(token, known) {
            Ok(true) => {}
            // Dropping the lane drops the MULTI with its connection: nothing ran.
            Ok(false) => return (None, Outcome::Again(self.writes)),
            Err(e) if e.is_io_error() => return (None, Outcome::Again(self.writes)),
            // A command refused (out of memory): EXEC would run nothing.
            Err(e) => return (None, Outcome::Failed(e.into())),
        }
        if self.lane.send_all(b"*1\r\n$4\r\nEXEC\r\n").is_err() {
            // Not all sent: the server runs nothing.
            return (None, Outcome::Again(self.writes));
        }
        let reply = match self.lane.wait_reply() {
            Ok(reply) => reply.extract_error(),
            Err(e) => {
                let unknown = outcome_unknown(SERVER, &unavailable(SERVER, e));
                return (None, Outcome::Failed(unknown));
            }
        };
        match reply {
            Ok(Value::Nil) => (Some(self.lane), Outcome::Again(self.writes)),
            Ok(Value::Array(results)) => {
                let results = results.into_iter().map(Value::extract_error);
                let outcome = match results.collect::<Result<Vec<_>, _>>() {
                    Ok(results) => born(results),
                    Err(e) => Outcome::Failed(e.into()),
                };
                (Some(self.lane), outcome)
            }
            Ok(other) => (None, Outcome::Failed(unexpected(&other))),
            // EXEC refused (out of memory): nothing ran.
            Err(e) => (Some(self.lane), Outcome::Failed(e.into())),
        }
    }

    /// Sends what it has queued, and reads the replies so far: those of the checks, whether
    /// the lease is still this store's and the session the one it knows; then one per
    /// command queued, the first refusal being the error. Reading them all before EXEC is
    /// sent means a connection lost meanwhile is found while nothing has run.
    fn checked(&mut self, token: &str, known: Option<&str>) -> Result<bool, RedisError> {
        if self.broken {
            return Ok(false);
        }
        self.lane.patient(true)?;
        self.lane.send_all(&self.out)?;
        self.out.clear();
        let mut checks = Vec::with_capacity(CHECKS);
        for _ in 0..CHECKS {
            checks.push(self.lane.wait_reply()?.extract_error()?);
        }
        let mut refused = None;
        for _ in 0..self.queued {
            if let Err(e) = self.lane.wait_reply()?.extract_error() {
                refused.get_or_insert(e);
            }
        }
        if let Some(e) = refused {
            return Err(e);
        }
        let mut checks = checks.into_iter().skip(1);
        let holder: Option<String> = ::redis::from_redis_value(checks.next().unwrap_or_default())?;
        let (created, born): (Option<i64>, Option<String>) =
            ::redis::from_redis_value(checks.next().unwrap_or_default())?;
        let leased = token.is_empty() || holder.as_deref() == Some(token);
        let same = match known {
            None => true,
            Some(known) => created.is_some() && born.as_deref().unwrap_or("") == known,
        };
        Ok(leased && same)
    }

    /// Packs the writes not yet packed: per run of one type, the bookkeeping script, then
    /// the `HSET` of the values put.
    fn pack(&mut self, keys: &Keys) {
        let mut at = self.packed;
        while at < self.writes.len() {
            let kind = &self.writes[at].kind;
            // A run ends where an id comes again: its values are written after its script.
            let mut seen = HashSet::new();
            let run = self.writes[at..]
                .iter()
                .take(MAX_PER_SCRIPT)
                .take_while(|w| &w.kind == kind && seen.insert(w.id.as_str()))
                .count();
            let writes = &self.writes[at..at + run];
            let (values, ids, ty) = (keys.values(kind), keys.ids(kind), escape(kind));
            let (types, sizes) = (keys.of("types"), keys.of("sizes"));
            let lengths: Vec<String> = writes
                .iter()
                .map(|w| w.value.as_ref().map_or(0, Vec::len).to_string())
                .collect();
            let mut args: Vec<&[u8]> = vec![
                b"EVAL",
                scripts::PART.as_bytes(),
                b"4",
                values.as_bytes(),
                ids.as_bytes(),
                types.as_bytes(),
                sizes.as_bytes(),
                ty.as_bytes(),
            ];
            for (w, length) in writes.iter().zip(&lengths) {
                let flag: &[u8] = if w.value.is_some() { b"p" } else { b"d" };
                args.extend([flag, w.id.as_bytes(), length.as_bytes()]);
            }
            command(&mut self.out, &args);
            self.queued += 1;
            let mut set: Vec<&[u8]> = vec![b"HSET", values.as_bytes()];
            for w in writes {
                if let Some(v) = &w.value {
                    set.extend([w.id.as_bytes(), v.as_slice()]);
                }
            }
            if set.len() > 2 {
                command(&mut self.out, &set);
                self.queued += 1;
            }
            at += run;
        }
        self.packed = at;
        self.pending = 0;
    }

    /// Sends what the socket takes now; a lane that breaks sends nothing more.
    fn send(&mut self) {
        if self.lane.send_some(&mut self.out).is_err() {
            self.broken = true;
            self.out.clear();
        }
    }
}

/// The session's mark, the last result of EXEC (scripts::FINISH's).
fn born(mut results: Vec<Value>) -> Outcome {
    match results.pop().map(::redis::from_redis_value::<String>) {
        Some(Ok(born)) => Outcome::Done { born },
        _ => Outcome::Failed(unexpected(&Value::Array(results))),
    }
}

fn unexpected(value: &Value) -> Error {
    Error::new(
        crate::error::Code::Internal,
        format!("{SERVER}: an unexpected reply to a set written in parts: {value:?}"),
    )
}

/// Packs one command in RESP.
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}
