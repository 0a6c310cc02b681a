//! A script interpreter for gopipe, shared by `tests/fuzz_replay.rs`,
//! `tests/stress.rs` and the `pipe_script` fuzz target (which includes this file
//! with `#[path]`), so that all of them run and check the same code.
//!
//! A [`Script`] gives each writer thread and each reader thread of one pipe a
//! list of [`Op`]s: writes and reads of any size (empty ones too), clones and
//! drops of the thread's handles, `close`, `close_with_error`, timeouts, and a
//! look at the handle's `Debug`. [`execute`] runs it on real threads and records
//! every operation's result together with two stamps from one global counter,
//! taken just before the call and just after it returns. [`check`] then judges
//! the record against the pipe's rules, asserting only what the stamps make
//! certain:
//!
//! - every byte a write reported as written was read exactly once, and nothing
//!   else was read: each writer's bytes are a function of (writer, write index,
//!   offset), so a read can be placed in the stream; the reads of each write
//!   must tile the bytes it reported, in order, each read inside one write, each
//!   read overlapping its write in time, and reads that did not overlap each
//!   other in time must come in that order;
//! - writes of different writers never interleave;
//! - after a close has returned, no read returns bytes and no write succeeds;
//!   the half that closed itself gets the closed-pipe error;
//! - every error is one the rules allow, carries the right kind, message and
//!   payload, and the errors that report a half's close all report the same
//!   close, one that can have been that half's first;
//! - a read returns `Ok(0)` for a non-empty buffer only once the writer closed
//!   without an error; a short write happens only on a close or a timeout, and
//!   the next write after one cut short by a close fails;
//! - an empty write returns `Ok(0)` only while a reader was reading;
//! - an async write or gather ([`Op::AsyncVectored`]) of at most
//!   [`STAGE_CAP`] bytes is accepted whole or not at all, a larger one in a
//!   prefix of at most [`STAGE_CAP`] bytes (also when a blocking read's lent
//!   buffer took the first of them), as one write; a dropped `Pending` one
//!   accepted nothing;
//! - an async read or write is never `Pending` on a pipe closed before it
//!   started, but for a read while a reader's `write_to`, its
//!   `read_vectored` into several non-empty buffers, or on a buffered pipe
//!   its read of at least [`UNLOCKED_TAKE`] bytes ran (its drain claim may
//!   hold the staged bytes, and the read waits for it);
//! - a flush's or [`Op::Consumed`]'s wait returns `Ok` only once readers
//!   took every byte of the async writes that returned before it started;
//!   it fails (with the read half's close error, never a timeout) or stays
//!   `Pending` only while some bytes of an async write that started before
//!   it returned were unread, and is never `Pending` once the read half's
//!   close had returned;
//! - after each operation of a writer thread, the pipe holds at most
//!   [`TASK_BELLS`] wakers for each (place, waker) pair a live handle's async
//!   operations polled through (the interpreter's executor makes a fresh
//!   waker for each operation, so one pair per operation through a handle,
//!   and one more per `consumed` or flush through its writer handle's place
//!   for them), as the engine promises: a waker pushed out of its place by
//!   another is kept until its bell rings, and a handle's drop gives back
//!   every waker that polled through it.
//!
//!
//! A script with a capacity runs on `gopipe::buffered_pipe(capacity)`
//! (issue 25), and the rules above that belong to the rendezvous give way to
//! a buffered pipe's (`tests/shared/buffered_stream.rs`): reads may join
//! writes, of several writers too, but all reads together take one stream,
//! the writes' accepted prefixes in write-side order, never interleaved,
//! each byte once; a write needs no reader; the stream's end may go unread
//! (a close of the read half drops it), but never before an end of file or
//! an `Ok` flush or `consumed`, which wait for blocking writes' bytes too;
//! an async write of at most the capacity is accepted whole or not at all.
//!
//! Every thread ends by dropping its handles, so once all threads are done both
//! halves are closed and nothing can block for ever on a correct pipe; a
//! watchdog turns a hang into a panic.

// Each includer uses part of this module: the fuzz target never builds a
// script by hand, and the stress test never decodes bytes.
#![allow(dead_code)]

#[path = "../shared/buffered_stream.rs"]
mod buffered_stream;
#[path = "../shared/rng.rs"]
mod rng;
pub(crate) use buffered_stream::CAPACITIES;
use buffered_stream::{BufRead, BufWrite};
// For the stress test; the fuzz target draws nothing at random.
#[allow(unused_imports)]
pub(crate) use rng::Rng;

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

// `futures::{AsyncRead, AsyncWrite}` are `futures_io`'s traits, which gopipe's
// `futures-io` feature implements (the fuzz target names `futures-io` itself
// `futures`, for this path).
use futures::{AsyncRead, AsyncWrite};
use gopipe::{CloseError, PipeReader, PipeWriter};

/// Makes a pipe: `gopipe::pipe` or `gopipe::__reference_pipe`.
pub(crate) type Ctor = fn() -> (PipeReader, PipeWriter);

/// How long a script may run before [`execute`] declares it hung.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(10);

/// Most writer threads the byte tags can tell apart.
pub(crate) const MAX_WRITERS: usize = 4;

/// Most reader threads the tiling search packs into its state key.
pub(crate) const MAX_READERS: usize = 4;

/// Most operations [`Script::decode`] gives one thread.
pub(crate) const MAX_OPS_PER_THREAD: usize = 96;

/// Most operations [`Script::decode`] reads from its input.
pub(crate) const MAX_OPS: usize = 256;

/// Most bytes all the writes of a decoded script add up to.
pub(crate) const WRITE_BUDGET: usize = 1 << 20;

/// The pipe's stage (its own buffer for async writes): an async write of at
/// most this many bytes is accepted whole or not at all.
pub(crate) const STAGE_CAP: usize = 64 << 10;

/// From how many bytes a read of a buffered pipe copies staged bytes under a
/// drain claim, with the stage's lock released (the engine's
/// `UNLOCKED_TAKE`): an async read beside one may wait for it.
pub(crate) const UNLOCKED_TAKE: usize = 4 << 10;

/// Most calls one `write_to` makes to its sink, or one `read_from` to its
/// source, before the sink or source stops (as it does at its limit).
pub(crate) const MAX_CALLS: usize = 128;

/// The per-call caps a sink or source byte picks from.
const CHUNKS: [usize; 8] = [1, 3, 17, 100, 1000, 4096, 65536, usize::MAX];

/// The message (kind [`ErrorKind::InvalidInput`]) of a failing sink's error.
pub(crate) const SINK_FAILS: &str = "script sink fails";

/// The message (kind [`ErrorKind::InvalidInput`]) of a failing source's error.
pub(crate) const SOURCE_FAILS: &str = "script source fails";

/// A failing source's decoy bytes are those of this write number plus the
/// call's own, which no write ever has: a reader must never get them.
pub(crate) const DECOY_K: usize = 1 << 20;

/// How long a thread polling a future a bounded number of times waits for its
/// waker between two polls before it polls again anyway.
const POLL_PATIENCE: Duration = Duration::from_micros(200);

/// How many times an async operation is polled, by a polls byte's low three
/// bits: 0 (until ready, half the time), or 1, 2, 3 or 6 polls before the
/// future is dropped.
const POLLS: [u8; 8] = [0, 0, 0, 0, 1, 2, 3, 6];

/// Which half of the pipe a thread holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// Threads holding `PipeReader`s.
    Read,
    /// Threads holding `PipeWriter`s.
    Write,
}

impl Side {
    /// The other half.
    fn peer(self) -> Side {
        match self {
            Side::Read => Side::Write,
            Side::Write => Side::Read,
        }
    }

    /// One letter for reports: `R` or `W`.
    fn letter(self) -> char {
        match self {
            Side::Read => 'R',
            Side::Write => 'W',
        }
    }
}

/// What a `close_with_error` operation passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorChoice {
    /// An `io::Error` of kind `InvalidData`.
    InvalidData,
    /// An `io::Error` of kind `ConnectionReset`.
    ConnectionReset,
    /// An `io::Error` of kind `TimedOut` (must not pass for a timeout).
    TimedOutKind,
    /// An `io::Error` of kind `BrokenPipe` (must not pass for `ClosedPipe`).
    BrokenPipeKind,
    /// A plain message (a boxed `String`): kind `Other`.
    Text,
    /// A [`ScriptError`]: kind `Other`, recoverable by downcasting.
    Custom,
    /// `gopipe::ClosedPipe` itself: the same as a plain close.
    ClosedPipe,
    /// `gopipe::ClosedPipe` inside an `io::Error`: also a plain close.
    IoClosedPipe,
}

impl ErrorChoice {
    /// Every choice, for decoding.
    const ALL: [ErrorChoice; 8] = [
        ErrorChoice::InvalidData,
        ErrorChoice::ConnectionReset,
        ErrorChoice::TimedOutKind,
        ErrorChoice::BrokenPipeKind,
        ErrorChoice::Text,
        ErrorChoice::Custom,
        ErrorChoice::ClosedPipe,
        ErrorChoice::IoClosedPipe,
    ];

    /// Whether the pipe treats this error as its own closed-pipe error.
    fn is_closed_pipe(self) -> bool {
        matches!(self, ErrorChoice::ClosedPipe | ErrorChoice::IoClosedPipe)
    }

    /// The kind of the `io::Error`s that report this close to the peer.
    fn kind(self) -> ErrorKind {
        match self {
            ErrorChoice::InvalidData => ErrorKind::InvalidData,
            ErrorChoice::ConnectionReset => ErrorKind::ConnectionReset,
            ErrorChoice::TimedOutKind => ErrorKind::TimedOut,
            ErrorChoice::BrokenPipeKind | ErrorChoice::ClosedPipe | ErrorChoice::IoClosedPipe => {
                ErrorKind::BrokenPipe
            }
            ErrorChoice::Text | ErrorChoice::Custom => ErrorKind::Other,
        }
    }

    /// The error itself, with a message naming the operation that passes it.
    fn make(self, message: String) -> Box<dyn Error + Send + Sync> {
        match self {
            ErrorChoice::InvalidData
            | ErrorChoice::ConnectionReset
            | ErrorChoice::TimedOutKind
            | ErrorChoice::BrokenPipeKind => Box::new(io::Error::new(self.kind(), message)),
            ErrorChoice::Text => message.into(),
            ErrorChoice::Custom => Box::new(ScriptError(message)),
            ErrorChoice::ClosedPipe => Box::new(gopipe::ClosedPipe),
            ErrorChoice::IoClosedPipe => Box::new(io::Error::from(gopipe::ClosedPipe)),
        }
    }
}

/// What a sink or source does once it reached its limit (or its number of
/// calls reached [`MAX_CALLS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A sink returns `Ok(0)` (`write_to` fails with `WriteZero`); a source
    /// returns end of file.
    Quiet,
    /// Returns an error of its own ([`SINK_FAILS`], [`SOURCE_FAILS`]).
    Fail,
    /// Panics (`resume_unwind` with a [`ScriptPanic`]).
    Panic,
}

/// The payload of a sink's or source's panic.
#[derive(Debug)]
pub(crate) struct ScriptPanic;

/// An error type of the script's own, to check `CloseError::downcast_ref`.
#[derive(Debug)]
pub(crate) struct ScriptError(String);

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for ScriptError {}

/// One operation of a thread, on the last handle it holds (skipped if it holds
/// none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// A writer's `write` of `len` tagged bytes, or a reader's `read` into a
    /// `len`-byte buffer; through `&PipeWriter`/`&PipeReader` if `by_ref`.
    Io {
        /// Bytes to write, or the size of the read buffer.
        len: usize,
        /// Call the `Write`/`Read` impl of the shared reference.
        by_ref: bool,
    },
    /// Clones the handle (the clone becomes the last handle).
    Clone,
    /// Drops the last handle.
    Drop,
    /// `close()`.
    Close,
    /// `close_with_error(..)`.
    CloseWithError(ErrorChoice),
    /// `set_read_timeout`/`set_write_timeout`.
    SetTimeout(Option<Duration>),
    /// Formats the handle with `Debug` and reads its timeout.
    Inspect,
    /// An async `poll_write` of `len` tagged bytes, or `poll_read` into a
    /// `len`-byte buffer (the `futures-io` traits; on `&PipeWriter`/`&PipeReader`
    /// if `by_ref`): with `polls == 0` polled until ready, the thread sleeping
    /// until the waker is called between polls; otherwise polled at most
    /// `polls` times (waiting a little for the waker between polls), then the
    /// future is dropped.
    AsyncIo {
        /// Bytes to write, or the size of the read buffer.
        len: usize,
        /// Through the shared reference's impl.
        by_ref: bool,
        /// 0: until ready; else the most polls before the future is dropped.
        polls: u8,
    },
    /// A writer's `poll_flush` (ready at once), then its `consumed()` future,
    /// polled as [`Op::AsyncIo`] is (skipped by a reader).
    Flush {
        /// 0: until ready; else the most polls.
        polls: u8,
    },
    /// A writer's `poll_close` until ready: the write half closes at once
    /// (skipped by a reader).
    Shutdown,
    /// A writer's `write_vectored` of `lens[..count]` slices of tagged bytes
    /// (one write: its bytes are the tagged bytes of one write number), or a
    /// reader's `read_vectored` into buffers of those sizes; through
    /// `&PipeWriter`/`&PipeReader` if `by_ref`.
    Vectored {
        /// The slices' or buffers' sizes (those from `count` on are unused).
        lens: [usize; 4],
        /// How many slices or buffers: 1 to 4.
        count: u8,
        /// Through the shared reference's impl.
        by_ref: bool,
    },
    /// A reader's `write_to` into a sink that takes at most `chunk` bytes a
    /// call until it has taken `limit`, then does `stop`; a writer's
    /// `read_from` a source that yields at most `chunk` bytes a call (each
    /// call's bytes the tagged bytes of a write number of their own) until it
    /// has yielded `limit`, then does `stop`. Either stops after
    /// [`MAX_CALLS`] calls too.
    Drain {
        /// Most bytes one call moves.
        chunk: usize,
        /// Bytes moved before the sink or source stops.
        limit: usize,
        /// What it does then.
        stop: Stop,
    },
    /// A writer's wait for readers to take the bytes async writes staged:
    /// the `consumed()` future, or `poll_consumed` (the stateless form, which
    /// marks the bytes accepted so far at each poll) if `stateless`; polled
    /// as [`Op::AsyncIo`] is (skipped by a reader).
    Consumed {
        /// 0: until ready; else the most polls before it is dropped.
        polls: u8,
        /// `poll_consumed` on the handle instead of the `consumed()` future.
        stateless: bool,
    },
    /// A writer's async `poll_write_vectored` of `lens[..count]` slices of
    /// tagged bytes (one write, one write number; polled as [`Op::AsyncIo`]
    /// is); through `&PipeWriter` if `by_ref` (skipped by a reader).
    AsyncVectored {
        /// The slices' sizes (those from `count` on are unused).
        lens: [usize; 4],
        /// How many slices: 1 to 4.
        count: u8,
        /// Through the shared reference's impl.
        by_ref: bool,
        /// 0: until ready; else the most polls before the future is dropped.
        polls: u8,
    },
}

/// The bytes of a gather or scatter of `lens`, joined for reports.
fn join_lens(lens: &[usize]) -> String {
    let lens: Vec<String> = lens.iter().map(usize::to_string).collect();
    lens.join("+")
}

/// `/polls` for reports of an operation polled at most `polls` times
/// (nothing for one polled until ready).
fn show_polls(polls: u8) -> String {
    if polls == 0 {
        String::new()
    } else {
        format!("/{polls}")
    }
}

