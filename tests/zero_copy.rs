//! The zero-copy paths: `write_to` (a read that hands the writer's bytes to a
//! sink), `read_from` (a write read straight from a source, into a waiting
//! reader's buffer where one is lent), and the vectored reads and writes. Each
//! rule of the issue has a test here; every test runs under a time bound.

mod common;

use std::io::{self, Cursor, ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, on_engines, BOUND_SECS};
use gopipe::{is_closed_pipe, CloseError};

/// A write timeout or deadline that cuts a write nobody reads.
const SHORT: Duration = Duration::from_millis(100);

/// A pattern that tells every byte's position (mod 251).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// A sink that takes at most `per_call` bytes a call, and fails (or panics,
/// or returns `Ok(0)`) once it has taken `limit` bytes.
struct Sink {
    got: Vec<u8>,
    per_call: usize,
    limit: usize,
    then: Then,
}

/// What a [`Sink`] does at its limit.
#[derive(Clone, Copy)]
enum Then {
    Fail,
    Zero,
    Panic,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.got.len() >= self.limit {
            match self.then {
                Then::Fail => return Err(io::Error::other("sink full")),
                Then::Zero => return Ok(0),
                Then::Panic => panic!("sink panicked"),
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

/// `write_to` drains every write to end of file, in order, on both engines.
#[test]
fn write_to_drains_to_end_of_file() {
    on_engines("write_to_drains_to_end_of_file", |engine, make| {
        let (r, mut w) = make();
        let data = pattern(300_000, 1);
        let d = data.clone();
        let t = thread::spawn(move || {
            for chunk in d.chunks(7_777) {
                w.write_all(chunk).unwrap();
            }
            w.write_all(b"").unwrap();
        });
        let mut out = Vec::new();
        assert_eq!(r.write_to(&mut out).unwrap(), data.len() as u64, "{engine}");
        t.join().unwrap();
        assert!(out == data, "{engine}: other bytes");
    });
}

/// The writer's close error comes after every byte written before it; the
/// read half's own close gives the closed-pipe error.
#[test]
fn write_to_reports_close_errors() {
    on_engines("write_to_reports_close_errors", |engine, make| {
        let (r, mut w) = make();
        let t = thread::spawn(move || {
            w.write_all(b"before the error").unwrap();
            w.close_with_error(io::Error::new(ErrorKind::InvalidData, "bad input"));
        });
        let mut out = Vec::new();
        let err = r.write_to(&mut out).unwrap_err();
        t.join().unwrap();
        assert_eq!(out, b"before the error", "{engine}");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{engine}");
        assert_eq!(err.to_string(), "bad input");

        let (r, _w) = make();
        r.close();
        assert!(is_closed_pipe(&r.write_to(&mut Vec::new()).unwrap_err()));
    });
}

/// A sink that fails, takes nothing (`WriteZero`) or panics part-way through
/// a write: `write_to` returns (or unwinds), the bytes the sink took count as
/// read, and the rest of that write goes to the next read. The writer's count
/// is exact; nothing is lost or duplicated.
#[test]
fn failing_sink_leaves_the_rest_on_offer() {
    on_engines("failing_sink_leaves_the_rest_on_offer", |engine, make| {
        for then in [Then::Fail, Then::Zero, Then::Panic] {
            let (r, mut w) = make();
            let data = pattern(50_000, 2);
            let d = data.clone();
            let t = thread::spawn(move || w.write(&d).unwrap());
            let mut sink = Sink {
                got: Vec::new(),
                per_call: 1000,
                limit: 12_345,
                then,
            };
            let res = catch_unwind(AssertUnwindSafe(|| r.write_to(&mut sink)));
            match (then, res) {
                (Then::Panic, Err(_)) => {}
                (Then::Fail, Ok(Err(e))) => assert_eq!(e.to_string(), "sink full"),
                (Then::Zero, Ok(Err(e))) => assert_eq!(e.kind(), ErrorKind::WriteZero),
                _ => panic!("{engine}: the sink's failure must end write_to"),
            }
            assert_eq!(sink.got.len(), 12_345, "{engine}");
            // The rest of the write is still on offer.
            let mut rest = vec![0; 50_000 - 12_345];
            (&r).read_exact(&mut rest).unwrap();
            let n = t.join().unwrap();
            assert_eq!(n, 50_000, "{engine}: the writer's count");
            let mut all = sink.got.clone();
            all.extend_from_slice(&rest);
            assert!(all == data, "{engine}: bytes lost or duplicated");
        }
    });
}

/// The read timeout bounds each wait for a write in `write_to`.
#[test]
fn write_to_times_out_waiting_for_a_write() {
    on_engines("write_to_times_out", |engine, make| {
        let (r, _w) = make();
        r.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let err = r.write_to(&mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{engine}");
    });
}

/// `read_from` moves a source's bytes into the pipe until its end, counting
/// exactly what readers got, whether or not a reader is waiting with its
/// buffer lent; it does not close the writer.
#[test]
fn read_from_moves_everything() {
    on_engines("read_from_moves_everything", |engine, make| {
        for reader_first in [false, true] {
            let (r, w) = make();
            let data = pattern(1_000_000, 3);
            let expect = data.clone();
            let reader = thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = vec![0; 3000];
                loop {
                    match (&r).read(&mut buf).unwrap() {
                        0 => return got,
                        n => got.extend_from_slice(&buf[..n]),
                    }
                }
            });
            if reader_first {
                // Let the reader get to its read (and lend) first; correctness
                // does not depend on it.
                thread::sleep(Duration::from_millis(5));
            }
            let n = w.read_from(&mut Cursor::new(data)).unwrap();
            assert_eq!(n, 1_000_000, "{engine}");
            // Still open: one more write goes through.
            (&w).write_all(b"tail").unwrap();
            drop(w);
            let got = reader.join().unwrap();
            assert_eq!(got.len(), 1_000_004, "{engine}");
            assert!(got[..1_000_000] == expect[..], "{engine}");
        }
    });
}

/// A source that fails after some bytes: `read_from` returns its error after
/// delivering every byte before it.
#[test]
fn read_from_returns_the_source_error_after_its_bytes() {
    /// Gives `left` bytes, then fails.
    struct Failing {
        left: usize,
    }
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("source broke"));
            }
            let n = buf.len().min(self.left).min(999);
            buf[..n].fill(9);
            self.left -= n;
            Ok(n)
        }
    }
    on_engines("read_from_source_error", |engine, make| {
        let (r, w) = make();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            (&r).read_to_end(&mut got).map(|_| got)
        });
        let err = w.read_from(&mut Failing { left: 10_000 }).unwrap_err();
        assert_eq!(err.to_string(), "source broke", "{engine}");
        drop(w);
        let got = reader.join().unwrap().unwrap();
        assert_eq!(got.len(), 10_000, "{engine}");
        assert!(got.iter().all(|&b| b == 9));
    });
}

