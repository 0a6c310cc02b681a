//! Loom models of gopipe's protocol.
//!
//! The models live in `tests/`, one file per topic (`handoff.rs`, `close.rs`,
//! `timeout.rs`, `hardening.rs`, `lend.rs`, `async.rs`, `deadline.rs`,
//! `zero_copy.rs`); this library only holds
//! what they share: [`model`] (and [`model_with_bound`]), which runs a scenario
//! under loom and reports how many interleavings it explored, and small read
//! and write loops, blocking and async, that record exactly what each side saw,
//! and a [`Sink`] for `PipeReader::write_to` that can fail or panic on cue.
//!
//! Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg gopipe_loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p loom-tests --release
//! ```
//!
//! Without `--cfg gopipe_loom` gopipe is built on its real primitives, which
//! loom cannot schedule, so every test file compiles to nothing.

use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

use gopipe::{PipeReader, PipeWriter};

/// Runs `scenario` under loom in every interleaving within the bounds taken
/// from the `LOOM_*` environment variables, then prints on stderr how many
/// interleavings it explored and how long that took.
///
/// The count is kept in a std atomic, outside what loom tracks, so counting adds
/// no interleavings of its own. Use `--nocapture` to see the line.
pub fn model<F>(name: &str, scenario: F)
where
    F: Fn() + Send + Sync + 'static,
{
    check(name, loom::model::Builder::new(), scenario);
}

/// [`model`] with the preemption bound capped at `cap`, for a scenario with so
/// many threads that the suite's bound would take too long. A lower bound from
/// `LOOM_MAX_PREEMPTIONS` still applies; a higher one is cut to `cap`.
pub fn model_with_bound<F>(name: &str, cap: usize, scenario: F)
where
    F: Fn() + Send + Sync + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(cap, |b| b.min(cap)));
    check(name, builder, scenario);
}

/// Runs `scenario` with `builder` and prints the model's line.
fn check<F>(name: &str, builder: loom::model::Builder, scenario: F)
where
    F: Fn() + Send + Sync + 'static,
{
    let iterations = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&iterations);
    let bound = builder.preemption_bound;
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        scenario();
    });
    let bound = bound.map_or_else(|| "none".to_owned(), |b| b.to_string());
    eprintln!(
        "loom model {name}: {} interleavings in {:.2?} (preemption bound {bound})",
        iterations.load(Ordering::Relaxed),
        start.elapsed(),
    );
}

/// Silences the panic message of gopipe's injected fault
/// (`gopipe::__loom_panic_after_next_offer`) and of a [`Sink`] told to panic,
/// which a model raises on purpose in every interleaving; every other panic is
/// reported by the hook that was installed before. Idempotent.
pub fn quiet_failpoint_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let injected = info.payload().downcast_ref::<&str>().is_some_and(|msg| {
                msg.starts_with("gopipe failpoint") || msg.starts_with(SINK_PANIC)
            });
            if !injected {
                previous(info);
            }
        }));
    });
}

/// The payload of a [`Sink`]'s injected panic.
const SINK_PANIC: &str = "loom-tests: the sink panics";

/// What a [`Sink`] does once it has taken its limit.
#[derive(Clone, Copy, Debug)]
pub enum SinkEnd {
    /// Fails every later call with an `io::Error` of kind `Other`.
    Fails,
    /// Panics in the next call (silenced by [`quiet_failpoint_panics`]).
    Panics,
}

/// A `Write` for `PipeReader::write_to` that records the bytes it took: at most
/// `per_call` bytes a call, and, after `limit` bytes in all, it fails or panics
/// (`end`).
#[derive(Debug)]
pub struct Sink {
    /// The bytes taken, in order.
    pub got: Vec<u8>,
    /// The most bytes one call takes.
    per_call: usize,
    /// How many bytes it takes in all before `end`.
    limit: usize,
    /// What happens past the limit.
    end: SinkEnd,
}

impl Sink {
    /// A sink that takes everything, `per_call` bytes at a time.
    pub fn new(per_call: usize) -> Self {
        Self::limited(per_call, usize::MAX, SinkEnd::Fails)
    }