impl Op {
    /// A short name for reports, as seen from `side`.
    fn describe(&self, side: Side) -> String {
        match *self {
            Op::Io { len, by_ref } => {
                let name = if side == Side::Write { "write" } else { "read" };
                let via = if by_ref { "&" } else { "" };
                format!("{via}{name}({len})")
            }
            Op::Clone => "clone".into(),
            Op::Drop => "drop".into(),
            Op::Close => "close".into(),
            Op::CloseWithError(e) => format!("close_with_error({e:?})"),
            Op::SetTimeout(t) => format!("timeout({t:?})"),
            Op::Inspect => "inspect".into(),
            Op::AsyncIo { len, by_ref, polls } => {
                let name = if side == Side::Write {
                    "awrite"
                } else {
                    "aread"
                };
                let via = if by_ref { "&" } else { "" };
                let polls = if polls == 0 {
                    String::new()
                } else {
                    format!("/{polls}")
                };
                format!("{via}{name}({len}){polls}")
            }
            Op::Flush { polls: 0 } => "flush".into(),
            Op::Flush { polls } => format!("flush/{polls}"),
            Op::Shutdown => "shutdown".into(),
            Op::Vectored {
                lens,
                count,
                by_ref,
            } => {
                let name = if side == Side::Write {
                    "write_vectored"
                } else {
                    "read_vectored"
                };
                let via = if by_ref { "&" } else { "" };
                let lens: Vec<String> = lens[..usize::from(count)]
                    .iter()
                    .map(usize::to_string)
                    .collect();
                format!("{via}{name}({})", lens.join("+"))
            }
            Op::Consumed { polls, stateless } => {
                let name = if stateless {
                    "poll_consumed"
                } else {
                    "consumed"
                };
                format!("{name}{}", show_polls(polls))
            }
            Op::AsyncVectored {
                lens,
                count,
                by_ref,
                polls,
            } => {
                let via = if by_ref { "&" } else { "" };
                let lens = join_lens(&lens[..usize::from(count)]);
                format!("{via}awrite_vectored({lens}){}", show_polls(polls))
            }
            Op::Drain { chunk, limit, stop } => {
                let name = if side == Side::Write {
                    "read_from"
                } else {
                    "write_to"
                };
                let show = |n: usize| {
                    if n == usize::MAX {
                        "max".to_string()
                    } else {
                        n.to_string()
                    }
                };
                format!(
                    "{name}({}/call, {} then {stop:?})",
                    show(chunk),
                    show(limit)
                )
            }
        }
    }

    /// The bytes of an I/O operation, or the sizes of its buffers, in all
    /// (0 for the others).
    fn io_len(&self) -> usize {
        match *self {
            Op::Io { len, .. } | Op::AsyncIo { len, .. } => len,
            Op::Vectored { lens, count, .. } | Op::AsyncVectored { lens, count, .. } => {
                lens[..usize::from(count)].iter().sum()
            }
            _ => 0,
        }
    }

    /// Whether this is one of the async operations.
    pub(crate) fn is_async(&self) -> bool {
        matches!(
            self,
            Op::AsyncIo { .. }
                | Op::Flush { .. }
                | Op::Shutdown
                | Op::Consumed { .. }
                | Op::AsyncVectored { .. }
        )
    }
}

/// What each thread of one pipe does.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Script {
    /// One list per writer thread (at most [`MAX_WRITERS`]).
    pub(crate) writers: Vec<Vec<Op>>,
    /// One list per reader thread (at most [`MAX_READERS`]).
    pub(crate) readers: Vec<Vec<Op>>,
    /// The pipe's buffer: 0 for the unbuffered pipe (the engine's
    /// constructor), else `gopipe::buffered_pipe(capacity)`.
    pub(crate) capacity: usize,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Script {{")?;
        if self.capacity > 0 {
            writeln!(f, "  buffered_pipe({})", self.capacity)?;
        }
        for (side, lists) in [(Side::Write, &self.writers), (Side::Read, &self.readers)] {
            for (t, ops) in lists.iter().enumerate() {
                let ops: Vec<String> = ops.iter().map(|op| op.describe(side)).collect();
                writeln!(f, "  {}{t}: [{}]", side.letter(), ops.join(", "))?;
            }
        }
        write!(f, "}}")
    }
}

/// Reads a fuzzer's bytes one at a time, giving zeros once they run out.
struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    /// The next byte, or 0.
    fn byte(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }

    /// A write or buffer size: mostly below 248, sometimes up to about 64 KiB.
    fn size(&mut self) -> usize {
        let s = self.byte();
        if s < 0xF8 {
            usize::from(s)
        } else {
            256 + ((usize::from(s - 0xF8) << 13) | (usize::from(self.byte()) << 5))
        }
    }

    /// How many times an async operation is polled: 0 (until ready, half the
    /// time), or 1, 2, 3 or 6 polls before the future is dropped.
    fn polls(&mut self) -> u8 {
        POLLS[usize::from(self.byte() % 8)]
    }

    /// A timeout: none (most often), zero (rejected), or 20 µs to 3 ms.
    fn timeout(&mut self) -> Option<Duration> {
        match self.byte() % 8 {
            0..=2 => None,
            3 => Some(Duration::ZERO),
            4 => Some(Duration::from_micros(20)),
            5 => Some(Duration::from_micros(200)),
            6 => Some(Duration::from_millis(1)),
            _ => Some(Duration::from_millis(3)),
        }
    }
}

impl Script {
    /// Decodes a script from any bytes (every input is a valid script).
    ///
    /// The first byte picks the threads: 0 to 3 writers and 0 to 2 readers. Then
    /// each operation is a byte whose high nibble picks the thread and whose low
    /// nibble the operation, followed by its argument bytes if it has any:
    /// `0-5, 12-15` I/O (odd: through the shared reference) + size, `6` clone,
    /// `7` drop, `8` close, `9` close with error + choice, `10` timeout + choice,
    /// `11` inspect. A size byte below `0xF8` is the size; above, it and the next
    /// byte make a size of 256 bytes to about 64 KiB (a little over: an async
    /// write of more than [`STAGE_CAP`] bytes may be accepted in part).
    ///
    /// If bit 4 of the first byte is set, codes 12 to 15 are async operations
    /// instead (a polls byte picks until-ready or 1 to 6 polls, see
    /// [`Op::AsyncIo`]): `12` async I/O + polls + size, `13` the same through
    /// the shared reference, `14` + polls: a writer's flush, a reader's async
    /// read into 1, 7, 64 or 4096 bytes (bits 3-4 of the polls byte; bit 5: by
    /// reference), `15` a writer's shutdown, a reader's async read of 256 bytes
    /// through the shared reference until ready.
    ///
    /// If the first byte's top three bits are `101` (no input written before
    /// these operations existed has them), codes 4 and 5 are the zero-copy
    /// operations instead: `4` + an argument byte `a` + sizes: a writer's
    /// `write_vectored`, a reader's `read_vectored`, of `1 + (a & 3)` slices
    /// or buffers, each size a size argument, through the shared reference if
    /// `a & 4`; `5` + an argument byte `a` + a size: a reader's `write_to`, a
    /// writer's `read_from` (see [`Op::Drain`]), moving at most
    /// `CHUNKS[a & 7]` bytes a call; a sink's limit is the size if `a & 8`,
    /// else none, a source's is the size; then `[Quiet, Fail, Panic, Fail]`
    /// (a sink) or `[Quiet, Quiet, Fail, Panic]` (a source) by bits 4-5 (a
    /// panic is a failure where panics abort).
    ///
    /// If the first byte's top three bits are `011` (none of the inputs
    /// written before these operations existed has them), the async
    /// operations are on whatever bit 4 says, and codes 4 and 5 are those of
    /// issue 16 instead: `4` + an argument byte `a` + sizes: a writer's async
    /// [`Op::AsyncVectored`] of `1 + (a & 3)` slices (each size a size
    /// argument), through the shared reference if `a & 4`, polled as the
    /// polls byte `a >> 3` says; a reader's blocking `read_vectored` of
    /// those sizes; `5` + an argument byte `a`: a writer's
    /// [`Op::Consumed`] (polls byte `a`, `poll_consumed` if `a & 8`), a
    /// reader's async read into 1, 7, 64 or 4096 bytes (bits 4-5; bit 6: by
    /// reference; polls byte `a`).
    ///
    /// A first byte whose low four bits are all set, with more bytes after
    /// it, picks a buffered pipe (issue 25): `buffered_pipe(CAPACITIES[high
    /// four bits])` (0, 1, small ones, 64 KiB), and the next byte is the
    /// header above. Such a header gave no threads before (an empty script),
    /// so no older input means anything else now.
    pub(crate) fn decode(data: &[u8]) -> Script {
        let mut bytes = Bytes(data.iter());
        let mut header = bytes.byte();
        let mut capacity = 0;
        if header & 0x0F == 0x0F && data.len() > 1 {
            capacity = CAPACITIES[usize::from(header >> 4)];
            header = bytes.byte();
        }
        let writers = [1, 2, 3, 0][usize::from(header & 3)];
        let readers = [1, 2, 2, 0][usize::from((header >> 2) & 3)];
        let issue16 = header & 0xE0 == 0x60;
        let asynchronous = header & 0x10 != 0 || issue16;
        let zero_copy = header & 0xE0 == 0xA0;
        let mut script = Script {
            writers: vec![Vec::new(); writers],
            readers: vec![Vec::new(); readers],
            capacity,
        };
        let threads = writers + readers;
        let mut budget = WRITE_BUDGET;
        for _ in 0..MAX_OPS {
            let Some(&b) = bytes.0.next() else { break };
            if threads == 0 {
                break;
            }
            let t = usize::from(b >> 4) % threads;
            let op = match b & 15 {
                6 => Op::Clone,
                7 => Op::Drop,
                8 => Op::Close,
                9 => Op::CloseWithError(ErrorChoice::ALL[usize::from(bytes.byte() % 8)]),
                10 => Op::SetTimeout(bytes.timeout()),
                11 => Op::Inspect,
                4 if issue16 => {
                    let a = bytes.byte();
                    let count = 1 + (a & 3);
                    let mut lens = [0; 4];
                    for len in &mut lens[..usize::from(count)] {
                        *len = bytes.size();
                        if t < writers {
                            *len = (*len).min(budget);
                            budget -= *len;
                        }
                    }
                    let by_ref = a & 4 != 0;
                    if t < writers {
                        Op::AsyncVectored {
                            lens,
                            count,
                            by_ref,
                            polls: POLLS[usize::from((a >> 3) % 8)],
                        }
                    } else {
                        Op::Vectored {
                            lens,
                            count,
                            by_ref,
                        }
                    }
                }
                5 if issue16 => {
                    let a = bytes.byte();
                    let polls = POLLS[usize::from(a % 8)];
                    if t < writers {
                        Op::Consumed {
                            polls,
                            stateless: a & 8 != 0,
                        }
                    } else {
                        Op::AsyncIo {
                            len: [1, 7, 64, 4096][usize::from((a >> 4) & 3)],
                            by_ref: a & 0x40 != 0,
                            polls,
                        }
                    }
                }
                4 if zero_copy => {
                    let a = bytes.byte();
                    let count = 1 + (a & 3);
                    let mut lens = [0; 4];
                    for len in &mut lens[..usize::from(count)] {
                        *len = bytes.size();
                        if t < writers {
                            *len = (*len).min(budget);
                            budget -= *len;
                        }
                    }
                    Op::Vectored {
                        lens,
                        count,
                        by_ref: a & 4 != 0,
                    }
                }
                5 if zero_copy => {
                    let a = bytes.byte();
                    let chunk = CHUNKS[usize::from(a & 7)];
                    let size = bytes.size();
                    let ends = (a >> 4) & 3;
                    let (limit, stop) = if t < writers {
                        let limit = size.min(budget);
                        budget -= limit;
                        let stop = [Stop::Quiet, Stop::Quiet, Stop::Fail, Stop::Panic];
                        (limit, stop[usize::from(ends)])
                    } else {
                        let limit = if a & 8 != 0 { size } else { usize::MAX };
                        (
                            limit,
                            [Stop::Quiet, Stop::Fail, Stop::Panic, Stop::Fail][usize::from(ends)],
                        )
                    };
                    // Where a panic aborts (a fuzz build may), fail instead.
                    let stop = if stop == Stop::Panic && cfg!(panic = "abort") {
                        Stop::Fail
                    } else {
                        stop
                    };
                    Op::Drain { chunk, limit, stop }
                }
                code @ (12 | 13) if asynchronous => {
                    let polls = bytes.polls();
                    let mut len = bytes.size();
                    if t < writers {
                        len = len.min(budget);
                        budget -= len;
                    }
                    Op::AsyncIo {
                        len,
                        by_ref: code == 13,
                        polls,
                    }
                }
                14 if asynchronous => {
                    let b = bytes.byte();
                    let polls = [0, 0, 0, 0, 1, 2, 3, 6][usize::from(b % 8)];
                    if t < writers {
                        Op::Flush { polls }
                    } else {
                        Op::AsyncIo {
                            len: [1, 7, 64, 4096][usize::from((b >> 3) & 3)],
                            by_ref: b & 0x20 != 0,
                            polls,
                        }
                    }
                }
                15 if asynchronous => {
                    if t < writers {
                        Op::Shutdown
                    } else {
                        Op::AsyncIo {
                            len: 256,
                            by_ref: true,
                            polls: 0,
                        }
                    }
                }
                code => {
                    let mut len = bytes.size();
                    if t < writers {
                        len = len.min(budget);
                        budget -= len;
                    }
                    Op::Io {
                        len,
                        by_ref: code & 1 == 1,
                    }
                }
            };
            let list = if t < writers {
                &mut script.writers[t]
            } else {
                &mut script.readers[t - writers]
            };
            if list.len() < MAX_OPS_PER_THREAD {
                list.push(op);
            }
        }
        script
    }

    /// Whether any thread has an async operation.
    pub(crate) fn has_async(&self) -> bool {
        self.writers
            .iter()
            .chain(&self.readers)
            .flatten()
            .any(Op::is_async)
    }

    /// The script with its async operations made blocking, for the reference
    /// engine (which has no async halves): async I/O becomes the same I/O,
    /// a shutdown a close, and flushes go.
    pub(crate) fn sync_only(&self) -> Script {
        let convert = |ops: &Vec<Op>| -> Vec<Op> {
            ops.iter()
                .filter_map(|&op| match op {
                    Op::AsyncIo { len, by_ref, .. } => Some(Op::Io { len, by_ref }),
                    Op::Flush { .. } | Op::Consumed { .. } => None,
                    Op::Shutdown => Some(Op::Close),
                    Op::AsyncVectored {
                        lens,
                        count,
                        by_ref,
                        ..
                    } => Some(Op::Vectored {
                        lens,
                        count,
                        by_ref,
                    }),
                    op => Some(op),
                })
                .collect()
        };
        Script {
            writers: self.writers.iter().map(convert).collect(),
            readers: self.readers.iter().map(convert).collect(),
            capacity: self.capacity,
        }
    }

    /// The ops of thread `t` of `side`.
    fn ops(&self, side: Side) -> &[Vec<Op>] {
        match side {
            Side::Read => &self.readers,
            Side::Write => &self.writers,
        }
    }
}

/// The byte at `offset` of writer `w`'s write number `k` (counting the writer's
/// I/O operations from 0): the writer in the top two bits, `k % 4` in the next
/// two, and a hash of `(k, offset)` in the low four, so that a read can be
/// placed in the stream and a shifted or foreign byte is (very likely) seen.
pub(crate) fn payload_byte(w: usize, k: usize, offset: usize) -> u8 {
    let (k32, i32) = (k as u32, offset as u32);
    let h = i32.wrapping_mul(0x9E37_79B1)
        ^ k32.wrapping_mul(0x85EB_CA77)
        ^ (i32 >> 6).wrapping_mul(0xC2B2_AE3D);
    (((w & 3) as u8) << 6) | (((k & 3) as u8) << 4) | (h >> 28) as u8
}

/// The bytes of writer `w`'s write number `k`.
pub(crate) fn payload(w: usize, k: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| payload_byte(w, k, i)).collect()
}

/// The message of the error passed by operation `index` of thread `t`.
fn close_message(side: Side, t: usize, index: usize) -> String {
    format!("script close_with_error {}{t} op {index}", side.letter())
}

