//! Loom models of the zero-copy calls: `PipeReader::write_to` (a draining
//! read that hands the writer's slice, or staged bytes, to a sink),
//! `PipeWriter::read_from` (a source read into a buffer of its own, then
//! written), `write_vectored` and `read_vectored`.
//!
//! A draining read (`write_to`, `read_vectored`) waits by lending an empty
//! buffer, so a writer that finds it offers its bytes; the read then claims the
//! offer and hands the lease to its sink, which reads the writer's bytes in
//! place (a loom `UnsafeCell` access to the lease, ordered against the
//! writer's). A sink that fails, takes nothing or panics leaves the rest on
//! offer. Staged bytes are handed to the sink under a drain claim, with no
//! lock held (issue 17): the models with a gated sink or source (one that
//! blocks on a loom `Notify` until other threads are done) deadlock if user
//! code ever holds a lock or a buffer that those threads wait for.
#![cfg(gopipe_loom)]

use std::io::{Cursor, ErrorKind, IoSlice, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Notify};
use loom::thread;
use loom_tests::{
    assert_closed_pipe, assert_sink_full, model, model_with_bound, poll_write,
    quiet_failpoint_panics, read_to_end, read_vectored_to_end, ReadEnd, Sink, SinkEnd,
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
/// reads with a 2-byte buffer (lending it while it waits) until it has 2
/// bytes or its first error, and then drops its half, while another thread
/// sets the read deadline. Each source read is one write, which may fill the
/// lent buffer; the deadline and the drop may cut it, or the drop may come
/// before the source's next read. `read_from` has `io::copy`'s contract
/// (issue 24): `Ok(2)` only when the reader got `ab` and the source's end
/// was read; any cut (also after the reader got `a`, or `ab`) returns
/// `ClosedPipe`, the reader having got a prefix of `ab`. Capped at
/// preemption bound 2 (three threads).
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
                assert_eq!(n, 2, "read_from returned Ok for a cut copy");
                assert_eq!(got, b"ab");
            }
            Err(e) => {
                assert_closed_pipe(&e);
                assert!(b"ab".starts_with(&got), "{got:?} read");
            }
        }
    });
}

/// `read_from` of a 2-byte source against a reader with a timeout that makes
/// one read into a 2-byte buffer and then drops its half. Under loom a timed
/// read gives up at its first park; `read_from` writes through its own
/// buffer, and the timeout and the drop cut that write (or come before the
/// source's next read). `read_from` returns `Ok(2)` only when the reader got
/// `ab`, and otherwise fails with `ClosedPipe` (the reader got `ab`, when
/// the drop came before the source's end was read, or nothing).
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
                assert!(got.is_empty() || got == b"ab", "{got:?} read");
            }
        }
    });
}

/// `read_from` of a 2-byte source into a reader draining the pipe with
/// `write_to` (which lends an empty buffer while it waits): the sink gets
/// `ab` and both calls count 2.
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

/// A one-shot gate: [`Gate::open`] once, [`Gate::wait`] until it is open
/// (loom's `Notify` may wake spuriously, so the flag decides).
#[derive(Default)]
struct Gate {
    /// Set by `open`.
    open: AtomicBool,
    /// Wakes the waiter.
    notify: Notify,
}

impl Gate {
    /// Opens the gate.
    fn open(&self) {
        // ORDERING: SeqCst, before the notify: the waiter that sees it also
        // sees what the opener did before.
        self.open.store(true, Ordering::SeqCst);
        self.notify.notify();
    }

    /// Waits until the gate is open.
    fn wait(&self) {
        // ORDERING: SeqCst, pairs with `open`'s store.
        while !self.open.load(Ordering::SeqCst) {
            self.notify.wait();
        }
    }
}

/// A sink that, at its first call, waits until every gate was opened (by
/// threads that must be able to finish while a sink runs), then takes all it
/// is handed.
struct GatedSink {
    /// Waited for at the first call.
    gates: Vec<Arc<Gate>>,
    /// What it took.
    got: Vec<u8>,
}

