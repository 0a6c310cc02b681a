//! Loom models of the reverse lease: a reader that arrives first lends its
//! buffer, and the writer copies straight into it.
//!
//! The lent buffer is tracked by a loom `UnsafeCell` inside the reader's
//! `Lend`: the writer's copy and the reader's last touch before it returns are
//! accesses to it, so a reader that could return while a writer still copies
//! (or a writer that could copy after the reader took its buffer back) fails
//! the model with a causality violation.
#![cfg(gopipe_loom)]

use std::io::{ErrorKind, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use loom::thread;
use loom_tests::{
    assert_closed_pipe, model, quiet_failpoint_panics, read_to_end, write_until_error, ReadEnd,
};

/// A reader with a timeout makes one read into a 2-byte buffer (lending it if
/// it comes first) while a writer writes `ab`; then the reader drops its half.
/// Wherever the timeout falls: a read that timed out got nothing, a read that
/// returned bytes got what the writer copied, and the writer reports exactly
/// the bytes the reader got (then `ClosedPipe` for the rest).
#[test]
fn lent_buffer_racing_read_timeout() {
    model("lent_buffer_racing_read_timeout", || {
        let (reader, writer) = gopipe::pipe();
        let r = thread::spawn(move || {
            reader
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let mut buf = [0u8; 2];
            let got = match (&reader).read(&mut buf) {
                Ok(n) => buf[..n].to_vec(),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                    Vec::new()
                }
            };
            got
        });
        let (n, err) = write_until_error(&writer, b"ab");
        let got = r.join().unwrap();
        assert_eq!(got, &b"ab"[..n], "the writer reported {n} bytes");
        if let Some(err) = err {
            assert_closed_pipe(&err);
        }
    });
}

/// A reader blocked in a read (lending its buffer) while the writer writes
/// `ab` and then closes: the reader gets exactly `ab` and then end of file,
/// however the close falls against the copy into its buffer.
#[test]
fn lent_buffer_racing_writer_close() {
    model("lent_buffer_racing_writer_close", || {
        let (reader, writer) = gopipe::pipe();
        let closer = writer.clone();
        let w = thread::spawn(move || {
            let res = (&writer).write(b"ab");
            drop(writer);
            res
        });
        let c = thread::spawn(move || closer.close());
        let (got, end) = read_to_end(&reader, 2);
        let res = w.join().unwrap();
        c.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        match res {
            Ok(n) => assert_eq!(got, &b"ab"[..n]),
            Err(e) => {
                assert_closed_pipe(&e);
                assert!(got.is_empty(), "{got:?}");
            }
        }
    });
}

/// Two readers with 1-byte buffers (at most one can lend at a time) and one
/// write of `ab`: each byte reaches exactly one reader, and the write reports
/// both.
#[test]
fn two_readers_and_one_lent_buffer() {
    model("two_readers_and_one_lent_buffer", || {
        let (reader, mut writer) = gopipe::pipe();
        let other = reader.clone();
        let a = thread::spawn(move || {
            let mut b = [0u8; 1];
            let n = (&other).read(&mut b).unwrap();
            b[..n].to_vec()
        });
        let w = thread::spawn(move || {
            assert_eq!(writer.write(b"ab").unwrap(), 2);
            writer
        });
        let mut b = [0u8; 1];
        let n = (&reader).read(&mut b).unwrap();
        let mine = b[..n].to_vec();
        let theirs = a.join().unwrap();
        drop(w.join().unwrap());
        let mut all = [mine, theirs].concat();
        all.sort_unstable();
        assert_eq!(all, b"ab");
    });
}

/// A 3-byte write meets a reader with a 1-byte buffer: whatever comes first,
/// the bytes arrive in order, once, over however many reads (a lent buffer
/// takes the first byte and the rest goes on offer in the same move).
#[test]
fn large_write_split_between_lend_and_offer() {
    model("large_write_split_between_lend_and_offer", || {
        let (reader, mut writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            assert_eq!(writer.write(b"abc").unwrap(), 3);
        });
        let (got, end) = read_to_end(&reader, 1);
        w.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"abc");
    });
}

/// A read panics right after lending its buffer (a test-only failpoint) while
/// a writer writes `ab`: the unwind guard takes the lend back, or waits for the
/// writer copying into it, before the buffer is freed; the writer's count is
/// what went into that buffer plus what a later read got.
#[test]
fn reader_panics_after_its_lend() {
    quiet_failpoint_panics();
    model("reader_panics_after_its_lend", || {
        let (reader, writer) = gopipe::pipe();
        gopipe::__loom_panic_after_next_lend(&reader);
        let w = thread::spawn(move || {
            let (n, err) = write_until_error(&writer, b"ab");
            assert!(err.is_none(), "{err:?}");
            n
        });
        let mut doomed = [0u8; 2];
        let first = catch_unwind(AssertUnwindSafe(|| (&reader).read(&mut doomed)));
        let lost = match first {
            // The failpoint fires only in a read that lends; a read that found
            // the write on offer returned normally.
            Ok(res) => {
                let n = res.unwrap();
                assert_eq!(&doomed[..n], &b"ab"[..n]);
                n
            }
            Err(_) => doomed.iter().take_while(|&&b| b != 0).count(),
        };
        let (rest, end) = loom_tests::read_until(&reader, 2, 2 - lost);
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        assert_eq!(rest, &b"ab"[lost..]);
        assert_eq!(w.join().unwrap(), 2);
    });
}
