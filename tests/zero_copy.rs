//! The zero-copy paths: `write_to` (a read that hands the writer's bytes to a
//! sink), `read_from` (a write read straight from a source, into a waiting
//! reader's buffer where one is lent), and the vectored reads and writes. Each
//! rule of the issue has a test here; every test runs under a time bound.

mod common;

use std::io::{self, Cursor, ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;
use std::time::Duration;

use common::{bounded, on_engines, BOUND_SECS};
use gopipe::is_closed_pipe;

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