impl Write for GatedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for gate in self.gates.drain(..) {
            gate.wait();
        }
        self.got.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An async write of `ab` is staged, then `write_to` drains the pipe into a
/// sink that blocks until two other threads are done: a reader with a timeout
/// (one read, then it clears the timeout) and an async writer that polls a
/// write of `c` once and drops its half. The sink runs under a drain claim
/// with no lock held: the timed read waits for the claim within its bound (or
/// takes bytes the drain has not claimed) and the poll stages into free room,
/// so both finish and the sink goes on; a sink run under the stage's lock
/// deadlocks here, and a claim other readers do not see gives them the
/// sink's bytes too. Every byte of `abc` arrives once, in order, between the
/// sink and the reader. The reader's timeout is the read half's, so the
/// `write_to` may time out too: it is then called again. Capped at
/// preemption bound 2 (three threads).
#[test]
fn write_to_sink_on_staged_bytes_holds_no_lock() {
    model_with_bound("write_to_sink_on_staged_bytes_holds_no_lock", 2, || {
        let (reader, writer) = gopipe::pipe();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            poll_write(&writer, &mut cx, b"ab"),
            Poll::Ready(Ok(2))
        ));
        let (read_done, poll_done) = (Arc::new(Gate::default()), Arc::new(Gate::default()));
        let other = reader.clone();
        let done = read_done.clone();
        let r = thread::spawn(move || {
            other
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let mut buf = [0u8; 4];
            let res = (&other).read(&mut buf).map(|n| buf[..n].to_vec());
            other.set_read_timeout(None).unwrap();
            done.open();
            res
        });
        let done = poll_done.clone();
        let w = thread::spawn(move || {
            let mut cx = Context::from_waker(Waker::noop());
            let res = poll_write(&writer, &mut cx, b"c");
            done.open();
            drop(writer);
            res
        });
        let mut sink = GatedSink {
            gates: vec![read_done, poll_done],
            got: Vec::new(),
        };
        let first = reader.write_to(&mut sink);
        let read = r.join().unwrap();
        let polled = w.join().unwrap();
        if let Err(e) = first {
            // The read half's timeout, set by the other reader.
            assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
            reader.write_to(&mut sink).unwrap();
        }
        assert!(matches!(polled, Poll::Ready(Ok(1))), "{polled:?}");
        let read = match read {
            Ok(bytes) => bytes,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                Vec::new()
            }
        };
        // The reader's bytes are one piece of `abc`; the sink has the rest,
        // in order.
        let stream = b"abc";
        let at = (0..=stream.len() - read.len())
            .find(|&i| stream[i..].starts_with(&read))
            .unwrap_or_else(|| panic!("the reader got {read:?}"));
        let mut rest = stream[..at].to_vec();
        rest.extend_from_slice(&stream[at + read.len()..]);
        assert_eq!(sink.got, rest, "the reader got {read:?}");
    });
}

/// A source that gives `quick` at its first read, then, at the next, waits
/// for its gate and gives `late`.
struct GatedSource {
    /// Given at once.
    quick: &'static [u8],
    /// Waited for after `quick`.
    gate: Option<Arc<Gate>>,
    /// Given after the gate opened.
    late: &'static [u8],
}

impl Read for GatedSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bytes = if !self.quick.is_empty() {
            &mut self.quick
        } else {
            if let Some(gate) = self.gate.take() {
                gate.wait();
            }
            &mut self.late
        };
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        *bytes = &bytes[n..];
        Ok(n)
    }
}