    /// A sink that takes `limit` bytes, `per_call` at a time, then fails or
    /// panics.
    pub fn limited(per_call: usize, limit: usize, end: SinkEnd) -> Self {
        Self {
            got: Vec::new(),
            per_call,
            limit,
            end,
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.got.len() >= self.limit {
            match self.end {
                SinkEnd::Fails => return Err(io::Error::other("the sink is full")),
                SinkEnd::Panics => std::panic::panic_any(SINK_PANIC),
            }
        }
        let n = buf
            .len()
            .min(self.per_call)
            .min(self.limit - self.got.len());
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Asserts that `err` is the error of a [`Sink`] past its limit.
#[track_caller]
pub fn assert_sink_full(err: &io::Error) {
    assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");
    assert_eq!(err.to_string(), "the sink is full");
}

/// How a run of reads ended.
#[derive(Debug)]
pub enum ReadEnd {
    /// A read returned `Ok(0)`: end of file.
    Eof,
    /// A read failed.
    Failed(io::Error),
    /// The reader stopped on its own after the number of bytes it wanted.
    Enough,
}

/// Reads with a buffer of `chunk` bytes until end of file, an error, or `want`
/// bytes in all; returns the bytes and how it ended.
///
/// Every successful read must return between 1 and `chunk` bytes.
pub fn read_until(reader: &PipeReader, chunk: usize, want: usize) -> (Vec<u8>, ReadEnd) {
    let mut got = Vec::new();
    let mut buf = vec![0; chunk];
    loop {
        if got.len() >= want {
            return (got, ReadEnd::Enough);
        }
        match { reader }.read(&mut buf) {
            Ok(0) => return (got, ReadEnd::Eof),
            Ok(n) => {
                assert!(n <= chunk, "a read returned {n} bytes into {chunk}");
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) => return (got, ReadEnd::Failed(e)),
        }
    }
}

/// Reads with `read_vectored` into `bufs` buffers of one byte each until end of
/// file or an error; returns what each call returned (every call's bytes
/// apart) and how it ended.
pub fn read_vectored_to_end(reader: &PipeReader, bufs: usize) -> (Vec<Vec<u8>>, ReadEnd) {
    let mut calls = Vec::new();
    let mut storage = vec![[0u8; 1]; bufs];
    loop {
        let mut slices: Vec<io::IoSliceMut<'_>> =
            storage.iter_mut().map(|b| io::IoSliceMut::new(b)).collect();
        match { reader }.read_vectored(&mut slices) {
            Ok(0) => return (calls, ReadEnd::Eof),
            Ok(n) => {
                assert!(n <= bufs, "a vectored read returned {n} bytes into {bufs}");
                drop(slices);
                calls.push(storage.iter().take(n).map(|b| b[0]).collect());
            }
            Err(e) => return (calls, ReadEnd::Failed(e)),
        }
    }
}

/// Reads with a buffer of `chunk` bytes until end of file or an error.
pub fn read_to_end(reader: &PipeReader, chunk: usize) -> (Vec<u8>, ReadEnd) {
    read_until(reader, chunk, usize::MAX)
}

/// Writes `bytes` with as many calls as it takes, stopping at the first error;
/// returns how many bytes the calls reported written and that error.
///
/// A call that reports `Ok(n)` with `0 < n < len` (a partial write) is followed
/// by another call for the rest, as `write_all` would; `Ok(0)` for a non-empty
/// slice is a protocol violation.
pub fn write_until_error(writer: &PipeWriter, bytes: &[u8]) -> (usize, Option<io::Error>) {
    let mut written = 0;
    while written < bytes.len() {
        match { writer }.write(&bytes[written..]) {
            Ok(0) => panic!("a write of {} bytes returned Ok(0)", bytes.len() - written),
            Ok(n) => written += n,
            Err(e) => return (written, Some(e)),
        }
    }
    (written, None)
}

/// Asserts that `err` is gopipe's "read/write on closed pipe" error.
#[track_caller]
pub fn assert_closed_pipe(err: &io::Error) {
    assert!(
        gopipe::is_closed_pipe(err),
        "expected ClosedPipe, got {err:?}"
    );
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

/// Polls one async read of `reader` into `buf` (through `futures_io::AsyncRead`
/// on `&PipeReader`).
pub fn poll_read(
    reader: &PipeReader,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    AsyncRead::poll_read(Pin::new(&mut { reader }), cx, buf)
}

/// Polls one async write of `buf` to `writer` (through
/// `futures_io::AsyncWrite` on `&PipeWriter`).
pub fn poll_write(
    writer: &PipeWriter,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    AsyncWrite::poll_write(Pin::new(&mut { writer }), cx, buf)
}

/// Polls `writer`'s consumed wait (the stateless one: readers have taken
/// every byte accepted so far).
pub fn poll_consumed(writer: &PipeWriter, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    writer.poll_consumed(cx)
}

/// A task on the calling loom thread: runs `f` as the body of a future until it
/// returns `Ready`, parking the thread between polls until the future's waker
/// is woken (`loom::future::block_on`). A waker that nobody wakes is a loom
/// deadlock, so every lost wake-up of a task fails the model.
pub fn task<T>(f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    loom::future::block_on(poll_fn(f))
}

/// The async [`read_until`]: a task reads with a buffer of `chunk` bytes until
/// end of file, an error, or `want` bytes in all.
pub fn async_read_until(reader: &PipeReader, chunk: usize, want: usize) -> (Vec<u8>, ReadEnd) {
    let mut got = Vec::new();
    let mut buf = vec![0; chunk];
    let end = task(|cx| loop {
        if got.len() >= want {
            return Poll::Ready(ReadEnd::Enough);
        }
        match poll_read(reader, cx, &mut buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(0)) => return Poll::Ready(ReadEnd::Eof),
            Poll::Ready(Ok(n)) => {
                assert!(n <= chunk, "a read returned {n} bytes into {chunk}");
                got.extend_from_slice(&buf[..n]);
            }
            Poll::Ready(Err(e)) => return Poll::Ready(ReadEnd::Failed(e)),
        }
    });
    (got, end)
}

/// The async [`read_to_end`].
pub fn async_read_to_end(reader: &PipeReader, chunk: usize) -> (Vec<u8>, ReadEnd) {
    async_read_until(reader, chunk, usize::MAX)
}

/// The async [`write_until_error`]: a task writes `bytes` with as many polls as
/// it takes, stopping at the first error; returns how many bytes the writes
/// accepted and that error. `Ready(Ok(0))` for a non-empty slice is a protocol
/// violation.
pub fn async_write_until_error(writer: &PipeWriter, bytes: &[u8]) -> (usize, Option<io::Error>) {
    let mut written = 0;
    let err = task(|cx| loop {
        if written == bytes.len() {
            return Poll::Ready(None);
        }
        match poll_write(writer, cx, &bytes[written..]) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(0)) => panic!("an async write of {} bytes accepted 0", bytes.len()),
            Poll::Ready(Ok(n)) => written += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Some(e)),
        }
    });
    (written, err)
}

