//! Loom models of closing racing the hand-off: `close` of either half during a
//! write, `close_with_error` racing `close` on the same half, and the drop of a
//! half's last clone racing a blocked peer.
//!
//! The invariant every model checks is Go's: the bytes a writer is told it wrote
//! are exactly the bytes readers received, and once a half is closed every
//! operation reports the same close, the first one.
#![cfg(gopipe_loom)]

use std::io::{self, ErrorKind, Read, Write};

use loom::thread;
use loom_tests::{assert_closed_pipe, model, read_to_end, read_until, write_until_error, ReadEnd};

/// The error the models close with; its kind and message must reach the peer.
fn boom() -> io::Error {
    io::Error::new(ErrorKind::ConnectionReset, "boom")
}

/// Whether `err` is [`boom`] as the peer of the half closed with it sees it.
fn is_boom(err: &io::Error) -> bool {
    err.kind() == ErrorKind::ConnectionReset
        && err.to_string() == "boom"
        && gopipe::CloseError::from_io(err).is_some()
}

/// A writer's `close` (through a clone) races a two-byte write that a reader
/// consumes a byte at a time: the reader gets exactly the bytes the write
/// reported, then end of file; the write's own error, if any, is `ClosedPipe`.
#[test]
fn writer_close_racing_in_flight_write() {
    model("writer_close_racing_in_flight_write", || {
        let (reader, writer) = gopipe::pipe();
        let closer = writer.clone();
        let w = thread::spawn(move || {
            let (n, err) = write_until_error(&writer, b"ab");
            if let Some(err) = &err {
                assert_closed_pipe(err);
            }
            n
        });
        let c = thread::spawn(move || closer.close());
        let (got, end) = read_to_end(&reader, 1);
        c.join().unwrap();
        let n = w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, &b"ab"[..n], "the writer reported {n} bytes");
    });
}

/// A reader's `close` (through a clone) races a two-byte write that another
/// reader consumes a byte at a time: the write reports exactly the bytes the
/// reader received, and then fails with `ClosedPipe` if it did not finish; the
/// reading clone's own read after the close fails with `ClosedPipe` too.
#[test]
fn reader_close_racing_in_flight_write() {
    model("reader_close_racing_in_flight_write", || {
        let (reader, writer) = gopipe::pipe();
        let closer = reader.clone();
        let w = thread::spawn(move || {
            let outcome = write_until_error(&writer, b"ab");
            // Keep the writer open until the model ends: the reader's last read
            // must see the read half's close, not the end of the write half.
            (outcome, writer)
        });
        let r = thread::spawn(move || read_until(&reader, 1, 2));
        closer.close();
        let ((n, err), writer) = w.join().unwrap();
        let (got, end) = r.join().unwrap();
        assert_eq!(got, &b"ab"[..n], "the writer reported {n} bytes");
        match (n, err) {
            (2, None) => {}
            (_, Some(err)) => assert_closed_pipe(&err),
            other => panic!("write ended early without an error: {other:?}"),
        }
        match end {
            ReadEnd::Enough => {}
            ReadEnd::Failed(err) => assert_closed_pipe(&err),
            ReadEnd::Eof => panic!("end of file while the writer is open"),
        }
        drop(writer);
    });
}

/// `close_with_error` and `close` race on two clones of the writer while a
/// reader waits: the read that the first close wakes and every later read see
/// the same close, either end of file or the error; and a closing clone's own
/// write gets `ClosedPipe` whichever close won.
#[test]
fn close_with_error_racing_close_on_write_half() {
    model("close_with_error_racing_close_on_write_half", || {
        let (mut reader, mut erring) = gopipe::pipe();
        let plain = erring.clone();
        let e = thread::spawn(move || {
            erring.close_with_error(boom());
            assert_closed_pipe(&erring.write(b"x").unwrap_err());
        });
        let p = thread::spawn(move || plain.close());
        let mut buf = [0; 1];
        let first = reader.read(&mut buf);
        e.join().unwrap();
        p.join().unwrap();
        let last = reader.read(&mut buf);
        match (first, last) {
            (Ok(0), Ok(0)) => {}
            (Err(a), Err(b)) if is_boom(&a) && is_boom(&b) => {}
            other => panic!("the reader saw two different closes, or a wrong one: {other:?}"),
        }
    });
}

/// `close_with_error` and `close` race on two clones of the reader while a
/// writer waits: the write that the first close wakes and every later write
/// fail with the same error, `ClosedPipe` or the one given; and a closing clone's
/// own read gets `ClosedPipe` whichever close won.
#[test]
fn close_with_error_racing_close_on_read_half() {
    model("close_with_error_racing_close_on_read_half", || {
        let (mut erring, mut writer) = gopipe::pipe();
        let plain = erring.clone();
        let e = thread::spawn(move || {
            erring.close_with_error(boom());
            assert_closed_pipe(&erring.read(&mut [0; 1]).unwrap_err());
        });
        let p = thread::spawn(move || plain.close());
        let first = writer.write(b"ab").unwrap_err();
        e.join().unwrap();
        p.join().unwrap();
        let last = writer.write(b"ab").unwrap_err();
        let same = if is_boom(&first) {
            is_boom(&last)
        } else {
            gopipe::is_closed_pipe(&first) && gopipe::is_closed_pipe(&last)
        };
        assert!(
            same,
            "the writer saw two different closes: {first:?}, then {last:?}"
        );
    });
}

/// Two clones of the writer are dropped on two threads, one of them after a
/// write, while a reader reads to the end: the drop that is not the last one
/// closes nothing (the write goes through whole), and the last one closes the
/// write half (the reader gets end of file rather than blocking forever).
#[test]
fn drop_of_last_writer_clone_racing_blocked_read() {
    model("drop_of_last_writer_clone_racing_blocked_read", || {
        let (reader, mut writing) = gopipe::pipe();
        let idle = writing.clone();
        let w = thread::spawn(move || assert_eq!(writing.write(b"ab").unwrap(), 2));
        let d = thread::spawn(move || drop(idle));
        let (got, end) = read_to_end(&reader, 2);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"ab");
        w.join().unwrap();
        d.join().unwrap();
    });
}

/// Two clones of the reader are dropped on two threads, one of them after it
/// read one byte of a two-byte write: the first drop closes nothing (the read
/// gets its byte), and the last one closes the read half, so the blocked write
/// reports the one byte read and then fails with `ClosedPipe`.
#[test]
fn drop_of_last_reader_clone_racing_blocked_write() {
    model("drop_of_last_reader_clone_racing_blocked_write", || {
        let (mut reading, writer) = gopipe::pipe();
        let idle = reading.clone();
        let r = thread::spawn(move || {
            let mut buf = [0; 1];
            assert_eq!(reading.read(&mut buf).unwrap(), 1);
            assert_eq!(&buf, b"a");
        });
        let d = thread::spawn(move || drop(idle));
        let (n, err) = write_until_error(&writer, b"ab");
        assert_eq!(n, 1);
        assert_closed_pipe(&err.expect("the write finished with no reader left"));
        r.join().unwrap();
        d.join().unwrap();
    });
}
