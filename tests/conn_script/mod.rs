//! A script interpreter for both ends of a [`gopipe::duplex`] connection,
//! shared by `tests/conn_fuzz.rs` and the `conn_script` fuzz target (which
//! includes this file with `#[path]`), so that both run and check the same
//! code.
//!
//! A [`Script`] gives up to two threads on end A and up to two on end B a list
//! of [`Op`]s each: writes of tagged bytes and reads (through `Conn`, `&Conn`,
//! `split()`'s halves or `into_split()`'s), `close`, `close_with_error`,
//! `shutdown`, deadlines (past, a few milliseconds ahead, none), timeouts,
//! clones and drops of the thread's `Conn`. [`execute`] runs it on real
//! threads and records every operation's result with two stamps from one
//! global counter, taken just before the call and just after it returns. The
//! main thread holds a clone of each end: it drops it once every thread of
//! that end is done (so the end closes by its last drop), and if the threads
//! stop making progress (a deadlock of the script's own making, as on a real
//! `net.Pipe`) it closes both ends, which must wake everything. A watchdog
//! fails a script that runs longer than [`WATCHDOG`].
//!
//! [`check`] then judges the record by Go's `net.Pipe` rules, per direction
//! (each direction is a pipe: the writer half is one end's, the reader half
//! the other's), asserting only what the stamps make certain:
//!
//! - every byte a read returned was written by a thread of the peer end, and
//!   the reads of each writer's stream tile exactly the bytes its writes
//!   reported, in order, each read inside one write and overlapping it in
//!   time, reads that did not overlap each other in time in their order: no
//!   loss, no duplicate, no interleaving, `Ok(n)` exact (unbuffered: nothing
//!   is left over once a write returned);
//! - a read or write that started after its end closed the direction fails
//!   with the closed-pipe error; a read that started after the peer closed
//!   returns `Ok(0)` (or the peer's `close_with_error` error), a write the
//!   closed-pipe error (or that error); nothing moves after a close returned;
//! - every error is one the rules allow: closed-pipe only after a close of
//!   the right half, a peer's error with its message and kind only after that
//!   peer's `close_with_error`, and all errors reporting one half's close
//!   report the same close, one that can have been the first;
//! - `TimedOut` (`i/o timeout`) only where a deadline or timeout was set, and
//!   a call that started with a past deadline in force (and no deadline
//!   change during it) times out (or sees a close); a write cut short reports
//!   `Ok(n)` with exactly the bytes the peer read;
//! - `set_deadline` and its read and write forms fail with the closed-pipe
//!   error once either end closed anything, and succeed before.
//!
//! A script with a capacity runs on `gopipe::buffered_duplex(capacity)`
//! (issue 25), each direction a buffered pipe, and for a capacity above 0
//! the first rule gives way to a buffered pipe's
//! (`tests/shared/buffered_stream.rs`), per direction: reads may join writes,
//! of both of the peer's threads too, but all the reads of a direction take
//! one stream, the writes' accepted prefixes in write-side order, never
//! interleaved, each byte once; a write needs no reader; the stream's end may
//! go unread (a close of the read half drops it), but never before an end of
//! file or the writer's `close_with_error` error, which come only after every
//! byte of every write that returned before the read started. A read may
//! return buffered bytes after the writer's close (its half-close or
//! `close_with_error`) returned, also with a past deadline in force (the
//! close is seen first), never after its own end's read half closed.
//! Capacity 0 (`buffered_duplex(0)`, which is `duplex()`) keeps every rule
//! above.

// Each includer uses part of this module: the fuzz target never builds a
// script by hand.
#![allow(dead_code)]

#[path = "../shared/buffered_stream.rs"]
mod buffered_stream;
#[path = "../shared/rng.rs"]
mod rng;
pub(crate) use buffered_stream::CAPACITIES;
use buffered_stream::{BufRead, BufWrite};
// For the sweep; the fuzz target draws nothing at random.
#[allow(unused_imports)]
pub(crate) use rng::Rng;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use gopipe::Conn;

/// How long a script may run before [`execute`] declares it hung.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(30);

/// How long the stamps may stand still, with threads still running, before
/// the main thread closes both ends.
pub(crate) const STALL: Duration = Duration::from_millis(10);

/// How long a write and a read of the same direction may both stay blocked,
/// with no progress anywhere, before [`execute`] reports a hang.
pub(crate) const HANG: Duration = Duration::from_secs(2);

/// Most threads on each end.
pub(crate) const MAX_THREADS: usize = 2;

/// Most operations [`Script::decode`] reads from its input.
pub(crate) const MAX_OPS: usize = 96;

/// Most operations [`Script::decode`] gives one thread.
pub(crate) const MAX_OPS_PER_THREAD: usize = 40;

/// Most bytes all the writes of a decoded script add up to.
pub(crate) const WRITE_BUDGET: usize = 256 << 10;

/// The message of a timeout.
const TIMEOUT_MESSAGE: &str = "i/o timeout";

/// The least header byte that picks a buffered connection (see
/// [`Script::decode`]).
pub(crate) const BUFFERED: u8 = 0xFC;

/// One end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum End {
    /// The first `Conn` of `duplex()`.
    A,
    /// The second.
    B,
}

impl End {
    /// 0 for A, 1 for B.
    pub(crate) fn index(self) -> usize {
        match self {
            End::A => 0,
            End::B => 1,
        }
    }

    /// The other end.
    pub(crate) fn peer(self) -> End {
        match self {
            End::A => End::B,
            End::B => End::A,
        }
    }

    /// Both ends.
    const BOTH: [End; 2] = [End::A, End::B];
}

/// How a read or write is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// `Read`/`Write` for `Conn` (the thread's newest clone).
    Owned,
    /// `Read`/`Write` for `&Conn`.
    Ref,
    /// The halves `split()` lends.
    Split,
    /// The halves of a clone the thread handed to `into_split()` at its start.
    IntoSplit,
}

impl Via {
    /// Every way, for decoding.
    const ALL: [Via; 4] = [Via::Owned, Via::Ref, Via::Split, Via::IntoSplit];
}

/// Which deadline a deadline operation sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// `set_deadline`.
    Both,
    /// `set_read_deadline`.
    Read,
    /// `set_write_deadline`.
    Write,
}

/// The deadline a deadline operation passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// `Some(Instant::now())`: already passed.
    Past,
    /// `Some(now + ms milliseconds)`.
    Soon(u8),
    /// `None`: no deadline.
    Never,
}

/// What a `close_with_error` passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorChoice {
    /// An `io::Error` of kind `ConnectionReset`.
    Reset,
    /// A plain message: kind `Other`.
    Text,
}

impl ErrorChoice {
    /// The kind the peer's errors carry.
    fn kind(self) -> ErrorKind {
        match self {
            ErrorChoice::Reset => ErrorKind::ConnectionReset,
            ErrorChoice::Text => ErrorKind::Other,
        }
    }
}

