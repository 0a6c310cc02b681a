//! Issue 24: whatever frees a waiter wakes it, with no waiter left to pass
//! a wake-up on. A drain claim's end (a `write_to` sink done with staged
//! bytes) wakes every reader and every other `write_to` waiting for it,
//! threads and tasks, on a closed pipe and an open one; and each sink call
//! that frees room in the stage wakes an async write waiting for room at
//! once, not when the claim ends.
//!
//! The threads that must be asleep before the claim ends are named, and the
//! test waits until Linux reports each of them sleeping (`/proc`), so the
//! wake-ups under test are real ones. The sinks block on channels the tests
//! release; every wait has a bound.

#![cfg(target_os = "linux")]

mod common;

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, wait_asleep, BOUND_SECS};
use gopipe::{PipeReader, PipeWriter};

/// A wait that must end at once once its cause happened: generous, for a
/// busy machine.
const PROMPT: Duration = Duration::from_secs(5);

/// Stages `bytes` with one async write that must be accepted at once.
fn stage(w: &PipeWriter, bytes: &[u8]) {
    let mut cx = Context::from_waker(Waker::noop());
    match tokio::io::AsyncWrite::poll_write(Pin::new(&mut &*w), &mut cx, bytes) {
        Poll::Ready(Ok(n)) => assert_eq!(n, bytes.len()),
        other => panic!("staging {} bytes: {other:?}", bytes.len()),
    }
}

/// A `write_to` sink that reports its first call, then blocks until
/// released, then takes `per_call` bytes a call.
struct HeldSink {
    /// Told at the first call.
    entered: Option<Sender<()>>,
    /// The release (a dropped sender releases too).
    release: Option<Receiver<()>>,
    /// Bytes a call takes at most.
    per_call: usize,
    /// Everything taken.
    got: Vec<u8>,
}

impl Write for HeldSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
        }
        if let Some(release) = self.release.take() {
            let _ = release.recv_timeout(Duration::from_secs(BOUND_SECS));
        }
        let n = buf.len().min(self.per_call);
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `write_to`'s thread: what its sink took, and its result.
type Drainer = thread::JoinHandle<(Vec<u8>, io::Result<u64>)>;

/// A `write_to` on `reader` whose sink holds the staged bytes until the
/// returned sender releases it (its thread is running the sink once this
/// returns).
fn held_drain(reader: &PipeReader) -> (Drainer, Sender<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let mut sink = HeldSink {
        entered: Some(entered_tx),
        release: Some(release_rx),
        per_call: usize::MAX,
        got: Vec::new(),
    };
    let drainer = reader.clone();
    let t = thread::spawn(move || {
        let res = drainer.write_to(&mut sink);
        (sink.got, res)
    });
    entered_rx
        .recv_timeout(Duration::from_secs(BOUND_SECS))
        .expect("the sink is called");
    (t, release_tx)
}

/// Starts a thread named `name` that reads `reader` to its end.
fn reader_thread(name: &str, reader: PipeReader) -> thread::JoinHandle<io::Result<Vec<u8>>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let mut got = Vec::new();
            (&reader).read_to_end(&mut got).map(|_| got)
        })
        .expect("spawn a reader")
}

/// Joins `t`, failing if it has not finished within [`PROMPT`] (it is then
/// left behind: the bound of the whole test ends it).
fn join_prompt<T>(t: thread::JoinHandle<T>, what: &str) -> T {
    let start = Instant::now();
    while !t.is_finished() {
        assert!(
            start.elapsed() < PROMPT,
            "{what} still waits {PROMPT:?} after the claim ended"
        );
        thread::yield_now();
    }
    t.join().expect("no panic")
}