/// The global counter every stamp comes from.
#[derive(Default)]
struct Clock(AtomicU64);

impl Clock {
    /// A fresh stamp. Stamps are totally ordered and, being read-modify-writes
    /// of one atomic, follow happens-before: a stamp taken after an operation
    /// returned is greater than any stamp taken before that operation started.
    fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

/// What an operation did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The thread held no handle.
    Skipped,
    /// A clone, drop, close or close with error.
    Done,
    /// A write: its write number and result.
    Wrote {
        /// The writer's count of I/O operations before this one.
        k: usize,
        /// What `write` returned.
        result: io::Result<usize>,
    },
    /// A read: its result and the bytes it returned.
    Read {
        /// What `read` returned.
        result: io::Result<usize>,
        /// The first `min(n, len)` bytes of the buffer.
        data: Vec<u8>,
    },
    /// What setting the timeout returned.
    SetTimeout(io::Result<()>),
    /// The handle's `Debug` and timeout.
    Inspected {
        /// `format!("{handle:?}")`.
        debug: String,
        /// `read_timeout()`/`write_timeout()`.
        timeout: Option<Duration>,
    },
    /// What a flush or shutdown returned.
    Flushed(io::Result<()>),
    /// An async operation's future was dropped while `Pending`.
    Dropped,
    /// A `write_to` or `read_from`: its sink's or source's calls, and what
    /// it returned.
    Drained {
        /// Every call, in order.
        calls: Vec<Call>,
        /// What it returned, or the message of the panic that unwound
        /// through it.
        result: Result<io::Result<u64>, String>,
    },
}

/// One call of a `write_to`'s sink or a `read_from`'s source.
#[derive(Debug)]
pub(crate) struct Call {
    /// Stamp taken as the call began.
    pub(crate) start: u64,
    /// Stamp taken as it returned.
    pub(crate) end: u64,
    /// A source's write number for this call (its bytes are this write's).
    pub(crate) k: usize,
    /// The size of the slice or buffer it was handed.
    pub(crate) offered: usize,
    /// What it did.
    pub(crate) act: Act,
    /// The bytes a sink took.
    pub(crate) data: Vec<u8>,
}

/// What a sink's or source's call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    /// Took (a sink) or yielded (a source) this many bytes.
    Moved(usize),
    /// Returned `Ok(0)`.
    Quiet,
    /// Returned its error.
    Failed,
    /// Panicked.
    Panicked,
}

/// A sink for `write_to` that records every call (see [`Op::Drain`]).
struct Sink<'a> {
    /// The stamps' clock.
    clock: &'a Clock,
    /// Most bytes a call takes.
    chunk: usize,
    /// Bytes taken before it stops.
    limit: usize,
    /// What it does then.
    stop: Stop,
    /// Bytes taken so far.
    taken: usize,
    /// Its calls.
    calls: Vec<Call>,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let start = self.clock.tick();
        let offered = buf.len();
        let (act, n) = if self.taken >= self.limit || self.calls.len() >= MAX_CALLS {
            let act = match self.stop {
                Stop::Quiet => Act::Quiet,
                Stop::Fail => Act::Failed,
                Stop::Panic => Act::Panicked,
            };
            (act, 0)
        } else {
            let n = offered.min(self.chunk).min(self.limit - self.taken);
            (Act::Moved(n), n)
        };
        self.taken += n;
        let data = buf[..n].to_vec();
        let end = self.clock.tick();
        self.calls.push(Call {
            start,
            end,
            k: 0,
            offered,
            act,
            data,
        });
        match act {
            Act::Failed => Err(io::Error::new(ErrorKind::InvalidInput, SINK_FAILS)),
            Act::Panicked => std::panic::resume_unwind(Box::new(ScriptPanic)),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A source for `read_from` that records every call (see [`Op::Drain`]).
struct Source<'a> {
    /// The stamps' clock.
    clock: &'a Clock,
    /// The writer thread (its bytes' tag).
    t: usize,
    /// The next call's write number.
    k: usize,
    /// Most bytes a call yields.
    chunk: usize,
    /// Bytes yielded before it stops.
    limit: usize,
    /// What it does then.
    stop: Stop,
    /// Bytes yielded so far.
    yielded: usize,
    /// Its calls.
    calls: Vec<Call>,
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.clock.tick();
        let k = self.k;
        self.k += 1;
        let offered = buf.len();
        let (act, n) = if self.yielded >= self.limit || self.calls.len() >= MAX_CALLS {
            let act = match self.stop {
                Stop::Quiet => Act::Quiet,
                Stop::Fail => Act::Failed,
                Stop::Panic => Act::Panicked,
            };
            (act, 0)
        } else {
            let n = offered.min(self.chunk).min(self.limit - self.yielded);
            (Act::Moved(n), n)
        };
        self.yielded += n;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = payload_byte(self.t, k, i);
        }
        // Decoys after the bytes yielded (all of them if none): bytes a reader
        // must never get.
        let decoys = offered.min(n + 16);
        for (i, b) in buf[n..decoys].iter_mut().enumerate() {
            *b = payload_byte(self.t, DECOY_K + k, i);
        }
        let end = self.clock.tick();
        self.calls.push(Call {
            start,
            end,
            k,
            offered,
            act,
            data: Vec::new(),
        });
        match act {
            Act::Failed => Err(io::Error::new(ErrorKind::InvalidInput, SOURCE_FAILS)),
            Act::Panicked => std::panic::resume_unwind(Box::new(ScriptPanic)),
            _ => Ok(n),
        }
    }
}

/// Runs `f`, catching a panic: its message, or `ScriptPanic`'s name.
fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        if payload.is::<ScriptPanic>() {
            "ScriptPanic".to_string()
        } else {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic of another type".into())
        }
    })
}

/// A waker that notes that it was called, for a thread to sleep on.
#[derive(Default)]
struct Alarm {
    /// Whether the waker was called since the last wait.
    rung: Mutex<bool>,
    /// Signalled when it is.
    bell: Condvar,
}

impl Wake for Alarm {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.rung.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.bell.notify_all();
    }
}

impl Alarm {
    /// Sleeps until the waker is called (at most `limit` if given), then
    /// clears the note.
    fn wait(&self, limit: Option<Duration>) {
        let mut rung = self.rung.lock().unwrap_or_else(|e| e.into_inner());
        match limit {
            None => {
                while !*rung {
                    rung = self.bell.wait(rung).unwrap_or_else(|e| e.into_inner());
                }
            }
            Some(limit) => {
                if !*rung {
                    rung = self
                        .bell
                        .wait_timeout(rung, limit)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        *rung = false;
    }
}

/// A tiny executor for one future, given as its poll function: polls it with
/// a real waker until it is ready (`polls == 0`: sleeping until the waker is
/// called between polls, so a lost wake-up hangs and the watchdog reports
/// it), or at most `polls` times (waiting up to [`POLL_PATIENCE`] for the
/// waker between polls), then gives up: `None`, and the caller drops the
/// future.
fn drive<T>(polls: u8, mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Option<T> {
    let alarm = Arc::new(Alarm::default());
    let waker = Waker::from(alarm.clone());
    let mut cx = Context::from_waker(&waker);
    let mut polled = 0;
    loop {
        if let Poll::Ready(out) = poll(&mut cx) {
            return Some(out);
        }
        polled += 1;
        if polls == 0 {
            alarm.wait(None);
        } else if polled >= polls {
            return None;
        } else {
            alarm.wait(Some(POLL_PATIENCE));
        }
    }
}

/// One operation as it ran.
#[derive(Debug)]
pub(crate) struct Record {
    /// The operation ([`Op::Drop`] for the drops at the end).
    pub(crate) op: Op,
    /// Its position in the thread's list; `None` for the drops at the end and
    /// the main thread's drops of the original handles.
    pub(crate) index: Option<usize>,
    /// Stamp taken just before the call.
    pub(crate) start: u64,
    /// Stamp taken just after it returned.
    pub(crate) end: u64,
    /// What it did.
    pub(crate) outcome: Outcome,
}

/// Everything a run recorded.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Per writer thread, its records in program order.
    pub(crate) writers: Vec<Vec<Record>>,
    /// Per reader thread, its records in program order.
    pub(crate) readers: Vec<Vec<Record>>,
    /// The main thread's drops of the original handles.
    pub(crate) main: Vec<(Side, Record)>,
    /// The writer threads' looks at the wakers the pipe held.
    pub(crate) wakers: Vec<WakerLook>,
}

impl Log {
    /// The records of `side`'s threads.
    fn threads(&self, side: Side) -> &[Vec<Record>] {
        match side {
            Side::Read => &self.readers,
            Side::Write => &self.writers,
        }
    }
}

/// What a thread needs of its handle type.
trait Half: Clone + Send + fmt::Debug + 'static {
    /// Which half this is.
    const SIDE: Side;
    /// `close()`.
    fn close_half(&self);
    /// `close_with_error(err)`.
    fn close_half_with(&self, err: Box<dyn Error + Send + Sync>);
    /// Sets the half's timeout.
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// The half's timeout.
    fn timeout(&self) -> Option<Duration>;
    /// Runs an [`Op::Io`] as thread `t`'s I/O operation number `k`.
    fn io(&mut self, clock: &Clock, t: usize, k: usize, len: usize, by_ref: bool) -> Record;
    /// Runs an [`Op::AsyncIo`] as thread `t`'s I/O operation number `k`,
    /// returning its stamps and outcome.
    fn async_io(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        len: usize,
        by_ref: bool,
        polls: u8,
    ) -> (u64, u64, Outcome);
    /// Runs an [`Op::Flush`] (`shutdown == false`) or [`Op::Shutdown`];
    /// `None` for a reader.
    fn async_flush(
        &mut self,
        clock: &Clock,
        polls: u8,
        shutdown: bool,
    ) -> Option<(u64, u64, Outcome)>;
    /// Runs an [`Op::Consumed`]; `None` for a reader.
    fn await_consumed(
        &mut self,
        clock: &Clock,
        polls: u8,
        stateless: bool,
    ) -> Option<(u64, u64, Outcome)>;
    /// Runs an [`Op::AsyncVectored`] as thread `t`'s I/O operation number
    /// `k`; `None` for a reader.
    fn async_vectored(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        lens: &[usize],
        by_ref: bool,
        polls: u8,
    ) -> Option<(u64, u64, Outcome)>;
    /// How many task wakers the pipe holds (`__task_wakers_held`); `None`
    /// for a reader, which cannot tell.
    fn wakers_held(&self) -> Option<usize>;
    /// Runs an [`Op::Vectored`] as thread `t`'s I/O operation number `k`.
    fn vectored(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        lens: &[usize],
        by_ref: bool,
    ) -> (u64, u64, Outcome);
    /// Runs an [`Op::Drain`] as thread `t`, whose next write number is `k`;
    /// also returns how many write numbers it used.
    fn drain(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        chunk: usize,
        limit: usize,
        stop: Stop,
    ) -> (u64, u64, Outcome, usize);
}

impl Half for PipeWriter {
    const SIDE: Side = Side::Write;

    fn close_half(&self) {
        self.close();
    }

    fn close_half_with(&self, err: Box<dyn Error + Send + Sync>) {
        self.close_with_error(err);
    }

    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(timeout)
    }

    fn timeout(&self) -> Option<Duration> {
        self.write_timeout()
    }

    fn io(&mut self, clock: &Clock, t: usize, k: usize, len: usize, by_ref: bool) -> Record {
        let data = payload(t, k, len);
        let start = clock.tick();
        let result = if by_ref {
            (&*self).write(&data)
        } else {
            self.write(&data)
        };
        let end = clock.tick();
        Record {
            op: Op::Io { len, by_ref },
            index: None,
            start,
            end,
            outcome: Outcome::Wrote { k, result },
        }
    }

    fn async_io(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        len: usize,
        by_ref: bool,
        polls: u8,
    ) -> (u64, u64, Outcome) {
        let data = payload(t, k, len);
        let start = clock.tick();
        let result = drive(polls, |cx| {
            if by_ref {
                Pin::new(&mut &*self).poll_write(cx, &data)
            } else {
                Pin::new(&mut *self).poll_write(cx, &data)
            }
        });
        let end = clock.tick();
        let outcome = match result {
            Some(result) => Outcome::Wrote { k, result },
            None => Outcome::Dropped,
        };
        (start, end, outcome)
    }

    fn async_flush(
        &mut self,
        clock: &Clock,
        polls: u8,
        shutdown: bool,
    ) -> Option<(u64, u64, Outcome)> {
        if !shutdown {
            // A flush is ready at once, as a socket's is: check that, then
            // wait as `consumed` does (what a flush used to do, which the
            // checker's flush rules describe).
            let flushed = drive(1, |cx| Pin::new(&mut *self).poll_flush(cx));
            assert!(
                matches!(flushed, Some(Ok(()))),
                "a flush was not ready at once: {flushed:?}"
            );
            return self.await_consumed(clock, polls, false);
        }
        let start = clock.tick();
        let result = drive(0, |cx| Pin::new(&mut *self).poll_close(cx));
        let end = clock.tick();
        Some((
            start,
            end,
            result.map_or(Outcome::Dropped, Outcome::Flushed),
        ))
    }

    fn await_consumed(
        &mut self,
        clock: &Clock,
        polls: u8,
        stateless: bool,
    ) -> Option<(u64, u64, Outcome)> {
        let start = clock.tick();
        let result = if stateless {
            drive(polls, |cx| self.poll_consumed(cx))
        } else {
            let mut consumed = std::pin::pin!(self.consumed());
            drive(polls, |cx| consumed.as_mut().poll(cx))
        };
        let end = clock.tick();
        Some((
            start,
            end,
            result.map_or(Outcome::Dropped, Outcome::Flushed),
        ))
    }

    fn async_vectored(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        lens: &[usize],
        by_ref: bool,
        polls: u8,
    ) -> Option<(u64, u64, Outcome)> {
        let data = payload(t, k, lens.iter().sum());
        let mut slices = Vec::with_capacity(lens.len());
        let mut rest = &data[..];
        for &len in lens {
            let (head, tail) = rest.split_at(len);
            slices.push(io::IoSlice::new(head));
            rest = tail;
        }
        let start = clock.tick();
        let result = drive(polls, |cx| {
            if by_ref {
                Pin::new(&mut &*self).poll_write_vectored(cx, &slices)
            } else {
                Pin::new(&mut *self).poll_write_vectored(cx, &slices)
            }
        });
        let end = clock.tick();
        let outcome = match result {
            Some(result) => Outcome::Wrote { k, result },
            None => Outcome::Dropped,
        };
        Some((start, end, outcome))
    }

    fn wakers_held(&self) -> Option<usize> {
        Some(self.__task_wakers_held())
    }

    fn vectored(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        lens: &[usize],
        by_ref: bool,
    ) -> (u64, u64, Outcome) {
        let data = payload(t, k, lens.iter().sum());
        let mut slices = Vec::with_capacity(lens.len());
        let mut rest = &data[..];
        for &len in lens {
            let (head, tail) = rest.split_at(len);
            slices.push(io::IoSlice::new(head));
            rest = tail;
        }
        let start = clock.tick();
        let result = if by_ref {
            (&*self).write_vectored(&slices)
        } else {
            self.write_vectored(&slices)
        };
        let end = clock.tick();
        (start, end, Outcome::Wrote { k, result })
    }

    fn drain(
        &mut self,
        clock: &Clock,
        t: usize,
        k: usize,
        chunk: usize,
        limit: usize,
        stop: Stop,
    ) -> (u64, u64, Outcome, usize) {
        let mut source = Source {
            clock,
            t,
            k,
            chunk,
            limit,
            stop,
            yielded: 0,
            calls: Vec::new(),
        };
        let start = clock.tick();
        let result = catching(|| self.read_from(&mut source));
        let end = clock.tick();
        let used = source.k - k;
        let outcome = Outcome::Drained {
            calls: source.calls,
            result,
        };
        (start, end, outcome, used)
    }
}

impl Half for PipeReader {
    const SIDE: Side = Side::Read;