/// One operation of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Writes `len` tagged bytes (one `write` call).
    Write {
        /// Bytes to write.
        len: usize,
        /// Through what.
        via: Via,
    },
    /// Reads into a `len`-byte buffer (one `read` call).
    Read {
        /// The buffer's size.
        len: usize,
        /// Through what.
        via: Via,
    },
    /// `close()`.
    Close,
    /// `close_with_error(..)`.
    CloseWithError(ErrorChoice),
    /// `shutdown(..)`.
    Shutdown(Shutdown),
    /// `set_deadline`, `set_read_deadline` or `set_write_deadline`.
    Deadline(Which, When),
    /// `set_read_timeout` (`read`) or `set_write_timeout`: `Some(ms)`
    /// milliseconds (0 is rejected), or `None`.
    Timeout {
        /// The read timeout, else the write timeout.
        read: bool,
        /// Milliseconds, or none.
        ms: Option<u8>,
    },
    /// Clones the thread's newest `Conn` (the clone becomes the newest).
    Clone,
    /// Drops the thread's newest `Conn` (the main thread holds another clone,
    /// so this never closes the end).
    Drop,
}

impl Op {
    /// Whether the operation needs one of the thread's `Conn`s (it is skipped
    /// once the thread dropped them all).
    fn needs_conn(&self) -> bool {
        !matches!(
            self,
            Op::Write {
                via: Via::IntoSplit,
                ..
            } | Op::Read {
                via: Via::IntoSplit,
                ..
            }
        )
    }
}

/// What each thread of each end does.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Script {
    /// End A's threads (at most [`MAX_THREADS`]), one list each.
    pub(crate) a: Vec<Vec<Op>>,
    /// End B's threads.
    pub(crate) b: Vec<Vec<Op>>,
    /// `None`: the connection is `gopipe::duplex()`; `Some(capacity)`:
    /// `gopipe::buffered_duplex(capacity)` (issue 25), checked by a buffered
    /// pipe's rules per direction if `capacity > 0` (0 is `duplex()` by the
    /// other constructor, checked as it).
    pub(crate) capacity: Option<usize>,
}

impl Script {
    /// The thread lists of `end`.
    pub(crate) fn threads(&self, end: End) -> &Vec<Vec<Op>> {
        match end {
            End::A => &self.a,
            End::B => &self.b,
        }
    }

    /// Whether each direction buffers bytes: the checker's buffered rules.
    pub(crate) fn buffered(&self) -> bool {
        self.capacity.is_some_and(|c| c > 0)
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Script {{")?;
        if let Some(capacity) = self.capacity {
            writeln!(f, "  buffered_duplex({capacity})")?;
        }
        for end in End::BOTH {
            for (t, ops) in self.threads(end).iter().enumerate() {
                writeln!(f, "  {end:?}{t}: {ops:?}")?;
            }
        }
        write!(f, "}}")
    }
}

/// Reads a fuzzer's bytes one at a time, giving zeros once they run out.
struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    /// The next byte, or 0.
    fn next(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }

    /// Whether any byte is left.
    fn more(&self) -> bool {
        self.0.len() > 0
    }

    /// A size: one byte below `0xF0` is itself; `0xF0..` takes a second
    /// byte, for up to 64 KiB.
    fn size(&mut self) -> usize {
        let s = self.next();
        if s < 0xF0 {
            usize::from(s)
        } else {
            ((usize::from(s & 0x0F) << 8) | usize::from(self.next())) * 16 + 1
        }
    }
}

impl Script {
    /// Decodes a fuzzer's input: the first byte's bits 0 and 1 give the
    /// number of threads on A and on B (1 or 2 each); then each operation is
    /// a byte (bits 6-7: the thread, A0 A1 B0 B1, folded onto the threads
    /// there are; bits 0-3: the code) and its arguments:
    ///
    /// | code | operation | arguments |
    /// |------|-----------|-----------|
    /// | 0-3  | write, via `Owned`, `Ref`, `Split`, `IntoSplit` | a size |
    /// | 4-7  | read, same vias | a size |
    /// | 8    | close | |
    /// | 9    | close_with_error | a byte: bit 0 `Text`, else `Reset` |
    /// | 10   | shutdown | a byte: `% 3` Read, Write, Both |
    /// | 11   | a deadline | a byte: `% 3` Both, Read, Write; `/ 3 % 7` past, 1-5 ms, none |
    /// | 12   | a timeout | a byte: bit 0 read, else write; `>> 1 % 7` none, 1-5 ms, zero |
    /// | 13   | clone | |
    /// | 14   | drop | |
    /// | 15   | a write via `Ref` | a size |
    ///
    /// Writes stop growing once they add up to [`WRITE_BUDGET`].
    ///
    /// A first byte of `0xFC` or more (its bits 0 and 1 still the thread
    /// counts), with more bytes after it, picks a buffered connection (issue
    /// 25): the next byte's low four bits pick `buffered_duplex(CAPACITIES[..])`
    /// (0, 1, small ones, 64 KiB), and the operations follow. No input of the
    /// corpus before issue 25 starts so (`buffered_headers_are_new` checks),
    /// and the sweep draws no such header for an unbuffered script.
    pub(crate) fn decode(data: &[u8]) -> Script {
        let mut bytes = Bytes(data.iter());
        let header = bytes.next();
        let counts = [
            1 + usize::from(header & 1),
            1 + usize::from((header >> 1) & 1),
        ];
        let capacity = (header >= BUFFERED && data.len() > 1)
            .then(|| CAPACITIES[usize::from(bytes.next() & 0x0F)]);
        let mut script = Script {
            a: vec![Vec::new(); counts[0]],
            b: vec![Vec::new(); counts[1]],
            capacity,
        };
        let mut budget = WRITE_BUDGET;
        let mut ops = 0;
        while bytes.more() && ops < MAX_OPS {
            let byte = bytes.next();
            let end = if byte & 0x80 == 0 { End::A } else { End::B };
            let t = usize::from((byte >> 6) & 1) % counts[end.index()];
            let code = byte & 0x0F;
            let mut write = |len: usize, via| {
                let len = len.min(budget);
                budget -= len;
                Op::Write { len, via }
            };
            let op = match code {
                0..=3 => write(bytes.size(), Via::ALL[usize::from(code)]),
                4..=7 => Op::Read {
                    len: bytes.size(),
                    via: Via::ALL[usize::from(code - 4)],
                },
                8 => Op::Close,
                9 => Op::CloseWithError(if bytes.next() & 1 == 1 {
                    ErrorChoice::Text
                } else {
                    ErrorChoice::Reset
                }),
                10 => Op::Shutdown(match bytes.next() % 3 {
                    0 => Shutdown::Read,
                    1 => Shutdown::Write,
                    _ => Shutdown::Both,
                }),
                11 => {
                    let arg = bytes.next();
                    let which = [Which::Both, Which::Read, Which::Write][usize::from(arg % 3)];
                    let when = match arg / 3 % 7 {
                        0 => When::Past,
                        6 => When::Never,
                        ms => When::Soon(ms),
                    };
                    Op::Deadline(which, when)
                }
                12 => {
                    let arg = bytes.next();
                    let ms = match (arg >> 1) % 7 {
                        0 => None,
                        6 => Some(0),
                        ms => Some(ms),
                    };
                    Op::Timeout {
                        read: arg & 1 == 1,
                        ms,
                    }
                }
                13 => Op::Clone,
                14 => Op::Drop,
                _ => write(bytes.size(), Via::Ref),
            };
            let list = match end {
                End::A => &mut script.a[t],
                End::B => &mut script.b[t],
            };
            if list.len() < MAX_OPS_PER_THREAD {
                list.push(op);
                ops += 1;
            }
        }
        script
    }
}

/// The thread number of thread `t` of `end` in the byte tags: A0 A1 B0 B1.
fn global(end: End, t: usize) -> usize {
    end.index() * MAX_THREADS + t
}

/// The byte at `offset` of write number `k` of thread `g` (see [`global`]):
/// the thread in the top two bits, `k % 4` in the next two, a hash of
/// `(g, k, offset)` in the low four, so that a read can be placed in its
/// writer's stream and a shifted or foreign byte is (very likely) seen.
pub(crate) fn payload_byte(g: usize, k: usize, offset: usize) -> u8 {
    let mut z = (g as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((k as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
        .wrapping_add((offset as u64).wrapping_mul(0x1656_67B1_9E37_79F9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((g as u8) << 6) | (((k & 3) as u8) << 4) | (z as u8 & 0x0F)
}

/// The bytes of write number `k` of thread `g`.
pub(crate) fn payload(g: usize, k: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| payload_byte(g, k, i)).collect()
}

/// The message of the error passed by operation `index` of thread `t` of
/// `end`.
fn close_message(end: End, t: usize, index: usize) -> String {
    format!("conn script: {end:?}{t} op {index} closed with an error")
}

/// The global counter every stamp comes from, and what each thread is
/// blocked in.
#[derive(Default)]
struct Clock {
    /// The next stamp.
    next: AtomicU64,
    /// By thread (see [`global`]): [`READING`], [`WRITING`] or 0.
    busy: [AtomicU8; 2 * MAX_THREADS],
}

/// A thread is in a read into a non-empty buffer.
const READING: u8 = 1;

/// A thread is in a write.
const WRITING: u8 = 2;

impl Clock {
    /// A fresh stamp: stamps are totally ordered and follow happens-before.
    fn tick(&self) -> u64 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }

    /// The next stamp, without taking it.
    fn peek(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }
}

/// An error as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Its kind.
    pub(crate) kind: ErrorKind,
    /// Its message.
    pub(crate) message: String,
    /// `gopipe::is_closed_pipe`.
    pub(crate) closed_pipe: bool,
    /// Whether it carries a `gopipe::CloseError`.
    pub(crate) close_error: bool,
}

impl From<&io::Error> for Failure {
    fn from(e: &io::Error) -> Self {
        Failure {
            kind: e.kind(),
            message: e.to_string(),
            closed_pipe: gopipe::is_closed_pipe(e),
            close_error: gopipe::CloseError::from_io(e).is_some(),
        }
    }
}

/// What an operation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not run: the thread held no `Conn` any more.
    Skipped,
    /// A close, shutdown, clone or drop: returned.
    Done,
    /// A write, number `k` of its thread.
    Wrote {
        /// The thread's count of writes before this one.
        k: usize,
        /// What it returned.
        result: Result<usize, Failure>,
    },
    /// A read: the bytes it returned, or its error.
    Read(Result<Vec<u8>, Failure>),
    /// A deadline or timeout setting.
    Set(Result<(), Failure>),
}

/// One operation as it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Its place in the thread's list.
    pub(crate) index: usize,
    /// The operation.
    pub(crate) op: Op,
    /// The stamp just before the call.
    pub(crate) start: u64,
    /// The stamp just after it returned.
    pub(crate) end: u64,
    /// What it did.
    pub(crate) outcome: Outcome,
}

/// What the main thread did to an end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MainEvent {
    /// The end.
    pub(crate) end: End,
    /// `close()` after a stall, else the drop of the last handle.
    pub(crate) close: bool,
    /// The stamp before.
    pub(crate) start: u64,
    /// The stamp after.
    pub(crate) end_stamp: u64,
}