/// A source that panics while it fills a waiting reader's lent buffer: the
/// reader gets nothing of that read (its read goes on), the panic propagates,
/// and the pipe works afterwards.
#[test]
fn read_from_panicking_source_releases_the_reader() {
    /// Panics on its first read.
    struct Panicking;
    impl Read for Panicking {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0xee);
            panic!("source panicked");
        }
    }
    bounded("read_from_panicking_source", BOUND_SECS, || {
        for _ in 0..50 {
            let (r, w) = gopipe::pipe();
            let reader = thread::spawn(move || {
                let mut got = Vec::new();
                (&r).read_to_end(&mut got).map(|_| got)
            });
            thread::sleep(Duration::from_millis(1));
            assert!(catch_unwind(AssertUnwindSafe(|| w.read_from(&mut Panicking))).is_err());
            (&w).write_all(b"after").unwrap();
            drop(w);
            assert_eq!(reader.join().unwrap().unwrap(), b"after");
        }
    });
}

/// `write_vectored` is one write: a small gather arrives in one read; a large
/// one is never interleaved with another writer's writes; the count is the
/// total.
#[test]
fn write_vectored_is_one_write() {
    on_engines("write_vectored_is_one_write", |engine, make| {
        let (r, w) = make();
        let t = thread::spawn(move || {
            let n = (&w).write_vectored(&[
                IoSlice::new(b"head"),
                IoSlice::new(b""),
                IoSlice::new(b"-"),
                IoSlice::new(b"body"),
            ]);
            (n, w)
        });
        let mut buf = [0; 64];
        assert_eq!((&r).read(&mut buf).unwrap(), 9, "{engine}: one read");
        assert_eq!(&buf[..9], b"head-body");
        let (n, w) = t.join().unwrap();
        assert_eq!(n.unwrap(), 9);

        // Large gathers from two writers never interleave.
        let mut writers = Vec::new();
        for id in 0..2u8 {
            let w = w.clone();
            writers.push(thread::spawn(move || {
                for _ in 0..20 {
                    let parts = [vec![id; 3000], vec![id; 5000], vec![id; 7000]];
                    let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
                    assert_eq!((&w).write_vectored(&slices).unwrap(), 15_000);
                }
            }));
        }
        drop(w);
        let mut got = Vec::new();
        (&r).read_to_end(&mut got).unwrap();
        for t in writers {
            t.join().unwrap();
        }
        assert_eq!(got.len(), 2 * 20 * 15_000, "{engine}");
        for gather in got.chunks(15_000) {
            assert!(
                gather.iter().all(|&b| b == gather[0]),
                "{engine}: interleaved"
            );
        }
    });
}

