//! Issue 17: user code never holds the pipe. A `write_to` sink that blocks
//! on staged bytes holds no lock that other readers, async writers or closes
//! wait for; a `read_from` source that blocks holds no reader's buffer; and
//! `read_from` cut short returns the cut's error (issue 24: `io::copy`'s
//! contract), readers having got exactly the bytes before the cut.
//!
//! The sinks and sources here block on a channel the test releases, never on
//! a sleep; each test runs under [`bounded`], and each wait it measures
//! fails with a bound (1.5 s for a 100 ms timeout) instead of hanging.

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, BOUND_SECS};
use gopipe::{is_closed_pipe, PipeReader, PipeWriter};

/// The bound on a wait that should end at once, or at a 100 ms timeout.
const PROMPT: Duration = Duration::from_millis(1500);

/// A timeout or deadline that a hostage would overrun.
const SHORT: Duration = Duration::from_millis(100);

/// How long a blocked sink or source waits to be released before it gives
/// up on its own (so that a failing test never leaves it blocked for ever).
const HOLD: Duration = Duration::from_secs(20);

/// Stages `bytes` with one async write (no reader waits, so the write stages).
fn stage(w: &PipeWriter, bytes: &[u8]) {
    let mut cx = Context::from_waker(Waker::noop());
    match tokio::io::AsyncWrite::poll_write(Pin::new(&mut &*w), &mut cx, bytes) {
        Poll::Ready(Ok(n)) => assert_eq!(n, bytes.len()),
        other => panic!("staging {} bytes: {other:?}", bytes.len()),
    }
}

/// A sink that says when it is called, then blocks until released; it then
/// takes up to `per_call` bytes a call, and fails once it has `limit` bytes.
struct BlockingSink {
    /// Told once, at the first call.
    entered: Option<Sender<()>>,
    /// Released once (or dropped).
    release: Receiver<()>,
    /// Whether the release came.
    released: bool,
    /// Bytes taken so far.
    got: Vec<u8>,
    /// Most bytes a call takes.
    per_call: usize,
    /// Past this many bytes, calls fail.
    limit: usize,
}

impl BlockingSink {
    /// A sink, the sender that releases it, and the receiver that hears it
    /// was called.
    fn new(per_call: usize, limit: usize) -> (Self, Sender<()>, Receiver<()>) {
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let sink = Self {
            entered: Some(entered_tx),
            release: release_rx,
            released: false,
            got: Vec::new(),
            per_call,
            limit,
        };
        (sink, release_tx, entered_rx)
    }
}