    fn close_half(&self) {
        self.close();
    }

    fn close_half_with(&self, err: Box<dyn Error + Send + Sync>) {
        self.close_with_error(err);
    }

    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn timeout(&self) -> Option<Duration> {
        self.read_timeout()
    }

    fn io(&mut self, clock: &Clock, _t: usize, _k: usize, len: usize, by_ref: bool) -> Record {
        // 0xFF would be writer 3's byte: with fewer writers, a count that
        // covers bytes the pipe never copied shows up as foreign bytes.
        let mut buf = vec![0xFF; len];
        let start = clock.tick();
        let result = if by_ref {
            (&*self).read(&mut buf)
        } else {
            self.read(&mut buf)
        };
        let end = clock.tick();
        let copied = *result.as_ref().unwrap_or(&0);
        buf.truncate(copied.min(len));
        Record {
            op: Op::Io { len, by_ref },
            index: None,
            start,
            end,
            outcome: Outcome::Read { result, data: buf },
        }
    }

    fn async_io(
        &mut self,
        clock: &Clock,
        _t: usize,
        _k: usize,
        len: usize,
        by_ref: bool,
        polls: u8,
    ) -> (u64, u64, Outcome) {
        let mut buf = vec![0xFF; len];
        let start = clock.tick();
        let result = drive(polls, |cx| {
            if by_ref {
                Pin::new(&mut &*self).poll_read(cx, &mut buf)
            } else {
                Pin::new(&mut *self).poll_read(cx, &mut buf)
            }
        });
        let end = clock.tick();
        let outcome = match result {
            Some(result) => {
                let copied = *result.as_ref().unwrap_or(&0);
                buf.truncate(copied.min(len));
                Outcome::Read { result, data: buf }
            }
            None => Outcome::Dropped,
        };
        (start, end, outcome)
    }

    fn async_flush(&mut self, _: &Clock, _: u8, _: bool) -> Option<(u64, u64, Outcome)> {
        None
    }

    fn await_consumed(&mut self, _: &Clock, _: u8, _: bool) -> Option<(u64, u64, Outcome)> {
        None
    }

    fn async_vectored(
        &mut self,
        _: &Clock,
        _: usize,
        _: usize,
        _: &[usize],
        _: bool,
        _: u8,
    ) -> Option<(u64, u64, Outcome)> {
        None
    }

    fn wakers_held(&self) -> Option<usize> {
        None
    }

    fn vectored(
        &mut self,
        clock: &Clock,
        _t: usize,
        _k: usize,
        lens: &[usize],
        by_ref: bool,
    ) -> (u64, u64, Outcome) {
        let mut bufs: Vec<Vec<u8>> = lens.iter().map(|&len| vec![0xFF; len]).collect();
        let start = clock.tick();
        let result = {
            let mut slices: Vec<io::IoSliceMut<'_>> =
                bufs.iter_mut().map(|b| io::IoSliceMut::new(b)).collect();
            if by_ref {
                (&*self).read_vectored(&mut slices)
            } else {
                self.read_vectored(&mut slices)
            }
        };
        let end = clock.tick();
        // The bytes the count covers, filled in order.
        let copied = *result.as_ref().unwrap_or(&0);
        let mut data: Vec<u8> = bufs.concat();
        data.truncate(copied);
        (start, end, Outcome::Read { result, data })
    }

    fn drain(
        &mut self,
        clock: &Clock,
        _t: usize,
        _k: usize,
        chunk: usize,
        limit: usize,
        stop: Stop,
    ) -> (u64, u64, Outcome, usize) {
        let mut sink = Sink {
            clock,
            chunk,
            limit,
            stop,
            taken: 0,
            calls: Vec::new(),
        };
        let start = clock.tick();
        let result = catching(|| self.write_to(&mut sink));
        let end = clock.tick();
        let outcome = Outcome::Drained {
            calls: sink.calls,
            result,
        };
        (start, end, outcome, 0)
    }
}

/// How many doorbells the pipe's task lists have (`Bell` in `src/sync/signals.rs`):
/// a place in them holds at most one waker per bell.
pub(crate) const TASK_BELLS: usize = 6;

/// Counts, from above, the (place, waker) pairs the pipe's task lists may
/// hold a waker for (`Wakers` in `src/sync/tasks.rs`: one a bell for each
/// waker that polled through a place, until the bell rings or the place's
/// handle drops): the interpreter's executor makes a fresh waker for each
/// operation, so one per async operation through a handle, and one more per
/// `consumed` (or flush) through its writer handle's place for them, each
/// counted before the operation polls and uncounted after the handle's
/// drop.
#[derive(Default)]
pub(crate) struct Places {
    /// Places counted and not yet uncounted.
    live: AtomicU64,
    /// Places ever counted (each counted in `live` first).
    counted: AtomicU64,
}

impl Places {
    /// Counts a place, before whatever may take it polls.
    fn count(&self) {
        self.live.fetch_add(1, Ordering::SeqCst);
        self.counted.fetch_add(1, Ordering::SeqCst);
    }

    /// Uncounts a place, after what may have taken it was dropped.
    fn uncount(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }

    /// Runs `look` and returns what it returned with the most places held
    /// at any time while it ran: a place held then was counted in `live`
    /// before the first load below (and is still), or counted in `live`
    /// after it and so in `counted` before the place was taken.
    fn around<T>(&self, look: impl FnOnce() -> T) -> (T, usize) {
        let before = self.counted.load(Ordering::SeqCst);
        let live = self.live.load(Ordering::SeqCst);
        let out = look();
        let after = self.counted.load(Ordering::SeqCst);
        (out, (live + after - before) as usize)
    }
}

/// A writer thread's look at how many task wakers the pipe held, after one
/// of its operations (when it has none pending).
#[derive(Clone, Debug)]
pub(crate) struct WakerLook {
    /// The writer thread.
    pub(crate) t: usize,
    /// After which of its operations; `None`: before its final drops.
    pub(crate) index: Option<usize>,
    /// What `__task_wakers_held` returned.
    pub(crate) held: usize,
    /// The most (place, waker) pairs the run's handles and `consumed`
    /// futures can have held wakers for meanwhile (see [`Places`]).
    pub(crate) places: usize,
}

/// Runs thread `t`'s `ops` on `first` (and the clones it makes), then drops
/// every handle it still holds; a writer thread also looks at the wakers the
/// pipe holds after each operation.
fn worker<H: Half>(
    t: usize,
    ops: Vec<Op>,
    first: H,
    clock: Arc<Clock>,
    ready: Arc<Barrier>,
    places: Arc<Places>,
) -> (Vec<Record>, Vec<WakerLook>) {
    let mut handles = vec![first];
    // Per handle, the pairs counted in `places` for its place (one per
    // async operation) and for its place for `consumed` futures.
    let mut counted = vec![(0u32, 0u32)];
    let mut looks = Vec::new();
    let mut records = Vec::with_capacity(ops.len() + 4);
    let mut k = 0;
    ready.wait();
    for (index, op) in ops.into_iter().enumerate() {
        let this_k = k;
        if let Op::Io { .. } | Op::AsyncIo { .. } | Op::Vectored { .. } | Op::AsyncVectored { .. } =
            op
        {
            k += 1;
        }
        if op.is_async() && !handles.is_empty() {
            let last = counted.len() - 1;
            counted[last].0 += 1;
            places.count();
            // A writer handle's place for its `consumed` futures (a flush
            // waits through one too); `poll_consumed` uses the handle's.
            let waits = H::SIDE == Side::Write
                && matches!(
                    op,
                    Op::Flush { .. }
                        | Op::Consumed {
                            stateless: false,
                            ..
                        }
                );
            if waits {
                counted[last].1 += 1;
                places.count();
            }
        }
        let mut record = Record {
            op,
            index: Some(index),
            start: 0,
            end: 0,
            outcome: Outcome::Skipped,
        };
        if handles.is_empty() {
            records.push(record);
            continue;
        }
        let last = handles.len() - 1;
        let mut stamped = |f: &mut dyn FnMut() -> Outcome| {
            record.start = clock.tick();
            record.outcome = f();
            record.end = clock.tick();
        };
        match op {
            Op::Io { len, by_ref } => {
                let io = handles[last].io(&clock, t, this_k, len, by_ref);
                record.start = io.start;
                record.end = io.end;
                record.outcome = io.outcome;
            }
            Op::Clone => {
                let mut clone = None;
                stamped(&mut || {
                    clone = Some(handles[last].clone());
                    Outcome::Done
                });
                handles.extend(clone);
                counted.push((0, 0));
            }
            Op::Drop => {
                let mut handle = handles.pop();
                stamped(&mut || {
                    drop(handle.take());
                    Outcome::Done
                });
                let (main, consumed) = counted.pop().unwrap_or_default();
                for _ in 0..main + consumed {
                    places.uncount();
                }
            }
            Op::Close => stamped(&mut || {
                handles[last].close_half();
                Outcome::Done
            }),
            Op::CloseWithError(choice) => {
                let mut err = Some(choice.make(close_message(H::SIDE, t, index)));
                stamped(&mut || {
                    handles[last].close_half_with(err.take().expect("called once"));
                    Outcome::Done
                });
            }
            Op::SetTimeout(timeout) => {
                stamped(&mut || Outcome::SetTimeout(handles[last].set_timeout(timeout)))
            }
            Op::Inspect => stamped(&mut || Outcome::Inspected {
                debug: format!("{:?}", handles[last]),
                timeout: handles[last].timeout(),
            }),
            Op::AsyncIo { len, by_ref, polls } => {
                let (start, end, outcome) =
                    handles[last].async_io(&clock, t, this_k, len, by_ref, polls);
                record.start = start;
                record.end = end;
                record.outcome = outcome;
            }
            Op::Flush { polls } => {
                // Its `consumed` future waits in the handle's place for
                // them (counted above).
                if let Some((start, end, outcome)) = handles[last].async_flush(&clock, polls, false)
                {
                    record.start = start;
                    record.end = end;
                    record.outcome = outcome;
                }
            }
            Op::Consumed { polls, stateless } => {
                // A `consumed` future waits in the handle's place for them,
                // `poll_consumed` in the handle's own (both counted above).
                if let Some((start, end, outcome)) =
                    handles[last].await_consumed(&clock, polls, stateless)
                {
                    record.start = start;
                    record.end = end;
                    record.outcome = outcome;
                }
            }
            Op::AsyncVectored {
                lens,
                count,
                by_ref,
                polls,
            } => {
                let lens = &lens[..usize::from(count)];
                if let Some((start, end, outcome)) =
                    handles[last].async_vectored(&clock, t, this_k, lens, by_ref, polls)
                {
                    record.start = start;
                    record.end = end;
                    record.outcome = outcome;
                }
            }
            Op::Shutdown => {
                if let Some((start, end, outcome)) = handles[last].async_flush(&clock, 0, true) {
                    record.start = start;
                    record.end = end;
                    record.outcome = outcome;
                }
            }
            Op::Vectored {
                lens,
                count,
                by_ref,
            } => {
                let lens = &lens[..usize::from(count)];
                let (start, end, outcome) = handles[last].vectored(&clock, t, this_k, lens, by_ref);
                record.start = start;
                record.end = end;
                record.outcome = outcome;
            }
            Op::Drain { chunk, limit, stop } => {
                let (start, end, outcome, used) =
                    handles[last].drain(&clock, t, this_k, chunk, limit, stop);
                k += used;
                record.start = start;
                record.end = end;
                record.outcome = outcome;
            }
        }
        records.push(record);
        look_at_wakers(&handles, &places, t, Some(index), &mut looks);
    }
    look_at_wakers(&handles, &places, t, None, &mut looks);
    while let Some(handle) = handles.pop() {
        let start = clock.tick();
        drop(handle);
        let end = clock.tick();
        let (main, consumed) = counted.pop().unwrap_or_default();
        for _ in 0..main + consumed {
            places.uncount();
        }
        records.push(Record {
            op: Op::Drop,
            index: None,
            start,
            end,
            outcome: Outcome::Done,
        });
    }
    (records, looks)
}

/// A writer thread's look at the wakers the pipe holds through its last
/// handle, if it has one (see [`WakerLook`]).
fn look_at_wakers<H: Half>(
    handles: &[H],
    places: &Places,
    t: usize,
    index: Option<usize>,
    looks: &mut Vec<WakerLook>,
) {
    let Some(handle) = handles.last() else { return };
    if let (Some(held), places) = places.around(|| handle.wakers_held()) {
        looks.push(WakerLook {
            t,
            index,
            held,
            places,
        });
    }
}

/// Runs `script` on a pipe from `make` (on `gopipe::buffered_pipe` if the
/// script has a capacity), one OS thread per script thread, all released
/// together; panics if they are not all done within `watchdog`.
pub(crate) fn execute(script: &Script, make: Ctor, watchdog: Duration) -> Log {
    assert!(script.writers.len() <= MAX_WRITERS, "too many writers");
    assert!(script.readers.len() <= MAX_READERS, "too many readers");
    let clock = Arc::new(Clock::default());
    let places = Arc::new(Places::default());
    let ready = Arc::new(Barrier::new(script.writers.len() + script.readers.len()));
    let (reader, writer) = if script.capacity > 0 {
        gopipe::buffered_pipe(script.capacity)
    } else {
        make()
    };
    let mut log = Log::default();

    let writer_handles: Vec<PipeWriter> = script.writers.iter().map(|_| writer.clone()).collect();
    let reader_handles: Vec<PipeReader> = script.readers.iter().map(|_| reader.clone()).collect();
    for (side, original) in [
        (Side::Write, Box::new(writer) as Box<dyn Send>),
        (Side::Read, Box::new(reader)),
    ] {
        let start = clock.tick();
        drop(original);
        let end = clock.tick();
        let record = Record {
            op: Op::Drop,
            index: None,
            start,
            end,
            outcome: Outcome::Done,
        };
        log.main.push((side, record));
    }

    type Body = Box<dyn FnOnce() -> (Vec<Record>, Vec<WakerLook>) + Send>;
    let spawn = |name: String, body: Body| {
        thread::Builder::new()
            .name(name)
            .spawn(body)
            .expect("spawn a script thread")
    };
    let mut joins = Vec::new();
    for (t, (ops, handle)) in script.writers.iter().zip(writer_handles).enumerate() {
        let (ops, clock, ready) = (ops.clone(), clock.clone(), ready.clone());
        let places = places.clone();
        let body = Box::new(move || worker(t, ops, handle, clock, ready, places));
        joins.push((Side::Write, spawn(format!("script-W{t}"), body)));
    }
    for (t, (ops, handle)) in script.readers.iter().zip(reader_handles).enumerate() {
        let (ops, clock, ready) = (ops.clone(), clock.clone(), ready.clone());
        let places = places.clone();
        let body = Box::new(move || worker(t, ops, handle, clock, ready, places));
        joins.push((Side::Read, spawn(format!("script-R{t}"), body)));
    }

    // Join on a helper thread so that this one can give up after `watchdog`.
    let (done_tx, done_rx) = mpsc::channel();
    let joiner = thread::Builder::new()
        .name("script-joiner".into())
        .spawn(move || {
            let results: Vec<_> = joins
                .into_iter()
                .map(|(side, join)| (side, join.join()))
                .collect();
            let _ = done_tx.send(results);
        })
        .expect("spawn the joiner");
    let results = match done_rx.recv_timeout(watchdog) {
        Ok(results) => results,
        Err(_) => panic!("script did not finish within {watchdog:?} (a hang?)\n{script:?}"),
    };
    // The joiner is done once it has sent; joining it means no thread of this
    // run is left (LeakSanitizer reports a thread still exiting as a leak).
    joiner.join().expect("the joiner does not panic");
    for (side, result) in results {
        match result {
            Ok((records, looks)) if side == Side::Write => {
                log.writers.push(records);
                log.wakers.extend(looks);
            }
            Ok((records, _)) => log.readers.push(records),
            Err(payload) => {
                let why = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("a script thread panicked: {why}\n{script:?}");
            }
        }
    }
    log
}

/// Runs `script` on a pipe from `make` and checks it; panics with the script
/// and its record if the pipe broke a rule or hung.
pub(crate) fn run(script: &Script, make: Ctor) -> Summary {
    let log = execute(script, make, WATCHDOG);
    match check(script, &log) {
        Ok(summary) => summary,
        Err(why) => panic!("pipe rule broken: {why}\n{script:?}\n{}", render(&log)),
    }
}

/// What a checked run saw, to show a sweep covered the interesting cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Bytes that went through.
    pub(crate) bytes: u64,
    /// Reads that returned bytes.
    pub(crate) reads: u64,
    /// Reads into a non-empty buffer that returned end of file.
    pub(crate) eofs: u64,
    /// Writes that returned fewer bytes than they had.
    pub(crate) short_writes: u64,
    /// Empty writes that met a reader.
    pub(crate) empty_writes: u64,
    /// Operations that failed with `TimedOut`.
    pub(crate) timeouts: u64,
    /// Operations that failed with the closed-pipe error.
    pub(crate) closed_pipe: u64,
    /// Operations that failed with the peer's `close_with_error` error.
    pub(crate) peer_errors: u64,
    /// Bytes async writes reported accepted.
    pub(crate) async_bytes: u64,
    /// Async writes of more than [`STAGE_CAP`] bytes accepted in part.
    pub(crate) partial_accepts: u64,
    /// Async futures dropped while `Pending`.
    pub(crate) dropped: u64,
    /// Flushes and shutdowns that returned `Ok`.
    pub(crate) flushes: u64,
    /// Flushes and shutdowns that failed.
    pub(crate) flush_errors: u64,
    /// Reads that returned staged bytes after a close of the write half had
    /// returned.
    pub(crate) late_reads: u64,
    /// Vectored reads and writes that returned `Ok`.
    pub(crate) vectored: u64,
    /// Bytes `write_to`'s sinks took.
    pub(crate) sink_bytes: u64,
    /// Sinks that failed or took nothing, ending their `write_to`.
    pub(crate) sink_stops: u64,
    /// Bytes `read_from`'s sources yielded.
    pub(crate) source_bytes: u64,
    /// Sources that failed, ending their `read_from`.
    pub(crate) source_fails: u64,
    /// Sinks and sources that panicked through their call.
    pub(crate) panics: u64,
    /// `read_from` calls that a close or a timeout ended.
    pub(crate) cut_read_froms: u64,
    /// Of those, calls cut after at least one of their writes had gone
    /// across whole (they return the cut's error all the same).
    pub(crate) cuts_after_bytes: u64,
    /// Sink calls that took part of what they were offered (the rest stayed
    /// on offer).
    pub(crate) partial_takes: u64,
    /// `consumed` waits ([`Op::Consumed`]) that returned `Ok`.
    pub(crate) consumed: u64,
    /// `consumed` waits that failed.
    pub(crate) consumed_errors: u64,
    /// `consumed` waits dropped while `Pending`.
    pub(crate) dropped_consumed: u64,
    /// Async gathers ([`Op::AsyncVectored`]) that returned `Ok`.
    pub(crate) async_gathers: u64,
    /// Of those, gathers of more than [`STAGE_CAP`] bytes.
    pub(crate) big_gathers: u64,
    /// Async gathers dropped while `Pending`.
    pub(crate) dropped_gathers: u64,
    /// Writers' looks at the wakers the pipe held.
    pub(crate) waker_looks: u64,
    /// The most wakers a look saw.
    pub(crate) max_wakers: u64,
    /// Scripts on a buffered pipe (issue 25).
    pub(crate) buffered: u64,
    /// Reads of a buffered pipe that got bytes of more than one write.
    pub(crate) joined_reads: u64,
    /// Blocking writes of a buffered pipe that returned `Ok` with no read
    /// under way at any time during them.
    pub(crate) unmet_writes: u64,
}