/// Everything a run recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Log {
    /// End A's threads' records, by thread.
    pub(crate) a: Vec<Vec<Record>>,
    /// End B's.
    pub(crate) b: Vec<Vec<Record>>,
    /// The main thread's drops and closes.
    pub(crate) main: Vec<MainEvent>,
}

impl Log {
    /// The records of `end`'s threads.
    pub(crate) fn threads(&self, end: End) -> &Vec<Vec<Record>> {
        match end {
            End::A => &self.a,
            End::B => &self.b,
        }
    }

    /// The records of `end`'s threads, to alter.
    pub(crate) fn threads_mut(&mut self, end: End) -> &mut Vec<Vec<Record>> {
        match end {
            End::A => &mut self.a,
            End::B => &mut self.b,
        }
    }
}

/// Runs thread `t` of `end`: its `ops` on `conn` and the clones it makes,
/// then drops every handle it holds.
fn worker(
    end: End,
    t: usize,
    ops: Vec<Op>,
    conn: Conn,
    clock: &Clock,
    ready: &Barrier,
) -> Vec<Record> {
    let g = global(end, t);
    let (mut rx, mut tx) = conn.clone().into_split();
    let mut conns = vec![conn];
    let mut writes = 0;
    let mut records = Vec::with_capacity(ops.len());
    ready.wait();
    for (index, op) in ops.into_iter().enumerate() {
        if op.needs_conn() && conns.is_empty() {
            let stamp = clock.tick();
            records.push(Record {
                index,
                op,
                start: stamp,
                end: stamp,
                outcome: Outcome::Skipped,
            });
            continue;
        }
        let (start, outcome) = match op {
            Op::Write { len, via } => {
                let k = writes;
                writes += 1;
                let bytes = payload(g, k, len);
                clock.busy[g].store(WRITING, Ordering::SeqCst);
                let start = clock.tick();
                let result = match via {
                    Via::Owned => conns.last_mut().unwrap().write(&bytes),
                    Via::Ref => {
                        let mut conn: &Conn = conns.last().unwrap();
                        conn.write(&bytes)
                    }
                    Via::Split => {
                        let (_, half) = conns.last().unwrap().split();
                        (&*half).write(&bytes)
                    }
                    Via::IntoSplit => tx.write(&bytes),
                };
                let result = result.map_err(|e| Failure::from(&e));
                (start, Outcome::Wrote { k, result })
            }
            Op::Read { len, via } => {
                let mut buf = vec![0; len];
                if len > 0 {
                    clock.busy[g].store(READING, Ordering::SeqCst);
                }
                let start = clock.tick();
                let result = match via {
                    Via::Owned => conns.last_mut().unwrap().read(&mut buf),
                    Via::Ref => {
                        let mut conn: &Conn = conns.last().unwrap();
                        conn.read(&mut buf)
                    }
                    Via::Split => {
                        let (half, _) = conns.last().unwrap().split();
                        (&*half).read(&mut buf)
                    }
                    Via::IntoSplit => rx.read(&mut buf),
                };
                let result = match result {
                    Ok(n) => {
                        assert!(n <= len, "read({len}) returned Ok({n})");
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) => Err(Failure::from(&e)),
                };
                (start, Outcome::Read(result))
            }
            Op::Close => {
                let start = clock.tick();
                conns.last().unwrap().close();
                (start, Outcome::Done)
            }
            Op::CloseWithError(choice) => {
                let message = close_message(end, t, index);
                let err: Box<dyn std::error::Error + Send + Sync> = match choice {
                    ErrorChoice::Reset => Box::new(io::Error::new(choice.kind(), message)),
                    ErrorChoice::Text => message.into(),
                };
                let start = clock.tick();
                conns.last().unwrap().close_with_error(err);
                (start, Outcome::Done)
            }
            Op::Shutdown(how) => {
                let start = clock.tick();
                let result = conns.last().unwrap().shutdown(how);
                assert!(result.is_ok(), "shutdown failed: {result:?}");
                (start, Outcome::Done)
            }
            Op::Deadline(which, when) => {
                let conn = conns.last().unwrap();
                let start = clock.tick();
                let at = match when {
                    When::Past => Some(Instant::now()),
                    When::Soon(ms) => Some(Instant::now() + Duration::from_millis(u64::from(ms))),
                    When::Never => None,
                };
                let result = match which {
                    Which::Both => conn.set_deadline(at),
                    Which::Read => conn.set_read_deadline(at),
                    Which::Write => conn.set_write_deadline(at),
                };
                (start, Outcome::Set(result.map_err(|e| Failure::from(&e))))
            }
            Op::Timeout { read, ms } => {
                let conn = conns.last().unwrap();
                let timeout = ms.map(|ms| Duration::from_millis(u64::from(ms)));
                let start = clock.tick();
                let result = if read {
                    conn.set_read_timeout(timeout)
                } else {
                    conn.set_write_timeout(timeout)
                };
                (start, Outcome::Set(result.map_err(|e| Failure::from(&e))))
            }
            Op::Clone => {
                let start = clock.tick();
                let clone = conns.last().unwrap().clone();
                conns.push(clone);
                (start, Outcome::Done)
            }
            Op::Drop => {
                let start = clock.tick();
                drop(conns.pop());
                (start, Outcome::Done)
            }
        };
        let end_stamp = clock.tick();
        clock.busy[g].store(0, Ordering::SeqCst);
        records.push(Record {
            index,
            op,
            start,
            end: end_stamp,
            outcome,
        });
    }
    drop((rx, tx, conns));
    records
}

