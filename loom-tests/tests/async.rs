//! Loom models of the async halves (issue 10): tasks reading and writing
//! through `futures_io::AsyncRead` / `AsyncWrite`, against threads and each
//! other.
//!
//! A task is a `loom::future::block_on` of a `poll_fn` on a loom thread (see
//! `loom_tests::task`): between two polls the thread parks until the task's
//! waker is woken, so a lost wake-up of a task is a loom deadlock. A task that
//! reads copies from a thread's offer or from the stage (the pipe's own ring,
//! `src/engine/stage.rs`); a task that writes copies into a thread's lent
//! buffer if nothing is staged, and stages the rest or all of it.
//!
//! Some models also count, in std atomics outside what loom tracks, which of
//! two outcomes each interleaving had, and assert after the model that both
//! were explored.
#![cfg(gopipe_loom)]

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use loom::thread;
use loom_tests::{
    assert_closed_pipe, async_consumed, async_read_to_end, async_read_until,
    async_write_until_error, model, poll_consumed, poll_read, read_to_end, task, ReadEnd,
};

/// Counts interleavings with each of two outcomes, and checks after the model
/// that both happened.
struct Outcomes {
    /// The model's name, for the message.
    name: &'static str,
    /// Interleavings with the first outcome.
    first: AtomicUsize,
    /// Interleavings with the second outcome.
    second: AtomicUsize,
}

impl Outcomes {
    /// No interleaving counted yet.
    const fn new(name: &'static str) -> Self {
        Self {
            name,
            first: AtomicUsize::new(0),
            second: AtomicUsize::new(0),
        }
    }

    /// Counts one interleaving: the first outcome if `first`, else the second.
    fn record(&self, first: bool) {
        let counter = if first { &self.first } else { &self.second };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Asserts that loom explored both outcomes; prints the counts.
    fn assert_both(&self, what: [&str; 2]) {
        let (a, b) = (
            self.first.load(Ordering::Relaxed),
            self.second.load(Ordering::Relaxed),
        );
        eprintln!("  {}: {a} {}, {b} {}", self.name, what[0], what[1]);
        assert!(a > 0 && b > 0, "{}: not both outcomes explored", self.name);
    }
}

/// (a) A blocking writer thread writes `ab` and drops its half while a task
/// reads a byte at a time: the task gets `a`, `b` (the second from the rest
/// the first read put back on offer), then end of file when the write half
/// closes, which must wake the task.
#[test]
fn sync_writer_to_async_reader() {
    model("sync_writer_to_async_reader", || {
        let (reader, mut writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            assert_eq!(writer.write(b"ab").unwrap(), 2);
            // Dropping the only writer closes the write half: end of file.
        });
        let (got, end) = async_read_to_end(&reader, 1);
        w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
    });
}

/// Which way the async write of [`async_writer_to_sync_reader`] found its
/// reader: the first consumed poll found the bytes gone, or still staged.
static WRITER_TO_SYNC_READER: Outcomes = Outcomes::new("async_writer_to_sync_reader");

/// (b) A task writes `ab`, waits for `consumed` and drops its half while a blocking reader
/// thread reads a byte at a time. The write copies `a` into the reader's lent
/// buffer and stages `b` if the reader lent first, and otherwise stages both
/// (and a reader that lends after that takes its lend back for the staged
/// bytes, or is rung by the stager): the reader gets `ab` in order, then end
/// of file; the wait returns once the reader took `b`.
#[test]
fn async_writer_to_sync_reader() {
    model("async_writer_to_sync_reader", || {
        let (reader, writer) = gopipe::pipe();
        // The writer task runs on the spawned thread: loom runs the main
        // thread first, so the reader lends before the write in the first
        // interleavings and after it in others.
        let w = thread::spawn(move || {
            let (n, err) = async_write_until_error(&writer, b"ab");
            assert!(err.is_none(), "{err:?}");
            assert_eq!(n, 2);
            let mut first = true;
            task(|cx| {
                let res = poll_consumed(&writer, cx);
                if std::mem::take(&mut first) {
                    WRITER_TO_SYNC_READER.record(res.is_ready());
                }
                res
            })
            .unwrap();
            // Dropping the only writer closes the write half: end of file.
        });
        let (got, end) = read_to_end(&reader, 1);
        w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
    });
    WRITER_TO_SYNC_READER.assert_both(["flushed at the first poll", "waited for the reader"]);
}