impl Summary {
    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: &Summary) {
        self.bytes += other.bytes;
        self.reads += other.reads;
        self.eofs += other.eofs;
        self.short_writes += other.short_writes;
        self.empty_writes += other.empty_writes;
        self.timeouts += other.timeouts;
        self.closed_pipe += other.closed_pipe;
        self.peer_errors += other.peer_errors;
        self.async_bytes += other.async_bytes;
        self.partial_accepts += other.partial_accepts;
        self.dropped += other.dropped;
        self.flushes += other.flushes;
        self.flush_errors += other.flush_errors;
        self.late_reads += other.late_reads;
        self.vectored += other.vectored;
        self.sink_bytes += other.sink_bytes;
        self.sink_stops += other.sink_stops;
        self.source_bytes += other.source_bytes;
        self.source_fails += other.source_fails;
        self.panics += other.panics;
        self.cut_read_froms += other.cut_read_froms;
        self.cuts_after_bytes += other.cuts_after_bytes;
        self.partial_takes += other.partial_takes;
        self.consumed += other.consumed;
        self.consumed_errors += other.consumed_errors;
        self.dropped_consumed += other.dropped_consumed;
        self.async_gathers += other.async_gathers;
        self.big_gathers += other.big_gathers;
        self.dropped_gathers += other.dropped_gathers;
        self.waker_looks += other.waker_looks;
        self.max_wakers = self.max_wakers.max(other.max_wakers);
        self.buffered += other.buffered;
        self.joined_reads += other.joined_reads;
        self.unmet_writes += other.unmet_writes;
    }
}

/// A log as text, for failure reports (long reads shown by their first bytes).
pub(crate) fn render(log: &Log) -> String {
    let mut out = String::new();
    for (side, record) in &log.main {
        out += &format!(
            "main: drop original {side:?} [{}..{}]\n",
            record.start, record.end
        );
    }
    for side in [Side::Write, Side::Read] {
        for (t, records) in log.threads(side).iter().enumerate() {
            out += &format!("{}{t}:\n", side.letter());
            for r in records {
                let at = r.index.map_or("end".to_string(), |i| i.to_string());
                let what = match &r.outcome {
                    Outcome::Read { result, data } => {
                        let head: Vec<String> =
                            data.iter().take(8).map(|b| format!("{b:02x}")).collect();
                        format!(
                            "{result:?} [{}{}]",
                            head.join(" "),
                            if data.len() > 8 { " .." } else { "" }
                        )
                    }
                    other => format!("{other:?}"),
                };
                out += &format!(
                    "  #{at} [{}..{}] {} -> {what}\n",
                    r.start,
                    r.end,
                    r.op.describe(side)
                );
            }
        }
    }
    out
}

/// How a half was closed, as the other half is told.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cause {
    /// The writer closed without an error: end of file.
    Eof,
    /// The closed-pipe error (a reader's plain close, or `ClosedPipe` passed).
    ClosedPipe,
    /// The error with this message was passed to `close_with_error`.
    Error(String),
}

/// A close of one half, with the stamps around the call that did it.
#[derive(Debug)]
struct CloseEvent {
    /// Before the call.
    start: u64,
    /// After it returned.
    end: u64,
    /// What the half stores if this close is its first.
    cause: Cause,
}

/// The error of a `close_with_error` as the script passed it.
struct Spec {
    /// The half that passed it.
    side: Side,
    /// The error's type.
    choice: ErrorChoice,
}

/// An error as the rules classify it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// `ClosedPipe`.
    ClosedPipe,
    /// A timeout.
    TimedOut,
    /// The error with this message, from the peer's `close_with_error`.
    Peer(String),
}

/// The facts the checker works from.
struct Checker<'a> {
    /// The script that ran.
    script: &'a Script,
    /// What it did.
    log: &'a Log,
    /// Errors passed to `close_with_error`, by message.
    specs: HashMap<String, Spec>,
    /// Every close of the read half, explicit or by the last drop.
    read_closes: Vec<CloseEvent>,
    /// Every close of the write half.
    write_closes: Vec<CloseEvent>,
    /// Starts of the calls that set a non-zero read timeout.
    read_timeouts: Vec<(u64, Duration)>,
    /// Starts of the calls that set a non-zero write timeout.
    write_timeouts: Vec<(u64, Duration)>,
    /// What reads told of the write half's close, and where.
    write_cause_seen: Vec<(Cause, String)>,
    /// What writes told of the read half's close, and where.
    read_cause_seen: Vec<(Cause, String)>,
    /// Flushes and shutdowns that returned `Ok`: (start, end, where).
    flushed: Vec<(u64, u64, String)>,
    /// Flushes and `consumed` waits that failed or were `Pending`: (start,
    /// end, where, what they did).
    waits: Vec<(u64, u64, String, &'static str)>,
    /// Reads that returned end of file or the write half's close error:
    /// (start, end, where).
    close_reads: Vec<(u64, u64, String)>,
    /// The counts.
    summary: Summary,
}

/// A read or sink call that took bytes, as the tiling collects them: (bytes,
/// start, end, counted (see [`Chunk::counted`]), the start of the whole call,
/// where).
type ReadSpan<'a> = (&'a [u8], u64, u64, u64, u64, String);

/// A read that returned bytes.
struct Chunk<'a> {
    /// The bytes.
    bytes: &'a [u8],
    /// Stamp before the read.
    start: u64,
    /// Stamp after it.
    end: u64,
    /// Stamp by which the pipe had counted its bytes as taken (what a
    /// `consumed` wait looks at): a read's end; for a `write_to` sink call,
    /// the next sink call's start or the `write_to`'s end, since the drain
    /// counts what the sink took after the sink returns.
    counted: u64,
    /// Whether a close of the write half had returned before the read
    /// started: then its bytes can only be staged ones, of an async write.
    late: bool,
    /// Where it is in the log, for reports.
    at: String,
}

/// A write as far as the tiling is concerned.
struct WriteDone {
    /// The writer's write number.
    k: usize,
    /// Bytes it reported written (0 if it failed).
    n: usize,
    /// Stamp before the write.
    start: u64,
    /// Stamp after it.
    end: u64,
    /// An async write: its bytes may be staged, read after it returned, and
    /// lost to a close of the read half.
    asynch: bool,
    /// Readers got some prefix of its `n` bytes, perhaps none, perhaps all:
    /// the last write of a `read_from` that the pipe's close or timeout cut,
    /// whose count the call does not report (issue 24).
    elastic: bool,
}

/// Where the reads of one write went, once placed.
#[derive(Clone, Copy)]
struct Coverage {
    /// Bytes read.
    bytes: usize,
    /// The latest start of a read of them.
    last_start: u64,
    /// The latest stamp by which a read of them had been counted as taken
    /// (see [`Chunk::counted`]).
    last_end: u64,
    /// The earliest end of a read of them.
    first_end: u64,
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            bytes: 0,
            last_start: 0,
            last_end: 0,
            first_end: u64::MAX,
        }
    }
}

/// Checks the log of a run of `script` against the pipe's rules.
pub(crate) fn check(script: &Script, log: &Log) -> Result<Summary, String> {
    if log.writers.len() != script.writers.len() || log.readers.len() != script.readers.len() {
        return Err("the log does not match the script's threads".into());
    }
    let mut ck = Checker::new(script, log);
    ck.summary.buffered = u64::from(script.capacity > 0);
    ck.check_ops(Side::Write)?;
    ck.check_ops(Side::Read)?;
    ck.check_causes(Side::Write)?;
    ck.check_causes(Side::Read)?;
    ck.check_wakers()?;
    let coverage = ck.check_tiling()?;
    ck.check_drains(&coverage)?;
    Ok(ck.summary)
}

impl<'a> Checker<'a> {
    /// Gathers the closes and timeouts of the log.
    fn new(script: &'a Script, log: &'a Log) -> Self {
        let mut specs = HashMap::new();
        for side in [Side::Write, Side::Read] {
            for (t, ops) in script.ops(side).iter().enumerate() {
                for (index, op) in ops.iter().enumerate() {
                    if let Op::CloseWithError(choice) = *op {
                        specs.insert(close_message(side, t, index), Spec { side, choice });
                    }
                }
            }
        }
        let mut ck = Checker {
            script,
            log,
            specs,
            read_closes: Vec::new(),
            write_closes: Vec::new(),
            read_timeouts: Vec::new(),
            write_timeouts: Vec::new(),
            write_cause_seen: Vec::new(),
            read_cause_seen: Vec::new(),
            flushed: Vec::new(),
            waits: Vec::new(),
            close_reads: Vec::new(),
            summary: Summary::default(),
        };
        for side in [Side::Write, Side::Read] {
            let mut closes = Vec::new();
            let mut timeouts = Vec::new();
            let (mut drop_start, mut drop_end) = (0, 0);
            let main = log.main.iter().filter(|(s, _)| *s == side).map(|(_, r)| r);
            let threads = log
                .threads(side)
                .iter()
                .enumerate()
                .flat_map(|(t, records)| records.iter().map(move |r| (Some(t), r)));
            for (t, r) in main.map(|r| (None, r)).chain(threads) {
                if matches!(r.outcome, Outcome::Skipped) {
                    continue;
                }
                match r.op {
                    // The write half closes after the flush, whatever it
                    // returned.
                    Op::Shutdown => closes.push(CloseEvent {
                        start: r.start,
                        end: r.end,
                        cause: Cause::Eof,
                    }),
                    Op::Drop => {
                        drop_start = drop_start.max(r.start);
                        drop_end = drop_end.max(r.end);
                    }
                    Op::Close => closes.push(CloseEvent {
                        start: r.start,
                        end: r.end,
                        cause: if side == Side::Write {
                            Cause::Eof
                        } else {
                            Cause::ClosedPipe
                        },
                    }),
                    Op::CloseWithError(choice) => closes.push(CloseEvent {
                        start: r.start,
                        end: r.end,
                        cause: if choice.is_closed_pipe() {
                            Cause::ClosedPipe
                        } else {
                            let t = t.expect("only threads close with an error");
                            let index = r.index.expect("a scripted operation");
                            Cause::Error(close_message(side, t, index))
                        },
                    }),
                    Op::SetTimeout(Some(d)) if !d.is_zero() => timeouts.push((r.start, d)),
                    _ => {}
                }
            }
            // Every handle is dropped by the end, so the half is closed by the
            // last drop, which ran after every drop started and before the last
            // one returned.
            closes.push(CloseEvent {
                start: drop_start,
                end: drop_end,
                cause: if side == Side::Write {
                    Cause::Eof
                } else {
                    Cause::ClosedPipe
                },
            });
            match side {
                Side::Write => {
                    ck.write_closes = closes;
                    ck.write_timeouts = timeouts;
                }
                Side::Read => {
                    ck.read_closes = closes;
                    ck.read_timeouts = timeouts;
                }
            }
        }
        ck
    }

    /// Whether the pipe is a buffered one (issue 25): a write returns once
    /// its bytes are in the buffer, reads join writes, and a close of the
    /// read half drops what it holds (see `tests/shared/buffered_stream.rs`).
    fn buffered(&self) -> bool {
        self.script.capacity > 0
    }

    /// Most bytes an async write may be accepted in: the stage's capacity,
    /// or the buffer's.
    fn stage_cap(&self) -> usize {
        if self.buffered() {
            self.script.capacity
        } else {
            STAGE_CAP
        }
    }

    /// The closes of `side`'s half.
    fn closes(&self, side: Side) -> &[CloseEvent] {
        match side {
            Side::Read => &self.read_closes,
            Side::Write => &self.write_closes,
        }
    }

    /// Whether a close of `side`'s half had returned by stamp `t`.
    fn closed_by(&self, side: Side, t: u64) -> bool {
        self.closes(side).iter().any(|c| c.end < t)
    }

    /// Whether a close of `side`'s half had started by stamp `t`.
    fn closing_by(&self, side: Side, t: u64) -> bool {
        self.closes(side).iter().any(|c| c.start < t)
    }

    /// Whether a close of `side`'s half with `cause` had started by stamp `t`.
    fn closing_with_by(&self, side: Side, cause: &Cause, t: u64) -> bool {
        self.closes(side)
            .iter()
            .any(|c| c.start < t && c.cause == *cause)
    }