/// What a script thread sends when it is done: its end, its number, and its
/// records or its panic's message.
type Report = (End, usize, Result<Vec<Record>, String>);

/// Runs `script` on a fresh `duplex()` (or `buffered_duplex` if the script
/// has a capacity), one OS thread per script thread, all
/// released together; panics if it is not done within `watchdog`.
pub(crate) fn execute(script: &Script, watchdog: Duration) -> Log {
    assert!(
        script.a.len() <= MAX_THREADS && script.b.len() <= MAX_THREADS,
        "too many threads"
    );
    let began = Instant::now();
    let clock = Arc::new(Clock::default());
    let total = script.a.len() + script.b.len();
    let ready = Arc::new(Barrier::new(total));
    let (a, b) = match script.capacity {
        Some(capacity) => gopipe::buffered_duplex(capacity),
        None => gopipe::duplex(),
    };
    let mut held = [Some(a), Some(b)];
    let mut log = Log {
        a: vec![Vec::new(); script.a.len()],
        b: vec![Vec::new(); script.b.len()],
        main: Vec::new(),
    };
    let mut remaining = [script.a.len(), script.b.len()];
    let (report_tx, report_rx) = mpsc::channel::<Report>();
    let mut joins = Vec::new();
    for end in End::BOTH {
        for (t, ops) in script.threads(end).iter().enumerate() {
            let conn = held[end.index()].as_ref().unwrap().clone();
            let (ops, clock, ready, report) =
                (ops.clone(), clock.clone(), ready.clone(), report_tx.clone());
            let join = thread::Builder::new()
                .name(format!("conn-script-{end:?}{t}"))
                .spawn(move || {
                    let records = catch_unwind(AssertUnwindSafe(|| {
                        worker(end, t, ops, conn, &clock, &ready)
                    }))
                    .map_err(|payload| {
                        payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    });
                    let _ = report.send((end, t, records));
                })
                .expect("spawn a script thread");
            joins.push(join);
        }
    }
    drop(report_tx);

    let release = |held: &mut [Option<Conn>; 2], log: &mut Log, end: End| {
        if let Some(conn) = held[end.index()].take() {
            let start = clock.tick();
            drop(conn);
            let end_stamp = clock.tick();
            log.main.push(MainEvent {
                end,
                close: false,
                start,
                end_stamp,
            });
        }
    };
    for end in End::BOTH {
        if remaining[end.index()] == 0 {
            release(&mut held, &mut log, end);
        }
    }
    let mut last = clock.peek();
    let mut last_change = Instant::now();
    let mut stalled = false;
    let mut done = 0;
    while done < total {
        match report_rx.recv_timeout(Duration::from_millis(1)) {
            Ok((end, t, Ok(records))) => {
                log.threads_mut(end)[t] = records;
                done += 1;
                remaining[end.index()] -= 1;
                if remaining[end.index()] == 0 {
                    release(&mut held, &mut log, end);
                }
            }
            Ok((end, t, Err(why))) => {
                panic!("script thread {end:?}{t} panicked: {why}\n{script:?}")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("a script thread vanished\n{script:?}")
            }
        }
        let now = clock.peek();
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if !stalled && last_change.elapsed() > STALL {
            // A write and a read of one direction both blocked would be a
            // lost rendezvous: give them a long while (a thread may just be
            // descheduled), then report a hang.
            if let Some(pair) = blocked_pair(&clock, script) {
                if last_change.elapsed() < HANG {
                    continue;
                }
                panic!(
                    "hang: {pair} blocked for {HANG:?} with no progress\n{script:?}\n{}",
                    render(&log)
                );
            }
            stalled = true;
            for end in End::BOTH {
                if let Some(conn) = &held[end.index()] {
                    let start = clock.tick();
                    conn.close();
                    let end_stamp = clock.tick();
                    log.main.push(MainEvent {
                        end,
                        close: true,
                        start,
                        end_stamp,
                    });
                }
            }
        }
        if began.elapsed() > watchdog {
            panic!(
                "script did not finish within {watchdog:?} (a hang; stalled and closed: {stalled})\n{script:?}"
            );
        }
    }
    for join in joins {
        join.join().expect("a script thread does not panic");
    }
    log
}

/// A thread of one end blocked in a write while a thread of the other is
/// blocked in a read, if any: named for a report.
fn blocked_pair(clock: &Clock, script: &Script) -> Option<String> {
    for writer_end in End::BOTH {
        for w in 0..script.threads(writer_end).len() {
            if clock.busy[global(writer_end, w)].load(Ordering::SeqCst) != WRITING {
                continue;
            }
            let reader_end = writer_end.peer();
            for r in 0..script.threads(reader_end).len() {
                if clock.busy[global(reader_end, r)].load(Ordering::SeqCst) == READING {
                    return Some(format!(
                        "{writer_end:?}{w}'s write and {reader_end:?}{r}'s read"
                    ));
                }
            }
        }
    }
    None
}

/// Runs `script` and checks it; panics with the script and its record if the
/// connection broke a rule or hung.
pub(crate) fn run(script: &Script) -> Summary {
    let log = execute(script, WATCHDOG);
    match check(script, &log) {
        Ok(summary) => summary,
        Err(why) => panic!("{why}\n{script:?}\n{}", render(&log)),
    }
}

