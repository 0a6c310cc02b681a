//! Loom models of the hand-off itself: how bytes of writes reach reads, with no
//! close racing it (the writers close only once they are done).
//!
//! Every write in these models is a `'static` byte string, so a protocol bug that
//! lets a reader copy after the write returned shows up as a loom causality
//! failure on the lease (or a wrong byte count), never as a use after free.
#![cfg(gopipe_loom)]

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use loom::thread;
use loom_tests::{model, read_to_end, read_until, ReadEnd};

/// One write of three bytes is consumed by two reads of a two-byte buffer; the
/// write returns the whole count, once, and the reads see the bytes in order.
#[test]
fn one_write_consumed_by_several_reads() {
    model("one_write_consumed_by_several_reads", || {
        let (reader, mut writer) = gopipe::pipe();
        let t = thread::spawn(move || {
            assert_eq!(writer.write(b"abc").unwrap(), 3);
            // Dropping the only writer closes the write half: end of file.
        });
        let (got, end) = read_to_end(&reader, 2);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        assert_eq!(got, b"abc");
        t.join().unwrap();
    });
}

/// Two writers, of two bytes and one byte, one write call apiece, while one
/// reader reads a byte at a time: the two-byte write is never split by the other
/// one, and each write call reports all of its bytes.
#[test]
fn two_writers_one_reader_do_not_interleave() {
    model("two_writers_one_reader_do_not_interleave", || {
        let (reader, mut first) = gopipe::pipe();
        let mut second = first.clone();
        // The threads hand their writers back, so that no close races the
        // writes and loom spends its interleavings on the hand-off.
        let a = thread::spawn(move || {
            assert_eq!(first.write(b"ab").unwrap(), 2);
            first
        });
        let b = thread::spawn(move || {
            assert_eq!(second.write(b"c").unwrap(), 1);
            second
        });
        let (got, end) = read_until(&reader, 1, 3);
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        assert!(got == b"abc" || got == b"cab", "interleaved: {got:?}");
        drop((a.join().unwrap(), b.join().unwrap()));
    });
}

/// Two readers, one read of a one-byte buffer each, share one two-byte write:
/// each gets one byte, every byte reaches exactly one of them, and the write
/// reports both.
#[test]
fn two_readers_get_each_byte_once() {
    model("two_readers_get_each_byte_once", || {
        let (first, mut writer) = gopipe::pipe();
        let second = first.clone();
        // The threads hand their halves back, so that no close races the reads.
        let w = thread::spawn(move || {
            assert_eq!(writer.write(b"ab").unwrap(), 2);
            writer
        });
        let r = thread::spawn(move || (read_until(&second, 1, 1), second));
        let (mine, end) = read_until(&first, 1, 1);
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        let ((theirs, end), second) = r.join().unwrap();
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        drop((w.join().unwrap(), second));
        let mut all = [mine.as_slice(), theirs.as_slice()].concat();
        all.sort_unstable();
        assert_eq!(all, b"ab", "mine {mine:?}, theirs {theirs:?}");
    });
}

/// An empty write is a rendezvous: it returns only once a reader is reading, and
/// it never makes that read return `Ok(0)`; the read goes on to the next write.
#[test]
fn empty_write_is_a_rendezvous_that_does_not_end_a_read() {
    model(
        "empty_write_is_a_rendezvous_that_does_not_end_a_read",
        || {
            let (reader, mut writer) = gopipe::pipe();
            // Set (in program order, which loom runs sequentially) before the read.
            let reading = Arc::new(AtomicBool::new(false));
            let seen = Arc::clone(&reading);
            let t = thread::spawn(move || {
                assert_eq!(writer.write(b"").unwrap(), 0);
                assert!(
                    seen.load(Ordering::SeqCst),
                    "the empty write returned before any read started"
                );
                assert_eq!(writer.write(b"ab").unwrap(), 2);
            });
            reading.store(true, Ordering::SeqCst);
            let (got, end) = read_to_end(&reader, 4);
            assert!(matches!(end, ReadEnd::Eof), "{end:?}");
            assert_eq!(got, b"ab");
            t.join().unwrap();
        },
    );
}

/// An empty write that no reader takes fails with the close error when the
/// reader closes, whichever comes first: it never succeeds on its own.
#[test]
fn empty_write_racing_reader_close_fails() {
    model("empty_write_racing_reader_close_fails", || {
        let (reader, mut writer) = gopipe::pipe();
        let t = thread::spawn(move || writer.write(b""));
        reader.close();
        let err = t.join().unwrap().unwrap_err();
        loom_tests::assert_closed_pipe(&err);
    });
}