/// `read_vectored` fills its buffers in order from one write, never two.
#[test]
fn read_vectored_takes_one_write() {
    on_engines("read_vectored_takes_one_write", |engine, make| {
        let (r, mut w) = make();
        let t = thread::spawn(move || {
            w.write_all(b"abcdefgh").unwrap();
            w.write_all(b"XYZ").unwrap();
        });
        let (mut a, mut b, mut c) = ([0; 3], [0; 4], [0; 10]);
        let n = (&r)
            .read_vectored(&mut [
                IoSliceMut::new(&mut a),
                IoSliceMut::new(&mut b),
                IoSliceMut::new(&mut c),
            ])
            .unwrap();
        // The first write's bytes only, spread over the buffers in order (a
        // read can find part of it taken already only by another reader).
        assert_eq!(n, 8, "{engine}");
        assert_eq!((&a, &b, &c[..1]), (b"abc", b"defg", &b"h"[..]), "{engine}");
        let n = (&r)
            .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut c)])
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(&a, b"XYZ");
        t.join().unwrap();
        assert_eq!(
            (&r).read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut c)])
                .unwrap(),
            0,
            "{engine}: end of file"
        );
    });
}

/// `write_to` drains bytes that async writes staged, then the end of file
/// after the async writer's shutdown.
#[test]
fn write_to_drains_staged_bytes() {
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    bounded("write_to_drains_staged_bytes", BOUND_SECS, || {
        let (r, w) = gopipe::pipe();
        let mut cx = Context::from_waker(Waker::noop());
        for part in [&b"staged "[..], b"twice"] {
            match futures::AsyncWrite::poll_write(Pin::new(&mut &w), &mut cx, part) {
                Poll::Ready(Ok(n)) => assert_eq!(n, part.len()),
                other => panic!("{other:?}"),
            }
        }
        drop(w);
        let mut out = Vec::new();
        assert_eq!(r.write_to(&mut out).unwrap(), 12);
        assert_eq!(out, b"staged twice");
    });
}

/// `read_from` into a pipe drained by `write_to`, or by a `read_vectored`
/// into several buffers: those reads lend an empty buffer while they wait,
/// which `read_from` must not take for a place to read into (a source reads
/// nothing into an empty buffer, which looked like its end).
#[test]
fn read_from_into_a_draining_reader() {
    on_engines("read_from_into_a_draining_reader", |engine, make| {
        for round in 0..50 {
            let (r, w) = make();
            let drain = thread::spawn(move || {
                let mut out = Vec::new();
                r.write_to(&mut out).map(|n| (n, out))
            });
            let data = pattern(100_000, round as u8);
            assert_eq!(
                w.read_from(&mut Cursor::new(data.clone())).unwrap(),
                100_000
            );
            drop(w);
            let (n, out) = drain.join().unwrap().unwrap();
            assert_eq!(n, 100_000, "{engine}, round {round}");
            assert!(out == data, "{engine}, round {round}");

            let (r, w) = make();
            let vectored = thread::spawn(move || {
                let mut got = Vec::new();
                let (mut a, mut b) = ([0u8; 700], [0u8; 900]);
                loop {
                    let n = (&r)
                        .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
                        .unwrap();
                    if n == 0 {
                        return got;
                    }
                    got.extend_from_slice(&a[..n.min(700)]);
                    got.extend_from_slice(&b[..n.saturating_sub(700)]);
                }
            });
            assert_eq!(
                w.read_from(&mut Cursor::new(data.clone())).unwrap(),
                100_000
            );
            drop(w);
            let got = vectored.join().unwrap();
            assert!(got == data, "{engine}, round {round}: read_vectored");
        }
    });
}