/// What a checked run saw, to show a sweep covered the interesting cases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Scripts.
    pub(crate) scripts: u64,
    /// Bytes read.
    pub(crate) bytes: u64,
    /// Reads that returned end of file.
    pub(crate) eofs: u64,
    /// Writes that returned fewer bytes than given.
    pub(crate) short_writes: u64,
    /// Reads and writes that timed out.
    pub(crate) timeouts: u64,
    /// Calls that failed with the closed-pipe error.
    pub(crate) closed_pipe: u64,
    /// Calls that failed with a peer's `close_with_error` error.
    pub(crate) peer_errors: u64,
    /// Deadline settings refused because of a close.
    pub(crate) refused_deadlines: u64,
    /// Scripts the main thread closed after a stall.
    pub(crate) stalls: u64,
    /// Calls that started with a past deadline in force (checked to time out).
    pub(crate) forced_timeouts: u64,
    /// Scripts on a buffered connection of a capacity above 0.
    pub(crate) buffered: u64,
    /// Reads of a buffered connection that got bytes of more than one write.
    pub(crate) joined_reads: u64,
    /// Writes of a buffered connection that returned bytes accepted with no
    /// read of their direction under way at any time during them.
    pub(crate) unmet_writes: u64,
    /// Reads that returned buffered bytes after the writer's close (a
    /// half-close, `close`, `close_with_error`) had returned.
    pub(crate) late_reads: u64,
    /// Bytes a buffered connection accepted that no read got (a close of the
    /// read half dropped them).
    pub(crate) dropped_bytes: u64,
    /// Ends of file and writers' close errors a buffered direction gave
    /// after writes that returned before them (whose bytes had to come
    /// first).
    pub(crate) drained_eofs: u64,
}

impl Summary {
    /// Adds `other`'s counts.
    pub(crate) fn add(&mut self, other: &Summary) {
        self.scripts += other.scripts;
        self.bytes += other.bytes;
        self.eofs += other.eofs;
        self.short_writes += other.short_writes;
        self.timeouts += other.timeouts;
        self.closed_pipe += other.closed_pipe;
        self.peer_errors += other.peer_errors;
        self.refused_deadlines += other.refused_deadlines;
        self.stalls += other.stalls;
        self.forced_timeouts += other.forced_timeouts;
        self.buffered += other.buffered;
        self.joined_reads += other.joined_reads;
        self.unmet_writes += other.unmet_writes;
        self.late_reads += other.late_reads;
        self.dropped_bytes += other.dropped_bytes;
        self.drained_eofs += other.drained_eofs;
    }
}

/// A log as text, for failure reports.
pub(crate) fn render(log: &Log) -> String {
    let mut out = String::new();
    for end in End::BOTH {
        for (t, records) in log.threads(end).iter().enumerate() {
            out += &format!("{end:?}{t}:\n");
            for r in records {
                let outcome = match &r.outcome {
                    Outcome::Read(Ok(bytes)) if bytes.len() > 8 => {
                        format!("Read(Ok({} bytes {:02x?}..))", bytes.len(), &bytes[..8])
                    }
                    Outcome::Read(Ok(bytes)) => format!("Read(Ok({bytes:02x?}))"),
                    other => format!("{other:?}"),
                };
                out += &format!(
                    "  #{} [{}..{}] {:?} -> {outcome}\n",
                    r.index, r.start, r.end, r.op
                );
            }
        }
    }
    for e in &log.main {
        out += &format!(
            "main: {} {:?} [{}..{}]\n",
            if e.close { "close" } else { "drop" },
            e.end,
            e.start,
            e.end_stamp
        );
    }
    out
}

/// How a half was closed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cause {
    /// `close`, `shutdown`, or the last drop.
    Plain,
    /// `close_with_error` with this message and kind.
    Error(String, ErrorKind),
}

/// A close of one half.
#[derive(Clone, Debug)]
struct CloseEvent {
    /// How.
    cause: Cause,
    /// The stamp before the call.
    start: u64,
    /// The stamp after.
    end: u64,
}

/// A deadline or timeout setting of one half.
#[derive(Clone, Copy, Debug)]
struct Setting {
    /// A deadline (else a timeout).
    deadline: bool,
    /// Sets something (not `None`, not a rejected zero).
    some: bool,
    /// A past deadline that was accepted.
    past_ok: bool,
    /// The stamps.
    start: u64,
    /// After.
    end: u64,
}

/// A half: `end`'s reader (`rx`) or writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Half {
    /// Whose.
    end: End,
    /// The reader of what the peer writes, else the writer.
    rx: bool,
}

impl Half {
    /// An index for tables.
    fn index(self) -> usize {
        self.end.index() * 2 + usize::from(self.rx)
    }
}

/// The facts the checker works from.
struct Checker<'a> {
    /// The log.
    log: &'a Log,
    /// Each half's closes.
    closes: [Vec<CloseEvent>; 4],
    /// Each half's settings.
    settings: [Vec<Setting>; 4],
    /// The cause each half's close was seen with, and by which call.
    seen: [Option<(Cause, String)>; 4],
    /// What it saw.
    summary: Summary,
    /// Each direction is a buffered pipe of a capacity above 0 (issue 25).
    buffered: bool,
}

/// Checks the log of a run of `script` against `net.Pipe`'s rules.
pub(crate) fn check(script: &Script, log: &Log) -> Result<Summary, String> {
    for end in End::BOTH {
        let threads = log.threads(end);
        if threads.len() != script.threads(end).len() {
            return Err(format!(
                "{end:?} has {} records, not {}",
                threads.len(),
                script.threads(end).len()
            ));
        }
        for (t, (records, ops)) in threads.iter().zip(script.threads(end)).enumerate() {
            if records.len() != ops.len() || records.iter().zip(ops).any(|(r, op)| r.op != *op) {
                return Err(format!("{end:?}{t}'s records are not its script's"));
            }
            if records.iter().any(|r| r.start > r.end) {
                return Err(format!(
                    "{end:?}{t} has a record that ends before it starts"
                ));
            }
        }
    }
    let mut checker = Checker {
        log,
        closes: Default::default(),
        settings: Default::default(),
        seen: Default::default(),
        summary: Summary {
            scripts: 1,
            stalls: u64::from(log.main.iter().any(|e| e.close)),
            buffered: u64::from(script.buffered()),
            ..Summary::default()
        },
        buffered: script.buffered(),
    };
    checker.gather();
    for end in End::BOTH {
        for (t, records) in log.threads(end).iter().enumerate() {
            for r in records {
                checker
                    .call(end, r)
                    .map_err(|why| format!("{end:?}{t} #{} {:?}: {why}", r.index, r.op))?;
            }
        }
    }
    for end in End::BOTH {
        if checker.buffered {
            checker.stream(end)?;
        } else {
            checker.tile(end)?;
        }
    }
    Ok(checker.summary)
}