    /// Whether a non-zero timeout had been set on `side`'s half by stamp `t`.
    fn timeout_by(&self, side: Side, t: u64) -> bool {
        let timeouts = match side {
            Side::Read => &self.read_timeouts,
            Side::Write => &self.write_timeouts,
        };
        timeouts.iter().any(|&(start, _)| start < t)
    }

    /// Classifies an error, checking its kind, message and payload.
    fn classify(&self, side: Side, err: &io::Error) -> Result<Seen, String> {
        if let Some(close) = CloseError::from_io(err) {
            let message = close.to_string();
            let spec = self
                .specs
                .get(&message)
                .ok_or_else(|| format!("close error {err:?} was never passed"))?;
            if spec.side != side.peer() {
                return Err(format!("{err:?} came from this half's own close"));
            }
            let kind = spec.choice.kind();
            if err.kind() != kind || close.kind() != kind || err.to_string() != message {
                return Err(format!("{err:?}: wrong kind or message, want {kind:?}"));
            }
            let payload_ok = match spec.choice {
                ErrorChoice::Custom => {
                    close.downcast_ref::<ScriptError>().map(|e| &e.0) == Some(&message)
                }
                ErrorChoice::Text => {
                    close.downcast_ref::<io::Error>().is_none()
                        && close.get_ref().to_string() == message
                }
                _ => close.downcast_ref::<io::Error>().map(io::Error::kind) == Some(kind),
            };
            if !payload_ok {
                return Err(format!("{err:?}: the original error is not recoverable"));
            }
            Ok(Seen::Peer(message))
        } else if gopipe::is_closed_pipe(err) {
            if err.kind() != ErrorKind::BrokenPipe
                || err.to_string() != "io: read/write on closed pipe"
            {
                return Err(format!(
                    "closed-pipe error {err:?} has the wrong kind or message"
                ));
            }
            Ok(Seen::ClosedPipe)
        } else if err.kind() == ErrorKind::TimedOut {
            Ok(Seen::TimedOut)
        } else {
            Err(format!("unexpected error {err:?}"))
        }
    }

    /// Checks every operation of `side`'s threads on its own.
    fn check_ops(&mut self, side: Side) -> Result<(), String> {
        let log = self.log;
        for (t, records) in log.threads(side).iter().enumerate() {
            let mut cut_by_close: Option<String> = None;
            for r in records {
                let at = format!(
                    "{}{t} #{} {}",
                    side.letter(),
                    r.index.map_or("end".into(), |i| i.to_string()),
                    r.op.describe(side)
                );
                let fail = |why: &str| Err(format!("{at} [{}..{}]: {why}", r.start, r.end));
                match (&r.op, &r.outcome) {
                    (_, Outcome::Skipped | Outcome::Done) => {}
                    (
                        Op::Io { .. }
                        | Op::AsyncIo { .. }
                        | Op::Vectored { .. }
                        | Op::AsyncVectored { .. },
                        Outcome::Wrote { result, .. },
                    ) => {
                        let len = r.op.io_len();
                        if matches!(r.op, Op::Vectored { .. }) && result.is_ok() {
                            self.summary.vectored += 1;
                        }
                        if let (Op::AsyncIo { .. } | Op::AsyncVectored { .. }, Ok(n)) =
                            (&r.op, result)
                        {
                            self.check_async_accept(r, len, *n)
                                .or_else(|why| fail(&why))?;
                        }
                        let asynch = r.op.is_async();
                        let previous_cut = cut_by_close.take();
                        if let (Some(cut), Ok(_)) = (&previous_cut, result) {
                            return fail(&format!(
                                "succeeded after {cut} was cut short by a close"
                            ));
                        }
                        self.check_write(side, len, r, result, &at, asynch)
                            .or_else(|why| fail(&why))?;
                        if let Ok(n) = *result {
                            if n < len && !asynch && !self.timeout_by(Side::Write, r.end) {
                                cut_by_close = Some(at.clone());
                            }
                        }
                    }
                    (
                        Op::Io { .. } | Op::AsyncIo { .. } | Op::Vectored { .. },
                        Outcome::Read { result, data },
                    ) => {
                        if matches!(r.op, Op::Vectored { .. }) && result.is_ok() {
                            self.summary.vectored += 1;
                        }
                        self.check_read(r.op.io_len(), r, result, data, &at, r.op.is_async())
                            .or_else(|why| fail(&why))?;
                    }
                    (Op::Drain { .. }, Outcome::Drained { calls, result }) => {
                        if side == Side::Read {
                            self.check_write_to(r, calls, result, &at)
                                .or_else(|why| fail(&why))?;
                            continue;
                        }
                        // Its source is read before each write: only a
                        // success tells that bytes went through.
                        let wrote = matches!(result, Ok(Ok(n)) if *n > 0);
                        if let (Some(cut), true) = (&cut_by_close, wrote) {
                            return fail(&format!(
                                "wrote a source's bytes after {cut} was cut short by a close"
                            ));
                        }
                        let closed = match self.check_read_from(r, calls, result, &at) {
                            Ok(closed) => closed,
                            Err(why) => return fail(&why),
                        };
                        if closed {
                            cut_by_close = Some(at.clone());
                        }
                    }
                    (Op::AsyncIo { .. } | Op::AsyncVectored { .. }, Outcome::Dropped) => {
                        if side == Side::Write {
                            if let Some(cut) = cut_by_close.take() {
                                return fail(&format!(
                                    "Pending after {cut} was cut short by a close"
                                ));
                            }
                        }
                        self.check_dropped(side, r.op.io_len(), r)
                            .or_else(|why| fail(&why))?;
                        if matches!(r.op, Op::AsyncVectored { .. }) {
                            self.summary.dropped_gathers += 1;
                        }
                    }
                    (Op::Flush { .. } | Op::Consumed { .. }, Outcome::Flushed(result)) => {
                        self.check_flush(r, result, &at).or_else(|why| fail(&why))?;
                    }
                    // A shutdown closes the write half at once: it never fails
                    // and waits for nobody.
                    (Op::Shutdown, Outcome::Flushed(result)) => {
                        if let Err(e) = result {
                            return fail(&format!("shutdown failed: {e:?}"));
                        }
                    }
                    (Op::Flush { .. } | Op::Consumed { .. }, Outcome::Dropped) => {
                        self.check_pending_wait(r, &at).or_else(|why| fail(&why))?;
                    }
                    (&Op::SetTimeout(timeout), Outcome::SetTimeout(result)) => {
                        let zero = timeout == Some(Duration::ZERO);
                        match result {
                            Ok(()) if !zero => {}
                            Err(e) if zero && e.kind() == ErrorKind::InvalidInput => {}
                            other => return fail(&format!("set timeout returned {other:?}")),
                        }
                    }
                    (Op::Inspect, Outcome::Inspected { debug, timeout }) => {
                        self.check_inspect(side, r, debug, *timeout)
                            .or_else(|why| fail(&why))?;
                    }
                    (_, outcome) => return fail(&format!("outcome {outcome:?} does not fit")),
                }
            }
        }
        Ok(())
    }

    /// Checks one write on its own (`asynch`: a `poll_write`).
    fn check_write(
        &mut self,
        side: Side,
        len: usize,
        r: &Record,
        result: &io::Result<usize>,
        at: &str,
        asynch: bool,
    ) -> Result<(), String> {
        let own_closed = self.closed_by(Side::Write, r.start);
        let any_closed = own_closed || self.closed_by(Side::Read, r.start);
        match result {
            Ok(n) => {
                let n = *n;
                if any_closed {
                    return Err(format!("Ok({n}) though the pipe was closed before it"));
                }
                if n > len {
                    return Err(format!("reported {n} of {len} bytes"));
                }
                if len > 0 && n == 0 {
                    return Err("a non-empty write returned Ok(0)".into());
                }
                if asynch {
                    self.summary.async_bytes += n as u64;
                    let cap = self.stage_cap();
                    if n < len && len <= cap {
                        return Err(format!(
                            "an async write of at most {cap} bytes was accepted in \
                             part ({n} of {len})"
                        ));
                    }
                    if n < len {
                        self.summary.partial_accepts += 1;
                    }
                    // An empty async write is ready at once: no rendezvous.
                    return Ok(());
                }
                if n < len {
                    self.summary.short_writes += 1;
                    let closing =
                        self.closing_by(Side::Write, r.end) || self.closing_by(Side::Read, r.end);
                    if !closing && !self.timeout_by(Side::Write, r.end) {
                        return Err(format!(
                            "short write ({n} of {len}) with no close or timeout"
                        ));
                    }
                }
                // Some reader was inside a read meanwhile.
                let met = self.log.readers.iter().flatten().any(|q| {
                    (q.op.io_len() > 0 || matches!(q.op, Op::Drain { .. }))
                        && !matches!(q.outcome, Outcome::Skipped)
                        && q.start < r.end
                        && r.start < q.end
                });
                if self.buffered() {
                    // No rendezvous: the bytes went into the buffer, and an
                    // empty write returns at once.
                    if len > 0 && !met {
                        self.summary.unmet_writes += 1;
                    }
                    return Ok(());
                }
                if len == 0 {
                    // A rendezvous.
                    if !met {
                        return Err("an empty write returned Ok(0) with no read under way".into());
                    }
                    self.summary.empty_writes += 1;
                }
                Ok(())
            }
            Err(err) => self.write_error(side, r, err, at, asynch),
        }
    }

    /// Checks the error of a write (or a `read_from`) on its own.
    fn write_error(
        &mut self,
        side: Side,
        r: &Record,
        err: &io::Error,
        at: &str,
        asynch: bool,
    ) -> Result<(), String> {
        let own_closed = self.closed_by(Side::Write, r.start);
        let seen = self.classify(side, err)?;
        if own_closed && seen != Seen::ClosedPipe {
            return Err(format!("{err:?}, but this half had closed itself"));
        }
        match seen {
            Seen::ClosedPipe => {
                self.summary.closed_pipe += 1;
                if !self.closing_by(Side::Write, r.end) {
                    if !self.closing_with_by(Side::Read, &Cause::ClosedPipe, r.end) {
                        return Err("closed-pipe error with no such close".into());
                    }
                    self.read_cause_seen.push((Cause::ClosedPipe, at.into()));
                }
            }
            Seen::TimedOut => {
                self.summary.timeouts += 1;
                if asynch {
                    return Err("an async write timed out".into());
                }
                if !self.timeout_by(Side::Write, r.end) {
                    return Err("timed out with no timeout set".into());
                }
            }
            Seen::Peer(message) => {
                self.summary.peer_errors += 1;
                let cause = Cause::Error(message);
                if !self.closing_with_by(Side::Read, &cause, r.end) {
                    return Err(format!("{err:?} before that close started"));
                }
                self.read_cause_seen.push((cause, at.into()));
            }
        }
        Ok(())
    }

    /// Checks one read on its own (its bytes are checked by the tiling;
    /// `asynch`: a `poll_read`).
    fn check_read(
        &mut self,
        len: usize,
        r: &Record,
        result: &io::Result<usize>,
        data: &[u8],
        at: &str,
        asynch: bool,
    ) -> Result<(), String> {
        if len == 0 {
            return match result {
                Ok(0) => Ok(()),
                other => Err(format!("an empty buffer got {other:?}")),
            };
        }
        match result {
            Ok(0) => self.read_eof(r.start, r.start, r.end, at),
            Ok(n) => {
                let n = *n;
                if n > len {
                    return Err(format!("returned {n} for a {len}-byte buffer"));
                }
                debug_assert_eq!(data.len(), n);
                self.read_bytes(r.start, n)
            }
            Err(err) => self.read_error(r.start, r.start, r.end, err, at, asynch),
        }
    }

    /// Checks that a read (or a sink's call) that started at `start` could
    /// return `n` bytes, and counts them.
    fn read_bytes(&mut self, start: u64, n: usize) -> Result<(), String> {
        // A close of the read half discards staged bytes; after a close of
        // the write half, only staged bytes can be read (the tiling checks
        // that they are an async write's).
        if self.closed_by(Side::Read, start) {
            return Err(format!(
                "returned {n} bytes though this half was closed before it"
            ));
        }
        if self.closed_by(Side::Write, start) {
            self.summary.late_reads += 1;
        }
        self.summary.reads += 1;
        self.summary.bytes += n as u64;
        Ok(())
    }

    /// Checks an end of file that a read (or `write_to`) which started at
    /// `own_start` met in a look at the pipe that started at `last_start`
    /// and ended by `end`.
    fn read_eof(
        &mut self,
        own_start: u64,
        last_start: u64,
        end: u64,
        at: &str,
    ) -> Result<(), String> {
        self.summary.eofs += 1;
        if self.closed_by(Side::Read, own_start) {
            return Err("end of file, but this half had closed itself".into());
        }
        if !self.closing_with_by(Side::Write, &Cause::Eof, end) {
            return Err("Ok(0) before the writer closed".into());
        }
        self.write_cause_seen.push((Cause::Eof, at.into()));
        self.close_reads.push((last_start, end, at.into()));
        Ok(())
    }

    /// Checks the error of a read (or `write_to`), stamped as for
    /// [`Checker::read_eof`].
    fn read_error(
        &mut self,
        own_start: u64,
        last_start: u64,
        end: u64,
        err: &io::Error,
        at: &str,
        asynch: bool,
    ) -> Result<(), String> {
        let own_closed = self.closed_by(Side::Read, own_start);
        let seen = self.classify(Side::Read, err)?;
        if own_closed && seen != Seen::ClosedPipe {
            return Err(format!("{err:?}, but this half had closed itself"));
        }
        match seen {
            Seen::ClosedPipe => {
                self.summary.closed_pipe += 1;
                if !self.closing_by(Side::Read, end) {
                    if !self.closing_with_by(Side::Write, &Cause::ClosedPipe, end) {
                        return Err("closed-pipe error with no such close".into());
                    }
                    self.write_cause_seen.push((Cause::ClosedPipe, at.into()));
                    self.close_reads.push((last_start, end, at.into()));
                }
            }
            Seen::TimedOut => {
                self.summary.timeouts += 1;
                if asynch {
                    return Err("an async read timed out".into());
                }
                if !self.timeout_by(Side::Read, end) {
                    return Err("timed out with no timeout set".into());
                }
            }
            Seen::Peer(message) => {
                self.summary.peer_errors += 1;
                let cause = Cause::Error(message);
                if !self.closing_with_by(Side::Write, &cause, end) {
                    return Err(format!("{err:?} before that close started"));
                }
                self.write_cause_seen.push((cause, at.into()));
                self.close_reads.push((last_start, end, at.into()));
            }
        }
        Ok(())
    }

    /// Checks what a sink's or source's calls did on their own: never handed
    /// an empty slice or buffer, none after one that stopped, each within
    /// what it was handed; returns the bytes they moved.
    fn check_calls(summary: &mut Summary, calls: &[Call], what: &str) -> Result<usize, String> {
        let mut moved = 0;
        for (i, c) in calls.iter().enumerate() {
            if c.offered == 0 {
                return Err(format!("{what} call {i} was handed nothing"));
            }
            match c.act {
                Act::Moved(n) if n > 0 && n <= c.offered => {
                    moved += n;
                    if what == "the sink" && n < c.offered {
                        summary.partial_takes += 1;
                    }
                }
                Act::Moved(n) => return Err(format!("{what} call {i} moved {n}: a script bug")),
                _ if i + 1 < calls.len() => {
                    return Err(format!(
                        "{what} called again after it stopped ({:?})",
                        c.act
                    ))
                }
                _ => {}
            }
        }
        if calls.len() > MAX_CALLS + 1 {
            return Err(format!("{what} called {} times", calls.len()));
        }
        Ok(moved)
    }

