use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use super::*;
use crate::backend::{Entry, Holder, KeyWrite, Lease, SessionInfo, Takeover, TypeCount};
use crate::wire::ids_frame;

/// A backend that records what it was asked, for checking the worker's scheduling.
#[derive(Default)]
struct Recorder {
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The ids each key mutation applied wrote, in order.
    written: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    fail_id: Option<String>,
    /// Served as a server store is: by a task on the I/O runtime.
    remote: bool,
    /// Set by each apply, as a commit that leaves a checkpoint due; counted by `upkeep`.
    due: bool,
    upkeeps: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Writes the parts of a set as they come (`Backend::write_part`), as a file does.
    parts: bool,
    open_parts: Vec<String>,
}

/// Both ways a store is served: on its storage thread, and as a task on the I/O runtime.
const MODES: [bool; 2] = [false, true];

fn recorder(remote: bool) -> Recorder {
    Recorder {
        remote,
        ..Recorder::default()
    }
}

impl Backend for Recorder {
    fn get(&mut self, kind: &str, ids: &[String]) -> Result<Vec<Entry>> {
        self.log.lock().unwrap().push(format!("get {kind}"));
        if ids.iter().any(|i| i == "panic") {
            panic!("boom");
        }
        Ok(ids.iter().map(|i| (i.clone(), vec![])).collect())
    }
    fn load_creds(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn apply(&mut self, batch: &[Mutation]) -> Vec<Result<()>> {
        self.due = true;
        self.log
            .lock()
            .unwrap()
            .push(format!("apply {}", batch.len()));
        for m in batch {
            if let Mutation::Keys(w) = m {
                let ids = w.iter().map(|w| w.id.clone()).collect();
                self.written.lock().unwrap().push(ids);
            }
        }
        batch
            .iter()
            .map(|m| match m {
                Mutation::Keys(w) if w.iter().any(|w| Some(&w.id) == self.fail_id.as_ref()) => {
                    Err(Error::new(Code::DiskFull, "full"))
                }
                _ => Ok(()),
            })
            .collect()
    }
    fn list(&mut self, _: &str, _: Option<&str>, _: usize, _: bool) -> Result<Vec<Entry>> {
        Ok(vec![])
    }
    fn sessions(&mut self) -> Result<Vec<SessionInfo>> {
        Ok(vec![])
    }
    fn counts(&mut self) -> Result<Vec<TypeCount>> {
        Ok(vec![])
    }
    fn delete_session(&mut self) -> Result<bool> {
        Ok(false)
    }
    fn integrity(&mut self) -> Result<Vec<String>> {
        Ok(vec![])
    }
    fn acquire(&mut self, _: &Lease, _: &Takeover) -> Result<Option<Holder>> {
        Ok(None)
    }
    fn renew(&mut self) -> Result<()> {
        Ok(())
    }
    fn release(&mut self) -> Result<()> {
        Ok(())
    }
    fn is_remote(&self) -> bool {
        self.remote
    }
    fn write_part(&mut self, writes: &[KeyWrite]) -> Result<bool> {
        if !self.parts {
            return Ok(false);
        }
        let ids: Vec<String> = writes.iter().map(|w| w.id.clone()).collect();
        self.log
            .lock()
            .unwrap()
            .push(format!("part {}", ids.join(",")));
        if ids.iter().any(|id| Some(id) == self.fail_id.as_ref()) {
            return Err(Error::new(Code::DiskFull, "full"));
        }
        self.open_parts.extend(ids);
        Ok(true)
    }
    fn end_parts(&mut self, last: Option<&[KeyWrite]>) -> Result<()> {
        let mut ids = std::mem::take(&mut self.open_parts);
        let Some(last) = last else {
            self.log.lock().unwrap().push("rollback".into());
            return Ok(());
        };
        self.due = true;
        self.log.lock().unwrap().push("commit".into());
        ids.extend(last.iter().map(|w| w.id.clone()));
        self.written.lock().unwrap().push(ids);
        Ok(())
    }
    fn upkeep_due(&self) -> bool {
        self.due
    }
    /// Hands the upkeep back, to be run with the backend free, as a file does.
    fn upkeep(&mut self) -> Option<crate::backend::Upkeep> {
        let upkeeps = self.upkeeps.clone();
        std::mem::take(&mut self.due).then(|| {
            Box::new(move || {
                upkeeps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }) as crate::backend::Upkeep
        })
    }
}

/// A call that holds the store until `gate` opens, so that the requests after it queue up.
fn gate(gate: std::sync::mpsc::Receiver<()>) -> Op {
    Op::Call(Box::new(move |_| {
        gate.recv_timeout(Duration::from_secs(5)).ok();
        Ok(Reply::Done)
    }))
}

fn start(backend: Recorder) -> (Worker<u32>, Receiver<(u32, Result<Reply>)>) {
    let (tx, rx) = channel();
    let worker = Worker::spawn(move |done: Vec<Completion<u32>>| {
        for c in done {
            tx.send((c.ticket, c.result)).unwrap();
        }
    })
    .unwrap();
    worker
        .send(
            Op::Open(Box::new(move || Ok(Box::new(backend) as Box<dyn Backend>))),
            0,
        )
        .ok()
        .unwrap();
    assert_eq!(rx.recv().unwrap(), (0, Ok(Reply::Done)));
    (worker, rx)
}

fn write(id: &str) -> Op {
    Op::Write(Mutation::Keys(vec![KeyWrite {
        kind: "t".into(),
        id: id.into(),
        value: Some(vec![1]),
    }]))
}

#[test]
fn requests_complete_in_order_and_writes_are_grouped() {
    for remote in MODES {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (worker, rx) = start(Recorder {
            log: log.clone(),
            fail_id: Some("bad".into()),
            remote,
            ..Recorder::default()
        });
        let (gate_tx, gate_rx) = channel::<()>();
        worker.send(gate(gate_rx), 1).ok().unwrap();
        for (i, id) in ["a", "bad", "c"].iter().enumerate() {
            worker.send(write(id), 10 + i as u32).ok().unwrap();
        }
        worker
            .send(
                Op::Get {
                    kind: "t".into(),
                    ids: ids_frame(&["x"]),
                },
                20,
            )
            .ok()
            .unwrap();
        worker.send(write("d"), 30).ok().unwrap();
        gate_tx.send(()).unwrap();

        let got: Vec<_> = (0..6).map(|_| rx.recv().unwrap()).collect();
        let tickets: Vec<u32> = got.iter().map(|g| g.0).collect();
        assert_eq!(tickets, [1, 10, 11, 12, 20, 30]);
        assert!(got[1].1.is_ok() && got[3].1.is_ok());
        assert_eq!(got[2].1.as_ref().unwrap_err().code, Code::DiskFull);
        assert_eq!(
            *log.lock().unwrap(),
            ["apply 3", "get t", "apply 1"],
            "three queued writes share one commit; the get waits for it"
        );
        drop(worker);
    }
}

/// A set frame of type `t` putting one small value under each of `ids`.
fn set_frame(ids: &[&str]) -> Vec<u8> {
    let value = crate::codec::Value::Bytes(vec![1]).encode();
    let mut f = vec![1, b't', ids.len() as u8];
    for id in ids {
        f.push(id.len() as u8);
        f.extend_from_slice(id.as_bytes());
        f.push(1);
        f.extend_from_slice(&(value.len() as u32).to_le_bytes());
        f.extend_from_slice(&value);
    }
    f
}

#[test]
fn staged_parts_are_written_by_the_set_that_completes_them() {
    for remote in MODES {
        let backend = recorder(remote);
        let written = backend.written.clone();
        let (worker, rx) = start(backend);
        let ops = [
            Op::Stage(Some(set_frame(&["a", "b"]))),
            Op::Stage(Some(set_frame(&["c"]))),
            Op::Set(set_frame(&["d"])),
            // Dropped parts (the encoding failed) are never written.
            Op::Stage(Some(set_frame(&["e"]))),
            Op::Stage(None),
            Op::Set(set_frame(&["f"])),
            // A part that does not parse fails its set, and nothing of it is written.
            Op::Stage(Some(vec![0xff, 0xff])),
            Op::Stage(Some(set_frame(&["x"]))),
            Op::Set(set_frame(&["g"])),
            Op::Set(set_frame(&["h"])),
        ];
        for (i, op) in ops.into_iter().enumerate() {
            worker.send(op, i as u32 + 1).ok().unwrap();
        }
        let got: Vec<_> = (0..10).map(|_| rx.recv().unwrap()).collect();
        let failed: Vec<u32> = got.iter().filter(|g| g.1.is_err()).map(|g| g.0).collect();
        assert_eq!(failed, [9], "remote: {remote}");
        assert_eq!(
            *written.lock().unwrap(),
            [vec!["a", "b", "c", "d"], vec!["f"], vec!["h"]],
            "remote: {remote}"
        );
        drop(worker);
    }
}

#[test]
fn parts_written_as_they_come_commit_with_the_set_and_hold_other_requests_back() {
    let backend = Recorder {
        parts: true,
        fail_id: Some("x".into()),
        ..Recorder::default()
    };
    let (log, written) = (backend.log.clone(), backend.written.clone());
    let (worker, rx) = start(backend);
    let get = || Op::Get {
        kind: "t".into(),
        ids: ids_frame(&["k"]),
    };
    let ops = [
        Op::Stage(Some(set_frame(&["a", "b"]))),
        // A request that comes while the parts are open (a report, a lease renewal) waits
        // for the set: it must not run inside its transaction.
        get(),
        Op::Stage(Some(set_frame(&["c"]))),
        Op::Set(set_frame(&["d"])),
        // Dropped parts are rolled back.
        Op::Stage(Some(set_frame(&["e"]))),
        Op::Stage(None),
        Op::Set(set_frame(&["f"])),
        // A part the engine fails to write fails its set; the parts after it are ignored.
        Op::Stage(Some(set_frame(&["x"]))),
        Op::Stage(Some(set_frame(&["y"]))),
        Op::Set(set_frame(&["g"])),
        Op::Set(set_frame(&["h"])),
        // So does a part that does not parse, after one was written.
        Op::Stage(Some(set_frame(&["i"]))),
        Op::Stage(Some(vec![0xff, 0xff])),
        Op::Set(set_frame(&["j"])),
    ];
    for (i, op) in ops.into_iter().enumerate() {
        worker.send(op, i as u32 + 1).ok().unwrap();
    }
    let got: Vec<_> = (0..14).map(|_| rx.recv().unwrap()).collect();
    let order: Vec<u32> = got.iter().map(|g| g.0).collect();
    assert_eq!(order, [1, 3, 4, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    let failed: Vec<u32> = got.iter().filter(|g| g.1.is_err()).map(|g| g.0).collect();
    assert_eq!(failed, [10, 14]);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "part a,b", "part c", "commit", "get t", "part e", "rollback", "apply 1", "part x",
            "rollback", "apply 1", "part i", "rollback"
        ]
    );
    assert_eq!(
        *written.lock().unwrap(),
        [vec!["a", "b", "c", "d"], vec!["f"], vec!["h"]]
    );
    drop(worker);
}

#[test]
fn requests_held_behind_parts_are_served_in_order_or_refused_by_a_close() {
    let backend = Recorder {
        parts: true,
        ..Recorder::default()
    };
    let log = backend.log.clone();
    let (worker, rx) = start(backend);
    let get = || Op::Get {
        kind: "t".into(),
        ids: ids_frame(&["k"]),
    };
    let ops = [
        Op::Stage(Some(set_frame(&["p1"]))),
        write("w1"),
        get(),
        write("w2"),
        Op::Set(set_frame(&["p2"])),
        Op::Stage(Some(set_frame(&["q1"]))),
        Op::Close,
        get(),
        Op::Set(set_frame(&["q2"])),
    ];
    for (i, op) in ops.into_iter().enumerate() {
        worker.send(op, i as u32 + 1).ok().unwrap();
    }
    let got: Vec<_> = (0..9).map(|_| rx.recv().unwrap()).collect();
    let order: Vec<u32> = got.iter().map(|g| g.0).collect();
    assert_eq!(order, [1, 5, 2, 3, 4, 6, 9, 7, 8]);
    let failed: Vec<u32> = got.iter().filter(|g| g.1.is_err()).map(|g| g.0).collect();
    assert_eq!(failed, [8]);
    assert_eq!(
        *log.lock().unwrap(),
        ["part p1", "commit", "apply 1", "get t", "apply 1", "part q1", "commit"]
    );
}

#[test]
fn a_second_open_fails_and_keeps_the_store() {
    for remote in MODES {
        let (worker, rx) = start(recorder(remote));
        let again = Op::Open(Box::new(|| Err(Error::invalid("second open"))));
        worker.send(again, 1).ok().unwrap();
        assert!(rx.recv().unwrap().1.is_err());
        worker.send(write("a"), 2).ok().unwrap();
        assert_eq!(rx.recv().unwrap(), (2, Ok(Reply::Done)));
    }
}

#[test]
fn a_panic_becomes_an_internal_error() {
    for remote in MODES {
        let (worker, rx) = start(recorder(remote));
        let get = |id: &str| Op::Get {
            kind: "t".into(),
            ids: ids_frame(&[id]),
        };
        worker.send(get("panic"), 1).ok().unwrap();
        assert_eq!(rx.recv().unwrap().1.unwrap_err().code, Code::Internal);
        worker.send(get("fine"), 2).ok().unwrap();
        assert!(rx.recv().unwrap().1.is_ok());
    }
}

#[test]
fn close_answers_then_refuses_the_rest() {
    for remote in MODES {
        let (worker, rx) = start(recorder(remote));
        worker.send(write("a"), 1).ok().unwrap();
        worker.send(Op::Close, 2).ok().unwrap();
        // Refused at once if the store has already ended, else answered with ERR_CLOSED.
        let _ = worker.send(write("b"), 3);
        assert!(rx.recv().unwrap().1.is_ok());
        assert_eq!(rx.recv().unwrap(), (2, Ok(Reply::Done)));
        assert!(worker.wait_exit(Duration::from_secs(5)));
        // Request 3 was either refused by the closing store or never delivered.
        if let Ok((3, r)) = rx.recv_timeout(Duration::from_millis(100)) {
            assert_eq!(r.unwrap_err().code, Code::Closed);
        }
    }
}

#[test]
fn dropping_every_handle_ends_the_store() {
    for remote in MODES {
        let (worker, _rx) = start(recorder(remote));
        let watch = Worker::<u32> {
            tx: unbounded_channel().0,
            exited: worker.exited.clone(),
            backend: worker.backend.clone(),
        };
        drop(worker);
        assert!(watch.wait_exit(Duration::from_secs(5)));
    }
}

#[test]
fn dropping_every_handle_while_parts_are_open_refuses_the_held_requests() {
    for remote in MODES {
        let backend = Recorder {
            parts: true,
            ..recorder(remote)
        };
        let (worker, rx) = start(backend);
        worker
            .send(Op::Stage(Some(set_frame(&["p1"]))), 1)
            .ok()
            .unwrap();
        worker.send(write("w1"), 2).ok().unwrap();
        drop(worker);
        let got: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got[0], (1, Ok(Reply::Done)), "remote: {remote}");
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].1.as_ref().unwrap_err().code, Code::Closed);
    }
}