/// Two thread readers wait for the claim a `write_to`'s sink holds on the
/// staged bytes, on a pipe whose write half closed before they started
/// (`close_first`) or while they waited (then the close wakes them from
/// their wait for bytes into the wait for the claim); when the sink takes
/// the bytes, both see end of file at once (one woken read passed nothing
/// on: the other waited for ever).
fn claim_end_wakes_both_readers(close_first: bool, names: [&str; 2]) {
    let (reader, writer) = gopipe::pipe();
    stage(&writer, b"abcdef");
    if close_first {
        writer.close();
    }
    let (drain, release) = held_drain(&reader);
    let a = reader_thread(names[0], reader.clone());
    let b = reader_thread(names[1], reader.clone());
    wait_asleep(&names);
    if !close_first {
        writer.close();
        wait_asleep(&names);
    }
    release.send(()).unwrap();
    let (got, res) = join_prompt(drain, "the write_to");
    assert_eq!((got.as_slice(), res.unwrap()), (&b"abcdef"[..], 6));
    assert_eq!(join_prompt(a, "reader a").unwrap(), b"");
    assert_eq!(join_prompt(b, "reader b").unwrap(), b"");
}

/// See [`claim_end_wakes_both_readers`]: the pipe closed first.
#[test]
fn claim_end_wakes_every_reader_on_a_closed_pipe() {
    bounded("claim_end_closed", BOUND_SECS, || {
        claim_end_wakes_both_readers(true, ["claim-closed-a", "claim-closed-b"]);
    });
}

/// See [`claim_end_wakes_both_readers`]: the write half closes while the
/// readers wait and the sink holds the bytes.
#[test]
fn claim_end_wakes_every_reader_after_a_close_during_the_claim() {
    bounded("claim_end_open", BOUND_SECS, || {
        claim_end_wakes_both_readers(false, ["claim-open-a", "claim-open-b"]);
    });
}

/// A second `write_to` and a thread reader wait for the first `write_to`'s
/// claim on a closed pipe whose sink then leaves bytes staged (it takes
/// two): between them they get the rest, once, and both end.
#[test]
fn claim_end_wakes_a_second_write_to_and_a_reader() {
    bounded("claim_end_write_to", BOUND_SECS, || {
        let (reader, writer) = gopipe::pipe();
        stage(&writer, b"abcdef");
        writer.close();
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let mut first = HeldSink {
            entered: Some(entered_tx),
            release: Some(release_rx),
            per_call: 2,
            got: Vec::new(),
        };
        let drainer = reader.clone();
        // A sink that takes two bytes and stops: the rest stays staged.
        let t1 = thread::spawn(move || {
            let mut stop = StopAfter(&mut first, 2);
            let res = drainer.write_to(&mut stop);
            (first.got, res)
        });
        entered_rx
            .recv_timeout(Duration::from_secs(BOUND_SECS))
            .unwrap();
        let second = reader.clone();
        let t2 = thread::Builder::new()
            .name("claim-drain-2".into())
            .spawn(move || {
                let mut got = Vec::new();
                second.write_to(&mut got).map(|_| got)
            })
            .unwrap();
        let r = reader_thread("claim-drain-r", reader.clone());
        wait_asleep(&["claim-drain-2", "claim-drain-r"]);
        release_tx.send(()).unwrap();
        let (got1, res1) = join_prompt(t1, "the first write_to");
        assert_eq!(got1, b"ab");
        assert_eq!(res1.unwrap_err().kind(), io::ErrorKind::WriteZero);
        let got2 = join_prompt(t2, "the second write_to").unwrap();
        let got_r = join_prompt(r, "the reader").unwrap();
        let mut rest = [got2.clone(), got_r.clone()];
        rest.sort();
        assert_eq!(
            [rest[0].as_slice(), rest[1].as_slice()],
            [&b""[..], &b"cdef"[..]],
            "the rest went to one of them, once (write_to {got2:?}, read {got_r:?})"
        );
    });
}

/// A sink that takes at most `1` bytes in all, then reports `Ok(0)`.
struct StopAfter<'a>(&'a mut HeldSink, usize);

impl Write for StopAfter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.1 == 0 {
            return Ok(0);
        }
        let n = self.0.write(&buf[..buf.len().min(self.1)])?;
        self.1 -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Tasks wait for a claim too: two tasks on a tokio runtime and a thread
