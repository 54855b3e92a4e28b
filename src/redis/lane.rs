//! The fast lane: a second, blocking connection to the server, shared by the stores of the
//! process that share the first, used by the JavaScript thread for a small call made while
//! nothing of the store is queued. Through the I/O runtime such a call wakes two threads
//! besides the server (the runtime's, then JavaScript's again), and each wakeup costs about
//! as much as the server's work; here the caller writes the command and reads the reply
//! itself.
//!
//! The wait is bounded by `DEADLINE`, so that a slow or distant server never holds the
//! event loop for long: when the reply is late the lane rests for `REST`, a read gives up
//! (the lane is dropped, the read goes through the runtime), and a write, already sent,
//! leaves its reply owed, collected by `Lane::finish_script` on a blocking thread of the
//! runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ::redis::{
    ConnectionAddr, ConnectionInfo, ConnectionLike, FromRedisValue, ProtocolVersion, RedisError,
    ScriptInvocation, ServerErrorKind, Value,
};

/// Longest the JavaScript thread waits for a reply (or a connection) before it hands over.
const DEADLINE: Duration = Duration::from_millis(1);
/// How long connecting may take off the JavaScript thread, when a store opens.
const OPEN_DEADLINE: Duration = Duration::from_secs(1);
/// How long the lane stays unused after a late reply or a broken connection.
const REST: Duration = Duration::from_secs(1);
/// Deepest nesting of a reply the lane reads (its own replies nest two deep).
const MAX_NESTING: usize = 8;

/// Where and how to connect a lane: made for a plain TCP connection speaking RESP2 (not
/// over TLS, which `LaneTarget::new` answers with `None`).
pub struct LaneTarget {
    /// The server's addresses, tried in turn (a name may resolve to several).
    addrs: Vec<SocketAddr>,
    handshake: Vec<u8>,
    replies: usize,
}

impl LaneTarget {
    /// `load`: the scripts the lane runs, loaded when it connects so that a call seldom
    /// meets an unknown script.
    pub fn new(info: &ConnectionInfo, name: &str, load: &[&str]) -> Option<Self> {
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return None;
        };
        let redis = info.redis_settings();
        if redis.protocol() != ProtocolVersion::RESP2 {
            return None;
        }
        let addrs: Vec<_> = (host.as_str(), *port).to_socket_addrs().ok()?.collect();
        let mut pipe = ::redis::pipe();
        if let Some(password) = redis.password() {
            let auth = pipe.cmd("AUTH");
            if let Some(user) = redis.username() {
                auth.arg(user);
            }
            auth.arg(password);
        }
        if redis.db() != 0 {
            pipe.cmd("SELECT").arg(redis.db());
        }
        pipe.cmd("CLIENT").arg("SETNAME").arg(name);
        for code in load {
            pipe.cmd("SCRIPT").arg("LOAD").arg(*code);
        }
        Some(LaneTarget {
            addrs,
            replies: pipe.cmd_iter().count(),
            handshake: pipe.get_packed_pipeline(),
        })
    }
}

/// A lane, connected when the server answers in time, resting otherwise.
pub struct Lanes {
    target: LaneTarget,
    lane: Option<Lane>,
    resting_until: Option<Instant>,
}

impl Lanes {
    pub fn new(target: LaneTarget) -> Self {
        Lanes {
            target,
            lane: None,
            resting_until: None,
        }
    }

    /// Connects the lane if it is not, resting or not: for a thread that may wait (a store
    /// opening).
    pub fn connect(&mut self) {
        if self.lane.is_none() {
            self.lane = Lane::connect(&self.target, OPEN_DEADLINE);
        }
    }

    /// The lane, connected now if need be; `None` while it rests, or when the server did
    /// not answer in time.
    pub fn get(&mut self) -> Option<&mut Lane> {
        // A server closes connections idle past its `timeout`: a write sent on one would
        // find out only after it was sent, its outcome unknown.
        if self.lane.as_ref().is_some_and(|lane| !lane.open()) {
            self.lane = None;
        }
        if self.lane.is_none() {
            if self.resting_until.is_some_and(|t| Instant::now() < t) {
                return None;
            }
            match Lane::connect(&self.target, DEADLINE) {
                Some(lane) => self.lane = Some(lane),
                None => {
                    self.rest();
                    return None;
                }
            }
        }
        self.lane.as_mut()
    }

    /// Drops the connection (a late read, a broken or owing lane) and rests.
    pub fn rest(&mut self) {
        self.lane = None;
        self.resting_until = Some(Instant::now() + REST);
    }

    /// Lends the lane, connected and idle, to a set written in parts (parts.rs), which gives
    /// it back with `give_back`; meanwhile a call on this thread connects another.
    pub fn lend(&mut self) -> Option<Lane> {
        self.lane.as_ref().filter(|lane| lane.open())?;
        self.lane.take()
    }

    /// Takes back a lane lent, unless another took its place.
    pub fn give_back(&mut self, mut lane: Lane) {
        if self.lane.is_none() && lane.patient(false).is_ok() {
            self.lane = Some(lane);
        }
    }