#[test]
fn superseded_creds_share_the_last_ones_fate() {
    for remote in MODES {
        let (worker, rx) = start(recorder(remote));
        let (gate_tx, gate_rx) = channel::<()>();
        worker.send(gate(gate_rx), 0).ok().unwrap();
        for t in 1..=3 {
            worker
                .send(Op::Write(Mutation::Creds(vec![t as u8])), t)
                .ok()
                .unwrap();
        }
        gate_tx.send(()).unwrap();
        assert_eq!(rx.recv().unwrap().0, 0);
        for t in 1..=3 {
            assert_eq!(rx.recv().unwrap(), (t, Ok(Reply::Done)));
        }
    }
}

#[test]
fn upkeep_runs_once_the_writes_are_answered_and_answers_nobody() {
    let backend = Recorder::default();
    let upkeeps = backend.upkeeps.clone();
    let seen = upkeeps.clone();
    let (tx, rx) = channel();
    // Each completion arrives with the upkeeps done by the time it was sent.
    let worker = Worker::spawn(move |done: Vec<Completion<u32>>| {
        for c in done {
            let n = seen.load(std::sync::atomic::Ordering::SeqCst);
            tx.send((c.ticket, c.result.is_ok(), n)).unwrap();
        }
    })
    .unwrap();
    let open = Op::Open(Box::new(move || Ok(Box::new(backend) as Box<dyn Backend>)));
    worker.send(open, 0).ok().unwrap();
    assert_eq!(rx.recv().unwrap(), (0, true, 0));
    worker.send(write("a"), 1).ok().unwrap();
    assert_eq!(
        rx.recv().unwrap(),
        (1, true, 0),
        "answered before the upkeep"
    );
    // Asked for directly (a write made on the JavaScript thread): no completion of its own.
    worker.send(Op::Upkeep, 2).ok().unwrap();
    worker
        .send(Op::Call(Box::new(|_| Ok(Reply::Done))), 3)
        .ok()
        .unwrap();
    assert_eq!(
        rx.recv().unwrap(),
        (3, true, 1),
        "the write's upkeep ran once"
    );
    // A write made by a call: its upkeep too follows its answer.
    let call_writing = Op::Call(Box::new(|be| {
        be.apply(&[]);
        Ok(Reply::Done)
    }));
    worker.send(call_writing, 4).ok().unwrap();
    worker.send(Op::Upkeep, 5).ok().unwrap();
    worker
        .send(Op::Call(Box::new(|_| Ok(Reply::Done))), 6)
        .ok()
        .unwrap();
    assert_eq!(rx.recv().unwrap(), (4, true, 1));
    assert_eq!(rx.recv().unwrap(), (6, true, 2));
    assert_eq!(upkeeps.load(std::sync::atomic::Ordering::SeqCst), 2);
}
