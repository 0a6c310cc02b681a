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

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use loom::thread;
use loom_tests::{
    assert_closed_pipe, async_consumed, async_read_to_end, async_read_until,
    async_write_until_error, model, model_with_bound, poll_consumed, poll_read, poll_write,
    read_to_end, read_until, task, Outcomes, ReadEnd,
};

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

/// The stage's capacity (`STAGE_CAP` in `src/engine/stage.rs`): an async write
/// of more bytes stages that much and then waits for room with the rest.
const STAGE_CAP: usize = 64 << 10;

/// Whether the write of [`async_write_on_full_stage_racing_read_close`] filled
/// the stage (and then waited for room or saw the close) or met the close
/// first.
static FULL_STAGE: Outcomes = Outcomes::new("async_write_on_full_stage_racing_read_close");

/// (h) A task writes `STAGE_CAP + 1` bytes and nobody reads: the first poll
/// fills the stage, the next finds no room and registers on `Bell::Stage`,
/// while another thread closes the read half. The write must end with
/// `ClosedPipe`, having accepted the full stage or nothing, and never hang.
/// Guards the look at the close after registering for room in `poll_write`
/// (a close's wake-all that ran before the registration finds nobody; the
/// close does not take the ring's lock): mutant `full-stage-write-no-second-look`.
#[test]
fn async_write_on_full_stage_racing_read_close() {
    model("async_write_on_full_stage_racing_read_close", || {
        let (reader, writer) = gopipe::pipe();
        let closer = thread::spawn(move || reader.close());
        // Copies are not interleaving points: the size costs loom nothing.
        let bytes = vec![b'x'; STAGE_CAP + 1];
        let (n, err) = async_write_until_error(&writer, &bytes);
        closer.join().unwrap();
        assert_closed_pipe(&err.expect("a write of more than the stage, nobody reading, ended Ok"));
        assert!(n == 0 || n == STAGE_CAP, "accepted {n}");
        FULL_STAGE.record(n == STAGE_CAP);
    });
    FULL_STAGE.assert_both(["filled the stage", "met the close first"]);
}

/// Whether the first poll of the `consumed` of [`take_back_racing_consumed`]
/// was `Pending` while the write of `b` then failed (the case the model is
/// about: a take-back may ring while it waits), or anything else.
static TAKE_BACK: Outcomes = Outcomes::new("take_back_racing_consumed");

/// (i) A task writes `a`, then `b` (each staged) through one writer clone and
/// then reads to the end with a blocking reader, keeping the read half open;
/// the main thread closes the write half through another clone and awaits
/// `consumed()` on it. The close can land while `b` is being staged, and the
/// write then takes `b` back (`Ring::unpush`) and rings `Bell::Stage`, while
/// the `consumed` may be pending on `a`. The `consumed` must end `Ok` (the
/// read half never closes before it returns), and the reader gets exactly
/// the bytes the writes accepted, then end of file. Meant to guard the ring
/// after a take-back (mutant `take-back-skips-stage-bell`), which is
/// equivalent: see "Known limits" in the README.
#[test]
fn take_back_racing_consumed() {
    model("take_back_racing_consumed", || {
        let (reader, writer) = gopipe::pipe();
        let closer = writer.clone();
        let w = thread::spawn(move || {
            let a = async_write_until_error(&writer, b"a");
            let b = async_write_until_error(&writer, b"b");
            let (got, end) = read_to_end(&reader, 2);
            // The read half stays open until the model has checked `consumed`.
            (a, b, got, end, reader, writer)
        });
        closer.close();
        let mut consumed = std::pin::pin!(closer.consumed());
        let mut first = None;
        let res = task(|cx| {
            let res = consumed.as_mut().poll(cx);
            first.get_or_insert(res.is_pending());
            res
        });
        let ((na, ea), (nb, eb), got, end, reader, writer) = w.join().unwrap();
        res.expect("consumed failed with the read half open");
        let mut expected = Vec::new();
        for ((n, err), byte) in [((na, ea), b'a'), ((nb, eb), b'b')] {
            match err {
                None => {
                    assert_eq!(n, 1);
                    expected.push(byte);
                }
                Some(e) => {
                    assert_closed_pipe(&e);
                    assert_eq!(n, 0);
                }
            }
        }
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, expected);
        TAKE_BACK.record(first == Some(true) && expected == b"a");
        drop((reader, writer));
    });
    TAKE_BACK.assert_both(["pending on `a` while `b` failed", "other"]);
}