    /// Checks a `write_to` on its own: the sink's calls are placed by the
    /// tiling, each as a read of its own.
    fn check_write_to(
        &mut self,
        r: &Record,
        calls: &[Call],
        result: &Result<io::Result<u64>, String>,
        at: &str,
    ) -> Result<(), String> {
        let moved = Self::check_calls(&mut self.summary, calls, "the sink")?;
        for c in calls {
            if let Act::Moved(n) = c.act {
                // Whether a close had returned is judged from the start of
                // the whole call: the sink may be called again for the same
                // write after a close returned.
                self.read_bytes(r.start, n)?;
                self.summary.sink_bytes += n as u64;
            }
        }
        let last = calls.last().map(|c| c.act);
        // The last look at the pipe began after the last call returned.
        let last_start = calls.last().map_or(r.start, |c| c.end);
        match (last, result) {
            (Some(Act::Panicked), Err(why)) if why == "ScriptPanic" => {
                self.summary.panics += 1;
                Ok(())
            }
            (_, Err(why)) => Err(format!("panicked ({why}) after the sink's {last:?}")),
            (Some(Act::Panicked), Ok(got)) => {
                Err(format!("the sink panicked, but write_to returned {got:?}"))
            }
            (Some(Act::Failed), Ok(Err(e)))
                if e.kind() == ErrorKind::InvalidInput && e.to_string() == SINK_FAILS =>
            {
                self.summary.sink_stops += 1;
                Ok(())
            }
            (Some(Act::Quiet), Ok(Err(e))) if e.kind() == ErrorKind::WriteZero => {
                self.summary.sink_stops += 1;
                Ok(())
            }
            (Some(Act::Failed | Act::Quiet), Ok(got)) => Err(format!(
                "the sink stopped ({last:?}), but write_to returned {got:?}"
            )),
            (_, Ok(Ok(total))) => {
                if *total != moved as u64 {
                    return Err(format!("returned Ok({total}), but the sink took {moved}"));
                }
                self.read_eof(r.start, last_start, r.end, at)
            }
            (_, Ok(Err(err))) => self.read_error(r.start, last_start, r.end, err, at, false),
        }
    }

    /// Checks a `read_from` on its own (each source call's bytes are a write
    /// of their own, placed by the tiling); returns whether a close ended it.
    /// It has `io::copy`'s contract (issue 24): `Ok` only at the source's end
    /// of file, with the count of every byte it yielded; a cut (a close, the
    /// timeout) returns the pipe's error, however many bytes went before.
    fn check_read_from(
        &mut self,
        r: &Record,
        calls: &[Call],
        result: &Result<io::Result<u64>, String>,
        at: &str,
    ) -> Result<bool, String> {
        let moved = Self::check_calls(&mut self.summary, calls, "the source")?;
        let last = calls.last().map(|c| c.act);
        // Bytes of the calls before the last: every write before the last
        // went across whole.
        let before_last = match last {
            Some(Act::Moved(n)) => moved - n,
            _ => moved,
        };
        // Each write began after the call before its own returned. A write
        // made after a close returned fails, ending the call with the
        // pipe's error: only the last call's may have.
        let pipe_error = matches!(result, Ok(Err(_))) && matches!(last, Some(Act::Moved(_)));
        for (i, c) in calls.iter().enumerate() {
            let began = if i == 0 { r.start } else { calls[i - 1].end };
            if let Act::Moved(n) = c.act {
                let closed =
                    self.closed_by(Side::Read, began) || self.closed_by(Side::Write, began);
                if closed && (i + 1 < calls.len() || !pipe_error) {
                    return Err(format!(
                        "source call {i} ({n} bytes) was written though the pipe was \
                         closed before it"
                    ));
                }
            }
        }
        match (last, result) {
            (Some(Act::Panicked), Err(why)) if why == "ScriptPanic" => {
                self.summary.panics += 1;
                self.summary.source_bytes += moved as u64;
                Ok(false)
            }
            (_, Err(why)) => Err(format!("panicked ({why}) after the source's {last:?}")),
            (Some(Act::Panicked), Ok(got)) => Err(format!(
                "the source panicked, but read_from returned {got:?}"
            )),
            (Some(Act::Failed), Ok(Err(e)))
                if e.kind() == ErrorKind::InvalidInput && e.to_string() == SOURCE_FAILS =>
            {
                self.summary.source_fails += 1;
                self.summary.source_bytes += moved as u64;
                Ok(false)
            }
            (Some(Act::Failed), Ok(got)) => {
                Err(format!("the source failed, but read_from returned {got:?}"))
            }
            (Some(Act::Quiet), Ok(Ok(total))) => {
                if *total != moved as u64 {
                    return Err(format!(
                        "returned Ok({total}), but the source yielded {moved}"
                    ));
                }
                self.summary.source_bytes += moved as u64;
                Ok(false)
            }
            (_, Ok(Ok(total))) => Err(format!(
                "returned Ok({total}) before the source's end of file (it yielded \
                 {moved}): a cut copy must return its error"
            )),
            (Some(Act::Quiet), Ok(Err(err))) => {
                Err(format!("{err:?} after the source's end of file"))
            }
            (_, Ok(Err(err))) => {
                // The pipe's own error: as a write's. The last source
                // call's bytes may have been delivered in part (the tiling
                // takes that write as elastic).
                self.summary.cut_read_froms += 1;
                if before_last > 0 {
                    self.summary.cuts_after_bytes += 1;
                }
                self.summary.source_bytes += moved as u64;
                self.write_error(Side::Write, r, err, at, false)?;
                let seen = self.classify(Side::Write, err)?;
                Ok(seen != Seen::TimedOut)
            }
        }
    }

    /// Checks an async read or write whose future was dropped while
    /// `Pending` (it must have taken or accepted nothing: the tiling sees
    /// that, as its write number's bytes must not show up).
    fn check_dropped(&mut self, side: Side, len: usize, r: &Record) -> Result<(), String> {
        if len == 0 {
            return Err("an empty async read or write was Pending".into());
        }
        if (self.closed_by(Side::Read, r.start) || self.closed_by(Side::Write, r.start))
            && !(side == Side::Read && self.drain_during(r.start, r.end))
        {
            return Err("Pending though the pipe was closed before it".into());
        }
        self.summary.dropped += 1;
        Ok(())
    }

    /// Whether a reader's operation that may take a drain claim ran at some
    /// time between stamps `start` and `end`: a drain claim may then have
    /// held the staged bytes, and an async read on the closed pipe waits for
    /// the claim to end (the sink may leave bytes staged for it), as a
    /// blocking read does with its bounds. Claims come from a `write_to`, a
    /// `read_vectored` into two or more non-empty buffers (the engine drains
    /// those through a sink too) and, on a buffered pipe, any read of at
    /// least [`UNLOCKED_TAKE`] bytes (it copies with the stage's lock
    /// released, under a claim).
    fn drain_during(&self, start: u64, end: u64) -> bool {
        let big = |len: usize| self.buffered() && len >= UNLOCKED_TAKE;
        self.log.readers.iter().flatten().any(|q| {
            let claims = match q.op {
                Op::Drain { .. } => true,
                Op::Vectored { lens, count, .. } => {
                    let lens = &lens[..usize::from(count)];
                    lens.iter().filter(|&&n| n > 0).count() >= 2 || lens.iter().any(|&n| big(n))
                }
                Op::Io { len, .. } | Op::AsyncIo { len, .. } => big(len),
                _ => false,
            };
            claims && q.start < end && q.end > start
        })
    }

    /// Checks how much of `len` bytes an async write or gather accepted
    /// (`check_write` checks that one of at most [`STAGE_CAP`] bytes was
    /// accepted whole; the tiling that the bytes are its prefix, one write
    /// never interleaved): at most what the stage holds, also when a
    /// blocking read's lent buffer took the first bytes.
    fn check_async_accept(&mut self, r: &Record, len: usize, n: usize) -> Result<(), String> {
        let cap = self.stage_cap();
        if n > cap {
            return Err(format!(
                "an async write of {len} bytes accepted {n}, more than the stage's {cap}"
            ));
        }
        if matches!(r.op, Op::AsyncVectored { .. }) {
            self.summary.async_gathers += 1;
            if len > STAGE_CAP {
                self.summary.big_gathers += 1;
            }
        }
        Ok(())
    }

    /// Checks a flush's or a `consumed` wait's future dropped while
    /// `Pending`: never once the read half had closed before it (it is then
    /// ready, `Ok` or failing), and only while some of the bytes it waits
    /// for were unread (checked once the reads are placed).
    fn check_pending_wait(&mut self, r: &Record, at: &str) -> Result<(), String> {
        if self.closed_by(Side::Read, r.start) {
            return Err("Pending though the read half was closed before it".into());
        }
        self.summary.dropped += 1;
        if matches!(r.op, Op::Consumed { .. }) {
            self.summary.dropped_consumed += 1;
        }
        self.waits
            .push((r.start, r.end, at.into(), "was Pending till dropped"));
        Ok(())
    }

    /// Checks the writers' looks at the wakers the pipe held: at most one per
    /// bell for each (place, waker) pair the live handles' async operations
    /// polled through (see [`Places`]), as the engine promises; dropped
    /// `Pending` futures must not pile up more, and a handle's drop must give
    /// back the wakers that polled through it.
    fn check_wakers(&mut self) -> Result<(), String> {
        for look in &self.log.wakers {
            let bound = TASK_BELLS * look.places;
            if look.held > bound {
                let at = look.index.map_or("end".into(), |i| i.to_string());
                return Err(format!(
                    "W{} after #{at}: the pipe held {} task wakers, more than {bound} \
                     ({} (place, waker) pairs at most, {TASK_BELLS} bells)",
                    look.t, look.held, look.places
                ));
            }
            self.summary.waker_looks += 1;
            self.summary.max_wakers = self.summary.max_wakers.max(look.held as u64);
        }
        Ok(())
    }

    /// Checks a flush or shutdown on its own; an `Ok` one is checked against
    /// the reads once they are placed ([`Checker::check_drains`]).
    fn check_flush(&mut self, r: &Record, result: &io::Result<()>, at: &str) -> Result<(), String> {
        let consumed = matches!(r.op, Op::Consumed { .. });
        let err = match result {
            Ok(()) => {
                self.summary.flushes += 1;
                if consumed {
                    self.summary.consumed += 1;
                }
                self.flushed.push((r.start, r.end, at.into()));
                return Ok(());
            }
            Err(err) => err,
        };
        self.summary.flush_errors += 1;
        if consumed {
            self.summary.consumed_errors += 1;
        }
        // It failed at a poll that found some of the bytes it waits for
        // unread (checked once the reads are placed).
        self.waits.push((r.start, r.end, at.into(), "failed"));
        // A flush fails only when the read half closed with bytes still
        // staged, with the error a write gets then (for a shutdown, before its
        // own close).
        if !self.closing_by(Side::Read, r.end) {
            return Err(format!("{err:?} though the read half was not closing"));
        }
        let seen = self.classify(Side::Write, err)?;
        let own_closed = self.closed_by(Side::Write, r.start);
        if own_closed && seen != Seen::ClosedPipe {
            return Err(format!("{err:?}, but this half had closed itself"));
        }
        let own_closing = self
            .closes(Side::Write)
            .iter()
            .any(|c| c.start < r.end && (c.start, c.end) != (r.start, r.end));
        let cause = match seen {
            Seen::ClosedPipe if own_closing => return Ok(()),
            Seen::ClosedPipe => Cause::ClosedPipe,
            Seen::Peer(message) => Cause::Error(message),
            Seen::TimedOut => return Err("a flush timed out".into()),
        };
        if !self.closing_with_by(Side::Read, &cause, r.end) {
            return Err(format!("{err:?} before that close started"));
        }
        self.read_cause_seen.push((cause, at.into()));
        Ok(())
    }