impl Checker<'_> {
    /// Collects the closes and settings of every half.
    fn gather(&mut self) {
        let log = self.log;
        for end in End::BOTH {
            let rx = Half { end, rx: true }.index();
            let tx = Half { end, rx: false }.index();
            for (t, records) in log.threads(end).iter().enumerate() {
                for r in records {
                    if r.outcome == Outcome::Skipped {
                        continue;
                    }
                    let event = |cause: Cause| CloseEvent {
                        cause,
                        start: r.start,
                        end: r.end,
                    };
                    match r.op {
                        Op::Close | Op::Shutdown(Shutdown::Both) => {
                            self.closes[rx].push(event(Cause::Plain));
                            self.closes[tx].push(event(Cause::Plain));
                        }
                        Op::Shutdown(Shutdown::Read) => self.closes[rx].push(event(Cause::Plain)),
                        Op::Shutdown(Shutdown::Write) => self.closes[tx].push(event(Cause::Plain)),
                        Op::CloseWithError(choice) => {
                            let cause = Cause::Error(close_message(end, t, r.index), choice.kind());
                            self.closes[rx].push(event(cause.clone()));
                            self.closes[tx].push(event(cause));
                        }
                        Op::Deadline(which, when) => {
                            let ok = matches!(r.outcome, Outcome::Set(Ok(())));
                            let setting = Setting {
                                deadline: true,
                                some: when != When::Never,
                                past_ok: when == When::Past && ok,
                                start: r.start,
                                end: r.end,
                            };
                            if which != Which::Write {
                                self.settings[rx].push(setting);
                            }
                            if which != Which::Read {
                                self.settings[tx].push(setting);
                            }
                        }
                        Op::Timeout { read, ms } => {
                            let setting = Setting {
                                deadline: false,
                                some: ms.is_some_and(|ms| ms > 0),
                                past_ok: false,
                                start: r.start,
                                end: r.end,
                            };
                            self.settings[if read { rx } else { tx }].push(setting);
                        }
                        _ => {}
                    }
                }
            }
        }
        for e in &log.main {
            for rx in [true, false] {
                self.closes[Half { end: e.end, rx }.index()].push(CloseEvent {
                    cause: Cause::Plain,
                    start: e.start,
                    end: e.end_stamp,
                });
            }
        }
    }

    /// Whether a close of `half` returned before stamp `at`.
    fn closed_before(&self, half: Half, at: u64) -> bool {
        self.closes[half.index()].iter().any(|c| c.end < at)
    }

    /// Whether a close of `half` started before stamp `at`.
    fn maybe_closed(&self, half: Half, at: u64) -> bool {
        self.closes[half.index()].iter().any(|c| c.start < at)
    }

    /// Whether any half was closed before `at`, or may have been.
    fn any_closed(&self, at: u64, certainly: bool) -> bool {
        End::BOTH.iter().any(|&end| {
            [true, false].iter().any(|&rx| {
                let half = Half { end, rx };
                if certainly {
                    self.closed_before(half, at)
                } else {
                    self.maybe_closed(half, at)
                }
            })
        })
    }

    /// Notes that call `who` saw `half` closed with `cause` (before stamp
    /// `at`): it must be a close that can have been the half's first, and
    /// every call must see the same one.
    fn saw(&mut self, half: Half, cause: Cause, at: u64, who: &str) -> Result<(), String> {
        let closes = &self.closes[half.index()];
        let first_end = closes.iter().map(|c| c.end).min().unwrap_or(u64::MAX);
        if !closes
            .iter()
            .any(|c| c.cause == cause && c.start < at && c.start < first_end)
        {
            return Err(format!("saw {half:?} closed with {cause:?}, which no close that can have been its first did"));
        }
        match &self.seen[half.index()] {
            Some((before, by)) if *before != cause => Err(format!(
                "saw {half:?} closed with {cause:?}, but {by} saw it closed with {before:?}"
            )),
            Some(_) => Ok(()),
            None => {
                self.seen[half.index()] = Some((cause, who.to_string()));
                Ok(())
            }
        }
    }

    /// Whether a timeout or deadline of `half` can have applied to a call
    /// that returned at `end`.
    fn may_time_out(&self, half: Half, end: u64) -> bool {
        self.settings[half.index()]
            .iter()
            .any(|s| s.some && s.start < end)
    }

    /// Whether a call of `half` over `start..end` ran with a past deadline in
    /// force all along: an accepted past deadline set before it started, and
    /// no other deadline setting of the half that can have come after.
    fn past_deadline(&self, half: Half, start: u64, end: u64) -> bool {
        let deadlines: Vec<&Setting> = self.settings[half.index()]
            .iter()
            .filter(|s| s.deadline)
            .collect();
        deadlines.iter().any(|s| {
            s.past_ok
                && s.end < start
                && deadlines
                    .iter()
                    .all(|o| std::ptr::eq(*o, *s) || o.start >= end || o.end < s.start)
        })
    }

    /// Classifies a close error seen by a call of `half`'s peer direction:
    /// the closed-pipe error, or a peer's error.
    fn peer_cause(f: &Failure) -> Result<Cause, String> {
        if f.closed_pipe {
            if f.kind != ErrorKind::BrokenPipe || f.message != "io: read/write on closed pipe" {
                return Err(format!(
                    "a closed-pipe error with kind {:?} and message {:?}",
                    f.kind, f.message
                ));
            }
            return Ok(Cause::Plain);
        }
        if f.message.starts_with("conn script: ") {
            if !f.close_error {
                return Err("a peer's error without its CloseError payload".into());
            }
            return Ok(Cause::Error(f.message.clone(), f.kind));
        }
        Err(format!("an unexpected error: {f:?}"))
    }

    /// Checks one call's result.
    fn call(&mut self, end: End, r: &Record) -> Result<(), String> {
        let who = format!("{end:?} #{} {:?} [{}..{}]", r.index, r.op, r.start, r.end);
        match (&r.op, &r.outcome) {
            (_, Outcome::Skipped) => Ok(()),
            (Op::Read { len, .. }, Outcome::Read(result)) => self.read(end, r, *len, result, &who),
            (Op::Write { len, .. }, Outcome::Wrote { result, .. }) => {
                self.write(end, r, *len, result, &who)
            }
            (Op::Deadline(..), Outcome::Set(result)) => match result {
                Ok(()) if self.any_closed(r.start, true) => {
                    Err("a deadline was accepted after a close had returned".into())
                }
                Ok(()) => Ok(()),
                Err(f) if f.closed_pipe && f.kind == ErrorKind::BrokenPipe => {
                    if !self.any_closed(r.end, false) {
                        return Err("a deadline was refused with no close".into());
                    }
                    self.summary.refused_deadlines += 1;
                    Ok(())
                }
                Err(f) => Err(format!("a deadline failed with {f:?}")),
            },
            (Op::Timeout { ms, .. }, Outcome::Set(result)) => match (ms, result) {
                (Some(0), Err(f)) if f.kind == ErrorKind::InvalidInput => Ok(()),
                (Some(0), _) => Err(format!("a zero timeout gave {result:?}")),
                (_, Ok(())) => Ok(()),
                (_, Err(f)) => Err(format!("a timeout setting failed: {f:?}")),
            },
            (
                Op::Close | Op::CloseWithError(_) | Op::Shutdown(_) | Op::Clone | Op::Drop,
                Outcome::Done,
            ) => Ok(()),
            (op, outcome) => Err(format!("{op:?} recorded {outcome:?}")),
        }
    }

    /// Checks a read by a thread of `end`.
    fn read(
        &mut self,
        end: End,
        r: &Record,
        len: usize,
        result: &Result<Vec<u8>, Failure>,
        who: &str,
    ) -> Result<(), String> {
        let own = Half { end, rx: true };
        let writer = Half {
            end: end.peer(),
            rx: false,
        };
        let own_closed = self.closed_before(own, r.start);
        let writer_closed = self.closed_before(writer, r.start);
        let closing = self.maybe_closed(own, r.end) || self.maybe_closed(writer, r.end);
        match result {
            Ok(bytes) if !bytes.is_empty() => {
                if bytes.len() > len {
                    return Err(format!("{} bytes into a {len}-byte buffer", bytes.len()));
                }
                // Buffered bytes outlive the writer's close, not the
                // reader's.
                if own_closed || (writer_closed && !self.buffered) {
                    return Err("read bytes after a close of the direction had returned".into());
                }
                if writer_closed {
                    self.summary.late_reads += 1;
                }
                // A buffered read sees the writer's close before its past
                // deadline, and takes the bytes left.
                let drained = self.buffered && self.maybe_closed(writer, r.end);
                if len > 0 && !drained && self.past_deadline(own, r.start, r.end) {
                    return Err("read bytes with a past deadline in force".into());
                }
                self.summary.bytes += bytes.len() as u64;
                Ok(())
            }
            // Documented (beyond Go, whose read checks for closes first): a
            // read into an empty buffer returns `Ok(0)` at once.
            Ok(_) if len == 0 => Ok(()),
            Err(f) if len == 0 => Err(format!("a read into an empty buffer failed: {f:?}")),
            Ok(_) => {
                if own_closed {
                    return Err(
                        "end of file after its own end closed (not the closed-pipe error)".into(),
                    );
                }
                if !self.maybe_closed(writer, r.end) {
                    return Err("end of file with no close of the peer's writer".into());
                }
                self.saw(writer, Cause::Plain, r.end, who)?;
                self.summary.eofs += 1;
                Ok(())
            }
            Err(f)
                if f.kind == ErrorKind::TimedOut
                    && f.message == TIMEOUT_MESSAGE
                    && !f.close_error =>
            {
                if own_closed || writer_closed {
                    return Err("timed out after a close had returned".into());
                }
                if !self.may_time_out(own, r.end) {
                    return Err("timed out with no deadline or timeout set".into());
                }
                self.summary.timeouts += 1;
                if len > 0 && self.past_deadline(own, r.start, r.end) {
                    self.summary.forced_timeouts += 1;
                }
                Ok(())
            }
            Err(f) => match Self::peer_cause(f)? {
                Cause::Plain => {
                    if !self.maybe_closed(own, r.end) {
                        return Err("the closed-pipe error with its own reader open".into());
                    }
                    self.summary.closed_pipe += 1;
                    Ok(())
                }
                cause => {
                    if own_closed {
                        return Err(
                            "the peer's error after its own end closed (not the closed-pipe error)"
                                .into(),
                        );
                    }
                    self.saw(writer, cause, r.end, who)?;
                    self.summary.peer_errors += 1;
                    Ok(())
                }
            },
        }
        .and_then(|()| {
            // A call that started with a past deadline in force and met no
            // close times out.
            let timed_out = matches!(result, Err(f) if f.kind == ErrorKind::TimedOut);
            if len > 0 && !closing && !timed_out && self.past_deadline(own, r.start, r.end) {
                return Err("did not time out with a past deadline in force".into());
            }
            Ok(())
        })
    }

    /// Checks a write by a thread of `end`.
    fn write(
        &mut self,
        end: End,
        r: &Record,
        len: usize,
        result: &Result<usize, Failure>,
        who: &str,
    ) -> Result<(), String> {
        let own = Half { end, rx: false };
        let reader = Half {
            end: end.peer(),
            rx: true,
        };
        let own_closed = self.closed_before(own, r.start);
        let reader_closed = self.closed_before(reader, r.start);
        let closing = self.maybe_closed(own, r.end) || self.maybe_closed(reader, r.end);
        match result {
            Ok(n) if *n > len => Err(format!("Ok({n}) for {len} bytes")),
            Ok(0) if len > 0 => Err("Ok(0) for a non-empty write".into()),
            Ok(0) => {
                if own_closed || reader_closed {
                    return Err("an empty write succeeded after a close had returned".into());
                }
                Ok(())
            }
            Ok(n) => {
                if own_closed || reader_closed {
                    return Err("wrote after a close of the direction had returned".into());
                }
                if self.past_deadline(own, r.start, r.end) {
                    return Err("wrote bytes with a past deadline in force".into());
                }
                if *n < len {
                    if !closing && !self.may_time_out(own, r.end) {
                        return Err("a short write with no close and no timeout".into());
                    }
                    self.summary.short_writes += 1;
                }
                if self.buffered {
                    let met = self.log.threads(end.peer()).iter().flatten().any(|q| {
                        matches!(q.op, Op::Read { len, .. } if len > 0)
                            && q.outcome != Outcome::Skipped
                            && q.start < r.end
                            && r.start < q.end
                    });
                    if !met {
                        self.summary.unmet_writes += 1;
                    }
                }
                Ok(())
            }
            Err(f) if f.kind == ErrorKind::TimedOut && f.message == TIMEOUT_MESSAGE && !f.close_error => {
                if own_closed || reader_closed {
                    return Err("timed out after a close had returned".into());
                }
                if !self.may_time_out(own, r.end) {
                    return Err("timed out with no deadline or timeout set".into());
                }
                self.summary.timeouts += 1;
                if len > 0 && self.past_deadline(own, r.start, r.end) {
                    self.summary.forced_timeouts += 1;
                }
                Ok(())
            }
            Err(f) => match Self::peer_cause(f)? {
                Cause::Plain => {
                    if !self.maybe_closed(own, r.end) {
                        // Only the peer's reader closed: a plain close.
                        if !self.maybe_closed(reader, r.end) {
                            return Err("the closed-pipe error with the direction open".into());
                        }
                        self.saw(reader, Cause::Plain, r.end, who)?;
                    }
                    self.summary.closed_pipe += 1;
                    Ok(())
                }
                cause => {
                    if own_closed {
                        return Err("the peer's error after its own end closed (not the closed-pipe error)".into());
                    }
                    self.saw(reader, cause, r.end, who)?;
                    self.summary.peer_errors += 1;
                    Ok(())
                }
            },
        }
        .and_then(|()| {
            let timed_out = matches!(result, Err(f) if f.kind == ErrorKind::TimedOut);
            if len > 0 && !closing && !timed_out && self.past_deadline(own, r.start, r.end) {
                return Err("did not time out with a past deadline in force".into());
            }
            Ok(())
        })
    }

    /// Places the reads of the buffered direction `writer_end` writes in
    /// (see `tests/shared/buffered_stream.rs`): the peer's reads take one
    /// stream of the writes' accepted bytes, reads may join writes, the
    /// stream's end may go unread; and an end of file, or the writer's
    /// `close_with_error` error, comes only once reads that started before it
    /// returned took every byte of every write that returned before it
    /// started.
    fn stream(&mut self, writer_end: End) -> Result<(), String> {
        let log = self.log;
        let reader_end = writer_end.peer();
        let writers = log.threads(writer_end);
        let readers = log.threads(reader_end);
        // A failed write accepted nothing: a cut one reports its count.
        let writes: Vec<Vec<BufWrite>> = writers
            .iter()
            .map(|records| {
                records
                    .iter()
                    .filter_map(|r| match &r.outcome {
                        Outcome::Wrote { k, result } => Some(BufWrite {
                            k: *k,
                            n: *result.as_ref().unwrap_or(&0),
                            start: r.start,
                            end: r.end,
                            elastic: false,
                        }),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let reads: Vec<Vec<BufRead<'_>>> = readers
            .iter()
            .map(|records| {
                records
                    .iter()
                    .filter_map(|r| match &r.outcome {
                        Outcome::Read(Ok(bytes)) if !bytes.is_empty() => Some(BufRead {
                            bytes,
                            start: r.start,
                            end: r.end,
                        }),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let tag = |b: u8| {
            let g = usize::from(b >> 6);
            (g / MAX_THREADS == writer_end.index() && g % MAX_THREADS < writers.len())
                .then_some(g % MAX_THREADS)
        };
        let payload =
            |w: usize, k: usize, offset: usize| payload_byte(global(writer_end, w), k, offset);
        let path = buffered_stream::place(&writes, &reads, &tag, &payload)
            .map_err(|why| format!("{writer_end:?}'s writes to {reader_end:?}: {why}"))?;
        // Per write (writer, position): bytes read, and the last start of a
        // read of them.
        let mut cover: HashMap<(usize, usize), (usize, u64)> = HashMap::new();
        for (q, c, pieces) in &path {
            if pieces.len() > 1 {
                self.summary.joined_reads += 1;
            }
            for piece in pieces {
                let e = cover.entry((piece.w, piece.wi)).or_default();
                e.0 += piece.len;
                e.1 = e.1.max(reads[*q][*c].start);
            }
        }
        let accepted: usize = writes.iter().flatten().map(|x| x.n).sum();
        let read: usize = cover.values().map(|&(bytes, _)| bytes).sum();
        self.summary.dropped_bytes += (accepted - read) as u64;
        let closer = format!("conn script: {writer_end:?}");
        for (rt, records) in readers.iter().enumerate() {
            for r in records {
                let what = match (&r.op, &r.outcome) {
                    (Op::Read { len, .. }, Outcome::Read(Ok(bytes)))
                        if *len > 0 && bytes.is_empty() =>
                    {
                        "end of file"
                    }
                    (Op::Read { .. }, Outcome::Read(Err(f)))
                        if !f.closed_pipe && f.message.starts_with(&closer) =>
                    {
                        "the writer's close error"
                    }
                    _ => continue,
                };
                let mut behind = false;
                for (w, ws) in writes.iter().enumerate() {
                    for (wi, x) in ws.iter().enumerate() {
                        if x.n == 0 || x.end >= r.start {
                            continue;
                        }
                        behind = true;
                        let (got, last_start) = cover.get(&(w, wi)).copied().unwrap_or_default();
                        if got < x.n || last_start > r.end {
                            return Err(format!(
                                "{reader_end:?}{rt} #{} [{}..{}] got {what}, but of \
                                 {writer_end:?}{w}'s write #{} of {} bytes [{}..{}], which \
                                 returned before, reads had got {got} (the last of them \
                                 started at {last_start})",
                                r.index, r.start, r.end, x.k, x.n, x.start, x.end
                            ));
                        }
                    }
                }
                if behind {
                    self.summary.drained_eofs += 1;
                }
            }
        }
        Ok(())
    }

    /// Places the reads of the direction `writer_end` writes in: each thread
    /// of `writer_end` has a stream, its writes one after the other, each cut
    /// to the count it reported; the reads of the peer's threads must tile
    /// every stream exactly.
    fn tile(&self, writer_end: End) -> Result<(), String> {
        let log = self.log;
        let readers = log.threads(writer_end.peer());
        let writers = log.threads(writer_end);
        // Every read's bytes are of a thread of the writing end.
        for (rt, records) in readers.iter().enumerate() {
            for r in records {
                if let Outcome::Read(Ok(bytes)) = &r.outcome {
                    if let Some(&first) = bytes.first() {
                        let g = usize::from(first >> 6);
                        if g / MAX_THREADS != writer_end.index() || g % MAX_THREADS >= writers.len()
                        {
                            return Err(format!(
                                "{:?}{rt} #{} read bytes no thread of the peer {writer_end:?} wrote: {:02x?}",
                                writer_end.peer(),
                                r.index,
                                &bytes[..bytes.len().min(16)]
                            ));
                        }
                    }
                }
            }
        }
        for (wt, records) in writers.iter().enumerate() {
            let g = global(writer_end, wt);
            // The writes: (k, count, start, end, base offset).
            let mut writes = Vec::new();
            let mut total = 0;
            for r in records {
                if let Outcome::Wrote { k, result } = &r.outcome {
                    let count = *result.as_ref().unwrap_or(&0);
                    writes.push((*k, count, r.start, r.end, total));
                    total += count;
                }
            }
            // Each reader's reads of this writer, in order.
            let chunks: Vec<Vec<&Record>> = readers
                .iter()
                .map(|records| {
                    records
                        .iter()
                        .filter(|r| {
                            matches!(&r.outcome, Outcome::Read(Ok(bytes))
                                if bytes.first().is_some_and(|&b| usize::from(b >> 6) == g))
                        })
                        .collect()
                })
                .collect();
            let bytes_of = |r: &Record| match &r.outcome {
                Outcome::Read(Ok(bytes)) => bytes.len(),
                _ => 0,
            };
            let read_total: usize = chunks.iter().flatten().map(|r| bytes_of(r)).sum();
            if read_total != total {
                return Err(format!(
                    "{writer_end:?}{wt}'s writes reported {total} bytes, its peer read {read_total} of them"
                ));
            }
            let n = [
                chunks.first().map_or(0, Vec::len),
                chunks.get(1).map_or(0, Vec::len),
            ];
            let prefix: Vec<Vec<usize>> = chunks
                .iter()
                .map(|list| {
                    let mut sums = vec![0];
                    for r in list {
                        sums.push(sums.last().unwrap() + bytes_of(r));
                    }
                    sums
                })
                .collect();
            let offset = |s: [usize; 2]| (0..chunks.len()).map(|i| prefix[i][s[i]]).sum::<usize>();
            // Can chunk `c` go at stream offset `off`?
            let fits = |c: &Record, off: usize| -> bool {
                let Outcome::Read(Ok(bytes)) = &c.outcome else {
                    return false;
                };
                let w = writes.partition_point(|&(_, count, _, _, base)| base + count <= off);
                let Some(&(k, count, start, end, base)) = writes.get(w) else {
                    return false;
                };
                off + bytes.len() <= base + count
                    && c.start < end
                    && start < c.end
                    && bytes
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == payload_byte(g, k, off - base + i))
            };
            let mut seen = HashSet::new();
            let mut stack = vec![[0usize; 2]];
            let mut deepest = (0, [0usize; 2]);
            let mut placed = false;
            while let Some(s) = stack.pop() {
                if !seen.insert(s) {
                    continue;
                }
                let off = offset(s);
                if off >= deepest.0 {
                    deepest = (off, s);
                }
                if s == n {
                    placed = true;
                    break;
                }
                for i in 0..chunks.len() {
                    if s[i] == n[i] {
                        continue;
                    }
                    let c = chunks[i][s[i]];
                    let other = 1 - i;
                    if other < chunks.len()
                        && s[other] < n[other]
                        && chunks[other][s[other]].end < c.start
                    {
                        continue;
                    }
                    if fits(c, off) {
                        let mut next = s;
                        next[i] += 1;
                        stack.push(next);
                    }
                }
            }
            if !placed {
                let (off, s) = deepest;
                let stuck: Vec<String> = (0..chunks.len())
                    .filter(|&i| s[i] < n[i])
                    .map(|i| {
                        let c = chunks[i][s[i]];
                        format!(
                            "{:?}{i} #{} [{}..{}]",
                            writer_end.peer(),
                            c.index,
                            c.start,
                            c.end
                        )
                    })
                    .collect();
                return Err(format!(
                    "the reads of {writer_end:?}{wt}'s stream ({total} bytes) cannot be placed: \
                     stuck at offset {off}, next reads {stuck:?}"
                ));
            }
        }
        Ok(())
    }
}