/// Whether the task of [`task_waits_for_write_side_held_by_thread`] polled
/// `Pending` (it waited for the write side) or never did.
static WRITE_SIDE: Outcomes = Outcomes::new("task_waits_for_write_side_held_by_thread");

/// (j) A thread makes a blocking write of `ab` through one writer clone (it
/// holds the write side until a reader has taken both bytes) while a task
/// writes `c` through another clone (a 1-byte write never waits for room, so
/// its `Pending` is a wait on `Bell::Lock`), and the main thread reads with a
/// 3-byte buffer until it has 3 bytes. The task must be woken when the
/// thread frees the write side, and the reader gets `abc` or `cab` (the
/// blocking write waits for staged `c` to drain). Guards the second
/// `try_lock` after registering on `Bell::Lock` in `poll_write` (a release
/// between the first attempt and the registration rings nobody): mutant
/// `lock-wait-no-second-try`.
#[test]
fn task_waits_for_write_side_held_by_thread() {
    model("task_waits_for_write_side_held_by_thread", || {
        let (reader, writer) = gopipe::pipe();
        let other = writer.clone();
        let w = thread::spawn(move || {
            assert_eq!((&writer).write(b"ab").unwrap(), 2);
            writer
        });
        let t = thread::spawn(move || {
            let mut waited = false;
            let res = task(|cx| {
                let res = poll_write(&other, cx, b"c");
                waited |= res.is_pending();
                res
            });
            assert_eq!(res.unwrap(), 1);
            (waited, other)
        });
        let (got, end) = read_until(&reader, 3, 3);
        let writer = w.join().unwrap();
        let (waited, other) = t.join().unwrap();
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        assert!(got == b"abc" || got == b"cab", "{got:?}");
        WRITE_SIDE.record(waited);
        drop((writer, other));
    });
    WRITE_SIDE.assert_both(["waited for the write side", "never waited"]);
}

/// (j) The same wait ended by a close: a thread's blocking write of `ab`
/// holds the write side with no reader, a task writes `c` through another
/// writer clone, and a third thread closes the read half. The blocking write
/// fails with `ClosedPipe`; the task's write is `Ok(1)` if it staged `c`
/// before the close, else `ClosedPipe` with nothing accepted; the task is
/// never left pending. It does not kill `lock-wait-no-close-look`:
/// the blocking write leaves on the close and frees the write side, whose
/// ring wakes the task anyway; [`task_waits_for_write_side_held_during_a_sink`]
/// does.
#[test]
fn task_waits_for_write_side_racing_read_close() {
    model("task_waits_for_write_side_racing_read_close", || {
        let (reader, writer) = gopipe::pipe();
        let other = writer.clone();
        let w = thread::spawn(move || {
            assert_closed_pipe(&(&writer).write(b"ab").unwrap_err());
            writer
        });
        let closer = thread::spawn(move || reader.close());
        let (n, err) = async_write_until_error(&other, b"c");
        let writer = w.join().unwrap();
        closer.join().unwrap();
        match err {
            // Staged before the close (nobody reads it).
            None => assert_eq!(n, 1),
            Some(e) => {
                assert_closed_pipe(&e);
                assert_eq!(n, 0);
            }
        }
        drop((writer, other));
    });
}

/// The sink of [`task_waits_for_write_side_held_during_a_sink`]: at its
/// first call it opens `called`, closes the read half (through its reader
/// clone) and then waits for `go` before taking one byte; every later call
/// takes its bytes at once.
struct CloseThenWait {
    /// The reader clone it closes the read half through, until it has.
    closer: Option<gopipe::PipeReader>,
    /// Opened at the first call, after the close.
    called: loom::sync::Arc<Gate>,
    /// Opened once the task has finished.
    go: loom::sync::Arc<Gate>,
}