impl Write for BlockingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
        }
        if !self.released {
            let _ = self.release.recv_timeout(HOLD);
            self.released = true;
        }
        if self.got.len() >= self.limit {
            return Err(io::Error::other("sink full"));
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

/// Runs `f` on a thread and waits up to [`PROMPT`] for its result (see
/// [`common::within`]).
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<(T, Duration)> {
    common::within(PROMPT, f)
}

/// A `write_to` whose sink blocks on staged bytes; returns the drainer's
/// thread (its sink and result), the release, and the pipe's halves.
#[allow(clippy::type_complexity)]
fn blocked_drain(
    staged: &[u8],
    per_call: usize,
    limit: usize,
) -> (
    thread::JoinHandle<(BlockingSink, io::Result<u64>)>,
    Sender<()>,
    PipeReader,
    PipeWriter,
) {
    let (reader, writer) = gopipe::pipe();
    stage(&writer, staged);
    let (mut sink, release, entered) = BlockingSink::new(per_call, limit);
    let drainer = reader.clone();
    let t = thread::spawn(move || {
        let res = drainer.write_to(&mut sink);
        (sink, res)
    });
    entered
        .recv_timeout(Duration::from_secs(BOUND_SECS))
        .expect("the sink is called");
    (t, release, reader, writer)
}

/// (1a) While a `write_to` sink blocks on staged bytes, another reader's
/// 100 ms timed read returns `TimedOut` at about its timeout (it waits for
/// the drain's claim, it does not take the claimed bytes), and the drain
/// then goes on: the sink gets every byte, once.
#[test]
fn timed_read_is_not_held_by_a_blocked_sink() {
    bounded(
        "timed_read_is_not_held_by_a_blocked_sink",
        BOUND_SECS,
        || {
            let (t, release, reader, writer) =
                blocked_drain(b"staged bytes", usize::MAX, usize::MAX);
            let other = reader.clone();
            other.set_read_timeout(Some(SHORT)).unwrap();
            let measured = within(move || {
                let mut buf = [0u8; 64];
                let res = (&other).read(&mut buf);
                (res.map(|n| buf[..n].to_vec()), other)
            });
            let _ = release.send(());
            let ((res, other), took) = measured.expect("the timed read is held past 1.5 s");
            let err = res.expect_err("the staged bytes are the sink's");
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
            assert!(took < PROMPT, "{took:?}");
            other.set_read_timeout(None).unwrap();
            drop(writer);
            let (sink, res) = t.join().unwrap();
            assert_eq!(res.unwrap(), 12);
            assert_eq!(sink.got, b"staged bytes");
        },
    );
}

/// (1b) While a `write_to` sink blocks on staged bytes, an async write (on a
/// current_thread tokio runtime) returns at once: it stages into free room.
#[test]
fn poll_write_is_not_held_by_a_blocked_sink() {
    bounded(
        "poll_write_is_not_held_by_a_blocked_sink",
        BOUND_SECS,
        || {
            let (t, release, _reader, writer) = blocked_drain(b"first", usize::MAX, usize::MAX);
            let measured = within(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let res = rt.block_on(std::future::poll_fn(|cx| {
                    Poll::Ready(tokio::io::AsyncWrite::poll_write(
                        Pin::new(&mut &writer),
                        cx,
                        b"second",
                    ))
                }));
                (res, writer)
            });
            let _ = release.send(());
            let ((res, writer), _) = measured.expect("poll_write blocked its thread past 1.5 s");
            assert!(matches!(res, Poll::Ready(Ok(6))), "{res:?}");
            drop(writer);
            let (sink, res) = t.join().unwrap();
            assert_eq!(res.unwrap(), 11);
            assert_eq!(sink.got, b"firstsecond");
        },
    );
}

/// (1c) A thread's `write_to` sink forwards each slice through
/// `tokio::sync::mpsc::channel(1).blocking_send` to a task on a
/// current_thread runtime, while another task on that runtime writes into the
/// pipe: everything arrives, in order; nothing deadlocks (an async write
/// never blocks the runtime's one thread behind the sink).
#[test]
fn sink_forwarding_to_the_writers_runtime_does_not_deadlock() {
    /// Forwards every slice to the channel.
    struct Forward(tokio::sync::mpsc::Sender<Vec<u8>>);
    impl Write for Forward {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .blocking_send(buf.to_vec())
                .map_err(|_| io::Error::other("receiver gone"))?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    bounded("sink_forwarding_to_the_writers_runtime", 30, || {
        const WRITES: usize = 2000;
        let (reader, writer) = gopipe::pipe();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
        let drainer = thread::spawn(move || reader.write_to(&mut Forward(tx)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (got, wrote) = rt.block_on(async move {
            let collector = tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(chunk) = rx.recv().await {
                    got.extend_from_slice(&chunk);
                }
                got
            });
            let producer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut w = writer;
                let mut wrote = Vec::new();
                for i in 0..WRITES {
                    let chunk = vec![(i % 251) as u8; 1 + i % 700];
                    AsyncWriteExt::write_all(&mut w, &chunk).await.unwrap();
                    wrote.extend_from_slice(&chunk);
                }
                AsyncWriteExt::shutdown(&mut w).await.unwrap();
                wrote
            });
            let wrote = producer.await.unwrap();
            (collector.await.unwrap(), wrote)
        });
        assert_eq!(drainer.join().unwrap().unwrap(), wrote.len() as u64);
        assert!(got == wrote, "the forwarded stream differs");
    });
}