    /// Checks what the placed reads say of the stage: a flush or shutdown
    /// returns `Ok`, and a read returns end of file or the write half's close
    /// error, only once readers took every byte accepted before it started
    /// (by reads that started before it returned); and the writes' bytes
    /// come out in the order the writes were made: if a write returned before
    /// another started and some of the later one's bytes were read, all of
    /// the earlier one's were, and no read of the later one's returned before
    /// a read of the earlier one's started.
    fn check_drains(&self, placed: &Placed) -> Result<(), String> {
        let (writes, coverage) = placed;
        // Per write: its writer, the write, its reads' coverage, and its
        // count (for an elastic write, what readers got; kept on a buffered
        // pipe even if that is nothing, as it may have had bytes buffered).
        let buffered = self.buffered();
        let all: Vec<(usize, &WriteDone, Coverage, usize)> = writes
            .iter()
            .enumerate()
            .flat_map(|(w, ws)| {
                ws.iter().enumerate().filter_map(move |(wi, x)| {
                    let cover = coverage.get(&(w, wi)).copied().unwrap_or_default();
                    let n = if x.elastic { cover.bytes } else { x.n };
                    let kept = n > 0 || (buffered && x.elastic && x.n > 0);
                    kept.then_some((w, x, cover, n))
                })
            })
            .collect();
        let drains = self.flushed.iter().map(|f| ("returned Ok", f)).chain(
            self.close_reads
                .iter()
                .map(|c| ("saw the write half closed", c)),
        );
        // A wait that failed or was Pending found, at some poll, bytes it
        // waited for unread: bytes of an async write that started before it
        // returned (a later one cannot count), not all read by reads that
        // the pipe had counted before it started (a sink call's once its
        // `write_to` went on: see `Chunk::counted`).
        // (On a buffered pipe every write's bytes may wait in the buffer,
        // and an elastic write may have had more accepted than readers got,
        // dropped by the read half's close.)
        for (start, end, at, what) in &self.waits {
            let unread = all.iter().any(|&(_, x, cover, n)| {
                (x.asynch || buffered)
                    && x.start < *end
                    && (cover.bytes < n || cover.last_end > *start || (buffered && x.elastic))
            });
            if !unread {
                return Err(format!(
                    "{at} [{start}..{end}] {what}, but readers had taken every byte of \
                     every async write that started before it returned, by reads that \
                     returned before it started"
                ));
            }
        }
        for (what, (start, end, at)) in drains {
            for &(w, x, cover, n) in &all {
                if x.end < *start && (cover.bytes < n || cover.last_start > *end) {
                    return Err(format!(
                        "{at} [{start}..{end}] {what}, but of W{w}'s write #{} of {} bytes \
                         [{}..{}], readers had taken {} (the last read of them started \
                         at {})",
                        x.k, n, x.start, x.end, cover.bytes, cover.last_start
                    ));
                }
            }
        }
        for &(w, x, xc, xn) in &all {
            for &(v, y, yc, _) in &all {
                if !(x.end < y.start && yc.bytes > 0) {
                    continue;
                }
                if xc.bytes < xn || yc.first_end < xc.last_start {
                    return Err(format!(
                        "W{v}'s write #{} [{}..{}] was read (a read of it returned at {}) \
                         before W{w}'s earlier write #{} [{}..{}] was ({} of {} bytes read, \
                         the last read of them started at {})",
                        y.k,
                        y.start,
                        y.end,
                        yc.first_end,
                        x.k,
                        x.start,
                        x.end,
                        xc.bytes,
                        xn,
                        xc.last_start
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks a handle's `Debug` and timeout.
    fn check_inspect(
        &self,
        side: Side,
        r: &Record,
        debug: &str,
        timeout: Option<Duration>,
    ) -> Result<(), String> {
        let name = match side {
            Side::Read => "PipeReader {",
            Side::Write => "PipeWriter {",
        };
        let closed = if debug.contains("closed: true") {
            true
        } else if debug.contains("closed: false") {
            false
        } else {
            return Err(format!("Debug {debug:?} shows no closed flag"));
        };
        if !debug.starts_with(name) {
            return Err(format!("Debug {debug:?} is not a {name}"));
        }
        if !closed && self.closed_by(side, r.start) {
            return Err(format!("Debug {debug:?} after this half was closed"));
        }
        if closed && !self.closing_by(side, r.end) {
            return Err(format!("Debug {debug:?} before any close of this half"));
        }
        let timeouts = match side {
            Side::Read => &self.read_timeouts,
            Side::Write => &self.write_timeouts,
        };
        if let Some(d) = timeout {
            if !timeouts
                .iter()
                .any(|&(start, set)| set == d && start < r.end)
            {
                return Err(format!("timeout {d:?} was never set"));
            }
        }
        Ok(())
    }

    /// Checks that what the ops saw of `side`'s close is one close, and one that
    /// can have been the half's first.
    fn check_causes(&self, side: Side) -> Result<(), String> {
        let seen = match side {
            Side::Read => &self.read_cause_seen,
            Side::Write => &self.write_cause_seen,
        };
        let Some((cause, first_at)) = seen.first() else {
            return Ok(());
        };
        if let Some((other, at)) = seen.iter().find(|(c, _)| c != cause) {
            return Err(format!(
                "the {side:?} half's close is {cause:?} at {first_at} but {other:?} at {at}"
            ));
        }
        // A close can have been first unless another one had returned before
        // it started.
        let closes = self.closes(side);
        let possible = closes.iter().enumerate().any(|(i, c)| {
            c.cause == *cause
                && !closes
                    .iter()
                    .enumerate()
                    .any(|(j, d)| j != i && d.end < c.start)
        });
        if !possible {
            return Err(format!(
                "{first_at} saw the {side:?} half closed with {cause:?}, which cannot \
                 have been its first close: {closes:?}"
            ));
        }
        Ok(())
    }

    /// Places every read in its writer's stream (see [`Tiler`]), then checks
    /// that writes of different writers did not interleave; returns the
    /// writes and where their reads went.
    fn check_tiling(&mut self) -> Result<Placed, String> {
        let writers = self.script.writers.len();
        let readers = self.script.readers.len();
        // Per writer, its writes in order; per writer and reader, the reads of
        // that writer's bytes in the reader's order.
        let mut writes: Vec<Vec<WriteDone>> = (0..writers).map(|_| Vec::new()).collect();
        let log = self.log;
        for (w, records) in log.writers.iter().enumerate() {
            for r in records {
                if let Outcome::Wrote { k, result } = &r.outcome {
                    writes[w].push(WriteDone {
                        k: *k,
                        n: *result.as_ref().unwrap_or(&0),
                        start: r.start,
                        end: r.end,
                        asynch: r.op.is_async(),
                        elastic: false,
                    });
                }
                if let Outcome::Drained { calls, result } = &r.outcome {
                    // Each source call's bytes are one write, made after the
                    // call before it returned and before the next one began.
                    // `Ok` comes only at the source's end, every write
                    // whole. The pipe's error (a cut) does not say how much
                    // of the last write readers got (issue 24): any part of
                    // it (elastic), or none if it began after a close.
                    let cut = matches!(result, Ok(Err(e)) if e.to_string() != SOURCE_FAILS);
                    let last_moved = calls.iter().rposition(|c| matches!(c.act, Act::Moved(_)));
                    for (i, c) in calls.iter().enumerate() {
                        let Act::Moved(n) = c.act else { continue };
                        let start = if i == 0 { r.start } else { calls[i - 1].end };
                        let cut_here = cut && Some(i) == last_moved;
                        let after_close =
                            self.closed_by(Side::Read, start) || self.closed_by(Side::Write, start);
                        let none = cut_here && after_close;
                        writes[w].push(WriteDone {
                            k: c.k,
                            n: if none { 0 } else { n },
                            start,
                            end: calls.get(i + 1).map_or(r.end, |next| next.start),
                            asynch: false,
                            elastic: cut_here && !none,
                        });
                    }
                }
            }
        }
        let mut chunks: Vec<Vec<Vec<Chunk<'_>>>> = (0..writers)
            .map(|_| (0..readers).map(|_| Vec::new()).collect())
            .collect();
        // A buffered pipe's reads, whole, per reader.
        let mut buffered_reads: Vec<Vec<ReadSpan<'_>>> = Vec::new();
        for (q, records) in log.readers.iter().enumerate() {
            // Every read that returned bytes, and every sink call that took
            // some: (bytes, start, end, counted, the start of the whole
            // call, where).
            let mut reads: Vec<ReadSpan<'_>> = Vec::new();
            for r in records {
                let index = r.index.map_or("end".into(), |i| i.to_string());
                match &r.outcome {
                    Outcome::Read {
                        result: Ok(n),
                        data,
                    } if *n > 0 && !data.is_empty() => {
                        let at = format!("R{q} #{index} [{}..{}]", r.start, r.end);
                        reads.push((data, r.start, r.end, r.end, r.start, at));
                    }
                    Outcome::Drained { calls, .. } => {
                        for (i, c) in calls.iter().enumerate() {
                            if !c.data.is_empty() {
                                let at =
                                    format!("R{q} #{index} sink call {i} [{}..{}]", c.start, c.end);
                                let counted = calls.get(i + 1).map_or(r.end, |next| next.start);
                                reads.push((&c.data, c.start, c.end, counted, r.start, at));
                            }
                        }
                    }
                    _ => {}
                }
            }
            if self.buffered() {
                buffered_reads.push(reads);
                continue;
            }
            for (data, start, end, counted, began, at) in reads {
                let w = usize::from(data[0] >> 6);
                if w >= writers || data.iter().any(|b| usize::from(b >> 6) != w) {
                    return Err(format!(
                        "{at} returned bytes of no single writer: {data:02x?}"
                    ));
                }
                chunks[w][q].push(Chunk {
                    bytes: data,
                    start,
                    end,
                    counted,
                    late: self.closed_by(Side::Write, began),
                    at,
                });
            }
        }
        if self.buffered() {
            return self.check_stream(writes, &buffered_reads);
        }
        // Where each read landed: (writer, write position in `writes[w]`).
        let mut placed: Vec<(usize, usize, u64, u64)> = Vec::new();
        let mut coverage: HashMap<(usize, usize), Coverage> = HashMap::new();
        for w in 0..writers {
            let mut tiler = Tiler::new(w, &writes[w], &chunks[w]);
            let path = tiler.solve().ok_or_else(|| tiler.explain())?;
            for (q, c, wi) in path {
                let chunk = &chunks[w][q][c];
                placed.push((w, wi, chunk.start, chunk.end));
                let cover = coverage.entry((w, wi)).or_default();
                cover.bytes += chunk.bytes.len();
                cover.last_start = cover.last_start.max(chunk.start);
                cover.last_end = cover.last_end.max(chunk.counted);
                cover.first_end = cover.first_end.min(chunk.end);
            }
        }
        // A write X whose reads include one that returned before a read of
        // another writer's write Y started, and one that started after that
        // read of Y returned, was interleaved with Y.
        let mut windows: HashMap<(usize, usize), (u64, u64, usize)> = HashMap::new();
        for &(w, wi, start, end) in &placed {
            let e = windows.entry((w, wi)).or_insert((u64::MAX, 0, 0));
            e.0 = e.0.min(end);
            e.1 = e.1.max(start);
            e.2 += 1;
        }
        for &(w, wi, start, end) in &placed {
            for (&(xw, xi), &(first_end, last_start, count)) in &windows {
                if xw != w && count > 1 && first_end < start && end < last_start {
                    return Err(format!(
                        "W{xw}'s write #{} was interleaved with W{w}'s write #{} \
                         (read [{start}..{end}] between its reads)",
                        writes[xw][xi].k, writes[w][wi].k
                    ));
                }
            }
        }
        Ok((writes, coverage))
    }
}

impl Checker<'_> {
    /// Places a buffered pipe's reads in its one stream (see
    /// `tests/shared/buffered_stream.rs`): reads may join writes, of several
    /// writers too, but take the stream in order; returns the writes and
    /// where their reads went.
    fn check_stream(
        &mut self,
        writes: Vec<Vec<WriteDone>>,
        reads: &[Vec<ReadSpan<'_>>],
    ) -> Result<Placed, String> {
        let writers = writes.len();
        let stream_writes: Vec<Vec<BufWrite>> = writes
            .iter()
            .map(|ws| {
                ws.iter()
                    .map(|x| BufWrite {
                        k: x.k,
                        n: x.n,
                        start: x.start,
                        end: x.end,
                        elastic: x.elastic,
                    })
                    .collect()
            })
            .collect();
        let stream_reads: Vec<Vec<BufRead<'_>>> = reads
            .iter()
            .map(|rs| {
                rs.iter()
                    .map(|&(bytes, start, end, ..)| BufRead { bytes, start, end })
                    .collect()
            })
            .collect();
        let tag = |b: u8| Some(usize::from(b >> 6)).filter(|&w| w < writers);
        let path = buffered_stream::place(&stream_writes, &stream_reads, &tag, &payload_byte)?;
        let mut coverage: HashMap<(usize, usize), Coverage> = HashMap::new();
        for (q, c, pieces) in &path {
            let &(_, start, end, counted, _, _) = &reads[*q][*c];
            if pieces.len() > 1 {
                self.summary.joined_reads += 1;
            }
            for piece in pieces {
                let cover = coverage.entry((piece.w, piece.wi)).or_default();
                cover.bytes += piece.len;
                cover.last_start = cover.last_start.max(start);
                cover.last_end = cover.last_end.max(counted);
                cover.first_end = cover.first_end.min(end);
            }
        }
        Ok((writes, coverage))
    }
}

/// The writes of each writer, in order, and how much of each was read (by
/// writer and position in its list).
type Placed = (Vec<Vec<WriteDone>>, HashMap<(usize, usize), Coverage>);

/// Places one writer's reads in its stream.
///
/// The stream is the writer's writes one after the other, each cut to the count
/// it reported. Each reader's reads of this writer come in stream order, so a
/// placement is a merge of the readers' sequences: a depth-first search over
/// how many reads of each reader are placed, the stream offset following from
/// that. A read may come next if its bytes are the stream's at that offset, it
/// stays inside one write, it overlapped that write in time (for an async
/// write, whose bytes may be staged: it returned after the write started), it
/// started before any close of the write half returned unless the write is
/// async, and no other reader's next read had returned before it started (that
/// one was first). Readers may leave the stream's end unread only where it is
/// async writes' (staged bytes, which a close of the read half discards) or
/// elastic writes' (see [`WriteDone::elastic`]); an elastic write's tail may
/// also be left unread before later writes.
struct Tiler<'a, 'b> {
    /// The writer.
    w: usize,
    /// Its writes, in order.
    writes: &'a [WriteDone],
    /// `bounds[i]`: stream offset where write `i` starts; last: the total.
    bounds: Vec<usize>,
    /// `lossy[i]`: every write from `i` on that reported bytes is async.
    lossy: Vec<bool>,
    /// Per reader, its reads of this writer.
    seqs: &'a [Vec<Chunk<'b>>],
    /// Per reader, prefix sums of its read lengths.
    prefix: Vec<Vec<usize>>,
    /// States (readers' positions, bytes skipped) already found to lead
    /// nowhere.
    dead: HashSet<(u64, usize)>,
    /// The deepest state reached, for the report.
    deepest: (usize, Vec<usize>),
}

/// Most states a search may visit before it gives up.
const SEARCH_BUDGET: usize = 4_000_000;

impl<'a, 'b> Tiler<'a, 'b> {
    /// A search over `seqs` for writer `w`'s `writes`.
    fn new(w: usize, writes: &'a [WriteDone], seqs: &'a [Vec<Chunk<'b>>]) -> Self {
        let mut bounds = vec![0];
        for write in writes {
            bounds.push(bounds.last().expect("not empty") + write.n);
        }
        let mut lossy = vec![true; writes.len() + 1];
        for i in (0..writes.len()).rev() {
            lossy[i] = lossy[i + 1] && (writes[i].asynch || writes[i].elastic || writes[i].n == 0);
        }
        let prefix = seqs
            .iter()
            .map(|seq| {
                let mut p = vec![0];
                for c in seq {
                    p.push(p.last().expect("not empty") + c.bytes.len());
                }
                p
            })
            .collect();
        Tiler {
            w,
            writes,
            bounds,
            lossy,
            seqs,
            prefix,
            dead: HashSet::new(),
            deepest: (0, vec![0; seqs.len()]),
        }
    }

    /// The placement, as (reader, read, write position) in stream order.
    fn solve(&mut self) -> Option<Vec<(usize, usize, usize)>> {
        let mut idx = vec![0; self.seqs.len()];
        let mut path = Vec::new();
        self.search(&mut idx, 0, &mut path).then_some(path)
    }

    /// The search from state `idx`, with `skipped` bytes of elastic writes
    /// left unread; on success `path` holds the placement.
    fn search(
        &mut self,
        idx: &mut Vec<usize>,
        skipped: usize,
        path: &mut Vec<(usize, usize, usize)>,
    ) -> bool {
        let total = *self.bounds.last().expect("not empty");
        let offset: usize = skipped
            + idx
                .iter()
                .zip(&self.prefix)
                .map(|(&i, p)| p[i])
                .sum::<usize>();
        if path.len() > self.deepest.0 {
            self.deepest = (path.len(), idx.clone());
        }
        if idx.iter().zip(self.seqs).all(|(&i, s)| i == s.len()) {
            return offset == total
                || self.lossy[self.bounds.partition_point(|&b| b <= offset) - 1];
        }
        let key = (
            idx.iter().fold(0u64, |key, &i| (key << 16) | i as u64),
            skipped,
        );
        if self.dead.contains(&key) || self.dead.len() > SEARCH_BUDGET {
            return false;
        }
        for q in 0..self.seqs.len() {
            let Some(c) = self.seqs[q].get(idx[q]) else {
                continue;
            };
            let len = c.bytes.len();
            let blocked = (0..self.seqs.len())
                .any(|o| o != q && self.seqs[o].get(idx[o]).is_some_and(|h| h.end < c.start));
            if blocked || offset + len > total {
                continue;
            }
            let wi = self.bounds.partition_point(|&b| b <= offset) - 1;
            let write = &self.writes[wi];
            let local = offset - self.bounds[wi];
            let overlaps = if write.asynch {
                write.start < c.end
            } else {
                !c.late && c.start < write.end && write.start < c.end
            };
            if local + len > write.n || !overlaps {
                continue;
            }
            let matches = c
                .bytes
                .iter()
                .enumerate()
                .all(|(i, &b)| b == payload_byte(self.w, write.k, local + i));
            if !matches {
                continue;
            }
            idx[q] += 1;
            path.push((q, idx[q] - 1, wi));
            if self.search(idx, skipped, path) {
                return true;
            }
            path.pop();
            idx[q] -= 1;
        }
        // The rest of an elastic write unread.
        if offset < total {
            let wi = self.bounds.partition_point(|&b| b <= offset) - 1;
            if self.writes[wi].elastic {
                let rest = self.bounds[wi + 1] - offset;
                if self.search(idx, skipped + rest, path) {
                    return true;
                }
            }
        }
        self.dead.insert(key);
        false
    }

    /// Why the search failed, for the report.
    fn explain(&self) -> String {
        let total = *self.bounds.last().expect("not empty");
        let read: usize = self
            .prefix
            .iter()
            .map(|p| p.last().expect("not empty"))
            .sum();
        let mut out = format!(
            "the reads of W{}'s bytes do not tile its writes: it reported {total} bytes \
             written, readers got {read}",
            self.w
        );
        if self.dead.len() > SEARCH_BUDGET {
            out += " (search budget exhausted)";
        }
        let (depth, idx) = &self.deepest;
        let offset: usize = idx.iter().zip(&self.prefix).map(|(&i, p)| p[i]).sum();
        out += &format!("; placed at most {depth} reads, up to stream offset {offset}");
        for (q, (&i, seq)) in idx.iter().zip(self.seqs).enumerate() {
            if let Some(c) = seq.get(i) {
                let head: Vec<String> =
                    c.bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
                out += &format!(
                    "; R{q}'s next read {} has {} bytes [{}]",
                    c.at,
                    c.bytes.len(),
                    head.join(" ")
                );
            }
        }
        let writes: Vec<String> = self
            .writes
            .iter()
            .map(|w| format!("#{}:{} [{}..{}]", w.k, w.n, w.start, w.end))
            .collect();
        out += &format!("; writes (number:count): {}", writes.join(" "));
        out
    }
}