    /// Takes the lane out, to collect a reply it owes elsewhere; the next call connects anew.
    pub fn take(&mut self) -> Option<Lane> {
        self.resting_until = Some(Instant::now() + REST);
        self.lane.take()
    }
}

/// One blocking connection. Each call, after `begin`, writes one command (or pipeline) and
/// reads its replies before `DEADLINE`; a late reply is recorded as owed.
pub struct Lane {
    stream: TcpStream,
    buf: Vec<u8>,
    /// When the replies of the call in progress are due; `None` while collecting an owed one.
    due: Option<Instant>,
    /// Commands sent since `begin`: the last one's reply is owed once late.
    sent: usize,
    fault: Option<Fault>,
}

/// Why the last call on the lane did not complete, when it is not the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing was sent, or nothing the server could run: the call may go the usual way.
    NotSent,
    /// The command was sent and its reply is late: `Lane::finish_script` collects it.
    Late,
    /// The connection broke after the command was sent: its outcome is unknown.
    Broken,
}

impl Lane {
    fn connect(target: &LaneTarget, deadline: Duration) -> Option<Lane> {
        let stream = target
            .addrs
            .iter()
            .find_map(|addr| TcpStream::connect_timeout(addr, deadline).ok())?;
        stream.set_nodelay(true).ok()?;
        // The small writes of a lane fit the socket's buffer at once, unless the server stopped
        // reading.
        stream.set_write_timeout(Some(DEADLINE)).ok()?;
        let mut lane = Lane {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            due: Some(Instant::now() + deadline),
            sent: 0,
            fault: None,
        };
        let replies = lane.call(&target.handshake, target.replies).ok()?;
        replies
            .into_iter()
            .all(|v| v.extract_error().is_ok())
            .then_some(lane)
    }

    /// Sends `packed` (`count` commands) and reads their replies, until `due`.
    fn call(&mut self, packed: &[u8], count: usize) -> Result<Vec<Value>, RedisError> {
        let fault = |lane: &mut Lane, fault: Fault, err: RedisError| {
            lane.fault = Some(fault);
            err
        };
        // A command written in part is never run: the server waits for the rest, and drops
        // it with the connection.
        if let Err(e) = self.stream.write_all(packed) {
            return Err(fault(self, Fault::NotSent, e.into()));
        }
        self.sent += 1;
        let mut replies = Vec::with_capacity(count);
        while replies.len() < count {
            match self.reply() {
                Ok(v) => replies.push(v),
                Err(NoReply::Late) => return Err(fault(self, Fault::Late, late())),
                Err(NoReply::Failed(e)) => return Err(fault(self, Fault::Broken, e)),
            }
        }
        Ok(replies)
    }

    /// Whether the connection is still open and holds nothing unread (a connection closed
    /// by the server reads as its end).
    fn open(&self) -> bool {
        let mut byte = [0u8];
        let peeked = self
            .stream
            .set_nonblocking(true)
            .and_then(|()| self.stream.peek(&mut byte));
        let idle = matches!(&peeked, Err(e) if e.kind() == ErrorKind::WouldBlock);
        idle && self.stream.set_nonblocking(false).is_ok()
    }

    /// Why the last call failed, if not by the server's answer.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// Starts a call of several commands (a script and, should the server not know it, its
    /// loading and the script again).
    pub fn begin(&mut self) {
        self.sent = 0;
        self.fault = None;
        self.due = Some(Instant::now() + DEADLINE);
    }

    /// Collects the late reply of `script`'s run (`ScriptInvocation::invoke`), waiting as
    /// long as it takes (a blocking thread's call). That reply may be of the script's loading
    /// (the server did not know it), or say that the server no longer knows it: the script
    /// is then run again, as `invoke` does.
    pub fn finish_script<T: FromRedisValue>(
        &mut self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.stream.set_write_timeout(None)?;
        // `invoke` sends the script; on NOSCRIPT, its loading, then the script again.
        let loading = self.sent == 2;
        let value = self.wait_reply()?;
        let unknown =
            matches!(&value, Value::ServerError(e) if e.kind() == Some(ServerErrorKind::NoScript));
        if !loading && !unknown {
            return Ok(::redis::from_redis_value(value.extract_error()?)?);
        }
        if loading {
            value.extract_error()?;
        }
        script.invoke(self)
    }

    /// Whether writes and reads wait as long as they take (a blocking thread's calls), or
    /// give up at `DEADLINE` (the JavaScript thread's).
    pub fn patient(&mut self, patient: bool) -> Result<(), RedisError> {
        let limit = (!patient).then_some(DEADLINE);
        self.stream.set_write_timeout(limit)?;
        if patient {
            self.due = None;
        }
        Ok(())
    }