/// A `write_to` sink that takes two bytes and then fails, on staged bytes,
/// while the writer has closed and another reader waits: that reader gets
/// exactly the rest of the staged write (not end of file, nothing twice).
#[test]
fn failing_sink_leaves_the_rest_staged_for_the_next_reader() {
    bounded("failing_sink_leaves_the_rest_staged", BOUND_SECS, || {
        let (t, release, reader, writer) = blocked_drain(b"abcdef", 2, 2);
        drop(writer);
        let other = reader.clone();
        let next = thread::spawn(move || {
            let mut got = Vec::new();
            (&other).read_to_end(&mut got).map(|_| got)
        });
        let _ = release.send(());
        let (sink, res) = t.join().unwrap();
        assert_eq!(res.unwrap_err().to_string(), "sink full");
        assert_eq!(sink.got, b"ab");
        assert_eq!(next.join().unwrap().unwrap(), b"cdef");
    });
}

/// On a pipe whose write half closed, while a `write_to` sink blocks on
/// staged bytes: another reader's 100 ms timed read neither reports end of
/// file (the sink may leave bytes) nor waits past its timeout; a reader
/// waiting for the claim with no timeout returns at once when its own half
/// closes; and once the sink is released the drain ends at end of file.
#[test]
fn closed_pipe_read_waits_for_the_claim_within_its_bounds() {
    bounded("closed_pipe_read_waits_for_the_claim", BOUND_SECS, || {
        let (t, release, reader, writer) = blocked_drain(b"staged", usize::MAX, usize::MAX);
        drop(writer);
        let timed = reader.clone();
        timed.set_read_timeout(Some(SHORT)).unwrap();
        let measured = within(move || (&timed).read(&mut [0u8; 8]));
        let (res, took) = measured.expect("the timed read is held past 1.5 s");
        let err = res.expect_err("no end of file while the sink holds bytes");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert!(took < PROMPT, "{took:?}");
        reader.set_read_timeout(None).unwrap();
        // A reader with no timeout waits for the claim; closing its half
        // (from another clone) lets it go at once.
        let waiting = reader.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let closing = thread::spawn(move || {
            ready_rx.recv_timeout(HOLD).expect("the reader starts");
            let at = Instant::now();
            reader.close();
            (at, reader)
        });
        let measured = within(move || {
            let _ = ready_tx.send(());
            let res = (&waiting).read(&mut [0u8; 8]);
            (res, Instant::now())
        });
        let ((res, returned), _) = measured.expect("the read is held past its half's close");
        let (closed, _reader) = closing.join().unwrap();
        assert!(returned.saturating_duration_since(closed) < PROMPT);
        match res {
            Ok(0) => {}
            Ok(n) => panic!("{n} bytes read after the close"),
            Err(e) => assert!(is_closed_pipe(&e), "{e:?}"),
        }
        let _ = release.send(());
        let (sink, res) = t.join().unwrap();
        // The sink took its call's bytes; the read half closed meanwhile.
        assert_eq!(sink.got, b"staged");
        match res {
            Ok(n) => assert_eq!(n, 6),
            Err(e) => assert!(is_closed_pipe(&e), "{e:?}"),
        }
    });
}

/// Counts a waker's wake-ups.
struct WakeCount(std::sync::atomic::AtomicUsize);

impl std::task::Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        // ORDERING: SeqCst; a test counter.
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl WakeCount {
    /// Wake-ups so far.
    fn get(&self) -> usize {
        // ORDERING: SeqCst; a test counter.
        self.0.load(Ordering::SeqCst)
    }
}

/// While a `write_to` sink blocks on staged bytes, an async read returns
/// `Pending` at once, having registered its waker, and is woken when the
/// sink's claim ends; it then reads what the sink left.
#[test]
fn poll_read_waits_for_the_claim_without_blocking() {
    bounded("poll_read_waits_for_the_claim", BOUND_SECS, || {
        let (t, release, reader, _writer) = blocked_drain(b"abcdef", 2, 2);
        let count = Arc::new(WakeCount(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let other = reader.clone();
        let measured = within(move || {
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0u8; 8];
            let mut rb = tokio::io::ReadBuf::new(&mut buf);
            let polled = tokio::io::AsyncRead::poll_read(Pin::new(&mut &other), &mut cx, &mut rb);
            (polled.is_pending(), other)
        });
        let ((pending, other), _) = measured.expect("poll_read blocked its thread past 1.5 s");
        assert!(pending, "the staged bytes are the sink's");
        let _ = release.send(());
        let (sink, res) = t.join().unwrap();
        assert_eq!(res.unwrap_err().to_string(), "sink full");
        assert_eq!(sink.got, b"ab");
        // The drainer's join ordered its wake-up before this look.
        assert!(count.get() > 0, "the claim's end woke nobody");
        let mut buf = [0u8; 8];
        let n = (&other).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"cdef");
    });
}

