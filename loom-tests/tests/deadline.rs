//! Loom models of the halves' absolute deadlines (`set_read_deadline`,
//! `set_write_deadline`), which apply to calls already blocked.
//!
//! loom has no clock. In the loom build a half's deadline is a loom atomic that
//! says whether one is set, and a set deadline fires at the first point where a
//! wait would sleep (`Deadline::fires` in `Signals::park`); setting or clearing
//! it wakes the parked threads (`Signals::deadline_moved`), which look again.
//! loom places the change at every position relative to the other threads, so
//! a deadline that falls while a reader is parked, while a reader copies from a
//! write's offer, or together with a close is each one of the interleavings.
#![cfg(gopipe_loom)]

use std::io::{ErrorKind, Read, Write};
use std::time::Instant;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{assert_closed_pipe, model, model_with_bound, read_to_end, read_until, ReadEnd};

/// A reader is blocked in a read (no writer yet) when another thread sets the
/// read half's deadline: the read fails with `TimedOut`, having consumed
/// nothing and left nothing lent. Then, with the deadline cleared, a writer
/// writes `ab` and later reads get exactly `ab` and the write reports 2.
///
/// Only the deadline's change can wake the parked read here, so a change that
/// wakes nobody, or a park that ignores the half's deadline, is a loom
/// deadlock.
#[test]
fn read_deadline_wakes_parked_read() {
    model("read_deadline_wakes_parked_read", || {
        let (reader, writer) = gopipe::pipe();
        let setter = reader.clone();
        let s = thread::spawn(move || setter.set_read_deadline(Some(Instant::now())).unwrap());
        let err = (&reader).read(&mut [0u8; 2]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        s.join().unwrap();

        reader.set_read_deadline(None).unwrap();
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let (got, end) = read_to_end(&reader, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
        assert_eq!(w.join().unwrap().unwrap(), 2);
    });
}

/// A read into a 2-byte buffer races a write of `ab` and another thread setting
/// the read deadline: the read returns bytes of the write, or `TimedOut` having
/// consumed nothing (a buffer the writer already filled is returned, never
/// dropped). With the deadline cleared (or the pipe closed: the writer is gone,
/// and clearing fails with `ClosedPipe`), the reader reads on to end of file:
/// `ab` in all, each byte once, and the write reports 2.
#[test]
fn read_deadline_racing_write() {
    model("read_deadline_racing_write", || {
        let (reader, writer) = gopipe::pipe();
        let setter = reader.clone();
        let s = thread::spawn(move || {
            // Fails only once the writer is gone: see below.
            if let Err(e) = setter.set_read_deadline(Some(Instant::now())) {
                assert_closed_pipe(&e);
            }
        });
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let mut buf = [0u8; 2];
        let mut got = match (&reader).read(&mut buf) {
            Ok(n) => {
                assert!(n > 0, "end of file while the writer is open");
                buf[..n].to_vec()
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                Vec::new()
            }
        };
        s.join().unwrap();
        // Fails once the writer is gone (a closed pipe): reads then never
        // wait, so the deadline no longer matters.
        if let Err(e) = reader.set_read_deadline(None) {
            assert_closed_pipe(&e);
        }
        let (rest, end) = read_to_end(&reader, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        got.extend_from_slice(&rest);
        assert_eq!(got, b"ab");
        assert_eq!(w.join().unwrap().unwrap(), 2);
    });
}

/// A write of `ab` while a reader takes one byte and another thread sets the
/// write deadline; the reader then waits for the write to return before it
/// reads on. The deadline may fall before any read, between the two bytes, or
/// while the reader is copying from the offer (then the writer recalls the
/// lease and waits for that copy): the write reports exactly the bytes the
/// reader took (`Ok(1)`), or `TimedOut` if it took none; the rest is never
/// read and nothing is lost or duplicated.
///
/// Once the reader has its byte, only the deadline's change can wake the
/// parked writer, so a change that wakes nobody is a loom deadlock.
#[test]
fn write_deadline_set_while_reader_copies() {
    model("write_deadline_set_while_reader_copies", || {
        let (reader, writer) = gopipe::pipe();
        let setter = writer.clone();
        let s = thread::spawn(move || setter.set_write_deadline(Some(Instant::now())).unwrap());
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        // One byte, or end of file if the write timed out before any read.
        let (mut got, _) = read_until(&reader, 1, 1);
        let res = w.join().unwrap();
        s.join().unwrap();
        let (rest, end) = read_to_end(&reader, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        got.extend_from_slice(&rest);
        match res {
            Ok(n) => assert_eq!(got, &b"ab"[..n], "the write reported {n}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                assert!(got.is_empty(), "a timed-out write, and {got:?} read");
            }
        }
    });
}

/// Another thread sets the read deadline and clears it again while a reader
/// reads a write of `ab` with a 2-byte buffer to end of file. A read may time out
/// while the deadline is set (under loom, a set deadline fires wherever a wait
/// sleeps), but a read that started after the deadline was cleared must not:
/// it keeps waiting and completes when the writer comes. After a timeout the
/// reader waits for the clear and reads on: `ab` in all, and the write
/// reports 2. (Setting or clearing fails with `ClosedPipe` once the writer is
/// gone; reads on a closed pipe never wait.)
#[test]
fn read_deadline_cleared_while_parked() {
    model("read_deadline_cleared_while_parked", || {
        let (reader, writer) = gopipe::pipe();
        let setter = reader.clone();
        let cleared = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&cleared);
        let s = thread::spawn(move || {
            // Either fails only once the writer is gone (a closed pipe), when
            // reads no longer wait.
            for at in [Some(Instant::now()), None] {
                if let Err(e) = setter.set_read_deadline(at) {
                    assert_closed_pipe(&e);
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let mut s = Some(s);
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        loop {
            let clear_before = cleared.load(Ordering::SeqCst);
            match (&reader).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                    assert!(!clear_before, "a read timed out with no deadline set");
                    // Wait for the clear: from then on no read may time out.
                    if let Some(s) = s.take() {
                        s.join().unwrap();
                    }
                }
            }
        }
        if let Some(s) = s {
            s.join().unwrap();
        }
        assert_eq!(got, b"ab");
        assert_eq!(w.join().unwrap().unwrap(), 2);
    });
}

/// A write of `ab` while the reader takes one byte and then closes its half,
/// and another thread sets the write deadline: the close and the deadline race
/// for the parked writer. The write returns, never hangs: exactly the bytes the
/// reader took (`Ok(1)`), or, if it took none, `TimedOut` or the close
/// (`ClosedPipe`). Setting the deadline on a closed pipe fails with
/// `ClosedPipe`. Capped at preemption bound 2 for CI time (at bound 3:
/// 290,596 interleavings, 22 s; bound 2 kills the same mutants).
#[test]
fn close_racing_write_deadline() {
    model_with_bound("close_racing_write_deadline", 2, || {
        let (reader, writer) = gopipe::pipe();
        let setter = writer.clone();
        let s = thread::spawn(move || {
            if let Err(e) = setter.set_write_deadline(Some(Instant::now())) {
                assert_closed_pipe(&e);
            }
        });
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let (got, end) = read_until(&reader, 1, 1);
        if let ReadEnd::Failed(e) = &end {
            panic!("the read failed: {e:?}");
        }
        reader.close();
        let res = w.join().unwrap();
        s.join().unwrap();
        match res {
            Ok(n) => assert_eq!(got, &b"ab"[..n], "the write reported {n}"),
            Err(e) => {
                if e.kind() != ErrorKind::TimedOut {
                    assert_closed_pipe(&e);
                }
                assert!(got.is_empty(), "a failed write, and {got:?} read");
            }
        }
    });
}