    /// Writes what the socket takes of `out` now, without waiting, and drains it from `out`.
    pub fn send_some(&mut self, out: &mut Vec<u8>) -> Result<(), RedisError> {
        self.stream.set_nonblocking(true)?;
        let mut at = 0;
        let written = loop {
            if at == out.len() {
                break Ok(());
            }
            match self.stream.write(&out[at..]) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        out.drain(..at);
        self.stream.set_nonblocking(false)?;
        Ok(written?)
    }

    /// Writes all of `out`, waiting as long as it takes (after `patient(true)`).
    pub fn send_all(&mut self, out: &[u8]) -> Result<(), RedisError> {
        Ok(self.stream.write_all(out)?)
    }

    /// `reply` with no deadline.
    pub fn wait_reply(&mut self) -> Result<Value, RedisError> {
        self.due = None;
        self.reply().map_err(|e| match e {
            NoReply::Late => late(),
            NoReply::Failed(e) => e,
        })
    }

    /// Reads one whole reply.
    fn reply(&mut self) -> Result<Value, NoReply> {
        loop {
            if let Some(end) = complete(&self.buf, 0, 0)? {
                let value = ::redis::parse_redis_value(&self.buf[..end]);
                self.buf.drain(..end);
                return Ok(value?);
            }
            let wait = match self.due {
                Some(due) => Some(
                    due.checked_duration_since(Instant::now())
                        .filter(|d| !d.is_zero())
                        .ok_or(NoReply::Late)?,
                ),
                None => None,
            };
            self.stream
                .set_read_timeout(wait)
                .map_err(RedisError::from)?;
            let at = self.buf.len();
            self.buf.resize(at + 16 * 1024, 0);
            let n = self.stream.read(&mut self.buf[at..]);
            self.buf.truncate(at + *n.as_ref().unwrap_or(&0));
            match n {
                Ok(0) => {
                    return Err(
                        RedisError::from(std::io::Error::from(ErrorKind::UnexpectedEof)).into(),
                    )
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(NoReply::Late)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(RedisError::from(e).into()),
            }
        }
    }
}

/// Why `reply` has none.
enum NoReply {
    Late,
    Failed(RedisError),
}

impl From<RedisError> for NoReply {
    fn from(err: RedisError) -> Self {
        NoReply::Failed(err)
    }
}

impl ConnectionLike for Lane {
    fn req_packed_command(&mut self, cmd: &[u8]) -> ::redis::RedisResult<Value> {
        self.req_packed_commands(cmd, 0, 1)
            .map(|mut v| v.pop().unwrap_or(Value::Nil))
    }

    /// For a pipeline: replies `offset..offset + count` of the commands sent; the first
    /// server error among the others fails the call.
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> ::redis::RedisResult<Vec<Value>> {
        let replies = self.call(cmd, offset + count)?;
        let mut kept = Vec::with_capacity(count);
        for (i, value) in replies.into_iter().enumerate() {
            if i < offset {
                value.extract_error()?;
            } else {
                kept.push(value);
            }
        }
        Ok(kept)
    }

    fn get_db(&self) -> i64 {
        0
    }

    fn check_connection(&mut self) -> bool {
        true
    }

    fn is_open(&self) -> bool {
        true
    }
}

fn late() -> RedisError {
    std::io::Error::from(ErrorKind::TimedOut).into()
}

/// The end of the RESP2 reply that starts at `at` in `buf`, if all of it is there.
fn complete(buf: &[u8], at: usize, depth: usize) -> Result<Option<usize>, RedisError> {
    let protocol = |what: &str| -> RedisError {
        std::io::Error::new(ErrorKind::InvalidData, format!("Redis reply: {what}")).into()
    };
    if depth > MAX_NESTING {
        return Err(protocol("nested too deep"));
    }
    let Some(rest) = buf.get(at..).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let Some(line) = rest.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let next = at + line + 2;
    let length = || -> Result<i64, RedisError> {
        std::str::from_utf8(&rest[1..line])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| protocol("a bad length"))
    };
    match rest[0] {
        b'+' | b'-' | b':' => Ok(Some(next)),
        b'$' => match usize::try_from(length()?) {
            Err(_) => Ok(Some(next)), // nil
            Ok(n) => Ok((buf.len() >= next + n + 2).then_some(next + n + 2)),
        },
        b'*' => {
            let mut end = next;
            for _ in 0..length()?.max(0) {
                match complete(buf, end, depth + 1)? {
                    Some(e) => end = e,
                    None => return Ok(None),
                }
            }
            Ok(Some(end))
        }
        _ => Err(protocol("an unknown type")),
    }
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn complete_finds_the_end_of_whole_replies_only() {
        let cases: [(&[u8], Option<usize>); 9] = [
            (b"", None),
            (b"+OK\r", None),
            (b"+OK\r\n+x", Some(5)),
            (b"$3\r\nabc\r\n", Some(9)),
            (b"$3\r\nab", None),
            (b"$-1\r\n", Some(5)),
            (b"*2\r\n:1\r\n$1\r\nx\r\n", Some(15)),
            (b"*2\r\n:1\r\n$1\r\n", None),
            (b"*-1\r\n", Some(5)),
        ];
        for (buf, end) in cases {
            assert_eq!(complete(buf, 0, 0).unwrap(), end, "{buf:?}");
        }
        assert!(complete(b"?x\r\n", 0, 0).is_err());
        assert!(complete(b"$x\r\n", 0, 0).is_err());
    }
}