/// read a closed pipe whose staged bytes a sink holds; its end wakes all of
/// them.
#[test]
fn claim_end_wakes_tasks_and_threads() {
    bounded("claim_end_tasks", BOUND_SECS, || {
        let (reader, writer) = gopipe::pipe();
        stage(&writer, b"abcdef");
        writer.close();
        let (drain, release) = held_drain(&reader);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let r = reader.clone();
                rt.spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let mut got = Vec::new();
                    AsyncReadExt::read_to_end(&mut &r, &mut got)
                        .await
                        .map(|_| got)
                })
            })
            .collect();
        let t = reader_thread("claim-tasks-r", reader.clone());
        wait_asleep(&["claim-tasks-r"]);
        // The tasks registered: every one of them holds a waker.
        let start = Instant::now();
        while writer.__task_wakers_held() < 2 && start.elapsed() < PROMPT {
            thread::yield_now();
        }
        release.send(()).unwrap();
        let (got, res) = join_prompt(drain, "the write_to");
        assert_eq!((got.as_slice(), res.unwrap()), (&b"abcdef"[..], 6));
        assert_eq!(join_prompt(t, "the thread reader").unwrap(), b"");
        for task in tasks {
            let got = rt
                .block_on(async { tokio::time::timeout(PROMPT, task).await })
                .expect("a task still waits after the claim ended")
                .unwrap()
                .unwrap();
            assert_eq!(got, b"");
        }
    });
}

/// Counts wake-ups and tells a channel of each.
struct Bell(Sender<()>);

impl Wake for Bell {
    fn wake(self: Arc<Self>) {
        let _ = self.0.send(());
    }
}

/// The stage full (one 64 KiB write), a sink taking 1 KiB a call, and an
/// async write of 1 KiB waiting for room: the sink's first call frees
/// room, and the waiting write is woken and accepted then, while the claim
/// still holds the rest (the sink's second call waits for it; before,
/// the write was woken only when the claim ended).
#[test]
fn room_a_sink_frees_reaches_a_waiting_write() {
    bounded("room_during_claim", BOUND_SECS, || {
        let (reader, writer) = gopipe::pipe();
        let full = vec![7u8; 64 << 10];
        stage(&writer, &full);
        let (woken_tx, woken_rx) = mpsc::channel();
        let waker = Waker::from(Arc::new(Bell(woken_tx)));
        let mut cx = Context::from_waker(&waker);
        let small = [9u8; 1024];
        let mut poll =
            || tokio::io::AsyncWrite::poll_write(Pin::new(&mut &writer), &mut cx, &small);
        assert!(poll().is_pending(), "the stage is full");
        // The sink's second call waits until the write got in.
        let (accepted_tx, accepted_rx) = mpsc::channel::<()>();
        let drainer = reader.clone();
        let drain = thread::spawn(move || {
            let mut calls = 0;
            let mut got = 0usize;
            let mut sink = SinkFn(|buf: &[u8]| {
                calls += 1;
                if calls == 2 && accepted_rx.recv_timeout(PROMPT).is_err() {
                    return Err(io::Error::other("the waiting write was not woken"));
                }
                let n = buf.len().min(1024);
                got += n;
                Ok(n)
            });
            let res = drainer.write_to(&mut sink);
            (got, res)
        });
        woken_rx
            .recv_timeout(PROMPT)
            .expect("the room the sink's first call freed woke nobody");
        match poll() {
            Poll::Ready(Ok(1024)) => {}
            other => panic!("the write after the wake-up: {other:?}"),
        }
        accepted_tx.send(()).unwrap();
        drop(writer);
        let (got, res) = join_prompt(drain, "the write_to");
        assert_eq!(res.unwrap(), (64 << 10) + 1024);
        assert_eq!(got, (64 << 10) + 1024);
    });
}

/// A sink made of a closure.
struct SinkFn<F>(F);

impl<F: FnMut(&[u8]) -> io::Result<usize>> Write for SinkFn<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0)(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