/// A source that gives `chunk` bytes a read from a running counter, for
/// ever; at its read number `gate.0` (from 0) it first waits for `gate.1`.
/// `calls` counts its reads.
struct Chunks {
    next: u8,
    chunk: usize,
    calls: Arc<AtomicUsize>,
    gate: Option<(usize, mpsc::Receiver<()>)>,
}

impl Chunks {
    /// A source of 10-byte reads, with no gate.
    fn tens() -> Self {
        Chunks {
            next: 0,
            chunk: 10,
            calls: Arc::new(AtomicUsize::new(0)),
            gate: None,
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // ORDERING: Relaxed; the test reads it after joining this thread.
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some((at, gate)) = &self.gate {
            if *at == call {
                // Never for ever: a failing test still ends.
                let _ = gate.recv_timeout(Duration::from_secs(20));
            }
        }
        let n = buf.len().min(self.chunk);
        for b in &mut buf[..n] {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
        Ok(n)
    }
}

/// An error of the caller's, to pass to `close_with_error`.
#[derive(Debug)]
struct Corrupt(u32);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {} is corrupt", self.0)
    }
}

impl std::error::Error for Corrupt {}

/// What cuts a `read_from` short in [`read_from_cut_returns_the_cause`].
#[derive(Clone, Copy, Debug)]
enum CutBy {
    /// The reader's `close`.
    ReadClose,
    /// The reader's `close_with_error` of an `io::Error` of kind
    /// `ConnectionReset` wrapping a [`Corrupt`].
    ReadCloseWithError,
    /// Another clone of the writer closes the write half.
    WriteClose,
    /// The write timeout.
    Timeout,
    /// The write deadline.
    Deadline,
}

/// Asserts that `err` is the error `cut` stands for, by kind, message and
/// (for a close error) the caller's error inside.
#[track_caller]
fn assert_cause(err: &io::Error, cut: CutBy, ctx: &str) {
    match cut {
        CutBy::ReadClose | CutBy::WriteClose => {
            assert!(is_closed_pipe(err), "{ctx}: {err:?}");
            assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{ctx}");
            assert_eq!(err.to_string(), "io: read/write on closed pipe", "{ctx}");
        }
        CutBy::ReadCloseWithError => {
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{ctx}: {err:?}");
            assert_eq!(err.to_string(), "record 7 is corrupt", "{ctx}");
            let cause = CloseError::from_io(err).expect("a close error");
            let inner = cause
                .downcast_ref::<io::Error>()
                .and_then(|e| e.get_ref())
                .and_then(|e| e.downcast_ref::<Corrupt>());
            assert_eq!(inner.map(|c| c.0), Some(7), "{ctx}: {cause:?}");
        }
        CutBy::Timeout | CutBy::Deadline => {
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{ctx}: {err:?}");
            assert_eq!(err.to_string(), "i/o timeout", "{ctx}");
        }
    }
}