/// A one-shot gate: `wait` returns once `open` was called (loom's `Notify`
/// alone may wake spuriously).
#[derive(Default)]
struct Gate {
    /// Set by `open`.
    opened: loom::sync::atomic::AtomicBool,
    /// Wakes the one waiter.
    notify: loom::sync::Notify,
}

impl Gate {
    /// Opens the gate.
    fn open(&self) {
        self.opened.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify();
    }

    /// Waits until the gate is open.
    fn wait(&self) {
        while !self.opened.load(std::sync::atomic::Ordering::SeqCst) {
            self.notify.wait();
        }
    }
}

impl Write for CloseThenWait {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(reader) = self.closer.take() {
            self.called.open();
            reader.close();
            self.go.wait();
            return Ok(1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// (j) The write side held while code the pipe does not control runs: a
/// blocking write of `ab` holds the write side, a `write_to` claims its offer
/// and hands it to a sink that closes the read half and then waits until the
/// task on the main thread has finished writing `c` through another writer
/// clone (the task starts when the sink is first called, to keep the model
/// small). The blocking write, woken by the close, recalls its lease and
/// waits, with no deadline, for the sink to give it back: it frees the write
/// side only after the task is done, so only the close can end the task's
/// wait, and a task that registers on `Bell::Lock` after the close's wake-all
/// must see the close on its look after registering. The task's write fails
/// with `ClosedPipe` having accepted nothing, the blocking write reports the
/// bytes the sink took (or the close), and nobody hangs. Guards the look at
/// the close after registering on `Bell::Lock` in `poll_write`: mutant
/// `lock-wait-no-close-look` (with a holder that leaves on the close, as in
/// [`task_waits_for_write_side_racing_read_close`], its release wakes the
/// task as well, and the look is not needed).
#[test]
fn task_waits_for_write_side_held_during_a_sink() {
    model_with_bound("task_waits_for_write_side_held_during_a_sink", 2, || {
        let (reader, writer) = gopipe::pipe();
        let other = writer.clone();
        let go = loom::sync::Arc::new(Gate::default());
        let called = loom::sync::Arc::new(Gate::default());
        let mut sink = CloseThenWait {
            closer: Some(reader.clone()),
            called: loom::sync::Arc::clone(&called),
            go: loom::sync::Arc::clone(&go),
        };
        let r = thread::spawn(move || (reader.write_to(&mut sink), reader));
        let w = thread::spawn(move || ((&writer).write(b"ab"), writer));
        // The sink runs while the blocking write holds the write side (its
        // bytes are the sink's), so the close races only with the task's
        // wait for the write side, which only the close can end.
        called.wait();
        let (n, err) = async_write_until_error(&other, b"c");
        go.open();
        let (drained, reader) = r.join().unwrap();
        let (wrote, writer) = w.join().unwrap();
        assert_eq!(n, 0);
        assert_closed_pipe(&err.expect("the task's write fails"));
        match wrote {
            // The sink took one byte, and the rest too if the writer had not
            // recalled its lease by its next call.
            Ok(k) => assert!(k == 1 || k == 2, "{k}"),
            Err(e) => assert_closed_pipe(&e),
        }
        if let Err(e) = drained {
            assert_closed_pipe(&e);
        }
        drop((reader, writer, other));
    });
}

/// Runs [`two_tasks_one_half_one_cancelled`] with task B reading through the
/// same handle as task A (`same`) or through a clone of it.
fn one_task_cancelled(same: bool) {
    let (reader, mut writer) = gopipe::pipe();
    let reader = Arc::new(reader);
    let b_reader = if same {
        Arc::clone(&reader)
    } else {
        Arc::new(reader.as_ref().clone())
    };
    let b = thread::spawn(move || async_read_to_end(&b_reader, 2));
    // Task A: one poll, then dropped (nothing is written yet: Pending).
    let mut buf = [0u8; 2];
    let first = task(|cx| Poll::Ready(poll_read(&reader, cx, &mut buf)));
    assert!(first.is_pending(), "{first:?}");
    assert_eq!(writer.write(b"ab").unwrap(), 2);
    drop(writer);
    let (got, end) = b.join().unwrap();
    assert!(matches!(end, ReadEnd::Eof), "{end:?}");
    assert_eq!(got, b"ab");
}

/// (k) Two tasks read through the same `&PipeReader`, so they share its one
/// place in the waker lists: task B (on a thread) reads to the end, task A
/// (on the main thread) polls once, `Pending`, and is dropped; then the main
/// thread writes `ab` and drops its writer. When B registered first, A's
/// registration pushed B's waker out of the place (into `displaced`), and
/// the write's ring (or the close's) must still wake B: B gets `ab`, then end
/// of file. Guards the displaced wakers in `TaskBells::register`: mutant
/// `displaced-waker-dropped`.
#[test]
fn two_tasks_one_half_one_cancelled() {
    model("two_tasks_one_half_one_cancelled", || {
        one_task_cancelled(true)
    });
}

/// (k) The same with task B on a clone of the reader (its own place): A's
/// stale waker and B's are both listed, and B gets `ab`, then end of file.
#[test]
fn two_tasks_two_clones_one_cancelled() {
    model("two_tasks_two_clones_one_cancelled", || {
        one_task_cancelled(false);
    });
}

/// A task's waker that counts its wake-ups, in a std atomic (outside what
/// loom tracks).
struct Wakes(AtomicUsize);

impl std::task::Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// (l2) Four tasks read through the same `&PipeReader`, each polling once
/// with a waker of its own on the main thread, while a thread writes `ab`:
/// the fourth `Pending` poll displaces a third waker, which under loom is a
/// flush (`FLUSH_MIN` is 3 there): the three displaced wakers are woken and
/// forgotten, racing the write's ring. Every poll that returned `Pending`
/// while bytes were to come has its waker woken by the end (by the flush or
/// the ring), the polls that
/// found bytes got `a` then `b`, and the pipe holds no waker. Guards
/// `Wakers::flush`: mutant `flush-forgets-unwoken` (flushed wakers dropped
/// without a wake-up: a task that still waited would hang).
#[test]
fn four_tasks_one_half_flush_racing_a_write() {
    model("four_tasks_one_half_flush_racing_a_write", || {
        let (reader, writer) = gopipe::pipe();
        let wakes: Vec<Arc<Wakes>> = (0..4)
            .map(|_| Arc::new(Wakes(AtomicUsize::new(0))))
            .collect();
        let write = thread::spawn(move || {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let wrote = poll_write(&writer, &mut cx, b"ab");
            assert!(matches!(wrote, Poll::Ready(Ok(2))), "{wrote:?}");
            writer
        });
        let mut pending = Vec::new();
        let mut got = Vec::new();
        let mut last_ready = 0;
        for (i, wakes) in wakes.iter().enumerate() {
            let waker = std::task::Waker::from(Arc::clone(wakes));
            let mut cx = std::task::Context::from_waker(&waker);
            let mut buf = [0u8; 1];
            match poll_read(&reader, &mut cx, &mut buf) {
                Poll::Pending => pending.push(i),
                Poll::Ready(Ok(1)) => {
                    got.push(buf[0]);
                    last_ready = i;
                }
                other => panic!("{other:?}"),
            }
        }
        let writer = write.join().unwrap();
        // A task that waited while bytes were written must have been woken:
        // bytes are left, or a later poll found some. (One that waited after
        // both bytes were read has nothing to be woken for.)
        for i in pending {
            if got.len() < 2 || i < last_ready {
                assert!(
                    wakes[i].0.load(Ordering::Relaxed) >= 1,
                    "task {i} returned Pending and was never woken ({got:?})"
                );
            }
        }
        assert!(b"ab".starts_with(&got), "{got:?}");
        drop(reader);
        assert_eq!(writer.__task_wakers_held(), 0);
    });
}

/// (l) Three tasks read through the same `&PipeReader` (one place in the
/// waker lists for all), each polling once with a waker of its own: two on
/// threads, one on the main thread, in every order. Nothing is written:
/// each poll is `Pending`, and no waker is woken (taking the place from
/// another task neither wakes nor drops that task's waker: an idle pipe
/// leaves every task asleep). Then a task stages `abc`: every waker is woken
/// exactly once, the three tasks poll again and get `abc` between them, and
/// the pipe holds no waker. Guards the displaced wakers in
/// `TaskBells::register`: mutants `displaced-waker-woken` (the busy loop of
/// issue 24: a wake-up on an idle pipe) and `displaced-waker-dropped` (a
/// waker never woken).
#[test]
fn three_tasks_one_half_idle_then_written() {
    model("three_tasks_one_half_idle_then_written", || {
        let (reader, writer) = gopipe::pipe();
        let reader = Arc::new(reader);
        let wakes: Vec<Arc<Wakes>> = (0..3)
            .map(|_| Arc::new(Wakes(AtomicUsize::new(0))))
            .collect();
        let poll_once = |reader: &gopipe::PipeReader, wakes: &Arc<Wakes>| {
            let waker = std::task::Waker::from(Arc::clone(wakes));
            let mut cx = std::task::Context::from_waker(&waker);
            let mut buf = [0u8; 1];
            let got = poll_read(reader, &mut cx, &mut buf);
            assert!(got.is_pending(), "{got:?}");
        };
        let threads: Vec<_> = wakes[..2]
            .iter()
            .map(|wakes| {
                let (reader, wakes) = (Arc::clone(&reader), Arc::clone(wakes));
                thread::spawn(move || poll_once(&reader, &wakes))
            })
            .collect();
        poll_once(&reader, &wakes[2]);
        for t in threads {
            t.join().unwrap();
        }
        let woken: Vec<usize> = wakes.iter().map(|w| w.0.load(Ordering::Relaxed)).collect();
        assert_eq!(woken, [0, 0, 0], "woken on an idle pipe");
        assert_eq!(writer.__task_wakers_held(), 3);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let wrote = poll_write(&writer, &mut cx, b"abc");
        assert!(matches!(wrote, Poll::Ready(Ok(3))), "{wrote:?}");
        let woken: Vec<usize> = wakes.iter().map(|w| w.0.load(Ordering::Relaxed)).collect();
        assert_eq!(
            woken,
            [1, 1, 1],
            "each waiting task woken once by the write"
        );
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut buf = [0u8; 1];
            let read = poll_read(&reader, &mut cx, &mut buf);
            assert!(matches!(read, Poll::Ready(Ok(1))), "{read:?}");
            got.push(buf[0]);
        }
        got.sort_unstable();
        assert_eq!(got, b"abc");
        assert_eq!(writer.__task_wakers_held(), 0);
    });
}

/// (q) The second close wakes a task that waits for it (issue 26: that close
/// now rings only the bells whose counts say a task waits, across the
/// `SeqCst` store of the half's error). A task writes `a` (staged: nobody
/// reads) and closes the write half, the first close; then it waits for
/// `consumed` through another handle, which can only end when the read half
/// closes, unread (`ClosedPipe`), or `Ok` if a reader took `a`, which none
/// does. A thread closes the read half, racing the task's registration.
#[test]
fn second_close_wakes_a_pending_consumed() {
    model("second_close_wakes_a_pending_consumed", || {
        let (reader, writer) = gopipe::pipe();
        let other = writer.clone();
        let r = thread::spawn(move || reader.close());
        let (n, err) = async_write_until_error(&writer, b"a");
        writer.close();
        let flushed = async_consumed(&other);
        r.join().unwrap();
        match err {
            None => assert_eq!(n, 1),
            // The read half closed before the write: it accepted nothing.
            Some(e) => {
                assert_closed_pipe(&e);
                assert_eq!(n, 0);
            }
        }
        match flushed {
            Err(e) => assert_closed_pipe(&e),
            Ok(()) => assert_eq!(n, 0, "consumed, but nobody read the byte"),
        }
    });
}
