//! Loom models of the zero-copy calls: `PipeReader::write_to` (a draining
//! read that hands the writer's slice to a sink), `PipeWriter::read_from`
//! (a source read straight into a reader's lent buffer), `write_vectored`
//! and `read_vectored`.
//!
//! A draining read (`write_to`, `read_vectored`) waits by lending an empty
//! buffer, so a writer that finds it offers its bytes; the read then claims the
//! offer and hands the lease to its sink, which reads the writer's bytes in
//! place (a loom `UnsafeCell` access to the lease, ordered against the
//! writer's). A sink that fails, takes nothing or panics leaves the rest on
//! offer.
#![cfg(gopipe_loom)]

use std::io::{Cursor, ErrorKind, IoSlice, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use loom::thread;
use loom_tests::{
    assert_closed_pipe, assert_sink_full, model, model_with_bound, quiet_failpoint_panics,
    read_to_end, read_vectored_to_end, ReadEnd, Sink, SinkEnd,
};

/// A write of `abc` drained by `write_to` into a sink that takes one byte and
/// then fails: `write_to` returns the sink's error, the sink has `a`, and the
/// rest stays on offer: a later read gets `bc`. Nothing is lost or read twice,
/// and the write reports 3.
#[test]
fn write_to_sink_fails_half_way() {
    model("write_to_sink_fails_half_way", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            let res = (&writer).write(b"abc");
            drop(writer);
            res
        });
        let mut sink = Sink::limited(usize::MAX, 1, SinkEnd::Fails);
        let err = reader.write_to(&mut sink).unwrap_err();
        assert_sink_full(&err);
        assert_eq!(sink.got, b"a");
        let (rest, end) = read_to_end(&reader, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(rest, b"bc");
        assert_eq!(w.join().unwrap().unwrap(), 3);
    });
}

/// As `write_to_sink_fails_half_way`, with a sink that panics instead of
/// failing: the panic hands the claimed write back (`ClaimGuard`) and
/// propagates; a later read gets `bc`, and the write reports 3.
#[test]
fn write_to_sink_panics_half_way() {
    quiet_failpoint_panics();
    model("write_to_sink_panics_half_way", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            let res = (&writer).write(b"abc");
            drop(writer);
            res
        });
        let mut sink = Sink::limited(usize::MAX, 1, SinkEnd::Panics);
        let res = catch_unwind(AssertUnwindSafe(|| reader.write_to(&mut sink)));
        assert!(res.is_err(), "the sink must panic: {res:?}");
        assert_eq!(sink.got, b"a");
        let (rest, end) = read_to_end(&reader, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(rest, b"bc");
        assert_eq!(w.join().unwrap().unwrap(), 3);
    });
}

/// A writer with a timeout writes `ab` and drops its half while a reader drains
/// the pipe with `write_to` into a sink that takes one byte a call. The
/// deadline may fall while the sink runs: the writer recalls the lease and
/// waits for the sink's call to return, and the reader hands the rest back.
/// The write reports exactly the bytes the sink took (`Ok(n)`, or `TimedOut`
/// if none), and `write_to` returns that count at end of file.
#[test]
fn write_to_racing_write_timeout() {
    model("write_to_racing_write_timeout", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            writer
                .set_write_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let mut sink = Sink::new(1);
        let total = reader.write_to(&mut sink).unwrap();
        let n = match w.join().unwrap() {
            Ok(n) => n,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                0
            }
        };
        assert_eq!(sink.got, &b"ab"[..n], "the write reported {n}");
        assert_eq!(total, n as u64);
    });
}

/// A write of `ab` against `close()` on a writer clone while a reader drains
/// the pipe with `write_to` into a sink that takes one byte a call: the close
/// may fall while the sink runs (the writer recalls the lease and waits for
/// the call). The sink gets exactly the bytes the write reported, `write_to`
/// returns that count at end of file, and a write that got nothing across
/// fails with `ClosedPipe`. Capped at preemption bound 2 (three threads).
#[test]
fn write_to_racing_writer_close() {
    model_with_bound("write_to_racing_writer_close", 2, || {
        let (reader, writer) = gopipe::pipe();
        let closer = writer.clone();
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let c = thread::spawn(move || closer.close());
        let mut sink = Sink::new(1);
        let total = reader.write_to(&mut sink).unwrap();
        c.join().unwrap();
        let n = match w.join().unwrap() {
            Ok(n) => n,
            Err(e) => {
                assert_closed_pipe(&e);
                0
            }
        };
        assert_eq!(sink.got, &b"ab"[..n], "the write reported {n}");
        assert_eq!(total, n as u64);
    });
}

/// A source that gives one byte a read.
struct OneByte(&'static [u8]);

impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// `read_from` of a source that gives `a`, then `b`, against a reader that
/// reads a byte at a time (lending its 2-byte buffer while it waits) until it
/// has 2 bytes or its first error, and then drops its half, while another
/// thread sets the read deadline. The second byte usually goes from the source
/// straight into the lent buffer, and the deadline and the drop may fall while
/// the source fills it: the read returns what the source put there (never
/// drops it), or times out having got nothing. `read_from` returns `Ok(2)`
/// exactly when the reader got `ab`, else `ClosedPipe` with the reader
/// holding a prefix. Capped at preemption bound 2 (three threads).
#[test]
fn read_from_into_lent_buffer_racing_read_deadline() {
    model_with_bound("read_from_into_lent_buffer_racing_read_deadline", 2, || {
        let (reader, writer) = gopipe::pipe();
        let setter = reader.clone();
        let s = thread::spawn(move || {
            if let Err(e) = setter.set_read_deadline(Some(Instant::now())) {
                assert_closed_pipe(&e);
            }
        });
        let r = thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 2];
            while got.len() < 2 {
                match (&reader).read(&mut buf) {
                    Ok(0) => panic!("end of file while the writer is open"),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                        break;
                    }
                }
            }
            // Dropping the reader fails what the writer has left.
            got
        });
        let res = writer.read_from(&mut OneByte(b"ab"));
        let got = r.join().unwrap();
        s.join().unwrap();
        match res {
            Ok(n) => {
                assert_eq!(n, 2);
                assert_eq!(got, b"ab");
            }
            Err(e) => {
                assert_closed_pipe(&e);
                assert!(got.len() < 2 && b"ab".starts_with(&got), "{got:?}");
            }
        }
    });
}