/// `read_from` has `io::copy`'s contract: a cut returns its cause as `Err`,
/// never `Ok` with a count, even after bytes went across. A source of
/// 10-byte reads (each one write); the reader takes the first write whole
/// and `part` bytes of the second (0: none of it), then the cut comes: the
/// read half's close or close with an error, a writer clone's close of the
/// write half, the write timeout or the write deadline. `read_from` fails
/// with exactly that cause (kind, message and the caller's error inside),
/// and the reader got exactly the bytes before the cut (no byte of the rest
/// of the cut write comes later). Before, `read_from` returned `Ok(10 +
/// part)` and left the error to the next call.
#[test]
fn read_from_cut_returns_the_cause() {
    on_engines("read_from_cut_returns_the_cause", |engine, make| {
        let cuts = [
            CutBy::ReadClose,
            CutBy::ReadCloseWithError,
            CutBy::WriteClose,
            CutBy::Timeout,
            CutBy::Deadline,
        ];
        for cut in cuts {
            for part in [0, 4] {
                let ctx = format!("{engine}, {cut:?}, {part} bytes of the cut write read");
                let (r, w) = make();
                let timed = matches!(cut, CutBy::Timeout | CutBy::Deadline);
                match cut {
                    CutBy::Timeout => w.set_write_timeout(Some(SHORT)).unwrap(),
                    CutBy::Deadline => w.set_write_deadline(Some(Instant::now() + SHORT)).unwrap(),
                    _ => {}
                }
                // A bound on the reader's waits: with a timeout, a loaded
                // machine may cut a write before the reader comes.
                r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let closer = w.clone();
                let t = thread::spawn(move || w.read_from(&mut Chunks::tens()));
                let want = 10 + part;
                let mut got = vec![0u8; want];
                let mut have = 0;
                while have < want {
                    match (&r).read(&mut got[have..]) {
                        Ok(0) => panic!("{ctx}: end of file"),
                        Ok(n) => have += n,
                        Err(e) if timed && e.kind() == ErrorKind::TimedOut => break,
                        Err(e) => panic!("{ctx}: {e:?}"),
                    }
                }
                got.truncate(have);
                match cut {
                    CutBy::ReadClose => r.close(),
                    CutBy::ReadCloseWithError => {
                        r.close_with_error(io::Error::new(ErrorKind::ConnectionReset, Corrupt(7)))
                    }
                    CutBy::WriteClose => closer.close(),
                    CutBy::Timeout | CutBy::Deadline => {}
                }
                let res = t.join().unwrap();
                let err = match res {
                    Ok(n) => panic!("{ctx}: Ok({n}) for a cut copy"),
                    Err(e) => e,
                };
                assert_cause(&err, cut, &ctx);
                if !timed {
                    assert_eq!(have, want, "{ctx}");
                }
                assert_eq!(got, (0..have as u8).collect::<Vec<u8>>(), "{ctx}");
                // Nothing of the cut write is left for a later read.
                if timed {
                    r.set_read_timeout(Some(SHORT)).unwrap();
                    let late = (&r).read(&mut [0u8; 16]);
                    assert_eq!(
                        late.map_err(|e| e.kind()).unwrap_err(),
                        ErrorKind::TimedOut,
                        "{ctx}"
                    );
                }
            }
        }
    });
}

/// A close that comes after a `read_from`'s writes went across whole, before
/// its next read of the source, fails it too: the reader takes two whole
/// writes and closes; the source's third read (if the writer gets to it
/// before it sees the close) waits for the close first. `read_from` fails
/// with the close (before, `Ok(20)`), the source is read at most three
/// times, and the reader got the 20 bytes. Rounds, so that both ways (the
/// close seen before the third read, or by its write) come up.
#[test]
fn read_from_closed_between_writes_returns_the_close() {
    on_engines("read_from_closed_between_writes", |engine, make| {
        for (round, with_error) in (0..40).map(|i| (i, i % 2 == 1)) {
            let ctx = format!("{engine}, round {round}, close_with_error: {with_error}");
            let (r, w) = make();
            let (closed_tx, closed_rx) = mpsc::channel();
            let mut source = Chunks::tens();
            source.gate = Some((2, closed_rx));
            let calls = Arc::clone(&source.calls);
            let t = thread::spawn(move || w.read_from(&mut source));
            let mut got = [0u8; 20];
            (&r).read_exact(&mut got).unwrap();
            if with_error {
                r.close_with_error(io::Error::new(ErrorKind::ConnectionReset, Corrupt(7)));
            } else {
                r.close();
            }
            // The source is gone if `read_from` saw the close before its
            // third read.
            let _ = closed_tx.send(());
            let err = t.join().unwrap().expect_err(&ctx);
            let cut = if with_error {
                CutBy::ReadCloseWithError
            } else {
                CutBy::ReadClose
            };
            assert_cause(&err, cut, &ctx);
            assert_eq!(got.to_vec(), (0..20).collect::<Vec<u8>>(), "{ctx}");
            // ORDERING: Relaxed; the source's thread was joined.
            let calls = calls.load(Ordering::Relaxed);
            assert!((2..=3).contains(&calls), "{ctx}: {calls} source reads");
        }
    });
}