/// While a `write_to` sink blocks on staged bytes and a thread has written
/// to the pipe (so that an async read first spins a moment for that thread's
/// next write), an async read still waits for the claim asleep: `Pending`
/// without calling its own waker, on the open pipe and on the closed one, and
/// woken when the claim ends. (A spin that took the claimed bytes, or the
/// close, for progress polled itself in a loop.)
#[test]
fn poll_read_waits_for_the_claim_asleep_after_a_thread_wrote() {
    bounded("poll_read_waits_for_the_claim_asleep", BOUND_SECS, || {
        let (t, release, reader, writer) = blocked_drain(b"abcdef", 2, 2);
        // A blocking write: it waits for the staged bytes, and times out.
        writer
            .set_write_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let err = (&writer).write(b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        let count = Arc::new(WakeCount(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let poll = |r: &PipeReader| {
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0u8; 8];
            let mut rb = tokio::io::ReadBuf::new(&mut buf);
            tokio::io::AsyncRead::poll_read(Pin::new(&mut &*r), &mut cx, &mut rb).is_pending()
        };
        assert!(poll(&reader), "the staged bytes are the sink's");
        assert_eq!(
            count.get(),
            0,
            "a Pending read woke itself while the claim held"
        );
        // Closing the write half wakes the read; polled again, it waits for
        // the claim (the sink may leave bytes), asleep.
        writer.close();
        let after_close = count.get();
        assert!(poll(&reader), "the claim still holds the staged bytes");
        assert_eq!(
            count.get(),
            after_close,
            "a Pending read on the closed pipe woke itself while the claim held"
        );
        let _ = release.send(());
        let (sink, res) = t.join().unwrap();
        assert_eq!(res.unwrap_err().to_string(), "sink full");
        assert_eq!(sink.got, b"ab");
        assert!(count.get() > after_close, "the claim's end woke nobody");
        let mut rest = Vec::new();
        (&reader).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"cdef");
    });
}

/// A source that gives `quick` bytes one at a time at once, then says so and
/// blocks until released, then gives `late`.
struct BlockingSource {
    /// Bytes given at once.
    quick: Vec<u8>,
    /// Told once, when the source blocks.
    entered: Option<Sender<()>>,
    /// Set when the source blocks.
    blocked: Arc<AtomicBool>,
    /// Released once (or dropped).
    release: Receiver<()>,
    /// Bytes given after the release.
    late: Vec<u8>,
}

impl Read for BlockingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.quick.is_empty() {
            buf[0] = self.quick.remove(0);
            return Ok(1);
        }
        if let Some(entered) = self.entered.take() {
            // ORDERING: SeqCst; the reader looks only after a timeout, long after.
            self.blocked.store(true, Ordering::SeqCst);
            let _ = entered.send(());
            let _ = self.release.recv_timeout(HOLD);
        }
        let n = self.late.len().min(buf.len());
        buf[..n].copy_from_slice(&self.late[..n]);
        self.late.drain(..n);
        Ok(n)
    }
}

/// A `read_from` of a source that gives 200 bytes one at a time (most of
/// them, before the fix, straight into the reader's lent buffer) and then
/// blocks; returns the writer's thread, the release, the receiver told when
/// the source blocks, and the flag it sets then.
#[allow(clippy::type_complexity)]
fn blocked_source(
    writer: PipeWriter,
) -> (
    thread::JoinHandle<io::Result<u64>>,
    Sender<()>,
    Receiver<()>,
    Arc<AtomicBool>,
) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let blocked = Arc::new(AtomicBool::new(false));
    let mut source = BlockingSource {
        quick: (0..200).map(|i| i as u8).collect(),
        entered: Some(entered_tx),
        blocked: Arc::clone(&blocked),
        release: release_rx,
        late: b"late".to_vec(),
    };
    let t = thread::spawn(move || writer.read_from(&mut source));
    (t, release_tx, entered_rx, blocked)
}