/// `read_from` of a 2-byte source against a reader with a timeout that makes
/// one read into a 2-byte buffer and then drops its half. Under loom a timed
/// read gives up at its first park, so at this bound the reader's lend is
/// never up when `read_from` looks: it writes through its own buffer, and the
/// timeout and the drop cut that write. `read_from` returns `Ok(2)` exactly
/// when the reader got `ab`, and otherwise fails with `ClosedPipe` (the
/// reader got nothing).
#[test]
fn read_from_racing_read_timeout() {
    model("read_from_racing_read_timeout", || {
        let (reader, writer) = gopipe::pipe();
        let r = thread::spawn(move || {
            reader
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let mut buf = [0u8; 2];
            match (&reader).read(&mut buf) {
                Ok(n) => buf[..n].to_vec(),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                    Vec::new()
                }
            }
        });
        let res = writer.read_from(&mut Cursor::new(&b"ab"[..]));
        let got = r.join().unwrap();
        match res {
            Ok(n) => {
                assert_eq!(n, 2);
                assert_eq!(got, b"ab");
            }
            Err(e) => {
                assert_closed_pipe(&e);
                assert!(got.is_empty(), "read_from failed, and {got:?} read");
            }
        }
    });
}

/// `read_from` of a 2-byte source into a reader draining the pipe with
/// `write_to`: the draining read lends an empty buffer, which `read_from` must
/// not take for its source's end; it writes through a buffer of its own
/// instead. The sink gets `ab` and both calls count 2.
#[test]
fn read_from_into_write_to() {
    model("read_from_into_write_to", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            let res = writer.read_from(&mut Cursor::new(&b"ab"[..]));
            drop(writer);
            res
        });
        let mut sink = Sink::new(usize::MAX);
        let total = reader.write_to(&mut sink).unwrap();
        assert_eq!(w.join().unwrap().unwrap(), 2);
        assert_eq!(sink.got, b"ab");
        assert_eq!(total, 2);
    });
}

/// A gathered write (`write_vectored` of `a`, `b`, `c`: one write of 3 bytes)
/// and then a write of `x`, while a reader reads with `read_vectored` into two
/// 1-byte buffers until end of file. A vectored read takes bytes across the
/// slices' boundaries but never from two writes: the stream is `abcx`, `x`
/// comes alone, and the writes report 3 and 1. (The gathered write is one
/// ordinary write, so its race with another writer's is
/// `two_writers_one_reader_do_not_interleave`.)
#[test]
fn gathered_write_read_vectored() {
    model("gathered_write_read_vectored", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            let gathered = (&writer).write_vectored(&[
                IoSlice::new(b"a"),
                IoSlice::new(b"b"),
                IoSlice::new(b"c"),
            ]);
            let single = (&writer).write(b"x");
            drop(writer);
            (gathered, single)
        });
        let (calls, end) = read_vectored_to_end(&reader, 2);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        let (gathered, single) = w.join().unwrap();
        assert_eq!(gathered.unwrap(), 3);
        assert_eq!(single.unwrap(), 1);
        assert_eq!(
            calls.last().map(Vec::as_slice),
            Some(&b"x"[..]),
            "{calls:?}"
        );
        assert_eq!(calls.concat(), b"abcx", "{calls:?}");
    });
}

/// Past 4 KiB a gathered write hands its slices over one after another, with
/// the write side held throughout. `write_vectored` of `a` and 4096 bytes of
/// `b` (one write of 4097 bytes in two hand-overs) and a write of `x` on two
/// writer clones, a reader with an 8 KiB buffer: `x` never comes between the
/// two slices, and the writes report 4097 and 1. Capped at preemption bound 2
/// (three threads, two hand-overs).
#[test]
fn large_vectored_write_holds_write_side() {
    static BIG: [u8; 4096] = [b'b'; 4096];
    model_with_bound("large_vectored_write_holds_write_side", 2, || {
        let (reader, writer) = gopipe::pipe();
        let other = writer.clone();
        let w = thread::spawn(move || {
            let res = (&writer).write_vectored(&[IoSlice::new(b"a"), IoSlice::new(&BIG)]);
            drop(writer);
            res
        });
        let x = thread::spawn(move || {
            let res = (&other).write(b"x");
            drop(other);
            res
        });
        let (got, end) = read_to_end(&reader, 8192);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(w.join().unwrap().unwrap(), 4097);
        assert_eq!(x.join().unwrap().unwrap(), 1);
        assert_eq!(got.len(), 4098);
        let at = got.iter().position(|&b| b == b'x').unwrap();
        assert!(at == 0 || at == 4097, "x at {at}, between the slices");
        let mut rest = got.clone();
        rest.remove(at);
        assert_eq!(rest[0], b'a');
        assert_eq!(&rest[1..], &BIG[..]);
    });
}