/// A task awaits `writer.consumed()`: ready once readers took every byte
/// accepted before its first poll.
pub fn async_consumed(writer: &PipeWriter) -> io::Result<()> {
    let mut consumed = std::pin::pin!(writer.consumed());
    task(|cx| consumed.as_mut().poll(cx))
}

/// Counts interleavings with each of two outcomes, and checks after the model
/// that both happened.
pub struct Outcomes {
    /// The model's name, for the message.
    name: &'static str,
    /// Interleavings with the first outcome.
    first: AtomicUsize,
    /// Interleavings with the second outcome.
    second: AtomicUsize,
}

impl Outcomes {
    /// No interleaving counted yet.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            first: AtomicUsize::new(0),
            second: AtomicUsize::new(0),
        }
    }

    /// Counts one interleaving: the first outcome if `first`, else the second.
    pub fn record(&self, first: bool) {
        let counter = if first { &self.first } else { &self.second };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Asserts that loom explored both outcomes; prints the counts.
    pub fn assert_both(&self, what: [&str; 2]) {
        let (a, b) = (
            self.first.load(Ordering::Relaxed),
            self.second.load(Ordering::Relaxed),
        );
        eprintln!("  {}: {a} {}, {b} {}", self.name, what[0], what[1]);
        assert!(a > 0 && b > 0, "{}: not both outcomes explored", self.name);
    }
}