/// Reads the 200 quick bytes one read at a time, as a reader that lends its
/// buffer each time.
fn read_quick(reader: &PipeReader) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    while got.len() < 200 {
        let n = (&*reader).read(&mut buf).expect("a quick byte");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, (0..200).map(|i| i as u8).collect::<Vec<_>>());
}

/// Timed reads, one after another with nothing in between (so that, before
/// the fix, the source's blocking read went into this reader's lent buffer),
/// each through `read` (which sets its bound first), until the 200 quick
/// bytes are in and a read has timed out after the source blocked. Fails if
/// any read takes [`PROMPT`] or more.
fn timed_reads_while_the_source_blocks(
    blocked: &AtomicBool,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    loop {
        let start = Instant::now();
        let res = read(&mut buf);
        let took = start.elapsed();
        assert!(took < PROMPT, "a timed read took {took:?}: {res:?}");
        match res {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                // ORDERING: SeqCst, pairs with the source's store.
                if got.len() == 200 && blocked.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
    }
    assert_eq!(got, (0..200).map(|i| i as u8).collect::<Vec<_>>());
}

/// (2) While a `read_from` source blocks, a reader with a 100 ms timeout
/// returns `TimedOut` at about its timeout: the source never holds its lent
/// buffer.
#[test]
fn timed_read_is_not_held_by_a_blocked_source() {
    bounded(
        "timed_read_is_not_held_by_a_blocked_source",
        BOUND_SECS,
        || {
            let (reader, writer) = gopipe::pipe();
            let (t, release, _entered, blocked) = blocked_source(writer);
            reader.set_read_timeout(Some(SHORT)).unwrap();
            let measured = within(move || {
                timed_reads_while_the_source_blocks(&blocked, |buf| (&reader).read(buf));
                reader
            });
            let _ = release.send(());
            let (reader, _) = measured.expect("a timed read is held by the source past 1.5 s");
            reader.set_read_timeout(None).unwrap();
            let mut rest = Vec::new();
            let end = thread::spawn(move || (&reader).read_to_end(&mut rest).map(|_| rest));
            assert_eq!(t.join().unwrap().unwrap(), 204);
            assert_eq!(end.join().unwrap().unwrap(), b"late");
        },
    );
}

/// (2) While a `read_from` source blocks, a read whose own half is closed
/// (by a clone) returns at once.
#[test]
fn read_on_a_closed_half_is_not_held_by_a_blocked_source() {
    bounded("read_on_a_closed_half_is_not_held", BOUND_SECS, || {
        let (reader, writer) = gopipe::pipe();
        let (t, release, entered, _) = blocked_source(writer);
        let closer = reader.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        // Closes the read half once the reader is about to read again and
        // the source blocks; says when.
        let closing = thread::spawn(move || {
            ready_rx
                .recv_timeout(HOLD)
                .expect("the quick bytes are read");
            entered.recv_timeout(HOLD).expect("the source blocks");
            let at = Instant::now();
            closer.close();
            (at, closer)
        });
        let measured = within(move || {
            read_quick(&reader);
            let _ = ready_tx.send(());
            let res = (&reader).read(&mut [0u8; 16]);
            let at = Instant::now();
            drop(reader);
            (res, at)
        });
        let _ = release.send(());
        let ((res, returned), _) = measured.expect("the read is held by the source past 1.5 s");
        let (closed, closer) = closing.join().unwrap();
        let took = returned.saturating_duration_since(closed);
        assert!(took < PROMPT, "{took:?}");
        match res {
            Ok(0) => {}
            Ok(n) => panic!("{n} bytes read after the close"),
            Err(e) => assert!(is_closed_pipe(&e), "{e:?}"),
        }
        drop(closer);
        // The source's late bytes find the read half closed: the copy was
        // cut, and `read_from` says so although 200 bytes went before.
        let cut = t.join().unwrap().unwrap_err();
        assert!(is_closed_pipe(&cut), "{cut:?}");
    });
}

/// (2) While a `read_from` source blocks on one end of a `Conn`, reads on
/// the other end with a read deadline 100 ms away return `TimedOut` at about
/// it.
#[test]
fn conn_read_deadline_is_not_held_by_a_blocked_source() {
    bounded("conn_read_deadline_is_not_held", BOUND_SECS, || {
        let (a, b) = gopipe::duplex();
        let (_a_reader, a_writer) = a.into_split();
        let (t, release, _entered, blocked) = blocked_source(a_writer);
        let measured = within(move || {
            timed_reads_while_the_source_blocks(&blocked, |buf| {
                b.set_read_deadline(Some(Instant::now() + SHORT)).unwrap();
                (&b).read(buf)
            });
            b
        });
        let _ = release.send(());
        let (b, _) = measured.expect("a Conn read is held by the source past 1.5 s");
        drop(b);
        // The late bytes find the other end dropped: the copy was cut.
        let cut = t.join().unwrap().unwrap_err();
        assert!(is_closed_pipe(&cut), "{cut:?}");
    });
}

/// A source that gives `chunk` bytes a read, from a running counter, for
/// ever.
struct Counter {
    /// The next byte.
    next: u8,
    /// Bytes a read.
    chunk: usize,
}

impl Read for Counter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk);
        for b in &mut buf[..n] {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
        Ok(n)
    }
}