/// (c) A task writes `ab` (staged: a task never lends) and flushes while a
/// task on another thread reads a byte at a time. Once the flush returns, the
/// model closes the read half, which discards staged bytes: so the reader
/// still gets both bytes only if the flush waited until it had taken them.
#[test]
fn async_writer_to_async_reader_consumed() {
    model("async_writer_to_async_reader_consumed", || {
        let (reader, writer) = gopipe::pipe();
        let closer = reader.clone();
        let r = thread::spawn(move || async_read_until(&reader, 1, 2));
        let (n, err) = async_write_until_error(&writer, b"ab");
        assert!(err.is_none(), "{err:?}");
        assert_eq!(n, 2);
        async_consumed(&writer).unwrap();
        closer.close();
        let (got, end) = r.join().unwrap();
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        assert_eq!(
            got, b"ab",
            "the flush returned before the reader took the bytes"
        );
        drop(writer);
    });
}

/// Whether the first read poll of [`dropped_pending_read_racing_write`] was
/// `Pending` (the case the model is about) or found the write.
static DROPPED_READ: Outcomes = Outcomes::new("dropped_pending_read_racing_write");

/// (d) A task polls a read once through a clone of the read half and gives
/// up on it (its waker stays listed on the offer doorbell under the clone's
/// place, as a dropped read future's does while its handle lives) while a
/// blocking writer writes `ab` and drops its half; a second read task then
/// reads to the end through the first handle. A `Pending` poll took nothing,
/// and the stale waker does not eat the second task's wake-up: the two reads
/// together get `ab`, then end of file.
#[test]
fn dropped_pending_read_racing_write() {
    model("dropped_pending_read_racing_write", || {
        let (reader, mut writer) = gopipe::pipe();
        let idle = reader.clone();
        let w = thread::spawn(move || {
            assert_eq!(writer.write(b"ab").unwrap(), 2);
        });
        let mut buf = [0u8; 2];
        let first = task(|cx| Poll::Ready(poll_read(&idle, cx, &mut buf)));
        DROPPED_READ.record(first.is_pending());
        let mut got = match first {
            Poll::Pending => Vec::new(),
            Poll::Ready(res) => {
                let n = res.unwrap();
                assert!(n > 0, "end of file before the write");
                buf[..n].to_vec()
            }
        };
        let (rest, end) = async_read_to_end(&reader, 2);
        got.extend_from_slice(&rest);
        w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
        drop(idle);
    });
    DROPPED_READ.assert_both(["first polls pending", "first polls ready"]);
}

/// (e) A task writes `a` and flushes while a blocking reader thread makes one
/// read with a timeout (under loom the deadline can fall wherever the read
/// would sleep) and then closes the read half. The flush returns `Ok` only if
/// the reader got `a`, and otherwise fails with the close error (`ClosedPipe`);
/// a write that the close beat fails with it too, having accepted nothing.
#[test]
fn reader_close_racing_pending_consumed() {
    model("reader_close_racing_pending_consumed", || {
        let (reader, writer) = gopipe::pipe();
        let r = thread::spawn(move || {
            reader
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let mut buf = [0u8; 1];
            let got = match (&reader).read(&mut buf) {
                Ok(n) => buf[..n].to_vec(),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                    Vec::new()
                }
            };
            reader.close();
            got
        });
        let (n, err) = async_write_until_error(&writer, b"a");
        let flushed = match err {
            None => Some(async_consumed(&writer)),
            Some(e) => {
                assert_closed_pipe(&e);
                None
            }
        };
        let got = r.join().unwrap();
        match flushed {
            Some(Ok(())) => assert_eq!(got, b"a", "flushed, but the reader got nothing"),
            Some(Err(e)) => assert_closed_pipe(&e),
            None => {
                assert_eq!(n, 0);
                assert!(got.is_empty(), "{got:?}");
            }
        }
    });
}

/// (f) A task writes `ab` and drops its half at once (no flush) while a
/// blocking reader thread reads a byte at a time: the bytes the write staged
/// are still read after the close, in order, and then the reader gets end of
/// file.
#[test]
fn writer_drop_with_staged_bytes() {
    model("writer_drop_with_staged_bytes", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            let (n, err) = async_write_until_error(&writer, b"ab");
            assert!(err.is_none(), "{err:?}");
            assert_eq!(n, 2);
        });
        let (got, end) = read_to_end(&reader, 1);
        w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
    });
}

/// (g) A task writes `a` through one writer clone and drops it, then the same
/// thread makes a blocking write of `b` through another clone, while a
/// blocking reader thread reads with a 2-byte buffer: the blocking write waits
/// for the staged `a` to drain before it offers or fills a lend, so the reader
/// sees `a` before `b`.
#[test]
fn staged_bytes_before_later_blocking_write() {
    model("staged_bytes_before_later_blocking_write", || {
        let (reader, writer) = gopipe::pipe();
        let other = writer.clone();
        let w = thread::spawn(move || {
            let (n, err) = async_write_until_error(&writer, b"a");
            assert!(err.is_none(), "{err:?}");
            assert_eq!(n, 1);
            drop(writer);
            assert_eq!((&other).write(b"b").unwrap(), 1);
        });
        let (got, end) = read_to_end(&reader, 2);
        w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
    });
}