/// `read_from` of a source that gives `a`, then waits (a gate) until the
/// reader is done before it gives `b`; the reader reads with a 2-byte buffer
/// (lending it while it waits) until its first error, then opens the gate and
/// drops its half; a third thread sets the read deadline. The deadline must
/// end a read whose buffer is lent while the writer is between reading its
/// source and filling: the source reads into `read_from`'s own buffer, so the
/// read times out (a source run on the lent buffer keeps the reader waiting
/// for the fill's answer, past its deadline, while the source waits for the
/// reader: a deadlock). The reader gets `a` or nothing, never `b`; the
/// write of `b` (or of `a`) finds the reader gone, so `read_from` returns
/// `ClosedPipe` (issue 24; before, `Ok(1)` when the reader got `a`).
/// Capped at preemption bound 2 (three threads).
#[test]
fn read_deadline_holds_while_read_from_reads_its_source() {
    model_with_bound(
        "read_deadline_holds_while_read_from_reads_its_source",
        2,
        || {
            let (reader, writer) = gopipe::pipe();
            let setter = reader.clone();
            let s = thread::spawn(move || {
                if let Err(e) = setter.set_read_deadline(Some(Instant::now())) {
                    assert_closed_pipe(&e);
                }
            });
            let gate = Arc::new(Gate::default());
            let done = gate.clone();
            let r = thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 2];
                loop {
                    match (&reader).read(&mut buf) {
                        Ok(0) => panic!("end of file while the writer is open"),
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) => {
                            assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                            break;
                        }
                    }
                }
                done.open();
                drop(reader);
                got
            });
            let res = writer.read_from(&mut GatedSource {
                quick: b"a",
                gate: Some(gate),
                late: b"b",
            });
            let got = r.join().unwrap();
            s.join().unwrap();
            assert_closed_pipe(&res.expect_err("the copy was cut"));
            assert!(got.is_empty() || got == b"a", "{got:?} read");
        },
    );
}

/// `read_from` of a source that gives `ab` in one read, against a reader
/// that reads one byte (a 1-byte buffer) and then drops its half: the write
/// of `ab` is cut after the byte the reader got, and `read_from` returns the
/// close, `ClosedPipe`, as `io::copy` returns a failed write's error (issue
/// 24; before, `Ok(1)`, the count).
#[test]
fn read_from_cut_short_returns_the_close() {
    model("read_from_cut_short_returns_the_close", || {
        let (reader, writer) = gopipe::pipe();
        let r = thread::spawn(move || {
            let mut buf = [0u8; 1];
            let n = (&reader).read(&mut buf).unwrap();
            drop(reader);
            buf[..n].to_vec()
        });
        let res = writer.read_from(&mut Cursor::new(&b"ab"[..]));
        let got = r.join().unwrap();
        assert_eq!(got, b"a");
        assert_closed_pipe(&res.expect_err("the copy was cut"));
    });
}

/// `abc` staged by an async write and the write half dropped; `write_to`
/// drains into a sink that takes `a` and then fails, while another reader
/// reads to end of file. A read that finds the staged bytes claimed by the
/// sink waits for the claim to end (the pipe is closed, so it ignores the
/// done channel, and the claim's end rings it) instead of reporting end of
/// file early: the sink's bytes and the reader's are `abc`, each once, in
/// order, then end of file.
#[test]
fn closed_pipe_read_waits_for_a_drain_claim() {
    model("closed_pipe_read_waits_for_a_drain_claim", || {
        let (reader, writer) = gopipe::pipe();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            poll_write(&writer, &mut cx, b"abc"),
            Poll::Ready(Ok(3))
        ));
        drop(writer);
        let other = reader.clone();
        let r = thread::spawn(move || read_to_end(&other, 4));
        let mut sink = Sink::limited(usize::MAX, 1, SinkEnd::Fails);
        let res = reader.write_to(&mut sink);
        let (got, end) = r.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        match res {
            Ok(n) => {
                assert_eq!(n, 0);
                assert!(sink.got.is_empty());
            }
            Err(e) => {
                assert_sink_full(&e);
                assert_eq!(sink.got, b"a");
            }
        }
        let mut all = sink.got.clone();
        all.extend_from_slice(&got);
        assert_eq!(
            all, b"abc",
            "the sink took {:?}, the reader got {got:?}",
            sink.got
        );
    });
}