/// (3) A `read_from` whose write a read-half close cuts short, after a
/// whole write and part of the next went across, returns the close (issue
/// 24; before, `Ok(14)`); the reader got exactly those 14 bytes, and the
/// next call fails with the close too.
#[test]
fn read_from_cut_by_a_close_returns_the_close() {
    bounded("read_from_cut_by_a_close", BOUND_SECS, || {
        let (reader, writer) = gopipe::pipe();
        let t = thread::spawn(move || {
            let first = writer.read_from(&mut Counter { next: 0, chunk: 10 });
            let second = writer.read_from(&mut Counter { next: 0, chunk: 10 });
            (first, second)
        });
        let mut got = vec![0u8; 10];
        (&reader).read_exact(&mut got).unwrap();
        let mut four = [0u8; 4];
        assert_eq!((&reader).read(&mut four).unwrap(), 4, "a read of one write");
        got.extend_from_slice(&four);
        reader.close();
        let (first, second) = t.join().unwrap();
        assert!(is_closed_pipe(first.as_ref().unwrap_err()), "{first:?}");
        assert_eq!(got, (0..14).collect::<Vec<u8>>());
        assert!(is_closed_pipe(&second.unwrap_err()));
    });
}

/// (3) A `read_from` whose write the write timeout cuts short, after 14
/// bytes went across, fails with `TimedOut` (issue 24; before, `Ok(14)`);
/// the reader got exactly those bytes; the next call, with the timeout
/// recurring, fails with `TimedOut` too.
#[test]
fn read_from_cut_by_its_timeout_returns_the_timeout() {
    bounded("read_from_cut_by_its_timeout", BOUND_SECS, || {
        let (reader, writer) = gopipe::pipe();
        writer.set_write_timeout(Some(SHORT)).unwrap();
        let t = thread::spawn(move || {
            let first = writer.read_from(&mut Counter { next: 0, chunk: 10 });
            let second = writer.read_from(&mut Counter { next: 0, chunk: 10 });
            (first, second)
        });
        let mut got = vec![0u8; 10];
        (&reader).read_exact(&mut got).unwrap();
        let mut four = [0u8; 4];
        assert_eq!((&reader).read(&mut four).unwrap(), 4, "a read of one write");
        got.extend_from_slice(&four);
        let (first, second) = t.join().unwrap();
        let first = first.unwrap_err();
        assert_eq!(first.kind(), ErrorKind::TimedOut, "{first:?}");
        assert_eq!(first.to_string(), "i/o timeout");
        assert_eq!(got, (0..14).collect::<Vec<u8>>());
        assert_eq!(second.unwrap_err().kind(), ErrorKind::TimedOut);
        drop(reader);
    });
}
